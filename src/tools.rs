//! The offline log tools behind `switchboard log verify|export|import|stats|reindex`
//! and `switchboard replay`.
//!
//! They open the data directory without a writer ([`RawLog`]), taking the
//! log's lock: while a server runs, every tool refuses clearly (exit 1, "in
//! use by another process") instead of reading a state that is changing
//! under it. To inspect a live server's log, stop it, or copy the directory
//! while it is stopped. Only `import` and `reindex` write.
//!
//! Long runs draw a progress bar on stderr when stderr is a terminal, and
//! stay silent when piped.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use switchboard_events::export::{self, ExportLine};
use switchboard_events::progress::{Progress, ProgressEvent};
use switchboard_events::raw::RawLog;
use switchboard_events::verify::{hex, verify_records};
use switchboard_events::{Envelope, LogConfig, SegmentLog};
use switchboard_projections::rebuild::{rebuild, Until};
use switchboard_projections::{canonical, Directory};

/// A tool failed; `code` is the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    /// What to print.
    pub message: String,
    /// Exit code (1 = failure or corruption, 2 = bad usage).
    pub code: i32,
}

fn fail(message: impl Into<String>) -> ToolError {
    ToolError {
        message: message.into(),
        code: 1,
    }
}

/// A progress bar of `len` steps, drawn only on a terminal.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A progress bar over `len` bytes of a file, drawn only on a terminal.
pub fn progress_bytes(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_owned());
    bar
}

/// Log progress (migration, index rebuild) drawn as bars on a terminal.
pub fn log_progress() -> Progress {
    let bar = parking_lot::Mutex::new(None::<ProgressBar>);
    Progress::to(move |event| {
        let mut bar = bar.lock();
        match event {
            ProgressEvent::Start { what, total } => *bar = Some(progress(total, what)),
            ProgressEvent::Advance(n) => {
                if let Some(b) = bar.as_ref() {
                    b.set_position(n);
                }
            }
            ProgressEvent::Finish => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    })
}

fn open(dir: &Path) -> Result<RawLog, ToolError> {
    RawLog::open(dir).map_err(|e| fail(e.to_string()))
}

/// What `log verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records.
    pub count: u64,
    /// The last record's hash, hex.
    pub head_hash: String,
    /// A torn write after the last record (cut at the next start; it was
    /// never acknowledged): `(offset it would have had, bytes)`.
    pub torn: Option<(u64, u64)>,
}

/// `log verify`: every CRC, dense offsets from 1, the whole hash chain.
/// Returns `(count, head hash hex)`; the error names the first bad offset.
pub fn verify(dir: &Path) -> Result<(u64, String), ToolError> {
    verify_report(dir).map(|v| (v.count, v.head_hash))
}

/// [`verify`], also reporting a torn tail.
pub fn verify_report(dir: &Path) -> Result<Verified, ToolError> {
    let log = open(dir)?;
    let last = log.last_offset().map_err(|e| fail(e.to_string()))?;
    let bar = progress(last, "verifying");
    let report = verify_records(log.records(1), |o| {
        if o % 4096 == 0 {
            bar.set_position(o);
        }
    });
    bar.finish_and_clear();
    let torn = log
        .torn_tail()
        .map_err(|e| fail(e.to_string()))?
        .map(|t| (t.offset, t.bytes));
    match report {
        Ok(r) => Ok(Verified {
            count: r.count,
            head_hash: hex(&r.head_hash),
            torn,
        }),
        Err(e) => Err(fail(format!(
            "log verification failed at offset {}: {}",
            e.offset, e.reason
        ))),
    }
}

/// Which records `log export` writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportRange {
    /// First offset (default 1).
    pub from: Option<u64>,
    /// Last offset (default: the head).
    pub to: Option<u64>,
    /// Only this tenant's records.
    pub tenant: Option<u64>,
}

/// `log export`: JSON Lines to `out`. Returns the number of lines.
pub fn export(dir: &Path, range: ExportRange, out: &mut dyn Write) -> Result<u64, ToolError> {
    let log = open(dir)?;
    let from = range.from.unwrap_or(1).max(1);
    let last = log.last_offset().map_err(|e| fail(e.to_string()))?;
    let to = range.to.unwrap_or(last).min(last);
    let bar = progress(to.saturating_sub(from) + 1, "exporting");
    let mut n = 0;
    for env in log.envelopes(from) {
        let env = env.map_err(|e| fail(format!("cannot read the log: {e}")))?;
        if env.offset > to {
            break;
        }
        if env.offset % 4096 == 0 {
            bar.set_position(env.offset - from);
        }
        if range.tenant.is_some_and(|t| t != env.tenant.0) {
            continue;
        }
        let mut line = ExportLine::from_envelope(&env);
        // A secret written in clear before sealing existed is not rendered;
        // the record's payload bytes are kept (the hash chain needs them).
        if switchboard_events::Event::from_envelope(&env)
            .is_ok_and(|e| crate::secrets::holds_clear_secret(&e))
        {
            line.event = serde_json::Value::Null;
        }
        let line = serde_json::to_string(&line)
            .map_err(|e| fail(format!("offset {}: cannot encode: {e}", env.offset)))?;
        writeln!(out, "{line}").map_err(|e| fail(format!("cannot write: {e}")))?;
        n += 1;
    }
    out.flush()
        .map_err(|e| fail(format!("cannot write: {e}")))?;
    bar.finish_and_clear();
    Ok(n)
}

/// `log import FILE`: checks the whole chain, then writes a fresh data
/// directory and verifies it. Returns `(count, head hash hex)`.
pub fn import(dir: &Path, file: &Path) -> Result<(u64, String), ToolError> {
    let f = std::fs::File::open(file)
        .map_err(|e| fail(format!("cannot open {}: {e}", file.display())))?;
    let records = export::check_lines(std::io::BufReader::new(f).lines())
        .map_err(|e| fail(format!("refusing the import: {e}")))?;
    let bar = progress(records.len() as u64, "importing");
    let ticker = bar.clone();
    let report = export::write_fresh(dir, records, move |o| ticker.set_position(o))
        .map_err(|e| match e {
            export::ImportError::Storage(reason) if reason.contains("held by another process") => {
                fail(format!("the data directory {} is in use by another process (a running switchboard server holds its lock)", dir.display()))
            }
            other => fail(format!("refusing the import: {other}")),
        })?;
    bar.finish_and_clear();
    // Read it back as `log verify` does.
    let (count, head) = verify(dir)?;
    if count != report.count || head != hex(&report.head_hash) {
        return Err(fail(
            "the imported log does not verify to the export's head",
        ));
    }
    Ok((count, head))
}

/// `log reindex`: rebuilds the index from the segments (also when sled
/// refuses to open the old one). Returns `(count, head hash hex)`.
pub fn reindex(dir: &Path) -> Result<(u64, String), ToolError> {
    let mut config = LogConfig::new(dir);
    config.progress = log_progress();
    SegmentLog::reindex(&config)
        .map(|(count, head)| (count, hex(&head)))
        .map_err(|e| fail(e.to_string()))
}

/// `log stats`.
#[derive(Debug, Default, serde::Serialize)]
pub struct Stats {
    /// Records.
    pub count: u64,
    /// Bytes on disk (segments and index).
    pub size_on_disk: u64,
    /// Segment files.
    pub segments: u64,
    /// First record's time.
    pub first_at: Option<String>,
    /// Last record's time.
    pub last_at: Option<String>,
    /// Records per event type.
    pub by_type: BTreeMap<String, u64>,
    /// Records per tenant (0 = system scope).
    pub by_tenant: BTreeMap<u64, u64>,
}

/// Counts records per event type and tenant.
pub fn stats(dir: &Path) -> Result<Stats, ToolError> {
    let log = open(dir)?;
    let last = log.last_offset().map_err(|e| fail(e.to_string()))?;
    let bar = progress(last, "counting");
    let mut s = Stats {
        size_on_disk: log.size_on_disk(),
        segments: log.segment_paths().len() as u64,
        ..Stats::default()
    };
    let mut last_env: Option<Envelope> = None;
    for env in log.envelopes(1) {
        let env = env.map_err(|e| fail(format!("cannot read the log: {e}")))?;
        if env.offset % 4096 == 0 {
            bar.set_position(env.offset);
        }
        if s.first_at.is_none() {
            s.first_at = Some(export::format_micros(env.recorded_at));
        }
        s.count += 1;
        *s.by_type.entry(env.event_type.clone()).or_default() += 1;
        *s.by_tenant.entry(env.tenant.0).or_default() += 1;
        last_env = Some(env);
    }
    s.last_at = last_env.map(|e| export::format_micros(e.recorded_at));
    bar.finish_and_clear();
    Ok(s)
}

/// Rebuilds the directory from the log up to `until`.
pub fn rebuild_dir(dir: &Path, until: Until) -> Result<Directory, ToolError> {
    let log = open(dir)?;
    let last = log.last_offset().map_err(|e| fail(e.to_string()))?;
    let bar = progress(last, "replaying");
    let mut state = Directory::default();
    rebuild(&mut state, log.envelopes(1), until, |env, _, _| {
        if env.offset % 4096 == 0 {
            bar.set_position(env.offset);
        }
    })
    .map_err(|e| fail(format!("replay failed: {e}")))?;
    bar.finish_and_clear();
    Ok(state)
}

/// `replay`: writes one canonical JSON file per tenant into `out`
/// (`<tenant id>.json`, `0.json` = system scope). Returns the offset the
/// state reflects and the files written.
pub fn replay(dir: &Path, until: Until, out: &Path) -> Result<(u64, Vec<String>), ToolError> {
    let state = rebuild_dir(dir, until)?;
    write_canonical(&state, out).map(|files| (state.offset, files))
}

/// Writes the canonical state of every tenant into `out`.
pub fn write_canonical(state: &Directory, out: &Path) -> Result<Vec<String>, ToolError> {
    std::fs::create_dir_all(out)
        .map_err(|e| fail(format!("cannot create {}: {e}", out.display())))?;
    let mut files = Vec::new();
    for tenant in canonical::tenants(state) {
        let Some(v) = canonical::tenant_state(state, tenant).map_err(|e| fail(e.to_string()))?
        else {
            continue;
        };
        let name = format!("{}.json", tenant.0);
        std::fs::write(out.join(&name), canonical::to_text(&v))
            .map_err(|e| fail(format!("cannot write {name}: {e}")))?;
        files.push(name);
    }
    Ok(files)
}
