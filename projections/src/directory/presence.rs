//! Presence, SIP registrations and call state per user, and the statuses
//! derived from them.
//!
//! Everything derived (ONLINE/ON_CALL/OFFLINE, an agent's QUEUE_CALL,
//! OTHER_CALL and OFFLINE) is a pure function of the recorded facts and
//! the clock, evaluated when read: a registration whose `expires_at` has
//! passed simply stops counting, with no timer and no expiry event.

use super::Scope;
use std::collections::BTreeMap;
use switchboard_events::domain::{
    AgentStatus, CallState, CallStateChanged, PresenceSet, RegistrationAdded, RegistrationRemoved,
};
use switchboard_events::{EnvelopeRef, Id};
use time::OffsetDateTime;

/// One SIP registration of a user's device.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegistrationView {
    /// Device instance id.
    pub instance_id: String,
    /// User-Agent.
    pub user_agent: String,
    /// Application name.
    pub application: String,
    /// Source IP.
    pub ip: String,
    /// Push notifications wanted.
    pub enable_push: bool,
    /// Contact URI.
    pub contact_address: String,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A call in progress.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallView {
    /// The queue it came through, for queue calls.
    pub queue_id: Option<Id>,
    /// When the call began.
    pub since: OffsetDateTime,
}

/// What the directory knows about a user's presence.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PresenceView {
    /// Presence chosen by the user (`None`: AVAILABLE).
    pub presence: Option<String>,
    /// Presence note.
    pub presence_note: Option<String>,
    /// Registrations by instance id (expired ones included until replaced
    /// or removed; readers filter them by time).
    pub registrations: BTreeMap<String, RegistrationView>,
    /// The current call, if any.
    pub call: Option<CallView>,
}

impl PresenceView {
    /// The registrations still valid at `now_ms`.
    pub fn live_registrations(&self, now_ms: i64) -> impl Iterator<Item = &RegistrationView> {
        self.registrations
            .values()
            .filter(move |r| r.expires_at_ms > now_ms)
    }

    /// Whether any registration is valid at `now_ms`.
    pub fn registered(&self, now_ms: i64) -> bool {
        self.live_registrations(now_ms).next().is_some()
    }
}

/// A user's line status: `ON_CALL` during a call, `ONLINE` while
/// registered, `OFFLINE` otherwise.
pub fn line_status(p: Option<&PresenceView>, now_ms: i64) -> &'static str {
    match p {
        Some(p) if p.call.is_some() => "ON_CALL",
        Some(p) if p.registered(now_ms) => "ONLINE",
        _ => "OFFLINE",
    }
}

/// The presence shown to others: `ON_CALL` / `OFFLINE` follow the line
/// status; otherwise the user's own choice (AVAILABLE by default).
pub fn shown_presence(p: Option<&PresenceView>, now_ms: i64) -> String {
    match line_status(p, now_ms) {
        "ONLINE" => p
            .and_then(|p| p.presence.clone())
            .unwrap_or_else(|| "AVAILABLE".to_owned()),
        other => other.to_owned(),
    }
}

/// An agent's reported status in `queue_id`, from its settable status and
/// the user's presence facts at `now_ms`, in this order of precedence:
///
/// 1. LOGGED_OUT stays LOGGED_OUT (the agent is not in the queue at all);
/// 2. in a call: QUEUE_CALL if it came through this queue, else OTHER_CALL;
/// 3. no live registration: OFFLINE;
/// 4. otherwise the settable status.
///
/// When the call ends or the device registers again, the settable status
/// (which derived states never overwrite) shows again.
pub fn agent_status(
    settable: AgentStatus,
    p: Option<&PresenceView>,
    queue_id: Id,
    now_ms: i64,
) -> &'static str {
    if settable == AgentStatus::LoggedOut {
        return settable.as_str();
    }
    match p {
        Some(PresenceView {
            call: Some(call), ..
        }) => {
            if call.queue_id == Some(queue_id) {
                "QUEUE_CALL"
            } else {
                "OTHER_CALL"
            }
        }
        Some(p) if p.registered(now_ms) => settable.as_str(),
        _ => "OFFLINE",
    }
}

pub(super) fn presence_set(scope: &mut Scope, e: &PresenceSet) {
    let p = scope
        .presence
        .get_or_insert_with(e.user_id, PresenceView::default);
    if let Some(v) = &e.presence {
        p.presence = Some(v.clone());
    }
    if let Some(n) = &e.presence_note {
        p.presence_note = (!n.is_empty()).then(|| n.clone());
    }
}

pub(super) fn registration_added(scope: &mut Scope, e: &RegistrationAdded) {
    let p = scope
        .presence
        .get_or_insert_with(e.user_id, PresenceView::default);
    p.registrations.insert(
        e.instance_id.clone(),
        RegistrationView {
            instance_id: e.instance_id.clone(),
            user_agent: e.user_agent.clone(),
            application: e.application.clone(),
            ip: e.ip.clone(),
            enable_push: e.enable_push,
            contact_address: e.contact_address.clone(),
            expires_at_ms: e.expires_at_ms,
        },
    );
}

pub(super) fn registration_removed(scope: &mut Scope, e: &RegistrationRemoved) {
    if let Some(p) = scope.presence.get_mut(&e.user_id) {
        p.registrations.remove(&e.instance_id);
    }
}

pub(super) fn call_state_changed(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &CallStateChanged) {
    let p = scope
        .presence
        .get_or_insert_with(e.user_id, PresenceView::default);
    p.call = match e.state {
        CallState::Idle => None,
        CallState::OnCall => Some(CallView {
            queue_id: e.queue_id,
            since: env.recorded_at,
        }),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Id = Id(1);
    const OTHER: Id = Id(2);

    fn registered_until(ms: i64) -> PresenceView {
        let mut p = PresenceView::default();
        p.registrations.insert(
            "dev".into(),
            RegistrationView {
                instance_id: "dev".into(),
                user_agent: String::new(),
                application: String::new(),
                ip: String::new(),
                enable_push: false,
                contact_address: String::new(),
                expires_at_ms: ms,
            },
        );
        p
    }

    fn on_call(mut p: PresenceView, queue: Option<Id>) -> PresenceView {
        p.call = Some(CallView {
            queue_id: queue,
            since: OffsetDateTime::UNIX_EPOCH,
        });
        p
    }

    #[test]
    fn registration_counts_until_it_expires() {
        let p = registered_until(1000);
        assert_eq!(line_status(Some(&p), 999), "ONLINE");
        assert_eq!(line_status(Some(&p), 1000), "OFFLINE");
        assert_eq!(line_status(None, 0), "OFFLINE");
        assert_eq!(agent_status(AgentStatus::Break, Some(&p), Q, 999), "BREAK");
        assert_eq!(
            agent_status(AgentStatus::Break, Some(&p), Q, 1000),
            "OFFLINE"
        );
    }

    #[test]
    fn calls_override_the_settable_status_and_it_returns_after() {
        let idle = registered_until(1000);
        let queue_call = on_call(idle.clone(), Some(Q));
        let other_call = on_call(idle.clone(), Some(OTHER));
        let direct = on_call(idle.clone(), None);
        let ready = AgentStatus::Ready;
        assert_eq!(agent_status(ready, Some(&queue_call), Q, 0), "QUEUE_CALL");
        assert_eq!(agent_status(ready, Some(&other_call), Q, 0), "OTHER_CALL");
        assert_eq!(agent_status(ready, Some(&direct), Q, 0), "OTHER_CALL");
        assert_eq!(line_status(Some(&direct), 0), "ON_CALL");
        assert_eq!(shown_presence(Some(&direct), 0), "ON_CALL");
        assert_eq!(agent_status(ready, Some(&idle), Q, 0), "READY");
        assert_eq!(
            agent_status(AgentStatus::LoggedOut, Some(&queue_call), Q, 0),
            "LOGGED_OUT"
        );
    }

    #[test]
    fn presence_defaults_to_available_while_online() {
        let mut p = registered_until(1000);
        assert_eq!(shown_presence(Some(&p), 0), "AVAILABLE");
        p.presence = Some("AWAY".into());
        assert_eq!(shown_presence(Some(&p), 0), "AWAY");
        assert_eq!(shown_presence(Some(&p), 2000), "OFFLINE");
    }
}
