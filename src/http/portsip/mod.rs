//! The PortSIP v22 dialect, served under `/api`, one file per resource.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod business_contacts;
pub mod call_history;
pub mod change_stream;
pub mod contacts;
pub mod extension_numbers;
pub mod extensions;
pub mod files;
pub mod greetings;
pub mod groups;
pub mod info;
pub mod items;
pub mod meetings;
pub mod presence;
pub mod queues;
pub mod ring_groups;
pub mod roles;
pub mod settings;
pub mod sync;
pub mod tenants;
pub mod user;
pub mod users;
pub mod users_bulk;
pub mod waiting;
pub mod webhooks;

use super::routes::{Access::*, Dialect, Routes};
use crate::auth::roles::Capability::*;

/// Provenance recorded on the events this dialect causes.
pub const VIA: &str = "portsip";

/// The PortSIP routes (relative to `/api`), each with the access it
/// requires. `SignedIn` routes are self-scoped: the caller's own data, or
/// "yourself, or a capability" checked by the handler.
pub fn routes() -> Routes {
    Routes::new(Dialect::PortSip)
        .post("/auth/sign_in", Public, auth::sign_in)
        .post("/login", Public, auth::sign_in)
        .get("/login", SignedIn, auth::login_status)
        .post("/auth/refresh_token", Public, auth::refresh_token)
        .post_own_session("/auth/sign_out", SignedIn, auth::sign_out)
        .get("/auth/user", SignedIn, auth::auth_user)
        .get("/tenants", SystemAdmin, tenants::list)
        .post("/tenants", SystemAdmin, tenants::create)
        .post("/tenants/switch", SystemAdmin, tenants::switch)
        .get("/tenants/{id}", SystemAdmin, tenants::show)
        .post("/tenants/{id}", SystemAdmin, tenants::update)
        .post("/tenants/{id}/destroy", SystemAdmin, tenants::destroy)
        .get("/tenant", Needs(ViewTenantSettings), tenants::show_own)
        .post("/tenant", Needs(ManageTenantSettings), tenants::update_own)
        .get("/users", Needs(ViewUsers), users::list)
        .post("/users", Needs(ManageUsers), users::create)
        .post(
            "/users/profile",
            Needs(ManageUsers),
            users::reset_all_profiles,
        )
        .post("/users/import", Needs(ManageUsers), users_bulk::import)
        .without_deadline()
        .get("/users/export", Needs(ViewUsers), users_bulk::export)
        .get("/users/{id}", Needs(ViewUsers), users::show)
        .post("/users/{id}", Needs(ManageUsers), users::update)
        .post(
            "/users/{id}/password",
            Needs(ManageUsers),
            users::reset_password,
        )
        .post(
            "/users/{id}/extension_password",
            Needs(ManageUsers),
            users::reset_extension_password,
        )
        .post("/users/{id}/role", Needs(ManageUsers), users::change_role)
        .post(
            "/users/{id}/profile",
            Needs(ManageUsers),
            users::reset_profile,
        )
        .post("/users/{id}/destroy", Needs(ManageUsers), users::destroy)
        .get("/user", SignedIn, user::show)
        .post("/user", SignedIn, user::update)
        .post("/user/password", SignedIn, user::change_password)
        .post(
            "/user/extension_password",
            SignedIn,
            user::change_extension_password,
        )
        .post("/user/profile", SignedIn, user::reset_profile)
        .get("/roles", Needs(ViewRoles), roles::list)
        .post("/roles", Needs(ManageRoles), roles::create)
        .get("/roles/{name}", Needs(ViewRoles), roles::show)
        .post("/roles/{name}", Needs(ManageRoles), roles::update)
        .post("/roles/{name}/destroy", Needs(ManageRoles), roles::destroy)
        .get("/groups", Needs(ViewUsers), groups::list)
        .post("/groups", Needs(ManageUsers), groups::create)
        .get("/groups/{id}", Needs(ViewUsers), groups::show)
        .post("/groups/{id}", Needs(ManageUsers), groups::update)
        .post("/groups/{id}/destroy", Needs(ManageUsers), groups::destroy)
        .get("/groups/{id}/members", Needs(ViewUsers), groups::members)
        .get(
            "/groups/{id}/members/{extension_number}",
            Needs(ViewUsers),
            groups::member,
        )
        .post(
            "/groups/{id}/members/{extension_number}",
            Needs(ManageUsers),
            groups::add_member,
        )
        .post(
            "/groups/{id}/members/{extension_number}/destroy",
            Needs(ManageUsers),
            groups::remove_member,
        )
        .get("/info", Public, info::show)
        .get("/extensions", Needs(ViewUsers), extensions::list)
        .post("/extensions", Needs(ManageUsers), extensions::create)
        .get("/extensions/{id}", Needs(ViewUsers), extensions::show)
        .post("/extensions/{id}", Needs(ManageUsers), extensions::update)
        .post(
            "/extensions/{id}/destroy",
            Needs(ManageUsers),
            extensions::destroy,
        )
        .get(
            "/users/{id}/extensions",
            Needs(ViewUsers),
            extensions::user_links,
        )
        .post(
            "/users/{id}/extensions/{extension_id}",
            Needs(ManageUsers),
            extensions::link,
        )
        .post(
            "/users/{id}/extensions/{extension_id}/destroy",
            Needs(ManageUsers),
            extensions::unlink,
        )
        .get(
            "/extension_numbers/{extension_number}",
            Needs(ViewUsers),
            extension_numbers::show,
        )
        .get("/call_queues", Needs(ViewQueues), queues::list_queues)
        .post("/call_queues", Needs(ManageQueues), queues::create_queue)
        .get("/call_queues/{id}", Needs(ViewQueues), queues::show_queue)
        .post(
            "/call_queues/{id}",
            Needs(ManageQueues),
            queues::update_queue,
        )
        .post(
            "/call_queues/{id}/destroy",
            Needs(ManageQueues),
            queues::destroy_queue,
        )
        .get(
            "/call_queues/{id}/status",
            Needs(ViewQueues),
            queues::queue_status,
        )
        .get(
            "/call_queues/{id}/agents",
            Needs(ViewQueues),
            queues::queue_agents,
        )
        .post(
            "/call_queues/{id}/agents",
            Needs(ManageQueues),
            queues::set_queue_agents,
        )
        // An agent reads and sets its own entry; others need the capability.
        .get(
            "/call_queues/{id}/agents/{agent_number}",
            SignedIn,
            queues::queue_agent,
        )
        .post(
            "/call_queues/{id}/agents/{agent_number}",
            SignedIn,
            queues::set_queue_agent,
        )
        .get("/ring_groups", Needs(ViewQueues), ring_groups::list)
        .post("/ring_groups", Needs(ManageQueues), ring_groups::create)
        .get("/ring_groups/{id}", Needs(ViewQueues), ring_groups::show)
        .post(
            "/ring_groups/{id}",
            Needs(ManageQueues),
            ring_groups::update,
        )
        .post(
            "/ring_groups/{id}/destroy",
            Needs(ManageQueues),
            ring_groups::destroy,
        )
        .get(
            "/ring_groups/{id}/agents",
            Needs(ViewQueues),
            ring_groups::agents,
        )
        .post(
            "/ring_groups/{id}/agents",
            Needs(ManageQueues),
            ring_groups::set_agents,
        )
        .get(
            "/ring_groups/{id}/agents/{agent_number}",
            SignedIn,
            ring_groups::agent,
        )
        .get("/user/call_queues", SignedIn, agents::own_queues)
        .get("/user/call_queues/{id}/agent", SignedIn, agents::own_agent)
        .post(
            "/user/call_queues/{id}/agent",
            SignedIn,
            agents::set_own_agent,
        )
        .get("/user/ring_groups", SignedIn, agents::own_ring_groups)
        .get(
            "/users/{id}/call_queues",
            SignedIn,
            agents::user_call_queues,
        )
        .get(
            "/users/{id}/call_queues/{queue_id}/agent",
            SignedIn,
            agents::user_agent,
        )
        .post(
            "/users/{id}/call_queues/{queue_id}/agent",
            SignedIn,
            agents::set_user_agent,
        )
        .get(
            "/users/{id}/agent_status_history",
            SignedIn,
            agents::status_history,
        )
        .post("/user/presence", SignedIn, presence::set_presence)
        .get("/user/status", SignedIn, presence::own_status)
        .get("/users/{id}/status", SignedIn, presence::user_status)
        .post(
            "/users/{id}/status/{instance_id}/destroy_status",
            NeedsAny(&[ReportRegistrations, ManageUsers]),
            presence::destroy_status,
        )
        .post(
            "/users/{id}/call_state",
            Needs(ReportRegistrations),
            presence::call_state,
        )
        .post(
            "/registrations",
            Needs(ReportRegistrations),
            presence::register,
        )
        .post(
            "/registrations/{instance_id}/destroy",
            Needs(ReportRegistrations),
            presence::unregister,
        )
        .get("/user/cdrs", SignedIn, call_history::own_cdrs)
        .get("/user/cdrs/{id}", SignedIn, call_history::own_cdr)
        .get("/cdrs", Needs(ViewCallHistory), call_history::cdrs)
        .get("/cdrs/{id}", Needs(ViewCallHistory), call_history::cdr)
        .post("/cdrs", Needs(ReportCallHistory), call_history::report_cdr)
        .get(
            "/user/external_messages",
            SignedIn,
            call_history::own_messages,
        )
        .get(
            "/user/external_messages/{id}",
            SignedIn,
            call_history::own_message,
        )
        .get(
            "/external_messages",
            Needs(ViewCallHistory),
            call_history::messages,
        )
        .get(
            "/external_messages/{id}",
            Needs(ViewCallHistory),
            call_history::message,
        )
        .post(
            "/external_messages",
            Needs(ReportCallHistory),
            call_history::report_message,
        )
        .get("/user/recordings", SignedIn, call_history::own_recordings)
        .get(
            "/user/recordings/{id}",
            SignedIn,
            call_history::own_recording,
        )
        .post(
            "/user/recordings/{id}/destroy",
            SignedIn,
            call_history::destroy_own_recording,
        )
        .get(
            "/recordings",
            Needs(ViewCallHistory),
            call_history::recordings,
        )
        .get(
            "/recordings/{id}",
            Needs(ViewCallHistory),
            call_history::recording,
        )
        .post(
            "/recordings/{id}/destroy",
            Needs(ManageCallHistory),
            call_history::destroy_recording,
        )
        .post(
            "/recordings",
            Needs(ReportCallHistory),
            call_history::report_recording,
        )
        // A call queue's waiting list: the PBX reports, agents pick up.
        .get("/call_queues/{id}/waiting", SignedIn, waiting::list)
        .post(
            "/call_queues/{id}/waiting/{session_id}/pickup",
            SignedIn,
            waiting::pickup,
        )
        .post(
            "/call_queues/{id}/waiting",
            Needs(ReportCallHistory),
            waiting::report,
        )
        .post(
            "/call_queues/{id}/waiting/{session_id}/destroy",
            Needs(ReportCallHistory),
            waiting::remove,
        )
        .with(|r| items::declare(r, &crate::collections::contacts::PERSONAL))
        .post("/user/contacts/{id}/favorite", SignedIn, contacts::favorite)
        .post(
            "/user/contacts/{id}/unfavorite",
            SignedIn,
            contacts::unfavorite,
        )
        .post(
            "/user/business_contacts/{id}/favorite",
            SignedIn,
            contacts::favorite_business,
        )
        .post(
            "/user/business_contacts/{id}/unfavorite",
            SignedIn,
            contacts::unfavorite_business,
        )
        .get(
            "/user/extension_contacts",
            SignedIn,
            contacts::list_extension,
        )
        .post(
            "/user/extension_contacts/{id}/favorite",
            SignedIn,
            contacts::favorite_extension,
        )
        .post(
            "/user/extension_contacts/{id}/unfavorite",
            SignedIn,
            contacts::unfavorite_extension,
        )
        .with(|r| items::declare(r, &crate::collections::contacts::BUSINESS))
        // A user's settings lists and the tenant's holidays (issue #16).
        .with(|r| items::declare(r, &crate::collections::settings::PHONES))
        .with(|r| items::declare(r, &crate::collections::settings::SPEED_DIALS_8))
        .with(|r| items::declare(r, &crate::collections::settings::SPEED_DIALS_100))
        .with(|r| items::declare(r, &crate::collections::settings::USER_HOLIDAYS))
        .with(|r| items::declare(r, &crate::collections::settings::TENANT_HOLIDAYS))
        // Meetings (issue #17): scheduled meetings are a declared
        // collection; their controls, status and the media server's
        // reports are declared beside it.
        .with(|r| items::declare(r, &crate::collections::meetings::MEETINGS))
        .with(meetings::declare)
        .get(
            "/user/outbound_caller_ids",
            SignedIn,
            settings::own_outbound_caller_ids,
        )
        .get(
            "/user/global_holidays",
            SignedIn,
            settings::own_global_holidays,
        )
        .post(
            "/user/global_holidays",
            SignedIn,
            settings::select_own_global_holidays,
        )
        .get(
            "/users/{id}/global_holidays",
            Needs(ViewUsers),
            settings::user_global_holidays,
        )
        .post(
            "/users/{id}/global_holidays",
            Needs(ManageUsers),
            settings::select_user_global_holidays,
        )
        .get("/user/balance", SignedIn, settings::own_balance)
        .get(
            "/users/{id}/balance",
            Needs(ViewUsers),
            settings::user_balance,
        )
        .post(
            "/users/{id}/balance",
            Needs(ManageUsers),
            settings::set_user_balance,
        )
        .get(
            "/users/{id}/balance/history",
            Needs(ViewUsers),
            settings::user_balance_history,
        )
        .post(
            "/users/{id}/ms365_binding",
            Needs(ManageUsers),
            settings::bind_ms365,
        )
        .post(
            "/users/{id}/ms365_binding/destroy",
            Needs(ManageUsers),
            settings::unbind_ms365,
        )
        .get(
            "/contacts/export",
            Needs(ViewBusinessContacts),
            business_contacts::export,
        )
        .post_read(
            "/user/contacts/sync_tokens",
            SignedIn,
            sync::personal_contacts_token,
        )
        .post_read(
            "/user/contacts/sync_tokens/{token}/diff",
            SignedIn,
            sync::personal_contacts_diff,
        )
        .post_read(
            "/user/business_contacts/sync_tokens",
            SignedIn,
            sync::business_contacts_token,
        )
        .post_read(
            "/user/business_contacts/sync_tokens/{token}/diff",
            SignedIn,
            sync::business_contacts_diff,
        )
        .post_read(
            "/user/extension_contacts/sync_tokens",
            SignedIn,
            sync::extension_contacts_token,
        )
        .post_read(
            "/user/extension_contacts/sync_tokens/{token}/diff",
            SignedIn,
            sync::extension_contacts_diff,
        )
        .post_read("/user/cdrs/sync_tokens", SignedIn, sync::cdrs_token)
        .post_read(
            "/user/cdrs/sync_tokens/{token}/diff",
            SignedIn,
            sync::cdrs_diff,
        )
        .get_stream("/user/events", SignedIn, change_stream::stream)
        .get("/audit_logs", Needs(ViewAudit), audit::audit_logs)
        .get("/users/{id}/history", Needs(ViewAudit), audit::user_history)
        .get(
            "/extensions/{id}/history",
            Needs(ViewAudit),
            audit::extension_history,
        )
        .get(
            "/groups/{id}/history",
            Needs(ViewAudit),
            audit::group_history,
        )
        .get(
            "/call_queues/{id}/history",
            Needs(ViewAudit),
            audit::call_queue_history,
        )
        .get(
            "/ring_groups/{id}/history",
            Needs(ViewAudit),
            audit::ring_group_history,
        )
        .get(
            "/contacts/{id}/history",
            Needs(ViewAudit),
            audit::contact_history,
        )
        .get("/webhooks", Needs(ViewTenantSettings), webhooks::list)
        .get(
            "/webhooks/{kind}/deliveries",
            Needs(ViewTenantSettings),
            webhooks::deliveries,
        )
        .post(
            "/webhooks/{kind}/resume",
            Needs(ManageTenantSettings),
            webhooks::resume,
        )
        // The file store (companion API): uploads are the uploader's own.
        .post("/blobs/uploads", SignedIn, blobs::begin)
        .post("/blobs/uploads/{id}/append", SignedIn, blobs::append)
        .get("/blobs/uploads/{id}/status", SignedIn, blobs::status)
        .post("/blobs/uploads/{id}/complete", SignedIn, blobs::complete)
        .post("/blobs/uploads/{id}/destroy", SignedIn, blobs::destroy)
        .get("/blobs/{digest}", SignedIn, files::download)
        // Files: the caller's uploads, or all with ManageUsers/ManageQueues.
        .get("/files", SignedIn, files::list)
        .get("/files/{id}", SignedIn, files::show)
        .post("/files/{id}/destroy", SignedIn, files::destroy)
        // Voicemail greetings: the caller's own, or any user's by an administrator.
        .get("/user/greetings", SignedIn, greetings::list_mine)
        .post("/user/greetings", SignedIn, greetings::create_mine)
        .post(
            "/user/greetings/{id}/enable",
            SignedIn,
            greetings::enable_mine,
        )
        .post(
            "/user/greetings/{id}/disable",
            SignedIn,
            greetings::disable_mine,
        )
        .post(
            "/user/greetings/{id}/destroy",
            SignedIn,
            greetings::destroy_mine,
        )
        .get("/users/{id}/greetings", Needs(ViewUsers), greetings::list)
        .post(
            "/users/{id}/greetings",
            Needs(ManageUsers),
            greetings::create_for,
        )
        .post(
            "/users/{id}/greetings/{greeting_id}/enable",
            Needs(ManageUsers),
            greetings::enable,
        )
        .post(
            "/users/{id}/greetings/{greeting_id}/disable",
            Needs(ManageUsers),
            greetings::disable,
        )
        .post(
            "/users/{id}/greetings/{greeting_id}/destroy",
            Needs(ManageUsers),
            greetings::destroy,
        )
}
