#!/bin/sh
# GET /health and `raftctl endpoint health` (etcd's): healthy while a node
# knows a leader; 503 with a reason, and exit 1, once it has none (the other
# two of three killed) or does not answer.
. "$(dirname "$0")/../cluster/lib.sh"
rc() { "$RAFTCTL" --timeout 5s "$@"; }
# health PORT: the HTTP status of /health, its body in $T/health
health() { curl -s -m 2 -o "$T/health" -w '%{http_code}' "http://127.0.0.1:$1/health"; }

start_three
EPS="http://127.0.0.1:$(port 1),http://127.0.0.1:$(port 2),http://127.0.0.1:$(port 3)"
for i in 1 2 3; do
	[ "$(health "$(port "$i")")" = 200 ] || fail "node $i /health: $(cat "$T/health")"
	[ "$(cat "$T/health")" = '{"health":"true"}' ] || fail "node $i /health body: $(cat "$T/health")"
done
rc --endpoints "$EPS" endpoint health >"$T/out" 2>"$T/err" || fail "endpoint health: $(cat "$T/out" "$T/err")"
[ "$(grep -c ' is healthy: took ' "$T/out")" = 3 ] || fail "endpoint health output: $(cat "$T/out")"
rc --endpoints "$EPS" -o json endpoint health >"$T/out" || fail "endpoint health -o json"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); sys.exit(0 if len(a)==3 and all(e["health"] is True and e["error"] is None for e in a) else 1)' "$T/out" ||
	fail "endpoint health -o json: $(cat "$T/out")"
echo "ok: three healthy nodes"

# node 3 alone: no quorum, so no leader once its election timeout passes
node_kill 1
node_kill 2
ok=
for _ in $(seq 200); do
	[ "$(health "$(port 3)")" = 503 ] && { ok=1; break; }
	sleep 0.05
done
[ -n "$ok" ] || fail "/health of a node without a leader: $(cat "$T/health")"
[ "$(cat "$T/health")" = '{"health":"false","reason":"no leader"}' ] || fail "/health body: $(cat "$T/health")"
rc --endpoints "http://127.0.0.1:$(port 3),http://127.0.0.1:$(port 1)" endpoint health >"$T/out" 2>"$T/err"
[ $? = 1 ] || fail "endpoint health without a leader must exit 1: $(cat "$T/out" "$T/err")"
grep -q "^http://127.0.0.1:$(port 3) is unhealthy: no leader$" "$T/out" || fail "no leader: $(cat "$T/out")"
grep -q "^http://127.0.0.1:$(port 1) is unhealthy: .*refused" "$T/out" || fail "a dead node: $(cat "$T/out")"
grep -q "2 of 2 endpoints unhealthy" "$T/err" || fail "summary: $(cat "$T/err")"
echo "ok: no leader, and a dead node, are unhealthy (exit 1)"
