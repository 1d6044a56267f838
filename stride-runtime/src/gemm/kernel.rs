//! The micro-kernels: one `MR × NR` tile of `C` from an `A` panel and a `B` panel, and the
//! epilogue that writes it. [`Kernel`] picks the AVX2 + FMA one or the portable one.

use super::{MR, NR};
use crate::ops::Activation;

/// Where a finished tile goes and what happens on the way.
#[derive(Debug)]
pub(crate) struct Tile<'a> {
    /// Element `(0, 0)` of the tile in `C`.
    pub c: *mut f32,
    /// Distance between rows of `C`.
    pub row_stride: usize,
    /// Distance between columns of `C`.
    pub col_stride: usize,
    /// Rows of the tile that exist in `C`, `1..=MR`.
    pub rows: usize,
    /// Columns of the tile that exist in `C`, `1..=NR`.
    pub cols: usize,
    /// Add the tile to `C`'s current values instead of overwriting them.
    pub load: bool,
    /// For the last `K` block only: the bias of the tile's rows and the activation.
    pub finish: Option<Finish<'a>>,
}

/// The end of the epilogue, applied once a tile has its whole sum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finish<'a> {
    /// The bias of the tile's `rows` rows.
    pub bias: Option<&'a [f32]>,
    /// The activation.
    pub activation: Activation,
}

/// A micro-kernel. Only [`Kernel::detect`] and [`Kernel::avx2`] make the AVX2 one, and they
/// check the CPU first, so holding a `Kernel::Avx2` proves the instructions exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// Plain Rust loops, for any CPU and for `STRIDE_FORCE_SCALAR`.
    Scalar,
    /// 6 × 16 with twelve ymm accumulators and fused multiply-add.
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2Token),
}

/// Proof that the CPU has AVX2 and FMA; only [`Kernel::avx2`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Avx2Token(());

impl Kernel {
    /// The kernel [`crate::simd::avx2_fma`] chooses.
    pub(crate) fn detect() -> Kernel {
        if crate::simd::avx2_fma() {
            if let Some(kernel) = Kernel::avx2() {
                return kernel;
            }
        }
        Kernel::Scalar
    }

    /// The AVX2 + FMA kernel, if the CPU has both.
    pub(crate) fn avx2() -> Option<Kernel> {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Some(Kernel::Avx2(Avx2Token(())));
        }
        None
    }

    /// Runs `kc` steps of a panel of `A` (`kc * MR` values) times a panel of `B` (`kc` rows
    /// of `NR` values, `ldb` apart) and writes the tile.
    ///
    /// # Safety
    /// `tile` describes elements of one live `C` that nothing else reads or writes meanwhile.
    #[inline]
    pub(crate) unsafe fn run(self, kc: usize, a: &[f32], b: &[f32], ldb: usize, tile: &Tile) {
        // Checked for real: the AVX2 kernel reads `a` and `b` through raw pointers, and a
        // tile of `kc` ≥ 100 steps makes the check's cost vanish.
        assert!(a.len() >= kc * MR && (kc == 0 || (ldb >= NR && b.len() >= (kc - 1) * ldb + NR)));
        debug_assert!((1..=MR).contains(&tile.rows) && (1..=NR).contains(&tile.cols));
        debug_assert!(
            tile.finish
                .is_none_or(|f| f.bias.is_none_or(|b| b.len() == tile.rows))
        );
        match self {
            // SAFETY: the caller's promise about `tile` is this function's.
            Kernel::Scalar => unsafe { scalar(kc, a, b, ldb, tile) },
            // SAFETY: an `Avx2Token` exists only where the CPU has AVX2 and FMA, and the
            // caller's promise about `tile` is this function's.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(_) => unsafe { super::avx2::kernel(kc, a, b, ldb, tile) },
        }
    }
}

/// The portable kernel: the same tile, in plain loops the compiler vectorizes as the
/// target's baseline allows.
///
/// # Safety
/// As [`Kernel::run`].
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

/// Writes the tile's `rows × cols` corner of `acc` into `C`, element by element, with the
/// whole epilogue: the path of the portable kernel and of the AVX2 kernel's edge tiles.
///
/// # Safety
/// As [`Kernel::run`].
pub(super) unsafe fn write_tile(acc: &[[f32; NR]; MR], tile: &Tile) {
    for (i, row) in acc.iter().enumerate().take(tile.rows) {
        let bias = tile.finish.and_then(|f| f.bias).map_or(0.0, |b| b[i]);
        for (j, &v) in row.iter().enumerate().take(tile.cols) {
            // SAFETY: `i < rows` and `j < cols`, inside the tile the caller vouched for.
            let c = unsafe { tile.c.add(i * tile.row_stride + j * tile.col_stride) };
            let mut v = v;
            if tile.load {
                // SAFETY: as above.
                v += unsafe { *c };
            }
            if let Some(finish) = tile.finish {
                v = finish.activation.apply(v + bias);
            }
            // SAFETY: as above.
            unsafe { *c = v };
        }
    }
}
