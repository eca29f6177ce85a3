#!/bin/sh
# Negative control of check-v3-watch.sh (issue 20): raftd-test with
# RAFTD_TEST_RAFT_FAULT=1 (a leader commits its own entries without a
# majority) under schedules of the leader left alone (followers paused,
# then the leader killed) must be caught by the watch check itself: a
# watcher on the lone leader saw revisions the new leader then filled with
# other writes, so it misses acknowledged writes, or its events differ from
# another watcher's at the same revision. Three watchers, within three
# short schedules. Passes when caught.
here=$(dirname "$0")
save=${top_builddir:-.}/tests/fault/controls-v3-watch
for try in 1 2 3; do
	out=$(WATCHERS=3 FAULT_LEASE=0 FINAL_WAIT_S=20 timeout -k 10 150 "$here/run.sh" --nodes 3 --net lo --disk dir \
		--v3 --watch --seconds 10 --quiet --faults pausekill --node-env RAFTD_TEST_RAFT_FAULT=1 \
		--save "$save" --seed "$(( ${FAULT_SEED:-2020} + try ))")
	rc=$?
	echo "$out" | grep -E '^ *\[[0-9.]*\] +watch: VIOLATION' | head -3
	echo "$out" | tail -1
	case $out in
	*" watch_violations=0 "*) ;;
	*" watch_violations="[0-9]*)
		[ "$rc" = 1 ] && { echo "caught by the watch check on schedule $try"; rm -rf "$save"; exit 0; } ;;
	esac
	[ "$rc" = 77 ] && exit 77
done
echo "FAIL: RAFTD_TEST_RAFT_FAULT=1 was not caught by the watch check in three schedules"
exit 1
