//! Users in the directory view.

use super::{Scope, Stamp};
use std::collections::BTreeSet;
use switchboard_events::domain::{
    SecretKind, UserCreated, UserDeleted, UserProfileReset, UserRoleChanged, UserSecretChanged,
    UserUpdated,
};
use switchboard_events::{EnvelopeRef, Fields, Id, Value};

/// A user as the directory sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserView {
    /// Id.
    pub id: Id,
    /// Account name (immutable).
    pub name: String,
    /// Role name.
    pub role: String,
    /// argon2id hash of the password.
    pub password_hash: String,
    /// argon2id hash of the extension password, if set.
    pub extension_password_hash: Option<String>,
    /// argon2id hash of the voicemail PIN, if set.
    pub voicemail_pin_hash: Option<String>,
    /// Every other field; missing means "default".
    pub attrs: Fields,
    /// The primary extension (whose number is the user's `extension_number`).
    pub primary_extension: Option<Id>,
    /// Extensions linked to this user.
    pub extensions: BTreeSet<Id>,
    /// Groups the user belongs to.
    pub groups: BTreeSet<Id>,
    /// Creation and change bookkeeping.
    pub stamp: Stamp,
}

impl UserView {
    /// A field's stored value (absent = default).
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    /// Whether the user may sign in (`enabled` defaults to true).
    pub fn enabled(&self) -> bool {
        self.attr("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    /// The display name, if set.
    pub fn display_name(&self) -> Option<&str> {
        self.attr("display_name").and_then(Value::as_str)
    }
}

/// Merges changed fields: `Null` clears a field back to its default.
pub(crate) fn merge(attrs: &mut Fields, changes: &Fields) {
    for (k, v) in changes {
        if v.is_null() {
            attrs.remove(k);
        } else if let Some(slot) = attrs.get_mut(k) {
            // A field that is already set keeps its key, and a string its
            // buffer: replaying a million updates allocates nothing here.
            match (slot, v) {
                (Value::Str(old), Value::Str(new)) => old.clone_from(new),
                (slot, v) => *slot = v.clone(),
            }
        } else {
            attrs.insert(k.clone(), v.clone());
        }
    }
}

pub(super) fn created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserCreated) {
    scope.users_by_name.insert(e.name.to_lowercase(), e.user_id);
    scope.users.insert(
        e.user_id,
        UserView {
            id: e.user_id,
            name: e.name.clone(),
            role: e.role.clone(),
            password_hash: e.password_hash.clone(),
            extension_password_hash: None,
            voicemail_pin_hash: None,
            attrs: e.attrs.clone(),
            primary_extension: None,
            extensions: BTreeSet::new(),
            groups: BTreeSet::new(),
            stamp: Stamp::new(env),
        },
    );
}

pub(super) fn updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserUpdated) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        merge(&mut user.attrs, &e.changes);
        user.stamp.touch(env);
    }
}

pub(super) fn secret_changed(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserSecretChanged) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        match e.secret {
            SecretKind::Password => user.password_hash = e.hash.clone(),
            SecretKind::ExtensionPassword => user.extension_password_hash = Some(e.hash.clone()),
            SecretKind::VoicemailPin => user.voicemail_pin_hash = Some(e.hash.clone()),
        }
        user.stamp.touch(env);
    }
}

pub(super) fn role_changed(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserRoleChanged) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        user.role = e.role.clone();
        user.stamp.touch(env);
    }
}

pub(super) fn profile_reset(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserProfileReset) {
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        merge(&mut user.attrs, &e.reset);
        user.stamp.touch(env);
    }
}

pub(super) fn deleted(scope: &mut Scope, e: &UserDeleted) {
    let Some(user) = scope.users.remove(&e.user_id) else {
        return;
    };
    scope.users_by_name.remove(&user.name.to_lowercase());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, Value)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn merge_sets_replaces_and_clears_fields_whatever_their_kind_was() {
        let mut attrs = fields(&[
            ("display_name", Value::from("Ann")),
            ("email", Value::from("ann@example.com")),
            ("ring_timeout", Value::Int(30)),
            ("mobile_phone", Value::Int(1)),
        ]);
        merge(
            &mut attrs,
            &fields(&[
                // string over string (the buffer is reused), longer and shorter
                ("display_name", Value::from("Ann Example-Longer-Name")),
                ("email", Value::from("a@x")),
                // other kinds over each other
                ("ring_timeout", Value::from("thirty")),
                ("mobile_phone", Value::Bool(true)),
                // new, and cleared
                ("language", Value::from("en")),
                ("enabled", Value::Null),
            ]),
        );
        merge(&mut attrs, &fields(&[("email", Value::Null)]));
        assert_eq!(
            attrs,
            fields(&[
                ("display_name", Value::from("Ann Example-Longer-Name")),
                ("language", Value::from("en")),
                ("mobile_phone", Value::Bool(true)),
                ("ring_timeout", Value::from("thirty")),
            ])
        );
    }
}
