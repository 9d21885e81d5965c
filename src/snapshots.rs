//! Projection snapshots in the service: load one at start-up (checked
//! against the log), take one every `snapshot_every_events` applied events
//! and on graceful shutdown.
//!
//! A snapshot records the offset it reflects and the hash of the log record
//! at that offset. It is used only if the log still has that record with
//! that hash; since each hash chains to every record before it, that proves
//! the snapshot was built from this very log prefix. Anything else (no
//! file, unreadable, damaged, newer format, a log that was replaced or
//! rewound) falls back to a full replay, with a warning saying why.
//!
//! Taking a snapshot encodes a published version of the directory (nobody
//! waits for it: the applier keeps publishing newer versions meanwhile),
//! then writes the file. The byte format is the projections crate's
//! (`switchboard_projections::snapshot`); the files are this module's:
//! written to a temporary name, fsynced and renamed, so a crash mid-write
//! leaves the previous snapshot.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard_events::EventLog;
use switchboard_projections::snapshot::{self, SnapshotError, SnapshotHeader};
use switchboard_projections::{Directory, Projection, Projector};

/// Where a data directory keeps its directory snapshot.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("projections").join("directory.snapshot")
}

/// A snapshot file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    /// File system error.
    #[error("snapshot i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a usable snapshot.
    #[error(transparent)]
    Bytes(#[from] SnapshotError),
}

/// Writes snapshot bytes atomically: temporary file, fsync, rename, fsync
/// of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SnapshotFileError> {
    let parent = path.parent().ok_or_else(|| {
        SnapshotFileError::Io(std::io::Error::other("snapshot path has no parent"))
    })?;
    std::fs::create_dir_all(parent)?;
    let tmp = path.with_extension("snapshot.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads and decodes a snapshot file; `Ok(None)` if there is none.
pub fn read(path: &Path) -> Result<Option<(SnapshotHeader, Directory)>, SnapshotFileError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(snapshot::decode(&bytes)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What start-up found.
pub struct Loaded {
    /// The state to start from.
    pub directory: Directory,
    /// The offset it reflects (0 = empty).
    pub offset: u64,
    /// Why no snapshot was used, if none was.
    pub fallback: Option<String>,
}

/// Loads the data directory's snapshot if it matches `log` (blocking).
pub fn load(data_dir: &Path, log: &dyn EventLog) -> Loaded {
    let empty = |why: String| Loaded {
        directory: Directory::default(),
        offset: 0,
        fallback: Some(why),
    };
    let path = path_in(data_dir);
    let (header, directory) = match read(&path) {
        Ok(Some(x)) => x,
        Ok(None) => return empty("no snapshot".into()),
        Err(e) => return empty(format!("snapshot unusable: {e}")),
    };
    if header.offset == 0 {
        return empty("snapshot of an empty log".into());
    }
    if header.offset > log.head() {
        return empty(format!(
            "snapshot is at offset {}, beyond the log head {}",
            header.offset,
            log.head()
        ));
    }
    match log.get(header.offset) {
        Ok(Some(env)) if env.hash == header.record_hash => Loaded {
            offset: header.offset,
            directory,
            fallback: None,
        },
        Ok(Some(_)) => empty(format!(
            "snapshot does not match the log at offset {} (different hash)",
            header.offset
        )),
        Ok(None) => empty(format!("the log has no record {}", header.offset)),
        Err(e) => empty(format!("cannot read the log at the snapshot offset: {e}")),
    }
}

/// Takes a snapshot of the projector's current state (blocking). Returns
/// the offset written, or `None` if the state is empty.
pub fn take<P: Projection + AsRef<Directory>>(
    data_dir: &Path,
    projector: &Projector<P>,
    log: &dyn EventLog,
) -> Result<Option<u64>, String> {
    let (offset, bytes) = {
        let model = projector.read();
        let dir: &Directory = (*model).as_ref();
        if dir.offset == 0 {
            return Ok(None);
        }
        let env = log
            .get(dir.offset)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the log has no record {}", dir.offset))?;
        let bytes = snapshot::encode(dir, env.hash).map_err(|e| e.to_string())?;
        (dir.offset, bytes)
    };
    write_atomic(&path_in(data_dir), &bytes).map_err(|e| e.to_string())?;
    tracing::info!(offset, bytes = bytes.len(), "projection snapshot written");
    Ok(Some(offset))
}

/// Where retained snapshots (kept for `as_of`) live.
pub fn retained_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("projections").join("retained")
}

fn retained_path(data_dir: &Path, offset: u64) -> PathBuf {
    retained_dir(data_dir).join(format!("{offset:020}.snapshot"))
}

/// The offsets of the retained snapshots, ascending.
pub fn retained(data_dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(retained_dir(data_dir)) else {
        return Vec::new();
    };
    let mut out: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_suffix(".snapshot")?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// Loads the retained snapshot at `offset` if it still matches `log`.
pub fn load_retained(
    data_dir: &Path,
    offset: u64,
    log: &dyn EventLog,
) -> Result<Directory, String> {
    let (header, directory) = read(&retained_path(data_dir, offset))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no retained snapshot at {offset}"))?;
    match log.get(header.offset).map_err(|e| e.to_string())? {
        Some(env) if env.hash == header.record_hash && header.offset == offset => Ok(directory),
        _ => Err(format!("retained snapshot {offset} does not match the log")),
    }
}

/// Keeps a copy of the snapshot just written at `offset` for `as_of` when
/// the log crossed a multiple of `every` since the last copy kept.
fn retain(data_dir: &Path, offset: u64, every: u64) -> Result<(), String> {
    if every == 0 {
        return Ok(());
    }
    let last = retained(data_dir).last().copied().unwrap_or(0);
    if offset / every <= last / every {
        return Ok(());
    }
    let bytes = std::fs::read(path_in(data_dir)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(retained_dir(data_dir)).map_err(|e| e.to_string())?;
    write_atomic(&retained_path(data_dir, offset), &bytes).map_err(|e| e.to_string())?;
    tracing::info!(offset, "projection snapshot retained for as_of");
    Ok(())
}

/// Takes a snapshot ([`take`]) and retains a copy for `as_of` when due.
pub fn take_and_retain<P: Projection + AsRef<Directory>>(
    data_dir: &Path,
    projector: &Projector<P>,
    log: &dyn EventLog,
    retain_every: u64,
) -> Result<Option<u64>, String> {
    let taken = take(data_dir, projector, log)?;
    if let Some(offset) = taken {
        retain(data_dir, offset, retain_every)?;
    }
    Ok(taken)
}

/// Takes a snapshot whenever `every` events were applied since the last
/// one (retaining copies every `retain_every` events). Runs until `stop`
/// turns true (shutdown takes its own snapshot).
pub async fn periodic<P: Projection + AsRef<Directory>>(
    data_dir: std::path::PathBuf,
    projector: Arc<Projector<P>>,
    log: Arc<dyn EventLog>,
    (every, retain_every): (u64, u64),
    mut last: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    if every == 0 {
        return;
    }
    let mut applied = projector.watch();
    loop {
        let due = tokio::select! {
            r = applied.wait_for(|a| *a >= last.saturating_add(every)) => r.is_ok(),
            _ = stop.wait_for(|s| *s) => false,
        };
        if !due {
            return;
        }
        let (d, p, l) = (data_dir.clone(), projector.clone(), log.clone());
        match tokio::task::spawn_blocking(move || take_and_retain(&d, &p, l.as_ref(), retain_every))
            .await
        {
            Ok(Ok(Some(offset))) => last = offset,
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "projection snapshot failed; retrying later");
                last = projector.applied();
            }
            Err(e) => {
                tracing::warn!(error = %e, "projection snapshot task failed");
                last = projector.applied();
            }
        }
    }
}
