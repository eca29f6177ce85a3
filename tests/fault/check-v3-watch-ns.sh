#!/bin/sh
# make check (issue 20): check-v3-watch.sh's watchers and lease holder
# beside check-v3-ns.sh's clients on three nodes in network namespaces
# (run.sh --v3 --watch --net ns), with these faults in this order, then
# again while time is left: kill -9 of the leader, a partition (halves,
# leader isolated, bridge or one way), a SIGSTOP, another partition. A
# watcher on a node cut off from the others sees its stream fall quiet (or
# stall) until the partition heals; a lease kept alive through any node
# must not expire early for a partition. Needs root (skipped otherwise).
# Seeded (FAULT_SEED=N picks another seed).
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 3 --net ns --v3 --watch --seconds "${FAULT_SECONDS:-20}" \
	--order seq --faults killleader,partition,stop,partition --quiet --seed "${FAULT_SEED:-2021}"
