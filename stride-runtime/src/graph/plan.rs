//! A forward's memory, planned from the shapes: every value the executor's walk (`run.rs`)
//! makes at one input shape, from the step that writes it to the last step that reads it, and
//! an offset for each in one block, so that two values live at the same step never overlap.
//!
//! The liveness follows the walk's own rules: an op that writes a new output (a convolution,
//! a pool, a join) makes a value, and its input is last read there; an op that works in place
//! (batch norm, activation, the residual add, the squeeze-excitation multiply) keeps its
//! input's value alive, or makes a copy when its input is borrowed (the network's input, or a
//! branch point that a residual's paths or a concat's branches read); a residual's input lives
//! until its add, a concat's input and branches until the join. A network run as a layer counts
//! as one block, its own plan's size, for its step.
//!
//! The offsets are assigned greedily by size, as TensorFlow Lite's arena planner does: the
//! largest value first, each at the lowest 64-byte-aligned offset that overlaps no value
//! already placed whose steps meet its own. The block's size is the plan's
//! [`arena_bytes`](MemoryPlan::arena_bytes), never below
//! [`peak_live_bytes`](MemoryPlan::peak_live_bytes), the most bytes live at one step.

use std::fmt;

use super::{Graph, Model, Node, Op};
use crate::{Error, Result};

/// Where a planned value's offset is aligned to, in bytes.
const ALIGN: usize = 64;

/// What a forward at one input shape needs in memory:
/// [`Module::memory_plan`](super::Module::memory_plan) gives one.
///
/// It displays as one line:
///
/// ```text
/// ResNet50 at [1, 3, 224, 224]: 39 values, 5.0 MiB live at most, arena 5.0 MiB
/// ```
///
/// (On AVX-512; AVX2 runs the stem on im2col and its max pool apart, 40 values.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The network's name.
    pub name: &'static str,
    /// The input shape planned for, `[N, C, H, W]`.
    pub input: [usize; 4],
    /// The output's shape, batch first.
    pub output: Vec<usize>,
    /// Every value the forward makes, its output included, in the order they are made.
    pub values: Vec<PlannedValue>,
    /// The most bytes of values live at one step.
    pub peak_live_bytes: usize,
    /// The size of one block that holds every value at its offset.
    pub arena_bytes: usize,
}

/// One value of a [`MemoryPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedValue {
    /// What writes it: a layer's key, or the network's name for a join.
    pub key: &'static str,
    /// Its size.
    pub bytes: usize,
    /// The step that writes it.
    pub first: usize,
    /// The last step that reads it (or writes it in place).
    pub last: usize,
    /// Where it starts in the block.
    pub offset: usize,
}

impl PlannedValue {
    /// Whether the two are live at a common step.
    pub fn meets(&self, other: &PlannedValue) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// Whether the two share a byte of the block.
    pub fn overlaps(&self, other: &PlannedValue) -> bool {
        self.offset < other.offset + other.bytes && other.offset < self.offset + self.bytes
    }
}

impl fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "{} at {:?}: {} values, {:.1} MiB live at most, arena {:.1} MiB",
            self.name,
            self.input,
            self.values.len(),
            mib(self.peak_live_bytes),
            mib(self.arena_bytes)
        )
    }
}

/// The plan of `model`'s forward on an input of shape `input` (checked by the caller), with
/// `external(i, shape)` giving the plan of the graph's external network `i` on `shape`.
pub(super) fn plan(
    model: &Model,
    input: [usize; 4],
    external: &dyn Fn(usize, [usize; 4]) -> Result<MemoryPlan>,
) -> Result<MemoryPlan> {
    let graph = model.graph();
    let summary = graph.summary_at([input[2], input[3]])?;
    let mut planner = Planner {
        graph,
        model,
        external,
        batch: input[0],
        rows: summary.layers.into_iter().map(|l| l.output).collect(),
        values: Vec::new(),
        step: 0,
    };
    let output = planner.nodes(graph.nodes, Cur::borrowed(input.to_vec()))?;
    let mut values = planner.values;
    let arena_bytes = place(&mut values);
    Ok(MemoryPlan {
        name: graph.name,
        input,
        output: output.shape,
        peak_live_bytes: peak_live(&values),
        values,
        arena_bytes,
    })
}

/// The value the walk holds between nodes: its shape, and the planned value it lives in, or
/// `None` when it is borrowed (the input, or a branch point's view).
#[derive(Debug, Clone)]
struct Cur {
    shape: Vec<usize>,
    value: Option<usize>,
}

impl Cur {
    fn borrowed(shape: Vec<usize>) -> Cur {
        Cur { shape, value: None }
    }

    /// A view of the same value, as a branch reads it.
    fn view(&self) -> Cur {
        Cur::borrowed(self.shape.clone())
    }
}

/// One walk over a graph, recording values instead of computing them.
struct Planner<'m> {
    graph: &'static Graph,
    model: &'m Model,
    external: &'m dyn Fn(usize, [usize; 4]) -> Result<MemoryPlan>,
    batch: usize,
    /// Each summary row's output shape for one sample.
    rows: Vec<Vec<usize>>,
    values: Vec<PlannedValue>,
    step: usize,
}

impl Planner<'_> {
    /// The next step of the walk.
    fn next(&mut self) {
        self.step += 1;
    }

    /// A new value of `bytes`, written at this step.
    fn make(&mut self, key: &'static str, bytes: usize) -> usize {
        self.values.push(PlannedValue {
            key,
            bytes,
            first: self.step,
            last: self.step,
            offset: 0,
        });
        self.values.len() - 1
    }

    /// A new value of `shape`, written at this step.
    fn make_shaped(&mut self, key: &'static str, shape: Vec<usize>) -> Cur {
        let bytes = shape.iter().product::<usize>() * size_of::<f32>();
        let value = self.make(key, bytes);
        Cur {
            shape,
            value: Some(value),
        }
    }

    /// `cur` is read (or written in place) at this step.
    fn read(&mut self, cur: &Cur) {
        if let Some(value) = cur.value {
            let value = &mut self.values[value];
            value.last = value.last.max(self.step);
        }
    }

    /// `cur`, owned: its own value, or a copy of a borrowed one (`memory::into_owned`).
    fn owned(&mut self, key: &'static str, cur: Cur) -> Cur {
        match cur.value {
            Some(_) => {
                self.read(&cur);
                cur
            }
            None => self.make_shaped(key, cur.shape),
        }
    }

    /// Layer `index`'s output shape, batch first.
    fn output(&self, index: usize) -> Vec<usize> {
        let row = self.graph.layers[index].row;
        std::iter::once(self.batch)
            .chain(self.rows[row].iter().copied())
            .collect()
    }

    fn nodes(&mut self, nodes: &[Node], mut cur: Cur) -> Result<Cur> {
        let mut rest = nodes;
        while let [node, after @ ..] = rest {
            // An expansion and its depthwise layer fused: one step, no expanded map.
            if let [Node::Group(a), Node::Group(b), ..] = rest {
                if self.model.inverted(*a, *b, &cur.shape).is_some() {
                    self.next();
                    self.read(&cur);
                    let conv = self.graph.groups[*b].conv;
                    cur = self.make_shaped(self.graph.layers[conv].key, self.output(conv));
                    rest = &rest[2..];
                    continue;
                }
            }
            // A convolution and its max pool fused: one step, no convolution output.
            if let [Node::Group(a), Node::Layer(p), ..] = rest {
                if self.model.pooled(*a, *p, &cur.shape).is_some() {
                    self.next();
                    self.read(&cur);
                    cur = self.make_shaped(self.graph.layers[*p].key, self.output(*p));
                    rest = &rest[2..];
                    continue;
                }
            }
            cur = self.node(node, cur)?;
            rest = after;
        }
        Ok(cur)
    }

    fn node(&mut self, node: &Node, cur: Cur) -> Result<Cur> {
        Ok(match *node {
            Node::Layer(index) => self.layer(index, cur),
            Node::Group(index) => self.group(index, cur),
            Node::Residual {
                main,
                shortcut,
                closing,
            } => self.residual(main, shortcut, closing, cur)?,
            Node::Concat(branches) => {
                let parts = branches
                    .iter()
                    .map(|branch| self.nodes(branch, cur.view()))
                    .collect::<Result<Vec<_>>>()?;
                self.next();
                let mut shape = cur.shape.clone();
                if let Some(first) = parts.first() {
                    shape.clone_from(&first.shape);
                }
                shape[1] = parts.iter().map(|p| p.shape[1]).sum();
                let joined = self.make_shaped(self.graph.name, shape);
                parts.iter().for_each(|p| self.read(p));
                self.read(&cur);
                joined
            }
            Node::Scale(gate) => {
                let g = self.nodes(gate, cur.view())?;
                self.next();
                let g = self.owned(self.graph.name, g);
                self.next();
                let y = self.owned(self.graph.name, cur);
                self.read(&g);
                y
            }
            Node::External(index) => {
                let key = self.graph.externals[index].key;
                let input =
                    <[usize; 4]>::try_from(cur.shape.as_slice()).map_err(|_| Error::Shape {
                        op: key,
                        tensor: "input",
                        expected: "[N, C, H, W]".into(),
                        got: cur.shape.clone(),
                    })?;
                let inner = (self.external)(index, input)?;
                self.next();
                self.read(&cur);
                self.make(key, inner.arena_bytes);
                self.make_shaped(key, inner.output)
            }
        })
    }

    fn layer(&mut self, index: usize, cur: Cur) -> Cur {
        let layer = &self.graph.layers[index];
        match layer.op {
            Op::Dropout | Op::Identity => cur,
            Op::Flatten if cur.shape.len() == 2 => cur,
            Op::Flatten => {
                self.next();
                let mut y = self.owned(layer.key, cur);
                y.shape = self.output(index);
                y
            }
            Op::BatchNorm2d { .. }
            | Op::LayerNorm2d { .. }
            | Op::LayerScale
            | Op::Activation(_) => {
                self.next();
                self.owned(layer.key, cur)
            }
            Op::Conv2d(_)
            | Op::ConvTranspose2d(_)
            | Op::Linear
            | Op::MaxPool2d(_)
            | Op::AvgPool2d(_)
            | Op::AdaptiveAvgPool2d(_)
            | Op::Upsample(_)
            | Op::Custom(_) => {
                self.next();
                self.read(&cur);
                self.make_shaped(layer.key, self.output(index))
            }
        }
    }

    fn group(&mut self, index: usize, cur: Cur) -> Cur {
        let group = self.graph.groups[index];
        if self.model.fused(index).is_some() {
            self.next();
            self.read(&cur);
            let key = self.graph.layers[group.conv].key;
            return self.make_shaped(key, self.output(group.conv));
        }
        let cur = self.layer(group.conv, cur);
        let cur = match group.bn {
            Some(bn) => self.layer(bn, cur),
            None => cur,
        };
        match group.activation {
            Some(activation) => self.layer(activation, cur),
            None => cur,
        }
    }

    fn residual(
        &mut self,
        main: &[Node],
        shortcut: Option<&[Node]>,
        closing: Option<usize>,
        skip: Cur,
    ) -> Result<Cur> {
        let name = self.graph.name;
        let y = self.nodes(main, skip.view())?;
        self.next();
        let y = self.owned(name, y);
        let (s, skip) = match shortcut {
            Some(shortcut) => {
                let s = self.nodes(shortcut, skip.view())?;
                self.next();
                (self.owned(name, s), Some(skip))
            }
            None => (skip, None),
        };
        let Some(index) = closing else {
            self.next();
            let y = self.owned(name, y);
            self.read(&s);
            skip.iter().for_each(|k| self.read(k));
            return Ok(y);
        };
        let group = self.graph.groups[index];
        let key = self.graph.layers[group.conv].key;
        if self.model.fused(index).is_some() {
            // The convolution writes into the shortcut's value.
            self.next();
            let s = self.owned(key, s);
            self.read(&y);
            skip.iter().for_each(|k| self.read(k));
            return Ok(s);
        }
        let y = self.layer(group.conv, y);
        let y = match group.bn {
            Some(bn) => self.layer(bn, y),
            None => y,
        };
        self.next();
        let y = self.owned(key, y);
        self.read(&s);
        skip.iter().for_each(|k| self.read(k));
        Ok(match group.activation {
            Some(activation) => self.layer(activation, y),
            None => y,
        })
    }
}

/// Places `values` greedily by size (the largest first, each at the lowest aligned offset
/// clear of the values placed before it that are live at a common step); the block's size.
fn place(values: &mut [PlannedValue]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(values[i].bytes), values[i].first));
    let mut placed: Vec<usize> = Vec::with_capacity(values.len());
    let mut size = 0;
    for i in order {
        let mut neighbours: Vec<&PlannedValue> = placed
            .iter()
            .map(|&p| &values[p])
            .filter(|p| p.meets(&values[i]))
            .collect();
        neighbours.sort_by_key(|p| p.offset);
        let mut offset = 0;
        for p in neighbours {
            if offset + values[i].bytes <= p.offset {
                break;
            }
            offset = offset.max((p.offset + p.bytes).next_multiple_of(ALIGN));
        }
        values[i].offset = offset;
        size = size.max(offset + values[i].bytes);
        placed.push(i);
    }
    size
}

/// The most bytes of `values` live at one step.
fn peak_live(values: &[PlannedValue]) -> usize {
    let last = values.iter().map(|v| v.last).max().unwrap_or(0);
    (0..=last)
        .map(|step| {
            values
                .iter()
                .filter(|v| v.first <= step && step <= v.last)
                .map(|v| v.bytes)
                .sum()
        })
        .max()
        .unwrap_or(0)
}
