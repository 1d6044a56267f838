//! Blocks (and networks of the same invocation) used as layers: checked once on their own,
//! then expanded and checked again at every instance, with the instance's arguments and input.

use std::collections::HashMap;
use std::rc::Rc;

use super::Definition;
use super::walk::{Scope, Walk};
use crate::args;
use crate::ctxt::Ctxt;
use crate::model::{ANY, Shape, Tree};
use crate::parse::{Arg, BlockDef, Branch, Call, Entry, Target, Value};

/// Checks a block on its own, before any instance: unknown kinds and parameters, duplicate
/// names, malformed literals. Its parameters stand in as unknown values. Returns whether the
/// block is sound; instances of an unsound block are not expanded (their errors would repeat
/// this one's).
pub(super) fn check_block_definition(
    cx: &mut Ctxt,
    block: &BlockDef,
    config: &super::config::Config,
    definitions: &HashMap<String, Definition>,
) -> bool {
    let before = cx.error_count();
    check_block_params(cx, block);
    let bindings = block
        .params
        .iter()
        .map(|p| (p.name.to_string(), Value::Placeholder(p.name.span())))
        .collect();
    let mut walk = Walk::new(cx, config, definitions, None, None);
    walk.defining = true;
    let scope = Scope {
        label: format!("{}::", block.name),
        bindings,
        ..Scope::root()
    };
    walk.entries(&block.entries, &scope);
    cx.error_count() == before
}

/// A block's parameters have distinct names.
fn check_block_params(cx: &mut Ctxt, block: &BlockDef) {
    for (i, param) in block.params.iter().enumerate() {
        if block.params[..i].iter().any(|p| p.name == param.name) {
            cx.error(
                param.name.span(),
                format!("block parameter `{}` is declared twice", param.name),
            );
        }
    }
}

impl Walk<'_> {
    /// A block or earlier network used as a layer: its entries, expanded here with the
    /// instance's arguments, under the instance's key. Shape errors inside point at the
    /// instance.
    pub(super) fn instance(
        &mut self,
        call: &Call,
        definition: &Definition,
        key: &str,
        field: &str,
        scope: &Scope,
    ) -> Vec<Tree> {
        let inner = scope.child(key, field);
        // An instance whose key is empty shares its parent's keys; messages name it by field.
        let label = format!(
            "{}{}",
            scope.label,
            if key.is_empty() { field } else { key }
        );
        let (entries, bindings, config) = match definition {
            Definition::Block {
                def, config, sound, ..
            } => {
                let bindings = self.bind(call, def, &label, scope);
                if !*sound && def.imported {
                    // Its own invocation reports why; here, say where it is used.
                    self.cx.error(
                        call.kind.span(),
                        format!(
                            "`{label}`: `{}`, brought in from another invocation, does not check \
                             here; the errors its own `network!` reports are the ones to fix",
                            def.name
                        ),
                    );
                }
                let (Some(bindings), true) = (bindings, *sound) else {
                    self.shape = None;
                    return Vec::new();
                };
                (&def.entries, bindings, config)
            }
            Definition::Network { def, config, input } => {
                if let Some(arg) = call.args.first() {
                    let span = match arg {
                        Arg::Positional(v) | Arg::InOut(v, _) | Arg::Named(_, v) => v.span(),
                    };
                    self.cx.error(
                        span,
                        format!("`{label}`: a network used as a layer takes no arguments"),
                    );
                }
                if let (Some(shape), Some(declared)) = (self.shape, *input) {
                    // A size the network declares with a name takes whatever comes.
                    let fits = match shape {
                        Shape::Map(dims) => (0..3).all(|i| {
                            declared[i] == ANY || dims[i] == ANY || dims[i] == declared[i]
                        }),
                        Shape::Flat(_) => false,
                    };
                    if !fits {
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
                (&def.entries, Vec::new(), config)
            }
        };
        if self.defining {
            // A block's own check: the instance's block was checked on its own already.
            self.shape = None;
            return Vec::new();
        }
        let name = call.kind.to_string();
        if self.within.contains(&name) {
            let chain: Vec<&str> = self.within.iter().map(String::as_str).collect();
            self.cx.error(
                call.kind.span(),
                format!(
                    "`{label}`: `{name}` contains itself ({} -> {name}); a block cannot be part \
                     of itself",
                    chain.join(" -> ")
                ),
            );
            self.shape = None;
            return Vec::new();
        }
        let inner = Scope { bindings, ..inner };
        let redirect = self.cx.redirect(call.kind.span());
        let mut walk = Walk::new(
            &mut *self.cx,
            config,
            self.definitions,
            self.shape,
            self.field,
        );
        walk.generic = self.generic;
        walk.within = self.within.iter().cloned().chain([name]).collect();
        walk.budget = Rc::clone(&self.budget);
        let trees = walk.entries(entries, &inner);
        let (shape, field, warnings, seen) = walk.finish();
        self.cx.restore(redirect);
        self.shape = shape;
        self.field = field;
        self.warnings.extend(warnings);
        self.seen.accessors.extend(seen.accessors);
        self.seen.externals.extend(seen.externals);
        self.seen.flattens |= seen.flattens;
        trees
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
                            self.cx
                                .error(name.span(), unknown_block_param(block, label, name));
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
}

/// The message for an instance argument the block has no parameter for.
fn unknown_block_param(block: &BlockDef, label: &str, name: &syn::Ident) -> String {
    let names: Vec<String> = block.params.iter().map(|p| p.name.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hint = args::did_you_mean(&name.to_string(), &names)
        .map(|n| format!("did you mean `{n}`? "))
        .unwrap_or_default();
    let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!(
        "`{label}`: `{}` has no parameter `{name}`; {hint}its parameters are {}",
        block.name,
        list.join(", ")
    )
}

/// The arguments with every block parameter replaced by its value.
pub(super) fn substitute(args: &[Arg], bindings: &[(String, Value)]) -> Vec<Arg> {
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
        Value::Expr {
            op,
            lhs,
            rhs,
            tokens,
        } => Value::Expr {
            op: *op,
            lhs: Box::new(substitute_value(lhs, bindings)),
            rhs: Box::new(substitute_value(rhs, bindings)),
            tokens: tokens.clone(),
        },
        other => other.clone(),
    }
}

/// The blocks `block` uses, at any depth, each as an `@import { … }` item, every one after the
/// blocks it uses itself.
pub(super) fn uses(
    block: &BlockDef,
    definitions: &HashMap<String, Definition>,
) -> Vec<proc_macro2::TokenStream> {
    fn visit(
        entries: &[Entry],
        definitions: &HashMap<String, Definition>,
        seen: &mut Vec<String>,
        out: &mut Vec<proc_macro2::TokenStream>,
    ) {
        for kind in kinds_in(entries) {
            let Some(Definition::Block { def, item, .. }) = definitions.get(&kind) else {
                continue;
            };
            if seen.contains(&kind) {
                continue;
            }
            seen.push(kind);
            visit(&def.entries, definitions, seen, out);
            out.push(item.clone());
        }
    }
    let (mut seen, mut out) = (Vec::new(), Vec::new());
    visit(&block.entries, definitions, &mut seen, &mut out);
    out
}

/// The names of every call (a layer kind, a block) in `entries`, at any depth.
fn kinds_in(entries: &[Entry]) -> Vec<String> {
    fn target(t: &Target, out: &mut Vec<String>) {
        match t {
            Target::Call(call) => out.push(call.kind.to_string()),
            Target::Sequence { items } => items.iter().for_each(|i| target(i, out)),
            Target::Concat { branches, .. } => branches.iter().for_each(|b| branch(b, out)),
            Target::Scale { gate, .. } => out.extend(kinds_in(gate)),
            Target::Scope { entries } => out.extend(kinds_in(entries)),
            Target::External { .. } | Target::Custom(_) => {}
        }
    }
    fn branch(b: &Branch, out: &mut Vec<String>) {
        match b {
            Branch::Named(_, t) => target(t, out),
            Branch::Inline { entries, .. } => out.extend(kinds_in(entries)),
        }
    }
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            Entry::Named { target: t, .. } => target(t, &mut out),
            Entry::Residual { main, shortcut, .. } => {
                out.extend(kinds_in(main));
                if let Some((_, t)) = shortcut {
                    target(t, &mut out);
                }
            }
            Entry::Concat { branches, .. } => branches.iter().for_each(|b| branch(b, &mut out)),
            Entry::Scale { gate, .. } => out.extend(kinds_in(gate)),
        }
    }
    out
}
