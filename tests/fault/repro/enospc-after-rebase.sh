#!/bin/bash
# A follower whose first WAL segment after rebasing on the leader's snapshot
# could not be created (fallocate ENOSPC) is left with an empty segment whose
# first index is the old snapshot's + 1. When it later installs a newer
# snapshot, start-up does not rebase (the log has no entries), and every
# append then fails with EINVAL ("carrying out a raft action (3): Invalid
# argument") and the node stops, on every restart. Exit 1 while the bug is
# there. Seen first in tests/fault/run.sh seed 2007 (5 nodes, loopback).
#   top_builddir=BUILD tests/fault/repro/enospc-after-rebase.sh
R=${RAFTD:-${top_builddir:-.}/tests/cluster/raftd-test}
B=${BASE:-62500}
T=$(mktemp -d)
trap 'kill -9 $p1 $p2 $p3 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T"/1 "$T"/2 "$T"/3
o="--snapshot-threshold 100 --segment-size 1M"
start() { # N [ENV]
	env $2 "$R" -p $((B + $1)) -h 127.0.0.1 --listen 127.0.0.1 --name n$1 $o -join 127.0.0.1:$((B + 1)) \
		"$T/$1" >>"$T/$1.log" 2>&1 &
	eval p$1=\$!
}
"$R" -p $((B + 1)) -h 127.0.0.1 --listen 127.0.0.1 --name n1 $o "$T/1" >"$T/1.log" 2>&1 &
p1=$!
sleep 0.4
start 2
start 3
sleep 1
kill -9 $p3; wait $p3 2>/dev/null
for i in $(seq 300); do curl -s -o /dev/null -XPOST 127.0.0.1:$((B + 1))/db/k$i -d v$i; done
start 3 RAFTD_TEST_WAL_FAILPOINT=fallocate:1:28
wait $p3
echo "node 3, first WAL fallocate failing with ENOSPC, exited with $? ($(ls "$T"/3/wal | tr '\n' ' '))"
for i in $(seq 301 600); do curl -s -o /dev/null -XPOST 127.0.0.1:$((B + 1))/db/k$i -d v$i; done
start 3
sleep 5
if kill -0 $p3 2>/dev/null; then
	echo "ok: node 3 runs again and has k600=$(curl -s 127.0.0.1:$((B + 3))/db/k600)"
	exit 0
fi
wait $p3
echo "BUG: node 3 restarted without the failpoint exited with $?:"
grep -v "is a raftd\|unreachable\|is back" "$T/3.log" | tail -4
exit 1
