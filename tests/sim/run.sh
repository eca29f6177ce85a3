#!/bin/sh
# CI run of the Raft simulator: SIM_SEEDS seeds (mixed 3/5/7-member
# clusters) split over two processes, then 500 seeds under forged vote
# requests (huge terms, members' and strangers' names) and 500 where
# restarted nodes may have lost their disk (they recover), 1000 where
# followers serve reads through their leader's read index, then the negative
# controls: with a deliberately broken rule the checkers must report a
# violation.
sim="${top_builddir:-.}/tests/sim/sim"
seeds="${SIM_SEEDS:-3000}"
half=$(( seeds / 2 ))
status=0
"$sim" --from 1 --count "$half" > sim-a.log 2>&1 &
pa=$!
"$sim" --from $(( half + 1 )) --count $(( seeds - half )) > sim-b.log 2>&1 &
pb=$!
wait $pa || status=1
wait $pb || status=1
cat sim-a.log sim-b.log
rm -f sim-a.log sim-b.log
[ $status = 0 ] || exit 1
# a trace carries the cores' own lines (raft_config.trace)
"$sim" --seed 1 --trace | grep -q '^ *[0-9]*   raft: .* t[0-9]*: leader, nop at ' || {
	echo "sim --trace: no core trace line"
	exit 1
}
"$sim" --hostile --from 1 --count 500 || exit 1
"$sim" --wipes --from 1 --count 500 || exit 1
"$sim" --follower-reads --from 1 --count 1000 || exit 1
"$sim" --fault commit --from 1 --count 300 --expect-violation || exit 1
"$sim" --fault vote --from 1 --count 1000 --expect-violation || exit 1
"$sim" --fault read --from 1 --count 1000 --expect-violation || exit 1
"$sim" --fault join --from 1 --count 1000 --expect-violation || exit 1
"$sim" --fault fread --from 1 --count 1000 --expect-violation || exit 1
exit 0
