//! Call queues (PortSIP companion API): CRUD, the agent list under
//! `…/agents`, one agent under `…/agents/{agent_number}` and the queue's
//! status. Ring groups ([`super::ring_groups`]) are the same resource
//! without agent statuses: both share the `*_any` handlers here, told
//! apart by [`Target`].
//!
//! Agents are users, addressed by their primary extension number. A call
//! queue agent's `status` is derived when read (see
//! `switchboard_projections::directory::agent_status`).

use super::agents::set_agent_status;
use super::VIA;
use crate::auth::roles::Capability;
use crate::commands::queues::{self, AgentItem, CreateQueue, QueueName, Target, UpdateQueue};
use crate::commands::users::ExtensionNumber;
use crate::commands::{Command, NewId};
use crate::field_tables::queue::QUEUE_SKIP;
use crate::field_tables::Mode;
use crate::http::access::{allowed, tenant_of};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::ListOf;
use crate::queries::collections::{CALL_QUEUES, QUEUE_LIST, RING_GROUPS, RING_GROUP_LIST};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{
    agent_status, CallQueueView, RingGroupView, Scope, UserView,
};

fn parse_id(t: Target, raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, t.noun())
}

/// A queue or ring group as `(id, name, number, attrs)`.
type Found<'a> = (Id, &'a str, &'a str, &'a switchboard_events::Attrs);

/// A queue or ring group, or 404.
fn find(s: &Scope, t: Target, id: Id) -> Result<Found<'_>, ApiError> {
    let found = match t {
        Target::CallQueue => s
            .call_queues
            .get(&id)
            .map(|q| (q.id, q.name.as_str(), q.number.as_str(), &q.attrs)),
        Target::RingGroup => s
            .ring_groups
            .get(&id)
            .map(|g| (g.id, g.name.as_str(), g.number.as_str(), &g.attrs)),
    };
    found.ok_or_else(|| ApiError::not_found(t.noun()))
}

fn render(t: Target, (id, name, number, attrs): Found<'_>, summary: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(id)));
    m.insert("name".into(), json!(name));
    m.insert("extension_number".into(), json!(number));
    t.table().render(attrs, summary, &mut m);
    m
}

/// Renders a call queue: `summary` for list items, full otherwise.
pub fn render_queue(q: &CallQueueView, summary: bool) -> Map<String, Value> {
    render(
        Target::CallQueue,
        (q.id, &q.name, &q.number, &q.attrs),
        summary,
    )
}

/// Renders a ring group: `summary` for list items, full otherwise.
pub fn render_ring_group(g: &RingGroupView, summary: bool) -> Map<String, Value> {
    render(
        Target::RingGroup,
        (g.id, &g.name, &g.number, &g.attrs),
        summary,
    )
}

/// `{id, name, extension_number}`: how a user's own queues are listed.
pub fn render_brief(id: Id, name: &str, number: &str) -> Value {
    json!({ "id": ids::render(id), "name": name, "extension_number": number })
}

/// Renders one agent: `{extension_number, display_name, skill_level}` plus,
/// for call queues, the live `status`.
pub fn render_agent(
    s: &Scope,
    u: &UserView,
    skill_level: u8,
    status: Option<(switchboard_events::domain::AgentStatus, Id)>,
    now_ms: i64,
) -> Value {
    let mut m = Map::new();
    m.insert("extension_number".into(), json!(s.extension_number_of(u)));
    m.insert("display_name".into(), json!(u.display_name()));
    m.insert("skill_level".into(), json!(skill_level));
    if let Some((settable, queue_id)) = status {
        m.insert(
            "status".into(),
            json!(agent_status(
                settable,
                s.presence.get(&u.id),
                queue_id,
                now_ms
            )),
        );
    }
    Value::Object(m)
}

/// The agents of a queue or ring group, ordered by extension number.
fn agent_items(s: &Scope, t: Target, id: Id, now: i64) -> Result<Vec<Value>, ApiError> {
    let mut rows: Vec<(&UserView, u8, Option<_>)> = match t {
        Target::CallQueue => {
            let q = queues::queue(s, id)?;
            q.agents
                .iter()
                .filter_map(|(u, a)| {
                    s.users
                        .get(u)
                        .map(|u| (u, a.skill_level, Some((a.status, id))))
                })
                .collect()
        }
        Target::RingGroup => {
            let g = s
                .ring_groups
                .get(&id)
                .ok_or_else(|| ApiError::not_found(t.noun()))?;
            g.agents
                .iter()
                .filter_map(|(u, k)| s.users.get(u).map(|u| (u, *k, None)))
                .collect()
        }
    };
    rows.sort_by(|a, b| {
        s.extension_number_of(a.0)
            .cmp(&s.extension_number_of(b.0))
            .then(a.0.id.cmp(&b.0.id))
    });
    Ok(rows
        .into_iter()
        .map(|(u, k, st)| render_agent(s, u, k, st, now))
        .collect())
}

fn name_field(body: &Map<String, Value>) -> Result<Option<QueueName>, ApiError> {
    match body.get("name") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(QueueName::parse(s)?)),
        Some(_) => Err(ApiError::validation("name", "must be a string")),
    }
}

async fn run(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    cmd: Command,
) -> Result<(), ApiError> {
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(())
}

pub(super) async fn list_any(
    state: AppState,
    caller: Caller,
    params: ListParams,
    t: Target,
) -> Result<axum::response::Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let schema = match t {
        Target::CallQueue => &*QUEUE_LIST,
        Target::RingGroup => &*RING_GROUP_LIST,
    };
    let query = list::parse(&params, schema)?;
    let model = state.queries.read();
    let s = model.scope_or_empty(tenant);
    let list = ListOf::tenant(tenant);
    Ok(match t {
        Target::CallQueue => {
            let render = |id, _| s.call_queues.get(&id).map(|q| render_queue(q, true));
            list::indexed(
                &state,
                &model,
                false,
                &CALL_QUEUES,
                "call_queues",
                list,
                &query,
                render,
            )
        }
        Target::RingGroup => {
            let render = |id, _| s.ring_groups.get(&id).map(|g| render_ring_group(g, true));
            list::indexed(
                &state,
                &model,
                false,
                &RING_GROUPS,
                "ring_groups",
                list,
                &query,
                render,
            )
        }
    })
}

pub(super) async fn create_any(
    state: AppState,
    caller: Caller,
    body: Map<String, Value>,
    t: Target,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = tenant_of(&caller)?;
    let name = name_field(&body)?.ok_or_else(|| ApiError::validation("name", "is required"))?;
    let number = match body.get("extension_number") {
        Some(Value::String(s)) => ExtensionNumber::parse(s, "extension_number")?,
        None | Some(Value::Null) => {
            return Err(ApiError::validation("extension_number", "is required"))
        }
        Some(_) => return Err(ApiError::validation("extension_number", "must be a string")),
    };
    let attrs = t
        .table()
        .validate(&body, Mode::Create, QUEUE_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let cmd = Command::CreateQueue(CreateQueue {
        target: t,
        id: NewId::default(),
        name,
        number,
        attrs,
    });
    let out = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": ids::render(out.created()?) })),
    ))
}

pub(super) async fn show_any(
    state: AppState,
    caller: Caller,
    raw: String,
    t: Target,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(t, &raw)?;
    let dir = state.queries.read();
    let s = dir.scope_or_empty(tenant);
    let found = find(s, t, id)?;
    let mut m = render(t, found, false);
    prompt_files(s, t, found.3, &mut m);
    Ok(Json(Value::Object(m)))
}

/// Fills in the files a queue's prompts play, as PortSIP shows them:
/// `moh_prompt_file_id` → `moh_prompt_file_name`, `…_size`, `…_url` (the
/// id itself is not shown).
fn prompt_files(
    s: &Scope,
    t: Target,
    attrs: &switchboard_events::Attrs,
    out: &mut Map<String, Value>,
) {
    use crate::commands::files::{view, FILES};
    use crate::field_tables::Kind;
    use switchboard_events::domain::ItemOwner;
    for f in t
        .table()
        .fields
        .iter()
        .filter(|f| matches!(f.kind, Kind::FileRef))
    {
        let Some(switchboard_events::ValueRef::Int(n)) = attrs.get(f.name) else {
            continue;
        };
        let id = Id(u64::try_from(n).unwrap_or(0));
        let Some(file) = s.items.get(FILES, ItemOwner::Tenant, id).map(view) else {
            continue;
        };
        let prefix = f.name.strip_suffix("_id").unwrap_or(f.name);
        out.insert(format!("{prefix}_name"), json!(file.name));
        out.insert(format!("{prefix}_size"), json!(file.size));
        out.insert(format!("{prefix}_url"), json!(super::files::url(&file)));
    }
}

pub(super) async fn update_any(
    state: AppState,
    caller: Caller,
    raw: String,
    body: Map<String, Value>,
    t: Target,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(t, &raw)?;
    if body.contains_key("extension_number") {
        return Err(ApiError::validation(
            "extension_number",
            "cannot be changed",
        ));
    }
    let name = name_field(&body)?;
    let incoming = t
        .table()
        .validate(&body, Mode::Update, QUEUE_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let cmd = Command::UpdateQueue(UpdateQueue {
        target: t,
        id,
        name,
        incoming,
    });
    run(&state, &caller, tenant, cmd).await?;
    Ok(Json(json!({})))
}

pub(super) async fn destroy_any(
    state: AppState,
    caller: Caller,
    raw: String,
    t: Target,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(t, &raw)?;
    run(
        &state,
        &caller,
        tenant,
        Command::DeleteQueue { target: t, id },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn agents_any(
    state: AppState,
    caller: Caller,
    raw: String,
    t: Target,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(t, &raw)?;
    let now = state.clock.unix_ms();
    let dir = state.queries.read();
    let items = agent_items(dir.scope_or_empty(tenant), t, id, now)?;
    Ok(Json(json!({ "items": items })))
}

/// Most agents a call queue or ring group may have (the spec gives no
/// limit; this bounds what every read of the list renders).
pub const AGENTS_MAX: usize = 1000;

/// Parses `{items: [{extension_number, skill_level?}]}`.
fn parse_agent_items(body: &Map<String, Value>) -> Result<Vec<AgentItem>, ApiError> {
    let items = match body.get("items") {
        Some(Value::Array(a)) if a.len() > AGENTS_MAX => {
            return Err(ApiError::validation(
                "items",
                format!("must have at most {AGENTS_MAX} items"),
            ))
        }
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => return Err(ApiError::validation("items", "is required")),
        Some(_) => return Err(ApiError::validation("items", "must be an array")),
    };
    if let Some(k) = body.keys().find(|k| *k != "items") {
        return Err(ApiError::validation(k, "unknown field"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let path = format!("items[{i}]");
            let o = v
                .as_object()
                .ok_or_else(|| ApiError::validation(&path, "must be an object"))?;
            if let Some(k) = o.keys().find(|k| {
                !matches!(
                    k.as_str(),
                    "extension_number" | "skill_level" | "display_name"
                )
            }) {
                return Err(ApiError::validation(
                    &format!("{path}.{k}"),
                    "unknown field",
                ));
            }
            let field = format!("{path}.extension_number");
            let number = match o.get("extension_number") {
                Some(Value::String(s)) => ExtensionNumber::parse(s, &field)?,
                None | Some(Value::Null) => {
                    return Err(ApiError::validation(&field, "is required"))
                }
                Some(_) => return Err(ApiError::validation(&field, "must be a string")),
            };
            let skill_field = format!("{path}.skill_level");
            let skill_level = match o.get("skill_level") {
                None | Some(Value::Null) => 1,
                Some(v) => {
                    let n = v
                        .as_i64()
                        .ok_or_else(|| ApiError::validation(&skill_field, "must be an integer"))?;
                    queues::skill_level(n, &skill_field)?
                }
            };
            Ok(AgentItem {
                number,
                skill_level,
                field,
            })
        })
        .collect()
}

pub(super) async fn set_agents_any(
    state: AppState,
    caller: Caller,
    raw: String,
    body: Map<String, Value>,
    t: Target,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(t, &raw)?;
    let items = parse_agent_items(&body)?;
    let cmd = Command::SetQueueAgents {
        target: t,
        id,
        items,
    };
    run(&state, &caller, tenant, cmd).await?;
    Ok(Json(json!({})))
}

/// The user behind an agent number in a queue or ring group, or 404.
fn agent_user<'a>(s: &'a Scope, t: Target, id: Id, raw: &str) -> Result<&'a UserView, ApiError> {
    let number = ExtensionNumber::parse(raw, "agent_number")?;
    find(s, t, id)?;
    let member = |u: &UserView| match t {
        Target::CallQueue => s
            .call_queues
            .get(&id)
            .is_some_and(|q| q.agents.contains_key(&u.id)),
        Target::RingGroup => s
            .ring_groups
            .get(&id)
            .is_some_and(|g| g.agents.contains_key(&u.id)),
    };
    s.user_by_number(number.as_str())
        .filter(|u| member(u))
        .ok_or_else(|| ApiError::not_found(format!("{} agent", t.noun())))
}

pub(super) async fn agent_any(
    state: AppState,
    caller: Caller,
    raw: String,
    number: String,
    t: Target,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(t, &raw)?;
    let may_view = allowed(&state, &caller, Capability::ViewQueues);
    let now = state.clock.unix_ms();
    let dir = state.queries.read();
    let s = dir.scope_or_empty(tenant);
    let u = agent_user(s, t, id, &number)?;
    if !may_view && u.id != caller.user_id {
        return Err(ApiError::forbidden(
            "you may only read your own agent status",
        ));
    }
    let one = match t {
        Target::CallQueue => {
            let a = &s.call_queues[&id].agents[&u.id];
            render_agent(s, u, a.skill_level, Some((a.status, id)), now)
        }
        Target::RingGroup => render_agent(s, u, s.ring_groups[&id].agents[&u.id], None, now),
    };
    Ok(Json(one))
}

/// `GET /call_queues`.
pub async fn list_queues(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::response::Response, ApiError> {
    list_any(state, caller, params, Target::CallQueue).await
}

/// `POST /call_queues`: answers 201 `{id}`.
pub async fn create_queue(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    create_any(state, caller, body, Target::CallQueue).await
}

/// `GET /call_queues/{id}`.
pub async fn show_queue(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    show_any(state, caller, id, Target::CallQueue).await
}

/// `POST /call_queues/{id}`.
pub async fn update_queue(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    update_any(state, caller, id, body, Target::CallQueue).await
}

/// `POST /call_queues/{id}/destroy`.
pub async fn destroy_queue(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    destroy_any(state, caller, id, Target::CallQueue).await
}

/// `GET /call_queues/{id}/agents`: the agents with their live status.
pub async fn queue_agents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    agents_any(state, caller, id, Target::CallQueue).await
}

/// `POST /call_queues/{id}/agents`: replaces the agent list.
pub async fn set_queue_agents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    set_agents_any(state, caller, id, body, Target::CallQueue).await
}

/// `GET /call_queues/{id}/agents/{agent_number}`.
pub async fn queue_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    agent_any(state, caller, id, number, Target::CallQueue).await
}

/// `POST /call_queues/{id}/agents/{agent_number}`: SetAgentStatus. The
/// agent itself, or a caller who manages queues.
pub async fn set_queue_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let queue_id = parse_id(Target::CallQueue, &id)?;
    let user_id = {
        let dir = state.queries.read();
        agent_user(
            dir.scope_or_empty(tenant),
            Target::CallQueue,
            queue_id,
            &number,
        )?
        .id
    };
    set_agent_status(&state, &caller, tenant, queue_id, user_id, &body).await
}

/// `GET /call_queues/{id}/status`: ONLINE while at least one agent is
/// logged in and reachable (not LOGGED_OUT, not OFFLINE), else OFFLINE.
pub async fn queue_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(Target::CallQueue, &id)?;
    let now = state.clock.unix_ms();
    let dir = state.queries.read();
    let s = dir.scope_or_empty(tenant);
    let q = queues::queue(s, id)?;
    let online = q.agents.iter().any(|(u, a)| {
        !matches!(
            agent_status(a.status, s.presence.get(u), id, now),
            "LOGGED_OUT" | "OFFLINE"
        )
    });
    Ok(Json(
        json!({ "status": if online { "ONLINE" } else { "OFFLINE" } }),
    ))
}
