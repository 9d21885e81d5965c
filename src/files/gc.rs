//! The file collector: what goes when nothing references it.
//!
//! One pass (a) records, per tenant, the deletion of temporary files that
//! nothing references and that were recorded before the grace period
//! ([`crate::commands::files::FileCommand::Collect`], a decision like any
//! other), then (b) sweeps the store: abandoned uploads, and blobs whose
//! digest no file of any tenant names (and no writer has pinned). The
//! service runs it every `file_gc_interval_secs`; tests call [`collect`].

use super::{Digest, FileError, Store};
use crate::commands::files::{self, FileCommand, FILES};
use crate::commands::{Command, CommandError, Context, Pipeline};
use crate::queries::Queries;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::domain::ItemOwner;
use time::OffsetDateTime;

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Temporary files recorded as deleted.
    pub files: usize,
    /// Blobs deleted from the disk.
    pub blobs: usize,
    /// Abandoned uploads removed.
    pub uploads: usize,
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Recording a deletion failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] FileError),
}

/// Runs one pass at `now`, collecting temporary files older than `grace`.
pub async fn collect(
    pipeline: &Pipeline,
    queries: &Queries,
    store: &Arc<Store>,
    now: OffsetDateTime,
    grace: Duration,
) -> Result<Collected, CollectError> {
    let before = (now - grace).unix_timestamp();
    let mut out = Collected::default();
    let tenants: Vec<_> = {
        let model = queries.read();
        model
            .scopes
            .iter()
            .filter(|(_, s)| {
                s.items
                    .items(FILES, ItemOwner::Tenant)
                    .map(files::view)
                    .any(|f| f.temporary && f.item.stamp.created_at().unix_timestamp() < before)
            })
            .map(|(t, s)| (*t, s.items.count(FILES, ItemOwner::Tenant)))
            .collect()
    };
    for (tenant, count) in tenants {
        let ctx = Context::system(tenant, "file-collector");
        pipeline
            .run(Command::File(FileCommand::Collect { before }), ctx)
            .await?;
        let left = queries
            .read()
            .scope_or_empty(tenant)
            .items
            .count(FILES, ItemOwner::Tenant);
        out.files += count.saturating_sub(left);
    }
    // Read after the deletions were applied; a file recorded meanwhile
    // either shows here or its writer still pins its blob.
    let referenced: HashSet<Digest> = {
        let model = queries.read();
        model
            .scopes
            .values()
            .flat_map(|s| s.items.items(FILES, ItemOwner::Tenant))
            .filter_map(|i| Digest::parse(files::view(i).digest).ok())
            .collect()
    };
    let store = store.clone();
    let swept = tokio::task::spawn_blocking(move || store.sweep(now, &|d| referenced.contains(d)))
        .await
        .map_err(|e| FileError::Io(std::io::Error::other(e.to_string())))??;
    out.blobs = swept.blobs;
    out.uploads = swept.uploads;
    Ok(out)
}
