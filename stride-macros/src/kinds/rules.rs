//! What several kinds share: reading a parameter with its catalog default, and the rules about
//! channels, groups, padding and output sizes that convolutions and pools both follow.

use proc_macro2::Span;
use stride_geometry as geo;
use stride_geometry::{GeometryError, Padding, Window};

use super::DefaultValue;
use crate::args::{self, Args, Num, Pad, Pair};
use crate::check::{AXES, Level, Walk};
use crate::ctxt::Ctxt;
use crate::model::{ANY, Shape, Warning};
use crate::parse::Value;

impl Walk<'_> {
    /// The value given for `name`, by name or positionally where the kind allows; a required
    /// parameter not given is reported.
    fn given<'v>(&mut self, args: &Args<'v>, name: &str) -> Option<&'v Value> {
        let value = args.get_or_positional(self.cx, name);
        if value.is_none()
            && args.get(name).is_none()
            && args.default_of(name) == DefaultValue::Required
            && !args.had_unknown
        {
            self.cx.error(
                args.layer.kind.span(),
                format!("{}: `{}` needs `{name}`", args.label(), args.layer.kind),
            );
        }
        value
    }

    /// Whether `name` was given but refused (given twice): its default must not stand in.
    fn refused(args: &Args, name: &str, value: Option<&Value>) -> bool {
        value.is_none() && args.get(name).is_some()
    }

    /// A spatial parameter (an int or an `(h, w)` pair), each number at least `min`, or its
    /// default.
    pub(crate) fn pair(&mut self, args: &Args, name: &str, min: usize) -> Option<Pair> {
        let value = self.given(args, name);
        if Self::refused(args, name, value) {
            return None;
        }
        match (value, args.default_of(name)) {
            (Some(value), _) => args::pair(self.cx, &args.label(), name, value, min),
            (None, DefaultValue::Int(n)) => Some(Pair::default_at(n, args.layer.args_span)),
            (None, _) => None,
        }
    }

    /// A count of at least 1, or its default.
    pub(crate) fn count_param(&mut self, args: &Args, name: &str) -> Option<Num> {
        let value = self.given(args, name);
        if Self::refused(args, name, value) {
            return None;
        }
        match (value, args.default_of(name)) {
            (Some(value), _) => args::positive(self.cx, &args.label(), name, value),
            (None, DefaultValue::Int(n)) => Some(Num {
                value: n,
                span: args.layer.args_span,
            }),
            (None, _) => None,
        }
    }

    /// `true` or `false`, or the default.
    pub(crate) fn flag(&mut self, args: &Args, name: &str) -> Option<bool> {
        let value = self.given(args, name);
        if Self::refused(args, name, value) {
            return None;
        }
        match (value, args.default_of(name)) {
            (Some(value), _) => args::boolean(self.cx, &args.label(), name, value),
            (None, DefaultValue::Bool(b)) => Some(b),
            (None, _) => None,
        }
    }

    /// A real number (negative only where `negative`), or the default.
    pub(crate) fn real_param(&mut self, args: &Args, name: &str, negative: bool) -> Option<f32> {
        let value = self.given(args, name);
        if Self::refused(args, name, value) {
            return None;
        }
        match (value, args.default_of(name)) {
            (Some(value), _) => args::real(self.cx, &args.label(), name, value, negative),
            (None, DefaultValue::Real(text)) => text.parse().ok(),
            (None, _) => None,
        }
    }

    /// The padding: an int, a pair, explicit pads or (where `modes`) a mode; 0 by default.
    pub(crate) fn padding(&mut self, args: &Args, modes: bool) -> Option<Pad> {
        match args.get("padding") {
            Some(value) => args::padding(self.cx, &args.label(), value, modes),
            None => Some(Pad {
                value: [geo::Padding::symmetric(0); 2],
                span: args.layer.args_span,
            }),
        }
    }

    /// The input as a feature map; a flat input is refused at the layer's kind.
    pub(crate) fn map_input(&mut self, args: &Args, input: Option<Shape>) -> Option<[usize; 3]> {
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

    /// The out channels (or features) and the stated in channels, each at least 1.
    pub(crate) fn channels(
        &mut self,
        args: &Args,
        what: &str,
    ) -> (Option<Num>, Option<Option<Num>>) {
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
    pub(crate) fn check_stated_in(
        &mut self,
        args: &Args,
        stated: Option<Num>,
        actual: usize,
        what: &str,
    ) {
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
    pub(crate) fn check_groups(
        &mut self,
        args: &Args,
        groups: Num,
        cin: usize,
        cout: usize,
    ) -> bool {
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
                    args.get("groups").map_or(args.layer.args_span, Value::span),
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

    /// The padding of each axis: explicit pads where the axis's size is known, the mode as
    /// written where it depends on the input (resolved for each size by the runtime); PyTorch's
    /// `same` needs stride 1.
    pub(crate) fn resolve_pads(
        &mut self,
        args: &Args,
        pad: Pad,
        input: [usize; 2],
        kernel: Pair,
        stride: Pair,
        dilation: Pair,
    ) -> Option<[Padding; 2]> {
        let mut padding = pad.value;
        for axis in 0..2 {
            // A size that depends on the input resolves nothing, but `same` refuses a stride
            // whatever the size.
            let size = if input[axis] == ANY { 1 } else { input[axis] };
            match geo::resolve_padding(
                pad.value[axis],
                size,
                kernel.value[axis],
                stride.value[axis],
                dilation.value[axis],
            ) {
                Ok(_) if input[axis] == ANY => {}
                Ok(p) => {
                    padding[axis] = Padding::Explicit {
                        begin: p.begin,
                        end: p.end,
                    }
                }
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
        Some(padding)
    }

    /// A convolution's output is at least 1 on each axis whose size is known:
    /// `(W + Pb + Pe - D*(K-1) - 1) / S + 1`.
    pub(crate) fn check_conv_output(
        &mut self,
        args: &Args,
        input: [usize; 2],
        windows: [Window; 2],
        kernel: Pair,
        pad: &Pad,
    ) -> Option<[usize; 2]> {
        let mut out = [ANY; 2];
        for axis in 0..2 {
            if input[axis] == ANY {
                continue;
            }
            match geo::conv_output(input[axis], windows[axis]) {
                Ok(o) => out[axis] = o,
                Err(e) => {
                    let fix = padding_fix(input[axis], windows[axis], pad);
                    self.cx
                        .shape_error(kernel.spans[axis], output_message(args, axis, e, &fix));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// `floor_drops_input`: `(W + Pb + Pe - D*(K-1) - 1) % S != 0` leaves the last rows or
    /// columns outside every window.
    pub(crate) fn lint_floor_drops_input(
        &mut self,
        args: &Args,
        input: [usize; 2],
        windows: [Window; 2],
        stride: Pair,
    ) {
        if self.config.floor_drops_input == Level::Allow {
            return;
        }
        for axis in (0..2).filter(|&a| input[a] != ANY) {
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

    /// Reports a lint at `span` as its level says: nothing, a warning, or an error.
    pub(crate) fn lint(&mut self, span: Span, lint: &'static str, level: Level, message: String) {
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
}

/// A count, or an overflow error at the layer.
pub(crate) fn count(cx: &mut Ctxt, args: &Args, result: Result<u64, GeometryError>) -> Option<u64> {
    match result {
        Ok(n) => Some(n),
        Err(e) => {
            cx.error(args.layer.name.span(), format!("{}: {e}", args.label()));
            None
        }
    }
}

/// The message for an output size below 1, with the arithmetic in the user's numbers (the
/// geometry's words, as the runtime and `const` checks give them), and `fix` after it.
pub(crate) fn output_message(args: &Args, axis: usize, error: GeometryError, fix: &str) -> String {
    format!("{}: {}{fix}", args.label(), geo::explain(axis, &error))
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
    let Some(needed) = geo::smallest_padding(input, w) else {
        return String::new();
    };
    match geo::conv_output(input, w.pads(needed, needed)) {
        Ok(output) => format!("; padding = {needed} would give {output}"),
        Err(_) => String::new(),
    }
}

/// `7x7`, for the summary.
pub(crate) fn hw(v: [usize; 2]) -> String {
    format!("{}x{}", v[0], v[1])
}

/// `2`, or `2x1` when the axes differ.
pub(crate) fn hw_short(v: [usize; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        hw(v)
    }
}

/// The windows a layer slides on each axis: its kernel, stride and dilation, between its pads
/// (none for a padding mode, on an axis whose size depends on the input: the receptive field's
/// size and jump do not depend on them).
pub(crate) fn windows(
    kernel: Pair,
    stride: Pair,
    dilation: Pair,
    padding: [Padding; 2],
) -> [Window; 2] {
    [0, 1].map(|a| {
        let window = Window::new(kernel.value[a])
            .stride(stride.value[a])
            .dilation(dilation.value[a]);
        match padding[a] {
            Padding::Explicit { begin, end } => window.pads(begin, end),
            _ => window,
        }
    })
}

/// The same windows without pads, with the padding as written: each axis's size rule.
pub(crate) fn unpadded(kernel: Pair, stride: Pair, dilation: Pair) -> [Window; 2] {
    [0, 1].map(|a| {
        Window::new(kernel.value[a])
            .stride(stride.value[a])
            .dilation(dilation.value[a])
    })
}
