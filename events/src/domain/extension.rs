//! Extension events and the user↔extension links.

use crate::ids::Id;
use crate::value::Fields;
use serde::{Deserialize, Serialize};

/// What kind of endpoint an extension is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExtensionType {
    /// A SIP device or softphone line (the default).
    Sip,
    /// A WebRTC client line.
    WebRtc,
    /// A line reached through a PSTN/mobile number.
    External,
}

/// An extension was created. (v1 had no `ext_type` or `enabled`; see
/// [`crate::upcast`].)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionCreated {
    /// The extension's id.
    pub extension_id: Id,
    /// Its number, unique in the tenant's number space.
    pub number: String,
    /// A display name ("Reception").
    pub name: String,
    /// Kind of endpoint.
    pub ext_type: ExtensionType,
    /// Whether it may register and take calls.
    pub enabled: bool,
}

/// Extension fields changed (`name`, `type`, `enabled`, `number`). A
/// `number` change moves the extension in the tenant's number space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionUpdated {
    /// The extension.
    pub extension_id: Id,
    /// Changed fields with their new values.
    pub changes: Fields,
}

/// An extension was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionDeleted {
    /// The extension.
    pub extension_id: Id,
}

/// A user was linked to an extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserLinkedToExtension {
    /// The link's own id.
    pub link_id: Id,
    /// The user.
    pub user_id: Id,
    /// The extension.
    pub extension_id: Id,
}

/// A user was unlinked from an extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserUnlinkedFromExtension {
    /// The link that ended.
    pub link_id: Id,
    /// The user.
    pub user_id: Id,
    /// The extension.
    pub extension_id: Id,
}

/// The user's primary extension (its `extension_number`) changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrimaryExtensionChanged {
    /// The user.
    pub user_id: Id,
    /// The new primary extension, or none.
    pub extension_id: Option<Id>,
}
