#!/bin/sh
# tests/cluster/v3-kv.sh again with mutual TLS (lib.sh's RAFTD_TLS=1): the
# gRPC port serves TLS with the client port's certificates, client
# certificates are required and [roles] apply to each call (a reader may
# Range, not Put); followers forward writes to the leader over https://
# with their member certificates.
command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }
RAFTD_TLS=1 exec sh "$(dirname "$0")/v3-kv.sh"
