//! Call history the PBX reports: call detail records and external
//! messages.
//!
//! High-volume history, not directory state: each is recorded in its
//! tenant's one `cdrs-{tenant}` or `messages-{tenant}` stream (one stream
//! per tenant, so the log's per-stream state does not grow with the number
//! of records), the projection ignores them, and their read side is the
//! on-disk call history store (ARCHITECTURE.md, "Call history").
//!
//! A record's id is the offset of the event that recorded it: unique for
//! ever, known once appended, and needing no minting (random ids would
//! collide now and then among ten million records of one tenant, and
//! checking them would need the store inside the decision).

use crate::ids::Id;
use serde::{Deserialize, Serialize};

/// The PBX reported a call detail record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdrRecorded {
    /// The tenant (its stream).
    pub tenant_id: Id,
    /// The PBX's own id of the call: unique per tenant.
    pub call_id: String,
    /// When the call started, Unix milliseconds (order, bounds, retention).
    pub started_at_ms: i64,
    /// The users who see it under `/user/cdrs` (resolved from the caller's
    /// and callee's extension numbers when it was recorded).
    pub parties: Vec<Id>,
    /// The validated fields as a JSON object (without `id`).
    pub body: String,
}

/// The PBX reported an external (SMS, WhatsApp) message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalMessageRecorded {
    /// The tenant (its stream).
    pub tenant_id: Id,
    /// The PBX's own id of the message: unique per tenant.
    pub pbx_message_id: String,
    /// When the message was created, Unix milliseconds.
    pub created_at_ms: i64,
    /// The users who see it under `/user/external_messages`.
    pub parties: Vec<Id>,
    /// The validated fields as a JSON object (without `id`).
    pub body: String,
}

/// The PBX reported a call recording: its metadata (the audio is a file of
/// the tenant, uploaded through the file store before the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingRecorded {
    /// The tenant (its stream).
    pub tenant_id: Id,
    /// The PBX's own id of the recording: unique per tenant.
    pub recording_id: String,
    /// When the recorded call started, Unix milliseconds (order, bounds,
    /// retention).
    pub started_at_ms: i64,
    /// The users who see it under `/user/recordings`.
    pub parties: Vec<Id>,
    /// The file holding the audio.
    pub file_id: Id,
    /// The validated fields as a JSON object (without `id`), with the
    /// file's name, size, url and digest.
    pub body: String,
}

/// A call recording was destroyed: by a user or an administrator (the
/// envelope names who), or by retention. Its file is deleted by the same
/// append, and the blob goes at the file store's next sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingDestroyed {
    /// The tenant (its stream).
    pub tenant_id: Id,
    /// The recording's id (the offset of its `RecordingRecorded`).
    pub id: Id,
    /// The PBX's own id of the recording.
    pub recording_id: String,
    /// Destroyed by retention rather than by a request.
    pub expired: bool,
}
