//! `GET /user/events`: a Server-Sent Events stream of the changes the caller
//! may see — their personal contacts and favorites, the tenant's business
//! contacts, the extension directory, and the caller's own call-queue agent
//! status and presence/registration status.
//!
//! The stream is the queries layer's change feed
//! ([`crate::queries::feed`]): the events the caller may see, each once the
//! projection has applied it, rendered here from the projection. Each SSE `id` is a
//! MAC-protected token bound to the caller holding the event's offset; a
//! client resumes with `Last-Event-ID` (or `?since=<any of its sync
//! tokens>`) and continues exactly after it. A client that falls
//! `event_stream_buffer` events behind is cut off (the stream ends) instead
//! of growing memory; it reconnects with its last id.

use super::contacts::{render_contact, render_extension_contact};
use super::sync::{issue, open};
use super::{agents, ids, presence};
use crate::auth::caller::Caller;
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::AppState;
use crate::queries::feed::{FeedItem, Listener};
use crate::sync::Collection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt};
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use switchboard_events::domain::{ContactOwner, FavoriteCollection};
use switchboard_events::Id;
use switchboard_projections::directory::changes::ChangeType;
use switchboard_projections::directory::{Directory, Scope};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Renders a visible item from the current directory: `(event name, data)`.
/// Items gone by now are rendered as deleted items (id, other fields null).
pub fn render(
    dir: &Directory,
    listener: &Listener,
    item: &FeedItem,
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
            match agents::one_agent(s, queue_id, listener.user) {
                Ok(Json(Value::Object(mut m))) => {
                    m.insert("queue_id".into(), json!(ids::render(queue_id)));
                    ("call_queue_agent", ChangeType::Updated, m)
                }
                _ => ("call_queue_agent", ChangeType::Deleted, gone(queue_id)),
            }
        }
        FeedItem::Presence => {
            let Json(Value::Object(m)) =
                presence::render_status(s, listener.user, agents::now_ms()).ok()?
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

/// How a pump stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEnd {
    /// The source ended (the log closed).
    SourceEnded,
    /// The client went away.
    ClientGone,
    /// The client fell more than the channel's capacity behind.
    CutOff,
}

/// Moves items from `source` into `tx` without ever waiting on the client:
/// a full channel ends the stream (the client resumes from its last id),
/// so a slow consumer costs at most the channel's capacity in memory.
pub async fn pump<T, S>(source: S, tx: mpsc::Sender<T>) -> PumpEnd
where
    S: Stream<Item = T>,
{
    let mut source = std::pin::pin!(source);
    loop {
        let next = tokio::select! {
            _ = tx.closed() => return PumpEnd::ClientGone,
            next = source.next() => next,
        };
        let Some(item) = next else {
            return PumpEnd::SourceEnded;
        };
        match tx.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return PumpEnd::CutOff,
            Err(mpsc::error::TrySendError::Closed(_)) => return PumpEnd::ClientGone,
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
    let listener = Listener {
        tenant: caller.home_tenant,
        user: caller.user_id,
    };
    let (tx, rx) = mpsc::channel(state.config.event_stream_buffer.max(1));
    let feed = state.queries.change_feed(listener, from);
    let producer_state = state.clone();
    let mut shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let stopping = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        let source = feed
            .take_until(Box::pin(stopping))
            .filter_map(move |(offset, item)| {
                let state = producer_state.clone();
                let caller = caller.clone();
                async move {
                    let (name, data) = render(&state.queries.read(), &listener, &item)?;
                    let id = issue(&state, &caller, Collection::Events, offset, None);
                    Some(Ok::<_, Infallible>(
                        SseEvent::default()
                            .id(id)
                            .event(name)
                            .data(data.to_string()),
                    ))
                }
            });
        let end = pump(source, tx).await;
        if end == PumpEnd::CutOff {
            tracing::info!(user = %listener.user, "event stream cut off: the client fell behind");
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_consumer_is_cut_off_and_a_gone_one_stops_the_pump() {
        let (tx, mut rx) = mpsc::channel(2);
        let end = pump(futures::stream::iter(0..10), tx).await;
        assert_eq!(end, PumpEnd::CutOff);
        // What was queued is still delivered, in order, then the stream ends.
        assert_eq!(rx.recv().await, Some(0));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);

        let (tx, rx) = mpsc::channel(2);
        drop(rx);
        let end = pump(futures::stream::pending::<u32>(), tx).await;
        assert_eq!(end, PumpEnd::ClientGone);

        let (tx, mut rx) = mpsc::channel(8);
        let end = pump(futures::stream::iter(0..3), tx).await;
        assert_eq!(end, PumpEnd::SourceEnded);
        assert_eq!(rx.recv().await, Some(0));
    }
}
