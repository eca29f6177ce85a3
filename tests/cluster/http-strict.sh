#!/bin/sh
# Badly framed requests (the shapes request smuggling starts from) are
# refused with 400 (411 for chunked bodies) before any body is read, and
# the connection closed, never left waiting for the idle timeout.
. "${srcdir:-.}/tests/cluster/lib.sh"

# the idle timeout far above hostile.py's deadline: a hang fails the test
node_start 1 -connection-timeout 300
P=$(port 1)
put_leader first 1 || fail "first write"
python3 "${srcdir:-.}/tests/cluster/hostile.py" strict "$P" || fail "badly framed requests"
[ "$(put "$P" after 2)" = 200 ] || fail "a write after the bad requests"
echo "ok"
