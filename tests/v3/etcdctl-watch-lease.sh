#!/bin/sh
# etcd's own client, unchanged, against raftd's Watch and Lease services
# (issue 20, "Proof with real clients"): one script of etcdctl 3.4 commands
# (watch: a key, --prefix, a range, --rev in the past, --prev-kv, -w json,
# interactive, a compacted revision; lease: grant, put --lease, timetolive
# --keys, keep-alive, list, revoke, expiry; lock with two contenders and a
# holder that dies; elect: campaign, observe, the leader resigning and dying)
# runs against a 3-node etcd 3.4 cluster and a 3-node raftd cluster, and the
# two transcripts must be equal once member IDs, lease IDs and what
# tests/v3/watch-lease.sed lists are normalised.
#
#   etcdctl-watch-lease.sh [A [B]]   A and B each etcd or raftd (default
#                                    $V3_KINDS or etcd raftd). "etcd etcd"
#                                    checks the script itself; a single
#                                    "etcd" runs the etcd half alone (for
#                                    developing the script, not a verdict
#                                    on raftd).
#
# Watches, keep-alives, locks and campaigns run in the background with their
# output in files; the script drives writes and polls for the lines it
# expects (generous deadlines, no sleeps as conditions), then stops them and
# appends their output to the transcript. A plain watch (without --rev) is
# known to be in place through the interactive mode's "progress" request,
# whose answer follows the watch's creation on the same stream; the
# non-interactive watches of live writes start at the next revision (--rev),
# which is the same watch whenever the server creates it.
#
# Revisions are compared as they are: both clusters start at revision 1,
# and each write of the script moves it by one on both (a grant, a keep-alive
# and the revoke of a lease without keys move it not at all, as etcd's).
[ $# -gt 0 ] || set -- ${V3_KINDS:-etcd raftd}
A=$1
B=${2:-}
. "$(dirname "$0")/lib.sh"
need_kind "$A"
[ -z "$B" ] || need_kind "$B"

# the lease TTL etcd raises a shorter one to: ceil(1.5 x election timeout),
# lib.sh's clusters: etcd 3 s -> 5; raftd 1.5 s -> 3
min_ttl() { case $1 in etcd) echo 5 ;; raftd) echo 3 ;; esac; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# the revision of the key space now (not in the transcript)
revision() {
	$CTL --endpoints="$ONE" get nothing-here -w json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["header"]["revision"])'
}

# --- the transcript -----------------------------------------------------------

# ctl [-s] [-in TEXT] ARGS...: etcdctl ARGS at n3's endpoint is a block of the
# transcript: the command, its input, its output, its errors ("! " lines) and
# its exit status when not 0. -s: the lines' order is not the server's
# (leases listed in the order of their IDs, which differ): sorted. A command
# that runs on (a watch the server should have ended) is stopped after 60 s
# and shows exit 124.
ctl() {
	_sort= _in=
	[ "$1" = -s ] && { _sort=1; shift; }
	[ "$1" = -in ] && { _in=$2; shift 2; }
	BLOCK=$((BLOCK + 1))
	_b=$R/out/$(printf %03d "$BLOCK")
	{
		echo "\$ etcdctl $*"
		[ -z "$_in" ] || printf '%s\n' "$_in" | sed 's/^/< /'
	} >"$_b.cmd"
	[ -z "$_sort" ] || : >"$_b.sort"
	printf '%s\n' "$_in" | (cd "$R" && timeout 60 $CTL --endpoints="$ONE" "$@") >"$_b.out" 2>"$_b.err"
	_rc=$?
	sed 's/^/! /' "$_b.err" >>"$_b.out"
	[ "$_rc" = 0 ] || echo "(exit $_rc)" >>"$_b.out"
}

# note TEXT: a line of the script's own in the transcript
note() {
	BLOCK=$((BLOCK + 1))
	echo "# $*" >"$R/out/$(printf %03d "$BLOCK").cmd"
	: >"$R/out/$(printf %03d "$BLOCK").out"
}

# yes_no CMD...: "yes" when CMD succeeds, else "no"
yes_no() { if "$@"; then echo yes; else echo no; fi; }

# bg [-1] NAME ARGS...: etcdctl ARGS at n3's endpoint (-1: n1's) in the
# background, its output in $R/bg/NAME.out and .err; its stdin the FIFO
# $R/bg/NAME.in when that exists (the caller made it and opens it for
# writing)
bg() {
	_ep=$ONE
	[ "$1" = -1 ] && { _ep=127.0.0.1:$(cport 1); shift; }
	_n=$1
	shift
	{ [ "$_ep" = "$ONE" ] || printf '(at n1) '; echo "$*"; } >"$R/bg/$_n.args"
	# (there before the command opens them: the caller may look at once)
	: >"$R/bg/$_n.out"
	: >"$R/bg/$_n.err"
	if [ -p "$R/bg/$_n.in" ]; then
		(cd "$R" && exec $CTL --endpoints="$_ep" "$@") <"$R/bg/$_n.in" >"$R/bg/$_n.out" 2>"$R/bg/$_n.err" &
	else
		(cd "$R" && exec $CTL --endpoints="$_ep" "$@") </dev/null >"$R/bg/$_n.out" 2>"$R/bg/$_n.err" &
	fi
	eval "BG_$_n=$!"
	PIDS="$PIDS $!"
}

# ended PID: the process has exited (gone, or a zombie not yet waited for)
ended() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$_st" ] || [ "$_st" = Z ]
}

# lines NAME: the lines of NAME's output so far
lines() { wc -l <"$R/bg/$1.out"; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
grepped() { grep -qx -- "$2" "$R/bg/$1.out"; }

# bg_until NAME N: NAME's output has N lines (deadline 60 s, a loaded machine)
bg_until() {
	until_ok "${3:-60}" has_lines "$1" "$2" ||
		fail "$RUN: $(cat "$R/bg/$1.args"): $(lines "$1") lines of output, not $2: $(cat "$R/bg/$1.out" "$R/bg/$1.err")"
}

# json_events NAME N: NAME (a watch -w json) has shown N events, in however
# many responses (deadline 60 s)
has_events() { [ "$(grep -o '"kv":{' "$R/bg/$1.out" | wc -l)" -ge "$2" ]; }
json_events() {
	until_ok 60 has_events "$1" "$2" ||
		fail "$RUN: $(cat "$R/bg/$1.args"): not $2 events: $(cat "$R/bg/$1.out" "$R/bg/$1.err")"
}

# bg_end NAME [SIGNAL]: NAME stopped by SIGNAL (none: it ends by itself,
# within 60 s), its output a block of the transcript, with its exit status
# when not 0. -u: repeated lines once (keep-alive's as often as time had
# it); -p: repeated pairs of lines once (elect -l's leaders)
bg_end() {
	_uniq=
	[ "$1" = -u ] && { _uniq=u; shift; }
	[ "$1" = -p ] && { _uniq=p; shift; }
	_p=$(eval echo \$BG_"$1")
	if [ -n "${2:-}" ]; then
		kill "-$2" "$_p" 2>/dev/null
		wait "$_p"
		_rc=$?
	else
		# one that does not end within 60 s shows exit 137
		until_ok 60 ended "$_p" || kill -KILL "$_p"
		wait "$_p"
		_rc=$?
	fi
	BLOCK=$((BLOCK + 1))
	_b=$R/out/$(printf %03d "$BLOCK")
	echo "\$ etcdctl $(cat "$R/bg/$1.args") &${2:+  (then SIG$2)}" >"$_b.cmd"
	case $_uniq in
	u) uniq "$R/bg/$1.out" ;;
	# elect -l: a leader (key and value) once where it came again: the
	# client's observe may post the current leader twice ("will always
	# post the most recent leader value", not each change once)
	p) awk 'NR % 2 { k = $0; next } { p = k "\n" $0; if (p != last) print p; last = p }' "$R/bg/$1.out" ;;
	*) cat "$R/bg/$1.out" ;;
	esac >"$_b.out"
	sed 's/^/! /' "$R/bg/$1.err" >>"$_b.out"
	[ "$_rc" = 0 ] || echo "(exit $_rc)" >>"$_b.out"
}

# keys PREFIX: how many keys PREFIX has
keys() { $CTL --endpoints="$ONE" get --prefix "$1" --keys-only 2>/dev/null | grep -c .; }
keys_are() { [ "$(keys "$1")" = "$2" ]; }
gone() { [ "$(keys "$1")" = 0 ]; }

# --- the commands ----------------------------------------------------------------

watches() {
	# a history (revisions 2 to 8)
	ctl put foo a
	ctl put foo b
	ctl put foo/1 x
	ctl put fox 1
	ctl del foo
	ctl put foo c
	ctl put zoo z
	# history from a past revision: the events up to now, then it waits
	bg past1 watch --rev 2 foo
	bg past2 watch --rev 3 --prefix --prev-kv foo
	bg past3 watch --rev 2 foo fz
	bg_until past1 12
	bg_until past2 16
	bg_until past3 18
	bg_end past1 TERM
	bg_end past2 TERM
	bg_end past3 TERM

	# live writes: watches from the next revision
	next=$(( $(revision) + 1 ))
	bg key watch --rev "$next" foo
	bg prefix watch --rev "$next" --prefix foo
	bg prev watch --rev "$next" --prev-kv foo
	bg json watch --rev "$next" -w json zoo
	# (raftd's n1 leads: watches at a follower and at the leader)
	bg -1 lead watch --rev "$next" --prefix foo
	# from a revision still to come: the events from there on
	bg future watch --rev $((next + 2)) --prefix foo
	bg exec watch --rev "$next" zoo -- sh -c 'echo "exec: $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_REVISION"'
	ctl put foo d
	ctl put foo/2 y
	ctl put zoo zz
	ctl del foo
	ctl put foo e
	ctl del --prefix foo/
	bg_until key 9
	bg_until prefix 18
	bg_until lead 18
	bg_until future 12
	bg_until prev 13
	json_events json 1
	bg_until exec 4
	for w in key prefix lead future prev json exec; do bg_end "$w" TERM; done

	# interactive: a watch on a key, "progress" (its answer says the watch
	# is in place), a write; a second watch with options on another key;
	# lines it refuses; stdin closed ends it
	mkfifo "$R/bg/inter.in"
	bg inter watch -i
	exec 3>"$R/bg/inter.in"
	echo "watch foo" >&3
	echo progress >&3
	bg_until inter 1
	ctl put foo f
	bg_until inter 4
	echo "watch --prev-kv --prefix bar/" >&3
	echo progress >&3
	# the second progress notify reaches both watches
	bg_until inter 6
	ctl put bar/1 g
	bg_until inter 9
	ctl put bar/1 h
	bg_until inter 14
	ctl put foo i
	bg_until inter 17
	echo cancel >&3
	echo watch >&3
	echo "get foo" >&3
	echo "watch --rev 2 foo" >&3
	# the last line's history: foo's events since revision 2 (9 of them)
	bg_until inter 44
	exec 3>&-
	bg_end inter

	# a compacted revision: the watch is cancelled with the compact revision
	ctl compaction "$(revision)"
	ctl watch --rev 2 foo
	ctl watch --rev 3 --prefix foo
	ctl put foo j
}

leases() {
	ctl lease grant 60
	l1=$(awk '/granted/ { print $2 }' "$R/out/$(printf %03d "$BLOCK").out")
	[ -n "$l1" ] || fail "$RUN: lease grant printed no ID"
	ctl put --lease="$l1" k1 v1
	ctl put --lease="$l1" k2 v2
	ctl put k3 v3
	ctl lease timetolive "$l1"
	ctl lease timetolive --keys "$l1"
	ctl lease timetolive --keys -w json "$l1"
	ctl get k1 -w json
	ctl lease grant 3600
	l2=$(awk '/granted/ { print $2 }' "$R/out/$(printf %03d "$BLOCK").out")
	ctl -s lease list
	ctl lease keep-alive --once "$l1"
	ctl lease keep-alive --once -w json "$l1"
	bg ka lease keep-alive "$l1"
	bg_until ka 1
	bg_end -u ka TERM
	# a key moved to another lease and to none
	ctl put --lease="$l2" k2 v2b
	ctl put k1 v1b
	ctl lease timetolive --keys "$l1"
	ctl lease timetolive --keys "$l2"
	ctl put --lease="$l1" k3 v3b
	next=$(( $(revision) + 1 ))
	bg rw watch --rev "$next" --prefix k
	bg rwp watch --rev "$next" --prefix --prev-kv k
	bg rwj watch --rev "$next" --prefix --prev-kv -w json k
	ctl lease revoke "$l1"
	ctl lease revoke "$l2"
	bg_until rw 6
	bg_until rwp 10
	json_events rwj 2
	bg_end rw TERM
	bg_end rwp TERM
	bg_end rwj TERM
	ctl get --prefix k
	ctl lease revoke "$l1"
	ctl lease timetolive "$l1"
	ctl lease timetolive --keys "$l2"
	ctl lease keep-alive --once "$l1"
	ctl put --lease=1234 k4 v4
	ctl lease revoke 1234
	ctl lease timetolive 1234
	ctl lease grant 9000000001
	ctl -s lease list
	# a keep-alive whose lease is revoked ends: "expired or revoked"
	ctl lease grant 6
	l5=$(awk '/granted/ { print $2 }' "$R/out/$(printf %03d "$BLOCK").out")
	bg ka3 lease keep-alive "$l5"
	bg_until ka3 1
	ctl lease revoke "$l5"
	bg_end -u ka3
	# a TTL below the minimum is raised to it (the cluster's own: its
	# election timeout), not compared
	t=$($CTL --endpoints="$ONE" lease grant 1 2>&1 | sed -n 's/.*granted with TTL(\([0-9]*\)s)$/\1/p')
	note "lease grant 1: raised to the minimum TTL: $([ "$t" = "$(min_ttl "$KIND")" ] && echo yes || echo "no: $t")"

	# expiry: a key attached to a lease without keep-alives is deleted
	# once its TTL is over, not before
	t0=$(now_ms)
	ctl lease grant 6
	l3=$(awk '/granted/ { print $2 }' "$R/out/$(printf %03d "$BLOCK").out")
	next=$(( $(revision) + 1 ))
	bg ew watch --rev "$next" --prefix e
	ctl put --lease="$l3" e1 v
	ctl put --lease="$l3" e2 v
	until_ok 60 gone e || fail "$RUN: e1 and e2 are not deleted 60 s after their lease of 6 s"
	t1=$(now_ms)
	bg_until ew 9
	bg_end ew TERM
	note "e1 and e2 deleted after the lease's TTL (6 s) or later: $([ $((t1 - t0)) -ge 6000 ] && echo yes || echo "no: after $((t1 - t0)) ms")"
	ctl get --prefix e
	ctl lease timetolive "$l3"

	# keep-alives keep a lease: the key outlives twice its TTL
	t0=$(now_ms)
	ctl lease grant 6
	l4=$(awk '/granted/ { print $2 }' "$R/out/$(printf %03d "$BLOCK").out")
	ctl put --lease="$l4" kept v
	bg ka2 lease keep-alive "$l4"
	# present at each look until 12 s have passed
	kept=yes
	while [ $(( $(now_ms) - t0 )) -lt 12000 ]; do
		keys_are kept 1 || { kept="no: gone after $(( $(now_ms) - t0 )) ms"; break; }
		sleep 0.5
	done
	note "a key of a lease of 6 s with keep-alives is there for 12 s: $kept"
	bg_end -u ka2 TERM
	until_ok 60 gone kept || fail "$RUN: kept is not deleted 60 s after its keep-alives stopped"
	ctl get kept
}

locks() {
	# two contenders: the second holds the lock only once the first's
	# command has ended (the order of the lines in the file "order")
	: >"$R/order"
	bg lockA lock --ttl 10 L -- sh -c 'echo "A holds $ETCD_LOCK_KEY"; echo A >>order; until [ -e release-A ]; do sleep 0.1; done; echo A-end >>order'
	until_ok 60 grep -qx A "$R/order" || fail "$RUN: the first contender does not get the lock"
	bg lockB lock --ttl 10 L -- sh -c 'echo "B holds $ETCD_LOCK_KEY"; echo B >>order'
	until_ok 60 keys_are L/ 2 || fail "$RUN: the second contender has no key under L/"
	ctl get --prefix L/ --sort-by=CREATE --keys-only
	note "the second contender waits while the first holds the lock: $(yes_no test "$(cat "$R/order")" = A)"
	touch "$R/release-A"
	bg_end lockA
	bg_end lockB
	note "order of holding: $(tr '\n' ' ' <"$R/order")"
	ctl get --prefix L/
	ctl lock L -- sh -c 'exit 3'

	# a holder killed: the lock is free once its session's lease (5 s)
	# has expired
	bg lockC lock --ttl 5 L2
	bg_until lockC 2
	bg lockD lock --ttl 5 L2
	until_ok 60 keys_are L2/ 2 || fail "$RUN: the second contender has no key under L2/"
	_p=$(eval echo \$BG_lockC)
	kill -KILL "$_p"
	bg_until lockD 2
	bg_end lockC
	bg_end lockD TERM
	ctl get --prefix L2/
}

elections() {
	bg p1 elect EL p1
	bg_until p1 2
	bg p2 elect EL p2
	until_ok 60 keys_are EL/ 2 || fail "$RUN: p2 has no key under EL/"
	bg obs elect -l EL
	until_ok 60 grepped obs p1 || fail "$RUN: elect -l does not show p1"
	# the leader resigns (SIGTERM)
	bg_end p1 TERM
	until_ok 60 grepped obs p2 || fail "$RUN: elect -l does not show p2 once p1 resigned"
	bg_until p2 2
	bg p3 elect EL p3
	until_ok 60 keys_are EL/ 2 || fail "$RUN: p3 has no key under EL/"
	ctl get --prefix EL/ --sort-by=CREATE
	# the leader dies: its session's lease (etcdctl's 60 s) expires
	_p=$(eval echo \$BG_p2)
	kill -KILL "$_p"
	until_ok 120 grepped obs p3 || fail "$RUN: elect -l does not show p3 120 s after p2 was killed"
	bg_until p3 2
	bg_end p2
	bg_end -p obs TERM
	bg_end p3 TERM
	ctl get --prefix EL/
}

# run RUN KIND: a cluster of KIND, the commands against it, the transcript
# in $T/RUN.txt
RUN=
run() {
	RUN=$1
	KIND=$2
	R=$T/$RUN
	BLOCK=0
	cluster_up "$KIND" "$RUN"
	mkdir -p "$R/out" "$R/bg"
	$CTL --endpoints="$EPS" member list -w json >"$R/members.json" 2>/dev/null ||
		fail "$RUN: member list -w json"
	# (V3_PARTS: some of them, while developing the script)
	for _part in ${V3_PARTS:-watches leases locks elections}; do "$_part"; done
	cluster_down "$KIND"
	# member and cluster IDs become names (hex in text, decimal in JSON)
	python3 - "$R/members.json" >"$R/ids.sed" <<-'EOF'
		import json, sys
		d = json.load(open(sys.argv[1]))
		ids = {m["ID"]: m["name"] for m in d["members"]}
		ids[d["header"]["cluster_id"]] = "cluster"
		for i, n in ids.items():
		    print("s/\\b%x\\b/<%s>/g" % (i, n))
		    print("s/\\b%d\\b/\"<%s>\"/g" % (i, n))
	EOF
	for _c in "$R"/out/*.cmd; do
		_b=${_c%.cmd}
		cat "$_c" >"$_b.cmd.n"
		sed -f "$R/ids.sed" -f "$V3_DIR/watch-lease.sed" "$_b.out" >"$_b.out.n"
	done
	python3 "$V3_DIR/watch-lease-ids.py" "$R"/out/*.cmd >"$T/$RUN.txt"
}

run "1-$A" "$A"
if [ -z "$B" ]; then
	cp "$T/1-$A.txt" "${TMPDIR:-/tmp}/v3-watch-lease-$A.txt"
	echo "only $A: transcript in ${TMPDIR:-/tmp}/v3-watch-lease-$A.txt (no comparison)"
	exit 0
fi
run "2-$B" "$B"
if ! diff -u "$T/1-$A.txt" "$T/2-$B.txt" >"$T/diff"; then
	cat "$T/diff" >&2
	fail "etcdctl's watch and lease transcripts differ between $A (-) and $B (+): $T/1-$A.txt, $T/2-$B.txt"
fi
[ "${KEEP:-}" = 1 ] && cp "$T/1-$A.txt" "${TMPDIR:-/tmp}/v3-watch-lease-$A.txt"
echo "ok: etcdctl's watch and lease transcript ($(grep -c '^\$ etcdctl' "$T/1-$A.txt") commands) is the same against $A and $B"
