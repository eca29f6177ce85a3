#!/bin/sh
# tests/systemd/deb.sh — the Debian package (issue 17, item 11): builds it
# with dpkg-buildpackage -us -uc -b from a copy of the source, runs lintian
# (errors fail), then boots a real systemd in a container (the host's
# system under a throw-away overlay, its own network) where deb-inside.sh
# installs the package, starts raftd.service, checks that it serves, and
# removes and purges it (data kept unless asked).
# RAFTD_DEB=FILE tests that package instead of building one.
# Skipped (77) without dpkg-buildpackage and debhelper, root or nspawn.
set -u
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "$*: skipped"; exit 77; }
[ -d "$top_srcdir/debian" ] || skip "no debian/ in $top_srcdir"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn missing (apt-get install systemd-container)"
T=$(mktemp -d "${TMPDIR:-/var/tmp}/raftd-deb.XXXXXX")
cleanup() {
	mountpoint -q "$T/root" && umount "$T/root"
	mountpoint -q "$T/ov" && umount "$T/ov"
	rm -rf "$T"
}
trap cleanup EXIT
deb=${RAFTD_DEB:-}
if [ -z "$deb" ]; then
	command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
		skip "dpkg-buildpackage or debhelper missing (apt-get install dpkg-dev debhelper)"
	mkdir "$T/src"
	# the source as it stands (tracked files and new ones), no build trees
	if git -C "$top_srcdir" rev-parse 2>/dev/null; then
		git -C "$top_srcdir" ls-files -z --cached --others --exclude-standard |
			(cd "$top_srcdir" && xargs -0 tar -cf - --no-recursion) | tar -C "$T/src" -xf -
	else
		tar -C "$top_srcdir" --exclude=./build --exclude=./debian/build -cf - . | tar -C "$T/src" -xf -
	fi
	start=$(date +%s)
	# the unit tests ran in the suite already: nocheck
	(cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1 ||
		{ tail -40 "$T/build.log"; echo "FAIL: dpkg-buildpackage -us -uc -b"; exit 1; }
	deb=$(ls "$T"/raftd_*.deb)
	echo "ok: dpkg-buildpackage built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $(( $(date +%s) - start )) s"
	if command -v lintian >/dev/null; then
		lintian --fail-on error --tag-display-limit 0 "$T"/raftd_*.changes > "$T/lintian.txt" 2>&1
		rc=$?
		cat "$T/lintian.txt"
		[ $rc = 0 ] || { echo "FAIL: lintian reports errors"; exit 1; }
		echo "ok: lintian: no errors, $(grep -c '^W:' "$T/lintian.txt") warnings"
	else
		echo "# lintian missing: not run"
	fi
fi
dpkg-deb -c "$deb" > "$T/contents" || { echo "FAIL: $deb is not a package"; exit 1; }

mkdir -p "$T/out" "$T/units"
cat > "$T/units/raftd-deb-check.service" <<'EOT'
[Unit]
Description=raftd package checks
After=systemd-journald.service
[Service]
Type=oneshot
ExecStart=/bin/sh /opt/raftd/deb-inside.sh
ExecStopPost=/bin/systemctl poweroff --no-block
TimeoutStartSec=150
EOT
# The container's root: the host's, under an overlay whose writes go to a
# tmpfs (nspawn's --volatile=overlay refuses the host's root, and
# --volatile=yes keeps /usr read-only and has no dpkg database).
mkdir -p "$T/ov" "$T/root"
mount -t tmpfs -o size=1G tmpfs "$T/ov" && mkdir "$T/ov/upper" "$T/ov/work" &&
	mount -t overlay overlay -o lowerdir=/,upperdir="$T/ov/upper",workdir="$T/ov/work" "$T/root" ||
	skip "cannot mount an overlay of /"
start=$(date +%s)
timeout 200 systemd-nspawn --keep-unit --register=no --directory="$T/root" --private-network --quiet \
	--bind="$T/out:/out" --bind-ro="$deb:/opt/raftd/raftd.deb" \
	--bind-ro="$top_srcdir/tests/systemd/deb-inside.sh:/opt/raftd/deb-inside.sh" \
	--bind-ro="$top_srcdir/base/journal.h:/opt/raftd/journal.h" \
	--bind-ro="$T/units/raftd-deb-check.service:/etc/systemd/system/raftd-deb-check.service" \
	--bind-ro=/dev/null:/etc/systemd/system/systemd-networkd-wait-online.service \
	-b systemd.firstboot=off systemd.mask=etcd.service systemd.wants=raftd-deb-check.service > "$T/boot.log" 2>&1
rc=$?
if ! grep -q . "$T/out/result" 2>/dev/null; then
	tail -30 "$T/boot.log"
	[ $rc = 124 ] && { echo "FAIL: the container did not finish in time"; exit 1; }
	echo "the container did not run the checks (rc $rc): skipped"
	exit 77
fi
cat "$T/out/result"
echo "# container: $(( $(date +%s) - start )) s"
if grep -q '^FAIL' "$T/out/result" || ! grep -q '^done' "$T/out/result"; then
	echo "--- dpkg and journal"
	tail -60 "$T/out/log.txt" 2>/dev/null
	exit 1
fi
exit 0
