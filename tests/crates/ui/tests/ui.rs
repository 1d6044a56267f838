//! The compile-time checks: every rule and lint of `network!` has a case under `tests/ui/`
//! whose exact compiler output is kept beside it, and `tests/pass/` holds what must compile.
//!
//! Both are the repository's `tests/ui/` and `tests/pass/`, reached through the links beside
//! this file, so the paths trybuild writes in a `.stderr` read `tests/ui/<family>/<case>.rs`.
//! A new case is a file in `tests/ui/<family>/` (or `tests/pass/`), nothing else; its
//! `.stderr` is written by `TRYBUILD=overwrite cargo test --release -p stride-ui-tests`.

#[test]
fn network_macro_errors_and_lints() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
    cases.pass("tests/pass/*.rs");
}
