#!/usr/bin/env python3
"""One network layer by layer, stride beside ONNX Runtime (bench/profile_nets.sh runs it).

    python bench/profile_nets.py STRIDE_PROFILE.txt NET.onnx BATCH THREADS

STRIDE_PROFILE.txt is the table `cargo bench --bench networks -- --profile` prints on standard
error (a `layer kind output ms share` table). ONNX Runtime runs NET.onnx with profiling on,
30 runs after the session's first, and each node's median kernel time is summed under its
layer's name (ONNX Runtime names fused nodes after the layer, `conv1/act_nchwc`, which is
matched to `conv1`). A stride step that runs two layers as one (`1x1 + depthwise fused`,
`conv2d 7x7/2 + max_pool2d 3x3/2 fused`) is named after its first layer, and the second
layer's nodes (the layer that reads the first one's output in NET.onnx) count towards it.
Prints each layer with both times, ORT/stride, and the milliseconds stride loses on it, the
largest loss first; then the nodes no layer matched and both totals.
"""

import collections
import json
import os
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort


def stride_layers(path):
    """(layer, ms, whether the step runs the layer and the next one as one) per step."""
    rows, inside = [], False
    for line in open(path):
        if line.startswith("layer "):
            inside = True
            continue
        if line.startswith("forward:"):
            inside = False
        if inside and line.strip():
            fields = line.split()
            kind = line[: line.index("[")].split(None, 1)[1].strip()
            pair = " + " in kind and kind.endswith(" fused")
            rows.append((fields[0], float(fields[-2]), pair))
    return rows


def next_layers(model):
    """Each layer of the exported graph mapped to the layer that first reads its output (nodes
    are named after their layer: `conv1`, `conv1/act`)."""
    graph = onnx.load(model, load_external_data=False).graph
    layer_of = {}
    for node in graph.node:
        for output in node.output:
            layer_of[output] = node.name.split("/")[0]
    following = {}
    for node in graph.node:
        layer = node.name.split("/")[0]
        for source in node.input:
            before = layer_of.get(source)
            if before is not None and before != layer:
                following.setdefault(before, layer)
    return following


def ort_nodes(model, batch, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = f"/tmp/ort-profile-{os.getpid()}"
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
    for _ in range(30):
        session.run(None, {"input": x})
    events = json.load(open(session.end_profiling()))
    times = collections.defaultdict(list)
    for event in events:
        name = event.get("name", "")
        if event.get("cat") == "Node" and name.endswith("_kernel_time"):
            times[name[: -len("_kernel_time")]].append(event["dur"] / 1000)
    per_layer = collections.defaultdict(float)
    for node, durations in times.items():
        layer = re.sub(r"(/act)?_nchwc$", "", node).split("/")[0]
        per_layer[layer] += float(np.median(durations))
    return per_layer


def main(profile, model, batch, threads):
    ours = stride_layers(profile)
    theirs = ort_nodes(model, int(batch), int(threads))
    print(f"ONNX Runtime {ort.__version__}, batch {batch}, {threads} thread(s)")
    print(f"{'layer':32} {'stride ms':>10} {'ORT ms':>8} {'ORT/stride':>10} {'lost ms':>8}")
    following = next_layers(model)
    rows = []
    for name, ms, pair in ours:
        orts = theirs.pop(name, None)
        if pair and following.get(name) in theirs:
            orts = (orts or 0.0) + theirs.pop(following[name])
        rows.append((name, ms, orts))
    rows.sort(key=lambda r: -(r[1] - (r[2] or 0.0)))
    for name, ms, orts in rows:
        ratio = f"{orts / ms:10.2f}" if orts and ms else f"{'—':>10}"
        orts_text = f"{orts:8.3f}" if orts is not None else f"{'—':>8}"
        print(f"{name:32} {ms:10.3f} {orts_text} {ratio} {ms - (orts or 0.0):8.3f}")
    unmatched = sum(theirs.values())
    print(f"ONNX Runtime nodes no layer matched: {len(theirs)}, {unmatched:.3f} ms")
    total_ours = sum(ms for _, ms, _ in rows)
    total_theirs = sum(orts or 0.0 for _, _, orts in rows) + unmatched
    print(f"total: stride {total_ours:.3f} ms, ONNX Runtime {total_theirs:.3f} ms")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
