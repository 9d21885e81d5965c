//! The command line: `switchboard serve`, `replay` and the `log` tools
//! (the tools themselves are in [`crate::tools`]).

use crate::app;
use crate::config::Config;
use crate::log_copy;
use crate::tools;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use switchboard_events::domain::UserUpdated;
use switchboard_events::{
    AppendRequest, Durability, Event, EventLog, Fields, Id, Metadata, SegmentLog, Value,
};
use switchboard_projections::rebuild::Until;

/// switchboard: an event-sourced, multi-tenant PBX directory service.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// A TOML configuration file layered over config/default.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (overrides configuration; env SWITCHBOARD_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve {
        /// Listen address (overrides configuration; env SWITCHBOARD_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Work on the event log of a data directory (the server must be stopped:
    /// it holds the log's lock, and these commands refuse clearly while it
    /// runs).
    Log {
        /// Which log tool.
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Bulk work on a tenant's users, offline (the server must be stopped,
    /// as for the log tools).
    Users {
        /// Which users tool.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Rebuild the projections as of a point in the log and write them as
    /// canonical JSON, one file per tenant (`<tenant id>.json`, 0 = system).
    Replay {
        /// Stop after this offset.
        #[arg(long, value_name = "N", conflicts_with = "until_time")]
        until_offset: Option<u64>,
        /// Stop after the last event recorded at or before this time (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        until_time: Option<String>,
        /// The output directory.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

/// `switchboard users ...`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create users from a CSV or JSON Lines file, as `POST /api/users/import`
    /// does (same columns, checks, batches and report).
    Import {
        /// The file (`.csv`, or `.jsonl`/`.ndjson`; else give --format).
        file: PathBuf,
        /// The tenant: its SIP domain or its numeric id.
        #[arg(long, value_name = "T")]
        tenant: String,
        /// `csv` or `jsonl` (default: from the file's extension).
        #[arg(long)]
        format: Option<String>,
        /// Check every row, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows per all-or-nothing batch.
        #[arg(long, default_value_t = crate::bulk::DEFAULT_BATCH)]
        batch_size: usize,
    },
}

/// `switchboard log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Check every record's checksum, dense offsets and the hash chain;
    /// print the count and head hash, or name the first bad offset (exit 1).
    Verify {
        /// A JetStream stream to verify instead of the data directory's log
        /// (`jetstream:nats://HOST:PORT/STREAM`).
        #[arg(long)]
        on: Option<String>,
    },
    /// Copy the whole log between backends, record for record (same
    /// offsets, bytes and hash chain): `--from local:DIR --to
    /// jetstream:nats://HOST:PORT/STREAM`, or back. The target must be
    /// empty; the copy is read back and its head hash compared.
    Copy {
        /// The source: `local:DIR` or `jetstream:nats://HOST:PORT/STREAM`.
        #[arg(long)]
        from: String,
        /// The target (the other kind).
        #[arg(long)]
        to: String,
    },
    /// Write decoded envelopes as JSON Lines (with each record's hash and
    /// the previous record's hash).
    Export {
        /// First offset.
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        /// Last offset.
        #[arg(long, value_name = "M")]
        to: Option<u64>,
        /// Only this tenant's records (0 = system scope). Such an export
        /// cannot be imported: its chain has gaps.
        #[arg(long, value_name = "T")]
        tenant: Option<u64>,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Rebuild a fresh data directory from a full export, refusing any line
    /// that was altered, dropped or reordered.
    Import {
        /// The JSON Lines export.
        file: PathBuf,
    },
    /// Rebuild the log's index (sled) from its segment files, e.g. when the
    /// index was lost or sled refuses to open it.
    Reindex,
    /// Counts per event type and tenant, size on disk, first and last times.
    Stats {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Append synthetic events from concurrent writers and print each
    /// acknowledged offset range (load and crash testing).
    #[command(hide = true)]
    Stress {
        /// Concurrent appenders.
        #[arg(long, default_value_t = 8)]
        writers: usize,
        /// Appends per writer (0 = until killed).
        #[arg(long, default_value_t = 1000)]
        appends: u64,
        /// Events per append.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// `fsync` or `os`.
        #[arg(long, default_value = "fsync")]
        durability: String,
    },
}

/// Runs the CLI; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let flags = crate::config::Flags {
        listen,
        data_dir: cli.data_dir.clone(),
    };
    let (config, warnings) = match Config::load(cli.config.as_deref(), &flags) {
        Ok(l) => (l.config, l.warnings),
        Err(e) => {
            eprintln!("switchboard: {e}");
            return 2;
        }
    };
    let runtime = match crate::app::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchboard: cannot start the runtime: {e}");
            return 1;
        }
    };
    match cli.command {
        Command::Serve { .. } => {
            crate::telemetry::init(&config);
            for w in &warnings {
                tracing::warn!("{w}");
            }
            runtime.block_on(serve(config))
        }
        Command::Log { command } => {
            warn_on_stderr(&warnings);
            runtime.block_on(log_command(config, command))
        }
        Command::Users { command } => {
            warn_on_stderr(&warnings);
            runtime.block_on(users_command(config, command))
        }
        Command::Replay {
            until_offset,
            until_time,
            out,
        } => {
            warn_on_stderr(&warnings);
            replay_command(&config, until_offset, until_time, &out)
        }
    }
}

/// The offline tools have no tracing subscriber: their warnings go to stderr.
fn warn_on_stderr(warnings: &[String]) {
    for w in warnings {
        eprintln!("switchboard: warning: {w}");
    }
}

async fn serve(config: Config) -> i32 {
    let running = match app::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return 1;
        }
    };
    let trigger = running.shutdown_trigger();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        trigger.trigger();
    });
    match running.wait().await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("switchboard: {e}");
            1
        }
    }
}

async fn users_command(config: Config, command: UsersCommand) -> i32 {
    let UsersCommand::Import {
        file,
        tenant,
        format,
        dry_run,
        batch_size,
    } = command;
    let format = match format
        .as_deref()
        .or(file.extension().and_then(|e| e.to_str()))
    {
        Some(f) => match crate::bulk::rows::Format::parse(f) {
            Some(f) => f,
            None => {
                eprintln!("switchboard: --format must be csv or jsonl, not {f:?}");
                return 2;
            }
        },
        None => {
            eprintln!("switchboard: give --format csv or --format jsonl");
            return 2;
        }
    };
    if !(1..=crate::bulk::MAX_BATCH).contains(&batch_size) {
        eprintln!(
            "switchboard: --batch-size must be 1 to {}",
            crate::bulk::MAX_BATCH
        );
        return 2;
    }
    let (reader, len) = match std::fs::File::open(&file).and_then(|f| {
        let len = f.metadata()?.len();
        Ok((f, len))
    }) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("switchboard: cannot read {}: {e}", file.display());
            return 1;
        }
    };
    let offline = match app::Offline::open(&config).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return 1;
        }
    };
    let tenant_id = {
        let dir = offline.read();
        let by_domain = dir.tenant_by_domain(&tenant).map(|t| t.id);
        let by_id = tenant
            .parse::<u64>()
            .ok()
            .map(Id)
            .filter(|id| dir.tenants.contains_key(id));
        by_domain.or(by_id)
    };
    let Some(tenant_id) = tenant_id else {
        eprintln!("switchboard: no tenant with domain or id {tenant:?}");
        offline.close().await;
        return 1;
    };
    let bar = tools::progress_bytes(len, if dry_run { "checking" } else { "importing" });
    let target = crate::bulk::Target {
        pipeline: &offline.pipeline,
        hasher: &offline.hasher,
        // The operator at the data directory acts as the service itself.
        ctx: crate::commands::Context::system(tenant_id, "cli"),
    };
    let options = crate::bulk::Options {
        format,
        dry_run,
        batch_size,
    };
    let report = crate::bulk::import(&target, reader, options, |p| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} rows, {} imported", p.rows, p.imported));
    })
    .await;
    bar.finish_and_clear();
    drop(target);
    offline.close().await;
    for e in &report.errors {
        eprintln!(
            "row {} (line {}){}: {} {}",
            e.row,
            e.line,
            if e.column.is_empty() {
                String::new()
            } else {
                format!(", column {}", e.column)
            },
            e.code,
            e.message
        );
    }
    if let Some(m) = &report.unavailable {
        eprintln!("switchboard: stopped: {m}");
    }
    if let Some(b) = &report.failed_batch {
        eprintln!(
            "switchboard: rows {} to {} were not imported (their batch failed); nothing after them was read",
            b.first_row, b.last_row
        );
    }
    println!(
        "{}: {} rows read, {} valid, {} imported in {} batches of up to {}",
        if report.dry_run { "dry run" } else { "import" },
        report.rows,
        report.valid,
        report.imported,
        report.batches_committed,
        report.batch_size
    );
    if report.is_ok() {
        0
    } else {
        1
    }
}

fn open_log(config: &Config, durability: Durability) -> Result<SegmentLog, String> {
    let mut lc = crate::app::log_config(config);
    lc.durability = durability;
    SegmentLog::open(lc).map_err(|e| e.to_string())
}

fn report<T>(result: Result<T, tools::ToolError>, ok: impl FnOnce(T)) -> i32 {
    match result {
        Ok(v) => {
            ok(v);
            0
        }
        Err(e) => {
            eprintln!("switchboard: {e}");
            e.code
        }
    }
}

fn replay_command(
    config: &Config,
    until_offset: Option<u64>,
    until_time: Option<String>,
    out: &std::path::Path,
) -> i32 {
    let until = match (until_offset, until_time) {
        (Some(n), _) => Until::Offset(n),
        (None, Some(t)) => {
            match time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339) {
                Ok(t) => Until::Time(t),
                Err(e) => {
                    eprintln!("switchboard: --until-time {t:?} is not RFC 3339: {e}");
                    return 2;
                }
            }
        }
        (None, None) => {
            eprintln!("switchboard: give --until-offset N or --until-time RFC3339");
            return 2;
        }
    };
    report(
        tools::replay(&config.data_dir, until, out),
        |(offset, files)| {
            println!(
                "replayed to offset {offset}: wrote {} tenant file(s) to {}",
                files.len(),
                out.display()
            );
        },
    )
}

async fn log_command(config: Config, command: LogCommand) -> i32 {
    match command {
        LogCommand::Verify { on: Some(on) } => {
            let endpoint = match log_copy::Endpoint::parse(&on, &config.jetstream_stream) {
                Ok(e) => e,
                Err(e) => return report::<()>(Err(e), |_| {}),
            };
            report(
                log_copy::verify_stream(&config, &endpoint).await,
                |(count, head)| println!("ok: {count} records, head hash {head}"),
            )
        }
        LogCommand::Copy { from, to } => {
            let ends = log_copy::Endpoint::parse(&from, &config.jetstream_stream).and_then(|f| {
                log_copy::Endpoint::parse(&to, &config.jetstream_stream).map(|t| (f, t))
            });
            let (from, to) = match ends {
                Ok(e) => e,
                Err(e) => return report::<()>(Err(e), |_| {}),
            };
            report(log_copy::copy(&config, &from, &to).await, |c| {
                println!("copied: {} blobs of uploaded files", c.blobs);
                println!("copied: {} records, head hash {}", c.count, c.head);
            })
        }
        LogCommand::Verify { on: None } => report(tools::verify_report(&config.data_dir), |v| {
            println!("ok: {} records, head hash {}", v.count, v.head_hash);
            if let Some((offset, bytes)) = v.torn {
                println!(
                    "note: a torn write of {bytes} bytes follows (it would have been offset {offset}); \
                     it was never acknowledged and is cut off at the next start"
                );
            }
        }),
        LogCommand::Reindex => report(tools::reindex(&config.data_dir), |(count, head)| {
            println!("reindexed: {count} records, head hash {head}");
        }),
        LogCommand::Export {
            from,
            to,
            tenant,
            out,
        } => {
            let range = tools::ExportRange { from, to, tenant };
            let result = match out {
                Some(path) => match std::fs::File::create(&path) {
                    Ok(f) => {
                        let mut w = std::io::BufWriter::new(f);
                        tools::export(&config.data_dir, range, &mut w)
                    }
                    Err(e) => {
                        eprintln!("switchboard: cannot create {}: {e}", path.display());
                        return 1;
                    }
                },
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    tools::export(&config.data_dir, range, &mut w)
                }
            };
            report(result, |n| eprintln!("exported {n} records"))
        }
        LogCommand::Import { file } => {
            report(tools::import(&config.data_dir, &file), |(count, head)| {
                println!("imported: {count} records, head hash {head}");
            })
        }
        LogCommand::Stats { json } => report(tools::stats(&config.data_dir), |s| {
            if json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
                return;
            }
            println!("records: {}", s.count);
            println!("size on disk: {} bytes", s.size_on_disk);
            println!("first: {}", s.first_at.as_deref().unwrap_or("-"));
            println!("last: {}", s.last_at.as_deref().unwrap_or("-"));
            println!("by event type:");
            for (t, n) in &s.by_type {
                println!("  {t}: {n}");
            }
            println!("by tenant:");
            for (t, n) in &s.by_tenant {
                println!("  {t}: {n}");
            }
        }),
        LogCommand::Stress {
            writers,
            appends,
            batch,
            durability,
        } => {
            let durability = match durability.as_str() {
                "fsync" => Durability::Fsync,
                "os" => Durability::Os,
                other => {
                    eprintln!("switchboard: unknown durability {other:?}");
                    return 2;
                }
            };
            let log = match open_log(&config, durability) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    return 1;
                }
            };
            stress(log, writers, appends, batch.max(1)).await
        }
    }
}

async fn stress(log: SegmentLog, writers: usize, appends: u64, batch: usize) -> i32 {
    use std::io::Write;
    let out = Arc::new(parking_lot::Mutex::new(std::io::stdout()));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = log.clone();
        let out = out.clone();
        tasks.push(tokio::spawn(async move {
            let meta = Arc::new(Metadata::system("stress"));
            let mut i = 0u64;
            while appends == 0 || i < appends {
                let events = (0..batch)
                    .map(|b| {
                        let mut changes = Fields::new();
                        changes.insert(
                            "display_name".into(),
                            Value::Str(format!("writer {w} append {i}.{b}")),
                        );
                        Event::UserUpdated(UserUpdated {
                            user_id: Id(w as u64 + 1),
                            changes: changes.into(),
                        })
                        .to_new_event(Id(1))
                    })
                    .collect::<Result<Vec<_>, _>>();
                let Ok(events) = events else { return false };
                match log
                    .append(AppendRequest {
                        events,
                        expected: vec![],
                        metadata: meta.clone(),
                    })
                    .await
                {
                    Ok(done) => {
                        let mut o = out.lock();
                        let _ = writeln!(o, "acked {} {}", done.first_offset, done.last_offset);
                        let _ = o.flush();
                    }
                    Err(e) => {
                        eprintln!("append failed: {e}");
                        return false;
                    }
                }
                i += 1;
            }
            true
        }));
    }
    let mut ok = true;
    for t in tasks {
        ok &= t.await.unwrap_or(false);
    }
    log.close().await;
    i32::from(!ok)
}
