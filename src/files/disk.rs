//! Durable file operations: what "on disk" means for the file store.
//!
//! A file becomes visible under its final name only complete and synced:
//! it is written under a temporary name, `fsync`ed, renamed, and the
//! directory holding the new name is `fsync`ed too, so after a crash either
//! the old state or the whole new file is there, never a prefix.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// fsyncs a directory, so that entries created, renamed or removed in it
/// survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically and durably: `<path>.tmp`, fsync,
/// rename, directory fsync.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Moves an already synced file to `to` (same file system) and makes the
/// move durable: both directories are fsynced.
pub fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    sync_dir(parent(to)?)?;
    let from_dir = parent(from)?;
    if from_dir != parent(to)? {
        sync_dir(from_dir)?;
    }
    Ok(())
}

/// Removes a directory tree and makes the removal durable.
pub fn remove_dir_durable(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_dir(parent(dir)?)
}

fn parent(path: &Path) -> io::Result<&Path> {
    path.parent()
        .ok_or_else(|| io::Error::other(format!("{} has no parent directory", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("meta.json");
        write_atomic(&p, b"first").expect("write");
        write_atomic(&p, b"second").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("meta.json")]);
    }

    #[test]
    fn rename_durable_moves_across_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("a")).expect("mkdir");
        fs::create_dir(dir.path().join("b")).expect("mkdir");
        fs::write(dir.path().join("a/x"), b"x").expect("write");
        rename_durable(&dir.path().join("a/x"), &dir.path().join("b/y")).expect("rename");
        assert!(!dir.path().join("a/x").exists());
        assert_eq!(fs::read(dir.path().join("b/y")).expect("read"), b"x");
        remove_dir_durable(&dir.path().join("b")).expect("remove");
        remove_dir_durable(&dir.path().join("b")).expect("removing twice is fine");
        assert!(!dir.path().join("b").exists());
    }
}
