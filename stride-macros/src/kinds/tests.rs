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
