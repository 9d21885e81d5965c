//! Ingestion of call history: idempotent by the PBX's own id.
//!
//! Under the tenant's ingestion lock for the kind of record: wait until the
//! store covers everything the directory has applied (so every earlier
//! acknowledged record is in it), look the PBX's id up, and either answer
//! the existing record's id (nothing written) or run the command through
//! the pipeline and keep the lock until the store has applied it, so the
//! next report of the same id finds it. The command is decided like any
//! other (parties resolved from the directory), appended as one event, and
//! answered after the fdatasync.

use super::fields::Parsed;
use super::history::{CallHistory, HistoryError};
use super::store::Kind;
use crate::commands::call_history::{RecordCallHistory, RecordKind};
use crate::commands::{Command, CommandError, Context, Pipeline};
use switchboard_events::Id;

/// What an ingestion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Recorded now, under this id.
    Created(Id),
    /// Already recorded under this id: nothing was written.
    Existing(Id),
}

fn unavailable(e: impl std::fmt::Display) -> CommandError {
    CommandError::Unavailable(e.to_string())
}

/// Records `parsed` (of `kind`) in `ctx.tenant` unless its PBX id is
/// already recorded. `applied`: the offset the directory has applied (the
/// store must cover it before the id is looked up).
pub async fn ingest(
    pipeline: &Pipeline,
    history: &CallHistory,
    applied: u64,
    kind: Kind,
    parsed: Parsed,
    ctx: Context,
) -> Result<Ingested, CommandError> {
    let tenant = ctx.tenant;
    let _guard = history.ingest_lock(tenant, kind).await;
    history.wait_covers(applied).await.map_err(unavailable)?;
    let key = parsed.key.clone();
    let existing = history
        .read(move |store| {
            store
                .find_key(kind, tenant, &key)
                .map_err(HistoryError::from)
        })
        .await
        .map_err(unavailable)?;
    if let Some(id) = existing {
        return Ok(Ingested::Existing(id));
    }
    let cmd = Command::RecordCallHistory(RecordCallHistory {
        kind: match kind {
            Kind::Cdr => RecordKind::Cdr,
            Kind::Message => RecordKind::Message,
        },
        key: parsed.key,
        at_ms: parsed.at_ms,
        numbers: parsed.numbers,
        body: parsed.body,
    });
    let outcome = pipeline.run(cmd, ctx).await?;
    let appended = outcome
        .appended
        .ok_or_else(|| unavailable("the record was not appended"))?;
    history
        .wait_covers(appended.last_offset)
        .await
        .map_err(unavailable)?;
    Ok(Ingested::Created(Id(appended.last_offset)))
}
