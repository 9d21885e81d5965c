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
use switchboard_events::domain::{ContactOwner, FavoriteCollection, ItemOwner};
use switchboard_events::{Envelope, Event, Id, TenantId};
use switchboard_projections::directory::changes::ChangeType;
use switchboard_projections::directory::classify::{directory_change, DirectoryChange};
use switchboard_projections::Directory;

/// Who a stream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// The caller's home tenant.
    pub tenant: TenantId,
    /// The caller.
    pub user: Id,
    /// The session that opened the stream (it ends with it).
    pub session: Id,
    /// Whether the caller follows every meeting of its tenant (it holds
    /// `ReportMeetings`: the media server acting on controls).
    pub media: bool,
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
    /// One of the caller's own settings items changed (issue #16: phones,
    /// speed dials, holidays, the global holiday selection, greetings,
    /// balance adjustments, the Microsoft 365 binding), or one of the
    /// tenant's holidays, which apply to every user.
    Setting {
        /// Its collection (one of [`SETTINGS`]).
        collection: &'static str,
        /// Whose list: the caller's own or the tenant's.
        owner: ItemOwner,
        /// The item.
        id: Id,
        /// What happened.
        change: ChangeType,
    },
    /// A CDR or an external message the caller is a party of was
    /// recorded (rendered from the event, which carries the record).
    CallRecord {
        /// A message (else a CDR).
        message: bool,
        /// The record's id (its offset).
        id: Id,
    },
    /// An agent asked to pick up a waiting call the listener (the PBX)
    /// reported (rendered from the event, which carries the request).
    Pickup {
        /// The request's id.
        id: Id,
    },
    /// A meeting the caller owns or acts on was controlled, or its state
    /// was reported (rendered from the event, which carries it).
    Meeting,
}

/// The item collections the stream carries: a user's own settings lists
/// (its own items only) and the tenant's holidays (everyone's). Files are
/// not among them: who sees a file depends on the caller's role, and a
/// deletion does not say whose upload it was.
pub const SETTINGS: &[&str] = &[
    crate::collections::settings::PHONES.name,
    crate::collections::settings::SPEED_DIALS_8.name,
    crate::collections::settings::SPEED_DIALS_100.name,
    crate::collections::settings::USER_HOLIDAYS.name,
    crate::collections::settings::GLOBAL_HOLIDAYS,
    crate::commands::files::GREETINGS,
    crate::commands::balance::ADJUSTMENTS,
    crate::commands::ms365::BINDINGS,
    crate::collections::settings::TENANT_HOLIDAYS.name,
];

/// An item event as the stream carries it, if `listener` may see it.
fn setting(
    listener: &Listener,
    collection: &str,
    owner: ItemOwner,
    id: Id,
    change: ChangeType,
) -> Option<FeedItem> {
    let tenants = crate::collections::settings::TENANT_HOLIDAYS.name;
    let visible = match owner {
        ItemOwner::User(u) => u == listener.user && collection != tenants,
        ItemOwner::Tenant => collection == tenants,
    };
    let collection = SETTINGS.iter().copied().find(|c| *c == collection)?;
    visible.then_some(FeedItem::Setting {
        collection,
        owner,
        id,
        change,
    })
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
        // Before the settings arm, which takes every other created item.
        Event::ItemCreated(e)
            if e.collection == crate::commands::waiting::PICKUPS
                && e.attrs.get("reported_by")
                    == Some(&switchboard_events::Value::Int(listener.user.0 as i64)) =>
        {
            Some(FeedItem::Pickup { id: e.item_id })
        }
        Event::ItemCreated(e) => setting(
            listener,
            &e.collection,
            e.owner,
            e.item_id,
            ChangeType::Created,
        ),
        Event::ItemUpdated(e) => setting(
            listener,
            &e.collection,
            e.owner,
            e.item_id,
            ChangeType::Updated,
        ),
        Event::ItemDeleted(e) => setting(
            listener,
            &e.collection,
            e.owner,
            e.item_id,
            ChangeType::Deleted,
        ),
        Event::CdrRecorded(e) if e.parties.contains(&listener.user) => Some(FeedItem::CallRecord {
            message: false,
            id: Id(env.offset),
        }),
        Event::ExternalMessageRecorded(e) if e.parties.contains(&listener.user) => {
            Some(FeedItem::CallRecord {
                message: true,
                id: Id(env.offset),
            })
        }
        // The media server follows every control of its tenant; the owner
        // and whoever issued a control see the controls and the reports.
        Event::MeetingControlled(e)
            if listener.media || e.owner == listener.user || e.by == listener.user =>
        {
            Some(FeedItem::Meeting)
        }
        Event::MeetingStateReported(e) if e.owner == listener.user => Some(FeedItem::Meeting),
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
/// Why a stream ended (its final `event: error` says so in the dialect's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The session was ended (sign-out, or evicted by a newer one).
    SessionEnded,
    /// The user's password changed (every session of the user ended).
    PasswordChanged,
    /// The user was disabled.
    UserDisabled,
    /// The user was deleted.
    UserDeleted,
    /// The user's tenant was disabled or deleted.
    TenantDisabled,
    /// The access token the stream was opened with expired (and was not
    /// refreshed).
    TokenExpired,
    /// The user opened more streams than allowed; this was the oldest.
    TooManyStreams,
    /// The client fell more than the buffer behind.
    TooSlow,
    /// The server is shutting down.
    ShuttingDown,
    /// The directory stopped following the log (the server is not ready).
    Unavailable,
}

/// Whether an event can end someone's session (so streams check theirs).
pub fn may_end_sessions(event: &Event) -> bool {
    matches!(
        event,
        Event::SessionEnded(_)
            | Event::SessionStarted(_)
            | Event::UserSecretChanged(_)
            | Event::UserUpdated(_)
            | Event::UserDeleted(_)
            | Event::TenantUpdated(_)
            | Event::TenantDeleted(_)
    )
}

/// Whether the stream of `listener` must end, judged on the directory
/// after `cause` (the event just applied, if any) at `now` (Unix seconds).
pub fn end_of(
    dir: &Directory,
    listener: &Listener,
    cause: Option<&Event>,
    now: i64,
) -> Option<StreamEnd> {
    let user = dir
        .scope(listener.tenant)
        .and_then(|s| s.users.get(&listener.user));
    let Some(user) = user else {
        return Some(StreamEnd::UserDeleted);
    };
    if !user.enabled() {
        return Some(StreamEnd::UserDisabled);
    }
    let tenant_ok = listener.tenant == switchboard_events::SYSTEM_TENANT
        || dir
            .tenants
            .get(&listener.tenant)
            .is_some_and(|t| t.enabled());
    if !tenant_ok {
        return Some(StreamEnd::TenantDisabled);
    }
    let Some(session) = dir.sessions.get(listener.session) else {
        return Some(match cause {
            Some(Event::UserSecretChanged(e))
                if e.user_id == listener.user
                    && e.secret == switchboard_events::domain::SecretKind::Password =>
            {
                StreamEnd::PasswordChanged
            }
            _ => StreamEnd::SessionEnded,
        });
    };
    (session.access_expires_at <= now).then_some(StreamEnd::TokenExpired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(dir: &Directory) -> Listener {
        let s = dir.sessions.get(Id(9)).expect("session");
        Listener {
            tenant: s.home_tenant,
            user: s.user_id,
            session: s.id,
            media: false,
        }
    }

    #[test]
    fn own_settings_items_and_the_tenants_holidays_are_visible_nothing_else() {
        use switchboard_events::domain::{ItemCreated, ItemDeleted};
        use switchboard_events::{Fields, Metadata};
        const ME: Id = Id(1);
        let me = Listener {
            tenant: Id(5),
            user: ME,
            session: Id(9),
            media: false,
        };
        let env = |tenant| Envelope {
            offset: 1,
            stream: switchboard_events::StreamId::of("item", Id(70)),
            stream_version: 1,
            tenant,
            event_type: String::new(),
            schema_version: 1,
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            metadata: Metadata::system("test"),
            payload: vec![],
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let created = |collection: &str, owner| {
            Event::ItemCreated(ItemCreated {
                item_id: Id(70),
                collection: collection.into(),
                owner,
                attrs: Fields::new(),
            })
        };
        let seen = |e: &Event| visible_to(&me, &env(Id(5)), e);
        assert_eq!(
            seen(&created("phones", ItemOwner::User(ME))),
            Some(FeedItem::Setting {
                collection: "phones",
                owner: ItemOwner::User(ME),
                id: Id(70),
                change: ChangeType::Created,
            })
        );
        let deleted = Event::ItemDeleted(ItemDeleted {
            item_id: Id(70),
            collection: "tenant_holidays".into(),
            owner: ItemOwner::Tenant,
        });
        assert!(matches!(
            seen(&deleted),
            Some(FeedItem::Setting {
                change: ChangeType::Deleted,
                ..
            })
        ));
        // Someone else's item, the tenant's files, another tenant's holiday,
        // a collection the stream does not carry: not visible.
        assert_eq!(seen(&created("phones", ItemOwner::User(Id(2)))), None);
        assert_eq!(seen(&created("files", ItemOwner::Tenant)), None);
        assert_eq!(seen(&created("business_contacts", ItemOwner::Tenant)), None);
        let elsewhere = created("tenant_holidays", ItemOwner::Tenant);
        assert_eq!(visible_to(&me, &env(Id(6)), &elsewhere), None);
    }

    #[test]
    fn a_stream_ends_with_its_session_user_or_token() {
        use crate::commands::testing::given_in;
        use switchboard_events::domain::{
            SecretKind, SessionEnded, SessionStarted, TenantCreated, UserCreated, UserDeleted,
            UserSecretChanged, UserUpdated,
        };
        use switchboard_events::{Fields, TenantId, Value as V};
        const T: TenantId = Id(5);
        let tenant = Event::TenantCreated(TenantCreated {
            tenant_id: T,
            name: "Acme".into(),
            domain: "acme.example".into(),
            attrs: Fields::new(),
        });
        let alice = Event::UserCreated(UserCreated {
            user_id: Id(1),
            name: "alice".into(),
            role: "StandardUser".into(),
            password_hash: "h".into(),
            attrs: Fields::new(),
        });
        let started = Event::SessionStarted(SessionStarted {
            session_id: Id(9),
            user_id: Id(1),
            access_hash: [1; 32],
            refresh_hash: [2; 32],
            access_expires_at: 1_000,
            refresh_expires_at: 2_000,
        });
        let live = given_in(T, &[tenant.clone(), alice.clone(), started.clone()]);
        let c = listener(&live);
        assert_eq!(end_of(&live, &c, None, 999), None);
        assert_eq!(
            end_of(&live, &c, None, 1_000),
            Some(StreamEnd::TokenExpired)
        );
        let cases: Vec<(Event, StreamEnd)> = vec![
            (
                Event::SessionEnded(SessionEnded { session_id: Id(9) }),
                StreamEnd::SessionEnded,
            ),
            (
                Event::UserSecretChanged(UserSecretChanged {
                    user_id: Id(1),
                    secret: SecretKind::Password,
                    hash: "h2".into(),
                }),
                StreamEnd::PasswordChanged,
            ),
            (
                Event::UserUpdated(UserUpdated {
                    user_id: Id(1),
                    changes: [("enabled".to_owned(), V::Bool(false))].into(),
                }),
                StreamEnd::UserDisabled,
            ),
            (
                Event::UserDeleted(UserDeleted { user_id: Id(1) }),
                StreamEnd::UserDeleted,
            ),
        ];
        for (cause, want) in cases {
            let dir = given_in(
                T,
                &[
                    tenant.clone(),
                    alice.clone(),
                    started.clone(),
                    cause.clone(),
                ],
            );
            assert!(may_end_sessions(&cause));
            assert_eq!(end_of(&dir, &c, Some(&cause), 10), Some(want), "{cause:?}");
        }
        // Another user's events do not end this stream.
        let other = Event::UserSecretChanged(UserSecretChanged {
            user_id: Id(2),
            secret: SecretKind::Password,
            hash: "h".into(),
        });
        let dir = given_in(T, &[tenant, alice, started, other.clone()]);
        assert_eq!(end_of(&dir, &c, Some(&other), 10), None);
    }
}
