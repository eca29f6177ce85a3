#!/usr/bin/python3
"""tests/v3/watch-lease-ids.py — lease IDs in a transcript of
tests/v3/etcdctl-watch-lease.sh become <lease1>, <lease2>, ... in the order
they first appear.

    watch-lease-ids.py BLOCK.cmd...   the transcript's blocks, in order (see
                                      below), to stdout

A server picks its leases' IDs (etcd
from its member ID and the time, raftd at random), so only their identity
is compared: the same lease where etcd's transcript has the same lease.

etcdctl prints them in hex (lease grant, timetolive, keep-alive, the keys
of lock and elect: NAME/<hex>), JSON in decimal ("ID", "id", "lease").
Member IDs are already names here; a hex word of 8 to 16 digits is a lease.
The keys attached to a lease are sorted here too (see below).
"""
import json
import os
import re
import sys

names = {}


def name(v):
    if v not in names:
        names[v] = "<lease%d>" % (len(names) + 1)
    return names[v]


HEX = re.compile(r"(?<![0-9A-Za-z_])[0-9a-f]{8,16}(?![0-9A-Za-z_])")
DEC = re.compile(r'"(ID|id|lease)":([0-9]+)')
# the keys of a lease: etcd lists them in the order of a Go map, raftd in
# key order; compared as sets (sorted)
TEXT_KEYS = re.compile(r"attached keys\(\[([^]]*)\]\)")
JSON_KEYS = re.compile(r'"keys":\[([^]]*)\]')


def watch_events(line):
    """a watch response of etcdctl -w json, one line per event: how a server
    batches events into responses is its own (etcd sends a watch that
    catches up on history all it has in one response, one a revision
    once it is synced); its header's revision is normalised already"""
    if not line.startswith('{"Header":'):
        return line
    try:
        r = json.loads(line)
    except ValueError:
        return line
    if len(r.get("Events") or []) < 2:
        return line
    out = ""
    for e in r["Events"]:
        r["Events"] = [e]
        out += json.dumps(r, separators=(",", ":")) + "\n"
    return out


def normalise(line):
    line = watch_events(line)
    line = TEXT_KEYS.sub(lambda m: "attached keys([%s])" % " ".join(sorted(m.group(1).split())), line)
    line = JSON_KEYS.sub(lambda m: '"keys":[%s]' % ",".join(sorted(m.group(1).split(","))), line)
    # a TTL of ten digits is not a lease
    if line.startswith("$ etcdctl lease grant "):
        return line
    line = DEC.sub(lambda m: '"%s":"%s"' % (m.group(1), name(int(m.group(2)))), line)
    return HEX.sub(lambda m: name(int(m.group(0), 16)), line)


# the blocks of the transcript: BLOCK.cmd.n, then BLOCK.out.n, its lines
# sorted where BLOCK.sort exists (once their IDs are names: the order of
# leases the server lists is the order of their IDs)
for cmd in sys.argv[1:]:
    block = cmd[:-len(".cmd")]
    for line in open(cmd + ".n"):
        sys.stdout.write(normalise(line))
    out = "".join(normalise(line) for line in open(block + ".out.n")).splitlines(True)
    if os.path.exists(block + ".sort"):
        out.sort()
    sys.stdout.write("".join(out))
