#!/usr/bin/env bash
# One network, layer by layer, stride beside ONNX Runtime: stride's profile (`--profile` of
# the network benchmark: each step's median) next to ONNX Runtime's own per-node profile of the
# same exported file, matched by layer name and sorted by the time stride loses on each. A
# stride step that runs two layers as one (`conv2d 7x7/2 + max_pool2d 3x3/2 fused`) is matched
# with both layers' nodes.
#
#   bench/profile_nets.sh mobilenet_v2 1 1          # NET BATCH THREADS
#
# The networks are the benchmark's (resnet18 resnet50 mobilenet_v2 googlenet densenet121
# mobilenet_v3_small efficientnet_b0 convnext_tiny). The ONNX file comes from
# `cargo bench --bench networks -- --export target/nets`, run here if it is missing. ONNX
# Runtime fuses and renames some nodes (its NCHWc reorders have no stride counterpart; they
# are listed as unmatched). Keep the machine otherwise idle: timings are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -ne 3 ]]; then
    echo "usage: bench/profile_nets.sh NET BATCH THREADS" >&2
    exit 2
fi
net=$1 batch=$2 threads=$3

source bench/python_env.sh

if [[ ! -f target/nets/$net.onnx ]]; then
    echo "== exporting the networks to target/nets" >&2
    cargo bench --bench networks -- --net "$net" --batch 1 --threads 1 --export target/nets > /dev/null
fi
ours=target/profile-$net.txt
echo "== cargo bench --bench networks -- --net $net --batch $batch --threads $threads --profile" >&2
cargo bench --bench networks -- --net "$net" --batch "$batch" --threads "$threads" --profile \
    2> "$ours" > /dev/null
"$venv/bin/python" bench/profile_nets.py "$ours" "target/nets/$net.onnx" "$batch" "$threads"
