//! The persisted state of one subscription: its cursor, whether it is
//! parked in the dead-letter state, and its recent delivery attempts.
//!
//! Kept beside the log, not in it, as one small JSON file per subscription
//! (`<data_dir>/webhooks/<tenant>-<kind>.json`), replaced atomically
//! (temporary file, fsync, rename, fsync of the directory) after every
//! attempt. Why not events in the log: delivery bookkeeping is operational
//! state, not a fact about the directory; recording it would put a write
//! (and a group-commit slot) in the hash-chained history for every
//! delivery, and fill the audit log with it. Why losing the file's last
//! update is harmless: the cursor only ever moves forward after a receiver
//! answered 2xx, so a stale cursor means one redelivery (at least once), never
//! a gap. Losing the whole file restarts delivery at the subscription's
//! `since` offset (a fact in the log): duplicates, still no gap.
//!
//! On the JetStream backend the states live in a key-value bucket shared
//! by the nodes instead ([`Store::shared`], key `<tenant>.<kind>`), so the
//! node that takes over delivery (see `Webhooks`) resumes at the cursor the
//! previous one reached. Writes go out in the background, in order; one
//! lost with a dying node costs a redelivery, as above.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard_events::jetstream::coordination::SharedState;
use switchboard_events::TenantId;

use super::settings::Kind;

/// How many attempts are kept per subscription.
pub const KEEP_ATTEMPTS: usize = 50;

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else; it will be retried.
    Failed,
    /// The last allowed attempt failed: the subscription is parked.
    DeadLetter,
}

impl Outcome {
    /// The name the API and `/metrics` show.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "DELIVERED",
            Outcome::Failed => "FAILED",
            Outcome::DeadLetter => "DEAD_LETTER",
        }
    }
}

/// One delivery attempt, as `GET /api/webhooks/{kind}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The delivery id (`<tenant id>:<offset>`).
    pub event_id: String,
    /// The event's log offset.
    pub offset: u64,
    /// The webhook type (`extension.created`, ...).
    pub event_type: String,
    /// 1 for the first attempt at this event.
    pub attempt: u32,
    /// When the attempt started (RFC 3339, service clock).
    pub at: String,
    /// What happened.
    pub outcome: Outcome,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed (connection refused, timeout, ...), if it did.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
}

/// Where delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Delivering (or waiting for events).
    Active,
    /// Parked after `webhook_max_attempts` failures at `dead_letter_offset`;
    /// nothing after it is sent until an administrator resumes.
    DeadLetter,
}

/// The persisted state of one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubState {
    /// The subscription's `since` when this state began (see
    /// `settings`); a different `since` in the settings means the
    /// subscription was switched off and on, and the cursor starts over.
    pub since: u64,
    /// Every wanted event at or below this offset has been delivered.
    pub delivered_through: u64,
    /// Active or parked.
    pub status: Status,
    /// The event that exhausted its attempts, while parked.
    pub dead_letter_offset: Option<u64>,
    /// The most recent attempts, oldest first (at most [`KEEP_ATTEMPTS`]).
    pub attempts: VecDeque<Attempt>,
}

impl SubState {
    /// A fresh state starting after `since`.
    pub fn starting_at(since: u64) -> SubState {
        SubState {
            since,
            delivered_through: since,
            status: Status::Active,
            dead_letter_offset: None,
            attempts: VecDeque::new(),
        }
    }

    /// Records an attempt, forgetting the oldest beyond [`KEEP_ATTEMPTS`].
    pub fn record(&mut self, attempt: Attempt) {
        self.attempts.push_back(attempt);
        while self.attempts.len() > KEEP_ATTEMPTS {
            self.attempts.pop_front();
        }
    }
}

/// Where subscription states are kept.
#[derive(Clone)]
pub enum Store {
    /// One file per subscription under `<data_dir>/webhooks`.
    Local {
        /// The directory.
        dir: PathBuf,
    },
    /// A key-value bucket shared by the nodes of a JetStream log.
    Shared(Arc<SharedState>),
}

impl Store {
    /// The store under `<data_dir>/webhooks`.
    pub fn new(data_dir: &Path) -> Store {
        Store::Local {
            dir: data_dir.join("webhooks"),
        }
    }

    /// The store in a bucket shared by the nodes.
    pub fn shared(state: SharedState) -> Store {
        Store::Shared(Arc::new(state))
    }

    fn key(tenant: TenantId, kind: Kind) -> String {
        format!("{}.{}", tenant.0, kind.name())
    }

    /// The saved state, if any. A damaged file is reported and treated as
    /// absent (delivery restarts at `since`: duplicates, no gap).
    pub fn load(&self, tenant: TenantId, kind: Kind) -> Option<SubState> {
        let (bytes, place) = match self {
            Store::Local { dir } => {
                let path = Self::path(dir, tenant, kind);
                match std::fs::read(&path) {
                    Ok(b) => (b, path.display().to_string()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "webhook state unreadable; restarting at the subscription's start");
                        return None;
                    }
                }
            }
            Store::Shared(state) => {
                let key = Self::key(tenant, kind);
                (state.get(&key)?.to_vec(), key)
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(place, error = %e, "webhook state damaged; restarting at the subscription's start");
                None
            }
        }
    }

    /// Brings the local copy of a shared state up to date with the server
    /// (before a node that just took over delivery starts a worker); a
    /// no-op for files. Failing, the local copy is used as it is.
    pub async fn refresh(&self, tenant: TenantId, kind: Kind) {
        if let Store::Shared(state) = self {
            if let Err(e) = state.refresh(&Self::key(tenant, kind)).await {
                tracing::warn!(tenant = tenant.0, kind = kind.name(), error = %e, "webhook state not refreshed; using this node's copy");
            }
        }
    }

    /// Replaces the saved state atomically and durably (files), or sends
    /// it to the shared bucket.
    pub fn save(&self, tenant: TenantId, kind: Kind, state: &SubState) -> std::io::Result<()> {
        let dir = match self {
            Store::Local { dir } => dir,
            Store::Shared(shared) => {
                let bytes = serde_json::to_vec(state).map_err(std::io::Error::other)?;
                shared.put(&Self::key(tenant, kind), bytes.into());
                return Ok(());
            }
        };
        std::fs::create_dir_all(dir)?;
        let path = Self::path(dir, tenant, kind);
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(state).map_err(std::io::Error::other)?;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        // The rename itself must survive a crash.
        std::fs::File::open(dir)?.sync_all()
    }

    fn path(dir: &Path, tenant: TenantId, kind: Kind) -> PathBuf {
        dir.join(format!("{}-{}.json", tenant.0, kind.name()))
    }

    /// Forgets a subscription (its tenant was deleted).
    /// Asks the delivering node, through the shared bucket, to wake the
    /// subscription parked at `dead_letter` (a node that does not deliver
    /// cannot wake the worker itself). `false` for files: one node, which
    /// always delivers itself.
    pub fn request_resume(&self, tenant: TenantId, kind: Kind, dead_letter: u64) -> bool {
        match self {
            Store::Local { .. } => false,
            Store::Shared(state) => {
                state.put(
                    &Self::resume_key(tenant, kind),
                    dead_letter.to_string().into_bytes().into(),
                );
                true
            }
        }
    }

    /// The parked event a resume was asked for (by another node), if any.
    pub fn resume_requested(&self, tenant: TenantId, kind: Kind) -> Option<u64> {
        match self {
            Store::Local { .. } => None,
            Store::Shared(state) => {
                let bytes = state.get(&Self::resume_key(tenant, kind))?;
                std::str::from_utf8(&bytes).ok()?.parse().ok()
            }
        }
    }

    /// Forgets a resume request (carried out, or no longer parked).
    pub fn clear_resume(&self, tenant: TenantId, kind: Kind) {
        if let Store::Shared(state) = self {
            state.remove(&Self::resume_key(tenant, kind));
        }
    }

    fn resume_key(tenant: TenantId, kind: Kind) -> String {
        format!("{}.{}.resume", tenant.0, kind.name())
    }

    pub fn remove(&self, tenant: TenantId, kind: Kind) {
        match self {
            Store::Local { dir } => {
                let _ = std::fs::remove_file(Self::path(dir, tenant, kind));
            }
            Store::Shared(state) => state.remove(&Self::key(tenant, kind)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::Id;

    fn attempt(offset: u64) -> Attempt {
        Attempt {
            event_id: format!("x:{offset}"),
            offset,
            event_type: "extension.created".into(),
            attempt: 1,
            at: "2026-12-01T12:00:00Z".into(),
            outcome: Outcome::Delivered,
            status: Some(200),
            error: None,
            duration_ms: 3,
        }
    }

    #[test]
    fn state_round_trips_and_keeps_only_recent_attempts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path());
        assert_eq!(store.load(Id(5), Kind::ExtensionEvent), None);
        let mut s = SubState::starting_at(7);
        for o in 0..(KEEP_ATTEMPTS as u64 + 5) {
            s.record(attempt(o));
        }
        assert_eq!(s.attempts.len(), KEEP_ATTEMPTS);
        assert_eq!(s.attempts.front().map(|a| a.offset), Some(5));
        s.delivered_through = 42;
        store.save(Id(5), Kind::ExtensionEvent, &s).expect("saves");
        assert_eq!(store.load(Id(5), Kind::ExtensionEvent), Some(s));
        assert_eq!(store.load(Id(5), Kind::CdrEvent), None, "per kind");
        store.remove(Id(5), Kind::ExtensionEvent);
        assert_eq!(store.load(Id(5), Kind::ExtensionEvent), None);
    }

    #[test]
    fn a_damaged_file_is_treated_as_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path());
        std::fs::create_dir_all(dir.path().join("webhooks")).expect("dir");
        std::fs::write(
            dir.path().join("webhooks/5-extension_event.json"),
            b"{not json",
        )
        .expect("write");
        assert_eq!(store.load(Id(5), Kind::ExtensionEvent), None);
    }
}
