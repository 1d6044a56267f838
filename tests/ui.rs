//! The compile-time checks: every rule and lint of `network!` has a case under `tests/ui/`
//! whose exact compiler output is kept beside it, and `tests/pass/` holds what must compile.

#[test]
fn network_macro_errors_and_lints() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
    cases.pass("tests/pass/*.rs");
}
