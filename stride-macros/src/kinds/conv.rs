//! `conv2d` and `conv_transpose2d`.

use stride_geometry as geo;
use stride_geometry::{AxisRule, GeometryError, TransposedAxis};

use super::Step;
use super::rules::{count, hw, hw_short, output_message, unpadded, windows};
use crate::args::{Args, Pair};
use crate::check::{AXES, Walk};
use crate::model::{ANY, Conv, ConvTranspose, Init, Op, Shape, TensorSpec};

/// `conv2d(out, kernel, stride, padding, dilation, groups, bias)`, PyTorch's `Conv2d`: a
/// feature-map input whose channels are any stated ones, groups dividing both channel counts,
/// and an output of at least 1 on each axis.
pub(super) fn check_conv2d(w: &mut Walk, args: &Args, input: Option<Shape>) -> Option<Step> {
    let (out, stated) = w.channels(args, "channels");
    let kernel = w.pair(args, "kernel", 1);
    let stride = w.pair(args, "stride", 1);
    let dilation = w.pair(args, "dilation", 1);
    let pad = w.padding(args, true);
    let groups = w.count_param(args, "groups");
    let bias = w.flag(args, "bias");
    let [c, h, width] = w.map_input(args, input)?;
    let (out, stated, kernel, stride, dilation, pad, groups, bias) = (
        out?, stated?, kernel?, stride?, dilation?, pad?, groups?, bias?,
    );
    w.check_stated_in(args, stated, c, "channels");
    if !w.check_groups(args, groups, c, out.value) {
        return None;
    }
    let padding = w.resolve_pads(args, pad, [h, width], kernel, stride, dilation)?;
    let windows = windows(kernel, stride, dilation, padding);
    let [oh, ow] = w.check_conv_output(args, [h, width], windows, kernel, &pad)?;
    w.lint_floor_drops_input(args, [h, width], windows, stride);
    let (cout, groups) = (out.value, groups.value);
    let weight = count_shape(
        w,
        args,
        geo::conv2d_weight_shape(c, cout, groups, kernel.value),
    )?;
    let rules = [0, 1].map(|a| AxisRule::Conv {
        window: unpadded(kernel, stride, dilation)[a],
        padding: pad.value[a],
    });
    Some(Step {
        params: count(
            w.cx,
            args,
            geo::conv2d_params(c, cout, groups, kernel.value, bias),
        )?,
        macs: count(
            w.cx,
            args,
            geo::conv2d_macs(c, cout, groups, kernel.value, [oh, ow]),
        )?,
        kind: format!("conv2d {}/{}", hw(kernel.value), hw_short(stride.value)),
        op: Op::Conv2d(Conv {
            kernel: kernel.value,
            stride: stride.value,
            dilation: dilation.value,
            padding,
            groups,
        }),
        output: Shape::Map([cout, oh, ow]),
        windows: Some(windows),
        tensors: weight_and_bias(weight.to_vec(), bias, cout),
        rules,
    })
}

/// `conv_transpose2d(out, kernel, stride, padding, output_padding, dilation, groups, bias)`,
/// PyTorch's `ConvTranspose2d`: `output_padding` below the stride or the dilation, groups
/// dividing both channel counts, and an output of at least 1 on each axis.
pub(super) fn check_conv_transpose2d(
    w: &mut Walk,
    args: &Args,
    input: Option<Shape>,
) -> Option<Step> {
    let label = args.label();
    let (out, stated) = w.channels(args, "channels");
    let kernel = w.pair(args, "kernel", 1);
    let stride = w.pair(args, "stride", 1);
    let dilation = w.pair(args, "dilation", 1);
    let padding = w.pair(args, "padding", 0);
    let output_padding = w.pair(args, "output_padding", 0);
    let groups = w.count_param(args, "groups");
    let bias = w.flag(args, "bias");
    let axes = match (kernel, stride, dilation, padding, output_padding) {
        (Some(k), Some(s), Some(d), Some(p), Some(op)) => {
            let axes = [0, 1].map(|a| {
                TransposedAxis::new(k.value[a])
                    .stride(s.value[a])
                    .dilation(d.value[a])
                    .padding(p.value[a])
                    .output_padding(op.value[a])
            });
            check_output_padding(w, args, axes, op)?;
            lint_checkerboard(w, args, k, s);
            Some(axes)
        }
        _ => None,
    };
    let [c, h, width] = w.map_input(args, input)?;
    let (out, stated, kernel, groups, bias, axes) = (out?, stated?, kernel?, groups?, bias?, axes?);
    w.check_stated_in(args, stated, c, "channels");
    if !w.check_groups(args, groups, c, out.value) {
        return None;
    }
    let mut size = [ANY; 2];
    for axis in (0..2).filter(|&a| [h, width][a] != ANY) {
        match geo::conv_transpose_output([h, width][axis], axes[axis]) {
            Ok(o) => size[axis] = o,
            Err(e @ GeometryError::TransposedOutputBelowOne { .. }) => {
                let span = args.get("padding").map_or(kernel.spans[axis], |v| v.span());
                w.cx.shape_error(span, output_message(args, axis, e, ""));
                return None;
            }
            Err(e) => {
                w.cx.error(kernel.spans[axis], format!("{label}: {}: {e}", AXES[axis]));
                return None;
            }
        }
    }
    let (cout, groups) = (out.value, groups.value);
    let weight = count_shape(
        w,
        args,
        geo::conv_transpose2d_weight_shape(c, cout, groups, kernel.value),
    )?;
    Some(Step {
        params: count(
            w.cx,
            args,
            geo::conv_transpose2d_params(c, cout, groups, kernel.value, bias),
        )?,
        macs: count(
            w.cx,
            args,
            geo::conv_transpose2d_macs(c, cout, groups, kernel.value, [h, width]),
        )?,
        kind: format!(
            "conv_transpose2d {}/{}",
            hw(kernel.value),
            hw_short(axes.map(|a| a.stride))
        ),
        op: Op::ConvTranspose2d(ConvTranspose {
            stride: axes.map(|a| a.stride),
            dilation: axes.map(|a| a.dilation),
            padding: axes.map(|a| a.padding),
            output_padding: axes.map(|a| a.output_padding),
            groups,
        }),
        output: Shape::Map([cout, size[0], size[1]]),
        windows: None,
        tensors: weight_and_bias(weight.to_vec(), bias, cout),
        rules: axes.map(AxisRule::Transposed),
    })
}

/// A weight shape, or the geometry's refusal at the layer.
fn count_shape(
    w: &mut Walk,
    args: &Args,
    shape: Result<[usize; 4], GeometryError>,
) -> Option<[usize; 4]> {
    match shape {
        Ok(shape) => Some(shape),
        Err(e) => {
            w.cx.error(args.layer.kind.span(), format!("{}: {e}", args.label()));
            None
        }
    }
}

/// A convolution's tensors: the weight (Kaiming normal, fan out, as torchvision initialises
/// convolutions), and a bias at zero if it has one.
fn weight_and_bias(weight: Vec<usize>, bias: bool, out: usize) -> Vec<TensorSpec> {
    let mut tensors = vec![TensorSpec {
        name: "weight",
        shape: weight,
        init: Init::KaimingNormalFanOut,
    }];
    if bias {
        tensors.push(TensorSpec {
            name: "bias",
            shape: vec![out],
            init: Init::Zeros,
        });
    }
    tensors
}

/// A transposed convolution's `output_padding` is smaller than its stride or its dilation.
fn check_output_padding(
    w: &mut Walk,
    args: &Args,
    axes: [TransposedAxis; 2],
    op: Pair,
) -> Option<()> {
    for axis in 0..2 {
        if let Err(e) = axes[axis].check() {
            let message = match e {
                GeometryError::OutputPaddingTooLarge {
                    output_padding,
                    stride,
                    dilation,
                } => format!(
                    "{}: output_padding ({output_padding}) must be smaller than the stride ({stride}) \
                     or the dilation ({dilation}) on the {} axis",
                    args.label(),
                    AXES[axis]
                ),
                other => format!("{}: {}: {other}", args.label(), AXES[axis]),
            };
            w.cx.shape_error(op.spans[axis], message);
            return None;
        }
    }
    Some(())
}

/// `checkerboard`: a transposed convolution whose kernel is not divisible by its stride
/// overlaps unevenly and paints a checkerboard (Odena et al., 2016).
fn lint_checkerboard(w: &mut Walk, args: &Args, kernel: Pair, stride: Pair) {
    for axis in 0..2 {
        let (k, s) = (kernel.value[axis], stride.value[axis]);
        let fix = geo::checkerboard_free_kernel(k, s);
        if fix == Some(k) {
            continue;
        }
        let fix = fix.map_or(String::new(), |f| format!("use kernel {f}, or "));
        let message = format!(
            "{}: kernel {k} is not divisible by stride {s}, so the output overlaps unevenly \
             and shows checkerboard artifacts (Odena et al., 2016); {fix}upsample then convolve",
            args.label(),
        );
        let level = w.config.checkerboard;
        w.lint(kernel.spans[axis], "checkerboard", level, message);
        return;
    }
}
