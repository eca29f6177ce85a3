#!/bin/sh
# etcd's v3 KV API (issue 19) on a 3-node raftd cluster, driven by Debian's
# etcdctl (etcd-client, ETCDCTL_API=3) through the leader and a follower:
# put, get (--prefix, --from-key, --rev), del --prev-kv, txn from stdin,
# compaction; the one store shared with /db both ways; a linearizable read
# on a follower right after a put on the leader; response headers; errors
# as etcd words them; garbage on the gRPC port.
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (etcd-client) not installed"; exit 77; }
export ETCDCTL_API=3
GRPC=1 # node_start: each node serves gRPC on grpc_port N (lib.sh)

# With RAFTD_TLS=1 (v3-tls.sh) the gRPC port speaks TLS with the client
# port's certificates and --client-cert-auth: etcdctl presents the admin
# certificate ($ETC_CERT), and a reader's may only read.
ETC_CERT=""
if [ "${RAFTD_TLS:-0}" = 1 ]; then
	printf 'reader = read\n' >>"$T/certs/raftd.conf"
	ETC_CERT="--cacert $T/certs/ca.pem --cert $T/certs/admin.pem --key $T/certs/admin-key.pem"
fi
# ec N ARGS...: etcdctl against node N's gRPC port; output in $T/ec
ec() {
	_n=$1
	shift
	# shellcheck disable=SC2086
	etcdctl --endpoints="127.0.0.1:$(grpc_port "$_n")" --command-timeout=10s $ETC_CERT "$@" >"$T/ec" 2>&1
}
# ok N ARGS...: ec that must succeed
ok() { ec "$@" || fail "etcdctl on node $1 ($*): $(head -c 400 "$T/ec")"; }
# out TEXT: the last etcdctl output is TEXT (lines joined by spaces)
out() {
	_got=$(tr '\n' ' ' <"$T/ec" | sed 's/ *$//')
	[ "$_got" = "$1" ] || fail "etcdctl printed '$_got', wanted '$1'"
}
says() { grep -q -- "$1" "$T/ec" || fail "etcdctl output '$(head -c 400 "$T/ec")' does not say '$1'"; }
# field JSONPATH: a value of the last output (-w json)
field() { python3 -c "import json,sys; d=json.load(open('$T/ec')); print(eval('d' + sys.argv[1]))" "$1"; }

# snapshots every 20 entries: the node restarted below loads its own
# snapshot, replays its log's raftd:v3 entries and catches up from the
# leader's
opts="-h 127.0.0.1 --election-timeout-ms 1000 --snapshot-threshold 20"
# shellcheck disable=SC2086
start_three $opts
make_lead 1

# ---- put and get, through the leader and a follower --------------------------------------
section_basic() {
	make_lead 1
	ok 1 put k1 v1
	out OK
	# linearizable (ReadIndex) on a follower right after the leader's put
	ok 2 get k1
	out "k1 v1"
	ok 3 get k1 --print-value-only
	out v1
	# a follower's write: forwarded, answered from its own apply
	ok 2 put k2 v2
	out OK
	ok 1 get k2 --print-value-only
	out v2
	ok 2 get k2 --print-value-only
	out v2
	ok 3 put k1 v1b --prev-kv
	out "OK k1 v1"
	ok 2 get k1 --print-value-only
	out v1b
}
steady section_basic

# ---- ranges, revisions, delete, txn ------------------------------------------------------
section_ranges() {
	make_lead 1
	for k in p/a p/b p/c q; do ok 2 put "$k" "v-$k"; done
	ok 2 get p/ --prefix --keys-only
	out "p/a  p/b  p/c"
	ok 1 get p/b --from-key --print-value-only
	out "v-p/b v-p/c v-q"
	ok 3 get p/ --prefix --limit 1 -w json
	[ "$(field "['count']")" = 3 ] || fail "count of p/: $(cat "$T/ec")"
	[ "$(field "['more']")" = True ] || fail "more with --limit 1"
	ok 2 put p/a v-new
	ok 2 get p/a -w json
	rev=$(field "['kvs'][0]['mod_revision']")
	ok 3 get p/a --rev=$((rev - 1)) --print-value-only
	out v-p/a
	ok 2 del p/ --prefix --prev-kv
	out "3 p/a v-new p/b v-p/b p/c v-p/c"
	ok 1 get p/ --prefix
	out ""
	# txn from stdin: compares, success ops, failure ops
	printf 'value("q") = "v-q"\n\nput t1 yes\nget q\n\nput t1 no\n\n' | ec 2 txn || fail "txn: $(cat "$T/ec")"
	out "SUCCESS  OK  q v-q"
	printf 'mod("q") = "1"\n\nput t2 yes\n\nput t2 no\n\n' | ec 1 txn
	out "FAILURE  OK"
	ok 3 get t --prefix
	out "t1 yes t2 no"
}
steady section_ranges

# ---- compaction ---------------------------------------------------------------------------
section_compact() {
	make_lead 1
	ok 2 put c v1
	ok 2 get c -w json
	old=$(field "['kvs'][0]['mod_revision']")
	ok 2 put c v2
	ok 2 get c -w json
	rev=$(field "['kvs'][0]['mod_revision']")
	ok 3 compaction "$rev"
	out "compacted revision $rev"
	for n in 1 2 3; do
		ec "$n" get c --rev="$old" && fail "node $n reads below the compaction"
		says "required revision has been compacted"
	done
	ok 1 get c --rev="$rev" --print-value-only
	out v2
	ec 2 compaction "$old" && fail "compaction below the last one"
	says "required revision has been compacted"
	ec 2 compaction $((rev + 1000)) && fail "compaction in the future"
	says "required revision is a future revision"
}
steady section_compact

# ---- one store with /db -------------------------------------------------------------------
section_db() {
	make_lead 1
	[ "$(put "$(port 1)" fromdb hello)" = 200 ] || fail "POST /db/fromdb"
	ok 2 get fromdb --print-value-only
	out hello
	ok 3 put fromv3 world
	wait_value "$(port 1)" fromv3 world || fail "GET /db/fromv3 on the leader"
	wait_value "$(port 3)" fromv3 world || fail "GET /db/fromv3 on the follower"
}
steady section_db

# ---- headers -------------------------------------------------------------------------------
ok 1 get k1 -w json
cid=$(field "['header']['cluster_id']")
m1=$(field "['header']['member_id']")
# raftd's terms start at 0 as goraft's (protobuf leaves a 0 out); the
# term before and after the call, in case an election came between
t0=$(status_field "$(port 1)" term)
ok 1 get k1 -w json
t=$(field "['header'].get('raft_term', 0)")
[ "$t" = "$t0" ] || [ "$t" = "$(status_field "$(port 1)" term)" ] || fail "raft_term in the header: $(cat "$T/ec")"
ok 2 get k1 -w json --consistency=s
[ "$(field "['header']['cluster_id']")" = "$cid" ] || fail "nodes 1 and 2 disagree on the cluster ID"
m2=$(field "['header']['member_id']")
[ "$m1" != "$m2" ] && [ "$m1" != 0 ] || fail "member IDs $m1 and $m2"
ok 3 put hdr x -w json
[ "$(field "['header']['member_id']")" != "$m1" ] || fail "a follower's answer carries the leader's member ID"
[ "$(field "['header']['revision']")" -ge 2 ] || fail "revision in a put's header"

# ---- errors ---------------------------------------------------------------------------------
ec 2 put "" v && fail "an empty key is taken"
says "key is not provided"
ec 1 get k1 --rev=1000000 && fail "a future revision is read"
says "required revision is a future revision"
# over etcd's 1.5 MiB request limit: etcd's INVALID_ARGUMENT, not the
# transport's RESOURCE_EXHAUSTED, on the leader and through a follower
head -c 1600000 /dev/zero | tr '\0' x >"$T/big"
for n in 1 2; do
	ec "$n" put big <"$T/big" && fail "node $n takes a put of 1.6 MB"
	says "request is too large"
done
# no lease exists (no Lease service): etcd's NOT_FOUND, on every member,
# and no revision taken
ok 1 get k1 -w json
r0=$(field "['header']['revision']")
for n in 1 2; do
	ec "$n" put k1 x --lease=1234 && fail "node $n takes a put with a lease that does not exist"
	says "requested lease not found"
done
ok 3 get k1 -w json
[ "$(field "['header']['revision']")" = "$r0" ] || fail "a refused put took a revision: $(cat "$T/ec")"
ok 3 get k1 --print-value-only
out v1b

# ---- TLS: roles, and no certificate ----------------------------------------------------------
if [ "${RAFTD_TLS:-0}" = 1 ]; then
	ETC_ADMIN=$ETC_CERT
	ETC_CERT="--cacert $T/certs/ca.pem --cert $T/certs/reader.pem --key $T/certs/reader-key.pem"
	ok 2 get k1 --print-value-only
	out v1b
	ec 2 put k1 byreader && fail "a reader's put is taken"
	says "PermissionDenied"
	# Cluster and Maintenance: a reader lists and reads the status, but
	# changes nothing (auth.c's classes for /leave, /raftd/transfer,
	# /raftd/snapshot: admin's)
	make_lead 1
	ok 1 member list
	ok 1 endpoint status
	ok 1 endpoint hashkv
	ok 1 alarm list
	ok 2 endpoint status -w json
	id2=$(python3 -c "import json,sys; print('%x' % json.load(open('$T/ec'))[0]['Status']['header']['member_id'])")
	ec 1 member remove "$id2" && fail "a reader removes a member"
	says "PermissionDenied"
	ec 1 member add x --peer-urls=https://127.0.0.1:1 && fail "a reader adds a member"
	says "PermissionDenied"
	ec 1 move-leader "$id2" && fail "a reader moves the leader"
	says "PermissionDenied"
	ec 1 snapshot save "$T/reader.db" && fail "a reader saves a snapshot"
	says "PermissionDenied"
	# (alarm disarm with no alarm up only lists them: etcdctl's)
	ec 1 defrag && fail "a reader defragments"
	says "PermissionDenied"
	ETC_CERT=$ETC_ADMIN
	# an admin passes the check: a removal of no member is etcd's not found
	ec 1 member remove 1234 && fail "member remove of no member"
	says "member not found"
	ok 1 snapshot save "$T/admin.db"
	ok 1 alarm disarm
	ok 1 defrag
	ok 1 move-leader "$id2"
	make_lead 1
	ETC_CERT="--cacert $T/certs/ca.pem --cert $T/certs/reader.pem --key $T/certs/reader-key.pem"
	ETC_CERT="--cacert $T/certs/ca.pem"
	ec 1 get k1 && fail "a client without a certificate reads"
	ETC_CERT=""
	ec 1 get k1 && fail "a cleartext client reads from the TLS port"
	ETC_CERT=$ETC_ADMIN
	ok 1 get k1 --print-value-only
	out v1b
	echo "ok: the gRPC port speaks TLS with the client certificates and roles"
fi

# ---- garbage on the gRPC port -----------------------------------------------------------------
perr() { curl -s -m 5 "http://127.0.0.1:$(port 2)/metrics" | sed -n 's/^raftd_grpc_protocol_errors_total //p'; }
e0=$(perr)
[ -n "$e0" ] || fail "/metrics has no raftd_grpc_protocol_errors_total"
python3 - "$(grpc_port 2)" <<'EOF' || fail "garbage on the gRPC port"
import socket, sys, os
port = int(sys.argv[1])
for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(4096),
             b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(2048), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\0" * 9):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(junk)
        s.settimeout(2)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
EOF
kill -0 "$PID_2" || fail "node 2 died of garbage on its gRPC port"
ok 2 get k1 --print-value-only
out v1b
[ "$(perr)" -gt "$e0" ] || fail "/metrics counts $(perr) gRPC protocol errors, $e0 before the garbage"

# ---- catching up: a restarted node that lags --------------------------------------------------
node_kill 3
section_lag() {
	make_lead 1
	i=0
	while [ "$i" -lt 60 ]; do
		ok 2 put "lag$i" "v$i"
		i=$((i + 1))
	done
	ok 2 put lag0 again
}
steady section_lag
# shellcheck disable=SC2086
node_start 3 $opts
ok 3 get lag --prefix --keys-only
[ "$(grep -c '^lag' "$T/ec")" = 60 ] || fail "node 3 has $(grep -c '^lag' "$T/ec") of the 60 lag keys"
ok 3 get lag0 -w json
m3=$(field "['kvs'][0]['mod_revision']")
v3=$(field "['kvs'][0]['version']")
ok 1 get lag0 -w json
[ "$(field "['kvs'][0]['mod_revision']")" = "$m3" ] && [ "$(field "['kvs'][0]['version']")" = "$v3" ] ||
	fail "lag0 on node 1 ($(cat "$T/ec")) and node 3 (mod $m3, version $v3)"
[ "$v3" = 2 ] || fail "lag0's version on node 3: $v3"

# ---- no leader: etcd's UNAVAILABLE ------------------------------------------------------------
node_kill 1
node_kill 3
# shellcheck disable=SC2086
etcdctl --endpoints="127.0.0.1:$(grpc_port 2)" --command-timeout=3s $ETC_CERT put nl x >"$T/ec" 2>&1 &&
	fail "a write without a leader is taken"
says "no leader\|deadline exceeded"
# shellcheck disable=SC2086
etcdctl --endpoints="127.0.0.1:$(grpc_port 2)" --command-timeout=3s $ETC_CERT get k1 >"$T/ec" 2>&1 &&
	fail "a linearizable read without a leader is served"
ok 2 get k1 --consistency=s --print-value-only
out v1b
echo "PASS: v3 KV through etcdctl"
