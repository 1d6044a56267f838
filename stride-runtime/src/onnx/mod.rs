//! ONNX export: a network written as an ONNX model that ONNX Runtime, TensorRT or Triton
//! Inference Server runs. The walk is the executor's (one pass over the graph's nodes, in
//! `export.rs`); each layer becomes the nodes ONNX has for it, its weights the initializers,
//! named by their checkpoint keys (`layer1.0.conv1.weight`).
//!
//! The files target opset 17 with IR version 8 (what ONNX Runtime 1.13 and later, TensorRT 8.6
//! and torch.onnx's default read). The input is `input`, `[batch, C, H, W]` with a symbolic
//! `batch`; the output is `output`. A network declared for any size is written for the size in
//! [`ExportOptions::input_size`], or with symbolic `height` and `width` when none is given and
//! its layers can be written for any size.
//!
//! The protobuf types in `proto.rs` are generated once from ONNX's own `onnx.proto3` (vendored
//! beside it) by `tools/onnx-proto`, and committed, so building needs no `protoc`.

mod builder;
mod export;
mod options;
#[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
mod proto;
mod triton;

pub use export::{onnx_summary, save_onnx, to_onnx};
pub use options::{ExportError, ExportMode, ExportOptions, MAX_OPSET, MIN_OPSET, OnnxSummary};
pub use triton::{DynamicBatching, Instances, TritonOptions, config_text, save_triton_repository};
