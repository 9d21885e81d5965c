//! What a scheduled meeting (an item of the `meetings` collection) takes
//! from its tenant beyond its own fields, judged when it is created or
//! changed ([`crate::collections::TenantRules`] of
//! [`crate::collections::meetings::MEETINGS`]):
//!
//! - **its number**: a meeting room is dialed like a queue or a ring group,
//!   so its `extension_number` claims the tenant's shared number space
//!   (`Scope::numbers`, 409 `EXTENSION_NUMBER_IN_USE` on a clash, as for
//!   queues and ring groups). PortSIP's create body has no number: the
//!   service gives the lowest free number from [`FIRST_ROOM_NUMBER`] on; a
//!   client may name one instead (switchboard's addition), which must be
//!   free. The number is released when the meeting (or its owner) goes.
//! - **its invitees**: `internal_invitees` are ids of users of the tenant;
//!   anything else (malformed, unknown, another tenant's user) is the same
//!   400 naming the entry, so an id of another tenant reveals nothing.
//! - **its join token**: random, minted once by the pipeline before
//!   deciding ([`mint`]), kept for the meeting's life and shown only to
//!   whoever reads the meeting.

use super::users::{number_taken, ExtensionNumber};
use super::{CommandError, ConflictKind};
use crate::auth::tokens::new_token;
use switchboard_events::{Fields, Value};
use switchboard_projections::directory::Scope;

/// The first number the service gives a meeting room (rooms take six-digit
/// numbers from here on, the lowest free first).
pub const FIRST_ROOM_NUMBER: u64 = 900_000;

/// The last number the service gives a meeting room.
pub const LAST_ROOM_NUMBER: u64 = 999_999;

/// The field holding the room's number.
pub const NUMBER: &str = "extension_number";

/// The field holding the room's join token.
pub const TOKEN: &str = "token";

/// The field naming the tenant's users who are invited.
pub const INVITEES: &str = "internal_invitees";

/// Mints the join token of a new meeting (the pipeline, once, before
/// deciding; a client never sends one: the field is read-only).
pub fn mint(attrs: &mut Fields) {
    attrs
        .entry(TOKEN.to_owned())
        .or_insert_with(|| Value::Str(new_token()));
}

/// Decides a new meeting against its tenant: its invitees must be users of
/// the tenant, its token minted, and its number free (given) or allocated.
pub fn create(scope: &Scope, attrs: &mut Fields) -> Result<(), CommandError> {
    invitees(scope, attrs)?;
    if !matches!(attrs.get(TOKEN), Some(Value::Str(t)) if !t.is_empty()) {
        return Err(CommandError::Unavailable(
            "a meeting reached a decision without its token".into(),
        ));
    }
    let number = match attrs.get(NUMBER) {
        Some(Value::Str(given)) => {
            let number = ExtensionNumber::parse(given, NUMBER)?;
            if scope.numbers.contains_key(number.as_str()) {
                return Err(number_taken(&number));
            }
            number.as_str().to_owned()
        }
        _ => free_number(scope)?,
    };
    attrs.insert(NUMBER.to_owned(), Value::Str(number));
    Ok(())
}

/// Decides a meeting's changes against its tenant (its number and token
/// are read-only: only the invitees are the tenant's business).
pub fn update(scope: &Scope, changes: &Fields) -> Result<(), CommandError> {
    invitees(scope, changes)
}

/// The lowest number of the rooms' range nobody in the tenant has.
fn free_number(scope: &Scope) -> Result<String, CommandError> {
    (FIRST_ROOM_NUMBER..=LAST_ROOM_NUMBER)
        .map(|n| n.to_string())
        .find(|n| !scope.numbers.contains_key(n.as_str()))
        .ok_or_else(|| {
            CommandError::conflict(
                ConflictKind::ListFull,
                "every meeting room number of the tenant is in use",
            )
        })
}

/// Refuses invitees that are not users of the tenant (by PortSIP id).
fn invitees(scope: &Scope, fields: &Fields) -> Result<(), CommandError> {
    let Some(Value::List(list)) = fields.get(INVITEES) else {
        return Ok(());
    };
    for (i, v) in list.iter().enumerate() {
        let known = match v {
            Value::Str(s) => crate::ids::parse(s).is_some_and(|id| scope.users.contains_key(&id)),
            _ => false,
        };
        if !known {
            return Err(CommandError::invalid(
                format!("{INVITEES}[{i}]"),
                "is not the id of a user of the tenant",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::queues::tests_support as q;
    use crate::commands::testing::given_in;
    use switchboard_events::{Id, TenantId};

    const T: TenantId = Id(9);

    fn scope(events: Vec<switchboard_events::Event>) -> Scope {
        given_in(T, &events).scope(T).cloned().unwrap_or_default()
    }

    fn meeting(extra: &[(&str, Value)]) -> Fields {
        let mut f = Fields::new();
        f.insert(TOKEN.into(), Value::from("t0k3n"));
        for (k, v) in extra {
            f.insert((*k).into(), v.clone());
        }
        f
    }

    fn invitees(ids: &[String]) -> Value {
        Value::List(ids.iter().map(|s| Value::from(s.as_str())).collect())
    }

    #[test]
    fn given_a_new_meeting_when_minted_then_it_gets_a_token_once() {
        let mut f = Fields::new();
        mint(&mut f);
        let first = f.get(TOKEN).cloned();
        assert!(matches!(&first, Some(Value::Str(t)) if t.len() >= 32));
        mint(&mut f);
        assert_eq!(f.get(TOKEN).cloned(), first, "minted once");
    }

    #[test]
    fn given_taken_numbers_when_a_meeting_is_created_then_it_gets_the_lowest_free_one() {
        let s = scope(vec![]);
        let mut f = meeting(&[]);
        assert_eq!(create(&s, &mut f), Ok(()));
        assert_eq!(f.get(NUMBER), Some(&Value::from("900000")));

        let mut events = q::user(Id(1), "ann", "900000");
        events.extend(q::user(Id(10), "bob", "900001"));
        let s = scope(events);
        let mut f = meeting(&[]);
        assert_eq!(create(&s, &mut f), Ok(()));
        assert_eq!(f.get(NUMBER), Some(&Value::from("900002")));
    }

    #[test]
    fn given_a_number_when_it_is_taken_then_409_and_when_free_then_kept() {
        let s = scope(q::user(Id(1), "ann", "101"));
        let mut f = meeting(&[(NUMBER, Value::from("101"))]);
        let err = create(&s, &mut f).expect_err("taken");
        assert!(matches!(
            err,
            CommandError::Conflict(ConflictKind::ExtensionNumberInUse, _)
        ));
        let mut f = meeting(&[(NUMBER, Value::from("555"))]);
        assert_eq!(create(&s, &mut f), Ok(()));
        assert_eq!(f.get(NUMBER), Some(&Value::from("555")));
    }

    #[test]
    fn given_invitees_when_one_is_not_a_user_of_the_tenant_then_400_names_it() {
        let s = scope(q::user(Id(1), "ann", "101"));
        let ann = crate::ids::render(Id(1));
        let stranger = crate::ids::render(Id(77));
        for bad in [stranger.as_str(), "not-an-id", ""] {
            let list = invitees(&[ann.clone(), bad.to_owned()]);
            let mut f = meeting(&[(INVITEES, list.clone())]);
            let err = create(&s, &mut f).expect_err(bad);
            assert!(
                matches!(err, CommandError::Invalid { ref field, .. } if field == "internal_invitees[1]"),
                "{bad}: {err:?}"
            );
            let mut changes = Fields::new();
            changes.insert(INVITEES.into(), list);
            assert!(update(&s, &changes).is_err(), "{bad}");
        }
        let mut f = meeting(&[(INVITEES, invitees(&[ann]))]);
        assert_eq!(create(&s, &mut f), Ok(()));
        let rules = crate::collections::meetings::MEETINGS
            .tenant
            .expect("rules");
        assert!(rules.shares_with(&f, Id(1)));
        assert!(!rules.shares_with(&f, Id(2)));
    }

    #[test]
    fn given_an_invitee_when_they_change_or_delete_the_meeting_then_403_and_a_stranger_404() {
        use crate::collections::{meetings::MEETINGS, Collection};
        use crate::commands::items::{self, DeleteItem, UpdateItem};
        use crate::commands::Denial;
        use switchboard_events::domain::{ItemCreated, ItemOwner};
        let mut events = q::user(Id(1), "ann", "101");
        events.extend(q::user(Id(10), "bob", "102"));
        events.extend(q::user(Id(20), "carl", "103"));
        let bob = crate::ids::render(Id(10));
        events.push(switchboard_events::Event::ItemCreated(ItemCreated {
            item_id: Id(50),
            collection: MEETINGS.name.into(),
            owner: ItemOwner::User(Id(1)),
            attrs: meeting(&[(INVITEES, invitees(&[bob]))]),
        }));
        let s = scope(events);
        let c = Collection(&MEETINGS);
        let mut incoming = Fields::new();
        incoming.insert("subject".into(), Value::from("Mine"));
        for (who, forbidden) in [(Id(10), true), (Id(20), false)] {
            let owner = ItemOwner::User(who);
            let update = UpdateItem {
                collection: c,
                owner,
                item_id: Id(50),
                incoming: incoming.clone(),
            };
            let delete = DeleteItem {
                collection: c,
                owner,
                item_id: Id(50),
            };
            for err in [
                items::update(&s, &update).expect_err("not theirs"),
                items::delete(&s, &delete).expect_err("not theirs"),
            ] {
                match forbidden {
                    true => assert!(
                        matches!(err, CommandError::Forbidden(Denial::NotYours, _)),
                        "{err:?}"
                    ),
                    false => assert!(matches!(err, CommandError::NotFound(_)), "{err:?}"),
                }
            }
        }
        let owner = UpdateItem {
            collection: c,
            owner: ItemOwner::User(Id(1)),
            item_id: Id(50),
            incoming,
        };
        assert!(items::update(&s, &owner).is_ok(), "the owner changes it");
    }

    #[test]
    fn given_no_token_when_deciding_then_it_is_refused_as_unprepared() {
        let s = scope(vec![]);
        let mut f = Fields::new();
        assert!(matches!(
            create(&s, &mut f),
            Err(CommandError::Unavailable(_))
        ));
    }
}
