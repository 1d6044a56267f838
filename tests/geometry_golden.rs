//! Every case of PyTorch's `geometry.json`: the same output size, or the same refusal.

use serde_json::Value;
use stride::geometry::{
    GeometryError, TransposedAxis, Window, check_pool_padding_2d, conv_output,
    conv_transpose_output, pool_output,
};

/// The kind of refusal PyTorch's message names, matched by its wording.
#[derive(Debug, PartialEq)]
enum Refusal {
    OutputTooSmall,
    PoolPaddingHalfEffectiveKernel,
    PoolPaddingHalfKernel,
    OutputPadding,
}

fn pytorch_refusal(message: &str) -> Refusal {
    if message.starts_with("pad should be at most half of effective kernel size") {
        Refusal::PoolPaddingHalfEffectiveKernel
    } else if message.starts_with("pad should be smaller than or equal to half of kernel size") {
        Refusal::PoolPaddingHalfKernel
    } else if message.starts_with("output padding must be smaller") {
        Refusal::OutputPadding
    } else if message.contains("Output size is too small")
        || message.contains("Kernel size can't be greater than actual input size")
    {
        Refusal::OutputTooSmall
    } else {
        panic!("unrecognised PyTorch refusal: {message}")
    }
}

fn our_refusal(error: GeometryError) -> Refusal {
    match error {
        GeometryError::ConvOutputBelowOne { .. }
        | GeometryError::PoolOutputBelowOne { .. }
        | GeometryError::TransposedOutputBelowOne { .. } => Refusal::OutputTooSmall,
        GeometryError::PoolPaddingAboveHalfEffectiveKernel { .. } => {
            Refusal::PoolPaddingHalfEffectiveKernel
        }
        GeometryError::PoolPaddingAboveHalfKernel { .. } => Refusal::PoolPaddingHalfKernel,
        GeometryError::OutputPaddingTooLarge { .. } => Refusal::OutputPadding,
        other => panic!("refusal PyTorch never gives here: {other:?}"),
    }
}

fn pair(case: &Value, key: &str) -> [usize; 2] {
    let v = case[key]
        .as_array()
        .unwrap_or_else(|| panic!("case has no {key}: {case}"));
    [
        v[0].as_u64().unwrap() as usize,
        v[1].as_u64().unwrap() as usize,
    ]
}

/// Our answer for one case, with PyTorch's order of checks: a layer's parameter checks on both
/// axes come before the output-size checks.
fn ours(case: &Value) -> Result<[usize; 2], GeometryError> {
    let input = pair(case, "input");
    let kernel = pair(case, "kernel");
    let stride = pair(case, "stride");
    let padding = pair(case, "padding");
    let dilation = pair(case, "dilation");
    let window = |axis: usize| {
        Window::new(kernel[axis])
            .stride(stride[axis])
            .padding(padding[axis])
            .dilation(dilation[axis])
    };
    let op = case["op"].as_str().unwrap();
    match op {
        "conv2d" => Ok([
            conv_output(input[0], window(0))?,
            conv_output(input[1], window(1))?,
        ]),
        "max_pool2d" | "avg_pool2d" => {
            let ceil = case["ceil_mode"].as_bool().unwrap();
            // PyTorch reports the padding check for both axes before any output size.
            check_pool_padding_2d([window(0), window(1)])?;
            Ok([
                pool_output(input[0], window(0), ceil)?,
                pool_output(input[1], window(1), ceil)?,
            ])
        }
        "conv_transpose2d" => {
            let output_padding = pair(case, "output_padding");
            let axis = |a: usize| {
                TransposedAxis::new(kernel[a])
                    .stride(stride[a])
                    .padding(padding[a])
                    .dilation(dilation[a])
                    .output_padding(output_padding[a])
            };
            axis(0).check()?;
            axis(1).check()?;
            Ok([
                conv_transpose_output(input[0], axis(0))?,
                conv_transpose_output(input[1], axis(1))?,
            ])
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn every_pytorch_geometry_case_gives_the_same_size_or_refusal() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/geometry.json"
    ))
    .expect("tests/golden/geometry.json");
    let golden: Value = serde_json::from_str(&text).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let got = ours(case);
        let agrees = match (&got, case.get("output"), case.get("error")) {
            (Ok(size), Some(_), None) => {
                accepted += 1;
                *size == pair(case, "output")
            }
            (Err(e), None, Some(msg)) => {
                refused += 1;
                our_refusal(*e) == pytorch_refusal(msg.as_str().unwrap())
            }
            _ => false,
        };
        if !agrees {
            failures.push(format!("case {i}: {case}\n  ours: {got:?}"));
        }
    }
    println!(
        "geometry: {} cases, {accepted} accepted and {refused} refused as PyTorch did",
        cases.len()
    );
    assert_eq!(cases.len(), 1500);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
