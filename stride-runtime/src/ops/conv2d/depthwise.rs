//! Depthwise 3x3 convolution computed directly (MobileNet's layers: `groups == Cin == Cout`,
//! a 3x3 kernel, stride 1 or 2, any padding, dilation 1): each output plane is its input
//! plane's 9 taps times that channel's 9 weights, plus its bias. No im2col matrix, which for
//! one input channel per group is 9 copies of the input for 9 multiply-adds per output.
//!
//! Vectorised along the width: the AVX2 path computes 8 outputs of a row at once, as 9 FMAs of
//! shifted input rows (stride 1) or of the even and odd columns (stride 2: 16 consecutive
//! inputs split with `_mm256_shuffle_ps`, as the stride-2 pools do). It reads each input row
//! from a zero-padded copy, so the left and right edges are blocks like the rest; kernel rows
//! in the top or bottom padding are skipped. The scalar path accumulates tap by tap into each
//! output row, over the outputs where each tap lands on the input ([`Taps`]).
//!
//! The activation is applied to each output row as soon as it is complete, while it is in L1.
//! Planes (one per sample and channel) are split over the crate's threads
//! ([`crate::threads::for_each`]) when the layer is large enough.
//!
//! On the suite's `depthwise3x3_96_112` (`bench/compare.sh`): 0.65 ms on one thread and
//! 0.41 ms on two, against 5.6 ms for im2col + GEMM and ONNX Runtime's 0.68-0.87 and
//! 0.26-0.29 ms (across runs); the layer is memory-bound (4.8 MB in, 4.8 MB out).

use crate::gemm;
use crate::ops::taps::Taps;
use crate::simd::{Activation, Isa};

/// The sizes of a depthwise 3x3 convolution of one plane, checked by the caller: `output` is
/// the geometry crate's `conv_output` for `input`, this stride and the pads, of which the
/// kernel needs only the leading ones (the trailing ones are implied by `output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Depthwise3x3 {
    /// Input height and width, at least 1.
    pub input: [usize; 2],
    /// Output height and width, at least 1.
    pub output: [usize; 2],
    /// Stride along the height and the width, each 1 or 2.
    pub stride: [usize; 2],
    /// Padding at the top and at the left.
    pub pad: [usize; 2],
}

/// Convolves `x`, planes of `input` size (`N*C` of them, NCHW), each with its channel's 3x3
/// `weight` (`[C, 1, 3, 3]`, PyTorch's layout for `groups == C`) plus its `bias` (`[C]`),
/// through `activation`, into `y` (the `N*C` output planes), on `isa`'s path. Runs of
/// planes are split over the crate's threads when there is enough work.
pub(crate) fn depthwise3x3(
    isa: Isa,
    shape: &Depthwise3x3,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
    y: &mut [f32],
) {
    let channels = weight.len() / 9;
    let plane_in = shape.input[0] * shape.input[1];
    let plane_out = shape.output[0] * shape.output[1];
    shape.debug_check();
    debug_assert!(channels > 0 && weight.len() == 9 * channels);
    debug_assert!(bias.is_none_or(|b| b.len() == channels));
    debug_assert!(x.len() % (plane_in * channels) == 0);
    // Checked, not debug-checked: the caller may hand an uninitialised `y`, which this must
    // cover exactly with whole planes, each written by its kernel.
    assert!(x.len() % plane_in == 0 && x.len() / plane_in * plane_out == y.len());
    let planes = x.len() / plane_in;
    if planes == 0 {
        return;
    }
    let flops = 2 * 9 * y.len();
    let tasks = if flops < gemm::PARALLEL_FLOPS {
        1
    } else {
        gemm::tasks_for(crate::threads::threads()).min(planes)
    };
    let per_task = planes.div_ceil(tasks);
    let runs: Vec<_> = x
        .chunks(per_task * plane_in)
        .zip(y.chunks_mut(per_task * plane_out))
        .enumerate()
        .collect();
    crate::threads::for_each(runs, |(run, (x, y))| {
        let planes = x.chunks_exact(plane_in).zip(y.chunks_exact_mut(plane_out));
        for (i, (x, y)) in planes.enumerate() {
            let channel = (run * per_task + i) % channels;
            let taps = weight[9 * channel..][..9]
                .try_into()
                .expect("9 weights a channel");
            let bias = bias.map_or(0.0, |b| b[channel]);
            match isa {
                // SAFETY: an `Avx2` value exists only where the CPU has AVX2 and FMA.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2(_) => unsafe { avx2::plane(shape, x, taps, bias, activation, y) },
                Isa::Scalar => scalar::plane(shape, x, taps, bias, activation, y),
            }
        }
    });
}

impl Depthwise3x3 {
    /// The kernels' preconditions, which the caller checked.
    fn debug_check(&self) {
        debug_assert!(self.input.iter().chain(&self.output).all(|&s| s > 0));
        debug_assert!(self.stride.iter().all(|&s| s == 1 || s == 2));
    }

    /// The kernel rows `ki` of output row `oy` that land on the input, and the input row of
    /// the first: rows in the top or bottom padding are skipped.
    fn kernel_rows(&self, oy: usize) -> (core::ops::Range<usize>, usize) {
        let (height, top) = (self.input[0] as isize, self.pad[0] as isize);
        let start = (oy * self.stride[0]) as isize - top;
        let first = (-start).clamp(0, 3);
        let end = (height - start).clamp(first, 3);
        if first == end {
            // Every kernel row in the padding (padding wider than the kernel).
            return (0..0, 0);
        }
        (first as usize..end as usize, (start + first) as usize)
    }
}

/// The scalar path: every output row starts at the bias and takes each tap that lands on the
/// input, over the outputs whose tap does.
pub(crate) mod scalar {
    use super::{Activation, Depthwise3x3, Taps};

    /// Convolves one plane with one channel's `taps` (row-major 3x3) and `bias`, through
    /// `activation`.
    pub(crate) fn plane(
        shape: &Depthwise3x3,
        x: &[f32],
        taps: &[f32; 9],
        bias: f32,
        activation: Activation,
        y: &mut [f32],
    ) {
        let [_, width] = shape.input;
        let [_, ow] = shape.output;
        let stride = shape.stride[1];
        // For each kernel column, the outputs whose tap lands on the input.
        let columns = [0, 1, 2].map(|kj| Taps::new(ow, stride, kj, 1, shape.pad[1], width));
        for (oy, y_row) in y.chunks_exact_mut(ow).enumerate() {
            y_row.fill(bias);
            let (kernel_rows, first_row) = shape.kernel_rows(oy);
            for (i, ki) in kernel_rows.enumerate() {
                let x_row = &x[(first_row + i) * width..][..width];
                for (kj, column) in columns.iter().enumerate() {
                    let t = taps[3 * ki + kj];
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

/// The AVX2 path: each input row is copied once into a zero-padded row, and every output row
/// is computed 8 outputs at a time from the padded rows of its kernel rows.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    use super::{Activation, Depthwise3x3};

    /// Convolves one plane with one channel's `taps` (row-major 3x3) and `bias`, through
    /// `activation`.
    ///
    /// # Safety
    ///
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn plane(
        shape: &Depthwise3x3,
        x: &[f32],
        taps: &[f32; 9],
        bias: f32,
        activation: Activation,
        y: &mut [f32],
    ) {
        let [height, width] = shape.input;
        let [oh, ow] = shape.output;
        let stride = shape.stride[1];
        assert!(x.len() == height * width && y.len() == oh * ow);
        assert!(stride == 1 || stride == 2);
        let mut rows = PaddedRows::new(shape);
        // A row narrower than a block is computed here, then copied out.
        let mut narrow = vec![0.0; if ow < 8 { 8 } else { 0 }];
        for (oy, y_row) in y.chunks_exact_mut(ow).enumerate() {
            let (kernel_rows, first_row) = shape.kernel_rows(oy);
            let taps = &taps[3 * kernel_rows.start..3 * kernel_rows.end];
            let inputs = rows.get(x, first_row, kernel_rows.len());
            let (out, outputs) = if ow < 8 {
                (narrow.as_mut_ptr(), 8)
            } else {
                (y_row.as_mut_ptr(), ow)
            };
            // SAFETY: `PaddedRows::new` made every padded row at least
            // `(outputs - 8) * stride + span` long, the last block's reach, and `out` holds
            // `outputs` floats.
            unsafe {
                match (kernel_rows.len(), stride) {
                    (3, 1) => blocks_of::<3, 1>(inputs, taps, bias, outputs, out),
                    (3, _) => blocks_of::<3, 2>(inputs, taps, bias, outputs, out),
                    (2, 1) => blocks_of::<2, 1>(inputs, taps, bias, outputs, out),
                    (2, _) => blocks_of::<2, 2>(inputs, taps, bias, outputs, out),
                    (1, 1) => blocks_of::<1, 1>(inputs, taps, bias, outputs, out),
                    (1, _) => blocks_of::<1, 2>(inputs, taps, bias, outputs, out),
                    _ => blocks_of::<0, 1>(inputs, taps, bias, outputs, out),
                }
            }
            if ow < 8 {
                y_row.copy_from_slice(&narrow[..ow]);
            }
            activation.apply_to_slice(y_row);
        }
    }

    /// Three zero-padded copies of input rows, each row copied once while consecutive output
    /// rows use it: the input at `pad[1]`, zeros around it, long enough for the last block's
    /// loads. Every output is then a block of the vector kernel, edges included, and a padded
    /// tap multiplies a zero, as im2col's padding does.
    struct PaddedRows {
        rows: [Vec<f32>; 3],
        /// The input row each buffer holds.
        holds: [Option<usize>; 3],
        /// The input's width and the left padding.
        width: usize,
        left: usize,
    }

    impl PaddedRows {
        fn new(shape: &Depthwise3x3) -> Self {
            let (width, left, stride) = (shape.input[1], shape.pad[1], shape.stride[1]);
            // A block at `ox` reads from `ox * stride` for `span` elements: 10 at stride 1 (three
            // loads one apart), 18 at stride 2 (four loads at 0, 8, 2 and 10).
            let span = if stride == 1 { 10 } else { 18 };
            let outputs = shape.output[1].max(8);
            let len = ((outputs - 8) * stride + span).max(left + width);
            PaddedRows {
                rows: [vec![0.0; len], vec![0.0; len], vec![0.0; len]],
                holds: [None; 3],
                width,
                left,
            }
        }

        /// The padded rows of input rows `first..first + n` (`n <= 3`), copying the ones no
        /// buffer holds into buffers that hold none of them.
        fn get(&mut self, x: &[f32], first: usize, n: usize) -> [*const f32; 3] {
            debug_assert!(n <= 3);
            let wanted = first..first + n;
            let mut pointers = [std::ptr::null(); 3];
            for (i, input_row) in wanted.clone().enumerate() {
                let slot = match self.holds.iter().position(|&h| h == Some(input_row)) {
                    Some(slot) => slot,
                    None => {
                        let slot = (0..3)
                            .find(|&s| self.holds[s].is_none_or(|h| !wanted.contains(&h)))
                            .expect("3 buffers for at most 3 rows");
                        self.rows[slot][self.left..self.left + self.width]
                            .copy_from_slice(&x[input_row * self.width..][..self.width]);
                        self.holds[slot] = Some(input_row);
                        slot
                    }
                };
                pointers[i] = self.rows[slot].as_ptr();
            }
            pointers
        }
    }

    /// Outputs `0..outputs` (at least 8) of one row: blocks of 8 from the left, the last one
    /// moved back to end at `outputs`; each the bias plus `ROWS` padded kernel rows with their 3
    /// `taps`, at stride `STRIDE`. Two blocks at a time, so two FMA chains are in flight.
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; `taps` has `3 * ROWS` elements; each of the first `ROWS` of `rows` has
    /// `(outputs - 8) * STRIDE + span` readable floats (see [`PaddedRows::new`]); `out[0..outputs]`
    /// writable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn blocks_of<const ROWS: usize, const STRIDE: usize>(
        rows: [*const f32; 3],
        taps: &[f32],
        bias: f32,
        outputs: usize,
        out: *mut f32,
    ) {
        debug_assert!(taps.len() == 3 * ROWS && outputs >= 8);
        // SAFETY: the caller's promise covers every block at `ox <= outputs - 8`.
        unsafe {
            let mut t = [_mm256_setzero_ps(); 9];
            for (t, &tap) in t.iter_mut().zip(taps) {
                *t = _mm256_set1_ps(tap);
            }
            let bias = _mm256_set1_ps(bias);
            // A macro, not a closure: a closure does not inherit AVX2 on every supported Rust,
            // and would then neither inline the kernel nor pass it vectors in registers.
            macro_rules! block {
                ($ox:expr) => {
                    one_block::<ROWS, STRIDE>(&rows, &t, bias, $ox * STRIDE)
                };
            }
            let last = outputs - 8;
            let mut ox = 0;
            while ox + 8 <= last {
                let (a, b) = (block!(ox), block!(ox + 8));
                _mm256_storeu_ps(out.add(ox), a);
                _mm256_storeu_ps(out.add(ox + 8), b);
                ox += 16;
            }
            if ox <= last {
                _mm256_storeu_ps(out.add(ox), block!(ox));
            }
            if last % 8 != 0 {
                _mm256_storeu_ps(out.add(last), block!(last));
            }
        }
    }

    /// One block of 8 outputs whose reads start at `start` in each padded kernel row.
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; each of the first `ROWS` rows has `start + span` readable floats (10 at
    /// stride 1, 18 at stride 2).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn one_block<const ROWS: usize, const STRIDE: usize>(
        rows: &[*const f32; 3],
        t: &[__m256; 9],
        bias: __m256,
        start: usize,
    ) -> __m256 {
        // SAFETY: the caller's promise.
        unsafe {
            let mut acc = bias;
            for r in 0..ROWS {
                let p = rows[r].add(start);
                let (w0, w1, w2) = (t[3 * r], t[3 * r + 1], t[3 * r + 2]);
                if STRIDE == 1 {
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(p), w0, acc);
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(1)), w1, acc);
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(2)), w2, acc);
                } else {
                    let (lo, hi) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
                    let (lo2, hi2) = (_mm256_loadu_ps(p.add(2)), _mm256_loadu_ps(p.add(10)));
                    // Columns 2j, 2j+1, 2j+2 for the outputs in the pair order 0, 1, 4, 5, 2,
                    // 3, 6, 7; every step is element-wise, so one permute at the end puts them
                    // in order.
                    let even = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
                    let odd = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
                    let next_even = _mm256_shuffle_ps::<0b10_00_10_00>(lo2, hi2);
                    acc = _mm256_fmadd_ps(even, w0, acc);
                    acc = _mm256_fmadd_ps(odd, w1, acc);
                    acc = _mm256_fmadd_ps(next_even, w2, acc);
                }
            }
            if STRIDE != 1 {
                acc = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                    acc,
                )));
            }
            acc
        }
    }
}

#[cfg(test)]
mod tests {
    use stride_geometry::{Window, conv_output};

    use super::*;
    use crate::testing::sample;

    /// The convolution by its definition, tap by tap with bounds checks, in f64.
    fn naive(shape: &Depthwise3x3, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let [h, w] = shape.input;
        let [oh, ow] = shape.output;
        let channels = weight.len() / 9;
        let mut y = Vec::new();
        for (plane, x) in x.chunks_exact(h * w).enumerate() {
            let c = plane % channels;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias.map_or(0.0, |b| b[c] as f64);
                    for ki in 0..3 {
                        for kj in 0..3 {
                            let iy = (oy * shape.stride[0] + ki) as i64 - shape.pad[0] as i64;
                            let ix = (ox * shape.stride[1] + kj) as i64 - shape.pad[1] as i64;
                            if (0..h as i64).contains(&iy) && (0..w as i64).contains(&ix) {
                                let v = x[iy as usize * w + ix as usize] as f64;
                                acc += weight[9 * c + 3 * ki + kj] as f64 * v;
                            }
                        }
                    }
                    y.push(acc as f32);
                }
            }
        }
        y
    }

    /// The shape for an input, strides and `(begin, end)` pads, with the geometry crate's
    /// output size; `None` when the output would be empty.
    fn shape(
        input: [usize; 2],
        stride: [usize; 2],
        pads: [(usize, usize); 2],
    ) -> Option<Depthwise3x3> {
        let output = |a: usize| {
            let window = Window::new(3).stride(stride[a]).pads(pads[a].0, pads[a].1);
            conv_output(input[a], window).ok()
        };
        Some(Depthwise3x3 {
            input,
            output: [output(0)?, output(1)?],
            stride,
            pad: [pads[0].0, pads[1].0],
        })
    }

    #[track_caller]
    fn assert_close(got: &[f32], want: &[f32], context: &str) {
        assert_eq!(got.len(), want.len(), "{context}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 + 1e-5 * w.abs(),
                "{context}: at {i}: got {g}, want {w}"
            );
        }
    }

    /// One plane path: `scalar::plane` or (a safe wrapper of) `avx2::plane`.
    type PlanePath = fn(&Depthwise3x3, &[f32], &[f32; 9], f32, Activation, &mut [f32]);

    /// Runs one plane path on every plane.
    fn run(
        path: PlanePath,
        shape: &Depthwise3x3,
        x: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        let [h, w] = shape.input;
        let [oh, ow] = shape.output;
        let channels = weight.len() / 9;
        let mut y = vec![f32::NAN; x.len() / (h * w) * oh * ow];
        for (plane, (x, y)) in x
            .chunks_exact(h * w)
            .zip(y.chunks_exact_mut(oh * ow))
            .enumerate()
        {
            let c = plane % channels;
            let taps = weight[9 * c..][..9].try_into().unwrap();
            path(shape, x, taps, bias.map_or(0.0, |b| b[c]), activation, y);
        }
        y
    }

    /// The plane paths this machine can run, by name.
    fn paths() -> Vec<(&'static str, PlanePath)> {
        let mut paths: Vec<(&str, PlanePath)> = vec![("scalar", scalar::plane)];
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            fn avx2_plane(
                s: &Depthwise3x3,
                x: &[f32],
                t: &[f32; 9],
                b: f32,
                a: Activation,
                y: &mut [f32],
            ) {
                // SAFETY: only listed when AVX2 and FMA were detected.
                unsafe { avx2::plane(s, x, t, b, a, y) }
            }
            paths.push(("avx2", avx2_plane));
        }
        paths
    }

    #[test]
    fn depthwise_3x3_matches_the_definition_on_both_paths_with_padding_odd_widths_and_stride_2() {
        let (channels, batch) = (3, 2);
        let weight = sample(9 * channels, 1).into_raw_vec_and_offset().0;
        let bias = sample(channels, 2).into_raw_vec_and_offset().0;
        let mut cases = 0;
        for (name, path) in paths() {
            for h in [1, 2, 3, 4, 7] {
                // Widths below one block, around the 8- and 16-wide blocks, and odd ones.
                for w in [1, 2, 3, 5, 8, 9, 10, 11, 16, 17, 18, 19, 20, 25, 33, 40] {
                    for stride in [[1, 1], [2, 2], [1, 2], [2, 1]] {
                        for pads in [(0, 0), (1, 1), (0, 1), (1, 0), (2, 2), (2, 0)] {
                            let Some(shape) = shape([h, w], stride, [pads, (pads.1, pads.0)])
                            else {
                                continue;
                            };
                            let x = sample(batch * channels * h * w, (h * 100 + w) as u64)
                                .into_raw_vec_and_offset()
                                .0;
                            let finishes = [
                                (None, Activation::Identity),
                                (Some(&bias[..]), Activation::LeakyRelu(0.1)),
                            ];
                            for (bias, activation) in finishes {
                                let want: Vec<f32> = naive(&shape, &x, &weight, bias)
                                    .into_iter()
                                    .map(|v| activation.apply(v))
                                    .collect();
                                let got = run(path, &shape, &x, &weight, bias, activation);
                                assert_close(&got, &want, &format!("{name} {shape:?} {bias:?}"));
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(cases > 1000, "{cases} cases");
    }

    #[test]
    fn depthwise_3x3_entry_point_takes_each_plane_s_channel_and_splits_planes_over_threads() {
        // MobileNet-sized, enough planes and work for the split (and 5 channels, so runs of
        // planes start mid-sample); both paths, the same numbers.
        let (batch, channels, side) = (3, 5, 128);
        let shape = shape([side, side], [1, 1], [(1, 1), (1, 1)]).unwrap();
        let weight = sample(9 * channels, 3).into_raw_vec_and_offset().0;
        let bias = sample(channels, 4).into_raw_vec_and_offset().0;
        let x = sample(batch * channels * side * side, 5)
            .into_raw_vec_and_offset()
            .0;
        assert!(
            2 * 9 * x.len() >= gemm::PARALLEL_FLOPS,
            "big enough to split"
        );
        let want: Vec<f32> = naive(&shape, &x, &weight, Some(&bias))
            .into_iter()
            .map(|v| v.max(0.0))
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut paths = vec![Isa::Scalar];
        paths.extend(Isa::avx2());
        for isa in paths {
            let mut y = vec![f32::NAN; x.len()];
            let activation = Activation::Relu;
            pool.install(|| {
                depthwise3x3(isa, &shape, &x, &weight, Some(&bias), activation, &mut y);
            });
            assert_close(&y, &want, &format!("entry point, {isa:?}"));
        }
    }

    #[test]
    fn depthwise_3x3_with_padding_wider_than_the_kernel_gives_the_bias_in_the_border() {
        // Padding 3: the outer output ring sees no input at all.
        let shape = shape([4, 12], [1, 1], [(3, 3), (3, 3)]).unwrap();
        let weight = vec![1.0; 9];
        let x = vec![1.0; 48];
        for (name, path) in paths() {
            let y = run(
                path,
                &shape,
                &x,
                &weight,
                Some(&[0.5]),
                Activation::Identity,
            );
            let [oh, ow] = shape.output;
            assert_eq!([oh, ow], [8, 16]);
            assert_eq!(y[0], 0.5, "{name}");
            assert_eq!(y[oh * ow - 1], 0.5, "{name}");
            assert_eq!(y[3 * ow + 4], 9.5, "{name}");
        }
    }
}
