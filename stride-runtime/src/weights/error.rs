//! Why weights could not be loaded: [`LoadError`], and one [`WeightProblem`] per key that
//! does not fit. Both the file reader (`mod.rs`) and the [`Loader`](super::Loader)
//! (`load.rs`) report through them.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

/// The most problems a [`LoadError`]'s message lists; it counts the rest. Every problem is in
/// [`LoadError::Problems`]'s `problems`.
pub const LISTED_PROBLEMS: usize = 20;

/// One reason a file does not fit the network that is loading it.
///
/// Keys are the file's keys, prefix included. A problem with a key that
/// [`LoadOptions`](super::LoadOptions)' rename rules changed is a [`WeightProblem::Renamed`],
/// which names the file's key and holds the problem under the network's.
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
    /// The file has the key in a dtype that is not a float. (`F16`, `BF16` and `F64` load,
    /// converted to `f32` as PyTorch's `load_state_dict` converts them.)
    #[error("`{key}` is {got}, expected F32 (convert it with `.float()` before saving)")]
    WrongDtype {
        /// The key.
        key: String,
        /// The dtype in the file, as safetensors spells it: `"I64"`, `"U8"`, `"BOOL"`, …
        got: String,
    },
    /// In strict mode, a key under the prefix that no layer asked for.
    #[error("unexpected `{key}`: the network has no parameter of this name")]
    Unexpected {
        /// The key.
        key: String,
    },
    /// With [`LoadOptions::validate`](super::LoadOptions::validate), a tensor holding NaN or
    /// an infinity (which PyTorch loads, and which makes every output it reaches non-finite).
    #[error("`{key}` holds {count} non-finite values (NaN or infinity), the first at {first:?}")]
    NonFinite {
        /// The key.
        key: String,
        /// How many values are NaN or infinite.
        count: usize,
        /// The index of the first, in C order.
        first: Vec<usize>,
    },
    /// With [`LoadOptions::validate`](super::LoadOptions::validate), a batch norm's
    /// `running_var` below 0 (which PyTorch loads, and whose square root makes the channel
    /// NaN).
    #[error("`{key}` holds {count} negative variances, the first at channel {channel}")]
    NegativeVariance {
        /// The key.
        key: String,
        /// How many values are below 0.
        count: usize,
        /// The channel of the first.
        channel: usize,
    },
    /// A problem with a key that the rename rules changed: the file's key, and the problem
    /// under the network's key. For a missing key, the file's key is the one the rules would
    /// have renamed to it.
    ///
    /// ```
    /// use stride_runtime::weights::WeightProblem;
    ///
    /// let problem = WeightProblem::Renamed {
    ///     file_key: "fc.weight".into(),
    ///     problem: Box::new(WeightProblem::Unexpected { key: "head.weight".into() }),
    /// };
    /// assert_eq!(
    ///     problem.to_string(),
    ///     "unexpected `head.weight`: the network has no parameter of this name (the file's \
    ///      `fc.weight`, renamed)"
    /// );
    /// ```
    #[error("{problem} (the file's `{file_key}`, renamed)")]
    Renamed {
        /// The key in the file, prefix included.
        file_key: String,
        /// The problem, under the network's key.
        problem: Box<WeightProblem>,
    },
    /// Two keys of the file that the rename rules give one name: the network would read one
    /// and not the other.
    #[error("the file's `{}` and `{}` are both renamed `{key}`", file_keys[0], file_keys[1])]
    Clash {
        /// The network's key.
        key: String,
        /// The two keys of the file, in sorted order.
        file_keys: [String; 2],
    },
}

impl WeightProblem {
    /// The key the problem is about: the file's key (for [`WeightProblem::Clash`], the
    /// network's).
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
            | WeightProblem::Unexpected { key }
            | WeightProblem::NonFinite { key, .. }
            | WeightProblem::NegativeVariance { key, .. }
            | WeightProblem::Clash { key, .. } => key,
            WeightProblem::Renamed { file_key, .. } => file_key,
        }
    }

    /// The problem itself, under the network's key when it is [`WeightProblem::Renamed`].
    fn unrenamed(&self) -> &WeightProblem {
        match self {
            WeightProblem::Renamed { problem, .. } => problem,
            other => other,
        }
    }
}

/// Why weights could not be loaded.
///
/// Its `Debug` form is its message (what `main` prints for an error it returns with `?`),
/// which lists at most [`LISTED_PROBLEMS`] problems and counts the rest.
///
/// ```
/// use stride_runtime::weights::{LoadError, WeightProblem};
///
/// let err = LoadError::Problems {
///     path: "resnet18_stem.safetensors".into(),
///     problems: vec![
///         WeightProblem::Missing { key: "bn1.running_var".into(), expected: vec![64] },
///         WeightProblem::WrongDtype { key: "bn1.weight".into(), got: "I64".into() },
///     ],
///     hint: None,
/// };
/// assert_eq!(
///     err.to_string(),
///     "resnet18_stem.safetensors: 2 problems\n  \
///      missing `bn1.running_var`, expected an F32 tensor of shape [64]\n  \
///      `bn1.weight` is I64, expected F32 (convert it with `.float()` before saving)"
/// );
/// assert_eq!(format!("{err:?}"), err.to_string());
/// ```
#[derive(thiserror::Error)]
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
    /// data offsets past its end, a key that appears twice.
    #[error("{}: not a valid safetensors file: {message}", path.display())]
    Format {
        /// The path of the file (`<in-memory weights>` for [`Weights::from_bytes`](super::Weights::from_bytes)).
        path: PathBuf,
        /// What is malformed.
        message: String,
    },
    /// The file is a zip archive, as PyTorch's `.pth` are, but not a checkpoint that can be
    /// read: truncated or otherwise malformed, big-endian, compressed, a tensor whose view
    /// reaches past its storage. Also a file in PyTorch's format before 1.6, with the command
    /// that re-saves it.
    #[error("{}: not a readable PyTorch checkpoint: {message}", path.display())]
    Checkpoint {
        /// The path of the file (`<in-memory weights>` for [`Weights::from_bytes`](super::Weights::from_bytes)).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A `.pth` whose pickle names a Python callable other than the few a state_dict needs
    /// (`collections.OrderedDict`, torch's tensor and parameter rebuilders and storage
    /// types). Python's `torch.load` would import and call it; stride refuses the file
    /// without running anything. A whole pickled model (`torch.save(model)`) is refused so,
    /// naming its class: save `model.state_dict()` instead.
    #[error(
        "{}: the checkpoint's pickle calls `{global}`, which stride does not run: only tensors \
         and plain containers are read (save `model.state_dict()` rather than the model)",
        path.display()
    )]
    ForbiddenGlobal {
        /// The path of the file.
        path: PathBuf,
        /// The callable, as `module.name`.
        global: String,
    },
    /// The file is well formed but does not fit the network: every problem found, in the
    /// order the network asked for its parameters, then the unexpected keys in sorted order.
    /// The message lists the first [`LISTED_PROBLEMS`].
    #[error("{}", problems_report(path, problems, hint.as_deref()))]
    Problems {
        /// The path of the file (`<in-memory weights>` for [`Weights::from_bytes`](super::Weights::from_bytes)).
        path: PathBuf,
        /// Every problem, one per key (a key whose shape and dtype are both wrong has two).
        problems: Vec<WeightProblem>,
        /// Missing keys that the file has under another prefix, and the
        /// [`LoadOptions::prefix`](super::LoadOptions::prefix) that would find them.
        hint: Option<Box<PrefixHint>>,
    },
    /// Tensors that loaded with the right shapes but do not make a valid layer.
    #[error("the loaded weights do not make a valid layer: {0}")]
    Layer(#[from] crate::Error),
}

/// Its message: readable where `main` prints an error it returns with `?`, which the derived
/// form, every problem on one line, was not (36 KB for a ResNet under the wrong prefix).
impl fmt::Debug for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Keys a network looked for and did not find, which the file has under another prefix: the
/// [`LoadOptions::prefix`](super::LoadOptions::prefix) to load with instead.
///
/// ```
/// use ndarray::{Array1, Ix1};
/// use stride_runtime::weights::{LoadError, LoadOptions, Loader, Saver, Weights};
///
/// // A network whose `0.weight` is the checkpoint's `features.0.weight`.
/// let mut saver = Saver::new();
/// saver.add("features.0.weight", &Array1::<f32>::zeros(8))?;
/// let weights = Weights::from_bytes(saver.to_bytes()?)?;
/// let mut loader = Loader::new(&weights, &LoadOptions::default());
/// assert!(loader.tensor::<Ix1>("0.weight", &[8]).is_none());
/// let err = loader.finish().unwrap_err();
/// let LoadError::Problems { hint: Some(hint), .. } = &err else { panic!("{err}") };
/// assert_eq!((hint.prefix.as_str(), hint.matched), ("features", 1));
/// assert!(err.to_string().ends_with(
///     "hint: 1 of the missing keys are in the file under another prefix (`0.weight` is \
///      `features.0.weight`): load with `LoadOptions { prefix: \"features\".into(), .. }`"
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PrefixHint {
    /// The prefix to load with, as [`LoadOptions::prefix`](super::LoadOptions::prefix) takes
    /// it (a module path without its trailing dot; empty for none).
    pub prefix: String,
    /// How many of the missing keys the file has under it.
    pub matched: usize,
    /// One of them, as the network asked for it (prefix included)…
    pub missing: String,
    /// …and as the file has it.
    pub found: String,
}

impl fmt::Display for PrefixHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (matched, missing, found) = (self.matched, &self.missing, &self.found);
        write!(
            f,
            "hint: {matched} of the missing keys are in the file under another prefix \
             (`{missing}` is `{found}`): load with "
        )?;
        if self.prefix.is_empty() {
            write!(
                f,
                "no prefix, `LoadOptions {{ prefix: String::new(), .. }}`"
            )
        } else {
            write!(
                f,
                "`LoadOptions {{ prefix: {:?}.into(), .. }}`",
                self.prefix
            )
        }
    }
}

/// `path: N problems`, then one indented line for each of the first [`LISTED_PROBLEMS`]
/// problems and a count of the rest, then the hints: a prefix that would find the missing
/// keys, and the setting that allows unexpected ones.
fn problems_report(
    path: &std::path::Path,
    problems: &[WeightProblem],
    hint: Option<&PrefixHint>,
) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut out = format!("{}: {count} {noun}", path.display());
    for problem in problems.iter().take(LISTED_PROBLEMS) {
        let _ = write!(out, "\n  {problem}");
    }
    if count > LISTED_PROBLEMS {
        let rest = count - LISTED_PROBLEMS;
        let _ = write!(
            out,
            "\n  … and {rest} more (every problem is in `LoadError::Problems {{ problems, .. }}`)"
        );
    }
    if let Some(hint) = hint {
        // The prefix explains the unexpected keys too: no other setting to suggest.
        let _ = write!(out, "\n{hint}");
    } else if problems
        .iter()
        .any(|p| matches!(p.unrenamed(), WeightProblem::Unexpected { .. }))
    {
        out.push_str(
            "\n(keys the network does not use are allowed with `LoadOptions { strict: false, .. }`)",
        );
    }
    out
}
