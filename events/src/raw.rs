//! Direct, writer-less access to a data directory's log for the offline
//! tools (`switchboard log verify|export|stats`, `replay`).
//!
//! Unlike [`crate::SledLog::open`] this does not run the tail check (a
//! damaged log must still be inspectable so `verify` can name the first bad
//! offset) and starts no writer. sled takes an exclusive file lock on the
//! directory, so while a server runs these tools are refused with
//! [`OpenError::Locked`]; they never read a half-written state.

use crate::codec;
use crate::envelope::Envelope;
use crate::log::LogError;
use crate::sled_log::{log_key, OpenError};
use std::path::{Path, PathBuf};

/// A data directory's log, opened for reading by a tool.
pub struct RawLog {
    db: sled::Db,
    tree: sled::Tree,
    path: PathBuf,
}

/// Maps a sled open error, naming a held lock plainly.
pub(crate) fn open_error(path: &Path, e: sled::Error) -> OpenError {
    let reason = e.to_string();
    if reason.contains("could not acquire lock") || reason.contains("WouldBlock") {
        OpenError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        OpenError::Storage {
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// Opens a sled database, waiting briefly for a lock held by a log that was
/// just closed in this process: sled's background flusher keeps the
/// database (and its file lock) for up to one flush interval after the last
/// handle is dropped. A lock still held after that is another process's.
pub(crate) fn open_db(config: &sled::Config, path: &Path) -> Result<sled::Db, OpenError> {
    const ATTEMPTS: u32 = 20;
    let mut attempt = 0;
    loop {
        match config.open().map_err(|e| open_error(path, e)) {
            Err(OpenError::Locked { .. }) if attempt + 1 < ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl RawLog {
    /// Opens an existing data directory (refuses a missing one rather than
    /// creating an empty log).
    pub fn open(path: &Path) -> Result<RawLog, OpenError> {
        if !path.join("conf").exists() && !path.join("db").exists() {
            return Err(OpenError::Storage {
                path: path.to_path_buf(),
                reason: "no event log here (the directory is missing or was never used)".into(),
            });
        }
        let db = open_db(&sled::Config::new().path(path), path)?;
        let tree = db.open_tree("log").map_err(|e| open_error(path, e))?;
        Ok(RawLog {
            db,
            tree,
            path: path.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raw records from `from` on: `(key offset, bytes)`.
    pub fn records(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), LogError>> + Send + '_ {
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
                Ok((offset, v))
            })
    }

    /// Decoded envelopes from `from` on, checking CRCs and density (not the
    /// chain: that is `verify`'s job).
    pub fn envelopes(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<Envelope, LogError>> + Send + '_ {
        let mut expected = from.max(1);
        self.records(from).map(move |item| {
            let (offset, bytes) = item?;
            if offset != expected {
                return Err(LogError::Corrupt {
                    offset: expected,
                    reason: format!("offset {expected} is missing (next present: {offset})"),
                });
            }
            expected += 1;
            codec::decode_record(&bytes).map_err(|e| LogError::Corrupt {
                offset,
                reason: e.to_string(),
            })
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

    /// Bytes the sled files occupy.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
