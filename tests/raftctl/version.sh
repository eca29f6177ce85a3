#!/bin/sh
# --version of raftd and raftctl: exit 0, one line "PROGRAM VERSION [COMMIT]"
# on stdout, offered by --help and described in the man pages.
set -u
srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/raftctl-version.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
[ -n "$version" ] || fail "no PACKAGE_VERSION in $top_builddir/config.h"
for p in raftd/raftd raftctl/raftctl; do
	name=${p#*/}
	"$top_builddir/src/$p" --version >"$T/out" 2>"$T/err" || fail "$name --version: exit $?: $(cat "$T/out" "$T/err")"
	[ "$(wc -l <"$T/out")" -eq 1 ] && [ ! -s "$T/err" ] || fail "$name --version: one line on stdout expected: $(cat "$T/out" "$T/err")"
	grep -q "^$name $version\( [^ ]*\)\?\$" "$T/out" || fail "$name --version says: $(cat "$T/out")"
	"$top_builddir/src/$p" --help >"$T/out" 2>&1 || fail "$name --help: exit $?"
	grep -q -- "-version" "$T/out" || fail "$name --help does not offer --version"
	sed 's/\\-/-/g' "$top_builddir/man/$name.8" | grep -q -- "--version" || fail "$name(8) does not describe --version"
done
echo "ok: raftd and raftctl --version"
