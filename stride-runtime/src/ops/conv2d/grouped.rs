//! Grouped convolution (more than one group, more than one input channel in each: ResNeXt's
//! 32 groups of 4 to 32 channels) as a direct kernel, without im2col; and, as one group, a
//! convolution of few input channels (a network's stem: see `conv2d`'s module docs).
//!
//! As one GEMM per group, such a layer is many small products (ResNeXt's 3x3 at 14x14: 32
//! products of `M = 16`, `K = 144`, `N = 196`) in which packing im2col's `B` (a 14-value copy
//! per row of output per tap) costs as much as the multiply. Here nothing is packed per tap.
//!
//! Groups whose output channels fill whole vectors run the tile of [`wide`] instead, output
//! channels across the vector (see there); what follows is the tile for the others.
//!
//! # The input, once per task
//!
//! A task copies its group's input planes, padding included, into a buffer split by phase of
//! the stride: phase `(py, px)` holds the padded input's rows `y * sh + py` and columns
//! `x * sw + px` (one phase at stride 1, four at stride 2). In it, output pixel `(oy, ox)`
//! reads tap `(ki, kj)` of channel `c` at `oy * wq + ox` plus an offset that depends on
//! `(c, ki, kj)` only, where `wq` is the buffer's row length (the output width plus the
//! kernel's reach). So over a run of flat positions `j = oy * wq + ox` every tap is one
//! contiguous load: the output is computed `wq` wide, and the `wq - OW` columns of each row
//! that fall past the output are computed and dropped (2 of 16 at 14x14, 2 of 9 at 7x7, 2 of
//! 58 at 56x56). This copy is the size of the input; im2col's is `kh * kw` times that.
//!
//! # The micro-kernel
//!
//! A tile is up to [`ROWS`] output channels of one group times `V` vectors of flat positions,
//! in registers (AVX-512: 8 × 3 zmm, 4 × 6, …; AVX2: 4 × 3 ymm, 8 × 1, …; `V` per layer,
//! [`vectors`]). Each step over a tap of an input channel loads the `V` vectors from the
//! buffer and multiplies into them a broadcast weight per row. The weights are packed once per
//! layer ([`Weights`]) as, per group, `[Cin/g * kh * kw][Cout/g]`: a step reads the tile's
//! rows of one row of it. The sums start from the bias, and the tile takes the activation as it leaves
//! the kernel (in a function of its own, see below); the tile's
//! valid runs are then copied to the output (or added to the residual there, then the
//! activation). Each `(R, V)` body is a function of its own: inlined into one dispatching
//! function, LLVM kept two of the 24 accumulators on the stack and the layer ran at a third of
//! the speed.
//!
//! # Threads
//!
//! A task is one sample, one group and a band of output rows (its input buffer holds the
//! band's rows and the kernel's reach below them). A single image of 32 groups gives every
//! thread many tasks; fewer groups than tasks (two groups on two threads, four tasks wanted)
//! are cut into bands as well, and so is a group whose buffer would pass [`BUFFER`]. Each output is the same sum in the same order whatever the
//! band, so the result does not depend on the thread count.
//!
//! # Measured
//!
//! The layer bench against ONNX Runtime 1.32 side by side (`bench/compare.sh`), one thread of
//! a shared Zen 5 (AVX-512), ort/ours (above 1: faster), one GEMM per group before → this
//! kernel: `grouped3x3_g32_128_56` (4 channels a group) 0.91 → 2.96,
//! `grouped3x3_g32_256_28` (8) 1.21 → 2.80, `grouped3x3s2_g32_256_56` (8) 1.07 → 2.08,
//! `grouped3x3_g8_256_28` (32) 0.51 → 0.93, `grouped3x3_g32_512_14` (16) 0.33 → 0.93,
//! `grouped3x3_g32_1024_7` (32) 0.32 → 0.84, `grouped3x3s2_g32_512_28` (16) 0.34 → 0.68,
//! `grouped3x3s2_g32_1024_14` (32) 0.19 → 0.51. (Two threads gave the same ratios: the
//! second core was busy for both sides.) The kernel runs at about 240 GFLOP/s (perf on
//! `grouped3x3_g32_512_14`); what is left is the `wq - OW` columns, the copy of the input
//! (as long as the multiply in a stride-2 layer of 32 channels a group at 14x14, where each
//! input value meets few multiplies) and the copy of short rows to the output.

use stride_geometry::Window;

use crate::gemm::{self, Epilogue, MatMut};
use crate::ops::conv_layer::Geometry;
use crate::simd::{Activation, Isa, zero};
use crate::workspace::Workspace;

/// Most output channels in one tile.
pub(super) const ROWS: usize = 8;

/// Most values in a task's input buffer before its rows are cut into bands: 512 KiB, half of
/// a 1 MiB L2, the rest for the weights and the output.
const BUFFER: usize = 128 * 1024;

/// Most flat positions in one tile: AVX-512's 6 vectors of 16 (a tile of at most 4 rows).
const MAX_WIDTH: usize = 96;

/// A grouped layer's weight packed for the kernels: per group, `[Cin/g * kh * kw][Cout/g]`
/// (PyTorch's `[Cout/g][Cin/g * kh * kw]` transposed), so that one step of a tile reads its
/// channels' weights for one tap from one place (a step of the next tap is `Cout/g` values
/// further).
#[derive(Debug, Clone)]
pub(super) struct Weights {
    data: Vec<f32>,
    group_out: usize,
    patch: usize,
}

impl Weights {
    /// Packs a contiguous `[Cout, Cin/groups, kh, kw]` weight of `groups` groups of
    /// `group_out` output channels.
    pub(super) fn new(weight: &[f32], groups: usize, group_out: usize) -> Weights {
        debug_assert!(groups > 0 && group_out > 0 && weight.len() % (groups * group_out) == 0);
        let patch = weight.len() / (groups * group_out);
        let mut data = vec![0.0; weight.len()];
        for (w_g, p_g) in weight
            .chunks_exact(group_out * patch)
            .zip(data.chunks_exact_mut(group_out * patch))
        {
            for (o, row) in w_g.chunks_exact(patch).enumerate() {
                for (k, &v) in row.iter().enumerate() {
                    p_g[k * group_out + o] = v;
                }
            }
        }
        Weights {
            data,
            group_out,
            patch,
        }
    }

    /// Group `group`'s `[patch][group_out]` block.
    fn group(&self, group: usize) -> &[f32] {
        let len = self.patch * self.group_out;
        &self.data[group * len..][..len]
    }
}

/// Where one task's input buffer puts things: phases of `hq × wq` values, `phases` per input
/// channel.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Values in one buffer row: the output width plus the columns the kernel reaches past it.
    wq: usize,
    /// Rows the kernel reaches below a band's last output row, in a phase.
    reach: usize,
    /// Stride phases: `sh * sw`.
    phases: usize,
}

impl Layout {
    fn new(g: &Geometry<Window>) -> Layout {
        let [h, w] = g.axes;
        Layout {
            wq: g.output[1] + (w.kernel - 1) * w.dilation / w.stride,
            reach: (h.kernel - 1) * h.dilation / h.stride,
            phases: h.stride * w.stride,
        }
    }

    /// Bands a group's output rows need for each band's buffer to stay under [`BUFFER`],
    /// so that it stays in L2 while the tiles read it (a 224x224 group would otherwise copy
    /// megabytes first).
    fn bands_for_cache(&self, g: &Geometry<Window>) -> usize {
        g.output[0].div_ceil(self.band_rows(g))
    }

    /// The most output rows of a band whose buffer stays under [`BUFFER`] (at least one).
    fn band_rows(&self, g: &Geometry<Window>) -> usize {
        let row = g.group_in * self.phases * self.wq;
        (BUFFER / row.max(1)).saturating_sub(self.reach).max(1)
    }

    /// Rows of a phase for a band of `rows` output rows.
    fn hq(&self, rows: usize) -> usize {
        rows + self.reach
    }

    /// Values of one input channel's phases for a band of `rows` output rows.
    fn channel(&self, rows: usize) -> usize {
        self.phases * self.hq(rows) * self.wq
    }

    /// The offset of each step `(c, ki, kj)` (PyTorch's order of a filter's values) from the
    /// flat position it serves, for a band of `rows` output rows.
    fn offsets(&self, g: &Geometry<Window>, rows: usize) -> Vec<usize> {
        let [h, w] = g.axes;
        let plane = self.hq(rows) * self.wq;
        let mut taps = Vec::with_capacity(h.kernel * w.kernel);
        for ki in 0..h.kernel {
            for kj in 0..w.kernel {
                let (dy, dx) = (ki * h.dilation, kj * w.dilation);
                let phase = (dy % h.stride) * w.stride + dx % w.stride;
                taps.push(phase * plane + (dy / h.stride) * self.wq + dx / w.stride);
            }
        }
        (0..g.group_in)
            .flat_map(|c| taps.iter().map(move |t| c * self.channel(rows) + t))
            .collect()
    }
}

/// Writes `epilogue(x ⋆ weight)` into `y` on `isa` (with `epilogue.accumulate`, the residual
/// that `y` holds is added), all contiguous and sized by `g`: `x` NCHW, `weights` from
/// [`Weights::new`], the bias `[Cout]`, `y` `[N, Cout, OH, OW]`.
pub(super) fn conv2d(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    weights: &Weights,
    epilogue: &Epilogue,
    y: &mut [f32],
) {
    let tasks = {
        let flops = 2 * g.output_len() * g.patch_len();
        if flops < gemm::parallel_flops() {
            1
        } else {
            gemm::tasks_for(crate::threads::threads())
        }
    };
    conv2d_split(isa, g, x, weights, epilogue, y, tasks, wide::takes(isa, g));
}

/// [`conv2d`] with the work cut for `tasks` tasks, on [`wide`]'s tile or the parent's as
/// `wide` says ([`conv2d`] asks [`wide::takes`]): for tests that check that neither the split
/// nor the tile changes the numbers.
#[allow(clippy::too_many_arguments)]
pub(super) fn conv2d_split(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    weights: &Weights,
    epilogue: &Epilogue,
    y: &mut [f32],
    tasks: usize,
    wide: bool,
) {
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(y.len(), g.output_len());
    debug_assert_eq!(
        (weights.group_out, weights.patch),
        (g.group_out, g.patch_len())
    );
    debug_assert!(
        epilogue
            .bias
            .is_none_or(|b| b.len() == g.groups * g.group_out)
    );
    let units = g.batch * g.groups;
    let [oh, ow] = g.output;
    let plane_out = oh * ow;
    if units == 0 || plane_out == 0 {
        return;
    }
    let layout = Layout::new(g);
    let bands = tasks.div_ceil(units).max(layout.bands_for_cache(g));
    let bands = gemm::panel_ranges(oh, 1, bands.min(oh));
    let columns: Vec<_> = bands.iter().map(|b| b.start * ow..b.end * ow).collect();

    let mut jobs = Vec::with_capacity(units * bands.len());
    for (unit, y_u) in y.chunks_exact_mut(g.group_out * plane_out).enumerate() {
        let c = MatMut::row_major(y_u, g.group_out, plane_out);
        for (band, c) in bands.iter().zip(c.split_cols(&columns)) {
            jobs.push((unit, band.clone(), c));
        }
    }
    crate::threads::for_each(jobs, |(unit, band, c)| {
        Task::new(isa, g, layout, x, weights, epilogue, unit, band, wide).run(c);
    });
}

/// The most output rows that [`band_serial`] should be given at once: more make a task's
/// input buffer outgrow [`BUFFER`] (and the L2), which costs time, not correctness.
pub(super) fn band_rows(g: &Geometry<Window>) -> usize {
    Layout::new(g).band_rows(g)
}

/// Output rows `band` of one sample, every group, on the calling thread: `x` is the sample's
/// input planes and `c` the band's output, one row per output channel of `band.len() * OW`
/// values (any row stride). For a caller that makes the output a band at a time itself: a
/// convolution fused with the max pool after it (`pooled.rs`). Each value is the one
/// [`conv2d`] writes, bit for bit: a band changes which rows a tile holds, not a sum.
pub(super) fn band_serial(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    weights: &Weights,
    epilogue: &Epilogue,
    band: core::ops::Range<usize>,
    c: MatMut,
) {
    let plane_in = g.input[0] * g.input[1];
    debug_assert_eq!(x.len(), g.groups * g.group_in * plane_in);
    debug_assert!(band.start < band.end && band.end <= g.output[0] && !epilogue.accumulate);
    debug_assert_eq!(
        (c.rows(), c.cols()),
        (g.groups * g.group_out, band.len() * g.output[1])
    );
    let layout = Layout::new(g);
    let groups: Vec<_> = (0..g.groups)
        .map(|group| group * g.group_out..(group + 1) * g.group_out)
        .collect();
    let wide = wide::takes(isa, g);
    for (group, c) in c.split_rows(&groups).into_iter().enumerate() {
        // One sample's units are its groups.
        Task::new(
            isa,
            g,
            layout,
            x,
            weights,
            epilogue,
            group,
            band.clone(),
            wide,
        )
        .run(c);
    }
}

/// One sample, one group, one band of output rows.
struct Task<'a> {
    isa: Isa,
    g: &'a Geometry<Window>,
    layout: Layout,
    /// The group's input planes.
    x: &'a [f32],
    /// The group's packed weights.
    weights: &'a [f32],
    /// With the group's bias.
    epilogue: Epilogue<'a>,
    /// Output rows.
    band: core::ops::Range<usize>,
    /// Whether [`wide`]'s tile runs the task ([`wide::takes`]).
    wide: bool,
}

impl<'a> Task<'a> {
    /// Unit `unit` (sample `unit / groups`, group `unit % groups`) of `x`, the input planes of
    /// one or more samples, for output rows `band`; `epilogue` holds every group's bias.
    #[allow(clippy::too_many_arguments)]
    fn new(
        isa: Isa,
        g: &'a Geometry<Window>,
        layout: Layout,
        x: &'a [f32],
        weights: &'a Weights,
        epilogue: &Epilogue<'a>,
        unit: usize,
        band: core::ops::Range<usize>,
        wide: bool,
    ) -> Task<'a> {
        let group = unit % g.groups;
        let unit_len = g.group_in * g.input[0] * g.input[1];
        Task {
            isa,
            g,
            layout,
            x: &x[unit * unit_len..][..unit_len],
            weights: weights.group(group),
            epilogue: Epilogue {
                bias: epilogue
                    .bias
                    .map(|b| &b[group * g.group_out..][..g.group_out]),
                ..*epilogue
            },
            band,
            wide,
        }
    }

    /// Fills the buffer, then runs every tile of the band into `c` (the group's output
    /// channels, the band's `rows * OW` values of each).
    fn run(&self, mut c: MatMut) {
        if self.wide {
            let band = wide::Band {
                isa: self.isa,
                g: self.g,
                x: self.x,
                weights: self.weights,
                epilogue: self.epilogue,
                band: self.band.clone(),
            };
            return band.run(&mut c);
        }
        let rows = self.band.len();
        let layout = self.layout;
        let flat = rows * layout.wq;
        let filled = self.g.group_in * layout.channel(rows);
        // Past the buffer, the last tile's vectors read up to a tile's width and a row of
        // values beyond the last flat position, whose results are dropped.
        let len = filled + MAX_WIDTH + layout.wq;
        let offsets = layout.offsets(self.g, rows);
        Workspace::with(len, |buffer| {
            let (planes, slack) = buffer.split_at_mut(filled);
            self.fill(planes);
            zero(slack);
            let group_out = self.g.group_out;
            let mut tile = [[0.0f32; MAX_WIDTH]; ROWS];
            for r0 in (0..group_out).step_by(ROWS) {
                let tile_rows = ROWS.min(group_out - r0);
                let vectors = vectors(self.isa, tile_rows, flat);
                let width = lanes(self.isa) * vectors;
                let mut bias = [0.0; ROWS];
                if let Some(b) = self.epilogue.bias {
                    bias[..tile_rows].copy_from_slice(&b[r0..r0 + tile_rows]);
                }
                let mut steps = Steps {
                    w: &self.weights[r0..],
                    stride: group_out,
                    x: buffer.as_ptr(),
                    offsets: &offsets,
                    bias,
                    // With a residual to add, the activation waits for it.
                    activation: if self.epilogue.accumulate {
                        Activation::Identity
                    } else {
                        self.epilogue.activation
                    },
                };
                for j0 in (0..flat).step_by(width) {
                    // SAFETY: the steps read `buffer[offset + j0 .. + width]` for each offset,
                    // below `filled + width + wq` (every offset is below `filled - flat +
                    // wq`, and `j0 < flat`); `w` holds the tile's `patch` steps of
                    // `group_out >= tile_rows` values.
                    unsafe {
                        steps.x = buffer.as_ptr().add(j0);
                        tile_on(self.isa, tile_rows, vectors, &steps, &mut tile);
                    }
                    self.finish(&tile, r0, tile_rows, j0, width.min(flat - j0), &mut c);
                }
            }
        });
    }

    /// Copies the band's input rows, padding included, into the phases of `planes`: zeros
    /// everywhere, then each input row the band reads, once, split among the column phases.
    ///
    /// Row by input row rather than by buffer row: a 14x14 stride-2 layer's buffer rows are 8
    /// values, and handling each (its padding, its source) took as long as the multiply.
    fn fill(&self, planes: &mut [f32]) {
        let g = self.g;
        let layout = self.layout;
        let [axis_h, axis_w] = g.axes;
        let [h, w] = g.input;
        let (sh, sw) = (axis_h.stride, axis_w.stride);
        let (pt, pl) = (axis_h.pad_begin, axis_w.pad_begin);
        let hq = layout.hq(self.band.len());
        let wq = layout.wq;
        zero(planes);
        // Padded rows `band.start * sh .. (band.start + hq) * sh` are read: buffer row `r`
        // of row phase `py` is padded row `(band.start + r) * sh + py`.
        let first = (self.band.start * sh).saturating_sub(pt);
        let end = ((self.band.start + hq) * sh).saturating_sub(pt).min(h);
        // The buffer column of each column phase's first input column.
        let columns: Vec<(usize, usize)> = (0..sw)
            .map(|px| {
                // The first input column `x` with `(x + pl) % sw == px`, and its column.
                let x0 = (px + sw - pl % sw) % sw;
                (x0, (x0 + pl) / sw)
            })
            .collect();
        for (c, channel) in planes
            .chunks_exact_mut(layout.channel(self.band.len()))
            .enumerate()
        {
            let plane = &self.x[c * h * w..][..h * w];
            for iy in first..end {
                let padded = iy + pt;
                let (py, r) = (padded % sh, padded / sh - self.band.start);
                let src = &plane[iy * w..][..w];
                for (px, &(x0, q0)) in columns.iter().enumerate() {
                    let row = &mut channel[((py * sw + px) * hq + r) * wq..][..wq];
                    if sw == 1 {
                        let len = w.min(wq - q0);
                        self.isa.copy(&mut row[q0..q0 + len], &src[..len]);
                    } else {
                        let src = src.get(x0..).unwrap_or(&[]);
                        let row = &mut row[q0.min(wq)..];
                        let len = row.len().min(src.len().div_ceil(sw));
                        self.isa.copy_strided(&mut row[..len], src, sw);
                    }
                }
            }
        }
    }

    /// Writes the valid runs of a finished tile, rows `r0..r0 + rows` of the group and flat
    /// positions `j0..j0 + width`, into `c`: as they are, or added to the residual there and
    /// then through the activation.
    fn finish(
        &self,
        tile: &[[f32; MAX_WIDTH]; ROWS],
        r0: usize,
        rows: usize,
        j0: usize,
        width: usize,
        c: &mut MatMut,
    ) {
        let ow = self.g.output[1];
        let wq = self.layout.wq;
        let mut oy = j0 / wq;
        while oy * wq < j0 + width {
            let lo = j0.max(oy * wq) - oy * wq;
            let hi = (j0 + width).min(oy * wq + ow) - oy * wq;
            for (i, acc) in tile.iter().enumerate().take(rows).filter(|_| lo < hi) {
                let src = &acc[oy * wq + lo - j0..][..hi - lo];
                // SAFETY: row `r0 + i < group_out` and columns `oy * ow + lo .. + hi - lo`
                // lie inside the band's `rows * ow` columns of `c`, which this task owns.
                let dst =
                    unsafe { std::slice::from_raw_parts_mut(c.at(r0 + i, oy * ow + lo), hi - lo) };
                if self.epilogue.accumulate {
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d += s;
                    }
                    self.epilogue.activation.apply_to_slice_on(self.isa, dst);
                } else {
                    self.isa.copy(dst, src);
                }
            }
            oy += 1;
        }
    }
}

/// Lanes of a vector on `isa`; the portable tile's "vector" is 16 values.
fn lanes(isa: Isa) -> usize {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => 16,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2(_) => 8,
        Isa::Scalar => 16,
    }
}

/// Vectors across a tile of `rows` output channels on `isa`, for `flat` positions in all.
///
/// At most as many as keep the accumulators in registers with room for the loads (24 of
/// AVX-512's 32 zmm, 12 of AVX2's 16 ymm; and at most 6, 4 on AVX2, so that few rows still
/// run a wide tile); of those, the count that issues the fewest instructions over the
/// `flat` positions, counting a step of a tile as its `rows * vectors` multiply-adds,
/// `vectors` loads and `rows` broadcasts, and counting the lanes computed past `flat`. A 7x7
/// output is 63 flat positions: 8 rows of 3 vectors of 16 would take 2 tiles of 35, 96 lanes;
/// 2 vectors take 2 tiles of 26, 64 lanes. The widest wins a tie. The portable tile is one
/// "vector".
fn vectors(isa: Isa, rows: usize, flat: usize) -> usize {
    let most = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => (24 / rows).clamp(1, 6),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2(_) => (12 / rows).clamp(1, 4),
        Isa::Scalar => 1,
    };
    let lanes = lanes(isa);
    let cost = |v: usize| flat.div_ceil(lanes * v) * (rows * v + rows + v);
    // `min_by_key` keeps the last of equal keys: the widest.
    (1..=most)
        .min_by_key(|&v| cost(v))
        .expect("at least one vector")
}

/// What a tile multiplies, and how it finishes.
struct Steps<'a> {
    /// The tile's packed weights from its first row: step `k`'s `rows` values start at
    /// `k * stride`.
    w: &'a [f32],
    /// Values between two steps' weights: the group's output channels.
    stride: usize,
    /// The buffer from the tile's first flat position.
    x: *const f32,
    /// Where each step reads, from `x`.
    offsets: &'a [usize],
    /// The bias of the tile's rows (zeros without one), which the sums start from.
    bias: [f32; ROWS],
    /// Applied to the sums in registers (the identity when a residual is still to come).
    activation: Activation,
}

/// `tile[i][j] = activation(bias[i] + Σ_k w[k * stride + i] · x[offsets[k] + j])` for
/// `i < rows` and `j < vectors *` [`lanes`]`(isa)`, on `isa`.
///
/// # Safety
/// `steps.x` is readable at `offsets[k] + j` for every `k` and `j < vectors * lanes`, and
/// `steps.w` holds `(offsets.len() - 1) * stride + rows` values; `1 <= rows <= ROWS`,
/// `rows <= stride`, and `vectors` at most
/// what [`vectors`] allows for `rows` (1 on the portable path).
unsafe fn tile_on(
    isa: Isa,
    rows: usize,
    vectors: usize,
    steps: &Steps,
    tile: &mut [[f32; MAX_WIDTH]; ROWS],
) {
    debug_assert!(
        (1..=ROWS).contains(&rows)
            && rows <= steps.stride
            && steps.w.len() >= (steps.offsets.len() - 1) * steps.stride + rows
    );
    macro_rules! by_rows {
        ($m:ident) => {
            match rows {
                1 => $m::tile::<1>(vectors, steps, tile),
                2 => $m::tile::<2>(vectors, steps, tile),
                3 => $m::tile::<3>(vectors, steps, tile),
                4 => $m::tile::<4>(vectors, steps, tile),
                5 => $m::tile::<5>(vectors, steps, tile),
                6 => $m::tile::<6>(vectors, steps, tile),
                7 => $m::tile::<7>(vectors, steps, tile),
                _ => $m::tile::<8>(vectors, steps, tile),
            }
        };
    }
    // SAFETY (each arm): the caller's promises, and the token proves the instructions.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512(_) => by_rows!(avx512),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) => by_rows!(avx2),
            Isa::Scalar => scalar_tile(rows, steps, tile),
        }
    }
}

/// The portable tile: the vector tiles' sums, in the same order, without fused
/// multiply-adds.
///
/// # Safety
/// As [`tile_on`], with a width of 16.
unsafe fn scalar_tile(rows: usize, steps: &Steps, tile: &mut [[f32; MAX_WIDTH]; ROWS]) {
    const WIDTH: usize = 16;
    for (acc, &b) in tile.iter_mut().zip(&steps.bias).take(rows) {
        acc[..WIDTH].fill(b);
    }
    for (k, &offset) in steps.offsets.iter().enumerate() {
        // SAFETY: the caller's promises cover these reads.
        let xs: &[f32] = unsafe { std::slice::from_raw_parts(steps.x.add(offset), WIDTH) };
        for (acc, &wi) in tile.iter_mut().zip(&steps.w[k * steps.stride..][..rows]) {
            for (a, &v) in acc.iter_mut().zip(xs) {
                *a += wi * v;
            }
        }
    }
    for acc in tile.iter_mut().take(rows) {
        for a in &mut acc[..WIDTH] {
            *a = steps.activation.apply(*a);
        }
    }
}

/// A vector tile, `R` rows of `V` vectors of accumulators, for one instruction set: the
/// same code with AVX-512's and AVX2's intrinsics.
#[cfg(target_arch = "x86_64")]
macro_rules! vector_tile {
    ($name:ident, $feature:literal, $lanes:literal, $activation:path,
     $zero:ident, $load:ident, $set1:ident, $fmadd:ident, $store:ident) => {
        mod $name {
            use core::arch::x86_64::*;

            use super::{MAX_WIDTH, ROWS, Steps};

            const LANES: usize = $lanes;

            /// `tile_on` for `R` rows: [`body`] with `vectors` made a constant.
            ///
            /// # Safety
            /// As `tile_on`; the CPU has the module's instructions.
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn tile<const R: usize>(
                vectors: usize,
                steps: &Steps,
                tile: &mut [[f32; MAX_WIDTH]; ROWS],
            ) {
                // SAFETY (each arm): the caller's promises.
                unsafe {
                    match vectors {
                        1 => body::<R, 1>(steps, tile),
                        2 => body::<R, 2>(steps, tile),
                        3 => body::<R, 3>(steps, tile),
                        4 => body::<R, 4>(steps, tile),
                        5 => body::<R, 5>(steps, tile),
                        _ => body::<R, 6>(steps, tile),
                    }
                }
                // The activation here, not in `body`: inlined there, the smooth ones'
                // constants took the registers of its accumulators (0.19 -> 0.47 ms on
                // `grouped3x3_g32_512_14` with no activation at all).
                if steps.activation != crate::simd::Activation::Identity {
                    for row in tile.iter_mut().take(R) {
                        for chunk in row[..vectors * LANES].chunks_exact_mut(LANES) {
                            // SAFETY: `chunk` is `LANES` values, read then written.
                            unsafe {
                                let a = $activation(steps.activation, $load(chunk.as_ptr()));
                                $store(chunk.as_mut_ptr(), a);
                            }
                        }
                    }
                }
            }

            /// The tile with its `R × V` accumulators in registers: per step, `V` loads,
            /// `R` broadcasts and `R * V` fused multiply-adds.
            ///
            /// # Safety
            /// As [`tile`], with `V = vectors`.
            // Not inlined: in a function of its own each `(R, V)` gets all the registers
            // (inlined into `tile`'s match, LLVM kept accumulators on the stack).
            #[target_feature(enable = $feature)]
            #[inline(never)]
            unsafe fn body<const R: usize, const V: usize>(
                steps: &Steps,
                tile: &mut [[f32; MAX_WIDTH]; ROWS],
            ) {
                const { assert!(R <= ROWS && V * LANES <= MAX_WIDTH) };
                let (x, w) = (steps.x, steps.w.as_ptr());
                let mut acc = [[$zero(); V]; R];
                for i in 0..R {
                    acc[i] = [$set1(steps.bias[i]); V];
                }
                for (k, &offset) in steps.offsets.iter().enumerate() {
                    // SAFETY: the caller's promises cover these reads.
                    let (xk, wk) = unsafe { (x.add(offset), w.add(k * steps.stride)) };
                    let mut xv = [$zero(); V];
                    for v in 0..V {
                        // SAFETY: as above, `v * LANES < V * LANES`, the tile's width.
                        xv[v] = unsafe { $load(xk.add(v * LANES)) };
                    }
                    for i in 0..R {
                        // SAFETY: as above, `i < R`.
                        let wi = $set1(unsafe { *wk.add(i) });
                        for v in 0..V {
                            acc[i][v] = $fmadd(wi, xv[v], acc[i][v]);
                        }
                    }
                }
                for (row, acc) in tile.iter_mut().zip(&acc) {
                    for (v, &a) in acc.iter().enumerate() {
                        // SAFETY: `v * LANES + LANES <= V * LANES <= MAX_WIDTH`.
                        unsafe { $store(row.as_mut_ptr().add(v * LANES), a) };
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
vector_tile!(
    avx512,
    "avx512f,avx2,fma",
    16,
    crate::simd::activation::avx512::apply,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);

#[cfg(target_arch = "x86_64")]
vector_tile!(
    avx2,
    "avx2,fma",
    8,
    crate::simd::activation::avx2::apply,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);

pub(super) mod wide;

#[cfg(test)]
mod tests;
