#!/usr/bin/env bash
# Build times: an example whose models (full-width ResNet-50 among them) are declared with
# network!, beside an example that uses the runtime directly and no macro. Each is built from a
# clean target directory (dependencies included), then again after touching its source file.
#
#     bench/compile_time.sh
#
# Uses its own target directory (target/compile-time) so the normal build is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=target/compile-time

seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}

printf '%-18s %10s %14s\n' example clean incremental
for example in resnet50_summary plain_ops; do
    rm -rf "$CARGO_TARGET_DIR"
    clean=$(seconds cargo build --release --example "$example")
    touch "examples/$example.rs"
    incremental=$(seconds cargo build --release --example "$example")
    printf '%-18s %9ss %13ss\n' "$example" "$clean" "$incremental"
done
