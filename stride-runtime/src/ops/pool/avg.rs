//! The window-by-window average pooling loop: adaptive and global pooling's kernel, and the
//! reference the separable kernels (`separable.rs`, every sliding average pool) are tested
//! against.

use super::windows::AxisWindows;

/// What a window's sum is divided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Divisor {
    /// The window clipped to the padded input (`count_include_pad = True`).
    Padded,
    /// The number of input elements in the window (`count_include_pad = False`, adaptive bins).
    Taps,
    /// A fixed divisor (`divisor_override`), at least 1.
    Fixed(usize),
}

/// The mean of a plane (at least one value): global pooling's window. Eight running sums over
/// the plane's runs of eight, added pairwise at the end, then the rest, divided by the count.
/// Where one sum would wait on each add in turn (four cycles each), the eight run side by side
/// in one vector register; the order of the adds differs from [`avg_plane`]'s, as PyTorch's
/// own `mean` (which its global pooling calls) differs from its window loop.
pub(super) fn mean(x: &[f32]) -> f32 {
    debug_assert!(!x.is_empty());
    let mut lanes = [0.0f32; 8];
    let mut runs = x.chunks_exact(8);
    for run in &mut runs {
        for (lane, &v) in lanes.iter_mut().zip(run) {
            *lane += v;
        }
    }
    let quads = [0, 1, 2, 3].map(|i| lanes[i] + lanes[i + 4]);
    let sum = (quads[0] + quads[2]) + (quads[1] + quads[3]);
    let sum = runs.remainder().iter().fold(sum, |sum, &v| sum + v);
    sum / x.len() as f32
}

/// Average pools one row-major `[H, W]` plane into one `[OH, OW]` plane, with undilated
/// windows.
///
/// Sums the input rows under an output row's windows into that output row, one contiguous
/// input row at a time (the same order as PyTorch's sum: row by row, left to right), then
/// divides each sum. A window with no input element gives 0, as in PyTorch.
pub(super) fn avg_plane(
    rows: &AxisWindows,
    cols: &AxisWindows,
    divisor: Divisor,
    x: &[f32],
    y: &mut [f32],
) {
    let width = cols.input;
    debug_assert_eq!((rows.dilation, cols.dilation), (1, 1));
    debug_assert_eq!(x.len(), rows.input * width);
    debug_assert_eq!(y.len(), rows.output() * cols.output());
    debug_assert_ne!(divisor, Divisor::Fixed(0));
    for (row_span, y_row) in rows.spans.iter().zip(y.chunks_exact_mut(cols.output())) {
        y_row.fill(0.0);
        for r in row_span.indices(1) {
            let x_row = &x[r * width..][..width];
            for (sum, col_span) in y_row.iter_mut().zip(&cols.spans) {
                *sum = x_row[col_span.first..][..col_span.taps]
                    .iter()
                    .fold(*sum, |sum, &v| sum + v);
            }
        }
        for (out, col_span) in y_row.iter_mut().zip(&cols.spans) {
            let taps = row_span.taps * col_span.taps;
            if taps == 0 {
                *out = 0.0;
                continue;
            }
            // u128: a padded window of two huge kernels can overflow usize; f32 division by
            // the converted integer is what PyTorch does.
            let divide_by = match divisor {
                Divisor::Padded => row_span.padded as u128 * col_span.padded as u128,
                Divisor::Taps => taps as u128,
                Divisor::Fixed(d) => d as u128,
            };
            *out /= divide_by as f32;
        }
    }
}
