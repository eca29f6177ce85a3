#!/bin/sh
# A follower's log that holds no entries but is anchored below the snapshot
# it restarts from must be rebased on that snapshot too. Made as the fault
# suite found it (seed 2007): node 3 rebases on the leader's snapshot, the
# fallocate of its first segment after it fails with ENOSPC, which leaves an
# empty segment starting at that snapshot + 1; after a newer snapshot, start-up
# kept that log and every append failed with EINVAL, on every restart.
# Also: an empty log anchored above the snapshot + 1 is a gap, refused with a
# message naming it. Needs the test build (WAL failpoints).
RAFTD=${RAFTD:-${top_builddir:-.}/tests/cluster/raftd-test}
. "$(dirname "$0")/lib.sh"
opts="--snapshot-threshold 100 --segment-size 1M"

start_three $opts
node_kill 3
put_range 1 300

# node 3 gets the snapshot, restarts to rebase on it, and the first
# segment of its new log cannot be preallocated: the node stops (exit 1;
# RAFTD_TEST_NOSPACE_EXIT: a node holds the batch and stays up otherwise)
RAFTD_TEST_NOSPACE_EXIT=1 RAFTD_TEST_WAL_FAILPOINT=fallocate:1:28 "$RAFTD" $NOGRPC -p "$(port 3)" $opts "$T/n3" >>"$T/n3.log" 2>&1 &
pid=$!
PIDS="$PIDS $pid"
for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -0 $pid 2>/dev/null && fail "node 3 did not stop on the failed fallocate"
wait $pid
grep -q "saved the leader's snapshot" "$T/n3.log" || fail "node 3 installed a snapshot"
"${top_builddir:-.}/src/raftctl/raftctl" wal verify "$T/n3/wal" >"$T/verify" 2>&1
grep -q "1 segment, no entries" "$T/verify" || fail "node 3's log is one empty segment: $(cat "$T/verify")"
echo "ok: node 3 left with an empty segment anchored at its old snapshot + 1"
cp -a "$T/n3" "$T/gap"

# a newer snapshot: node 3 installs it, rebases and catches up
put_range 301 600
node_start 3 $opts
wait_value "$(port 3)" k600 v600 || fail "node 3 catches up after the newer snapshot"
node_kill 3 TERM
node_start 3 $opts
put_leader last 1 || fail "a write after node 3's restart"
wait_value "$(port 3)" last 1 || fail "node 3 appends after a restart"
echo "ok: node 3 rebased its empty log on the newer snapshot and appends"

# the same empty log without any snapshot: entries 1..anchor-1 are missing
rm -f "$T"/gap/snap/*
timeout 10 "$RAFTD" $NOGRPC -p "$(port 4)" "$T/gap" >"$T/gap.log" 2>&1
[ $? = 1 ] || fail "a log after a gap is refused at start-up (exit 1)"
grep -q "entries .* missing" "$T/gap.log" || fail "the gap is named: $(cat "$T/gap.log")"
echo "ok: $(grep -o 'the log starts.*' "$T/gap.log")"
