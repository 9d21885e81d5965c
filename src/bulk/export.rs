//! Writing users as CSV or JSON Lines, with the API's field names, so an
//! export reads as `GET /users/{id}` answers and imports elsewhere (add the
//! secrets, which are never exported).

use super::rows::{is_json_column, Format};
use crate::field_tables::user::USER;
use crate::field_tables::Kind;
use serde_json::{Map, Value};

/// The export's columns, in order: the core fields, every attribute of the
/// field table (secrets and input-only fields left out), then `created_at`.
pub fn columns() -> Vec<&'static str> {
    let mut out = vec!["id", "name", "role", "extension_number"];
    out.extend(
        USER.fields
            .iter()
            .filter(|f| !matches!(f.kind, Kind::Secret { .. }) && !f.kind.input_only())
            .map(|f| f.name),
    );
    out.push("created_at");
    out
}

/// A CSV cell for a rendered value: strings as they are, numbers and
/// booleans as their JSON text, objects and lists as JSON, null as empty.
fn cell(column: &str, v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if !is_json_column(column) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Writes `users` (rendered as the API renders them) in `format`.
pub fn write(
    format: Format,
    users: impl IntoIterator<Item = Map<String, Value>>,
) -> Result<Vec<u8>, std::io::Error> {
    let columns = columns();
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(&columns)?;
            for u in users {
                w.write_record(columns.iter().map(|c| cell(c, u.get(*c))))?;
            }
            w.into_inner().map_err(|e| e.into_error())
        }
        Format::JsonLines => {
            let mut out = Vec::new();
            for u in users {
                let mut m = Map::new();
                for c in &columns {
                    if let Some(v) = u.get(*c) {
                        m.insert((*c).to_owned(), v.clone());
                    }
                }
                serde_json::to_writer(&mut out, &Value::Object(m))?;
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rows;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_csv_export_reads_back_as_the_same_fields() {
        let user = json!({
            "id": "MTIz", "name": "ann", "role": "Admin", "extension_number": "1001",
            "email": "a@example.com", "display_name": "Ann, \"the\" first", "enabled": false,
            "office_hours": {"mode": "GLOBAL"}, "voicemail_pin": null,
            "created_at": "2026-01-01T00:00:00Z",
        });
        let Value::Object(user) = user else {
            unreachable!()
        };
        let bytes = write(Format::Csv, [user.clone()]).expect("writes");
        let mut back = Vec::new();
        rows::read(Format::Csv, bytes.as_slice(), 10, |b| {
            back.extend(b.rows);
            true
        })
        .expect("reads");
        let fields = back[0].fields.clone().expect("valid row");
        for key in [
            "name",
            "role",
            "email",
            "display_name",
            "enabled",
            "office_hours",
        ] {
            assert_eq!(fields.get(key), user.get(key), "{key}");
        }
        assert!(!fields.contains_key("id") && !fields.contains_key("voicemail_pin"));
        let header = String::from_utf8(bytes).expect("utf8");
        assert!(header.starts_with("id,name,role,extension_number,email,display_name,"));
        let first = header.lines().next().unwrap_or("");
        assert!(!first
            .split(',')
            .any(|c| c == "voicemail_pin" || c == "password"));
    }
}
