# tests/cluster/ports.sh — the one way a test claims loopback ports.
#
# Sourced by tests/cluster/lib.sh (every cluster test) and by
# tests/fault/run.sh (its --net lo schedules). Tests run side by side in
# make check, and build trees of several worktrees share one machine, so a
# port number derived from the pid alone let two tests pick the same ports
# now and then. Here a test claims a block of 10 ports with an exclusive
# flock(1) on RAFTD_PORT_DIR/BLOCK.lock (/tmp/raftd-ports: one place for the
# whole machine, whatever TMPDIR or build tree a test has), held on file
# descriptor 9. The nodes a test starts inherit the descriptor, so the block
# stays taken until the test and every node it left behind are gone; the
# kernel then drops the lock, and nothing stale is left to clean up. A block
# where something already listens is skipped too.
#
#   port_claim FIRST LAST   claim a free block of 10 ports within FIRST..LAST
#                           (FIRST a multiple of 10); sets PORT_BASE (the
#                           block is PORT_BASE..PORT_BASE+9). Returns 1 when
#                           every block is taken.
#
# POSIX sh (dash runs the cluster tests). Do not use descriptor 9 elsewhere.
PORT_DIR=${RAFTD_PORT_DIR:-/tmp/raftd-ports}

port_claim() {
	_pc_first=$1
	_pc_blocks=$(( ($2 - $1 + 1) / 10 ))
	[ -d "$PORT_DIR" ] || mkdir -m 1777 -p "$PORT_DIR" 2>/dev/null
	_pc_i=0
	while [ "$_pc_i" -lt "$_pc_blocks" ]; do
		# start at a place of our own: claims rarely meet
		_pc_b=$(( _pc_first + (($$ + _pc_i) % _pc_blocks) * 10 ))
		_pc_i=$((_pc_i + 1))
		_pc_f=$PORT_DIR/$_pc_b.lock
		[ -e "$_pc_f" ] || (umask 000; : >>"$_pc_f") 2>/dev/null
		# a failed redirection of exec would end a POSIX shell: test first
		[ -r "$_pc_f" ] || continue
		exec 9<"$_pc_f"
		flock -n 9 || continue
		ss -Hltn "( sport >= :$_pc_b and sport <= :$((_pc_b + 9)) )" 2>/dev/null | grep -q . && continue
		PORT_BASE=$_pc_b
		return 0
	done
	exec 9<&-
	return 1
}
