//! StartSession, RefreshSession, EndSession: sign-in as events.

use super::{CommandError, Decision};
use switchboard_events::domain::{SessionEnded, SessionRefreshed, SessionStarted};
use switchboard_events::{Event, Expected, Id, StreamId, TenantId};
use switchboard_projections::Directory;

/// Token material for a new or rotated session (hashes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHashes {
    /// SHA-256 of the access token.
    pub access_hash: [u8; 32],
    /// SHA-256 of the refresh token.
    pub refresh_hash: [u8; 32],
    /// Access expiry, Unix seconds.
    pub access_expires_at: i64,
    /// Refresh expiry, Unix seconds.
    pub refresh_expires_at: i64,
}

/// Begin a session for a user whose password was verified.
#[derive(Debug, Clone)]
pub struct StartSession {
    /// New session id.
    pub session_id: Id,
    /// The user.
    pub user_id: Id,
    /// The user's tenant.
    pub tenant: TenantId,
    /// Tokens.
    pub tokens: TokenHashes,
}

/// Decides a sign-in: the user must still exist and be enabled (it may have
/// changed while the password was being checked).
pub fn start(state: &Directory, cmd: StartSession) -> Result<Decision, CommandError> {
    let user = state
        .scope(cmd.tenant)
        .and_then(|s| s.users.get(&cmd.user_id))
        .ok_or_else(|| CommandError::Forbidden("the account no longer exists".into()))?;
    if !user.enabled() {
        return Err(CommandError::Forbidden("the account is disabled".into()));
    }
    Ok(Decision::events(vec![Event::SessionStarted(SessionStarted {
        session_id: cmd.session_id,
        user_id: cmd.user_id,
        access_hash: cmd.tokens.access_hash,
        refresh_hash: cmd.tokens.refresh_hash,
        access_expires_at: cmd.tokens.access_expires_at,
        refresh_expires_at: cmd.tokens.refresh_expires_at,
    })])
    .expect(StreamId::of("session", cmd.session_id), Expected::NoStream))
}

/// Rotate a session's tokens with its refresh token.
#[derive(Debug, Clone)]
pub struct RefreshSession {
    /// SHA-256 of the presented refresh token.
    pub presented: [u8; 32],
    /// Now, Unix seconds.
    pub now: i64,
    /// The new tokens.
    pub tokens: TokenHashes,
}

/// Decides a refresh: the refresh token must belong to a live session whose
/// user is still enabled. Returns the session's user id.
pub fn refresh(state: &Directory, cmd: RefreshSession) -> Result<(Decision, Id), CommandError> {
    let invalid = || CommandError::Forbidden("the refresh token is not valid".into());
    let session = state.sessions.by_refresh(&cmd.presented).ok_or_else(invalid)?;
    if session.refresh_expires_at <= cmd.now {
        return Err(invalid());
    }
    let enabled = state
        .scope(session.home_tenant)
        .and_then(|s| s.users.get(&session.user_id))
        .is_some_and(|u| u.enabled());
    if !enabled {
        return Err(invalid());
    }
    Ok((
        Decision::events(vec![Event::SessionRefreshed(SessionRefreshed {
            session_id: session.id,
            access_hash: cmd.tokens.access_hash,
            refresh_hash: cmd.tokens.refresh_hash,
            access_expires_at: cmd.tokens.access_expires_at,
            refresh_expires_at: cmd.tokens.refresh_expires_at,
        })]),
        session.user_id,
    ))
}

/// Ends a session (sign-out). Ending one that is already gone does nothing.
pub fn end(state: &Directory, session_id: Id) -> Decision {
    if state.sessions.get(session_id).is_none() {
        return Decision::none();
    }
    Decision::events(vec![Event::SessionEnded(SessionEnded { session_id })])
}
