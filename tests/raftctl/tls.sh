#!/bin/sh
# raftctl over https://: a command succeeds with the right CA, and each TLS
# failure is one line on stderr with exit 1: unknown authority, hostname
# mismatch, expired, a client certificate wanted, a file that cannot be
# read, a plain-HTTP server on an https:// endpoint. Flags win over
# RAFTCTL_CACERT/CERT/KEY. The servers are python3's http.server wrapped in
# ssl (certificates from tests/lib/mkcerts.sh), each answering /status as a
# lone leader, /health, and GET /db/whoami with the CN of the client's
# certificate ("none" without one), GET /db/sni with the server name the
# client sent ("none"); GET /db/secret without a certificate is a 401. SHOW=1 prints each refusal's line.
. "$(dirname "$0")/../cluster/lib.sh"
command -v certtool >/dev/null || { echo "# certtool not installed (gnutls-bin): skipped"; exit 77; }
command -v python3 >/dev/null || { echo "# python3 not installed: skipped"; exit 77; }
"${srcdir:-.}/tests/lib/mkcerts.sh" "$T/certs" || fail "mkcerts.sh"
C=$T/certs

cat >"$T/servers.py" <<'EOF'
import http.server, json, socketserver, ssl, sys, threading

certs, out = sys.argv[1], sys.argv[2]
# name: (certificate, client certificates: none/optional/required); "plain" is no TLS
servers = {
    "good": ("n1", ssl.CERT_OPTIONAL),
    "require": ("n1", ssl.CERT_REQUIRED),
    "wrongname": ("wrongname", ssl.CERT_NONE),
    "expired": ("expired", ssl.CERT_NONE),
    "other": ("other", ssl.CERT_NONE),
    "plain": (None, None),
}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, found=False):
        b = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        if found:
            self.send_header("X-Raftd-Found", "true")
        self.end_headers()
        self.wfile.write(b)

    def client_cn(self):
        peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        for rdn in (peer or {}).get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return "none"

    def do_GET(self):
        url = self.server.url
        if self.path == "/status":
            self.answer(json.dumps({"name": "n1", "url": url, "role": "leader", "leader": "n1", "term": 1,
                                    "server": "raftd", "members": [{"name": "n1", "url": url, "self": True}]}))
        elif self.path == "/health":
            self.answer('{"health":"true"}')
        elif self.path.startswith("/db/whoami"):
            self.answer(self.client_cn(), found=True)
        elif self.path.startswith("/db/sni"):
            self.answer(getattr(self.connection, "sni", None) or "none", found=True)
        elif self.path.startswith("/db/secret") and self.client_cn() == "none":
            b = b"no client certificate\n"  # as raftd's 401
            self.send_response(401)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
        else:
            self.send_error(404)

    def do_POST(self):  # bench's writes and deletes, taken and forgotten
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer("", found=True) if self.path.startswith("/db/") else self.send_error(404)

    do_DELETE = do_POST

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a refused handshake is the test's point, not news

import socket
silent = socket.socket()  # a port that connects and never says a word
silent.bind(("127.0.0.1", 0))
silent.listen(8)
lines = [f"silent {silent.getsockname()[1]}\n"]
for name, (cert, verify) in servers.items():
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{certs}/{cert}.pem", f"{certs}/{cert}-key.pem")
        def note_sni(sock, name, _ctx):
            sock.sni = name
        ctx.sni_callback = note_sni
        if verify != ssl.CERT_NONE:
            ctx.load_verify_locations(f"{certs}/ca.pem")
            ctx.verify_mode = verify
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.url = f"{'https' if cert else 'http'}://127.0.0.1:{port}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    lines.append(f"{name} {port}\n")
with open(out + ".tmp", "w") as f:
    f.writelines(lines)
import os
os.rename(out + ".tmp", out)
threading.Event().wait()
EOF
python3 "$T/servers.py" "$C" "$T/ports" >"$T/servers.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 200); do
	[ -f "$T/ports" ] && break
	sleep 0.05
done
[ -f "$T/ports" ] || fail "the test servers did not start: $(cat "$T/servers.log")"
sport() { sed -n "s/^$1 //p" "$T/ports"; }
GOOD=https://127.0.0.1:$(sport good)

# rc ARGS...: raftctl, stdout in $T/out, stderr in $T/err, exit status in $rv
rc() {
	"$RAFTCTL" --timeout 5s "$@" >"$T/out" 2>"$T/err"
	rv=$?
}
# fails_with LINE ARGS...: exit 1 and exactly LINE (a grep -E pattern) as
# the only line on stderr
fails_with() {
	want=$1
	shift
	rc "$@"
	[ "$rv" = 1 ] || fail "raftctl $* exit $rv, expected 1: $(cat "$T/out" "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "raftctl $*: not one line: $(cat "$T/err")"
	[ -n "${SHOW:-}" ] && cat "$T/err" >&2
	grep -Eq "$want" "$T/err" || fail "raftctl $*: '$(cat "$T/err")', expected /$want/"
}
unset RAFTCTL_CACERT RAFTCTL_CERT RAFTCTL_KEY RAFTCTL_ENDPOINTS

# --- the right CA -----------------------------------------------------------
rc --endpoints "$GOOD" --cacert "$C/ca.pem" endpoint health
[ "$rv" = 0 ] || fail "endpoint health over https: $(cat "$T/out" "$T/err")"
grep -q "^$GOOD is healthy: took " "$T/out" || fail "endpoint health: $(cat "$T/out")"
rc --endpoints "https://localhost:$(sport good)" --cacert="$C/ca.pem" get whoami
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = none ] || fail "get by host name: $rv $(cat "$T/out" "$T/err")"
rc --endpoints "$GOOD" --cacert "$C/ca.pem" --cert "$C/reader.pem" --key "$C/reader-key.pem" get whoami
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = reader ] || fail "client certificate: $rv $(cat "$T/out" "$T/err")"
rc --endpoints "$GOOD" --cacert "$C/ca.pem" status n1
[ "$rv" = 0 ] && grep -q "^url: *$GOOD$" "$T/out" || fail "status n1: $rv $(cat "$T/out" "$T/err")"
# through the leader: the node found is handed over (copied) with its
# connection, which then carries the write
rc --endpoints "$GOOD" --cacert "$C/ca.pem" put k v
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = OK ] || fail "put: $rv $(cat "$T/out" "$T/err")"
rc --endpoints "$GOOD" --cacert "$C/ca.pem" status
[ "$rv" = 0 ] && grep -q "^n1 *$GOOD *leader" "$T/out" || fail "status: $rv $(cat "$T/out" "$T/err")"
# SNI: the name, never an address
rc --endpoints "https://localhost:$(sport good)" --cacert "$C/ca.pem" get sni
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = localhost ] || fail "SNI by name: $rv $(cat "$T/out" "$T/err")"
rc --endpoints "$GOOD" --cacert "$C/ca.pem" get sni
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = none ] || fail "SNI by address: $rv $(cat "$T/out" "$T/err")"
echo "ok: https:// with --cacert, by address and by name (SNI), with a client certificate"

# --- each refusal, one line -------------------------------------------------
fails_with "^raftctl get: $GOOD: the server's certificate is signed by an unknown authority \(--cacert\?\)$" \
	--endpoints "$GOOD" get whoami
fails_with "^raftctl get: $GOOD: the server's certificate is signed by an unknown authority \(not by a CA of $C/other-ca.pem\)$" \
	--endpoints "$GOOD" --cacert "$C/other-ca.pem" get whoami
P=https://127.0.0.1:$(sport other)
fails_with "^raftctl get: $P: the server's certificate is signed by an unknown authority" \
	--endpoints "$P" --cacert "$C/ca.pem" get whoami
P=https://127.0.0.1:$(sport wrongname)
fails_with "^raftctl get: $P: hostname mismatch: the server's certificate is for wrongname.example, not 127.0.0.1$" \
	--endpoints "$P" --cacert "$C/ca.pem" get whoami
P=https://localhost:$(sport wrongname)
fails_with "^raftctl get: $P: hostname mismatch: the server's certificate is for wrongname.example, not localhost$" \
	--endpoints "$P" --cacert "$C/ca.pem" get whoami
P=https://127.0.0.1:$(sport expired)
fails_with "^raftctl get: $P: the server's certificate expired on 2021-01-01 00:00:00 UTC$" \
	--endpoints "$P" --cacert "$C/ca.pem" get whoami
P=https://127.0.0.1:$(sport require)
fails_with "^raftctl get: $P: the server asks for a client certificate \(--cert/--key\)$" \
	--endpoints "$P" --cacert "$C/ca.pem" get whoami
fails_with "^raftctl endpoint: 1 of 1 endpoint unhealthy$" --endpoints "$P" --cacert "$C/ca.pem" endpoint health
grep -q "^$P is unhealthy: $P: the server asks for a client certificate (--cert/--key)$" "$T/out" ||
	fail "endpoint health, no client certificate: $(cat "$T/out")"
rc --endpoints "$P" --cacert "$C/ca.pem" --cert "$C/writer.pem" --key "$C/writer-key.pem" get whoami
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = writer ] || fail "required client certificate: $rv $(cat "$T/out" "$T/err")"
fails_with "^raftctl get: $GOOD: HTTP 401: no client certificate \(--cert/--key\?\)$" \
	--endpoints "$GOOD" --cacert "$C/ca.pem" get --local secret
fails_with "^raftctl get: $P: the server refused the client certificate $C/other.pem[: ]" \
	--endpoints "$P" --cacert "$C/ca.pem" --cert "$C/other.pem" --key "$C/other-key.pem" get whoami
P=https://127.0.0.1:$(sport plain)
fails_with "^raftctl get: $P: not TLS: the server answered in plain text \(http:// \?\)$" \
	--endpoints "$P" --cacert "$C/ca.pem" get whoami
P=https://127.0.0.1:$(sport silent)
fails_with "^raftctl get: $P: TLS handshake not done within 300 ms$" \
	--endpoints "$P" --cacert "$C/ca.pem" --timeout 300ms get whoami
echo "ok: unknown authority, hostname mismatch, expired, client certificate wanted or refused, not TLS, no handshake"

fails_with "^raftctl get: cannot read $T/nothere.pem: No such file or directory$" \
	--endpoints "$GOOD" --cacert "$T/nothere.pem" get whoami
fails_with "^raftctl get: $C/ca.pem: not a PEM private key" \
	--endpoints "$GOOD" --cacert "$C/ca.pem" --cert "$C/reader.pem" --key "$C/ca.pem" get whoami
# one endpoint or three: the file is named once
fails_with "^raftctl status: cannot read $T/nothere.pem: No such file or directory$" \
	--endpoints "$GOOD,$GOOD" --cert "$T/nothere.pem" --key "$C/reader-key.pem" status
rc --endpoints "$GOOD" --cacert "$C/ca.pem" --cert "$C/reader.pem" get whoami
[ "$rv" = 2 ] && grep -q "needs --cert and --key" "$T/err" || fail "--cert without --key: $rv $(cat "$T/err")"
echo "ok: files that cannot be used, --cert without --key"

# --- bench: its own connections, TLS too -------------------------------------
rc --endpoints "$GOOD" --cacert "$C/ca.pem" bench --clients 4 --requests 200
[ "$rv" = 0 ] && grep -q "^put: 200 ok, 0 failed in .* -> n1 ($GOOD)$" "$T/out" ||
	fail "bench over https: $rv $(cat "$T/out" "$T/err")"
P=https://127.0.0.1:$(sport require)
rc --endpoints "$P" --cacert "$C/ca.pem" --cert "$C/admin.pem" --key "$C/admin-key.pem" bench -c 3 -n 30 --op delete
[ "$rv" = 0 ] && grep -q "^delete: 30 ok, 0 failed" "$T/out" || fail "bench, client certificate: $rv $(cat "$T/out" "$T/err")"
echo "ok: bench over https://, with a client certificate"

# --- the environment, and flags over it -------------------------------------
export RAFTCTL_CACERT="$C/ca.pem"
rc --endpoints "$GOOD" get whoami
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = none ] || fail "RAFTCTL_CACERT: $rv $(cat "$T/out" "$T/err")"
export RAFTCTL_CACERT="$C/other-ca.pem"
rc --endpoints "$GOOD" --cacert "$C/ca.pem" get whoami
[ "$rv" = 0 ] || fail "--cacert over RAFTCTL_CACERT: $rv $(cat "$T/out" "$T/err")"
fails_with "unknown authority \(not by a CA of $C/other-ca.pem\)$" --endpoints "$GOOD" get whoami
export RAFTCTL_CACERT="$C/ca.pem" RAFTCTL_CERT="$C/reader.pem" RAFTCTL_KEY="$C/reader-key.pem" RAFTCTL_ENDPOINTS="$GOOD"
rc get whoami
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = reader ] || fail "RAFTCTL_CERT/KEY: $rv $(cat "$T/out" "$T/err")"
rc --cert "$C/writer.pem" --key "$C/writer-key.pem" get whoami
[ "$rv" = 0 ] && [ "$(cat "$T/out")" = writer ] || fail "--cert/--key over RAFTCTL_CERT/KEY: $rv $(cat "$T/out" "$T/err")"
unset RAFTCTL_CACERT RAFTCTL_CERT RAFTCTL_KEY RAFTCTL_ENDPOINTS
echo "ok: RAFTCTL_CACERT, RAFTCTL_CERT, RAFTCTL_KEY, and flags over them"
