//! The queries layer: the one place that reads the projections and the log
//! for the dialects. HTTP handlers ask it; they never touch the log.
//!
//! Reads take the projector's latest published version ([`Queries::read`]):
//! lock-free, consistent for as long as the handler holds it, and never in
//! the applier's way. Lists run over per-tenant indexes and render only
//! their page; the audit log and object history read an offset index beside
//! the log; `as_of` starts from the nearest retained snapshot.
//!
//! # Layout
//! - [`agents`]: an agent's status history and time in each status.
//! - [`model`]: the published read model (directory + the indexes of every list).
//! - [`collection`]: the generic indexed collection: a list described once
//!   (index spec, rows, what changes it), maintained by the model, paged.
//! - [`collections`]: extensions, groups, roles, queues, ring groups,
//!   tenants, business and personal contacts as indexed collections.
//! - [`items`]: every declared collection (`crate::collections`) as one indexed list kind.
//! - [`users`]: users as list rows (user list, extension directory) and their pages.
//! - [`lists`]: list schemas derived from the field tables.
//! - [`as_of`]: past states from the nearest retained snapshot.
//! - [`audit`]: the audit log and object history from a persisted index beside the log.
//! - [`feed`]: the live change feed (what a user's event stream shows).
//! - [`settings`]: a user's outbound caller IDs.

pub mod agents;
pub mod as_of;
pub mod audit;
pub mod collection;
pub mod collections;
pub mod feed;
pub mod items;
pub mod lists;
pub mod model;
#[cfg(test)]
mod model_tests;
pub mod settings;
pub mod users;

pub use model::ReadModel;

use audit::{AuditIndex, AuditRecord};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{Envelope, Event, EventLog, StreamId, TenantId};
use switchboard_projections::query::ListQuery;
use switchboard_projections::Projector;
use time::OffsetDateTime;
use tokio::sync::watch;

/// A read could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The log (or an index beside it) could not be read.
    #[error("reading the log failed: {0}")]
    Log(String),
    /// The blocking task running the read failed.
    #[error("the read was interrupted: {0}")]
    Interrupted(String),
}

/// Runs blocking read work (log scans, index reads) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ReadError::Interrupted(e.to_string()))?
}

/// Read access for the dialects.
pub struct Queries {
    projector: Arc<Projector<ReadModel>>,
    log: Arc<dyn EventLog>,
    /// Where retained snapshots (and the audit index) live.
    data_dir: PathBuf,
    /// The audit index.
    audit: Arc<AuditIndex>,
    /// Past states kept in memory as `as_of` bases.
    past: Arc<as_of::PastStates>,
}

/// How long an audit read waits for the index to cover what readers see
/// (only a rebuild after an upgrade or a lost index takes longer).
const AUDIT_PATIENCE: Duration = Duration::from_secs(20);

impl Queries {
    /// Queries over the projector and the log it follows.
    pub fn new(
        projector: Arc<Projector<ReadModel>>,
        log: Arc<dyn EventLog>,
        data_dir: PathBuf,
        audit: Arc<AuditIndex>,
    ) -> Queries {
        Queries {
            projector,
            log,
            data_dir,
            audit,
            past: Arc::new(as_of::PastStates::new(0, 0)),
        }
    }

    /// The same queries, keeping past states in `past` for `as_of`.
    pub fn with_past_states(mut self, past: Arc<as_of::PastStates>) -> Queries {
        self.past = past;
        self
    }

    /// A page of the audit log of `tenant` (every tenant: `None`).
    pub async fn audit_page(
        &self,
        tenant: Option<TenantId>,
        query: ListQuery,
    ) -> Result<(usize, Vec<AuditRecord>), ReadError> {
        let applied = self.applied();
        self.audit.wait_for(applied, AUDIT_PATIENCE).await?;
        audit::read(self.audit.clone(), move |ix| {
            ix.audit_page(tenant, applied, &query)
        })
        .await
    }

    /// A page of the history of `stream` in `tenant`, with the object type
    /// of its first entry; `None` if it has none.
    pub async fn history_page(
        &self,
        tenant: TenantId,
        stream: StreamId,
        query: ListQuery,
    ) -> Result<Option<(String, usize, Vec<AuditRecord>)>, ReadError> {
        let applied = self.applied();
        self.audit.wait_for(applied, AUDIT_PATIENCE).await?;
        audit::read(self.audit.clone(), move |ix| {
            ix.history_page(tenant, &stream.to_string(), applied, &query)
        })
        .await
    }

    /// The latest published read model (lock-free).
    pub fn read(&self) -> Arc<ReadModel> {
        self.projector.read()
    }

    /// The last applied offset.
    pub fn applied(&self) -> u64 {
        self.projector.applied()
    }

    /// A receiver that changes whenever the applied offset moves.
    pub fn watch_applied(&self) -> watch::Receiver<u64> {
        self.projector.watch()
    }

    /// Resolves once `offset` is visible to readers.
    pub async fn wait_for(&self, offset: u64) {
        self.projector.wait_for(offset).await
    }

    /// The log's durable head (for health reports).
    pub fn log_head(&self) -> u64 {
        self.log.head()
    }

    /// How many commits of a shared log this node has not applied yet
    /// (`None` for a local log).
    pub fn replication_lag(&self) -> Option<u64> {
        self.log.replication_lag()
    }

    /// The log record at `offset` (blocking point read; for tools and tests).
    pub fn record(&self, offset: u64) -> Result<Option<Envelope>, ReadError> {
        self.log
            .get(offset)
            .map_err(|e| ReadError::Log(e.to_string()))
    }

    /// The events of `streams` in `tenant` recorded up to `until` and
    /// visible to readers, stream by stream, each in log order.
    pub async fn stream_events(
        &self,
        tenant: TenantId,
        streams: &[StreamId],
        until: OffsetDateTime,
    ) -> Result<Vec<(Envelope, Event)>, ReadError> {
        let log = self.log.clone();
        let applied = self.applied();
        let streams = streams.to_vec();
        blocking(move || {
            let mut out = Vec::new();
            for stream in &streams {
                for env in log.read_stream(stream, 1) {
                    let env = env.map_err(|e| ReadError::Log(e.to_string()))?;
                    if env.tenant != tenant {
                        continue;
                    }
                    if env.recorded_at > until || env.offset > applied {
                        break;
                    }
                    let event =
                        Event::from_envelope(&env).map_err(|e| ReadError::Log(e.to_string()))?;
                    out.push((env, event));
                }
            }
            Ok(out)
        })
        .await
    }
}
