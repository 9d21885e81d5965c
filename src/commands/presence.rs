//! Presence, SIP registrations and call state: SetPresence (by the user),
//! ReportRegistration / RemoveRegistration / ReportCallState (by the SIP
//! registrar, acting with the Replicator role).

use super::{CommandError, Decision};
use switchboard_events::domain::{
    CallState, CallStateChanged, PresenceSet, RegistrationAdded, RegistrationRemoved,
};
use switchboard_events::{Event, Id};
use switchboard_projections::directory::Scope;

/// Presences a user may choose (ON_CALL and OFFLINE are derived).
pub const PRESENCES: &[&str] = &[
    "DO_NOT_DISTURB",
    "AVAILABLE",
    "AWAY",
    "BUSINESS_TRIP",
    "LUNCH",
];

/// Longest registration accepted, in seconds (one week).
pub const MAX_EXPIRES: i64 = 7 * 24 * 3600;

fn user_exists(scope: &Scope, user_id: Id) -> Result<(), CommandError> {
    if scope.users.contains_key(&user_id) {
        Ok(())
    } else {
        Err(CommandError::NotFound("user".into()))
    }
}

/// Decides SetPresence: records only what changes (an empty note clears it).
pub fn set_presence(
    scope: &Scope,
    user_id: Id,
    presence: Option<String>,
    note: Option<String>,
) -> Result<Decision, CommandError> {
    user_exists(scope, user_id)?;
    if let Some(p) = &presence {
        if !PRESENCES.contains(&p.as_str()) {
            return Err(CommandError::invalid(
                "presence",
                format!("must be one of {}", PRESENCES.join(", ")),
            ));
        }
    }
    if let Some(n) = &note {
        if n.chars().count() > 128 {
            return Err(CommandError::invalid(
                "presence_note",
                "must be at most 128 characters",
            ));
        }
    }
    let current = scope.presence.get(&user_id);
    let cur_presence = current
        .and_then(|p| p.presence.as_deref())
        .unwrap_or("AVAILABLE");
    let cur_note = current
        .and_then(|p| p.presence_note.as_deref())
        .unwrap_or("");
    let presence = presence.filter(|p| p != cur_presence);
    let note = note.filter(|n| n != cur_note);
    if presence.is_none() && note.is_none() {
        return Ok(Decision::none());
    }
    Ok(Decision::events(vec![Event::PresenceSet(PresenceSet {
        user_id,
        presence,
        presence_note: note,
    })]))
}

/// A registration as reported by the registrar (validated by the caller,
/// except for the user's existence).
#[derive(Debug, Clone)]
pub struct Registration {
    /// The user.
    pub user_id: Id,
    /// Device instance id (non-empty).
    pub instance_id: String,
    /// User-Agent.
    pub user_agent: String,
    /// Application.
    pub application: String,
    /// Source IP.
    pub ip: String,
    /// Push wanted.
    pub enable_push: bool,
    /// Contact URI.
    pub contact_address: String,
    /// Absolute expiry, Unix milliseconds (computed from `expires` by the caller,
    /// which owns the clock).
    pub expires_at_ms: i64,
}

/// Decides ReportRegistration: always recorded (a refresh moves the expiry).
pub fn register(scope: &Scope, r: Registration) -> Result<Decision, CommandError> {
    user_exists(scope, r.user_id)?;
    Ok(Decision::events(vec![Event::RegistrationAdded(
        RegistrationAdded {
            user_id: r.user_id,
            instance_id: r.instance_id,
            user_agent: r.user_agent,
            application: r.application,
            ip: r.ip,
            enable_push: r.enable_push,
            contact_address: r.contact_address,
            expires_at_ms: r.expires_at_ms,
        },
    )]))
}

/// The user holding a registration with this instance id, if any.
pub fn registered_user(scope: &Scope, instance_id: &str) -> Option<Id> {
    scope
        .presence
        .iter()
        .find(|(_, p)| p.registrations.contains_key(instance_id))
        .map(|(u, _)| *u)
}

/// Decides RemoveRegistration (404 if the user has no such registration;
/// expired ones can still be removed).
pub fn unregister(scope: &Scope, user_id: Id, instance_id: &str) -> Result<Decision, CommandError> {
    user_exists(scope, user_id)?;
    let known = scope
        .presence
        .get(&user_id)
        .is_some_and(|p| p.registrations.contains_key(instance_id));
    if !known {
        return Err(CommandError::NotFound("registration".into()));
    }
    Ok(Decision::events(vec![Event::RegistrationRemoved(
        RegistrationRemoved {
            user_id,
            instance_id: instance_id.to_owned(),
        },
    )]))
}

/// Decides ReportCallState: a queue named must exist; reporting the state
/// the user is already in (same queue) appends nothing.
pub fn call_state(
    scope: &Scope,
    user_id: Id,
    state: CallState,
    queue_id: Option<Id>,
) -> Result<Decision, CommandError> {
    user_exists(scope, user_id)?;
    if let Some(q) = queue_id {
        if state == CallState::Idle {
            return Err(CommandError::invalid(
                "queue_id",
                "only a call (ON_CALL) comes through a queue",
            ));
        }
        if !scope.call_queues.contains_key(&q) {
            return Err(CommandError::invalid("queue_id", "no such call queue"));
        }
    }
    let call = scope.presence.get(&user_id).and_then(|p| p.call.as_ref());
    let same = match (state, call) {
        (CallState::Idle, None) => true,
        (CallState::OnCall, Some(c)) => c.queue_id == queue_id,
        _ => false,
    };
    if same {
        return Ok(Decision::none());
    }
    Ok(Decision::events(vec![Event::CallStateChanged(
        CallStateChanged {
            user_id,
            state,
            queue_id,
        },
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::queues::tests_support::user;
    use crate::commands::testing::given_in;
    use switchboard_events::TenantId;

    const T: TenantId = Id(9);
    const ALICE: Id = Id(300);

    fn scope(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    #[test]
    fn given_a_presence_when_setting_it_again_then_nothing_is_recorded() {
        let s = scope(&user(ALICE, "alice", "101"));
        assert!(set_presence(&s, ALICE, Some("AVAILABLE".into()), None)
            .expect("default")
            .events
            .is_empty());
        let d =
            set_presence(&s, ALICE, Some("AWAY".into()), Some("back at 3".into())).expect("away");
        let s = scope(&[user(ALICE, "alice", "101"), d.events].concat());
        let d =
            set_presence(&s, ALICE, Some("AWAY".into()), Some("back at 4".into())).expect("note");
        assert_eq!(
            d.events,
            vec![Event::PresenceSet(PresenceSet {
                user_id: ALICE,
                presence: None,
                presence_note: Some("back at 4".into())
            })]
        );
        assert!(matches!(
            set_presence(&s, ALICE, Some("ON_CALL".into()), None),
            Err(CommandError::Validation { ref field, .. }) if field == "presence"
        ));
    }

    #[test]
    fn given_no_call_when_reporting_idle_then_nothing_and_queue_ids_are_checked() {
        let s = scope(&user(ALICE, "alice", "101"));
        assert!(call_state(&s, ALICE, CallState::Idle, None)
            .expect("idle")
            .events
            .is_empty());
        assert!(call_state(&s, ALICE, CallState::OnCall, Some(Id(77))).is_err());
        assert_eq!(
            call_state(&s, ALICE, CallState::OnCall, None)
                .expect("call")
                .events
                .len(),
            1
        );
        assert!(matches!(
            unregister(&s, ALICE, "nope"),
            Err(CommandError::NotFound(_))
        ));
    }
}
