//! A 1x1, stride-1, unpadded, one-group convolution with few input channels (at most
//! [`MAX_CHANNELS`]: MobileNet's and EfficientNet's expansions and first projection, 16 -> 96
//! at 112x112, 24 -> 144 at 56x56, 32 -> 16 at 112x112, ...), on AVX-512: the GEMM's 6 x 64
//! tile, with `B` read from the input's planes as they are and `K` whole in one pass.
//!
//! With `K` this small a tile does few multiply-adds (16 steps of 24 FMAs at `K = 16`) per
//! tile written, so what happens around the tiles weighs. Here the tiles walk a block of
//! pixels ([`block_for`]: whole tiles, up to [`BLOCK`]) a panel of weights at a time, so the
//! block's `K` rows of input stay in L1 while every panel passes over them; the last vector
//! of a row goes under a mask; and the epilogue (residual, bias, the cheap activations) is
//! compiled into the tile for each activation. While a panel runs, it asks for the rows of `C`
//! the next panel writes when the output is larger than an L2 ([`OUT_OF_L2`]). The smooth
//! activations (SiLU, the GELUs, ...),
//! whose constants would take the accumulators' registers, run over each finished block's
//! rows while they are still in the caches.
//!
//! Each output is summed as the AVX-512 GEMM sums it (from zero, one FMA per input channel in
//! order, then `C`, the bias and the activation's vector form), so this kernel's values are
//! the GEMM's bit for bit, but in the few columns past a tile's whole vectors that the GEMM
//! finishes one at a time (a 7 x 7 plane's 49th) with the activation's scalar form: for hard
//! swish and the smooth activations that is a few ulps away. The split into tasks changes no
//! value.
//!
//! Measured on the 2-vCPU AMD EPYC Zen 5 (AVX-512) of the other figures, one thread: 16 -> 96
//! at 112x112 (MobileNetV2's and EfficientNet-B0's first expansion) went from 0.33 to 0.15
//! ms, 260 GFLOP/s, 90% of the FMA peak (ONNX Runtime 0.26 ms in `bench/compare.sh`); the
//! table at [`MAX_CHANNELS`] has the rest. In MobileNetV2 (`cargo bench --bench networks --
//! --net mobilenet_v2 --batch 1 --threads 1 --profile`, medians, the two kernels alternated
//! twice), the fused first expansion and depthwise layer went from 0.54-0.56 to 0.31-0.34
//! ms, the 24 -> 144 expansions at 56x56 from 0.16-0.18 to 0.086-0.088 ms.
//!
//! `perf` on the GEMM path showed where the GEMM lost on these layers: its tiles called the
//! activation's vector form out of line (`simd::activation::avx512::apply`, 3% of
//! MobileNetV2's time on its own), which spilled the accumulators around each call, and its
//! tile loops sit inside its `K`, `M` and `N` blocks. Since the GEMM's epilogue applies the
//! cheap activations inline (`gemm/avx512.rs`, `write_rows`), it runs 16 -> 96 at 112x112
//! in 0.24-0.25 ms instead of 0.33, still behind this kernel's 0.156; measured again then,
//! the cut kept its ranking: 64 -> 256 at 56 0.46 (GEMM) against 0.39, 128 -> 512 at 28
//! 0.43 against 0.39, and past it 144 -> 24 at 56 0.093 against 0.084, 160 -> 960 at 7 0.064
//! against 0.071 (one thread, `cargo bench --bench layers -- --threads 1 --suite FILE`, the
//! two alternated twice in one build choosing by a temporary environment variable).

use core::ops::Range;

use super::shared::SharedOutput;
use super::{Geometry, Window};
use crate::gemm::{self, Epilogue, PackedA};
use crate::simd::Isa;

/// Most input channels of a layer this kernel takes: as many as one tile's rows of input
/// ([`TILE`] pixels each) that fit in [`BLOCK_BYTES`], so a block's input stays in L1.
/// Past it a tile's input comes from L2 at every panel, and the GEMM, which blocks `K`, is
/// the kernel for it.
///
/// Measured against the GEMM in one build that chose by an environment variable (since
/// removed), `cargo bench --bench layers -- --suite FILE --threads 1` on a file of 1x1 layers
/// at stride 1 (batch 1, `Cin -> Cout at H x W`), ms, two alternated runs each (they agreed
/// within 4%), Zen 5 shared with other builds:
///
/// | layer | GEMM | this kernel |
/// |---|---:|---:|
/// | 8 -> 48 at 112 | 0.128-0.129 | 0.043-0.045 |
/// | 16 -> 96 at 112 | 0.325-0.334 | 0.148-0.155 |
/// | 16 -> 96 at 28 | 0.021 | 0.009 |
/// | 24 -> 144 at 56 | 0.149-0.153 | 0.080-0.084 |
/// | 32 -> 16 at 112 | 0.080-0.084 | 0.054-0.057 |
/// | 32 -> 192 at 28 | 0.058-0.061 | 0.035-0.037 |
/// | 40 -> 240 at 28 | 0.084-0.089 | 0.055-0.057 |
/// | 48 -> 288 at 14 | 0.030-0.031 | 0.021-0.022 |
/// | 64 -> 64 at 56 | 0.122 | 0.095 |
/// | 64 -> 256 at 56 | 0.491-0.494 | 0.368-0.370 |
/// | 64 -> 384 at 14 | 0.049-0.050 | 0.037-0.039 |
/// | 80 -> 480 at 14 | 0.073-0.077 | 0.058-0.060 |
/// | 96 -> 24 at 56 | 0.064-0.065 | 0.054-0.057 |
/// | 96 -> 576 at 14 | 0.102 | 0.084-0.087 |
/// | 112 -> 672 at 14 | 0.136-0.142 | 0.114-0.118 |
/// | 120 -> 40 at 28 | 0.033 | 0.028 |
/// | 128 -> 512 at 28 | 0.443-0.445 | 0.372 |
/// | 128 -> 128 at 28 | 0.112-0.113 | 0.094-0.095 |
/// | *past the cut:* 144 -> 24 at 56 | 0.095-0.099 | 0.083-0.084 |
/// | 160 -> 960 at 7 | 0.066-0.068 | 0.071-0.072 |
/// | 192 -> 32 at 28 | 0.044-0.045 | 0.040-0.041 |
/// | 240 -> 40 at 28 | 0.063-0.065 | 0.058-0.060 |
/// | 256 -> 64 at 56 | 0.410-0.413 | 0.381-0.398 |
///
/// Ahead by 15-65% up to the cut; past it within 10% either way, behind on a 7 x 7 plane.
pub(super) const MAX_CHANNELS: usize = BLOCK_BYTES / (TILE * size_of::<f32>());

/// Bytes of input a block reads: its `K` rows of pixels, which stay in L1 while every panel
/// of weights passes over them (two thirds of Zen 4's and 5's 48 KiB L1d; the rest holds the
/// panel and the tile being written).
const BLOCK_BYTES: usize = 32 << 10;

/// Most pixels a block holds: four tiles.
const BLOCK: usize = 4 * TILE;

/// Pixels of a block for `k` input channels: as many whole tiles as [`BLOCK_BYTES`] hold,
/// at least one, at most [`BLOCK`].
fn block_for(k: usize) -> usize {
    (BLOCK_BYTES / (k * size_of::<f32>()) / TILE * TILE).clamp(TILE, BLOCK)
}

/// Pixels a tile holds, the grain of the split into tasks.
const TILE: usize = 64;

/// Bytes of a sample's output above which each panel asks for the rows of `C` the next
/// panel writes ([`gemm::ask_rows`]): 1 MiB, the L2 of a Zen 4 or Zen 5 core (a Zen 3's is
/// 512 KiB, the Xeon's 2 MiB). An output larger than that was evicted since its buffer was
/// last used, and the lines arrive while the panel before multiplies: in ResNet-50 the
/// 64 -> 256 layers on 56x56 (3 MiB) went from 1.18-1.30 ms to 0.93-1.05 with it, where the
/// same layer repeated on its own takes 0.89 (`cargo bench --bench layers -- --suite
/// benches/layers_more.json --threads 1`). On an output the caches still hold the requests
/// only cost: MobileNetV2's 32 -> 192 layers on 28x28 (600 KiB) took 0.088-0.092 ms with
/// them against 0.072-0.085 without (one thread; `cargo bench --bench networks -- --net NET
/// --batch 1 --threads 1 --profile`, a Xeon with AVX-512, builds choosing by a temporary
/// environment variable, alternated twice in each of two runs).
const OUT_OF_L2: usize = 1 << 20;

/// Whether this kernel computes the layer of `g` on `isa`: a 1x1, stride-1, unpadded,
/// one-group layer of at most [`MAX_CHANNELS`] input channels, on AVX-512.
pub(super) fn takes(isa: Isa, g: &Geometry<Window>) -> bool {
    let vectors = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => true,
        _ => false,
    };
    vectors && g.is_pointwise() && g.groups == 1 && (1..=MAX_CHANNELS).contains(&g.group_in)
}

/// The layer of `g` (which [`takes`] accepts on `isa`) on the input `x`, into `y` (the whole
/// output), with the weights packed as the GEMM's `A` (`a`): split by samples and ranges of
/// whole tiles on the crate's threads.
pub(super) fn conv2d(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    a: &PackedA,
    epilogue: &Epilogue,
    y: &mut [f32],
) {
    let plane = g.input[0] * g.input[1];
    let flops = 2 * g.batch * g.group_out * plane * g.group_in;
    let tasks = if flops < gemm::parallel_flops() {
        1
    } else {
        gemm::tasks_for(crate::threads::threads())
    };
    conv2d_split(isa, g, x, a, epilogue, y, tasks);
}

/// [`conv2d`] cut into about `tasks` tasks (at least one per sample), whatever the thread
/// policy: for the tests that compare splits.
///
/// A sample's plane is cut into ranges of whole tiles when it has at least two tiles a task;
/// a smaller plane is cut by output channels instead, ranges of `A`'s panels over all its
/// pixels. Cut into tiles, a 14x14 plane (three tiles and 4 pixels) gave two threads three
/// tasks of a tile and one of 4 pixels, and a 7x7 plane one task. MobileNetV2's 96 -> 576
/// expansions on 14x14 took 0.123-0.130 ms on two threads before and 0.087-0.103 after, where
/// one thread takes 0.16-0.19 (`cargo bench --bench networks -- --net mobilenet_v2 --batch 1
/// --threads 2 --profile`, a Xeon with AVX-512, the two builds alternated twice). Each task
/// reads the plane's whole input, which at these sizes is a few dozen KiB.
pub(super) fn conv2d_split(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    a: &PackedA,
    epilogue: &Epilogue,
    y: &mut [f32],
    tasks: usize,
) {
    debug_assert!(takes(isa, g));
    let (cin, cout) = (g.group_in, g.group_out);
    let plane = g.input[0] * g.input[1];
    debug_assert_eq!(x.len(), g.batch * cin * plane);
    debug_assert_eq!(y.len(), g.batch * cout * plane);
    debug_assert_eq!((a.m(), a.k()), (cout, cin));
    let per_sample = tasks.div_ceil(g.batch.max(1));
    let panels = cout.div_ceil(gemm::MR);
    let (pixel_parts, panel_parts) = if plane.div_ceil(TILE) >= 2 * per_sample {
        (per_sample, 1)
    } else {
        (1, per_sample.min(panels))
    };
    // A sample's output larger than an L2 was evicted since its buffer was last used.
    let ask = cout * plane * size_of::<f32>() > OUT_OF_L2;
    let pixels = gemm::panel_ranges(plane, TILE, pixel_parts);
    let panels = gemm::panel_ranges(panels, 1, panel_parts);
    let work: Vec<(usize, Range<usize>, Range<usize>)> = (0..g.batch)
        .flat_map(|n| {
            let panels = &panels;
            pixels
                .iter()
                .filter(|r| !r.is_empty())
                .flat_map(move |r| panels.iter().map(move |p| (n, r.clone(), p.clone())))
        })
        .collect();
    let out = SharedOutput::new(y);
    crate::threads::for_each(work, |(n, range, panels)| {
        let x = &x[n * cin * plane + range.start..];
        // SAFETY: the columns `range` of the output planes of sample `n` in the panels
        // `panels`, which no other task writes (the ranges of a sample are disjoint in one
        // of the two), inside `y`.
        unsafe {
            let y = out.at(n * cout * plane + range.start);
            serial(
                isa,
                a,
                panels,
                x,
                plane,
                range.len(),
                y,
                plane,
                ask,
                epilogue,
            );
        }
    });
}

/// `C = epilogue(A · B)` for the rows of `A`'s panels `panels` (`A` packed, `M × K`,
/// `K <= MAX_CHANNELS`), `B` the `K × cols` matrix whose row `k` is `x[k * ldx..][..cols]`,
/// and `C` the `M × cols` matrix whose row `i` starts at `y + i * ldy`, on the calling thread.
/// `epilogue.bias` holds a value for every row of `A`. `isa` must be AVX-512 ([`takes`]).
/// With `ask`, each panel asks for the rows of `C` the next panel writes ([`OUT_OF_L2`]).
///
/// # Safety
/// `y` points at `C`'s rows of those panels, `cols` writable values each, that nothing else
/// touches meanwhile (read first when `epilogue.accumulate`).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn serial(
    isa: Isa,
    a: &PackedA,
    panels: Range<usize>,
    x: &[f32],
    ldx: usize,
    cols: usize,
    y: *mut f32,
    ldy: usize,
    ask: bool,
    epilogue: &Epilogue,
) {
    let k = a.k();
    debug_assert!((1..=MAX_CHANNELS).contains(&k));
    debug_assert!(panels.end <= a.m().div_ceil(gemm::MR));
    assert!(
        cols == 0 || x.len() >= (k - 1) * ldx + cols,
        "B lies inside x"
    );
    debug_assert!(epilogue.bias.is_none_or(|b| b.len() == a.m()));
    match isa {
        // SAFETY: the token proves AVX-512F, AVX2 and FMA; `x` holds the `K` rows (checked
        // above) and `y` the rows of `C` (the caller's promise).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512(_) => unsafe {
            avx512::run(isa, a, panels, x.as_ptr(), ldx, cols, y, ldy, ask, epilogue)
        },
        _ => unreachable!("`takes` chooses this kernel on AVX-512 only"),
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;
    use core::ops::Range;

    use super::{TILE, block_for};
    use crate::gemm::{self, Epilogue, MR, PackedA};
    use crate::simd::activation::avx512 as act;
    use crate::simd::{Activation, Isa};

    /// Lanes of a zmm register.
    const LANES: usize = 16;

    /// Vectors across a whole tile.
    const VECTORS: usize = TILE / LANES;

    /// [`super::serial`] on AVX-512: block by block of pixels ([`block_for`]), each panel
    /// of `A` in `panels` over the block's tiles, with the epilogue compiled per activation.
    ///
    /// # Safety
    /// The CPU has AVX-512F, AVX2 and FMA; `x` points at `K` rows of `cols` values, `ldx`
    /// apart; `y` as [`super::serial`] asks.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run(
        isa: Isa,
        a: &PackedA,
        panels: Range<usize>,
        x: *const f32,
        ldx: usize,
        cols: usize,
        y: *mut f32,
        ldy: usize,
        ask: bool,
        epilogue: &Epilogue,
    ) {
        let activation = epilogue.activation;
        // One loop per activation, each with its activation known to the compiler.
        macro_rules! with {
            ($a:expr, $x:expr, $cols:expr, $y:expr) => {
                // SAFETY: as the caller promised (the caller's columns, or a block of them).
                unsafe {
                    blocks(
                        a,
                        panels.clone(),
                        $x,
                        ldx,
                        $cols,
                        $y,
                        ldy,
                        ask,
                        epilogue,
                        |v| act::apply_cheap($a, v),
                    )
                }
            };
        }
        // The cheap activations in the tile.
        match activation {
            Activation::Identity => return with!(Activation::Identity, x, cols, y),
            Activation::Relu => return with!(Activation::Relu, x, cols, y),
            Activation::Relu6 => return with!(Activation::Relu6, x, cols, y),
            Activation::LeakyRelu(s) => return with!(Activation::LeakyRelu(s), x, cols, y),
            Activation::Hardswish => return with!(Activation::Hardswish, x, cols, y),
            Activation::Hardsigmoid => return with!(Activation::Hardsigmoid, x, cols, y),
            _ => debug_assert!(!activation.is_cheap()),
        }
        // The others over each block as soon as its panels are done, while its `M` rows of
        // `block` columns are still in L1 or L2 (ConvNeXt's 96 -> 384 at 56x56 writes 4.7
        // MiB, which a pass over the whole output read back from L3).
        let block = block_for(a.k());
        for j0 in (0..cols).step_by(block) {
            let n = (cols - j0).min(block);
            // SAFETY: columns `j0 .. j0 + n` of `B` and `C`, inside both.
            with!(Activation::Identity, x.add(j0), n, y.add(j0));
            for i in panels.start * MR..(panels.end * MR).min(a.m()) {
                // SAFETY: columns `j0 .. j0 + n` of row `i` of `C`, just written and not
                // otherwise borrowed (the caller's promise).
                let row = unsafe { core::slice::from_raw_parts_mut(y.add(i * ldy + j0), n) };
                activation.apply_to_slice_on(isa, row);
            }
        }
    }

    /// Every block of `C`, each element finished with `finish` after the residual and the
    /// bias.
    ///
    /// # Safety
    /// As [`run`].
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn blocks(
        a: &PackedA,
        panels: Range<usize>,
        x: *const f32,
        ldx: usize,
        cols: usize,
        y: *mut f32,
        ldy: usize,
        ask: bool,
        epilogue: &Epilogue,
        finish: impl Fn(__m512) -> __m512 + Copy,
    ) {
        let (m, k) = (a.m(), a.k());
        let block = block_for(k);
        for j0 in (0..cols).step_by(block) {
            let end = (j0 + block).min(cols);
            for panel in panels.clone() {
                if ask {
                    // The rows of `C` the next panel writes: of this block, or the first
                    // panel's of the next block.
                    let (next, next_j0) = if panel + 1 < panels.end {
                        (panel + 1, j0)
                    } else {
                        (panels.start, end)
                    };
                    let next_cols = (next_j0 + block).min(cols).saturating_sub(next_j0);
                    gemm::ask_rows(
                        y.wrapping_add(next * MR * ldy + next_j0),
                        (m - next * MR).min(MR),
                        ldy,
                        next_cols,
                    );
                }
                let weights = a.panel(panel, 0, k).as_ptr();
                let rows = (m - panel * MR).min(MR);
                let bias = epilogue.bias.map(|b| &b[panel * MR..][..rows]);
                for t in (j0..end).step_by(TILE) {
                    let n = (end - t).min(TILE);
                    // SAFETY: rows `panel * MR ..` of `C` and columns `t .. t + n` of `B` and
                    // `C`, inside both (the caller's promise).
                    unsafe {
                        let at = Tile {
                            a: weights,
                            k,
                            x: x.add(t),
                            ldx,
                            y: y.add(panel * MR * ldy + t),
                            ldy,
                            rows,
                            cols: n,
                            bias,
                            accumulate: epilogue.accumulate,
                        };
                        match n.div_ceil(LANES) {
                            1 => tile::<1>(&at, finish),
                            2 => tile::<2>(&at, finish),
                            3 => tile::<3>(&at, finish),
                            _ => tile::<VECTORS>(&at, finish),
                        }
                    }
                }
            }
        }
    }

    /// One tile: `rows <= MR` rows of `C` by `cols` columns, `V` vectors (the last one
    /// ragged when `cols` ends inside it).
    struct Tile<'a> {
        /// The panel of `A`: `k` steps of `MR` values.
        a: *const f32,
        k: usize,
        /// `B`'s first column: row `p` at `x + p * ldx`.
        x: *const f32,
        ldx: usize,
        /// `C`'s first element: row `i` at `y + i * ldy`.
        y: *mut f32,
        ldy: usize,
        rows: usize,
        cols: usize,
        bias: Option<&'a [f32]>,
        accumulate: bool,
    }

    /// Multiplies a tile in `MR × V` accumulators and writes its `rows` rows: `+ C` when
    /// accumulating, `+ bias`, `finish`, the last vector of each row under a mask.
    ///
    /// # Safety
    /// As [`run`]; `tile` lies inside `A`, `B` and `C`, `cols` in `(V - 1) * 16 + 1 ..= V * 16`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    unsafe fn tile<const V: usize>(tile: &Tile, finish: impl Fn(__m512) -> __m512) {
        debug_assert!(tile.cols > (V - 1) * LANES && tile.cols <= V * LANES);
        let ragged = tile.cols - (V - 1) * LANES;
        let last: __mmask16 = if ragged == LANES {
            !0
        } else {
            (1 << ragged) - 1
        };
        let mask = |v: usize| if v + 1 == V { last } else { !0 };
        let mut c = [[_mm512_setzero_ps(); V]; MR];
        for p in 0..tile.k {
            // SAFETY: row `p` of `B`, columns under the masks; `MR` values of step `p` of
            // the panel (an edge panel is padded with zeros).
            unsafe {
                let row = tile.x.add(p * tile.ldx);
                let b: [__m512; V] =
                    core::array::from_fn(|v| _mm512_maskz_loadu_ps(mask(v), row.add(v * LANES)));
                let a = tile.a.add(p * MR);
                for (i, acc) in c.iter_mut().enumerate() {
                    let a = _mm512_set1_ps(*a.add(i));
                    for (acc, &b) in acc.iter_mut().zip(&b) {
                        *acc = _mm512_fmadd_ps(a, b, *acc);
                    }
                }
            }
        }
        for (i, row) in c.iter().enumerate().take(tile.rows) {
            // SAFETY: row `i < rows` of the tile.
            let out = unsafe { tile.y.add(i * tile.ldy) };
            let bias = tile.bias.map(|b| _mm512_set1_ps(b[i]));
            for (v, &vector) in row.iter().enumerate() {
                // SAFETY: vector `v` of the row; masked-off lanes are neither read nor written.
                unsafe {
                    let out = out.add(v * LANES);
                    let mut value = vector;
                    if tile.accumulate {
                        value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask(v), out));
                    }
                    if let Some(bias) = bias {
                        value = _mm512_add_ps(value, bias);
                    }
                    _mm512_mask_storeu_ps(out, mask(v), finish(value));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
