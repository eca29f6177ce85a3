#!/bin/sh
# tests/raftctl/v3.sh again with mutual TLS (lib.sh's RAFTD_TLS=1): raftctl's
# v3 commands speak gRPC over TLS with ALPN h2, verify the node's
# certificate and present the admin's.
command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }
RAFTD_TLS=1 exec sh "$(dirname "$0")/v3.sh"
