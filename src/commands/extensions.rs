//! Extension commands: CreateExtension, UpdateExtension, DeleteExtension,
//! LinkUserToExtension, UnlinkUserFromExtension. Decisions are pure
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
//!   linked extension behind the caller's back).

use super::users::{number_taken, ExtensionNumber};
use super::{CommandError, Decision};
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

fn extension(scope: &Scope, id: Id) -> Result<&ExtensionView, CommandError> {
    scope
        .extensions
        .get(&id)
        .ok_or_else(|| CommandError::NotFound("extension".into()))
}

fn stream(id: Id) -> StreamId {
    StreamId::of("extension", id)
}

/// Create an extension.
#[derive(Debug, Clone)]
pub struct CreateExtension {
    /// New id.
    pub extension_id: Id,
    /// Its number.
    pub number: ExtensionNumber,
    /// Display name (may be empty).
    pub name: ExtensionName,
    /// Kind of endpoint (SIP unless given).
    pub ext_type: ExtensionType,
    /// Whether it may register (true unless given).
    pub enabled: bool,
}

/// Decides CreateExtension: the number must be free in the tenant's number
/// space (whoever holds it: an extension, a call queue or a ring group).
pub fn create(scope: &Scope, cmd: CreateExtension) -> Result<Decision, CommandError> {
    if scope.numbers.contains_key(cmd.number.as_str()) {
        return Err(number_taken(&cmd.number, "number"));
    }
    Ok(
        Decision::events(vec![Event::ExtensionCreated(ExtensionCreated {
            extension_id: cmd.extension_id,
            number: cmd.number.as_str().to_owned(),
            name: cmd.name.as_str().to_owned(),
            ext_type: cmd.ext_type,
            enabled: cmd.enabled,
        })])
        .expect(stream(cmd.extension_id), Expected::NoStream),
    )
}

/// Decides CreateExtension and LinkUserToExtension as one atomic append:
/// a new extension for an existing user. The new extension is nobody's
/// primary, so it becomes the user's primary if the user has none (the
/// rule of [`link`]).
pub fn create_linked(
    scope: &Scope,
    cmd: CreateExtension,
    link_id: Id,
    user_id: Id,
) -> Result<Decision, CommandError> {
    let user = scope
        .users
        .get(&user_id)
        .ok_or_else(|| CommandError::NotFound("user".into()))?;
    let extension_id = cmd.extension_id;
    let mut d = create(scope, cmd)?;
    d.events
        .push(Event::UserLinkedToExtension(UserLinkedToExtension {
            link_id,
            user_id,
            extension_id,
        }));
    if user.primary_extension.is_none() {
        d.events
            .push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
                user_id,
                extension_id: Some(extension_id),
            }));
    }
    Ok(d.expect(
        StreamId::of("user", user_id),
        Expected::Exactly(user.stamp.version),
    ))
}

/// Update an extension (partial: absent fields keep their value).
#[derive(Debug, Clone)]
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
pub fn update(scope: &Scope, cmd: UpdateExtension) -> Result<Decision, CommandError> {
    let ext = extension(scope, cmd.extension_id)?;
    let mut changes = Fields::new();
    if let Some(number) = cmd.number.filter(|n| n.as_str() != ext.number) {
        if scope.numbers.contains_key(number.as_str()) {
            return Err(number_taken(&number, "number"));
        }
        changes.insert("number".into(), Value::Str(number.as_str().to_owned()));
    }
    if let Some(name) = cmd.name.filter(|n| n.as_str() != ext.name) {
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
            "EXTENSION_IN_USE",
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
#[derive(Debug, Clone, Copy)]
pub struct LinkUserToExtension {
    /// New link id.
    pub link_id: Id,
    /// The user.
    pub user_id: Id,
    /// The extension.
    pub extension_id: Id,
}

/// Decides LinkUserToExtension: both must exist and not be linked yet. An
/// extension may be shared by many users. If the user has no primary
/// extension and this one is nobody's primary, it becomes the user's
/// primary (see the module docs).
pub fn link(scope: &Scope, cmd: LinkUserToExtension) -> Result<Decision, CommandError> {
    let user = scope
        .users
        .get(&cmd.user_id)
        .ok_or_else(|| CommandError::NotFound("user".into()))?;
    let ext = extension(scope, cmd.extension_id)?;
    if ext.users.contains(&cmd.user_id)
        || link_between(scope, cmd.user_id, cmd.extension_id).is_some()
    {
        return Err(CommandError::conflict(
            "ALREADY_LINKED",
            format!("the user is already linked to extension {}", ext.number),
        ));
    }
    let mut events = vec![Event::UserLinkedToExtension(UserLinkedToExtension {
        link_id: cmd.link_id,
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
    let user = scope
        .users
        .get(&user_id)
        .ok_or_else(|| CommandError::NotFound("user".into()))?;
    let link = link_between(scope, user_id, extension_id)
        .ok_or_else(|| CommandError::NotFound("link".into()))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::given_in;
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
            extension_id: Id(id),
            number: num(number),
            name: ExtensionName::default(),
            ext_type: ExtensionType::Sip,
            enabled: true,
        }
    }

    fn conflict_code(r: Result<Decision, CommandError>) -> &'static str {
        match r {
            Err(CommandError::Conflict { code, .. }) => code,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    fn not_found(r: Result<Decision, CommandError>) -> String {
        match r {
            Err(CommandError::NotFound(what)) => what,
            other => panic!("expected not found, got {other:?}"),
        }
    }

    // ---- create and link in one append ----

    #[test]
    fn create_linked_creates_links_and_makes_primary_only_for_a_user_without_one() {
        // Given ann without an extension, when a new extension is created for her,
        // then it is created, linked and made her primary, in one decision.
        let scope = given(&[user(1, "ann")]);
        let d = create_linked(&scope, create_cmd(10, "201"), Id(50), Id(1)).expect("decides");
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
        let d = create_linked(&scope, create_cmd(12, "203"), Id(52), Id(2)).expect("decides");
        assert_eq!(
            d.events,
            vec![ext_with_default_name(12, "203"), linked(52, 2, 12)]
        );

        // Unknown user: nothing; a taken number: nothing.
        assert_eq!(
            not_found(create_linked(&scope, create_cmd(13, "204"), Id(53), Id(9))),
            "user"
        );
        assert!(matches!(
            create_linked(&scope, create_cmd(13, "202"), Id(53), Id(2)),
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
            assert!(matches!(e, CommandError::Validation { ref field, .. } if field == "name"));
        }
    }

    #[test]
    fn types_are_sip_webrtc_or_external() {
        assert_eq!(parse_type("SIP"), Ok(ExtensionType::Sip));
        assert_eq!(parse_type("WEBRTC"), Ok(ExtensionType::WebRtc));
        assert_eq!(parse_type("EXTERNAL"), Ok(ExtensionType::External));
        for bad in ["", "sip", "PSTN"] {
            assert!(
                matches!(parse_type(bad), Err(CommandError::Validation { ref field, .. }) if field == "type"),
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
            link_id: Id(link),
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
        let claim = users::claim_number(&s, &num("101"), "extension_number").expect("free");
        assert_eq!(claim, users::NumberClaim::Existing(Id(1)));
    }
}
