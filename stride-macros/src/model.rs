//! What `check.rs` hands to `expand.rs`: every layer resolved to numbers, with its input and
//! output shapes, costs and receptive field. Nothing here is decided again in `expand.rs`.

use proc_macro2::Span;
use stride_geometry::{Field, Pads};
use syn::{Attribute, Ident, Visibility};

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

    /// `[64, 56, 56]`, for messages.
    pub fn text(&self) -> String {
        format!("{:?}", self.dims())
    }

    /// The number of values per sample.
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }
}

/// An elementwise activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Relu,
    Relu6,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
    Silu,
}

/// A convolution, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub pads: [Pads; 2],
    pub groups: usize,
    pub bias: bool,
}

/// A transposed convolution, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTranspose {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: [usize; 2],
    pub output_padding: [usize; 2],
    pub groups: usize,
    pub bias: bool,
}

/// A max or average pool, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub pads: [Pads; 2],
    pub ceil_mode: bool,
}

/// How an upsampling layer interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsampleMode {
    Nearest,
    Bilinear,
}

/// One layer's operation, with every parameter resolved to numbers.
#[derive(Debug, Clone, PartialEq)]
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
        channels: usize,
        eps: f64,
    },
    Activation(Act),
    Upsample {
        scale: [usize; 2],
        mode: UpsampleMode,
    },
    Flatten,
    /// Dropout: nothing at inference, but it takes a place in `nn.Sequential` numbering.
    Dropout,
    Linear {
        in_features: usize,
        out_features: usize,
        bias: bool,
    },
}

/// A layer after checking.
pub struct Planned {
    pub name: Ident,
    /// The weight key prefix: `conv1`, `features.0`, `layer1.0.conv1`, ….
    pub key: String,
    pub op: Op,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
    /// The receptive field per axis, where defined (not through upsampling).
    pub field: Option<[Field; 2]>,
    /// A short description for the summary: `conv2d 7x7/2`.
    pub kind: String,
}

/// A node of a network: a layer, or a branching structure.
// Built a few dozen times per expansion: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Node {
    Layer(Planned),
    /// A convolution (or transposed convolution), the batch norm after it, and the activation
    /// after that if there is one: three layers, or one with folded weights once fused.
    Fused {
        conv: Planned,
        bn: Planned,
        act: Option<Planned>,
    },
    /// The main path's output plus the input, through the shortcut when there is one.
    Residual {
        /// The key of the enclosing block (`layer1.0`), for the summary.
        name: String,
        main: Vec<Node>,
        shortcut: Option<Vec<Node>>,
        output: Shape,
        /// The activation after the add, when the main path ends in a fusable convolution:
        /// once fused, that convolution adds the shortcut and applies it as it writes.
        after: Option<Planned>,
    },
    /// A network declared in another invocation, run as a layer.
    External(External),
    /// Branches from the same input, joined along channels.
    Concat {
        /// The concat's key, for the summary.
        name: String,
        branches: Vec<Vec<Node>>,
        output: Shape,
    },
}

impl Node {
    /// Every layer under `nodes`, in order.
    pub fn leaves(nodes: &[Node]) -> Vec<&Planned> {
        let mut out = Vec::new();
        for node in nodes {
            match node {
                Node::Layer(layer) => out.push(layer),
                Node::Fused { conv, bn, act } => {
                    out.push(conv);
                    out.push(bn);
                    out.extend(act);
                }
                Node::Residual {
                    main,
                    shortcut,
                    after,
                    ..
                } => {
                    out.extend(Node::leaves(main));
                    if let Some(shortcut) = shortcut {
                        out.extend(Node::leaves(shortcut));
                    }
                    out.extend(after);
                }
                Node::External(_) => {}
                Node::Concat { branches, .. } => {
                    for branch in branches {
                        out.extend(Node::leaves(branch));
                    }
                }
            }
        }
        out
    }
}

/// A network declared elsewhere, used as a layer.
pub struct External {
    /// Its struct field.
    pub name: syn::Ident,
    /// Its weight key prefix, without the dot.
    pub key: String,
    pub ty: syn::Path,
    /// The shape flowing in, checked against its `INPUT` by a constant assertion.
    pub input: Shape,
    /// The stated output, checked against its `OUTPUT` the same way.
    pub output: Shape,
}

impl Node {
    /// Every network from another invocation under `nodes`, in order.
    pub fn externals(nodes: &[Node]) -> Vec<&External> {
        let mut out = Vec::new();
        for node in nodes {
            match node {
                Node::External(e) => out.push(e),
                Node::Residual { main, shortcut, .. } => {
                    out.extend(Node::externals(main));
                    if let Some(shortcut) = shortcut {
                        out.extend(Node::externals(shortcut));
                    }
                }
                Node::Concat { branches, .. } => {
                    for branch in branches {
                        out.extend(Node::externals(branch));
                    }
                }
                Node::Layer(_) | Node::Fused { .. } => {}
            }
        }
        out
    }
}

/// A lint that fired, to be emitted as a warning.
pub struct Warning {
    pub span: Span,
    /// The lint's name, used to name the generated deprecated item.
    pub lint: &'static str,
    pub message: String,
}

/// A whole network after checking: everything `expand.rs` needs.
pub struct Plan {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: [usize; 3],
    pub nodes: Vec<Node>,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
    pub field: Option<[Field; 2]>,
    pub warnings: Vec<Warning>,
}
