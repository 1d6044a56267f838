//! Pooling over the spatial axes of an NCHW input: max, average, adaptive average and global
//! average, with PyTorch's semantics.
//!
//! This file holds the params types, the public functions and their checks. The checks call the
//! geometry crate for every output size and padding rule, then describe each axis as an
//! `AxisWindows` (`windows.rs`: where each output's window falls on the input, clipped); the
//! kernels map one input plane to one output plane with them. Adaptive pooling's bins are the
//! geometry crate's rule ([`adaptive_bin`](stride_geometry::adaptive_bin)).
//!
//! Which kernel runs, in one place ([`Kernel::choose`]): an undilated sliding pool (every
//! average pool, and a max pool with dilation 1) takes the vectorised row kernels of
//! `separable.rs`, unless its padded row would be far wider than the input (a kernel of
//! `2^31` with half as much padding); that pool, and a dilated max pool, take the
//! window-by-window loops of `max.rs` and `avg.rs`, whose work and memory follow the taps
//! that land on the input; adaptive and global pooling take `avg.rs`. Before that choice, a
//! max pool at stride 1 that keeps a narrow plane's size (GoogLeNet's 3x3 pools on 7x7 maps)
//! takes the flattened-plane kernel of `small.rs` on AVX-512 (`Small::new` says when). Planes
//! are split over rayon's pool (`plane.rs`).
//!
//! Every kernel writes every value of its output, so the output is a buffer of the forward's
//! arena as its last user left it ([`memory::overwritten`]), not one zeroed first: the test
//! `pools_write_every_output_value_of_a_reused_buffer` hands each kernel a buffer of NaN.

mod avg;
mod bands;
mod max;
mod separable;
#[cfg(target_arch = "x86_64")]
mod small;
#[cfg(test)]
mod tests;
mod windows;

use ndarray::{Array4, ArrayView4, Dim};
use stride_geometry::{GeometryError, Window, check_pool_padding_2d, pool_output};

use self::avg::Divisor;
use self::separable::{Reduction, Separable};
use self::windows::AxisWindows;
use super::check::{nonempty_plane, nonzero_hw};
use super::plane::{map_planes, map_planes_with};

use crate::{Error, Hw, Padding2d, Result, memory};
pub(crate) use bands::MaxBands;

const MAX_POOL: &str = "max_pool2d";
const AVG_POOL: &str = "avg_pool2d";
const ADAPTIVE_AVG_POOL: &str = "adaptive_avg_pool2d";
const GLOBAL_AVG_POOL: &str = "global_avg_pool2d";

/// The parameters of [`max_pool2d`], as PyTorch's `nn.MaxPool2d`.
///
/// [`MaxPool2dParams::new`] takes the kernel and, as PyTorch, sets the stride to the kernel, no
/// padding, dilation 1 and floor rounding; each builder method changes one field.
///
/// ```
/// use stride_runtime::ops::MaxPool2dParams;
/// use stride_runtime::{Hw, Padding2d};
///
/// let params = MaxPool2dParams::new(3).stride(2).padding(1);
/// assert_eq!(params.stride, Hw([2, 2]));
/// assert_eq!(params.padding, Padding2d::from(1));
/// assert_eq!(MaxPool2dParams::new((2, 3)).stride, Hw([2, 3]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxPool2dParams {
    /// The window size.
    pub kernel: Hw,
    /// The step between windows.
    pub stride: Hw,
    /// Padding around the input. Padded positions never win: a window is clipped to the input.
    /// At most half the kernel on each side (PyTorch's rule).
    pub padding: Padding2d,
    /// The spacing between a window's taps.
    pub dilation: Hw,
    /// Rounds the output size up, so a last window that runs past the input is kept; but never
    /// one that would start in the end padding.
    pub ceil_mode: bool,
}

impl MaxPool2dParams {
    /// A `kernel`-sized window with stride `kernel`, no padding, dilation 1 and floor rounding.
    ///
    /// ```
    /// use stride_runtime::ops::MaxPool2dParams;
    ///
    /// let params = MaxPool2dParams::new(2);
    /// assert_eq!(params, MaxPool2dParams::new(2).stride(2).padding(0).dilation(1));
    /// ```
    pub fn new(kernel: impl Into<Hw>) -> Self {
        let kernel = kernel.into();
        MaxPool2dParams {
            kernel,
            stride: kernel,
            padding: Padding2d::default(),
            dilation: Hw([1, 1]),
            ceil_mode: false,
        }
    }

    /// The same params with another stride.
    ///
    /// ```
    /// # use stride_runtime::{ops::MaxPool2dParams, Hw};
    /// assert_eq!(MaxPool2dParams::new(3).stride((2, 1)).stride, Hw([2, 1]));
    /// ```
    pub fn stride(self, stride: impl Into<Hw>) -> Self {
        MaxPool2dParams {
            stride: stride.into(),
            ..self
        }
    }

    /// The same params with another padding.
    ///
    /// ```
    /// # use stride_runtime::{ops::MaxPool2dParams, Padding2d};
    /// let params = MaxPool2dParams::new(3).padding(Padding2d::asymmetric(0, 1, 0, 1));
    /// assert_eq!(params.padding, Padding2d::asymmetric(0, 1, 0, 1));
    /// ```
    pub fn padding(self, padding: impl Into<Padding2d>) -> Self {
        MaxPool2dParams {
            padding: padding.into(),
            ..self
        }
    }

    /// The same params with another dilation.
    ///
    /// ```
    /// # use stride_runtime::{ops::MaxPool2dParams, Hw};
    /// assert_eq!(MaxPool2dParams::new(3).dilation(2).dilation, Hw([2, 2]));
    /// ```
    pub fn dilation(self, dilation: impl Into<Hw>) -> Self {
        MaxPool2dParams {
            dilation: dilation.into(),
            ..self
        }
    }

    /// The same params, rounding the output size up (`true`) or down (`false`).
    ///
    /// ```
    /// # use stride_runtime::ops::MaxPool2dParams;
    /// assert!(MaxPool2dParams::new(3).ceil_mode(true).ceil_mode);
    /// ```
    pub fn ceil_mode(self, ceil_mode: bool) -> Self {
        MaxPool2dParams { ceil_mode, ..self }
    }
}

/// The maximum of each window of an NCHW input, as PyTorch's `max_pool2d`.
///
/// The output size is the geometry crate's `pool_output` on each axis. Padded positions never
/// win; a NaN in a window wins over any number, as in PyTorch; and a dilated window whose taps
/// all fall in the padding (which PyTorch's padding rule allows) gives -inf, as in PyTorch.
///
/// Refuses an input with an empty plane, a zero kernel, stride or dilation, padding above half
/// the kernel, an output size below 1, and an output too large to allocate.
///
/// ```
/// use ndarray::{array, Array4};
/// use stride_runtime::ops::{max_pool2d, MaxPool2dParams};
///
/// let x = array![[1.0f32, 5.0, 2.0], [4.0, 3.0, 0.0]].into_shape_with_order((1, 1, 2, 3)).unwrap();
/// let y = max_pool2d(x.view(), &MaxPool2dParams::new(2).stride(1))?;
/// assert_eq!(y, array![[5.0f32, 5.0]].into_shape_with_order((1, 1, 1, 2)).unwrap());
///
/// let err = max_pool2d(x.view(), &MaxPool2dParams::new(3)).unwrap_err();
/// assert_eq!(err.to_string(), "max_pool2d: height: output size is 0: (2 + 2*0 - 1*(3-1) - 1) / 3 + 1 = 0; the kernel (3) is larger than the padded input (2)");
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn max_pool2d(x: ArrayView4<f32>, params: &MaxPool2dParams) -> Result<Array4<f32>> {
    sliding_pool(MAX_POOL, x, Sliding::max(params), Reduction::Max)
}

/// The two ways to run a sliding pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// The vectorised row kernels of `separable.rs`, over a row padded to hold every window.
    Separable,
    /// The window-by-window loops of `max.rs` and `avg.rs`, over the taps on the input.
    Windows,
}

/// The widest padded row, beyond four times the input row, that a separable pool may use:
/// 16 KiB, more than any real layer's padding (which is at most half its kernel).
const MAX_EXTRA_PADDED: usize = 4096;

impl Kernel {
    /// Separable for an undilated pool whose padded row (input, padding and every window:
    /// [`Separable::padded_len`]) is at most four times the input row plus
    /// [`MAX_EXTRA_PADDED`]; window by window otherwise. A huge kernel with the padding
    /// PyTorch allows (half of it) keeps the output small but would make the padded row as
    /// long as the kernel, `2^31` values for a kernel of `2^31`; the window-by-window loops
    /// visit only the taps on the input.
    fn choose(rows: &AxisWindows, cols: &AxisWindows, width: Window) -> Kernel {
        let limit = cols
            .input
            .saturating_mul(4)
            .saturating_add(MAX_EXTRA_PADDED);
        let undilated = rows.dilation == 1 && cols.dilation == 1;
        if undilated && Separable::padded_len(cols, width) <= limit {
            Kernel::Separable
        } else {
            Kernel::Windows
        }
    }
}

/// The parameters of [`avg_pool2d`], as PyTorch's `nn.AvgPool2d` (which has no dilation).
///
/// [`AvgPool2dParams::new`] takes the kernel and, as PyTorch, sets the stride to the kernel, no
/// padding, floor rounding, `count_include_pad = true` and no divisor override; each builder
/// method changes one field.
///
/// ```
/// use stride_runtime::ops::AvgPool2dParams;
/// use stride_runtime::Hw;
///
/// let params = AvgPool2dParams::new(3).stride(1).padding(1).count_include_pad(false);
/// assert_eq!(params.stride, Hw([1, 1]));
/// assert!(!params.count_include_pad);
/// assert_eq!(params.divisor_override, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AvgPool2dParams {
    /// The window size.
    pub kernel: Hw,
    /// The step between windows.
    pub stride: Hw,
    /// Padding around the input, counted as zeros. At most half the kernel on each side
    /// (PyTorch's rule).
    pub padding: Padding2d,
    /// Rounds the output size up, so a last window that runs past the input is kept; but never
    /// one that would start in the end padding.
    pub ceil_mode: bool,
    /// Divide by the window clipped to the padded input (`true`, PyTorch's default) or by the
    /// number of input elements in it (`false`).
    pub count_include_pad: bool,
    /// Divide every window's sum by this instead (at least 1).
    pub divisor_override: Option<usize>,
}

impl AvgPool2dParams {
    /// A `kernel`-sized window with stride `kernel`, no padding, floor rounding,
    /// `count_include_pad = true` and no divisor override.
    ///
    /// ```
    /// use stride_runtime::ops::AvgPool2dParams;
    ///
    /// let params = AvgPool2dParams::new(2);
    /// assert_eq!(params, AvgPool2dParams::new(2).stride(2).padding(0).count_include_pad(true));
    /// ```
    pub fn new(kernel: impl Into<Hw>) -> Self {
        let kernel = kernel.into();
        AvgPool2dParams {
            kernel,
            stride: kernel,
            padding: Padding2d::default(),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }

    /// The same params with another stride.
    ///
    /// ```
    /// # use stride_runtime::{ops::AvgPool2dParams, Hw};
    /// assert_eq!(AvgPool2dParams::new(3).stride((2, 1)).stride, Hw([2, 1]));
    /// ```
    pub fn stride(self, stride: impl Into<Hw>) -> Self {
        AvgPool2dParams {
            stride: stride.into(),
            ..self
        }
    }

    /// The same params with another padding.
    ///
    /// ```
    /// # use stride_runtime::{ops::AvgPool2dParams, Padding2d};
    /// assert_eq!(AvgPool2dParams::new(3).padding((1, 0)).padding, Padding2d::from((1, 0)));
    /// ```
    pub fn padding(self, padding: impl Into<Padding2d>) -> Self {
        AvgPool2dParams {
            padding: padding.into(),
            ..self
        }
    }

    /// The same params, rounding the output size up (`true`) or down (`false`).
    ///
    /// ```
    /// # use stride_runtime::ops::AvgPool2dParams;
    /// assert!(AvgPool2dParams::new(3).ceil_mode(true).ceil_mode);
    /// ```
    pub fn ceil_mode(self, ceil_mode: bool) -> Self {
        AvgPool2dParams { ceil_mode, ..self }
    }

    /// The same params, dividing by the window clipped to the padded input (`true`) or by the
    /// number of input elements in it (`false`).
    ///
    /// ```
    /// # use stride_runtime::ops::AvgPool2dParams;
    /// assert!(!AvgPool2dParams::new(3).count_include_pad(false).count_include_pad);
    /// ```
    pub fn count_include_pad(self, count_include_pad: bool) -> Self {
        AvgPool2dParams {
            count_include_pad,
            ..self
        }
    }

    /// The same params, dividing every window's sum by `divisor`.
    ///
    /// ```
    /// # use stride_runtime::ops::AvgPool2dParams;
    /// assert_eq!(AvgPool2dParams::new(3).divisor_override(4).divisor_override, Some(4));
    /// ```
    pub fn divisor_override(self, divisor: usize) -> Self {
        AvgPool2dParams {
            divisor_override: Some(divisor),
            ..self
        }
    }
}

/// The mean of each window of an NCHW input, as PyTorch's `avg_pool2d`.
///
/// The output size is the geometry crate's `pool_output` on each axis. Each window's sum is
/// divided exactly as PyTorch does: with `count_include_pad`, by the window clipped to the
/// padded input (so a `ceil_mode` window that runs past the end padding divides by less than
/// the kernel); without, by the number of input elements in it; with `divisor_override`, by
/// that.
///
/// Refuses an input with an empty plane, a zero kernel or stride, padding above half the
/// kernel, an output size below 1, an output too large to allocate, and a `divisor_override`
/// of 0.
///
/// ```
/// use ndarray::{array, Array4};
/// use stride_runtime::ops::{avg_pool2d, AvgPool2dParams};
///
/// let x = Array4::from_elem((1, 1, 2, 2), 4.0f32);
/// // The one window covers the 4 inputs and 5 zeros of padding.
/// let y = avg_pool2d(x.view(), &AvgPool2dParams::new(3).padding(1))?;
/// assert_eq!(y, Array4::from_elem((1, 1, 1, 1), 16.0 / 9.0));
/// let y = avg_pool2d(x.view(), &AvgPool2dParams::new(3).padding(1).count_include_pad(false))?;
/// assert_eq!(y, Array4::from_elem((1, 1, 1, 1), 4.0));
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn avg_pool2d(x: ArrayView4<f32>, params: &AvgPool2dParams) -> Result<Array4<f32>> {
    let divisor = match params.divisor_override {
        Some(0) => {
            return Err(Error::Param {
                op: AVG_POOL,
                message: "divisor_override must be at least 1, got 0".into(),
            });
        }
        Some(divisor) => Divisor::Fixed(divisor),
        None if params.count_include_pad => Divisor::Padded,
        None => Divisor::Taps,
    };
    let pool = Sliding {
        kernel: params.kernel,
        stride: params.stride,
        padding: params.padding,
        dilation: Hw([1, 1]),
        ceil_mode: params.ceil_mode,
    };
    sliding_pool(AVG_POOL, x, pool, Reduction::Mean(divisor))
}

/// The mean of each of `output_size` bins of an NCHW input, as PyTorch's
/// `adaptive_avg_pool2d`: along an axis of `n` inputs and `o` bins, bin `i` covers
/// `[floor(i*n/o), ceil((i+1)*n/o))`. Bins overlap when `o` does not divide `n`, and the output
/// may be larger than the input.
///
/// Refuses an input with an empty plane, an output size of 0, and an output too large to
/// allocate ([`Error::TooLarge`]).
///
/// ```
/// use ndarray::{array, Array4};
/// use stride_runtime::ops::adaptive_avg_pool2d;
///
/// // 5 -> 3 bins: [0, 2), [1, 4), [3, 5).
/// let x = array![1.0f32, 2.0, 3.0, 4.0, 5.0].into_shape_with_order((1, 1, 1, 5)).unwrap();
/// let y = adaptive_avg_pool2d(x.view(), (1, 3))?;
/// assert_eq!(y, array![1.5f32, 3.0, 4.5].into_shape_with_order((1, 1, 1, 3)).unwrap());
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn adaptive_avg_pool2d(x: ArrayView4<f32>, output_size: impl Into<Hw>) -> Result<Array4<f32>> {
    adaptive_avg(ADAPTIVE_AVG_POOL, x, output_size.into())
}

/// The mean of each plane of an NCHW input, `[N, C, H, W]` to `[N, C, 1, 1]`: adaptive average
/// pooling to 1x1, as at the end of ResNet.
///
/// Refuses an input with an empty plane.
///
/// ```
/// use ndarray::{array, Array4};
/// use stride_runtime::ops::global_avg_pool2d;
///
/// let x = Array4::from_shape_fn((2, 3, 7, 7), |(n, c, _, _)| (n * 3 + c) as f32);
/// let y = global_avg_pool2d(x.view())?;
/// assert_eq!(y.dim(), (2, 3, 1, 1));
/// assert_eq!(y[[1, 2, 0, 0]], 5.0);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn global_avg_pool2d(x: ArrayView4<f32>) -> Result<Array4<f32>> {
    adaptive_avg(GLOBAL_AVG_POOL, x, Hw([1, 1]))
}

fn adaptive_avg(op: &'static str, x: ArrayView4<f32>, output: Hw) -> Result<Array4<f32>> {
    let input = nonempty_plane(op, &x)?;
    nonzero_hw(op, "output size", output)?;
    let (batch, channels, _, _) = x.dim();
    // Every kernel below writes every output value (`overwritten`'s condition).
    let y = memory::overwritten(
        op,
        "output",
        Dim([batch, channels, output.0[0], output.0[1]]),
    )?;
    if y.is_empty() {
        // No plane to pool: no window tables either, whose length the output size decides.
        return Ok(y);
    }
    if output == Hw([1, 1]) {
        // One window per plane: a mean in eight independent sums, not one chain of adds.
        return map_planes(op, x, y, |x, y| y[0] = avg::mean(x));
    }
    let rows = AxisWindows::adaptive(op, input[0], output.0[0])?;
    let cols = AxisWindows::adaptive(op, input[1], output.0[1])?;
    map_planes(op, x, y, |x, y| {
        avg::avg_plane(&rows, &cols, Divisor::Taps, x, y)
    })
}

/// A sliding pool's parameters, common to max and average pooling.
struct Sliding {
    kernel: Hw,
    stride: Hw,
    padding: Padding2d,
    dilation: Hw,
    ceil_mode: bool,
}

impl Sliding {
    /// A max pool's.
    fn max(params: &MaxPool2dParams) -> Sliding {
        Sliding {
            kernel: params.kernel,
            stride: params.stride,
            padding: params.padding,
            dilation: params.dilation,
            ceil_mode: params.ceil_mode,
        }
    }

    /// The windows along both axes of a non-empty `input` plane and the output size, or the
    /// refusal of a zero kernel, stride or dilation, of padding above half the kernel, or of
    /// an output size below 1 (in [`sliding_pool`]'s order).
    fn resolve(&self, op: &'static str, input: [usize; 2]) -> Result<([Window; 2], [usize; 2])> {
        let pads = self
            .padding
            .resolve(op, input, self.kernel, self.stride, self.dilation)?;
        let windows = [0, 1].map(|a| {
            pads[a].apply(
                Window::new(self.kernel.0[a])
                    .stride(self.stride.0[a])
                    .dilation(self.dilation.0[a]),
            )
        });
        check_pool_padding_2d(windows).map_err(|e| pool_padding_error(op, windows, e))?;
        let output = |a: usize| {
            pool_output(input[a], windows[a], self.ceil_mode).map_err(|e| Error::geometry(op, a, e))
        };
        Ok((windows, [output(0)?, output(1)?]))
    }
}

/// A sliding pool: checks it for this input, allocates the output, places the windows on both
/// axes and runs the kernel [`Kernel::choose`] picks, the one path of [`max_pool2d`] and
/// [`avg_pool2d`].
///
/// Refuses, in this order: an empty input plane; a zero kernel, stride or dilation (when the
/// padding is resolved); padding above half the kernel on either axis, in PyTorch's order
/// ([`check_pool_padding_2d`]); an output size below 1 ([`pool_output`]); an output too large
/// to allocate. The window tables, one entry per output row and column, are made only once
/// the output exists and has a value.
fn sliding_pool(
    op: &'static str,
    x: ArrayView4<f32>,
    pool: Sliding,
    reduction: Reduction,
) -> Result<Array4<f32>> {
    let input = nonempty_plane(op, &x)?;
    let (windows, output) = pool.resolve(op, input)?;
    let (batch, channels, _, _) = x.dim();
    // Every kernel writes every output value (`overwritten`'s condition): the separable
    // kernels write each output row whole, the window-by-window loops fill each row before
    // folding into it, and `small.rs` stores every block of the plane.
    let y = memory::overwritten(op, "output", Dim([batch, channels, output[0], output[1]]))?;
    if y.is_empty() {
        return Ok(y);
    }
    #[cfg(target_arch = "x86_64")]
    if reduction == Reduction::Max
        && let Some(pool) = small::Small::new(crate::simd::Isa::detect(), windows, input, output)
    {
        // Narrow planes of a stride-1 max pool that keeps their size: `small.rs`.
        return map_planes(op, x, y, |x, y| pool.plane(x, y));
    }
    let rows = AxisWindows::sliding(op, input[0], output[0], windows[0])?;
    let cols = AxisWindows::sliding(op, input[1], output[1], windows[1])?;
    let width = windows[1];
    match (Kernel::choose(&rows, &cols, width), reduction) {
        (Kernel::Separable, _) => {
            let pool = Separable::new(&rows, &cols, width, reduction);
            map_planes_with(
                op,
                x,
                y,
                || pool.scratch(),
                |scratch, x, y| pool.plane(scratch, x, y),
            )
        }
        (Kernel::Windows, Reduction::Max) => {
            map_planes(op, x, y, |x, y| max::max_plane(&rows, &cols, x, y))
        }
        (Kernel::Windows, Reduction::Mean(divisor)) => {
            map_planes(op, x, y, |x, y| avg::avg_plane(&rows, &cols, divisor, x, y))
        }
    }
}

/// A refusal of [`check_pool_padding_2d`], which does not say which axis it is about, with the
/// axis: the first one that fails the same rule on its own. (The 2-D check applies the first rule
/// to both axes before the second, so the axis it refused is the first whose own check returns
/// the same error.)
fn pool_padding_error(op: &'static str, windows: [Window; 2], e: GeometryError) -> Error {
    match (0..2).find(|&a| windows[a].check_pool_padding() == Err(e)) {
        Some(axis) => Error::geometry(op, axis, e),
        None => Error::rule(op, e),
    }
}
