#!/bin/sh
# Check (libcheck) is needed by the unit tests only: configure succeeds
# without it, and `make check` stops at once saying what to install. Runs
# configure in a scratch folder with a pkg-config that does not know Check.
# The compiler's own words are matched, never a bare "check.h": the scratch
# folder's random name (raftd-nocheck.hXXXXX) once matched that.
set -u
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/raftd-nocheck.XXXXXX")
trap 'chmod -R u+w "$T"; rm -rf "$T"' EXIT
real=$(command -v pkg-config) || { echo "SKIP: pkg-config missing"; exit 77; }
cat > "$T/pkg-config" <<EOT
#!/bin/sh
for a; do case "\$a" in check|check\ *) exit 1;; esac; done
exec $real "\$@"
EOT
chmod +x "$T/pkg-config"
mkdir "$T/b"
status=0
if (cd "$T/b" && PKG_CONFIG="$T/pkg-config" "$top_srcdir/configure" --disable-hardening > configure.out 2>&1); then
	echo "ok: configure succeeds without Check"
else
	tail -5 "$T/b/configure.out"
	echo "FAIL: configure fails without Check"
	exit 1
fi
grep -q 'check not found' "$T/b/configure.out" && echo "ok: configure warns" || { echo "FAIL: configure is silent about Check"; status=1; }
if make -C "$T/b" check > "$T/make.out" 2>&1; then
	echo "FAIL: make check succeeded without Check"
	status=1
elif grep -q 'make check needs Check' "$T/make.out" && ! grep -q 'check\.h: No such file' "$T/make.out"; then
	echo "ok: make check stops, naming Check"
else
	tail -5 "$T/make.out"
	echo "FAIL: make check did not say that Check is missing"
	status=1
fi
exit $status
