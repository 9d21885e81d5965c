//! Call queue and ring group commands: create, update, delete, and
//! replacing the agent list. Both kinds share one set of decisions,
//! parameterized by [`Target`]; their numbers claim the tenant's shared
//! number space (409 `EXTENSION_NUMBER_IN_USE` on a clash). A call queue's
//! prompts name audio files of the tenant the actor may use
//! ([`super::files::check_file_refs`]); a file a queue plays cannot be
//! deleted or collected while it does.

use super::files::check_file_refs;
use super::prepare::NewId;
use super::users::{number_taken, ExtensionNumber};
use super::{Actor, CommandError, ConflictKind, Decision, Thing};
use crate::field_tables::queue::{CALL_QUEUE, RING_GROUP};
use crate::field_tables::Table;
use std::collections::{BTreeMap, HashSet};
use switchboard_events::domain::{
    AgentStatus, AgentStatusSet, CallQueueAgentAdded, CallQueueAgentRemoved, CallQueueAgentUpdated,
    CallQueueCreated, CallQueueDeleted, CallQueueUpdated, RingGroupAgentAdded,
    RingGroupAgentRemoved, RingGroupAgentUpdated, RingGroupCreated, RingGroupDeleted,
    RingGroupUpdated,
};
use switchboard_events::{Event, Expected, Fields, Id, StreamId, Value};
use switchboard_projections::directory::{CallQueueView, Scope};

/// Which kind of agent group a command addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A call queue (agents have a status).
    CallQueue,
    /// A ring group (members only).
    RingGroup,
}

impl Target {
    /// The resource name used in messages.
    pub fn noun(self) -> &'static str {
        self.thing().noun()
    }

    /// What a missing one of this kind is.
    pub fn thing(self) -> Thing {
        match self {
            Target::CallQueue => Thing::CallQueue,
            Target::RingGroup => Thing::RingGroup,
        }
    }

    /// The field table of this kind.
    pub fn table(self) -> &'static Table {
        match self {
            Target::CallQueue => &CALL_QUEUE,
            Target::RingGroup => &RING_GROUP,
        }
    }

    fn category(self) -> &'static str {
        match self {
            Target::CallQueue => "call-queue",
            Target::RingGroup => "ring-group",
        }
    }
}

/// A valid queue or ring group name: 1 to 64 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueName(String);

impl QueueName {
    /// Parses a name.
    pub fn parse(s: &str) -> Result<QueueName, CommandError> {
        let n = s.chars().count();
        if n == 0 || n > 64 || s.trim().is_empty() {
            return Err(CommandError::invalid("name", "must be 1 to 64 characters"));
        }
        Ok(QueueName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A skill level, 1 (best) to 100.
pub fn skill_level(v: i64, field: &str) -> Result<u8, CommandError> {
    u8::try_from(v)
        .ok()
        .filter(|s| (1..=100).contains(s))
        .ok_or_else(|| CommandError::invalid(field, "must be 1 to 100"))
}

/// What the commands need to know about an existing queue or ring group.
struct Existing<'a> {
    name: &'a str,
    attrs: &'a Fields,
    version: u64,
    agents: BTreeMap<Id, u8>,
}

fn existing(scope: &Scope, target: Target, id: Id) -> Result<Existing<'_>, CommandError> {
    let found = match target {
        Target::CallQueue => scope.call_queues.get(&id).map(|q| Existing {
            name: &q.name,
            attrs: &q.attrs,
            version: q.stamp.version,
            agents: q.agents.iter().map(|(u, a)| (*u, a.skill_level)).collect(),
        }),
        Target::RingGroup => scope.ring_groups.get(&id).map(|g| Existing {
            name: &g.name,
            attrs: &g.attrs,
            version: g.stamp.version,
            agents: g.agents.iter().map(|(u, l)| (*u, *l)).collect(),
        }),
    };
    found.ok_or(CommandError::NotFound(target.thing()))
}

/// The call queue with this id, or NotFound.
pub fn queue(scope: &Scope, id: Id) -> Result<&CallQueueView, CommandError> {
    scope
        .call_queues
        .get(&id)
        .ok_or(CommandError::NotFound(Thing::CallQueue))
}

fn expect(target: Target, id: Id, version: u64) -> (StreamId, Expected) {
    (
        StreamId::of(target.category(), id),
        Expected::Exactly(version),
    )
}

/// Create a call queue or ring group.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateQueue {
    /// Which kind.
    pub target: Target,
    /// New id.
    pub id: NewId,
    /// Name.
    pub name: QueueName,
    /// Number, which must be free in the tenant.
    pub number: ExtensionNumber,
    /// Other fields, validated by the kind's table.
    pub attrs: Fields,
}

/// Decides creation: the number must have no owner at all in the tenant
/// (not even an unlinked extension, which users may reuse but queues may not).
pub fn create(scope: &Scope, actor: &Actor, cmd: &CreateQueue) -> Result<Decision, CommandError> {
    if scope.numbers.contains_key(cmd.number.as_str()) {
        return Err(number_taken(&cmd.number));
    }
    check_file_refs(scope, actor, cmd.target.table(), &cmd.attrs)?;
    let id = cmd.id.get()?;
    let (name, extension_number) = (cmd.name.0.clone(), cmd.number.as_str().to_owned());
    let attrs = cmd.attrs.clone();
    let event = match cmd.target {
        Target::CallQueue => Event::CallQueueCreated(CallQueueCreated {
            queue_id: id,
            name,
            extension_number,
            attrs,
        }),
        Target::RingGroup => Event::RingGroupCreated(RingGroupCreated {
            ring_group_id: id,
            name,
            extension_number,
            attrs,
        }),
    };
    Ok(Decision::events(vec![event])
        .expect(StreamId::of(cmd.target.category(), id), Expected::NoStream))
}

/// Update a call queue or ring group (partial).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateQueue {
    /// Which kind.
    pub target: Target,
    /// Which one.
    pub id: Id,
    /// A new name, if given.
    pub name: Option<QueueName>,
    /// Validated incoming fields of the kind's table.
    pub incoming: Fields,
}

/// Decides an update: records only effective changes.
pub fn update(scope: &Scope, actor: &Actor, cmd: &UpdateQueue) -> Result<Decision, CommandError> {
    let (target, id) = (cmd.target, cmd.id);
    let x = existing(scope, target, id)?;
    let mut changes = target.table().diff(x.attrs, &cmd.incoming);
    check_file_refs(scope, actor, target.table(), &changes)?;
    if let Some(n) = cmd.name.as_ref().filter(|n| n.as_str() != x.name) {
        changes.insert("name".into(), Value::Str(n.0.clone()));
    }
    if changes.is_empty() {
        return Ok(Decision::none());
    }
    let event = match target {
        Target::CallQueue => Event::CallQueueUpdated(CallQueueUpdated {
            queue_id: id,
            changes,
        }),
        Target::RingGroup => Event::RingGroupUpdated(RingGroupUpdated {
            ring_group_id: id,
            changes,
        }),
    };
    let (s, e) = expect(target, id, x.version);
    Ok(Decision::events(vec![event]).expect(s, e))
}

/// Logs out every logged-in agent of a queue, so each agent's status
/// stream (and the history served from it) ends where the membership ends.
fn log_out_all<'a>(q: &'a CallQueueView, only: Option<Id>) -> impl Iterator<Item = Event> + 'a {
    q.agents
        .iter()
        .filter(move |(u, a)| a.status != AgentStatus::LoggedOut && only.is_none_or(|o| o == **u))
        .map(move |(u, a)| {
            Event::AgentStatusSet(AgentStatusSet {
                user_id: *u,
                queue_id: q.id,
                status: AgentStatus::LoggedOut,
                previous: a.status,
            })
        })
}

/// Decides deletion. A call queue's logged-in agents are logged out first.
pub fn delete(scope: &Scope, target: Target, id: Id) -> Result<Decision, CommandError> {
    let x = existing(scope, target, id)?;
    let mut events: Vec<Event> = Vec::new();
    match target {
        Target::CallQueue => {
            events.extend(log_out_all(queue(scope, id)?, None));
            events.push(Event::CallQueueDeleted(CallQueueDeleted { queue_id: id }));
        }
        Target::RingGroup => {
            events.push(Event::RingGroupDeleted(RingGroupDeleted {
                ring_group_id: id,
            }));
        }
    }
    let (s, e) = expect(target, id, x.version);
    Ok(Decision::events(events).expect(s, e))
}

/// One requested agent: a number (some user's primary extension) and a
/// skill level. `field` names it in errors (`items[2].extension_number`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentItem {
    /// The agent's number.
    pub number: ExtensionNumber,
    /// Skill level.
    pub skill_level: u8,
    /// Path of the item's number in the request.
    pub field: String,
}

/// Decides "update the agent list": the list replaces the current one.
/// Agents that leave a call queue are logged out first; skill changes are
/// recorded only when they differ.
pub fn set_agents(
    scope: &Scope,
    target: Target,
    id: Id,
    items: &[AgentItem],
) -> Result<Decision, CommandError> {
    let x = existing(scope, target, id)?;
    let mut wanted: BTreeMap<Id, u8> = BTreeMap::new();
    let mut seen = HashSet::new();
    for item in items {
        if !seen.insert(item.number.as_str()) {
            return Err(CommandError::invalid(&item.field, "is listed twice"));
        }
        let u = scope.user_by_number(item.number.as_str()).ok_or_else(|| {
            CommandError::invalid(&item.field, "is not the extension number of a user")
        })?;
        wanted.insert(u.id, item.skill_level);
    }
    let mut events = Vec::new();
    for (user_id, _) in x.agents.iter().filter(|(u, _)| !wanted.contains_key(u)) {
        if target == Target::CallQueue {
            events.extend(log_out_all(queue(scope, id)?, Some(*user_id)));
        }
        events.push(removed(target, id, *user_id));
    }
    for (user_id, skill_level) in &wanted {
        match x.agents.get(user_id) {
            None => events.push(added(target, id, *user_id, *skill_level)),
            Some(old) if old != skill_level => {
                events.push(skill_changed(target, id, *user_id, *skill_level))
            }
            Some(_) => {}
        }
    }
    if events.is_empty() {
        return Ok(Decision::none());
    }
    let (s, e) = expect(target, id, x.version);
    Ok(Decision::events(events).expect(s, e))
}

fn added(target: Target, id: Id, user_id: Id, skill_level: u8) -> Event {
    match target {
        Target::CallQueue => Event::CallQueueAgentAdded(CallQueueAgentAdded {
            queue_id: id,
            user_id,
            skill_level,
        }),
        Target::RingGroup => Event::RingGroupAgentAdded(RingGroupAgentAdded {
            ring_group_id: id,
            user_id,
            skill_level,
        }),
    }
}

fn skill_changed(target: Target, id: Id, user_id: Id, skill_level: u8) -> Event {
    match target {
        Target::CallQueue => Event::CallQueueAgentUpdated(CallQueueAgentUpdated {
            queue_id: id,
            user_id,
            skill_level,
        }),
        Target::RingGroup => Event::RingGroupAgentUpdated(RingGroupAgentUpdated {
            ring_group_id: id,
            user_id,
            skill_level,
        }),
    }
}

fn removed(target: Target, id: Id, user_id: Id) -> Event {
    match target {
        Target::CallQueue => Event::CallQueueAgentRemoved(CallQueueAgentRemoved {
            queue_id: id,
            user_id,
        }),
        Target::RingGroup => Event::RingGroupAgentRemoved(RingGroupAgentRemoved {
            ring_group_id: id,
            user_id,
        }),
    }
}

/// The call queues `user` is an agent of, in id order.
pub fn queues_of(scope: &Scope, user: Id) -> Vec<Id> {
    scope
        .call_queues
        .values()
        .filter(|q| q.agents.contains_key(&user))
        .map(|q| q.id)
        .collect()
}

/// 409 `NOT_AN_AGENT`.
pub fn not_an_agent() -> CommandError {
    CommandError::conflict(
        ConflictKind::NotAnAgent,
        "the user is an agent of no call queue",
    )
}

/// Decides SetAgentSkillLevel: the agent's skill level in every call queue
/// it belongs to (or only in `only`), through each queue's agent list (as
/// replacing the list with one level changed would), in one append.
pub fn set_skill_level(
    scope: &Scope,
    user: Id,
    skill_level: u8,
    only: Option<Id>,
) -> Result<Decision, CommandError> {
    super::users::user(scope, user)?;
    let ids = match only {
        Some(q) => {
            if !queue(scope, q)?.agents.contains_key(&user) {
                return Err(CommandError::NotFound(Thing::CallQueueAgent));
            }
            vec![q]
        }
        None => queues_of(scope, user),
    };
    if ids.is_empty() {
        return Err(not_an_agent());
    }
    let mut parts = Vec::with_capacity(ids.len());
    for q in ids {
        let mut items = Vec::new();
        for (i, (agent, a)) in queue(scope, q)?.agents.iter().enumerate() {
            // Agent lists are written by extension number: an agent whose
            // user lost its primary extension cannot be written back.
            let number = scope
                .users
                .get(agent)
                .and_then(|u| scope.extension_number_of(u))
                .ok_or_else(|| {
                    CommandError::conflict(
                        ConflictKind::AgentWithoutExtension,
                        "an agent of the queue has no primary extension",
                    )
                })?;
            let field = format!("items[{i}].extension_number");
            items.push(AgentItem {
                number: ExtensionNumber::parse(number, &field)?,
                skill_level: if *agent == user {
                    skill_level
                } else {
                    a.skill_level
                },
                field,
            });
        }
        parts.push(set_agents(scope, Target::CallQueue, q, &items)?);
    }
    Decision::merge_all(parts)
}

/// The events that take a user out of every queue and ring group (logging
/// it out of queues first). Part of deleting the user.
pub fn leave_all(scope: &Scope, user_id: Id) -> Vec<Event> {
    let mut events = Vec::new();
    for q in scope
        .call_queues
        .values()
        .filter(|q| q.agents.contains_key(&user_id))
    {
        events.extend(log_out_all(q, Some(user_id)));
        events.push(removed(Target::CallQueue, q.id, user_id));
    }
    for g in scope
        .ring_groups
        .values()
        .filter(|g| g.agents.contains_key(&user_id))
    {
        events.push(removed(Target::RingGroup, g.id, user_id));
    }
    events
}

/// Test support shared with other decision tests.
#[cfg(test)]
pub mod tests_support {
    use crate::commands::prepare::{NewId, Secret};
    use crate::commands::users::{
        self, CreateUser, ExtensionNumber, NewUserIds, PrimaryChoice, UserName,
    };
    use switchboard_events::{Event, Fields, Id};
    use switchboard_projections::directory::Scope;

    /// The events that create a user with primary extension `number`.
    pub fn user(id: Id, name: &str, number: &str) -> Vec<Event> {
        let cmd = CreateUser {
            ids: NewUserIds {
                user_id: NewId::given(id),
                extension_id: NewId::given(Id(id.0 + 1)),
                link_id: NewId::given(Id(id.0 + 2)),
            },
            name: UserName::parse(name).expect("name"),
            role: "StandardUser".into(),
            password: Secret::Hashed("h".into()),
            extension_password: Secret::Hashed("h".into()),
            voicemail_pin: Secret::Hashed("h".into()),
            extension: PrimaryChoice::Number(
                ExtensionNumber::parse(number, "extension_number").expect("number"),
            ),
            attrs: Fields::new(),
        };
        let by = crate::commands::testing::system_actor();
        users::create(&Scope::default(), &by, &cmd)
            .expect("user")
            .events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::{given_in, system_actor};
    use crate::commands::users;
    use switchboard_events::TenantId;
    use tests_support::user;

    const T: TenantId = Id(9);
    const Q: Id = Id(500);
    const RG: Id = Id(600);
    const ALICE: Id = Id(300);
    const BOB: Id = Id(310);

    fn num(s: &str) -> ExtensionNumber {
        ExtensionNumber::parse(s, "extension_number").expect("number")
    }

    fn created(target: Target, id: Id, number: &str) -> Vec<Event> {
        create(
            &Scope::default(),
            &system_actor(),
            &CreateQueue {
                target,
                id: NewId::given(id),
                name: QueueName::parse("Support").expect("name"),
                number: num(number),
                attrs: Fields::new(),
            },
        )
        .expect("created")
        .events
    }

    fn scope(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    fn item(number: &str, skill_level: u8) -> AgentItem {
        AgentItem {
            number: num(number),
            skill_level,
            field: "items[0].extension_number".into(),
        }
    }

    fn conflict(e: &CommandError, code: &str) -> bool {
        matches!(e, CommandError::Conflict(kind, _) if kind.code() == code)
    }

    /// A file item of the tenant: `media_type`, uploaded by `by`.
    fn file(id: Id, media_type: &str, by: Id) -> Event {
        use switchboard_events::domain::{ItemCreated, ItemOwner};
        Event::ItemCreated(ItemCreated {
            item_id: id,
            collection: super::super::files::FILES.into(),
            owner: ItemOwner::Tenant,
            attrs: Fields::from([
                ("name".to_owned(), Value::from("hold.wav")),
                ("size".to_owned(), Value::Int(44)),
                ("media_type".to_owned(), Value::from(media_type)),
                ("digest".to_owned(), Value::from("ab")),
                ("temporary".to_owned(), Value::Bool(false)),
                ("uploaded_by".to_owned(), Value::Int(by.0 as i64)),
            ]),
        })
    }

    fn with_prompt(field: &str, file: Id) -> Fields {
        Fields::from([(field.to_owned(), Value::Int(file.0 as i64))])
    }

    #[test]
    fn given_files_when_a_queue_names_its_prompts_then_only_audio_files_the_actor_may_use_pass() {
        const WAV: Id = Id(900);
        const PNG: Id = Id(901);
        let s = scope(
            &[
                user(ALICE, "alice", "101"),
                vec![
                    file(WAV, "audio/x-wav", ALICE),
                    file(PNG, "image/png", ALICE),
                ],
            ]
            .concat(),
        );
        let cmd = |attrs: Fields| CreateQueue {
            target: Target::CallQueue,
            id: NewId::given(Q),
            name: QueueName::parse("Support").expect("name"),
            number: num("800"),
            attrs,
        };
        let admin = system_actor();
        let d = create(&s, &admin, &cmd(with_prompt("moh_prompt_file_id", WAV))).expect("audio");
        assert!(matches!(&d.events[0], Event::CallQueueCreated(e)
            if e.attrs.get("moh_prompt_file_id") == Some(&Value::Int(900))));
        let named = |r: Result<Decision, CommandError>, field: &str| matches!(r, Err(CommandError::Invalid { field: ref f, .. }) if f == field);
        // Unknown, not audio, or another user's upload for a plain user: refused.
        let unknown = with_prompt("intro_prompt_file_id", Id(5));
        assert!(named(
            create(&s, &admin, &cmd(unknown)),
            "intro_prompt_file_id"
        ));
        let image = with_prompt("moh_prompt_file_id", PNG);
        assert!(named(create(&s, &admin, &cmd(image)), "moh_prompt_file_id"));
        let bob = crate::commands::testing::actor(BOB, "StandardUser", None);
        let theirs = with_prompt("moh_prompt_file_id", WAV);
        assert!(named(create(&s, &bob, &cmd(theirs)), "moh_prompt_file_id"));
        // An update checks the prompt it changes; clearing one needs no file.
        let s = scope(
            &[
                user(ALICE, "alice", "101"),
                vec![
                    file(WAV, "audio/x-wav", ALICE),
                    file(PNG, "image/png", ALICE),
                ],
                created(Target::CallQueue, Q, "800"),
            ]
            .concat(),
        );
        let update_to = |incoming: Fields| UpdateQueue {
            target: Target::CallQueue,
            id: Q,
            name: None,
            incoming,
        };
        let bad = update(
            &s,
            &admin,
            &update_to(with_prompt("moh_prompt_file_id", PNG)),
        );
        assert!(named(bad, "moh_prompt_file_id"));
        let clear = Fields::from([("moh_prompt_file_id".to_owned(), Value::Null)]);
        assert_eq!(update(&s, &admin, &update_to(clear)), Ok(Decision::none()));
    }

    #[test]
    fn given_a_taken_number_when_creating_a_queue_or_ring_group_then_409() {
        let s = scope(
            &[
                user(ALICE, "alice", "101"),
                created(Target::CallQueue, Q, "800"),
            ]
            .concat(),
        );
        for (target, number) in [
            (Target::CallQueue, "101"),
            (Target::RingGroup, "800"),
            (Target::CallQueue, "800"),
        ] {
            let err = create(
                &s,
                &system_actor(),
                &CreateQueue {
                    target,
                    id: NewId::given(RG),
                    name: QueueName::parse("x").expect("name"),
                    number: num(number),
                    attrs: Fields::new(),
                },
            )
            .expect_err("taken");
            assert!(conflict(&err, "EXTENSION_NUMBER_IN_USE"), "{err:?}");
        }
        // and a user cannot take a queue's number either
        let err = users::claim_number(&s, &num("800")).expect_err("taken");
        assert!(conflict(&err, "EXTENSION_NUMBER_IN_USE"));
    }

    #[test]
    fn given_agents_when_replacing_the_list_then_only_differences_are_recorded() {
        let s = scope(
            &[
                user(ALICE, "alice", "101"),
                user(BOB, "bob", "102"),
                created(Target::CallQueue, Q, "800"),
            ]
            .concat(),
        );
        let d =
            set_agents(&s, Target::CallQueue, Q, &[item("101", 1), item("102", 5)]).expect("set");
        assert_eq!(d.events.len(), 2);
        let s2 = scope(
            &[
                user(ALICE, "alice", "101"),
                user(BOB, "bob", "102"),
                created(Target::CallQueue, Q, "800"),
                d.events,
            ]
            .concat(),
        );
        let again =
            set_agents(&s2, Target::CallQueue, Q, &[item("101", 1), item("102", 5)]).expect("same");
        assert!(again.events.is_empty(), "same list: nothing recorded");
        let changed = set_agents(&s2, Target::CallQueue, Q, &[item("102", 7)]).expect("changed");
        assert_eq!(
            changed.events,
            vec![
                Event::CallQueueAgentRemoved(CallQueueAgentRemoved {
                    queue_id: Q,
                    user_id: ALICE
                }),
                Event::CallQueueAgentUpdated(CallQueueAgentUpdated {
                    queue_id: Q,
                    user_id: BOB,
                    skill_level: 7
                }),
            ]
        );
    }

    #[test]
    fn given_a_bad_agent_list_when_setting_then_the_item_is_named() {
        let s = scope(
            &[
                user(ALICE, "alice", "101"),
                created(Target::RingGroup, RG, "801"),
            ]
            .concat(),
        );
        let err = set_agents(&s, Target::RingGroup, RG, &[item("999", 1)]).expect_err("no user");
        assert!(
            matches!(err, CommandError::Invalid { ref field, .. } if field == "items[0].extension_number")
        );
        let err = set_agents(&s, Target::RingGroup, RG, &[item("101", 1), item("101", 2)])
            .expect_err("twice");
        assert!(matches!(err, CommandError::Invalid { .. }));
        assert!(matches!(
            set_agents(&s, Target::CallQueue, RG, &[]),
            Err(CommandError::NotFound(_))
        ));
    }

    #[test]
    fn skill_levels_are_1_to_100() {
        assert_eq!(skill_level(1, "s").ok(), Some(1));
        assert_eq!(skill_level(100, "s").ok(), Some(100));
        assert!(skill_level(0, "s").is_err());
        assert!(skill_level(101, "s").is_err());
        assert!(skill_level(-1, "s").is_err());
    }
    #[test]
    fn given_an_agent_in_two_queues_when_setting_its_skill_level_then_both_lists_change_in_one_append(
    ) {
        const Q2: Id = Id(501);
        let mut events = [
            user(ALICE, "alice", "101"),
            user(BOB, "bob", "102"),
            created(Target::CallQueue, Q, "800"),
            created(Target::CallQueue, Q2, "801"),
        ]
        .concat();
        let s = scope(&events);
        for q in [Q, Q2] {
            let d = set_agents(&s, Target::CallQueue, q, &[item("101", 1), item("102", 3)])
                .expect("agents");
            events.extend(d.events);
        }
        let s = scope(&events);
        let d = set_skill_level(&s, ALICE, 9, None).expect("decides");
        assert_eq!(
            d.events,
            vec![
                Event::CallQueueAgentUpdated(CallQueueAgentUpdated {
                    queue_id: Q,
                    user_id: ALICE,
                    skill_level: 9
                }),
                Event::CallQueueAgentUpdated(CallQueueAgentUpdated {
                    queue_id: Q2,
                    user_id: ALICE,
                    skill_level: 9
                }),
            ],
            "bob's levels are written back unchanged, so nothing records them"
        );
        assert_eq!(d.expected.len(), 2, "both queues' expectations kept");
        let only = set_skill_level(&s, ALICE, 9, Some(Q2)).expect("decides");
        assert_eq!(only.events.len(), 1);
        // Not an agent anywhere; not an agent of that queue; no such user.
        let s_no = scope(
            &[
                user(ALICE, "alice", "101"),
                created(Target::CallQueue, Q, "800"),
            ]
            .concat(),
        );
        let e = set_skill_level(&s_no, ALICE, 9, None).expect_err("no queue");
        assert!(conflict(&e, "NOT_AN_AGENT"), "{e:?}");
        assert_eq!(
            set_skill_level(&s_no, ALICE, 9, Some(Q)),
            Err(CommandError::NotFound(Thing::CallQueueAgent))
        );
        assert_eq!(
            set_skill_level(&s, Id(1), 9, None),
            Err(CommandError::NotFound(Thing::User))
        );
    }

    #[test]
    fn given_an_agent_without_a_primary_extension_when_setting_a_skill_level_then_refused() {
        let mut events = [
            user(ALICE, "alice", "101"),
            user(BOB, "bob", "102"),
            created(Target::CallQueue, Q, "800"),
        ]
        .concat();
        let d = set_agents(
            &scope(&events),
            Target::CallQueue,
            Q,
            &[item("101", 1), item("102", 1)],
        )
        .expect("agents");
        events.extend(d.events);
        // bob loses his primary extension (unlinked), yet stays an agent.
        let bob_ext = scope(&events).users[&BOB]
            .primary_extension
            .expect("primary");
        let unlink =
            crate::commands::extensions::unlink(&scope(&events), BOB, bob_ext).expect("unlink");
        events.extend(unlink.events);
        let e = set_skill_level(&scope(&events), ALICE, 5, None).expect_err("refused");
        assert!(conflict(&e, "AGENT_WITHOUT_EXTENSION"), "{e:?}");
    }
}
