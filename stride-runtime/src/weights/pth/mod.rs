//! PyTorch's own checkpoint format, as `torch.save` writes it since PyTorch 1.6: a zip archive
//! holding `<name>/data.pkl` (a pickle of the saved object, each tensor a view of a storage)
//! and `<name>/data/<key>` (each storage's raw bytes, stored uncompressed), with
//! `<name>/byteorder` saying how those bytes are ordered.
//!
//! The pickle is read by [`pickle::unpickle`], which builds plain values and tensors and runs
//! nothing. This module finds the archive's parts, picks the dict of tensors out of what was
//! saved (see [`tensors`]), and checks every tensor's view against its storage's bytes, so
//! that the [`Entry`]s it returns can be read without a bound check failing.

mod pickle;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::ops::Range;

use zip::{CompressionMethod, ZipArchive};

use super::tensor::{Entry, element_width};
use pickle::{PickleError, Tensor, Value};

/// What a zip archive's first bytes are: a local file header's signature.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// How PyTorch's format before 1.6 starts: pickle protocol 2 (`80 02`), then its magic number
/// `0x1950a86a20f9469cfc6c` as a 10-byte `LONG1`.
const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// The entries a checkpoint dict (a dict that is not itself a state_dict) may keep its model's
/// tensors under, in the order they are looked for: `state_dict` (PyTorch Lightning, timm's
/// training script, most hand-written loops), `model_state_dict` (PyTorch's tutorial on
/// checkpoints), `model` (torchvision's reference training scripts).
pub(super) const STATE_DICT_ENTRIES: [&str; 3] = ["state_dict", "model_state_dict", "model"];

/// Why a `.pth` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PthError {
    /// Its pickle names a callable other than those a state_dict needs (`module.name`).
    Forbidden(String),
    /// Anything else: what is wrong, in words.
    Invalid(String),
}

impl From<PickleError> for PthError {
    fn from(error: PickleError) -> Self {
        match error {
            PickleError::Forbidden(global) => PthError::Forbidden(global),
            PickleError::Malformed(what) => PthError::Invalid(what),
        }
    }
}

/// Whether `bytes` are a zip archive, as `torch.save` writes.
pub(super) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(ZIP_MAGIC)
}

/// Whether `bytes` are a checkpoint in PyTorch's format before 1.6.
pub(super) fn is_legacy(bytes: &[u8]) -> bool {
    bytes.starts_with(LEGACY_MAGIC)
}

/// The message for a file in PyTorch's format before 1.6, which stride does not read.
pub(super) const LEGACY_MESSAGE: &str = "this is PyTorch's format before 1.6 (a bare pickle), \
     which stride does not read; re-save it as a zip checkpoint with PyTorch 1.6 or later: \
     `torch.save(torch.load(path, weights_only=True), path)`";

/// The tensors of the checkpoint in `bytes`, by dotted key, each checked against its storage.
///
/// `entry` names the part of the saved object to read (a dotted path through nested dicts,
/// as `"model_ema"` or `"ema.state_dict"`); `None` applies [`tensors`]' rule.
pub(super) fn parse(
    bytes: &[u8],
    entry: Option<&str>,
) -> Result<BTreeMap<String, Entry>, PthError> {
    let archive = Archive::read(bytes)?;
    let pickle = &bytes[archive.member("data.pkl")?];
    if let Ok(range) = archive.member("byteorder") {
        let order = &bytes[range];
        if order != b"little" {
            return Err(PthError::Invalid(format!(
                "the storages are in `{}` byte order; stride reads little-endian checkpoints \
                 (load and re-save it on a little-endian machine)",
                String::from_utf8_lossy(order)
            )));
        }
    }
    let root = pickle::unpickle(pickle)?;
    let mut out = BTreeMap::new();
    for (key, tensor) in tensors(&root, entry)? {
        let storage = archive.member(&format!("data/{}", tensor.storage.key))?;
        let entry = view(&key, tensor, storage)?;
        if out.insert(key.clone(), entry).is_some() {
            return Err(PthError::Invalid(format!("two tensors are named `{key}`")));
        }
    }
    Ok(out)
}

/// The tensors of what was saved, with their dotted keys.
///
/// Which tensors: those under `entry` when one is named. Otherwise, a dict that holds a tensor
/// at its top level is a state_dict and is read whole; a dict that holds none is a checkpoint,
/// and its tensors are those of its first [`STATE_DICT_ENTRIES`] entry that is a dict (the
/// optimizer's state, the epoch and the rest are not the model's); a dict with none of those
/// is read whole. Keys are the dict keys joined by dots (`layer1.0.conv1.weight`); nested
/// dicts, lists and tuples add a segment each; values that are not tensors are skipped.
fn tensors(root: &Value, entry: Option<&str>) -> Result<Vec<(String, Tensor)>, PthError> {
    let Value::Dict(items) = root else {
        return Err(PthError::Invalid(format!(
            "the saved object is {}, not a dict of tensors (save `model.state_dict()`)",
            kind(root)
        )));
    };
    let (start, chosen) = match entry {
        Some(path) => {
            let mut value = root;
            for name in path.split('.') {
                value = match value {
                    Value::Dict(items) => lookup(items, name),
                    _ => None,
                }
                .ok_or_else(|| {
                    PthError::Invalid(format!(
                        "the checkpoint has no entry `{path}`; its entries are {}",
                        entry_names(items)
                    ))
                })?;
            }
            (value, path.to_string())
        }
        None => {
            let is_state_dict = items.iter().any(|(_, v)| matches!(v, Value::Tensor(_)));
            let nested = STATE_DICT_ENTRIES
                .iter()
                .find_map(|&name| match lookup(items, name) {
                    Some(value @ Value::Dict(_)) => Some((value, name.to_string())),
                    _ => None,
                });
            match nested {
                Some(found) if !is_state_dict => found,
                _ => (root, String::new()),
            }
        }
    };
    let mut found = Vec::new();
    collect(start, "", &mut found)?;
    if found.is_empty() && !chosen.is_empty() {
        return Err(PthError::Invalid(format!(
            "the checkpoint's `{chosen}` holds no tensor"
        )));
    }
    Ok(found)
}

/// The value of a dict's entry `name`.
fn lookup<'v>(items: &'v [(Value, Value)], name: &str) -> Option<&'v Value> {
    items
        .iter()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == name))
        .map(|(_, v)| v)
}

/// Every tensor in `value`, under `key` and the dotted path to it.
fn collect(value: &Value, key: &str, out: &mut Vec<(String, Tensor)>) -> Result<(), PthError> {
    let join = |segment: &str| {
        if key.is_empty() {
            segment.to_string()
        } else {
            format!("{key}.{segment}")
        }
    };
    match value {
        Value::Tensor(tensor) => out.push((key.to_string(), tensor.clone())),
        Value::Dict(items) => {
            for (k, v) in items {
                let segment = match k {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    // A key that cannot be spelt as a dotted name holds no weight of a module.
                    _ => continue,
                };
                collect(v, &join(&segment), out)?;
            }
        }
        Value::List(items) | Value::Tuple(items) => {
            for (i, v) in items.iter().enumerate() {
                collect(v, &join(&i.to_string()), out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The names of a dict's string keys, for an error message.
fn entry_names(items: &[(Value, Value)]) -> String {
    let names: Vec<String> = items
        .iter()
        .filter_map(|(k, _)| match k {
            Value::Str(s) => Some(format!("`{s}`")),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// What kind of Python value `value` is, for an error message.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Str(_) => "a str",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "a list",
        Value::Tuple(_) => "a tuple",
        Value::Dict(_) => "a dict",
        Value::Global(_) => "a class",
        Value::Storage(_) => "a storage",
        Value::Tensor(_) => "a single tensor",
    }
}

/// Tensor `key`'s entry: its view of the storage whose bytes are at `storage`, once checked
/// that every element it reaches lies in the storage and the storage in its bytes.
fn view(key: &str, tensor: Tensor, storage: Range<usize>) -> Result<Entry, PthError> {
    let invalid = |what: String| PthError::Invalid(format!("tensor `{key}`: {what}"));
    let Tensor {
        storage: declared,
        offset,
        shape,
        strides,
    } = tensor;
    let width = element_width(declared.dtype);
    let needed = declared
        .len
        .checked_mul(width)
        .ok_or_else(|| invalid(format!("a storage of {} elements", declared.len)))?;
    if needed > storage.len() {
        return Err(invalid(format!(
            "its storage `data/{}` holds {} bytes, not the {needed} that {} {} elements need",
            declared.key,
            storage.len(),
            declared.len,
            declared.dtype
        )));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| invalid(format!("a shape of {shape:?}, whose size overflows")))?;
    if count > 0 {
        // The last element the view reaches: the offset, plus (size - 1) strides per axis.
        let last = shape
            .iter()
            .zip(&strides)
            .try_fold(offset, |at, (&d, &s)| {
                at.checked_add((d - 1).checked_mul(s)?)
            })
            .filter(|&last| last < declared.len)
            .ok_or_else(|| {
                invalid(format!(
                    "a view of shape {shape:?}, strides {strides:?} at offset {offset} reaches \
                     past its storage of {} elements",
                    declared.len
                ))
            })?;
        debug_assert!(last < declared.len);
    }
    Ok(Entry {
        dtype: declared.dtype,
        shape,
        strides,
        offset,
        range: storage.start..storage.start + needed,
    })
}

/// The archive's members, by name relative to its top folder, and where their bytes are.
struct Archive {
    /// The top folder, with its slash (`archive/`).
    folder: String,
    members: BTreeMap<String, Range<usize>>,
}

impl Archive {
    fn read(bytes: &[u8]) -> Result<Archive, PthError> {
        let zip_error = |e: zip::result::ZipError| {
            PthError::Invalid(format!("not a readable zip archive: {e}"))
        };
        let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
        let mut members = BTreeMap::new();
        for index in 0..zip.len() {
            let file = zip.by_index_raw(index).map_err(zip_error)?;
            let name = String::from_utf8_lossy(file.name_raw()).into_owned();
            if file.compression() != CompressionMethod::Stored {
                return Err(PthError::Invalid(format!(
                    "member `{name}` is compressed ({}); torch.save stores its members \
                     uncompressed, and stride reads them in place",
                    file.compression()
                )));
            }
            let start = file.data_start().and_then(|s| usize::try_from(s).ok());
            let len = usize::try_from(file.compressed_size()).ok();
            let range = start
                .zip(len)
                .and_then(|(start, len)| Some(start..start.checked_add(len)?))
                .filter(|range| range.end <= bytes.len())
                .ok_or_else(|| {
                    PthError::Invalid(format!(
                        "member `{name}` extends past the end of the file ({} bytes); the \
                         file is truncated",
                        bytes.len()
                    ))
                })?;
            members.insert(name, range);
        }
        let pickles: Vec<&String> = members
            .keys()
            .filter(|name| name.ends_with("/data.pkl") && name.matches('/').count() == 1)
            .collect();
        let folder = match &pickles[..] {
            [one] => one.trim_end_matches("data.pkl").to_string(),
            [] => {
                return Err(PthError::Invalid(
                    "the zip archive holds no `<name>/data.pkl`; it is not a torch.save \
                     checkpoint"
                        .into(),
                ));
            }
            _ => {
                return Err(PthError::Invalid(
                    "the zip archive holds more than one `<name>/data.pkl`".into(),
                ));
            }
        };
        Ok(Archive { folder, members })
    }

    /// Where member `name` (relative to the top folder) is in the file.
    fn member(&self, name: &str) -> Result<Range<usize>, PthError> {
        self.members
            .get(&format!("{}{name}", self.folder))
            .cloned()
            .ok_or_else(|| {
                PthError::Invalid(format!("the archive has no member `{}{name}`", self.folder))
            })
    }
}
