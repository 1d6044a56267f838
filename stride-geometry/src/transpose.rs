use crate::{GeometryError, Param, narrow, wide};

/// One axis of a transposed convolution. `padding` is removed from both ends of the output, as
/// in PyTorch's `ConvTranspose2d`; `output_padding` adds to the end only.
///
/// ```
/// use stride_geometry::TransposedAxis;
///
/// let dcgan = TransposedAxis::new(4).stride(2).padding(1);
/// assert_eq!(dcgan.output(32), Ok(64));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransposedAxis {
    /// Kernel size.
    pub kernel: usize,
    /// Stride (the upsampling factor).
    pub stride: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Implicit padding removed from both ends of the output.
    pub padding: usize,
    /// Extra size added to the end of the output.
    pub output_padding: usize,
}

impl TransposedAxis {
    /// A transposed axis of `kernel` taps, stride 1, dilation 1, no padding.
    pub const fn new(kernel: usize) -> Self {
        TransposedAxis {
            kernel,
            stride: 1,
            dilation: 1,
            padding: 0,
            output_padding: 0,
        }
    }

    /// The same axis with another stride.
    pub const fn stride(self, stride: usize) -> Self {
        TransposedAxis { stride, ..self }
    }

    /// The same axis with another dilation.
    pub const fn dilation(self, dilation: usize) -> Self {
        TransposedAxis { dilation, ..self }
    }

    /// The same axis with another padding.
    pub const fn padding(self, padding: usize) -> Self {
        TransposedAxis { padding, ..self }
    }

    /// The same axis with another output padding.
    pub const fn output_padding(self, output_padding: usize) -> Self {
        TransposedAxis {
            output_padding,
            ..self
        }
    }

    /// Refuses a zero kernel, stride or dilation, and an `output_padding` that is not smaller
    /// than the stride or the dilation (it must be smaller than at least one of them).
    pub const fn check(&self) -> Result<(), GeometryError> {
        if self.kernel == 0 {
            return Err(GeometryError::Zero(Param::Kernel));
        }
        if self.stride == 0 {
            return Err(GeometryError::Zero(Param::Stride));
        }
        if self.dilation == 0 {
            return Err(GeometryError::Zero(Param::Dilation));
        }
        if self.output_padding >= self.stride && self.output_padding >= self.dilation {
            return Err(GeometryError::OutputPaddingTooLarge {
                output_padding: self.output_padding,
                stride: self.stride,
                dilation: self.dilation,
            });
        }
        Ok(())
    }

    /// Output size for an input of `input`; see [`conv_transpose_output`].
    pub const fn output(self, input: usize) -> Result<usize, GeometryError> {
        conv_transpose_output(input, self)
    }
}

/// Output size of a transposed convolution along one axis:
/// `O = (W - 1)*S - 2P + D*(K-1) + output_padding + 1`.
///
/// Refuses what [`TransposedAxis::check`] refuses, a zero input, and an output below 1.
///
/// ```
/// use stride_geometry::{conv_transpose_output, TransposedAxis};
///
/// assert_eq!(conv_transpose_output(1, TransposedAxis::new(4)), Ok(4));
/// let too_much_padding = TransposedAxis::new(3).padding(2);
/// assert!(conv_transpose_output(1, too_much_padding).is_err());
/// ```
pub const fn conv_transpose_output(
    input: usize,
    axis: TransposedAxis,
) -> Result<usize, GeometryError> {
    if let Err(e) = axis.check() {
        return Err(e);
    }
    if input == 0 {
        return Err(GeometryError::Zero(Param::Input));
    }
    // Saturating in i128, far past any size `narrow` accepts: the product of two `usize`s
    // may not fit.
    let grown = (wide(input) - 1).saturating_mul(wide(axis.stride));
    let taps = wide(axis.dilation).saturating_mul(wide(axis.kernel) - 1);
    let output = grown
        .saturating_sub(2 * wide(axis.padding))
        .saturating_add(taps)
        .saturating_add(wide(axis.output_padding))
        .saturating_add(1);
    if output < 1 {
        return Err(GeometryError::TransposedOutputBelowOne {
            input,
            axis,
            output,
        });
    }
    narrow(output)
}

/// The smallest kernel at least `kernel` that `stride` divides: the size that makes a
/// transposed convolution's windows overlap evenly, with no checkerboard pattern (Odena et al.,
/// 2016). `kernel` itself when the stride already divides it (or is 0 or 1); `None` when the
/// size does not fit in `usize`.
///
/// ```
/// use stride_geometry::checkerboard_free_kernel;
///
/// assert_eq!(checkerboard_free_kernel(3, 2), Some(4));
/// assert_eq!(checkerboard_free_kernel(4, 2), Some(4));
/// assert_eq!(checkerboard_free_kernel(5, 3), Some(6));
/// ```
pub const fn checkerboard_free_kernel(kernel: usize, stride: usize) -> Option<usize> {
    if stride <= 1 || kernel % stride == 0 {
        return Some(kernel);
    }
    (kernel / stride + 1).checked_mul(stride)
}
