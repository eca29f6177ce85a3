#!/bin/sh
# Consistent reads at a follower (GET /db/KEY?consistent=true), served
# through the leader's read index: every read sees each write acknowledged
# before it began, whichever node answers; a missing key and an empty value
# are told apart by X-Raftd-Found; after a kill -9 of the leader, reads come
# back with the new leader and still see every acknowledged write.
. "$(dirname "$0")/lib.sh"

start_three
# cget PORT KEY: a consistent read; prints "CODE BODY" (found header in $T/h)
cget() {
	curl -s -m 5 -D "$T/h" -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$1/db/$2?consistent=true"
	printf ' %s' "$(cat "$T/body")"
}
# follower: the port of a node that does not lead now
follower() {
	l=$(wait_leader) || fail "no leader"
	for n in 1 2 3; do [ "$(port $n)" != "$l" ] && { port $n; return; }; done
}

F=$(follower)
for i in $(seq 20); do
	put_leader lin "v$i" || fail "write v$i"
	for _ in $(seq 20); do
		got=$(cget "$F" lin)
		case $got in
		"200 v$i") break ;;
		200*) fail "read $i at $F after the write was acknowledged: $got" ;;
		503*) sleep 0.1 ;; # no leader, or its read index was lost: retry
		*) fail "read $i at $F: $got" ;;
		esac
	done
	[ "$got" = "200 v$i" ] || fail "read $i at $F: $got"
done
echo "ok: 20 of 20 consistent reads at a follower see the write acknowledged just before"

put_leader empty "" || fail "write an empty value"
F=$(follower)
for _ in $(seq 20); do [ "$(cget "$F" empty)" = "200 " ] && break; sleep 0.1; done
grep -qi '^X-Raftd-Found: true' "$T/h" || fail "an empty value is found: $(cat "$T/h")"
[ "$(cget "$F" never-written)" = "200 " ] || fail "a missing key: 200, empty, as goraft"
grep -qi '^X-Raftd-Found: false' "$T/h" || fail "a missing key is not found: $(cat "$T/h")"
curl -s -D "$T/h" -o /dev/null "http://127.0.0.1:$F/db/never-written"
grep -qi '^X-Raftd-Found: false' "$T/h" || fail "a missing key, local read: $(cat "$T/h")"
echo "ok: X-Raftd-Found tells a missing key (false) from an empty value (true)"

# kill -9 the leader: a follower's consistent reads come back with a new
# leader, and never miss the last acknowledged write
L=$(wait_leader)
put_leader last before-kill || fail "last write"
for n in 1 2 3; do [ "$(port $n)" = "$LEADER" ] && dead=$n; done
node_kill "$dead"
for n in 1 2 3; do [ "$n" != "$dead" ] && F=$(port $n); done
ok=
for _ in $(seq 100); do
	got=$(cget "$F" last)
	case $got in
	"200 before-kill") ok=1; break ;;
	200*) fail "a read after the leader's death misses an acknowledged write: $got" ;;
	*) sleep 0.1 ;;
	esac
done
[ "$ok" = 1 ] || fail "no consistent read at $F after the leader died: $got"
echo "ok: after kill -9 of the leader, consistent reads at a follower see the last acknowledged write"
