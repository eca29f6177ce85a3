#!/bin/sh
# A node whose newest snapshot is damaged starts from the one before it and
# the log after that (kv keeps one older snapshot as a fallback, so the log
# must keep every entry after the fallback, not only after the newest).
. "$(dirname "$0")/lib.sh"

# 1 MiB segments and 4 KiB values: compaction drops whole segments early
node_start 1 -h 127.0.0.1 --snapshot-threshold 300 --segment-size 1M
head -c 4000 /dev/zero | tr '\0' x > "$T/v"
: > "$T/bulk.cfg"
for i in $(seq 1300); do
	[ "$i" = 1 ] || echo next >> "$T/bulk.cfg"
	printf 'url = "http://127.0.0.1:%s/db/k%s"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
		"$(port 1)" "$i" "$T/v" >> "$T/bulk.cfg"
done
curl -s -Z --parallel-max 16 -K "$T/bulk.cfg" > "$T/codes" 2>/dev/null
ok=$(grep -c '^200$' "$T/codes")
[ "$ok" = 1300 ] || fail "$ok of 1300 writes; answers: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
# the snapshot at the last threshold is durable (a loaded machine takes
# its time over it: 60 s)
snap_done() { s=$(status_field "$(port 1)" snapshot_index); [ "${s:-0}" -ge 1200 ]; }
until_ok 60 snap_done || fail "no snapshot at 1200 or later: $(status_field "$(port 1)" snapshot_index)"
snap=$(status_field "$(port 1)" snapshot_index)
first=$(curl -s -m 10 "http://127.0.0.1:$(port 1)/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wal"]["first_index"])')
echo "ok: 1300 writes; snapshot at $snap, the log starts at $first"
# Compaction keeps up to --wal-spare-segments (4) removed segments for
# reuse, and the next segment roll takes one. Whether one is left when the
# writes end depends on when the last snapshot's compaction ran against the
# last roll (a loaded machine moves both): write on, one at a time, until a
# compaction has left one that no roll took yet (a snapshot every 300
# entries, a roll every 250 or so: within a few hundred writes).
i=1300
while [ "$(spares 1)" = 0 ] && [ "$i" -lt 2300 ]; do
	i=$((i + 1))
	[ "$(put "$(port 1)" "x$i" "@$T/v")" = 200 ] || fail "write x$i"
done
spares=$(spares 1)
[ "$spares" -ge 1 ] && [ "$spares" -le 4 ] || fail "$spares spare segments after $((i - 1300)) more writes: $(ls "$T/n1/wal")"
echo "ok: $spares spare segments ($((i - 1300)) writes after the 1300)"
# a goraft node needs the whole log: its join is refused now
code=$(curl -s -o "$T/out" -w '%{http_code}' -XPOST "http://127.0.0.1:$(port 1)/join" \
	-d '{"name":"g9","connectionString":"http://127.0.0.1:9"}')
[ "$code" = 409 ] && grep -q compacted "$T/out" || fail "goraft join on a compacted log: $code $(cat "$T/out")"
echo "ok: a goraft join is refused once the log is compacted ($(cat "$T/out"))"
node_kill 1 TERM

newest=$(ls "$T/n1/snap" | grep -v tmp | sort -t- -k3 -n | tail -n 1)
older=$(ls "$T/n1/snap" | grep -v tmp | sort -t- -k3 -n | tail -n 2 | head -n 1)
[ "$newest" != "$older" ] || fail "one snapshot only: $(ls "$T/n1/snap")"
# flip a byte in the middle of the newest snapshot
size=$(stat -c %s "$T/n1/snap/$newest")
printf '\377' | dd of="$T/n1/snap/$newest" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
node_start 1 -h 127.0.0.1 --snapshot-threshold 300 --segment-size 1M
grep -q "newest snapshot skipped" "$T/n1.log" || fail "the damaged snapshot was not noticed"
wait_value "$(port 1)" k1300 "$(cat "$T/v")" || fail "k1300 after the restart"
wait_value "$(port 1)" k1 "$(cat "$T/v")" || fail "k1 after the restart"
echo "ok: $newest damaged: started from $older and the log after it"
node_kill 1 TERM
# no spares wanted: the restart removes them, and the log is as it was
node_start 1 -h 127.0.0.1 --snapshot-threshold 300 --segment-size 1M --wal-spare-segments 0
wait_value "$(port 1)" k1300 "$(cat "$T/v")" || fail "k1300 after a restart without spares"
[ "$(spares 1)" = 0 ] || fail "spares left: $(ls "$T/n1/wal")"
echo "ok: --wal-spare-segments 0 removed the spares"
