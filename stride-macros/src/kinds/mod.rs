//! The catalog of layer kinds: one entry per kind, the only place that lists them.
//!
//! An entry gives the kind's name, what its positional argument means, its named parameters
//! with their defaults, the runtime layer type that holds its weights, and its check. The
//! check (in this folder, one file per family) resolves the arguments to numbers, computes the
//! output shape through `stride-geometry`, and returns a [`Step`]: the graph op the layer
//! becomes, its tensor specs, its costs and its summary words.
//!
//! Adding a kind is an entry here, its check, and the op's node in the runtime's graph.

mod activation;
mod conv;
mod linear;
mod norm;
mod pool;
mod rules;
mod shape;
#[cfg(test)]
mod tests;

use stride_geometry::{AxisRule, Window};

use crate::args::Args;
use crate::check::Walk;
use crate::model::{LayerType, Op, Shape, TensorSpec};

/// A layer kind.
pub struct Kind {
    /// As written in `network!`: `conv2d`.
    pub name: &'static str,
    /// What a positional argument means, if the kind takes one.
    pub positional: Option<Positional>,
    /// The named parameters, with their defaults.
    pub params: &'static [Param],
    /// The runtime type that holds the layer's weights, for a kind with weights.
    pub layer: Option<LayerType>,
    /// Whether its output is flat whatever its input (what a network's stub needs to know
    /// when the shapes could not be).
    pub flattens: bool,
    /// The kind's rules: the arguments and the input shape to a [`Step`], or `None` (with the
    /// error reported) when the output shape cannot be known.
    pub check: fn(&mut Walk<'_>, &Args<'_>, Option<Shape>) -> Option<Step>,
}

/// What a kind's positional argument means.
#[derive(Debug, Clone, Copy)]
pub struct Positional {
    /// A named parameter it may stand for (`kernel`), or what it is (`out channels`).
    pub meaning: &'static str,
    /// Whether `in => out` is allowed: stated input channels or features, checked.
    pub in_out: bool,
}

/// A named parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub default: DefaultValue,
}

/// A parameter's value when it is not given, as PyTorch defaults it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// It must be given (by name or positionally).
    Required,
    /// An int, for both axes where the parameter is spatial.
    Int(usize),
    Bool(bool),
    /// A real number, as written in the documentation.
    Real(&'static str),
    /// A name among the parameter's choices: `nearest`.
    Name(&'static str),
    /// The value of another parameter: a pool's stride is its kernel.
    Same(&'static str),
    /// Absent unless given.
    Optional,
}

/// What a layer's check produces.
pub struct Step {
    /// The graph op the layer becomes.
    pub op: Op,
    pub output: Shape,
    pub params: u64,
    pub macs: u64,
    /// The windows the layer slides, for the receptive field; `None` ends the field.
    pub windows: Option<[Window; 2]>,
    /// Summary words: `conv2d 7x7/2`.
    pub kind: String,
    /// The tensors the layer stores.
    pub tensors: Vec<TensorSpec>,
    /// How the layer maps the size of each spatial axis, whatever the size.
    pub rules: [AxisRule; 2],
}

impl Step {
    /// A layer that keeps its input's shape, stores nothing, and sees one pixel.
    fn pointwise(op: Op, output: Shape, kind: &str) -> Step {
        Step {
            op,
            output,
            params: 0,
            macs: 0,
            windows: Some([Window::new(1); 2]),
            kind: kind.into(),
            tensors: Vec::new(),
            rules: [AxisRule::Keep; 2],
        }
    }
}

const fn param(name: &'static str, default: DefaultValue) -> Param {
    Param { name, default }
}

const fn positional(meaning: &'static str, in_out: bool) -> Option<Positional> {
    Some(Positional { meaning, in_out })
}

use DefaultValue::{Bool, Int, Name, Optional, Real, Required, Same};

/// Every layer kind.
pub const CATALOG: &[Kind] = &[
    Kind {
        name: "conv2d",
        positional: positional("out channels", true),
        params: &[
            param("kernel", Required),
            param("stride", Int(1)),
            param("padding", Int(0)),
            param("dilation", Int(1)),
            param("groups", Int(1)),
            param("bias", Bool(true)),
        ],
        layer: Some(LayerType::Conv2d),
        flattens: false,
        check: conv::check_conv2d,
    },
    Kind {
        name: "conv_transpose2d",
        positional: positional("out channels", true),
        params: &[
            param("kernel", Required),
            param("stride", Int(1)),
            param("padding", Int(0)),
            param("output_padding", Int(0)),
            param("dilation", Int(1)),
            param("groups", Int(1)),
            param("bias", Bool(true)),
        ],
        layer: Some(LayerType::ConvTranspose2d),
        flattens: false,
        check: conv::check_conv_transpose2d,
    },
    Kind {
        name: "max_pool2d",
        positional: positional("kernel", false),
        params: &[
            param("kernel", Required),
            param("stride", Same("kernel")),
            param("padding", Int(0)),
            param("dilation", Int(1)),
            param("ceil_mode", Bool(false)),
        ],
        layer: None,
        flattens: false,
        check: pool::check_max_pool2d,
    },
    Kind {
        name: "avg_pool2d",
        positional: positional("kernel", false),
        params: &[
            param("kernel", Required),
            param("stride", Same("kernel")),
            param("padding", Int(0)),
            param("ceil_mode", Bool(false)),
            param("count_include_pad", Bool(true)),
            param("divisor_override", Optional),
        ],
        layer: None,
        flattens: false,
        check: pool::check_avg_pool2d,
    },
    Kind {
        name: "adaptive_avg_pool2d",
        positional: positional("output_size", false),
        params: &[param("output_size", Required)],
        layer: None,
        flattens: false,
        check: pool::check_adaptive_avg_pool2d,
    },
    Kind {
        name: "global_avg_pool2d",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: pool::check_global_avg_pool2d,
    },
    Kind {
        name: "batch_norm2d",
        positional: positional("channels", false),
        params: &[param("eps", Real("1e-5"))],
        layer: Some(LayerType::BatchNorm2d),
        flattens: false,
        check: norm::check_batch_norm2d,
    },
    Kind {
        name: "layer_norm2d",
        positional: positional("channels", false),
        params: &[param("eps", Real("1e-6"))],
        layer: Some(LayerType::LayerNorm2d),
        flattens: false,
        check: norm::check_layer_norm2d,
    },
    Kind {
        name: "layer_scale",
        positional: positional("channels", false),
        params: &[],
        layer: Some(LayerType::LayerScale),
        flattens: false,
        check: norm::check_layer_scale,
    },
    Kind {
        name: "relu",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "relu6",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "leaky_relu",
        positional: positional("slope", false),
        params: &[param("slope", Real("0.01"))],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "sigmoid",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "tanh",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "silu",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "gelu",
        positional: positional("approximate", false),
        params: &[param("approximate", Name("none"))],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "hardswish",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "hardsigmoid",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: activation::check_activation,
    },
    Kind {
        name: "upsample",
        positional: positional("scale", false),
        params: &[param("scale", Required), param("mode", Name("nearest"))],
        layer: None,
        flattens: false,
        check: shape::check_upsample,
    },
    Kind {
        name: "flatten",
        positional: None,
        params: &[],
        layer: None,
        flattens: true,
        check: shape::check_flatten,
    },
    Kind {
        name: "linear",
        positional: positional("out features", true),
        params: &[param("bias", Bool(true))],
        layer: Some(LayerType::Linear),
        flattens: true,
        check: linear::check_linear,
    },
    Kind {
        name: "pixel_linear",
        positional: positional("out features", true),
        params: &[param("bias", Bool(true))],
        layer: Some(LayerType::Conv2d),
        flattens: false,
        check: linear::check_pixel_linear,
    },
    Kind {
        name: "dropout",
        positional: positional("p", false),
        params: &[param("p", Real("0.5"))],
        layer: None,
        flattens: false,
        check: shape::check_dropout,
    },
    Kind {
        name: "stochastic_depth",
        positional: positional("p", false),
        params: &[param("p", Real("0.0")), param("mode", Name("row"))],
        layer: None,
        flattens: false,
        check: shape::check_stochastic_depth,
    },
    Kind {
        name: "identity",
        positional: None,
        params: &[],
        layer: None,
        flattens: false,
        check: shape::check_identity,
    },
];

/// The kind named `name`.
pub fn find(name: &str) -> Option<&'static Kind> {
    CATALOG.iter().find(|k| k.name == name)
}

impl Kind {
    /// The named parameter `name`.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}
