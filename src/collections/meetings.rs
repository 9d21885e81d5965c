//! A user's scheduled meetings (issue #17, `/user/meetings…`): directory
//! data, declared like any other list. What happens while a meeting runs
//! (desired and actual state, participants) is not an item field: it is
//! recorded by `MeetingControlled` / `MeetingStateReported` and served
//! beside the list by `http::portsip::meetings`.

use super::{CollectionSpec, Listing, OwnedBy, Recording, Routing, TenantRules, UserRoutes};
use crate::commands::meeting_rooms;
use crate::field_tables::meeting::{scheduled_times, MEETING, MEETING_SKIP};
use crate::field_tables::ListType as L;
use switchboard_projections::query::Dir;

/// The collection's name: what its events and lists are filed under.
pub const NAME: &str = switchboard_projections::directory::items::MEETINGS;

/// A user's meetings (PortSIP has no administrators' routes for them).
pub static MEETINGS: CollectionSpec = CollectionSpec {
    name: NAME,
    noun: "meeting",
    schema: "Meeting",
    owned_by: OwnedBy::User,
    table: &MEETING,
    skip: MEETING_SKIP,
    refused: &[],
    unique: &[],
    max_items: 256,
    check: Some(scheduled_times),
    tenant: Some(TenantRules {
        mint: meeting_rooms::mint,
        create: meeting_rooms::create,
        update: meeting_rooms::update,
        shared_with: Some(meeting_rooms::INVITEES),
    }),
    listing: Listing {
        core: &[("id", L::String)],
        search: &[],
        default_order: &[("scheduled_start_at", Dir::Asc), ("id", Dir::Asc)],
        ordered: &[&["scheduled_start_at", "id"], &["subject", "id"]],
        eq: &[],
    },
    favorites: None,
    recording: Recording::Items,
    routing: Routing::User(UserRoutes {
        path: "meetings",
        admin: None,
    }),
};
