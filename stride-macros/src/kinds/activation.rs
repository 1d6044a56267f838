//! The elementwise activations: `relu`, `relu6`, `leaky_relu`, `sigmoid`, `tanh`, `silu`,
//! `gelu`, `hardswish`, `hardsigmoid`.

use super::Step;
use crate::args::Args;
use crate::check::Walk;
use crate::model::{Act, Op, Shape};
use crate::parse::Value;

/// An activation keeps its input's shape; `leaky_relu`'s slope may be negative, and `gelu`
/// is exact unless `approximate = tanh`.
pub(super) fn check_activation(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let act = match args.kind.name {
        "relu" => Act::Relu,
        "relu6" => Act::Relu6,
        "sigmoid" => Act::Sigmoid,
        "tanh" => Act::Tanh,
        "silu" => Act::Silu,
        "hardswish" => Act::Hardswish,
        "hardsigmoid" => Act::Hardsigmoid,
        "gelu" => gelu(w, args)?,
        _ => Act::LeakyRelu(w.real_param(args, "slope", true)?),
    };
    let kind = match act {
        Act::GeluTanh => "gelu tanh",
        _ => args.kind.name,
    };
    Some(Step::pointwise(Op::Activation(act), input?, kind))
}

/// `gelu(approximate = none | tanh)`, as PyTorch's `nn.GELU`.
fn gelu(w: &mut Walk, args: &Args) -> Option<Act> {
    match args.get_or_positional(w.cx, "approximate") {
        None => Some(Act::Gelu),
        Some(Value::Name(name)) if name == "none" => Some(Act::Gelu),
        Some(Value::Name(name)) if name == "tanh" => Some(Act::GeluTanh),
        Some(Value::Placeholder(_)) => None,
        Some(other) => {
            w.cx.error(
                other.span(),
                format!(
                    "{}: `approximate` is `none` (the exact GELU) or `tanh`, got `{}`",
                    args.label(),
                    other.text()
                ),
            );
            None
        }
    }
}
