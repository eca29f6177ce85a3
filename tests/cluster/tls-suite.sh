#!/bin/sh
# Cluster tests again with mutual TLS (issue 18): each with RAFTD_TLS=1
# (tests/cluster/lib.sh), so that every node serves HTTPS only with client
# and peer certificate authentication, the peers reach each other over
# https://, and the tests' requests go over HTTPS with an admin
# certificate: bootstrap, joins, failover, restart and catch-up, a join and
# a leave (basic.sh); five nodes losing two (five.sh); snapshots and a
# follower catching up from one (snapshot.sh).
here=$(dirname "$0")
command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }
for t in basic five snapshot; do
	RAFTD_TLS=1 sh "$here/$t.sh" || { echo "FAIL: $t.sh with RAFTD_TLS=1" >&2; exit 1; }
	echo "ok: $t.sh with mutual TLS"
done
