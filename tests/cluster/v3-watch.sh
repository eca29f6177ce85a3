#!/bin/sh
# etcd's Watch service (issue 20) on a 3-node raftd cluster, driven by
# etcdctl 3.4 (etcd-client): a key and a prefix, --rev in the past with
# --prev-kv, a compacted revision, a watcher on a follower that sees every
# write exactly once and in order while the leader is killed, and a reader
# that stops reading: it falls behind without the node buffering for it,
# the others go on, and it is canceled with compact_revision once its
# history is compacted.
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (etcd-client) not installed"; exit 77; }
export ETCDCTL_API=3
GRPC=1

ec() {
	_n=$1
	shift
	etcdctl --endpoints="127.0.0.1:$(grpc_port "$_n")" --command-timeout=10s "$@" >"$T/ec" 2>&1
}
ok() { ec "$@" || fail "etcdctl on node $1 ($*): $(head -c 400 "$T/ec")"; }
# watch_bg NAME N ARGS...: etcdctl watch on node N in the background, its
# output in $T/NAME.w; WPID_NAME its pid
watch_bg() {
	_name=$1 _n=$2
	shift 2
	etcdctl --endpoints="127.0.0.1:$(grpc_port "$_n")" watch "$@" >"$T/$_name.w" 2>&1 &
	eval "WPID_$_name=$!"
	PIDS="$PIDS $!"
}
# lines NAME COUNT: the watcher's output has at least COUNT lines
lines() { [ "$(wc -l <"$T/$1.w")" -ge "$2" ]; }
# until_lines NAME COUNT: waits (60 s) for them
until_lines() { until_ok 60 lines "$1" "$2" || fail "watcher $1: $(wc -l <"$T/$1.w") lines, wanted $2: $(tail -c 300 "$T/$1.w")"; }
# same NAME TEXT: the watcher's output is TEXT (lines joined by spaces)
same() {
	_got=$(tr '\n' ' ' <"$T/$1.w" | sed 's/ *$//')
	[ "$_got" = "$2" ] || fail "watcher $1 printed '$_got', wanted '$2'"
}
# a watcher's stream is open once the node counts it
streams() { curl -s -m 5 "http://127.0.0.1:$(port "$1")/metrics" | sed -n 's/^raftd_watch_streams //p'; }
metric() { curl -s -m 5 "http://127.0.0.1:$(port "$1")/metrics" | sed -n "s/^raftd_$2 //p"; }
has_streams() { [ "$(streams "$1")" -ge "$2" ]; }

# etcd's progress interval (10 minutes), short for the progress_notify check
export RAFTD_WATCH_PROGRESS_MS=700
opts="-h 127.0.0.1 --election-timeout-ms 1000"
# shellcheck disable=SC2086
start_three $opts
make_lead 1

# ---- a key and a prefix, on a follower and the leader --------------------------------------
watch_bg key 2 k1
watch_bg pre 3 p/ --prefix
watch_bg pre1 1 p/ --prefix
until_ok 30 has_streams 2 1 || fail "no watch stream on node 2"
until_ok 30 has_streams 3 1 || fail "no watch stream on node 3"
until_ok 30 has_streams 1 1 || fail "no watch stream on node 1"
ok 1 put k1 v1
ok 2 put p/a 1
ok 3 put k2 nothing
ok 1 put p/b 2
ok 2 del p/a
ok 3 put k1 v2
until_lines key 6
same key "PUT k1 v1 PUT k1 v2"
until_lines pre 8
same pre "PUT p/a 1 PUT p/b 2 DELETE p/a"
until_lines pre1 8
same pre1 "PUT p/a 1 PUT p/b 2 DELETE p/a"
kill "$WPID_key" "$WPID_pre" "$WPID_pre1"
# the streams are freed with their connections
gone() { [ "$(streams 1)" = 0 ] && [ "$(streams 2)" = 0 ] && [ "$(streams 3)" = 0 ]; }
until_ok 30 gone || fail "watch streams left after the clients went: $(streams 1) $(streams 2) $(streams 3)"

# ---- --rev in the past, --prev-kv, filters of etcdctl's interactive mode ---------------------
ok 1 get k1 -w json
rev1=$(python3 -c "import json; print(json.load(open('$T/ec'))['kvs'][0]['create_revision'])")
watch_bg past 2 k1 --rev "$rev1" --prev-kv
until_lines past 7
same past "PUT k1 v1 PUT k1 v1 k1 v2"
kill "$WPID_past"

# ---- a compacted revision: etcd's answer ---------------------------------------------------
ok 1 put k1 v3
ok 1 get k1 -w json
rev=$(python3 -c "import json; print(json.load(open('$T/ec'))['header']['revision'])")
ok 1 compact "$rev"
# node 3 has applied the compaction (a read of its own below it fails)
compacted3() { ! ec 3 get k1 --rev "$rev1" --consistency=s && grep -q compacted "$T/ec"; }
until_ok 30 compacted3 || fail "node 3 has not applied the compaction: $(cat "$T/ec")"
timeout 30 etcdctl --endpoints="127.0.0.1:$(grpc_port 3)" watch k1 --rev "$rev1" >"$T/ec" 2>&1
grep -q "required revision has been compacted" "$T/ec" || fail "watch below the compaction: $(cat "$T/ec")"
# at the compaction itself it replays
watch_bg atc 3 k1 --rev "$rev"
until_lines atc 3
same atc "PUT k1 v3"
kill "$WPID_atc"
# an empty range: created and canceled at once, as etcd
timeout 30 etcdctl --endpoints="127.0.0.1:$(grpc_port 2)" watch b a >"$T/ec" 2>&1 && fail "a watch of an empty range went on"
grep -q "watcher range is empty" "$T/ec" || fail "empty range: $(cat "$T/ec")"

# ---- what etcdctl does not show: IDs, duplicates, filters, prev_kv, progress ----------------
# (watch-proto.py speaks the Watch stream by hand and prints each response)
L=$(wait_leader)
python3 "$(dirname "$0")/watch-proto.py" "$(grpc_port 3)" "create pa - 0 0" "create pa - 0 7 progress" \
	"create pa - 0 7" "create pa pa 0 0" "create pa - 0 0 prev noput" "put $L pa 1" "put $L pa 2" \
	"progress" "cancel 0" "cancel 99" "sleep 2" >"$T/proto" 2>&1 || fail "watch-proto.py: $(cat "$T/proto")"
# line N of its output but progress_notify's (7, no event: they come at
# any time), without the header's revision
grep -v "^id=7 created=0 canceled=0 compact=0 rev=[0-9]* fragment=0 reason= events=$" "$T/proto" >"$T/proto.f"
pline() { sed -n "$1p" "$T/proto.f" | sed 's/ rev=[0-9]*//'; }
# etcd's IDs: from 0 per stream, the client's own, -1 for a refused one
[ "$(pline 1)" = "id=0 created=1 canceled=0 compact=0 fragment=0 reason= events=" ] || fail "1: $(pline 1)"
[ "$(pline 2)" = "id=7 created=1 canceled=0 compact=0 fragment=0 reason= events=" ] || fail "2: $(pline 2)"
[ "$(pline 3)" = "id=-1 created=1 canceled=1 compact=0 fragment=0 reason=mvcc: duplicate watch ID provided on the WatchStream events=" ] ||
	fail "3: $(pline 3)"
[ "$(pline 4)" = "id=-1 created=1 canceled=1 compact=0 fragment=0 reason=mvcc: watcher range is empty events=" ] ||
	fail "4: $(pline 4)"
[ "$(pline 5)" = "id=1 created=1 canceled=0 compact=0 fragment=0 reason= events=" ] || fail "5: $(pline 5)"
# events: the NOPUT watcher (1) gets none
grep -v "progress" "$T/proto" | grep "events=PUT" | sed 's/ rev=[0-9]*//' >"$T/proto.ev"
[ "$(tr '\n' ' ' <"$T/proto.ev")" = "id=0 created=0 canceled=0 compact=0 fragment=0 reason= events=PUT:pa:1 \
id=7 created=0 canceled=0 compact=0 fragment=0 reason= events=PUT:pa:1 \
id=0 created=0 canceled=0 compact=0 fragment=0 reason= events=PUT:pa:2 \
id=7 created=0 canceled=0 compact=0 fragment=0 reason= events=PUT:pa:2 " ] || fail "events: $(cat "$T/proto")"
# the progress request's answer (-1), the cancel's (an unknown ID: none),
# and progress_notify's (7, no event, once per interval)
grep -q "^id=-1 created=0 canceled=0 compact=0 rev=[0-9]* fragment=0 reason= events=$" "$T/proto" ||
	fail "no progress answer: $(cat "$T/proto")"
grep -q "^id=0 created=0 canceled=1 compact=0 rev=[0-9]* fragment=0 reason= events=$" "$T/proto" ||
	fail "no cancel answer: $(cat "$T/proto")"
grep -q "id=99" "$T/proto" && fail "an unknown ID's cancel was answered"
[ "$(grep -c "^id=7 created=0 canceled=0 compact=0 rev=[0-9]* fragment=0 reason= events=$" "$T/proto")" -ge 2 ] ||
	fail "no progress notifications: $(cat "$T/proto")"
# prev_kv on a watcher that replays (from the compaction: the history kept)
python3 "$(dirname "$0")/watch-proto.py" "$(grpc_port 2)" "create pa - $rev 0 prev" >"$T/proto2" 2>&1
grep -q "events=PUT:pa:1,PUT:pa:2:prev=1\|events=PUT:pa:2:prev=1" "$T/proto2" || fail "prev_kv: $(cat "$T/proto2")"

# ---- a follower's watcher across a leader kill: every write once, in order --------------------
ok 1 get x -w json
start=$(python3 -c "import json; print(json.load(open('$T/ec'))['header']['revision'] + 1)")
watch_bg fol 3 w/ --prefix
until_ok 30 has_streams 3 1 || fail "no watch stream on node 3"
# writes through node 2 (a follower, forwarding to the leader); acknowledged ones logged
: >"$T/acked"
for i in $(seq 1 60); do
	if [ "$i" = 20 ]; then node_kill 1; fi
	for _ in $(seq 30); do
		if ec 2 put "w/$((i % 7))" "$i"; then echo "$i" >>"$T/acked"; break; fi
		sleep 0.3
	done
done
[ "$(wc -l <"$T/acked")" = 60 ] || fail "only $(wc -l <"$T/acked") of 60 writes acknowledged"
# the history from the start revision, as node 2 replays it, is what the
# live watcher got: every change once, in order, none skipped
ok 2 get x -w json
end=$(python3 -c "import json; print(json.load(open('$T/ec'))['header']['revision'])")
n=$(( (end - start + 1) * 3 ))
until_lines fol "$n"
etcdctl --endpoints="127.0.0.1:$(grpc_port 2)" watch w/ --prefix --rev "$start" >"$T/hist.w" 2>&1 &
PIDS="$PIDS $!"
until_lines hist "$n"
sleep 0.5 # nothing beyond them may come: the comparison below would see it
cmp "$T/fol.w" "$T/hist.w" || fail "the live watcher differs from the history: $(diff "$T/fol.w" "$T/hist.w" | head)"
# every acknowledged value is there
for i in $(cat "$T/acked"); do grep -qx "$i" "$T/fol.w" || fail "acknowledged write $i not seen by the watcher"; done
node_start 1 $opts

# ---- a reader that stops reading ---------------------------------------------------------
# watch-slow.py opens a Watch and neither reads nor opens its HTTP/2 window
# until $T/go exists (etcdctl cannot: clientv3 buffers whatever comes). The
# node's per-call budget fills, it stops queueing for that watcher (which
# falls behind, unsynced) and goes on serving another watcher of the same
# node. Once the history it has not read is compacted and it reads again,
# it gets what was queued, in order, then etcd's compacted cancel.
python3 "$(dirname "$0")/watch-slow.py" "$(grpc_port 2)" s "$T/go" "$T/slow.out" &
PIDS="$PIDS $!"
watch_bg fast 2 s --prefix
until_ok 30 has_streams 2 2 || fail "no watch streams on node 2: $(streams 2)"
pad=$(head -c 100000 /dev/zero | tr '\0' x)
L=$(wait_leader)
# (a write retried after a lost answer may land twice: the checks below
# take each value once, in order)
for i in $(seq 1 100); do
	for _ in $(seq 20); do
		[ "$(curl -s -m 30 -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$L/db/s$((i % 5))" \
			--data-binary "$i-$pad")" = 200 ] && break
		L=$(wait_leader)
	done
done
fast_done() { [ "$(grep -c -- "-x" "$T/fast.w")" -ge 100 ]; }
until_ok 120 fast_done || fail "the other watcher got $(grep -c -- "-x" "$T/fast.w") of 100 events"
[ "$(grep -- "-x" "$T/fast.w" | cut -d- -f1 | uniq | tr '\n' ' ')" = "$(seq 1 100 | tr '\n' ' ')" ] ||
	fail "the other watcher's events are not 1..100 in order"
behind() { [ "$(metric 2 watchers_unsynced)" -ge 1 ]; }
until_ok 30 behind || fail "the slow watcher is not behind: $(metric 2 watchers_unsynced)"
[ "$(metric 2 watch_stream_full_total)" -ge 1 ] || fail "no full stream counted"
mem=$(metric 2 watch_memory_bytes)
[ "$mem" -lt 65536 ] || fail "watch memory $mem bytes for two watchers"
# compact past what it got; it then reads
ok 2 get x -w json
rev=$(python3 -c "import json; print(json.load(open('$T/ec'))['header']['revision'])")
ok 2 compact "$rev"
compacted2() { ! ec 2 get s1 --rev 2 --consistency=s && grep -q compacted "$T/ec"; }
until_ok 30 compacted2 || fail "node 2 has not applied the compaction"
touch "$T/go"
slow_done() { grep -q "^C " "$T/slow.out" 2>/dev/null; }
until_ok 120 slow_done || fail "the slow watcher was not canceled: $(tail -c 300 "$T/slow.out")"
grep -qx "C $rev" "$T/slow.out" || fail "canceled without compact_revision $rev: $(tail -1 "$T/slow.out")"
got=$(grep "^E" "$T/slow.out" | cut -c3- | tr ' ' '\n' | uniq | wc -l)
[ "$got" -lt 100 ] || fail "the slow watcher got every event: it was not slow"
[ "$(grep "^E" "$T/slow.out" | cut -c3- | tr ' ' '\n' | uniq | tr '\n' ' ')" = "$(seq 1 "$got" | tr '\n' ' ')" ] ||
	fail "the slow watcher's events are not 1..$got in order: $(cut -c1-200 "$T/slow.out")"
[ "$(metric 2 watch_compacted_total)" -ge 1 ] || fail "no compacted watcher counted"

echo "PASS"
