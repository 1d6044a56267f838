//! PyTorch's depthwise convolutions (`tests/golden/extra/depthwise/`, made by its
//! `generate.py`) through `Conv2d` with its fused activation, and through `conv2d`, on the
//! AVX2 path (where the CPU has it) and the scalar one, within the golden tolerance
//! `|got - want| <= 1e-4 + 1e-4 * |want|`.

use ndarray::{Array1, Array4};
use safetensors::SafeTensors;
use serde_json::Value;
use stride::runtime::Padding2d;
use stride::runtime::ops::{Activation, Conv2d, Conv2dParams, conv2d};
use stride::runtime::simd::force_scalar;

mod support;

use support::{golden, worst_difference};

/// The activation a case names.
fn activation(name: &str) -> Activation {
    match name {
        "identity" => Activation::Identity,
        "relu" => Activation::Relu,
        "relu6" => Activation::Relu6,
        "leaky_relu_0.1" => Activation::LeakyRelu(0.1),
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "silu" => Activation::Silu,
        other => panic!("unknown activation {other}"),
    }
}

/// A pair or a quadruple of the case's params.
fn ints<const N: usize>(case: &Value, key: &str) -> [usize; N] {
    core::array::from_fn(|i| case[key][i].as_u64().unwrap() as usize)
}

/// Every case through the layer and (without an activation) the free function; the failures.
fn run_all(cases: &[Value], tensors: &SafeTensors) -> Vec<String> {
    let tensor = |name: &str, short: &str| support::tensor(tensors, &format!("{name}.{short}"));
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let [top, bottom, left, right] = ints::<4>(case, "padding");
        let params = Conv2dParams::default()
            .stride(ints::<2>(case, "stride"))
            .padding(Padding2d::asymmetric(top, bottom, left, right))
            .dilation(ints::<2>(case, "dilation"))
            .groups(case["groups"].as_u64().unwrap() as usize);
        let x: Array4<f32> = tensor(name, "x").into_dimensionality().unwrap();
        let w: Array4<f32> = tensor(name, "w").into_dimensionality().unwrap();
        let b: Option<Array1<f32>> = case["bias"]
            .as_bool()
            .unwrap()
            .then(|| tensor(name, "b").into_dimensionality().unwrap());
        let want = tensor(name, "y");
        let activation = activation(case["activation"].as_str().unwrap());
        let layer = Conv2d::new(w.clone(), b.clone(), params)
            .unwrap()
            .with_activation(activation);
        let got = layer.forward(x.view()).unwrap().into_dyn();
        if let Some(diff) = worst_difference(&got, &want) {
            failures.push(format!("{name} (layer): {diff}"));
        }
        if activation == Activation::Identity {
            let got = conv2d(x.view(), w.view(), b.as_ref().map(|b| b.view()), &params)
                .unwrap()
                .into_dyn();
            if let Some(diff) = worst_difference(&got, &want) {
                failures.push(format!("{name} (conv2d): {diff}"));
            }
        }
    }
    failures
}

// One test, so that forcing the scalar path does not reach another test's kernels.
#[test]
fn depthwise_layers_match_pytorch_on_both_paths() {
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(golden("extra/depthwise/cases.json")).unwrap(),
    )
    .unwrap();
    let bytes = std::fs::read(golden("extra/depthwise/cases.safetensors")).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 22);
    let mut failures = Vec::new();
    for scalar in [false, true] {
        force_scalar(scalar);
        let path = if scalar { "scalar" } else { "fastest" };
        failures.extend(
            run_all(cases, &tensors)
                .into_iter()
                .map(|f| format!("{path}: {f}")),
        );
    }
    force_scalar(false);
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
