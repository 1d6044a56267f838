//! The rules for single layers: one `check_*` function per layer kind, each resolving its
//! arguments to numbers through `stride-geometry` and reporting at the offending token.

use proc_macro2::Span;
use stride_geometry as geo;
use stride_geometry::{GeometryError, Pads, TransposedAxis, Window};

use super::{AXES, Level, Step, Walk};
use crate::args::{self, Args, Num, Pad, Pair};
use crate::ctxt::Ctxt;
use crate::model::{Act, Conv, ConvTranspose, Op, Planned, Pool, Shape, UpsampleMode, Warning};
use crate::parse::{LayerDef, Value};

impl Walk<'_> {
    /// One layer: the rules of its kind, then its place in the receptive field.
    pub(super) fn layer(&mut self, layer: &LayerDef, key: String) -> Option<Planned> {
        let kind = layer.kind.to_string();
        let Some((_, allowed)) = args::KINDS.iter().find(|(name, _)| *name == kind) else {
            let mut names: Vec<&str> = args::KINDS.iter().map(|(n, _)| *n).collect();
            let blocks: Vec<&str> = self.blocks.keys().map(String::as_str).collect();
            names.extend(blocks);
            self.cx
                .error(layer.kind.span(), args::unknown_kind(layer, &names));
            self.shape = None;
            return None;
        };
        let args = args::Args::new(self.cx, layer, allowed);
        let input = self.shape;
        let step = match kind.as_str() {
            "conv2d" => self.check_conv2d(&args, input),
            "conv_transpose2d" => self.check_conv_transpose2d(&args, input),
            "max_pool2d" | "avg_pool2d" => self.check_pool(&args, input),
            "adaptive_avg_pool2d" | "global_avg_pool2d" => self.check_adaptive(&args, input),
            "batch_norm2d" => self.check_batch_norm(&args, input),
            "upsample" => self.check_upsample(&args, input),
            "flatten" => self.check_flatten(&args, input),
            "linear" => self.check_linear(&args, input),
            "dropout" => self.check_dropout(&args, input),
            _ => self.check_activation(&args, input),
        };
        let Some(step) = step else {
            self.shape = None;
            return None;
        };
        self.shape = Some(step.output);
        self.field = match (self.field, step.windows) {
            (Some([h, w]), Some([wh, ww])) => match (h.through(wh), w.through(ww)) {
                (Ok(h), Ok(w)) => Some([h, w]),
                _ => None,
            },
            _ => None,
        };
        Some(Planned {
            name: layer.name.clone(),
            key,
            op: step.op,
            output: step.output,
            params: step.params,
            macs: step.macs,
            field: self.field,
            kind: step.kind,
        })
    }

    fn check_map_input(&mut self, args: &Args, input: Option<Shape>) -> Option<[usize; 3]> {
        match input? {
            Shape::Map(chw) => Some(chw),
            Shape::Flat(f) => {
                let kind = &args.layer.kind;
                self.cx.shape_error(
                    kind.span(),
                    format!(
                        "{}: `{kind}` needs a [C, H, W] input, but the input here is flat: [{f}]",
                        args.label()
                    ),
                );
                None
            }
        }
    }

    /// A required parameter is given.
    fn required<'v>(&mut self, args: &Args<'v>, name: &str) -> Option<&'v Value> {
        let value = args.get_or_positional(self.cx, name);
        if value.is_none() && args.get(name).is_none() && !args.had_unknown {
            self.cx.error(
                args.layer.kind.span(),
                format!("{}: `{}` needs `{name}`", args.label(), args.layer.kind),
            );
        }
        value
    }

    /// A spatial parameter with a default; `min` is its smallest allowed value.
    fn pair_or(&mut self, args: &Args, name: &str, default: usize, min: usize) -> Option<Pair> {
        match args.get(name) {
            Some(value) => args::pair(self.cx, &args.label(), name, value, min),
            None => Some(Pair::default_at(default, args.layer.args_span)),
        }
    }

    fn bool_or(&mut self, args: &Args, name: &str, default: bool) -> Option<bool> {
        match args.get(name) {
            Some(value) => args::boolean(self.cx, &args.label(), name, value),
            None => Some(default),
        }
    }

    fn padding_or_zero(&mut self, args: &Args, modes: bool) -> Option<Pad> {
        match args.get("padding") {
            Some(value) => args::padding(self.cx, &args.label(), value, modes),
            None => Some(Pad {
                value: [geo::Padding::symmetric(0); 2],
                span: args.layer.args_span,
            }),
        }
    }

    /// The out channels (or features) and the stated in channels, each at least 1.
    fn channels(&mut self, args: &Args, what: &str) -> (Option<Num>, Option<Option<Num>>) {
        let label = args.label();
        let out = match args.positional {
            Some(value) => args::positive(self.cx, &label, &format!("out {what}"), value),
            None => {
                self.cx.error(
                    args.layer.kind.span(),
                    format!(
                        "{label}: `{}` needs its out {what} first, as in `{}(64, …)`",
                        args.layer.kind, args.layer.kind
                    ),
                );
                None
            }
        };
        let stated = match args.stated_in {
            Some(value) => args::positive(self.cx, &label, &format!("in {what}"), value).map(Some),
            None => Some(None),
        };
        (out, stated)
    }

    /// Stated input channels (`in => out`) equal what the previous layer produces.
    fn check_stated_in(&mut self, args: &Args, stated: Option<Num>, actual: usize, what: &str) {
        if let Some(stated) = stated {
            if stated.value != actual {
                self.cx.shape_error(
                    stated.span,
                    format!(
                        "{}: states {} input {what}, but its input has {actual}",
                        args.label(),
                        stated.value
                    ),
                );
            }
        }
    }

    /// Groups divide both the input and the output channels.
    fn check_groups(&mut self, args: &Args, groups: Num, cin: usize, cout: usize) -> bool {
        match geo::check_groups(cin, cout, groups.value) {
            Ok(()) => true,
            Err(GeometryError::GroupsDoNotDivide {
                groups,
                channels,
                side,
            }) => {
                let side = match side {
                    geo::Channels::In => "input",
                    geo::Channels::Out => "output",
                };
                self.cx.shape_error(
                    groups_span(args, groups),
                    format!(
                        "{}: groups ({groups}) must divide the {side} channels ({channels}): \
                         {channels} % {groups} = {}",
                        args.label(),
                        channels % groups
                    ),
                );
                false
            }
            Err(e) => {
                self.cx
                    .error(args.layer.kind.span(), format!("{}: {e}", args.label()));
                false
            }
        }
    }

    /// Explicit pads for each axis; PyTorch's `same` needs stride 1.
    fn resolve_pads(
        &mut self,
        args: &Args,
        pad: Pad,
        input: [usize; 2],
        kernel: Pair,
        stride: Pair,
        dilation: Pair,
    ) -> Option<[Pads; 2]> {
        let mut pads = [Pads::default(); 2];
        for axis in 0..2 {
            match geo::resolve_padding(
                pad.value[axis],
                input[axis],
                kernel.value[axis],
                stride.value[axis],
                dilation.value[axis],
            ) {
                Ok(p) => pads[axis] = p,
                Err(GeometryError::SameWithStride { stride }) => {
                    self.cx.shape_error(
                        pad.span,
                        format!(
                            "{}: padding `same` needs stride 1, but the stride is {stride}; \
                             PyTorch refuses it too. Use `same_upper` (TensorFlow's SAME: output \
                             ceil(W / S)) or `same_lower`",
                            args.label()
                        ),
                    );
                    return None;
                }
                Err(e) => {
                    self.cx.shape_error(
                        pad.span,
                        format!("{}: {} padding: {e}", args.label(), AXES[axis]),
                    );
                    return None;
                }
            }
        }
        Some(pads)
    }

    /// A convolution's output is at least 1 on each axis: `(W + Pb + Pe - D*(K-1) - 1) / S + 1`.
    fn check_conv_output(
        &mut self,
        args: &Args,
        input: [usize; 2],
        windows: [Window; 2],
        kernel: Pair,
        pad: &Pad,
    ) -> Option<[usize; 2]> {
        let mut out = [0; 2];
        for axis in 0..2 {
            match geo::conv_output(input[axis], windows[axis]) {
                Ok(o) => out[axis] = o,
                Err(e) => {
                    let fix = padding_fix(input[axis], windows[axis], pad);
                    self.cx.shape_error(
                        kernel.spans[axis],
                        output_message(args, axis, input[axis], windows[axis], e, "", &fix),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    /// `floor_drops_input`: `(W + Pb + Pe - D*(K-1) - 1) % S != 0` leaves the last rows or
    /// columns outside every window.
    fn lint_floor_drops_input(
        &mut self,
        args: &Args,
        input: [usize; 2],
        windows: [Window; 2],
        stride: Pair,
    ) {
        if self.config.floor_drops_input == Level::Allow {
            return;
        }
        for axis in 0..2 {
            let w = windows[axis];
            let dropped = geo::floor_remainder(input[axis], w);
            if dropped != 0 {
                let message = format!(
                    "{}: the last {} of the padded input never reach{} a window: \
                     ({} + {} + {} - {}*({}-1) - 1) % {} = {dropped}",
                    args.label(),
                    match (axis, dropped) {
                        (0, 1) => "row".to_string(),
                        (0, n) => format!("{n} rows"),
                        (_, 1) => "column".to_string(),
                        (_, n) => format!("{n} columns"),
                    },
                    if dropped == 1 { "es" } else { "" },
                    input[axis],
                    w.pad_begin,
                    w.pad_end,
                    w.dilation,
                    w.kernel,
                    w.stride,
                );
                self.lint(
                    stride.spans[axis],
                    "floor_drops_input",
                    self.config.floor_drops_input,
                    message,
                );
                return;
            }
        }
    }

    fn lint(&mut self, span: Span, lint: &'static str, level: Level, message: String) {
        let span = self.cx.shape_span(span);
        match level {
            Level::Allow => {}
            Level::Warn => self.warnings.push(Warning {
                span,
                lint,
                message: format!(
                    "{message} (lint `{lint}`; silence it with #[lints({lint} = allow)])"
                ),
            }),
            Level::Deny => self
                .cx
                .error(span, format!("{message} (lint `{lint}`, denied)")),
        }
    }

    fn check_conv2d(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let label = args.label();
        let (out, stated) = self.channels(args, "channels");
        let kernel = self
            .required(args, "kernel")
            .and_then(|v| args::pair(self.cx, &label, "kernel", v, 1));
        let stride = self.pair_or(args, "stride", 1, 1);
        let dilation = self.pair_or(args, "dilation", 1, 1);
        let pad = self.padding_or_zero(args, true);
        let groups = match args.get("groups") {
            Some(v) => args::positive(self.cx, &label, "groups", v),
            None => Some(Num {
                value: 1,
                span: args.layer.args_span,
            }),
        };
        let bias = self.bool_or(args, "bias", true);
        let [c, h, w] = self.check_map_input(args, input)?;
        let (out, stated, kernel, stride, dilation, pad, groups, bias) = (
            out?, stated?, kernel?, stride?, dilation?, pad?, groups?, bias?,
        );
        self.check_stated_in(args, stated, c, "channels");
        if !self.check_groups(args, groups, c, out.value) {
            return None;
        }
        let pads = self.resolve_pads(args, pad, [h, w], kernel, stride, dilation)?;
        let windows = [0, 1].map(|a| {
            pads[a].apply(
                Window::new(kernel.value[a])
                    .stride(stride.value[a])
                    .dilation(dilation.value[a]),
            )
        });
        let [oh, ow] = self.check_conv_output(args, [h, w], windows, kernel, &pad)?;
        self.lint_floor_drops_input(args, [h, w], windows, stride);
        let conv = Conv {
            in_channels: c,
            out_channels: out.value,
            kernel: kernel.value,
            stride: stride.value,
            dilation: dilation.value,
            pads,
            groups: groups.value,
            bias,
        };
        Some(Step {
            params: count(
                self.cx,
                args,
                geo::conv2d_params(c, out.value, groups.value, kernel.value, bias),
            )?,
            macs: count(
                self.cx,
                args,
                geo::conv2d_macs(c, out.value, groups.value, kernel.value, [oh, ow]),
            )?,
            kind: format!("conv2d {}/{}", hw(kernel.value), hw_short(stride.value)),
            op: Op::Conv2d(conv),
            output: Shape::Map([out.value, oh, ow]),
            windows: Some(windows),
        })
    }

    fn check_conv_transpose2d(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let label = args.label();
        let (out, stated) = self.channels(args, "channels");
        let kernel = self
            .required(args, "kernel")
            .and_then(|v| args::pair(self.cx, &label, "kernel", v, 1));
        let stride = self.pair_or(args, "stride", 1, 1);
        let dilation = self.pair_or(args, "dilation", 1, 1);
        let padding = self.pair_or(args, "padding", 0, 0);
        let output_padding = self.pair_or(args, "output_padding", 0, 0);
        let groups = match args.get("groups") {
            Some(v) => args::positive(self.cx, &label, "groups", v),
            None => Some(Num {
                value: 1,
                span: args.layer.args_span,
            }),
        };
        let bias = self.bool_or(args, "bias", true);
        let axes = match (kernel, stride, dilation, padding, output_padding) {
            (Some(k), Some(s), Some(d), Some(p), Some(op)) => {
                let axes = [0, 1].map(|a| {
                    TransposedAxis::new(k.value[a])
                        .stride(s.value[a])
                        .dilation(d.value[a])
                        .padding(p.value[a])
                        .output_padding(op.value[a])
                });
                self.check_output_padding(args, axes, op)?;
                self.lint_checkerboard(args, k, s);
                Some(axes)
            }
            _ => None,
        };
        let [c, h, w] = self.check_map_input(args, input)?;
        let (out, stated, kernel, groups, bias, axes) =
            (out?, stated?, kernel?, groups?, bias?, axes?);
        self.check_stated_in(args, stated, c, "channels");
        if !self.check_groups(args, groups, c, out.value) {
            return None;
        }
        let mut size = [0; 2];
        for axis in 0..2 {
            match geo::conv_transpose_output([h, w][axis], axes[axis]) {
                Ok(o) => size[axis] = o,
                Err(GeometryError::TransposedOutputBelowOne {
                    input,
                    axis: a,
                    output,
                }) => {
                    let span = args
                        .get("padding")
                        .map(|v| v.span())
                        .unwrap_or(kernel.spans[axis]);
                    self.cx.shape_error(
                        span,
                        format!(
                            "{label}: output {} is {output}: ({input} - 1)*{} - 2*{} + {}*({}-1) + {} + 1 = {output}; \
                             the padding removes more than the layer produces",
                            AXES[axis], a.stride, a.padding, a.dilation, a.kernel, a.output_padding
                        ),
                    );
                    return None;
                }
                Err(e) => {
                    self.cx
                        .error(kernel.spans[axis], format!("{label}: {}: {e}", AXES[axis]));
                    return None;
                }
            }
        }
        let conv = ConvTranspose {
            in_channels: c,
            out_channels: out.value,
            kernel: kernel.value,
            stride: axes.map(|a| a.stride),
            dilation: axes.map(|a| a.dilation),
            padding: axes.map(|a| a.padding),
            output_padding: axes.map(|a| a.output_padding),
            groups: groups.value,
            bias,
        };
        Some(Step {
            params: count(
                self.cx,
                args,
                geo::conv_transpose2d_params(c, out.value, groups.value, kernel.value, bias),
            )?,
            macs: count(
                self.cx,
                args,
                geo::conv_transpose2d_macs(c, out.value, groups.value, kernel.value, [h, w]),
            )?,
            kind: format!(
                "conv_transpose2d {}/{}",
                hw(kernel.value),
                hw_short(conv.stride)
            ),
            op: Op::ConvTranspose2d(conv),
            output: Shape::Map([out.value, size[0], size[1]]),
            windows: None,
        })
    }

    /// A transposed convolution's `output_padding` is smaller than its stride or its dilation.
    fn check_output_padding(
        &mut self,
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
                self.cx.shape_error(op.spans[axis], message);
                return None;
            }
        }
        Some(())
    }

    /// `checkerboard`: a transposed convolution whose kernel is not divisible by its stride
    /// overlaps unevenly and paints a checkerboard (Odena et al., 2016).
    fn lint_checkerboard(&mut self, args: &Args, kernel: Pair, stride: Pair) {
        for axis in 0..2 {
            let (k, s) = (kernel.value[axis], stride.value[axis]);
            if s > 1 && k % s != 0 {
                let message = format!(
                    "{}: kernel {k} is not divisible by stride {s}, so the output overlaps unevenly \
                     and shows checkerboard artifacts (Odena et al., 2016); use kernel {}, or \
                     upsample then convolve",
                    args.label(),
                    k.div_ceil(s) * s
                );
                self.lint(
                    kernel.spans[axis],
                    "checkerboard",
                    self.config.checkerboard,
                    message,
                );
                return;
            }
        }
    }

    fn check_pool(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let label = args.label();
        let max = args.layer.kind == "max_pool2d";
        let kernel = self
            .required(args, "kernel")
            .and_then(|v| args::pair(self.cx, &label, "kernel", v, 1));
        let stride = match (args.get("stride"), kernel) {
            (Some(v), _) => args::pair(self.cx, &label, "stride", v, 1),
            (None, Some(k)) => Some(k),
            (None, None) => None,
        };
        let dilation = if max {
            self.pair_or(args, "dilation", 1, 1)
        } else {
            Some(Pair::default_at(1, args.layer.args_span))
        };
        let pad = self.padding_or_zero(args, true);
        let ceil_mode = self.bool_or(args, "ceil_mode", false);
        let count_include_pad = self.bool_or(args, "count_include_pad", true);
        let divisor_override = match args.get("divisor_override") {
            Some(v) => {
                args::positive(self.cx, &label, "divisor_override", v).map(|n| Some(n.value))
            }
            None => Some(None),
        };
        let [c, h, w] = self.check_map_input(args, input)?;
        let (kernel, stride, dilation, pad, ceil_mode) =
            (kernel?, stride?, dilation?, pad?, ceil_mode?);
        let (count_include_pad, divisor_override) = (count_include_pad?, divisor_override?);
        let pads = self.resolve_pads(args, pad, [h, w], kernel, stride, dilation)?;
        let windows = [0, 1].map(|a| {
            pads[a].apply(
                Window::new(kernel.value[a])
                    .stride(stride.value[a])
                    .dilation(dilation.value[a]),
            )
        });
        self.check_pool_padding(args, windows, &pad)?;
        let mut size = [0; 2];
        for axis in 0..2 {
            match geo::pool_output([h, w][axis], windows[axis], ceil_mode) {
                Ok(o) => size[axis] = o,
                Err(e) => {
                    let round = if ceil_mode { "ceil" } else { "floor" };
                    self.cx.shape_error(
                        kernel.spans[axis],
                        output_message(args, axis, [h, w][axis], windows[axis], e, round, ""),
                    );
                    return None;
                }
            }
        }
        if !ceil_mode {
            self.lint_floor_drops_input(args, [h, w], windows, stride);
        }
        let pool = Pool {
            kernel: kernel.value,
            stride: stride.value,
            dilation: dilation.value,
            pads,
            ceil_mode,
        };
        let name = if max { "max_pool2d" } else { "avg_pool2d" };
        Some(Step {
            kind: format!("{name} {}/{}", hw(kernel.value), hw_short(stride.value)),
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
        })
    }

    /// A pool's padding is at most half its effective kernel, `(D*(K-1)+1) / 2`, and (for
    /// PyTorch's max pooling with dilation) at most half its kernel, `K / 2`.
    fn check_pool_padding(&mut self, args: &Args, windows: [Window; 2], pad: &Pad) -> Option<()> {
        match geo::check_pool_padding_2d(windows) {
            Ok(()) => Some(()),
            Err(e) => {
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
                self.cx.shape_error(pad.span, message);
                None
            }
        }
    }

    fn check_adaptive(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let label = args.label();
        let output = if args.layer.kind == "global_avg_pool2d" {
            Some(Pair::default_at(1, args.layer.args_span))
        } else {
            self.required(args, "output_size")
                .and_then(|v| args::pair(self.cx, &label, "output_size", v, 1))
        };
        let [c, _, _] = self.check_map_input(args, input)?;
        let output = output?;
        Some(Step {
            op: Op::AdaptiveAvgPool2d {
                output: output.value,
            },
            output: Shape::Map([c, output.value[0], output.value[1]]),
            params: 0,
            macs: 0,
            windows: None,
            kind: format!("adaptive_avg_pool2d {}", hw(output.value)),
        })
    }

    fn check_batch_norm(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let label = args.label();
        let stated = match args.positional {
            Some(v) => args::positive(self.cx, &label, "channels", v).map(Some),
            None => Some(None),
        };
        let eps = match args.get("eps") {
            Some(v) => args::real(self.cx, &label, "eps", v, false),
            None => Some(1e-5),
        };
        let [c, h, w] = self.check_map_input(args, input)?;
        self.check_stated_in(args, stated?, c, "channels");
        Some(Step {
            op: Op::BatchNorm2d {
                channels: c,
                eps: eps?,
            },
            output: Shape::Map([c, h, w]),
            params: count(self.cx, args, geo::batch_norm2d_params(c))?,
            macs: 0,
            windows: Some([Window::new(1); 2]),
            kind: "batch_norm2d".into(),
        })
    }

    fn check_activation(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let act = match args.layer.kind.to_string().as_str() {
            "relu" => Act::Relu,
            "relu6" => Act::Relu6,
            "sigmoid" => Act::Sigmoid,
            "tanh" => Act::Tanh,
            "silu" => Act::Silu,
            _ => {
                let slope = match args.get_or_positional(self.cx, "slope") {
                    Some(v) => args::real(self.cx, &args.label(), "slope", v, true)?,
                    None => 0.01,
                };
                Act::LeakyRelu(slope)
            }
        };
        let shape = input?;
        Some(Step {
            op: Op::Activation(act),
            output: shape,
            params: 0,
            macs: 0,
            windows: Some([Window::new(1); 2]),
            kind: args.layer.kind.to_string(),
        })
    }

    fn check_upsample(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let label = args.label();
        let scale = self
            .required(args, "scale")
            .and_then(|v| args::pair(self.cx, &label, "scale", v, 1));
        let mode = match args.get("mode") {
            None => Some(UpsampleMode::Nearest),
            Some(Value::Name(name)) if name == "nearest" => Some(UpsampleMode::Nearest),
            Some(Value::Name(name)) if name == "bilinear" => Some(UpsampleMode::Bilinear),
            Some(Value::Placeholder(_)) => None,
            Some(other) => {
                self.cx.error(
                    other.span(),
                    format!(
                        "{label}: `mode` is `nearest` or `bilinear`, got `{}`",
                        other.text()
                    ),
                );
                None
            }
        };
        let [c, h, w] = self.check_map_input(args, input)?;
        let (scale, mode) = (scale?, mode?);
        let size = [0, 1].map(|a| geo::upsample_output([h, w][a], scale.value[a]).ok());
        let (Some(oh), Some(ow)) = (size[0], size[1]) else {
            self.cx.shape_error(
                scale.spans[0],
                format!("{label}: the upsampled size overflows"),
            );
            return None;
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
            kind: format!(
                "upsample {}x {}",
                hw_short(scale.value),
                if mode == UpsampleMode::Nearest {
                    "nearest"
                } else {
                    "bilinear"
                }
            ),
        })
    }

    fn check_dropout(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        if let Some(p) = args.get_or_positional(self.cx, "p") {
            let p = args::real(self.cx, &args.label(), "p", p, false)?;
            if p >= 1.0 {
                self.cx.error(
                    args.layer.args_span,
                    format!("{}: dropout `p` must be below 1, got {p}", args.label()),
                );
            }
        }
        Some(Step {
            op: Op::Dropout,
            output: input?,
            params: 0,
            macs: 0,
            windows: Some([Window::new(1); 2]),
            kind: "dropout".into(),
        })
    }

    fn check_flatten(&mut self, _args: &Args, input: Option<Shape>) -> Option<Step> {
        let shape = input?;
        Some(Step {
            op: Op::Flatten,
            output: Shape::Flat(shape.numel()),
            params: 0,
            macs: 0,
            windows: Some([Window::new(1); 2]),
            kind: "flatten".into(),
        })
    }

    /// A linear layer takes a flat input, and its stated in-features equal that input's size.
    fn check_linear(&mut self, args: &Args, input: Option<Shape>) -> Option<Step> {
        let (out, stated) = self.channels(args, "features");
        let bias = self.bool_or(args, "bias", true);
        let features = match input? {
            Shape::Flat(f) => f,
            Shape::Map(chw) => {
                self.cx.shape_error(
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
        self.check_stated_in(args, stated, features, "features");
        Some(Step {
            op: Op::Linear {
                in_features: features,
                out_features: out.value,
                bias,
            },
            output: Shape::Flat(out.value),
            params: count(self.cx, args, geo::linear_params(features, out.value, bias))?,
            macs: count(self.cx, args, geo::linear_macs(features, out.value))?,
            windows: None,
            kind: "linear".into(),
        })
    }
}

/// A count, or an overflow error at the layer.
fn count(cx: &mut Ctxt, args: &Args, result: Result<u64, GeometryError>) -> Option<u64> {
    match result {
        Ok(n) => Some(n),
        Err(e) => {
            cx.error(args.layer.name.span(), format!("{}: {e}", args.label()));
            None
        }
    }
}

fn groups_span(args: &Args, _groups: usize) -> Span {
    args.get("groups")
        .map(|v| v.span())
        .unwrap_or(args.layer.args_span)
}

/// The message for an output size below 1, with the arithmetic in the user's numbers.
fn output_message(
    args: &Args,
    axis: usize,
    input: usize,
    w: Window,
    error: GeometryError,
    round: &str,
    fix: &str,
) -> String {
    let output = match error {
        GeometryError::ConvOutputBelowOne { output, .. }
        | GeometryError::PoolOutputBelowOne { output, .. } => output,
        other => return format!("{}: {}: {other}", args.label(), AXES[axis]),
    };
    let pads = if w.pad_begin == w.pad_end {
        format!("2*{}", w.pad_begin)
    } else {
        format!("{} + {}", w.pad_begin, w.pad_end)
    };
    let mut formula = format!(
        "({input} + {pads} - {}*({}-1) - 1) / {}",
        w.dilation, w.kernel, w.stride
    );
    if round == "ceil" {
        formula = format!("ceil({formula})");
    }
    format!(
        "{}: output {} is {output}: {formula} + 1 = {output}; the {}kernel ({}) is larger than \
         the padded input ({}){fix}",
        args.label(),
        AXES[axis],
        if w.dilation > 1 { "effective " } else { "" },
        w.effective_kernel(),
        input + w.pad_begin + w.pad_end,
    )
}

/// `; padding = P would give O` when explicit symmetric padding can fix an output below 1.
fn padding_fix(input: usize, w: Window, pad: &Pad) -> String {
    let explicit = pad
        .value
        .iter()
        .all(|p| matches!(p, geo::Padding::Explicit { begin, end } if begin == end));
    if !explicit {
        return String::new();
    }
    let needed = (w.effective_kernel() - input).div_ceil(2);
    match geo::conv_output(input, w.pads(needed, needed)) {
        Ok(output) => format!("; padding = {needed} would give {output}"),
        Err(_) => String::new(),
    }
}

/// `7x7`, for the summary.
fn hw(v: [usize; 2]) -> String {
    format!("{}x{}", v[0], v[1])
}

/// `2`, or `2x1` when the axes differ.
fn hw_short(v: [usize; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        hw(v)
    }
}
