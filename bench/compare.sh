#!/usr/bin/env bash
# Times the layer suite (benches/layers.json) with stride's layer benchmark, then the same
# layers in ONNX Runtime, and prints them side by side (bench/compare.py).
#
#   bench/compare.sh                                   # every layer, 1 and 2 threads
#   bench/compare.sh --threads 1 --layer maxpool3x3s2_64_112
#   bench/compare.sh --suite benches/layers_zoo.json         # another suite, same format
#
# Arguments go to the layer benchmark. ONNX Runtime, onnx and numpy are installed into a venv
# under target/ the first time. Keep the machine otherwise idle: timings are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/python_env.sh

ours=target/layers.jsonl
suite=benches/layers.json
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    if [[ ${args[i]} == --suite ]]; then suite=${args[i + 1]}; fi
done
echo "== cargo bench --bench layers -- $* > $ours" >&2
cargo bench --bench layers -- "$@" > "$ours"
echo "== bench/compare.py $ours" >&2
"$venv/bin/python" bench/compare.py "$ours" --suite "$suite"
