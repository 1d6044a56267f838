#!/usr/bin/env bash
# Whole networks side by side: stride's forward and ONNX Runtime's session on the same exported
# file, with the same seeded weights: each network at batch 1 and 8, on 1 and 2 threads,
# medians, the two sides taking turns on each configuration (bench/compare_nets.py drives
# `cargo bench --bench networks -- --serve`, which writes the models and times stride).
#
#     bench/compare_nets.sh                          # the benchmark's networks
#     bench/compare_nets.sh --net resnet18 --net resnet50 --batch 1
#     ROUNDS=5 bench/compare_nets.sh                 # turns per configuration (3)
#
# Arguments go to the network benchmark. Keep the machine otherwise idle: timings are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/python_env.sh

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
echo "== $cpu, $(nproc) vCPUs" >&2
cargo bench --bench networks --no-run
"$venv/bin/python" bench/compare_nets.py target/nets --rounds "${ROUNDS:-3}" -- "$@"
