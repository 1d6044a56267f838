//! # stride
//!
//! Convolutional networks declared in Rust, with every layer's output size checked when the
//! program compiles, and CPU inference on PyTorch-trained weights.
//!
//! ```
//! use stride::network;
//!
//! network! {
//!     /// ResNet stem: 224x224 RGB -> 64 x 56 x 56.
//!     pub struct ResNetStem: [3, 224, 224] {
//!         conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
//!         bn1: batch_norm2d(),
//!         relu: relu,
//!         maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
//!     }
//! }
//!
//! assert_eq!(ResNetStem::OUTPUT, [64, 56, 56]);
//! assert_eq!(ResNetStem::PARAMS, 9_536);
//! let stem = ResNetStem::init(0);
//! let y = stem.forward(ndarray::Array4::zeros((2, 3, 224, 224)).view())?;
//! assert_eq!(y.shape(), &[2, 64, 56, 56]);
//! # Ok::<(), stride::runtime::Error>(())
//! ```
//!
//! This crate is the one users depend on. It re-exports the macro ([`network!`]), the geometry
//! rules ([`geometry`]) and the runtime ops and layers ([`runtime`]). The [`guide`] walks from a
//! torchvision model to Rust inference. With the `vision` feature, `stride::vision` turns PNG
//! and JPEG files into the tensors a network takes, as torchvision's transforms do, and its
//! output into ImageNet's class names.

pub mod guide;
#[cfg(feature = "zoo")]
pub mod zoo;

// The networks of `zoo` are declared with `network!`, whose code names `::stride`.
extern crate self as stride;

pub mod geometry {
    //! The shape rules, once: every output-size, padding, receptive-field and cost formula of
    //! PyTorch's layers as a `const fn` returning `Result<_, GeometryError>`, the same
    //! functions the [`network!`](crate::network) macro calls when it checks a network and
    //! the runtime calls for sizes known only when it runs. This module is the
    //! `stride-geometry` crate, re-exported.
    //!
    //! - one axis of a layer: [`conv_output`], [`pool_output`], [`conv_transpose_output`],
    //!   [`resolve_padding`] (PyTorch's and ONNX's `same` modes), with their parameters in a
    //!   [`Window`], a [`TransposedAxis`] and a [`Padding`];
    //! - a whole network on one axis: each layer's [`AxisRule`], the size program of
    //!   [`FlowOp`]s the macro writes for a network, and [`run_flow`], which runs it on a size;
    //! - what a layer sees and costs: [`Field`] (receptive field), [`conv2d_params`],
    //!   [`conv2d_macs`] and their siblings;
    //! - the words of every refusal ([`GeometryError`], [`explain`]), built in `const fn`s so
    //!   that a constant can fail with the arithmetic in the user's numbers.
    //!
    //! ```
    //! use stride::geometry::{Window, conv_output};
    //!
    //! // ResNet's stem: 224 -> 112 with a 7x7 kernel, stride 2, padding 3.
    //! assert_eq!(conv_output(224, Window::new(7).stride(2).padding(3)), Ok(112));
    //! ```
    #[doc(inline)]
    pub use stride_geometry::*;
}

pub mod runtime {
    //! What runs a network: CPU kernels for fp32 NCHW tensors, the layers that own their
    //! weights, and everything around them. This module is the `stride-runtime` crate,
    //! re-exported; a network declared with [`network!`](crate::network) is a thin typed
    //! shell over [`graph`], which runs, loads, saves, initialises and fuses every network.
    //!
    //! - [`ops`]: each op as a function with a params type (`conv2d(x, w, b,
    //!   &Conv2dParams)`), and a layer type for each op with weights (`Conv2d::forward`);
    //! - [`weights`]: PyTorch checkpoints in safetensors, read and written under
    //!   torchvision's keys ([`weights::LoadOptions`]);
    //! - [`init`]: torchvision's initial weights, drawn from a seed;
    //! - [`typed`]: a network's input and output shapes in its type, so that networks compose
    //!   only when the shapes meet;
    //! - [`summary`]: the layer table of a network; [`onnx`]: ONNX export and Triton model
    //!   repositories;
    //! - [`set_threads`], [`threads()`] and [`set_flush_subnormals`]: how the kernels run;
    //!   [`simd`]: which instruction set they run on.
    //!
    //! Every shape is checked at the edge and refused with an [`Error`] naming what was
    //! expected and what came; nothing panics on user input.
    //!
    //! ```
    //! use ndarray::Array4;
    //! use stride::runtime::ops::{MaxPool2dParams, max_pool2d};
    //!
    //! let x = Array4::<f32>::zeros((1, 64, 112, 112));
    //! let y = max_pool2d(x.view(), &MaxPool2dParams::new(3).stride(2).padding(1))?;
    //! assert_eq!(y.dim(), (1, 64, 56, 56));
    //! # Ok::<(), stride::runtime::Error>(())
    //! ```
    #[doc(inline)]
    pub use stride_runtime::*;
}

/// Images in, labels out: decoding, torchvision's ImageNet transform, softmax and top-k with
/// ImageNet's class names (the `vision` feature). This module is the `stride-vision` crate,
/// re-exported.
#[cfg(feature = "vision")]
pub mod vision {
    #[doc(inline)]
    pub use stride_vision::*;
}

pub use ndarray;

/// Declares a network whose every shape is checked at compile time.
///
/// # The language
///
/// ```text
/// network! {
///     /// A block: declared once, expanded and checked wherever a network uses it.
///     #[export]                        // optional: other crates may `use ::this_crate::Name;`
///     pub block Name(param, param = default) { entries }
///
///     /// A block declared in another invocation, module or crate, brought into this one.
///     use crate::blocks::Other;
///
///     /// Doc comments and lint levels (`#[allow(..)]`, …) go on the generated struct; any
///     /// other attribute is refused rather than dropped.
///     #[sequential("features")]        // optional: weight keys `features.0`, `features.1`, …
///     #[lints(checkerboard = deny)]    // optional: lint levels (allow, warn, deny)
///     pub struct Name: [C, H, W] {     // the input shape, without the batch; names for any size
///         entries
///     }
/// }
/// ```
///
/// An entry is one of:
///
/// | entry | meaning |
/// |---|---|
/// | `name: kind(arguments)` | a layer (table below) |
/// | `name: Block(arguments)` | an instance of a block (or of a network declared earlier in the same invocation); its weights sit under `name.` |
/// | `name: [target, target, …]` | targets numbered as `nn.Sequential` numbers them: keys `name.0`, `name.1`, … |
/// | `name: { entries }` | the entries one after the other, keyed under `name` (an `nn.Sequential` of named modules: DenseNet's `features.conv0`, …) |
/// | `name: concat { a: target, b: target }` | branches from the same input, joined along channels; their heights and widths must agree; keys `name.a…`, `name.b…` |
/// | `concat { a: target, { entries } }` | the same without a name: `a`'s keys are `a…` and the braces' entries are keyed in the enclosing scope (DenseNet's layers, whose module concatenates in `forward`) |
/// | `name: path::To::Network => [C, H, W]` | a network declared in another invocation, with its output stated; constant assertions check its `INPUT` and `OUTPUT` where it is used |
/// | `name: custom(Type)`, `name: custom(Type, channels = N)` | a layer of one's own, a type implementing [`CustomLayer`] and [`CustomShape`]; it keeps its input's height and width, and its channels unless `channels` says otherwise, which a constant assertion checks against its shape rule where it is used. Its tensors load and save as `name.{tensor}` |
/// | `residual { entries } shortcut name: target` | the entries' output plus the input. The shortcut runs when the entries change the shape (torchvision's rule for `downsample`) and must then produce the same shape |
/// | `scale { entries }`, `name: scale { entries }` | the input times the entries' output, a gate of one value per channel (`[C, 1, 1]`, squeeze-excitation's) or of the input's shape; the gate's channels must be the input's. Without a name its layers are keyed in the enclosing scope (torchvision's `SqueezeExcitation`: `fc1`, `fc2`) |
/// | `name: [target; n]`, `name: [a, ..[b; n], c]` | `n` copies of a target, numbered on in the sequence (at most 4096 layers, blocks and branches per repetition) |
/// | `#[keys("denselayer{}", from = 1)] name: [..]` | the sequence's items keyed by a pattern instead of `0`, `1`, …: `denselayer1`, `denselayer2`, … as torchvision's DenseNet names them |
///
/// A block's parameters stand for values in its layers' arguments:
///
/// ```
/// stride::network! {
///     block BasicBlock(planes, stride = 1) {
///         residual {
///             conv1: conv2d(planes, kernel = 3, stride = stride, padding = 1, bias = false),
///             bn1: batch_norm2d(),
///             relu1: relu,
///             conv2: conv2d(planes, kernel = 3, padding = 1, bias = false),
///             bn2: batch_norm2d(),
///         } shortcut downsample: [
///             conv2d(planes, kernel = 1, stride = stride, bias = false),
///             batch_norm2d(),
///         ],
///         relu: relu,
///     }
///
///     pub struct Stage: [64, 56, 56] {
///         layer2: [BasicBlock(128, stride = 2), BasicBlock(128)],
///     }
/// }
///
/// assert_eq!(Stage::OUTPUT, [128, 28, 28]);
/// let keys: Vec<&str> = Stage::SUMMARY.layers.iter().map(|l| l.name).collect();
/// assert!(keys.contains(&"layer2.0.downsample.0"));
/// ```
///
/// A block is visible in its own invocation, and in any other that brings it in with `use`,
/// where it is checked at each of its instances as if declared there: `use crate::blocks::Name;`
/// (or a relative path, `self::…`, `super::…`) for a block of this crate, whose visibility
/// (`pub` counts as `pub(crate)` here) says which modules may; `use ::other_crate::Name;`, with
/// the leading `::`, for a block another crate declared `#[export] pub block`, whatever its
/// module there. `#[export]` is the opt-in because a block handed to other crates is a macro
/// at that crate's root, one name space for the whole crate: two exported blocks of one name
/// would clash, so only the blocks meant for others take a place there. A name in
/// CamelCase that is neither a layer kind nor a block in scope is reported as a block to bring
/// in.
///
/// ```
/// mod blocks {
///     stride::network! {
///         pub block ConvBn(out, stride = 1) {
///             conv: conv2d(out, kernel = 3, stride = stride, padding = 1, bias = false),
///             bn: batch_norm2d(),
///             relu: relu,
///         }
///     }
/// }
///
/// stride::network! {
///     use blocks::ConvBn;
///
///     pub struct Stem: [3, 32, 32] {
///         stem: ConvBn(16, stride = 2),
///         body: ConvBn(32),
///     }
/// }
///
/// assert_eq!(Stem::OUTPUT, [32, 16, 16]);
/// ```
///
/// # Any input size
///
/// A name in place of the height or the width, `[3, H, W]`, declares a network for every size
/// its layers take on that axis. The macro runs the network's size rules on every size from 1
/// to 4096 and finds the ones it takes: from a smallest one (`MIN_INPUT`) in steps
/// (`INPUT_MULTIPLE`). A U-Net's skips meet only at multiples of 2^depth; a ResNet takes any
/// size. A network that takes no size is refused at the name, with the refusal at the largest
/// size tried, and a `linear` whose weights would depend on the size (after `flatten` of a map
/// whose size varies) is refused at the layer: pool to a fixed size first
/// (`adaptive_avg_pool2d(1)`), or declare the size.
///
/// ```
/// stride::network! {
///     /// Two halvings, two doublings, and the maps of the same size joined at each level.
///     pub struct TinyUNet: [3, H, W] {
///         inc: conv2d(8, kernel = 3, padding = 1),
///         level1: concat {
///             skip: identity,
///             inner: [
///                 max_pool2d(2),
///                 conv2d(16, kernel = 3, padding = 1),
///                 concat {
///                     skip: identity,
///                     inner: [
///                         max_pool2d(2),
///                         conv2d(32, kernel = 3, padding = 1),
///                         conv_transpose2d(16, kernel = 2, stride = 2),
///                     ],
///                 },
///                 conv_transpose2d(8, kernel = 2, stride = 2),
///             ],
///         },
///         head: conv2d(2, kernel = 1),
///     }
/// }
///
/// assert_eq!(TinyUNet::MIN_INPUT, [4, 4]);
/// assert_eq!(TinyUNet::INPUT_MULTIPLE, [4, 4]);
/// assert_eq!(TinyUNet::output_at(64, 96), Some([2, 64, 96]));
/// assert_eq!(TinyUNet::output_at(62, 96), None);
/// assert_eq!(TinyUNet::summary_at(64, 96)?.layers[0].output, [8, 64, 96]);
///
/// let net = TinyUNet::init(0);
/// // Any size at run time, checked before any layer runs:
/// let y = net.forward(ndarray::Array4::zeros((1, 3, 32, 48)).view())?;
/// assert_eq!(y.dim(), (1, 2, 32, 48));
/// let refused = net.forward(ndarray::Array4::zeros((1, 3, 30, 32)).view()).unwrap_err();
/// assert!(refused.to_string().contains("takes heights from 4 in steps of 4 (28 or 32 here)"));
/// // A size fixed in the source, checked at compile time:
/// let y = net.forward_at::<64, 64>(ndarray::Array4::zeros((1, 3, 64, 64)).view())?;
/// # Ok::<(), stride::runtime::Error>(())
/// ```
///
/// `forward_at::<30, 32>` does not compile; the error is the message `forward` gives at run
/// time, with the arithmetic of the layer that rounded:
///
/// ```text
/// error[E0080]: evaluation panicked: `TinyUNet` at 30x32: `level1.inner.2`: its branches give
///               heights 15 and 14, from a height of 15, as `level1.inner.2.inner.0` rounds a
///               height of 15 down: (15 + 2*0 - 1*(2-1) - 1) / 2 + 1 = 7; `TinyUNet` takes
///               heights from 4 in steps of 4 (28 or 32 here)
/// ...
/// note: the above error was encountered while instantiating `fn TinyUNet::forward_at::<30, 32>`
/// ```
///
/// The weights, `PARAMS`, the receptive field and the jump do not depend on the size. `INPUT`
/// and `OUTPUT` hold 0 on an axis whose size varies; `MACS` and `SUMMARY` are at `MIN_INPUT`,
/// and `summary_at(h, w)` gives every row's shape and MACs at any size. Under the type checker,
/// [`runtime::typed::At`] fixes the size (a compile error if the network does not take it) and
/// composes with networks of fixed input: `At::<_, 64, 64>::new(stem).then(head)`.
///
/// A number may be whole-number arithmetic on literals and the enclosing block's parameters:
/// `+`, `-`, `*`, `/` (rounding down, as Python's `//`) and parentheses, as in
/// `conv2d(width * ratio, …)` for MobileNetV2's `hidden = in * t`. A result below zero, a
/// division by zero or an overflow is refused at the expression, with its value.
///
/// Each spatial parameter takes an int or an `(h, w)` pair, as in PyTorch. Defaults follow
/// PyTorch. Input channels are inferred from the previous layer; `conv2d(64 => 128, …)` states
/// them, and then they are checked.
///
/// | kind | arguments |
/// |---|---|
/// | `conv2d` | out channels (or `in => out`), `kernel`, `stride = 1`, `padding = 0`, `dilation = 1`, `groups = 1`, `bias = true` |
/// | `conv_transpose2d` | out channels (or `in => out`), `kernel`, `stride = 1`, `padding = 0`, `output_padding = 0`, `dilation = 1`, `groups = 1`, `bias = true` |
/// | `max_pool2d` | `kernel` (or first), `stride = kernel`, `padding = 0`, `dilation = 1`, `ceil_mode = false` |
/// | `avg_pool2d` | `kernel` (or first), `stride = kernel`, `padding = 0`, `ceil_mode = false`, `count_include_pad = true`, `divisor_override` |
/// | `adaptive_avg_pool2d` | `output_size` (or first) |
/// | `global_avg_pool2d` | none: output 1x1 |
/// | `batch_norm2d` | channels (optional, checked), `eps = 1e-5` |
/// | `layer_norm2d` | channels (optional, checked), `eps = 1e-6`: each pixel normalised over its channels, weight and bias `[C]` (ConvNeXt's `LayerNorm2d`, and its `nn.LayerNorm` between permutes) |
/// | `layer_scale` | channels (optional, checked): each channel times a learned value, stored under the layer's own key as `[C, 1, 1]` (ConvNeXt's `layer_scale`) |
/// | `relu`, `relu6`, `sigmoid`, `tanh`, `silu`, `hardswish`, `hardsigmoid` | none |
/// | `gelu` | `approximate = none` (or first): the exact, erf-based GELU; `tanh` for PyTorch's approximation |
/// | `leaky_relu` | `slope = 0.01` (or first) |
/// | `upsample` | `scale` (or first; an int or a pair), `mode = nearest` (or `bilinear`) |
/// | `flatten` | none: `[C, H, W]` to `[C*H*W]` |
/// | `linear` | out features (or `in => out`), `bias = true`; needs a flat input |
/// | `pixel_linear` | out features (or `in => out`), `bias = true`: a linear layer on each pixel's channels of a feature map, weight `[out, in]` as `nn.Linear` stores it (ConvNeXt's `block.3`); it runs as a 1x1 convolution, and its accessor is that `Conv2d` |
/// | `dropout` | `p = 0.5` (or first): nothing at inference, but it takes its place in the numbering |
/// | `stochastic_depth` | `p = 0.0` (or first), `mode = row`: nothing at inference (torchvision's `StochasticDepth`); in a sequence it takes its place in the numbering |
/// | `identity` | none: its input, unchanged (a concat branch that passes the input on) |
///
/// Where torchvision moves the channels last around a norm or a linear layer (ConvNeXt's
/// `Permute` modules), write `identity` in their places: `layer_norm2d` and `pixel_linear` work
/// on NCHW directly, and the numbering stays torchvision's.
///
/// `padding` takes an int, an `(h, w)` pair, explicit `((top, bottom), (left, right))`, or a
/// mode: `valid`, `same` (PyTorch's: stride 1 only), `same_upper` or `same_lower` (ONNX and
/// TensorFlow: output `ceil(W / S)` for any stride).
///
/// # Weight keys
///
/// A layer's tensors are named after the layer, as a PyTorch module's `state_dict` names them:
/// `conv1.weight`, `bn1.running_mean`. `#[sequential]` numbers layers instead, the way
/// `nn.Sequential` does (every layer takes an index, with or without weights), and
/// `#[sequential("features")]` puts a prefix before the number (torchvision's VGG). A layer
/// can override its key with `#[key = "classifier.6"]`. `#[key = ""]` on a block instance, a
/// sequence or a concat gives its layers the enclosing keys with nothing added: a checkpoint of
/// one torchvision block saved on its own (`conv1.weight`, not `layer2.0.conv1.weight`).
///
/// # Checks
///
/// At expansion time the macro refuses, at the offending token and with the arithmetic:
/// an output size below 1; stated input channels or features that differ from the input;
/// groups that do not divide the channels; pool padding above half the kernel; a zero kernel,
/// stride, dilation, channel or group count; a transposed `output_padding` not smaller than the
/// stride or the dilation; PyTorch `same` padding with a stride; `dilation` on `avg_pool2d`;
/// `linear` on a feature map and `pixel_linear` on a flat input; duplicate layer names or
/// parameters; unknown layer kinds and parameters; negative, fractional or overflowing literals
/// and arithmetic; a missing or malformed input shape; a repetition past 4096 copies; a
/// `#[keys]` pattern without one `{}` or on an entry that is not a sequence; a
/// `#[sequential("…")]` prefix with an empty part.
///
/// Branches are checked too: a residual whose main path changes the shape without a shortcut,
/// a shortcut whose output differs from the main path's, concat branches of different
/// heights or widths, a `scale` gate that does not end with its input's channels (or that
/// works on a flat input), a block instance with a missing or unknown argument, and a network
/// used as a layer on an input of another shape. A shape error inside a block instance is
/// reported at the instance.
///
/// Two lints, set with `#[lints(name = allow | warn | deny)]` or all denied by `#[strict]`:
/// - `checkerboard` (warns by default): a transposed convolution whose kernel is not divisible
///   by its stride.
/// - `floor_drops_input` (allowed by default): a window stride that leaves the last rows or
///   columns of the input outside every window.
///
/// # What it generates
///
/// The macro checks the network, then writes it down as data, [`runtime::graph::Graph`]:
/// every layer with its resolved parameters, output shape and tensors, the fusion groups, the
/// structure joining them, and the summary rows. The runtime runs, loads, saves, initialises
/// and fuses any graph with one implementation each, so a network costs little to compile
/// whatever its size. Around the graph, a typed struct with:
/// - `GRAPH`, `INPUT`, `OUTPUT`, `MIN_INPUT`, `INPUT_MULTIPLE`, `PARAMS`, `MACS`,
///   `RECEPTIVE_FIELD`, `JUMP`, and `SUMMARY` (every layer's output shape, parameters, MACs and
///   receptive field; `Display` prints a table, `edges()` says which rows feed which, and
///   `picture()` draws the network as SVG or Graphviz DOT);
/// - `forward(&self, x: ArrayView4<f32>)` for any batch size, refusing a wrong `C`, or an `H`
///   or `W` the network does not take; `forward_at::<H, W>`, which checks the size at compile
///   time; `output_at(h, w)` and `summary_at(h, w)`;
/// - `load_safetensors(path)`, `load_safetensors_with(path, &options)`, `from_weights`,
///   `save_safetensors(path)`, and `init(seed)`;
/// - `fuse()`, `unfuse()` and `is_fused()`: each convolution (or `pixel_linear`) with the
///   batch norm or layer scale after it folded into one, and the activation and residual add
///   after it applied as it writes; layers that do nothing at inference (`identity`,
///   `dropout`, `stochastic_depth`) in between do not stop it. Loading and `init` fuse by
///   default;
/// - one accessor per layer with weights, named as the layer is in Rust (`conv1()`, and
///   `layer1_0_conv1()` inside blocks and sequences), with a `_mut` twin: `net.conv1().weight()`;
/// - a public field for each network from another invocation, of its own type;
/// - an implementation of [`runtime::typed::Network`] over typenum-shaped tensors, so that networks
///   compose with [`runtime::typed::Then::then`] under the type checker.
///
/// When a network is refused, the macro still declares it, with every constant and method
/// above, so that code using it adds no errors of its own to the macro's.
pub use stride_macros::network;
pub use stride_runtime::custom::{CustomLayer, CustomShape, CustomTensors};

/// What generated code names. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use ndarray;
    pub use stride_geometry::{AxisRule, FlowOp, Padding, TransposedAxis, Window};
    pub use stride_runtime::custom::{
        CustomLayer, CustomNode, CustomShape, check_custom_shape, tensor_values,
    };
    pub use stride_runtime::graph::{
        Build, External, Graph, Group, InitRule, Layer, Model, Module, Node, Op, TensorSpec,
        check_size, from_weights, gives, init, takes,
    };
    pub use stride_runtime::onnx;
    pub use stride_runtime::ops::{
        Activation, AvgPool2dParams, BatchNorm2d, Conv2d, Conv2dParams, ConvTranspose2d,
        ConvTranspose2dParams, LayerNorm2d, LayerScale, Linear, MaxPool2dParams, UpsampleMode,
        UpsampleParams, UpsampleTarget,
    };
    pub use stride_runtime::summary::{InputSize, LayerInfo, Summary, SummaryAt};
    pub use stride_runtime::typed::{AnySize, Chw, Flat, Network, Tensor, typenum};
    pub use stride_runtime::weights::{LoadError, LoadOptions, Loader, SaveError, Saver, Weights};
    pub use stride_runtime::{Error, Hw, Padding2d};

    /// The sum of `counts`, saturating at `u64::MAX`: a network's parameters or MACs with
    /// those of the networks it runs as layers.
    pub const fn saturating_sum(counts: &[u64]) -> u64 {
        let mut total: u64 = 0;
        let mut i = 0;
        while i < counts.len() {
            total = total.saturating_add(counts[i]);
            i += 1;
        }
        total
    }
}

/// The README's Rust examples, compiled as doctests so that what a new user copies builds.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
