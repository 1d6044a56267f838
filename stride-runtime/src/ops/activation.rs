//! Elementwise activations as ops: each works on an array of any rank. [`Activation`] names
//! one so a layer can apply it in its epilogue; it and the forms kernels apply it in (a value,
//! a slice, 8 lanes) live at the bottom of the crate, in `simd/activation.rs`.
//!
//! An array in memory order runs through the slice forms, 8 lanes at a time with AVX2, split
//! over the crate's threads ([`crate::threads`]) in runs of [`CHUNK`] values when it is larger
//! than one run; `map` reads a view with gaps through a copy in standard layout, and
//! `apply_in_place` works along its rows.

use ndarray::{Array, ArrayView, ArrayViewMut, Axis, Dimension};

use super::check::contiguous;
use crate::simd::{Activation, Isa};
use crate::{Result, memory};

/// Values per task: large enough that handing a run to another thread costs little against
/// applying even `relu` to it (128 KiB, well inside L2).
const CHUNK: usize = 1 << 15;

/// The array forms of an activation; its value, slice and vector forms are in
/// `simd/activation.rs`.
impl Activation {
    /// Applies the activation to every element, in place.
    ///
    /// ```
    /// use ndarray::array;
    /// use stride_runtime::ops::Activation;
    ///
    /// let mut x = array![[-1.0f32, 0.5], [2.0, -0.25]];
    /// Activation::Relu.apply_in_place(x.view_mut());
    /// assert_eq!(x, array![[0.0, 0.5], [2.0, 0.0]]);
    /// ```
    pub fn apply_in_place<D: Dimension>(self, mut x: ArrayViewMut<f32, D>) {
        if self == Activation::Identity {
            return;
        }
        let isa = Isa::detect();
        if let Some(xs) = x.as_slice_memory_order_mut() {
            crate::threads::for_each_chunk(xs, CHUNK, |_, run| {
                self.apply_to_slice_on(isa, run);
            });
            return;
        }
        let last = Axis(x.ndim().saturating_sub(1));
        for mut row in x.lanes_mut(last) {
            match row.as_slice_mut() {
                Some(row) => self.apply_to_slice_on(isa, row),
                None => row.mapv_inplace(|v| self.apply(v)),
            }
        }
    }

    /// A new array with the activation of every element.
    ///
    /// Refuses only an output that cannot be allocated ([`Error::TooLarge`](crate::Error)):
    /// one for a broadcast view far larger than memory, say.
    ///
    /// ```
    /// use ndarray::array;
    /// use stride_runtime::ops::Activation;
    ///
    /// let y = Activation::Hardsigmoid.map(array![-3.0f32, 0.0, 3.0].view())?;
    /// assert_eq!(y, array![0.0, 0.5, 1.0]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn map<D: Dimension>(self, x: ArrayView<f32, D>) -> Result<Array<f32, D>> {
        // Read in standard layout (copied there first if need be), written in one pass into
        // an output that is not zeroed first.
        let op = self.name();
        let mut y = memory::uninit(op, "output", x.raw_dim())?;
        let x = memory::standard_layout(op, "input copy", x)?;
        let src = contiguous(x.as_slice());
        let dst = contiguous(y.as_slice_mut());
        let isa = Isa::detect();
        let tasks: Vec<_> = src.chunks(CHUNK).zip(dst.chunks_mut(CHUNK)).collect();
        crate::threads::for_each(tasks, |(src, dst)| self.map_slice_on(isa, src, dst));
        // SAFETY: the tasks' chunks cover `dst`, and `map_slice_on` writes every value of
        // its chunk.
        Ok(unsafe { y.assume_init() })
    }
}

macro_rules! elementwise {
    ($($(#[$doc:meta])* $name:ident => $act:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// Works on any rank. Refuses only an output that cannot be allocated
        /// ([`Error::TooLarge`](crate::Error::TooLarge)): one for a broadcast view far larger
        /// than memory, say.
        pub fn $name<D: Dimension>(x: ArrayView<f32, D>) -> Result<Array<f32, D>> {
            $act.map(x)
        }
    )*};
}

elementwise! {
    /// `max(x, 0)` of every element (NaN stays NaN, as in PyTorch).
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::relu(array![-1.0f32, 2.0].view()).unwrap(), array![0.0, 2.0]);
    /// ```
    relu => Activation::Relu;
    /// `min(max(x, 0), 6)` of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::relu6(array![-1.0f32, 7.0].view()).unwrap(), array![0.0, 6.0]);
    /// ```
    relu6 => Activation::Relu6;
    /// The logistic sigmoid of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::sigmoid(array![0.0f32].view()).unwrap(), array![0.5]);
    /// ```
    sigmoid => Activation::Sigmoid;
    /// `tanh` of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::tanh(array![0.0f32].view()).unwrap(), array![0.0]);
    /// ```
    tanh => Activation::Tanh;
    /// `x * sigmoid(x)` of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::silu(array![0.0f32].view()).unwrap(), array![0.0]);
    /// ```
    silu => Activation::Silu;
    /// The exact GELU, `0.5 * x * (1 + erf(x / √2))`, of every element: PyTorch's
    /// `F.gelu(x)` (ConvNeXt's activation).
    ///
    /// ```
    /// use ndarray::array;
    /// let y = stride_runtime::ops::gelu(array![0.0f32, 1.0].view()).unwrap();
    /// assert_eq!(y[0], 0.0);
    /// assert!((y[1] - 0.841_344_7).abs() < 1e-6);
    /// ```
    gelu => Activation::Gelu;
    /// The tanh approximation of GELU, `0.5 * x * (1 + tanh(√(2/π) * (x + 0.044715 x³)))`,
    /// of every element: PyTorch's `F.gelu(x, approximate='tanh')`.
    ///
    /// ```
    /// use ndarray::array;
    /// let y = stride_runtime::ops::gelu_tanh(array![0.0f32, 1.0].view()).unwrap();
    /// assert_eq!(y[0], 0.0);
    /// assert!((y[1] - 0.841_192).abs() < 1e-6);
    /// ```
    gelu_tanh => Activation::GeluTanh;
    /// `x * relu6(x + 3) / 6` of every element (MobileNetV3's activation).
    ///
    /// ```
    /// use ndarray::array;
    /// let y = stride_runtime::ops::hardswish(array![-4.0f32, 0.0, 4.0].view()).unwrap();
    /// assert_eq!(y, array![-0.0, 0.0, 4.0]);
    /// ```
    hardswish => Activation::Hardswish;
    /// `relu6(x + 3) / 6` of every element (MobileNetV3's squeeze-excitation gate).
    ///
    /// ```
    /// use ndarray::array;
    /// let y = stride_runtime::ops::hardsigmoid(array![-4.0f32, 0.0, 4.0].view()).unwrap();
    /// assert_eq!(y, array![0.0, 0.5, 1.0]);
    /// ```
    hardsigmoid => Activation::Hardsigmoid;
}

/// `x` where `x >= 0`, else `slope * x`, of every element.
///
/// Works on any rank. Refuses only an output that cannot be allocated
/// ([`Error::TooLarge`](crate::Error::TooLarge)).
///
/// ```
/// use ndarray::array;
/// let y = stride_runtime::ops::leaky_relu(array![-2.0f32, 3.0].view(), 0.5)?;
/// assert_eq!(y, array![-1.0, 3.0]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn leaky_relu<D: Dimension>(x: ArrayView<f32, D>, slope: f32) -> Result<Array<f32, D>> {
    Activation::LeakyRelu(slope).map(x)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, s};

    use super::*;

    /// Values from -8 to 8, so every activation's interesting range is covered.
    fn ramp(shape: (usize, usize, usize)) -> Array3<f32> {
        let len = (shape.0 * shape.1 * shape.2) as f32;
        Array3::from_shape_fn(shape, |(i, j, k)| {
            let at = ((i * shape.1 + j) * shape.2 + k) as f32;
            16.0 * at / len - 8.0
        })
    }

    #[test]
    fn map_gives_the_value_form_on_every_element_of_a_view_with_gaps() {
        // A transposed slice with a step: no row is contiguous.
        let x = ramp((6, 10, 9));
        let view = x.slice(s![.., ..;3, 1..]).reversed_axes();
        for activation in [Activation::Gelu, Activation::Hardswish, Activation::Relu] {
            let y = activation.map(view).unwrap();
            assert_eq!(y.shape(), view.shape());
            for (&got, &v) in y.iter().zip(view.iter()) {
                let want = activation.apply(v);
                assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "{v}");
            }
        }
    }

    #[test]
    fn map_and_apply_in_place_cover_every_element_of_an_array_split_over_threads() {
        // More than two chunks, and a length that is not a multiple of 8.
        let x = ramp((3, CHUNK / 1000, 1001));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for activation in [Activation::Silu, Activation::Identity, Activation::Relu6] {
            let mut in_place = x.clone();
            pool.install(|| activation.apply_in_place(in_place.view_mut()));
            let mapped = pool.install(|| activation.map(x.view())).unwrap();
            for ((&a, &b), &v) in in_place.iter().zip(&mapped).zip(&x) {
                let want = activation.apply(v);
                assert!((a - want).abs() <= 1e-6 * want.abs().max(1.0), "{v}");
                assert_eq!(a, b, "{activation:?}({v})");
            }
        }
    }
}
