#!/bin/sh
# Mixed clusters of raftd and goraft's reference raftd (github.com/goraft/raftd),
# real processes on 127.0.0.1. Runs only with GORAFT_RAFTD=/path/to/its/binary
# (built by hand from its public repository; nothing of it is in this tree).
#
# Mix 1: a goraft node founds the cluster, a raftd node and a goraft node
#   join it; leadership goes goraft -> raftd -> goraft; restarted nodes of
#   both kinds catch up; a second raftd node joins through a goraft leader.
# Mix 2: a raftd node founds, goraft and raftd nodes join (five members, a
#   raftd snapshot threshold far below the log length); leadership goes
#   raftd -> goraft -> raftd; a goraft node joins late and gets the whole
#   log; DELETE is refused while goraft nodes are members.
# Mix 3: a goraft node removed while it keeps running.
# Mix 4: keys as bytes (a NUL byte, long keys, UTF-8 only) both ways.
#
# Node n is "rn" (raftd) or "gn" (goraft); port BASE+n. The next leader's kind
# is chosen without touching either implementation: the nodes of the other
# kind are stopped (SIGSTOP) while the leader commits one more write with the
# chosen kind, then the leader is killed and they continue with a log too
# short to win (Raft §5.4.1, goraft's stricter rule §5.5).
. "$(dirname "$0")/goraft-lib.sh"

# ---- mix 1: goraft founds --------------------------------------------------------------
D=$T/mix1
start 1 g
start 2 r 1
start 3 g 1
write a 1
[ "$LEADER" = 1 ] || fail "the founder g1 leads"
everyone a 1
[ "$(rstatus 2 leader)" = g1 ] || fail "r2 follows g1"
# Values go through Go's JSON encoder on one side and raftd's on the other:
# escapes (<>&, quotes, controls, U+2028) and UTF-8 must come back the same.
printf 'q"<a&b>\\\t\001\342\200\250caf\303\251 \360\237\230\200' > "$T/odd"
odd=$(cat "$T/odd")
write odd "$odd"
everyone odd "$odd"
echo "ok: raftd joined a goraft cluster; a write through the goraft leader is on all three"

lead_next r
everyone after1 1
everyone a 1
write odd2 "$odd"
everyone odd2 "$odd"
echo "ok: writes through the raftd leader (escapes and UTF-8 too) are on every node"

# Down long enough for the leader's client to back off as far as it goes:
# back in, g1 must hear from r2 before its election timeout (150-300 ms;
# goraft has no pre-vote), or it campaigns and deposes r2.
sleep 4
term=$(rstatus 2 term)
start 1 g
everyone after1 1
write b 2
everyone b 2
[ "$(rstatus 2 term)" = "$term" ] && [ "$(rstatus 2 role)" = leader ] ||
	fail "the returning goraft node disrupted r2 (term $term -> $(rstatus 2 term), $(rstatus 2 role))"
echo "ok: g1 restarted and caught up from the raftd leader (term $term kept)"

lead_next g
start 2 r
everyone "after2" 1
everyone b 2
echo "ok: r2 restarted and caught up from the goraft leader $(name "$LEADER")"

# more than goraft's 2000 entries per request: a new member gets them all in one
bulk b 2500
start 4 r "$LEADER"
write c 3
everyone c 3
everyone a 1
everyone b2500 v2500
echo "ok: after 2500 more writes, r4 joined through the goraft leader $(name "$LEADER") and got the whole log"

for n in $ALIVE; do kill_node "$n"; done

# ---- mix 2: raftd founds ---------------------------------------------------------------
# Four joiners at once: the leader takes one membership change at a time,
# and a goraft joiner ignores the answer to its /join
# (docs/goraft-protocol.md §7.3), so the leader must hold joins back until it
# can take them, not refuse them.
D=$T/mix2
ROPTS="--snapshot-threshold 20"
start 1 r
for n in 2 3 4 5; do launch $n "$(echo "x g r g g" | cut -d' ' -f$n)" 1; done
for n in 2 3 4 5; do serving $n; done
write d 4
[ "$LEADER" = 1 ] || fail "the founder r1 leads"
everyone d 4
echo "ok: two goraft nodes and a raftd node joined a raftd cluster at once; five members agree"

for _ in $(seq 50); do # 503 until the leader has probed the new members' kind
	code=$($CURL -o "$T/out" -w '%{http_code}' -XDELETE "http://127.0.0.1:$(port 1)/db/d")
	[ "$code" = 503 ] || break
	sleep 0.1
done
[ "$code" = 409 ] && grep -q "goraft node is a member" "$T/out" || fail "DELETE with goraft members: HTTP $code $(cat "$T/out")"
echo "ok: DELETE refused while goraft nodes are members ($code: $(cat "$T/out"))"

i=0
while [ $i -lt 60 ]; do
	i=$((i + 1))
	write "k$i" "v$i"
done
everyone k60 v60
for n in 1 3; do
	[ "$(rstatus $n snapshot_index)" = 0 ] || fail "r$n took a snapshot with goraft members"
done
echo "ok: 60 writes past a snapshot threshold of 20: no snapshot while goraft nodes are members"

lead_next g
everyone after1 1
start 1 r
everyone k60 v60
echo "ok: r1 restarted and caught up from the goraft leader $(name "$LEADER")"
lead_next r
everyone "after$OLD" 1
everyone k1 v1
echo "ok: leadership went raftd -> goraft -> raftd"
start "$OLD" g
everyone "after$OLD" 1
echo "ok: $(name "$OLD") restarted and caught up from the raftd leader $(name "$LEADER")"

bulk m 2500
start 6 g "$LEADER"
everyone m2500 v2500
everyone k1 v1
everyone d 4
write e 5
everyone e 5
echo "ok: after 2500 more writes, g6 joined late through the raftd leader $(name "$LEADER") and got the whole log (live:$ALIVE)"
for n in $ALIVE; do
	[ "$(kind "$n")" = g ] || [ "$(rstatus "$n" snapshot_index)" = 0 ] ||
		fail "r$n took a snapshot with goraft members"
done
echo "ok: still no snapshot on the raftd nodes ($(rstatus "$LEADER" commit_index) entries, threshold 20)"
for n in $ALIVE; do kill_node "$n"; done

# ---- mix 3: a goraft node removed while it keeps running ------------------------------------
# goraft does not stop a removed node (docs/goraft-protocol.md §7.4): it
# times out and campaigns. The raftd members must not vote for it, nor follow
# its terms.
D=$T/mix3
ROPTS=""
start 1 r
start 2 r 1
start 3 g 1
write f 6
[ "$LEADER" = 1 ] || fail "the founder r1 leads"
everyone f 6
term=$(rstatus 1 term)
code=$($CURL -o "$T/out" -w '%{http_code}' -XPOST "http://127.0.0.1:$(port 1)/leave" -d '{"name":"g3"}')
[ "$code" = 200 ] || fail "leave of g3: HTTP $code $(cat "$T/out")"
kill -0 "$PID_3" || fail "g3 stopped"
ALIVE=$(drop "$ALIVE" 3)
sleep 2
[ "$(rstatus 1 role)" = leader ] && [ "$(rstatus 1 term)" = "$term" ] && [ "$(rstatus 2 leader)" = r1 ] ||
	fail "the removed g3 disrupted the cluster: r1 $(rstatus 1 role) term $(rstatus 1 term), r2 follows '$(rstatus 2 leader)'"
write g 7
[ "$LEADER" = 1 ] || fail "r1 still leads"
everyone g 7
echo "ok: g3 removed but running: r1 still leads at term $term, r2 follows it"

# A stall of the whole machine: both raftd members stopped together for
# several election timeouts. r1 must not take its own stall for r2's
# silence (check-quorum), nor a leader follow g3's terms.
kill -STOP "$PID_1" "$PID_2"
sleep 1
kill -CONT "$PID_1" "$PID_2"
write h 8
[ "$LEADER" = 1 ] && [ "$(rstatus 1 term)" = "$term" ] ||
	fail "after a stall of r1 and r2: $(name "$LEADER") leads, r1 $(rstatus 1 role) term $(rstatus 1 term)"
everyone h 8
echo "ok: r1 and r2 stalled together for a second: r1 still leads at term $term"

# ---- mix 4: keys as bytes (issue 17 items 1 and 5) -------------------------------------------
# A key is the path segment decoded, byte for byte: a NUL byte is part of
# it (a key cut at the NUL overwrote another key). Keys that are not UTF-8
# are refused: goraft's JSON log would turn their bytes into U+FFFD, and
# two keys would become one. A node serves every key it holds: a long key
# a goraft leader took is read back from the raftd nodes. Both directions:
# g7 leads first, then a raftd node (nodes 7-9: ports no mix before used).
for n in $ALIVE; do kill_node "$n"; done
kill_node 3 # mix 3's removed g3
D=$T/mix4
start 7 g
start 8 r 7
start 9 r 7
write a 1
[ "$LEADER" = 7 ] || fail "the founder g7 leads"
write x plain
write 'x%00y' nul
write '%00' zero
everyone 'x%00y' nul
everyone '%00' zero
everyone x plain
echo "ok: keys with a NUL byte written through the goraft leader are read back exactly from the raftd nodes"
long=$(head -c 2000 /dev/zero | tr '\0' L)
write "$long" long2000
everyone "$long" long2000
echo "ok: a 2,000-byte key written through the goraft leader is served by the raftd nodes"
code=$($CURL -o "$T/out" -w '%{http_code}' -XPOST "http://127.0.0.1:$(port 8)/db/%ff" -d ff)
[ "$code" = 400 ] && grep -q "not valid UTF-8" "$T/out" || fail "a key that is not UTF-8: HTTP $code $(cat "$T/out")"
lead_next r
start 7 g
write 'r%00s' nul2
write 'x%00y' nul3
everyone 'r%00s' nul2
everyone 'x%00y' nul3
everyone x plain
long=$(head -c 100000 /dev/zero | tr '\0' M)
write "$long" long100k
everyone "$long" long100k
code=$($CURL -o "$T/out" -w '%{http_code}' -XPOST "http://127.0.0.1:$(port "$LEADER")/db/%fe" -d fe)
[ "$code" = 400 ] && grep -q "not valid UTF-8" "$T/out" || fail "a key that is not UTF-8: HTTP $code $(cat "$T/out")"
echo "ok: keys with a NUL byte and a 100,000-byte key written through the raftd leader are read back from the goraft node; %fe refused (400)"
for n in $ALIVE; do kill_node "$n"; done
