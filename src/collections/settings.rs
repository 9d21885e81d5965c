//! A user's own settings kept as lists (issue #16): IP phones
//! (`/user/phones…`), speed dials (`/user/speed_dial_8…`,
//! `/user/speed_dial_100…`), holidays (`/user/holidays…`), each also under
//! `/users/{id}/…` for administrators; and the tenant's holidays
//! (`/holidays…`, companion API), which users pick from with their
//! `global_holidays` selection.
//!
//! Everything here is declaration: the field tables and their rules live
//! in `src/field_tables/` ([`PHONE`], [`SPEED_DIAL_8`], [`SPEED_DIAL_100`],
//! [`HOLIDAY`]).

use super::{
    AdminRoutes, CollectionSpec, Listing, OwnedBy, Recording, Routing, TenantRoutes, UserRoutes,
};
use crate::auth::roles::Capability;
use crate::field_tables::holiday::{holiday_dates, HOLIDAY, HOLIDAY_SKIP};
use crate::field_tables::phone::{PHONE, PHONE_SKIP};
use crate::field_tables::speed_dial::{
    speed_dial_8_code, SPEED_DIAL_100, SPEED_DIAL_8, SPEED_DIAL_SKIP, SPEED_DIAL_UNIQUE,
};
use crate::field_tables::ListType as L;
use switchboard_events::{FieldSet, Id, Value};
use switchboard_projections::query::Dir;

/// Core list fields: the id.
const ID: &[(&str, L)] = &[("id", L::String)];

/// Administrators reach another user's lists with the user capabilities.
const fn admin(param: &'static str) -> Option<AdminRoutes> {
    Some(AdminRoutes {
        param,
        view: Capability::ViewUsers,
        manage: Capability::ManageUsers,
    })
}

/// A user's IP phones, by MAC address.
pub static PHONES: CollectionSpec = CollectionSpec {
    name: "phones",
    noun: "phone",
    schema: "Phone",
    owned_by: OwnedBy::User,
    table: &PHONE,
    skip: PHONE_SKIP,
    refused: &[],
    // A device is assigned once per user.
    unique: &["mac"],
    max_items: 64,
    check: None,
    tenant: None,
    listing: Listing {
        core: ID,
        search: &[],
        default_order: &[("mac", Dir::Asc), ("id", Dir::Asc)],
        ordered: &[&["mac", "id"]],
        eq: &[],
    },
    favorites: None,
    recording: Recording::Items,
    routing: Routing::User(UserRoutes {
        path: "phones",
        admin: admin("phone_id"),
    }),
};

const SPEED_DIAL_LISTING: Listing = Listing {
    core: ID,
    search: &[],
    default_order: &[("code", Dir::Asc), ("id", Dir::Asc)],
    ordered: &[&["code", "id"]],
    eq: &[],
};

/// A user's speed dial 8: keys `2`…`9`, one dial per key.
pub static SPEED_DIALS_8: CollectionSpec = CollectionSpec {
    name: "speed_dial_8",
    noun: "speed dial",
    schema: "SpeedDial8",
    owned_by: OwnedBy::User,
    table: &SPEED_DIAL_8,
    skip: SPEED_DIAL_SKIP,
    refused: &[],
    unique: SPEED_DIAL_UNIQUE,
    max_items: 8,
    check: Some(speed_dial_8_code),
    tenant: None,
    listing: SPEED_DIAL_LISTING,
    favorites: None,
    recording: Recording::Items,
    routing: Routing::User(UserRoutes {
        path: "speed_dial_8",
        admin: admin("dial_id"),
    }),
};

/// A user's speed dial 100: keys `00`…`99`, one dial per key.
pub static SPEED_DIALS_100: CollectionSpec = CollectionSpec {
    name: "speed_dial_100",
    noun: "speed dial",
    schema: "SpeedDial100",
    owned_by: OwnedBy::User,
    table: &SPEED_DIAL_100,
    skip: SPEED_DIAL_SKIP,
    refused: &[],
    unique: SPEED_DIAL_UNIQUE,
    max_items: 100,
    check: None,
    tenant: None,
    listing: SPEED_DIAL_LISTING,
    favorites: None,
    recording: Recording::Items,
    routing: Routing::User(UserRoutes {
        path: "speed_dial_100",
        admin: admin("dial_id"),
    }),
};

const HOLIDAY_LISTING: Listing = Listing {
    core: ID,
    search: &[],
    default_order: &[("name", Dir::Asc), ("id", Dir::Asc)],
    ordered: &[&["name", "id"], &["month_start", "name", "id"]],
    eq: &[],
};

/// A user's own holidays.
pub static USER_HOLIDAYS: CollectionSpec = CollectionSpec {
    name: "user_holidays",
    noun: "holiday",
    schema: "Holiday",
    owned_by: OwnedBy::User,
    table: &HOLIDAY,
    skip: HOLIDAY_SKIP,
    refused: &[],
    unique: &[],
    max_items: 256,
    check: Some(holiday_dates),
    tenant: None,
    listing: HOLIDAY_LISTING,
    favorites: None,
    recording: Recording::Items,
    routing: Routing::User(UserRoutes {
        path: "holidays",
        admin: admin("holiday_id"),
    }),
};

/// The tenant's holidays (companion API), which users select from.
pub static TENANT_HOLIDAYS: CollectionSpec = CollectionSpec {
    name: "tenant_holidays",
    noun: "holiday",
    schema: "Holiday",
    owned_by: OwnedBy::Tenant,
    table: &HOLIDAY,
    skip: HOLIDAY_SKIP,
    refused: &[],
    unique: &[],
    max_items: 1024,
    check: Some(holiday_dates),
    tenant: None,
    listing: HOLIDAY_LISTING,
    favorites: None,
    recording: Recording::Items,
    routing: Routing::Tenant(TenantRoutes {
        path: "holidays",
        view: Capability::ViewTenantSettings,
        manage: Capability::ManageTenantSettings,
        user_view: None,
    }),
};

/// The list a user's selection is filed under (one item per user).
pub const GLOBAL_HOLIDAYS: &str = "global_holidays";

/// The selection's field: the tenant holiday ids, in the order given.
pub const SELECTED: &str = "holidays";

/// The ids a stored selection holds (in order).
pub fn selected(attrs: &(impl FieldSet + ?Sized)) -> Vec<Id> {
    match attrs.get(SELECTED).as_ref().and_then(|v| v.as_list()) {
        Some(items) => items
            .iter()
            .filter_map(|v| match v {
                Value::Int(i) => u64::try_from(*i).ok().map(Id),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}
