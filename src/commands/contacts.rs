//! Contact and favorite commands: CreateContact, UpdateContact,
//! DeleteContact (personal or business), Favorite and Unfavorite.

use super::prepare::NewId;
use super::{CommandError, ConflictKind, Decision, Thing};
use crate::field_tables::Table;
use switchboard_events::domain::{
    ContactCreated, ContactDeleted, ContactOwner, ContactUpdated, FavoriteAdded,
    FavoriteCollection, FavoriteRemoved,
};
use switchboard_events::{Event, Expected, Fields, Id, StreamId};
use switchboard_projections::directory::{ContactView, Scope};

/// The contact `id` of `owner`, or NotFound (another user's contact, or a
/// personal contact asked for as a business one, is just as missing).
pub fn contact(scope: &Scope, owner: ContactOwner, id: Id) -> Result<&ContactView, CommandError> {
    scope
        .contact(owner, id)
        .ok_or(CommandError::NotFound(Thing::Contact))
}

fn expect(c: &ContactView) -> (StreamId, Expected) {
    (
        StreamId::of("contact", c.id),
        Expected::Exactly(c.stamp.version),
    )
}

/// Whether a contact id is taken in the tenant.
pub fn id_taken(scope: &Scope, id: Id) -> bool {
    scope.items.is_taken(id)
}

/// Create a personal (owned by a user) or business contact.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateContact {
    /// Whose contact it is.
    pub owner: ContactOwner,
    /// New id.
    pub contact_id: NewId,
    /// Fields validated by the contact table.
    pub attrs: Fields,
}

/// Update a contact (partial).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateContact {
    /// Whose contact it is (another owner's id is not found).
    pub owner: ContactOwner,
    /// The contact.
    pub contact_id: Id,
    /// Validated incoming fields.
    pub incoming: Fields,
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

/// Decides CreateContact: `attrs` were validated by the contact table.
pub fn create(
    scope: &Scope,
    owner: ContactOwner,
    contact_id: Id,
    attrs: Fields,
) -> Result<Decision, CommandError> {
    if id_taken(scope, contact_id) {
        return Err(CommandError::conflict(
            ConflictKind::AlreadyExists,
            "contact id in use",
        ));
    }
    if let ContactOwner::User(u) = owner {
        if !scope.users.contains_key(&u) {
            return Err(CommandError::NotFound(Thing::User));
        }
    }
    Ok(Decision::events(vec![Event::ContactCreated(ContactCreated {
        contact_id,
        owner,
        attrs,
    })])
    .expect(StreamId::of("contact", contact_id), Expected::NoStream))
}

/// Decides UpdateContact: records only effective changes.
pub fn update(
    scope: &Scope,
    table: &Table,
    owner: ContactOwner,
    contact_id: Id,
    incoming: &Fields,
) -> Result<Decision, CommandError> {
    let c = contact(scope, owner, contact_id)?;
    let changes = table.diff(&c.attrs, incoming);
    if changes.is_empty() {
        return Ok(Decision::none());
    }
    let (stream, expected) = expect(c);
    Ok(Decision::events(vec![Event::ContactUpdated(ContactUpdated {
        contact_id,
        owner,
        changes,
    })])
    .expect(stream, expected))
}

/// Decides DeleteContact.
pub fn delete(
    scope: &Scope,
    owner: ContactOwner,
    contact_id: Id,
) -> Result<Decision, CommandError> {
    let c = contact(scope, owner, contact_id)?;
    let (stream, expected) = expect(c);
    Ok(Decision::events(vec![Event::ContactDeleted(ContactDeleted {
        contact_id,
        owner,
    })])
    .expect(stream, expected))
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
    use crate::commands::testing::given_in;
    use crate::field_tables::contact::CONTACT;
    use switchboard_events::domain::UserCreated;
    use switchboard_events::{TenantId, Value};

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
