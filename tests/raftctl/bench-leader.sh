#!/bin/sh
# `raftctl bench` and `raftctl check perf` follow a leader change in the
# middle of their load (the old leader refuses: "Not current leader") and
# delete the keys they wrote at the end.
. "$(dirname "$0")/../cluster/lib.sh"
rc() { "$RAFTCTL" --timeout 5s "$@"; }

start_three
export RAFTCTL_ENDPOINTS="http://127.0.0.1:$(port 1),http://127.0.0.1:$(port 2),http://127.0.0.1:$(port 3)"

# transfer_when_written KEY: once KEY is written (the load is running), move
# leadership away; fails if the load ($LOAD) had already ended
transfer_when_written() {
	for _ in $(seq 200); do
		L=$(wait_leader) || fail "no leader"
		[ -n "$(curl -s "http://127.0.0.1:$L/db/$1")" ] && break
		sleep 0.05
	done
	kill -0 "$LOAD" 2>/dev/null || fail "the load ended before the leader changed"
	rc leader transfer >"$T/transfer" 2>&1 || fail "leader transfer: $(cat "$T/transfer")"
	kill -0 "$LOAD" 2>/dev/null || fail "the load ended before the leader changed"
}
# no_keys PREFIX N: none of PREFIX0 .. PREFIX(N-1) is left on the leader
# (a missing key reads as an empty value, as in goraft; the load's are not)
no_keys() {
	L=$(wait_leader) || fail "no leader"
	i=0
	while [ $i -lt "$2" ]; do
		[ -z "$(curl -s "http://127.0.0.1:$L/db/$1$i?consistent=true")" ] || fail "$1$i left behind"
		i=$((i + 1))
	done
}

rc -o json bench -c 4 -n 3000 -r 200 -k 40 >"$T/bench" 2>"$T/bench.err" &
LOAD=$!
transfer_when_written bench-0
wait "$LOAD" || fail "bench across a leader change: $(cat "$T/bench" "$T/bench.err")"
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(0 if o["ok"]==3000 and o["failed"]==0 and o["leader_changes"]>=1 and o["cleaned_up"] else 1)' "$T/bench" ||
	fail "bench: $(cat "$T/bench")"
no_keys bench- 40
echo "ok: bench follows the leader and deletes its keys"

rc -o json check perf --load s --duration 8s --keys 40 >"$T/perf" 2>"$T/perf.err" &
LOAD=$!
transfer_when_written check-perf-0
wait "$LOAD"
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(0 if o["failed"]==0 and o["ok"]>0 and o["leader_changes"]>=1 and o["cleaned_up"] else 1)' "$T/perf" ||
	fail "check perf: $(cat "$T/perf" "$T/perf.err")"
no_keys check-perf- 40
echo "ok: check perf follows the leader and deletes its keys"
