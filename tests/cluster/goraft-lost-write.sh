#!/bin/sh
# A write lost to a new leader in a mixed cluster (issue 17 item 4): a raftd
# leader r1 whose followers are goraft nodes g2 and g3 appends a write it
# cannot replicate; a goraft leader elected without it commits over its
# index. The client gets goraft raftd's answer (400, goraft's error text),
# as lost-write.sh checks in a raftd-only cluster.
#
# g2 and g3 are killed, r1 takes the write and is paused (SIGSTOP) once it
# appended it, before check-quorum makes it step down (an election timeout
# of 1 s leaves the time); g2 and g3 restart, elect a leader and commit a
# write over that index; r1, continued, hears of the new term and truncates.
# A write not settled within 10 s gets 503 (its fate unknown): on a machine
# that slow the attempt is made again on a new cluster.
. "$(dirname "$0")/goraft-lib.sh"

ROPTS="--election-timeout-ms 1000"
send_lost() {
	curl -s -m 30 -o "$T/lost.body" -w '%{http_code}' -XPOST "http://127.0.0.1:$(port 1)/db/lost$1" -d x >"$T/lost.code"
}
# appended: r1 holds an entry past $last (the write)
appended() { [ "$(rstatus 1 last_index)" -gt "$last" ] 2>/dev/null; }
attempt() {
	D=$T/lost$1 ALIVE=""
	start 1 r
	start 2 g 1
	start 3 g 1
	write a 1
	[ "$LEADER" = 1 ] || fail "the founder r1 leads"
	everyone a 1
	kill_node 2
	kill_node 3
	last=$(rstatus 1 last_index)
	send_lost "$1" &
	cpid=$!
	until_ok 10 appended || fail "r1 did not append the write"
	kill -STOP "$PID_1"
	ALIVE=$(drop "$ALIVE" 1)
	start 2 g
	start 3 g
	write "over$1" 1
	kill -CONT "$PID_1"
	wait "$cpid"
	code=$(cat "$T/lost.code")
	ALIVE="$ALIVE 1"
	if [ "$code" != 503 ]; then
		[ "$code" = 400 ] || fail "lost write: HTTP $code $(cat "$T/lost.body")"
		[ "$(cat "$T/lost.body")" = "command failed to be committed due to node failure" ] ||
			fail "lost write: body '$(cat "$T/lost.body")'"
		everyone "over$1" 1
		[ "$($CURL "http://127.0.0.1:$(port 1)/db/lost$1")" = "" ] || fail "r1 applied the lost write"
		[ "$($CURL "http://127.0.0.1:$(port "$LEADER")/db/lost$1")" = "" ] || fail "the lost write was applied"
	fi
	for n in 1 2 3; do kill_node "$n"; done
	[ "$code" != 503 ]
}
for i in 1 2 3; do
	attempt "$i" && { echo "ok: a write lost to a goraft leader by a raftd leader: 400 command failed to be committed due to node failure"; exit 0; }
	echo "# attempt $i: the write timed out (503) before the new leader reached the old one: again" >&2
done
fail "the lost write timed out in each of 3 attempts"
