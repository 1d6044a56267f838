#!/usr/bin/env python3
"""Whole networks, stride beside ONNX Runtime on the same file: for each line of OURS.jsonl
(`cargo bench --bench networks` prints them: net, batch, threads, stride's median ms), ONNX
Runtime runs `DIR/<net>.onnx` (the file the same benchmark exported, with the same seeded
weights) at the same batch and thread count, timed the same way: a warm-up run, then the median
of the runs in about 1.5 seconds (at least 5).

    python bench/compare_nets.py OURS.jsonl DIR

Prints a Markdown table (net, batch, threads, stride ms, ORT ms, ORT/stride: above 1 means
stride is faster) and the geometric mean of the ratios per thread count.
"""

import json
import math
import pathlib
import sys
import time

import numpy as np
import onnxruntime as ort

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


def main(ours_path, directory):
    directory = pathlib.Path(directory)
    rows = [json.loads(line) for line in open(ours_path) if line.strip()]
    sessions = {}
    print(f"ONNX Runtime {ort.__version__}")
    print()
    print("| network | batch | threads | stride ms | ORT ms | ORT/stride |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = {}
    for row in rows:
        net, batch, threads = row["net"], row["batch"], row["threads"]
        key = (net, threads)
        if key not in sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sessions[key] = ort.InferenceSession(
                str(directory / f"{net}.onnx"), options, providers=["CPUExecutionProvider"]
            )
        session = sessions[key]
        x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
        ort_ms = median_ms(lambda: session.run(["output"], {"input": x}))
        ratio = ort_ms / row["ms"]
        ratios.setdefault(threads, []).append(ratio)
        print(f"| {net} | {batch} | {threads} | {row['ms']:.1f} | {ort_ms:.1f} | {ratio:.2f} |")
    print()
    for threads, values in sorted(ratios.items()):
        geomean = math.exp(sum(math.log(r) for r in values) / len(values))
        print(f"geomean ORT/stride, {threads} thread{'s' if threads > 1 else ''}: {geomean:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
