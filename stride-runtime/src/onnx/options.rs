//! What an export is asked for ([`ExportOptions`]), why it can fail ([`ExportError`]), and what
//! it wrote ([`OnnxSummary`]).

use std::path::PathBuf;

/// The lowest opset the export writes: the forms of `Resize`, `Slice`, `Clip` and
/// `ReduceMean` it uses are opset 13's.
pub const MIN_OPSET: i64 = 13;

/// The highest: opset 18 turns `ReduceMean`'s axes into an input, a form the export does not
/// write.
pub const MAX_OPSET: i64 = 17;

/// How a network is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The graph as declared, or as stride runs it.
    pub mode: ExportMode,
    /// The ONNX opset, [`MIN_OPSET`] to [`MAX_OPSET`]; 17 by default. A layer that needs a
    /// later one (`LayerNormalization`: 17, `HardSwish`: 14) is refused below it.
    pub opset: i64,
    /// The input height and width to write a network that takes many sizes for; `None` writes
    /// it for any size (symbolic `height` and `width`) where its layers allow. Ignored for a
    /// network of one size, whose size is written.
    pub input_size: Option<[usize; 2]>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            mode: ExportMode::Fused,
            opset: 17,
            input_size: None,
        }
    }
}

impl ExportOptions {
    /// The declared graph: each batch norm a `BatchNormalization` node, each activation a node
    /// of its own.
    pub fn declared() -> Self {
        ExportOptions {
            mode: ExportMode::Declared,
            ..ExportOptions::default()
        }
    }

    /// The fused graph stride runs (the default): each batch norm (or layer scale) folded into
    /// the convolution before it.
    pub fn fused() -> Self {
        ExportOptions::default()
    }

    /// The same options with opset `opset`.
    pub fn opset(self, opset: i64) -> Self {
        ExportOptions { opset, ..self }
    }

    /// The same options, writing the network for inputs of `height` x `width`.
    pub fn input_size(self, height: usize, width: usize) -> Self {
        ExportOptions {
            input_size: Some([height, width]),
            ..self
        }
    }
}

/// Which graph an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportMode {
    /// Every layer as declared: a batch norm is a `BatchNormalization` node.
    Declared,
    /// The graph stride runs once fused: convolutions with their batch norms folded in.
    Fused,
}

/// Why a network could not be exported. Its `Debug` form is its message.
///
/// ```
/// use stride_runtime::onnx::ExportError;
///
/// let err = ExportError::Opset { opset: 9 };
/// assert_eq!(format!("{err:?}"), "opset 9 is not one the export writes: it writes opsets 13 to 17");
/// ```
#[derive(thiserror::Error)]
pub enum ExportError {
    /// The opset asked for is outside the range the export writes.
    #[error(
        "opset {opset} is not one the export writes: it writes opsets {MIN_OPSET} to {MAX_OPSET}"
    )]
    Opset {
        /// The opset asked for.
        opset: i64,
    },
    /// A layer needs a later opset than the one asked for.
    #[error(
        "`{layer}` needs ONNX's `{op}`, which opset {needs} introduced; the export was asked for opset {opset}"
    )]
    OpsetTooLow {
        /// The layer's key.
        layer: String,
        /// The ONNX operator it needs.
        op: &'static str,
        /// The first opset with it.
        needs: i64,
        /// The opset asked for.
        opset: i64,
    },
    /// The network does not take the input size asked for.
    #[error("{message}")]
    InputSize {
        /// The network.
        network: &'static str,
        /// Which layer refuses the size, with the arithmetic.
        message: String,
    },
    /// A layer can only be written for an input of known size.
    #[error(
        "`{layer}` can only be written for a known input size: {why}; give one with `ExportOptions::input_size`"
    )]
    NeedsInputSize {
        /// The layer's key.
        layer: String,
        /// Why.
        why: &'static str,
    },
    /// A layer has no ONNX form that computes what stride computes.
    #[error("`{layer}` cannot be written in ONNX: {message}")]
    Unsupported {
        /// The layer's key.
        layer: String,
        /// Why.
        message: String,
    },
    /// A layer's weights do not make the layer the export writes (a fused group whose batch
    /// norm does not fit its convolution: only a layer replaced through an accessor can).
    #[error("`{layer}`: {source}")]
    Layer {
        /// The layer's key.
        layer: String,
        /// What the layer refused.
        source: Box<crate::Error>,
    },
    /// The graph and its weights disagree, which only a hand-made graph can cause.
    #[error("{network}: {message}")]
    Graph {
        /// The network.
        network: &'static str,
        /// What disagrees.
        message: String,
    },
    /// A Triton repository option Triton would refuse.
    #[error("Triton repository: {message}")]
    Triton {
        /// Which option, and why.
        message: String,
    },
    /// The file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Its message, as `Display` gives it: readable where `main` prints it.
impl std::fmt::Debug for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// What an export wrote: its size in nodes, initializers and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnnxSummary {
    /// The graph's nodes.
    pub nodes: usize,
    /// Its initializers (weights and constants).
    pub initializers: usize,
    /// The encoded model's length in bytes.
    pub bytes: usize,
    /// The opset it declares.
    pub opset: i64,
}

impl std::fmt::Display for OnnxSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ONNX opset {}: {} nodes, {} initializers, {:.1} MB",
            self.opset,
            self.nodes,
            self.initializers,
            self.bytes as f64 / 1e6
        )
    }
}
