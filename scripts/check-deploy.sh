#!/usr/bin/env bash
# Checks the deployment files without a Docker engine or a running systemd
# (run by .ci/run after the tests; needs systemd-analyze, setpriv, curl):
#
#  1. deploy/systemd/switchboard.service: `systemd-analyze verify` must pass
#     and print nothing (it only warns about unknown keys or bad values), and
#     `systemd-analyze security --offline` must rate its exposure 2.0 or less.
#  2. Dockerfile: a numeric non-root USER, the data dir as a VOLUME, and
#     SWITCHBOARD_DATA_DIR pointing at it.
#  3. The binary run as the image runs it: as that unprivileged uid, with the
#     image's environment plus the variables Kubernetes injects for a Service
#     named `switchboard`, on an empty data volume owned by that uid. It must
#     become ready, warn about (not die of) the injected variables, keep its
#     files private, serve a sign-in, and stop cleanly on SIGTERM.
#
#   bash scripts/check-deploy.sh [path/to/switchboard]   # default target/debug/switchboard
set -euo pipefail
# Resolved before the cd below, so a relative path means "from where I ran".
BIN=$(realpath "${1:-$(dirname "$0")/../target/debug/switchboard}")
cd "$(dirname "$0")/.."
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill -9 "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. systemd unit ---------------------------------------------------------
unit=deploy/systemd/switchboard.service
# verify insists that ExecStart exists: check a copy pointing at the built
# binary, identical otherwise.
sed "s#/usr/local/bin/switchboard#$BIN#" "$unit" > "$work/switchboard.service"
if out=$(systemd-analyze verify "$work/switchboard.service" 2>&1) && [ -z "$out" ]; then
  ok "systemd-analyze verify $unit"
else
  fail "systemd-analyze verify $unit: $out"
fi
if out=$(systemd-analyze security --offline=yes --threshold=20 "$work/switchboard.service" 2>&1); then
  ok "systemd-analyze security: $(echo "$out" | grep -o 'exposure level.*' || true)"
else
  fail "systemd-analyze security above 2.0: $(echo "$out" | tail -1)"
fi

# --- 2. Dockerfile -------------------------------------------------------------
user=$(sed -n 's/^USER \([0-9]*\):\([0-9]*\)$/\1/p' Dockerfile)
volume=$(sed -n 's/^VOLUME \["\(.*\)"\]$/\1/p' Dockerfile)
data_env=$(grep -o 'SWITCHBOARD_DATA_DIR=[^ ]*' Dockerfile | head -1 | cut -d= -f2)
if [ -n "$user" ] && [ "$user" != 0 ] && [ -n "$volume" ] && [ "$data_env" = "$volume" ]; then
  ok "Dockerfile: USER $user (non-root), VOLUME $volume = SWITCHBOARD_DATA_DIR"
else
  fail "Dockerfile: USER '$user', VOLUME '$volume', SWITCHBOARD_DATA_DIR '$data_env'"
fi

# --- 3. run as the image does ----------------------------------------------------
uid=${user:-10001}
chmod 755 "$work"
install -m 0755 "$BIN" "$work/switchboard"
install -d -o "$uid" -g "$uid" -m 0700 "$work/volume"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
(
  cd "$work/volume"
  exec env -i PATH=/usr/bin:/bin \
    SWITCHBOARD_DATA_DIR="$work/volume" \
    SWITCHBOARD_LISTEN="127.0.0.1:$port" \
    SWITCHBOARD_LOG_FORMAT=json \
    SWITCHBOARD_ADMIN_PASSWORD=admin-Passw0rd \
    SWITCHBOARD_ARGON2_MEMORY_KIB=64 SWITCHBOARD_ARGON2_ITERATIONS=1 \
    SWITCHBOARD_PORT=tcp://10.96.0.12:8887 \
    SWITCHBOARD_PORT_8887_TCP=tcp://10.96.0.12:8887 \
    SWITCHBOARD_PORT_8887_TCP_ADDR=10.96.0.12 \
    SWITCHBOARD_SERVICE_HOST=10.96.0.12 \
    SWITCHBOARD_SERVICE_PORT=8887 \
    setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs \
    "$work/switchboard" serve
) > "$work/stdout.log" 2> "$work/stderr.log" &
server=$!
ready=no
for _ in $(seq 1 600); do # another process: poll readiness (bounded, 60 s)
  if curl -fsS "$base/readyz" > /dev/null 2>&1; then ready=yes; break; fi
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ "$ready" = yes ]; then
  ok "starts as uid $uid with Kubernetes' SWITCHBOARD_* service variables set"
else
  fail "did not become ready: $(tail -5 "$work/stderr.log")"
fi
if grep -q 'SWITCHBOARD_SERVICE_HOST' "$work/stderr.log" && ! grep -q '10.96.0.12' "$work/stderr.log"; then
  ok "the injected variables are warned about by name, values not echoed"
else
  fail "no warning about SWITCHBOARD_SERVICE_HOST (or a value was echoed): $(head -5 "$work/stderr.log")"
fi
token=$(curl -fsS -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"admin-Passw0rd"}' "$base/api/auth/sign_in" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' || true)
if [ -n "$token" ]; then ok "serves a sign-in"; else fail "sign-in failed"; fi
owners=$(find "$work/volume" -mindepth 1 ! -user "$uid" | head -3)
loose=$(find "$work/volume" -maxdepth 1 -name '*.key' -perm /077 | head -3)
if [ -z "$owners" ] && [ -z "$loose" ] && [ -n "$(ls -A "$work/volume")" ]; then
  ok "everything in the volume belongs to uid $uid; key files are 0600"
else
  fail "volume ownership/permissions: not owned: '$owners', loose keys: '$loose'"
fi
kill -TERM "$server"
if wait "$server"; then
  ok "SIGTERM: clean stop (exit 0)"
else
  fail "SIGTERM: exit $?"
fi
server=""

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
