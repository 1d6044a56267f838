//! Groups whose output channels fill whole vectors (16 to 64 a group on AVX-512, 8 or 16 on
//! AVX2: ResNeXt's later stages, and its stride-2 layers): a group's output channels across
//! the vector, a few output pixels down the tile. [`takes`] says which layers.
//!
//! The tile of the parent module puts pixels across the vector: it computes each buffer row
//! `wq` wide, `wq - OW` columns of it for nothing (2 of 9 at 7x7), and at a stride above 1
//! it first splits the input into stride phases, a copy of a few values per row that took as
//! long as the multiply at 32 channels a group on 14x14. Here a tile is `V` vectors of output
//! channels times `P` output pixels, each pixel read through a pointer of its own: a step over
//! a tap of an input channel loads `V` vectors of weights (one row of
//! the parent's `Weights`, contiguous) and broadcasts one input value per pixel, at any
//! stride. So the buffer ([`Plain`]) is the band's padded input rows as they are: one zeroing
//! pass and one copy per input row. Pixels are taken in output order, so a tile may run
//! across the end of an output row and no column is computed past the output; a 7x7 output
//! is 49 pixels, not 63 flat positions.
//!
//! The sums leave the tile as `[pixel][channel]` and are written to the output transposed,
//! one value at a time (one store per `2 * Cin/g * kh * kw` flops: 1 per 576 at 32 channels a
//! group); the activation then runs over each channel's band of the output, after the
//! residual when there is one.
//!
//! # Measured
//!
//! `cargo bench --bench layers -- --suite FILE --threads 1`, the parent's tile before → this
//! one, ms, one thread of a shared Zen 5, AVX-512, two alternated runs each:
//! `grouped3x3s2_g32_1024_14` 0.355 → 0.177, `grouped3x3s2_g32_512_28` 0.352 → 0.224,
//! `grouped3x3_g32_1024_7` 0.199 → 0.160, `grouped3x3_g8_256_28` 0.517 → 0.480; sizes of no
//! suite: ResNeXt-50 32x8d's `grouped3x3s2_g32_2048_14` 1.0-1.5 → 0.58, `grouped3x3_g32_2048_7`
//! 0.66-0.69 → 0.55, `grouped3x3_g32_1024_14` 0.61-0.64 → 0.52. On AVX2 (`STRIDE_ISA=avx2`):
//! `grouped3x3s2_g32_512_28` 0.55-0.57 → 0.30, `grouped3x3s2_g32_256_56` 0.55-0.57 → 0.40.
//! The tiles themselves run near the FMA peak (perf on `grouped3x3s2_g32_1024_14`: 60% of the
//! layer in the tile, about 230 GFLOP/s of 268); the rest is the copy in and the transposed
//! copy out.
//!
//! Each output is the same sum in the same order (bias, then the steps in PyTorch's order of
//! a filter's values) whatever the band and the tile, so the numbers do not depend on the
//! thread count.

use core::ops::Range;

use stride_geometry::Window;

use crate::gemm::{Epilogue, MatMut};
use crate::ops::conv_layer::Geometry;
use crate::simd::{Activation, Isa, zero};
use crate::workspace::Workspace;

/// Input channels a group has at most for the parent's tile to keep it. The networks' stems
/// (one group of 3 input channels) sum few products per output and write a large output,
/// which this module writes transposed and then copies: MobileNetV2's 3x3/2 stem ran 0.176
/// ms here and 0.132 in the parent's tile, ConvNeXt's 4x4/4 0.188 against 0.164, ResNet's
/// 7x7/2 1.06-1.08 against 0.97-0.99; from 16 input channels this module was ahead
/// (`conv5x5_16_32_28` 0.078 against 0.088 ms, `conv5x5_48_128_14` 0.23 against 0.29,
/// `conv7x7_64_64_56` 4.7-4.8 against 5.1; one thread, Zen 5, AVX-512, `cargo bench --bench
/// layers`, the two alternated twice in one build).
const SHORT_SUM: usize = 8;

/// Most output pixels in one tile: each holds a pointer in a general register.
const MAX_PIXELS: usize = 8;

/// Most output channels in one tile: 4 vectors of 16.
const MAX_CHANNELS: usize = 64;

/// Whether this module runs the layer on `isa`: when a group's output channels fill whole
/// vectors, two or more of them, or one at a stride above 1 (or at stride 1 on Zen 4, see
/// [`takes_on`]); a tile holds at least 6 pixels; and a group has more than [`SHORT_SUM`]
/// input channels.
///
/// With one vector a step loads `P + 1` values for `P` multiply-adds, against 11 for 24 in
/// the parent's tile of 8 channels by 3 vectors of pixels; at stride 1 the parent's buffer
/// costs no more than this module's, and `grouped3x3_g32_512_14` (16 channels a group) ran
/// 0.186 ms there and 0.205 ms here (one thread, Zen 5, AVX-512, two 512-bit FMA units). At
/// stride 2 the parent's
/// phase copy decides: `grouped3x3s2_g32_512_28` (16 a group) 0.352 → 0.224 ms. AVX2's 16
/// registers hold 4 vectors of 32 channels by 3 pixels only, a step of 7 loads for 12
/// multiply-adds, and there `grouped3x3_g32_1024_7` ran 0.42 ms in the parent's tile and
/// 0.54 here.
pub(in crate::ops::conv2d) fn takes(isa: Isa, g: &Geometry<Window>) -> bool {
    #[cfg(target_arch = "x86_64")]
    let halved = matches!(isa, Isa::Avx512(_)) && crate::simd::halved_zmm();
    #[cfg(not(target_arch = "x86_64"))]
    let halved = false;
    takes_on(isa, g, halved)
}

/// [`takes`], where `halved` says whether the tile's zmm multiply-adds issue once a cycle
/// (AVX-512 on a CPU that runs a zmm operation in two halves: [`crate::simd::halved_zmm`]).
///
/// Where a zmm multiply-add issues once a cycle (Zen 4), one vector a group runs here at
/// stride 1 too when the parent's tile would compute at least an eighth more columns than
/// the output has (`8 * wq >= 9 * OW`: 2 of 16 at 14x14, 2 of 9 at 7x7, 4 of 32 for 5x5 at
/// 28x28). The step's `P + 1` loads then keep up with the one multiply-add a cycle, and no
/// column is computed for nothing. Measured with `cargo bench --bench layers -- --suite
/// benches/layers_more.json --threads 1,2` (`layers.json` for the first), the parent's tile
/// against the rule, ms, three alternated runs each, 2-vCPU AMD EPYC Zen 4, at one thread
/// and then at two: `grouped3x3_g32_512_14` 0.44-0.47 → 0.35-0.40 and 0.23-0.24 →
/// 0.22-0.23; `grouped3x3_g32_512_7` 0.17-0.18 → 0.13 and 0.08-0.12 → 0.07-0.08; the
/// same at batch 8, 3.8-4.5 → 3.6-3.7 and 2.0-2.2 → 1.8-2.1; `grouped5x5_g8_128_28`
/// 0.91-0.93 → 0.80-0.83 and 0.46-0.50 → 0.42-0.45. Below an eighth, with this tile forced,
/// the two were level at 28x28 (`grouped3x3_g32_512_28`, 2 of 30: 1.39-1.55 → 1.25-1.51 and
/// 0.76-0.79 → 0.75-0.80) and the parent's ahead at 56x56 (`grouped3x3_g16_256_56`, 2 of
/// 58: 2.6-2.8 → 2.7-3.2 and 1.39-1.41, once 2.26, → 1.54-1.55).
pub(super) fn takes_on(isa: Isa, g: &Geometry<Window>, halved: bool) -> bool {
    if g.group_in <= SHORT_SUM {
        return false;
    }
    let strided = g.axes.iter().any(|a| a.stride > 1);
    // The parent's buffer rows: the output width and the columns the kernel reaches past it.
    let w = g.axes[1];
    let wq = g.output[1] + (w.kernel - 1) * w.dilation / w.stride;
    let wasteful = 8 * wq >= 9 * g.output[1];
    lanes(isa).is_some_and(|lanes| {
        let vectors = g.group_out / lanes;
        g.group_out % lanes == 0
            && (vectors >= 2 || strided || (halved && wasteful))
            && pixels(isa, vectors.min(WIDEST)) >= 6
    })
}

/// Most vectors of channels in one tile.
const WIDEST: usize = 4;

/// Lanes of a vector on `isa`; none on the portable path, which the parent's tile serves.
fn lanes(isa: Isa) -> Option<usize> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => Some(16),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2(_) => Some(8),
        Isa::Scalar => None,
    }
}

/// Pixels in a tile of `vectors` vectors on `isa`: as many as keep the `pixels * vectors`
/// accumulators in registers with room for the weights and a broadcast (24 of AVX-512's 32,
/// 12 of AVX2's 16), at most [`MAX_PIXELS`].
fn pixels(isa: Isa, vectors: usize) -> usize {
    let budget = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => 24,
        _ => 12,
    };
    (budget / vectors).clamp(1, MAX_PIXELS)
}

/// Pixels in each tile of `vectors` vectors on `isa` for `count` pixels in all: the tiles
/// [`pixels`] allows, shared out evenly, so that the last is not mostly repeats (a 7x7 output
/// is 7 tiles of 7, not 6 of 8 and one of 1 computed 8 wide: 0.161 → 0.155 ms on
/// `grouped3x3_g32_1024_7`, medians of 3 alternated runs); and more than half of what
/// [`pixels`] allows, so that few tile shapes are compiled.
fn per_tile(isa: Isa, vectors: usize, count: usize) -> usize {
    let most = pixels(isa, vectors);
    count
        .div_ceil(count.div_ceil(most).max(1))
        .max(most / 2 + 1)
}

/// What one tile multiplies.
struct Steps<'a> {
    /// The weights of the tile's first channel at the first step; a step's are `stride`
    /// values further.
    w: *const f32,
    /// Values between two steps' weights: the group's output channels.
    stride: usize,
    /// The first value each pixel reads in the buffer.
    x: [*const f32; MAX_PIXELS],
    /// Where each step reads, from a pixel's place.
    offsets: &'a [usize],
    /// The bias of the tile's channels (zeros without one), which the sums start from.
    bias: [f32; MAX_CHANNELS],
}

/// Where a task's input buffer puts things: each input channel's padded rows that the band
/// reads, `rows × columns`, as they are (no stride phases: a pixel's broadcasts may read at
/// any stride).
#[derive(Debug, Clone, Copy)]
struct Plain {
    /// Padded rows the band reads: from the band's first output row times the stride, its
    /// rows' span.
    rows: usize,
    /// Padded columns the output reads, from the first.
    columns: usize,
}

impl Plain {
    fn new(g: &Geometry<Window>, band: &Range<usize>) -> Plain {
        let [h, w] = g.axes;
        Plain {
            rows: (band.len() - 1) * h.stride + h.effective_kernel(),
            columns: (g.output[1] - 1) * w.stride + w.effective_kernel(),
        }
    }

    fn channel(&self) -> usize {
        self.rows * self.columns
    }

    /// The offset of each step `(c, ki, kj)` (PyTorch's order of a filter's values) from the
    /// first value its pixel reads.
    fn offsets(&self, g: &Geometry<Window>) -> Vec<usize> {
        let [h, w] = g.axes;
        let mut taps = Vec::with_capacity(h.kernel * w.kernel);
        for ki in 0..h.kernel {
            for kj in 0..w.kernel {
                taps.push(ki * h.dilation * self.columns + kj * w.dilation);
            }
        }
        (0..g.group_in)
            .flat_map(|c| taps.iter().map(move |t| c * self.channel() + t))
            .collect()
    }
}

/// One sample, one group and a band of output rows of a layer this module [`takes`]: the
/// parent's task, handed over.
pub(super) struct Band<'a> {
    pub(super) isa: Isa,
    pub(super) g: &'a Geometry<Window>,
    /// The group's input planes.
    pub(super) x: &'a [f32],
    /// The group's packed weights, `[Cin/g * kh * kw][Cout/g]`.
    pub(super) weights: &'a [f32],
    /// With the group's bias.
    pub(super) epilogue: Epilogue<'a>,
    /// Output rows.
    pub(super) band: Range<usize>,
}

impl Band<'_> {
    /// Fills the buffer, then runs every tile of the band into `c` (the group's output
    /// channels, the band's `rows * OW` values of each).
    pub(super) fn run(&self, c: &mut MatMut) {
        let layout = Plain::new(self.g, &self.band);
        let offsets = layout.offsets(self.g);
        Workspace::with(self.g.group_in * layout.channel(), |buffer| {
            self.fill_plain(layout, buffer);
            self.tiles(layout, buffer, &offsets, c);
        });
    }

    /// Copies the band's padded input rows into `buffer`, zeros where they are padding: the
    /// whole buffer zeroed in one pass, then the input's runs (piece by piece around each
    /// run, the zeros took as long as the copy).
    fn fill_plain(&self, layout: Plain, buffer: &mut [f32]) {
        let g = self.g;
        let [axis_h, axis_w] = g.axes;
        let [h, w] = g.input;
        let (pt, pl) = (axis_h.pad_begin, axis_w.pad_begin);
        let first = self.band.start * axis_h.stride;
        // The buffer columns that hold input columns, `pl..pl + len`.
        let len = w.min(layout.columns.saturating_sub(pl));
        zero(buffer);
        for (c, channel) in buffer.chunks_exact_mut(layout.channel()).enumerate() {
            let plane = &self.x[c * h * w..][..h * w];
            for (r, row) in channel.chunks_exact_mut(layout.columns).enumerate() {
                let padded = first + r;
                if padded < pt || padded - pt >= h || len == 0 {
                    continue;
                }
                let src = &plane[(padded - pt) * w..][..len];
                self.isa.copy(&mut row[pl..pl + len], src);
            }
        }
    }

    /// Every tile of the band, from the filled `buffer` whose steps read at `offsets`,
    /// into `c`.
    fn tiles(&self, layout: Plain, buffer: &[f32], offsets: &[usize], c: &mut MatMut) {
        let lanes = lanes(self.isa).expect("a vector instruction set");
        let group_out = self.g.group_out;
        let [axis_h, axis_w] = self.g.axes;
        let ow = self.g.output[1];
        let count = self.band.len() * ow;
        let widest = (MAX_CHANNELS / lanes).min(WIDEST) * lanes;
        let mut tile = [[0.0f32; MAX_CHANNELS]; MAX_PIXELS];
        for r0 in (0..group_out).step_by(widest) {
            let channels = widest.min(group_out - r0);
            let vectors = channels / lanes;
            let most = per_tile(self.isa, vectors, count);
            let mut bias = [0.0; MAX_CHANNELS];
            if let Some(b) = self.epilogue.bias {
                bias[..channels].copy_from_slice(&b[r0..r0 + channels]);
            }
            let mut steps = Steps {
                // Bounds-checked here; the tile reads `offsets.len()` rows of it.
                w: self.weights[r0..].as_ptr(),
                stride: group_out,
                x: [buffer.as_ptr(); MAX_PIXELS],
                offsets,
                bias,
            };
            for p0 in (0..count).step_by(most) {
                let valid = most.min(count - p0);
                for (p, x) in steps.x.iter_mut().enumerate().take(most) {
                    // A last tile of fewer pixels repeats its last one, and drops it.
                    let j = p0 + p.min(valid - 1);
                    let first =
                        (j / ow) * axis_h.stride * layout.columns + (j % ow) * axis_w.stride;
                    *x = buffer[first..].as_ptr();
                }
                // SAFETY: each pixel reads `buffer[first + offsets[k]]`, inside the buffer
                // (`Plain` holds every value the band's outputs read); `w` holds `offsets.len()` steps of `group_out >= r0 + channels`
                // values; `most` and `vectors` are what `per_tile` allows on `self.isa`.
                unsafe { tile_on(self.isa, most, vectors, &steps, &mut tile) };
                self.scatter(&tile, r0, channels, p0, valid, c);
            }
        }
        let activation = self.epilogue.activation;
        if activation != Activation::Identity {
            for row in 0..group_out {
                // SAFETY: row `row < group_out`, columns `0..count`: the band's, this task's.
                let dst = unsafe { std::slice::from_raw_parts_mut(c.at(row, 0), count) };
                activation.apply_to_slice_on(self.isa, dst);
            }
        }
    }

    /// Writes a finished tile, pixels `p0..p0 + valid` of the band and channels `r0..r0 +
    /// channels` of the group, into `c`: as they are, or added to the residual there.
    fn scatter(
        &self,
        tile: &[[f32; MAX_CHANNELS]; MAX_PIXELS],
        r0: usize,
        channels: usize,
        p0: usize,
        valid: usize,
        c: &mut MatMut,
    ) {
        for ch in 0..channels {
            // SAFETY: row `r0 + ch < group_out` and columns `p0..p0 + valid` lie inside the
            // band's columns of `c`, which this task owns.
            let dst = unsafe { std::slice::from_raw_parts_mut(c.at(r0 + ch, p0), valid) };
            if self.epilogue.accumulate {
                for (d, sums) in dst.iter_mut().zip(tile) {
                    *d += sums[ch];
                }
            } else {
                for (d, sums) in dst.iter_mut().zip(tile) {
                    *d = sums[ch];
                }
            }
        }
    }
}

/// `tile[p][i] = bias[i] + Σ_k w[k * stride + i] · x[p][offsets[k]]` for `p < pixels` and
/// `i < vectors *` [`lanes`]`(isa)`, on `isa`.
///
/// # Safety
/// Each `steps.x[p]` for `p < pixels` is readable at every offset, and `steps.w` at `k *
/// stride + i` for every step `k` and `i < vectors * lanes`; `isa` is a vector one, and
/// `pixels` and `vectors` are what [`pixels`] allows on it.
unsafe fn tile_on(
    isa: Isa,
    pixels: usize,
    vectors: usize,
    steps: &Steps,
    tile: &mut [[f32; MAX_CHANNELS]; MAX_PIXELS],
) {
    debug_assert!((1..=MAX_PIXELS).contains(&pixels) && (1..=4).contains(&vectors));
    // SAFETY (each arm): the caller's promises, and the token proves the instructions.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512(_) => avx512::tile(pixels, vectors, steps, tile),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) => avx2::tile(pixels, vectors, steps, tile),
            Isa::Scalar => unreachable!("the portable path runs the parent's tile"),
        }
    }
}

/// A tile of `P` pixels times `V` vectors of channels, for one instruction set.
#[cfg(target_arch = "x86_64")]
macro_rules! channel_tile {
    ($name:ident, $feature:literal, $lanes:literal, [$(($p:literal, $v:literal)),*],
     $load:ident, $set1:ident, $fmadd:ident, $store:ident) => {
        mod $name {
            use core::arch::x86_64::*;

            use super::{MAX_CHANNELS, MAX_PIXELS, Steps};

            const LANES: usize = $lanes;

            /// `tile_on` on this instruction set.
            ///
            /// # Safety
            /// As `tile_on`; the CPU has the module's instructions.
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn tile(
                pixels: usize,
                vectors: usize,
                steps: &Steps,
                tile: &mut [[f32; MAX_CHANNELS]; MAX_PIXELS],
            ) {
                // SAFETY (each arm): the caller's promises.
                unsafe {
                    match (pixels, vectors) {
                        $(($p, $v) => body::<$p, $v>(steps, tile),)*
                        _ => unreachable!("`per_tile` gives these shapes only"),
                    }
                }
            }

            /// The tile with its `P × V` accumulators in registers: per step, `V` loads of
            /// weights, `P` broadcasts and `P * V` fused multiply-adds.
            ///
            /// # Safety
            /// As [`tile`], with `P = pixels` and `V = vectors`.
            // Not inlined: in a function of its own each shape gets all the registers.
            #[target_feature(enable = $feature)]
            #[inline(never)]
            unsafe fn body<const P: usize, const V: usize>(
                steps: &Steps,
                tile: &mut [[f32; MAX_CHANNELS]; MAX_PIXELS],
            ) {
                const { assert!(P <= MAX_PIXELS && V * LANES <= MAX_CHANNELS) };
                let mut x = [core::ptr::null::<f32>(); P];
                x.copy_from_slice(&steps.x[..P]);
                let mut acc = [[$set1(0.0); V]; P];
                for v in 0..V {
                    // SAFETY: `v * LANES + LANES <= MAX_CHANNELS`, the bias's length.
                    let b = unsafe { $load(steps.bias.as_ptr().add(v * LANES)) };
                    for p in 0..P {
                        acc[p][v] = b;
                    }
                }
                let mut w = steps.w;
                for &offset in steps.offsets {
                    let mut wv = [$set1(0.0); V];
                    for v in 0..V {
                        // SAFETY: the caller's promises cover the step's `V * LANES` weights.
                        wv[v] = unsafe { $load(w.add(v * LANES)) };
                    }
                    for p in 0..P {
                        // SAFETY: the caller's promises cover pixel `p` at every offset.
                        let xp = $set1(unsafe { *x[p].add(offset) });
                        for v in 0..V {
                            acc[p][v] = $fmadd(wv[v], xp, acc[p][v]);
                        }
                    }
                    // Past the last step this points one step past the weights it read,
                    // without being read.
                    w = w.wrapping_add(steps.stride);
                }
                for (row, acc) in tile.iter_mut().zip(&acc) {
                    for (v, &a) in acc.iter().enumerate() {
                        // SAFETY: `v * LANES + LANES <= V * LANES <= MAX_CHANNELS`.
                        unsafe { $store(row.as_mut_ptr().add(v * LANES), a) };
                    }
                }
            }
        }
    };
}

// The shapes `per_tile` gives: AVX-512 up to 24 accumulators, AVX2 up to 12.
#[cfg(target_arch = "x86_64")]
channel_tile!(
    avx512,
    "avx512f,avx2,fma",
    16,
    [
        (5, 1),
        (6, 1),
        (7, 1),
        (8, 1),
        (5, 2),
        (6, 2),
        (7, 2),
        (8, 2),
        (5, 3),
        (6, 3),
        (7, 3),
        (8, 3),
        (4, 4),
        (5, 4),
        (6, 4)
    ],
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);

#[cfg(target_arch = "x86_64")]
channel_tile!(
    avx2,
    "avx2,fma",
    8,
    [
        (5, 1),
        (6, 1),
        (7, 1),
        (8, 1),
        (4, 2),
        (5, 2),
        (6, 2),
        (3, 3),
        (4, 3),
        (2, 4),
        (3, 4)
    ],
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
