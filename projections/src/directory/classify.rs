//! Which users an event may change as listed items: the one classifier
//! shared by the sync change index of the extension directory
//! (`contacts.rs`), the live change stream (the service's queries layer) and
//! the list indexes.
//!
//! A user appears in two lists: the administrator's user list and the
//! extension directory (the tenant's users as contacts). Besides the user's
//! own events, its shown `extension_number` changes with links, primary
//! changes and the renumbering of its primary extension, and its `role` with
//! the rename of a custom role.

use super::changes::ChangeType;
use super::contacts::EXTENSION_CONTACT_FIELDS;
use super::Scope;
use switchboard_events::{Event, Id};

/// How an event changes one entry of the extension directory, as a stream
/// of changes reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryChange {
    /// A user's entry was created, updated or deleted.
    User {
        /// The user.
        user: Id,
        /// What happened.
        change: ChangeType,
    },
    /// A user's lines changed (a primary change, an unlink): the number the
    /// entry shows may have changed.
    Line {
        /// The user.
        user: Id,
    },
    /// An extension was renumbered: the entry of its primary user (looked up
    /// when the change is shown) changed.
    Renumbered {
        /// The extension.
        extension_id: Id,
    },
}

/// Whether a change of these user fields changes the user's directory entry.
pub fn shows<'a>(names: impl IntoIterator<Item = &'a str>) -> bool {
    names
        .into_iter()
        .any(|k| EXTENSION_CONTACT_FIELDS.contains(&k))
}

/// How `event` changes the extension directory, from the event alone (a
/// link by itself never changes a shown number: the
/// `PrimaryExtensionChanged` that makes it primary does).
pub fn directory_change(event: &Event) -> Option<DirectoryChange> {
    let user = |user: Id, change| Some(DirectoryChange::User { user, change });
    match event {
        Event::UserCreated(e) => user(e.user_id, ChangeType::Created),
        Event::UserUpdated(e) if shows(e.changes.names()) => user(e.user_id, ChangeType::Updated),
        Event::UserProfileReset(e) if shows(e.reset.names()) => {
            user(e.user_id, ChangeType::Updated)
        }
        Event::UserDeleted(e) => user(e.user_id, ChangeType::Deleted),
        Event::PrimaryExtensionChanged(e) => Some(DirectoryChange::Line { user: e.user_id }),
        Event::UserUnlinkedFromExtension(e) => Some(DirectoryChange::Line { user: e.user_id }),
        Event::ExtensionUpdated(e) if e.changes.contains_key("number") => {
            Some(DirectoryChange::Renumbered {
                extension_id: e.extension_id,
            })
        }
        _ => None,
    }
}

/// The users whose listed fields `event` may change, read from the tenant's
/// state *before* the event (a renumbered extension's primary user, the
/// holders of a renamed role).
pub fn affected_users(scope: Option<&Scope>, event: &Event) -> Vec<Id> {
    let primary_of = |ext: &Id| {
        scope
            .and_then(|s| s.extensions.get(ext))
            .and_then(|x| x.primary_of)
    };
    match event {
        Event::UserCreated(e) => vec![e.user_id],
        Event::UserUpdated(e) => vec![e.user_id],
        Event::UserRoleChanged(e) => vec![e.user_id],
        Event::UserProfileReset(e) => vec![e.user_id],
        Event::UserDeleted(e) => vec![e.user_id],
        Event::UserLinkedToExtension(e) => vec![e.user_id],
        Event::UserUnlinkedFromExtension(e) => vec![e.user_id],
        Event::PrimaryExtensionChanged(e) => vec![e.user_id],
        Event::ExtensionUpdated(e) => primary_of(&e.extension_id).into_iter().collect(),
        Event::ExtensionDeleted(e) => primary_of(&e.extension_id).into_iter().collect(),
        Event::RoleUpdated(e) if e.name.is_some() => {
            let Some(s) = scope else { return Vec::new() };
            let Some(old) = s.roles.get(&e.role_id).map(|r| r.name.as_str()) else {
                return Vec::new();
            };
            s.users
                .values()
                .filter(|u| u.role == old)
                .map(|u| u.id)
                .collect()
        }
        _ => Vec::new(),
    }
}
