#!/bin/sh
# seed.sh KIND WIRE_DIR OUT_DIR — the starting corpus for one fuzz target:
# the captured goraft bodies of that message kind, plus a few handmade ones
# for the kinds the capture does not contain.
set -eu
kind=$1 wire=$2 out=$3
mkdir -p "$out"
copy() { for f in "$@"; do [ -f "$f" ] && cp "$f" "$out/" || true; done; }
case $kind in
ae_req) copy "$wire"/ae-*.req "$wire"/crafted-ae-*.req "$wire"/crafted-bad.req ;;
ae_resp) copy "$wire"/ae-*.resp "$wire"/crafted-ae-*.resp ;;
rv_req) copy "$wire"/rv-*.req "$wire"/crafted-rv-*.req ;;
rv_resp) copy "$wire"/rv-*.resp "$wire"/crafted-rv-*.resp ;;
snap_req) copy "$wire"/crafted-snap.req; printf '\n\0076ab076d\020\010\030\001' > "$out/snap-req" ;;
snap_resp) printf '\010\001' > "$out/snap-resp" ;;
snaprec_req)
	printf '\n\0076ab076d\020\010\030\001\042\037\n\0076ab076d\022\024http://localhost:1400\052\002{}' \
		> "$out/snaprec-req" ;;
snaprec_resp) printf '\010\001\020\001\030\010' > "$out/snaprec-resp" ;;
log_entry)
	printf '\010\007\020\001\032\010raft:nop' > "$out/nop"
	printf '\010\010\020\001\032\005write\042\034{"key":"after","value":"x"}\n' > "$out/write" ;;
command)
	printf '{"key":"k","value":"v"}\n' > "$out/write"
	printf '{"name":"7c55909","connectionString":"http://localhost:14002"}\n' > "$out/join"
	printf '{"KEY":"a\\u00e9\\ud83d\\ude00\\n","Value":"caf\303\251","other":"x"}' > "$out/escapes" ;;
kv_snapshot)
	# The target repairs CRCs itself, so a tiny valid-looking start is enough.
	printf 'RAFTDKVS' > "$out/magic" ;;
http_response)
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Type: application/octet-stream\r\n\r\n\010\000\020\003\030\003\040\001' > "$out/go-200"
	printf 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 1\r\n\r\n\n' > "$out/go-400"
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n0\r\nTrailer: t\r\n\r\n' > "$out/chunked"
	printf 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nFailed creating response.\n' > "$out/close" ;;
*) echo "seed.sh: unknown kind $kind" >&2; exit 2 ;;
esac
