//! Nearest upsampling: PyTorch's source-index rule and the loop.

/// The input index each of `output` positions copies along one axis: PyTorch's
/// `min(floor(dst * ratio), input - 1)`, in f32 as PyTorch computes it.
///
/// For most integer scales this is `dst / scale`, but not all: with `ratio = (float)(1/41)`,
/// `41 * ratio` rounds to 0.99999994, so output 41 copies input 0. PyTorch does the same.
pub(super) fn source_indices(
    input: usize,
    output: usize,
    ratio: f32,
) -> impl ExactSizeIterator<Item = usize> {
    debug_assert!(input > 0);
    (0..output)
        // `as usize` saturates, so no ratio can index past the clamp.
        .map(move |dst| ((dst as f32 * ratio).floor() as usize).min(input - 1))
}

/// Fills one row-major output plane from one input plane `width` wide: output `(r, c)` is input
/// `(rows[r], cols[c])`, copied a contiguous input row at a time.
pub(super) fn nearest_plane(
    rows: &[usize],
    cols: &[usize],
    width: usize,
    x: &[f32],
    y: &mut [f32],
) {
    debug_assert_eq!(y.len(), rows.len() * cols.len());
    debug_assert!(cols.iter().all(|&c| c < width));
    for (&r, y_row) in rows.iter().zip(y.chunks_exact_mut(cols.len())) {
        let x_row = &x[r * width..][..width];
        for (out, &c) in y_row.iter_mut().zip(cols) {
            *out = x_row[c];
        }
    }
}
