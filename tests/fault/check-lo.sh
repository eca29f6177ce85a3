#!/bin/sh
# make check: one randomized fault schedule on three nodes on loopback
# (kills, pauses, the followers paused while the leader dies, WAL
# failpoints, leave and rejoin under load; power failures and a full file
# system when run as root, on loop devices). FAULT_SEED=N replays a seed.
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 3 --net lo --seconds "${FAULT_SECONDS:-25}" --quiet \
	${FAULT_SEED:+--seed "$FAULT_SEED"}
