//! Contacts as a signed-in user sees them, under `/user`:
//! - personal contacts: `GET/POST /user/contacts`, `GET/POST /user/contacts/{id}`,
//!   `POST /user/contacts/{id}/favorite|unfavorite|destroy`;
//! - the tenant's business contacts: `GET /user/business_contacts`,
//!   `POST /user/business_contacts/{id}/favorite|unfavorite`;
//! - the extension directory (the tenant's users): `GET /user/extension_contacts`,
//!   `POST /user/extension_contacts/{id}/favorite|unfavorite`.
//!
//! Every item carries the caller's own `favorite` flag. These act in the
//! caller's home tenant, like the rest of `/user`.

use super::VIA;
use crate::commands::contacts::{self as cmd, CreateContact, SetFavorite, UpdateContact};
use crate::commands::{Command, NewId};
use crate::field_tables::contact::{CONTACT, CONTACT_SKIP};
use crate::field_tables::user::USER;
use crate::field_tables::{to_json, Mode};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::{favorites_of, Collection, ListOf, Owner};
use crate::queries::collections::{BUSINESS_CONTACTS, PERSONAL_CONTACTS};
use crate::queries::users::USERS;
use crate::queries::ReadModel;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::{ContactOwner, FavoriteCollection};
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{ContactView, Scope, UserView, EXTENSION_CONTACT_FIELDS};

pub use crate::queries::collections::CONTACT_LIST;
pub use crate::queries::users::EXTENSION_CONTACT_LIST;

/// A list of the caller's home tenant (`owner`'s) read with the caller's
/// favorite flags of `collection`.
fn flagged<'a>(
    model: &'a ReadModel,
    caller: &Caller,
    collection: FavoriteCollection,
    owner: Owner,
) -> ListOf<'a> {
    let tenant = caller.home_tenant;
    ListOf {
        tenant,
        owner,
        favorites: Some(favorites_of(model, tenant, caller.user_id, collection)),
    }
}

/// Renders a contact; `favorite` is the caller's flag (`None`: left out, as
/// in the administrator's `/contacts` view).
pub fn render_contact(c: &ContactView, favorite: Option<bool>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(c.id)));
    CONTACT.render(&c.attrs, false, &mut m);
    if let Some(f) = favorite {
        m.insert("favorite".into(), json!(f));
    }
    m
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

/// Runs `f` over the caller's home scope (empty if nothing exists yet).
pub(crate) fn with_home<T>(
    state: &AppState,
    caller: &Caller,
    f: impl FnOnce(&Scope) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    f(state.queries.read().scope_or_empty(caller.home_tenant))
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

/// Validates a contact body for create or update.
pub(crate) fn validate(
    body: &Map<String, Value>,
    mode: Mode,
) -> Result<switchboard_events::Fields, ApiError> {
    if body.contains_key("favorite") {
        return Err(ApiError::validation(
            "favorite",
            "is changed with the favorite and unfavorite actions",
        ));
    }
    CONTACT
        .validate(body, mode, CONTACT_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))
}

/// Creates a contact of `owner` in `tenant`; answers 201 `{id}`.
pub(crate) async fn create_contact(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    owner: ContactOwner,
    body: &Map<String, Value>,
) -> Result<impl IntoResponse, ApiError> {
    let attrs = validate(body, Mode::Create)?;
    let command = Command::CreateContact(CreateContact {
        owner,
        contact_id: NewId::default(),
        attrs,
    });
    let out = state
        .pipeline
        .run(command, caller.acting_in(tenant, VIA))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": ids::render(out.created()?) })),
    ))
}

fn parse_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "contact")
}

fn mine(caller: &Caller) -> ContactOwner {
    ContactOwner::User(caller.user_id)
}

/// `GET /user/contacts`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    let query = list::parse(&params, &CONTACT_LIST)?;
    let model = state.queries.read();
    let owner = Owner::User(caller.user_id);
    let list = flagged(&model, &caller, FavoriteCollection::Personal, owner);
    let mine = PERSONAL_CONTACTS.at(&model, caller.home_tenant, owner);
    let render = |id, f| mine.and_then(|m| m.get(&id)).map(|c| render_contact(c, f));
    Ok(list::indexed(
        &state,
        &model,
        false,
        &PERSONAL_CONTACTS,
        "user_contacts",
        list,
        &query,
        render,
    ))
}

/// `POST /user/contacts`: answers 201 `{id}`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    create_contact(&state, &caller, caller.home_tenant, mine(&caller), &body).await
}

/// `GET /user/contacts/{id}`.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    with_home(&state, &caller, |s| {
        let c = cmd::contact(s, mine(&caller), id)?;
        let fav = s
            .contacts
            .is_favorite(caller.user_id, FavoriteCollection::Personal, id);
        Ok(Json(Value::Object(render_contact(c, Some(fav)))))
    })
}

/// `POST /user/contacts/{id}`: a partial update.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let incoming = validate(&body, Mode::Update)?;
    let command = Command::UpdateContact(UpdateContact {
        owner: mine(&caller),
        contact_id: id,
        incoming,
    });
    run(&state, &caller, caller.home_tenant, command).await?;
    Ok(Json(json!({})))
}

/// `POST /user/contacts/{id}/destroy`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let command = Command::DeleteContact {
        owner: mine(&caller),
        contact_id: parse_id(&id)?,
    };
    run(&state, &caller, caller.home_tenant, command).await?;
    Ok(StatusCode::NO_CONTENT)
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

/// `GET /user/business_contacts`: the tenant's phonebook with the caller's flags.
pub async fn list_business(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    let query = list::parse(&params, &CONTACT_LIST)?;
    let model = state.queries.read();
    let list = flagged(&model, &caller, FavoriteCollection::Business, Owner::Tenant);
    let book = BUSINESS_CONTACTS.at(&model, caller.home_tenant, Owner::Tenant);
    let render = |id, f| book.and_then(|b| b.get(&id)).map(|c| render_contact(c, f));
    Ok(list::indexed(
        &state,
        &model,
        false,
        &BUSINESS_CONTACTS,
        "user_business_contacts",
        list,
        &query,
        render,
    ))
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
    let list = flagged(
        &model,
        &caller,
        FavoriteCollection::Extension,
        Owner::Tenant,
    );
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
