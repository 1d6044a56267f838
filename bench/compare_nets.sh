#!/usr/bin/env bash
# Whole networks side by side: stride's forward and ONNX Runtime's session on the same exported
# file, with the same seeded weights, in one run: each network at batch 1 and 8, on 1 and 2
# threads, medians. `cargo bench --bench networks -- --export` times stride and writes the
# models; bench/compare_nets.py times them in ONNX Runtime and prints the table.
#
#     bench/compare_nets.sh                          # the benchmark's networks
#     bench/compare_nets.sh --net resnet18 --net resnet50 --batch 1
#
# Arguments go to the network benchmark. Keep the machine otherwise idle: timings are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/python_env.sh

dir=target/nets
ours=target/nets.jsonl
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
echo "== $cpu, $(nproc) vCPUs" >&2
echo "== cargo bench --bench networks -- --export $dir $* > $ours" >&2
cargo bench --bench networks -- --export "$dir" "$@" > "$ours"
echo "== bench/compare_nets.py $ours $dir" >&2
"$venv/bin/python" bench/compare_nets.py "$ours" "$dir"
