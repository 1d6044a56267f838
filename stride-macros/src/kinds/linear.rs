//! `linear`.

use stride_geometry as geo;
use stride_geometry::AxisRule;

use super::Step;
use super::rules::count;
use crate::args::Args;
use crate::check::Walk;
use crate::model::{ANY, Init, Op, Shape, TensorSpec};

/// A linear layer takes a flat input, and its stated in-features equal that input's size.
pub(super) fn check_linear(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let (out, stated) = w.channels(args, "features");
    let bias = w.flag(args, "bias");
    let features = match input? {
        Shape::Flat(ANY) => {
            w.cx.shape_error(
                args.layer.kind.span(),
                format!(
                    "{}: its input is a feature map of a size that depends on the input, \
                     flattened, so its weights would depend on the input's size too; put \
                     `adaptive_avg_pool2d(..)` before `flatten` for a size-generic network, or \
                     declare the network with a fixed height and width",
                    args.label()
                ),
            );
            return None;
        }
        Shape::Flat(f) => f,
        Shape::Map(chw) => {
            w.cx.shape_error(
                args.layer.kind.span(),
                format!(
                    "{}: `linear` needs a flat input, but its input is {:?}; put `flatten` before it",
                    args.label(),
                    chw
                ),
            );
            return None;
        }
    };
    let (out, stated, bias) = (out?, stated?, bias?);
    w.check_stated_in(args, stated, features, "features");
    // PyTorch's default: weight and bias both U(-1/√in, 1/√in), which torchvision keeps for
    // its classifiers.
    let init = Init::Uniform { fan_in: features };
    let mut tensors = vec![TensorSpec {
        name: "weight",
        shape: geo::linear_weight_shape(features, out.value).to_vec(),
        init,
    }];
    if bias {
        tensors.push(TensorSpec {
            name: "bias",
            shape: vec![out.value],
            init,
        });
    }
    Some(Step {
        op: Op::Linear,
        output: Shape::Flat(out.value),
        params: count(w.cx, args, geo::linear_params(features, out.value, bias))?,
        macs: count(w.cx, args, geo::linear_macs(features, out.value))?,
        windows: None,
        kind: "linear".into(),
        tensors,
        rules: [AxisRule::Keep; 2],
    })
}
