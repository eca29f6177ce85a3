#!/bin/sh
# Membership traps (issue 17 item 8), against a three-node cluster of the
# build's raftd: what `raftctl members add` answers after a DELETE, URLs a
# member cannot have, a name added again under another URL, a joiner sent
# to a follower, and learners (add --learner, promote).
. "$(dirname "$0")/../cluster/lib.sh"
rc() { "$RAFTCTL" --timeout 5s "$@"; }
# expect CODE CMD...: run, keep stdout in $T/out and stderr in $T/err
expect() {
	want=$1
	shift
	rc "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || fail "raftctl $*: exit $got, expected $want; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
}
says() { grep -q -- "$1" "$T/err" || fail "stderr does not say '$1': $(cat "$T/err")"; }
# member_field NAME FIELD: FIELD of member NAME in the leader's /status
member_field() {
	_l=$(wait_leader) || return 1
	curl -s -m 2 "http://127.0.0.1:$_l/status" |
		python3 -c "import json,sys
for m in json.load(sys.stdin)['members']:
    if m['name'] == '$1': print(m['$2'])" 2>/dev/null
}
join_post() { # PORT BODY: POST /join, prints the status, body in $T/body
	curl -s -m 10 -o "$T/body" -w '%{http_code}' -XPOST "http://127.0.0.1:$1/join" -d "$2"
}

start_three
export RAFTCTL_ENDPOINTS="http://127.0.0.1:$(port 1),http://127.0.0.1:$(port 2),http://127.0.0.1:$(port 3)"

# --- a bad URL is refused before anything is proposed -------------------------------
expect 2 members add --raftd n5 notaurl
says "no scheme"
expect 2 members add --raftd n5 "http://notaurl"
says "no port"
expect 2 members add --raftd n5 "ftp://h:1"
says "the scheme must be http or https"
# https:// is raftctl's to send, the leader's to judge: without TLS towards
# its peers it refuses (below)
expect 1 members add n5 "https://h:1"
says "https"
L=$(wait_leader) || fail "no leader"
[ "$(join_post "$L" '{"name":"n5","connectionString":"notaurl"}')" = 400 ] || fail "/join notaurl: $(cat "$T/body")"
grep -q "no scheme" "$T/body" || fail "/join notaurl says why: $(cat "$T/body")"
[ "$(join_post "$L" '{"name":"n5","connectionString":"http://notaurl"}')" = 400 ] || fail "/join without a port"
grep -q "no port" "$T/body" || fail "/join without a port says why: $(cat "$T/body")"
[ "$(join_post "$L" '{"name":"n5","connectionString":"https://h:1"}')" = 400 ] || fail "/join https"
grep -q "https" "$T/body" || fail "/join https says why: $(cat "$T/body")"
[ -z "$(member_field n5 url)" ] || fail "n5 was added: $(member_field n5 url)"
echo "ok: bad URLs refused with a reason"

# --- a name added again ---------------------------------------------------------------
expect 0 members add --raftd n6 "http://127.0.0.1:$(port 6)"
expect 0 members add --raftd n6 "http://127.0.0.1:$(port 6)"   # the same: idempotent
expect 1 members add --raftd n6 "http://127.0.0.1:$(port 7)"
says "n6 is a member already, at http://127.0.0.1:$(port 6)"
says "remove it first"
[ "$(member_field n6 url)" = "http://127.0.0.1:$(port 6)" ] || fail "n6's URL: $(member_field n6 url)"
expect 0 members remove n6
echo "ok: a member added again under another URL is refused"

# --- learners ---------------------------------------------------------------------------
expect 0 members add --learner n6 "http://127.0.0.1:$(port 6)"
grep -q "as a learner" "$T/out" || fail "add --learner: $(cat "$T/out")"
[ "$(member_field n6 voter)" = False ] || fail "n6 is a learner: $(member_field n6 voter)"
expect 1 members promote n6        # nothing runs there: not caught up
says "has not caught up"
expect 1 members promote nosuch
says "not a member"
expect 1 members promote "$(status_field "$(port 1)" name)"
says "is a voter already"
mkdir -p "$T/n6"
node_start 6 --name n6 -join "127.0.0.1:$(port 1)"
# caught up, it becomes a voter: by the leader's own promotion or this one
voter=
for _ in $(seq 100); do
	rc members promote n6 >"$T/out" 2>"$T/err" || grep -q "is a voter already\|has not caught up" "$T/err" ||
		fail "promote n6: $(cat "$T/err")"
	[ "$(member_field n6 voter)" = True ] && { voter=1; break; }
	sleep 0.1
done
[ -n "$voter" ] || fail "n6 became no voter"
expect 0 members remove n6
for _ in $(seq 100); do kill -0 "$PID_6" 2>/dev/null || break; sleep 0.05; done
echo "ok: add --learner, promote"

# --- no learner while a goraft node (or one of unknown kind) is a member --------------
# g8 never answers: counted as goraft, and 3 of 4 voters still answer
expect 0 members add g8 "http://127.0.0.1:$(port 8)"
expect 1 members add --learner n9 "http://127.0.0.1:$(port 9)"
says "no learners while a goraft node is a member"
[ -z "$(member_field n9 url)" ] || fail "n9 was added: voter $(member_field n9 voter)"
expect 0 members remove g8
echo "ok: add --learner adds a learner or nothing"

# --- a joiner sent to a follower follows the leader it names --------------------------
L=$(wait_leader) || fail "no leader"
F=
for i in 1 2 3; do [ "$(port $i)" != "$L" ] && { F=$(port $i); break; }; done
node_start 4 -join "127.0.0.1:$F"
name4=$(status_field "$(port 4)" name)
put_leader after-join 1 || fail "write after the join"
wait_value "$(port 4)" after-join 1 || fail "node 4 joined through follower $F: $(tail -n 5 "$T/n4.log")"
grep -q "asking the leader at" "$T/n4.log" || fail "node 4 followed no hint: $(tail -n 5 "$T/n4.log")"
expect 0 members remove "$name4"
echo "ok: a joiner sent to a follower joins through the leader"

# --- after a DELETE, a goraft node cannot join: the answer says what can --------------
L=$(wait_leader) || fail "no leader"
[ "$(curl -s -o /dev/null -w '%{http_code}' -XDELETE "http://127.0.0.1:$L/db/first")" = 200 ] || fail "DELETE"
expect 1 members add n7 "http://127.0.0.1:$(port 7)"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "one line on stderr: $(cat "$T/err")"
says "HTTP 409"
says "raftd-only commands"
says "members add --raftd"
expect 0 members add --raftd n7 "http://127.0.0.1:$(port 7)"
expect 0 members remove n7
echo "ok: after a DELETE, add says to use --raftd"
