//! Tenant events. Tenants live in the system scope (tenant 0).

use crate::ids::Id;
use crate::value::Fields;
use serde::{Deserialize, Serialize};

/// A tenant was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantCreated {
    /// The new tenant's id.
    pub tenant_id: Id,
    /// Display name.
    pub name: String,
    /// The SIP domain; unique across tenants, used at sign-in.
    pub domain: String,
    /// Every other setting (validated by the tenant field table).
    pub attrs: Fields,
}

/// Tenant settings changed; `changes` holds only the fields that changed
/// (`name` and `domain` included when they change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantUpdated {
    /// The tenant.
    pub tenant_id: Id,
    /// Changed fields with their new values.
    pub changes: Fields,
}

/// A tenant was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantDeleted {
    /// The tenant.
    pub tenant_id: Id,
}
