//! The walk over a network's entries: each entry takes the shape the previous one produced,
//! gets its key and its Rust name from its place, and becomes part of the [`Tree`]. Layers are
//! checked by their kind's entry in the catalog; blocks and branches have files of their own.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use proc_macro2::Span;
use stride_geometry::Field;
use syn::ext::IdentExt;
use syn::{Attribute, Ident};

use super::Definition;
use super::config::Config;
use crate::args::{self, Args, Num};
use crate::ctxt::Ctxt;
use crate::kinds;
use crate::model::{ANY, External, LayerType, Planned, Shape, Tree, Warning};
use crate::parse::{Branch, Entry, LayerDef, NetworkDef, Target, Value};

/// The axes' names, for messages.
pub const AXES: [&str; 2] = ["height", "width"];

/// Where in the network the walk is: key and field prefixes, and the values of the enclosing
/// block's parameters.
#[derive(Clone)]
pub struct Scope {
    /// Weight key prefix, ending in a dot when not empty: `layer1.0.`.
    pub key: String,
    /// Field name prefix, ending in `_` when not empty: `layer1_0_`.
    pub field: String,
    /// Message label prefix: the key prefix, or `Block::` inside a block's own check.
    pub label: String,
    /// Block parameters and the values an instance gave them.
    pub bindings: Vec<(String, Value)>,
}

impl Scope {
    /// The scope of a network's own entries.
    pub fn root() -> Scope {
        Scope {
            key: String::new(),
            field: String::new(),
            label: String::new(),
            bindings: Vec::new(),
        }
    }

    /// The scope inside the entry whose key is `key` and whose field is `field`. An empty key
    /// (`#[key = ""]`) adds nothing to the keys: the entry's weights sit under its parent's.
    pub fn child(&self, key: &str, field: &str) -> Scope {
        let dotted = if key.is_empty() {
            String::new()
        } else {
            format!("{key}.")
        };
        Scope {
            key: format!("{}{dotted}", self.key),
            field: format!("{}{field}_", self.field),
            label: format!("{}{dotted}", self.label),
            bindings: self.bindings.clone(),
        }
    }
}

/// What a network's stub needs from a walk that may have failed: the layers it met.
#[derive(Default)]
pub struct Seen {
    /// Layers with weights: Rust name and runtime type.
    pub accessors: Vec<(Ident, LayerType)>,
    /// Custom layers: Rust name and type.
    pub customs: Vec<(Ident, syn::Type)>,
    /// Networks from other invocations: field and type.
    pub externals: Vec<(Ident, syn::Path)>,
    /// Whether a layer that flattens was met.
    pub flattens: bool,
}

/// The state carried from one layer to the next.
pub struct Walk<'a> {
    pub cx: &'a mut Ctxt,
    pub config: &'a Config,
    pub(super) definitions: &'a HashMap<String, Definition>,
    /// Checking a block on its own, with its parameters unknown: instances inside it are not
    /// expanded, and every branch is walked for its arguments.
    pub(super) defining: bool,
    pub warnings: Vec<Warning>,
    /// The shape flowing into the next layer; `None` once a layer's shape could not be known.
    pub(super) shape: Option<Shape>,
    /// The receptive field so far; `None` through layers that upsample or see everything.
    pub(super) field: Option<[Field; 2]>,
    pub(super) seen: Seen,
    /// Walking a network that takes any size on an axis (`[3, H, W]`): what a path does to
    /// the size must hold at every size, not only at the one being walked.
    pub(super) generic: bool,
    /// The blocks being expanded around this walk, outermost first: a block met again inside
    /// itself would expand forever.
    pub(super) within: Vec<String>,
    /// How many more layers the network may have, shared with the walks of its block
    /// instances: blocks that use blocks several times multiply.
    pub(super) budget: Rc<Cell<usize>>,
}

/// The most layers one network may expand to: far beyond any real network (DenseNet-121 has
/// 430), and small enough that checking that many takes well under a second.
pub const MAX_LAYERS: usize = 20_000;

impl<'a> Walk<'a> {
    pub(super) fn new(
        cx: &'a mut Ctxt,
        config: &'a Config,
        definitions: &'a HashMap<String, Definition>,
        shape: Option<Shape>,
        field: Option<[Field; 2]>,
    ) -> Self {
        Walk {
            cx,
            config,
            definitions,
            defining: false,
            warnings: Vec::new(),
            shape,
            field,
            seen: Seen::default(),
            generic: false,
            within: Vec::new(),
            budget: Rc::new(Cell::new(MAX_LAYERS)),
        }
    }

    /// What the walk ends with: the shape and field after the last entry, the lints that
    /// fired, and the layers it met.
    pub(super) fn finish(self) -> (Option<Shape>, Option<[Field; 2]>, Vec<Warning>, Seen) {
        (self.shape, self.field, self.warnings, self.seen)
    }

    /// A body: entries in order, each taking the previous one's output.
    pub(super) fn entries(&mut self, entries: &[Entry], scope: &Scope) -> Vec<Tree> {
        check_duplicate_names(self.cx, entries);
        self.body(entries, scope)
    }

    /// The entries of a body whose names were checked with the enclosing scope's.
    pub(super) fn body(&mut self, entries: &[Entry], scope: &Scope) -> Vec<Tree> {
        let mut trees = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            match entry {
                Entry::Named {
                    attrs,
                    name,
                    target,
                } => {
                    let key = entry_key(self.cx, attrs, name, index, self.config);
                    if key.is_empty() && !self.shares_keys(target) {
                        check_empty_key(self.cx, attrs, name);
                        self.shape = None;
                        continue;
                    }
                    let field = name.unraw().to_string();
                    match numbering(self.cx, attrs, target) {
                        Some(numbering) => {
                            trees.extend(self.sequence(target, &key, &field, scope, &numbering))
                        }
                        None => trees.extend(self.target(target, &key, &field, scope)),
                    }
                }
                Entry::Residual {
                    token,
                    main,
                    shortcut,
                } => {
                    trees.extend(self.residual(token, main, shortcut.as_ref(), scope));
                }
                Entry::Concat { token, branches } => {
                    trees.extend(self.concat(token, branches, scope, false));
                }
                Entry::Scale { token, gate } => {
                    trees.extend(self.scale(token, gate, scope));
                }
            }
        }
        trees
    }

    /// A named target: a layer, a block or network instance, a sequence or a concat. `key`
    /// names its weights, `field` its Rust name.
    pub(super) fn target(
        &mut self,
        target: &Target,
        key: &str,
        field: &str,
        scope: &Scope,
    ) -> Vec<Tree> {
        match target {
            Target::Call(call) => match self.definitions.get(&call.kind.to_string()) {
                Some(definition) => self.instance(call, definition, key, field, scope),
                None => {
                    let layer = LayerDef {
                        name: rust_name(&format!("{}{field}", scope.field), call.kind.span()),
                        label: format!("{}{key}", scope.label),
                        kind: call.kind.clone(),
                        args: super::blocks::substitute(&call.args, &scope.bindings),
                        args_span: call.args_span,
                    };
                    let key = format!("{}{key}", scope.key);
                    self.layer(&layer, key)
                        .map(Tree::Layer)
                        .into_iter()
                        .collect()
                }
            },
            Target::Sequence { .. } => {
                self.sequence(target, key, field, scope, &Numbering::default())
            }
            Target::External {
                ty,
                output,
                output_span,
            } => {
                let label = format!("{}{key}", scope.label);
                let stated = check_stated_output(self.cx, &label, output, *output_span);
                let input = self.shape;
                if let Some(Shape::Flat(features)) = input {
                    let ty_name = quote::quote!(#ty).to_string().replace(' ', "");
                    self.cx.shape_error(
                        ty.segments.last().map_or(*output_span, |s| s.ident.span()),
                        format!(
                            "`{label}`: `{ty_name}` is a network, which takes a feature map \
                             [C, H, W], but the input here is flat, [{features}]; use it before \
                             the `flatten`"
                        ),
                    );
                    self.shape = None;
                    return Vec::new();
                }
                if let Some(input @ Shape::Map([_, h, w])) = input {
                    if h == ANY || w == ANY {
                        let ty_name = quote::quote!(#ty).to_string().replace(' ', "");
                        self.cx.shape_error(
                            ty.segments.last().map_or(*output_span, |s| s.ident.span()),
                            format!(
                                "`{label}`: `{ty_name}` is declared in another invocation and takes \
                                 one input size, but the size here, {}, depends on this network's \
                                 input; put it after a layer whose output size is fixed (as \
                                 `adaptive_avg_pool2d`), or give this network a fixed size",
                                input.text()
                            ),
                        );
                        self.shape = None;
                        return Vec::new();
                    }
                }
                self.shape = stated;
                self.field = None;
                let name = rust_name(
                    &format!("{}{field}", scope.field),
                    ty.segments.last().map_or(*output_span, |s| s.ident.span()),
                );
                self.seen.externals.push((name.clone(), ty.clone()));
                match (input, stated) {
                    (Some(input), Some(output)) => vec![Tree::External(External {
                        name,
                        key: format!("{}{key}", scope.key),
                        ty: ty.clone(),
                        input,
                        output,
                        seed_offset: 0,
                    })],
                    _ => Vec::new(),
                }
            }
            Target::Concat { token, branches } => {
                self.concat(token, branches, &scope.child(key, field), true)
            }
            Target::Scale { token, gate } => {
                let inner = scope.child(key, field);
                check_duplicate_names(self.cx, gate);
                self.scale(token, gate, &inner)
            }
            Target::Scope { entries } => self.entries(entries, &scope.child(key, field)),
            Target::Custom(custom) => self
                .custom(custom, key, field, scope)
                .map(Tree::Layer)
                .into_iter()
                .collect(),
        }
    }

    /// A sequence's items, keyed and named by their position as `numbering` writes it.
    fn sequence(
        &mut self,
        target: &Target,
        key: &str,
        field: &str,
        scope: &Scope,
        numbering: &Numbering,
    ) -> Vec<Tree> {
        let Target::Sequence { items } = target else {
            return self.target(target, key, field, scope);
        };
        let inner = scope.child(key, field);
        let mut trees = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let (key, field) = numbering.key(i);
            trees.extend(self.target(item, &key, &field, &inner));
        }
        trees
    }

    /// Whether `target` can take an empty key and leave its weights under its parent's keys:
    /// a block or network instance, a sequence or a concat (not a single layer, or a network
    /// from another invocation, whose tensors would have no name of their own).
    fn shares_keys(&self, target: &Target) -> bool {
        match target {
            Target::Call(call) => self.definitions.contains_key(&call.kind.to_string()),
            Target::Sequence { .. }
            | Target::Concat { .. }
            | Target::Scale { .. }
            | Target::Scope { .. } => true,
            Target::External { .. } | Target::Custom(_) => false,
        }
    }

    /// Counts one more layer against [`MAX_LAYERS`]; `false` (the error reported once, at
    /// `span`) past it.
    pub(super) fn spend(&mut self, span: Span, label: &str) -> bool {
        match self.budget.get() {
            0 => {
                self.shape = None;
                false
            }
            1 => {
                self.budget.set(0);
                self.cx.error(
                    span,
                    format!(
                        "`{label}`: the network expands to more than {MAX_LAYERS} layers; blocks \
                         that use blocks several times multiply"
                    ),
                );
                self.shape = None;
                false
            }
            left => {
                self.budget.set(left - 1);
                true
            }
        }
    }

    /// One layer: its kind's rules, then its place in the receptive field.
    fn layer(&mut self, layer: &LayerDef, key: String) -> Option<Planned> {
        if !self.spend(layer.kind.span(), &layer.label) {
            return None;
        }
        let Some(kind) = kinds::find(&layer.kind.to_string()) else {
            let known: Vec<&str> = self.definitions.keys().map(String::as_str).collect();
            self.cx
                .error(layer.kind.span(), args::unknown_kind(layer, &known));
            self.shape = None;
            return None;
        };
        if let Some(layer_type) = kind.layer {
            self.seen.accessors.push((layer.name.clone(), layer_type));
        }
        self.seen.flattens |= kind.flattens;
        let args = Args::new(self.cx, layer, kind);
        let Some(step) = (kind.check)(self, &args, self.shape) else {
            self.shape = None;
            return None;
        };
        if step
            .output
            .dims()
            .iter()
            .any(|&d| d != ANY && d > args::MAX_SIZE)
        {
            self.cx.shape_error(
                layer.kind.span(),
                format!(
                    "`{}`: its output, {}, is beyond the sizes stride supports (each at most \
                     2^32 = {})",
                    layer.label,
                    step.output.text(),
                    args::MAX_SIZE
                ),
            );
            self.shape = None;
            return None;
        }
        self.shape = Some(step.output);
        self.field = match (self.field, step.windows) {
            (Some([h, w]), Some([wh, ww])) => match (h.through(wh), w.through(ww)) {
                (Ok(h), Ok(w)) => Some([h, w]),
                _ => None,
            },
            _ => None,
        };
        Some(Planned {
            row: 0,
            name: layer.name.clone(),
            key,
            op: step.op,
            output: step.output,
            params: step.params,
            macs: step.macs,
            field: self.field,
            kind: step.kind,
            tensors: step.tensors,
            rules: step.rules,
            custom: None,
        })
    }
}

/// The input shape is `[C, H, W]`: whole numbers of at least 1, except that the height and
/// the width may be names (`[3, H, W]`), for a network that takes any size its layers allow.
pub fn check_input_shape(cx: &mut Ctxt, def: &NetworkDef) -> Option<[usize; 3]> {
    if def.input.len() != 3 {
        cx.error(
            def.input_span,
            format!(
                "the input shape has {} dimension{}, expected 3: [C, H, W], as in [3, 224, 224]",
                def.input.len(),
                if def.input.len() == 1 { "" } else { "s" }
            ),
        );
        return None;
    }
    let label = "input shape";
    let channels = args::positive(cx, label, "C", &def.input[0]);
    // A height or width given as a name takes any size the network's layers allow.
    let spatial: Vec<Option<usize>> = ["H", "W"]
        .iter()
        .zip(&def.input[1..])
        .map(|(what, value)| match value {
            Value::Name(_) => Some(ANY),
            value => args::positive(cx, label, what, value).map(|n| n.value),
        })
        .collect();
    Some([channels?.value, spatial[0]?, spatial[1]?])
}

/// A stated output shape is `[C, H, W]` or `[F]`, whole numbers of at least 1.
fn check_stated_output(cx: &mut Ctxt, label: &str, values: &[Value], span: Span) -> Option<Shape> {
    let label = format!("`{label}`");
    let dims: Vec<Option<Num>> = match values.len() {
        3 => ["C", "H", "W"]
            .iter()
            .zip(values)
            .map(|(what, v)| args::positive(cx, &label, what, v))
            .collect(),
        1 => vec![args::positive(cx, &label, "F", &values[0])],
        n => {
            cx.error(
                span,
                format!("{label}: the stated output has {n} dimensions, expected [C, H, W] or [F]"),
            );
            return None;
        }
    };
    let dims: Option<Vec<usize>> = dims.into_iter().map(|d| d.map(|n| n.value)).collect();
    match dims?.as_slice() {
        [c, h, w] => Some(Shape::Map([*c, *h, *w])),
        [f] => Some(Shape::Flat(*f)),
        _ => None,
    }
}

/// Entry names are unique within a scope (a network, a block), residual bodies, shortcuts and
/// the branches of a concat without a name included: they name Rust items and weight keys.
fn check_duplicate_names(cx: &mut Ctxt, entries: &[Entry]) {
    let mut all = Vec::new();
    scope_names(entries, &mut all);
    report_duplicates(cx, &all, "layer");
}

/// The names an entry list puts in its scope.
pub(super) fn scope_names<'e>(entries: &'e [Entry], out: &mut Vec<&'e Ident>) {
    for entry in entries {
        match entry {
            Entry::Named { name, .. } => out.push(name),
            Entry::Residual { main, shortcut, .. } => {
                scope_names(main, out);
                if let Some((name, _)) = shortcut {
                    out.push(name);
                }
            }
            Entry::Concat { branches, .. } => branch_names(branches, out),
            Entry::Scale { gate, .. } => scope_names(gate, out),
        }
    }
}

/// The names a concat's branches put in the concat's scope.
pub(super) fn branch_names<'e>(branches: &'e [Branch], out: &mut Vec<&'e Ident>) {
    for branch in branches {
        match branch {
            Branch::Named(name, _) => out.push(name),
            Branch::Inline { entries, .. } => scope_names(entries, out),
        }
    }
}

/// Reports every name that appeared before in `names`.
pub(super) fn report_duplicates(cx: &mut Ctxt, names: &[&Ident], what: &str) {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            cx.error(name.span(), format!("duplicate {what} name `{name}`"));
        }
    }
}

/// An entry's key: `#[key = "…"]` if given, else its position under `#[sequential]`, else its
/// name.
fn entry_key(
    cx: &mut Ctxt,
    attrs: &[Attribute],
    name: &Ident,
    index: usize,
    config: &Config,
) -> String {
    for attr in attrs {
        if attr.path().is_ident("key") {
            match &attr.meta {
                syn::Meta::NameValue(nv) => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => return s.value(),
                    other => cx.error(
                        syn::spanned::Spanned::span(other),
                        "expected `#[key = \"name\"]`",
                    ),
                },
                _ => cx.error(
                    attr.bracket_token.span.join(),
                    "expected `#[key = \"name\"]`",
                ),
            }
        } else if !attr.path().is_ident("doc") && !attr.path().is_ident("keys") {
            cx.error(
                attr.bracket_token.span.join(),
                "unknown layer attribute; a layer takes `#[key = \"…\"]` and doc comments, a \
                 sequence `#[keys(\"…{}\", from = 1)]`",
            );
        }
    }
    match &config.sequential {
        Some(prefix) => format!("{prefix}{index}"),
        None => name.unraw().to_string(),
    }
}

/// `#[key = ""]` gives an instance of a block, a sequence or a concat its parent's keys; a
/// single layer (or a network from another invocation) needs a key of its own.
fn check_empty_key(cx: &mut Ctxt, attrs: &[Attribute], name: &Ident) {
    let span = attrs
        .iter()
        .find(|a| a.path().is_ident("key"))
        .map_or(name.span(), |a| a.bracket_token.span.join());
    cx.error(
        span,
        format!(
            "`{name}`: `#[key = \"\"]` would leave this layer's tensors without a name; an empty \
             key is for a block instance, a sequence or a concat, whose layers then sit under \
             the enclosing keys"
        ),
    );
}

/// The identifier of a Rust item named `name`: raw when `name` is a keyword (a layer written
/// `r#type` has the key `type` and the accessor `r#type`).
pub(super) fn rust_name(name: &str, span: Span) -> Ident {
    if syn::parse_str::<Ident>(name).is_ok() {
        Ident::new(name, span)
    } else {
        Ident::new_raw(name, span)
    }
}

/// How a sequence keys its items: `{prefix}{from + i}{suffix}`. By default the position alone,
/// as `nn.Sequential` numbers; `#[keys("denselayer{}", from = 1)]` keys them as torchvision's
/// DenseNet names its layers (`denselayer1`, …).
#[derive(Default)]
pub(super) struct Numbering {
    prefix: String,
    suffix: String,
    from: usize,
}

impl Numbering {
    /// The key and the Rust name part of item `i`.
    fn key(&self, i: usize) -> (String, String) {
        let key = format!(
            "{}{}{}",
            self.prefix,
            self.from.saturating_add(i),
            self.suffix
        );
        let field = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        (key, field)
    }
}

/// `#[keys("prefix{}suffix", from = N)]` on a sequence entry; `None` without one. Reports
/// a malformed one, or one on an entry that is not a sequence, and numbers as usual then.
fn numbering(cx: &mut Ctxt, attrs: &[Attribute], target: &Target) -> Option<Numbering> {
    let attr = attrs.iter().find(|a| a.path().is_ident("keys"))?;
    let span = attr.bracket_token.span.join();
    if !matches!(target, Target::Sequence { .. }) {
        cx.error(
            span,
            "`#[keys(..)]` numbers the items of a sequence `[..]`; this entry is not one",
        );
        return None;
    }
    let mut pattern: Option<syn::LitStr> = None;
    let mut from = 0;
    let parsed = attr.parse_args_with(|input: syn::parse::ParseStream| {
        pattern = Some(input.parse()?);
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            let name: Ident = input.parse()?;
            if name != "from" {
                return Err(syn::Error::new(name.span(), "expected `from = N`"));
            }
            input.parse::<syn::Token![=]>()?;
            from = input.parse::<syn::LitInt>()?.base10_parse()?;
            input.parse::<Option<syn::Token![,]>>()?;
        }
        Ok(())
    });
    let malformed = "expected `#[keys(\"prefix{}\")]` or `#[keys(\"prefix{}\", from = 1)]`, with `{}` \
                     where the number goes";
    if let Err(e) = parsed {
        cx.error(e.span(), malformed);
        return None;
    }
    let pattern = pattern?;
    let text = pattern.value();
    let parts: Vec<&str> = text.split("{}").collect();
    if parts.len() != 2 || text.split('.').any(str::is_empty) {
        cx.error(pattern.span(), malformed);
        return None;
    }
    Some(Numbering {
        prefix: parts[0].to_string(),
        suffix: parts[1].to_string(),
        from,
    })
}
