//! Atomic, durable writes: the one way goodhart writes a file or publishes a directory.
//!
//! A reader sees the old content or the new, never half of one, and once a call returns the new
//! content survives a crash of the machine: the data is fsynced before the rename that publishes
//! it, and the directory holding the new name is fsynced after it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fault::{self, Point};

/// A name beside `path` that no other writer (process or thread) uses at the same time.
pub fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp.{}.{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically and durably: a temporary file beside it, fsync, rename,
/// fsync of the directory. Creates the parent directory if needed; removes the temporary file if
/// a step fails.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("goodhart-durable-doc-{}", std::process::id()));
/// let path = dir.join("a.json");
/// goodhart_core::write_atomic(&path, b"{}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = parent(path) {
        fs::create_dir_all(dir)?;
    }
    let tmp = temp_path(path);
    let shown = path.to_string_lossy();
    if fault::fires(Point::Enospc, &shown) {
        return Err(fault::enospc());
    }
    let written = File::create(&tmp).and_then(|mut f| {
        if fault::fires(Point::MidWrite, &shown) {
            f.write_all(&bytes[..bytes.len() / 2])?;
            f.sync_all()?;
            fault::die(Point::MidWrite, &shown);
        }
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    publish(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Flushes a file written by other code (a library's `save`) to disk, before it is published.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Flushes a directory's entries (names created, renamed or removed in it) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened as files elsewhere; renames there are durable once the
        // files they name are.
        let _ = dir;
        Ok(())
    }
}

/// Renames `from` onto `to` (a synced file, or a directory of synced files) and fsyncs the
/// directory of `to`, so the new name survives a crash.
pub fn publish(from: &Path, to: &Path) -> io::Result<()> {
    let shown = to.to_string_lossy();
    if from.is_file() && fault::fires(Point::MidWrite, &shown) {
        // a file another library wrote: leave its first half, as a write cut short would
        let len = fs::metadata(from)?.len();
        fs::OpenOptions::new().write(true).open(from)?.set_len(len / 2)?;
        fault::die(Point::MidWrite, &shown);
    }
    if fault::fires(Point::BeforeRename, &shown) {
        fault::die(Point::BeforeRename, &shown);
    }
    fs::rename(from, to)?;
    sync_dir(parent(to).unwrap_or(Path::new(".")))
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("goodhart-durable-{}", std::process::id()));
        let path = dir.join("sub").join("x.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> =
            fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.txt")]);
        assert_ne!(temp_path(&path), temp_path(&path), "two writers never share a temporary name");
        // A path whose parent is a file cannot be written, and says so.
        assert!(write_atomic(&path.join("under-a-file"), b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
