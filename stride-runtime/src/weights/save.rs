//! Writing named `f32` arrays as a safetensors file.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use ndarray::{AsArray, Dimension};
use safetensors::Dtype;
use safetensors::tensor::{Metadata, TensorInfo};

use super::atomic;

/// The header key safetensors reserves for free-form string metadata.
const METADATA_KEY: &str = "__metadata__";

/// The largest header safetensors reads, 100 MB (its `MAX_HEADER_SIZE`).
const MAX_HEADER: usize = 100_000_000;

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
        let header = self.header()?;
        let mut bytes = Vec::new();
        self.write_to(&header, &mut bytes)
            .expect("writing to a Vec does not fail");
        Ok(bytes)
    }

    /// Writes the file at `path`, atomically: the bytes go to a temporary file in the same
    /// directory (`.<name>.<process>.<n>.tmp`), flushed to disk and then renamed over `path`.
    /// A write that fails midway (a full disk) removes the temporary file and leaves `path`
    /// as it was, and a file that is open as [`Weights`](super::Weights) (memory-mapped) is
    /// replaced, never truncated under the map. Saves and loads of one path from several
    /// threads each see a whole file.
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
        self.write_with(path.as_ref(), |file| Box::new(file))
    }

    /// [`Saver::write`] through `wrap`, the seam of [`atomic::write_through`].
    fn write_with(
        &self,
        path: &Path,
        wrap: impl for<'a> FnOnce(&'a mut BufWriter<File>) -> Box<dyn Write + 'a>,
    ) -> Result<(), SaveError> {
        let header = self.header()?;
        atomic::write_through(path, wrap, |out| self.write_to(&header, out)).map_err(|error| {
            SaveError::Io {
                path: path.to_path_buf(),
                error,
            }
        })
    }

    /// The safetensors header: safetensors' own metadata type (each tensor's dtype, shape and
    /// data offsets, in the order its writer uses: by name, as every tensor is `F32`) as JSON,
    /// padded with spaces to a multiple of 8 bytes. Refuses a header above safetensors'
    /// 100 MB limit, which its readers would refuse.
    fn header(&self) -> Result<Vec<u8>, SaveError> {
        let format = |message: String| SaveError::Format { message };
        let mut offset = 0;
        let infos = self.tensors.iter().map(|(key, tensor)| {
            let begin = offset;
            offset += tensor.bytes.len();
            let info = TensorInfo {
                dtype: Dtype::F32,
                shape: tensor.shape.clone(),
                data_offsets: (begin, offset),
            };
            (key.clone(), info)
        });
        let metadata = Metadata::new(self.header_metadata(), infos.collect())
            .map_err(|e| format(e.to_string()))?;
        let mut header = serde_json::to_vec(&metadata).map_err(|e| format(e.to_string()))?;
        header.resize(header.len().next_multiple_of(8), b' ');
        if header.len() > MAX_HEADER {
            return Err(format(format!(
                "the header would be {} bytes, above the {MAX_HEADER} that safetensors reads",
                header.len()
            )));
        }
        Ok(header)
    }

    /// The file: the header's length, the header, then every tensor's bytes in the header's
    /// order.
    fn write_to(&self, header: &[u8], out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&(header.len() as u64).to_le_bytes())?;
        out.write_all(header)?;
        for tensor in self.tensors.values() {
            out.write_all(&tensor.bytes)?;
        }
        Ok(())
    }

    fn header_metadata(&self) -> Option<HashMap<String, String>> {
        (!self.metadata.is_empty()).then(|| self.metadata.clone())
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array1;

    use super::*;

    /// A writer that takes `left` bytes, then fails as a full disk does.
    struct FullAfter<'a> {
        inner: &'a mut dyn Write,
        left: usize,
    }

    impl Write for FullAfter<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.inner.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    /// A directory of its own in the temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let unique = format!("stride-save-{name}-{}", std::process::id());
            let dir = std::env::temp_dir().join(unique);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }

        fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn saver(value: f32) -> Saver {
        let mut saver = Saver::new();
        saver.add("a", &Array1::from_elem(1000, value)).unwrap();
        saver
            .add("b.weight", &Array1::from_elem(10, value))
            .unwrap();
        saver
    }

    #[test]
    fn a_save_that_fails_midway_leaves_neither_a_file_nor_a_temporary_one() {
        let dir = TempDir::new("fails");
        let path = dir.0.join("model.safetensors");
        let len = saver(1.0).to_bytes().unwrap().len();
        for after in [0, 7, 100, len / 2, len - 1] {
            let err = saver(1.0)
                .write_with(&path, |file| {
                    Box::new(FullAfter {
                        inner: file,
                        left: after,
                    })
                })
                .unwrap_err();
            let SaveError::Io { error, .. } = &err else {
                panic!("{err}")
            };
            assert_eq!(
                error.kind(),
                io::ErrorKind::StorageFull,
                "after {after} bytes"
            );
            assert!(
                dir.entries().is_empty(),
                "after {after}: {:?}",
                dir.entries()
            );
        }
        // The same writer with room for every byte writes the file.
        saver(1.0)
            .write_with(&path, |file| {
                Box::new(FullAfter {
                    inner: file,
                    left: len,
                })
            })
            .unwrap();
        assert_eq!(dir.entries(), ["model.safetensors"]);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            saver(1.0).to_bytes().unwrap()
        );
    }

    #[test]
    fn a_save_that_fails_midway_leaves_the_previous_file_whole() {
        let dir = TempDir::new("keeps");
        let path = dir.0.join("model.safetensors");
        saver(1.0).write(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        let failed = saver(2.0).write_with(&path, |file| {
            Box::new(FullAfter {
                inner: file,
                left: 100,
            })
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(dir.entries(), ["model.safetensors"]);
    }

    #[test]
    fn the_bytes_are_those_safetensors_own_writer_gives() {
        let saver = saver(3.5);
        let views: Vec<_> = saver
            .tensors
            .iter()
            .map(|(key, t)| {
                let view =
                    safetensors::tensor::TensorView::new(Dtype::F32, t.shape.clone(), &t.bytes);
                (key.as_str(), view.unwrap())
            })
            .collect();
        let reference = safetensors::serialize(views, None).unwrap();
        assert_eq!(saver.to_bytes().unwrap(), reference);
    }
}
