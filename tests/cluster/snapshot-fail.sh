#!/bin/sh
# A node whose snapshots cannot start (RAFTD_TEST_SNAP_FAIL: as when fork or
# pidfd_open fails) keeps serving, and retries with a growing wait: a few
# attempts in 4 s, not one per 10 ms tick (before: some 400 error lines).
# Once snapshots work again (a restart without the failpoint), one is taken.
# Needs the test build.
RAFTD=${RAFTD:-${top_builddir:-.}/tests/cluster/raftd-test}
. "$(dirname "$0")/lib.sh"
P=$(port 1)
opts="--snapshot-threshold 20"

RAFTD_TEST_SNAP_FAIL=1 node_start 1 $opts
put_range 1 30
t0=$(date +%s)
sleep 4
put_range 31 40
[ "$(get "$P" k35)" = v35 ] || fail "node 1 serves while its snapshots fail"
tries=$(grep -c 'RAFTD_TEST_SNAP_FAIL' "$T/n1.log")
secs=$(( $(date +%s) - t0 + 1 ))
echo "snapshot attempts: $tries in about $secs s"
[ "$tries" -ge 2 ] || fail "the snapshot was not retried ($tries attempts)"
# 1 s, 2 s, 4 s ... apart: at most about log2(secs) + 2 attempts (secs is
# what passed, more than 4 s when a loaded machine slows the writes)
most=$(python3 -c "import math; print(int(math.log2($secs)) + 3)")
[ "$tries" -le "$most" ] || fail "$tries snapshot attempts in $secs s: no backoff"

node_kill 1 TERM
node_start 1 $opts
put_range 41 45
for _ in $(seq 50); do
	grep -q 'snapshot taken at index' "$T/n1.log" && break
	sleep 0.1
done
grep -q 'snapshot taken at index' "$T/n1.log" || fail "no snapshot once they work again"
[ "$(get "$P" k44)" = v44 ] || fail "k44"
