//! The command pipeline: commands become events through pure decision
//! functions, then the events are appended and projected.
//!
//! ```text
//! request → (hash secrets, mint ids: impure, outside the lock)
//!         → lock tenant → decide(&Directory, command) → append → wait projected → unlock
//! ```
//!
//! Decide-and-append is serialized per tenant: the tenant's lock is held
//! until the projection has applied the command's events, so the next
//! decision in that tenant sees them. That is what keeps invariants such as
//! unique names and unique extension numbers under concurrent requests.
//! Different tenants proceed in parallel and share group commits.

pub mod agents;
pub mod bootstrap;
pub mod contacts;
pub mod extensions;
pub mod groups;
pub mod presence;
pub mod queues;
pub mod roles;
pub mod sessions;
pub mod tenants;
#[cfg(test)]
pub mod testing;
pub mod users;

use crate::ids;
use crate::queries::ReadModel;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use switchboard_events::{
    AppendError, AppendRequest, Appended, CodecError, Event, EventLog, Expected, Id, Metadata,
    StreamId, TenantId,
};
use switchboard_projections::{Directory, Projector};

/// What a decision produced: events to append (possibly none) and the
/// version expectations they rely on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Events, in order; appended atomically.
    pub events: Vec<Event>,
    /// Optimistic-concurrency expectations, checked by the log.
    pub expected: Vec<(StreamId, Expected)>,
}

impl Decision {
    /// A decision to do nothing (e.g. setting a value it already has).
    pub fn none() -> Decision {
        Decision::default()
    }

    /// A decision to append these events.
    pub fn events(events: Vec<Event>) -> Decision {
        Decision {
            events,
            expected: Vec::new(),
        }
    }

    /// Adds an expectation.
    pub fn expect(mut self, stream: StreamId, expected: Expected) -> Decision {
        self.expected.push((stream, expected));
        self
    }
}

/// Why a command was not carried out. Each dialect maps these to its own
/// status codes and error bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A field failed validation.
    #[error("{field}: {message}")]
    Validation {
        /// The field (dotted path for nested fields).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The target does not exist (or belongs to another tenant).
    #[error("{0} not found")]
    NotFound(String),
    /// The command conflicts with current state.
    #[error("{message}")]
    Conflict {
        /// UPPER_SNAKE_CASE code, e.g. `ALREADY_EXISTS`.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The log cannot take writes right now.
    #[error("{0}")]
    Unavailable(String),
}

impl CommandError {
    /// A validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> CommandError {
        CommandError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A conflict.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> CommandError {
        CommandError::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<AppendError> for CommandError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Conflict { stream, .. } => CommandError::conflict(
                "CONCURRENT_MODIFICATION",
                format!("{stream} was changed concurrently; retry"),
            ),
            AppendError::Empty => CommandError::Unavailable("empty append".into()),
            AppendError::Unavailable(m) => CommandError::Unavailable(m),
        }
    }
}

impl From<CodecError> for CommandError {
    fn from(e: CodecError) -> Self {
        CommandError::Unavailable(format!("cannot encode event: {e}"))
    }
}

/// Per-tenant locks for decide-and-append.
#[derive(Default)]
struct TenantLocks {
    locks: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
}

impl TenantLocks {
    fn get(&self, tenant: TenantId) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().entry(tenant).or_default().clone()
    }
}

/// Runs commands: the write side of the service.
pub struct Pipeline {
    log: Arc<dyn EventLog>,
    projector: Arc<Projector<ReadModel>>,
    locks: TenantLocks,
}

impl Pipeline {
    /// A pipeline over a log and the directory projector.
    pub fn new(log: Arc<dyn EventLog>, projector: Arc<Projector<ReadModel>>) -> Pipeline {
        Pipeline {
            log,
            projector,
            locks: TenantLocks::default(),
        }
    }

    /// Whether the log takes writes (readiness).
    pub fn is_writable(&self) -> bool {
        self.log.is_writable()
    }

    /// Decides under `tenant`'s lock and appends. `decide` must be a pure
    /// function of the directory; it returns the decision and the caller's
    /// output. Resolves after the events are durable and projected.
    pub async fn execute<T>(
        &self,
        tenant: TenantId,
        metadata: Metadata,
        decide: impl FnOnce(&Directory) -> Result<(Decision, T), CommandError>,
    ) -> Result<(T, Option<Appended>), CommandError> {
        self.execute_scopes(&[tenant], tenant, metadata, decide)
            .await
    }

    /// Like [`Pipeline::execute`], holding several scopes' locks (always
    /// taken in ascending order, so two such commands cannot deadlock).
    /// Events are recorded in `tenant`.
    pub async fn execute_scopes<T>(
        &self,
        scopes: &[TenantId],
        tenant: TenantId,
        metadata: Metadata,
        decide: impl FnOnce(&Directory) -> Result<(Decision, T), CommandError>,
    ) -> Result<(T, Option<Appended>), CommandError> {
        let mut order: Vec<TenantId> = scopes.to_vec();
        order.sort();
        order.dedup();
        let locks: Vec<_> = order.iter().map(|t| self.locks.get(*t)).collect();
        let mut guards = Vec::with_capacity(locks.len());
        for l in &locks {
            guards.push(l.lock().await);
        }
        let (decision, output) = {
            let state = self.projector.read();
            decide(&state)?
        };
        if decision.events.is_empty() {
            return Ok((output, None));
        }
        let events = decision
            .events
            .iter()
            .map(|e| e.to_new_event(tenant))
            .collect::<Result<Vec<_>, _>>()?;
        let appended = self
            .log
            .append(AppendRequest {
                events,
                expected: decision.expected,
                metadata: Arc::new(metadata),
            })
            .await?;
        self.projector.wait_for(appended.last_offset).await;
        drop(guards);
        Ok((output, Some(appended)))
    }
}

/// Mints a fresh id that `taken` does not report as used.
pub fn fresh_id(taken: impl Fn(Id) -> bool) -> Id {
    loop {
        let id = ids::random_id();
        if !taken(id) {
            return id;
        }
    }
}
