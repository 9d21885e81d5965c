//! A populated tenant and the callers the authorization matrix and the
//! fuzz run use: one of every kind of object, ids of them for every path
//! parameter, and tokens for each kind of caller.
//!
//! Tenant A (`a.example`) holds the objects; its Admin `boss` is the
//! owner. `sam` is a StandardUser, `plain` holds a custom role with no
//! flags, and for each capability a route requires there is a user whose
//! custom role holds every tenant flag except those granting it. Tenant
//! B's Admin is the "other tenant" caller, and the system administrator
//! owns the tenant routes.

use crate::helpers::{user_body, TestApp, ADMIN_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use switchboard::auth::roles::{self, Capability};
use switchboard::http::ids::uuid::{self, Kind};
use switchboard::http::{Access, RouteSpec};
use switchboard_events::Id;

/// The password of every user the world creates.
pub const PASSWORD: &str = "Passw0rd-123";

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    /// No token.
    Nobody,
    /// A StandardUser of tenant A.
    Standard,
    /// A custom role of tenant A lacking what the route needs.
    Custom,
    /// The Admin of tenant B, with tenant A's ids.
    Other,
    /// Who the route is for: A's Admin, or the system administrator for
    /// tenant routes.
    Owner,
}

impl Who {
    /// Every caller, in the order the matrix calls them (owner last: its
    /// writes succeed).
    pub const ALL: [Who; 5] = [
        Who::Nobody,
        Who::Standard,
        Who::Custom,
        Who::Other,
        Who::Owner,
    ];
}

/// Signs an account in; its new access token, if it could.
async fn sign_in(app: &TestApp, acc: &Account) -> Option<String> {
    let resp = app
        .sign_in(&acc.name, &acc.password, acc.domain.as_deref())
        .await;
    if resp.status() != StatusCode::OK {
        return None;
    }
    let v: Value = resp.json().await.ok()?;
    v["access_token"].as_str().map(str::to_owned)
}

/// A signed-in account and its current access token.
#[derive(Debug, Clone)]
struct Account {
    name: String,
    domain: Option<String>,
    password: String,
    token: String,
}

/// The world.
pub struct World {
    /// Fixture name → value (ids in the form the path or body needs).
    pub fixtures: BTreeMap<String, String>,
    /// Strings only tenant A's answers may contain: its objects' ids in
    /// every rendering, and its names.
    pub secrets: Vec<String>,
    accounts: BTreeMap<String, Account>,
}

fn portsip_id(raw: &str) -> Id {
    switchboard::http::ids::portsip::parse(raw).expect("a PortSIP id")
}

async fn ok_json(resp: reqwest::Response, what: &str) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn created_id(app: &TestApp, token: &str, path: &str, body: Value) -> String {
    let v = ok_json(app.post(path, Some(token), &body).await, path).await;
    v["id"].as_str().expect("id").to_owned()
}

/// The custom role name for a caller lacking `caps`.
fn lacking_role(caps: &[Capability]) -> String {
    let names: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
    format!("Lacks{}", names.join("Or"))
}

/// Every tenant flag except those that would grant one of `caps`.
fn flags_lacking(caps: &[Capability]) -> Value {
    let mut sections: Map<String, Value> = Map::new();
    for flag in roles::all_flags().filter(|f| !roles::is_system_flag(f)) {
        let grants = caps
            .iter()
            .any(|c| roles::allows("custom", Some(std::slice::from_ref(&flag)), *c));
        if grants {
            continue;
        }
        let (section, name) = flag.split_once('.').expect("section.flag");
        sections
            .entry(section.to_owned())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object")
            .insert(name.to_owned(), json!(true));
    }
    Value::Object(sections)
}

/// The capabilities a route's custom caller must lack.
pub fn needed(access: Access) -> Vec<Capability> {
    match access {
        Access::Needs(c) => vec![c],
        Access::NeedsAny(cs) => cs.to_vec(),
        _ => Vec::new(),
    }
}

impl World {
    /// Builds the world on a fresh app.
    pub async fn build(app: &TestApp, table: &[RouteSpec]) -> World {
        let mut w = World {
            fixtures: BTreeMap::new(),
            secrets: vec!["a.example".into(), "alice".into()],
            accounts: BTreeMap::new(),
        };
        let a = app.tenant("a.example").await;
        let b = app.tenant("b.example").await;
        let (_, c_id) = app.switched_tenant("Cee", "c.example").await;
        let boss = a.admin.clone();
        w.account("boss", Some("a.example"), &boss);
        w.account("bossb", Some("b.example"), &b.admin);
        let sys = app.admin_token().await;
        w.account("admin", None, &sys);
        w.fix("tenant_a", &a.id, true);
        w.fix("tenant_b", &b.id, false);
        w.fix("tenant_c", &c_id, false);
        w.fix("tenant_a_num", &portsip_id(&a.id).0.to_string(), true);

        // Users.
        let user = |name: &str, number: &str, role: &str| {
            let mut body = user_body(name, number);
            body["role"] = json!(role);
            body
        };
        let alice = app
            .create_user(&boss, &user("alice", "101", "StandardUser"))
            .await;
        w.id_fixtures("alice", &alice, Kind::User);
        let victim = app
            .create_user(&boss, &user("victim", "102", "StandardUser"))
            .await;
        w.id_fixtures("victim", &victim, Kind::User);
        let victim2 = app
            .create_user(&boss, &user("victim2", "103", "StandardUser"))
            .await;
        w.id_fixtures("victim2", &victim2, Kind::User);
        app.create_user(&boss, &user("sam", "110", "StandardUser"))
            .await;
        w.sign_in(app, "sam", "a.example").await;
        ok_json(
            app.post(
                "/api/roles",
                Some(&boss),
                &json!({"name": "Plain", "permissions": {}}),
            )
            .await,
            "role Plain",
        )
        .await;
        app.create_user(&boss, &user("plain", "111", "Plain")).await;
        w.sign_in(app, "plain", "a.example").await;
        let mut lacking: BTreeSet<Vec<Capability>> = BTreeSet::new();
        for r in table {
            let caps = needed(r.access);
            if !caps.is_empty() {
                lacking.insert(caps);
            }
        }
        for (i, caps) in lacking.iter().enumerate() {
            let role = lacking_role(caps);
            ok_json(
                app.post(
                    "/api/roles",
                    Some(&boss),
                    &json!({"name": role, "permissions": flags_lacking(caps)}),
                )
                .await,
                &role,
            )
            .await;
            let name = role.to_lowercase();
            let number = format!("{}", 120 + i);
            app.create_user(&boss, &user(&name, &number, &role)).await;
            w.sign_in(app, &name, "a.example").await;
        }

        // Roles.
        for (name, flags) in [
            ("Support", json!({"company": {"view_only": true}})),
            ("Doomed", json!({})),
        ] {
            ok_json(
                app.post(
                    "/api/roles",
                    Some(&boss),
                    &json!({"name": name, "permissions": flags}),
                )
                .await,
                name,
            )
            .await;
        }

        // Extensions: x (free), doomed, y1/y2 (linked to alice), z (for
        // eTelecom), w (for the v1 link API), v1/v2 (for client users).
        for (key, number) in [
            ("ext_x", "300"),
            ("ext_doomed", "399"),
            ("ext_y1", "301"),
            ("ext_y2", "302"),
            ("ext_z", "303"),
            ("ext_w", "304"),
            ("ext_v1", "305"),
            ("ext_v2", "306"),
        ] {
            let id = created_id(app, &boss, "/api/extensions", json!({ "number": number })).await;
            w.id_fixtures(key, &id, Kind::Extension);
        }
        for ext in ["ext_y1", "ext_y2"] {
            let path = format!("/api/users/{alice}/extensions/{}", w.get(ext));
            ok_json(app.post(&path, Some(&boss), &json!({})).await, &path).await;
        }
        let links = ok_json(
            app.get(
                &format!(
                    "/api/v1/user-extensions/by-extension/{}",
                    w.get("ext_y2_uuid")
                ),
                Some(&boss),
            )
            .await,
            "link of y2",
        )
        .await;
        let link = links["data"][0]["uuid"].as_str().expect("link").to_owned();
        w.fix("link_y2_uuid", &link, true);
        let alice_primary = ok_json(
            app.post(
                "/Etelecom/GetExtensionList",
                Some(&boss),
                &json!({"user_id": w.get("alice_num")}),
            )
            .await,
            "alice's extensions",
        )
        .await;
        let primary = alice_primary["extensions"]
            .as_array()
            .and_then(|xs| xs.iter().find(|x| x["extension_number"] == "101"))
            .and_then(|x| x["id"].as_str())
            .expect("alice's primary extension")
            .to_owned();
        w.fix("alice_primary_num", &primary, true);

        // Groups, queues, ring groups.
        for (key, name) in [("group", "Ops"), ("group_doomed", "Gone")] {
            let id = created_id(app, &boss, "/api/groups", json!({ "name": name })).await;
            w.fix(key, &id, true);
        }
        let path = format!("/api/groups/{}/members/101", w.get("group"));
        ok_json(app.post(&path, Some(&boss), &json!({})).await, &path).await;
        for (kind, key, name, number) in [
            ("call_queues", "queue", "Support line", "500"),
            ("call_queues", "queue_doomed", "Gone line", "599"),
            ("ring_groups", "ring_group", "Front desk", "600"),
            ("ring_groups", "ring_group_doomed", "Gone desk", "699"),
        ] {
            let mut body = json!({"name": name, "extension_number": number});
            if kind == "call_queues" {
                body["polling_strategy"] = json!("RING_SIMULTANEOUSLY");
            }
            let id = created_id(app, &boss, &format!("/api/{kind}"), body).await;
            w.fix(key, &id, true);
            let path = format!("/api/{kind}/{id}/agents");
            let agents = json!({"items": [{"extension_number": "101", "skill_level": 1},
                                          {"extension_number": "100", "skill_level": 1}]});
            ok_json(app.post(&path, Some(&boss), &agents).await, &path).await;
        }
        let queue_uuid = uuid::render(Kind::Queue, portsip_id(&w.get("queue")));
        w.fix("queue_uuid", &queue_uuid, true);

        // Contacts: business ones, and the owner's personal ones.
        for (key, path, name) in [
            ("business_contact", "/api/contacts", "Acme Support"),
            ("business_contact_doomed", "/api/contacts", "Gone Ltd"),
            ("personal_contact", "/api/user/contacts", "Pat"),
            ("personal_contact_doomed", "/api/user/contacts", "Gone Pat"),
        ] {
            let id = created_id(app, &boss, path, json!({ "name": name })).await;
            w.fix(key, &id, true);
        }

        // Settings lists (issue #16): the owner's own items and alice's,
        // one to keep and one to destroy in each list; the tenant's holidays.
        let alice = w.get("alice");
        for (coll, keep, doomed) in crate::settings::MATRIX_LISTS {
            for (owner, base) in [
                ("my", format!("/api/user/{coll}")),
                ("alice", format!("/api/users/{alice}/{coll}")),
            ] {
                for (suffix, n) in [("", keep), ("_doomed", doomed)] {
                    let body = crate::settings::sample(coll, n);
                    let id = created_id(app, &boss, &base, body).await;
                    w.fix(&format!("{owner}_{coll}{suffix}"), &id, true);
                }
            }
        }
        for (key, name) in [
            ("tenant_holiday", "Company day"),
            ("tenant_holiday_doomed", "Gone day"),
        ] {
            let body = crate::settings::holiday_body(name);
            let id = created_id(app, &boss, "/api/holidays", body).await;
            w.fix(key, &id, true);
        }

        // Alice's balance and Microsoft 365 binding (the integration on).
        let path = format!("/api/users/{alice}/balance");
        ok_json(
            app.post(&path, Some(&boss), &json!({"balance": 5})).await,
            &path,
        )
        .await;
        let on = json!({"enable_ms365_integration": true});
        ok_json(app.post("/api/tenant", Some(&boss), &on).await, "ms365 on").await;
        let path = format!("/api/users/{alice}/ms365_binding");
        let account = json!({"id": "matrix@contoso.com"});
        ok_json(app.post(&path, Some(&boss), &account).await, &path).await;

        // Registrations of alice's devices.
        for instance in ["inst-1", "inst-2"] {
            ok_json(
                app.post(
                    "/api/registrations",
                    Some(&boss),
                    &json!({"user": "alice", "instance_id": instance, "expires": 3600}),
                )
                .await,
                instance,
            )
            .await;
        }

        // Call history the owner is a party of (boss is 100, alice 101).
        let cdr = json!({"call_id": "world-call", "caller": "100", "callee": "101",
                         "started_at": "2024-05-01T10:00:00Z"});
        // Not secrets for the leak check: a record's id is its log offset,
        // whose short base64 (`MjEy`) turns up inside other random ids. The
        // call history tests check another tenant sees none of them.
        let id = created_id(app, &boss, "/api/cdrs", cdr).await;
        w.fix("cdr", &id, false);
        let message = json!({"message_id": "world-sms", "sender": "100", "receiver": "+15550199",
                             "content": "hi", "created_at": "2024-05-01T10:00:00Z"});
        let id = created_id(app, &boss, "/api/external_messages", message).await;
        w.fix("message", &id, false);

        // Meetings (issue #17): the owner's, one to keep and one to destroy.
        // The kept one runs (reported by the owner: an Admin holds
        // `ReportMeetings`) with participants p1 and p2, and every toggle
        // was asked the other way than it is, so each control of the matrix
        // is legal whatever order it runs in.
        for (key, subject) in [("my_meeting", "Matrix"), ("my_meeting_doomed", "Gone")] {
            let id = created_id(
                app,
                &boss,
                "/api/user/meetings",
                crate::meetings::body(subject),
            )
            .await;
            w.fix(key, &id, true);
        }
        let room = w.get("my_meeting");
        let path = format!("/api/meetings/{room}/state");
        ok_json(
            app.post(&path, Some(&boss), &crate::meetings::matrix_state())
                .await,
            &path,
        )
        .await;
        for action in [
            "stop",
            "mute",
            "lock",
            "start_recording",
            "participants/p1/mute",
        ] {
            let path = format!("/api/user/meetings/{room}/{action}");
            ok_json(app.post(&path, Some(&boss), &json!({})).await, &path).await;
        }

        // The owner's sync tokens.
        for (key, collection) in [
            ("token_personal", "contacts"),
            ("token_business", "business_contacts"),
            ("token_extension", "extension_contacts"),
            ("token_cdrs", "cdrs"),
        ] {
            let v = ok_json(
                app.post(
                    &format!("/api/user/{collection}/sync_tokens"),
                    Some(&boss),
                    &json!({}),
                )
                .await,
                key,
            )
            .await;
            w.fix(key, v["token"].as_str().expect("token"), false);
        }

        // The owner's open uploads (the file store).
        for key in ["upload", "upload_doomed"] {
            let resp = app
                .post("/api/blobs/uploads?filename=x.wav", Some(&boss), &json!({}))
                .await;
            assert_eq!(resp.status(), StatusCode::ACCEPTED, "{key}");
            let id = resp.headers()["portsip-upload-id"]
                .to_str()
                .expect("upload id")
                .to_owned();
            w.fix(key, &id, true);
        }
        // The owner's files (completed uploads of two distinct WAVs).
        for (key, samples) in [("file", 10), ("file_doomed", 11)] {
            let bytes = crate::files::wav(samples);
            let up = crate::files::begin(app, &boss, "filename=prompt.wav").await;
            let (id, digest) = crate::files::complete(app, &boss, &up, &bytes).await;
            w.fix(key, &id, true);
            if key == "file" {
                w.fix("digest", &digest, true);
            }
        }
        // Callers waiting in the owner's queue (boss and alice are its agents).
        let waiting = format!("/api/call_queues/{}/waiting", w.get("queue"));
        for key in ["wait", "wait_doomed"] {
            let session = format!("world-{key}");
            let body = json!({"session_id": session, "extension_number": "4930555"});
            let resp = app.post(&waiting, Some(&boss), &body).await;
            assert_eq!(resp.status(), StatusCode::CREATED, "{key}");
            w.fix(key, &session, false);
        }
        // Call recordings the owner (100) and alice (101) are parties of,
        // each on its own file; and a file for the matrix's report.
        for (key, samples) in [
            ("recording", 12),
            ("recording_doomed", 13),
            ("my_recording_doomed", 14),
            ("rec_file", 15),
        ] {
            let bytes = crate::files::wav(samples);
            let up = crate::files::begin(app, &boss, "filename=call.wav&temporary=true").await;
            let (file, _) = crate::files::complete(app, &boss, &up, &bytes).await;
            if key == "rec_file" {
                w.fix(key, &file, true);
                continue;
            }
            let meta = json!({"recording_id": format!("world-{key}"), "file_id": file,
                              "caller": "100", "callee": "101",
                              "started_at": "2024-05-01T10:00:00Z"});
            // Not secrets, as call history ids (above).
            let id = created_id(app, &boss, "/api/recordings", meta).await;
            w.fix(key, &id, false);
        }
        // Greetings playing the owner's file: the owner's own and alice's.
        let file = json!({"file_id": w.get("file")});
        let alice_greetings = format!("/api/users/{}/greetings", w.get("alice"));
        for (key, path) in [
            ("my_greeting", "/api/user/greetings"),
            ("my_greeting_doomed", "/api/user/greetings"),
            ("greeting", alice_greetings.as_str()),
            ("greeting_doomed", alice_greetings.as_str()),
        ] {
            let id = created_id(app, &boss, path, file.clone()).await;
            w.fix(key, &id, true);
        }
        w
    }

    fn fix(&mut self, key: &str, value: &str, secret: bool) {
        self.fixtures.insert(key.to_owned(), value.to_owned());
        if secret {
            self.secrets.push(value.to_owned());
        }
    }

    /// `key` (PortSIP id), `key_num` (decimal) and `key_uuid`.
    fn id_fixtures(&mut self, key: &str, portsip: &str, kind: Kind) {
        let id = portsip_id(portsip);
        self.fix(key, portsip, true);
        self.fix(&format!("{key}_num"), &id.0.to_string(), true);
        self.fix(&format!("{key}_uuid"), &uuid::render(kind, id), true);
    }

    /// A fixture's value.
    pub fn get(&self, key: &str) -> String {
        self.fixtures
            .get(key)
            .unwrap_or_else(|| panic!("no fixture {key}"))
            .clone()
    }

    fn account(&mut self, name: &str, domain: Option<&str>, token: &str) {
        self.accounts.insert(
            name.to_owned(),
            Account {
                name: if name == "bossb" {
                    "boss".into()
                } else {
                    name.into()
                },
                domain: domain.map(str::to_owned),
                password: if name == "admin" {
                    ADMIN_PASSWORD.into()
                } else {
                    PASSWORD.into()
                },
                token: token.to_owned(),
            },
        );
    }

    async fn sign_in(&mut self, app: &TestApp, name: &str, domain: &str) {
        let token = app.token_for(name, PASSWORD, domain).await;
        self.account(name, Some(domain), &token);
    }

    /// The account a caller uses for a route.
    fn account_of(who: Who, route: &RouteSpec) -> Option<String> {
        match who {
            Who::Nobody => None,
            Who::Standard => Some("sam".into()),
            Who::Custom => {
                let caps = needed(route.access);
                Some(if caps.is_empty() {
                    "plain".into()
                } else {
                    lacking_role(&caps).to_lowercase()
                })
            }
            Who::Other => Some("bossb".into()),
            Who::Owner if route.access == Access::SystemAdmin => Some("admin".into()),
            Who::Owner => Some("boss".into()),
        }
    }

    /// The token a caller presents for a route (`None`: no token).
    pub fn token(&self, who: Who, route: &RouteSpec) -> Option<String> {
        let name = World::account_of(who, route)?;
        Some(
            self.accounts
                .get(&name)
                .unwrap_or_else(|| panic!("no account {name}"))
                .token
                .clone(),
        )
    }

    /// Signs in again every account whose session ended (sign-out,
    /// password change). An account whose password was changed (the fuzz
    /// run may do that) gets it reset by the system administrator first;
    /// one that still cannot sign in keeps its dead token.
    pub async fn revive(&mut self, app: &TestApp) {
        let names: Vec<String> = self.accounts.keys().cloned().collect();
        for key in names {
            let acc = self.accounts[&key].clone();
            let alive = app.get("/api/auth/user", Some(&acc.token)).await.status();
            if alive == StatusCode::OK {
                continue;
            }
            let mut token = sign_in(app, &acc).await;
            if token.is_none() && acc.domain.is_some() {
                self.reset_password(app, &acc).await;
                token = sign_in(app, &acc).await;
            }
            if let Some(t) = token {
                if let Some(a) = self.accounts.get_mut(&key) {
                    a.token = t;
                }
            }
        }
    }

    /// Resets a tenant user's password to [`PASSWORD`] as the system
    /// administrator (switched into the user's tenant).
    async fn reset_password(&mut self, app: &TestApp, acc: &Account) {
        let Some(sys) = self.accounts.get("admin").cloned() else {
            return;
        };
        let sys = match app.get("/api/auth/user", Some(&sys.token)).await.status() {
            StatusCode::OK => sys.token,
            _ => match sign_in(app, &sys).await {
                Some(t) => t,
                None => return,
            },
        };
        let tenant = if acc.domain.as_deref() == Some("b.example") {
            self.get("tenant_b")
        } else {
            self.get("tenant_a")
        };
        let switched = app
            .post(
                &format!("/api/tenants/switch?id={tenant}"),
                Some(&sys),
                &json!({}),
            )
            .await;
        if switched.status() != StatusCode::OK {
            return;
        }
        let found: Value = app
            .get(
                &format!("/api/users?filter=name eq '{}'", acc.name),
                Some(&sys),
            )
            .await
            .json()
            .await
            .unwrap_or(Value::Null);
        if let Some(id) = found["items"][0]["id"].as_str() {
            let _ = app
                .post(
                    &format!("/api/users/{id}/password"),
                    Some(&sys),
                    &json!({ "password": PASSWORD }),
                )
                .await;
        }
    }

    /// Replaces `"$key"` strings in a body template with fixture values.
    pub fn fill(&self, template: &Value) -> Value {
        match template {
            Value::String(s) => match s.strip_prefix('$') {
                Some(key) => Value::String(self.get(key)),
                None => template.clone(),
            },
            Value::Array(a) => Value::Array(a.iter().map(|v| self.fill(v)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), self.fill(v))).collect())
            }
            other => other.clone(),
        }
    }

    /// Replaces `$key` words in a query string with fixture values.
    pub fn fill_query(&self, query: &str) -> String {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| match pair.split_once("=$") {
                Some((k, key)) => format!("{k}={}", self.get(key)),
                None => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}
