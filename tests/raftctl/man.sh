#!/bin/sh
# The man pages: groff -man -ww renders them without a warning, mandoc -T
# lint (when installed) finds nothing to say, and every raftctl command and
# every raftd config key is documented.
set -u
srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
fail() { echo "FAIL: $*"; exit 1; }
# the pages' sources (the built pages differ only in their paths, which
# may be long enough in a distcheck's prefix for groff to warn)
pages="$srcdir/man/raftctl.8.in $srcdir/man/raftd.conf.5.in $srcdir/man/raftd.8.in"
for p in $pages; do
	[ -f "$p" ] || fail "$p missing"
	out=$(LC_ALL=C groff -t -man -ww -z "$p" 2>&1)
	[ -z "$out" ] || fail "groff -man -ww $p: $out"
	if command -v mandoc >/dev/null; then
		out=$(mandoc -T lint -W warning "$p" 2>&1)
		[ -z "$out" ] || fail "mandoc -T lint $p: $out"
	fi
done
command -v mandoc >/dev/null && echo "ok: mandoc -T lint clean" || echo "# mandoc not installed: lint skipped"
echo "ok: groff -man -ww clean"

# every command of raftctl --help has a section in raftctl(8)
for c in $("$top_builddir/src/raftctl/raftctl" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'); do
	sed 's/\\-/-/g' "$top_builddir/man/raftctl.8" | grep -q "^\.SS .*\b$c\b" || fail "raftctl(8) has no section for $c"
done
# every option of src/raftd/config.c is a key in raftd.conf(5) (but config and
# goraft's one-letter and logging flags, which are not config keys)
for k in $(sed -n 's/^	{ "\([a-z][a-z-]*\)", OPT_.*/\1/p' "$srcdir/src/raftd/config.c"); do
	case $k in config|h|p|v|debug|trace) continue ;; esac
	sed 's/\\-/-/g' "$top_builddir/man/raftd.conf.5" | grep -q "^\.BI $k \"" || fail "raftd.conf(5) does not document $k"
done
echo "ok: every raftctl command and every config key documented"

# every option of raftd --help is described in raftd(8) (an item of OPTIONS)
raftd=$top_builddir/src/raftd/raftd
[ -f "$raftd" ] || raftd=$top_builddir/src/raftd
opts=$("$raftd" --help | sed -n 's/^  -\([a-z][a-z-]*\).*/\1/p')
[ -n "$opts" ] || fail "$raftd --help lists no options"
for o in $opts; do
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$top_builddir/man/raftd.8" | sed 's/\\-/-/g; s/\\f[BIRP]//g' |
		grep -A1 '^\.TP' | grep -qE "(^|[ \"])--?$o([ \",]|\$)" || fail "raftd(8) OPTIONS does not describe -$o"
done
echo "ok: every raftd option documented in raftd(8)"
