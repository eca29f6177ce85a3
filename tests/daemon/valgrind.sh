#!/bin/sh
# raftd under valgrind (memcheck): a single-node cluster takes writes of
# many sizes, local and consistent reads, deletes and bad requests, stops on
# SIGTERM, then starts again from its WAL and stops again. Each run must
# exit 0 with no memcheck error and no definite or indirect leak.
# Skipped for a sanitizer build (valgrind cannot run one); scripts/test-all
# runs it in distcheck's plain build. One node only: valgrind slows a node
# 20-50x, too slow for its peers' timeouts, and it does not know
# pidfd_open (snapshots) nor what io_uring writes into a peer's buffers.
RAFTD_REAL=${RAFTD:-${top_builddir:-.}/src/raftd}
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
		--log-file="$T/valgrind-$1.log" "$RAFTD_REAL" -p "$P" --snapshot-threshold 0 \
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

# stop_vg RUN: SIGTERM; exit 0 and an empty valgrind log
stop_vg() {
	kill -TERM "$PID_1"
	wait "$PID_1"
	rc=$?
	if [ -s "$T/valgrind-$1.log" ]; then
		cat "$T/valgrind-$1.log" >&2
		fail "valgrind reported errors or leaks ($1)"
	fi
	[ "$rc" = 0 ] || fail "node 1 under valgrind exited with $rc ($1)"
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
