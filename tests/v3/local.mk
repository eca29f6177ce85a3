# etcd's own clients, unchanged, against raftd's v3 API (issue 19):
# etcdctl's transcript against etcd 3.4 and raftd (etcdctl-compare.sh), and
# Debian's python3-etcd3 (python-etcd3.sh), each against etcd first to prove
# the script. Both skip without etcd (etcd-server, etcd-client).
TESTS += tests/v3/etcdctl-compare.sh tests/v3/python-etcd3.sh
EXTRA_DIST += tests/v3/lib.sh tests/v3/etcdctl-compare.sh tests/v3/normalise.sed \
	tests/v3/python-etcd3.sh tests/v3/python-etcd3.py
# issue 20: etcdctl's watch, lease, lock and elect (etcdctl-watch-lease.sh,
# its normalisers watch-lease.sed and watch-lease-ids.py) and
# python3-etcd3's watches, leases and Lock, each against etcd and raftd
TESTS += tests/v3/etcdctl-watch-lease.sh tests/v3/python-etcd3-watch-lease.sh
EXTRA_DIST += tests/v3/etcdctl-watch-lease.sh tests/v3/watch-lease.sed tests/v3/watch-lease-ids.py \
	tests/v3/python-etcd3-watch-lease.sh tests/v3/python-etcd3-watch-lease.py
