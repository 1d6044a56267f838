//! Sliding max and average pools with undilated windows, computed separably: for each output
//! row, the input rows under its windows are reduced element-wise into one padded row (the
//! vertical pass), then each window is reduced along that row (the horizontal pass), and an
//! average divides.
//!
//! A max and a sum both split that way, so every undilated sliding pool takes this path; the
//! vertical pass is vectorised for any window, and the horizontal one for the common windows
//! (3 and 2 wide at stride 2, any width at stride 1: `avx2.rs`). Both passes have a scalar
//! kernel (`scalar.rs`) that computes the same values, taken on `Isa::Scalar` (when
//! [`avx2_fma`](crate::simd::avx2_fma) says no).
//!
//! The padded row has the input row at `pad_begin` and the reduction's identity around it
//! (-inf for max, 0 for a sum), so windows in the padding or past it need no case of their
//! own: a padded tap never wins a max and adds nothing to a sum. The count an average divides
//! by comes from the windows' [`Span`](super::windows::Span)s, as in PyTorch.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
pub(crate) mod scalar;
#[cfg(test)]
mod tests;

use stride_geometry::Window;

use super::avg::Divisor;
use super::windows::{AxisWindows, Span};
use crate::simd::Isa;

/// What a separable pool computes over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reduction {
    /// The maximum (NaN wins, as in PyTorch).
    Max,
    /// The sum, divided as the divisor says.
    Mean(Divisor),
}

/// A sliding pool resolved for one input size: the windows on both axes, and the width's
/// window for the horizontal pass.
#[derive(Debug)]
pub(super) struct Separable<'a> {
    rows: &'a AxisWindows,
    cols: &'a AxisWindows,
    /// Kernel, stride and `pad_begin` along the width.
    width: Window,
    reduction: Reduction,
    /// The instruction set of the row kernels.
    isa: Isa,
}

/// One worker's buffers, reused for every plane it pools.
#[derive(Debug)]
pub(super) struct Scratch {
    /// The padded row: the identity, with the current vertical reduction at `pad_begin`.
    padded: Vec<f32>,
    /// An average's multipliers along the current output row, and the row divisor they are for.
    scale: Vec<f32>,
    scale_for: Option<u128>,
}

impl<'a> Separable<'a> {
    /// The pool with windows `rows` and `cols` (from [`AxisWindows::sliding`], undilated), the
    /// width's `window`, on the path `Isa::detect` picks.
    pub fn new(
        rows: &'a AxisWindows,
        cols: &'a AxisWindows,
        width: Window,
        reduction: Reduction,
    ) -> Self {
        debug_assert_eq!((rows.dilation, cols.dilation, width.dilation), (1, 1, 1));
        debug_assert_eq!(cols.spans.len(), cols.output());
        Separable {
            rows,
            cols,
            width,
            reduction,
            isa: Isa::detect(),
        }
    }

    /// The same pool on `isa`'s path, for the tests that compare the two.
    #[cfg(test)]
    pub fn on(self, isa: Isa) -> Self {
        Separable { isa, ..self }
    }

    /// The length of the padded row for windows `cols` with the width's `window`: it covers
    /// the input at `pad_begin` and every window, plus the one element the AVX2 3-wide kernel
    /// reads past the last window. Saturates rather than overflow, for the check that keeps
    /// huge rows off this kernel.
    pub fn padded_len(cols: &AxisWindows, window: Window) -> usize {
        let last_start = (cols.output() - 1).saturating_mul(window.stride);
        let windows_end = last_start.saturating_add(window.kernel);
        window
            .pad_begin
            .saturating_add(cols.input)
            .max(windows_end)
            .saturating_add(1)
    }

    /// Buffers for [`Separable::plane`]: the padded row of [`Separable::padded_len`], which
    /// the caller has bounded (`Kernel::choose`).
    pub fn scratch(&self) -> Scratch {
        let output = self.cols.output();
        let len = Separable::padded_len(self.cols, self.width);
        let identity = match self.reduction {
            Reduction::Max => f32::NEG_INFINITY,
            Reduction::Mean(_) => 0.0,
        };
        Scratch {
            padded: vec![identity; len],
            scale: vec![0.0; output],
            scale_for: None,
        }
    }

    /// Pools one row-major `[H, W]` plane into one `[OH, OW]` plane.
    pub fn plane(&self, scratch: &mut Scratch, x: &[f32], y: &mut [f32]) {
        let width = self.cols.input;
        debug_assert_eq!(x.len(), self.rows.input * width);
        debug_assert_eq!(y.len(), self.rows.output() * self.cols.output());
        for (&row, y_row) in self
            .rows
            .spans
            .iter()
            .zip(y.chunks_exact_mut(self.cols.output()))
        {
            // Undilated windows always hold at least one input row.
            debug_assert!(row.taps > 0);
            let rows = &x[row.first * width..][..row.taps * width];
            match self.reduction {
                Reduction::Max => self.row::<true>(rows, &mut scratch.padded, None, y_row),
                Reduction::Mean(divisor) => {
                    self.update_scale(divisor, row, scratch);
                    let scale = Some(&scratch.scale[..]);
                    self.row::<false>(rows, &mut scratch.padded, scale, y_row);
                }
            }
        }
    }

    /// Reduces `rows` into the middle of `padded`, then each window of `padded` into `out`,
    /// times `scale` if there is one.
    fn row<const MAX: bool>(
        &self,
        rows: &[f32],
        padded: &mut [f32],
        scale: Option<&[f32]>,
        out: &mut [f32],
    ) {
        let (width, begin) = (self.cols.input, self.width.pad_begin);
        let (kernel, stride) = (self.width.kernel, self.width.stride);
        #[cfg(target_arch = "x86_64")]
        if let Isa::Avx2(_) | Isa::Avx512(_) = self.isa {
            // SAFETY: an `Avx2` or `Avx512` value exists only on a CPU with AVX2 and FMA;
            // `scratch` sized `padded` for the 3-wide kernel's extra read.
            unsafe {
                avx2::vertical::<MAX>(rows, width, &mut padded[begin..begin + width]);
                avx2::horizontal::<MAX>(padded, kernel, stride, scale, out);
            }
            return;
        }
        scalar::vertical::<MAX>(rows, width, &mut padded[begin..begin + width]);
        scalar::horizontal::<MAX>(padded, kernel, stride, scale, out);
    }

    /// Sets `scratch.scale` to the multipliers of an output row whose windows span `row`
    /// vertically: one over the divisor PyTorch uses. Recomputed only when the row's factor of the divisor changes, at
    /// the top and bottom edges. (Undilated windows always hold an input element, so no
    /// divisor is 0.)
    ///
    /// Multiplying by the reciprocal rounds twice where PyTorch divides once: at most an ulp
    /// apart, and exact for the power-of-two windows (2x2).
    fn update_scale(&self, divisor: Divisor, row: Span, scratch: &mut Scratch) {
        let row_factor = match divisor {
            Divisor::Padded => row.padded as u128,
            Divisor::Taps => row.taps as u128,
            Divisor::Fixed(d) => d as u128,
        };
        if scratch.scale_for != Some(row_factor) {
            for (s, col) in scratch.scale.iter_mut().zip(&self.cols.spans) {
                // u128: two huge kernels can overflow usize; f32 of the integer, as PyTorch.
                let divide_by = match divisor {
                    Divisor::Padded => row_factor * col.padded as u128,
                    Divisor::Taps => row_factor * col.taps as u128,
                    Divisor::Fixed(_) => row_factor,
                };
                *s = 1.0 / divide_by as f32;
            }
            scratch.scale_for = Some(row_factor);
        }
    }
}
