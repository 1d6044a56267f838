//! Bilinear upsampling: PyTorch's source-index and weight rule and the loop.

/// The two input indices one output position interpolates between along one axis, and their
/// weights (`w0 + w1 = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Taps {
    /// The input at or before the source position.
    pub i0: usize,
    /// The next input, or `i0` again at the last input.
    pub i1: usize,
    /// The weight of `i0`.
    pub w0: f32,
    /// The weight of `i1`.
    pub w1: f32,
}

/// The taps of each of `output` positions along one axis, as PyTorch's
/// `compute_source_index_and_lambda` with `align_corners = False`, in f32:
/// `src = max((dst + 0.5) * ratio - 0.5, 0)`, `i0 = min(floor(src), input - 1)`,
/// `w1 = clamp(src - i0, 0, 1)`. When the sizes are equal, each output copies its input.
pub(super) fn source_taps(
    input: usize,
    output: usize,
    ratio: f32,
) -> impl ExactSizeIterator<Item = Taps> {
    debug_assert!(input > 0);
    (0..output).map(move |dst| {
        if output == input {
            return Taps {
                i0: dst,
                i1: dst,
                w0: 1.0,
                w1: 0.0,
            };
        }
        let src = (ratio * (dst as f32 + 0.5) - 0.5).max(0.0);
        // `as usize` saturates, so no ratio can index past the clamp.
        let i0 = (src.floor() as usize).min(input - 1);
        let w1 = (src - i0 as f32).clamp(0.0, 1.0);
        Taps {
            i0,
            i1: if i0 < input - 1 { i0 + 1 } else { i0 },
            w0: 1.0 - w1,
            w1,
        }
    })
}

/// Fills one row-major output plane from one input plane `width` wide: each output row
/// interpolates along the width in its two contiguous input rows, then between them, in
/// PyTorch's order (`(x00*w0 + x01*w1)*h0 + (x10*w0 + x11*w1)*h1`).
pub(super) fn bilinear_plane(rows: &[Taps], cols: &[Taps], width: usize, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(y.len(), rows.len() * cols.len());
    debug_assert!(cols.iter().all(|t| t.i0 < width && t.i1 < width));
    for (h, y_row) in rows.iter().zip(y.chunks_exact_mut(cols.len())) {
        let top = &x[h.i0 * width..][..width];
        let bottom = &x[h.i1 * width..][..width];
        for (out, w) in y_row.iter_mut().zip(cols) {
            let t = top[w.i0] * w.w0 + top[w.i1] * w.w1;
            let b = bottom[w.i0] * w.w0 + bottom[w.i1] * w.w1;
            *out = t * h.w0 + b * h.w1;
        }
    }
}
