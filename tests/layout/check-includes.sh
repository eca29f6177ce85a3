#!/bin/sh
# tests/layout/check-includes.sh [TOP] — the include rules between the
# folders (issue 21), checked on every #include of the project's own code
# under TOP (default: $srcdir, or the tree this script is in).
#
#   base/          includes nothing of the project
#   proto/         base/
#   wal/, net/     base/, proto/ (never each other, never src/)
#   src/raft/      itself only, and of the system only the C standard
#                  headers: the core is pure (no I/O, no clock)
#   src/kv/        base/, proto/, src/mvcc/, src/etcd/
#   src/mvcc/      base/ (the MVCC store is pure: no I/O, no clock)
#   src/etcd/      base/, proto/, src/mvcc/ (etcd's messages <-> the store;
#                  pure too)
#   src/raftd/     base/, proto/, wal/, net/, src/raft/, src/kv/, src/mvcc/,
#                  src/etcd/
#   src/raftctl/   the same, but never src/raftd/
#
# protoc-c's headers for etcd's schema are included as "etcd/NAME.pb-c.h"
# (the build has -I$(top_builddir)/proto): they count as proto/.
#
# A folder may always include its own headers. A project include is written
# from the top ("folder/file.h", the build has -I$(top_srcdir)): one that is
# not ("file.h", "../x.h") fails too, as its target cannot be told. Every
# breach is printed as FILE: #include "TARGET" (RULE); exit 1 if any.
set -u
top=${1:-${srcdir:-$(dirname "$0")/../..}}
cd "$top" || exit 99

# allowed FOLDER: the folders that FOLDER may include, itself apart
allowed() {
	case $1 in
	base) echo "" ;;
	proto) echo "base" ;;
	wal | net) echo "base proto" ;;
	src/raft) echo "" ;;
	src/kv) echo "base proto src/mvcc src/etcd" ;;
	src/mvcc) echo "base" ;;
	src/etcd) echo "base proto src/mvcc" ;;
	src/raftd) echo "base proto wal net src/raft src/kv src/mvcc src/etcd" ;;
	src/raftctl) echo "base proto wal net src/raft src/kv src/mvcc src/etcd" ;;
	*) return 1 ;;
	esac
}

# The C standard library's headers (C11): all that src/raft/ may take
# from the system.
C_STD="assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h \
limits.h locale.h math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h \
stdbool.h stddef.h stdint.h stdio.h stdlib.h stdnoreturn.h string.h tgmath.h \
threads.h time.h uchar.h wchar.h wctype.h"

# The folder of a project path: src/X for anything under src/, else the
# top folder.
folder_of() {
	case $1 in
	src/*/*) echo "$1" | cut -d/ -f1-2 ;;
	*/*) echo "${1%%/*}" ;;
	*) echo "" ;;
	esac
}

bad=0
breach() {
	echo "$1: #include $2 ($3)"
	bad=1
}
stray() {
	echo "$1: a source outside the folders of the layout"
	bad=1
}

# protoc-c's output (proto/*.pb-c.*, in the build tree, or here after an
# in-tree build) is generated, not the project's own code.
files=$(find base proto wal net src -type f \( -name '*.c' -o -name '*.h' \) \
	! -name '*.pb-c.[ch]' 2>/dev/null | LC_ALL=C sort)
[ -n "$files" ] || { echo "check-includes: no sources under $top" >&2; exit 99; }
n=0
for f in $files; do
	from=$(folder_of "$f")
	if ! may=$(allowed "$from"); then
		stray "$f"
		continue
	fi
	n=$((n + 1))
	# one line per include: "<name>" or "\"name\""
	incs=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' "$f")
	for inc in $incs; do
		case $inc in
		\<*)
			[ "$from" = src/raft ] || continue
			name=${inc#<}
			name=${name%>}
			case " $C_STD " in
			*" $name "*) ;;
			*) breach "$f" "$inc" "src/raft/ takes only the C standard headers from the system" ;;
			esac
			continue
			;;
		esac
		name=${inc#\"}
		name=${name%\"}
		case $name in
		*..* | /*)
			breach "$f" "$inc" "project includes are written from the top, folder/file.h"
			continue
			;;
		esac
		case $name in
		etcd/*.pb-c.h) to=proto ;;
		*) to=$(folder_of "$name") ;;
		esac
		if [ -z "$to" ] || ! allowed "$to" >/dev/null; then
			breach "$f" "$inc" "project includes are written from the top, folder/file.h"
			continue
		fi
		[ "$to" = "$from" ] && continue
		case " $may " in
		*" $to "*) ;;
		*) breach "$f" "$inc" "$from/ may include only ${may:-itself}${may:+ and itself}" ;;
		esac
	done
done
[ "$bad" = 0 ] || exit 1
echo "check-includes: $n files, every include within the rules"
