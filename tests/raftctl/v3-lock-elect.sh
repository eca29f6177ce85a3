#!/bin/sh
# raftctl lock and elect (issue 20) against etcd 3.4 and against a raftd
# cluster (tests/raftctl/v3-halves.sh), with etcdctl 3.4 as the other
# contender, since both follow etcd's clientv3/concurrency recipes:
#  - raftctl lock excludes etcdctl lock and the reverse: the second
#    contender's command starts only once the first's has ended; raftctl
#    exits with its command's status; no key is left;
#  - a lock holder killed (-9) lets the waiter in once its lease expires;
#  - raftd only: a lock holder whose member dies keeps the lock (its
#    keep-alives go through another member) and its command runs on;
#  - elect: an etcdctl candidate takes over when the raftctl leader is
#    killed (its lease expires), a raftctl candidate when the etcdctl leader
#    resigns (SIGTERM); observers (raftctl elect --listen, etcdctl elect -l)
#    see each leader in order.
. "$(dirname "$0")/v3-halves.sh"

# keys NAME/... there are now
keys() { ectl get --prefix "$1/" --keys-only 2>/dev/null | grep -c "^$1/"; }
nkeys() { [ "$(keys "$1")" = "$2" ]; }

# lock_pair FIRST SECOND: FIRST (raftctl or etcdctl) holds the lock while
# SECOND waits for it
lock_pair() {
	L=lock-$1
	rm -f "$T/log" "$T/rel"
	hold="echo first-start >>'$T/log'; until [ -e '$T/rel' ]; do sleep 0.1; done; echo first-end >>'$T/log'; exit 3"
	then="echo second-start >>'$T/log'; echo \"\$ETCD_LOCK_KEY\" >>'$T/log'; echo second-end >>'$T/log'"
	if [ "$1" = raftctl ]; then
		rc lock "$L" -- sh -c "$hold" &
	else
		ectl lock "$L" -- sh -c "$hold" &
	fi
	P1=$!
	bg
	have "$T/log" first-start
	if [ "$2" = raftctl ]; then
		rc lock "$L" -- sh -c "$then" &
	else
		ectl lock "$L" -- sh -c "$then" &
	fi
	P2=$!
	bg
	# the second waits: its key is there, its command has not started
	until_ok 30 nkeys "$L" 2 || fail "$KIND: $2 lock did not queue behind $1 ($(keys "$L") keys)"
	grep -q second-start "$T/log" && fail "$KIND: $2 got the lock $1 holds"
	touch "$T/rel"
	wait "$P1"
	st=$?
	[ "$1" = etcdctl ] || [ "$st" = 3 ] || fail "$KIND: raftctl lock exits $st, its command 3"
	wait "$P2" || fail "$KIND: $2 lock exits $?"
	sed 's#^'"$L"'/[0-9a-f]*$#KEY#' "$T/log" | tr '\n' ' ' >"$T/order"
	[ "$(cat "$T/order")" = "first-start first-end second-start KEY second-end " ] ||
		fail "$KIND: $1 then $2: $(cat "$T/log")"
	nkeys "$L" 0 || fail "$KIND: lock keys left behind: $(keys "$L")"
}

# a holder that dies: its key goes with its lease, the waiter gets in
lock_killed() {
	L=lock-killed
	rm -f "$T/cmdpid" "$T/got"
	"$RAFTCTL" --grpc "$G" lock --ttl 2 "$L" -- sh -c "echo \$\$ >'$T/cmdpid'; exec sleep 600" &
	P1=$!
	bg
	until_ok 30 test -s "$T/cmdpid" || fail "$KIND: raftctl lock did not run its command"
	ectl lock "$L" -- sh -c "echo got >'$T/got'" &
	P2=$!
	bg
	until_ok 30 nkeys "$L" 2 || fail "$KIND: etcdctl lock did not queue"
	kill -9 "$P1"
	wait "$P1"
	kill "$(cat "$T/cmdpid")"
	wait "$P2" || fail "$KIND: etcdctl lock exits $?"
	[ "$(cat "$T/got")" = got ] || fail "$KIND: etcdctl lock never ran its command"
	nkeys "$L" 0 || fail "$KIND: keys left"
}

# raftd: the member a lock holder talks to dies; its keep-alives go on
# through another member, so the lock stays its own past the lease's TTL
# and its command runs undisturbed to its end
lock_member_killed() {
	[ "$KIND" = raftd ] || return 0
	L=lock-failover
	rm -f "$T/log" "$T/rel"
	"$RAFTCTL" --grpc "$G" lock --ttl 4 "$L" -- sh -c \
		"echo first-start >>'$T/log'; until [ -e '$T/rel' ]; do sleep 0.1; done; echo first-end >>'$T/log'" \
		2>"$T/lf.err" &
	P1=$!
	bg
	have "$T/log" first-start
	node_kill 1 # the first of --grpc: the holder's member
	# a duration, not a poll: without the keep-alives the lease would
	# have expired, the key gone and the command been stopped
	sleep 12
	kill -0 "$P1" 2>/dev/null || fail "raftctl lock ended when its member died: $(cat "$T/lf.err")"
	nkeys "$L" 1 || fail "the lock's key went when the holder's member died"
	touch "$T/rel"
	wait "$P1" || fail "raftctl lock exits $?: $(cat "$T/lf.err")"
	[ "$(tr '\n' ' ' <"$T/log")" = "first-start first-end " ] || fail "the command was disturbed: $(cat "$T/log")"
	until_ok 30 nkeys "$L" 0 || fail "the lock was not released"
	node_start 1
}

elect_checks() {
	N=elect
	"$RAFTCTL" --grpc "$G" elect --listen "$N" >"$T/obs1" 2>"$T/obs1.err" &
	O1=$!
	bg
	etcdctl --endpoints="$G" elect -l "$N" >"$T/obs2" 2>"$T/obs2.err" &
	O2=$!
	bg
	"$RAFTCTL" --grpc "$G" elect --ttl 2 "$N" p1 >"$T/c1" 2>"$T/c1.err" &
	C1=$!
	bg
	have "$T/c1" "^$N/[0-9a-f]* p1$"
	etcdctl --endpoints="$G" elect "$N" p2 >"$T/c2" 2>"$T/c2.err" &
	C2=$!
	bg
	until_ok 30 nkeys "$N" 2 || fail "$KIND: etcdctl did not campaign"
	[ -s "$T/c2" ] && fail "$KIND: two leaders: $(cat "$T/c1" "$T/c2")"
	# the leader dies: the candidate takes over once its lease expires
	kill -9 "$C1"
	wait "$C1"
	have "$T/c2" "^p2$"
	"$RAFTCTL" --grpc "$G" elect "$N" p3 >"$T/c3" 2>"$T/c3.err" &
	C3=$!
	bg
	until_ok 30 nkeys "$N" 2 || fail "$KIND: raftctl did not campaign"
	[ -s "$T/c3" ] && fail "$KIND: two leaders: $(cat "$T/c2" "$T/c3")"
	# the leader resigns
	kill -TERM "$C2"
	wait "$C2"
	have "$T/c3" "^$N/[0-9a-f]* p3$"
	have "$T/obs1" " p3$"
	have "$T/obs2" "^p3$"
	kill -TERM "$C3"
	wait "$C3" || fail "$KIND: raftctl elect exits $? on SIGTERM"
	until_ok 30 nkeys "$N" 0 || fail "$KIND: raftctl elect did not resign"
	[ "$(sed 's/^[^ ]* //' "$T/obs1" | tr '\n' ' ')" = "p1 p2 p3 " ] ||
		fail "$KIND: raftctl elect --listen saw $(cat "$T/obs1" "$T/obs1.err")"
	[ "$(grep -v "^$N/" "$T/obs2" | tr '\n' ' ')" = "p1 p2 p3 " ] ||
		fail "$KIND: etcdctl elect -l saw $(cat "$T/obs2")"
	kill -TERM "$O1" "$O2"
	wait "$O1" || fail "$KIND: raftctl elect --listen exits $? on SIGTERM"
	wait "$O2"
}

all() {
	lock_pair raftctl etcdctl
	lock_pair etcdctl raftctl
	lock_killed
	lock_member_killed
	elect_checks
}
halves all
