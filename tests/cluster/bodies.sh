#!/bin/sh
# Large /raft bodies cannot exhaust a node's memory (issue 16 item 7):
# one from an address that is not a member's is refused before it is read
# (--max-stranger-body), and three streamed at once from a member's address
# fit --max-body-memory or are answered 503 before they are read: the
# follower's peak RSS (VmHWM) stays within that budget.
. "${srcdir:-.}/tests/cluster/lib.sh"

start_three -max-raft-body 64M -max-stranger-body 1M -max-body-memory 80M
LEADER=$(wait_leader) || fail "no leader"
for i in 1 2 3; do [ "$(port $i)" != "$LEADER" ] && F=$i; done
PID=$(eval echo \$PID_"$F")
BEFORE=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")
python3 "${srcdir:-.}/tests/cluster/hostile.py" bodies "$(port "$F")" "$PID" 60 127.0.0.2 > "$T/bodies.out" ||
	{ cat "$T/bodies.out"; fail "bodies"; }
cat "$T/bodies.out"
AFTER=$(sed -n 's/^VmHWM \([0-9]*\)/\1/p' "$T/bodies.out")
echo "follower VmHWM before ${BEFORE} kB, after ${AFTER} kB"
# the budget (80 MiB) and some room; three bodies read whole would be 180
[ $(( AFTER - BEFORE )) -lt $(( (80 + 24) * 1024 )) ] || fail "memory grew by $(( AFTER - BEFORE )) kB"
put_leader after 1 || fail "a write afterwards"
wait_value "$(port "$F")" after 1 || fail "the follower applies it"
echo "ok"
