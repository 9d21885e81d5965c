//! The router builder of declared collections ([`crate::collections`]):
//! from one [`CollectionSpec`] it declares every route of the collection in
//! the route table, each with its access, and serves them with one set of
//! generic handlers (parse → [`Command`] or query → render).
//!
//! A user's collection (`Routing::User`, path `p`):
//! - `GET|POST /user/p`, `GET|POST /user/p/{id}`, `POST /user/p/{id}/destroy`:
//!   the caller's own list (any signed-in user, in their home tenant; items
//!   carry the caller's `favorite` flag when the collection has favorites);
//!   a collection whose tenant rules share items (`shared_with`: a
//!   meeting's invitees) lists and shows the caller's own items and those
//!   naming them, with `ownership` telling which;
//! - with `admin` routes, the same under `/users/{id}/p…` for another user of
//!   the tenant the caller acts in, with the declared view / manage
//!   capabilities (a StandardUser only ever reaches `/user/p…`).
//!
//! A tenant's collection (`Routing::Tenant`, path `p`):
//! - `GET|POST /p`, `GET|POST /p/{id}`, `POST /p/{id}/destroy` with the
//!   declared view / manage capabilities, in the tenant the caller acts in;
//! - with `user_view: Some(v)`, `GET /user/v`: every signed-in user reads the
//!   list of their home tenant, with their favorite flags.
//!
//! Answers: a list is `{count, items}` (filter, search, orderby, paging from
//! the declared listing); create answers 201 `{id}`; update `{}`; destroy
//! 204. Another owner's or tenant's item is 404 named by the collection's
//! noun; a body field the table refuses is 400 naming it.

use super::VIA;
use crate::collections::{CollectionSpec, Routing};
use crate::commands::items::{self, CreateItem, DeleteItem, UpdateItem};
use crate::commands::{Command, NewId};
use crate::field_tables::Mode;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::render_cache::Shape;
use crate::http::routes::{Access, Routes};
use crate::http::AppState;
use crate::queries::collection::Collection as _;
use crate::queries::collection::{favorites_of, ListOf, Owner};
use crate::queries::items::{list_schema, readable, readable_all, shared_schema, DeclaredList};
use axum::extract::{RawPathParams, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::{Fields, Id, TenantId};
use switchboard_projections::directory::items::ItemView;

/// Declares every route of `spec` (see the module docs) on `routes`.
pub fn declare(routes: Routes, spec: &'static CollectionSpec) -> Routes {
    match spec.routing {
        Routing::User(r) => {
            let own = format!("/user/{}", r.path);
            let routes = crud(
                routes,
                spec,
                &own,
                "{id}",
                Access::SignedIn,
                Access::SignedIn,
            );
            match r.admin {
                None => routes,
                Some(a) => {
                    let base = format!("/users/{{id}}/{}", r.path);
                    let param = format!("{{{}}}", a.param);
                    crud(
                        routes,
                        spec,
                        &base,
                        &param,
                        Access::Needs(a.view),
                        Access::Needs(a.manage),
                    )
                }
            }
        }
        Routing::Tenant(r) => {
            let base = format!("/{}", r.path);
            let routes = crud(
                routes,
                spec,
                &base,
                "{id}",
                Access::Needs(r.view),
                Access::Needs(r.manage),
            );
            match r.user_view {
                None => routes,
                Some(v) => routes.get(
                    &format!("/user/{v}"),
                    Access::SignedIn,
                    move |State(state): State<AppState>, caller: Caller, params: ListParams| async move {
                        let list = Whose::Home.list(&state, &caller, spec, None)?;
                        list_items(&state, &caller, spec, list, params)
                    },
                ),
            }
        }
    }
}

/// The five routes of one list: `base` (list, create), `base/param` (show,
/// update), `base/param/destroy`. Under `/users/{id}/…` the list is that
/// user's; under `/user/…` the caller's; otherwise the tenant's.
fn crud(
    routes: Routes,
    spec: &'static CollectionSpec,
    base: &str,
    param: &str,
    view: Access,
    manage: Access,
) -> Routes {
    let whose = Whose::of(base);
    let item = format!("{base}/{param}");
    routes
        .get(
            base,
            view,
            move |State(state): State<AppState>,
                  caller: Caller,
                  path: RawPathParams,
                  params: ListParams| async move {
                let path = segments(&path);
                if whose == Whose::Caller && shared(spec) {
                    return shared_list(&state, &caller, spec, &params);
                }
                let list = whose.list(&state, &caller, spec, path.first().map(String::as_str))?;
                list_items(&state, &caller, spec, list, params)
            },
        )
        .post(
            base,
            manage,
            move |State(state): State<AppState>,
                  caller: Caller,
                  path: RawPathParams,
                  JsonBody(body): JsonBody<Map<String, Value>>| async move {
                let path = segments(&path);
                let user = path.first().map(String::as_str);
                let (tenant, owner) = whose.owner(&state, &caller, user)?;
                let attrs = validate(spec, &body, Mode::Create)?;
                let command = Command::CreateItem(CreateItem {
                    collection: crate::collections::Collection(spec),
                    owner,
                    item_id: NewId::default(),
                    attrs,
                });
                let out = state
                    .pipeline
                    .run(command, caller.acting_in(tenant, VIA))
                    .await?;
                Ok::<_, ApiError>((
                    StatusCode::CREATED,
                    Json(json!({ "id": ids::render(out.created()?) })),
                ))
            },
        )
        .get(
            &item,
            view,
            move |State(state): State<AppState>, caller: Caller, path: RawPathParams| async move {
                let path = segments(&path);
                let (user, id) = split(spec, &path)?;
                let (tenant, owner) = whose.owner(&state, &caller, user)?;
                let model = state.queries.read();
                let scope = model.scope_or_empty(tenant);
                if whose == Whose::Caller && shared(spec) {
                    let (it, owned) = readable(scope, spec, caller.user_id, id)
                        .ok_or_else(|| ApiError::not_found(spec.noun))?;
                    let domain = tenant_domain(&model, tenant);
                    let seen = Seen { owned, domain };
                    return Ok(Json(Value::Object(render_seen(spec, it, None, seen))));
                }
                let it = items::item(scope, crate::collections::Collection(spec), owner, id)?;
                let favorite = match (whose, spec.favorites) {
                    (Whose::Caller, Some(f)) => {
                        Some(scope.contacts.is_favorite(caller.user_id, f, id))
                    }
                    _ => None,
                };
                Ok::<_, ApiError>(Json(Value::Object(render(spec, it, favorite))))
            },
        )
        .post(
            &item,
            manage,
            move |State(state): State<AppState>,
                  caller: Caller,
                  path: RawPathParams,
                  JsonBody(body): JsonBody<Map<String, Value>>| async move {
                let path = segments(&path);
                let (user, id) = split(spec, &path)?;
                let (tenant, owner) = whose.owner(&state, &caller, user)?;
                let incoming = validate(spec, &body, Mode::Update)?;
                let command = Command::UpdateItem(UpdateItem {
                    collection: crate::collections::Collection(spec),
                    owner,
                    item_id: id,
                    incoming,
                });
                state
                    .pipeline
                    .run(command, caller.acting_in(tenant, VIA))
                    .await?;
                Ok::<_, ApiError>(Json(json!({})))
            },
        )
        .post(
            &format!("{item}/destroy"),
            manage,
            move |State(state): State<AppState>, caller: Caller, path: RawPathParams| async move {
                let path = segments(&path);
                let (user, id) = split(spec, &path)?;
                let (tenant, owner) = whose.owner(&state, &caller, user)?;
                let command = Command::DeleteItem(DeleteItem {
                    collection: crate::collections::Collection(spec),
                    owner,
                    item_id: id,
                });
                state
                    .pipeline
                    .run(command, caller.acting_in(tenant, VIA))
                    .await?;
                Ok::<_, ApiError>(StatusCode::NO_CONTENT)
            },
        )
}

/// Whose list a route addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// The caller's own (`/user/…`), in their home tenant.
    Caller,
    /// Another user's (`/users/{id}/…`), in the tenant the caller acts in.
    User,
    /// The tenant's (`/<path>…`), in the tenant the caller acts in.
    Tenant,
    /// The tenant's, read by a user in their home tenant (`user_view`).
    Home,
}

impl Whose {
    fn of(base: &str) -> Whose {
        if base.starts_with("/user/") {
            Whose::Caller
        } else if base.starts_with("/users/") {
            Whose::User
        } else {
            Whose::Tenant
        }
    }

    /// The tenant and list owner addressed (`user`: the `/users/{id}`
    /// segment). Another tenant's user is 404, like a missing one.
    fn owner(
        self,
        state: &AppState,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<(TenantId, Owner), ApiError> {
        match self {
            Whose::Caller => Ok((caller.home_tenant, Owner::User(caller.user_id))),
            Whose::Home => Ok((caller.home_tenant, Owner::Tenant)),
            Whose::Tenant => Ok((tenant_of(caller)?, Owner::Tenant)),
            Whose::User => {
                let tenant = tenant_of(caller)?;
                let id = ids::parse_or_404(user.unwrap_or_default(), "user")?;
                let model = state.queries.read();
                match model
                    .scope(tenant)
                    .is_some_and(|s| s.users.contains_key(&id))
                {
                    true => Ok((tenant, Owner::User(id))),
                    false => Err(ApiError::not_found("user")),
                }
            }
        }
    }

    /// The list addressed, with the caller's favorite flags where the
    /// caller reads their own list or their tenant's as a user.
    fn list(
        self,
        state: &AppState,
        caller: &Caller,
        spec: &CollectionSpec,
        user: Option<&str>,
    ) -> Result<(TenantId, Owner, bool), ApiError> {
        let (tenant, owner) = self.owner(state, caller, user)?;
        let flagged = matches!(self, Whose::Caller | Whose::Home) && spec.favorites.is_some();
        Ok((tenant, owner, flagged))
    }
}

/// The path parameters' values, in order.
fn segments(params: &RawPathParams) -> Vec<String> {
    params.iter().map(|(_, v)| v.to_owned()).collect()
}

/// The user segment (admin routes) and the item id of an item path.
fn split<'p>(spec: &CollectionSpec, path: &'p [String]) -> Result<(Option<&'p str>, Id), ApiError> {
    let (user, item) = match path {
        [item] => (None, item),
        [user, item] => (Some(user.as_str()), item),
        _ => return Err(ApiError::not_found(spec.noun)),
    };
    Ok((user, ids::parse_or_404(item, spec.noun)?))
}

/// A page of the list, rendered (memoized per item version).
fn list_items(
    state: &AppState,
    caller: &Caller,
    spec: &'static CollectionSpec,
    (tenant, owner, flagged): (TenantId, Owner, bool),
    params: ListParams,
) -> Result<Response, ApiError> {
    let query = list::parse(&params, list_schema(spec))?;
    let model = state.queries.read();
    let coll = DeclaredList(spec);
    let favorites = match (flagged, spec.favorites) {
        (true, Some(f)) => Some(favorites_of(&model, tenant, caller.user_id, f)),
        _ => None,
    };
    let at = coll.at(&model, tenant, owner);
    let render_one = |id, f| at.and_then(|m| m.get(&id)).map(|it| render(spec, it, f));
    Ok(list::indexed(
        state,
        &model,
        false,
        &coll,
        Shape::Declared {
            collection: spec.name,
            flagged,
        },
        ListOf {
            tenant,
            owner,
            favorites,
        },
        &query,
        render_one,
    )
    .into_response())
}

/// Whether a collection's items are also read by users they name (a
/// meeting's invitees).
fn shared(spec: &CollectionSpec) -> bool {
    spec.tenant.is_some_and(|t| t.shared_with.is_some())
}

/// The tenant's SIP domain.
fn tenant_domain(model: &crate::queries::ReadModel, tenant: TenantId) -> Option<String> {
    model.tenants.get(&tenant).map(|t| t.domain.clone())
}

/// `GET /user/<path>` of a shared collection: the caller's own items and
/// those naming them (`ownership` tells which), queried in memory (a
/// user's own list is bounded by the collection's `max_items`; the
/// others are found by a scan of the tenant's lists).
fn shared_list(
    state: &AppState,
    caller: &Caller,
    spec: &'static CollectionSpec,
    params: &ListParams,
) -> Result<Response, ApiError> {
    let tenant = caller.home_tenant;
    let model = state.queries.read();
    let domain = tenant_domain(&model, tenant);
    let scope = model.scope_or_empty(tenant);
    let rows = readable_all(scope, spec, caller.user_id)
        .into_iter()
        .map(|(it, owned)| {
            let seen = Seen {
                owned,
                domain: domain.clone(),
            };
            render_seen(spec, it, None, seen)
        });
    Ok(list::respond(params, shared_schema(spec), rows)?.into_response())
}

/// What the service renders per reader.
pub struct Seen {
    /// Whether the reader owns the item (`ownership`).
    pub owned: bool,
    /// The tenant's SIP domain (`domain`), if the reader's tenant is known.
    pub domain: Option<String>,
}

/// Renders an item: `id`, its table's fields, and the caller's `favorite`
/// flag when given. Read-only fields of a table (a meeting's) are the
/// service's: `created_at`, the item's creation time, `ownership`, true
/// (a user's list holds what they own), and `domain`, left as the table
/// renders it; [`render_seen`] renders them for one reader.
pub fn render(spec: &CollectionSpec, it: &ItemView, favorite: Option<bool>) -> Map<String, Value> {
    let seen = Seen {
        owned: true,
        domain: None,
    };
    render_seen(spec, it, favorite, seen)
}

/// [`render`] for a reader: whether they own the item, and their tenant's
/// SIP domain.
pub fn render_seen(
    spec: &CollectionSpec,
    it: &ItemView,
    favorite: Option<bool>,
    seen: Seen,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(it.id)));
    spec.table.render(&it.attrs, false, &mut m);
    let service_set = |name: &str| {
        spec.table
            .field(name)
            .is_some_and(|f| f.create == crate::field_tables::Access::ReadOnly)
    };
    if service_set("created_at") {
        let at = switchboard_events::envelope::format_rfc3339(it.stamp.created_at());
        m.insert("created_at".into(), json!(at));
    }
    if service_set("ownership") && spec.owned_by == crate::collections::OwnedBy::User {
        m.insert("ownership".into(), json!(seen.owned));
    }
    if let Some(domain) = seen.domain.filter(|_| service_set("domain")) {
        m.insert("domain".into(), json!(domain));
    }
    if let Some(f) = favorite {
        m.insert("favorite".into(), json!(f));
    }
    m
}

/// Validates a body for create or update: keys the collection refuses
/// (changed elsewhere) first, then its field table.
fn validate(
    spec: &CollectionSpec,
    body: &Map<String, Value>,
    mode: Mode,
) -> Result<Fields, ApiError> {
    if let Some((key, why)) = spec.refused.iter().find(|(k, _)| body.contains_key(*k)) {
        return Err(ApiError::validation(key, *why));
    }
    spec.table
        .validate(body, mode, spec.skip)
        .map_err(|e| ApiError::validation(&e.field, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::roles::Capability;
    use crate::collections::{AdminRoutes, Listing, OwnedBy, Recording, TenantRoutes, UserRoutes};
    use crate::field_tables::contact::CONTACT;
    use crate::http::routes::{Dialect, Effect};

    fn spec(owned_by: OwnedBy, routing: Routing) -> CollectionSpec {
        CollectionSpec {
            name: "test_items",
            noun: "thing",
            schema: "Thing",
            owned_by,
            table: &CONTACT,
            skip: &[],
            refused: &[],
            unique: &[],
            max_items: 10,
            check: None,
            tenant: None,
            listing: Listing {
                core: &[],
                search: &[],
                default_order: &[],
                ordered: &[],
                eq: &[],
            },
            favorites: None,
            recording: Recording::Items,
            routing,
        }
    }

    fn declared(spec: CollectionSpec) -> Vec<String> {
        let spec: &'static CollectionSpec = Box::leak(Box::new(spec));
        let routes = declare(Routes::new(Dialect::PortSip), spec).specs();
        let paths: Vec<String> = spec.paths().iter().map(|p| format!("/api{p}")).collect();
        for r in &routes {
            // Every route is a list, an item or an item's destroy action of
            // the paths the OpenAPI description attaches the schema to.
            let base = r.path.trim_end_matches("/destroy");
            assert!(
                paths.iter().any(|p| p == base),
                "{} not in {paths:?}",
                r.path
            );
            let writes = r.method == axum::http::Method::POST;
            assert_eq!(r.effect == Effect::Write, writes, "{} {}", r.method, r.path);
        }
        routes
            .iter()
            .map(|r| format!("{} {} {:?}", r.method, r.path, r.access))
            .collect()
    }

    #[test]
    fn a_users_collection_declares_own_routes_and_the_administrators() {
        let routing = Routing::User(UserRoutes {
            path: "things",
            admin: Some(AdminRoutes {
                param: "thing_id",
                view: Capability::ViewUsers,
                manage: Capability::ManageUsers,
            }),
        });
        assert_eq!(
            declared(spec(OwnedBy::User, routing)),
            [
                "GET /api/user/things SignedIn",
                "POST /api/user/things SignedIn",
                "GET /api/user/things/{id} SignedIn",
                "POST /api/user/things/{id} SignedIn",
                "POST /api/user/things/{id}/destroy SignedIn",
                "GET /api/users/{id}/things Needs(ViewUsers)",
                "POST /api/users/{id}/things Needs(ManageUsers)",
                "GET /api/users/{id}/things/{thing_id} Needs(ViewUsers)",
                "POST /api/users/{id}/things/{thing_id} Needs(ManageUsers)",
                "POST /api/users/{id}/things/{thing_id}/destroy Needs(ManageUsers)",
            ]
        );
    }

    #[test]
    fn a_tenants_collection_declares_its_routes_and_the_users_view() {
        let routing = Routing::Tenant(TenantRoutes {
            path: "things",
            view: Capability::ViewBusinessContacts,
            manage: Capability::ManageBusinessContacts,
            user_view: Some("tenant_things"),
        });
        assert_eq!(
            declared(spec(OwnedBy::Tenant, routing)),
            [
                "GET /api/things Needs(ViewBusinessContacts)",
                "POST /api/things Needs(ManageBusinessContacts)",
                "GET /api/things/{id} Needs(ViewBusinessContacts)",
                "POST /api/things/{id} Needs(ManageBusinessContacts)",
                "POST /api/things/{id}/destroy Needs(ManageBusinessContacts)",
                "GET /api/user/tenant_things SignedIn",
            ]
        );
    }
}
