//! Sync tokens and diffs (RFC 6578 semantics) for the caller's personal
//! contacts, business contacts, extension contacts and personal CDRs:
//! `POST /user/{collection}/sync_tokens` → 201 `{token}` ("now"), and
//! `POST /user/{collection}/sync_tokens/{token}/diff[?top=N]` → 200
//! `{token, items, has_more}`.
//!
//! A diff is read from the tenant's change index (`projections::directory::
//! changes`), so it costs in proportion to the changes since the token.

use super::contacts::{render_contact, render_extension_contact};
use crate::field_tables::contact::CONTACT;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as ids;
use crate::http::list::form_pairs;
use crate::http::AppState;
use crate::records::history::HistoryError;
use crate::records::store::{Kind, Scope as RecordScope};
use crate::sync::{Collection, PageCursor, Token};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::{ContactOwner, FavoriteCollection, ItemOwner};
use switchboard_events::Id;
use switchboard_projections::directory::changes::{self, ChangeType, DiffPage, DiffRequest};
use switchboard_projections::directory::items::{BUSINESS_CONTACTS, PERSONAL_CONTACTS};
use switchboard_projections::directory::{Directory, Scope, EXTENSION_CONTACT_FIELDS};

/// The largest `top` a diff accepts, and the page size of a diff that
/// gives none: a client far behind gets its changes in pages (following
/// the returned token while `has_more`), never in one unbounded answer.
pub const MAX_DIFF_TOP: usize = 1000;

/// 403 `INVALID_SYNC_TOKEN`.
pub fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "INVALID_SYNC_TOKEN",
        "the sync token is not recognized; request a new one and resync in full",
    )
}

/// Issues a token of `collection` for the caller at `offset`.
pub fn issue(
    state: &AppState,
    caller: &Caller,
    collection: Collection,
    offset: u64,
    page: Option<PageCursor>,
) -> String {
    issue_at(
        state,
        caller,
        collection,
        offset,
        page,
        state.clock.unix_secs(),
    )
}

/// Like [`issue`], with an explicit issue time: the pages of one diff keep
/// the time of the token the diff started from, so the retention horizon
/// bounds the age of the offset they resume from.
fn issue_at(
    state: &AppState,
    caller: &Caller,
    collection: Collection,
    offset: u64,
    page: Option<PageCursor>,
    issued_at: i64,
) -> String {
    state.sync_key.issue(&Token {
        tenant: caller.home_tenant,
        user: caller.user_id,
        collection,
        offset,
        issued_at,
        page,
    })
}

/// Opens a token the caller presents: it must be ours, issued to this user
/// in this tenant (for `collection`, if given), not from the future, and
/// within the retention horizon.
pub fn open(
    state: &AppState,
    caller: &Caller,
    collection: Option<Collection>,
    raw: &str,
    head: u64,
) -> Result<Token, ApiError> {
    let t = state.sync_key.open(raw).map_err(|_| invalid_token())?;
    let mine = t.tenant == caller.home_tenant
        && t.user == caller.user_id
        && collection.is_none_or(|c| c == t.collection);
    if !mine || t.offset > head || t.page.is_some_and(|p| p.head > head || p.head < t.offset) {
        return Err(invalid_token());
    }
    let retention = state.config.sync_token_retention_secs;
    if retention > 0 && state.clock.unix_secs().saturating_sub(t.issued_at) > retention as i64 {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "SYNC_TOKEN_EXPIRED",
            "the sync token is older than the retention horizon; resync in full",
        ));
    }
    Ok(t)
}

fn create(state: &AppState, caller: &Caller, collection: Collection) -> (StatusCode, Json<Value>) {
    let head = state.queries.read().offset;
    let token = issue(state, caller, collection, head, None);
    (StatusCode::CREATED, Json(json!({ "token": token })))
}

fn parse_top(query: Option<&str>) -> Result<Option<usize>, ApiError> {
    let mut top = None;
    for (k, v) in form_pairs(query.unwrap_or("")) {
        if k.trim_start_matches('$') == "top" {
            if top.is_some() {
                return Err(ApiError::validation("top", "given more than once"));
            }
            let n: usize = v.parse().map_err(|_| {
                ApiError::validation(
                    "top",
                    format!("must be an integer from 1 to {MAX_DIFF_TOP}"),
                )
            })?;
            if !(1..=MAX_DIFF_TOP).contains(&n) {
                return Err(ApiError::validation(
                    "top",
                    format!("must be an integer from 1 to {MAX_DIFF_TOP}"),
                ));
            }
            top = Some(n);
        }
    }
    Ok(top)
}

/// One page of the caller's diff of `collection` (pure over the directory).
pub fn diff_page(
    dir: &Directory,
    tenant: switchboard_events::TenantId,
    user: Id,
    collection: Collection,
    req: DiffRequest,
) -> (DiffPage, Vec<Value>) {
    let s = dir.scope_or_empty(tenant);
    let c = &s.contacts;
    let created = |owner, id| s.contact(owner, id).map(|v| v.stamp.created_offset);
    let page = match collection {
        Collection::PersonalContacts => changes::diff(
            s.items
                .list(PERSONAL_CONTACTS, ItemOwner::User(user))
                .map(|l| &l.changes),
            None,
            req,
            |id| created(ContactOwner::User(user), id),
        ),
        Collection::BusinessContacts => changes::diff(
            s.items
                .list(BUSINESS_CONTACTS, ItemOwner::Tenant)
                .map(|l| &l.changes),
            c.changes.business_favorites.get(&user),
            req,
            |id| created(ContactOwner::Business, id),
        ),
        Collection::ExtensionContacts => changes::diff(
            Some(&c.changes.extension),
            c.changes.extension_favorites.get(&user),
            req,
            |id| s.users.get(&id).map(|u| u.stamp.created_offset),
        ),
        // CDRs are diffed from the call history store (`cdrs_diff`), and
        // the change stream's tokens are not diffed.
        Collection::PersonalCdrs | Collection::Events => DiffPage::default(),
    };
    let items = page
        .changes
        .iter()
        .map(|ch| render_change(s, user, collection, ch.id, ch.change_type))
        .collect();
    (page, items)
}

fn render_change(s: &Scope, user: Id, collection: Collection, id: Id, ct: ChangeType) -> Value {
    let mut m = match (collection, ct) {
        (_, ChangeType::Deleted) => deleted_item(collection, id),
        (Collection::PersonalContacts, _) => s
            .contact(ContactOwner::User(user), id)
            .map(|c| {
                contact_item(
                    c,
                    s.contacts
                        .is_favorite(user, FavoriteCollection::Personal, id),
                )
            })
            .unwrap_or_else(|| deleted_item(collection, id)),
        (Collection::BusinessContacts, _) => s
            .contact(ContactOwner::Business, id)
            .map(|c| {
                contact_item(
                    c,
                    s.contacts
                        .is_favorite(user, FavoriteCollection::Business, id),
                )
            })
            .unwrap_or_else(|| deleted_item(collection, id)),
        (Collection::ExtensionContacts, _) => s
            .users
            .get(&id)
            .map(|u| {
                render_extension_contact(
                    s,
                    u,
                    s.contacts
                        .is_favorite(user, FavoriteCollection::Extension, id),
                )
            })
            .unwrap_or_else(|| deleted_item(collection, id)),
        _ => deleted_item(collection, id),
    };
    m.insert("change_type".into(), json!(ct.as_str()));
    Value::Object(m)
}

/// A contact as a diff item: the spec's diff items have no `sync_type`.
fn contact_item(
    c: &switchboard_projections::directory::ContactView,
    fav: bool,
) -> Map<String, Value> {
    let mut m = render_contact(c, Some(fav));
    m.remove("sync_type");
    m
}

/// A deleted item: its id, every other field null.
fn deleted_item(collection: Collection, id: Id) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(id)));
    match collection {
        Collection::PersonalContacts | Collection::BusinessContacts => {
            for f in CONTACT.fields.iter().filter(|f| f.name != "sync_type") {
                m.insert(f.name.into(), Value::Null);
            }
            m.insert("favorite".into(), Value::Null);
        }
        Collection::ExtensionContacts => {
            for f in EXTENSION_CONTACT_FIELDS {
                m.insert((*f).into(), Value::Null);
            }
            m.insert("extension_number".into(), Value::Null);
            m.insert("favorite".into(), Value::Null);
        }
        Collection::PersonalCdrs | Collection::Events => {}
    }
    m
}

fn diff(
    state: &AppState,
    caller: &Caller,
    collection: Collection,
    raw: &str,
    query: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let top = Some(parse_top(query)?.unwrap_or(MAX_DIFF_TOP));
    let dir = state.queries.read();
    let t = open(state, caller, Some(collection), raw, dir.offset)?;
    let (head, after) = match t.page {
        Some(p) => (p.head, Some(p.after)),
        None => (dir.offset, None),
    };
    let req = DiffRequest {
        since: t.offset,
        after,
        head,
        top,
    };
    let (page, items) = diff_page(&dir, caller.home_tenant, caller.user_id, collection, req);
    drop(dir);
    let next = match page.changes.last() {
        Some(last) if page.has_more => issue_at(
            state,
            caller,
            collection,
            t.offset,
            Some(PageCursor {
                head,
                after: (last.offset, last.id),
            }),
            t.issued_at,
        ),
        _ => issue(state, caller, collection, head, None),
    };
    Ok(Json(
        json!({ "token": next, "items": items, "has_more": page.has_more }),
    ))
}

macro_rules! sync_endpoints {
    ($create:ident, $diff:ident, $collection:expr, $path:literal) => {
        #[doc = concat!("`POST ", $path, "/sync_tokens`: a token for now.")]
        pub async fn $create(
            State(state): State<AppState>,
            caller: Caller,
        ) -> (StatusCode, Json<Value>) {
            create(&state, &caller, $collection)
        }

        #[doc = concat!("`POST ", $path, "/sync_tokens/{token}/diff`: changes since the token.")]
        pub async fn $diff(
            State(state): State<AppState>,
            caller: Caller,
            Path(token): Path<String>,
            RawQuery(query): RawQuery,
        ) -> Result<Json<Value>, ApiError> {
            diff(&state, &caller, $collection, &token, query.as_deref())
        }
    };
}

sync_endpoints!(
    personal_contacts_token,
    personal_contacts_diff,
    Collection::PersonalContacts,
    "/user/contacts"
);
sync_endpoints!(
    business_contacts_token,
    business_contacts_diff,
    Collection::BusinessContacts,
    "/user/business_contacts"
);
sync_endpoints!(
    extension_contacts_token,
    extension_contacts_diff,
    Collection::ExtensionContacts,
    "/user/extension_contacts"
);

/// `POST /user/cdrs/sync_tokens[?date_from=RFC3339]`: a token whose diff
/// reports the caller's CDRs recorded after it. Without `date_from` it is
/// a token for now. With it, the token starts just before the earliest
/// recorded of the caller's CDRs that started at or after `date_from`, so
/// the first diff reports those CDRs (and every CDR of the caller reported
/// after the first of them, in recording order: a call reported late
/// with an older start comes too); if there is none, it is a token for
/// now.
pub async fn cdrs_token(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut from_ms = None;
    for (k, v) in form_pairs(query.as_deref().unwrap_or("")) {
        if k == "date_from" {
            let t = time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| ApiError::validation("date_from", "must be an RFC 3339 date-time"))?;
            let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
            from_ms = Some(i64::try_from(ms).unwrap_or(i64::MIN));
        }
    }
    let collection = Collection::PersonalCdrs;
    let head = state.queries.read().offset;
    let Some(from_ms) = from_ms else {
        return Ok(create(&state, &caller, collection));
    };
    state.history.wait_covers(head).await?;
    let (tenant, user) = (caller.home_tenant, caller.user_id);
    let first = state
        .history
        .read(move |store| {
            store
                .first_recorded_since(Kind::Cdr, tenant, user, from_ms)
                .map_err(HistoryError::from)
        })
        .await?;
    let offset = first.map_or(head, |o| o.saturating_sub(1).min(head));
    let token = issue(&state, &caller, collection, offset, None);
    Ok((StatusCode::CREATED, Json(json!({ "token": token }))))
}

/// The fields of a CDR in a diff item (PortSIP's definition of the diff).
const CDR_DIFF_FIELDS: &[&str] = &[
    "caller",
    "callee",
    "started_at",
    "answered_at",
    "ended_at",
    "outbound_caller_id",
    "did_cid",
    "trunk",
    "status_code",
];

/// `POST /user/cdrs/sync_tokens/{token}/diff`: the caller's CDRs recorded
/// after the token's offset, up to the head it was read at, in log order,
/// each `CREATED` (a CDR never changes) as PortSIP's diff item
/// `{id, change_type, items: [cdr]}`; paged by `top` like the other diffs.
/// Served from the call history store's by-user-and-offset index.
pub async fn cdrs_diff(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let collection = Collection::PersonalCdrs;
    let top = parse_top(query.as_deref())?.unwrap_or(MAX_DIFF_TOP);
    let now = state.queries.read().offset;
    let t = open(&state, &caller, Some(collection), &token, now)?;
    let (head, after) = match t.page {
        Some(p) => (p.head, p.after.0),
        None => (now, t.offset),
    };
    state.history.wait_covers(head).await?;
    let (tenant, user) = (caller.home_tenant, caller.user_id);
    let mut records = state
        .history
        .read(move |store| {
            let mut out = Vec::new();
            for (offset, id) in
                store.recorded_between(Kind::Cdr, tenant, user, after, head, top + 1)?
            {
                if let Some(r) = store.get(Kind::Cdr, tenant, RecordScope::User(user), id)? {
                    out.push((offset, r));
                }
            }
            Ok::<_, HistoryError>(out)
        })
        .await?;
    let has_more = records.len() > top;
    records.truncate(top);
    let items: Vec<Value> = records
        .iter()
        .map(|(_, r)| {
            let fields: Map<String, Value> = serde_json::from_slice(&r.body).unwrap_or_default();
            let cdr: Map<String, Value> = CDR_DIFF_FIELDS
                .iter()
                .map(|f| {
                    (
                        (*f).to_owned(),
                        fields.get(*f).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect();
            json!({"id": ids::render(r.id), "change_type": "CREATED", "items": [cdr]})
        })
        .collect();
    let next = match records.last() {
        Some((offset, r)) if has_more => issue_at(
            &state,
            &caller,
            collection,
            t.offset,
            Some(PageCursor {
                head,
                after: (*offset, r.id),
            }),
            t.issued_at,
        ),
        _ => issue(&state, &caller, collection, head, None),
    };
    Ok(Json(
        json!({ "token": next, "items": items, "has_more": has_more }),
    ))
}
