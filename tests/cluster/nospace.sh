#!/bin/sh
# A leader whose file system fills up stays up: the batch that finds no room
# is held (nothing acknowledged, nothing dropped), writes get 503 NOSPACE,
# reads are served, /status shows the alarm; once there is room again the
# held entries are written and writes succeed, and no acknowledged write is
# lost, before or after a restart. Then a follower's file system fills up
# while it is the only other voter up: it refuses the entries (503, never a
# success), so nothing commits until it has room. Nodes 1 (the leader) and
# 2 run on small ext4 file systems on loop devices: needs root (skipped
# without).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null ||
	{ echo "skipped: needs root, mkfs.ext4 and losetup"; exit 77; }

LOOPS=""
nospace_cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in 1 2; do mountpoint -q "$T/n$n" && umount "$T/n$n"; done
	for l in $LOOPS; do losetup -d "$l"; done
	cleanup
}
trap nospace_cleanup EXIT
for n in 1 2; do
	truncate -s 40M "$T/img$n" && mkfs.ext4 -q -m 0 -F "$T/img$n" || fail "mkfs"
	l=$(losetup -f --show "$T/img$n") || fail "losetup"
	LOOPS="$LOOPS $l"
	mkdir -p "$T/n$n" && mount "$l" "$T/n$n" || fail "mount"
done

# fill N: no room left on node N's file system
fill() {
	fallocate -l "$(df --output=avail -B1 "$T/n$1" | tail -1)" "$T/n$1/filler" 2>/dev/null
	dd if=/dev/zero of="$T/n$1/filler2" bs=4k 2>/dev/null # what fallocate left
	echo "node $1 filled: $(df --output=avail -B1 "$T/n$1" | tail -1) bytes left"
}
unfill() { rm -f "$T/n$1/filler" "$T/n$1/filler2" && sync -f "$T/n$1"; }
wal_field() { # PORT FIELD: a field of /status's "wal"
	curl -s -m 2 "http://127.0.0.1:$1/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['wal']['$2'])"
}

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

fill 1

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

unfill 1
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

# A follower without room, and the only other voter up: writes must not
# commit (a success for entries it refused would acknowledge them).
P=$(wait_leader) || fail "no leader after the restart"
L=$((P - BASE))
F=1; [ "$L" = 1 ] && F=2 # the follower on a loop device
K=$((6 - L - F))         # the third node, stopped
start_k() { node_start "$K" -h 127.0.0.1 --segment-size 1M --wal-spare-segments 0 --snapshot-threshold 1000000; }
node_kill "$K" TERM
fill "$F"
held=0
for i in $(seq 1 1000); do
	code=$(curl -s -m 1 -o "$T/body" -w '%{http_code}' -XPOST "http://127.0.0.1:$P/db/e$i" --data-binary "@$T/v")
	if [ "$code" = 200 ]; then
		[ "$held" = 0 ] || fail "e$i acknowledged while node $F had no room"
		echo "e$i" >> "$T/acked"
	else
		held=$((held + 1))
		[ "$held" -ge 5 ] && break
	fi
done
[ "$held" -ge 5 ] || fail "1000 writes committed with node $F full"
grep -q "NOSPACE: refusing writes" "$T/n$F.log" || fail "node $F did not hold its batch"
kill -0 "$(eval echo \$PID_"$F")" 2>/dev/null || fail "node $F exited"
# (node F may have taken the lead meanwhile: its log, held entries
# included, is as long as the leader's; it then refuses writes itself)
d=$(wal_field "$(port "$F")" durable_index)
for n in "$L" "$F"; do
	c=$(status_field "$(port "$n")" commit_index)
	[ "$c" -le "$d" ] || fail "node $n's commit index $c above node $F's durable index $d"
done
echo "ok: with node $F full nothing commits beyond what it holds durably (index $d)"
unfill "$F"
start_k
LEADER=
put_leader f1 "$V" || fail "writes still not committing after node $F has room"
echo f1 >> "$T/acked"
check_all "after node $F had room"
echo "ok: all $(wc -l < "$T/acked") acknowledged writes on every node"
