//! Call history the PBX reports (the Replicator role): call detail records
//! and external messages.
//!
//! The record arrives validated and normalized (`records::fields`); the
//! decision resolves who sees it — every number it names that is the
//! primary extension number of a user of the tenant — as of the directory
//! it is decided against, so a later renumbering does not move old calls.
//! Whether the PBX's id was already reported is checked by the ingestion
//! flow against the call history store, under its own lock, before this
//! command runs (ARCHITECTURE.md, "Call history").

use super::{Actor, CommandError, Decision, Denial};
use crate::auth::roles::Capability;
use switchboard_events::domain::{CdrRecorded, ExternalMessageRecorded};
use switchboard_events::{Event, Id, TenantId};
use switchboard_projections::directory::Scope;

/// Which kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A call detail record.
    Cdr,
    /// An external (SMS, WhatsApp) message.
    Message,
}

/// Record a CDR or a message the PBX reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCallHistory {
    /// Which kind.
    pub kind: RecordKind,
    /// The PBX's own id (call id, message id).
    pub key: String,
    /// The record's time (a call's start, a message's creation), Unix ms.
    pub at_ms: i64,
    /// Numbers it names that may be extensions of the tenant.
    pub numbers: Vec<String>,
    /// The validated fields, a JSON object.
    pub body: String,
}

/// The users `numbers` belong to in `scope` (each once, ascending).
pub fn parties(scope: &Scope, numbers: &[String]) -> Vec<Id> {
    let mut users: Vec<Id> = numbers
        .iter()
        .filter_map(|n| scope.user_by_number(n))
        .map(|u| u.id)
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Decides RecordCallHistory: only a caller holding
/// [`Capability::ReportCallHistory`] reports call history.
pub fn record(
    scope: &Scope,
    tenant: TenantId,
    by: &Actor,
    cmd: &RecordCallHistory,
) -> Result<Decision, CommandError> {
    if !by.authority.allows(Capability::ReportCallHistory) {
        return Err(CommandError::forbidden(
            Denial::NotYours,
            "only the PBX (the Replicator role) reports call history",
        ));
    }
    let parties = parties(scope, &cmd.numbers);
    let event = match cmd.kind {
        RecordKind::Cdr => Event::CdrRecorded(CdrRecorded {
            tenant_id: tenant,
            call_id: cmd.key.clone(),
            started_at_ms: cmd.at_ms,
            parties,
            body: cmd.body.clone(),
        }),
        RecordKind::Message => Event::ExternalMessageRecorded(ExternalMessageRecorded {
            tenant_id: tenant,
            pbx_message_id: cmd.key.clone(),
            created_at_ms: cmd.at_ms,
            parties,
            body: cmd.body.clone(),
        }),
    };
    Ok(Decision::events(vec![event]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::queues::tests_support::user;
    use crate::commands::testing::{actor, given_in};

    const T: TenantId = Id(9);

    fn cmd(numbers: &[&str]) -> RecordCallHistory {
        RecordCallHistory {
            kind: RecordKind::Cdr,
            key: "call-1".into(),
            at_ms: 1_000,
            numbers: numbers.iter().map(|n| (*n).to_owned()).collect(),
            body: "{}".into(),
        }
    }

    #[test]
    fn given_users_when_a_cdr_names_their_numbers_then_both_see_it() {
        let mut events = user(Id(100), "alice", "101");
        events.extend(user(Id(200), "bob", "102"));
        let dir = given_in(T, &events);
        let by = actor(Id(5), "Replicator", None);
        let d = record(
            dir.scope_or_empty(T),
            T,
            &by,
            &cmd(&["102", "+4930555", "101", "999"]),
        )
        .expect("decided");
        match d.events.as_slice() {
            [Event::CdrRecorded(e)] => {
                assert_eq!(e.parties, vec![Id(100), Id(200)]);
                assert_eq!((e.tenant_id, e.call_id.as_str()), (T, "call-1"));
            }
            other => panic!("one CdrRecorded expected, got {other:?}"),
        }
    }

    #[test]
    fn given_a_message_when_recorded_then_a_message_event_in_the_tenant_stream() {
        let dir = given_in(T, &user(Id(100), "alice", "101"));
        let by = actor(Id(5), "Replicator", None);
        let mut c = cmd(&["101"]);
        c.kind = RecordKind::Message;
        let d = record(dir.scope_or_empty(T), T, &by, &c).expect("decided");
        assert!(matches!(
            d.events.as_slice(),
            [Event::ExternalMessageRecorded(e)] if e.parties == vec![Id(100)]
        ));
        assert_eq!(
            d.events[0].stream().to_string(),
            format!("messages-{}", T.0)
        );
    }

    #[test]
    fn given_a_caller_without_the_capability_when_recording_then_refused() {
        let dir = given_in(T, &[]);
        for role in ["StandardUser", "QueueManager"] {
            let by = actor(Id(5), role, None);
            assert!(matches!(
                record(dir.scope_or_empty(T), T, &by, &cmd(&[])),
                Err(CommandError::Forbidden(Denial::NotYours, _))
            ));
        }
    }
}
