//! CreateItem, UpdateItem, DeleteItem: one command family for every
//! declared collection ([`crate::collections`]). The collection's field
//! table has validated the fields (when the request was parsed); the
//! decisions judge what the declaration adds (the owner exists, the list
//! is not full, unique fields stay unique, the cross-field check holds)
//! and record the change as the collection records its facts.

use super::prepare::NewId;
use super::{CommandError, ConflictKind, Decision, Denial, Thing};
use crate::collections::{Collection, Recording};
use switchboard_events::domain::{
    ContactCreated, ContactDeleted, ContactOwner, ContactUpdated, ItemCreated, ItemDeleted,
    ItemOwner, ItemUpdated,
};
use switchboard_events::{Event, Expected, Fields, Id};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::Scope;

/// Create an item in `owner`'s list of `collection`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateItem {
    /// The collection.
    pub collection: Collection,
    /// Whose list.
    pub owner: ItemOwner,
    /// The new item's id.
    pub item_id: NewId,
    /// Fields validated by the collection's table.
    pub attrs: Fields,
}

/// Change an item (partial: absent fields keep their value; `null` resets
/// one to its default).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateItem {
    /// The collection.
    pub collection: Collection,
    /// Whose list (another list's item is not found).
    pub owner: ItemOwner,
    /// The item.
    pub item_id: Id,
    /// Validated incoming fields.
    pub incoming: Fields,
}

/// Delete an item.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteItem {
    /// The collection.
    pub collection: Collection,
    /// Whose list.
    pub owner: ItemOwner,
    /// The item.
    pub item_id: Id,
}

/// The item `id` of `owner`'s list, or NotFound (named by the collection's noun).
pub fn item(
    scope: &Scope,
    c: Collection,
    owner: ItemOwner,
    id: Id,
) -> Result<&ItemView, CommandError> {
    scope
        .items
        .get(c.name, owner, id)
        .ok_or(CommandError::NotFound(thing(c)))
}

/// The item `id` of `owner`'s list, to change it. An item of a shared
/// collection that names the owner (a meeting they are invited to) is
/// theirs to read, not to change: 403; any other is NotFound.
fn own_item(
    scope: &Scope,
    c: Collection,
    owner: ItemOwner,
    id: Id,
) -> Result<&ItemView, CommandError> {
    item(scope, c, owner, id).map_err(|missing| {
        let shared = match (c.tenant, owner, scope.items.owners.get(&id)) {
            (Some(t), ItemOwner::User(u), Some((name, holder))) if name == c.name => scope
                .items
                .get(c.name, *holder, id)
                .is_some_and(|it| t.shares_with(&it.attrs, u)),
            _ => false,
        };
        match shared {
            true => CommandError::forbidden(
                Denial::NotYours,
                format!("only its owner changes a {}", c.noun),
            ),
            false => missing,
        }
    })
}

fn thing(c: Collection) -> Thing {
    match c.recording {
        Recording::Contacts => Thing::Contact,
        Recording::Items => Thing::Item(c.noun),
    }
}

/// The contact owner an item owner stands for.
fn contact_owner(owner: ItemOwner) -> ContactOwner {
    match owner {
        ItemOwner::Tenant => ContactOwner::Business,
        ItemOwner::User(u) => ContactOwner::User(u),
    }
}

/// Refuses an item whose effective fields (`attrs` over defaults) break
/// the collection's rules: its check, and unique fields among the other
/// items of the list.
fn rules(
    scope: &Scope,
    c: Collection,
    owner: ItemOwner,
    id: Id,
    attrs: &Fields,
) -> Result<(), CommandError> {
    if let Some(check) = c.check {
        check(c.table, attrs).map_err(|e| CommandError::invalid(e.field, e.message))?;
    }
    for field in c.unique {
        let mine = c.table.effective(attrs, field);
        let taken = scope
            .items
            .items(c.name, owner)
            .any(|other| other.id != id && c.table.effective(&other.attrs, field) == mine);
        if taken {
            return Err(CommandError::conflict(
                ConflictKind::AlreadyExists,
                format!("another {} has this {field}", c.noun),
            ));
        }
    }
    Ok(())
}

/// Decides CreateItem: a user's list needs the user; the list must have
/// room; the tenant's rules (if the collection has some: they may complete
/// the item, e.g. allocate its number) and the collection's must hold.
pub fn create(scope: &Scope, cmd: &CreateItem) -> Result<Decision, CommandError> {
    let c = cmd.collection;
    let id = cmd.item_id.get()?;
    if scope.items.is_taken(id) {
        return Err(CommandError::conflict(
            ConflictKind::AlreadyExists,
            format!("{} id in use", c.noun),
        ));
    }
    if let ItemOwner::User(u) = cmd.owner {
        super::users::user(scope, u)?;
    }
    if scope.items.count(c.name, cmd.owner) >= c.max_items {
        return Err(CommandError::conflict(
            ConflictKind::ListFull,
            format!("a list holds at most {} {}s", c.max_items, c.noun),
        ));
    }
    let mut attrs = cmd.attrs.clone();
    if let Some(t) = c.tenant {
        (t.create)(scope, &mut attrs)?;
    }
    rules(scope, c, cmd.owner, id, &attrs)?;
    let event = match c.recording {
        Recording::Items => Event::ItemCreated(ItemCreated {
            item_id: id,
            collection: c.name.to_owned(),
            owner: cmd.owner,
            attrs,
        }),
        Recording::Contacts => Event::ContactCreated(ContactCreated {
            contact_id: id,
            owner: contact_owner(cmd.owner),
            attrs,
        }),
    };
    let stream = event.stream();
    Ok(Decision::events(vec![event]).expect(stream, Expected::NoStream))
}

/// Decides UpdateItem: records only effective changes; the item as it
/// would be must keep the rules.
pub fn update(scope: &Scope, cmd: &UpdateItem) -> Result<Decision, CommandError> {
    let c = cmd.collection;
    let it = own_item(scope, c, cmd.owner, cmd.item_id)?;
    let changes = c.table.diff(&it.attrs, &cmd.incoming);
    if changes.is_empty() {
        return Ok(Decision::none());
    }
    if let Some(t) = c.tenant {
        (t.update)(scope, &changes)?;
    }
    let mut after = it.attrs.clone();
    after.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
    rules(scope, c, cmd.owner, it.id, &after)?;
    let event = match c.recording {
        Recording::Items => Event::ItemUpdated(ItemUpdated {
            item_id: it.id,
            collection: c.name.to_owned(),
            owner: cmd.owner,
            changes,
        }),
        Recording::Contacts => Event::ContactUpdated(ContactUpdated {
            contact_id: it.id,
            owner: contact_owner(cmd.owner),
            changes,
        }),
    };
    let stream = event.stream();
    Ok(Decision::events(vec![event]).expect(stream, Expected::Exactly(it.stamp.version)))
}

/// Decides DeleteItem.
pub fn delete(scope: &Scope, cmd: &DeleteItem) -> Result<Decision, CommandError> {
    let c = cmd.collection;
    let it = own_item(scope, c, cmd.owner, cmd.item_id)?;
    let event = match c.recording {
        Recording::Items => Event::ItemDeleted(ItemDeleted {
            item_id: it.id,
            collection: c.name.to_owned(),
            owner: cmd.owner,
        }),
        Recording::Contacts => Event::ContactDeleted(ContactDeleted {
            contact_id: it.id,
            owner: contact_owner(cmd.owner),
        }),
    };
    let stream = event.stream();
    Ok(Decision::events(vec![event]).expect(stream, Expected::Exactly(it.stamp.version)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collections::{CollectionSpec, Listing, OwnedBy, Routing, UserRoutes};
    use crate::commands::testing::given_in;
    use crate::field_tables::{Field, FieldError, Kind, ListType, Table};
    use switchboard_events::{StreamId, TenantId, Value};
    use switchboard_projections::query::Dir;

    const T: TenantId = Id(9);
    const ANN: Id = Id(100);

    /// A test collection: speed dials with a unique one-digit `code`, at
    /// most three per user, and a number that must differ from the code.
    static DIALS_TABLE: Table = Table {
        resource: "dial",
        fields: &[
            Field::new("code", Kind::Str { min: 1, max: 1 }).required(),
            Field::new("phone_number", Kind::Str { min: 1, max: 64 }).required(),
        ],
    };

    fn distinct(t: &Table, attrs: &Fields) -> Result<(), FieldError> {
        if t.effective(attrs, "code") == t.effective(attrs, "phone_number") {
            return Err(FieldError::new("phone_number", "must not be the code"));
        }
        Ok(())
    }

    static DIALS: CollectionSpec = CollectionSpec {
        name: "test_dials",
        noun: "speed dial",
        schema: "TestDial",
        owned_by: OwnedBy::User,
        table: &DIALS_TABLE,
        skip: &["id"],
        refused: &[],
        unique: &["code"],
        max_items: 3,
        check: Some(distinct),
        tenant: None,
        listing: Listing {
            core: &[("id", ListType::String)],
            search: &[],
            default_order: &[("code", Dir::Asc)],
            ordered: &[],
            eq: &[],
        },
        favorites: None,
        recording: Recording::Items,
        routing: Routing::User(UserRoutes {
            path: "test_dials",
            admin: None,
        }),
    };

    fn ann() -> Event {
        crate::commands::testing::user_created(ANN, "ann")
    }

    fn dial(code: &str, number: &str) -> Fields {
        let mut f = Fields::new();
        f.insert("code".into(), Value::from(code));
        f.insert("phone_number".into(), Value::from(number));
        f
    }

    fn create_cmd(id: u64, owner: ItemOwner, attrs: Fields) -> CreateItem {
        CreateItem {
            collection: Collection(&DIALS),
            owner,
            item_id: NewId::given(Id(id)),
            attrs,
        }
    }

    fn conflict(r: Result<Decision, CommandError>) -> ConflictKind {
        match r {
            Err(CommandError::Conflict(k, _)) => k,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn given_a_user_when_creating_items_then_unique_fields_checks_and_the_limit_hold() {
        let mine = ItemOwner::User(ANN);
        let mut events = vec![ann()];
        let d = create(
            &given_in(T, &events).scope_or_empty(T).clone(),
            &create_cmd(1, mine, dial("2", "555")),
        )
        .expect("created");
        assert_eq!(
            d.expected,
            vec![(StreamId::of("item", Id(1)), Expected::NoStream)]
        );
        events.extend(d.events);
        let s = given_in(T, &events).scope_or_empty(T).clone();
        assert_eq!(s.items.count("test_dials", mine), 1);
        // The same code again: taken; the code as its own number: refused.
        assert_eq!(
            conflict(create(&s, &create_cmd(2, mine, dial("2", "556")))),
            ConflictKind::AlreadyExists
        );
        assert!(matches!(
            create(&s, &create_cmd(2, mine, dial("3", "3"))),
            Err(CommandError::Invalid { ref field, .. }) if field == "phone_number"
        ));
        // Another user's list is another list; no such user: not found.
        assert_eq!(
            create(&s, &create_cmd(2, ItemOwner::User(Id(5)), dial("2", "1"))),
            Err(CommandError::NotFound(Thing::User))
        );
        for (id, code) in [(2, "3"), (3, "4")] {
            let s = given_in(T, &events).scope_or_empty(T).clone();
            events.extend(
                create(&s, &create_cmd(id, mine, dial(code, "9")))
                    .expect("room")
                    .events,
            );
        }
        let s = given_in(T, &events).scope_or_empty(T).clone();
        assert_eq!(
            conflict(create(&s, &create_cmd(4, mine, dial("5", "9")))),
            ConflictKind::ListFull
        );
        assert_eq!(
            conflict(create(&s, &create_cmd(1, mine, dial("6", "9")))),
            ConflictKind::AlreadyExists,
            "an id in use"
        );
    }

    #[test]
    fn given_an_item_when_updating_then_only_changes_are_recorded_and_the_rules_hold() {
        let mine = ItemOwner::User(ANN);
        let mut events = vec![ann()];
        for (id, code) in [(1, "2"), (2, "3")] {
            let s = given_in(T, &events).scope_or_empty(T).clone();
            events.extend(
                create(&s, &create_cmd(id, mine, dial(code, "555")))
                    .expect("c")
                    .events,
            );
        }
        let s = given_in(T, &events).scope_or_empty(T).clone();
        let update = |id: u64, owner, attrs| UpdateItem {
            collection: Collection(&DIALS),
            owner,
            item_id: Id(id),
            incoming: attrs,
        };
        let mut number = Fields::new();
        number.insert("phone_number".into(), Value::from("777"));
        let d = super::update(&s, &update(1, mine, number.clone())).expect("updated");
        assert_eq!(
            d.events,
            vec![Event::ItemUpdated(ItemUpdated {
                item_id: Id(1),
                collection: "test_dials".into(),
                owner: mine,
                changes: number.clone(),
            })]
        );
        assert_eq!(
            d.expected,
            vec![(StreamId::of("item", Id(1)), Expected::Exactly(1))]
        );
        let same = dial("2", "555");
        assert_eq!(
            super::update(&s, &update(1, mine, same)),
            Ok(Decision::none())
        );
        let mut code = Fields::new();
        code.insert("code".into(), Value::from("3"));
        assert_eq!(
            conflict(super::update(&s, &update(1, mine, code))),
            ConflictKind::AlreadyExists,
            "item 2 has code 3"
        );
        assert_eq!(
            super::update(&s, &update(1, ItemOwner::User(Id(5)), number)),
            Err(CommandError::NotFound(Thing::Item("speed dial"))),
            "another user's item is not found"
        );
        let gone = DeleteItem {
            collection: Collection(&DIALS),
            owner: mine,
            item_id: Id(2),
        };
        let d = delete(&s, &gone).expect("deleted");
        assert!(matches!(d.events[0], Event::ItemDeleted(_)));
        let s = given_in(T, &[events, d.events].concat())
            .scope_or_empty(T)
            .clone();
        assert_eq!(s.items.count("test_dials", mine), 1);
        assert_eq!(
            delete(&s, &gone),
            Err(CommandError::NotFound(Thing::Item("speed dial")))
        );
    }

    #[test]
    fn contacts_are_recorded_as_they_always_were() {
        let s = given_in(T, &[ann()]).scope_or_empty(T).clone();
        let mut name = Fields::new();
        name.insert("name".into(), Value::from("Carol"));
        for (spec, owner, want) in [
            (
                &crate::collections::contacts::PERSONAL,
                ItemOwner::User(ANN),
                ContactOwner::User(ANN),
            ),
            (
                &crate::collections::contacts::BUSINESS,
                ItemOwner::Tenant,
                ContactOwner::Business,
            ),
        ] {
            let cmd = CreateItem {
                collection: Collection(spec),
                owner,
                item_id: NewId::given(Id(7)),
                attrs: name.clone(),
            };
            let d = create(&s, &cmd).expect("created");
            assert_eq!(
                d.events,
                vec![Event::ContactCreated(ContactCreated {
                    contact_id: Id(7),
                    owner: want,
                    attrs: name.clone(),
                })]
            );
            assert_eq!(
                d.expected,
                vec![(StreamId::of("contact", Id(7)), Expected::NoStream)]
            );
        }
    }
}
