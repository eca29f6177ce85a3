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
. "$(dirname "$0")/lib.sh"
if [ -z "${GORAFT_RAFTD:-}" ]; then
	echo "skipped: set GORAFT_RAFTD=/path/to/goraft-raftd (goraft/raftd built by hand) to run the mixed clusters"
	exit 77
fi
[ -x "$GORAFT_RAFTD" ] || fail "GORAFT_RAFTD=$GORAFT_RAFTD is not an executable"

ALIVE=""
CURL="curl -s -m 3"

has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
drop() { r=""; for x in $1; do [ "$x" = "$2" ] || r="$r $x"; done; echo "$r"; }
kind() { eval echo "\$KIND_$1"; }
name() { echo "$(kind "$1")$1"; }

# launch N r|g [M]: start node N of that kind, joining through node M if
# given; raftd nodes get $ROPTS too. serving N: wait until it serves. A
# goraft node serves HTTP only once its join (or self-join) is committed
# (docs/goraft-protocol.md §7.2): readiness is a GET /db that answers.
# start = both.
ROPTS=""
launch() {
	n=$1 k=$2 join=""
	[ -n "${3:-}" ] && join="-join 127.0.0.1:$(port "$3")"
	mkdir -p "$D/n$n"
	[ -f "$D/n$n/name" ] || printf '%s%s' "$k" "$n" > "$D/n$n/name"
	eval "KIND_$n=$k"
	if [ "$k" = r ]; then
		# shellcheck disable=SC2086
		"$RAFTD" -h 127.0.0.1 -p "$(port "$n")" $ROPTS $join "$D/n$n" >>"$D-n$n.log" 2>&1 &
	else
		# shellcheck disable=SC2086
		"$GORAFT_RAFTD" -h 127.0.0.1 -p "$(port "$n")" $join "$D/n$n" >>"$D-n$n.log" 2>&1 &
	fi
	eval "PID_$n=$!"
	PIDS="$PIDS $!"
}

serving() {
	for _ in $(seq 200); do
		if [ "$($CURL -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port "$1")/db/-")" = 200 ]; then
			ALIVE="$ALIVE $1"
			return 0
		fi
		kill -0 "$(eval echo \$PID_"$1")" 2>/dev/null || fail "$(name "$1") exited at start"
		sleep 0.05
	done
	fail "$(name "$1") does not serve"
}

start() {
	launch "$@"
	serving "$1"
}

kill_node() {
	node_kill "$1"
	ALIVE=$(drop "$ALIVE" "$1")
}

# write KEY VALUE: through whichever live node is the leader (the others
# refuse); sets LEADER to it. Retries while there is none (10 s).
write() {
	for _ in $(seq 100); do
		for n in $ALIVE; do
			code=$($CURL -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$(port "$n")/db/$1" --data-binary "$2")
			[ "$code" = 200 ] && { LEADER=$n; return 0; }
		done
		sleep 0.1
	done
	fail "no leader took the write $1=$2 (live:$ALIVE)"
}

# everyone KEY VALUE: every live node has applied it (10 s each)
everyone() {
	for n in $ALIVE; do
		for _ in $(seq 200); do
			[ "$($CURL "http://127.0.0.1:$(port "$n")/db/$1")" = "$2" ] && continue 2
			sleep 0.05
		done
		fail "$(name "$n") does not have $1=$2"
	done
}

# bulk PREFIX N: N writes PREFIX1..PREFIXN through the leader, 32 at a time
bulk() {
	: > "$T/bulk.cfg"
	for i in $(seq "$2"); do
		[ "$i" = 1 ] || echo next >> "$T/bulk.cfg"
		printf 'url = "http://127.0.0.1:%s/db/%s%s"\ndata = "v%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
			"$(port "$LEADER")" "$1" "$i" "$i" >> "$T/bulk.cfg"
	done
	ok=$(curl -s -m 120 -Z --parallel-max 32 -K "$T/bulk.cfg" 2>/dev/null | grep -c '^200$')
	[ "$ok" = "$2" ] || fail "$ok of $2 writes through $(name "$LEADER") succeeded"
}

rstatus() { # rstatus N FIELD: a field of raftd node N's /status
	$CURL "http://127.0.0.1:$(port "$1")/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])" 2>/dev/null
}

# lead_next KIND: make the next leader a node of KIND (r or g). The nodes of
# the other kind are killed, the leader commits one more write with those of
# KIND, then it is killed too and the others restart with a log too short to
# win (Raft §5.4.1; goraft's rule, docs/goraft-protocol.md §6.5 and §11.2,
# is stricter). Killed, not stopped: a stopped node would still read the
# leader's last request from its socket when it continues.
lead_next() {
	want=$1 OLD=$LEADER others=""
	for n in $ALIVE; do
		[ "$n" != "$OLD" ] && [ "$(kind "$n")" != "$want" ] && { kill_node "$n"; others="$others $n"; }
	done
	code=$($CURL -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$(port "$OLD")/db/handover$OLD" -d "$want")
	[ "$code" = 200 ] || fail "$(name "$OLD") commits with only the $want nodes (HTTP $code)"
	kill_node "$OLD"
	for n in $others; do start "$n" "$(kind "$n")"; done
	write "after$OLD" 1
	[ "$(kind "$LEADER")" = "$want" ] || fail "$(name "$LEADER") leads, wanted a $want node"
	echo "ok: $(name "$OLD") killed, $(name "$LEADER") leads (restarted meanwhile:$others)"
}

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
