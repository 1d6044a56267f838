//! Shared by the golden tests: where the PyTorch files are, how to read a tensor, and the
//! tolerance every comparison uses.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;

use ndarray::{Array4, ArrayD, Dimension, IxDyn};
use safetensors::{Dtype, SafeTensors};
use stride::runtime::weights::{LoadError, LoadOptions, WeightProblem};

/// A file under `tests/golden/`.
pub fn golden(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file)
}

/// A float32 tensor of a safetensors file, as an array.
pub fn tensor(file: &SafeTensors, key: &str) -> ArrayD<f32> {
    let view = file.tensor(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(view.dtype(), Dtype::F32, "{key}");
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    ArrayD::from_shape_vec(IxDyn(view.shape()), data).unwrap()
}

/// The golden tolerance: `|got - want| <= 1e-4 + 1e-4 * |want|`.
pub fn within_tolerance(got: f32, want: f32) -> bool {
    let excess = (got - want).abs() - (1e-4 + 1e-4 * want.abs());
    excess <= 0.0 // false for NaN, which must count as a difference
}

/// The element furthest outside the tolerance, if any, described for a failure message.
pub fn worst_difference(got: &ArrayD<f32>, want: &ArrayD<f32>) -> Option<String> {
    if got.shape() != want.shape() {
        return Some(format!("shape {:?}, want {:?}", got.shape(), want.shape()));
    }
    let mut worst: Option<(f32, Vec<usize>, f32, f32)> = None;
    for ((idx, &g), &w) in got.indexed_iter().zip(want.iter()) {
        if within_tolerance(g, w) {
            continue;
        }
        let excess = (g - w).abs();
        if worst
            .as_ref()
            .is_none_or(|(e, ..)| excess.is_nan() || excess > *e)
        {
            worst = Some((excess, idx.slice().to_vec(), g, w));
        }
    }
    worst.map(|(_, idx, g, w)| format!("at {idx:?}: got {g}, want {w}"))
}

/// The largest absolute difference between two arrays of the same shape.
pub fn max_abs_difference(got: &ArrayD<f32>, want: &ArrayD<f32>) -> f32 {
    got.iter()
        .zip(want.iter())
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f32::max)
}

/// The stored input and PyTorch's output of a golden network file.
pub fn input_and_output(file: &str) -> (Array4<f32>, ArrayD<f32>) {
    let bytes = std::fs::read(golden(file)).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let input = tensor(&tensors, "input").into_dimensionality().unwrap();
    (input, tensor(&tensors, "output"))
}

/// Options that load a golden file, which also holds `input` and `output`: not strict, fused
/// or not as asked.
pub fn lenient(fuse: bool) -> LoadOptions {
    LoadOptions {
        strict: false,
        fuse,
        ..LoadOptions::default()
    }
}

/// Asserts that a strict load failed only on the golden file's `input` and `output`: every
/// other key of the file is one the network asked for.
#[track_caller]
pub fn assert_only_input_and_output_left_over(err: Option<LoadError>) {
    let Some(LoadError::Problems { problems, .. }) = err else {
        panic!("expected the input and output to be reported, got {err:?}")
    };
    let mut unexpected: Vec<&str> = problems
        .iter()
        .map(|p| match p {
            WeightProblem::Unexpected { key } => key.as_str(),
            other => panic!("only unexpected keys, got {other}"),
        })
        .collect();
    unexpected.sort();
    assert_eq!(unexpected, ["input", "output"]);
}
