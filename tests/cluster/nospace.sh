#!/bin/sh
# A leader whose file system fills up stays up: the batch that finds no room
# is held (nothing acknowledged, nothing dropped), writes get 503 NOSPACE,
# reads are served, /status shows the alarm; once there is room again the
# held entries are written and writes succeed, and no acknowledged write is
# lost, before or after a restart. Node 1 (the leader) runs on a small ext4
# file system on a loop device: needs root (skipped without).
BASE=${BASE:-$((20000 + ($$ % 1270) * 10))}
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null ||
	{ echo "skipped: needs root, mkfs.ext4 and losetup"; exit 77; }

LOOP=""
nospace_cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	mountpoint -q "$T/n1" && umount "$T/n1"
	[ -n "$LOOP" ] && losetup -d "$LOOP"
	cleanup
}
trap nospace_cleanup EXIT
truncate -s 40M "$T/img" && mkfs.ext4 -q -m 0 -F "$T/img" || fail "mkfs"
LOOP=$(losetup -f --show "$T/img") || fail "losetup"
mkdir -p "$T/n1" && mount "$LOOP" "$T/n1" || fail "mount"

P=$(port 1)
head -c 4000 /dev/zero | tr '\0' x > "$T/v"
V=$(cat "$T/v")
# no spares (every new segment is allocated), no snapshots meanwhile
start_three -h 127.0.0.1 --segment-size 1M --wal-spare-segments 0 --snapshot-threshold 1000000
[ "$(status_field "$P" role)" = leader ] || fail "node 1 is not the leader"

# post KEY: HTTP status; the body in $T/body
post() {
	curl -s -m 3 -o "$T/body" -w '%{http_code}' -XPOST "http://127.0.0.1:$P/db/$1" --data-binary "@$T/v"
}
: > "$T/acked"
for i in $(seq 1 20); do
	[ "$(post a$i)" = 200 ] || fail "write a$i before the disk is full"
	echo "a$i" >> "$T/acked"
done

avail=$(df --output=avail -B1 "$T/n1" | tail -1)
fallocate -l "$avail" "$T/n1/filler" 2>/dev/null
dd if=/dev/zero of="$T/n1/filler2" bs=4k 2>/dev/null # what fallocate left
echo "filled: $(df --output=avail -B1 "$T/n1" | tail -1) bytes left"

# Writes go on until the current segment is full, then NOSPACE.
got503=0
for i in $(seq 1 1000); do
	code=$(post b$i)
	case $code in
	200) echo "b$i" >> "$T/acked" ;;
	503) grep -q NOSPACE "$T/body" || fail "503 without NOSPACE: $(cat "$T/body")"; got503=1; break ;;
	*) ;; # timed out: held, not acknowledged (yet)
	esac
done
[ "$got503" = 1 ] || fail "no 503 NOSPACE after 1000 writes on a full disk"
echo "ok: 503 NOSPACE after b$i: $(cat "$T/body")"
kill -0 "$PID_1" 2>/dev/null || fail "node 1 exited: $(tail -n 3 "$T/n1.log")"
[ "$(post c1)" = 503 ] || fail "a second write while full"
[ "$(status_field "$P" alarm)" = NOSPACE ] || fail "/status: no NOSPACE alarm"
[ "$(get "$P" a1)" = "$V" ] || fail "local read of a1 while full"
[ "$(status_field "$P" role)" = leader ] || fail "node 1 no longer leads"
grep -q "NOSPACE: refusing writes" "$T/n1.log" || fail "no NOSPACE line in the log"
echo "ok: node 1 up, refuses writes with 503 NOSPACE, serves reads"

rm -f "$T/n1/filler" "$T/n1/filler2" && sync -f "$T/n1"
ok=0
for _ in $(seq 60); do
	[ "$(post d1)" = 200 ] && { ok=1; break; }
	sleep 0.5
done
[ "$ok" = 1 ] || fail "writes still refused after the disk has room"
echo d1 >> "$T/acked"
kill -0 "$PID_1" 2>/dev/null || fail "node 1 exited"
[ "$(status_field "$P" alarm)" = "" ] || fail "/status: alarm still on"
grep -q "accepting writes again" "$T/n1.log" || fail "no line saying writes resume"
echo "ok: writes accepted again once the disk has room"

check_all() {
	for k in $(cat "$T/acked"); do
		for n in 1 2 3; do
			wait_value "$(port "$n")" "$k" "$V" || fail "$1: $k missing on node $n"
		done
	done
}
check_all "after the disk had room"
node_kill 1 TERM
node_start 1 -h 127.0.0.1 --segment-size 1M --wal-spare-segments 0 --snapshot-threshold 1000000
check_all "after node 1 restarted"
echo "ok: all $(wc -l < "$T/acked") acknowledged writes on every node, before and after a restart"
