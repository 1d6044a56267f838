//! What the examples share: reading the stored input and PyTorch's output from a golden file,
//! and timing a forward pass.
#![allow(dead_code)] // each example uses its own part of this module

use std::time::{Duration, Instant};

use stride::ndarray::{Array, ArrayD, Dimension, Ix4};
use stride::runtime::weights::{LoadError, LoadOptions, Loader, Weights};

/// Weights from the path given as the first argument, or the embedded default.
pub fn weights_from_args(embedded: &'static [u8], name: &str) -> Result<Weights, LoadError> {
    match std::env::args_os().nth(1) {
        Some(path) => {
            println!("weights: {}", path.to_string_lossy());
            Weights::open(path)
        }
        None => {
            println!("weights: {name} (embedded; pass a path to use another file)");
            Weights::from_bytes(embedded)
        }
    }
}

/// The `input` and `output` tensors stored next to the weights by the PyTorch generator.
pub fn input_and_output(
    weights: &Weights,
    input: [usize; 4],
    output: &[usize],
) -> Result<(Array<f32, Ix4>, ArrayD<f32>), LoadError> {
    let options = LoadOptions {
        strict: false,
        ..LoadOptions::default()
    };
    let mut loader = Loader::new(weights, &options);
    let x = loader.tensor::<Ix4>("input", &input);
    let y = loader.tensor::<stride::ndarray::IxDyn>("output", output);
    loader.finish()?;
    match (x, y) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => unreachable!("the loader reports every tensor it could not take"),
    }
}

/// The largest absolute difference between our output and PyTorch's.
pub fn max_difference<D: Dimension>(ours: &Array<f32, D>, pytorch: &ArrayD<f32>) -> f32 {
    ours.iter()
        .zip(pytorch.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// The median wall time of `runs` calls of `f`, after one warm-up call.
pub fn median_time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    std::hint::black_box(f());
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
