#!/bin/sh
# etcd's own client, unchanged, against raftd (issue 19, "Proof with real
# clients"): one script of etcdctl 3.4 commands (ETCDCTL_API=3) runs against
# a 3-node etcd 3.4 cluster and against a 3-node raftd cluster (--grpc-listen),
# and the two transcripts must be equal once tests/v3/normalise.sed has
# mapped what legitimately differs (member and cluster IDs, raft terms and
# indexes, versions, db sizes, hashes, latencies).
#
#   etcdctl-compare.sh [A [B]]   A and B each etcd or raftd (default
#                                $V3_KINDS or etcd raftd). "etcd etcd"
#                                checks the script itself: two etcd
#                                clusters must agree.
#
# Both clusters take the same ports (tests/v3/lib.sh), one after the other,
# so that endpoints and member URLs are equal in both transcripts. On a
# difference the transcripts are kept in lib.sh's directory (KEEP=1 keeps
# them anyway).
[ $# -gt 0 ] || set -- ${V3_KINDS:-etcd raftd}
A=$1
B=${2:-raftd}
. "$(dirname "$0")/lib.sh"
need_kind "$A"
need_kind "$B"

# every endpoint answers with the same revision and names the same leader:
# what a follower shows (its hash, its revision) is then the cluster's
settled() {
	$CTL --endpoints="$EPS" endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
s = [e["Status"] for e in json.load(sys.stdin)]
ok = len(s) == 3 and len({x["header"]["revision"] for x in s}) == 1 and \
	len({x.get("leader", 0) for x in s}) == 1 and s[0].get("leader", 0) != 0
sys.exit(0 if ok else 1)'
}
settle() { until_ok 60 settled || fail "$RUN: the members do not agree on the revision and the leader"; }

# hex ID of member NAME
member_id() {
	$CTL --endpoints="$EPS" member list 2>/dev/null | awk -F', ' -v n="$1" '$3 == n { print $1 }'
}

# the members as they are now, for the ID map (an added member is known by
# its ID from then on, also once it is gone)
remember_members() {
	MEMBERS=$((MEMBERS + 1))
	$CTL --endpoints="$EPS" member list -w json >"$R/members.$MEMBERS.json" 2>/dev/null ||
		fail "$RUN: member list -w json"
}

# --- the transcript -----------------------------------------------------------

# ctl [-x] [-r] [-s] [-a|-e ENDPOINTS] [-in TEXT|-f FILE] ARGS...: etcdctl ARGS
# (at n3's endpoint; -a: at the three; -e: at ENDPOINTS; TEXT or FILE on
# its stdin) is a block of the transcript: the command, its input (FILE's
# size), its output, its errors ("! " lines) and its exit status when not 0.
# -s: the lines' order is not the server's (members sorted by their IDs,
# which differ; health checks in the order they finished): sorted.
# -x: the exit status is not compared (a verdict on the machine's speed).
# -r: again while the server answers UNAVAILABLE, as clients do (60 s): a
# new etcd refuses membership changes until its peers have been connected
# for 5 s ("etcdserver: unhealthy cluster"); only the last answer counts.
ctl() {
	_sort= _eps=$ONE _in= _retry=
	_status=1
	[ "$1" = -x ] && { _status=; shift; }
	[ "$1" = -r ] && { _retry=1; shift; }
	[ "$1" = -s ] && { _sort=1; shift; }
	[ "$1" = -a ] && { _eps=$EPS; shift; }
	[ "$1" = -e ] && { _eps=$2; shift 2; }
	[ "$1" = -in ] && { _in=$2; shift 2; }
	_file=/dev/null
	[ "$1" = -f ] && { _file=$2; shift 2; }
	BLOCK=$((BLOCK + 1))
	_b=$R/out/$(printf %03d "$BLOCK")
	{
		echo "\$ etcdctl $*"
		[ -z "$_in" ] || printf '%s\n' "$_in" | sed 's/^/< /'
		[ "$_file" = /dev/null ] || echo "< ($(wc -c <"$_file") bytes)"
	} >"$_b.cmd"
	[ -z "$_sort" ] || : >"$_b.sort"
	_end=$(( $(date +%s) + 60 ))
	while :; do
		if [ -n "$_in" ]; then
			printf '%s\n' "$_in" | (cd "$R" && $CTL --endpoints="$_eps" "$@") >"$_b.out" 2>"$_b.err"
		else
			(cd "$R" && $CTL --endpoints="$_eps" "$@") <"$_file" >"$_b.out" 2>"$_b.err"
		fi
		_rc=$?
		[ -n "$_retry" ] && [ "$(date +%s)" -lt "$_end" ] && grep -q 'code = Unavailable' "$_b.err" || break
		sleep 0.5
	done
	sed 's/^/! /' "$_b.err" >>"$_b.out"
	[ "$_rc" = 0 ] || [ -z "$_status" ] || echo "(exit $_rc)" >>"$_b.out"
}

# note TEXT: a line of the script's own in the transcript
note() {
	BLOCK=$((BLOCK + 1))
	echo "# $*" >"$R/out/$(printf %03d "$BLOCK").cmd"
	: >"$R/out/$(printf %03d "$BLOCK").out"
}

# The commands. Revisions are not normalised: both clusters start at
# revision 1 with no keys, and each write below moves it by one on both.
commands() {
	ctl put foo bar
	ctl put foo1 bar1
	ctl put foo2 bar2
	ctl put foo3 bar3
	ctl put zoo zebra
	ctl put a 1
	ctl put b 22
	ctl put foo bar-2 --prev-kv
	ctl put "" empty-key
	ctl put e ""
	# etcd's limit of a request is 1.5 MiB: a put of a 1.6 MB value
	# (from stdin: an argument that long is more than execve takes)
	head -c 1600000 /dev/zero | tr '\0' x >"$R/big"
	ctl -f "$R/big" put big
	ctl get big --keys-only
	ctl put zoo --ignore-value
	ctl put nothing --ignore-value
	ctl put nothing x --ignore-lease
	ctl put foo x --lease=1234
	ctl get foo
	ctl get e
	ctl get zoo -w json
	ctl --hex get foo
	ctl get nothing
	ctl get foo --prefix
	ctl get foo --from-key
	ctl get "" --from-key --keys-only
	ctl get foo foo3
	ctl get foo --prefix --sort-by=MODIFY --order=DESCEND
	ctl get foo --prefix --sort-by=CREATE --order=DESCEND
	ctl get foo --prefix --sort-by=VERSION --order=DESCEND
	ctl get foo --prefix --sort-by=VALUE --order=ASCEND
	ctl get foo --prefix --sort-by=KEY --order=DESCEND --limit 2
	ctl get foo --prefix --limit 2 -w json
	ctl get foo --prefix --keys-only
	ctl get foo --prefix --print-value-only
	ctl get foo -w json
	ctl get foo --prefix -w fields
	ctl get foo --consistency=s
	ctl get foo --rev 2
	ctl get foo --prefix --rev 4 -w json
	ctl get foo --order=sideways
	# txn, as typed at the prompts of txn -i (compares, success, failure)
	ctl -in 'value("a") = "1"
version("a") = "1"
create("a") = "7"
mod("a") = "7"

put a 2
get a

get zoo
' txn -i
	ctl -in 'value("a") = "1"

put b 23

get b
put b 24
' txn -i
	ctl -in 'version("b") > "1"
mod("b") < "100"
create("zoo") != "1"
value("zoo") > "a"

put --prev-kv zoo zebra-2
get --prefix foo
del --prev-kv foo3

get zoo
' txn -w json
	ctl -in 'version("nope") = "0"

put nope 1
get nope

' txn
	ctl -in 'value("a") = "2"

put k 1
put k 2

' txn
	ctl -in 'value("a") = "2"

put k 1

put j 1
del j

' txn
	ctl -in 'value("a") = "2"

get --prefix foo
get foo

' txn
	# etcd's limit of operations in one txn is 128
	ops=$(i=0; while [ $i -le 128 ]; do echo "put many$i x"; i=$((i + 1)); done)
	ctl -in "
$ops

" txn
	ctl del foo1
	ctl del --from-key zzz
	ctl del nothing
	ctl del --prev-kv foo2
	ctl del --prefix --prev-kv fo
	ctl get "" --from-key
	ctl del a zzz
	ctl get "" --from-key -w json
	# not an empty key space from here on (raftd's dbSizeInUse, its live
	# keys and values, would be 0 and JSON would leave it out)
	ctl put kept v
	ctl compaction 5
	ctl get foo --rev 3
	ctl get foo --rev 5
	ctl get foo --rev 1000
	ctl compaction 5
	ctl compaction 1000
	ctl compaction --physical 6
	ctl get zoo --rev 6 -w json

	# the cluster
	ctl -s member list
	ctl -s member list -w table
	ctl member list -w json
	# a first transfer to n1 is not compared: whoever led after the
	# election gives it away
	until_ok 60 $CTL --endpoints="$EPS" move-leader "$(member_id n1)" >/dev/null 2>&1 ||
		fail "$RUN: move-leader to n1"
	settle
	ctl -a move-leader "$(member_id n2)"
	settle
	ctl -a move-leader "$(member_id n2)"
	ctl -a move-leader 1234
	settle
	ctl -a endpoint status
	ctl -a endpoint status -w table
	ctl -a endpoint status -w json
	ctl -s -a endpoint health
	# --cluster: the endpoints are the members' client URLs
	ctl -s endpoint status --cluster
	ctl endpoint health -w json
	ctl -a endpoint hashkv
	ctl -a endpoint hashkv -w json
	hashes=$($CTL --endpoints="$EPS" endpoint hashkv 2>/dev/null | awk -F', ' '{ print $2 }' | sort -u | wc -l)
	note "endpoint hashkv: every member's hash is the same: $([ "$hashes" = 1 ] && echo yes || echo "no, $hashes hashes")"
	ctl -a endpoint hashkv --rev 3
	ctl alarm list
	ctl alarm disarm
	ctl -a defrag
	ctl -e "127.0.0.1:$(cport 1)" snapshot save snap.db
	note "snapshot save wrote a file: $([ -s "$R/snap.db" ] && echo yes || echo no)"
	ctl -a snapshot save snap2.db
	# membership changes at a follower (n3; n2 leads since the
	# move-leader above), which passes them on to the leader
	ctl -r member add n4 --peer-urls="http://127.0.0.1:$SPARE1" --learner
	remember_members
	ctl -s member list
	n4=$($CTL --endpoints="$EPS" member list 2>/dev/null | awk -F', ' '$4 == "http://127.0.0.1:'"$SPARE1"'" { print $1 }')
	[ -n "$n4" ] || n4=0
	ctl member promote "$n4"
	# to the same peer URL: raftd cannot change a member's URL (it has
	# no such change in its log), etcd 3.4 shows a learner it updated as
	# a voter
	ctl member update "$n4" --peer-urls="http://127.0.0.1:$SPARE1"
	ctl member remove "$n4"
	ctl member remove "$n4"
	ctl member update "$n4" --peer-urls="http://127.0.0.1:$SPARE2"
	ctl -r member add n5 --peer-urls="http://127.0.0.1:$(port 1)"
	ctl -s member list
	# etcdctl check perf writes for a minute: V3_CHECK_PERF=1 adds it
	if [ "${V3_CHECK_PERF:-0}" = 1 ]; then
		ctl -x check perf --load=s
	fi
}

# run RUN KIND: a cluster of KIND, the commands against it, the transcript
# in $T/RUN.txt
RUN=
run() {
	RUN=$1
	R=$T/$RUN
	BLOCK=0 MEMBERS=0
	cluster_up "$2" "$RUN"
	mkdir -p "$R/out"
	remember_members
	commands
	cluster_down "$2"
	# the ID map: each member's ID (hex in the text output, decimal in
	# JSON) and the cluster's ID become names; decimal ones quoted, to
	# keep JSON JSON; hex ones with the padding of Go's %16x, which a
	# shorter ID gets. The cluster's ID where a cluster ID is shown
	# first: raftd's is its first member's ID (src/raftd/v3.c).
	python3 - "$R"/members.*.json >"$R/ids.sed" <<-'EOF'
		import json, sys
		ids, cluster = {}, None
		for f in sys.argv[1:]:
		    d = json.load(open(f))
		    cluster = d["header"]["cluster_id"]
		    for m in d["members"]:
		        # a member added by the script: etcd has no name for
		        # it until it starts, raftd names it after its URL
		        url = m["peerURLs"][0]
		        new = m.get("name", "") in ("", url.split("//", 1)[1])
		        ids.setdefault(m["ID"], "new@" + url.rsplit(":", 1)[1] if new else m["name"])
		print('s/"cluster_id":%d\\b/"cluster_id":"<cluster>"/g' % cluster)
		print('s/"ClusterID" : %d$/"ClusterID" : "<cluster>"/' % cluster)
		print('s/ cluster  *%x$/ cluster <cluster>/' % cluster)
		for i, n in list(ids.items()) + [(cluster, "cluster")]:
		    print("s/ \\+%x\\b/ <%s>/g" % (i, n))
		    print("s/\\b%x\\b/<%s>/g" % (i, n))
		    print("s/\\b%d\\b/\"<%s>\"/g" % (i, n))
	EOF
	for _c in "$R"/out/*.cmd; do
		_b=${_c%.cmd}
		sed -f "$R/ids.sed" "$_c" >"$_b.cmd.n"
		sed -f "$R/ids.sed" -f "$V3_DIR/normalise.sed" "$_b.out" >"$_b.out.n"
	done
	# the order of members follows their IDs, which differ: sorted by
	# name in JSON and etcd's ETCD_INITIAL_CLUSTER, and a block of ctl -s
	# sorted whole
	python3 - "$R"/out/*.cmd >"$T/$RUN.txt" <<-'EOF'
		import json, os, re, sys
		def members(line):
		    m = re.match(r'(ETCD_INITIAL_CLUSTER=")(.*)(")$', line)
		    if m:
		        return m.group(1) + ",".join(sorted(m.group(2).split(","))) + m.group(3)
		    if not line.startswith('{"header"'):
		        return line
		    try:
		        d = json.loads(line)
		    except ValueError:
		        return line
		    if not isinstance(d.get("members"), list):
		        return line
		    d["members"].sort(key=lambda m: (m.get("name", ""), m.get("peerURLs", [])))
		    return json.dumps(d, separators=(",", ":"))
		for c in sys.argv[1:]:
		    b = c[:-len(".cmd")]
		    sys.stdout.write(open(c + ".n").read())
		    lines = [members(l.rstrip("\n")) for l in open(b + ".out.n")]
		    if os.path.exists(b + ".sort"):
		        lines.sort()
		    for l in lines:
		        print(l)
	EOF
}

run "1-$A" "$A"
run "2-$B" "$B"
if ! diff -u "$T/1-$A.txt" "$T/2-$B.txt" >"$T/diff"; then
	cat "$T/diff" >&2
	fail "etcdctl's transcripts differ between $A (-) and $B (+): $T/1-$A.txt, $T/2-$B.txt"
fi
[ "${KEEP:-}" = 1 ] && cp "$T/1-$A.txt" "${TMPDIR:-/tmp}/v3-etcdctl-$A.txt"
echo "ok: etcdctl's transcript ($(grep -c '^\$ etcdctl' "$T/1-$A.txt") commands) is the same against $A and $B"
