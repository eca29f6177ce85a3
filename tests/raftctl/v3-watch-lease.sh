#!/bin/sh
# raftctl watch and lease (issue 20) against etcd 3.4 and against a raftd
# cluster (tests/raftctl/v3-halves.sh): a watch from a revision prints
# every put and delete in order (-v: with revisions, -o json --prev-kv: the
# previous values), a watch from now sees later writes, a compacted --rev
# is an error naming the compact revision; lease grant/put --lease/ttl
# --keys/list/keep-alive --once/revoke print etcdctl's lines, a revoked
# lease's key is gone, and a key whose lease is kept alive outlives its TTL
# and goes (a DELETE a watcher sees) once the keep-alives stop. raftd
# only: a watch whose member is killed goes on through another member and
# prints what an uninterrupted watch of the same revisions prints.
. "$(dirname "$0")/v3-halves.sh"

# the revision a put -v printed
rev_of() { sed -n 's/^revision \([0-9][0-9]*\)$/\1/p'; }

watch_checks() {
	R0=$(rc put -v w/0 start | rev_of)
	[ -n "$R0" ] || fail "$KIND: put -v printed no revision"
	S=$((R0 + 1))
	"$RAFTCTL" --grpc "$G" watch -v --prefix --rev "$S" w/ >"$T/w1" 2>"$T/w1.err" &
	W1=$!
	bg
	"$RAFTCTL" --grpc "$G" -o json watch --prev-kv --rev "$S" w/a >"$T/w2" 2>"$T/w2.err" &
	W2=$!
	bg
	rc put -v w/a 1 >/dev/null || fail "$KIND: put w/a 1"
	rc put -v w/b 2 >/dev/null || fail "$KIND: put w/b 2"
	rc put -v w/a 3 >/dev/null || fail "$KIND: put w/a 3"
	rc delete -v w/b >/dev/null || fail "$KIND: delete w/b"
	rc put -v w/c "x y" >/dev/null || fail "$KIND: put w/c"
	rc delete -v --prefix w/ >/dev/null || fail "$KIND: delete --prefix w/"
	until_ok 30 lines "$T/w1" 8 || fail "$KIND: watch printed: $(cat "$T/w1" "$T/w1.err")"
	want="PUT w/a 1|PUT w/b 2|PUT w/a 3|DELETE w/b|PUT w/c x y|DELETE w/0|DELETE w/a|DELETE w/c"
	got=$(sed 's/^[0-9]* //' "$T/w1" | tr '\n' '|' | sed 's/|$//')
	[ "$got" = "$want" ] || fail "$KIND: watch printed '$got', wanted '$want'"
	# revisions: after R0, in order, one per write (the prefix delete's
	# three events share one)
	revs=$(cut -d' ' -f1 "$T/w1" | tr '\n' ' ')
	[ "$revs" = "$S $((S + 1)) $((S + 2)) $((S + 3)) $((S + 4)) $((S + 5)) $((S + 5)) $((S + 5)) " ] ||
		fail "$KIND: watch -v revisions '$revs' (from $S)"
	until_ok 30 lines "$T/w2" 3 || fail "$KIND: watch -o json printed: $(cat "$T/w2" "$T/w2.err")"
	python3 - "$T/w2" "$S" <<'PY' || fail "$KIND: watch -o json --prev-kv: $(cat "$T/w2")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
s = int(sys.argv[2])
assert [e["type"] for e in ev] == ["PUT", "PUT", "DELETE"], ev
assert [e.get("value") for e in ev] == ["1", "3", None], ev
assert "prev_kv" not in ev[0] and ev[1]["prev_kv"]["value"] == "1" and ev[2]["prev_kv"]["value"] == "3", ev
assert ev[0]["mod_revision"] == s and ev[0]["create_revision"] == s and ev[1]["version"] == 2, ev
assert ev[2]["mod_revision"] == s + 5, ev
PY
	# interrupted: exit 0
	kill -TERM "$W1" "$W2"
	wait "$W1" || fail "$KIND: watch exits $? on SIGTERM"
	wait "$W2" || fail "$KIND: watch -o json exits $? on SIGTERM"

	# from now: later writes (the watch may start after a first put: each
	# try writes again, and every line is one of those puts)
	"$RAFTCTL" --grpc "$G" watch now/k >"$T/w3" 2>"$T/w3.err" &
	W3=$!
	bg
	until_ok 30 sh -c "\"$RAFTCTL\" --grpc '$G' put -v now/k v >/dev/null && test -s '$T/w3'" ||
		fail "$KIND: a watch from now saw nothing: $(cat "$T/w3.err")"
	kill -TERM "$W3"
	wait "$W3"
	[ "$(sort -u "$T/w3")" = "PUT now/k v" ] || fail "$KIND: watch from now printed $(cat "$T/w3")"

	# a compacted revision: an error that names where the history starts
	C=$(rc put -v w/x 1 | rev_of)
	rc compact "$C" >/dev/null || fail "$KIND: compact $C"
	timeout 60 "$RAFTCTL" --grpc "$G" watch --rev 2 w/x >"$T/w4" 2>"$T/w4.err"
	st=$?
	[ "$st" = 1 ] || fail "$KIND: watch of a compacted revision: exit $st: $(cat "$T/w4" "$T/w4.err")"
	grep -q "revision 2 is compacted: the history starts at revision $C " "$T/w4.err" ||
		fail "$KIND: watch of a compacted revision said: $(cat "$T/w4.err")"
}

# raftd: the member a watch is connected to dies; the watch goes on
# through another, and prints the same events as a watch of the same
# revisions that nothing interrupted
watch_member_killed() {
	[ "$KIND" = raftd ] || return 0
	R1=$(rc put -v r/0 x | rev_of)
	[ -n "$R1" ] || fail "put r/0"
	"$RAFTCTL" --grpc "$G" watch -v --prefix --rev "$((R1 + 1))" r/ >"$T/w5" 2>"$T/w5.err" &
	W5=$!
	bg
	rc put -v r/a 1 >/dev/null || fail "put r/a 1"
	have "$T/w5" "PUT r/a 1$"
	node_kill 1 # the first of --grpc: the watch's member
	for i in 2 3 4 5; do
		until_ok 60 sh -c "\"$RAFTCTL\" --grpc '$G' put -v r/a $i >/dev/null 2>&1" || fail "put r/a $i"
	done
	rc put -v r/end x >/dev/null || fail "put r/end"
	have "$T/w5" "PUT r/end x$"
	kill -TERM "$W5"
	wait "$W5" || fail "watch exits $? on SIGTERM after its member died: $(cat "$T/w5.err")"
	"$RAFTCTL" --grpc "$G" watch -v --prefix --rev "$((R1 + 1))" r/ >"$T/w6" 2>"$T/w6.err" &
	W6=$!
	bg
	have "$T/w6" "PUT r/end x$"
	kill -TERM "$W6"
	wait "$W6"
	cmp -s "$T/w5" "$T/w6" || fail "the watch whose member died printed $(cat "$T/w5"), the history is $(cat "$T/w6")"
	node_start 1
}

lease_checks() {
	out=$(rc lease grant 30) || fail "$KIND: lease grant: $out"
	ID=$(echo "$out" | sed -n 's/^lease \([0-9a-f]\{16\}\) granted with TTL(30s)$/\1/p')
	[ -n "$ID" ] || fail "$KIND: lease grant printed '$out'"
	rc put --lease "$ID" l/k v >/dev/null || fail "$KIND: put --lease"
	rc lease ttl --keys "$ID" >"$T/out" || fail "$KIND: lease ttl --keys"
	grep -q "^lease $ID granted with TTL(30s), remaining([0-9]*s), attached keys(\[l/k\])$" "$T/out" ||
		fail "$KIND: lease ttl --keys printed $(cat "$T/out")"
	rc lease list >"$T/out" || fail "$KIND: lease list"
	head -n 1 "$T/out" | grep -q '^found [0-9]* leases$' && grep -qx "$ID" "$T/out" ||
		fail "$KIND: lease list printed $(cat "$T/out")"
	[ "$(rc lease keep-alive --once "$ID")" = "lease $ID keepalived with TTL(30)" ] ||
		fail "$KIND: keep-alive --once"
	[ "$(rc -o json lease ttl "$ID" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["id"], d["granted_ttl"])')" = "$ID 30" ] ||
		fail "$KIND: lease ttl -o json"
	[ "$(rc lease revoke "$ID")" = "lease $ID revoked" ] || fail "$KIND: lease revoke"
	[ -z "$(rc get --prefix l/k)" ] || fail "$KIND: the revoked lease's key is still there"
	out=$(rc lease ttl "$ID")
	[ $? = 1 ] && [ "$out" = "lease $ID already expired" ] || fail "$KIND: lease ttl of a revoked lease: '$out'"
	rc lease revoke "$ID" >/dev/null 2>"$T/err" && fail "$KIND: a second revoke succeeds"
	grep -q "NOT_FOUND: etcdserver: requested lease not found" "$T/err" || fail "$KIND: second revoke: $(cat "$T/err")"
	rc lease keep-alive "$ID" >/dev/null 2>"$T/err" && fail "$KIND: keep-alive of a revoked lease succeeds"
	grep -q "lease $ID expired or revoked" "$T/err" || fail "$KIND: keep-alive of a revoked lease: $(cat "$T/err")"
	rc put --lease "$ID" l/k v >/dev/null 2>&1 && fail "$KIND: put --lease with a revoked lease succeeds"

	# expiry: kept alive, the key outlives its TTL; left alone, it goes,
	# and a watcher sees its DELETE
	out=$(rc lease grant 3) || fail "$KIND: lease grant 3"
	ID=$(echo "$out" | sed -n 's/^lease \([0-9a-f]\{16\}\) granted with TTL(\([0-9]*\)s)$/\1/p')
	TTL=$(echo "$out" | sed -n 's/^lease [0-9a-f]* granted with TTL(\([0-9]*\)s)$/\1/p')
	[ -n "$ID" ] && [ "$TTL" -ge 3 ] || fail "$KIND: lease grant 3 printed '$out'"
	"$RAFTCTL" --grpc "$G" lease keep-alive "$ID" >"$T/ka" 2>"$T/ka.err" &
	KA=$!
	bg
	P=$(rc put -v --lease "$ID" e/k v | rev_of)
	"$RAFTCTL" --grpc "$G" watch --rev "$P" e/k >"$T/we" 2>"$T/we.err" &
	WE=$!
	bg
	# a duration, not a poll: the key must still be there past its TTL
	sleep $((TTL * 2))
	[ "$(rc get --prefix e/k)" = "e/k v" ] || fail "$KIND: a key whose lease is kept alive went"
	[ "$(grep -c "^lease $ID keepalived with TTL($TTL)$" "$T/ka")" -ge 2 ] ||
		fail "$KIND: keep-alive printed $(cat "$T/ka" "$T/ka.err")"
	kill -TERM "$KA"
	wait "$KA" || fail "$KIND: keep-alive exits $? on SIGTERM"
	until_ok $((TTL + 60)) sh -c "test -z \"\$(\"$RAFTCTL\" --grpc '$G' get --prefix e/k)\"" ||
		fail "$KIND: the key of an expired lease is still there"
	have "$T/we" "^DELETE e/k$"
	[ "$(tr '\n' '|' <"$T/we")" = "PUT e/k v|DELETE e/k|" ] || fail "$KIND: the watch saw $(cat "$T/we")"
	kill -TERM "$WE"
	wait "$WE"
}

both() {
	watch_checks
	watch_member_killed
	lease_checks
}
halves both
