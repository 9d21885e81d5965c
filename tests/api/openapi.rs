//! `GET /openapi.json` and `GET /docs`, served from the binary to anyone.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;
use switchboard::http::route_table;

#[tokio::test]
async fn the_description_covers_every_declared_route_and_the_docs_page_loads_its_own_assets() {
    let app = spawn_app().await;
    let resp = app.get("/openapi.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    for r in route_table() {
        let method = r.method.as_str().to_ascii_lowercase();
        assert!(
            doc["paths"][&r.path][&method].is_object(),
            "{} {} is not described",
            r.method,
            r.path
        );
    }
    let resp = app.get("/docs", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/html"));
    let page = resp.text().await.expect("text");
    for asset in [
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
        "/openapi.json",
    ] {
        assert!(page.contains(asset), "the page loads {asset}");
    }
    for (asset, kind) in [
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/favicon-32x32.png", "image/png"),
    ] {
        let resp = app.get(asset, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{asset}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with(kind));
        assert!(
            resp.bytes().await.expect("body").len() > 500,
            "{asset} has content"
        );
    }
}
