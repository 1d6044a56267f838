//! What a convolution and a transposed convolution share, written once: the layer's weight,
//! bias, parameters and activation ([`ConvLayer`]), the refusal of a layer no input could work
//! with ([`check_layer`]), and an input resolved into the sizes a kernel needs
//! ([`Geometry`]).
//!
//! What differs between the two (which side of the weight is the input, the padding rules,
//! the output-size formula) each says through [`ConvParams`], which its params type
//! implements in `conv2d/mod.rs` and `conv_transpose2d/mod.rs`. Which kernel runs, and the
//! weight prepared for it, stay with each layer, next to its decision table.

use std::fmt::Debug;

use ndarray::{Array1, Array4, ArrayView1, ArrayView4};
use stride_geometry::{GeometryError, Param, TransposedAxis, Window, check_groups};

use super::check::{contiguous, exact_shape, input_channels};
use crate::simd::Activation;
use crate::{Error, Hw, Result, memory};

/// The rules of one kind of convolution, implemented by its params type.
pub(crate) trait ConvParams: Copy + PartialEq + Debug {
    /// The op's name, as errors give it.
    const OP: &'static str;
    /// The weight's layout, as errors give it: `"[Cout, Cin/groups, kh, kw]"`.
    const WEIGHT: &'static str;
    /// One spatial axis resolved for an input.
    type Axis: Copy + PartialEq + Eq + Debug;

    /// The channel groups.
    fn groups(&self) -> usize;

    /// The input and output channels of a weight whose first two dimensions are `weight`,
    /// `None` when they do not fit in `usize`.
    fn channels(&self, weight: [usize; 2]) -> Option<(usize, usize)>;

    /// Refuses, naming the axis, what no input size could make work with a `kernel`-sized
    /// weight.
    fn check(&self, kernel: Hw) -> Result<()>;

    /// The axes for an input of `input` (height, width) and a `kernel`-sized weight, and the
    /// output size along each, or a refusal naming the axis.
    fn resolve(&self, input: [usize; 2], kernel: Hw) -> Result<([Self::Axis; 2], [usize; 2])>;
}

/// Refuses a weight, bias or parameters with which no input could work, in this order: zero
/// groups, an empty weight, channel counts that overflow, groups that do not divide either
/// channel count, a bias whose length is not the output channels, and what
/// [`ConvParams::check`] refuses.
pub(crate) fn check_layer<P: ConvParams>(
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &P,
) -> Result<()> {
    if params.groups() == 0 {
        return Err(Error::rule(P::OP, GeometryError::Zero(Param::Groups)));
    }
    if weight.is_empty() {
        return Err(Error::Shape {
            op: P::OP,
            tensor: "weight",
            expected: format!("{}, each at least 1", P::WEIGHT),
            got: weight.shape().to_vec(),
        });
    }
    let (d0, d1, kh, kw) = weight.dim();
    let (in_channels, out_channels) = params
        .channels([d0, d1])
        .ok_or(Error::rule(P::OP, GeometryError::Overflow))?;
    check_groups(in_channels, out_channels, params.groups()).map_err(|e| Error::rule(P::OP, e))?;
    if let Some(b) = bias {
        exact_shape(P::OP, "bias", b.shape(), &[out_channels])?;
    }
    params.check(Hw([kh, kw]))
}

/// A convolution layer's own values, whichever kind: its weight (in standard layout), bias,
/// parameters and the activation it applies to its output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConvLayer<P> {
    weight: Array4<f32>,
    bias: Option<Array1<f32>>,
    params: P,
    activation: Activation,
}

impl<P: ConvParams> ConvLayer<P> {
    /// A layer without activation, after [`check_layer`].
    pub(crate) fn new(weight: Array4<f32>, bias: Option<Array1<f32>>, params: P) -> Result<Self> {
        check_layer(weight.view(), bias.as_ref().map(|b| b.view()), &params)?;
        let weight = if weight.is_standard_layout() {
            weight
        } else {
            weight.as_standard_layout().into_owned()
        };
        Ok(ConvLayer {
            weight,
            bias,
            params,
            activation: Activation::Identity,
        })
    }

    /// The same layer followed by `activation`.
    pub(crate) fn with_activation(self, activation: Activation) -> Self {
        ConvLayer { activation, ..self }
    }

    /// Checks `x` against the layer and resolves its sizes.
    pub(crate) fn resolve(&self, x: ArrayView4<f32>) -> Result<Geometry<P::Axis>> {
        Geometry::resolve(x, self.weight.dim(), &self.params)
    }

    /// The weight.
    pub(crate) fn weight(&self) -> ArrayView4<'_, f32> {
        self.weight.view()
    }

    /// The weight's values, in standard layout.
    pub(crate) fn weight_slice(&self) -> &[f32] {
        contiguous(self.weight.as_slice())
    }

    /// The bias, if the layer has one.
    pub(crate) fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.bias.as_ref().map(|b| b.view())
    }

    /// The parameters.
    pub(crate) fn params(&self) -> &P {
        &self.params
    }

    /// The activation applied to the output.
    pub(crate) fn activation(&self) -> Activation {
        self.activation
    }

    /// Input and output channels.
    pub(crate) fn channels(&self) -> (usize, usize) {
        let (d0, d1, _, _) = self.weight.dim();
        self.params
            .channels([d0, d1])
            .expect("the layer's channels were checked when it was built")
    }
}

/// Runs `kernel` on `x` and `bias` as contiguous slices, copied to the standard layout first
/// where they are not in it: how both convolutions hand an input to their kernels. Refuses,
/// naming `op`, a copy of the input too large to allocate (of a broadcast view, say).
pub(crate) fn with_slices<R>(
    op: &'static str,
    x: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    kernel: impl FnOnce(&[f32], Option<&[f32]>) -> R,
) -> Result<R> {
    let x = memory::standard_layout(op, "input copy", x)?;
    let bias = bias.as_ref().map(|b| b.as_standard_layout());
    let bias = bias.as_ref().map(|b| contiguous(b.as_slice()));
    Ok(kernel(contiguous(x.as_slice()), bias))
}

/// A convolution resolved for one input: the sizes a kernel needs, all checked, with each
/// spatial axis resolved (a [`Window`] with its pads in numbers for a convolution, a
/// [`TransposedAxis`] for a transposed one). Tensors are NCHW and contiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry<A> {
    /// Samples, `N`.
    pub batch: usize,
    /// Channel groups.
    pub groups: usize,
    /// Input channels per group, `Cin/groups`.
    pub group_in: usize,
    /// Output channels per group, `Cout/groups`.
    pub group_out: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// The height and width axes.
    pub axes: [A; 2],
    /// Output height and width, at least 1.
    pub output: [usize; 2],
}

impl<A: Copy> Geometry<A> {
    /// Checks `x` against a layer that [`check_layer`] accepted, with a weight of shape
    /// `weight`, and resolves its axes and output size. Refuses an input with another channel
    /// count, what [`ConvParams::resolve`] refuses, and an output too large to allocate.
    pub(crate) fn resolve<P: ConvParams<Axis = A>>(
        x: ArrayView4<f32>,
        weight: (usize, usize, usize, usize),
        params: &P,
    ) -> Result<Self> {
        let (d0, d1, kh, kw) = weight;
        let (in_channels, out_channels) = params
            .channels([d0, d1])
            .expect("a weight that check_layer accepted");
        input_channels(P::OP, &x, in_channels)?;
        let (batch, _, h, w) = x.dim();
        let (axes, output) = params.resolve([h, w], Hw([kh, kw]))?;
        memory::check::<f32>(
            P::OP,
            "output",
            &[batch, out_channels, output[0], output[1]],
        )?;
        let groups = params.groups();
        Ok(Geometry {
            batch,
            groups,
            group_in: in_channels / groups,
            group_out: out_channels / groups,
            input: [h, w],
            axes,
            output,
        })
    }

    /// `[N, Cout, OH, OW]`.
    pub(crate) fn output_shape(&self) -> [usize; 4] {
        [
            self.batch,
            self.groups * self.group_out,
            self.output[0],
            self.output[1],
        ]
    }

    /// Elements of the input.
    pub(crate) fn input_len(&self) -> usize {
        self.batch * self.groups * self.group_in * self.input[0] * self.input[1]
    }

    /// Elements of the output.
    pub(crate) fn output_len(&self) -> usize {
        self.output_shape().iter().product()
    }
}

/// A convolution's sizes.
impl Geometry<Window> {
    /// Kernel taps per output channel: `Cin/groups * kh * kw`, the rows of im2col's matrix.
    pub(crate) fn patch_len(&self) -> usize {
        self.group_in * self.axes[0].kernel * self.axes[1].kernel
    }

    /// A 1x1 kernel with stride 1 and no padding: the input already is im2col's matrix.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.axes
            .iter()
            .all(|w| w.kernel == 1 && w.stride == 1 && w.pad_begin == 0 && w.pad_end == 0)
    }
}

/// A transposed convolution's sizes.
impl Geometry<TransposedAxis> {
    /// Outputs each input pixel feeds per group: `Cout/groups * kh * kw`, the rows of the
    /// matrix col2im scatters.
    pub(crate) fn patch_len(&self) -> usize {
        self.group_out * self.axes[0].kernel * self.axes[1].kernel
    }
}
