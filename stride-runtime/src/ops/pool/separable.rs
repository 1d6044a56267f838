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
//! On `Isa::Avx512`, windows at stride 1 or 2 up to 16 wide take `avx512.rs` instead: both
//! passes for 16 outputs in registers, masked at the row's edges, with the same values again
//! (the tests compare the bits). Measured side by side with ONNX Runtime 1.32 (AMD EPYC Zen 5,
//! `bench/compare.sh`, one thread, ms ours / ORT's, before -> after this kernel):
//! avgpool3x3s1_incl_192_28 0.075 -> 0.045 (ORT 0.046), avgpool3x3s2_excl_96_56 0.077 ->
//! 0.035 (0.046), maxpool3x3s1_p1_ceil_480_14 0.073 -> 0.029 (0.032),
//! maxpool3x3s1_p1_ceil_832_7 0.155 -> 0.026 (0.017), avgpool2x2s2_512_14 0.051 -> 0.017
//! (0.018). The AVX2 kernels left every row of fewer than 8 outputs (7x7 and 14x14 maps) to
//! the scalar one; one masked block now covers it. On a Zen 3 EPYC (AVX2, no AVX-512), one
//! thread, `cargo bench --bench layers -- --suite FILE --threads 1` before and after
//! alternated twice, the lower of each side's medians, ms: `maxpool3x3s1_p1_ceil_832_7` 0.454
//! -> 0.143 (ORT 0.067 in the table's run), `maxpool2x2s2_ceil_832_14` 0.300 -> 0.122 (0.099),
//! `maxpool3x3s1_p1_ceil_480_14` 0.247 -> 0.174 (0.157), `avgpool2x2s2_512_14` 0.136 ->
//! 0.114 (0.069); pools whose rows are 8 outputs or more run the same code as before.
//!
//! An average multiplies each sum by one over its divisor ([`Scales`], made once per call: a
//! row of multipliers per factor the output rows' windows give). Made per plane, the `u128`
//! divisions were a quarter of avgpool3x3s2_excl_96_56's time.
//!
//! The padded row has the input row at `pad_begin` and the reduction's identity around it
//! (-inf for max, 0 for a sum), so windows in the padding or past it need no case of their
//! own: a padded tap never wins a max and adds nothing to a sum. The count an average divides
//! by comes from the windows' [`Span`](super::windows::Span)s, as in PyTorch.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
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
    /// The output row as the AVX-512 kernel's blocks, on `Isa::Avx512` for the windows it
    /// takes.
    #[cfg(target_arch = "x86_64")]
    blocks: Option<avx512::Blocks>,
    /// An average's multipliers, [`Scales`].
    scales: Option<Scales>,
}

/// An average's multipliers, one over the divisor PyTorch uses for each output: a row of
/// multipliers for each factor of the divisor that the output rows' windows give (their rows
/// clipped to the padded input or to the input, or the fixed divisor), so one for every row
/// but the few at the edges, made once per call.
///
/// Multiplying by the reciprocal rounds twice where PyTorch divides once: at most an ulp
/// apart, and exact for the power-of-two windows (2x2).
#[derive(Debug)]
struct Scales {
    /// The multiplier rows, `cols.output()` each.
    values: Vec<f32>,
    /// For each output row, where its multipliers start in `values`.
    row_start: Vec<usize>,
}

/// Values past a padded row that the AVX2 row kernel reads, without using them, when a row
/// has fewer than 8 outputs: a block of 8 at stride 2 reads 14 values past its first window.
const SHORT_ROW_READS: usize = 16;

/// One worker's buffers, reused for every plane it pools.
#[derive(Debug)]
pub(super) struct Scratch {
    /// The padded row: the identity, with the current vertical reduction at `pad_begin`.
    padded: Vec<f32>,
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
        Separable::on_isa(rows, cols, width, reduction, Isa::detect())
    }

    /// The same pool on `isa`'s path, for the tests that compare the paths.
    #[cfg(test)]
    pub fn on(self, isa: Isa) -> Self {
        Separable::on_isa(self.rows, self.cols, self.width, self.reduction, isa)
    }

    pub(super) fn on_isa(
        rows: &'a AxisWindows,
        cols: &'a AxisWindows,
        width: Window,
        reduction: Reduction,
        isa: Isa,
    ) -> Self {
        debug_assert_eq!((rows.dilation, cols.dilation, width.dilation), (1, 1, 1));
        debug_assert_eq!(cols.spans.len(), cols.output());
        Separable {
            rows,
            cols,
            width,
            reduction,
            isa,
            #[cfg(target_arch = "x86_64")]
            blocks: match isa {
                Isa::Avx512(_) => avx512::Blocks::new(cols.input, cols.output(), width),
                _ => None,
            },
            scales: match reduction {
                Reduction::Max => None,
                Reduction::Mean(divisor) => Some(Scales::new(divisor, rows, cols)),
            },
        }
    }

    /// The multipliers of output row `row`, for an average.
    fn scale(&self, row: usize) -> Option<&[f32]> {
        let scales = self.scales.as_ref()?;
        Some(&scales.values[scales.row_start[row]..][..self.cols.output()])
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
    /// the caller has bounded (`Kernel::choose`), and [`SHORT_ROW_READS`] more, so that the
    /// AVX2 kernel reads a whole block of 8 for a row of fewer outputs at stride 1 or 2.
    pub fn scratch(&self) -> Scratch {
        let len = Separable::padded_len(self.cols, self.width).saturating_add(SHORT_ROW_READS);
        let identity = match self.reduction {
            Reduction::Max => f32::NEG_INFINITY,
            Reduction::Mean(_) => 0.0,
        };
        Scratch {
            padded: vec![identity; len],
        }
    }

    /// Pools one row-major `[H, W]` plane into one `[OH, OW]` plane.
    pub fn plane(&self, scratch: &mut Scratch, x: &[f32], y: &mut [f32]) {
        let width = self.cols.input;
        debug_assert_eq!(x.len(), self.rows.input * width);
        debug_assert_eq!(y.len(), self.rows.output() * self.cols.output());
        #[cfg(target_arch = "x86_64")]
        if let (Some(blocks), Isa::Avx512(_)) = (&self.blocks, self.isa) {
            return self.plane_avx512(blocks, x, y);
        }
        for (o, (&row, y_row)) in self
            .rows
            .spans
            .iter()
            .zip(y.chunks_exact_mut(self.cols.output()))
            .enumerate()
        {
            // Undilated windows always hold at least one input row.
            debug_assert!(row.taps > 0);
            let rows = &x[row.first * width..][..row.taps * width];
            let scale = self.scale(o);
            match self.reduction {
                Reduction::Max => self.row::<true>(rows, &mut scratch.padded, scale, y_row),
                Reduction::Mean(_) => self.row::<false>(rows, &mut scratch.padded, scale, y_row),
            }
        }
    }

    /// [`Separable::plane`] on the AVX-512 kernel, one call per run of output rows that share
    /// a `scale` (every row for a max; for an average, the rows between the edges where the
    /// divisor's row factor changes).
    #[cfg(target_arch = "x86_64")]
    fn plane_avx512(&self, blocks: &avx512::Blocks, x: &[f32], y: &mut [f32]) {
        let (spans, width, output) = (&self.rows.spans[..], self.cols.input, self.cols.output());
        let mut start = 0;
        while start < spans.len() {
            let rows = match &self.scales {
                None => spans.len(),
                Some(scales) => {
                    let row_start = &scales.row_start[start..];
                    row_start.iter().take_while(|&&r| r == row_start[0]).count()
                }
            };
            let scale = self.scale(start);
            let run = &spans[start..start + rows];
            let out = &mut y[start * output..(start + rows) * output];
            // SAFETY: `blocks` is made only for an `Isa::Avx512` pool, and an `Avx512` value
            // exists only on a CPU with AVX-512F, AVX2 and FMA.
            unsafe {
                match self.reduction {
                    Reduction::Max => avx512::rows::<true>(x, width, run, blocks, scale, out),
                    Reduction::Mean(_) => avx512::rows::<false>(x, width, run, blocks, scale, out),
                }
            }
            start += rows;
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
}

impl Scales {
    /// The multipliers of an average by `divisor` over windows `rows` by `cols`.
    fn new(divisor: Divisor, rows: &AxisWindows, cols: &AxisWindows) -> Scales {
        let mut factors: Vec<u128> = Vec::new();
        let mut values = Vec::new();
        let row_start = rows
            .spans
            .iter()
            .map(|&row| {
                let factor = row_factor(divisor, row);
                if let Some(i) = factors.iter().position(|&f| f == factor) {
                    return i * cols.output();
                }
                factors.push(factor);
                let start = values.len();
                values.extend(cols.spans.iter().map(|col| {
                    // u128: two huge kernels can overflow usize; f32 of the integer, as
                    // PyTorch. (Undilated windows always hold an input element, so no
                    // divisor is 0.)
                    let divide_by = match divisor {
                        Divisor::Padded => factor * col.padded as u128,
                        Divisor::Taps => factor * col.taps as u128,
                        Divisor::Fixed(_) => factor,
                    };
                    1.0 / divide_by as f32
                }));
                start
            })
            .collect();
        Scales { values, row_start }
    }
}

/// The factor of an average's divisor that an output row whose windows span `row` vertically
/// gives: the rows of its window for `Padded` and `Taps`, the whole divisor for `Fixed`. In
/// `u128`, where the column's factor multiplies it.
fn row_factor(divisor: Divisor, row: Span) -> u128 {
    match divisor {
        Divisor::Padded => row.padded as u128,
        Divisor::Taps => row.taps as u128,
        Divisor::Fixed(d) => d as u128,
    }
}
