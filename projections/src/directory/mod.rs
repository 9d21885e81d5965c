//! The directory read model: tenants, users, extensions and links, roles,
//! groups and sign-in sessions, per tenant.
//!
//! It doubles as the write model: commands decide against it while holding
//! their tenant's lock, and the lock is released only after the projection
//! has applied the command's events (see ARCHITECTURE.md, "Write model").

pub mod changes;
pub mod classify;
mod contacts;
mod extensions;
mod groups;
pub mod idset;
pub mod items;
pub mod meetings;
mod numbers;
mod presence;
mod queues;
mod roles;
pub mod secret;
mod sessions;
mod tenants;
mod users;

pub use contacts::{ContactView, Contacts, Favorites, EXTENSION_CONTACT_FIELDS};
pub use extensions::{ext_type_name, parse_ext_type, ExtensionView, LinkView};
pub use groups::GroupView;
pub use idset::IdSet;
pub use numbers::Numbers;
pub use presence::{
    agent_status, line_status, shown_presence, CallView, PresenceView, RegistrationView,
};
pub use queues::{CallQueueView, QueueAgent, RingGroupView};
pub use roles::RoleView;
pub use secret::{SecretHash, Secrets};
pub use sessions::{SessionView, Sessions};
pub use tenants::TenantView;
pub use users::UserView;

use crate::pmap::{PHashMap, PMap, POrdMap};
use crate::query::sorted::SortedIds;
use crate::runtime::{Projection, ReplayError};
use crate::short::Short;
#[cfg(doc)]
use changes::ChangeLog;
use switchboard_events::{Envelope, EnvelopeRef, Event, EventBatches, Id, TenantId, SYSTEM_TENANT};
use time::OffsetDateTime;

/// What owns an extension number in a tenant's shared number space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NumberOwner {
    /// An extension (possibly some user's primary line).
    Extension(Id),
    /// A call queue.
    CallQueue(Id),
    /// A ring group.
    RingGroup(Id),
    /// A meeting room (an item of the `meetings` collection).
    Meeting(Id),
}

/// Creation and change bookkeeping every entity carries.
///
/// The two times are kept as unix nanoseconds (8 bytes each instead of an
/// `OffsetDateTime`'s 16: every user, extension and item has a stamp), read
/// back as UTC `OffsetDateTime`s by [`Stamp::created_at`] and
/// [`Stamp::updated_at`]. Event times are UTC already; a time outside
/// 1677–2262 would be clamped. Encoded exactly as before (the times as
/// `OffsetDateTime`s), so snapshots keep their format.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "StampRepr", into = "StampRepr")]
pub struct Stamp {
    created_at: i64,
    /// Offset of the creating event.
    pub created_offset: u64,
    updated_at: i64,
    /// Offset of the last change.
    pub updated_offset: u64,
    /// The stream version after the last change (for optimistic concurrency).
    pub version: u64,
}

/// [`Stamp`] as it is encoded.
#[derive(serde::Serialize, serde::Deserialize)]
struct StampRepr {
    created_at: OffsetDateTime,
    created_offset: u64,
    updated_at: OffsetDateTime,
    updated_offset: u64,
    version: u64,
}

impl From<StampRepr> for Stamp {
    fn from(r: StampRepr) -> Stamp {
        Stamp {
            created_at: nanos(r.created_at),
            created_offset: r.created_offset,
            updated_at: nanos(r.updated_at),
            updated_offset: r.updated_offset,
            version: r.version,
        }
    }
}

impl From<Stamp> for StampRepr {
    fn from(s: Stamp) -> StampRepr {
        StampRepr {
            created_at: s.created_at(),
            created_offset: s.created_offset,
            updated_at: s.updated_at(),
            updated_offset: s.updated_offset,
            version: s.version,
        }
    }
}

/// Unix nanoseconds of `t`, clamped to what an `i64` holds.
fn nanos(t: OffsetDateTime) -> i64 {
    let n = t.unix_timestamp_nanos();
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

/// The UTC time of unix nanoseconds `n` (every `i64` is in range).
fn time_of(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Stamp {
    fn new(env: &EnvelopeRef<'_>) -> Stamp {
        let at = nanos(env.recorded_at);
        Stamp {
            created_at: at,
            created_offset: env.offset,
            updated_at: at,
            updated_offset: env.offset,
            version: env.stream_version,
        }
    }

    fn touch(&mut self, env: &EnvelopeRef<'_>) {
        self.updated_at = nanos(env.recorded_at);
        self.updated_offset = env.offset;
        self.version = env.stream_version;
    }

    /// When it was created.
    pub fn created_at(&self) -> OffsetDateTime {
        time_of(self.created_at)
    }

    /// When it last changed.
    pub fn updated_at(&self) -> OffsetDateTime {
        time_of(self.updated_at)
    }
}

/// Everything inside one tenant (or the system scope, tenant 0).
///
/// Encoded as [`ScopeRepr`] (the user-name index as the map of lower-cased
/// name → id it was), so snapshots and canonical JSON did not change.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "ScopeRepr", into = "ScopeRepr")]
pub struct Scope {
    /// Users by id.
    pub users: PMap<Id, UserView>,
    /// Users by lower-cased name ([`Scope::user_by_name`]).
    pub users_by_name: UserNames,
    /// Extension number → owner.
    pub numbers: Numbers,
    /// Extensions by id.
    pub extensions: PMap<Id, ExtensionView>,
    /// User↔extension links by link id (small: kept in the map's nodes).
    pub links: POrdMap<Id, LinkView>,
    /// Custom roles by id.
    pub roles: PMap<Id, RoleView>,
    /// Lower-cased role name → id.
    pub roles_by_name: PHashMap<String, Id>,
    /// User groups by id.
    pub groups: PMap<Id, GroupView>,
    /// Lower-cased group name → id.
    pub groups_by_name: PHashMap<String, Id>,
    /// Call queues by id.
    pub call_queues: PMap<Id, CallQueueView>,
    /// Ring groups by id.
    pub ring_groups: PMap<Id, RingGroupView>,
    /// Presence, registrations and call state by user id.
    pub presence: PMap<Id, PresenceView>,
    /// Favorites, and the sync change indexes of the extension directory
    /// and of favorite flips.
    pub contacts: Contacts,
    /// Items of declared collections (personal and business contacts among
    /// them), per owner, with their change indexes.
    #[serde(default)]
    pub items: items::Items,
    /// Meetings as they run: desired and actual state (the scheduled
    /// meetings themselves are items of the `meetings` collection).
    #[serde(default)]
    pub meetings: meetings::Meetings,
}

/// [`Scope`] as it is encoded (the layout it had before the user-name
/// index held ids only).
#[derive(serde::Serialize, serde::Deserialize)]
struct ScopeRepr {
    users: PMap<Id, UserView>,
    users_by_name: POrdMap<Short, Id>,
    numbers: Numbers,
    extensions: PMap<Id, ExtensionView>,
    links: POrdMap<Id, LinkView>,
    roles: PMap<Id, RoleView>,
    roles_by_name: PHashMap<String, Id>,
    groups: PMap<Id, GroupView>,
    groups_by_name: PHashMap<String, Id>,
    call_queues: PMap<Id, CallQueueView>,
    ring_groups: PMap<Id, RingGroupView>,
    presence: PMap<Id, PresenceView>,
    contacts: Contacts,
    #[serde(default)]
    items: items::Items,
    #[serde(default)]
    meetings: meetings::Meetings,
}

impl From<ScopeRepr> for Scope {
    fn from(r: ScopeRepr) -> Scope {
        // The map is in lower-cased name order already: its ids are the
        // index (an entry that does not name its user's row is left out,
        // so the order holds whatever an older state kept).
        let users_by_name = UserNames::from_ordered(
            r.users_by_name
                .iter()
                .filter(|(key, id)| {
                    r.users
                        .get(id)
                        .is_some_and(|u| u.name.to_lowercase() == key.as_str())
                })
                .map(|(_, id)| *id),
        );
        Scope {
            users: r.users,
            users_by_name,
            numbers: r.numbers,
            extensions: r.extensions,
            links: r.links,
            roles: r.roles,
            roles_by_name: r.roles_by_name,
            groups: r.groups,
            groups_by_name: r.groups_by_name,
            call_queues: r.call_queues,
            ring_groups: r.ring_groups,
            presence: r.presence,
            contacts: r.contacts,
            items: r.items,
            meetings: r.meetings,
        }
    }
}

impl From<Scope> for ScopeRepr {
    fn from(s: Scope) -> ScopeRepr {
        let users_by_name = s
            .users_by_name
            .iter()
            .filter_map(|id| {
                s.users
                    .get(&id)
                    .map(|u| (Short::from(u.name.to_lowercase()), id))
            })
            .collect();
        ScopeRepr {
            users: s.users,
            users_by_name,
            numbers: s.numbers,
            extensions: s.extensions,
            links: s.links,
            roles: s.roles,
            roles_by_name: s.roles_by_name,
            groups: s.groups,
            groups_by_name: s.groups_by_name,
            call_queues: s.call_queues,
            ring_groups: s.ring_groups,
            presence: s.presence,
            contacts: s.contacts,
            items: s.items,
            meetings: s.meetings,
        }
    }
}

/// Users by lower-cased name: their ids in that order (then by id), the
/// names read from the rows. 8 bytes a user in exact-size chunks, where a
/// map of name keys took ~54 (a 16-byte key and an id in half-full B-tree
/// leaves); a lookup is a binary search reading ~17 rows (~1 µs).
#[derive(Debug, Clone, Default)]
pub struct UserNames(SortedIds);

/// Orders names as their lower-cased forms (`str::to_lowercase`, without
/// allocating for ASCII names).
fn cmp_lower(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()));
    }
    a.to_lowercase().cmp(&b.to_lowercase())
}

impl UserNames {
    /// Ids already in the index's order.
    fn from_ordered(ids: impl Iterator<Item = Id>) -> UserNames {
        UserNames(ids.collect())
    }

    /// The ids, in lower-cased name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Id> + '_ {
        self.0.iter()
    }

    /// How many users are indexed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The order of `probe` (a user of `users`) relative to user `id`
    /// named `name`.
    fn cmp<'a>(
        users: &'a PMap<Id, UserView>,
        id: Id,
        name: &'a str,
    ) -> impl FnMut(Id) -> std::cmp::Ordering + 'a {
        move |probe| {
            if probe == id {
                return std::cmp::Ordering::Equal;
            }
            let probe_name = users.get(&probe).map_or("", |u| u.name.as_str());
            cmp_lower(probe_name, name).then(probe.cmp(&id))
        }
    }

    /// Adds user `id` named `name` (`users` holds the others).
    fn insert(&mut self, users: &PMap<Id, UserView>, id: Id, name: &str) {
        self.0.insert_by(id, Self::cmp(users, id, name));
    }

    /// Removes user `id`, which was named `name`.
    fn remove(&mut self, users: &PMap<Id, UserView>, id: Id, name: &str) {
        self.0.remove_by(id, Self::cmp(users, id, name));
    }

    /// The user named `name` (any case).
    fn find(&self, users: &PMap<Id, UserView>, name: &str) -> Option<Id> {
        self.0.find_by(|probe| {
            let probe_name = users.get(&probe).map_or("", |u| u.name.as_str());
            cmp_lower(probe_name, name)
        })
    }
}

impl Scope {
    /// A user by (case-insensitive) name.
    pub fn user_by_name(&self, name: &str) -> Option<&UserView> {
        self.users_by_name
            .find(&self.users, name)
            .and_then(|id| self.users.get(&id))
    }

    /// The number of a user's primary extension.
    pub fn extension_number_of(&self, user: &UserView) -> Option<&str> {
        user.primary_extension
            .and_then(|e| self.extensions.get(&e))
            .map(|e| e.number.as_str())
    }

    /// The user whose primary extension has this number.
    pub fn user_by_number(&self, number: &str) -> Option<&UserView> {
        match self.numbers.get(number) {
            Some(NumberOwner::Extension(ext)) => self
                .extensions
                .get(&ext)
                .and_then(|e| e.primary_of)
                .and_then(|u| self.users.get(&u)),
            _ => None,
        }
    }

    /// Users holding a role (by exact role name).
    pub fn count_role(&self, role: &str) -> usize {
        self.users.values().filter(|u| u.role == role).count()
    }
}

/// The whole directory.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Directory {
    /// Tenants by id (the system scope has no entry here).
    pub tenants: PMap<Id, TenantView>,
    /// Lower-cased SIP domain → tenant.
    pub domains: PHashMap<String, Id>,
    /// Contents per tenant; tenant 0 is the system scope.
    pub scopes: PMap<TenantId, Scope>,
    /// Sign-in sessions across all tenants.
    pub sessions: Sessions,
    /// Offset of the last applied event.
    pub offset: u64,
    /// The sync token retention horizon in seconds (0 = unlimited): deleted
    /// items' tombstones older than this are pruned from the change index.
    /// Set from the configuration when the directory is created.
    #[serde(default)]
    pub sync_retention_secs: u64,
    /// Inside a replay ([`Projection::replay_started`]): the tenants'
    /// extension change indexes are deferred until it finishes.
    #[serde(skip)]
    pub(crate) replaying: bool,
    /// Threads a replay spreads the tenants over (`crate::parallel`):
    /// 0 = as many as the machine has cores (at most 8), 1 = the calling
    /// thread only. Set from the configuration; not part of the state.
    #[serde(skip)]
    pub replay_threads: usize,
}

impl Directory {
    /// The scope of a tenant, if it exists (the system scope always does).
    pub fn scope(&self, tenant: TenantId) -> Option<&Scope> {
        self.scopes.get(&tenant)
    }

    /// The scope of a tenant, or an empty one for a tenant nothing was ever
    /// created in (it reads as empty, not as missing).
    pub fn scope_or_empty(&self, tenant: TenantId) -> &Scope {
        static EMPTY: std::sync::LazyLock<Scope> = std::sync::LazyLock::new(Scope::default);
        self.scopes.get(&tenant).unwrap_or(&EMPTY)
    }

    /// A tenant by its SIP domain (case-insensitive).
    pub fn tenant_by_domain(&self, domain: &str) -> Option<&TenantView> {
        self.domains
            .get(&domain.to_lowercase())
            .and_then(|id| self.tenants.get(id))
    }

    /// The threads a replay uses ([`Directory::replay_threads`] resolved).
    pub fn threads_for_replay(&self) -> usize {
        match self.replay_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
            n => n,
        }
    }

    /// Changes every scope in place.
    fn each_scope(&mut self, mut change: impl FnMut(&mut Scope)) {
        let tenants: Vec<TenantId> = self.scopes.keys().copied().collect();
        for tenant in tenants {
            if let Some(scope) = self.scopes.get_mut(&tenant) {
                change(scope);
            }
        }
    }

    fn scope_mut(&mut self, tenant: TenantId) -> &mut Scope {
        scope_in(&mut self.scopes, self.replaying, tenant)
    }
}

/// `tenant`'s scope, created if it has none yet; inside a replay a new
/// scope defers its change index (as [`Directory::replay_started`] does for
/// the existing ones).
fn scope_in(scopes: &mut PMap<TenantId, Scope>, replaying: bool, tenant: TenantId) -> &mut Scope {
    scopes.get_or_insert_with(tenant, || {
        let mut scope = Scope::default();
        if replaying {
            scope.contacts.changes.extension.defer();
        }
        scope
    })
}

impl AsRef<Directory> for Directory {
    fn as_ref(&self) -> &Directory {
        self
    }
}

impl Projection for Directory {
    fn apply(&mut self, env: &Envelope, event: &Event) {
        self.apply_ref(&env.view(), event);
    }

    /// Every user change touches the tenant's extension change index (for
    /// sync diffs); a replay keeps only each user's latest offset there and
    /// orders them once at the end ([`ChangeLog::defer`]).
    fn replay_started(&mut self) {
        self.replaying = true;
        self.each_scope(|scope| scope.contacts.changes.extension.defer());
    }

    fn replay_finished(&mut self) {
        self.replaying = false;
        self.each_scope(|scope| scope.contacts.changes.extension.settle());
    }

    /// Spreads the tenants over [`Directory::replay_threads`] threads.
    fn replay_batches(
        &mut self,
        applied: u64,
        batches: EventBatches<'_>,
    ) -> (u64, Option<ReplayError>) {
        match self.threads_for_replay() {
            1 => crate::runtime::replay_in_order(self, applied, batches),
            n => {
                crate::parallel::replay(self, applied, batches, n, &mut crate::parallel::NoBarriers)
            }
        }
    }

    /// The directory reads only an event's offset, tenant, time and stream
    /// version, so it works on the borrowed view: a replay builds no owned
    /// envelope (six allocations and a payload copy) per event.
    fn apply_ref(&mut self, env: &EnvelopeRef<'_>, event: &Event) {
        self.offset = env.offset;
        match event {
            Event::TenantCreated(e) => tenants::created(self, env, e),
            Event::TenantUpdated(e) => tenants::updated(self, env, e),
            Event::TenantDeleted(e) => tenants::deleted(self, e),
            Event::SessionStarted(e) => self.sessions.started(env.tenant, env, e),
            Event::SessionRefreshed(e) => self.sessions.refreshed(env, e),
            Event::SessionTenantSwitched(e) => self.sessions.switched(e),
            Event::SessionEnded(e) => self.sessions.ended(e),
            _ => {
                self.scoped().apply(env, event);
                if let Some(user) = revokes_sessions(event) {
                    self.sessions.revoke_user(user);
                }
            }
        }
    }
}

/// Where events happen: tenant lifecycle and sign-in sessions change the
/// directory as a whole (tenants, domains, every scope, `sessions`), every
/// other event changes its own tenant's [`Scope`] only, plus — for the
/// events [`revokes_sessions`] names — the sessions. A parallel replay
/// (`crate::parallel`) relies on this split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Tenants, domains, several scopes and the sessions.
    Directory,
    /// The sessions only.
    Sessions,
    /// The event's tenant's scope (and [`revokes_sessions`]).
    Scope,
}

/// What `event` may change (see [`Reach`]).
pub fn reach(event: &Event) -> Reach {
    match event {
        Event::TenantCreated(_) | Event::TenantUpdated(_) | Event::TenantDeleted(_) => {
            Reach::Directory
        }
        Event::SessionStarted(_)
        | Event::SessionRefreshed(_)
        | Event::SessionTenantSwitched(_)
        | Event::SessionEnded(_) => Reach::Sessions,
        _ => Reach::Scope,
    }
}

/// The user whose sessions a scope event ends (disabled, password changed,
/// deleted); nothing else of a scope event reaches beyond its scope.
pub fn revokes_sessions(event: &Event) -> Option<Id> {
    match event {
        Event::UserUpdated(e)
            if e.changes.value("enabled").and_then(|v| v.as_bool()) == Some(false) =>
        {
            Some(e.user_id)
        }
        Event::UserSecretChanged(e)
            if e.secret == switchboard_events::domain::SecretKind::Password =>
        {
            Some(e.user_id)
        }
        Event::UserDeleted(e) => Some(e.user_id),
        _ => None,
    }
}

/// The scopes of a directory (or a share of them, in a parallel replay)
/// and what applying a scope event needs besides them.
pub(crate) struct Scoped<'a> {
    /// Scopes by tenant.
    pub(crate) scopes: &'a mut PMap<TenantId, Scope>,
    /// Inside a replay: a new scope defers its change index.
    pub(crate) replaying: bool,
    /// [`Directory::sync_retention_secs`].
    pub(crate) retention: u64,
}

impl Directory {
    /// The scopes, to apply a scope event.
    pub(crate) fn scoped(&mut self) -> Scoped<'_> {
        Scoped {
            scopes: &mut self.scopes,
            replaying: self.replaying,
            retention: self.sync_retention_secs,
        }
    }
}

impl Scoped<'_> {
    fn scope_mut(&mut self, tenant: TenantId) -> &mut Scope {
        scope_in(self.scopes, self.replaying, tenant)
    }

    /// Applies an event of [`Reach::Scope`] to its tenant's scope (the
    /// sessions it revokes are the caller's).
    pub(crate) fn apply(&mut self, env: &EnvelopeRef<'_>, event: &Event) {
        let tenant = env.tenant;
        let before = contacts::before(self.scopes.get(&tenant), event);
        match event {
            Event::UserCreated(e) => users::created(self.scope_mut(tenant), env, e),
            Event::UserUpdated(e) => users::updated(self.scope_mut(tenant), env, e),
            Event::UserSecretChanged(e) => users::secret_changed(self.scope_mut(tenant), env, e),
            Event::UserRoleChanged(e) => users::role_changed(self.scope_mut(tenant), env, e),
            Event::UserProfileReset(e) => users::profile_reset(self.scope_mut(tenant), env, e),
            Event::UserDeleted(e) => {
                users::deleted(self.scope_mut(tenant), e);
                queues::user_deleted(self.scope_mut(tenant), e.user_id);
                self.scope_mut(tenant).meetings.user_deleted(e.user_id);
                // The user's items go after this arm (`contacts::after`):
                // their meeting rooms' numbers are released now.
                meetings::owner_deleted(self.scope_mut(tenant), e.user_id);
            }

            Event::ExtensionCreated(e) => extensions::created(self.scope_mut(tenant), env, e),
            Event::ExtensionUpdated(e) => extensions::updated(self.scope_mut(tenant), env, e),
            Event::ExtensionDeleted(e) => extensions::deleted(self.scope_mut(tenant), e),
            Event::UserLinkedToExtension(e) => extensions::linked(self.scope_mut(tenant), env, e),
            Event::UserUnlinkedFromExtension(e) => {
                extensions::unlinked(self.scope_mut(tenant), env, e)
            }
            Event::PrimaryExtensionChanged(e) => {
                extensions::primary_changed(self.scope_mut(tenant), env, e)
            }

            Event::RoleCreated(e) => roles::created(self.scope_mut(tenant), env, e),
            Event::RoleUpdated(e) => roles::updated(self.scope_mut(tenant), env, e),
            Event::RoleDeleted(e) => roles::deleted(self.scope_mut(tenant), e),

            Event::GroupCreated(e) => groups::created(self.scope_mut(tenant), env, e),
            Event::GroupUpdated(e) => groups::updated(self.scope_mut(tenant), env, e),
            Event::GroupDeleted(e) => groups::deleted(self.scope_mut(tenant), e),
            Event::GroupMemberAdded(e) => groups::member_added(self.scope_mut(tenant), env, e),
            Event::GroupMemberRemoved(e) => groups::member_removed(self.scope_mut(tenant), env, e),

            Event::CallQueueCreated(e) => queues::queue_created(self.scope_mut(tenant), env, e),
            Event::CallQueueUpdated(e) => queues::queue_updated(self.scope_mut(tenant), env, e),
            Event::CallQueueDeleted(e) => queues::queue_deleted(self.scope_mut(tenant), e),
            Event::CallQueueAgentAdded(e) => {
                queues::queue_agent_added(self.scope_mut(tenant), env, e)
            }
            Event::CallQueueAgentUpdated(e) => {
                queues::queue_agent_updated(self.scope_mut(tenant), env, e)
            }
            Event::CallQueueAgentRemoved(e) => {
                queues::queue_agent_removed(self.scope_mut(tenant), env, e)
            }
            Event::RingGroupCreated(e) => {
                queues::ring_group_created(self.scope_mut(tenant), env, e)
            }
            Event::RingGroupUpdated(e) => {
                queues::ring_group_updated(self.scope_mut(tenant), env, e)
            }
            Event::RingGroupDeleted(e) => queues::ring_group_deleted(self.scope_mut(tenant), e),
            Event::RingGroupAgentAdded(e) => {
                queues::ring_group_agent_added(self.scope_mut(tenant), env, e)
            }
            Event::RingGroupAgentUpdated(e) => {
                queues::ring_group_agent_updated(self.scope_mut(tenant), env, e)
            }
            Event::RingGroupAgentRemoved(e) => {
                queues::ring_group_agent_removed(self.scope_mut(tenant), env, e)
            }
            Event::AgentStatusSet(e) => queues::agent_status_set(self.scope_mut(tenant), env, e),
            Event::PresenceSet(e) => presence::presence_set(self.scope_mut(tenant), e),
            Event::RegistrationAdded(e) => presence::registration_added(self.scope_mut(tenant), e),
            Event::RegistrationRemoved(e) => {
                presence::registration_removed(self.scope_mut(tenant), e)
            }
            Event::CallStateChanged(e) => {
                presence::call_state_changed(self.scope_mut(tenant), env, e)
            }
            Event::ContactCreated(e) => contacts::created(self.scope_mut(tenant), env, e),
            Event::ContactUpdated(e) => contacts::updated(self.scope_mut(tenant), env, e),
            Event::ContactDeleted(e) => {
                let retention = self.retention;
                contacts::deleted(self.scope_mut(tenant), env, e, retention)
            }
            Event::FavoriteAdded(e) => contacts::favorite_added(self.scope_mut(tenant), env, e),
            Event::FavoriteRemoved(e) => contacts::favorite_removed(self.scope_mut(tenant), env, e),
            Event::ItemCreated(e) => {
                let scope = self.scope_mut(tenant);
                scope
                    .items
                    .created(env, &e.collection, e.owner, e.item_id, &e.attrs);
                meetings::number_claimed(scope, &e.collection, e.item_id, &e.attrs);
            }
            Event::ItemUpdated(e) => self.scope_mut(tenant).items.updated(
                env,
                &e.collection,
                e.owner,
                e.item_id,
                &e.changes,
            ),
            Event::ItemDeleted(e) => {
                let retention = self.retention;
                let scope = self.scope_mut(tenant);
                let gone = scope
                    .items
                    .deleted(env, &e.collection, e.owner, e.item_id, retention);
                if let Some(item) = gone {
                    meetings::number_released(scope, &e.collection, &item);
                }
                // A meeting's live state goes with the meeting.
                scope.meetings.removed(e.item_id);
            }
            // Call history is read from its own on-disk store, never from
            // the directory (ARCHITECTURE.md, "Call history"): the
            // directory does not grow with the number of calls.
            Event::CdrRecorded(_)
            | Event::ExternalMessageRecorded(_)
            | Event::RecordingRecorded(_)
            | Event::RecordingDestroyed(_) => {}
            Event::MeetingControlled(e) => self.scope_mut(tenant).meetings.controlled(env, e),
            Event::MeetingStateReported(e) => self.scope_mut(tenant).meetings.reported(env, e),
            // Applied by the directory as a whole (`reach`).
            Event::TenantCreated(_)
            | Event::TenantUpdated(_)
            | Event::TenantDeleted(_)
            | Event::SessionStarted(_)
            | Event::SessionRefreshed(_)
            | Event::SessionTenantSwitched(_)
            | Event::SessionEnded(_) => {}
        }
        let retention = self.retention;
        if let Some(scope) = self.scopes.get_mut(&tenant) {
            contacts::after(scope, env, event, before, retention);
        }
    }
}

/// The system scope's id, re-exported for convenience.
pub const SYSTEM: TenantId = SYSTEM_TENANT;

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout a `Stamp` had (and is still encoded in).
    #[derive(serde::Serialize)]
    struct OldStamp {
        created_at: OffsetDateTime,
        created_offset: u64,
        updated_at: OffsetDateTime,
        updated_offset: u64,
        version: u64,
    }

    /// The user-name index against the map it replaced (lower-cased name
    /// → id): lookups in any case, and the same encoding.
    #[test]
    fn users_are_found_by_name_in_any_case_and_the_index_encodes_as_the_map() {
        use switchboard_events::domain::{UserCreated, UserDeleted};
        use switchboard_events::{Fields, Id};
        let mut dir = Directory::default();
        let mut reference: std::collections::BTreeMap<String, Id> = Default::default();
        let tenant = crate::testing::envelope(1, "user", "UserCreated").tenant;
        let mut offset = 0;
        let mut apply = |dir: &mut Directory, e: Event| {
            offset += 1;
            dir.apply(&crate::testing::envelope(offset, "user", "UserCreated"), &e);
        };
        let names = ["ann", "Bob", "carl", "ÄNNE", "zed", "Al", "bob2", "Émile"];
        let mut seed: u64 = 0x1234_5678_9abc_def1;
        for step in 0..400u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let name = format!("{}{}", names[(seed % 8) as usize], seed % 13);
            let id = Id(1 + (seed >> 8) % 40);
            if step % 3 == 2 {
                let gone = dir
                    .scope(tenant)
                    .and_then(|s| s.users.get(&id))
                    .map(|u| u.name.to_lowercase());
                apply(&mut dir, Event::UserDeleted(UserDeleted { user_id: id }));
                if let Some(gone) = gone {
                    reference.remove(&gone);
                }
                continue;
            }
            let taken = reference.contains_key(&name.to_lowercase());
            let exists = dir.scope(tenant).is_some_and(|s| s.users.contains_key(&id));
            if taken || exists {
                // Commands refuse a taken name and an existing id.
                continue;
            }
            apply(
                &mut dir,
                Event::UserCreated(UserCreated {
                    user_id: id,
                    name: name.clone(),
                    role: "StandardUser".into(),
                    password_hash: "h".into(),
                    attrs: Fields::new(),
                }),
            );
            reference.insert(name.to_lowercase(), id);
        }
        let scope = dir.scope(tenant).expect("scope");
        assert!(reference.len() > 10);
        for (name, id) in &reference {
            for asked in [name.clone(), name.to_uppercase()] {
                assert_eq!(
                    scope.user_by_name(&asked).map(|u| u.id),
                    Some(*id),
                    "{asked}"
                );
            }
        }
        assert!(scope.user_by_name("nobody").is_none());
        assert_eq!(scope.users_by_name.len(), reference.len());
        // Encoded as the map: canonical JSON and postcard alike.
        let json = serde_json::to_value(scope).expect("json");
        assert_eq!(
            json["users_by_name"],
            serde_json::to_value(&reference).expect("json")
        );
        let bytes = postcard::to_allocvec(scope).expect("encode");
        let back: Scope = postcard::from_bytes(&bytes).expect("decode");
        for (name, id) in &reference {
            assert_eq!(back.user_by_name(name).map(|u| u.id), Some(*id));
        }
        assert_eq!(postcard::to_allocvec(&back).expect("encode"), bytes);
    }

    #[test]
    fn a_stamp_reads_back_its_times_and_encodes_as_it_did() {
        let mut env = crate::testing::envelope(7, "user", "UserCreated");
        let created = time::macros::datetime!(2026-12-02 04:05:06.123456789 UTC);
        env.recorded_at = created;
        let mut stamp = Stamp::new(&env.view());
        let updated = time::macros::datetime!(1970-01-01 00:00:00 UTC) - time::Duration::days(3);
        env.recorded_at = updated;
        env.offset = 9;
        stamp.touch(&env.view());
        assert_eq!((stamp.created_at(), stamp.updated_at()), (created, updated));
        let old = OldStamp {
            created_at: created,
            created_offset: 7,
            updated_at: updated,
            updated_offset: 9,
            version: 7,
        };
        crate::testing::assert_encodes_as(&stamp, &old);
    }
}
