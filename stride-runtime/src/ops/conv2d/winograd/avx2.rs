//! The AVX2 + FMA transforms: 8 tiles at once, tile `t` in lane `t` of every vector.
//!
//! A row of a tile's patch is 4 + 2 consecutive inputs. Loading row `r` of tiles `j` and
//! `j + 4` into the two halves of one vector, for `j = 0..4`, and transposing the 4x4 block
//! in each half turns the rows into columns: vector `c` holds input `c` of row `r` of all 8
//! tiles, in tile order. From there both transforms are element-wise, the same sums as
//! [`super::scalar`] with fused multiply-adds; the output transform turns its columns back
//! into rows with the same transpose and stores each tile's row as one 4-value store.

use core::arch::x86_64::*;

use super::tile::{LANES, OUT, POSITIONS, Place, SIDE};
use crate::simd::Activation;
use crate::simd::activation::avx2 as act;

/// Transposes the 4x4 block in each 128-bit half: from `r[j]` = (tile `j`'s 4 values |
/// tile `j + 4`'s), `c[k]` = (value `k` of tiles 0..4 | value `k` of tiles 4..8).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn transpose4(r: [__m256; 4]) -> [__m256; 4] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]); // a0 b0 a1 b1
    let t1 = _mm256_unpackhi_ps(r[0], r[1]); // a2 b2 a3 b3
    let t2 = _mm256_unpacklo_ps(r[2], r[3]); // c0 d0 c1 d1
    let t3 = _mm256_unpackhi_ps(r[2], r[3]); // c2 d2 c3 d3
    [
        _mm256_shuffle_ps::<0b01_00_01_00>(t0, t2),
        _mm256_shuffle_ps::<0b11_10_11_10>(t0, t2),
        _mm256_shuffle_ps::<0b01_00_01_00>(t1, t3),
        _mm256_shuffle_ps::<0b11_10_11_10>(t1, t3),
    ]
}

/// The first two vectors of [`transpose4`]: the patch's columns 4 and 5 (6 and 7 are not
/// read by the transform).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn transpose4_first2(r: [__m256; 4]) -> [__m256; 2] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    [
        _mm256_shuffle_ps::<0b01_00_01_00>(t0, t2),
        _mm256_shuffle_ps::<0b11_10_11_10>(t0, t2),
    ]
}

/// [`super::scalar::input_1d`] on 8 lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn input_1d(d: [__m256; SIDE]) -> [__m256; SIDE] {
    let (two, four, minus_five) = (
        _mm256_set1_ps(2.0),
        _mm256_set1_ps(4.0),
        _mm256_set1_ps(-5.0),
    );
    let (s12, s34) = (_mm256_add_ps(d[1], d[2]), _mm256_add_ps(d[3], d[4]));
    let (d12, d43) = (_mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));
    let (e, f) = (_mm256_sub_ps(d[3], d[1]), _mm256_sub_ps(d[4], d[2]));
    [
        _mm256_fmadd_ps(four, d[0], _mm256_fmadd_ps(minus_five, d[2], d[4])),
        _mm256_fnmadd_ps(four, s12, s34),
        _mm256_fmadd_ps(four, d12, d43),
        _mm256_fmadd_ps(two, e, f),
        _mm256_fnmadd_ps(two, e, f),
        _mm256_fmadd_ps(four, d[1], _mm256_fmadd_ps(minus_five, d[3], d[5])),
    ]
}

/// [`super::scalar::output_1d`] on 8 lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn output_1d(m: [__m256; SIDE]) -> [__m256; OUT] {
    let (two, four, eight) = (
        _mm256_set1_ps(2.0),
        _mm256_set1_ps(4.0),
        _mm256_set1_ps(8.0),
    );
    let (a, b) = (_mm256_add_ps(m[1], m[2]), _mm256_sub_ps(m[1], m[2]));
    let (c, d) = (_mm256_add_ps(m[3], m[4]), _mm256_sub_ps(m[3], m[4]));
    [
        _mm256_add_ps(_mm256_add_ps(m[0], a), c),
        _mm256_fmadd_ps(two, d, b),
        _mm256_fmadd_ps(four, c, a),
        _mm256_add_ps(_mm256_fmadd_ps(eight, d, b), m[5]),
    ]
}

/// [`super::scalar::input_group`], 8 tiles at once.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn input_group(
    staged: &[f32],
    stride: usize,
    places: &[Place; LANES],
    v: &mut [f32],
    v_stride: usize,
) {
    // Checked for real: the loads and stores below go through raw pointers. Each tile's
    // rows are read 8 values wide (its patch and 2 values beyond).
    for place in places {
        assert!(place.input + (SIDE - 1) * stride + 2 * OUT <= staged.len());
    }
    assert!(v.len() >= (POSITIONS - 1) * v_stride + LANES);
    let mut tiles = [staged.as_ptr(); LANES];
    for (tile, place) in tiles.iter_mut().zip(places) {
        // SAFETY: inside `staged`, as checked above.
        *tile = unsafe { tile.add(place.input) };
    }

    // Along each row of the patches (their columns combined), then along each column:
    // `columns[k][r]` is value `k` of row `r` transformed.
    let mut columns = [[_mm256_setzero_ps(); SIDE]; SIDE];
    for r in 0..SIDE {
        // SAFETY: row `r < 6` of each tile, values `col .. col + 4` with `col <= 4`, all
        // inside `staged` as checked above.
        macro_rules! pair {
            ($j:expr, $col:expr) => {
                unsafe {
                    _mm256_loadu2_m128(
                        tiles[$j + 4].add(r * stride + $col),
                        tiles[$j].add(r * stride + $col),
                    )
                }
            };
        }
        let [d0, d1, d2, d3] = transpose4([pair!(0, 0), pair!(1, 0), pair!(2, 0), pair!(3, 0)]);
        let [d4, d5] =
            transpose4_first2([pair!(0, OUT), pair!(1, OUT), pair!(2, OUT), pair!(3, OUT)]);
        for (column, value) in columns.iter_mut().zip(input_1d([d0, d1, d2, d3, d4, d5])) {
            column[r] = value;
        }
    }
    let out = v.as_mut_ptr();
    for (k, &column) in columns.iter().enumerate() {
        for (i, &value) in input_1d(column).iter().enumerate() {
            // SAFETY: position `6i + k < 36`, 8 values, inside `v` as checked above.
            unsafe { _mm256_storeu_ps(out.add((SIDE * i + k) * v_stride), value) };
        }
    }
}

/// [`super::scalar::output_group`], 8 tiles at once.
///
/// # Safety
/// The CPU has AVX2 and FMA, and the caller keeps [`super::scalar::output_group`]'s promise.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn output_group(
    m: &[f32],
    m_stride: usize,
    bias: f32,
    activation: Activation,
    plane: *mut f32,
    ow: usize,
    places: &[Place; LANES],
) {
    // Checked for real: the loads go through raw pointers.
    assert!(m.len() >= (POSITIONS - 1) * m_stride + LANES);
    let m = m.as_ptr();
    // SAFETY: position `ξ < 36`, 8 values, inside `m` as checked above.
    macro_rules! load {
        ($i:expr, $k:expr) => {
            unsafe { _mm256_loadu_ps(m.add((SIDE * $i + $k) * m_stride)) }
        };
    }
    // Along each row of M (its columns combined), then along each column of the result:
    // `columns[q][i]` is value `q` of row `i` transformed.
    let mut columns = [[_mm256_setzero_ps(); SIDE]; OUT];
    for i in 0..SIDE {
        let row = output_1d([
            load!(i, 0),
            load!(i, 1),
            load!(i, 2),
            load!(i, 3),
            load!(i, 4),
            load!(i, 5),
        ]);
        for (column, value) in columns.iter_mut().zip(row) {
            column[i] = value;
        }
    }
    let bias = _mm256_set1_ps(bias);
    let mut out = [[_mm256_setzero_ps(); OUT]; OUT];
    for (q, &column) in columns.iter().enumerate() {
        for (p, &value) in output_1d(column).iter().enumerate() {
            out[p][q] = act::apply(activation, _mm256_add_ps(value, bias));
        }
    }

    let whole = places.iter().all(|p| p.rows == OUT && p.cols == OUT);
    if whole {
        for (p, out) in out.iter().enumerate() {
            let rows = transpose4(*out);
            for (j, &row) in rows.iter().enumerate() {
                // SAFETY: row `p` of tiles `j` and `j + 4`, 4 values each, inside their
                // places, which the caller vouched for.
                unsafe {
                    let (low, high) = (places[j].output, places[j + 4].output);
                    _mm_storeu_ps(plane.add(low + p * ow), _mm256_castps256_ps128(row));
                    _mm_storeu_ps(plane.add(high + p * ow), _mm256_extractf128_ps::<1>(row));
                }
            }
        }
        return;
    }
    // Tiles cut by the plane's edges, or lanes past the block: through a buffer, tile by
    // tile.
    let mut tiles = [[[0.0f32; OUT]; OUT]; LANES];
    for (p, out) in out.iter().enumerate() {
        let rows = transpose4(*out);
        for (j, &row) in rows.iter().enumerate() {
            // SAFETY: 4 values into a row of 4.
            unsafe {
                _mm_storeu_ps(tiles[j][p].as_mut_ptr(), _mm256_castps256_ps128(row));
                _mm_storeu_ps(
                    tiles[j + 4][p].as_mut_ptr(),
                    _mm256_extractf128_ps::<1>(row),
                );
            }
        }
    }
    for (tile, place) in tiles.iter().zip(places) {
        for (p, row) in tile.iter().enumerate().take(place.rows) {
            for (q, &value) in row.iter().enumerate().take(place.cols) {
                // SAFETY: `p < rows` and `q < cols`, inside the place the caller vouched for.
                unsafe { *plane.add(place.output + p * ow + q) = value };
            }
        }
    }
}
