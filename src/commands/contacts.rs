//! Favorites (SetFavorite) and contact lookups. Creating, changing and
//! deleting contacts are the generic item commands
//! ([`super::items`]) on the collections declared in
//! [`crate::collections::contacts`].

use super::{CommandError, Decision, Thing};
use switchboard_events::domain::{
    ContactOwner, FavoriteAdded, FavoriteCollection, FavoriteRemoved,
};
use switchboard_events::{Event, Id};
use switchboard_projections::directory::{ContactView, Scope};

/// The contact `id` of `owner`, or NotFound (another user's contact, or a
/// personal contact asked for as a business one, is just as missing).
pub fn contact(scope: &Scope, owner: ContactOwner, id: Id) -> Result<&ContactView, CommandError> {
    scope
        .contact(owner, id)
        .ok_or(CommandError::NotFound(Thing::Contact))
}

/// Whether a contact id is taken in the tenant.
pub fn id_taken(scope: &Scope, id: Id) -> bool {
    scope.items.is_taken(id)
}

/// Favorite or unfavorite an item of a collection, for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetFavorite {
    /// Whose favorite.
    pub user_id: Id,
    /// Which collection.
    pub collection: FavoriteCollection,
    /// The item (a contact, or a user for the extension directory).
    pub item: Id,
    /// Favorite (`true`) or not.
    pub on: bool,
}

/// Whether `item` exists in `collection` as `user` sees it.
pub fn visible(scope: &Scope, user: Id, collection: FavoriteCollection, item: Id) -> bool {
    match collection {
        FavoriteCollection::Personal => scope.contact(ContactOwner::User(user), item).is_some(),
        FavoriteCollection::Business => scope.contact(ContactOwner::Business, item).is_some(),
        FavoriteCollection::Extension => scope.users.contains_key(&item),
    }
}

/// Decides Favorite (`on`) or Unfavorite: the item must exist in the
/// collection for this user; setting the flag it already has records
/// nothing.
pub fn set_favorite(
    scope: &Scope,
    user: Id,
    collection: FavoriteCollection,
    item: Id,
    on: bool,
) -> Result<Decision, CommandError> {
    if !visible(scope, user, collection, item) {
        return Err(CommandError::NotFound(Thing::Contact));
    }
    if scope.contacts.is_favorite(user, collection, item) == on {
        return Ok(Decision::none());
    }
    let event = if on {
        Event::FavoriteAdded(FavoriteAdded {
            user_id: user,
            collection,
            item_id: item,
        })
    } else {
        Event::FavoriteRemoved(FavoriteRemoved {
            user_id: user,
            collection,
            item_id: item,
        })
    };
    Ok(Decision::events(vec![event]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collections::{contacts, Collection};
    use crate::commands::items::{self, CreateItem, DeleteItem, UpdateItem};
    use crate::commands::testing::given_in;
    use crate::commands::NewId;
    use crate::field_tables::contact::CONTACT;
    use switchboard_events::domain::{
        ContactCreated, ContactDeleted, ContactUpdated, ItemOwner, UserCreated,
    };
    use switchboard_events::{Expected, Fields, StreamId, TenantId, Value};

    const T: TenantId = Id(9);
    const ANN: Id = Id(100);
    const BOB: Id = Id(200);
    const C1: Id = Id(1000);

    fn user(id: Id, name: &str) -> Event {
        Event::UserCreated(UserCreated {
            user_id: id,
            name: name.into(),
            role: "StandardUser".into(),
            password_hash: "h".into(),
            attrs: Fields::new(),
        })
    }

    fn named(n: &str) -> Fields {
        let mut f = Fields::new();
        f.insert("name".into(), Value::Str(n.into()));
        f
    }

    fn created(owner: ContactOwner) -> Event {
        Event::ContactCreated(ContactCreated {
            contact_id: C1,
            owner,
            attrs: named("Carol"),
        })
    }

    fn scope(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    // Contacts are decided by the generic item commands on their declared
    // collections; these name the three decisions the contact way.
    fn list_of(owner: ContactOwner) -> (Collection, ItemOwner) {
        match owner {
            ContactOwner::Business => (Collection(&contacts::BUSINESS), ItemOwner::Tenant),
            ContactOwner::User(u) => (Collection(&contacts::PERSONAL), ItemOwner::User(u)),
        }
    }

    fn create(
        s: &Scope,
        owner: ContactOwner,
        id: Id,
        attrs: Fields,
    ) -> Result<Decision, CommandError> {
        let (collection, owner) = list_of(owner);
        items::create(
            s,
            &CreateItem {
                collection,
                owner,
                item_id: NewId::given(id),
                attrs,
            },
        )
    }

    fn update(
        s: &Scope,
        _: &crate::field_tables::Table,
        owner: ContactOwner,
        id: Id,
        incoming: &Fields,
    ) -> Result<Decision, CommandError> {
        let (collection, owner) = list_of(owner);
        items::update(
            s,
            &UpdateItem {
                collection,
                owner,
                item_id: id,
                incoming: incoming.clone(),
            },
        )
    }

    fn delete(s: &Scope, owner: ContactOwner, id: Id) -> Result<Decision, CommandError> {
        let (collection, owner) = list_of(owner);
        items::delete(
            s,
            &DeleteItem {
                collection,
                owner,
                item_id: id,
            },
        )
    }

    #[test]
    fn given_a_user_when_creating_a_personal_contact_then_it_is_created() {
        let s = scope(&[user(ANN, "ann")]);
        let d = create(&s, ContactOwner::User(ANN), C1, named("Carol")).expect("created");
        assert_eq!(d.events, vec![created(ContactOwner::User(ANN))]);
        assert_eq!(
            d.expected,
            vec![(StreamId::of("contact", C1), Expected::NoStream)]
        );
    }

    #[test]
    fn given_anns_contact_then_bob_cannot_see_update_delete_or_favorite_it() {
        let s = scope(&[
            user(ANN, "ann"),
            user(BOB, "bob"),
            created(ContactOwner::User(ANN)),
        ]);
        let bob = ContactOwner::User(BOB);
        let nf = Err(CommandError::NotFound(Thing::Contact));
        assert_eq!(update(&s, &CONTACT, bob, C1, &named("X")), nf);
        assert_eq!(delete(&s, bob, C1), nf);
        assert_eq!(delete(&s, ContactOwner::Business, C1), nf);
        assert_eq!(
            set_favorite(&s, BOB, FavoriteCollection::Personal, C1, true),
            nf
        );
    }

    #[test]
    fn given_a_contact_when_updating_then_only_changes_are_recorded() {
        let s = scope(&[created(ContactOwner::Business)]);
        let mut incoming = named("Carol");
        incoming.insert("company".into(), Value::Str("Acme".into()));
        let d = update(&s, &CONTACT, ContactOwner::Business, C1, &incoming).expect("updated");
        let mut changes = Fields::new();
        changes.insert("company".into(), Value::Str("Acme".into()));
        assert_eq!(
            d.events,
            vec![Event::ContactUpdated(ContactUpdated {
                contact_id: C1,
                owner: ContactOwner::Business,
                changes
            })]
        );
        assert_eq!(
            update(&s, &CONTACT, ContactOwner::Business, C1, &named("Carol")),
            Ok(Decision::none())
        );
    }

    #[test]
    fn given_a_favorite_when_favoriting_again_then_nothing_and_unfavorite_removes() {
        let fav = Event::FavoriteAdded(FavoriteAdded {
            user_id: ANN,
            collection: FavoriteCollection::Business,
            item_id: C1,
        });
        let s = scope(&[
            user(ANN, "ann"),
            created(ContactOwner::Business),
            fav.clone(),
        ]);
        assert_eq!(
            set_favorite(&s, ANN, FavoriteCollection::Business, C1, true),
            Ok(Decision::none())
        );
        assert!(!s
            .contacts
            .is_favorite(BOB, FavoriteCollection::Business, C1));
        let d = set_favorite(&s, ANN, FavoriteCollection::Business, C1, false).expect("ok");
        assert_eq!(
            d.events,
            vec![Event::FavoriteRemoved(FavoriteRemoved {
                user_id: ANN,
                collection: FavoriteCollection::Business,
                item_id: C1
            })]
        );
        // Extension contacts are users.
        assert!(set_favorite(&s, ANN, FavoriteCollection::Extension, ANN, true).is_ok());
        assert!(set_favorite(&s, ANN, FavoriteCollection::Extension, C1, true).is_err());
    }

    #[test]
    fn given_a_deleted_business_contact_then_favorites_of_it_are_gone() {
        let fav = Event::FavoriteAdded(FavoriteAdded {
            user_id: ANN,
            collection: FavoriteCollection::Business,
            item_id: C1,
        });
        let del = Event::ContactDeleted(ContactDeleted {
            contact_id: C1,
            owner: ContactOwner::Business,
        });
        let s = scope(&[user(ANN, "ann"), created(ContactOwner::Business), fav, del]);
        assert!(!s
            .contacts
            .is_favorite(ANN, FavoriteCollection::Business, C1));
        assert!(!s.items.is_taken(C1));
    }
}
