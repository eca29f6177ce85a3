#!/bin/sh
# A node whose data was lost but whose name file remains (wal/ wiped, or a
# new disk under the same name) must neither start a new cluster nor vote
# until it has caught up from the leader; the leader must follow its log
# end down and send it everything again (issue 16, item 11).
. "$(dirname "$0")/lib.sh"

start_three
put_range 1 50
lp=$(wait_leader) || fail "no leader"
f=3
[ "$lp" = "$(port 3)" ] && f=2
node_kill $f
rm -rf "$T/n$f/wal" "$T/n$f/snap"
[ -f "$T/n$f/name" ] || fail "node $f keeps its name file"
node_start $f
# it started no cluster of its own (a one-node cluster leads as soon as
# it starts, before it answers /status)
grep -q "its data was lost" "$T/n$f.log" || fail "node $f says its data was lost"
grep -q "Initializing new cluster" "$T/n$f.log" && fail "node $f started a new cluster"
[ "$(status_field "$(port $f)" role)" != leader ] || fail "node $f leads a cluster of its own"
# the leader sends it the log again: it serves the data
wait_value "$(port $f)" k50 v50 || fail "node $f catches up (k50: '$(get "$(port $f)" k50)')"
wait_value "$(port $f)" k1 v1 || fail "node $f has k1"
for _ in $(seq 100); do
	[ "$(status_field "$(port $f)" recovering)" = False ] && break
	sleep 0.05
done
[ "$(status_field "$(port $f)" recovering)" = False ] || fail "node $f left recovery"
grep -q "votes again" "$T/n$f.log" || fail "node $f logs that it caught up"
[ ! -e "$T/n$f/recovering" ] || fail "node $f removed its recovering marker"
put_leader after 1 || fail "a write after the recovery"
wait_value "$(port $f)" after 1 || fail "node $f follows new writes"
echo "ok: a follower that lost its wal/ (name kept) catches up from the leader and serves the data"

# the same with -join on the command line (how it first started): no
# bootstrap either way; the leader, which had its old matchIndex, must
# lower it to the empty log's end and resend everything
node_kill $f
rm -rf "$T/n$f/wal" "$T/n$f/snap"
lp=$(wait_leader) || fail "no leader"
node_start $f -join "127.0.0.1:$lp"
wait_value "$(port $f)" after 1 || fail "node $f catches up again (after: '$(get "$(port $f)" after)')"
wait_value "$(port $f)" k1 v1 || fail "node $f has k1 again"
echo "ok: the same with -join: the leader follows its log end down"

# a single node whose log was lost does not start a new cluster on its own
# role_is PORT ROLE: polls /status until the node has that role (10 s)
role_is() {
	for _ in $(seq 200); do
		[ "$(status_field "$1" role)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
node_start 5
role_is "$(port 5)" leader || fail "node 5 leads its own cluster"
[ "$(put "$(port 5)" solo 1)" = 200 ] || fail "write to node 5"
node_kill 5
rm -rf "$T/n5/wal" "$T/n5/snap"
node_start 5
[ "$(status_field "$(port 5)" role)" = follower ] || fail "node 5 bootstrapped a new cluster from nothing"
[ "$(status_field "$(port 5)" recovering)" = True ] || fail "node 5 is recovering"
[ "$(status_field "$(port 5)" last_index)" = 0 ] || fail "node 5 wrote no log"
grep -q "force-new-cluster" "$T/n5.log" || fail "node 5 names --force-new-cluster"
[ -e "$T/n5/recovering" ] || fail "node 5 marks itself recovering (for its next starts)"
node_kill 5
echo "ok: a single node with a name and no log refuses to start a new cluster"
node_start 5 --force-new-cluster
role_is "$(port 5)" leader || fail "node 5 starts a new cluster with --force-new-cluster"
[ "$(put "$(port 5)" solo 2)" = 200 ] || fail "write to the new cluster"
[ ! -e "$T/n5/recovering" ] || fail "--force-new-cluster removes the marker"
echo "ok: --force-new-cluster starts a new one-node cluster"

# A name file written before the first start (goraft's raftd takes its name
# from DATA_DIR/name, so goraft operators write one) is a fresh node, not
# lost data: it starts a new cluster, and marks the directory as started
mkdir -p "$T/n6"
printf 'r6' > "$T/n6/name"
node_start 6
role_is "$(port 6)" leader || fail "node 6 (name file, never started) starts a new cluster"
grep -q "Initializing new cluster" "$T/n6.log" || fail "node 6 logs a new cluster"
grep -q "data was lost" "$T/n6.log" && fail "node 6 is a fresh node, not lost data"
[ "$(status_field "$(port 6)" name)" = r6 ] || fail "node 6 takes its name from the file"
[ -e "$T/n6/started" ] || fail "node 6 marks its directory as started"
[ "$(put "$(port 6)" fresh 1)" = 200 ] || fail "write to node 6"
node_kill 6
echo "ok: a name file written before the first start is a fresh node"

# the same directory losing wal/ afterwards is lost data
rm -rf "$T/n6/wal" "$T/n6/snap"
node_start 6
[ "$(status_field "$(port 6)" recovering)" = True ] || fail "node 6 lost its wal/ and is recovering"
[ "$(status_field "$(port 6)" role)" = follower ] || fail "node 6 started no cluster after losing wal/"
node_kill 6
echo "ok: once started, losing wal/ is lost data"

# a directory from a raftd before DATA_DIR/started: with its log it is
# no lost data (and gets the marker); without, snap/ shows it held one
node_kill 5
rm -f "$T/n5/started"
node_start 5
role_is "$(port 5)" leader || fail "node 5 (log, no started marker) leads its cluster again"
[ "$(status_field "$(port 5)" recovering)" = False ] || fail "node 5 with its log is not recovering"
[ -e "$T/n5/started" ] || fail "node 5 gets the started marker"
node_kill 5
rm -rf "$T/n5/wal" "$T/n5/started"
[ -d "$T/n5/snap" ] || fail "node 5 has snap/"
node_start 5
[ "$(status_field "$(port 5)" recovering)" = True ] || fail "node 5 (snap/, no wal/, no marker) is recovering"
[ "$(status_field "$(port 5)" role)" = follower ] || fail "node 5 (snap/, no wal/, no marker) started no cluster"
echo "ok: a data directory from before the started marker"
