#!/bin/sh
# tests/net/grpc-clients.sh — net/grpc.c against real gRPC clients, through
# tests/net/grpc_testd: Python's grpcio (Debian's python3-grpcio) calls an
# echo method, an unknown one and one over the size limit; Debian's etcdctl
# 3.4 sends etcd's requests, whose bytes must be those of
# tests/proto/etcdctl-wire.txt (which test_etcdpb holds against protobuf-c).
# Then both over TLS (grpc_testd --tls, certificates of tests/lib/mkcerts.sh,
# client certificates required): grpcio with ssl_channel_credentials calls
# echo and sees its identity, and is refused without a certificate or with
# one of another CA; etcdctl --cacert/--cert/--key reads grpc_testd's key.
# Skips (77) when neither client is installed.
set -u
: "${top_builddir:=.}"
: "${srcdir:=$(dirname "$0")/../..}"
tmp=$(mktemp -d)
pid=""
tpid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "grpc-clients: $*" >&2
	exit 1
}

# Debian's python3 (a pyenv one does not see python3-grpcio)
py=""
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import grpc' 2>/dev/null; then py=$p; break; fi
done
have_etcdctl=no
command -v etcdctl >/dev/null && have_etcdctl=yes
if [ -z "$py" ] && [ $have_etcdctl = no ]; then
	echo "grpc-clients: neither python3-grpcio nor etcd-client installed: skipped"
	exit 77
fi

# wait_port PID OUT ERR: the port grpc_testd says it listens on
wait_port() {
	i=0
	while [ $i -lt 200 ]; do
		p=$(sed -n 's/^port //p' "$2")
		[ -n "$p" ] && { echo "$p"; return 0; }
		kill -0 "$1" 2>/dev/null || fail "grpc_testd died: $(cat "$3")"
		sleep 0.05
		i=$((i + 1))
	done
	fail "grpc_testd did not say its port"
}

"$top_builddir/tests/net/grpc_testd" > "$tmp/out" 2> "$tmp/err" &
pid=$!
port=$(wait_port "$pid" "$tmp/out" "$tmp/err") || exit 1

if [ -n "$py" ]; then
	"$py" - "$port" <<'PY' || fail "grpcio: see above"
import sys, grpc
port = sys.argv[1]
ch = grpc.insecure_channel("127.0.0.1:" + port)
raw = lambda b: b
echo = ch.unary_unary("/test.Echo/Unary", request_serializer=raw, response_deserializer=raw)
for msg in (b"hello", b"", bytes(range(256)) * 4096):
    got = echo(msg, timeout=20)
    assert got == msg, "echo of %d bytes came back as %d bytes" % (len(msg), len(got))
# etcd's request limit is 1.5 MiB
try:
    echo(b"x" * (3 * 512 * 1024 + 1), timeout=20)
    raise SystemExit("an over-limit message was served")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e
try:
    ch.unary_unary("/etcdserverpb.Auth/AuthEnable", request_serializer=raw,
                   response_deserializer=raw)(b"", timeout=20)
    raise SystemExit("an unknown method was served")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e
# many calls at once on one channel
futs = [echo.future(b"m%d" % i, timeout=20) for i in range(300)]
for i, f in enumerate(futs):
    assert f.result() == b"m%d" % i
print("grpcio: echo, limit, unknown method, 300 concurrent calls: ok")
PY
else
	echo "grpc-clients: python3-grpcio not installed: its part skipped"
fi

if [ $have_etcdctl = yes ]; then
	export ETCDCTL_API=3
	n=0
	grep -v '^#' "$srcdir/tests/proto/etcdctl-wire.txt" | while IFS='|' read -r args method hex; do
		[ -n "$args" ] || continue
		before=$(grep -c '^CAPTURE' "$tmp/out")
		if [ "$args" = txn ]; then
			# shellcheck disable=SC2086
			printf 'mod("k") > "0"\n\nput k v\n\nget k\n\n' |
				timeout 30 etcdctl --endpoints="http://127.0.0.1:$port" txn > /dev/null 2>&1
		else
			# shellcheck disable=SC2086
			timeout 30 etcdctl --endpoints="http://127.0.0.1:$port" $args > /dev/null 2>&1
		fi
		# the empty answers of grpc_testd may make etcdctl fail to
		# print; what it sent is what counts
		got=$(grep '^CAPTURE' "$tmp/out" | sed -n "$((before + 1))p")
		[ "$got" = "CAPTURE $method $hex" ] ||
			fail "etcdctl $args: sent '$got', expected 'CAPTURE $method $hex'"
		n=$((n + 1))
	done || exit 1
	echo "etcdctl: every request of etcdctl-wire.txt sent with the same bytes"
else
	echo "grpc-clients: etcd-client not installed: its part skipped"
fi

# --- over TLS -----------------------------------------------------------------
if ! command -v certtool >/dev/null; then
	echo "grpc-clients: certtool (gnutls-bin) not installed: the TLS part skipped"
	exit 0
fi
certs=$tmp/certs
sh "$srcdir/tests/lib/mkcerts.sh" "$certs" || fail "mkcerts.sh failed"
"$top_builddir/tests/net/grpc_testd" --tls "$certs" > "$tmp/tout" 2> "$tmp/terr" &
tpid=$!
tport=$(wait_port "$tpid" "$tmp/tout" "$tmp/terr") || exit 1

if [ -n "$py" ]; then
	"$py" - "$tport" "$certs" <<'PY' || fail "grpcio over TLS: see above"
import sys, grpc
port, d = sys.argv[1], sys.argv[2]
rd = lambda n: open(d + "/" + n, "rb").read()
raw = lambda b: b
def channel(cert):
    creds = grpc.ssl_channel_credentials(root_certificates=rd("ca.pem"),
        private_key=rd(cert + "-key.pem") if cert else None,
        certificate_chain=rd(cert + ".pem") if cert else None)
    # the certificate names localhost, not 127.0.0.1
    return grpc.secure_channel("localhost:" + port, creds)
ch = channel("reader")
echo = ch.unary_unary("/test.Echo/Unary", request_serializer=raw, response_deserializer=raw)
for msg in (b"hello", b"", bytes(range(256)) * 4096):
    got = echo(msg, timeout=20)
    assert got == msg, "echo of %d bytes came back as %d bytes" % (len(msg), len(got))
who = ch.unary_unary("/test.Echo/Whoami", request_serializer=raw, response_deserializer=raw)(b"", timeout=20)
assert who == b"reader", "identity %r" % who
futs = [echo.future(b"m%d" % i, timeout=20) for i in range(300)]
for i, f in enumerate(futs):
    assert f.result() == b"m%d" % i
# refused in the handshake: no certificate, one of another CA
for cert in (None, "other"):
    try:
        channel(cert).unary_unary("/test.Echo/Unary", request_serializer=raw,
                                  response_deserializer=raw)(b"x", timeout=10)
        raise SystemExit("a client with certificate %s was served" % cert)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAVAILABLE, e
print("grpcio over TLS: echo, identity, 300 concurrent calls, refusals: ok")
PY
	grep -q "no client certificate" "$tmp/terr" || fail "no refusal logged for a client without a certificate"
	grep -q "(CN n1): certificate signed by an unknown authority" "$tmp/terr" ||
		fail "no refusal logged for a certificate of another CA"
fi

if [ $have_etcdctl = yes ]; then
	export ETCDCTL_API=3
	got=$(timeout 30 etcdctl --endpoints="https://127.0.0.1:$tport" --cacert "$certs/ca.pem" \
		--cert "$certs/admin.pem" --key "$certs/admin-key.pem" get foo 2>&1) ||
		fail "etcdctl over TLS: $got"
	[ "$got" = "$(printf 'foo\nbar')" ] || fail "etcdctl over TLS printed '$got'"
	if timeout 30 etcdctl --dial-timeout=2s --command-timeout=4s --endpoints="https://127.0.0.1:$tport" \
		--cacert "$certs/ca.pem" get foo > /dev/null 2>&1; then
		fail "etcdctl without a client certificate was served"
	fi
	echo "etcdctl over TLS: get with a client certificate, refused without one: ok"
fi
exit 0
