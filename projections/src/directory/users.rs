//! Users in the directory view.

use super::idset::IdSet;
use super::secret::SecretHash;
use super::{Scope, Stamp};
use crate::short::Short;
use switchboard_events::domain::{
    SecretKind, UserCreated, UserDeleted, UserProfileReset, UserRoleChanged, UserSecretChanged,
    UserUpdated,
};
use switchboard_events::{Attrs, EnvelopeRef, Id, ValueRef};

/// A user as the directory sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserView {
    /// Id.
    pub id: Id,
    /// Account name (immutable).
    pub name: Short,
    /// Role name.
    pub role: Short,
    /// argon2id hash of the password.
    pub password_hash: SecretHash,
    /// argon2id hash of the extension password, if set.
    pub extension_password_hash: Option<SecretHash>,
    /// argon2id hash of the voicemail PIN, if set.
    pub voicemail_pin_hash: Option<SecretHash>,
    /// Every other field; missing means "default".
    pub attrs: Attrs,
    /// The primary extension (whose number is the user's `extension_number`).
    pub primary_extension: Option<Id>,
    /// Extensions linked to this user.
    pub extensions: IdSet,
    /// Groups the user belongs to.
    pub groups: IdSet,
    /// Creation and change bookkeeping.
    pub stamp: Stamp,
}

impl UserView {
    /// A field's stored value (absent = default).
    pub fn attr(&self, name: &str) -> Option<ValueRef<'_>> {
        self.attrs.get(name)
    }

    /// Whether the user may sign in (`enabled` defaults to true).
    pub fn enabled(&self) -> bool {
        self.attr("enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true)
    }

    /// The display name, if set.
    pub fn display_name(&self) -> Option<&str> {
        self.attr("display_name").and_then(|v| v.as_str())
    }
}

pub(super) fn created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserCreated) {
    // Created again (a replayed log may): out of the name index first.
    if let Some(old) = scope.users.get(&e.user_id) {
        let old_name = old.name.clone();
        scope
            .users_by_name
            .remove(&scope.users, e.user_id, &old_name);
    }
    scope.users.insert(
        e.user_id,
        UserView {
            id: e.user_id,
            name: e.name.as_str().into(),
            role: e.role.as_str().into(),
            password_hash: SecretHash::new(&e.password_hash),
            extension_password_hash: None,
            voicemail_pin_hash: None,
            attrs: Attrs::from(&e.attrs),
            primary_extension: None,
            extensions: IdSet::new(),
            groups: IdSet::new(),
            stamp: Stamp::new(env),
        },
    );
    scope.users_by_name.insert(&scope.users, e.user_id, &e.name);
}

pub(super) fn updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserUpdated) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        user.attrs.merge(&e.changes);
        user.stamp.touch(env);
    }
}

pub(super) fn secret_changed(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserSecretChanged) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        match e.secret {
            SecretKind::Password => user.password_hash = SecretHash::new(&e.hash),
            SecretKind::ExtensionPassword => {
                user.extension_password_hash = Some(SecretHash::new(&e.hash))
            }
            SecretKind::VoicemailPin => user.voicemail_pin_hash = Some(SecretHash::new(&e.hash)),
        }
        user.stamp.touch(env);
    }
}

pub(super) fn role_changed(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserRoleChanged) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        user.role = e.role.as_str().into();
        user.stamp.touch(env);
    }
}

pub(super) fn profile_reset(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserProfileReset) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        user.attrs.merge(&e.reset);
        user.stamp.touch(env);
    }
}

pub(super) fn deleted(scope: &mut Scope, e: &UserDeleted) {
    if let Some(user) = scope.users.get(&e.user_id) {
        let name = user.name.clone();
        scope.users_by_name.remove(&scope.users, e.user_id, &name);
    }
    let Some(user) = scope.users.remove(&e.user_id) else {
        return;
    };
    // Links and memberships go with the user (the command also records
    // explicit unlink events; this keeps the view right either way).
    scope.links.retain(|_, l| l.user_id != e.user_id);
    for ext in &user.extensions {
        if let Some(x) = scope.extensions.get_mut(ext) {
            x.users.remove(&e.user_id);
            if x.primary_of == Some(e.user_id) {
                x.primary_of = None;
            }
        }
    }
    for g in &user.groups {
        if let Some(group) = scope.groups.get_mut(g) {
            group.members.remove(&e.user_id);
        }
    }
}
