//! Authorization at the edge: does the caller's role allow this, and in
//! which tenant does the request act?

use super::caller::Caller;
use super::error::ApiError;
use super::AppState;
use crate::auth::roles::{self, Authority, Capability};
use axum::http::StatusCode;
use switchboard_events::{Id, TenantId, SYSTEM_TENANT};
use switchboard_projections::Directory;

/// Refuses with 403 unless the caller's role allows `cap`.
pub fn require(state: &AppState, caller: &Caller, cap: Capability) -> Result<(), ApiError> {
    if allowed(state, caller, cap) {
        Ok(())
    } else {
        Err(ApiError::forbidden("your role does not allow this"))
    }
}

/// Whether the caller's role allows `cap` (custom roles looked up in the
/// caller's own tenant, judged as they are now).
pub fn allowed(state: &AppState, caller: &Caller, cap: Capability) -> bool {
    // Built-in roles need no lookup (and no read lock), nor their flag set
    // (building it was ~10 % of a list page's CPU).
    let system = caller.home_tenant == SYSTEM_TENANT;
    if let Some(allowed) = roles::built_in_role_allows(&caller.role, system, cap) {
        return allowed;
    }
    authority(&state.queries.read(), caller).allows(cap)
}

/// What the caller holds in `dir`: its role's capabilities and flags. Only
/// users of the system scope get system-scope capabilities.
pub fn authority(dir: &Directory, caller: &Caller) -> Authority {
    let system = caller.home_tenant == SYSTEM_TENANT;
    Authority::of_role(dir.scope(caller.home_tenant), &caller.role, system)
}

/// Refuses with 403 unless the caller is `user` itself or its role allows
/// `cap`: the "yourself, or a capability" rule of self-scoped reads (the
/// commands judge the same rule for writes, `Actor::must_be_or_hold`).
pub fn self_or(
    state: &AppState,
    caller: &Caller,
    user: Id,
    cap: Capability,
) -> Result<(), ApiError> {
    if caller.user_id == user {
        return Ok(());
    }
    require(state, caller, cap)
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
