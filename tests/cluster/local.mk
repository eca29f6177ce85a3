# Multi-process tests: real raftd binaries on loopback (tests/cluster/lib.sh).
TESTS += tests/cluster/basic.sh tests/cluster/five.sh tests/cluster/snapshot.sh tests/cluster/wire.sh \
	tests/cluster/goraft.sh tests/cluster/api.sh tests/cluster/fallback.sh tests/cluster/rebase-empty.sh \
	tests/cluster/remove-lagging.sh tests/cluster/snapshot-fail.sh tests/cluster/large.sh tests/cluster/tls.sh tests/cluster/tls-peer-port.sh tests/cluster/tls-upgrade.sh \
	tests/cluster/spares.sh tests/cluster/http-strict.sh tests/cluster/snapshot-download.sh \
	tests/cluster/flood.sh tests/cluster/bodies.sh tests/cluster/nospace.sh \
	tests/cluster/unreachable-joins.sh tests/cluster/lost-data.sh tests/cluster/hostile.sh \
	tests/cluster/port-claim.sh tests/cluster/json-names.sh tests/cluster/core-oom.sh
EXTRA_DIST += tests/cluster/lib.sh tests/cluster/ports.sh tests/cluster/port-claim.sh tests/cluster/hostile.py tests/cluster/http-strict.sh tests/cluster/snapshot-download.sh tests/cluster/flood.sh tests/cluster/bodies.sh tests/cluster/basic.sh tests/cluster/five.sh \
	tests/cluster/snapshot.sh tests/cluster/wire.sh tests/cluster/goraft.sh \
	tests/cluster/api.sh tests/cluster/fallback.sh tests/cluster/rebase-empty.sh \
	tests/cluster/remove-lagging.sh tests/cluster/snapshot-fail.sh tests/cluster/large.sh tests/cluster/tls.sh tests/cluster/tls-peer-port.sh tests/cluster/tls-upgrade.sh \
	tests/cluster/spares.sh tests/cluster/nospace.sh tests/cluster/unreachable-joins.sh \
	tests/cluster/lost-data.sh tests/cluster/hostile.sh tests/cluster/json-names.sh
TESTS += tests/cluster/wal-stall.sh
EXTRA_DIST += tests/cluster/wal-stall.sh
TESTS += tests/cluster/metrics.sh
EXTRA_DIST += tests/cluster/metrics.sh
EXTRA_DIST += tests/cluster/core-oom.sh
# the data directory as the units and --name meet it (issue 17, item 10)
TESTS += tests/cluster/data-dir.sh
EXTRA_DIST += tests/cluster/data-dir.sh
TESTS += tests/cluster/lost-write.sh tests/cluster/goraft-import.sh tests/cluster/goraft-join.sh \
	tests/cluster/goraft-lost-write.sh
EXTRA_DIST += tests/cluster/lost-write.sh tests/cluster/goraft-lib.sh tests/cluster/goraft-import.sh \
	tests/cluster/goraft-join.sh tests/cluster/goraft-lost-write.sh
TESTS += tests/cluster/follower-reads.sh
EXTRA_DIST += tests/cluster/follower-reads.sh
TESTS += tests/cluster/rolling-restart.sh
EXTRA_DIST += tests/cluster/rolling-restart.sh
# etcd's Cluster and Maintenance services with etcdctl (issue 19)
TESTS += tests/cluster/v3-admin.sh
EXTRA_DIST += tests/cluster/v3-admin.sh
TESTS += tests/cluster/v3-admin-nospace.sh
EXTRA_DIST += tests/cluster/v3-admin-nospace.sh
# basic.sh, five.sh and snapshot.sh again with mutual TLS (lib.sh's RAFTD_TLS=1)
TESTS += tests/cluster/tls-suite.sh
EXTRA_DIST += tests/cluster/tls-suite.sh
# etcd's v3 KV API through etcdctl (issue 19)
TESTS += tests/cluster/v3-kv.sh tests/cluster/v3-goraft.sh tests/cluster/v3-lost.sh tests/cluster/v3-tls.sh \
	tests/cluster/v3-forward-lost.sh
EXTRA_DIST += tests/cluster/v3-kv.sh tests/cluster/v3-goraft.sh tests/cluster/v3-lost.sh tests/cluster/v3-tls.sh \
	tests/cluster/v3-forward-lost.sh
# etcd's Lease service and POST /db/K?ttl (issue 20)
TESTS += tests/cluster/v3-lease.sh tests/cluster/v3-lease-tls.sh tests/cluster/db-ttl.sh
EXTRA_DIST += tests/cluster/v3-lease.sh tests/cluster/v3-lease-tls.sh tests/cluster/db-ttl.sh
# etcd's Watch service through etcdctl (issue 20)
TESTS += tests/cluster/v3-watch.sh
EXTRA_DIST += tests/cluster/v3-watch.sh tests/cluster/watch-slow.py tests/cluster/watch-proto.py
# the fan-out to many watchers, bounded per loop pass (issue 20)
TESTS += tests/cluster/v3-watch-fanout.sh
EXTRA_DIST += tests/cluster/v3-watch-fanout.sh
# GET /db?wait=true, raftd's long poll on the watch hub (issue 20)
TESTS += tests/cluster/db-wait.sh
EXTRA_DIST += tests/cluster/db-wait.sh
