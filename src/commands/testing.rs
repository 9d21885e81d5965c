//! Given/when/then support for decision tests: build the directory from a
//! list of past events, as the projection would.

use std::collections::HashMap;
use switchboard_events::{Envelope, Event, Metadata, TenantId};
use switchboard_projections::{Directory, Projection};
use time::OffsetDateTime;

/// The directory after `events`, all recorded in `tenant`, with offsets,
/// stream versions and times assigned as the log would.
pub fn given_in(tenant: TenantId, events: &[Event]) -> Directory {
    let mut dir = Directory::default();
    let mut versions = HashMap::new();
    for e in events {
        let stream = e.stream();
        let version = versions.entry(stream.clone()).or_insert(0u64);
        *version += 1;
        let env = Envelope {
            offset: dir.offset + 1,
            stream,
            stream_version: *version,
            tenant,
            event_type: e.event_type().into(),
            schema_version: e.schema_version(),
            recorded_at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(dir.offset as i64),
            metadata: Metadata::system("test"),
            payload: vec![],
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        dir.apply(&env, e);
    }
    dir
}
