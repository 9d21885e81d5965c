//! Where the log lives in a data directory, and the lock that makes one
//! process its only user.
//!
//! ```text
//! <data_dir>/log/LOCK                       held (flock) by the process using the log
//! <data_dir>/log/segments/<first>.seg        the records (see crate::segment)
//! <data_dir>/log/index/                      sled: indexes derived from the segments
//! <data_dir>/log/torn/                       torn tails cut off at open, kept for inspection
//! ```
//!
//! Other files in the data directory (projection snapshots, the sync token
//! key) belong to the service, not to the log.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The log's paths inside a data directory.
#[derive(Debug, Clone)]
pub struct LogDirs {
    /// The data directory.
    pub data_dir: PathBuf,
    /// `<data_dir>/log`.
    pub root: PathBuf,
    /// `<data_dir>/log/segments`.
    pub segments: PathBuf,
    /// `<data_dir>/log/index`.
    pub index: PathBuf,
}

impl LogDirs {
    /// The layout under `data_dir`.
    pub fn of(data_dir: &Path) -> LogDirs {
        LogDirs::under(data_dir, data_dir.join("log"))
    }

    /// The layout rooted at `root` (a migration builds the new log beside
    /// the old one, then renames it into place).
    pub fn under(data_dir: &Path, root: PathBuf) -> LogDirs {
        LogDirs {
            data_dir: data_dir.to_path_buf(),
            segments: root.join("segments"),
            index: root.join("index"),
            root,
        }
    }

    /// `<root>/torn`.
    pub fn torn(&self) -> PathBuf {
        self.root.join("torn")
    }

    /// Whether a log exists here (its segments directory does).
    pub fn exists(&self) -> bool {
        self.segments.is_dir()
    }

    /// Creates the directories that are missing, syncing each parent so a
    /// crash cannot forget them.
    pub fn create(&self) -> io::Result<()> {
        for dir in [&self.data_dir, &self.root, &self.segments] {
            if !dir.is_dir() {
                std::fs::create_dir_all(dir)?;
                if let Some(parent) = dir.parent() {
                    if !parent.as_os_str().is_empty() {
                        crate::files::sync_dir(parent)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// An exclusive lock on a log directory, held while it is open.
#[derive(Debug)]
pub struct LogLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (or another open log in this one) holds it.
    #[error("held by another process")]
    Held,
    /// The lock file could not be opened.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl LogLock {
    /// Takes `<root>/LOCK` without waiting. The lock goes with the process,
    /// so a killed server never leaves a stale lock behind.
    pub fn acquire(root: &Path) -> Result<LogLock, LockError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(root.join("LOCK"))?;
        match file.try_lock() {
            Ok(()) => Ok(LogLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held),
            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
        }
    }
}
