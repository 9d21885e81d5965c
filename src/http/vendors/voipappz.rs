//! voipappz user actions (`voipappz-api-outline.txt`, User section):
//! `PATCH /api/users/{id}?action=...`, answered `{}` on success.
//!
//! `{id}` is the user's UUID ([`super::uuid`], as the v1 link API shows it);
//! the PortSIP id of the user is accepted too. The caller needs the tenant
//! Admin's `ManageUsers` capability, and acts in its tenant.
//!
//! | action | parameters | maps to |
//! | --- | --- | --- |
//! | `extension` | `extension_uuid` | UpdateUser with the extension's number: it becomes the user's primary extension (linked if it was not; the old primary is unlinked, PortSIP's `extension_number` rule) |
//! | `number` | `number` | UpdateUser `mobile_phone`: the number the agent is reached at (empty clears it) |
//!
//! Errors: `{statusCode, error, message, code, field}` — `statusCode` is the
//! HTTP status, `error` its reason phrase, `code` the PortSIP code.

use super::uuid::{self, Kind};
use crate::auth::caller::Caller;
use crate::auth::roles::Capability;
use crate::commands::users::{self, ExtensionNumber, NewUserIds, UpdateUser};
use crate::commands::{fresh_id, CommandError};
use crate::http::access::{require, tenant_of};
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::portsip::extensions::scope_in;
use crate::http::portsip::ids as portsip_ids;
use crate::http::AppState;
use crate::schema::user::{USER, USER_SKIP};
use crate::schema::Mode;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::patch;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use switchboard_events::{Id, TenantId};

/// Provenance recorded on the events this dialect causes.
const VIA: &str = "voipappz";

/// An error in this dialect's shape.
#[derive(Debug)]
pub struct VoipappzError(pub ApiError);

impl From<ApiError> for VoipappzError {
    fn from(e: ApiError) -> Self {
        VoipappzError(e)
    }
}

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
        (e.status, Json(body)).into_response()
    }
}

type Result<T> = std::result::Result<T, VoipappzError>;

/// The routes, relative to `/api` (merged with PortSIP's, which serve GET
/// and POST on the same paths).
pub fn routes() -> Router<AppState> {
    Router::new().route("/users/{id}", patch(user_action))
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
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let caller = caller?;
    require(&state, &caller, Capability::ManageUsers)?;
    let tenant = tenant_of(&caller)?;
    let id = user_id(&raw)?;
    let q = Query::parse(query.as_deref())?;
    let action = q.required("action")?.to_owned();
    match action.as_str() {
        "extension" => {
            q.only(&["action", "extension_uuid"])?;
            let raw = q.required("extension_uuid")?;
            let ext = uuid::parse(Kind::Extension, raw)
                .ok_or_else(|| VoipappzError(ApiError::not_found("extension")))?;
            set_primary(&state, &caller, tenant, id, ext).await?;
        }
        "number" => {
            q.only(&["action", "number"])?;
            let number = q
                .get("number")
                .ok_or_else(|| invalid("number", "is required"))?;
            set_number(&state, &caller, tenant, id, number).await?;
        }
        a if ACTIONS.contains(&a) => {
            return Err(VoipappzError(ApiError::new(
                axum::http::StatusCode::NOT_IMPLEMENTED,
                "NOT_IMPLEMENTED",
                format!("action {a} needs agent status, which this build does not have yet"),
            )));
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

fn no_new_ids(scope: &switchboard_projections::directory::Scope) -> NewUserIds {
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
                },
            )?;
            Ok((d, ()))
        })
        .await?;
    Ok(())
}
