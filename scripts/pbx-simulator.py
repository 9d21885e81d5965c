#!/usr/bin/env python3
"""Plays the PBX against a running switchboard, so the whole flow can be
watched end to end (e.g. with `GET /api/user/events` open in another
terminal, or a `cdr_event` webhook receiver), and checks what it reported.

As a user holding the Replicator role (the PBX's account) it registers a
device per number, then for each call: puts the caller in the call queue's
waiting list (with `--queue`) and takes it out again, reports the call
state ON_CALL and back to IDLE, then the CDR (idempotent by its call id: a
CDR is sent twice on purpose, and the second answer must be 200 with the
same id); every third call an inbound SMS; every second call a recording
(the audio uploaded through the file store as a temporary file, then the
metadata naming it; sent twice too).

With `--check-user` (an Admin of the tenant) it then reads back every CDR,
message and recording it reported (`GET /api/cdrs/{id}`, …), downloads
each recording's audio and compares the bytes, and checks the waiting
list showed each caller while waiting and not after.

With `--meeting ROOM_ID` (a meeting some user created under
`/api/user/meetings`) it also plays the media server: it reports the room
running with the numbers as participants (twice: the repeat must answer
`"recorded": false`), then follows the change stream for `--follow`
seconds and, for every control of that room (start, mute, lock, kick,
invite...), applies it to its own copy and reports the new actual state,
so `GET /api/user/meetings/{id}/status` shows desired and actual meeting.

Usage:
  scripts/pbx-simulator.py --base http://127.0.0.1:8899 --domain acme.example \\
      --user pbx --password 'Passw0rd-123' --numbers 101,102,103 --calls 20 \\
      [--queue 800] [--check-user boss --check-password 'Passw0rd-123'] \\
      [--meeting ROOM_ID --follow 60]

Only the standard library; exits non-zero on any unexpected answer.
"""

import argparse
import datetime
import hashlib
import json
import random
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def raw_request(base, method, path, token=None, data=None, headers=None):
    req = urllib.request.Request(base + path, data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def request(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    status, _, text = raw_request(base, method, path, token, data,
                                  {"content-type": "application/json"})
    return status, json.loads(text.decode() or "null")


def expect(what, got, *statuses):
    status, body = got
    if status not in statuses:
        sys.exit(f"{what}: {status} {body}")
    return body


def check(what, ok, detail=""):
    if not ok:
        sys.exit(f"check failed: {what} {detail}")


def rfc3339(t):
    return t.isoformat().replace("+00:00", "Z")


def wav(seed):
    """A short valid WAV file, distinct per seed."""
    data = bytes((seed * 7 + i) % 256 for i in range(400))
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


def upload(base, token, name, content):
    """Uploads `content` as a temporary file; returns its id."""
    q = urllib.parse.urlencode({"filename": name, "temporary": "true"})
    status, headers, body = raw_request(base, "POST", f"/api/blobs/uploads?{q}", token, b"")
    if status != 202:
        sys.exit(f"begin upload: {status} {body!r}")
    h = {k.lower(): v for k, v in headers.items()}
    up, up_token = h["portsip-upload-id"], h["portsip-upload-token"]
    digest = hashlib.sha256(content).hexdigest()
    status, _, body = raw_request(
        base, "POST", f"/api/blobs/uploads/{up}/complete?digest=sha256:{digest}", token,
        content, {"portsip-upload-token": up_token, "content-type": "application/octet-stream"})
    if status != 201:
        sys.exit(f"complete upload: {status} {body!r}")
    return json.loads(body)["id"]


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
    p.add_argument("--queue", help="a call queue's number: callers wait in it first")
    p.add_argument("--check-user", help="an Admin of the tenant, to read everything back")
    p.add_argument("--check-password")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--meeting", help="a meeting id to play the media server of")
    p.add_argument("--follow", type=int, default=30,
                   help="seconds to follow the change stream for meeting controls")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    numbers = [n.strip() for n in a.numbers.split(",") if n.strip()]

    def sign_in(name, password):
        return expect(f"sign in {name}", request(
            a.base, "POST", "/api/auth/sign_in",
            body={"username": name, "password": password, "domain": a.domain}), 200)["access_token"]

    token = sign_in(a.user, a.password)
    admin = sign_in(a.check_user, a.check_password) if a.check_user else None
    queue = None
    if a.queue:
        owner = expect("queue number", request(a.base, "GET", f"/api/extension_numbers/{a.queue}",
                                               token), 200)
        check("the queue number is a call queue", owner.get("type") == "CALL_QUEUE", owner)
        queue = owner["id"]

    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for n in numbers:
        expect(f"register {n}", request(a.base, "POST", "/api/registrations", token, {
            "extension_number": n, "instance_id": f"sim-{n}", "user_agent": "pbx-simulator",
            "application": "simulator", "ip": "192.0.2.10", "expires": 3600,
            "contact_address": f"sip:{n}@192.0.2.10:5060"}), 200)
    cdrs, messages, recordings, waited = {}, {}, {}, []
    for i in range(a.calls):
        caller = rnd.choice(numbers)
        external = rnd.random() < 0.4
        callee = f"+4930{rnd.randrange(10**7):07d}" if external else rnd.choice(numbers)
        began = start + datetime.timedelta(minutes=i)
        duration = rnd.randrange(5, 600)
        if queue:
            session = f"sim-{a.seed}-{i}"
            waiting = f"/api/call_queues/{queue}/waiting"
            expect("waiting", request(a.base, "POST", waiting, token, {
                "session_id": session, "extension_number": caller,
                "display_name": f"caller {i}"}), 201)
            if admin:
                listed = expect("waiting list", request(a.base, "GET", waiting, admin), 200)
                check("the caller is listed while waiting",
                      any(w["session_id"] == session for w in listed["items"]), listed)
            expect("gone", request(a.base, "POST", f"{waiting}/{session}/destroy", token, {}), 204)
            waited.append(session)
        status, user = request(a.base, "GET", f"/api/extension_numbers/{caller}", token)
        user_id = user.get("id") if status == 200 and user.get("type") == "EXTENSION" else None
        if user_id:
            for state in ("ON_CALL", "IDLE"):
                expect("call state", request(a.base, "POST", f"/api/users/{user_id}/call_state",
                                             token, {"state": state}), 200)
        cdr = {
            "call_id": f"sim-{a.seed}-{i}@pbx", "caller": caller, "callee": callee,
            "started_at": rfc3339(began),
            "answered_at": rfc3339(began + datetime.timedelta(seconds=4)),
            "ended_at": rfc3339(began + datetime.timedelta(seconds=4 + duration)),
            "duration": duration, "status_code": 200,
            "direction": "OUTBOUND_CALL" if external else "EXTENSION_CALL",
            "end_reason": rnd.choice(["CALLER_DISCONNECTED", "CALLEE_DISCONNECTED"]),
        }
        first = expect("cdr", request(a.base, "POST", "/api/cdrs", token, cdr), 201, 200)
        cdrs[first["id"]] = cdr
        if i % 5 == 0:
            again = expect("cdr again", request(a.base, "POST", "/api/cdrs", token, cdr), 200)
            check("a repeated CDR keeps its id", again["id"] == first["id"], (first, again))
        if i % 3 == 0:
            sms = {"message_id": f"sim-sms-{a.seed}-{i}", "sender": f"+1555{rnd.randrange(10**7):07d}",
                   "receiver": "+15550199", "extension_numbers": [callee if not external else caller],
                   "msg_type": "SMS", "direction": "IN", "content": f"message {i}",
                   "delivery": "RECV", "created_at": rfc3339(began)}
            got = expect("sms", request(a.base, "POST", "/api/external_messages", token, sms), 201, 200)
            messages[got["id"]] = sms
        if i % 2 == 0:
            audio = wav(a.seed * 1000 + i)
            file_id = upload(a.base, token, f"call-{i}.wav", audio)
            meta = {"recording_id": f"sim-rec-{a.seed}-{i}", "file_id": file_id, "caller": caller,
                    "callee": callee, "started_at": cdr["started_at"], "ended_at": cdr["ended_at"],
                    "duration": duration}
            rec = expect("recording", request(a.base, "POST", "/api/recordings", token, meta), 201, 200)
            again = expect("recording again",
                           request(a.base, "POST", "/api/recordings", token, meta), 200)
            check("a repeated recording keeps its id", again["id"] == rec["id"], (rec, again))
            recordings[rec["id"]] = (meta, audio)
        print(f"call {i}: {caller} -> {callee}, {duration}s, cdr {first['id']}")
    for n in numbers:
        request(a.base, "POST", f"/api/registrations/sim-{n}/destroy", token)

    if admin:
        for cid, cdr in cdrs.items():
            got = expect("read cdr", request(a.base, "GET", f"/api/cdrs/{cid}", admin), 200)["items"][0]
            for k in ("call_id", "caller", "callee", "started_at", "duration"):
                check(f"cdr {cid} {k}", got[k] == cdr[k], (got[k], cdr[k]))
        for mid, sms in messages.items():
            got = expect("read message", request(a.base, "GET", f"/api/external_messages/{mid}", admin), 200)
            check(f"message {mid}", got["content"] == sms["content"], got)
        for rid, (meta, audio) in recordings.items():
            got = expect("read recording", request(a.base, "GET", f"/api/recordings/{rid}", admin),
                         200)["items"][0]
            check(f"recording {rid}", got["started_at"] == meta["started_at"], got)
            check(f"recording {rid} size", got["file_size"] == len(audio), got)
            status, _, body = raw_request(a.base, "GET", got["file_url"], admin)
            check(f"recording {rid} audio", status == 200 and body == audio, status)
        if queue:
            listed = expect("waiting list", request(a.base, "GET", f"/api/call_queues/{queue}/waiting",
                                                    admin), 200)
            check("nobody the simulator reported is still waiting",
                  not any(w["session_id"] in waited for w in listed["items"]), listed)
        print(f"checked {len(cdrs)} CDRs, {len(messages)} messages, {len(recordings)} recordings, "
              f"{len(waited)} waiting callers")
    if a.meeting:
        play_meeting(a, token, numbers)
    print("done")


if __name__ == "__main__":
    main()
