#!/usr/bin/env bash
# Times the layer suite (benches/layers.json) with stride's layer benchmark and the same layers
# in ONNX Runtime, the two taking turns on each layer, and prints them side by side
# (bench/compare.py --turns drives `cargo bench --bench layers -- --serve`).
#
#   bench/compare.sh                                   # every layer, 1 and 2 threads
#   bench/compare.sh --threads 1 --layer maxpool3x3s2_64_112
#   bench/compare.sh --suite benches/layers_zoo.json         # another suite, same format
#   ROUNDS=3 bench/compare.sh                          # turns per layer (2)
#
# Arguments go to the layer benchmark. ONNX Runtime, onnx and numpy are installed into a venv
# under target/ the first time. Keep the machine otherwise idle: timings are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/python_env.sh

suite=benches/layers.json
args=()
while (($#)); do
    if [[ $1 == --suite ]]; then
        suite=$2
        shift 2
    else
        args+=("$1")
        shift
    fi
done
cargo bench --bench layers --no-run
"$venv/bin/python" bench/compare.py --turns --rounds "${ROUNDS:-2}" --suite "$suite" -- "${args[@]}"
