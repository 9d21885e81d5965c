//! `?as_of=`: the directory as it was at an offset or a time.
//!
//! `recorded_at` never decreases along offsets, so a time is a prefix of the
//! log: it is first resolved to the last offset recorded at or before it (a
//! binary search of point reads), and everything after works on offsets.
//!
//! A past state starts from the nearest base at or before the target and
//! replays only the gap. Bases, cheapest first:
//! - a past state kept in memory ([`PastStates`]): one recently
//!   materialised for an `as_of` read (an admin paging through a past list
//!   asks for the same offset page after page), or a checkpoint of the live
//!   projection taken every `as_of_recent_every_events` (the recent past).
//!   The directory is persistent (`pmap`), so a copy is a pointer copy and
//!   keeping one pins only what changed since;
//! - a retained snapshot on disk (kept every `snapshot_retain_every_events`,
//!   see `crate::snapshots`), which must be decoded.
//!
//! A memory base is taken when it is at least as close as the nearest
//! retained snapshot (no decode); the replay reads the log in decoded
//! batches and applies borrowed envelopes, as start-up does.
//!
//! A read names its tenant (every past read is of the caller's tenant's
//! scope), and a past state is then built for that tenant only: the kept
//! snapshot's other tenants' sections (and the sessions) are passed over
//! undecoded (`snapshot::decode_tenant`) and the gap's events of other
//! tenants are not applied. Such a state answers reads of that tenant
//! only, so it is kept marked with it and never serves another tenant; a
//! checkpoint of the live projection (whole) serves any.

use super::{blocking, Queries, ReadError, ReadModel};
use crate::snapshots;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::{EnvelopeRef, Event, EventLog, TenantId};
use switchboard_projections::rebuild::Until;
use switchboard_projections::{Directory, Projection};

/// Past directories kept in memory as bases for `as_of`: the last few
/// materialised ones and checkpoints of the live projection's recent past.
pub struct PastStates {
    /// How many materialised past states to keep (0: none).
    keep_materialised: usize,
    /// Each with the one tenant it was built for (`None`: whole).
    materialised: Mutex<VecDeque<(Option<TenantId>, Arc<ReadModel>)>>,
    /// How many recent checkpoints to keep (0: none).
    keep_recent: usize,
    recent: Mutex<VecDeque<Directory>>,
    /// What the last past state built cost.
    last: Mutex<Option<AsOfCost>>,
}

/// Where a past state started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// A state kept in memory (a pointer copy).
    Memory,
    /// A kept snapshot on disk, decoded.
    Snapshot,
    /// The empty directory (no base at or before the target).
    Start,
}

/// What building one past state cost (logged at `info`; the last one is
/// kept for benchmarks: [`PastStates::last_cost`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AsOfCost {
    /// The offset the state is at.
    pub target: u64,
    /// The one tenant it was built for (`None`: every tenant).
    pub tenant: Option<TenantId>,
    /// What it started from.
    pub base: Base,
    /// The base's offset.
    pub base_offset: u64,
    /// Reading and decoding the kept snapshot (zero for other bases).
    pub decode: Duration,
    /// Replaying the gap from the base to the target.
    pub replay: Duration,
    /// The whole build (resolving the target included).
    pub total: Duration,
}

impl PastStates {
    /// Keeps up to `materialised` past states and `recent` checkpoints.
    pub fn new(materialised: usize, recent: usize) -> PastStates {
        PastStates {
            keep_materialised: materialised,
            materialised: Mutex::default(),
            keep_recent: recent,
            recent: Mutex::default(),
            last: Mutex::default(),
        }
    }

    /// What the last past state built cost (`None`: none was built).
    pub fn last_cost(&self) -> Option<AsOfCost> {
        *self.last.lock()
    }

    fn record(&self, cost: AsOfCost) {
        tracing::info!(
            target = cost.target,
            tenant = ?cost.tenant,
            base = ?cost.base,
            base_offset = cost.base_offset,
            decode_ms = cost.decode.as_secs_f64() * 1e3,
            replay_ms = cost.replay.as_secs_f64() * 1e3,
            total_ms = cost.total.as_secs_f64() * 1e3,
            "as_of: past state built"
        );
        *self.last.lock() = Some(cost);
    }

    /// The materialised past state at exactly `target` that answers reads
    /// of `tenant` (`None`: of every tenant).
    fn exact(&self, target: u64, tenant: Option<TenantId>) -> Option<Arc<ReadModel>> {
        self.materialised
            .lock()
            .iter()
            .find(|(t, m)| serves(*t, tenant) && m.directory().offset == target)
            .map(|(_, m)| m.clone())
    }

    /// The kept state nearest at or before `target` that can be the base
    /// of a state for `tenant` (a pointer copy).
    fn nearest(&self, target: u64, tenant: Option<TenantId>) -> Option<Directory> {
        let a = self
            .materialised
            .lock()
            .iter()
            .filter(|(t, _)| serves(*t, tenant))
            .map(|(_, m)| m.directory())
            .filter(|d| d.offset <= target)
            .max_by_key(|d| d.offset)
            .cloned();
        let b = self
            .recent
            .lock()
            .iter()
            .filter(|d| d.offset <= target)
            .max_by_key(|d| d.offset)
            .cloned();
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.offset >= b.offset { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// Remembers a materialised past state built for `tenant` (the oldest
    /// one leaves).
    fn remember(&self, tenant: Option<TenantId>, model: &Arc<ReadModel>) {
        if self.keep_materialised == 0 {
            return;
        }
        let mut states = self.materialised.lock();
        let offset = model.directory().offset;
        if states
            .iter()
            .any(|(t, m)| *t == tenant && m.directory().offset == offset)
        {
            return;
        }
        let mut gone = Vec::new();
        while states.len() >= self.keep_materialised {
            gone.extend(states.pop_front());
        }
        states.push_back((tenant, model.clone()));
        drop(states);
        // A state that leaves may be the last holder of a 100k-user
        // directory: freeing it took ~0.1 s, paid by the request that
        // pushed it out (measured). It is freed off the request's path.
        if !gone.is_empty() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || drop(gone))),
                Err(_) => drop(gone),
            }
        }
    }

    /// Keeps a checkpoint of the live projection (the oldest one leaves).
    pub fn checkpoint(&self, dir: &Directory) {
        if self.keep_recent == 0 {
            return;
        }
        let mut states = self.recent.lock();
        if states.iter().any(|d| d.offset == dir.offset) {
            return;
        }
        while states.len() >= self.keep_recent {
            states.pop_front();
        }
        states.push_back(dir.clone());
    }

    /// Whether checkpoints are kept at all.
    pub fn keeps_recent(&self) -> bool {
        self.keep_recent > 0
    }

    /// The offsets of the kept states (materialised, recent), for tests.
    pub fn offsets(&self) -> (Vec<u64>, Vec<u64>) {
        let materialised = self.materialised.lock();
        let recent = self.recent.lock();
        (
            materialised
                .iter()
                .map(|(_, m)| m.directory().offset)
                .collect(),
            recent.iter().map(|d| d.offset).collect(),
        )
    }
}

/// Keeps a checkpoint of the live projection in `past` whenever another
/// `every` events were applied, until `stop` turns true.
pub async fn checkpoint_recent(
    past: Arc<PastStates>,
    projector: Arc<switchboard_projections::Projector<ReadModel>>,
    every: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    if every == 0 || !past.keeps_recent() {
        return;
    }
    let mut applied = projector.watch();
    let mut last = *applied.borrow_and_update() / every * every;
    loop {
        let due = tokio::select! {
            r = applied.wait_for(|a| *a >= last.saturating_add(every)) => r.is_ok(),
            _ = stop.wait_for(|s| *s) => false,
        };
        if !due {
            return;
        }
        let model = projector.read();
        past.checkpoint(model.directory());
        last = model.directory().offset / every * every;
    }
}

/// Whether a state built for `built` (`None`: whole) answers reads of
/// `wanted` (`None`: of every tenant).
fn serves(built: Option<TenantId>, wanted: Option<TenantId>) -> bool {
    built.is_none() || built == wanted
}

/// Whether an event can change what a read of `tenant` shows: the
/// tenant's own events, and the tenant's own creation, change and
/// deletion wherever they are recorded.
fn concerns(env: &EnvelopeRef<'_>, event: &Event, tenant: TenantId) -> bool {
    env.tenant == tenant
        || match event {
            Event::TenantCreated(e) => e.tenant_id == tenant,
            Event::TenantUpdated(e) => e.tenant_id == tenant,
            Event::TenantDeleted(e) => e.tenant_id == tenant,
            _ => false,
        }
}

/// The last offset at or before `until` that readers may see (0: before
/// the first event).
fn resolve(log: &dyn EventLog, until: Until, applied: u64) -> Result<u64, ReadError> {
    let t = match until {
        Until::Head => return Ok(applied),
        Until::Offset(n) => return Ok(n.min(applied)),
        Until::Time(t) => t,
    };
    // The largest offset in 1..=applied recorded at or before `t`.
    let (mut lo, mut hi) = (0u64, applied);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let env = log
            .get(mid)
            .map_err(|e| ReadError::Log(e.to_string()))?
            .ok_or_else(|| ReadError::Log(format!("the log has no record {mid}")))?;
        if env.recorded_at <= t {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo)
}

/// The nearest usable retained snapshot at or before `target`, decoded
/// (only `tenant`'s scope when one is named).
fn nearest_retained(
    data_dir: &Path,
    log: &dyn EventLog,
    target: u64,
    tenant: Option<TenantId>,
) -> Option<Directory> {
    let kept = snapshots::retained(data_dir);
    let usable = kept.partition_point(|o| *o <= target);
    for offset in kept[..usable].iter().rev() {
        match snapshots::load_retained_of(data_dir, *offset, log, tenant) {
            Ok(dir) => return Some(dir),
            Err(why) => tracing::warn!(offset, reason = %why, "retained snapshot unusable"),
        }
    }
    None
}

/// Replays the log into `dir` up to `target` in decoded batches, applying
/// borrowed envelopes (as start-up does).
pub fn replay_to(dir: &mut Directory, log: &dyn EventLog, target: u64) -> Result<(), ReadError> {
    replay_for(dir, log, target, None)
}

/// From how many events on a replay defers the extension change indexes
/// to its end (`Projection::replay_started`): settling them sorts every
/// user of the tenant once (~60 ms at 100k users, measured), which a gap
/// of a few hundred events (a past state near a kept snapshot) does not
/// repay; below this the events are applied as the live projection does.
const DEFER_FROM_EVENTS: u64 = 20_000;

/// [`replay_to`], applying only the events that concern `tenant` when one
/// is named (the others move the offset only): the state is then right
/// for reads of that tenant alone.
pub fn replay_for(
    dir: &mut Directory,
    log: &dyn EventLog,
    target: u64,
    tenant: Option<TenantId>,
) -> Result<(), ReadError> {
    if dir.offset >= target {
        return Ok(());
    }
    let defer = target - dir.offset >= DEFER_FROM_EVENTS;
    if defer {
        dir.replay_started();
    }
    let mut outcome = Ok(());
    'batches: for batch in log.read_events(dir.offset + 1) {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                outcome = Err(ReadError::Log(e.to_string()));
                break;
            }
        };
        for (env, event) in batch.iter() {
            if env.offset > target {
                break 'batches;
            }
            if env.offset != dir.offset + 1 {
                outcome = Err(ReadError::Log(format!(
                    "the log skips from {} to {}",
                    dir.offset, env.offset
                )));
                break 'batches;
            }
            match tenant {
                Some(t) if !concerns(&env, event, t) => dir.offset = env.offset,
                _ => dir.apply_ref(&env, event),
            }
        }
        if dir.offset >= target {
            break;
        }
    }
    if defer {
        dir.replay_finished();
    }
    outcome?;
    if dir.offset != target {
        return Err(ReadError::Log(format!(
            "the log ends at {}, before {target}",
            dir.offset
        )));
    }
    Ok(())
}

impl Queries {
    /// What the last past state built for `as_of` cost.
    pub fn last_as_of_cost(&self) -> Option<AsOfCost> {
        self.past.last_cost()
    }

    /// The read model as of `until` (never beyond what readers already see).
    pub async fn as_of(&self, until: Until) -> Result<Arc<ReadModel>, ReadError> {
        self.as_of_in(until, None).await
    }

    /// The read model as of `until` for reads of `tenant`'s scope only
    /// (`None`: of every tenant; see the module docs).
    pub async fn as_of_in(
        &self,
        until: Until,
        tenant: Option<TenantId>,
    ) -> Result<Arc<ReadModel>, ReadError> {
        let log = self.log.clone();
        let data_dir = self.data_dir.clone();
        let past = self.past.clone();
        // Never beyond what the live projection has applied: a request must
        // not see events the live view does not show yet.
        let applied = self.applied();
        blocking(move || {
            let started = Instant::now();
            let target = resolve(log.as_ref(), until, applied)?;
            if let Some(model) = past.exact(target, tenant) {
                return Ok(model);
            }
            // A retained snapshot nearer than any memory base is decoded.
            let memory = past.nearest(target, tenant);
            let from_memory = memory.as_ref().map_or(0, |d| d.offset);
            let on_disk = snapshots::retained(&data_dir)
                .into_iter()
                .filter(|o| *o <= target)
                .max()
                .unwrap_or(0);
            let mut decode = Duration::ZERO;
            let (mut dir, base) = match memory {
                Some(d) if from_memory >= on_disk => (d, Base::Memory),
                other => {
                    let t = Instant::now();
                    let decoded = nearest_retained(&data_dir, log.as_ref(), target, tenant)
                        .filter(|d| d.offset >= from_memory);
                    decode = t.elapsed();
                    match (decoded, other) {
                        (Some(d), _) => {
                            past.remember(tenant, &Arc::new(ReadModel::past(d.clone())));
                            (d, Base::Snapshot)
                        }
                        (None, Some(d)) => (d, Base::Memory),
                        (None, None) => (Directory::default(), Base::Start),
                    }
                }
            };
            let base_offset = dir.offset;
            let t = Instant::now();
            replay_for(&mut dir, log.as_ref(), target, tenant)?;
            let replay = t.elapsed();
            // Never indexed: a past state answers a request or a few, each
            // page read by one pass over its list (indexing the list read
            // was ~1 s of a 100k-user past read; the pass ~tens of ms).
            let model = Arc::new(ReadModel::past(dir));
            past.remember(tenant, &model);
            past.record(AsOfCost {
                target,
                tenant,
                base,
                base_offset,
                decode,
                replay,
                total: started.elapsed(),
            });
            Ok(model)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::Id;

    fn at(offset: u64) -> Directory {
        let mut dir = Directory::default();
        dir.offset = offset;
        dir
    }

    #[test]
    fn kept_states_are_bounded_and_the_nearest_at_or_before_wins() {
        let past = PastStates::new(2, 2);
        for o in [10, 20, 30] {
            past.remember(None, &Arc::new(ReadModel::past(at(o))));
        }
        assert!(past.exact(30, None).is_some() && past.exact(25, None).is_none());
        past.checkpoint(&at(25));
        past.checkpoint(&at(25));
        assert_eq!(past.offsets(), (vec![20, 30], vec![25]));
        assert_eq!(past.nearest(29, None).map(|d| d.offset), Some(25));
        assert_eq!(past.nearest(30, None).map(|d| d.offset), Some(30));
        assert_eq!(past.nearest(19, None).map(|d| d.offset), None);
        let none = PastStates::new(0, 0);
        none.remember(None, &Arc::new(ReadModel::past(at(5))));
        none.checkpoint(&at(6));
        assert_eq!(none.offsets(), (vec![], vec![]));
        assert!(!none.keeps_recent());
    }

    #[test]
    fn a_state_built_for_one_tenant_serves_that_tenant_only() {
        let (a, b): (TenantId, TenantId) = (Id(3), Id(4));
        let past = PastStates::new(3, 1);
        past.remember(Some(a), &Arc::new(ReadModel::past(at(40))));
        past.remember(None, &Arc::new(ReadModel::past(at(20))));
        assert!(past.exact(40, Some(a)).is_some());
        assert!(past.exact(40, Some(b)).is_none(), "another tenant's");
        assert!(past.exact(40, None).is_none(), "a whole state is wanted");
        assert!(
            past.exact(20, Some(b)).is_some(),
            "a whole state serves any"
        );
        assert_eq!(past.nearest(45, Some(a)).map(|d| d.offset), Some(40));
        assert_eq!(past.nearest(45, Some(b)).map(|d| d.offset), Some(20));
        assert_eq!(past.nearest(45, None).map(|d| d.offset), Some(20));
        past.checkpoint(&at(30));
        assert_eq!(past.nearest(45, Some(b)).map(|d| d.offset), Some(30));
        // The same offset for two tenants is two states.
        past.remember(Some(b), &Arc::new(ReadModel::past(at(40))));
        assert_eq!(past.offsets().0, vec![40, 20, 40]);
    }
}
