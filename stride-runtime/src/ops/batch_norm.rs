//! Batch normalisation in inference mode.

use ndarray::{Array1, Array4, ArrayView1, ArrayView4, ArrayViewMut4, Axis, Zip};

use super::check::{exact_shape, input_channels};
use crate::{Result, memory};

const OP: &str = "batch_norm2d";

/// Inference batch norm of an NCHW input:
/// `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`, per channel.
///
/// `weight` and `bias` are optional (PyTorch's `affine = False` leaves them out). Every vector
/// must have one entry per input channel.
///
/// ```
/// use ndarray::{array, Array4};
/// use stride_runtime::ops::batch_norm2d;
///
/// let x = Array4::from_elem((1, 2, 1, 1), 3.0f32);
/// let (mean, var) = (array![1.0f32, 3.0], array![4.0f32, 1.0]);
/// let y = batch_norm2d(x.view(), mean.view(), var.view(), None, None, 0.0)?;
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![1.0, 0.0]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn batch_norm2d(
    x: ArrayView4<f32>,
    running_mean: ArrayView1<f32>,
    running_var: ArrayView1<f32>,
    weight: Option<ArrayView1<f32>>,
    bias: Option<ArrayView1<f32>>,
    eps: f32,
) -> Result<Array4<f32>> {
    BatchNorm2d::new(running_mean, running_var, weight, bias, eps)?.forward(x)
}

/// A batch norm layer. It keeps its statistics and affine parameters (to save them again) and
/// folds them at construction into one scale and one shift per channel, which `forward` uses.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm2d {
    running_mean: Array1<f32>,
    running_var: Array1<f32>,
    weight: Option<Array1<f32>>,
    bias: Option<Array1<f32>>,
    eps: f32,
    scale: Array1<f32>,
    shift: Array1<f32>,
}

impl BatchNorm2d {
    /// Folds the statistics and the affine parameters into `y = x * scale + shift`.
    ///
    /// Refuses vectors whose lengths differ from `running_mean`'s.
    pub fn new(
        running_mean: ArrayView1<f32>,
        running_var: ArrayView1<f32>,
        weight: Option<ArrayView1<f32>>,
        bias: Option<ArrayView1<f32>>,
        eps: f32,
    ) -> Result<Self> {
        let c = running_mean.len();
        exact_shape(OP, "running_var", running_var.shape(), &[c])?;
        if let Some(w) = &weight {
            exact_shape(OP, "weight", w.shape(), &[c])?;
        }
        if let Some(b) = &bias {
            exact_shape(OP, "bias", b.shape(), &[c])?;
        }
        let mut scale = running_var.mapv(|v| 1.0 / (v + eps).sqrt());
        if let Some(w) = &weight {
            scale *= w;
        }
        let mut shift = -&running_mean * &scale;
        if let Some(b) = &bias {
            shift += b;
        }
        Ok(BatchNorm2d {
            running_mean: running_mean.to_owned(),
            running_var: running_var.to_owned(),
            weight: weight.map(|w| w.to_owned()),
            bias: bias.map(|b| b.to_owned()),
            eps,
            scale,
            shift,
        })
    }

    /// The running mean it was built with.
    pub fn running_mean(&self) -> ArrayView1<'_, f32> {
        self.running_mean.view()
    }

    /// The running variance it was built with.
    pub fn running_var(&self) -> ArrayView1<'_, f32> {
        self.running_var.view()
    }

    /// The affine scale (`weight`), if the layer has one.
    pub fn weight(&self) -> Option<ArrayView1<'_, f32>> {
        self.weight.as_ref().map(|w| w.view())
    }

    /// The affine shift (`bias`), if the layer has one.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.bias.as_ref().map(|b| b.view())
    }

    /// The epsilon added to the variance.
    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.scale.len()
    }

    /// The per-channel scale `weight / sqrt(running_var + eps)`.
    pub fn scale(&self) -> ArrayView1<'_, f32> {
        self.scale.view()
    }

    /// The per-channel shift `bias - running_mean * scale`.
    pub fn shift(&self) -> ArrayView1<'_, f32> {
        self.shift.view()
    }

    /// Normalises an NCHW input with this layer's channel count.
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        input_channels(OP, &x, self.channels())?;
        let mut y = memory::to_owned(OP, "output", x)?;
        self.normalise(y.view_mut());
        Ok(y)
    }

    /// Normalises an NCHW array with this layer's channel count where it lies, without a new
    /// output: what a network does with an intermediate result it owns.
    ///
    /// ```
    /// use ndarray::{array, Array4};
    /// use stride_runtime::ops::BatchNorm2d;
    ///
    /// let (mean, var) = (array![1.0f32, 3.0], array![4.0f32, 1.0]);
    /// let bn = BatchNorm2d::new(mean.view(), var.view(), None, None, 0.0)?;
    /// let mut x = Array4::from_elem((1, 2, 1, 1), 3.0f32);
    /// bn.forward_in_place(x.view_mut())?;
    /// assert_eq!(x.into_raw_vec_and_offset().0, vec![1.0, 0.0]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn forward_in_place(&self, mut x: ArrayViewMut4<f32>) -> Result<()> {
        input_channels(OP, &x.view(), self.channels())?;
        self.normalise(x.view_mut());
        Ok(())
    }

    /// `x * scale + shift`, per channel; `x` has this layer's channel count.
    fn normalise(&self, mut x: ArrayViewMut4<f32>) {
        debug_assert_eq!(x.shape()[1], self.channels());
        for mut sample in x.axis_iter_mut(Axis(0)) {
            Zip::from(sample.outer_iter_mut())
                .and(&self.scale)
                .and(&self.shift)
                .for_each(|mut plane, &s, &t| plane.mapv_inplace(|v| v * s + t));
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array4};

    use super::*;
    use crate::Error;

    #[test]
    fn batch_norm_refuses_an_input_with_the_wrong_channel_count() {
        let stats = Array1::<f32>::ones(4);
        let x = Array4::<f32>::zeros((1, 3, 2, 2));
        let err = batch_norm2d(x.view(), stats.view(), stats.view(), None, None, 1e-5).unwrap_err();
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
        assert_eq!(
            err.to_string(),
            "batch_norm2d: input has shape [1, 3, 2, 2], expected [N, 4, H, W]"
        );
    }

    #[test]
    fn batch_norm_refuses_statistics_of_different_lengths() {
        let (four, three) = (Array1::<f32>::ones(4), Array1::<f32>::ones(3));
        let err = BatchNorm2d::new(four.view(), three.view(), None, None, 1e-5).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Shape {
                    tensor: "running_var",
                    ..
                }
            ),
            "{err}"
        );
        let err =
            BatchNorm2d::new(four.view(), four.view(), Some(three.view()), None, 1e-5).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Shape {
                    tensor: "weight",
                    ..
                }
            ),
            "{err}"
        );
        let err =
            BatchNorm2d::new(four.view(), four.view(), None, Some(three.view()), 1e-5).unwrap_err();
        assert!(matches!(err, Error::Shape { tensor: "bias", .. }), "{err}");
    }
}
