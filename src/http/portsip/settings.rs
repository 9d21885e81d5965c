//! A user's settings that are not declared lists (issue #16):
//! `GET /user/outbound_caller_ids`. (Phones, speed dials and holidays are
//! declared collections: `crate::collections::settings`.)

use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::queries::settings::outbound_caller_ids;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

/// `GET /user/outbound_caller_ids`: the caller IDs the signed-in user may
/// present (`{items: [{provider_id, caller_id, description}]}`).
pub async fn own_outbound_caller_ids(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    let ids = outbound_caller_ids(&dir, caller.home_tenant, caller.user_id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let items: Vec<Value> = ids
        .into_iter()
        .map(|c| {
            json!({"provider_id": c.provider_id, "caller_id": c.caller_id,
                   "description": c.description})
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}
