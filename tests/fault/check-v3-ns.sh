#!/bin/sh
# make check (issue 19): check-v3.sh's v3 and /db clients on three nodes in
# network namespaces (run.sh --v3 --net ns), with the faults in this order,
# then again while time is left: kill -9 of the leader, a partition
# (halves, leader isolated, bridge or one way), a member's leave and
# rejoin, the followers paused while the leader is killed, another
# partition, a SIGSTOP. Needs root (skipped otherwise). Seeded
# (FAULT_SEED=N picks another seed).
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 3 --net ns --v3 --seconds "${FAULT_SECONDS:-20}" \
	--order seq --faults killleader,partition,member,pausekill,partition,stop --quiet --seed "${FAULT_SEED:-1919}"
