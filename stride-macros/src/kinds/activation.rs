//! The elementwise activations: `relu`, `relu6`, `leaky_relu`, `sigmoid`, `tanh`, `silu`.

use super::Step;
use crate::args::Args;
use crate::check::Walk;
use crate::model::{Act, Op, Shape};

/// An activation keeps its input's shape; `leaky_relu`'s slope may be negative.
pub(super) fn check_activation(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let act = match args.kind.name {
        "relu" => Act::Relu,
        "relu6" => Act::Relu6,
        "sigmoid" => Act::Sigmoid,
        "tanh" => Act::Tanh,
        "silu" => Act::Silu,
        _ => Act::LeakyRelu(w.real_param(args, "slope", true)?),
    };
    Some(Step::pointwise(Op::Activation(act), input?, args.kind.name))
}
