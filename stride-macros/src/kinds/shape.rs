//! The kinds that move values without weights: `upsample`, `flatten`, `dropout`, `identity`.

use stride_geometry as geo;
use stride_geometry::AxisRule;

use super::Step;
use super::rules::hw_short;
use crate::args::{self, Args};
use crate::check::Walk;
use crate::model::{ANY, Op, Shape, UpsampleMode};
use crate::parse::Value;

/// `upsample(scale, mode)`: an integer scale per axis, nearest or bilinear; the upsampled size
/// fits in `usize`.
pub(super) fn check_upsample(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let label = args.label();
    let scale = w.pair(args, "scale", 1);
    let mode = match args.get("mode") {
        None => Some(UpsampleMode::Nearest),
        Some(Value::Name(name)) if name == "nearest" => Some(UpsampleMode::Nearest),
        Some(Value::Name(name)) if name == "bilinear" => Some(UpsampleMode::Bilinear),
        Some(Value::Placeholder(_)) => None,
        Some(other) => {
            w.cx.error(
                other.span(),
                format!(
                    "{label}: `mode` is `nearest` or `bilinear`, got `{}`",
                    other.text()
                ),
            );
            None
        }
    };
    let [c, h, width] = w.map_input(args, input)?;
    let (scale, mode) = (scale?, mode?);
    let size = [0, 1].map(|a| match [h, width][a] {
        ANY => Some(ANY),
        size => geo::upsample_output(size, scale.value[a]).ok(),
    });
    let (Some(oh), Some(ow)) = (size[0], size[1]) else {
        w.cx.shape_error(
            scale.spans[0],
            format!("{label}: the upsampled size overflows"),
        );
        return None;
    };
    let mode_name = match mode {
        UpsampleMode::Nearest => "nearest",
        UpsampleMode::Bilinear => "bilinear",
    };
    Some(Step {
        op: Op::Upsample {
            scale: scale.value,
            mode,
        },
        output: Shape::Map([c, oh, ow]),
        params: 0,
        macs: 0,
        windows: None,
        kind: format!("upsample {}x {mode_name}", hw_short(scale.value)),
        tensors: Vec::new(),
        rules: scale.value.map(AxisRule::Scale),
    })
}

/// `dropout(p)`: nothing at inference; `p` is below 1.
pub(super) fn check_dropout(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    if let Some(p) = args.get_or_positional(w.cx, "p") {
        let p = args::real(w.cx, &args.label(), "p", p, false)?;
        if p >= 1.0 {
            w.cx.error(
                args.layer.args_span,
                format!("{}: dropout `p` must be below 1, got {p}", args.label()),
            );
        }
    }
    Some(Step::pointwise(Op::Dropout, input?, "dropout"))
}

/// `stochastic_depth(p, mode)`: nothing at inference (torchvision's `StochasticDepth`); `p`
/// is a probability and `mode` is `row` or `batch`.
pub(super) fn check_stochastic_depth(
    w: &mut Walk,
    args: &Args,
    input: Option<Shape>,
) -> Option<Step> {
    if let Some(p) = args.get_or_positional(w.cx, "p") {
        let p = args::real(w.cx, &args.label(), "p", p, false)?;
        if p > 1.0 {
            w.cx.error(
                args.layer.args_span,
                format!(
                    "{}: stochastic depth `p` is a probability, at most 1, got {p}",
                    args.label()
                ),
            );
        }
    }
    match args.get("mode") {
        None | Some(Value::Placeholder(_)) => {}
        Some(Value::Name(name)) if name == "row" || name == "batch" => {}
        Some(other) => w.cx.error(
            other.span(),
            format!(
                "{}: `mode` is `row` or `batch`, got `{}`",
                args.label(),
                other.text()
            ),
        ),
    }
    Some(Step::pointwise(Op::Identity, input?, "stochastic_depth"))
}

/// `flatten`: `[C, H, W]` to `[C*H*W]`, whose size fits in `usize`.
pub(super) fn check_flatten(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let output = match input? {
        // A feature map whose size depends on the input flattens to a size that does too.
        Shape::Map([_, h, width]) if h == ANY || width == ANY => Shape::Flat(ANY),
        Shape::Map([c, h, width]) => {
            let Some(f) = c.checked_mul(h).and_then(|ch| ch.checked_mul(width)) else {
                w.cx.shape_error(
                    args.layer.kind.span(),
                    format!(
                        "{}: {c}*{h}*{width} values do not fit in a usize",
                        args.label()
                    ),
                );
                return None;
            };
            Shape::Flat(f)
        }
        flat @ Shape::Flat(_) => flat,
    };
    Some(Step::pointwise(Op::Flatten, output, "flatten"))
}

/// `identity`: its input, unchanged (a concat branch that passes the input through).
pub(super) fn check_identity(_: &mut Walk, _: &Args, input: Option<Shape>) -> Option<Step> {
    Some(Step::pointwise(Op::Identity, input?, "identity"))
}
