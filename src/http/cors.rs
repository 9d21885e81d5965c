//! CORS for browser clients on another origin (a web softphone, an admin
//! portal): tower-http's layer, built from the configuration.
//!
//! Off by default: with no allowed origin the layer is not installed, no
//! `Access-Control-*` header is sent, and browsers keep cross-origin pages
//! from reading any answer. Credentials mode stays off: switchboard's
//! tokens travel in `Authorization` (or `?access_token=` for
//! `EventSource`), never in cookies, so a page must hold a token to act
//! and no ambient credential is exposed even with `*`.

use crate::config::Config;
use axum::http::{HeaderName, HeaderValue, Method};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// A CORS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorsError {
    /// An origin is not `scheme://host[:port]`.
    #[error("cors_allowed_origins: {0:?} is not an origin (scheme://host[:port], no path)")]
    Origin(String),
    /// A method name is not valid.
    #[error("cors_allowed_methods: {0:?} is not an HTTP method")]
    Method(String),
    /// A header name is not valid.
    #[error("cors_allowed_headers: {0:?} is not a header name")]
    Header(String),
}

/// The CORS layer for this configuration, or `None` when no origin is
/// allowed (the default).
pub fn layer(config: &Config) -> Result<Option<CorsLayer>, CorsError> {
    if config.cors_allowed_origins.is_empty() {
        return Ok(None);
    }
    let origin = if config.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let origins = config
            .cors_allowed_origins
            .iter()
            .map(|o| parse_origin(o))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(origins)
    };
    let methods = config
        .cors_allowed_methods
        .iter()
        .map(|m| {
            Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| CorsError::Method(m.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let headers = config
        .cors_allowed_headers
        .iter()
        .map(|h| HeaderName::try_from(h.trim()).map_err(|_| CorsError::Header(h.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(methods)
            .allow_headers(headers)
            // Scripts may read these on answers (request ids for support
            // tickets, Retry-After on 429/503).
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("retry-after"),
            ])
            .max_age(Duration::from_secs(config.cors_max_age_secs)),
    ))
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn parse_origin(o: &str) -> Result<HeaderValue, CorsError> {
    let bad = || CorsError::Origin(o.to_owned());
    let (scheme, rest) = o.split_once("://").ok_or_else(bad)?;
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !matches!(scheme, "http" | "https") || !host_ok {
        return Err(bad());
    }
    HeaderValue::from_str(o).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(origins: &[&str]) -> Config {
        Config {
            cors_allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            ..Config::default()
        }
    }

    #[test]
    fn off_without_origins() {
        assert!(layer(&Config::default()).expect("valid").is_none());
    }

    #[test]
    fn origins_methods_and_headers_are_checked() {
        assert!(layer(&config(&[
            "https://portal.example",
            "http://127.0.0.1:8080",
            "*"
        ]))
        .expect("valid")
        .is_some());
        for bad in [
            "portal.example",
            "https://portal.example/",
            "https://portal.example/app",
            "ftp://portal.example",
            "https://",
        ] {
            assert!(
                matches!(layer(&config(&[bad])), Err(CorsError::Origin(_))),
                "{bad} accepted"
            );
        }
        let mut c = config(&["https://portal.example"]);
        c.cors_allowed_methods = vec!["GET".into(), "NOT A METHOD".into()];
        assert!(matches!(layer(&c), Err(CorsError::Method(_))));
        let mut c = config(&["https://portal.example"]);
        c.cors_allowed_headers = vec!["bad header".into()];
        assert!(matches!(layer(&c), Err(CorsError::Header(_))));
    }
}
