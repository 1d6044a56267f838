//! 2-D convolution, as PyTorch's `Conv2d`: stride, padding (explicit, asymmetric or a mode),
//! dilation, groups (depthwise included) and an optional bias, for any batch size.
//!
//! This file holds the parameters, the checks and the layer. A call is resolved into a
//! [`Geometry`] (every size checked, padding turned into numbers) before it reaches the loops in
//! [`im2col`] (a GEMM whose `B` is packed straight from the input's windows), so a kernel sees
//! only sizes and contiguous slices. A layer packs its weights for that GEMM once, when it is
//! built; the free function packs them per call.

#[cfg(test)] // Until conv2d dispatches depthwise 3x3 layers to it.
mod depthwise;
mod im2col;

use ndarray::{Array1, Array4, ArrayView1, ArrayView4};
use stride_geometry::{GeometryError, Param, Window, check_groups, conv_output};

use super::Activation;
use super::check::{exact_shape, input_channels, output_fits};
use crate::gemm::{Kernel, PackedA};
use crate::{Error, Hw, Padding2d, Result};

const OP: &str = "conv2d";

/// Parameters of a 2-D convolution. The default is PyTorch's: stride 1, padding 0, dilation 1,
/// one group. The builder methods take an int or an `(h, w)` pair, as PyTorch does.
///
/// ```
/// use stride_runtime::{ops::Conv2dParams, Hw, Padding, Padding2d};
///
/// let p = Conv2dParams::default().stride(2).padding(3).dilation((1, 2)).groups(4);
/// assert_eq!(p.stride, Hw([2, 2]));
/// assert_eq!(p.dilation, Hw([1, 2]));
/// assert_eq!(p.padding, Padding2d::from(3));
///
/// // Asymmetric pads (top, bottom, left, right) or a mode such as TensorFlow's SAME:
/// let p = Conv2dParams::default().padding(Padding2d::asymmetric(0, 1, 0, 1));
/// let p = Conv2dParams::default().stride(2).padding(Padding::SameUpper);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Step between window positions.
    pub stride: Hw,
    /// Padding around the input: pads per axis or side, or a mode resolved per input size.
    pub padding: Padding2d,
    /// Spacing between kernel taps.
    pub dilation: Hw,
    /// Channel groups: input and output channels split into `groups` independent
    /// convolutions. `groups == in_channels` is a depthwise convolution.
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: Hw::from(1),
            padding: Padding2d::default(),
            dilation: Hw::from(1),
            groups: 1,
        }
    }
}

impl Conv2dParams {
    /// The same parameters with another stride.
    pub fn stride(self, stride: impl Into<Hw>) -> Self {
        Conv2dParams {
            stride: stride.into(),
            ..self
        }
    }

    /// The same parameters with another padding.
    pub fn padding(self, padding: impl Into<Padding2d>) -> Self {
        Conv2dParams {
            padding: padding.into(),
            ..self
        }
    }

    /// The same parameters with another dilation.
    pub fn dilation(self, dilation: impl Into<Hw>) -> Self {
        Conv2dParams {
            dilation: dilation.into(),
            ..self
        }
    }

    /// The same parameters with another group count.
    pub fn groups(self, groups: usize) -> Self {
        Conv2dParams { groups, ..self }
    }
}

/// Convolves an NCHW input with `weight` of shape `[Cout, Cin/groups, kh, kw]` (PyTorch's
/// layout) and adds an optional `bias` of shape `[Cout]`.
///
/// Refuses, with an [`Error`] that names what was expected and what came: an input whose
/// channel count is not `weight`'s `Cin/groups * groups`, an empty weight, a bias of another
/// length, zero groups or groups that do not divide `Cout`, a zero stride or dilation, `same`
/// padding with a stride above 1, and an output size below 1.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::ops::{conv2d, Conv2dParams};
///
/// // ResNet's stem: 7x7, stride 2, padding 3 takes 224 to 112.
/// let x = Array4::<f32>::zeros((1, 3, 224, 224));
/// let w = Array4::<f32>::zeros((64, 3, 7, 7));
/// let y = conv2d(x.view(), w.view(), None, &Conv2dParams::default().stride(2).padding(3))?;
/// assert_eq!(y.shape(), &[1, 64, 112, 112]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn conv2d(
    x: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &Conv2dParams,
) -> Result<Array4<f32>> {
    check_layer(weight, bias, params)?;
    let geometry = Geometry::resolve(x, weight.dim(), params)?;
    let weight = weight.as_standard_layout();
    let packed = im2col::pack_weights(
        contiguous(weight.as_slice()),
        params.groups,
        weight.dim().0 / params.groups,
    );
    apply(&geometry, x, &packed, bias, Activation::Identity)
}

/// A convolution layer that owns its weight, `[Cout, Cin/groups, kh, kw]`, and optional bias,
/// `[Cout]`, and may apply an activation to its output ([`Conv2d::with_activation`]).
///
/// The layer packs its weight for the matrix multiply once, when it is built, so `forward`
/// allocates only its output.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    weight: Array4<f32>,
    bias: Option<Array1<f32>>,
    params: Conv2dParams,
    activation: Activation,
    /// `weight` as the GEMM's `A`, one per group.
    packed: Vec<PackedA>,
}

impl Conv2d {
    /// A layer with PyTorch's weight layout. Refuses what [`conv2d`] refuses that does not
    /// depend on the input: an empty weight, a bias whose length is not `Cout`, zero groups or
    /// groups that do not divide `Cout`, a zero stride or dilation, and `same` padding with a
    /// stride above 1.
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// use stride_runtime::ops::{Conv2d, Conv2dParams};
    ///
    /// // A depthwise 3x3 box filter on 4 channels, padded to keep the size.
    /// let params = Conv2dParams::default().padding(1).groups(4);
    /// let conv = Conv2d::new(Array4::ones((4, 1, 3, 3)), Some(Array1::zeros(4)), params)?;
    /// assert_eq!((conv.in_channels(), conv.out_channels()), (4, 4));
    ///
    /// let y = conv.forward(Array4::ones((2, 4, 5, 5)).view())?;
    /// assert_eq!(y.shape(), &[2, 4, 5, 5]);
    /// assert_eq!((y[[1, 3, 0, 0]], y[[1, 3, 0, 2]], y[[1, 3, 2, 2]]), (4.0, 6.0, 9.0));
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn new(
        weight: Array4<f32>,
        bias: Option<Array1<f32>>,
        params: Conv2dParams,
    ) -> Result<Self> {
        check_layer(weight.view(), bias.as_ref().map(|b| b.view()), &params)?;
        let weight = if weight.is_standard_layout() {
            weight
        } else {
            weight.as_standard_layout().into_owned()
        };
        let group_out = weight.dim().0 / params.groups;
        let packed = im2col::pack_weights(contiguous(weight.as_slice()), params.groups, group_out);
        Ok(Conv2d {
            weight,
            bias,
            params,
            activation: Activation::Identity,
            packed,
        })
    }

    /// The same layer followed by `activation`, applied as each output value is written
    /// rather than in a second pass over the output.
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// use stride_runtime::ops::{Activation, Conv2d, Conv2dParams};
    ///
    /// // A 1x1 kernel of -1 with bias 1: 1 - x, then ReLU.
    /// let weight = -Array4::ones((1, 1, 1, 1));
    /// let conv = Conv2d::new(weight, Some(Array1::ones(1)), Conv2dParams::default())?
    ///     .with_activation(Activation::Relu);
    /// let x = Array4::from_shape_vec((1, 1, 1, 3), vec![0.0f32, 1.0, 3.0]).unwrap();
    /// assert_eq!(conv.forward(x.view())?.into_raw_vec_and_offset().0, vec![1.0, 0.0, 0.0]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn with_activation(self, activation: Activation) -> Self {
        Conv2d { activation, ..self }
    }

    /// The activation applied to the output ([`Activation::Identity`] unless
    /// [`Conv2d::with_activation`] set one).
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Convolves an NCHW input of [`Conv2d::in_channels`] channels.
    ///
    /// Refuses an input with another channel count, and one too small for the kernel (an
    /// output size below 1), naming the axis.
    ///
    /// ```
    /// use ndarray::Array4;
    /// use stride_runtime::ops::{Conv2d, Conv2dParams};
    ///
    /// let conv = Conv2d::new(Array4::zeros((8, 3, 3, 3)), None, Conv2dParams::default())?;
    /// assert_eq!(conv.forward(Array4::zeros((1, 3, 32, 32)).view())?.shape(), &[1, 8, 30, 30]);
    /// let err = conv.forward(Array4::zeros((1, 3, 2, 32)).view()).unwrap_err();
    /// assert!(err.to_string().starts_with("conv2d: height: output size is 0"));
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        let geometry = Geometry::resolve(x, self.weight.dim(), &self.params)?;
        apply(&geometry, x, &self.packed, self.bias(), self.activation)
    }

    /// Input channels: `Cin/groups * groups`.
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1] * self.params.groups
    }

    /// Output channels, `Cout`.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The weight, `[Cout, Cin/groups, kh, kw]`.
    pub fn weight(&self) -> ArrayView4<'_, f32> {
        self.weight.view()
    }

    /// The bias, `[Cout]`, if the layer has one.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.bias.as_ref().map(|b| b.view())
    }

    /// The stride, padding, dilation and groups.
    pub fn params(&self) -> &Conv2dParams {
        &self.params
    }
}

/// Refuses a weight, bias or parameters with which no input could work: zero groups, an empty
/// weight, groups that do not divide `Cout`, a bias whose length is not `Cout`, a zero stride or
/// dilation, and `same` padding with a stride above 1.
fn check_layer(
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &Conv2dParams,
) -> Result<()> {
    if params.groups == 0 {
        return Err(Error::rule(OP, GeometryError::Zero(Param::Groups)));
    }
    if weight.is_empty() {
        return Err(Error::Shape {
            op: OP,
            tensor: "weight",
            expected: "[Cout, Cin/groups, kh, kw], each at least 1".into(),
            got: weight.shape().to_vec(),
        });
    }
    let (out_channels, group_in, kh, kw) = weight.dim();
    let in_channels = group_in
        .checked_mul(params.groups)
        .ok_or(Error::rule(OP, GeometryError::Overflow))?;
    check_groups(in_channels, out_channels, params.groups).map_err(|e| Error::rule(OP, e))?;
    if let Some(b) = bias {
        exact_shape(OP, "bias", b.shape(), &[out_channels])?;
    }
    // The padding rules that do not depend on the input size (zero stride or dilation, `same`
    // with a stride), checked now by resolving for a 1x1 input; `apply` resolves for the real one.
    let kernel = Hw([kh, kw]);
    params
        .padding
        .resolve(OP, [1, 1], kernel, params.stride, params.dilation)?;
    Ok(())
}

/// Runs the kernel for an input that [`Geometry::resolve`] accepted, with the weight packed
/// by [`im2col::pack_weights`]: the one path behind [`conv2d`] and [`Conv2d::forward`].
fn apply(
    geometry: &Geometry,
    x: ArrayView4<f32>,
    packed: &[PackedA],
    bias: Option<ArrayView1<f32>>,
    activation: Activation,
) -> Result<Array4<f32>> {
    let x = x.as_standard_layout();
    let bias = bias.as_ref().map(|b| b.as_standard_layout());
    // Every element is written by the kernel, so the zeros are never read; `zeros` is
    // calloc, whose fresh pages cost nothing until written.
    let mut y = Array4::zeros(geometry.output_shape());
    im2col::conv2d(
        Kernel::detect(),
        geometry,
        contiguous(x.as_slice()),
        packed,
        bias.as_ref().map(|b| contiguous(b.as_slice())),
        activation,
        contiguous(y.as_slice_mut()),
    );
    Ok(y)
}

/// The slice of an array in standard layout, which always has one.
fn contiguous<T>(slice: Option<T>) -> T {
    slice.expect("an array in standard layout is contiguous")
}

/// A convolution resolved for one input: the sizes a kernel needs, all checked, with the
/// padding turned into numbers. Tensors are NCHW and contiguous; the weight is
/// `[groups * group_out, group_in, kh, kw]`.
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
    /// The height and width windows (kernel, stride, dilation, resolved pads).
    windows: [Window; 2],
    /// Output height and width, at least 1.
    output: [usize; 2],
}

impl Geometry {
    /// Checks `x` against a layer that [`check_layer`] accepted and resolves its padding and
    /// output size.
    fn resolve(
        x: ArrayView4<f32>,
        weight: (usize, usize, usize, usize),
        params: &Conv2dParams,
    ) -> Result<Self> {
        let (out_channels, group_in, kh, kw) = weight;
        let groups = params.groups;
        input_channels(OP, &x, group_in * groups)?;
        let (batch, _, h, w) = x.dim();
        let kernel = Hw([kh, kw]);
        let pads = params
            .padding
            .resolve(OP, [h, w], kernel, params.stride, params.dilation)?;
        let windows = [0, 1].map(|axis| {
            pads[axis].apply(
                Window::new(kernel.0[axis])
                    .stride(params.stride.0[axis])
                    .dilation(params.dilation.0[axis]),
            )
        });
        let output_size = |axis: usize| {
            conv_output([h, w][axis], windows[axis]).map_err(|e| Error::geometry(OP, axis, e))
        };
        let output = [output_size(0)?, output_size(1)?];
        output_fits(OP, &[batch, out_channels, output[0], output[1]])?;
        Ok(Geometry {
            batch,
            groups,
            group_in,
            group_out: out_channels / groups,
            input: [h, w],
            windows,
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

    /// Kernel taps per output channel: `Cin/groups * kh * kw`, the rows of im2col's matrix.
    fn patch_len(&self) -> usize {
        self.group_in * self.windows[0].kernel * self.windows[1].kernel
    }

    /// A 1x1 kernel with stride 1 and no padding: the input already is im2col's matrix.
    fn is_pointwise(&self) -> bool {
        self.windows
            .iter()
            .all(|w| w.kernel == 1 && w.stride == 1 && w.pad_begin == 0 && w.pad_end == 0)
    }
}

#[cfg(test)]
mod tests;
