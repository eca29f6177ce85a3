#!/bin/sh
# etcd's v3 writes are raftd-only log entries (raftd:v3): while a goraft
# node is a member, raftd refuses them with FAILED_PRECONDITION naming it,
# on the leader and on a follower alike (as DELETE's 409), and keeps
# serving reads and goraft's /db; leases (LeaseGrant, POST /db/K?ttl) and
# GET /db/K?wait are refused the same way. Needs GORAFT_RAFTD (goraft-lib.sh).
. "$(dirname "$0")/goraft-lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (etcd-client) not installed"; exit 77; }
export ETCDCTL_API=3
ec() {
	_n=$1
	shift
	etcdctl --endpoints="127.0.0.1:$(grpc_port "$_n")" --command-timeout=10s "$@" >"$T/ec" 2>&1
}
says() { grep -q -- "$1" "$T/ec" || fail "etcdctl output '$(head -c 400 "$T/ec")' does not say '$1'"; }

D=$T/v3
ROPTS="--grpc-listen 127.0.0.1:$(grpc_port 1)"
start 1 r
ROPTS="--grpc-listen 127.0.0.1:$(grpc_port 2)"
start 2 r 1
write a 1
# (no v3 write before: a goraft node cannot join a log that holds one)
start 3 g 1
write b 2
everyone b 2
# every raftd node learns the goraft member's kind by probing it
for n in 1 2; do
	for _ in $(seq 100); do
		ec "$n" put v3 x && fail "r$n takes a v3 write with goraft node g3 a member"
		grep -q "FailedPrecondition\|goraft node" "$T/ec" && break
		sleep 0.1
	done
	says "raftd:v3 commands need every member to be raftd (goraft node g3 is a member)"
	echo "ok: r$n refuses v3 writes: $(tail -1 "$T/ec")"
done
# leases are raftd:v3 entries too, and /db's ?ttl and ?wait raftd-only:
# refused alike, on the leader and on a follower
for n in 1 2; do
	ec "$n" lease grant 60 && fail "r$n grants a lease with goraft node g3 a member"
	says "goraft node g3 is a member"
	code=$($CURL -o "$T/body" -w '%{http_code}' -XPOST "http://127.0.0.1:$(port "$n")/db/t?ttl=60" --data-binary v)
	# (a follower sends a write to the leader first, as goraft's does)
	[ "$code" = 409 ] || { [ "$code" = 400 ] && grep -q "Not current leader" "$T/body"; } ||
		fail "r$n: POST /db/t?ttl=60 answered $code ($(cat "$T/body"))"
	code=$($CURL -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$(port "$n")/db/a?wait=true")
	[ "$code" = 409 ] || fail "r$n: GET /db/a?wait=true answered $code ($(cat "$T/body"))"
	echo "ok: r$n refuses leases, ?ttl and ?wait: $(head -c 200 "$T/body")"
done
write c 3
ec 1 get a --print-value-only || fail "a linearizable v3 read on the raftd leader: $(cat "$T/ec")"
[ "$(cat "$T/ec")" = 1 ] || fail "a v3 read of a: $(cat "$T/ec")"
everyone c 3
ec 2 get c --print-value-only --consistency=s || fail "a serializable v3 read: $(cat "$T/ec")"
[ "$(cat "$T/ec")" = 3 ] || fail "a v3 read of c on a follower: $(cat "$T/ec")"
echo "PASS: v3 writes refused while a goraft node is a member"
