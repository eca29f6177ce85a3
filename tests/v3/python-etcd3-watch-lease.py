#!/usr/bin/python3
"""Debian's python3-etcd3 (0.12), unchanged, against the Watch and Lease
services of a 3-node cluster that speaks etcd's v3 API (issue 20): watch
callbacks (a key, a prefix, a past revision, prev_kv, filters, cancel, a
compacted revision), watch_prefix iterators, watch_once; leases (grant with
and without an ID, TTL queried, keys attached, refresh keeping a key alive,
expiry once refreshes stop, revoke, etcd's errors); its Lock (acquire,
release, is_acquired, two threads on two members contending, a holder that
stops refreshing losing the lock when its TTL runs out). Run by
tests/v3/python-etcd3-watch-lease.sh against etcd (to prove this script) and
raftd; every check holds for both.

    python-etcd3-watch-lease.py C1 C2 C3
        client ports of members n1, n2, n3
"""
import queue
import sys
import threading
import time

import etcd3
import grpc
from etcd3 import etcdrpc, events, exceptions

PORTS = [int(p) for p in sys.argv[1:4]]
C = [etcd3.client(host="127.0.0.1", port=p, timeout=30) for p in PORTS]
# n3's endpoint takes most requests (a follower on raftd's side)
c = C[2]
# a generous deadline for what has to happen (a loaded machine)
DEADLINE = 60


def check(cond, what):
    if not cond:
        print("FAIL: " + what, file=sys.stderr)
        sys.exit(1)


def rpc_error(fn, code, details):
    """fn() fails with gRPC status code and message details."""
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code and e.details() == details,
              "expected %s %r, got %s %r" % (code, details, e.code(), e.details()))
        return
    check(False, "expected %s %r, got success" % (code, details))


def until(cond, what, deadline=DEADLINE):
    end = time.time() + deadline
    while not cond():
        check(time.time() < end, "not within %d s: %s" % (deadline, what))
        time.sleep(0.05)


class Collector:
    """A watch callback: the events of its responses in order, and the
    errors it was given."""

    def __init__(self):
        self.events, self.errors, self.headers = [], [], []
        self.lock = threading.Lock()

    def __call__(self, r):
        with self.lock:
            if isinstance(r, Exception):
                self.errors.append(r)
            else:
                self.headers.append(r.header.revision)
                self.events.extend(r.events)

    def wait(self, n, what):
        until(lambda: len(self.events) >= n or self.errors, "%s: %d events of %d" % (what, len(self.events), n))
        check(not self.errors, "%s: errors %r" % (what, self.errors))
        return self.events


def ev(e):
    """an event as (type, key, value, mod_revision)"""
    return ("PUT" if isinstance(e, events.PutEvent) else "DELETE", e.key, e.value, e.mod_revision)


def rev(r):
    return r.header.revision


# --- watch --------------------------------------------------------------------

w = Collector()
wid = c.add_watch_callback("/w/a", w)
r1 = rev(c.put("/w/a", "1"))
r2 = rev(c.put("/w/a", "2"))
c.put("/w/b", "other")
r3 = rev(c.delete("/w/a", return_response=True))
got = [ev(e) for e in w.wait(3, "a key's watch")]
check(got == [("PUT", b"/w/a", b"1", r1), ("PUT", b"/w/a", b"2", r2), ("DELETE", b"/w/a", b"", r3)],
      "a key's events: %r" % got)
check(w.events[1].version == 2 and w.events[1].create_revision == r1, "the second put's version and create revision")
print("ok: add_watch_callback on a key: puts and the delete, in order, with their revisions")

p = Collector()
pid = c.add_watch_prefix_callback("/w/", p, prev_kv=True)
rb = rev(c.put("/w/b", "b2"))
c.put("/x/w", "outside")
rc = rev(c.put("/w/c", "c1"))
rd = rev(c.delete("/w/b", return_response=True))
got = [ev(e) for e in p.wait(3, "a prefix's watch")]
check(got == [("PUT", b"/w/b", b"b2", rb), ("PUT", b"/w/c", b"c1", rc), ("DELETE", b"/w/b", b"", rd)],
      "a prefix's events: %r" % got)
check(p.events[0].prev_value == b"other" and p.events[2].prev_value == b"b2" and
      p.events[1]._event.prev_kv.key == b"", "prev_kv: %r" % [e._event.prev_kv for e in p.events])
print("ok: add_watch_prefix_callback with prev_kv")

# a past revision: the history since then, then what comes
h = Collector()
c.add_watch_callback("/w/a", h, start_revision=r1)
got = [ev(e) for e in h.wait(3, "a watch from a past revision")]
check(got == [("PUT", b"/w/a", b"1", r1), ("PUT", b"/w/a", b"2", r2), ("DELETE", b"/w/a", b"", r3)],
      "the history from %d: %r" % (r1, got))
r4 = rev(c.put("/w/a", "3"))
check([ev(e) for e in h.wait(4, "after the history")][3] == ("PUT", b"/w/a", b"3", r4), "then the new put")
# a range from a revision, and filters (no deletes; no puts): 0.12's
# add_watch_callback cannot set filters with today's protobuf (it assigns
# to a repeated field), so its own stub sends the request


def raw_watch(n, **create):
    """the first n events of a watch created with WatchCreateRequest(**create)
    on a stream of its own, as (type, key)"""
    reqs = queue.Queue()
    reqs.put(etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(**create)))
    call = etcdrpc.WatchStub(c.channel).Watch(iter(reqs.get, None), DEADLINE)
    got = []
    for r in call:
        check(not r.canceled, "raw watch %r cancelled: %s" % (create, r.cancel_reason))
        got += [("PUT" if e.type == e.PUT else "DELETE", e.kv.key) for e in r.events]
        if len(got) >= n:
            break
    call.cancel()
    return got


got = raw_watch(6, key=b"/w/", range_end=b"/w0", start_revision=r1,
                filters=[etcdrpc.WatchCreateRequest.NODELETE])
check(got == [("PUT", b"/w/a"), ("PUT", b"/w/a"), ("PUT", b"/w/b"), ("PUT", b"/w/b"), ("PUT", b"/w/c"),
              ("PUT", b"/w/a")], "NODELETE: %r" % got)
got = raw_watch(2, key=b"/w/", range_end=b"/w0", start_revision=r1, filters=[etcdrpc.WatchCreateRequest.NOPUT])
check(got == [("DELETE", b"/w/a"), ("DELETE", b"/w/b")], "NOPUT: %r" % got)
print("ok: start_revision in the past, a range, filters NODELETE and NOPUT")

# cancel: the first watch hears nothing more; a watch created after the
# cancel on the same stream sees the put, so the put was delivered
c.cancel_watch(wid)
n = len(w.events)
after = Collector()
c.add_watch_callback("/w/a", after)
c.put("/w/a", "4")
after.wait(1, "the watch after the cancel")
check(len(w.events) == n, "a cancelled watch got %r" % w.events[n:])
c.cancel_watch(pid)
print("ok: cancel_watch")

# iterators over a prefix, read by a thread
it, cancel = c.watch_prefix("/i/")
seen = []


def read():
    for e in it:
        seen.append(ev(e)[:3])


t = threading.Thread(target=read, daemon=True)
t.start()
c.put("/i/1", "x")
c.put("/j/1", "outside")
c.put("/i/2", "y")
c.delete("/i/1")
until(lambda: len(seen) >= 3, "watch_prefix's iterator: %r" % seen)
cancel()
t.join(DEADLINE)
check(not t.is_alive(), "the iterator ends once cancelled")
check(seen == [("PUT", b"/i/1", b"x"), ("PUT", b"/i/2", b"y"), ("DELETE", b"/i/1", b"")], "iterator: %r" % seen)
it, cancel = c.watch("/i/2", start_revision=r1)
e = next(it)
cancel()
check(ev(e)[:3] == ("PUT", b"/i/2", b"y"), "watch's iterator from a past revision: %r" % (ev(e),))
# watch_once: the first event, or WatchTimedOut
def put_later():
    time.sleep(0.2)
    C[0].put("/o/1", "once")


threading.Thread(target=put_later, daemon=True).start()
e = c.watch_once("/o/1", timeout=DEADLINE)
check(ev(e)[:3] == ("PUT", b"/o/1", b"once"), "watch_once: %r" % (ev(e),))
try:
    c.watch_once("/o/never", timeout=1)
    check(False, "watch_once of a key nobody writes returned")
except exceptions.WatchTimedOut:
    pass
print("ok: watch_prefix and watch iterators, watch_once")

# a watch at another member sees the writes made through n3
o = Collector()
C[0].add_watch_callback("/m/", o, range_end="/m0")
rm = rev(c.put("/m/1", "v"))
check([ev(e) for e in o.wait(1, "a watch at n1")] == [("PUT", b"/m/1", b"v", rm)], "watch at n1")
print("ok: a watch at another member")

# a compacted revision: the watch is cancelled with the compact revision
# (etcd creates it, then cancels it; the client tells its callback with
# RevisionCompactedError either way)
c.compact(r4)
x = Collector()
try:
    c.add_watch_callback("/w/a", x, start_revision=r1)
    until(lambda: x.errors or x.events, "a watch from a compacted revision gets an answer")
    e = x.errors[0] if x.errors else None
except exceptions.RevisionCompactedError as err:
    e = err
check(isinstance(e, exceptions.RevisionCompactedError) and not x.events,
      "a watch from a compacted revision: %r, events %r" % (e, x.events))
check(e.compacted_revision == r4, "compacted_revision %d, not %d" % (e.compacted_revision, r4))
it, cancel = c.watch("/w/a", start_revision=r4)
check(ev(next(it))[:3] == ("PUT", b"/w/a", b"3"), "a watch from the compact revision itself")
cancel()
print("ok: a watch from a compacted revision gets RevisionCompactedError(%d)" % r4)

# --- leases -------------------------------------------------------------------

lease = c.lease(60)
check(lease.id > 0 and lease.ttl == 60, "lease(60): id %d, ttl %d" % (lease.id, lease.ttl))
c.put("/l/a", "1", lease=lease)
c.put("/l/b", "2", lease=lease.id)
c.put("/l/c", "3")
check(lease.granted_ttl == 60 and 0 < lease.remaining_ttl <= 60,
      "granted %d, remaining %d" % (lease.granted_ttl, lease.remaining_ttl))
check(sorted(lease.keys) == [b"/l/a", b"/l/b"], "keys attached: %r" % lease.keys)
check(c.get("/l/a")[1].lease_id == lease.id and c.get("/l/c")[1].lease_id == 0, "a key's lease")
# at another member too
info = C[0].get_lease_info(lease.id)
check(info.ID == lease.id and info.grantedTTL == 60 and sorted(info.keys) == [b"/l/a", b"/l/b"],
      "TimeToLive at n1: %s" % info)
r = lease.refresh()
check(len(r) == 1 and r[0].ID == lease.id and r[0].TTL == 60, "refresh: %r" % r)
r = C[1].refresh_lease(lease.id)
r = list(r)
check(len(r) == 1 and r[0].TTL == 60, "refresh at n2: %r" % r)
# a key moved to no lease is no longer attached
c.put("/l/b", "2b")
check(sorted(lease.keys) == [b"/l/a"], "keys after /l/b was put without the lease: %r" % lease.keys)
print("ok: lease(60), put with a lease, granted and remaining TTL, keys, refresh")

# with an ID of our own; the same ID again
mine = c.lease(60, lease_id=0x1234)
check(mine.id == 0x1234, "lease with ID 0x1234: %x" % mine.id)
try:
    c.lease(60, lease_id=0x1234)
    check(False, "a second lease with ID 0x1234 was granted")
except exceptions.PreconditionFailedError:
    pass
# (the client turns FAILED_PRECONDITION into its exception: its stub tells
# the message)
rpc_error(lambda: c.leasestub.LeaseGrant(etcdrpc.LeaseGrantRequest(TTL=60, ID=0x1234), 30),
          grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: lease already exists")
rpc_error(lambda: c.lease(9000000001), grpc.StatusCode.OUT_OF_RANGE, "etcdserver: too large lease TTL")
rpc_error(lambda: c.put("/l/x", "1", lease=0x4321), grpc.StatusCode.NOT_FOUND,
          "etcdserver: requested lease not found")
rpc_error(lambda: c.revoke_lease(0x4321), grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found")
check(c.get_lease_info(0x4321).TTL == -1, "TimeToLive of an unknown lease: TTL -1")
r = list(c.refresh_lease(0x4321))
check(len(r) == 1 and r[0].TTL == 0, "refresh of an unknown lease: TTL 0: %r" % r)
leases = {l.ID for l in c.leasestub.LeaseLeases(etcdrpc.LeaseLeasesRequest(), 30).leases}
check({lease.id, mine.id} <= leases, "LeaseLeases: %r" % leases)
print("ok: lease with an ID, the same ID again, a TTL too large, unknown leases, LeaseLeases")

# revoke: the keys go, in one revision, and watchers see the deletes
d = Collector()
c.add_watch_callback("/l/", d, range_end="/l0")
c.put("/l/d", "4", lease=lease)
lease.revoke()
got = [ev(e) for e in d.wait(3, "the revoke's deletes")]
check([x[:2] for x in got] == [("PUT", b"/l/d"), ("DELETE", b"/l/a"), ("DELETE", b"/l/d")] and
      got[1][3] == got[2][3], "revoke's events (one revision): %r" % got)
check(c.get("/l/a") == (None, None) and c.get("/l/b")[0] == b"2b" and c.get("/l/c")[0] == b"3",
      "after the revoke")
check(lease.remaining_ttl == -1, "a revoked lease's TTL: %d" % lease.remaining_ttl)
mine.revoke()
print("ok: revoke: the lease's keys deleted in one revision, others kept")

# refreshed, a lease of 6 s keeps its key for 12 s; then it expires
short = c.lease(6)
c.put("/e/kept", "v", lease=short)
stop = threading.Event()


def refresher(l):
    while not stop.is_set():
        l.refresh()
        stop.wait(1)


t = threading.Thread(target=refresher, args=(short,), daemon=True)
t0 = time.time()
t.start()
while time.time() - t0 < 12:
    check(c.get("/e/kept")[0] == b"v", "a refreshed lease's key gone after %.1f s" % (time.time() - t0))
    time.sleep(0.5)
stop.set()
t.join()
t1 = time.time()
until(lambda: c.get("/e/kept") == (None, None), "the key of a lease no longer refreshed is deleted")
check(time.time() - t1 >= 5, "deleted %.1f s after the last refresh, before the TTL of 6 s" % (time.time() - t1))
check(short.remaining_ttl == -1, "an expired lease is gone")
print("ok: refresh keeps a lease of 6 s for 12 s; without it the key goes after its TTL")

# --- locks ---------------------------------------------------------------------

a = c.lock("L", ttl=30)
check(a.acquire(timeout=DEADLINE) and a.is_acquired(), "a free lock is acquired")
b = C[0].lock("L", ttl=30)
check(not b.acquire(timeout=0) and not b.is_acquired(), "a held lock is not acquired by another")


def acquire(lock):
    """lock.acquire() until it succeeds (deadline): Debian's 0.12 cannot
    wait in acquire() with today's tenacity (its wait function takes the
    arguments of an older tenacity: TypeError), so the contenders try
    again with acquire(timeout=0), one attempt each"""
    end = time.time() + DEADLINE
    while not lock.acquire(timeout=0):
        if time.time() > end:
            return False
        time.sleep(0.2)
    return True


# two threads on two members: the second gets it only once the first
# released it
order = []
ready = threading.Event()


def contender():
    ready.set()
    ok = acquire(b)
    order.append("B acquired" if ok else "B timed out")


t = threading.Thread(target=contender, daemon=True)
t.start()
ready.wait()
# a chance to get it wrongly: the lock is held for another second
end = time.time() + 1
while time.time() < end:
    check(not order, "B got the lock while A held it: %r" % order)
    time.sleep(0.05)
order.append("A released")
check(a.release(), "A releases")
t.join(DEADLINE + 5)
check(order == ["A released", "B acquired"] and b.is_acquired() and not a.is_acquired(), "order: %r" % order)
check(not a.release(), "releasing a lock not held")
check(b.release() and not b.is_acquired(), "B releases")
with C[1].lock("W", ttl=30) as w:
    check(w.is_acquired(), "acquired in a with block")
    r = w.refresh()
    check(len(r) == 1 and r[0].TTL == 30, "a lock's refresh: %r" % r)
check(not w.is_acquired(), "released after the with block")
print("ok: Lock: acquire, is_acquired, release, two threads contending (order %s), with, refresh" % order)

# a holder that stops refreshing: its lock is gone after its TTL
dead = C[1].lock("T", ttl=6)
t0 = time.time()
check(dead.acquire(timeout=DEADLINE), "the first holder of T")
waiter = c.lock("T", ttl=6)
check(acquire(waiter), "T acquired once its holder's lease expired")
waited = time.time() - t0
check(waited >= 6, "T acquired %.1f s after the first holder got it, before its TTL of 6 s" % waited)
check(not dead.is_acquired() and waiter.is_acquired(), "the lock changed hands")
check(not dead.release(), "the first holder cannot release it")
waiter.release()
print("ok: a holder that stops refreshing loses the lock after its TTL (taken over after %.1f s)" % waited)
