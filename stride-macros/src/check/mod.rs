//! Every rule of `network!`. This file holds the rules about a network's structure (its input,
//! names, keys, blocks, residual and concat branches); `layer.rs` holds the rules for each
//! layer kind. Each `check_*` function states its rule in its doc comment, reports at the
//! offending token with the user's numbers, and returns `None` when the shape after it is
//! unknown, so that later layers skip their shape checks instead of cascading.

mod fuse;
mod layer;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use stride_geometry::{Field, Window};
use syn::{Attribute, Ident, LitStr};

use crate::args::{self, Num};
use crate::ctxt::Ctxt;
use crate::model::{External, Node, Op, Plan, Shape, Warning};
use crate::parse::{
    Arg, BlockDef, Call, Entry, Invocation, Item, LayerDef, NetworkDef, Target, Value,
};

const AXES: [&str; 2] = ["height", "width"];

/// How loudly a lint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Allow,
    Warn,
    Deny,
}

/// What a network's or block's own attributes ask of the macro.
#[derive(Clone)]
struct Config {
    /// `#[sequential]` or `#[sequential("features")]`: weight keys numbered by position.
    sequential: Option<String>,
    checkerboard: Level,
    floor_drops_input: Level,
}

/// The outcome of checking an invocation: a plan for every network that checked, the name of
/// every one that did not, and every error.
pub struct Checked {
    pub plans: Vec<Plan>,
    /// Networks with errors: attributes, visibility and name, for a stub.
    pub failed: Vec<(Vec<Attribute>, syn::Visibility, Ident)>,
    pub errors: syn::Result<()>,
}

/// Checks every item of an invocation. Blocks are checked once on their own (names, kinds,
/// literals), then again at every instance, with the instance's arguments and input shape.
pub fn check(invocation: Invocation) -> Checked {
    let mut cx = Ctxt::default();
    let mut blocks: HashMap<String, Definition> = HashMap::new();
    let mut plans = Vec::new();
    let mut failed = Vec::new();
    for item in invocation.items {
        match item {
            Item::Block(block) => {
                let name = block.name.to_string();
                if blocks.contains_key(&name) {
                    cx.error(block.name.span(), format!("`{name}` is declared twice"));
                    continue;
                }
                let sound = check_block_definition(&mut cx, &block, &blocks);
                blocks.insert(name, Definition::Block { def: block, sound });
            }
            Item::Network(network) => {
                let before = cx.error_count();
                let plan = check_network(&mut cx, &network, &blocks);
                match plan {
                    Some(plan) if cx.error_count() == before => plans.push(plan),
                    _ => failed.push((
                        network.attrs.clone(),
                        network.vis.clone(),
                        network.name.clone(),
                    )),
                }
                let name = network.name.to_string();
                blocks.insert(name, Definition::Network(network));
            }
        }
    }
    Checked {
        plans,
        failed,
        errors: cx.finish(),
    }
}

/// What a call's kind can name besides a layer: a block, or a network declared earlier in the
/// same invocation.
enum Definition {
    Block { def: BlockDef, sound: bool },
    Network(NetworkDef),
}

/// Checks a block on its own, before any instance: unknown kinds and parameters, duplicate
/// names, malformed literals. Its parameters stand in as unknown values. Returns whether the
/// block is sound; instances of an unsound block are not expanded (their errors would repeat
/// this one's).
fn check_block_definition(
    cx: &mut Ctxt,
    block: &BlockDef,
    blocks: &HashMap<String, Definition>,
) -> bool {
    let before = cx.error_count();
    let config = check_config(cx, &block.config);
    for (i, param) in block.params.iter().enumerate() {
        if block.params[..i].iter().any(|p| p.name == param.name) {
            cx.error(
                param.name.span(),
                format!("block parameter `{}` is declared twice", param.name),
            );
        }
    }
    let bindings = block
        .params
        .iter()
        .map(|p| (p.name.to_string(), Value::Placeholder(p.name.span())))
        .collect();
    let mut walk = Walk::new(cx, &config, blocks, None, None);
    walk.defining = true;
    let scope = Scope {
        key: String::new(),
        field: String::new(),
        label: format!("{}::", block.name),
        bindings,
    };
    walk.entries(&block.entries, &scope);
    cx.error_count() == before
}

/// Checks a network and resolves it to a [`Plan`].
fn check_network(
    cx: &mut Ctxt,
    def: &NetworkDef,
    blocks: &HashMap<String, Definition>,
) -> Option<Plan> {
    let config = check_config(cx, &def.config);
    let input = check_input_shape(cx, def);
    let mut walk = Walk::new(
        cx,
        &config,
        blocks,
        input.map(Shape::Map),
        Some([Field::INPUT; 2]),
    );
    let scope = Scope {
        key: String::new(),
        field: String::new(),
        label: String::new(),
        bindings: Vec::new(),
    };
    let nodes = fuse::fusions(walk.entries(&def.entries, &scope));
    let (shape, field, warnings) = (walk.shape, walk.field, walk.warnings);
    let (input, output) = (input?, shape?);
    let mut params = 0;
    let mut macs = 0;
    for layer in Node::leaves(&nodes) {
        params += layer.params;
        macs += layer.macs;
    }
    Some(Plan {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        input,
        nodes,
        output,
        params,
        macs,
        field,
        warnings,
    })
}

/// `#[sequential]`, `#[sequential("prefix")]`, `#[strict]` and
/// `#[lints(checkerboard = allow|warn|deny, floor_drops_input = allow|warn|deny)]` are the
/// attributes the macro reads on a network or a block.
fn check_config(cx: &mut Ctxt, attrs: &[Attribute]) -> Config {
    let mut config = Config {
        sequential: None,
        checkerboard: Level::Warn,
        floor_drops_input: Level::Allow,
    };
    for attr in attrs {
        let path = attr.path();
        if path.is_ident("sequential") {
            config.sequential = Some(match &attr.meta {
                syn::Meta::Path(_) => String::new(),
                _ => match attr.parse_args::<LitStr>() {
                    Ok(prefix) => format!("{}.", prefix.value()),
                    Err(e) => {
                        cx.error(
                            e.span(),
                            "expected `#[sequential]` or `#[sequential(\"prefix\")]`",
                        );
                        String::new()
                    }
                },
            });
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

/// The input shape is `[C, H, W]`: three whole numbers, each at least 1.
fn check_input_shape(cx: &mut Ctxt, def: &NetworkDef) -> Option<[usize; 3]> {
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
    let dims: Vec<Option<Num>> = ["C", "H", "W"]
        .iter()
        .zip(&def.input)
        .map(|(what, value)| args::positive(cx, label, what, value))
        .collect();
    Some([dims[0]?.value, dims[1]?.value, dims[2]?.value])
}

/// A stated output shape is `[C, H, W]` or `[F]`, whole numbers of at least 1.
fn check_stated_output(
    cx: &mut Ctxt,
    label: &str,
    values: &[Value],
    span: proc_macro2::Span,
) -> Option<Shape> {
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

/// Entry names are unique within a scope (a network, a block), residual bodies and shortcuts
/// included: they name struct fields and weight keys.
fn check_duplicate_names(cx: &mut Ctxt, entries: &[Entry]) {
    fn names<'e>(entries: &'e [Entry], out: &mut Vec<&'e Ident>) {
        for entry in entries {
            match entry {
                Entry::Named { name, .. } => out.push(name),
                Entry::Residual { main, shortcut, .. } => {
                    names(main, out);
                    if let Some((name, _)) = shortcut {
                        out.push(name);
                    }
                }
            }
        }
    }
    let mut all = Vec::new();
    names(entries, &mut all);
    for (i, name) in all.iter().enumerate() {
        if all[..i].contains(name) {
            cx.error(name.span(), format!("duplicate layer name `{name}`"));
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
        } else if !attr.path().is_ident("doc") {
            cx.error(
                attr.bracket_token.span.join(),
                "unknown layer attribute; a layer takes `#[key = \"…\"]` and doc comments",
            );
        }
    }
    match &config.sequential {
        Some(prefix) => format!("{prefix}{index}"),
        None => name.to_string(),
    }
}

/// Where in the network the walk is: key and field prefixes, and the values of the enclosing
/// block's parameters.
#[derive(Clone)]
struct Scope {
    /// Weight key prefix, ending in a dot when not empty: `layer1.0.`.
    key: String,
    /// Field name prefix, ending in `_` when not empty: `layer1_0_`.
    field: String,
    /// Message label prefix: the key prefix, or `Block::` inside a block's own check.
    label: String,
    /// Block parameters and the values an instance gave them.
    bindings: Vec<(String, Value)>,
}

impl Scope {
    /// The scope inside the entry whose key is `key` and whose field is `field`.
    fn child(&self, key: &str, field: &str) -> Scope {
        Scope {
            key: format!("{}{key}.", self.key),
            field: format!("{}{field}_", self.field),
            label: format!("{}{key}.", self.label),
            bindings: self.bindings.clone(),
        }
    }
}

/// The state carried from one layer to the next.
struct Walk<'a> {
    cx: &'a mut Ctxt,
    config: &'a Config,
    blocks: &'a HashMap<String, Definition>,
    /// Checking a block on its own, with its parameters unknown: instances inside it are not
    /// expanded, and every branch is walked for its arguments.
    defining: bool,
    warnings: Vec<Warning>,
    /// The shape flowing into the next layer; `None` once a layer's shape could not be known.
    shape: Option<Shape>,
    /// The receptive field so far; `None` through layers that upsample or see everything.
    field: Option<[Field; 2]>,
}

/// What one layer's check produces.
struct Step {
    op: Op,
    output: Shape,
    params: u64,
    macs: u64,
    /// The windows the layer slides, for the receptive field; `None` ends the field.
    windows: Option<[Window; 2]>,
    kind: String,
}

impl<'a> Walk<'a> {
    fn new(
        cx: &'a mut Ctxt,
        config: &'a Config,
        blocks: &'a HashMap<String, Definition>,
        shape: Option<Shape>,
        field: Option<[Field; 2]>,
    ) -> Self {
        Walk {
            cx,
            config,
            blocks,
            defining: false,
            warnings: Vec::new(),
            shape,
            field,
        }
    }

    /// A body: entries in order, each taking the previous one's output.
    fn entries(&mut self, entries: &[Entry], scope: &Scope) -> Vec<Node> {
        check_duplicate_names(self.cx, entries);
        self.body(entries, scope)
    }

    /// The entries of a body whose names were checked with the enclosing scope's.
    fn body(&mut self, entries: &[Entry], scope: &Scope) -> Vec<Node> {
        let mut nodes = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            match entry {
                Entry::Named {
                    attrs,
                    name,
                    target,
                } => {
                    let key = entry_key(self.cx, attrs, name, index, self.config);
                    nodes.extend(self.target(target, &key, &name.to_string(), scope));
                }
                Entry::Residual {
                    token,
                    main,
                    shortcut,
                } => {
                    nodes.extend(self.residual(token, main, shortcut.as_ref(), scope));
                }
            }
        }
        nodes
    }

    /// A named target: a layer, a block or network instance, a sequence or a concat. `key`
    /// names its weights, `field` its struct field.
    fn target(&mut self, target: &Target, key: &str, field: &str, scope: &Scope) -> Vec<Node> {
        match target {
            Target::Call(call) => {
                let kind = call.kind.to_string();
                match self.blocks.get(&kind) {
                    Some(definition) => self.instance(call, definition, key, field, scope),
                    None => {
                        let layer = LayerDef {
                            name: Ident::new(&format!("{}{field}", scope.field), call.kind.span()),
                            label: format!("{}{key}", scope.label),
                            kind: call.kind.clone(),
                            args: substitute(&call.args, &scope.bindings),
                            args_span: call.args_span,
                        };
                        let key = format!("{}{key}", scope.key);
                        self.layer(&layer, key)
                            .map(Node::Layer)
                            .into_iter()
                            .collect()
                    }
                }
            }
            Target::Sequence { items, .. } => {
                let inner = scope.child(key, field);
                let mut nodes = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let index = i.to_string();
                    nodes.extend(self.target(item, &index, &index, &inner));
                }
                nodes
            }
            Target::External {
                ty,
                output,
                output_span,
            } => {
                let label = format!("{}{key}", scope.label);
                let stated = check_stated_output(self.cx, &label, output, *output_span);
                let input = self.shape;
                self.shape = stated;
                self.field = None;
                match (input, stated) {
                    (Some(input), Some(output)) => vec![Node::External(External {
                        name: Ident::new(
                            &format!("{}{field}", scope.field),
                            ty.segments.last().map_or(*output_span, |s| s.ident.span()),
                        ),
                        key: format!("{}{key}", scope.key),
                        ty: ty.clone(),
                        input,
                        output,
                    })],
                    _ => Vec::new(),
                }
            }
            Target::Concat { token, branches } => {
                self.concat(token, branches, &scope.child(key, field))
            }
        }
    }

    /// A block or earlier network used as a layer: its entries, expanded here with the
    /// instance's arguments, under the instance's key. Shape errors inside point at the
    /// instance.
    fn instance(
        &mut self,
        call: &Call,
        definition: &Definition,
        key: &str,
        field: &str,
        scope: &Scope,
    ) -> Vec<Node> {
        let inner = scope.child(key, field);
        let label = format!("{}{key}", scope.label);
        let (entries, bindings, config) = match definition {
            Definition::Block { def, sound } => {
                let bindings = self.bind(call, def, &label, scope);
                let (Some(bindings), true) = (bindings, *sound) else {
                    self.shape = None;
                    return Vec::new();
                };
                let config = check_config(&mut Ctxt::default(), &def.config);
                (&def.entries, bindings, config)
            }
            Definition::Network(def) => {
                if let Some(arg) = call.args.first() {
                    let span = match arg {
                        Arg::Positional(v) | Arg::InOut(v, _) | Arg::Named(_, v) => v.span(),
                    };
                    self.cx.error(
                        span,
                        format!("`{label}`: a network used as a layer takes no arguments"),
                    );
                }
                let declared = check_input_shape(&mut Ctxt::default(), def);
                if let (Some(shape), Some(declared)) = (self.shape, declared) {
                    if shape != Shape::Map(declared) {
                        self.cx.shape_error(
                            call.kind.span(),
                            format!(
                                "`{label}`: `{}` takes {:?}, but its input here is {}",
                                def.name,
                                declared,
                                shape.text()
                            ),
                        );
                        self.shape = None;
                        return Vec::new();
                    }
                }
                let config = check_config(&mut Ctxt::default(), &def.config);
                (&def.entries, Vec::new(), config)
            }
        };
        if self.defining {
            // A block's own check: the instance's block was checked on its own already.
            self.shape = None;
            return Vec::new();
        }
        let inner = Scope { bindings, ..inner };
        let redirect = self.cx.redirect(call.kind.span());
        let mut walk = Walk {
            cx: &mut *self.cx,
            config: &config,
            blocks: self.blocks,
            defining: false,
            warnings: Vec::new(),
            shape: self.shape,
            field: self.field,
        };
        let nodes = walk.entries(entries, &inner);
        let (shape, field, warnings) = (walk.shape, walk.field, walk.warnings);
        self.cx.restore(redirect);
        self.shape = shape;
        self.field = field;
        self.warnings.extend(warnings);
        nodes
    }

    /// Binds an instance's arguments to the block's parameters: positional in order, then by
    /// name, defaults for the rest. Every parameter without a default must be given.
    fn bind(
        &mut self,
        call: &Call,
        block: &BlockDef,
        label: &str,
        scope: &Scope,
    ) -> Option<Vec<(String, Value)>> {
        let mut given: Vec<Option<Value>> = vec![None; block.params.len()];
        let mut ok = true;
        let mut positional = 0;
        for arg in &call.args {
            match arg {
                Arg::Positional(value) => {
                    if positional >= block.params.len() {
                        self.cx.error(
                            value.span(),
                            format!(
                                "`{label}`: `{}` takes {} arguments",
                                block.name,
                                block.params.len()
                            ),
                        );
                        ok = false;
                    } else {
                        given[positional] = Some(value.clone());
                    }
                    positional += 1;
                }
                Arg::Named(name, value) => {
                    match block.params.iter().position(|p| p.name == *name) {
                        Some(i) if given[i].is_some() => {
                            self.cx
                                .error(name.span(), format!("`{label}`: `{name}` is given twice"));
                            ok = false;
                        }
                        Some(i) => given[i] = Some(value.clone()),
                        None => {
                            let names: Vec<String> =
                                block.params.iter().map(|p| p.name.to_string()).collect();
                            let names: Vec<&str> = names.iter().map(String::as_str).collect();
                            let hint = args::did_you_mean(&name.to_string(), &names)
                                .map(|n| format!("did you mean `{n}`? "))
                                .unwrap_or_default();
                            self.cx.error(
                            name.span(),
                            format!(
                                "`{label}`: `{}` has no parameter `{name}`; {hint}its parameters are {}",
                                block.name,
                                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                            ),
                        );
                            ok = false;
                        }
                    }
                }
                Arg::InOut(value, _) => {
                    self.cx.error(
                        value.span(),
                        format!("`{label}`: a block takes no `in => out`"),
                    );
                    ok = false;
                }
            }
        }
        let mut bindings = Vec::new();
        for (param, value) in block.params.iter().zip(given) {
            match value.or_else(|| param.default.clone()) {
                // An argument may itself name a parameter of the enclosing block.
                Some(value) => bindings.push((
                    param.name.to_string(),
                    substitute_value(&value, &scope.bindings),
                )),
                None => {
                    self.cx.error(
                        call.kind.span(),
                        format!("`{label}`: `{}` needs `{}`", block.name, param.name),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(bindings)
    }

    /// `residual { main } shortcut name: target`: the main path's output plus the input. The
    /// shortcut runs when the main path changes the shape (torchvision's rule for its
    /// `downsample`); both sides must then agree.
    fn residual(
        &mut self,
        token: &Ident,
        main: &[Entry],
        shortcut: Option<&(Ident, Target)>,
        scope: &Scope,
    ) -> Vec<Node> {
        let (input, field) = (self.shape, self.field);
        let main_nodes = self.body(main, scope);
        let main_out = self.shape;
        let main_field = self.field;
        let (Some(input), Some(main_out)) = (input, main_out) else {
            if let (true, Some((name, target))) = (self.defining, shortcut) {
                self.target(target, &name.to_string(), &name.to_string(), scope);
            }
            self.shape = None;
            return Vec::new();
        };
        let label = format!("{}residual", scope.label);
        let shortcut_nodes = if main_out == input {
            None
        } else if let Some((name, target)) = shortcut {
            self.shape = Some(input);
            self.field = field;
            let nodes = self.target(target, &name.to_string(), &name.to_string(), scope);
            match self.shape {
                Some(short_out) if short_out == main_out => Some(nodes),
                Some(short_out) => {
                    self.cx.shape_error(
                        name.span(),
                        format!(
                            "`{label}`: the branches disagree: the main path gives {} but the shortcut `{name}` gives {} (from the input {})",
                            main_out.text(),
                            short_out.text(),
                            input.text()
                        ),
                    );
                    self.shape = None;
                    return Vec::new();
                }
                None => {
                    self.shape = None;
                    return Vec::new();
                }
            }
        } else {
            self.cx.shape_error(
                token.span(),
                format!(
                    "`{label}`: the main path turns the input {} into {}, so they cannot be added; \
                     add `shortcut downsample: [conv2d(..), batch_norm2d()]` after the braces",
                    input.text(),
                    main_out.text()
                ),
            );
            self.shape = None;
            return Vec::new();
        };
        self.shape = Some(main_out);
        self.field = main_field;
        let name = match scope.key.trim_end_matches('.') {
            "" => "residual".to_string(),
            key => key.to_string(),
        };
        vec![Node::Residual {
            name,
            main: main_nodes,
            shortcut: shortcut_nodes,
            output: main_out,
            after: None,
        }]
    }

    /// `concat { a: …, b: … }`: every branch from the same input; their outputs must agree in
    /// height and width, and are joined along channels.
    fn concat(&mut self, token: &Ident, branches: &[(Ident, Target)], scope: &Scope) -> Vec<Node> {
        let (input, field) = (self.shape, self.field);
        let label = scope.label.trim_end_matches('.').to_string();
        let mut outputs = Vec::new();
        let mut nodes = Vec::new();
        let mut fields = Vec::new();
        for (i, (name, target)) in branches.iter().enumerate() {
            if branches[..i].iter().any(|(n, _)| n == name) {
                self.cx
                    .error(name.span(), format!("duplicate branch name `{name}`"));
            }
            self.shape = input;
            self.field = field;
            nodes.push(self.target(target, &name.to_string(), &name.to_string(), scope));
            outputs.push((name, self.shape));
            fields.push(self.field);
        }
        if branches.is_empty() {
            self.cx.error(
                token.span(),
                format!("`{label}`: a concat needs at least one branch"),
            );
        }
        let mut channels = 0;
        let mut spatial: Option<(&Ident, [usize; 2])> = None;
        for (name, shape) in &outputs {
            match shape {
                None => {
                    self.shape = None;
                    return Vec::new();
                }
                Some(Shape::Flat(_)) => {
                    self.cx.shape_error(
                        name.span(),
                        format!("`{label}`: branch `{name}` is flat; concat joins feature maps"),
                    );
                    self.shape = None;
                    return Vec::new();
                }
                Some(Shape::Map([c, h, w])) => {
                    if let Some((first, hw)) = spatial {
                        if hw != [*h, *w] {
                            self.cx.shape_error(
                                name.span(),
                                format!(
                                    "`{label}`: branch `{name}` is {h}x{w} but branch `{first}` is {}x{}; a concat needs equal height and width",
                                    hw[0], hw[1]
                                ),
                            );
                            self.shape = None;
                            return Vec::new();
                        }
                    } else {
                        spatial = Some((name, [*h, *w]));
                    }
                    channels += c;
                }
            }
        }
        let Some((_, [h, w])) = spatial else {
            self.shape = None;
            return Vec::new();
        };
        let output = Shape::Map([channels, h, w]);
        self.shape = Some(output);
        // The widest receptive field of the branches, if they step alike.
        self.field = fields
            .into_iter()
            .try_fold(None::<[Field; 2]>, |acc, f| {
                let f = f?;
                Some(Some(match acc {
                    None => f,
                    Some(a) if a[0].jump == f[0].jump && a[1].jump == f[1].jump => {
                        [0, 1].map(|i| if f[i].size > a[i].size { f[i] } else { a[i] })
                    }
                    Some(_) => return None,
                }))
            })
            .flatten();
        let name = scope.key.trim_end_matches('.').to_string();
        vec![Node::Concat {
            name,
            branches: nodes,
            output,
        }]
    }
}

/// The arguments with every block parameter replaced by its value.
fn substitute(args: &[Arg], bindings: &[(String, Value)]) -> Vec<Arg> {
    args.iter()
        .map(|arg| match arg {
            Arg::Positional(v) => Arg::Positional(substitute_value(v, bindings)),
            Arg::InOut(a, b) => {
                Arg::InOut(substitute_value(a, bindings), substitute_value(b, bindings))
            }
            Arg::Named(n, v) => Arg::Named(n.clone(), substitute_value(v, bindings)),
        })
        .collect()
}

fn substitute_value(value: &Value, bindings: &[(String, Value)]) -> Value {
    match value {
        Value::Name(name) => match bindings.iter().find(|(n, _)| name == n) {
            Some((_, bound)) => bound.clone(),
            None => value.clone(),
        },
        Value::Tuple { items, span } => Value::Tuple {
            items: items
                .iter()
                .map(|v| substitute_value(v, bindings))
                .collect(),
            span: *span,
        },
        other => other.clone(),
    }
}
