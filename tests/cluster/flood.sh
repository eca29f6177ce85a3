#!/bin/sh
# Connection floods do not take a node offline (issue 16 item 6).
# Members run on 127.0.0.1; the floods come from other loopback addresses
# (127.0.0.2...), which are not members'.
#   A. Against the leader: 60 slowloris connections (a header line every
#      0.5 s, never the end of the head) from one address and 400 idle
#      ones from another. Past --max-connections-per-address they are
#      answered 503 at once; the ones taken are closed at the head deadline
#      however often they send; writes commit and /status answers meanwhile.
#      Bodies sent a byte at a time are closed at the body deadline.
#   B. Against a follower, slowloris from 8 addresses filling its clients'
#      budget (a client from yet another address gets 503): the lead moves
#      to the other follower, the old leader is killed, and the new leader
#      must reach the flooded one through its new connections to commit a
#      write — the peers' budget.
. "${srcdir:-.}/tests/cluster/lib.sh"
H="${srcdir:-.}/tests/cluster/hostile.py"
ARGS="-max-connections 300 -max-connections-per-address 40 -request-head-timeout 3 -request-body-timeout 3
	-connection-timeout 3"

node_start 1 $ARGS
# B kills node 1 with node 3 leading (a transfer): then node 3 needs node
# 2. Should a loaded machine keep node 2 silent for node 3's election
# timeout, node 3 steps down and needs node 2's vote, which node 2 refuses
# for its own election timeout after it last heard node 3 (thesis §4.2.3):
# node 2's is ten times node 3's, so that node 3, not node 2, campaigns
# first once it may.
node_start 2 $ARGS -election-timeout-ms 30000 -join "127.0.0.1:$(port 1)"
node_start 3 $ARGS -election-timeout-ms 3000 -join "127.0.0.1:$(port 1)"
put_leader first 1 || fail "first write"
wait_value "$(port 3)" first 1 || fail "node 3 has the first write"
wait_value "$(port 2)" first 1 || fail "node 2 has the first write"
# node 1 founded the cluster, but a loaded machine may have moved the lead
make_lead 1

# --- A ---
# node 1 commits while flooded. An attempt starts its floods after its
# look at the leader (steady's PREP, slow on a loaded machine), so that
# the writes come while the floods are on; a write node 1 refused because
# an election moved the lead is made again, with new floods, once it
# leads again.
flood_writes() {
	for i in $(seq 10); do
		# -m 30: a loaded machine is slow, not offline
		[ "$(curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port 1)/status")" = 200 ] ||
			fail "/status during the flood"
		[ "$(curl -s -m 30 -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$(port 1)/db/a$i" -d "$i")" = 200 ] ||
			fail "write a$i during the flood"
	done
}
flood_a() {
	python3 "$H" flood "$(port 1)" slowloris 127.0.0.2 60 12 > "$T/slow.json" &
	SLOW=$!
	python3 "$H" flood "$(port 1)" idle 127.0.0.3 400 12 > "$T/idle.json" &
	IDLE=$!
	sleep 1 # not a correctness condition: only so that the floods are on
	( flood_writes )
	_w=$?
	# the next attempt's floods start on a node free of these
	wait $SLOW || fail "slowloris flood"
	wait $IDLE || fail "idle flood"
	[ "$_w" = 0 ] || exit 1
}
steady -p "make_lead 1" flood_a
echo "slowloris: $(cat "$T/slow.json")"
echo "idle: $(cat "$T/idle.json")"
python3 - "$T/slow.json" "$T/idle.json" <<'PY' || fail "flood A"
import json, sys
slow, idle = (json.load(open(f)) for f in sys.argv[1:3])
bad = []
# 60 from one address, 40 taken: the 20 others answered 503 at once
if slow["refused_503"] < 20: bad.append("slowloris: %d answered 503" % slow["refused_503"])
if idle["refused_503"] < 360: bad.append("idle: %d answered 503" % idle["refused_503"])
# every one taken was closed at the 3 s head deadline (the idle timeout
# never fires on slowloris), well before the flood's 12 s ended
for name, st in (("slowloris", slow), ("idle", idle)):
    if st["closed"] < 40: bad.append("%s: %d closed by the server" % (name, st["closed"]))
    if st["max_life"] > 9: bad.append("%s: one lived %.1f s" % (name, st["max_life"]))
    if st["refused_other"]: bad.append("%s: unexpected answers %r" % (name, st))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
echo "ok: A"
# a body trickling in is closed at the body deadline (3 s) too
python3 "$H" slowbody "$(port 1)" 127.0.0.4 20 9 || fail "slow bodies"

# --- B ---
make_lead 1
# the flood outlasts the test (killed at its end)
python3 "$H" flood "$(port 2)" slowloris 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9 40 600 \
	> "$T/flood-b.json" &
FLOOD=$!
# until the flood holds the whole clients' budget: another client gets 503
budget_full() {
	[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.10 "http://127.0.0.1:$(port 2)/status")" = 503 ]
}
until_ok 60 budget_full || fail "the flood does not fill node 2's clients' budget"
# Connections node 3 may have to node 2 from before are closed by now (3 s
# idle), so that node 3 reaches node 2 through new ones below (not a
# correctness condition: one left open would only make the test easier).
sleep 4
# node 3 leads (a transfer: node 1's vote is enough), then node 1 is
# gone: node 3 commits only through the flooded node 2
make_lead 3
node_kill 1
commit_b() {
	[ "$(status_field "$(port 3)" role)" = leader ] &&
		[ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$(port 3)/db/during-flood" -d 1)" = 200 ]
}
until_ok 120 commit_b || fail "node 3 does not commit through the flooded node 2 (node 3: $(status_field "$(port 3)" role))"
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
echo "ok: B"
