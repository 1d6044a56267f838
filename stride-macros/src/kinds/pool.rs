//! `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d` and `global_avg_pool2d`.

use stride_geometry as geo;
use stride_geometry::{AxisRule, GeometryError, Window};

use super::Step;
use super::rules::{hw, hw_short, output_message, unpadded, windows};
use crate::args::{self, Args, Pad, Pair};
use crate::check::Walk;
use crate::model::{ANY, Op, Pool, Shape};

/// `max_pool2d(kernel, stride, padding, dilation, ceil_mode)`, PyTorch's `MaxPool2d`: the
/// sliding pools' rules ([`check_pool`]).
pub(super) fn check_max_pool2d(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    check_pool(w, args, input, true)
}

/// `avg_pool2d(kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)`,
/// PyTorch's `AvgPool2d`: the sliding pools' rules ([`check_pool`]), without dilation.
pub(super) fn check_avg_pool2d(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    check_pool(w, args, input, false)
}

/// The rules both sliding pools follow: the stride defaults to the kernel, the padding is at
/// most half the kernel, and the output is at least 1.
fn check_pool(w: &mut Walk, args: &Args, input: Option<Shape>, max: bool) -> Option<Step> {
    let kernel = w.pair(args, "kernel", 1);
    let stride = match (args.get("stride"), kernel) {
        (Some(_), _) => w.pair(args, "stride", 1),
        (None, kernel) => kernel,
    };
    let dilation = if max {
        w.pair(args, "dilation", 1)
    } else {
        Some(Pair::default_at(1, args.layer.args_span))
    };
    let pad = w.padding(args, true);
    let ceil_mode = w.flag(args, "ceil_mode");
    let (count_include_pad, divisor_override) = if max {
        (Some(true), Some(None))
    } else {
        let divisor = match args.get("divisor_override") {
            Some(v) => {
                args::positive(w.cx, &args.label(), "divisor_override", v).map(|n| Some(n.value))
            }
            None => Some(None),
        };
        (w.flag(args, "count_include_pad"), divisor)
    };
    let [c, h, width] = w.map_input(args, input)?;
    let (kernel, stride, dilation, pad, ceil_mode) =
        (kernel?, stride?, dilation?, pad?, ceil_mode?);
    let (count_include_pad, divisor_override) = (count_include_pad?, divisor_override?);
    let padding = w.resolve_pads(args, pad, [h, width], kernel, stride, dilation)?;
    let windows = windows(kernel, stride, dilation, padding);
    check_pool_padding(w, args, windows, &pad)?;
    let mut size = [ANY; 2];
    for axis in (0..2).filter(|&a| [h, width][a] != ANY) {
        match geo::pool_output([h, width][axis], windows[axis], ceil_mode) {
            Ok(o) => size[axis] = o,
            Err(e) => {
                w.cx.shape_error(kernel.spans[axis], output_message(args, axis, e, ""));
                return None;
            }
        }
    }
    if !ceil_mode {
        w.lint_floor_drops_input(args, [h, width], windows, stride);
    }
    let pool = Pool {
        kernel: kernel.value,
        stride: stride.value,
        dilation: dilation.value,
        padding,
        ceil_mode,
    };
    let rules = [0, 1].map(|a| AxisRule::Pool {
        window: unpadded(kernel, stride, dilation)[a],
        padding: pad.value[a],
        ceil_mode,
    });
    let name = if max { "max_pool2d" } else { "avg_pool2d" };
    Some(Step {
        kind: format!("{name} {}/{}", hw(pool.kernel), hw_short(pool.stride)),
        op: if max {
            Op::MaxPool2d(pool)
        } else {
            Op::AvgPool2d {
                pool,
                count_include_pad,
                divisor_override,
            }
        },
        output: Shape::Map([c, size[0], size[1]]),
        params: 0,
        macs: 0,
        windows: Some(windows),
        tensors: Vec::new(),
        rules,
    })
}

/// A pool's padding is at most half its effective kernel, `(D*(K-1)+1) / 2`, and (for
/// PyTorch's max pooling with dilation) at most half its kernel, `K / 2`.
fn check_pool_padding(w: &mut Walk, args: &Args, windows: [Window; 2], pad: &Pad) -> Option<()> {
    let Err(e) = geo::check_pool_padding_2d(windows) else {
        return Some(());
    };
    let message = match e {
        GeometryError::PoolPaddingAboveHalfEffectiveKernel {
            padding,
            kernel,
            dilation,
            limit,
        } => format!(
            "{}: padding ({padding}) is more than half the effective kernel: \
             ({dilation}*({kernel}-1) + 1) / 2 = {limit}",
            args.label()
        ),
        GeometryError::PoolPaddingAboveHalfKernel {
            padding,
            kernel,
            limit,
        } => format!(
            "{}: padding ({padding}) is more than half the kernel: {kernel} / 2 = {limit}; \
             PyTorch's max pooling limits it to half the kernel before dilation",
            args.label()
        ),
        other => format!("{}: {other}", args.label()),
    };
    w.cx.shape_error(pad.span, message);
    None
}

/// `adaptive_avg_pool2d(output_size)`, PyTorch's `AdaptiveAvgPool2d`: a feature map of any
/// size to an output size of at least 1.
pub(super) fn check_adaptive_avg_pool2d(
    w: &mut Walk,
    args: &Args,
    input: Option<Shape>,
) -> Option<Step> {
    let output = w.pair(args, "output_size", 1);
    adaptive(w, args, input, output)
}

/// `global_avg_pool2d`: a feature map of any size to 1x1.
pub(super) fn check_global_avg_pool2d(
    w: &mut Walk,
    args: &Args,
    input: Option<Shape>,
) -> Option<Step> {
    let output = Some(Pair::default_at(1, args.layer.args_span));
    adaptive(w, args, input, output)
}

fn adaptive(w: &mut Walk, args: &Args, input: Option<Shape>, output: Option<Pair>) -> Option<Step> {
    let [c, _, _] = w.map_input(args, input)?;
    let output = output?.value;
    Some(Step {
        op: Op::AdaptiveAvgPool2d { output },
        output: Shape::Map([c, output[0], output[1]]),
        params: 0,
        macs: 0,
        windows: None,
        kind: format!("adaptive_avg_pool2d {}", hw(output)),
        tensors: Vec::new(),
        rules: output.map(AxisRule::Fixed),
    })
}
