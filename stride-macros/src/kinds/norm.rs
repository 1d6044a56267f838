//! The normalisations and per-channel multiplies: `batch_norm2d`, `layer_norm2d`,
//! `layer_scale`.

use stride_geometry as geo;
use stride_geometry::AxisRule;

use super::Step;
use super::rules::count;
use crate::args::{self, Args};
use crate::check::Walk;
use crate::model::{Init, Op, Shape, TensorSpec};

/// `batch_norm2d(channels, eps)`: PyTorch's `BatchNorm2d` at inference. Stated channels must
/// be the input's.
pub(super) fn check_batch_norm2d(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let stated = match args.positional {
        Some(v) => args::positive(w.cx, &args.label(), "channels", v).map(Some),
        None => Some(None),
    };
    let eps = w.real_param(args, "eps", false);
    let [c, h, width] = w.map_input(args, input)?;
    w.check_stated_in(args, stated?, c, "channels");
    let vector = |name, init| TensorSpec {
        name,
        shape: vec![c],
        init,
    };
    Some(Step {
        op: Op::BatchNorm2d { eps: eps? },
        output: Shape::Map([c, h, width]),
        params: count(w.cx, args, geo::batch_norm2d_params(c))?,
        macs: 0,
        windows: Some([geo::Window::new(1); 2]),
        kind: "batch_norm2d".into(),
        tensors: vec![
            vector("weight", Init::Ones),
            vector("bias", Init::Zeros),
            vector("running_mean", Init::Zeros),
            vector("running_var", Init::Ones),
        ],
        rules: [AxisRule::Keep; 2],
    })
}

/// `layer_norm2d(channels, eps)`: each pixel normalised over its channels, with a weight and a
/// bias per channel (ConvNeXt's `LayerNorm2d`, and its `nn.LayerNorm` between permutes).
/// Stated channels must be the input's.
pub(super) fn check_layer_norm2d(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let stated = match args.positional {
        Some(v) => args::positive(w.cx, &args.label(), "channels", v).map(Some),
        None => Some(None),
    };
    let eps = w.real_param(args, "eps", false);
    let [c, h, width] = w.map_input(args, input)?;
    w.check_stated_in(args, stated?, c, "channels");
    let vector = |name, init| TensorSpec {
        name,
        shape: vec![c],
        init,
    };
    Some(Step {
        op: Op::LayerNorm2d { eps: eps? },
        output: Shape::Map([c, h, width]),
        params: count(w.cx, args, geo::batch_norm2d_params(c))?,
        macs: 0,
        windows: Some([geo::Window::new(1); 2]),
        kind: "layer_norm2d".into(),
        tensors: vec![vector("weight", Init::Ones), vector("bias", Init::Zeros)],
        rules: [AxisRule::Keep; 2],
    })
}

/// `layer_scale(channels)`: each channel multiplied by a learned value, stored under the
/// layer's own key with shape `[C, 1, 1]` (ConvNeXt's `layer_scale` parameter). Stated
/// channels must be the input's.
pub(super) fn check_layer_scale(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let stated = match args.positional {
        Some(v) => args::positive(w.cx, &args.label(), "channels", v).map(Some),
        None => Some(None),
    };
    let [c, h, width] = w.map_input(args, input)?;
    w.check_stated_in(args, stated?, c, "channels");
    Some(Step {
        op: Op::LayerScale,
        output: Shape::Map([c, h, width]),
        params: c as u64,
        macs: 0,
        windows: Some([geo::Window::new(1); 2]),
        kind: "layer_scale".into(),
        // The tensor is the parameter itself: its key is the layer's, with no name after it.
        tensors: vec![TensorSpec {
            name: "",
            shape: vec![c, 1, 1],
            init: Init::Ones,
        }],
        rules: [AxisRule::Keep; 2],
    })
}
