#!/bin/sh
# bench/grpcload-smoke.sh — bench/grpcload against one real etcd (Debian's
# etcd-server) for about a second per operation: Put, linearizable and
# serializable Range all succeed with no error and the line bench/run parses;
# an etcd error comes back as a counted error with its grpc-status and
# message; a closed port ends the run by its deadline with exit 1.
# Then its watch and lease modes (issue 20), briefly, against that etcd and
# against a 3-node raftd cluster (tests/cluster/lib.sh, GRPC=1), at the
# leader: every event reaches every watcher once and in order, every lease
# is granted, attached, kept alive and gone at the end (revoked, or left to
# expire). Counts only: no timing is checked.
# Skips (77) when etcd is not installed.
set -u
: "${top_builddir:=.}"
here=$(cd "$(dirname "$0")" && pwd)
: "${srcdir:=$here/..}"
G=$top_builddir/bench/grpcload
command -v etcd >/dev/null || {
	echo "grpcload-smoke: etcd not installed (apt-get install etcd-server): skipped"
	exit 77
}
[ -x "$G" ] || { echo "grpcload-smoke: no $G" >&2; exit 1; }

# the port block, the scratch directory $T and the raftd nodes: lib.sh's
# (raftd on BASE+1..3, their gRPC on BASE+6..8); etcd on BASE+0 and +4,
# nothing on BASE+9
. "$srcdir/tests/cluster/lib.sh"
cp=$BASE pp=$((BASE + 4)) closed=$((BASE + 9))
out=$T/out
say_fail() {
	[ -f "$T/etcd.log" ] && tail -5 "$T/etcd.log" >&2
	fail "grpcload-smoke: $*"
}
etcd --name s1 --data-dir "$T/etcd" \
	--listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
	--listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	--initial-cluster "s1=http://127.0.0.1:$pp" --logger zap --log-level warn >"$T/etcd.log" 2>&1 &
pid=$!
PIDS="$PIDS $pid"

# ready when one Put goes through (each try bounded by its own deadline)
i=0
until "$G" --endpoints "127.0.0.1:$cp" --total 1 --timeout 2 >"$out" 2>&1; do
	kill -0 "$pid" 2>/dev/null || say_fail "etcd died"
	i=$((i + 1))
	[ $i -lt 60 ] || say_fail "etcd took no Put in 60 tries: $(cat "$out")"
	sleep 0.2
done

field() { # field NAME: NAME=VALUE of the GRPCLOAD line in $out
	sed -n "s/^GRPCLOAD .* $1=\([^ ]*\).*/\1/p" "$out"
}
for op in put range range-serializable; do
	"$G" --endpoints "127.0.0.1:$cp" --op $op --clients 8 --conns 2 --duration 1 >"$out" 2>&1 ||
		say_fail "$op: exit $?: $(cat "$out")"
	[ "$(field errors)" = 0 ] || say_fail "$op: errors: $(cat "$out")"
	[ "$(field requests)" -gt 0 ] 2>/dev/null || say_fail "$op: no requests: $(cat "$out")"
	[ "$(field timed_out)" = 0 ] || say_fail "$op: timed out: $(cat "$out")"
	for f in rps p50_ms p90_ms p99_ms cpu_ms_per_req; do
		[ -n "$(field $f)" ] || say_fail "$op: no $f: $(cat "$out")"
	done
done

# a value over etcd's request limit (1.5 MiB): refused by etcd, counted
"$G" --endpoints "127.0.0.1:$cp" --value-size 2000000 --total 3 >"$out" 2>&1 &&
	say_fail "a run where every call failed exited 0: $(cat "$out")"
[ "$(field errors)" = 3 ] || say_fail "etcd's refusals not counted: $(cat "$out")"
grep -q "first error: grpc-status 3: etcdserver: request is too large" "$out" ||
	say_fail "no grpc-status in: $(cat "$out")"

# nothing listens there: the deadline ends the run, exit 1
"$G" --endpoints "127.0.0.1:$closed" --total 10 --timeout 1 >"$out" 2>&1 &&
	say_fail "a run against a closed port exited 0: $(cat "$out")"
[ "$(field timed_out)" = 1 ] || say_fail "no timeout against a closed port: $(cat "$out")"
[ "$(field errors)" -gt 0 ] 2>/dev/null || say_fail "refused connections not counted as errors: $(cat "$out")"
grep -q "Connection refused" "$out" || say_fail "no reason given: $(cat "$out")"

# watch_and_lease NAME ENDPOINT SERVER_PID: the watch and lease modes, counts checked
watch_and_lease() {
	# 30 watchers on 3 connections (10 per stream), 20 writes
	"$G" --endpoints "$2" --op watch --watchers 30 --conns 3 --rate 20 --duration 1 --drain 60 \
		--rss-pid "$3" --prefix smoke-w/ >"$out" 2>&1 || say_fail "$1 watch: exit $?: $(cat "$out")"
	[ "$(field created)" = 30 ] || say_fail "$1 watch: not every watch created: $(cat "$out")"
	[ "$(field acked)" = 20 ] || say_fail "$1 watch: writes not all acknowledged: $(cat "$out")"
	[ "$(field events)" = 600 ] && [ "$(field expected)" = 600 ] ||
		say_fail "$1 watch: not every event delivered once: $(cat "$out")"
	for f in missing misordered canceled errors timed_out; do
		[ "$(field $f)" = 0 ] || say_fail "$1 watch: $f: $(cat "$out")"
	done
	for f in p99_ms kib_per_watcher cpu_us_per_event; do
		case $(field $f) in '' | nan | -nan) say_fail "$1 watch: no $f: $(cat "$out")" ;; esac
	done
	# leases revoked, then leases left to expire at the server's smallest TTL
	for end in revoke expire; do
		"$G" --endpoints "$2" --op lease --leases 40 --clients 8 --conns 2 --ttl 1 --end $end \
			--prefix "smoke-l-$end/" --timeout 120 >"$out" 2>&1 || say_fail "$1 lease $end: exit $?: $(cat "$out")"
		for f in granted attached kept_alive; do
			[ "$(field $f)" = 40 ] || say_fail "$1 lease $end: $f: $(cat "$out")"
		done
		[ "$(field revoked)" = "$([ $end = revoke ] && echo 40 || echo 0)" ] || say_fail "$1 lease $end: revoked: $(cat "$out")"
		for f in keys_left leases_left keepalive_lost errors timed_out; do
			[ "$(field $f)" = 0 ] || say_fail "$1 lease $end: $f: $(cat "$out")"
		done
		[ "$(field ops)" = 160 ] || say_fail "$1 lease $end: ops: $(cat "$out")"
	done
}
watch_and_lease etcd "127.0.0.1:$cp" "$pid"

# raftd: three nodes, the modes at the leader's gRPC port
GRPC=1
start_three
lp=$(wait_leader) || fail "grpcload-smoke: raftd has no leader"
n=$((lp - BASE))
watch_and_lease raftd "127.0.0.1:$(grpc_port $n)" "$(eval echo \$PID_$n)"
echo "grpcload-smoke: ok"
