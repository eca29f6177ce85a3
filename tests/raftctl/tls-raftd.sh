#!/bin/sh
# raftctl against a three-node raftd cluster with TLS for clients and
# peers, client and peer certificate authentication and roles: the
# commands work with the right certificate, and each refusal is one line
# (no certificate, the wrong role, a certificate of another CA, a CA that
# does not sign the nodes). Skipped (77) by a raftd without TLS options.
. "$(dirname "$0")/../cluster/lib.sh"
command -v certtool >/dev/null || { echo "# certtool not installed (gnutls-bin): skipped"; exit 77; }
"$RAFTD" --help 2>&1 | grep -q -- "-client-cert-auth" || { echo "# $RAFTD has no TLS: skipped"; exit 77; }
"${srcdir:-.}/tests/lib/mkcerts.sh" "$T/certs" || fail "mkcerts.sh"
C=$T/certs

# tls_start N [ARGS...]: node N over TLS; serving once its /health answers
tls_start() {
	n=$1
	shift
	cat >"$T/n$n.conf" <<EOF
[raftd]
name = n$n
advertise = https://127.0.0.1:$(port "$n")
cert-file = $C/n$n.pem
key-file = $C/n$n-key.pem
trusted-ca-file = $C/ca.pem
client-cert-auth = true
peer-cert-file = $C/n$n.pem
peer-key-file = $C/n$n-key.pem
peer-trusted-ca-file = $C/ca.pem
peer-client-cert-auth = true

[roles]
reader = read
writer = write
admin = admin
EOF
	"$RAFTD" $NOGRPC -config "$T/n$n.conf" -p "$(port "$n")" "$@" "$T/n$n" >>"$T/n$n.log" 2>&1 &
	eval "PID_$n=$!"
	PIDS="$PIDS $!"
	for _ in $(seq 200); do
		curl -s -m 2 -o /dev/null --cacert "$C/ca.pem" --cert "$C/reader.pem" --key "$C/reader-key.pem" \
			"https://127.0.0.1:$(port "$n")/status" && return 0
		kill -0 "$(eval echo \$PID_"$n")" 2>/dev/null || fail "node $n exited at start"
		sleep 0.05
	done
	fail "node $n does not answer"
}

# rc ROLE ARGS...: raftctl with ROLE's certificate ("none": without one)
rc() {
	role=$1
	shift
	if [ "$role" = none ]; then
		"$RAFTCTL" --timeout 10s --cacert "$C/ca.pem" "$@" >"$T/out" 2>"$T/err"
	else
		"$RAFTCTL" --timeout 10s --cacert "$C/ca.pem" --cert "$C/$role.pem" --key "$C/$role-key.pem" "$@" \
			>"$T/out" 2>"$T/err"
	fi
	rv=$?
}
ok() { [ "$rv" = 0 ] || fail "$1: exit $rv: $(cat "$T/out" "$T/err")"; }
# refused PATTERN: exit 1 and one line on stderr that matches
refused() {
	[ "$rv" = 1 ] || fail "exit $rv, expected 1: $(cat "$T/out" "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "not one line: $(cat "$T/err")"
	grep -Eq "$1" "$T/err" || fail "'$(cat "$T/err")', expected /$1/"
}

tls_start 1
tls_start 2 -join "127.0.0.1:$(port 1)"
tls_start 3 -join "127.0.0.1:$(port 1)"
EP1=https://127.0.0.1:$(port 1)
export RAFTCTL_ENDPOINTS="$EP1,https://localhost:$(port 2),https://127.0.0.1:$(port 3)"

rc writer put greeting hello
ok "put as writer"
for _ in $(seq 100); do
	rc reader status
	[ "$rv" = 0 ] && [ "$(grep -c "https://127.0.0.1:[0-9]* *\(leader\|follower\)" "$T/out")" = 3 ] && break
	sleep 0.1
done
[ "$(grep -c "https://127.0.0.1:[0-9]* *\(leader\|follower\)" "$T/out")" = 3 ] ||
	fail "status, three members over https: $(cat "$T/out" "$T/err")"
rc reader get greeting
ok "get as reader"
[ "$(cat "$T/out")" = hello ] || fail "get: $(cat "$T/out")"
rc admin endpoint health
ok "endpoint health as admin"
[ "$(grep -c ' is healthy: took ' "$T/out")" = 3 ] || fail "endpoint health: $(cat "$T/out")"
rc writer bench -c 4 -n 200
ok "bench as writer"
grep -q "^put: 200 ok, 0 failed" "$T/out" || fail "bench: $(cat "$T/out")"
rc admin members list
ok "members list"
new=$(sed -n 's/^\(n[23]\) .* follower .*/\1/p' "$T/out" | head -n 1)
rc admin leader transfer "$new"
ok "leader transfer to $new"
rc writer put after transfer
ok "put after the transfer"
echo "ok: status, get, put, endpoint health, bench, leader transfer over https with client certificates"

rc none get greeting
refused "^raftctl get: .*HTTP 401: .*\(--cert/--key\?\)$"
rc reader put greeting bye
refused "^raftctl put: https://[^ ]*: HTTP 403: .*reader"
rc other get greeting
refused "^raftctl get: .*HTTP 401: .*unknown authority"
"$RAFTCTL" --endpoints "$EP1" --cacert "$C/other-ca.pem" get greeting >"$T/out" 2>"$T/err"
rv=$?
refused "^raftctl get: $EP1: the server's certificate is signed by an unknown authority \(not by a CA of $C/other-ca.pem\)$"
"$RAFTCTL" --endpoints "http://127.0.0.1:$(port 1)" get greeting >"$T/out" 2>"$T/err"
rv=$?
# raftd answers plain HTTP on its TLS port with a 400 that says so (an
# older one closed without a word, which raftctl asks about itself)
refused "^raftctl get: http://127.0.0.1:$(port 1): .*https://"
rc reader get greeting
[ "$(cat "$T/out")" = hello ] || fail "the refused put changed the key: $(cat "$T/out")"
echo "ok: no certificate 401, wrong role 403, another CA's certificate 401, a CA that did not sign the node, plain http"
