//! Packed operands: `A` in panels of [`MR`] rows, packed once; `B` in panels of [`NR`]
//! columns, packed per `K × N` block by a [`PackB`] source.
//!
//! A packed `A` panel holds, for each `k`, the panel's `MR` values of column `k` side by side;
//! a packed `B` panel holds, for each `k`, its `NR` values of row `k`. Rows past `M` and
//! columns past `N` are zeros, so the micro-kernel always runs a whole tile.

use super::{MR, NR};

/// `A` (`M × K`) packed into `ceil(M / MR)` panels, each `K` steps of `MR` values: the
/// layout the micro-kernel reads, made once (for a layer, when it is built).
#[derive(Clone, PartialEq)]
pub(crate) struct PackedA {
    m: usize,
    k: usize,
    data: Vec<f32>,
}

impl core::fmt::Debug for PackedA {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The values are the layer's weights, printed by the layer already.
        write!(f, "PackedA {{ m: {}, k: {} }}", self.m, self.k)
    }
}

impl PackedA {
    /// Packs `A[i, p] = data[i * row_stride + p * col_stride]` for `i < m`, `p < k`.
    ///
    /// Panics if an element lies outside `data`.
    pub(crate) fn new(
        data: &[f32],
        m: usize,
        k: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        if m > 0 && k > 0 {
            assert!((m - 1) * row_stride + (k - 1) * col_stride < data.len());
        }
        let panels = m.div_ceil(MR);
        let mut packed = vec![0.0; panels * k * MR];
        if k == 0 {
            return PackedA { m, k, data: packed };
        }
        for (panel, out) in packed.chunks_exact_mut(k * MR).enumerate() {
            let rows = (m - panel * MR).min(MR);
            for (p, step) in out.chunks_exact_mut(MR).enumerate() {
                for (r, v) in step[..rows].iter_mut().enumerate() {
                    *v = data[(panel * MR + r) * row_stride + p * col_stride];
                }
            }
        }
        PackedA { m, k, data: packed }
    }

    /// Packs a row-major `m × k` matrix.
    pub(crate) fn row_major(data: &[f32], m: usize, k: usize) -> Self {
        PackedA::new(data, m, k, k, 1)
    }

    /// Rows, `M`.
    pub(crate) fn m(&self) -> usize {
        self.m
    }

    /// Columns, `K`.
    pub(crate) fn k(&self) -> usize {
        self.k
    }

    /// Steps `k0 .. k0 + kc` of panel `panel` (rows `panel * MR ..`): `kc * MR` values.
    #[inline]
    pub(crate) fn panel(&self, panel: usize, k0: usize, kc: usize) -> &[f32] {
        debug_assert!(panel * MR < self.m && k0 + kc <= self.k);
        &self.data[(panel * self.k + k0) * MR..][..kc * MR]
    }
}

/// A source of `B` (`K × N`) that packs any block of itself into [`NR`]-column panels.
pub(crate) trait PackB: Sync {
    /// Rows, `K`.
    fn k(&self) -> usize;

    /// Columns, `N`.
    fn n(&self) -> usize;

    /// Writes rows `k0 .. k0 + kc` and columns `j0 .. j0 + nc` into `dst` as
    /// `ceil(nc / NR)` panels of `kc × NR` values: column `j0 + j`, row `k0 + p` goes to
    /// `dst[panel_offset(kc, p, j)]`, and the columns of the last panel past `nc` are zeros.
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32]);
}

/// Where column `j` (counted from the block's first) of row `p` goes in a packed `B` block
/// of `kc` rows.
#[inline(always)]
pub(crate) fn panel_offset(kc: usize, p: usize, j: usize) -> usize {
    (j / NR * kc + p) * NR + j % NR
}

/// `B[p, j] = data[p * row_stride + j * col_stride]`: a row-major matrix (`col_stride` 1),
/// a transposed one (`row_stride` 1), or any view between.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StridedB<'a> {
    data: &'a [f32],
    k: usize,
    n: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> StridedB<'a> {
    /// Panics if an element lies outside `data`.
    pub(crate) fn new(
        data: &'a [f32],
        k: usize,
        n: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        if k > 0 && n > 0 {
            assert!((k - 1) * row_stride + (n - 1) * col_stride < data.len());
        }
        StridedB {
            data,
            k,
            n,
            row_stride,
            col_stride,
        }
    }

    /// A row-major `k × n` matrix.
    pub(crate) fn row_major(data: &'a [f32], k: usize, n: usize) -> Self {
        StridedB::new(data, k, n, n, 1)
    }
}

impl PackB for StridedB<'_> {
    fn k(&self) -> usize {
        self.k
    }

    fn n(&self) -> usize {
        self.n
    }

    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32]) {
        debug_assert!(k0 + kc <= self.k && j0 + nc <= self.n);
        let panels = nc.div_ceil(NR);
        debug_assert!(dst.len() >= panels * kc * NR);
        for (panel, out) in dst[..panels * kc * NR]
            .chunks_exact_mut(kc * NR)
            .enumerate()
        {
            let first = j0 + panel * NR;
            let cols = (nc - panel * NR).min(NR);
            for (p, row) in out.chunks_exact_mut(NR).enumerate() {
                let start = (k0 + p) * self.row_stride + first * self.col_stride;
                if self.col_stride == 1 {
                    if cols == NR {
                        // The common case, a fixed-size copy the compiler unrolls.
                        row.copy_from_slice(&self.data[start..start + NR]);
                    } else {
                        row[..cols].copy_from_slice(&self.data[start..start + cols]);
                        row[cols..].fill(0.0);
                    }
                } else {
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = if j < cols {
                            self.data[start + j * self.col_stride]
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
    }
}

impl super::Kernel {
    /// `dst[t] = src[t * stride]` for every `t` of `dst`, the strided copy of a convolution's
    /// `B` packing; stride 2 (every strided layer of ResNet and VGG) has an AVX2 form.
    #[inline]
    pub(crate) fn copy_strided(self, dst: &mut [f32], src: &[f32], stride: usize) {
        debug_assert!(dst.is_empty() || (dst.len() - 1) * stride < src.len());
        let done = match self {
            // SAFETY: an `Avx2Token` exists only where the CPU has AVX2.
            #[cfg(target_arch = "x86_64")]
            super::Kernel::Avx2(_) if stride == 2 => unsafe { super::avx2::every_other(dst, src) },
            _ => 0,
        };
        let src = &src[done * stride..];
        for (d, &v) in dst[done..].iter_mut().zip(src.iter().step_by(stride)) {
            *d = v;
        }
    }
}
