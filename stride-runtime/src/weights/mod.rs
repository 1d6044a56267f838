//! Weights: reading a PyTorch checkpoint into a network, from a [safetensors] file or from the
//! `.pth` that `torch.save` writes, and writing one back as safetensors.
//!
//! PyTorch saves a model's `state_dict` under dotted names (`conv1.weight`,
//! `layer1.0.bn1.running_var`, …); `safetensors.torch.save_file(model.state_dict(), path)` and
//! `torch.save(model.state_dict(), path)` both keep them. Stride reads those names as they are,
//! or renamed by [`LoadOptions`]' rules.
//!
//! Both formats become one index of tensors in [`Weights`] (each a strided view of bytes in the
//! file, with its dtype), and one [`Loader`] reads either. `pth/` reads `torch.save`'s zip
//! archive and its pickle without running it; see [`Weights::open`] for what it accepts.
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
//!   `bn1.num_batches_tracked` is I64, expected F32 (convert it with `.float()` before saving)
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
//! of a ResNet stage), renames keys ([`KeyRule`], `add_prefix`), and says whether keys that
//! nothing asked for are an error (`strict`, on by default, as in PyTorch's
//! `load_state_dict`). Batch norm's `num_batches_tracked` counters are training state; they
//! are skipped in both modes. `F16`, `BF16` and `F64` tensors load converted to `f32`.
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
mod pth;
mod rename;
mod save;
mod tensor;

pub use error::{LISTED_PROBLEMS, LoadError, PrefixHint, WeightProblem};
pub use load::{LoadOptions, Loader};
pub use rename::{KeyRule, Rename};
pub use save::{SaveError, Saver};

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{SafeTensorError, SafeTensors};

use tensor::Entry;

/// The name [`Weights::from_bytes`] gives its weights in error messages.
const IN_MEMORY: &str = "<in-memory weights>";

/// An opened weights file, safetensors or `.pth`: its index of tensors, read once, and its
/// bytes, memory-mapped (or held, for [`Weights::from_bytes`]).
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

impl Weights {
    /// Opens a weights file, safetensors or PyTorch's own `.pth`/`.pt`, and reads its index of
    /// tensors. Which format it is comes from the file's first bytes, not its name: a zip
    /// archive is read as `torch.save` writes one, anything else as safetensors.
    ///
    /// A `.pth` is read without running its pickle: only tensors and plain containers are
    /// built, and a pickle that names any other Python callable (a whole pickled `nn.Module`,
    /// or `os.system`) is refused with [`LoadError::ForbiddenGlobal`] naming it. The file may
    /// hold a state_dict, or a checkpoint dict that keeps one under `state_dict`,
    /// `model_state_dict` or `model` beside other entries (epoch, optimizer state, …): the
    /// model's tensors are then those of that entry, and [`Weights::open_entry`] reads
    /// another. Tensors saved as transposed or sliced views are read in their logical order.
    ///
    /// The file is memory-mapped, not read: a large checkpoint costs no copy up front, and the
    /// operating system pages in the tensors that are used. Like every memory-mapped loader
    /// (PyTorch's `safetensors.safe_open`, candle's), this assumes that nobody truncates or
    /// rewrites the file while the `Weights` is alive. ([`Saver::write`] replaces a file by
    /// renaming a new one over it, which is safe.)
    ///
    /// Fails with [`LoadError::Io`] when the file cannot be opened or mapped, with
    /// [`LoadError::Format`] when it is not a well-formed safetensors file (a malformed header,
    /// a header that lists a key twice, a truncated file, data offsets past its end), and with
    /// [`LoadError::Checkpoint`] or [`LoadError::ForbiddenGlobal`] for a `.pth` that cannot be
    /// read (truncated, big-endian, saved in PyTorch's format before 1.6, a view past its
    /// storage, …).
    ///
    /// ```
    /// use stride_runtime::weights::{LoadError, Weights};
    ///
    /// let err = Weights::open("no/such/model.safetensors").unwrap_err();
    /// assert!(matches!(err, LoadError::Io { .. }));
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Weights, LoadError> {
        Weights::open_part(path.as_ref(), None)
    }

    /// Opens a PyTorch checkpoint and reads the tensors under `entry`, a dotted path through
    /// the dicts it saved: `"model_ema"` for the averaged weights a timm checkpoint keeps
    /// beside `state_dict`, or `"ema.state_dict"`. The keys are then relative to the entry.
    ///
    /// [`Weights::open`] picks the entry by itself for the common layouts; this is for the
    /// others. A safetensors file has no entries: it fails with [`LoadError::Format`].
    ///
    /// ```
    /// use stride_runtime::weights::{LoadError, Weights};
    ///
    /// let err = Weights::open_entry("no/such/checkpoint.pth", "model_ema").unwrap_err();
    /// assert!(matches!(err, LoadError::Io { .. }));
    /// ```
    pub fn open_entry(path: impl AsRef<Path>, entry: &str) -> Result<Weights, LoadError> {
        Weights::open_part(path.as_ref(), Some(entry))
    }

    /// [`Weights::open`], with the entry of a checkpoint to read when one is given.
    fn open_part(path: &Path, entry: Option<&str>) -> Result<Weights, LoadError> {
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
        Weights::parse(path.to_path_buf(), Bytes::Mapped(map), entry)
    }

    /// Reads weights held in memory, safetensors or `.pth` as [`Weights::open`] tells them
    /// apart: a `Vec<u8>` (as from [`Saver::to_bytes`]) or a
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
        Weights::parse(PathBuf::from(IN_MEMORY), Bytes::Memory(bytes.into()), None)
    }

    /// Reads the index of tensors of either format, as the first bytes tell.
    fn parse(path: PathBuf, bytes: Bytes, entry: Option<&str>) -> Result<Weights, LoadError> {
        let buffer = bytes.as_slice();
        let checkpoint = |message: String| LoadError::Checkpoint {
            path: path.clone(),
            message,
        };
        if pth::is_legacy(buffer) {
            return Err(checkpoint(pth::LEGACY_MESSAGE.into()));
        }
        if !pth::is_zip(buffer) {
            if let Some(entry) = entry {
                let message = format!(
                    "a safetensors file has no entry `{entry}` to open: open it with \
                     `Weights::open`"
                );
                return Err(LoadError::Format { path, message });
            }
            return Weights::parse_safetensors(path, bytes);
        }
        match pth::parse(buffer, entry) {
            Ok(entries) => Ok(Weights {
                path,
                bytes,
                entries,
            }),
            Err(pth::PthError::Forbidden(global)) => {
                Err(LoadError::ForbiddenGlobal { path, global })
            }
            Err(pth::PthError::Invalid(message)) => Err(checkpoint(message)),
        }
    }

    /// Parses and validates a safetensors header (safetensors checks that the offsets tile
    /// the data exactly up to the end of the file, with the byte count each shape and dtype
    /// needs).
    fn parse_safetensors(path: PathBuf, bytes: Bytes) -> Result<Weights, LoadError> {
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
                let range = data_start + begin..data_start + end;
                let entry = Entry::contiguous(info.dtype, info.shape.clone(), range);
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
    /// file has it (a `.pth`'s `torch.float32` is `"F32"` too).
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

    /// The values of a floating-point entry in C order of its shape, as `f32`.
    fn f32_values(&self, entry: &Entry) -> Vec<f32> {
        entry.f32_values(self.bytes.as_slice())
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
