#!/bin/sh
# etcd's Cluster and Maintenance services (issue 19), driven by Debian's
# etcdctl 3.4 against three raftd nodes: member list / add (a learner) /
# promote / update / remove, endpoint status / health / hashkv on every
# member (the hashes equal), alarm list / disarm, defrag, move-leader, and
# snapshot save, from which `raftctl snapshot restore` builds a new
# one-node cluster that serves the keys.
. "${srcdir:-.}/tests/cluster/lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (Debian's etcd-client) not installed"; exit 77; }
export ETCDCTL_API=3
GRPC=1

ep() { echo "127.0.0.1:$(grpc_port "$1")"; }
EPS="$(ep 1),$(ep 2),$(ep 3)"
# etcdctl on endpoints $1; its output in $T/out, its errors in $T/err
ec() {
	_e=$1
	shift
	etcdctl --endpoints="$_e" --dial-timeout=5s --command-timeout=20s "$@" >"$T/out" 2>"$T/err"
}
ecok() { ec "$@" || fail "etcdctl $*: $(tail -n 3 "$T/err")"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }
# the etcd ID (hex) of node N, and the node whose /status says it leads
node_id() { ecok "$(ep "$1")" endpoint status -w json; jq_py "print('%x' % d[0]['Status']['header']['member_id'])" <"$T/out"; }
leader_node() {
	for _i in 1 2 3 4; do
		[ "$(status_field "$(port "$_i")" role 2>/dev/null)" = leader ] && { echo "$_i"; return 0; }
	done
	return 1
}
wait_leader_node() { until_ok 20 leader_node >/dev/null && leader_node; }

start_three
put_range 1 50
for i in 1 2 3; do wait_value "$(port "$i")" k50 v50 || fail "node $i has k50"; done

# --- member list: the same three members from every member ---
for i in 1 2 3; do
	ecok "$(ep "$i")" member list -w json
	jq_py "print(len(d['members']), sorted((m['ID'], m['name'], m['peerURLs'][0], m.get('isLearner', False)) for m in d['members']))" \
		<"$T/out" >"$T/members$i"
	# a member knows its own client URL
	jq_py "print([m.get('clientURLs') for m in d['members'] if m['ID'] == d['header']['member_id']][0][0])" \
		<"$T/out" >"$T/self$i"
	[ "$(cat "$T/self$i")" = "http://$(ep "$i")" ] || fail "node $i's client URL: $(cat "$T/self$i")"
done
# every member knows the others' client URLs too (their /raftd/version)
client_urls() {
	ec "$(ep "$1")" member list -w json || return 1
	jq_py "print(' '.join(sorted(m.get('clientURLs', [''])[0] for m in d['members'])))" <"$T/out" >"$T/urls$1"
	[ "$(cat "$T/urls$1")" = "http://$(ep 1) http://$(ep 2) http://$(ep 3)" ]
}
for i in 1 2 3; do
	until_ok 20 client_urls "$i" || fail "node $i's member list's client URLs: $(cat "$T/urls$i")"
done
grep -q '^3 ' "$T/members1" || fail "member list: $(cat "$T/members1")"
cmp -s "$T/members1" "$T/members2" && cmp -s "$T/members1" "$T/members3" || fail "member lists differ"
for i in 1 2 3; do
	grep -q "'$(status_field "$(port "$i")" name)', 'http://localhost:$(port "$i")', False" "$T/members1" ||
		fail "node $i not in $(cat "$T/members1")"
done

# --- endpoint status, health, hashkv on every member ---
ecok "$EPS" endpoint status -w json
jq_py "
ls = set(s['Status']['leader'] for s in d)
assert len(d) == 3 and len(ls) == 1 and 0 not in ls, d
for s in d:
    st = s['Status']
    assert st['version'].startswith('3.4.0+raftd.'), st
    assert st['dbSize'] > 0 and st['raftIndex'] > 0 and st['raftAppliedIndex'] > 0, st
    assert not st.get('isLearner') and not st.get('errors'), st
" <"$T/out" || fail "endpoint status: $(cat "$T/out")"
L=$(wait_leader_node) || fail "no leader"
LID=$(node_id "$L")
ecok "$EPS" endpoint status -w json
[ "$(jq_py "print('%x' % d[0]['Status']['leader'])" <"$T/out")" = "$LID" ] || fail "status names another leader than node $L"
ecok "$EPS" endpoint health
[ "$(cat "$T/out" "$T/err" | grep -c 'is healthy')" = 3 ] || fail "endpoint health: $(cat "$T/out" "$T/err")"
# at one revision (the leader's): every member hashes the same history
ecok "$(ep "$L")" endpoint hashkv -w json
REV=$(jq_py "print(d[0]['HashKV']['header']['revision'])" <"$T/out")
[ "$REV" -ge 50 ] || fail "revision $REV after 50 writes"
ecok "$EPS" endpoint hashkv --rev "$REV" -w json
jq_py "h = set(x['HashKV']['hash'] for x in d); assert len(d) == 3 and len(h) == 1 and 0 not in h, d" <"$T/out" ||
	fail "hashkv differ: $(cat "$T/out")"
# a future revision is etcd's error
ec "$(ep 1)" endpoint hashkv --rev 999999 && fail "hashkv of a future revision"
grep -q "required revision is a future revision" "$T/err" || fail "hashkv --rev 999999: $(cat "$T/err")"

# --- alarms: none; disarm answers; defrag: nothing to do ---
ecok "$EPS" alarm list
[ ! -s "$T/out" ] || fail "alarm list: $(cat "$T/out")"
ecok "$EPS" alarm disarm
ecok "$EPS" defrag
[ "$(grep -c 'Finished defragmenting' "$T/out")" = 3 ] || fail "defrag: $(cat "$T/out")"

# --- move-leader: to another voter, then it leads ---
TO=$(( L % 3 + 1 ))
TOID=$(node_id "$TO")
# etcdctl finds the leader by the endpoints' Status; a transfer the target
# could not take in time (a loaded machine) is etcd's timeout: again
moved() {
	ec "$EPS" move-leader "$TOID" && return 0
	grep -q "leader transfer timeout\|not leader" "$T/err" || fail "move-leader: $(cat "$T/err")"
	return 1
}
until_ok 30 moved || fail "move-leader: $(cat "$T/err")"
grep -q "Leadership transferred from [0-9a-f]* to $TOID" "$T/out" || fail "move-leader: $(cat "$T/out")"
until_ok 10 eval '[ "$(leader_node)" = "$TO" ]' || fail "node $TO does not lead after move-leader"
L=$TO
# to a member that is not one: etcd's error
ec "$EPS" move-leader 1234 && fail "move-leader to no member"
grep -q "bad leader transferee" "$T/err" || fail "move-leader 1234: $(cat "$T/err")"

# --- member add (a learner), promote, remove; a follower forwards them ---
U4="http://localhost:$(port 4)"
F=$(( L % 3 + 1 ))
ecok "$(ep "$F")" member add ignored --learner --peer-urls="$U4"
grep -q "^Member  *[0-9a-f]* added to cluster" "$T/out" || fail "member add: $(cat "$T/out")"
ID4=$(sed -n 's/^Member  *\([0-9a-f]*\) added.*/\1/p' "$T/out")
ecok "$(ep "$L")" member list
grep -q "^$ID4, started, localhost:$(port 4), $U4, , true$" "$T/out" || fail "the learner in: $(cat "$T/out")"
# the same URL again: etcd's error
ec "$(ep "$L")" member add again --peer-urls="$U4" && fail "member add of a URL twice"
grep -q "Peer URLs already exists" "$T/err" || fail "member add twice: $(cat "$T/err")"
# not started: it cannot be in sync with the leader
ec "$(ep "$L")" member promote "$ID4" && fail "promoted a learner that is not running"
grep -q "can only promote a learner member which is in sync with leader" "$T/err" || fail "promote: $(cat "$T/err")"
# through a follower: the leader's answer
ec "$(ep "$F")" member promote "$ID4" && fail "a follower promoted"
grep -q "can only promote a learner member which is in sync with leader" "$T/err" ||
	fail "promote on a follower: $(cat "$T/err")"
# the new node runs under the name MemberAdd gave it; once caught up it is
# promoted (by this promote, or by the leader itself first)
node_start 4 -name "localhost:$(port 4)" -join "127.0.0.1:$(port 1)"
promoted() {
	ec "$(ep "$L")" member promote "$ID4" && return 0
	grep -q "can only promote a learner member$" "$T/err" # the leader did
}
until_ok 30 promoted || fail "promote: $(cat "$T/err")"
# started with its gRPC port: the leader learns its client URL
voter_listed() {
	ecok "$(ep "$L")" member list
	grep -q "^$ID4, started, localhost:$(port 4), $U4, http://$(ep 4), false$" "$T/out"
}
until_ok 20 voter_listed || fail "the voter in: $(cat "$T/out")"
wait_value "$(port 4)" k50 v50 || fail "node 4 has k50"
ec "$(ep "$L")" member promote "$ID4" && fail "promoted a voter"
grep -q "can only promote a learner member$" "$T/err" || fail "promote of a voter: $(cat "$T/err")"
# update: the same URL is a success, another cannot be done in raftd
ecok "$(ep "$L")" member update "$ID4" --peer-urls="$U4"
ec "$(ep "$L")" member update "$ID4" --peer-urls="http://localhost:$(port 5)" && fail "member update of a URL"
grep -q "cannot change the URL of a member" "$T/err" || fail "member update: $(cat "$T/err")"
ecok "$(ep "$F")" member remove "$ID4"
grep -q "^Member  *$ID4 removed from cluster" "$T/out" || fail "member remove: $(cat "$T/out")"
ecok "$(ep "$L")" member list
[ "$(wc -l <"$T/out")" = 3 ] && ! grep -q "$ID4" "$T/out" || fail "after the remove: $(cat "$T/out")"
ec "$(ep "$L")" member remove "$ID4" && fail "removed a member twice"
grep -q "member not found" "$T/err" || fail "remove twice: $(cat "$T/err")"
# a voter this time, through the leader: a voter at once, as etcd's; the
# node (a new data directory) joins and catches up
until_ok 20 eval '! kill -0 "$PID_4" 2>/dev/null' || fail "node 4 still runs after its removal"
rm -rf "$T/n4"
# refused while the members the leader heard from lately would not be a
# majority with it (a loaded machine): again; a retry of one that was made
# finds its URL taken
voter_added() {
	ec "$(ep "$L")" member add ignored --peer-urls="$U4" && return 0
	grep -q "Peer URLs already exists" "$T/err" && return 0
	grep -q "not enough started members" "$T/err" || fail "member add of a voter: $(cat "$T/err")"
	return 1
}
until_ok 30 voter_added || fail "member add of a voter: $(cat "$T/err")"
ecok "$(ep "$L")" member list
grep -q "^$ID4, started, localhost:$(port 4), $U4, , false$" "$T/out" || fail "the new voter in: $(cat "$T/out")"
node_start 4 -name "localhost:$(port 4)" -join "127.0.0.1:$(port 1)"
wait_value "$(port 4)" k50 v50 || fail "node 4 has k50 as a voter"
ecok "$(ep "$L")" member remove "$ID4"

# --- snapshot save from a follower, restore, a new cluster from it ---
# a few MiB: many messages, more than a call's output budget at once
head -c 49152 /dev/urandom | base64 -w0 >"$T/big"
for i in $(seq 1 48); do put_leader "big$i" "@$T/big" || fail "write big$i"; done
put_leader last here || fail "write last"
for i in 1 2 3; do wait_value "$(port "$i")" last here || fail "node $i has last"; done
F=$(( L % 3 + 1 ))
ecok "$(ep "$F")" snapshot save "$T/etcd.db"
grep -q "Snapshot saved at $T/etcd.db" "$T/out" || fail "snapshot save: $(cat "$T/out" "$T/err")"
# etcd's stream: whole sectors, then the SHA-256 of them
python3 -c "
import hashlib, sys
b = open(sys.argv[1], 'rb').read()
assert len(b) % 512 == 32 and hashlib.sha256(b[:-32]).digest() == b[-32:], len(b)
" "$T/etcd.db" || fail "the saved file has no SHA-256 of whole sectors"
[ "$(wc -c <"$T/etcd.db")" -gt 3000000 ] || fail "a snapshot of $(wc -c <"$T/etcd.db") bytes"
"$RAFTCTL" snapshot restore --name solo --advertise "http://localhost:$(port 5)" "$T/etcd.db" "$T/n5" >"$T/restore.out" 2>&1 ||
	fail "raftctl snapshot restore: $(cat "$T/restore.out")"
# a damaged byte is refused (the hash, or the snapshot's own checksums)
cp "$T/etcd.db" "$T/bad.db"
printf 'X' | dd of="$T/bad.db" bs=1 seek=100 conv=notrunc 2>/dev/null
"$RAFTCTL" snapshot restore --name solo "$T/bad.db" "$T/n6" >/dev/null 2>&1 && fail "restored a damaged file"
GRPC=0 node_start 5
until_ok 10 eval '[ "$(status_field "$(port 5)" role)" = leader ]' || fail "the restored node does not lead"
for k in k1 k25 k50 big48 last; do
	v=$(get "$(port 5)" "$k")
	[ -n "$v" ] && [ "$v" = "$(get "$(port "$L")" "$k")" ] || fail "restored node: $k=$v"
done
echo "ok"
