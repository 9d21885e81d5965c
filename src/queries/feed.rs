//! The live change feed behind `GET /user/events`: which events of the log
//! a user may see, and what each is about.
//!
//! [`Queries::events_from`] reads the log from an offset (catch-up and live
//! are one loop, with no gap or repeat at the switch); [`visible_to`] says
//! which of those events a user may see and what each is about. The dialect
//! renders each once the projection has applied it (read-your-writes).
//! Extension-directory changes come from the same classifier the sync
//! change index uses ([`switchboard_projections::directory::classify`]).

use super::{Queries, ReadError};
use futures::{Stream, StreamExt};
use switchboard_events::domain::{ContactOwner, FavoriteCollection};
use switchboard_events::{Envelope, Event, Id, TenantId};
use switchboard_projections::directory::changes::ChangeType;
use switchboard_projections::directory::classify::{directory_change, DirectoryChange};

/// Who a stream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// The caller's home tenant.
    pub tenant: TenantId,
    /// The caller.
    pub user: Id,
}

/// What a visible event is about (rendered from the projection afterwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedItem {
    /// A personal (the caller's) or business contact changed.
    Contact {
        /// Whose contact.
        owner: ContactOwner,
        /// The contact.
        id: Id,
        /// What happened.
        change: ChangeType,
    },
    /// The caller favorited or unfavorited an item.
    Favorite {
        /// The item's collection.
        collection: FavoriteCollection,
        /// The item.
        id: Id,
    },
    /// A user's entry in the extension directory changed.
    ExtensionContact {
        /// The user.
        user: Id,
        /// What happened.
        change: ChangeType,
    },
    /// An extension was renumbered: its primary user's entry changed.
    Extension {
        /// The extension.
        extension_id: Id,
    },
    /// The caller's own agent status or membership in a call queue changed.
    Agent {
        /// The queue.
        queue_id: Id,
    },
    /// The caller's own presence, registrations or call state changed.
    Presence,
}

/// Whether `listener` may see `event`, and what it is about. One function
/// with one arm per event family, so further families are added here.
pub fn visible_to(listener: &Listener, env: &Envelope, event: &Event) -> Option<FeedItem> {
    if env.tenant != listener.tenant {
        return None;
    }
    let mine = |owner: ContactOwner| match owner {
        ContactOwner::Business => true,
        ContactOwner::User(u) => u == listener.user,
    };
    let agent = |queue_id: Id| Some(FeedItem::Agent { queue_id });
    if let Some(change) = directory_change(event) {
        return Some(match change {
            DirectoryChange::User { user, change } => FeedItem::ExtensionContact { user, change },
            DirectoryChange::Line { user } => FeedItem::ExtensionContact {
                user,
                change: ChangeType::Updated,
            },
            DirectoryChange::Renumbered { extension_id } => FeedItem::Extension { extension_id },
        });
    }
    match event {
        Event::ContactCreated(e) if mine(e.owner) => Some(FeedItem::Contact {
            owner: e.owner,
            id: e.contact_id,
            change: ChangeType::Created,
        }),
        Event::ContactUpdated(e) if mine(e.owner) => Some(FeedItem::Contact {
            owner: e.owner,
            id: e.contact_id,
            change: ChangeType::Updated,
        }),
        Event::ContactDeleted(e) if mine(e.owner) => Some(FeedItem::Contact {
            owner: e.owner,
            id: e.contact_id,
            change: ChangeType::Deleted,
        }),
        Event::FavoriteAdded(e) if e.user_id == listener.user => Some(FeedItem::Favorite {
            collection: e.collection,
            id: e.item_id,
        }),
        Event::FavoriteRemoved(e) if e.user_id == listener.user => Some(FeedItem::Favorite {
            collection: e.collection,
            id: e.item_id,
        }),
        Event::AgentStatusSet(e) if e.user_id == listener.user => agent(e.queue_id),
        Event::CallQueueAgentAdded(e) if e.user_id == listener.user => agent(e.queue_id),
        Event::CallQueueAgentRemoved(e) if e.user_id == listener.user => agent(e.queue_id),
        Event::PresenceSet(e) if e.user_id == listener.user => Some(FeedItem::Presence),
        Event::RegistrationAdded(e) if e.user_id == listener.user => Some(FeedItem::Presence),
        Event::RegistrationRemoved(e) if e.user_id == listener.user => Some(FeedItem::Presence),
        Event::CallStateChanged(e) if e.user_id == listener.user => Some(FeedItem::Presence),
        _ => None,
    }
}

impl Queries {
    /// Every event from offset `from` on, decoded, then live as it is
    /// appended (catch-up and live are one loop: no gap, no repeat). The
    /// caller waits for each to be applied before reading the projection
    /// about it. An undecodable event is skipped; a read error is yielded
    /// (the stream should end there and the client resume).
    pub fn events_from(
        &self,
        from: u64,
    ) -> impl Stream<Item = Result<(Envelope, Event), ReadError>> + Send + 'static {
        self.log.subscribe(from).filter_map(|r| {
            std::future::ready(match r {
                Ok(env) => Event::from_envelope(&env).ok().map(|e| Ok((env, e))),
                Err(e) => Some(Err(ReadError::Log(e.to_string()))),
            })
        })
    }
}
