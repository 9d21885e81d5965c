//! User events.

use crate::changes::Changes;
use crate::ids::Id;
use crate::value::Fields;
use serde::{Deserialize, Serialize};

/// A user was created. Secrets arrive only as argon2id PHC hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCreated {
    /// The user's id.
    pub user_id: Id,
    /// The account name, unique within the tenant, immutable.
    pub name: String,
    /// The role name (built-in or custom).
    pub role: String,
    /// argon2id hash of the sign-in password.
    pub password_hash: String,
    /// Every other profile and setting field (validated by the user field table).
    pub attrs: Fields,
}

/// User fields changed; only the changed fields are recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserUpdated {
    /// The user.
    pub user_id: Id,
    /// Changed fields with their new values.
    pub changes: Changes,
}

impl UserUpdated {
    /// Decodes a stored payload as postcard does, the changes read flat
    /// ([`Changes`]).
    pub(crate) fn decode(payload: &[u8]) -> Result<UserUpdated, postcard::Error> {
        let (user_id, changes) = user_and_changes(payload)?;
        Ok(UserUpdated { user_id, changes })
    }
}

/// A payload that is a user id and a field map, as postcard reads it (a
/// trailing byte is ignored, as `postcard::from_bytes` ignores it).
fn user_and_changes(payload: &[u8]) -> Result<(Id, Changes), postcard::Error> {
    let (user_id, rest) = postcard::take_from_bytes::<Id>(payload)?;
    let (changes, _) = Changes::take_from_bytes(rest)?;
    Ok((user_id, changes))
}

/// Which secret changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretKind {
    /// The sign-in password.
    Password,
    /// The SIP extension (registration) password.
    ExtensionPassword,
    /// The voicemail PIN.
    VoicemailPin,
}

/// A secret of the user was set. Only the hash is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSecretChanged {
    /// The user.
    pub user_id: Id,
    /// Which secret.
    pub secret: SecretKind,
    /// argon2id PHC hash of the new value.
    pub hash: String,
}

/// The user's role changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRoleChanged {
    /// The user.
    pub user_id: Id,
    /// The new role name.
    pub role: String,
}

/// The user's profile (the settings a user can change for themselves) was
/// reset to defaults; `reset` lists the fields that changed, with their
/// default values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfileReset {
    /// The user.
    pub user_id: Id,
    /// Fields reset, with the values they took.
    pub reset: Changes,
}

impl UserProfileReset {
    /// Decodes a stored payload as postcard does, the fields read flat
    /// ([`Changes`]).
    pub(crate) fn decode(payload: &[u8]) -> Result<UserProfileReset, postcard::Error> {
        let (user_id, reset) = user_and_changes(payload)?;
        Ok(UserProfileReset { user_id, reset })
    }
}

/// A user was deleted (its links and memberships go with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDeleted {
    /// The user.
    pub user_id: Id,
}
