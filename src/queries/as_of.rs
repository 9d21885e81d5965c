//! `?as_of=`: the directory as it was at an offset or a time.
//!
//! `recorded_at` never decreases along offsets, so a time is a prefix of the
//! log. The rebuild starts from the nearest retained snapshot at or before
//! the target (kept every `snapshot_retain_every_events`, see
//! `crate::snapshots`) and replays only the gap, so its cost is bounded by
//! the retention interval, not by the position in the log.

use super::{blocking, Queries, ReadError, ReadModel};
use crate::snapshots;
use std::sync::Arc;
use switchboard_projections::rebuild::{rebuild, Until};
use switchboard_projections::Directory;

impl Queries {
    /// The read model as of `until` (never beyond what readers already see).
    pub async fn as_of(&self, until: Until) -> Result<Arc<ReadModel>, ReadError> {
        let log = self.log.clone();
        let data_dir = self.data_dir.clone();
        // Never beyond what the live projection has applied: a request must
        // not see events the live view does not show yet.
        let applied = self.applied();
        let until = match until {
            Until::Offset(n) => Until::Offset(n.min(applied)),
            other => other,
        };
        blocking(move || {
            // The retained snapshots at or before the target, nearest first.
            let kept = snapshots::retained(&data_dir);
            let before_target = |offset: u64| {
                offset <= applied
                    && match until {
                        Until::Head => true,
                        Until::Offset(n) => offset <= n,
                        Until::Time(t) => log
                            .get(offset)
                            .ok()
                            .flatten()
                            .is_some_and(|env| env.recorded_at <= t),
                    }
            };
            // Offsets and their times ascend together: binary search.
            let usable = kept.partition_point(|o| before_target(*o));
            let mut base = (Directory::default(), 0);
            for offset in kept[..usable].iter().rev() {
                match snapshots::load_retained(&data_dir, *offset, log.as_ref()) {
                    Ok(dir) => {
                        base = (dir, *offset);
                        break;
                    }
                    Err(why) => tracing::warn!(offset, reason = %why, "retained snapshot unusable"),
                }
            }
            let (mut dir, from) = base;
            let bounded = log.read_all(from + 1).take_while(move |e| match e {
                Ok(env) => env.offset <= applied,
                Err(_) => true,
            });
            rebuild(&mut dir, bounded, until, |_, _, _| {})
                .map_err(|e| ReadError::Log(e.to_string()))?;
            // Not indexed up front: a past state answers one request, and
            // `collection::page` indexes the one list it reads on the fly
            // (indexing every list of a 100k-user directory was a large
            // part of a past read).
            Ok(Arc::new(ReadModel::deferred(dir)))
        })
        .await
    }
}
