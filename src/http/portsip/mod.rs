//! The PortSIP v22 dialect, served under `/api`, one file per resource.

pub mod audit;
pub mod auth;
pub mod extension_numbers;
pub mod extensions;
pub mod groups;
pub mod ids;
pub mod info;
pub mod roles;
pub mod tenants;
pub mod user;
pub mod users;

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
        .route("/users", get(users::list).post(users::create))
        .route("/users/profile", post(users::reset_all_profiles))
        .route("/users/{id}", get(users::show).post(users::update))
        .route("/users/{id}/password", post(users::reset_password))
        .route(
            "/users/{id}/extension_password",
            post(users::reset_extension_password),
        )
        .route("/users/{id}/role", post(users::change_role))
        .route("/users/{id}/profile", post(users::reset_profile))
        .route("/users/{id}/destroy", post(users::destroy))
        .route("/user", get(user::show).post(user::update))
        .route("/user/password", post(user::change_password))
        .route(
            "/user/extension_password",
            post(user::change_extension_password),
        )
        .route("/user/profile", post(user::reset_profile))
        .route("/roles", get(roles::list).post(roles::create))
        .route("/roles/{name}", get(roles::show).post(roles::update))
        .route("/roles/{name}/destroy", post(roles::destroy))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/{id}", get(groups::show).post(groups::update))
        .route("/groups/{id}/destroy", post(groups::destroy))
        .route("/groups/{id}/members", get(groups::members))
        .route(
            "/groups/{id}/members/{extension_number}",
            get(groups::member).post(groups::add_member),
        )
        .route(
            "/groups/{id}/members/{extension_number}/destroy",
            post(groups::remove_member),
        )
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
        .route("/audit_logs", get(audit::audit_logs))
        .route("/users/{id}/history", get(audit::user_history))
        .route("/extensions/{id}/history", get(audit::extension_history))
        .route("/groups/{id}/history", get(audit::group_history))
        .route("/call_queues/{id}/history", get(audit::call_queue_history))
}
