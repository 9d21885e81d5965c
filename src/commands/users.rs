//! User commands: CreateUser, UpdateUser, SetUserSecret, ChangeUserRole,
//! ResetUserProfiles, DeleteUser. Decisions are pure functions of the
//! tenant's scope and the acting [`Actor`].

use super::prepare::{NewId, Secret};
use super::{Actor, CommandError, ConflictKind, Decision, Denial, Thing};
use crate::auth::roles::{self, Authority};
use crate::field_tables::user::USER;
use crate::field_tables::vendor_user::VENDOR_USER;
use switchboard_events::domain::{
    ExtensionCreated, ExtensionType, PrimaryExtensionChanged, SecretKind, UserCreated, UserDeleted,
    UserLinkedToExtension, UserProfileReset, UserRoleChanged, UserSecretChanged,
    UserUnlinkedFromExtension, UserUpdated,
};
use switchboard_events::{Event, Expected, Fields, Id, StreamId, Value};
use switchboard_projections::directory::{NumberOwner, Scope, UserView};

/// The settings a profile reset returns to their defaults: how calls reach
/// the user (forwarding, office hours, DND/ACB, voicemail, BLFs, recording,
/// transport). Identity and contact fields (names, email, phones, address,
/// department) are not part of the profile and stay as they are.
pub const PROFILE_FIELDS: &[&str] = &[
    "enable_audio_recording",
    "enable_video_recording",
    "enable_dnd",
    "enable_acb",
    "enable_hot_desking",
    "anonymous_outbound_calls",
    "delivery_outbound_cid",
    "outbound_caller_ids",
    "custom_options",
    "office_hours",
    "available_office_hours_forward_rule",
    "available_non_office_hours_forward_rule",
    "available_no_answer_forward_rule",
    "busy_office_hours_forward_rule",
    "busy_non_office_hours_forward_rule",
    "busy_no_answer_forward_rule",
    "dnd_office_hours_forward_rule",
    "dnd_non_office_hours_forward_rule",
    "away_office_hours_forward_rule",
    "away_non_office_hours_forward_rule",
    "lunch_office_hours_forward_rule",
    "lunch_non_office_hours_forward_rule",
    "trip_office_hours_forward_rule",
    "trip_non_office_hours_forward_rule",
    "offline_office_hours_forward_rule",
    "offline_non_office_hours_forward_rule",
    "custom_forward_rules",
    "voicemail_prompt",
    "enable_voicemail_pin",
    "enable_voicemail_notify",
    "voicemail_play_datetime",
    "interface",
    "preferred_transport",
    "blfs",
];

/// Names reserved for the system administrator.
pub const RESERVED_NAMES: &[&str] = &["admin", "system", "administrator", "root"];

/// A valid user account name: 1–64 characters of letters, digits and
/// `_ - ' .`, not starting or ending with `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// Parses an account name for an ordinary user (reserved names refused).
    pub fn parse(s: &str) -> Result<UserName, CommandError> {
        let invalid = |m: &str| CommandError::invalid("name", m);
        let n = s.chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("must be 1 to 64 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '\'' | '.'))
        {
            return Err(invalid(
                "may contain only letters, digits, underscore, dash, single quote and period",
            ));
        }
        if s.starts_with('.') || s.ends_with('.') {
            return Err(invalid("cannot start or end with a period"));
        }
        if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            return Err(invalid("is reserved for the system administrator"));
        }
        Ok(UserName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid extension number: 3 to 64 ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionNumber(String);

impl ExtensionNumber {
    /// Parses an extension number; `field` names it in the error.
    pub fn parse(s: &str, field: &str) -> Result<ExtensionNumber, CommandError> {
        if s.len() < 3 || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CommandError::invalid(field, "must be 3 to 64 digits"));
        }
        Ok(ExtensionNumber(s.to_owned()))
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The role names that may be given to a user inside a tenant: the
/// built-ins other than the system-scope ones, and the tenant's custom roles.
/// Returns the canonical spelling.
pub fn assignable_role(scope: &Scope, role: &str) -> Result<String, CommandError> {
    if roles::is_built_in(role) {
        if matches!(role, "SystemAdmin" | "Dealer") {
            return Err(CommandError::invalid(
                "role",
                "is a system role and cannot be given inside a tenant",
            ));
        }
        return Ok(role.to_owned());
    }
    scope
        .roles_by_name
        .get(&role.to_lowercase())
        .and_then(|id| scope.roles.get(id))
        .map(|r| r.name.clone())
        .ok_or_else(|| CommandError::invalid("role", format!("no role named {role:?}")))
}

/// The role `role` as `by` may give it (to a new user or by a role change):
/// assignable in the tenant ([`assignable_role`]) and within the actor's
/// own authority, so nobody hands out a capability, a permission flag or
/// the Admin role they do not hold. `field` names the request field.
pub fn grantable_role(
    scope: &Scope,
    by: &Actor,
    role: &str,
    field: &str,
) -> Result<String, CommandError> {
    let role = assignable_role(scope, role).map_err(|e| e.rename_field(|_| field.to_owned()))?;
    by.must_cover(&Authority::of_role(Some(scope), &role, false), field)?;
    Ok(role)
}

/// What a user of the tenant holds.
pub fn authority_of(scope: &Scope, u: &UserView) -> Authority {
    Authority::of_role(Some(scope), &u.role, false)
}

/// Refuses unless `by` may act on `u` as an administrator: itself, or a
/// user who holds nothing `by` does not (no resetting the password of, or
/// disabling, someone above you).
pub fn may_manage(scope: &Scope, by: &Actor, u: &UserView) -> Result<(), CommandError> {
    if by.user_id == u.id {
        return Ok(());
    }
    by.must_cover(&authority_of(scope, u), "id")
}

/// How a user gets the extension behind a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberClaim {
    /// An existing extension nobody is linked to.
    Existing(Id),
    /// The number is free: create an extension.
    New,
}

/// Whether `number` can become a user's primary extension.
pub fn claim_number(scope: &Scope, number: &ExtensionNumber) -> Result<NumberClaim, CommandError> {
    match scope.numbers.get(number.as_str()) {
        None => Ok(NumberClaim::New),
        Some(NumberOwner::Extension(ext)) => match scope.extensions.get(&ext) {
            Some(x) if x.users.is_empty() => Ok(NumberClaim::Existing(ext)),
            _ => Err(number_taken(number)),
        },
        Some(_) => Err(number_taken(number)),
    }
}

/// 409 `EXTENSION_NUMBER_IN_USE`: the number already has an owner in the
/// tenant's shared number space.
pub fn number_taken(number: &ExtensionNumber) -> CommandError {
    CommandError::conflict(
        ConflictKind::ExtensionNumberInUse,
        format!("extension number {} is already in use", number.as_str()),
    )
}

/// Which extension a user's primary extension is to be: one with this
/// number (created when the number is free), or an existing one by id
/// (the vendor dialects address extensions by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrimaryChoice {
    /// The extension with this number.
    Number(ExtensionNumber),
    /// This extension (missing: `NotFound(Extension)`).
    Extension(Id),
}

impl PrimaryChoice {
    /// The number chosen, as of `scope`.
    fn number(&self, scope: &Scope) -> Result<ExtensionNumber, CommandError> {
        match self {
            PrimaryChoice::Number(n) => Ok(n.clone()),
            PrimaryChoice::Extension(id) => {
                let x = scope
                    .extensions
                    .get(id)
                    .ok_or(CommandError::NotFound(Thing::Extension))?;
                Ok(ExtensionNumber(x.number.to_string()))
            }
        }
    }
}

/// Ids minted for a new user and, possibly, its extension and link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewUserIds {
    /// The user.
    pub user_id: NewId,
    /// The extension, if one is created.
    pub extension_id: NewId,
    /// The link.
    pub link_id: NewId,
}

/// Create a user, its secrets and its primary extension (created when its
/// number is free), in one append.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateUser {
    /// Ids to use.
    pub ids: NewUserIds,
    /// Account name.
    pub name: UserName,
    /// Requested role (the actor must hold what it grants).
    pub role: String,
    /// The sign-in password.
    pub password: Secret,
    /// The SIP extension password.
    pub extension_password: Secret,
    /// The voicemail PIN.
    pub voicemail_pin: Secret,
    /// The primary extension.
    pub extension: PrimaryChoice,
    /// Validated other fields (the user table's and the vendor table's).
    pub attrs: Fields,
}

/// Decides CreateUser: unique name, a role the actor may give, a free (or
/// unlinked) extension number. User, extension, secrets and link land in
/// one append.
pub fn create(scope: &Scope, by: &Actor, cmd: &CreateUser) -> Result<Decision, CommandError> {
    if scope.user_by_name(cmd.name.as_str()).is_some() {
        return Err(CommandError::conflict(
            ConflictKind::AlreadyExists,
            format!("a user named {} already exists", cmd.name.as_str()),
        ));
    }
    let role = grantable_role(scope, by, &cmd.role, "role")?;
    let number = cmd.extension.number(scope)?;
    let claim = claim_number(scope, &number)?;
    let user_id = cmd.ids.user_id.get()?;
    let mut events = Vec::with_capacity(6);
    let extension_id = match claim {
        NumberClaim::Existing(id) => id,
        NumberClaim::New => {
            let id = cmd.ids.extension_id.get()?;
            events.push(Event::ExtensionCreated(ExtensionCreated {
                extension_id: id,
                number: number.as_str().to_owned(),
                name: String::new(),
                ext_type: ExtensionType::Sip,
                enabled: true,
            }));
            id
        }
    };
    events.push(Event::UserCreated(UserCreated {
        user_id,
        name: cmd.name.as_str().to_owned(),
        role,
        password_hash: cmd.password.hashed()?.to_owned(),
        attrs: cmd.attrs.clone(),
    }));
    events.push(secret(
        user_id,
        SecretKind::ExtensionPassword,
        &cmd.extension_password,
    )?);
    events.push(secret(
        user_id,
        SecretKind::VoicemailPin,
        &cmd.voicemail_pin,
    )?);
    events.push(Event::UserLinkedToExtension(UserLinkedToExtension {
        link_id: cmd.ids.link_id.get()?,
        user_id,
        extension_id,
    }));
    events.push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
        user_id,
        extension_id: Some(extension_id),
    }));
    Ok(Decision::events(events).expect(StreamId::of("user", user_id), Expected::NoStream))
}

fn secret(user_id: Id, kind: SecretKind, value: &Secret) -> Result<Event, CommandError> {
    Ok(Event::UserSecretChanged(UserSecretChanged {
        user_id,
        secret: kind,
        hash: value.hashed()?.to_owned(),
    }))
}

/// The user `id` of the tenant, or NotFound.
pub fn user(scope: &Scope, id: Id) -> Result<&UserView, CommandError> {
    scope
        .users
        .get(&id)
        .ok_or(CommandError::NotFound(Thing::User))
}

fn is_admin(u: &UserView) -> bool {
    u.role == "Admin" && u.enabled()
}

/// Whether taking `user` out of the Admins (deleting, demoting, disabling)
/// would leave the tenant without an enabled Admin.
fn is_last_admin(scope: &Scope, u: &UserView) -> bool {
    is_admin(u) && scope.users.values().filter(|x| is_admin(x)).count() == 1
}

fn last_admin() -> CommandError {
    CommandError::conflict(
        ConflictKind::LastAdmin,
        "the tenant's last enabled Admin cannot be removed, demoted or disabled",
    )
}

/// Ids minted for an update that may give the user a new extension.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewLinkIds {
    /// The extension, if the new number is free.
    pub extension_id: NewId,
    /// The link to it.
    pub link_id: NewId,
}

/// Update a user: fields of the user table and of the vendor table,
/// possibly a new primary extension, a new PIN and a new password, all in
/// one append (one `UserUpdated` for the fields).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateUser {
    /// The user.
    pub user_id: Id,
    /// Validated incoming fields of the user table (partial).
    pub attrs: Fields,
    /// Validated incoming fields of the vendor table (partial).
    pub vendor_attrs: Fields,
    /// A new primary extension, if given.
    pub extension: Option<PrimaryChoice>,
    /// A new voicemail PIN, if given.
    pub voicemail_pin: Option<Secret>,
    /// A new sign-in password, if given.
    pub password: Option<Secret>,
    /// Ids to use if the new number needs an extension and a link.
    pub ids: NewLinkIds,
}

impl UpdateUser {
    /// An update of `user_id` that changes nothing yet.
    pub fn of(user_id: Id) -> UpdateUser {
        UpdateUser {
            user_id,
            attrs: Fields::new(),
            vendor_attrs: Fields::new(),
            extension: None,
            voicemail_pin: None,
            password: None,
            ids: NewLinkIds::default(),
        }
    }
}

/// Decides UpdateUser: records only changed fields; moving the primary
/// extension unlinks the old one and links the new one. The actor must be
/// the user or [manage](may_manage) it.
pub fn update(scope: &Scope, by: &Actor, cmd: &UpdateUser) -> Result<Decision, CommandError> {
    let u = user(scope, cmd.user_id)?;
    may_manage(scope, by, u)?;
    let mut changes = USER.diff(&u.attrs, &cmd.attrs);
    changes.extend(VENDOR_USER.diff(&u.attrs, &cmd.vendor_attrs));
    if changes.get("enabled") == Some(&Value::Bool(false)) && is_last_admin(scope, u) {
        return Err(last_admin());
    }
    let mut events = Vec::new();
    if !changes.is_empty() {
        events.push(Event::UserUpdated(UserUpdated {
            user_id: cmd.user_id,
            changes: changes.into(),
        }));
    }
    if let Some(pin) = &cmd.voicemail_pin {
        events.push(secret(cmd.user_id, SecretKind::VoicemailPin, pin)?);
    }
    if let Some(password) = &cmd.password {
        events.push(secret(cmd.user_id, SecretKind::Password, password)?);
    }
    if let Some(choice) = &cmd.extension {
        let number = choice.number(scope)?;
        if scope.extension_number_of(u) != Some(number.as_str()) {
            events.extend(move_primary(scope, u, &number, cmd.ids)?);
        }
    }
    if events.is_empty() {
        return Ok(Decision::none());
    }
    Ok(Decision::events(events).expect(
        StreamId::of("user", cmd.user_id),
        Expected::Exactly(u.stamp.version),
    ))
}

/// Events that make `number` the user's primary extension: unlink the old
/// primary, then link (creating the extension if the number is free) the new.
fn move_primary(
    scope: &Scope,
    u: &UserView,
    number: &ExtensionNumber,
    ids: NewLinkIds,
) -> Result<Vec<Event>, CommandError> {
    let mut events = Vec::new();
    // The number may already be one of the user's own linked extensions.
    let own = u.extensions.iter().copied().find(|e| {
        scope
            .extensions
            .get(e)
            .is_some_and(|x| x.number == number.as_str())
    });
    let target = match own {
        Some(e) => e,
        None => match claim_number(scope, number)? {
            NumberClaim::Existing(e) => e,
            NumberClaim::New => {
                let id = ids.extension_id.get()?;
                events.push(Event::ExtensionCreated(ExtensionCreated {
                    extension_id: id,
                    number: number.as_str().to_owned(),
                    name: String::new(),
                    ext_type: ExtensionType::Sip,
                    enabled: true,
                }));
                id
            }
        },
    };
    if let Some(old) = u.primary_extension {
        if let Some(link) = scope
            .links
            .values()
            .find(|l| l.user_id == u.id && l.extension_id == old)
        {
            events.push(Event::UserUnlinkedFromExtension(
                UserUnlinkedFromExtension {
                    link_id: link.id,
                    user_id: u.id,
                    extension_id: old,
                },
            ));
        }
    }
    if own.is_none() {
        events.push(Event::UserLinkedToExtension(UserLinkedToExtension {
            link_id: ids.link_id.get()?,
            user_id: u.id,
            extension_id: target,
        }));
    }
    events.push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
        user_id: u.id,
        extension_id: Some(target),
    }));
    Ok(events)
}

/// Set a user's password, SIP extension password or voicemail PIN.
#[derive(Debug, Clone, PartialEq)]
pub struct SetUserSecret {
    /// The user.
    pub user_id: Id,
    /// Which secret.
    pub kind: SecretKind,
    /// The new value.
    pub secret: Secret,
}

/// Decides SetUserSecret, for the actor itself or a user it
/// [may manage](may_manage).
pub fn set_secret(
    scope: &Scope,
    by: &Actor,
    cmd: &SetUserSecret,
) -> Result<Decision, CommandError> {
    let u = user(scope, cmd.user_id)?;
    may_manage(scope, by, u)?;
    Ok(
        Decision::events(vec![secret(cmd.user_id, cmd.kind, &cmd.secret)?]).expect(
            StreamId::of("user", cmd.user_id),
            Expected::Exactly(u.stamp.version),
        ),
    )
}

/// Changes a user's role. Nobody changes their own role, the actor must
/// hold what the user holds now and what the new role grants, and the last
/// Admin cannot be demoted.
pub fn change_role(
    scope: &Scope,
    by: &Actor,
    user_id: Id,
    role: &str,
) -> Result<Decision, CommandError> {
    let u = user(scope, user_id)?;
    if by.user_id == user_id {
        return Err(CommandError::forbidden(
            Denial::OwnRole,
            "you cannot change your own role",
        ));
    }
    may_manage(scope, by, u)?;
    let role = grantable_role(scope, by, role, "role")?;
    if role == u.role {
        return Ok(Decision::none());
    }
    if is_last_admin(scope, u) {
        return Err(last_admin());
    }
    Ok(
        Decision::events(vec![Event::UserRoleChanged(UserRoleChanged {
            user_id,
            role,
        })])
        .expect(
            StreamId::of("user", user_id),
            Expected::Exactly(u.stamp.version),
        ),
    )
}

/// Resets the user's profile: every field in [`PROFILE_FIELDS`] goes back
/// to its default. Nothing is recorded if nothing changes.
pub fn reset_profile(scope: &Scope, user_id: Id) -> Result<Decision, CommandError> {
    let u = user(scope, user_id)?;
    let incoming: Fields = PROFILE_FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), Value::Null))
        .collect();
    let reset = USER.diff(&u.attrs, &incoming);
    if reset.is_empty() {
        return Ok(Decision::none());
    }
    Ok(
        Decision::events(vec![Event::UserProfileReset(UserProfileReset {
            user_id,
            reset: reset.into(),
        })])
        .expect(
            StreamId::of("user", user_id),
            Expected::Exactly(u.stamp.version),
        ),
    )
}

/// Decides ResetUserProfiles: the profile of each listed user (every user
/// of the tenant when `users` is `None`), in one append; an unknown user
/// refuses the whole command.
pub fn reset_profiles(scope: &Scope, users: Option<&[Id]>) -> Result<Decision, CommandError> {
    let all: Vec<Id>;
    let ids = match users {
        Some(ids) => ids,
        None => {
            all = scope.users.keys().copied().collect();
            &all
        }
    };
    Decision::merge_all(
        ids.iter()
            .map(|id| reset_profile(scope, *id))
            .collect::<Result<Vec<_>, _>>()?,
    )
}

/// Deletes a user: unlinks its extensions, then deletes it. The last Admin
/// cannot be deleted, nor a user above the actor.
pub fn delete(scope: &Scope, by: &Actor, user_id: Id) -> Result<Decision, CommandError> {
    let u = user(scope, user_id)?;
    may_manage(scope, by, u)?;
    if is_last_admin(scope, u) {
        return Err(last_admin());
    }
    let mut events: Vec<Event> = scope
        .links
        .values()
        .filter(|l| l.user_id == user_id)
        .map(|l| {
            Event::UserUnlinkedFromExtension(UserUnlinkedFromExtension {
                link_id: l.id,
                user_id,
                extension_id: l.extension_id,
            })
        })
        .collect();
    for g in &u.groups {
        events.push(Event::GroupMemberRemoved(
            switchboard_events::domain::GroupMemberRemoved {
                group_id: *g,
                user_id,
            },
        ));
    }
    // Agent memberships (and a logged-in agent's status) go with the user.
    events.extend(super::queues::leave_all(scope, user_id));
    events.push(Event::UserDeleted(UserDeleted { user_id }));
    Ok(Decision::events(events).expect(
        StreamId::of("user", user_id),
        Expected::Exactly(u.stamp.version),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_portsips_rules() {
        for ok in ["alice", "o'brien", "a.b", "x_y-z", "Élodie", "1234"] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".alice",
            "alice.",
            "a b",
            "a@b",
            "ADMIN",
            "Root",
            "system",
            "administrator",
        ] {
            assert!(UserName::parse(bad).is_err(), "{bad}");
        }
        assert!(UserName::parse(&"a".repeat(64)).is_ok());
        assert!(UserName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn extension_numbers_are_3_to_64_digits() {
        assert!(ExtensionNumber::parse("101", "n").is_ok());
        assert!(ExtensionNumber::parse(&"9".repeat(64), "n").is_ok());
        for bad in ["", "12", "10a", "+101", " 101", &"9".repeat(65)] {
            assert!(ExtensionNumber::parse(bad, "n").is_err(), "{bad}");
        }
    }

    use crate::commands::testing::{actor, given_in, system_actor};
    use switchboard_projections::Directory;

    const T: Id = Id(77);

    fn ids(n: u64) -> NewUserIds {
        NewUserIds {
            user_id: NewId::given(Id(n)),
            extension_id: NewId::given(Id(n + 1000)),
            link_id: NewId::given(Id(n + 2000)),
        }
    }

    fn create_cmd(n: u64, name: &str, number: &str, role: &str) -> CreateUser {
        CreateUser {
            ids: ids(n),
            name: UserName::parse(name).expect("name"),
            role: role.into(),
            password: Secret::Hashed("p".into()),
            extension_password: Secret::Hashed("e".into()),
            voicemail_pin: Secret::Hashed("v".into()),
            extension: PrimaryChoice::Number(
                ExtensionNumber::parse(number, "extension_number").expect("number"),
            ),
            attrs: Fields::new(),
        }
    }

    /// CreateUser as the system administrator decides it.
    fn create(scope: &Scope, cmd: CreateUser) -> Result<Decision, CommandError> {
        super::create(scope, &system_actor(), &cmd)
    }

    fn scope(dir: &Directory) -> &Scope {
        dir.scope(T).expect("scope")
    }

    /// given the events of earlier decisions, the directory they build.
    fn after(decisions: &[Decision]) -> Directory {
        let events: Vec<Event> = decisions.iter().flat_map(|d| d.events.clone()).collect();
        given_in(T, &events)
    }

    #[test]
    fn given_a_free_number_when_creating_a_user_then_extension_user_secrets_and_link_land_together()
    {
        let empty = given_in(T, &[]);
        let d = create(
            &Scope::default(),
            create_cmd(1, "alice", "101", "StandardUser"),
        )
        .expect("decides");
        let kinds: Vec<&str> = d.events.iter().map(|e| e.event_type()).collect();
        assert_eq!(
            kinds,
            [
                "ExtensionCreated",
                "UserCreated",
                "UserSecretChanged",
                "UserSecretChanged",
                "UserLinkedToExtension",
                "PrimaryExtensionChanged"
            ]
        );
        assert!(empty.scope(T).is_none());
        let dir = after(&[d]);
        let u = scope(&dir).users.get(&Id(1)).expect("user");
        assert_eq!(scope(&dir).extension_number_of(u), Some("101"));
        assert_eq!(u.voicemail_pin_hash().as_deref(), Some("v"));
    }

    #[test]
    fn given_a_user_when_creating_a_duplicate_name_or_number_then_conflict() {
        let first = create(
            &Scope::default(),
            create_cmd(1, "alice", "101", "StandardUser"),
        )
        .expect("decides");
        let dir = after(&[first]);
        let dup_name = create(scope(&dir), create_cmd(2, "ALICE", "102", "StandardUser"));
        assert!(matches!(
            dup_name,
            Err(CommandError::Conflict(ConflictKind::AlreadyExists, _))
        ));
        let dup_number = create(scope(&dir), create_cmd(2, "bob", "101", "StandardUser"));
        assert!(matches!(
            dup_number,
            Err(CommandError::Conflict(
                ConflictKind::ExtensionNumberInUse,
                _
            ))
        ));
    }

    #[test]
    fn given_an_unlinked_extension_when_its_number_is_claimed_then_it_is_reused() {
        let unlinked = Event::ExtensionCreated(ExtensionCreated {
            extension_id: Id(500),
            number: "300".into(),
            name: "Desk".into(),
            ext_type: ExtensionType::Sip,
            enabled: true,
        });
        let dir = given_in(T, &[unlinked]);
        let d =
            create(scope(&dir), create_cmd(1, "alice", "300", "StandardUser")).expect("decides");
        assert!(!d
            .events
            .iter()
            .any(|e| e.event_type() == "ExtensionCreated"));
        assert!(d
            .events
            .iter()
            .any(|e| matches!(e, Event::UserLinkedToExtension(l) if l.extension_id == Id(500))));
    }

    #[test]
    fn given_system_or_unknown_roles_when_creating_then_rejected() {
        for role in ["SystemAdmin", "Dealer", "Wizard"] {
            let r = create(&Scope::default(), create_cmd(1, "alice", "101", role));
            assert!(
                matches!(r, Err(CommandError::Invalid { ref field, .. }) if field == "role"),
                "{role}"
            );
        }
    }

    #[test]
    fn given_the_last_admin_when_deleting_or_demoting_then_refused_and_nobody_changes_their_own_role(
    ) {
        let boss =
            create(&Scope::default(), create_cmd(1, "boss", "100", "Admin")).expect("decides");
        let dir = after(std::slice::from_ref(&boss));
        assert!(matches!(
            delete(scope(&dir), &system_actor(), Id(1)),
            Err(CommandError::Conflict(ConflictKind::LastAdmin, _))
        ));
        assert!(matches!(
            change_role(
                scope(&dir),
                &actor(Id(9), "Admin", None),
                Id(1),
                "StandardUser"
            ),
            Err(CommandError::Conflict(ConflictKind::LastAdmin, _))
        ));
        assert!(matches!(
            change_role(
                scope(&dir),
                &actor(Id(1), "Admin", None),
                Id(1),
                "StandardUser"
            ),
            Err(CommandError::Forbidden(Denial::OwnRole, _))
        ));
        let second = create(scope(&dir), create_cmd(2, "alice", "101", "Admin")).expect("decides");
        let dir = after(&[boss, second]);
        let d = delete(scope(&dir), &system_actor(), Id(1)).expect("another admin remains");
        assert!(matches!(d.events.last(), Some(Event::UserDeleted(_))));
        assert!(d
            .events
            .iter()
            .any(|e| e.event_type() == "UserUnlinkedFromExtension"));
    }

    #[test]
    fn given_a_user_when_setting_the_same_role_then_nothing_is_recorded() {
        let alice = create(
            &Scope::default(),
            create_cmd(1, "alice", "101", "StandardUser"),
        )
        .expect("decides");
        let dir = after(&[alice]);
        assert_eq!(
            change_role(
                scope(&dir),
                &actor(Id(9), "Admin", None),
                Id(1),
                "StandardUser"
            )
            .expect("decides"),
            Decision::none()
        );
    }

    /// A tenant with an Admin (1), a StandardUser (2) and a custom role
    /// "Helpdesk" that manages users and holds the standard user's flags.
    fn staffed() -> Directory {
        let boss = create(&Scope::default(), create_cmd(1, "boss", "100", "Admin")).expect("boss");
        let dir = after(std::slice::from_ref(&boss));
        let alice =
            create(scope(&dir), create_cmd(2, "alice", "101", "StandardUser")).expect("alice");
        let helpdesk = Event::RoleCreated(switchboard_events::domain::RoleCreated {
            role_id: Id(900),
            name: "Helpdesk".into(),
            description: String::new(),
            permissions: HELPDESK.iter().map(|f| (*f).to_owned()).collect(),
        });
        let mut events: Vec<Event> = [boss, alice].into_iter().flat_map(|d| d.events).collect();
        events.push(helpdesk);
        given_in(T, &events)
    }

    const HELPDESK: &[&str] = &[
        "user_management.users",
        "general.voicemail_full_access",
        "general.meeting",
        "policies.internal_calls",
        "policies.domestic_calls",
    ];

    fn helpdesk() -> Actor {
        actor(Id(50), "Helpdesk", Some(HELPDESK))
    }

    fn escalation(r: Result<Decision, CommandError>) -> String {
        match r {
            Err(CommandError::Escalation { field, .. }) => field,
            other => panic!("expected an escalation refusal, got {other:?}"),
        }
    }

    #[test]
    fn given_a_user_manager_when_creating_or_promoting_an_admin_then_refused() {
        let dir = staffed();
        let s = scope(&dir);
        let cmd = create_cmd(3, "mallory", "102", "Admin");
        assert_eq!(escalation(super::create(s, &helpdesk(), &cmd)), "role");
        assert_eq!(
            escalation(change_role(s, &helpdesk(), Id(2), "Admin")),
            "role"
        );
        // A role with a capability the manager lacks (queue management).
        assert_eq!(
            escalation(change_role(s, &helpdesk(), Id(2), "QueueManager")),
            "role"
        );
        // What it holds itself it may give.
        let cmd = create_cmd(3, "bob", "102", "StandardUser");
        assert!(super::create(s, &helpdesk(), &cmd).is_ok());
        let cmd = create_cmd(3, "carol", "102", "Helpdesk");
        assert!(super::create(s, &helpdesk(), &cmd).is_ok());
        // An Admin may create and promote Admins.
        let admin = actor(Id(1), "Admin", None);
        assert!(change_role(s, &admin, Id(2), "Admin").is_ok());
    }

    #[test]
    fn given_a_user_manager_when_acting_on_an_admin_then_refused_but_on_itself_allowed() {
        let dir = staffed();
        let s = scope(&dir);
        let reset = |by: &Actor, id| {
            let cmd = SetUserSecret {
                user_id: id,
                kind: SecretKind::Password,
                secret: Secret::Hashed("h".into()),
            };
            set_secret(s, by, &cmd)
        };
        assert_eq!(escalation(reset(&helpdesk(), Id(1))), "id");
        assert!(reset(&helpdesk(), Id(2)).is_ok(), "a standard user");
        assert!(reset(&actor(Id(1), "Admin", None), Id(1)).is_ok(), "itself");
        assert_eq!(escalation(delete(s, &helpdesk(), Id(1))), "id");
        assert_eq!(
            escalation(change_role(s, &helpdesk(), Id(1), "StandardUser")),
            "id"
        );
        let mut off = Fields::new();
        off.insert("enabled".into(), Value::Bool(false));
        let disable = UpdateUser {
            attrs: off,
            ..UpdateUser::of(Id(1))
        };
        assert_eq!(escalation(update(s, &helpdesk(), &disable)), "id");
    }

    #[test]
    fn given_a_manager_without_the_standard_flags_when_creating_a_standard_user_then_refused() {
        let dir = staffed();
        let cmd = create_cmd(3, "bob", "102", "StandardUser");
        let thin = actor(Id(50), "Thin", Some(&["user_management.users"]));
        assert_eq!(escalation(super::create(scope(&dir), &thin, &cmd)), "role");
    }

    #[test]
    fn given_a_user_when_updating_fields_of_both_tables_a_password_and_the_extension_then_one_append(
    ) {
        // The client-users dialect's PUT: display name (user table), access
        // (vendor table), a new password and another extension, at once.
        let alice = create(
            &Scope::default(),
            create_cmd(1, "alice", "101", "StandardUser"),
        )
        .expect("alice");
        let desk = Event::ExtensionCreated(ExtensionCreated {
            extension_id: Id(500),
            number: "300".into(),
            name: "Desk".into(),
            ext_type: ExtensionType::Sip,
            enabled: true,
        });
        let mut events = alice.events.clone();
        events.push(desk);
        let dir = given_in(T, &events);
        let mut attrs = Fields::new();
        attrs.insert("display_name".into(), Value::from("Alice A"));
        let mut vendor_attrs = Fields::new();
        vendor_attrs.insert("access".into(), Value::from("read_only"));
        let cmd = UpdateUser {
            attrs,
            vendor_attrs,
            extension: Some(PrimaryChoice::Extension(Id(500))),
            password: Some(Secret::Hashed("new".into())),
            ids: NewLinkIds {
                extension_id: NewId::given(Id(600)),
                link_id: NewId::given(Id(601)),
            },
            ..UpdateUser::of(Id(1))
        };
        let d = update(scope(&dir), &system_actor(), &cmd).expect("decides");
        let kinds: Vec<&str> = d.events.iter().map(|e| e.event_type()).collect();
        assert_eq!(
            kinds,
            [
                "UserUpdated",
                "UserSecretChanged",
                "UserUnlinkedFromExtension",
                "UserLinkedToExtension",
                "PrimaryExtensionChanged"
            ]
        );
        match &d.events[0] {
            Event::UserUpdated(u) => {
                assert_eq!(u.changes.get("display_name"), Some(&Value::from("Alice A")));
                assert_eq!(u.changes.get("access"), Some(&Value::from("read_only")));
            }
            other => panic!("{other:?}"),
        }
        let version = scope(&dir).users.get(&Id(1)).expect("alice").stamp.version;
        assert_eq!(
            d.expected,
            vec![(StreamId::of("user", Id(1)), Expected::Exactly(version))],
            "one expectation: the user's version when decided"
        );
        let after = given_in(T, &[events, d.events].concat());
        let u = scope(&after).users.get(&Id(1)).expect("alice");
        assert_eq!(u.password_hash(), "new");
        assert_eq!(scope(&after).extension_number_of(u), Some("300"));
        // An unknown extension id refuses the whole update.
        let cmd = UpdateUser {
            extension: Some(PrimaryChoice::Extension(Id(999))),
            ..cmd
        };
        assert_eq!(
            update(scope(&dir), &system_actor(), &cmd),
            Err(CommandError::NotFound(Thing::Extension))
        );
    }

    #[test]
    fn given_users_when_resetting_profiles_then_one_append_and_an_unknown_user_refuses_all() {
        let a = create(
            &Scope::default(),
            create_cmd(1, "ann", "101", "StandardUser"),
        )
        .expect("a");
        let dir = after(std::slice::from_ref(&a));
        let b = create(scope(&dir), create_cmd(2, "bob", "102", "StandardUser")).expect("b");
        let mut events: Vec<Event> = [a, b].into_iter().flat_map(|d| d.events).collect();
        for user_id in [Id(1), Id(2)] {
            let mut changes = Fields::new();
            changes.insert("enable_dnd".into(), Value::Bool(true));
            events.push(Event::UserUpdated(UserUpdated {
                user_id,
                changes: changes.into(),
            }));
        }
        let dir = given_in(T, &events);
        let d = reset_profiles(scope(&dir), None).expect("decides");
        assert_eq!(d.events.len(), 2);
        assert_eq!(d.expected.len(), 2, "each user's expectation kept");
        let only_bob = reset_profiles(scope(&dir), Some(&[Id(2)])).expect("decides");
        assert_eq!(only_bob.events.len(), 1);
        assert_eq!(
            reset_profiles(scope(&dir), Some(&[Id(2), Id(9)])),
            Err(CommandError::NotFound(Thing::User))
        );
        // Nothing to reset: nothing recorded.
        let reset = given_in(T, &[events, d.events].concat());
        assert_eq!(reset_profiles(scope(&reset), None), Ok(Decision::none()));
    }
}
