//! Depthwise convolution computed directly: `groups == Cin`, one input channel per group, and
//! `Cout = m * Cin` (MobileNet's and EfficientNet's 3x3 and 5x5 at stride 1 and 2, ConvNeXt's
//! 7x7; `m > 1` is a depth multiplier). Each output plane is one input plane's taps times one
//! channel's `kh * kw` weights, plus its bias. No im2col matrix, which for one input channel per
//! group is `kh * kw` copies of the input for `kh * kw` multiply-adds per output.
//!
//! Any kernel size (rectangular too), stride, padding (asymmetric too) and dilation.
//!
//! The vector paths ([`blocked`]) work on blocks of output channels of one sample, one channel
//! a lane, as ONNX Runtime's MLAS does in its NCHWc layout: 16 a block on AVX-512, 8 on AVX2
//! (and on AVX-512 when there are fewer 16-channel blocks than tasks, so no thread idles).
//! Each input row the block needs is staged once, transposed so that a vector holds the
//! block's channels at one column, into a ring of zero-padded rows in the thread's workspace
//! ([`blocked::Layout`]); the block's weights are put a vector a tap by the same transpose.
//! Then every output is a sum of vectors times the block's per-tap weight vectors, whatever
//! the stride and dilation; 8 consecutive outputs of a row are computed at once (8 FMA
//! chains), and along a kernel row each staged vector is loaded once for every output and tap
//! that read it (for strides 1 and 2 and dilation 1, unrolled at compile time), so a load
//! serves several FMAs. The block of outputs is transposed back into the channel rows as it is
//! stored. The scalar path accumulates tap by tap into each output row, over the outputs where
//! each tap lands on the input ([`Taps`]).
//!
//! The bias starts every accumulator; the activation is applied before the store, in
//! registers (the cheap forms) or to the 8 accumulators through memory (the smooth ones: see
//! `Block::activate`; the scalar path:
//! to each output row as soon as it is complete, in L1). Blocks (vector paths) and planes
//! (scalar) are split over the crate's threads ([`crate::threads::for_each`]) when the layer
//! has enough work for the split to pay.
//!
//! Measured against ONNX Runtime 1.32 (which runs these in AVX-512) on a 2-vCPU AMD EPYC Zen 5,
//! `bench/compare.sh` on both suites, medians of two side-by-side runs, ort/ours at 1 thread
//! before the 16-channel blocks and after: 7x7 on 96 channels at 56x56 0.60 -> 1.17, on 192 at
//! 28x28 0.57 -> 1.17, on 768 at 7x7 0.51 -> 1.15; 3x3 on 960 at 7x7 0.59 -> 1.09, on 144 at
//! 56x56 0.88 -> 1.66, on 96 at 112x112 1.00 -> 2.21; 5x5 on 672 at 14x14 0.79 -> 1.50, and
//! at stride 2 on 144 at 56x56 0.94 -> 1.41 (2 threads: the same within noise).

use crate::gemm;
use crate::ops::taps::Taps;
use crate::simd::{Activation, Isa};

/// Work (multiply-adds plus input values) below which a layer runs on the calling thread:
/// about 3 µs on one core. Above it a split paid on 2 threads in every layer measured (7x7 and
/// 14x14 planes of 16 to 1152 channels, 3x3 to 7x7: 3.6 µs became 2.8), and rayon's calling
/// thread runs the tasks itself when the other thread is slow to wake.
const PARALLEL_WORK: usize = 1 << 16;

/// The sizes of a depthwise convolution of one plane, checked by the caller: `output` is the
/// geometry crate's `conv_output` for `input`, this kernel, stride, dilation and the pads, of
/// which the kernel needs only the leading ones (the trailing ones are implied by `output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Depthwise {
    /// Input height and width, at least 1.
    pub input: [usize; 2],
    /// Output height and width, at least 1.
    pub output: [usize; 2],
    /// Kernel height and width, at least 1.
    pub kernel: [usize; 2],
    /// Stride along the height and the width, at least 1.
    pub stride: [usize; 2],
    /// Dilation along the height and the width, at least 1.
    pub dilation: [usize; 2],
    /// Padding at the top and at the left.
    pub pad: [usize; 2],
}

/// Convolves `x`, planes of `input` size (`N*Cin` of them, NCHW), into `y`, the `N*Cout`
/// output planes: output plane `n*Cout + c` is input plane `n*Cin + c/m` (`m = Cout/Cin`)
/// convolved with channel `c`'s `weight` (`[Cout, 1, kh, kw]`, PyTorch's layout for
/// `groups == Cin`) plus its `bias` (`[Cout]`), through `activation`, on `isa`'s path. The
/// work is split over the crate's threads when there is enough of it.
pub(crate) fn depthwise(
    isa: Isa,
    shape: &Depthwise,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
    y: &mut [f32],
) {
    shape.debug_check();
    let taps = shape.kernel[0] * shape.kernel[1];
    let channels = weight.len() / taps;
    let plane_in = shape.input[0] * shape.input[1];
    let plane_out = shape.output[0] * shape.output[1];
    debug_assert!(channels > 0 && weight.len() == taps * channels);
    debug_assert!(bias.is_none_or(|b| b.len() == channels));
    // Checked, not debug-checked: the caller may hand an uninitialised `y`, which this must
    // cover exactly with whole planes, each written by its kernel.
    assert!(x.len() % plane_in == 0 && y.len() % plane_out == 0);
    let (inputs, outputs) = (x.len() / plane_in, y.len() / plane_out);
    if outputs == 0 {
        return;
    }
    assert!(inputs > 0 && outputs % inputs == 0 && outputs % channels == 0);
    let layer = Layer {
        shape,
        x,
        weight,
        bias,
        activation,
        channels,
        multiplier: outputs / inputs,
    };
    debug_assert!(channels % layer.multiplier == 0);
    let work = outputs * plane_out * taps + inputs * plane_in;
    let threads = if work < PARALLEL_WORK {
        1
    } else {
        gemm::tasks_for(crate::threads::threads())
    };
    #[cfg(target_arch = "x86_64")]
    if let Isa::Avx2(_) | Isa::Avx512(_) = isa {
        if let Some(layout) = blocked::Layout::new(shape) {
            let samples = outputs / channels;
            // 16 channels a block where AVX-512 is allowed and there are at least as many
            // blocks as tasks (fewer would leave a thread idle: 16 channels on 2 threads
            // are two blocks of 8), else 8.
            let wide = matches!(isa, Isa::Avx512(_))
                && samples * channels.div_ceil(blocked::MAX_LANES) >= threads;
            let lanes = if wide {
                blocked::MAX_LANES
            } else {
                blocked::AVX2_LANES
            };
            // Blocks of `lanes` output channels of one sample; a sample's last may hold fewer.
            let per_sample = channels.div_ceil(lanes);
            let blocks = samples * per_sample;
            // The first output plane of block `b`.
            let plane = |b: usize| b / per_sample * channels + b % per_sample * lanes;
            let tasks = threads.min(blocks);
            let mut runs = Vec::with_capacity(tasks);
            let mut rest = y;
            for t in 0..tasks {
                let (first, end) = (t * blocks / tasks, (t + 1) * blocks / tasks);
                let planes = plane(end).min(outputs) - plane(first);
                let (run, tail) = rest.split_at_mut(planes * plane_out);
                runs.push((first..end, run));
                rest = tail;
            }
            crate::threads::for_each(runs, |(blocks, y)| {
                // SAFETY: an `Avx2` or `Avx512` value exists only where the CPU has AVX2 and
                // FMA, and `wide` only with an `Avx512` one; `y` is the blocks' output planes,
                // one after another.
                unsafe {
                    blocked::run(
                        isa,
                        wide,
                        &layer,
                        &layout,
                        blocks,
                        y.as_mut_ptr(),
                        plane_out,
                    )
                }
            });
            return;
        }
        // A staging too large to be worth it (a large dilation over mostly padding):
        // `Layout::new` refused it, and the scalar path computes it without one.
    }
    let tasks = threads.min(outputs);
    let per_task = outputs.div_ceil(tasks);
    let runs: Vec<_> = y.chunks_mut(per_task * plane_out).enumerate().collect();
    crate::threads::for_each(runs, |(run, y)| {
        for (i, y) in y.chunks_exact_mut(plane_out).enumerate() {
            let plane = run * per_task + i;
            let (x, weights, bias) = (layer.input(plane), layer.weights(plane), layer.bias(plane));
            scalar::plane(shape, x, weights, bias, activation, y);
        }
    });
}

/// [`depthwise`] of one sample on the calling thread, into output planes `stride` floats
/// apart: how a fused inverted residual (`super::inverted`) writes a band of output rows of
/// every channel of the whole output. `x` is the sample's `Cin` input planes of `shape.input`,
/// `weight` and `bias` as for [`depthwise`].
///
/// # Safety
///
/// `y` points at the first of `Cout` planes of `shape.output`, `stride >= OH * OW` floats
/// apart, which nothing else reads or writes meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn depthwise_strided(
    isa: Isa,
    shape: &Depthwise,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
    y: *mut f32,
    stride: usize,
) {
    shape.debug_check();
    let taps = shape.kernel[0] * shape.kernel[1];
    let channels = weight.len() / taps;
    let plane_in = shape.input[0] * shape.input[1];
    let plane_out = shape.output[0] * shape.output[1];
    debug_assert!(x.len() % plane_in == 0 && channels % (x.len() / plane_in) == 0);
    debug_assert!(stride >= plane_out);
    let layer = Layer {
        shape,
        x,
        weight,
        bias,
        activation,
        channels,
        multiplier: channels / (x.len() / plane_in),
    };
    #[cfg(target_arch = "x86_64")]
    if let Isa::Avx2(_) | Isa::Avx512(_) = isa {
        if let Some(layout) = blocked::Layout::new(shape) {
            let wide = matches!(isa, Isa::Avx512(_));
            let lanes = if wide {
                blocked::MAX_LANES
            } else {
                blocked::AVX2_LANES
            };
            // SAFETY: as in `depthwise`; `y` and `stride` are the caller's promise.
            unsafe {
                blocked::run(
                    isa,
                    wide,
                    &layer,
                    &layout,
                    0..channels.div_ceil(lanes),
                    y,
                    stride,
                )
            };
            return;
        }
    }
    for plane in 0..channels {
        // SAFETY: plane `plane` of the caller's `y`, written by nothing else.
        let y = unsafe { std::slice::from_raw_parts_mut(y.add(plane * stride), plane_out) };
        let (x, weights, bias) = (layer.input(plane), layer.weights(plane), layer.bias(plane));
        scalar::plane(shape, x, weights, bias, activation, y);
    }
}

/// A layer's tensors and sizes, as the paths read them.
pub(crate) struct Layer<'a> {
    shape: &'a Depthwise,
    /// Every input plane.
    x: &'a [f32],
    /// Every channel's weights, `[Cout, 1, kh, kw]`.
    weight: &'a [f32],
    bias: Option<&'a [f32]>,
    activation: Activation,
    /// Output channels, `Cout`.
    channels: usize,
    /// `Cout / Cin`.
    multiplier: usize,
}

impl Layer<'_> {
    /// The input plane of output plane `plane` (`n*Cout + c`): `n*Cin + c/m`.
    fn input(&self, plane: usize) -> &[f32] {
        let [h, w] = self.shape.input;
        &self.x[plane / self.multiplier * h * w..][..h * w]
    }

    /// The weights of output plane `plane`'s channel, row-major `kh * kw`.
    fn weights(&self, plane: usize) -> &[f32] {
        let taps = self.shape.kernel[0] * self.shape.kernel[1];
        &self.weight[plane % self.channels * taps..][..taps]
    }

    /// The bias of output plane `plane`'s channel.
    fn bias(&self, plane: usize) -> f32 {
        self.bias.map_or(0.0, |b| b[plane % self.channels])
    }
}

impl Depthwise {
    /// The kernels' preconditions, which the caller checked.
    fn debug_check(&self) {
        let sizes = [
            self.input,
            self.output,
            self.kernel,
            self.stride,
            self.dilation,
        ];
        debug_assert!(sizes.iter().flatten().all(|&s| s > 0));
    }

    /// The kernel rows `ki` of output row `oy` that land on the input, and the input row of
    /// the first: rows in the top or bottom padding are skipped.
    fn kernel_rows(&self, oy: usize) -> Taps {
        let [kh, _] = self.kernel;
        Taps::new(
            kh,
            self.dilation[0],
            oy,
            self.stride[0],
            self.pad[0],
            self.input[0],
        )
    }
}

/// The scalar path: every output row starts at the bias and takes each tap that lands on the
/// input, over the outputs whose tap does.
pub(crate) mod scalar {
    use super::{Activation, Depthwise, Taps};

    /// Convolves one plane with one channel's `weights` (row-major `kh * kw`) and `bias`,
    /// through `activation`.
    pub(crate) fn plane(
        shape: &Depthwise,
        x: &[f32],
        weights: &[f32],
        bias: f32,
        activation: Activation,
        y: &mut [f32],
    ) {
        let [_, width] = shape.input;
        let [_, ow] = shape.output;
        let [_, kw] = shape.kernel;
        let (stride, dilation) = (shape.stride[1], shape.dilation[1]);
        debug_assert!(weights.len() == shape.kernel[0] * kw);
        // For each kernel column, the outputs whose tap lands on the input.
        let columns: Vec<Taps> = (0..kw)
            .map(|kj| Taps::new(ow, stride, kj, dilation, shape.pad[1], width))
            .collect();
        for (oy, y_row) in y.chunks_exact_mut(ow).enumerate() {
            y_row.fill(bias);
            let rows = shape.kernel_rows(oy);
            for (i, ki) in rows.indices.enumerate() {
                let x_row = &x[(rows.first + i * shape.dilation[0]) * width..][..width];
                for (column, &t) in columns.iter().zip(&weights[ki * kw..][..kw]) {
                    let out = &mut y_row[column.indices.clone()];
                    let taken = x_row[column.first..].iter().step_by(stride);
                    for (o, &v) in out.iter_mut().zip(taken) {
                        *o += t * v;
                    }
                }
            }
            activation.apply_to_slice(y_row);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod blocked {
    //! The vector paths: blocks of output channels of one sample, one channel a lane (8 with
    //! AVX2, 16 with AVX-512), their input rows staged transposed (a vector holds the block's
    //! channels at one column) in a ring of padded rows, and 8 consecutive outputs of a row
    //! computed at once.
    //!
    //! Both widths share everything but the vector type: the ring, the kernel rows' unrolling
    //! ([`kernel_row`], written once over [`Lanes`]), and the order of the work. Only the
    //! transposes between the planes' rows and the block's columns, and the activation's vector
    //! form, are written for each width ([`Lanes::eight_columns`] and [`Lanes::finish`]).
    //!
    //! AVX-512 halves the vector instructions of a block's FMAs, loads and transposes for the
    //! same outputs: its 16x8 transpose ([`transpose16x8`]) takes 24 shuffles where two 8x8 ones
    //! take 48. The figures it gave are in this file's module docs, above.

    use core::ops::Range;
    use std::arch::x86_64::*;

    use super::{Activation, Depthwise, Isa, Layer, Taps};
    use crate::simd::activation::{avx2 as act256, avx512 as act512};
    use crate::workspace::Workspace;

    /// The most channels a block holds: the lanes of an AVX-512 vector.
    pub(crate) const MAX_LANES: usize = 16;

    /// The channels of a block in AVX2 vectors.
    pub(crate) const AVX2_LANES: usize = 8;

    /// Outputs of a row computed at once: 8 accumulators, the block being 8 outputs by its
    /// channels, transposed as it is stored.
    const OUTPUTS: usize = 8;

    /// The most taps of a kernel row whose weights [`taps`] holds in registers at once, with
    /// the 8 accumulators and a load (AVX2 has 16 registers).
    const GROUP: usize = 5;

    /// Where a block's input rows are staged: a ring of `slots` rows (a power of two, at least
    /// the rows one output row's kernel spans), each `columns` vectors of the block's channels
    /// at one padded column, the input at columns `left..left + width` and zeros around it.
    /// Padded column `u` is input column `u - left`; output column `ox`'s tap `kj` reads column
    /// `ox * sw + kj * dw`. Input row `iy` is in slot `iy % slots`.
    #[derive(Debug)]
    pub(crate) struct Layout {
        slots: usize,
        /// Vectors a staged row holds: every column an output reads (outputs past the row's
        /// end included, up to a whole [`OUTPUTS`]), and the input's rounded up to 8 columns.
        columns: usize,
        /// Stride 1 or 2 and dilation 1 along the width: the unrolled kernel rows of [`taps`].
        unrolled: bool,
    }

    impl Layout {
        /// The layout for `shape`, or `None` when the staging would be much larger than the
        /// planes it stands for (padding and dilation far larger than the input: the scalar
        /// path computes those without a staging).
        pub(crate) fn new(shape: &Depthwise) -> Option<Layout> {
            let [kh, kw] = shape.kernel;
            let [_, sw] = shape.stride;
            let [dh, dw] = shape.dilation;
            let [oh, ow] = shape.output;
            let [h, w] = shape.input;
            // The geometry crate computed `(k - 1) * d` for the output size, so these fit.
            let slots = ((kh - 1) * dh + 1).checked_next_power_of_two()?;
            let reach = (ow.max(OUTPUTS) - 1)
                .checked_mul(sw)?
                .checked_add((kw - 1) * dw + 1)?;
            let columns = reach.max(shape.pad[1].checked_add(w.next_multiple_of(OUTPUTS))?);
            let floats = slots.checked_mul(columns)?.checked_mul(MAX_LANES)?;
            let planes = MAX_LANES.saturating_mul(h * w + oh * ow);
            if floats > planes.saturating_mul(8).saturating_add(1 << 17) {
                return None;
            }
            Some(Layout {
                slots,
                columns,
                unrolled: matches!(sw, 1 | 2) && dw == 1,
            })
        }
    }

    /// [`blocks`] in 16-channel blocks (`wide`) or 8-channel ones.
    ///
    /// # Safety
    ///
    /// As [`blocks`], for `__m512` when `wide`, else `__m256`.
    pub(crate) unsafe fn run(
        isa: Isa,
        wide: bool,
        layer: &Layer,
        layout: &Layout,
        blocks: Range<usize>,
        y: *mut f32,
        stride: usize,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            if wide {
                self::blocks::<__m512>(isa, layer, layout, blocks, y, stride);
            } else {
                self::blocks::<__m256>(isa, layer, layout, blocks, y, stride);
            }
        }
    }

    /// Convolves `blocks` (numbered across the samples, `ceil(Cout / V::LANES)` a sample) into
    /// their output planes, in blocks of `V::LANES` channels: the first block's first plane at
    /// `y`, each of the blocks' planes `stride` floats after the one before.
    ///
    /// # Safety
    ///
    /// The CPU has `V`'s instructions (AVX2 and FMA for `__m256`, AVX-512F with them for
    /// `__m512`); `layout` is `Layout::new(layer.shape)`; the planes of `y` are the blocks'
    /// output planes, `stride >= OH * OW` floats apart, written by nothing else meanwhile.
    pub(crate) unsafe fn blocks<V: Lanes>(
        isa: Isa,
        layer: &Layer,
        layout: &Layout,
        blocks: Range<usize>,
        y: *mut f32,
        stride: usize,
    ) {
        let lanes_per_block = V::LANES;
        let shape = layer.shape;
        let [kh, kw] = shape.kernel;
        let plane_out = shape.output[0] * shape.output[1];
        let per_sample = layer.channels.div_ceil(lanes_per_block);
        let taps = kh * kw;
        let row = layout.columns * lanes_per_block;
        // The ring, and the block's weights as a vector a tap and its bias as one.
        let ring = layout.slots * row;
        let packed = lanes_per_block * taps.next_multiple_of(OUTPUTS);
        Workspace::with(ring + packed + lanes_per_block, |buffer| {
            let (staged, rest) = buffer.split_at_mut(ring);
            let (weights, bias) = rest.split_at_mut(packed);
            // Once for the run: every row puts its input at the same columns, so the padding
            // stays zero.
            staged.fill(0.0);
            let mut holds = vec![usize::MAX; layout.slots];
            // Each output row's kernel rows on the input, the same for every block.
            let kernel_rows: Vec<Taps> = (0..shape.output[0])
                .map(|oy| shape.kernel_rows(oy))
                .collect();
            let mut rows = Vec::with_capacity(kh);
            let mut y = y;
            debug_assert!(stride >= plane_out);
            for block in blocks {
                // The block's output planes, and the lanes that hold one.
                let first =
                    block / per_sample * layer.channels + block % per_sample * lanes_per_block;
                let lanes = (layer.channels - block % per_sample * lanes_per_block).min(V::LANES);
                // Lanes past the block's channels take the last one's plane and weights; their
                // outputs are not stored.
                let channel = |l: usize| first + l.min(lanes - 1);
                let inputs: [&[f32]; MAX_LANES] = core::array::from_fn(|l| layer.input(channel(l)));
                let taps_of: [&[f32]; MAX_LANES] =
                    core::array::from_fn(|l| layer.weights(channel(l)));
                // SAFETY: the caller's promise; each channel has `taps` weights, and `weights`
                // holds `taps` rounded up to 8 vectors.
                unsafe {
                    V::compiled(Columns {
                        rows: &taps_of,
                        from: 0,
                        width: taps,
                        dest: weights.as_mut_ptr(),
                    })
                };
                for (l, bias) in bias.iter_mut().enumerate() {
                    *bias = layer.bias(channel(l));
                }
                holds.fill(usize::MAX);
                let out = y;
                // SAFETY: past the block's planes, at most one past the last of the run.
                y = unsafe { y.add(lanes * stride) };
                let block = Block {
                    layout,
                    shape,
                    inputs,
                    staged: &mut *staged,
                    row,
                    holds: &mut holds,
                    kernel_rows: &kernel_rows,
                    rows: &mut rows,
                    weights,
                    bias,
                    activation: layer.activation,
                    isa,
                    lanes,
                    y: out,
                    stride,
                };
                // SAFETY: the caller's promise; the buffers have the sizes `block` reads.
                unsafe { block.run::<V>() };
            }
        });
    }

    /// A vector of one float a channel of a block: AVX2's 8 lanes or AVX-512's 16. What
    /// differs between the widths; [`kernel_row`] and [`Block::row`] are written once over it
    /// and inlined into each width's `#[target_feature]` function ([`Lanes::compiled`]).
    pub(crate) trait Lanes: Copy {
        /// Channels a block holds: the vector's lanes.
        const LANES: usize;

        /// `LANES` floats from `p`.
        ///
        /// # Safety
        ///
        /// The CPU has the vector's instructions; `p` holds `LANES` floats.
        unsafe fn load(p: *const f32) -> Self;

        /// `self * w + acc`, one rounding.
        ///
        /// # Safety
        ///
        /// The CPU has the vector's instructions.
        unsafe fn fmadd(self, w: Self, acc: Self) -> Self;

        /// Does `work` in a function compiled for the vector's instructions, into which it is
        /// inlined with the `#[inline(always)]` functions it calls ([`Block::row`],
        /// [`columns`], [`kernel_row`]), so they are written once for both widths. (A closure
        /// would not do: the compiler optimises it before inlining it, where the intrinsics it
        /// calls cannot be inlined, and they stay calls.)
        ///
        /// # Safety
        ///
        /// The CPU has the vector's instructions; `work`'s own promise.
        unsafe fn compiled(work: impl Work);

        /// Transposes 8 columns, from `at`, of each lane's row into 8 vectors at `dest`, the
        /// first `n` loaded with `mask` (`lanes_below(n)`) and the rest zeros ([`columns`]).
        ///
        /// # Safety
        ///
        /// As [`columns`]' for these 8 columns, and inlined into [`Lanes::compiled`].
        unsafe fn eight_columns(
            rows: &[&[f32]; MAX_LANES],
            at: usize,
            n: usize,
            mask: __m256i,
            dest: *mut f32,
        );

        /// The activation of each lane, for a cheap one ([`Activation::is_cheap`]), inlined
        /// ([`Block::activate`]).
        ///
        /// # Safety
        ///
        /// The CPU has the vector's instructions.
        unsafe fn activate(activation: Activation, v: Self) -> Self;

        /// Hands each channel's 8 outputs of `acc` (one a vector, a channel a lane), a lane `l`
        /// below `lanes`, to `put(l, outputs)`.
        ///
        /// # Safety
        ///
        /// The CPU has the vector's instructions.
        unsafe fn finish(acc: [Self; OUTPUTS], lanes: usize, put: impl FnMut(usize, __m256));
    }

    impl Lanes for __m256 {
        const LANES: usize = AVX2_LANES;

        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller's promise.
            unsafe { _mm256_loadu_ps(p) }
        }

        #[inline(always)]
        unsafe fn fmadd(self, w: Self, acc: Self) -> Self {
            // SAFETY: the caller's promise.
            unsafe { _mm256_fmadd_ps(self, w, acc) }
        }

        #[target_feature(enable = "avx2,fma")]
        unsafe fn compiled(work: impl Work) {
            // SAFETY: the caller's promise.
            unsafe { work.run::<Self>() }
        }

        #[inline(always)]
        unsafe fn eight_columns(
            rows: &[&[f32]; MAX_LANES],
            at: usize,
            n: usize,
            mask: __m256i,
            dest: *mut f32,
        ) {
            // SAFETY: the caller's promise.
            unsafe {
                let v: [__m256; 8] =
                    core::array::from_fn(|l| load_part(rows[l].as_ptr().add(at), n, mask));
                for (k, column) in transpose8x8(v).iter().enumerate() {
                    _mm256_storeu_ps(dest.add(k * Self::LANES), *column);
                }
            }
        }

        #[inline(always)]
        unsafe fn activate(activation: Activation, v: Self) -> Self {
            // SAFETY: the caller's promise.
            unsafe { act256::apply_cheap(activation, v) }
        }

        #[inline(always)]
        unsafe fn finish(acc: [Self; OUTPUTS], lanes: usize, mut put: impl FnMut(usize, __m256)) {
            // SAFETY: the caller's promise.
            let rows = unsafe { transpose8x8(acc) };
            for (l, row) in rows.into_iter().enumerate().take(lanes) {
                put(l, row);
            }
        }
    }

    impl Lanes for __m512 {
        const LANES: usize = MAX_LANES;

        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller's promise.
            unsafe { _mm512_loadu_ps(p) }
        }

        #[inline(always)]
        unsafe fn fmadd(self, w: Self, acc: Self) -> Self {
            // SAFETY: the caller's promise.
            unsafe { _mm512_fmadd_ps(self, w, acc) }
        }

        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn compiled(work: impl Work) {
            // SAFETY: the caller's promise.
            unsafe { work.run::<Self>() }
        }

        #[inline(always)]
        unsafe fn eight_columns(
            rows: &[&[f32]; MAX_LANES],
            at: usize,
            n: usize,
            mask: __m256i,
            dest: *mut f32,
        ) {
            // SAFETY: the caller's promise.
            unsafe {
                let row = |l: usize| load_part(rows[l].as_ptr().add(at), n, mask);
                // Lane `l` and lane `l + 8`'s 8 columns in one vector.
                let v: [__m512; 8] = core::array::from_fn(|l| join(row(l), row(l + 8)));
                for (k, column) in transpose16x8(v).iter().enumerate() {
                    _mm512_storeu_ps(dest.add(k * Self::LANES), *column);
                }
            }
        }

        #[inline(always)]
        unsafe fn activate(activation: Activation, v: Self) -> Self {
            // SAFETY: the caller's promise.
            unsafe { act512::apply_cheap(activation, v) }
        }

        #[inline(always)]
        unsafe fn finish(acc: [Self; OUTPUTS], lanes: usize, mut put: impl FnMut(usize, __m256)) {
            // SAFETY: the caller's promise.
            let rows = unsafe { transpose16x8(acc) };
            for (l, row) in rows.into_iter().enumerate() {
                // SAFETY: the caller's promise.
                let [low, high] = unsafe { halves(row) };
                if l < lanes {
                    put(l, low);
                }
                if l + 8 < lanes {
                    put(l + 8, high);
                }
            }
        }
    }

    /// One block of channels and everything computing it takes.
    pub(crate) struct Block<'a> {
        layout: &'a Layout,
        shape: &'a Depthwise,
        /// Each lane's input plane (the first `V::LANES`).
        inputs: [&'a [f32]; MAX_LANES],
        /// The ring of staged rows, `layout.slots * row` floats.
        staged: &'a mut [f32],
        /// Floats of one staged row: `layout.columns` vectors.
        row: usize,
        /// The input row each slot holds (`usize::MAX`: none).
        holds: &'a mut [usize],
        /// Each output row's kernel rows on the input ([`Depthwise::kernel_rows`]).
        kernel_rows: &'a [Taps],
        /// Room for one output row's staged kernel rows, reused from block to block.
        rows: &'a mut Vec<(usize, usize)>,
        /// A vector of the block's weights a tap, row-major over `(ki, kj)`.
        weights: &'a [f32],
        /// The block's biases, a vector.
        bias: &'a [f32],
        activation: Activation,
        /// The instruction set the slice form of the activation runs on.
        isa: Isa,
        /// The block's channels, lanes `0..lanes`.
        lanes: usize,
        /// The block's first output plane.
        y: *mut f32,
        /// Floats from one of the block's output planes to the next.
        stride: usize,
    }

    impl Block<'_> {
        /// Computes the block's output planes row by row, in vectors `V`.
        ///
        /// # Safety
        ///
        /// The CPU has `V`'s instructions; the buffers have the sizes their docs say for
        /// `V::LANES` channels.
        unsafe fn run<V: Lanes>(mut self) {
            let shape = self.shape;
            let [oh, _] = shape.output;
            let [_, kw] = shape.kernel;
            let [_, sw] = shape.stride;
            let mut rows = core::mem::take(self.rows);
            for oy in 0..oh {
                // The staged rows of the kernel rows on the input, with their weights.
                let kernel_rows = self.kernel_rows[oy].clone();
                rows.clear();
                for (i, ki) in kernel_rows.indices.enumerate() {
                    let iy = kernel_rows.first + i * shape.dilation[0];
                    let slot = iy & (self.layout.slots - 1);
                    if self.holds[slot] != iy {
                        // SAFETY: the caller's promise.
                        unsafe { self.stage::<V>(iy, slot) };
                        self.holds[slot] = iy;
                    }
                    rows.push((slot * self.row, ki * kw * V::LANES));
                }
                let unrolled = self.layout.unrolled;
                let b = &mut self;
                // SAFETY (each arm): the caller's promise; `rows` are staged rows with their
                // weights.
                unsafe {
                    match (kw, sw, unrolled) {
                        (1, 1, true) => V::compiled(Row::<1, 1> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (2, 1, true) => V::compiled(Row::<2, 1> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (3, 1, true) => V::compiled(Row::<3, 1> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (4, 1, true) => V::compiled(Row::<4, 1> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (5, 1, true) => V::compiled(Row::<5, 1> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (6, 1, true) => V::compiled(Row::<6, 1> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (7, 1, true) => V::compiled(Row::<7, 1> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (1, 2, true) => V::compiled(Row::<1, 2> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (2, 2, true) => V::compiled(Row::<2, 2> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (3, 2, true) => V::compiled(Row::<3, 2> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (4, 2, true) => V::compiled(Row::<4, 2> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (5, 2, true) => V::compiled(Row::<5, 2> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (6, 2, true) => V::compiled(Row::<6, 2> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        (7, 2, true) => V::compiled(Row::<7, 2> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                        _ => V::compiled(Row::<0, 0> {
                            block: b,
                            oy,
                            rows: &rows,
                        }),
                    }
                }
            }
            // Back, for the next block.
            *self.rows = rows;
        }

        /// Stages input row `iy` of every lane's plane into ring slot `slot`, transposed
        /// ([`columns`]), past the left padding.
        ///
        /// # Safety
        ///
        /// The CPU has `V`'s instructions, whose `LANES` the buffers were sized for.
        unsafe fn stage<V: Lanes>(&mut self, iy: usize, slot: usize) {
            let width = self.shape.input[1];
            debug_assert!(iy < self.shape.input[0]);
            let dest = &mut self.staged[slot * self.row + self.shape.pad[1] * V::LANES..];
            debug_assert!(dest.len() >= width.next_multiple_of(OUTPUTS) * V::LANES);
            // SAFETY: every plane holds row `iy`, and `dest` the row's columns rounded up to 8
            // (`Layout::new`'s `columns`).
            unsafe {
                let dest = dest.as_mut_ptr();
                V::compiled(Columns {
                    rows: &self.inputs,
                    from: iy * width,
                    width,
                    dest,
                });
            };
        }

        /// The block's activation of the 8 accumulators of a row's outputs: none for the
        /// identity; in registers for the cheap forms ([`Activation::is_cheap`]: ReLU, ReLU6,
        /// leaky ReLU, hard swish and hard sigmoid), whose vector form `apply_cheap` inlines
        /// with no constant but 0, 3, 6 and 1/6; else (the smooth forms) in place in memory
        /// through the slice form, which matches the activation once for the 8 vectors. In
        /// registers, ReLU6 took MobileNetV2's depthwise layers from 0.234 to 0.199 ms (the 96
        /// channels at stride 2 on 112x112), 0.129 to 0.103 (144 at 56x56) and 0.050 to 0.040
        /// (192 at 28x28) in the network (medians of three alternated runs of `cargo bench
        /// --bench networks -- --net mobilenet_v2 --batch 1 --threads 1 --profile`, on the
        /// Zen 5 of the module docs shared with other builds). SiLU in registers too, through
        /// the whole AVX-512 `apply`, made EfficientNet-B0's depthwise layers 2.7 to 4 times
        /// slower (0.182 -> 0.753 ms for 144 channels at 56x56, same runs): its constants take
        /// the accumulators' registers. (Each
        /// vector form takes the activation as a value and matches on it; called once a vector,
        /// not inlined, ReLU6 took MobileNetV2's depthwise layers from 1.6x ONNX Runtime's speed
        /// in the layer bench to 0.65x in the network, on the Zen 5 of the module docs.)
        ///
        /// # Safety
        ///
        /// The CPU has `V`'s instructions.
        #[inline(always)]
        unsafe fn activate<V: Lanes>(&self, mut acc: [V; OUTPUTS]) -> [V; OUTPUTS] {
            let activation = self.activation;
            if activation == Activation::Identity {
                acc
            } else if activation.is_cheap() {
                // SAFETY: the caller's promise.
                acc.map(|v| unsafe { V::activate(activation, v) })
            } else {
                // SAFETY: `V` is `V::LANES` floats, so the array is `OUTPUTS * V::LANES` of them,
                // any bit pattern a float.
                let values = unsafe {
                    core::slice::from_raw_parts_mut(
                        acc.as_mut_ptr().cast::<f32>(),
                        OUTPUTS * V::LANES,
                    )
                };
                activation.apply_to_slice_on(self.isa, values);
                acc
            }
        }

        /// Output row `oy` of the block's planes from its staged kernel `rows` (the offset of
        /// each in the ring, and of its first weight vector): 8 outputs at a time from the
        /// left, the last moved back to end at `ow`; a row narrower than that is one block of
        /// which `ow` outputs are kept. A kernel row of `KW` taps at stride `SW` is unrolled
        /// ([`kernel_row`]); `KW == 0` takes the kernel width, stride and dilation at run time.
        ///
        /// # Safety
        ///
        /// The CPU has `V`'s instructions, and this is inlined into a function compiled for
        /// them; `KW` is 0 or the kernel width with the layout's `unrolled` stride `SW`.
        #[inline(always)]
        unsafe fn row<V: Lanes, const KW: usize, const SW: usize>(
            &mut self,
            oy: usize,
            rows: &[(usize, usize)],
        ) {
            let [oh, ow] = self.shape.output;
            let [_, kw] = self.shape.kernel;
            let [_, sw] = self.shape.stride;
            let [_, dw] = self.shape.dilation;
            let plane = oh * ow;
            // SAFETY (every block below): the caller's promise; `bias` holds a vector.
            let bias = unsafe { V::load(self.bias.as_ptr()) };
            let mut ox = 0;
            loop {
                let at = ox.min(ow.saturating_sub(OUTPUTS));
                let mut acc = [bias; OUTPUTS];
                for &(row, w) in rows {
                    // SAFETY: the reads of outputs `at..at + 8` end within the row's `columns`
                    // (`Layout::new`), and the weights of the row's taps are `kw` vectors
                    // from `w`.
                    unsafe {
                        let x = self.staged.as_ptr().add(row + at * sw * V::LANES);
                        let w = self.weights.as_ptr().add(w);
                        if KW > 0 {
                            kernel_row::<V, KW, SW>(&mut acc, x, w);
                        } else if self.layout.unrolled {
                            kernel_row_groups(&mut acc, x, w, kw, sw);
                        } else {
                            kernel_row_any(&mut acc, x, w, kw, sw, dw);
                        }
                    }
                }
                let y = self.y;
                // Where the 8 outputs of a lane go, and how: a whole vector where it is in the
                // plane (past `ow` it reaches the next rows, which are stored after this one),
                // else only row `oy`'s `ow` outputs, near the plane's end.
                let (start, whole) = if ow >= OUTPUTS {
                    (oy * ow + at, true)
                } else {
                    (oy * ow, (oy + 1) * ow + OUTPUTS - ow <= plane)
                };
                // SAFETY: the stores write outputs of row `oy` of plane `l` (and of the rows
                // after it, when `whole` and narrower than a vector), within the plane.
                unsafe {
                    let acc = self.activate(acc);
                    let mask = lanes_below(ow);
                    V::finish(acc, self.lanes, |l, v| {
                        let out = y.add(l * self.stride + start);
                        if whole {
                            _mm256_storeu_ps(out, v);
                        } else {
                            _mm256_maskstore_ps(out, mask, v);
                        }
                    });
                }
                ox += OUTPUTS;
                if ox >= ow {
                    break;
                }
            }
        }
    }

    /// Work done in vectors of a width, in [`Lanes::compiled`].
    pub(crate) trait Work {
        /// Does the work in vectors `V`: inlined, always, into [`Lanes::compiled`].
        ///
        /// # Safety
        ///
        /// `V`'s instructions; the promise of the function the work calls.
        unsafe fn run<V: Lanes>(self);
    }

    /// Output row `oy` of `block` from its staged kernel `rows` ([`Block::row`]).
    struct Row<'b, 'a, const KW: usize, const SW: usize> {
        block: &'b mut Block<'a>,
        oy: usize,
        rows: &'b [(usize, usize)],
    }

    impl<const KW: usize, const SW: usize> Work for Row<'_, '_, KW, SW> {
        #[inline(always)]
        unsafe fn run<V: Lanes>(self) {
            // SAFETY: the caller's promise.
            unsafe { self.block.row::<V, KW, SW>(self.oy, self.rows) }
        }
    }

    /// Values `from..from + width` of each lane's row, transposed into columns at `dest`
    /// ([`columns`]).
    struct Columns<'b> {
        rows: &'b [&'b [f32]; MAX_LANES],
        from: usize,
        width: usize,
        dest: *mut f32,
    }

    impl Work for Columns<'_> {
        #[inline(always)]
        unsafe fn run<V: Lanes>(self) {
            // SAFETY: the caller's promise.
            unsafe { columns::<V>(self.rows, self.from, self.width, self.dest) }
        }
    }

    /// Transposes `width` values of each lane's row, `rows[l][from..from + width]`, into columns
    /// at `dest` (column `k`, the lanes' values `from + k`, is the vector at `dest + k * LANES`):
    /// 8 columns at a time, the last loaded masked, so the columns past `width` up to a multiple
    /// of 8 get zeros. How input rows are staged, and a block's weights put a vector a tap.
    ///
    /// # Safety
    ///
    /// `V`'s instructions, inlined into [`Lanes::compiled`]; each of the first `V::LANES` rows
    /// holds `from + width` values; `dest` holds `width.next_multiple_of(8)` vectors.
    #[inline(always)]
    unsafe fn columns<V: Lanes>(
        rows: &[&[f32]; MAX_LANES],
        from: usize,
        width: usize,
        dest: *mut f32,
    ) {
        let mut ix = 0;
        while ix < width {
            let n = (width - ix).min(OUTPUTS);
            // SAFETY: each row holds `from + ix + n` values (masked loads read only those), and
            // `dest` the 8 columns from `ix`: the caller's promise.
            unsafe {
                let mask = lanes_below(n);
                V::eight_columns(rows, from + ix, n, mask, dest.add(ix * V::LANES));
            }
            ix += OUTPUTS;
        }
    }

    /// The lanes below `n` (at most 8) as a mask.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn lanes_below(n: usize) -> __m256i {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), lanes)
    }

    /// The 8 floats from `p`, or the first `n` of them and zeros (`mask` is `lanes_below(n)`).
    ///
    /// # Safety
    ///
    /// AVX2; `p` holds `n` floats.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_part(p: *const f32, n: usize, mask: __m256i) -> __m256 {
        // SAFETY: the caller's promise; the masked load reads only the first `n`.
        unsafe {
            if n == 8 {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, mask)
            }
        }
    }

    /// The 8x8 transpose: lane `j` of vector `i` goes to lane `i` of vector `j`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn transpose8x8(v: [__m256; 8]) -> [__m256; 8] {
        let t = [
            _mm256_unpacklo_ps(v[0], v[1]),
            _mm256_unpackhi_ps(v[0], v[1]),
            _mm256_unpacklo_ps(v[2], v[3]),
            _mm256_unpackhi_ps(v[2], v[3]),
            _mm256_unpacklo_ps(v[4], v[5]),
            _mm256_unpackhi_ps(v[4], v[5]),
            _mm256_unpacklo_ps(v[6], v[7]),
            _mm256_unpackhi_ps(v[6], v[7]),
        ];
        let u = [
            _mm256_shuffle_ps::<0b01_00_01_00>(t[0], t[2]),
            _mm256_shuffle_ps::<0b11_10_11_10>(t[0], t[2]),
            _mm256_shuffle_ps::<0b01_00_01_00>(t[1], t[3]),
            _mm256_shuffle_ps::<0b11_10_11_10>(t[1], t[3]),
            _mm256_shuffle_ps::<0b01_00_01_00>(t[4], t[6]),
            _mm256_shuffle_ps::<0b11_10_11_10>(t[4], t[6]),
            _mm256_shuffle_ps::<0b01_00_01_00>(t[5], t[7]),
            _mm256_shuffle_ps::<0b11_10_11_10>(t[5], t[7]),
        ];
        [
            _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
            _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
        ]
    }

    /// `low` in lanes 0 to 7 and `high` in lanes 8 to 15.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn join(low: __m256, high: __m256) -> __m512 {
        let low = _mm512_castpd256_pd512(_mm256_castps_pd(low));
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(low, _mm256_castps_pd(high)))
    }

    /// Lanes 0 to 7 and lanes 8 to 15, as [`join`] put them.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn halves(v: __m512) -> [__m256; 2] {
        let bits = _mm512_castps_pd(v);
        [
            _mm512_castps512_ps256(v),
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(bits)),
        ]
    }

    /// The transpose between 8 vectors of 16 channels (one a column: `v[k]` lane `c` is
    /// channel `c` at column `k`) and 8 vectors of two channels' 8 columns (`v[c]` lanes 0 to 7
    /// are channel `c`'s columns, lanes 8 to 15 channel `c + 8`'s): it is its own inverse, so
    /// it stages input rows ([`join`]ed pairs of rows into columns) and stores outputs
    /// (columns into [`halves`] of rows) alike. 24 shuffles, as two 8x8 transposes take 48.
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn transpose16x8(v: [__m512; 8]) -> [__m512; 8] {
        // Within each 128-bit lane (4 channels at a column), as the 8x8 transpose does.
        let t = [
            _mm512_unpacklo_ps(v[0], v[1]),
            _mm512_unpackhi_ps(v[0], v[1]),
            _mm512_unpacklo_ps(v[2], v[3]),
            _mm512_unpackhi_ps(v[2], v[3]),
            _mm512_unpacklo_ps(v[4], v[5]),
            _mm512_unpackhi_ps(v[4], v[5]),
            _mm512_unpacklo_ps(v[6], v[7]),
            _mm512_unpackhi_ps(v[6], v[7]),
        ];
        // `u[j]` 128-bit lane `q`: channel `4q + j` at columns 0 to 3; `u[4 + j]`: 4 to 7.
        let u = [
            _mm512_shuffle_ps::<0b01_00_01_00>(t[0], t[2]),
            _mm512_shuffle_ps::<0b11_10_11_10>(t[0], t[2]),
            _mm512_shuffle_ps::<0b01_00_01_00>(t[1], t[3]),
            _mm512_shuffle_ps::<0b11_10_11_10>(t[1], t[3]),
            _mm512_shuffle_ps::<0b01_00_01_00>(t[4], t[6]),
            _mm512_shuffle_ps::<0b11_10_11_10>(t[4], t[6]),
            _mm512_shuffle_ps::<0b01_00_01_00>(t[5], t[7]),
            _mm512_shuffle_ps::<0b11_10_11_10>(t[5], t[7]),
        ];
        // Channel `c` (`q = c / 4`, `j = c % 4`) and channel `c + 8` (`q + 2`): the 128-bit
        // lanes `q` and `q + 2` of `u[j]` and of `u[4 + j]`.
        let even = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
        let odd = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
        [
            _mm512_permutex2var_ps(u[0], even, u[4]),
            _mm512_permutex2var_ps(u[1], even, u[5]),
            _mm512_permutex2var_ps(u[2], even, u[6]),
            _mm512_permutex2var_ps(u[3], even, u[7]),
            _mm512_permutex2var_ps(u[0], odd, u[4]),
            _mm512_permutex2var_ps(u[1], odd, u[5]),
            _mm512_permutex2var_ps(u[2], odd, u[6]),
            _mm512_permutex2var_ps(u[3], odd, u[7]),
        ]
    }

    /// Adds one kernel row's `KW` taps (1 to 7) to 8 consecutive outputs at stride `SW` (1 or
    /// 2), dilation 1: the staged row from the first output's first column at `x`, the taps'
    /// weight vectors at `w`. In one group of taps, or two even ones past [`GROUP`], each
    /// unrolled by [`taps`].
    ///
    /// # Safety
    ///
    /// `V`'s instructions, inlined into a function compiled for them; `x` holds the
    /// `7 * SW + KW` columns read, `w` the `KW` weight vectors.
    #[inline(always)]
    unsafe fn kernel_row<V: Lanes, const KW: usize, const SW: usize>(
        acc: &mut [V; OUTPUTS],
        x: *const f32,
        w: *const f32,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            match KW {
                1 => taps::<V, 1, SW>(acc, x, w),
                2 => taps::<V, 2, SW>(acc, x, w),
                3 => taps::<V, 3, SW>(acc, x, w),
                4 => taps::<V, 4, SW>(acc, x, w),
                5 => taps::<V, 5, SW>(acc, x, w),
                6 => {
                    taps::<V, 3, SW>(acc, x, w);
                    taps::<V, 3, SW>(acc, x.add(3 * V::LANES), w.add(3 * V::LANES));
                }
                _ => {
                    taps::<V, 4, SW>(acc, x, w);
                    taps::<V, 3, SW>(acc, x.add(4 * V::LANES), w.add(4 * V::LANES));
                }
            }
        }
    }

    /// [`kernel_row`] for any width at stride `sw` (1 or 2), dilation 1: even groups of up to
    /// [`GROUP`] taps.
    ///
    /// # Safety
    ///
    /// As [`kernel_row`]'s, for `kw` taps at stride `sw`.
    #[inline(always)]
    unsafe fn kernel_row_groups<V: Lanes>(
        acc: &mut [V; OUTPUTS],
        x: *const f32,
        w: *const f32,
        kw: usize,
        sw: usize,
    ) {
        let groups = kw.div_ceil(GROUP);
        let mut kj = 0;
        // SAFETY: the caller's promise, group by group.
        unsafe {
            for group in 0..groups {
                let g = kw / groups + usize::from(group < kw % groups);
                let (x, w) = (x.add(kj * V::LANES), w.add(kj * V::LANES));
                match (g, sw) {
                    (1, 1) => taps::<V, 1, 1>(acc, x, w),
                    (2, 1) => taps::<V, 2, 1>(acc, x, w),
                    (3, 1) => taps::<V, 3, 1>(acc, x, w),
                    (4, 1) => taps::<V, 4, 1>(acc, x, w),
                    (_, 1) => taps::<V, 5, 1>(acc, x, w),
                    (1, _) => taps::<V, 1, 2>(acc, x, w),
                    (2, _) => taps::<V, 2, 2>(acc, x, w),
                    (3, _) => taps::<V, 3, 2>(acc, x, w),
                    (4, _) => taps::<V, 4, 2>(acc, x, w),
                    _ => taps::<V, 5, 2>(acc, x, w),
                }
                kj += g;
            }
        }
    }

    /// `G` consecutive taps of a kernel row for 8 outputs at stride `SW`: output `p` takes tap
    /// `g` times staged column `p * SW + g`. Column by column, each loaded once and used at
    /// once by every output and tap that reads it ([`column()`]), the taps' weight vectors in
    /// registers.
    ///
    /// # Safety
    ///
    /// As [`kernel_row`]'s: `x` holds `7 * SW + G` columns, `w` `G` weight vectors.
    #[inline(always)]
    unsafe fn taps<V: Lanes, const G: usize, const SW: usize>(
        acc: &mut [V; OUTPUTS],
        x: *const f32,
        w: *const f32,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            let mut weights = [V::load(w); G];
            for (g, weight) in weights.iter_mut().enumerate().skip(1) {
                *weight = V::load(w.add(g * V::LANES));
            }
            // Columns 0 to 18, the most read (`7 * 2 + 5`); the compiler drops the others.
            macro_rules! columns {
                ($($c:literal)*) => {$(
                    if $c < (OUTPUTS - 1) * SW + G {
                        column::<V, $c, G, SW>(acc, &weights, V::load(x.add($c * V::LANES)));
                    }
                )*};
            }
            columns!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18);
        }
    }

    /// Staged column `C` times the weight of each tap `g` that reads it for an output,
    /// `p = (C - g) / SW`: every index a constant.
    ///
    /// # Safety
    ///
    /// `V`'s instructions, inlined into a function compiled for them.
    #[inline(always)]
    unsafe fn column<V: Lanes, const C: usize, const G: usize, const SW: usize>(
        acc: &mut [V; OUTPUTS],
        weights: &[V; G],
        v: V,
    ) {
        for (g, &w) in weights.iter().enumerate() {
            if C >= g && (C - g) % SW == 0 && (C - g) / SW < OUTPUTS {
                let p = (C - g) / SW;
                // SAFETY: the caller's promise.
                acc[p] = unsafe { v.fmadd(w, acc[p]) };
            }
        }
    }

    /// [`kernel_row`] for any stride and dilation, tap by tap.
    ///
    /// # Safety
    ///
    /// `V`'s instructions, inlined into a function compiled for them; `x` holds the
    /// `7 * sw + (kw - 1) * dw + 1` columns read, `w` the `kw` weight vectors.
    #[inline(always)]
    unsafe fn kernel_row_any<V: Lanes>(
        acc: &mut [V; OUTPUTS],
        x: *const f32,
        w: *const f32,
        kw: usize,
        sw: usize,
        dw: usize,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            for kj in 0..kw {
                let w = V::load(w.add(kj * V::LANES));
                for (p, acc) in acc.iter_mut().enumerate() {
                    let v = V::load(x.add((p * sw + kj * dw) * V::LANES));
                    *acc = v.fmadd(w, *acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
