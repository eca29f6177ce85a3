#!/bin/sh
# tests/cluster/v3-lease.sh again with mutual TLS (lib.sh's RAFTD_TLS=1):
# clients present the admin's certificate, and followers forward grants,
# revokes, keep-alives and TimeToLive to the leader over https:// with their
# member certificates (the peer paths /raftd/propose and /raftd/lease/).
command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }
RAFTD_TLS=1 exec sh "$(dirname "$0")/v3-lease.sh"
