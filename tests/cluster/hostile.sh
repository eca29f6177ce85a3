#!/bin/sh
# Forged peer requests against a healthy cluster (issue 16, items 1, 2 and
# 4): a RequestVote at term 2^64-1 in a member's name, a RequestVote far
# ahead in a member's name, an AppendEntries in an invented leader's name.
# None may move a term, depose the leader or commit anything; each is
# logged with its reason. A one-second election timeout keeps spurious
# elections out of a loaded machine's way; the checks do not rely on it.
. "$(dirname "$0")/lib.sh"

# pb FIELD=NUMBER | sFIELD=TEXT ...: a protobuf body on stdout
pb() {
	python3 - "$@" <<'EOF'
import sys
def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7f, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)
buf = bytearray()
for a in sys.argv[1:]:
    f, v = a.split('=', 1)
    if f.startswith('s'):
        b = v.encode()
        buf += varint(int(f[1:]) << 3 | 2) + varint(len(b)) + b
    else:
        buf += varint(int(f) << 3) + varint(int(v))
sys.stdout.buffer.write(buf)
EOF
}

# send NODE PATH FILE: POST a body to a node's peer path
send() { curl -s -m 5 -o /dev/null -XPOST --data-binary "@$3" "http://127.0.0.1:$(port "$1")$2"; }

opts="--election-timeout-ms 1000"
start_three $opts
put_range 1 10
lp=$(wait_leader) || fail "no leader"
t0=$(status_field "$lp" term)
ldr=$(status_field "$lp" name)
# a follower's name, public in /status
f=2
[ "$lp" = "$(port 2)" ] && f=3
member=$(status_field "$(port $f)" name)
others=""
for i in 1 2 3; do [ $i = $f ] || others="$others $i"; done

# terms_below LIMIT: every node's term is a number below LIMIT
terms_below() {
	for i in 1 2 3; do
		t=$(status_field "$(port $i)" term)
		case $t in '' | *[!0-9]*) fail "node $i: term '$t'" ;; esac
		python3 -c "import sys; sys.exit(0 if $t < $1 else 1)" || fail "node $i took term $t"
	done
}

max=18446744073709551615
pb 1=$max 2=1000000 3=$max "s4=$member" > "$T/rv-max"
for i in 1 2 3; do send $i /raft/requestVote "$T/rv-max"; done
terms_below $(( t0 + 100 ))
for i in $others; do
	grep -q "term $max is above the largest term" "$T/n$i.log" || fail "node $i logs the refused term"
done
put_leader after-max 1 || fail "a write after the forged term"
echo "ok: a RequestVote at term 2^64-1 moves no term; logged; the cluster writes"

far=$(( t0 + 1000 ))
pb 1=$far 2=1000000 3=$far "s4=$member" > "$T/rv-far"
for i in 1 2 3; do send $i /raft/requestVote "$T/rv-far"; done
terms_below $far
[ "$(status_field "$lp" role)" = leader ] || [ "$(status_field "$lp" term)" -gt "$t0" ] ||
	fail "the leader stepped down at its own term"
for i in $others; do
	grep -q "denied a vote to $member" "$T/n$i.log" || fail "node $i logs the denied vote"
done
put_leader after-far 1 || fail "a write after the disruptive vote request"
echo "ok: a RequestVote 1000 terms ahead in a member's name deposes no one; logged"

c0=$(status_field "$lp" commit_index)
pb 1=$(( t0 + 500 )) 2="$c0" 3="$t0" 4=$(( c0 + 100 )) s5=evil > "$T/ae-evil"
for i in 1 2 3; do send $i /raft/appendEntries "$T/ae-evil"; done
terms_below $(( t0 + 500 ))
for i in 1 2 3; do
	[ "$(status_field "$(port $i)" leader)" != evil ] || fail "node $i follows the invented leader"
	grep -q "refused AppendEntries from evil" "$T/n$i.log" || fail "node $i logs the refused AppendEntries"
done
put_leader after-evil 1 || fail "a write after the forged AppendEntries"
wait_value "$(port $f)" after-evil 1 || fail "the follower follows the real leader"
echo "ok: an AppendEntries from an invented leader, 500 terms ahead, is refused; logged"
