//! Agent status in call queues (the SetAgentStatus command's facts).
//!
//! Only *settable* statuses are recorded. QUEUE_CALL, OTHER_CALL and
//! OFFLINE are derived at read time from registrations and call state, so
//! they need no events (and registration expiry needs no timer).

use crate::ids::Id;
use serde::{Deserialize, Serialize};

/// A status an agent (or a supervisor) can set and the log records.
/// `LOGGED_IN` is not here: it is a request that becomes [`AgentStatus::Ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentStatus {
    /// Available for queue calls.
    Ready,
    /// Logged in but not taking calls.
    NotReady,
    /// After-call work.
    WrapUp,
    /// On a break.
    Break,
    /// At lunch.
    Lunch,
    /// Not logged in to the queue (the status of a new agent).
    LoggedOut,
}

impl AgentStatus {
    /// Every recorded status.
    pub const ALL: [AgentStatus; 6] = [
        AgentStatus::Ready,
        AgentStatus::NotReady,
        AgentStatus::WrapUp,
        AgentStatus::Break,
        AgentStatus::Lunch,
        AgentStatus::LoggedOut,
    ];

    /// The PortSIP spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Ready => "READY",
            AgentStatus::NotReady => "NOT_READY",
            AgentStatus::WrapUp => "WRAP_UP",
            AgentStatus::Break => "BREAK",
            AgentStatus::Lunch => "LUNCH",
            AgentStatus::LoggedOut => "LOGGED_OUT",
        }
    }
}

/// An agent's settable status in one queue changed. Recorded in the
/// agent's own stream (`agent-{user_id}`), so one stream read gives the
/// agent's whole status history across queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatusSet {
    /// The agent (a user).
    pub user_id: Id,
    /// The queue.
    pub queue_id: Id,
    /// The new status.
    pub status: AgentStatus,
    /// The status before.
    pub previous: AgentStatus,
}
