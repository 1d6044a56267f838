//! Packed operands: `A` in panels of [`MR`] rows, packed once; `B` as a block of rows, packed
//! per `K × N` block by a [`PackB`] source.
//!
//! A packed `A` panel holds, for each `k`, the panel's `MR` values of column `k` side by side.
//! A packed `B` block holds its rows one after another, [`b_row_stride`] apart, so the kernel
//! reads its [`NR`] columns of row `k` as one aligned cache line. (BLIS stores each `NR`-column
//! panel contiguously instead; for a convolution that costs a second copy, from the im2col
//! row into the panels, which measured as much as the row itself.) Rows past `M` and columns
//! past `N` (up to the next multiple of `NR`) are zeros, so the micro-kernel always runs a
//! whole tile.

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

/// A source of `B` (`K × N`) that packs any block of itself for the micro-kernel.
pub(crate) trait PackB: Sync {
    /// Rows, `K`.
    fn k(&self) -> usize;

    /// Columns, `N`.
    fn n(&self) -> usize;

    /// Writes rows `k0 .. k0 + kc` and columns `j0 .. j0 + nc` into `dst`: row `k0 + p`,
    /// column `j0 + j` goes to `dst[p * row_stride + j]`, and each row is zero from `nc` to
    /// the next multiple of [`NR`]. `row_stride` is [`b_row_stride`]`(nc)`.
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32], row_stride: usize);

    /// The same block as it already lies in memory, when it lies as the micro-kernel reads
    /// a packed block: `(values, row_stride)` with row `p` at `values[p * row_stride..]`,
    /// each row readable for `nc` rounded up to [`NR`] values (the values past `nc`, NaN
    /// included, only reach lanes the micro-kernels never store). The GEMM then reads it in
    /// place instead of packing a copy. `None` (the default): pack it.
    fn view(&self, k0: usize, kc: usize, j0: usize, nc: usize) -> Option<(&[f32], usize)> {
        let _ = (k0, kc, j0, nc);
        None
    }
}

/// The distance between rows of a packed `B` block of `nc` columns: `nc` rounded up to a
/// whole number of [`NR`]-value cache lines, and to an odd number of them, so that the rows
/// of one micro-panel spread over every set of the L1 cache instead of a few (a stride of
/// 24 lines would use 8 of its 64 sets).
pub(crate) fn b_row_stride(nc: usize) -> usize {
    let lines = nc.div_ceil(NR);
    (lines | 1) * NR
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

/// A row-major block (`col_stride` 1) is read in place when its rows are at least a
/// padded panel apart and the padded read stays inside `data` (every block but the last
/// column block of the last rows, whose padding would read past the end): a 1x1
/// convolution's input planes are such rows. Measured on the layer bench (one thread, Zen 5,
/// medians beside ONNX Runtime in one run, twice, with and without this `view`:
/// `bench/compare.sh --threads 1 --suite benches/layers_zoo.json --layer conv1x1_144_24_56`
/// and `bench/compare.sh --threads 1 --layer bottleneck_conv1x1_256_56`): `conv1x1_144_24_56` 0.097 ms in place
/// against 0.122 packed (with 24 output channels the copy is not paid back by reuse);
/// `bottleneck_conv1x1_256_56` 0.44 against 0.50; the other 1x1 layers of both suites the
/// same within the noise. Rows that do not start on a cache line (a 14x14 plane's 196
/// values) read in place as fast as packed onto whole lines: ResNet-50's 1024 -> 256 and
/// 256 -> 1024 1x1s on 14x14 took 0.460-0.466 ms either way (one thread, the two builds
/// alternated four times, Zen 5).
impl PackB for StridedB<'_> {
    fn k(&self) -> usize {
        self.k
    }

    fn n(&self) -> usize {
        self.n
    }

    /// In place only when the rows lie exactly as a packed block's would, [`b_row_stride`]
    /// apart. Rows farther apart (a convolution's input planes, the `B` of a 1x1 layer) are
    /// packed: each step of the micro-kernel would read a row in another page, and with an
    /// even number of cache lines between rows a micro-panel's rows share a few L1 sets. On
    /// the 2-vCPU Xeon (Emerald Rapids), packing them took 1x1 layers 10-20% less time than
    /// reading them in place: 256 -> 64 at 56x56 0.905x, 192 -> 768 at 28x28 0.80x, 256 ->
    /// 256 at 32x32 0.81x, at 16x16 0.96x, and the same at 8x8 (one thread, the two
    /// alternated forward by forward in one process, medians of the ratios); in whole
    /// networks, ResNet-50 and ConvNeXt-Tiny at batch 1 2-4% at one and two threads.
    fn view(&self, k0: usize, kc: usize, j0: usize, nc: usize) -> Option<(&[f32], usize)> {
        debug_assert!(k0 + kc <= self.k && j0 + nc <= self.n);
        let (start, width) = (k0 * self.row_stride + j0, nc.div_ceil(NR) * NR);
        let end = (k0 + kc.max(1) - 1) * self.row_stride + j0 + width;
        let packed = self.row_stride == b_row_stride(nc);
        (self.col_stride == 1 && packed && end <= self.data.len())
            .then(|| (&self.data[start..], self.row_stride))
    }

    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32], row_stride: usize) {
        debug_assert!(k0 + kc <= self.k && j0 + nc <= self.n);
        let width = nc.div_ceil(NR) * NR;
        debug_assert!(kc == 0 || dst.len() >= (kc - 1) * row_stride + width);
        for p in 0..kc {
            let row = &mut dst[p * row_stride..p * row_stride + width];
            let (values, padding) = row.split_at_mut(nc);
            let start = (k0 + p) * self.row_stride + j0 * self.col_stride;
            if self.col_stride == 1 {
                values.copy_from_slice(&self.data[start..start + nc]);
            } else {
                let column = self.data[start..].iter().step_by(self.col_stride);
                for (v, &x) in values.iter_mut().zip(column) {
                    *v = x;
                }
            }
            padding.fill(0.0);
        }
    }
}
