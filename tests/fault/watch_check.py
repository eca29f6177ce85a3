#!/usr/bin/python3
"""tests/fault/watch_check.py — the checks of run.sh --watch: what each
watcher (tests/fault/watch.py) saw against fault-client's history.

    watch_check.py --history FILE [--value-pad N] [--lease FILE]..
                   WATCHFILE..

Per watcher (its file, watch.py's format):
  - events come in strictly increasing (revision, order), every revision's
    events numbered 0, 1, .. (nothing twice, nothing out of order);
  - no revision is skipped between the revision after the one it started
    from and the last it saw: every revision is a write of the watched key
    space, so revisions seen must be contiguous; a gap is allowed only
    across a compact_revision answer (C record), and is then reported as
    such (with the acknowledged writes it may hide);
  - it reached the revision the cluster had at the end (END record);
  - every put's value is one a client wrote to that key, by a write that
    did not certainly fail and was invoked before the event arrived (values
    are unique: fault-client's tokens, with their padding under
    --value-pad; the lease holders' keys from their logs, --lease); a
    delete is of a lease holder's key (nothing else deletes);
  - no value is put twice (a write applied twice);
  - every acknowledged write (W, P, a C or M that swapped) appears exactly
    once; a write of unknown outcome at most once. History records carry
    no revision: writes are matched by key and value, which are unique.
Across watchers: the events of a revision are the same for every watcher
that saw it (same keys, values and kinds in the same order).

Prints one line per problem (at most 20 of a kind) and a summary line
starting "watch:"; exits 0 when every check holds, 1 otherwise, 2 when a
file cannot be read.
"""
import argparse
import sys
import urllib.parse
from collections import defaultdict

MAX_PER_KIND = 20


def dec(s):
    return "" if s == "-" else urllib.parse.unquote(s)


class Report:
    def __init__(self):
        self.counts = defaultdict(int)
        self.notes = []

    def bad(self, kind, msg):
        self.counts[kind] += 1
        if self.counts[kind] <= MAX_PER_KIND:
            print("watch: VIOLATION %s: %s" % (kind, msg))
        elif self.counts[kind] == MAX_PER_KIND + 1:
            print("watch: VIOLATION %s: (more not shown)" % kind)

    def note(self, msg):
        print("watch: note: " + msg)

    def total(self):
        return sum(self.counts.values())


class Write:
    __slots__ = ("key", "value", "status", "call", "line", "who")

    def __init__(self, key, value, status, call, line, who):
        self.key, self.value, self.status, self.call, self.line, self.who = key, value, status, call, line, who


def load_history(path, value_pad):
    """{(key, value): Write} of every write (W, P, C, M) of the history."""
    writes = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            fld = line.split()
            if len(fld) != 9 or fld[0] != "O" or fld[2] not in "WPCM":
                continue
            kind, key, value, st = fld[2], fld[3], fld[4], fld[5]
            if kind in "CM":
                _, new, res = value.split(">")
                value = new
                # a compare that failed put nothing: like a failed write
                if res == "f":
                    st = "fail"
                elif res == "-" and st == "ok":
                    st = "info"
            writes[(key, value)] = Write(key, value, st, int(fld[6]), lineno, "history")
    return writes


def load_lease(path, writes):
    """The lease holder's puts (W records) into writes; its keys."""
    keys = set()
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            fld = line.split()
            if len(fld) >= 6 and fld[0] == "W":
                # W CALL RET KEY VALUE STATUS ...
                key, value = dec(fld[3]), dec(fld[4])
                writes[(key, value)] = Write(key, value, fld[5], int(fld[1]), lineno, path)
                keys.add(key)
    return keys


def token(value, value_pad):
    """fault-client's token of a value written with --value-pad."""
    if not value_pad:
        return value
    t, dash, pad = value.partition("-")
    return t if dash and len(pad) == value_pad else value


class Watch:
    def __init__(self, path):
        self.path = path
        self.recs = []
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                fld = line.split()
                if fld:
                    self.recs.append((lineno, fld))


def check_watcher(w, writes, lease_keys, value_pad, rep, seen_by_rev):
    """One watcher's checks. Returns (events, first, last, gaps, counts)
    where counts maps (key, value) of puts to their number."""
    name = w.path.rsplit("/", 1)[-1]
    counts = defaultdict(int)
    first_rev = prev = None       # prev: (rev, order) of the last event
    started_from = None
    compacted_since = False       # a C record since the last event
    gaps = []
    end = False
    nev = 0
    where = {}
    for lineno, f in w.recs:
        at = "%s:%d" % (name, lineno)
        try:
            if f[0] == "S":
                if started_from is None:
                    started_from = int(f[3])
            elif f[0] == "C":
                compacted_since = True
                rep.note("%s: node %s answered a watch from %s with compact_revision %s" % (at, f[2], f[3], f[4]))
            elif f[0] == "END":
                end = True
            elif f[0] == "STALL":
                rep.bad("stalled", "%s: the watcher did not reach the cluster's revision %s at the end "
                        "(last seen %s)" % (at, f[2], f[3]))
            elif f[0] == "E":
                nev += 1
                t, rev, order, kind = int(f[1]), int(f[2]), int(f[3]), f[4]
                key, value = dec(f[5]), dec(f[6])
                if prev is None:
                    first_rev = rev
                    if started_from is not None and rev != started_from:
                        if compacted_since:
                            gaps.append((started_from, rev - 1))
                        else:
                            rep.bad("skipped", "%s: first event at revision %d, the watch started from %d"
                                    % (at, rev, started_from))
                else:
                    prev_rev, prev_order = prev
                    if (rev, order) <= prev:
                        rep.bad("order", "%s: event (revision %d, order %d) after (%d, %d)"
                                % (at, rev, order, prev_rev, prev_order))
                    elif rev == prev_rev and order != prev_order + 1:
                        rep.bad("order", "%s: revision %d: event %d after event %d" % (at, rev, order, prev_order))
                    elif rev > prev_rev + 1:
                        if compacted_since:
                            gaps.append((prev_rev + 1, rev - 1))
                            rep.note("%s: revisions %d..%d not seen, across a compaction" % (at, prev_rev + 1, rev - 1))
                        else:
                            rep.bad("skipped", "%s: revisions %d..%d skipped (event at %d after %d)"
                                    % (at, prev_rev + 1, rev - 1, rev, prev_rev))
                    if rev > prev_rev and order != 0:
                        rep.bad("order", "%s: revision %d starts with event %d" % (at, rev, order))
                if prev is None and order != 0:
                    rep.bad("order", "%s: revision %d starts with event %d" % (at, rev, order))
                if prev is None or (rev, order) > prev:
                    prev = (rev, order)
                compacted_since = False
                # the same revision, another watcher: the same event
                ev = (kind, key, value)
                other = seen_by_rev.get((rev, order))
                if other is None:
                    seen_by_rev[(rev, order)] = (ev, at)
                elif other[0] != ev:
                    rep.bad("diverged", "%s: revision %d event %d is %s, %s saw %s"
                            % (at, rev, order, fmt(ev), other[1], fmt(other[0])))
                if kind == "D":
                    if key not in lease_keys:
                        rep.bad("unknown", "%s: delete of %s at revision %d: nothing deletes it" % (at, key, rev))
                    continue
                wkey = (key, token(value, value_pad) if key not in lease_keys else value)
                wr = writes.get(wkey)
                if wr is None:
                    rep.bad("unknown", "%s: put %s=%s at revision %d: no client wrote that value there"
                            % (at, key, short(value), rev))
                    continue
                if wr.status == "fail":
                    rep.bad("unknown", "%s: put %s=%s at revision %d: a write that failed (%s line %d)"
                            % (at, key, short(value), rev, wr.who, wr.line))
                if t < wr.call:
                    rep.bad("causality", "%s: put %s=%s at revision %d arrived before its write was invoked "
                            "(%s line %d)" % (at, key, short(value), rev, wr.who, wr.line))
                counts[wkey] += 1
                if counts[wkey] == 2:
                    rep.bad("twice", "%s: put %s=%s again at revision %d (first at revision %d)"
                            % (at, key, short(value), rev, where[wkey]))
                where.setdefault(wkey, rev)
        except (IndexError, ValueError):
            rep.bad("format", "%s: bad record: %s" % (at, " ".join(f)))
    if not end:
        rep.bad("stalled", "%s: no END record: the watcher did not finish" % name)
    return nev, started_from, prev[0] if prev else None, gaps, counts, where


def fmt(ev):
    return "%s %s%s" % ("put" if ev[0] == "P" else "delete", ev[1], "=" + short(ev[2]) if ev[0] == "P" else "")


def short(v):
    return v if len(v) <= 40 else v[:37] + "..."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", required=True)
    ap.add_argument("--value-pad", type=int, default=0)
    ap.add_argument("--lease", action="append", default=[])
    ap.add_argument("watches", nargs="+")
    a = ap.parse_args()
    rep = Report()
    try:
        writes = load_history(a.history, a.value_pad)
        lease_keys = set()
        for p in a.lease:
            lease_keys |= load_lease(p, writes)
        watches = [Watch(p) for p in a.watches]
    except (OSError, ValueError) as e:
        print("watch: cannot read: %s" % e)
        print("watch: harness error")
        return 2
    seen_by_rev = {}
    acked = [w for w in writes.values() if w.status == "ok"]
    events = 0
    spans = []
    results = []
    rev_of = {}
    for w in watches:
        results.append(check_watcher(w, writes, lease_keys, a.value_pad, rep, seen_by_rev))
        rev_of.update(results[-1][5])
    for w, (nev, first, last, gaps, counts, _) in zip(watches, results):
        events += nev
        name = w.path.rsplit("/", 1)[-1]
        spans.append("%s %s..%s" % (name, first, last))
        hidden = sum(g[1] - g[0] + 1 for g in gaps)
        # a write another watcher saw outside this one's span is not this
        # one's to see; one no watcher saw is everyone's (they all start
        # before the clients and end after them)
        missing = [x for x in acked if counts.get((x.key, x.value), 0) == 0 and
                   (first is None or last is None or first <= rev_of.get((x.key, x.value), first) <= last)]
        if missing and hidden >= len(missing):
            rep.note("%s: %d acknowledged writes not seen, within %d compacted revisions"
                     % (name, len(missing), hidden))
        else:
            for x in missing:
                rep.bad("missed", "%s: acknowledged write %s=%s (%s line %d) never seen"
                        % (name, x.key, short(x.value), x.who, x.line))
    print("watch: %d watchers, %d events, %d acknowledged writes, revisions %s, %d violations%s"
          % (len(watches), events, len(acked), ", ".join(spans), rep.total(),
             "".join(" (%s %d)" % kv for kv in sorted(rep.counts.items()))))
    return 1 if rep.total() else 0


if __name__ == "__main__":
    sys.exit(main())
