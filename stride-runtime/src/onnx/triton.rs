//! A Triton Inference Server model repository for a network: `<name>/config.pbtxt` for the
//! ONNX Runtime backend and `<name>/1/model.onnx`, so `tritonserver --model-repository DIR`
//! serves it, with dynamic batching and as many instances as asked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::export::save_onnx;
use super::options::{ExportError, ExportOptions, OnnxSummary};
use crate::graph::Module;

/// What a Triton model repository declares besides the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TritonOptions {
    /// The largest batch Triton sends the model (`max_batch_size`); at least 1. 8 by default.
    pub max_batch_size: usize,
    /// Whether Triton gathers requests into batches, and how long it waits for them.
    pub dynamic_batching: Option<DynamicBatching>,
    /// How many copies of the model run, and on what (`instance_group`); `None` leaves it to
    /// Triton.
    pub instances: Option<Instances>,
    /// How the model is exported.
    pub export: ExportOptions,
}

impl Default for TritonOptions {
    fn default() -> Self {
        TritonOptions {
            max_batch_size: 8,
            dynamic_batching: Some(DynamicBatching::default()),
            instances: None,
            export: ExportOptions::default(),
        }
    }
}

/// Triton's `dynamic_batching`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicBatching {
    /// Batch sizes Triton prefers to form (`preferred_batch_size`); empty lets it choose.
    pub preferred_batch_sizes: Vec<usize>,
    /// How long a request may wait for others (`max_queue_delay_microseconds`).
    pub max_queue_delay_microseconds: u64,
}

impl Default for DynamicBatching {
    fn default() -> Self {
        DynamicBatching {
            preferred_batch_sizes: Vec::new(),
            max_queue_delay_microseconds: 100,
        }
    }
}

/// Triton's `instance_group`: `count` copies of the model on the CPU or on GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instances {
    /// How many copies.
    pub count: usize,
    /// On the CPU (`KIND_CPU`) or on GPUs (`KIND_GPU`).
    pub gpu: bool,
}

/// Writes `dir/<name>/config.pbtxt` and `dir/<name>/1/model.onnx` for `module`; returns what
/// the export wrote.
///
/// # Errors
/// A name Triton cannot take as a directory, a batch size of 0, anything [`save_onnx`]
/// refuses, and a directory that cannot be written.
pub fn save_triton_repository(
    module: &dyn Module,
    dir: impl AsRef<Path>,
    name: &str,
    options: &TritonOptions,
) -> Result<OnnxSummary, ExportError> {
    let bad_name = name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if bad_name || options.max_batch_size == 0 {
        return Err(ExportError::Triton {
            message: if bad_name {
                format!(
                    "model name `{name}`: Triton names a model by its directory, so it takes \
                     letters, digits, `_`, `-` and `.`, and does not start with `.`"
                )
            } else {
                "`max_batch_size` is 0; Triton's 0 means the model takes no batch axis, and \
                 the exported model has one"
                    .to_string()
            },
        });
    }
    let model_dir = dir.as_ref().join(name);
    let version = model_dir.join("1");
    std::fs::create_dir_all(&version).map_err(|source| io(&version, source))?;
    let summary = save_onnx(module, version.join("model.onnx"), &options.export)?;
    let config = model_dir.join("config.pbtxt");
    std::fs::write(&config, config_text(module, name, options))
        .map_err(|source| io(&config, source))?;
    Ok(summary)
}

fn io(path: &Path, source: std::io::Error) -> ExportError {
    ExportError::Io {
        path: PathBuf::from(path),
        source,
    }
}

/// The `config.pbtxt` of `module` under `name`: its input and output without the batch
/// (`-1` for a height or width the export leaves open).
pub fn config_text(module: &dyn Module, name: &str, options: &TritonOptions) -> String {
    let graph = module.graph();
    let size = match options.export.input_size {
        Some(size) => Some(size),
        None if !graph.sizes.iter().any(|s| s.is_generic()) => {
            Some([graph.input[1], graph.input[2]])
        }
        None => None,
    };
    let dims = |d: Option<usize>| d.map_or(-1, |d| d as i64);
    let input = [
        graph.input[0] as i64,
        dims(size.map(|s| s[0])),
        dims(size.map(|s| s[1])),
    ];
    let output: Vec<i64> = match (graph.output, size.and_then(|s| graph.output_at(s))) {
        (&[features], _) => vec![features as i64],
        (_, Some(chw)) => chw.iter().map(|&d| d as i64).collect(),
        (dims, None) => vec![dims.first().map_or(-1, |&c| c as i64), -1, -1],
    };
    let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let mut text = String::new();
    let _ = writeln!(text, "name: \"{name}\"");
    let _ = writeln!(text, "platform: \"onnxruntime_onnx\"");
    let _ = writeln!(text, "max_batch_size: {}", options.max_batch_size);
    for (section, value, dims) in [
        ("input", "input", &input[..]),
        ("output", "output", &output),
    ] {
        let _ = writeln!(text, "{section} [");
        let _ = writeln!(text, "  {{");
        let _ = writeln!(text, "    name: \"{value}\"");
        let _ = writeln!(text, "    data_type: TYPE_FP32");
        let _ = writeln!(text, "    dims: [ {} ]", list(dims));
        let _ = writeln!(text, "  }}");
        let _ = writeln!(text, "]");
    }
    if let Some(batching) = &options.dynamic_batching {
        let _ = writeln!(text, "dynamic_batching {{");
        if !batching.preferred_batch_sizes.is_empty() {
            let sizes: Vec<i64> = batching
                .preferred_batch_sizes
                .iter()
                .map(|&b| b as i64)
                .collect();
            let _ = writeln!(text, "  preferred_batch_size: [ {} ]", list(&sizes));
        }
        let _ = writeln!(
            text,
            "  max_queue_delay_microseconds: {}",
            batching.max_queue_delay_microseconds
        );
        let _ = writeln!(text, "}}");
    }
    if let Some(instances) = options.instances {
        let kind = if instances.gpu {
            "KIND_GPU"
        } else {
            "KIND_CPU"
        };
        let _ = writeln!(text, "instance_group [");
        let _ = writeln!(text, "  {{");
        let _ = writeln!(text, "    count: {}", instances.count);
        let _ = writeln!(text, "    kind: {kind}");
        let _ = writeln!(text, "  }}");
        let _ = writeln!(text, "]");
    }
    text
}
