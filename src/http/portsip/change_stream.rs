//! The live change stream, `GET /user/events`: a Server-Sent Events stream of the changes the caller
//! may see — their personal contacts and favorites, the tenant's business
//! contacts, the extension directory, the caller's own call-queue agent
//! status and presence/registration status, the caller's own settings
//! (phones, speed dials, holidays, global holidays, greetings, balance
//! adjustments, Microsoft 365 binding) and the tenant's holidays, each
//! named by its collection and rendered as its own route renders it.
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
use super::{agents, items, presence};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as ids;
use crate::http::list::form_pairs;
use crate::http::AppState;
use crate::queries::feed::{end_of, may_end_sessions, visible_to, FeedItem, Listener, StreamEnd};
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
use switchboard_events::Id;
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
        s.contact(owner, id)
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
        FeedItem::Setting {
            collection,
            owner,
            id,
            change,
        } => {
            let item = match s.items.get(collection, owner, id) {
                Some(it) if change != ChangeType::Deleted => super::settings::render_setting(s, it)
                    .or_else(|| {
                        crate::collections::by_name(collection).map(|c| {
                            // The listener's own list: they own the item.
                            let domain =
                                dir.tenants.get(&listener.tenant).map(|t| t.domain.clone());
                            let seen = items::Seen {
                                owned: true,
                                domain,
                            };
                            items::render_seen(c, it, None, seen)
                        })
                    })
                    .unwrap_or_else(|| gone(id)),
                _ => gone(id),
            };
            (collection, change, item)
        }
        // Rendered from the event itself ([`render_call_record`],
        // [`render_pickup`]).
        FeedItem::CallRecord { .. } | FeedItem::Pickup { .. } => return None,
        // Rendered from the event itself ([`super::meetings::render_event`]).
        FeedItem::Meeting => return None,
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

/// A recorded CDR (`cdrs`) or external message (`external_messages`) `id`,
/// as the lists show it: the event carries the record (the caller of
/// [`visible_to`] checked the listener is a party).
pub fn render_call_record(
    event: &switchboard_events::Event,
    id: Id,
) -> Option<(&'static str, Value)> {
    use crate::records::fields::{CDR_FIELDS, MESSAGE_FIELDS};
    let (name, table, body) = match event {
        switchboard_events::Event::CdrRecorded(e) => ("cdrs", &CDR_FIELDS, &e.body),
        switchboard_events::Event::ExternalMessageRecorded(e) => {
            ("external_messages", &MESSAGE_FIELDS, &e.body)
        }
        _ => return None,
    };
    let item = table.render(&ids::render(id), body.as_bytes(), true);
    Some((
        name,
        json!({ "collection": name, "change_type": "CREATED", "item": item }),
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

/// What the stream's final `event: error` says about why it ended:
/// `(code, message)`.
fn wire(end: StreamEnd) -> (&'static str, &'static str) {
    let code = match end {
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
    };
    let message = match end {
        StreamEnd::TooManyStreams => "a newer stream of this user replaced this one",
        StreamEnd::TooSlow => "the client fell behind; reconnect with Last-Event-ID",
        StreamEnd::ShuttingDown | StreamEnd::Unavailable => {
            "the server is shutting down or not ready; reconnect later"
        }
        _ => "the session that opened this stream is no longer valid; sign in again",
    };
    (code, message)
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
            let (code, message) = wire(end);
            tracing::info!(user = %caller.user_id, code, "event stream ended");
            let data = json!({ "code": code, "message": message });
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
        session: caller.session_id,
        media: crate::http::access::allowed(
            state,
            caller,
            crate::auth::roles::Capability::ReportMeetings,
        ),
    };
    let mut shutdown = state.shutdown.clone();
    let mut source = std::pin::pin!(state.queries.events_from(from + 1));
    // The session may have ended between the request's check and now.
    if let Some(end) = end_of(
        &state.queries.read(),
        &listener,
        None,
        state.clock.unix_secs(),
    ) {
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
                if let Some(end) = end_of(&state.queries.read(), &listener, None, state.clock.unix_secs()) {
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
                    if let Some(end) = end_of(&state.queries.read(), &listener, Some(&event), state.clock.unix_secs()) {
                        return Some(end);
                    }
                }
                let Some(item) = visible_to(&listener, &env, &event) else {
                    continue;
                };
                let now_ms = state.clock.unix_ms();
                let rendered = match item {
                    FeedItem::CallRecord { id, .. } => render_call_record(&event, id),
                    FeedItem::Pickup { .. } => render_pickup(&event),
                    FeedItem::Meeting => super::meetings::render_event(&event),
                    _ => render(&state.queries.read(), &listener, &item, now_ms),
                };
                let Some((name, data)) = rendered else {
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

/// A pickup request (`call_queue_pickups`, CREATED) for the PBX that
/// reported the waiting call: `{id, queue_id, session_id, agent_id,
/// agent_number}` (the caller of [`visible_to`] checked the listener).
pub fn render_pickup(event: &switchboard_events::Event) -> Option<(&'static str, Value)> {
    let switchboard_events::Event::ItemCreated(e) = event else {
        return None;
    };
    let int = |k: &str| match e.attrs.get(k) {
        Some(switchboard_events::Value::Int(n)) => Id(*n as u64),
        _ => Id(0),
    };
    let text = |k: &str| {
        e.attrs
            .get(k)
            .and_then(switchboard_events::Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let name = "call_queue_pickups";
    let item = json!({
        "id": ids::render(e.item_id),
        "queue_id": ids::render(int("queue_id")),
        "session_id": text("session_id"),
        "agent_id": ids::render(int("agent_id")),
        "agent_number": text("agent_number"),
    });
    Some((
        name,
        json!({ "collection": name, "change_type": "CREATED", "item": item }),
    ))
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
}
