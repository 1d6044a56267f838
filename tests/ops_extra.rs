//! Every case of `golden/extra/ops_extra.json` (written by PyTorch through
//! `golden/extra/generate.py`) through the runtime, on the AVX2 path and on the scalar one,
//! within the golden tolerance `|got - want| <= 1e-4 + 1e-4 * |want|`.
//!
//! Each activation case runs three ways: the array op, and fused into a convolution's
//! epilogue (a 1x1 convolution, which goes through the GEMM, and a depthwise 3x3 one), each
//! with weights that pass the input through exactly (1 on the identity, 0 elsewhere). Layer
//! norm and the two channel scalings run both as a new array and in place.

mod support;

use ndarray::{Array1, Array4, ArrayD};
use safetensors::SafeTensors;
use serde_json::Value;
use stride::runtime::ops::*;
use support::{GoldenCases, on_each_path, worst_difference};

/// One case's tensors by short name.
struct Case<'a> {
    name: &'a str,
    tensors: &'a SafeTensors<'a>,
}

impl Case<'_> {
    fn tensor(&self, short: &str) -> ArrayD<f32> {
        support::tensor(self.tensors, &format!("{}.{short}", self.name))
    }

    fn t4(&self, short: &str) -> Array4<f32> {
        self.tensor(short).into_dimensionality().unwrap()
    }

    fn t1(&self, short: &str) -> Array1<f32> {
        self.tensor(short).into_dimensionality().unwrap()
    }
}

/// The activation a case names.
fn activation(op: &str, params: &Value) -> Option<Activation> {
    Some(match op {
        "gelu" => match params["approximate"].as_str().unwrap() {
            "none" => Activation::Gelu,
            "tanh" => Activation::GeluTanh,
            other => panic!("gelu approximate = {other:?}"),
        },
        "hardswish" => Activation::Hardswish,
        "hardsigmoid" => Activation::Hardsigmoid,
        "sigmoid" => Activation::Sigmoid,
        "silu" => Activation::Silu,
        "tanh" => Activation::Tanh,
        _ => return None,
    })
}

/// The array op of each activation, by its public name.
fn array_op(activation: Activation, x: &Array4<f32>) -> Array4<f32> {
    let f = match activation {
        Activation::Gelu => gelu,
        Activation::GeluTanh => gelu_tanh,
        Activation::Hardswish => hardswish,
        Activation::Hardsigmoid => hardsigmoid,
        Activation::Sigmoid => sigmoid,
        Activation::Silu => silu,
        Activation::Tanh => tanh,
        other => panic!("{other:?} has no case"),
    };
    f(x.view()).unwrap()
}

/// `activation(x)` from convolutions that pass `x` through unchanged, with the activation
/// fused: a 1x1 convolution (the GEMM's epilogue) and a depthwise 3x3 one (its own).
fn fused(activation: Activation, x: &Array4<f32>) -> [(&'static str, Array4<f32>); 2] {
    let c = x.dim().1;
    let identity = Array4::from_shape_fn((c, c, 1, 1), |(o, i, _, _)| (o == i) as u8 as f32);
    let pointwise = Conv2d::new(identity, Some(Array1::zeros(c)), Conv2dParams::default())
        .unwrap()
        .with_activation(activation);
    let centre =
        Array4::from_shape_fn((c, 1, 3, 3), |(_, _, h, w)| (h == 1 && w == 1) as u8 as f32);
    let depthwise = Conv2d::new(
        centre,
        Some(Array1::zeros(c)),
        Conv2dParams::default().padding(1).groups(c),
    )
    .unwrap()
    .with_activation(activation);
    [
        ("fused 1x1 conv", pointwise.forward(x.view()).unwrap()),
        ("fused depthwise conv", depthwise.forward(x.view()).unwrap()),
    ]
}

/// Every way the case's op runs, each with what it gave; `None` for an op this test does not
/// know.
fn run(case: &Case, op: &str, params: &Value) -> Option<Vec<(&'static str, Array4<f32>)>> {
    let x = case.t4("x");
    if let Some(activation) = activation(op, params) {
        let mut ways = vec![("array op", array_op(activation, &x))];
        ways.extend(fused(activation, &x));
        return Some(ways);
    }
    Some(match op {
        "layer_norm2d" => {
            let eps = params["eps"].as_f64().unwrap() as f32;
            let norm = LayerNorm2d::new(case.t1("weight"), case.t1("bias"), eps).unwrap();
            let mut in_place = x.clone();
            norm.forward_in_place(in_place.view_mut()).unwrap();
            vec![
                ("forward", norm.forward(x.view()).unwrap()),
                ("in place", in_place),
            ]
        }
        "scale_channels" => {
            let gate = case.t4("gate");
            let mut in_place = x.clone();
            scale_channels_in_place(in_place.view_mut(), gate.view()).unwrap();
            vec![
                ("new array", scale_channels(x.view(), gate.view()).unwrap()),
                ("in place", in_place),
            ]
        }
        "layer_scale" => {
            let layer = LayerScale::from_checkpoint(case.tensor("scale").view()).unwrap();
            let mut in_place = x.clone();
            layer.forward_in_place(in_place.view_mut()).unwrap();
            vec![
                ("forward", layer.forward(x.view()).unwrap()),
                ("in place", in_place),
            ]
        }
        _ => return None,
    })
}

#[test]
fn every_extra_op_case_matches_pytorch_on_both_paths() {
    let golden = GoldenCases::read("extra/ops_extra");
    let tensors = golden.tensors();
    let cases = golden.cases();
    println!("ops_extra: generated by {}", golden.json["generator"]);
    on_each_path(|path| {
        let (mut failures, mut ran, mut runs) = (Vec::new(), 0, 0);
        for raw in cases {
            let name = raw["name"].as_str().unwrap();
            let op = raw["op"].as_str().unwrap();
            let case = Case {
                name,
                tensors: &tensors,
            };
            let Some(ways) = run(&case, op, &raw["params"]) else {
                failures.push(format!("{name}: no op `{op}`"));
                continue;
            };
            ran += 1;
            let want = case.tensor("y");
            for (way, got) in ways {
                runs += 1;
                if let Some(diff) = worst_difference(&got.into_dyn(), &want) {
                    failures.push(format!("{name} ({way}, {}): {diff}", raw["params"]));
                }
            }
        }
        println!(
            "ops_extra ({path}): ran {ran} of {} PyTorch cases, {runs} runs; {} within tolerance",
            cases.len(),
            runs - failures.len()
        );
        assert!(
            failures.is_empty(),
            "{path}: {} runs differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
    assert_eq!(cases.len(), 20);
}
