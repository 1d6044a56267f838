//! Channel scaling of NCHW maps: each `[H, W]` plane times one number. Squeeze-excitation
//! multiplies every plane by its own sample's gate (`[N, C, 1, 1]`, EfficientNet and
//! MobileNetV3); ConvNeXt's layer scale multiplies every sample's channel `c` by the same
//! learnt `scale[c]`.
//!
//! One kernel does both: whole planes, 8 lanes at a time with AVX2 (a product rounds the same
//! in a lane as alone, so both paths give the same bits), split over the crate's threads
//! ([`crate::threads`]) in runs of whole planes when the map is large.

use core::mem::MaybeUninit;

use ndarray::{Array1, Array4, ArrayView1, ArrayView4, ArrayViewD, ArrayViewMut4, Ix1, s};

use super::BatchNorm2d;
use super::check::{contiguous, exact_shape, input_channels};
use crate::simd::Isa;
use crate::{Error, Result, memory};

/// Values per task: below twice this a call runs on the calling thread.
const TASK_VALUES: usize = 1 << 15;

/// Multiplies each `[H, W]` plane `(n, c)` of `x` by `gate[n, c, 0, 0]`, in place: the
/// squeeze-excitation product, with `gate` the `[N, C, 1, 1]` output of its sigmoid (or
/// hard sigmoid).
///
/// Refuses a `gate` of another shape than `[N, C, 1, 1]` for `x`'s `N` and `C`.
///
/// ```
/// use ndarray::{array, Array4};
/// use stride_runtime::ops::scale_channels_in_place;
///
/// let mut x = Array4::from_elem((1, 2, 2, 2), 3.0f32);
/// let gate = array![0.5f32, 2.0].into_shape_with_order((1, 2, 1, 1)).unwrap();
/// scale_channels_in_place(x.view_mut(), gate.view())?;
/// assert_eq!(x[[0, 0, 1, 1]], 1.5);
/// assert_eq!(x[[0, 1, 0, 1]], 6.0);
/// assert!(scale_channels_in_place(x.view_mut(), Array4::zeros((1, 2, 2, 2)).view()).is_err());
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn scale_channels_in_place(x: ArrayViewMut4<f32>, gate: ArrayView4<f32>) -> Result<()> {
    let factors = gate_factors(&x.view(), gate)?;
    scale_planes(x, |plane| factors[plane]);
    Ok(())
}

/// [`scale_channels_in_place`] into a new array.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::ops::scale_channels;
///
/// let x = Array4::from_elem((2, 3, 4, 4), 2.0f32);
/// let y = scale_channels(x.view(), Array4::from_elem((2, 3, 1, 1), 0.25).view())?;
/// assert!(y.iter().all(|&v| v == 0.5));
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn scale_channels(x: ArrayView4<f32>, gate: ArrayView4<f32>) -> Result<Array4<f32>> {
    // The output first: a broadcast `x` far larger than memory is refused before its gate is
    // copied.
    memory::check::<f32>("scale_channels", "output", x.shape())?;
    let factors = gate_factors(&x, gate)?;
    scale_planes_into("scale_channels", x, |plane| factors[plane])
}

/// The gate's values in row-major `(n, c)` order, the order of `x`'s planes, after checking
/// that it is `[N, C, 1, 1]` for `x`.
fn gate_factors(x: &ArrayView4<f32>, gate: ArrayView4<f32>) -> Result<Vec<f32>> {
    let (n, c, _, _) = x.dim();
    exact_shape("scale_channels", "gate", gate.shape(), &[n, c, 1, 1])?;
    memory::collect("scale_channels", "gate copy", gate.iter().copied())
}

const LAYER_SCALE: &str = "layer_scale";

/// ConvNeXt's layer scale: channel `c` of every sample times `scale[c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerScale {
    scale: Array1<f32>,
}

impl LayerScale {
    /// A layer scale over `scale.len()` channels.
    ///
    /// Takes any vector: a `Result` like the other layers' constructors, so that loading code
    /// treats them alike. A checkpoint's `[C, 1, 1]` tensor goes through
    /// [`LayerScale::from_checkpoint`].
    ///
    /// ```
    /// use ndarray::array;
    /// use stride_runtime::ops::LayerScale;
    ///
    /// let scale = LayerScale::new(array![1e-6f32, 2e-6])?;
    /// assert_eq!(scale.channels(), 2);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn new(scale: Array1<f32>) -> Result<Self> {
        Ok(LayerScale { scale })
    }

    /// A layer scale from a checkpoint's tensor: `[C, 1, 1]` as torchvision stores
    /// `layer_scale` (`nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)`), `[1, C, 1, 1]`,
    /// or plain `[C]`.
    ///
    /// Refuses any other shape.
    ///
    /// ```
    /// use ndarray::{ArrayD, IxDyn};
    /// use stride_runtime::ops::LayerScale;
    ///
    /// let stored = ArrayD::from_elem(IxDyn(&[96, 1, 1]), 1e-6f32);
    /// assert_eq!(LayerScale::from_checkpoint(stored.view())?.channels(), 96);
    /// let wrong = ArrayD::from_elem(IxDyn(&[96, 2]), 1e-6f32);
    /// assert!(LayerScale::from_checkpoint(wrong.view()).is_err());
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn from_checkpoint(scale: ArrayViewD<f32>) -> Result<Self> {
        let refuse = || Error::Shape {
            op: LAYER_SCALE,
            tensor: "scale",
            expected: "[C, 1, 1], [1, C, 1, 1] or [C]".into(),
            got: scale.shape().to_vec(),
        };
        let channels = match *scale.shape() {
            [c] | [c, 1, 1] | [1, c, 1, 1] => c,
            _ => return Err(refuse()),
        };
        let flat = scale
            .to_shape(channels)
            .map_err(|_| refuse())?
            .into_dimensionality::<Ix1>()
            .map_err(|_| refuse())?
            .to_owned();
        LayerScale::new(flat)
    }

    /// The per-channel factors.
    pub fn scale(&self) -> ArrayView1<'_, f32> {
        self.scale.view()
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.scale.len()
    }

    /// The same multiply as a batch norm (mean 0, variance 1, eps 0, weight the scale, no
    /// bias): what folds into the convolution before it
    /// ([`fold_batch_norm`](crate::ops::fold_batch_norm)), so that the convolution writes
    /// its output already scaled.
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// use stride_runtime::ops::LayerScale;
    ///
    /// let scale = LayerScale::new(Array1::from(vec![0.5f32, 2.0]))?;
    /// let x = Array4::from_elem((1, 2, 2, 2), 3.0f32);
    /// assert_eq!(scale.as_batch_norm()?.forward(x.view())?, scale.forward(x.view())?);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    ///
    /// # Errors
    /// A scale over no channels.
    pub fn as_batch_norm(&self) -> Result<BatchNorm2d> {
        let c = self.scale.len();
        let (mean, var) = (Array1::zeros(c), Array1::ones(c));
        BatchNorm2d::new(mean.view(), var.view(), Some(self.scale.view()), None, 0.0)
    }

    /// Scales the channels of an NCHW input with this layer's channel count.
    ///
    /// ```
    /// use ndarray::{array, Array4};
    /// use stride_runtime::ops::LayerScale;
    ///
    /// let scale = LayerScale::new(array![2.0f32, -1.0])?;
    /// let y = scale.forward(Array4::from_elem((1, 2, 1, 3), 1.5f32).view())?;
    /// assert_eq!(y.into_raw_vec_and_offset().0, vec![3.0, 3.0, 3.0, -1.5, -1.5, -1.5]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        input_channels(LAYER_SCALE, &x, self.channels())?;
        let scale = contiguous(self.scale.as_slice());
        let channels = scale.len();
        scale_planes_into(LAYER_SCALE, x, |plane| scale[plane % channels])
    }

    /// Scales the channels of an NCHW array with this layer's channel count where it lies.
    ///
    /// ```
    /// use ndarray::{array, Array4};
    /// use stride_runtime::ops::LayerScale;
    ///
    /// let scale = LayerScale::new(array![2.0f32, -1.0])?;
    /// let mut x = Array4::from_elem((1, 2, 1, 1), 1.5f32);
    /// scale.forward_in_place(x.view_mut())?;
    /// assert_eq!(x.into_raw_vec_and_offset().0, vec![3.0, -1.5]);
    /// assert!(scale.forward_in_place(Array4::zeros((1, 3, 1, 1)).view_mut()).is_err());
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn forward_in_place(&self, x: ArrayViewMut4<f32>) -> Result<()> {
        input_channels(LAYER_SCALE, &x.view(), self.channels())?;
        let scale = contiguous(self.scale.as_slice());
        let channels = scale.len();
        scale_planes(x, |plane| scale[plane % channels]);
        Ok(())
    }
}

/// Multiplies plane `i` of `x` (row-major `(n, c)` order) by `factor(i)`, in place.
fn scale_planes(mut x: ArrayViewMut4<f32>, factor: impl Fn(usize) -> f32 + Sync) {
    let plane = x.dim().2 * x.dim().3;
    if x.is_empty() {
        return;
    }
    let isa = Isa::detect();
    let Some(values) = x.as_slice_mut() else {
        // A view with gaps: plane by plane, each as it lies.
        let (n, c, _, _) = x.dim();
        for (i, j) in ndarray::indices((n, c)) {
            let f = factor(i * c + j);
            x.slice_mut(s![i, j, .., ..]).mapv_inplace(|v| v * f);
        }
        return;
    };
    let run = |(first, planes): (usize, &mut [f32])| {
        for (k, p) in planes.chunks_exact_mut(plane).enumerate() {
            let f = factor(first + k);
            let len = p.len();
            let p = p.as_mut_ptr();
            // SAFETY: `p` is `len` values, read and written in place.
            unsafe { multiply(isa, p, p, len, f) };
        }
    };
    let per_task = planes_per_task(values.len(), plane);
    let tasks = values.chunks_mut(per_task * plane).enumerate();
    crate::threads::for_each(tasks.map(|(t, c)| (t * per_task, c)).collect(), run);
}

/// [`scale_planes`] into a new array, in one pass over memory. Refuses, naming `op`, an output
/// or a copy of the input that cannot be allocated.
fn scale_planes_into(
    op: &'static str,
    x: ArrayView4<f32>,
    factor: impl Fn(usize) -> f32 + Sync,
) -> Result<Array4<f32>> {
    let plane = x.dim().2 * x.dim().3;
    let mut y = memory::uninit(op, "output", x.raw_dim())?;
    let x = memory::standard_layout(op, "input copy", x)?;
    let src = contiguous(x.as_slice());
    let dst = contiguous(y.as_slice_mut());
    if !src.is_empty() {
        let isa = Isa::detect();
        let run = |(first, (src, dst)): (usize, (&[f32], &mut [MaybeUninit<f32>]))| {
            let planes = src.chunks_exact(plane).zip(dst.chunks_exact_mut(plane));
            for (k, (s, d)) in planes.enumerate() {
                // SAFETY: `s` and `d` are `plane` values each, disjoint (one is borrowed
                // shared, the other exclusively); `d` may be uninitialised.
                unsafe {
                    multiply(
                        isa,
                        s.as_ptr(),
                        d.as_mut_ptr().cast(),
                        plane,
                        factor(first + k),
                    )
                };
            }
        };
        let per_task = planes_per_task(src.len(), plane);
        let chunks = src
            .chunks(per_task * plane)
            .zip(dst.chunks_mut(per_task * plane));
        let tasks = chunks
            .enumerate()
            .map(|(t, pair)| (t * per_task, pair))
            .collect();
        crate::threads::for_each(tasks, run);
    }
    // SAFETY: the tasks' chunks cover `dst` (or it is empty), and every plane of each was
    // written.
    Ok(unsafe { y.assume_init() })
}

/// Planes per task for `len` values in planes of `plane` (at least 1): all of them below
/// twice [`TASK_VALUES`], else enough to make [`TASK_VALUES`].
fn planes_per_task(len: usize, plane: usize) -> usize {
    if len < 2 * TASK_VALUES {
        len / plane
    } else {
        TASK_VALUES.div_ceil(plane)
    }
}

/// `dst[i] = src[i] * f` for `i < len`, on `isa`.
///
/// # Safety
/// `src` points at `len` readable values and `dst` at `len` writable ones (which may be
/// uninitialised): the same ones, or disjoint.
unsafe fn multiply(isa: Isa, src: *const f32, dst: *mut f32, len: usize, f: f32) {
    match isa {
        // SAFETY: the token proves the CPU has AVX2; the pointers are as the caller promised.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2(_) | Isa::Avx512(_) => unsafe { avx2::multiply(src, dst, len, f) },
        Isa::Scalar => {
            for i in 0..len {
                // SAFETY: `i < len`, read before written, through pointers only.
                unsafe { dst.add(i).write(src.add(i).read() * f) };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    /// `dst[i] = src[i] * f`, 32 values per step, then 8, then one at a time.
    ///
    /// # Safety
    /// As [`super::multiply`]; the CPU has AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn multiply(src: *const f32, dst: *mut f32, len: usize, f: f32) {
        let factor = _mm256_set1_ps(f);
        let mut i = 0;
        while i + 32 <= len {
            // SAFETY: 4 registers of 8 from `i`, inside `len`; all read before any is written.
            unsafe {
                let v: [__m256; 4] = core::array::from_fn(|r| _mm256_loadu_ps(src.add(i + 8 * r)));
                for (r, v) in v.into_iter().enumerate() {
                    _mm256_storeu_ps(dst.add(i + 8 * r), _mm256_mul_ps(v, factor));
                }
            }
            i += 32;
        }
        while i + 8 <= len {
            // SAFETY: 8 values from `i`, inside `len`.
            unsafe {
                _mm256_storeu_ps(
                    dst.add(i),
                    _mm256_mul_ps(_mm256_loadu_ps(src.add(i)), factor),
                )
            };
            i += 8;
        }
        while i < len {
            // SAFETY: value `i < len`.
            unsafe { dst.add(i).write(src.add(i).read() * f) };
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array4, ArrayD, IxDyn, s};

    use super::*;

    fn input(shape: (usize, usize, usize, usize)) -> Array4<f32> {
        Array4::from_shape_fn(shape, |(i, c, h, w)| {
            ((i * 31 + c * 7 + h * 3 + w) % 23) as f32 * 0.37 - 4.0
        })
    }

    /// `x[n, c, h, w] * factor(n, c)`, by indexing.
    fn reference(x: &Array4<f32>, factor: impl Fn(usize, usize) -> f32) -> Array4<f32> {
        Array4::from_shape_fn(x.dim(), |(n, c, h, w)| x[[n, c, h, w]] * factor(n, c))
    }

    #[test]
    fn both_paths_scale_every_plane_by_its_factor_exactly() {
        // Planes of 1, 7, 33 and 3136 values: below a register, past blocks, many blocks.
        for shape in [(2, 3, 1, 1), (1, 4, 1, 7), (2, 5, 3, 11), (1, 24, 56, 56)] {
            let x = input(shape);
            let (n, c, _, _) = shape;
            let gate =
                Array4::from_shape_fn((n, c, 1, 1), |(i, j, _, _)| 0.1 + (i * c + j) as f32 * 0.05);
            let want = reference(&x, |i, j| gate[[i, j, 0, 0]]);
            for isa in [Some(Isa::Scalar), Isa::avx2()].into_iter().flatten() {
                let mut got = x.clone();
                let values = got.as_slice_mut().unwrap();
                let plane = shape.2 * shape.3;
                for (i, p) in values.chunks_exact_mut(plane).enumerate() {
                    let (len, p) = (p.len(), p.as_mut_ptr());
                    // SAFETY: `p` is `len` values, in place.
                    unsafe { multiply(isa, p, p, len, gate.as_slice().unwrap()[i]) };
                }
                assert_eq!(got, want, "{isa:?} {shape:?}");
            }
            assert_eq!(scale_channels(x.view(), gate.view()).unwrap(), want);
        }
    }

    #[test]
    fn a_large_map_split_over_threads_gets_the_same_values() {
        let x = input((2, 240, 28, 28));
        let gate = Array4::from_shape_fn((2, 240, 1, 1), |(i, j, _, _)| (i + j) as f32 / 100.0);
        let want = reference(&x, |i, j| gate[[i, j, 0, 0]]);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut got = x.clone();
        pool.install(|| scale_channels_in_place(got.view_mut(), gate.view()))
            .unwrap();
        assert_eq!(got, want);
        let layer = LayerScale::new(Array1::from_shape_fn(240, |j| j as f32 - 100.0)).unwrap();
        let got = pool.install(|| layer.forward(x.view())).unwrap();
        assert_eq!(got, reference(&x, |_, j| j as f32 - 100.0));
    }

    #[test]
    fn views_with_gaps_are_scaled_where_they_lie() {
        let x = input((2, 3, 5, 6));
        let gate = Array4::from_shape_fn((2, 3, 1, 1), |(i, j, _, _)| (1 + i * 3 + j) as f32);
        let mut wide = Array4::zeros((2, 3, 5, 8));
        wide.slice_mut(s![.., .., .., 1..7]).assign(&x);
        scale_channels_in_place(wide.slice_mut(s![.., .., .., 1..7]), gate.view()).unwrap();
        let want = reference(&x, |i, j| gate[[i, j, 0, 0]]);
        assert_eq!(wide.slice(s![.., .., .., 1..7]), want);
        assert!(wide.slice(s![.., .., .., 0]).iter().all(|&v| v == 0.0));
        // A gate that is itself a view with gaps (every other channel of a wider one).
        let wider = Array4::from_shape_fn((2, 6, 1, 1), |(i, j, _, _)| (i * 6 + j) as f32);
        let mut y = x.clone();
        scale_channels_in_place(y.view_mut(), wider.slice(s![.., ..;2, .., ..])).unwrap();
        assert_eq!(y, reference(&x, |i, j| (i * 6 + 2 * j) as f32));
    }

    #[test]
    fn empty_maps_are_scaled_to_empty_maps() {
        for shape in [(0, 3, 4, 4), (2, 3, 0, 4), (2, 0, 4, 4)] {
            let (n, c, _, _) = shape;
            let gate = Array4::<f32>::ones((n, c, 1, 1));
            let x = Array4::<f32>::zeros(shape);
            assert_eq!(scale_channels(x.view(), gate.view()).unwrap().dim(), shape);
            let layer = LayerScale::new(Array1::ones(c)).unwrap();
            assert_eq!(layer.forward(x.view()).unwrap().dim(), shape);
        }
    }

    #[test]
    fn scale_channels_refuses_a_gate_that_is_not_n_c_1_1() {
        let mut x = Array4::<f32>::zeros((2, 3, 4, 4));
        for bad in [(1, 3, 1, 1), (2, 4, 1, 1), (2, 3, 4, 4), (2, 3, 1, 2)] {
            let err = scale_channels_in_place(x.view_mut(), Array4::zeros(bad).view()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "scale_channels: gate has shape {:?}, expected [2, 3, 1, 1]",
                    [bad.0, bad.1, bad.2, bad.3]
                )
            );
        }
    }

    #[test]
    fn layer_scale_reads_the_checkpoint_shapes_and_refuses_others() {
        for shape in [vec![4], vec![4, 1, 1], vec![1, 4, 1, 1]] {
            let stored = ArrayD::from_shape_vec(IxDyn(&shape), vec![0.0, 1.0, 2.0, 3.0]).unwrap();
            let layer = LayerScale::from_checkpoint(stored.view()).unwrap();
            assert_eq!(
                layer.scale(),
                Array1::from_vec(vec![0.0, 1.0, 2.0, 3.0]),
                "{shape:?}"
            );
        }
        for shape in [vec![4, 2], vec![4, 1, 2], vec![2, 4, 1, 1], vec![]] {
            let stored = ArrayD::<f32>::zeros(IxDyn(&shape));
            let err = LayerScale::from_checkpoint(stored.view()).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Shape {
                        tensor: "scale",
                        ..
                    }
                ),
                "{shape:?}: {err}"
            );
        }
        let layer = LayerScale::new(Array1::ones(4)).unwrap();
        let err = layer
            .forward(Array4::zeros((1, 3, 2, 2)).view())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer_scale: input has shape [1, 3, 2, 2], expected [N, 4, H, W]"
        );
    }
}
