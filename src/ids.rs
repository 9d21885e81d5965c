//! Minting ids. Ids are random (not sequential) so they reveal nothing about
//! how many resources a tenant has, and below 2^53 so every dialect can
//! carry them (see `switchboard_events::ids`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::Rng;
use switchboard_events::ids::{Id, ID_LIMIT};

/// A random id in `1..2^53`.
pub fn random_id() -> Id {
    Id(rand::thread_rng().gen_range(1..ID_LIMIT))
}

/// Renders an id as its canonical string (PortSIP's form, base64 of the
/// decimal id, e.g. `NzAwNTUxOTA5NzczMTQ4MTYw`). List orders that break ties
/// by `id` compare these strings, so the queries layer indexes them too.
pub fn render(id: Id) -> String {
    STANDARD.encode(id.0.to_string())
}

/// Parses an id rendered by [`render`]; `None` for anything we could not
/// have issued.
pub fn parse(s: &str) -> Option<Id> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let bytes = STANDARD.decode(s).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = text.parse().ok()?;
    (n > 0 && n < ID_LIMIT).then_some(Id(n))
}
