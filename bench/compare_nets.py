#!/usr/bin/env python3
"""Whole networks, stride beside ONNX Runtime on the same file, the two taking turns.

    python bench/compare_nets.py DIR [--rounds N] [-- BENCH ARGS...]

Starts stride's network benchmark as a server (`cargo bench --bench networks -- --serve --export
DIR BENCH ARGS`), which writes each network to `DIR/<net>.onnx` (with the seeded weights it is
timed with) and prints the configurations the arguments select (network, batch, threads). For
each configuration, stride and ONNX Runtime then take turns, N rounds (3 by default): stride's
median forward, ONNX Runtime's median run of the same file at the same batch and thread count,
and again. Each side's figure is the lower of its round medians. The turns are seconds apart, so
a change in the machine's speed over minutes (on these shared VMs, two-thread figures have moved
by 20-30% for minutes at a time) falls on both sides rather than on one.

ONNX Runtime is timed the way stride's benchmark times itself: a warm-up run, then the median of
the runs in about 1.5 seconds (at least 5).

Prints a Markdown table (net, batch, threads, stride ms, ORT ms, ORT/stride: above 1 means
stride is faster) and the geometric mean of the ratios per thread count.
"""

import math
import pathlib
import sys
import time

import numpy as np
import onnxruntime as ort
from served import Served

BUDGET = 1.5
MIN_RUNS = 5


def median_ms(run):
    run()
    times, start = [], time.perf_counter()
    while len(times) < MIN_RUNS or time.perf_counter() - start < BUDGET:
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def ms(value):
    """Milliseconds to three or four significant figures."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def session(directory, net, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(directory / f"{net}.onnx"), options,
                                providers=["CPUExecutionProvider"])


def main(argv):
    bench_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    directory = pathlib.Path(argv[0])
    stride = Served("networks", ["--export", str(directory), *bench_args])
    sessions = {}
    print(f"ONNX Runtime {ort.__version__}; each side the lower of {rounds} round medians, "
          "the two sides taking turns")
    print()
    print("| network | batch | threads | stride ms | ORT ms | ORT/stride |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = {}
    for config in stride.plan:
        net, batch, threads = config["net"], config["batch"], config["threads"]
        if (net, threads) not in sessions:
            sessions[(net, threads)] = session(directory, net, threads)
        run = sessions[(net, threads)].run
        x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(stride.ms(net, batch, threads))
            theirs.append(median_ms(lambda: run(["output"], {"input": x})))
        ours_ms, ort_ms = min(ours), min(theirs)
        ratio = ort_ms / ours_ms
        ratios.setdefault(threads, []).append(ratio)
        print(f"| {net} | {batch} | {threads} | {ms(ours_ms)} | {ms(ort_ms)} | {ratio:.2f} |",
              flush=True)
    stride.close()
    print()
    for threads, values in sorted(ratios.items()):
        geomean = math.exp(sum(math.log(r) for r in values) / len(values))
        print(f"geomean ORT/stride, {threads} thread{'s' if threads > 1 else ''}: {geomean:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
