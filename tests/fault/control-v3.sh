#!/bin/sh
# Negative control of check-v3.sh: with fault-client's operations through
# the v3 API only (Puts, linearizable Ranges, Txn compare-and-swaps; the
# end-of-run reads are /db's), raftd-test with RAFTD_TEST_RAFT_FAULT=1 (a
# leader commits its own entries without a majority) must be caught, as
# lost acknowledged writes or a history that is not linearizable, within
# three short schedules of the leader left alone (followers paused, then
# the leader killed). Passes when caught.
here=$(dirname "$0")
save=${top_builddir:-.}/tests/fault/controls-v3
for try in 1 2 3; do
	out=$(CLIENT_ARGS="--mix 0,0,0,0,25,25,25,25" FINAL_WAIT_S=20 timeout -k 10 120 "$here/run.sh" --nodes 3 \
		--net lo --disk dir --v3 --seconds 10 --quiet --faults pausekill --node-env RAFTD_TEST_RAFT_FAULT=1 \
		--save "$save" --seed "$(( ${FAULT_SEED:-1919} + try ))")
	rc=$?
	echo "$out" | tail -1
	case $out in
	*" lost=0 violations=0 "*) ;;
	*" lost="*" violations="*)
		[ "$rc" = 1 ] && { echo "caught on schedule $try"; rm -rf "$save"; exit 0; } ;;
	esac
	[ "$rc" = 77 ] && exit 77
done
echo "FAIL: RAFTD_TEST_RAFT_FAULT=1 was not caught through the v3 API in three schedules"
exit 1
