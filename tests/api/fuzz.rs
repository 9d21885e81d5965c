//! The fuzz run (issue 11): every route of the table, called by each of
//! the matrix's callers with mangled path parameters, query strings, bodies
//! and headers. Nothing a client sends may cause a 5xx (a panic is caught
//! and answered 500, so it counts too).
//!
//! Deterministic by seed. `FUZZ_SEED` picks another seed and
//! `FUZZ_ROUNDS` the rounds per route and caller (default 2, so the test
//! stays quick in CI); `scripts/fuzz.sh` runs a long one. A failure prints
//! the seed and each offending request.

use crate::helpers::spawn_app_with;
use crate::matrix::{concrete_path, expectations, send};
use crate::world::{Who, World};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Map, Value};
use switchboard::http::{route_table, Effect, RouteSpec};

/// Strings that have broken parsers elsewhere.
const NASTY: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "1e309",
    "18446744073709551616",
    "9007199254740993",
    "null",
    "true",
    "[]",
    "{}",
    "..",
    "../..",
    "%",
    "%00",
    "%FF",
    "' or 1=1 --",
    "name eq",
    "((((((((((",
    "not not not not",
    "contains(name,",
    "created_at gt 'x'",
    "2026-13-45T99:99:99Z",
    "\u{0}",
    "\u{202e}",
    "é",
    "😀",
    "NzAw",
    "5b010000-0000-8000-8000-000000000001",
];

/// Query keys any route might read.
const QUERY_KEYS: &[&str] = &[
    "filter",
    "$filter",
    "search",
    "orderby",
    "skip",
    "top",
    "$top",
    "count",
    "as_of",
    "action",
    "status",
    "state",
    "id",
    "since",
    "date_from",
    "from",
    "to",
    "queue_id",
    "domain",
    "access_token",
    "number",
    "tier",
    "extension_uuid",
    "queue_uuid",
    "login",
    "email",
];

/// Body fields any route might read.
const FIELDS: &[&str] = &[
    "name",
    "display_name",
    "role",
    "password",
    "old_password",
    "new_password",
    "email",
    "extension_number",
    "number",
    "extension_password",
    "voicemail_pin",
    "enabled",
    "status",
    "permissions",
    "items",
    "user",
    "instance_id",
    "expires",
    "state",
    "queue_id",
    "user_id",
    "extension_id",
    "hotline_id",
    "user_uuid",
    "extension_uuid",
    "login",
    "domain",
    "office_hours",
    "blfs",
    "outbound_caller_ids",
    "custom_forward_rules",
    "presence",
    "refresh_token",
    "username",
    "date_from",
    "date_to",
    "stir_shaken_key",
    "description",
];

fn nasty(rng: &mut StdRng) -> String {
    match rng.gen_range(0..6) {
        0 => "x".repeat(rng.gen_range(1..9000)),
        1 => (0..rng.gen_range(1..40))
            .map(|_| char::from_u32(rng.gen_range(1..0x3000)).unwrap_or('?'))
            .collect(),
        2 => rng.gen::<i64>().to_string(),
        _ => NASTY[rng.gen_range(0..NASTY.len())].to_owned(),
    }
}

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn value(rng: &mut StdRng, depth: u32) -> Value {
    if depth > 4 {
        return json!(nasty(rng));
    }
    match rng.gen_range(0..9) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!([0i64, -1, i64::MAX, i64::MIN, 65536][rng.gen_range(0..5)]),
        3 => json!([1.5f64, -0.0, 1e300, 1e-300][rng.gen_range(0..4)]),
        4 | 5 => json!(nasty(rng)),
        6 => Value::Array(
            (0..rng.gen_range(0..6))
                .map(|_| value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.gen_range(0..6))
                .map(|_| {
                    let k = FIELDS[rng.gen_range(0..FIELDS.len())].to_owned();
                    (k, value(rng, depth + 1))
                })
                .collect(),
        ),
    }
}

/// A mangled version of the route's usual body (or a non-JSON one).
enum Payload {
    Json(Value),
    Raw(Vec<u8>),
}

fn payload(rng: &mut StdRng, usual: Option<&Value>) -> Payload {
    match rng.gen_range(0..13) {
        0 => Payload::Raw(
            (0..rng.gen_range(0..200))
                .map(|_| rng.gen::<u8>())
                .collect(),
        ),
        1 => Payload::Raw(b"{\"name\": \"unterminated".to_vec()),
        2 => Payload::Raw(vec![b' '; 70_000]),
        // Deeper than serde's recursion limit (sent as bytes: building it
        // as a `Value` would overflow this test's own stack).
        3 => {
            let n = rng.gen_range(100..20_000);
            Payload::Raw(format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes())
        }
        4 => Payload::Json(value(rng, 0)),
        _ => {
            let mut m: Map<String, Value> = usual
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for _ in 0..rng.gen_range(1..4) {
                let k = if !m.is_empty() && rng.gen() {
                    m.keys()
                        .nth(rng.gen_range(0..m.len()))
                        .cloned()
                        .unwrap_or_default()
                } else {
                    FIELDS[rng.gen_range(0..FIELDS.len())].to_owned()
                };
                m.insert(k, value(rng, 1));
            }
            Payload::Json(Value::Object(m))
        }
    }
}

fn query(rng: &mut StdRng, usual: &str) -> String {
    let mut parts: Vec<String> = usual
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    for _ in 0..rng.gen_range(0..4) {
        let k = QUERY_KEYS[rng.gen_range(0..QUERY_KEYS.len())];
        let v = nasty(rng);
        if rng.gen_range(0..5) == 0 {
            // Raw, possibly malformed percent-encoding.
            parts.push(format!("{k}={}", v.replace(' ', "+")));
        } else {
            parts.push(format!("{k}={}", encode(&v)));
        }
    }
    parts.join("&")
}

/// The route's path with some parameters replaced by garbage.
fn path(rng: &mut StdRng, w: &World, route: &RouteSpec) -> String {
    let mut p = match concrete_path(w, route) {
        Ok(p) => p,
        Err(missing) => panic!("{missing:?}"),
    };
    for name in route.params() {
        if rng.gen_range(0..3) == 0 {
            continue;
        }
        let real = crate::matrix::param_value(w, route, name).unwrap_or_default();
        let fake = match rng.gen_range(0..4) {
            0 => "%FF%FE".to_owned(),
            _ => encode(&nasty(rng)),
        };
        if !fake.is_empty() {
            p = p.replacen(&real, &fake, 1);
        }
    }
    p
}

#[tokio::test]
async fn no_request_to_any_route_causes_a_server_error() {
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0011);
    let rounds: usize = std::env::var("FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let app = spawn_app_with(|c| {
        c.max_body_bytes = 64 * 1024;
        // Mangled old passwords must not throttle the callers out of the
        // run (the throttle has tests of its own).
        c.signin_failures_per_account_address = u32::MAX;
        c.signin_failures_per_address = u32::MAX;
        c.signin_free_failures = u32::MAX;
    })
    .await;
    let table = route_table();
    let exps = expectations();
    let mut w = World::build(&app, &table).await;
    let mut rng = StdRng::seed_from_u64(seed);
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut sent = 0usize;
    let mut by_status: std::collections::BTreeMap<u16, usize> = Default::default();
    for route in &table {
        let usual = exps.get(&format!("{} {}", route.method, route.path));
        for who in Who::ALL {
            for _ in 0..rounds {
                let token = w.token(who, route);
                let target = {
                    let q = query(&mut rng, usual.map(|e| e.query).unwrap_or(""));
                    let q = w.fill_query(&q);
                    let p = path(&mut rng, &w, route);
                    if q.is_empty() {
                        p
                    } else {
                        format!("{p}?{q}")
                    }
                };
                let body = usual.and_then(|e| e.body.as_ref()).map(|b| w.fill(b));
                let payload = payload(&mut rng, body.as_ref());
                let status = match payload {
                    Payload::Json(v) => {
                        // A GET gets the body now and then too.
                        let with_body = route.method != Method::GET || rng.gen();
                        send(
                            &client,
                            &app.base,
                            &route.method,
                            &target,
                            token.as_deref(),
                            with_body.then_some(&v),
                        )
                        .await
                        .status
                    }
                    Payload::Raw(bytes) => {
                        let mut req = client
                            .request(route.method.clone(), format!("{}{target}", app.base))
                            .header("content-type", "application/json")
                            .header("last-event-id", nasty(&mut rng).replace(['\r', '\n'], ""))
                            .body(bytes);
                        if let Some(t) = &token {
                            req = req.bearer_auth(t);
                        }
                        match req.send().await {
                            Ok(r) => r.status().as_u16(),
                            Err(e) if e.is_builder() => continue,
                            Err(e) => panic!("{} {target}: {e}", route.method),
                        }
                    }
                };
                sent += 1;
                *by_status.entry(status).or_default() += 1;
                if status >= 500 {
                    failures.push(format!(
                        "{status} for {who:?}: {} {target:.300}",
                        route.method
                    ));
                }
            }
        }
        if route.effect != Effect::Read {
            w.revive(&app).await;
        }
    }
    eprintln!("fuzz: seed {seed}, {sent} requests, by status {by_status:?}");
    assert!(sent > table.len() * 5, "{sent} requests");
    assert!(
        failures.is_empty(),
        "seed {seed}: {} request(s) of {sent} got a server error:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
