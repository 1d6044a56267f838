//! The executor, loader, saver and fuser on small hand-written graphs, against the ops run
//! one by one.

use ndarray::{Array1, Array4, Axis, concatenate};

use super::*;
use crate::ops::{BatchNorm2d, Conv2d, add_assign, relu};
use crate::testing::sample;
use crate::weights::{LoadError, LoadOptions, Loader, Saver, WeightProblem, Weights};
use crate::{Error, Padding2d};

const CONV3: Conv2dParams = Conv2dParams {
    stride: Hw([1, 1]),
    padding: Padding2d::asymmetric(1, 1, 1, 1),
    dilation: Hw([1, 1]),
    groups: 1,
};

/// A 3x3 convolution layer, 4 to 4 channels, padded to keep 6x6.
macro_rules! conv {
    ($key:literal) => {
        Layer {
            row: 0,
            key: $key,
            name: $key,
            op: Op::Conv2d(CONV3),
            output: &[4, 6, 6],
            tensors: &[TensorSpec {
                name: "weight",
                shape: &[4, 4, 3, 3],
                init: InitRule::KaimingNormalFanOut,
            }],
        }
    };
}

/// A batch norm layer over 4 channels.
macro_rules! bn {
    ($key:literal) => {
        Layer {
            row: 0,
            key: $key,
            name: $key,
            op: Op::BatchNorm2d { eps: 1e-5 },
            output: &[4, 6, 6],
            tensors: &[
                TensorSpec {
                    name: "weight",
                    shape: &[4],
                    init: InitRule::Ones,
                },
                TensorSpec {
                    name: "bias",
                    shape: &[4],
                    init: InitRule::Zeros,
                },
                TensorSpec {
                    name: "running_mean",
                    shape: &[4],
                    init: InitRule::Zeros,
                },
                TensorSpec {
                    name: "running_var",
                    shape: &[4],
                    init: InitRule::Ones,
                },
            ],
        }
    };
}

const fn stateless(key: &'static str, op: Op) -> Layer {
    Layer {
        row: 0,
        key,
        name: key,
        op,
        output: &[4, 6, 6],
        tensors: &[],
    }
}

const fn graph(
    layers: &'static [Layer],
    groups: &'static [Group],
    nodes: &'static [Node],
    output: &'static [usize],
) -> Graph {
    Graph {
        output,
        layers,
        groups,
        nodes,
        ..Graph::new("Test", [4, 6, 6])
    }
}

/// `relu(bn(conv(x)) + x)`, its closing group taking the residual's ReLU.
const RESIDUAL: Graph = graph(
    &[
        conv!("block.conv"),
        bn!("block.bn"),
        stateless("block.relu", Op::Activation(Activation::Relu)),
    ],
    &[Group {
        conv: 0,
        bn: Some(1),
        activation: Some(2),
        before_add: true,
    }],
    &[Node::Residual {
        main: &[],
        shortcut: None,
        closing: Some(0),
    }],
    &[4, 6, 6],
);

/// `cat(x, conv(x))`.
const DENSE: Graph = graph(
    &[stateless("input", Op::Identity), conv!("conv")],
    &[],
    &[Node::Concat(&[&[Node::Layer(0)], &[Node::Layer(1)]])],
    &[8, 6, 6],
);

/// Weights with batch norm statistics away from the identity, so a misplaced norm shows.
fn loaded(graph: &'static Graph, seed: u64) -> Model {
    let mut saver = Saver::new();
    Model::init(graph, seed).save(&mut saver, "").unwrap();
    let mut weights = Saver::new();
    for layer in graph.layers {
        for spec in layer.tensors {
            let n: usize = spec.shape.iter().product();
            let values =
                Array1::from_shape_fn(n, |i| 0.5 + ((i * 7 + seed as usize) % 5) as f32 * 0.2)
                    .into_shape_with_order(ndarray::IxDyn(spec.shape))
                    .unwrap();
            weights.add(spec.key(layer.key), &values).unwrap();
        }
    }
    let weights = Weights::from_bytes(weights.to_bytes().unwrap()).unwrap();
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    let model = Model::take(graph, &mut loader, "").unwrap();
    loader.finish().unwrap();
    model.unwrap()
}

fn assert_close(a: &Array4<f32>, b: &Array4<f32>) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-4 + 1e-4 * y.abs(), "{x} vs {y}");
    }
}

#[test]
fn a_residual_closed_by_its_group_matches_the_ops_fused_and_unfused() {
    let mut model = loaded(&RESIDUAL, 3);
    let x = sample((2, 4, 6, 6), 4);
    let conv: &Conv2d = model.conv2d(0);
    let bn: &BatchNorm2d = model.batch_norm2d(1);
    let mut want = bn.forward(conv.forward(x.view()).unwrap().view()).unwrap();
    add_assign(want.view_mut(), x.view()).unwrap();
    let want = relu(want.view()).unwrap();
    let unfused = model.run(&[], x.view()).unwrap().into_map("Test").unwrap();
    assert_close(&unfused, &want);
    model.fuse().unwrap();
    assert_eq!(model.is_fused(), Some(true));
    let fused = model.run(&[], x.view()).unwrap().into_map("Test").unwrap();
    assert_close(&fused, &want);
}

#[test]
fn an_identity_branch_joins_the_input_itself() {
    let model = loaded(&DENSE, 1);
    let x = sample((1, 4, 6, 6), 9);
    let y = model.run(&[], x.view()).unwrap().into_map("Test").unwrap();
    let conv = model.conv2d(1).forward(x.view()).unwrap();
    assert_eq!(y, concatenate(Axis(1), &[x.view(), conv.view()]).unwrap());
}

#[test]
fn an_input_of_another_shape_is_refused_with_the_graphs_name() {
    let model = Model::init(&DENSE, 0);
    let err = model
        .run(&[], Array4::zeros((1, 4, 6, 7)).view())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Test: input has shape [1, 4, 6, 7], expected [N, 4, 6, 6]"
    );
}

#[test]
fn a_layer_that_refuses_its_input_is_named_in_the_error() {
    let mut model = Model::init(&DENSE, 0);
    // A convolution replaced through its accessor with one of another input width.
    *model.conv2d_mut(1) = Conv2d::new(Array4::zeros((4, 3, 3, 3)), None, CONV3).unwrap();
    let err = model
        .run(&[], Array4::zeros((1, 4, 6, 6)).view())
        .unwrap_err();
    assert!(matches!(&err, Error::Layer { layer: "conv", .. }), "{err}");
    assert!(
        err.to_string().starts_with("`conv`: conv2d: input"),
        "{err}"
    );
}

#[test]
fn saving_and_taking_again_under_a_prefix_gives_the_same_model() {
    let model = loaded(&RESIDUAL, 5);
    let mut saver = Saver::new();
    model.save(&mut saver, "backbone.").unwrap();
    let weights = Weights::from_bytes(saver.to_bytes().unwrap()).unwrap();
    assert!(weights.keys().all(|k| k.starts_with("backbone.block.")));
    let options = LoadOptions {
        prefix: "backbone".into(),
        ..LoadOptions::default()
    };
    let mut loader = Loader::new(&weights, &options);
    let again = Model::take(&RESIDUAL, &mut loader, "").unwrap().unwrap();
    loader.finish().unwrap();
    let x = sample((1, 4, 6, 6), 2);
    assert_eq!(
        model.run(&[], x.view()).unwrap().into_map("Test").unwrap(),
        again.run(&[], x.view()).unwrap().into_map("Test").unwrap()
    );
}

#[test]
fn every_missing_tensor_is_reported_at_once() {
    let weights = Weights::from_bytes(Saver::new().to_bytes().unwrap()).unwrap();
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    assert!(Model::take(&RESIDUAL, &mut loader, "").unwrap().is_none());
    let Err(LoadError::Problems { problems, .. }) = loader.finish() else {
        panic!("expected problems")
    };
    assert_eq!(problems.len(), 5);
    assert!(
        matches!(&problems[0], WeightProblem::Missing { key, .. } if key == "block.conv.weight")
    );
}

#[test]
fn init_draws_the_same_weights_for_the_same_seed() {
    let (a, b) = (Model::init(&DENSE, 9), Model::init(&DENSE, 9));
    assert_eq!(a.conv2d(1).weight(), b.conv2d(1).weight());
    assert_ne!(
        a.conv2d(1).weight(),
        Model::init(&DENSE, 10).conv2d(1).weight()
    );
}

/// A network from another invocation, as a generated one looks to the runtime.
struct Inner(Model);

impl Module for Inner {
    fn model(&self) -> &Model {
        &self.0
    }

    fn model_mut(&mut self) -> &mut Model {
        &mut self.0
    }
}

const OUTER: Graph = Graph {
    externals: &[External {
        key: "inner",
        name: "inner",
        seed_offset: 1,
    }],
    ..graph(
        &[stateless("flatten", Op::Flatten)],
        &[],
        &[Node::External(0), Node::Layer(0)],
        &[8 * 36],
    )
};

struct Outer {
    model: Model,
    inner: Inner,
}

impl Module for Outer {
    fn model(&self) -> &Model {
        &self.model
    }

    fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    fn externals(&self) -> Vec<&dyn Module> {
        vec![&self.inner]
    }

    fn externals_mut(&mut self) -> Vec<&mut dyn Module> {
        vec![&mut self.inner]
    }
}

#[test]
fn an_external_network_runs_saves_and_fuses_as_part_of_the_outer_one() {
    let mut outer = Outer {
        model: Model::init(&OUTER, 0),
        inner: Inner(loaded(&DENSE, 2)),
    };
    let x = sample((2, 4, 6, 6), 3);
    let y = outer.run(x.view()).unwrap().into_flat("Outer").unwrap();
    let inner = outer
        .inner
        .run(x.view())
        .unwrap()
        .into_map("Inner")
        .unwrap();
    assert_eq!(y, inner.into_shape_with_order((2, 8 * 36)).unwrap());
    let mut saver = Saver::new();
    outer.save_to(&mut saver, "").unwrap();
    let weights = Weights::from_bytes(saver.to_bytes().unwrap()).unwrap();
    assert_eq!(weights.keys().collect::<Vec<_>>(), ["inner.conv.weight"]);
    // Neither has a group: fusing does nothing, and says so.
    outer.fuse().unwrap();
    assert!(!outer.is_fused());
}

#[test]
fn a_flat_value_is_refused_where_a_feature_map_is_needed() {
    let err = Value::Flat(ndarray::Array2::<f32>::zeros((1, 3)).into())
        .into_map("Test")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Test: output has shape [1, 3], expected [N, C, H, W]"
    );
}
