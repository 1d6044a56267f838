//! Depthwise convolution computed directly: `groups == Cin`, one input channel per group, and
//! `Cout = m * Cin` (MobileNet's and EfficientNet's 3x3 and 5x5 at stride 1 and 2, ConvNeXt's
//! 7x7; `m > 1` is a depth multiplier). Each output plane is one input plane's taps times one
//! channel's `kh * kw` weights, plus its bias. No im2col matrix, which for one input channel per
//! group is `kh * kw` copies of the input for `kh * kw` multiply-adds per output.
//!
//! Any kernel size (rectangular too), stride, padding (asymmetric too) and dilation.
//!
//! The AVX2 path works on blocks of 8 output channels of one sample, one channel a lane, as
//! ONNX Runtime's MLAS does in its NCHWc layout: each input row the block needs is staged once,
//! transposed so that a vector holds the 8 channels at one column, into a ring of zero-padded
//! rows in the thread's workspace ([`avx2::Layout`]). Then every output is a sum of vectors
//! times the block's per-tap weight vectors, whatever the stride and dilation; 8 consecutive
//! outputs of a row are computed at once (8 FMA chains), and along a kernel row each staged
//! vector is loaded once for every output and tap that read it (for strides 1 and 2 and
//! dilation 1, unrolled at compile time), so a load serves several FMAs. The 8x8 block of
//! outputs is transposed back into the 8 channel rows as it is stored. The scalar path
//! accumulates tap by tap into each output row, over the outputs where each tap lands on the
//! input ([`Taps`]).
//!
//! The bias starts every accumulator; the activation is applied in registers, before the
//! store (the scalar path: to each output row as soon as it is complete, in L1). Blocks
//! (AVX2) and planes (scalar) are split over the crate's threads
//! ([`crate::threads::for_each`]) when the layer has enough work for the split to pay.

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
        if let Some(layout) = avx2::Layout::new(shape) {
            // Blocks of 8 output channels of one sample; a sample's last may hold fewer.
            let per_sample = channels.div_ceil(avx2::LANES);
            let blocks = outputs / channels * per_sample;
            // The first output plane of block `b`.
            let plane = |b: usize| b / per_sample * channels + b % per_sample * avx2::LANES;
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
                // FMA.
                unsafe { avx2::blocks(&layer, &layout, blocks, y) };
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

/// The AVX2 path: blocks of 8 output channels, one a lane; their input rows staged
/// transposed (a vector holds the block's channels at one column) in a ring of padded rows,
/// and 8 consecutive outputs of a row computed at once.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use core::ops::Range;
    use std::arch::x86_64::*;

    use super::{Activation, Depthwise, Layer};
    use crate::simd::activation::avx2 as vector;
    use crate::workspace::Workspace;

    /// Output channels in a block: one a lane of a vector.
    pub(crate) const LANES: usize = 8;

    /// Outputs of a row computed at once: 8 accumulators, the block being 8 outputs by 8
    /// channels, transposed as it is stored.
    const OUTPUTS: usize = 8;

    /// The most taps of a kernel row whose weights [`taps`] holds in registers at once, with
    /// the 8 accumulators and a load.
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
        /// end included, up to a whole [`OUTPUTS`]), and the input's rounded up to a vector.
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
            let columns = reach.max(shape.pad[1].checked_add(w.next_multiple_of(LANES))?);
            let floats = slots.checked_mul(columns)?.checked_mul(LANES)?;
            let planes = LANES.saturating_mul(h * w + oh * ow);
            if floats > planes.saturating_mul(8).saturating_add(1 << 16) {
                return None;
            }
            Some(Layout {
                slots,
                columns,
                unrolled: matches!(sw, 1 | 2) && dw == 1,
            })
        }

        /// Floats of one staged row.
        fn row(&self) -> usize {
            self.columns * LANES
        }
    }

    /// Convolves `blocks` (numbered across the samples, `ceil(Cout / 8)` a sample) into `y`,
    /// their output planes.
    ///
    /// # Safety
    ///
    /// The CPU supports AVX2 and FMA; `layout` is `Layout::new(layer.shape)`.
    pub(crate) unsafe fn blocks(
        layer: &Layer,
        layout: &Layout,
        blocks: Range<usize>,
        y: &mut [f32],
    ) {
        let shape = layer.shape;
        let [kh, kw] = shape.kernel;
        let plane_out = shape.output[0] * shape.output[1];
        let per_sample = layer.channels.div_ceil(LANES);
        let taps = kh * kw;
        // The ring, and the block's weights as a vector a tap and its bias as one.
        let ring = layout.slots * layout.row();
        Workspace::with(ring + LANES * (taps + 1), |buffer| {
            let (staged, rest) = buffer.split_at_mut(ring);
            let (weights, bias) = rest.split_at_mut(LANES * taps);
            // Once for the run: every row puts its input at the same columns, so the padding
            // stays zero.
            staged.fill(0.0);
            let mut holds = vec![usize::MAX; layout.slots];
            let mut y = y;
            for block in blocks {
                // The block's output planes, and the lanes that hold one.
                let first = block / per_sample * layer.channels + block % per_sample * LANES;
                let lanes = (layer.channels - block % per_sample * LANES).min(LANES);
                weights.fill(0.0);
                bias.fill(0.0);
                for (l, bias) in bias.iter_mut().enumerate().take(lanes) {
                    let lane = layer.weights(first + l);
                    for (w, &v) in weights.iter_mut().skip(l).step_by(LANES).zip(lane) {
                        *w = v;
                    }
                    *bias = layer.bias(first + l);
                }
                // Lanes past the block's channels read the first's plane; their outputs are
                // not stored.
                let inputs: [&[f32]; LANES] =
                    core::array::from_fn(|l| layer.input(first + l.min(lanes - 1)));
                holds.fill(usize::MAX);
                let (out, tail) = core::mem::take(&mut y).split_at_mut(lanes * plane_out);
                y = tail;
                let block = Block {
                    layout,
                    shape,
                    inputs,
                    staged: &mut *staged,
                    holds: &mut holds,
                    weights,
                    bias,
                    activation: layer.activation,
                    lanes,
                    y: out,
                };
                // SAFETY: the caller's promise; the buffers have the sizes `block` reads.
                unsafe { block.run() };
            }
        });
    }

    /// One block of channels and everything computing it takes.
    struct Block<'a> {
        layout: &'a Layout,
        shape: &'a Depthwise,
        /// Each lane's input plane.
        inputs: [&'a [f32]; LANES],
        /// The ring of staged rows, `layout.slots * layout.row()` floats.
        staged: &'a mut [f32],
        /// The input row each slot holds (`usize::MAX`: none).
        holds: &'a mut [usize],
        /// A vector of the block's weights a tap, row-major over `(ki, kj)`.
        weights: &'a [f32],
        /// The block's biases.
        bias: &'a [f32],
        activation: Activation,
        /// The block's channels, lanes `0..lanes`.
        lanes: usize,
        /// The block's output planes.
        y: &'a mut [f32],
    }

    impl Block<'_> {
        /// Computes the block's output planes row by row.
        ///
        /// # Safety
        ///
        /// AVX2 and FMA; the buffers have the sizes their docs say.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run(mut self) {
            let shape = self.shape;
            let [oh, _] = shape.output;
            let [_, kw] = shape.kernel;
            let [_, sw] = shape.stride;
            let row_len = self.layout.row();
            // Every activation has a vector form: it is applied in registers, before the store.
            let activation = self.activation;
            // SAFETY (every block below): `bias` holds a vector.
            let bias = unsafe { _mm256_loadu_ps(self.bias.as_ptr()) };
            let mut rows = Vec::with_capacity(shape.kernel[0]);
            for oy in 0..oh {
                // The staged rows of the kernel rows on the input, with their weights.
                let kernel_rows = shape.kernel_rows(oy);
                rows.clear();
                for (i, ki) in kernel_rows.indices.enumerate() {
                    let iy = kernel_rows.first + i * shape.dilation[0];
                    let slot = iy & (self.layout.slots - 1);
                    if self.holds[slot] != iy {
                        // SAFETY: the caller's promise.
                        unsafe { self.stage(iy, slot) };
                        self.holds[slot] = iy;
                    }
                    rows.push((slot * row_len, ki * kw * LANES));
                }
                // SAFETY (each arm): the caller's promise; `rows` are staged rows with their
                // weights.
                unsafe {
                    match (kw, sw, self.layout.unrolled) {
                        (1, 1, true) => self.row::<1, 1>(oy, &rows, bias, activation),
                        (2, 1, true) => self.row::<2, 1>(oy, &rows, bias, activation),
                        (3, 1, true) => self.row::<3, 1>(oy, &rows, bias, activation),
                        (4, 1, true) => self.row::<4, 1>(oy, &rows, bias, activation),
                        (5, 1, true) => self.row::<5, 1>(oy, &rows, bias, activation),
                        (6, 1, true) => self.row::<6, 1>(oy, &rows, bias, activation),
                        (7, 1, true) => self.row::<7, 1>(oy, &rows, bias, activation),
                        (1, 2, true) => self.row::<1, 2>(oy, &rows, bias, activation),
                        (2, 2, true) => self.row::<2, 2>(oy, &rows, bias, activation),
                        (3, 2, true) => self.row::<3, 2>(oy, &rows, bias, activation),
                        (4, 2, true) => self.row::<4, 2>(oy, &rows, bias, activation),
                        (5, 2, true) => self.row::<5, 2>(oy, &rows, bias, activation),
                        (6, 2, true) => self.row::<6, 2>(oy, &rows, bias, activation),
                        (7, 2, true) => self.row::<7, 2>(oy, &rows, bias, activation),
                        _ => self.row::<0, 0>(oy, &rows, bias, activation),
                    }
                }
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
        /// AVX2 and FMA; `KW` is 0 or the kernel width with the layout's `unrolled` stride
        /// `SW`.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn row<const KW: usize, const SW: usize>(
            &mut self,
            oy: usize,
            rows: &[(usize, usize)],
            bias: __m256,
            activation: Activation,
        ) {
            let [oh, ow] = self.shape.output;
            let [_, kw] = self.shape.kernel;
            let [_, sw] = self.shape.stride;
            let [_, dw] = self.shape.dilation;
            let plane = oh * ow;
            let mut ox = 0;
            loop {
                let at = ox.min(ow.saturating_sub(OUTPUTS));
                let mut acc = [bias; OUTPUTS];
                for &(row, w) in rows {
                    // SAFETY: the reads of outputs `at..at + 8` end within the row's `columns`
                    // (`Layout::new`), and the weights of the row's taps are `kw` vectors
                    // from `w`.
                    unsafe {
                        let x = self.staged.as_ptr().add(row + at * sw * LANES);
                        let w = self.weights.as_ptr().add(w);
                        if KW > 0 {
                            kernel_row::<KW, SW>(&mut acc, x, w);
                        } else if self.layout.unrolled {
                            kernel_row_groups(&mut acc, x, w, kw, sw);
                        } else {
                            kernel_row_any(&mut acc, x, w, kw, sw, dw);
                        }
                    }
                }
                for v in &mut acc {
                    *v = vector::apply(activation, *v);
                }
                let lanes = transpose(acc);
                if ow >= OUTPUTS {
                    for (l, lane) in lanes.iter().enumerate().take(self.lanes) {
                        // SAFETY: outputs `at..at + 8` of row `oy` of plane `l`.
                        unsafe {
                            let out = self.y.as_mut_ptr().add(l * plane + oy * ow + at);
                            _mm256_storeu_ps(out, *lane);
                        }
                    }
                } else if (oy + 1) * ow + OUTPUTS - ow <= plane {
                    // A whole vector: past `ow` it reaches the next rows of the plane, which
                    // are stored after this one.
                    for (l, lane) in lanes.iter().enumerate().take(self.lanes) {
                        // SAFETY: 8 outputs of plane `l` from row `oy`, within the plane.
                        unsafe {
                            let out = self.y.as_mut_ptr().add(l * plane + oy * ow);
                            _mm256_storeu_ps(out, *lane);
                        }
                    }
                } else {
                    // Near the plane's end: only row `oy`'s `ow` outputs.
                    let mask = lanes_below(ow);
                    for (l, lane) in lanes.iter().enumerate().take(self.lanes) {
                        // SAFETY: the masked store writes row `oy` of plane `l` only.
                        unsafe {
                            let out = self.y.as_mut_ptr().add(l * plane + oy * ow);
                            _mm256_maskstore_ps(out, mask, *lane);
                        }
                    }
                }
                ox += OUTPUTS;
                if ox >= ow {
                    break;
                }
            }
        }

        /// Stages input row `iy` of every lane's plane into `slot`, transposed: 8 columns of
        /// the 8 lanes at a time, the last loaded masked, so the columns past the input get
        /// zeros.
        ///
        /// # Safety
        ///
        /// AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn stage(&mut self, iy: usize, slot: usize) {
            let width = self.shape.input[1];
            let left = self.shape.pad[1];
            let mut rows = [self.inputs[0]; LANES];
            for (row, x) in rows.iter_mut().zip(&self.inputs) {
                *row = &x[iy * width..][..width];
            }
            let dest = &mut self.staged[slot * self.layout.row() + left * LANES..];
            debug_assert!(dest.len() >= width.next_multiple_of(LANES) * LANES);
            let mut ix = 0;
            while ix < width {
                let n = (width - ix).min(LANES);
                // SAFETY: each row holds `ix + n` values (masked loads read only those), and
                // `dest` the 8 columns from `ix` (`Layout::new`'s `columns`).
                unsafe {
                    let mask = lanes_below(n);
                    let mut v = [_mm256_setzero_ps(); LANES];
                    for (v, r) in v.iter_mut().zip(&rows) {
                        let p = r.as_ptr().add(ix);
                        *v = if n == LANES {
                            _mm256_loadu_ps(p)
                        } else {
                            _mm256_maskload_ps(p, mask)
                        };
                    }
                    for (k, column) in transpose(v).iter().enumerate() {
                        _mm256_storeu_ps(dest.as_mut_ptr().add((ix + k) * LANES), *column);
                    }
                }
                ix += LANES;
            }
        }
    }

    /// The lanes below `n` (at most 8) as a mask.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn lanes_below(n: usize) -> __m256i {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), lanes)
    }

    /// The 8x8 transpose: lane `j` of vector `i` goes to lane `i` of vector `j`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn transpose(v: [__m256; 8]) -> [__m256; 8] {
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

    /// Adds one kernel row's `KW` taps (1 to 7) to 8 consecutive outputs at stride `SW` (1 or
    /// 2), dilation 1: the staged row from the first output's first column at `x`, the taps'
    /// weight vectors at `w`. In one group of taps, or two even ones past [`GROUP`], each
    /// unrolled by [`taps`].
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; `x` holds the `7 * SW + KW` columns read, `w` the `KW` weight vectors.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel_row<const KW: usize, const SW: usize>(
        acc: &mut [__m256; OUTPUTS],
        x: *const f32,
        w: *const f32,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            match KW {
                1 => taps::<1, SW>(acc, x, w),
                2 => taps::<2, SW>(acc, x, w),
                3 => taps::<3, SW>(acc, x, w),
                4 => taps::<4, SW>(acc, x, w),
                5 => taps::<5, SW>(acc, x, w),
                6 => {
                    taps::<3, SW>(acc, x, w);
                    taps::<3, SW>(acc, x.add(3 * LANES), w.add(3 * LANES));
                }
                _ => {
                    taps::<4, SW>(acc, x, w);
                    taps::<3, SW>(acc, x.add(4 * LANES), w.add(4 * LANES));
                }
            }
        }
    }

    /// [`kernel_row`] for any width at stride `sw` (1 or 2), dilation 1: even groups of up to
    /// [`GROUP`] taps.
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; `x` holds the `7 * sw + kw` columns read, `w` the `kw` weight vectors.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel_row_groups(
        acc: &mut [__m256; OUTPUTS],
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
                let (x, w) = (x.add(kj * LANES), w.add(kj * LANES));
                match (g, sw) {
                    (1, 1) => taps::<1, 1>(acc, x, w),
                    (2, 1) => taps::<2, 1>(acc, x, w),
                    (3, 1) => taps::<3, 1>(acc, x, w),
                    (4, 1) => taps::<4, 1>(acc, x, w),
                    (_, 1) => taps::<5, 1>(acc, x, w),
                    (1, _) => taps::<1, 2>(acc, x, w),
                    (2, _) => taps::<2, 2>(acc, x, w),
                    (3, _) => taps::<3, 2>(acc, x, w),
                    (4, _) => taps::<4, 2>(acc, x, w),
                    _ => taps::<5, 2>(acc, x, w),
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
    /// AVX2 and FMA; `x` holds `7 * SW + G` columns, `w` `G` weight vectors.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn taps<const G: usize, const SW: usize>(
        acc: &mut [__m256; OUTPUTS],
        x: *const f32,
        w: *const f32,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            let mut weights = [_mm256_setzero_ps(); G];
            for (g, weight) in weights.iter_mut().enumerate() {
                *weight = _mm256_loadu_ps(w.add(g * LANES));
            }
            // Columns 0 to 18, the most read (`7 * 2 + 5`); the compiler drops the others.
            macro_rules! columns {
                ($($c:literal)*) => {$(
                    if $c < (OUTPUTS - 1) * SW + G {
                        column::<$c, G, SW>(acc, &weights, _mm256_loadu_ps(x.add($c * LANES)));
                    }
                )*};
            }
            columns!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18);
        }
    }

    /// Staged column `C` times the weight of each tap `g` that reads it for an output,
    /// `p = (C - g) / SW`: every index a constant.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn column<const C: usize, const G: usize, const SW: usize>(
        acc: &mut [__m256; OUTPUTS],
        weights: &[__m256; G],
        v: __m256,
    ) {
        for (g, &w) in weights.iter().enumerate() {
            if C >= g && (C - g) % SW == 0 && (C - g) / SW < OUTPUTS {
                let p = (C - g) / SW;
                acc[p] = _mm256_fmadd_ps(v, w, acc[p]);
            }
        }
    }

    /// [`kernel_row`] for any stride and dilation, tap by tap.
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; `x` holds the `7 * sw + (kw - 1) * dw + 1` columns read, `w` the `kw`
    /// weight vectors.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel_row_any(
        acc: &mut [__m256; OUTPUTS],
        x: *const f32,
        w: *const f32,
        kw: usize,
        sw: usize,
        dw: usize,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            for kj in 0..kw {
                let w = _mm256_loadu_ps(w.add(kj * LANES));
                for (p, acc) in acc.iter_mut().enumerate() {
                    let v = _mm256_loadu_ps(x.add((p * sw + kj * dw) * LANES));
                    *acc = _mm256_fmadd_ps(v, w, *acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
