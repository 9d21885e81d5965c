//! Destroying call recordings: on request, and by retention.
//!
//! Both go through the log ([`RecordingCommand::Destroy`]): the event names
//! who (the envelope's actor; `expired` for retention), deletes the file in
//! the same append, and the follower removes the record from the store.
//! The flow holds the recordings' ingestion lock of the tenant from reading
//! the record until the store has applied its removal, so a second destroy
//! of the same recording finds nothing (404) rather than appending twice.

use super::history::{CallHistory, HistoryError};
use super::store::{Kind, Record, Scope, FILE_ID};
use crate::commands::recordings::{DestroyRecordings, Doomed, RecordingCommand};
use crate::commands::{Command, CommandError, Context, Pipeline, Thing};
use std::collections::BTreeMap;
use switchboard_events::{Id, TenantId};

/// Recordings expired per command (bounds one append).
const EXPIRE_BATCH: usize = 256;

fn unavailable(e: impl std::fmt::Display) -> CommandError {
    CommandError::Unavailable(e.to_string())
}

fn doomed(r: &Record) -> Doomed {
    Doomed {
        id: r.id,
        key: r.key.clone(),
        file_id: r.fields().get(FILE_ID).and_then(|v| v.as_u64()).map(Id),
        parties: r.parties.clone(),
    }
}

/// Runs `cmd` and waits until the store has applied it.
async fn run(
    pipeline: &Pipeline,
    history: &CallHistory,
    cmd: Command,
    ctx: Context,
) -> Result<(), CommandError> {
    let outcome = pipeline.run(cmd, ctx).await?;
    if let Some(appended) = outcome.appended {
        history
            .wait_covers(appended.last_offset)
            .await
            .map_err(unavailable)?;
    }
    Ok(())
}

/// Destroys recording `id` of `ctx.tenant` as `scope` sees it (`User`:
/// the caller's own, under `/user/recordings`); 404 if that scope does
/// not see it. `applied`: the offset the directory has applied.
pub async fn destroy(
    pipeline: &Pipeline,
    history: &CallHistory,
    applied: u64,
    scope: Scope,
    id: Id,
    ctx: Context,
) -> Result<(), CommandError> {
    let tenant = ctx.tenant;
    let _guard = history.ingest_lock(tenant, Kind::Recording).await;
    history.wait_covers(applied).await.map_err(unavailable)?;
    let found = history
        .read(move |store| {
            store
                .get(Kind::Recording, tenant, scope, id)
                .map_err(HistoryError::from)
        })
        .await
        .map_err(unavailable)?;
    let record = found.ok_or(CommandError::NotFound(Thing::Item("recording")))?;
    let cmd = Command::Recording(RecordingCommand::Destroy(DestroyRecordings {
        items: vec![doomed(&record)],
        own: matches!(scope, Scope::User(_)),
        expired: false,
    }));
    run(pipeline, history, cmd, ctx).await
}

/// Destroys every recording past the retention horizon (by the time of its
/// call), its file with it; returns how many. Nothing without a retention.
/// `applied`: the offset the directory has applied (destroys before it are
/// in the store first).
pub async fn expire(
    pipeline: &Pipeline,
    history: &CallHistory,
    applied: u64,
) -> Result<usize, CommandError> {
    let Some(before) = history.horizon_ms() else {
        return Ok(0);
    };
    history.wait_covers(applied).await.map_err(unavailable)?;
    let mut total = 0;
    loop {
        let old = history
            .read(move |store| {
                store
                    .older_than(Kind::Recording, before, EXPIRE_BATCH)
                    .map_err(HistoryError::from)
            })
            .await
            .map_err(unavailable)?;
        if old.is_empty() {
            return Ok(total);
        }
        let mut by_tenant: BTreeMap<TenantId, Vec<Doomed>> = BTreeMap::new();
        for (tenant, r) in &old {
            by_tenant.entry(*tenant).or_default().push(doomed(r));
        }
        for (tenant, items) in by_tenant {
            let _guard = history.ingest_lock(tenant, Kind::Recording).await;
            let n = items.len();
            let cmd = Command::Recording(RecordingCommand::Destroy(DestroyRecordings {
                items,
                own: false,
                expired: true,
            }));
            run(
                pipeline,
                history,
                cmd,
                Context::system(tenant, "recording-retention"),
            )
            .await?;
            total += n;
        }
    }
}
