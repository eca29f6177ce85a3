# tests/v3/lib.sh — a 3-node etcd 3.4 or raftd cluster for the tests that
# drive etcd's own clients (tests/v3/*.sh). Sources tests/cluster/lib.sh
# (ports, node_start, until_ok, fail, cleanup). Skips (77) when etcd and
# etcdctl are not installed.
#
# Both kinds take the same ports of the test's block, one after the other:
# members' peer URLs at BASE+1..3 (raftd's HTTP port is its peer port),
# clients' at BASE+6..8 (cport N; tests/cluster/lib.sh's grpc_port N, where
# it has one), BASE+4 and BASE+5 free for members added by a test (SPARE1,
# SPARE2). Members are named n1, n2, n3.
#
#   cluster_up KIND RUN   start a cluster of KIND (etcd or raftd), its data
#                         and logs under $T/RUN; waits until it serves
#   cluster_down KIND     stop it (ports free again)
#   cport N               member N's client port
#   EPS, ONE              the three client endpoints; n3's alone
#   CTL                   etcdctl with generous timeouts
set -u
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	echo "SKIP: etcd and etcdctl are not installed (apt-get install etcd-server etcd-client)"
	exit 77
fi
V3_DIR=$(cd "$(dirname "$0")" && pwd)
# tests/cluster/lib.sh's node_start: --grpc-listen on grpc_port N (where
# it knows GRPC; raftd_up names the same port itself)
GRPC=1
. "$V3_DIR/../cluster/lib.sh"
cport() { echo $(( BASE + 5 + $1 )); }
SPARE1=$(port 4)
SPARE2=$(port 5)
export ETCDCTL_API=3
unset ETCDCTL_ENDPOINTS
EPS="127.0.0.1:$(cport 1),127.0.0.1:$(cport 2),127.0.0.1:$(cport 3)"
ONE="127.0.0.1:$(cport 3)"
# generous: a loaded machine (the client's default is 5 s)
CTL="etcdctl --command-timeout=30s --dial-timeout=10s"

# need_kind KIND: a kind this test can run; a raftd without the v3 front
# end fails (it is raftd's to serve etcd's API, not a missing tool)
need_kind() {
	case $1 in
	etcd) ;;
	raftd)
		"$RAFTD" --help 2>&1 | grep -q -- '-grpc-listen' ||
			fail "$RAFTD has no --grpc-listen: raftd does not serve etcd's v3 API"
		;;
	*) fail "unknown kind of cluster '$1' (etcd or raftd)" ;;
	esac
}

etcd_up() {
	_ic="n1=http://127.0.0.1:$(port 1),n2=http://127.0.0.1:$(port 2),n3=http://127.0.0.1:$(port 3)"
	for _n in 1 2 3; do
		etcd --name "n$_n" --data-dir "$T/$1/e$_n" \
			--listen-peer-urls "http://127.0.0.1:$(port "$_n")" \
			--initial-advertise-peer-urls "http://127.0.0.1:$(port "$_n")" \
			--listen-client-urls "http://127.0.0.1:$(cport "$_n")" \
			--advertise-client-urls "http://127.0.0.1:$(cport "$_n")" \
			--initial-cluster "$_ic" --initial-cluster-state new \
			--initial-cluster-token "v3-$$-$1" \
			--heartbeat-interval 100 --election-timeout 3000 >>"$T/$1-etcd$_n.log" 2>&1 &
		eval "EPID_$_n=$!"
		PIDS="$PIDS $!"
	done
}

etcd_down() {
	for _n in 1 2 3; do
		_p=$(eval echo \$EPID_"$_n")
		kill "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	# (wait's status is the killed etcd's: not this function's)
	return 0
}

raftd_up() {
	_o="-h 127.0.0.1 -election-timeout-ms 1500"
	# shellcheck disable=SC2086
	node_start 1 -name n1 $_o --grpc-listen "127.0.0.1:$(cport 1)"
	# shellcheck disable=SC2086
	node_start 2 -name n2 $_o --grpc-listen "127.0.0.1:$(cport 2)" -join "127.0.0.1:$(port 1)"
	# shellcheck disable=SC2086
	node_start 3 -name n3 $_o --grpc-listen "127.0.0.1:$(cport 3)" -join "127.0.0.1:$(port 1)"
}

raftd_down() {
	for _n in 1 2 3; do node_kill "$_n" TERM; done
	# lib.sh keeps a node's data directory across restarts: a next
	# cluster of the same kind starts afresh
	rm -rf "$T/n1" "$T/n2" "$T/n3"
}

ports_free() {
	! ss -Hltn "( sport >= :$(port 1) and sport <= :$(port 9) )" 2>/dev/null | grep -q .
}

# three members named n1..n3 have started, and each endpoint is healthy
cluster_ready() {
	[ "$($CTL --endpoints="$EPS" member list 2>/dev/null | grep -c ', started, n[123], ')" = 3 ] &&
		$CTL --endpoints="$EPS" endpoint health >/dev/null 2>&1
}

cluster_up() {
	mkdir -p "$T/$2"
	until_ok 60 ports_free || fail "$2: the ports are still taken"
	"${1}_up" "$2"
	until_ok 120 cluster_ready || fail "$2: the $1 cluster does not come up"
}

cluster_down() {
	"${1}_down"
}
