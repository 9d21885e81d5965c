#!/usr/bin/env python3
"""The docs page in a real browser: headless Chromium loads /docs from the
binary with every other host unreachable, and
- every request the page makes goes to the service and succeeds (the page's
  own network events: no failure, no 4xx/5xx, no other host tried);
- the rendered page lists the user operations (GET/POST /api/users,
  /api/users/{id}, the bulk import and export...) under every dialect.

    python3 scripts/browser-docs.py [path/to/switchboard] [--screenshot FILE.png]

Run by .ci/run (after the tests). With --screenshot it also saves a picture
of the page (1280x2400). Needs Debian's `chromium`; standard library only
(the DevTools protocol over a pipe). Prints `N passed, N failed` and exits
non-zero on any failure.
"""
import base64
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOT = None
rest = sys.argv[1:]
if "--screenshot" in rest:
    i = rest.index("--screenshot")
    SHOT = os.path.abspath(rest[i + 1])
    del rest[i:i + 2]
BINARY = os.path.abspath(rest[0] if rest else os.path.join(ROOT, "target", "debug", "switchboard"))

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok:", what)
    else:
        failed += 1
        print("FAIL:", what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe
    (`--remote-debugging-pipe`: commands on fd 3, replies on fd 4, messages
    separated by NUL), so no websocket library is needed. Only the page's
    own session has its network events enabled, so the browser's background
    traffic (update checks...) is not mistaken for the page's."""

    def __init__(self, work):
        r_cmd, self.w_cmd = os.pipe()
        self.r_out, w_out = os.pipe()

        def fds():
            os.dup2(r_cmd, 3)
            os.dup2(w_out, 4)

        self.proc = subprocess.Popen([
            shutil.which("chromium") or "chromium",
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--mute-audio",
            # Every host but the service resolves to nothing: an asset from a
            # CDN would fail, and the page's network events would show it.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--user-data-dir=" + os.path.join(work, "profile"),
            "--remote-debugging-pipe", "--window-size=1280,2400", "about:blank",
        # fds 3 and 4 are kept: subprocess closes the others after preexec_fn.
        ], preexec_fn=fds, pass_fds=(3, 4, r_cmd, w_out), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(r_cmd)
        os.close(w_out)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self.r_out], [], [], 1)
            if ready:
                chunk = os.read(self.r_out, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w_cmd, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, name, timeout=60):
        for i, m in enumerate(self.events):
            if m.get("method") == name:
                return self.events.pop(i)
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            if m.get("method") == name:
                return m
            self.events.append(m)

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        self.call("Network.enable")
        self.call("Page.enable")
        self.call("Runtime.enable")
        # A page in front draws at once (a background one is throttled).
        self.call("Page.bringToFront")
        self.call("Emulation.setFocusEmulationEnabled", {"enabled": True})
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression, await_promise=False):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise})
        return result["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    work = tempfile.mkdtemp()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SWITCHBOARD_DATA_DIR=os.path.join(work, "data"),
               SWITCHBOARD_LISTEN=f"127.0.0.1:{port}", SWITCHBOARD_ADMIN_PASSWORD="admin-Passw0rd",
               SWITCHBOARD_LOG_LEVEL="warn")
    server = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # another process: poll readiness (bounded, 60 s)
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        browser = Browser(work)
        try:
            browser.open(base + "/docs")
            # Swagger UI draws after fetching /openapi.json, and only the
            # sections near the viewport: walk down the page a screen at a
            # time and collect what is drawn (bounded).
            collect = ("[...document.querySelectorAll('.opblock')].map(o => "
                       "o.querySelector('.opblock-summary-method').textContent + ' ' + "
                       "o.querySelector('.opblock-summary-path').dataset.path)")
            ops, tags = set(), set()
            deadline = time.time() + 60
            while time.time() < deadline and not ops:
                ops.update(browser.evaluate(collect) or [])
                browser.evaluate("new Promise(r => setTimeout(r, 100))", await_promise=True)
            y, height = 0, browser.evaluate("window.innerHeight") or 1000
            while time.time() < deadline:
                browser.evaluate(f"window.scrollTo(0, {y})")
                browser.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))",
                                 await_promise=True)
                ops.update(browser.evaluate(collect) or [])
                tags.update(browser.evaluate(
                    "[...document.querySelectorAll('.opblock-tag')].map(t => t.dataset.tag)") or [])
                if y > (browser.evaluate("document.body.scrollHeight") or 0):
                    break
                y += height // 2
            broken = browser.evaluate(
                "document.body.innerText.includes('Failed to load API definition')")
            if SHOT:
                browser.evaluate("window.scrollTo(0, 0)")
                png = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
                with open(SHOT, "wb") as f:
                    f.write(base64.b64decode(png))
            events = browser.events
        finally:
            browser.close()
        sent = {e["params"]["requestId"]: e["params"]["request"]["url"]
                for e in events if e.get("method") == "Network.requestWillBeSent"}
        status = {e["params"]["requestId"]: e["params"]["response"]["status"]
                  for e in events if e.get("method") == "Network.responseReceived"}
        failures = [(sent.get(e["params"]["requestId"]), e["params"].get("errorText"))
                    for e in events if e.get("method") == "Network.loadingFailed"]
        urls = list(sent.values())
        check(base + "/docs" in urls, f"the page was requested ({len(urls)} requests)")
        check(base + "/openapi.json" in urls, "the page fetched /openapi.json")
        elsewhere = [u for u in urls if not u.startswith(base) and not u.startswith("data:")]
        check(not elsewhere, f"no request left the service {elsewhere[:3]}")
        check(not failures, f"no request failed {failures[:3]}")
        bad = [(sent.get(k), v) for k, v in status.items() if v >= 400]
        check(not bad, f"no request answered 4xx/5xx {bad[:3]}")
        check(not broken, "Swagger UI loaded the definition")
        for op in ["GET /api/users", "POST /api/users", "GET /api/users/{id}",
                   "POST /api/users/{id}", "POST /api/users/{id}/destroy",
                   "POST /api/users/import", "GET /api/users/export"]:
            check(op in ops, f"the page lists {op}")
        check(len(ops) > 140, f"every operation is drawn ({len(ops)})")
        for tag in ["service", "PortSIP v22", "voipappz", "user-extensions v1", "client users",
                    "eTelecom"]:
            check(tag in tags, f"the {tag} section is drawn")
        if SHOT:
            check(os.path.exists(SHOT) and os.path.getsize(SHOT) > 10000,
                  f"screenshot saved to {SHOT}")
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
