#!/bin/sh
# raftctl against a running three-node cluster of the build's raftd: every
# online command, its table and JSON output, and its failures (a follower as
# the only endpoint, an unreachable endpoint, no leader, bad arguments).
. "$(dirname "$0")/../cluster/lib.sh"
RAFTCTL=${RAFTCTL:-${top_builddir:-.}/src/raftctl}
rc() { "$RAFTCTL" --timeout 3s "$@"; }
# expect CODE CMD...: run, keep stdout in $T/out and stderr in $T/err
expect() {
	want=$1
	shift
	rc "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || fail "raftctl $*: exit $got, expected $want; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
}
# one line on stderr, and it says $1
one_line() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$T/err")"
	grep -q "$1" "$T/err" || fail "stderr does not say '$1': $(cat "$T/err")"
}
json() { python3 -c "import json,sys; d=json.load(open('$T/out')); print($1)"; }

node_start 1
node_start 2 -join "127.0.0.1:$(port 1)"
node_start 3 -join "127.0.0.1:$(port 1)"
wait_leader >/dev/null || fail "no leader"
E1=127.0.0.1:$(port 1) E2=127.0.0.1:$(port 2) E3=127.0.0.1:$(port 3)
n1=$(status_field "$(port 1)" name) n2=$(status_field "$(port 2)" name) n3=$(status_field "$(port 3)" name)

# --- status ----------------------------------------------------------------
export RAFTCTL_ENDPOINTS="http://$E2"  # a follower: the leader is found through it
for _ in $(seq 50); do
	expect 0 status
	[ "$(grep -c ' follower ' "$T/out")" = 2 ] && break
	sleep 0.1
done
grep -q "^leader $n1, term " "$T/out" || fail "status header: $(cat "$T/out")"
[ "$(grep -c -E "^($n1|$n2|$n3) " "$T/out")" = 3 ] || fail "status rows: $(cat "$T/out")"
grep -q "^MEMBER .* ROLE .* TERM .* COMMIT .* APPLIED .* LAG" "$T/out" || fail "status columns: $(cat "$T/out")"
expect 0 status -o json
[ "$(json 'd["leader"]')" = "$n1" ] || fail "status json leader: $(cat "$T/out")"
[ "$(json 'len(d["members"])')" = 3 ] || fail "status json members"
[ "$(json 'sorted(m["role"] for m in d["members"])')" = "['follower', 'follower', 'leader']" ] ||
	fail "status json roles: $(cat "$T/out")"
expect 0 status "$n3"
grep -q "^name: *$n3$" "$T/out" && grep -q "^role: *follower$" "$T/out" || fail "status NODE: $(cat "$T/out")"
expect 0 --endpoints "$E3" -o json status "http://$E1"
[ "$(json 'd["role"]')" = leader ] || fail "status URL json: $(cat "$T/out")"
expect 1 status nosuchnode
one_line "no member named 'nosuchnode'"
echo "ok: status (table, json, one node by name and by URL)"

# --- members -----------------------------------------------------------------
expect 0 members list
grep -q "^$n1 .* leader " "$T/out" || fail "members list: $(cat "$T/out")"
[ "$(grep -c ' member ' "$T/out")" = 2 ] || fail "members list: $(cat "$T/out")"
expect 0 -o json members
[ "$(json 'len(d)')" = 3 ] || fail "members json"
node_start 4 -join "$E1"
name4=$(status_field "$(port 4)" name)
expect 0 members remove "$name4"
grep -q "^removed $name4$" "$T/out" || fail "remove: $(cat "$T/out")"
for _ in $(seq 100); do kill -0 "$PID_4" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PID_4" 2>/dev/null && fail "the removed node stops"
expect 0 members add --raftd n5 "http://127.0.0.1:$(port 5)"
grep -q "^added n5 (http://127.0.0.1:$(port 5))$" "$T/out" || fail "add: $(cat "$T/out")"
expect 0 members list
grep -q "^n5 " "$T/out" || fail "n5 listed: $(cat "$T/out")"
mkdir -p "$T/n5" # raftd --name does not create DATA_DIR (see the report)
node_start 5 --name n5 -join "$E1"   # the node comes up as the member added
expect 0 put after-add 1
wait_value "$(port 5)" after-add 1 || fail "the added node gets the log"
expect 0 members remove n5
expect 0 members list
grep -q "^n5 " "$T/out" && fail "n5 still listed: $(cat "$T/out")"
expect 1 members remove nosuch
one_line "HTTP 404"
expect 2 members add onlyname
one_line "add needs NAME and URL"
expect 2 members add x "ftp://host:1"
one_line "bad URL"
expect 2 members frob
echo "ok: members list, add, remove and their refusals"

# --- get / put / delete -----------------------------------------------------------
expect 0 put greeting "hello world"
[ "$(cat "$T/out")" = OK ] || fail "put output: $(cat "$T/out")"
wait_value "$(port 2)" greeting "hello world" || fail "the write reached node 2"
expect 0 get greeting
[ "$(cat "$T/out")" = "hello world" ] || fail "get: $(cat "$T/out")"
expect 0 get --node "$n3" greeting
[ "$(cat "$T/out")" = "hello world" ] || fail "get --node: $(cat "$T/out")"
printf 'from\nstdin' | rc put multi - >/dev/null || fail "put from stdin"
for _ in $(seq 50); do # a local read: until this node has applied it
	expect 0 -o json get --node "$n1" multi
	[ "$(json 'd["value"]')" = "$(printf 'from\nstdin')" ] && break
	sleep 0.1
done
[ "$(json 'd["value"]')" = "$(printf 'from\nstdin')" ] || fail "get json: $(cat "$T/out")"
expect 0 put 'sp ace&%' v1
[ "$(get "$(port 1)" 'sp%20ace%26%25')" = v1 ] || fail "key percent-encoded"
expect 0 get --consistent greeting
[ "$(cat "$T/out")" = "hello world" ] || fail "get --consistent: $(cat "$T/out")"
expect 0 delete greeting
[ "$(cat "$T/out")" = OK ] || fail "delete output: $(cat "$T/out")"
[ "$(get "$(port 1)" greeting)" = "" ] || fail "delete: the key is still there"
expect 2 get
one_line "needs one KEY"
expect 2 put onlykey
expect 2 get --consistent --node "$n2" k
expect 2 delete
echo "ok: get (local, --node, --consistent), put (argument and stdin), delete, percent-encoded keys"

# --- snapshot ------------------------------------------------------------------------
expect 0 snapshot take
grep -q "^snapshot taken on $n2 at index [0-9]*$" "$T/out" || fail "snapshot take: $(cat "$T/out")"
expect 0 -o json snapshot take --node "$n1"
[ "$(json 'd["node"]')" = "$n1" ] || fail "snapshot take json: $(cat "$T/out")"
expect 0 snapshot save --node "$n1" "$T/snap.out"
grep -q "^saved [0-9]* bytes from $n1 to $T/snap.out$" "$T/out" || fail "save: $(cat "$T/out")"
[ -s "$T/snap.out" ] && [ ! -e "$T/snap.out.tmp" ] || fail "saved file"
rc snapshot save - >"$T/snap.stdout" || fail "save to stdout"
[ -s "$T/snap.stdout" ] || fail "save to stdout is empty"
echo "ok: snapshot take and save"
expect 2 snapshot
expect 2 snapshot save
one_line "save needs FILE"
expect 2 snapshot frob
expect 1 snapshot save /nonexistent/dir/file
one_line "/nonexistent/dir/file.tmp"

# --- leader --------------------------------------------------------------------------------
expect 0 leader
grep -q "^$n1 http://localhost:$(port 1) term [0-9]*$" "$T/out" || fail "leader show: $(cat "$T/out")"
expect 0 leader transfer "$n3"
grep -q "^leader $n1 -> $n3 (term [0-9]*)$" "$T/out" || fail "transfer: $(cat "$T/out")"
[ "$(wait_leader)" = "$(port 3)" ] || fail "node 3 leads"
expect 0 -o json leader transfer
[ "$(json 'd["from"]')" = "$n3" ] || fail "transfer json: $(cat "$T/out")"
echo "ok: leader transfer (named and picked)"
leader=$(rc -o json leader | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
expect 1 leader transfer "$leader"
one_line "already leads"
expect 2 leader transfer a b
expect 2 leader frob

# --- bench and check perf -------------------------------------------------------------------
expect 0 bench -c 8 -n 400 -k 50 -s 32
grep -q "^put: 400 ok, 0 failed" "$T/out" || fail "bench: $(cat "$T/out")"
grep -q "^latency ms: p50 [0-9.]*  p90 [0-9.]*  p99 [0-9.]*  max [0-9.]*" "$T/out" || fail "bench latency: $(cat "$T/out")"
expect 0 -o json bench --op get -c 4 -n 200 -k 50 --node "$n2"
[ "$(json 'd["ok"]')" = 200 ] && [ "$(json 'd["node"]')" = "$n2" ] || fail "bench get json: $(cat "$T/out")"
[ "$(json 'd["latency_ms"]["p99"] <= d["latency_ms"]["max"]')" = True ] || fail "p99 <= max"
expect 0 bench -c 4 -d 500ms -r 100
ok=$(sed -n 's/^put: \([0-9]*\) ok.*/\1/p' "$T/out")
[ "$ok" -ge 30 ] && [ "$ok" -le 60 ] || fail "bench -r 100 for 0.5 s did $ok requests"
expect 2 bench -c 0
expect 2 bench --op frob
expect 2 bench extra
expect 0 check perf --load s --duration 1s --keys 100
grep -q "^PASS: Throughput is" "$T/out" && grep -q "^PASS: Slowest request took" "$T/out" &&
	[ "$(tail -n 1 "$T/out")" = PASS ] || fail "check perf s: $(cat "$T/out")"
grep -q "^WARN" "$T/out" && fail "check perf cleanup: $(cat "$T/out")"
leader=$(rc -o json leader | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"].rsplit(":", 1)[1])')
[ "$(get "$leader" check-perf-0)" = "" ] || fail "check perf deletes its keys"
expect 0 -o json check perf --duration 500ms --keys 10 --keep
[ "$(json 'd["pass"]')" = True ] && [ "$(json 'd["load"]')" = s ] || fail "check json: $(cat "$T/out")"
[ "$(json 'd["cleaned_up"]')" = True ] && [ "$(get "$leader" check-perf-9 | wc -c)" = 256 ] || fail "check --keep keeps them"
expect 2 check perf --load xxl
one_line "unknown --load 'xxl'"
expect 2 check
echo "ok: bench (put, get, rate) and check perf"

# --- no leader, unreachable -------------------------------------------------------------------
export RAFTCTL_ENDPOINTS="http://$E1,http://$E2,http://$E3"
node_kill 5 2>/dev/null
leader=$(wait_leader)
for n in 1 2 3; do [ "$(port $n)" = "$leader" ] || { node_kill $n; break; }; done
for n in 1 2 3; do [ "$(port $n)" = "$leader" ] && node_kill $n; done
# one node of three left: it answers, but nobody leads
for _ in $(seq 50); do
	rc put k v >"$T/out" 2>"$T/err" || break
	sleep 0.1
done
expect 1 put k v
one_line "no leader"
expect 0 status   # still shows the table
grep -q "unreachable" "$T/out" && grep -q "^no leader" "$T/out" || fail "status without a leader: $(cat "$T/out")"
expect 1 --endpoints "127.0.0.1:1" status
one_line "127.0.0.1:1: connect: Connection refused"
expect 1 --endpoints "127.0.0.1:1,127.0.0.1:2" get k
one_line "127.0.0.1:1: connect: Connection refused; http://127.0.0.1:2: connect"
expect 1 --endpoints "127.0.0.1:1" bench -n 10
one_line "Connection refused"
expect 2 --endpoints "ftp://x" status
echo "ok: failures: no leader, unreachable endpoints, bad endpoint"
