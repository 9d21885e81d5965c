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

/// The system administrator (user 1) as an actor: holds everything.
pub fn system_actor() -> crate::commands::Actor {
    crate::commands::Actor {
        user_id: switchboard_events::Id(1_000_001),
        authority: crate::auth::roles::Authority::new("SystemAdmin", None, true),
    }
}

/// A tenant user `user_id` with the built-in or custom `role` (custom
/// flags as given) as an actor.
pub fn actor(
    user_id: switchboard_events::Id,
    role: &str,
    flags: Option<&[&str]>,
) -> crate::commands::Actor {
    let flags: Option<Vec<String>> = flags.map(|f| f.iter().map(|s| (*s).to_owned()).collect());
    crate::commands::Actor {
        user_id,
        authority: crate::auth::roles::Authority::new(role, flags.as_deref(), false),
    }
}

/// A StandardUser `name` with id `user_id` and no other attributes, as
/// created (for decisions that only need the user to exist).
pub fn user_created(user_id: switchboard_events::Id, name: &str) -> Event {
    Event::UserCreated(switchboard_events::domain::UserCreated {
        user_id,
        name: name.into(),
        role: "StandardUser".into(),
        password_hash: "h".into(),
        attrs: switchboard_events::Fields::new(),
    })
}
