//! Reads of a user's settings that are not lists of their own: the outbound
//! caller IDs a user may present (`GET /user/outbound_caller_ids`) and the
//! tenant holidays a user selected (`GET /user/global_holidays`).

use switchboard_events::TenantId;
use switchboard_events::{Attrs, FieldSet, Fields, Id, Value};
use switchboard_projections::directory::Directory;

/// One outbound caller ID a user may present: the trunk it goes out on, the
/// number, and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerId {
    /// The trunk's id, as configured.
    pub provider_id: String,
    /// The caller ID.
    pub caller_id: String,
    /// Its description (`None` when none was given).
    pub description: Option<String>,
}

fn caller_ids(attrs: &(impl FieldSet + ?Sized)) -> Vec<CallerId> {
    let Some(list) = attrs.get("outbound_caller_ids") else {
        return Vec::new();
    };
    let Some(items) = list.as_list() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Map(m) = item else { return None };
            let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(CallerId {
                provider_id: text("provider_id")?,
                caller_id: text("caller_id")?,
                description: text("description"),
            })
        })
        .collect()
}

/// The outbound caller IDs user `user` may present: the ones configured on
/// the user (their preferred one first), then the tenant's that the user
/// does not already have. `None` when the user does not exist.
pub fn outbound_caller_ids(dir: &Directory, tenant: TenantId, user: Id) -> Option<Vec<CallerId>> {
    let u = dir.scope(tenant)?.users.get(&user)?;
    let mut own = caller_ids(&u.attrs);
    let preferred = |attrs: &Attrs, c: &CallerId| {
        let Some(list) = attrs.get("outbound_caller_ids") else {
            return false;
        };
        let Some(items) = list.as_list() else {
            return false;
        };
        items.iter().any(|i| match i {
            Value::Map(m) => {
                m.get("caller_id").and_then(Value::as_str) == Some(c.caller_id.as_str())
                    && m.get("preferred") == Some(&Value::Bool(true))
            }
            _ => false,
        })
    };
    // Stable: only the preferred one moves to the front.
    own.sort_by_key(|c| !preferred(&u.attrs, c));
    let tenant = dir
        .tenants
        .get(&tenant)
        .map(|t| caller_ids(&t.attrs))
        .unwrap_or_default();
    for c in tenant {
        if !own
            .iter()
            .any(|o| o.provider_id == c.provider_id && o.caller_id == c.caller_id)
        {
            own.push(c);
        }
    }
    Some(own)
}

/// The tenant holidays user `user` selected, in the order selected, each
/// with its id; holidays deleted since are left out. `None` when the user
/// does not exist.
pub fn global_holidays(dir: &Directory, tenant: TenantId, user: Id) -> Option<Vec<(Id, Fields)>> {
    use crate::collections::settings::{selected, GLOBAL_HOLIDAYS};
    use switchboard_events::domain::ItemOwner;
    let scope = dir.scope(tenant)?;
    scope.users.get(&user)?;
    let owner = ItemOwner::User(user);
    let ids = scope
        .items
        .items(GLOBAL_HOLIDAYS, owner)
        .next()
        .map(|it| selected(&it.attrs))
        .unwrap_or_default();
    let name = crate::collections::settings::TENANT_HOLIDAYS.name;
    Some(
        ids.into_iter()
            .filter_map(|id| {
                let h = scope.items.get(name, ItemOwner::Tenant, id)?;
                Some((id, h.attrs.to_fields()))
            })
            .collect(),
    )
}
