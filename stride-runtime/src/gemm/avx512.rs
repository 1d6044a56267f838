//! The AVX-512 micro-kernel: a 6 × 64 tile in 24 zmm registers.
//!
//! Each step loads four zmm vectors of `B`'s row and multiplies each of the 6 broadcast
//! values of `A` into them: 24 FMAs for 4 loads and 6 broadcasts, and 24 + 4 + 1 of the 32
//! registers. The `A` panels are the AVX2 kernel's (6 rows), so a layer packs its weights the
//! same way on either; the packed `B` block is too (rows padded to [`NR`]), the tile just
//! reads four of its 16-column panels at a time.
//!
//! A tile narrower than 64 columns multiplies only the vectors it has (a 7 × 7 plane of 49
//! columns runs 4 vectors, its neighbour with 1 column 1), and an edge panel of `A` only its
//! real rows, as on AVX2. Rows of contiguous columns are finished in registers, activation
//! included, the last vector of a ragged row under a mask; other tiles go through
//! [`write_tile`].

use core::arch::x86_64::*;

use super::tile::{Tile, write_tile};
use super::{MR, NR, NR_WIDE};
use crate::simd::activation::avx512 as act;

/// Lanes of a zmm register.
const LANES: usize = 16;

/// Vectors across the tile.
const VECTORS: usize = NR_WIDE / LANES;

const _: () = assert!(NR_WIDE.is_multiple_of(LANES) && NR.is_multiple_of(LANES) && VECTORS == 4);

/// Runs `kc` steps of an `A` panel times a `B` panel and writes the tile.
///
/// # Safety
/// The CPU has AVX-512F, AVX2 and FMA; `a` holds `kc * MR` values and `b` `kc` rows of
/// `tile.cols` rounded up to [`NR`] values, `ldb` apart; `tile` describes elements of one
/// live `C` that nothing else touches meanwhile.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn kernel(kc: usize, a: &[f32], b: &[f32], ldb: usize, tile: &Tile) {
    // SAFETY (every arm): the caller's promises are `rows`'s, and `cols.div_ceil(16)`
    // vectors of a row are its `cols` rounded up to `NR`.
    unsafe {
        match tile.cols.div_ceil(LANES) {
            1 => rows::<1>(kc, a, b, ldb, tile),
            2 => rows::<2>(kc, a, b, ldb, tile),
            3 => rows::<3>(kc, a, b, ldb, tile),
            _ => rows::<VECTORS>(kc, a, b, ldb, tile),
        }
    }
}

/// [`kernel`] for a tile of `V` vectors across, by its rows.
///
/// # Safety
/// As [`kernel`], and `b`'s rows hold `V` vectors.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn rows<const V: usize>(kc: usize, a: &[f32], b: &[f32], ldb: usize, tile: &Tile) {
    // An edge panel of `A` multiplies only its real rows, as on AVX2.
    // SAFETY (every arm): the caller's promises are `tile_of`'s.
    unsafe {
        match tile.rows {
            1 => tile_of::<1, V>(kc, a, b, ldb, tile),
            2 => tile_of::<2, V>(kc, a, b, ldb, tile),
            3 => tile_of::<3, V>(kc, a, b, ldb, tile),
            4 => tile_of::<4, V>(kc, a, b, ldb, tile),
            5 => tile_of::<5, V>(kc, a, b, ldb, tile),
            _ => tile_of::<MR, V>(kc, a, b, ldb, tile),
        }
    }
}

/// The tile of `R` rows (`tile.rows == R`) and `V` vectors.
///
/// # Safety
/// As [`rows`].
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn tile_of<const R: usize, const V: usize>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
) {
    debug_assert!(a.len() >= kc * MR && (kc == 0 || b.len() >= (kc - 1) * ldb + V * LANES));
    debug_assert!(tile.rows == R && R <= MR && tile.cols.div_ceil(LANES) == V);
    let (mut a, mut b) = (a.as_ptr(), b.as_ptr());
    let mut c = [[_mm512_setzero_ps(); V]; R];
    // Two steps per iteration, as on AVX2.
    let mut steps = kc;
    while steps >= 2 {
        // SAFETY: at least two steps remain; `a` holds `MR` values per step and `b` a row
        // of `V` vectors every `ldb`.
        unsafe {
            step(&mut c, a, b);
            step(&mut c, a.add(MR), b.add(ldb));
            a = a.add(2 * MR);
            b = b.add(2 * ldb);
        }
        steps -= 2;
    }
    if steps == 1 {
        // SAFETY: one step remains.
        unsafe { step(&mut c, a, b) };
    }

    if tile.col_stride == 1 {
        // SAFETY: a tile of `R` rows of `cols` contiguous values from `tile.c`, which the
        // caller vouched for.
        unsafe { write_rows(&c, tile) };
    } else {
        let mut acc = [[0.0f32; NR_WIDE]; R];
        for (out, row) in acc.iter_mut().zip(&c) {
            for (v, &vector) in row.iter().enumerate() {
                // SAFETY: `out` has room for `V <= 4` vectors of 16.
                unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(v * LANES), vector) };
            }
        }
        // SAFETY: as the caller promised.
        unsafe { write_tile(&acc, tile) };
    }
}

/// One step: `c[i][v] += a[i] * b[v]` for the tile's rows and vectors.
///
/// # Safety
/// `a` points at `R` readable values and `b` at `V` vectors.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn step<const R: usize, const V: usize>(
    c: &mut [[__m512; V]; R],
    a: *const f32,
    b: *const f32,
) {
    // SAFETY: `b` points at `V` vectors of readable values and `a` at `R`.
    unsafe {
        let b: [__m512; V] = core::array::from_fn(|v| _mm512_loadu_ps(b.add(v * LANES)));
        for (i, row) in c.iter_mut().enumerate() {
            let a = _mm512_set1_ps(*a.add(i));
            for (acc, &b) in row.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(a, b, *acc);
            }
        }
    }
}

/// The epilogue of a tile of `R` rows of `tile.cols` contiguous values, in registers: the
/// last vector of each row under a mask when the row ends inside it.
///
/// # Safety
/// The CPU has AVX-512F; `tile` has `R` rows of `cols` contiguous values, live and unshared.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn write_rows<const R: usize, const V: usize>(c: &[[__m512; V]; R], tile: &Tile) {
    let ragged = tile.cols % LANES;
    let last: __mmask16 = if ragged == 0 { !0 } else { (1 << ragged) - 1 };
    for (i, row) in c.iter().enumerate() {
        // SAFETY: row `i < R` of the tile.
        let out = unsafe { tile.c.add(i * tile.row_stride) };
        let bias = tile
            .finish
            .and_then(|f| f.bias)
            .map(|bias| _mm512_set1_ps(bias[i]));
        for (v, &vector) in row.iter().enumerate() {
            let mask = if v + 1 == V { last } else { !0 };
            // SAFETY: vector `v` of the row, `mask` covering just its columns below `cols`.
            let out = unsafe { out.add(v * LANES) };
            let mut value = vector;
            if tile.load {
                // SAFETY: as above; masked-off lanes are not read.
                value = _mm512_add_ps(value, unsafe { _mm512_maskz_loadu_ps(mask, out) });
            }
            if let Some(finish) = tile.finish {
                if let Some(bias) = bias {
                    value = _mm512_add_ps(value, bias);
                }
                value = act::apply(finish.activation, value);
            }
            // SAFETY: as above; masked-off lanes are not written.
            unsafe { _mm512_mask_storeu_ps(out, mask, value) };
        }
    }
}
