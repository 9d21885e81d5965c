//! Call queues and ring groups in the directory view, with their agents.
//! Both own an extension number in the tenant's shared number space.

use super::{NumberOwner, Scope, Stamp};
use crate::pmap::PMap;
use switchboard_events::domain::{
    AgentStatus, AgentStatusSet, CallQueueAgentAdded, CallQueueAgentRemoved, CallQueueAgentUpdated,
    CallQueueCreated, CallQueueDeleted, CallQueueUpdated, RingGroupAgentAdded,
    RingGroupAgentRemoved, RingGroupAgentUpdated, RingGroupCreated, RingGroupDeleted,
    RingGroupUpdated,
};
use switchboard_events::{Attrs, EnvelopeRef, Fields, Id, Value};
use time::OffsetDateTime;

/// One agent of a call queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueueAgent {
    /// Skill level, 1 (best) to 100.
    pub skill_level: u8,
    /// The last *settable* status (derived states are computed at read time).
    pub status: AgentStatus,
    /// When `status` was set (or the agent was added).
    pub since: OffsetDateTime,
}

/// A call queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallQueueView {
    /// Id.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Its extension number.
    pub number: String,
    /// Other fields.
    pub attrs: Attrs,
    /// Agents by user id.
    pub agents: PMap<Id, QueueAgent>,
    /// Bookkeeping.
    pub stamp: Stamp,
}

/// A ring group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RingGroupView {
    /// Id.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Its extension number.
    pub number: String,
    /// Other fields.
    pub attrs: Attrs,
    /// Agents (user id → skill level).
    pub agents: PMap<Id, u8>,
    /// Bookkeeping.
    pub stamp: Stamp,
}

fn rename(name: &mut String, changes: &mut Fields) {
    if let Some(Value::Str(n)) = changes.remove("name") {
        *name = n;
    }
}

pub(super) fn queue_created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &CallQueueCreated) {
    scope.numbers.insert(
        e.extension_number.as_str().into(),
        NumberOwner::CallQueue(e.queue_id),
    );
    scope.call_queues.insert(
        e.queue_id,
        CallQueueView {
            id: e.queue_id,
            name: e.name.clone(),
            number: e.extension_number.clone(),
            attrs: Attrs::from(&e.attrs),
            agents: PMap::new(),
            stamp: Stamp::new(env),
        },
    );
}

pub(super) fn queue_updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &CallQueueUpdated) {
    if let Some(q) = scope.call_queues.get_mut(&e.queue_id) {
        let mut changes = e.changes.clone();
        rename(&mut q.name, &mut changes);
        q.attrs.merge(&changes);
        q.stamp.touch(env);
    }
}

pub(super) fn queue_deleted(scope: &mut Scope, e: &CallQueueDeleted) {
    if let Some(q) = scope.call_queues.remove(&e.queue_id) {
        if scope.numbers.get(q.number.as_str()) == Some(NumberOwner::CallQueue(q.id)) {
            scope.numbers.remove(q.number.as_str());
        }
    }
}

pub(super) fn queue_agent_added(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &CallQueueAgentAdded) {
    if let Some(q) = scope.call_queues.get_mut(&e.queue_id) {
        q.agents.insert(
            e.user_id,
            QueueAgent {
                skill_level: e.skill_level,
                status: AgentStatus::LoggedOut,
                since: env.recorded_at,
            },
        );
        q.stamp.touch(env);
    }
}

pub(super) fn queue_agent_updated(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    e: &CallQueueAgentUpdated,
) {
    if let Some(q) = scope.call_queues.get_mut(&e.queue_id) {
        if let Some(a) = q.agents.get_mut(&e.user_id) {
            a.skill_level = e.skill_level;
        }
        q.stamp.touch(env);
    }
}

pub(super) fn queue_agent_removed(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    e: &CallQueueAgentRemoved,
) {
    if let Some(q) = scope.call_queues.get_mut(&e.queue_id) {
        q.agents.remove(&e.user_id);
        q.stamp.touch(env);
    }
}

/// Agent status lives in the agent's own stream, so it does not touch the
/// queue's stamp (a status change must not conflict with queue edits).
pub(super) fn agent_status_set(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &AgentStatusSet) {
    if let Some(a) = scope
        .call_queues
        .get_mut(&e.queue_id)
        .and_then(|q| q.agents.get_mut(&e.user_id))
    {
        a.status = e.status;
        a.since = env.recorded_at;
    }
}

pub(super) fn ring_group_created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &RingGroupCreated) {
    scope.numbers.insert(
        e.extension_number.as_str().into(),
        NumberOwner::RingGroup(e.ring_group_id),
    );
    scope.ring_groups.insert(
        e.ring_group_id,
        RingGroupView {
            id: e.ring_group_id,
            name: e.name.clone(),
            number: e.extension_number.clone(),
            attrs: Attrs::from(&e.attrs),
            agents: PMap::new(),
            stamp: Stamp::new(env),
        },
    );
}

pub(super) fn ring_group_updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &RingGroupUpdated) {
    if let Some(g) = scope.ring_groups.get_mut(&e.ring_group_id) {
        let mut changes = e.changes.clone();
        rename(&mut g.name, &mut changes);
        g.attrs.merge(&changes);
        g.stamp.touch(env);
    }
}

pub(super) fn ring_group_deleted(scope: &mut Scope, e: &RingGroupDeleted) {
    if let Some(g) = scope.ring_groups.remove(&e.ring_group_id) {
        if scope.numbers.get(g.number.as_str()) == Some(NumberOwner::RingGroup(g.id)) {
            scope.numbers.remove(g.number.as_str());
        }
    }
}

pub(super) fn ring_group_agent_added(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    e: &RingGroupAgentAdded,
) {
    if let Some(g) = scope.ring_groups.get_mut(&e.ring_group_id) {
        g.agents.insert(e.user_id, e.skill_level);
        g.stamp.touch(env);
    }
}

pub(super) fn ring_group_agent_updated(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    e: &RingGroupAgentUpdated,
) {
    if let Some(g) = scope.ring_groups.get_mut(&e.ring_group_id) {
        if let Some(s) = g.agents.get_mut(&e.user_id) {
            *s = e.skill_level;
        }
        g.stamp.touch(env);
    }
}

pub(super) fn ring_group_agent_removed(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    e: &RingGroupAgentRemoved,
) {
    if let Some(g) = scope.ring_groups.get_mut(&e.ring_group_id) {
        g.agents.remove(&e.user_id);
        g.stamp.touch(env);
    }
}

/// A deleted user leaves every queue and ring group and loses its presence.
/// The delete command records the removals explicitly; this is the safety
/// net that keeps the view consistent whatever the log holds.
pub(super) fn user_deleted(scope: &mut Scope, user_id: Id) {
    scope.call_queues.update_where(
        |q| q.agents.contains_key(&user_id),
        |q| {
            q.agents.remove(&user_id);
        },
    );
    scope.ring_groups.update_where(
        |g| g.agents.contains_key(&user_id),
        |g| {
            g.agents.remove(&user_id);
        },
    );
    scope.presence.remove(&user_id);
}
