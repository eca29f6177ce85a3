# tests/raftctl: raftctl without a cluster (usage, unreachable), against a
# running three-node cluster of the build's raftd, import-goraft, logs from
# journal files, and the man pages' lint.
TESTS += tests/raftctl/usage.sh tests/raftctl/cluster.sh tests/raftctl/import.sh \
	tests/raftctl/logs.sh tests/raftctl/man.sh tests/raftctl/completion.sh tests/raftctl/members.sh tests/raftctl/remove-retry.sh tests/raftctl/version.sh tests/raftctl/health.sh tests/raftctl/bench-leader.sh tests/raftctl/restore.sh \
	tests/raftctl/tls.sh tests/raftctl/tls-raftd.sh tests/raftctl/v3.sh tests/raftctl/v3-tls.sh
EXTRA_DIST += tests/raftctl/usage.sh tests/raftctl/cluster.sh tests/raftctl/import.sh \
	tests/raftctl/logs.sh tests/raftctl/man.sh tests/raftctl/completion.sh tests/raftctl/members.sh tests/raftctl/remove-retry.sh tests/raftctl/version.sh tests/raftctl/health.sh tests/raftctl/bench-leader.sh tests/raftctl/restore.sh tests/raftctl/tls.sh tests/raftctl/tls-raftd.sh tests/raftctl/v3.sh tests/raftctl/v3-tls.sh tests/raftctl/mkgoraft.py
# restore of the file etcdctl snapshot save writes from raftd (issue 19)
TESTS += tests/raftctl/restore-etcd.sh
EXTRA_DIST += tests/raftctl/restore-etcd.sh
# watch, lease, lock and elect against etcd 3.4 and against raftd (issue 20)
TESTS += tests/raftctl/v3-watch-lease.sh tests/raftctl/v3-lock-elect.sh
EXTRA_DIST += tests/raftctl/v3-watch-lease.sh tests/raftctl/v3-lock-elect.sh tests/raftctl/v3-halves.sh
