//! Tenants: `GET/POST /tenants`, `GET/POST /tenants/{id}`,
//! `POST /tenants/{id}/destroy`, `POST /tenants/switch?id=`, and an Admin's
//! own tenant at `GET/POST /tenant`.

use super::VIA;
use crate::commands::tenants::{self, CreateTenant, UpdateTenant};
use crate::commands::{Command, NewId};
use crate::field_tables::tenant::{TENANT, TENANT_SELF_UPDATABLE, TENANT_SKIP};
use crate::field_tables::Mode;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{optional_str, JsonBody};
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::ListOf;
use crate::queries::collections::{TENANTS, TENANT_LIST};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Id, SYSTEM_TENANT};
use switchboard_projections::directory::TenantView;

/// Renders a tenant: `summary` for list items, full otherwise.
pub fn render(t: &TenantView, summary: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(t.id)));
    m.insert("name".into(), json!(t.name));
    m.insert("domain".into(), json!(t.domain));
    TENANT.render(&t.attrs, summary, &mut m);
    m.insert(
        "created_at".into(),
        json!(format_rfc3339(t.stamp.created_at())),
    );
    m
}

fn parse_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "tenant")
}

/// `GET /tenants`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    params: ListParams,
) -> Result<axum::response::Response, ApiError> {
    let query = list::parse(&params, &TENANT_LIST)?;
    let model = state.queries.read();
    let render = |id, _| model.tenants.get(&id).map(|t| render(t, true));
    let list = ListOf::tenant(SYSTEM_TENANT);
    Ok(list::indexed(
        &state, &model, false, &TENANTS, "tenants", list, &query, render,
    ))
}

/// `POST /tenants`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let name =
        optional_str(&body, "name")?.ok_or_else(|| ApiError::validation("name", "is required"))?;
    tenants::validate_name(&name)?;
    let domain = optional_str(&body, "domain")?
        .ok_or_else(|| ApiError::validation("domain", "is required"))?;
    let domain = tenants::validate_domain(&domain)?;
    let attrs = TENANT
        .validate(&body, Mode::Create, TENANT_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    // The pipeline seals the PBX secrets among the fields before deciding:
    // the log only ever holds ciphertext.
    let cmd = Command::CreateTenant(CreateTenant {
        tenant_id: NewId::default(),
        name,
        domain,
        attrs,
    });
    let id = state
        .pipeline
        .run(cmd, caller.acting_in(SYSTEM_TENANT, VIA))
        .await?
        .created()?;
    Ok((StatusCode::CREATED, Json(json!({ "id": ids::render(id) }))))
}

/// `GET /tenants/{id}`.
pub async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let dir = state.queries.read();
    let t = dir
        .tenants
        .get(&id)
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(Value::Object(render(t, false))))
}

async fn apply_update(
    state: &AppState,
    caller: &Caller,
    id: Id,
    body: Map<String, Value>,
    allowed: Option<&[&str]>,
) -> Result<(), ApiError> {
    if let Some(allowed) = allowed {
        if let Some(k) = body
            .keys()
            .find(|k| !allowed.contains(&k.as_str()) && k.as_str() != "id")
        {
            return Err(ApiError::validation(k, "cannot be changed here"));
        }
    }
    let name = optional_str(&body, "name")?;
    if let Some(n) = &name {
        tenants::validate_name(n)?;
    }
    let domain = match optional_str(&body, "domain")? {
        Some(d) => Some(tenants::validate_domain(&d)?),
        None => None,
    };
    let incoming = TENANT
        .validate(&body, Mode::Update, TENANT_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let cmd = Command::UpdateTenant(UpdateTenant {
        tenant_id: id,
        name,
        domain,
        incoming,
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(SYSTEM_TENANT, VIA))
        .await?;
    Ok(())
}

/// `POST /tenants/{id}`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    apply_update(&state, &caller, id, body, None).await?;
    Ok(Json(json!({})))
}

/// `POST /tenants/{id}/destroy`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let cmd = Command::DeleteTenant {
        tenant_id: parse_id(&id)?,
    };
    state
        .pipeline
        .run(cmd, caller.acting_in(SYSTEM_TENANT, VIA))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /tenants/switch?id=...`: the caller's session acts inside that tenant.
pub async fn switch(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Json<Value>, ApiError> {
    let raw = list::form_pairs(query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::validation("id", "is required"))?;
    let cmd = Command::SwitchTenant {
        session_id: caller.session_id,
        tenant_id: parse_id(&raw)?,
    };
    state.pipeline.run(cmd, caller.at_home(VIA)).await?;
    Ok(Json(json!({})))
}

/// `GET /tenant`: the caller's own tenant.
pub async fn show_own(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let dir = state.queries.read();
    let t = dir
        .tenants
        .get(&tenant)
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let mut m = render(t, false);
    // An Admin does not see the system-level switches of its tenant.
    m.remove("enabled");
    Ok(Json(Value::Object(m)))
}

/// `POST /tenant`: an Admin updates its own tenant's settings.
pub async fn update_own(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    apply_update(&state, &caller, tenant, body, Some(TENANT_SELF_UPDATABLE)).await?;
    Ok(Json(json!({})))
}
