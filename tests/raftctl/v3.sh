#!/bin/sh
# raftctl's commands on etcd's v3 API (issue 19) against a 3-node cluster,
# through a follower: get --prefix/--from-key/--limit/--keys-only/--rev,
# put --if-mod-rev (success, failure, 0 for "only if absent") and -v,
# delete --prefix, compact and the error of a read at a compacted
# revision; a key written with POST /db/k is seen; the gRPC endpoint from
# /raftd/version or --grpc. With RAFTD_TLS=1 (v3-tls.sh) all of it over
# TLS (ALPN h2) with a client certificate.
. "$(dirname "$0")/../cluster/lib.sh"
GRPC=1 # node_start: each node serves gRPC on grpc_port N (lib.sh)
S=http
TLSARGS=""
if [ "${RAFTD_TLS:-0}" = 1 ]; then
	S=https
	TLSARGS="--cacert $T/certs/ca.pem --cert $T/certs/admin.pem --key $T/certs/admin-key.pem"
fi
# shellcheck disable=SC2086
rc() { "$RAFTCTL" --timeout 5s $TLSARGS "$@"; }
# expect CODE CMD...: run, keep stdout in $T/out and stderr in $T/err
expect() {
	want=$1
	shift
	rc "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || fail "raftctl $*: exit $got, expected $want; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
}
one_line() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$T/err")"
	grep -q -- "$1" "$T/err" || fail "stderr does not say '$1': $(cat "$T/err")"
}
# out TEXT: stdout was TEXT (lines joined by '|')
out() {
	_got=$(tr '\n' '|' <"$T/out" | sed 's/|$//')
	[ "$_got" = "$1" ] || fail "printed '$_got', wanted '$1'"
}
json() { python3 -c "import json,sys; d=json.load(open('$T/out')); print($1)"; }

start_three
# a follower, by its own word (leadership may move later: any member
# serves every v3 call, so the checks hold whichever node leads then)
F=""
until [ -n "$F" ]; do
	for i in 1 2 3; do
		[ "$(status_field "$(port $i)" role)" = follower ] && { F=$i; break; }
	done
	[ -n "$F" ] || sleep 0.1
done
FE="--endpoints $S://127.0.0.1:$(port $F)"

# writes through the follower; the revision with -v
expect 0 $FE put --if-mod-rev 0 -v app-a 1
grep -q '^OK$' "$T/out" && grep -q '^revision [0-9][0-9]*$' "$T/out" || fail "put -v printed '$(cat "$T/out")'"
expect 0 $FE put app-b 2 # goraft's /db
[ "$(put "$(port 1)" app-c 3)" = 200 ] || fail "POST /db/app-c"
[ "$(put "$(port 1)" other x)" = 200 ] || fail "POST /db/other"

# reads: linearizable by default on the follower, so every write is there
expect 0 $FE get --prefix app-
out "app-a 1|app-b 2|app-c 3"
expect 0 $FE get --prefix --keys-only app-
out "app-a|app-b|app-c"
expect 0 $FE get --prefix --limit 2 app-
out "app-a 1|app-b 2"
expect 0 $FE get --from-key app-c
out "app-c 3|first 1|other x"
expect 0 $FE get --prefix nothing-
out ""
expect 0 $FE get --local --prefix app-
out "app-a 1|app-b 2|app-c 3"
expect 0 --endpoints "$S://127.0.0.1:$(port 1)" get --node "$S://127.0.0.1:$(port $F)" --prefix app-
out "app-a 1|app-b 2|app-c 3"
expect 0 $FE -o json get --prefix app-
[ "$(json "d['count'], len(d['kvs']), d['kvs'][2]['key'], d['kvs'][2]['value'], d['kvs'][0]['version']")" = "3 3 app-c 3 1" ] ||
	fail "get -o json: $(cat "$T/out")"
MOD=$(json "d['kvs'][0]['mod_revision']")
[ "$MOD" -gt 0 ] && [ "$(json "d['kvs'][0]['create_revision']")" = "$MOD" ] || fail "revisions: $(cat "$T/out")"

# compare-and-put
expect 0 $FE -o json put --if-mod-rev "$MOD" app-a 1b
NEW=$(json "d['revision']")
[ "$NEW" -gt "$MOD" ] || fail "put -o json: $(cat "$T/out")"
expect 1 $FE put --if-mod-rev "$MOD" app-a 1c
one_line "raftctl put: app-a: not written: its mod revision is $NEW, not $MOD (--if-mod-rev)"
expect 1 $FE put --if-mod-rev 0 app-a 1c
one_line "app-a: not written: it exists"
expect 1 $FE put --if-mod-rev 5 app-none z
one_line "app-none: not written: it does not exist"
expect 0 $FE get app-a --rev "$NEW"
out "1b"
expect 0 $FE get app-a --rev "$MOD" # a read in the past: one key, its value alone
out "1"
expect 1 $FE get app-none --rev "$NEW"
one_line "app-none: not found"
[ "$(get "$(port 1)" app-a)" = 1b ] || fail "GET /db/app-a after the v3 put"

# del --prefix (and its alias del)
expect 0 $FE del --prefix app- -v
grep -q '^deleted 3$' "$T/out" && grep -q '^revision [0-9][0-9]*$' "$T/out" || fail "del --prefix -v printed '$(cat "$T/out")'"
DEL=$(sed -n 's/^revision //p' "$T/out")
expect 0 $FE get --prefix app-
out ""
expect 0 $FE get --from-key ""
out "first 1|other x"

# compaction: reads before it fail, with etcd's words and the endpoint
expect 0 $FE compact "$DEL"
expect 1 $FE get app-a --rev "$MOD"
one_line "raftctl get: $S://127.0.0.1:$(grpc_port $F): OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted"
expect 1 $FE get app-a --rev 100000
one_line "OUT_OF_RANGE: etcdserver: mvcc: required revision is a future revision"

# the gRPC endpoint given; an endpoint without one; https not yet
expect 0 --grpc "$S://127.0.0.1:$(grpc_port 2)" --endpoints 127.0.0.1:1 get --prefix oth
out "other x"
RAFTCTL_GRPC="$S://127.0.0.1:$(grpc_port 3)" expect 0 --endpoints 127.0.0.1:1 get --prefix oth
out "other x"
# the other scheme than the port speaks: one line naming it
O=https
[ $S = https ] && O=http
expect 1 --grpc "$O://127.0.0.1:$(grpc_port 2)" get --prefix oth
one_line "raftctl get: $O://127.0.0.1:$(grpc_port 2): "
[ $S = http ] || one_line "(a TLS port? https://)"
# a node without a gRPC port (--grpc-listen none): said, with its URL
GRPC=0 node_start 4
until_ok 20 curl -sf "$S://127.0.0.1:$(port 4)/raftd/version" -o /dev/null || fail "node 4 does not answer"
expect 1 --endpoints "$S://127.0.0.1:$(port 4)" get --prefix oth
one_line "raftctl get: $S://127.0.0.1:$(port 4): no gRPC port"
expect 1 --grpc "127.0.0.1:1" get --prefix oth
one_line "raftctl get: http://127.0.0.1:1: connect:"
expect 2 $FE get --prefix --from-key a
expect 2 $FE put --if-mod-rev x k v
expect 2 $FE get --limit -1 --prefix a
echo "ok: raftctl on the v3 API ($S)"
