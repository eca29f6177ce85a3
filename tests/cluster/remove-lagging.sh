#!/bin/sh
# A member removed while it is paused learns of its removal when it comes
# back and stops (exit 0), even though the leader has meanwhile compacted
# the raft:leave into a snapshot: the leader keeps telling it, and a
# snapshot whose configuration lacks a committed member removes it. Found
# by the fault suite (seeds 1000, 1004): it followed for good.
. "$(dirname "$0")/lib.sh"
opts="--snapshot-threshold 100"

start_three $opts
name3=$(cat "$T/n3/name")
kill -STOP "$PID_3" # (node_kill would wait for it)
put_range 1 50
leave "$name3"
put_range 51 300
snap=$(status_field "$LEADER" snapshot_index)
[ "${snap:-0}" -gt 260 ] || fail "the leader compacted past the leave (snapshot_index $snap)"
echo "ok: node 3 removed while paused, the leave compacted into snapshot $snap"

kill -CONT "$PID_3"
for _ in $(seq 200); do kill -0 "$PID_3" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PID_3" 2>/dev/null && fail "node 3 still runs 10 s after it was resumed"
wait "$PID_3"
rc=$?
[ $rc = 0 ] || fail "node 3 exited with $rc"
grep -q "removed from the cluster" "$T/n3.log" || fail "node 3 says it was removed"
echo "ok: node 3 learnt of its removal when resumed, and stopped (exit 0)"
put_leader last 1 || fail "the two others go on"
wait_value "$(port 2)" last 1 || fail "node 2 has the last write"
