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
# Node 1 founds the cluster and leads at first, but nothing keeps it
# leading on a loaded machine: the checks below name whichever node leads,
# and steady (lib.sh) repeats those an election interrupted.
# leader_name: the name of the node that leads at the highest term
leader_name() { newest_leader | cut -d' ' -f3; }
# name_port NAME: the port of member NAME among nodes 1-3
name_port() { for _i in 1 2 3; do [ "$(eval echo \$n$_i)" = "$1" ] && port $_i; done; }

node_start 1
node_start 2 -join "127.0.0.1:$(port 1)"
node_start 3 -join "127.0.0.1:$(port 1)"
wait_leader >/dev/null || fail "no leader"
E1=127.0.0.1:$(port 1) E2=127.0.0.1:$(port 2) E3=127.0.0.1:$(port 3)
n1=$(status_field "$(port 1)" name) n2=$(status_field "$(port 2)" name) n3=$(status_field "$(port 3)" name)

# --- status ----------------------------------------------------------------
export RAFTCTL_ENDPOINTS="http://$E2"  # often a follower: the leader is found through it
# role_of NAME: what NAME's status must say while $L leads
role_of() { if [ "$1" = "$L" ]; then echo leader; else echo follower; fi; }
status_checks() {
	L=$(leader_name)
	for _ in $(seq 50); do
		expect 0 status
		[ "$(grep -c ' follower ' "$T/out")" = 2 ] && break
		sleep 0.1
	done
	grep -q "^leader $L, term " "$T/out" || fail "status header ($L leads): $(cat "$T/out")"
	grep -q "^$L .* leader " "$T/out" || fail "status: $L's row: $(cat "$T/out")"
	[ "$(grep -c -E "^($n1|$n2|$n3) " "$T/out")" = 3 ] || fail "status rows: $(cat "$T/out")"
	grep -q "^NAME .* ROLE .* KIND .* TERM .* COMMIT .* APPLIED .* LAG" "$T/out" || fail "status columns: $(cat "$T/out")"
	expect 0 status -o json
	[ "$(json 'd["leader"]')" = "$L" ] || fail "status json leader ($L leads): $(cat "$T/out")"
	[ "$(json 'len(d["members"])')" = 3 ] || fail "status json members"
	[ "$(json 'sorted(m["role"] for m in d["members"])')" = "['follower', 'follower', 'leader']" ] ||
		fail "status json roles: $(cat "$T/out")"
	expect 0 status "$n3"
	grep -q "^name: *$n3$" "$T/out" && grep -q "^role: *$(role_of "$n3")$" "$T/out" ||
		fail "status NODE ($L leads): $(cat "$T/out")"
	expect 0 --endpoints "$E3" -o json status "http://$E1"
	[ "$(json 'd["name"]')" = "$n1" ] && [ "$(json 'd["role"]')" = "$(role_of "$n1")" ] ||
		fail "status URL json ($L leads): $(cat "$T/out")"
}
steady status_checks
expect 1 status nosuchnode
one_line "no member named 'nosuchnode'"
echo "ok: status (table, json, one node by name and by URL)"

# --- members -----------------------------------------------------------------
members_list() {
	L=$(leader_name)
	expect 0 members list
	grep -q "^$L .* leader " "$T/out" || fail "members list ($L leads): $(cat "$T/out")"
	[ "$(grep -c ' follower ' "$T/out")" = 2 ] || fail "members list: $(cat "$T/out")"
	# status and members list say the same: NAME ROLE KIND
	awk 'NR > 1 { print $1, $3, $5 }' "$T/out" | sort >"$T/members.words"
	expect 0 status
	awk '/^NAME / { t = 1; next } t { print $1, $3, $4 }' "$T/out" | sort >"$T/status.words"
	cmp -s "$T/members.words" "$T/status.words" ||
		fail "status and members list differ: $(cat "$T/status.words") vs $(cat "$T/members.words")"
}
steady members_list
expect 0 -o json members
[ "$(json 'len(d)')" = 3 ] || fail "members json"
# a joiner asks the one address it is given, and only the leader takes joins
node_start 4 -join "127.0.0.1:$(newest_leader | cut -d' ' -f1)"
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
node_start 5 --name n5 -join "127.0.0.1:$(newest_leader | cut -d' ' -f1)"   # the node comes up as the member added
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
for _ in $(seq 50); do # a local read: until this node has applied it
	expect 0 get --node "$n3" greeting
	[ "$(cat "$T/out")" = "hello world" ] && break
	sleep 0.1
done
[ "$(cat "$T/out")" = "hello world" ] || fail "get --node: $(cat "$T/out")"
printf 'from\nstdin' | rc put multi - >/dev/null || fail "put from stdin"
for _ in $(seq 50); do # a local read: until this node has applied it
	expect 0 -o json get --node "$n1" multi
	[ "$(json 'd["value"]')" = "$(printf 'from\nstdin')" ] && break
	sleep 0.1
done
[ "$(json 'd["value"]')" = "$(printf 'from\nstdin')" ] || fail "get json: $(cat "$T/out")"
expect 0 put 'sp ace&%' v1
wait_value "$(port 1)" 'sp%20ace%26%25' v1 || fail "key percent-encoded"
expect 0 get --consistent greeting
[ "$(cat "$T/out")" = "hello world" ] || fail "get --consistent: $(cat "$T/out")"
expect 0 delete greeting
[ "$(cat "$T/out")" = OK ] || fail "delete output: $(cat "$T/out")"
wait_value "$(port 1)" greeting "" || fail "delete: the key is still there"
expect 2 get
one_line "needs one KEY"
expect 2 put onlykey
expect 2 get --consistent --node "$n2" k
expect 2 get --consistent --local k
expect 2 delete
echo "ok: get (local, --node, --consistent), put (argument and stdin), delete, percent-encoded keys"

# --- get is linearizable by default, and says when a key is missing ---------------
# A follower as the first endpoint: each get sees the put just before it
# (a follower serves it through the leader's read index). Leadership may
# move meanwhile; the guarantee holds whoever leads.
L=$(leader_name)
for _n in "$n1" "$n2" "$n3"; do [ "$_n" != "$L" ] && F=$(name_port "$_n"); done
for i in $(seq 20); do
	expect 0 --endpoints "127.0.0.1:$F,$E1,$E2,$E3" put lin "v$i"
	expect 0 --endpoints "127.0.0.1:$F,$E1,$E2,$E3" get lin
	[ "$(cat "$T/out")" = "v$i" ] || fail "get $i after put through follower $F: '$(cat "$T/out")'"
done
expect 1 get never-written
one_line "never-written: not found"
[ ! -s "$T/out" ] || fail "a missing key prints nothing on stdout: $(cat "$T/out")"
expect 1 get --local never-written
one_line "never-written: not found"
expect 1 -o json get never-written
[ "$(json 'd["value"]')" = None ] || fail "a missing key in JSON: $(cat "$T/out")"
expect 0 put empty ""
expect 0 get empty
[ "$(cat "$T/out")" = "" ] && [ ! -s "$T/err" ] || fail "an empty value: '$(cat "$T/out")' $(cat "$T/err")"
echo "ok: get is linearizable by default (20 of 20 through a follower); a missing key exits 1, an empty value 0"

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
leader_show() {
	L=$(leader_name)
	expect 0 leader
	grep -q "^$L http://localhost:$(name_port "$L") term [0-9]*$" "$T/out" || fail "leader show ($L leads): $(cat "$T/out")"
}
steady leader_show
# The transfer's answer names who leads next and at which term. After it, a
# node leads at that term or a later one (an election may follow on a busy
# machine), and at that term only the target (Election Safety). A transfer
# takes one election of its own (steady -e 1).
transfer_named() {
	L=$(leader_name)
	to=$n3
	[ "$L" = "$n3" ] && to=$n2
	expect 0 leader transfer "$to"
	grep -q "^leader $L -> $to (term [0-9]*)$" "$T/out" || fail "transfer: $(cat "$T/out")"
	why=$(led_at "$(sed 's/.*(term \([0-9]*\))$/\1/' "$T/out")" "$to") || fail "after the transfer to $to: $why"
}
steady -e 1 transfer_named
transfer_picked() {
	L=$(leader_name)
	expect 0 -o json leader transfer
	[ "$(json 'd["from"]')" = "$L" ] && [ "$(json 'd["to"]')" != "$L" ] && [ "$(json 'd["asked"]')" = "$(json 'd["to"]')" ] ||
		fail "transfer json ($L led): $(cat "$T/out")"
	why=$(led_at "$(json 'd["term"]')" "$(json 'd["to"]')") || fail "after the transfer: $why"
}
steady -e 1 transfer_picked
echo "ok: leader transfer (named and picked)"
transfer_self() {
	leader=$(rc -o json leader | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
	expect 1 leader transfer "$leader"
	one_line "already leads"
}
steady transfer_self
expect 2 leader transfer a b
expect 2 leader frob

# --- bench and check perf -------------------------------------------------------------------
# bench writes to the leader it found first: a write fails if leadership moves
bench_put() {
	expect 0 bench -c 8 -n 400 -k 50 -s 32
	grep -q "^put: 400 ok, 0 failed" "$T/out" || fail "bench: $(cat "$T/out")"
	grep -q "^latency ms: p50 [0-9.]*  p90 [0-9.]*  p99 [0-9.]*  max [0-9.]*" "$T/out" || fail "bench latency: $(cat "$T/out")"
}
steady bench_put
expect 0 -o json bench --op get -c 4 -n 200 -k 50 --node "$n2"
[ "$(json 'd["ok"]')" = 200 ] && [ "$(json 'd["node"]')" = "$n2" ] || fail "bench get json: $(cat "$T/out")"
[ "$(json 'd["latency_ms"]["p99"] <= d["latency_ms"]["max"]')" = True ] || fail "p99 <= max"
# the rate caps the requests every time; that they reach it is up to the
# machine: one run of three must (a busy machine stalls a run now and then)
for _ in 1 2 3; do
	expect 0 bench -c 4 -d 500ms -r 100
	ok=$(sed -n 's/^put: \([0-9]*\) ok.*/\1/p' "$T/out")
	[ "$ok" -le 60 ] || fail "bench -r 100 for 0.5 s did $ok requests"
	[ "$ok" -ge 30 ] && break
done
[ "$ok" -ge 30 ] || fail "bench -r 100 for 0.5 s did $ok requests, three times"
expect 2 bench -c 0
expect 2 bench --op frob
expect 2 bench extra
# check perf qualifies the machine: its PASS is up to the machine (a busy
# one fails the throughput or the slowest request), its verdict must follow
# from what it measured. Its writes and their cleanup go to one leader: a
# failed write or a cleanup warning is an election's (steady) or a bug.
check_perf() {
	rc check perf --load s --duration 1s --keys 100 >"$T/out" 2>"$T/err"
	got=$?
	grep -q "^\(PASS: Throughput is\|FAIL: Throughput too low\)" "$T/out" &&
		grep -q "^\(PASS: Slowest request took\|FAIL: Slowest request took too long\)" "$T/out" ||
		fail "check perf s: $(cat "$T/out") $(cat "$T/err")"
	grep -q "writes failed" "$T/out" && fail "check perf s: $(cat "$T/out")"
	grep -q "^WARN" "$T/out" && fail "check perf cleanup: $(cat "$T/out")"
	if grep -q "^FAIL: " "$T/out"; then verdict=FAIL want=1; else verdict=PASS want=0; fi
	[ "$(tail -n 1 "$T/out")" = $verdict ] && [ $got = $want ] || fail "check perf s: exit $got: $(cat "$T/out")"
	[ $got = 0 ] || echo "# check perf s on this machine: $(grep '^FAIL: ' "$T/out" | tr '\n' ' ')"
	leader=$(rc -o json leader | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"].rsplit(":", 1)[1])')
	wait_value "$leader" check-perf-0 "" || fail "check perf deletes its keys"
}
steady check_perf
check_perf_json() {
	rc -o json check perf --duration 500ms --keys 10 --keep >"$T/out" 2>"$T/err"
	got=$?
	[ "$(json 'd["load"]')" = s ] && [ "$(json 'd["failed"]')" = 0 ] && [ "$(json 'd["cleaned_up"]')" = True ] ||
		fail "check json: $(cat "$T/out") $(cat "$T/err")"
	[ "$(json 'd["pass"] == (d["throughput"] >= 0.9 * d["rate"] and d["latency_ms"]["max"] <= 500)')" = True ] &&
		[ $got = "$(json '0 if d["pass"] else 1')" ] || fail "check json: verdict, exit $got: $(cat "$T/out")"
	leader=$(rc -o json leader | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"].rsplit(":", 1)[1])')
	for _ in $(seq 100); do
		[ "$(get "$leader" check-perf-9 | wc -c)" = 256 ] && return 0
		sleep 0.05
	done
	fail "check --keep keeps them"
}
steady check_perf_json
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
