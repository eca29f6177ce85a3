#!/bin/sh
# make check: one randomized fault schedule on five nodes, one network
# namespace each, with partitions (halves, leader isolated, bridge, one way)
# among the other faults. Needs root (skipped otherwise). FAULT_SEED=N
# replays a seed.
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 5 --net ns --seconds "${FAULT_SECONDS:-25}" --quiet \
	${FAULT_SEED:+--seed "$FAULT_SEED"}
