//! The PortSIP v22 dialect, served under `/api`, one file per resource.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod business_contacts;
pub mod contacts;
pub mod events;
pub mod extension_numbers;
pub mod extensions;
pub mod groups;
pub mod ids;
pub mod info;
pub mod presence;
pub mod queues;
pub mod roles;
pub mod sync;
pub mod tenants;
pub mod user;
pub mod users;
pub mod users_bulk;
pub mod webhooks;

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
        .route("/users/import", post(users_bulk::import))
        .route("/users/export", get(users_bulk::export))
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
        .route(
            "/call_queues",
            get(queues::list_queues).post(queues::create_queue),
        )
        .route(
            "/call_queues/{id}",
            get(queues::show_queue).post(queues::update_queue),
        )
        .route("/call_queues/{id}/destroy", post(queues::destroy_queue))
        .route("/call_queues/{id}/status", get(queues::queue_status))
        .route(
            "/call_queues/{id}/agents",
            get(queues::queue_agents).post(queues::set_queue_agents),
        )
        .route(
            "/call_queues/{id}/agents/{agent_number}",
            get(queues::queue_agent).post(queues::set_queue_agent),
        )
        .route(
            "/ring_groups",
            get(queues::list_ring_groups).post(queues::create_ring_group),
        )
        .route(
            "/ring_groups/{id}",
            get(queues::show_ring_group).post(queues::update_ring_group),
        )
        .route(
            "/ring_groups/{id}/destroy",
            post(queues::destroy_ring_group),
        )
        .route(
            "/ring_groups/{id}/agents",
            get(queues::ring_group_agents).post(queues::set_ring_group_agents),
        )
        .route(
            "/ring_groups/{id}/agents/{agent_number}",
            get(queues::ring_group_agent),
        )
        .route("/user/call_queues", get(agents::own_queues))
        .route(
            "/user/call_queues/{id}/agent",
            get(agents::own_agent).post(agents::set_own_agent),
        )
        .route("/user/ring_groups", get(agents::own_ring_groups))
        .route("/users/{id}/call_queues", get(agents::user_call_queues))
        .route(
            "/users/{id}/call_queues/{queue_id}/agent",
            get(agents::user_agent).post(agents::set_user_agent),
        )
        .route(
            "/users/{id}/agent_status_history",
            get(agents::status_history),
        )
        .route("/user/presence", post(presence::set_presence))
        .route("/user/status", get(presence::own_status))
        .route("/users/{id}/status", get(presence::user_status))
        .route(
            "/users/{id}/status/{instance_id}/destroy_status",
            post(presence::destroy_status),
        )
        .route("/users/{id}/call_state", post(presence::call_state))
        .route("/registrations", post(presence::register))
        .route(
            "/registrations/{instance_id}/destroy",
            post(presence::unregister),
        )
        .route("/user/contacts", get(contacts::list).post(contacts::create))
        .route(
            "/user/contacts/{id}",
            get(contacts::show).post(contacts::update),
        )
        .route("/user/contacts/{id}/favorite", post(contacts::favorite))
        .route("/user/contacts/{id}/unfavorite", post(contacts::unfavorite))
        .route("/user/contacts/{id}/destroy", post(contacts::destroy))
        .route("/user/business_contacts", get(contacts::list_business))
        .route(
            "/user/business_contacts/{id}/favorite",
            post(contacts::favorite_business),
        )
        .route(
            "/user/business_contacts/{id}/unfavorite",
            post(contacts::unfavorite_business),
        )
        .route("/user/extension_contacts", get(contacts::list_extension))
        .route(
            "/user/extension_contacts/{id}/favorite",
            post(contacts::favorite_extension),
        )
        .route(
            "/user/extension_contacts/{id}/unfavorite",
            post(contacts::unfavorite_extension),
        )
        .route(
            "/contacts",
            get(business_contacts::list).post(business_contacts::create),
        )
        .route("/contacts/export", get(business_contacts::export))
        .route(
            "/contacts/{id}",
            get(business_contacts::show).post(business_contacts::update),
        )
        .route("/contacts/{id}/destroy", post(business_contacts::destroy))
        .route(
            "/user/contacts/sync_tokens",
            post(sync::personal_contacts_token),
        )
        .route(
            "/user/contacts/sync_tokens/{token}/diff",
            post(sync::personal_contacts_diff),
        )
        .route(
            "/user/business_contacts/sync_tokens",
            post(sync::business_contacts_token),
        )
        .route(
            "/user/business_contacts/sync_tokens/{token}/diff",
            post(sync::business_contacts_diff),
        )
        .route(
            "/user/extension_contacts/sync_tokens",
            post(sync::extension_contacts_token),
        )
        .route(
            "/user/extension_contacts/sync_tokens/{token}/diff",
            post(sync::extension_contacts_diff),
        )
        .route("/user/cdrs/sync_tokens", post(sync::cdrs_token))
        .route("/user/cdrs/sync_tokens/{token}/diff", post(sync::cdrs_diff))
        .route("/user/events", get(events::stream))
        .route("/audit_logs", get(audit::audit_logs))
        .route("/users/{id}/history", get(audit::user_history))
        .route("/extensions/{id}/history", get(audit::extension_history))
        .route("/groups/{id}/history", get(audit::group_history))
        .route("/call_queues/{id}/history", get(audit::call_queue_history))
        .route("/ring_groups/{id}/history", get(audit::ring_group_history))
        .route("/contacts/{id}/history", get(audit::contact_history))
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/{kind}/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{kind}/resume", post(webhooks::resume))
}
