//! Call queues' waiting lists and pickup requests.
//!
//! The PBX reports each caller who starts waiting in a queue (its own
//! session id, the caller's number and name, since when) and each who
//! stops (answered, hung up, picked up): entries of the tenant's
//! [`WAITING`] collection, so the list is live directory state with
//! history, audit and snapshots like any item. A report of a session
//! already waiting, or a removal of one that is gone, changes nothing (the
//! PBX retries).
//!
//! An agent of the queue asks to answer a waiting call
//! (`…/waiting/{session_id}/pickup`): a [`PICKUPS`] item naming the agent
//! and the PBX user that reported the call, which that PBX user sees on
//! its change stream and acts on (it then reports the caller gone, which
//! removes the request too). Another queue's agent (or an administrator
//! who is no agent of it) is refused (403); a session not waiting is 404;
//! a call another agent already asked for is 409 `CALL_ALREADY_PICKED_UP`;
//! the same agent asking again changes nothing.

use super::files::{int_of, str_of};
use super::{Actor, CommandError, ConflictKind, Decision, Denial, NewId, Thing};
use crate::auth::roles::Capability;
use switchboard_events::domain::{ItemCreated, ItemDeleted, ItemOwner};
use switchboard_events::{Event, Expected, Fields, Id, StreamId, Value};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::Scope;

/// The tenant's waiting callers (every queue's).
pub const WAITING: &str = switchboard_projections::directory::items::QUEUE_WAITING;
/// The tenant's open pickup requests.
pub const PICKUPS: &str = switchboard_projections::directory::items::QUEUE_PICKUPS;
/// Callers a tenant may have waiting at once (all queues): bounds the
/// directory whatever the PBX reports.
pub const MAX_WAITING: usize = 10_000;

/// A waiting-list command (on one queue of the tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitingCommand {
    /// A caller started waiting (the PBX).
    Report(WaitingCaller),
    /// A caller stopped waiting (the PBX).
    Remove {
        /// The queue.
        queue_id: Id,
        /// The PBX's session id.
        session_id: String,
    },
    /// An agent asks to answer a waiting call.
    Pickup {
        /// The request's id.
        pickup_id: NewId,
        /// The queue.
        queue_id: Id,
        /// The PBX's session id.
        session_id: String,
    },
}

/// A caller the PBX reports waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCaller {
    /// The entry's id.
    pub entry_id: NewId,
    /// The queue.
    pub queue_id: Id,
    /// The PBX's session id (unique per queue).
    pub session_id: String,
    /// The caller's number.
    pub extension_number: String,
    /// The caller's display name.
    pub display_name: String,
    /// Since when it waits, Unix ms.
    pub since_ms: i64,
}

/// A waiting caller as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting<'a> {
    /// The entry.
    pub item: &'a ItemView,
    /// The PBX's session id.
    pub session_id: &'a str,
    /// The caller's number.
    pub extension_number: &'a str,
    /// The caller's display name.
    pub display_name: &'a str,
    /// Since when, Unix ms.
    pub since_ms: i64,
}

fn of_queue(item: &ItemView, queue: Id) -> bool {
    int_of(&item.attrs, "queue_id") == queue.0 as i64
}

/// The callers waiting in `queue`, longest waiting first.
pub fn waiting(s: &Scope, queue: Id) -> Vec<Waiting<'_>> {
    let mut out: Vec<Waiting<'_>> = s
        .items
        .items(WAITING, ItemOwner::Tenant)
        .filter(|i| of_queue(i, queue))
        .map(|item| Waiting {
            item,
            session_id: str_of(&item.attrs, "session_id"),
            extension_number: str_of(&item.attrs, "extension_number"),
            display_name: str_of(&item.attrs, "display_name"),
            since_ms: int_of(&item.attrs, "since_ms"),
        })
        .collect();
    out.sort_by_key(|w| (w.since_ms, w.item.id));
    out
}

/// Whether `actor` may see `queue`'s waiting list: whoever reads queues,
/// and the queue's own agents.
pub fn may_see(s: &Scope, actor: &Actor, queue: Id) -> Result<(), CommandError> {
    let q = s
        .call_queues
        .get(&queue)
        .ok_or(CommandError::NotFound(Thing::CallQueue))?;
    if actor.authority.allows(Capability::ViewQueues) || q.agents.contains_key(&actor.user_id) {
        return Ok(());
    }
    Err(CommandError::forbidden(
        Denial::NotYours,
        "only the queue's agents and who reads call queues see its waiting list",
    ))
}

fn entry<'a>(s: &'a Scope, queue: Id, session: &str) -> Option<&'a ItemView> {
    s.items
        .items(WAITING, ItemOwner::Tenant)
        .find(|i| of_queue(i, queue) && str_of(&i.attrs, "session_id") == session)
}

fn pickups_of<'a>(
    s: &'a Scope,
    queue: Id,
    session: &'a str,
) -> impl Iterator<Item = &'a ItemView> + 'a {
    s.items
        .items(PICKUPS, ItemOwner::Tenant)
        .filter(move |i| of_queue(i, queue) && str_of(&i.attrs, "session_id") == session)
}

fn stream(id: Id) -> StreamId {
    StreamId::of("item", id)
}

fn created(collection: &str, id: Id, attrs: Fields) -> Decision {
    Decision::events(vec![Event::ItemCreated(ItemCreated {
        item_id: id,
        collection: collection.into(),
        owner: ItemOwner::Tenant,
        attrs,
    })])
    .expect(stream(id), Expected::NoStream)
}

fn deleted(collection: &str, item: &ItemView) -> Decision {
    Decision::events(vec![Event::ItemDeleted(ItemDeleted {
        item_id: item.id,
        collection: collection.into(),
        owner: ItemOwner::Tenant,
    })])
    .expect(stream(item.id), Expected::Exactly(item.stamp.version))
}

/// Decides a waiting-list command; returns the entry's (or request's) id.
pub fn decide(
    s: &Scope,
    by: &Actor,
    c: &WaitingCommand,
) -> Result<(Decision, Option<Id>), CommandError> {
    let queue_id = match c {
        WaitingCommand::Report(w) => w.queue_id,
        WaitingCommand::Remove { queue_id, .. } | WaitingCommand::Pickup { queue_id, .. } => {
            *queue_id
        }
    };
    // A caller leaves a queue that was deleted meanwhile too.
    let queue = s.call_queues.get(&queue_id);
    let queue = || queue.ok_or(CommandError::NotFound(Thing::CallQueue));
    match c {
        WaitingCommand::Report(w) => {
            pbx_only(by)?;
            queue()?;
            if let Some(existing) = entry(s, queue_id, &w.session_id) {
                return Ok((Decision::none(), Some(existing.id)));
            }
            if s.items.count(WAITING, ItemOwner::Tenant) >= MAX_WAITING {
                return Err(CommandError::conflict(
                    ConflictKind::ListFull,
                    format!("a tenant has at most {MAX_WAITING} callers waiting"),
                ));
            }
            let id = w.entry_id.get()?;
            let mut attrs = Fields::new();
            attrs.insert("queue_id".into(), Value::Int(queue_id.0 as i64));
            attrs.insert("session_id".into(), Value::from(w.session_id.as_str()));
            attrs.insert(
                "extension_number".into(),
                Value::from(w.extension_number.as_str()),
            );
            attrs.insert("display_name".into(), Value::from(w.display_name.as_str()));
            attrs.insert("since_ms".into(), Value::Int(w.since_ms));
            attrs.insert("reported_by".into(), Value::Int(by.user_id.0 as i64));
            Ok((created(WAITING, id, attrs), Some(id)))
        }
        WaitingCommand::Remove { session_id, .. } => {
            pbx_only(by)?;
            let Some(e) = entry(s, queue_id, session_id) else {
                // Gone already (a retry): nothing to do, if the queue exists.
                queue()?;
                return Ok((Decision::none(), None));
            };
            let parts = std::iter::once(deleted(WAITING, e))
                .chain(pickups_of(s, queue_id, session_id).map(|p| deleted(PICKUPS, p)));
            Ok((Decision::merge_all(parts)?, None))
        }
        WaitingCommand::Pickup {
            pickup_id,
            session_id,
            ..
        } => {
            if !queue()?.agents.contains_key(&by.user_id) {
                return Err(CommandError::forbidden(
                    Denial::NotYours,
                    "only an agent of this call queue picks up its calls",
                ));
            }
            let e = entry(s, queue_id, session_id)
                .ok_or(CommandError::NotFound(Thing::Item("waiting call")))?;
            if let Some(p) = pickups_of(s, queue_id, session_id).next() {
                if int_of(&p.attrs, "agent_id") == by.user_id.0 as i64 {
                    return Ok((Decision::none(), Some(p.id)));
                }
                return Err(CommandError::conflict(
                    ConflictKind::CallTaken,
                    "another agent is picking this call up",
                ));
            }
            let id = pickup_id.get()?;
            let number = s
                .users
                .get(&by.user_id)
                .and_then(|u| u.primary_extension)
                .and_then(|x| s.extensions.get(&x))
                .map(|x| x.number.clone())
                .unwrap_or_default();
            let mut attrs = Fields::new();
            attrs.insert("queue_id".into(), Value::Int(queue_id.0 as i64));
            attrs.insert("session_id".into(), Value::from(session_id.as_str()));
            attrs.insert("agent_id".into(), Value::Int(by.user_id.0 as i64));
            attrs.insert("agent_number".into(), Value::from(number.as_str()));
            attrs.insert(
                "reported_by".into(),
                Value::Int(int_of(&e.attrs, "reported_by")),
            );
            Ok((created(PICKUPS, id, attrs), Some(id)))
        }
    }
}

fn pbx_only(by: &Actor) -> Result<(), CommandError> {
    if by.authority.allows(Capability::ReportCallHistory) {
        return Ok(());
    }
    Err(CommandError::forbidden(
        Denial::NotYours,
        "only the PBX (the Replicator role) reports waiting calls",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::queues::tests_support::user;
    use crate::commands::testing::{actor, given_in};
    use switchboard_events::domain::{CallQueueAgentAdded, CallQueueCreated};
    use switchboard_events::TenantId;

    fn queue_with_agents(id: Id, name: &str, number: &str, agents: &[Id]) -> Vec<Event> {
        let mut events = vec![Event::CallQueueCreated(CallQueueCreated {
            queue_id: id,
            name: name.into(),
            extension_number: number.into(),
            attrs: Fields::new(),
        })];
        events.extend(agents.iter().map(|a| {
            Event::CallQueueAgentAdded(CallQueueAgentAdded {
                queue_id: id,
                user_id: *a,
                skill_level: 1,
            })
        }));
        events
    }

    const T: TenantId = Id(9);
    const Q: Id = Id(500);
    const OTHER_Q: Id = Id(501);
    const PBX: Id = Id(5);

    /// Alice (101) agent of Q, bob (102) agent of OTHER_Q, and `waiting`
    /// reported by the PBX.
    fn given(extra: &[WaitingCommand]) -> switchboard_projections::Directory {
        let mut events = user(Id(100), "alice", "101");
        events.extend(user(Id(200), "bob", "102"));
        events.extend(queue_with_agents(Q, "Support", "800", &[Id(100)]));
        events.extend(queue_with_agents(OTHER_Q, "Sales", "801", &[Id(200)]));
        for c in extra {
            let dir = given_in(T, &events);
            let by = if matches!(c, WaitingCommand::Pickup { .. }) {
                alice()
            } else {
                pbx()
            };
            let (d, _) = decide(dir.scope_or_empty(T), &by, c).expect("given");
            events.extend(d.events);
        }
        given_in(T, &events)
    }

    fn pbx() -> Actor {
        actor(PBX, "Replicator", None)
    }

    fn alice() -> Actor {
        actor(Id(100), "StandardUser", None)
    }

    fn report(id: u64, session: &str, since_ms: i64) -> WaitingCommand {
        WaitingCommand::Report(WaitingCaller {
            entry_id: NewId::given(Id(id)),
            queue_id: Q,
            session_id: session.into(),
            extension_number: "4930555".into(),
            display_name: "Caller".into(),
            since_ms,
        })
    }

    fn pickup(id: u64, queue_id: Id, session: &str) -> WaitingCommand {
        WaitingCommand::Pickup {
            pickup_id: NewId::given(Id(id)),
            queue_id,
            session_id: session.into(),
        }
    }

    #[test]
    fn given_reports_when_listed_then_longest_waiting_first_and_a_repeat_changes_nothing() {
        let dir = given(&[
            report(1000, "s-late", 2_000),
            report(1001, "s-early", 1_000),
        ]);
        let s = dir.scope_or_empty(T);
        let list: Vec<&str> = waiting(s, Q).iter().map(|w| w.session_id).collect();
        assert_eq!(list, vec!["s-early", "s-late"]);
        assert!(waiting(s, OTHER_Q).is_empty());
        let (d, id) = decide(s, &pbx(), &report(1002, "s-late", 5_000)).expect("repeat");
        assert!(d.is_empty());
        assert_eq!(id, Some(Id(1000)));
    }

    #[test]
    fn given_a_waiting_call_when_its_agent_picks_it_up_then_a_request_names_agent_and_pbx() {
        let dir = given(&[report(1000, "s-1", 1_000)]);
        let (d, id) =
            decide(dir.scope_or_empty(T), &alice(), &pickup(2000, Q, "s-1")).expect("pickup");
        assert_eq!(id, Some(Id(2000)));
        match d.events.as_slice() {
            [Event::ItemCreated(p)] => {
                assert_eq!(p.collection, PICKUPS);
                assert_eq!(p.attrs.get("agent_id"), Some(&Value::Int(100)));
                assert_eq!(p.attrs.get("agent_number"), Some(&Value::from("101")));
                assert_eq!(p.attrs.get("reported_by"), Some(&Value::Int(PBX.0 as i64)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn given_a_waiting_call_when_another_queues_agent_picks_it_up_then_403() {
        let dir = given(&[report(1000, "s-1", 1_000)]);
        let bob = actor(Id(200), "StandardUser", None);
        assert!(matches!(
            decide(dir.scope_or_empty(T), &bob, &pickup(2000, Q, "s-1")),
            Err(CommandError::Forbidden(..))
        ));
        // An administrator who is no agent of the queue does not answer it either.
        let admin = actor(Id(300), "Admin", None);
        assert!(matches!(
            decide(dir.scope_or_empty(T), &admin, &pickup(2000, Q, "s-1")),
            Err(CommandError::Forbidden(..))
        ));
    }

    #[test]
    fn given_a_gone_or_taken_call_when_picked_up_then_404_or_409_and_the_same_agent_again_is_a_no_op(
    ) {
        let dir = given(&[report(1000, "s-1", 1_000), pickup(2000, Q, "s-1")]);
        let s = dir.scope_or_empty(T);
        assert!(matches!(
            decide(s, &alice(), &pickup(2001, Q, "s-gone")),
            Err(CommandError::NotFound(Thing::Item("waiting call")))
        ));
        let (d, id) = decide(s, &alice(), &pickup(2001, Q, "s-1")).expect("again");
        assert!(d.is_empty());
        assert_eq!(id, Some(Id(2000)));
        // A second agent of the queue finds it taken.
        let mut events = user(Id(100), "alice", "101");
        events.extend(user(Id(200), "bob", "102"));
        events.extend(user(Id(300), "carol", "103"));
        events.extend(queue_with_agents(Q, "Support", "800", &[Id(100), Id(300)]));
        let mut all = events;
        for (c, by) in [
            (report(1000, "s-1", 1_000), pbx()),
            (pickup(2000, Q, "s-1"), alice()),
        ] {
            let dir = given_in(T, &all);
            let (d, _) = decide(dir.scope_or_empty(T), &by, &c).expect("given");
            all.extend(d.events);
        }
        let dir = given_in(T, &all);
        let carol = actor(Id(300), "StandardUser", None);
        assert!(matches!(
            decide(dir.scope_or_empty(T), &carol, &pickup(2001, Q, "s-1")),
            Err(CommandError::Conflict(ConflictKind::CallTaken, _))
        ));
    }

    #[test]
    fn given_a_picked_call_when_the_pbx_reports_it_gone_then_entry_and_request_go_and_again_nothing(
    ) {
        let dir = given(&[report(1000, "s-1", 1_000), pickup(2000, Q, "s-1")]);
        let s = dir.scope_or_empty(T);
        let remove = WaitingCommand::Remove {
            queue_id: Q,
            session_id: "s-1".into(),
        };
        let (d, _) = decide(s, &pbx(), &remove).expect("remove");
        let gone: Vec<Id> = d
            .events
            .iter()
            .filter_map(|e| match e {
                Event::ItemDeleted(x) => Some(x.item_id),
                _ => None,
            })
            .collect();
        assert_eq!(gone, vec![Id(1000), Id(2000)]);
        let dir = given(&[]);
        let (d, _) = decide(dir.scope_or_empty(T), &pbx(), &remove).expect("again");
        assert!(d.is_empty());
        // Only the PBX reports; an unknown queue is 404.
        assert!(matches!(
            decide(dir.scope_or_empty(T), &alice(), &remove),
            Err(CommandError::Forbidden(..))
        ));
        let mut elsewhere = report(1003, "s-9", 1_000);
        if let WaitingCommand::Report(w) = &mut elsewhere {
            w.queue_id = Id(999);
        }
        assert!(matches!(
            decide(dir.scope_or_empty(T), &pbx(), &elsewhere),
            Err(CommandError::NotFound(Thing::CallQueue))
        ));
    }
}
