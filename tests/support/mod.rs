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

/// [`worst_difference`] for outputs that may hold NaN and infinities, compared as the
/// `nan/` vectors ask: NaN equals NaN, an infinity only itself (sign included), a finite
/// value within the tolerance.
pub fn worst_nonfinite_difference(got: &ArrayD<f32>, want: &ArrayD<f32>) -> Option<String> {
    if got.shape() != want.shape() {
        return Some(format!("shape {:?}, want {:?}", got.shape(), want.shape()));
    }
    let same = |g: f32, w: f32| {
        if w.is_nan() || g.is_nan() {
            w.is_nan() && g.is_nan()
        } else if w.is_infinite() || g.is_infinite() {
            g == w
        } else {
            within_tolerance(g, w)
        }
    };
    got.indexed_iter()
        .zip(want.iter())
        .find(|&((_, &g), &w)| !same(g, w))
        .map(|((idx, g), w)| format!("at {:?}: got {g}, want {w}", idx.slice()))
}

/// The golden cases of a JSON file with its safetensors (the `ops.json` format: cases
/// `{"name", "op", "params", "tensors"}`, tensor `t` of case `name` stored as `name.t`).
pub struct GoldenCases {
    /// The JSON file, whole (its `cases`, and whatever it records beside them).
    pub json: serde_json::Value,
    bytes: Vec<u8>,
}

impl GoldenCases {
    /// Reads `<stem>.json` and `<stem>.safetensors` under `tests/golden/`.
    pub fn read(stem: &str) -> GoldenCases {
        let json = std::fs::read_to_string(golden(&format!("{stem}.json"))).unwrap();
        GoldenCases {
            json: serde_json::from_str(&json).unwrap(),
            bytes: std::fs::read(golden(&format!("{stem}.safetensors"))).unwrap(),
        }
    }

    /// The cases, in file order.
    pub fn cases(&self) -> &[serde_json::Value] {
        self.json["cases"].as_array().unwrap()
    }

    /// The tensors of every case.
    pub fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).unwrap()
    }
}

/// Runs `f` on the kernels' path that the environment chooses (AVX-512 where the CPU has it,
/// else AVX2, unless `STRIDE_ISA` or `STRIDE_FORCE_SCALAR` narrows it) and, if that was a
/// vector path, again with every kernel forced onto its scalar path, naming the path each
/// time. `STRIDE_ISA=avx2` runs the AVX2 path on a CPU with AVX-512. The choice is
/// process-wide: a test binary that uses this must run nothing else at the same time (one
/// `#[test]`).
pub fn on_each_path(mut f: impl FnMut(&'static str)) {
    use stride::runtime::simd::{avx2_fma, avx512, force_scalar};
    if !avx2_fma() {
        f("scalar");
        return;
    }
    f(if avx512() { "AVX-512" } else { "AVX2" });
    force_scalar(true);
    // Put the vector path back even if `f` panics, for whatever the harness runs next.
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            force_scalar(false);
        }
    }
    let _restore = Restore;
    f("scalar");
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
