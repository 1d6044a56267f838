//! 2-D transposed convolution, as PyTorch's `ConvTranspose2d`: stride, padding,
//! output_padding, dilation, groups and an optional bias, for any batch size.
//!
//! Each input pixel scatters a copy of the kernel, scaled by its value, into the output at
//! `stride` steps; `padding` then crops that many rows and columns from both ends and
//! `output_padding` adds to the bottom and right end only (to pick one of the input sizes a
//! strided convolution maps to the same output size).
//!
//! This file holds the parameters, the checks, the layer and the choice of kernel
//! ([`Method::choose`]); the loops live in [`subpixel`] (most strided layers: one small
//! convolution per output phase) and [`col2im`] (the others: a GEMM and a scatter-add).

mod col2im;
mod subpixel;

use ndarray::{Array1, Array4, ArrayView1, ArrayView4};
use stride_geometry::{GeometryError, Param, TransposedAxis, check_groups, conv_transpose_output};

use super::Activation;
use super::check::{contiguous, exact_shape, input_channels, output_fits};
use crate::gemm::PackedA;
use crate::simd::Isa;
use crate::{Error, Hw, Result};

const OP: &str = "conv_transpose2d";

/// Parameters of a 2-D transposed convolution. The default is PyTorch's: stride 1, padding 0,
/// output_padding 0, dilation 1, one group. The builder methods take an int or an `(h, w)`
/// pair, as PyTorch does.
///
/// ```
/// use stride_runtime::{ops::ConvTranspose2dParams, Hw};
///
/// // DCGAN's upsampling layers: kernel 4, stride 2, padding 1 double the size.
/// let p = ConvTranspose2dParams::default().stride(2).padding(1);
/// assert_eq!((p.stride, p.padding, p.output_padding), (Hw([2, 2]), Hw([1, 1]), Hw([0, 0])));
///
/// let p = p.output_padding((1, 0)).dilation(1).groups(2);
/// assert_eq!((p.output_padding, p.groups), (Hw([1, 0]), 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvTranspose2dParams {
    /// The upsampling step: input pixels land `stride` apart in the output.
    pub stride: Hw,
    /// Rows and columns cropped from both ends of the output (PyTorch's `padding`).
    pub padding: Hw,
    /// Rows and columns added to the bottom and right end of the output. Must be smaller than
    /// the stride or the dilation.
    pub output_padding: Hw,
    /// Spacing between kernel taps.
    pub dilation: Hw,
    /// Channel groups: input and output channels split into `groups` independent transposed
    /// convolutions.
    pub groups: usize,
}

impl Default for ConvTranspose2dParams {
    fn default() -> Self {
        ConvTranspose2dParams {
            stride: Hw::from(1),
            padding: Hw::from(0),
            output_padding: Hw::from(0),
            dilation: Hw::from(1),
            groups: 1,
        }
    }
}

impl ConvTranspose2dParams {
    /// The same parameters with another stride.
    pub fn stride(self, stride: impl Into<Hw>) -> Self {
        ConvTranspose2dParams {
            stride: stride.into(),
            ..self
        }
    }

    /// The same parameters with another padding.
    pub fn padding(self, padding: impl Into<Hw>) -> Self {
        ConvTranspose2dParams {
            padding: padding.into(),
            ..self
        }
    }

    /// The same parameters with another output padding.
    pub fn output_padding(self, output_padding: impl Into<Hw>) -> Self {
        ConvTranspose2dParams {
            output_padding: output_padding.into(),
            ..self
        }
    }

    /// The same parameters with another dilation.
    pub fn dilation(self, dilation: impl Into<Hw>) -> Self {
        ConvTranspose2dParams {
            dilation: dilation.into(),
            ..self
        }
    }

    /// The same parameters with another group count.
    pub fn groups(self, groups: usize) -> Self {
        ConvTranspose2dParams { groups, ..self }
    }

    /// The height (0) or width (1) axis for a kernel of `kernel` taps.
    fn axis(&self, axis: usize, kernel: usize) -> TransposedAxis {
        TransposedAxis::new(kernel)
            .stride(self.stride.0[axis])
            .padding(self.padding.0[axis])
            .output_padding(self.output_padding.0[axis])
            .dilation(self.dilation.0[axis])
    }
}

/// Transposed convolution of an NCHW input with `weight` of shape `[Cin, Cout/groups, kh, kw]`
/// (PyTorch's layout) and an optional `bias` of shape `[Cout]`. Output size per axis:
/// `(W - 1)*S - 2P + D*(K-1) + output_padding + 1`.
///
/// Refuses, with an [`Error`] that names what was expected and what came: an input whose
/// channel count is not `weight`'s `Cin`, an empty weight, a bias of another length, zero
/// groups or groups that do not divide `Cin`, a zero stride or dilation, an `output_padding`
/// not smaller than the stride or the dilation, and an output size below 1.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::ops::{conv_transpose2d, ConvTranspose2dParams};
///
/// // A DCGAN generator layer: kernel 4, stride 2, padding 1 takes 32 to 64.
/// let x = Array4::<f32>::zeros((2, 16, 32, 32));
/// let w = Array4::<f32>::zeros((16, 8, 4, 4));
/// let params = ConvTranspose2dParams::default().stride(2).padding(1);
/// let y = conv_transpose2d(x.view(), w.view(), None, &params)?;
/// assert_eq!(y.shape(), &[2, 8, 64, 64]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn conv_transpose2d(
    x: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &ConvTranspose2dParams,
) -> Result<Array4<f32>> {
    check_layer(weight, bias, params)?;
    let geometry = Geometry::resolve(x, weight.dim(), params)?;
    let weight = weight.as_standard_layout();
    let packed = Packed::new(contiguous(weight.as_slice()), weight.dim(), params);
    apply(&geometry, x, &packed, bias, Activation::Identity)
}

/// The two ways to compute a transposed convolution. [`Method::choose`] picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// One ordinary convolution per output phase ([`subpixel`]): every output written once,
    /// no intermediate matrix.
    SubPixel,
    /// A GEMM into a `[Cout/g * kh * kw, H * W]` matrix, then a scatter-add of it into the
    /// output ([`col2im`]).
    Col2im,
}

impl Method {
    /// The sub-pixel decomposition when either stride is above 1 and the layer has more than
    /// a quarter as many output channels as input channels per group; GEMM + col2im
    /// otherwise. `shape` is the weight's, `[Cin, Cout/groups, kh, kw]`.
    ///
    /// Both run the same multiply-adds; what differs is the traffic around them. Sub-pixel
    /// packs `B` from the input once per phase, `Cin/g * kh * kw` values per input pixel,
    /// each used by `Cout/g` rows of `A`; col2im writes and scatter-adds `Cout/g * kh * kw`
    /// values per input pixel (on one thread), after a product of depth `Cin/g`.
    ///
    /// Measured at one thread on 2x-upsampling layers (kernels 2 to 4, inputs 16 to 64
    /// wide), sub-pixel is 8 to 16% faster at `Cout/Cin` = 1/2 (the suite's
    /// `convT4x4s2_128_32`: 10%, and 20% at two threads), 2.3x faster at 2, even at 1/4,
    /// 10 to 30% slower at 1/8 and 2.4x slower for DCGAN's last layer (64 to 3 channels).
    /// On 4x4 and 8x8 inputs (DCGAN's first layers) it is 8 to 14% slower at one thread,
    /// where packing phase rows of 4 or 8 values costs more than the scatter, but 1.6x faster
    /// at two threads on 4x4, whose 16 columns col2im cannot split. At stride 1 there is one
    /// phase, and col2im stays the kernel it was measured as.
    fn choose(params: &ConvTranspose2dParams, shape: (usize, usize, usize, usize)) -> Method {
        let (in_channels, group_out, _, _) = shape;
        let group_in = in_channels / params.groups;
        if params.stride.0.iter().any(|&s| s > 1) && 4 * group_out > group_in {
            Method::SubPixel
        } else {
            Method::Col2im
        }
    }
}

/// A weight packed for the kernel [`Method::choose`] picked.
#[derive(Debug, Clone, PartialEq)]
enum Packed {
    /// One `A` per phase and group.
    SubPixel(subpixel::Weights),
    /// One `A` per group.
    Col2im(Vec<PackedA>),
}

impl Packed {
    /// Packs a contiguous `[Cin, Cout/groups, kh, kw]` weight of `shape` for `params`.
    fn new(
        weight: &[f32],
        shape: (usize, usize, usize, usize),
        params: &ConvTranspose2dParams,
    ) -> Self {
        let (in_channels, _, kh, kw) = shape;
        match Method::choose(params, shape) {
            Method::SubPixel => {
                let axes = [params.axis(0, kh), params.axis(1, kw)];
                Packed::SubPixel(subpixel::pack_weights(weight, shape, params.groups, axes))
            }
            Method::Col2im => {
                let group_in = in_channels / params.groups;
                Packed::Col2im(col2im::pack_weights(weight, params.groups, group_in))
            }
        }
    }
}

/// A transposed convolution layer that owns its weight, `[Cin, Cout/groups, kh, kw]`, and
/// optional bias, `[Cout]`, and may apply an activation to its output
/// ([`ConvTranspose2d::with_activation`]).
///
/// The layer packs its weight for the matrix multiplies once, when it is built (for most
/// strided layers split into one small kernel per output phase), so `forward` allocates only
/// its output and a little bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTranspose2d {
    weight: Array4<f32>,
    bias: Option<Array1<f32>>,
    params: ConvTranspose2dParams,
    activation: Activation,
    /// `weight` as the GEMMs' `A`s.
    packed: Packed,
}

impl ConvTranspose2d {
    /// A layer with PyTorch's weight layout. Refuses what [`conv_transpose2d`] refuses that
    /// does not depend on the input: an empty weight, a bias whose length is not `Cout`, zero
    /// groups or groups that do not divide `Cin`, a zero stride or dilation, and an
    /// `output_padding` not smaller than the stride or the dilation.
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// use stride_runtime::ops::{ConvTranspose2d, ConvTranspose2dParams};
    ///
    /// // A 2x2 kernel of ones at stride 2 paints each input pixel as a 2x2 block.
    /// let params = ConvTranspose2dParams::default().stride(2);
    /// let up = ConvTranspose2d::new(Array4::ones((1, 1, 2, 2)), Some(Array1::ones(1)), params)?;
    /// let x = Array4::from_shape_vec((1, 1, 1, 2), vec![1.0f32, 2.0]).unwrap();
    /// let y = up.forward(x.view())?;
    /// assert_eq!(y.into_raw_vec_and_offset().0, vec![2.0, 2.0, 3.0, 3.0, 2.0, 2.0, 3.0, 3.0]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn new(
        weight: Array4<f32>,
        bias: Option<Array1<f32>>,
        params: ConvTranspose2dParams,
    ) -> Result<Self> {
        check_layer(weight.view(), bias.as_ref().map(|b| b.view()), &params)?;
        let weight = if weight.is_standard_layout() {
            weight
        } else {
            weight.as_standard_layout().into_owned()
        };
        let packed = Packed::new(contiguous(weight.as_slice()), weight.dim(), &params);
        Ok(ConvTranspose2d {
            weight,
            bias,
            params,
            activation: Activation::Identity,
            packed,
        })
    }

    /// The same layer followed by `activation`, applied as each output value is written
    /// rather than in a second pass over the output when the sub-pixel kernel runs the layer
    /// (col2im's scatter-add must finish each value first, so there it is a pass after).
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// use stride_runtime::ops::{Activation, ConvTranspose2d, ConvTranspose2dParams};
    ///
    /// // A 1x1 kernel of -1 with bias 1 at stride 2: 1 - x on the input's pixels, the bias
    /// // alone between them, then ReLU.
    /// let params = ConvTranspose2dParams::default().stride(2);
    /// let up = ConvTranspose2d::new(-Array4::ones((1, 1, 1, 1)), Some(Array1::ones(1)), params)?
    ///     .with_activation(Activation::Relu);
    /// let x = Array4::from_shape_vec((1, 1, 1, 2), vec![0.0f32, 3.0]).unwrap();
    /// assert_eq!(up.forward(x.view())?.into_raw_vec_and_offset().0, vec![1.0, 1.0, 0.0]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn with_activation(self, activation: Activation) -> Self {
        ConvTranspose2d { activation, ..self }
    }

    /// The activation applied to the output ([`Activation::Identity`] unless
    /// [`ConvTranspose2d::with_activation`] set one).
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Applies the layer to an NCHW input of [`ConvTranspose2d::in_channels`] channels.
    ///
    /// Refuses an input with another channel count, and one for which the padding crops the
    /// whole output (an output size below 1), naming the axis.
    ///
    /// ```
    /// use ndarray::Array4;
    /// use stride_runtime::ops::{ConvTranspose2d, ConvTranspose2dParams};
    ///
    /// // DCGAN's first layer: a 1x1 noise vector to a 4x4 map.
    /// let up = ConvTranspose2d::new(Array4::zeros((16, 64, 4, 4)), None, Default::default())?;
    /// assert_eq!((up.in_channels(), up.out_channels()), (16, 64));
    /// assert_eq!(up.forward(Array4::zeros((2, 16, 1, 1)).view())?.shape(), &[2, 64, 4, 4]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        let geometry = Geometry::resolve(x, self.weight.dim(), &self.params)?;
        apply(&geometry, x, &self.packed, self.bias(), self.activation)
    }

    /// Input channels, `Cin`.
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Output channels: `Cout/groups * groups`.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[1] * self.params.groups
    }

    /// The weight, `[Cin, Cout/groups, kh, kw]`.
    pub fn weight(&self) -> ArrayView4<'_, f32> {
        self.weight.view()
    }

    /// The bias, `[Cout]`, if the layer has one.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.bias.as_ref().map(|b| b.view())
    }

    /// The stride, padding, output padding, dilation and groups.
    pub fn params(&self) -> &ConvTranspose2dParams {
        &self.params
    }
}

/// Refuses a weight, bias or parameters with which no input could work: zero groups, an empty
/// weight, groups that do not divide `Cin`, a bias whose length is not `Cout`, a zero stride or
/// dilation, and an `output_padding` not smaller than the stride or the dilation.
fn check_layer(
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &ConvTranspose2dParams,
) -> Result<()> {
    if params.groups == 0 {
        return Err(Error::rule(OP, GeometryError::Zero(Param::Groups)));
    }
    if weight.is_empty() {
        return Err(Error::Shape {
            op: OP,
            tensor: "weight",
            expected: "[Cin, Cout/groups, kh, kw], each at least 1".into(),
            got: weight.shape().to_vec(),
        });
    }
    let (in_channels, group_out, kh, kw) = weight.dim();
    let out_channels = group_out
        .checked_mul(params.groups)
        .ok_or(Error::rule(OP, GeometryError::Overflow))?;
    check_groups(in_channels, out_channels, params.groups).map_err(|e| Error::rule(OP, e))?;
    if let Some(b) = bias {
        exact_shape(OP, "bias", b.shape(), &[out_channels])?;
    }
    for (axis, kernel) in [kh, kw].into_iter().enumerate() {
        params
            .axis(axis, kernel)
            .check()
            .map_err(|e| Error::geometry(OP, axis, e))?;
    }
    Ok(())
}

/// Runs the kernel for an input that [`Geometry::resolve`] accepted, with the weight packed
/// by [`Packed::new`]: the one path behind [`conv_transpose2d`] and
/// [`ConvTranspose2d::forward`].
fn apply(
    geometry: &Geometry,
    x: ArrayView4<f32>,
    packed: &Packed,
    bias: Option<ArrayView1<f32>>,
    activation: Activation,
) -> Result<Array4<f32>> {
    let x = x.as_standard_layout();
    let bias = bias.as_ref().map(|b| b.as_standard_layout());
    let bias = bias.as_ref().map(|b| contiguous(b.as_slice()));
    // `zeros` is calloc, whose fresh pages cost nothing until written: the sub-pixel kernel
    // writes every element, col2im adds into the zeros.
    let mut y = Array4::zeros(geometry.output_shape());
    let x_slice = contiguous(x.as_slice());
    let y_slice = contiguous(y.as_slice_mut());
    match packed {
        Packed::SubPixel(weights) => subpixel::conv_transpose2d(
            Isa::detect(),
            geometry,
            x_slice,
            weights,
            bias,
            activation,
            y_slice,
        ),
        Packed::Col2im(weights) => {
            col2im::conv_transpose2d(geometry, x_slice, weights, bias, y_slice);
            activation.apply_in_place(y.view_mut());
        }
    }
    Ok(y)
}

/// A transposed convolution resolved for one input: the sizes a kernel needs, all checked.
/// Tensors are NCHW and contiguous; the weight is `[groups * group_in, group_out, kh, kw]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    /// Samples, `N`.
    batch: usize,
    /// Channel groups.
    groups: usize,
    /// Input channels per group, `Cin/groups`.
    group_in: usize,
    /// Output channels per group, `Cout/groups`.
    group_out: usize,
    /// Input height and width.
    input: [usize; 2],
    /// The height and width axes (kernel, stride, dilation, padding, output padding).
    axes: [TransposedAxis; 2],
    /// Output height and width, at least 1.
    output: [usize; 2],
}

impl Geometry {
    /// Checks `x` against a layer that [`check_layer`] accepted and resolves its output size.
    fn resolve(
        x: ArrayView4<f32>,
        weight: (usize, usize, usize, usize),
        params: &ConvTranspose2dParams,
    ) -> Result<Self> {
        let (in_channels, group_out, kh, kw) = weight;
        let groups = params.groups;
        input_channels(OP, &x, in_channels)?;
        let (batch, _, h, w) = x.dim();
        let axes = [params.axis(0, kh), params.axis(1, kw)];
        let output_size = |axis: usize| {
            conv_transpose_output([h, w][axis], axes[axis])
                .map_err(|e| Error::geometry(OP, axis, e))
        };
        let output = [output_size(0)?, output_size(1)?];
        output_fits(OP, &[batch, group_out * groups, output[0], output[1]])?;
        Ok(Geometry {
            batch,
            groups,
            group_in: in_channels / groups,
            group_out,
            input: [h, w],
            axes,
            output,
        })
    }

    /// `[N, Cout, OH, OW]`.
    fn output_shape(&self) -> [usize; 4] {
        [
            self.batch,
            self.groups * self.group_out,
            self.output[0],
            self.output[1],
        ]
    }

    /// Elements of the input.
    fn input_len(&self) -> usize {
        self.batch * self.groups * self.group_in * self.input[0] * self.input[1]
    }

    /// Elements of the output.
    fn output_len(&self) -> usize {
        self.output_shape().iter().product()
    }

    /// Outputs each input pixel feeds per group: `Cout/groups * kh * kw`, the rows of the
    /// matrix col2im scatters.
    fn patch_len(&self) -> usize {
        self.group_out * self.axes[0].kernel * self.axes[1].kernel
    }
}

#[cfg(test)]
mod tests;
