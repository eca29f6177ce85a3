# tests/cluster/lib.sh — run raftd nodes as separate processes on loopback.
# Sourced by the cluster tests. Each test gets its own directory and port
# range; every node it started is killed when it exits.
#
#   node_start N [ARGS...]   start node N (port BASE+N, data dir DIR/nN)
#   until_ok SECS CMD...     CMD again until it succeeds (SECS at most)
#   node_kill N [SIGNAL]     signal node N (default KILL) and wait for it
#   wait_leader              print the port of the leader (waits up to 10 s)
#   put PORT KEY VALUE       POST /db/KEY; prints the HTTP status
#   get PORT KEY             GET /db/KEY; prints the body
#   status_field PORT FIELD  one field of GET /status
#   put_range N M            write kN=vN .. kM=vM through the leader
#   start_three [ARGS...]    nodes 1-3 (2 and 3 join 1), a first write on all
#   grpc_port N              node N's gRPC port, with GRPC=1 (etcd's v3 API)
#   cluster_term             the highest term a node reports
#   newest_leader            "PORT TERM NAME" of the leader of the highest term
#   led_at TERM NAME         a leader since NAME led at TERM, consistent with it
#   steady [-e N] FUNC       FUNC again if it failed while leadership moved
#
# gRPC (--grpc-listen, default 127.0.0.1:2379, which every node on this
# host would share): node_start gives "--grpc-listen none" ($NOGRPC, for
# tests that start raftd themselves), unless the test set GRPC=1: node N
# then serves it on grpc_port N (BASE+5+N, so nodes 1 to 4).
#
# RAFTD_TLS=1 (tests/cluster/tls-suite.sh): nodes serve HTTPS only, with
# client and peer certificate authentication (tests/lib/mkcerts.sh's
# certificates: node N presents nN's, "admin" has the admin role), and curl
# in the tests speaks https:// with the CA and the admin certificate where
# they wrote http://.
set -u
RAFTD=${RAFTD:-${top_builddir:-.}/src/raftd/raftd}
RAFTCTL=${RAFTCTL:-${top_builddir:-.}/src/raftctl/raftctl}
# ports: a block of 10 claimed for this test (ports.sh), away from the
# usual 4001 and below Linux's ephemeral range (32768-60999), which clients'
# and peers' own sockets take: a node's port taken there failed its bind now
# and then. BASE set by the caller is taken as it is.
for _d in "${srcdir:-.}/tests/cluster" "$(dirname "$0")" "$(dirname "$0")/../cluster"; do
	[ -f "$_d/ports.sh" ] && { . "$_d/ports.sh"; break; }
done
command -v port_claim >/dev/null || { echo "lib.sh: tests/cluster/ports.sh not found (set srcdir)" >&2; exit 99; }
if [ -z "${BASE:-}" ]; then
	port_claim 20000 32759 || { echo "lib.sh: no free block of ports in 20000-32759" >&2; exit 99; }
	BASE=$PORT_BASE
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/raftd-cluster.XXXXXX")
PIDS=""

cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "${KEEP:-}" = 1 ] || [ "${FAILED:-0}" = 1 ]; then
		echo "# logs kept in $T" >&2
		for f in "$T"/*.log; do echo "## $f" >&2; tail -n 30 "$f" >&2; done
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

tls_node_args() { :; }
if [ "${RAFTD_TLS:-0}" = 1 ]; then
	command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }
	for _d in "${srcdir:-.}/tests/lib" "$(dirname "$0")/../lib"; do
		[ -f "$_d/mkcerts.sh" ] && break
	done
	sh "$_d/mkcerts.sh" "$T/certs" || { echo "lib.sh: mkcerts.sh failed" >&2; exit 99; }
	printf '[roles]\nadmin = admin\n' >"$T/certs/raftd.conf"
	# node N's options (the certificates have n1 to n5)
	tls_node_args() {
		_c=$T/certs/n$(( ($1 - 1) % 5 + 1 ))
		echo "--config $T/certs/raftd.conf --cert-file $_c.pem --key-file $_c-key.pem" \
			"--trusted-ca-file $T/certs/ca.pem --client-cert-auth" \
			"--peer-trusted-ca-file $T/certs/ca.pem --peer-client-cert-auth"
	}
	curl() {
		_tn=$#
		while [ "$_tn" -gt 0 ]; do
			_ta=$1
			shift
			case $_ta in http://*) _ta=https://${_ta#http://} ;; esac
			set -- "$@" "$_ta"
			_tn=$((_tn - 1))
		done
		command curl --cacert "$T/certs/ca.pem" --cert "$T/certs/admin.pem" --key "$T/certs/admin-key.pem" "$@"
	}
fi

fail() {
	# within steady: this attempt failed, the test may try it again
	[ "${STEADY:-}" = 1 ] && { echo "# attempt failed: $*" >&2; exit 1; }
	echo "FAIL: $*" >&2
	FAILED=1
	exit 1
}

port() { echo $(( BASE + $1 )); }
NOGRPC="--grpc-listen none"
grpc_port() { echo $(( BASE + 5 + $1 )); }
grpc_args() {
	if [ "${GRPC:-0}" = 1 ]; then echo "--grpc-listen 127.0.0.1:$(grpc_port "$1")"; else echo "$NOGRPC"; fi
}

# until_ok SECS CMD...: CMD every 0.1 s until it succeeds; 1 if it has not
# within SECS (a deadline, not a count: a loaded machine makes each try slow)
until_ok() {
	_end=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

node_start() {
	n=$1
	shift
	# shellcheck disable=SC2046
	"$RAFTD" -p "$(port "$n")" $(grpc_args "$n") $(tls_node_args "$n") "$@" "$T/n$n" >>"$T/n$n.log" 2>&1 &
	eval "PID_$n=$!"
	PIDS="$PIDS $!"
	# serving once /status answers (a loaded machine may take a while
	# to replay a log: 60 s)
	_end=$(( $(date +%s) + 60 ))
	until curl -s -m 5 -o /dev/null "http://127.0.0.1:$(port "$n")/status"; do
		kill -0 "$(eval echo \$PID_"$n")" 2>/dev/null || fail "node $n exited at start"
		[ "$(date +%s)" -lt "$_end" ] || fail "node $n does not answer"
		sleep 0.05
	done
}

node_kill() {
	pid=$(eval echo \$PID_"$1")
	kill "-${2:-KILL}" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# the kernel tears a killed process's io_uring down after it is
	# reaped: its listening socket can outlive wait for a moment, and a
	# restart at once found the port taken (EADDRINUSE)
	for _ in $(seq 200); do
		ss -Hltn "sport = :$(port "$1")" 2>/dev/null | grep -q . || break
		sleep 0.01
	done
	return 0
}

# spare WAL segments node $1 keeps
spares() { ls "$T/n$1/wal" | grep -c '\.spare$'; }

status_field() {
	# bounded: a paused (SIGSTOP) node accepts the connection, never answers
	curl -s -m 2 "http://127.0.0.1:$1/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])" 2>/dev/null
}

# The setup of a write lost to a new leader (lost-write.sh, v3-lost.sh):
# the leader is left alone (its followers killed), takes the write that
# "$@" sends (run in the background, its pid in $cpid) and is paused
# (SIGSTOP) once it appended it, before check-quorum makes it step down;
# the followers come back and elect a leader without that entry ($NL, its
# port), which commits key $WRITE_OVER = 1 over its index; the old leader
# ($LN, its node number) is continued. The caller then waits for its
# client and judges the answer.
strand_write() {
	L=$(wait_leader) || fail "no leader"
	F=""
	for n in 1 2 3; do [ "$(port "$n")" = "$L" ] && LN=$n || F="$F $n"; done
	last=$(status_field "$L" last_index)
	for n in $F; do node_kill "$n"; done
	"$@" &
	cpid=$!
	for _ in $(seq 100); do
		[ "$(status_field "$L" last_index)" -gt "$last" ] 2>/dev/null && break
		sleep 0.05
	done
	[ "$(status_field "$L" last_index)" -gt "$last" ] || fail "the leader did not append the write"
	kill -STOP "$(eval echo \$PID_"$LN")"
	for n in $F; do node_start "$n" --election-timeout-ms 1000; done
	NL=""
	for _ in $(seq 200); do
		for n in $F; do [ "$(status_field "$(port "$n")" role)" = leader ] && NL=$(port "$n"); done
		[ -n "$NL" ] && break
		sleep 0.05
	done
	[ -n "$NL" ] || fail "the two followers elect no leader"
	[ "$(put "$NL" "$WRITE_OVER" 1)" = 200 ] || fail "a write through the new leader"
	kill -CONT "$(eval echo \$PID_"$LN")"
}

wait_leader() {
	for _ in $(seq 200); do
		for p in $(seq $(( BASE + 1 )) $(( BASE + 9 ))); do
			[ "$(status_field "$p" role)" = leader ] && { echo "$p"; return 0; }
		done
		sleep 0.05
	done
	return 1
}

put() {
	curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$1/db/$2" --data-binary "$3"
}

get() {
	curl -s "http://127.0.0.1:$1/db/$2"
}

# wait_value PORT KEY VALUE: until the node has applied it (30 s)
has_value() { [ "$(curl -s -m 5 "http://127.0.0.1:$1/db/$2")" = "$3" ]; }
wait_value() { until_ok 30 has_value "$@"; }

# put_leader KEY VALUE: POST through the current leader, following it across
# leader changes (10 s); LEADER is then the port that took it. The LEADER of
# the last call is tried first (looking for the leader costs a probe of every
# node). VALUE @FILE sends FILE's bytes (curl --data-binary).
put_leader() {
	for _ in $(seq 20); do
		if [ -z "${LEADER:-}" ]; then
			LEADER=$(wait_leader) || { LEADER=; continue; }
		fi
		[ "$(put "$LEADER" "$1" "$2")" = 200 ] && return 0
		LEADER=
		sleep 0.2
	done
	return 1
}

# put_range N M: writes kN=vN .. kM=vM through the leader (looked for again
# only when it refuses one)
put_range() {
	_i=$1
	LEADER=$(wait_leader) || fail "no leader"
	while [ "$_i" -le "$2" ]; do
		[ "$(put "$LEADER" "k$_i" "v$_i")" = 200 ] || put_leader "k$_i" "v$_i" || fail "write k$_i"
		_i=$((_i + 1))
	done
}

# start_three [ARGS...]: nodes 1, 2 and 3 with ARGS, 2 and 3 joining
# through 1; returns once node 3 has applied a first write (first=1)
start_three() {
	node_start 1 "$@"
	node_start 2 "$@" -join "127.0.0.1:$(port 1)"
	node_start 3 "$@" -join "127.0.0.1:$(port 1)"
	put_leader first 1 || fail "first write"
	wait_value "$(port 3)" first 1 || fail "node 3 has the first write"
}

# cluster_term: the highest term a node of this test reports, once one
# answers (a loaded machine may keep them all from it for a while; 0 after
# 20 tries)
cluster_term() {
	for _ in $(seq 20); do
		_ct=-1
		for _p in $(seq $(( BASE + 1 )) $(( BASE + 9 ))); do
			_x=$(curl -s -m 5 "http://127.0.0.1:$_p/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['term'])" 2>/dev/null)
			case $_x in '' | *[!0-9]*) continue ;; esac
			[ "$_x" -gt "$_ct" ] && _ct=$_x
		done
		[ "$_ct" -ge 0 ] && break
		sleep 0.1
	done
	echo $(( _ct < 0 ? 0 : _ct ))
}

# newest_leader: "PORT TERM NAME" of the node that says it leads at the
# highest term (10 s). A deposed leader may still say it leads at its old
# term until it hears of the new one; at most one node leads a term.
newest_leader() {
	for _ in $(seq 200); do
		_best= _bt=-1
		for _p in $(seq $(( BASE + 1 )) $(( BASE + 9 ))); do
			_s=$(curl -s -m 2 "http://127.0.0.1:$_p/status" | python3 -c \
				"import json,sys; d=json.load(sys.stdin); print(d['role'], d['term'], d['name'])" 2>/dev/null) || continue
			set -- $_s
			[ "$1" = leader ] && [ "$2" -gt "$_bt" ] && { _best="$_p $2 $3"; _bt=$2; }
		done
		[ -n "$_best" ] && { echo "$_best"; return 0; }
		sleep 0.05
	done
	return 1
}

# led_at TERM NAME: what the cluster shows after NAME was seen leading at
# TERM: a node leads (10 s) at TERM or later, and at TERM itself only NAME
# (Election Safety). A later election may have moved leadership since.
led_at() {
	_nl=$(newest_leader) || { echo "no leader after $2 led at term $1"; return 1; }
	set -- "$1" "$2" $_nl
	[ "$4" -ge "$1" ] || { echo "$5 leads at term $4, below term $1 where $2 led"; return 1; }
	[ "$4" -gt "$1" ] || [ "$5" = "$2" ] || { echo "$5 leads at term $4, where $2 led"; return 1; }
	return 0
}

# steady [-p PREP] [-e N] CMD...: CMD (a function, run in a subshell, where
# fail() ends only this attempt) checks something the product guarantees
# while leadership stays put, which it does not promise on a loaded machine.
# An attempt that failed while the cluster's term grew by more than N (CMD's
# own elections, a transfer's: default 0) is made again, up to 5 times; one
# that failed without such an election fails the test. PREP (a command, such
# as "make_lead 1") runs before each attempt.
steady() {
	_own=0 _prep=
	[ "$1" = -p ] && { _prep=$2; shift 2; }
	[ "$1" = -e ] && { _own=$2; shift 2; }
	for _try in 1 2 3 4 5; do
		# the term before PREP: an election between PREP's look at the
		# leader and the attempt (a loaded machine) counts as one
		_t0=$(cluster_term)
		[ -z "$_prep" ] || $_prep
		( STEADY=1; "$@" ) && return 0
		_t1=$(cluster_term)
		[ $(( _t1 - _t0 )) -gt "$_own" ] || fail "$1 (no election meanwhile: term $_t0 -> $_t1)"
		echo "# $1: an election meanwhile (term $_t0 -> $_t1): again" >&2
	done
	fail "$1: an election during each of 5 attempts"
}

# make_lead N: node N leads, through a leadership transfer to it if another
# node does (a test that needs one leader for a while; with steady -p)
make_lead() {
	for _ in $(seq 10); do
		_nl=$(newest_leader) || continue
		# a deposed leader still says it leads until it hears the new term
		set -- "$1" $_nl
		[ "$2" = "$(port "$1")" ] && [ "$3" -ge "$(cluster_term)" ] && return 0
		curl -s -m 10 -o /dev/null -XPOST "http://127.0.0.1:$2/raftd/transfer" \
			-d "{\"to\":\"$(status_field "$(port "$1")" name)\"}"
	done
	fail "node $1 does not take the lead"
}

# leave NAME: POST /leave for member NAME to the leader (200), again if an
# election interrupted it (then a 404: the first one was committed)
leave() {
	rm -f "$T/leave-tried"
	steady leave_once "$1"
}
leave_once() {
	_lp=$(newest_leader) || fail "no leader for the leave of $1"
	_c=$(curl -s -m 10 -o "$T/leave-out" -w '%{http_code}' -XPOST "http://127.0.0.1:${_lp%% *}/leave" -d "{\"name\":\"$1\"}")
	[ "$_c" = 200 ] || { [ "$_c" = 404 ] && [ -e "$T/leave-tried" ]; } || {
		touch "$T/leave-tried"
		fail "leave of $1: HTTP $_c $(cat "$T/leave-out")"
	}
}
