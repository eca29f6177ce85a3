#!/bin/sh
# Three raftd nodes on loopback: bootstrap and join, replication, leader
# failover, restart and catch-up, a fourth node joining and a node leaving.
. "$(dirname "$0")/lib.sh"

"$RAFTD" --help | grep -q -- '-election-timeout-ms MS' || fail "raftd --help lists the options"
"$RAFTD" --no-such-flag "$T/x" 2>"$T/err" && fail "a bad flag is refused"
grep -q -- 'no-such-flag' "$T/err" || fail "the error names the flag: $(cat "$T/err")"
echo "ok: --help, and a bad flag named"

node_start 1
[ "$(wait_leader)" = "$(port 1)" ] || fail "a lone node leads"
node_start 2 -join "127.0.0.1:$(port 1)"
node_start 3 -join "127.0.0.1:$(port 1)"
for i in 1 2 3 4 5; do
	put_leader "k$i" "v$i" || fail "write k$i"
done
for n in 1 2 3; do
	wait_value "$(port $n)" k5 v5 || fail "node $n has k5"
done
echo "ok: bootstrap, two joins, writes replicated to all"

# a node that follows now (the leader of the writes above may have lost
# the lead since, on a loaded machine: steady tries again then)
follower_refuses() {
	lp=$(newest_leader) || fail "no leader"
	follower=$(port 2)
	[ "${lp%% *}" = "$follower" ] && follower=$(port 3)
	[ "$(put "$follower" x y)" = 400 ] || fail "write to a follower is refused"
	body=$(curl -s -XPOST "http://127.0.0.1:$follower/db/x" -d y)
	[ "$body" = "raft.Server: Not current leader" ] || fail "goraft's follower error: '$body'"
}
steady follower_refuses
echo "ok: a follower refuses writes with goraft's error"

lp=$(newest_leader) || fail "no leader"
for n in 1 2 3; do [ "$(port $n)" = "${lp%% *}" ] && old=$n; done
node_kill "$old"
for i in 6 7 8; do
	put_leader "k$i" "v$i" || fail "write k$i to the new leader"
done
leader=$LEADER
[ "$leader" != "$(port "$old")" ] || fail "the dead node leads"
echo "ok: failover to $leader"

node_start "$old"
wait_value "$(port "$old")" k8 v8 || fail "the restarted node catches up"
wait_value "$(port "$old")" k1 v1 || fail "the restarted node kept its data"
echo "ok: the old leader restarts and catches up"

# a joiner asks the one address it is given, and only the leader takes joins
lp=$(newest_leader) || fail "no leader"
node_start 4 -join "127.0.0.1:${lp%% *}"
wait_value "$(port 4)" k8 v8 || fail "a fourth node joins and catches up"
put_leader k9 v9 || fail "write with four members"
wait_value "$(port 4)" k9 v9 || fail "the fourth node gets new writes"
echo "ok: a fourth node joins a running cluster"

leave "$(status_field "$(port 4)" name)"
for _ in $(seq 100); do kill -0 "$PID_4" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PID_4" 2>/dev/null && fail "a removed node stops"
put_leader k10 v10 || fail "write after the leave"
echo "ok: a node leaves and stops"

for n in 1 2 3; do
	wait_value "$(port $n)" k10 v10 || fail "node $n has k10"
done
h1=$(curl -s "http://127.0.0.1:$(port 1)/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["applied_index"])')
echo "ok: all nodes converge (applied $h1)"
