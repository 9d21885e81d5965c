//! Call history: CDRs, external messages and call recordings the PBX
//! reports.
//!
//! High-volume history, not directory state: the records are events in
//! the log (durable, hash-chained, carrying who reported them), but the
//! projection ignores them; their read side is the on-disk [`store`],
//! which a follower keeps in step with the log (ARCHITECTURE.md, "Call
//! history").
//!
//! # Layout
//!
//! - [`store`]: the per-tenant on-disk store: records by time, by user and
//!   by the PBX's own id; pages for `filter/orderby/skip/top`; retention.
//! - [`fields`]: what ingestion accepts and what lists and details render
//!   (checked against PortSIP's definitions).
//! - [`history`]: the service around it: the follower that applies the
//!   log's call history to the store, waiting for it, ingestion locks,
//!   retention.
//! - [`ingest`]: ingestion, idempotent by the PBX's own id.
//! - [`recordings`]: destroying call recordings (on request, by retention).

pub mod fields;
pub mod history;
pub mod ingest;
pub mod recordings;
pub mod store;

#[cfg(test)]
mod store_tests;

use switchboard_projections::query::{Dir, FieldType, ListSchema};

/// What `/cdrs` and `/user/cdrs` lists accept in `filter`, `search` and
/// `orderby`. Newest first by default; the time field is what the store
/// orders by.
pub const CDR_LIST: ListSchema = ListSchema {
    fields: &[
        ("started_at", FieldType::DateTime),
        ("rang_at", FieldType::DateTime),
        ("answered_at", FieldType::DateTime),
        ("ended_at", FieldType::DateTime),
        ("caller", FieldType::String),
        ("caller_domain", FieldType::String),
        ("caller_display_name", FieldType::String),
        ("callee", FieldType::String),
        ("callee_domain", FieldType::String),
        ("callee_display_name", FieldType::String),
        ("call_id", FieldType::String),
        ("direction", FieldType::String),
        ("end_reason", FieldType::String),
        ("reroute_reason", FieldType::String),
        ("status_code", FieldType::Number),
        ("destination", FieldType::String),
        ("outbound_caller_id", FieldType::String),
        ("did_cid", FieldType::String),
        ("trunk", FieldType::String),
        ("duration", FieldType::Number),
        ("service_number", FieldType::String),
    ],
    search: &[
        "caller",
        "callee",
        "caller_display_name",
        "callee_display_name",
        "destination",
    ],
    default_order: &[(CDR_TIME, Dir::Desc)],
};

/// The field CDRs are ordered, bounded and pruned by.
pub const CDR_TIME: &str = "started_at";

/// What `/external_messages` and `/user/external_messages` accept.
pub const MESSAGE_LIST: ListSchema = ListSchema {
    fields: &[
        ("created_at", FieldType::DateTime),
        ("sender", FieldType::String),
        ("sender_name", FieldType::String),
        ("receiver", FieldType::String),
        ("receiver_name", FieldType::String),
        ("channel_name", FieldType::String),
        ("channel_number", FieldType::String),
        ("brand", FieldType::String),
        ("did", FieldType::String),
        ("msg_type", FieldType::String),
        ("direction", FieldType::String),
        ("delivery", FieldType::String),
        ("provider_msg_id", FieldType::String),
    ],
    search: &[
        "sender",
        "sender_name",
        "receiver",
        "receiver_name",
        "content",
    ],
    default_order: &[(MESSAGE_TIME, Dir::Desc)],
};

/// The field messages are ordered, bounded and pruned by.
pub const MESSAGE_TIME: &str = "created_at";

/// What `/recordings` and `/user/recordings` accept.
pub const RECORDING_LIST: ListSchema = ListSchema {
    fields: &[
        ("started_at", FieldType::DateTime),
        ("ended_at", FieldType::DateTime),
        ("caller", FieldType::String),
        ("callee", FieldType::String),
        ("duration", FieldType::Number),
        ("file_name", FieldType::String),
        ("file_size", FieldType::Number),
    ],
    search: &["caller", "callee", "file_name"],
    default_order: &[(RECORDING_TIME, Dir::Desc)],
};

/// The field recordings are ordered, bounded and expired by.
pub const RECORDING_TIME: &str = "started_at";
