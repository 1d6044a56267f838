//! 2-D convolution, as PyTorch's `Conv2d`: stride, padding (explicit, asymmetric or a mode),
//! dilation, groups (depthwise included) and an optional bias, for any batch size.
//!
//! This file holds the parameters and their rules, the layer and the choice of kernel. What
//! the layer shares with the transposed convolution (its fields, the checks of a weight and
//! bias, the resolution of an input) is in `ops/conv_layer.rs`, which calls this file's rules
//! through [`ConvParams`]. A call is resolved into a [`Geometry`] (every size checked,
//! padding turned into numbers) before it reaches a kernel, so a kernel sees only sizes and
//! contiguous slices. Which kernel runs is decided by shape class in one place,
//! [`Algorithm`]:
//!
//! | class | kernel |
//! |---|---|
//! | depthwise (`groups == Cin > 1`, one input channel per group, `Cout = m * Cin`), any kernel, stride, padding and dilation | [`depthwise`]: direct, 8 channels a vector |
//! | grouped (more than one group, more than one input channel per group), any kernel, stride, padding and dilation | [`grouped`]: direct, a group's output channels times a run of pixels in registers |
//! | one group of at most [`FEW_CHANNELS`] input channels (a network's stem), any kernel but 1x1 at stride 1, any stride, padding and dilation; or of at most [`DIRECT_CHANNELS`], a kernel wider than 1x1 that Winograd does not take (strided, dilated, 5x5, 7x7); on AVX-512 and the portable path, not on AVX2 ([below](#on-avx2)) | [`grouped`], as one group: see [below](#few-input-channels) |
//! | 3x3, stride 1, dilation 1, one group, 8 or more input channels | [`winograd`]: F(4x4, 3x3) over 36 GEMMs, on inputs where it pays ([`winograd::pays`]); else im2col |
//! | 1x1, stride 1, no padding, at most [`pointwise::MAX_CHANNELS`] input channels, on AVX-512 | [`pointwise`]: the GEMM's tile on the input planes, `K` in one pass |
//! | 1x1, stride 1, no padding | [`im2col`]'s GEMM on the input planes as they are |
//! | everything else | [`im2col`]: a GEMM whose `B` is packed straight from the input's windows |
//!
//! A layer prepares its weights for its kernel once, when it is built (Winograd's transform,
//! the GEMM's packed panels); the free function prepares them per call.
//!
//! In a network, a 1x1 expansion and the depthwise layer after it run as one step, a band of
//! output rows at a time, where the expanded map would be far larger than the L2
//! ([`inverted`]: MobileNetV2's and EfficientNet's first inverted residual blocks); so do a
//! stem on the direct kernel and the max pool after it ([`pooled`]: ResNet's, GoogLeNet's and
//! DenseNet's).
//!
//! # Few input channels
//!
//! A network's first convolution reads 3 channels (ResNet's 7x7/2 to 64, MobileNet's and
//! EfficientNet's 3x3/2 to 32 or 16, ConvNeXt's 4x4/4 to 96). As a GEMM, `K = Cin * kh * kw`
//! is 27 to 147: the micro-kernel's K-loop is short, its writes of `C` dominate, and packing
//! `B` from the windows (`kh * kw` copies of the input) took 10-30% of the layer. The grouped
//! kernel's design fits these layers as they are: output channels broadcast from packed
//! weights against runs of output pixels across the vector (16 a zmm), over a copy of the
//! input split into stride phases, which is the input's size, not `kh * kw` times it; so one
//! group of few channels goes there, and nothing is written twice.
//!
//! The other layout, output channels across the vector and input values broadcast (ORT's
//! NCHWc kernel), loads and multiplies the same per step (a tile of 8 rows × 3 vectors reads
//! 3 vectors and 8 broadcasts per 24 FMAs; 4 channel vectors × 6 pixels read 4 and 6), needs
//! no stride phases, but writes 16 channels of a pixel per vector: into NCHW that is a
//! transpose of every tile, and the padding has to be made per pixel. Pixels across the vector
//! write NCHW rows as they are, so that is the layout kept. (This comparison is by count: the
//! other layout was not built and timed here.)
//!
//! Measured with `bench/compare.sh --suite FILE --threads 1,2` on a file of the stems and
//! sizes of our own (ONNX Runtime 1.32 side by side on a 2-vCPU Zen 5 with AVX-512, shared
//! with other builds; ort/ours at 1 and 2 threads, im2col before in brackets where measured):
//! `resnet_stem_conv7x7s2` 0.95 and 0.94 (0.71, 0.76), MobileNetV2's 3x3/2 3 → 32 at 224 0.91
//! and 0.87 (0.58, 0.60), MobileNetV3's 3 → 16 1.00 and 1.08 (0.60, 0.57), ConvNeXt's 4x4/4
//! 0.85 and 0.79 (0.67, 0.63); off the zoo, 3 → 24 3x3/2 at 256x320 1.20 and 1.33 (0.74),
//! 1 → 32 5x5 at 96 1.35 and 1.23 (0.78), 4 → 64 7x7/2 0.97 and 0.94 (0.66), 3 → 32 3x3
//! dilated 2 at 128 1.34 and 1.25 (0.74), 4 → 32 3x3 at 112 1.07 and 1.02 (0.62), the ResNet
//! and ConvNeXt stems at batch 8 1.09 and 1.06, 1.12 and 0.85. The kernel's own 1 → 2 thread
//! speed-up on the three zoo stems is 1.9x (1.03 → 0.53 ms, 0.142 → 0.075, 0.172 → 0.091);
//! results do not depend on the cut into tasks (a test compares the bits). `perf` on the ResNet
//! stem: 90% of the time in the tile's multiply-adds, at about 89% of the FMA peak (it reads
//! 3 vectors, 8 broadcasts and an offset per 24 FMAs, close to the two vector loads a cycle);
//! on MobileNetV2's, whose `K` is 27, the copy of the finished tiles into the output is 10%.
//!
//! The cut at [`FEW_CHANNELS`] = 8: 3x3 at stride 1 on 112x112 with 8 input channels is 0.73
//! on Winograd and 1.05 here, with 16 1.16 on Winograd and 0.97 here. The direct kernel was
//! also ahead of im2col for every 3x3/2 and 5x5 tried with 8 to 64 input channels (3x3/2
//! 8 → 32 at 112 0.58 → 0.85, 16 → 64 0.72 → 0.86, 64 → 128 at 56 0.76 → 0.86; 5x5 32 → 64
//! at 28 0.69 → 0.96).
//!
//! Those layers now go direct too, up to [`DIRECT_CHANNELS`] = 64 input channels, where the
//! kernel is wider than 1x1 and Winograd does not take it. The direct kernel against im2col,
//! one build choosing by an environment variable (since removed), `cargo bench --bench layers
//! -- --suite FILE --threads 1,2`, Zen 5, ms at one thread (two runs agreed within 2%):
//!
//! | layer | input channels | im2col | direct |
//! |---|---:|---:|---:|
//! | 5x5 16 → 32 at 28 | 16 | 0.144 | 0.095 |
//! | 3x3/2 32 → 64 at 112 | 32 | 0.69 | 0.58 |
//! | 5x5/2 24 → 48 at 56 | 24 | 0.30 | 0.22 |
//! | 5x5 48 → 128 at 14 | 48 | 0.34 | 0.31 |
//! | 3x3/2 64 → 128 at 56 | 64 | 0.61 | 0.56 |
//! | 5x5 64 → 128 at 28 | 64 | 1.56 | 1.43 |
//! | 7x7 64 → 64 at 56 | 64 | 6.41 | 5.48 |
//! | 3x3/2 128 → 256 at 28 | 128 | 0.58 | 0.59 |
//! | 3x3 dilated 2, 256 at 28 | 256 | 4.09 | 4.18 |
//! | 3x3/2 256 at 28 | 256 | 1.16 | 1.28 |
//! | 3x3/2 512 at 14 | 512 | 1.14 | 1.31 |
//!
//! The direct kernel walks every input channel's taps for each tile, the GEMM blocks `K`
//! for its caches: level at 128 channels, behind from 256, so the cut is 64. At two threads
//! the same layers ranked the same way but for 3x3/2 at 256 (0.63 im2col, 0.59 direct) and
//! 5x5 48 → 128 (0.19 and 0.20).
//!
//! # On Zen 4
//!
//! Where a zmm operation runs as two 256-bit halves (AMD's Zen 4: one zmm multiply-add a
//! cycle), the direct kernel takes those layers up to [`DIRECT_CHANNELS_HALVED`] = 128 input
//! channels. One build against another with the cut at 64, `cargo bench --bench layers --
//! --suite benches/layers_more.json --threads 1,2` (`layers.json` for the first), four
//! alternated runs each, ms on a 2-vCPU AMD EPYC Zen 4, im2col → direct, at one thread and
//! then at two: `resnet_conv3x3s2_128_28` 1.21-1.34 → 1.08-1.19 and 0.73-1.29 → 0.62-0.65;
//! ResNet-50's 3x3/2 128 at 56 2.48-2.77 → 2.28-2.48 and 1.41-1.61 → 1.22-1.30; 5x5 128 at
//! 14 1.80-1.88 → 1.49-1.60 and 0.98-1.11 → 0.80-0.85; 3x3/2 96 → 192 at 56 2.70-2.86 →
//! 2.44-2.71 and 1.46-1.59 → 1.33-1.45; 5x5 96 at 28 3.82-4.02 → 3.35-3.43 and 2.10-2.33 →
//! 1.88-2.18; 3x3 dilated 2, 128 at 28, 2.40-2.57 → 2.18-2.33 and 1.29-1.36 → 1.20-1.30;
//! 3x3/2 128 → 256 at 28, batch 8, 9.97-11.3 → 9.0-10.3 and 5.52-5.87 → 4.79-5.11. From 256
//! channels im2col stayed ahead there as well (all cuts at 4096 in one build: the dilated 256
//! at 28 8.97-9.57 → 9.72-11.6 ms, 3x3/2 512 at 14 2.58-2.72 → 2.90-5.84). On the Zen 5 of
//! the table above 128 channels were level, so the cut elsewhere stays at 64.
//!
//! # On AVX2
//!
//! Where the CPU has AVX2 and not AVX-512 (or `STRIDE_ISA=avx2` asks for it), one-group
//! layers do not go to the direct kernel: im2col and Winograd were ahead on every such layer
//! tried, by 1.05 to 2.6 times ([`direct_pays`] has the figures). Grouped layers keep the
//! direct kernel on every path.

mod depthwise;
mod grouped;
mod im2col;
mod inverted;
mod pointwise;
mod pooled;
mod shared;
mod winograd;

use std::sync::OnceLock;

use ndarray::{Array1, Array4, ArrayView1, ArrayView4};
use stride_geometry::{Window, conv_output};

use super::check::contiguous;
use super::conv_layer::{ConvLayer, ConvParams, Geometry, check_layer, with_slices};
use crate::gemm::{Epilogue, PackedA, gemv};
use crate::simd::{Activation, Isa};
use crate::{Error, Hw, Padding2d, Result, memory};

const OP: &str = "conv2d";

/// Most input channels of a one-group convolution that goes to the direct kernel
/// ([`grouped`], as one group) rather than to im2col or Winograd: a network's stem, which
/// reads 3 (see [the module docs](self#few-input-channels) for the cut).
const FEW_CHANNELS: usize = 8;

/// Most input channels of a one-group convolution with a kernel wider than 1x1 that
/// Winograd does not take (a stride, a dilation, 5x5, 7x7) that goes to the direct kernel
/// rather than to im2col (see [the module docs](self#few-input-channels) for the cut); on
/// Zen 4, [`DIRECT_CHANNELS_HALVED`] ([`direct_channels`]).
const DIRECT_CHANNELS: usize = 64;

/// [`DIRECT_CHANNELS`] where a zmm operation runs in two halves (Zen 4: see
/// [the module docs](self#on-zen-4)).
const DIRECT_CHANNELS_HALVED: usize = 128;

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
    let algorithm =
        Algorithm::for_layer(Isa::detect(), weight.dim(), params).for_input(&geometry, x);
    let weight = weight.as_standard_layout();
    let weight = contiguous(weight.as_slice());
    let (winograd, packed, grouped);
    let prepared = match algorithm {
        Algorithm::Depthwise => Prepared::Depthwise(weight),
        Algorithm::Grouped => {
            grouped = grouped::Weights::new(weight, params.groups, geometry.group_out);
            Prepared::Grouped(&grouped)
        }
        Algorithm::Gemv => Prepared::Gemv(weight),
        Algorithm::Winograd => {
            winograd = winograd::Weights::new(weight, geometry.group_out, geometry.group_in);
            Prepared::Winograd(&winograd)
        }
        Algorithm::Im2col => {
            packed = im2col::pack_weights(weight, params.groups, geometry.group_out);
            Prepared::Im2col(&packed)
        }
    };
    apply(&geometry, x, prepared, bias, Activation::Identity)
}

/// A convolution layer that owns its weight, `[Cout, Cin/groups, kh, kw]`, and optional bias,
/// `[Cout]`, and may apply an activation to its output ([`Conv2d::with_activation`]).
///
/// The layer picks its kernel by shape (direct kernels for depthwise and grouped layers and
/// for few input channels, Winograd for 3x3 with stride 1, a GEMM for the rest) and prepares its weight for it once, when it is built,
/// so `forward` allocates only its output.
#[derive(Debug, Clone)]
pub struct Conv2d {
    layer: ConvLayer<Conv2dParams>,
    algorithm: Algorithm,
    /// Winograd's transformed weight, for a [`Algorithm::Winograd`] layer.
    winograd: Option<winograd::Weights>,
    /// The weight packed for [`grouped`], for a [`Algorithm::Grouped`] layer.
    grouped: Option<grouped::Weights>,
    /// `weight` as im2col's GEMM `A`, one per group: packed when an [`Algorithm::Im2col`]
    /// layer is built, and when a Winograd layer first meets an input too small for
    /// Winograd.
    im2col: OnceLock<Vec<PackedA>>,
}

/// Two layers are equal when they compute the same thing: the prepared weights follow from
/// the rest (and a lazily packed one may exist in one and not yet in the other).
impl PartialEq for Conv2d {
    fn eq(&self, other: &Self) -> bool {
        self.layer == other.layer && self.algorithm == other.algorithm
    }
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
        let layer = ConvLayer::new(weight, bias, params)?;
        let algorithm = Algorithm::for_layer(Isa::detect(), layer.weight().dim(), &params);
        Ok(Conv2d {
            layer,
            algorithm: Algorithm::Im2col,
            winograd: None,
            grouped: None,
            im2col: OnceLock::new(),
        }
        .with_algorithm(algorithm))
    }

    /// The same layer computed by `algorithm`, with its weight prepared for it: how tests
    /// compare the kernels on the same weights.
    ///
    /// Panics unless `algorithm` is the layer's own class on this CPU or on the portable
    /// path (the direct kernel where AVX2 takes im2col), or im2col, which computes any layer.
    pub(crate) fn with_algorithm(self, algorithm: Algorithm) -> Self {
        let params = self.params();
        let dim = self.weight().dim();
        assert!(
            algorithm == Algorithm::Im2col
                || [Isa::detect(), Isa::Scalar]
                    .into_iter()
                    .any(|isa| algorithm == Algorithm::for_layer(isa, dim, params)),
            "{algorithm:?} does not compute this layer"
        );
        let (cout, cin, _, _) = self.weight().dim();
        let weight = self.layer.weight_slice();
        let winograd =
            (algorithm == Algorithm::Winograd).then(|| winograd::Weights::new(weight, cout, cin));
        let grouped = (algorithm == Algorithm::Grouped)
            .then(|| grouped::Weights::new(weight, params.groups, cout / params.groups));
        let im2col = OnceLock::new();
        if algorithm == Algorithm::Im2col {
            let packed = im2col::pack_weights(weight, params.groups, cout / params.groups);
            im2col.set(packed).expect("a new cell is empty");
        }
        Conv2d {
            algorithm,
            winograd,
            grouped,
            im2col,
            ..self
        }
    }

    /// The GEMM's packed weight, packed now if this is its first use.
    fn im2col_weights(&self) -> &[PackedA] {
        self.im2col.get_or_init(|| {
            let groups = self.params().groups;
            let weight = self.layer.weight_slice();
            im2col::pack_weights(weight, groups, self.out_channels() / groups)
        })
    }

    /// The weight packed for [`grouped`], which a grouped layer packs when it is built.
    fn grouped_weights(&self) -> &grouped::Weights {
        self.grouped
            .as_ref()
            .expect("a grouped layer has its packed weight")
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
        Conv2d {
            layer: self.layer.with_activation(activation),
            ..self
        }
    }

    /// The activation applied to the output ([`Activation::Identity`] unless
    /// [`Conv2d::with_activation`] set one).
    pub fn activation(&self) -> Activation {
        self.layer.activation()
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
        let geometry = self.layer.resolve(x)?;
        let prepared = match self.algorithm.for_input(&geometry, x) {
            Algorithm::Depthwise => Prepared::Depthwise(self.layer.weight_slice()),
            Algorithm::Gemv => Prepared::Gemv(self.layer.weight_slice()),
            Algorithm::Winograd => Prepared::Winograd(
                self.winograd
                    .as_ref()
                    .expect("a Winograd layer has its transformed weight"),
            ),
            Algorithm::Grouped => Prepared::Grouped(self.grouped_weights()),
            Algorithm::Im2col => Prepared::Im2col(self.im2col_weights()),
        };
        apply(&geometry, x, prepared, self.bias(), self.activation())
    }

    /// `activation(self(x) + residual)`, in `residual`'s buffer: the convolution that closes
    /// a residual block. On the GEMM's path the residual is added and the activation applied
    /// as each output tile is written, so the add costs no pass of its own and the block's
    /// output needs no allocation; the other kernels add it after. The layer's own activation
    /// must be the identity (it would come before the add).
    ///
    /// Refuses what [`Conv2d::forward`] refuses, a residual of another shape than the output,
    /// and a layer with an activation of its own.
    pub(crate) fn forward_add_into(
        &self,
        x: ArrayView4<f32>,
        mut residual: Array4<f32>,
        activation: Activation,
    ) -> Result<Array4<f32>> {
        if self.activation() != Activation::Identity {
            return Err(Error::Param {
                op: OP,
                message: "a layer that applies its own activation cannot add a residual first"
                    .into(),
            });
        }
        let geometry = self.layer.resolve(x)?;
        super::check::exact_shape(OP, "residual", residual.shape(), &geometry.output_shape())?;
        let algorithm = self.algorithm.for_input(&geometry, x);
        let fused = matches!(algorithm, Algorithm::Im2col | Algorithm::Grouped);
        if fused && residual.is_standard_layout() {
            let isa = Isa::detect();
            with_slices(OP, x, self.bias(), |x, bias| {
                let out = contiguous(residual.as_slice_mut());
                let epilogue = Epilogue {
                    bias,
                    activation,
                    accumulate: true,
                };
                if algorithm == Algorithm::Grouped {
                    grouped::conv2d(isa, &geometry, x, self.grouped_weights(), &epilogue, out);
                } else {
                    let packed = self.im2col_weights();
                    im2col_or_pointwise(isa, &geometry, x, packed, &epilogue, out);
                }
            })?;
            return Ok(residual);
        }
        let y = self.forward(x)?;
        super::add_assign(residual.view_mut(), y.view())?;
        crate::arena::give(y);
        activation.apply_in_place(residual.view_mut());
        Ok(residual)
    }

    /// Input channels: `Cin/groups * groups`.
    pub fn in_channels(&self) -> usize {
        self.layer.channels().0
    }

    /// Output channels, `Cout`.
    pub fn out_channels(&self) -> usize {
        self.layer.channels().1
    }

    /// The weight, `[Cout, Cin/groups, kh, kw]`.
    pub fn weight(&self) -> ArrayView4<'_, f32> {
        self.layer.weight()
    }

    /// The bias, `[Cout]`, if the layer has one.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.layer.bias()
    }

    /// The stride, padding, dilation and groups.
    pub fn params(&self) -> &Conv2dParams {
        self.layer.params()
    }
}

/// A convolution's rules for the shared layer shell: the weight is `[Cout, Cin/groups, kh,
/// kw]`, and the padding (explicit, or a mode resolved per input size) gives a window per axis.
impl ConvParams for Conv2dParams {
    const OP: &'static str = OP;
    const WEIGHT: &'static str = "[Cout, Cin/groups, kh, kw]";
    type Axis = Window;

    fn groups(&self) -> usize {
        self.groups
    }

    fn channels(&self, [out_channels, group_in]: [usize; 2]) -> Option<(usize, usize)> {
        Some((group_in.checked_mul(self.groups)?, out_channels))
    }

    /// A zero stride or dilation, and `same` padding with a stride above 1: the rules that do
    /// not depend on the input size, checked by resolving the padding for a 1x1 input.
    fn check(&self, kernel: Hw) -> Result<()> {
        self.padding
            .resolve(OP, [1, 1], kernel, self.stride, self.dilation)
            .map(|_| ())
    }

    /// The windows with the padding resolved for this input, and the output sizes: refuses
    /// an output size below 1.
    fn resolve(&self, input: [usize; 2], kernel: Hw) -> Result<([Window; 2], [usize; 2])> {
        let pads = self
            .padding
            .resolve(OP, input, kernel, self.stride, self.dilation)?;
        let windows = [0, 1].map(|axis| {
            pads[axis].apply(
                Window::new(kernel.0[axis])
                    .stride(self.stride.0[axis])
                    .dilation(self.dilation.0[axis]),
            )
        });
        let output_size = |axis: usize| {
            conv_output(input[axis], windows[axis]).map_err(|e| Error::geometry(OP, axis, e))
        };
        Ok((windows, [output_size(0)?, output_size(1)?]))
    }
}

/// How a convolution is computed: the shape classes, each with its own kernel, chosen here
/// and nowhere else (see [the module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// `groups == Cin > 1` with one input channel per group (`Cout = m * Cin`, `m` filters per
    /// channel), any kernel size, stride, padding and dilation: [`depthwise`].
    Depthwise,
    /// More than one group of more than one input channel, or one group of at most
    /// [`FEW_CHANNELS`] input channels (but for a 1x1 kernel at stride 1), or of at most
    /// [`DIRECT_CHANNELS`] ([`direct_channels`]) with a kernel wider than 1x1 that Winograd
    /// does not take (these two but on AVX2: [`direct_pays`]); any kernel size, stride,
    /// padding and dilation:
    /// [`grouped`].
    Grouped,
    /// 3x3, stride 1, dilation 1, one group, any padding, at least
    /// [`winograd::MIN_CHANNELS`] input channels: [`winograd`], or im2col for an input on
    /// which Winograd does not pay ([`Algorithm::for_input`]).
    Winograd,
    /// Any layer: [`im2col`] and the GEMM (which reads a 1x1, stride-1, unpadded input as
    /// its matrix without windows).
    Im2col,
    /// A 1x1 kernel on a 1x1 input, unpadded, one group, a batch of at most
    /// [`gemv::MAX_BATCH`]: a matrix times a few vectors, [`gemv`] straight from the weight
    /// (squeeze-excitation's two layers). Chosen per input ([`Algorithm::for_input`]).
    Gemv,
}

impl Algorithm {
    /// The class of a layer with a `[Cout, Cin/groups, kh, kw]` weight and `params`.
    /// On `isa`: AVX2 sends no one-group layer to the direct kernel ([`direct_pays`]).
    fn for_layer(
        isa: Isa,
        weight: (usize, usize, usize, usize),
        params: &Conv2dParams,
    ) -> Algorithm {
        let (_, group_in, kh, kw) = weight;
        let three = (kh, kw) == (3, 3) && params.dilation == Hw([1, 1]);
        // A 1x1 kernel at stride 1 has no windows to pack (the GEMM reads an unpadded input's
        // planes as they are), which is what the few-channel rule saves; it stays a GEMM, and
        // MobileNet's expansions keep the GEMM that their fusion with the depthwise layer
        // after them runs ([`inverted`]).
        let pointwise = (kh, kw) == (1, 1) && params.stride == Hw([1, 1]);
        // A wider kernel that Winograd does not take, up to `DIRECT_CHANNELS` input channels.
        let windows = (kh, kw) != (1, 1) && !(three && params.stride == Hw([1, 1]));
        let direct = direct_pays(isa)
            && ((group_in <= FEW_CHANNELS && !pointwise)
                || (windows && group_in <= direct_channels(isa)));
        // One input channel per group, in more than one group. One group of one input
        // channel is an ordinary convolution of a single-channel input, which goes with the
        // other few-channel ones (before Winograd, which takes 3x3 layers from 8 channels).
        if group_in == 1 && params.groups > 1 {
            Algorithm::Depthwise
        } else if params.groups > 1 || direct {
            Algorithm::Grouped
        } else if three
            && params.groups == 1
            && params.stride == Hw([1, 1])
            && group_in >= winograd::MIN_CHANNELS
        {
            Algorithm::Winograd
        } else {
            Algorithm::Im2col
        }
    }

    /// The kernel for one input: the class, but im2col for a Winograd layer whose input has
    /// too few tiles for the transforms to pay ([`winograd::pays`]), or holds a value the
    /// transforms would change (a NaN, an infinity, a huge value: [`winograd::takes`]), so
    /// that non-finite inputs give what PyTorch's direct sum gives; and [`gemv`] for a
    /// one-group layer that reads a single pixel ([`one_pixel`]).
    fn for_input(self, g: &Geometry<Window>, x: ArrayView4<f32>) -> Algorithm {
        match self {
            Algorithm::Winograd if !winograd::pays(g.group_in, g.group_out, g.output) => {
                Algorithm::Im2col
            }
            Algorithm::Winograd if !winograd::takes(Isa::detect(), x) => Algorithm::Im2col,
            // `one_pixel` asks for one group: the few-channel kind of `Grouped`, such as
            // EfficientNet's 8 -> 32 squeeze-excitation layer.
            Algorithm::Im2col | Algorithm::Grouped if one_pixel(g) => Algorithm::Gemv,
            other => other,
        }
    }
}

/// Whether one-group layers of few channels, or with a kernel Winograd does not take, run
/// faster on the direct kernel ([`grouped`]) than on im2col on `isa`: on AVX-512, yes (the
/// [module docs](self#few-input-channels)); on AVX2, no. There the direct kernel ran 1.05 to
/// 2.6 times as long as im2col or Winograd on every one-group layer tried, at one thread and
/// at two: `cargo bench --bench layers -- --suite FILE --threads 1,2`, one build choosing by
/// an environment variable (since removed), the two alternated twice, the lower of each
/// side's medians, on 2 vCPUs of a Zen 3 EPYC (AVX2, no AVX-512), ms at one thread, direct
/// against im2col: the ResNet stem 7.91 and 4.70, MobileNetV2's 0.85 and 0.55, ConvNeXt's
/// 4x4/4 1.03 and 0.55, 5x5 64 → 128 at 28 11.0 and 5.6, 5x5 48 → 128 at 14 2.58 and 1.32,
/// 5x5 16 → 32 at 28 0.66 and 0.63, 7x7 64 → 64 at 56 45.1 and 26.2, 3x3/2 32 → 64 at 112
/// 5.00 and 2.58, 3x3/2 64 → 128 at 56 4.20 and 2.21, 3x3/2 16 → 32 at 160 2.88 and 1.61,
/// 5x5/2 24 → 48 at 56 1.60 and 0.87, 3x3 dilated 2 on 32 at 56 1.85 and 1.52, 7x7/2 4 → 64
/// at 224 10.8 and 6.0, and at 3x3 stride 1 (Winograd from 8 channels) 3 → 24 at 96 0.53 and
/// 0.23, 4 → 32 at 112 1.19 and 0.76, 8 → 16 at 112 1.03 and 0.40. `perf` on the stem: the
/// tile's 8 broadcasts and a vector load per 8 multiply-adds wait on the vector load, at a
/// third of the FMA peak; the same tile on AVX-512 reads 3 vectors per 24.
fn direct_pays(isa: Isa) -> bool {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2(_) => false,
        _ => true,
    }
}

/// The most input channels of a one-group layer with a kernel wider than 1x1 that Winograd
/// does not take that goes to the direct kernel on `isa`: [`DIRECT_CHANNELS_HALVED`] on
/// AVX-512 where a zmm operation runs in two halves ([`crate::simd::halved_zmm`]), else
/// [`DIRECT_CHANNELS`].
fn direct_channels(isa: Isa) -> usize {
    #[cfg(target_arch = "x86_64")]
    if matches!(isa, Isa::Avx512(_)) && crate::simd::halved_zmm() {
        return DIRECT_CHANNELS_HALVED;
    }
    let _ = isa;
    DIRECT_CHANNELS
}

/// Whether `g` is a matrix times a few vectors: a 1x1 kernel reading the one pixel of a 1x1
/// input (no padding before it), in one group, for at most [`gemv::MAX_BATCH`] samples.
fn one_pixel(g: &Geometry<Window>) -> bool {
    g.input == [1, 1]
        && g.output == [1, 1]
        && g.groups == 1
        && (1..=gemv::MAX_BATCH).contains(&g.batch)
        && g.axes.iter().all(|a| a.kernel == 1 && a.pad_begin == 0)
}

/// A weight in the form its kernel reads.
enum Prepared<'a> {
    /// PyTorch's `[Cout, 1, kh, kw]`, contiguous.
    Depthwise(&'a [f32]),
    /// PyTorch's `[Cout, Cin, 1, 1]`, contiguous: a row-major `Cout × Cin` matrix.
    Gemv(&'a [f32]),
    /// Transformed by [`winograd::Weights::new`].
    Winograd(&'a winograd::Weights),
    /// Packed by [`grouped::Weights::new`].
    Grouped(&'a grouped::Weights),
    /// Packed by [`im2col::pack_weights`].
    Im2col(&'a [PackedA]),
}

/// Runs the kernel of `weights` for an input that [`Geometry::resolve`] accepted: the one
/// path behind [`conv2d`] and [`Conv2d::forward`]. Refuses an output or a copy of the input
/// that cannot be allocated.
fn apply(
    geometry: &Geometry<Window>,
    x: ArrayView4<f32>,
    weights: Prepared,
    bias: Option<ArrayView1<f32>>,
    activation: Activation,
) -> Result<Array4<f32>> {
    let isa = Isa::detect();
    match weights {
        Prepared::Gemv(weight) => one_pixel_product(isa, geometry, x, weight, bias, activation),
        // The kernels write every output element without reading it first (the depthwise
        // kernel row by row, the GEMM and the grouped kernel tile by tile with `accumulate`
        // off, Winograd's output transform tile by tile), so they take an output nobody
        // zeroed.
        Prepared::Depthwise(weight) => written(geometry, x, bias, |x, bias, out| {
            let shape = depthwise_shape(geometry);
            depthwise::depthwise(isa, &shape, x, weight, bias, activation, out);
        }),
        Prepared::Grouped(weights) => written(geometry, x, bias, |x, bias, out| {
            let epilogue = Epilogue::finish(bias, activation);
            grouped::conv2d(isa, geometry, x, weights, &epilogue, out);
        }),
        Prepared::Im2col(packed) => written(geometry, x, bias, |x, bias, out| {
            let epilogue = Epilogue::finish(bias, activation);
            im2col_or_pointwise(isa, geometry, x, packed, &epilogue, out);
        }),
        Prepared::Winograd(weights) => written(geometry, x, bias, |x, bias, out| {
            winograd::conv2d(isa, geometry, x, weights, bias, activation, out);
        }),
    }
}

/// An [`Algorithm::Im2col`] layer's product: [`pointwise`] for a 1x1 layer with few input
/// channels that it takes, else [`im2col`]'s GEMM; both read the same packed weights.
fn im2col_or_pointwise(
    isa: Isa,
    g: &Geometry<Window>,
    x: &[f32],
    packed: &[PackedA],
    epilogue: &Epilogue,
    out: &mut [f32],
) {
    if pointwise::takes(isa, g) {
        pointwise::conv2d(isa, g, x, &packed[0], epilogue, out);
    } else {
        im2col::conv2d(isa, g, x, packed, epilogue, out);
    }
}

/// The output of `kernel(x, bias, out)`, a kernel that writes every element of `out` (the
/// whole `[N, Cout, OH, OW]` output) before it reads any, in an uninitialised buffer: `zeros`
/// is calloc, which for a block the allocator reuses (as it does layer after layer, and call
/// after call of a layer outside a network) is a serial memset of the whole output before the
/// parallel kernel: 4-6% of the MobileNet and ConvNeXt stems' time, 14% of a 16 -> 96 1x1
/// layer's on 112x112 (Zen 5, layer bench).
fn written(
    geometry: &Geometry<Window>,
    x: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    kernel: impl FnOnce(&[f32], Option<&[f32]>, &mut [f32]),
) -> Result<Array4<f32>> {
    let mut y = memory::uninit(OP, "output", ndarray::Dim(geometry.output_shape()))?;
    with_slices(OP, x, bias, |x, bias| {
        let out = contiguous(y.as_slice_mut());
        // SAFETY: `f32` has no invalid bit patterns and the pointer and length are those of
        // `out`, which this borrow replaces. The kernel writes each element before reading
        // it, as the caller promises: the depthwise kernel splits `out` into disjoint runs of
        // output planes and writes each element of every output row before reading it (the
        // scalar path starts each row with `fill(bias)`; the AVX2 path stores vectors
        // covering `0..ow` of each row, activation applied); the GEMM's first `K` block
        // stores its tiles without loading `C` when `accumulate` is off, and its tiles cover
        // every output of every sample and group; the grouped kernel's tasks (sample, group, band
        // of output rows) cover the output and store every pixel of their rows without
        // loading it; Winograd's output transform writes every
        // pixel of every output tile, clipped to the plane. So no uninitialised element is
        // read.
        let out = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), out.len()) };
        kernel(x, bias, out);
    })?;
    // SAFETY: every element was written above (the caller's promise).
    Ok(unsafe { y.assume_init() })
}

/// A layer [`one_pixel`] accepted: `[N, Cin, 1, 1]` is an `N × Cin` matrix, the output
/// `[N, Cout, 1, 1]` an `N × Cout` one, which [`gemv`] writes transposed.
fn one_pixel_product(
    isa: Isa,
    geometry: &Geometry<Window>,
    x: ArrayView4<f32>,
    weight: &[f32],
    bias: Option<ArrayView1<f32>>,
    activation: Activation,
) -> Result<Array4<f32>> {
    let (batch, cin, cout) = (geometry.batch, geometry.group_in, geometry.group_out);
    debug_assert!(one_pixel(geometry));
    let mut yt = memory::zeros(OP, "output", ndarray::Ix2(cout, batch))?;
    with_slices(OP, x, bias, |x, bias| {
        let out = contiguous(yt.as_slice_mut());
        gemv::gemv(isa, weight, cin, x, bias, activation, out);
    })?;
    let y = memory::into_owned(OP, "output", memory::standard_layout(OP, "output", yt.t())?)?;
    crate::arena::give(yt);
    Ok(y.into_shape_with_order((batch, cout, 1, 1))
        .expect("an N × Cout matrix is N × Cout × 1 × 1"))
}

/// The sizes of a depthwise layer's planes, for [`depthwise`].
fn depthwise_shape(g: &Geometry<Window>) -> depthwise::Depthwise {
    let [h, w] = g.axes;
    depthwise::Depthwise {
        input: g.input,
        output: g.output,
        kernel: [h.kernel, w.kernel],
        stride: [h.stride, w.stride],
        dilation: [h.dilation, w.dilation],
        pad: [h.pad_begin, w.pad_begin],
    }
}

#[cfg(test)]
mod tests;
