//! Sync tokens and diffs: RFC 6578 change types, paging, token protection
//! (403 cases, retention horizon, survival across restarts), CDR tokens,
//! and a model-based randomized test of all three contact collections.

use crate::contacts::{create_contact, json_of, two_users};
use crate::helpers::{assert_error, spawn_app, spawn_app_with, user_body, TestApp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

pub async fn new_token(app: &TestApp, base: &str, token: &str) -> String {
    let resp = app
        .post(&format!("{base}/sync_tokens"), Some(token), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    json_of(resp).await["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn diff_once(app: &TestApp, base: &str, auth: &str, sync: &str, top: Option<usize>) -> Value {
    let q = top.map(|t| format!("?top={t}")).unwrap_or_default();
    let resp = app
        .post(
            &format!("{base}/sync_tokens/{sync}/diff{q}"),
            Some(auth),
            &json!({}),
        )
        .await;
    let status = resp.status();
    let body = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Runs a whole (possibly paged) diff; returns (items, next token) and
/// checks that no id appears twice across its pages.
pub async fn full_diff(
    app: &TestApp,
    base: &str,
    auth: &str,
    sync: &str,
    top: Option<usize>,
) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    let mut token = sync.to_owned();
    loop {
        let body = diff_once(app, base, auth, &token, top).await;
        token = body["token"].as_str().expect("token").to_owned();
        let page = body["items"].as_array().cloned().unwrap_or_default();
        if let Some(t) = top {
            assert!(page.len() <= t, "page larger than top");
        }
        for item in page {
            let id = item["id"].as_str().expect("id").to_owned();
            assert!(seen.insert(id.clone()), "{id} named twice in one diff");
            items.push(item);
        }
        if body["has_more"] != true {
            return (items, token);
        }
    }
}

fn types(items: &[Value]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap_or("").to_owned(),
                i["change_type"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn diffs_follow_rfc6578() {
    let app = spawn_app().await;
    let (_, ann, bob) = two_users(&app, "acme.example").await;
    let base = "/api/user/contacts";
    let keep = create_contact(&app, base, &ann, &json!({"name": "Keep"})).await;
    let change = create_contact(&app, base, &ann, &json!({"name": "Change"})).await;
    let gone = create_contact(&app, base, &ann, &json!({"name": "Gone"})).await;
    let t0 = new_token(&app, base, &ann).await;
    let bob_t0 = new_token(&app, base, &bob).await;

    let (items, t1) = full_diff(&app, base, &ann, &t0, None).await;
    assert!(items.is_empty(), "nothing changed yet");

    crate::helpers::ok(
        app.post(
            &format!("{base}/{change}"),
            Some(&ann),
            &json!({"title": "v2"}),
        )
        .await,
    )
    .await;
    crate::helpers::ok(
        app.post(
            &format!("{base}/{change}"),
            Some(&ann),
            &json!({"title": "v3"}),
        )
        .await,
    )
    .await;
    crate::helpers::ok(
        app.post(&format!("{base}/{gone}/destroy"), Some(&ann), &json!({}))
            .await,
    )
    .await;
    let new = create_contact(&app, base, &ann, &json!({"name": "New"})).await;
    let flash = create_contact(&app, base, &ann, &json!({"name": "Flash"})).await;
    crate::helpers::ok(
        app.post(&format!("{base}/{flash}/destroy"), Some(&ann), &json!({}))
            .await,
    )
    .await;
    crate::helpers::ok(
        app.post(&format!("{base}/{keep}/favorite"), Some(&ann), &json!({}))
            .await,
    )
    .await;

    let (items, t2) = full_diff(&app, base, &ann, &t1, None).await;
    let got = types(&items);
    let want: BTreeMap<String, String> = [
        (change.clone(), "UPDATED"),
        (gone.clone(), "DELETED"),
        (new.clone(), "CREATED"),
        (keep.clone(), "UPDATED"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    assert_eq!(got, want, "created-and-deleted {flash} is not listed");
    let changed = items.iter().find(|i| i["id"] == change).expect("changed");
    assert_eq!(changed["title"], "v3", "current state");
    assert!(changed.get("sync_type").is_none());
    let deleted = items.iter().find(|i| i["id"] == gone).expect("deleted");
    assert_eq!(deleted["name"], Value::Null);
    assert_eq!(deleted["favorite"], Value::Null);
    let kept = items.iter().find(|i| i["id"] == keep).expect("favorited");
    assert_eq!(kept["favorite"], true);

    // The returned token resumes exactly after this diff.
    let (items, _) = full_diff(&app, base, &ann, &t2, None).await;
    assert!(items.is_empty());
    // An older token can be replayed (it is a position, not a cursor).
    let (again, _) = full_diff(&app, base, &ann, &t1, None).await;
    assert_eq!(types(&again), got);
    // Bob saw nothing of Ann's.
    let (items, _) = full_diff(&app, base, &bob, &bob_t0, None).await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn favorite_flags_show_only_in_their_owners_diffs() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "acme.example").await;
    let acme = create_contact(&app, "/api/contacts", &admin, &json!({"name": "Acme"})).await;
    let b = "/api/user/business_contacts";
    let e = "/api/user/extension_contacts";
    let (ann_b, bob_b) = (
        new_token(&app, b, &ann).await,
        new_token(&app, b, &bob).await,
    );
    let (ann_e, bob_e) = (
        new_token(&app, e, &ann).await,
        new_token(&app, e, &bob).await,
    );
    crate::helpers::ok(
        app.post(&format!("{b}/{acme}/favorite"), Some(&ann), &json!({}))
            .await,
    )
    .await;
    let list = json_of(app.get(e, Some(&ann)).await).await;
    let boss = list["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["extension_number"] == "100"))
        .expect("boss")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    crate::helpers::ok(
        app.post(&format!("{e}/{boss}/favorite"), Some(&ann), &json!({}))
            .await,
    )
    .await;

    let (items, _) = full_diff(&app, b, &ann, &ann_b, None).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["change_type"], "UPDATED");
    assert_eq!(items[0]["favorite"], true);
    let (items, _) = full_diff(&app, b, &bob, &bob_b, None).await;
    assert!(items.is_empty(), "ann's favorite is not a change for bob");
    let (items, _) = full_diff(&app, e, &ann, &ann_e, None).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], boss);
    assert_eq!(items[0]["favorite"], true);
    assert_eq!(items[0]["extension_number"], "100");
    let (items, _) = full_diff(&app, e, &bob, &bob_e, None).await;
    assert!(items.is_empty());

    // Extension contacts follow users: created, renumbered, deleted.
    let cid = app.create_user(&admin, &user_body("cid", "203")).await;
    let (items, t) = full_diff(&app, e, &bob, &bob_e, None).await;
    assert_eq!(types(&items), [(cid.clone(), "CREATED".to_owned())].into());
    let resp = app
        .post(
            &format!("/api/users/{cid}"),
            Some(&admin),
            &json!({"extension_number": "299"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // A field the directory does not show is not a change.
    crate::helpers::ok(
        app.post(
            &format!("/api/users/{cid}"),
            Some(&admin),
            &json!({"enable_dnd": true}),
        )
        .await,
    )
    .await;
    let (items, t) = full_diff(&app, e, &bob, &t, None).await;
    assert_eq!(types(&items), [(cid.clone(), "UPDATED".to_owned())].into());
    assert_eq!(items[0]["extension_number"], "299");
    crate::helpers::ok(
        app.post(
            &format!("/api/users/{cid}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await,
    )
    .await;
    let (items, _) = full_diff(&app, e, &bob, &t, None).await;
    assert_eq!(types(&items), [(cid.clone(), "DELETED".to_owned())].into());
    assert_eq!(items[0]["display_name"], Value::Null);
}

#[tokio::test]
async fn large_diffs_are_paged_with_top() {
    let app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    let b = "/api/user/business_contacts";
    let t0 = new_token(&app, b, &ann).await;
    let mut ids = HashSet::new();
    for i in 0..7 {
        ids.insert(
            create_contact(
                &app,
                "/api/contacts",
                &admin,
                &json!({"name": format!("C{i}")}),
            )
            .await,
        );
    }
    let first = diff_once(&app, b, &ann, &t0, Some(3)).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["has_more"], true);
    // A change between pages does not make a page repeat an id.
    let (items, t1) = full_diff(&app, b, &ann, &t0, Some(3)).await;
    let got: HashSet<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(got, ids);
    assert!(items.iter().all(|i| i["change_type"] == "CREATED"));
    let (items, _) = full_diff(&app, b, &ann, &t1, Some(3)).await;
    assert!(items.is_empty());
    for bad in ["0", "1001", "x", "-1"] {
        let resp = app
            .post(
                &format!("{b}/sync_tokens/{t0}/diff?top={bad}"),
                Some(&ann),
                &json!({}),
            )
            .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], "top");
    }
}

#[tokio::test]
async fn foreign_and_garbage_tokens_are_refused() {
    let app = spawn_app().await;
    let (_, ann, bob) = two_users(&app, "acme.example").await;
    let (_, other, _) = two_users(&app, "other.example").await;
    let c = "/api/user/contacts";
    let ann_t = new_token(&app, c, &ann).await;
    let forged = {
        let mut t = ann_t.clone().into_bytes();
        let last = t.len() - 1;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).expect("ascii")
    };
    for (auth, base, token) in [
        (&ann, c, "garbage".to_owned()),
        (&ann, c, "".to_owned() + "AAAA"),
        (&ann, c, forged),
        (&bob, c, ann_t.clone()),
        (&other, c, ann_t.clone()),
        (&ann, "/api/user/business_contacts", ann_t.clone()),
        (&ann, "/api/user/extension_contacts", ann_t.clone()),
        (&ann, "/api/user/cdrs", ann_t.clone()),
    ] {
        let resp = app
            .post(
                &format!("{base}/sync_tokens/{token}/diff"),
                Some(auth),
                &json!({}),
            )
            .await;
        assert_error(resp, StatusCode::FORBIDDEN, "INVALID_SYNC_TOKEN").await;
    }
    let resp = app
        .post(&format!("{c}/sync_tokens/{ann_t}/diff"), None, &json!({}))
        .await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn cdr_tokens_and_diffs_work_on_the_empty_collection() {
    let app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let base = "/api/user/cdrs";
    let t = new_token(&app, base, &ann).await;
    create_contact(&app, "/api/user/contacts", &ann, &json!({"name": "Noise"})).await;
    let body = diff_once(&app, base, &ann, &t, None).await;
    assert_eq!(body["items"], json!([]));
    assert_eq!(body["has_more"], false);
    let next = body["token"].as_str().expect("token");
    assert_ne!(next, t, "the token moves to now");
    diff_once(&app, base, &ann, next, Some(5)).await;
    let resp = app
        .post(
            &format!("{base}/sync_tokens?date_from=2026-01-01T00:00:00Z"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = app
        .post(
            &format!("{base}/sync_tokens?date_from=yesterday"),
            Some(&ann),
            &json!({}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "date_from");
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let mut app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let c = "/api/user/contacts";
    let before = create_contact(&app, c, &ann, &json!({"name": "Before"})).await;
    let t = new_token(&app, c, &ann).await;
    crate::helpers::ok(
        app.post(&format!("{c}/{before}"), Some(&ann), &json!({"title": "x"}))
            .await,
    )
    .await;
    app.restart().await;
    let ann = app.token_for("ann", "Passw0rd-123", "acme.example").await;
    let after = create_contact(&app, c, &ann, &json!({"name": "After"})).await;
    let (items, _) = full_diff(&app, c, &ann, &t, None).await;
    assert_eq!(
        types(&items),
        [
            (before, "UPDATED".to_owned()),
            (after, "CREATED".to_owned())
        ]
        .into()
    );
}

#[tokio::test]
async fn tokens_beyond_the_retention_horizon_expire() {
    let app = spawn_app_with(|c| c.sync_token_retention_secs = 600).await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let c = "/api/user/contacts";
    let t = new_token(&app, c, &ann).await;
    diff_once(&app, c, &ann, &t, None).await;
    // Past the horizon, well within the access token's hour.
    app.clock.advance(std::time::Duration::from_secs(601));
    let resp = app
        .post(&format!("{c}/sync_tokens/{t}/diff"), Some(&ann), &json!({}))
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "SYNC_TOKEN_EXPIRED").await;
    let fresh = new_token(&app, c, &ann).await;
    diff_once(&app, c, &ann, &fresh, None).await;
}

// ---------------------------------------------------------------------------
// The model-based randomized test.

/// One sync client: a collection, a token and the replica built only from diffs.
struct Client {
    user: usize,
    base: &'static str,
    token: String,
    top: Option<usize>,
    replica: BTreeMap<String, Value>,
}

const COLLECTIONS: [&str; 3] = [
    "/api/user/contacts",
    "/api/user/business_contacts",
    "/api/user/extension_contacts",
];

/// Every item of a listing (paging through `skip`), keyed by id; without
/// `sync_type`, which diff items do not carry.
async fn listing(app: &TestApp, base: &str, auth: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut skip = 0;
    loop {
        let l = json_of(
            app.get(&format!("{base}?top=100&skip={skip}"), Some(auth))
                .await,
        )
        .await;
        let items = l["items"].as_array().cloned().unwrap_or_default();
        for mut i in items.iter().cloned() {
            if let Some(m) = i.as_object_mut() {
                m.remove("sync_type");
            }
            out.insert(i["id"].as_str().unwrap_or("").to_owned(), i);
        }
        skip += items.len();
        if items.is_empty() || skip as u64 >= l["count"].as_u64().unwrap_or(0) {
            return out;
        }
    }
}

async fn sync(app: &TestApp, c: &mut Client, auth: &str) -> usize {
    let (items, next) = full_diff(app, c.base, auth, &c.token, c.top).await;
    let n = items.len();
    for mut item in items {
        let id = item["id"].as_str().expect("id").to_owned();
        let ct = item["change_type"].as_str().expect("type").to_owned();
        if let Some(m) = item.as_object_mut() {
            m.remove("change_type");
        }
        match ct.as_str() {
            "CREATED" => {
                assert!(
                    !c.replica.contains_key(&id),
                    "CREATED for {id}, which the client has"
                );
                c.replica.insert(id, item);
            }
            "UPDATED" => {
                c.replica.insert(id, item);
            }
            "DELETED" => {
                c.replica.remove(&id);
            }
            other => panic!("change_type {other}"),
        }
    }
    c.token = next;
    n
}

#[tokio::test]
async fn model_based_randomized_sync() {
    let seed: u64 = std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    let ops: usize = std::env::var("MODEL_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    println!("model_based_randomized_sync: MODEL_SEED={seed} MODEL_OPS={ops}");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn_app_with(|c| c.durability = switchboard_events::Durability::Os).await;
    let t = app.tenant("model.example").await;
    let admin = t.admin.clone();
    let names = ["ann", "bob", "cid"];
    let mut auth = Vec::new();
    for (i, n) in names.iter().enumerate() {
        app.create_user(&admin, &user_body(n, &format!("20{i}")))
            .await;
        auth.push(app.token_for(n, "Passw0rd-123", "model.example").await);
    }
    // Clients: every user syncs every collection, some with paging.
    let mut clients = Vec::new();
    for (u, token_of_u) in auth.iter().enumerate() {
        for base in COLLECTIONS {
            let top = match rng.gen_range(0..3) {
                0 => None,
                1 => Some(1),
                _ => Some(rng.gen_range(2..6)),
            };
            let token = new_token(&app, base, token_of_u).await;
            let replica = listing(&app, base, token_of_u).await;
            clients.push(Client {
                user: u,
                base,
                token,
                top,
                replica,
            });
        }
    }
    // The model's view of what exists, to pick targets.
    let mut personal: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    let mut business: Vec<String> = Vec::new();
    let mut extra_users: Vec<String> = Vec::new();
    let base_users: Vec<String> = listing(&app, COLLECTIONS[2], &auth[0])
        .await
        .into_keys()
        .collect();
    let mut next_number = 300;
    let mut polls = 0;
    for step in 0..ops {
        let u = rng.gen_range(0..names.len());
        let roll = rng.gen_range(0..100);
        let ok = |s: StatusCode| assert!(s.is_success(), "step {step}: {s} (seed {seed})");
        match roll {
            0..=14 => {
                let id = create_contact(
                    &app,
                    COLLECTIONS[0],
                    &auth[u],
                    &json!({"name": format!("p{step}")}),
                )
                .await;
                personal[u].push(id);
            }
            15..=24 if !personal[u].is_empty() => {
                let id = &personal[u][rng.gen_range(0..personal[u].len())];
                let body = json!({"company": format!("co{}", rng.gen_range(0..5))});
                ok(app
                    .post(&format!("{}/{id}", COLLECTIONS[0]), Some(&auth[u]), &body)
                    .await
                    .status());
            }
            25..=30 if !personal[u].is_empty() => {
                let k = rng.gen_range(0..personal[u].len());
                let id = personal[u].swap_remove(k);
                ok(app
                    .post(
                        &format!("{}/{id}/destroy", COLLECTIONS[0]),
                        Some(&auth[u]),
                        &json!({}),
                    )
                    .await
                    .status());
            }
            31..=42 => {
                let id = create_contact(
                    &app,
                    "/api/contacts",
                    &admin,
                    &json!({"name": format!("b{step}")}),
                )
                .await;
                business.push(id);
            }
            43..=50 if !business.is_empty() => {
                let id = &business[rng.gen_range(0..business.len())];
                let body = json!({"title": format!("t{}", rng.gen_range(0..5))});
                ok(app
                    .post(&format!("/api/contacts/{id}"), Some(&admin), &body)
                    .await
                    .status());
            }
            51..=55 if !business.is_empty() => {
                let k = rng.gen_range(0..business.len());
                let id = business.swap_remove(k);
                ok(app
                    .post(
                        &format!("/api/contacts/{id}/destroy"),
                        Some(&admin),
                        &json!({}),
                    )
                    .await
                    .status());
            }
            56..=59 if extra_users.len() < 40 => {
                next_number += 1;
                let id = app
                    .create_user(
                        &admin,
                        &user_body(&format!("x{next_number}"), &next_number.to_string()),
                    )
                    .await;
                extra_users.push(id);
            }
            60..=63 if !extra_users.is_empty() => {
                let id = &extra_users[rng.gen_range(0..extra_users.len())];
                let body = if rng.gen_bool(0.5) {
                    json!({"department": format!("d{}", rng.gen_range(0..4))})
                } else {
                    next_number += 1;
                    json!({"extension_number": next_number.to_string()})
                };
                ok(app
                    .post(&format!("/api/users/{id}"), Some(&admin), &body)
                    .await
                    .status());
            }
            64..=65 if !extra_users.is_empty() => {
                let k = rng.gen_range(0..extra_users.len());
                let id = extra_users.swap_remove(k);
                ok(app
                    .post(
                        &format!("/api/users/{id}/destroy"),
                        Some(&admin),
                        &json!({}),
                    )
                    .await
                    .status());
            }
            66..=89 => {
                // Favorite or unfavorite something in one of the collections.
                let c = rng.gen_range(0..3);
                let pool: Vec<&String> = match c {
                    0 => personal[u].iter().collect(),
                    1 => business.iter().collect(),
                    _ => base_users.iter().chain(extra_users.iter()).collect(),
                };
                if !pool.is_empty() {
                    let id = pool[rng.gen_range(0..pool.len())];
                    let action = if rng.gen_bool(0.6) {
                        "favorite"
                    } else {
                        "unfavorite"
                    };
                    let path = format!("{}/{id}/{action}", COLLECTIONS[c]);
                    ok(app.post(&path, Some(&auth[u]), &json!({})).await.status());
                }
            }
            _ => {}
        }
        if rng.gen_bool(0.08) {
            let i = rng.gen_range(0..clients.len());
            let who = clients[i].user;
            sync(&app, &mut clients[i], &auth[who]).await;
            polls += 1;
        }
    }
    for c in clients.iter_mut() {
        let who = c.user;
        sync(&app, c, &auth[who]).await;
        let server = listing(&app, c.base, &auth[who]).await;
        let (mine, theirs): (Vec<&String>, Vec<&String>) =
            (c.replica.keys().collect(), server.keys().collect());
        assert_eq!(
            mine, theirs,
            "{} ids of {} diverged (seed {seed})",
            c.base, names[who]
        );
        for (id, item) in &c.replica {
            assert_eq!(
                item, &server[id],
                "{} item {id} of {} diverged (seed {seed})",
                c.base, names[who]
            );
        }
        // A synced client's next diff is empty.
        assert_eq!(sync(&app, c, &auth[who]).await, 0);
    }
    println!(
        "model_based_randomized_sync: {ops} ops, {polls} random polls, seed {seed}: replicas match"
    );
}
