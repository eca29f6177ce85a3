#!/bin/sh
# A core whose allocation fails (RAFTD_TEST_RAFT_ALLOC_FAIL=N: its Nth from
# start-up, raft.h's seam) may have lost actions of that step: raftd carries
# out none of them and stops with status 1, naming the cause; a restart
# recovers every acknowledged write from the disk. N = 1, 2, ... until a
# run acknowledges writes before the failure. Before, raftd ignored the
# core's -ENOMEM and went on with a core that had taken entries it never
# asked the WAL to write. (A run that fails in the bootstrap step itself
# leaves DATA_DIR/started and no log: its restart waits, as a node that
# lost its data must, so only a run with acknowledged writes restarts.)
# Needs the test build.
RAFTD=${RAFTD:-${top_builddir:-.}/tests/cluster/raftd-test}
. "$(dirname "$0")/lib.sh"
P=$(port 1)

nth=1
acked=""
while [ -z "$acked" ]; do
	[ "$nth" -le 30 ] || fail "no run acknowledged a write before its core failed"
	rm -rf "$T/n1"
	: >"$T/n1.log"
	RAFTD_TEST_RAFT_ALLOC_FAIL=$nth "$RAFTD" $NOGRPC -p "$P" "$T/n1" >>"$T/n1.log" 2>&1 &
	PID_1=$!
	PIDS="$PIDS $PID_1"
	# writes until it stops (refused ones, before it listens, too)
	i=1
	while [ "$i" -le 300 ] && kill -0 "$PID_1" 2>/dev/null; do
		[ "$(put "$P" "k$i" "v$i")" = 200 ] && acked="$acked $i"
		i=$((i + 1))
		[ -n "$acked" ] || sleep 0.01
	done
	for _ in $(seq 100); do
		kill -0 "$PID_1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$PID_1" 2>/dev/null && fail "N=$nth: node 1 still runs after its core ran out of memory"
	wait "$PID_1"
	status=$?
	[ "$status" = 1 ] || fail "N=$nth: node 1 exited with $status, not 1"
	grep -q 'the Raft core is out of memory' "$T/n1.log" || fail "N=$nth: no word of the cause in the log"
	node_kill 1 # gone already; waits until its port is free
	nth=$((nth + 1))
done
# a run that acknowledged writes: a restart (no failpoint) keeps them all
node_start 1
for _ in $(seq 200); do
	[ "$(status_field "$P" role)" = leader ] && break
	sleep 0.05
done
[ "$(status_field "$P" role)" = leader ] || fail "no leader after the restart"
for k in $acked; do
	wait_value "$P" "k$k" "v$k" || fail "acknowledged k$k lost"
done
[ "$(put "$P" after yes)" = 200 ] || fail "no write after the restart"
nth=$((nth - 1))
echo "core-oom: $nth runs; the last acknowledged $(echo $acked | wc -w) writes before its core failed, all kept"
