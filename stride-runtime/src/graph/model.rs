//! A graph's weights: one slot per layer, built from the tensors its [`TensorSpec`]s name, and
//! one fused layer per [`Group`] once the model is fused.

use ndarray::{Array1, ArrayD, ArrayViewD, Dimension, IxDyn};

use super::{Graph, Group, InitRule, Layer, Op, TensorSpec};
use crate::arena::Arena;
use crate::custom::{CustomLayer, CustomSlot, CustomTensors};
use crate::init::{Init, fan_in_bound, kaiming_fan_out_std};
use crate::ops::{
    Activation, BatchNorm2d, Conv2d, ConvTranspose2d, Fused, LayerNorm2d, LayerScale, Linear,
    MaxPool2dParams,
};
use crate::weights::{Loader, SaveError, Saver};
use crate::{Error, Result};

/// The weights of one network's own layers (networks it uses from other invocations keep
/// theirs), and the fused layers [`Model::fuse`] builds from them.
///
/// A model is built for one [`Graph`] and only ever holds the layer types that graph names, so
/// the typed accessors ([`Model::conv2d`], …) always find the type they ask for.
#[derive(Debug, Clone)]
pub struct Model {
    graph: &'static Graph,
    /// One per layer of the graph, in its order.
    slots: Vec<Slot>,
    /// One per group of the graph; `Some` once fused.
    fused: Vec<Option<FusedLayer>>,
    /// The buffers its forwards reuse.
    arena: Arena,
}

/// What a layer keeps between calls.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// A layer without weights.
    Stateless,
    Conv2d(Conv2d),
    ConvTranspose2d(ConvTranspose2d),
    BatchNorm2d(BatchNorm2d),
    LayerNorm2d(LayerNorm2d),
    LayerScale(LayerScale),
    Linear(Linear),
    Custom(CustomSlot),
}

/// A group's convolution with its batch norm folded in and its activation absorbed.
#[derive(Debug, Clone)]
pub(crate) enum FusedLayer {
    Conv2d(Fused<Conv2d>),
    ConvTranspose2d(Fused<ConvTranspose2d>),
}

/// A layer's tensors by name, as loaded or drawn, waiting to be built into the layer.
struct Tensors {
    layer: &'static Layer,
    items: Vec<(&'static str, ArrayD<f32>)>,
}

impl Tensors {
    fn new(layer: &'static Layer) -> Self {
        Tensors {
            layer,
            items: Vec::with_capacity(layer.tensors.len()),
        }
    }

    /// Tensor `name` with `D`'s rank, if the layer has it.
    fn optional<D: Dimension>(&mut self, name: &str) -> Result<Option<ndarray::Array<f32, D>>> {
        let Some(at) = self.items.iter().position(|(n, _)| *n == name) else {
            return Ok(None);
        };
        let (_, tensor) = self.items.swap_remove(at);
        let shape = tensor.shape().to_vec();
        with_rank::<D>(tensor)
            .into_dimensionality::<D>()
            .map(Some)
            .map_err(|_| Error::Shape {
                op: "graph",
                tensor: "weight",
                expected: format!(
                    "{} axes for `{}.{name}`",
                    D::NDIM.unwrap_or(0),
                    self.layer.key
                ),
                got: shape,
            })
    }

    /// Tensor `name`, which the layer's op needs.
    fn required<D: Dimension>(&mut self, name: &str) -> Result<ndarray::Array<f32, D>> {
        self.optional(name)?.ok_or_else(|| Error::Param {
            op: "graph",
            message: format!("layer `{}` has no tensor `{name}`", self.layer.key),
        })
    }

    /// The layer's slot, built from its tensors.
    fn build(mut self) -> Result<Slot> {
        let layer = self.layer;
        Ok(match layer.op {
            Op::Conv2d(params) => Slot::Conv2d(Conv2d::new(
                self.required("weight")?,
                self.optional("bias")?,
                params,
            )?),
            Op::ConvTranspose2d(params) => Slot::ConvTranspose2d(ConvTranspose2d::new(
                self.required("weight")?,
                self.optional("bias")?,
                params,
            )?),
            Op::BatchNorm2d { eps } => {
                let mean: Array1<f32> = self.required("running_mean")?;
                let var: Array1<f32> = self.required("running_var")?;
                let weight: Option<Array1<f32>> = self.optional("weight")?;
                let bias: Option<Array1<f32>> = self.optional("bias")?;
                Slot::BatchNorm2d(BatchNorm2d::new(
                    mean.view(),
                    var.view(),
                    weight.as_ref().map(|w| w.view()),
                    bias.as_ref().map(|b| b.view()),
                    eps,
                )?)
            }
            Op::LayerNorm2d { eps } => Slot::LayerNorm2d(LayerNorm2d::new(
                self.required("weight")?,
                self.required("bias")?,
                eps,
            )?),
            Op::LayerScale => Slot::LayerScale(LayerScale::new(self.required("")?)?),
            Op::Linear => Slot::Linear(Linear::new(
                self.required("weight")?,
                self.optional("bias")?,
            )?),
            Op::Custom(op) => Slot::Custom(op.build(&mut CustomTensors::new(op.kind, self.items))?),
            _ => Slot::Stateless,
        })
    }
}

impl Slot {
    /// The stored tensor `name`, for saving.
    fn tensor(&self, name: &str) -> Option<ArrayViewD<'_, f32>> {
        match (self, name) {
            (Slot::Conv2d(c), "weight") => Some(c.weight().into_dyn()),
            (Slot::Conv2d(c), "bias") => c.bias().map(|b| b.into_dyn()),
            (Slot::ConvTranspose2d(c), "weight") => Some(c.weight().into_dyn()),
            (Slot::ConvTranspose2d(c), "bias") => c.bias().map(|b| b.into_dyn()),
            (Slot::BatchNorm2d(b), "weight") => b.weight().map(|w| w.into_dyn()),
            (Slot::BatchNorm2d(b), "bias") => b.bias().map(|w| w.into_dyn()),
            (Slot::BatchNorm2d(b), "running_mean") => Some(b.running_mean().into_dyn()),
            (Slot::BatchNorm2d(b), "running_var") => Some(b.running_var().into_dyn()),
            (Slot::LayerNorm2d(n), "weight") => Some(n.weight().into_dyn()),
            (Slot::LayerNorm2d(n), "bias") => Some(n.bias().into_dyn()),
            (Slot::LayerScale(s), "") => Some(s.scale().into_dyn()),
            (Slot::Linear(l), "weight") => Some(l.weight().into_dyn()),
            (Slot::Linear(l), "bias") => l.bias().map(|b| b.into_dyn()),
            (Slot::Custom(c), name) => c.tensor(name),
            _ => None,
        }
    }
}

/// What a layer's accessor asked for is not what the graph put there: only a hand-made graph
/// whose accessor disagrees with its layer can get here.
#[cold]
fn wrong_slot(graph: &Graph, index: usize, wanted: &str) -> ! {
    let key = graph.layers.get(index).map_or("?", |l| l.key);
    panic!(
        "{}: layer {index} (`{key}`) is not a {wanted}; the accessor and the graph disagree",
        graph.name
    )
}

/// The typed accessors: `$get` and `$get_mut` return layer `index` as a `$ty`.
macro_rules! accessors {
    ($($variant:ident: $ty:ty, $get:ident, $get_mut:ident, $what:literal;)*) => {
        impl Model {
            $(
                #[doc = concat!("Layer `index` as ", $what, ".")]
                ///
                /// # Panics
                /// When the graph's layer `index` is not of that type, which the accessors
                /// `network!` generates never ask for.
                pub fn $get(&self, index: usize) -> &$ty {
                    match self.slots.get(index) {
                        Some(Slot::$variant(layer)) => layer,
                        _ => wrong_slot(self.graph, index, $what),
                    }
                }

                #[doc = concat!("Layer `index` as ", $what, ", to change. A fused model keeps")]
                /// its fused layers: call [`Model::fuse`] again afterwards.
                ///
                /// # Panics
                /// As the shared accessor.
                pub fn $get_mut(&mut self, index: usize) -> &mut $ty {
                    let graph = self.graph;
                    match self.slots.get_mut(index) {
                        Some(Slot::$variant(layer)) => layer,
                        _ => wrong_slot(graph, index, $what),
                    }
                }
            )*
        }
    };
}

accessors! {
    Conv2d: Conv2d, conv2d, conv2d_mut, "a `Conv2d`";
    ConvTranspose2d: ConvTranspose2d, conv_transpose2d, conv_transpose2d_mut, "a `ConvTranspose2d`";
    BatchNorm2d: BatchNorm2d, batch_norm2d, batch_norm2d_mut, "a `BatchNorm2d`";
    LayerNorm2d: LayerNorm2d, layer_norm2d, layer_norm2d_mut, "a `LayerNorm2d`";
    LayerScale: LayerScale, layer_scale, layer_scale_mut, "a `LayerScale`";
    Linear: Linear, linear, linear_mut, "a `Linear`";
}

impl Model {
    /// The custom layer keyed `key` (`"blocks.0.shuffle"`), if the graph has one there of
    /// type `T`.
    pub fn custom<T: CustomLayer>(&self, key: &str) -> Option<&T> {
        let (index, _) = self.graph.layer(key)?;
        match &self.slots[index] {
            Slot::Custom(layer) => layer.downcast(),
            _ => None,
        }
    }

    /// Layer `index` as the custom layer `T`: what a network's accessor for it returns. (Any
    /// `'static` type may be asked for, so that a type that is not a custom layer gets one
    /// error, where the network uses it, rather than one more here.)
    ///
    /// # Panics
    /// When the graph's layer `index` is not a `T`, which the accessors `network!` generates
    /// never ask for.
    pub fn custom_at<T: 'static>(&self, index: usize) -> &T {
        match self.slots.get(index) {
            Some(Slot::Custom(layer)) => match layer.downcast() {
                Some(layer) => layer,
                None => wrong_slot(self.graph, index, std::any::type_name::<T>()),
            },
            _ => wrong_slot(self.graph, index, std::any::type_name::<T>()),
        }
    }

    /// The graph this model holds the weights of.
    pub fn graph(&self) -> &'static Graph {
        self.graph
    }

    /// Takes every tensor of the graph's layers from `loader`, under `prefix` (empty, or a
    /// module path ending in a dot). The loader records what is missing or wrong and
    /// [`Loader::finish`] reports it; then this returns `Ok(None)`.
    ///
    /// # Errors
    /// Tensors that have the shapes the graph asks for but do not make a valid layer, which
    /// only a hand-made graph can cause.
    pub fn take(
        graph: &'static Graph,
        loader: &mut Loader<'_>,
        prefix: &str,
    ) -> Result<Option<Model>> {
        let mut slots = Vec::with_capacity(graph.layers.len());
        let mut complete = true;
        for layer in graph.layers {
            let mut tensors = Tensors::new(layer);
            for spec in layer.tensors {
                let key = format!("{prefix}{}", spec.key(layer.key));
                match loader.tensor::<IxDyn>(&key, spec.shape) {
                    Some(tensor) => tensors.items.push((spec.name, tensor)),
                    None => complete = false,
                }
            }
            if complete {
                slots.push(tensors.build().map_err(|e| e.in_layer(layer.key))?);
            }
        }
        Ok(complete.then(|| Model::from_slots(graph, slots)))
    }

    /// Weights drawn from `seed` by each tensor's [`InitRule`], in the graph's layer order;
    /// unfused.
    ///
    /// # Panics
    /// When the graph's tensor specs do not make its layers, which only a hand-made graph can
    /// cause.
    pub fn init(graph: &'static Graph, seed: u64) -> Model {
        let mut init = Init::new(seed);
        let slots = graph
            .layers
            .iter()
            .map(|layer| {
                let mut tensors = Tensors::new(layer);
                for spec in layer.tensors {
                    tensors.items.push((spec.name, draw(&mut init, spec)));
                }
                tensors
                    .build()
                    .unwrap_or_else(|e| panic!("{}: layer `{}`: {e}", graph.name, layer.key))
            })
            .collect();
        Model::from_slots(graph, slots)
    }

    fn from_slots(graph: &'static Graph, slots: Vec<Slot>) -> Model {
        Model {
            graph,
            slots,
            fused: vec![None; graph.groups.len()],
            arena: Arena::default(),
        }
    }

    /// Adds every tensor to `saver` under `prefix`, with the keys [`Model::take`] reads.
    ///
    /// # Errors
    /// A key the saver already holds.
    pub fn save(&self, saver: &mut Saver, prefix: &str) -> Result<(), SaveError> {
        for (layer, slot) in self.graph.layers.iter().zip(&self.slots) {
            for spec in layer.tensors {
                if let Some(tensor) = slot.tensor(spec.name) {
                    // Stored in the spec's shape: a per-pixel linear's weight is `[out, in]`
                    // where its 1x1 convolution holds `[out, in, 1, 1]`.
                    let tensor = match tensor.view().into_shape_with_order(IxDyn(spec.shape)) {
                        Ok(reshaped) => reshaped,
                        Err(_) => tensor,
                    };
                    saver.add(format!("{prefix}{}", spec.key(layer.key)), tensor)?;
                }
            }
        }
        Ok(())
    }

    /// Builds every group's fused layer from the layers' current weights.
    ///
    /// # Errors
    /// A batch norm whose width is not its convolution's output channels, which only a layer
    /// replaced through an accessor can cause.
    pub fn fuse(&mut self) -> Result<()> {
        for (index, group) in self.graph.groups.iter().enumerate() {
            let fused = self.fused_group(group).map_err(|e| {
                e.in_layer(self.graph.layers.get(group.conv).map_or("?", |l| l.key))
            })?;
            self.fused[index] = Some(fused);
        }
        Ok(())
    }

    /// Group `group`'s fused layer, built from the layers' current weights.
    pub(crate) fn fused_group(&self, group: &Group) -> Result<FusedLayer> {
        let activation = match group.activation.map(|i| self.graph.layers[i].op) {
            Some(Op::Activation(a)) => a,
            _ => Activation::Identity,
        };
        let bn = match group.bn {
            Some(index) => match &self.slots[index] {
                Slot::BatchNorm2d(bn) => Some(bn.clone()),
                Slot::LayerScale(scale) => Some(scale.as_batch_norm()?),
                _ => wrong_slot(self.graph, index, "a `BatchNorm2d` or a `LayerScale`"),
            },
            None => None,
        };
        let bn = bn.as_ref();
        Ok(match &self.slots[group.conv] {
            Slot::Conv2d(conv) => FusedLayer::Conv2d(fused(conv, bn, activation, group)?),
            Slot::ConvTranspose2d(conv) => {
                FusedLayer::ConvTranspose2d(fused(conv, bn, activation, group)?)
            }
            _ => wrong_slot(self.graph, group.conv, "a convolution"),
        })
    }

    /// Drops the fused layers: every layer runs on its own again.
    pub fn unfuse(&mut self) {
        self.fused.iter_mut().for_each(|f| *f = None);
    }

    /// Whether the groups run fused; `None` for a graph without groups.
    pub fn is_fused(&self) -> Option<bool> {
        self.fused.first().map(Option::is_some)
    }

    /// The bytes of the buffers the model keeps between forwards: what its last forward's
    /// values used, its output excepted (see [`MemoryPlan`](super::MemoryPlan) for what a
    /// forward needs at best).
    pub fn arena_bytes(&self) -> usize {
        self.arena.bytes()
    }

    pub(crate) fn arena(&self) -> &Arena {
        &self.arena
    }

    pub(crate) fn slot(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    pub(crate) fn fused(&self, group: usize) -> Option<&FusedLayer> {
        self.fused[group].as_ref()
    }

    /// The convolutions of fused groups `expand` and `depthwise`, one after the other on an
    /// input of shape `input`, when they run as one inverted residual core
    /// ([`Conv2d::fuses_with`]): both fused, each applying its own activation, neither
    /// closing a residual. The executor and the memory plan both ask this.
    pub(crate) fn inverted(
        &self,
        expand: usize,
        depthwise: usize,
        input: &[usize],
    ) -> Option<(&Conv2d, &Conv2d)> {
        let (e, d) = (self.whole_conv(expand)?, self.whole_conv(depthwise)?);
        e.fuses_with(d, input.try_into().ok()?).then_some((e, d))
    }

    /// The convolution of fused group `conv` and the max pool that is layer `pool`, one after
    /// the other on an input of shape `input`, when they run as one step
    /// ([`Conv2d::fuses_with_max_pool`]): the group fused, its activation applied by the
    /// layer, not closing a residual. The executor and the memory plan both ask this.
    pub(crate) fn pooled(
        &self,
        conv: usize,
        pool: usize,
        input: &[usize],
    ) -> Option<(&Conv2d, MaxPool2dParams)> {
        let Op::MaxPool2d(params) = self.graph.layers[pool].op else {
            return None;
        };
        let conv = self.whole_conv(conv)?;
        conv.fuses_with_max_pool(&params, input.try_into().ok()?)
            .then_some((conv, params))
    }

    /// The convolution of fused group `group` when it is the whole group: its activation
    /// applied by the layer as it writes, and no residual to add.
    fn whole_conv(&self, group: usize) -> Option<&Conv2d> {
        match self.fused(group)? {
            FusedLayer::Conv2d(fused)
                if fused.after() == Activation::Identity
                    && !self.graph.groups[group].before_add =>
            {
                Some(fused.layer())
            }
            _ => None,
        }
    }
}

fn fused<L: crate::ops::FusableLayer + Clone>(
    conv: &L,
    bn: Option<&BatchNorm2d>,
    activation: Activation,
    group: &Group,
) -> Result<Fused<L>> {
    if group.before_add {
        Fused::before_add(conv, bn, activation)
    } else {
        Fused::new(conv, bn, activation)
    }
}

/// `tensor` with `D`'s rank where only axes of length 1 differ: a checkpoint's `[out, in]`
/// per-pixel linear weight for a 1x1 convolution's `[out, in, 1, 1]`, its `[C, 1, 1]` layer
/// scale for a `[C]` vector. Any other tensor is returned as it is.
fn with_rank<D: Dimension>(tensor: ArrayD<f32>) -> ArrayD<f32> {
    let Some(rank) = D::NDIM.filter(|&rank| rank != tensor.ndim()) else {
        return tensor;
    };
    let shape = tensor.shape();
    let target: Vec<usize> = if shape.len() < rank {
        shape
            .iter()
            .copied()
            .chain(std::iter::repeat(1))
            .take(rank)
            .collect()
    } else if shape[rank..].iter().all(|&d| d == 1) {
        shape[..rank].to_vec()
    } else {
        return tensor;
    };
    if !tensor.is_standard_layout() {
        return tensor;
    }
    tensor
        .into_shape_with_order(IxDyn(&target))
        .expect("a standard-layout tensor reshapes to a shape of as many values")
}

/// One tensor's initial values.
fn draw(init: &mut Init, spec: &TensorSpec) -> ArrayD<f32> {
    let shape = IxDyn(spec.shape);
    match spec.init {
        InitRule::KaimingNormalFanOut => init.normal(shape, kaiming_fan_out_std(spec.shape)),
        InitRule::Uniform { fan_in } => init.uniform(shape, fan_in_bound(fan_in)),
        InitRule::Zeros => ArrayD::zeros(shape),
        InitRule::Ones => ArrayD::ones(shape),
    }
}
