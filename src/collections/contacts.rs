//! Personal contacts (a user's own address book, `/user/contacts…`) and
//! business contacts (the tenant's phonebook, `/contacts…`, read by every
//! user with their favorite flags at `/user/business_contacts`): one field
//! table ([`CONTACT`]), two collections.
//!
//! Contacts were recorded as `ContactCreated/Updated/Deleted` before
//! collections were declared; they keep those events
//! ([`Recording::Contacts`]), and the projection files them under these
//! collections' names. Favorites, sync tokens and the business contacts'
//! CSV export are declared beside the generic routes
//! (`crate::http::portsip::contacts`).

use super::{
    AdminRoutes, CollectionSpec, Listing, OwnedBy, Recording, Routing, TenantRoutes, UserRoutes,
};
use crate::auth::roles::Capability;
use crate::field_tables::contact::{CONTACT, CONTACT_CORE_LIST, CONTACT_SKIP};
use switchboard_events::domain::FavoriteCollection;
use switchboard_projections::directory::items::{BUSINESS_CONTACTS, PERSONAL_CONTACTS};
use switchboard_projections::query::Dir;

/// How contacts are listed: by name, then id; `company` is a usual order.
const LISTING: Listing = Listing {
    core: CONTACT_CORE_LIST,
    search: &[],
    default_order: &[("name", Dir::Asc), ("id", Dir::Asc)],
    ordered: &[&["name", "id"], &["company", "name", "id"]],
    eq: &[],
};

/// The favorite and unfavorite actions change the caller's flag.
const REFUSED: &[(&str, &str)] = &[(
    "favorite",
    "is changed with the favorite and unfavorite actions",
)];

/// A user's personal contacts.
pub static PERSONAL: CollectionSpec = CollectionSpec {
    name: PERSONAL_CONTACTS,
    noun: "contact",
    schema: "Contact",
    owned_by: OwnedBy::User,
    table: &CONTACT,
    skip: CONTACT_SKIP,
    refused: REFUSED,
    unique: &[],
    max_items: usize::MAX,
    check: None,
    tenant: None,
    listing: LISTING,
    favorites: Some(FavoriteCollection::Personal),
    recording: Recording::Contacts,
    routing: Routing::User(UserRoutes {
        path: "contacts",
        admin: None::<AdminRoutes>,
    }),
};

/// The tenant's business contacts.
pub static BUSINESS: CollectionSpec = CollectionSpec {
    name: BUSINESS_CONTACTS,
    noun: "contact",
    schema: "Contact",
    owned_by: OwnedBy::Tenant,
    table: &CONTACT,
    skip: CONTACT_SKIP,
    refused: REFUSED,
    unique: &[],
    max_items: usize::MAX,
    check: None,
    tenant: None,
    listing: LISTING,
    favorites: Some(FavoriteCollection::Business),
    recording: Recording::Contacts,
    routing: Routing::Tenant(TenantRoutes {
        path: "contacts",
        view: Capability::ViewBusinessContacts,
        manage: Capability::ManageBusinessContacts,
        user_view: Some("business_contacts"),
    }),
};
