//! Writing named `f32` arrays as a safetensors file.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ndarray::{AsArray, Dimension};
use safetensors::tensor::View;
use safetensors::{Dtype, SafeTensorError};

/// The header key safetensors reserves for free-form string metadata.
const METADATA_KEY: &str = "__metadata__";

/// Why weights could not be saved.
///
/// ```
/// use ndarray::Array1;
/// use stride_runtime::weights::{SaveError, Saver};
///
/// let mut saver = Saver::new();
/// saver.add("fc.bias", &Array1::<f32>::zeros(10))?;
/// let err = saver.add("fc.bias", &Array1::<f32>::zeros(10)).unwrap_err();
/// assert_eq!(err.to_string(), "`fc.bias` was added twice");
/// assert_eq!(format!("{err:?}"), err.to_string());
/// # Ok::<(), SaveError>(())
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// Two tensors under one key.
    #[error("`{key}` was added twice")]
    Duplicate {
        /// The key.
        key: String,
    },
    /// A tensor named `__metadata__`, which the format reserves for the header's metadata.
    #[error("`__metadata__` cannot name a tensor: safetensors reserves it for the header")]
    ReservedKey,
    /// The file could not be written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The path written to.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The safetensors writer refused the tensors (a header above its size limit).
    #[error("cannot write safetensors: {message}")]
    Format {
        /// What it said.
        message: String,
    },
}

/// Its message, as `Display` gives it: readable where `main` prints it.
impl std::fmt::Debug for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// One tensor to write: its shape and its values as little-endian `f32` bytes, in C order.
#[derive(Debug, Clone, PartialEq)]
struct Owned {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Owned {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Collects named `f32` arrays and writes them as one safetensors file, which
/// `safetensors.torch.load_file` and [`Weights::open`](super::Weights::open) read back.
///
/// ```
/// use ndarray::{array, Ix2};
/// use stride_runtime::weights::{LoadOptions, Loader, Saver, Weights};
///
/// let w = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let mut saver = Saver::new();
/// saver.add("fc.weight", &w)?;
///
/// let weights = Weights::from_bytes(saver.to_bytes()?)?;
/// let mut loader = Loader::new(&weights, &LoadOptions::default());
/// assert_eq!(loader.tensor::<Ix2>("fc.weight", &[2, 2]), Some(w));
/// loader.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Saver {
    tensors: BTreeMap<String, Owned>,
    metadata: HashMap<String, String>,
}

impl Saver {
    /// An empty saver.
    ///
    /// ```
    /// assert!(stride_runtime::weights::Saver::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Saver::default()
    }

    /// Adds `array` under `key`, in C order whatever its memory layout. Takes a view or a
    /// reference to an owned array.
    ///
    /// Refuses a key that was already added, and `__metadata__`.
    ///
    /// ```
    /// use ndarray::{Array1, Array4};
    /// use stride_runtime::weights::Saver;
    ///
    /// let mut saver = Saver::new();
    /// saver
    ///     .add("conv1.weight", &Array4::<f32>::zeros((64, 3, 7, 7)))?
    ///     .add("bn1.weight", Array1::<f32>::ones(64).view())?;
    /// assert_eq!(saver.len(), 2);
    /// # Ok::<(), stride_runtime::weights::SaveError>(())
    /// ```
    pub fn add<'a, D: Dimension>(
        &mut self,
        key: impl Into<String>,
        array: impl AsArray<'a, f32, D>,
    ) -> Result<&mut Self, SaveError> {
        let key = key.into();
        if key == METADATA_KEY {
            return Err(SaveError::ReservedKey);
        }
        if self.tensors.contains_key(&key) {
            return Err(SaveError::Duplicate { key });
        }
        let array = array.into();
        let bytes = array.iter().flat_map(|v| v.to_le_bytes()).collect();
        let shape = array.shape().to_vec();
        self.tensors.insert(key, Owned { shape, bytes });
        Ok(self)
    }

    /// Sets a `__metadata__` entry of the header (free-form strings, as the `format: pt` that
    /// PyTorch's writer adds).
    ///
    /// ```
    /// use stride_runtime::weights::Saver;
    ///
    /// let mut saver = Saver::new();
    /// saver.metadata("format", "pt");
    /// assert!(saver.to_bytes().is_ok());
    /// ```
    pub fn metadata(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The number of tensors added.
    ///
    /// ```
    /// assert_eq!(stride_runtime::weights::Saver::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether no tensor was added.
    ///
    /// ```
    /// assert!(stride_runtime::weights::Saver::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The file's bytes, for [`Weights::from_bytes`](super::Weights::from_bytes) or to write
    /// elsewhere.
    ///
    /// ```
    /// use stride_runtime::weights::{Saver, Weights};
    ///
    /// let bytes = Saver::new().to_bytes()?;
    /// assert!(Weights::from_bytes(bytes)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>, SaveError> {
        safetensors::serialize(self.views(), self.header_metadata()).map_err(|e| {
            SaveError::Format {
                message: e.to_string(),
            }
        })
    }

    /// Writes the file at `path`. The bytes go to a temporary file next to it, which is then
    /// renamed over `path`: a file that is open as [`Weights`](super::Weights) (memory-mapped)
    /// is replaced, never truncated under the map.
    ///
    /// ```
    /// use ndarray::Array1;
    /// use stride_runtime::weights::{Saver, Weights};
    ///
    /// let path = std::env::temp_dir().join(format!("stride-doc-{}.safetensors", std::process::id()));
    /// let mut saver = Saver::new();
    /// saver.add("fc.bias", &Array1::<f32>::zeros(10))?;
    /// saver.write(&path)?;
    /// assert_eq!(Weights::open(&path)?.len(), 1);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), SaveError> {
        let path = path.as_ref();
        safetensors::serialize_to_file(self.views(), self.header_metadata(), path).map_err(|e| {
            match e {
                SafeTensorError::IoError(error) => SaveError::Io {
                    path: path.to_path_buf(),
                    error,
                },
                other => SaveError::Format {
                    message: other.to_string(),
                },
            }
        })
    }

    fn views(&self) -> impl Iterator<Item = (&str, &Owned)> {
        self.tensors
            .iter()
            .map(|(key, tensor)| (key.as_str(), tensor))
    }

    fn header_metadata(&self) -> Option<HashMap<String, String>> {
        (!self.metadata.is_empty()).then(|| self.metadata.clone())
    }
}
