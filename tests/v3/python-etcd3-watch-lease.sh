#!/bin/sh
# Debian's python3-etcd3, unchanged, against raftd's Watch and Lease services
# (issue 20): tests/v3/python-etcd3-watch-lease.py drives watch callbacks and
# iterators, leases with refresh and expiry, and python-etcd3's Lock on a
# 3-node cluster. It runs against etcd 3.4 first, which proves the script
# itself, then against raftd; both must pass.
#
#   python-etcd3-watch-lease.sh [KIND...]   the kinds of cluster, in order
#                                           (default: $V3_KINDS or etcd raftd;
#                                           V3_KINDS=etcd while developing)
[ $# -gt 0 ] || set -- ${V3_KINDS:-etcd raftd}
. "$(dirname "$0")/lib.sh"
# Debian's module is for Debian's python3, which another python3 first in
# PATH (a pyenv's) cannot import
PY=
for _py in python3 /usr/bin/python3; do
	"$_py" -c 'import etcd3' 2>/dev/null && { PY=$_py; break; }
done
[ -n "$PY" ] || { echo "SKIP: python3-etcd3 is not installed (apt-get install python3-etcd3)"; exit 77; }
for kind in "$@"; do need_kind "$kind"; done
i=0
for kind in "$@"; do
	i=$((i + 1))
	cluster_up "$kind" "$i-$kind"
	"$PY" "$V3_DIR/python-etcd3-watch-lease.py" "$(cport 1)" "$(cport 2)" "$(cport 3)" ||
		fail "python3-etcd3 (watch, lease, lock) against $kind"
	echo "ok: python3-etcd3 (watch, lease, lock) against $kind"
	cluster_down "$kind"
done
