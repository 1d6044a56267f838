#!/usr/bin/env bash
# Runs every model `tests/onnx_export.rs` exported (target/tmp/onnx/) through onnx.checker and
# ONNX Runtime, and compares ORT's output with stride's within the golden tolerance. CI runs it
# after the tests; it fails if any model fails.
#
#     cargo test --release --test onnx_export && bench/onnx_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/python_env.sh
"$venv/bin/python" bench/onnx_check.py target/tmp/onnx
