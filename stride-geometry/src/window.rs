use crate::{GeometryError, Param, div_floor, narrow, wide};

/// One axis of a sliding window (a convolution's or a pool's): kernel, stride, dilation and the
/// padding before and after the input.
///
/// Built with `Window::new(kernel)` and the setters, which default to stride 1, dilation 1 and
/// no padding:
///
/// ```
/// use stride_geometry::Window;
///
/// let w = Window::new(3).stride(2).padding(1).dilation(2);
/// assert_eq!(w.effective_kernel(), 5);
/// assert_eq!((w.pad_begin, w.pad_end), (1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// Kernel size.
    pub kernel: usize,
    /// Step between window positions.
    pub stride: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Padding before the input (top or left).
    pub pad_begin: usize,
    /// Padding after the input (bottom or right).
    pub pad_end: usize,
}

impl Window {
    /// A window of `kernel` taps, stride 1, dilation 1, no padding.
    pub const fn new(kernel: usize) -> Self {
        Window {
            kernel,
            stride: 1,
            dilation: 1,
            pad_begin: 0,
            pad_end: 0,
        }
    }

    /// The same window with another stride.
    pub const fn stride(self, stride: usize) -> Self {
        Window { stride, ..self }
    }

    /// The same window with another dilation.
    pub const fn dilation(self, dilation: usize) -> Self {
        Window { dilation, ..self }
    }

    /// The same window with `padding` on both sides.
    pub const fn padding(self, padding: usize) -> Self {
        Window {
            pad_begin: padding,
            pad_end: padding,
            ..self
        }
    }

    /// The same window with `begin` before the input and `end` after it.
    pub const fn pads(self, begin: usize, end: usize) -> Self {
        Window {
            pad_begin: begin,
            pad_end: end,
            ..self
        }
    }

    /// The span of input the kernel covers: `D*(K-1) + 1` (saturating).
    pub const fn effective_kernel(&self) -> usize {
        self.dilation
            .saturating_mul(self.kernel.saturating_sub(1))
            .saturating_add(1)
    }

    /// Refuses a zero kernel, stride or dilation.
    const fn check_nonzero(&self) -> Result<(), GeometryError> {
        if self.kernel == 0 {
            Err(GeometryError::Zero(Param::Kernel))
        } else if self.stride == 0 {
            Err(GeometryError::Zero(Param::Stride))
        } else if self.dilation == 0 {
            Err(GeometryError::Zero(Param::Dilation))
        } else {
            Ok(())
        }
    }

    /// `W + Pb + Pe - D*(K-1) - 1`: the numerator of the output-size formula (may be negative).
    const fn span(&self, input: usize) -> i128 {
        // Sums of three `usize`s fit an i128; the product of two may not, and saturates
        // (giving a window no input reaches).
        wide(input) + wide(self.pad_begin) + wide(self.pad_end)
            - wide(self.dilation).saturating_mul(wide(self.kernel) - 1)
            - 1
    }

    /// Refuses pool padding above half the kernel, on either side, in PyTorch's order: first
    /// `pad <= (D*(K-1)+1) / 2` (the effective kernel), then `pad <= K / 2`.
    pub const fn check_pool_padding(&self) -> Result<(), GeometryError> {
        check_pool_padding_2d([*self, *self])
    }

    /// The larger of the two pads.
    const fn max_pad(&self) -> usize {
        if self.pad_begin > self.pad_end {
            self.pad_begin
        } else {
            self.pad_end
        }
    }
}

/// Refuses pool padding above half the kernel on either axis of a 2-D pool, in PyTorch's order:
/// the effective-kernel rule `pad <= (D*(K-1)+1) / 2` on both axes, then the kernel rule
/// `pad <= K / 2` on both axes. With dilation 1 the two are the same rule; with dilation the
/// second is the stricter (PyTorch's max pooling applies both).
///
/// ```
/// use stride_geometry::{check_pool_padding_2d, GeometryError, Window};
///
/// let h = Window::new(4).dilation(2).padding(3); // within (2*3+1)/2 = 3, above 4/2 = 2
/// let w = Window::new(1).padding(1); // above (1*0+1)/2 = 0
/// assert!(matches!(
///     check_pool_padding_2d([h, w]),
///     Err(GeometryError::PoolPaddingAboveHalfEffectiveKernel { padding: 1, .. })
/// ));
/// ```
pub const fn check_pool_padding_2d(windows: [Window; 2]) -> Result<(), GeometryError> {
    let mut axis = 0;
    while axis < 2 {
        let w = windows[axis];
        if let Err(e) = w.check_nonzero() {
            return Err(e);
        }
        let limit = w.effective_kernel() / 2;
        if w.max_pad() > limit {
            return Err(GeometryError::PoolPaddingAboveHalfEffectiveKernel {
                padding: w.max_pad(),
                kernel: w.kernel,
                dilation: w.dilation,
                limit,
            });
        }
        axis += 1;
    }
    let mut axis = 0;
    while axis < 2 {
        let w = windows[axis];
        let limit = w.kernel / 2;
        if w.max_pad() > limit {
            return Err(GeometryError::PoolPaddingAboveHalfKernel {
                padding: w.max_pad(),
                kernel: w.kernel,
                limit,
            });
        }
        axis += 1;
    }
    Ok(())
}

/// The smallest symmetric padding `P` for which a window of `window`'s kernel, stride and
/// dilation gives an output of at least 1 on an input of `input`: the padded input
/// `W + 2P` must reach the effective kernel `D*(K-1) + 1`, so `P = ceil((D*(K-1) + 1 - W) / 2)`
/// (0 when the kernel already fits). `None` when no padding representable in `usize` does.
///
/// ```
/// use stride_geometry::{smallest_padding, Window};
///
/// // A 5x5 kernel on a 4x4 input needs padding 1, and then gives 2.
/// assert_eq!(smallest_padding(4, Window::new(5)), Some(1));
/// assert_eq!(smallest_padding(8, Window::new(3)), Some(0));
/// assert_eq!(smallest_padding(1, Window::new(3).dilation(4)), Some(4));
/// ```
pub const fn smallest_padding(input: usize, window: Window) -> Option<usize> {
    // The effective kernel saturates at `usize::MAX`, past which no padding helps.
    let span = wide(window.effective_kernel());
    let missing = span - wide(input);
    if missing <= 0 {
        return Some(0);
    }
    match narrow((missing + 1) / 2) {
        Ok(p) => Some(p),
        Err(_) => None,
    }
}

/// How many rows or columns at the end of the padded input no window reaches, when the
/// output size rounds down: `(W + Pb + Pe - D*(K-1) - 1) % S`. Zero when the windows tile the
/// padded input exactly, and for a window that does not fit at all (see [`conv_output`]).
///
/// ```
/// use stride_geometry::{floor_remainder, Window};
///
/// // A 2x2/2 pool tiles 224 exactly, and leaves the last of 225 out: (225 - 1*(2-1) - 1) % 2.
/// assert_eq!(floor_remainder(224, Window::new(2).stride(2)), 0);
/// assert_eq!(floor_remainder(225, Window::new(2).stride(2)), 1);
/// ```
pub const fn floor_remainder(input: usize, window: Window) -> usize {
    if window.kernel == 0 || window.stride == 0 || window.dilation == 0 {
        return 0;
    }
    let span = window.span(input);
    if span < 0 {
        return 0;
    }
    (span % wide(window.stride)) as usize
}

/// Output size of a convolution along one axis:
/// `O = floor((W + Pb + Pe - D*(K-1) - 1) / S) + 1`.
///
/// Refuses a zero input, kernel, stride or dilation, and an output below 1 (an effective kernel
/// larger than the padded input).
///
/// ```
/// use stride_geometry::{conv_output, Window};
///
/// assert_eq!(conv_output(32, Window::new(3)), Ok(30));
/// assert_eq!(conv_output(32, Window::new(3).padding(1).stride(2)), Ok(16));
/// assert!(conv_output(4, Window::new(5)).is_err());
/// ```
pub const fn conv_output(input: usize, window: Window) -> Result<usize, GeometryError> {
    if input == 0 {
        return Err(GeometryError::Zero(Param::Input));
    }
    if let Err(e) = window.check_nonzero() {
        return Err(e);
    }
    let output = div_floor(window.span(input), wide(window.stride)) + 1;
    if output < 1 {
        return Err(GeometryError::ConvOutputBelowOne {
            input,
            window,
            output,
        });
    }
    narrow(output)
}

/// Output size of a max or average pool along one axis, as PyTorch computes it.
///
/// `O = floor((W + Pb + Pe - D*(K-1) - 1) / S) + 1`, or with `ceil_mode` the same rounded up,
/// after which a last window that would start in the end padding is dropped
/// (`(O-1)*S >= W + Pb` gives `O - 1`). Refuses a zero parameter, padding above half the kernel
/// (see [`Window::check_pool_padding`]) and an output below 1.
///
/// ```
/// use stride_geometry::{pool_output, Window};
///
/// // ResNet's max pool: 112 -> 56.
/// assert_eq!(pool_output(112, Window::new(3).stride(2).padding(1), false), Ok(56));
/// // ceil_mode keeps a partial last window...
/// assert_eq!(pool_output(6, Window::new(3).stride(2), true), Ok(3));
/// // ...but not one that would start in the padding.
/// assert_eq!(pool_output(5, Window::new(2).stride(2).padding(1), true), Ok(3));
/// ```
pub const fn pool_output(
    input: usize,
    window: Window,
    ceil_mode: bool,
) -> Result<usize, GeometryError> {
    if input == 0 {
        return Err(GeometryError::Zero(Param::Input));
    }
    if let Err(e) = window.check_pool_padding() {
        return Err(e);
    }
    let stride = wide(window.stride);
    let round_up = if ceil_mode { stride - 1 } else { 0 };
    let mut output = div_floor(window.span(input) + round_up, stride) + 1;
    if ceil_mode && (output - 1) * stride >= wide(input) + wide(window.pad_begin) {
        output -= 1;
    }
    if output < 1 {
        return Err(GeometryError::PoolOutputBelowOne {
            input,
            window,
            ceil_mode,
            output,
        });
    }
    narrow(output)
}
