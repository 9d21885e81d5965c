//! Custom role events. Built-in roles are code, not events.

use crate::ids::Id;
use serde::{Deserialize, Serialize};

/// A custom role was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleCreated {
    /// The role's id (roles are addressed by name in the API; the id keeps
    /// the stream stable across renames).
    pub role_id: Id,
    /// Its name, unique in the tenant and not a built-in name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Granted permission flags, `section.flag` (e.g. `user_management.users`), sorted.
    pub permissions: Vec<String>,
}

/// A custom role changed; `None` fields did not change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleUpdated {
    /// The role.
    pub role_id: Id,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New permission set.
    pub permissions: Option<Vec<String>>,
}

/// A custom role was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDeleted {
    /// The role.
    pub role_id: Id,
}
