//! Weights in the [safetensors] format: reading a PyTorch checkpoint into a network, and
//! writing one back.
//!
//! PyTorch saves a model's `state_dict` under dotted names (`conv1.weight`,
//! `layer1.0.bn1.running_var`, …); `safetensors.torch.save_file(model.state_dict(), path)` writes
//! it in this format. Stride reads those names as they are.
//!
//! # Loading
//!
//! [`Weights::open`] maps the file into memory and reads its header. A [`Loader`] then hands
//! out one tensor per parameter, each checked against the shape the network expects, and
//! [`Loader::finish`] reports every problem it met in one error, so a checkpoint that does not
//! fit is fixed in one round rather than one key at a time:
//!
//! ```text
//! resnet18_stem.safetensors: 3 problems
//!   missing `bn1.running_var`, expected an F32 tensor of shape [64]
//!   `conv1.weight` has shape [64, 3, 3, 3], expected [64, 3, 7, 7]
//!   `bn1.weight` is F16, expected F32 (convert it with `.float()` before saving)
//! ```
//!
//! ```
//! use ndarray::{Array1, Array4, Ix1, Ix4};
//! use stride_runtime::weights::{LoadOptions, Loader, Saver, Weights};
//!
//! # let mut saver = Saver::new();
//! # saver.add("conv1.weight", &Array4::<f32>::zeros((8, 3, 3, 3)))?;
//! # saver.add("bn1.running_mean", &Array1::<f32>::zeros(8))?;
//! # let weights = Weights::from_bytes(saver.to_bytes()?)?;
//! // let weights = Weights::open("model.safetensors")?;
//! let mut loader = Loader::new(&weights, &LoadOptions::default());
//! let conv1 = loader.tensor::<Ix4>("conv1.weight", &[8, 3, 3, 3]);
//! let mean = loader.tensor::<Ix1>("bn1.running_mean", &[8]);
//! loader.finish()?; // every problem at once, or Ok
//! let (conv1, mean) = (conv1.unwrap(), mean.unwrap()); // both are Some after a clean finish
//! assert_eq!(conv1.dim(), (8, 3, 3, 3));
//! # assert_eq!(mean.len(), 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`LoadOptions`] selects part of a checkpoint (`prefix`, as `"layer1.0"` for the first block
//! of a ResNet stage) and says whether keys that nothing asked for are an error (`strict`, on
//! by default, as in PyTorch's `load_state_dict`). Batch norm's `num_batches_tracked` counters
//! are training state; they are skipped in both modes.
//!
//! # Saving
//!
//! [`Saver`] collects named `f32` arrays and writes them as a safetensors file that
//! `safetensors.torch.load_file` (and [`Weights::open`]) reads back.
//!
//! [safetensors]: https://huggingface.co/docs/safetensors

mod atomic;
mod error;
mod load;
mod save;

pub use error::{LISTED_PROBLEMS, LoadError, PrefixHint, WeightProblem};
pub use load::{LoadOptions, Loader};
pub use save::{SaveError, Saver};

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensorError, SafeTensors};

/// The name [`Weights::from_bytes`] gives its weights in error messages.
const IN_MEMORY: &str = "<in-memory weights>";

/// An opened safetensors file: its header, parsed once, and its bytes, memory-mapped (or held,
/// for [`Weights::from_bytes`]).
///
/// Tensors are read through a [`Loader`], which checks each one against the shape the network
/// expects. Nothing is copied until a tensor is asked for.
///
/// ```
/// use ndarray::Array1;
/// use stride_runtime::weights::{Saver, Weights};
///
/// let mut saver = Saver::new();
/// saver.add("fc.bias", &Array1::<f32>::zeros(10))?;
/// let weights = Weights::from_bytes(saver.to_bytes()?)?;
/// assert_eq!(weights.keys().collect::<Vec<_>>(), ["fc.bias"]);
/// assert_eq!(weights.shape("fc.bias"), Some(&[10][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Weights {
    path: PathBuf,
    bytes: Bytes,
    /// Every tensor in the file, by name (sorted, so listings and error messages are stable).
    entries: BTreeMap<String, Entry>,
}

/// Where a file's bytes live.
enum Bytes {
    Mapped(Mmap),
    Memory(Cow<'static, [u8]>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Memory(bytes) => bytes,
        }
    }
}

/// One tensor's header entry, with its byte range counted from the start of the file.
#[derive(Debug, Clone)]
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    range: Range<usize>,
}

impl Weights {
    /// Opens a safetensors file and reads its header.
    ///
    /// The file is memory-mapped, not read: a large checkpoint costs no copy up front, and the
    /// operating system pages in the tensors that are used. Like every memory-mapped loader
    /// (PyTorch's `safetensors.safe_open`, candle's), this assumes that nobody truncates or
    /// rewrites the file while the `Weights` is alive. ([`Saver::write`] replaces a file by
    /// renaming a new one over it, which is safe.)
    ///
    /// Fails with [`LoadError::Io`] when the file cannot be opened or mapped, and with
    /// [`LoadError::Format`] when it is not a well-formed safetensors file: a malformed header,
    /// a header that lists a key twice, a truncated file, data offsets past its end.
    ///
    /// ```
    /// use stride_runtime::weights::{LoadError, Weights};
    ///
    /// let err = Weights::open("no/such/model.safetensors").unwrap_err();
    /// assert!(matches!(err, LoadError::Io { .. }));
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Weights, LoadError> {
        let path = path.as_ref();
        let io = |error| LoadError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() == 0 {
            // Mapping an empty file fails on some platforms; say what is wrong instead.
            return Err(LoadError::Format {
                path: path.to_path_buf(),
                message: "the file is empty".into(),
            });
        }
        // SAFETY: the map is read-only, and `Weights` hands out only copies of its bytes. The
        // remaining hazard, another process truncating or rewriting the file while it is
        // mapped, cannot be excluded by any mmap-based reader; `open`'s documentation states
        // the assumption, as safetensors' and candle's loaders do.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Weights::parse(path.to_path_buf(), Bytes::Mapped(map))
    }

    /// Reads safetensors bytes held in memory: a `Vec<u8>` (as from [`Saver::to_bytes`]) or a
    /// `&'static [u8]` such as `include_bytes!("model.safetensors")`, which is not copied.
    ///
    /// Error messages name these weights `<in-memory weights>`.
    ///
    /// ```
    /// use stride_runtime::weights::{LoadError, Weights};
    ///
    /// // A header `{}` of 2 bytes and no tensor, as `include_bytes!` would give it.
    /// let empty: &'static [u8; 10] = b"\x02\x00\x00\x00\x00\x00\x00\x00{}";
    /// assert!(Weights::from_bytes(empty)?.is_empty());
    ///
    /// let err = Weights::from_bytes(&b"not a safetensors file"[..]).unwrap_err();
    /// assert!(matches!(err, LoadError::Format { .. }));
    /// # Ok::<(), LoadError>(())
    /// ```
    pub fn from_bytes(bytes: impl Into<Cow<'static, [u8]>>) -> Result<Weights, LoadError> {
        Weights::parse(PathBuf::from(IN_MEMORY), Bytes::Memory(bytes.into()))
    }

    /// Parses and validates the header (safetensors checks that the offsets tile the data
    /// exactly up to the end of the file, with the byte count each shape and dtype needs).
    fn parse(path: PathBuf, bytes: Bytes) -> Result<Weights, LoadError> {
        let buffer = bytes.as_slice();
        let (header_len, metadata) = match SafeTensors::read_metadata(buffer) {
            Ok(parsed) => parsed,
            Err(error) => {
                let message = format_message(&error, buffer);
                return Err(LoadError::Format { path, message });
            }
        };
        if let Some(key) = duplicate_key(&buffer[8..8 + header_len]) {
            let message = format!(
                "the header lists `{key}` twice; a reader would keep one silently (safetensors \
                 keeps the last), so the file does not say which tensor `{key}` is"
            );
            return Err(LoadError::Format { path, message });
        }
        let data_start = 8 + header_len;
        let entries = metadata
            .tensors()
            .into_iter()
            .map(|(key, info)| {
                let (begin, end) = info.data_offsets;
                let entry = Entry {
                    dtype: info.dtype,
                    shape: info.shape.clone(),
                    range: data_start + begin..data_start + end,
                };
                (key, entry)
            })
            .collect();
        Ok(Weights {
            path,
            bytes,
            entries,
        })
    }

    /// The path the weights were opened from (`<in-memory weights>` for
    /// [`Weights::from_bytes`]); error messages start with it.
    ///
    /// ```
    /// use stride_runtime::weights::Weights;
    ///
    /// let weights = Weights::from_bytes(&b"\x02\x00\x00\x00\x00\x00\x00\x00{}"[..])?;
    /// assert_eq!(weights.path().to_str(), Some("<in-memory weights>"));
    /// # Ok::<(), stride_runtime::weights::LoadError>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name of every tensor in the file, in sorted order, whatever its dtype.
    ///
    /// ```
    /// use ndarray::Array1;
    /// use stride_runtime::weights::{Saver, Weights};
    ///
    /// let mut saver = Saver::new();
    /// saver.add("b", &Array1::<f32>::zeros(1))?.add("a", &Array1::<f32>::zeros(1))?;
    /// let weights = Weights::from_bytes(saver.to_bytes()?)?;
    /// assert_eq!(weights.keys().collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.entries.keys().map(String::as_str)
    }

    /// The number of tensors in the file.
    ///
    /// ```
    /// use stride_runtime::weights::Weights;
    ///
    /// let weights = Weights::from_bytes(&b"\x02\x00\x00\x00\x00\x00\x00\x00{}"[..])?;
    /// assert_eq!(weights.len(), 0);
    /// # Ok::<(), stride_runtime::weights::LoadError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds no tensor.
    ///
    /// ```
    /// use stride_runtime::weights::Weights;
    ///
    /// let weights = Weights::from_bytes(&b"\x02\x00\x00\x00\x00\x00\x00\x00{}"[..])?;
    /// assert!(weights.is_empty());
    /// # Ok::<(), stride_runtime::weights::LoadError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The shape of tensor `key`, if the file has it.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::weights::{Saver, Weights};
    ///
    /// let mut saver = Saver::new();
    /// saver.add("fc.weight", &Array2::<f32>::zeros((10, 512)))?;
    /// let weights = Weights::from_bytes(saver.to_bytes()?)?;
    /// assert_eq!(weights.shape("fc.weight"), Some(&[10, 512][..]));
    /// assert_eq!(weights.shape("fc.bias"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shape(&self, key: &str) -> Option<&[usize]> {
        self.entries.get(key).map(|entry| &entry.shape[..])
    }

    /// The dtype of tensor `key` as safetensors spells it (`"F32"`, `"F16"`, `"I64"`, …), if the
    /// file has it.
    ///
    /// ```
    /// use ndarray::Array1;
    /// use stride_runtime::weights::{Saver, Weights};
    ///
    /// let mut saver = Saver::new();
    /// saver.add("fc.bias", &Array1::<f32>::zeros(10))?;
    /// let weights = Weights::from_bytes(saver.to_bytes()?)?;
    /// assert_eq!(weights.dtype("fc.bias").as_deref(), Some("F32"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dtype(&self, key: &str) -> Option<String> {
        self.entries.get(key).map(|entry| entry.dtype.to_string())
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// The values of an `F32` entry, decoded from little-endian bytes (the file's data need
    /// not be aligned for `f32`).
    fn f32_values(&self, entry: &Entry) -> Vec<f32> {
        debug_assert_eq!(entry.dtype, Dtype::F32);
        self.bytes.as_slice()[entry.range.clone()]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

impl fmt::Debug for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Weights")
            .field("path", &self.path)
            .field("tensors", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// The first key that the header's JSON object lists twice, if any. safetensors reads the
/// object into a map, which keeps the last of two entries of one key without a word: two
/// tensors under one name (or a tensor declared twice with different dtypes) would load as
/// whichever came last. The header has already parsed as JSON.
fn duplicate_key(header: &[u8]) -> Option<String> {
    /// The header object's first repeated key.
    struct FirstRepeat(Option<String>);

    impl<'de> serde::Deserialize<'de> for FirstRepeat {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(FirstRepeatVisitor)
        }
    }

    struct FirstRepeatVisitor;

    impl<'de> serde::de::Visitor<'de> for FirstRepeatVisitor {
        type Value = FirstRepeat;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a safetensors header object")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<FirstRepeat, A::Error> {
            let mut seen = HashSet::new();
            let mut repeat = None;
            // Every entry is read, even past a repeat: the object must end where JSON says.
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                if repeat.is_none() && !seen.insert(key.clone()) {
                    repeat = Some(key);
                }
            }
            Ok(FirstRepeat(repeat))
        }
    }

    serde_json::from_slice::<FirstRepeat>(header).ok()?.0
}

/// What is wrong with a file safetensors refused, in words that say how it is broken.
fn format_message(error: &SafeTensorError, buffer: &[u8]) -> String {
    let declared_header = buffer
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("an 8-byte slice")));
    match (error, declared_header) {
        (SafeTensorError::HeaderTooSmall, _) => format!(
            "the file is {} bytes, too short for the 8-byte header length",
            buffer.len()
        ),
        (SafeTensorError::InvalidHeaderLength, Some(n)) => format!(
            "the header is declared as {n} bytes but only {} follow; the file is truncated \
             or is not a safetensors file",
            buffer.len() - 8
        ),
        (SafeTensorError::HeaderTooLarge, Some(n)) => format!(
            "the header is declared as {n} bytes, above safetensors' 100 MB limit; this is \
             probably not a safetensors file"
        ),
        (SafeTensorError::MetadataIncompleteBuffer, _) => format!(
            "the tensor data the header describes does not end where the file ends ({} \
             bytes); the file is truncated or has trailing bytes",
            buffer.len()
        ),
        (SafeTensorError::InvalidOffset(key), _) => {
            format!("the data offsets of `{key}` overlap another tensor or leave a gap before it")
        }
        (SafeTensorError::TensorInvalidInfo, _) => {
            "a tensor's data offsets do not span the bytes its shape and dtype need".into()
        }
        (SafeTensorError::InvalidHeader(e), _) => format!("the header is not UTF-8: {e}"),
        (SafeTensorError::InvalidHeaderDeserialization(e), _) => {
            format!("the header is not a valid safetensors header: {e}")
        }
        (other, _) => other.to_string(),
    }
}
