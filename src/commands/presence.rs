//! Presence, SIP registrations and call state: SetPresence (by the user),
//! ReportRegistration / RemoveRegistration / ReportCallState (by the SIP
//! registrar, acting with the Replicator role).

use super::users::ExtensionNumber;
use super::{Actor, CommandError, Decision, Thing};
use crate::auth::roles::Capability;
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
    super::users::user(scope, user_id).map(|_| ())
}

/// Set a user's presence and note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPresence {
    /// The user.
    pub user_id: Id,
    /// One of [`PRESENCES`], if given.
    pub presence: Option<String>,
    /// A note (at most 128 characters; empty clears it), if given.
    pub note: Option<String>,
}

/// Decides SetPresence: records only what changes (an empty note clears
/// it). The user itself, or a caller who manages users.
pub fn set_presence(
    scope: &Scope,
    by: &Actor,
    cmd: &SetPresence,
) -> Result<Decision, CommandError> {
    by.must_be_or_hold(
        cmd.user_id,
        Capability::ManageUsers,
        "you may only set your own presence",
    )?;
    let (user_id, presence, note) = (cmd.user_id, cmd.presence.clone(), cmd.note.clone());
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

/// Who a registrar names: a user by account name, or by the number of its
/// primary extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// The account name.
    Name(String),
    /// The number of the user's primary extension.
    Number(ExtensionNumber),
}

impl UserRef {
    /// The user named, as of `scope`.
    pub fn resolve(&self, scope: &Scope) -> Result<Id, CommandError> {
        let u = match self {
            UserRef::Name(n) => scope.user_by_name(n),
            UserRef::Number(x) => scope.user_by_number(x.as_str()),
        };
        u.map(|u| u.id).ok_or(CommandError::NotFound(Thing::User))
    }
}

/// A registration as reported by the registrar (validated when parsed,
/// except for the user's existence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRegistration {
    /// The user.
    pub user: UserRef,
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

/// Decides ReportRegistration: always recorded (a refresh moves the
/// expiry). Returns the user it resolved.
pub fn register(scope: &Scope, r: &ReportRegistration) -> Result<(Decision, Id), CommandError> {
    let user_id = r.user.resolve(scope)?;
    Ok((
        Decision::events(vec![Event::RegistrationAdded(RegistrationAdded {
            user_id,
            instance_id: r.instance_id.clone(),
            user_agent: r.user_agent.clone(),
            application: r.application.clone(),
            ip: r.ip.clone(),
            enable_push: r.enable_push,
            contact_address: r.contact_address.clone(),
            expires_at_ms: r.expires_at_ms,
        })]),
        user_id,
    ))
}

/// The user holding a registration with this instance id, if any.
pub fn registered_user(scope: &Scope, instance_id: &str) -> Option<Id> {
    scope
        .presence
        .iter()
        .find(|(_, p)| p.registrations.contains_key(instance_id))
        .map(|(u, _)| *u)
}

/// Remove a registration: of a given user, or of whichever user holds
/// that instance id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveRegistration {
    /// The user, if the caller names one.
    pub user_id: Option<Id>,
    /// The device instance.
    pub instance_id: String,
}

/// Decides RemoveRegistration (404 if there is no such registration;
/// expired ones can still be removed).
pub fn remove_registration(
    scope: &Scope,
    cmd: &RemoveRegistration,
) -> Result<Decision, CommandError> {
    let user_id = match cmd.user_id {
        Some(u) => u,
        None => registered_user(scope, &cmd.instance_id)
            .ok_or(CommandError::NotFound(Thing::Registration))?,
    };
    unregister(scope, user_id, &cmd.instance_id)
}

/// Decides RemoveRegistration of `user_id`'s `instance_id`.
pub fn unregister(scope: &Scope, user_id: Id, instance_id: &str) -> Result<Decision, CommandError> {
    user_exists(scope, user_id)?;
    let known = scope
        .presence
        .get(&user_id)
        .is_some_and(|p| p.registrations.contains_key(instance_id));
    if !known {
        return Err(CommandError::NotFound(Thing::Registration));
    }
    Ok(Decision::events(vec![Event::RegistrationRemoved(
        RegistrationRemoved {
            user_id,
            instance_id: instance_id.to_owned(),
        },
    )]))
}

/// Report a user's call state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportCallState {
    /// The user.
    pub user_id: Id,
    /// On a call or idle.
    pub state: CallState,
    /// The call queue the call came through, if any.
    pub queue_id: Option<Id>,
}

/// Decides ReportCallState: a queue named must exist; reporting the state
/// the user is already in (same queue) appends nothing.
pub fn call_state(scope: &Scope, cmd: &ReportCallState) -> Result<Decision, CommandError> {
    let ReportCallState {
        user_id,
        state,
        queue_id,
    } = *cmd;
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
    use crate::commands::testing::{actor, given_in, system_actor};
    use crate::commands::Denial;
    use switchboard_events::TenantId;

    const T: TenantId = Id(9);
    const ALICE: Id = Id(300);

    fn presence(presence: Option<String>, note: Option<String>) -> SetPresence {
        SetPresence {
            user_id: ALICE,
            presence,
            note,
        }
    }

    fn calling(state: CallState, queue_id: Option<Id>) -> ReportCallState {
        ReportCallState {
            user_id: ALICE,
            state,
            queue_id,
        }
    }

    fn scope(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    #[test]
    fn given_a_presence_when_setting_it_again_then_nothing_is_recorded() {
        let s = scope(&user(ALICE, "alice", "101"));
        assert!(set_presence(
            &s,
            &system_actor(),
            &presence(Some("AVAILABLE".into()), None)
        )
        .expect("default")
        .events
        .is_empty());
        let d = set_presence(
            &s,
            &system_actor(),
            &presence(Some("AWAY".into()), Some("back at 3".into())),
        )
        .expect("away");
        let s = scope(&[user(ALICE, "alice", "101"), d.events].concat());
        let d = set_presence(
            &s,
            &system_actor(),
            &presence(Some("AWAY".into()), Some("back at 4".into())),
        )
        .expect("note");
        assert_eq!(
            d.events,
            vec![Event::PresenceSet(PresenceSet {
                user_id: ALICE,
                presence: None,
                presence_note: Some("back at 4".into())
            })]
        );
        assert!(matches!(
            set_presence(&s, &system_actor(), &presence(Some("ON_CALL".into()), None)),
            Err(CommandError::Invalid { ref field, .. }) if field == "presence"
        ));
    }

    #[test]
    fn given_no_call_when_reporting_idle_then_nothing_and_queue_ids_are_checked() {
        let s = scope(&user(ALICE, "alice", "101"));
        assert!(call_state(&s, &calling(CallState::Idle, None))
            .expect("idle")
            .events
            .is_empty());
        assert!(call_state(&s, &calling(CallState::OnCall, Some(Id(77)))).is_err());
        assert_eq!(
            call_state(&s, &calling(CallState::OnCall, None))
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

    #[test]
    fn given_another_user_when_setting_presence_then_only_a_user_manager_may() {
        let s = scope(&user(ALICE, "alice", "101"));
        let away = presence(Some("AWAY".into()), None);
        assert!(set_presence(&s, &actor(ALICE, "StandardUser", None), &away).is_ok());
        assert!(matches!(
            set_presence(&s, &actor(Id(1), "StandardUser", None), &away),
            Err(CommandError::Forbidden(Denial::NotYours, _))
        ));
        assert!(set_presence(&s, &actor(Id(1), "Admin", None), &away).is_ok());
    }

    #[test]
    fn given_a_registration_then_it_is_found_by_name_number_or_instance() {
        let s = scope(&user(ALICE, "alice", "101"));
        let report = |user: UserRef| ReportRegistration {
            user,
            instance_id: "dev-1".into(),
            user_agent: String::new(),
            application: String::new(),
            ip: String::new(),
            enable_push: false,
            contact_address: String::new(),
            expires_at_ms: 1,
        };
        let number = UserRef::Number(ExtensionNumber::parse("101", "n").expect("n"));
        let (d, who) = register(&s, &report(number)).expect("by number");
        assert_eq!(who, ALICE);
        assert_eq!(
            register(&s, &report(UserRef::Name("ALICE".into()))).map(|r| r.1),
            Ok(ALICE)
        );
        assert_eq!(
            register(&s, &report(UserRef::Name("bob".into()))).map(|r| r.1),
            Err(CommandError::NotFound(Thing::User))
        );
        let s = scope(&[user(ALICE, "alice", "101"), d.events].concat());
        let by_instance = RemoveRegistration {
            user_id: None,
            instance_id: "dev-1".into(),
        };
        assert_eq!(
            remove_registration(&s, &by_instance)
                .expect("removes")
                .events
                .len(),
            1
        );
        let unknown = RemoveRegistration {
            user_id: None,
            instance_id: "dev-2".into(),
        };
        assert_eq!(
            remove_registration(&s, &unknown),
            Err(CommandError::NotFound(Thing::Registration))
        );
    }
}
