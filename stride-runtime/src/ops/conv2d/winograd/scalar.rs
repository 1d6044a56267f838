//! The portable transforms, tile by tile, with the same sums as the AVX2 ones.

use super::tile::{LANES, OUT, POSITIONS, Place, SIDE};
use crate::simd::Activation;

/// `Bᵀ d` for one column `d` of a patch, factored: 14 additions and multiplies instead of 36.
#[inline(always)]
pub(super) fn input_1d(d: [f32; SIDE]) -> [f32; SIDE] {
    let (s12, s34) = (d[1] + d[2], d[3] + d[4]);
    let (d12, d43) = (d[1] - d[2], d[4] - d[3]);
    let (e, f) = (d[3] - d[1], d[4] - d[2]);
    [
        4.0 * d[0] - 5.0 * d[2] + d[4],
        s34 - 4.0 * s12,
        d43 + 4.0 * d12,
        f + 2.0 * e,
        f - 2.0 * e,
        4.0 * d[1] - 5.0 * d[3] + d[5],
    ]
}

/// `Aᵀ m` for one column `m` of a transformed tile, factored.
#[inline(always)]
pub(super) fn output_1d(m: [f32; SIDE]) -> [f32; OUT] {
    let (a, b) = (m[1] + m[2], m[1] - m[2]);
    let (c, d) = (m[3] + m[4], m[3] - m[4]);
    [m[0] + a + c, b + 2.0 * d, a + 4.0 * c, b + 8.0 * d + m[5]]
}

/// Transforms the patches of a group of tiles: for tile `t` of `places`, the 6x6 patch at
/// `staged[place.input..]` (rows `stride` apart) becomes `V = Bᵀ d B`, whose position `ξ`
/// goes to `v[ξ * v_stride + t]`.
pub(super) fn input_group(
    staged: &[f32],
    stride: usize,
    places: &[Place; LANES],
    v: &mut [f32],
    v_stride: usize,
) {
    debug_assert!(v.len() > (POSITIONS - 1) * v_stride + LANES - 1);
    for (t, place) in places.iter().enumerate() {
        // Along each row first (the columns of `d` combined), then along each column.
        let mut rows = [[0.0; SIDE]; SIDE];
        for (r, row) in rows.iter_mut().enumerate() {
            let d = &staged[place.input + r * stride..][..SIDE];
            *row = input_1d(d.try_into().expect("6 values"));
        }
        for k in 0..SIDE {
            let column = input_1d(rows.map(|row| row[k]));
            for (i, &value) in column.iter().enumerate() {
                v[(SIDE * i + k) * v_stride + t] = value;
            }
        }
    }
}

/// Transforms a group of tiles of one output channel back and writes them: tile `t` of
/// `places` is `Y = Aᵀ M A` of the `M` whose position `ξ` is `m[ξ * m_stride + t]`, plus
/// `bias`, through `activation`, written at `plane + place.output` (rows `ow` apart), its
/// `place.rows × place.cols` corner only.
///
/// # Safety
/// Every place's corner lies inside the plane at `plane`, which nothing else touches
/// meanwhile.
pub(super) unsafe fn output_group(
    m: &[f32],
    m_stride: usize,
    bias: f32,
    activation: Activation,
    plane: *mut f32,
    ow: usize,
    places: &[Place; LANES],
) {
    debug_assert!(m.len() > (POSITIONS - 1) * m_stride + LANES - 1);
    for (t, place) in places.iter().enumerate() {
        if place.rows == 0 {
            continue;
        }
        // Along each row of M first, then along each column of the result.
        let mut rows = [[0.0; OUT]; SIDE];
        for (i, row) in rows.iter_mut().enumerate() {
            *row = output_1d(core::array::from_fn(|k| m[(SIDE * i + k) * m_stride + t]));
        }
        for q in 0..place.cols {
            let column = output_1d(rows.map(|row| row[q]));
            for (p, &value) in column.iter().enumerate().take(place.rows) {
                // SAFETY: `p < rows` and `q < cols`, inside the corner the caller vouched for.
                unsafe { *plane.add(place.output + p * ow + q) = activation.apply(value + bias) };
            }
        }
    }
}
