#!/bin/sh
# goraft's captured traffic (../shared/goraft-wire) replayed against a real
# raftd node: it follows a goraft leader's AppendEntries, then answers the
# crafted requests byte for byte as the goraft follower did.
. "$(dirname "$0")/lib.sh"
W=${GORAFT_WIRE_DIR:-$(dirname "$0")/../../../shared/goraft-wire}
[ -f "$W/index.json" ] || { echo "no goraft capture at $W: skipped"; exit 77; }

# A follower that never campaigns during the test (the captured joins do
# not make it a voter), with an empty log.
node_start 1 -join 127.0.0.1:9 --election-timeout-ms 200

# post NAME PATH: the captured request body; status in $code, body in $T/out
post() {
	code=$(curl -s -o "$T/out" -w '%{http_code}' -XPOST -H 'Content-Type: application/protobuf' \
		--data-binary "@$W/$1.req" "http://127.0.0.1:$(port 1)$2")
}

# same_as NAME: our response is goraft's, byte for byte
same_as() {
	post "$1" "$2"
	[ "$code" = 200 ] || fail "$1: HTTP $code"
	cmp -s "$T/out" "$W/$1.resp" || {
		"$RAFTCTL" wire decode "$3" "$T/out" >&2
		fail "$1: the response differs from goraft's"
	}
	echo "ok: $1"
}
RAFTCTL=${RAFTCTL:-$(dirname "$RAFTD")/raftctl}

# The leader 6edf0e8 sends its first four entries (all term 0).
post ae-catchup-four-entries /raft/appendEntries
[ "$code" = 200 ] || fail "catch-up: HTTP $code"
"$RAFTCTL" wire decode ae-resp "$T/out" > "$T/text"
grep -qx 'Index: 4' "$T/text" && grep -qx 'Success: true' "$T/text" || {
	cat "$T/text" >&2
	fail "the follower takes goraft's entries"
}
echo "ok: four goraft entries appended"
# Its commit index moves to 4 with the next heartbeat (our commit may run
# ahead of goraft's one-join-per-request barrier: allowed,
# docs/goraft-protocol.md §11.10).
printf '\010\000\020\004\030\000\040\004\052\0076edf0e8' > "$T/hb.req"
curl -s -o /dev/null --data-binary "@$T/hb.req" "http://127.0.0.1:$(port 1)/raft/appendEntries"

# The state the crafted cases were sent to: 4 entries of term 0, commit 4.
same_as crafted-ae-gap /raft/appendEntries ae-resp
same_as crafted-ae-past-end /raft/appendEntries ae-resp
# raftd ignores a vote request within an election timeout (200 ms) of its
# leader's last AppendEntries (thesis §4.2.3, docs/goraft-protocol.md
# §11.21), where goraft grants it: let that much time pass first (a sleep
# is a lower bound on the time passed, not a race)
sleep 0.5
same_as crafted-rv-grant-higher /raft/requestVote rv-resp
same_as crafted-rv-deny-stale /raft/requestVote rv-resp
same_as crafted-ae-lower-term /raft/appendEntries ae-resp
same_as crafted-ae-mismatch-term /raft/appendEntries ae-resp

for c in crafted-bad:/raft/appendEntries crafted-snap:/raft/snapshot; do
	post "${c%%:*}" "${c#*:}"
	[ "$code" = 400 ] && cmp -s "$T/out" "$W/${c%%:*}.resp" || fail "${c%%:*}: HTTP $code"
	echo "ok: ${c%%:*} gets goraft's 400"
done

post db-write-on-follower /db/after
[ "$code" = 400 ] && cmp -s "$T/out" "$W/db-write-on-follower.resp" || fail "db-write-on-follower: HTTP $code"
echo "ok: db-write-on-follower"

# The node survived all of it and still serves.
[ "$(status_field "$(port 1)" term)" = 6 ] || fail "term 6 after the crafted requests"
echo "ok: still serving, term 6"
