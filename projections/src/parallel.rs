//! Replaying the directory with its tenants spread over threads.
//!
//! A start-up replay applies millions of events, and the events of
//! different tenants commute: apart from tenant lifecycle and sign-in
//! sessions, an event changes only its own tenant's [`Scope`]
//! ([`directory::reach`]; a scope event's only effect beyond its scope, the
//! sessions it revokes, is applied in order by the calling thread). So the
//! calling thread hands each helper thread a share of the scopes, and for
//! every batch of the log each thread applies, in offset order, the events
//! of its own tenants, while the calling thread also applies everything
//! that is not a scope's. Each scope thus sees exactly the events it would
//! in a sequential replay, in the same order, and the sessions see theirs
//! in log order: the result is the sequential one (a test compares them).
//!
//! An event that needs the whole directory as it stands — a tenant's
//! creation, change or deletion, or whatever the caller asks to apply
//! itself (the read model's audit descriptions and `as_of` copies) — is a
//! *barrier*: the helpers finish what they were given and hand their scopes
//! back, the event is applied to the whole directory on the calling thread,
//! and the scopes are handed out again at the next scope event. Barriers are
//! rare in a log (a tenant's lifecycle), and a run of them (an audit index
//! to fill from scratch: every event) is applied in order without handing
//! anything out in between.

use crate::directory::{self, Directory, Reach, Scope, Scoped};
use crate::pmap::PMap;
use crate::runtime::ReplayError;
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use switchboard_events::{EnvelopeRef, Event, EventBatch, ReadEventsError, TenantId};

/// Batches a helper may have queued before the calling thread waits for it.
const QUEUED_BATCHES: usize = 8;

/// The owner of a session event in a batch's owners (the calling thread,
/// which applies it to the sessions, not to a scope).
const SESSIONS: u8 = u8::MAX;

/// What the calling thread asks a helper to do.
enum Job {
    /// Take these scopes (the helper's share until it hands them back).
    Take(PMap<TenantId, Scope>),
    /// Apply the events of `batch` in `range` whose `owners` entry is this
    /// helper's number.
    Apply {
        batch: Arc<EventBatch>,
        owners: Arc<[u8]>,
        range: std::ops::Range<usize>,
    },
    /// Hand the scopes back (on the helper's reply channel).
    Return,
}

/// The calling thread's side of one helper.
struct Helper {
    jobs: SyncSender<Job>,
    scopes: Receiver<PMap<TenantId, Scope>>,
}

/// What decides, per event, whether the replay must stop spreading.
pub trait Barriers {
    /// Whether `env` must be applied to the whole directory, in order, by
    /// [`Barriers::apply`] (besides tenant lifecycle events, which always
    /// are, through [`Directory`]'s own apply).
    fn wants(&mut self, env: &EnvelopeRef<'_>, event: &Event) -> bool;

    /// Applies an event [`Barriers::wants`] chose, to the whole directory.
    fn apply(&mut self, dir: &mut Directory, env: &EnvelopeRef<'_>, event: &Event);
}

/// No barrier beyond tenant lifecycle events.
pub struct NoBarriers;

impl Barriers for NoBarriers {
    fn wants(&mut self, _: &EnvelopeRef<'_>, _: &Event) -> bool {
        false
    }

    fn apply(&mut self, dir: &mut Directory, env: &EnvelopeRef<'_>, event: &Event) {
        use crate::runtime::Projection;
        dir.apply_ref(env, event);
    }
}

/// Applies `batches` (consecutive events from offset `applied + 1` on) to
/// `dir` on `threads` threads (the calling one and `threads - 1` helpers),
/// tenants spread among them. Returns the last offset applied and the
/// error that stopped the replay, if any; `dir` then holds every event up
/// to that offset, as a sequential replay would have left it.
pub fn replay(
    dir: &mut Directory,
    applied: u64,
    batches: impl Iterator<Item = Result<EventBatch, ReadEventsError>>,
    threads: usize,
    barriers: &mut dyn Barriers,
) -> (u64, Option<ReplayError>) {
    // Thread numbers fit a byte below `SESSIONS`.
    let helpers = threads.clamp(1, usize::from(SESSIONS) - 1) - 1;
    let replaying = dir.replaying;
    let retention = dir.sync_retention_secs;
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(helpers);
        for _ in 0..helpers {
            // Numbered from 1 (0 is the calling thread); a helper that
            // cannot be started leaves its share to the others.
            let me = u8::try_from(handles.len() + 1).unwrap_or(u8::MAX);
            let (jobs, inbox) = sync_channel::<Job>(QUEUED_BATCHES);
            let (reply, scopes) = sync_channel(1);
            let started = std::thread::Builder::new()
                .name(format!("replay-{me}"))
                .spawn_scoped(s, move || helper(me, inbox, reply, replaying, retention));
            if started.is_err() {
                break;
            }
            handles.push(Helper { jobs, scopes });
        }
        let mut run = Run {
            dir,
            helpers: handles,
            owner: HashMap::default(),
            next_owner: 0,
            handed_out: false,
            last: applied,
        };
        let failure = run.all(batches, barriers);
        run.collect();
        (run.last, failure)
    })
}

/// The calling thread's state during a replay.
struct Run<'a> {
    dir: &'a mut Directory,
    helpers: Vec<Helper>,
    /// Tenant → the thread applying its events (0: the calling thread).
    owner: HashMap<TenantId, u8, foldhash::fast::RandomState>,
    /// The thread the next tenant seen goes to (round robin).
    next_owner: usize,
    /// Whether the helpers hold their scopes.
    handed_out: bool,
    /// The last offset applied (by whichever thread).
    last: u64,
}

impl Run<'_> {
    fn all(
        &mut self,
        batches: impl Iterator<Item = Result<EventBatch, ReadEventsError>>,
        barriers: &mut dyn Barriers,
    ) -> Option<ReplayError> {
        for batch in batches {
            let batch = match batch {
                Ok(b) => Arc::new(b),
                Err(e) => return Some(e.into()),
            };
            if let Some(e) = self.batch(&batch, barriers) {
                return Some(e);
            }
        }
        None
    }

    fn owner_of(&mut self, tenant: TenantId) -> u8 {
        let threads = self.helpers.len() + 1;
        let next = &mut self.next_owner;
        *self.owner.entry(tenant).or_insert_with(|| {
            let o = u8::try_from(*next % threads).unwrap_or(0);
            *next += 1;
            o
        })
    }

    /// Applies one batch: runs of scope events spread, barriers in order.
    fn batch(
        &mut self,
        batch: &Arc<EventBatch>,
        barriers: &mut dyn Barriers,
    ) -> Option<ReplayError> {
        // Which thread applies each event, and where the batch must stop:
        // at a barrier, or at an offset out of order.
        let mut owners = Vec::with_capacity(batch.len());
        let mut stops: Vec<usize> = Vec::new();
        let mut disorder = None;
        // Consecutive events are often of one tenant: one lookup per run.
        let mut recent: Option<(TenantId, u8)> = None;
        for (i, (env, event)) in batch.iter().enumerate() {
            if env.offset != self.last + 1 + i as u64 {
                disorder = Some(env.offset);
                break;
            }
            let reach = directory::reach(event);
            if reach == Reach::Directory || barriers.wants(&env, event) {
                stops.push(i);
                owners.push(0);
            } else if reach == Reach::Sessions {
                owners.push(SESSIONS);
            } else {
                let owner = match recent {
                    Some((t, o)) if t == env.tenant => o,
                    _ => self.owner_of(env.tenant),
                };
                recent = Some((env.tenant, owner));
                owners.push(owner);
            }
        }
        let end = owners.len();
        let owners: Arc<[u8]> = owners.into();
        let mut from = 0;
        for stop in stops.into_iter().chain(std::iter::once(end)) {
            if from < stop {
                self.spread(batch, &owners, from..stop);
            }
            if stop < end {
                self.collect();
                if let Some((env, event)) = batch.get(stop) {
                    barriers.apply(self.dir, &env, event);
                    self.last = env.offset;
                }
            }
            from = stop + 1;
        }
        disorder.map(|got| ReplayError::OutOfOrder {
            expected: self.last + 1,
            got,
        })
    }

    /// Applies a run of events without barriers: the helpers theirs, this
    /// thread its own, the sessions and every revocation in order.
    fn spread(
        &mut self,
        batch: &Arc<EventBatch>,
        owners: &Arc<[u8]>,
        range: std::ops::Range<usize>,
    ) {
        if !self.helpers.is_empty() {
            self.hand_out();
            for h in &self.helpers {
                let job = Job::Apply {
                    batch: batch.clone(),
                    owners: owners.clone(),
                    range: range.clone(),
                };
                if h.jobs.send(job).is_err() {
                    panic!("a replay helper thread stopped");
                }
            }
        }
        for i in range {
            // The envelope is built only for the events this thread
            // applies: most are the helpers', passed by here.
            let Some((offset, event)) = batch.event(i) else {
                break;
            };
            match owners[i] {
                SESSIONS => {
                    use crate::runtime::Projection;
                    if let Some((env, _)) = batch.get(i) {
                        self.dir.apply_ref(&env, event);
                    }
                }
                owner => {
                    if owner == 0 {
                        if let Some((env, _)) = batch.get(i) {
                            self.dir.scoped().apply(&env, event);
                        }
                    }
                    if let Some(user) = directory::revokes_sessions(event) {
                        self.dir.sessions.revoke_user(user);
                    }
                }
            }
            self.last = offset;
        }
        self.dir.offset = self.last;
    }

    /// Gives each helper the scopes of its tenants (those the directory
    /// holds; the ones created later are created by their owner).
    fn hand_out(&mut self) {
        if self.handed_out {
            return;
        }
        self.handed_out = true;
        let tenants: Vec<TenantId> = self.dir.scopes.keys().copied().collect();
        let mut shares: Vec<PMap<TenantId, Scope>> =
            self.helpers.iter().map(|_| PMap::new()).collect();
        for t in tenants {
            let o = usize::from(self.owner_of(t));
            if o == 0 {
                continue;
            }
            if let (Some(share), Some(scope)) = (shares.get_mut(o - 1), self.dir.scopes.remove(&t))
            {
                share.insert(t, scope);
            }
        }
        for (h, share) in self.helpers.iter().zip(shares) {
            if h.jobs.send(Job::Take(share)).is_err() {
                panic!("a replay helper thread stopped");
            }
        }
    }

    /// Waits for the helpers to apply what they were given and puts their
    /// scopes back into the directory.
    fn collect(&mut self) {
        if !self.handed_out {
            return;
        }
        self.handed_out = false;
        for h in &self.helpers {
            let back = h
                .jobs
                .send(Job::Return)
                .ok()
                .and_then(|()| h.scopes.recv().ok());
            let Some(mut share) = back else {
                panic!("a replay helper thread stopped");
            };
            let tenants: Vec<TenantId> = share.keys().copied().collect();
            for t in tenants {
                if let Some(scope) = share.remove(&t) {
                    self.dir.scopes.insert(t, scope);
                }
            }
        }
    }
}

/// A helper thread: applies its tenants' events to the scopes it holds.
fn helper(
    me: u8,
    inbox: Receiver<Job>,
    reply: SyncSender<PMap<TenantId, Scope>>,
    replaying: bool,
    retention: u64,
) {
    let mut scopes = PMap::new();
    for job in inbox {
        match job {
            Job::Take(share) => scopes = share,
            Job::Apply {
                batch,
                owners,
                range,
            } => {
                let mut scoped = Scoped {
                    scopes: &mut scopes,
                    replaying,
                    retention,
                };
                for i in range {
                    if owners.get(i) != Some(&me) {
                        continue;
                    }
                    if let Some((env, event)) = batch.get(i) {
                        scoped.apply(&env, event);
                    }
                }
            }
            Job::Return => {
                if reply.send(std::mem::take(&mut scopes)).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! A parallel replay must leave the directory exactly as applying the
    //! same events one by one does, on a generated log of several tenants
    //! with everything that reaches across them: tenant creation, change
    //! (disabling revokes sessions) and deletion in the middle, sign-in
    //! sessions started, refreshed, switched and ended, users disabled,
    //! re-passworded and deleted, links, primary lines, renumbering,
    //! groups, contacts and favorites, and tombstones pruned by a retention
    //! horizon.

    use super::*;
    use crate::runtime::{replay_in_order, Projection};
    use crate::testing::Rng;
    use switchboard_events::domain::*;
    use switchboard_events::{Envelope, Fields, Id, Value};

    /// Ids the generator has handed out, per tenant.
    #[derive(Default)]
    struct World {
        tenants: Vec<Id>,
        users: Vec<(Id, Id)>,
        extensions: Vec<(Id, Id)>,
        links: Vec<(Id, Id, Id, Id)>,
        groups: Vec<(Id, Id)>,
        contacts: Vec<(Id, Id, ContactOwner)>,
        sessions: Vec<(Id, Id)>,
        next: u64,
    }

    impl World {
        fn id(&mut self) -> Id {
            self.next += 1;
            Id(1000 + self.next)
        }
    }

    fn fields(rng: &mut Rng, names: &[&str]) -> Fields {
        let mut f = Fields::new();
        for _ in 0..1 + rng.below(3) {
            let name = rng.pick(names);
            f.insert(name.into(), Value::Str(format!("{name}-{}", rng.below(50))));
        }
        f
    }

    /// One random event and the tenant it is recorded in.
    fn next_event(rng: &mut Rng, w: &mut World) -> (Id, Event) {
        const USER_FIELDS: &[&str] = &["display_name", "email", "department", "job_title"];
        let pick = |rng: &mut Rng, n: usize| rng.below(n.max(1));
        loop {
            let roll = rng.below(100);
            if w.tenants.is_empty() || roll < 2 {
                let t = w.id();
                w.tenants.push(t);
                return (
                    SYSTEM_TENANT_ID,
                    Event::TenantCreated(TenantCreated {
                        tenant_id: t,
                        name: format!("T{}", t.0),
                        domain: format!("t{}.example.com", t.0),
                        attrs: Fields::new(),
                    }),
                );
            }
            let t = w.tenants[pick(rng, w.tenants.len())];
            let users: Vec<Id> = w.users.iter().filter(|u| u.0 == t).map(|u| u.1).collect();
            let exts: Vec<Id> = w
                .extensions
                .iter()
                .filter(|x| x.0 == t)
                .map(|x| x.1)
                .collect();
            let some_user = (!users.is_empty()).then(|| users[pick(rng, users.len())]);
            let some_ext = (!exts.is_empty()).then(|| exts[pick(rng, exts.len())]);
            let event = match (roll, some_user, some_ext) {
                (2..=3, _, _) => {
                    let mut changes = Fields::new();
                    changes.insert("enabled".into(), Value::Bool(rng.below(2) == 0));
                    changes.insert("name".into(), Value::Str(format!("T{}b", t.0)));
                    Event::TenantUpdated(TenantUpdated {
                        tenant_id: t,
                        changes,
                    })
                }
                (4, _, _) if w.tenants.len() > 2 => {
                    w.tenants.retain(|x| *x != t);
                    Event::TenantDeleted(TenantDeleted { tenant_id: t })
                }
                (5..=14, _, _) => {
                    let u = w.id();
                    w.users.push((t, u));
                    Event::UserCreated(UserCreated {
                        user_id: u,
                        name: format!("user{}", u.0),
                        role: "user".into(),
                        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
                            .into(),
                        attrs: fields(rng, USER_FIELDS),
                    })
                }
                (15..=39, Some(u), _) => {
                    let mut changes = fields(rng, USER_FIELDS);
                    if rng.below(15) == 0 {
                        changes.insert("enabled".into(), Value::Bool(false));
                    }
                    Event::UserUpdated(UserUpdated {
                        user_id: u,
                        changes: changes.into(),
                    })
                }
                (40..=41, Some(u), _) => Event::UserSecretChanged(UserSecretChanged {
                    user_id: u,
                    secret: SecretKind::Password,
                    hash: format!("h{}", rng.below(100)),
                }),
                (42..=43, Some(u), _) => {
                    w.users.retain(|x| x.1 != u);
                    Event::UserDeleted(UserDeleted { user_id: u })
                }
                (44..=49, _, _) => {
                    let x = w.id();
                    w.extensions.push((t, x));
                    Event::ExtensionCreated(ExtensionCreated {
                        extension_id: x,
                        number: format!("{}", 100 + rng.below(400)),
                        name: format!("Desk {}", x.0),
                        ext_type: ExtensionType::Sip,
                        enabled: true,
                    })
                }
                (50..=53, Some(u), Some(x)) => {
                    let l = w.id();
                    w.links.push((t, l, u, x));
                    Event::UserLinkedToExtension(UserLinkedToExtension {
                        link_id: l,
                        user_id: u,
                        extension_id: x,
                    })
                }
                (54..=56, Some(u), x) => Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
                    user_id: u,
                    extension_id: x,
                }),
                (57, _, _) => {
                    let links: Vec<_> = w.links.iter().filter(|l| l.0 == t).copied().collect();
                    let Some(&(_, l, u, x)) = links.get(pick(rng, links.len())) else {
                        continue;
                    };
                    w.links.retain(|k| k.1 != l);
                    Event::UserUnlinkedFromExtension(UserUnlinkedFromExtension {
                        link_id: l,
                        user_id: u,
                        extension_id: x,
                    })
                }
                (58..=59, _, Some(x)) => {
                    let mut changes = Fields::new();
                    changes.insert(
                        "number".into(),
                        Value::Str(format!("{}", 100 + rng.below(400))),
                    );
                    Event::ExtensionUpdated(ExtensionUpdated {
                        extension_id: x,
                        changes,
                    })
                }
                (60, _, Some(x)) => {
                    w.extensions.retain(|k| k.1 != x);
                    Event::ExtensionDeleted(ExtensionDeleted { extension_id: x })
                }
                (61..=62, _, _) => {
                    let g = w.id();
                    w.groups.push((t, g));
                    Event::GroupCreated(GroupCreated {
                        group_id: g,
                        name: format!("g{}", g.0),
                        attrs: Fields::new(),
                    })
                }
                (63..=65, Some(u), _) => {
                    let groups: Vec<Id> =
                        w.groups.iter().filter(|g| g.0 == t).map(|g| g.1).collect();
                    let Some(&g) = groups.get(pick(rng, groups.len())) else {
                        continue;
                    };
                    if rng.below(3) == 0 {
                        Event::GroupMemberRemoved(GroupMemberRemoved {
                            group_id: g,
                            user_id: u,
                        })
                    } else {
                        Event::GroupMemberAdded(GroupMemberAdded {
                            group_id: g,
                            user_id: u,
                        })
                    }
                }
                (66..=71, u, _) => {
                    let c = w.id();
                    let owner = match u {
                        Some(u) if rng.below(2) == 0 => ContactOwner::User(u),
                        _ => ContactOwner::Business,
                    };
                    w.contacts.push((t, c, owner));
                    Event::ContactCreated(ContactCreated {
                        contact_id: c,
                        owner,
                        attrs: fields(rng, &["name", "email"]),
                    })
                }
                (72..=77, _, _) => {
                    let cs: Vec<_> = w.contacts.iter().filter(|c| c.0 == t).copied().collect();
                    let Some(&(_, c, owner)) = cs.get(pick(rng, cs.len())) else {
                        continue;
                    };
                    if rng.below(3) == 0 {
                        w.contacts.retain(|k| k.1 != c);
                        Event::ContactDeleted(ContactDeleted {
                            contact_id: c,
                            owner,
                        })
                    } else {
                        Event::ContactUpdated(ContactUpdated {
                            contact_id: c,
                            owner,
                            changes: fields(rng, &["name", "email"]),
                        })
                    }
                }
                (78..=81, Some(u), _) => {
                    let cs: Vec<_> = w.contacts.iter().filter(|c| c.0 == t).copied().collect();
                    let (collection, item) = match cs.get(pick(rng, cs.len())) {
                        Some(&(_, c, ContactOwner::Business)) => (FavoriteCollection::Business, c),
                        Some(&(_, c, ContactOwner::User(_))) => (FavoriteCollection::Personal, c),
                        None => (FavoriteCollection::Extension, some_user.unwrap_or(u)),
                    };
                    if rng.below(3) == 0 {
                        Event::FavoriteRemoved(FavoriteRemoved {
                            user_id: u,
                            collection,
                            item_id: item,
                        })
                    } else {
                        Event::FavoriteAdded(FavoriteAdded {
                            user_id: u,
                            collection,
                            item_id: item,
                        })
                    }
                }
                (82..=87, Some(u), _) => {
                    let s = w.id();
                    w.sessions.push((t, s));
                    let n = rng.below(1000) as u8;
                    Event::SessionStarted(SessionStarted {
                        session_id: s,
                        user_id: u,
                        access_hash: [n; 32],
                        refresh_hash: [n.wrapping_add(1); 32],
                        // Far ahead: the sessions outlive the log.
                        access_expires_at: 1 << 40,
                        refresh_expires_at: 1 << 41,
                    })
                }
                (88..=95, _, _) if !w.sessions.is_empty() => {
                    let (_, s) = w.sessions[pick(rng, w.sessions.len())];
                    match rng.below(4) {
                        0 => {
                            let n = rng.below(1000) as u8;
                            Event::SessionRefreshed(SessionRefreshed {
                                session_id: s,
                                access_hash: [n; 32],
                                refresh_hash: [n.wrapping_add(7); 32],
                                access_expires_at: 1 << 40,
                                refresh_expires_at: 1 << 41,
                            })
                        }
                        1 => Event::SessionTenantSwitched(SessionTenantSwitched {
                            session_id: s,
                            tenant_id: w.tenants[pick(rng, w.tenants.len())],
                        }),
                        2 => {
                            w.sessions.retain(|k| k.1 != s);
                            Event::SessionEnded(SessionEnded { session_id: s })
                        }
                        _ => continue,
                    }
                }
                _ => continue,
            };
            return (t, event);
        }
    }

    const SYSTEM_TENANT_ID: Id = switchboard_events::SYSTEM_TENANT;

    /// `n` random events as a log would deliver them.
    fn log(seed: u64, n: u64) -> Vec<(Envelope, Event)> {
        let mut rng = Rng(seed);
        let mut w = World::default();
        (1..=n)
            .map(|offset| {
                let (tenant, event) = next_event(&mut rng, &mut w);
                let mut env = crate::testing::envelope(offset, "any", event.event_type());
                env.tenant = tenant;
                env.stream_version = offset;
                env.recorded_at += time::Duration::seconds(offset as i64 * 10);
                (env, event)
            })
            .collect()
    }

    /// The log cut into batches of random lengths.
    fn batches(
        rng: &mut Rng,
        events: &[(Envelope, Event)],
    ) -> Vec<Result<EventBatch, ReadEventsError>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < events.len() {
            let n = (1 + rng.below(300)).min(events.len() - i);
            let mut b = EventBatch::with_capacity(n);
            for (env, event) in &events[i..i + n] {
                b.push(&env.view(), event.clone());
            }
            out.push(Ok(b));
            i += n;
        }
        out
    }

    fn empty() -> Directory {
        Directory {
            sync_retention_secs: 600,
            ..Directory::default()
        }
    }

    /// Everything a directory holds, as text that is equal for equal states.
    fn state(dir: &Directory, sessions: &[Id]) -> Vec<String> {
        let mut out = vec![format!("offset {}", dir.offset)];
        for t in crate::canonical::tenants(dir) {
            let v = crate::canonical::tenant_state(dir, t).expect("renders");
            out.push(crate::canonical::to_text(&v.expect("has a scope")));
        }
        let mut domains: Vec<_> = dir.domains.iter().collect();
        domains.sort();
        out.push(format!("{domains:?}"));
        out.push(format!("{} sessions", dir.sessions.len()));
        for s in sessions {
            out.push(format!("{:?}", dir.sessions.get(*s)));
        }
        out
    }

    fn replayed(events: &[(Envelope, Event)], threads: usize, seed: u64) -> Directory {
        let mut dir = Directory {
            replay_threads: threads,
            ..empty()
        };
        let mut rng = Rng(seed);
        let batches = batches(&mut rng, events);
        dir.replay_started();
        let (last, failure) = dir.replay_batches(0, Box::new(batches.into_iter()));
        dir.replay_finished();
        assert_eq!(failure, None);
        assert_eq!(last, events.len() as u64);
        dir
    }

    #[test]
    fn spreading_tenants_over_threads_leaves_the_state_a_sequential_replay_does() {
        for seed in [1, 7, 42, 2026] {
            let events = log(seed, 6_000);
            let kinds: std::collections::BTreeSet<&str> =
                events.iter().map(|(_, e)| e.event_type()).collect();
            for kind in [
                "TenantDeleted",
                "TenantUpdated",
                "SessionTenantSwitched",
                "UserDeleted",
                "ContactDeleted",
                "UserUnlinkedFromExtension",
            ] {
                assert!(kinds.contains(kind), "the log has a {kind}");
            }
            let sessions: Vec<Id> = events
                .iter()
                .filter_map(|(_, e)| match e {
                    Event::SessionStarted(s) => Some(s.session_id),
                    _ => None,
                })
                .collect();
            // Live: each event applied as it comes, nothing deferred.
            let mut live = empty();
            for (env, event) in &events {
                live.apply(env, event);
            }
            let expected = state(&live, &sessions);
            assert!(expected.len() > 4, "several tenants");
            let ended = events
                .iter()
                .filter(|(_, e)| matches!(e, Event::SessionEnded(_)))
                .count();
            assert!(
                live.sessions.len() + ended + 10 < sessions.len(),
                "revocations ended sessions"
            );
            for threads in [1, 2, 3, 5] {
                let got = state(&replayed(&events, threads, seed + 1), &sessions);
                assert_eq!(got.len(), expected.len(), "seed {seed}, {threads} threads");
                for (g, e) in got.iter().zip(&expected) {
                    assert_eq!(g, e, "seed {seed}, {threads} threads");
                }
            }
        }
    }

    /// Wants every 97th event in order, and notes the offset of each event
    /// it applies.
    struct Every(u64, Vec<u64>);

    impl Barriers for Every {
        fn wants(&mut self, env: &EnvelopeRef<'_>, _: &Event) -> bool {
            env.offset.is_multiple_of(self.0)
        }

        fn apply(&mut self, dir: &mut Directory, env: &EnvelopeRef<'_>, event: &Event) {
            // The whole directory is there, up to the event before.
            assert_eq!(dir.offset + 1, env.offset);
            self.1.push(env.offset);
            dir.apply_ref(env, event);
        }
    }

    #[test]
    fn barriers_see_the_whole_directory_in_order_and_an_error_stops_where_it_is() {
        let events = log(5, 3_000);
        let mut rng = Rng(9);
        let mut input = batches(&mut rng, &events[..2_000]);
        input.push(Err(ReadEventsError::Log(
            switchboard_events::LogError::Storage("gone".into()),
        )));
        let mut dir = empty();
        dir.replay_started();
        let mut every = Every(97, Vec::new());
        let (last, failure) = replay(&mut dir, 0, input.into_iter(), 3, &mut every);
        dir.replay_finished();
        assert_eq!(last, 2_000);
        assert!(matches!(failure, Some(ReplayError::Log(_))));
        // Asked for, and tenant lifecycle events (always in order).
        let in_order: Vec<u64> = events[..2_000]
            .iter()
            .filter(|(env, e)| {
                env.offset.is_multiple_of(97) || directory::reach(e) == Reach::Directory
            })
            .map(|(env, _)| env.offset)
            .collect();
        assert_eq!(every.1, in_order);
        let mut sequential = empty();
        sequential.replay_started();
        let mut rng = Rng(9);
        let (_, none) = replay_in_order(
            &mut sequential,
            0,
            Box::new(batches(&mut rng, &events[..2_000]).into_iter()),
        );
        sequential.replay_finished();
        assert_eq!(none, None);
        assert_eq!(state(&dir, &[]), state(&sequential, &[]));

        // An offset out of order stops the replay after the one before.
        let mut rng = Rng(3);
        let mut skipped = batches(&mut rng, &events[..500]);
        skipped.extend(batches(&mut rng, &events[501..600]));
        let mut dir = empty();
        let (last, failure) = replay(&mut dir, 0, skipped.into_iter(), 2, &mut NoBarriers);
        assert_eq!(last, 500);
        assert_eq!(
            failure,
            Some(ReplayError::OutOfOrder {
                expected: 501,
                got: 502
            })
        );
        assert_eq!(dir.offset, 500);
    }
}
