//! Sign-in sessions. Only token hashes are recorded, so the log (and any
//! export of it) never holds a usable credential.

use crate::ids::Id;
use serde::{Deserialize, Serialize};

/// A user signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStarted {
    /// The session's id.
    pub session_id: Id,
    /// Who signed in.
    pub user_id: Id,
    /// SHA-256 of the access token.
    pub access_hash: [u8; 32],
    /// SHA-256 of the refresh token.
    pub refresh_hash: [u8; 32],
    /// Access token expiry, Unix seconds.
    pub access_expires_at: i64,
    /// Refresh token expiry, Unix seconds.
    pub refresh_expires_at: i64,
}

/// A session's tokens were rotated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRefreshed {
    /// The session.
    pub session_id: Id,
    /// SHA-256 of the new access token.
    pub access_hash: [u8; 32],
    /// SHA-256 of the new refresh token.
    pub refresh_hash: [u8; 32],
    /// New access expiry, Unix seconds.
    pub access_expires_at: i64,
    /// New refresh expiry, Unix seconds.
    pub refresh_expires_at: i64,
}

/// The session now acts inside another tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionTenantSwitched {
    /// The session.
    pub session_id: Id,
    /// The tenant it acts in.
    pub tenant_id: Id,
}

/// A session ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionEnded {
    /// The session.
    pub session_id: Id,
}
