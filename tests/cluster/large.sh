#!/bin/sh
# Large values (4 KiB to 300 KiB: their log entries are checksummed as soon
# as they are complete, wal/wal.c) replicate, survive kill -9 of every node
# while clients are writing, and read back byte for byte from every node;
# each node's WAL verifies after the crash.
. "$(dirname "$0")/lib.sh"
RAFTCTL=${top_builddir:-.}/src/raftctl/raftctl

start_three

# value i (file v<i>): i's own text (values are UTF-8, as in goraft), long enough to
# cross batch buffers now and then
python3 -c "import sys
for i in range(1, 61):
    n = (4096, 70001, 4095, 300000, 9000)[i % 5]
    with open(sys.argv[1] + '/v%d' % i, 'w') as f:
        f.write(''.join(chr(33 + (i * 131 + k * 7 + (k >> 9)) % 94) for k in range(n)))" "$T"

# four writers at once, so that batches gather several large entries; each
# records the keys it was told were written (200)
writer() {
	LEADER=$(wait_leader) || return 0
	for i in $(seq "$1" 4 60); do
		code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -XPOST \
			"http://127.0.0.1:$LEADER/db/big$i" --data-binary "@$T/v$i")
		[ "$code" = 200 ] && echo "$i" >>"$T/acked.$1"
	done
	return 0
}
for w in 1 2 3 4; do writer "$w" & done
# kill in the middle of the writes, once a few are acknowledged
for _ in $(seq 200); do
	[ "$(cat "$T"/acked.* 2>/dev/null | wc -l)" -ge 12 ] && break
	sleep 0.02
done
for n in 1 2 3; do node_kill "$n"; done
wait
cat "$T"/acked.* 2>/dev/null | sort -n >"$T/acked"
echo "ok: $(wc -l <"$T/acked") large writes acknowledged before every node was killed"

for n in 1 2 3; do
	"$RAFTCTL" wal verify "$T/n$n/wal" >"$T/verify$n" 2>&1 ||
		fail "node $n's WAL after kill -9: $(cat "$T/verify$n")"
done

for n in 1 2 3; do node_start "$n"; done
# what was acknowledged must be there untouched; the rest is written now
for i in $(seq 1 60); do
	grep -qx "$i" "$T/acked" || put_leader "big$i" "@$T/v$i" || fail "write big$i after the restart"
done
put_leader last 1 || fail "a write after the restart"
for n in 1 2 3; do
	wait_value "$(port "$n")" last 1 || fail "node $n applies the last write"
	for i in $(seq 1 60); do
		curl -s -o "$T/got" "http://127.0.0.1:$(port "$n")/db/big$i"
		cmp -s "$T/got" "$T/v$i" || fail "node $n: big$i differs ($(wc -c <"$T/got") bytes)"
	done
done
echo "ok: 60 large values read back byte for byte from all three nodes"
