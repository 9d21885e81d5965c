#!/usr/bin/env bash
# One sitting of the durable-append comparison (issue #14), so every figure
# of it comes from the same minutes on the same disk: PostgreSQL's durable
# INSERT rate (the peer harness, pgbench driver) and the log_append bench
# (its probe times the disk's fdatasync first), **alternated round by
# round** — PostgreSQL, the log, PostgreSQL, the log... — with the compiler
# count before and after (other builds on the 2 cores disturb the figures).
# A last PostgreSQL run closes the sitting, so each round's ratio divides
# the log's 64 x 1 rate by the mean of PostgreSQL's 64-client rates just
# before and just after it: this host's speed moves within minutes, and
# running all of PostgreSQL first and then all of the log let that drift
# land on one side (BENCHMARKS.md, session 13).
#
#   scripts/append-sitting.sh PEER_HARNESS [BENCH_ONLY]
#
# PEER_HARNESS is the path of pg_eventstore.py (PostgreSQL 15 from Debian and
# a venv with psycopg, see the harness's README; the venv's python is taken
# from $PEERS_PYTHON, default /tmp/peers-venv/bin/python). BENCH_ONLY picks
# the bench's configurations (default: 64 x 1 and 1 x 1, durable and not,
# inline and pipelined writer); BENCH_ROUNDS (default 2) is the number of
# rounds; BENCH_SECS (the bench's window, default 3 s) also sets
# PostgreSQL's (at least 8 s). Build the bench first (`cargo bench --no-run
# --bench log_append`) so no compiler runs during the sitting; BENCH_BIN=path
# runs that binary instead of `cargo bench`.
set -euo pipefail
harness="${1:?usage: scripts/append-sitting.sh path/to/pg_eventstore.py [BENCH_ONLY]}"
only="${2:-fsync-64x1-inline,fsync-64x1,os-64x1-inline,os-64x1,fsync-1x1-inline,fsync-1x1}"
python="${PEERS_PYTHON:-/tmp/peers-venv/bin/python}"
rounds="${BENCH_ROUNDS:-2}"
pg_secs=$(awk -v s="${BENCH_SECS:-3}" 'BEGIN { s = int(s + 0.5); print (s < 8 ? 8 : s) }')
rustc() { pgrep -c rustc || true; }

# How an idle vCPU waits (a KVM guest's halt polling moves every wake-up,
# fdatasync completions included, by tens of µs; see BENCHMARKS.md, session 9).
idle() {
  local gov poll
  gov=$(cat /sys/devices/system/cpu/cpuidle/current_governor 2>/dev/null || echo unknown)
  poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || echo n/a)
  echo "cpuidle governor $gov, guest_halt_poll_ns $poll"
}

bench() {
  if [ -n "${BENCH_BIN:-}" ]; then   # a built bench binary, e.g. to A/B two builds
    BENCH_ONLY="$only" BENCH_ROUNDS=1 "$BENCH_BIN" --bench
  else
    BENCH_ONLY="$only" BENCH_ROUNDS=1 cargo bench --bench log_append
  fi
}

echo "## sitting $(date -u '+%Y-%m-%d %H:%M:%S UTC'), rustc running: $(rustc), $(idle), $rounds rounds"
# Each step's output, shown once it ends and then read for its rate.
step=$(mktemp)
trap 'rm -f "$step"' EXIT
pg_runs=()
log_runs=()
# PostgreSQL's 64-client rate, one run (its 1-client rate too with "1,64").
postgres() {
  "$python" "$harness" --driver pgbench --clients "$1" --secs "$pg_secs" --reps 1 \
    --read-rows 10000 --read-queries 20 >"$step" 2>&1
  cat "$step"
  pg_runs+=("$(grep -E "^rep0 pgbench \{'clients': 64," "$step" | grep -oE "'events_per_s': [0-9]+" | grep -oE "[0-9]+$" || echo '?')")
}
for round in $(seq 1 "$rounds"); do
  echo
  echo "### round $round: PostgreSQL (pgbench driver, ${pg_secs}-s windows), $(date -u +%H:%M:%S)"
  # (a small read table: only the append rates are used here)
  postgres 1,64
  echo
  echo "### round $round: switchboard log_append, $(date -u +%H:%M:%S), rustc running: $(rustc)"
  bench >"$step" 2>&1
  cat "$step"
  log_runs+=("$(grep -E "done: fsync-64x1-inline:" "$step" | grep -oE "[0-9]+ events/s" | grep -oE "^[0-9]+" || echo '?')")
done
# A last PostgreSQL run, so that every log round sits between two of them.
echo
echo "### closing: PostgreSQL (pgbench driver, ${pg_secs}-s windows), $(date -u +%H:%M:%S)"
postgres 64
echo
echo "### Rounds: the log's durable 64 x 1 (inline) against PostgreSQL's 64 clients just before and after it"
echo "| round | PostgreSQL before / after | their mean | switchboard | ratio to the mean |"
echo "|---:|---:|---:|---:|---:|"
for i in "${!log_runs[@]}"; do
  before="${pg_runs[$i]}" after="${pg_runs[$((i + 1))]}" log="${log_runs[$i]}"
  awk -v r="$((i + 1))" -v b="$before" -v a="$after" -v l="$log" 'BEGIN {
    if (b !~ /^[0-9]+$/ || a !~ /^[0-9]+$/ || l !~ /^[0-9]+$/) { printf "| %d | %s / %s | ? | %s | ? |\n", r, b, a, l; exit }
    m = (a + b) / 2; printf "| %d | %d / %d | %.0f | %d | %.2fx |\n", r, b, a, m, l, l / m }'
done
echo
echo "## end $(date -u +%H:%M:%S), rustc running: $(rustc)"
