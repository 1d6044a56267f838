//! Layer normalisation over the channels of an NCHW input, as ConvNeXt uses it (torchvision's
//! `LayerNorm2d`: permute to NHWC, `F.layer_norm` over the last axis, permute back).
//!
//! In NCHW one pixel's channels lie `H*W` apart, so the kernels work on a group of
//! consecutive pixels at a time, one lane each (32 with AVX2: four registers; 8 on the scalar
//! path, which the compiler vectorises), and walk the channels three times: the mean, then
//! the variance as the mean of squared deviations (two passes, so a large common offset such
//! as +100 does not cancel the variance away), then the output. The first pass sums
//! differences from the pixel's first channel, not the raw values, for the same reason: with
//! an offset of 100 the raw sum of 96 channels would carry rounding errors of 1e-3. The
//! group's channels stay in L1 or L2 across the passes. Groups of pixels are split over the
//! crate's threads ([`crate::threads`]) when there are enough of them.
//!
//! On the suite's `layer_norm2d_96_56` (`bench/compare.sh`, a shared 2-vCPU Zen 5): 0.044 ms on
//! one thread and 0.027 ms on two, against ONNX Runtime's 0.20 and 0.19 ms for the graph
//! torch.onnx exports (Transpose, LayerNormalization over the last axis, Transpose).

use ndarray::{Array1, Array4, ArrayView1, ArrayView4, ArrayViewMut4};

use super::check::{contiguous, exact_shape, input_channels};
use crate::simd::Isa;
use crate::{Error, Result, memory};

const OP: &str = "layer_norm2d";

/// Values per task (channels times pixels): below twice this a call runs on the calling
/// thread.
const TASK_VALUES: usize = 1 << 15;

/// Pixels per group of the AVX2 path: four registers.
const GROUP: usize = 32;

/// Layer norm over the channels of an NCHW input: for each sample and pixel,
/// `y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]`, with the mean and the biased
/// variance taken over the `C` channels of that pixel.
///
/// ```
/// use ndarray::{array, Array4};
/// use stride_runtime::ops::layer_norm2d;
///
/// // One pixel with channels 1 and 3: mean 2, variance 1.
/// let x = Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap();
/// let y = layer_norm2d(x.view(), array![1.0f32, 2.0].view(), array![0.0f32, 0.5].view(), 1e-6)?;
/// let y = y.into_raw_vec_and_offset().0;
/// assert!((y[0] - -1.0).abs() < 1e-5 && (y[1] - 2.5).abs() < 1e-5);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn layer_norm2d(
    x: ArrayView4<f32>,
    weight: ArrayView1<f32>,
    bias: ArrayView1<f32>,
    eps: f32,
) -> Result<Array4<f32>> {
    LayerNorm2d::new(weight.to_owned(), bias.to_owned(), eps)?.forward(x)
}

/// A channel layer norm with its affine parameters: ConvNeXt's `LayerNorm2d`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm2d {
    weight: Array1<f32>,
    bias: Array1<f32>,
    eps: f32,
}

impl LayerNorm2d {
    /// A layer norm over `weight.len()` channels.
    ///
    /// Refuses a `bias` of another length than `weight`, and an `eps` that is not a finite
    /// number above 0.
    ///
    /// ```
    /// use ndarray::Array1;
    /// use stride_runtime::ops::LayerNorm2d;
    ///
    /// let norm = LayerNorm2d::new(Array1::ones(96), Array1::zeros(96), 1e-6)?;
    /// assert_eq!(norm.channels(), 96);
    /// assert!(LayerNorm2d::new(Array1::ones(96), Array1::zeros(95), 1e-6).is_err());
    /// assert!(LayerNorm2d::new(Array1::ones(96), Array1::zeros(96), 0.0).is_err());
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn new(weight: Array1<f32>, bias: Array1<f32>, eps: f32) -> Result<Self> {
        exact_shape(OP, "bias", bias.shape(), &[weight.len()])?;
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::Param {
                op: OP,
                message: format!("eps must be a finite number above 0, got {eps}"),
            });
        }
        Ok(LayerNorm2d { weight, bias, eps })
    }

    /// The per-channel scale.
    pub fn weight(&self) -> ArrayView1<'_, f32> {
        self.weight.view()
    }

    /// The per-channel shift.
    pub fn bias(&self) -> ArrayView1<'_, f32> {
        self.bias.view()
    }

    /// The epsilon added to the variance.
    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.weight.len()
    }

    /// Normalises an NCHW input with this layer's channel count, in any memory layout.
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// use stride_runtime::ops::LayerNorm2d;
    ///
    /// let norm = LayerNorm2d::new(Array1::ones(3), Array1::zeros(3), 1e-6)?;
    /// let y = norm.forward(Array4::from_elem((2, 3, 4, 4), 7.0f32).view())?;
    /// assert!(y.iter().all(|&v| v == 0.0)); // every pixel's channels equal their mean
    /// assert!(norm.forward(Array4::zeros((2, 4, 4, 4)).view()).is_err());
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        input_channels(OP, &x, self.channels())?;
        let mut y = memory::uninit(OP, "output", x.raw_dim())?;
        let x = memory::standard_layout(OP, "input copy", x)?;
        let input = contiguous(x.as_slice());
        let out = contiguous(y.as_slice_mut());
        let buffers = Buffers {
            x: input.as_ptr(),
            y: out.as_mut_ptr().cast(),
        };
        // SAFETY: `input` and `out` hold `x.len()` values each, the NCHW samples of this
        // layer's channel count, and are disjoint; this borrow of `out` outlives the call.
        unsafe { self.normalise(Isa::detect(), buffers, x.dim()) };
        // SAFETY: `normalise` wrote every value of every sample (its tasks' pixel ranges
        // cover `0..H*W` of each, and every task writes all channels of its pixels).
        Ok(unsafe { y.assume_init() })
    }

    /// Normalises an NCHW array with this layer's channel count where it lies, without a new
    /// output: what a network does with an intermediate result it owns. A view that is not
    /// in standard layout goes through a copy.
    ///
    /// ```
    /// use ndarray::{array, Array4};
    /// use stride_runtime::ops::LayerNorm2d;
    ///
    /// let norm = LayerNorm2d::new(array![1.0f32, 1.0], array![0.0f32, 0.0], 1e-6)?;
    /// let mut x = Array4::from_shape_vec((1, 2, 1, 1), vec![1.0f32, 3.0]).unwrap();
    /// norm.forward_in_place(x.view_mut())?;
    /// assert!((x[[0, 0, 0, 0]] - -1.0).abs() < 1e-5 && (x[[0, 1, 0, 0]] - 1.0).abs() < 1e-5);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn forward_in_place(&self, mut x: ArrayViewMut4<f32>) -> Result<()> {
        input_channels(OP, &x.view(), self.channels())?;
        let dim = x.dim();
        match x.as_slice_mut() {
            Some(values) => {
                let buffers = Buffers {
                    x: values.as_ptr(),
                    y: values.as_mut_ptr(),
                };
                // SAFETY: `values` holds the NCHW samples of this layer's channel count, read
                // and written through the same pointer, which `normalise` allows; this
                // borrow outlives the call.
                unsafe { self.normalise(Isa::detect(), buffers, dim) };
            }
            None => {
                let y = self.forward(x.view())?;
                x.assign(&y);
            }
        }
        Ok(())
    }

    /// Normalises `dim`'s samples from `buffers.x` into `buffers.y` on `isa`, splitting the
    /// pixels of each sample into tasks.
    ///
    /// # Safety
    /// `buffers.x` and `buffers.y` each point at `N*C*H*W` values of `dim` in standard
    /// layout, `C` this layer's channel count: the same values, or disjoint ones that nothing
    /// else touches meanwhile; `buffers.y` may be uninitialised.
    unsafe fn normalise(
        &self,
        isa: Isa,
        buffers: Buffers,
        (n, c, h, w): (usize, usize, usize, usize),
    ) {
        debug_assert_eq!(c, self.channels());
        let hw = h * w;
        if n == 0 || c == 0 || hw == 0 {
            return;
        }
        let pixels = (TASK_VALUES / c).max(1).next_multiple_of(GROUP).min(hw);
        let mut tasks = Vec::with_capacity(n * hw.div_ceil(pixels));
        for sample in 0..n {
            tasks.extend((0..hw).step_by(pixels).map(|p| (sample, p)));
        }
        let params = Params {
            hw,
            weight: contiguous(self.weight.as_slice()),
            bias: contiguous(self.bias.as_slice()),
            eps: self.eps,
        };
        let run = |(sample, first): (usize, usize)| {
            let count = pixels.min(hw - first);
            let offset = sample * c * hw + first;
            // SAFETY: pixels `first .. first + count` of `sample`, inside the buffers the
            // caller vouched for; the tasks' pixel ranges are disjoint, so no two tasks touch
            // the same value.
            unsafe {
                let (x, y) = buffers.at(offset);
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2(_) | Isa::Avx512(_) => avx2::pixels(x, y, count, &params),
                    Isa::Scalar => scalar::pixels(x, y, count, &params),
                }
            }
        };
        if n * c * hw < 2 * TASK_VALUES {
            tasks.into_iter().for_each(run);
        } else {
            crate::threads::for_each(tasks, run);
        }
    }
}

/// The buffers one call reads and writes, shared by its tasks, each with its own pixels.
#[derive(Clone, Copy)]
struct Buffers {
    x: *const f32,
    y: *mut f32,
}

impl Buffers {
    /// Both pointers `offset` values on.
    ///
    /// # Safety
    /// `offset` is inside both buffers.
    unsafe fn at(self, offset: usize) -> (*const f32, *mut f32) {
        // SAFETY: as the caller promised.
        unsafe { (self.x.add(offset), self.y.add(offset)) }
    }
}

// SAFETY: tasks touch disjoint pixels through them (see `LayerNorm2d::normalise`), and the
// borrows they come from outlive the tasks.
unsafe impl Send for Buffers {}
// SAFETY: as above.
unsafe impl Sync for Buffers {}

/// What the kernels need besides the buffers: the plane size and the layer.
struct Params<'a> {
    /// `H*W`: the distance between two channels of a pixel.
    hw: usize,
    weight: &'a [f32],
    bias: &'a [f32],
    eps: f32,
}

/// The portable kernel.
mod scalar {
    use super::Params;

    /// Pixels per group: one 256-bit register's worth, which the compiler vectorises.
    const LANES: usize = 8;

    /// Normalises `count` consecutive pixels whose channel 0 is at `x`, into `y`.
    ///
    /// # Safety
    /// `x` and `y` point at pixel `p` of a sample's channel 0 with `p + count <= hw`, and the
    /// sample's `C` planes of `hw` values follow: the same values, or disjoint ones.
    pub(super) unsafe fn pixels(x: *const f32, y: *mut f32, count: usize, params: &Params) {
        let mut done = 0;
        while done + LANES <= count {
            // SAFETY: `LANES` pixels from `done`, inside `count`.
            unsafe { group::<LANES>(x.add(done), y.add(done), params) };
            done += LANES;
        }
        while done < count {
            // SAFETY: one pixel, inside `count`.
            unsafe { group::<1>(x.add(done), y.add(done), params) };
            done += 1;
        }
    }

    /// Normalises `P` consecutive pixels: the three passes of the module docs.
    ///
    /// # Safety
    /// As [`pixels`] with `count = P`.
    unsafe fn group<const P: usize>(x: *const f32, y: *mut f32, params: &Params) {
        let Params {
            hw,
            weight,
            bias,
            eps,
        } = *params;
        let c = weight.len();
        debug_assert!(c > 0 && bias.len() == c);
        // SAFETY: `P` values of channel `ch < C`, as the caller promised; copied out, so no
        // reference into a buffer that `y` may also point at.
        let row = |ch: usize| unsafe { x.add(ch * hw).cast::<[f32; P]>().read() };
        let pivot = row(0);
        let mut sum = [0.0f32; P];
        for ch in 1..c {
            for ((s, v), &k) in sum.iter_mut().zip(row(ch)).zip(&pivot) {
                *s += v - k;
            }
        }
        let mean: [f32; P] = core::array::from_fn(|i| pivot[i] + sum[i] / c as f32);
        let mut squares = [0.0f32; P];
        for ch in 0..c {
            for ((s, v), &m) in squares.iter_mut().zip(row(ch)).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let scale: [f32; P] = core::array::from_fn(|i| 1.0 / (squares[i] / c as f32 + eps).sqrt());
        for ch in 0..c {
            let input = row(ch);
            let out: [f32; P] =
                core::array::from_fn(|i| (input[i] - mean[i]) * scale[i] * weight[ch] + bias[ch]);
            // SAFETY: as for `row`, written after it was read (so `y == x` is fine) and
            // without a reference (so an uninitialised `y` is fine).
            unsafe { y.add(ch * hw).cast::<[f32; P]>().write(out) };
        }
    }
}

/// The AVX2 kernel: the scalar kernel's passes on four registers of pixels at a time.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    use super::{GROUP, Params, scalar};

    /// [`scalar::pixels`] on AVX2: groups of [`GROUP`] pixels, then of 8, then the last few
    /// by the scalar kernel.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA, and the caller keeps [`scalar::pixels`]'s promise.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn pixels(x: *const f32, y: *mut f32, count: usize, params: &Params) {
        let mut done = 0;
        while done + GROUP <= count {
            // SAFETY: `GROUP` pixels from `done`, inside `count`.
            unsafe { group::<{ GROUP / 8 }>(x.add(done), y.add(done), params) };
            done += GROUP;
        }
        while done + 8 <= count {
            // SAFETY: 8 pixels from `done`, inside `count`.
            unsafe { group::<1>(x.add(done), y.add(done), params) };
            done += 8;
        }
        // SAFETY: the last `count - done` pixels, fewer than 8.
        unsafe { scalar::pixels(x.add(done), y.add(done), count - done, params) };
    }

    /// Normalises `8 * R` consecutive pixels, in `R` registers.
    ///
    /// # Safety
    /// As [`pixels`] with `count = 8 * R`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn group<const R: usize>(x: *const f32, y: *mut f32, params: &Params) {
        let Params {
            hw,
            weight,
            bias,
            eps,
        } = *params;
        let c = weight.len();
        debug_assert!(c > 0 && bias.len() == c);
        // SAFETY: register `r < R` of channel `ch < C`, as the caller promised.
        let load = |ch: usize, r: usize| unsafe { _mm256_loadu_ps(x.add(ch * hw + 8 * r)) };
        let per_channel = _mm256_set1_ps(1.0 / c as f32);
        let pivot: [__m256; R] = core::array::from_fn(|r| load(0, r));
        let mut sum = [_mm256_setzero_ps(); R];
        for ch in 1..c {
            for (r, s) in sum.iter_mut().enumerate() {
                *s = _mm256_add_ps(*s, _mm256_sub_ps(load(ch, r), pivot[r]));
            }
        }
        let mean: [__m256; R] =
            core::array::from_fn(|r| _mm256_fmadd_ps(sum[r], per_channel, pivot[r]));
        let mut squares = [_mm256_setzero_ps(); R];
        for ch in 0..c {
            for (r, s) in squares.iter_mut().enumerate() {
                let d = _mm256_sub_ps(load(ch, r), mean[r]);
                *s = _mm256_fmadd_ps(d, d, *s);
            }
        }
        let eps = _mm256_set1_ps(eps);
        let scale: [__m256; R] = core::array::from_fn(|r| {
            let var = _mm256_fmadd_ps(squares[r], per_channel, eps);
            _mm256_div_ps(_mm256_set1_ps(1.0), _mm256_sqrt_ps(var))
        });
        for ch in 0..c {
            let (w, b) = (_mm256_set1_ps(weight[ch]), _mm256_set1_ps(bias[ch]));
            for r in 0..R {
                let normal = _mm256_mul_ps(_mm256_sub_ps(load(ch, r), mean[r]), scale[r]);
                // SAFETY: as for `load`; each value is read before it is written.
                unsafe { _mm256_storeu_ps(y.add(ch * hw + 8 * r), _mm256_fmadd_ps(normal, w, b)) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array4, s};

    use super::*;

    /// `f64` layer norm of one sample and pixel, straight from the definition.
    fn reference(x: &Array4<f32>, norm: &LayerNorm2d) -> Array4<f32> {
        let (n, c, h, w) = x.dim();
        let mut y = Array4::zeros((n, c, h, w));
        for (i, p, q) in ndarray::indices((n, h, w)) {
            let values: Vec<f64> = (0..c).map(|ch| x[[i, ch, p, q]] as f64).collect();
            let mean = values.iter().sum::<f64>() / c as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c as f64;
            let scale = 1.0 / (var + norm.eps() as f64).sqrt();
            for ch in 0..c {
                y[[i, ch, p, q]] = ((values[ch] - mean) * scale * norm.weight()[ch] as f64
                    + norm.bias()[ch] as f64) as f32;
            }
        }
        y
    }

    /// A deterministic input with a large offset and unequal channels.
    fn input(shape: (usize, usize, usize, usize), offset: f32) -> Array4<f32> {
        Array4::from_shape_fn(shape, |(i, c, h, w)| {
            let k = (i * 7919 + c * 104_729 + h * 1299 + w * 31) % 1009;
            offset + (k as f32 / 1009.0 - 0.5) * 4.0 + c as f32 * 0.01
        })
    }

    fn layer(c: usize) -> LayerNorm2d {
        let weight = Array1::from_shape_fn(c, |i| 0.5 + (i % 7) as f32 * 0.25);
        let bias = Array1::from_shape_fn(c, |i| (i % 5) as f32 * 0.1 - 0.2);
        LayerNorm2d::new(weight, bias, 1e-6).unwrap()
    }

    fn assert_close(got: &Array4<f32>, want: &Array4<f32>) {
        assert_eq!(got.shape(), want.shape());
        for (&g, &w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 2e-5 + 2e-5 * w.abs(), "got {g}, want {w}");
        }
    }

    /// Both paths, each on one thread and on two, on shapes with full groups, groups of 8
    /// and a tail, and inputs offset by 100.
    #[test]
    fn layer_norm_matches_an_f64_reference_on_both_paths_and_any_thread_count() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for (shape, offset) in [
            ((2, 96, 7, 9), 100.0),
            ((1, 3, 1, 1), 0.0),
            ((1, 768, 7, 7), -3.0),
            ((3, 5, 13, 11), 100.0),
            ((1, 40, 56, 56), 1.0),
        ] {
            let x = input(shape, offset);
            let norm = layer(shape.1);
            let want = reference(&x, &norm);
            for isa in [Some(Isa::Scalar), Isa::avx2()].into_iter().flatten() {
                let buffers = |y: &mut Array4<f32>| Buffers {
                    x: y.as_ptr(),
                    y: y.as_mut_ptr(),
                };
                let mut one = x.clone();
                // SAFETY: `one` is in standard layout, of `x`'s shape, read and written in
                // place.
                unsafe { norm.normalise(isa, buffers(&mut one), x.dim()) };
                assert_close(&one, &want);
                let mut two = x.clone();
                // SAFETY: as above.
                pool.install(|| unsafe { norm.normalise(isa, buffers(&mut two), x.dim()) });
                assert_eq!(one, two, "the thread count changed the result");
            }
            assert_close(&pool.install(|| norm.forward(x.view()).unwrap()), &want);
        }
    }

    #[test]
    fn layer_norm_takes_views_in_any_layout_in_place_or_not() {
        let x = input((2, 6, 9, 8), 100.0);
        let norm = layer(6);
        let want = reference(&x, &norm);
        // The same values in a buffer laid out NHWC, seen as NCHW.
        let nhwc = x
            .view()
            .permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned();
        let mut nchw = nhwc.clone();
        let mut view = nchw.view_mut().permuted_axes([0, 3, 1, 2]);
        assert_close(&norm.forward(view.view()).unwrap(), &want);
        norm.forward_in_place(view.view_mut()).unwrap();
        assert_close(&view.to_owned(), &want);
        // A slice of a larger array.
        let mut wide = Array4::zeros((2, 6, 9, 10));
        wide.slice_mut(s![.., .., .., 1..9]).assign(&x);
        norm.forward_in_place(wide.slice_mut(s![.., .., .., 1..9]))
            .unwrap();
        assert_close(&wide.slice(s![.., .., .., 1..9]).to_owned(), &want);
        assert!(wide.slice(s![.., .., .., 0]).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn layer_norm_refuses_the_wrong_channel_count_naming_both() {
        let norm = layer(4);
        let err = norm
            .forward(Array4::zeros((1, 3, 2, 2)).view())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer_norm2d: input has shape [1, 3, 2, 2], expected [N, 4, H, W]"
        );
        let mut x = Array4::zeros((1, 5, 2, 2));
        let err = norm.forward_in_place(x.view_mut()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Shape {
                    tensor: "input",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn layer_norm_refuses_a_bias_of_another_length_and_a_bad_eps() {
        let err = LayerNorm2d::new(Array1::ones(4), Array1::zeros(3), 1e-6).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer_norm2d: bias has shape [3], expected [4]"
        );
        for eps in [0.0, -1e-6, f32::NAN, f32::INFINITY] {
            let err = LayerNorm2d::new(Array1::ones(4), Array1::zeros(4), eps).unwrap_err();
            assert!(matches!(err, Error::Param { .. }), "{eps}: {err}");
            assert!(
                err.to_string()
                    .contains("eps must be a finite number above 0")
            );
        }
    }

    #[test]
    fn layer_norm_of_an_empty_input_is_empty() {
        let norm = layer(3);
        for shape in [(0, 3, 4, 4), (2, 3, 0, 4)] {
            let y = norm.forward(Array4::zeros(shape).view()).unwrap();
            assert_eq!(y.dim(), shape);
        }
        let empty = LayerNorm2d::new(Array1::zeros(0), Array1::zeros(0), 1e-5).unwrap();
        assert_eq!(
            empty
                .forward(Array4::zeros((1, 0, 2, 2)).view())
                .unwrap()
                .len(),
            0
        );
    }
}
