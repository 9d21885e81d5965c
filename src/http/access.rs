//! Authorization at the edge: does the caller's role allow this, and in
//! which tenant does the request act?

use super::error::ApiError;
use super::AppState;
use crate::auth::caller::Caller;
use crate::auth::roles::{self, Capability};
use axum::http::StatusCode;
use switchboard_events::{TenantId, SYSTEM_TENANT};

/// Refuses with 403 unless the caller's role allows `cap`.
pub fn require(state: &AppState, caller: &Caller, cap: Capability) -> Result<(), ApiError> {
    if allowed(state, caller, cap) {
        Ok(())
    } else {
        Err(ApiError::forbidden("your role does not allow this"))
    }
}

/// Whether the caller's role allows `cap` (custom roles looked up in the
/// caller's own tenant).
pub fn allowed(state: &AppState, caller: &Caller, cap: Capability) -> bool {
    if roles::is_built_in(&caller.role) {
        return roles::allows(&caller.role, None, cap);
    }
    let dir = state.queries.read();
    let flags = dir
        .scope(caller.home_tenant)
        .and_then(|s| {
            s.roles_by_name
                .get(&caller.role.to_lowercase())
                .and_then(|id| s.roles.get(id))
        })
        .map(|r| r.permissions.clone());
    roles::allows(&caller.role, flags.as_deref(), cap)
}

/// The tenant a tenant-scoped request acts in. The system administrator
/// must switch into a tenant first (`POST /api/tenants/switch?id=`).
pub fn tenant_of(caller: &Caller) -> Result<TenantId, ApiError> {
    if caller.tenant == SYSTEM_TENANT {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "TENANT_REQUIRED",
            "this resource lives inside a tenant: switch to one with POST /api/tenants/switch?id=...",
        ));
    }
    Ok(caller.tenant)
}
