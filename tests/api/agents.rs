//! Agent status (SetAgentStatus): transitions, permissions, the caller's
//! own queues, the history report with per-status totals, cleanup when a
//! user is deleted, and 50 agents switching states in parallel.

use crate::helpers::{assert_error, spawn_app, user_body, TenantCtx, TestApp};
use crate::queues::{create_queue, json_of, register, set_agents, user_with_role};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

async fn set_own(app: &TestApp, token: &str, q: &str, status: &str) -> reqwest::Response {
    app.post(
        &format!("/api/user/call_queues/{q}/agent"),
        Some(token),
        &json!({ "status": status }),
    )
    .await
}

async fn own_status(app: &TestApp, token: &str, q: &str) -> Value {
    json_of(
        app.get(&format!("/api/user/call_queues/{q}/agent"), Some(token))
            .await,
    )
    .await["status"]
        .clone()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("format")
}

async fn history(app: &TestApp, token: &str, user: &str, query: &str) -> Value {
    json_of(
        app.get(
            &format!("/api/users/{user}/agent_status_history?{query}"),
            Some(token),
        )
        .await,
    )
    .await
}

/// A tenant with a queue (800), agent ann (101, registered) and a registrar.
async fn setup(app: &TestApp) -> (TenantCtx, String, String, String, String) {
    let t = app.tenant("agents.example").await;
    let (ann_id, ann) = user_with_role(app, &t, "ann", "101", "StandardUser").await;
    let (_, registrar) = user_with_role(app, &t, "sbc", "190", "Replicator").await;
    let q = create_queue(app, &t.admin, "Support", "800").await;
    set_agents(app, &t.admin, "call_queues", &q, &["101"]).await;
    register(app, &registrar, "101", "ann-phone", 3600).await;
    (t, ann_id, ann, registrar, q)
}

#[tokio::test]
async fn agents_log_in_before_anything_else_and_follow_the_table() {
    let app = spawn_app().await;
    let (_t, ann_id, ann, _, q) = setup(&app).await;
    assert_eq!(own_status(&app, &ann, &q).await, "LOGGED_OUT");
    let err = assert_error(
        set_own(&app, &ann, &q, "BREAK").await,
        StatusCode::CONFLICT,
        "ILLEGAL_AGENT_TRANSITION",
    )
    .await;
    assert!(err["message"]
        .as_str()
        .is_some_and(|m| m.contains("LOGGED_OUT")));
    assert_eq!(
        set_own(&app, &ann, &q, "LOGGED_IN").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        own_status(&app, &ann, &q).await,
        "READY",
        "LOGGED_IN becomes READY"
    );
    assert_eq!(
        set_own(&app, &ann, &q, "BREAK").await.status(),
        StatusCode::OK
    );
    assert_eq!(own_status(&app, &ann, &q).await, "BREAK");
    assert_error(
        set_own(&app, &ann, &q, "WRAP_UP").await,
        StatusCode::CONFLICT,
        "ILLEGAL_AGENT_TRANSITION",
    )
    .await;
    // same status: accepted, nothing recorded
    assert_eq!(
        set_own(&app, &ann, &q, "BREAK").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        set_own(&app, &ann, &q, "LOGGED_IN").await.status(),
        StatusCode::OK
    );
    let h = history(&app, &ann, &ann_id, "").await;
    let statuses: Vec<&str> = h["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["READY", "BREAK"], "no-ops append no event");
    assert_eq!(
        set_own(&app, &ann, &q, "LOGGED_OUT").await.status(),
        StatusCode::OK
    );
    assert_eq!(own_status(&app, &ann, &q).await, "LOGGED_OUT");

    for (body, field) in [
        (json!({"status": "QUEUE_CALL"}), "status"),
        (json!({"status": "ready"}), "status"),
        (json!({}), "status"),
        (json!({"status": "READY", "x": 1}), "x"),
    ] {
        let resp = app
            .post(
                &format!("/api/user/call_queues/{q}/agent"),
                Some(&ann),
                &body,
            )
            .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field);
    }
    let mine = json_of(app.get("/api/user/call_queues", Some(&ann)).await).await;
    assert_eq!(
        mine,
        json!({"items": [{"id": q, "name": "Support", "extension_number": "800"}]})
    );
}

#[tokio::test]
async fn users_set_only_their_own_status_and_managers_set_anyones() {
    let app = spawn_app().await;
    let (t, ann_id, ann, _, q) = setup(&app).await;
    let (bob_id, bob) = user_with_role(&app, &t, "bob", "102", "StandardUser").await;
    let (_, manager) = user_with_role(&app, &t, "qm", "103", "QueueManager").await;
    set_agents(&app, &t.admin, "call_queues", &q, &["101", "102"]).await;
    let login = json!({"status": "LOGGED_IN"});

    // bob may not touch ann, by any path
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/call_queues/{q}/agent"),
            Some(&bob),
            &login,
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let resp = app
        .post(
            &format!("/api/call_queues/{q}/agents/101"),
            Some(&bob),
            &login,
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let resp = app
        .get(&format!("/api/users/{ann_id}/call_queues"), Some(&bob))
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let resp = app
        .get(
            &format!("/api/users/{ann_id}/agent_status_history"),
            Some(&bob),
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(own_status(&app, &ann, &q).await, "LOGGED_OUT");

    // bob may use the admin-style paths for himself
    let resp = app
        .post(
            &format!("/api/users/{bob_id}/call_queues/{q}/agent"),
            Some(&bob),
            &login,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/call_queues/{q}/agents/102"),
            Some(&bob),
            &json!({"status": "NOT_READY"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mine = json_of(
        app.get(&format!("/api/users/{bob_id}/call_queues"), Some(&bob))
            .await,
    )
    .await;
    assert_eq!(mine["items"][0]["id"], q);

    // the QueueManager and the Admin may set anyone's
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/call_queues/{q}/agent"),
            Some(&manager),
            &login,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(own_status(&app, &ann, &q).await, "READY");
    let resp = app
        .post(
            &format!("/api/call_queues/{q}/agents/101"),
            Some(&t.admin),
            &json!({"status": "LUNCH"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let a = json_of(
        app.get(
            &format!("/api/users/{ann_id}/call_queues/{q}/agent"),
            Some(&manager),
        )
        .await,
    )
    .await;
    assert_eq!(a["status"], "LUNCH");
    assert_eq!(a["extension_number"], "101");
    let resp = app
        .post(
            &format!("/api/call_queues/{q}/agents/101"),
            Some(&t.admin),
            &json!({"status": "WRAP_UP"}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "ILLEGAL_AGENT_TRANSITION").await;

    // not an agent / unknown queue
    let (_, carl) = user_with_role(&app, &t, "carl", "104", "StandardUser").await;
    assert_error(
        set_own(&app, &carl, &q, "LOGGED_IN").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        set_own(&app, &carl, "bm9wZQ", "LOGGED_IN").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let resp = app
        .get(&format!("/api/user/call_queues/{q}/agent"), Some(&carl))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn history_lists_changes_from_the_log_with_totals_per_status() {
    let app = spawn_app().await;
    let (_t, ann_id, ann, _, q) = setup(&app).await;
    let start = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (status, pause) in [
        ("LOGGED_IN", 300),
        ("BREAK", 500),
        ("READY", 200),
        ("NOT_READY", 0),
    ] {
        assert_eq!(
            set_own(&app, &ann, &q, status).await.status(),
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let end = OffsetDateTime::now_utc();
    let h = history(
        &app,
        &ann,
        &ann_id,
        &format!(
            "from={}&to={}",
            rfc3339(start).replace('+', "%2B"),
            rfc3339(end).replace('+', "%2B")
        ),
    )
    .await;
    let items = h["items"].as_array().expect("items");
    let got: Vec<(&str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["previous"].as_str().unwrap_or(""),
                i["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("LOGGED_OUT", "READY"),
            ("READY", "BREAK"),
            ("BREAK", "READY"),
            ("READY", "NOT_READY")
        ]
    );
    let at: Vec<f64> = items
        .iter()
        .map(|i| i["changed_at_ms"].as_i64().unwrap_or(0) as f64 / 1000.0)
        .collect();
    let from = start.unix_timestamp_nanos() as f64 / 1e9;
    let to = end.unix_timestamp_nanos() as f64 / 1e9;
    let totals = &h["queues"][0]["totals"];
    assert_eq!(h["queues"][0]["queue_id"], q);
    assert_eq!(h["queues"][0]["status_at_from"], "LOGGED_OUT");
    let near = |got: &Value, want: f64, what: &str| {
        let g = got.as_f64().unwrap_or(-1.0);
        assert!((g - want).abs() < 0.01, "{what}: {g} vs {want} in {h}");
    };
    near(&totals["LOGGED_OUT"], at[0] - from, "LOGGED_OUT");
    near(&totals["READY"], (at[1] - at[0]) + (at[3] - at[2]), "READY");
    near(&totals["BREAK"], at[2] - at[1], "BREAK");
    near(&totals["NOT_READY"], to - at[3], "NOT_READY");
    near(&totals["LUNCH"], 0.0, "LUNCH");
    let sum: f64 = [
        "READY",
        "NOT_READY",
        "WRAP_UP",
        "BREAK",
        "LUNCH",
        "LOGGED_OUT",
    ]
    .iter()
    .map(|s| totals[*s].as_f64().unwrap_or(0.0))
    .sum();
    near(&json!(sum), to - from, "sum of totals = window");
    assert!(
        totals["BREAK"].as_f64().unwrap_or(0.0) >= 0.49,
        "BREAK lasted 500 ms"
    );

    // a window inside BREAK: the status in effect at `from` counts from `from`
    let inside_from =
        OffsetDateTime::from_unix_timestamp_nanos(((at[1] + 0.1) * 1e9) as i128).expect("t");
    let inside_to =
        OffsetDateTime::from_unix_timestamp_nanos(((at[1] + 0.3) * 1e9) as i128).expect("t");
    let h = history(
        &app,
        &ann,
        &ann_id,
        &format!(
            "from={}&to={}",
            rfc3339(inside_from).replace('+', "%2B"),
            rfc3339(inside_to).replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(h["items"], json!([]));
    assert_eq!(h["queues"][0]["status_at_from"], "BREAK");
    near(&h["queues"][0]["totals"]["BREAK"], 0.2, "BREAK inside");

    let resp = app
        .get(
            &format!("/api/users/{ann_id}/agent_status_history?from=yesterday"),
            Some(&ann),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "from");
    let resp = app
        .get(
            &format!(
                "/api/users/{ann_id}/agent_status_history?from={}&to={}",
                rfc3339(end),
                rfc3339(start)
            ),
            Some(&ann),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
}

#[tokio::test]
async fn deleting_a_user_or_queue_removes_the_agent_and_logs_it_out() {
    let app = spawn_app().await;
    let (t, ann_id, ann, _, q) = setup(&app).await;
    app.create_user(&t.admin, &user_body("bob", "102")).await;
    set_agents(&app, &t.admin, "call_queues", &q, &["101", "102"]).await;
    assert_eq!(
        set_own(&app, &ann, &q, "LOGGED_IN").await.status(),
        StatusCode::OK
    );
    let q2 = create_queue(&app, &t.admin, "Sales", "801").await;
    set_agents(&app, &t.admin, "call_queues", &q2, &["101"]).await;
    assert_eq!(
        set_own(&app, &ann, &q2, "LOGGED_IN").await.status(),
        StatusCode::OK
    );

    // deleting the queue logs ann out of it first (the history ends there)
    crate::helpers::ok(
        app.post(
            &format!("/api/call_queues/{q2}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await,
    )
    .await;
    let h = history(&app, &t.admin, &ann_id, "").await;
    let last = h["items"]
        .as_array()
        .and_then(|i| i.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["queue_id"], q2);
    assert_eq!(last["status"], "LOGGED_OUT");

    let resp = app
        .post(
            "/api/ring_groups",
            Some(&t.admin),
            &json!({"name": "Desk", "extension_number": "700"}),
        )
        .await;
    let rg = json_of(resp).await["id"].as_str().expect("id").to_owned();
    set_agents(&app, &t.admin, "ring_groups", &rg, &["101", "102"]).await;

    let resp = app
        .post(
            &format!("/api/users/{ann_id}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let agents = json_of(
        app.get(&format!("/api/call_queues/{q}/agents"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(agents["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(agents["items"][0]["extension_number"], "102");
    let members = json_of(
        app.get(&format!("/api/ring_groups/{rg}/agents"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(members["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(members["items"][0]["extension_number"], "102");
    // a new user on the freed number is not an agent
    app.create_user(&t.admin, &user_body("ann2", "101")).await;
    let resp = app
        .get(&format!("/api/call_queues/{q}/agents/101"), Some(&t.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let resp = app
        .get(&format!("/api/ring_groups/{rg}/agents/101"), Some(&t.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn agent_status_presence_and_registrations_survive_a_restart() {
    let mut app = spawn_app().await;
    let (t, ann_id, ann, _, q) = setup(&app).await;
    assert_eq!(
        set_own(&app, &ann, &q, "LOGGED_IN").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        set_own(&app, &ann, &q, "LUNCH").await.status(),
        StatusCode::OK
    );
    let resp = app
        .post(
            "/api/user/presence",
            Some(&ann),
            &json!({"presence": "BUSINESS_TRIP"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    app.restart().await;
    let ann = app.token_for("ann", "Passw0rd-123", &t.domain).await;
    assert_eq!(own_status(&app, &ann, &q).await, "LUNCH");
    let s = json_of(app.get("/api/user/status", Some(&ann)).await).await;
    assert_eq!(s["status"], "ONLINE", "the registration was replayed");
    assert_eq!(s["presence"], "BUSINESS_TRIP");
    let h = history(&app, &ann, &ann_id, "").await;
    assert_eq!(h["items"].as_array().map(Vec::len), Some(2));
}

/// The transition table, as the test's own model of it.
fn model(from: &str, to: &str) -> Result<Option<&'static str>, ()> {
    const ALL: [&str; 6] = [
        "READY",
        "NOT_READY",
        "WRAP_UP",
        "BREAK",
        "LUNCH",
        "LOGGED_OUT",
    ];
    let target = match (from, to) {
        ("LOGGED_OUT", "LOGGED_IN") => "READY",
        (_, "LOGGED_IN") => return Ok(None),
        (_, t) => ALL.into_iter().find(|s| *s == t).ok_or(())?,
    };
    if target == from {
        return Ok(None);
    }
    match (from, target) {
        ("LOGGED_OUT", _) if to != "LOGGED_IN" => Err(()),
        ("BREAK" | "LUNCH", "WRAP_UP") => Err(()),
        _ => Ok(Some(target)),
    }
}

#[tokio::test]
async fn fifty_agents_switch_states_in_parallel_and_end_where_their_last_accepted_command_left_them(
) {
    const AGENTS: usize = 50;
    const STEPS: usize = 12;
    const REQUESTS: [&str; 7] = [
        "LOGGED_IN",
        "READY",
        "NOT_READY",
        "WRAP_UP",
        "BREAK",
        "LUNCH",
        "LOGGED_OUT",
    ];
    let app = spawn_app().await;
    let t = app.tenant("fifty.example").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "190", "Replicator").await;
    let q = create_queue(&app, &t.admin, "Support", "800").await;
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let number = format!("{}", 2000 + i);
        let (id, token) =
            user_with_role(&app, &t, &format!("agent{i}"), &number, "StandardUser").await;
        register(&app, &registrar, &number, &format!("dev-{i}"), 3600).await;
        agents.push((id, token, number));
    }
    let numbers: Vec<&str> = agents.iter().map(|a| a.2.as_str()).collect();
    set_agents(&app, &t.admin, "call_queues", &q, &numbers).await;
    let start = OffsetDateTime::now_utc();

    let mut tasks = Vec::new();
    for (i, (_, token, _)) in agents.iter().enumerate() {
        let client = reqwest::Client::new();
        let url = app.url(&format!("/api/user/call_queues/{q}/agent"));
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            // a small deterministic pseudo-random walk per agent
            let mut seed = (i as u64 + 1).wrapping_mul(6364136223846793005);
            let mut state = "LOGGED_OUT";
            let mut changes = Vec::new();
            for step in 0..STEPS {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let want = if step == 0 {
                    "LOGGED_IN"
                } else {
                    REQUESTS[(seed >> 33) as usize % REQUESTS.len()]
                };
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "status": want }))
                    .send()
                    .await
                    .expect("request");
                let expected = model(state, want);
                match resp.status() {
                    StatusCode::OK => {
                        let next = expected.unwrap_or_else(|_| {
                            panic!("agent {i}: {state} → {want} accepted but illegal")
                        });
                        if let Some(next) = next {
                            changes.push(next);
                            state = next;
                        }
                    }
                    StatusCode::CONFLICT => {
                        assert!(
                            expected.is_err(),
                            "agent {i}: {state} → {want} refused but legal"
                        );
                    }
                    other => panic!("agent {i}: unexpected {other}"),
                }
            }
            (state, changes)
        }));
    }
    let mut finals = Vec::new();
    for task in tasks {
        finals.push(task.await.expect("task"));
    }
    let end = OffsetDateTime::now_utc();

    let listed = json_of(
        app.get(&format!("/api/call_queues/{q}/agents"), Some(&t.admin))
            .await,
    )
    .await;
    let listed = listed["items"].as_array().expect("items").clone();
    assert_eq!(listed.len(), AGENTS);
    for (i, ((id, _, number), (state, changes))) in agents.iter().zip(&finals).enumerate() {
        let row = listed
            .iter()
            .find(|r| r["extension_number"] == number.as_str())
            .expect("listed");
        assert_eq!(row["status"], *state, "agent {i}'s final status");
        let h = history(
            &app,
            &t.admin,
            id,
            &format!(
                "from={}&to={}",
                rfc3339(start).replace('+', "%2B"),
                rfc3339(end).replace('+', "%2B")
            ),
        )
        .await;
        let recorded: Vec<&str> = h["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["status"].as_str())
            .collect();
        assert_eq!(
            &recorded, changes,
            "agent {i}: the log holds exactly the accepted changes"
        );
        let totals = &h["queues"][0]["totals"];
        let sum: f64 = [
            "READY",
            "NOT_READY",
            "WRAP_UP",
            "BREAK",
            "LUNCH",
            "LOGGED_OUT",
        ]
        .iter()
        .map(|s| totals[*s].as_f64().unwrap_or(-1.0))
        .sum();
        let window = h["window_seconds"].as_f64().unwrap_or(0.0);
        assert!(
            (sum - window).abs() < 0.01,
            "agent {i}: totals {sum} vs window {window}"
        );
        let last_change = h["items"]
            .as_array()
            .and_then(|i| i.last())
            .and_then(|i| i["changed_at_ms"].as_i64())
            .unwrap_or(0) as f64
            / 1000.0;
        let tail = end.unix_timestamp_nanos() as f64 / 1e9 - last_change;
        assert!(
            totals[*state].as_f64().unwrap_or(0.0) >= tail - 0.01,
            "agent {i}: the final status {state} runs to the end of the window"
        );
    }
}
