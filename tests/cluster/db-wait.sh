#!/bin/sh
# GET /db/KEY?wait=true[&waitIndex=REV] (issue 20, raftd-only): a long poll
# on the watch hub answers the key's next change with its value (a delete:
# 404) and its revision in X-Raftd-Revision, on the leader and a follower;
# at once for a change at or after waitIndex; 410 for a compacted one; 400
# for a bad one; a client that hangs up frees its watcher.
. "$(dirname "$0")/lib.sh"

watchers() { curl -s -m 5 "http://127.0.0.1:$(port "$1")/metrics" | sed -n 's/^raftd_watchers //p'; }
has_watchers() { [ "$(watchers "$1")" = "$2" ]; }
# wait_bg NAME N QUERY: the long poll on node N in the background; headers
# in $T/NAME.h, body in $T/NAME.b, curl's status line in $T/NAME.s
wait_bg() {
	curl -s -m 60 -D "$T/$1.h" -o "$T/$1.b" -w '%{http_code}\n' \
		"http://127.0.0.1:$(port "$2")/db/$3" >"$T/$1.s" 2>&1 &
	eval "CPID_$1=$!"
	PIDS="$PIDS $!"
}
answered() { [ -s "$T/$1.s" ]; }
status_is() { [ "$(cat "$T/$1.s")" = "$2" ] || fail "$1: status $(cat "$T/$1.s"), wanted $2"; }
rev_of() { sed -n 's/^X-Raftd-Revision: *\([0-9]*\).*/\1/ip' "$T/$1.h"; }

start_three -h 127.0.0.1 --election-timeout-ms 1000
L=$(wait_leader)

# a change after the poll began: on a follower and on the leader
wait_bg f 2 'k?wait=true'
wait_bg l "$((L - BASE))" 'k?wait=true'
until_ok 30 has_watchers 2 1 || fail "no watcher on node 2: $(watchers 2)"
until_ok 30 has_watchers "$((L - BASE))" 1 || fail "no watcher on the leader"
answered f && fail "answered before any change"
[ "$(put "$L" k v1)" = 200 ] || fail "put k"
until_ok 30 answered f || fail "the follower's poll was not answered"
until_ok 30 answered l || fail "the leader's poll was not answered"
status_is f 200
status_is l 200
[ "$(cat "$T/f.b")" = v1 ] || fail "value $(cat "$T/f.b")"
r1=$(rev_of f)
[ -n "$r1" ] && [ "$r1" = "$(rev_of l)" ] || fail "revisions: '$r1' '$(rev_of l)'"
until_ok 30 has_watchers 2 0 || fail "the answered poll's watcher stays: $(watchers 2)"

# waitIndex at or below a change: at once; the next one from r1 + 1
[ "$(put "$L" k v2)" = 200 ] || fail "put k"
wait_bg a 3 "k?wait=true&waitIndex=$r1"
until_ok 30 answered a || fail "waitIndex $r1 not answered at once"
status_is a 200
[ "$(cat "$T/a.b")" = v1 ] && [ "$(rev_of a)" = "$r1" ] || fail "waitIndex $r1: $(cat "$T/a.b") at $(rev_of a)"
wait_bg b 3 "k?wait=true&waitIndex=$((r1 + 1))"
until_ok 30 answered b || fail "waitIndex $((r1 + 1)) not answered at once"
[ "$(cat "$T/b.b")" = v2 ] || fail "waitIndex $((r1 + 1)): $(cat "$T/b.b")"
# a delete: 404 with its revision
r2=$(rev_of b)
wait_bg d 2 "k?wait=true&waitIndex=$((r2 + 1))"
until_ok 30 has_watchers 2 1 || fail "no watcher on node 2"
[ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -XDELETE "http://127.0.0.1:$L/db/k")" = 200 ] || fail "delete"
until_ok 30 answered d || fail "the delete was not answered"
status_is d 404
[ "$(rev_of d)" -gt "$r2" ] || fail "delete's revision $(rev_of d)"

# bad waitIndex: 400
[ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$L/db/k?wait=true&waitIndex=x")" = 400 ] ||
	fail "waitIndex=x not refused"

# a client that hangs up: its watcher goes
wait_bg h 2 'other?wait=true'
until_ok 30 has_watchers 2 1 || fail "no watcher on node 2"
kill "$CPID_h"
until_ok 30 has_watchers 2 0 || fail "the watcher of a client that hung up stays: $(watchers 2)"
echo PASS
