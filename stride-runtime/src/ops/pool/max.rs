//! The window-by-window max pooling loop: the kernel of dilated max pools, and the reference the
//! separable kernels (`separable.rs`, every undilated max pool) are tested against.

use super::windows::AxisWindows;

/// Max pools one row-major `[H, W]` plane into one `[OH, OW]` plane.
///
/// Walks the output a row at a time: for each input row under the output row's windows, folds
/// that contiguous row into every output of the row. Padding never wins (the fold starts at
/// -inf, so a window with no tap on the input gives -inf, as in PyTorch), and NaN wins over
/// everything (PyTorch's `val > max || isnan(val)`).
pub(super) fn max_plane(rows: &AxisWindows, cols: &AxisWindows, x: &[f32], y: &mut [f32]) {
    let width = cols.input;
    debug_assert_eq!(x.len(), rows.input * width);
    debug_assert_eq!(y.len(), rows.output() * cols.output());
    for (row_span, y_row) in rows.spans.iter().zip(y.chunks_exact_mut(cols.output())) {
        y_row.fill(f32::NEG_INFINITY);
        for r in row_span.indices(rows.dilation) {
            let x_row = &x[r * width..][..width];
            for (out, col_span) in y_row.iter_mut().zip(&cols.spans) {
                *out = x_row[col_span.first..]
                    .iter()
                    .step_by(cols.dilation)
                    .take(col_span.taps)
                    .fold(*out, |max, &v| if v > max || v.is_nan() { v } else { max });
            }
        }
    }
}
