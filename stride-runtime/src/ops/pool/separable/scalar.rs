//! The scalar row kernels of the separable pools: the reference for `avx2.rs`, which computes
//! the same values, and the path every machine can take.

/// `acc ⊕ v`: PyTorch's max step (`v` replaces `acc` when `v > acc` or `v` is NaN, so a NaN
/// sticks and a later NaN replaces it), or a sum.
#[inline]
pub(super) fn combine<const MAX: bool>(acc: f32, v: f32) -> f32 {
    if MAX {
        if v > acc || v.is_nan() { v } else { acc }
    } else {
        acc + v
    }
}

/// Reduces `rows.len() / width` contiguous rows of `width` element-wise into `out`, in row
/// order: `out[j] = rows[0][j] ⊕ rows[1][j] ⊕ …`. There is at least one row.
pub(crate) fn vertical<const MAX: bool>(rows: &[f32], width: usize, out: &mut [f32]) {
    debug_assert!(width > 0 && out.len() == width);
    debug_assert!(!rows.is_empty() && rows.len() % width == 0);
    let mut rows = rows.chunks_exact(width);
    out.copy_from_slice(rows.next().expect("at least one row"));
    for row in rows {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = combine::<MAX>(*o, v);
        }
    }
}

/// Reduces each window along a padded row: `out[o] = padded[o*stride] ⊕ … ⊕
/// padded[o*stride + kernel - 1]`, left to right, times `scale[o]` if there is a `scale`.
/// `padded` holds every window.
pub(crate) fn horizontal<const MAX: bool>(
    padded: &[f32],
    kernel: usize,
    stride: usize,
    scale: Option<&[f32]>,
    out: &mut [f32],
) {
    debug_assert!(kernel > 0 && stride > 0);
    debug_assert!(out.is_empty() || padded.len() >= (out.len() - 1) * stride + kernel);
    debug_assert!(scale.is_none_or(|s| s.len() == out.len()));
    for (o, out) in out.iter_mut().enumerate() {
        let window = &padded[o * stride..][..kernel];
        *out = window[1..]
            .iter()
            .fold(window[0], |acc, &v| combine::<MAX>(acc, v));
        if let Some(scale) = scale {
            *out *= scale[o];
        }
    }
}
