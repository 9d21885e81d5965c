#!/usr/bin/env python3
"""CORS in a real browser: headless Chromium opens the change stream with
`EventSource` from another origin and receives an event; a page from an
origin that is not allowed cannot even sign in.

    python3 scripts/browser-cors.py [path/to/switchboard]   # run by .ci/run

Needs Debian's `chromium` and a built binary (default target/debug/switchboard).
Standard library only. Each page reports its outcome to its own origin
(`POST /report`), which is the signal awaited; timeouts only bound a failure.
Prints `N passed, N failed` and exits non-zero on any failure.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "switchboard"))
ADMIN_PASSWORD = "admin-Passw0rd"

PAGE = """<!doctype html><meta charset="utf-8"><title>softphone</title>
<script>
const API = "%(api)s";
async function report(outcome) {
  await fetch("/report", {method: "POST", body: JSON.stringify(outcome)});
}
async function main() {
  let token;
  try {
    // JSON body: a preflighted cross-origin request.
    const r = await fetch(API + "/api/auth/sign_in", {method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: "ann", password: "Passw0rd-123", domain: "cors.example"})});
    token = (await r.json()).access_token;
  } catch (e) {
    return report({ok: false, stage: "sign_in", error: String(e)});
  }
  const es = new EventSource(API + "/api/user/events?access_token=" + encodeURIComponent(token));
  es.addEventListener("contacts", (e) => {
    es.close();
    report({ok: true, event: "contacts", data: JSON.parse(e.data)});
  });
  es.onerror = () => report({ok: false, stage: "event_source", error: "EventSource error"});
  es.onopen = async () => {
    try {
      // Authorization header: preflighted too.
      const r = await fetch(API + "/api/user/contacts", {method: "POST",
        headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
        body: JSON.stringify({name: "From the browser"})});
      if (r.status !== 201) report({ok: false, stage: "create", error: "status " + r.status});
    } catch (e) {
      report({ok: false, stage: "create", error: String(e)});
    }
  };
}
main();
</script>
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


class Page:
    """Serves the test page on its own origin and receives its report."""

    def __init__(self, api):
        self.outcome = None
        self.done = threading.Event()
        page = (PAGE % {"api": api}).encode()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                if owner.outcome is None:
                    owner.outcome = json.loads(self.rfile.read(length))
                    owner.done.set()
                self.send_response(204)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def open_in_chromium(self, profile, timeout=60):
        browser = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--user-data-dir=" + profile, self.origin + "/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.done.wait(timeout)
        finally:
            browser.kill()
            browser.wait()
            self.server.shutdown()
        return self.outcome


def main():
    if not shutil.which("chromium"):
        print("chromium is required (apt-get install -y chromium)", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="browser-cors-")
    api_port = free_port()
    api = "http://127.0.0.1:%d" % api_port
    allowed = Page(api)
    refused = Page(api)
    env = dict(os.environ,
               SWITCHBOARD_DATA_DIR=os.path.join(work, "data"),
               SWITCHBOARD_LISTEN="127.0.0.1:%d" % api_port,
               SWITCHBOARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
               SWITCHBOARD_ARGON2_MEMORY_KIB="64",
               SWITCHBOARD_ARGON2_ITERATIONS="1",
               SWITCHBOARD_LOG_LEVEL="warn",
               SWITCHBOARD_CORS_ALLOWED_ORIGINS=allowed.origin)
    server_log = open(os.path.join(work, "server.log"), "w+")
    server = subprocess.Popen([BINARY, "serve"], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=server_log)
    results = []
    try:
        deadline = time.time() + 60
        while True:  # another process: poll readiness, bounded
            try:
                with urllib.request.urlopen(api + "/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("switchboard did not become ready")
            time.sleep(0.05)
        admin = call(api, "POST", "/api/auth/sign_in",
                     {"username": "admin", "password": ADMIN_PASSWORD})["access_token"]
        tenant = call(api, "POST", "/api/tenants",
                      {"name": "Cors", "domain": "cors.example", "timezone": "UTC",
                       "currency": "USD", "region": "USA"}, admin)["id"]
        call(api, "POST", "/api/tenants/switch?id=" + tenant, {}, admin)
        call(api, "POST", "/api/users",
             {"name": "ann", "display_name": "Ann", "password": "Passw0rd-123",
              "email": "ann@example.com", "role": "StandardUser", "extension_number": "101",
              "extension_password": "ext-pass-1", "voicemail_pin": "123456"}, admin)

        got = allowed.open_in_chromium(os.path.join(work, "profile-allowed"))
        ok = bool(got and got.get("ok") and got.get("data", {}).get("change_type") == "CREATED"
                  and got["data"].get("item", {}).get("name") == "From the browser")
        results.append(("an allowed origin receives the change stream's event", ok, got))

        got = refused.open_in_chromium(os.path.join(work, "profile-refused"))
        ok = bool(got and not got.get("ok") and got.get("stage") == "sign_in")
        results.append(("another origin cannot call the API", ok, got))
    finally:
        server.terminate()
        server.wait(timeout=60)
        server_log.seek(0)
        log_tail = server_log.read()[-4000:]
        server_log.close()
        shutil.rmtree(work, ignore_errors=True)

    for name, ok, detail in results:
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": %r" % (detail,)))
    failed = sum(1 for _, ok, _ in results if not ok)
    if failed:
        print("server log:\n" + log_tail)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
