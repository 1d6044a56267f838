use core::fmt;

use crate::{TransposedAxis, Window};

/// A parameter that must not be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// The input size along an axis.
    Input,
    /// A kernel size.
    Kernel,
    /// A stride.
    Stride,
    /// A dilation.
    Dilation,
    /// A channel or feature count.
    Channels,
    /// A group count.
    Groups,
    /// An upsampling scale factor.
    Scale,
}

impl Param {
    /// The parameter's name as a user writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Param::Input => "input size",
            Param::Kernel => "kernel",
            Param::Stride => "stride",
            Param::Dilation => "dilation",
            Param::Channels => "channels",
            Param::Groups => "groups",
            Param::Scale => "scale factor",
        }
    }
}

/// Which side of a layer a channel count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channels {
    /// Input channels.
    In,
    /// Output channels.
    Out,
}

/// Why a layer's geometry was refused. Each refusal carries the numbers that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GeometryError {
    /// A kernel, stride, dilation, input size, channel or group count of zero.
    Zero(Param),
    /// A convolution whose output size is below 1: the effective kernel `D*(K-1)+1` is larger
    /// than the padded input.
    ConvOutputBelowOne {
        /// Input size.
        input: usize,
        /// The window along this axis.
        window: Window,
        /// The output size the formula gives (below 1).
        output: i128,
    },
    /// A pool whose output size is below 1.
    PoolOutputBelowOne {
        /// Input size.
        input: usize,
        /// The window along this axis.
        window: Window,
        /// Whether the pool rounds up.
        ceil_mode: bool,
        /// The output size the formula gives (below 1).
        output: i128,
    },
    /// A transposed convolution whose output size is below 1.
    TransposedOutputBelowOne {
        /// Input size.
        input: usize,
        /// The layer along this axis.
        axis: TransposedAxis,
        /// The output size the formula gives (below 1).
        output: i128,
    },
    /// A pool whose padding is more than half its effective kernel:
    /// `pad <= (D*(K-1)+1) / 2` must hold (integer division).
    PoolPaddingAboveHalfEffectiveKernel {
        /// The padding on the offending side.
        padding: usize,
        /// Kernel size.
        kernel: usize,
        /// Dilation.
        dilation: usize,
        /// The largest padding allowed.
        limit: usize,
    },
    /// A pool whose padding is more than half its (undilated) kernel: `pad <= K / 2`.
    /// PyTorch's max pooling applies this rule after the effective-kernel one, so with
    /// dilation it is the stricter of the two.
    PoolPaddingAboveHalfKernel {
        /// The padding on the offending side.
        padding: usize,
        /// Kernel size.
        kernel: usize,
        /// The largest padding allowed.
        limit: usize,
    },
    /// A transposed convolution whose `output_padding` is not smaller than its stride or its
    /// dilation (it must be smaller than at least one of them).
    OutputPaddingTooLarge {
        /// The output padding.
        output_padding: usize,
        /// Stride.
        stride: usize,
        /// Dilation.
        dilation: usize,
    },
    /// PyTorch's `padding = "same"` with a stride above 1, which PyTorch refuses;
    /// `same_upper` or `same_lower` define it for any stride.
    SameWithStride {
        /// The stride.
        stride: usize,
    },
    /// A group count that does not divide a channel count.
    GroupsDoNotDivide {
        /// Group count.
        groups: usize,
        /// The channel count it should divide.
        channels: usize,
        /// Whether those are the input or the output channels.
        side: Channels,
    },
    /// A size, count or product that does not fit in `usize` (or `u64` for counts).
    Overflow,
    /// A size that had to be exactly one value (a network whose input size is fixed, run as a
    /// layer of one whose is not).
    InputNotExactly {
        /// The size that came.
        input: usize,
        /// The size it had to be.
        want: usize,
    },
}

impl fmt::Display for GeometryError {
    /// The words of [`describe`](crate::describe), which `const` code can write too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::describe(self).as_str())
    }
}

impl core::error::Error for GeometryError {}
