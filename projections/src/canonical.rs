//! Canonical JSON of a tenant's state: the form `switchboard replay` writes
//! and the tests compare between a live projection and a replay.
//!
//! The scope is serialized through serde, so every collection the
//! [`Scope`](crate::directory::Scope) holds becomes a section (`users`,
//! `extensions`, `links`, `groups`, `roles`, the name and number indexes,
//! and whatever collections are added later, such as contacts or agent
//! statuses) without this file changing. Objects have sorted keys at every
//! level, so equal states give byte-equal files.
//!
//! Secret hashes (any key ending in `_hash`) and secret attributes (sealed
//! keys, [`crate::audit::SECRET_ATTRS`]) are left out: they are not needed
//! to compare states and do not belong in a file meant for people.
//! Sessions are not part of the directory's state (they are sign-ins) and
//! are left out too. Field values appear in their stored, tagged form
//! (`{"Str": "Bob"}`), which keeps types exact.

use crate::directory::Directory;
use serde_json::{Map, Value};
use switchboard_events::TenantId;

/// Why a state could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("cannot render canonical state: {0}")]
pub struct CanonicalError(String);

/// The canonical JSON of one tenant (tenant 0 = the system scope):
/// `{"offset", "tenant", "sections": {...}}`. `None` if the tenant has no
/// scope at all.
pub fn tenant_state(dir: &Directory, tenant: TenantId) -> Result<Option<Value>, CanonicalError> {
    let Some(scope) = dir.scope(tenant) else {
        return Ok(None);
    };
    let sections = serde_json::to_value(scope).map_err(|e| CanonicalError(e.to_string()))?;
    let tenant_view = match dir.tenants.get(&tenant) {
        Some(t) => serde_json::to_value(t).map_err(|e| CanonicalError(e.to_string()))?,
        None => Value::Null,
    };
    let mut root = Map::new();
    root.insert("tenant_id".into(), Value::from(tenant.0));
    root.insert("tenant".into(), tenant_view);
    root.insert("sections".into(), sections);
    Ok(Some(canonicalize(Value::Object(root))))
}

/// Every tenant with a scope (the system scope included), sorted by id.
pub fn tenants(dir: &Directory) -> Vec<TenantId> {
    let mut ids: Vec<TenantId> = dir.scopes.keys().copied().collect();
    ids.sort();
    ids
}

/// Sorts keys at every level and drops keys ending in `_hash` and secret
/// attributes ([`crate::audit::SECRET_ATTRS`]).
pub fn canonicalize(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m
                .into_iter()
                .filter(|(k, _)| {
                    !k.ends_with("_hash") && !crate::audit::SECRET_ATTRS.contains(&k.as_str())
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonicalize(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonicalize).collect()),
        other => other,
    }
}

/// Pretty, stable text for a canonical value (two-space indent, newline at
/// the end).
pub fn to_text(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_hashes_dropped_at_every_level() {
        let v = canonicalize(
            json!({"b": 1, "a": {"z": 1, "password_hash": "x", "m": [{"y": 1, "pin_hash": 2}]}}),
        );
        assert_eq!(
            serde_json::to_string(&v).expect("json"),
            r#"{"a":{"m":[{"y":1}],"z":1},"b":1}"#
        );
    }
}
