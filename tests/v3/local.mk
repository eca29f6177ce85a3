# etcd's own clients, unchanged, against raftd's v3 API (issue 19):
# etcdctl's transcript against etcd 3.4 and raftd (etcdctl-compare.sh), and
# Debian's python3-etcd3 (python-etcd3.sh), each against etcd first to prove
# the script. Both skip without etcd (etcd-server, etcd-client).
TESTS += tests/v3/etcdctl-compare.sh tests/v3/python-etcd3.sh
EXTRA_DIST += tests/v3/lib.sh tests/v3/etcdctl-compare.sh tests/v3/normalise.sed \
	tests/v3/python-etcd3.sh tests/v3/python-etcd3.py
