#!/bin/bash
# tests/fault/long.sh SCHEDULES SECONDS — the long fault campaign (make
# fault-long): SCHEDULES randomized schedules of SECONDS each, rotating
# through 3 and 5 nodes, loopback and network namespaces (namespaces and
# loop-device disks only as root), every fault kind, every third schedule
# with values 6 KB longer (run.sh --value-pad). Prints one RESULT line
# per schedule and a summary; exits 1 if any schedule failed. Failing runs
# are saved with their seeds (tests/fault/failures). FAULT_SEED=N: seeds
# N, N+1, ... FAULT_LONG_ARGS: more run.sh options for every schedule
# (--v3: the v3 and /db clients).
set -u
here=$(cd "$(dirname "$0")" && pwd)
schedules=${1:-100} seconds=${2:-60}
seed=${FAULT_SEED:-$(( $(date +%s) % 100000 * 10 ))}
configs=("--nodes 3 --net lo" "--nodes 5 --net lo")
[ "$(id -u)" = 0 ] && command -v nft >/dev/null &&
	configs=("--nodes 3 --net lo" "--nodes 5 --net ns" "--nodes 3 --net ns" "--nodes 5 --net lo")
passed=0 failed=0 ops=0 wok=0 lost=0 viol=0 t0=$(date +%s)
for i in $(seq 0 $((schedules - 1))); do
	c=${configs[$((i % ${#configs[@]}))]}
	# every third schedule with long values (6 KB: the disks hold a minute)
	[ $((i % 3)) = 2 ] && c="$c --value-pad 6000"
	# shellcheck disable=SC2086
	line=$(timeout -k 10 $((seconds * 3 + 180)) "$here/run.sh" $c ${FAULT_LONG_ARGS:-} --seconds "$seconds" --seed $((seed + i)) --quiet | tail -1)
	echo "[$((i + 1))/$schedules] $line"
	case $line in
	RESULT*PASS) rc=0 ;;
	RESULT*" ops="*) rc=1 ;;
	*) line="RESULT lost=0 violations=0 ops=0 writes_ok=0" rc=1 ;;
	esac
	v() { local x; x=$(sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"); echo "${x:-0}"; }
	ops=$((ops + $(v ops))) wok=$((wok + $(v writes_ok))) lost=$((lost + $(v lost))) viol=$((viol + $(v violations)))
	[ "$rc" = 0 ] && passed=$((passed + 1)) || failed=$((failed + 1))
done
echo "fault-long: $schedules schedules of ${seconds} s (seeds $seed..$((seed + schedules - 1))) in $(( $(date +%s) - t0 )) s:" \
	"$passed passed, $failed failed; $ops operations, $wok acknowledged writes, $lost lost, $viol violations"
[ "$failed" = 0 ]
