//! Shared fixtures for the query module's unit tests.

use serde_json::{Map, Value};

use super::{Dir, FieldType, ListSchema};

/// A representative list schema: one field of every type, two search fields, and the usual
/// `created_at, id` default order.
pub(crate) const SCHEMA: ListSchema = ListSchema {
    fields: &[
        ("id", FieldType::Number),
        ("name", FieldType::String),
        ("email", FieldType::String),
        ("age", FieldType::Number),
        ("enabled", FieldType::Bool),
        ("created_at", FieldType::DateTime),
    ],
    search: &["name", "email", "extension"],
    default_order: &[("created_at", Dir::Asc), ("id", Dir::Asc)],
};

/// Turns a `json!({...})` object into an item; anything else becomes an empty item.
pub(crate) fn item(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
