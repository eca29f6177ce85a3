#!/bin/sh
# A frozen disk (fsfreeze of the node's file system) is a WAL stall: the
# node logs it once, with its MESSAGE_ID's text, within wal-stall-ms and a
# tick of the write it holds up, says so in STATUS=, withholds WATCHDOG=1
# meanwhile, and logs its end once with its duration when the disk thaws;
# the held write then succeeds. sd_notify goes to a socket of the test's
# (NOTIFY_SOCKET, WATCHDOG_USEC as systemd sets them). The node's data
# directory is a small ext4 on a loop device: needs root (skipped without).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null &&
	command -v fsfreeze >/dev/null || { echo "skipped: needs root, mkfs.ext4, losetup and fsfreeze"; exit 77; }

STALL_MS=1000
LOOP=""
stall_cleanup() {
	# thaw first: a process blocked on the frozen file system cannot die
	mountpoint -q "$T/n1" && fsfreeze -u "$T/n1" 2>/dev/null
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	# a killed process's io_uring is torn down after it is reaped
	for _ in $(seq 100); do
		mountpoint -q "$T/n1" || break
		umount "$T/n1" 2>/dev/null && break
		sleep 0.05
	done
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	cleanup
}
trap stall_cleanup EXIT
trap 'exit 1' INT TERM
truncate -s 40M "$T/img" && mkfs.ext4 -q -m 0 -F "$T/img" || fail "mkfs"
LOOP=$(losetup -f --show "$T/img") || fail "losetup"
mkdir -p "$T/n1" && mount "$LOOP" "$T/n1" || fail "mount"

# sd_notify's receiving end: one line per field, "MONOTONIC_MS FIELD"
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    for f in s.recv(65536).decode(errors="replace").split("\n"):
        out.write("%d %s\n" % (time.monotonic() * 1000, f))
' "$T/notify" "$T/notify.log" &
PIDS="$PIDS $!"
for _ in $(seq 100); do [ -S "$T/notify" ] && break; sleep 0.05; done
[ -S "$T/notify" ] || fail "notify socket"
ms() { echo $(( $(date +%s%N) / 1000000 )); }

export NOTIFY_SOCKET="$T/notify" WATCHDOG_USEC=2000000
node_start 1 --wal-stall-ms "$STALL_MS" --segment-size 1M --wal-spare-segments 0
unset NOTIFY_SOCKET WATCHDOG_USEC
P=$(port 1)
wait_leader >/dev/null || fail "no leader"
[ "$(put "$P" before 1)" = 200 ] || fail "a write before the freeze"
for _ in $(seq 200); do grep -q ' WATCHDOG=1$' "$T/notify.log" && break; sleep 0.05; done
grep -q ' WATCHDOG=1$' "$T/notify.log" || fail "no WATCHDOG=1 before the freeze"

fsfreeze -f "$T/n1" || fail "fsfreeze"
t0=$(ms)
curl -s -m 60 -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$P/db/held" --data-binary v > "$T/held.code" &
PIDS="$PIDS $!"
for _ in $(seq 400); do grep -q "has not completed a write" "$T/n1.log" && break; sleep 0.02; done
t1=$(ms)
grep -q "has not completed a write" "$T/n1.log" || fail "the stall was not logged"
took=$((t1 - t0))
echo "stall logged ${took} ms after the held write (wal-stall-ms $STALL_MS)"
# a tick late at most; the bound is wide for a loaded machine
[ "$took" -le $((STALL_MS + 1500)) ] || fail "the stall was logged ${took} ms after the write, wal-stall-ms is $STALL_MS"
[ "$took" -ge $((STALL_MS - 50)) ] || fail "the stall was logged after ${took} ms, before wal-stall-ms ($STALL_MS)"

# STATUS= shows it, and its duration grows once a second: wait until it is
# well past the detection, then count
for _ in $(seq 300); do
	n=$(sed -n 's/.* STATUS=.*WAL STALLED: no write completed for \([0-9]*\) ms$/\1/p' "$T/notify.log" | tail -1)
	[ "${n:-0}" -ge $((STALL_MS + 2500)) ] && break
	sleep 0.05
done
lines=$(grep -c "has not completed a write" "$T/n1.log")
[ "$lines" = 1 ] || fail "the stall was logged $lines times, not once"
echo "ok: the stall was logged once"
[ "${n:-0}" -ge $((STALL_MS + 2500)) ] || fail "STATUS= does not show the stall growing (last: ${n:-none})"
echo "ok: STATUS= shows the stall (${n} ms)"
since=$(grep ' STATUS=.*WAL STALLED' "$T/notify.log" | head -1 | cut -d' ' -f1)
pings=$(awk -v s="$since" '$1 > s && $2 == "WATCHDOG=1"' "$T/notify.log" | wc -l)
[ "$pings" = 0 ] || fail "$pings WATCHDOG=1 during the stall"
echo "ok: no WATCHDOG=1 while stalled"

fsfreeze -u "$T/n1" || fail "thaw"
for _ in $(seq 400); do grep -q "completed a write again" "$T/n1.log" && break; sleep 0.05; done
grep -q "completed a write again" "$T/n1.log" || fail "the end of the stall was not logged"
for _ in $(seq 200); do [ -s "$T/held.code" ] && break; sleep 0.05; done
[ "$(cat "$T/held.code")" = 200 ] || fail "the held write answered $(cat "$T/held.code")"
lasted=$(sed -n 's/.*after a stall of \([0-9]*\) ms.*/\1/p' "$T/n1.log")
[ "${lasted:-0}" -ge $((STALL_MS + 2500)) ] || fail "the stall's end says it lasted ${lasted:-?} ms"
echo "ok: the end was logged with its duration (${lasted} ms); the held write succeeded"
for _ in $(seq 200); do
	awk -v s="$since" '$1 > s && $2 == "WATCHDOG=1"' "$T/notify.log" | grep -q . && break
	sleep 0.05
done
awk -v s="$since" '$1 > s && $2 == "WATCHDOG=1"' "$T/notify.log" | grep -q . || fail "no WATCHDOG=1 after the stall"
grep ' STATUS=' "$T/notify.log" | tail -1 | grep -q STALLED && fail "STATUS= still shows a stall"
sleep 0.5 # not a condition: gives a repeating message time to show
[ "$(grep -c "completed a write again" "$T/n1.log")" = 1 ] || fail "the end of the stall was logged more than once"
[ "$(grep -c "has not completed a write" "$T/n1.log")" = 1 ] || fail "the stall was logged again"
echo "ok: watchdog pings again; STATUS= clear"
[ "$(get "$P" held)" = v ] || fail "the held write reads back"
echo "ok: wal-stall"
