#!/bin/sh
# Joins that can never be acknowledged do not end the cluster (issue 16,
# item 5). Three POST /join for names at closed ports used to turn 3 voters
# into 6 (quorum 4): nothing committed again and /leave answered 503.
#  1. goraft-style joins (voters at once) are taken only while the members
#     that answer the leader form a majority with the newcomer, which counts
#     as one (a goraft joiner answers nothing before its /join is answered,
#     issue 17) while they are a majority without it: all three are taken
#     and answered, the third, which the cluster cannot commit without, is
#     taken back by the leader when it has not answered within 10 s, writes
#     go on, and `raftctl members remove` takes the two others out;
#  2. a join that cannot commit (a voter stopped just after it was taken)
#     is undone by `raftctl members remove` while it is pending;
#  3. a raftd joiner joins as a learner and becomes a voter once it has
#     caught up.
. "$(dirname "$0")/lib.sh"
RAFTCTL=${RAFTCTL:-${top_builddir:-.}/src/raftctl/raftctl}
# a longer election timeout: part 2 stops a voter and joins within it
opts="--election-timeout-ms 1000"

start_three $opts
export RAFTCTL_ENDPOINTS="http://127.0.0.1:$(port 1),http://127.0.0.1:$(port 2),http://127.0.0.1:$(port 3)"
LEADER=$(wait_leader) || fail "no leader"

# join NAME PORT: a goraft-style POST /join of NAME at 127.0.0.1:PORT,
# where nothing listens; HTTP status in $T/join-NAME.code, body in .out
join() {
	curl -s -m 15 -o "$T/join-$1.out" -w '%{http_code}' -XPOST "http://127.0.0.1:$LEADER/join" \
		-d "{\"name\":\"$1\",\"connectionString\":\"http://127.0.0.1:$2\"}" > "$T/join-$1.code"
}

# ---- 1: three joins at closed ports, at once -------------------------------
join dead1 "$(port 7)" & j1=$!
join dead2 "$(port 8)" & j2=$!
join dead3 "$(port 9)" & j3=$!
wait $j1 $j2 $j3
codes=$(for f in "$T"/join-dead*.code; do cat "$f"; echo; done | sort | tr '\n' ' ')
[ "$codes" = "200 200 200 " ] || fail "joins answered $codes (expected three 200)"
echo "ok: three joins at closed ports taken and answered"
# the third (6 voters, 3 that answer) is taken back within its 10 s grace
for _ in $(seq 300); do
	[ "$("$RAFTCTL" members list 2>/dev/null | grep -c dead)" = 2 ] && break
	sleep 0.1
done
[ "$("$RAFTCTL" members list | grep -c dead)" = 2 ] || fail "members: $("$RAFTCTL" members list)"
refused=""
for name in dead1 dead2 dead3; do
	"$RAFTCTL" members list | grep -q "$name" || refused=$name
done
echo "ok: the leader took the join of $refused back"
put_leader after-joins 1 || fail "a write after the joins"
wait_value "$(port 3)" after-joins 1 || fail "node 3 has the write after the joins"
echo "ok: writes still commit with two unreachable voters"
for name in dead1 dead2 dead3; do
	[ "$name" = "$refused" ] && continue
	"$RAFTCTL" --timeout 10s members remove "$name" > "$T/rm.out" 2>&1 ||
		fail "raftctl members remove $name: $(cat "$T/rm.out")"
done
[ "$("$RAFTCTL" members list | grep -c dead)" = 0 ] || fail "dead members left: $("$RAFTCTL" members list)"
put_leader after-remove 1 || fail "a write after the removals"
echo "ok: raftctl members remove took both out"

# ---- 2: a pending join undone ----------------------------------------------
# Node 3 is stopped and the join sent at once: the join is taken (node 3
# answered the leader within the election timeout, or the two others are a
# majority without it and the goraft joiner counts as one) and answered
# once the two hold it, and then cannot commit (node 3 and the joiner are 2
# of 4). Tried again when it was refused.
LEADER=$(wait_leader) || fail "no leader"
stopped=""
for n in 1 2 3; do [ "$(port "$n")" = "$LEADER" ] || stopped=$n; done
pending=no
for attempt in $(seq 10); do
	kill -STOP "$(eval echo \$PID_"$stopped")"
	join dead4 "$(port 9)" & jp=$!
	for _ in $(seq 40); do
		"$RAFTCTL" members list 2>/dev/null | grep -q dead4 && { pending=yes; break; }
		[ -s "$T/join-dead4.code" ] && break
		sleep 0.05
	done
	# answered 200 before members list showed it (a loaded machine): taken
	[ "$(cat "$T/join-dead4.code" 2>/dev/null)" = 200 ] && pending=yes
	[ $pending = yes ] && break
	wait $jp
	grep -q "could not commit without the new voter" "$T/join-dead4.out" ||
		fail "join dead4 with node $stopped stopped: $(cat "$T/join-dead4.code") $(cat "$T/join-dead4.out")"
	kill -CONT "$(eval echo \$PID_"$stopped")"
	sleep 1.5 # node 3 answers the leader again
	rm -f "$T/join-dead4.code"
done
[ $pending = yes ] || fail "no join taken within the election timeout in 10 attempts"
"$RAFTCTL" --timeout 10s members remove dead4 > "$T/rm.out" 2>&1 ||
	fail "raftctl members remove of the pending joiner: $(cat "$T/rm.out")"
echo "ok: the pending join undone with node $stopped stopped: $(cat "$T/rm.out")"
put_leader after-revert 1 || fail "a write after the revert"
kill -CONT "$(eval echo \$PID_"$stopped")"
wait $jp
wait_value "$(port "$stopped")" after-revert 1 || fail "node $stopped catches up"
echo "ok: writes commit again; node $stopped resumed and caught up"

# ---- 3: a raftd joiner: a learner, then a voter ----------------------------
LEADER=$(wait_leader) || fail "no leader"
put_range 1 200
node_start 4 $opts -join "127.0.0.1:$LEADER"
name4=$(cat "$T/n4/name")
voter=""
for _ in $(seq 200); do
	voter=$(curl -s -m 2 "http://127.0.0.1:$LEADER/status" | python3 -c "
import json, sys
for m in json.load(sys.stdin)['members']:
    if m['name'] == '$name4': print(m['voter'])" 2>/dev/null)
	[ "$voter" = True ] && break
	sleep 0.05
done
[ "$voter" = True ] || fail "node 4 ($name4) is a voter (voter: '$voter')"
grep -q "member $name4 .* joined as a learner" "$T/n1.log" || fail "node 4 joined as a learner first"
grep -q "member $name4 .* joined at index" "$T/n1.log" || fail "node 4 promoted by a raft:join"
put_leader after-promote 1 || fail "a write after the promotion"
wait_value "$(port 4)" after-promote 1 || fail "node 4 has the write"
wait_value "$(port 4)" k200 v200 || fail "node 4 has the earlier writes"
echo "ok: the raftd joiner $name4 joined as a learner and became a voter once caught up"
