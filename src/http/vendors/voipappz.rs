//! voipappz user actions (`voipappz-api-outline.txt`, User section):
//! `PATCH /api/users/{id}?action=...`, answered `{}` on success.
//!
//! `{id}` is the user's UUID ([`super::uuid`], as the v1 link API shows it);
//! the PortSIP id of the user is accepted too. The caller acts in its tenant.
//!
//! | action | parameters | maps to |
//! | --- | --- | --- |
//! | `login` | — | SetAgentStatus LOGGED_IN in every call queue the user is an agent of |
//! | `logout` | — | SetAgentStatus LOGGED_OUT in every such queue |
//! | `break` | — | SetAgentStatus BREAK in every such queue |
//! | `state` | `state` = `logged_out`, `available`, `on_break` | SetAgentStatus LOGGED_OUT; LOGGED_IN if logged out, else READY; BREAK — in every such queue |
//! | `status` | `status` = a presence (`available`, `away`, `do_not_disturb`, `business_trip`, `lunch`; any case) | SetPresence |
//! | `extension` | `extension_uuid` | UpdateUser with the extension's number: it becomes the user's primary extension (linked if it was not; the old primary is unlinked, PortSIP's `extension_number` rule) |
//! | `number` | `number` | UpdateUser `mobile_phone`: the number the agent is reached at (empty clears it) |
//! | `tier` | `tier` = 1..100, `queue_uuid`? | the agent's skill level in every such queue (or that one), through the queue's agent-list command |
//!
//! The agent actions apply to all the user's queues in one append: if any
//! transition is illegal (409 `ILLEGAL_AGENT_TRANSITION`, e.g. `break` while
//! logged out) nothing changes; a user in no queue is 409 `NOT_AN_AGENT`.
//! An agent may run `login`/`logout`/`break`/`state`/`status` on itself;
//! on others they need `ManageQueues` (`status`: `ManageUsers`), as in
//! PortSIP. `tier` always needs `ManageQueues`, `extension` and `number`
//! `ManageUsers`.
//!
//! `GET /api/users/agents` ("Agents", `ViewQueues`) lists every agent:
//! `[{id (uuid), username, display_name, extension, state, queues:
//! [{queue_uuid, name, number, status, tier}]}]`, ordered by extension;
//! `state` is `logged_out` (every queue), `on_break` (BREAK or LUNCH in
//! one), `available` (READY in one), else the status in lower case; a
//! queue's `status` is PortSIP's (derived OFFLINE/QUEUE_CALL/OTHER_CALL
//! included). Queue UUIDs are kind 4.
//!
//! Errors: `{statusCode, error, message, code, field}` — `statusCode` is the
//! HTTP status, `error` its reason phrase, `code` the PortSIP code.

use super::uuid::{self, Kind};
use crate::auth::caller::Caller;
use crate::auth::roles::Capability;
use crate::commands::agents::{self, Requested};
use crate::commands::presence;
use crate::commands::queues::{self as queue_cmds, AgentItem, Target};
use crate::commands::users::{self, ExtensionNumber, NewUserIds, UpdateUser};
use crate::commands::{fresh_id, CommandError, Decision};
use crate::http::access::{actor, allowed, require, tenant_of};
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::portsip::extensions::scope_in;
use crate::http::portsip::ids as portsip_ids;
use crate::http::routes::{
    Access::{Needs, SignedIn},
    Dialect, Routes,
};
use crate::http::AppState;
use crate::schema::user::{USER, USER_SKIP};
use crate::schema::Mode;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::AgentStatus;
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{Scope, UserView};

/// Provenance recorded on the events this dialect causes.
const VIA: &str = "voipappz";

dialect_error!(
    /// An error in this dialect's shape.
    VoipappzError
);

impl IntoResponse for VoipappzError {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = json!({
            "statusCode": e.status.as_u16(),
            "error": e.status.canonical_reason().unwrap_or("Error"),
            "message": e.message,
            "code": e.code,
            "field": super::field_of(&e),
        });
        e.respond(body)
    }
}

type Result<T> = std::result::Result<T, VoipappzError>;

/// The routes, relative to `/api` (merged with PortSIP's, which serve GET
/// and POST on the same paths).
/// `PATCH /users/{id}` is self-scoped: the user itself, or the rights each
/// action asks for (checked by [`user_action`]).
pub fn routes() -> Routes {
    Routes::new(Dialect::Voipappz)
        .patch("/users/{id}", SignedIn, user_action)
        .get("/users/agents", Needs(Capability::ViewQueues), agents_list)
}

fn invalid(field: &str, message: &str) -> VoipappzError {
    VoipappzError(ApiError::validation(field, message))
}

/// The user named by a path id: a user UUID or a PortSIP id.
fn user_id(raw: &str) -> Result<Id> {
    uuid::parse(Kind::User, raw)
        .or_else(|| portsip_ids::parse(raw))
        .ok_or_else(|| ApiError::not_found("user").into())
}

/// The query: `action` and its parameters (each at most once).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Result<Query> {
        let pairs = form_pairs(raw.unwrap_or(""));
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(invalid(k, "must be given once"));
            }
        }
        Ok(Query(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str) -> Result<&str> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(key, "is required"))
    }

    /// Refuses parameters the action does not take.
    fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(invalid(k, "is not a parameter of this action")),
            None => Ok(()),
        }
    }
}

/// The actions, in the outline's order.
pub const ACTIONS: &[&str] = &[
    "login",
    "logout",
    "break",
    "status",
    "state",
    "extension",
    "number",
    "tier",
];

/// `PATCH /api/users/{id}?action=...`.
pub async fn user_action(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let raw = super::path(path)?;
    let caller = caller?;
    let tenant = tenant_of(&caller)?;
    let id = user_id(&raw)?;
    let q = Query::parse(query.as_deref())?;
    let action = q.required("action")?.to_owned();
    // Agents act on themselves; acting on someone else needs the capability
    // PortSIP asks for the same change.
    let may = |cap: Capability| -> Result<()> {
        if caller.user_id == id || allowed(&state, &caller, cap) {
            Ok(())
        } else {
            Err(ApiError::forbidden("your role does not allow this").into())
        }
    };
    match action.as_str() {
        "login" | "logout" | "break" => {
            q.only(&["action"])?;
            may(Capability::ManageQueues)?;
            let requested = match action.as_str() {
                "login" => Requested::LoggedIn,
                "logout" => Requested::Status(AgentStatus::LoggedOut),
                _ => Requested::Status(AgentStatus::Break),
            };
            set_agent_everywhere(&state, &caller, tenant, id, |_| requested).await?;
        }
        "state" => {
            q.only(&["action", "state"])?;
            may(Capability::ManageQueues)?;
            let pick = state_request(q.required("state")?).ok_or_else(|| {
                invalid("state", "must be one of logged_out, available, on_break")
            })?;
            set_agent_everywhere(&state, &caller, tenant, id, pick).await?;
        }
        "status" => {
            q.only(&["action", "status"])?;
            may(Capability::ManageUsers)?;
            let value = q.required("status")?.to_owned();
            set_presence(&state, &caller, tenant, id, &value).await?;
        }
        "tier" => {
            q.only(&["action", "tier", "queue_uuid"])?;
            require(&state, &caller, Capability::ManageQueues)?;
            let tier = q
                .required("tier")?
                .parse::<i64>()
                .map_err(|_| invalid("tier", "must be an integer from 1 to 100"))?;
            let tier = queue_cmds::skill_level(tier, "tier")?;
            let only = match q.get("queue_uuid") {
                Some(raw) => Some(
                    uuid::parse(Kind::Queue, raw)
                        .ok_or_else(|| VoipappzError(ApiError::not_found("call queue")))?,
                ),
                None => None,
            };
            set_tier(&state, &caller, tenant, id, tier, only).await?;
        }
        "extension" => {
            q.only(&["action", "extension_uuid"])?;
            require(&state, &caller, Capability::ManageUsers)?;
            let raw = q.required("extension_uuid")?;
            let ext = uuid::parse(Kind::Extension, raw)
                .ok_or_else(|| VoipappzError(ApiError::not_found("extension")))?;
            set_primary(&state, &caller, tenant, id, ext).await?;
        }
        "number" => {
            q.only(&["action", "number"])?;
            require(&state, &caller, Capability::ManageUsers)?;
            let number = q
                .get("number")
                .ok_or_else(|| invalid("number", "is required"))?;
            set_number(&state, &caller, tenant, id, number).await?;
        }
        _ => {
            return Err(invalid(
                "action",
                &format!("must be one of {}", ACTIONS.join(", ")),
            ))
        }
    }
    Ok(Json(json!({})))
}

fn no_new_ids(scope: &Scope) -> NewUserIds {
    NewUserIds {
        user_id: Id(0),
        extension_id: fresh_id(|id| scope.extensions.contains_key(&id)),
        link_id: fresh_id(|id| scope.links.contains_key(&id)),
    }
}

/// `action=extension`: the extension becomes the user's primary one.
async fn set_primary(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    extension: Id,
) -> Result<()> {
    state
        .pipeline
        .execute(tenant, caller.metadata(VIA), |dir| {
            let scope = scope_in(dir, tenant);
            let x = scope
                .extensions
                .get(&extension)
                .ok_or_else(|| CommandError::NotFound("extension".into()))?;
            let number = ExtensionNumber::parse(&x.number, "extension_uuid")?;
            let d = users::update(
                scope,
                &USER,
                UpdateUser {
                    user_id: user,
                    incoming: Default::default(),
                    extension_number: Some(number),
                    voicemail_pin_hash: None,
                    ids: no_new_ids(scope),
                    by: actor(dir, caller),
                },
            )?;
            Ok((d, ()))
        })
        .await?;
    Ok(())
}

/// `action=number`: the user's `mobile_phone`.
async fn set_number(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    number: &str,
) -> Result<()> {
    let mut body = Map::new();
    body.insert(
        "mobile_phone".into(),
        if number.is_empty() {
            Value::Null
        } else {
            json!(number)
        },
    );
    let incoming = USER
        .validate(&body, Mode::Update, USER_SKIP)
        .map_err(|e| invalid("number", &e.message))?;
    state
        .pipeline
        .execute(tenant, caller.metadata(VIA), |dir| {
            let scope = scope_in(dir, tenant);
            let d = users::update(
                scope,
                &USER,
                UpdateUser {
                    user_id: user,
                    incoming,
                    extension_number: None,
                    voicemail_pin_hash: None,
                    ids: no_new_ids(scope),
                    by: actor(dir, caller),
                },
            )?;
            Ok((d, ()))
        })
        .await?;
    Ok(())
}

// ---- agent status, presence, tiers and the agent list (issue 5) ----

/// The call queues `user` is an agent of, in id order.
fn queues_of(scope: &Scope, user: Id) -> Vec<Id> {
    scope
        .call_queues
        .values()
        .filter(|q| q.agents.contains_key(&user))
        .map(|q| q.id)
        .collect()
}

fn user_in(scope: &Scope, user: Id) -> std::result::Result<(), CommandError> {
    if scope.users.contains_key(&user) {
        Ok(())
    } else {
        Err(CommandError::NotFound("user".into()))
    }
}

fn not_an_agent() -> CommandError {
    CommandError::conflict("NOT_AN_AGENT", "the user is an agent of no call queue")
}

/// SetAgentStatus in every call queue the user belongs to, in one append
/// (all or nothing); `pick` chooses the request from the current status.
async fn set_agent_everywhere(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    pick: impl Fn(AgentStatus) -> Requested,
) -> Result<()> {
    state
        .pipeline
        .execute(tenant, caller.metadata(VIA), |dir| {
            let scope = scope_in(dir, tenant);
            user_in(scope, user)?;
            let queues = queues_of(scope, user);
            if queues.is_empty() {
                return Err(not_an_agent());
            }
            let mut all = Decision::none();
            for q in queues {
                let current = agents::agent(scope, q, user)?.status;
                let d = agents::set_status(scope, q, user, pick(current))?;
                all.events.extend(d.events);
                all.expected.extend(d.expected);
            }
            Ok((all, ()))
        })
        .await?;
    Ok(())
}

/// `state=` values and what they request.
fn state_request(value: &str) -> Option<fn(AgentStatus) -> Requested> {
    match value {
        "logged_out" => Some(|_| Requested::Status(AgentStatus::LoggedOut)),
        "available" => Some(|current| {
            if current == AgentStatus::LoggedOut {
                Requested::LoggedIn
            } else {
                Requested::Status(AgentStatus::Ready)
            }
        }),
        "on_break" => Some(|_| Requested::Status(AgentStatus::Break)),
        _ => None,
    }
}

/// `action=status`: the user's presence (SetPresence).
async fn set_presence(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    value: &str,
) -> Result<()> {
    let wanted = value.to_ascii_uppercase();
    if !presence::PRESENCES.contains(&wanted.as_str()) {
        return Err(invalid(
            "status",
            &format!(
                "must be one of {}",
                presence::PRESENCES
                    .iter()
                    .map(|p| p.to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    state
        .pipeline
        .execute(tenant, caller.metadata(VIA), |dir| {
            let d = presence::set_presence(scope_in(dir, tenant), user, Some(wanted), None)?;
            Ok((d, ()))
        })
        .await?;
    Ok(())
}

/// `action=tier`: the agent's skill level in every call queue it belongs
/// to (or only `queue_uuid`'s), through the queue's agent-list command.
async fn set_tier(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    tier: u8,
    only: Option<Id>,
) -> Result<()> {
    state
        .pipeline
        .execute(tenant, caller.metadata(VIA), |dir| {
            let scope = scope_in(dir, tenant);
            user_in(scope, user)?;
            let queues = match only {
                Some(q) => {
                    let queue = queue_cmds::queue(scope, q)?;
                    if !queue.agents.contains_key(&user) {
                        return Err(CommandError::NotFound("call queue agent".into()));
                    }
                    vec![q]
                }
                None => queues_of(scope, user),
            };
            if queues.is_empty() {
                return Err(not_an_agent());
            }
            let mut all = Decision::none();
            for q in queues {
                let queue = queue_cmds::queue(scope, q)?;
                let mut items = Vec::with_capacity(queue.agents.len());
                for (agent, a) in &queue.agents {
                    let number = scope
                        .users
                        .get(agent)
                        .and_then(|u| scope.extension_number_of(u))
                        .ok_or_else(|| {
                            CommandError::conflict(
                                "AGENT_WITHOUT_EXTENSION",
                                "an agent of the queue has no primary extension",
                            )
                        })?;
                    items.push(AgentItem {
                        number: ExtensionNumber::parse(number, "tier")?,
                        skill_level: if *agent == user { tier } else { a.skill_level },
                        field: "tier".into(),
                    });
                }
                let d = queue_cmds::set_agents(scope, Target::CallQueue, q, &items)?;
                all.events.extend(d.events);
                all.expected.extend(d.expected);
            }
            Ok((all, ()))
        })
        .await?;
    Ok(())
}

/// An agent's overall state, in the outline's words: `logged_out` when
/// logged out of every queue, `on_break` when on a break (or at lunch) in
/// any, `available` when READY in any, else the status in lower case.
fn overall_state(statuses: &[AgentStatus]) -> String {
    if statuses.iter().all(|s| *s == AgentStatus::LoggedOut) {
        "logged_out".into()
    } else if statuses
        .iter()
        .any(|s| matches!(s, AgentStatus::Break | AgentStatus::Lunch))
    {
        "on_break".into()
    } else if statuses.contains(&AgentStatus::Ready) {
        "available".into()
    } else {
        statuses
            .iter()
            .find(|s| **s != AgentStatus::LoggedOut)
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_else(|| "logged_out".into())
    }
}

/// `GET /api/users/agents`: every user who is an agent of a call queue,
/// with its overall state (from the settable statuses) and, per queue, its
/// status as PortSIP shows it (derived states such as OFFLINE included) and
/// its tier (skill level).
pub async fn agents_list(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
) -> Result<Json<Value>> {
    let caller = caller?;
    let tenant = tenant_of(&caller)?;
    let dir = state.queries.read();
    let scope = scope_in(&dir, tenant);
    let now = crate::http::portsip::agents::now_ms(&state);
    let mut rows: Vec<(&UserView, Vec<Value>, Vec<AgentStatus>)> = Vec::new();
    for u in scope.users.values() {
        let mut queues = Vec::new();
        let mut statuses = Vec::new();
        for q in scope.call_queues.values() {
            if let Some(a) = q.agents.get(&u.id) {
                statuses.push(a.status);
                queues.push(json!({
                    "queue_uuid": uuid::render(Kind::Queue, q.id),
                    "name": q.name,
                    "number": q.number,
                    "status": switchboard_projections::directory::agent_status(
                        a.status,
                        scope.presence.get(&u.id),
                        q.id,
                        now,
                    ),
                    "tier": a.skill_level,
                }));
            }
        }
        if !queues.is_empty() {
            rows.push((u, queues, statuses));
        }
    }
    rows.sort_by(|a, b| {
        scope
            .extension_number_of(a.0)
            .cmp(&scope.extension_number_of(b.0))
            .then(a.0.id.cmp(&b.0.id))
    });
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(u, queues, statuses)| {
            json!({
                "id": uuid::render(Kind::User, u.id),
                "username": u.name,
                "display_name": u.display_name(),
                "extension": scope.extension_number_of(u),
                "state": overall_state(&statuses),
                "queues": queues,
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentStatus::*;

    #[test]
    fn the_overall_state_follows_the_documented_order() {
        assert_eq!(overall_state(&[LoggedOut, LoggedOut]), "logged_out");
        assert_eq!(overall_state(&[Ready, Break]), "on_break");
        assert_eq!(overall_state(&[Lunch, LoggedOut]), "on_break");
        assert_eq!(overall_state(&[NotReady, Ready]), "available");
        assert_eq!(overall_state(&[LoggedOut, WrapUp]), "wrap_up");
    }

    #[test]
    fn state_values_become_agent_requests() {
        let available = state_request("available").expect("known");
        assert_eq!(available(LoggedOut), Requested::LoggedIn);
        assert_eq!(available(Break), Requested::Status(Ready));
        let on_break = state_request("on_break").expect("known");
        assert_eq!(on_break(Ready), Requested::Status(Break));
        let out = state_request("logged_out").expect("known");
        assert_eq!(out(Ready), Requested::Status(LoggedOut));
        assert!(state_request("asleep").is_none());
    }
}
