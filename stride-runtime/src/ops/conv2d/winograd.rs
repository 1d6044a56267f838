//! 3x3 convolution with stride 1 and dilation 1 by Winograd's minimal filtering, F(4x4, 3x3)
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//!
//! The output is cut into 4x4 tiles. Each tile's 6x6 input patch `d`, transformed as
//! `V = Bᵀ d B`, times the transformed filter `U = G g Gᵀ` element by element, summed over the
//! input channels and transformed back as `Y = Aᵀ M A`, is the tile's 4x4 output: 36
//! multiplies per channel pair instead of 144. The sum over channels makes the element-wise
//! stage 36 independent GEMMs, one per transform position `ξ`:
//! `M[ξ] (Cout × tiles) = U[ξ] (Cout × Cin) · V[ξ] (Cin × tiles)`, on the crate's SGEMM.
//!
//! # Why 4x4 tiles and not 6x6
//!
//! F(6x6, 3x3) (8x8 tiles) multiplies 64 times per 36 outputs instead of 36 per 16: 1.27x
//! fewer GEMM FLOPs, bought with larger transforms (points ±1/2 and ±2, coefficients up to
//! 21/4 and 32), 8x8 tiles that fit 56-wide planes badly (10 tiles for 56 columns) and twice
//! the error. Measured by `tests::winograd_error_on_realistic_layers` (post-ReLU inputs,
//! He-initialised weights) against the direct convolution in f64:
//!
//! | `Cin` | RMS error F(4x4) | F(6x6) | tolerance used, F(4x4) | F(6x6) | im2col + GEMM |
//! |---|---|---|---|---|---|
//! | 64 | 1.1e-6 | 2.2e-6 | 16% | 13% | 0.9% |
//! | 256 | 2.6e-6 | 4.8e-6 | 23% | 38% | 0.8% |
//! | 512 | 3.0e-6 | 5.7e-6 | 29% | 53% | 0.7% |
//!
//! ("tolerance used": the largest `|error| / (1e-4 + 1e-4·|y|)` of any output, the golden
//! tolerance.) F(6x6) would spend half the tolerance in one layer of 512 channels, leaving no
//! room for a network that stacks them; F(4x4) stays below a third. On the golden VGG block
//! (a 64-channel 3x3 layer at 224x224 after the first), Winograd uses 10% of the tolerance
//! (im2col 0.7%); the narrow ResNets' outputs, after pooling, 0.1%.
//!
//! # Blocking
//!
//! A task is one sample and a block of tiles (consecutive in raster order, a row of tiles
//! wrapping onto the next). For its block it
//!
//! 1. transforms the input channel by channel: copies the input runs the block's tiles read
//!    into a strip per row of tiles ([`Block::stage`]; the strips' padding is zeroed once per
//!    block, so the image's edges cost nothing in the transform), then transforms the tiles
//!    [`LANES`] at a time into `V` (`[36][Cin][tiles]`);
//! 2. runs the 36 GEMMs into `M` (`[Cout][36][tiles]`) with [`gemm::gemm_serial`];
//! 3. transforms `M` back, output channel by output channel, adding the bias and applying the
//!    activation as it writes each tile into the output.
//!
//! `V` and `M` are this thread's scratch, reused from block to block: the block holds as many
//! tiles as keep both within [`SCRATCH_BYTES`] (16 to 64 tiles, whole GEMM panels; 32 for 64
//! channels in and out, 590 KB), so they stay in L2 between the transforms and the GEMMs; a
//! 224x224 layer never has more than one block's transforms in memory per thread. A tensor
//! larger than L2 is read and written a few hundred bytes per row and channel, too scattered
//! for the hardware prefetcher, so the block fetches the next channel's rows ahead.
//!
//! On one core, `resnet_conv3x3_64_56` (0.77 ms, ~300 GFLOP/s counted as direct
//! convolution) spends about 72% of its time in the GEMMs (at about the kernel's speed on
//! any shape), 18% in the input transform and 10% in the output transform; with a 12 MiB
//! input and output (`vgg_conv3x3_64_224`), 59%, 21% and 20%.
//!
//! # Threads
//!
//! Tasks go to [`crate::threads::for_each`]: a batch gives every thread its samples' blocks,
//! and a single 56x56 image (196 tiles) is seven blocks, so both cores work on it. With fewer
//! blocks than threads (one 14x14 image is 16 tiles, one block) each block is also split by
//! output channels ([`channel_ranges`]): each part transforms the block's input again and
//! runs its rows of the 36 GEMMs and its channels' output transform. On ResNet-50 at batch 1
//! its five 14x14 layers went from 1.10x to 1.67x faster on two threads than on one.
//!
//! # Paths
//!
//! The transforms have an AVX2 form (8 tiles per vector, the tiles' rows turned into columns
//! by in-lane 4x4 transposes) and a scalar one computing the same sums tile by tile; the GEMM
//! runs on the same `Isa`. Both write the same layout of `V`, so either transform can be
//! checked against the other and against the matrices below.

mod scalar;
#[cfg(test)]
mod tests;
mod tile;

#[cfg(target_arch = "x86_64")]
mod avx2;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::ArrayView4;
use stride_geometry::Window;

use self::tile::{LANES, OUT, POSITIONS, Place, SIDE};
use super::shared::SharedOutput;
use crate::gemm::{self, Epilogue, MR, MatMut, NR, PackB, PackedA};
use crate::ops::conv_layer::Geometry;
use crate::simd::{Activation, Isa};
use crate::workspace::Workspace;

/// Most tiles in a block: the stack arrays of a block's tile places are this long.
const MAX_BLOCK: usize = 64;
/// What a block's `V` and `M` may take together: about 60% of a 1 MiB L2, the rest for the
/// GEMM's packed block of `V` and a position's `U`. 64 input and output channels get blocks
/// of 32 tiles, measured faster than 16, 48 or 64 on `resnet_conv3x3_64_56` and
/// `vgg_conv3x3_64_224` (and blocks that are not whole GEMM panels, 24 or 40, 25% slower).
const SCRATCH_BYTES: usize = 640 << 10;

/// Tensors up to this size are taken to be in L2 (written by the layer before, or read by
/// the block before); larger ones are fetched ahead channel by channel, which on
/// `vgg_conv3x3_64_224` (12 MiB in, 12 MiB out) saves about 10% of the transforms' time and
/// on `resnet_conv3x3_64_56` (0.8 MiB) costs as much.
const CACHED_BYTES: usize = 1 << 20;

/// `Bᵀ`, the input transform: row `i` of `Bᵀ d B` combines the rows of `d` with row `i`.
#[cfg_attr(not(test), allow(dead_code))] // The kernels use it factored; tests check them.
pub(super) const BT: [[f32; SIDE]; SIDE] = [
    [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
    [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
];

/// `G`, the filter transform, in f64: `1/6` and `1/24` are not exact in f32, so `G g Gᵀ` is
/// summed in f64 and rounded once.
const G: [[f64; 3]; SIDE] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// `Aᵀ`, the output transform.
#[cfg_attr(not(test), allow(dead_code))] // The kernels use it factored; tests check them.
pub(super) const AT: [[f32; SIDE]; OUT] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
];

/// Fewest input channels for which Winograd pays: with fewer, the output transform costs
/// more than the multiplies it saves (measured below).
pub(super) const MIN_CHANNELS: usize = 8;

/// Whether Winograd pays for a layer of `cin` (at least [`MIN_CHANNELS`]) input and `cout`
/// output channels on an input whose output is `output` (height, width): at least 16 tiles
/// a sample, or 9 when the transformed filters fit in L3 (up to 256 x 256 channels, 9.4 MB).
/// Measured on one core, Winograd's time over im2col's (below 1, Winograd faster):
///
/// | layer | ratio | | layer | ratio |
/// |---|---|---|---|---|
/// | 3 → 64, 224x224 | 1.6 | | 64 → 64, 8x8 (4 tiles) | 0.93 |
/// | 4 → 16, 56x56 | 0.93 | | 64 → 64, 6x6 (4 tiles) | 1.2 |
/// | 6 → 32, 56x56 | 0.87 | | 256 → 256, 8x8 (4 tiles) | 1.2 |
/// | 8 → 8, 56x56 | 0.54 | | 256 → 256, 10x10 (9 tiles) | 0.59 |
/// | 64 → 2, 56x56 | 0.37 | | 512 → 512, 7x7 (4 tiles) | 1.8 |
/// | 128 → 128, 10x10 (9 tiles) | 0.54 | | 512 → 512, 10x10 (9 tiles) | 1.2 |
/// | 512 → 512, 14x14 (16 tiles) | 0.65 | | 1024 → 1024, 14x14 (16 tiles) | 0.59 |
///
/// With few tiles the GEMMs are narrower than the micro-kernel's 16 columns, and the
/// transformed filters (4x the weight) are read from memory once for little work. A small
/// `Cout` is no reason to refuse: im2col's 6-row panels do worse there.
pub(super) fn pays(cin: usize, cout: usize, output: [usize; 2]) -> bool {
    debug_assert!(cin >= MIN_CHANNELS);
    let tiles = output[0].div_ceil(OUT) * output[1].div_ceil(OUT);
    tiles >= 16 || (tiles >= 9 && cin * cout <= 256 * 256)
}

/// The largest input magnitude Winograd takes, `2^64`: the input transform multiplies by up
/// to 100 and the output transform by up to 361, far inside `f32` from here.
const MAX_INPUT: f32 = 18_446_744_073_709_551_616.0;

/// Whether Winograd computes this input as the direct sum would, up to rounding: every value
/// finite and at most [`MAX_INPUT`] in magnitude. The transforms mix each input with
/// coefficients of both signs, so one +inf in a window would give `inf - inf = NaN` where
/// PyTorch's direct convolution gives +inf (and a NaN would spread to the whole 4x4 tile
/// rather than the outputs whose window holds it); such inputs go to im2col.
///
/// One read of the input with `isa`'s vector scan ([`Isa::all_within`]), split over the
/// crate's threads past [`SERIAL_SCAN`] values. Measured on one thread, 4.7 µs for
/// `resnet_conv3x3_64_56`'s input (0.7% of the layer's 0.66 ms) and 108 µs for
/// `vgg_conv3x3_64_224`'s (1.0% of 10.6 ms).
pub(super) fn takes(isa: Isa, x: ArrayView4<f32>) -> bool {
    let Some(values) = x.as_slice_memory_order() else {
        return x.iter().all(|v| v.abs() <= MAX_INPUT);
    };
    if values.len() <= SERIAL_SCAN {
        return isa.all_within(values, MAX_INPUT);
    }
    let within = AtomicBool::new(true);
    let parts = values.chunks(values.len().div_ceil(crate::threads::threads()));
    crate::threads::for_each(parts.collect(), |part| {
        if within.load(Ordering::Relaxed) && !isa.all_within(part, MAX_INPUT) {
            within.store(false, Ordering::Relaxed);
        }
    });
    within.into_inner()
}

/// Inputs up to this many values (1 MiB) are scanned on the calling thread: handing the
/// scan to others costs more than it saves.
const SERIAL_SCAN: usize = 1 << 18;

/// The filters transformed once per layer: `U[ξ] = (G g Gᵀ)[ξ]` for every (output, input)
/// channel pair, packed as the `A` of position `ξ`'s GEMM (`Cout × Cin`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Weights {
    positions: Vec<PackedA>,
}

impl Weights {
    /// Transforms a contiguous `[cout, cin, 3, 3]` weight.
    pub(super) fn new(weight: &[f32], cout: usize, cin: usize) -> Self {
        assert_eq!(weight.len(), cout * cin * 9, "a [Cout, Cin, 3, 3] weight");
        let pairs = cout * cin;
        let mut u = vec![0.0f32; POSITIONS * pairs];
        for (pair, g) in weight.chunks_exact(9).enumerate() {
            // G g, then (G g) Gᵀ, in f64.
            let mut gg = [[0.0f64; 3]; SIDE];
            for (row, coefficients) in gg.iter_mut().zip(&G) {
                for (b, v) in row.iter_mut().enumerate() {
                    *v = (0..3)
                        .map(|a| coefficients[a] * f64::from(g[3 * a + b]))
                        .sum();
                }
            }
            for (i, row) in gg.iter().enumerate() {
                for (k, coefficients) in G.iter().enumerate() {
                    let v: f64 = (0..3).map(|b| row[b] * coefficients[b]).sum();
                    u[(SIDE * i + k) * pairs + pair] = v as f32;
                }
            }
        }
        let positions = u
            .chunks_exact(pairs)
            .map(|u| PackedA::row_major(u, cout, cin))
            .collect();
        Weights { positions }
    }

    /// Output channels.
    fn cout(&self) -> usize {
        self.positions[0].m()
    }

    /// Input channels.
    fn cin(&self) -> usize {
        self.positions[0].k()
    }
}

/// Writes `activation(x ⋆ weight + bias)` into `y` on `isa`, all contiguous and sized by
/// `g` (3x3, stride 1, dilation 1, one group): `x` NCHW, `weights` from [`Weights::new`],
/// `bias` `[Cout]`, `y` `[N, Cout, OH, OW]`.
pub(super) fn conv2d(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    weights: &Weights,
    bias: Option<&[f32]>,
    activation: Activation,
    y: &mut [f32],
) {
    debug_assert!(g.groups == 1 && g.axes.iter().all(|w| w.kernel == 3));
    debug_assert!(g.axes.iter().all(|w| w.stride == 1 && w.dilation == 1));
    debug_assert_eq!((weights.cin(), weights.cout()), (g.group_in, g.group_out));
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(y.len(), g.output_len());
    debug_assert!(bias.is_none_or(|b| b.len() == g.group_out));

    let tiles = g.output.map(|o| o.div_ceil(OUT));
    let per_sample = tiles[0] * tiles[1];
    let block = block_tiles(g.group_in, g.group_out);
    let blocks: Vec<_> = gemm::blocks(per_sample, block, NR).collect();
    let flops = 2 * g.output_len() * g.patch_len();
    let parallel = flops >= gemm::parallel_flops();
    let channels = channel_ranges(g.group_out, g.batch * blocks.len(), parallel);
    let mut tasks = Vec::with_capacity(g.batch * blocks.len() * channels.len());
    for sample in 0..g.batch {
        for &(first, count) in &blocks {
            tasks.extend(channels.iter().map(|c| (sample, first, count, c.clone())));
        }
    }
    let out = SharedOutput::new(y);
    let job = Job {
        isa,
        g,
        x,
        weights,
        bias,
        activation,
        tiles,
        prefetch_input: size_of_val(x) > CACHED_BYTES,
        prefetch_output: size_of_val(y) > CACHED_BYTES,
    };
    let run = |(sample, first, count, channels): (usize, usize, usize, Range<usize>)| {
        // SAFETY: the tasks' blocks and channel ranges partition every sample's tiles and
        // output channels, and a task writes only the output pixels of its own tiles in its
        // own channels, so no two tasks write the same element, and `out` points at `y`,
        // which this call borrows uniquely, of `g.output_len()` values.
        unsafe { job.block(sample, first, count, channels, out) }
    };
    if !parallel {
        tasks.into_iter().for_each(run);
    } else {
        crate::threads::for_each(tasks, run);
    }
}

/// The output channel ranges each block is split into, so that `blocks` blocks (over all
/// samples) give every thread work: one range when there are blocks enough, else as many as
/// the threads left without a block, in whole GEMM panels ([`MR`] channels). Each range
/// transforms the block's input again (about a fifth of a block's time) and runs its share of
/// the GEMMs and output transform; one image of 14x14 (16 tiles, one block) was one task.
fn channel_ranges(cout: usize, blocks: usize, parallel: bool) -> Vec<Range<usize>> {
    let threads = crate::threads::threads();
    let panels = cout.div_ceil(MR);
    let splits = if parallel && blocks < threads {
        threads.div_ceil(blocks).min(panels)
    } else {
        1
    };
    gemm::panel_ranges(cout, MR, splits)
}

/// Tiles per block for `cin` input and `cout` output channels: as many as keep `V` and `M`
/// within [`SCRATCH_BYTES`], in whole GEMM panels ([`NR`] columns, at least one), at most
/// [`MAX_BLOCK`].
fn block_tiles(cin: usize, cout: usize) -> usize {
    let per_tile = POSITIONS * size_of::<f32>() * (cin + cout);
    (SCRATCH_BYTES / per_tile / NR * NR).clamp(NR, MAX_BLOCK)
}

/// What every task of one call shares.
struct Job<'a> {
    isa: Isa,
    g: &'a Geometry<Window>,
    x: &'a [f32],
    weights: &'a Weights,
    bias: Option<&'a [f32]>,
    activation: Activation,
    /// Rows and columns of tiles of one sample.
    tiles: [usize; 2],
    /// Whether to fetch the next channel's input rows, and output lines, ahead: for a
    /// tensor larger than [`CACHED_BYTES`], which comes from memory rather than from L2.
    prefetch_input: bool,
    prefetch_output: bool,
}

impl Job<'_> {
    /// Computes tiles `first .. first + count` of `sample`, output channels `channels` (which
    /// start on a GEMM panel), into the output at `out`.
    ///
    /// # Safety
    /// `out` points at the whole output (`g.output_len()` values), and nothing else reads or
    /// writes these tiles' pixels in these channels meanwhile.
    unsafe fn block(
        &self,
        sample: usize,
        first: usize,
        count: usize,
        channels: Range<usize>,
        out: SharedOutput,
    ) {
        let g = self.g;
        let (cin, cout) = (g.group_in, channels.len());
        let c0 = channels.start;
        debug_assert!(c0 % MR == 0 && channels.end <= g.group_out);
        let panels = c0 / MR..channels.end.div_ceil(MR);
        let [h, w] = g.input;
        let [oh, ow] = g.output;
        let block = Block::new(self.tiles, g, first, count);
        let columns = block.columns();
        // One position's `V` after another, each a cache line more than its `Cin × columns`
        // values: at a power-of-two distance (64 channels of 32 columns: 8 KiB), the input
        // transform's 36 stores for a group of tiles would all fall in one L1 set (measured
        // 18% slower).
        let position_len = cin * columns + NR;
        let v_len = POSITIONS * position_len;
        let m_len = cout * POSITIONS * columns;
        // `V`, `M` and the staged strips, from this thread's workspace: a few hundred KiB for
        // the usual layers, a few MiB for a thousand channels. 64-byte aligned, so each group
        // of 8 columns is one aligned vector.
        Workspace::with(v_len + m_len + block.staged_len(), |scratch| {
            let (v, rest) = scratch.split_at_mut(v_len);
            let (m, staged) = rest.split_at_mut(m_len);
            block.clear(staged);

            // 1. Input transform, channel by channel.
            let x = &self.x[sample * cin * h * w..][..cin * h * w];
            let plane = |c: usize| &x[c * h * w..][..h * w];
            for c in 0..cin {
                block.stage(self.isa, plane(c), staged);
                if self.prefetch_input && c + 1 < cin {
                    block.prefetch(plane(c + 1));
                }
                for (group, places) in block.places().chunks_exact(LANES).enumerate() {
                    let places: &[Place; LANES] = places.try_into().expect("LANES places");
                    let v = &mut v[c * columns + group * LANES..];
                    self.input_group(staged, block.stride, places, v, position_len);
                }
            }

            // 2. The element-wise stage: 36 GEMMs.
            for (position, (a, v)) in self
                .weights
                .positions
                .iter()
                .zip(v.chunks_exact(position_len))
                .enumerate()
            {
                let b = Transformed {
                    v: &v[..cin * columns],
                    columns,
                };
                let c = MatMut::new(
                    &mut m[position * columns..],
                    cout,
                    columns,
                    POSITIONS * columns,
                    1,
                );
                gemm::gemm_serial_rows(self.isa, a, panels.clone(), &b, 0, c, &Epilogue::default());
            }

            // 3. Output transform, output channel by output channel.
            for (i, m) in m.chunks_exact(POSITIONS * columns).enumerate() {
                let channel = c0 + i;
                let bias = self.bias.map_or(0.0, |b| b[channel]);
                let plane_offset = (sample * g.group_out + channel) * oh * ow;
                if self.prefetch_output && i + 1 < cout {
                    block.prefetch_output(out.wrapping_at(plane_offset + oh * ow), g.output);
                }
                for (group, places) in block.places().chunks_exact(LANES).enumerate() {
                    let places: &[Place; LANES] = places.try_into().expect("LANES places");
                    let m = &m[group * LANES..];
                    // SAFETY: the plane lies inside the output; the places are this block's
                    // tiles of it, which the caller gave to this task alone.
                    unsafe {
                        let plane = out.at(plane_offset);
                        self.output_group(m, columns, bias, plane, ow, places);
                    }
                }
            }
        });
    }

    /// Transforms one group of tiles of one channel's staged strips into `v` (see
    /// [`scalar::input_group`]).
    fn input_group(
        &self,
        staged: &[f32],
        stride: usize,
        places: &[Place; LANES],
        v: &mut [f32],
        v_stride: usize,
    ) {
        match self.isa {
            // SAFETY: an `Avx2` or `Avx512` value exists only where the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) | Isa::Avx512(_) => unsafe {
                avx2::input_group(staged, stride, places, v, v_stride)
            },
            Isa::Scalar => scalar::input_group(staged, stride, places, v, v_stride),
        }
    }

    /// Transforms one group of tiles of one output channel back into its plane (see
    /// [`scalar::output_group`]).
    ///
    /// # Safety
    /// Every place with rows lies inside the `ow`-wide plane at `plane`, which nothing else
    /// touches meanwhile.
    unsafe fn output_group(
        &self,
        m: &[f32],
        m_stride: usize,
        bias: f32,
        plane: *mut f32,
        ow: usize,
        places: &[Place; LANES],
    ) {
        let activation = self.activation;
        match self.isa {
            // SAFETY: an `Avx2` or `Avx512` value exists only where the CPU has AVX2 and FMA;
            // the caller's promise is the kernel's.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) | Isa::Avx512(_) => unsafe {
                avx2::output_group(m, m_stride, bias, activation, plane, ow, places)
            },
            // SAFETY: the caller's promise is the kernel's.
            Isa::Scalar => unsafe {
                scalar::output_group(m, m_stride, bias, activation, plane, ow, places)
            },
        }
    }
}

/// One position's `V`, `Cin × columns` and row-major, as the GEMM's `B`. Its rows already
/// lie as the micro-kernel reads a packed block (`columns` is a whole number of panels), so
/// the GEMM reads them in place ([`PackB::view`]): packing a copy cost 7% of
/// `resnet_conv3x3_64_56`.
struct Transformed<'a> {
    v: &'a [f32],
    columns: usize,
}

impl PackB for Transformed<'_> {
    fn k(&self) -> usize {
        self.v.len() / self.columns
    }

    fn n(&self) -> usize {
        self.columns
    }

    /// Not called, since [`Transformed::view`] always answers; as `B`'s definition says.
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32], row_stride: usize) {
        let b = gemm::StridedB::row_major(self.v, self.k(), self.columns);
        b.pack(k0, kc, j0, nc, dst, row_stride);
    }

    fn view(&self, k0: usize, kc: usize, j0: usize, nc: usize) -> Option<(&[f32], usize)> {
        debug_assert!(k0 + kc <= self.k() && j0 + nc <= self.columns);
        // Rows are `columns` long, a multiple of `NR`, and blocks start on panels, so each
        // row has `nc` rounded up to `NR` values from `j0`.
        debug_assert!(self.columns % NR == 0 && j0 % NR == 0);
        Some((&self.v[k0 * self.columns + j0..], self.columns))
    }
}

/// A block of tiles of one sample and the strips its input is staged in.
///
/// Tiles `first .. first + count` (raster order) cover the rows of tiles `row0 ..= row1`; in
/// each, the tiles of the block form one run. Strip `j` holds, for the run of tile row
/// `row0 + j`, the 6 input rows its tiles read, from the first tile's left column to 4
/// columns past the last tile's right one (the transform reads 8 columns a tile), zeros
/// where they fall in the padding. After the strips, a zero patch for the lanes past the
/// last tile.
struct Block {
    /// Tile places, `columns()` of them.
    places: [Place; MAX_BLOCK],
    count: usize,
    /// The first row of tiles, and for each strip, the first tile column of its run and the
    /// number of tiles in it.
    row0: usize,
    runs: [(usize, usize); MAX_BLOCK],
    strips: usize,
    /// Distance between rows in the staged strips.
    stride: usize,
    /// The runs of input rows the strips hold, the same in every channel (the padding
    /// around them stays zero).
    segments: [Segment; SIDE * MAX_BLOCK],
    segment_count: usize,
}

/// A run of one input row that a strip row holds: `len` values from `plane[src..]` to
/// `staged[dst..]`.
#[derive(Debug, Clone, Copy, Default)]
struct Segment {
    dst: usize,
    src: usize,
    len: usize,
}

impl Block {
    fn new(tiles: [usize; 2], g: &Geometry<Window>, first: usize, count: usize) -> Self {
        assert!(
            (1..=MAX_BLOCK).contains(&count),
            "a block of 1 to MAX_BLOCK tiles"
        );
        let width = tiles[1];
        let (row0, row1) = (first / width, (first + count - 1) / width);
        let strips = row1 - row0 + 1;
        let mut runs = [(0, 0); MAX_BLOCK];
        for (j, run) in runs.iter_mut().enumerate().take(strips) {
            let row = row0 + j;
            let start = if row == row0 { first % width } else { 0 };
            let end = if row == row1 {
                (first + count - 1) % width + 1
            } else {
                width
            };
            *run = (start, end - start);
        }
        let widest = runs[..strips].iter().map(|r| r.1).max().unwrap_or(1);
        let stride = OUT * widest + OUT;
        let [oh, ow] = g.output;
        let zero_tile = strips * SIDE * stride;
        let mut places = [Place {
            input: zero_tile,
            ..Place::default()
        }; MAX_BLOCK];
        for (k, place) in places.iter_mut().enumerate().take(count) {
            let (row, col) = ((first + k) / width, (first + k) % width);
            let strip = row - row0;
            *place = Place {
                input: strip * SIDE * stride + OUT * (col - runs[strip].0),
                output: OUT * row * ow + OUT * col,
                rows: (oh - OUT * row).min(OUT),
                cols: (ow - OUT * col).min(OUT),
            };
        }
        // Strip row `j * 6 + i` holds input row `4 * (row0 + j) + i - top` (if inside),
        // from input column `x0 = 4 * col0 - left`: its values `a..b` fall inside the row.
        let [h, w] = g.input;
        let [top, left] = [g.axes[0].pad_begin, g.axes[1].pad_begin];
        let mut segments = [Segment::default(); SIDE * MAX_BLOCK];
        let mut segment_count = 0;
        for (j, &(col0, tiles)) in runs[..strips].iter().enumerate() {
            let len = OUT * tiles + OUT;
            let x0 = (OUT * col0) as isize - left as isize;
            let a = (-x0).clamp(0, len as isize) as usize;
            let b = (w as isize - x0).clamp(a as isize, len as isize) as usize;
            for i in 0..SIDE {
                let y = (OUT * (row0 + j) + i) as isize - top as isize;
                if (0..h as isize).contains(&y) && a < b {
                    segments[segment_count] = Segment {
                        dst: (j * SIDE + i) * stride + a,
                        src: y as usize * w + (x0 + a as isize) as usize,
                        len: b - a,
                    };
                    segment_count += 1;
                }
            }
        }
        Block {
            places,
            count,
            row0,
            runs,
            strips,
            stride,
            segments,
            segment_count,
        }
    }

    /// Columns of `V` and `M`: the tiles, rounded up to whole GEMM panels (of [`NR`], a
    /// multiple of [`LANES`]).
    fn columns(&self) -> usize {
        self.count.next_multiple_of(NR)
    }

    /// The places of the tiles, whole GEMM panels (the lanes past the last tile read the
    /// zero patch and write nothing).
    fn places(&self) -> &[Place] {
        &self.places[..self.columns()]
    }

    /// Values of the staged strips and the zero patch.
    fn staged_len(&self) -> usize {
        (self.strips + 1) * SIDE * self.stride
    }

    /// Zeroes the strips and the zero patch after them: the padding, which no channel's
    /// copy overwrites, and the patch the lanes past the last tile read.
    fn clear(&self, staged: &mut [f32]) {
        staged.fill(0.0);
    }

    /// The runs of input rows the strips hold.
    fn segments(&self) -> &[Segment] {
        &self.segments[..self.segment_count]
    }

    /// Copies the input rows of each strip from one channel's `plane` (the padding around
    /// them stays as [`Block::clear`] left it), with `isa`'s copy: runs of a few dozen
    /// values, too short for `memcpy` calls (through them, staging took 10% of
    /// `resnet_conv3x3_64_56`).
    fn stage(&self, isa: Isa, plane: &[f32], staged: &mut [f32]) {
        for s in self.segments() {
            isa.copy(&mut staged[s.dst..][..s.len], &plane[s.src..][..s.len]);
        }
    }

    /// Asks the CPU to fetch the input rows [`Block::stage`] will read from `plane`, so that
    /// they arrive while the previous channel is transformed: a block reads a few hundred
    /// bytes from each of 6 rows of every channel, too scattered for the hardware prefetcher
    /// (without this, 13% of `vgg_conv3x3_64_224` went to waiting for them).
    fn prefetch(&self, plane: &[f32]) {
        for s in self.segments() {
            for line in plane[s.src..][..s.len].chunks(64 / size_of::<f32>()) {
                prefetch(line.as_ptr());
            }
        }
    }
}

impl Block {
    /// Asks the CPU to fetch the output lines of this block's tiles in the plane at `plane`
    /// (`output` high and wide), ahead of the output transform's stores.
    fn prefetch_output(&self, plane: *const f32, output: [usize; 2]) {
        let [oh, ow] = output;
        for (j, &(col0, tiles)) in self.runs[..self.strips].iter().enumerate() {
            let row = OUT * (self.row0 + j);
            let (x0, x1) = (OUT * col0, (OUT * (col0 + tiles)).min(ow));
            for y in row..(row + OUT).min(oh) {
                for x in (x0..x1).step_by(64 / size_of::<f32>()) {
                    prefetch(plane.wrapping_add(y * ow + x));
                }
                prefetch(plane.wrapping_add(y * ow + x1 - 1));
            }
        }
    }
}

/// A hint to bring the cache line at `p` into L1; nothing where there is no such hint. (Also
/// im2col's, for the input lines its packing reads next.)
#[inline(always)]
pub(super) fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing the program sees, faults on no address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
