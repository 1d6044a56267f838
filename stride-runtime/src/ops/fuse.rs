//! Inference fusions, as ONNX Runtime and tract apply them: a batch norm after a convolution is
//! folded into the convolution's weights and bias, and the activation (and a residual add)
//! after it are applied as the convolution writes its output, so the group costs one pass
//! instead of three or four.

use ndarray::{Array1, Array4, ArrayView4, Axis};

use super::check::exact_shape;
use super::{Activation, BatchNorm2d, Conv2d, ConvTranspose2d, add_assign};
use crate::Result;

/// A layer that a [`Fused`] group can be built on.
pub trait FusableLayer: Sized {
    /// The layer followed by `bn`, as one layer.
    fn fold(&self, bn: &BatchNorm2d) -> Result<Self>;
    /// The layer's output.
    fn run(&self, x: ArrayView4<f32>) -> Result<Array4<f32>>;
    /// The layer applying `activation` as it writes its output, if it can; else the layer as
    /// it is. Returns the activation still to apply afterwards.
    fn absorb(self, activation: Activation) -> (Self, Activation);

    /// `activation(self.run(x) + residual)`, in `residual`'s buffer where the layer can add
    /// as it writes.
    fn run_add(
        &self,
        x: ArrayView4<f32>,
        mut residual: Array4<f32>,
        activation: Activation,
    ) -> Result<Array4<f32>> {
        let y = self.run(x)?;
        add_assign(residual.view_mut(), y.view())?;
        crate::arena::give(y);
        activation.apply_in_place(residual.view_mut());
        Ok(residual)
    }
}

impl FusableLayer for Conv2d {
    fn fold(&self, bn: &BatchNorm2d) -> Result<Self> {
        fold_batch_norm(self, bn)
    }

    fn run(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        self.forward(x)
    }

    fn absorb(self, activation: Activation) -> (Self, Activation) {
        (self.with_activation(activation), Activation::Identity)
    }

    fn run_add(
        &self,
        x: ArrayView4<f32>,
        residual: Array4<f32>,
        activation: Activation,
    ) -> Result<Array4<f32>> {
        self.forward_add_into(x, residual, activation)
    }
}

impl FusableLayer for ConvTranspose2d {
    fn fold(&self, bn: &BatchNorm2d) -> Result<Self> {
        fold_batch_norm_transposed(self, bn)
    }

    fn run(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        self.forward(x)
    }

    fn absorb(self, activation: Activation) -> (Self, Activation) {
        (self.with_activation(activation), Activation::Identity)
    }
}

/// A convolution (or transposed convolution), the batch norm folded into it, and the
/// activation after it: what a network runs in place of the three layers once it is fused.
///
/// ```
/// use ndarray::{Array1, Array4};
/// use stride_runtime::ops::{Activation, BatchNorm2d, Conv2d, Conv2dParams, Fused};
///
/// let conv = Conv2d::new(Array4::from_elem((4, 3, 3, 3), 0.1), None, Conv2dParams::default().padding(1))?;
/// let stats = Array1::from(vec![0.1f32, 0.2, 0.3, 0.4]);
/// let bn = BatchNorm2d::new(stats.view(), stats.view(), None, None, 1e-5)?;
/// let fused = Fused::new(&conv, Some(&bn), Activation::Relu)?;
///
/// let x = Array4::from_elem((1, 3, 8, 8), -1.0f32);
/// let mut separate = bn.forward(conv.forward(x.view())?.view())?;
/// Activation::Relu.apply_in_place(separate.view_mut());
/// let together = fused.forward(x.view())?;
/// assert!(together.iter().zip(&separate).all(|(a, b)| (a - b).abs() < 1e-5));
/// # Ok::<(), stride_runtime::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fused<L> {
    layer: L,
    /// The activation applied after the layer (and after the residual, in `forward_add`):
    /// what the layer could not take in.
    after: Activation,
    /// Whether the layer applies an activation of its own, so that nothing may be added to
    /// its output before it.
    absorbed: bool,
}

impl<L: FusableLayer> Fused<L> {
    /// `layer`, then `bn` if given (folded into the layer's weights), then `activation`
    /// (applied by the layer as it writes, where the layer can).
    ///
    /// Refuses a batch norm whose channel count is not the layer's output channels.
    pub fn new(layer: &L, bn: Option<&BatchNorm2d>, activation: Activation) -> Result<Self>
    where
        L: Clone,
    {
        let (layer, after) = Self::folded(layer, bn)?.absorb(activation);
        let absorbed = after != activation;
        Ok(Fused {
            layer,
            after,
            absorbed,
        })
    }

    /// A group that closes a residual block: `layer`, `bn` folded into it, then (in
    /// [`Fused::forward_add`]) the residual added and `activation` applied.
    ///
    /// Refuses a batch norm whose channel count is not the layer's output channels.
    pub fn before_add(layer: &L, bn: Option<&BatchNorm2d>, activation: Activation) -> Result<Self>
    where
        L: Clone,
    {
        let layer = Self::folded(layer, bn)?;
        Ok(Fused {
            layer,
            after: activation,
            absorbed: false,
        })
    }

    fn folded(layer: &L, bn: Option<&BatchNorm2d>) -> Result<L>
    where
        L: Clone,
    {
        match bn {
            Some(bn) => layer.fold(bn),
            None => Ok(layer.clone()),
        }
    }

    /// The layer, with the batch norm folded into its weights and, where it could take it in,
    /// the activation it applies as it writes.
    pub fn layer(&self) -> &L {
        &self.layer
    }

    /// The activation applied after the layer (after the residual, in
    /// [`Fused::forward_add`]): what the layer could not take in.
    pub fn after(&self) -> Activation {
        self.after
    }

    /// The group's output: `activation(layer(x))`.
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        let mut y = self.layer.run(x)?;
        self.after.apply_in_place(y.view_mut());
        Ok(y)
    }

    /// The group closing a residual block: `activation(layer(x) + residual)`.
    ///
    /// Refuses a residual whose shape is not the layer's output's, and a group built with
    /// [`Fused::new`] whose layer applies the activation itself (before any add could).
    pub fn forward_add(
        &self,
        x: ArrayView4<f32>,
        residual: ArrayView4<f32>,
    ) -> Result<Array4<f32>> {
        self.check_adds()?;
        let residual = crate::memory::to_owned("fused", "residual", residual)?;
        self.forward_add_owned(x, residual)
    }

    /// [`Fused::forward_add`] with a residual the caller gives up: the output is written
    /// into its buffer, the add done as the convolution writes each tile (on the GEMM's path),
    /// so closing a residual block allocates nothing and costs no pass of its own.
    pub fn forward_add_owned(
        &self,
        x: ArrayView4<f32>,
        residual: Array4<f32>,
    ) -> Result<Array4<f32>> {
        self.check_adds()?;
        self.layer.run_add(x, residual, self.after)
    }

    /// Refuses a group whose layer applies the activation itself, before any add could.
    fn check_adds(&self) -> Result<()> {
        if self.absorbed {
            return Err(crate::Error::Param {
                op: "fused",
                message: "this group applies its activation inside the layer; build it with \
                          `Fused::before_add` to add a residual first"
                    .into(),
            });
        }
        Ok(())
    }
}

/// A convolution followed by `bn`, as one convolution: each output channel `o`'s weights are
/// scaled by `bn`'s scale `s[o] = weight[o] / sqrt(running_var[o] + eps)`, and its bias
/// becomes `bias[o] * s[o] + shift[o]` (a convolution without bias counts as bias 0).
///
/// Refuses a batch norm whose channel count is not the convolution's output channels.
///
/// ```
/// use ndarray::{Array1, Array4};
/// use stride_runtime::ops::{fold_batch_norm, BatchNorm2d, Conv2d, Conv2dParams};
///
/// let conv = Conv2d::new(Array4::from_elem((2, 1, 3, 3), 0.5), None, Conv2dParams::default())?;
/// let (mean, var) = (Array1::from(vec![1.0f32, -1.0]), Array1::from(vec![4.0f32, 0.25]));
/// let bn = BatchNorm2d::new(mean.view(), var.view(), None, None, 0.0)?;
/// let fused = fold_batch_norm(&conv, &bn)?;
///
/// let x = Array4::from_elem((1, 1, 3, 3), 1.0f32);
/// let separate = bn.forward(conv.forward(x.view())?.view())?;
/// assert_eq!(fused.forward(x.view())?, separate);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn fold_batch_norm(conv: &Conv2d, bn: &BatchNorm2d) -> Result<Conv2d> {
    exact_shape(
        "fold_batch_norm",
        "batch norm",
        &[bn.channels()],
        &[conv.out_channels()],
    )?;
    let mut weight = conv.weight().to_owned();
    for (mut filter, &s) in weight.axis_iter_mut(Axis(0)).zip(bn.scale()) {
        filter.mapv_inplace(|w| w * s);
    }
    let bias = folded_bias(conv.bias(), bn);
    Conv2d::new(weight, Some(bias), *conv.params())
}

/// A transposed convolution followed by `bn`, as one transposed convolution. The weight is
/// `[Cin, Cout/groups, kh, kw]`, so output channel `g * Cout/groups + j` is column `j` of the
/// rows of group `g`.
///
/// Refuses a batch norm whose channel count is not the layer's output channels.
///
/// ```
/// use ndarray::{Array1, Array4};
/// use stride_runtime::ops::{fold_batch_norm_transposed, BatchNorm2d, ConvTranspose2d, ConvTranspose2dParams};
///
/// let params = ConvTranspose2dParams::default().stride(2).padding(1);
/// let up = ConvTranspose2d::new(Array4::from_elem((2, 3, 4, 4), 0.1), None, params)?;
/// let stats = Array1::from(vec![0.5f32, 1.5, 2.0]);
/// let bn = BatchNorm2d::new(stats.view(), stats.view(), None, None, 1e-5)?;
/// let fused = fold_batch_norm_transposed(&up, &bn)?;
///
/// let x = Array4::from_elem((1, 2, 4, 4), 1.0f32);
/// let separate = bn.forward(up.forward(x.view())?.view())?;
/// let together = fused.forward(x.view())?;
/// assert!(together.iter().zip(&separate).all(|(a, b)| (a - b).abs() < 1e-5));
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn fold_batch_norm_transposed(
    conv: &ConvTranspose2d,
    bn: &BatchNorm2d,
) -> Result<ConvTranspose2d> {
    exact_shape(
        "fold_batch_norm",
        "batch norm",
        &[bn.channels()],
        &[conv.out_channels()],
    )?;
    let groups = conv.params().groups;
    let per_group_out = conv.out_channels() / groups;
    let per_group_in = conv.in_channels() / groups;
    let mut weight = conv.weight().to_owned();
    for (i, mut row) in weight.axis_iter_mut(Axis(0)).enumerate() {
        let group = i / per_group_in;
        for (j, mut taps) in row.axis_iter_mut(Axis(0)).enumerate() {
            let s = bn.scale()[group * per_group_out + j];
            taps.mapv_inplace(|w| w * s);
        }
    }
    let bias = folded_bias(conv.bias(), bn);
    ConvTranspose2d::new(weight, Some(bias), *conv.params())
}

/// `bias * scale + shift`, with a missing bias as zeros.
fn folded_bias(bias: Option<ndarray::ArrayView1<f32>>, bn: &BatchNorm2d) -> Array1<f32> {
    let mut folded = bn.shift().to_owned();
    if let Some(bias) = bias {
        folded += &(&bias * &bn.scale());
    }
    folded
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array4};

    use super::*;
    use crate::Error;
    use crate::ops::{Conv2dParams, ConvTranspose2dParams};

    fn sample(shape: (usize, usize, usize, usize), seed: f32) -> Array4<f32> {
        Array4::from_shape_fn(shape, |(a, b, c, d)| {
            ((a * 7 + b * 5 + c * 3 + d) as f32 * 0.37 + seed).sin()
        })
    }

    fn batch_norm(c: usize) -> BatchNorm2d {
        let v = |k: f32| Array1::from_shape_fn(c, |i| (i as f32 * k).cos() * 0.5 + 1.0);
        BatchNorm2d::new(
            v(0.3).view(),
            v(0.7).view(),
            Some(v(1.1).view()),
            Some(v(1.9).view()),
            1e-5,
        )
        .unwrap()
    }

    fn assert_close(a: &Array4<f32>, b: &Array4<f32>) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 + 1e-4 * y.abs(), "{x} vs {y}");
        }
    }

    #[test]
    fn folded_grouped_strided_conv_matches_conv_then_batch_norm() {
        let params = Conv2dParams::default().stride(2).padding(1).groups(2);
        let conv = Conv2d::new(
            sample((6, 2, 3, 3), 0.1),
            Some(Array1::linspace(-1.0, 1.0, 6)),
            params,
        )
        .unwrap();
        let bn = batch_norm(6);
        let x = sample((2, 4, 9, 7), 0.5);
        let separate = bn.forward(conv.forward(x.view()).unwrap().view()).unwrap();
        assert_close(
            &fold_batch_norm(&conv, &bn)
                .unwrap()
                .forward(x.view())
                .unwrap(),
            &separate,
        );
    }

    #[test]
    fn folded_grouped_transposed_conv_matches_transposed_conv_then_batch_norm() {
        let params = ConvTranspose2dParams::default()
            .stride(2)
            .padding(1)
            .groups(2);
        let up = ConvTranspose2d::new(sample((4, 3, 4, 4), 0.2), None, params).unwrap();
        let bn = batch_norm(6);
        let x = sample((1, 4, 5, 5), 0.9);
        let separate = bn.forward(up.forward(x.view()).unwrap().view()).unwrap();
        assert_close(
            &fold_batch_norm_transposed(&up, &bn)
                .unwrap()
                .forward(x.view())
                .unwrap(),
            &separate,
        );
    }

    #[test]
    fn folding_refuses_a_batch_norm_of_another_width() {
        let conv = Conv2d::new(sample((6, 2, 3, 3), 0.1), None, Conv2dParams::default()).unwrap();
        let err = fold_batch_norm(&conv, &batch_norm(4)).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
    }
}
