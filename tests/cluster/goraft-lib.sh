# tests/cluster/goraft-lib.sh — mixed clusters of raftd and goraft's reference
# raftd (github.com/goraft/raftd), sourced by goraft*.sh. Skips the test
# (exit 77) unless GORAFT_RAFTD names that binary, built by hand from its
# public repository; nothing of it is in this tree.
#
# Node n is "rn" (raftd) or "gn" (goraft); port BASE+n.
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
		"$RAFTD" $NOGRPC -h 127.0.0.1 -p "$(port "$n")" $ROPTS $join "$D/n$n" >>"$D-n$n.log" 2>&1 &
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

