//! The AVX2 + FMA micro-kernel: a 6 × 16 tile in twelve ymm registers.
//!
//! Each step broadcasts one value of `A` per row and multiplies it into the two ymm halves
//! of `B`'s row: 12 FMAs for 2 loads and 6 broadcasts. Edge panels of `A` (fewer than 6
//! rows) run a kernel with that many rows. Tiles of 16 contiguous columns are finished in
//! registers, activation included; column edges go through [`write_tile`], the portable
//! kernel's epilogue.

use core::arch::x86_64::*;

use super::ahead::Ahead;
use super::tile::{Tile, write_tile};
use super::{MR, NR};
use crate::simd::activation::avx2 as act;

/// Runs `kc` steps of an `A` panel times a `B` panel and writes the tile.
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `kc * MR` values and `b` `kc` rows of `NR`, `ldb`
/// apart; `tile` describes elements of one live `C` that nothing else touches meanwhile.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel(
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
    ahead: Ahead,
) {
    // An edge panel of `A` multiplies only its real rows: M = 64 leaves 4 of 6 in the last
    // panel, and computing the 2 padding rows would cost 3% of the layer.
    // SAFETY: the caller's promises are `rows`'s.
    unsafe {
        match tile.rows {
            1 => rows::<1>(kc, a, b, ldb, tile, ahead),
            2 => rows::<2>(kc, a, b, ldb, tile, ahead),
            3 => rows::<3>(kc, a, b, ldb, tile, ahead),
            4 => rows::<4>(kc, a, b, ldb, tile, ahead),
            5 => rows::<5>(kc, a, b, ldb, tile, ahead),
            _ => rows::<MR>(kc, a, b, ldb, tile, ahead),
        }
    }
}

/// One step: `c[i] += a[i] * b` for the tile's rows; `a` points at `R` readable values and
/// `b` at `NR`, which the caller's `unsafe` block vouches for. A macro, not a function, so
/// that it is always part of the tile's loop, as in `avx512.rs` (which says what an `#[inline]`
/// function cost there).
macro_rules! step {
    ($c:expr, $a:expr, $b:expr) => {{
        let (c, a, b): (&mut [[__m256; 2]; R], *const f32, *const f32) = ($c, $a, $b);
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (i, row) in c.iter_mut().enumerate() {
            let a = _mm256_broadcast_ss(&*a.add(i));
            row[0] = _mm256_fmadd_ps(a, b0, row[0]);
            row[1] = _mm256_fmadd_ps(a, b1, row[1]);
        }
    }};
}

/// [`kernel`] for a tile of `R` rows (`tile.rows == R`).
///
/// # Safety
/// As [`kernel`].
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn rows<const R: usize>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
    mut ahead: Ahead,
) {
    debug_assert!(a.len() >= kc * MR && (kc == 0 || b.len() >= (kc - 1) * ldb + NR));
    debug_assert!(tile.rows == R && R <= MR);
    let (mut a, mut b) = (a.as_ptr(), b.as_ptr());
    let mut c = [[_mm256_setzero_ps(); 2]; R];
    // Two steps per iteration, so the loop's own bookkeeping is half as often in the way.
    let mut steps = kc;
    while steps >= 2 {
        ahead.line();
        // SAFETY: at least two steps remain; `a` holds `MR` values per step and `b` a row
        // of `NR` every `ldb`.
        unsafe {
            step!(&mut c, a, b);
            step!(&mut c, a.add(MR), b.add(ldb));
            a = a.add(2 * MR);
            b = b.add(2 * ldb);
        }
        steps -= 2;
    }
    if steps == 1 {
        // SAFETY: one step remains.
        unsafe { step!(&mut c, a, b) };
    }

    if tile.cols == NR && tile.col_stride == 1 {
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

/// The epilogue of a tile of `R` whole rows of contiguous values, in registers.
///
/// # Safety
/// The CPU has AVX2; `tile` has `R` rows of `NR` contiguous values, live and unshared.
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
            // `apply_cheap` inlines; the smooth forms run over the stored tile below.
            if finish.activation.is_cheap() {
                v0 = act::apply_cheap(finish.activation, v0);
                v1 = act::apply_cheap(finish.activation, v1);
            }
        }
        // SAFETY: as above.
        unsafe {
            _mm256_storeu_ps(out, v0);
            _mm256_storeu_ps(out.add(8), v1);
        }
    }
    // A smooth activation over the tile just stored, in one call: `apply` per register was
    // compiled out of line here, a call per register with its constants loaded in each:
    // 14% of the samples of `perf record` on the network benchmark's EfficientNet-B0 run
    // (batch 1, one thread, Zen 3), which went from 30.0 to 27.0 ms with this.
    if let Some(finish) = tile.finish
        && !finish.activation.is_cheap()
    {
        // SAFETY: the tile's `R` rows of `NR` values, as above.
        unsafe { act::map_rows(finish.activation, tile.c, R, NR, tile.row_stride) };
    }
}
