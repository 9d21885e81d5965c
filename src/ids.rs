//! Minting ids. Ids are random (not sequential) so they reveal nothing about
//! how many resources a tenant has, and below 2^53 so every dialect can
//! carry them (see `switchboard_events::ids`).

use rand::Rng;
use switchboard_events::ids::{Id, ID_LIMIT};

/// A random id in `1..2^53`.
pub fn random_id() -> Id {
    Id(rand::thread_rng().gen_range(1..ID_LIMIT))
}
