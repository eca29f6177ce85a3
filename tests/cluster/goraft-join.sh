#!/bin/sh
# A goraft node joins a raftd-led cluster while one member is down. goraft's
# joiner serves nothing until its /join is answered (docs/goraft-protocol.md
# §7.2), so a leader that waited for the joiner's own acknowledgement would
# wait in vain (it used to refuse the join after 10 s: 503, and the joiner was
# never a member). The join is answered once the live members hold it, the
# joiner starts, and it becomes a voting member with the data.
. "$(dirname "$0")/goraft-lib.sh"

# member_kind PORT NAME: "voter" or "learner" if node PORT lists NAME
member_kind() {
	$CURL "http://127.0.0.1:$1/status" | python3 -c "
import json, sys
for m in json.load(sys.stdin)['members']:
    if m['name'] == '$2':
        print('voter' if m['voter'] else 'learner')" 2>/dev/null
}

D=$T/join
start 1 r
start 2 r 1
start 3 r 1
write a 1
[ "$LEADER" = 1 ] || fail "the founder r1 leads"
everyone a 1
for n in 2 3; do
	for _ in $(seq 100); do
		[ "$(member_kind "$(port 1)" "r$n")" = voter ] && break
		sleep 0.1
	done
	[ "$(member_kind "$(port 1)" "r$n")" = voter ] || fail "r$n is not a voter"
done
echo "ok: r1, r2 and r3 are voters"

# a follower goes down; the joiner asks the leader. A leader change meanwhile
# (a loaded machine) sends the /join to a follower, which goraft's joiner
# takes as final: the attempt is then made again through the new leader.
write a2 1
L=$LEADER
F=2
[ "$L" = 2 ] && F=3
kill_node $F
for _ in $(seq 100); do # the leader counts it as down
	$CURL "http://127.0.0.1:$(port "$L")/status" | python3 -c "
import json, sys
sys.exit(0 if [m for m in json.load(sys.stdin)['members'] if m['name'] == 'r$F' and not m.get('reachable', True)] else 1)
" 2>/dev/null && break
	sleep 0.1
done
for try in 1 2 3; do
	term=$(rstatus "$L" term)
	t0=$(date +%s%N)
	start 4 g "$L"
	t1=$(date +%s%N)
	echo "# g4 served $(( (t1 - t0) / 1000000 )) ms after it was started (its /join answered)"
	write b$try 2
	[ "$(member_kind "$(port "$LEADER")" g4)" = voter ] && break
	[ "$(rstatus "$L" term)" = "$term" ] && [ "$LEADER" = "$L" ] ||
		{ echo "# a leader change during the join (r$L, term $term): again"; kill_node 4; rm -rf "$D/n4"; L=$LEADER; continue; }
	fail "g4 is not a voter on r$LEADER: $($CURL "http://127.0.0.1:$(port "$LEADER")/status")"
done
everyone b$try 2
everyone a 1
[ "$(member_kind "$(port "$LEADER")" g4)" = voter ] || fail "g4 is not a voter"
echo "ok: with r$F down, g4 joined through r$L and has the data"

# the member that was down comes back; the four commit together
start $F r
write c 3
everyone c 3
echo "ok: r$F back: four members agree"
