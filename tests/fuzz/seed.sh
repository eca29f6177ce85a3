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
*) echo "seed.sh: unknown kind $kind" >&2; exit 2 ;;
esac
