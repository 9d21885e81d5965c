//! The Microsoft 365 binding of a user (issue #16; decision only, not served
//! yet): `POST /users/{id}/ms365_binding {id}` records which Microsoft 365
//! account (its object id, a GUID, or its user principal name) the user is;
//! nothing is called. The tenant must have the integration enabled.

use super::{CommandError, ConflictKind};

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

#[cfg(test)]
mod tests {
    use super::*;

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
