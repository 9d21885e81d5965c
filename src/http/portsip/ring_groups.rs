//! Ring groups (PortSIP companion API): CRUD, the member list under
//! `…/agents` and one member under `…/agents/{agent_number}`. A ring group
//! is a call queue without agent statuses: the handlers are the call
//! queues' ([`super::queues`]) for [`Target::RingGroup`].

use super::queues::{
    agent_any, agents_any, create_any, destroy_any, list_any, set_agents_any, show_any, update_any,
};
use crate::commands::queues::Target;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::list::ListParams;
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{Map, Value};

/// `GET /ring_groups`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::response::Response, ApiError> {
    list_any(state, caller, params, Target::RingGroup).await
}

/// `POST /ring_groups`: answers 201 `{id}`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    create_any(state, caller, body, Target::RingGroup).await
}

/// `GET /ring_groups/{id}`.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    show_any(state, caller, id, Target::RingGroup).await
}

/// `POST /ring_groups/{id}`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    update_any(state, caller, id, body, Target::RingGroup).await
}

/// `POST /ring_groups/{id}/destroy`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    destroy_any(state, caller, id, Target::RingGroup).await
}

/// `GET /ring_groups/{id}/agents`.
pub async fn agents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    agents_any(state, caller, id, Target::RingGroup).await
}

/// `POST /ring_groups/{id}/agents`: replaces the member list.
pub async fn set_agents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    set_agents_any(state, caller, id, body, Target::RingGroup).await
}

/// `GET /ring_groups/{id}/agents/{agent_number}`.
pub async fn agent(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    agent_any(state, caller, id, number, Target::RingGroup).await
}
