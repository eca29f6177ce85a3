#!/bin/sh
# raftctl snapshot restore of the file `etcdctl snapshot save` writes from
# raftd's v3 Snapshot stream (src/raftctl/raftctl_v3snap.h): raftd's
# snapshot, zeros to a 512-byte boundary, its length (le64), the SHA-256 of
# all before. Made here from a raftd snapshot, without etcdctl: the
# wrapped file restores like the plain one; a wrong length, a nonzero pad
# byte or a wrong hash are refused; a plain file is still taken.
. "$(dirname "$0")/../cluster/lib.sh"
rc() { "$RAFTCTL" --timeout 5s "$@"; }

node_start 1
P=$(port 1)
put_range 1 20
rc snapshot take --node "http://127.0.0.1:$P" >"$T/out" 2>&1 || fail "snapshot take: $(cat "$T/out")"
rc snapshot save --node "http://127.0.0.1:$P" "$T/plain.snap" >"$T/out" 2>&1 || fail "snapshot save: $(cat "$T/out")"
# wrap FILE OUT [LENGTH_DELTA PAD_BYTE HASH_FLIP]
wrap() {
	python3 - "$@" <<'PY'
import hashlib, struct, sys
b = open(sys.argv[1], 'rb').read()
delta, padb, flip = (int(x) for x in (sys.argv[3:] or ['0', '0', '0']))
pad = (512 - (len(b) + 8) % 512) % 512
body = b + bytes([padb]) * pad + struct.pack('<Q', len(b) + delta)
h = bytearray(hashlib.sha256(body).digest())
h[0] ^= flip
open(sys.argv[2], 'wb').write(body + bytes(h))
PY
}
wrap "$T/plain.snap" "$T/etcd.db" || fail "wrap"
[ $(( $(wc -c <"$T/etcd.db") % 512 )) = 32 ] || fail "the wrapped file is not whole sectors and a hash"
for f in plain.snap etcd.db; do
	rc snapshot restore --name r "$T/$f" "$T/d-$f" >"$T/out" 2>&1 || fail "restore of $f: $(cat "$T/out")"
	grep -q "20 keys\|21 keys" "$T/out" || fail "restore of $f: $(cat "$T/out")"
done
cmp -s "$T/d-plain.snap/name" "$T/d-etcd.db/name" || fail "names differ"
# a length one too long takes a pad byte into the snapshot (its decoder
# refuses it); one past the file is the trailer's own refusal
wrap "$T/plain.snap" "$T/len.db" 1 0 0
rc snapshot restore --name r "$T/len.db" "$T/d-len" >"$T/out" 2>&1 && fail "restored a wrong length"
wrap "$T/plain.snap" "$T/len2.db" 100000 0 0
rc snapshot restore --name r "$T/len2.db" "$T/d-len2" >"$T/out" 2>&1 && fail "restored a length past the file"
grep -q "trailer gives a length" "$T/out" || fail "length past the file: $(cat "$T/out")"
wrap "$T/plain.snap" "$T/pad.db" 0 7 0
if [ $(( $(wc -c <"$T/plain.snap") % 512 )) != 504 ]; then # there is padding to spoil
	rc snapshot restore --name r "$T/pad.db" "$T/d-pad" >"$T/out" 2>&1 && fail "restored a nonzero padding"
	grep -q "nonzero byte" "$T/out" || fail "padding: $(cat "$T/out")"
fi
wrap "$T/plain.snap" "$T/hash.db" 0 0 1
rc snapshot restore --name r "$T/hash.db" "$T/d-hash" >"$T/out" 2>&1 && fail "restored a wrong hash"
echo "ok"
