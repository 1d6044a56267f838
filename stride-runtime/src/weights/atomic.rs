//! Writing a file so that it is either whole or not there: the bytes go to a new temporary file
//! in the same directory, which is flushed to disk and then renamed over the destination. A
//! write that fails midway (a full disk, a lost mount) removes the temporary file and leaves
//! the destination as it was; a reader never sees a half-written file, and one that has the
//! old file open (memory-mapped, as [`Weights::open`](super::Weights::open) does) keeps
//! reading the old bytes, since the rename gives the path a new file rather than changing the
//! old one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Tells apart the temporary files of one process, whatever thread writes them.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Writes `path` with `write`, atomically as the module docs describe, through `wrap` around
/// the temporary file: the seam through which tests make the writes fail after some bytes, as
/// a full disk would (`|file| Box::new(file)` writes straight through).
pub(super) fn write_through(
    path: &Path,
    wrap: impl for<'a> FnOnce(&'a mut BufWriter<File>) -> Box<dyn Write + 'a>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let (temp_path, file) = create_temporary(path)?;
    let mut out = BufWriter::new(file);
    let wrote = write(&mut *wrap(&mut out));
    let written = wrote
        .and_then(|()| out.into_inner().map_err(io::IntoInnerError::into_error))
        .and_then(|file| file.sync_all());
    let renamed = written.and_then(|()| fs::rename(&temp_path, path));
    if renamed.is_err() {
        // The first error is the one to report; the file may already be gone.
        let _ = fs::remove_file(&temp_path);
    }
    renamed
}

/// A new file next to `path`, named after it, that no other writer (thread or process) has:
/// `.<name>.<process>.<counter>.tmp`, created exclusively.
fn create_temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    loop {
        let counter = NEXT.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(
            ".{}.{}.{counter}.tmp",
            name.to_string_lossy(),
            std::process::id()
        );
        let temp_path = directory.join(temp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            // Left by a process of the same id that died mid-write: try the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}
