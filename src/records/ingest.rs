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

/// The command that records `parsed` (a CDR or a message).
pub fn history_command(kind: Kind, parsed: Parsed) -> Command {
    Command::RecordCallHistory(RecordCallHistory {
        kind: match kind {
            Kind::Message => RecordKind::Message,
            Kind::Cdr | Kind::Recording => RecordKind::Cdr,
        },
        key: parsed.key,
        at_ms: parsed.at_ms,
        numbers: parsed.numbers,
        body: parsed.body,
    })
}

/// A further key of the store a new record claims (a recording's file):
/// if another record holds it, ingestion is refused naming `field`.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The store key.
    pub key: String,
    /// The request field it comes from.
    pub field: &'static str,
}

/// Records, with `cmd`, a record of `kind` whose PBX id is `key` in
/// `ctx.tenant`, unless that id is already recorded. `applied`: the offset
/// the directory has applied (the store must cover it before the id is
/// looked up). `claims`: further keys the record takes (409 if taken).
#[allow(clippy::too_many_arguments)]
pub async fn ingest(
    pipeline: &Pipeline,
    history: &CallHistory,
    applied: u64,
    kind: Kind,
    key: String,
    claims: Vec<Claim>,
    cmd: Command,
    ctx: Context,
) -> Result<Ingested, CommandError> {
    let tenant = ctx.tenant;
    let _guard = history.ingest_lock(tenant, kind).await;
    history.wait_covers(applied).await.map_err(unavailable)?;
    let keys: Vec<String> = std::iter::once(key)
        .chain(claims.iter().map(|c| c.key.clone()))
        .collect();
    let found = history
        .read(move |store| {
            keys.iter()
                .map(|k| store.find_key(kind, tenant, k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(HistoryError::from)
        })
        .await
        .map_err(unavailable)?;
    if let Some(id) = found.first().copied().flatten() {
        return Ok(Ingested::Existing(id));
    }
    for (claim, taken) in claims.iter().zip(found.iter().skip(1)) {
        if let Some(other) = taken {
            return Err(CommandError::invalid(
                claim.field,
                format!("already belongs to record {}", crate::ids::render(*other)),
            ));
        }
    }
    let outcome = pipeline.run(cmd, ctx).await?;
    let appended = outcome
        .appended
        .ok_or_else(|| unavailable("the record was not appended"))?;
    history
        .wait_covers(appended.last_offset)
        .await
        .map_err(unavailable)?;
    // The record's event is the last of the append (a recording's file
    // update comes before it).
    Ok(Ingested::Created(Id(appended.last_offset)))
}
