//! Resolving a bearer token to a live session and its user: the pure rule
//! behind every signed-in request (the HTTP edge's `Caller` extractor
//! calls it and answers a refusal in the route's dialect).

use super::tokens::token_hash;
use crate::field_tables::vendor_user::{ACCESS, READ_ONLY};
use switchboard_events::{Id, TenantId, ValueRef, SYSTEM_TENANT};
use switchboard_projections::directory::UserView;
use switchboard_projections::Directory;

/// A live session and its user, as of the directory it was resolved in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session.
    pub session_id: Id,
    /// The user.
    pub user_id: Id,
    /// The user's account name.
    pub name: String,
    /// The user's role name.
    pub role: String,
    /// The tenant the user belongs to (0 for the system administrator).
    pub home_tenant: TenantId,
    /// The tenant the session acts in (after a tenant switch).
    pub acting_tenant: TenantId,
    /// Access token expiry, Unix seconds.
    pub access_expires_at: i64,
    /// Whether the user may only read (its `access` attribute, set through
    /// the client internal-number dialect, is `read_only`).
    pub read_only: bool,
}

/// Why a token does not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Unknown or ended session, disabled or deleted user, disabled tenant:
    /// indistinguishable on purpose.
    #[error("the access token is not valid")]
    Invalid,
    /// The access token has expired (a refresh may still work).
    #[error("the access token has expired; refresh it")]
    Expired,
}

/// Resolves `token` in `dir` at `now` (Unix seconds).
pub fn resolve(dir: &Directory, token: &str, now: i64) -> Result<Session, Refusal> {
    let session = dir
        .sessions
        .by_access(&token_hash(token))
        .ok_or(Refusal::Invalid)?;
    if session.access_expires_at <= now {
        return Err(Refusal::Expired);
    }
    let user = dir
        .scope(session.home_tenant)
        .and_then(|s| s.users.get(&session.user_id))
        .filter(|u| u.enabled())
        .ok_or(Refusal::Invalid)?;
    if session.home_tenant != SYSTEM_TENANT {
        let tenant_ok = dir
            .tenants
            .get(&session.home_tenant)
            .is_some_and(|t| t.enabled());
        if !tenant_ok {
            return Err(Refusal::Invalid);
        }
    }
    Ok(Session {
        session_id: session.id,
        user_id: user.id,
        name: user.name.to_string(),
        role: user.role.to_string(),
        home_tenant: session.home_tenant,
        acting_tenant: session.acting_tenant,
        access_expires_at: session.access_expires_at,
        read_only: is_read_only(user),
    })
}

/// Whether a user's `access` attribute is `read_only`.
fn is_read_only(user: &UserView) -> bool {
    matches!(user.attr(ACCESS), Some(ValueRef::Str(s)) if s == READ_ONLY)
}
