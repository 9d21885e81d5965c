//! Custom roles in the directory view.

use super::{Scope, Stamp};
use switchboard_events::domain::{RoleCreated, RoleDeleted, RoleUpdated};
use switchboard_events::{EnvelopeRef, Id};

/// A custom role.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoleView {
    /// Id.
    pub id: Id,
    /// Name (unique in the tenant).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Granted `section.flag` permissions, sorted.
    pub permissions: Vec<String>,
    /// Bookkeeping.
    pub stamp: Stamp,
}

pub(super) fn created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &RoleCreated) {
    scope.roles_by_name.insert(e.name.to_lowercase(), e.role_id);
    scope.roles.insert(
        e.role_id,
        RoleView {
            id: e.role_id,
            name: e.name.clone(),
            description: e.description.clone(),
            permissions: e.permissions.clone(),
            stamp: Stamp::new(env),
        },
    );
}

pub(super) fn updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &RoleUpdated) {
    let Some(role) = scope.roles.get_mut(&e.role_id) else {
        return;
    };
    if let Some(name) = &e.name {
        scope.roles_by_name.remove(&role.name.to_lowercase());
        scope.roles_by_name.insert(name.to_lowercase(), e.role_id);
        // Users refer to roles by name: carry them along a rename.
        let old = std::mem::replace(&mut role.name, name.clone());
        scope
            .users
            .update_where(|u| u.role == old, |u| u.role = name.as_str().into());
    }
    if let Some(d) = &e.description {
        role.description = d.clone();
    }
    if let Some(p) = &e.permissions {
        role.permissions = p.clone();
    }
    role.stamp.touch(env);
}

pub(super) fn deleted(scope: &mut Scope, e: &RoleDeleted) {
    if let Some(role) = scope.roles.remove(&e.role_id) {
        scope.roles_by_name.remove(&role.name.to_lowercase());
    }
}
