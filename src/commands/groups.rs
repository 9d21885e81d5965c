//! User group commands: CreateGroup, UpdateGroup, DeleteGroup,
//! AddGroupMember, RemoveGroupMember. Members are addressed by the number of
//! their primary extension, as PortSIP does.

use super::prepare::NewId;
use super::users::ExtensionNumber;
use super::{CommandError, ConflictKind, Decision, Thing};
use crate::field_tables::Table;
use switchboard_events::domain::{
    GroupCreated, GroupDeleted, GroupMemberAdded, GroupMemberRemoved, GroupUpdated,
};
use switchboard_events::{Event, Expected, Fields, Id, StreamId, Value};
use switchboard_projections::directory::{GroupView, Scope, UserView};

/// A valid group name: 1 to 64 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    /// Parses a group name.
    pub fn parse(s: &str) -> Result<GroupName, CommandError> {
        let n = s.chars().count();
        if n == 0 || n > 64 || s.trim().is_empty() {
            return Err(CommandError::invalid("name", "must be 1 to 64 characters"));
        }
        Ok(GroupName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The group with this id, or NotFound.
pub fn group(scope: &Scope, id: Id) -> Result<&GroupView, CommandError> {
    scope
        .groups
        .get(&id)
        .ok_or(CommandError::NotFound(Thing::Group))
}

/// The user whose primary extension has `number`, or NotFound.
pub fn member_user<'a>(
    scope: &'a Scope,
    number: &ExtensionNumber,
) -> Result<&'a UserView, CommandError> {
    scope
        .user_by_number(number.as_str())
        .ok_or(CommandError::NotFound(Thing::User))
}

fn name_taken(scope: &Scope, name: &GroupName, except: Option<Id>) -> Result<(), CommandError> {
    match scope.groups_by_name.get(&name.as_str().to_lowercase()) {
        Some(id) if Some(*id) != except => Err(CommandError::conflict(
            ConflictKind::AlreadyExists,
            format!("a group named {} already exists", name.as_str()),
        )),
        _ => Ok(()),
    }
}

fn expect(g: &GroupView) -> (StreamId, Expected) {
    (
        StreamId::of("group", g.id),
        Expected::Exactly(g.stamp.version),
    )
}

/// Create a group.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateGroup {
    /// New id.
    pub group_id: NewId,
    /// Name (validated).
    pub name: GroupName,
    /// Other fields, validated by the group table.
    pub attrs: Fields,
}

/// Decides CreateGroup: the name must be unused in the tenant
/// (case-insensitively).
pub fn create(scope: &Scope, cmd: CreateGroup) -> Result<Decision, CommandError> {
    name_taken(scope, &cmd.name, None)?;
    let group_id = cmd.group_id.get()?;
    Ok(Decision::events(vec![Event::GroupCreated(GroupCreated {
        group_id,
        name: cmd.name.as_str().to_owned(),
        attrs: cmd.attrs,
    })])
    .expect(StreamId::of("group", group_id), Expected::NoStream))
}

/// Update a group.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateGroup {
    /// The group.
    pub group_id: Id,
    /// New name, if given.
    pub name: Option<GroupName>,
    /// Validated incoming fields (partial).
    pub incoming: Fields,
}

/// Decides UpdateGroup: records only what changes; a new name must not
/// belong to another group.
pub fn update(scope: &Scope, table: &Table, cmd: UpdateGroup) -> Result<Decision, CommandError> {
    let g = group(scope, cmd.group_id)?;
    let mut changes = table.diff(&g.attrs, &cmd.incoming);
    if let Some(name) = cmd.name.filter(|n| n.as_str() != g.name) {
        name_taken(scope, &name, Some(g.id))?;
        changes.insert("name".into(), Value::Str(name.as_str().to_owned()));
    }
    if changes.is_empty() {
        return Ok(Decision::none());
    }
    let (stream, expected) = expect(g);
    Ok(Decision::events(vec![Event::GroupUpdated(GroupUpdated {
        group_id: g.id,
        changes,
    })])
    .expect(stream, expected))
}

/// Decides DeleteGroup. Memberships go with the group (the projection drops
/// them from the members' views).
pub fn delete(scope: &Scope, group_id: Id) -> Result<Decision, CommandError> {
    let g = group(scope, group_id)?;
    let (stream, expected) = expect(g);
    Ok(
        Decision::events(vec![Event::GroupDeleted(GroupDeleted { group_id })])
            .expect(stream, expected),
    )
}

/// Decides AddGroupMember: the number must be some user's primary
/// extension, and that user not yet a member.
pub fn add_member(
    scope: &Scope,
    group_id: Id,
    number: &ExtensionNumber,
) -> Result<Decision, CommandError> {
    let g = group(scope, group_id)?;
    let u = member_user(scope, number)?;
    if g.members.contains(&u.id) {
        return Err(CommandError::conflict(
            ConflictKind::AlreadyExists,
            format!(
                "the user with extension {} is already a member",
                number.as_str()
            ),
        ));
    }
    let (stream, expected) = expect(g);
    Ok(
        Decision::events(vec![Event::GroupMemberAdded(GroupMemberAdded {
            group_id,
            user_id: u.id,
        })])
        .expect(stream, expected),
    )
}

/// Decides RemoveGroupMember: the user behind the number must be a member.
pub fn remove_member(
    scope: &Scope,
    group_id: Id,
    number: &ExtensionNumber,
) -> Result<Decision, CommandError> {
    let g = group(scope, group_id)?;
    let u = member_user(scope, number)?;
    if !g.members.contains(&u.id) {
        return Err(CommandError::NotFound(Thing::GroupMember));
    }
    let (stream, expected) = expect(g);
    Ok(
        Decision::events(vec![Event::GroupMemberRemoved(GroupMemberRemoved {
            group_id,
            user_id: u.id,
        })])
        .expect(stream, expected),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::prepare::NewId;
    use crate::commands::testing::given_in;
    use crate::field_tables::group::{GROUP, GROUP_SKIP};
    use crate::field_tables::Mode;
    use serde_json::json;
    use switchboard_events::TenantId;

    const T: TenantId = Id(9);
    const SALES: Id = Id(200);
    const OPS: Id = Id(201);
    const ALICE: Id = Id(300);
    const BOB: Id = Id(310);

    fn sales() -> Event {
        Event::GroupCreated(GroupCreated {
            group_id: SALES,
            name: "Sales".into(),
            attrs: Fields::new(),
        })
    }

    fn ops() -> Event {
        Event::GroupCreated(GroupCreated {
            group_id: OPS,
            name: "Ops".into(),
            attrs: Fields::new(),
        })
    }

    /// The events that create a user with a primary extension `number`,
    /// as the CreateUser decision makes them.
    fn user(id: Id, name: &str, number: &str) -> Vec<Event> {
        crate::commands::queues::tests_support::user(id, name, number)
    }

    fn added(group_id: Id, user_id: Id) -> Event {
        Event::GroupMemberAdded(GroupMemberAdded { group_id, user_id })
    }

    fn num(s: &str) -> ExtensionNumber {
        ExtensionNumber::parse(s, "extension_number").expect("number")
    }

    fn scope(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    fn history(parts: &[Vec<Event>]) -> Scope {
        scope(&parts.concat())
    }

    fn conflict(code: &'static str) -> impl Fn(&CommandError) -> bool {
        move |e| matches!(e, CommandError::Conflict(k, _) if k.code() == code)
    }

    #[test]
    fn group_names_are_1_to_64_characters() {
        assert!(GroupName::parse("Sales").is_ok());
        assert!(GroupName::parse(&"ü".repeat(64)).is_ok());
        for bad in ["", "  ", &"a".repeat(65)] {
            assert!(matches!(
                GroupName::parse(bad),
                Err(CommandError::Invalid { ref field, .. }) if field == "name"
            ));
        }
    }

    #[test]
    fn given_nothing_when_creating_a_group_then_it_is_created() {
        let attrs = GROUP
            .validate(
                json!({"description": "the sales team"})
                    .as_object()
                    .expect("object"),
                Mode::Create,
                GROUP_SKIP,
            )
            .expect("valid");
        let d = create(
            &scope(&[]),
            CreateGroup {
                group_id: NewId::given(SALES),
                name: GroupName::parse("Sales").expect("name"),
                attrs: attrs.clone(),
            },
        )
        .expect("created");
        assert_eq!(
            d.events,
            vec![Event::GroupCreated(GroupCreated {
                group_id: SALES,
                name: "Sales".into(),
                attrs,
            })]
        );
        assert_eq!(
            d.expected,
            vec![(StreamId::of("group", SALES), Expected::NoStream)]
        );
    }

    #[test]
    fn given_a_group_when_creating_the_same_name_in_another_case_then_conflict() {
        let e = create(
            &scope(&[sales()]),
            CreateGroup {
                group_id: NewId::given(OPS),
                name: GroupName::parse("SALES").expect("name"),
                attrs: Fields::new(),
            },
        )
        .expect_err("duplicate");
        assert!(conflict("ALREADY_EXISTS")(&e));
    }

    #[test]
    fn given_a_group_when_updating_then_only_changes_are_recorded() {
        let s = scope(&[sales()]);
        let mut incoming = Fields::new();
        incoming.insert("description".into(), Value::Str("new".into()));
        incoming.insert("outbound_caller_ids".into(), Value::List(vec![]));
        let d = update(
            &s,
            &GROUP,
            UpdateGroup {
                group_id: SALES,
                name: Some(GroupName::parse("Sales").expect("name")),
                incoming,
            },
        )
        .expect("updated");
        let mut changes = Fields::new();
        changes.insert("description".into(), Value::Str("new".into()));
        assert_eq!(
            d.events,
            vec![Event::GroupUpdated(GroupUpdated {
                group_id: SALES,
                changes
            })]
        );
        assert_eq!(
            d.expected,
            vec![(StreamId::of("group", SALES), Expected::Exactly(1))]
        );
    }

    #[test]
    fn given_a_group_when_renaming_then_the_name_is_recorded() {
        let d = update(
            &scope(&[sales()]),
            &GROUP,
            UpdateGroup {
                group_id: SALES,
                name: Some(GroupName::parse("sales").expect("name")),
                incoming: Fields::new(),
            },
        )
        .expect("renamed");
        let mut changes = Fields::new();
        changes.insert("name".into(), Value::Str("sales".into()));
        assert_eq!(
            d.events,
            vec![Event::GroupUpdated(GroupUpdated {
                group_id: SALES,
                changes
            })]
        );
    }

    #[test]
    fn given_a_group_when_nothing_changes_then_nothing_is_recorded() {
        let d = update(
            &scope(&[sales()]),
            &GROUP,
            UpdateGroup {
                group_id: SALES,
                name: None,
                incoming: Fields::new(),
            },
        )
        .expect("no-op");
        assert_eq!(d, Decision::none());
    }

    #[test]
    fn given_two_groups_when_renaming_one_to_the_other_then_conflict() {
        let e = update(
            &scope(&[sales(), ops()]),
            &GROUP,
            UpdateGroup {
                group_id: OPS,
                name: Some(GroupName::parse("sALES").expect("name")),
                incoming: Fields::new(),
            },
        )
        .expect_err("taken");
        assert!(conflict("ALREADY_EXISTS")(&e));
    }

    #[test]
    fn given_no_such_group_then_every_command_is_not_found() {
        let s = history(&[vec![ops()], user(ALICE, "alice", "101")]);
        let nf = Err(CommandError::NotFound(Thing::Group));
        assert_eq!(
            update(
                &s,
                &GROUP,
                UpdateGroup {
                    group_id: SALES,
                    name: None,
                    incoming: Fields::new()
                }
            ),
            nf
        );
        assert_eq!(delete(&s, SALES), nf);
        assert_eq!(add_member(&s, SALES, &num("101")), nf);
        assert_eq!(remove_member(&s, SALES, &num("101")), nf);
    }

    #[test]
    fn given_a_group_when_deleting_then_it_is_deleted() {
        let d = delete(&scope(&[sales()]), SALES).expect("deleted");
        assert_eq!(
            d.events,
            vec![Event::GroupDeleted(GroupDeleted { group_id: SALES })]
        );
    }

    #[test]
    fn given_a_group_with_members_when_deleting_then_the_members_lose_it() {
        let s = history(&[
            vec![sales()],
            user(ALICE, "alice", "101"),
            vec![added(SALES, ALICE)],
        ]);
        let d = delete(&s, SALES).expect("deleted");
        let s = history(&[
            vec![sales()],
            user(ALICE, "alice", "101"),
            vec![added(SALES, ALICE)],
            d.events,
        ]);
        assert!(s.users[&ALICE].groups.is_empty());
    }

    #[test]
    fn given_a_user_when_adding_by_extension_number_then_the_user_joins() {
        let s = history(&[vec![sales()], user(ALICE, "alice", "101")]);
        let d = add_member(&s, SALES, &num("101")).expect("added");
        assert_eq!(d.events, vec![added(SALES, ALICE)]);
        assert_eq!(
            d.expected,
            vec![(StreamId::of("group", SALES), Expected::Exactly(1))]
        );
        let s = history(&[vec![sales()], user(ALICE, "alice", "101"), d.events]);
        assert!(s.groups[&SALES].members.contains(&ALICE));
        assert!(s.users[&ALICE].groups.contains(&SALES));
    }

    #[test]
    fn given_a_member_when_adding_again_then_already_exists() {
        let s = history(&[
            vec![sales()],
            user(ALICE, "alice", "101"),
            vec![added(SALES, ALICE)],
        ]);
        let e = add_member(&s, SALES, &num("101")).expect_err("duplicate");
        assert!(conflict("ALREADY_EXISTS")(&e));
    }

    #[test]
    fn given_no_user_with_that_primary_number_when_adding_then_not_found() {
        let s = history(&[vec![sales()], user(ALICE, "alice", "101")]);
        assert_eq!(
            add_member(&s, SALES, &num("102")),
            Err(CommandError::NotFound(Thing::User))
        );
        assert_eq!(
            remove_member(&s, SALES, &num("102")),
            Err(CommandError::NotFound(Thing::User))
        );
    }

    #[test]
    fn given_a_member_when_removing_then_the_user_leaves() {
        let s = history(&[
            vec![sales(), ops()],
            user(ALICE, "alice", "101"),
            user(BOB, "bob", "102"),
            vec![added(SALES, ALICE), added(SALES, BOB), added(OPS, ALICE)],
        ]);
        let d = remove_member(&s, SALES, &num("101")).expect("removed");
        assert_eq!(
            d.events,
            vec![Event::GroupMemberRemoved(GroupMemberRemoved {
                group_id: SALES,
                user_id: ALICE
            })]
        );
        // Two adds after creation: the group stream is at version 3.
        assert_eq!(
            d.expected,
            vec![(StreamId::of("group", SALES), Expected::Exactly(3))]
        );
    }

    #[test]
    fn given_a_non_member_when_removing_then_not_found() {
        let s = history(&[
            vec![sales(), ops()],
            user(ALICE, "alice", "101"),
            vec![added(OPS, ALICE)],
        ]);
        assert_eq!(
            remove_member(&s, SALES, &num("101")),
            Err(CommandError::NotFound(Thing::GroupMember))
        );
    }
}
