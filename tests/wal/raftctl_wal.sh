#!/bin/sh
# raftctl wal dump/verify on a real log of goraft entries, then on a damaged
# one: verify must fail naming the file, and change nothing.
set -u
b=${top_builddir:-.}
d=$(mktemp -d "${TMPDIR:-/var/tmp}/raftctl-wal.XXXXXX") || exit 99
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
raftctl() { "$b/src/raftctl/raftctl" "$@"; }

"$b/tests/wal/mklog" "$d/log" 400 65536 || fail "mklog"
raftctl wal verify "$d/log" >"$d/out" 2>&1 || fail "verify of a good log: $(cat "$d/out")"
grep -q "entries 1\.\.400 (400)" "$d/out" || fail "verify summary: $(cat "$d/out")"
grep -q 'term 9, voted for "n1"' "$d/out" || fail "verify meta: $(cat "$d/out")"
grep -q "^ok$" "$d/out" || fail "verify: $(cat "$d/out")"

raftctl wal dump "$d/log" >"$d/dump" || fail "dump"
[ "$(wc -l <"$d/dump")" -eq 400 ] || fail "dump: $(wc -l <"$d/dump") lines"
grep -q '^1 1 raft:join [0-9]* {"name":"n1","connectionString":"http://127.0.0.1:4001"}\\n$' "$d/dump" ||
	fail "dump line 1: $(sed -n 1p "$d/dump")"
grep -q '^123 3 write [0-9]* {"key":"k123","value":"v123"}\\n$' "$d/dump" ||
	fail "dump line 123: $(sed -n 123p "$d/dump")"
grep -q '^130 3 raft:nop [0-9]* -$' "$d/dump" || fail "dump line 130: $(sed -n 130p "$d/dump")"

raftctl wal dump --from 10 --to 12 "$d/log" >"$d/range" || fail "dump range"
[ "$(cut -d' ' -f1 "$d/range" | tr '\n' ' ')" = "10 11 12 " ] || fail "range: $(cat "$d/range")"
raftctl wal dump --json --from 123 --to 123 "$d/log" >"$d/json" || fail "dump --json"
grep -q '^{"index":123,"term":3,"command":"write","size":[0-9]*,"body":"{\\"key\\":\\"k123\\",\\"value\\":\\"v123\\"}\\n"}$' "$d/json" ||
	fail "json: $(cat "$d/json")"
raftctl wal dump --from x "$d/log" >/dev/null 2>&1
[ $? -eq 2 ] || fail "bad --from must be a usage error"
raftctl wal dump --json --from 130 --to 130 "$d/log" >"$d/json" || fail "dump --json nop"
grep -q '^{"index":130,"term":3,"command":"raft:nop","size":[0-9]*,"body":null}$' "$d/json" ||
	fail "json nop: $(cat "$d/json")"
[ -z "$(raftctl wal dump --from 20 --to 10 "$d/log")" ] || fail "empty range"
[ "$(raftctl wal dump --from 399 "$d/log" | cut -d' ' -f1 | tr '\n' ' ')" = "399 400 " ] ||
	fail "--from alone"

# Exit codes: 2 for usage, 1 for a directory that is not a log.
raftctl wal verify >/dev/null 2>&1
[ $? -eq 2 ] || fail "verify without DIR must be a usage error"
raftctl wal verify "$d/log" extra >/dev/null 2>&1
[ $? -eq 2 ] || fail "verify with two DIRs must be a usage error"
raftctl wal verify "$d/nonexistent" >"$d/out" 2>&1
[ $? -eq 1 ] || fail "verify of a missing directory must exit 1: $(cat "$d/out")"

# A node's data directory means its wal/; a directory holding neither a log
# nor a wal/ is refused, naming it (it once read as an empty, good log).
mkdir "$d/data" && cp -r "$d/log" "$d/data/wal" || fail "copy to data/wal"
raftctl wal verify "$d/data" >"$d/out" 2>&1 || fail "verify DATA_DIR: $(cat "$d/out")"
grep -q "^$d/data/wal: .*entries 1\.\.400 (400)" "$d/out" || fail "verify DATA_DIR summary: $(cat "$d/out")"
[ "$(raftctl wal dump --from 5 --to 6 "$d/data" | cut -d' ' -f1 | tr '\n' ' ')" = "5 6 " ] || fail "dump DATA_DIR"
mkdir "$d/empty"
raftctl wal verify "$d/empty" >"$d/out" 2>&1
[ $? -eq 1 ] || fail "verify of a directory without a log must exit 1: $(cat "$d/out")"
grep -q "$d/empty holds no write-ahead log" "$d/out" || fail "verify of an empty directory: $(cat "$d/out")"
raftctl wal dump "$d/empty" >"$d/out" 2>&1
[ $? -eq 1 ] || fail "dump of a directory without a log must exit 1: $(cat "$d/out")"

# -o json: verify's summary as one object, dump as with --json
raftctl -o json wal verify "$d/data" >"$d/json" || fail "verify -o json: $(cat "$d/json")"
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(0 if (o["entries"],o["first_index"],o["last_index"],o["term"],o["voted_for"],o["torn_tail"],o["bad_entries"],o["ok"])==(400,1,400,9,"n1",None,0,True) else 1)' "$d/json" ||
	fail "verify -o json: $(cat "$d/json")"
raftctl wal dump -o json --from 123 --to 123 "$d/log" >"$d/json" || fail "dump -o json"
grep -q '^{"index":123,"term":3,"command":"write",' "$d/json" || fail "dump -o json: $(cat "$d/json")"

# A torn tail (the write in flight at a crash) is not corruption: verify
# reports it, exits 0 and cuts nothing (read-only). The last segment's
# first record starts at 4096; cut 20 bytes into it.
cp -r "$d/log" "$d/torn"
last=$(cd "$d/torn" && ls *.seg | tail -n 1)
[ "$(stat -c %s "$d/torn/$last")" -gt 8192 ] || fail "last segment too short"
truncate -s 4116 "$d/torn/$last"
raftctl wal verify "$d/torn" >"$d/out" 2>&1 || fail "verify of a torn tail must exit 0: $(cat "$d/out")"
grep -q "torn tail: $last offset 4096, [0-9]* bytes" "$d/out" || fail "torn report: $(cat "$d/out")"
grep -q "^ok$" "$d/out" || fail "torn: $(cat "$d/out")"
[ "$(stat -c %s "$d/torn/$last")" -eq 4116 ] || fail "verify changed a torn segment"

# A damaged record in the last batch, whose padding record after it is
# intact: the batch was written completely (and acknowledged), so this is
# corruption, not a torn write: exit 1 naming file and offset, nothing cut.
# mklog writes one entry per batch: the last batch is the last block with
# data in the last segment.
cp -r "$d/log" "$d/lastbatch"
last=$(cd "$d/lastbatch" && ls *.seg | tail -n 1)
blk=$(python3 -c 'import sys
m = open(sys.argv[1], "rb").read().rstrip(b"\0")
print((len(m) - 1) // 4096 * 4096)' "$d/lastbatch/$last")
[ "$blk" -ge 4096 ] || fail "no batch in the last segment"
printf 'X' | dd of="$d/lastbatch/$last" bs=1 seek=$((blk + 40)) conv=notrunc 2>/dev/null
sum=$(cat "$d/lastbatch"/* | cksum)
raftctl wal verify "$d/lastbatch" >"$d/out" 2>&1
[ $? -eq 1 ] || fail "verify of a damaged last batch must exit 1: $(cat "$d/out")"
grep -q "$last offset $blk: bad record .*written completely" "$d/out" ||
	fail "last batch message: $(cat "$d/out")"
[ "$(cat "$d/lastbatch"/* | cksum)" = "$sum" ] || fail "verify changed the directory"

# A segment missing in the middle: a gap, exit 1 naming the one before.
cp -r "$d/log" "$d/gap"
[ "$(cd "$d/gap" && ls *.seg | wc -l)" -ge 3 ] || fail "expected three segments or more"
first=$(cd "$d/gap" && ls *.seg | sed -n 1p)
second=$(cd "$d/gap" && ls *.seg | sed -n 2p)
rm "$d/gap/$second"
raftctl wal verify "$d/gap" >"$d/out" 2>&1
[ $? -eq 1 ] || fail "verify of a log with a gap must exit 1: $(cat "$d/out")"
grep -q "$first offset [0-9]*: gap: entries [0-9]*\.\.[0-9]* missing" "$d/out" ||
	fail "gap message: $(cat "$d/out")"

# Damage one byte of the first (not the last) segment.
seg=$(cd "$d/log" && ls *.seg | head -n 1)
[ "$(cd "$d/log" && ls *.seg | wc -l)" -ge 2 ] || fail "expected several segments"
old=$(od -An -tu1 -j 6000 -N 1 "$d/log/$seg" | tr -d ' ')
new=$(( (old + 1) % 256 ))
printf "$(printf '\\%03o' "$new")" | dd of="$d/log/$seg" bs=1 seek=6000 conv=notrunc 2>/dev/null
sum=$(cat "$d/log"/* | cksum)
raftctl wal verify "$d/log" >"$d/out" 2>&1
[ $? -eq 1 ] || fail "verify of a damaged log must exit 1: $(cat "$d/out")"
grep -q "$seg offset [0-9]*: bad record" "$d/out" || fail "verify message: $(cat "$d/out")"
raftctl wal dump "$d/log" >/dev/null 2>&1 && fail "dump of a damaged log must fail"
[ "$(cat "$d/log"/* | cksum)" = "$sum" ] || fail "verify changed the directory"
echo "raftctl wal: ok"
