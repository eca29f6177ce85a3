#!/bin/sh
# Many GET /raftd/snapshot downloads that are never read keep the node's
# memory bounded (the file is streamed, not copied per request), at most
# --max-snapshot-downloads of them stream at once (the rest get 503 and
# Retry-After), and the node keeps serving meanwhile.
. "${srcdir:-.}/tests/cluster/lib.sh"

node_start 1 -max-snapshot-downloads 3
P=$(port 1)
put_leader first 1 || fail "first write"
# a snapshot of 16 values of 1 MiB
head -c 786432 /dev/urandom | base64 -w0 > "$T/value"
for i in $(seq 16); do
	[ "$(put "$P" "big$i" "@$T/value")" = 200 ] || fail "write big$i"
done
curl -s -f -XPOST "http://127.0.0.1:$P/raftd/snapshot" >/dev/null || fail "POST /raftd/snapshot"
SNAP_KB=$(( $(curl -s "http://127.0.0.1:$P/raftd/snapshot" | wc -c) / 1024 ))
[ "$SNAP_KB" -gt 16000 ] || fail "snapshot of $SNAP_KB kB"
PID=$PID_1
BEFORE=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")

python3 "${srcdir:-.}/tests/cluster/hostile.py" downloads "$P" "$PID" 12 3 > "$T/downloads.out" ||
	{ cat "$T/downloads.out"; fail "downloads"; }
cat "$T/downloads.out"
AFTER=$(sed -n 's/^VmHWM \([0-9]*\)/\1/p' "$T/downloads.out")
echo "VmHWM before ${BEFORE} kB, with the downloads open ${AFTER} kB; snapshot ${SNAP_KB} kB"
# a copy of the snapshot per download would add 12 of them
[ $(( AFTER - BEFORE )) -lt $(( 2 * SNAP_KB )) ] || fail "memory grew by $(( AFTER - BEFORE )) kB"
[ "$(status_field "$P" role)" = leader ] || fail "the node serves afterwards"
echo "ok"
