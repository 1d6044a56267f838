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

/// Misspellings of `name` a hand makes: a letter doubled, dropped, swapped with the next, or
/// struck as its neighbour on the keyboard row.
fn typos(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut typos = Vec::new();
    for i in 0..chars.len() {
        let mut doubled = chars.clone();
        doubled.insert(i, chars[i]);
        typos.push(doubled);
        // A four-letter name without one letter may be another's: `elu` is `gelu` and `relu`.
        if chars.len() > 4 {
            let mut dropped = chars.clone();
            dropped.remove(i);
            typos.push(dropped);
        }
        if i + 1 < chars.len() && chars[i] != chars[i + 1] {
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            typos.push(swapped);
        }
    }
    typos
        .into_iter()
        .map(|t| t.into_iter().collect())
        .filter(|t: &String| t != name)
        .collect()
}

#[test]
fn a_misspelt_kind_is_offered_the_kind_it_misspells() {
    let names: Vec<&str> = CATALOG.iter().map(|k| k.name).collect();
    for kind in CATALOG {
        assert!(find(kind.name).is_some_and(|k| k.name == kind.name));
        for typo in typos(kind.name) {
            if find(&typo).is_some() {
                continue; // `relu6` without its `6` is `relu`, a kind of its own
            }
            assert_eq!(
                crate::args::did_you_mean(&typo, &names),
                Some(kind.name),
                "`{typo}`"
            );
        }
    }
}

#[test]
fn a_misspelt_parameter_is_offered_the_parameter_it_misspells() {
    for kind in CATALOG {
        let names: Vec<&str> = kind.params.iter().map(|p| p.name).collect();
        for param in kind.params {
            assert!(kind.param(param.name).is_some());
            for typo in typos(param.name) {
                assert_eq!(
                    crate::args::did_you_mean(&typo, &names),
                    Some(param.name),
                    "{}: `{typo}`",
                    kind.name
                );
            }
        }
    }
}

#[test]
fn layer_norm_spelt_as_pytorch_or_without_its_2d_is_offered_layer_norm2d() {
    let names: Vec<&str> = CATALOG.iter().map(|k| k.name).collect();
    for typo in ["layer_norm", "layernorm2d", "layer_nrom2d", "layer_norm2"] {
        assert_eq!(
            crate::args::did_you_mean(typo, &names),
            Some("layer_norm2d"),
            "`{typo}`"
        );
    }
}
