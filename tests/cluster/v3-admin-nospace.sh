#!/bin/sh
# etcd's NOSPACE alarm through the v3 API: while a node's WAL holds a batch
# for a full disk, `etcdctl alarm list` and `endpoint status` show NOSPACE
# for that member; once the disk has room, `etcdctl alarm disarm` retries
# the held writes and the alarm is gone. Also: a lone first node, which
# leads at term 0 (goraft's), streams a snapshot. The node's data
# directory is a small ext4 file system on a loop device: needs root (skipped without).
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (Debian's etcd-client) not installed"; exit 77; }
[ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null ||
	{ echo "skipped: needs root, mkfs.ext4 and losetup"; exit 77; }
export ETCDCTL_API=3
GRPC=1

LOOP=""
nospace_cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	mountpoint -q "$T/n1" && umount "$T/n1"
	[ -z "$LOOP" ] || losetup -d "$LOOP"
	cleanup
}
trap nospace_cleanup EXIT
truncate -s 40M "$T/img" && mkfs.ext4 -q -m 0 -F "$T/img" || fail "mkfs"
LOOP=$(losetup -f --show "$T/img") || fail "losetup"
mkdir -p "$T/n1" && mount "$LOOP" "$T/n1" || fail "mount"

EP=127.0.0.1:$(grpc_port 1)
ec() { etcdctl --endpoints="$EP" --dial-timeout=5s --command-timeout=20s "$@" >"$T/out" 2>"$T/err"; }
ecok() { ec "$@" || fail "etcdctl $*: $(tail -n 3 "$T/err")"; }
P=$(port 1)
head -c 4000 /dev/zero | tr '\0' x >"$T/v"
post() { curl -s -m 3 -o "$T/body" -w '%{http_code}' -XPOST "http://127.0.0.1:$P/db/$1" --data-binary "@$T/v"; }

node_start 1 -h 127.0.0.1 --segment-size 1M --wal-spare-segments 0 --snapshot-threshold 1000000
until_ok 10 eval '[ "$(status_field "$P" role)" = leader ]' || fail "no leader"
[ "$(post a1)" = 200 ] || fail "a first write"
ecok alarm list
[ ! -s "$T/out" ] || fail "an alarm before the disk is full: $(cat "$T/out")"
[ "$(status_field "$P" term)" = 0 ] || fail "a lone first node at term $(status_field "$P" term)"
ecok snapshot save "$T/snap.db"
"$RAFTCTL" snapshot restore --name r "$T/snap.db" "$T/r" >"$T/restore.out" 2>&1 || fail "restore: $(cat "$T/restore.out")"

fallocate -l "$(df --output=avail -B1 "$T/n1" | tail -1)" "$T/n1/filler" 2>/dev/null
dd if=/dev/zero of="$T/n1/filler2" bs=4k 2>/dev/null
# ext4 reserves blocks for delayed allocations and gives back what writeback
# did not need: the node's once-a-second retry then found room between two
# checks. Written back, the disk is topped up again until nothing is left.
sync -f "$T/n1"
dd if=/dev/zero of="$T/n1/filler3" bs=4k 2>/dev/null
sync -f "$T/n1"
dd if=/dev/zero of="$T/n1/filler4" bs=1k 2>/dev/null
sync -f "$T/n1"
got503=0
for i in $(seq 1 1000); do
	[ "$(post b$i)" = 503 ] && { got503=1; break; }
done
[ "$got503" = 1 ] || fail "no 503 NOSPACE after 1000 writes on a full disk"
ID=$(etcdctl --endpoints="$EP" endpoint status -w json |
	python3 -c "import json,sys; print(json.load(sys.stdin)[0]['Status']['header']['member_id'])")
ecok alarm list
grep -q "memberID:$ID alarm:NOSPACE" "$T/out" || fail "alarm list while full: $(cat "$T/out" "$T/err")"
ecok endpoint status -w json
grep -q "memberID:$ID alarm:NOSPACE" "$T/out" || fail "endpoint status while full: $(cat "$T/out")"
# disarmed while still full: the retry finds no room, the alarm stays
ecok alarm disarm
grep -q "alarm:NOSPACE" "$T/out" || fail "alarm disarm lists nothing: $(cat "$T/out")"
sleep 0.5 # not a condition: the retry's completion, if it were to clear it
ecok alarm list
grep -q "alarm:NOSPACE" "$T/out" || fail "the alarm went while the disk is still full"

rm -f "$T/n1"/filler* && sync -f "$T/n1"
ecok alarm disarm
# it lists what it disarmed, unless the node's own retry (every second)
# found the room first: then no alarm is up, and etcdctl's disarm only lists
grep -q "memberID:$ID alarm:NOSPACE" "$T/out" || { ec alarm list && [ ! -s "$T/out" ]; } ||
	fail "alarm disarm: $(cat "$T/out" "$T/err")"
no_alarm() { ec alarm list && [ ! -s "$T/out" ]; }
until_ok 10 no_alarm || fail "the alarm stays after the disk has room: $(cat "$T/out")"
until_ok 10 eval '[ "$(post c1)" = 200 ]' || fail "writes still refused"
echo "ok"
