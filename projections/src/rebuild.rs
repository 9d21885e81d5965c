//! Rebuilding the directory from a prefix of the log: the engine behind
//! `switchboard replay`, `?as_of=`, the audit log and object history.
//!
//! `recorded_at` never decreases along offsets, so "as of time T" is the
//! prefix of records with `recorded_at <= T`, and the scan stops at the
//! first record after T.

use crate::directory::Directory;
use crate::runtime::{Projection, ReplayError};
use switchboard_events::{Envelope, Event, LogError};
use time::OffsetDateTime;

/// Where a rebuild stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Every record.
    Head,
    /// Records with offset ≤ N.
    Offset(u64),
    /// Records recorded at or before this time.
    Time(OffsetDateTime),
}

impl Until {
    /// Whether `env` is past the end.
    pub fn is_past(&self, env: &Envelope) -> bool {
        match self {
            Until::Head => false,
            Until::Offset(n) => env.offset > *n,
            Until::Time(t) => env.recorded_at > *t,
        }
    }
}

/// Applies envelopes (in offset order, continuing `dir`) until `until`,
/// calling `inspect` with each event and the state *before* it is applied.
/// Returns the number of events applied.
pub fn rebuild<I>(
    dir: &mut Directory,
    envelopes: I,
    until: Until,
    mut inspect: impl FnMut(&Envelope, &Event, &Directory),
) -> Result<u64, ReplayError>
where
    I: IntoIterator<Item = Result<Envelope, LogError>>,
{
    let mut count = 0;
    for env in envelopes {
        let env = env?;
        if until.is_past(&env) {
            break;
        }
        let expected = dir.offset + 1;
        if env.offset != expected {
            return Err(ReplayError::OutOfOrder {
                expected,
                got: env.offset,
            });
        }
        let event = Event::from_envelope(&env).map_err(|source| ReplayError::Decode {
            offset: env.offset,
            source,
        })?;
        inspect(&env, &event, dir);
        dir.apply(&env, &event);
        count += 1;
    }
    Ok(count)
}
