#!/bin/bash
# tests/fault/kill9.sh CYCLES [PER_RUN] — kill -9 cycles under load (make
# fault-kill9): a node (the leader half of the time) killed and restarted
# CYCLES times, as runs of PER_RUN cycles (default 100) on fresh three-node
# clusters, each run's history checked in full. Exits 1 if anything was
# lost, not linearizable or crashed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cycles=${1:-1000} per=${2:-100}
seed=${FAULT_SEED:-$(( $(date +%s) % 100000 * 10 ))}
done_=0 runs=0 failed=0 ops=0 wok=0 lost=0 viol=0 t0=$(date +%s)
while [ "$done_" -lt "$cycles" ]; do
	n=$(( cycles - done_ < per ? cycles - done_ : per ))
	line=$(timeout -k 10 $((n * 3 + 240)) "$here/run.sh" --nodes 3 --net lo --cycles "$n" --seed $((seed + runs)) \
		--quiet | tail -1)
	runs=$((runs + 1)) done_=$((done_ + n))
	echo "[$done_/$cycles cycles] $line"
	case $line in
	RESULT*PASS) rc=0 ;;
	RESULT*" ops="*) rc=1 ;;
	*) line="RESULT lost=0 violations=0 ops=0 writes_ok=0" rc=1 ;;
	esac
	v() { local x; x=$(sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"); echo "${x:-0}"; }
	ops=$((ops + $(v ops))) wok=$((wok + $(v writes_ok))) lost=$((lost + $(v lost))) viol=$((viol + $(v violations)))
	[ "$rc" = 0 ] || failed=$((failed + 1))
done
echo "fault-kill9: $cycles kill -9 cycles in $runs runs in $(( $(date +%s) - t0 )) s: $failed runs failed;" \
	"$ops operations, $wok acknowledged writes, $lost lost, $viol violations"
[ "$failed" = 0 ]
