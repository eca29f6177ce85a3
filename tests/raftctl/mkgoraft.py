#!/usr/bin/env python3
"""tests/raftctl/mkgoraft.py DIR NAME URL WRITES [--torn] [--start N] [--peer NAME=URL]...

Writes a goraft raftd data directory as goraft would leave it
(docs/goraft-protocol.md §9): `name` (no newline), `conf`
({"commitIndex":N,"peers":[...]}) and `log`, records of a 9-byte "%8x\\n"
header and a LogEntry protobuf. The log: NAME's self-join at term 0, the
joins of --peer members, WRITES `write` commands (keys k1.., values v1..),
a raft:nop at term 1 halfway. --torn appends half a record; --start N
numbers the log from N (a compacted log)."""
import json, os, sys

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def entry(index, term, name, cmd):
    b = b"\x08" + varint(index) + b"\x10" + varint(term)
    b += b"\x1a" + varint(len(name)) + name.encode()
    if cmd is not None:
        b += b"\x22" + varint(len(cmd)) + cmd
    return b

def gojson(o):
    return (json.dumps(o, separators=(",", ":")) + "\n").encode()

def main():
    args = sys.argv[1:]
    torn = "--torn" in args
    start = 1
    peers = []
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--torn":
            pass
        elif args[i] == "--start":
            start = int(args[i + 1]); i += 1
        elif args[i] == "--peer":
            n, u = args[i + 1].split("=", 1); peers.append((n, u)); i += 1
        else:
            rest.append(args[i])
        i += 1
    d, name, url, writes = rest[0], rest[1], rest[2], int(rest[3])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "name"), "w") as f:
        f.write(name)
    ents = [("raft:join", 0, gojson({"name": name, "connectionString": url}))]
    for n, u in peers:
        ents.append(("raft:join", 0, gojson({"name": n, "connectionString": u})))
    term = 0
    for k in range(1, writes + 1):
        if k == writes // 2 + 1:
            term = 1
            ents.append(("raft:nop", term, None))
        ents.append(("write", term, gojson({"key": "k%d" % k, "value": "v%d" % k})))
    log = bytearray()
    for idx, (cmd, t, body) in enumerate(ents, start):
        e = entry(idx, t, cmd, body)
        log += b"%8x\n" % len(e) + e
    if torn:
        e = entry(start + len(ents), term, "write", gojson({"key": "torn", "value": "x"}))
        log += b"%8x\n" % len(e) + e[: len(e) // 2]
    with open(os.path.join(d, "log"), "wb") as f:
        f.write(log)
    conf = {"commitIndex": start + len(peers), "peers": [{"name": n, "connectionString": u} for n, u in peers]}
    with open(os.path.join(d, "conf"), "w") as f:
        f.write(json.dumps(conf, separators=(",", ":")))
    os.makedirs(os.path.join(d, "snapshot"), exist_ok=True)

main()
