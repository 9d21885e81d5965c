//! Ring groups: CRUD, number space, member lists and the caller's own list.

use crate::helpers::{assert_error, spawn_app, user_body};
use crate::queues::{create_queue, json_of, set_agents, user_with_role};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn ring_groups_are_created_shown_listed_updated_and_deleted() {
    let app = spawn_app().await;
    let t = app.tenant("rg.example").await;
    let resp = app
        .post(
            "/api/ring_groups",
            Some(&t.admin),
            &json!({"name": "Front desk", "extension_number": "700", "ring_strategy": "PAGING_INTERCOM",
                    "night_mode_forward_rule": {"action": "REPEAT"}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = json_of(resp).await["id"].as_str().expect("id").to_owned();
    let g = json_of(
        app.get(&format!("/api/ring_groups/{id}"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(g["name"], "Front desk");
    assert_eq!(g["extension_number"], "700");
    assert_eq!(g["ring_time"], 20);
    assert_eq!(g["ring_strategy"], "PAGING_INTERCOM");
    assert_eq!(g["night_mode_forward_rule"]["action"], "REPEAT");
    assert_eq!(g["skip_busy_member"], Value::Null, "no spec default");

    let list = json_of(app.get("/api/ring_groups", Some(&t.admin)).await).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["items"][0]["name"], "Front desk");
    assert!(
        list["items"][0].get("outbound_caller_ids").is_none(),
        "summary"
    );

    let resp = app
        .post(
            &format!("/api/ring_groups/{id}"),
            Some(&t.admin),
            &json!({"name": "Lobby", "skip_busy_member": true}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let g = json_of(
        app.get(&format!("/api/ring_groups/{id}"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(g["name"], "Lobby");
    assert_eq!(g["skip_busy_member"], true);

    let resp = app
        .post(
            &format!("/api/ring_groups/{id}"),
            Some(&t.admin),
            &json!({"ring_strategy": "LOUDLY"}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "ring_strategy");

    let owner = json_of(app.get("/api/extension_numbers/700", Some(&t.admin)).await).await;
    assert_eq!(
        owner,
        json!({"id": id, "extension_number": "700", "name": "Lobby", "type": "RING_GROUP"})
    );
    let resp = app
        .post("/api/users", Some(&t.admin), &user_body("ann", "700"))
        .await;
    assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;
    create_queue(&app, &t.admin, "Q", "701").await;
    let resp = app
        .post(
            "/api/ring_groups",
            Some(&t.admin),
            &json!({"name": "RG", "extension_number": "701"}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;

    let resp = app
        .post(
            &format!("/api/ring_groups/{id}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .get(&format!("/api/ring_groups/{id}"), Some(&t.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let resp = app.get("/api/extension_numbers/700", Some(&t.admin)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn ring_group_members_are_listed_and_users_see_their_own_groups() {
    let app = spawn_app().await;
    let t = app.tenant("rg.example").await;
    let (_, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, bob) = user_with_role(&app, &t, "bob", "102", "StandardUser").await;
    let resp = app
        .post(
            "/api/ring_groups",
            Some(&t.admin),
            &json!({"name": "Desk", "extension_number": "700"}),
        )
        .await;
    let id = json_of(resp).await["id"].as_str().expect("id").to_owned();
    let resp = app
        .post(
            &format!("/api/ring_groups/{id}/agents"),
            Some(&t.admin),
            &json!({"items": [{"extension_number": "101", "skill_level": 2}]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let agents = json_of(
        app.get(&format!("/api/ring_groups/{id}/agents"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(
        agents,
        json!({"items": [{"extension_number": "101", "display_name": "ann display", "skill_level": 2}]}),
        "ring group members have no agent status"
    );
    let one = json_of(
        app.get(&format!("/api/ring_groups/{id}/agents/101"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(one["skill_level"], 2);
    let resp = app
        .get(&format!("/api/ring_groups/{id}/agents/102"), Some(&t.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    let mine = json_of(app.get("/api/user/ring_groups", Some(&ann)).await).await;
    assert_eq!(
        mine,
        json!({"items": [{"id": id, "name": "Desk", "extension_number": "700"}]})
    );
    let none = json_of(app.get("/api/user/ring_groups", Some(&bob)).await).await;
    assert_eq!(none, json!({"items": []}));

    let resp = app
        .post(
            "/api/ring_groups",
            Some(&ann),
            &json!({"name": "X", "extension_number": "709"}),
        )
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    set_agents(&app, &t.admin, "ring_groups", &id, &[]).await;
    let none = json_of(app.get("/api/user/ring_groups", Some(&ann)).await).await;
    assert_eq!(none, json!({"items": []}));
}
