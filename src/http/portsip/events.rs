//! `GET /user/events`: a Server-Sent Events stream of the changes the caller
//! may see — their personal contacts and favorites, the tenant's business
//! contacts, the extension directory, and the caller's own call-queue agent
//! status and presence/registration status.
//!
//! The stream is driven from the log through the queries layer
//! ([`crate::queries::feed`]): it reads from an offset (so catch-up and live
//! are one loop, with no gap or repeat at the switch), keeps the events
//! [`visible_to`] the caller, and renders them from the directory
//! projection once it has applied them. Each SSE `id` is a
//! MAC-protected token bound to the caller holding the event's offset; a
//! client resumes with `Last-Event-ID` (or `?since=<any of its sync
//! tokens>`) and continues exactly after it. A client that falls
//! `event_stream_buffer` events behind is cut off (the stream ends) instead
//! of growing memory; it reconnects with its last id.
//!
//! A stream lives only as long as what opened it: it ends, with a final
//! `event: error` whose data names a [`StreamEnd`] code, as soon as the
//! projection applies a sign-out, a password change, the user being
//! disabled or deleted or its tenant disabled, and when the session's
//! access token expires (a timer; a refresh moves it). A user holds at most
//! `event_streams_per_user` streams ([`Streams`]): opening another closes
//! the oldest (`TOO_MANY_STREAMS`).

use super::contacts::{render_contact, render_extension_contact};
use super::sync::{issue, open};
use super::{agents, ids, presence};
use crate::auth::caller::Caller;
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::AppState;
use crate::queries::feed::{visible_to, FeedItem, Listener};
use crate::sync::Collection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use switchboard_events::domain::{ContactOwner, FavoriteCollection};
use switchboard_events::{Event, Id};
use switchboard_projections::directory::changes::ChangeType;
use switchboard_projections::directory::{Directory, Scope};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

/// Renders a visible item from the current directory: `(event name, data)`.
/// Items gone by now are rendered as deleted items (id, other fields null).
pub fn render(
    dir: &Directory,
    listener: &Listener,
    item: &FeedItem,
    now_ms: i64,
) -> Option<(&'static str, Value)> {
    let empty = Scope::default();
    let s = dir.scope(listener.tenant).unwrap_or(&empty);
    let fav = |c, id| s.contacts.is_favorite(listener.user, c, id);
    let contact = |owner: ContactOwner, id: Id| {
        let c = match owner {
            ContactOwner::Business => FavoriteCollection::Business,
            ContactOwner::User(_) => FavoriteCollection::Personal,
        };
        s.contacts
            .get(owner, id)
            .map(|v| render_contact(v, Some(fav(c, id))))
            .unwrap_or_else(|| gone(id))
    };
    let user = |id: Id| {
        s.users
            .get(&id)
            .map(|u| render_extension_contact(s, u, fav(FavoriteCollection::Extension, id)))
            .unwrap_or_else(|| gone(id))
    };
    let (name, change, item) = match *item {
        FeedItem::Contact { owner, id, change } => {
            let name = match owner {
                ContactOwner::Business => "business_contacts",
                ContactOwner::User(_) => "contacts",
            };
            let item = if change == ChangeType::Deleted {
                gone(id)
            } else {
                contact(owner, id)
            };
            (name, change, item)
        }
        FeedItem::Favorite { collection, id } => match collection {
            FavoriteCollection::Personal => (
                "contacts",
                ChangeType::Updated,
                contact(ContactOwner::User(listener.user), id),
            ),
            FavoriteCollection::Business => (
                "business_contacts",
                ChangeType::Updated,
                contact(ContactOwner::Business, id),
            ),
            FavoriteCollection::Extension => ("extension_contacts", ChangeType::Updated, user(id)),
        },
        FeedItem::ExtensionContact { user: id, change } => {
            let item = if change == ChangeType::Deleted {
                gone(id)
            } else {
                user(id)
            };
            ("extension_contacts", change, item)
        }
        FeedItem::Extension { extension_id } => {
            let owner = s.extensions.get(&extension_id).and_then(|x| x.primary_of)?;
            ("extension_contacts", ChangeType::Updated, user(owner))
        }
        FeedItem::Agent { queue_id } => {
            // Removed from the queue (or the queue is gone): the agent entry is.
            match agents::one_agent(s, queue_id, listener.user, now_ms) {
                Ok(Json(Value::Object(mut m))) => {
                    m.insert("queue_id".into(), json!(ids::render(queue_id)));
                    ("call_queue_agent", ChangeType::Updated, m)
                }
                _ => ("call_queue_agent", ChangeType::Deleted, gone(queue_id)),
            }
        }
        FeedItem::Presence => {
            let Json(Value::Object(m)) = presence::render_status(s, listener.user, now_ms).ok()?
            else {
                return None;
            };
            ("status", ChangeType::Updated, m)
        }
    };
    Some((
        name,
        json!({ "collection": name, "change_type": change.as_str(), "item": item }),
    ))
}

fn gone(id: Id) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(id)));
    m
}

/// Queues `item` for the client without ever waiting on it. One slot of
/// the channel is kept for the stream's final `error` event, so a client
/// that falls behind still learns why its stream ended. `false`: the
/// client is gone or too far behind (the stream ends).
pub fn push<T>(tx: &mpsc::Sender<T>, item: T) -> bool {
    if tx.capacity() <= 1 {
        return false;
    }
    tx.try_send(item).is_ok()
}

/// Why a stream ended, as its final `event: error` says (`code`).
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

impl StreamEnd {
    /// The code sent to the client.
    pub fn code(self) -> &'static str {
        match self {
            StreamEnd::SessionEnded => "SESSION_ENDED",
            StreamEnd::PasswordChanged => "PASSWORD_CHANGED",
            StreamEnd::UserDisabled => "USER_DISABLED",
            StreamEnd::UserDeleted => "USER_DELETED",
            StreamEnd::TenantDisabled => "TENANT_DISABLED",
            StreamEnd::TokenExpired => "TOKEN_EXPIRED",
            StreamEnd::TooManyStreams => "TOO_MANY_STREAMS",
            StreamEnd::TooSlow => "TOO_SLOW",
            StreamEnd::ShuttingDown => "SHUTTING_DOWN",
            StreamEnd::Unavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// What the client should do, in words.
    fn message(self) -> &'static str {
        match self {
            StreamEnd::TooManyStreams => "a newer stream of this user replaced this one",
            StreamEnd::TooSlow => "the client fell behind; reconnect with Last-Event-ID",
            StreamEnd::ShuttingDown | StreamEnd::Unavailable => {
                "the server is shutting down or not ready; reconnect later"
            }
            _ => "the session that opened this stream is no longer valid; sign in again",
        }
    }
}

/// Whether an event can end someone's session (so streams check theirs).
fn may_end_sessions(event: &Event) -> bool {
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

/// Whether the stream of `caller` must end, judged on the directory after
/// `cause` (the event just applied, if any) at `now` (Unix seconds).
pub fn end_of(
    dir: &Directory,
    caller: &Caller,
    cause: Option<&Event>,
    now: i64,
) -> Option<StreamEnd> {
    let user = dir
        .scope(caller.home_tenant)
        .and_then(|s| s.users.get(&caller.user_id));
    let Some(user) = user else {
        return Some(StreamEnd::UserDeleted);
    };
    if !user.enabled() {
        return Some(StreamEnd::UserDisabled);
    }
    let tenant_ok = caller.home_tenant == switchboard_events::SYSTEM_TENANT
        || dir
            .tenants
            .get(&caller.home_tenant)
            .is_some_and(|t| t.enabled());
    if !tenant_ok {
        return Some(StreamEnd::TenantDisabled);
    }
    let Some(session) = dir.sessions.get(caller.session_id) else {
        return Some(match cause {
            Some(Event::UserSecretChanged(e))
                if e.user_id == caller.user_id
                    && e.secret == switchboard_events::domain::SecretKind::Password =>
            {
                StreamEnd::PasswordChanged
            }
            _ => StreamEnd::SessionEnded,
        });
    };
    (session.access_expires_at <= now).then_some(StreamEnd::TokenExpired)
}

/// The live streams of each user, so a user holds at most
/// `event_streams_per_user` of them: opening one more closes the oldest.
/// Entries leave when their stream ends, so the map holds only live
/// streams.
#[derive(Default)]
pub struct Streams {
    next: std::sync::atomic::AtomicU64,
    by_user: parking_lot::Mutex<HashMap<Id, VecDeque<OpenStream>>>,
}

/// A live stream: its number and the way to tell it to close.
type OpenStream = (u64, oneshot::Sender<()>);

/// A stream's place in [`Streams`]; leaving it (on drop) frees the place.
pub struct StreamTicket {
    streams: Arc<Streams>,
    user: Id,
    id: u64,
}

impl Streams {
    /// Registers a new stream of `user`. The receiver fires when the
    /// stream must close to make room for newer ones.
    pub fn open(self: &Arc<Self>, user: Id, cap: usize) -> (StreamTicket, oneshot::Receiver<()>) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut by_user = self.by_user.lock();
        let list = by_user.entry(user).or_default();
        list.push_back((id, tx));
        while list.len() > cap.max(1) {
            if let Some((_, oldest)) = list.pop_front() {
                let _ = oldest.send(());
            }
        }
        let ticket = StreamTicket {
            streams: self.clone(),
            user,
            id,
        };
        (ticket, rx)
    }

    /// How many streams `user` holds open.
    pub fn count(&self, user: Id) -> usize {
        self.by_user.lock().get(&user).map_or(0, VecDeque::len)
    }

    /// How many users hold streams (the map's size).
    pub fn users(&self) -> usize {
        self.by_user.lock().len()
    }
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        let mut by_user = self.streams.by_user.lock();
        if let Some(list) = by_user.get_mut(&self.user) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                by_user.remove(&self.user);
            }
        }
    }
}

/// The offset a stream resumes after: `Last-Event-ID`, else `?since=`,
/// else now.
fn start_offset(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<u64, ApiError> {
    let head = state.queries.read().offset;
    let since = form_pairs(query.unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "since")
        .map(|(_, v)| v);
    let last = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| super::sync::invalid_token())
        })
        .transpose()?;
    match last.or(since) {
        Some(raw) => Ok(open(state, caller, None, raw.trim(), head)?.offset),
        None => Ok(head),
    }
}

/// `GET /user/events`.
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let from = start_offset(&state, &caller, &headers, query.as_deref())?;
    // One slot more than the buffer: the last is kept for the final event.
    let (tx, rx) = mpsc::channel(state.config.event_stream_buffer.max(1) + 1);
    let (ticket, replaced) = state
        .streams
        .open(caller.user_id, state.config.event_streams_per_user);
    // Counted open until the response body is dropped (the client left, or
    // the stream ended).
    let open = state.metrics.sse_opened();
    tokio::spawn(async move {
        let _ticket = ticket;
        let end = produce(&state, &caller, from, &tx, replaced).await;
        if let Some(end) = end {
            tracing::info!(user = %caller.user_id, code = end.code(), "event stream ended");
            let data = json!({ "code": end.code(), "message": end.message() });
            let _ = tx.try_send(Ok(SseEvent::default()
                .event("error")
                .data(data.to_string())));
        }
    });
    let body = ReceiverStream::new(rx).map(move |item| {
        let _still_open = &open;
        item
    });
    Ok(Sse::new(body).keep_alive(KeepAlive::default()))
}

/// When the session's access token expires, as a tokio instant.
fn expiry_of(state: &AppState, caller: &Caller) -> tokio::time::Instant {
    let expires = state
        .queries
        .read()
        .sessions
        .get(caller.session_id)
        .map_or(0, |s| s.access_expires_at);
    let left = u64::try_from(expires.saturating_sub(state.clock.unix_secs())).unwrap_or(0);
    tokio::time::Instant::now() + std::time::Duration::from_secs(left)
}

/// Feeds one stream until it must end; `None` when the client left or the
/// log closed (nothing to tell anyone), else why it ended.
async fn produce(
    state: &AppState,
    caller: &Caller,
    from: u64,
    tx: &mpsc::Sender<Result<SseEvent, Infallible>>,
    mut replaced: oneshot::Receiver<()>,
) -> Option<StreamEnd> {
    let listener = Listener {
        tenant: caller.home_tenant,
        user: caller.user_id,
    };
    let mut shutdown = state.shutdown.clone();
    let mut source = std::pin::pin!(state.queries.events_from(from + 1));
    // The session may have ended between the request's check and now.
    if let Some(end) = end_of(&state.queries.read(), caller, None, state.clock.unix_secs()) {
        return Some(end);
    }
    loop {
        let expiry = tokio::time::sleep_until(expiry_of(state, caller));
        tokio::select! {
            biased;
            _ = tx.closed() => return None,
            _ = &mut replaced => return Some(StreamEnd::TooManyStreams),
            // (The watch guard is not `Send`: drop it inside.)
            _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
                return Some(StreamEnd::ShuttingDown)
            }
            _ = expiry => {
                // A refresh may have moved the expiry: judge it again.
                if let Some(end) = end_of(&state.queries.read(), caller, None, state.clock.unix_secs()) {
                    return Some(end);
                }
            }
            next = source.next() => {
                // A read error ends the stream; the client resumes from its last id.
                let (env, event) = match next {
                    Some(Ok(pair)) => pair,
                    Some(Err(_)) | None => return None,
                };
                // Judge and render once the projection has this event
                // (read-your-writes); a projection that stopped ends it.
                if state.pipeline.wait_applied(env.offset).await.is_err() {
                    return Some(StreamEnd::Unavailable);
                }
                if may_end_sessions(&event) {
                    if let Some(end) = end_of(&state.queries.read(), caller, Some(&event), state.clock.unix_secs()) {
                        return Some(end);
                    }
                }
                let Some(item) = visible_to(&listener, &env, &event) else {
                    continue;
                };
                let now_ms = agents::now_ms(state);
                let Some((name, data)) = render(&state.queries.read(), &listener, &item, now_ms) else {
                    continue;
                };
                let id = issue(state, caller, Collection::Events, env.offset, None);
                let frame = SseEvent::default().id(id).event(name).data(data.to_string());
                if !push(tx, Ok(frame)) {
                    return (!tx.is_closed()).then_some(StreamEnd::TooSlow);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_consumer_is_cut_off_with_room_left_for_the_final_event() {
        let (tx, mut rx) = mpsc::channel(3);
        assert!(push(&tx, 0));
        assert!(push(&tx, 1));
        assert!(!push(&tx, 2), "the last slot is kept");
        assert!(tx.try_send(99).is_ok(), "for the final event");
        assert_eq!(rx.recv().await, Some(0));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(99));
        drop(rx);
        assert!(!push(&tx, 3), "a gone client");
    }

    #[test]
    fn streams_per_user_are_capped_and_the_oldest_is_told_to_close() {
        let streams = Arc::new(Streams::default());
        let (a, mut ra) = streams.open(Id(1), 2);
        let (_b, mut rb) = streams.open(Id(1), 2);
        let (_other, _) = streams.open(Id(2), 2);
        assert!(ra.try_recv().is_err(), "still open");
        let (_c, _) = streams.open(Id(1), 2);
        assert!(ra.try_recv().is_ok(), "the oldest is closed");
        assert!(rb.try_recv().is_err());
        assert_eq!(streams.count(Id(1)), 2);
        drop(a);
        assert_eq!(streams.count(Id(1)), 2, "a's place was already given up");
        drop(_b);
        drop(_c);
        assert_eq!(streams.count(Id(1)), 0);
        assert_eq!(streams.users(), 1, "users without streams leave the map");
    }

    fn caller(dir: &Directory) -> Caller {
        let s = dir.sessions.get(Id(9)).expect("session");
        Caller {
            session_id: s.id,
            user_id: s.user_id,
            name: "alice".into(),
            role: "StandardUser".into(),
            home_tenant: s.home_tenant,
            tenant: s.acting_tenant,
            access_expires_at: s.access_expires_at,
            token: String::new(),
            origin: Default::default(),
        }
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
        let c = caller(&live);
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
