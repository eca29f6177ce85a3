#!/bin/sh
# Snapshots on real nodes: the log is compacted past what a stopped node
# holds, so on its return the leader sends it the snapshot (goraft's
# /raft/snapshot then /raft/snapshotRecovery); it installs it, rebases its
# log and catches up. Every node restarts from snapshot + log tail.
. "$(dirname "$0")/lib.sh"
opts="--snapshot-threshold 100"
start_three $opts
node_kill 3
i=0
while [ $i -lt 600 ]; do
	i=$((i + 1))
	# through whoever leads: a slow disk on a shared machine (a snapshot's
	# fsync beside the WAL's) can cost the leader its lease meanwhile
	put_leader "k$i" "v$i" || fail "write k$i"
done
leader=$LEADER
snap=$(status_field "$leader" snapshot_index)
[ "${snap:-0}" -gt 300 ] || fail "the leader took a snapshot (snapshot_index $snap)"
echo "ok: 600 writes, leader snapshot at $snap"
# what an earlier install interrupted after its first rename leaves behind
mkdir -p "$T/n3/wal.old" && echo leftover > "$T/n3/wal.old/0000000000000001-0000000000000001.seg"
node_start 3 $opts
wait_value "$(port 3)" k600 v600 || fail "node 3 catches up"
wait_value "$(port 3)" k1 v1 || fail "node 3 has the early keys (from the snapshot)"
grep -q "installed\|saved the leader's snapshot" "$T/n3.log" || fail "node 3 got a snapshot"
echo "ok: the lagging node installed the snapshot and caught up"
node_kill 1 TERM
node_start 1 $opts
wait_value "$(port 1)" k600 v600 || fail "node 1 restarts from snapshot and log"
wait_value "$(port 1)" first 1 || fail "node 1 keeps the first key"
echo "ok: restart from snapshot + log tail"
