//! From the walk's tree to the network's plan: every layer gets its index (its slot in the
//! runtime's model), the fusion groups are formed, the external networks get their seeds, the
//! summary rows are laid out, and the Rust names the network will have are checked.

use std::collections::{HashMap, VecDeque};

use syn::ext::IdentExt;

use crate::ctxt::Ctxt;
use stride_geometry::{AxisRule, FlowOp};

use crate::model::{Count, External, Group, LayerType, Node, Op, Planned, Row, Shape, Tree};

/// What `init` adds to the network's seed for external network `index`: distinct, far-apart
/// offsets (multiples of the golden ratio in 64 bits, SplitMix64's increment).
fn seed_offset(index: usize) -> u64 {
    (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The names every network has, which a layer's accessor must not take.
const GENERATED: &[&str] = &[
    "forward",
    "forward_at",
    "output_at",
    "summary_at",
    "load_safetensors",
    "load_safetensors_with",
    "from_weights",
    "init",
    "save_safetensors",
    "fuse",
    "unfuse",
    "is_fused",
    "to_onnx",
    "save_onnx",
    "save_triton_repository",
    "GRAPH",
    "INPUT",
    "OUTPUT",
    "PARAMS",
    "MACS",
    "RECEPTIVE_FIELD",
    "JUMP",
    "SUMMARY",
    "MIN_INPUT",
    "INPUT_MULTIPLE",
];

/// The layers, groups, externals, nodes and rows of a network, built from its tree.
#[derive(Default)]
pub struct Built {
    pub layers: Vec<Planned>,
    pub groups: Vec<Group>,
    pub externals: Vec<External>,
    pub nodes: Vec<Node>,
    pub rows: Vec<Row>,
    /// The size program of each spatial axis, step for step with the rows.
    pub flows: [Vec<FlowOp>; 2],
}

/// Lays out `trees`, then checks the Rust names and weight keys the layout gives.
pub fn build(cx: &mut Ctxt, trees: Vec<Tree>) -> Built {
    let mut built = Built::default();
    built.nodes = built.nodes(trees);
    check_rust_names(cx, &built);
    check_weight_keys(cx, &built);
    built
}

/// Each axis's size program of `trees` alone, with rows counted from 0: for deciding, during
/// the walk, what a path does to the size.
pub fn flows_of(trees: &[Tree]) -> [Vec<FlowOp>; 2] {
    layout_of(trees).flows
}

/// `trees` laid out alone, with rows counted from 0: their size programs, and the rows that
/// name their steps.
pub fn layout_of(trees: &[Tree]) -> Built {
    let mut built = Built::default();
    built.nodes(trees.to_vec());
    built
}

impl Built {
    /// The nodes of a sequence of trees. A convolution (or transposed convolution) followed by
    /// a batch norm forms a fusion group with it, and with the activation after that if there
    /// is one. A residual whose main path ends in such a group without an activation closes
    /// with that group, which then takes the activation after the residual, if any: once
    /// fused, its convolution adds the shortcut and applies the activation as it writes.
    fn nodes(&mut self, trees: Vec<Tree>) -> Vec<Node> {
        let mut out = Vec::new();
        let mut trees: VecDeque<Tree> = trees.into();
        while let Some(tree) = trees.pop_front() {
            match tree {
                Tree::Layer(conv) if conv.op.is_conv() && starts_group(&trees) => {
                    let conv = self.push(conv);
                    self.push_transparent(&mut trees);
                    let bn = take_if(&mut trees, is_scaling).map(|bn| self.push(bn));
                    self.push_transparent(&mut trees);
                    let activation = take_if(&mut trees, is_activation).map(|a| self.push(a));
                    self.push_transparent(&mut trees);
                    self.groups.push(Group {
                        conv,
                        bn,
                        activation,
                        before_add: false,
                    });
                    out.push(Node::Group(self.groups.len() - 1));
                }
                Tree::Layer(layer) => out.push(Node::Layer(self.push(layer))),
                Tree::Residual {
                    name,
                    main,
                    shortcut,
                    output,
                    field,
                } => {
                    self.flow(|_| FlowOp::Residual);
                    let mut main = self.nodes(main);
                    let closing = match main.last() {
                        Some(Node::Group(g)) if self.closes(*g) => Some(*g),
                        _ => None,
                    };
                    if closing.is_some() {
                        main.pop();
                    }
                    let shortcut = shortcut.map(|s| {
                        self.flow(|_| FlowOp::Shortcut);
                        self.nodes(s)
                    });
                    let row = self.rows.len();
                    self.flow(|_| FlowOp::EndResidual { row });
                    self.rows.push(Row {
                        name,
                        kind: "residual add".into(),
                        output,
                        params: Count::Known(0),
                        macs: Count::Known(0),
                        field,
                    });
                    if let Some(g) = closing {
                        let after = take_if(&mut trees, is_activation).map(|a| self.push(a));
                        let group = &mut self.groups[g];
                        group.activation = after;
                        group.before_add = true;
                    }
                    out.push(Node::Residual {
                        main,
                        shortcut,
                        closing,
                    });
                }
                Tree::Concat {
                    name,
                    branches,
                    output,
                    field,
                } => {
                    self.flow(|_| FlowOp::Concat);
                    let mut nodes = Vec::new();
                    for (i, branch) in branches.into_iter().enumerate() {
                        if i > 0 {
                            self.flow(|_| FlowOp::Branch);
                        }
                        nodes.push(self.nodes(branch));
                    }
                    let branches = nodes;
                    let row = self.rows.len();
                    self.flow(|_| FlowOp::EndConcat { row });
                    self.rows.push(Row {
                        name,
                        kind: "concat".into(),
                        output,
                        params: Count::Known(0),
                        macs: Count::Known(0),
                        field,
                    });
                    out.push(Node::Concat(branches));
                }
                Tree::Scale {
                    name,
                    gate,
                    output,
                    field,
                } => {
                    self.flow(|_| FlowOp::Gate);
                    let gate = self.nodes(gate);
                    let row = self.rows.len();
                    self.flow(|_| FlowOp::EndGate { row });
                    self.rows.push(Row {
                        name,
                        kind: "scale".into(),
                        output,
                        params: Count::Known(0),
                        macs: Count::Known(0),
                        field,
                    });
                    out.push(Node::Scale(gate));
                }
                Tree::External(mut external) => {
                    let index = self.externals.len();
                    external.seed_offset = seed_offset(index);
                    let ty = &external.ty;
                    let row = self.rows.len();
                    let (input, output) = (external.input, external.output);
                    self.flow(|axis| FlowOp::Layer {
                        row,
                        rule: AxisRule::Exactly {
                            input: spatial(input, axis),
                            output: spatial(output, axis),
                        },
                    });
                    self.rows.push(Row {
                        name: external.key.clone(),
                        kind: quote::quote!(#ty).to_string().replace(' ', ""),
                        output: external.output,
                        params: Count::External(index),
                        macs: Count::External(index),
                        field: None,
                    });
                    self.externals.push(external);
                    out.push(Node::External(index));
                }
            }
        }
        out
    }

    /// Adds the step `op(axis)` to each axis's size program.
    fn flow(&mut self, op: impl Fn(usize) -> FlowOp) {
        for (axis, flow) in self.flows.iter_mut().enumerate() {
            flow.push(op(axis));
        }
    }

    /// Adds a layer (its summary row, and its step in the size programs); returns its index.
    fn push(&mut self, mut layer: Planned) -> usize {
        let (row, rules) = (self.rows.len(), layer.rules);
        layer.row = row;
        self.flow(|axis| FlowOp::Layer {
            row,
            rule: rules[axis],
        });
        let params = match layer.custom {
            Some(_) => Count::Custom(self.layers.len()),
            None => Count::Known(layer.params),
        };
        self.rows.push(Row {
            name: layer.key.clone(),
            kind: layer.kind.clone(),
            output: layer.output,
            params,
            macs: Count::Known(layer.macs),
            field: layer.field,
        });
        self.layers.push(layer);
        self.layers.len() - 1
    }

    /// Whether group `g` can close a residual: a convolution (not transposed) and its batch
    /// norm (or layer scale), with no activation of its own.
    fn closes(&self, g: usize) -> bool {
        let group = &self.groups[g];
        group.activation.is_none() && matches!(self.layers[group.conv].op, Op::Conv2d(_))
    }

    /// Lays out the layers at the front of `trees` that do nothing at inference (identity,
    /// dropout, stochastic depth), with their rows, and no node: a group reaches across them.
    fn push_transparent(&mut self, trees: &mut VecDeque<Tree>) {
        while let Some(layer) = take_if(trees, is_transparent) {
            self.push(layer);
        }
    }
}

/// The size of `shape` on spatial axis `axis`; 1 for a flat shape, which has none.
fn spatial(shape: Shape, axis: usize) -> usize {
    match shape {
        Shape::Map([_, h, w]) => [h, w][axis],
        Shape::Flat(_) => 1,
    }
}

/// A per-channel multiply and shift that folds into the convolution before it.
fn is_scaling(tree: &Tree) -> bool {
    matches!(tree, Tree::Layer(l) if matches!(l.op, Op::BatchNorm2d { .. } | Op::LayerScale))
}

fn is_activation(tree: &Tree) -> bool {
    matches!(tree, Tree::Layer(l) if matches!(l.op, Op::Activation(_)))
}

/// A layer that does nothing at inference.
fn is_transparent(tree: &Tree) -> bool {
    matches!(tree, Tree::Layer(l) if matches!(l.op, Op::Identity | Op::Dropout))
}

/// Whether a convolution followed by `trees` forms a fusion group: a batch norm, a layer
/// scale or an activation comes next, past layers that do nothing.
fn starts_group(trees: &VecDeque<Tree>) -> bool {
    trees
        .iter()
        .find(|t| !is_transparent(t))
        .is_some_and(|t| is_scaling(t) || is_activation(t))
}

/// The front tree, if it is a layer that passes `test`.
fn take_if(trees: &mut VecDeque<Tree>, test: fn(&Tree) -> bool) -> Option<Planned> {
    if !trees.front().is_some_and(test) {
        return None;
    }
    match trees.pop_front() {
        Some(Tree::Layer(layer)) => Some(layer),
        _ => None,
    }
}

/// Each layer with weights has an accessor, `name` and `name_mut` (a custom layer `name`, with
/// `name_mut` kept for it too), and each external network a field: all distinct, none a name
/// every network already has, none starting with `__` (the generated code's own).
fn check_rust_names(cx: &mut Ctxt, built: &Built) {
    let mut owners: HashMap<String, &str> = HashMap::new();
    let accessors = built
        .layers
        .iter()
        .filter(|l| LayerType::of(&l.op).is_some() || l.custom.is_some())
        .map(|l| (&l.name, &l.key));
    let fields = built.externals.iter().map(|e| (&e.name, &e.key));
    for (name, key) in accessors.chain(fields) {
        let text = name.unraw().to_string();
        let mutable = format!("{text}_mut");
        if let Some(problem) = rust_name_problem(&text, &mutable, &owners) {
            cx.error(name.span(), format!("`{key}`: {problem}"));
            continue;
        }
        owners.insert(text, key);
        owners.insert(mutable, key);
    }
}

/// Why the accessor `name` (and `mutable`, its `_mut` twin) cannot be generated, if it cannot.
fn rust_name_problem(name: &str, mutable: &str, owners: &HashMap<String, &str>) -> Option<String> {
    if name.starts_with("__") {
        return Some("names starting with `__` are kept for the code `network!` generates".into());
    }
    for candidate in [name, mutable] {
        if is_generated(candidate) {
            return Some(format!(
                "every network has a `{candidate}` already; rename the layer"
            ));
        }
        if let Some(owner) = owners.get(candidate) {
            return Some(format!(
                "its accessor would be `{candidate}`, which `{owner}` has already; rename one of them"
            ));
        }
    }
    None
}

/// Whether `name` is a constant or method every network has.
pub fn is_generated(name: &str) -> bool {
    GENERATED.contains(&name)
}

/// No two layers store tensors under the same key (which only `#[key = "…"]` can cause).
fn check_weight_keys(cx: &mut Ctxt, built: &Built) {
    let mut owners: HashMap<String, &Planned> = HashMap::new();
    for layer in &built.layers {
        let clash = layer.tensors.iter().find_map(|spec| {
            let key = spec.key(&layer.key);
            owners
                .get(&key)
                .map(|owner| (key, owner.name.unraw().to_string()))
        });
        if let Some((key, owner)) = clash {
            cx.error(
                layer.name.span(),
                format!(
                    "`{}`: `{owner}` stores `{key}` already; give one of them another `#[key]`",
                    layer.key
                ),
            );
            continue;
        }
        for spec in &layer.tensors {
            owners.insert(spec.key(&layer.key), layer);
        }
    }
}
