//! A network as data: the checked graph that `network!` emits, and the one executor, loader,
//! saver, initialiser and fuser that work on any such graph.
//!
//! The macro proves every shape at compile time, then writes the network down as a constant
//! [`Graph`]: its layers with their resolved parameters, output shapes and tensor specs, the
//! fusion groups it planned, the structure that joins them ([`Node`]), and the summary rows.
//! What the network *does* is runtime code written once here, not code generated per network:
//!
//! | what | where |
//! |---|---|
//! | the weights of one network's own layers, and their fused forms | [`Model`] |
//! | `forward`: walks the nodes, reusing buffers in place where it can | [`Module::run`] (`run.rs`) |
//! | loading, saving and seeded initialisation, driven by the [`TensorSpec`]s | [`Model::take`], [`Model::save`], [`Model::init`] |
//! | fusion: each [`Group`] folded into one convolution | [`Model::fuse`] |
//! | the summary table | [`Graph::summary`] |
//! | which rows feed which, and the picture of the network | [`Summary::edges`], [`Summary::picture`] (`summary/`) |
//! | where a forward spends its time, step by step | [`Module::profile`] (`profile.rs`) |
//! | what a forward needs in memory: each value's steps and offset | [`Module::memory_plan`] (`plan.rs`) |
//!
//! A generated network is a thin typed shell around a [`Model`]: it implements [`Module`] (and
//! [`Build`] to construct itself), holds the networks it uses from other invocations as typed
//! fields, and exposes each layer through a typed accessor.
//!
//! A graph can be written by hand too; the macro is only its most careful author:
//!
//! ```
//! use ndarray::Array4;
//! use stride_runtime::graph::{Graph, Layer, Model, Node, Op, TensorSpec, InitRule};
//! use stride_runtime::ops::{Activation, Conv2dParams};
//! use stride_runtime::{Hw, Padding2d};
//!
//! const LAYERS: &[Layer] = &[
//!     Layer {
//!         row: 0,
//!         key: "conv",
//!         name: "conv",
//!         op: Op::Conv2d(Conv2dParams {
//!             stride: Hw([1, 1]),
//!             padding: Padding2d::asymmetric(1, 1, 1, 1),
//!             dilation: Hw([1, 1]),
//!             groups: 1,
//!         }),
//!         output: &[4, 8, 8],
//!         tensors: &[
//!             TensorSpec { name: "weight", shape: &[4, 3, 3, 3], init: InitRule::KaimingNormalFanOut },
//!             TensorSpec { name: "bias", shape: &[4], init: InitRule::Zeros },
//!         ],
//!     },
//!     Layer {
//!         row: 1,
//!         key: "relu",
//!         name: "relu",
//!         op: Op::Activation(Activation::Relu),
//!         output: &[4, 8, 8],
//!         tensors: &[],
//!     },
//! ];
//! const TINY: Graph = Graph {
//!     output: &[4, 8, 8],
//!     layers: LAYERS,
//!     nodes: &[Node::Layer(0), Node::Layer(1)],
//!     params: 4 * 3 * 3 * 3 + 4,
//!     macs: 4 * 3 * 9 * 64,
//!     receptive_field: Some([3, 3]),
//!     jump: Some([1, 1]),
//!     ..Graph::new("Tiny", [3, 8, 8])
//! };
//!
//! let model = Model::init(&TINY, 7);
//! let y = model.run(&[], Array4::<f32>::ones((2, 3, 8, 8)).view())?.into_map("Tiny")?;
//! assert_eq!(y.dim(), (2, 4, 8, 8));
//! assert!(y.iter().all(|&v| v >= 0.0));
//! # Ok::<(), stride_runtime::Error>(())
//! ```

mod model;
mod module;
mod plan;
mod profile;
mod run;
mod size;
mod tensor;
#[cfg(test)]
mod tests;
mod value;

pub use model::Model;
pub(crate) use model::{FusedLayer, Slot};
pub use module::{Build, Module, from_weights, init};
pub use plan::{MemoryPlan, PlannedValue};
pub use profile::{Profile, Step};
pub use size::{SizeCause, SizeError, check_size, gives, takes};
pub use tensor::{InitRule, TensorSpec};
pub use value::Value;

use crate::Hw;
use crate::custom::CustomOp;
use crate::ops::{
    Activation, AvgPool2dParams, Conv2dParams, ConvTranspose2dParams, MaxPool2dParams,
    UpsampleParams,
};
use crate::summary::{InputSize, LayerInfo, Summary};
use stride_geometry::FlowOp;

/// A checked network: everything the runtime needs to run, load, save, initialise, fuse and
/// summarise it, as constant data.
///
/// The indices in [`Node`]s and [`Group`]s point into [`layers`](Graph::layers),
/// [`groups`](Graph::groups) and [`externals`](Graph::externals).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Graph {
    /// The network's name, which errors about its input start with.
    pub name: &'static str,
    /// The input shape of one sample, `[C, H, W]`; 0 on an axis that takes many sizes (a name
    /// in the declaration, `[3, H, W]`).
    pub input: [usize; 3],
    /// The sizes each spatial axis takes.
    pub sizes: [InputSize; 2],
    /// The input the layers' output shapes, the summary rows and [`macs`](Graph::macs) are
    /// given at: [`input`](Graph::input) itself, or for an axis that takes many sizes, the
    /// smallest.
    pub at: [usize; 3],
    /// Each spatial axis's size program: how each layer and branch maps the size, which the
    /// runtime runs on each input's size before the layers do.
    pub flows: [&'static [FlowOp]; 2],
    /// The output shape of one sample: `[C, H, W]` or `[F]`.
    pub output: &'static [usize],
    /// Every layer, in the order the network runs them; a layer's index is its slot in the
    /// [`Model`].
    pub layers: &'static [Layer],
    /// The fusion groups: a convolution, the batch norm after it, and an activation.
    pub groups: &'static [Group],
    /// The networks from other invocations that this one runs as layers.
    pub externals: &'static [External],
    /// How the layers are joined: a sequence, with residual and concat branches.
    pub nodes: &'static [Node],
    /// The summary: one row per layer, residual add, concat and external network.
    pub rows: &'static [LayerInfo],
    /// Trainable parameters, the external networks' included.
    pub params: u64,
    /// Multiply-adds per sample, the external networks' included.
    pub macs: u64,
    /// The receptive field of one output position, `[h, w]`, where it is defined.
    pub receptive_field: Option<[usize; 2]>,
    /// The distance in input pixels between neighbouring outputs, where the field is defined.
    pub jump: Option<[usize; 2]>,
}

impl Graph {
    /// The summary table of the graph: its rows and totals.
    ///
    /// ```
    /// use stride_runtime::graph::Graph;
    ///
    /// const EMPTY: Graph = Graph::new("Nothing", [1, 1, 1]);
    /// assert!(EMPTY.summary().to_string().starts_with("Nothing: input [1, 1, 1]"));
    /// ```
    pub const fn summary(&'static self) -> Summary {
        Summary {
            name: self.name,
            input: &self.at,
            layers: self.rows,
            params: self.params,
            macs: self.macs,
            sizes: self.sizes,
            flow: self.flows[0],
        }
    }

    /// The layer whose weight key prefix is `key` (`"layer1.0.conv1"`), with its index.
    ///
    /// ```
    /// # use stride_runtime::graph::Graph;
    /// # const EMPTY: Graph = Graph::new("Nothing", [1, 1, 1]);
    /// assert!(EMPTY.layer("conv1").is_none());
    /// ```
    pub fn layer(&self, key: &str) -> Option<(usize, &'static Layer)> {
        self.layers.iter().enumerate().find(|(_, l)| l.key == key)
    }
}

/// One layer: what it computes, where its weights are stored, and its output shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer {
    /// Its row in the summary ([`Graph::rows`]).
    pub row: usize,
    /// Its weight key prefix and summary name, as a PyTorch `state_dict` names the module:
    /// `"layer1.0.conv1"`.
    pub key: &'static str,
    /// Its name in Rust: the typed accessor of the generated network (`"layer1_0_conv1"`).
    pub name: &'static str,
    /// The operation, with every parameter resolved.
    pub op: Op,
    /// The output shape of one sample, at the input [`Graph::at`].
    pub output: &'static [usize],
    /// The tensors it stores, in the order they are initialised.
    pub tensors: &'static [TensorSpec],
}

/// A layer's operation, with the parameters the macro resolved (padding as explicit pads).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// A convolution: tensors `weight` `[Cout, Cin/groups, kh, kw]` and optionally `bias`.
    Conv2d(Conv2dParams),
    /// A transposed convolution: `weight` `[Cin, Cout/groups, kh, kw]` and optionally `bias`.
    ConvTranspose2d(ConvTranspose2dParams),
    /// Inference batch norm: `weight`, `bias`, `running_mean`, `running_var`.
    BatchNorm2d {
        /// Added to the variance.
        eps: f32,
    },
    /// A layer norm over each pixel's channels: `weight` and `bias`, `[C]`.
    LayerNorm2d {
        /// Added to the variance.
        eps: f32,
    },
    /// Each channel times a learned value: one tensor without a name (its key is the
    /// layer's), `[C, 1, 1]`.
    LayerScale,
    /// A fully connected layer: `weight` `[out, in]` and optionally `bias`.
    Linear,
    /// Max pooling.
    MaxPool2d(MaxPool2dParams),
    /// Average pooling.
    AvgPool2d(AvgPool2dParams),
    /// Adaptive average pooling to a fixed output size.
    AdaptiveAvgPool2d(Hw),
    /// An elementwise activation.
    Activation(Activation),
    /// Nearest or bilinear upsampling.
    Upsample(UpsampleParams),
    /// `[C, H, W]` to `[C*H*W]`.
    Flatten,
    /// Nothing at inference.
    Dropout,
    /// Its input, unchanged: a concat branch that passes the input through.
    Identity,
    /// A layer of one's own ([`CustomLayer`](crate::custom::CustomLayer)): its tensors are
    /// the layer's [`tensors`](Layer::tensors), and it keeps its input's height and width.
    Custom(&'static CustomOp),
}

/// A fusion group: a convolution (or transposed convolution), the batch norm after it, and the
/// activation the fused layer applies. Once fused, the three run as one convolution whose
/// weights have the batch norm folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// The convolution's layer index.
    pub conv: usize,
    /// The layer index of the batch norm (or layer scale) folded into the convolution, if any.
    pub bn: Option<usize>,
    /// The activation's layer index: the group's own, or, for a group that closes a residual
    /// ([`before_add`](Group::before_add)), the one after the residual add.
    pub activation: Option<usize>,
    /// Whether the group closes a residual's main path: the shortcut is added to its output
    /// before the activation.
    pub before_add: bool,
}

/// A network from another invocation, run as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct External {
    /// Its weight key prefix, without the dot.
    pub key: &'static str,
    /// Its field in the generated struct.
    pub name: &'static str,
    /// The seed [`Model::init`]'s caller gives it is the network's seed plus this.
    pub seed_offset: u64,
}

/// How the layers are joined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    /// One layer, by index.
    Layer(usize),
    /// A fusion group, by index: its layers one after the other, or the fused layer.
    Group(usize),
    /// The main path's output plus the input, through the shortcut when there is one.
    Residual {
        /// The main path, up to its closing group.
        main: &'static [Node],
        /// The shortcut, when the main path changes the shape.
        shortcut: Option<&'static [Node]>,
        /// The group that ends the main path, after `main`: a convolution and its batch norm,
        /// then the add, then the group's [`activation`](Group::activation). Once fused, the
        /// convolution adds the shortcut as it writes its output. `None` when the main path
        /// ends otherwise: the add follows `main`.
        closing: Option<usize>,
    },
    /// Branches from the same input, joined along channels.
    Concat(&'static [&'static [Node]]),
    /// The input times its gate's output: one value per sample and channel (`[N, C, 1, 1]`,
    /// squeeze-excitation's) or one per value (the input's shape).
    Scale(&'static [Node]),
    /// A network from another invocation, by index in [`Graph::externals`].
    External(usize),
}
