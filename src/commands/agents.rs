//! SetAgentStatus and SetAgentStatusInAllQueues: an agent's settable
//! status in a call queue and its legal transitions. (What an agent's
//! status was over time is a read: `crate::queries::agents`.)
//!
//! # Transitions (settable statuses)
//!
//! | from \ to | READY | NOT_READY | WRAP_UP | BREAK | LUNCH | LOGGED_IN | LOGGED_OUT |
//! | --- | --- | --- | --- | --- | --- | --- | --- |
//! | LOGGED_OUT | ✗ | ✗ | ✗ | ✗ | ✗ | → READY | no-op |
//! | READY | no-op | ✓ | ✓ | ✓ | ✓ | no-op | ✓ |
//! | NOT_READY | ✓ | no-op | ✓ | ✓ | ✓ | no-op | ✓ |
//! | WRAP_UP | ✓ | ✓ | no-op | ✓ | ✓ | no-op | ✓ |
//! | BREAK | ✓ | ✓ | ✗ | no-op | ✓ | no-op | ✓ |
//! | LUNCH | ✓ | ✓ | ✗ | ✓ | no-op | no-op | ✓ |
//!
//! A logged-out agent must log in first; LOGGED_IN becomes READY and is a
//! no-op for an agent already logged in. WRAP_UP is after-call work, so it
//! follows READY, NOT_READY (or a call), never a break. ✗ answers 409
//! `ILLEGAL_AGENT_TRANSITION`; a no-op appends nothing.

use super::{Actor, CommandError, ConflictKind, Decision, Thing};
use crate::auth::roles::Capability;
use switchboard_events::domain::{AgentStatus, AgentStatusSet};
use switchboard_events::{Event, Id};
use switchboard_projections::directory::{QueueAgent, Scope};

/// What a client may ask for: a settable status, or LOGGED_IN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// A status recorded as is.
    Status(AgentStatus),
    /// Log in (becomes READY).
    LoggedIn,
}

impl Requested {
    /// Parses the spec's spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Requested> {
        if s == "LOGGED_IN" {
            return Some(Requested::LoggedIn);
        }
        AgentStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .map(Requested::Status)
    }

    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Requested::Status(s) => s.as_str(),
            Requested::LoggedIn => "LOGGED_IN",
        }
    }
}

/// A transition the table forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an agent cannot go from {} to {}", from.as_str(), to.as_str())]
pub struct Illegal {
    /// The current status.
    pub from: AgentStatus,
    /// The requested status.
    pub to: Requested,
}

/// The transition table (see the module docs): `Ok(Some(s))` records `s`,
/// `Ok(None)` is a no-op, `Err` is illegal.
pub fn transition(from: AgentStatus, to: Requested) -> Result<Option<AgentStatus>, Illegal> {
    use AgentStatus::*;
    let illegal = Err(Illegal { from, to });
    let target = match to {
        Requested::LoggedIn if from == LoggedOut => Ready,
        Requested::LoggedIn => return Ok(None),
        Requested::Status(s) => s,
    };
    if target == from {
        return Ok(None);
    }
    match (from, target) {
        (LoggedOut, _) if to != Requested::LoggedIn => illegal,
        (Break | Lunch, WrapUp) => illegal,
        _ => Ok(Some(target)),
    }
}

/// The agent entry of `user_id` in queue `queue_id`, or NotFound.
pub fn agent(scope: &Scope, queue_id: Id, user_id: Id) -> Result<&QueueAgent, CommandError> {
    super::queues::queue(scope, queue_id)?
        .agents
        .get(&user_id)
        .ok_or(CommandError::NotFound(Thing::CallQueueAgent))
}

/// Who may set an agent's status: the agent itself, or a caller who
/// manages queues.
fn may_set(by: &Actor, user_id: Id) -> Result<(), CommandError> {
    by.must_be_or_hold(
        user_id,
        Capability::ManageQueues,
        "you may only set your own agent status",
    )
}

/// Decides SetAgentStatus for one agent in one queue.
pub fn set_status(
    scope: &Scope,
    by: &Actor,
    queue_id: Id,
    user_id: Id,
    requested: Requested,
) -> Result<Decision, CommandError> {
    may_set(by, user_id)?;
    status_in(scope, queue_id, user_id, requested)
}

fn status_in(
    scope: &Scope,
    queue_id: Id,
    user_id: Id,
    requested: Requested,
) -> Result<Decision, CommandError> {
    let current = agent(scope, queue_id, user_id)?.status;
    match transition(current, requested) {
        Err(e) => Err(CommandError::conflict(
            ConflictKind::IllegalAgentTransition,
            e.to_string(),
        )),
        Ok(None) => Ok(Decision::none()),
        Ok(Some(status)) => Ok(Decision::events(vec![Event::AgentStatusSet(
            AgentStatusSet {
                user_id,
                queue_id,
                status,
                previous: current,
            },
        )])),
    }
}

/// What to set in every queue at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// This request in every queue.
    To(Requested),
    /// Available: LOGGED_IN where logged out, READY elsewhere.
    Available,
}

impl StatusChange {
    /// The request for a queue where the agent's status is `current`.
    pub fn request(self, current: AgentStatus) -> Requested {
        match self {
            StatusChange::To(r) => r,
            StatusChange::Available if current == AgentStatus::LoggedOut => Requested::LoggedIn,
            StatusChange::Available => Requested::Status(AgentStatus::Ready),
        }
    }
}

/// Decides SetAgentStatusInAllQueues: the change in every call queue the
/// user is an agent of, in one append (all or nothing: one illegal
/// transition refuses it all); a user in no queue is 409 `NOT_AN_AGENT`.
pub fn set_status_everywhere(
    scope: &Scope,
    by: &Actor,
    user_id: Id,
    change: StatusChange,
) -> Result<Decision, CommandError> {
    may_set(by, user_id)?;
    super::users::user(scope, user_id)?;
    let queues = super::queues::queues_of(scope, user_id);
    if queues.is_empty() {
        return Err(super::queues::not_an_agent());
    }
    let mut parts = Vec::with_capacity(queues.len());
    for q in queues {
        let current = agent(scope, q, user_id)?.status;
        parts.push(status_in(scope, q, user_id, change.request(current))?);
    }
    Decision::merge_all(parts)
}

#[cfg(test)]
mod tests {
    use super::AgentStatus::*;
    use super::*;
    use crate::commands::prepare::NewId;
    use crate::commands::queues::{self, AgentItem, CreateQueue, QueueName, Target};
    use crate::commands::testing::{actor, given_in, system_actor};
    use crate::commands::users::ExtensionNumber;
    use crate::commands::Denial;
    use switchboard_events::{Fields, TenantId};

    const T: TenantId = Id(9);
    const Q: Id = Id(500);
    const ALICE: Id = Id(300);

    fn set(s: AgentStatus) -> Requested {
        Requested::Status(s)
    }

    #[test]
    fn given_a_logged_out_agent_then_only_logging_in_is_allowed_and_it_becomes_ready() {
        assert_eq!(transition(LoggedOut, Requested::LoggedIn), Ok(Some(Ready)));
        assert_eq!(transition(LoggedOut, set(LoggedOut)), Ok(None));
        for to in [Ready, NotReady, WrapUp, Break, Lunch] {
            assert_eq!(
                transition(LoggedOut, set(to)),
                Err(Illegal {
                    from: LoggedOut,
                    to: set(to)
                }),
                "LOGGED_OUT → {}",
                to.as_str()
            );
        }
    }

    #[test]
    fn given_a_logged_in_agent_then_the_table_holds() {
        let logged_in = [Ready, NotReady, WrapUp, Break, Lunch];
        for from in logged_in {
            assert_eq!(transition(from, Requested::LoggedIn), Ok(None));
            assert_eq!(transition(from, set(from)), Ok(None), "same status");
            assert_eq!(transition(from, set(LoggedOut)), Ok(Some(LoggedOut)));
            for to in logged_in.into_iter().filter(|t| *t != from) {
                let legal = !(matches!(from, Break | Lunch) && to == WrapUp);
                assert_eq!(
                    transition(from, set(to)).is_ok(),
                    legal,
                    "{} → {}",
                    from.as_str(),
                    to.as_str()
                );
                if legal {
                    assert_eq!(transition(from, set(to)), Ok(Some(to)));
                }
            }
        }
    }

    #[test]
    fn requests_parse_the_spec_spelling() {
        assert_eq!(Requested::parse("LOGGED_IN"), Some(Requested::LoggedIn));
        assert_eq!(Requested::parse("WRAP_UP"), Some(set(WrapUp)));
        assert_eq!(
            Requested::parse("QUEUE_CALL"),
            None,
            "derived, not settable"
        );
        assert_eq!(Requested::parse("ready"), None);
    }

    fn queue_with_alice() -> Vec<Event> {
        let mut events = queues::tests_support::user(ALICE, "alice", "101");
        events.extend(
            queues::create(
                &Scope::default(),
                &crate::commands::testing::system_actor(),
                &CreateQueue {
                    target: Target::CallQueue,
                    id: NewId::given(Q),
                    name: QueueName::parse("Support").expect("name"),
                    number: ExtensionNumber::parse("800", "n").expect("n"),
                    attrs: Fields::new(),
                },
            )
            .expect("queue")
            .events,
        );
        let s = given_in(T, &events).scope(T).cloned().unwrap_or_default();
        let item = AgentItem {
            number: ExtensionNumber::parse("101", "n").expect("n"),
            skill_level: 1,
            field: "items[0]".into(),
        };
        events.extend(
            queues::set_agents(&s, Target::CallQueue, Q, &[item])
                .expect("agents")
                .events,
        );
        events
    }

    fn scope(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    #[test]
    fn given_a_new_agent_when_logging_in_then_ready_is_recorded_with_the_previous_status() {
        let s = scope(&queue_with_alice());
        let d = set_status(&s, &system_actor(), Q, ALICE, Requested::LoggedIn).expect("log in");
        assert_eq!(
            d.events,
            vec![Event::AgentStatusSet(AgentStatusSet {
                user_id: ALICE,
                queue_id: Q,
                status: Ready,
                previous: LoggedOut,
            })]
        );
        let s = scope(&[queue_with_alice(), d.events].concat());
        assert!(set_status(&s, &system_actor(), Q, ALICE, set(Ready))
            .expect("same")
            .events
            .is_empty());
        let err = set_status(&s, &system_actor(), Q, Id(1), set(Ready)).expect_err("not an agent");
        assert!(matches!(err, CommandError::NotFound(_)));
    }

    #[test]
    fn given_a_logged_out_agent_when_setting_break_then_illegal_transition() {
        let s = scope(&queue_with_alice());
        let err = set_status(&s, &system_actor(), Q, ALICE, set(Break)).expect_err("illegal");
        assert!(matches!(
            err,
            CommandError::Conflict(ConflictKind::IllegalAgentTransition, _)
        ));
    }

    fn in_two_queues() -> Vec<Event> {
        const Q2: Id = Id(501);
        let mut events = queue_with_alice();
        events.extend(
            queues::create(
                &Scope::default(),
                &crate::commands::testing::system_actor(),
                &CreateQueue {
                    target: Target::CallQueue,
                    id: NewId::given(Q2),
                    name: QueueName::parse("Sales").expect("name"),
                    number: ExtensionNumber::parse("801", "n").expect("n"),
                    attrs: Fields::new(),
                },
            )
            .expect("queue")
            .events,
        );
        let item = AgentItem {
            number: ExtensionNumber::parse("101", "n").expect("n"),
            skill_level: 1,
            field: "items[0]".into(),
        };
        events.extend(
            queues::set_agents(&scope(&events), Target::CallQueue, Q2, &[item])
                .expect("agents")
                .events,
        );
        events
    }

    #[test]
    fn given_an_agent_in_two_queues_when_going_available_then_logged_in_everywhere_in_one_append() {
        let events = in_two_queues();
        let s = scope(&events);
        let me = actor(ALICE, "StandardUser", None);
        let d = set_status_everywhere(&s, &me, ALICE, StatusChange::Available).expect("decides");
        assert_eq!(d.events.len(), 2);
        assert!(d.events.iter().all(|e| matches!(
            e,
            Event::AgentStatusSet(a) if a.status == Ready && a.previous == LoggedOut
        )));
        // Available again: READY already everywhere, nothing recorded.
        let s = scope(&[events.clone(), d.events].concat());
        assert_eq!(
            set_status_everywhere(&s, &me, ALICE, StatusChange::Available),
            Ok(Decision::none())
        );
        // BREAK from LOGGED_OUT is illegal in both queues: nothing at all.
        let e = set_status_everywhere(&scope(&events), &me, ALICE, StatusChange::To(set(Break)))
            .expect_err("illegal");
        assert!(matches!(
            e,
            CommandError::Conflict(ConflictKind::IllegalAgentTransition, _)
        ));
    }

    #[test]
    fn given_someone_else_when_setting_an_agents_status_then_only_a_queue_manager_may() {
        let s = scope(&in_two_queues());
        let bob = actor(Id(1), "StandardUser", None);
        for r in [
            set_status_everywhere(&s, &bob, ALICE, StatusChange::Available),
            set_status(&s, &bob, Q, ALICE, Requested::LoggedIn),
        ] {
            assert!(
                matches!(r, Err(CommandError::Forbidden(Denial::NotYours, _))),
                "{r:?}"
            );
        }
        let manager = actor(Id(1), "QueueManager", None);
        assert!(set_status_everywhere(&s, &manager, ALICE, StatusChange::Available).is_ok());
        // A user who is in no queue is not an agent; an unknown user is missing.
        let only_user = scope(&queues::tests_support::user(ALICE, "alice", "101"));
        assert!(matches!(
            set_status_everywhere(&only_user, &manager, ALICE, StatusChange::Available),
            Err(CommandError::Conflict(ConflictKind::NotAnAgent, _))
        ));
        assert_eq!(
            set_status_everywhere(&s, &manager, Id(77), StatusChange::Available),
            Err(CommandError::NotFound(Thing::User))
        );
    }

    #[test]
    fn available_logs_in_a_logged_out_agent_and_readies_the_others() {
        assert_eq!(
            StatusChange::Available.request(LoggedOut),
            Requested::LoggedIn
        );
        assert_eq!(StatusChange::Available.request(Break), set(Ready));
        assert_eq!(StatusChange::To(set(Lunch)).request(Ready), set(Lunch));
    }
}
