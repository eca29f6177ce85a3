#!/bin/sh
# etcd's Lease service (issue 20) on a 3-node raftd cluster, driven by
# etcdctl 3.4 (etcd-client): lease grant/revoke/timetolive --keys/
# keep-alive/list and put --lease through the leader and the followers;
# expiry through the log (a key whose lease is not kept alive goes after
# its TTL, never before it, on every node at the same revision); keep-alives
# to a follower across a leader kill; a new leader extends every lease;
# leases across a restart of every node and a snapshot install; bad input
# (python3-etcd3: a reused ID, TTLs of 0 and of years, keep-alives for
# unknown leases, many leases from one client).
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (etcd-client) not installed"; exit 77; }
export ETCDCTL_API=3
GRPC=1

# With RAFTD_TLS=1 (v3-lease-tls.sh): the admin's certificate, and the
# followers forward keep-alives over https:// with their member ones
ETC_CERT=""
[ "${RAFTD_TLS:-0}" = 1 ] && ETC_CERT="--cacert $T/certs/ca.pem --cert $T/certs/admin.pem --key $T/certs/admin-key.pem"
ec() {
	_n=$1
	shift
	# shellcheck disable=SC2086
	etcdctl --endpoints="127.0.0.1:$(grpc_port "$_n")" --command-timeout=10s $ETC_CERT "$@" >"$T/ec" 2>&1
}
ok() { ec "$@" || fail "etcdctl on node $1 ($*): $(head -c 400 "$T/ec")"; }
out() {
	_got=$(tr '\n' ' ' <"$T/ec" | sed 's/ *$//')
	[ "$_got" = "$1" ] || fail "etcdctl printed '$_got', wanted '$1'"
}
says() { grep -q -- "$1" "$T/ec" || fail "etcdctl output '$(head -c 400 "$T/ec")' does not say '$1'"; }
field() { python3 -c "import json,sys; d=json.load(open('$T/ec')); print(eval('d' + sys.argv[1]))" "$1"; }
# grant N TTL: a lease through node N; its ID (hex) in $ID
grant() {
	ok "$1" lease grant "$2"
	ID=$(awk '/granted with TTL/ {print $2}' "$T/ec")
	[ -n "$ID" ] || fail "lease grant on node $1: $(cat "$T/ec")"
}
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$(now)"; }
# gone N KEY: node N's store (serializable) no longer has KEY
gone() { ec "$1" get "$2" --consistency=s && [ ! -s "$T/ec" ]; }
has() { ec "$1" get "$2" --consistency=s --print-value-only && [ "$(cat "$T/ec")" = "$3" ]; }
# the revision of node N's store
rev_of() { ec "$1" get nothing --consistency=s -w json && field "['header']['revision']"; }

# election 1000 ms: etcd's minimum TTL is then ceil(1.5 s) = 2 s; snapshots
# every 20 entries (the install below)
opts="-h 127.0.0.1 --election-timeout-ms 1000 --snapshot-threshold 20"
# shellcheck disable=SC2086
start_three $opts
make_lead 1

# ---- the service through the leader and the followers -----------------------------------
section_basic() {
	make_lead 1
	grant 2 60
	ok 2 put --lease="$ID" lk1 v1
	ok 3 put --lease="$ID" lk2 v2
	ok 1 put lk3 v3
	for n in 1 2 3; do
		ok "$n" lease timetolive "$ID" --keys
		says "lease $ID granted with TTL(60s), remaining(5[89]s), attached keys(\[lk1 lk2\])"
	done
	ok 3 lease list
	says "$ID"
	for n in 1 2 3; do
		ok "$n" lease keep-alive --once "$ID"
		out "lease $ID keepalived with TTL(60)"
	done
	ok 3 lease revoke "$ID"
	out "lease $ID revoked"
	for n in 1 2 3; do
		until_ok 10 gone "$n" lk1 || fail "lk1 on node $n after its lease's revoke"
	done
	# a TTL under etcd's minimum is raised to it
	grant 3 1
	says "granted with TTL(2s)"
	grant 1 60
	ok 2 put --lease="$ID" lk4 v4
	ok 2 lease revoke "$ID"
	out "lease $ID revoked"
	for n in 1 2 3; do
		until_ok 10 gone "$n" lk4 || fail "lk4 on node $n after its lease's revoke"
	done
	ok 1 get lk --prefix --keys-only
	out "lk3"
	for n in 1 2 3; do
		ok "$n" lease timetolive "$ID"
		out "lease $ID already expired"
	done
	ec 2 lease revoke "$ID" && fail "a revoked lease revoked again"
	says "etcdserver: requested lease not found"
	ec 3 put --lease="$ID" lk5 v5 && fail "a put with a revoked lease"
	says "etcdserver: requested lease not found"
	# keep-alive of an unknown lease: TTL 0, which etcdctl reports so
	ec 2 lease keep-alive --once 1234 && fail "keep-alive of an unknown lease"
	says "requested lease not found"
	ec 1 lease keep-alive --once 1234 && fail "keep-alive of an unknown lease on the leader"
	says "requested lease not found"
}
steady section_basic

# ---- expiry: after the TTL, never before, the same revision everywhere ------------------
section_expiry() {
	make_lead 1
	ok 1 put before x
	# before the grant: the lease expires 3 s after its apply, later
	t0=$(now)
	grant 2 3
	ok 3 put --lease="$ID" ek v
	until_ok 20 gone 1 ek || fail "ek outlives its lease (no keep-alive)"
	took=$(elapsed "$t0")
	python3 -c "import sys; sys.exit(not (float(sys.argv[1]) >= 2.95))" "$took" || fail "ek gone after $took s, its TTL 3 s"
	# TTL, an election timeout (none here), and the clients' own time
	python3 -c "import sys; sys.exit(not (float(sys.argv[1]) <= 3 + 1 + 4))" "$took" || fail "ek gone only after $took s"
	for n in 2 3; do until_ok 10 gone "$n" ek || fail "ek on node $n"; done
	ok 1 put after x
	for n in 1 2 3; do until_ok 10 has "$n" after x || fail "node $n has not applied 'after'"; done
	r1=$(rev_of 1) r2=$(rev_of 2) r3=$(rev_of 3)
	[ "$r1" = "$r2" ] && [ "$r2" = "$r3" ] || fail "revisions after the expiry: $r1 $r2 $r3"
	ok 2 lease timetolive "$ID"
	out "lease $ID already expired"
}
steady section_expiry

# ---- keep-alives to a follower across a leader kill -------------------------------------
make_lead 1
grant 2 3
KA=$ID
ok 2 put --lease="$KA" kak v
# shellcheck disable=SC2086
etcdctl --endpoints="127.0.0.1:$(grpc_port 2)" $ETC_CERT lease keep-alive "$KA" >"$T/ka.log" 2>&1 &
kapid=$!
until_ok 10 grep -q keepalived "$T/ka.log" || fail "no keep-alive answered: $(cat "$T/ka.log")"
sleep_until() { python3 -c "import time,sys; time.sleep(float(sys.argv[1]))" "$1"; }
node_kill 1
# three TTLs, a new leader elected meanwhile: the key stays all along
t0=$(now)
while python3 -c "import sys; sys.exit(not (float(sys.argv[1]) < 9))" "$(elapsed "$t0")"; do
	has 2 kak v || fail "kak gone while kept alive (after $(elapsed "$t0") s): $(tail -3 "$T/ka.log")"
	sleep 0.2
done
wait_leader >/dev/null || fail "no leader after the kill"
# shellcheck disable=SC2086
node_start 1 $opts
kill "$kapid"
wait "$kapid" 2>/dev/null
until_ok 20 gone 2 kak || fail "kak outlives its keep-alives"
until_ok 10 gone 1 kak || fail "kak on the restarted node"

# ---- a new leader extends every lease --------------------------------------------------
# Granted with TTL 6 on the leader, which is killed 3 s later: without the
# new leader's extension (TTL + election from its start) the key would go
# about 3 s after the kill; with it, not before 6 s after the kill.
NL=$(newest_leader) || fail "no leader"
set -- $NL
for n in 1 2 3; do [ "$(port "$n")" = "$1" ] && LN=$n; done
S=$(( LN % 3 + 1 ))
grant "$LN" 6
EX=$ID
ok "$LN" put --lease="$EX" exk v
sleep 3
t0=$(now)
node_kill "$LN"
while python3 -c "import sys; sys.exit(not (float(sys.argv[1]) < 5.5))" "$(elapsed "$t0")"; do
	has "$S" exk v || fail "exk gone $(elapsed "$t0") s after the leader's kill: not extended"
	sleep 0.2
done
until_ok 20 gone "$S" exk || fail "exk outlives its lease under the new leader"
# shellcheck disable=SC2086
node_start "$LN" $opts

# ---- leases survive a restart of every node, and a snapshot install ----------------------
make_lead 1
grant 1 600
KEEP=$ID
ok 1 put --lease="$KEEP" keepk v
node_kill 3
put_range 1 60
for n in 1 2; do node_kill "$n"; done
# shellcheck disable=SC2086
node_start 1 $opts
# shellcheck disable=SC2086
node_start 2 $opts
# shellcheck disable=SC2086
node_start 3 $opts
until_ok 30 has 3 k60 v60 || fail "node 3 caught up"
grep -q "saved the leader's snapshot" "$T/n3.log" || fail "node 3 installed no snapshot"
for n in 1 2 3; do
	until_ok 20 ec "$n" lease timetolive "$KEEP" --keys || fail "timetolive on node $n: $(cat "$T/ec")"
	says "granted with TTL(600s)"
	says "attached keys(\[keepk\])"
	ok "$n" lease list
	says "$KEEP"
done
until_ok 20 ec 3 lease revoke "$KEEP" || fail "revoke after the restart: $(cat "$T/ec")"
for n in 1 2 3; do until_ok 10 gone "$n" keepk || fail "keepk on node $n"; done

# ---- bad input (python3-etcd3 sets IDs and TTLs etcdctl does not) ------------------------
PY=
for _py in python3 /usr/bin/python3; do
	"$_py" -c 'import etcd3' 2>/dev/null && { PY=$_py; break; }
done
if [ -z "$PY" ]; then
	echo "# bad input: python3-etcd3 is not installed; that part not run" >&2
	exit 0
fi
make_lead 1
cat >"$T/bad.py" <<'EOF'
import sys, etcd3, grpc
ports = [int(p) for p in sys.argv[2:]]
tls = {}
if sys.argv[1]:
    d = sys.argv[1]
    tls = dict(ca_cert=d + "/ca.pem", cert_cert=d + "/admin.pem", cert_key=d + "/admin-key.pem")
cs = [etcd3.client(host="127.0.0.1", port=p, timeout=10, **tls) for p in ports]
def code_of(f):
    try:
        f()
    except Exception as e:
        c = getattr(e, "code", None)
        if callable(c):
            return c().name, e.details()
        d = getattr(e, "__cause__", None) or getattr(e, "__context__", None)
        if d is not None and callable(getattr(d, "code", None)):
            return d.code().name, d.details()
        return type(e).__name__, str(e)
    return "OK", ""
# a reused ID, through the leader and a follower
l = cs[1].lease(30, lease_id=4242)
assert l.id == 4242, l.id
for c in cs:
    got = code_of(lambda: c.lease(30, lease_id=4242))
    assert got == ("FAILED_PRECONDITION", "etcdserver: lease already exists"), got
# TTL 0: etcd's minimum; TTLs of years: taken up to etcd's largest
assert cs[2].lease(0).ttl == 2
assert cs[2].lease(-5).ttl == 2
big = cs[1].lease(9000000000)
assert big.ttl == 9000000000, big.ttl
got = code_of(lambda: cs[1].lease(9000000001))
assert got == ("OUT_OF_RANGE", "etcdserver: too large lease TTL"), got
got = code_of(lambda: cs[2].lease(9000000001))
assert got == ("OUT_OF_RANGE", "etcdserver: too large lease TTL"), got
# keep-alives and TTL of unknown leases: TTL 0 / -1, no error
for c in cs:
    r = list(c.refresh_lease(987654321))
    assert r[0].TTL == 0, r
    t = c.get_lease_info(987654321)
    assert t.TTL == -1, t
    got = code_of(lambda: c.revoke_lease(987654321))
    assert got == ("NOT_FOUND", "etcdserver: requested lease not found"), got
# many leases from one client: each an entry, the node keeps serving
ids = [cs[1].lease(60).id for _ in range(300)]
assert len(set(ids)) == 300
from etcd3 import etcdrpc
import time
for c in cs:
    # each member lists its own store's: a follower may still apply
    for _ in range(100):
        got = c.leasestub.LeaseLeases(etcdrpc.LeaseLeasesRequest(), 10)
        if len(set(ids) & set(l.ID for l in got.leases)) == 300:
            break
        time.sleep(0.1)
    assert len(set(ids) & set(l.ID for l in got.leases)) == 300, len(got.leases)
c = cs[2]
c.put("after-many", "v")
assert c.get("after-many")[0] == b"v"
for i in ids:
    cs[i % 3].revoke_lease(i)
print("bad input OK")
EOF
certs=""
[ "${RAFTD_TLS:-0}" = 1 ] && certs=$T/certs
"$PY" "$T/bad.py" "$certs" "$(grpc_port 1)" "$(grpc_port 2)" "$(grpc_port 3)" >"$T/bad.out" 2>&1 || fail "bad input: $(tail -20 "$T/bad.out")"
for n in 1 2 3; do
	[ "$(status_field "$(port "$n")" role)" != "" ] || fail "node $n stopped answering"
done
echo "PASS"
