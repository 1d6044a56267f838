#!/usr/bin/env bash
# The fuzz harness's accepted inputs through rustc: the first 300 mutated invocations that
# `network!` accepts (no compile_error!) become one crate, and `cargo check` must pass on it,
# since the macro promises that code it accepts compiles.
#
#     bench/fuzz_compile.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/fuzz-accepted
rm -rf "$dir"
STRIDE_FUZZ_ACCEPTED="$PWD/$dir" STRIDE_FUZZ_SEED="${1:-1}" STRIDE_FUZZ_INPUTS=20000 \
    cargo test -q --release -p stride-macros the_macro_never_panics -- --nocapture
echo "== cargo check on $(grep -c 'pub mod' "$dir/src/lib.rs") accepted invocations" >&2
CARGO_TARGET_DIR=target/fuzz-accepted-target cargo check -q --manifest-path "$dir/Cargo.toml"
echo "== every accepted invocation compiles" >&2
