//! What rustc prints when networks whose shapes do not meet are composed: our message, naming
//! both networks, and no typenum type.

#[test]
fn composing_mismatched_networks_reports_both_names() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/compose/*.rs");
}
