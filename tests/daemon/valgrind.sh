#!/bin/sh
# raftd under valgrind (memcheck). Part 1: a single-node cluster takes
# writes of many sizes, local and consistent reads, deletes and bad
# requests, stops on SIGTERM, then starts again from its WAL and stops
# again. Part 2: three nodes, every one under valgrind, so the peer path
# runs (joins, AppendEntries and their answers through net/peer.c, a
# leader stopped and a new one elected, the old one catching up). Each run
# must exit 0 with no memcheck error and no definite or indirect leak.
# Skipped for a sanitizer build (valgrind cannot run one); scripts/test-all
# runs it in distcheck's build, configured --enable-valgrind. Part 2 needs
# that build: memcheck does not see what io_uring writes into a peer's
# receive buffers, and only a --enable-valgrind build tells it
# (uring_filled() in base/uring_op.h); elsewhere part 2 is skipped, as its
# reports would be about bytes the kernel did write.
# Timeouts are raised for part 2 (valgrind slows a node 20-50x); the 200 ms
# to an RPC's response is goraft's and stays, so a late answer is dropped
# and retried as on a slow network.
RAFTD_REAL=${RAFTD:-${top_builddir:-.}/src/raftd/raftd}
# RAFTD_VALGRIND=1|0 says whether RAFTD_REAL is a --enable-valgrind build;
# by default config.h beside it says.
if [ -z "${RAFTD_VALGRIND:-}" ]; then
	RAFTD_VALGRIND=0
	grep -q '^#define RAFTD_VALGRIND 1' "$(dirname "$RAFTD_REAL")/../config.h" 2>/dev/null && RAFTD_VALGRIND=1
fi
command -v valgrind >/dev/null || { echo "SKIP: no valgrind"; exit 77; }
if ldd "$RAFTD_REAL" 2>/dev/null | grep -q -E 'libasan|libubsan'; then
	echo "SKIP: $RAFTD_REAL is a sanitizer build"
	exit 77
fi
. "$(dirname "$0")/../cluster/lib.sh"
P=$(port 1)
U="http://127.0.0.1:$P"

# start_vg RUN: node 1 under valgrind; it gets a minute to answer
start_vg() {
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=3 \
		--log-file="$T/valgrind-$1.log" "$RAFTD_REAL" -p "$P" --grpc-listen none --snapshot-threshold 0 \
		--segment-size 1M "$T/n1" >>"$T/n1.log" 2>&1 &
	PID_1=$!
	PIDS="$PIDS $PID_1"
	for _ in $(seq 600); do
		[ "$(status_field "$P" role 2>/dev/null)" = leader ] && return 0
		kill -0 "$PID_1" 2>/dev/null || fail "node 1 exited at start ($1)"
		sleep 0.1
	done
	fail "node 1 under valgrind does not lead ($1)"
}

# vg_stop N RUN: SIGTERM; exit 0 and an empty valgrind log
vg_stop() {
	_pid=$(eval echo \$VG_"$1")
	kill -TERM "$_pid"
	wait "$_pid"
	_rc=$?
	if [ -s "$T/valgrind-$2.log" ]; then
		cat "$T/valgrind-$2.log" >&2
		fail "valgrind reported errors or leaks ($2)"
	fi
	[ "$_rc" = 0 ] || fail "node $1 under valgrind exited with $_rc ($2)"
}

# stop_vg RUN: vg_stop for the single node of the first part
stop_vg() {
	VG_1=$PID_1
	vg_stop 1 "$1"
}

start_vg first
head -c 300000 /dev/zero | tr '\0' x >"$T/big"
for i in $(seq 1 40); do
	[ "$(put "$P" "k$i" "v$i")" = 200 ] || fail "write k$i"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$U/db/big" --data-binary @"$T/big")" = 200 ] ||
	fail "write of 300 KB"
[ "$(get "$P" k7)" = v7 ] || fail "read k7"
[ "$(curl -s "$U/db/k9?consistent=true")" = v9 ] || fail "consistent read"
[ "$(curl -s -o /dev/null -w '%{http_code}' -XDELETE "$U/db/k3")" = 200 ] || fail "delete k3"
# bad requests answer 4xx and leave the node serving
[ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$U/join" --data-binary '{"name":')" = 400 ] ||
	fail "malformed join"
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$U/raft/appendEntries" --data-binary 'garbage')
case $code in 4??) ;; *) fail "garbage appendEntries: HTTP $code" ;; esac
curl -s -o /dev/null "$U/metrics" || fail "metrics"
curl -s -o /dev/null "$U/status" || fail "status"
stop_vg first

start_vg restart
[ "$(get "$P" k40)" = v40 ] || fail "k40 after the restart"
[ "$(get "$P" big | wc -c)" = 300000 ] || fail "the 300 KB value after the restart"
[ "$(put "$P" after restart)" = 200 ] || fail "write after the restart"
stop_vg restart
echo "valgrind: two runs, 43 writes, reads, a delete, bad requests, a restart from the WAL: clean"

# --- part 2: three nodes --------------------------------------------------
if [ "$RAFTD_VALGRIND" != 1 ]; then
	echo "valgrind: three-node part skipped: $RAFTD_REAL is not a --enable-valgrind build"
	exit 0
fi
VG_OPTS="--election-timeout-ms 3000 --heartbeat-ms 300 --snapshot-threshold 0 --segment-size 1M"

# vg_start N RUN [ARGS...]: node N under valgrind; it gets a minute to answer
vg_start() {
	_n=$1 _run=$2
	shift 2
	# shellcheck disable=SC2086
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=3 \
		--log-file="$T/valgrind-$_run.log" "$RAFTD_REAL" -p "$(port "$_n")" -h 127.0.0.1 \
		--listen 127.0.0.1 $VG_OPTS "$@" "$T/c$_n" >>"$T/c$_n.log" 2>&1 &
	eval "VG_$_n=$!"
	PIDS="$PIDS $!"
	for _ in $(seq 600); do
		curl -s -m 2 -o /dev/null "http://127.0.0.1:$(port "$_n")/status" && return 0
		kill -0 "$(eval echo \$VG_"$_n")" 2>/dev/null || fail "node $_n exited at start ($_run)"
		sleep 0.1
	done
	fail "node $_n under valgrind does not answer ($_run)"
}


# vg_leader: the node number (1-3) of a leader among UP, waiting 2 minutes
vg_leader() {
	for _ in $(seq 600); do
		for _n in $UP; do
			[ "$(status_field "$(port "$_n")" role)" = leader ] && { echo "$_n"; return 0; }
		done
		sleep 0.2
	done
	return 1
}

# vg_put N KEY VALUE: through node N, retried for a minute (an RPC answered
# too late under valgrind is retried by the leader, the write then commits)
vg_put() {
	for _ in $(seq 60); do
		[ "$(curl -s -m 30 -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$(port "$1")/db/$2" \
			--data-binary "$3")" = 200 ] && return 0
		sleep 1
	done
	return 1
}

# vg_wait_value N KEY VALUE: node N has applied it (2 minutes)
vg_wait_value() {
	for _ in $(seq 600); do
		[ "$(curl -s -m 5 "http://127.0.0.1:$(port "$1")/db/$2")" = "$3" ] && return 0
		sleep 0.2
	done
	return 1
}

vg_start 1 c1
UP=1
[ "$(vg_leader)" = 1 ] || fail "node 1 of three does not lead"
vg_start 2 c2 -join "127.0.0.1:$(port 1)"
vg_start 3 c3 -join "127.0.0.1:$(port 1)"
UP="1 2 3"
for i in $(seq 1 10); do vg_put 1 "c$i" "v$i" || fail "write c$i"; done
vg_put 1 cbig @"$T/big" || fail "write of 300 KB to three nodes"
vg_put 1 c11 v11 || fail "write c11"
for n in 2 3; do
	vg_wait_value "$n" c11 v11 || fail "node $n has not applied c11"
	[ "$(curl -s "http://127.0.0.1:$(port "$n")/db/cbig" | wc -c)" = 300000 ] || fail "node $n: the 300 KB value"
done
# a leader change: the leader stops cleanly, the other two elect one
vg_stop 1 c1
UP="2 3"
l=$(vg_leader) || fail "no new leader after node 1 stopped"
for i in $(seq 12 15); do vg_put "$l" "c$i" "v$i" || fail "write c$i through node $l"; done
# the old leader comes back as a follower and catches up through AppendEntries
vg_start 1 c1-again
UP="1 2 3"
vg_wait_value 1 c15 v15 || fail "node 1 has not caught up after its restart"
for n in 1 2 3; do [ "$n" = "$l" ] || vg_stop "$n" "c$n-end"; done
vg_stop "$l" "c$l-leader-end"
echo "valgrind: three nodes, joins, 16 writes, a leader change, a catch-up, clean stops: clean"
