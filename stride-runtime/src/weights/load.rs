//! Reading tensors out of [`Weights`], checked against the shapes a network expects.

use std::collections::{BTreeMap, HashMap, HashSet};

use ndarray::{Array, Dimension, IxDyn};
use safetensors::Dtype;

use super::Weights;
use super::error::{LoadError, PrefixHint, WeightProblem};

/// The last segment of the key under which PyTorch's batch norm stores its step counter, an
/// `I64` scalar that only training uses.
const NUM_BATCHES_TRACKED: &str = "num_batches_tracked";

/// The last segment of the key under which PyTorch's batch norm stores its running variance,
/// which [`LoadOptions::validate`] also checks for negative values.
const RUNNING_VAR: &str = "running_var";

/// Which part of a file to load, and how strictly.
///
/// ```
/// use stride_runtime::weights::LoadOptions;
///
/// // The first block of ResNet's first stage, out of a whole-model checkpoint, ignoring
/// // nothing else under that prefix.
/// let options = LoadOptions { prefix: "layer1.0".into(), ..LoadOptions::default() };
/// assert!(options.strict);
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
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            strict: true,
            prefix: String::new(),
            fuse: true,
            validate: false,
        }
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
    /// Empty, or a module path ending in a dot.
    prefix: String,
    strict: bool,
    validate: bool,
    /// Full keys that some `tensor` call asked for, found or not.
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
        let mut prefix = options.prefix.clone();
        if !prefix.is_empty() && !prefix.ends_with('.') {
            prefix.push('.');
        }
        Loader {
            weights,
            prefix,
            strict: options.strict,
            validate: options.validate,
            asked: HashSet::new(),
            problems: Vec::new(),
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
        let full = format!("{}{key}", self.prefix);
        let weights = self.weights;
        let Some(entry) = weights.entry(&full) else {
            self.problems.push(WeightProblem::Missing {
                key: full.clone(),
                expected: shape.to_vec(),
            });
            self.asked.insert(full);
            return None;
        };
        let before = self.problems.len();
        if entry.shape != shape {
            self.problems.push(WeightProblem::WrongShape {
                key: full.clone(),
                expected: shape.to_vec(),
                got: entry.shape.clone(),
            });
        }
        if entry.dtype != Dtype::F32 {
            self.problems.push(WeightProblem::WrongDtype {
                key: full.clone(),
                got: entry.dtype.to_string(),
            });
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
            self.problems.extend(validation_problems(
                &full,
                array.as_slice().unwrap_or(&[]),
                shape,
            ));
        }
        if fits && array.is_none() {
            // Only reachable when `D` disagrees with `shape`, which the debug_assert above
            // catches in debug builds; in release, refuse the tensor rather than panic.
            self.problems.push(WeightProblem::WrongShape {
                key: full.clone(),
                expected: shape.to_vec(),
                got: entry.shape.clone(),
            });
        }
        self.asked.insert(full);
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
            let unexpected = self
                .weights
                .keys()
                .filter(|key| key.starts_with(&self.prefix))
                .filter(|key| !is_num_batches_tracked(key))
                .filter(|key| !self.asked.contains(*key))
                .map(|key| WeightProblem::Unexpected { key: key.into() });
            self.problems.extend(unexpected.collect::<Vec<_>>());
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
        let missing: Vec<(&str, &str)> = self
            .problems
            .iter()
            .filter_map(|p| match p {
                WeightProblem::Missing { key, .. } => {
                    Some((key.as_str(), &key[self.prefix.len()..]))
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
                if prefix != self.prefix {
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
        let relative = &missing[self.prefix.len()..];
        Some(Box::new(PrefixHint {
            prefix: prefix.strip_suffix('.').unwrap_or(prefix).to_string(),
            matched,
            missing: missing.to_string(),
            found: format!("{prefix}{relative}"),
        }))
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
