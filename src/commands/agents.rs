//! SetAgentStatus: an agent's settable status in a call queue, its legal
//! transitions, and the time-in-status report served from the log.
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

use super::{CommandError, Decision};
use std::collections::BTreeMap;
use switchboard_events::domain::{AgentStatus, AgentStatusSet};
use switchboard_events::{Event, Id};
use switchboard_projections::directory::{
    agent_status, CallView, PresenceView, QueueAgent, RegistrationView, Scope,
};
use time::{Duration, OffsetDateTime};

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
        .ok_or_else(|| CommandError::NotFound("call queue agent".into()))
}

/// Decides SetAgentStatus for one agent in one queue.
pub fn set_status(
    scope: &Scope,
    queue_id: Id,
    user_id: Id,
    requested: Requested,
) -> Result<Decision, CommandError> {
    let current = agent(scope, queue_id, user_id)?.status;
    match transition(current, requested) {
        Err(e) => Err(CommandError::conflict(
            "ILLEGAL_AGENT_TRANSITION",
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

/// Time spent in each status within `[from, to)`.
///
/// `initial` is the status before the first change; `changes` are
/// `(time, new status)` in time order (any times: those before `from` only
/// establish the status in effect at `from`, those at or after `to` are
/// ignored). Intervals are clipped to the window, so the totals always add
/// up to `to - from` (or zero for an empty window).
pub fn time_in_status(
    initial: AgentStatus,
    changes: &[(OffsetDateTime, AgentStatus)],
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> BTreeMap<AgentStatus, Duration> {
    let mut out = BTreeMap::new();
    if to <= from {
        return out;
    }
    let mut add = |s: AgentStatus, d: Duration| {
        *out.entry(s).or_insert(Duration::ZERO) += d;
    };
    let mut current = initial;
    let mut since = from;
    for (at, status) in changes {
        if *at <= from {
            current = *status;
            continue;
        }
        if *at >= to {
            break;
        }
        add(current, *at - since);
        since = *at;
        current = *status;
    }
    add(current, to - since);
    out
}

/// A recorded fact that moves an agent's *reported* status.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// The settable status in the queue changed.
    Settable(AgentStatus),
    /// A device registered (or refreshed) until `expires_at_ms`.
    Registered {
        /// Device instance.
        instance_id: String,
        /// Expiry, Unix milliseconds.
        expires_at_ms: i64,
    },
    /// A device's registration was removed.
    Unregistered {
        /// Device instance.
        instance_id: String,
    },
    /// A call began (through the given queue, if any).
    Call(Option<Id>),
    /// The call ended.
    Idle,
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn apply_fact(settable: &mut AgentStatus, p: &mut PresenceView, at: OffsetDateTime, f: &Fact) {
    match f {
        Fact::Settable(s) => *settable = *s,
        Fact::Registered {
            instance_id,
            expires_at_ms,
        } => {
            p.registrations.insert(
                instance_id.clone(),
                RegistrationView {
                    instance_id: instance_id.clone(),
                    user_agent: String::new(),
                    application: String::new(),
                    ip: String::new(),
                    enable_push: false,
                    contact_address: String::new(),
                    expires_at_ms: *expires_at_ms,
                },
            );
        }
        Fact::Unregistered { instance_id } => {
            p.registrations.remove(instance_id);
        }
        Fact::Call(queue_id) => {
            p.call = Some(CallView {
                queue_id: *queue_id,
                since: at,
            })
        }
        Fact::Idle => p.call = None,
    }
}

/// Time spent in each *reported* status of queue `queue_id` within
/// `[from, to)`, derived states (QUEUE_CALL, OTHER_CALL, OFFLINE) included.
///
/// `facts` are this queue's settable changes merged with the user's
/// presence facts, in log order; `initial` is the settable status before
/// the first of them. The reported status is the same pure function the
/// API shows (`agent_status`), evaluated on every interval between two
/// facts or registration expiries, so a lapse counts as OFFLINE from the
/// moment it expired without any expiry event.
pub fn reported_time_in_status(
    initial: AgentStatus,
    facts: &[(OffsetDateTime, Fact)],
    queue_id: Id,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> BTreeMap<&'static str, Duration> {
    let mut out = BTreeMap::new();
    if to <= from {
        return out;
    }
    let inside = |t: OffsetDateTime| t > from && t < to;
    let mut points = vec![from, to];
    for (at, f) in facts {
        if inside(*at) {
            points.push(*at);
        }
        if let Fact::Registered { expires_at_ms, .. } = f {
            let expiry =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(*expires_at_ms) * 1_000_000);
            if let Some(e) = expiry.ok().filter(|e| inside(*e)) {
                points.push(e);
            }
        }
    }
    points.sort();
    points.dedup();
    let mut settable = initial;
    let mut presence = PresenceView::default();
    let mut next = 0;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        while let Some((at, f)) = facts.get(next).filter(|(at, _)| *at <= a) {
            apply_fact(&mut settable, &mut presence, *at, f);
            next += 1;
        }
        let shown = agent_status(settable, Some(&presence), queue_id, unix_ms(a));
        *out.entry(shown).or_insert(Duration::ZERO) += b - a;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::AgentStatus::*;
    use super::*;
    use crate::commands::queues::{self, AgentItem, CreateQueue, QueueName, Target};
    use crate::commands::testing::given_in;
    use crate::commands::users::ExtensionNumber;
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
                CreateQueue {
                    target: Target::CallQueue,
                    id: Q,
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
        let d = set_status(&s, Q, ALICE, Requested::LoggedIn).expect("log in");
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
        assert!(set_status(&s, Q, ALICE, set(Ready))
            .expect("same")
            .events
            .is_empty());
        let err = set_status(&s, Q, Id(1), set(Ready)).expect_err("not an agent");
        assert!(matches!(err, CommandError::NotFound(_)));
    }

    #[test]
    fn given_a_logged_out_agent_when_setting_break_then_illegal_transition() {
        let s = scope(&queue_with_alice());
        let err = set_status(&s, Q, ALICE, set(Break)).expect_err("illegal");
        assert!(matches!(
            err,
            CommandError::Conflict {
                code: "ILLEGAL_AGENT_TRANSITION",
                ..
            }
        ));
    }

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(s)
    }

    #[test]
    fn totals_clip_to_the_window_and_count_the_status_in_effect_at_from() {
        // LOGGED_OUT until 10, READY 10..40, BREAK 40..50, READY from 50.
        let changes = [(at(10), Ready), (at(40), Break), (at(50), Ready)];
        let t = time_in_status(LoggedOut, &changes, at(20), at(60));
        assert_eq!(t.get(&Ready), Some(&Duration::seconds(30)));
        assert_eq!(t.get(&Break), Some(&Duration::seconds(10)));
        assert_eq!(t.get(&LoggedOut), None);
        let whole = time_in_status(LoggedOut, &changes, at(0), at(100));
        assert_eq!(whole.get(&LoggedOut), Some(&Duration::seconds(10)));
        assert_eq!(whole.get(&Ready), Some(&Duration::seconds(80)));
        assert_eq!(
            whole.values().copied().sum::<Duration>(),
            Duration::seconds(100)
        );
        // a window with no change inside: all in the status in effect
        let quiet = time_in_status(LoggedOut, &changes, at(41), at(49));
        assert_eq!(
            quiet.into_iter().collect::<Vec<_>>(),
            vec![(Break, Duration::seconds(8))]
        );
        assert!(time_in_status(Ready, &changes, at(5), at(5)).is_empty());
    }

    #[test]
    fn given_calls_and_an_expiring_registration_then_reported_totals_include_derived_states() {
        // registered 0..30 (expires at 30 s), READY from 5, a queue call 10..15,
        // a direct call 20..22, BREAK from 25; window 0..40.
        let facts = vec![
            (
                at(0),
                Fact::Registered {
                    instance_id: "d".into(),
                    expires_at_ms: 30_000,
                },
            ),
            (at(5), Fact::Settable(Ready)),
            (at(10), Fact::Call(Some(Q))),
            (at(15), Fact::Idle),
            (at(20), Fact::Call(None)),
            (at(22), Fact::Idle),
            (at(25), Fact::Settable(Break)),
        ];
        let t = reported_time_in_status(LoggedOut, &facts, Q, at(0), at(40));
        let secs = |k: &str| t.get(k).copied().unwrap_or(Duration::ZERO).whole_seconds();
        assert_eq!(secs("LOGGED_OUT"), 5);
        assert_eq!(secs("READY"), 5 + 5 + 3);
        assert_eq!(secs("QUEUE_CALL"), 5);
        assert_eq!(secs("OTHER_CALL"), 2);
        assert_eq!(secs("BREAK"), 5);
        assert_eq!(secs("OFFLINE"), 10, "the lapse counts from its expiry");
        assert_eq!(t.values().copied().sum::<Duration>(), Duration::seconds(40));
        // a window starting mid-call counts the call from `from`
        let t = reported_time_in_status(LoggedOut, &facts, Q, at(12), at(14));
        assert_eq!(
            t.into_iter().collect::<Vec<_>>(),
            vec![("QUEUE_CALL", Duration::seconds(2))]
        );
    }
}
