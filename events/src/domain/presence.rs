//! Presence, SIP registrations and call state of users.
//!
//! All are recorded in the user's `presence-{user_id}` stream. Registrations
//! carry their absolute expiry, so whether a user is online is a pure
//! function of the facts and the clock; no expiry event is ever written.

use crate::ids::Id;
use serde::{Deserialize, Serialize};

/// The user set their presence and/or note (only what changed is `Some`;
/// an empty note clears it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceSet {
    /// The user.
    pub user_id: Id,
    /// New presence (`AVAILABLE`, `AWAY`, ...), if it changed.
    pub presence: Option<String>,
    /// New presence note, if it changed.
    pub presence_note: Option<String>,
}

/// The registrar reported a SIP registration (new or refreshed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationAdded {
    /// The registered user.
    pub user_id: Id,
    /// The device instance (`+sip.instance`); a re-registration replaces it.
    pub instance_id: String,
    /// The device's User-Agent.
    pub user_agent: String,
    /// The application name.
    pub application: String,
    /// Source IP address.
    pub ip: String,
    /// Whether the device wants push notifications.
    pub enable_push: bool,
    /// The Contact URI.
    pub contact_address: String,
    /// When the registration lapses, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A registration was removed (unregistered or kicked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationRemoved {
    /// The user.
    pub user_id: Id,
    /// The device instance.
    pub instance_id: String,
}

/// Whether a user is in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallState {
    /// No call.
    Idle,
    /// In a call.
    OnCall,
}

/// The PBX reported the user's call state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallStateChanged {
    /// The user.
    pub user_id: Id,
    /// Idle or on a call.
    pub state: CallState,
    /// The queue the call came through (a queue call), if any.
    pub queue_id: Option<Id>,
}
