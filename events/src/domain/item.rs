//! Items of declared collections: the lists a user or a tenant keeps whose
//! items are plain field sets validated by a field table (a user's phones,
//! speed dials, holidays and greetings; a tenant's holidays and files).
//! One family of events serves them all; `collection` names the list
//! (`"phones"`, `"speed_dial_8"`, ...), so a new collection needs no new
//! event type.
//!
//! Personal and business contacts are items of two such collections too,
//! but they predate these events: their facts stay `ContactCreated`,
//! `ContactUpdated` and `ContactDeleted`, which the projection files under
//! the collections `contacts` and `business_contacts`.

use crate::ids::Id;
use crate::value::Fields;
use serde::{Deserialize, Serialize};

/// Whose list an item is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ItemOwner {
    /// The tenant's (shared by its users).
    Tenant,
    /// One user's own.
    User(Id),
}

/// An item was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemCreated {
    /// The item's id (unique among the tenant's items).
    pub item_id: Id,
    /// The collection (its declared name).
    pub collection: String,
    /// Whose list.
    pub owner: ItemOwner,
    /// The fields that were set.
    pub attrs: Fields,
}

/// Item fields changed (only the changed ones; `Null` clears a field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemUpdated {
    /// The item.
    pub item_id: Id,
    /// The collection.
    pub collection: String,
    /// Whose list.
    pub owner: ItemOwner,
    /// Changed fields with their new values.
    pub changes: Fields,
}

/// An item was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDeleted {
    /// The item.
    pub item_id: Id,
    /// The collection.
    pub collection: String,
    /// Whose list.
    pub owner: ItemOwner,
}
