//! User groups in the directory view.

use super::users::merge;
use super::{Scope, Stamp};
use crate::pmap::PSet;
use switchboard_events::domain::{
    GroupCreated, GroupDeleted, GroupMemberAdded, GroupMemberRemoved, GroupUpdated,
};
use switchboard_events::{EnvelopeRef, Fields, Id, Value};

/// A user group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupView {
    /// Id.
    pub id: Id,
    /// Name (unique in the tenant).
    pub name: String,
    /// Other fields.
    pub attrs: Fields,
    /// Member user ids.
    pub members: PSet<Id>,
    /// Bookkeeping.
    pub stamp: Stamp,
}

pub(super) fn created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &GroupCreated) {
    scope
        .groups_by_name
        .insert(e.name.to_lowercase(), e.group_id);
    scope.groups.insert(
        e.group_id,
        GroupView {
            id: e.group_id,
            name: e.name.clone(),
            attrs: e.attrs.clone(),
            members: PSet::new(),
            stamp: Stamp::new(env),
        },
    );
}

pub(super) fn updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &GroupUpdated) {
    let Some(group) = scope.groups.get_mut(&e.group_id) else {
        return;
    };
    let mut changes = e.changes.clone();
    if let Some(Value::Str(name)) = changes.remove("name") {
        scope.groups_by_name.remove(&group.name.to_lowercase());
        scope.groups_by_name.insert(name.to_lowercase(), e.group_id);
        group.name = name;
    }
    merge(&mut group.attrs, &changes);
    group.stamp.touch(env);
}

pub(super) fn deleted(scope: &mut Scope, e: &GroupDeleted) {
    if let Some(group) = scope.groups.remove(&e.group_id) {
        scope.groups_by_name.remove(&group.name.to_lowercase());
        for m in group.members {
            if let Some(u) = scope.users.get_mut(&m) {
                u.groups.remove(&e.group_id);
            }
        }
    }
}

pub(super) fn member_added(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &GroupMemberAdded) {
    if let Some(group) = scope.groups.get_mut(&e.group_id) {
        group.members.insert(e.user_id);
        group.stamp.touch(env);
    }
    if let Some(u) = scope.users.get_mut(&e.user_id) {
        u.groups.insert(e.group_id);
    }
}

pub(super) fn member_removed(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &GroupMemberRemoved) {
    if let Some(group) = scope.groups.get_mut(&e.group_id) {
        group.members.remove(&e.user_id);
        group.stamp.touch(env);
    }
    if let Some(u) = scope.users.get_mut(&e.user_id) {
        u.groups.remove(&e.group_id);
    }
}
