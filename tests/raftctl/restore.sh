#!/bin/sh
# raftctl snapshot restore: a snapshot saved from a three-node cluster
# becomes a new one-member cluster's data directory; raftd started on it
# leads alone, serves the keys and takes new writes. A non-empty DATA_DIR
# is refused.
. "$(dirname "$0")/../cluster/lib.sh"
rc() { "$RAFTCTL" --timeout 5s "$@"; }

start_three
export RAFTCTL_ENDPOINTS="http://127.0.0.1:$(port 1),http://127.0.0.1:$(port 2),http://127.0.0.1:$(port 3)"
put_range 1 50
L=$(wait_leader) || fail "no leader"
rc snapshot take --node "http://127.0.0.1:$L" >"$T/out" 2>&1 || fail "snapshot take: $(cat "$T/out")"
rc snapshot save --node "http://127.0.0.1:$L" "$T/backup.snap" >"$T/out" 2>&1 || fail "snapshot save: $(cat "$T/out")"

# refusals: no --name, a DATA_DIR with something in it, a damaged file
rc snapshot restore "$T/backup.snap" "$T/n5" >"$T/out" 2>&1
[ $? = 2 ] || fail "restore without --name must be a usage error: $(cat "$T/out")"
mkdir "$T/full" && echo x >"$T/full/file"
rc snapshot restore --name r5 "$T/backup.snap" "$T/full" >"$T/out" 2>&1
[ $? = 1 ] && grep -q "$T/full exists and is not empty" "$T/out" || fail "non-empty DATA_DIR: $(cat "$T/out")"
[ "$(ls "$T/full")" = file ] || fail "restore touched a non-empty DATA_DIR"
head -c 100 "$T/backup.snap" >"$T/short.snap"
rc snapshot restore --name r5 "$T/short.snap" "$T/n6" >"$T/out" 2>&1
[ $? = 1 ] && [ ! -e "$T/n6" ] || fail "a truncated snapshot: $(cat "$T/out")"
echo "ok: refusals"

rc snapshot restore --name r5 --advertise "http://localhost:$(port 5)" "$T/backup.snap" "$T/n5" >"$T/out" 2>&1 ||
	fail "restore: $(cat "$T/out")"
grep -q "restored .* into $T/n5" "$T/out" || fail "restore says: $(cat "$T/out")"
node_start 5
P=$(port 5)
ok=
for _ in $(seq 200); do
	[ "$(status_field "$P" role)" = leader ] && { ok=1; break; }
	sleep 0.05
done
[ -n "$ok" ] || fail "the restored node does not lead: $(curl -s "http://127.0.0.1:$P/status")"
[ "$(status_field "$P" name)" = r5 ] || fail "name: $(status_field "$P" name)"
curl -s "http://127.0.0.1:$P/status" | python3 -c 'import json,sys; m=json.load(sys.stdin)["members"]; sys.exit(0 if [x["name"] for x in m]==["r5"] else 1)' ||
	fail "members: $(curl -s "http://127.0.0.1:$P/status")"
for i in 1 25 50; do
	[ "$(get "$P" "k$i")" = "v$i" ] || fail "k$i after restore: '$(get "$P" "k$i")'"
done
[ "$(get "$P" first)" = 1 ] || fail "first after restore"
[ "$(put "$P" new1 hello)" = 200 ] || fail "a write to the restored node"
[ "$(get "$P" new1)" = hello ] || fail "new1 after the write"
echo "ok: the restored node leads alone, serves the old keys and takes new ones"

# and after a restart, from its own snapshot and WAL
node_kill 5 TERM
node_start 5
ok=
for _ in $(seq 200); do
	[ "$(status_field "$P" role)" = leader ] && { ok=1; break; }
	sleep 0.05
done
[ -n "$ok" ] || fail "the restored node does not lead after a restart"
[ "$(get "$P" k25)" = v25 ] && [ "$(get "$P" new1)" = hello ] || fail "keys after a restart"
echo "ok: a restart keeps the restored and the new keys"
