#!/bin/sh
# seed.sh KIND WIRE_DIR OUT_DIR — the starting corpus for one fuzz target:
# the captured goraft bodies of that message kind, plus a few handmade ones
# for the kinds the capture does not contain.
set -eu
kind=$1 wire=$2 out=$3
mkdir -p "$out"
copy() { for f in "$@"; do [ -f "$f" ] && cp "$f" "$out/" || true; done; }
# le N VALUE: VALUE as N little-endian bytes
le() { v=$2; i=0; while [ $i -lt $1 ]; do printf "\\$(printf %03o $((v & 255)))"; v=$((v >> 8)); i=$((i + 1)); done; }
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
command_fast)
	printf '{"key":"k","value":"v"}\n' > "$out/write"
	printf '{"name":"7c55909","connectionString":"http://localhost:14002"}\n' > "$out/join"
	printf '{"KEY":"a\\u00e9\\ud83d\\ude00\\n","Value":"caf\303\251","other":"x"}' > "$out/escapes" ;;
kv_snapshot)
	# The target repairs CRCs itself, so a tiny valid-looking start is enough.
	printf 'RAFTDKVS' > "$out/magic"
	# index 5 term 2, two members, one record, the trailer (CRCs zero)
	m() { le 4 7; printf "$1"; le 4 22; printf "$2"; }
	{ printf 'RAFTDKVS'; le 4 1; le 4 0; le 8 5; le 8 2; le 4 2; le 4 74
	  m 7c55909 http://localhost:14001; m 6edf0e8 http://localhost:14002; le 4 0
	  le 4 1; le 4 10; le 4 1; le 4 1; printf 'ab'; le 4 0
	  le 4 0; le 4 24; head -c 24 /dev/zero; le 4 0; } > "$out/two-members"
	# version 2: revision 4, no compaction, no member; key a put twice, key
	# b put and deleted (a tombstone), the trailer (CRCs and sums zero)
	r() { le 4 1; le 4 ${#2}; printf "$1$2"; le 8 $3; le 8 $4; le 8 $5; le 8 0; le 4 0; }
	{ printf 'RAFTDKVS'; le 4 2; le 4 0; le 8 5; le 8 2; le 4 0; le 4 0; le 8 4
	  printf '\377\377\377\377\377\377\377\377'; le 4 0
	  le 4 4; le 4 183; r a 1 2 2 1; r a 2 3 2 2; r b x 2 2 1; r b '' 4 0 0; le 4 0
	  le 4 0; le 4 40; head -c 40 /dev/zero; le 4 0; } > "$out/history"
	# version 3: the same with leases 2 (TTL 60) and 5 (TTL 9); key a's
	# newest version has lease 2, b's first one lease 5
	r3() { le 4 1; le 4 ${#2}; printf "$1$2"; le 8 $3; le 8 $4; le 8 $5; le 8 $6; le 4 0; }
	{ printf 'RAFTDKVS'; le 4 3; le 4 0; le 8 5; le 8 2; le 4 0; le 4 0; le 8 4
	  printf '\377\377\377\377\377\377\377\377'; le 8 2; le 4 0
	  le 4 2; le 4 32; le 8 2; le 8 60; le 8 5; le 8 9; le 4 0
	  le 4 4; le 4 183; r3 a 1 2 2 1 0; r3 a 2 3 2 2 2; r3 b x 2 2 1 5; r3 b '' 4 0 0 0; le 4 0
	  le 4 0; le 4 40; head -c 40 /dev/zero; le 4 0; } > "$out/leases" ;;
http_response)
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Type: application/octet-stream\r\n\r\n\010\000\020\003\030\003\040\001' > "$out/go-200"
	printf 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 1\r\n\r\n\n' > "$out/go-400"
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n0\r\nTrailer: t\r\n\r\n' > "$out/chunked"
	printf 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nFailed creating response.\n' > "$out/close" ;;
raft_rpc)
	# byte 0: start (0 follower, 1 candidate, 2 leader, 3 leader of goraft
	# peers, +16 snapshots, +128 restored snapshot), byte 1: log shape, then
	# operations (see fuzz_raft_rpc.c); bodies are the captures.
	for f in "$wire"/ae-*.req "$wire"/crafted-ae-*.req; do
		b=$(basename "$f" .req)
		{ printf '\000\000\000'; le 2 $(wc -c < "$f"); cat "$f"; printf '\006\003\005\377'; } > "$out/follower-$b"
		{ printf '\220\005\000'; le 2 $(wc -c < "$f"); cat "$f"; printf '\006\007'; } > "$out/snap-follower-$b"
	done
	for f in "$wire"/ae-*.resp "$wire"/crafted-ae-*.resp; do
		b=$(basename "$f" .resp)
		{ printf '\002\000\006\003\005\100\003\000'; le 2 $(wc -c < "$f"); cat "$f"; printf '\006\007'; } \
			> "$out/leader-$b"
		{ printf '\003\000\005\100\003\000'; le 2 $(wc -c < "$f"); cat "$f"; printf '\007\000\001\006\003'; } \
			> "$out/goraft-leader-$b"
	done
	for f in "$wire"/rv-*.req "$wire"/crafted-rv-*.req; do
		b=$(basename "$f" .req)
		{ printf '\000\000\010'; le 2 $(wc -c < "$f"); cat "$f"; printf '\006\001'; } > "$out/follower-$b"
		{ printf '\014\000\040'; le 2 $(wc -c < "$f"); cat "$f"; } > "$out/prevote-$b"
		{ printf '\002\000\050'; le 2 $(wc -c < "$f"); cat "$f"; } > "$out/timeoutnow-$b"
	done
	for f in "$wire"/rv-*.resp "$wire"/crafted-rv-*.resp; do
		b=$(basename "$f" .resp)
		{ printf '\001\000\003\000'; le 2 $(wc -c < "$f"); cat "$f"; printf '\006\003'; } > "$out/candidate-$b"
	done
	if [ -f "$wire/crafted-snap.req" ]; then
		{ printf '\000\000\020'; le 2 $(wc -c < "$wire/crafted-snap.req"); cat "$wire/crafted-snap.req"; } \
			> "$out/follower-snap"
	fi
	rec='\n\0076ab076d\020\010\030\001\042\037\n\0076ab076d\022\024http://localhost:1400\052\002{}'
	{ printf '\000\000\030\061\000'; printf "$rec"; printf '\006\007'; } > "$out/follower-snaprec"
	# a leader's clients: write, join, leave, read, transfer, then the disk
	printf '\022\000\007\000\001\007\002\004\007\003\002\007\004\000\007\005\001\006\007\005\200' \
		> "$out/leader-clients"
	# a peer has the new leader's nop (term 1, index 4): it commits
	printf '\002\000\006\003\003\000\010\000\010\001\020\004\030\000\040\001\006\007\007\000\001\006\003' \
		> "$out/leader-commit" ;;
command)
	# entries: a byte (bit 0: a whole LogEntry; else CommandName number
	# in bits 1-3, bit 7: no payload), a length, the bytes
	{ printf '\000\034{"key":"after","value":"x"}\n'
	  printf '\002\077{"name":"7c55909","connectionString":"http://localhost:14002"}\n'
	  printf '\004\023{"name":"7c55909"}\n'
	  printf '\006\020{"key":"after"}\n'
	  printf '\210\000'
	  printf '\001\051\010\010\020\001\032\005write\042\034{"key":"after","value":"x"}\n'
	  printf '\001\016\010\007\020\001\032\010raft:nop'; } > "$out/entries"
	printf '\000\050{"KEY":"a\\u00e9\\ud800","Value":"\\u003c"}' > "$out/escapes" ;;
http_request)
	h='POST /db/k HTTP/1.1\r\nHost: x\r\n'
	printf "${h}Content-Length: 2\r\n\r\n" > "$out/plain"
	printf "${h}Content-Length: 1\r\nContent-Length: 2\r\n\r\n" > "$out/two-lengths"
	printf "${h}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" > "$out/te-and-cl"
	printf "${h}Transfer-Encoding: chunked\n\n2\nxy\n0\n\n" > "$out/bare-lf-chunks"
	printf "${h}transfer-encoding: gzip, chunked\r\n\r\n" > "$out/te-gzip"
	printf "${h}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" > "$out/two-te"
	printf "${h}content-length: +2\r\n\r\n" > "$out/length-sign"
	printf "${h}Content-Length: 2, 2\r\n\r\n" > "$out/length-list" ;;
client_api)
	printf '\000foo' > "$out/db-key"
	printf '\000a/b' > "$out/db-slash"
	{ printf '\001'; printf '{"name":"7c55909","connectionString":"http://localhost:14002"}\n'; } > "$out/join"
	printf '\001{"name":"x","connectionString":"http://[::1]:4001"}' > "$out/join-v6"
	printf '\002{"name":"7c55909"}\n' > "$out/leave"
	printf '\003{"to":"6edf0e8"}' > "$out/transfer"
	printf '\003 \r\n' > "$out/transfer-any" ;;
url)
	# byte 0: flags (0 strict, 1 URL_SLASH, 2 URL_SHORT, 3 both), the text
	printf '\000http://localhost:14002' > "$out/strict"
	printf '\000http://[::1]:4001' > "$out/v6"
	printf '\001http://10.0.0.1:65535/' > "$out/slash"
	printf '\003:4003' > "$out/short-port"
	printf '\003[fe80::1%%eth0]' > "$out/short-v6"
	printf '\002sp ace&%%41/k' > "$out/escape"
	printf '\000http://h:\r\n2' > "$out/blanks" ;;
wal_recover)
	# byte 0: flags (see fuzz_wal_recover.c; 2 = repair CRCs), first
	# indexes, [meta slots], segment 1's length and records, [segment 2]
	nop='\010\001\020\001\032\010raft:nop\000\000'
	r() { # index term: one 16-byte-payload record of batch block 1
		printf '\000\000\000\000'; le 4 14; le 8 $1; le 8 $2; le 4 1; le 4 0; printf "$nop"; }
	pad() { # a padding record filling the block after $1 bytes of records
		printf '\000\000\000\000'; le 4 $((4096 - $1 - 32)); le 8 0; le 8 0; le 4 1; le 4 0; }
	{ printf '\002\000\000'; le 2 176; r 1 1; r 2 1; r 3 2; pad 144; } > "$out/three"
	{ printf '\003\000\000'; le 2 176; r 1 1; r 2 1; r 3 2; pad 144; } > "$out/three-readonly"
	{ printf '\006\000\002'; le 2 128; r 1 1; r 2 1; pad 96; r 3 2; r 4 3; pad 96; } > "$out/truncated"
	# meta slots: crc, vote length, seq (even in slot 0, odd in slot 1), term
	{ printf '\012\000\000'; printf '\000\000\000\000\007\000\000\000'; le 8 2; le 8 4
	  printf 'RAFTMETA6edf0e8\000'; printf '\000\000\000\000\000\000\000\000'; le 8 3; le 8 5
	  printf 'RAFTMETA\000\000\000\000\000\000\000\000'; le 2 128; r 1 1; r 2 1; pad 96; } > "$out/meta"
	{ printf '\002\004\000'; le 2 100; r 5 1; r 6 1; printf '\000\000\000\000\300\000\000\000'; } > "$out/torn"
	{ printf '\000\000\000'; le 2 48; r 1 1; } > "$out/bad-crc"
	# a bad record (reserved field set) with a later batch after it: corruption
	{ printf '\002\000\000'; le 2 4176; r 1 1
	  printf '\000\000\000\000'; le 4 14; le 8 2; le 8 1; le 4 1; le 4 1; printf "$nop"; pad 96
	  head -c 3968 /dev/zero
	  printf '\000\000\000\000'; le 4 14; le 8 3; le 8 1; le 4 2; le 4 0; printf "$nop"; pad 48; } \
		> "$out/later-batch" ;;
mvcc)
	# byte 0: mode (0 operations, 1 restore); see fuzz_mvcc.c
	# puts of a, ab, b, a txn comparing a's version, a delete range, a compaction
	printf '\000\001\000\003\011\000\005\022\000\010\033\010\123\000\003\001\000\004\003\005\001\005\021\000\001\000\013\007\003' > "$out/ops"
	printf '\000\000\020\003\001\004\040\003\002\000\001\006\001\000\007\002' > "$out/ops-failing-alloc"
	# grant lease 1, put a with it, revoke it; grant 2, put b with it, a
	# revoke whose second allocation fails, then the revoke again
	printf '\000\000\017\013\000\200\003\011\001\017\001\017\014\000\200\010\001\002\017\026\001\017\002' > "$out/leases"
	# revision 9, compacted 3: a@2 (create 2, version 1), a@5 v2, tombstone a@6
	printf '\001\011\003\003\001\002\000\002\001\003\002\005\000\002\002\003\200\006\000\000\000' > "$out/restore" ;;
grpc)
	# HTTP/2 as a gRPC client writes it: the preface, SETTINGS, then per
	# call HEADERS (HPACK literals without indexing) and DATA with one gRPC
	# message; be N VALUE: VALUE as N big-endian bytes.
	be() { i=$1; while [ $i -gt 0 ]; do i=$((i - 1)); printf "\\$(printf %03o $((($2 >> (8 * i)) & 255)))"; done; }
	# frame TYPE FLAGS STREAM PAYLOAD-FILE
	frame() { be 3 $(wc -c < "$4"); be 1 $1; be 1 $2; be 4 $3; cat "$4"; }
	lit() { printf '\000'; be 1 ${#1}; printf '%s' "$1"; be 1 ${#2}; printf '%s' "$2"; }
	t=$(mktemp -d)
	heads() { { lit :method POST; lit :scheme http; lit :path "$1"; lit :authority localhost
		    lit content-type application/grpc; lit te trailers; [ -z "${2:-}" ] || lit grpc-timeout "$2"; } > "$t/h"; }
	msg() { { printf '\000'; be 4 ${#1}; printf '%s' "$1"; } > "$t/d"; }
	: > "$t/empty"
	preface() { printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'; frame 4 0 0 "$t/empty"; }
	heads /a.B/Echo; msg hello
	{ preface; frame 1 4 1 "$t/h"; frame 0 1 1 "$t/d"; } > "$out/echo"
	{ preface; frame 1 4 1 "$t/h"; frame 0 1 1 "$t/d"; frame 1 4 3 "$t/h"; frame 0 1 3 "$t/d"; } > "$out/two"
	{ preface; frame 1 4 1 "$t/h"; frame 0 0 1 "$t/d"; printf '\000\000\004\003\000\000\000\000\001\000\000\000\010'; } > "$out/rst"
	heads /a.B/Stream; msg ab
	{ preface; frame 1 4 1 "$t/h"; frame 0 0 1 "$t/d"; frame 0 1 1 "$t/d"; } > "$out/stream"
	heads /a.B/Hold 1m; msg x
	{ preface; frame 1 4 1 "$t/h"; frame 0 1 1 "$t/d"; } > "$out/hold"
	heads /x.Y/Unknown; { preface; frame 1 5 1 "$t/h"; } > "$out/unknown"
	printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' > "$out/http1"
	rm -rf "$t" ;;
etcd_*)
	# etcd v3 requests as a client packs them; etcd_entry: each with its
	# kind byte in front. hex B...: the bytes.
	hex() { for b in "$@"; do printf "\\$(printf %03o $((0x$b)))"; done; }
	d=$(mktemp -d)
	mkdir -p "$d/P" "$d/D" "$d/R" "$d/C" "$d/T" "$d/G" "$d/X"
	# grants: TTL 60 ID 0x1234; ID 7 (the store's one lease); a TTL past
	# etcd's maximum; ID 0 with a negative TTL. Revokes: ID 7, ID 9.
	hex 08 3c 10 b4 24 > "$d/G/grant"
	hex 08 0a 10 07 > "$d/G/grant-exists"
	hex 08 81 b4 c4 c3 21 10 05 > "$d/G/grant-ttl-too-large"
	hex 08 fb ff ff ff ff ff ff ff ff 01 > "$d/G/grant-id-0"
	hex 08 07 > "$d/X/revoke"
	hex 08 09 > "$d/X/revoke-unknown"
	hex 0a 03 66 6f 6f 12 03 62 61 72 > "$d/P/put"
	hex 0a 01 61 12 01 62 18 07 20 01 28 01 30 01 > "$d/P/put-flags"
	hex 0a 01 61 12 01 62 18 01 > "$d/D/delete-range"
	hex 0a 01 61 12 01 00 > "$d/D/delete-from-key"
	hex 0a 01 61 12 01 00 18 02 20 05 28 02 30 03 38 01 40 01 48 01 50 01 58 09 60 01 68 09 > "$d/R/range-all"
	hex 0a 01 61 28 07 > "$d/R/range-bad-sort"
	hex 08 03 10 01 > "$d/C/compact"
	# compare value a == "v" over [a, b); success: put a=x, delete c, a
	# nested txn putting a; failure: a range from a
	hex 0a 0e 08 00 10 03 1a 01 61 3a 01 76 82 04 01 62 \
	    12 08 12 06 0a 01 61 12 01 78 12 07 1a 05 0a 01 63 18 01 \
	    12 0c 22 0a 12 08 12 06 0a 01 61 12 01 78 \
	    1a 08 0a 06 0a 01 61 12 01 00 > "$d/T/txn"
	# every target: version > 0, create < 9, mod != 1, lease == 0
	hex 0a 09 08 01 10 00 1a 01 61 20 00 0a 09 08 02 10 01 1a 01 61 28 09 \
	    0a 09 08 03 10 02 1a 01 61 30 01 0a 09 08 00 10 04 1a 01 61 40 00 > "$d/T/txn-targets"
	hex 0a 07 08 09 10 09 1a 01 61 > "$d/T/txn-unknown-enums"
	case $kind in
	etcd_put) mv "$d"/P/* "$out/" ;;
	etcd_delete) mv "$d"/D/* "$out/" ;;
	etcd_range) mv "$d"/R/* "$out/" ;;
	etcd_compact) mv "$d"/C/* "$out/" ;;
	etcd_txn) mv "$d"/T/* "$out/" ;;
	etcd_lease) # byte 0: odd a grant, even a revoke
		for f in "$d"/G/*; do { printf '\001'; cat "$f"; } > "$out/$(basename "$f")"; done
		for f in "$d"/X/*; do { printf '\000'; cat "$f"; } > "$out/$(basename "$f")"; done ;;
	etcd_watch)
		hex 0a 07 0a 01 61 12 02 61 62 > "$out/create-range"
		hex 0a 0f 0a 01 61 12 01 00 18 02 20 01 28 01 30 01 40 01 > "$out/create-all"
		hex 0a 0a 0a 01 61 2a 02 00 01 38 07 > "$out/create-filters-id"
		hex 0a 02 18 01 > "$out/create-empty-key"
		hex 12 02 08 03 > "$out/cancel"
		hex 1a 00 > "$out/progress" ;;
	etcd_entry)
		for k in P D C T R G X; do
			for f in "$d/$k"/*; do { printf %s "$k"; cat "$f"; } > "$out/$k-$(basename "$f")"; done
		done ;;
	esac
	rm -rf "$d" ;;
*) echo "seed.sh: unknown kind $kind" >&2; exit 2 ;;
esac
