#!/bin/sh
# Negative control: raftd-nofsync (the WAL never syncs) must lose
# acknowledged writes when every node loses power at once (data on loop
# devices; an image copy is what survives), within three short schedules.
# Needs root (skipped otherwise). Passes when caught: either acknowledged
# writes are missing at the end, or the nodes cannot start again because
# what they had written never reached the disk (a segment header that was
# never synced), so that the cluster does not come back. Both are the
# suite noticing a WAL that lies about durability.
here=$(dirname "$0")
bin=${top_builddir:-.}/tests/fault/raftd-nofsync
save=${top_builddir:-.}/tests/fault/controls
for try in 1 2 3; do
	out=$(FINAL_WAIT_S=20 timeout -k 10 120 "$here/run.sh" --nodes 3 --net lo --disk loop --seconds 10 --quiet \
		--faults powerall --raftd "$bin" --save "$save" ${FAULT_SEED:+--seed "$FAULT_SEED"})
	rc=$?
	echo "$out" | tail -1
	[ "$rc" = 77 ] && exit 77
	case $out in
	*" lost=0 "*" converged=no crashed="[1-9]*) ;;
	*" lost=0 "*) continue ;;
	*" lost="*) ;;
	*) continue ;;
	esac
	[ "$rc" = 1 ] && { echo "caught on schedule $try"; rm -rf "$save"; exit 0; }
done
echo "FAIL: a WAL without fsync was not caught in three schedules"
exit 1
