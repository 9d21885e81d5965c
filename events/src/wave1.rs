//! Reading a wave-1 data directory, where the records lived inside sled.
//!
//! Wave 1 kept one sled database directly in the data directory (files
//! `conf`, `db`, `blobs/`, `snap.*`) with one tree, `log`:
//!
//! ```text
//! 'L' · offset:u64be                      → record bytes (see codec)
//! 'S' · stream name · 0x00 · version:u64be → offset:u64be
//! ```
//!
//! Only the records are read; the stream index is rebuilt from them. This
//! exists for the one-time migration ([`crate::migrate`]) and for the log
//! tools run on a data directory that was not migrated yet.

use crate::log::LogError;
use crate::segment_log::OpenError;
use std::path::{Path, PathBuf};

const LOG_PREFIX: u8 = b'L';

fn log_key(offset: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = LOG_PREFIX;
    k[1..].copy_from_slice(&offset.to_be_bytes());
    k
}

/// The sled files of a wave-1 data directory (removed after migration).
pub fn is_wave1(data_dir: &Path) -> bool {
    data_dir.join("conf").is_file() && data_dir.join("db").is_file()
}

/// The files and directories wave 1's sled kept in `data_dir`.
pub fn wave1_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for name in ["conf", "db", "blobs"] {
        let p = data_dir.join(name);
        if p.exists() {
            out.push(p);
        }
    }
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("snap.") {
                out.push(e.path());
            }
        }
    }
    out
}

/// A wave-1 log, opened for reading.
pub struct Wave1Log {
    _db: sled::Db,
    tree: sled::Tree,
}

impl Wave1Log {
    /// Opens the wave-1 records in `data_dir`. sled takes an exclusive lock:
    /// a wave-1 server still running there makes this fail with
    /// [`OpenError::Locked`].
    pub fn open(data_dir: &Path) -> Result<Wave1Log, OpenError> {
        let mut attempt = 0;
        let db = loop {
            match sled::Config::new().path(data_dir).open() {
                Ok(db) => break db,
                Err(e) => {
                    let reason = e.to_string();
                    let locked =
                        reason.contains("could not acquire lock") || reason.contains("WouldBlock");
                    if locked && attempt < 20 {
                        // A log closed a moment ago in this process may still hold it.
                        attempt += 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        continue;
                    }
                    return Err(if locked {
                        OpenError::Locked {
                            path: data_dir.to_path_buf(),
                        }
                    } else {
                        OpenError::storage(data_dir, reason)
                    });
                }
            }
        };
        let tree = db
            .open_tree("log")
            .map_err(|e| OpenError::storage(data_dir, e))?;
        Ok(Wave1Log { _db: db, tree })
    }

    /// Records from `from` on, `(key offset, bytes)`, in key order.
    pub fn records(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), LogError>> + Send + '_ {
        self.tree
            .range(log_key(from.max(1))..=log_key(u64::MAX))
            .map(|item| {
                let (k, v) = item.map_err(|e| LogError::Storage(e.to_string()))?;
                let offset = k
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| LogError::Corrupt {
                        offset: 0,
                        reason: "malformed log key".into(),
                    })?;
                Ok((offset, v.to_vec()))
            })
    }

    /// The highest offset present (0 for an empty log).
    pub fn last_offset(&self) -> Result<u64, LogError> {
        match self.tree.range(log_key(0)..=log_key(u64::MAX)).next_back() {
            Some(Ok((k, _))) => Ok(k
                .get(1..9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes)),
            Some(Err(e)) => Err(LogError::Storage(e.to_string())),
            None => Ok(0),
        }
    }
}
