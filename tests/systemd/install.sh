#!/bin/sh
# `make install` as configured (issue 17, item 10): into a DESTDIR, then
# the installed units, man pages and files must agree: the units start the
# installed raftd with the installed config, the man pages name the files
# the units read and where the completion went, and the catalog is left
# for the target to compile (said so, not silently).
set -u
top_builddir=${top_builddir:-.}
T=$(mktemp -d "${TMPDIR:-/tmp}/raftd-install.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; status=1; }
status=0
D=$T/root
make -C "$top_builddir" install DESTDIR="$D" > "$T/install.log" 2>&1 || { tail -20 "$T/install.log"; echo "FAIL: make install"; exit 1; }
grep -q 'journal catalog: not compiled under DESTDIR' "$T/install.log" || fail "make install did not say the catalog was left uncompiled"
unit=$(find "$D" -name raftd.service) && [ -n "$unit" ] || { echo "FAIL: no raftd.service installed"; exit 1; }
inst=$(find "$D" -name 'raftd@.service')
[ "$(dirname "$inst")" = "$(dirname "$unit")" ] || fail "raftd@.service not beside raftd.service"
set -- $(sed -n 's/^ExecStart=//p' "$unit")
bin=$1 conf=$3 data=$4
[ "$2" = --config ] || fail "ExecStart does not pass --config: $*"
[ -x "$D$bin" ] || fail "the unit runs $bin, not installed there"
[ -f "$D$conf" ] || fail "the unit reads $conf, not installed there"
[ "$data" = /var/lib/raftd ] || fail "the unit's data directory is $data, not its StateDirectory /var/lib/raftd"
iconf=$(sed -n 's/^ExecStart=.* --config \([^ ]*\) .*/\1/p' "$inst")
[ "$iconf" = "$(dirname "$conf")/%i.conf" ] || fail "raftd@.service reads $iconf, not beside $conf"
echo "ok: the units run $bin with $conf"

page() { f=$(find "$D" -name "$1") && [ -n "$f" ] && sed 's/\\-/-/g; s/\\f[BIRP]//g; s/^\.[A-Z]* //' "$f"; }
page raftd.conf.5 | grep -qx "$conf" || fail "raftd.conf(5) does not name $conf"
page raftd.conf.5 | grep -q "^$(dirname "$conf")/ *NAME *.conf" || fail "raftd.conf(5) does not name $(dirname "$conf")/NAME.conf"
page raftd.8 | grep -qx "$conf" || fail "raftd(8) FILES does not name $conf"
udir=$(dirname "${unit#"$D"}")
page raftd.8 | grep -q "$udir/raftd.service" || fail "raftd(8) does not name $udir/raftd.service"
cat=$(find "$D" -name raftd.catalog)
[ -n "$cat" ] && page raftd.8 | grep -q "${cat#"$D"}" || fail "raftd(8) does not name the installed catalog ${cat#"$D"}"
comp=$(find "$D" -path '*completions/raftctl')
[ -n "$comp" ] && page raftctl.8 | grep -qx "${comp#"$D"}" || fail "raftctl(8) does not name the installed completion ${comp#"$D"}"
[ "$status" = 0 ] && echo "ok: the man pages name the installed files"
exit $status
