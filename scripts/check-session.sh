#!/usr/bin/env bash
# The README's first session, run exactly as written, against the built
# binary; then Prometheus' own linter over the /metrics that session left,
# and openapi-spec-validator over /openapi.json.
#   bash scripts/check-session.sh target/debug/switchboard
# (run by .ci/run after the tests; needs curl, jq, promtool, python3 and
# openapi-spec-validator on PATH: .ci/ops.sh installs them).
# The session is the block between <!-- session:begin --> and
# <!-- session:end --> in README.md: one source, so the README cannot drift.
set -euo pipefail
BIN="$(realpath "${1:?usage: check-session.sh path/to/switchboard}")"
cd "$(dirname "$0")/.."
passed=0
failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
password='Quickstart-Passw0rd'
SWITCHBOARD_DATA_DIR="$work/data" \
  SWITCHBOARD_LISTEN="127.0.0.1:$port" \
  SWITCHBOARD_METRICS_LISTEN="127.0.0.1:$metrics_port" \
  SWITCHBOARD_ADMIN_PASSWORD="$password" \
  SWITCHBOARD_LOG_LEVEL=warn \
  "$BIN" serve > "$work/stdout.log" 2> "$work/stderr.log" &
server=$!
ready=no
for _ in $(seq 1 600); do # another process: poll readiness (bounded, 60 s)
  if curl -fsS "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then ready=yes; break; fi
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  sleep 0.1
done
[ "$ready" = yes ] || { fail "the service did not become ready: $(tail -5 "$work/stderr.log")"; exit 1; }

# --- the README session, extracted -------------------------------------------
sed -n '/^<!-- session:begin -->$/,/^<!-- session:end -->$/p' README.md \
  | sed '1,2d;$d' | sed '$d' > "$work/session.sh"
lines=$(wc -l < "$work/session.sh")
if [ "$lines" -gt 20 ] && head -1 "$work/session.sh" | grep -q '^BASE='; then
  ok "the session block was found in README.md ($lines lines)"
else
  fail "no session block between the markers in README.md"
fi
if BASE="http://127.0.0.1:$port" ADMIN_PASSWORD="$password" \
  bash -euo pipefail "$work/session.sh" > "$work/session.out" 2> "$work/session.err"; then
  ok "the session ran to the end, every request 2xx"
else
  fail "the session failed: $(tail -5 "$work/session.err")"
fi
echo "--- session output"; cat "$work/session.out"; echo "---"
expect() {
  if grep -qF "$1" "$work/session.out"; then ok "$2"; else fail "$2: no '$1' in the output"; fi
}
expect '{"number":"1002","name":"Front desk"}' "the linked extension is listed"
expect '{"name":"alice","extension_number":"1001"}' "the filtered list shows alice"
expect '{"change_type":"CREATED","extension_number":"1003","display_name":"Bob Durand"}' "the diff shows bob's extension as created"
if [ "$(grep -c CREATED "$work/session.out")" -eq 1 ]; then
  ok "the diff holds only what changed after the token"
else
  fail "the diff lists more than bob"
fi

# --- /metrics after the session, linted by Prometheus ------------------------
if curl -fsS "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics.txt"; then
  ok "/metrics served on the metrics listener"
else
  fail "/metrics not served on 127.0.0.1:$metrics_port"
fi
if lint=$(promtool check metrics < "$work/metrics.txt" 2>&1); then
  ok "promtool check metrics: no problems"
else
  fail "promtool check metrics: $lint"
fi
# --- /openapi.json, validated by openapi-spec-validator ----------------------
if curl -fsS "http://127.0.0.1:$port/openapi.json" > "$work/openapi.json" \
  && out=$(openapi-spec-validator "$work/openapi.json" 2>&1); then
  ok "openapi-spec-validator: $out"
else
  fail "openapi-spec-validator: ${out:-/openapi.json not served}"
fi
for series in \
  'switchboard_http_requests_total{method="POST",route="/api/users",status="201"} 2' \
  'switchboard_http_request_duration_seconds_bucket{method="POST",route="/api/users/{id}/extensions/{extension_id}",status="200",le="+Inf"} 1' \
  'switchboard_log_group_commit_events_count' \
  'switchboard_log_fsync_duration_seconds_bucket' \
  'switchboard_projection_lag_events 0'; do
  if grep -qF "$series" "$work/metrics.txt"; then ok "metrics show $series"; else fail "metrics lack $series"; fi
done

kill -TERM "$server"
if wait "$server"; then ok "SIGTERM: clean stop"; else fail "SIGTERM: exit $?"; fi
server=""
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
