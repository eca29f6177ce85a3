#!/bin/sh
# make check (issue 18): three nodes with mutual TLS, one network namespace
# each (run.sh --tls --net ns): client and peer certificate authentication,
# fault-client writing with a certificate of the write role over HTTPS, the
# end-of-run reads over HTTPS too. Faults in this order, then again while
# time is left: kill -9 of the leader, a partition (halves, leader
# isolated, bridge or one way), a member's /leave (admin certificate) and
# its rejoin (its own member certificate), the followers paused while the
# leader is killed, another partition. Then the
# checks of every run: nothing acknowledged lost, linearizable histories,
# convergence. Needs root and certtool (skipped otherwise). FAULT_SEED=N
# replays a seed.
exec timeout -k 10 240 "$(dirname "$0")/run.sh" --nodes 3 --net ns --tls --seconds "${FAULT_SECONDS:-20}" \
	--order seq --faults killleader,partition,member,pausekill,partition --quiet ${FAULT_SEED:+--seed "$FAULT_SEED"}
