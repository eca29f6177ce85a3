#!/bin/sh
# make check (issue 19): one randomized fault schedule on three nodes on
# loopback (as check-lo.sh: kills, pauses, the followers paused while the
# leader dies, WAL failpoints, leave and rejoin under load; power failures
# and a full file system as root) with fault-client speaking etcd's v3 API
# beside /db on the same keys (run.sh --v3): v3 Puts, linearizable Ranges
# and Txn compare-and-swaps on value and on mod_revision, one history
# checked across both APIs. Seeded (the schedule and the clients' choices
# follow the seed; FAULT_SEED=N picks another).
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 3 --net lo --v3 --seconds "${FAULT_SECONDS:-25}" --quiet \
	--seed "${FAULT_SEED:-1919}"
