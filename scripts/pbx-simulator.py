#!/usr/bin/env python3
"""Plays the PBX against a running switchboard, so the whole flow can be
watched end to end (e.g. with `GET /api/user/events` open in another
terminal, or a `cdr_event` webhook receiver).

As a user holding the Replicator role (the PBX's account) it, for each
call: registers the caller's device, reports the call state ON_CALL and
back to IDLE, then reports the CDR (idempotent by its call id: a CDR is
sent twice on purpose, and the second answer must be 200 with the same
id); every few calls it reports an inbound SMS too.

With `--meeting ROOM_ID` (a meeting some user created under
`/api/user/meetings`) it also plays the media server: it reports the room
running with the numbers as participants (twice: the repeat must answer
`"recorded": false`), then follows the change stream for `--follow`
seconds and, for every control of that room (start, mute, lock, kick,
invite...), applies it to its own copy and reports the new actual state,
so `GET /api/user/meetings/{id}/status` shows desired and actual meeting.

Usage:
  scripts/pbx-simulator.py --base http://127.0.0.1:8899 --domain acme.example \
      --user pbx --password 'Passw0rd-123' --numbers 101,102,103 --calls 20 \
      [--meeting ROOM_ID --follow 60]

Only the standard library; exits non-zero on any unexpected answer.
"""

import argparse
import datetime
import json
import random
import sys
import time
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


def apply_control(state, item):
    """What the media server does with one control: its new actual state."""
    action = item["action"]
    people = state["participants"]
    who = next((p for p in people if p["id"] == item.get("participant_id")), None)
    flags = {"mute": ("muted", True), "unmute": ("muted", False), "lock": ("locked", True),
             "unlock": ("locked", False), "start_recording": ("recording", True),
             "stop_recording": ("recording", False)}
    if action in flags:
        key, value = flags[action]
        state[key] = value
    elif action == "start":
        state["status"] = "ON_CALL" if people else "ONLINE"
    elif action == "stop":
        state.update(status="OFFLINE", participants=[], locked=False, muted=False, recording=False)
    elif action in ("mute_participant", "unmute_participant") and who:
        who["muted"] = action == "mute_participant"
    elif action == "chairman" and who:
        for p in people:
            p["chairman"] = p is who
    elif action == "position" and who:
        who["position"] = item["position"]
    elif action == "layout":
        for p in people:
            p["position"] = item["items"].index(p["id"]) if p["id"] in item["items"] else -1
    elif action == "destroy_participant" and who:
        people.remove(who)
    elif action == "invite" and state["status"] != "OFFLINE":
        people.append({"id": f"p-{item['number']}", "display_name": item["number"],
                       "position": -1})
        state["status"] = "ON_CALL"


def play_meeting(a, token, numbers):
    """Plays the media server of meeting `a.meeting` (module docs)."""
    room = a.meeting
    state = {"status": "ON_CALL", "locked": False, "muted": False, "recording": False,
             "participants": [{"id": f"p-{n}", "display_name": n, "extension_number": n,
                               "chairman": i == 0, "position": i if i < 9 else -1}
                              for i, n in enumerate(numbers[:200])]}

    def report():
        out = expect("meeting state", request(a.base, "POST", f"/api/meetings/{room}/state",
                                              token, state), 200)
        print(f"meeting {room}: {state['status']}, {len(state['participants'])} in, "
              f"recorded={out['recorded']}")
        return out

    report()
    if report()["recorded"]:
        sys.exit("a repeated meeting report was recorded again")
    req = urllib.request.Request(a.base + "/api/user/events")
    req.add_header("authorization", "Bearer " + token)
    deadline = time.monotonic() + a.follow
    event = None
    try:
        with urllib.request.urlopen(req, timeout=max(a.follow, 1)) as resp:
            for raw in resp:
                if time.monotonic() > deadline:
                    break
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line[len("event:"):].strip()
                elif line.startswith("data:") and event == "meetings":
                    item = json.loads(line[len("data:"):])["item"]
                    if item.get("id") == room and item.get("action") not in (None, "state"):
                        print(f"meeting {room}: asked {item['action']}")
                        apply_control(state, item)
                        report()
    except TimeoutError:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="http://127.0.0.1:8899")
    p.add_argument("--domain", required=True, help="the tenant's SIP domain")
    p.add_argument("--user", required=True, help="the PBX's account (Replicator role)")
    p.add_argument("--password", required=True)
    p.add_argument("--numbers", required=True, help="extension numbers, comma-separated")
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--meeting", help="a meeting id to play the media server of")
    p.add_argument("--follow", type=int, default=30,
                   help="seconds to follow the change stream for meeting controls")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    numbers = [n.strip() for n in a.numbers.split(",") if n.strip()]
    signed = expect(
        "sign in",
        request(a.base, "POST", "/api/auth/sign_in",
                body={"username": a.user, "password": a.password, "domain": a.domain}),
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
    if a.meeting:
        play_meeting(a, token, numbers)
    print("done")


if __name__ == "__main__":
    main()
