#!/bin/sh
# A v3 write lost to a new leader (as lost-write.sh for /db): its raftd:v3
# entry, appended by a leader that could not replicate it, is replaced by
# another leader's. The client gets etcd's UNAVAILABLE "etcdserver: request
# timed out, possibly due to previous leader failure" once the old leader
# applies the new leader's entry at that index, and the write is not applied
# anywhere.
#
# The leader L is left alone (its followers killed), takes the put, and is
# paused (SIGSTOP) before check-quorum makes it step down and before the
# followers come back: they elect a leader without L's entry and commit over
# its index. L, continued, truncates, and applies the new leader's entries.
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (etcd-client) not installed"; exit 77; }
export ETCDCTL_API=3
GRPC=1

start_three --election-timeout-ms 1000
# the put to strand, sent to the leader (node LN; see strand_write in lib.sh)
send_lost() {
	etcdctl --endpoints="127.0.0.1:$(grpc_port "$LN")" --command-timeout=30s put "lost$1" x >"$T/lost.out" 2>&1
}
attempt() {
	WRITE_OVER=over$1
	strand_write send_lost "$1"
	wait "$cpid" && fail "the lost put succeeded: $(cat "$T/lost.out")"
	# 10 s without a verdict: "request timed out" (its fate unknown)
	grep -q "possibly due to previous leader failure" "$T/lost.out" || {
		grep -q "request timed out" "$T/lost.out" && return 1
		fail "lost put: $(cat "$T/lost.out")"
	}
	wait_value "$(port "$LN")" over$1 1 || fail "the old leader follows the new one"
	for n in 1 2 3; do [ "$(get "$(port "$n")" lost$1)" = "" ] || fail "the lost put was applied on node $n"; done
	return 0
}
for i in 1 2 3; do
	attempt "$i" && { echo "ok: a v3 put lost to a new leader: etcd's previous leader failure"; exit 0; }
	echo "# attempt $i: the put timed out before the new leader reached the old one: again" >&2
done
fail "the lost put timed out in each of 3 attempts"
