#!/usr/bin/python3
"""tests/fault/lease_check.py — the lease checks of run.sh --watch: what a
lease holder (tests/fault/lease.py) saw, with the watchers' deletes
(tests/fault/watch.py files) as more observations.

    lease_check.py [--election-ms 300] [--early-ms 1000] [--late-ms 3000]
                   LEASEFILE [--watch WATCHFILE]..

  - never before its TTL while keep-alives arrive: no observation that a
    lease's key is gone (a linearizable read after its put, a serializable
    read at or after its put's revision, a keep-alive answered TTL <= 0, a
    watcher's delete event as it arrived) at a time t < s + TTL - early for
    a request s that was answered with the lease alive (its grant, a
    keep-alive answered TTL > 0, within 1 s): the leader sets the expiry
    after it receives the request, so a delete before s + TTL is early
    (the margin: clocks of two processes, rounding);
  - gone after its TTL plus one election time once keep-alives stop: no
    linearizable read invoked after the deadline finds the key, where the
    deadline is s + TTL for the last keep-alive sent s (answered or not),
    or t + TTL + election time for the first time t any node reported a
    term (a new leader extends every lease so, as etcd's Promote does),
    whichever is later, plus --late-ms (expiry check, commit, our polls);
  - on every node: no node shows the key at or after the revision of its
    delete; each node was seen without it (DONE 1).

Prints one line per problem and a summary line starting "lease:"; exits 0
when every check holds, 1 otherwise, 2 when a file cannot be read.
"""
import argparse
import sys
import urllib.parse
from collections import defaultdict

S = 1000000000


def secs(ns, base):
    return "%.3f s" % ((ns - base) / S)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--election-ms", type=int, default=300)
    ap.add_argument("--early-ms", type=int, default=1000)
    ap.add_argument("--late-ms", type=int, default=3000)
    ap.add_argument("--watch", action="append", default=[])
    ap.add_argument("lease")
    a = ap.parse_args()
    early, late, et = a.early_ms * 1000000, a.late_ms * 1000000, a.election_ms * 1000000
    gens = {}             # gen -> dict(id, ttl, key, grant, put_ret, put_rev)
    by_id, by_key = {}, {}
    alive = defaultdict(list)   # gen -> send times of requests answered alive
    sent = defaultdict(list)    # gen -> send times of every keep-alive
    gone = defaultdict(list)    # gen -> (time, what) observations of the key gone
    reads = []
    terms = {}
    stop = done = None
    try:
        with open(a.lease) as f:
            for lineno, line in enumerate(f, 1):
                x = line.split()
                if not x:
                    continue
                if x[0] == "G":
                    g = {"id": int(x[3]), "ttl": int(x[4]) * S, "key": x[6], "grant": int(x[1]),
                         "put_ret": None, "put_rev": None, "gen": int(x[5])}
                    gens[g["gen"]] = g
                    by_id[g["id"]] = by_key[g["key"]] = g
                    alive[g["gen"]].append(int(x[1]))
                elif x[0] == "W" and x[5] == "ok":
                    g = by_key[x[3]]
                    g["put_ret"], g["put_rev"] = int(x[2]), int(x[6])
                elif x[0] == "K":
                    g = by_id[int(x[5])]
                    sent[g["gen"]].append(int(x[1]))
                    if int(x[3]) > 0 and int(x[2]) - int(x[1]) <= S:
                        alive[g["gen"]].append(int(x[1]))
                    elif int(x[3]) <= 0:
                        gone[g["gen"]].append((int(x[2]), "a keep-alive answered TTL %s (line %d)" % (x[3], lineno)))
                elif x[0] == "KX":
                    sent[by_id[int(x[3])]["gen"]].append(int(x[1]))
                elif x[0] == "R":
                    reads.append((int(x[1]), int(x[2]), int(x[3]), x[4] == "1", int(x[5]), x[6] == "1", x[7], lineno))
                elif x[0] == "T":
                    t, term = int(x[1]), int(x[3])
                    terms[term] = min(terms.get(term, t), t)
                elif x[0] == "STOP":
                    stop = (int(x[1]), int(x[2]))
                elif x[0] == "DONE":
                    done = (int(x[1]), x[2] == "1")
        deletes = {}
        for p in a.watch:
            with open(p) as f:
                for lineno, line in enumerate(f, 1):
                    x = line.split()
                    if len(x) >= 7 and x[0] == "E" and x[4] == "D":
                        key = urllib.parse.unquote(x[5])
                        if key in by_key:
                            g = by_key[key]
                            gone[g["gen"]].append((int(x[1]), "%s:%d: a delete event at revision %s"
                                                   % (p.rsplit("/", 1)[-1], lineno, x[2])))
                            deletes.setdefault(key, int(x[2]))
    except (OSError, ValueError, IndexError, KeyError) as e:
        print("lease: cannot read: %r" % e)
        return 2
    if not gens:
        print("lease: VIOLATION: no lease was granted")
        print("lease: 0 leases, 1 violations")
        return 1
    base = min(g["grant"] for g in gens.values())
    bad = []
    for call, ret, node, lin, rev, present, key, lineno in reads:
        g = by_key.get(key)
        if g is None or present or g["put_ret"] is None:
            continue
        if (lin and call > g["put_ret"]) or (not lin and rev >= g["put_rev"]):
            gone[g["gen"]].append((ret, "a %s read at node %d answered without it at revision %d (line %d)"
                                   % ("linearizable" if lin else "serializable", node, rev, lineno)))
    # never early
    for gen, g in sorted(gens.items()):
        if not alive[gen] or not gone[gen]:
            continue
        s = max(alive[gen])
        for t, what in sorted(gone[gen]):
            if t < s + g["ttl"] - early:
                bad.append("lease %x (%s, TTL %d s) gone at %s: %s; a request sent at %s was answered with the "
                           "lease alive, so it lives until %s at least"
                           % (g["id"], g["key"], g["ttl"] // S, secs(t, base), what, secs(s, base),
                              secs(s + g["ttl"], base)))
                break
    # gone in time once the keep-alives stop, everywhere
    deadline = None
    if stop is None or done is None:
        bad.append("the holder did not finish (no STOP or no DONE record)")
    else:
        g = gens[stop[1]]
        s_last = max(sent[stop[1]] + [g["grant"]])
        deadline = s_last + g["ttl"]
        why = "the last keep-alive sent at %s + TTL" % secs(s_last, base)
        for term, t in sorted(terms.items()):
            if t + g["ttl"] + et > deadline:
                deadline = t + g["ttl"] + et
                why = "term %d first seen at %s + TTL + election time" % (term, secs(t, base))
        deadline += late
        lin_gone = [r for r in reads if r[6] == g["key"] and r[3] and not r[5] and r[0] > g["put_ret"]]
        lin_here = [r for r in reads if r[6] == g["key"] and r[3] and r[5]]
        if not lin_gone:
            bad.append("lease %x: %s never gone (keep-alives stopped at %s; deadline %s: %s)"
                       % (g["id"], g["key"], secs(stop[0], base), secs(deadline, base), why))
        late_reads = [r for r in lin_here if r[0] > deadline]
        if late_reads:
            r = late_reads[-1]
            bad.append("lease %x: %s still there at a linearizable read invoked at %s (line %d), after the "
                       "deadline %s (%s + %d ms)" % (g["id"], g["key"], secs(r[0], base), r[7],
                                                     secs(deadline, base), why, a.late_ms))
        d_rev = deletes.get(g["key"], min((r[4] for r in lin_gone), default=None))
        if d_rev is not None:
            for r in reads:
                if r[6] == g["key"] and not r[3] and r[5] and r[4] >= d_rev:
                    bad.append("node %d still shows %s at revision %d (line %d); it was deleted at revision %d"
                               % (r[2], g["key"], r[4], r[7], d_rev))
        if not done[1]:
            bad.append("not every node was seen without %s within the holder's wait" % g["key"])
    for b in bad:
        print("lease: VIOLATION: " + b)
    print("lease: %d leases (%d keep-alives answered alive), keep-alives stopped at %s, deadline %s, %d violations"
          % (len(gens), sum(len(v) for v in alive.values()), secs(stop[0], base) if stop else "-",
             secs(deadline, base) if deadline else "-", len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
