//! Bulk users: import from CSV or JSON Lines, export with a filter.
//!
//! Shared by `POST /api/users/import`, `GET /api/users/export` and the CLI
//! twin `switchboard users import FILE --tenant T`.
//!
//! # Layout
//! - [`rows`]: reading a file into rows (CSV cells typed by the field table,
//!   JSON Lines objects as the API takes them).
//! - [`export`]: writing users as CSV or JSON Lines with the API's field names.
//! - this module: the import itself.
//!
//! # How an import runs
//! Rows are read on a blocking thread and handed over in **batches of N
//! rows** (`batch_size`, default [`DEFAULT_BATCH`]). Each batch is
//! **all or nothing**: every row is parsed by the parser `POST /users` uses
//! ([`user_input::parse`], which also accepts PHC hashes), clear secrets are
//! hashed in parallel on the blocking pool (at most one hash per core at a
//! time: argon2 takes 19 MiB each), and the batch is decided as one
//! ([`user_import::create_batch`], each row by `POST /users`' own
//! decision) and appended as one atomic append. A batch with any failing
//! row is not written, every failing row of it is reported (row, line,
//! column, code, message), and the import **stops there**: the batches
//! before it stay imported, so the file can be fixed and the rest sent
//! again from the first row of the failed batch. A `dry_run` checks every
//! row of the file against the tenant and the rows before it, writes
//! nothing and hashes nothing.

pub mod export;
pub mod rows;

use crate::auth::password::SecretHasher;
use crate::commands::user_import::{self, Claims, ImportRow, ImportUsers, RowRefusal};
use crate::commands::user_input::{self, Hashes, UserInput};
use crate::commands::users::{CreateUser, NewUserIds};
use crate::commands::{fresh_id, Command, CommandError, Context, NewId, Pipeline, Secret};
use futures::StreamExt;
use rows::{Batch, Format, ReadError};
use serde::Serialize;
use std::collections::HashSet;
use std::io::Read;
use switchboard_events::Id;
use switchboard_projections::directory::Scope;

/// Rows per batch unless told otherwise.
pub const DEFAULT_BATCH: usize = 500;
/// The largest batch (about six events per user, so one append stays a few
/// thousand events).
pub const MAX_BATCH: usize = 2000;
/// Errors reported at most (a dry run of a broken file stops there).
pub const MAX_ERRORS: usize = 1000;

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The file's format.
    pub format: Format,
    /// Validate only: nothing is hashed or written.
    pub dry_run: bool,
    /// Rows per all-or-nothing batch (1 to [`MAX_BATCH`]).
    pub batch_size: usize,
}

/// One row's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Data row number (1-based; 0 for the header).
    pub row: u64,
    /// Line in the file.
    pub line: u64,
    /// Column (API field name); empty when the row as a whole is malformed.
    pub column: String,
    /// The code the single-user API would answer (`VALIDATE_FAILED`,
    /// `ALREADY_EXISTS`, `EXTENSION_NUMBER_IN_USE`...).
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// Rows of a batch that was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RowRange {
    /// First row of the batch.
    pub first_row: u64,
    /// Last row of the batch.
    pub last_row: u64,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Rows per batch.
    pub batch_size: usize,
    /// Rows read.
    pub rows: u64,
    /// Users created (0 in a dry run).
    pub imported: u64,
    /// Rows that passed every check (in a dry run: would be imported).
    pub valid: u64,
    /// Batches written.
    pub batches_committed: u64,
    /// The batch that failed (nothing of it written; nothing after it read).
    pub failed_batch: Option<RowRange>,
    /// Every error found, at most [`MAX_ERRORS`].
    pub errors: Vec<RowError>,
    /// Reading or writing stopped for a reason that is not a row's (the log
    /// stopped taking writes): the service's fault, not the file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl Report {
    /// Whether everything read was imported (or, in a dry run, is valid).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.unavailable.is_none()
    }
}

/// Progress after each batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of the file read.
    pub bytes: u64,
    /// Rows read.
    pub rows: u64,
    /// Users created so far.
    pub imported: u64,
}

/// Where and as whom an import writes.
pub struct Target<'a> {
    /// The write side.
    pub pipeline: &'a Pipeline,
    /// The service's hasher (clear secrets are hashed with it, in parallel,
    /// before the batch goes to the pipeline).
    pub hasher: &'a SecretHasher,
    /// The tenant the users are created in (`ctx.tenant`) and who imports:
    /// recorded on every event, and the decisions bound the roles the rows
    /// may give by what the importer holds.
    pub ctx: Context,
}

/// Imports users from `reader`. Never fails as a whole: what went wrong is
/// in the [`Report`].
pub async fn import<R: Read + Send + 'static>(
    target: &Target<'_>,
    reader: R,
    options: Options,
    mut progress: impl FnMut(Progress),
) -> Report {
    let batch_size = options.batch_size.clamp(1, MAX_BATCH);
    let mut report = Report {
        dry_run: options.dry_run,
        batch_size,
        ..Report::default()
    };
    // Two batches in flight: one being checked or written, one being read.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(1);
    let format = options.format;
    let reading = tokio::task::spawn_blocking(move || {
        rows::read(format, reader, batch_size, |batch| {
            tx.blocking_send(batch).is_ok()
        })
    });
    let mut claims = Claims::default();
    while let Some(batch) = rx.recv().await {
        let (first, last) = match (batch.rows.first(), batch.rows.last()) {
            (Some(f), Some(l)) => (f.row, l.row),
            _ => continue,
        };
        report.rows = last;
        let outcome = run_batch(target, &mut claims, batch.rows, options.dry_run).await;
        match outcome {
            Ok(n) => {
                if !options.dry_run {
                    report.imported += n;
                    report.batches_committed += 1;
                }
            }
            Err(BatchError::Rows(errors)) => {
                let room = MAX_ERRORS.saturating_sub(report.errors.len());
                report.errors.extend(errors.into_iter().take(room));
                if !options.dry_run {
                    report.failed_batch = Some(RowRange {
                        first_row: first,
                        last_row: last,
                    });
                    break;
                }
                if report.errors.len() >= MAX_ERRORS {
                    break;
                }
            }
            Err(BatchError::Unavailable(m)) => {
                report.unavailable = Some(m);
                if !options.dry_run {
                    report.failed_batch = Some(RowRange {
                        first_row: first,
                        last_row: last,
                    });
                }
                break;
            }
        }
        progress(Progress {
            bytes: batch.bytes,
            rows: report.rows,
            imported: report.imported,
        });
    }
    // Stop the reader if we stopped early (it sees the channel closed).
    drop(rx);
    match reading.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => report.errors.push(read_error(e)),
        Err(e) => report.unavailable = Some(format!("the reader failed: {e}")),
    }
    report.valid = if options.dry_run {
        let failing: HashSet<u64> = report.errors.iter().map(|e| e.row).collect();
        report.rows - failing.iter().filter(|r| **r > 0).count() as u64
    } else {
        report.imported
    };
    report
}

fn read_error(e: ReadError) -> RowError {
    RowError {
        row: 0,
        line: e.line,
        column: e.column,
        code: "VALIDATE_FAILED".into(),
        message: e.message,
    }
}

enum BatchError {
    Rows(Vec<RowError>),
    Unavailable(String),
}

fn code_of(e: &CommandError) -> &'static str {
    match e {
        CommandError::Invalid { .. } | CommandError::Rows(_) => "VALIDATE_FAILED",
        CommandError::NotFound(_) => "NOT_FOUND",
        CommandError::Conflict(kind, _) => kind.code(),
        CommandError::Forbidden(..) | CommandError::Escalation { .. } => "FORBIDDEN",
        CommandError::Unavailable(_) | CommandError::Contended(_) => "SERVICE_UNAVAILABLE",
    }
}

fn message_of(e: &CommandError) -> String {
    match e {
        // The column is reported on its own; the message says the rest.
        CommandError::Invalid { field, reason } | CommandError::Escalation { field, reason } => {
            format!("{field}: {reason}")
        }
        other => other.to_string(),
    }
}

/// A parsed row waiting for its secrets' hashes.
struct Parsed {
    row: u64,
    line: u64,
    input: UserInput,
}

/// Checks (and, unless a dry run, writes) one batch; the number of rows.
async fn run_batch(
    target: &Target<'_>,
    claims: &mut Claims,
    batch: Vec<rows::Row>,
    dry_run: bool,
) -> Result<u64, BatchError> {
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(batch.len());
    for r in batch {
        let fields = match r.fields {
            Ok(f) => f,
            Err(e) => {
                errors.push(RowError {
                    row: r.row,
                    line: r.line,
                    code: "VALIDATE_FAILED".into(),
                    message: if e.column.is_empty() {
                        e.message
                    } else {
                        format!("{}: {}", e.column, e.message)
                    },
                    column: e.column,
                });
                continue;
            }
        };
        match user_input::parse(&fields, Hashes::Accepted) {
            Ok(input) => parsed.push(Parsed {
                row: r.row,
                line: r.line,
                input,
            }),
            Err(e) => errors.push(RowError {
                row: r.row,
                line: r.line,
                column: user_import::column_of(&e),
                code: code_of(&e).into(),
                message: message_of(&e),
            }),
        }
    }
    let lines: std::collections::HashMap<u64, u64> =
        parsed.iter().map(|p| (p.row, p.line)).collect();
    let refused = |refusals: Vec<RowRefusal>| -> Vec<RowError> {
        refusals
            .into_iter()
            .map(|r| RowError {
                row: r.row,
                line: lines.get(&r.row).copied().unwrap_or(0),
                code: code_of(&r.error).into(),
                message: message_of(&r.error),
                column: r.column,
            })
            .collect()
    };
    // Decide before hashing, so a batch that cannot pass costs no hashing
    // (and the rows that parsed get their conflicts reported beside the
    // rows that did not): the same decision as the write, with placeholder
    // ids and hashes, under the tenant's lock, appending nothing.
    let mut trial = if dry_run {
        claims.clone()
    } else {
        // A real batch starts fresh: its predecessors are applied.
        Claims::default()
    };
    let inputs: Vec<(u64, UserInput)> = parsed.iter().map(|p| (p.row, p.input.clone())).collect();
    let (tenant, by) = (target.ctx.tenant, target.ctx.by);
    let checked = target
        .pipeline
        .execute(tenant, target.ctx.metadata.clone(), move |dir| {
            let scope = dir.scope_or_empty(tenant);
            let actor = by.actor(dir)?;
            let rows = placeholders(scope, inputs);
            let verdict =
                user_import::create_batch(scope, &actor, &mut trial, &rows).map(|_| trial);
            Ok((crate::commands::Decision::none(), verdict))
        })
        .await;
    match checked {
        // A dry run keeps the claims of its batches: nothing was applied.
        Ok((Ok(trial), _)) if dry_run => *claims = trial,
        Ok((Ok(_), _)) => {}
        Ok((Err(refusals), _)) => errors.extend(refused(refusals)),
        Err(CommandError::Unavailable(m)) => return Err(BatchError::Unavailable(m)),
        Err(other) => return Err(BatchError::Unavailable(other.to_string())),
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(BatchError::Rows(errors));
    }
    let n = parsed.len() as u64;
    if dry_run {
        return Ok(n);
    }
    let rows = hash_all(target.hasher, parsed)
        .await
        .map_err(BatchError::Unavailable)?;
    let import = Command::ImportUsers(ImportUsers { rows });
    match target.pipeline.run(import, target.ctx.clone()).await {
        Ok(_) => Ok(n),
        // Someone else took a name or number since the check: nothing is
        // appended, the rows are reported.
        Err(CommandError::Rows(refusals)) => Err(BatchError::Rows(refused(refusals))),
        Err(CommandError::Unavailable(m)) => Err(BatchError::Unavailable(m)),
        Err(other) => Err(BatchError::Unavailable(other.to_string())),
    }
}

/// CreateUser commands for a check: ids fresh in `scope` and distinct
/// across the rows, placeholder hashes (the decision only passes hashes on
/// to the events, and a check appends nothing).
fn placeholders(scope: &Scope, inputs: Vec<(u64, UserInput)>) -> Vec<ImportRow> {
    let mut minted = HashSet::new();
    let mut mint = |taken: &dyn Fn(Id) -> bool| {
        let id = fresh_id(|id| taken(id) || minted.contains(&id));
        minted.insert(id);
        NewId::given(id)
    };
    inputs
        .into_iter()
        .map(|(row, input)| {
            let ids = NewUserIds {
                user_id: mint(&|id| scope.users.contains_key(&id)),
                extension_id: mint(&|id| scope.extensions.contains_key(&id)),
                link_id: mint(&|id| scope.links.contains_key(&id)),
            };
            let placeholder = || Secret::Hashed(String::new());
            let user = CreateUser {
                ids,
                password: placeholder(),
                extension_password: placeholder(),
                voicemail_pin: placeholder(),
                ..input.into_command()
            };
            ImportRow { row, user }
        })
        .collect()
}

/// Hashes every clear secret of the batch on the blocking pool, as many
/// rows at a time as there are cores (argon2 is CPU- and memory-bound: more
/// at once only queues and costs 19 MiB each). Rows keep their order; the
/// pipeline then finds every secret hashed and only mints ids.
async fn hash_all(hasher: &SecretHasher, parsed: Vec<Parsed>) -> Result<Vec<ImportRow>, String> {
    let parallel = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    futures::stream::iter(parsed)
        .map(|p| {
            let hasher = hasher.clone();
            async move {
                let mut input = p.input;
                let secrets = [
                    std::mem::replace(&mut input.password, Secret::Random),
                    std::mem::replace(&mut input.extension_password, Secret::Random),
                    std::mem::replace(&mut input.voicemail_pin, Secret::Random),
                ];
                let hash = move |s: Secret| match s {
                    Secret::Clear(c) => hasher
                        .hash(&c)
                        .map(Secret::Hashed)
                        .map_err(|e| e.to_string()),
                    other => Ok(other),
                };
                let hashed = if secrets.iter().any(|s| matches!(s, Secret::Clear(_))) {
                    tokio::task::spawn_blocking(move || secrets.map(hash))
                        .await
                        .map_err(|e| e.to_string())?
                } else {
                    secrets.map(Ok::<Secret, String>)
                };
                let [a, b, c] = hashed;
                input.password = a?;
                input.extension_password = b?;
                input.voicemail_pin = c?;
                Ok::<_, String>(ImportRow {
                    row: p.row,
                    user: input.into_command(),
                })
            }
        })
        .buffered(parallel)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}
