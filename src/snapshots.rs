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
//! Taking a snapshot encodes the directory under its read lock (writers
//! wait for the encoding, tens of milliseconds for tens of thousands of
//! users), then writes the file off the lock.

use std::path::Path;
use std::sync::Arc;
use switchboard_events::EventLog;
use switchboard_projections::{snapshot, Directory, Projector};

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
    let path = snapshot::path_in(data_dir);
    let (header, directory) = match snapshot::read(&path) {
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
pub fn take(
    data_dir: &Path,
    projector: &Projector<Directory>,
    log: &dyn EventLog,
) -> Result<Option<u64>, String> {
    let (offset, bytes) = {
        let dir = projector.read();
        if dir.offset == 0 {
            return Ok(None);
        }
        let env = log
            .get(dir.offset)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the log has no record {}", dir.offset))?;
        let bytes = snapshot::encode(&dir, env.hash).map_err(|e| e.to_string())?;
        (dir.offset, bytes)
    };
    snapshot::write_atomic(&snapshot::path_in(data_dir), &bytes).map_err(|e| e.to_string())?;
    tracing::info!(offset, bytes = bytes.len(), "projection snapshot written");
    Ok(Some(offset))
}

/// Takes a snapshot whenever `every` events were applied since the last
/// one. Runs until `stop` turns true (shutdown takes its own snapshot).
pub async fn periodic(
    data_dir: std::path::PathBuf,
    projector: Arc<Projector<Directory>>,
    log: Arc<dyn EventLog>,
    every: u64,
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
        match tokio::task::spawn_blocking(move || take(&d, &p, l.as_ref())).await {
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
