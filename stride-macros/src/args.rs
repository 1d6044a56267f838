//! A layer's arguments, read into numbers: one function per kind of value, each reporting a
//! wrong value at its own token and returning `None` so checking can go on.

use proc_macro2::Span;
use stride_geometry::Padding;
use syn::Ident;

use crate::ctxt::Ctxt;
use crate::kinds::{CATALOG, DefaultValue, Kind};
use crate::parse::{Arg, LayerDef, Value};

/// A number with the span of the token it came from.
#[derive(Debug, Clone, Copy)]
pub struct Num {
    pub value: usize,
    pub span: Span,
}

/// A spatial parameter: one number for both axes, or an `(h, w)` pair.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub value: [usize; 2],
    pub spans: [Span; 2],
}

impl Pair {
    /// The same value on both axes, without a token of its own (a default).
    pub fn default_at(value: usize, span: Span) -> Self {
        Pair {
            value: [value; 2],
            spans: [span; 2],
        }
    }
}

/// A padding as written: numbers or a mode on each axis, and the token it came from.
#[derive(Debug, Clone, Copy)]
pub struct Pad {
    pub value: [Padding; 2],
    pub span: Span,
}

/// PyTorch's spelling of a parameter, and ours.
const PYTORCH_NAMES: &[(&str, &str)] = &[
    ("kernel_size", "kernel"),
    ("negative_slope", "slope"),
    ("scale_factor", "scale"),
    ("out_channels", "the first argument: `conv2d(64, …)`"),
    ("in_channels", "`in => out`: `conv2d(3 => 64, …)`"),
    ("out_features", "the first argument: `linear(10)`"),
    ("in_features", "`in => out`: `linear(512 => 10)`"),
    ("num_features", "the first argument: `batch_norm2d(64)`"),
];

/// A layer's arguments, sorted into positional, `in => out` and named, against its kind's
/// entry in the catalog.
pub struct Args<'a> {
    pub layer: &'a LayerDef,
    pub kind: &'static Kind,
    pub positional: Option<&'a Value>,
    pub stated_in: Option<&'a Value>,
    named: Vec<(&'a Ident, &'a Value)>,
    /// Whether an unknown parameter was reported: a required one is then probably misspelled,
    /// and saying it is missing too would repeat the error.
    pub had_unknown: bool,
}

impl<'a> Args<'a> {
    /// Sorts the arguments, reporting unknown, repeated and misplaced ones.
    pub fn new(cx: &mut Ctxt, layer: &'a LayerDef, kind: &'static Kind) -> Self {
        let mut args = Args {
            layer,
            kind,
            positional: None,
            stated_in: None,
            named: Vec::new(),
            had_unknown: false,
        };
        let name = kind.name;
        for arg in &layer.args {
            match arg {
                Arg::Named(param, value) => {
                    let text = param.to_string();
                    if args.named.iter().any(|(n, _)| **n == text) {
                        cx.error(
                            param.span(),
                            format!("{}: `{text}` is given twice", layer_label(layer)),
                        );
                    } else if kind.param(&text).is_none() {
                        cx.error(param.span(), unknown_param(layer, kind, &text));
                        args.had_unknown = true;
                    } else {
                        args.named.push((param, value));
                    }
                }
                Arg::Positional(value) | Arg::InOut(_, value) => {
                    let stated_in = match arg {
                        Arg::InOut(stated, _) => Some(stated),
                        _ => None,
                    };
                    match kind.positional {
                        None => cx.error(
                            value.span(),
                            format!(
                                "{}: `{name}` takes no positional argument",
                                layer_label(layer)
                            ),
                        ),
                        Some(_) if args.positional.is_some() => cx.error(
                            value.span(),
                            format!(
                                "{}: only one positional argument is allowed",
                                layer_label(layer)
                            ),
                        ),
                        Some(p) if !p.in_out && stated_in.is_some() => cx.error(
                            value.span(),
                            format!("{}: `{name}` takes no `in => out`", layer_label(layer)),
                        ),
                        Some(_) => {
                            args.positional = Some(value);
                            args.stated_in = stated_in;
                        }
                    }
                }
            }
        }
        args
    }

    /// The named argument `name`, if given.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.named.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// The value of a parameter that may be given by name or positionally.
    pub fn get_or_positional(&self, cx: &mut Ctxt, name: &str) -> Option<&'a Value> {
        let positional = match self.kind.positional {
            Some(p) if p.meaning == name => self.positional,
            _ => None,
        };
        match (self.get(name), positional) {
            (Some(named), Some(positional)) => {
                cx.error(
                    named.span(),
                    format!(
                        "{}: `{name}` is given twice, as `{}` and as `{name} = {}`",
                        layer_label(self.layer),
                        positional.text(),
                        named.text()
                    ),
                );
                None
            }
            (named, positional) => named.or(positional),
        }
    }

    /// The default of parameter `name`, from the catalog.
    pub fn default_of(&self, name: &str) -> DefaultValue {
        self.kind
            .param(name)
            .map_or(DefaultValue::Optional, |p| p.default)
    }

    /// How messages name the layer: `` `conv1` ``.
    pub fn label(&self) -> String {
        layer_label(self.layer)
    }
}

/// `` `conv1` `` for messages.
pub fn layer_label(layer: &LayerDef) -> String {
    format!("`{}`", layer.label)
}

fn unknown_param(layer: &LayerDef, kind: &Kind, name: &str) -> String {
    let label = layer_label(layer);
    let kind_name = kind.name;
    let allowed: Vec<&str> = kind.params.iter().map(|p| p.name).collect();
    if kind_name == "avg_pool2d" && name == "dilation" {
        return format!("{label}: avg_pool2d has no `dilation` (PyTorch's AvgPool2d has none)");
    }
    if let Some((_, ours)) = PYTORCH_NAMES.iter().find(|(theirs, _)| *theirs == name) {
        if allowed.contains(ours) || ours.starts_with("the") || ours.starts_with('`') {
            let ours = if ours.contains(' ') {
                ours.to_string()
            } else {
                format!("`{ours}`")
            };
            return format!("{label}: `{kind_name}` has no parameter `{name}`; here it is {ours}");
        }
    }
    let list = if allowed.is_empty() {
        "it takes no named parameters".to_string()
    } else {
        format!("its parameters are {}", backticked(&allowed))
    };
    match did_you_mean(name, &allowed) {
        Some(close) => {
            format!(
                "{label}: `{kind_name}` has no parameter `{name}`; did you mean `{close}`? {list}"
            )
        }
        None => format!("{label}: `{kind_name}` has no parameter `{name}`; {list}"),
    }
}

/// The message for an unknown layer kind; `known` lists the blocks and networks in scope. A
/// name in CamelCase is taken for a block that is not in scope here, and the message says how
/// to bring one in; any other name for a misspelt layer kind.
pub fn unknown_kind(layer: &LayerDef, known: &[&str]) -> String {
    let kind = layer.kind.to_string();
    if kind.starts_with(|c: char| c.is_ascii_uppercase()) {
        let hint = match did_you_mean(&kind, known) {
            Some(close) => format!("; did you mean `{close}`?"),
            None => String::new(),
        };
        return format!(
            "{}: no block `{kind}` is declared in this invocation or brought into it{hint}; a \
             block declared in another `network!` comes in with `use path::to::{kind};` among \
             this invocation's items (`use ::other_crate::{kind};` from another crate)",
            layer_label(layer)
        );
    }
    let layers: Vec<&str> = CATALOG.iter().map(|k| k.name).collect();
    let candidates: Vec<&str> = layers.iter().chain(known).copied().collect();
    let hint = match did_you_mean(&kind, &candidates) {
        Some(close) => format!("did you mean `{close}`? "),
        None => String::new(),
    };
    format!(
        "{}: unknown layer kind `{kind}`; {hint}the layer kinds are {}",
        layer_label(layer),
        backticked(&layers)
    )
}

fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// The closest candidate within a small edit distance, if any; of two as close, the one that
/// shares more letters with `name` (`rel6` is `relu6` missing a letter more than `relu` with
/// one changed).
pub fn did_you_mean<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (name.len() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|&(d, c)| (d, std::cmp::Reverse(shared_letters(name, c))))
        .map(|(_, c)| c)
}

/// How many letters `a` and `b` have in common, each counted as often as both have it.
fn shared_letters(a: &str, b: &str) -> usize {
    let mut rest: Vec<char> = b.chars().collect();
    a.chars()
        .filter(|c| match rest.iter().position(|r| r == c) {
            Some(i) => {
                rest.swap_remove(i);
                true
            }
            None => false,
        })
        .count()
}

/// The edits between `a` and `b`: a letter inserted, dropped, changed, or swapped with its
/// neighbour (the optimal string alignment distance), each counting one.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table: two back, the last, and the one being filled.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let mut d = (last[j - 1] + usize::from(a[i - 1] != b[j - 1]))
                .min(last[j] + 1)
                .min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        before = std::mem::replace(&mut last, row);
    }
    last[b.len()]
}

/// A non-negative integer, refusing negative, fractional and overflowing literals.
pub fn number(cx: &mut Ctxt, label: &str, what: &str, value: &Value) -> Option<Num> {
    match value {
        Value::Placeholder(_) => None,
        Value::Int { text, span } => match parse_int(text) {
            Ok(v) => Some(Num {
                value: v,
                span: *span,
            }),
            Err(why) => {
                cx.error(*span, format!("{label}: `{what}` = {why}"));
                None
            }
        },
        Value::Negative { text, tokens, .. } => {
            cx.error_spanned(
                tokens,
                format!("{label}: `{what}` must not be negative, got {text}"),
            );
            None
        }
        Value::Float { text, span } => {
            cx.error(
                *span,
                format!("{label}: `{what}` must be a whole number, got {text}"),
            );
            None
        }
        Value::Expr { tokens, .. } => {
            // As written, then with the block's arguments in place when they are known.
            let written = tokens.to_string();
            let numbers = value.text();
            let bare = |t: &str| t.replace(['(', ')', ' '], "");
            let text = if numbers.contains('_') || bare(&numbers) == bare(&written) {
                written
            } else {
                format!("{written} = {numbers}")
            };
            match evaluate(value) {
                Ok(None) => None,
                Ok(Some(n)) if n < 0 => {
                    cx.error_spanned(
                        tokens,
                        format!("{label}: `{what}` must not be negative, got {text} = {n}"),
                    );
                    None
                }
                Ok(Some(n)) => match usize::try_from(n) {
                    Ok(n) => Some(Num {
                        value: n,
                        span: value.span(),
                    }),
                    Err(_) => {
                        cx.error_spanned(
                            tokens,
                            format!("{label}: `{what}` = {text} = {n} does not fit in a usize"),
                        );
                        None
                    }
                },
                Err(message) => {
                    cx.error_spanned(tokens, format!("{label}: `{what}` = {text}: {message}"));
                    None
                }
            }
        }
        other => {
            cx.error(
                other.span(),
                format!("{label}: `{what}` must be a number, got `{}`", other.text()),
            );
            None
        }
    }
}

/// The value of whole-number arithmetic: `Ok(None)` while a block parameter in it is not
/// known yet (a block checked on its own). Division rounds down, as Python's `//` does.
fn evaluate(value: &Value) -> Result<Option<i128>, String> {
    Ok(Some(match value {
        Value::Placeholder(_) => return Ok(None),
        Value::Int { text, .. } => parse_int(text)? as i128,
        Value::Negative { text, .. } => -(parse_int(&text[1..])? as i128),
        Value::Expr { op, lhs, rhs, .. } => {
            let (Some(a), Some(b)) = (evaluate(lhs)?, evaluate(rhs)?) else {
                return Ok(None);
            };
            let result = match op {
                '+' => a.checked_add(b),
                '-' => a.checked_sub(b),
                '*' => a.checked_mul(b),
                _ if b <= 0 => return Err(format!("it divides by {b}")),
                _ => Some(a.div_euclid(b)),
            };
            match result {
                Some(n) if n.unsigned_abs() <= usize::MAX as u128 => n,
                _ => return Err("it does not fit in a usize".to_string()),
            }
        }
        Value::Float { text, .. } => {
            return Err(format!("arithmetic takes whole numbers, not {text}"));
        }
        Value::Name(name) => {
            return Err(format!(
                "`{name}` is not a number here (arithmetic takes whole numbers and the \
                 parameters of the enclosing block)"
            ));
        }
        other => return Err(format!("`{}` is not a whole number", other.text())),
    }))
}

/// An integer literal's value, read as Rust reads it: decimal, `0x`, `0o` or `0b`, with `_`
/// separators, and a suffix whose type must hold the value (`300u8` is refused, as rustc's
/// `overflowing_literals` refuses it). The value must fit in a `usize`.
fn parse_int(text: &str) -> Result<usize, String> {
    let literal: proc_macro2::Literal = text
        .parse()
        .map_err(|_| format!("{text} is not an integer literal"))?;
    let syn::Lit::Int(int) = syn::Lit::new(literal) else {
        return Err(format!("{text} is not an integer literal"));
    };
    let value: u128 = int
        .base10_parse()
        .map_err(|_| format!("{text} does not fit in 128 bits"))?;
    let max: u128 = match int.suffix() {
        "" | "usize" => usize::MAX as u128,
        "u8" => u8::MAX.into(),
        "u16" => u16::MAX.into(),
        "u32" => u32::MAX.into(),
        "u64" => u64::MAX.into(),
        "u128" => u128::MAX,
        "i8" => i8::MAX as u128,
        "i16" => i16::MAX as u128,
        "i32" => i32::MAX as u128,
        "i64" => i64::MAX as u128,
        "i128" => i128::MAX as u128,
        "isize" => isize::MAX as u128,
        other => return Err(format!("{text}: `{other}` is not an integer type")),
    };
    if value > max {
        return Err(match int.suffix() {
            "" => format!("{text} does not fit in a usize"),
            suffix => format!("{text} does not fit in its type, `{suffix}`"),
        });
    }
    let value = usize::try_from(value).map_err(|_| format!("{text} does not fit in a usize"))?;
    if value > MAX_SIZE {
        return Err(format!(
            "{text} is beyond the sizes stride's arithmetic supports: each size, count and \
             window parameter is at most 2^32 = {MAX_SIZE}"
        ));
    }
    Ok(value)
}

/// The largest size, count or window parameter a network may state, and the largest size a
/// layer may produce: 2^32. Far beyond any real network, and small enough that the products
/// the rules take (parameters, MACs, flattened sizes) of a few of them cannot wrap a `u64`
/// unnoticed.
pub const MAX_SIZE: usize = 1 << 32;

/// A number that must be at least 1.
pub fn positive(cx: &mut Ctxt, label: &str, what: &str, value: &Value) -> Option<Num> {
    let num = number(cx, label, what, value)?;
    if num.value == 0 {
        cx.error(
            num.span,
            format!("{label}: `{what}` must be at least 1, got 0"),
        );
        return None;
    }
    Some(num)
}

/// An int for both axes or an `(h, w)` pair; each number at least `min`.
pub fn pair(cx: &mut Ctxt, label: &str, what: &str, value: &Value, min: usize) -> Option<Pair> {
    let one = |cx: &mut Ctxt, v: &Value| {
        let num = number(cx, label, what, v)?;
        if num.value < min {
            cx.error(
                num.span,
                format!(
                    "{label}: `{what}` must be at least {min}, got {}",
                    num.value
                ),
            );
            return None;
        }
        Some(num)
    };
    match value {
        Value::Tuple { items, span } => {
            if items.len() != 2 {
                cx.error(
                    *span,
                    format!(
                        "{label}: `{what}` takes an int or an (h, w) pair, got {} values",
                        items.len()
                    ),
                );
                return None;
            }
            let (h, w) = (one(cx, &items[0]), one(cx, &items[1]));
            Some(Pair {
                value: [h?.value, w?.value],
                spans: [h?.span, w?.span],
            })
        }
        other => {
            let n = one(cx, other)?;
            Some(Pair {
                value: [n.value; 2],
                spans: [n.span; 2],
            })
        }
    }
}

/// A padding: an int, an `(h, w)` pair, `((top, bottom), (left, right))`, or one of the modes
/// `valid`, `same`, `same_upper`, `same_lower`.
pub fn padding(cx: &mut Ctxt, label: &str, value: &Value, modes: bool) -> Option<Pad> {
    let span = value.span();
    if let Value::Placeholder(_) = value {
        return None;
    }
    if let Value::Name(name) = value {
        let mode = match name.to_string().as_str() {
            "valid" => Padding::Valid,
            "same" => Padding::Same,
            "same_upper" => Padding::SameUpper,
            "same_lower" => Padding::SameLower,
            other => {
                let hint = did_you_mean(other, &["valid", "same", "same_upper", "same_lower"])
                    .map(|m| format!("did you mean `{m}`? "))
                    .unwrap_or_default();
                cx.error(span, format!("{label}: unknown padding `{other}`; {hint}padding takes an int, an (h, w) pair, ((top, bottom), (left, right)), `valid`, `same`, `same_upper` or `same_lower`"));
                return None;
            }
        };
        if !modes {
            cx.error(
                span,
                format!(
                    "{label}: this layer takes a number or an (h, w) pair as padding, not `{name}`"
                ),
            );
            return None;
        }
        return Some(Pad {
            value: [mode; 2],
            span,
        });
    }
    if let Value::Tuple { items, .. } = value {
        if modes && items.len() == 2 && items.iter().all(|i| matches!(i, Value::Tuple { .. })) {
            let mut axes = [Padding::Valid; 2];
            for (axis, item) in items.iter().enumerate() {
                let p = pair(cx, label, "padding", item, 0)?;
                axes[axis] = Padding::Explicit {
                    begin: p.value[0],
                    end: p.value[1],
                };
            }
            return Some(Pad { value: axes, span });
        }
    }
    let p = pair(cx, label, "padding", value, 0)?;
    Some(Pad {
        value: [
            Padding::symmetric(p.value[0]),
            Padding::symmetric(p.value[1]),
        ],
        span,
    })
}

/// `true` or `false`.
pub fn boolean(cx: &mut Ctxt, label: &str, what: &str, value: &Value) -> Option<bool> {
    match value {
        Value::Bool { value, .. } => Some(*value),
        Value::Placeholder(_) => None,
        other => {
            cx.error(
                other.span(),
                format!(
                    "{label}: `{what}` must be `true` or `false`, got `{}`",
                    other.text()
                ),
            );
            None
        }
    }
}

/// A real number that the runtime's `f32` holds; `negative` allows a leading minus.
pub fn real(cx: &mut Ctxt, label: &str, what: &str, value: &Value, negative: bool) -> Option<f32> {
    let parsed = match value {
        Value::Placeholder(_) => return None,
        Value::Int { text, .. } | Value::Float { text, .. } => parse_real(text),
        Value::Negative { text, tokens, .. } => {
            if !negative {
                cx.error_spanned(
                    tokens,
                    format!("{label}: `{what}` must not be negative, got {text}"),
                );
                return None;
            }
            parse_real(&text[1..]).map(|v| -v)
        }
        other => {
            cx.error(
                other.span(),
                format!("{label}: `{what}` must be a number, got `{}`", other.text()),
            );
            return None;
        }
    };
    let Some(parsed) = parsed else {
        cx.error(
            value.span(),
            format!(
                "{label}: `{what}` = {} is not a finite number",
                value.text()
            ),
        );
        return None;
    };
    let single = parsed as f32;
    if !single.is_finite() {
        cx.error(
            value.span(),
            format!(
                "{label}: `{what}` = {} is beyond the largest f32 ({:e}), which the runtime computes in",
                value.text(),
                f32::MAX
            ),
        );
        return None;
    }
    Some(single)
}

fn parse_real(text: &str) -> Option<f64> {
    let text = text
        .trim_end_matches("f32")
        .trim_end_matches("f64")
        .replace('_', "");
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}
