#!/bin/sh
# raftctl without a cluster: --help for every command, usage errors (exit 2,
# one line naming the command), and an unreachable endpoint (exit 1, one
# line) for every online command.
set -u
RAFTCTL=${RAFTCTL:-${top_builddir:-.}/src/raftctl/raftctl}
T=$(mktemp -d "${TMPDIR:-/tmp}/raftctl-usage.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() {
	want=$1
	shift
	"$RAFTCTL" "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || fail "raftctl $*: exit $got, expected $want: $(cat "$T/out" "$T/err")"
}
one_line() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "one line on stderr expected: $(cat "$T/err")"
	grep -q "$1" "$T/err" || fail "stderr does not say '$1': $(cat "$T/err")"
}

expect 0 --help
for c in status members get put delete watch lease lock elect snapshot leader logs bench check import-goraft wal wire; do
	grep -q "^  $c " "$T/out" || fail "raftctl --help lists $c"
done
expect 2
n=0
for c in status members get put delete watch lease lock elect snapshot leader logs bench check import-goraft wal wire; do
	expect 0 "$c" --help
	head -n 1 "$T/out" | grep -q "^usage: " && grep -q "raftctl $c" "$T/out" || fail "$c --help: $(cat "$T/out")"
	[ -s "$T/err" ] && fail "$c --help wrote to stderr"
	n=$((n + 1))
done
expect 0 members add --help
expect 0 snapshot save --help
expect 0 leader transfer --help
expect 0 check perf --help
echo "ok: --help for $n commands and their subcommands"

expect 2 frob
one_line "unknown command 'frob'"
expect 2 -o yaml status
one_line "unknown output format 'yaml'"
expect 2 --timeout 0 status
one_line "bad --timeout"
expect 2 --endpoints "" status
expect 2 --endpoints "ftp://x:1" status
one_line "bad endpoint 'ftp://x:1'"
expect 2 --endpoints "https://x:1" --cert /c.pem status
one_line "needs --cert and --key"
expect 2 --endpoints "https://x:1" --cacert= status
one_line "needs a file name"
expect 2 status --frob
one_line "raftctl status: unknown option '--frob'"
expect 2 status a b
expect 2 members add x
expect 2 get
expect 2 put k
expect 2 delete
expect 2 snapshot take extra
expect 2 leader transfer --wait x
expect 2 logs --since never
expect 2 bench -n 0
expect 2 bench -r x
expect 2 check perf --duration 1ms
expect 2 import-goraft only
expect 2 watch
expect 2 watch --rev x k
one_line "raftctl watch: bad --rev 'x'"
expect 2 lease
expect 2 lease frob
one_line "unknown subcommand 'frob'"
expect 2 lease grant
expect 2 lease revoke zz
one_line "bad lease ID 'zz'"
expect 2 lease keep-alive
expect 2 lease ttl 1 2
expect 2 put --lease zz k v
one_line "raftctl put: --lease needs a lease ID"
expect 2 lock
expect 2 lock --ttl 0 L -- true
expect 2 elect E
expect 2 elect E p --listen
one_line "raftctl elect: a PROPOSAL or --listen, not both"
echo "ok: usage errors exit 2 with one line"

# nothing listens on port 1
export RAFTCTL_ENDPOINTS=127.0.0.1:1
for cmd in "status" "status n1" "members list" "members add n9 http://127.0.0.1:9" "members remove n9" \
	"get k" "put k v" "delete k" "snapshot take" "snapshot save $T/s" "leader" "leader transfer" \
	"bench -n 1" "check perf --duration 1s" "watch k" "lease grant 5" "lease revoke 1" "lease keep-alive 1" \
	"lease list" "lease ttl 1" "put --lease 1 k v" "lock L -- true" "elect E p" "elect E --listen"; do
	# shellcheck disable=SC2086
	expect 1 $cmd
	one_line "http://127.0.0.1:1: connect: Connection refused"
done
[ -e "$T/s" ] || [ -e "$T/s.tmp" ] && fail "a failed save leaves no file"
echo "ok: an unreachable endpoint: exit 1 with one line, for every online command"

# An IPv6 endpoint: the Host header has the address in brackets (RFC 7230
# §5.4), "[::1]:PORT", never "::1:PORT". A server on ::1 that records it.
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	python3 - "$T/hosts" "$T/port" <<'PY' &
import http.server, socket, sys
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with open(sys.argv[1], "a") as f:
            f.write(self.headers.get("Host", "") + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"v")
    do_GET = do_POST = answer
    def log_message(self, *a):
        pass
s = S(("::1", 0), H)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
__import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
s.timeout = 10
s.handle_request()
PY
	srv=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	p=$(cat "$T/port")
	RAFTCTL_ENDPOINTS="http://[::1]:$p" "$RAFTCTL" --timeout 3s get k >/dev/null 2>&1
	wait "$srv"
	[ "$(head -n 1 "$T/hosts")" = "[::1]:$p" ] || fail "Host header for http://[::1]:$p: '$(head -n 1 "$T/hosts")'"
	echo "ok: an IPv6 endpoint's Host header is [::1]:PORT"
fi
