//! A user's settings lists (issue #16): phones, speed dials 8 and 100, and
//! holidays under `/user/…` and `/users/{id}/…`, and the tenant's holidays
//! under `/holidays…`. Per family: success, validation naming the field,
//! another user's or tenant's item → 404, and who may reach what.

use crate::contacts::{json_of, two_users};
use crate::helpers::{assert_error, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A valid phone creation with MAC address `mac`.
pub fn phone_body(mac: &str) -> Value {
    json!({"mac": mac, "filename": "yealink_t46u.xml", "vendor": "Yealink", "model": "T46U",
           "password": "admin123", "language": "ENGLISH", "transfer": "BLIND",
           "timezone": "+1", "codecs": ["PCMU", "G722"], "interface": "WEB_DOMAIN",
           "preferred_transport": "TLS"})
}

/// A valid holiday creation: 14 July every year.
pub fn holiday_body(name: &str) -> Value {
    json!({"name": name, "region": "FRA", "consecutive": false, "every_year": true,
           "month_start": 7, "day_start": 14})
}

/// The settings lists the authorization matrix covers, with the sample
/// numbers of the item it keeps and the one it destroys (their keys: a
/// creation in the matrix uses sample 4).
pub const MATRIX_LISTS: [(&str, u8, u8); 4] = [
    ("phones", 1, 2),
    ("speed_dial_8", 2, 3),
    ("speed_dial_100", 2, 3),
    ("holidays", 1, 2),
];

/// Sample item `n` of list `coll` (distinct keys for distinct `n`).
pub fn sample(coll: &str, n: u8) -> Value {
    match coll {
        "phones" => phone_body(&format!("00:00:00:00:00:{n:02}")),
        "speed_dial_8" => dial_body(&n.to_string(), "1001"),
        "speed_dial_100" => dial_body(&format!("{n:02}"), "1001"),
        _ => holiday_body(&format!("Holiday {n}")),
    }
}

/// A speed dial creation.
pub fn dial_body(code: &str, number: &str) -> Value {
    json!({"code": code, "phone_number": number})
}

async fn created(app: &TestApp, path: &str, token: &str, body: &Value) -> String {
    let resp = app.post(path, Some(token), body).await;
    let status = resp.status();
    let v = json_of(resp).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
    v["id"].as_str().expect("id").to_owned()
}

async fn field_error(resp: reqwest::Response) -> Value {
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    err["detail"]["field"].clone()
}

/// The id of user `name` in the caller's tenant.
pub async fn user_id(app: &TestApp, admin: &str, name: &str) -> String {
    let l = json_of(
        app.get(&format!("/api/users?filter=name eq '{name}'"), Some(admin))
            .await,
    )
    .await;
    l["items"][0]["id"].as_str().expect("user id").to_owned()
}

#[tokio::test]
async fn phones_are_assigned_listed_shown_updated_and_removed() {
    let app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let id = created(
        &app,
        "/api/user/phones",
        &ann,
        &phone_body("00:1A:2B:3C:4D:5E"),
    )
    .await;
    let path = format!("/api/user/phones/{id}");
    let p = json_of(app.get(&path, Some(&ann)).await).await;
    assert_eq!(p["id"], id);
    assert_eq!(p["mac"], "00:1A:2B:3C:4D:5E");
    assert_eq!(p["codecs"], json!(["PCMU", "G722"]));
    assert_eq!(p["password"], Value::Null, "write-only");
    assert_eq!(p["enable_lldp"], false, "default");

    let resp = app
        .post(
            &path,
            Some(&ann),
            &json!({"ringtone": "Ring3", "wan_port_id": 100}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let p = json_of(app.get(&path, Some(&ann)).await).await;
    assert_eq!(p["ringtone"], "Ring3");
    assert_eq!(p["wan_port_id"], 100);

    let l = json_of(app.get("/api/user/phones", Some(&ann)).await).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["items"][0]["mac"], "00:1A:2B:3C:4D:5E");

    // One device once per user.
    let resp = app
        .post(
            "/api/user/phones",
            Some(&ann),
            &phone_body("00:1A:2B:3C:4D:5E"),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "ALREADY_EXISTS").await;

    let resp = app
        .post(&format!("{path}/destroy"), Some(&ann), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&path, Some(&ann)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn phone_validation_names_the_field() {
    let app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let mut no_codecs = phone_body("001A2B3C4D5E");
    no_codecs.as_object_mut().map(|m| m.remove("codecs"));
    let mut bad_door = phone_body("001A2B3C4D5E");
    bad_door["door_password1"] = json!("12ab");
    for (body, field) in [
        (phone_body("00:1A:2B"), "mac"),
        (no_codecs, "codecs"),
        (bad_door, "door_password1"),
        (json!({"mac": 5}), "mac"),
    ] {
        let resp = app.post("/api/user/phones", Some(&ann), &body).await;
        assert_eq!(field_error(resp).await, field, "{body}");
    }
    let id = created(&app, "/api/user/phones", &ann, &phone_body("001A2B3C4D5E")).await;
    let path = format!("/api/user/phones/{id}");
    for (body, field) in [
        (json!({"mac": "001A2B3C4D5F"}), "mac"),
        (json!({"wan_port_id": 4095}), "wan_port_id"),
        (json!({"language": "KLINGON"}), "language"),
        (json!({"nope": 1}), "nope"),
    ] {
        let resp = app.post(&path, Some(&ann), &body).await;
        assert_eq!(field_error(resp).await, field, "{body}");
    }
}

#[tokio::test]
async fn speed_dials_keep_their_key_ranges_and_refuse_a_taken_key() {
    let app = spawn_app().await;
    let (_, ann, bob) = two_users(&app, "acme.example").await;
    let two = created(
        &app,
        "/api/user/speed_dial_8",
        &ann,
        &dial_body("2", "1001"),
    )
    .await;
    created(
        &app,
        "/api/user/speed_dial_8",
        &ann,
        &dial_body("9", "1009"),
    )
    .await;
    // Another user's list has its own keys.
    created(
        &app,
        "/api/user/speed_dial_8",
        &bob,
        &dial_body("2", "2002"),
    )
    .await;
    let resp = app
        .post(
            "/api/user/speed_dial_8",
            Some(&ann),
            &dial_body("2", "1002"),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "ALREADY_EXISTS").await;
    for code in ["0", "1", "10", "a"] {
        let resp = app
            .post("/api/user/speed_dial_8", Some(&ann), &dial_body(code, "1"))
            .await;
        assert_eq!(field_error(resp).await, "code", "{code}");
    }
    // Moving a dial onto a taken key is a conflict too; onto a free one is not.
    let path = format!("/api/user/speed_dial_8/{two}");
    let resp = app.post(&path, Some(&ann), &json!({"code": "9"})).await;
    assert_error(resp, StatusCode::CONFLICT, "ALREADY_EXISTS").await;
    let resp = app
        .post(
            &path,
            Some(&ann),
            &json!({"code": "5", "description": "desk"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let d = json_of(app.get(&path, Some(&ann)).await).await;
    assert_eq!(
        (d["code"].clone(), d["phone_number"].clone()),
        (json!("5"), json!("1001"))
    );
    assert_eq!(d["description"], "desk");
    let l = json_of(app.get("/api/user/speed_dial_8", Some(&ann)).await).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["items"][0]["code"], "5", "ordered by code");

    let d00 = created(
        &app,
        "/api/user/speed_dial_100",
        &ann,
        &dial_body("00", "1"),
    )
    .await;
    created(
        &app,
        "/api/user/speed_dial_100",
        &ann,
        &dial_body("99", "2"),
    )
    .await;
    for code in ["0", "100", "x1"] {
        let resp = app
            .post(
                "/api/user/speed_dial_100",
                Some(&ann),
                &dial_body(code, "1"),
            )
            .await;
        assert_eq!(field_error(resp).await, "code", "{code}");
    }
    let resp = app
        .post(
            "/api/user/speed_dial_100",
            Some(&ann),
            &dial_body("99", "3"),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "ALREADY_EXISTS").await;
    let resp = app
        .post(
            &format!("/api/user/speed_dial_100/{d00}/destroy"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // The key is free again.
    created(
        &app,
        "/api/user/speed_dial_100",
        &ann,
        &dial_body("00", "4"),
    )
    .await;
}

#[tokio::test]
async fn speed_dial_8_holds_eight_keys() {
    let app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    for code in 2..=9 {
        created(
            &app,
            "/api/user/speed_dial_8",
            &ann,
            &dial_body(&code.to_string(), "1"),
        )
        .await;
    }
    let l = json_of(app.get("/api/user/speed_dial_8", Some(&ann)).await).await;
    assert_eq!(l["count"], 8);
}

#[tokio::test]
async fn holidays_validate_their_dates() {
    let app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    for path in ["/api/user/holidays", "/api/holidays"] {
        let token = if path == "/api/holidays" {
            &admin
        } else {
            &ann
        };
        let id = created(&app, path, token, &holiday_body("Bastille Day")).await;
        let h = json_of(app.get(&format!("{path}/{id}"), Some(token)).await).await;
        assert_eq!(h["name"], "Bastille Day");
        assert_eq!(h["month_start"], 7);
        assert_eq!(h["year_start"], Value::Null);
        let range = json!({"name": "Winter break", "region": "FRA", "consecutive": true,
                           "every_year": true, "month_start": 12, "day_start": 24,
                           "month_end": 1, "day_end": 2});
        created(&app, path, token, &range).await;
        for (patch, field) in [
            (json!({"month_start": 4, "day_start": 31}), "day_start"),
            (
                json!({"every_year": false, "month_start": 2, "day_start": 29, "year_start": 2027}),
                "day_start",
            ),
            (json!({"every_year": false}), "year_start"),
            (json!({"region": "france"}), "region"),
            (json!({"hour_start": 24}), "hour_start"),
            (json!({"hour_start": 18, "hour_end": 9}), "hour_end"),
            (json!({"name": ""}), "name"),
        ] {
            let mut body = holiday_body("Bad");
            for (k, v) in patch.as_object().into_iter().flatten() {
                body[k] = v.clone();
            }
            let resp = app.post(path, Some(token), &body).await;
            assert_eq!(field_error(resp).await, field, "{path} {body}");
        }
        // An update is judged on the holiday as it would be.
        let resp = app
            .post(
                &format!("{path}/{id}"),
                Some(token),
                &json!({"consecutive": true}),
            )
            .await;
        assert_eq!(field_error(resp).await, "month_end", "{path}");
        let resp = app
            .post(
                &format!("{path}/{id}"),
                Some(token),
                &json!({"consecutive": true, "month_end": 7, "day_end": 15}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let l = json_of(app.get(path, Some(token)).await).await;
        assert_eq!(l["count"], 2, "{path}");
        assert_eq!(l["items"][0]["name"], "Bastille Day", "{path}: by name");
        let resp = app
            .post(&format!("{path}/{id}/destroy"), Some(token), &json!({}))
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn another_users_or_tenants_items_are_not_found() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "acme.example").await;
    let (other_admin, _, _) = two_users(&app, "other.example").await;
    let ann_id = user_id(&app, &admin, "ann").await;
    let lists = [
        ("phones", phone_body("00:1A:2B:3C:4D:5E")),
        ("speed_dial_8", dial_body("3", "1")),
        ("speed_dial_100", dial_body("33", "1")),
        ("holidays", holiday_body("Mine")),
    ];
    for (coll, body) in &lists {
        let id = created(&app, &format!("/api/user/{coll}"), &ann, body).await;
        let own = format!("/api/user/{coll}/{id}");
        // Bob's /user/… is Bob's list: Ann's item is not in it.
        for (path, b) in [
            (own.clone(), None),
            (own.clone(), Some(json!({}))),
            (format!("{own}/destroy"), Some(json!({}))),
        ] {
            let resp = match b {
                None => app.get(&path, Some(&bob)).await,
                Some(b) => app.post(&path, Some(&bob), &b).await,
            };
            assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        }
        // The tenant's Admin reaches it under /users/{id}/…
        let admin_path = format!("/api/users/{ann_id}/{coll}/{id}");
        let got = json_of(app.get(&admin_path, Some(&admin)).await).await;
        assert_eq!(got["id"], id, "{coll}");
        let resp = app.post(&admin_path, Some(&admin), &json!({})).await;
        assert_eq!(resp.status(), StatusCode::OK, "{coll}");
        let l = json_of(
            app.get(&format!("/api/users/{ann_id}/{coll}"), Some(&admin))
                .await,
        )
        .await;
        assert_eq!(l["count"], 1, "{coll}");
        // Another tenant's Admin: not found, whatever the ids.
        let resp = app.get(&admin_path, Some(&other_admin)).await;
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        let resp = app
            .post(
                &format!("{admin_path}/destroy"),
                Some(&other_admin),
                &json!({}),
            )
            .await;
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        // A StandardUser never reaches another user's lists.
        let resp = app
            .get(&format!("/api/users/{ann_id}/{coll}"), Some(&bob))
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{coll}");
        let resp = app
            .post(&format!("/api/users/{ann_id}/{coll}"), Some(&bob), body)
            .await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{coll}");
        // The Admin creates in Ann's list; Ann sees it as her own.
        let made = created(&app, &format!("/api/users/{ann_id}/{coll}"), &admin, &{
            let mut b = body.clone();
            match *coll {
                "phones" => b["mac"] = json!("00:1A:2B:3C:4D:5F"),
                "speed_dial_8" => b["code"] = json!("4"),
                "speed_dial_100" => b["code"] = json!("44"),
                _ => {}
            }
            b
        })
        .await;
        let mine = app
            .get(&format!("/api/user/{coll}/{made}"), Some(&ann))
            .await;
        assert_eq!(mine.status(), StatusCode::OK, "{coll}");
    }
    // Tenant holidays: a StandardUser may not change them; another tenant
    // does not see them.
    let h = created(&app, "/api/holidays", &admin, &holiday_body("Company day")).await;
    let resp = app
        .post("/api/holidays", Some(&ann), &holiday_body("Mine"))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app
        .get(&format!("/api/holidays/{h}"), Some(&other_admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let l = json_of(app.get("/api/holidays", Some(&other_admin)).await).await;
    assert_eq!(l["count"], 0);
}

#[tokio::test]
async fn settings_lists_are_audited_and_survive_a_restart() {
    let mut app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    let id = created(
        &app,
        "/api/user/speed_dial_8",
        &ann,
        &dial_body("7", "1007"),
    )
    .await;
    let path = format!("/api/user/speed_dial_8/{id}");
    let resp = app
        .post(&path, Some(&ann), &json!({"phone_number": "1008"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = created(&app, "/api/holidays", &admin, &holiday_body("Founders day")).await;
    let resp = app
        .post(
            &format!("/api/holidays/{h}"),
            Some(&admin),
            &json!({"name": "Founders' day"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    app.restart().await;
    let ann = app.token_for("ann", "Passw0rd-123", "acme.example").await;
    let admin = app.token_for("boss", "Passw0rd-123", "acme.example").await;
    let d = json_of(app.get(&path, Some(&ann)).await).await;
    assert_eq!(d["phone_number"], "1008");
    let all = json_of(app.get("/api/audit_logs?top=100", Some(&admin)).await).await;
    let items = all["items"].as_array().expect("items");
    let of = |t: &str| items.iter().filter(|i| i["object_type"] == t).count();
    assert_eq!(of("SPEED_DIAL_8"), 2, "{all}");
    assert_eq!(of("TENANT_HOLIDAYS"), 2, "{all}");
    // A user's own dial is private: which fields changed, never the values.
    assert!(!all.to_string().contains("1008"), "{all}");
    assert!(all.to_string().contains("Founders' day"), "{all}");
}

#[tokio::test]
async fn outbound_caller_ids_are_the_users_then_the_tenants() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "acme.example").await;
    let ann_id = user_id(&app, &admin, "ann").await;
    let resp = app
        .post(
            &format!("/api/users/{ann_id}"),
            Some(&admin),
            &json!({"outbound_caller_ids": [
                {"provider_id": "trunk1", "caller_id": "+331000", "description": "main"},
                {"provider_id": "trunk1", "caller_id": "+331001", "preferred": true}]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let l = json_of(app.get("/api/user/outbound_caller_ids", Some(&ann)).await).await;
    assert_eq!(
        l["items"],
        json!([{"provider_id": "trunk1", "caller_id": "+331001", "description": null},
               {"provider_id": "trunk1", "caller_id": "+331000", "description": "main"}]),
        "the preferred one first"
    );
    let l = json_of(app.get("/api/user/outbound_caller_ids", Some(&bob)).await).await;
    assert_eq!(l["items"], json!([]), "bob has none of ann's");
    let resp = app.get("/api/user/outbound_caller_ids", None).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn global_holidays_select_tenant_holidays_that_exist() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "acme.example").await;
    let (other_admin, _, _) = two_users(&app, "other.example").await;
    let foreign = created(&app, "/api/holidays", &other_admin, &holiday_body("Theirs")).await;
    let a = created(&app, "/api/holidays", &admin, &holiday_body("New year")).await;
    let b = created(&app, "/api/holidays", &admin, &holiday_body("Labour day")).await;
    let l = json_of(app.get("/api/user/global_holidays", Some(&ann)).await).await;
    assert_eq!(l["items"], json!([]), "none selected yet");

    let resp = app
        .post(
            "/api/user/global_holidays",
            Some(&ann),
            &json!({"items": [b, a]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let l = json_of(app.get("/api/user/global_holidays", Some(&ann)).await).await;
    assert_eq!(l["items"][0]["id"], json!(b), "in the order selected");
    assert_eq!(l["items"][0]["name"], "Labour day");
    assert_eq!(l["items"][1]["month_start"], 7);
    let l = json_of(app.get("/api/user/global_holidays", Some(&bob)).await).await;
    assert_eq!(l["items"], json!([]), "bob's selection is his own");

    // Another tenant's holiday, an unknown id, a duplicate: the place is named.
    for (items, field) in [
        (json!([a, foreign]), "items[1]"),
        (json!(["garbage"]), "items[0]"),
        (json!([a, a]), "items[1]"),
        (json!([7]), "items[0]"),
    ] {
        let resp = app
            .post(
                "/api/user/global_holidays",
                Some(&ann),
                &json!({ "items": items }),
            )
            .await;
        assert_eq!(field_error(resp).await, field, "{items}");
    }
    let resp = app
        .post(
            "/api/user/global_holidays",
            Some(&ann),
            &json!({"holidays": []}),
        )
        .await;
    assert_eq!(field_error(resp).await, "holidays");

    // A deleted tenant holiday drops out of every selection.
    let resp = app
        .post(
            &format!("/api/holidays/{b}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let l = json_of(app.get("/api/user/global_holidays", Some(&ann)).await).await;
    assert_eq!(l["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(l["items"][0]["id"], json!(a));

    // The Admin reads and sets Ann's selection; a StandardUser may not;
    // another tenant's Admin does not find her.
    let ann_id = user_id(&app, &admin, "ann").await;
    let path = format!("/api/users/{ann_id}/global_holidays");
    let l = json_of(app.get(&path, Some(&admin)).await).await;
    assert_eq!(l["items"][0]["id"], json!(a));
    let resp = app.post(&path, Some(&admin), &json!({"items": []})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let l = json_of(app.get("/api/user/global_holidays", Some(&ann)).await).await;
    assert_eq!(l["items"], json!([]));
    let resp = app.get(&path, Some(&bob)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app
        .post(&path, Some(&other_admin), &json!({"items": []}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}
