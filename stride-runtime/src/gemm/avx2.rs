//! The AVX2 + FMA micro-kernel: a 6 × 16 tile in twelve ymm registers.
//!
//! Each step broadcasts one value of `A` per row and multiplies it into the two ymm halves
//! of `B`'s row: 12 FMAs for 2 loads and 6 broadcasts. Edge panels of `A` (fewer than 6
//! rows) run a kernel with that many rows. Tiles of 16 contiguous columns whose activation
//! has a vector form are finished in registers; column edges and the transcendental
//! activations go through [`write_tile`], the portable kernel's epilogue.

use core::arch::x86_64::*;

use super::kernel::{Tile, write_tile};
use super::{MR, NR};
use crate::ops::activation::avx2 as act;

/// Runs `kc` steps of an `A` panel times a `B` panel and writes the tile.
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `kc * MR` values and `b` `kc` rows of `NR`, `ldb`
/// apart; `tile` describes elements of one live `C` that nothing else touches meanwhile.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel(kc: usize, a: &[f32], b: &[f32], ldb: usize, tile: &Tile) {
    // An edge panel of `A` multiplies only its real rows: M = 64 leaves 4 of 6 in the last
    // panel, and computing the 2 padding rows would cost 3% of the layer.
    // SAFETY: the caller's promises are `rows`'s.
    unsafe {
        match tile.rows {
            1 => rows::<1>(kc, a, b, ldb, tile),
            2 => rows::<2>(kc, a, b, ldb, tile),
            3 => rows::<3>(kc, a, b, ldb, tile),
            4 => rows::<4>(kc, a, b, ldb, tile),
            5 => rows::<5>(kc, a, b, ldb, tile),
            _ => rows::<MR>(kc, a, b, ldb, tile),
        }
    }
}

/// [`kernel`] for a tile of `R` rows (`tile.rows == R`).
///
/// # Safety
/// As [`kernel`].
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn rows<const R: usize>(kc: usize, a: &[f32], b: &[f32], ldb: usize, tile: &Tile) {
    debug_assert!(a.len() >= kc * MR && (kc == 0 || b.len() >= (kc - 1) * ldb + NR));
    debug_assert!(tile.rows == R && R <= MR);
    let (mut a, mut b) = (a.as_ptr(), b.as_ptr());
    let mut c = [[_mm256_setzero_ps(); 2]; R];
    // Two steps per iteration, so the loop's own bookkeeping is half as often in the way.
    let mut steps = kc;
    while steps >= 2 {
        // SAFETY: at least two steps remain; `a` holds `MR` values per step and `b` a row
        // of `NR` every `ldb`.
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

    let vector_activation = tile
        .finish
        .is_none_or(|f| act::has_vector_form(f.activation));
    if tile.cols == NR && tile.col_stride == 1 && vector_activation {
        // SAFETY: a tile of `R` rows of `NR` contiguous values from `tile.c`, which the
        // caller vouched for.
        unsafe { write_full(&c, tile) };
    } else {
        let mut acc = [[0.0f32; NR]; MR];
        for (out, v) in acc.iter_mut().zip(&c) {
            // SAFETY: `out` has room for the 16 values of the two stores.
            unsafe {
                _mm256_storeu_ps(out.as_mut_ptr(), v[0]);
                _mm256_storeu_ps(out.as_mut_ptr().add(8), v[1]);
            }
        }
        // SAFETY: as the caller promised.
        unsafe { write_tile(&acc, tile) };
    }
}

/// One step: `c[i] += a[i] * b` for the tile's rows.
///
/// # Safety
/// `a` points at `R` readable values and `b` at `NR`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn step<const R: usize>(c: &mut [[__m256; 2]; R], a: *const f32, b: *const f32) {
    // SAFETY: `b` points at 16 readable values and `a` at `R`.
    unsafe {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (i, row) in c.iter_mut().enumerate() {
            let a = _mm256_broadcast_ss(&*a.add(i));
            row[0] = _mm256_fmadd_ps(a, b0, row[0]);
            row[1] = _mm256_fmadd_ps(a, b1, row[1]);
        }
    }
}

/// The epilogue of a tile of `R` whole rows of contiguous values, in registers.
///
/// # Safety
/// The CPU has AVX2; `tile` has `R` rows of `NR` contiguous values, live and unshared;
/// its activation is not one of the transcendental ones.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn write_full<const R: usize>(c: &[[__m256; 2]; R], tile: &Tile) {
    for (i, row) in c.iter().enumerate() {
        // SAFETY: row `i < R` of the tile, `NR` contiguous values.
        let out = unsafe { tile.c.add(i * tile.row_stride) };
        let [mut v0, mut v1] = *row;
        if tile.load {
            // SAFETY: as above.
            unsafe {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(out));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(out.add(8)));
            }
        }
        if let Some(finish) = tile.finish {
            if let Some(bias) = finish.bias {
                let b = _mm256_set1_ps(bias[i]);
                v0 = _mm256_add_ps(v0, b);
                v1 = _mm256_add_ps(v1, b);
            }
            debug_assert!(act::has_vector_form(finish.activation));
            v0 = act::apply(finish.activation, v0);
            v1 = act::apply(finish.activation, v1);
        }
        // SAFETY: as above.
        unsafe {
            _mm256_storeu_ps(out, v0);
            _mm256_storeu_ps(out.add(8), v1);
        }
    }
}

/// `dst[t] = src[2 * t]` for as many leading `t` as whole groups of 8 allow while 16 values
/// of `src` remain readable; returns how many it wrote. The rest is the caller's.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn every_other(dst: &mut [f32], src: &[f32]) -> usize {
    let mut t = 0;
    while t + 8 <= dst.len() && 2 * t + 16 <= src.len() {
        // SAFETY: `src[2t .. 2t + 16]` and `dst[t .. t + 8]` are in bounds (checked above).
        unsafe {
            let lo = _mm256_loadu_ps(src.as_ptr().add(2 * t));
            let hi = _mm256_loadu_ps(src.as_ptr().add(2 * t + 8));
            // Per 128-bit lane: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]; then the 64-bit pairs
            // in the order 0, 2, 1, 3 give [lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6].
            let even = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
            let even = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                even,
            )));
            _mm256_storeu_ps(dst.as_mut_ptr().add(t), even);
        }
        t += 8;
    }
    t
}

/// `dst.copy_from_slice(src)` in vector moves with no library call: the runs packing copies
/// are a few dozen values, where `memmove`'s call and setup cost more than the copy. A short
/// tail is one more move that overlaps the previous one; below 8 values, two overlapping
/// moves of 4, 2 or 1. (Not a masked store, which AMD cores run slowly, and not one store a
/// step, a loop LLVM turns back into a `memcpy` call.)
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn copy(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy lengths");
    let (d, s, n) = (dst.as_mut_ptr(), src.as_ptr(), dst.len());
    // SAFETY: every move below reads `src[i .. i + w]` and writes `dst[i .. i + w]` with
    // `i + w <= n`, in bounds of both slices, which do not overlap.
    unsafe {
        if n >= 8 {
            let mut i = 0;
            while i + 16 <= n {
                let (a, b) = (_mm256_loadu_ps(s.add(i)), _mm256_loadu_ps(s.add(i + 8)));
                _mm256_storeu_ps(d.add(i), a);
                _mm256_storeu_ps(d.add(i + 8), b);
                i += 16;
            }
            if i + 8 <= n {
                _mm256_storeu_ps(d.add(i), _mm256_loadu_ps(s.add(i)));
                i += 8;
            }
            if i < n {
                _mm256_storeu_ps(d.add(n - 8), _mm256_loadu_ps(s.add(n - 8)));
            }
        } else if n >= 4 {
            _mm_storeu_ps(d, _mm_loadu_ps(s));
            _mm_storeu_ps(d.add(n - 4), _mm_loadu_ps(s.add(n - 4)));
        } else if n >= 2 {
            d.cast::<u64>()
                .write_unaligned(s.cast::<u64>().read_unaligned());
            let (d, s) = (d.add(n - 2), s.add(n - 2));
            d.cast::<u64>()
                .write_unaligned(s.cast::<u64>().read_unaligned());
        } else if n == 1 {
            *d = *s;
        }
    }
}
