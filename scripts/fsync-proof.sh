#!/usr/bin/env bash
# The fsync proof, from the outside: runs `switchboard log stress` under
# strace and checks, syscall by syscall, that every acknowledgement the
# stress tool prints ("acked FIRST LAST", one write(1, ...) each) comes after
# an fdatasync of the segment file that completed after the frame holding
# LAST was written. Segments are prepared as `next.prep` and renamed into
# place; the check follows the rename. Then runs the same load with `--durability os` and
# checks that the checker catches it (acknowledgements without fdatasync),
# so the check itself is shown to be able to fail.
#
#   scripts/fsync-proof.sh [path/to/switchboard]     (needs strace and python3)
#
# The unit-level proof is events/tests/log.rs
# (`no_append_is_acknowledged_before_the_fdatasync_that_covers_it`).
set -euo pipefail
bin="${1:-target/debug/switchboard}"
command -v strace >/dev/null || { echo "fsync-proof: strace is required (apt-get install -y strace)" >&2; exit 2; }
[ -x "$bin" ] || { echo "fsync-proof: $bin is not built (cargo build)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

trace() { # durability -> trace file
  strace -f -qq -xx -s 32 -o "$work/trace-$1" \
    -e trace=openat,close,rename,renameat,renameat2,write,pwrite64,pwritev,pwritev2,fsync,fdatasync,sync_file_range \
    "$bin" log stress --writers 8 --appends 40 --batch 2 --durability "$1" \
    --data-dir "$work/data-$1" >/dev/null 2>"$work/stderr-$1" \
    || { cat "$work/stderr-$1" >&2; exit 1; }
  echo "$work/trace-$1"
}

check() { # trace file -> exit 0 if every ack follows the fdatasync covering it
python3 - "$1" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
call = re.compile(r'^(\d+) +(\w+)\((.*)$')
resumed = re.compile(r'^(\d+) +<\.\.\. (\w+) resumed>(.*)$')
result = re.compile(r'= (-?\d+)')
seg_fds = {}          # fd -> segment path
prep_fds = []         # fds open on a prepared segment (next.prep), oldest first
unfinished = {}       # pid -> (name, args)
written = {}          # fd -> frames completed but not yet covered by a sync: [last_offset]
sync_started = {}     # pid -> (fd, [last offsets written before the sync began])
durable = 0           # highest offset covered by a completed fdatasync
acks = frames = syncs = segment_sfr = 0
bad = []

def unhex(s):
    return bytes(int(h, 16) for h in re.findall(r'\\x([0-9a-f]{2})', s))

def paths(s):
    return [unhex(q) for q in re.findall(r'"((?:\\x[0-9a-f]{2})*)"', s)]

def start(pid, name, args):
    global segment_sfr
    if name == 'sync_file_range' and int(re.match(r'\s*(\d+)', args).group(1)) in seg_fds:
        segment_sfr += 1
    if name in ('fdatasync', 'fsync'):
        fd = int(re.match(r'\s*(\d+)', args).group(1))
        if fd in seg_fds:
            sync_started[pid] = (fd, list(written.get(fd, [])))
    elif name == 'write' and args.startswith('1, '):
        text = unhex(args).decode('ascii', 'replace')
        m = re.match(r'acked (\d+) (\d+)', text)
        if m:
            global acks
            acks += 1
            last = int(m.group(2))
            if last > durable:
                bad.append(f'ack of {m.group(1)}..{last} written while only offsets <= {durable} were fdatasynced')

def finish(pid, name, args, rest):
    global durable, frames, syncs
    r = result.search(rest)
    ok = r is not None and int(r.group(1)) >= 0
    if name == 'openat' and ok and unhex(args).endswith(b'.seg'):
        seg_fds[int(r.group(1))] = args
    elif name == 'openat' and ok and unhex(args).endswith(b'next.prep'):
        # A segment is prepared (zeros written, synced) under this name
        # and renamed to its segment name before any frame goes in.
        prep_fds.append(int(r.group(1)))
    elif name.startswith('rename') and ok:
        names = paths(args)
        if len(names) == 2 and names[0].endswith(b'next.prep') and names[1].endswith(b'.seg') and prep_fds:
            seg_fds[prep_fds.pop(0)] = names[1]
    elif name == 'close' and ok:
        fd = int(re.match(r'\s*(\d+)', args).group(1))
        seg_fds.pop(fd, None)
        if fd in prep_fds:
            prep_fds.remove(fd)
    elif name == 'pwrite64' and ok:
        fd = int(args.split(',')[0])
        data = unhex(args)
        if fd in seg_fds and data[:4] == b'SBC1' and len(data) >= 20:
            first = int.from_bytes(data[8:16], 'little')
            count = int.from_bytes(data[16:20], 'little')
            written.setdefault(fd, []).append(first + count - 1)
            frames += 1
    elif name in ('fdatasync', 'fsync') and pid in sync_started:
        fd, covered = sync_started.pop(pid)
        if ok:
            syncs += 1
            if covered:
                durable = max(durable, max(covered))
            written[fd] = [o for o in written.get(fd, []) if o not in covered]

for line in lines:
    m = resumed.match(line)
    if m:
        pid, name, rest = int(m.group(1)), m.group(2), m.group(3)
        _, args = unfinished.pop(pid, (name, ''))
        finish(pid, name, args, rest)
        continue
    m = call.match(line)
    if not m:
        continue
    pid, name, args = int(m.group(1)), m.group(2), m.group(3)
    start(pid, name, args)
    if args.endswith('<unfinished ...>'):
        unfinished[pid] = (name, args)
    else:
        finish(pid, name, args, args)

print(f'{acks} acknowledgements, {frames} frames written, {syncs} fdatasyncs of segments, '
      f'{segment_sfr} sync_file_range calls on segments '
      f'({sum(1 for l in lines if "sync_file_range(" in l)} in all: sled, on the index)')
if acks == 0 or frames == 0:
    print('nothing to check: no acknowledgement or no frame seen'); sys.exit(1)
for b in bad[:5]:
    print('VIOLATION:', b)
sys.exit(1 if bad else 0)
PY
}

echo "== durability fsync: every acknowledgement must follow its fdatasync"
check "$(trace fsync)"
echo "ok"
echo "== durability os (control): the checker must find violations"
if check "$(trace os)"; then
  echo "fsync-proof: the checker passed a log that does not fdatasync; it proves nothing" >&2
  exit 1
fi
echo "ok: the control run was caught"
