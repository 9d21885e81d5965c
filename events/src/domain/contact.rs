//! Contacts (personal and business) and favorites.
//!
//! A personal contact belongs to one user; a business contact belongs to
//! the tenant (its phonebook). Favorites are per user and name an item of
//! one of three collections: the user's personal contacts, the tenant's
//! business contacts, or the extension directory (the tenant's users).

use crate::ids::Id;
use crate::value::Fields;
use serde::{Deserialize, Serialize};

/// Who a contact belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContactOwner {
    /// The tenant-wide business phonebook.
    Business,
    /// One user's personal contacts.
    User(Id),
}

/// A collection whose items a user can favorite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FavoriteCollection {
    /// The user's own personal contacts.
    Personal,
    /// The tenant's business contacts.
    Business,
    /// The extension directory (the tenant's users).
    Extension,
}

/// A contact was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactCreated {
    /// The contact's id (unique in the tenant).
    pub contact_id: Id,
    /// Personal (whose) or business.
    pub owner: ContactOwner,
    /// The fields that were set (name, email, phones, ...).
    pub attrs: Fields,
}

/// Contact fields changed (only the changed ones; `Null` clears a field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactUpdated {
    /// The contact.
    pub contact_id: Id,
    /// Personal (whose) or business.
    pub owner: ContactOwner,
    /// Changed fields with their new values.
    pub changes: Fields,
}

/// A contact was deleted (favorites of it go with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactDeleted {
    /// The contact.
    pub contact_id: Id,
    /// Personal (whose) or business.
    pub owner: ContactOwner,
}

/// A user added an item to their favorites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FavoriteAdded {
    /// Whose favorites.
    pub user_id: Id,
    /// Which collection the item is in.
    pub collection: FavoriteCollection,
    /// The contact (or, for the extension directory, the user) favorited.
    pub item_id: Id,
}

/// A user removed an item from their favorites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FavoriteRemoved {
    /// Whose favorites.
    pub user_id: Id,
    /// Which collection the item is in.
    pub collection: FavoriteCollection,
    /// The item.
    pub item_id: Id,
}
