#!/usr/bin/env bash
# Build times, as a user meets them: `examples/torchvision.rs`, which runs every network of
# `stride::zoo` (eighteen, declared with network! in the library behind the `zoo` feature) and
# calls forward, init and load_safetensors on each; beside `examples/plain_ops.rs`, which uses
# the runtime directly and no macro. (The examples build with the zoo on, as this crate's
# dev-dependency on itself turns it on.)
#
#     bench/compile_time.sh
#
# For each example: a clean `cargo build --release` (dependencies included, from an empty
# target directory), the same build after touching the example's source, then `cargo check`
# from clean and after touching. Uses its own target directory (target/compile-time) so the
# normal build is left alone. Prints a Markdown table and the CPU it ran on.
#
# Then what the zoo costs a build: the `stride` library alone, clean, without the feature (what
# a user who does not name it builds) and with it.
#
# Then the cost of a size-generic declaration: `examples/resnet50_fixed_size.rs` and
# `examples/resnet50_any_size.rs` declare the same ResNet-50, one at [3, 224, 224] and one at
# [3, H, W]. For each, the incremental release build and check after touching it, the median of
# five, built in turn so that both see the same machine load.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=target/compile-time

seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
echo "CPU: $cpu, $(nproc) vCPUs; $(rustc --version)"
echo
echo "| example | release, clean | release, after touching it | check, clean | check, after touching it |"
echo "|---|---:|---:|---:|---:|"
for example in torchvision plain_ops; do
    rm -rf "$CARGO_TARGET_DIR"
    clean=$(seconds cargo build --release --example "$example")
    touch "examples/$example.rs"
    incremental=$(seconds cargo build --release --example "$example")
    rm -rf "$CARGO_TARGET_DIR"
    check_clean=$(seconds cargo check --example "$example")
    touch "examples/$example.rs"
    check=$(seconds cargo check --example "$example")
    echo "| \`$example\` | ${clean} s | ${incremental} s | ${check_clean} s | ${check} s |"
done

echo
echo "| \`stride\` library, release, clean (dependencies included) | without \`zoo\` | with \`zoo\` |"
echo "|---|---:|---:|"
rm -rf "$CARGO_TARGET_DIR"
without=$(seconds cargo build --release -p stride --lib)
rm -rf "$CARGO_TARGET_DIR"
with=$(seconds cargo build --release -p stride --lib --features zoo)
echo "| build | ${without} s | ${with} s |"

median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo
echo "| ResNet-50 | release, after touching it (median of 5) | check, after touching it (median of 5) |"
echo "|---|---:|---:|"
pair=(resnet50_fixed_size resnet50_any_size)
for example in "${pair[@]}"; do
    cargo build --release --example "$example" >/dev/null 2>&1
    cargo check --example "$example" >/dev/null 2>&1
done
declare -A release check
for _ in 1 2 3 4 5; do
    for example in "${pair[@]}"; do
        touch "examples/$example.rs"
        release[$example]+="$(seconds cargo build --release --example "$example") "
        touch "examples/$example.rs"
        check[$example]+="$(seconds cargo check --example "$example") "
    done
done
for example in "${pair[@]}"; do
    r=$(tr ' ' '\n' <<<"${release[$example]}" | grep . | median)
    c=$(tr ' ' '\n' <<<"${check[$example]}" | grep . | median)
    echo "| \`$example\` | ${r} s | ${c} s |"
done
