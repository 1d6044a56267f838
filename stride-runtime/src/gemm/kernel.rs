//! The micro-kernels: one tile of `C` from an `A` panel and a `B` panel. [`run`] takes the
//! AVX-512 one (`MR × NR_WIDE`, `avx512.rs`), the AVX2 + FMA one (`MR × NR`, `avx2.rs`) or
//! the portable one (`MR × NR`, here) by the [`Isa`] it is given; [`width`] says how many
//! columns that is.

use super::ahead::Ahead;
use super::tile::{Tile, write_tile};
use super::{MR, NR};
use crate::simd::Isa;

/// Columns of `isa`'s tile: how far the blocked loops step across a packed `B` block.
#[inline]
pub(super) fn width(isa: Isa) -> usize {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => super::NR_WIDE,
        _ => NR,
    }
}

/// Runs `kc` steps of a panel of `A` (`kc * MR` values) times a panel of `B` (`kc` rows of
/// `tile.cols` values rounded up to [`NR`], `ldb` apart) and writes the tile, on `isa`'s
/// kernel.
///
/// # Safety
/// `tile` describes elements of one live `C` that nothing else reads or writes meanwhile.
#[inline]
pub(super) unsafe fn run(
    isa: Isa,
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
    ahead: Ahead,
) {
    // Checked for real: the vector kernels read `a` and `b` through raw pointers, and a tile
    // of `kc` ≥ 100 steps makes the check's cost vanish.
    let row = tile.cols.div_ceil(NR) * NR;
    assert!(a.len() >= kc * MR && (kc == 0 || (ldb >= row && b.len() >= (kc - 1) * ldb + row)));
    debug_assert!((1..=MR).contains(&tile.rows) && (1..=width(isa)).contains(&tile.cols));
    debug_assert!(
        tile.finish
            .is_none_or(|f| f.bias.is_none_or(|b| b.len() == tile.rows))
    );
    match isa {
        // SAFETY: the caller's promise about `tile` is this function's.
        Isa::Scalar => {
            let _ = ahead;
            unsafe { scalar(kc, a, b, ldb, tile) }
        }
        // SAFETY: an `Avx2` value exists only where the CPU has AVX2 and FMA, and the
        // caller's promise about `tile` is this function's.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2(_) => unsafe { super::avx2::kernel(kc, a, b, ldb, tile, ahead) },
        // SAFETY: an `Avx512` value exists only where the CPU has AVX-512F, AVX2 and FMA;
        // `b` holds the rows' values up to `tile.cols` rounded up to a whole vector, as
        // checked above, and the caller's promise about `tile` is this function's.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => unsafe { super::avx512::kernel(kc, a, b, ldb, tile, ahead) },
    }
}

/// The portable kernel: the same tile, in plain loops the compiler vectorizes as the
/// target's baseline allows.
///
/// # Safety
/// As [`run`].
unsafe fn scalar(kc: usize, a: &[f32], b: &[f32], ldb: usize, tile: &Tile) {
    let mut acc = [[0.0f32; NR]; MR];
    for (p, a) in a.chunks_exact(MR).take(kc).enumerate() {
        let b = &b[p * ldb..p * ldb + NR];
        for (row, &a) in acc.iter_mut().zip(a) {
            for (c, &b) in row.iter_mut().zip(b) {
                *c += a * b;
            }
        }
    }
    // SAFETY: as the caller promised.
    unsafe { write_tile(&acc, tile) }
}
