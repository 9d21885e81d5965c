//! The PortSIP v22 dialect, served under `/api`, one file per resource.

pub mod auth;
pub mod extension_numbers;
pub mod extensions;
pub mod ids;
pub mod info;
pub mod tenants;

use super::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The PortSIP routes (relative to `/api`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/sign_in", post(auth::sign_in))
        .route("/login", post(auth::sign_in).get(auth::login_status))
        .route("/auth/refresh_token", post(auth::refresh_token))
        .route("/auth/sign_out", post(auth::sign_out))
        .route("/auth/user", get(auth::auth_user))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route("/tenants/switch", post(tenants::switch))
        .route("/tenants/{id}", get(tenants::show).post(tenants::update))
        .route("/tenants/{id}/destroy", post(tenants::destroy))
        .route("/tenant", get(tenants::show_own).post(tenants::update_own))
        .route("/info", get(info::show))
        .route(
            "/extensions",
            get(extensions::list).post(extensions::create),
        )
        .route(
            "/extensions/{id}",
            get(extensions::show).post(extensions::update),
        )
        .route("/extensions/{id}/destroy", post(extensions::destroy))
        .route("/users/{id}/extensions", get(extensions::user_links))
        .route(
            "/users/{id}/extensions/{extension_id}",
            post(extensions::link),
        )
        .route(
            "/users/{id}/extensions/{extension_id}/destroy",
            post(extensions::unlink),
        )
        .route(
            "/extension_numbers/{extension_number}",
            get(extension_numbers::show),
        )
}
