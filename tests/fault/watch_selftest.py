#!/usr/bin/python3
"""tests/fault/watch_selftest.py — watch_check.py and lease_check.py on
hand-made files: a good run passes, and each kind of bad one is caught
with its kind of violation (the checks' "fails before" proof: none of them
needs a cluster). Exit 0 when every case gives the expected verdict."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1000000

# a history: P, W and C records (client, kind, key, value, status, call, ret, node)
HISTORY = """\
O 0 P h0.0 1.0.1 ok 1000 2000 0
O 1 W h0.1 1.1.1 ok 1100 2100 1
O 0 C h0.0 1.0.1>1.0.2>t ok 2200 3000 0
O 1 M h0.1 1.1.1>1.1.2>f ok 2300 3100 1
O 2 P h0.2 1.2.1 info 2400 -1 2
O 2 W h0.2 1.2.2 fail 2500 2600 2
O 1 G h0.0 1.0.2 ok 3200 3300 0
"""

LEASE = """\
G 1500 1600 7587 5 1 lease.1.1
W 1600 1700 lease.1.1 1.lease.1 ok 0
"""


def events(*evs, start=5, end=None, node=0):
    """A watcher's file: S from start, the events (rev, order, kind, key,
    value), END at end (default: the last revision)."""
    out = ["S %d %d %d" % (T0, node, start)]
    t = T0
    for rev, order, kind, key, value in evs:
        t += 10
        out.append("E %d %d %d %s %s %s %d" % (t, rev, order, kind, key, value, node))
    last = evs[-1][0] if evs else start - 1
    if end is not False:
        out.append("END %d %d %d" % (t + 10, end if end is not None else last, last))
    return "\n".join(out) + "\n"


GOOD = [
    (5, 0, "P", "h0.0", "1.0.1"),
    (6, 0, "P", "h0.1", "1.1.1"),
    (7, 0, "P", "lease.1.1", "1.lease.1"),
    (8, 0, "P", "h0.0", "1.0.2"),
    (9, 0, "D", "lease.1.1", "-"),
]


def replace(evs, i, new):
    return evs[:i] + [new] + evs[i + 1:]


# name: (watcher files, expected exit, a word its output must have)
CASES = {
    "good": ([events(*GOOD)], 0, "0 violations"),
    "good, unknown write applied": ([events(*GOOD[:4], (9, 0, "P", "h0.2", "1.2.1"),
                                           (10, 0, "D", "lease.1.1", "-"))], 0, "0 violations"),
    "good, two watchers": ([events(*GOOD), events(*GOOD[2:], start=7, node=1)], 0, "0 violations"),
    "good, a compaction gap": (["S %d 0 5\nC %d 0 5 7\n" % (T0, T0 + 1) + events(*GOOD[2:], start=7)], 0, "compact"),
    "a compaction hides fewer revisions than writes missed": (["S %d 0 5\nC %d 0 5 6\n" % (T0, T0 + 1) +
                                                              events(*GOOD[1:2], GOOD[3], start=6)], 1, "missed"),
    "a revision skipped": ([events(*GOOD[:2], *GOOD[3:])], 1, "skipped"),
    "first revision skipped": ([events(*GOOD[1:])], 1, "skipped"),
    "out of order": ([events(GOOD[1], GOOD[0], *GOOD[2:])], 1, "order"),
    "an event twice": ([events(*GOOD[:2], GOOD[1], *GOOD[2:])], 1, "order"),
    "a write applied twice": ([events(*GOOD[:4], (9, 0, "P", "h0.0", "1.0.2"), (10, 0, "D", "lease.1.1", "-"))],
                              1, "twice"),
    "an acknowledged write missing": ([events(*GOOD[:3], (8, 0, "P", "h0.2", "1.2.1"), GOOD[4])], 1, "missed"),
    "a value nobody wrote": ([events(*replace(GOOD, 1, (6, 0, "P", "h0.1", "9.9.9")))], 1, "unknown"),
    "a value written to another key": ([events(*replace(GOOD, 1, (6, 0, "P", "h0.2", "1.1.1")))], 1, "unknown"),
    "a failed write applied": ([events(*GOOD, (10, 0, "P", "h0.2", "1.2.2"))], 1, "unknown"),
    "a compare that failed applied": ([events(*GOOD, (10, 0, "P", "h0.1", "1.1.2"))], 1, "unknown"),
    "a delete nobody asked for": ([events(*GOOD, (10, 0, "D", "h0.0", "-"))], 1, "unknown"),
    "no END": ([events(*GOOD, end=False)], 1, "stalled"),
    "STALL": ([events(*GOOD, end=False) + "STALL %d 12 9\n" % (T0 + 99)], 1, "stalled"),
    "watchers diverge": ([events(*GOOD), events(GOOD[2], (8, 0, "P", "h0.1", "1.1.1"), start=7, node=1)],
                         1, "diverged"),
    "an event before its write": ([events(*GOOD).replace("E %d 5 " % (T0 + 10), "E 900 5 ")], 1, "causality"),
}


def run(args):
    p = subprocess.run([sys.executable] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def main():
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        hist = os.path.join(d, "history")
        lease = os.path.join(d, "lease")
        with open(hist, "w") as f:
            f.write(HISTORY)
        with open(lease, "w") as f:
            f.write(LEASE)
        for name, (files, want_rc, word) in CASES.items():
            paths = []
            for i, text in enumerate(files):
                p = os.path.join(d, "w%d" % i)
                with open(p, "w") as f:
                    f.write(text)
                paths.append(p)
            rc, out = run([os.path.join(HERE, "watch_check.py"), "--history", hist, "--lease", lease] + paths)
            ok = rc == want_rc and word in out
            print("%s: watch %s (exit %d)" % ("ok" if ok else "FAIL", name, rc))
            if not ok:
                fails += 1
                print(out)
        lfails = lease_cases(d)
        fails += lfails
    print("watch_selftest: %d failures" % fails)
    return 1 if fails else 0


S = 1000000000


def lease_file(*extra):
    """A holder's file: lease 0x10 (TTL 5 s) granted at 0 s, its key put at
    revision 7, keep-alives answered at 1..4 s, stopped at 4.5 s, the key
    still there at 6 s and 9 s, gone at 10 s everywhere; plus extra lines."""
    lines = ["T 0 0 2 1", "G 0 %d 16 5 1 lease.1.1" % (S // 100), "W %d %d lease.1.1 1.lease.1.1 ok 7" % (S // 50, S // 20)]
    for k in range(1, 5):
        lines.append("K %d %d 5 0 16" % (k * S, k * S + S // 100))
    lines.append("R %d %d 0 1 8 1 lease.1.1" % (6 * S, 6 * S + 1000))
    lines.append("STOP %d 1" % (4 * S + S // 2))
    lines.append("R %d %d 0 1 8 1 lease.1.1" % (9 * S, 9 * S + 1000))
    lines.append("R %d %d 0 1 9 0 lease.1.1" % (10 * S, 10 * S + 1000))
    for n in range(3):
        lines.append("R %d %d %d 0 9 0 lease.1.1" % (10 * S + 2000, 10 * S + 3000, n))
    lines.extend(extra)
    lines.append("DONE %d 1" % (11 * S))
    return "\n".join(lines) + "\n"


# name: (holder file, watcher file or None, expected exit, a word of the output)
LEASE_CASES = [
    ("good", lease_file(), None, 0, "0 violations"),
    ("good, a new leader extends", lease_file("T %d 1 3 2" % (8 * S), "R %d %d 0 1 8 1 lease.1.1" % (14 * S, 14 * S + 9)),
     None, 0, "0 violations"),
    ("gone while kept alive", lease_file("R %d %d 1 1 8 0 lease.1.1" % (3 * S, 3 * S + 1000)), None, 1, "gone at"),
    ("a keep-alive answers gone early", lease_file("K %d %d 0 0 16" % (2 * S + 5, 2 * S + 9)), None, 1, "TTL 0"),
    ("a serializable read without it", lease_file("R %d %d 2 0 8 0 lease.1.1" % (3 * S, 3 * S + 1000)), None, 1,
     "serializable"),
    ("a watcher sees the delete early", lease_file(), "E %d 9 0 D lease.1.1 - 0\n" % (5 * S), 1, "delete event"),
    ("still there after the deadline", lease_file("R %d %d 0 1 8 1 lease.1.1" % (13 * S, 13 * S + 9)), None, 1,
     "after the deadline"),
    ("a node keeps it after the delete", lease_file("R %d %d 2 0 9 1 lease.1.1" % (10 * S + 5, 10 * S + 9)), None, 1,
     "still shows"),
    ("never gone", lease_file().replace("9 0 lease", "8 1 lease"), None, 1, "never gone"),
]


def lease_cases(d):
    fails = 0
    for name, text, wtext, want_rc, word in LEASE_CASES:
        p = os.path.join(d, "lease-case")
        with open(p, "w") as f:
            f.write(text)
        args = [os.path.join(HERE, "lease_check.py"), p]
        if wtext:
            wp = os.path.join(d, "lease-watch")
            with open(wp, "w") as f:
                f.write(wtext)
            args += ["--watch", wp]
        rc, out = run(args)
        ok = rc == want_rc and word in out
        print("%s: lease %s (exit %d)" % ("ok" if ok else "FAIL", name, rc))
        if not ok:
            fails += 1
            print(out)
    return fails


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    sys.exit(main())
