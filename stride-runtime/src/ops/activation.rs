//! Elementwise activations as ops: each works on an array of any rank. [`Activation`] names
//! one so a layer can apply it in its epilogue; it and the forms kernels apply it in (a value,
//! a slice, 8 lanes) live at the bottom of the crate, in `simd/activation.rs`.

use ndarray::{Array, ArrayView, ArrayViewMut, Dimension};

use crate::simd::Activation;

/// The array forms of an activation; its value, slice and vector forms are in
/// `simd/activation.rs`.
impl Activation {
    /// Applies the activation to every element, in place.
    pub fn apply_in_place<D: Dimension>(self, mut x: ArrayViewMut<f32, D>) {
        if self != Activation::Identity {
            x.mapv_inplace(|v| self.apply(v));
        }
    }

    /// A new array with the activation of every element.
    pub fn map<D: Dimension>(self, x: ArrayView<f32, D>) -> Array<f32, D> {
        x.mapv(|v| self.apply(v))
    }
}

macro_rules! elementwise {
    ($($(#[$doc:meta])* $name:ident => $act:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// Works on any rank; never fails.
        pub fn $name<D: Dimension>(x: ArrayView<f32, D>) -> Array<f32, D> {
            $act.map(x)
        }
    )*};
}

elementwise! {
    /// `max(x, 0)` of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::relu(array![-1.0f32, 2.0].view()), array![0.0, 2.0]);
    /// ```
    relu => Activation::Relu;
    /// `min(max(x, 0), 6)` of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::relu6(array![-1.0f32, 7.0].view()), array![0.0, 6.0]);
    /// ```
    relu6 => Activation::Relu6;
    /// The logistic sigmoid of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::sigmoid(array![0.0f32].view()), array![0.5]);
    /// ```
    sigmoid => Activation::Sigmoid;
    /// `tanh` of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::tanh(array![0.0f32].view()), array![0.0]);
    /// ```
    tanh => Activation::Tanh;
    /// `x * sigmoid(x)` of every element.
    ///
    /// ```
    /// use ndarray::array;
    /// assert_eq!(stride_runtime::ops::silu(array![0.0f32].view()), array![0.0]);
    /// ```
    silu => Activation::Silu;
}

/// `x` where `x >= 0`, else `slope * x`, of every element.
///
/// Works on any rank; never fails.
///
/// ```
/// use ndarray::array;
/// let y = stride_runtime::ops::leaky_relu(array![-2.0f32, 3.0].view(), 0.5);
/// assert_eq!(y, array![-1.0, 3.0]);
/// ```
pub fn leaky_relu<D: Dimension>(x: ArrayView<f32, D>, slope: f32) -> Array<f32, D> {
    Activation::LeakyRelu(slope).map(x)
}
