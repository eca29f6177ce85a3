#!/bin/sh
# Negative control of check-tls.sh: its schedule (mutual TLS, kill -9 of
# the leader, partitions, a member's leave and rejoin, the leader killed
# while its followers are paused) against raftd-test with
# RAFTD_TEST_RAFT_FAULT=1 (a leader commits its own entries without a
# majority) must be caught, as lost acknowledged writes or a history that
# is not linearizable, within three schedules: what fault-client records
# over HTTPS is checked as it is over HTTP. Needs root and certtool
# (skipped otherwise). Passes when caught.
here=$(dirname "$0")
save=${top_builddir:-.}/tests/fault/controls-tls
for try in 1 2 3; do
	out=$(FINAL_WAIT_S=20 timeout -k 10 120 "$here/run.sh" --nodes 3 --net ns --tls --seconds 20 --quiet \
		--order seq --faults killleader,partition,member,pausekill,partition --node-env RAFTD_TEST_RAFT_FAULT=1 \
		--save "$save" ${FAULT_SEED:+--seed "$FAULT_SEED"})
	rc=$?
	echo "$out" | tail -1
	[ "$rc" = 77 ] && exit 77
	case $out in
	*" lost=0 violations=0 "*) ;;
	*" lost="*" violations="*)
		[ "$rc" = 1 ] && { echo "caught on schedule $try"; rm -rf "$save"; exit 0; } ;;
	esac
done
echo "FAIL: RAFTD_TEST_RAFT_FAULT=1 was not caught in three TLS schedules"
exit 1
