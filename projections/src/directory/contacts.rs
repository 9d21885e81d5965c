//! Contacts, favorites and the sync change index in the directory view.
//!
//! Personal contacts are kept per owner, business contacts per tenant;
//! contact ids are unique within a tenant. Favorites are per user. Every
//! change a sync client can see is also recorded in the tenant's
//! [`ChangeIndex`] (see `changes.rs`), including changes to the extension
//! directory (the tenant's users) that alter what it displays.

use super::changes::ChangeIndex;
use super::users::merge;
use super::{Scope, Stamp};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use switchboard_events::domain::{
    ContactCreated, ContactDeleted, ContactOwner, ContactUpdated, FavoriteAdded,
    FavoriteCollection, FavoriteRemoved,
};
use switchboard_events::{Envelope, Event, Fields, Id};

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

/// A personal or business contact.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContactView {
    /// Id.
    pub id: Id,
    /// Whose contact it is.
    pub owner: ContactOwner,
    /// The fields that are set.
    pub attrs: Fields,
    /// Bookkeeping.
    pub stamp: Stamp,
}

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

/// Contacts, favorites and change indexes of one tenant.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Contacts {
    /// Business contacts by id.
    pub business: BTreeMap<Id, ContactView>,
    /// Personal contacts: owner → id → contact.
    pub personal: HashMap<Id, BTreeMap<Id, ContactView>>,
    /// Every live contact id → its owner (ids are unique in the tenant).
    pub owners: HashMap<Id, ContactOwner>,
    /// Favorites per user.
    pub favorites: HashMap<Id, Favorites>,
    /// The sync change indexes.
    pub changes: ChangeIndex,
}

impl Contacts {
    /// A contact of `owner`.
    pub fn get(&self, owner: ContactOwner, id: Id) -> Option<&ContactView> {
        match owner {
            ContactOwner::Business => self.business.get(&id),
            ContactOwner::User(u) => self.personal.get(&u).and_then(|m| m.get(&id)),
        }
    }

    /// Whether `user` favorited `id` in `collection`.
    pub fn is_favorite(&self, user: Id, collection: FavoriteCollection, id: Id) -> bool {
        self.favorites
            .get(&user)
            .is_some_and(|f| f.of(collection).contains(&id))
    }

    fn contact_mut(&mut self, owner: ContactOwner, id: Id) -> Option<&mut ContactView> {
        match owner {
            ContactOwner::Business => self.business.get_mut(&id),
            ContactOwner::User(u) => self.personal.get_mut(&u).and_then(|m| m.get_mut(&id)),
        }
    }

    fn log_of(&mut self, owner: ContactOwner) -> &mut super::changes::ChangeLog {
        match owner {
            ContactOwner::Business => &mut self.changes.business,
            ContactOwner::User(u) => self.changes.personal.entry(u).or_default(),
        }
    }
}

pub(super) fn created(scope: &mut Scope, env: &Envelope, e: &ContactCreated) {
    let c = &mut scope.contacts;
    let view = ContactView {
        id: e.contact_id,
        owner: e.owner,
        attrs: e.attrs.clone(),
        stamp: Stamp::new(env),
    };
    match e.owner {
        ContactOwner::Business => {
            c.business.insert(e.contact_id, view);
        }
        ContactOwner::User(u) => {
            c.personal.entry(u).or_default().insert(e.contact_id, view);
        }
    }
    c.owners.insert(e.contact_id, e.owner);
    c.log_of(e.owner).created(e.contact_id, env.offset);
}

pub(super) fn updated(scope: &mut Scope, env: &Envelope, e: &ContactUpdated) {
    let c = &mut scope.contacts;
    let Some(view) = c.contact_mut(e.owner, e.contact_id) else {
        return;
    };
    merge(&mut view.attrs, &e.changes);
    view.stamp.touch(env);
    c.log_of(e.owner).touch(e.contact_id, env.offset);
}

pub(super) fn deleted(scope: &mut Scope, env: &Envelope, e: &ContactDeleted) {
    let c = &mut scope.contacts;
    let removed = match e.owner {
        ContactOwner::Business => c.business.remove(&e.contact_id),
        ContactOwner::User(u) => c.personal.get_mut(&u).and_then(|m| m.remove(&e.contact_id)),
    };
    let Some(view) = removed else {
        return;
    };
    c.owners.remove(&e.contact_id);
    c.log_of(e.owner)
        .deleted(e.contact_id, view.stamp.created_offset, env.offset);
    // Favorites of a deleted contact go with it; the deletion itself is what
    // sync clients see (through the collection's tombstone).
    match e.owner {
        ContactOwner::Business => {
            for f in c.favorites.values_mut() {
                f.business.remove(&e.contact_id);
            }
        }
        ContactOwner::User(u) => {
            if let Some(f) = c.favorites.get_mut(&u) {
                f.personal.remove(&e.contact_id);
            }
        }
    }
}

fn favorite_log(
    c: &mut Contacts,
    user: Id,
    collection: FavoriteCollection,
) -> &mut super::changes::ChangeLog {
    match collection {
        FavoriteCollection::Personal => c.changes.personal.entry(user).or_default(),
        FavoriteCollection::Business => c.changes.business_favorites.entry(user).or_default(),
        FavoriteCollection::Extension => c.changes.extension_favorites.entry(user).or_default(),
    }
}

pub(super) fn favorite_added(scope: &mut Scope, env: &Envelope, e: &FavoriteAdded) {
    let c = &mut scope.contacts;
    c.favorites
        .entry(e.user_id)
        .or_default()
        .of_mut(e.collection)
        .insert(e.item_id);
    favorite_log(c, e.user_id, e.collection).touch(e.item_id, env.offset);
}

pub(super) fn favorite_removed(scope: &mut Scope, env: &Envelope, e: &FavoriteRemoved) {
    let c = &mut scope.contacts;
    if let Some(f) = c.favorites.get_mut(&e.user_id) {
        f.of_mut(e.collection).remove(&e.item_id);
    }
    favorite_log(c, e.user_id, e.collection).touch(e.item_id, env.offset);
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
    let mut affected: Vec<Id> = Vec::new();
    match event {
        Event::UserDeleted(e) => affected.push(e.user_id),
        Event::UserLinkedToExtension(e) => affected.push(e.user_id),
        Event::UserUnlinkedFromExtension(e) => affected.push(e.user_id),
        Event::PrimaryExtensionChanged(e) => affected.push(e.user_id),
        Event::ExtensionUpdated(e) => affected.extend(
            scope
                .extensions
                .get(&e.extension_id)
                .and_then(|x| x.primary_of),
        ),
        Event::ExtensionDeleted(e) => affected.extend(
            scope
                .extensions
                .get(&e.extension_id)
                .and_then(|x| x.primary_of),
        ),
        _ => {}
    }
    Before {
        users: affected
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
pub(super) fn after(scope: &mut Scope, env: &Envelope, event: &Event, before: Before) {
    let shows = |fields: &Fields| {
        fields
            .keys()
            .any(|k| EXTENSION_CONTACT_FIELDS.contains(&k.as_str()))
    };
    match event {
        Event::UserCreated(e) => scope
            .contacts
            .changes
            .extension
            .created(e.user_id, env.offset),
        Event::UserUpdated(e) if shows(&e.changes) => scope
            .contacts
            .changes
            .extension
            .touch(e.user_id, env.offset),
        Event::UserProfileReset(e) if shows(&e.reset) => scope
            .contacts
            .changes
            .extension
            .touch(e.user_id, env.offset),
        Event::UserDeleted(e) => {
            if let Some((_, _, created)) = before.users.iter().find(|(u, _, _)| *u == e.user_id) {
                scope
                    .contacts
                    .changes
                    .extension
                    .deleted(e.user_id, *created, env.offset);
            }
            let c = &mut scope.contacts;
            if let Some(mine) = c.personal.remove(&e.user_id) {
                for id in mine.keys() {
                    c.owners.remove(id);
                }
            }
            c.favorites.remove(&e.user_id);
            for f in c.favorites.values_mut() {
                f.extension.remove(&e.user_id);
            }
            c.changes.personal.remove(&e.user_id);
            c.changes.business_favorites.remove(&e.user_id);
            c.changes.extension_favorites.remove(&e.user_id);
        }
        _ => {
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
    }
}
