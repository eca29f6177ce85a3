#!/bin/sh
# make check: the hostile-peer schedule on three nodes on loopback, each
# fault once in this order (run.sh's header says what each forges and what
# must hold after it): forged votes at term + 1000 and at 2^64-1 with real
# member names, AppendEntries from an invented leader, a snapshot from a
# follower, 5,000 idle and 1,100 slowloris connections, 3 x 400 MiB bodies,
# three joins of members that never answer;
# then the checks of every run (nothing acknowledged lost, linearizable
# histories, convergence). The term overflow goes last: while it is not
# fixed, no leader is elected after it. A fault whose check fails logs a
# HOSTILE-FAIL line naming the issue 16 item it waits for, and fails the
# run (these lines are printed even with --quiet). Needs no root. FAULT_SEED=N replays a seed.
FINAL_WAIT_S=${FINAL_WAIT_S:-20}
export FINAL_WAIT_S
exec timeout -k 10 170 "$(dirname "$0")/run.sh" --nodes 3 --net lo \
	--disk dir --seconds "${FAULT_SECONDS:-20}" --order seq --quiet \
	--faults hvote,hae,hsnap,hflood,hslow,hbody,hjoin,hvotemax ${FAULT_SEED:+--seed "$FAULT_SEED"}
