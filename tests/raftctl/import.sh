#!/bin/sh
# raftctl import-goraft: a goraft raftd data directory (name, conf, log of
# length-prefixed LogEntries, as goraft writes them) becomes a raftd one in
# place; raftd then starts from it with the same name, log and data. Then
# the refusals: an imported directory again, a compacted log, no name file.
. "$(dirname "$0")/../cluster/lib.sh"
RAFTCTL=${RAFTCTL:-${top_builddir:-.}/src/raftctl/raftctl}
MK="python3 $(dirname "$0")/mkgoraft.py"
rc() { "$RAFTCTL" "$@"; }

# a goraft node alone: its self-join, 40 writes, a nop at term 1, a torn tail
$MK "$T/n1" 6edf0e8 "http://localhost:$(port 1)" 40 --torn
cp "$T/n1/log" "$T/log.orig"
rc import-goraft "$T/n1" "$T/n1" >"$T/out" 2>&1 || fail "import: $(cat "$T/out")"
grep -q "^imported $T/n1 into $T/n1: node 6edf0e8$" "$T/out" || fail "summary: $(cat "$T/out")"
grep -q "^log: entries 1..42 (40 writes, 1 joins, 0 leaves, 1 nops), term 1$" "$T/out" || fail "log line: $(cat "$T/out")"
grep -q "^torn tail: [0-9]* bytes" "$T/out" || fail "torn tail reported: $(cat "$T/out")"
grep -q "^start it with: raftd -h localhost -p $(port 1) $T/n1$" "$T/out" || fail "hint: $(cat "$T/out")"
cmp -s "$T/log.orig" "$T/n1/log" || fail "the goraft log was changed"
[ "$(cat "$T/n1/name")" = 6edf0e8 ] || fail "name"
[ ! -e "$T/n1/wal.import" ] || fail "temporary WAL left behind"
rc wal verify "$T/n1/wal" >"$T/out" 2>&1 || fail "wal verify: $(cat "$T/out")"
grep -q "entries 1..42 (42)" "$T/out" && grep -q "term 1, voted for nobody" "$T/out" || fail "verify: $(cat "$T/out")"
# the entries are goraft's bytes, unchanged
rc wal dump --from 2 --to 2 "$T/n1/wal" >"$T/out"
grep -q '^2 0 write [0-9]* {"key":"k1","value":"v1"}\\n$' "$T/out" || fail "entry 2: $(cat "$T/out")"
echo "ok: import in place (name, 42 entries, term 1, torn tail left out)"

node_start 1
[ "$(wait_leader)" = "$(port 1)" ] || fail "the imported node leads its one-node cluster"
wait_value "$(port 1)" k40 v40 || fail "k40 after the restart in place"
wait_value "$(port 1)" k1 v1 || fail "k1 after the restart in place"
[ "$(get "$(port 1)" torn)" = "" ] || fail "the torn record was applied"
[ "$(status_field "$(port 1)" name)" = 6edf0e8 ] || fail "the node kept its name"
[ "$(put "$(port 1)" new 1)" = 200 ] || fail "a write after the import"
node_start 2 -join "127.0.0.1:$(port 1)"
wait_value "$(port 2)" k40 v40 || fail "a new node gets the imported log"
echo "ok: raftd starts from the imported directory, serves the data and grows"

# JSON, into a separate directory
$MK "$T/g2" 1234abc "http://10.0.0.5:4001" 3 --peer peerx=http://10.0.0.6:4001
rc -o json import-goraft "$T/g2" "$T/r2" >"$T/out" 2>&1 || fail "import json: $(cat "$T/out")"
python3 - "$T/out" <<'EOF' || fail "json: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "1234abc" and d["entries"] == 6 and d["writes"] == 3 and d["joins"] == 2, d
assert [m["name"] for m in d["members"]] == ["1234abc", "peerx"], d
assert d["conf_commit_index"] == 2 and d["start"].startswith("raftd -h 10.0.0.5 -p 4001 "), d
EOF
[ -e "$T/r2/log" ] && fail "a separate DATA_DIR gets no goraft files"
echo "ok: import into another directory, -o json"

# refusals, each one line and exit 1, nothing written
rc import-goraft "$T/g2" "$T/r2" >"$T/out" 2>&1 && fail "a second import must fail"
grep -q "already holds a raftd log" "$T/out" || fail "second import: $(cat "$T/out")"
$MK "$T/g3" aaaaaaa "http://localhost:1" 5 --start 100
rc import-goraft "$T/g3" "$T/r3" >"$T/out" 2>&1 && fail "a compacted log must be refused"
grep -q "starts at index 100: compacted" "$T/out" || fail "compacted: $(cat "$T/out")"
[ -e "$T/r3/wal" ] && fail "nothing written for a refused import"
mkdir "$T/g4"
rc import-goraft "$T/g4" "$T/r4" >"$T/out" 2>&1
[ $? = 1 ] || fail "no name file: exit 1"
grep -q "g4/name: No such file or directory (not a goraft raftd data directory?)" "$T/out" || fail "no name: $(cat "$T/out")"
$MK "$T/g5" bbbbbbb "http://localhost:1" 2
printf other > "$T/r5name"; mkdir "$T/r5"; cp "$T/r5name" "$T/r5/name"
rc import-goraft "$T/g5" "$T/r5" >"$T/out" 2>&1 && fail "another node's name must be refused"
grep -q "holds another node's name" "$T/out" || fail "other name: $(cat "$T/out")"
printf '{"commitIndex":99,"peers":[]}' > "$T/g5/conf"
rc import-goraft "$T/g5" "$T/r6" >"$T/out" 2>&1 && fail "a log shorter than the commit index must be refused"
grep -q "commit index 99 beyond the log's last entry" "$T/out" || fail "commit: $(cat "$T/out")"
rc import-goraft "$T/g5" >/dev/null 2>&1
[ $? = 2 ] || fail "one argument: exit 2"
rc import-goraft --help | grep -q "^usage: raftctl import-goraft" || fail "--help"
echo "ok: refusals (imported already, compacted, no name, other name, short log, usage)"

# With goraft's reference raftd (GORAFT_RAFTD=/path/to/binary, as
# tests/cluster/goraft.sh): a real goraft node's directory, replaced in place.
if [ -z "${GORAFT_RAFTD:-}" ]; then
	echo "# SKIP import of a real goraft node: set GORAFT_RAFTD=/path/to/goraft-raftd"
	exit 0
fi
[ -x "$GORAFT_RAFTD" ] || fail "GORAFT_RAFTD=$GORAFT_RAFTD is not an executable"
"$GORAFT_RAFTD" -h 127.0.0.1 -p "$(port 6)" "$T/n6" >"$T/goraft.log" 2>&1 &
gpid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$(port 6)/db/x" && break; sleep 0.05; done
for i in 1 2 3 4 5 6 7 8; do
	[ "$(put "$(port 6)" "g$i" "goraft $i")" = 200 ] || fail "write g$i to goraft"
done
kill "$gpid"
wait "$gpid" 2>/dev/null
name6=$(cat "$T/n6/name")
rc import-goraft "$T/n6" "$T/n6" >"$T/out" 2>&1 || fail "import of goraft's directory: $(cat "$T/out")"
grep -q "(8 writes, 1 joins, 0 leaves" "$T/out" || fail "goraft import summary: $(cat "$T/out")"
node_start 6 -h 127.0.0.1
wait_value "$(port 6)" g8 "goraft 8" || fail "raftd serves goraft's data after the import"
[ "$(status_field "$(port 6)" name)" = "$name6" ] || fail "the node kept goraft's name"
echo "ok: a real goraft node's directory imported and served by raftd in place"
