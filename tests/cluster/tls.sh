#!/bin/sh
# Three raftd nodes with TLS and client and peer certificate authentication
# (issue 18): roles (reader 403 on a write, writer 200, admin /join and
# /leave), clients without a certificate, from another CA or expired (401),
# forged peer RPCs and a node with another member's certificate refused
# while the cluster keeps committing, plain HTTP to the TLS port, a
# certificate reload (SIGHUP) that new connections see, a bad file on
# reload (the old certificate stays) and at start (exit, the file named),
# and the warning of a node without TLS. Certificates are made here
# (tests/lib/mkcerts.sh), never committed.
. "$(dirname "$0")/lib.sh"
command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }

C=$T/certs
sh "$(dirname "$0")/../lib/mkcerts.sh" "$C" || fail "mkcerts.sh"
printf '[roles]\nreader = read\nwriter = write\nadmin = admin\n' >"$T/raftd.conf"
# the nodes' certificates are copies, replaced for the reloads below
mkdir "$T/live"
for n in 1 2 3; do cp "$C/n$n.pem" "$C/n$n-key.pem" "$T/live/"; done

# tls_args N: node N's settings (its own certificate, both kinds of auth)
tls_args() {
	cert=$T/live/n$1.pem key=$T/live/n$1-key.pem
	echo "--name n$1 -h 127.0.0.1 --config $T/raftd.conf --cert-file $cert --key-file $key" \
		"--trusted-ca-file $C/ca.pem --client-cert-auth --peer-trusted-ca-file $C/ca.pem --peer-client-cert-auth"
}

# tc ROLE CURL-ARGS...: curl as ROLE (a certificate of $C; "none": none)
tc() {
	_r=$1
	shift
	if [ "$_r" = none ]; then
		curl -s -m 5 --cacert "$C/ca.pem" "$@"
	else
		curl -s -m 5 --cacert "$C/ca.pem" --cert "$C/$_r.pem" --key "$C/$_r-key.pem" "$@"
	fi
}
# tb ROLE CURL-ARGS...: the body (one line, without its newline), a blank, the status
tb() { tc "$@" -w ' %{http_code}' | tr -d '\n'; }
url() { echo "https://127.0.0.1:$(port "$1")"; }
code() { _r=$1; shift; tc "$_r" -o /dev/null -w '%{http_code}' "$@"; }

tstatus() { tc admin "$(url "$1")/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])" 2>/dev/null; }

tnode_start() {
	n=$1
	shift
	# shellcheck disable=SC2046
	"$RAFTD" $NOGRPC -p "$(port "$n")" $(tls_args "$n") "$@" "$T/n$n" >>"$T/n$n.log" 2>&1 &
	eval "PID_$n=$!"
	PIDS="$PIDS $!"
	for _ in $(seq 100); do
		[ "$(code reader "$(url "$n")/status")" = 200 ] && return 0
		kill -0 "$(eval echo \$PID_"$n")" 2>/dev/null || fail "node $n exited at start: $(tail -3 "$T/n$n.log")"
		sleep 0.05
	done
	fail "node $n does not answer over TLS"
}

tleader() {
	for _ in $(seq 200); do
		for n in 1 2 3; do
			[ "$(tstatus "$n" role)" = leader ] && { echo "$n"; return 0; }
		done
		sleep 0.05
	done
	return 1
}

# tput KEY VALUE: as writer, through the leader (found again when it moved)
tput() {
	for _ in $(seq 20); do
		l=$(tleader) || continue
		[ "$(code writer -XPOST "$(url "$l")/db/$1" --data-binary "$2")" = 200 ] && return 0
		sleep 0.2
	done
	return 1
}

twait() {
	for _ in $(seq 100); do
		[ "$(tc reader "$(url "$1")/db/$2")" = "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

tnode_start 1
tnode_start 2 -join "127.0.0.1:$(port 1)"
tnode_start 3 -join "127.0.0.1:$(port 1)"
tput k1 v1 || fail "a write over TLS"
for n in 1 2 3; do twait "$n" k1 v1 || fail "node $n has k1"; done
grep -q "https://127.0.0.1:$(port 2)" "$T/n1.log" || fail "members advertise https:// URLs"
echo "ok: three nodes with mutual TLS: joins, a write replicated to all"

# --- roles -----------------------------------------------------------------
L=$(tleader) || fail "no leader"
body=$(tb reader -XPOST "$(url "$L")/db/k1" -d changed)
[ "$body" = "identity reader has role read; POST /db needs write 403" ] || fail "reader's write: $body"
[ "$(tc reader "$(url "$L")/db/k1")" = v1 ] || fail "the reader's refused write changed nothing"
[ "$(code writer -XDELETE "$(url "$L")/db/k1")" = 200 ] || fail "writer deletes"
tput k1 v1 || fail "write again"
body=$(tb writer -XPOST "$(url "$L")/raftd/transfer")
[ "$body" = "identity writer has role write; POST /raftd/transfer needs admin 403" ] || fail "writer's transfer: $body"
[ "$(code writer -XPOST "$(url "$L")/leave" -d '{"name":"n3"}')" = 403 ] || fail "writer's /leave"
[ "$(code writer "$(url "$L")/raftd/snapshot")" = 403 ] || fail "writer's snapshot download"
[ "$(code reader "$(url "$L")/metrics")" = 200 ] || fail "reader's /metrics"
# admin: a learner in and out (no quorum changes)
[ "$(code admin -XPOST "$(url "$L")/join?raftd=1&learner=1" \
	-d "{\"name\":\"n9\",\"connectionString\":\"https://127.0.0.1:$(port 9)\"}")" = 200 ] || fail "admin /join"
[ "$(code admin -XPOST "$(url "$L")/leave" -d '{"name":"n9"}')" = 200 ] || fail "admin /leave"
body=$(tb writer -XPOST "$(url "$L")/join" -d "{\"name\":\"n8\",\"connectionString\":\"https://127.0.0.1:1\"}" \
	-w ' %{http_code}')
case $body in *"needs admin"*" 403") ;; *) fail "writer's /join: $body" ;; esac
echo "ok: roles: reader 403 on POST, writer 200 and 403 on admin paths, admin /join and /leave"

# --- unauthenticated clients -----------------------------------------------
body=$(tb none "$(url "$L")/db/k1")
[ "$body" = "no client certificate: this node requires one (client-cert-auth) 401" ] || fail "no cert: $body"
body=$(tb other "$(url "$L")/db/k1")
case $body in "client certificate refused: "*" 401") ;; *) fail "other CA: $body" ;; esac
body=$(tb expired "$(url "$L")/db/k1")
[ "$body" = "client certificate refused: expired 401" ] || fail "expired: $body"
[ "$(code none -XPOST "$(url "$L")/db/k1" -d x)" = 401 ] || fail "a write without a certificate"
[ "$(tc reader "$(url "$L")/db/k1")" = v1 ] || fail "refused writes changed nothing"
echo "ok: no certificate, another CA's, an expired one: 401 with the reason"

# --- forged peer RPCs ------------------------------------------------------
# goraft's protobuf bodies: RequestVoteRequest (timeoutNow's too) and an
# AppendEntriesRequest with one entry
python3 - "$T" <<'EOF'
import sys
def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])
def field(n, v):
    if isinstance(v, int):
        return varint(n << 3) + varint(v)
    return varint(n << 3 | 2) + varint(len(v)) + v
rv = lambda name: field(1, 1000) + field(2, 1000) + field(3, 1000) + field(4, name)
entry = field(1, 1000) + field(2, 1000) + field(3, b"write") + field(4, b'{"key":"forged","value":"x"}')
ae = lambda name: field(1, 1000) + field(2, 0) + field(3, 0) + field(4, 1000) + field(5, name) + field(6, entry)
for n in (b"n1", b"n2", b"n3"):
    open(sys.argv[1] + "/rv-" + n.decode(), "wb").write(rv(n))
    open(sys.argv[1] + "/ae-" + n.decode(), "wb").write(ae(n))
open(sys.argv[1] + "/ae-ghost", "wb").write(ae(b"ghost"))
EOF
# L leads, F follows, X is the third: X's certificate speaks for L at F
F=$(( L % 3 + 1 ))
X=$(( F % 3 + 1 ))
term=$(tstatus "$F" term)
for i in 1 2 3 4 5; do
	body=$(tb "n$X" -XPOST "$(url "$F")/raftd/timeoutNow" --data-binary "@$T/rv-n$L")
	[ "$body" = "certificate of member n$X speaks for member n$L: refused 403" ] || fail "n$X as n$L: $body"
done
body=$(tb wrongname -XPOST "$(url "$F")/raft/appendEntries" --data-binary "@$T/ae-n$L")
case $body in *"names neither member n$L nor its host 127.0.0.1"*" 403") ;; *) fail "wrongname as n$L: $body" ;; esac
# a client's certificate (same CA) names no member: it speaks for none
body=$(tb admin -XPOST "$(url "$F")/raft/appendEntries" --data-binary "@$T/ae-n$L")
case $body in *"names neither member n$L"*" 403") ;; *) fail "admin's certificate as n$L: $body" ;; esac
body=$(tb n4 -XPOST "$(url "$F")/raft/appendEntries" --data-binary "@$T/ae-ghost")
case $body in *"speaks for ghost, which is not a member 403") ;; *) fail "an invented leader: $body" ;; esac
body=$(tb none -XPOST "$(url "$F")/raft/requestVote" --data-binary "@$T/rv-n$L")
[ "$body" = "no peer certificate: this node requires one (peer-client-cert-auth) 401" ] || fail "no cert RPC: $body"
body=$(tb expired -XPOST "$(url "$F")/raftd/preVote" --data-binary "@$T/rv-n$L")
[ "$body" = "peer certificate refused: expired 401" ] || fail "expired peer: $body"
[ "$(tstatus "$F" term)" = "$term" ] || fail "a forged RPC moved the term"
[ "$(tc reader "$(url "$F")/db/forged")" = "" ] || fail "a forged entry was applied"
[ "$(grep -c "peer request refused for n$L: certificate of member n$X speaks for member n$L" "$T/n$F.log")" = 1 ] ||
	fail "a refusal is logged once: $(grep 'peer request refused' "$T/n$F.log")"
tput k2 v2 || fail "the cluster commits after forged RPCs"
echo "ok: forged RPCs (another member's certificate, a wrong name, an invented leader, none, expired): refused"

# --- a node with another member's certificate --------------------------------
"$RAFTD" $NOGRPC -p "$(port 4)" --name n4 -h 127.0.0.1 --config "$T/raftd.conf" --cert-file "$C/n2.pem" \
	--key-file "$C/n2-key.pem" --trusted-ca-file "$C/ca.pem" --client-cert-auth \
	--peer-trusted-ca-file "$C/ca.pem" --peer-client-cert-auth -join "127.0.0.1:$(port 1)" "$T/n4" \
	>>"$T/n4.log" 2>&1 &
PID_4=$!
PIDS="$PIDS $!"
for _ in $(seq 100); do
	grep -q "certificate of member n2 cannot join n4" "$T/n4.log" && break
	sleep 0.05
done
grep -q "certificate of member n2 cannot join n4" "$T/n4.log" || fail "n4 with n2's certificate: $(tail -3 "$T/n4.log")"
for i in 3 4 5; do tput "k$i" "v$i" || fail "the cluster commits while n4 tries"; done
for n in 1 2 3; do twait "$n" k5 v5 || fail "node $n has k5"; done
[ "$(tc admin "$(url 1)/status" | grep -c '"n4"')" = 0 ] || fail "n4 is no member"
node_kill 4
echo "ok: a node with another member's certificate cannot join; the cluster keeps committing"

# --- plain HTTP and stray bytes to the TLS port --------------------------------
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port 1)/status")
[ "$code" = 000 ] || [ "$code" = 400 ] || fail "plain HTTP to the TLS port answered $code"
python3 - "$(port 1)" <<'EOF'
import socket, sys
for payload in (b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello", b""):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(payload)
    s.close()
EOF
[ "$(code reader "$(url 1)/db/k1")" = 200 ] || fail "node 1 serves after plain HTTP"
tput k6 v6 || fail "the cluster commits after plain HTTP"
echo "ok: plain HTTP and garbage to the TLS port refused; the node keeps serving"

# --- reload: a new certificate, then a bad one -----------------------------------
serial() {
	openssl s_client -connect "127.0.0.1:$(port 1)" -CAfile "$C/ca.pem" -cert "$C/reader.pem" \
		-key "$C/reader-key.pem" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
old=$(serial)
[ -n "$old" ] || fail "openssl s_client sees node 1's certificate"
cat >"$T/n1b.tmpl" <<EOF
cn = "n1"
dns_name = "n1"
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
tls_www_client
signing_key
encryption_key
expiration_days = 30
EOF
certtool --generate-certificate --load-privkey "$T/live/n1-key.pem" --load-ca-certificate "$C/ca.pem" \
	--load-ca-privkey "$C/ca-key.pem" --template "$T/n1b.tmpl" --outfile "$T/n1b.pem" 2>/dev/null ||
	fail "certtool: a new certificate for n1"
cp "$T/n1b.pem" "$T/live/n1.pem"
kill -HUP "$PID_1"
new=
for _ in $(seq 100); do
	new=$(serial)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.05
done
[ "$new" != "$old" ] || fail "after SIGHUP new connections see the new certificate ($old)"
[ "$new" = "$(openssl x509 -noout -serial -in "$T/n1b.pem")" ] || fail "the new certificate is the one served"
grep -q "certificates and keys re-read" "$T/n1.log" || fail "the reload is logged"
tput k7 v7 || fail "the cluster commits after the reload"
twait 1 k7 v7 || fail "node 1 has k7 after its reload"

echo "not a certificate" >"$T/live/n1.pem"
kill -HUP "$PID_1"
for _ in $(seq 100); do
	grep -q "reload: .*$T/live/n1.pem" "$T/n1.log" && break
	sleep 0.05
done
grep -q "reload: .*$T/live/n1.pem.*(the certificates and keys in use stay)" "$T/n1.log" ||
	fail "a bad file on reload is named: $(grep reload "$T/n1.log" | tail -2)"
[ "$(serial)" = "$new" ] || fail "the certificate in use stays after a bad reload"
[ "$(code reader "$(url 1)/db/k1")" = 200 ] || fail "node 1 serves after a bad reload"
cp "$T/n1b.pem" "$T/live/n1.pem" # for its restart below
echo "ok: SIGHUP: a new certificate for new connections; a bad file named, the old one kept"

# members' clients take a reload's certificate too: a follower given
# another member's asks its leader for a read index in vain, and with its
# own again it gets one
L=$(tleader) || fail "no leader"
F=$(( L % 3 + 1 ))
X=$(( F % 3 + 1 ))
consistent() { code reader "$(url "$F")/db/k1?consistent=true"; }
[ "$(consistent)" = 200 ] || fail "a consistent read on n$F"
cp "$C/n$X.pem" "$T/live/n$F.pem"
cp "$C/n$X-key.pem" "$T/live/n$F-key.pem"
kill -HUP "$(eval echo \$PID_"$F")"
for _ in $(seq 100); do
	grep -q "peer request refused for n$F: certificate of member n$X speaks for member n$F" "$T/n$L.log" && break
	consistent >/dev/null
	sleep 0.05
done
grep -q "peer request refused for n$F: certificate of member n$X speaks for member n$F" "$T/n$L.log" ||
	fail "n$F's peer client kept its old certificate after a reload"
cp "$C/n$F.pem" "$C/n$F-key.pem" "$T/live/"
kill -HUP "$(eval echo \$PID_"$F")"
ok=
for _ in $(seq 100); do
	[ "$(consistent)" = 200 ] && { ok=1; break; }
	sleep 0.05
done
[ -n "$ok" ] || fail "n$F reads through its leader with its own certificate again"
tput k8 v8 || fail "the cluster commits after the follower's reloads"
echo "ok: SIGHUP: members' clients present the new certificate"

# --- kill -9 of the leader: TLS connections come back, nothing is lost -------
L=$(tleader) || fail "no leader"
node_kill "$L"
for i in $(seq 10 30); do tput "k$i" "v$i" || fail "write k$i without n$L"; done
tnode_start "$L"
for n in 1 2 3; do twait "$n" k30 v30 || fail "node $n has k30 after n$L's restart"; done
for i in $(seq 10 30); do [ "$(tc reader "$(url "$L")/db/k$i")" = "v$i" ] || fail "n$L lost k$i"; done
echo "ok: kill -9 of the leader: the others commit, it restarts over TLS and catches up, nothing lost"

# --- bad files at start ---------------------------------------------------------
echo "not a certificate" >"$T/bad.pem"
for bad in "$T/nonexistent.pem" "$T/bad.pem"; do
	"$RAFTD" $NOGRPC -p "$(port 5)" --cert-file "$bad" --key-file "$C/n5-key.pem" --peer-trusted-ca-file "$C/ca.pem" \
		"$T/n5" >"$T/start.err" 2>&1 && fail "raftd started with a bad certificate $bad"
	grep -q "$bad" "$T/start.err" || fail "the bad file is named at start: $(cat "$T/start.err")"
done
"$RAFTD" $NOGRPC -p "$(port 5)" --cert-file "$C/n5.pem" --key-file "$C/n4-key.pem" --peer-trusted-ca-file "$C/ca.pem" \
	"$T/n5" >"$T/start.err" 2>&1 && fail "raftd started with another certificate's key"
grep -q "n4-key.pem" "$T/start.err" || fail "a key that does not match is named: $(cat "$T/start.err")"
echo "ok: an unreadable, unparsable or mismatched file at start: exit non-zero, the file named"

# --- without TLS: the warning -------------------------------------------------
"$RAFTD" $NOGRPC -p "$(port 6)" "$T/n6" >>"$T/n6.log" 2>&1 &
PID_6=$!
PIDS="$PIDS $!"
for _ in $(seq 100); do
	grep -q "without TLS or authentication" "$T/n6.log" && break
	sleep 0.05
done
grep -q "serving clients and peers on \*:$(port 6) without TLS or authentication" "$T/n6.log" ||
	fail "a node without TLS says so: $(cat "$T/n6.log")"
grep -q "without TLS" "$T/n1.log" && fail "a node with TLS and auth does not warn"
echo "ok: a node without TLS warns at start, naming its address"
