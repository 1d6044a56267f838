//! Why weights could not be loaded: [`LoadError`], and one [`WeightProblem`] per key that
//! does not fit. Both the file reader (`mod.rs`) and the [`Loader`](super::Loader)
//! (`load.rs`) report through them.

use std::fmt::Write as _;
use std::path::PathBuf;

/// One reason a file does not fit the network that is loading it.
///
/// Keys are the file's keys, prefix included.
///
/// ```
/// use stride_runtime::weights::WeightProblem;
///
/// let problem = WeightProblem::WrongShape {
///     key: "conv1.weight".into(),
///     expected: vec![64, 3, 7, 7],
///     got: vec![64, 3, 3, 3],
/// };
/// assert_eq!(problem.to_string(), "`conv1.weight` has shape [64, 3, 3, 3], expected [64, 3, 7, 7]");
/// assert_eq!(problem.key(), "conv1.weight");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum WeightProblem {
    /// The network has a parameter the file does not.
    #[error("missing `{key}`, expected an F32 tensor of shape {expected:?}")]
    Missing {
        /// The key looked up.
        key: String,
        /// The shape the network expected.
        expected: Vec<usize>,
    },
    /// The file has the key with another shape.
    #[error("`{key}` has shape {got:?}, expected {expected:?}")]
    WrongShape {
        /// The key.
        key: String,
        /// The shape the network expected.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// The file has the key in a dtype other than `F32`.
    #[error("`{key}` is {got}, expected F32 (convert it with `.float()` before saving)")]
    WrongDtype {
        /// The key.
        key: String,
        /// The dtype in the file, as safetensors spells it: `"F16"`, `"BF16"`, `"I64"`, …
        got: String,
    },
    /// In strict mode, a key under the prefix that no layer asked for.
    #[error("unexpected `{key}`: the network has no parameter of this name")]
    Unexpected {
        /// The key.
        key: String,
    },
}

impl WeightProblem {
    /// The key the problem is about.
    ///
    /// ```
    /// use stride_runtime::weights::WeightProblem;
    ///
    /// let problem = WeightProblem::Unexpected { key: "fc.weight".into() };
    /// assert_eq!(problem.key(), "fc.weight");
    /// ```
    pub fn key(&self) -> &str {
        match self {
            WeightProblem::Missing { key, .. }
            | WeightProblem::WrongShape { key, .. }
            | WeightProblem::WrongDtype { key, .. }
            | WeightProblem::Unexpected { key } => key,
        }
    }
}

/// Why weights could not be loaded.
///
/// ```
/// use stride_runtime::weights::{LoadError, WeightProblem};
///
/// let err = LoadError::Problems {
///     path: "resnet18_stem.safetensors".into(),
///     problems: vec![
///         WeightProblem::Missing { key: "bn1.running_var".into(), expected: vec![64] },
///         WeightProblem::WrongDtype { key: "bn1.weight".into(), got: "F16".into() },
///     ],
/// };
/// assert_eq!(
///     err.to_string(),
///     "resnet18_stem.safetensors: 2 problems\n  \
///      missing `bn1.running_var`, expected an F32 tensor of shape [64]\n  \
///      `bn1.weight` is F16, expected F32 (convert it with `.float()` before saving)"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or mapped.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path that was opened.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is not a well-formed safetensors file: a malformed header, a truncated file,
    /// data offsets past its end.
    #[error("{}: not a valid safetensors file: {message}", path.display())]
    Format {
        /// The path of the file (`<in-memory weights>` for [`Weights::from_bytes`](super::Weights::from_bytes)).
        path: PathBuf,
        /// What is malformed.
        message: String,
    },
    /// The file is well formed but does not fit the network: every problem found, in the
    /// order the network asked for its parameters, then the unexpected keys in sorted order.
    #[error("{}", problems_report(path, problems))]
    Problems {
        /// The path of the file (`<in-memory weights>` for [`Weights::from_bytes`](super::Weights::from_bytes)).
        path: PathBuf,
        /// Every problem, one per key (a key whose shape and dtype are both wrong has two).
        problems: Vec<WeightProblem>,
    },
    /// Tensors that loaded with the right shapes but do not make a valid layer.
    #[error("the loaded weights do not make a valid layer: {0}")]
    Layer(#[from] crate::Error),
}

/// `path: N problems`, then one indented line per problem, then a hint when a setting would
/// have avoided some of them.
fn problems_report(path: &std::path::Path, problems: &[WeightProblem]) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut out = format!("{}: {count} {noun}", path.display());
    for problem in problems {
        let _ = write!(out, "\n  {problem}");
    }
    if problems
        .iter()
        .any(|p| matches!(p, WeightProblem::Unexpected { .. }))
    {
        out.push_str(
            "\n(keys the network does not use are allowed with `LoadOptions { strict: false, .. }`)",
        );
    }
    out
}
