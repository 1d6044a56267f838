//! `linear`, and `pixel_linear`: a linear layer on each pixel's channels.

use stride_geometry as geo;
use stride_geometry::AxisRule;

use super::Step;
use super::rules::count;
use crate::args::Args;
use crate::check::Walk;
use crate::model::{ANY, Conv, Init, Op, Shape, TensorSpec};

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

/// `pixel_linear(out)`: a linear layer applied to each pixel's channels, with torchvision's
/// `nn.Linear` weight `[out, in]` (ConvNeXt's `block.3` and `block.5`, between two permutes).
/// It runs as a 1x1 convolution. Its input is a feature map; stated in-features equal its
/// channels.
pub(super) fn check_pixel_linear(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let (out, stated) = w.channels(args, "features");
    let bias = w.flag(args, "bias");
    let [c, h, width] = match input? {
        Shape::Map(chw) => chw,
        Shape::Flat(f) => {
            w.cx.shape_error(
                args.layer.kind.span(),
                format!(
                    "{}: `pixel_linear` applies a linear layer to each pixel's channels, but its \
                     input is flat ([{f}]); use `linear` on a flat input",
                    args.label()
                ),
            );
            return None;
        }
    };
    let (out, stated, bias) = (out?, stated?, bias?);
    w.check_stated_in(args, stated, c, "features");
    let init = Init::Uniform { fan_in: c };
    let mut tensors = vec![TensorSpec {
        name: "weight",
        shape: geo::linear_weight_shape(c, out.value).to_vec(),
        init,
    }];
    if bias {
        tensors.push(TensorSpec {
            name: "bias",
            shape: vec![out.value],
            init,
        });
    }
    let macs = if h == ANY || width == ANY {
        // Counted at the smallest input the network takes, as the network's other layers are.
        0
    } else {
        count(
            w.cx,
            args,
            geo::conv2d_macs(c, out.value, 1, [1, 1], [h, width]),
        )?
    };
    Some(Step {
        op: Op::Conv2d(Conv {
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            padding: [geo::Padding::symmetric(0); 2],
            groups: 1,
        }),
        output: Shape::Map([out.value, h, width]),
        params: count(w.cx, args, geo::linear_params(c, out.value, bias))?,
        macs,
        windows: Some([geo::Window::new(1); 2]),
        kind: "pixel_linear".into(),
        tensors,
        rules: [AxisRule::Keep; 2],
    })
}
