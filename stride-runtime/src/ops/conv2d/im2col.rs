//! Convolution as one GEMM per sample and group, with im2col folded into the packing of `B`.
//!
//! For one sample and one group, the output planes `[Cout/g, OH * OW]` are the group's weight
//! rows `A = [Cout/g, Cin/g * kh * kw]` times im2col's matrix `B = [Cin/g * kh * kw, OH * OW]`,
//! whose row `(c, ki, kj)` holds, for every output position, the input pixel that tap meets, or
//! 0 in the padding. That matrix is never built: [`Im2col`] packs each `K × N` block of it
//! straight from the input planes into the GEMM's packed rows, so the scratch is one packed
//! block per thread (about 400 KiB). A 1x1 kernel with stride 1 and no padding needs no
//! windows at all: the input planes are `B`, packed as a plain matrix.
//!
//! The weights are packed into the GEMM's row panels once per layer ([`pack_weights`]); the
//! bias and the activation are applied as each output tile is written.
//!
//! # Packing
//!
//! With few output channels (a stem's 32 or 64, a 5x5's 32) each packed value of `B` serves
//! few rows of `A`, and the packing is a fifth to a third of the layer. Two things made it
//! slow, measured with `perf` on Zen 5 (layer bench, one thread):
//!
//! * Waiting on the input. A batch-1 layer's output (3.2 MB for ResNet's stem) pushes its
//!   input out of L2 between two calls, and each packed row meets the input lines of its
//!   window one load at a time. [`Im2col`] now asks for the lines of the next channel's window
//!   rows while it packs the current channel ([`Im2col::prefetch`]): the stem went from 1.60
//!   to 1.39 ms, `conv5x5_64_128_28` from 1.81 to 1.65, `resnet_conv3x3s2_128_28` from 0.62
//!   to 0.59.
//! * Calls and bounds per run: a fill, a copy and a fill for each output row's 28 to 112
//!   values, and two `i128` divisions per packed row for its taps' bounds. The bounds are now
//!   worked out once per kernel row and column; on AVX-512 each 16 values are one masked
//!   load (stride 1, 16 output positions at a time whatever their output rows, the bounds
//!   in vectors), two loads and a permute (stride 2, per output row) or a masked gather (any
//!   other stride, ConvNeXt's 4x4/4 patchify stem), or, at any stride but 1 onto output rows
//!   at most 8 wide (a 7x7 map), one masked gather of 16 positions across rows; with the
//!   padding's zeros from the mask (`im2col/avx512.rs`, which gives the figures).
//!
//! Threads: each task is one sample, one group and a range of output columns. Several
//! samples or groups give every thread its own; a single image is split by columns, so
//! both cores work on one 56x56 layer. A single image with few output columns for its
//! output channels (a 14x14 or 7x7 output of 256 or more channels) is split by rows
//! instead ([`rows_pay`]): its `B` is packed once, by all tasks, and each task multiplies
//! a range of the weights' row panels by it.

#[cfg(target_arch = "x86_64")]
mod avx512;

use stride_geometry::Window;

use crate::gemm::{self, Epilogue, MR, MatMut, NR, PackB, PackedA, StridedB};
use crate::ops::conv_layer::Geometry;
use crate::ops::taps::Taps;
use crate::simd::{Isa, zero};
use crate::workspace::Workspace;

/// `f32`s in a cache line.
const LINE: usize = 16;

/// Packs a contiguous `[Cout, Cin/groups, kh, kw]` weight as one `A` per group: rows are the
/// group's `group_out` output channels, columns its taps `(c, ki, kj)`.
pub(super) fn pack_weights(weight: &[f32], groups: usize, group_out: usize) -> Vec<PackedA> {
    debug_assert!(groups > 0 && group_out > 0 && weight.len() % (groups * group_out) == 0);
    let patch = weight.len() / (groups * group_out);
    weight
        .chunks_exact(group_out * patch)
        .map(|w_g| PackedA::row_major(w_g, group_out, patch))
        .collect()
}

/// Writes `epilogue(x ⋆ weight)` into `y` on `isa` (with `epilogue.accumulate`, the residual
/// that `y` holds is added as the tiles are written), all contiguous and sized by `g`: `x`
/// NCHW, `weights` from [`pack_weights`], the bias `[Cout]`, `y` `[N, Cout, OH, OW]`.
pub(super) fn conv2d(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    weights: &[PackedA],
    epilogue: &Epilogue,
    y: &mut [f32],
) {
    conv2d_split(isa, g, x, weights, epilogue, y, None);
}

/// [`conv2d`], with `split` (when given) in place of the thread policy and [`rows_pay`]:
/// `(tasks per unit, by rows)`. For tests that compare the two splits.
#[allow(clippy::too_many_arguments)]
pub(super) fn conv2d_split(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    weights: &[PackedA],
    epilogue: &Epilogue,
    y: &mut [f32],
    split: Option<(usize, bool)>,
) {
    let Epilogue {
        bias,
        activation,
        accumulate,
    } = *epilogue;
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(y.len(), g.output_len());
    debug_assert_eq!(weights.len(), g.groups);
    debug_assert!(
        weights
            .iter()
            .all(|w| (w.m(), w.k()) == (g.group_out, g.patch_len()))
    );
    debug_assert!(bias.is_none_or(|b| b.len() == g.groups * g.group_out));

    let plane_in = g.input[0] * g.input[1];
    let plane_out = g.output[0] * g.output[1];
    let patch = g.patch_len();
    debug_assert!(plane_in > 0 && plane_out > 0 && patch > 0);

    // One task per (sample, group) when they are enough to go round the threads; else each
    // is split by columns as well, so that one image keeps both cores busy and three images
    // do not leave one core idle for a third of the time.
    let units = g.batch * g.groups;
    if units == 0 {
        return;
    }
    let flops = 2 * units * g.group_out * plane_out * patch;
    let tasks = if flops < gemm::parallel_flops() {
        1
    } else {
        gemm::tasks_for(crate::threads::threads())
    };
    let (tasks, by_rows) = match split {
        Some(split) => split,
        None => {
            let tasks = tasks.div_ceil(units);
            (tasks, rows_pay(g.group_out, plane_out, tasks))
        }
    };
    if units == 1 && tasks > 1 && by_rows {
        let epilogue = Epilogue {
            bias,
            activation,
            accumulate,
        };
        let a = &weights[0];
        if g.is_pointwise() {
            // A 1x1 layer's `B` is a plain copy of the input's rows, cheap next to reading the
            // rows another thread packed: each thread packs its own, block by block, for one
            // range of `A`'s rows. Against the shared `B`, on the 2-vCPU Xeon (Emerald
            // Rapids), two threads, the two alternated forward by forward: 1024 -> 256 at
            // 14x14 0.90x, 960 -> 160 at 7x7 0.87x, 2048 -> 512 at 7x7 0.94x, 256 -> 1024 at
            // 14x14 the same; ResNet-50, MobileNetV2, EfficientNet-B0 and ConvNeXt-Tiny at
            // batch 1 1-2.5% faster. (A 3x3 layer's windows cost more to pack: shared, they
            // measured the same or better.)
            let own = match split {
                Some((tasks, _)) => tasks,
                None => crate::threads::threads(),
            };
            let b = StridedB::row_major(x, g.group_in, plane_in);
            multiply_rows(isa, a, &b, y, &epilogue, own);
        } else {
            let b = Im2col::new(isa, g, x);
            rows_over_shared_b(isa, a, &b, y, &epilogue, tasks);
        }
        return;
    }
    let ranges = gemm::column_tasks(g.group_out, plane_out, patch, tasks);

    let mut tasks = Vec::with_capacity(units * ranges.len());
    for (unit, y_u) in y.chunks_exact_mut(g.group_out * plane_out).enumerate() {
        let c = MatMut::row_major(y_u, g.group_out, plane_out);
        for (range, c) in ranges.iter().zip(c.split_cols(&ranges)) {
            tasks.push((unit, range.start, c));
        }
    }
    let run = |(unit, j0, c): (usize, usize, MatMut)| {
        let group = unit % g.groups;
        let x_u = &x[unit * g.group_in * plane_in..][..g.group_in * plane_in];
        let epilogue = Epilogue {
            bias: bias.map(|b| &b[group * g.group_out..][..g.group_out]),
            activation,
            accumulate,
        };
        let a = &weights[group];
        if g.is_pointwise() {
            let b = StridedB::row_major(x_u, g.group_in, plane_in);
            gemm::gemm_serial(isa, a, &b, j0, c, &epilogue);
        } else {
            let b = Im2col::new(isa, g, x_u);
            gemm::gemm_serial(isa, a, &b, j0, c, &epilogue);
        }
    };
    crate::threads::for_each(tasks, run);
}

/// `C = epilogue(A · B)` for one sample and group in `tasks` tasks: `B` packed whole, once,
/// its rows split among the tasks; then each task multiplies a panel-aligned range of `A`'s
/// rows by the shared block, read in place through [`PackB::view`].
fn rows_over_shared_b(
    isa: Isa,
    a: &PackedA,
    b: &impl PackB,
    y: &mut [f32],
    epilogue: &Epilogue,
    tasks: usize,
) {
    let (k, n) = (b.k(), b.n());
    let ldb = gemm::b_row_stride(n);
    // The whole packed `B`, from this thread's workspace: a task that this thread steals
    // while it waits below (another layer's, say) borrows other memory.
    Workspace::with(k * ldb, |packed| {
        // 1. Pack, a range of B's rows per task.
        let per = k.div_ceil(tasks);
        let chunks: Vec<_> = packed.chunks_mut(per * ldb).enumerate().collect();
        crate::threads::for_each(chunks, |(t, dst)| {
            let k0 = t * per;
            let kc = (k - k0).min(per);
            b.pack(k0, kc, 0, n, dst, ldb);
        });

        // 2. Multiply, a range of A's panels per task.
        let shared = Packed {
            data: packed,
            k,
            n,
            ldb,
        };
        multiply_rows(isa, a, &shared, y, epilogue, tasks);
    });
}

/// `C = epilogue(A · B)`, `A`'s row panels split into `tasks` ranges, one task each, each
/// reading `b` whole: packed once and shared (read in place), or packed by each task.
fn multiply_rows(
    isa: Isa,
    a: &PackedA,
    shared: &impl PackB,
    y: &mut [f32],
    epilogue: &Epilogue,
    tasks: usize,
) {
    let (m, n) = (a.m(), shared.n());
    let a_panels = m.div_ceil(gemm::MR);
    let parts = tasks.min(a_panels);
    let panels: Vec<_> = (0..parts)
        .map(|t| t * a_panels / parts..(t + 1) * a_panels / parts)
        .collect();
    let rows: Vec<_> = panels
        .iter()
        .map(|p| (p.start * MR).min(m)..(p.end * MR).min(m))
        .collect();
    let c = MatMut::row_major(y, m, n);
    let jobs: Vec<_> = panels
        .into_iter()
        .zip(&rows)
        .zip(c.split_rows(&rows))
        .collect();
    crate::threads::for_each(jobs, |((panels, rows), c)| {
        let epilogue = Epilogue {
            bias: epilogue.bias.map(|b| &b[rows.clone()]),
            ..*epilogue
        };
        gemm::gemm_serial_rows(isa, a, panels, shared, 0, c, &epilogue);
    });
}

/// A whole `B` already packed, `ldb` apart, read in place.
struct Packed<'a> {
    data: &'a [f32],
    k: usize,
    n: usize,
    ldb: usize,
}

impl PackB for Packed<'_> {
    fn k(&self) -> usize {
        self.k
    }

    fn n(&self) -> usize {
        self.n
    }

    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32], row_stride: usize) {
        let width = nc.div_ceil(NR) * NR;
        for p in 0..kc {
            let src = &self.data[(k0 + p) * self.ldb + j0..];
            let row = &mut dst[p * row_stride..p * row_stride + width];
            let (values, padding) = row.split_at_mut(nc);
            values.copy_from_slice(&src[..nc]);
            padding.fill(0.0);
        }
    }

    fn view(&self, k0: usize, _kc: usize, j0: usize, _nc: usize) -> Option<(&[f32], usize)> {
        Some((&self.data[k0 * self.ldb + j0..], self.ldb))
    }
}

/// Whether one unit's `m × n` output, cut into `tasks` tasks, goes by rows
/// ([`rows_over_shared_b`], or each thread packing its own `B` for a 1x1 layer) rather than by
/// columns: when the column split would leave each task under 8 [`NR`] panels and the output
/// has at least as many rows as columns.
///
/// Measured on `resnet_conv3x3s2_128_28` (M 256, N 196, K 1152; 4 tasks on 2 threads,
/// medians of the layer bench on shared, noisy cores): by columns (3-4 panels a task, each
/// task reading all of `A`) 0.775 ms; by rows over one shared `B` packed in parallel
/// 0.75-0.77 ms (2 tasks instead of 4 measured the same); by rows with each task packing
/// all of `B` itself 1.19 ms, the packing repeated per task costing more than it saves.
fn rows_pay(m: usize, n: usize, tasks: usize) -> bool {
    n.div_ceil(NR) < 8 * tasks && m >= n
}

/// im2col's matrix `[Cin/g * kh * kw, OH * OW]` of one group of one sample, read through the
/// windows of `g` from its `Cin/g` input planes `x`; `isa` picks the copies.
///
/// The bounds of each kernel row's and column's taps ([`Taps`]) are worked out once, when the
/// source is made, not per packed row: in `i128` they cost a division each, and a block of
/// 256 rows asked for 512 of them (2% of `conv5x5_16_32_28`).
pub(super) struct Im2col<'a> {
    g: &'a Geometry<Window>,
    x: &'a [f32],
    isa: Isa,
    /// `rows[ki]`: the output rows whose input row for kernel row `ki` lies in the input.
    rows: Vec<Taps>,
    /// `cols[kj]`: the output columns whose input column for kernel column `kj` lies in it.
    cols: Vec<Taps>,
}

impl<'a> Im2col<'a> {
    /// The matrix of the `Cin/g` input planes `x` (one group of one sample) under `g`.
    pub(super) fn new(isa: Isa, g: &'a Geometry<Window>, x: &'a [f32]) -> Self {
        let taps = |axis: usize| {
            let window = g.axes[axis];
            (0..window.kernel)
                .map(|k| {
                    Taps::new(
                        g.output[axis],
                        window.stride,
                        k,
                        window.dilation,
                        window.pad_begin,
                        g.input[axis],
                    )
                })
                .collect()
        };
        Im2col {
            g,
            x,
            isa,
            rows: taps(0),
            cols: taps(1),
        }
    }

    /// Asks for the input lines that rows `k..` of the matrix read for columns `j0..j0 + nc`
    /// until the next channel starts: called by the packings at row `k0` and at the first row
    /// of each channel, for the channel after it. Those lines come from L3 or memory the first
    /// time (a batch-1 layer writes an output larger than L2 between two reads of its input),
    /// and a packing that meets them one load at a time waits on each.
    fn prefetch(&self, k: usize, j0: usize, nc: usize) {
        if nc == 0 {
            return;
        }
        let g = self.g;
        let [window_h, _] = g.axes;
        let [h, w] = g.input;
        let (plane, _, _) = self.row(k);
        let ow = g.output[1];
        let (oy0, oy1) = (j0 / ow, (j0 + nc - 1) / ow);
        // Input rows `oy * sh + ki * dh - pad` for the block's output rows and every `ki`.
        let top = (oy0 * window_h.stride).saturating_sub(window_h.pad_begin);
        let bottom = (oy1 * window_h.stride + window_h.effective_kernel())
            .saturating_sub(window_h.pad_begin)
            .min(h);
        let lines = LINE.min(w);
        for iy in top..bottom {
            let row = &self.x[plane + iy * w..][..w];
            for x in (0..w).step_by(lines) {
                super::winograd::prefetch(&row[x]);
            }
            super::winograd::prefetch(&row[w - 1]);
        }
    }

    /// At row `k0 + p` of a packing of `kc` rows from `k0`: [`Im2col::prefetch`] this
    /// channel's lines if it is the packing's first row, the next channel's if it is a
    /// channel's first.
    #[inline]
    fn prefetch_ahead(&self, k0: usize, p: usize, j0: usize, nc: usize, taps: usize) {
        if p == 0 {
            self.prefetch(k0, j0, nc);
        }
        let next = (k0 + p) / taps * taps + taps;
        if (k0 + p) % taps == 0 && next < self.k() {
            self.prefetch(next, j0, nc);
        }
    }

    /// Row `k` of the matrix: its input plane's offset in `x` and its taps along each axis.
    #[inline]
    fn row(&self, k: usize) -> (usize, &Taps, &Taps) {
        let [window_h, window_w] = self.g.axes;
        let taps = window_h.kernel * window_w.kernel;
        let (c, tap) = (k / taps, k % taps);
        let plane = c * self.g.input[0] * self.g.input[1];
        (
            plane,
            &self.rows[tap / window_w.kernel],
            &self.cols[tap % window_w.kernel],
        )
    }
}

impl PackB for Im2col<'_> {
    fn k(&self) -> usize {
        self.g.patch_len()
    }

    fn n(&self) -> usize {
        self.g.output[0] * self.g.output[1]
    }

    /// Row by row. Row `(c, ki, kj)` meets input row `oy*sh + ki*dh - pad_top` for each
    /// output row `oy`, and there a run of input pixels (contiguous at stride 1) flanked by
    /// padding zeros. On AVX-512 the row is written 16 output positions at a time whatever
    /// the output rows, each lane's offset and padding mask worked out in vectors
    /// ([`avx512::pack`]); elsewhere each run is one long copy into the packed row between
    /// fills of zeros.
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32], row_stride: usize) {
        debug_assert!(k0 + kc <= self.k() && j0 + nc <= self.n());
        debug_assert!(kc == 0 || dst.len() >= (kc - 1) * row_stride + nc.div_ceil(NR) * NR);
        #[cfg(target_arch = "x86_64")]
        if let Isa::Avx512(_) = self.isa
            && avx512::takes(self.g)
        {
            let prefetch = |k| self.prefetch(k, j0, nc);
            // SAFETY: an `Avx512` value exists only where the CPU has AVX-512F; `takes`
            // accepted the geometry; `rows` and `cols` are this source's own taps of `g`, and
            // `x` its planes; the block lies inside the matrix and `dst` (checked above, and
            // again by `pack`'s own bounds).
            return unsafe {
                avx512::pack(
                    self.g,
                    self.x,
                    &self.rows,
                    &self.cols,
                    prefetch,
                    (k0, kc),
                    (j0, nc),
                    dst,
                    row_stride,
                )
            };
        }
        self.pack_runs(k0, kc, j0, nc, dst, row_stride);
    }
}

impl Im2col<'_> {
    /// [`PackB::pack`] by runs: each run of input pixels one copy, the padding around it one
    /// fill. The path of AVX2 and of the portable code.
    fn pack_runs(
        &self,
        k0: usize,
        kc: usize,
        j0: usize,
        nc: usize,
        dst: &mut [f32],
        row_stride: usize,
    ) {
        let g = self.g;
        let [window_h, window_w] = g.axes;
        let w = g.input[1];
        let ow = g.output[1];
        let width = nc.div_ceil(NR) * NR;

        let taps = window_h.kernel * window_w.kernel;
        for p in 0..kc {
            self.prefetch_ahead(k0, p, j0, nc, taps);
            let (line, padding) = dst[p * row_stride..p * row_stride + width].split_at_mut(nc);
            zero(padding);
            let (plane, ys, xs) = self.row(k0 + p);
            let mut n = j0;
            // Output row and column of `n`, stepped along rather than divided out per run.
            let (mut oy, mut ox0) = (j0 / ow, j0 % ow);
            while n < j0 + nc {
                let ox1 = ow.min(ox0 + (j0 + nc - n));
                let segment = &mut line[n - j0..n - j0 + (ox1 - ox0)];
                if ys.indices.contains(&oy) {
                    let iy = ys.first + (oy - ys.indices.start) * window_h.stride;
                    // Output columns ox0..a and b..ox1 read padding; a..b read the row.
                    let a = xs.indices.start.clamp(ox0, ox1);
                    let b = xs.indices.end.clamp(a, ox1);
                    let (head, rest) = segment.split_at_mut(a - ox0);
                    let (body, tail) = rest.split_at_mut(b - a);
                    zero(head);
                    if !body.is_empty() {
                        let from =
                            plane + iy * w + xs.first + (a - xs.indices.start) * window_w.stride;
                        if window_w.stride == 1 {
                            self.isa.copy(body, &self.x[from..from + body.len()]);
                        } else {
                            // The rest of the input, not only the row: the AVX2 gather reads
                            // whole vectors and may look (never write) past the last tap.
                            self.isa
                                .copy_strided(body, &self.x[from..], window_w.stride);
                        }
                    }
                    zero(tail);
                } else {
                    zero(segment);
                }
                n += ox1 - ox0;
                (oy, ox0) = (oy + 1, 0);
            }
        }
    }
}
