#!/usr/bin/python3
"""Debian's python3-etcd3 (0.12), unchanged, against a 3-node cluster that
speaks etcd's v3 API (issue 19): KV (put, get, prefixes, ranges, sorting,
reads in the past, deletes), transactions (compares on value, version,
create and mod revision, on keys and ranges; both branches; nested) and
members (list, add, update, remove), plus status, alarms and compaction
errors. Run by tests/v3/python-etcd3.sh against etcd (to prove this script)
and raftd; every check holds for both.

    python-etcd3.py C1 C2 C3 P1 P2 P3 S1 S2
        client ports and peer ports of members n1, n2, n3; two free ports
        (as tests/v3/lib.sh has them)
"""
import sys
import time

import etcd3
import grpc
from etcd3 import etcdrpc, exceptions

PORTS = [int(p) for p in sys.argv[1:4]]
PEERS = [int(p) for p in sys.argv[4:7]]
SPARE = [int(p) for p in sys.argv[7:9]]
# n3's endpoint takes most requests; the others read what it wrote
C = [etcd3.client(host="127.0.0.1", port=p, timeout=30) for p in PORTS]
c = C[2]
tx = c.transactions


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


def retry_unavailable(fn):
    """fn() again while the server answers UNAVAILABLE, as clients do: a new
    etcd refuses membership changes until its peers have been connected for
    5 s ("etcdserver: unhealthy cluster")."""
    end = time.time() + 60
    while True:
        try:
            return fn()
        except exceptions.ConnectionFailedError:
            if time.time() > end:
                raise
            time.sleep(0.5)


def kv(pairs):
    return [(m.key, v) for v, m in pairs]


# --- KV ---------------------------------------------------------------------

r = c.put("/t/a", "1")
rev_a = r.header.revision
# (raft_term may be 0: raftd's first member leads at term 0 until the
# cluster's first election, as goraft's does)
check(rev_a > 1 and r.header.cluster_id != 0 and r.header.member_id != 0, "put's header: %s" % r.header)
v, m = c.get("/t/a")
check(v == b"1" and m.key == b"/t/a" and m.version == 1 and
      m.create_revision == rev_a and m.mod_revision == rev_a, "get /t/a: %r %s" % (v, m.__dict__))
check(m.response_header.revision == rev_a, "get's header revision")
r = c.put("/t/a", "2", prev_kv=True)
check(r.header.revision == rev_a + 1 and r.prev_kv.value == b"1" and r.prev_kv.version == 1,
      "put prev_kv: %s" % r)
v, m = c.get("/t/a")
check(v == b"2" and m.version == 2 and m.create_revision == rev_a and m.mod_revision == rev_a + 1,
      "a second put: version 2, create kept, mod moved")
check(c.get("/t/none") == (None, None), "get of a missing key")
c.put("/t/b", "bb")
c.put("/t/c", "a")
c.put("/t/d", "")
c.put("/u/x", "x")
for other in C[:2]:
    v, _ = other.get("/t/c")
    check(v == b"a", "a linearizable read at another member sees the write")
check(C[0].get("/t/c", serializable=True)[0] in (b"a", None), "a serializable read")
print("ok: put, get, prev_kv, versions and revisions, reads at other members")

check(kv(c.get_prefix("/t/")) == [(b"/t/a", b"2"), (b"/t/b", b"bb"), (b"/t/c", b"a"), (b"/t/d", b"")],
      "get_prefix: %r" % kv(c.get_prefix("/t/")))
check([k for k, _ in kv(c.get_prefix("/t/", sort_order="descend", sort_target="mod"))] ==
      [b"/t/d", b"/t/c", b"/t/b", b"/t/a"], "sorted by mod descending")
check([k for k, _ in kv(c.get_prefix("/t/", sort_order="ascend", sort_target="value"))] ==
      [b"/t/d", b"/t/a", b"/t/c", b"/t/b"], "sorted by value")
check([k for k, _ in kv(c.get_prefix("/t/", sort_order="descend", sort_target="version"))][0] == b"/t/a",
      "sorted by version")
check([k for k, _ in kv(c.get_prefix("/t/", sort_order="descend", sort_target="create"))] ==
      [b"/t/d", b"/t/c", b"/t/b", b"/t/a"], "sorted by create descending")
check(kv(c.get_prefix("/t/", keys_only=True)) == [(b"/t/a", b""), (b"/t/b", b""), (b"/t/c", b""), (b"/t/d", b"")],
      "keys_only")
check(kv(c.get_range("/t/b", "/t/d")) == [(b"/t/b", b"bb"), (b"/t/c", b"a")], "get_range [b, d)")
# python-etcd3 0.12 takes limit, revision, count_only and the min/max
# revisions as arguments but never sends them: its own stub does
def rng(key, range_end=None, **kw):
    req = etcdrpc.RangeRequest(key=key.encode(), range_end=range_end.encode() if range_end else b"", **kw)
    return c.kvstub.Range(req, 30)


r = rng("/t/", "/t0", limit=2)
check(len(r.kvs) == 2 and r.more and r.count == 4, "limit 2: %d kvs, more %s, count %d" % (len(r.kvs), r.more, r.count))
r = rng("/t/", "/t0", count_only=True)
check(r.count == 4 and len(r.kvs) == 0, "count_only")
r = rng("/t/a", revision=rev_a)
check(r.kvs[0].value == b"1", "get at revision %d: %r" % (rev_a, r.kvs))
r = rng("/t/", "/t0", min_mod_revision=rev_a + 2)
check([kv.key for kv in r.kvs] == [b"/t/b", b"/t/c", b"/t/d"], "min_mod_revision")
r = rng("/t/", "/t0", max_create_revision=rev_a + 2)
check([kv.key for kv in r.kvs] == [b"/t/a", b"/t/b"], "max_create_revision")
check([k for k, _ in kv(c.get_all())] == [b"/t/a", b"/t/b", b"/t/c", b"/t/d", b"/u/x"], "get_all")
rpc_error(lambda: rng("/t/a", revision=10 ** 6),
          grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision")
print("ok: get_prefix, sorting, keys_only, get_range, limit, count_only, revision, get_all")

check(c.delete("/t/d") is True and c.delete("/t/d") is False, "delete once")
r = c.delete("/t/c", prev_kv=True, return_response=True)
check(r.deleted == 1 and r.prev_kvs[0].value == b"a", "delete prev_kv: %s" % r)
check(c.get("/t/c") == (None, None), "deleted")
r = c.delete_prefix("/u/")
check(r.deleted == 1, "delete_prefix")
print("ok: delete, prev_kv, delete_prefix")

# --- transactions ---------------------------------------------------------------

_, m = c.get("/t/a")
ok, resp = c.transaction(
    compare=[tx.value("/t/a") == "2", tx.version("/t/a") == 2,
             tx.create("/t/a") == m.create_revision, tx.mod("/t/a") == m.mod_revision],
    success=[tx.put("/t/a", "3"), tx.get("/t/a")],
    failure=[tx.put("/t/fail", "1")])
check(ok and resp[1][0][0] == b"3", "txn on value, version, create, mod: success branch: %r" % (resp,))
ok, resp = c.transaction(
    compare=[tx.value("/t/a") == "2"],
    success=[tx.put("/t/a", "never")],
    failure=[tx.get("/t/b"), tx.delete("/t/b")])
check(not ok and resp[0][0][0] == b"bb" and resp[1].response_delete_range.deleted == 1,
      "failure branch: %r" % (resp,))
check(c.get("/t/b") == (None, None) and c.get("/t/a")[0] == b"3", "the failure branch ran, the success one not")
ok, _ = c.transaction(compare=[tx.version("/t/a") > 5], success=[], failure=[])
check(not ok, "version > 5 is false")
ok, _ = c.transaction(compare=[tx.mod("/t/a") < 10 ** 6, tx.create("/t/a") != 0, tx.value("/t/a") > "2"],
                      success=[], failure=[])
check(ok, "<, != and > compares")
ok, _ = c.transaction(compare=[tx.version("/t/none") == 0, tx.create("/t/none") == 0], success=[], failure=[])
check(ok, "a missing key has version 0 and create revision 0")
# compares on a range: every key in it
ok, _ = c.transaction(compare=[etcd3.transactions.Version("/t/", "/t0") > 0], success=[], failure=[])
check(ok, "version > 0 of every key under /t/")
ok, _ = c.transaction(compare=[etcd3.transactions.Value("/t/", "/t0") == "3"], success=[], failure=[])
check(ok, "value == 3 of every key under /t/ (only /t/a is left)")
c.put("/t/e", "4")
ok, _ = c.transaction(compare=[etcd3.transactions.Value("/t/", "/t0") == "3"], success=[], failure=[])
check(not ok, "value == 3 of every key under /t/ is false once /t/e is 4")
# nested
ok, resp = c.transaction(
    compare=[tx.value("/t/e") == "4"],
    success=[tx.txn(compare=[tx.value("/t/a") == "3"], success=[tx.put("/t/n", "nested")], failure=[])],
    failure=[])
check(ok and resp[0].response_txn.succeeded and c.get("/t/n")[0] == b"nested", "nested txn: %r" % (resp,))
check(c.put_if_not_exists("/t/p", "1") is True and c.put_if_not_exists("/t/p", "2") is False,
      "put_if_not_exists")
check(c.replace("/t/p", "1", "2") is True and c.replace("/t/p", "1", "3") is False and c.get("/t/p")[0] == b"2",
      "replace")
rpc_error(lambda: c.transaction(compare=[], success=[tx.put("/t/k", "1"), tx.put("/t/k", "2")], failure=[]),
          grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request")
rev = c.get("/t/a")[1].mod_revision
c.transaction(compare=[], success=[tx.put("/t/r1", "1"), tx.put("/t/r2", "2"), tx.delete("/t/p")], failure=[])
check(c.get("/t/r2")[1].mod_revision == c.get("/t/r1")[1].mod_revision == rng("/t/", "/t0").header.revision,
      "a txn's writes are one revision")
print("ok: transactions: compares on value, version, create, mod (=, !=, <, >), ranges, both branches, "
      "nested, put_if_not_exists, replace, a duplicate key refused")

# --- compaction -----------------------------------------------------------------

c.compact(rev)
rpc_error(lambda: rng("/t/a", revision=rev_a),
          grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted")
rpc_error(lambda: c.compact(rev), grpc.StatusCode.OUT_OF_RANGE,
          "etcdserver: mvcc: required revision has been compacted")
c.compact(rev + 1, physical=True)
check(c.get("/t/a")[0] == b"3", "the newest versions outlive compaction")
print("ok: compact, compacted revisions refused")

# --- members, status, maintenance ----------------------------------------------------

ms = sorted(c.members, key=lambda m: m.name)
check([m.name for m in ms] == ["n1", "n2", "n3"], "members: %s" % [m.name for m in ms])
check([list(m.peer_urls) for m in ms] == [["http://127.0.0.1:%d" % p] for p in PEERS],
      "peer URLs: %s" % [list(m.peer_urls) for m in ms])
check([list(m.client_urls) for m in ms] == [["http://127.0.0.1:%d" % p] for p in PORTS],
      "client URLs: %s" % [list(m.client_urls) for m in ms])
check(len({m.id for m in ms}) == 3 and all(m.id for m in ms), "member IDs distinct, nonzero")
for i, cl in enumerate(C):
    s = cl.status()
    check(s.leader is not None and s.leader.name in ("n1", "n2", "n3") and s.raft_index > 0 and
          s.version, "status of n%d: %s" % (i + 1, s.__dict__))
check(len({cl.status().leader.id for cl in C}) == 1, "every member names the same leader")
check(list(c.list_alarms()) == [], "no alarms")
c.disarm_alarm()
c.defragment()
new_url = "http://127.0.0.1:%d" % SPARE[0]
new = retry_unavailable(lambda: c.add_member([new_url]))
# etcd names a member when it starts; raftd at once, after its URL's
# HOST:PORT, the name the new node is to start with
check(new.id != 0 and list(new.peer_urls) == [new_url] and new.name in ("", new_url.split("//")[1]),
      "add_member: %s, name %r" % (new, new.name))
ms = list(c.members)
check(len(ms) == 4 and new.id in [m.id for m in ms], "the new member is listed")
# to its own URL: raftd cannot move a member to another URL (its log has
# no such change: remove and add it)
retry_unavailable(lambda: c.update_member(new.id, [new_url]))
check([list(m.peer_urls) for m in c.members if m.id == new.id] == [[new_url]], "update_member")
retry_unavailable(lambda: c.remove_member(new.id))
check(len(list(c.members)) == 3, "remove_member")
rpc_error(lambda: c.remove_member(new.id), grpc.StatusCode.NOT_FOUND, "etcdserver: member not found")
print("ok: members (list, add, update, remove), status at each member, alarms, defragment")
