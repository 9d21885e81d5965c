//! `GET /info?domain=...` (retrieveMetadata): what a sign-in page shows
//! before anyone is signed in, so it needs no token.
//!
//! With a known tenant domain it answers that tenant's name and domain
//! and whether its Microsoft 365 integration is enabled (the tenant setting
//! `enable_ms365_integration`); without `domain` it answers switchboard's
//! own name. Network settings (IPs, DNS servers) are not part of a
//! directory service, so they are null / false, and so is the Microsoft
//! identity provider's endpoint (switchboard signs nobody in through it).
//! An unknown domain is 404: it tells a sign-in page no more than a failed
//! sign-in would.

use crate::commands::ms365::INTEGRATION_SETTING;
use crate::field_tables::tenant::TENANT;
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};
use switchboard_events::Value::Bool;

/// The name answered when no domain is asked for.
pub const SERVICE_NAME: &str = "switchboard";

fn metadata(name: &str, domain: Option<&str>, ms365: bool) -> Value {
    json!({
        "web_domain": null,
        "private_ipv4": null,
        "public_ipv4": null,
        "enable_ipv6": false,
        "private_ipv6": null,
        "public_ipv6": null,
        "primary_dns_server": null,
        "secondary_dns_server": null,
        "name": name,
        "domain": domain,
        "website": null,
        "avatar_url": null,
        "enable_ms365_integration": ms365,
        "ms365_authorization_endpoint": null,
    })
}

/// `GET /info`.
pub async fn show(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    // An empty `domain=` is treated as absent, as list parameters are.
    let domain = form_pairs(query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "domain")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|d| !d.is_empty());
    let Some(domain) = domain else {
        return Ok(Json(metadata(SERVICE_NAME, None, false)));
    };
    let dir = state.queries.read();
    let tenant = dir
        .tenant_by_domain(&domain)
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let ms365 = TENANT.effective(&tenant.attrs, INTEGRATION_SETTING) == Bool(true);
    Ok(Json(metadata(&tenant.name, Some(&tenant.domain), ms365)))
}
