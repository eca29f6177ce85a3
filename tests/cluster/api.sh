#!/bin/sh
# The HTTP API of real raftd nodes: DELETE, --forward-writes, the admin
# endpoints (/raftd/snapshot, /raftd/transfer), limits, and bad requests on
# every route — each gets a 4xx with a reason, and the node keeps serving.
. "$(dirname "$0")/lib.sh"

# req EXPECTED_CODE CURL_ARGS...: one request; the body is left in $T/out
req() {
	want=$1
	shift
	code=$(curl -s -m 5 -o "$T/out" -w '%{http_code}' "$@")
	[ "$code" = "$want" ] || fail "curl $*: HTTP $code (wanted $want): $(head -c 300 "$T/out")"
}
# why TEXT: the last body says TEXT
why() { grep -q "$1" "$T/out" || fail "reason '$(head -c 300 "$T/out")' does not say '$1'"; }
u() { echo "http://127.0.0.1:$(port "$1")$2"; }

# The sections below speak to node 1 as the leader and to node 2 as a
# follower: each starts by making node 1 lead (make_lead) and runs again
# if an election interrupted it (steady, lib.sh). Election timeouts of 1-2
# s make that rare under a loaded make -j check; the checks do not rely on it.
lim="--max-key 16 --max-value 1024 --max-raft-body 65536 --election-timeout-ms 1000"
# shellcheck disable=SC2086
node_start 1 -h 127.0.0.1 $lim
# shellcheck disable=SC2086
node_start 2 -h 127.0.0.1 $lim -join "127.0.0.1:$(port 1)"
# shellcheck disable=SC2086
node_start 3 -h 127.0.0.1 $lim --forward-writes -join "127.0.0.1:$(port 1)"
make_lead 1
for _ in $(seq 100); do # both joins committed
	[ "$(status_field "$(port 1)" commit_index)" -ge 4 ] && break
	sleep 0.05
done
name1=$(status_field "$(port 1)" name)
name2=$(status_field "$(port 2)" name)
name3=$(status_field "$(port 3)" name)

# ---- DELETE ----------------------------------------------------------------------------
section_delete() {
req 200 -XPOST "$(u 1 /db/gone)" -d here
req 200 -XPOST "$(u 1 /db/kept)" -d here
for n in 1 2 3; do wait_value "$(port $n)" gone here || fail "node $n has gone=here"; done
req 200 -XDELETE "$(u 1 /db/gone)"
for n in 1 2 3; do
	for _ in $(seq 100); do
		[ "$(curl -s "$(u $n /status)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"])')" = 1 ] && break
		sleep 0.05
	done
	[ "$(get "$(port $n)" gone)" = "" ] || fail "node $n still has the deleted key"
	[ "$(get "$(port $n)" kept)" = here ] || fail "node $n lost the other key"
done
req 200 -XDELETE "$(u 1 /db/never-there)"
req 400 -XDELETE "$(u 2 /db/kept)"
why "raft.Server: Not current leader"
# a DELETE adds nothing: --max-key does not apply (it may remove a key a
# goraft leader let in)
req 200 -XDELETE "$(u 1 /db/0123456789abcdefX)"
req 413 -XDELETE "$(u 1 /db/kept)" -d body
# a goraft joiner (no ?raftd=1) could not apply the raftd:delete entries
req 409 -XPOST "$(u 1 /join)" -d '{"name":"g9","connectionString":"http://127.0.0.1:9"}'
why "raftd-only commands"
}
steady -p "make_lead 1" section_delete
echo "ok: DELETE removes a key on every node; a follower refuses it; limits apply; goraft joins refused after it"

# ---- --forward-writes: 307 to the leader, query kept ----------------------------------------
section_forward() {
req 307 -XPOST "$(u 3 /db/fw)" -d one
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -XPOST "$(u 3 /db/fw)" -d one)
[ "$loc" = "$(u 1 /db/fw)" ] || fail "redirect to '$loc'"
req 200 -L -XPOST "$(u 3 /db/fw)" -d one
wait_value "$(port 3)" fw one || fail "the forwarded write reached node 3"
req 307 -XDELETE "$(u 3 /db/fw)"
# a follower serves consistent reads itself (its leader's read index)
req 200 "$(u 3 '/db/fw?consistent=true')"
[ "$(cat "$T/out")" = one ] || fail "consistent read at a follower: '$(cat "$T/out")'"
req 200 "$(u 2 '/db/fw?consistent=true')"
[ "$(cat "$T/out")" = one ] || fail "consistent read at a follower: '$(cat "$T/out")'"
req 400 -XPOST "$(u 2 /db/fw)" -d two
}
steady -p "make_lead 1" section_forward
echo "ok: --forward-writes redirects writes and deletes (307), others refuse with 400; followers serve consistent reads"

# ---- limits and bad requests on the client routes -------------------------------------------
section_limits() {
req 200 -XPOST "$(u 1 /db/0123456789abcdef)" -d max-key
req 414 -XPOST "$(u 1 /db/0123456789abcdefX)" -d x
why "key too long"
head -c 1024 /dev/zero | tr '\0' v > "$T/v1024"
head -c 1025 /dev/zero | tr '\0' v > "$T/v1025"
req 200 -XPOST "$(u 1 /db/big)" --data-binary "@$T/v1024"
req 413 -XPOST "$(u 1 /db/big)" --data-binary "@$T/v1025"
why "too large"
# chunked bodies are refused before they are read (net/http_request.h)
req 411 -XPOST "$(u 1 /db/big)" -H 'Transfer-Encoding: chunked' --data-binary "@$T/v1025"
req 404 -XPOST "$(u 1 /db/)" -d x
req 404 -XPOST "$(u 1 /db/a/b)" -d x
req 404 "$(u 1 /nowhere)"
req 405 -XPATCH "$(u 1 /db/k)" -d x
req 405 "$(u 1 /join)"
req 405 -XPOST "$(u 1 /status)"
req 405 -XDELETE "$(u 1 /metrics)"
req 405 -XPUT "$(u 1 /raftd/snapshot)"
req 405 "$(u 1 /raftd/transfer)"
}
steady -p "make_lead 1" section_limits
echo "ok: key and value limits (414, 413), unknown paths (404), wrong methods (405)"

# ---- keys are byte strings, read from the path as goraft raftd reads it ---------------------
section_keys() {
req 200 -XPOST "$(u 1 /db/x)" -d plain
req 200 -XPOST "$(u 1 /db/x%00y)" -d nul
for n in 1 2 3; do wait_value "$(port $n)" 'x%00y' nul || fail "node $n has x%00y=nul"; done
for n in 1 2 3; do [ "$(get "$(port $n)" x)" = plain ] || fail "node $n: the write to x%00y landed on x"; done
req 200 -XPOST "$(u 1 /db/%00)" -d zero
wait_value "$(port 2)" '%00' zero || fail "node 2 has %00=zero"
# bytes Go's JSON would turn into U+FFFD: two keys would become one
req 400 -XPOST "$(u 1 /db/%ff)" -d ff
why "not valid UTF-8"
req 400 -XPOST "$(u 1 /db/a%c3)" -d cut
req 400 "$(u 2 /db/%fe)"
req 200 -XPOST "$(u 1 /db/caf%C3%A9)" -d utf8
wait_value "$(port 2)" 'caf%c3%a9' utf8 || fail "node 2 has café=utf8"
# Go's answers: a bad escape is 400; a path that is not clean is
# redirected (gorilla/mux, 301) with the key encoded again
req 400 "$(u 1 /db/%zz)"
req 301 --path-as-is "$(u 2 '/db//x%00y?consistent=true')"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' --path-as-is "$(u 2 '/db/./x%00y')")
[ "$loc" = "$(u 2 /db/x%00y)" ] || fail "redirect of /db/./x%00y to '$loc'"
# --forward-writes: the Location holds the key's bytes, encoded
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -XPOST "$(u 3 /db/a%20b%00%3F)" -d fw)
[ "$loc" = "$(u 1 /db/a%20b%00%3F)" ] || fail "forwarded to '$loc'"
}
steady -p "make_lead 1" section_keys
echo "ok: keys are bytes (NUL included), UTF-8 only; bad escapes 400, unclean paths 301"

# /join and /leave: JSON, names, URLs
section_join() {
req 400 -XPOST "$(u 1 /join)" -d '{"name":'
why "invalid JSON"
req 400 -XPOST "$(u 1 /join)" -d '[1,2]'
req 400 -XPOST "$(u 1 /join)" -d ''
req 400 -XPOST "$(u 1 /join)" -d '{"name":7,"connectionString":"http://127.0.0.1:9"}'
req 400 -XPOST "$(u 1 /join)" -d '{"name":"","connectionString":"http://127.0.0.1:9"}'
why "join: name must be 1 to 63 bytes"
req 400 -XPOST "$(u 1 /join)" -d '{"name":"x","connectionString":""}'
why "connectionString"
for bad in "https://127.0.0.1:9" "http://127.0.0.1:9/" "http://127.0.0.1" "http://127.0.0.1:99999" \
	"http://127.0.0.1:9/x" "http://u@127.0.0.1:9" "127.0.0.1:9" "http://:9"; do
	req 400 -XPOST "$(u 1 /join)" -d "{\"name\":\"x\",\"connectionString\":\"$bad\"}"
done
long=$(head -c 64 /dev/zero | tr '\0' n)
req 400 -XPOST "$(u 1 /join)" -d "{\"name\":\"$long\",\"connectionString\":\"http://127.0.0.1:9\"}"
head -c 5000 /dev/zero | tr '\0' ' ' > "$T/pad"
req 413 -XPOST "$(u 1 /join)" --data-binary "@$T/pad"
req 200 -XPOST "$(u 1 /join)" -d "{\"name\":\"$name2\",\"connectionString\":\"$(u 2 '')\"}"
req 400 -XPOST "$(u 2 /join)" -d '{"name":"x","connectionString":"http://127.0.0.1:9"}'
req 400 -XPOST "$(u 1 /leave)" -d '{"name":""}'
why "leave: name must be 1 to 63 bytes"
req 400 -XPOST "$(u 1 /leave)" -d 'nope'
why "raft:leave: invalid JSON"
req 404 -XPOST "$(u 1 /leave)" -d '{"name":"nobody"}'
}
steady -p "make_lead 1" section_join
echo "ok: /join and /leave refuse bad JSON, names, URLs and bodies (400, 413); a re-join is a no-op"

# /raft/* and /raftd/*: goraft's 400 with body "\n" for what does not decode
section_bodies() {
for p in /raft/appendEntries /raft/requestVote /raft/snapshot /raft/snapshotRecovery \
	/raftd/preVote /raftd/timeoutNow /raftd/transferVote; do
	req 400 -XPOST "$(u 2 "$p")" --data-binary 'Term: 1'
	[ "$(od -An -c "$T/out" | tr -d ' ')" = '\n' ] || fail "$p: body is not goraft's \"\\n\""
	printf '\010\377' > "$T/trunc"
	req 400 -XPOST "$(u 2 "$p")" --data-binary "@$T/trunc"
	req 400 -XPOST "$(u 2 "$p")" --data-binary ''
done
req 404 -XPOST "$(u 2 /raft/nothing)" --data-binary 'x'
head -c 70000 /dev/zero > "$T/huge"
req 413 -XPOST "$(u 2 /raft/appendEntries)" --data-binary "@$T/huge"
req 400 -XPOST "$(u 1 /raftd/transfer)" -d '{"to":'
req 400 -XPOST "$(u 1 /raftd/transfer)" -d '"x"'
req 400 -XPOST "$(u 1 /raftd/transfer)" -d '{"to":["x"]}'
req 400 -XPOST "$(u 1 /raftd/transfer)" -d '{"to":"nobody"}'
req 400 -XPOST "$(u 1 /raftd/transfer)" -d "{\"to\":\"$name1\"}"
req 400 -XPOST "$(u 2 /raftd/transfer)" -d "{\"to\":\"$name3\"}"
why "Not current leader"
req 413 -XPOST "$(u 1 /raftd/transfer)" --data-binary "@$T/pad"
}
steady -p "make_lead 1" section_bodies
echo "ok: /raft and /raftd bodies that do not decode get goraft's 400 (body: one newline; 413 over the limit)"

for n in 1 2 3; do
	[ "$(status_field "$(port $n)" name)" != "" ] || fail "node $n stopped serving"
done
put_leader after-abuse yes || fail "a write after the abuse"
for n in 1 2 3; do wait_value "$(port $n)" after-abuse yes || fail "node $n has after-abuse"; done
echo "ok: every node still serves and replicates"

# ---- snapshots on request ---------------------------------------------------------------------
section_snapshot() {
req 404 "$(u 2 /raftd/snapshot)"
req 200 -XPOST "$(u 1 /raftd/snapshot)"
idx=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["index"])' "$T/out")
[ "$idx" = "$(status_field "$(port 1)" applied_index)" ] || fail "snapshot index $idx"
req 200 -XPOST "$(u 1 /raftd/snapshot)"
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["index"])' "$T/out")" = "$idx" ] ||
	fail "a second request with nothing new gives the same snapshot"
curl -s -D "$T/head" -o "$T/snap" "$(u 1 /raftd/snapshot)"
grep -qi "^X-Raftd-Snapshot-Index: $idx" "$T/head" || fail "download headers: $(cat "$T/head")"
cmp -s "$T/snap" "$T/n1/snap/snapshot-$(status_field "$(port 1)" term)-$idx" || fail "the download is the file"
req 200 -XPOST "$(u 2 /raftd/snapshot)"
echo "ok: POST /raftd/snapshot takes one at the applied index ($idx), GET /raftd/snapshot downloads it"
req 200 -XPOST "$(u 1 /db/post-snap)" -d 1
req 200 -XDELETE "$(u 1 /db/kept)"
}
steady -p "make_lead 1" section_snapshot
node_kill 1 TERM
node_start 1 -h 127.0.0.1 --election-timeout-ms 1000
[ "$(get "$(port 1)" fw)" = one ] || fail "restart from the snapshot: fw"
[ "$(get "$(port 1)" gone)" = "" ] || fail "restart: the delete before the snapshot"
# the log after the snapshot is applied once a leader confirms its commit
wait_value "$(port 1)" post-snap 1 || fail "restart: the log after the snapshot"
wait_value "$(port 1)" kept "" || fail "restart: the delete after the snapshot"
echo "ok: a restart from that snapshot and the log keeps writes and deletes"

# ---- leadership transfer ------------------------------------------------------------------------
# The answer names who leads after the transfer and at which term; a node
# leads at that term or later (an election may follow on a busy machine),
# and at that term only the one named (Election Safety, lib.sh led_at).
# out_field FIELD: a field of the last answer
out_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/out" "$1"; }
# transfer_to WHICH: from the leader to the next node (named) or to any
transfer_to() {
	lp=$(newest_leader) || fail "a leader after the restart"
	for n in 1 2 3; do [ "$(port $n)" = "${lp%% *}" ] && from=$n; done
	from_name=$(status_field "$(port $from)" name)
	if [ "$1" = named ]; then
		to_name=$(status_field "$(port $(( from % 3 + 1 )))" name)
		req 200 -XPOST "$(u $from /raftd/transfer)" -d "{\"to\":\"$to_name\"}"
		[ "$(out_field leader)" = "$to_name" ] || fail "transfer to $to_name: $(cat "$T/out")"
	else
		req 200 -XPOST "$(u $from /raftd/transfer)"
		[ -n "$(out_field leader)" ] && [ "$(out_field leader)" != "$from_name" ] || fail "transfer to any: $(cat "$T/out")"
	fi
	why=$(led_at "$(out_field term)" "$(out_field leader)") || fail "after the transfer: $why"
	echo "ok: POST /raftd/transfer ($1) hands leadership from $from_name to $(out_field leader)"
}
steady -e 1 transfer_to named
steady -e 1 transfer_to any
put_leader after-transfer 1 || fail "a write after the transfers"
for n in 1 2 3; do wait_value "$(port $n)" after-transfer 1 || fail "node $n has after-transfer"; done

# ---- a member down across restarts ------------------------------------------------------------
# Node 3 stops; nodes 1 and 2 restart. Raftd-only requests need every
# member's kind, and node 3 cannot be probed now: the kinds probed before
# the restart are kept in DATA_DIR/peer-kinds.
node_kill 3
node_kill 1 TERM
node_kill 2 TERM
node_start 1 -h 127.0.0.1 --election-timeout-ms 1000
node_start 2 -h 127.0.0.1 --election-timeout-ms 1000
while_down() {
	lp=$(newest_leader) || fail "no leader with two of three"
	req 200 -XPOST "http://127.0.0.1:${lp%% *}/db/while-down" -d 1
	req 200 -XDELETE "http://127.0.0.1:${lp%% *}/db/while-down"
}
steady while_down
echo "ok: DELETE with a member down since before the restart (its kind kept in peer-kinds)"

# ---- a key longer than a follower's --max-key --------------------------------------------------
# Node 1 takes keys as long as its default --max-key allows; nodes 2 and 3
# run with --max-key 16. A follower serves every key it holds: GET of a
# 2,000-byte key the leader took is 200 on each (it was 414); only a new
# write of it to a follower is refused by that follower's own limit (414).
node_start 3 -h 127.0.0.1 --max-key 16 --election-timeout-ms 1000
node_kill 2 TERM
node_start 2 -h 127.0.0.1 --max-key 16 --election-timeout-ms 1000
long=$(head -c 2000 /dev/zero | tr '\0' k)
section_long_key() {
	req 200 -XPOST "$(u 1 "/db/$long")" -d long
	for n in 2 3; do
		wait_value "$(port $n)" "$long" long || fail "node $n does not serve the 2,000-byte key"
		req 200 "$(u $n "/db/$long")"
		[ "$(cat "$T/out")" = long ] || fail "node $n: GET of the 2,000-byte key: $(head -c 300 "$T/out")"
		req 414 -XPOST "$(u $n "/db/$long")" -d again
		why "key too long"
	done
}
steady -p "make_lead 1" section_long_key
echo "ok: followers with --max-key 16 serve a 2,000-byte key the leader took, and refuse it as a new write (414)"

# ---- a refused join: its warning is one line -------------------------------------------------
# A refusal's body may end in a newline (goraft's http.Error); the joiner's
# warning carried it, and an empty line followed in the log. A follower no
# longer refuses (-join follows its leader hint), so a stand-in on node 5's
# port answers every /join with goraft's 400 and a reason ending in "\n".
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(400)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"x\n")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$(port 5)" 2>"$T/refuser.log" &
PIDS="$PIDS $!"
refuser_up() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -XPOST "$(u 5 /join)" -d '{}')" = 400 ]; }
until_ok 30 refuser_up ||
	fail "the stand-in does not answer: $(cat "$T/refuser.log")"
node_start 4 -h 127.0.0.1 -join "127.0.0.1:$(port 5)"
until_ok 30 grep -q "join through.*HTTP 400" "$T/n4.log" || fail "no warning of the refused join: $(cat "$T/n4.log")"
grep -q "join through.*HTTP 400: x$" "$T/n4.log" || fail "the warning lacks its reason: $(cat "$T/n4.log")"
! grep -q '^$' "$T/n4.log" || fail "an empty line in the joiner's log: $(cat "$T/n4.log")"
echo "ok: a refused join is one warning line"
node_kill 4
