//! What a receiver gets: the JSON body of one delivery, a pure function of
//! the recorded event (never of the projection, which may have moved on),
//! so a retry or a redelivery after a crash sends the same body.
//!
//! ```json
//! {"id": "NTY=:1234", "type": "extension.updated", "offset": 1234,
//!  "tenant_id": "NTY=", "occurred_at": "2026-12-01T12:00:00Z",
//!  "actor": {"id": "Nzc=", "name": "boss", "via": "portsip"},
//!  "data": {"extension_id": "MTAx", "changes": {"name": "Reception"}}}
//! ```
//!
//! `id` is stable across redeliveries: receivers deduplicate on it. Ids are
//! PortSIP ids (the dialect the webhook settings belong to). `data` by type:
//!
//! | `type` | `data` |
//! | --- | --- |
//! | `extension.created` | `extension_id`, `number`, `name`, `type` (`SIP`/`WEBRTC`/`EXTERNAL`), `enabled` |
//! | `extension.updated` | `extension_id`, `changes` (changed fields and their new values) |
//! | `extension.deleted` | `extension_id` |
//! | `extension.user_linked`, `extension.user_unlinked` | `link_id`, `user_id`, `extension_id` |
//! | `user.primary_extension_changed` | `user_id`, `extension_id` (or `null`) |
//! | `cdr.created` (`cdr_event`) | the CDR as `GET /cdrs/{id}` shows it, with its `id`, and `user_ids` (the tenant's users who are parties) |
//!
//! Extension events carry no secret (extension passwords are user events
//! and never delivered); the source IP of the change is left out.

use super::settings::Kind;
use crate::field_tables::to_json;
use crate::ids::render;
use serde_json::{json, Map, Value as Json};
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Envelope, Event};
use switchboard_projections::directory::ext_type_name;

/// Whether a subscription of `kind` wants events of this type (checked on
/// the envelope, before decoding the payload).
pub fn wanted(kind: Kind, event_type: &str) -> bool {
    match kind {
        Kind::ExtensionEvent => matches!(
            event_type,
            "ExtensionCreated"
                | "ExtensionUpdated"
                | "ExtensionDeleted"
                | "UserLinkedToExtension"
                | "UserUnlinkedFromExtension"
                | "PrimaryExtensionChanged"
        ),
        Kind::CdrEvent => event_type == "CdrRecorded",
    }
}

/// Whether any event type could match `kind` (a subscription that can
/// never deliver needs no worker).
pub fn deliverable(kind: Kind) -> bool {
    switchboard_events::Event::catalog()
        .iter()
        .any(|(t, _)| wanted(kind, t))
}

/// The delivery id of the event at `offset` in `tenant`.
pub fn event_id(envelope: &Envelope) -> String {
    format!("{}:{}", render(envelope.tenant), envelope.offset)
}

/// The webhook body for an event of `kind`, or `None` if it is not one.
pub fn body(kind: Kind, envelope: &Envelope, event: &Event) -> Option<(&'static str, Json)> {
    if !wanted(kind, &envelope.event_type) {
        return None;
    }
    let (ty, data) = match event {
        Event::ExtensionCreated(e) => (
            "extension.created",
            json!({"extension_id": render(e.extension_id), "number": e.number, "name": e.name,
                   "type": ext_type_name(e.ext_type), "enabled": e.enabled}),
        ),
        Event::ExtensionUpdated(e) => {
            let changes: Map<String, Json> = e
                .changes
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect();
            (
                "extension.updated",
                json!({"extension_id": render(e.extension_id), "changes": changes}),
            )
        }
        Event::ExtensionDeleted(e) => (
            "extension.deleted",
            json!({"extension_id": render(e.extension_id)}),
        ),
        Event::UserLinkedToExtension(e) => (
            "extension.user_linked",
            json!({"link_id": render(e.link_id), "user_id": render(e.user_id),
                   "extension_id": render(e.extension_id)}),
        ),
        Event::UserUnlinkedFromExtension(e) => (
            "extension.user_unlinked",
            json!({"link_id": render(e.link_id), "user_id": render(e.user_id),
                   "extension_id": render(e.extension_id)}),
        ),
        Event::PrimaryExtensionChanged(e) => (
            "user.primary_extension_changed",
            json!({"user_id": render(e.user_id), "extension_id": e.extension_id.map(render)}),
        ),
        Event::CdrRecorded(e) => {
            // The CDR as `GET /cdrs/{id}` shows it, with its id (the offset).
            let id = switchboard_events::Id(envelope.offset);
            let mut cdr =
                crate::records::fields::CDR_FIELDS.render(&render(id), e.body.as_bytes(), false);
            cdr.insert(
                "user_ids".into(),
                Json::Array(e.parties.iter().map(|u| Json::String(render(*u))).collect()),
            );
            ("cdr.created", Json::Object(cdr))
        }
        _ => return None,
    };
    let m = &envelope.metadata;
    Some((
        ty,
        json!({
            "id": event_id(envelope),
            "type": ty,
            "offset": envelope.offset,
            "tenant_id": render(envelope.tenant),
            "occurred_at": format_rfc3339(envelope.recorded_at),
            "actor": {"id": m.actor_id.map(render), "name": m.actor_name, "via": m.via},
            "data": data,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use switchboard_events::domain::{ExtensionType, ExtensionUpdated, UserCreated};
    use switchboard_events::{Id, Metadata, StreamId, Value};

    fn envelope(offset: u64, event: &Event) -> Envelope {
        Envelope {
            offset,
            stream: StreamId::of("extension", Id(101)),
            stream_version: 1,
            tenant: Id(56),
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            recorded_at: time::macros::datetime!(2026-12-01 12:00:00 UTC),
            metadata: Metadata {
                actor_id: Some(Id(77)),
                actor_name: "boss".into(),
                request_id: Some("r".into()),
                source_ip: Some("192.0.2.1".parse().expect("ip")),
                via: "portsip".into(),
            },
            payload: event.encode().expect("encodes"),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    #[test]
    fn given_an_extension_update_then_the_body_carries_the_changes_and_stable_ids() {
        let mut changes = BTreeMap::new();
        changes.insert("name".to_owned(), Value::Str("Reception".into()));
        let e = Event::ExtensionUpdated(ExtensionUpdated {
            extension_id: Id(101),
            changes,
        });
        let (ty, body) = body(Kind::ExtensionEvent, &envelope(1234, &e), &e).expect("wanted");
        assert_eq!(ty, "extension.updated");
        assert_eq!(
            body,
            json!({"id": "NTY=:1234", "type": "extension.updated", "offset": 1234,
                   "tenant_id": "NTY=", "occurred_at": "2026-12-01T12:00:00Z",
                   "actor": {"id": "Nzc=", "name": "boss", "via": "portsip"},
                   "data": {"extension_id": "MTAx", "changes": {"name": "Reception"}}})
        );
        assert!(!body.to_string().contains("192.0.2.1"), "no source IP");
    }

    #[test]
    fn given_a_recorded_cdr_then_the_cdr_event_sends_it_and_the_extension_event_does_not() {
        let e = Event::CdrRecorded(switchboard_events::domain::CdrRecorded {
            tenant_id: Id(56),
            call_id: "c-1".into(),
            started_at_ms: 0,
            parties: vec![Id(77)],
            body: r#"{"call_id":"c-1","caller":"101","started_at":"2026-12-01T12:00:00Z"}"#.into(),
        });
        let (ty, b) = body(Kind::CdrEvent, &envelope(9, &e), &e).expect("wanted");
        assert_eq!(ty, "cdr.created");
        assert_eq!(b["data"]["id"], "OQ==");
        assert_eq!(b["data"]["caller"], "101");
        assert_eq!(b["data"]["user_ids"], json!(["Nzc="]));
        assert_eq!(b["data"]["duration"], Json::Null);
        assert_eq!(body(Kind::ExtensionEvent, &envelope(9, &e), &e), None);
        assert!(deliverable(Kind::CdrEvent));
    }

    #[test]
    fn only_extension_events_are_wanted_by_the_extension_event() {
        let created = Event::ExtensionCreated(switchboard_events::domain::ExtensionCreated {
            extension_id: Id(1),
            number: "101".into(),
            name: "Desk".into(),
            ext_type: ExtensionType::WebRtc,
            enabled: true,
        });
        let (_, b) = body(Kind::ExtensionEvent, &envelope(3, &created), &created).expect("wanted");
        assert_eq!(b["data"]["type"], "WEBRTC");
        assert_eq!(body(Kind::CdrEvent, &envelope(3, &created), &created), None);
        let user = Event::UserCreated(UserCreated {
            user_id: Id(2),
            name: "ann".into(),
            role: "StandardUser".into(),
            password_hash: "$argon2id$x".into(),
            attrs: BTreeMap::new(),
        });
        assert_eq!(body(Kind::ExtensionEvent, &envelope(4, &user), &user), None);
        assert!(deliverable(Kind::ExtensionEvent));
    }
}
