//! Extension commands: CreateExtension, UpdateExtension, DeleteExtension,
//! LinkUserToExtension, UnlinkUserFromExtension, RemoveLink,
//! UnlinkAllUsersOfExtension and AssignHotline. Decisions are pure
//! functions of the tenant's scope.
//!
//! Rules:
//! - an extension number is unique in the tenant's number space, which
//!   users' extensions, call queues and ring groups share (409
//!   `EXTENSION_NUMBER_IN_USE`, the same answer user creation gives);
//! - an extension still linked to a user cannot be deleted (409
//!   `EXTENSION_IN_USE`): unlink first, so that no user silently loses its
//!   line;
//! - a user is linked to an extension at most once (409 `ALREADY_LINKED`);
//! - linking a user that has no primary extension to an extension that is
//!   nobody's primary makes it the user's primary, so a user never stays
//!   without an `extension_number` when it could have one;
//! - unlinking a user's primary extension also records
//!   `PrimaryExtensionChanged { extension_id: None }`: the user then has no
//!   `extension_number` until it is given one (we do not pick another
//!   linked extension behind the caller's back);
//! - an extension's *hotline* is the preferred outbound caller ID of the
//!   user it is primary for (PortSIP's `outbound_caller_ids`, the entry
//!   whose provider is [`HOTLINE_PROVIDER`]); an extension that is nobody's
//!   primary has none (409 `EXTENSION_HAS_NO_USER`).

use super::prepare::NewId;
use super::users::{self, number_taken, ExtensionNumber, UpdateUser};
use super::{Actor, CommandError, ConflictKind, Decision, Thing};
use crate::field_tables::user::{USER, USER_SKIP};
use crate::field_tables::{to_json, Mode};
use serde_json::{json, Map, Value as Json};
use switchboard_events::domain::{
    ExtensionCreated, ExtensionDeleted, ExtensionType, ExtensionUpdated, PrimaryExtensionChanged,
    UserLinkedToExtension, UserUnlinkedFromExtension,
};
use switchboard_events::{Event, Expected, Fields, Id, StreamId, Value};
use switchboard_projections::directory::{ext_type_name, ExtensionView, LinkView, Scope};

/// Longest extension display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A valid extension display name: 0 to 64 characters (empty means
/// "no name"), no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionName(String);

impl ExtensionName {
    /// Parses a display name.
    pub fn parse(s: &str) -> Result<ExtensionName, CommandError> {
        if s.chars().count() > MAX_NAME_CHARS {
            return Err(CommandError::invalid(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(CommandError::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(ExtensionName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses an extension type as clients spell it: `SIP`, `WEBRTC` or
/// `EXTERNAL`.
pub fn parse_type(s: &str) -> Result<ExtensionType, CommandError> {
    switchboard_projections::directory::parse_ext_type(s)
        .ok_or_else(|| CommandError::invalid("type", "must be one of SIP, WEBRTC, EXTERNAL"))
}

/// The extension `id` of the tenant, or NotFound.
pub fn extension(scope: &Scope, id: Id) -> Result<&ExtensionView, CommandError> {
    scope
        .extensions
        .get(&id)
        .ok_or(CommandError::NotFound(Thing::Extension))
}

fn stream(id: Id) -> StreamId {
    StreamId::of("extension", id)
}

/// The caller-id provider name that marks a hotline.
pub const HOTLINE_PROVIDER: &str = "etelecom-hotline";

/// A hotline: a phone number (digits, an optional leading `+`, at most 64
/// characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotline(String);

impl Hotline {
    /// Parses a hotline number; `field` names it in the error.
    pub fn parse(s: &str, field: &str) -> Result<Hotline, CommandError> {
        let digits = s.strip_prefix('+').unwrap_or(s);
        if digits.is_empty() || s.len() > 64 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CommandError::invalid(
                field,
                "must be a phone number (digits)",
            ));
        }
        Ok(Hotline(s.to_owned()))
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// For whom a new extension is created, in the same append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForUser {
    /// The user it is linked to (and made primary for, if the user has none).
    pub user_id: Id,
    /// The link's id.
    pub link_id: NewId,
    /// A hotline to set: only possible when the extension becomes the
    /// user's primary (409 `EXTENSION_HAS_NO_USER` otherwise).
    pub hotline: Option<Hotline>,
}

/// Create an extension (optionally linked to a user, with a hotline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateExtension {
    /// New id.
    pub extension_id: NewId,
    /// Its number.
    pub number: ExtensionNumber,
    /// Display name (may be empty).
    pub name: ExtensionName,
    /// Kind of endpoint (SIP unless given).
    pub ext_type: ExtensionType,
    /// Whether it may register (true unless given).
    pub enabled: bool,
    /// The user it is created for, if any.
    pub for_user: Option<ForUser>,
}

/// Decides CreateExtension: the number must be free in the tenant's number
/// space (whoever holds it: an extension, a call queue or a ring group).
/// For a user, the extension is created and linked (and the hotline set)
/// in one append: a failure leaves no half-made extension behind.
pub fn create(scope: &Scope, by: &Actor, cmd: &CreateExtension) -> Result<Decision, CommandError> {
    if scope.numbers.contains_key(cmd.number.as_str()) {
        return Err(number_taken(&cmd.number));
    }
    let extension_id = cmd.extension_id.get()?;
    let created = Decision::events(vec![Event::ExtensionCreated(ExtensionCreated {
        extension_id,
        number: cmd.number.as_str().to_owned(),
        name: cmd.name.as_str().to_owned(),
        ext_type: cmd.ext_type,
        enabled: cmd.enabled,
    })])
    .expect(stream(extension_id), Expected::NoStream);
    let Some(for_user) = &cmd.for_user else {
        return Ok(created);
    };
    let user = users::user(scope, for_user.user_id)?;
    // The new extension is nobody's primary, so it becomes the user's
    // primary exactly when the user has none (the rule of [`link`]).
    let becomes_primary = user.primary_extension.is_none();
    let mut linked = vec![Event::UserLinkedToExtension(UserLinkedToExtension {
        link_id: for_user.link_id.get()?,
        user_id: user.id,
        extension_id,
    })];
    if becomes_primary {
        linked.push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
            user_id: user.id,
            extension_id: Some(extension_id),
        }));
    }
    let linked = Decision::events(linked).expect(
        StreamId::of("user", user.id),
        Expected::Exactly(user.stamp.version),
    );
    let hotline = match &for_user.hotline {
        None => Decision::none(),
        Some(_) if !becomes_primary => {
            return Err(CommandError::conflict(
                ConflictKind::ExtensionHasNoUser,
                "the user already has a primary extension, so this one has no hotline",
            ))
        }
        Some(h) => hotline_of_user(scope, by, user.id, h)?,
    };
    Decision::merge_all([created, linked, hotline])
}

/// Update an extension (partial: absent fields keep their value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateExtension {
    /// The extension.
    pub extension_id: Id,
    /// A new number, if given.
    pub number: Option<ExtensionNumber>,
    /// A new display name, if given.
    pub name: Option<ExtensionName>,
    /// A new type, if given.
    pub ext_type: Option<ExtensionType>,
    /// A new enabled flag, if given.
    pub enabled: Option<bool>,
}

impl UpdateExtension {
    /// An update of `extension_id` that changes nothing yet.
    pub fn of(extension_id: Id) -> UpdateExtension {
        UpdateExtension {
            extension_id,
            number: None,
            name: None,
            ext_type: None,
            enabled: None,
        }
    }
}

/// Decides UpdateExtension: records only the fields that change; a new
/// number must be free.
pub fn update(scope: &Scope, cmd: &UpdateExtension) -> Result<Decision, CommandError> {
    let ext = extension(scope, cmd.extension_id)?;
    let mut changes = Fields::new();
    if let Some(number) = cmd.number.as_ref().filter(|n| n.as_str() != ext.number) {
        if scope.numbers.contains_key(number.as_str()) {
            return Err(number_taken(number));
        }
        changes.insert("number".into(), Value::Str(number.as_str().to_owned()));
    }
    if let Some(name) = cmd.name.as_ref().filter(|n| n.as_str() != ext.name) {
        changes.insert("name".into(), Value::Str(name.as_str().to_owned()));
    }
    if let Some(t) = cmd.ext_type.filter(|t| *t != ext.ext_type) {
        changes.insert("type".into(), Value::Str(ext_type_name(t).to_owned()));
    }
    if let Some(enabled) = cmd.enabled.filter(|e| *e != ext.enabled) {
        changes.insert("enabled".into(), Value::Bool(enabled));
    }
    if changes.is_empty() {
        return Ok(Decision::none());
    }
    Ok(
        Decision::events(vec![Event::ExtensionUpdated(ExtensionUpdated {
            extension_id: cmd.extension_id,
            changes,
        })])
        .expect(
            stream(cmd.extension_id),
            Expected::Exactly(ext.stamp.version),
        ),
    )
}

/// Decides DeleteExtension: refused while any user is linked to it.
pub fn delete(scope: &Scope, extension_id: Id) -> Result<Decision, CommandError> {
    let ext = extension(scope, extension_id)?;
    if !ext.users.is_empty() {
        return Err(CommandError::conflict(
            ConflictKind::ExtensionInUse,
            format!(
                "extension {} is linked to {} user(s); unlink them first",
                ext.number,
                ext.users.len()
            ),
        ));
    }
    Ok(
        Decision::events(vec![Event::ExtensionDeleted(ExtensionDeleted {
            extension_id,
        })])
        .expect(stream(extension_id), Expected::Exactly(ext.stamp.version)),
    )
}

/// The link between a user and an extension, if there is one.
pub fn link_between(scope: &Scope, user_id: Id, extension_id: Id) -> Option<&LinkView> {
    scope
        .links
        .values()
        .find(|l| l.user_id == user_id && l.extension_id == extension_id)
}

/// Link a user to an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkUserToExtension {
    /// New link id.
    pub link_id: NewId,
    /// The user.
    pub user_id: Id,
    /// The extension.
    pub extension_id: Id,
}

/// Decides LinkUserToExtension: both must exist and not be linked yet. An
/// extension may be shared by many users. If the user has no primary
/// extension and this one is nobody's primary, it becomes the user's
/// primary (see the module docs).
pub fn link(scope: &Scope, cmd: &LinkUserToExtension) -> Result<Decision, CommandError> {
    let user = users::user(scope, cmd.user_id)?;
    let ext = extension(scope, cmd.extension_id)?;
    if ext.users.contains(&cmd.user_id)
        || link_between(scope, cmd.user_id, cmd.extension_id).is_some()
    {
        return Err(CommandError::conflict(
            ConflictKind::AlreadyLinked,
            format!("the user is already linked to extension {}", ext.number),
        ));
    }
    let mut events = vec![Event::UserLinkedToExtension(UserLinkedToExtension {
        link_id: cmd.link_id.get()?,
        user_id: cmd.user_id,
        extension_id: cmd.extension_id,
    })];
    if user.primary_extension.is_none() && ext.primary_of.is_none() {
        events.push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
            user_id: cmd.user_id,
            extension_id: Some(cmd.extension_id),
        }));
    }
    Ok(Decision::events(events).expect(
        StreamId::of("user", cmd.user_id),
        Expected::Exactly(user.stamp.version),
    ))
}

/// Decides UnlinkUserFromExtension: the link must exist (404 otherwise,
/// including for an unknown user or extension). Unlinking the user's
/// primary extension leaves it without one.
pub fn unlink(scope: &Scope, user_id: Id, extension_id: Id) -> Result<Decision, CommandError> {
    let user = users::user(scope, user_id)?;
    let link =
        link_between(scope, user_id, extension_id).ok_or(CommandError::NotFound(Thing::Link))?;
    let mut events = vec![Event::UserUnlinkedFromExtension(
        UserUnlinkedFromExtension {
            link_id: link.id,
            user_id,
            extension_id,
        },
    )];
    if user.primary_extension == Some(extension_id) {
        events.push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
            user_id,
            extension_id: None,
        }));
    }
    Ok(Decision::events(events).expect(
        StreamId::of("user", user_id),
        Expected::Exactly(user.stamp.version),
    ))
}

/// Decides RemoveLink: UnlinkUserFromExtension for the link with this id.
pub fn remove_link(scope: &Scope, link_id: Id) -> Result<Decision, CommandError> {
    let link = scope
        .links
        .get(&link_id)
        .ok_or(CommandError::NotFound(Thing::Link))?;
    unlink(scope, link.user_id, link.extension_id)
}

/// Decides UnlinkAllUsersOfExtension: every user of the extension is
/// unlinked in one append (each user's expectation kept); an extension
/// nobody is linked to has no link to remove (404).
pub fn unlink_all(scope: &Scope, extension_id: Id) -> Result<Decision, CommandError> {
    let ext = extension(scope, extension_id)?;
    if ext.users.is_empty() {
        return Err(CommandError::NotFound(Thing::Link));
    }
    Decision::merge_all(
        ext.users
            .iter()
            .map(|u| unlink(scope, *u, extension_id))
            .collect::<Result<Vec<_>, _>>()?,
    )
}

/// Decides AssignHotline: `hotline` becomes the preferred outbound caller
/// ID of the user the extension is primary for.
pub fn assign_hotline(
    scope: &Scope,
    by: &Actor,
    extension_id: Id,
    hotline: &Hotline,
) -> Result<Decision, CommandError> {
    let x = extension(scope, extension_id)?;
    let user = x.primary_of.ok_or_else(|| {
        CommandError::conflict(
            ConflictKind::ExtensionHasNoUser,
            "the extension is nobody's primary extension, so it has no hotline",
        )
    })?;
    hotline_of_user(scope, by, user, hotline)
}

/// The update that makes `hotline` the preferred outbound caller ID of
/// `user` (other entries kept, no longer preferred; an earlier hotline
/// replaced).
fn hotline_of_user(
    scope: &Scope,
    by: &Actor,
    user: Id,
    hotline: &Hotline,
) -> Result<Decision, CommandError> {
    let u = users::user(scope, user)?;
    let current = to_json(&USER.effective(&u.attrs, "outbound_caller_ids"));
    let mut list: Vec<Json> = current
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["provider_id"] != json!(HOTLINE_PROVIDER))
        .map(|mut c| {
            c["preferred"] = json!(false);
            c
        })
        .collect();
    list.push(json!({
        "provider_id": HOTLINE_PROVIDER,
        "caller_id": hotline.as_str(),
        "preferred": true,
        "description": "eTelecom hotline",
    }));
    let mut body = Map::new();
    body.insert("outbound_caller_ids".into(), Json::Array(list));
    let attrs = USER
        .validate(&body, Mode::Update, USER_SKIP)
        .map_err(|e| CommandError::invalid("hotline", e.message))?;
    users::update(
        scope,
        by,
        &UpdateUser {
            attrs,
            ..UpdateUser::of(user)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::{given_in, system_actor};
    use crate::commands::users;
    use switchboard_events::domain::{UserCreated, UserDeleted};
    use switchboard_events::TenantId;

    const T: TenantId = Id(7);

    fn given(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    fn num(s: &str) -> ExtensionNumber {
        ExtensionNumber::parse(s, "number").expect("valid number")
    }

    fn ext(id: u64, number: &str) -> Event {
        Event::ExtensionCreated(ExtensionCreated {
            extension_id: Id(id),
            number: number.into(),
            name: "Reception".into(),
            ext_type: ExtensionType::Sip,
            enabled: true,
        })
    }

    fn user(id: u64, name: &str) -> Event {
        Event::UserCreated(UserCreated {
            user_id: Id(id),
            name: name.into(),
            role: "StandardUser".into(),
            password_hash: "h".into(),
            attrs: Fields::new(),
        })
    }

    fn linked(link: u64, user: u64, ext: u64) -> Event {
        Event::UserLinkedToExtension(UserLinkedToExtension {
            link_id: Id(link),
            user_id: Id(user),
            extension_id: Id(ext),
        })
    }

    fn primary(user: u64, ext: Option<u64>) -> Event {
        Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
            user_id: Id(user),
            extension_id: ext.map(Id),
        })
    }

    fn create_cmd(id: u64, number: &str) -> CreateExtension {
        CreateExtension {
            extension_id: NewId::given(Id(id)),
            number: num(number),
            name: ExtensionName::default(),
            ext_type: ExtensionType::Sip,
            enabled: true,
            for_user: None,
        }
    }

    fn for_user(
        cmd: CreateExtension,
        link: u64,
        user: u64,
        hotline: Option<&str>,
    ) -> CreateExtension {
        CreateExtension {
            for_user: Some(ForUser {
                user_id: Id(user),
                link_id: NewId::given(Id(link)),
                hotline: hotline.map(|h| Hotline::parse(h, "hotline").expect("hotline")),
            }),
            ..cmd
        }
    }

    fn create(scope: &Scope, cmd: CreateExtension) -> Result<Decision, CommandError> {
        super::create(scope, &system_actor(), &cmd)
    }

    fn update(scope: &Scope, cmd: UpdateExtension) -> Result<Decision, CommandError> {
        super::update(scope, &cmd)
    }

    fn link(scope: &Scope, cmd: LinkUserToExtension) -> Result<Decision, CommandError> {
        super::link(scope, &cmd)
    }

    fn conflict_code(r: Result<Decision, CommandError>) -> &'static str {
        match r {
            Err(CommandError::Conflict(kind, _)) => kind.code(),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    fn not_found(r: Result<Decision, CommandError>) -> &'static str {
        match r {
            Err(CommandError::NotFound(what)) => what.noun(),
            other => panic!("expected not found, got {other:?}"),
        }
    }

    // ---- create and link in one append ----

    #[test]
    fn create_linked_creates_links_and_makes_primary_only_for_a_user_without_one() {
        // Given ann without an extension, when a new extension is created for her,
        // then it is created, linked and made her primary, in one decision.
        let scope = given(&[user(1, "ann")]);
        let d = create(&scope, for_user(create_cmd(10, "201"), 50, 1, None)).expect("decides");
        assert_eq!(
            d.events,
            vec![
                ext_with_default_name(10, "201"),
                linked(50, 1, 10),
                primary(1, Some(10))
            ]
        );
        assert_eq!(
            d.expected.len(),
            2,
            "the extension is new and the user unchanged"
        );

        // Given bob who has a primary, then the new one is only linked.
        let scope = given(&[
            user(2, "bob"),
            ext(11, "202"),
            linked(51, 2, 11),
            primary(2, Some(11)),
        ]);
        let d = create(&scope, for_user(create_cmd(12, "203"), 52, 2, None)).expect("decides");
        assert_eq!(
            d.events,
            vec![ext_with_default_name(12, "203"), linked(52, 2, 12)]
        );

        // Unknown user: nothing; a taken number: nothing.
        assert_eq!(
            not_found(create(&scope, for_user(create_cmd(13, "204"), 53, 9, None))),
            "user"
        );
        assert!(matches!(
            create(&scope, for_user(create_cmd(13, "202"), 53, 2, None)),
            Err(CommandError::Conflict { .. })
        ));
    }

    fn ext_with_default_name(id: u64, number: &str) -> Event {
        Event::ExtensionCreated(ExtensionCreated {
            extension_id: Id(id),
            number: number.into(),
            name: String::new(),
            ext_type: ExtensionType::Sip,
            enabled: true,
        })
    }

    // ---- parsing at the edge ----

    #[test]
    fn names_are_0_to_64_characters_without_control_characters() {
        assert!(ExtensionName::parse("").is_ok());
        assert!(ExtensionName::parse(&"é".repeat(64)).is_ok());
        for bad in ["a\nb", "\u{7}", &"x".repeat(65)] {
            let e = ExtensionName::parse(bad).expect_err(bad);
            assert!(matches!(e, CommandError::Invalid { ref field, .. } if field == "name"));
        }
    }

    #[test]
    fn types_are_sip_webrtc_or_external() {
        assert_eq!(parse_type("SIP"), Ok(ExtensionType::Sip));
        assert_eq!(parse_type("WEBRTC"), Ok(ExtensionType::WebRtc));
        assert_eq!(parse_type("EXTERNAL"), Ok(ExtensionType::External));
        for bad in ["", "sip", "PSTN"] {
            assert!(
                matches!(parse_type(bad), Err(CommandError::Invalid { ref field, .. }) if field == "type"),
                "{bad}"
            );
        }
    }

    // ---- CreateExtension ----

    #[test]
    fn given_nothing_when_creating_then_extension_created() {
        let d = create(&given(&[]), create_cmd(1, "101")).expect("created");
        assert_eq!(
            d.events,
            vec![Event::ExtensionCreated(ExtensionCreated {
                extension_id: Id(1),
                number: "101".into(),
                name: String::new(),
                ext_type: ExtensionType::Sip,
                enabled: true,
            })]
        );
        assert_eq!(
            d.expected,
            vec![(StreamId::of("extension", Id(1)), Expected::NoStream)]
        );
    }

    #[test]
    fn given_an_extension_when_creating_the_same_number_then_number_in_use() {
        let s = given(&[ext(1, "101")]);
        assert_eq!(
            conflict_code(create(&s, create_cmd(2, "101"))),
            "EXTENSION_NUMBER_IN_USE"
        );
        assert!(create(&s, create_cmd(2, "102")).is_ok());
    }

    #[test]
    fn given_a_users_primary_number_when_creating_it_then_number_in_use() {
        // The number space is shared with users' extensions.
        let s = given(&[
            ext(1, "101"),
            user(10, "alice"),
            linked(20, 10, 1),
            primary(10, Some(1)),
        ]);
        assert_eq!(
            conflict_code(create(&s, create_cmd(2, "101"))),
            "EXTENSION_NUMBER_IN_USE"
        );
    }

    #[test]
    fn given_a_deleted_extension_when_creating_its_number_then_allowed() {
        let s = given(&[
            ext(1, "101"),
            Event::ExtensionDeleted(ExtensionDeleted {
                extension_id: Id(1),
            }),
        ]);
        assert!(create(&s, create_cmd(2, "101")).is_ok());
    }

    #[test]
    fn numbers_are_unique_per_tenant_only() {
        let other = given_in(Id(8), &[ext(1, "101")]);
        let s = other.scope(T).cloned().unwrap_or_default();
        assert!(create(&s, create_cmd(2, "101")).is_ok());
    }

    // ---- UpdateExtension ----

    #[test]
    fn given_an_extension_when_updating_then_only_changes_are_recorded() {
        let s = given(&[ext(1, "101")]);
        let d = update(
            &s,
            UpdateExtension {
                extension_id: Id(1),
                name: Some(ExtensionName::parse("Reception").expect("name")),
                ext_type: Some(ExtensionType::WebRtc),
                enabled: Some(false),
                number: Some(num("101")),
            },
        )
        .expect("updated");
        let mut changes = Fields::new();
        changes.insert("type".into(), Value::Str("WEBRTC".into()));
        changes.insert("enabled".into(), Value::Bool(false));
        assert_eq!(
            d.events,
            vec![Event::ExtensionUpdated(ExtensionUpdated {
                extension_id: Id(1),
                changes,
            })]
        );
        assert_eq!(
            d.expected,
            vec![(StreamId::of("extension", Id(1)), Expected::Exactly(1))]
        );
    }

    #[test]
    fn given_an_extension_when_nothing_changes_then_nothing_recorded() {
        let s = given(&[ext(1, "101")]);
        let same = UpdateExtension {
            name: Some(ExtensionName::parse("Reception").expect("name")),
            ..UpdateExtension::of(Id(1))
        };
        assert_eq!(update(&s, same), Ok(Decision::none()));
    }

    #[test]
    fn given_an_extension_when_renumbering_to_a_free_number_then_the_number_moves() {
        let events = vec![ext(1, "101")];
        let d = update(
            &given(&events),
            UpdateExtension {
                number: Some(num("201")),
                ..UpdateExtension::of(Id(1))
            },
        )
        .expect("renumbered");
        let s = given(&[events, d.events].concat());
        assert_eq!(s.extensions[&Id(1)].number, "201");
        assert!(!s.numbers.contains_key("101"), "old number released");
        assert!(s.numbers.contains_key("201"));
        assert!(create(&s, create_cmd(2, "101")).is_ok());
        assert_eq!(
            conflict_code(create(&s, create_cmd(2, "201"))),
            "EXTENSION_NUMBER_IN_USE"
        );
    }

    #[test]
    fn given_two_extensions_when_renumbering_onto_the_other_then_number_in_use() {
        let s = given(&[ext(1, "101"), ext(2, "102")]);
        let r = update(
            &s,
            UpdateExtension {
                number: Some(num("102")),
                ..UpdateExtension::of(Id(1))
            },
        );
        assert_eq!(conflict_code(r), "EXTENSION_NUMBER_IN_USE");
    }

    #[test]
    fn given_nothing_when_updating_then_not_found() {
        let r = update(
            &given(&[]),
            UpdateExtension {
                enabled: Some(false),
                ..UpdateExtension::of(Id(1))
            },
        );
        assert_eq!(not_found(r), "extension");
    }

    // ---- DeleteExtension ----

    #[test]
    fn given_an_unlinked_extension_when_deleting_then_deleted() {
        let d = delete(&given(&[ext(1, "101")]), Id(1)).expect("deleted");
        assert_eq!(
            d.events,
            vec![Event::ExtensionDeleted(ExtensionDeleted {
                extension_id: Id(1)
            })]
        );
    }

    #[test]
    fn given_a_linked_extension_when_deleting_then_in_use() {
        let s = given(&[ext(1, "101"), user(10, "alice"), linked(20, 10, 1)]);
        assert_eq!(conflict_code(delete(&s, Id(1))), "EXTENSION_IN_USE");
    }

    #[test]
    fn given_an_extension_whose_user_was_deleted_when_deleting_then_deleted() {
        let s = given(&[ext(1, "101"), user(10, "alice"), linked(20, 10, 1)]);
        let d = users::delete(&s, &crate::commands::testing::system_actor(), Id(10))
            .expect("user deleted");
        let s = given(
            &[
                vec![ext(1, "101"), user(10, "alice"), linked(20, 10, 1)],
                d.events,
            ]
            .concat(),
        );
        assert!(delete(&s, Id(1)).is_ok());
    }

    #[test]
    fn given_nothing_when_deleting_then_not_found() {
        assert_eq!(not_found(delete(&given(&[]), Id(1))), "extension");
    }

    // ---- LinkUserToExtension ----

    fn link_cmd(link: u64, user: u64, ext: u64) -> LinkUserToExtension {
        LinkUserToExtension {
            link_id: NewId::given(Id(link)),
            user_id: Id(user),
            extension_id: Id(ext),
        }
    }

    fn alice_on_101() -> Vec<Event> {
        vec![
            ext(1, "101"),
            user(10, "alice"),
            linked(20, 10, 1),
            primary(10, Some(1)),
        ]
    }

    #[test]
    fn given_a_user_with_a_primary_when_linking_another_then_linked_only() {
        let events = [alice_on_101(), vec![ext(2, "102")]].concat();
        let d = link(&given(&events), link_cmd(21, 10, 2)).expect("linked");
        assert_eq!(d.events, vec![linked(21, 10, 2)]);
        assert_eq!(
            d.expected,
            vec![(StreamId::of("user", Id(10)), Expected::Exactly(3))]
        );
        let s = given(&[events, d.events].concat());
        assert_eq!(s.users[&Id(10)].primary_extension, Some(Id(1)));
        assert_eq!(s.users[&Id(10)].extensions.len(), 2);
    }

    #[test]
    fn given_a_user_without_primary_when_linking_then_it_becomes_primary() {
        let events = vec![user(10, "alice"), ext(2, "102")];
        let d = link(&given(&events), link_cmd(21, 10, 2)).expect("linked");
        assert_eq!(d.events, vec![linked(21, 10, 2), primary(10, Some(2))]);
        let s = given(&[events, d.events].concat());
        assert_eq!(s.extension_number_of(&s.users[&Id(10)]), Some("102"));
    }

    #[test]
    fn given_another_users_primary_when_linking_then_shared_but_not_primary() {
        // Shared line: bob joins alice's primary extension; it stays hers.
        let events = [alice_on_101(), vec![user(11, "bob")]].concat();
        let d = link(&given(&events), link_cmd(21, 11, 1)).expect("linked");
        assert_eq!(d.events, vec![linked(21, 11, 1)]);
        let s = given(&[events, d.events].concat());
        assert_eq!(s.extensions[&Id(1)].users.len(), 2);
        assert_eq!(s.extensions[&Id(1)].primary_of, Some(Id(10)));
        assert_eq!(s.users[&Id(11)].primary_extension, None);
    }

    #[test]
    fn given_a_link_when_linking_again_then_already_linked() {
        let s = given(&alice_on_101());
        assert_eq!(
            conflict_code(link(&s, link_cmd(21, 10, 1))),
            "ALREADY_LINKED"
        );
    }

    #[test]
    fn given_unknown_user_or_extension_when_linking_then_not_found() {
        let s = given(&alice_on_101());
        assert_eq!(not_found(link(&s, link_cmd(21, 99, 1))), "user");
        assert_eq!(not_found(link(&s, link_cmd(21, 10, 99))), "extension");
    }

    // ---- UnlinkUserFromExtension ----

    #[test]
    fn given_a_secondary_link_when_unlinking_then_only_unlinked() {
        let events = [alice_on_101(), vec![ext(2, "102"), linked(21, 10, 2)]].concat();
        let d = unlink(&given(&events), Id(10), Id(2)).expect("unlinked");
        assert_eq!(
            d.events,
            vec![Event::UserUnlinkedFromExtension(
                UserUnlinkedFromExtension {
                    link_id: Id(21),
                    user_id: Id(10),
                    extension_id: Id(2),
                }
            )]
        );
        let s = given(&[events, d.events].concat());
        assert_eq!(s.users[&Id(10)].primary_extension, Some(Id(1)));
        assert!(s.extensions[&Id(2)].users.is_empty());
        assert!(delete(&s, Id(2)).is_ok(), "no longer in use");
    }

    #[test]
    fn given_the_primary_link_when_unlinking_then_the_user_has_no_primary() {
        let events = alice_on_101();
        let d = unlink(&given(&events), Id(10), Id(1)).expect("unlinked");
        assert_eq!(
            d.events,
            vec![
                Event::UserUnlinkedFromExtension(UserUnlinkedFromExtension {
                    link_id: Id(20),
                    user_id: Id(10),
                    extension_id: Id(1),
                }),
                primary(10, None),
            ]
        );
        let s = given(&[events, d.events].concat());
        assert_eq!(s.users[&Id(10)].primary_extension, None);
        assert_eq!(s.extensions[&Id(1)].primary_of, None);
        assert!(s.user_by_number("101").is_none());
        assert!(s.links.is_empty());
    }

    #[test]
    fn given_no_link_when_unlinking_then_not_found() {
        let s = given(&[alice_on_101(), vec![ext(2, "102"), user(11, "bob")]].concat());
        assert_eq!(not_found(unlink(&s, Id(10), Id(2))), "link");
        assert_eq!(not_found(unlink(&s, Id(11), Id(1))), "link");
        assert_eq!(not_found(unlink(&s, Id(10), Id(99))), "link");
        assert_eq!(not_found(unlink(&s, Id(99), Id(1))), "user");
    }

    #[test]
    fn given_a_shared_line_when_one_user_unlinks_then_the_other_keeps_it() {
        let events = [alice_on_101(), vec![user(11, "bob"), linked(21, 11, 1)]].concat();
        let d = unlink(&given(&events), Id(11), Id(1)).expect("unlinked");
        assert_eq!(
            d.events.len(),
            1,
            "bob's unlink leaves alice's primary alone"
        );
        let s = given(&[events, d.events].concat());
        assert_eq!(s.extensions[&Id(1)].users.len(), 1);
        assert_eq!(s.extensions[&Id(1)].primary_of, Some(Id(10)));
    }

    // ---- user deletion removes links ----

    #[test]
    fn given_a_linked_user_when_deleted_then_its_links_are_gone() {
        let events = [
            alice_on_101(),
            vec![
                ext(2, "102"),
                linked(21, 10, 2),
                user(11, "bob"),
                linked(22, 11, 2),
            ],
        ]
        .concat();
        let d = users::delete(
            &given(&events),
            &crate::commands::testing::system_actor(),
            Id(10),
        )
        .expect("deleted");
        let unlinks = d
            .events
            .iter()
            .filter(|e| matches!(e, Event::UserUnlinkedFromExtension(_)))
            .count();
        assert_eq!(unlinks, 2);
        assert!(d
            .events
            .contains(&Event::UserDeleted(UserDeleted { user_id: Id(10) })));
        let s = given(&[events, d.events].concat());
        assert_eq!(s.links.len(), 1, "bob's link stays");
        assert!(s.extensions[&Id(1)].users.is_empty());
        assert_eq!(s.extensions[&Id(1)].primary_of, None);
        assert_eq!(s.extensions[&Id(2)].users.len(), 1);
        // The extensions themselves survive and keep their numbers.
        assert!(s.numbers.contains_key("101"));
        assert!(delete(&s, Id(1)).is_ok());
        assert_eq!(conflict_code(delete(&s, Id(2))), "EXTENSION_IN_USE");
    }

    #[test]
    fn an_unlinked_extension_can_become_a_new_users_primary() {
        // users::claim_number lets user creation adopt an unlinked
        // extension, so creating an extension first and then a user on its
        // number works.
        let s = given(&[ext(1, "101")]);
        let claim = users::claim_number(&s, &num("101")).expect("free");
        assert_eq!(claim, users::NumberClaim::Existing(Id(1)));
    }

    // ---- composites that were decided in the eTelecom and v1 dialects ----

    fn unlinked(link: u64, user: u64, ext: u64) -> Event {
        Event::UserUnlinkedFromExtension(UserUnlinkedFromExtension {
            link_id: Id(link),
            user_id: Id(user),
            extension_id: Id(ext),
        })
    }

    #[test]
    fn given_a_shared_line_when_unlinking_all_its_users_then_one_append_keeps_every_expectation() {
        let events = [alice_on_101(), vec![user(11, "bob"), linked(21, 11, 1)]].concat();
        let s = given(&events);
        let d = unlink_all(&s, Id(1)).expect("decides");
        assert_eq!(
            d.events,
            vec![unlinked(20, 10, 1), primary(10, None), unlinked(21, 11, 1)]
        );
        assert_eq!(
            d.expected,
            vec![
                (StreamId::of("user", Id(10)), Expected::Exactly(3)),
                (StreamId::of("user", Id(11)), Expected::Exactly(2)),
            ]
        );
        let s = given(&[events, d.events].concat());
        assert!(s.extensions[&Id(1)].users.is_empty());
        // Nobody left: nothing to unlink; an unknown extension: not found.
        assert_eq!(not_found(unlink_all(&s, Id(1))), "link");
        assert_eq!(not_found(unlink_all(&s, Id(99))), "extension");
    }

    #[test]
    fn given_a_link_id_when_removing_it_then_its_user_is_unlinked() {
        let s = given(&alice_on_101());
        let d = remove_link(&s, Id(20)).expect("decides");
        assert_eq!(d.events, vec![unlinked(20, 10, 1), primary(10, None)]);
        assert_eq!(not_found(remove_link(&s, Id(99))), "link");
    }

    fn caller_ids(d: &Decision) -> Vec<serde_json::Value> {
        let Some(Event::UserUpdated(u)) =
            d.events.iter().find(|e| matches!(e, Event::UserUpdated(_)))
        else {
            panic!("no UserUpdated in {d:?}");
        };
        to_json(u.changes.get("outbound_caller_ids").expect("caller ids"))
            .as_array()
            .cloned()
            .expect("a list")
    }

    #[test]
    fn given_a_primary_extension_when_assigning_a_hotline_then_it_is_its_users_preferred_caller_id()
    {
        let s = given(&alice_on_101());
        let hotline = Hotline::parse("+4930123", "hotline").expect("valid");
        let d = assign_hotline(&s, &system_actor(), Id(1), &hotline).expect("decides");
        let ids = caller_ids(&d);
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0]["provider_id"], HOTLINE_PROVIDER);
        assert_eq!(ids[0]["caller_id"], "+4930123");
        assert_eq!(ids[0]["preferred"], true);
        // A second hotline replaces the first.
        let s2 = given(&[alice_on_101(), d.events].concat());
        let next = Hotline::parse("555", "hotline").expect("valid");
        let ids = caller_ids(&assign_hotline(&s2, &system_actor(), Id(1), &next).expect("decides"));
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0]["caller_id"], "555");
        // An extension that is nobody's primary has no hotline.
        let s3 = given(&[ext(2, "102")]);
        assert_eq!(
            conflict_code(assign_hotline(&s3, &system_actor(), Id(2), &next)),
            "EXTENSION_HAS_NO_USER"
        );
        assert_eq!(
            not_found(assign_hotline(&s3, &system_actor(), Id(9), &next)),
            "extension"
        );
        assert!(Hotline::parse("12a", "hotline_id").is_err());
        assert!(Hotline::parse("+", "hotline_id").is_err());
    }

    #[test]
    fn given_a_user_when_creating_an_extension_with_a_hotline_then_created_linked_and_set_in_one_append(
    ) {
        // ann has no primary: the new extension becomes hers, with the hotline.
        let s = given(&[user(1, "ann")]);
        let d = create(&s, for_user(create_cmd(10, "201"), 50, 1, Some("777"))).expect("decides");
        let kinds: Vec<&str> = d.events.iter().map(|e| e.event_type()).collect();
        assert_eq!(
            kinds,
            [
                "ExtensionCreated",
                "UserLinkedToExtension",
                "PrimaryExtensionChanged",
                "UserUpdated"
            ]
        );
        assert_eq!(caller_ids(&d)[0]["caller_id"], "777");
        assert_eq!(
            d.expected,
            vec![
                (StreamId::of("extension", Id(10)), Expected::NoStream),
                (StreamId::of("user", Id(1)), Expected::Exactly(1)),
            ],
            "the hotline's expectation on the user is the link's, kept once"
        );
        // alice already has a primary: the new one would have no hotline,
        // so nothing is created at all.
        let s = given(&alice_on_101());
        assert_eq!(
            conflict_code(create(
                &s,
                for_user(create_cmd(11, "202"), 51, 10, Some("777"))
            )),
            "EXTENSION_HAS_NO_USER"
        );
    }
}
