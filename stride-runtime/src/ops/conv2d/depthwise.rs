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
//! registers or to the 8 accumulators through memory (see `Block::activate`; the scalar path:
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
                use std::arch::x86_64::{__m256, __m512};
                // SAFETY: an `Avx2` or `Avx512` value exists only where the CPU has AVX2 and
                // FMA, and `wide` only with an `Avx512` one, where it has AVX-512F too.
                unsafe {
                    if wide {
                        blocked::blocks::<__m512>(isa, &layer, &layout, blocks, y);
                    } else {
                        blocked::blocks::<__m256>(isa, &layer, &layout, blocks, y);
                    }
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
mod blocked;

#[cfg(test)]
mod tests;
