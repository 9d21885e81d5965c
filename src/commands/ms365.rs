//! BindMs365 / UnbindMs365: the Microsoft 365 binding of a user (issue
//! #16). `POST /users/{id}/ms365_binding {id}` records which Microsoft 365
//! account (its object id, a GUID, or its user principal name) the user is;
//! nothing is called. The tenant must have the integration enabled: the
//! tenant setting `enable_ms365_integration` (see ARCHITECTURE, "Microsoft
//! 365 binding"). The binding is one item of the user's `ms365_binding`
//! list, with the item events (history, audit, `as_of`, replay, snapshots).

use super::prepare::NewId;
use super::{CommandError, ConflictKind, Decision, Thing};
use switchboard_events::domain::{ItemCreated, ItemDeleted, ItemOwner, ItemUpdated};
use switchboard_events::{Attrs, Event, Expected, FieldSet, Fields, Id, StreamId, Value};
use switchboard_projections::directory::Scope;

/// The list a user's binding is the one item of.
pub const BINDINGS: &str = "ms365_binding";
/// The tenant setting that enables the integration.
pub const INTEGRATION_SETTING: &str = "enable_ms365_integration";

/// The longest user principal name Microsoft 365 accepts.
pub const UPN_MAX: usize = 113;

/// What a binding names: the account's object id or principal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ms365Account {
    /// An object id (`OID`), a GUID, kept in lower case.
    ObjectId(String),
    /// A user principal name (`ann@contoso.com`), as sent.
    PrincipalName(String),
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Decides a binding: the tenant's integration is enabled (else 409
/// `INTEGRATION_DISABLED`), and `id` is a GUID or a principal name (else
/// 400 naming `id`).
pub fn bind(integration_enabled: bool, id: &str) -> Result<Ms365Account, CommandError> {
    if !integration_enabled {
        return Err(CommandError::conflict(
            ConflictKind::IntegrationDisabled,
            "the tenant's Microsoft 365 integration is not enabled",
        ));
    }
    if is_guid(id) {
        return Ok(Ms365Account::ObjectId(id.to_ascii_lowercase()));
    }
    let upn = match id.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && id.chars().count() <= UPN_MAX
                && !id.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if upn {
        Ok(Ms365Account::PrincipalName(id.to_owned()))
    } else {
        Err(CommandError::invalid(
            "id",
            "must be a Microsoft 365 object id (GUID) or user principal name",
        ))
    }
}

impl Ms365Account {
    /// The stored attributes: `object_id` or `principal_name`.
    fn attrs(&self) -> Fields {
        match self {
            Ms365Account::ObjectId(id) => {
                Fields::from([("object_id".to_owned(), Value::from(id.as_str()))])
            }
            Ms365Account::PrincipalName(n) => {
                Fields::from([("principal_name".to_owned(), Value::from(n.as_str()))])
            }
        }
    }

    /// Whether a stored binding names the same account (principal names
    /// compare without case, as Microsoft 365 compares them).
    fn same(&self, attrs: &(impl FieldSet + ?Sized)) -> bool {
        let text = |k: &str| attrs.get(k).and_then(|v| v.as_str());
        match self {
            Ms365Account::ObjectId(id) => text("object_id") == Some(id.as_str()),
            Ms365Account::PrincipalName(n) => {
                text("principal_name").is_some_and(|t| t.eq_ignore_ascii_case(n))
            }
        }
    }
}

/// Bind user `user_id` to a Microsoft 365 account.
#[derive(Debug, Clone, PartialEq)]
pub struct BindMs365 {
    /// The user.
    pub user_id: Id,
    /// The binding's id, if the user has none yet (an item id).
    pub binding_id: NewId,
    /// The account's object id or principal name, as sent.
    pub account: String,
}

fn stream(id: Id) -> StreamId {
    StreamId::of("item", id)
}

/// Decides BindMs365: the user exists, the tenant's integration is
/// enabled, the account is an object id or principal name and no other
/// user of the tenant is bound to it (409 `ALREADY_EXISTS`). A first
/// binding creates the item, another account replaces it, the same one
/// records nothing.
pub fn bind_user(
    s: &Scope,
    integration_enabled: bool,
    cmd: &BindMs365,
) -> Result<Decision, CommandError> {
    if !s.users.contains_key(&cmd.user_id) {
        return Err(CommandError::NotFound(Thing::User));
    }
    let account = bind(integration_enabled, &cmd.account)?;
    let owner = ItemOwner::User(cmd.user_id);
    let taken = s
        .items
        .collections
        .get(BINDINGS)
        .into_iter()
        .flat_map(|l| l.users.iter())
        .filter(|(user, _)| **user != cmd.user_id)
        .any(|(_, list)| list.items.values().any(|b| account.same(&b.attrs)));
    if taken {
        return Err(CommandError::conflict(
            ConflictKind::AlreadyExists,
            "another user is bound to this Microsoft 365 account",
        ));
    }
    let attrs = account.attrs();
    let (event, expected) = match s.items.items(BINDINGS, owner).next() {
        Some(it) if account.same(&it.attrs) => return Ok(Decision::none()),
        Some(it) => {
            // Replacing an object id by a principal name clears the other key.
            let mut changes = attrs.clone();
            for k in it.attrs.keys().filter(|k| !attrs.contains_key(*k)) {
                changes.insert(k.to_owned(), Value::Null);
            }
            (
                Event::ItemUpdated(ItemUpdated {
                    item_id: it.id,
                    collection: BINDINGS.to_owned(),
                    owner,
                    changes,
                }),
                (stream(it.id), Expected::Exactly(it.stamp.version)),
            )
        }
        None => {
            let id = cmd.binding_id.get()?;
            (
                Event::ItemCreated(ItemCreated {
                    item_id: id,
                    collection: BINDINGS.to_owned(),
                    owner,
                    attrs,
                }),
                (stream(id), Expected::NoStream),
            )
        }
    };
    Ok(Decision::events(vec![event]).expect(expected.0, expected.1))
}

/// Decides UnbindMs365: the user exists and is bound (else 404); the
/// binding is deleted whether or not the integration is still enabled (an
/// administrator who turned it off can still clean up).
pub fn unbind_user(s: &Scope, user_id: Id) -> Result<Decision, CommandError> {
    if !s.users.contains_key(&user_id) {
        return Err(CommandError::NotFound(Thing::User));
    }
    let owner = ItemOwner::User(user_id);
    let it = s
        .items
        .items(BINDINGS, owner)
        .next()
        .ok_or(CommandError::NotFound(Thing::Item("Microsoft 365 binding")))?;
    Ok(Decision::events(vec![Event::ItemDeleted(ItemDeleted {
        item_id: it.id,
        collection: BINDINGS.to_owned(),
        owner,
    })])
    .expect(stream(it.id), Expected::Exactly(it.stamp.version)))
}

/// The account user `user_id` is bound to, if any (`object_id` or
/// `principal_name` attributes).
pub fn binding_of(s: &Scope, user_id: Id) -> Option<&Attrs> {
    s.items
        .items(BINDINGS, ItemOwner::User(user_id))
        .next()
        .map(|it| &it.attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::given_in;
    use switchboard_events::TenantId;

    const T: TenantId = Id(9);

    fn user(id: u64) -> Event {
        crate::commands::testing::user_created(Id(id), &format!("u{id}"))
    }

    fn cmd(user: u64, binding: u64, account: &str) -> BindMs365 {
        BindMs365 {
            user_id: Id(user),
            binding_id: NewId::given(Id(binding)),
            account: account.into(),
        }
    }

    fn then(events: &mut Vec<Event>, c: &BindMs365) -> Result<(), CommandError> {
        let d = bind_user(given_in(T, events).scope_or_empty(T), true, c)?;
        events.extend(d.events);
        Ok(())
    }

    #[test]
    fn given_a_user_when_bound_then_rebound_then_the_item_follows() {
        let mut events = vec![user(1)];
        then(&mut events, &cmd(1, 50, "ann@contoso.com")).expect("bound");
        let dir = given_in(T, &events);
        assert_eq!(
            binding_of(dir.scope_or_empty(T), Id(1)).and_then(|a| a.get("principal_name")),
            Some(switchboard_events::ValueRef::Str("ann@contoso.com"))
        );
        // The same account (another case): nothing recorded.
        let same = bind_user(dir.scope_or_empty(T), true, &cmd(1, 51, "ANN@contoso.com"));
        assert!(same.expect("same").is_empty());
        // Another account replaces the first; the old key is cleared.
        then(
            &mut events,
            &cmd(1, 51, "6f1c2a3b-1234-4abc-9def-0123456789ab"),
        )
        .expect("rebound");
        let dir = given_in(T, &events);
        let attrs = binding_of(dir.scope_or_empty(T), Id(1))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            attrs,
            Fields::from([(
                "object_id".to_owned(),
                Value::from("6f1c2a3b-1234-4abc-9def-0123456789ab")
            )])
        );
        // Unbound: gone; unbinding again is 404.
        let d = unbind_user(dir.scope_or_empty(T), Id(1)).expect("unbound");
        events.extend(d.events);
        let dir = given_in(T, &events);
        assert_eq!(binding_of(dir.scope_or_empty(T), Id(1)), None);
        assert!(matches!(
            unbind_user(dir.scope_or_empty(T), Id(1)),
            Err(CommandError::NotFound(Thing::Item(_)))
        ));
    }

    #[test]
    fn given_an_account_bound_to_another_user_then_conflict() {
        let mut events = vec![user(1), user(2)];
        then(&mut events, &cmd(1, 50, "ann@contoso.com")).expect("bound");
        assert!(matches!(
            then(&mut events, &cmd(2, 51, "Ann@Contoso.com")),
            Err(CommandError::Conflict(ConflictKind::AlreadyExists, _))
        ));
    }

    #[test]
    fn given_the_integration_disabled_or_no_user_then_refused() {
        let dir = given_in(T, &[user(1)]);
        assert!(matches!(
            bind_user(dir.scope_or_empty(T), false, &cmd(1, 50, "ann@contoso.com")),
            Err(CommandError::Conflict(ConflictKind::IntegrationDisabled, _))
        ));
        assert_eq!(
            bind_user(dir.scope_or_empty(T), true, &cmd(3, 50, "ann@contoso.com")),
            Err(CommandError::NotFound(Thing::User))
        );
        assert_eq!(
            unbind_user(dir.scope_or_empty(T), Id(3)),
            Err(CommandError::NotFound(Thing::User))
        );
    }

    #[test]
    fn given_the_integration_disabled_then_nothing_is_bound() {
        let got = bind(false, "ann@contoso.com");
        assert!(matches!(
            got,
            Err(CommandError::Conflict(ConflictKind::IntegrationDisabled, _))
        ));
    }

    #[test]
    fn given_an_object_id_or_a_principal_name_then_it_is_bound() {
        assert_eq!(
            bind(true, "6F1C2A3B-1234-4ABC-9DEF-0123456789AB"),
            Ok(Ms365Account::ObjectId(
                "6f1c2a3b-1234-4abc-9def-0123456789ab".into()
            ))
        );
        assert_eq!(
            bind(true, "ann@contoso.com"),
            Ok(Ms365Account::PrincipalName("ann@contoso.com".into()))
        );
    }

    #[test]
    fn given_anything_else_then_id_is_named() {
        for id in [
            "",
            "ann",
            "@contoso.com",
            "ann@localhost",
            "a b@x.com",
            "6f1c2a3b-1234",
        ] {
            assert!(
                matches!(bind(true, id), Err(CommandError::Invalid { ref field, .. }) if field == "id"),
                "{id}"
            );
        }
    }
}
