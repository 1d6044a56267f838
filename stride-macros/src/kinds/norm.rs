//! `batch_norm2d`.

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
