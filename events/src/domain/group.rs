//! User group events.

use crate::ids::Id;
use crate::value::Fields;
use serde::{Deserialize, Serialize};

/// A user group was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCreated {
    /// The group's id.
    pub group_id: Id,
    /// Name, unique in the tenant.
    pub name: String,
    /// Other fields (description, outbound_caller_ids).
    pub attrs: Fields,
}

/// Group fields changed (only the changed ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupUpdated {
    /// The group.
    pub group_id: Id,
    /// Changed fields with their new values.
    pub changes: Fields,
}

/// A group was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDeleted {
    /// The group.
    pub group_id: Id,
}

/// A user was added to a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMemberAdded {
    /// The group.
    pub group_id: Id,
    /// The member.
    pub user_id: Id,
}

/// A user was removed from a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMemberRemoved {
    /// The group.
    pub group_id: Id,
    /// The former member.
    pub user_id: Id,
}
