#!/bin/sh
# Five raftd nodes: the cluster keeps committing with two of them down (the
# leader among them), refuses to with three down, and converges when they
# return.
. "$(dirname "$0")/lib.sh"
node_start 1
for n in 2 3 4 5; do
	node_start $n -join "127.0.0.1:$(port 1)"
done
put_leader a 1 || fail "write with five members"
for n in 2 3 4 5; do wait_value "$(port $n)" a 1 || fail "node $n has a"; done
echo "ok: five members"

node_kill 1
node_kill 2
put_leader b 2 || fail "write with three of five"
leader=$LEADER
echo "ok: two down (the leader among them), still committing"

others=""
for n in 3 4 5; do [ "$(port $n)" = "$leader" ] || others="$others $n"; done
for n in $others; do node_kill "$n"; done
code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' -XPOST "http://127.0.0.1:$leader/db/c" -d 3)
[ "$code" != 200 ] || fail "a write committed with one of five"
echo "ok: one of five commits nothing (HTTP $code)"

for n in 1 2 $others; do node_start "$n"; done
put_leader d 4 || fail "write after the restarts"
for n in 1 2 3 4 5; do wait_value "$(port $n)" d 4 || fail "node $n has d"; done
for n in 1 2 3 4 5; do wait_value "$(port $n)" b 2 || fail "node $n has b"; done
echo "ok: all five converge"
