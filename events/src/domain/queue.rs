//! Call queue and ring group events, with their agent lists.
//!
//! Agents are users, addressed in the API by their primary extension number
//! (as group members are); the events record the user id so an agent keeps
//! its membership when the number changes.

use crate::ids::Id;
use crate::value::Fields;
use serde::{Deserialize, Serialize};

/// A call queue was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQueueCreated {
    /// The queue's id.
    pub queue_id: Id,
    /// Name.
    pub name: String,
    /// Its number in the tenant's shared number space (immutable).
    pub extension_number: String,
    /// Other fields, as validated by the call queue table.
    pub attrs: Fields,
}

/// Call queue fields changed (only the changed ones; `name` among them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQueueUpdated {
    /// The queue.
    pub queue_id: Id,
    /// Changed fields with their new values.
    pub changes: Fields,
}

/// A call queue was deleted (its number is freed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQueueDeleted {
    /// The queue.
    pub queue_id: Id,
}

/// A user became an agent of a call queue (status LOGGED_OUT).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQueueAgentAdded {
    /// The queue.
    pub queue_id: Id,
    /// The agent.
    pub user_id: Id,
    /// Skill level, 1 (best) to 100.
    pub skill_level: u8,
}

/// An agent's skill level in a call queue changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQueueAgentUpdated {
    /// The queue.
    pub queue_id: Id,
    /// The agent.
    pub user_id: Id,
    /// New skill level.
    pub skill_level: u8,
}

/// A user stopped being an agent of a call queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQueueAgentRemoved {
    /// The queue.
    pub queue_id: Id,
    /// The former agent.
    pub user_id: Id,
}

/// A ring group was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingGroupCreated {
    /// The ring group's id.
    pub ring_group_id: Id,
    /// Name.
    pub name: String,
    /// Its number in the tenant's shared number space (immutable).
    pub extension_number: String,
    /// Other fields, as validated by the ring group table.
    pub attrs: Fields,
}

/// Ring group fields changed (only the changed ones; `name` among them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingGroupUpdated {
    /// The ring group.
    pub ring_group_id: Id,
    /// Changed fields with their new values.
    pub changes: Fields,
}

/// A ring group was deleted (its number is freed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingGroupDeleted {
    /// The ring group.
    pub ring_group_id: Id,
}

/// A user became a member (agent) of a ring group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingGroupAgentAdded {
    /// The ring group.
    pub ring_group_id: Id,
    /// The agent.
    pub user_id: Id,
    /// Skill level, 1 (best) to 100.
    pub skill_level: u8,
}

/// A ring group agent's skill level changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingGroupAgentUpdated {
    /// The ring group.
    pub ring_group_id: Id,
    /// The agent.
    pub user_id: Id,
    /// New skill level.
    pub skill_level: u8,
}

/// A user stopped being a member of a ring group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingGroupAgentRemoved {
    /// The ring group.
    pub ring_group_id: Id,
    /// The former agent.
    pub user_id: Id,
}
