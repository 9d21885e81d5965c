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
    load_retained_of(data_dir, offset, log, None)
}

/// [`load_retained`], decoding only the scope of `tenant` when one is
/// named (`snapshot::decode_tenant`: right for reads of that tenant only).
pub fn load_retained_of(
    data_dir: &Path,
    offset: u64,
    log: &dyn EventLog,
    tenant: Option<switchboard_events::TenantId>,
) -> Result<Directory, String> {
    let path = retained_path(data_dir, offset);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no retained snapshot at {offset}"),
        _ => format!("snapshot i/o: {e}"),
    })?;
    let (header, directory) = match tenant {
        None => snapshot::decode(&bytes),
        Some(t) => snapshot::decode_tenant(&bytes, t),
    }
    .map_err(|e| e.to_string())?;
    match log.get(header.offset).map_err(|e| e.to_string())? {
        Some(env) if env.hash == header.record_hash && header.offset == offset => Ok(directory),
        _ => Err(format!("retained snapshot {offset} does not match the log")),
    }
}

/// How copies for `as_of` are kept: one whenever the log crossed another
/// multiple of `every` events (0: none), within `max_bytes` on disk (0:
/// unbounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Keep a copy per this many events.
    pub every: u64,
    /// Disk budget of the kept copies.
    pub max_bytes: u64,
}

impl Retention {
    /// The configured retention.
    pub fn of(config: &crate::config::Config) -> Retention {
        Retention {
            every: config.snapshot_retain_every_events,
            max_bytes: config.snapshot_retain_max_mib.saturating_mul(1 << 20),
        }
    }

    /// Whether a copy at `offset` is due, given the copies kept (ascending):
    /// `offset` is in a later interval than the last one kept before it,
    /// and no copy is kept in its interval.
    fn due(&self, offset: u64, kept: &[u64]) -> bool {
        self.every > 0 && !kept.iter().any(|k| k / self.every == offset / self.every)
    }
}

/// The kept copies to remove so that their total size fits `max_bytes`
/// (`kept`: offset and size, ascending): each time the one whose removal
/// leaves the smallest gap between its neighbours (the oldest of equals),
/// never the newest, so old history thins out evenly and the recent past
/// keeps its density longest.
fn to_thin(kept: &[(u64, u64)], max_bytes: u64) -> Vec<u64> {
    let mut kept = kept.to_vec();
    let mut total: u64 = kept.iter().map(|(_, b)| b).sum();
    let mut out = Vec::new();
    while max_bytes > 0 && total > max_bytes && kept.len() > 1 {
        let gap_without = |i: usize| {
            let before = if i == 0 { 0 } else { kept[i - 1].0 };
            kept[i + 1].0 - before
        };
        let Some(i) = (0..kept.len() - 1).min_by_key(|i| (gap_without(*i), *i)) else {
            break;
        };
        let (offset, bytes) = kept.remove(i);
        total -= bytes;
        out.push(offset);
    }
    out
}

/// Removes kept copies until they fit `max_bytes` ([`to_thin`]).
fn thin(data_dir: &Path, max_bytes: u64) {
    if max_bytes == 0 {
        return;
    }
    let sized: Vec<(u64, u64)> = retained(data_dir)
        .into_iter()
        .map(|o| {
            let bytes = std::fs::metadata(retained_path(data_dir, o)).map_or(0, |m| m.len());
            (o, bytes)
        })
        .collect();
    for offset in to_thin(&sized, max_bytes) {
        match std::fs::remove_file(retained_path(data_dir, offset)) {
            Ok(()) => tracing::info!(offset, "retained snapshot removed (disk budget)"),
            Err(e) => tracing::warn!(offset, error = %e, "removing a retained snapshot failed"),
        }
    }
}

/// Keeps a copy of the snapshot just written at `offset` for `as_of` when
/// the log crossed a multiple of `every` since the last copy kept.
fn retain(data_dir: &Path, offset: u64, retention: Retention) -> Result<(), String> {
    if retention.every == 0 {
        return Ok(());
    }
    let last = retained(data_dir).last().copied().unwrap_or(0);
    if offset / retention.every <= last / retention.every {
        return Ok(());
    }
    let bytes = std::fs::read(path_in(data_dir)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(retained_dir(data_dir)).map_err(|e| e.to_string())?;
    write_atomic(&retained_path(data_dir, offset), &bytes).map_err(|e| e.to_string())?;
    tracing::info!(offset, "projection snapshot retained for as_of");
    thin(data_dir, retention.max_bytes);
    Ok(())
}

/// Keeps copies for `as_of` while start-up replays a log that has none
/// where it passes (written before the service ran: an import, a restore,
/// a lost `retained/` directory): one at each multiple of `every` whose
/// interval has no copy yet. The read model calls it after each replayed
/// event ([`crate::queries::ReadModel::with_retainer`]).
pub struct ReplayRetainer {
    data_dir: PathBuf,
    retention: Retention,
    kept: parking_lot::Mutex<Vec<u64>>,
}

impl std::fmt::Debug for ReplayRetainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayRetainer")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl ReplayRetainer {
    /// A retainer for `data_dir`, or `None` when nothing is kept.
    pub fn new(data_dir: &Path, retention: Retention) -> Option<Arc<ReplayRetainer>> {
        (retention.every > 0).then(|| {
            Arc::new(ReplayRetainer {
                data_dir: data_dir.to_path_buf(),
                retention,
                kept: parking_lot::Mutex::new(retained(data_dir)),
            })
        })
    }

    /// Whether a copy is due at `offset` (cheap: a division, and a look at
    /// the copies kept only at a multiple).
    pub fn due(&self, offset: u64) -> bool {
        let every = self.retention.every;
        every > 0 && offset.is_multiple_of(every) && self.retention.due(offset, &self.kept.lock())
    }

    /// Writes the copy of `dir` (at the log record whose hash is
    /// `record_hash`); a failure is logged, the replay goes on.
    pub fn keep(&self, dir: &Directory, record_hash: [u8; 32]) {
        // Mid-replay the directory defers its ordered change indexes; the
        // copy is of the settled state (a pointer copy, then only the
        // settled indexes are new).
        let mut settled = dir.clone();
        settled.replay_finished();
        let written = snapshot::encode(&settled, record_hash)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                write_atomic(&retained_path(&self.data_dir, dir.offset), &bytes)
                    .map_err(|e| e.to_string())
            });
        match written {
            Ok(()) => {
                tracing::info!(offset = dir.offset, "replay: snapshot retained for as_of");
                thin(&self.data_dir, self.retention.max_bytes);
                *self.kept.lock() = retained(&self.data_dir);
            }
            Err(e) => {
                tracing::warn!(offset = dir.offset, error = %e, "replay: retaining a snapshot failed")
            }
        }
    }
}

/// Takes a snapshot ([`take`]) and retains a copy for `as_of` when due.
pub fn take_and_retain<P: Projection + AsRef<Directory>>(
    data_dir: &Path,
    projector: &Projector<P>,
    log: &dyn EventLog,
    retention: Retention,
) -> Result<Option<u64>, String> {
    let taken = take(data_dir, projector, log)?;
    if let Some(offset) = taken {
        retain(data_dir, offset, retention)?;
    }
    Ok(taken)
}

/// Takes a snapshot whenever `every` events were applied since the last
/// one (retaining copies as `retention` says). Runs until `stop`
/// turns true (shutdown takes its own snapshot).
pub async fn periodic<P: Projection + AsRef<Directory>>(
    data_dir: std::path::PathBuf,
    projector: Arc<Projector<P>>,
    log: Arc<dyn EventLog>,
    (every, retention): (u64, Retention),
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
        match tokio::task::spawn_blocking(move || take_and_retain(&d, &p, l.as_ref(), retention))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_fits_the_budget_evenly_and_keeps_the_newest() {
        let kept: Vec<(u64, u64)> = (1..=8).map(|i| (i * 100, 10)).collect();
        assert!(to_thin(&kept, 0).is_empty(), "0 is unbounded");
        assert!(to_thin(&kept, 80).is_empty(), "within budget");
        // Every copy leaves a gap of 200; the oldest of equals goes first,
        // then the gaps it widened are avoided.
        assert_eq!(to_thin(&kept, 60), vec![100, 300]);
        let left: Vec<u64> = kept
            .iter()
            .map(|k| k.0)
            .filter(|o| !to_thin(&kept, 20).contains(o))
            .collect();
        assert_eq!(left.len(), 2);
        assert_eq!(left.last(), Some(&800), "the newest stays");
        assert_eq!(
            to_thin(&kept[..1], 1),
            Vec::<u64>::new(),
            "the only copy stays"
        );
    }

    #[test]
    fn a_copy_is_due_once_per_interval() {
        let r = Retention {
            every: 100,
            max_bytes: 0,
        };
        assert!(r.due(100, &[]));
        assert!(!r.due(100, &[150]), "its interval has a copy");
        assert!(r.due(200, &[150]));
        assert!(
            r.due(100, &[250]),
            "a later copy leaves earlier intervals open"
        );
        let none = Retention {
            every: 0,
            max_bytes: 0,
        };
        assert!(!none.due(100, &[]));
    }
}
