//! The authorization matrix (issue 11, item 3): every route of every
//! dialect, taken from the router's own table
//! ([`switchboard::http::route_table`]), called as no token, a
//! StandardUser, a custom role lacking what the route needs, the Admin of
//! another tenant (with this tenant's ids) and the owner. Expected statuses
//! follow from the declared access; each route also has an entry below
//! (the owner's request and answer, and for self-scoped routes what other
//! users of the tenant get). A route without fixture values for its path
//! parameters, or without an entry, fails the test, so a new route cannot
//! be forgotten.
//!
//! Answers to the other tenant's Admin must not contain any of this
//! tenant's ids or names.

use crate::helpers::spawn_app;
use crate::world::{Who, World};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use switchboard::http::{route_table, Access, RouteSpec};

/// What one route is expected to answer.
#[derive(Debug, Clone)]
pub struct Exp {
    /// The owner's status.
    pub owner: u16,
    /// The request body (a template: `"$fixture"` strings are filled in);
    /// `{}` for non-GET routes when absent.
    pub body: Option<Value>,
    /// The query string (`key=$fixture` filled in).
    pub query: &'static str,
    /// For self-scoped (`SignedIn`) routes: what the tenant's StandardUser
    /// and custom-role user get.
    pub signed_in: Option<u16>,
    /// What the other tenant's Admin gets, when not the default (404 with
    /// ids in the path, else the owner's status).
    pub other: Option<u16>,
    /// A JSON pointer and the value the owner's answer has there.
    pub owner_at: Option<(&'static str, Value)>,
    /// A JSON pointer and the value the other tenant's answer has there.
    pub other_at: Option<(&'static str, Value)>,
}

fn x(owner: u16) -> Exp {
    Exp {
        owner,
        body: None,
        query: "",
        signed_in: None,
        other: None,
        owner_at: None,
        other_at: None,
    }
}

impl Exp {
    fn body(mut self, b: Value) -> Exp {
        self.body = Some(b);
        self
    }
    fn query(mut self, q: &'static str) -> Exp {
        self.query = q;
        self
    }
    /// The tenant's other users get `s` (self-scoped routes).
    fn users(mut self, s: u16) -> Exp {
        self.signed_in = Some(s);
        self
    }
    /// Everyone signed in gets the owner's status (their own data).
    fn own(self) -> Exp {
        let s = self.owner;
        self.users(s)
    }
    fn other(mut self, s: u16) -> Exp {
        self.other = Some(s);
        self
    }
    fn owner_at(mut self, ptr: &'static str, v: Value) -> Exp {
        self.owner_at = Some((ptr, v));
        self
    }
    fn other_at(mut self, ptr: &'static str, v: Value) -> Exp {
        self.other_at = Some((ptr, v));
        self
    }
}

/// The fixture a path parameter takes on a route.
pub fn fixture_key(path: &str, param: &str) -> Option<&'static str> {
    Some(match (path, param) {
        ("/api/tenants/{id}/destroy", "id") => "tenant_c",
        ("/api/tenants/{id}", "id") => "tenant_a",
        ("/api/users/{id}/destroy", "id") => "victim",
        ("/api/users/{id}/extensions/{extension_id}/destroy", "extension_id") => "ext_y1",
        ("/api/users/{id}/extensions/{extension_id}", "extension_id") => "ext_x",
        ("/api/users/{id}/call_queues/{queue_id}/agent", "queue_id") => "queue",
        ("/api/users/{id}/status/{instance_id}/destroy_status", "instance_id") => "inst-1",
        (p, "id") if p.starts_with("/api/users/{id}") => "alice",
        ("/api/roles/{name}/destroy", "name") => "Doomed",
        ("/api/roles/{name}", "name") => "Support",
        ("/api/groups/{id}/destroy", "id") => "group_doomed",
        (p, "id") if p.starts_with("/api/groups/{id}") => "group",
        (p, "extension_number") if p.starts_with("/api/groups/{id}/members") => "101",
        ("/api/extensions/{id}/destroy", "id") => "ext_doomed",
        (p, "id") if p.starts_with("/api/extensions/{id}") => "ext_x",
        ("/api/extension_numbers/{extension_number}", "extension_number") => "101",
        ("/api/call_queues/{id}/destroy", "id") => "queue_doomed",
        (p, "id") if p.starts_with("/api/call_queues/{id}") => "queue",
        ("/api/ring_groups/{id}/destroy", "id") => "ring_group_doomed",
        (p, "id") if p.starts_with("/api/ring_groups/{id}") => "ring_group",
        (p, "agent_number") if p.contains("/agents/{agent_number}") => "101",
        ("/api/user/call_queues/{id}/agent", "id") => "queue",
        ("/api/registrations/{instance_id}/destroy", "instance_id") => "inst-2",
        ("/api/user/contacts/{id}/destroy", "id") => "personal_contact_doomed",
        (p, "id") if p.starts_with("/api/user/contacts/{id}") => "personal_contact",
        (p, "id") if p.starts_with("/api/user/business_contacts/{id}") => "business_contact",
        (p, "id") if p.starts_with("/api/user/extension_contacts/{id}") => "alice",
        ("/api/contacts/{id}/destroy", "id") => "business_contact_doomed",
        (p, "id") if p.starts_with("/api/contacts/{id}") => "business_contact",
        ("/api/user/contacts/sync_tokens/{token}/diff", "token") => "token_personal",
        ("/api/user/business_contacts/sync_tokens/{token}/diff", "token") => "token_business",
        ("/api/user/extension_contacts/sync_tokens/{token}/diff", "token") => "token_extension",
        ("/api/user/cdrs/sync_tokens/{token}/diff", "token") => "token_cdrs",
        ("/api/cdrs/{id}" | "/api/user/cdrs/{id}", "id") => "cdr",
        ("/api/external_messages/{id}" | "/api/user/external_messages/{id}", "id") => "message",
        ("/api/call_queues/{id}/waiting/{session_id}/destroy", "session_id") => "wait_doomed",
        (_, "session_id") => "wait",
        ("/api/recordings/{id}/destroy", "id") => "recording_doomed",
        ("/api/user/recordings/{id}/destroy", "id") => "my_recording_doomed",
        ("/api/recordings/{id}" | "/api/user/recordings/{id}", "id") => "recording",
        ("/api/v1/user-extensions/by-user/{user_uuid}", "user_uuid") => "alice_uuid",
        ("/api/v1/user-extensions/by-extension/{ext_uuid}", "ext_uuid") => "ext_y2_uuid",
        ("/api/v1/user-extensions/{uuid}", "uuid") => "link_y2_uuid",
        ("/api/user/meetings/{id}/destroy", "id") => "my_meeting_doomed",
        (p, "id") if p.starts_with("/api/user/meetings/{id}") => "my_meeting",
        ("/api/meetings/{id}/state", "id") => "my_meeting",
        (p, "participant_id") if p.ends_with("/destroy") => "p2",
        (_, "participant_id") => "p1",
        // Settings lists (issue #16): see `settings::MATRIX_LISTS`.
        (p, q) if settings_fixture(p, q).is_some() => return settings_fixture(p, q),
        (p, "client_id") if p.starts_with("/client/") => "tenant_a_num",
        (p, "kind") if p.starts_with("/api/webhooks/{kind}") => "extension_event",
        ("/api/blobs/uploads/{id}/destroy", "id") => "upload_doomed",
        ("/api/user/greetings/{id}/destroy", "id") => "my_greeting_doomed",
        (p, "id") if p.starts_with("/api/user/greetings/{id}") => "my_greeting",
        (p, "greeting_id") if p.ends_with("/destroy") => "greeting_doomed",
        (_, "greeting_id") => "greeting",
        ("/api/blobs/{digest}", "digest") => "digest",
        ("/api/files/{id}/destroy", "id") => "file_doomed",
        ("/api/files/{id}", "id") => "file",
        (p, "id") if p.starts_with("/api/blobs/uploads/{id}") => "upload",
        ("/client/{client_id}/user/extension/{user_id}", "user_id") => "alice_num",
        _ => return None,
    })
}

/// The fixture of a settings list's item parameter: the owner's own items
/// under `/user/<coll>/{id}`, alice's under `/users/{id}/<coll>/{param}`,
/// the tenant's holidays under `/holidays/{id}`.
fn settings_fixture(path: &str, param: &str) -> Option<&'static str> {
    const KEYS: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "phones",
            "phone_id",
            "my_phones",
            "my_phones_doomed",
            "alice_phones",
            "alice_phones_doomed",
        ),
        (
            "speed_dial_8",
            "dial_id",
            "my_speed_dial_8",
            "my_speed_dial_8_doomed",
            "alice_speed_dial_8",
            "alice_speed_dial_8_doomed",
        ),
        (
            "speed_dial_100",
            "dial_id",
            "my_speed_dial_100",
            "my_speed_dial_100_doomed",
            "alice_speed_dial_100",
            "alice_speed_dial_100_doomed",
        ),
        (
            "holidays",
            "holiday_id",
            "my_holidays",
            "my_holidays_doomed",
            "alice_holidays",
            "alice_holidays_doomed",
        ),
    ];
    let doomed = path.ends_with("/destroy");
    if param == "id" && path.starts_with("/api/holidays/{id}") {
        return Some(if doomed {
            "tenant_holiday_doomed"
        } else {
            "tenant_holiday"
        });
    }
    for (coll, item, mine, mine_doomed, alices, alices_doomed) in KEYS {
        if param == "id" && path.starts_with(&format!("/api/user/{coll}/{{id}}")) {
            return Some(if doomed { mine_doomed } else { mine });
        }
        if param == *item && path.starts_with(&format!("/api/users/{{id}}/{coll}/")) {
            return Some(if doomed { alices_doomed } else { alices });
        }
    }
    None
}

/// Path parameters that take a literal rather than a fixture.
const LITERALS: &[&str] = &[
    "101",
    "110",
    "Support",
    "Doomed",
    "inst-1",
    "inst-2",
    "extension_event",
    "p1",
    "p2",
];

/// The value of a path parameter (a fixture, or a literal).
pub fn param_value(w: &World, route: &RouteSpec, param: &str) -> Option<String> {
    let key = match (route.method.as_str(), route.path.as_str(), param) {
        // The client dialect's DELETE removes its own victim.
        ("DELETE", "/client/{client_id}/user/extension/{user_id}", "user_id") => "victim2_num",
        // Adding a member: sam, who is not one yet.
        ("POST", "/api/groups/{id}/members/{extension_number}", "extension_number") => "110",
        _ => fixture_key(&route.path, param)?,
    };
    Some(if LITERALS.contains(&key) {
        key.to_owned()
    } else {
        w.get(key)
    })
}

/// The expectations, keyed `"METHOD path"`.
pub fn expectations() -> BTreeMap<String, Exp> {
    let sign_in = json!({"username": "boss", "password": "Passw0rd-123", "domain": "a.example"});
    let agents = json!({"items": [{"extension_number": "101", "skill_level": 1},
                                  {"extension_number": "100", "skill_level": 1}]});
    let mut new_user = crate::helpers::user_body("newbie", "170");
    new_user["role"] = json!("StandardUser");
    let list: Vec<(&str, Exp)> = vec![
        ("GET /healthz", x(200)),
        ("GET /readyz", x(200)),
        // No metrics_token in this configuration: not served (tests/api/metrics.rs).
        ("GET /metrics", x(404)),
        ("GET /openapi.json", x(200)),
        ("GET /docs", x(200)),
        ("GET /docs/swagger-ui-bundle.js", x(200)),
        ("GET /docs/swagger-ui.css", x(200)),
        ("GET /docs/favicon-32x32.png", x(200)),
        ("POST /api/auth/sign_in", x(200).body(sign_in.clone())),
        ("POST /api/login", x(200).body(sign_in)),
        ("GET /api/login", x(200).own()),
        (
            "POST /api/auth/refresh_token",
            x(401).body(json!({"refresh_token": "not-a-refresh-token"})),
        ),
        ("POST /api/auth/sign_out", x(200).own()),
        ("GET /api/auth/user", x(200).own()),
        ("GET /api/tenants", x(200)),
        (
            "POST /api/tenants",
            x(201).body(
                json!({"name": "Dee", "domain": "d.example", "timezone": "Europe/Paris",
                               "currency": "EUR", "region": "FRA"}),
            ),
        ),
        ("POST /api/tenants/switch", x(200).query("id=$tenant_a")),
        ("GET /api/tenants/{id}", x(200)),
        (
            "POST /api/tenants/{id}",
            x(200).body(json!({"name": "A Corp"})),
        ),
        ("POST /api/tenants/{id}/destroy", x(204)),
        ("GET /api/tenant", x(200)),
        (
            "POST /api/tenant",
            x(200).body(json!({"timezone": "Europe/Berlin"})),
        ),
        ("GET /api/users", x(200)),
        ("POST /api/users", x(201).body(new_user)),
        (
            "POST /api/users/import",
            x(200)
                .query("format=jsonl&dry_run=true")
                .body(crate::helpers::user_body("importee", "171")),
        ),
        ("GET /api/users/export", x(200)),
        ("POST /api/users/profile", x(200)),
        ("GET /api/users/{id}", x(200)),
        (
            "POST /api/users/{id}",
            x(200).body(json!({"display_name": "Alice A"})),
        ),
        (
            "POST /api/users/{id}/password",
            x(200).body(json!({"password": "Passw0rd-456"})),
        ),
        (
            "POST /api/users/{id}/extension_password",
            x(200).body(json!({"password": "ext-pass-2"})),
        ),
        (
            "POST /api/users/{id}/role",
            x(200).body(json!({"role": "StandardUser"})),
        ),
        ("POST /api/users/{id}/profile", x(200)),
        ("POST /api/users/{id}/destroy", x(204)),
        ("GET /api/user", x(200).own()),
        (
            "POST /api/user",
            x(200).own().body(json!({"department": "Sales"})),
        ),
        (
            "POST /api/user/password",
            x(200)
                .own()
                .body(json!({"old_password": "Passw0rd-123", "new_password": "Passw0rd-123"})),
        ),
        (
            "POST /api/user/extension_password",
            x(200)
                .own()
                .body(json!({"old_password": "ext-pass-1", "new_password": "ext-pass-1"})),
        ),
        ("POST /api/user/profile", x(200).own()),
        ("GET /api/roles", x(200)),
        (
            "POST /api/roles",
            x(201).body(json!({"name": "Fresh", "permissions": {"general": {"meeting": true}}})),
        ),
        ("GET /api/roles/{name}", x(200)),
        (
            "POST /api/roles/{name}",
            x(200).body(json!({"description": "first line"})),
        ),
        ("POST /api/roles/{name}/destroy", x(204)),
        ("GET /api/groups", x(200)),
        ("POST /api/groups", x(201).body(json!({"name": "Fresh"}))),
        ("GET /api/groups/{id}", x(200)),
        (
            "POST /api/groups/{id}",
            x(200).body(json!({"name": "Operations"})),
        ),
        ("POST /api/groups/{id}/destroy", x(204)),
        ("GET /api/groups/{id}/members", x(200)),
        ("GET /api/groups/{id}/members/{extension_number}", x(200)),
        ("POST /api/groups/{id}/members/{extension_number}", x(200)),
        (
            "POST /api/groups/{id}/members/{extension_number}/destroy",
            x(204),
        ),
        ("GET /api/info", x(200).query("domain=a.example")),
        ("GET /api/extensions", x(200)),
        (
            "POST /api/extensions",
            x(201).body(json!({"number": "310"})),
        ),
        ("GET /api/extensions/{id}", x(200)),
        (
            "POST /api/extensions/{id}",
            x(200).body(json!({"name": "Desk"})),
        ),
        ("POST /api/extensions/{id}/destroy", x(204)),
        ("GET /api/users/{id}/extensions", x(200)),
        ("POST /api/users/{id}/extensions/{extension_id}", x(200)),
        (
            "POST /api/users/{id}/extensions/{extension_id}/destroy",
            x(204),
        ),
        ("GET /api/extension_numbers/{extension_number}", x(200)),
        ("GET /api/call_queues", x(200)),
        (
            "POST /api/call_queues",
            x(201).body(json!({"name": "Fresh", "extension_number": "510",
                               "polling_strategy": "RING_SIMULTANEOUSLY"})),
        ),
        ("GET /api/call_queues/{id}", x(200)),
        (
            "POST /api/call_queues/{id}",
            x(200).body(json!({"name": "Support queue"})),
        ),
        ("POST /api/call_queues/{id}/destroy", x(204)),
        ("GET /api/call_queues/{id}/status", x(200)),
        ("GET /api/call_queues/{id}/agents", x(200)),
        (
            "POST /api/call_queues/{id}/agents",
            x(200).body(agents.clone()),
        ),
        (
            "GET /api/call_queues/{id}/agents/{agent_number}",
            x(200).users(403),
        ),
        (
            "POST /api/call_queues/{id}/agents/{agent_number}",
            x(200).users(403).body(json!({"status": "LOGGED_IN"})),
        ),
        ("GET /api/ring_groups", x(200)),
        (
            "POST /api/ring_groups",
            x(201).body(json!({"name": "Fresh", "extension_number": "610"})),
        ),
        ("GET /api/ring_groups/{id}", x(200)),
        (
            "POST /api/ring_groups/{id}",
            x(200).body(json!({"name": "Reception"})),
        ),
        ("POST /api/ring_groups/{id}/destroy", x(204)),
        ("GET /api/ring_groups/{id}/agents", x(200)),
        ("POST /api/ring_groups/{id}/agents", x(200).body(agents)),
        (
            "GET /api/ring_groups/{id}/agents/{agent_number}",
            x(200).users(403),
        ),
        ("GET /api/user/call_queues", x(200).own()),
        ("GET /api/user/call_queues/{id}/agent", x(200).users(404)),
        (
            "POST /api/user/call_queues/{id}/agent",
            x(200).users(404).body(json!({"status": "LOGGED_IN"})),
        ),
        ("GET /api/user/ring_groups", x(200).own()),
        ("GET /api/users/{id}/call_queues", x(200).users(403)),
        (
            "GET /api/users/{id}/call_queues/{queue_id}/agent",
            x(200).users(403),
        ),
        (
            "POST /api/users/{id}/call_queues/{queue_id}/agent",
            x(200).users(403).body(json!({"status": "LOGGED_IN"})),
        ),
        (
            "GET /api/users/{id}/agent_status_history",
            x(200).users(403),
        ),
        (
            "POST /api/user/presence",
            x(200).own().body(json!({"presence_note": "in a meeting"})),
        ),
        ("GET /api/user/status", x(200).own()),
        ("GET /api/users/{id}/status", x(200).users(403)),
        (
            "POST /api/users/{id}/status/{instance_id}/destroy_status",
            x(204),
        ),
        (
            "POST /api/users/{id}/call_state",
            x(200).body(json!({"state": "IDLE"})),
        ),
        (
            "POST /api/registrations",
            x(200)
                .body(json!({"user": "alice", "instance_id": "inst-3", "expires": 60}))
                .other(404),
        ),
        ("POST /api/registrations/{instance_id}/destroy", x(204)),
        ("GET /api/user/contacts", x(200).own()),
        (
            "POST /api/user/contacts",
            x(201).own().body(json!({"name": "Carol"})),
        ),
        ("GET /api/user/contacts/{id}", x(200).users(404)),
        (
            "POST /api/user/contacts/{id}",
            x(200).users(404).body(json!({"name": "Patricia"})),
        ),
        ("POST /api/user/contacts/{id}/favorite", x(200).users(404)),
        ("POST /api/user/contacts/{id}/unfavorite", x(200).users(404)),
        ("POST /api/user/contacts/{id}/destroy", x(204).users(404)),
        ("GET /api/user/business_contacts", x(200).own()),
        (
            "POST /api/user/business_contacts/{id}/favorite",
            x(200).own(),
        ),
        (
            "POST /api/user/business_contacts/{id}/unfavorite",
            x(200).own(),
        ),
        ("GET /api/user/extension_contacts", x(200).own()),
        (
            "POST /api/user/extension_contacts/{id}/favorite",
            x(200).own(),
        ),
        (
            "POST /api/user/extension_contacts/{id}/unfavorite",
            x(200).own(),
        ),
        ("GET /api/contacts", x(200)),
        ("POST /api/contacts", x(201).body(json!({"name": "Vendor"}))),
        ("GET /api/contacts/export", x(200)),
        ("GET /api/contacts/{id}", x(200)),
        (
            "POST /api/contacts/{id}",
            x(200).body(json!({"name": "Acme Helpdesk"})),
        ),
        ("POST /api/contacts/{id}/destroy", x(204)),
        ("POST /api/user/contacts/sync_tokens", x(201).own()),
        (
            "POST /api/user/contacts/sync_tokens/{token}/diff",
            x(200).users(403).other(403),
        ),
        ("POST /api/user/business_contacts/sync_tokens", x(201).own()),
        (
            "POST /api/user/business_contacts/sync_tokens/{token}/diff",
            x(200).users(403).other(403),
        ),
        (
            "POST /api/user/extension_contacts/sync_tokens",
            x(201).own(),
        ),
        (
            "POST /api/user/extension_contacts/sync_tokens/{token}/diff",
            x(200).users(403).other(403),
        ),
        ("GET /api/user/cdrs", x(200).own()),
        ("GET /api/user/cdrs/{id}", x(200).users(404)),
        ("GET /api/cdrs", x(200)),
        ("GET /api/cdrs/{id}", x(200)),
        (
            "POST /api/cdrs",
            x(201).body(json!({"call_id": "matrix-call", "caller": "100",
                               "started_at": "2024-05-01T11:00:00Z"})),
        ),
        ("GET /api/user/external_messages", x(200).own()),
        ("GET /api/user/external_messages/{id}", x(200).users(404)),
        ("GET /api/external_messages", x(200)),
        ("GET /api/external_messages/{id}", x(200)),
        (
            "POST /api/external_messages",
            x(201).body(json!({"message_id": "matrix-sms", "sender": "100",
                               "created_at": "2024-05-01T11:00:00Z"})),
        ),
        // Waiting lists: the queue's agents (boss is one) and who reads
        // queues; sam and the flagless role are neither.
        ("GET /api/call_queues/{id}/waiting", x(200).users(403)),
        (
            "POST /api/call_queues/{id}/waiting/{session_id}/pickup",
            x(200).users(403),
        ),
        (
            "POST /api/call_queues/{id}/waiting",
            x(201).body(json!({"session_id": "matrix-wait", "extension_number": "4930555"})),
        ),
        (
            "POST /api/call_queues/{id}/waiting/{session_id}/destroy",
            x(204),
        ),
        ("GET /api/user/recordings", x(200).own()),
        ("GET /api/user/recordings/{id}", x(200).users(404)),
        ("POST /api/user/recordings/{id}/destroy", x(204).users(404)),
        ("GET /api/recordings", x(200)),
        ("GET /api/recordings/{id}", x(200)),
        ("POST /api/recordings/{id}/destroy", x(204)),
        // The other tenant's PBX cannot claim tenant A's file (400 naming file_id).
        (
            "POST /api/recordings",
            x(201)
                .body(json!({"recording_id": "matrix-rec", "file_id": "$rec_file",
                             "started_at": "2024-05-01T11:00:00Z"}))
                .other(400),
        ),
        ("POST /api/user/cdrs/sync_tokens", x(201).own()),
        (
            "POST /api/user/cdrs/sync_tokens/{token}/diff",
            x(200).users(403).other(403),
        ),
        ("GET /api/user/events", x(200).own()),
        ("GET /api/audit_logs", x(200)),
        ("GET /api/users/{id}/history", x(200)),
        ("GET /api/extensions/{id}/history", x(200)),
        ("GET /api/groups/{id}/history", x(200)),
        ("GET /api/call_queues/{id}/history", x(200)),
        ("GET /api/ring_groups/{id}/history", x(200)),
        ("GET /api/contacts/{id}/history", x(200)),
        (
            "PATCH /api/users/{id}",
            x(200).users(403).query("action=status&status=away"),
        ),
        ("GET /api/users/agents", x(200)),
        ("GET /api/webhooks", x(200)),
        // A kind is not an object of the tenant: another tenant's Admin
        // reads its own subscription.
        ("GET /api/webhooks/{kind}/deliveries", x(200).other(200)),
        // No webhook is configured: refused as a conflict once authorized.
        ("POST /api/webhooks/{kind}/resume", x(409).other(409)),
        // Uploads are their uploader's: other users of the tenant get 404.
        // The matrix sends no PortSIP-Upload-Token, which an append needs
        // before anything else (tests/api/files.rs covers the rest).
        ("POST /api/blobs/uploads", x(202).own()),
        (
            "POST /api/blobs/uploads/{id}/append",
            x(400).users(400).other(400),
        ),
        ("GET /api/blobs/uploads/{id}/status", x(204).users(404)),
        ("POST /api/blobs/uploads/{id}/destroy", x(204).users(404)),
        (
            "POST /api/blobs/uploads/{id}/complete",
            x(400).users(400).other(400),
        ),
        // Files are their uploader's, or everyone's who manages users or
        // queues: the StandardUser and the flagless custom role see none
        // of the Admin's.
        ("GET /api/blobs/{digest}", x(200).users(404)),
        ("GET /api/files", x(200).own()),
        // Greetings play a file the actor may use: the Admin's file is not
        // the StandardUser's, nor another tenant's (400 naming file_id).
        ("GET /api/user/greetings", x(200).own()),
        (
            "POST /api/user/greetings",
            x(201)
                .body(json!({"file_id": "$file"}))
                .users(400)
                .other(400),
        ),
        ("POST /api/user/greetings/{id}/enable", x(200).users(404)),
        ("POST /api/user/greetings/{id}/disable", x(200).users(404)),
        ("POST /api/user/greetings/{id}/destroy", x(204).users(404)),
        ("GET /api/users/{id}/greetings", x(200)),
        (
            "POST /api/users/{id}/greetings",
            x(201).body(json!({"file_id": "$file"})),
        ),
        (
            "POST /api/users/{id}/greetings/{greeting_id}/enable",
            x(200),
        ),
        (
            "POST /api/users/{id}/greetings/{greeting_id}/disable",
            x(200),
        ),
        (
            "POST /api/users/{id}/greetings/{greeting_id}/destroy",
            x(204),
        ),
        ("GET /api/files/{id}", x(200).users(404)),
        ("POST /api/files/{id}/destroy", x(204).users(404)),
        ("GET /api/v1/user-extensions", x(200)),
        (
            "POST /api/v1/user-extensions",
            x(201)
                .body(json!({"user_uuid": "$alice_uuid", "extension_uuid": "$ext_w_uuid"}))
                .other(404),
        ),
        ("GET /api/v1/user-extensions/by-user/{user_uuid}", x(200)),
        (
            "GET /api/v1/user-extensions/by-extension/{ext_uuid}",
            x(200),
        ),
        ("DELETE /api/v1/user-extensions/{uuid}", x(200)),
        ("GET /client/{client_id}/user/extension/", x(200)),
        (
            "POST /client/{client_id}/user/extension/",
            x(201).body(json!({"login": "cliff", "name": "Cliff Client",
                               "email": "cliff@example.com", "password": "Passw0rd-123",
                               "extension_id": "$ext_v1_num"})),
        ),
        ("GET /client/{client_id}/user/extension", x(200)),
        (
            "POST /client/{client_id}/user/extension",
            x(201).body(json!({"login": "clara", "name": "Clara Client",
                               "email": "clara@example.com", "password": "Passw0rd-123",
                               "extension_id": "$ext_v2_num"})),
        ),
        ("GET /client/{client_id}/user/extension/{user_id}", x(200)),
        (
            "PUT /client/{client_id}/user/extension/{user_id}",
            x(200).body(json!({"name": "Alice Client"})),
        ),
        (
            "DELETE /client/{client_id}/user/extension/{user_id}",
            x(204),
        ),
        (
            "POST /Etelecom/AssignUserToExtension",
            x(200)
                .body(json!({"extension_id": "$ext_z_num", "user_id": "$alice_num"}))
                .owner_at("/updated", json!(1))
                .other_at("/updated", json!(0)),
        ),
        (
            "POST /Etelecom/RemoveUserOfExtension",
            x(200)
                .body(json!({"extension_id": "$ext_z_num", "user_id": "$alice_num"}))
                .owner_at("/updated", json!(1))
                .other_at("/updated", json!(0)),
        ),
        (
            "POST /Etelecom/ChangeHotlineForExtension",
            x(200)
                .body(json!({"extension_id": "$alice_primary_num", "hotline_id": "+4930111"}))
                .owner_at("/updated", json!(1))
                .other_at("/updated", json!(0)),
        ),
        (
            "POST /Etelecom/CreateExtension",
            x(200).body(json!({"extension_number": "320"})),
        ),
        (
            "POST /Etelecom/GetExtensionInfo",
            x(200)
                .body(json!({"extension_id": "$ext_x_num"}))
                .other(404),
        ),
        ("POST /Etelecom/GetExtensionList", x(200)),
        (
            "POST /Etelecom/CreateAccountUser",
            x(200).body(json!({"username": "etty", "full_name": "Etty Tel",
                               "email": "etty@example.com", "password": "Passw0rd-123",
                               "extension_number": "321"})),
        ),
        ("POST /Etelecom/GetListUser", x(200)),
        (
            "POST /Etelecom/GetCallHistory",
            x(200).body(json!({"date_from": "2026-01-01T00:00:00Z",
                               "date_to": "2026-01-02T00:00:00Z"})),
        ),
    ];
    let mut all: BTreeMap<String, Exp> = list.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    all.extend(settings_expectations());
    all.extend(meeting_expectations());
    all
}

/// Meetings (issue #17): the owner's own (another user of the tenant gets
/// 404 for the owner's meeting), and the media server's report (a
/// capability).
fn meeting_expectations() -> Vec<(String, Exp)> {
    let base = "/api/user/meetings";
    let room = format!("{base}/{{id}}");
    let who = format!("{room}/participants/{{participant_id}}");
    let mut out = vec![
        (format!("GET {base}"), x(200).own()),
        (
            format!("POST {base}"),
            x(201).own().body(crate::meetings::body("New")),
        ),
        (format!("GET {room}"), x(200).users(404)),
        (
            format!("POST {room}"),
            x(200).users(404).body(json!({"subject": "Renamed"})),
        ),
        (format!("POST {room}/destroy"), x(204).users(404)),
        (format!("GET {room}/status"), x(200).users(404)),
        (format!("GET {room}/participants"), x(200).users(404)),
        (format!("GET {who}"), x(200).users(404)),
        (
            format!("POST {room}/participants/layout"),
            x(200).users(404).body(json!({"items": ["p1"]})),
        ),
        (
            format!("POST {room}/participants/invite"),
            x(200).users(404).body(json!({"number": "+4930123"})),
        ),
        (
            format!("POST {who}/position"),
            x(200).users(404).body(json!({"position": 3})),
        ),
        (format!("POST {who}/destroy"), x(204).users(404)),
        (
            "POST /api/meetings/{id}/state".to_owned(),
            x(200).body(crate::meetings::matrix_state()),
        ),
    ];
    for action in [
        "mute",
        "unmute",
        "lock",
        "unlock",
        "start",
        "stop",
        "start_recording",
        "stop_recording",
    ] {
        out.push((format!("POST {room}/{action}"), x(200).users(404)));
    }
    for action in ["mute", "unmute", "chairman"] {
        out.push((format!("POST {who}/{action}"), x(200).users(404)));
    }
    out
}

/// The settings lists (issue #16): each user's own list (everyone signed in
/// has one; another user's item is 404), alice's through `/users/{id}/…`
/// (the user capabilities), and the tenant's holidays.
fn settings_expectations() -> Vec<(String, Exp)> {
    let mut out = Vec::new();
    for (coll, _, _) in crate::settings::MATRIX_LISTS {
        let create = crate::settings::sample(coll, 4);
        let update = match coll {
            "phones" => json!({"ringtone": "Ring2"}),
            "holidays" => json!({"name": "Renamed"}),
            _ => json!({"phone_number": "2002"}),
        };
        let item = match coll {
            "phones" => "phone_id",
            "holidays" => "holiday_id",
            _ => "dial_id",
        };
        let own = format!("/api/user/{coll}");
        let alice = format!("/api/users/{{id}}/{coll}");
        out.extend([
            (format!("GET {own}"), x(200).own()),
            (format!("POST {own}"), x(201).own().body(create.clone())),
            (format!("GET {own}/{{id}}"), x(200).users(404)),
            (
                format!("POST {own}/{{id}}"),
                x(200).users(404).body(update.clone()),
            ),
            (format!("POST {own}/{{id}}/destroy"), x(204).users(404)),
            (format!("GET {alice}"), x(200)),
            (format!("POST {alice}"), x(201).body(create)),
            (format!("GET {alice}/{{{item}}}"), x(200)),
            (format!("POST {alice}/{{{item}}}"), x(200).body(update)),
            (format!("POST {alice}/{{{item}}}/destroy"), x(204)),
        ]);
    }
    let holiday = crate::settings::holiday_body("Matrix day");
    out.extend([
        ("GET /api/user/outbound_caller_ids".to_owned(), x(200).own()),
        ("GET /api/user/global_holidays".to_owned(), x(200).own()),
        (
            "POST /api/user/global_holidays".to_owned(),
            x(201).own().body(json!({"items": []})),
        ),
        ("GET /api/users/{id}/global_holidays".to_owned(), x(200)),
        (
            "POST /api/users/{id}/global_holidays".to_owned(),
            x(201).body(json!({"items": ["$tenant_holiday"]})),
        ),
        ("GET /api/holidays".to_owned(), x(200)),
        ("POST /api/holidays".to_owned(), x(201).body(holiday)),
        ("GET /api/holidays/{id}".to_owned(), x(200)),
        (
            "POST /api/holidays/{id}".to_owned(),
            x(200).body(json!({"name": "Renamed"})),
        ),
        ("POST /api/holidays/{id}/destroy".to_owned(), x(204)),
        ("GET /api/user/balance".to_owned(), x(200).own()),
        ("GET /api/users/{id}/balance".to_owned(), x(200)),
        (
            "POST /api/users/{id}/balance".to_owned(),
            x(200).body(json!({"balance": 12.5, "reason": "matrix"})),
        ),
        ("GET /api/users/{id}/balance/history".to_owned(), x(200)),
        (
            "POST /api/users/{id}/ms365_binding".to_owned(),
            x(200).body(json!({"id": "matrix@contoso.com"})),
        ),
        (
            "POST /api/users/{id}/ms365_binding/destroy".to_owned(),
            x(204),
        ),
    ]);
    out
}

fn key(route: &RouteSpec) -> String {
    format!("{} {}", route.method, route.path)
}

/// Destructive routes run after every other, so the objects the others
/// read still exist.
fn destructive(route: &RouteSpec) -> bool {
    route.method == Method::DELETE
        || route.path.ends_with("/destroy")
        || route.path.ends_with("/destroy_status")
}

/// The status a caller should get.
fn expected(route: &RouteSpec, exp: &Exp, who: Who) -> Result<u16, String> {
    let with_ids = !route.params().is_empty();
    let other = exp.other.unwrap_or(if with_ids { 404 } else { exp.owner });
    Ok(match (route.access, who) {
        (Access::Public, _) => exp.owner,
        (_, Who::Nobody) => 401,
        (_, Who::Owner) => exp.owner,
        (Access::SystemAdmin, _) => 403,
        (Access::Needs(_) | Access::NeedsAny(_), Who::Standard | Who::Custom) => 403,
        (Access::SignedIn, Who::Standard | Who::Custom) => exp.signed_in.ok_or_else(|| {
            format!(
                "{}: a self-scoped route needs the status other users of the tenant get",
                key(route)
            )
        })?,
        (_, Who::Other) => other,
    })
}

/// The concrete path of a route, or the parameters without a fixture.
pub fn concrete_path(w: &World, route: &RouteSpec) -> Result<String, Vec<String>> {
    let mut missing = Vec::new();
    let mut path = route.path.clone();
    for p in route.params() {
        match param_value(w, route, p) {
            Some(v) => path = path.replace(&format!("{{{p}}}"), &v),
            None => missing.push(format!("{}: no fixture for {{{p}}}", key(route))),
        }
    }
    if missing.is_empty() {
        Ok(path)
    } else {
        Err(missing)
    }
}

/// One answer: status, and the body unless it is a stream.
pub struct Answer {
    pub status: u16,
    pub body: Option<String>,
}

/// Sends one request.
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    method: &Method,
    path_and_query: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut req = client.request(method.clone(), format!("{base}{path_and_query}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let stream = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let body = if stream {
        None
    } else {
        Some(resp.text().await.unwrap_or_default())
    };
    Answer { status, body }
}

#[tokio::test]
async fn every_route_answers_each_caller_as_its_declared_access_says() {
    let app = spawn_app().await;
    let table = route_table();
    let exps = expectations();
    let mut problems: Vec<String> = Vec::new();
    for k in exps.keys() {
        if !table.iter().any(|r| key(r) == *k) {
            problems.push(format!(
                "{k}: an expectation for a route that does not exist"
            ));
        }
    }
    let mut w = World::build(&app, &table).await;
    let mut ordered: Vec<&RouteSpec> = table.iter().collect();
    ordered.sort_by_key(|r| destructive(r));
    let client = reqwest::Client::new();
    for route in ordered {
        let Some(exp) = exps.get(&key(route)) else {
            problems.push(format!("{}: no expectation", key(route)));
            continue;
        };
        let path = match concrete_path(&w, route) {
            Ok(p) => p,
            Err(missing) => {
                problems.extend(missing);
                continue;
            }
        };
        let query = w.fill_query(exp.query);
        let target = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        let body = match (&exp.body, route.method == Method::GET) {
            (Some(b), _) => Some(w.fill(b)),
            (None, false) => Some(json!({})),
            (None, true) => None,
        };
        for who in Who::ALL {
            let want = match expected(route, exp, who) {
                Ok(s) => s,
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            let token = w.token(who, route);
            let got = send(
                &client,
                &app.base,
                &route.method,
                &target,
                token.as_deref(),
                body.as_ref(),
            )
            .await;
            let text = got.body.clone().unwrap_or_default();
            if got.status != want {
                problems.push(format!(
                    "{} as {who:?}: {} (expected {want}) {text:.300}",
                    key(route),
                    got.status
                ));
                continue;
            }
            let at = match who {
                Who::Owner => exp.owner_at.as_ref(),
                Who::Other => exp.other_at.as_ref(),
                _ => None,
            };
            if let Some((ptr, v)) = at {
                let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if parsed.pointer(ptr) != Some(v) {
                    problems.push(format!(
                        "{} as {who:?}: {ptr} is not {v}: {text:.300}",
                        key(route)
                    ));
                }
            }
            // Public routes answer anyone about what they are asked.
            if who == Who::Other && route.access != Access::Public {
                if let Some(leak) = w.secrets.iter().find(|s| text.contains(s.as_str())) {
                    problems.push(format!(
                        "{} as {who:?}: the answer shows tenant A's {leak:?}: {text:.300}",
                        key(route)
                    ));
                }
            }
        }
        if route.effect != switchboard::http::Effect::Read {
            w.revive(&app).await;
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn a_route_without_a_fixture_or_an_entry_is_reported() {
    // The checks the matrix relies on, on a route nobody declared.
    let route = RouteSpec {
        method: Method::GET,
        path: "/api/widgets/{widget_id}".into(),
        dialect: switchboard::http::Dialect::PortSip,
        access: Access::SignedIn,
        effect: switchboard::http::Effect::Read,
    };
    assert_eq!(fixture_key(&route.path, "widget_id"), None);
    assert!(!expectations().contains_key(&key(&route)));
    let exp = x(200);
    assert!(expected(&route, &exp, Who::Standard).is_err());
}
