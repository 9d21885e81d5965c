#!/usr/bin/env python3
"""Plays the PBX against a running switchboard, so the whole flow can be
watched end to end (e.g. with `GET /api/user/events` open in another
terminal, or a `cdr_event` webhook receiver).

As a user holding the Replicator role (the PBX's account) it, for each
call: registers the caller's device, reports the call state ON_CALL and
back to IDLE, then reports the CDR (idempotent by its call id: a CDR is
sent twice on purpose, and the second answer must be 200 with the same
id); every few calls it reports an inbound SMS too. Meeting participants
are not played: meetings are not served yet.

Usage:
  scripts/pbx-simulator.py --base http://127.0.0.1:8899 --domain acme.example \
      --user pbx --password 'Passw0rd-123' --numbers 101,102,103 --calls 20

Only the standard library; exits non-zero on any unexpected answer.
"""

import argparse
import datetime
import json
import random
import sys
import urllib.error
import urllib.request


def request(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode() or "null"
            return resp.status, json.loads(text)
    except urllib.error.HTTPError as e:
        text = e.read().decode() or "null"
        return e.code, json.loads(text)


def expect(what, got, *statuses):
    status, body = got
    if status not in statuses:
        sys.exit(f"{what}: {status} {body}")
    return body


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="http://127.0.0.1:8899")
    p.add_argument("--domain", required=True, help="the tenant's SIP domain")
    p.add_argument("--user", required=True, help="the PBX's account (Replicator role)")
    p.add_argument("--password", required=True)
    p.add_argument("--numbers", required=True, help="extension numbers, comma-separated")
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rnd = random.Random(a.seed)
    numbers = [n.strip() for n in a.numbers.split(",") if n.strip()]
    signed = expect(
        "sign in",
        request(a.base, "POST", "/api/auth/sign_in",
                body={"name": a.user, "password": a.password, "domain": a.domain}),
        200,
    )
    token = signed["access_token"]
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for n in numbers:
        expect(f"register {n}", request(a.base, "POST", "/api/registrations", token, {
            "extension_number": n, "instance_id": f"sim-{n}", "user_agent": "pbx-simulator",
            "application": "simulator", "ip": "192.0.2.10", "expires": 3600,
            "contact_address": f"sip:{n}@192.0.2.10:5060"}), 200)
    for i in range(a.calls):
        caller = rnd.choice(numbers)
        external = rnd.random() < 0.4
        callee = f"+4930{rnd.randrange(10**7):07d}" if external else rnd.choice(numbers)
        began = start + datetime.timedelta(minutes=i)
        duration = rnd.randrange(5, 600)
        status, user = request(a.base, "GET", f"/api/extension_numbers/{caller}", token)
        owned = status == 200 and isinstance(user, dict) and user.get("type") == "EXTENSION"
        user_id = user.get("id") if owned else None
        if user_id:
            for state in ("ON_CALL", "IDLE"):
                expect("call state", request(a.base, "POST", f"/api/users/{user_id}/call_state",
                                             token, {"state": state}), 200)
        cdr = {
            "call_id": f"sim-{a.seed}-{i}@pbx", "caller": caller, "callee": callee,
            "started_at": began.isoformat().replace("+00:00", "Z"),
            "answered_at": (began + datetime.timedelta(seconds=4)).isoformat().replace("+00:00", "Z"),
            "ended_at": (began + datetime.timedelta(seconds=4 + duration)).isoformat().replace("+00:00", "Z"),
            "duration": duration, "status_code": 200,
            "direction": "OUTBOUND_CALL" if external else "EXTENSION_CALL",
            "end_reason": rnd.choice(["CALLER_DISCONNECTED", "CALLEE_DISCONNECTED"]),
        }
        first = expect("cdr", request(a.base, "POST", "/api/cdrs", token, cdr), 201, 200)
        if i % 5 == 0:
            again = expect("cdr again", request(a.base, "POST", "/api/cdrs", token, cdr), 200)
            if again["id"] != first["id"]:
                sys.exit(f"a repeated CDR got another id: {first} then {again}")
        if i % 3 == 0:
            expect("sms", request(a.base, "POST", "/api/external_messages", token, {
                "message_id": f"sim-sms-{a.seed}-{i}", "sender": f"+1555{rnd.randrange(10**7):07d}",
                "receiver": "+15550199", "extension_numbers": [callee if not external else caller],
                "msg_type": "SMS", "direction": "IN", "content": f"message {i}",
                "delivery": "RECV", "created_at": began.isoformat().replace("+00:00", "Z")}), 201, 200)
        print(f"call {i}: {caller} -> {callee}, {duration}s, cdr {first['id']}")
    for n in numbers:
        request(a.base, "POST", f"/api/registrations/sim-{n}/destroy", token)
    print("done")


if __name__ == "__main__":
    main()
