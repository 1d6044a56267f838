//! Helpers for the unit tests (of the GEMM and the ops): reproducible inputs, every
//! activation, and the golden tolerance.

use ndarray::{Array, Dimension, ShapeBuilder};

use crate::simd::Activation;

/// Every kind of activation, with a slope of 0.1 for the leaky one: what a kernel's epilogue
/// test runs through.
pub(crate) const EVERY_ACTIVATION: [Activation; 11] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Relu6,
    Activation::LeakyRelu(0.1),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Silu,
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Hardswish,
    Activation::Hardsigmoid,
];

/// An array of reproducible values in `[-2, 2)`, different for each `seed`, so that a tap
/// read from the wrong place changes the result.
pub(crate) fn sample<D: Dimension>(shape: impl ShapeBuilder<Dim = D>, seed: u64) -> Array<f32, D> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array::from_shape_simple_fn(shape, || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
    })
}

/// Asserts equal shapes and `|got - want| <= 1e-4 + 1e-4 * |want|` everywhere (the golden
/// files' tolerance).
#[track_caller]
pub(crate) fn assert_close<D: Dimension>(got: &Array<f32, D>, want: &Array<f32, D>) {
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    for ((index, &g), &w) in got.indexed_iter().zip(want.iter()) {
        assert!(
            (g - w).abs() <= 1e-4 + 1e-4 * w.abs(),
            "at {index:?}: got {g}, want {w}"
        );
    }
}
