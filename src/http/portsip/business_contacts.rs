//! What the tenant's business phonebook adds to its declared collection
//! ([`crate::collections::contacts::BUSINESS`], whose `/contacts…` routes and
//! users' `/user/business_contacts` view the router builder declares:
//! [`super::items`]): `GET /contacts/export` (CSV).

use crate::field_tables::contact::CONTACT;
use crate::field_tables::to_json;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as ids;
use crate::http::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;
use switchboard_events::TenantId;
use switchboard_projections::directory::Scope;

fn with_tenant<T>(
    state: &AppState,
    tenant: TenantId,
    f: impl FnOnce(&Scope) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    f(state.queries.read().scope_or_empty(tenant))
}

/// `GET /contacts/export`: every business contact as CSV (RFC 4180, a header
/// row of field names, ordered by name), served as a download.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = tenant_of(&caller)?;
    let csv = with_tenant(&state, tenant, |s| {
        let mut rows: Vec<_> = s.business_contacts().collect();
        rows.sort_by(|a, b| {
            CONTACT
                .effective(&a.attrs, "name")
                .as_str()
                .cmp(&CONTACT.effective(&b.attrs, "name").as_str())
                .then(a.id.cmp(&b.id))
        });
        let mut out = String::new();
        let header: Vec<&str> = std::iter::once("id")
            .chain(CONTACT.fields.iter().map(|f| f.name))
            .collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for c in rows {
            let mut cells = vec![csv_cell(&ids::render(c.id))];
            for f in CONTACT.fields {
                let v = match to_json(&CONTACT.effective(&c.attrs, f.name)) {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                cells.push(csv_cell(&v));
            }
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        Ok(out)
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"contacts.csv\"",
            ),
        ],
        csv,
    ))
}

/// One CSV cell: quoted when it holds a separator, quote or line break;
/// a leading `=`, `@`, tab or CR (or `+`/`-` not followed by a digit) is
/// prefixed with `'` so spreadsheets do not run it as a formula, while phone
/// numbers such as `+4930…` stay intact.
pub fn csv_cell(s: &str) -> String {
    let mut chars = s.chars();
    let first = chars.next();
    let second = chars.next();
    let risky = match first {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !second.is_some_and(|c| c.is_ascii_digit() || c == ' ' || c == '('),
        _ => false,
    };
    let s = if risky { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formula_safe() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("+4930123"), "+4930123");
        assert_eq!(csv_cell("-cmd"), "'-cmd");
        assert_eq!(csv_cell(""), "");
    }
}
