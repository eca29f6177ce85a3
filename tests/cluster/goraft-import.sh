#!/bin/sh
# Every goraft node of a mixed cluster replaced in place by raftd (`raftctl
# import-goraft`, same name, URL and data): the other raftd nodes learn that
# the member is a raftd node now, and DELETE, refused (409) while a goraft
# node was a member, works within a bounded time, on whichever node leads.
. "$(dirname "$0")/goraft-lib.sh"

# kinds PORT: "NAME=KIND ..." of node PORT's members as its /status says
kinds() {
	$CURL "http://127.0.0.1:$1/status" | python3 -c \
		"import json,sys; print(' '.join(m['name']+'='+m.get('kind','self') for m in json.load(sys.stdin)['members']))" 2>/dev/null
}

# delete_until CODE: DELETE /db/a through the leader until it answers CODE
# (30 s; a 503 means a member's kind is not known yet)
delete_until() {
	for _ in $(seq 300); do
		for n in $ALIVE; do
			code=$($CURL -o "$T/out" -w '%{http_code}' -XDELETE "http://127.0.0.1:$(port "$n")/db/a")
			[ "$code" = 400 ] && continue # a follower
			[ "$code" = "$1" ] && { LEADER=$n; return 0; }
		done
		sleep 0.1
	done
	fail "DELETE does not answer $1 (last: HTTP $code $(cat "$T/out"))"
}

# A goraft founder (g1) and a goraft joiner (g3) with a raftd node (r2). The
# goraft nodes are replaced while a goraft node leads: goraft's own log file
# is then intact (a goraft follower of a raftd leader may write a log that
# goraft itself cannot read back: see the report of issue 17), g3 first,
# then the leader g1, after which a raftd node leads.
D=$T/imp
start 1 g
start 2 r 1
start 3 g 1
write a 1
[ "$LEADER" = 1 ] || fail "the founder g1 leads"
everyone a 1

# replace N: stop goraft node N, import its data directory in place, start
# raftd on it (same name, URL and data)
replace() {
	kill_node "$1"
	"$RAFTCTL" import-goraft "$D/n$1" "$D/n$1" >"$T/import.out" 2>&1 || fail "import-goraft: $(cat "$T/import.out")"
	start "$1" r
}

replace 3
write b 2
everyone b 2
[ "$LEADER" = 1 ] || fail "g1 still leads"
for _ in $(seq 100); do
	has "$(kinds "$(port 2)")" g3=raftd && break
	sleep 0.1
done
has "$(kinds "$(port 2)")" g3=raftd || fail "r2 lists its members as: $(kinds "$(port 2)")"
echo "ok: g3 replaced in place by raftd while g1 leads: r2 lists it as a raftd node"

replace 1
write c 3
everyone c 3
delete_until 200
everyone a ""
echo "ok: g1 replaced too: DELETE through $(name "$LEADER") works"

# every node now lists every other as a raftd node (10 s)
for n in 1 2 3; do
	for _ in $(seq 100); do
		k=$(kinds "$(port $n)")
		case " $k " in *=goraft* | *=unknown*) ;; *) continue 2 ;; esac
		sleep 0.1
	done
	fail "node $n lists its members as: $k"
done
echo "ok: every node lists every member as a raftd node"

# and the leader elected next too
kill_node "$LEADER"
write d 4
delete_until 200
echo "ok: after the leader was killed, DELETE works through the new leader $(name "$LEADER")"
