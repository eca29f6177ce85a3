#!/bin/sh
# tests/systemd/inside.sh — runs inside the booted container (see nspawn.sh)
# as a oneshot unit; writes "ok: ..." / "FAIL: ..." lines to /out/result and
# powers the container off.
out=/out/result
: > "$out"
ok() { echo "ok: $*" >> "$out"; }
bad() { echo "FAIL: $*" >> "$out"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# the same, for what may take a moment (the journal takes lines asynchronously)
check_within() { for _ in $(seq 50); do eval "$2" && break; sleep 0.2; done; check "$1" "$2"; }
prop() { systemctl show -p "$2" --value "$1"; }
# the MESSAGE_IDs as raftd sends them
msgid() { sed -n "s/^#define LOG_ID_$1 *\"\([0-9a-f]*\)\"\$/\1/p" /opt/raftd/journal.h; }
ID_LEADER=$(msgid LEADER_ELECTED)
ID_JOINED=$(msgid MEMBER_JOINED)
ID_NO_TLS=$(msgid NO_TLS)

trap 'journalctl -q -o short-monotonic -u "raftd*" > /out/journal.txt 2>&1' EXIT

check "systemd-analyze verify is clean" '[ -z "$(systemd-analyze verify --man=no raftd.service raftd@n1.service 2>&1)" ]'
systemd-analyze security --no-pager raftd.service > /out/security.txt 2>&1
check "systemd-analyze security rates raftd.service OK or better" 'grep -Eq "Overall exposure level for raftd.service: [0-3]\.[0-9] (OK|SAFE)" /out/security.txt'

# raftd.service: active only once READY, i.e. already serving
systemctl start raftd.service
check "raftd.service active after start" '[ "$(prop raftd.service ActiveState)" = active ]'
check "serving as soon as start returns (READY after listen)" 'curl -sf -o /dev/null http://127.0.0.1:24001/status'
sleep 0.5
check "STATUS= shows role, term, leader, commit" 'prop raftd.service StatusText | grep -q "^leader, term 0, leader .*, commit [0-9]"'
check "a write through the unit's node" '[ "$(curl -s -o /dev/null -w %{http_code} -XPOST http://127.0.0.1:24001/db/k -d v)" = 200 ]'
check "journalctl -u raftd RAFT_ROLE=leader" 'journalctl -q -u raftd.service RAFT_ROLE=leader | grep -q .'
check "journalctl MESSAGE_ID=<leader elected>" 'journalctl -q -u raftd.service MESSAGE_ID=$ID_LEADER | grep -q "became leader"'
check "the catalog explains the election" 'journalctl -x -q -u raftd.service MESSAGE_ID=$ID_LEADER | grep -q "won an election"'
check "the journal says the unit serves without TLS, and where" 'journalctl -q -u raftd.service MESSAGE_ID=$ID_NO_TLS | grep -q "on .*:24001 without TLS or authentication"'
check "journalctl -x explains serving without TLS" 'journalctl -x -q -u raftd.service MESSAGE_ID=$ID_NO_TLS | grep -q -- "--peer-client-cert-auth"'
check "journal fields RAFT_NODE and RAFT_TERM" 'journalctl -q -u raftd.service -o verbose MESSAGE_ID=$ID_LEADER | grep -q "RAFT_TERM=0" && journalctl -q -u raftd.service -o verbose MESSAGE_ID=$ID_LEADER | grep -q "RAFT_NODE="'
check "CODE_FILE/CODE_FUNC name the caller, not log.c" 'journalctl -q -u raftd.service -o verbose MESSAGE_ID=$ID_LEADER | grep -q "CODE_FILE=src/raftd/driver.c" && ! journalctl -q -u raftd.service -o verbose | grep -q "CODE_FILE=.*log\.c"'
systemctl reload raftd.service
check "systemctl reload (RELOADING=1, then READY=1)" '[ "$(prop raftd.service ActiveState)" = active ] && journalctl -q -u raftd.service | grep -q reloaded'
systemctl stop raftd.service
check "systemctl stop: inactive, result success" '[ "$(prop raftd.service ActiveState)" = inactive ] && [ "$(prop raftd.service Result)" = success ]'
check "STOPPING logged" 'journalctl -q -u raftd.service | grep -q "stopping"'

# three raftd@ instances form a cluster
systemctl start raftd@n1.service
systemctl start raftd@n2.service raftd@n3.service
sleep 1
check "raftd@n1..n3 active" '[ "$(prop raftd@n1.service ActiveState)$(prop raftd@n2.service ActiveState)$(prop raftd@n3.service ActiveState)" = activeactiveactive ]'
check "a write through n1" '[ "$(curl -s -o /dev/null -w %{http_code} -XPOST http://127.0.0.1:24011/db/x -d 42)" = 200 ]'
sleep 0.5
check "n3 has it" '[ "$(curl -s http://127.0.0.1:24013/db/x)" = 42 ]'
check "journalctl -u raftd@n1 RAFT_ROLE=leader" 'journalctl -q -u raftd@n1.service RAFT_ROLE=leader MESSAGE_ID=$ID_LEADER | grep -q .'
check "n3 logged the members joining" 'journalctl -q -u raftd@n3.service MESSAGE_ID=$ID_JOINED | grep -c joined | grep -qx 3'

# a frozen daemon is restarted by the watchdog
pid=$(prop raftd@n3.service MainPID)
[ "${pid:-0}" -gt 1 ] && kill -STOP "$pid"
for _ in $(seq 100); do
	[ "$(prop raftd@n3.service NRestarts)" -ge 1 ] 2>/dev/null && [ "$(prop raftd@n3.service ActiveState)" = active ] && break
	sleep 0.2
done
check "SIGSTOPped raftd@n3 restarted by the watchdog" '[ "$(prop raftd@n3.service NRestarts)" -ge 1 ] && [ "$(prop raftd@n3.service MainPID)" != "$pid" ]'
check "the watchdog said so" 'journalctl -q -u raftd@n3.service | grep -qi "watchdog timeout"'
for _ in $(seq 50); do [ "$(curl -s http://127.0.0.1:24013/db/x)" = 42 ] && break; sleep 0.1; done
check "restarted n3 still has the data" '[ "$(curl -s http://127.0.0.1:24013/db/x)" = 42 ]'
systemctl stop raftd@n1.service raftd@n2.service raftd@n3.service
check "instances stop cleanly" '[ "$(prop raftd@n1.service Result)" = success ]'
# raftd@tls: keys from LoadCredential=, clients by certificate
if [ -f /etc/raftd/tls.conf ]; then
	systemctl start raftd@tls.service
	C=/etc/raftd/tls
	tcurl() { curl -s -o /dev/null -w %{http_code} --cacert $C/ca.pem "$@"; }
	check "raftd@tls active with its keys from LoadCredential=" '[ "$(prop raftd@tls.service ActiveState)" = active ]'
	check "an admin's certificate writes over TLS" '[ "$(tcurl --cert $C/admin.pem --key $C/admin-key.pem -XPOST https://127.0.0.1:24021/db/t -d v)" = 200 ]'
	check "no certificate: 401" '[ "$(tcurl https://127.0.0.1:24021/db/t)" = 401 ]'
	check "a certificate the roles do not name: 403" '[ "$(tcurl --cert $C/reader.pem --key $C/reader-key.pem https://127.0.0.1:24021/db/t)" = 403 ]'
	systemctl reload raftd@tls.service
	check_within "systemctl reload re-reads the credentials" 'journalctl -q -u raftd@tls.service | grep -q "reloaded" && [ "$(tcurl --cert $C/admin.pem --key $C/admin-key.pem https://127.0.0.1:24021/db/t)" = 200 ]'
	systemctl stop raftd@tls.service
	journalctl -q -o short-monotonic -u raftd@tls.service > /out/journal-tls.txt 2>&1
fi
journalctl -q -o short-monotonic -u 'raftd*' > /out/journal.txt 2>&1
echo done >> "$out"

