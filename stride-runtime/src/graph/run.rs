//! The executor: one walk over a graph's nodes, written once for every network.
//!
//! Each node takes the value the previous one produced. A value the walk owns is changed in
//! place where the op allows it (activations, batch norm, the residual add, flatten, dropout
//! and identity); the others write a new output, and the old buffer goes back to the network's
//! arena (`crate::arena`) as soon as no node needs it, for a later output of this forward or
//! the next to take instead of a new allocation. `plan.rs` follows the same rules to plan a
//! forward's memory from the shapes. A concat's branches read its input without copying it, so
//! an identity branch costs only its share of the joined output. Two fused groups in a row
//! that are an expansion and its depthwise layer ([`Model::inverted`]) run as one step, whose
//! expanded map is never whole; so do a fused convolution and the max pool after it
//! ([`Model::pooled`]: a stem), whose convolution output is never whole.

use std::time::Instant;

use ndarray::{Array2, Array4, ArrayView, ArrayView4, CowArray, Dimension, Ix4};

use super::model::{FusedLayer, Slot};
use super::module::Module;
use super::plan::{self, MemoryPlan};
use super::profile::{self, Profile, Recorder, Step};
use super::value::Value;
use super::{Graph, Layer, Model, Node, Op};
use crate::ops::{
    Activation, adaptive_avg_pool2d, add_assign, avg_pool2d, max_pool2d, scale_channels_in_place,
    upsample,
};
use crate::{Error, Result, memory};

impl Model {
    /// Runs the graph on a batch `[N, C, H, W]` of any size `N`, with `externals` standing for
    /// its [`External`](super::External)s in order.
    ///
    /// # Errors
    /// An input whose `C`, `H` or `W` is not the graph's, the wrong number of externals, and
    /// anything a layer refuses (which a graph the macro checked only meets through a layer
    /// replaced with one of another shape).
    pub fn run<'a>(
        &self,
        externals: &[&dyn Module],
        input: ArrayView4<'a, f32>,
    ) -> Result<Value<'a>> {
        self.run_value(externals, Value::Map(input.into()))
    }

    /// [`Model::run`] on a value of either rank: what a network used as a layer receives.
    ///
    /// # Errors
    /// As [`Model::run`], and a flat input.
    pub fn run_value<'a>(&self, externals: &[&dyn Module], input: Value<'a>) -> Result<Value<'a>> {
        self.run_recorded(externals, input, None)
    }

    /// [`Model::run_value`], each step timed into `recorder` if there is one.
    pub(super) fn run_recorded<'a>(
        &self,
        externals: &[&dyn Module],
        input: Value<'a>,
        recorder: Option<&Recorder>,
    ) -> Result<Value<'a>> {
        let graph = self.graph();
        graph.check_input(input.shape())?;
        check_externals(graph, externals)?;
        let exec = Exec {
            graph,
            model: self,
            externals,
            recorder,
        };
        // The whole walk on the kernels' pool (one hand-off per forward, not one per layer),
        // flushing subnormals, its serial work included.
        crate::threads::run_inside(|| {
            let _flush = crate::simd::Flush::on();
            self.arena().scope(|| exec.nodes(graph.nodes, input))
        })
    }
}

impl Model {
    /// The memory plan of a forward on an input of shape `input`, with `externals` standing
    /// for the graph's [`External`](super::External)s, for the fused or unfused layers as the
    /// model runs them now (`plan.rs`).
    ///
    /// # Errors
    /// An input shape [`Model::run`] refuses, and the wrong number of externals.
    pub fn memory_plan(&self, externals: &[&dyn Module], input: [usize; 4]) -> Result<MemoryPlan> {
        self.graph().check_input(&input)?;
        check_externals(self.graph(), externals)?;
        plan::plan(self, input, &|index, shape| {
            externals[index].memory_plan(shape)
        })
    }

    /// Runs the graph `runs + 1` times on `input` (the first run warms caches and the
    /// thread pool, and is not counted) and gives each step's median time.
    ///
    /// # Errors
    /// As [`Model::run`], and `runs == 0`.
    pub fn profile(
        &self,
        externals: &[&dyn Module],
        input: ArrayView4<f32>,
        runs: usize,
    ) -> Result<Profile> {
        if runs == 0 {
            return Err(Error::Param {
                op: self.graph().name,
                message: "profiling takes at least one run".into(),
            });
        }
        let mut totals = Vec::with_capacity(runs);
        let mut all: Vec<Vec<Step>> = Vec::with_capacity(runs);
        for run in 0..=runs {
            let recorder = Recorder::default();
            let start = Instant::now();
            drop(self.run_recorded(externals, input.into(), Some(&recorder))?);
            let total = start.elapsed();
            if run > 0 {
                totals.push(total);
                all.push(recorder.into_steps());
            }
        }
        let (n, c, h, w) = input.dim();
        let memory = self.memory_plan(externals, [n, c, h, w])?;
        Ok(profile::profile(all, totals, memory, self.arena_bytes()))
    }
}

/// Refuses a list of externals that is not the graph's.
fn check_externals(graph: &Graph, externals: &[&dyn Module]) -> Result<()> {
    if externals.len() == graph.externals.len() {
        return Ok(());
    }
    Err(Error::Param {
        op: graph.name,
        message: format!(
            "the graph runs {} networks from other invocations, but {} were given",
            graph.externals.len(),
            externals.len()
        ),
    })
}

/// One walk over a graph.
struct Exec<'m> {
    graph: &'static Graph,
    model: &'m Model,
    externals: &'m [&'m dyn Module],
    recorder: Option<&'m Recorder>,
}

impl Exec<'_> {
    /// Runs `f`, one step of the walk, timed under `key` and `kind` when profiling.
    fn step<'a>(
        &self,
        key: &'static str,
        kind: impl FnOnce() -> String,
        f: impl FnOnce() -> Result<Value<'a>>,
    ) -> Result<Value<'a>> {
        match self.recorder {
            Some(recorder) => recorder.time(key, kind, f, |y| y.shape().to_vec()),
            None => f(),
        }
    }

    /// A step (as [`Exec::step`]) that maps the feature map `x` to a new one with `f`, its
    /// errors naming `key`: a fused group, and the steps that run two layers as one.
    fn map_step<'a>(
        &self,
        key: &'static str,
        kind: impl FnOnce() -> String,
        x: Value<'a>,
        f: impl FnOnce(ArrayView4<f32>) -> Result<Array4<f32>>,
    ) -> Result<Value<'a>> {
        self.step(key, kind, || {
            let x = x.map(key, "input")?;
            Ok(consume(x, |x| f(x).map_err(|e| e.in_layer(key)))?.into())
        })
    }

    fn nodes<'a>(&self, nodes: &[Node], mut x: Value<'a>) -> Result<Value<'a>> {
        let mut rest = nodes;
        while let [node, after @ ..] = rest {
            // An expansion and the depthwise layer after it, as one step where they fuse.
            if let ([Node::Group(a), Node::Group(b), ..], Value::Map(map)) = (rest, &x) {
                if let Some((expand, depthwise)) = self.model.inverted(*a, *b, map.shape()) {
                    let key = self.graph.layers[self.graph.groups[*a].conv].key;
                    x = self.map_step(
                        key,
                        || "1x1 + depthwise fused".into(),
                        x,
                        |x| expand.forward_with_depthwise(depthwise, x),
                    )?;
                    rest = &rest[2..];
                    continue;
                }
            }
            // A convolution and the max pool after it, as one step where they fuse.
            if let ([Node::Group(a), Node::Layer(p), ..], Value::Map(map)) = (rest, &x) {
                if let Some((conv, pool)) = self.model.pooled(*a, *p, map.shape()) {
                    let index = self.graph.groups[*a].conv;
                    let key = self.graph.layers[index].key;
                    let kind = || {
                        let (conv, pool) = (self.graph.kind(index), self.graph.kind(*p));
                        format!("{conv} + {pool} fused")
                    };
                    x = self.map_step(key, kind, x, |x| conv.forward_with_max_pool(&pool, x))?;
                    rest = &rest[2..];
                    continue;
                }
            }
            x = self.node(node, x)?;
            rest = after;
        }
        Ok(x)
    }

    fn node<'a>(&self, node: &Node, x: Value<'a>) -> Result<Value<'a>> {
        match *node {
            Node::Layer(index) => self.layer(index, x),
            Node::Group(index) => self.group(index, x),
            Node::Residual {
                main,
                shortcut,
                closing,
            } => self.residual(main, shortcut, closing, x),
            Node::Concat(branches) => self.concat(branches, x),
            Node::Scale(gate) => self.scale(gate, x),
            Node::External(index) => self.step(
                self.graph.externals[index].key,
                || "network".into(),
                || self.externals[index].run_value(x),
            ),
        }
    }

    /// Layer `index`, its errors naming it.
    fn layer<'a>(&self, index: usize, x: Value<'a>) -> Result<Value<'a>> {
        let layer = &self.graph.layers[index];
        self.step(
            layer.key,
            || self.graph.kind(index).into(),
            || apply(layer, self.model.slot(index), x).map_err(|e| e.in_layer(layer.key)),
        )
    }

    /// A fusion group: the fused layer, or its layers one after the other.
    fn group<'a>(&self, index: usize, x: Value<'a>) -> Result<Value<'a>> {
        let group = &self.graph.groups[index];
        let key = self.graph.layers[group.conv].key;
        if group.before_add {
            return Err(Error::Param {
                op: self.graph.name,
                message: format!("the group of `{key}` closes a residual but runs outside one"),
            });
        }
        match self.model.fused(index) {
            Some(fused) => self.map_step(
                key,
                || format!("{} fused", self.graph.kind(group.conv)),
                x,
                |x| fused.forward(x),
            ),
            None => {
                let x = self.layer(group.conv, x)?;
                let x = match group.bn {
                    Some(bn) => self.layer(bn, x)?,
                    None => x,
                };
                match group.activation {
                    Some(activation) => self.layer(activation, x),
                    None => Ok(x),
                }
            }
        }
    }

    /// `main(x) + shortcut(x)`, the closing group (if any) adding as it writes.
    fn residual<'a>(
        &self,
        main: &[Node],
        shortcut: Option<&[Node]>,
        closing: Option<usize>,
        skip: Value<'a>,
    ) -> Result<Value<'a>> {
        let name = self.graph.name;
        // Both paths' outputs are made owned before `skip` is given up, so that an identity
        // shortcut can lend its buffer to the block's output. Each is a copy only where its
        // path changed nothing (an empty main path, a shortcut of dropouts).
        let y = self.nodes(main, skip.view())?.map(name, "residual")?;
        let y = memory::into_owned(name, "residual", y)?;
        let (s, skip): (CowArray<'a, f32, Ix4>, _) = match shortcut {
            Some(shortcut) => {
                let s = self.nodes(shortcut, skip.view())?.map(name, "shortcut")?;
                (memory::into_owned(name, "shortcut", s)?.into(), Some(skip))
            }
            None => (skip.map(name, "shortcut")?, None),
        };
        let Some(index) = closing else {
            return self.step(
                name,
                || "add".into(),
                || {
                    let y = consume(s, |s| add(name, y.into(), s))?;
                    give_back(skip);
                    Ok(y.into())
                },
            );
        };
        let group = &self.graph.groups[index];
        let key = self.graph.layers[group.conv].key;
        if let Some(fused) = self.model.fused(index) {
            return self.step(
                key,
                || format!("{} fused + add", self.graph.kind(group.conv)),
                || {
                    // The shortcut's buffer becomes the output: the convolution adds into it.
                    let s = memory::into_owned(key, "shortcut", s)?;
                    let y = consume(CowArray::from(y), |y| {
                        fused.forward_add_owned(y, s).map_err(|e| e.in_layer(key))
                    })?;
                    give_back(skip);
                    Ok(y.into())
                },
            );
        }
        let y = self.layer(group.conv, y.into())?;
        let y = match group.bn {
            Some(bn) => self.layer(bn, y)?,
            None => y,
        };
        let y = self.step(
            key,
            || "add".into(),
            || {
                let y = consume(s, |s| add(key, y, s))?;
                give_back(skip);
                Ok(y.into())
            },
        )?;
        match group.activation {
            Some(activation) => self.layer(activation, y),
            None => Ok(y),
        }
    }

    /// `x` times `gate(x)`, in `x`'s buffer when the walk owns it.
    fn scale<'a>(&self, gate: &[Node], x: Value<'a>) -> Result<Value<'a>> {
        let name = self.graph.name;
        let g = self.nodes(gate, x.view())?.map(name, "gate")?;
        let g = memory::into_owned(name, "gate", g)?;
        self.step(
            name,
            || "scale".into(),
            || {
                let mut y = memory::into_owned(name, "scale", x.map(name, "scale")?)?;
                multiply(y.view_mut(), g.view())?;
                crate::arena::give(g);
                Ok(y.into())
            },
        )
    }

    /// Every branch on the same input, joined along channels.
    fn concat<'a>(&self, branches: &[&[Node]], x: Value<'a>) -> Result<Value<'a>> {
        let name = self.graph.name;
        let parts = branches
            .iter()
            .map(|branch| self.nodes(branch, x.view())?.map(name, "concat branch"))
            .collect::<Result<Vec<_>>>()?;
        let y = self.step(
            name,
            || "concat".into(),
            || {
                let views: Vec<ArrayView4<f32>> = parts.iter().map(|p| p.view()).collect();
                let y = crate::ops::concat_channels(&views)?;
                parts.into_iter().for_each(give_cow);
                Ok(y.into())
            },
        )?;
        give_back(Some(x));
        Ok(y)
    }
}

impl FusedLayer {
    fn forward(&self, x: ArrayView4<f32>) -> Result<Array4<f32>> {
        match self {
            FusedLayer::Conv2d(f) => f.forward(x),
            FusedLayer::ConvTranspose2d(f) => f.forward(x),
        }
    }

    fn forward_add_owned(&self, x: ArrayView4<f32>, residual: Array4<f32>) -> Result<Array4<f32>> {
        match self {
            FusedLayer::Conv2d(f) => f.forward_add_owned(x, residual),
            FusedLayer::ConvTranspose2d(f) => f.forward_add_owned(x, residual),
        }
    }
}

/// `y + s`, in `y`'s buffer when the walk owns it.
fn add(op: &'static str, y: Value<'_>, s: ArrayView4<f32>) -> Result<Array4<f32>> {
    let mut y = memory::into_owned(op, "residual", y.map(op, "residual")?)?;
    add_assign(y.view_mut(), s)?;
    Ok(y)
}

/// One layer's op on `x`, in place where the op allows it.
fn apply<'a>(layer: &Layer, slot: &Slot, x: Value<'a>) -> Result<Value<'a>> {
    let op = layer.key;
    Ok(match (layer.op, slot) {
        (Op::Conv2d(_), Slot::Conv2d(conv)) => {
            consume(x.map(op, "input")?, |x| conv.forward(x))?.into()
        }
        (Op::ConvTranspose2d(_), Slot::ConvTranspose2d(conv)) => {
            consume(x.map(op, "input")?, |x| conv.forward(x))?.into()
        }
        (Op::BatchNorm2d { .. }, Slot::BatchNorm2d(bn)) => {
            let mut y = memory::into_owned(op, "input copy", x.map(op, "input")?)?;
            bn.forward_in_place(y.view_mut())?;
            y.into()
        }
        (Op::LayerNorm2d { .. }, Slot::LayerNorm2d(norm)) => {
            let mut y = memory::into_owned(op, "input copy", x.map(op, "input")?)?;
            norm.forward_in_place(y.view_mut())?;
            y.into()
        }
        (Op::LayerScale, Slot::LayerScale(scale)) => {
            let mut y = memory::into_owned(op, "input copy", x.map(op, "input")?)?;
            scale.forward_in_place(y.view_mut())?;
            y.into()
        }
        (Op::Linear, Slot::Linear(linear)) => {
            consume(x.flat(op, "input")?, |x| linear.forward(x))?.into()
        }
        (Op::MaxPool2d(params), _) => {
            consume(x.map(op, "input")?, |x| max_pool2d(x, &params))?.into()
        }
        (Op::AvgPool2d(params), _) => {
            consume(x.map(op, "input")?, |x| avg_pool2d(x, &params))?.into()
        }
        (Op::AdaptiveAvgPool2d(size), _) => {
            consume(x.map(op, "input")?, |x| adaptive_avg_pool2d(x, size))?.into()
        }
        (Op::Upsample(params), _) => consume(x.map(op, "input")?, |x| upsample(x, &params))?.into(),
        (Op::Activation(activation), _) => activate(op, activation, x)?,
        (Op::Flatten, _) => match x {
            Value::Map(x) => flatten(op, x)?.into(),
            flat @ Value::Flat(_) => flat,
        },
        (Op::Dropout | Op::Identity, _) => x,
        (Op::Custom(_), Slot::Custom(custom)) => {
            consume(x.map(op, "input")?, |x| custom.forward(x))?.into()
        }
        (op, slot) => {
            return Err(Error::Param {
                op: layer.key,
                message: format!("the layer is a {op:?} but holds {slot:?}"),
            });
        }
    })
}

/// `f` on a view of `x`; then `x`'s buffer, when the walk owns it, goes back to the forward's
/// arena for a later output (`crate::arena`).
fn consume<D: Dimension, T>(
    x: CowArray<'_, f32, D>,
    f: impl FnOnce(ArrayView<f32, D>) -> Result<T>,
) -> Result<T> {
    let y = f(x.view())?;
    give_cow(x);
    Ok(y)
}

/// `x`'s buffer back to the forward's arena, when the walk owns it.
fn give_cow<D: Dimension>(x: CowArray<'_, f32, D>) {
    if x.is_owned() {
        crate::arena::give(x.into_owned());
    }
}

/// A value the walk no longer needs (a residual's input once its shortcut and the add have
/// read it, a concat's input once its branches have), back to the forward's arena.
fn give_back(x: Option<Value<'_>>) {
    match x {
        Some(Value::Map(a)) => give_cow(a),
        Some(Value::Flat(a)) => give_cow(a),
        None => {}
    }
}

/// `y *= gate`, the gate `[N, C, 1, 1]` (squeeze-excitation's: one pass over `y`) or `y`'s
/// shape.
fn multiply(mut y: ndarray::ArrayViewMut4<f32>, gate: ArrayView4<f32>) -> Result<()> {
    if gate.dim() == y.dim() && gate.dim().2 * gate.dim().3 != 1 {
        y *= &gate;
        return Ok(());
    }
    scale_channels_in_place(y, gate)
}

/// `activation` of every value, in the value's own buffer when it owns one (a copy of a
/// borrowed one, refused with `op` when it cannot be allocated).
fn activate<'a>(op: &'static str, activation: Activation, x: Value<'a>) -> Result<Value<'a>> {
    Ok(match x {
        Value::Map(a) => {
            let mut a = memory::into_owned(op, "input copy", a)?;
            activation.apply_in_place(a.view_mut());
            a.into()
        }
        Value::Flat(a) => {
            let mut a = memory::into_owned(op, "input copy", a)?;
            activation.apply_in_place(a.view_mut());
            a.into()
        }
    })
}

/// `[N, C, H, W]` to `[N, C*H*W]`: the same buffer when it is owned and in standard layout.
fn flatten(op: &'static str, x: CowArray<'_, f32, Ix4>) -> Result<Array2<f32>> {
    if !x.is_standard_layout() || x.is_empty() {
        return crate::ops::flatten(x.view());
    }
    let (n, c, h, w) = x.dim();
    Ok(memory::into_owned(op, "input copy", x)?
        .into_shape_with_order((n, c * h * w))
        .expect("a non-empty standard-layout array reshapes in order"))
}
