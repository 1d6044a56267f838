//! Messages written at compile time: a fixed buffer that `const fn`s append text and numbers
//! to, so that a size checked in a constant can fail with the arithmetic in the user's numbers,
//! and the words for each refusal, shared by the macro, the runtime and those constants.

use crate::{Channels, GeometryError, TransposedAxis, Window};

/// Room for one message; what does not fit is cut (and ends in `…`).
const CAPACITY: usize = 768;

/// A message built by `const fn`s.
///
/// ```
/// use stride_geometry::Text;
///
/// const T: Text = Text::new().push("at ").number(250).push("x").number(250);
/// assert_eq!(T.as_str(), "at 250x250");
/// ```
#[derive(Clone, Copy)]
pub struct Text {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Text {
    /// An empty message.
    pub const fn new() -> Self {
        Text {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    /// The message with `s` appended.
    pub const fn push(mut self, s: &str) -> Self {
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if self.len == CAPACITY {
                return self.cut();
            }
            self.bytes[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// The message with `n` appended in decimal.
    pub const fn number(self, n: usize) -> Self {
        self.integer(n as i128)
    }

    /// The message with `n` appended in decimal, with its sign.
    pub const fn integer(mut self, n: i128) -> Self {
        if n < 0 {
            self = self.push("-");
        }
        let mut magnitude = n.unsigned_abs();
        let mut digits = [0u8; 40];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (magnitude % 10) as u8;
            count += 1;
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        while count > 0 {
            count -= 1;
            if self.len == CAPACITY {
                return self.cut();
            }
            self.bytes[self.len] = digits[count];
            self.len += 1;
        }
        self
    }

    /// The message with `other` appended.
    pub const fn append(self, other: &Text) -> Self {
        self.push(other.as_str())
    }

    /// A full message whose last characters make way for `…`, on a character boundary.
    const fn cut(mut self) -> Self {
        let ellipsis = "…".as_bytes();
        let mut len = CAPACITY - ellipsis.len();
        // Back to the start of a character: continuation bytes are 0b10xx_xxxx.
        while len > 0 && self.bytes[len] & 0xC0 == 0x80 {
            len -= 1;
        }
        let mut i = 0;
        while i < ellipsis.len() {
            self.bytes[len + i] = ellipsis[i];
            i += 1;
        }
        self.len = len + ellipsis.len();
        self
    }

    /// The message.
    pub const fn as_str(&self) -> &str {
        let (text, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(text) {
            Ok(s) => s,
            // Only whole `&str`s and ASCII digits are written, and a cut keeps characters
            // whole, so the bytes are UTF-8.
            Err(_) => "",
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::new()
    }
}

impl core::fmt::Debug for Text {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for Text {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of axis `axis` (0 or 1) in messages.
pub const fn axis_name(axis: usize) -> &'static str {
    if axis == 0 { "height" } else { "width" }
}

/// Why a layer refused the size on `axis` that reached it, in words and the user's numbers:
/// `output height is 0: (4 + 2*0 - 1*(5-1) - 1) / 1 + 1 = 0; the kernel (5) is larger than the
/// padded input (4)`.
///
/// ```
/// use stride_geometry::{conv_output, explain, Window};
///
/// let error = conv_output(4, Window::new(5)).unwrap_err();
/// assert_eq!(
///     explain(0, &error).as_str(),
///     "output height is 0: (4 + 2*0 - 1*(5-1) - 1) / 1 + 1 = 0; the kernel (5) is larger than the padded input (4)"
/// );
/// ```
pub const fn explain(axis: usize, error: &GeometryError) -> Text {
    explain_as(axis_name(axis), error)
}

/// [`explain`], naming the axis `axis`.
const fn explain_as(axis: &str, error: &GeometryError) -> Text {
    let out = Text::new().push("output ").push(axis).push(" is ");
    match *error {
        GeometryError::ConvOutputBelowOne {
            input,
            window: w,
            output,
        }
        | GeometryError::PoolOutputBelowOne {
            input,
            window: w,
            output,
            ..
        } => {
            let ceil = matches!(
                error,
                GeometryError::PoolOutputBelowOne {
                    ceil_mode: true,
                    ..
                }
            );
            let t = window_arithmetic(out.integer(output).push(": "), input, w, ceil);
            let padded = input as i128 + w.pad_begin as i128 + w.pad_end as i128;
            t.push(" = ")
                .integer(output)
                .push("; the ")
                .push(if w.dilation > 1 { "effective " } else { "" })
                .push("kernel (")
                .number(w.effective_kernel())
                .push(") is larger than the padded input (")
                .integer(padded)
                .push(")")
        }
        GeometryError::TransposedOutputBelowOne {
            input,
            axis: a,
            output,
        } => transposed_arithmetic(out.integer(output).push(": "), input, a)
            .push(" = ")
            .integer(output)
            .push("; the padding removes more than the layer produces"),
        _ => Text::new().push(axis).push(": ").append(&describe(error)),
    }
}

/// `t` with the output-size formula of a convolution or pool written out in the user's
/// numbers, up to its `= output`: `(31 + 2*0 - 1*(2-1) - 1) / 2 + 1`, in `ceil(..)` for a
/// pool that rounds up.
pub(crate) const fn window_arithmetic(t: Text, input: usize, w: Window, ceil: bool) -> Text {
    let mut t = t;
    if ceil {
        t = t.push("ceil(");
    }
    t = t.push("(").number(input).push(" + ");
    t = if w.pad_begin == w.pad_end {
        t.push("2*").number(w.pad_begin)
    } else {
        t.number(w.pad_begin).push(" + ").number(w.pad_end)
    };
    t = t
        .push(" - ")
        .number(w.dilation)
        .push("*(")
        .number(w.kernel)
        .push("-1) - 1) / ")
        .number(w.stride);
    if ceil {
        t = t.push(")");
    }
    t.push(" + 1")
}

/// `t` with the output-size formula of a transposed convolution written out in the user's
/// numbers, up to its `= output`: `(14 - 1)*2 - 2*1 + 1*(3-1) + 0 + 1`.
pub(crate) const fn transposed_arithmetic(t: Text, input: usize, a: TransposedAxis) -> Text {
    t.push("(")
        .number(input)
        .push(" - 1)*")
        .number(a.stride)
        .push(" - 2*")
        .number(a.padding)
        .push(" + ")
        .number(a.dilation)
        .push("*(")
        .number(a.kernel)
        .push("-1) + ")
        .number(a.output_padding)
        .push(" + 1")
}

/// A refusal in words, as `Display` gives it, for `const` contexts.
///
/// ```
/// use stride_geometry::{describe, GeometryError, Param};
///
/// let error = GeometryError::Zero(Param::Stride);
/// assert_eq!(describe(&error).as_str(), error.to_string());
/// ```
pub const fn describe(error: &GeometryError) -> Text {
    let t = Text::new();
    match *error {
        GeometryError::Zero(param) => t.push(param.name()).push(" must be at least 1, got 0"),
        GeometryError::PoolPaddingAboveHalfEffectiveKernel {
            padding,
            kernel,
            dilation,
            limit,
        } => t
            .push("padding (")
            .number(padding)
            .push(") is more than half the effective kernel: (")
            .number(dilation)
            .push("*(")
            .number(kernel)
            .push("-1) + 1) / 2 = ")
            .number(limit),
        GeometryError::PoolPaddingAboveHalfKernel {
            padding,
            kernel,
            limit,
        } => t
            .push("padding (")
            .number(padding)
            .push(") is more than half the kernel: ")
            .number(kernel)
            .push(" / 2 = ")
            .number(limit),
        GeometryError::OutputPaddingTooLarge {
            output_padding,
            stride,
            dilation,
        } => t
            .push("output_padding (")
            .number(output_padding)
            .push(") must be smaller than the stride (")
            .number(stride)
            .push(") or the dilation (")
            .number(dilation)
            .push(")"),
        GeometryError::SameWithStride { stride } => t
            .push("padding `same` needs stride 1, got ")
            .number(stride)
            .push("; `same_upper` or `same_lower` work with any stride"),
        GeometryError::GroupsDoNotDivide {
            groups,
            channels,
            side,
        } => t
            .push("groups (")
            .number(groups)
            .push(") must divide the ")
            .push(match side {
                Channels::In => "input",
                Channels::Out => "output",
            })
            .push(" channels (")
            .number(channels)
            .push(")"),
        GeometryError::Overflow => {
            t.push("a size, parameter count or MAC count is beyond the largest `usize`")
        }
        GeometryError::InputNotExactly { input, want } => t
            .push("the size here is ")
            .number(input)
            .push(", but it must be ")
            .number(want),
        GeometryError::ConvOutputBelowOne { .. }
        | GeometryError::PoolOutputBelowOne { .. }
        | GeometryError::TransposedOutputBelowOne { .. } => explain_as("size", error),
    }
}
