//! The `switchboard` binary.

/// jemalloc instead of the system allocator: replay and bulk writes
/// allocate many small, short-lived values (envelopes, decoded events) on
/// two threads, where glibc's malloc measured 1.2–1.6× slower (BENCHMARKS.md,
/// "Replay").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc on transparent huge pages (see the module).
mod jemalloc_conf;

use clap::Parser;

fn main() {
    let cli = switchboard::cli::Cli::parse();
    std::process::exit(switchboard::cli::run(cli));
}
