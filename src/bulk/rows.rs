//! Reading an import file into rows: CSV (a header line of API field names)
//! or JSON Lines (one JSON object per line, as `POST /users` takes it).
//!
//! Reading is blocking (the `csv` crate reads from `std::io::Read`) and runs
//! on its own blocking thread; it hands rows over in batches through a
//! bounded channel, so a large file is never held whole and a slow commit
//! holds the reader back.

use crate::field_tables::user::USER;
use crate::field_tables::Kind;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header line.
    Csv,
    /// JSON Lines: one object per line; blank lines are skipped.
    JsonLines,
}

impl Format {
    /// Parses `csv`, `jsonl` (also `ndjson`, `json-lines`).
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json-lines" | "jsonlines" => Some(Format::JsonLines),
            _ => None,
        }
    }

    /// The format a media type names, if any.
    pub fn from_media_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" => Some(Format::Csv),
            "application/x-ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines" => Some(Format::JsonLines),
            _ => None,
        }
    }

    /// The media type of an export in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::JsonLines => "application/x-ndjson",
        }
    }
}

/// A problem with one cell or row, before any rule of the API is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// The column (empty when the row as a whole is malformed).
    pub column: String,
    /// What is wrong.
    pub message: String,
}

/// One data row: its number, where it starts, and its fields as the JSON
/// object the API would have received (or why it is not one).
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based number among the data rows (the CSV header is not a row).
    pub row: u64,
    /// 1-based line in the file where the row starts.
    pub line: u64,
    /// The fields, or the cell that could not be read.
    pub fields: Result<Map<String, Value>, CellError>,
}

/// A batch of rows handed to the importer.
#[derive(Debug)]
pub struct Batch {
    /// The rows, in file order.
    pub rows: Vec<Row>,
    /// Bytes of the file read so far (for progress).
    pub bytes: u64,
}

/// Reading stopped: the file cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {column}: {message}")]
pub struct ReadError {
    /// Where (1 for the header).
    pub line: u64,
    /// The column, if one is at fault (an unknown header).
    pub column: String,
    /// What is wrong.
    pub message: String,
}

/// What a file's column turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// A JSON string.
    Text,
    /// `true` / `false`.
    Bool,
    /// An integer.
    Int,
    /// JSON text (objects and lists: office hours, forward rules, BLFs...).
    Json,
    /// Read-only columns an export carries (`id`, `created_at`): ignored, so
    /// an export can be imported elsewhere.
    Ignored,
}

/// Core columns (not in the field table) that are strings.
const CORE_TEXT: &[&str] = &[
    "name",
    "role",
    "extension_number",
    "password",
    "password_hash",
    "extension_password",
    "extension_password_hash",
    "voicemail_pin",
    "voicemail_pin_hash",
];

/// Columns an export writes that an import ignores.
pub const IGNORED: &[&str] = &["id", "created_at"];

fn cell_kind(column: &str) -> Option<Cell> {
    if CORE_TEXT.contains(&column) {
        return Some(Cell::Text);
    }
    if IGNORED.contains(&column) {
        return Some(Cell::Ignored);
    }
    let field = USER.field(column)?;
    Some(match field.kind {
        Kind::Bool => Cell::Bool,
        Kind::Int { .. } => Cell::Int,
        Kind::WeekHours { .. }
        | Kind::ForwardRule { .. }
        | Kind::CustomForwardRules
        | Kind::CallerIds { .. }
        | Kind::Blfs
        | Kind::Object(_)
        | Kind::CheckedObject { .. } => Cell::Json,
        _ => Cell::Text,
    })
}

/// Whether a column holds JSON text in CSV (for the export).
pub fn is_json_column(column: &str) -> bool {
    cell_kind(column) == Some(Cell::Json)
}

fn convert(kind: Cell, column: &str, raw: &str) -> Result<Option<Value>, CellError> {
    let bad = |m: &str| CellError {
        column: column.to_owned(),
        message: m.to_owned(),
    };
    // An empty cell is an absent field (its default applies).
    if raw.is_empty() {
        return Ok(None);
    }
    Ok(Some(match kind {
        Cell::Ignored => return Ok(None),
        Cell::Text => Value::String(raw.to_owned()),
        Cell::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("must be true or false")),
        },
        Cell::Int => Value::from(raw.parse::<i64>().map_err(|_| bad("must be an integer"))?),
        Cell::Json => serde_json::from_str(raw)
            .map_err(|e| bad(&format!("must be JSON (as the API takes it): {e}")))?,
    }))
}

/// Counts the bytes read through it (progress).
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads `reader` to the end (or until `sink` refuses more), handing over
/// batches of `batch_size` rows. Returns why reading stopped early, if it
/// did for a reason of the file's (an unknown column, an I/O error).
pub fn read(
    format: Format,
    reader: impl Read,
    batch_size: usize,
    mut sink: impl FnMut(Batch) -> bool,
) -> Result<(), ReadError> {
    let bytes = Arc::new(AtomicU64::new(0));
    let reader = Counting {
        inner: reader,
        read: bytes.clone(),
    };
    let mut rows = Vec::with_capacity(batch_size);
    let mut push = |row: Row, rows: &mut Vec<Row>| -> bool {
        rows.push(row);
        if rows.len() >= batch_size {
            let batch = Batch {
                rows: std::mem::replace(rows, Vec::with_capacity(batch_size)),
                bytes: bytes.load(Ordering::Relaxed),
            };
            return sink(batch);
        }
        true
    };
    let going = match format {
        Format::Csv => read_csv(reader, &mut |r| push(r, &mut rows))?,
        Format::JsonLines => read_json_lines(reader, &mut |r| push(r, &mut rows))?,
    };
    if going && !rows.is_empty() {
        sink(Batch {
            rows,
            bytes: bytes.load(Ordering::Relaxed),
        });
    }
    Ok(())
}

fn io_error(line: u64, e: impl std::fmt::Display) -> ReadError {
    ReadError {
        line,
        column: String::new(),
        message: format!("cannot read the file: {e}"),
    }
}

fn read_csv(reader: impl Read, push: &mut dyn FnMut(Row) -> bool) -> Result<bool, ReadError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let header_error = |column: &str, message: &str| ReadError {
        line: 1,
        column: column.to_owned(),
        message: message.to_owned(),
    };
    let headers = match csv.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(io_error(1, e)),
    };
    let mut columns = Vec::with_capacity(headers.len());
    for raw in headers.iter() {
        let name = std::str::from_utf8(raw)
            .map_err(|_| header_error("", "the header is not UTF-8"))?
            .trim();
        let kind = cell_kind(name).ok_or_else(|| {
            header_error(
                name,
                "unknown column (the API's field names, password_hash, extension_password_hash, voicemail_pin_hash)",
            )
        })?;
        if columns.iter().any(|(n, _): &(String, Cell)| n == name) {
            return Err(header_error(name, "column given twice"));
        }
        columns.push((name.to_owned(), kind));
    }
    let mut record = csv::ByteRecord::new();
    let mut n = 0u64;
    loop {
        let line = csv.position().line();
        let fields = match csv.read_byte_record(&mut record) {
            Ok(false) => return Ok(true),
            Ok(true) => fields_of(&columns, &record),
            // A row with a different number of cells: report it, go on.
            Err(e) if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) => Err(CellError {
                column: String::new(),
                message: format!(
                    "has a different number of cells than the header (quote cells that hold \
                     commas, as PHC hashes do: \"$argon2id$v=19$m=19456,t=2,p=1$...\"): {e}"
                ),
            }),
            Err(e) => return Err(io_error(line, e)),
        };
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        n += 1;
        if !push(Row {
            row: n,
            line,
            fields,
        }) {
            return Ok(false);
        }
    }
}

fn fields_of(
    columns: &[(String, Cell)],
    record: &csv::ByteRecord,
) -> Result<Map<String, Value>, CellError> {
    let mut out = Map::new();
    for ((name, kind), raw) in columns.iter().zip(record.iter()) {
        let raw = std::str::from_utf8(raw).map_err(|_| CellError {
            column: name.clone(),
            message: "is not UTF-8".into(),
        })?;
        if let Some(v) = convert(*kind, name, raw)? {
            out.insert(name.clone(), v);
        }
    }
    Ok(out)
}

fn read_json_lines(
    reader: impl Read,
    push: &mut dyn FnMut(Row) -> bool,
) -> Result<bool, ReadError> {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let (mut line, mut n) = (0u64, 0u64);
    loop {
        buf.clear();
        let got = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_error(line + 1, e))?;
        if got == 0 {
            return Ok(true);
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        n += 1;
        let fields = match serde_json::from_slice::<Value>(&buf) {
            Ok(Value::Object(mut m)) => {
                for ignored in IGNORED {
                    m.remove(*ignored);
                }
                Ok(m)
            }
            Ok(_) => Err(CellError {
                column: String::new(),
                message: "must be a JSON object".into(),
            }),
            Err(e) => Err(CellError {
                column: String::new(),
                message: format!("is not valid JSON: {e}"),
            }),
        };
        if !push(Row {
            row: n,
            line,
            fields,
        }) {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(format: Format, text: &str, batch: usize) -> Result<Vec<Vec<Row>>, ReadError> {
        let mut out = Vec::new();
        read(format, text.as_bytes(), batch, |b| {
            out.push(b.rows);
            true
        })?;
        Ok(out)
    }

    #[test]
    fn csv_cells_become_the_api_types_and_empty_cells_are_absent() {
        let text = "id,name,enabled,office_hours,display_name,email,extension_number\n\
                    x,ann,FALSE,\"{\"\"mode\"\":\"\"GLOBAL\"\"}\",Ann,,1001\n";
        let batches = all(Format::Csv, text, 10).expect("reads");
        let row = &batches[0][0];
        assert_eq!((row.row, row.line), (1, 2));
        assert_eq!(
            row.fields.clone().expect("fields"),
            json!({"name": "ann", "enabled": false, "office_hours": {"mode": "GLOBAL"},
                   "display_name": "Ann", "extension_number": "1001"})
            .as_object()
            .cloned()
            .expect("object")
        );
    }

    #[test]
    fn bad_cells_name_their_row_and_column_and_reading_goes_on() {
        let text = "name,enabled,display_name\nann,yes,Ann\nbob\ncarol,true,\"Carol\"\n";
        let batches = all(Format::Csv, text, 2).expect("reads");
        assert_eq!(batches.len(), 2, "batches of 2 rows");
        let rows: Vec<_> = batches.into_iter().flatten().collect();
        assert_eq!(
            rows[0].fields.clone().expect_err("bad bool").column,
            "enabled"
        );
        assert_eq!((rows[1].row, rows[1].line), (2, 3));
        assert!(rows[1].fields.is_err(), "short row");
        assert!(rows[2].fields.is_ok());
    }

    #[test]
    fn unknown_or_repeated_headers_stop_the_read_naming_the_column() {
        let e = all(Format::Csv, "name,shoe_size\nann,42\n", 10).expect_err("unknown");
        assert_eq!((e.line, e.column.as_str()), (1, "shoe_size"));
        let e = all(Format::Csv, "name,name\nann,ann\n", 10).expect_err("twice");
        assert_eq!(e.column, "name");
    }

    #[test]
    fn json_lines_skip_blank_lines_and_number_rows_and_lines() {
        let text = "{\"name\":\"ann\",\"id\":\"x\"}\n\n[1]\nnot json\n{\"name\":\"bob\"}";
        let rows: Vec<_> = all(Format::JsonLines, text, 10)
            .expect("reads")
            .into_iter()
            .flatten()
            .collect();
        let at: Vec<_> = rows
            .iter()
            .map(|r| (r.row, r.line, r.fields.is_ok()))
            .collect();
        assert_eq!(
            at,
            [(1, 1, true), (2, 3, false), (3, 4, false), (4, 5, true)]
        );
        assert_eq!(
            rows[0].fields.clone().expect("ok"),
            json!({"name": "ann"}).as_object().cloned().expect("object"),
            "read-only keys of an export are dropped"
        );
    }

    #[test]
    fn a_refusing_sink_stops_the_read() {
        let text = "name\na\nb\nc\nd\n";
        let mut seen = 0;
        read(Format::Csv, text.as_bytes(), 1, |_| {
            seen += 1;
            seen < 2
        })
        .expect("reads");
        assert_eq!(seen, 2);
    }
}
