//! Reading tensors out of [`Weights`], checked against the shapes a network expects.

use std::collections::{BTreeMap, HashMap, HashSet};

use ndarray::{Array, Dimension, IxDyn};

use super::Weights;
use super::error::{LoadError, PrefixHint, WeightProblem};
use super::rename::{KeyRule, Renaming, module_prefix};
use super::tensor::is_float;

/// The last segment of the key under which PyTorch's batch norm stores its step counter, an
/// `I64` scalar that only training uses.
const NUM_BATCHES_TRACKED: &str = "num_batches_tracked";

/// The last segment of the key under which PyTorch's batch norm stores its running variance,
/// which [`LoadOptions::validate`] also checks for negative values.
const RUNNING_VAR: &str = "running_var";

/// Which part of a file to load, under which names, and how strictly.
///
/// ```
/// use stride_runtime::weights::LoadOptions;
///
/// // The first block of ResNet's first stage, out of a whole-model checkpoint, ignoring
/// // nothing else under that prefix.
/// let options = LoadOptions { prefix: "layer1.0".into(), ..LoadOptions::default() };
/// assert!(options.strict);
/// ```
///
/// A file's keys become the network's in three steps: [`prefix`](LoadOptions::prefix) is
/// stripped (keys without it are not read), the [`renames`](LoadOptions::renames) apply in
/// order, and [`add_prefix`](LoadOptions::add_prefix) is prepended. The builder methods say
/// the same:
///
/// ```
/// use ndarray::{Array1, Ix1};
/// use stride_runtime::weights::{LoadOptions, Loader, Saver, Weights};
///
/// // A checkpoint saved from `nn.DataParallel` (every key under `module.`), whose classifier
/// // is `fc`, for a network whose classifier is `head` inside a `model` block.
/// let mut saver = Saver::new();
/// saver.add("module.fc.bias", &Array1::<f32>::zeros(10))?;
/// let weights = Weights::from_bytes(saver.to_bytes()?)?;
///
/// let options = LoadOptions::default()
///     .strip_prefix("module")
///     .rename("fc", "head")
///     .add_prefix("model");
/// let mut loader = Loader::new(&weights, &options);
/// assert!(loader.tensor::<Ix1>("model.head.bias", &[10]).is_some());
/// loader.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Whether keys under the prefix that no [`Loader::tensor`] call asked for are an error
    /// ([`WeightProblem::Unexpected`]), as in PyTorch's `load_state_dict(strict=True)`. On by
    /// default. Keys outside the prefix never are.
    pub strict: bool,
    /// A module path prepended to every key, so that a network can load its part of a larger
    /// checkpoint: with `prefix = "layer1.0"`, the network's `conv1.weight` is read from
    /// `layer1.0.conv1.weight`.
    ///
    /// Written as a module path, without or with its trailing dot (`"layer1.0"` and
    /// `"layer1.0."` select the same keys): the dot is added when it is missing, so the prefix
    /// always ends at a module boundary. Empty (the default) selects the whole file.
    pub prefix: String,
    /// Whether a network built from the weights fuses its layers for inference (a batch norm
    /// folded into the convolution before it, activations and residual adds applied as the
    /// convolution writes its output). On by default; the network's `fuse` and `unfuse`
    /// change it later. The loader itself does not read it.
    pub fuse: bool,
    /// Whether values that load but cannot give finite outputs are problems: NaN and
    /// infinities in any tensor ([`WeightProblem::NonFinite`]) and negative values in a batch
    /// norm's `running_var` ([`WeightProblem::NegativeVariance`]). Off by default: PyTorch's
    /// `load_state_dict` loads them, and so does stride, which then computes what PyTorch
    /// computes with them (NaN where they reach). Turn it on to refuse a corrupted or
    /// diverged checkpoint at load time, with every such tensor named.
    pub validate: bool,
    /// Rules that rename the file's keys (after `prefix` is stripped), applied in order; see
    /// [`KeyRule`]. Empty by default. Problems with a renamed key name both the file's key and
    /// the network's ([`WeightProblem::Renamed`]).
    pub renames: Vec<KeyRule>,
    /// A module path prepended to every key of the file once renamed, so that a network can
    /// load a checkpoint of one of its parts: with `add_prefix = "backbone"`, the file's
    /// `conv1.weight` is the network's `backbone.conv1.weight`. Written as `prefix` is; empty
    /// by default. Network keys without it are missing.
    pub add_prefix: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            strict: true,
            prefix: String::new(),
            fuse: true,
            validate: false,
            renames: Vec::new(),
            add_prefix: String::new(),
        }
    }
}

impl LoadOptions {
    /// Reads only the file's keys under module path `prefix`, without it: sets
    /// [`prefix`](LoadOptions::prefix). `strip_prefix("module")` reads a checkpoint saved
    /// from `nn.DataParallel`.
    ///
    /// ```
    /// use stride_runtime::weights::LoadOptions;
    ///
    /// assert_eq!(LoadOptions::default().strip_prefix("module").prefix, "module");
    /// ```
    pub fn strip_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Prepends module path `prefix` to every key of the file: sets
    /// [`add_prefix`](LoadOptions::add_prefix).
    ///
    /// ```
    /// use stride_runtime::weights::LoadOptions;
    ///
    /// assert_eq!(LoadOptions::default().add_prefix("backbone").add_prefix, "backbone");
    /// ```
    pub fn add_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.add_prefix = prefix.into();
        self
    }

    /// Adds a [`KeyRule::Replace`]: `from` becomes `to` wherever it spans whole segments.
    ///
    /// ```
    /// use stride_runtime::weights::{KeyRule, LoadOptions};
    ///
    /// let options = LoadOptions::default().rename("fc", "head");
    /// assert_eq!(options.renames, [KeyRule::replace("fc", "head")]);
    /// ```
    pub fn rename(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.renames.push(KeyRule::replace(from, to));
        self
    }

    /// Adds a [`KeyRule::With`]: `rename` gives a key's new name, or `None` to leave it.
    ///
    /// ```
    /// use stride_runtime::weights::LoadOptions;
    ///
    /// let options = LoadOptions::default().rename_with(|key| key.strip_suffix(".gamma").map(|m| format!("{m}.weight")));
    /// assert_eq!(options.renames[0].apply("bn1.gamma").as_deref(), Some("bn1.weight"));
    /// ```
    pub fn rename_with(
        mut self,
        rename: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.renames.push(KeyRule::with(rename));
        self
    }
}

/// Reads a network's parameters out of [`Weights`] one by one, and collects every problem
/// instead of stopping at the first.
///
/// Call [`tensor`](Loader::tensor) once per parameter, then [`finish`](Loader::finish): it
/// adds the keys nobody asked for (in strict mode) and returns every problem at once. After a
/// successful `finish`, every `tensor` call returned `Some`.
///
/// ```
/// use ndarray::{Array1, Ix1};
/// use stride_runtime::weights::{LoadError, LoadOptions, Loader, Saver, Weights};
///
/// let mut saver = Saver::new();
/// saver.add("bn1.weight", &Array1::<f32>::ones(64))?;
/// saver.add("fc.weight", &Array1::<f32>::ones(3))?;
/// let weights = Weights::from_bytes(saver.to_bytes()?)?;
///
/// let mut loader = Loader::new(&weights, &LoadOptions::default());
/// assert!(loader.tensor::<Ix1>("bn1.weight", &[64]).is_some());
/// assert!(loader.tensor::<Ix1>("bn1.bias", &[64]).is_none());
/// let err = loader.finish().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "<in-memory weights>: 2 problems\n  \
///      missing `bn1.bias`, expected an F32 tensor of shape [64]\n  \
///      unexpected `fc.weight`: the network has no parameter of this name\n\
///      (keys the network does not use are allowed with `LoadOptions { strict: false, .. }`)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Loader<'w> {
    weights: &'w Weights,
    renaming: Renaming,
    strict: bool,
    validate: bool,
    /// The file's keys under the prefix, by the network's name for them.
    keys: BTreeMap<String, &'w str>,
    /// Network keys that some `tensor` call asked for, found or not.
    asked: HashSet<String>,
    problems: Vec<WeightProblem>,
}

impl<'w> Loader<'w> {
    /// A loader over `weights` with the given prefix and strictness.
    ///
    /// ```
    /// use stride_runtime::weights::{LoadOptions, Loader, Weights};
    ///
    /// let weights = Weights::from_bytes(&b"\x02\x00\x00\x00\x00\x00\x00\x00{}"[..])?;
    /// let loader = Loader::new(&weights, &LoadOptions::default());
    /// assert!(loader.finish().is_ok());
    /// # Ok::<(), stride_runtime::weights::LoadError>(())
    /// ```
    pub fn new(weights: &'w Weights, options: &LoadOptions) -> Self {
        let renaming = Renaming {
            strip: module_prefix(&options.prefix),
            rules: options.renames.clone(),
            add: module_prefix(&options.add_prefix),
        };
        let mut keys = BTreeMap::new();
        let mut problems = Vec::new();
        for file_key in weights.keys() {
            let Some(key) = renaming.network_key(file_key) else {
                continue;
            };
            if let Some(first) = keys.insert(key.clone(), file_key) {
                problems.push(WeightProblem::Clash {
                    key,
                    file_keys: [first.to_string(), file_key.to_string()],
                });
            }
        }
        Loader {
            weights,
            renaming,
            strict: options.strict,
            validate: options.validate,
            keys,
            asked: HashSet::new(),
            problems,
        }
    }

    /// How problems about network key `key`, the file's `file_key` (if known), name it.
    fn naming(&self, key: &str, file_key: Option<&str>) -> Naming {
        match file_key {
            Some(file_key) if file_key.strip_prefix(&self.renaming.strip) != Some(key) => Naming {
                shown: key.to_string(),
                renamed_from: Some(file_key.to_string()),
            },
            Some(file_key) => Naming {
                shown: file_key.to_string(),
                renamed_from: None,
            },
            None => Naming {
                shown: key.to_string(),
                renamed_from: None,
            },
        }
    }

    /// The `F32` tensor stored under the prefix followed by `key`, as an array of shape
    /// `shape`; or `None`, with the problem recorded for [`finish`](Loader::finish): the key
    /// is missing, has another shape, or is not `F32` (both are recorded when both are wrong).
    ///
    /// `D` must have `shape.len()` axes (`Ix4` for `[64, 3, 7, 7]`); anything else is a bug in
    /// the caller, checked with a `debug_assert`.
    ///
    /// ```
    /// use ndarray::{Array2, Ix2};
    /// use stride_runtime::weights::{LoadOptions, Loader, Saver, Weights, WeightProblem};
    ///
    /// let mut saver = Saver::new();
    /// saver.add("layer1.0.fc.weight", &Array2::<f32>::ones((4, 8)))?;
    /// let weights = Weights::from_bytes(saver.to_bytes()?)?;
    ///
    /// let options = LoadOptions { prefix: "layer1.0".into(), ..Default::default() };
    /// let mut loader = Loader::new(&weights, &options);
    /// let w = loader.tensor::<Ix2>("fc.weight", &[4, 8]).unwrap();
    /// assert_eq!(w.sum(), 32.0);
    /// assert!(loader.tensor::<Ix2>("fc.weight", &[8, 4]).is_none());
    /// match loader.finish() {
    ///     Err(stride_runtime::weights::LoadError::Problems { problems, .. }) => assert_eq!(
    ///         problems,
    ///         [WeightProblem::WrongShape {
    ///             key: "layer1.0.fc.weight".into(),
    ///             expected: vec![8, 4],
    ///             got: vec![4, 8],
    ///         }]
    ///     ),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tensor<D: Dimension>(&mut self, key: &str, shape: &[usize]) -> Option<Array<f32, D>> {
        debug_assert!(
            D::NDIM.is_none_or(|n| n == shape.len()),
            "Loader::tensor::<{}>(`{key}`, {shape:?}): the array type has {:?} axes but the \
             shape has {}",
            std::any::type_name::<D>(),
            D::NDIM,
            shape.len()
        );
        self.asked.insert(key.to_string());
        let weights = self.weights;
        let Some(entry) = self
            .keys
            .get(key)
            .and_then(|&file_key| Some((file_key, weights.entry(file_key)?)))
        else {
            let naming = self.naming(key, self.renaming.file_key(key).as_deref());
            self.problems.push(naming.wrap(WeightProblem::Missing {
                key: naming.shown.clone(),
                expected: shape.to_vec(),
            }));
            return None;
        };
        let (file_key, entry) = entry;
        let naming = self.naming(key, Some(file_key));
        let before = self.problems.len();
        if entry.shape != shape {
            self.problems.push(naming.wrap(WeightProblem::WrongShape {
                key: naming.shown.clone(),
                expected: shape.to_vec(),
                got: entry.shape.clone(),
            }));
        }
        if !is_float(entry.dtype) {
            self.problems.push(naming.wrap(WeightProblem::WrongDtype {
                key: naming.shown.clone(),
                got: entry.dtype.to_string(),
            }));
        }
        let fits = self.problems.len() == before;
        let array = if fits {
            Array::from_shape_vec(IxDyn(shape), weights.f32_values(entry))
                .ok()
                .and_then(|a| a.into_dimensionality::<D>().ok())
        } else {
            None
        };
        if let (true, Some(array)) = (self.validate, &array) {
            let found = validation_problems(&naming.shown, array.as_slice().unwrap_or(&[]), shape);
            self.problems
                .extend(found.into_iter().map(|p| naming.wrap(p)));
        }
        if fits && array.is_none() {
            // Only reachable when `D` disagrees with `shape`, which the debug_assert above
            // catches in debug builds; in release, refuse the tensor rather than panic.
            self.problems.push(naming.wrap(WeightProblem::WrongShape {
                key: naming.shown.clone(),
                expected: shape.to_vec(),
                got: entry.shape.clone(),
            }));
        }
        array
    }

    /// Every problem met so far, then (in strict mode) one [`WeightProblem::Unexpected`] for
    /// each key under the prefix that no [`tensor`](Loader::tensor) call asked for, except
    /// batch norm's `num_batches_tracked` counters. `Ok` when there are none.
    ///
    /// ```
    /// use ndarray::Array1;
    /// use stride_runtime::weights::{LoadOptions, Loader, Saver, Weights};
    ///
    /// let mut saver = Saver::new();
    /// saver.add("fc.bias", &Array1::<f32>::zeros(10))?;
    /// let weights = Weights::from_bytes(saver.to_bytes()?)?;
    ///
    /// assert!(Loader::new(&weights, &LoadOptions::default()).finish().is_err());
    /// let lenient = LoadOptions { strict: false, ..Default::default() };
    /// assert!(Loader::new(&weights, &lenient).finish().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(mut self) -> Result<(), LoadError> {
        if self.strict {
            let unexpected: Vec<_> = self
                .keys
                .iter()
                .filter(|(key, _)| !is_num_batches_tracked(key))
                .filter(|(key, _)| !self.asked.contains(*key))
                .map(|(key, file_key)| {
                    let naming = self.naming(key, Some(file_key));
                    naming.wrap(WeightProblem::Unexpected {
                        key: naming.shown.clone(),
                    })
                })
                .collect();
            self.problems.extend(unexpected);
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            let hint = self.prefix_hint();
            Err(LoadError::Problems {
                path: self.weights.path().to_path_buf(),
                problems: self.problems,
                hint,
            })
        }
    }

    /// The prefix under which the file has most of the missing keys, if it has any of them
    /// under a prefix other than this loader's: `features.0.weight` for a missing `0.weight`
    /// gives `features`; `conv1.weight` for a missing `layer1.0.conv1.weight` (with prefix
    /// `layer1.0`) gives none. Ties go to the shorter prefix.
    fn prefix_hint(&self) -> Option<Box<PrefixHint>> {
        // A prefix explains missing keys only when nothing else renames them.
        if !self.renaming.is_plain() {
            return None;
        }
        let prefix = self.renaming.strip.as_str();
        let missing: Vec<(&str, &str)> = self
            .problems
            .iter()
            .filter_map(|p| match p {
                WeightProblem::Missing { key, .. } => {
                    Some((key.as_str(), key.strip_prefix(prefix)?))
                }
                _ => None,
            })
            .collect();
        if missing.is_empty() {
            return None;
        }
        // Every key of the file under each of its dotted suffixes: `features.0.weight` under
        // `features.0.weight`, `0.weight` and `weight`, with the prefix before each.
        let mut by_suffix: HashMap<&str, Vec<&str>> = HashMap::new();
        for key in self.weights.keys() {
            let boundaries = std::iter::once(0).chain(key.match_indices('.').map(|(i, _)| i + 1));
            for at in boundaries {
                by_suffix.entry(&key[at..]).or_default().push(&key[..at]);
            }
        }
        // Votes per prefix (with its trailing dot), and the first missing key each explains.
        let mut votes: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for &(full, relative) in &missing {
            for &prefix in by_suffix.get(relative).into_iter().flatten() {
                if prefix != self.renaming.strip {
                    votes.entry(prefix).or_insert((0, full)).0 += 1;
                }
            }
        }
        // The prefix with the most votes, if no other has as many: a key as common as
        // `weight` alone would otherwise point at any module.
        let mut ranked: Vec<_> = votes.into_iter().collect();
        ranked.sort_by_key(|&(_, (count, _))| std::cmp::Reverse(count));
        let (prefix, (matched, missing)) = *ranked.first()?;
        if ranked
            .get(1)
            .is_some_and(|&(_, (count, _))| count == matched)
        {
            return None;
        }
        let relative = missing.strip_prefix(self.renaming.strip.as_str())?;
        Some(Box::new(PrefixHint {
            prefix: prefix.strip_suffix('.').unwrap_or(prefix).to_string(),
            matched,
            missing: missing.to_string(),
            found: format!("{prefix}{relative}"),
        }))
    }
}

/// How the problems about one key name it: by the file's key when the key was only stripped
/// of the prefix, by the network's inside a [`WeightProblem::Renamed`] that gives the file's
/// when the rules renamed it.
struct Naming {
    /// The key each problem holds.
    shown: String,
    /// The file's key, when the rules renamed it.
    renamed_from: Option<String>,
}

impl Naming {
    fn wrap(&self, problem: WeightProblem) -> WeightProblem {
        match &self.renamed_from {
            Some(file_key) => WeightProblem::Renamed {
                file_key: file_key.clone(),
                problem: Box::new(problem),
            },
            None => problem,
        }
    }
}

/// What [`LoadOptions::validate`] finds in the values of tensor `key` of `shape` (in C
/// order): non-finite values, and in a batch norm's `running_var`, negative ones.
fn validation_problems(key: &str, values: &[f32], shape: &[usize]) -> Vec<WeightProblem> {
    let mut problems = Vec::new();
    let non_finite = values.iter().filter(|v| !v.is_finite()).count();
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        problems.push(WeightProblem::NonFinite {
            key: key.into(),
            count: non_finite,
            first: index_of(at, shape),
        });
    }
    if key.rsplit('.').next() == Some(RUNNING_VAR) {
        let negative = values.iter().filter(|&&v| v < 0.0).count();
        if let Some(channel) = values.iter().position(|&v| v < 0.0) {
            problems.push(WeightProblem::NegativeVariance {
                key: key.into(),
                count: negative,
                channel,
            });
        }
    }
    problems
}

/// The index in `shape` of element `at` in C order.
fn index_of(mut at: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in index.iter_mut().zip(shape).rev() {
        *i = at % d;
        at /= d;
    }
    index
}

/// Whether `key` is a batch norm step counter (`bn1.num_batches_tracked`).
fn is_num_batches_tracked(key: &str) -> bool {
    key.rsplit('.').next() == Some(NUM_BATCHES_TRACKED)
}
