#!/bin/sh
# A write lost to a new leader: its entry, appended by a leader that could
# not replicate it, is replaced by another leader's. The client gets goraft
# raftd's answer (its writeHandler: 400 and goraft's error text), not 500.
#
# The leader L is left alone (its followers killed), takes the write, and is
# paused (SIGSTOP) before check-quorum makes it step down (an election
# timeout of 1 s leaves the time) and before the followers come back: they elect a leader
# without L's entry and commit over its index. L, continued, hears of the new
# term and truncates. A write not settled within 10 s gets 503 (its fate
# unknown): on a machine that slow the attempt is made again.
. "$(dirname "$0")/lib.sh"

start_three --election-timeout-ms 1000
# the write to strand, sent to the leader L (see strand_write in lib.sh)
send_lost() {
	curl -s -m 30 -o "$T/lost.body" -w '%{http_code}' -XPOST "http://127.0.0.1:$L/db/lost$1" -d x >"$T/lost.code"
}
attempt() {
	WRITE_OVER=over$1
	strand_write send_lost "$1"
	wait "$cpid"
	code=$(cat "$T/lost.code")
	[ "$code" = 503 ] && return 1
	[ "$code" = 400 ] || fail "lost write: HTTP $code $(cat "$T/lost.body")"
	[ "$(cat "$T/lost.body")" = "command failed to be committed due to node failure" ] ||
		fail "lost write: body '$(cat "$T/lost.body")'"
	wait_value "$(port "$LN")" over$1 1 || fail "the old leader follows the new one"
	[ "$(get "$NL" lost$1)" = "" ] || fail "the lost write was applied"
	return 0
}
for i in 1 2 3; do
	attempt "$i" && { echo "ok: a write lost to a new leader: 400 command failed to be committed due to node failure"; exit 0; }
	echo "# attempt $i: the write timed out (503) before the new leader reached the old one: again" >&2
done
fail "the lost write timed out in each of 3 attempts"
