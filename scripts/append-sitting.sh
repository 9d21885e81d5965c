#!/usr/bin/env bash
# One sitting of the durable-append comparison (issue #14), so every figure
# of it comes from the same minutes on the same disk: PostgreSQL's durable
# INSERT rate (the peer harness, pgbench driver), then the log_append bench
# (its probe times the disk's fdatasync first), with the compiler count
# before and after (other builds on the 2 cores disturb the figures).
#
#   scripts/append-sitting.sh PEER_HARNESS [BENCH_ONLY]
#
# PEER_HARNESS is the path of pg_eventstore.py (PostgreSQL 15 from Debian and
# a venv with psycopg, see the harness's README; the venv's python is taken
# from $PEERS_PYTHON, default /tmp/peers-venv/bin/python). BENCH_ONLY picks
# the bench's configurations (default: 64 x 1 and 1 x 1, durable and not,
# inline and pipelined writer); BENCH_ROUNDS (default 2) alternates them.
# Build the bench first (`cargo bench --no-run --bench log_append`) so no
# compiler runs during the sitting; BENCH_BIN=path runs that binary instead
# of `cargo bench`.
set -euo pipefail
harness="${1:?usage: scripts/append-sitting.sh path/to/pg_eventstore.py [BENCH_ONLY]}"
only="${2:-fsync-64x1-inline,fsync-64x1,os-64x1-inline,os-64x1,fsync-1x1-inline,fsync-1x1}"
python="${PEERS_PYTHON:-/tmp/peers-venv/bin/python}"
rustc() { pgrep -c rustc || true; }

# How an idle vCPU waits (a KVM guest's halt polling moves every wake-up,
# fdatasync completions included, by tens of µs; see BENCHMARKS.md, session 9).
idle() {
  local gov poll
  gov=$(cat /sys/devices/system/cpu/cpuidle/current_governor 2>/dev/null || echo unknown)
  poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || echo n/a)
  echo "cpuidle governor $gov, guest_halt_poll_ns $poll"
}

echo "## sitting $(date -u '+%Y-%m-%d %H:%M:%S UTC'), rustc running: $(rustc), $(idle)"
echo
echo "### PostgreSQL (pgbench driver), $(date -u +%H:%M:%S)"
# (a small read table: only the append rates are used here)
"$python" "$harness" --driver pgbench --clients 1,64 --secs 8 --reps 2 --read-rows 10000 --read-queries 20
echo
echo "### switchboard log_append, $(date -u +%H:%M:%S), rustc running: $(rustc)"
if [ -n "${BENCH_BIN:-}" ]; then   # a built bench binary, e.g. to A/B two builds
  BENCH_ONLY="$only" BENCH_ROUNDS="${BENCH_ROUNDS:-2}" "$BENCH_BIN" --bench
else
  BENCH_ONLY="$only" BENCH_ROUNDS="${BENCH_ROUNDS:-2}" cargo bench --bench log_append
fi
echo
echo "## end $(date -u +%H:%M:%S), rustc running: $(rustc)"
