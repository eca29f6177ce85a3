# tests/raftctl/v3-halves.sh — sourced by tests/raftctl/v3-watch-lease.sh and
# v3-lock-elect.sh: the same checks run against one etcd 3.4 (the reference:
# what raftctl does there is what etcd's API means) and against a 3-node
# raftd cluster (--grpc-listen), one after the other on this test's ports
# (tests/cluster/lib.sh). Skips (77) when etcd and etcdctl are not installed.
#
#   halves FUNC   FUNC against etcd, then against raftd; G is the gRPC
#                 endpoint list of the half, KIND etcd or raftd
#   rc ARGS...    raftctl --grpc $G ARGS (a process of its own in the
#                 background: "$RAFTCTL" --grpc "$G" ARGS &, so that $! is
#                 raftctl's pid)
#   ectl ARGS...  etcdctl --endpoints $G ARGS
#   have FILE RE  until FILE has a line matching RE (30 s)
#   lines FILE N  FILE has N lines or more
#   bg            after CMD &: CMD is killed when the test ends
#
# RAFTCTL_V3_KINDS=etcd runs one half while developing; as committed, the
# test runs both, and a raftd without a service fails.
. "$(dirname "$0")/../cluster/lib.sh"
# shellcheck disable=SC2034 # lib.sh's node_start reads it
GRPC=1
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	echo "SKIP: etcd and etcdctl are not installed (apt-get install etcd-server etcd-client)"
	exit 77
fi
export ETCDCTL_API=3
unset ETCDCTL_ENDPOINTS RAFTCTL_GRPC RAFTCTL_ENDPOINTS
G=""
KIND=""

rc() { "$RAFTCTL" --grpc "$G" --timeout 10s "$@"; }
ectl() { etcdctl --endpoints="$G" --command-timeout=30s --dial-timeout=10s "$@"; }
have() { until_ok 30 grep -q -- "$2" "$1" 2>/dev/null || fail "$KIND: $1 has no line '$2': $(cat "$1")"; }
# lines FILE N: FILE has N lines or more (for until_ok: counted each try)
lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }
# bg: the background process just started is killed when the test ends
# (a watch would try to reconnect for a minute)
bg() { PIDS="$PIDS $!"; }

ports_free() {
	! ss -Hltn "( sport >= :$(port 1) and sport <= :$(port 9) )" 2>/dev/null | grep -q .
}

etcd_up() {
	etcd --name e1 --data-dir "$T/etcd" \
		--listen-peer-urls "http://127.0.0.1:$(port 1)" \
		--initial-advertise-peer-urls "http://127.0.0.1:$(port 1)" \
		--listen-client-urls "http://127.0.0.1:$(grpc_port 1)" \
		--advertise-client-urls "http://127.0.0.1:$(grpc_port 1)" \
		--initial-cluster "e1=http://127.0.0.1:$(port 1)" >>"$T/etcd.log" 2>&1 &
	EPID=$!
	PIDS="$PIDS $EPID"
	G=127.0.0.1:$(grpc_port 1)
	until_ok 60 ectl endpoint health >/dev/null 2>&1 || fail "etcd does not come up"
}

etcd_down() {
	kill "$EPID" 2>/dev/null
	wait "$EPID" 2>/dev/null
	until_ok 60 ports_free || fail "etcd's ports are still taken"
}

raftd_up() {
	start_three
	G=127.0.0.1:$(grpc_port 1),127.0.0.1:$(grpc_port 2),127.0.0.1:$(grpc_port 3)
}

raftd_down() {
	for _n in 1 2 3; do node_kill "$_n" TERM; done
}

halves() {
	for KIND in ${RAFTCTL_V3_KINDS:-etcd raftd}; do
		"${KIND}_up"
		"$1"
		echo "ok: $1 against $KIND"
		"${KIND}_down"
	done
}
