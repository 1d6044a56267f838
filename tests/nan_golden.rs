//! PyTorch's `nan/` vectors: activations, pools and convolutions (plain, and 1x1 with a fused
//! relu or relu6) on inputs holding NaN, +inf and -inf at random places. NaN must come out
//! where PyTorch's does, infinities exactly, finite values within the golden tolerance; on
//! the AVX2 path and on the scalar one.
//!
//! One case is a known difference, listed in [`KNOWN`] with why: the test fails if it starts
//! to match (so that the entry goes) as well as if any other case differs.

mod support;

use ndarray::{Array1, Array4, ArrayD};
use safetensors::SafeTensors;
use serde_json::Value;
use stride::runtime::ops::*;
use support::{GoldenCases, on_each_path, worst_nonfinite_difference};

/// Cases that differ from PyTorch today, and why.
const KNOWN: &[(&str, &str)] = &[(
    "nan_conv2d_3x3",
    "the Winograd kernel (3x3, stride 1) mixes each input tile with coefficients of both \
     signs, so a window holding +inf gives inf - inf = NaN where PyTorch's direct \
     convolution gives +inf",
)];

/// `[a, b]` from a JSON pair.
fn pair(params: &Value, key: &str) -> [usize; 2] {
    let v = &params[key];
    [
        v[0].as_u64().unwrap() as usize,
        v[1].as_u64().unwrap() as usize,
    ]
}

/// Runs one case; `None` for an op this test does not know.
fn run(case: &Value, tensors: &SafeTensors) -> Option<ArrayD<f32>> {
    let name = case["name"].as_str().unwrap();
    let params = &case["params"];
    let tensor = |t: &str| support::tensor(tensors, &format!("{name}.{t}"));
    let x: Array4<f32> = tensor("x").into_dimensionality().unwrap();
    let x = x.view();
    let flag = |key: &str| params[key].as_bool().unwrap();
    let conv = |activation: Activation| {
        let params = Conv2dParams::default()
            .stride(pair(params, "stride"))
            .padding(pair(params, "padding"))
            .dilation(pair(params, "dilation"))
            .groups(params["groups"].as_u64().unwrap() as usize);
        let w: Array4<f32> = tensor("w").into_dimensionality().unwrap();
        let b: Array1<f32> = tensor("b").into_dimensionality().unwrap();
        let conv = Conv2d::new(w, Some(b), params).unwrap();
        conv.with_activation(activation).forward(x).unwrap()
    };
    let y = match case["op"].as_str().unwrap() {
        "relu" => relu(x).unwrap(),
        "relu6" => relu6(x).unwrap(),
        // The file does not record the slope; its outputs are 0.1 times the negative inputs.
        "leaky_relu" => leaky_relu(x, 0.1).unwrap(),
        "sigmoid" => sigmoid(x).unwrap(),
        "tanh" => tanh(x).unwrap(),
        "silu" => silu(x).unwrap(),
        "hardswish" => hardswish(x).unwrap(),
        "hardsigmoid" => hardsigmoid(x).unwrap(),
        "gelu" => gelu(x).unwrap(),
        "max_pool2d" => max_pool2d(
            x,
            &MaxPool2dParams::new(pair(params, "kernel"))
                .stride(pair(params, "stride"))
                .padding(pair(params, "padding"))
                .dilation(pair(params, "dilation"))
                .ceil_mode(flag("ceil_mode")),
        )
        .unwrap(),
        "avg_pool2d" => avg_pool2d(
            x,
            &AvgPool2dParams::new(pair(params, "kernel"))
                .stride(pair(params, "stride"))
                .padding(pair(params, "padding"))
                .ceil_mode(flag("ceil_mode"))
                .count_include_pad(flag("count_include_pad")),
        )
        .unwrap(),
        "adaptive_avg_pool2d" => adaptive_avg_pool2d(x, pair(params, "output_size")).unwrap(),
        "conv2d" => conv(Activation::Identity),
        "conv2d+relu" => conv(Activation::Relu),
        "conv2d+relu6" => conv(Activation::Relu6),
        _ => return None,
    };
    Some(y.into_dyn())
}

#[test]
fn every_nan_and_infinity_case_gives_pytorchs_values_on_both_paths() {
    let golden = GoldenCases::read("nan/nan");
    let tensors = golden.tensors();
    let cases = golden.cases();
    on_each_path(|path| {
        let (mut failures, mut matched, mut known) = (Vec::new(), 0, 0);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let Some(got) = run(case, &tensors) else {
                failures.push(format!("{name}: no op `{}`", case["op"]));
                continue;
            };
            let want = support::tensor(&tensors, &format!("{name}.y"));
            let diff = worst_nonfinite_difference(&got, &want);
            match (diff, KNOWN.iter().find(|(k, _)| *k == name)) {
                (None, None) => matched += 1,
                (Some(diff), None) => failures.push(format!("{name}: {diff}")),
                (Some(diff), Some((_, why))) => {
                    known += 1;
                    println!("  {name}: known difference ({diff}): {why}");
                }
                (None, Some(_)) => {
                    failures.push(format!("{name} matches now: remove it from KNOWN"))
                }
            }
        }
        println!(
            "nan ({path}): ran {} of {} PyTorch cases; {matched} match, {known} known to differ",
            matched + known + failures.len(),
            cases.len(),
        );
        assert!(
            failures.is_empty(),
            "{path}: {} cases differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
    assert_eq!(cases.len(), 16);
}
