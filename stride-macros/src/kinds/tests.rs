//! The catalog against itself and against the language reference.

use super::*;

#[test]
fn every_kind_is_listed_once() {
    for (i, kind) in CATALOG.iter().enumerate() {
        assert!(
            CATALOG[..i].iter().all(|k| k.name != kind.name),
            "`{}` is in the catalog twice",
            kind.name
        );
        assert!(find(kind.name).is_some());
    }
}

#[test]
fn every_real_default_parses() {
    for kind in CATALOG {
        for param in kind.params {
            if let DefaultValue::Real(text) = param.default {
                assert!(text.parse::<f32>().is_ok(), "{}: {text}", kind.name);
            }
        }
    }
}

/// The language reference in the `stride` crate's documentation (`src/lib.rs`).
const REFERENCE: &str = include_str!("../../../src/lib.rs");

/// How the reference writes a parameter with its default: `` `stride = 1` ``.
fn documented(param: &Param) -> String {
    match param.default {
        DefaultValue::Required | DefaultValue::Optional => format!("`{}`", param.name),
        DefaultValue::Int(n) => format!("`{} = {n}`", param.name),
        DefaultValue::Bool(b) => format!("`{} = {b}`", param.name),
        DefaultValue::Real(text) | DefaultValue::Name(text) | DefaultValue::Same(text) => {
            format!("`{} = {text}`", param.name)
        }
    }
}

#[test]
fn the_language_reference_lists_every_kind_with_its_parameters_and_defaults() {
    for kind in CATALOG {
        let name = format!("`{}`", kind.name);
        let row = REFERENCE
            .lines()
            .filter_map(|l| l.strip_prefix("/// | "))
            .find(|row| {
                row.split(" | ")
                    .next()
                    .is_some_and(|first| first.split(", ").any(|k| k == name))
            })
            .unwrap_or_else(|| panic!("the reference's kind table has no row for {name}"));
        for param in kind.params {
            let text = documented(param);
            assert!(
                row.contains(&text),
                "{name}: the reference's row lacks {text}: {row}"
            );
        }
    }
}
