//! 2-D transposed convolution, as PyTorch's `ConvTranspose2d`: stride, padding,
//! output_padding, dilation, groups and an optional bias, for any batch size.
//!
//! Each input pixel scatters a copy of the kernel, scaled by its value, into the output at
//! `stride` steps; `padding` then crops that many rows and columns from both ends and
//! `output_padding` adds to the bottom and right end only (to pick one of the input sizes a
//! strided convolution maps to the same output size).
//!
//! This file holds the parameters and their rules, the layer and the choice of kernel
//! ([`Method::choose`]); what the layer shares with the convolution (its fields, the checks of
//! a weight and bias, the resolution of an input into a [`Geometry`]) is in
//! `ops/conv_layer.rs`, which calls this file's rules through [`ConvParams`]. The loops live
//! in [`shuffle`] (a kernel that tiles the output: one GEMM and a pixel shuffle),
//! [`subpixel`] (most other strided layers: one small convolution per output phase) and
//! [`col2im`] (the others: a GEMM and a scatter-add).

mod col2im;
mod shuffle;
mod subpixel;

use ndarray::{Array1, Array4, ArrayView1, ArrayView4};
use stride_geometry::{TransposedAxis, conv_transpose_output};

use super::check::contiguous;
use super::conv_layer::{ConvLayer, ConvParams, Geometry, check_layer, with_slices};
use crate::gemm::PackedA;
use crate::simd::{Activation, Isa};
use crate::{Error, Hw, Result, memory};

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

/// The three ways to compute a transposed convolution. [`Method::choose`] picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// One GEMM per group, its products shuffled into the output ([`shuffle`]), for a kernel
    /// that tiles the output.
    Shuffle,
    /// One ordinary convolution per output phase ([`subpixel`]): every output written once,
    /// no intermediate matrix.
    SubPixel,
    /// A GEMM into a `[Cout/g * kh * kw, H * W]` matrix, then a scatter-add of it into the
    /// output ([`col2im`]).
    Col2im,
}

impl Method {
    /// The pixel shuffle when the kernel tiles the output ([`shuffle::tiles`]: kernel equal
    /// to stride, no dilation, padding or output padding); else the sub-pixel decomposition
    /// when either stride is above 1 and the layer has more than a quarter as many output
    /// channels as input channels per group; GEMM + col2im otherwise. `shape` is the
    /// weight's, `[Cin, Cout/groups, kh, kw]`.
    ///
    /// Sub-pixel and col2im run the same multiply-adds; what differs is the traffic around them. Sub-pixel
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
    ///
    /// The shuffle computes sub-pixel's products in one GEMM over an unpacked input, without
    /// col2im's matrix pass: 1.2x faster than sub-pixel on U-Net's 2x2/2 decoder layers
    /// ([`shuffle`]'s docs give the figures).
    ///
    /// Neither of the others grows with the stride: sub-pixel keeps a phase only for the
    /// residues some tap feeds (at most the kernel's size), so its packed weight holds the
    /// weight's values once whatever the stride, and col2im's matrix is bounded by its block
    /// size.
    fn choose(params: &ConvTranspose2dParams, shape: (usize, usize, usize, usize)) -> Method {
        let (in_channels, group_out, kh, kw) = shape;
        let group_in = in_channels / params.groups;
        let strided = params.stride.0.iter().any(|&s| s > 1);
        if shuffle::tiles(&[params.axis(0, kh), params.axis(1, kw)]) {
            Method::Shuffle
        } else if strided && 4 * group_out > group_in {
            Method::SubPixel
        } else {
            Method::Col2im
        }
    }
}

/// A weight packed for the kernel [`Method::choose`] picked.
#[derive(Debug, Clone, PartialEq)]
enum Packed {
    /// One `A` per group, as col2im packs it.
    Shuffle(Vec<PackedA>),
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
        let group_in = in_channels / params.groups;
        match Method::choose(params, shape) {
            Method::Shuffle => {
                Packed::Shuffle(col2im::pack_weights(weight, params.groups, group_in))
            }
            Method::SubPixel => {
                let axes = [params.axis(0, kh), params.axis(1, kw)];
                Packed::SubPixel(subpixel::pack_weights(weight, shape, params.groups, axes))
            }
            Method::Col2im => Packed::Col2im(col2im::pack_weights(weight, params.groups, group_in)),
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
    layer: ConvLayer<ConvTranspose2dParams>,
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
        let layer = ConvLayer::new(weight, bias, params)?;
        let packed = Packed::new(layer.weight_slice(), layer.weight().dim(), &params);
        Ok(ConvTranspose2d { layer, packed })
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
        ConvTranspose2d {
            layer: self.layer.with_activation(activation),
            ..self
        }
    }

    /// The activation applied to the output ([`Activation::Identity`] unless
    /// [`ConvTranspose2d::with_activation`] set one).
    pub fn activation(&self) -> Activation {
        self.layer.activation()
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
        let geometry = self.layer.resolve(x)?;
        apply(&geometry, x, &self.packed, self.bias(), self.activation())
    }

    /// Input channels, `Cin`.
    pub fn in_channels(&self) -> usize {
        self.layer.channels().0
    }

    /// Output channels: `Cout/groups * groups`.
    pub fn out_channels(&self) -> usize {
        self.layer.channels().1
    }

    /// The weight, `[Cin, Cout/groups, kh, kw]`.
    pub fn weight(&self) -> ArrayView4<'_, f32> {
        self.layer.weight()
    }

    /// The bias, `[Cout]`, if the layer has one.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.layer.bias()
    }

    /// The stride, padding, output padding, dilation and groups.
    pub fn params(&self) -> &ConvTranspose2dParams {
        self.layer.params()
    }
}

/// A transposed convolution's rules for the shared layer shell: the weight is `[Cin,
/// Cout/groups, kh, kw]`, and each axis is a [`TransposedAxis`] whatever the input.
impl ConvParams for ConvTranspose2dParams {
    const OP: &'static str = OP;
    const WEIGHT: &'static str = "[Cin, Cout/groups, kh, kw]";
    type Axis = TransposedAxis;

    fn groups(&self) -> usize {
        self.groups
    }

    fn channels(&self, [in_channels, group_out]: [usize; 2]) -> Option<(usize, usize)> {
        Some((in_channels, group_out.checked_mul(self.groups)?))
    }

    /// A zero stride or dilation, and an `output_padding` not smaller than the stride or the
    /// dilation.
    fn check(&self, kernel: Hw) -> Result<()> {
        for (axis, kernel) in kernel.0.into_iter().enumerate() {
            self.axis(axis, kernel)
                .check()
                .map_err(|e| Error::geometry(OP, axis, e))?;
        }
        Ok(())
    }

    /// The axes, and the output sizes: refuses one below 1 (a padding that crops the whole
    /// output).
    fn resolve(&self, input: [usize; 2], kernel: Hw) -> Result<([TransposedAxis; 2], [usize; 2])> {
        let axes = [0, 1].map(|axis| self.axis(axis, kernel.0[axis]));
        let output_size = |axis: usize| {
            conv_transpose_output(input[axis], axes[axis]).map_err(|e| Error::geometry(OP, axis, e))
        };
        Ok((axes, [output_size(0)?, output_size(1)?]))
    }
}

/// Runs the kernel for an input that [`Geometry::resolve`] accepted, with the weight packed
/// by [`Packed::new`]: the one path behind [`conv_transpose2d`] and
/// [`ConvTranspose2d::forward`]. Refuses an output or a copy of the input that cannot be
/// allocated.
fn apply(
    geometry: &Geometry<TransposedAxis>,
    x: ArrayView4<f32>,
    packed: &Packed,
    bias: Option<ArrayView1<f32>>,
    activation: Activation,
) -> Result<Array4<f32>> {
    // `zeros` is calloc, whose fresh pages cost nothing until written: the shuffle and
    // sub-pixel kernels write every element, col2im adds into the zeros.
    let mut y = memory::zeros(OP, "output", ndarray::Dim(geometry.output_shape()))?;
    with_slices(OP, x, bias, |x, bias| {
        let out = contiguous(y.as_slice_mut());
        match packed {
            Packed::Shuffle(weights) => {
                let isa = Isa::detect();
                shuffle::conv_transpose2d(isa, geometry, x, weights, bias, activation, out);
                Ok(())
            }
            Packed::SubPixel(weights) => {
                let isa = Isa::detect();
                let zeroed = true; // from `memory::zeros`
                subpixel::conv_transpose2d(
                    isa, geometry, x, weights, bias, activation, out, zeroed,
                );
                Ok(())
            }
            Packed::Col2im(weights) => {
                col2im::conv_transpose2d(OP, geometry, x, weights, bias, out)?;
                // The scatter-add finishes each value only at its end: a pass after.
                activation.apply_in_place(y.view_mut());
                Ok(())
            }
        }
    })??;
    Ok(y)
}

#[cfg(test)]
mod tests;
