#!/bin/bash
# SIGTERM (MODE=term) or /leave (MODE=leave) of a follower while the leader
# streams AppendEntries to it, ROUNDS times: the follower must exit 0. Before
# afc0ae3 it aborted in 2-4 rounds of 10 ("MHD_stop_daemon() called while we
# have suspended connections", exit 134); found by tests/fault/run.sh.
#   top_builddir=BUILD tests/fault/repro/stop-under-load.sh
R=${RAFTD:-${top_builddir:-.}/src/raftd/raftd}
FC=${top_builddir:-.}/tests/fault/fault-client
B=${BASE:-62300} MODE=${MODE:-term}
T=$(mktemp -d)
trap 'kill -9 $p1 $p2 $p3 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
bad=0
for i in $(seq "${ROUNDS:-10}"); do
	rm -rf "${T:?}"/*
	mkdir -p "$T"/1 "$T"/2 "$T"/3
	"$R" -p $((B + 1)) --grpc-listen none -h 127.0.0.1 --listen 127.0.0.1 --name a "$T/1" >"$T/1.log" 2>&1 &
	p1=$!
	sleep 0.4
	"$R" -p $((B + 2)) --grpc-listen none -h 127.0.0.1 --listen 127.0.0.1 --name b -join 127.0.0.1:$((B + 1)) "$T/2" >"$T/2.log" 2>&1 &
	p2=$!
	"$R" -p $((B + 3)) --grpc-listen none -h 127.0.0.1 --listen 127.0.0.1 --name c -join 127.0.0.1:$((B + 1)) "$T/3" >"$T/3.log" 2>&1 &
	p3=$!
	sleep 1
	"$FC" run --nodes 127.0.0.1:$((B + 1)) --seconds 3 --clients 8 --think-us 0 --out "$T/h" 2>/dev/null &
	c=$!
	sleep 1.5
	if [ "$MODE" = term ]; then
		kill -TERM $p3
	else
		curl -s -m 5 -o /dev/null -XPOST 127.0.0.1:$((B + 1))/leave -d '{"name":"c"}'
	fi
	for _ in $(seq 100); do kill -0 $p3 2>/dev/null || break; sleep 0.1; done
	kill -0 $p3 2>/dev/null && { echo "round $i: c did not stop (not removed?)"; kill -9 $p3; }
	wait $p3
	rc=$?
	[ $rc = 0 ] || { bad=$((bad + 1)); echo "round $i: exit $rc $(grep -h Fatal "$T/3.log")"; }
	wait $c
	kill -9 $p1 $p2
	wait $p1 $p2 2>/dev/null
done
echo "$MODE: $bad of ${ROUNDS:-10} rounds failed"
[ $bad = 0 ]
