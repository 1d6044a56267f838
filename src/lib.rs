//! # stride
//!
//! Convolutional networks declared in Rust, with every layer's output size checked when the
//! program compiles, and fast CPU inference on PyTorch-trained weights.
//!
//! This crate is the one users depend on. It re-exports the geometry rules
//! ([`geometry`]) and the runtime ops and layers ([`runtime`]).

pub use stride_geometry as geometry;
pub use stride_runtime as runtime;

pub use ndarray;
