//! PyTorch's `nan/` vectors: activations, pools and convolutions (plain, and 1x1 with a relu
//! or relu6 after) on inputs holding NaN, +inf and -inf at random places. NaN must come out
//! where PyTorch's does, infinities exactly, finite values within the golden tolerance; on
//! the AVX2 path and on the scalar one, and for a convolution with its activation fused in
//! every way the crate fuses one and unfused.
//!
//! Each convolution case runs as: the layer with the activation in its epilogue
//! (`with_activation`); the layer, then the activation op; the free function, then the
//! activation applied in place (as an unfused network does); a `Fused` group; and a network
//! declared with `network!`, fused and unfused. The 3x3 case also runs with relu and relu6
//! after it, whose PyTorch values follow from its output elementwise (`relu(NaN)` is NaN,
//! `relu(-inf)` is 0), so that the Winograd layer's epilogue meets non-finite values too.

mod support;

use ndarray::{Array1, Array4, ArrayD};
use safetensors::SafeTensors;
use serde_json::Value;
use stride::runtime::ops::*;
use stride::runtime::weights::{LoadOptions, Saver, Weights};
use support::{GoldenCases, on_each_path, worst_nonfinite_difference};

stride::network! {
    /// `nan_conv2d_3x3`'s layer followed by an activation the network fuses into it.
    pub struct Conv3x3Relu: [8, H, W] {
        conv: conv2d(4, kernel = 3, padding = 1),
        act: relu,
    }

    /// The same with relu6.
    pub struct Conv3x3Relu6: [8, H, W] {
        conv: conv2d(4, kernel = 3, padding = 1),
        act: relu6,
    }

    /// The same with nothing after it.
    pub struct Conv3x3: [8, H, W] {
        conv: conv2d(4, kernel = 3, padding = 1),
    }

    /// `nan_conv2d_1x1_relu`'s layers.
    pub struct Conv1x1Relu: [8, H, W] {
        conv: conv2d(4, kernel = 1),
        act: relu,
    }

    /// `nan_conv2d_1x1_relu6`'s layers.
    pub struct Conv1x1Relu6: [8, H, W] {
        conv: conv2d(4, kernel = 1),
        act: relu6,
    }
}

/// `[a, b]` from a JSON pair.
fn pair(params: &Value, key: &str) -> [usize; 2] {
    let v = &params[key];
    [
        v[0].as_u64().unwrap() as usize,
        v[1].as_u64().unwrap() as usize,
    ]
}

/// One computation of a case: how it ran, what it gave, what PyTorch gives.
struct Run {
    path: String,
    got: ArrayD<f32>,
    want: ArrayD<f32>,
}

/// The convolution of a case, followed by `activation`, in every way it can run, each
/// compared with `want`.
fn conv_runs(
    x: &Array4<f32>,
    w: &Array4<f32>,
    b: &Array1<f32>,
    params: Conv2dParams,
    activation: Activation,
    want: &ArrayD<f32>,
) -> Vec<Run> {
    let layer = Conv2d::new(w.clone(), Some(b.clone()), params).unwrap();
    let mut runs = vec![
        (
            "layer with the activation in its epilogue",
            layer
                .clone()
                .with_activation(activation)
                .forward(x.view())
                .unwrap(),
        ),
        (
            "layer, then the activation op",
            activation
                .map(layer.forward(x.view()).unwrap().view())
                .unwrap(),
        ),
        ("free conv2d, then the activation in place", {
            let mut y = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
            activation.apply_in_place(y.view_mut());
            y
        }),
        (
            "a Fused group",
            Fused::new(&layer, None, activation)
                .unwrap()
                .forward(x.view())
                .unwrap(),
        ),
    ];
    // The same weights in a network, fused (the default) and unfused.
    let mut saver = Saver::new();
    saver.add("conv.weight", w).unwrap();
    saver.add("conv.bias", b).unwrap();
    let weights = Weights::from_bytes(saver.to_bytes().unwrap()).unwrap();
    let networks: [(&str, RunNetwork); 5] = [
        ("3x3 relu", |w, fuse, x| network::<Conv3x3Relu>(w, fuse, x)),
        ("3x3 relu6", |w, fuse, x| {
            network::<Conv3x3Relu6>(w, fuse, x)
        }),
        ("3x3", |w, fuse, x| network::<Conv3x3>(w, fuse, x)),
        ("1x1 relu", |w, fuse, x| network::<Conv1x1Relu>(w, fuse, x)),
        ("1x1 relu6", |w, fuse, x| {
            network::<Conv1x1Relu6>(w, fuse, x)
        }),
    ];
    let kernel = if w.dim().2 == 3 { "3x3" } else { "1x1" };
    let name = match activation {
        Activation::Identity => kernel.to_string(),
        other => format!("{kernel} {}", other.name()),
    };
    if let Some((_, run)) = networks.iter().find(|(n, _)| *n == name) {
        runs.push(("network!, fused", run(&weights, true, x)));
        runs.push(("network!, unfused", run(&weights, false, x)));
    }
    runs.into_iter()
        .map(|(path, got)| Run {
            path: format!("{path} ({activation:?})"),
            got: got.into_dyn(),
            want: want.clone(),
        })
        .collect()
}

/// Builds a network from the weights, fused or not, and runs it on the input: one
/// [`network`] per declared type.
type RunNetwork = fn(&Weights, bool, &Array4<f32>) -> Array4<f32>;

/// A network of type `N` built from `weights`, fused or not, run on `x`.
fn network<N>(weights: &Weights, fuse: bool, x: &Array4<f32>) -> Array4<f32>
where
    N: stride::runtime::graph::Build,
{
    let options = LoadOptions {
        fuse,
        ..LoadOptions::default()
    };
    let net: N = stride::runtime::graph::from_weights(weights, &options).unwrap();
    // A lone convolution is no group, so fused or not it runs the same layer.
    let grouped = net.model().is_fused().is_some();
    assert_eq!(net.is_fused(), fuse && grouped);
    net.run(x.view()).unwrap().into_map("test").unwrap()
}

/// PyTorch's `relu` and `relu6` of a value: NaN stays NaN.
fn pytorch(activation: Activation, v: f32) -> f32 {
    match activation {
        Activation::Relu if v.is_nan() => v,
        Activation::Relu => v.max(0.0),
        Activation::Relu6 if v.is_nan() => v,
        Activation::Relu6 => v.clamp(0.0, 6.0),
        other => panic!("{other:?}: no elementwise rule here"),
    }
}

/// Runs one case in every way this test knows for its op; `None` for an op it does not know.
fn runs(case: &Value, tensors: &SafeTensors) -> Option<Vec<Run>> {
    let name = case["name"].as_str().unwrap();
    let params = &case["params"];
    let tensor = |t: &str| support::tensor(tensors, &format!("{name}.{t}"));
    let x: Array4<f32> = tensor("x").into_dimensionality().unwrap();
    let want = tensor("y");
    let one = |path: &str, got: Array4<f32>| {
        Some(vec![Run {
            path: path.to_string(),
            got: got.into_dyn(),
            want: want.clone(),
        }])
    };
    let flag = |key: &str| params[key].as_bool().unwrap();
    let activation = match case["op"].as_str().unwrap() {
        "relu" => Some(Activation::Relu),
        "relu6" => Some(Activation::Relu6),
        // The file does not record the slope; its outputs are 0.1 times the negative inputs.
        "leaky_relu" => Some(Activation::LeakyRelu(0.1)),
        "sigmoid" => Some(Activation::Sigmoid),
        "tanh" => Some(Activation::Tanh),
        "silu" => Some(Activation::Silu),
        "hardswish" => Some(Activation::Hardswish),
        "hardsigmoid" => Some(Activation::Hardsigmoid),
        "gelu" => Some(Activation::Gelu),
        _ => None,
    };
    if let Some(activation) = activation {
        // The op, and the in-place form an unfused network applies.
        let mut in_place = x.clone();
        activation.apply_in_place(in_place.view_mut());
        let mut runs = one("the op", activation.map(x.view()).unwrap())?;
        runs.extend(one("in place", in_place)?);
        return Some(runs);
    }
    match case["op"].as_str().unwrap() {
        "max_pool2d" => one(
            "the op",
            max_pool2d(
                x.view(),
                &MaxPool2dParams::new(pair(params, "kernel"))
                    .stride(pair(params, "stride"))
                    .padding(pair(params, "padding"))
                    .dilation(pair(params, "dilation"))
                    .ceil_mode(flag("ceil_mode")),
            )
            .unwrap(),
        ),
        "avg_pool2d" => one(
            "the op",
            avg_pool2d(
                x.view(),
                &AvgPool2dParams::new(pair(params, "kernel"))
                    .stride(pair(params, "stride"))
                    .padding(pair(params, "padding"))
                    .ceil_mode(flag("ceil_mode"))
                    .count_include_pad(flag("count_include_pad")),
            )
            .unwrap(),
        ),
        "adaptive_avg_pool2d" => one(
            "the op",
            adaptive_avg_pool2d(x.view(), pair(params, "output_size")).unwrap(),
        ),
        op @ ("conv2d" | "conv2d+relu" | "conv2d+relu6") => {
            let conv = Conv2dParams::default()
                .stride(pair(params, "stride"))
                .padding(pair(params, "padding"))
                .dilation(pair(params, "dilation"))
                .groups(params["groups"].as_u64().unwrap() as usize);
            let w: Array4<f32> = tensor("w").into_dimensionality().unwrap();
            let b: Array1<f32> = tensor("b").into_dimensionality().unwrap();
            let after = match op {
                "conv2d+relu" => Activation::Relu,
                "conv2d+relu6" => Activation::Relu6,
                _ => Activation::Identity,
            };
            let mut runs = conv_runs(&x, &w, &b, conv, after, &want);
            if after == Activation::Identity {
                for then in [Activation::Relu, Activation::Relu6] {
                    let want = want.mapv(|v| pytorch(then, v));
                    runs.extend(conv_runs(&x, &w, &b, conv, then, &want));
                }
            }
            Some(runs)
        }
        _ => None,
    }
}

#[test]
fn every_nan_and_infinity_case_gives_pytorchs_values_on_both_paths_fused_and_unfused() {
    let golden = GoldenCases::read("nan/nan");
    let tensors = golden.tensors();
    let cases = golden.cases();
    assert_eq!(cases.len(), 16);
    // What makes the 3x3 case worth running on the Winograd layer: outputs that PyTorch
    // computes as an infinity, which the transforms' mixed signs would make NaN.
    let y = support::tensor(&tensors, "nan_conv2d_3x3.y");
    assert!(
        y.iter().any(|v| v.is_infinite()),
        "no infinite output in nan_conv2d_3x3"
    );
    on_each_path(|path| {
        let (mut failures, mut checked) = (Vec::new(), 0);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let Some(runs) = runs(case, &tensors) else {
                failures.push(format!("{name}: no op `{}`", case["op"]));
                continue;
            };
            assert!(!runs.is_empty());
            for run in runs {
                checked += 1;
                assert_eq!(run.got.shape(), run.want.shape(), "{name}: {}", run.path);
                if let Some(diff) = worst_nonfinite_difference(&run.got, &run.want) {
                    failures.push(format!("{name}, {}: {diff}", run.path));
                }
            }
        }
        println!(
            "nan ({path}): {} PyTorch cases, {checked} computations, {} differ",
            cases.len(),
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "{path}: {} computations differ from PyTorch:\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
}
