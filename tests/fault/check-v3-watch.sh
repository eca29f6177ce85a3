#!/bin/sh
# make check (issue 20): check-v3.sh's v3 and /db clients on three nodes on
# loopback with watchers and a lease holder beside them (run.sh --v3
# --watch): kill -9 of a node or of the leader, SIGSTOP of a node, at
# random. Each watcher re-watches on another node from its last revision +
# 1 when its node fails or stalls and must see every acknowledged write
# exactly once, in revision order, nothing skipped; the lease's key must
# stay while keep-alives are answered and go within its TTL and an election
# time once they stop, on every node. Seeded (FAULT_SEED=N picks another).
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 3 --net lo --v3 --watch --seconds "${FAULT_SECONDS:-20}" \
	--faults kill,stop,killleader --quiet --seed "${FAULT_SEED:-2020}"
