#!/bin/sh
# tests/systemd/nspawn.sh — boots a real systemd in a container (the host's
# /usr, a volatile root), installs this build's raftd with its units,
# catalog and configs, and runs tests/systemd/inside.sh there: Type=notify,
# STATUS, journald fields and MESSAGE_IDs, reload, stop, three raftd@
# instances, and the watchdog restarting a frozen node. The container has
# its own network namespace: its ports never meet the host's (and no
# network to wait for: systemd-networkd-wait-online is masked).
# Skipped (77) where systemd-nspawn is missing or cannot boot.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn missing (apt-get install systemd-container): skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root: skipped"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/raftd-nspawn.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/out" "$T/units" "$T/etc"
for u in raftd.service raftd@.service; do
	sed -e 's|@sbindir@|/opt/raftd/sbin|g' -e 's|@sysconfdir@|/etc|g' "$top_srcdir/units/$u.in" > "$T/units/$u"
done
# test timing: a short watchdog; sanitizer builds must not run LeakSanitizer
# (it needs ptrace, which the unit's seccomp filter rightly forbids)
cat > "$T/units/override.conf" <<'EOT'
[Service]
WatchdogSec=2s
Environment=ASAN_OPTIONS=detect_leaks=0
EOT
printf '[raftd]\nhost = 127.0.0.1\ngrpc-listen = none\nport = 24001\n' > "$T/etc/raftd.conf"
printf '[raftd]\nhost = 127.0.0.1\ngrpc-listen = none\nport = 24011\n' > "$T/etc/n1.conf"
printf '[raftd]\nhost = 127.0.0.1\ngrpc-listen = none\nport = 24012\njoin = 127.0.0.1:24011\n' > "$T/etc/n2.conf"
printf '[raftd]\nhost = 127.0.0.1\ngrpc-listen = none\nport = 24013\njoin = 127.0.0.1:24011\n' > "$T/etc/n3.conf"
# raftd@tls: certificates handed over with LoadCredential= (root-only files
# outside the service's reach), named in its config without a '/'
if command -v certtool >/dev/null; then
	"$top_srcdir/tests/lib/mkcerts.sh" "$T/etc/tls"
	printf '[raftd]\nhost = 127.0.0.1\ngrpc-listen = none\nport = 24021\ncert-file = n1.pem\nkey-file = n1-key.pem\ntrusted-ca-file = ca.pem\nclient-cert-auth = true\npeer-trusted-ca-file = ca.pem\npeer-client-cert-auth = true\n[roles]\nadmin = admin\n' > "$T/etc/tls.conf"
	mkdir -p "$T/units/tls.d"
	printf '[Service]\nLoadCredential=n1.pem:/etc/raftd/tls/n1.pem\nLoadCredential=n1-key.pem:/etc/raftd/tls/n1-key.pem\nLoadCredential=ca.pem:/etc/raftd/tls/ca.pem\n' > "$T/units/tls.d/credentials.conf"
fi
cat > "$T/units/raftd-check.service" <<'EOT'
[Unit]
Description=raftd systemd integration checks
After=systemd-journald.service
[Service]
Type=oneshot
ExecStart=/bin/sh /opt/raftd/inside.sh
ExecStopPost=/bin/systemctl poweroff --no-block
TimeoutStartSec=150
EOT
# The catalog: journalctl reads catalog files only below /usr, which the
# container shares read-only with the host; compile it here (this also
# checks its format) and hand the container the database.
mkdir -p "$T/cat/usr/lib/systemd/catalog" "$T/cat/var/lib/systemd/catalog"
cp "$top_srcdir/units/raftd.catalog" "$T/cat/usr/lib/systemd/catalog/"
journalctl --root="$T/cat" --update-catalog || { echo "FAIL: units/raftd.catalog does not compile"; exit 1; }
# every MESSAGE_ID raftd sends (base/journal.h) has its entry
ids=$(sed -n 's/^#define LOG_ID_[A-Z_]* *"\([0-9a-f]\{32\}\)"$/\1/p' "$top_srcdir/base/journal.h")
n=0
for id in $ids; do
	journalctl --root="$T/cat" --list-catalog | grep -q "^$id " || { echo "FAIL: MESSAGE_ID $id has no catalog entry"; exit 1; }
	n=$((n + 1))
done
[ "$n" -ge 16 ] || { echo "FAIL: only $n MESSAGE_IDs found in base/journal.h"; exit 1; }
echo "ok: the catalog compiles, with an entry for each of the $n MESSAGE_IDs"
binds="--bind=$T/out:/out
--bind-ro=$T/cat/var/lib/systemd/catalog/database:/var/lib/systemd/catalog/database
--bind-ro=$(cd "$top_builddir" && pwd)/src/raftd/raftd:/opt/raftd/sbin/raftd
--bind-ro=$top_srcdir/tests/systemd/inside.sh:/opt/raftd/inside.sh
--bind-ro=$top_srcdir/base/journal.h:/opt/raftd/journal.h
--bind-ro=$T/units/raftd.service:/etc/systemd/system/raftd.service
--bind-ro=$T/units/raftd@.service:/etc/systemd/system/raftd@.service
--bind-ro=$T/units/override.conf:/etc/systemd/system/raftd.service.d/test.conf
--bind-ro=$T/units/override.conf:/etc/systemd/system/raftd@.service.d/test.conf
--bind-ro=$T/units/tls.d:/etc/systemd/system/raftd@tls.service.d
--bind-ro=$T/units/raftd-check.service:/etc/systemd/system/raftd-check.service
--bind-ro=$top_srcdir/units/raftd.catalog:/etc/systemd/catalog/raftd.catalog
--bind-ro=$T/etc:/etc/raftd
--bind-ro=/dev/null:/etc/systemd/system/systemd-networkd-wait-online.service"
# shellcheck disable=SC2086
timeout 200 systemd-nspawn --keep-unit --register=no --directory=/ --volatile=yes --private-network --quiet $binds \
	-b systemd.firstboot=off systemd.mask=etcd.service systemd.wants=raftd-check.service > "$T/boot.log" 2>&1
rc=$?
if ! grep -q . "$T/out/result" 2>/dev/null; then
	tail -30 "$T/boot.log"
	[ $rc = 124 ] && { echo "FAIL: the container did not finish in time"; exit 1; }
	echo "the container did not run the checks (rc $rc): skipped"
	exit 77
fi
cat "$T/out/result"
tail -1 "$T/out/security.txt" 2>/dev/null
if grep -q '^FAIL' "$T/out/result" || ! grep -q '^done' "$T/out/result"; then
	echo "--- journal of the raftd units"
	tail -60 "$T/out/journal.txt" 2>/dev/null
	if [ -s "$T/out/journal-tls.txt" ]; then
		echo "--- journal of raftd@tls"
		tail -20 "$T/out/journal-tls.txt"
	fi
	exit 1
fi
exit 0
