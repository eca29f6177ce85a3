#!/bin/sh
# The data directory as a new operator meets it (issue 17, item 10):
# `raftd --name NAME DIR` creates DIR and its missing parents, as mkdir -p
# (DIR itself 0700), and a config file's data-dir that disagrees with the
# DATA_DIR argument is refused, naming both, instead of silently losing.
. "$(dirname "$0")/lib.sh"

dir=$T/not/there/n1
"$RAFTD" $NOGRPC -p "$(port 1)" --name n1 "$dir" >>"$T/n1.log" 2>&1 &
PID_1=$!
PIDS="$PIDS $!"
for _ in $(seq 200); do
	curl -s -o /dev/null "http://127.0.0.1:$(port 1)/status" && break
	kill -0 "$PID_1" 2>/dev/null || fail "raftd --name n1 $dir exited: $(tail -1 "$T/n1.log")"
	sleep 0.05
done
curl -s -o /dev/null "http://127.0.0.1:$(port 1)/status" || fail "raftd --name n1 $dir does not serve"
[ "$(stat -c %a "$dir")" = 700 ] || fail "$dir has mode $(stat -c %a "$dir"), not 700"
[ -d "$dir/wal" ] || fail "no $dir/wal"
[ "$(wait_leader)" = "$(port 1)" ] || fail "the node does not lead"
echo "ok: --name with a missing data directory creates it (mode 700) and serves"

printf '[raftd]\ndata-dir = %s/conf-dir\n' "$T" > "$T/n2.conf"
# (before the refusal it started and served: the timeout ends it)
timeout -s KILL 20 "$RAFTD" $NOGRPC --config "$T/n2.conf" -p "$(port 2)" "$T/arg-dir" > "$T/out" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "data-dir in the file and another DATA_DIR argument: exit $rc, not 2 ($(cat "$T/out"))"
grep -q "$T/conf-dir" "$T/out" && grep -q "$T/arg-dir" "$T/out" && grep -q "n2.conf" "$T/out" ||
	fail "the refusal names both directories and the file: $(cat "$T/out")"
[ ! -e "$T/conf-dir" ] && [ ! -e "$T/arg-dir" ] || fail "a refused start created a data directory"
echo "ok: data-dir and a different DATA_DIR argument are refused, naming both"

printf '[raftd]\ndata-dir = %s/n3\n' "$T" > "$T/n3.conf"
node_start 3 --config "$T/n3.conf"
echo "ok: the same directory in both is fine"
