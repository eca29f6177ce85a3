#!/bin/sh
# tests/systemd/deb-inside.sh — runs inside the container of deb.sh as a
# oneshot unit: install the package, start raftd.service, serve; remove and
# purge keep the data unless RAFTD_PURGE_DATA=yes. Writes "ok: ..." /
# "FAIL: ..." lines to /out/result.
out=/out/result
log=/out/log.txt
: > "$out"
ok() { echo "ok: $*" >> "$out"; }
bad() { echo "FAIL: $*" >> "$out"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
prop() { systemctl show -p "$2" --value "$1"; }
trap 'journalctl -q -o short-monotonic -u "raftd*" >> "$log" 2>&1' EXIT
export DEBIAN_FRONTEND=noninteractive
ID_LEADER=$(sed -n 's/^#define LOG_ID_LEADER_ELECTED *"\([0-9a-f]*\)"$/\1/p' /opt/raftd/journal.h)
# a container image's policy-rc.d (101: start nothing) would hide what the
# package's scripts do; this root is a throw-away overlay
rm -f /usr/sbin/policy-rc.d

check "dpkg -i installs the package" 'dpkg -i /opt/raftd/raftd.deb >> "$log" 2>&1'
check "the raftd system user exists" 'getent passwd raftd | grep -q "^raftd:"'
check "/etc/raftd/raftd.conf is a conffile" 'dpkg-query -W -f="\${Conffiles}" raftd | grep -q " /etc/raftd/raftd.conf "'
check "the journal catalog was compiled on install" 'journalctl --list-catalog 2>/dev/null | grep -q "$ID_LEADER"'
check "raftd.service not started on install" '[ "$(prop raftd.service ActiveState)" = inactive ]'
check "man raftd.conf names /etc/raftd" 'zcat /usr/share/man/man5/raftd.conf.5.gz | grep -q "^\.I /etc/raftd/raftd.conf"'

systemctl start raftd.service >> "$log" 2>&1
check "systemctl start raftd: active" '[ "$(prop raftd.service ActiveState)" = active ]'
check "it serves /status on port 4001" 'curl -sf -o /dev/null http://127.0.0.1:4001/status'
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w %{http_code} -XPOST http://127.0.0.1:4001/db/k -d v)" = 200 ] && break
	sleep 0.1
done
check "a write and its read" '[ "$(curl -s http://127.0.0.1:4001/db/k)" = v ]'
check "raftctl status answers" 'raftctl --endpoints http://127.0.0.1:4001 status >> "$log" 2>&1'
check "it runs as raftd" '[ "$(ps -o user= -p "$(prop raftd.service MainPID)")" = raftd ]'
check "its data is in /var/lib/raftd" '[ -s /var/lib/raftd/name ] && [ -d /var/lib/raftd/wal ]'
check "journalctl -x explains the election" 'journalctl -x -q -u raftd.service MESSAGE_ID=$ID_LEADER | grep -q "won an election"'
name=$(cat /var/lib/raftd/name)
printf '[raftd]\nhost = 127.0.0.1\nport = 4011\ngrpc-listen = 127.0.0.1:22379\n' > /etc/raftd/n1.conf
systemctl start raftd@n1.service >> "$log" 2>&1
check "raftd@n1 serves with /etc/raftd/n1.conf" 'curl -sf -o /dev/null http://127.0.0.1:4011/status && [ -s /var/lib/raftd-n1/name ]'

check "dpkg -r removes it" 'dpkg -r raftd >> "$log" 2>&1 && [ ! -e /usr/sbin/raftd ]'
check "dpkg -r stopped raftd and raftd@n1" '! pgrep -x raftd > /dev/null || { ps -eo pid,user,args | grep [r]aftd >> "$log"; false; }'
check "data kept on remove" '[ "$(cat /var/lib/private/raftd/name)" = "$name" ]'
check "conffile kept on remove" '[ -f /etc/raftd/raftd.conf ]'
check "dpkg -P keeps the data and says so" 'dpkg -P raftd > /out/purge.txt 2>&1 && grep -q "data kept" /out/purge.txt && [ "$(cat /var/lib/private/raftd/name)" = "$name" ]'
check "conffile gone on purge" '[ ! -e /etc/raftd/raftd.conf ]'
rm -f /etc/raftd/n1.conf
dpkg -i /opt/raftd/raftd.deb >> "$log" 2>&1
systemctl start raftd.service >> "$log" 2>&1
# a restarted node serves reads once it leads again
for _ in $(seq 100); do [ "$(curl -s http://127.0.0.1:4001/db/k)" = v ] && break; sleep 0.1; done
check "reinstalled, it starts on the kept data" '[ "$(curl -s http://127.0.0.1:4001/db/k)" = v ] && [ "$(cat /var/lib/raftd/name)" = "$name" ]'
check "RAFTD_PURGE_DATA=yes dpkg -P removes the data" 'RAFTD_PURGE_DATA=yes dpkg -P raftd >> "$log" 2>&1 && [ ! -e /var/lib/private/raftd ] && [ ! -e /var/lib/raftd ]'
echo done >> "$out"
