#!/bin/sh
# make check: one randomized fault schedule on three nodes on loopback, as
# check-lo.sh, with every value 6,000 bytes longer (fault-client
# --value-pad): long log entries, several to a batch, checksummed by the WAL
# as soon as they are complete; any damage to a value reads as a value no
# write had. FAULT_SEED=N replays a seed.
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 3 --net lo --seconds "${FAULT_SECONDS:-20}" \
	--value-pad 6000 --quiet ${FAULT_SEED:+--seed "$FAULT_SEED"}
