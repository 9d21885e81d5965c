//! The file layer under the log's writer: the only way records reach disk.
//!
//! Everything the writer does to storage (prepare a segment, rename it into
//! place, write a frame, `fdatasync`, truncate after a failure, fsync the
//! directory) goes through
//! [`FileLayer`], so a test can substitute a layer that records the calls
//! (the fsync proof) or fails on purpose (a refused write never lands
//! later). [`OsFiles`] is the real one. Readers use `std::fs` directly:
//! reads neither make anything durable nor can they lose anything.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// One segment file open for writing.
pub trait SegmentFile: Send {
    /// Writes all of `bytes` at byte position `pos`.
    fn write_all_at(&mut self, bytes: &[u8], pos: u64) -> io::Result<()>;
    /// `fdatasync`: the written bytes, and the file size they need, are on
    /// stable storage when this returns `Ok`.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes (undoing a write that failed).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// The current file size in bytes.
    fn size(&self) -> io::Result<u64>;
}

/// Creates, opens, renames and removes segment files and syncs
/// directories.
pub trait FileLayer: Send + Sync + 'static {
    /// Creates a new, empty file (failing if it exists).
    fn create(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>>;
    /// Opens an existing file for writing.
    fn open(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>>;
    /// Renames a file (a prepared segment taking its name).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file (a stale prepared segment).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// fsyncs a directory, so that a file created in it survives a crash.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The operating system's files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFiles;

struct OsFile(File);

impl SegmentFile for OsFile {
    fn write_all_at(&mut self, bytes: &[u8], pos: u64) -> io::Result<()> {
        self.0.write_all_at(bytes, pos)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl FileLayer for OsFiles {
    fn create(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Box::new(OsFile(f)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Box::new(OsFile(f)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        sync_dir(dir)
    }
}

/// fsyncs a directory (its entries: created, renamed or removed files).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A shareable file layer for [`crate::LogConfig`].
#[derive(Clone)]
pub struct Files(pub Arc<dyn FileLayer>);

impl Files {
    /// The operating system's files.
    pub fn os() -> Files {
        Files(Arc::new(OsFiles))
    }
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Files(..)")
    }
}
