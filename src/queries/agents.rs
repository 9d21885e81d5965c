//! What an agent's status was over time: the status changes read from the
//! agent's own stream in the log, and per call queue the time spent in
//! each settable status and in each reported one (derived states such as
//! QUEUE_CALL and OFFLINE included, from the user's presence stream). The
//! totals are pure functions of the facts, tested on their own.

use super::{Queries, ReadError};
use std::collections::BTreeMap;
use switchboard_events::domain::{AgentStatus, CallState};
use switchboard_events::{Event, Id, StreamId, TenantId};
use switchboard_projections::directory::{agent_status, CallView, PresenceView, RegistrationView};
use time::{Duration, OffsetDateTime};

/// One recorded status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where it is in the log.
    pub offset: u64,
    /// When.
    pub at: OffsetDateTime,
    /// In which call queue.
    pub queue_id: Id,
    /// The new status.
    pub status: AgentStatus,
    /// The status before.
    pub previous: AgentStatus,
}

/// One call queue's part of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueHistory {
    /// The queue.
    pub queue_id: Id,
    /// Its name and number, while it exists.
    pub name_and_number: Option<(String, String)>,
    /// The status in effect at the window's start.
    pub status_at_from: AgentStatus,
    /// Time in each settable status within the window.
    pub totals: BTreeMap<AgentStatus, Duration>,
    /// Time in each reported status within the window.
    pub reported: BTreeMap<&'static str, Duration>,
}

/// An agent's status history within a window.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentHistory {
    /// The changes within the window (of the one queue asked for, if any).
    pub changes: Vec<Change>,
    /// Per queue (current ones and those with changes).
    pub queues: Vec<QueueHistory>,
}

/// Every status an agent can be reported in.
pub const REPORTED: [&str; 9] = [
    "READY",
    "NOT_READY",
    "QUEUE_CALL",
    "OTHER_CALL",
    "WRAP_UP",
    "BREAK",
    "LUNCH",
    "LOGGED_OUT",
    "OFFLINE",
];

impl Queries {
    /// The status history of agent `user` in `tenant` within `[from, to]`
    /// (`only`: one queue); `None` if there is no such user. Reads the
    /// agent's stream and its presence stream, each in log order.
    pub async fn agent_history(
        &self,
        tenant: TenantId,
        user: Id,
        from: OffsetDateTime,
        to: OffsetDateTime,
        only: Option<Id>,
    ) -> Result<Option<AgentHistory>, ReadError> {
        // Current members (and queue names) from the directory.
        let (queues_now, names): (BTreeMap<Id, AgentStatus>, BTreeMap<Id, (String, String)>) = {
            let dir = self.read();
            let s = dir.scope_or_empty(tenant);
            if !s.users.contains_key(&user) {
                return Ok(None);
            }
            (
                s.call_queues
                    .values()
                    .filter_map(|q| q.agents.get(&user).map(|a| (q.id, a.status)))
                    .collect(),
                s.call_queues
                    .values()
                    .map(|q| (q.id, (q.name.clone(), q.number.clone())))
                    .collect(),
            )
        };
        let streams = [StreamId::of("agent", user), StreamId::of("presence", user)];
        let read = self.stream_events(tenant, &streams, to).await?;
        let mut changes = Vec::new();
        let mut line = Vec::new();
        for (env, event) in read {
            let fact = match event {
                Event::AgentStatusSet(e) => {
                    changes.push(Change {
                        offset: env.offset,
                        at: env.recorded_at,
                        queue_id: e.queue_id,
                        status: e.status,
                        previous: e.previous,
                    });
                    continue;
                }
                Event::RegistrationAdded(e) => Fact::Registered {
                    instance_id: e.instance_id,
                    expires_at_ms: e.expires_at_ms,
                },
                Event::RegistrationRemoved(e) => Fact::Unregistered {
                    instance_id: e.instance_id,
                },
                Event::CallStateChanged(e) => match e.state {
                    CallState::OnCall => Fact::Call(e.queue_id),
                    CallState::Idle => Fact::Idle,
                },
                _ => continue,
            };
            line.push((env.offset, env.recorded_at, fact));
        }
        let mut queue_ids: Vec<Id> = queues_now.keys().copied().collect();
        queue_ids.extend(changes.iter().map(|c| c.queue_id));
        queue_ids.sort();
        queue_ids.dedup();
        queue_ids.retain(|q| only.is_none_or(|o| o == *q));
        let queues = queue_ids
            .iter()
            .map(|q| {
                let mine: Vec<&Change> = changes.iter().filter(|c| c.queue_id == *q).collect();
                // Before its first recorded change an agent was LOGGED_OUT
                // (new agents start there; `previous` records it).
                let initial = mine
                    .first()
                    .map(|c| c.previous)
                    .or_else(|| queues_now.get(q).copied())
                    .unwrap_or(AgentStatus::LoggedOut);
                let timeline: Vec<(OffsetDateTime, AgentStatus)> =
                    mine.iter().map(|c| (c.at, c.status)).collect();
                // Settable changes and line facts merged in log order.
                let mut merged: Vec<(u64, OffsetDateTime, Fact)> = mine
                    .iter()
                    .map(|c| (c.offset, c.at, Fact::Settable(c.status)))
                    .chain(line.iter().cloned())
                    .collect();
                merged.sort_by_key(|(offset, _, _)| *offset);
                let facts: Vec<(OffsetDateTime, Fact)> =
                    merged.into_iter().map(|(_, at, f)| (at, f)).collect();
                QueueHistory {
                    queue_id: *q,
                    name_and_number: names.get(q).cloned(),
                    status_at_from: mine
                        .iter()
                        .take_while(|c| c.at <= from)
                        .last()
                        .map(|c| c.status)
                        .unwrap_or(initial),
                    totals: time_in_status(initial, &timeline, from, to),
                    reported: reported_time_in_status(initial, &facts, *q, from, to),
                }
            })
            .collect();
        changes.retain(|c| c.at >= from && only.is_none_or(|o| o == c.queue_id));
        Ok(Some(AgentHistory { changes, queues }))
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
    use super::*;
    use AgentStatus::*;

    const Q: Id = Id(500);

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
