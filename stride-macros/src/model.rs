//! What `check` hands to `expand`: every layer resolved to numbers (its op, output shape,
//! costs, receptive field and tensor specs), the fusion groups, the structure joining the
//! layers, and the summary rows. `expand` writes this down as the network's graph and decides
//! nothing.

use proc_macro2::Span;
use stride_geometry::{AxisRule, Field, FlowOp, Padding};
use syn::{Attribute, Ident, Visibility};

/// A spatial size (or a flat size after one) that depends on the input: what the checks of a
/// network declared with names for its height and width see on those axes. No real size is 0.
pub const ANY: usize = 0;

/// A tensor shape without the batch dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A feature map `[C, H, W]`.
    Map([usize; 3]),
    /// A flat feature vector `[F]`.
    Flat(usize),
}

impl Shape {
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Map(chw) => chw.to_vec(),
            Shape::Flat(f) => vec![f],
        }
    }

    /// `[64, 56, 56]`, for messages; a size that depends on the input (in a network declared
    /// with names for its height and width) is `_`.
    pub fn text(&self) -> String {
        let dims: Vec<String> = self
            .dims()
            .iter()
            .map(|&d| if d == ANY { "_".into() } else { d.to_string() })
            .collect();
        format!("[{}]", dims.join(", "))
    }
}

/// An elementwise activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Relu,
    Relu6,
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
    Silu,
    Gelu,
    GeluTanh,
    Hardswish,
    Hardsigmoid,
}

/// A convolution's parameters, resolved: padding as explicit pads on an axis whose size is
/// known, or the mode (`same`, …) on one whose size depends on the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conv {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: [Padding; 2],
    pub groups: usize,
}

/// A transposed convolution's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvTranspose {
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: [usize; 2],
    pub output_padding: [usize; 2],
    pub groups: usize,
}

/// A max or average pool, resolved as a convolution's padding is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: [Padding; 2],
    pub ceil_mode: bool,
}

/// How an upsampling layer interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsampleMode {
    Nearest,
    Bilinear,
}

/// One layer's operation, with every parameter resolved to numbers: the graph node it becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Conv2d(Conv),
    ConvTranspose2d(ConvTranspose),
    MaxPool2d(Pool),
    AvgPool2d {
        pool: Pool,
        count_include_pad: bool,
        divisor_override: Option<usize>,
    },
    AdaptiveAvgPool2d {
        output: [usize; 2],
    },
    BatchNorm2d {
        eps: f32,
    },
    /// A layer norm over each pixel's channels.
    LayerNorm2d {
        eps: f32,
    },
    /// A learned multiply per channel.
    LayerScale,
    Activation(Act),
    Upsample {
        scale: [usize; 2],
        mode: UpsampleMode,
    },
    Flatten,
    /// Dropout: nothing at inference, but it takes a place in `nn.Sequential` numbering.
    Dropout,
    Identity,
    Linear,
    /// A layer of one's own: its type is the layer's [`Planned::custom`].
    Custom,
}

impl Op {
    /// Whether a fusion group can start with this op.
    pub fn is_conv(&self) -> bool {
        matches!(self, Op::Conv2d(_) | Op::ConvTranspose2d(_))
    }
}

/// How a tensor is initialised (the runtime's `InitRule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    KaimingNormalFanOut,
    Uniform { fan_in: usize },
    Zeros,
    Ones,
}

/// A tensor a layer stores: its name after the layer's key, its shape and its initialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl TensorSpec {
    /// Its key in a checkpoint, for the layer keyed `layer`.
    pub fn key(&self, layer: &str) -> String {
        let dot = stride_geometry::tensor_key_separator(self.name);
        format!("{layer}{dot}{}", self.name)
    }
}

/// A layer after checking.
#[derive(Clone)]
pub struct Planned {
    /// Its row in the summary, once laid out.
    pub row: usize,
    /// Its Rust name: the accessor of a layer with weights (`layer1_0_conv1`).
    pub name: Ident,
    /// The weight key prefix: `conv1`, `features.0`, `layer1.0.conv1`, ….
    pub key: String,
    pub op: Op,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
    /// The receptive field per axis after the layer, where defined.
    pub field: Option<[Field; 2]>,
    /// A short description for the summary: `conv2d 7x7/2`.
    pub kind: String,
    /// The tensors it stores, in initialisation order.
    pub tensors: Vec<TensorSpec>,
    /// How it maps the size of each spatial axis.
    pub rules: [AxisRule; 2],
    /// The type of a custom layer ([`Op::Custom`]).
    pub custom: Option<CustomDef>,
}

/// A layer of one's own, as the generated code names it.
#[derive(Clone)]
pub struct CustomDef {
    pub ty: syn::Type,
    /// The shape flowing in, at which its `CustomShape` is evaluated (`ANY` for the height
    /// and width in a network that takes many sizes).
    pub input: [usize; 3],
    /// Its output as the network takes it to be, `ANY` where `input` is.
    pub output: [usize; 3],
    /// How messages name it: its key path.
    pub label: String,
    /// Where its checks point: the type.
    pub span: Span,
}

impl CustomDef {
    /// The type as written, without spaces: `ChannelShuffle<4>`.
    pub fn type_text(&self) -> String {
        let ty = &self.ty;
        quote::quote!(#ty).to_string().replace(' ', "")
    }
}

/// What the walk over a network's entries produces, before fusion groups and indices.
// Built a few dozen times per expansion: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Tree {
    Layer(Planned),
    /// The main path's output plus the input, through the shortcut when there is one.
    Residual {
        /// The key of the enclosing block (`layer1.0`), for the summary row.
        name: String,
        main: Vec<Tree>,
        shortcut: Option<Vec<Tree>>,
        output: Shape,
        /// The receptive field after the add.
        field: Option<[Field; 2]>,
    },
    /// A network declared in another invocation, run as a layer.
    External(External),
    /// Branches from the same input, joined along channels.
    Concat {
        /// The concat's key, for the summary row.
        name: String,
        branches: Vec<Vec<Tree>>,
        output: Shape,
        field: Option<[Field; 2]>,
    },
    /// The input times the gate's output.
    Scale {
        /// The key of the enclosing block, for the summary row.
        name: String,
        gate: Vec<Tree>,
        output: Shape,
        field: Option<[Field; 2]>,
    },
}

/// A network declared elsewhere, used as a layer.
#[derive(Clone)]
pub struct External {
    /// Its struct field.
    pub name: Ident,
    /// Its weight key prefix, without the dot.
    pub key: String,
    pub ty: syn::Path,
    /// The shape flowing in, checked against its `INPUT` by a constant assertion.
    pub input: Shape,
    /// The stated output, checked against its `OUTPUT` the same way.
    pub output: Shape,
    /// What `init` adds to the network's seed for this one.
    pub seed_offset: u64,
}

/// A fusion group: layer indices of a convolution, the batch norm (or layer scale) folded into
/// it, and the activation the fused layer applies.
pub struct Group {
    pub conv: usize,
    pub bn: Option<usize>,
    pub activation: Option<usize>,
    /// Whether it closes a residual: the add comes before the activation.
    pub before_add: bool,
}

/// How the layers are joined, by index.
pub enum Node {
    Layer(usize),
    Group(usize),
    Residual {
        main: Vec<Node>,
        shortcut: Option<Vec<Node>>,
        closing: Option<usize>,
    },
    Concat(Vec<Vec<Node>>),
    /// The input times the gate's output.
    Scale(Vec<Node>),
    External(usize),
}

/// A count in a summary row: known, or an external network's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Known(u64),
    /// `PARAMS` or `MACS` of the external network with this index.
    External(usize),
    /// The parameters of the custom layer with this layer index: its type's tensors.
    Custom(usize),
}

/// One row of the summary.
pub struct Row {
    pub name: String,
    pub kind: String,
    pub output: Shape,
    pub params: Count,
    pub macs: Count,
    pub field: Option<[Field; 2]>,
}

/// A lint that fired, to be emitted as a warning.
pub struct Warning {
    pub span: Span,
    /// The lint's name, used to name the generated deprecated item.
    pub lint: &'static str,
    pub message: String,
}

/// A whole network after checking: everything `expand` needs.
pub struct Plan {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: [usize; 3],
    pub output: Shape,
    /// Every layer, in the order the network runs them (its slot in the runtime's model).
    pub layers: Vec<Planned>,
    pub groups: Vec<Group>,
    pub externals: Vec<External>,
    pub nodes: Vec<Node>,
    pub rows: Vec<Row>,
    /// The network's own parameters and MACs (its externals' are added by `expand`, which
    /// names their constants).
    pub params: u64,
    pub macs: u64,
    pub field: Option<[Field; 2]>,
    pub warnings: Vec<Warning>,
    /// The size program of each spatial axis.
    pub flows: [Vec<FlowOp>; 2],
    /// The input sizes each spatial axis takes.
    pub sizes: [Sizes; 2],
}

/// The input sizes an axis takes: one (a number in the declaration), or (a name) every size
/// from `min` in steps of `step` that the network's size program accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes {
    /// The name the declaration gives the axis (`H`), if it is not a number.
    pub name: Option<String>,
    pub min: usize,
    /// 0 for a fixed size.
    pub step: usize,
    /// Whether every `min + k * step` is taken (else some are refused, and the size program
    /// has the last word).
    pub regular: bool,
}

/// What the stub of a network that failed to check still knows, so that code using it adds no
/// errors of its own.
pub struct Stub {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    /// The input shape, when it was valid (`ANY` for an axis declared with a name).
    pub input: Option<[usize; 3]>,
    /// Whether the output is flat (the network flattens somewhere), as far as it is known.
    pub flat: bool,
    /// The layers with weights that checking reached: accessor name, and the runtime type.
    pub accessors: Vec<(Ident, LayerType)>,
    /// The custom layers that checking reached: accessor name, and their type.
    pub customs: Vec<(Ident, syn::Type)>,
    /// The networks from other invocations it reached: field name and type.
    pub externals: Vec<(Ident, syn::Path)>,
}

/// The runtime type a layer with weights is held as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerType {
    Conv2d,
    ConvTranspose2d,
    BatchNorm2d,
    LayerNorm2d,
    LayerScale,
    Linear,
}

impl LayerType {
    /// The type of `op`'s layer, if it has weights.
    pub fn of(op: &Op) -> Option<LayerType> {
        match op {
            Op::Conv2d(_) => Some(LayerType::Conv2d),
            Op::ConvTranspose2d(_) => Some(LayerType::ConvTranspose2d),
            Op::BatchNorm2d { .. } => Some(LayerType::BatchNorm2d),
            Op::LayerNorm2d { .. } => Some(LayerType::LayerNorm2d),
            Op::LayerScale => Some(LayerType::LayerScale),
            Op::Linear => Some(LayerType::Linear),
            _ => None,
        }
    }
}
