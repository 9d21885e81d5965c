//! Items of declared collections (a user's phones, speed dials, personal
//! contacts...; a tenant's business contacts, holidays...): one projection
//! shape for every such list, per tenant.
//!
//! A collection is a name; its items are field sets, each in one owner's
//! list (the tenant's, or one user's). Item ids are unique among a tenant's
//! items (of every collection). Every list keeps the sync change index of
//! its items ([`ChangeLog`]), so any collection can serve sync tokens.
//!
//! `ItemCreated/Updated/Deleted` name their collection. Contacts predate
//! them: `ContactCreated/Updated/Deleted` are filed under [`PERSONAL_CONTACTS`]
//! (a user's) and [`BUSINESS_CONTACTS`] (the tenant's).

use super::changes::ChangeLog;
use super::Stamp;
use crate::pmap::{PMap, POrdMap};
use switchboard_events::attrs::Name;
use switchboard_events::domain::{ContactOwner, ItemOwner};
use switchboard_events::{Attrs, EnvelopeRef, Fields, Id};

/// The collection personal contacts are filed under.
pub const PERSONAL_CONTACTS: &str = "contacts";

/// The collection business contacts are filed under.
pub const BUSINESS_CONTACTS: &str = "business_contacts";

/// The collection a tenant's callers waiting in its call queues are filed
/// under (the PBX reports each caller in and out).
pub const QUEUE_WAITING: &str = "queue_waiting";

/// The collection agents' requests to pick up a waiting call are filed under.
pub const QUEUE_PICKUPS: &str = "queue_pickups";

/// The collection a user's scheduled meetings are filed under.
pub const MEETINGS: &str = "meetings";

/// The collection and owner a contact event's owner stands for.
pub fn contact_list(owner: ContactOwner) -> (&'static str, ItemOwner) {
    match owner {
        ContactOwner::Business => (BUSINESS_CONTACTS, ItemOwner::Tenant),
        ContactOwner::User(u) => (PERSONAL_CONTACTS, ItemOwner::User(u)),
    }
}

/// One item.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemView {
    /// Id (unique among the tenant's items).
    pub id: Id,
    /// Whose list it is in.
    pub owner: ItemOwner,
    /// The fields that are set.
    pub attrs: Attrs,
    /// Bookkeeping (the version is the item's stream's).
    pub stamp: Stamp,
}

/// One owner's list of one collection.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ItemList {
    /// Items by id.
    pub items: PMap<Id, ItemView>,
    /// The sync change index of the list.
    pub changes: ChangeLog,
}

/// A collection's lists: the tenant's and each user's.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Lists {
    /// The tenant's list.
    pub tenant: ItemList,
    /// Each user's list.
    pub users: POrdMap<Id, ItemList>,
}

impl Lists {
    fn of(&self, owner: ItemOwner) -> Option<&ItemList> {
        match owner {
            ItemOwner::Tenant => Some(&self.tenant),
            ItemOwner::User(u) => self.users.get(&u),
        }
    }

    fn of_mut(&mut self, owner: ItemOwner) -> &mut ItemList {
        match owner {
            ItemOwner::Tenant => &mut self.tenant,
            ItemOwner::User(u) => self.users.entry(u).or_default(),
        }
    }
}

/// Every item of a tenant.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Items {
    /// Collection name → its lists.
    pub collections: PMap<String, Lists>,
    /// Every live item id → its collection and owner.
    pub owners: POrdMap<Id, (Name, ItemOwner)>,
}

impl Items {
    /// The list of `owner` in `collection`, if it ever had an item.
    pub fn list(&self, collection: &str, owner: ItemOwner) -> Option<&ItemList> {
        self.collections.get(collection)?.of(owner)
    }

    /// Item `id` of `owner`'s list in `collection` (another list's item is
    /// just as missing).
    pub fn get(&self, collection: &str, owner: ItemOwner, id: Id) -> Option<&ItemView> {
        self.list(collection, owner)?.items.get(&id)
    }

    /// The items of `owner`'s list in `collection`, by id.
    pub fn items<'a>(
        &'a self,
        collection: &str,
        owner: ItemOwner,
    ) -> impl DoubleEndedIterator<Item = &'a ItemView> + 'a {
        self.list(collection, owner)
            .into_iter()
            .flat_map(|l| l.items.values())
    }

    /// How many items `owner`'s list in `collection` holds.
    pub fn count(&self, collection: &str, owner: ItemOwner) -> usize {
        self.list(collection, owner).map_or(0, |l| l.items.len())
    }

    /// Whether an item id is taken in the tenant.
    pub fn is_taken(&self, id: Id) -> bool {
        self.owners.contains_key(&id)
    }

    /// Every list that has (or had) items: `(collection, owner)`.
    pub fn lists(&self) -> Vec<(&str, ItemOwner)> {
        let mut out = Vec::new();
        for (name, lists) in self.collections.iter() {
            out.push((name.as_str(), ItemOwner::Tenant));
            out.extend(
                lists
                    .users
                    .keys()
                    .map(|u| (name.as_str(), ItemOwner::User(*u))),
            );
        }
        out
    }

    fn list_mut(&mut self, collection: &str, owner: ItemOwner) -> &mut ItemList {
        self.collections
            .get_or_insert_with(collection.to_owned(), Lists::default)
            .of_mut(owner)
    }

    /// Applies an item's creation.
    pub(super) fn created(
        &mut self,
        env: &EnvelopeRef<'_>,
        collection: &str,
        owner: ItemOwner,
        id: Id,
        attrs: &Fields,
    ) {
        let view = ItemView {
            id,
            owner,
            attrs: Attrs::from(attrs),
            stamp: Stamp::new(env),
        };
        let list = self.list_mut(collection, owner);
        list.items.insert(id, view);
        list.changes.created(id, env.offset);
        self.owners.insert(id, (Name::intern(collection), owner));
    }

    /// Applies a change of an item's fields.
    pub(super) fn updated(
        &mut self,
        env: &EnvelopeRef<'_>,
        collection: &str,
        owner: ItemOwner,
        id: Id,
        changes: &Fields,
    ) {
        if self.get(collection, owner, id).is_none() {
            return;
        }
        let list = self.list_mut(collection, owner);
        if let Some(view) = list.items.get_mut(&id) {
            view.attrs.merge(changes);
            view.stamp.touch(env);
        }
        list.changes.touch(id, env.offset);
    }

    /// Applies an item's deletion; returns the item as it was.
    pub(super) fn deleted(
        &mut self,
        env: &EnvelopeRef<'_>,
        collection: &str,
        owner: ItemOwner,
        id: Id,
        retention: u64,
    ) -> Option<ItemView> {
        self.get(collection, owner, id)?;
        let list = self.list_mut(collection, owner);
        let view = list.items.remove(&id)?;
        list.changes.deleted(
            id,
            view.stamp.created_offset,
            env.offset,
            env.recorded_at.unix_timestamp(),
            retention,
        );
        self.owners.remove(&id);
        Some(view)
    }

    /// Records that `id` changed as `owner`'s list shows it (a favorite
    /// flag flipped) without changing the item.
    pub(super) fn touch(&mut self, collection: &str, owner: ItemOwner, id: Id, offset: u64) {
        self.list_mut(collection, owner).changes.touch(id, offset);
    }

    /// Drops every list a deleted user owned.
    pub(super) fn user_deleted(&mut self, user: Id) {
        let names: Vec<String> = self
            .collections
            .iter()
            .filter(|(_, l)| l.users.contains_key(&user))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(lists) = self.collections.get_mut(name.as_str()) else {
                continue;
            };
            if let Some(mine) = lists.users.remove(&user) {
                for id in mine.items.keys() {
                    self.owners.remove(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::{Envelope, Metadata, StreamId, Value, ValueRef};

    fn env(offset: u64) -> Envelope {
        Envelope {
            offset,
            stream: StreamId::of("item", Id(1)),
            stream_version: offset,
            tenant: Id(3),
            event_type: "ItemCreated".into(),
            schema_version: 1,
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            metadata: Metadata::system("test"),
            payload: vec![],
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn named(n: &str) -> Fields {
        let mut f = Fields::new();
        f.insert("name".into(), Value::from(n));
        f
    }

    #[test]
    fn items_live_in_their_owners_list_and_go_with_their_user() {
        let mut items = Items::default();
        let ann = ItemOwner::User(Id(10));
        items.created(&env(1).view(), "phones", ann, Id(1), &named("desk"));
        items.created(
            &env(2).view(),
            "phones",
            ItemOwner::Tenant,
            Id(2),
            &named("lobby"),
        );
        items.created(&env(3).view(), "holidays", ann, Id(3), &named("new year"));
        assert!(items.get("phones", ann, Id(1)).is_some());
        assert!(items
            .get("phones", ItemOwner::User(Id(11)), Id(1))
            .is_none());
        assert!(
            items.get("holidays", ann, Id(1)).is_none(),
            "another collection"
        );
        assert_eq!(items.count("phones", ann), 1);
        items.updated(&env(4).view(), "phones", ann, Id(1), &named("office"));
        let p = items.get("phones", ann, Id(1)).expect("phone");
        assert_eq!(p.attrs.get("name"), Some(ValueRef::Str("office")));
        assert_eq!(p.stamp.updated_offset, 4);
        // Another owner's update changes nothing.
        items.updated(
            &env(5).view(),
            "phones",
            ItemOwner::Tenant,
            Id(1),
            &named("x"),
        );
        assert_eq!(
            items
                .get("phones", ann, Id(1))
                .expect("phone")
                .stamp
                .updated_offset,
            4
        );
        items.user_deleted(Id(10));
        assert!(items.get("phones", ann, Id(1)).is_none());
        assert!(!items.is_taken(Id(3)));
        assert!(items.is_taken(Id(2)), "the tenant's item stays");
        assert!(items
            .deleted(&env(6).view(), "phones", ItemOwner::Tenant, Id(2), 0)
            .is_some());
        assert!(!items.is_taken(Id(2)));
        assert!(items
            .list("phones", ItemOwner::Tenant)
            .expect("list")
            .changes
            .tombstone(Id(2))
            .is_some());
    }

    #[test]
    fn contacts_are_filed_under_their_two_collections() {
        assert_eq!(
            contact_list(ContactOwner::Business),
            (BUSINESS_CONTACTS, ItemOwner::Tenant)
        );
        assert_eq!(
            contact_list(ContactOwner::User(Id(4))),
            (PERSONAL_CONTACTS, ItemOwner::User(Id(4)))
        );
    }
}
