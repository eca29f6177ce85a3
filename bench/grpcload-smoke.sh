#!/bin/sh
# bench/grpcload-smoke.sh — bench/grpcload against one real etcd (Debian's
# etcd-server) for about a second per operation: Put, linearizable and
# serializable Range all succeed with no error and the line bench/run parses;
# an etcd error comes back as a counted error with its grpc-status and
# message; a closed port ends the run by its deadline with exit 1.
# Skips (77) when etcd is not installed.
set -u
: "${top_builddir:=.}"
here=$(cd "$(dirname "$0")" && pwd)
G=$top_builddir/bench/grpcload
tmp=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "grpcload-smoke: $*" >&2
	[ -f "$tmp/etcd.log" ] && tail -5 "$tmp/etcd.log" >&2
	exit 1
}
command -v etcd >/dev/null || {
	echo "grpcload-smoke: etcd not installed (apt-get install etcd-server): skipped"
	exit 77
}
[ -x "$G" ] || fail "no $G"

. "$here/../tests/cluster/ports.sh"
port_claim 20000 32759 || fail "no free block of ports"
cp=$PORT_BASE pp=$((PORT_BASE + 1)) closed=$((PORT_BASE + 2))
etcd --name s1 --data-dir "$tmp/data" \
	--listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
	--listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
	--initial-cluster "s1=http://127.0.0.1:$pp" --logger zap --log-level warn >"$tmp/etcd.log" 2>&1 &
pid=$!

# ready when one Put goes through (each try bounded by its own deadline)
i=0
until "$G" --endpoints "127.0.0.1:$cp" --total 1 --timeout 2 >"$tmp/out" 2>&1; do
	kill -0 "$pid" 2>/dev/null || fail "etcd died"
	i=$((i + 1))
	[ $i -lt 60 ] || fail "etcd took no Put in 60 tries: $(cat "$tmp/out")"
	sleep 0.2
done

field() { # field NAME: NAME=VALUE of the GRPCLOAD line in $tmp/out
	sed -n "s/^GRPCLOAD .* $1=\([^ ]*\).*/\1/p" "$tmp/out"
}
for op in put range range-serializable; do
	"$G" --endpoints "127.0.0.1:$cp" --op $op --clients 8 --conns 2 --duration 1 >"$tmp/out" 2>&1 ||
		fail "$op: exit $?: $(cat "$tmp/out")"
	[ "$(field errors)" = 0 ] || fail "$op: errors: $(cat "$tmp/out")"
	[ "$(field requests)" -gt 0 ] 2>/dev/null || fail "$op: no requests: $(cat "$tmp/out")"
	[ "$(field timed_out)" = 0 ] || fail "$op: timed out: $(cat "$tmp/out")"
	for f in rps p50_ms p90_ms p99_ms cpu_ms_per_req; do
		[ -n "$(field $f)" ] || fail "$op: no $f: $(cat "$tmp/out")"
	done
done

# a value over etcd's request limit (1.5 MiB): refused by etcd, counted
"$G" --endpoints "127.0.0.1:$cp" --value-size 2000000 --total 3 >"$tmp/out" 2>&1 &&
	fail "a run where every call failed exited 0: $(cat "$tmp/out")"
[ "$(field errors)" = 3 ] || fail "etcd's refusals not counted: $(cat "$tmp/out")"
grep -q "first error: grpc-status 3: etcdserver: request is too large" "$tmp/out" ||
	fail "no grpc-status in: $(cat "$tmp/out")"

# nothing listens there: the deadline ends the run, exit 1
"$G" --endpoints "127.0.0.1:$closed" --total 10 --timeout 1 >"$tmp/out" 2>&1 &&
	fail "a run against a closed port exited 0: $(cat "$tmp/out")"
[ "$(field timed_out)" = 1 ] || fail "no timeout against a closed port: $(cat "$tmp/out")"
[ "$(field errors)" -gt 0 ] 2>/dev/null || fail "refused connections not counted as errors: $(cat "$tmp/out")"
grep -q "Connection refused" "$tmp/out" || fail "no reason given: $(cat "$tmp/out")"
echo "grpcload-smoke: ok"
