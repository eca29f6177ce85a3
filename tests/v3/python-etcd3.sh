#!/bin/sh
# Debian's python3-etcd3, unchanged, against raftd's v3 API (issue 19):
# tests/v3/python-etcd3.py drives KV, transactions and members of a 3-node
# cluster. It runs against etcd 3.4 first, which proves the script itself,
# then against raftd.
#
#   python-etcd3.sh [KIND...]   the kinds of cluster, in order (default:
#                               $V3_KINDS or etcd raftd)
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
	"$PY" "$V3_DIR/python-etcd3.py" "$(cport 1)" "$(cport 2)" "$(cport 3)" \
		"$(port 1)" "$(port 2)" "$(port 3)" "$SPARE1" "$SPARE2" ||
		fail "python3-etcd3 against $kind"
	echo "ok: python3-etcd3 against $kind"
	cluster_down "$kind"
done
