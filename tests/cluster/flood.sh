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
#      budget (a client from yet another address gets 503): the leader is
#      killed, and the other follower (a shorter election timeout) must
#      reach the flooded one through its new connections to become leader
#      and commit a write — the peers' budget.
. "${srcdir:-.}/tests/cluster/lib.sh"
H="${srcdir:-.}/tests/cluster/hostile.py"
ARGS="-max-connections 300 -max-connections-per-address 40 -request-head-timeout 3 -request-body-timeout 3
	-connection-timeout 3"

node_start 1 $ARGS
node_start 2 $ARGS -election-timeout-ms 3000 -join "127.0.0.1:$(port 1)"
node_start 3 $ARGS -join "127.0.0.1:$(port 1)"
put_leader first 1 || fail "first write"
wait_value "$(port 3)" first 1 || fail "node 3 has the first write"
wait_value "$(port 2)" first 1 || fail "node 2 has the first write"
# node 1 founded the cluster, but a loaded machine may have moved the lead
make_lead 1

# --- A ---
python3 "$H" flood "$(port 1)" slowloris 127.0.0.2 60 12 > "$T/slow.json" &
SLOW=$!
python3 "$H" flood "$(port 1)" idle 127.0.0.3 400 12 > "$T/idle.json" &
IDLE=$!
sleep 1 # not a correctness condition: only so that the floods are on
# node 1 commits while flooded; a write it refused because an election
# moved the lead (steady) is made again once it leads again
flood_writes() {
	for i in $(seq 10); do
		[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port 1)/status")" = 200 ] ||
			fail "/status during the flood"
		[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$(port 1)/db/a$i" -d "$i")" = 200 ] ||
			fail "write a$i during the flood"
	done
}
steady -p "make_lead 1" flood_writes
wait $SLOW || fail "slowloris flood"
wait $IDLE || fail "idle flood"
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
make_lead 1 # the node killed below
python3 "$H" flood "$(port 2)" slowloris 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9 40 40 \
	> "$T/flood-b.json" &
FLOOD=$!
# until the flood holds the whole clients' budget: another client gets 503
full=
for _ in $(seq 100); do
	c=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.10 "http://127.0.0.1:$(port 2)/status")
	[ "$c" = 503 ] && { full=1; break; }
	sleep 0.1
done
[ -n "$full" ] || fail "the flood does not fill node 2's clients' budget"
# node 3's keep-alive connections to node 2 are closed by now (3 s idle)
sleep 4
node_kill 1
ok=
for _ in $(seq 300); do
	if [ "$(status_field "$(port 3)" role)" = leader ]; then
		[ "$(put "$(port 3)" during-flood 1)" = 200 ] && { ok=1; break; }
	fi
	sleep 0.1
done
[ -n "$ok" ] || fail "node 3 did not become leader and commit through the flooded node 2"
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
echo "ok"
