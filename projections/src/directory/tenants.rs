//! Tenants in the directory view.

use super::{Directory, Stamp};
use switchboard_events::domain::{TenantCreated, TenantDeleted, TenantUpdated};
use switchboard_events::{Attrs, EnvelopeRef, Id, Value};

/// A tenant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TenantView {
    /// Id.
    pub id: Id,
    /// Display name.
    pub name: String,
    /// SIP domain (unique).
    pub domain: String,
    /// Every other setting; missing = default.
    pub attrs: Attrs,
    /// Bookkeeping.
    pub stamp: Stamp,
}

impl TenantView {
    /// Whether the tenant is enabled (default true).
    pub fn enabled(&self) -> bool {
        self.attrs
            .get("enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true)
    }
}

pub(super) fn created(dir: &mut Directory, env: &EnvelopeRef<'_>, e: &TenantCreated) {
    dir.domains.insert(e.domain.to_lowercase(), e.tenant_id);
    dir.tenants.insert(
        e.tenant_id,
        TenantView {
            id: e.tenant_id,
            name: e.name.clone(),
            domain: e.domain.clone(),
            attrs: Attrs::from(&e.attrs),
            stamp: Stamp::new(env),
        },
    );
    // Through `scope_mut`, so a scope created in a replay defers its
    // change index like the others.
    dir.scope_mut(e.tenant_id);
}

pub(super) fn updated(dir: &mut Directory, env: &EnvelopeRef<'_>, e: &TenantUpdated) {
    let Some(tenant) = dir.tenants.get_mut(&e.tenant_id) else {
        return;
    };
    let mut changes = e.changes.clone();
    if let Some(Value::Str(name)) = changes.remove("name") {
        tenant.name = name;
    }
    if let Some(Value::Str(domain)) = changes.remove("domain") {
        dir.domains.remove(&tenant.domain.to_lowercase());
        dir.domains.insert(domain.to_lowercase(), e.tenant_id);
        tenant.domain = domain;
    }
    tenant.attrs.merge(&changes);
    tenant.stamp.touch(env);
    if !tenant.enabled() {
        let users: Vec<Id> = dir
            .scopes
            .get(&e.tenant_id)
            .map(|s| s.users.keys().copied().collect())
            .unwrap_or_default();
        for u in users {
            dir.sessions.revoke_user(u);
        }
    }
}

pub(super) fn deleted(dir: &mut Directory, e: &TenantDeleted) {
    if let Some(tenant) = dir.tenants.remove(&e.tenant_id) {
        dir.domains.remove(&tenant.domain.to_lowercase());
    }
    if let Some(scope) = dir.scopes.remove(&e.tenant_id) {
        for u in scope.users.keys() {
            dir.sessions.revoke_user(*u);
        }
    }
    dir.sessions.leave_tenant(e.tenant_id);
}
