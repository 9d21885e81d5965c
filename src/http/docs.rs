//! `GET /docs`: the OpenAPI description rendered by Swagger UI, from files
//! compiled into the binary (`assets/swagger-ui/`, vendored from the npm
//! package `swagger-ui-dist`), so the page works offline and asks nothing of
//! any other host.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const FAVICON: &[u8] = include_bytes!("../../assets/swagger-ui/favicon-32x32.png");

/// The page: Swagger UI pointed at `/openapi.json`, with the online
/// validator badge off (it would call a third-party host).
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>switchboard API</title>
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      validatorUrl: null,
      deepLinking: true,
      docExpansion: "list",
      filter: true,
      tryItOutEnabled: false,
      persistAuthorization: false
    });
  </script>
</body>
</html>
"##;

/// Assets never change within a build: browsers may keep them a day.
const CACHE: &str = "public, max-age=86400";

/// `GET /docs`.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE),
        ],
        body,
    )
        .into_response()
}

/// `GET /docs/swagger-ui-bundle.js`.
pub async fn bundle() -> Response {
    asset("text/javascript; charset=utf-8", BUNDLE)
}

/// `GET /docs/swagger-ui.css`.
pub async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET /docs/favicon-32x32.png`.
pub async fn favicon() -> Response {
    asset("image/png", FAVICON)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_vendored_assets_are_the_pinned_ones() {
        use sha2::{Digest, Sha256};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/swagger-ui");
        let sums = std::fs::read_to_string(format!("{dir}/SHA256SUMS")).expect("SHA256SUMS");
        let mut checked = 0;
        for line in sums.lines() {
            let (sum, file) = line.split_once("  ").expect("sha256sum format");
            let bytes = std::fs::read(format!("{dir}/{file}")).expect("asset");
            let got: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(got, sum, "{file} differs from the vendored swagger-ui-dist");
            checked += 1;
        }
        assert_eq!(checked, 3);
    }

    #[test]
    fn the_page_loads_only_its_own_assets() {
        let elsewhere: Vec<&str> = super::PAGE
            .split(['"', '\''])
            .filter(|s| s.starts_with("http") || s.starts_with("//"))
            .collect();
        assert!(
            elsewhere.is_empty(),
            "the docs page refers to other hosts: {elsewhere:?}"
        );
    }
}
