//! Users in the directory view.

use super::idset::IdSet;
use super::secret::Secrets;
use super::{Scope, Stamp};
use crate::short::Short;
use switchboard_events::domain::{
    SecretKind, UserCreated, UserDeleted, UserProfileReset, UserRoleChanged, UserSecretChanged,
    UserUpdated,
};
use switchboard_events::{Attrs, EnvelopeRef, Id, ValueRef};

/// A user as the directory sees it.
///
/// Encoded as it was when the three hashes were fields of their own
/// (`password_hash`, `extension_password_hash`, `voicemail_pin_hash`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(from = "UserViewRepr")]
pub struct UserView {
    /// Id.
    pub id: Id,
    /// Account name (immutable).
    pub name: Short,
    /// Role name.
    pub role: Short,
    /// argon2id hashes of the password, the extension password and the
    /// voicemail PIN (the last two if set): [`UserView::password_hash`] etc.
    pub secrets: Secrets,
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

/// [`UserView`] as it is encoded.
#[derive(serde::Deserialize)]
struct UserViewRepr {
    id: Id,
    name: Short,
    role: Short,
    // As read (each packed once, into `Secrets`).
    password_hash: String,
    extension_password_hash: Option<String>,
    voicemail_pin_hash: Option<String>,
    attrs: Attrs,
    primary_extension: Option<Id>,
    extensions: IdSet,
    groups: IdSet,
    stamp: Stamp,
}

impl From<UserViewRepr> for UserView {
    fn from(r: UserViewRepr) -> UserView {
        let secrets = Secrets::of([
            Some(r.password_hash.as_str()),
            r.extension_password_hash.as_deref(),
            r.voicemail_pin_hash.as_deref(),
        ]);
        UserView {
            id: r.id,
            name: r.name,
            role: r.role,
            secrets,
            attrs: r.attrs,
            primary_extension: r.primary_extension,
            extensions: r.extensions,
            groups: r.groups,
            stamp: r.stamp,
        }
    }
}

/// Field by field as the derived encoding of [`UserViewRepr`] (no copy of
/// the row).
impl serde::Serialize for UserView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("UserView", 11)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("role", &self.role)?;
        st.serialize_field("password_hash", &self.password_hash())?;
        st.serialize_field("extension_password_hash", &self.extension_password_hash())?;
        st.serialize_field("voicemail_pin_hash", &self.voicemail_pin_hash())?;
        st.serialize_field("attrs", &self.attrs)?;
        st.serialize_field("primary_extension", &self.primary_extension)?;
        st.serialize_field("extensions", &self.extensions)?;
        st.serialize_field("groups", &self.groups)?;
        st.serialize_field("stamp", &self.stamp)?;
        st.end()
    }
}

impl UserView {
    /// The PHC string of the password's hash (empty when none was set).
    pub fn password_hash(&self) -> String {
        self.secrets.phc(SecretKind::Password).unwrap_or_default()
    }

    /// The PHC string of the extension password's hash, if set.
    pub fn extension_password_hash(&self) -> Option<String> {
        self.secrets.phc(SecretKind::ExtensionPassword)
    }

    /// The PHC string of the voicemail PIN's hash, if set.
    pub fn voicemail_pin_hash(&self) -> Option<String> {
        self.secrets.phc(SecretKind::VoicemailPin)
    }

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
            secrets: Secrets::new(&e.password_hash),
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
        user.secrets.set(e.secret, Some(&e.hash));
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
    let links: Vec<Id> = scope
        .links
        .values()
        .filter(|l| l.user_id == e.user_id)
        .map(|l| l.id)
        .collect();
    for l in links {
        scope.links.remove(&l);
    }
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
    use crate::directory::SecretHash;

    /// The layout a user row had (and is still encoded in).
    #[derive(serde::Serialize)]
    struct OldUserView {
        id: Id,
        name: Short,
        role: Short,
        password_hash: SecretHash,
        extension_password_hash: Option<SecretHash>,
        voicemail_pin_hash: Option<SecretHash>,
        attrs: Attrs,
        primary_extension: Option<Id>,
        extensions: IdSet,
        groups: IdSet,
        stamp: Stamp,
    }

    #[test]
    fn a_user_row_encodes_as_it_did_with_three_hash_fields() {
        let argon = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3Vq0oO0bq6gH0v6lQ5cW0t7j0G8n3aXr1Zl8J5wqkYc";
        let env = crate::testing::envelope(7, "user", "UserCreated");
        for (ext, pin) in [(None, None), (Some("$2b$x"), Some(argon)), (Some(""), None)] {
            let mut user = UserView {
                id: Id(5),
                name: "ann".into(),
                role: "StandardUser".into(),
                secrets: Secrets::new(argon),
                attrs: [("email", switchboard_events::Value::from("a@x"))]
                    .into_iter()
                    .collect(),
                primary_extension: Some(Id(9)),
                extensions: [Id(9)].into_iter().collect(),
                groups: IdSet::new(),
                stamp: Stamp::new(&env.view()),
            };
            user.secrets.set(SecretKind::ExtensionPassword, ext);
            user.secrets.set(SecretKind::VoicemailPin, pin);
            let old = OldUserView {
                id: user.id,
                name: user.name.clone(),
                role: user.role.clone(),
                password_hash: SecretHash::new(argon),
                extension_password_hash: ext.map(SecretHash::new),
                voicemail_pin_hash: pin.map(SecretHash::new),
                attrs: user.attrs.clone(),
                primary_extension: user.primary_extension,
                extensions: user.extensions.clone(),
                groups: user.groups.clone(),
                stamp: user.stamp.clone(),
            };
            crate::testing::assert_encodes_as(&user, &old);
            let back: UserView =
                postcard::from_bytes(&postcard::to_allocvec(&user).expect("encode"))
                    .expect("decode");
            assert_eq!(back.password_hash(), argon);
            assert_eq!(back.extension_password_hash().as_deref(), ext);
            assert_eq!(back.voicemail_pin_hash().as_deref(), pin);
        }
    }
}
