//! Contacts, favorites and the sync change index in the directory view.
//!
//! Personal and business contacts are items of two declared collections
//! ([`super::items`]: [`PERSONAL_CONTACTS`] per owner, [`BUSINESS_CONTACTS`]
//! per tenant; contact ids are unique within a tenant), so their lists and
//! change indexes are the items'. Favorites are per user. Every change a
//! sync client can see is recorded in a change log: the lists' own, the
//! tenant's [`ChangeIndex`] for the extension directory (the tenant's users,
//! including changes that alter what it displays) and each user's favorite
//! flips on the shared collections.

use super::changes::{ChangeIndex, ChangeType};
use super::classify::{self, DirectoryChange};
use super::items::{contact_list, ItemView, BUSINESS_CONTACTS, PERSONAL_CONTACTS};
use super::Scope;
use crate::pmap::PMap;
use std::collections::BTreeSet;
use switchboard_events::domain::{
    ContactCreated, ContactDeleted, ContactOwner, ContactUpdated, FavoriteAdded,
    FavoriteCollection, FavoriteRemoved, ItemOwner,
};
use switchboard_events::{EnvelopeRef, Event, Id};

/// User fields the extension directory shows; a change to one of them is a
/// change of the user's extension contact. (`extension_number` is derived
/// from links and is tracked separately.)
pub const EXTENSION_CONTACT_FIELDS: &[&str] = &[
    "display_name",
    "email",
    "mobile_phone",
    "work_phone",
    "home_phone",
    "address",
    "department",
    "avatar_file_url",
];

/// A personal or business contact: an item of its collection.
pub type ContactView = ItemView;

/// One user's favorites, per collection.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Favorites {
    /// Favorited personal contacts.
    pub personal: BTreeSet<Id>,
    /// Favorited business contacts.
    pub business: BTreeSet<Id>,
    /// Favorited extension contacts (user ids).
    pub extension: BTreeSet<Id>,
}

impl Favorites {
    /// The set for a collection.
    pub fn of(&self, c: FavoriteCollection) -> &BTreeSet<Id> {
        match c {
            FavoriteCollection::Personal => &self.personal,
            FavoriteCollection::Business => &self.business,
            FavoriteCollection::Extension => &self.extension,
        }
    }

    fn of_mut(&mut self, c: FavoriteCollection) -> &mut BTreeSet<Id> {
        match c {
            FavoriteCollection::Personal => &mut self.personal,
            FavoriteCollection::Business => &mut self.business,
            FavoriteCollection::Extension => &mut self.extension,
        }
    }
}

/// Favorites and the change indexes of the shared collections, of one
/// tenant.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Contacts {
    /// Favorites per user.
    pub favorites: PMap<Id, Favorites>,
    /// The sync change indexes of the extension directory and of favorite
    /// flips on shared collections.
    pub changes: ChangeIndex,
}

impl Contacts {
    /// Whether `user` favorited `id` in `collection`.
    pub fn is_favorite(&self, user: Id, collection: FavoriteCollection, id: Id) -> bool {
        self.favorites
            .get(&user)
            .is_some_and(|f| f.of(collection).contains(&id))
    }
}

impl Scope {
    /// The contact `id` of `owner` (another owner's is just as missing).
    pub fn contact(&self, owner: ContactOwner, id: Id) -> Option<&ContactView> {
        let (collection, owner) = contact_list(owner);
        self.items.get(collection, owner, id)
    }

    /// The tenant's business contacts, by id.
    pub fn business_contacts(&self) -> impl DoubleEndedIterator<Item = &ContactView> + '_ {
        self.items.items(BUSINESS_CONTACTS, ItemOwner::Tenant)
    }

    /// A user's personal contacts, by id.
    pub fn personal_contacts(
        &self,
        user: Id,
    ) -> impl DoubleEndedIterator<Item = &ContactView> + '_ {
        self.items.items(PERSONAL_CONTACTS, ItemOwner::User(user))
    }
}

pub(super) fn created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &ContactCreated) {
    let (collection, owner) = contact_list(e.owner);
    scope
        .items
        .created(env, collection, owner, e.contact_id, &e.attrs);
}

pub(super) fn updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &ContactUpdated) {
    let (collection, owner) = contact_list(e.owner);
    scope
        .items
        .updated(env, collection, owner, e.contact_id, &e.changes);
}

pub(super) fn deleted(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    e: &ContactDeleted,
    retention: u64,
) {
    let (collection, owner) = contact_list(e.owner);
    if scope
        .items
        .deleted(env, collection, owner, e.contact_id, retention)
        .is_none()
    {
        return;
    }
    // Favorites of a deleted contact go with it; the deletion itself is what
    // sync clients see (through the collection's tombstone).
    let c = &mut scope.contacts;
    match e.owner {
        ContactOwner::Business => {
            c.favorites.update_where(
                |f| f.business.contains(&e.contact_id),
                |f| {
                    f.business.remove(&e.contact_id);
                },
            );
        }
        ContactOwner::User(u) => {
            if let Some(f) = c.favorites.get_mut(&u) {
                f.personal.remove(&e.contact_id);
            }
        }
    }
}

pub(super) fn favorite_added(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &FavoriteAdded) {
    scope
        .contacts
        .favorites
        .get_or_insert_with(e.user_id, Favorites::default)
        .of_mut(e.collection)
        .insert(e.item_id);
    log_favorite(scope, env, e.user_id, e.collection, e.item_id);
}

pub(super) fn favorite_removed(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &FavoriteRemoved) {
    if let Some(f) = scope.contacts.favorites.get_mut(&e.user_id) {
        f.of_mut(e.collection).remove(&e.item_id);
    }
    log_favorite(scope, env, e.user_id, e.collection, e.item_id);
}

/// Records a favorite flip where `user`'s sync client sees it: in their
/// own personal contacts' change log (only they see those), or in their
/// log of flips on a shared collection.
fn log_favorite(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    user: Id,
    collection: FavoriteCollection,
    item: Id,
) {
    let changes = &mut scope.contacts.changes;
    match collection {
        FavoriteCollection::Personal => {
            scope
                .items
                .touch(PERSONAL_CONTACTS, ItemOwner::User(user), item, env.offset)
        }
        FavoriteCollection::Business => changes
            .business_favorites
            .entry(user)
            .or_default()
            .touch(item, env.offset),
        FavoriteCollection::Extension => changes
            .extension_favorites
            .entry(user)
            .or_default()
            .touch(item, env.offset),
    }
}

/// What the extension directory looked like, for the users an event may
/// change, before the event was applied.
#[derive(Debug, Default)]
pub(super) struct Before {
    /// `(user, extension_number, created_offset)` of each affected user.
    users: Vec<(Id, Option<String>, u64)>,
}

/// Captures the affected users' extension contact state before `event`.
pub(super) fn before(scope: Option<&Scope>, event: &Event) -> Before {
    let Some(scope) = scope else {
        return Before::default();
    };
    // These change only the user's own fields, never its lines or an
    // extension's number: nothing to compare afterwards (and no vector or
    // string built for the most frequent events of a replay).
    if matches!(
        event,
        Event::UserUpdated(_)
            | Event::UserProfileReset(_)
            | Event::UserRoleChanged(_)
            | Event::UserSecretChanged(_)
    ) {
        return Before::default();
    }
    Before {
        users: classify::affected_users(Some(scope), event)
            .into_iter()
            .filter_map(|id| scope.users.get(&id))
            .map(|u| {
                (
                    u.id,
                    scope.extension_number_of(u).map(str::to_owned),
                    u.stamp.created_offset,
                )
            })
            .collect(),
    }
}

/// Records extension directory changes caused by user and extension events
/// (after they were applied), and drops a deleted user's contacts and
/// favorites.
pub(super) fn after(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    event: &Event,
    before: Before,
    retention: u64,
) {
    if let Event::UserDeleted(e) = event {
        if let Some((_, _, created)) = before.users.iter().find(|(u, _, _)| *u == e.user_id) {
            scope.contacts.changes.extension.deleted(
                e.user_id,
                *created,
                env.offset,
                env.recorded_at.unix_timestamp(),
                retention,
            );
        }
        scope.items.user_deleted(e.user_id);
        let c = &mut scope.contacts;
        c.favorites.remove(&e.user_id);
        c.favorites.update_where(
            |f| f.extension.contains(&e.user_id),
            |f| {
                f.extension.remove(&e.user_id);
            },
        );
        c.changes.business_favorites.remove(&e.user_id);
        c.changes.extension_favorites.remove(&e.user_id);
        return;
    }
    let log = &mut scope.contacts.changes.extension;
    match classify::directory_change(event) {
        Some(DirectoryChange::User {
            user,
            change: ChangeType::Created,
        }) => log.created(user, env.offset),
        Some(DirectoryChange::User { user, .. }) => log.touch(user, env.offset),
        _ => {}
    }
    // Line and extension changes count only when the shown number changed.
    for (id, number, _) in before.users {
        let now = scope
            .users
            .get(&id)
            .and_then(|u| scope.extension_number_of(u).map(str::to_owned));
        if scope.users.contains_key(&id) && now != number {
            scope.contacts.changes.extension.touch(id, env.offset);
        }
    }
}

#[cfg(test)]
mod model_tests {
    //! A pure model-based test of the change index: thousands of random
    //! contact, favorite and user changes applied through `Directory::apply`,
    //! with sync clients diffing at random moments, some paged with changes
    //! landing *between* their pages. Every replica, built only from diffs,
    //! must end equal to the directory, and no diff may name an id twice.

    use super::super::changes::{diff, ChangeType, DiffRequest};
    use super::super::items::{BUSINESS_CONTACTS, PERSONAL_CONTACTS};
    use crate::{Directory, Projection};
    use std::collections::{BTreeMap, HashSet};
    use switchboard_events::domain::*;
    use switchboard_events::{Attrs, Envelope, Event, Fields, Id, Metadata, Value};

    const T: Id = Id(3);

    use crate::testing::Rng;

    std::thread_local! {
        /// Every event `apply` gave a directory on this test's thread.
        static APPLIED: std::cell::RefCell<Vec<Event>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    fn apply(dir: &mut Directory, e: Event) {
        APPLIED.with(|a| a.borrow_mut().push(e.clone()));
        apply_unrecorded(dir, e);
    }

    fn apply_unrecorded(dir: &mut Directory, e: Event) {
        let env = Envelope {
            offset: dir.offset + 1,
            stream: e.stream(),
            stream_version: 1,
            tenant: T,
            event_type: e.event_type().into(),
            schema_version: e.schema_version(),
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            metadata: Metadata::system("test"),
            payload: vec![],
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        dir.apply(&env, &e);
    }

    fn named(n: String) -> Fields {
        let mut f = Fields::new();
        f.insert("name".into(), Value::Str(n));
        f
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Coll {
        Personal,
        Business,
        Extension,
    }

    /// What a user sees of an item: its fields and their own favorite flag.
    type Seen = (Fields, bool);

    fn listing(dir: &Directory, user: Id, c: Coll) -> BTreeMap<Id, Seen> {
        let s = dir.scope(T).expect("scope");
        let fav = |fc, id| s.contacts.is_favorite(user, fc, id);
        match c {
            Coll::Personal => s
                .personal_contacts(user)
                .map(|v| {
                    (
                        v.id,
                        (v.attrs.to_fields(), fav(FavoriteCollection::Personal, v.id)),
                    )
                })
                .collect(),
            Coll::Business => s
                .business_contacts()
                .map(|v| {
                    (
                        v.id,
                        (v.attrs.to_fields(), fav(FavoriteCollection::Business, v.id)),
                    )
                })
                .collect(),
            Coll::Extension => s
                .users
                .values()
                .map(|u| {
                    (
                        u.id,
                        (shown(&u.attrs), fav(FavoriteCollection::Extension, u.id)),
                    )
                })
                .collect(),
        }
    }

    /// The user fields the extension directory shows.
    fn shown(attrs: &Attrs) -> Fields {
        attrs
            .iter()
            .filter(|(k, _)| super::EXTENSION_CONTACT_FIELDS.contains(k))
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect()
    }

    /// One item as `user` sees it now, if present.
    fn item_now(dir: &Directory, user: Id, c: Coll, id: Id) -> Option<Seen> {
        let s = dir.scope(T)?;
        let fav = |fc| s.contacts.is_favorite(user, fc, id);
        match c {
            Coll::Personal => s
                .contact(ContactOwner::User(user), id)
                .map(|v| (v.attrs.to_fields(), fav(FavoriteCollection::Personal))),
            Coll::Business => s
                .contact(ContactOwner::Business, id)
                .map(|v| (v.attrs.to_fields(), fav(FavoriteCollection::Business))),
            Coll::Extension => s
                .users
                .get(&id)
                .map(|u| (shown(&u.attrs), fav(FavoriteCollection::Extension))),
        }
    }

    fn page(
        dir: &Directory,
        user: Id,
        c: Coll,
        req: DiffRequest,
    ) -> super::super::changes::DiffPage {
        let s = dir.scope(T).expect("scope");
        let ch = &s.contacts.changes;
        match c {
            Coll::Personal => diff(
                s.items
                    .list(PERSONAL_CONTACTS, ItemOwner::User(user))
                    .map(|l| &l.changes),
                None,
                req,
                |id| {
                    s.contact(ContactOwner::User(user), id)
                        .map(|v| v.stamp.created_offset)
                },
            ),
            Coll::Business => diff(
                s.items
                    .list(BUSINESS_CONTACTS, ItemOwner::Tenant)
                    .map(|l| &l.changes),
                ch.business_favorites.get(&user),
                req,
                |id| {
                    s.contact(ContactOwner::Business, id)
                        .map(|v| v.stamp.created_offset)
                },
            ),
            Coll::Extension => diff(
                Some(&ch.extension),
                ch.extension_favorites.get(&user),
                req,
                |id| s.users.get(&id).map(|u| u.stamp.created_offset),
            ),
        }
    }

    /// A paged diff in progress: (since, head, cursor, ids seen so far).
    type Paging = (u64, u64, (u64, Id), HashSet<Id>);

    struct Client {
        user: Id,
        coll: Coll,
        top: Option<usize>,
        token: u64,
        replica: BTreeMap<Id, Seen>,
        paging: Option<Paging>,
    }

    impl Client {
        /// Fetches one page (starting a diff if none is in progress).
        fn step(&mut self, dir: &Directory) {
            let (since, head, after, mut seen) = match self.paging.take() {
                Some((s, h, a, seen)) => (s, h, Some(a), seen),
                None => (self.token, dir.offset, None, HashSet::new()),
            };
            let p = page(
                dir,
                self.user,
                self.coll,
                DiffRequest {
                    since,
                    after,
                    head,
                    top: self.top,
                },
            );
            for ch in &p.changes {
                assert!(seen.insert(ch.id), "{:?} named twice in one diff", ch.id);
                match ch.change_type {
                    ChangeType::Created => {
                        assert!(
                            !self.replica.contains_key(&ch.id),
                            "CREATED for a held item"
                        );
                        let item =
                            item_now(dir, self.user, self.coll, ch.id).expect("CREATED is present");
                        self.replica.insert(ch.id, item);
                    }
                    ChangeType::Updated => {
                        let item =
                            item_now(dir, self.user, self.coll, ch.id).expect("UPDATED is present");
                        self.replica.insert(ch.id, item);
                    }
                    ChangeType::Deleted => {
                        assert!(
                            item_now(dir, self.user, self.coll, ch.id).is_none(),
                            "DELETED but present"
                        );
                        self.replica.remove(&ch.id);
                    }
                }
            }
            match p.changes.last() {
                Some(last) if p.has_more => {
                    self.paging = Some((since, head, (last.offset, last.id), seen));
                }
                _ => self.token = head,
            }
        }
    }

    #[test]
    fn replicas_built_from_diffs_equal_the_directory() {
        let seed: u64 = std::env::var("MODEL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_cafe_f00d_u64);
        println!("change index model test: MODEL_SEED={seed}");
        let mut rng = Rng(seed | 1);
        let mut dir = Directory::default();
        let readers = [Id(1), Id(2), Id(3)];
        let mut users: Vec<Id> = readers.to_vec();
        for u in readers {
            apply(
                &mut dir,
                Event::UserCreated(UserCreated {
                    user_id: u,
                    name: format!("u{}", u.0),
                    role: "StandardUser".into(),
                    password_hash: "h".into(),
                    attrs: Fields::new(),
                }),
            );
        }
        let mut clients = Vec::new();
        for u in readers {
            for coll in [Coll::Personal, Coll::Business, Coll::Extension] {
                let top = match rng.below(3) {
                    0 => None,
                    1 => Some(1),
                    _ => Some(2 + rng.below(4)),
                };
                clients.push(Client {
                    user: u,
                    coll,
                    top,
                    token: dir.offset,
                    replica: listing(&dir, u, coll),
                    paging: None,
                });
            }
        }
        let mut personal: BTreeMap<Id, Vec<Id>> = BTreeMap::new();
        let mut business: Vec<Id> = Vec::new();
        let mut next = 1000u64;
        for step in 0..20_000 {
            let u = readers[rng.below(readers.len())];
            next += 1;
            match rng.below(20) {
                0..=2 => {
                    apply(
                        &mut dir,
                        Event::ContactCreated(ContactCreated {
                            contact_id: Id(next),
                            owner: ContactOwner::User(u),
                            attrs: named(format!("p{step}")),
                        }),
                    );
                    personal.entry(u).or_default().push(Id(next));
                }
                3..=4 => {
                    let mine = personal.entry(u).or_default();
                    if !mine.is_empty() {
                        let id = mine[rng.below(mine.len())];
                        let mut ch = Fields::new();
                        ch.insert("title".into(), Value::Str(format!("t{}", rng.below(4))));
                        apply(
                            &mut dir,
                            Event::ContactUpdated(ContactUpdated {
                                contact_id: id,
                                owner: ContactOwner::User(u),
                                changes: ch,
                            }),
                        );
                    }
                }
                5 => {
                    let mine = personal.entry(u).or_default();
                    if !mine.is_empty() {
                        let k = rng.below(mine.len());
                        let id = mine.swap_remove(k);
                        apply(
                            &mut dir,
                            Event::ContactDeleted(ContactDeleted {
                                contact_id: id,
                                owner: ContactOwner::User(u),
                            }),
                        );
                    }
                }
                6..=7 => {
                    apply(
                        &mut dir,
                        Event::ContactCreated(ContactCreated {
                            contact_id: Id(next),
                            owner: ContactOwner::Business,
                            attrs: named(format!("b{step}")),
                        }),
                    );
                    business.push(Id(next));
                }
                8..=9 if !business.is_empty() => {
                    let id = business[rng.below(business.len())];
                    let mut ch = Fields::new();
                    ch.insert("company".into(), Value::Str(format!("c{}", rng.below(4))));
                    apply(
                        &mut dir,
                        Event::ContactUpdated(ContactUpdated {
                            contact_id: id,
                            owner: ContactOwner::Business,
                            changes: ch,
                        }),
                    );
                }
                10 if !business.is_empty() => {
                    let k = rng.below(business.len());
                    let id = business.swap_remove(k);
                    apply(
                        &mut dir,
                        Event::ContactDeleted(ContactDeleted {
                            contact_id: id,
                            owner: ContactOwner::Business,
                        }),
                    );
                }
                11 => {
                    apply(
                        &mut dir,
                        Event::UserCreated(UserCreated {
                            user_id: Id(next),
                            name: format!("x{next}"),
                            role: "StandardUser".into(),
                            password_hash: "h".into(),
                            attrs: Fields::new(),
                        }),
                    );
                    users.push(Id(next));
                }
                12 if users.len() > readers.len() => {
                    let id = users[readers.len() + rng.below(users.len() - readers.len())];
                    let mut ch = Fields::new();
                    let field = if rng.below(2) == 0 {
                        "display_name"
                    } else {
                        "enable_dnd"
                    };
                    ch.insert(field.into(), Value::Str(format!("d{}", rng.below(4))));
                    apply(
                        &mut dir,
                        Event::UserUpdated(UserUpdated {
                            user_id: id,
                            changes: ch.into(),
                        }),
                    );
                }
                13 if users.len() > readers.len() => {
                    let k = readers.len() + rng.below(users.len() - readers.len());
                    let id = users.swap_remove(k);
                    apply(&mut dir, Event::UserDeleted(UserDeleted { user_id: id }));
                }
                14..=17 => {
                    let (collection, pool): (FavoriteCollection, Vec<Id>) = match rng.below(3) {
                        0 => (
                            FavoriteCollection::Personal,
                            personal.get(&u).cloned().unwrap_or_default(),
                        ),
                        1 => (FavoriteCollection::Business, business.clone()),
                        _ => (FavoriteCollection::Extension, users.clone()),
                    };
                    if !pool.is_empty() {
                        let item_id = pool[rng.below(pool.len())];
                        let on = rng.below(5) < 3;
                        // As the command would: only a real flip is recorded.
                        if dir
                            .scope(T)
                            .expect("scope")
                            .contacts
                            .is_favorite(u, collection, item_id)
                            != on
                        {
                            let e = if on {
                                Event::FavoriteAdded(FavoriteAdded {
                                    user_id: u,
                                    collection,
                                    item_id,
                                })
                            } else {
                                Event::FavoriteRemoved(FavoriteRemoved {
                                    user_id: u,
                                    collection,
                                    item_id,
                                })
                            };
                            apply(&mut dir, e);
                        }
                    }
                }
                _ => {}
            }
            // Clients poll at random moments, one page at a time, so paged
            // diffs interleave with changes.
            if rng.below(4) == 0 {
                let i = rng.below(clients.len());
                clients[i].step(&dir);
            }
        }
        for c in &mut clients {
            c.step(&dir);
            while c.paging.is_some() {
                c.step(&dir);
            }
            // One more complete diff: what changed during the paging above.
            c.step(&dir);
            while c.paging.is_some() {
                c.step(&dir);
            }
            assert_eq!(
                c.replica,
                listing(&dir, c.user, c.coll),
                "{:?} of {:?} (seed {seed})",
                c.coll,
                c.user
            );
        }
        // The same events replayed (the extension change index deferred,
        // ordered once at the end) answer every diff the same.
        let events = APPLIED.with(|a| a.take());
        let mut replayed = Directory::default();
        replayed.replay_started();
        for e in events {
            apply_unrecorded(&mut replayed, e);
        }
        replayed.replay_finished();
        assert_eq!(replayed.offset, dir.offset);
        let head = dir.offset;
        for since in [0, 3, head / 3, head / 2, head - 40, head - 1] {
            for user in readers {
                for coll in [Coll::Personal, Coll::Business, Coll::Extension] {
                    let req = DiffRequest {
                        since,
                        after: None,
                        head,
                        top: None,
                    };
                    assert_eq!(
                        page(&replayed, user, coll, req),
                        page(&dir, user, coll, req),
                        "{coll:?} of {user:?} since {since} (seed {seed})"
                    );
                }
            }
        }
        let (a, b) = (
            &dir.scope(T).expect("scope").contacts.changes.extension,
            &replayed.scope(T).expect("scope").contacts.changes.extension,
        );
        assert_eq!(a.len(), b.len());
        assert!(a.range((0, Id(0)), head).eq(b.range((0, Id(0)), head)));
    }

    #[test]
    fn the_directory_prunes_tombstones_beyond_the_retention_horizon() {
        let mut dir = Directory {
            sync_retention_secs: 3600,
            ..Directory::default()
        };
        let at = |dir: &mut Directory, secs: i64, e: Event| {
            let env = Envelope {
                offset: dir.offset + 1,
                stream: e.stream(),
                stream_version: 1,
                tenant: T,
                event_type: e.event_type().into(),
                schema_version: e.schema_version(),
                recorded_at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(secs),
                metadata: Metadata::system("test"),
                payload: vec![],
                prev_hash: [0; 32],
                hash: [0; 32],
            };
            dir.apply(&env, &e);
        };
        for (i, secs) in [(1u64, 0i64), (2, 10_000)] {
            at(
                &mut dir,
                secs,
                Event::ContactCreated(ContactCreated {
                    contact_id: Id(i),
                    owner: ContactOwner::Business,
                    attrs: named("x".into()),
                }),
            );
            at(
                &mut dir,
                secs,
                Event::ContactDeleted(ContactDeleted {
                    contact_id: Id(i),
                    owner: ContactOwner::Business,
                }),
            );
        }
        let log = &dir
            .scope(T)
            .expect("scope")
            .items
            .list(BUSINESS_CONTACTS, ItemOwner::Tenant)
            .expect("list")
            .changes;
        assert!(
            log.tombstone(Id(1)).is_none(),
            "deleted 10000 s ago, horizon 3600 s"
        );
        assert!(log.tombstone(Id(2)).is_some());
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn the_directory_with_contacts_serializes_to_json() {
        let mut dir = Directory::default();
        apply(
            &mut dir,
            Event::ContactCreated(ContactCreated {
                contact_id: Id(5),
                owner: ContactOwner::Business,
                attrs: named("A".into()),
            }),
        );
        apply(
            &mut dir,
            Event::FavoriteAdded(FavoriteAdded {
                user_id: Id(1),
                collection: FavoriteCollection::Business,
                item_id: Id(5),
            }),
        );
        let text = serde_json::to_string(&dir).expect("serializes");
        let back: Directory = serde_json::from_str(&text).expect("deserializes");
        assert!(back.scope(T).expect("scope").contacts.is_favorite(
            Id(1),
            FavoriteCollection::Business,
            Id(5)
        ));
    }
}
