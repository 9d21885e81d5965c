//! `GET /extension_numbers/{extension_number}`: who owns a number in the
//! tenant's shared number space.
//!
//! An extension that is some user's primary line answers as that user
//! (`type: EXTENSION`, the user's id and display name, falling back to the
//! account name), because that is who a caller reaches by dialing it. An
//! extension that is nobody's primary answers as itself. Call queues and
//! ring groups answer with their id, name and `CALL_QUEUE` / `RING_GROUP`;
//! a meeting room with its id, subject and `CONFERENCE_ROOM`.

use crate::commands::users::ExtensionNumber;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as ids;
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use switchboard_projections::directory::items::MEETINGS;
use switchboard_projections::directory::NumberOwner;

/// `GET /extension_numbers/{extension_number}`.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let number = ExtensionNumber::parse(&number, "extension_number")?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let not_found = || ApiError::not_found("extension number");
    let owner = scope.numbers.get(number.as_str()).ok_or_else(not_found)?;
    let (id, name, kind) = match &owner {
        NumberOwner::Extension(ext) => {
            let x = scope.extensions.get(ext).ok_or_else(not_found)?;
            match x.primary_of.and_then(|u| scope.users.get(&u)) {
                Some(u) => (
                    u.id,
                    u.display_name().unwrap_or(&u.name).to_owned(),
                    "EXTENSION",
                ),
                None => (x.id, x.name.to_string(), "EXTENSION"),
            }
        }
        NumberOwner::CallQueue(id) => {
            let q = scope.call_queues.get(id).ok_or_else(not_found)?;
            (q.id, q.name.clone(), "CALL_QUEUE")
        }
        NumberOwner::RingGroup(id) => {
            let g = scope.ring_groups.get(id).ok_or_else(not_found)?;
            (g.id, g.name.clone(), "RING_GROUP")
        }
        NumberOwner::Meeting(id) => {
            let (_, owner) = scope.items.owners.get(id).ok_or_else(not_found)?;
            let m = scope
                .items
                .get(MEETINGS, *owner, *id)
                .ok_or_else(not_found)?;
            let subject = match m.attrs.get("subject") {
                Some(switchboard_events::ValueRef::Str(s)) => s.to_owned(),
                _ => String::new(),
            };
            (m.id, subject, "CONFERENCE_ROOM")
        }
    };
    Ok(Json(json!({
        "id": ids::render(id),
        "extension_number": number.as_str(),
        "name": name,
        "type": kind,
    })))
}
