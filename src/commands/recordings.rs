//! Call recordings: the PBX reports a recording's metadata (the Replicator
//! role) after uploading its audio as a file of the tenant; users destroy
//! their own, administrators any.
//!
//! A recording is call history (ARCHITECTURE.md, "Call history"): its
//! metadata lives in the call history store, read from the log. What makes
//! it different is the file: recording one takes the file over (a
//! temporary upload becomes permanent, so the file collector keeps it),
//! and destroying one deletes the file in the same append, so the blob
//! goes at the file store's next sweep and the log says who did it.
//!
//! The ingestion flow looks the PBX's id (and the file's) up in the store
//! under its lock before this command runs, and the destroy flow reads the
//! recording from the store: the decisions get what they need in the
//! command and stay pure.

use super::files::{self, FILES};
use super::{Actor, CommandError, Decision, Denial, Thing};
use crate::auth::roles::Capability;
use crate::records::store::{FILE_DIGEST, FILE_ID};
use serde_json::{Map, Value as Json};
use switchboard_events::domain::{
    ItemDeleted, ItemOwner, ItemUpdated, RecordingDestroyed, RecordingRecorded,
};
use switchboard_events::{Event, Expected, Fields, Id, StreamId, TenantId, Value};
use switchboard_projections::directory::Scope;

/// A recording command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingCommand {
    /// Record a recording the PBX reported.
    Record(RecordRecording),
    /// Destroy recordings (a request, or retention).
    Destroy(DestroyRecordings),
}

/// A recording the PBX reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRecording {
    /// The PBX's own id of the recording.
    pub key: String,
    /// When the call started, Unix ms.
    pub at_ms: i64,
    /// Numbers it names that may be extensions of the tenant.
    pub numbers: Vec<String>,
    /// The validated fields, a JSON object.
    pub body: String,
    /// The file holding the audio.
    pub file_id: Id,
}

/// A recording to destroy, as the store has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doomed {
    /// Its id.
    pub id: Id,
    /// The PBX's own id.
    pub key: String,
    /// Its file.
    pub file_id: Option<Id>,
    /// The users who see it.
    pub parties: Vec<Id>,
}

/// Destroy recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestroyRecordings {
    /// Which.
    pub items: Vec<Doomed>,
    /// Asked under `/user/recordings` (the caller's own) rather than
    /// `/recordings` (the tenant's).
    pub own: bool,
    /// By retention.
    pub expired: bool,
}

/// Decides a recording command in `tenant`.
pub fn decide(
    s: &Scope,
    tenant: TenantId,
    by: &Actor,
    c: &RecordingCommand,
) -> Result<Decision, CommandError> {
    match c {
        RecordingCommand::Record(r) => record(s, tenant, by, r),
        RecordingCommand::Destroy(d) => destroy(s, tenant, by, d),
    }
}

fn item_stream(id: Id) -> StreamId {
    StreamId::of("item", id)
}

fn record(
    s: &Scope,
    tenant: TenantId,
    by: &Actor,
    r: &RecordRecording,
) -> Result<Decision, CommandError> {
    if !by.authority.allows(Capability::ReportCallHistory) {
        return Err(CommandError::forbidden(
            Denial::NotYours,
            "only the PBX (the Replicator role) reports call recordings",
        ));
    }
    let f = files::file(s, by, r.file_id).map_err(|_| {
        CommandError::invalid("file_id", "is not a file of this tenant you uploaded")
    })?;
    if !f.media_type.starts_with("audio/") {
        return Err(CommandError::invalid(
            "file_id",
            format!("a recording is audio, not {}", f.media_type),
        ));
    }
    let mut body: Map<String, Json> = serde_json::from_str(&r.body)
        .map_err(|_| CommandError::invalid("body", "is not a JSON object"))?;
    body.insert("file_name".into(), Json::from(f.name));
    body.insert("file_size".into(), Json::from(f.size));
    body.insert(
        "file_url".into(),
        Json::from(format!("/api/blobs/{}", f.digest)),
    );
    body.insert(FILE_ID.into(), Json::from(r.file_id.get()));
    body.insert(FILE_DIGEST.into(), Json::from(f.digest));
    let mut d = Decision::events(vec![Event::RecordingRecorded(RecordingRecorded {
        tenant_id: tenant,
        recording_id: r.key.clone(),
        started_at_ms: r.at_ms,
        parties: super::call_history::parties(s, &r.numbers),
        file_id: r.file_id,
        body: Json::Object(body).to_string(),
    })]);
    if f.temporary {
        // The recording keeps its file: the collector must not take it.
        let mut changes = Fields::new();
        changes.insert("temporary".into(), Value::Bool(false));
        let keep = Decision::events(vec![Event::ItemUpdated(ItemUpdated {
            item_id: r.file_id,
            collection: FILES.into(),
            owner: ItemOwner::Tenant,
            changes,
        })])
        .expect(
            item_stream(r.file_id),
            Expected::Exactly(f.item.stamp.version),
        );
        d = keep.merge(d)?;
    }
    Ok(d)
}

fn destroy(
    s: &Scope,
    tenant: TenantId,
    by: &Actor,
    d: &DestroyRecordings,
) -> Result<Decision, CommandError> {
    let mut parts = Vec::new();
    for r in &d.items {
        if d.own && !d.expired {
            // Another user's recording does not exist for the caller.
            if !r.parties.contains(&by.user_id) {
                return Err(CommandError::NotFound(Thing::Item("recording")));
            }
        } else if !by.authority.allows(Capability::ManageCallHistory) {
            return Err(CommandError::forbidden(
                Denial::NotYours,
                "only an administrator destroys the tenant's recordings",
            ));
        }
        let mut events = vec![Event::RecordingDestroyed(RecordingDestroyed {
            tenant_id: tenant,
            id: r.id,
            recording_id: r.key.clone(),
            expired: d.expired,
        })];
        let mut part = None;
        // The file goes with the recording unless something else uses it
        // (an administrator made it a greeting, say).
        if let Some(f) = r
            .file_id
            .and_then(|id| s.items.get(FILES, ItemOwner::Tenant, id))
            .filter(|f| files::referenced_by(s, f.id).is_none())
        {
            events.push(Event::ItemDeleted(ItemDeleted {
                item_id: f.id,
                collection: FILES.into(),
                owner: ItemOwner::Tenant,
            }));
            part = Some(
                Decision::events(events.clone())
                    .expect(item_stream(f.id), Expected::Exactly(f.stamp.version)),
            );
        }
        parts.push(part.unwrap_or_else(|| Decision::events(events)));
    }
    Decision::merge_all(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::files::{decide_file, FileCommand, NewFile};
    use crate::commands::queues::tests_support::user;
    use crate::commands::testing::{actor, given_in};
    use crate::files::Digest;

    const T: TenantId = Id(9);
    const PBX: Id = Id(5);
    const FILE: Id = Id(77);

    /// The directory with alice (101), bob (102), the PBX user and a file
    /// it uploaded (temporary or not, of `media_type`).
    fn given(temporary: bool, media_type: &str) -> switchboard_projections::Directory {
        let mut events = user(Id(100), "alice", "101");
        events.extend(user(Id(200), "bob", "102"));
        let upload = NewFile {
            file_id: FILE,
            name: "call.wav".into(),
            size: 44,
            media_type: media_type.into(),
            digest: Digest::of(b"audio"),
            temporary,
            uploaded_by: PBX,
        };
        let dir = given_in(T, &events);
        let (d, _) =
            decide_file(dir.scope_or_empty(T), &pbx(), &FileCommand::Create(upload)).expect("file");
        events.extend(d.events);
        given_in(T, &events)
    }

    fn pbx() -> Actor {
        actor(PBX, "Replicator", None)
    }

    fn report() -> RecordingCommand {
        RecordingCommand::Record(RecordRecording {
            key: "rec-1".into(),
            at_ms: 1_000,
            numbers: vec!["101".into(), "+4930555".into()],
            body: r#"{"caller":"101","started_at":"1970-01-01T00:00:01Z"}"#.into(),
            file_id: FILE,
        })
    }

    #[test]
    fn given_a_temporary_upload_when_the_pbx_reports_a_recording_then_the_file_is_kept_and_named() {
        let dir = given(true, "audio/wav");
        let d = decide(dir.scope_or_empty(T), T, &pbx(), &report()).expect("decided");
        match d.events.as_slice() {
            [Event::ItemUpdated(keep), Event::RecordingRecorded(r)] => {
                assert_eq!(keep.changes.get("temporary"), Some(&Value::Bool(false)));
                assert_eq!(r.parties, vec![Id(100)]);
                assert_eq!(r.file_id, FILE);
                let body: Json = serde_json::from_str(&r.body).expect("json");
                assert_eq!(body["file_name"], "call.wav");
                assert_eq!(body["file_size"], 44);
                assert_eq!(
                    body["file_url"],
                    format!("/api/blobs/{}", Digest::of(b"audio").hex())
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn given_a_file_that_is_not_audio_or_not_there_when_reported_then_file_id_is_named() {
        let dir = given(false, "image/png");
        let refused = decide(dir.scope_or_empty(T), T, &pbx(), &report());
        assert!(matches!(refused, Err(CommandError::Invalid { field, .. }) if field == "file_id"));
        let mut missing = report();
        if let RecordingCommand::Record(r) = &mut missing {
            r.file_id = Id(78);
        }
        let dir = given(false, "audio/wav");
        let refused = decide(dir.scope_or_empty(T), T, &pbx(), &missing);
        assert!(matches!(refused, Err(CommandError::Invalid { field, .. }) if field == "file_id"));
    }

    #[test]
    fn given_a_user_when_reporting_a_recording_then_refused() {
        let dir = given(false, "audio/wav");
        let by = actor(Id(100), "StandardUser", None);
        assert!(matches!(
            decide(dir.scope_or_empty(T), T, &by, &report()),
            Err(CommandError::Forbidden(..))
        ));
    }

    fn doomed(own: bool) -> RecordingCommand {
        RecordingCommand::Destroy(DestroyRecordings {
            items: vec![Doomed {
                id: Id(40),
                key: "rec-1".into(),
                file_id: Some(FILE),
                parties: vec![Id(100)],
            }],
            own,
            expired: false,
        })
    }

    #[test]
    fn given_a_recording_when_its_party_destroys_it_then_it_and_its_file_go() {
        let dir = given(false, "audio/wav");
        let alice = actor(Id(100), "StandardUser", None);
        let d = decide(dir.scope_or_empty(T), T, &alice, &doomed(true)).expect("decided");
        match d.events.as_slice() {
            [Event::RecordingDestroyed(r), Event::ItemDeleted(f)] => {
                assert_eq!((r.id, r.expired), (Id(40), false));
                assert_eq!(f.item_id, FILE);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn given_a_recording_when_someone_else_destroys_it_then_404_or_403() {
        let dir = given(false, "audio/wav");
        let bob = actor(Id(200), "StandardUser", None);
        assert!(matches!(
            decide(dir.scope_or_empty(T), T, &bob, &doomed(true)),
            Err(CommandError::NotFound(_))
        ));
        assert!(matches!(
            decide(dir.scope_or_empty(T), T, &bob, &doomed(false)),
            Err(CommandError::Forbidden(..))
        ));
        let admin = actor(Id(300), "Admin", None);
        assert!(decide(dir.scope_or_empty(T), T, &admin, &doomed(false)).is_ok());
    }
}
