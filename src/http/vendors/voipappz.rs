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

use crate::auth::roles::Capability;
use crate::commands::agents::{Requested, StatusChange};
use crate::commands::presence::{self, SetPresence};
use crate::commands::queues as queue_cmds;
use crate::commands::users::{PrimaryChoice, UpdateUser};
use crate::commands::{Command, CommandError};
use crate::field_tables::user::{USER, USER_SKIP};
use crate::field_tables::Mode;
use crate::http::access::{require, tenant_of};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as portsip_ids;
use crate::http::ids::uuid::{self, Kind};
use crate::http::list::form_pairs;
use crate::http::routes::{
    Access::{Needs, SignedIn},
    Dialect, Routes,
};
use crate::http::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::AgentStatus;
use switchboard_events::Id;
use switchboard_projections::directory::UserView;

/// Provenance recorded on the events this dialect causes.
const VIA: &str = "voipappz";

dialect_error!(
    /// An error in this dialect's shape.
    VoipappzError
);

/// Typed rejections keep PortSIP's statuses and codes here (`code` in the
/// body), as the outline's own errors do.
impl From<CommandError> for VoipappzError {
    fn from(e: CommandError) -> Self {
        VoipappzError(e.into())
    }
}

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
    // Agent and presence actions are the user's own, or need what PortSIP
    // asks for the same change (judged by the commands); the others always
    // need their capability, as declared here.
    let cmd = match action.as_str() {
        "login" | "logout" | "break" => {
            q.only(&["action"])?;
            let requested = match action.as_str() {
                "login" => Requested::LoggedIn,
                "logout" => Requested::Status(AgentStatus::LoggedOut),
                _ => Requested::Status(AgentStatus::Break),
            };
            Command::SetAgentStatusInAllQueues {
                user_id: id,
                change: StatusChange::To(requested),
            }
        }
        "state" => {
            q.only(&["action", "state"])?;
            let change = state_change(q.required("state")?).ok_or_else(|| {
                invalid("state", "must be one of logged_out, available, on_break")
            })?;
            Command::SetAgentStatusInAllQueues {
                user_id: id,
                change,
            }
        }
        "status" => {
            q.only(&["action", "status"])?;
            Command::SetPresence(SetPresence {
                user_id: id,
                presence: Some(presence_of(q.required("status")?)?),
                note: None,
            })
        }
        "tier" => {
            q.only(&["action", "tier", "queue_uuid"])?;
            require(&state, &caller, Capability::ManageQueues)?;
            let tier = q
                .required("tier")?
                .parse::<i64>()
                .map_err(|_| invalid("tier", "must be an integer from 1 to 100"))?;
            let skill_level = queue_cmds::skill_level(tier, "tier")?;
            let queue_id = match q.get("queue_uuid") {
                Some(raw) => Some(
                    uuid::parse(Kind::Queue, raw)
                        .ok_or_else(|| VoipappzError(ApiError::not_found("call queue")))?,
                ),
                None => None,
            };
            Command::SetAgentSkillLevel {
                user_id: id,
                skill_level,
                queue_id,
            }
        }
        "extension" => {
            q.only(&["action", "extension_uuid"])?;
            require(&state, &caller, Capability::ManageUsers)?;
            let raw = q.required("extension_uuid")?;
            let ext = uuid::parse(Kind::Extension, raw)
                .ok_or_else(|| VoipappzError(ApiError::not_found("extension")))?;
            // The extension becomes the user's primary one (linked if it
            // was not; the old primary is unlinked).
            Command::UpdateUser(UpdateUser {
                extension: Some(PrimaryChoice::Extension(ext)),
                ..UpdateUser::of(id)
            })
        }
        "number" => {
            q.only(&["action", "number"])?;
            require(&state, &caller, Capability::ManageUsers)?;
            let number = q
                .get("number")
                .ok_or_else(|| invalid("number", "is required"))?;
            Command::UpdateUser(UpdateUser {
                attrs: mobile_phone(number)?,
                ..UpdateUser::of(id)
            })
        }
        _ => {
            return Err(invalid(
                "action",
                &format!("must be one of {}", ACTIONS.join(", ")),
            ))
        }
    };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

/// `number=`: the user's `mobile_phone`, the number the agent is reached
/// at (empty clears it).
fn mobile_phone(number: &str) -> Result<switchboard_events::Fields> {
    let mut body = Map::new();
    body.insert(
        "mobile_phone".into(),
        if number.is_empty() {
            Value::Null
        } else {
            json!(number)
        },
    );
    USER.validate(&body, Mode::Update, USER_SKIP)
        .map_err(|e| invalid("number", &e.message))
}

/// `state=` values and what they set in every queue.
fn state_change(value: &str) -> Option<StatusChange> {
    match value {
        "logged_out" => Some(StatusChange::To(Requested::Status(AgentStatus::LoggedOut))),
        "available" => Some(StatusChange::Available),
        "on_break" => Some(StatusChange::To(Requested::Status(AgentStatus::Break))),
        _ => None,
    }
}

/// `status=`: a presence in any letter case.
fn presence_of(value: &str) -> Result<String> {
    let wanted = value.to_ascii_uppercase();
    if presence::PRESENCES.contains(&wanted.as_str()) {
        return Ok(wanted);
    }
    Err(invalid(
        "status",
        &format!(
            "must be one of {}",
            presence::PRESENCES
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
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
    let scope = dir.scope_or_empty(tenant);
    let now = state.clock.unix_ms();
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
        let available = state_change("available").expect("known");
        assert_eq!(available.request(LoggedOut), Requested::LoggedIn);
        assert_eq!(available.request(Break), Requested::Status(Ready));
        let on_break = state_change("on_break").expect("known");
        assert_eq!(on_break.request(Ready), Requested::Status(Break));
        let out = state_change("logged_out").expect("known");
        assert_eq!(out.request(Ready), Requested::Status(LoggedOut));
        assert!(state_change("asleep").is_none());
    }
}
