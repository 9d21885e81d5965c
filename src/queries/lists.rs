//! List schemas derived from the field tables.

use switchboard_projections::query::{Dir, FieldType, ListSchema};

/// Builds a list schema from a resource's core fields and its field table.
/// Called once per resource (the result is leaked into a `'static` so the
/// query engine can borrow it for the life of the process).
pub fn schema_from_table(
    core: &[(&'static str, crate::field_tables::ListType)],
    core_search: &[&'static str],
    table: &crate::field_tables::Table,
    default_order: &'static [(&'static str, Dir)],
) -> ListSchema {
    let convert = |t: crate::field_tables::ListType| match t {
        crate::field_tables::ListType::String => FieldType::String,
        crate::field_tables::ListType::Number => FieldType::Number,
        crate::field_tables::ListType::Bool => FieldType::Bool,
        crate::field_tables::ListType::DateTime => FieldType::DateTime,
    };
    let fields: Vec<(&'static str, FieldType)> = core
        .iter()
        .map(|(n, t)| (*n, convert(*t)))
        .chain(
            table
                .list_fields()
                .into_iter()
                .map(|(n, t)| (n, convert(t))),
        )
        .collect();
    let search: Vec<&'static str> = core_search
        .iter()
        .copied()
        .chain(table.search_fields())
        .collect();
    ListSchema {
        fields: Box::leak(fields.into_boxed_slice()),
        search: Box::leak(search.into_boxed_slice()),
        default_order,
    }
}
