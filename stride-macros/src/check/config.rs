//! What a network's or block's own attributes ask of the macro: `#[sequential]` key
//! numbering, and the lint levels.

use syn::{Attribute, LitStr};

use crate::ctxt::Ctxt;

/// How loudly a lint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Allow,
    Warn,
    Deny,
}

/// A network's or block's settings, read once from its attributes.
#[derive(Debug, Clone)]
pub struct Config {
    /// `#[sequential]` or `#[sequential("features")]`: weight keys numbered by position, after
    /// this prefix (empty, or ending in a dot).
    pub sequential: Option<String>,
    pub checkerboard: Level,
    pub floor_drops_input: Level,
    /// `#[export]`: a `pub block` other crates may bring in (`use ::this_crate::Block;`).
    pub export: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sequential: None,
            checkerboard: Level::Warn,
            floor_drops_input: Level::Allow,
            export: false,
        }
    }
}

/// `#[sequential]`, `#[sequential("prefix")]`, `#[strict]` and
/// `#[lints(checkerboard = allow|warn|deny, floor_drops_input = allow|warn|deny)]` are the
/// attributes the macro reads on a network or a block.
pub fn check_config(cx: &mut Ctxt, attrs: &[Attribute]) -> Config {
    let mut config = Config::default();
    for attr in attrs {
        let path = attr.path();
        if path.is_ident("sequential") {
            config.sequential = Some(match &attr.meta {
                syn::Meta::Path(_) => String::new(),
                _ => match attr.parse_args::<LitStr>() {
                    Ok(prefix) => sequential_prefix(cx, &prefix),
                    Err(e) => {
                        cx.error(
                            e.span(),
                            "expected `#[sequential]` or `#[sequential(\"prefix\")]`",
                        );
                        String::new()
                    }
                },
            });
        } else if path.is_ident("export") {
            config.export = true;
        } else if path.is_ident("strict") {
            config.checkerboard = Level::Deny;
            config.floor_drops_input = Level::Deny;
        } else if path.is_ident("lints") {
            let result = attr.parse_nested_meta(|meta| {
                let name = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                let level: syn::Ident = meta.value()?.parse()?;
                let level = match level.to_string().as_str() {
                    "allow" => Level::Allow,
                    "warn" => Level::Warn,
                    "deny" => Level::Deny,
                    _ => return Err(meta.error("a lint level is `allow`, `warn` or `deny`")),
                };
                match name.as_str() {
                    "checkerboard" => config.checkerboard = level,
                    "floor_drops_input" => config.floor_drops_input = level,
                    _ => {
                        return Err(meta.error(
                            "unknown lint; the lints are `checkerboard` and `floor_drops_input`",
                        ));
                    }
                }
                Ok(())
            });
            if let Err(e) = result {
                cx.error(e.span(), e);
            }
        }
    }
    config
}

/// The key prefix `#[sequential("prefix")]` gives, with its dot: a prefix that would make an
/// empty part of a key (`main.` would give `main..0`) is refused.
fn sequential_prefix(cx: &mut Ctxt, prefix: &LitStr) -> String {
    let text = prefix.value();
    if text.is_empty() {
        return String::new();
    }
    if text.split('.').any(str::is_empty) {
        let trimmed: Vec<&str> = text.split('.').filter(|p| !p.is_empty()).collect();
        let trimmed = trimmed.join(".");
        let hint = if trimmed.is_empty() {
            "write `#[sequential]` for keys `0`, `1`, …".to_string()
        } else {
            format!("write `#[sequential(\"{trimmed}\")]` for keys `{trimmed}.0`, `{trimmed}.1`, …")
        };
        cx.error(
            prefix.span(),
            format!(
                "`#[sequential(\"{text}\")]` would give keys `{text}.0`, with an empty part; the \
                 prefix is joined to the numbers with a dot: {hint}"
            ),
        );
        return if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}.")
        };
    }
    format!("{text}.")
}
