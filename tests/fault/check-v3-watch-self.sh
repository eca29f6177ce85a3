#!/bin/sh
# make check (issue 20): the checks of run.sh --watch (watch_check.py,
# lease_check.py) on hand-made event and lease files, good and bad: each
# kind of violation must be caught, and a good run must pass
# (tests/fault/watch_selftest.py; no cluster).
for p in python3 /usr/bin/python3; do
	"$p" -c 'import sys' 2>/dev/null && exec "$p" "$(dirname "$0")/watch_selftest.py"
done
echo "SKIP: no python3"
exit 77
