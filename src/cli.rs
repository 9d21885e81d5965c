//! The command line: `switchboard serve` and the `log` tools.

use crate::app;
use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use switchboard_events::domain::UserUpdated;
use switchboard_events::verify::{hex, verify_records};
use switchboard_events::{
    AppendRequest, Durability, Event, EventLog, Fields, Id, LogConfig, Metadata, SledLog, Value,
};

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
    /// sled holds an exclusive lock, and these commands refuse clearly while
    /// a server runs).
    Log {
        /// Which log tool.
        #[command(subcommand)]
        command: LogCommand,
    },
}

/// `switchboard log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Check every record's checksum, dense offsets and the hash chain.
    Verify,
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
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return 2;
        }
    };
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchboard: cannot start the runtime: {e}");
            return 1;
        }
    };
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            crate::telemetry::init(&config);
            runtime.block_on(serve(config))
        }
        Command::Log { command } => runtime.block_on(log_command(config, command)),
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

fn open_log(config: &Config, durability: Durability) -> Result<SledLog, String> {
    let mut lc = LogConfig::new(&config.data_dir);
    lc.durability = durability;
    lc.tail_check = config.tail_check;
    SledLog::open(lc).map_err(|e| e.to_string())
}

async fn log_command(config: Config, command: LogCommand) -> i32 {
    match command {
        LogCommand::Verify => {
            let log = match open_log(&config, Durability::Fsync) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    return 1;
                }
            };
            match verify_records(log.raw_records(1), |_| {}) {
                Ok(report) => {
                    println!(
                        "ok: {} records, head hash {}",
                        report.count,
                        hex(&report.head_hash)
                    );
                    0
                }
                Err(e) => {
                    eprintln!(
                        "switchboard: log verification failed at offset {}: {}",
                        e.offset, e.reason
                    );
                    1
                }
            }
        }
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

async fn stress(log: SledLog, writers: usize, appends: u64, batch: usize) -> i32 {
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
                            changes,
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
