#!/bin/sh
# tests/cluster/ports.sh: two tests never hold the same block of ports. A
# block one process holds is passed over, also by a process whose pid would
# start it there; the block is free again once its holder and every child
# that inherited the lock are gone; a block where something listens is
# passed over; and with every block taken a claim fails.
set -u
LIB=${srcdir:-.}/tests/cluster/ports.sh
[ -f "$LIB" ] || LIB=$(dirname "$0")/ports.sh
RAFTD_PORT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/raftd-port-claim.XXXXXX")
export RAFTD_PORT_DIR LIB
trap 'kill $H1 $H2 2>/dev/null; rm -rf "$RAFTD_PORT_DIR"' EXIT
H1="" H2=""
fail() { echo "FAIL: $*" >&2; exit 1; }

# claim FIRST LAST: a shell that claims a block, prints it, and holds it
# (its sleep inherits the lock) until killed
claim() {
	sh -c '. "$LIB"; port_claim "$1" "$2" || { echo none; exit 1; }; echo "$PORT_BASE"; exec sleep 600' sh "$1" "$2" \
		>"$RAFTD_PORT_DIR/out.$3" 2>&1 &
}
# wait_out NAME: the block the claimer NAME printed (5 s)
wait_out() {
	i=0
	while [ $i -lt 50 ]; do
		[ -s "$RAFTD_PORT_DIR/out.$1" ] && { cat "$RAFTD_PORT_DIR/out.$1"; return; }
		sleep 0.1
		i=$((i + 1))
	done
	echo timeout
}

# a range of two blocks, far from every other test's (and free, unless
# this machine runs something there)
claim 64910 64929 a; H1=$!
b1=$(wait_out a)
claim 64910 64929 b; H2=$!
b2=$(wait_out b)
case "$b1" in 64910|64920) ;; *) fail "first claim: $b1" ;; esac
case "$b2" in 64910|64920) ;; *) fail "second claim: $b2" ;; esac
[ "$b1" != "$b2" ] || fail "two holders of block $b1"

# both blocks held: a third claim fails
sh -c '. "$LIB"; port_claim 64910 64929' && fail "a third claim got a block"

# the first holder goes: its block is free again
kill "$H1"; wait "$H1" 2>/dev/null; H1=""
claim 64910 64929 c; H1=$!
[ "$(wait_out c)" = "$b1" ] || fail "block $b1 not free after its holder died"

# a block where something listens is passed over even though no test holds it
kill "$H1" "$H2"; wait 2>/dev/null; H1="" H2=""
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 64915)); s.listen(1); print("up", flush=True); time.sleep(600)' >"$RAFTD_PORT_DIR/out.l" 2>&1 &
H2=$!
[ "$(wait_out l)" = up ] || fail "no listener on 64915"
sh -c '. "$LIB"; port_claim 64910 64929 && echo "$PORT_BASE"' >"$RAFTD_PORT_DIR/out.d"
[ "$(cat "$RAFTD_PORT_DIR/out.d")" = 64920 ] || fail "claimed $(cat "$RAFTD_PORT_DIR/out.d") beside a listener on 64915"
echo "ok"
