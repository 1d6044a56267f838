//! Layers of one's own: `name: custom(Type)` and `name: custom(Type, channels = 128)`.
//!
//! The macro cannot run the type's shape rule, so the invocation states the output: the
//! input's shape, or other channels. The generated code then checks that statement against the
//! rule (`CustomShape::OUTPUT`) by a constant assertion, which `expand` writes.

use quote::ToTokens;
use syn::spanned::Spanned;

use super::walk::{Scope, Walk, rust_name};
use crate::args;
use crate::model::{ANY, CustomDef, Op, Planned, Shape};
use crate::parse::{Arg, Custom};

impl Walk<'_> {
    /// A custom layer: its arguments, then its stated output. `key` names its weights,
    /// `field` its Rust name.
    pub(super) fn custom(
        &mut self,
        custom: &Custom,
        key: &str,
        field: &str,
        scope: &Scope,
    ) -> Option<Planned> {
        let label = format!("{}{key}", scope.label);
        let span = custom.ty.span();
        if !self.spend(span, &label) {
            return None;
        }
        let name = rust_name(&format!("{}{field}", scope.field), custom.token.span());
        self.seen.customs.push((name.clone(), custom.ty.clone()));
        let args = super::blocks::substitute(&custom.args, &scope.bindings);
        let channels = check_custom_args(self, &label, &args);
        let input = self.shape;
        self.shape = None;
        // The field ends: the macro cannot see what the layer's output depends on.
        self.field = None;
        let [c, h, w] = check_custom_input(self, &label, custom, input?)?;
        let channels = match channels {
            Ok(Some(channels)) => channels,
            Ok(None) => c,
            Err(()) => return None,
        };
        let output = Shape::Map([channels, h, w]);
        self.shape = Some(output);
        // In a network that takes many sizes, the rule is checked at compile time for the
        // channels only (the height and width are `ANY`), and at run time for each input.
        let [h, w] = if self.generic { [ANY; 2] } else { [h, w] };
        let def = CustomDef {
            ty: custom.ty.clone(),
            input: [c, h, w],
            output: [channels, h, w],
            label,
            span,
        };
        Some(Planned {
            row: 0,
            name,
            key: format!("{}{key}", scope.key),
            op: Op::Custom,
            output,
            params: 0,
            macs: 0,
            field: None,
            kind: def.type_text(),
            tensors: Vec::new(),
            rules: [stride_geometry::AxisRule::Keep; 2],
            custom: Some(def),
        })
    }
}

/// A custom layer takes one argument, `channels = N` (at least 1): its output channels, when
/// they are not its input's. `Ok(None)` when it is not given, `Err` (reported) when it is
/// wrong; another argument is reported and leaves the output as it is.
fn check_custom_args(walk: &mut Walk<'_>, label: &str, args: &[Arg]) -> Result<Option<usize>, ()> {
    let mut channels = Ok(None);
    for arg in args {
        match arg {
            Arg::Named(name, value) if name == "channels" => {
                if !matches!(channels, Ok(None)) {
                    walk.cx
                        .error(name.span(), format!("`{label}`: `channels` is given twice"));
                    channels = Err(());
                    continue;
                }
                channels = match args::positive(walk.cx, &format!("`{label}`"), "channels", value) {
                    Some(n) if n.value > args::MAX_SIZE => {
                        walk.cx.error(
                            n.span,
                            format!(
                                "`{label}`: `channels` = {} is beyond the sizes stride supports \
                                 (at most 2^32 = {})",
                                n.value,
                                args::MAX_SIZE
                            ),
                        );
                        Err(())
                    }
                    Some(n) => Ok(Some(n.value)),
                    None => Err(()),
                };
            }
            other => {
                let tokens = match other {
                    Arg::Named(name, _) => name.to_token_stream(),
                    Arg::Positional(value) | Arg::InOut(value, _) => {
                        let span = value.span();
                        quote::quote_spanned!(span=> _)
                    }
                };
                // Reported; the output is still the input's (or the stated channels), so
                // the layers after it are checked.
                walk.cx.error_spanned(
                    tokens,
                    format!(
                        "`{label}`: a custom layer takes one argument after its type, \
                         `channels = N`, for output channels other than its input's"
                    ),
                );
            }
        }
    }
    channels
}

/// A custom layer takes a feature map `[C, H, W]`, never a flat input.
fn check_custom_input(
    walk: &mut Walk<'_>,
    label: &str,
    custom: &Custom,
    input: Shape,
) -> Option<[usize; 3]> {
    match input {
        Shape::Map(chw) => Some(chw),
        Shape::Flat(features) => {
            walk.cx.shape_error(
                custom.ty.span(),
                format!(
                    "`{label}`: a custom layer takes a feature map [C, H, W], but the input here \
                     is flat, [{features}]; use it before the `flatten`"
                ),
            );
            None
        }
    }
}
