//! What contacts add to their declared collections
//! ([`crate::collections::contacts`], whose list, item, create, update and
//! destroy routes the router builder declares: [`super::items`]):
//! - favorites: `POST /user/contacts/{id}/favorite|unfavorite`,
//!   `POST /user/business_contacts/{id}/favorite|unfavorite`;
//! - the extension directory (the tenant's users): `GET /user/extension_contacts`,
//!   `POST /user/extension_contacts/{id}/favorite|unfavorite`.
//!
//! Every item carries the caller's own `favorite` flag. These act in the
//! caller's home tenant, like the rest of `/user`.

use super::VIA;
use crate::commands::contacts::SetFavorite;
use crate::commands::Command;
use crate::field_tables::to_json;
use crate::field_tables::user::USER;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::{favorites_of, ListOf, Owner};
use crate::queries::users::USERS;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::FavoriteCollection;
use switchboard_events::TenantId;
use switchboard_projections::directory::{ContactView, Scope, UserView, EXTENSION_CONTACT_FIELDS};

pub use crate::queries::collections::CONTACT_LIST;
pub use crate::queries::users::EXTENSION_CONTACT_LIST;

/// Renders a contact; `favorite` is the caller's flag (`None`: left out, as
/// in the administrator's `/contacts` view).
pub fn render_contact(c: &ContactView, favorite: Option<bool>) -> Map<String, Value> {
    super::items::render(&crate::collections::contacts::PERSONAL, c, favorite)
}

/// Renders a user as an extension contact with the caller's flag.
pub fn render_extension_contact(scope: &Scope, u: &UserView, favorite: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(u.id)));
    for f in EXTENSION_CONTACT_FIELDS {
        m.insert((*f).into(), to_json(&USER.effective(&u.attrs, f)));
    }
    m.insert(
        "extension_number".into(),
        json!(scope.extension_number_of(u)),
    );
    m.insert("favorite".into(), json!(favorite));
    m
}

/// Runs a command in `tenant`.
pub(crate) async fn run(
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

async fn set_favorite(
    state: &AppState,
    caller: &Caller,
    collection: FavoriteCollection,
    raw: &str,
    on: bool,
) -> Result<Json<Value>, ApiError> {
    let what = match collection {
        FavoriteCollection::Extension => "extension contact",
        _ => "contact",
    };
    let command = Command::SetFavorite(SetFavorite {
        user_id: caller.user_id,
        collection,
        item: ids::parse_or_404(raw, what)?,
        on,
    });
    run(state, caller, caller.home_tenant, command).await?;
    Ok(Json(json!({})))
}

/// `POST /user/contacts/{id}/favorite`.
pub async fn favorite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_favorite(&state, &caller, FavoriteCollection::Personal, &id, true).await
}

/// `POST /user/contacts/{id}/unfavorite`.
pub async fn unfavorite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_favorite(&state, &caller, FavoriteCollection::Personal, &id, false).await
}

/// `POST /user/business_contacts/{id}/favorite`.
pub async fn favorite_business(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_favorite(&state, &caller, FavoriteCollection::Business, &id, true).await
}

/// `POST /user/business_contacts/{id}/unfavorite`.
pub async fn unfavorite_business(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_favorite(&state, &caller, FavoriteCollection::Business, &id, false).await
}

/// `GET /user/extension_contacts`: the tenant's users as a directory.
pub async fn list_extension(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::response::Response, ApiError> {
    let query = list::parse(&params, &EXTENSION_CONTACT_LIST)?;
    let tenant = caller.home_tenant;
    let model = state.queries.read();
    let scope = model.scope(tenant);
    let list = ListOf {
        tenant,
        owner: Owner::Tenant,
        favorites: Some(favorites_of(
            &model,
            tenant,
            caller.user_id,
            FavoriteCollection::Extension,
        )),
    };
    let render = |id, f: Option<bool>| {
        let s = scope?;
        let u = s.users.get(&id)?;
        Some(render_extension_contact(s, u, f.unwrap_or(false)))
    };
    Ok(list::indexed(
        &state,
        &model,
        false,
        &USERS,
        "extension_contacts",
        list,
        &query,
        render,
    ))
}

/// `POST /user/extension_contacts/{id}/favorite`.
pub async fn favorite_extension(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_favorite(&state, &caller, FavoriteCollection::Extension, &id, true).await
}

/// `POST /user/extension_contacts/{id}/unfavorite`.
pub async fn unfavorite_extension(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_favorite(&state, &caller, FavoriteCollection::Extension, &id, false).await
}
