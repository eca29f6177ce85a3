#!/bin/bash
# A member removed while it is paused (or far behind) never learns it: the
# leader keeps a removed member's client only a few seconds, so the member
# never gets the raft:leave entry, keeps running as a follower of a
# configuration that still lists it, and never stops (a removed raftd node
# normally exits 0). Exit 1 while the bug is there. Seen in tests/fault/run.sh
# seeds 1000 and 1004, there through a snapshot that already covered the
# removal.
#   top_builddir=BUILD tests/fault/repro/removed-while-lagging.sh
R=${RAFTD:-${top_builddir:-.}/src/raftd}
B=${BASE:-62400}
T=$(mktemp -d)
trap 'kill -9 $p1 $p2 $p3 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T"/1 "$T"/2 "$T"/3
o="--snapshot-threshold 100"
"$R" -p $((B + 1)) -h 127.0.0.1 --listen 127.0.0.1 --name a $o "$T/1" >"$T/1.log" 2>&1 &
p1=$!
sleep 0.4
"$R" -p $((B + 2)) -h 127.0.0.1 --listen 127.0.0.1 --name b $o -join 127.0.0.1:$((B + 1)) "$T/2" >"$T/2.log" 2>&1 &
p2=$!
"$R" -p $((B + 3)) -h 127.0.0.1 --listen 127.0.0.1 --name c $o -join 127.0.0.1:$((B + 1)) "$T/3" >"$T/3.log" 2>&1 &
p3=$!
sleep 1
kill -STOP $p3
for i in $(seq 300); do curl -s -o /dev/null -XPOST 127.0.0.1:$((B + 1))/db/k$i -d v$i; done
echo "leave of c: HTTP $(curl -s -m 5 -o /dev/null -w '%{http_code}' -XPOST 127.0.0.1:$((B + 1))/leave -d '{"name":"c"}')"
for i in $(seq 301 600); do curl -s -o /dev/null -XPOST 127.0.0.1:$((B + 1))/db/k$i -d v$i; done
kill -CONT $p3
sleep 10
if kill -0 $p3 2>/dev/null; then
	echo "BUG: c still running 10 s after its removal: $(curl -s 127.0.0.1:$((B + 3))/status | tr -d ' \n' |
		grep -o '"commit_index":[0-9]*\|"role":"[a-z]*"' | tr '\n' ' ')"
	exit 1
fi
wait $p3
echo "ok: c stopped with $?"
