#!/bin/sh
# raftctl logs: raftd's journal entries (as src/raftd/log.c sends them: MESSAGE,
# PRIORITY, RAFT_NODE/TERM/ROLE/LEADER, SYSLOG_IDENTIFIER=raftd, MESSAGE_ID
# and RAFT_INDEX/RAFT_PEER) of two nodes, in two journal files made with
# systemd-journal-remote, read back as one timeline: order across files,
# --event by name and group, NODE, --since/--until, -n, --all, -o json, and
# the usage errors. Skips (77) without systemd-journal-remote.
set -u
RAFTCTL=${RAFTCTL:-${top_builddir:-.}/src/raftctl/raftctl}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
REMOTE=$(command -v systemd-journal-remote || ls /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote 2>/dev/null | head -n 1)
[ -n "$REMOTE" ] || { echo "SKIP: systemd-journal-remote not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/raftctl-logs.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
rc() { "$RAFTCTL" "$@"; }

# node ENTRIES...: export format for one node; each entry is
# "SECONDS|ID-NAME|PRIORITY|TERM|ROLE|LEADER|MESSAGE|EXTRA" (ID "" = none)
python3 - "$T" "$top_srcdir/base/journal.h" <<'EOF' || fail "making the export files"
import re, sys
d = sys.argv[1]
base = 1764700000  # 2025-12-02 18:26:40 UTC
# the MESSAGE_IDs as raftd sends them
ID = dict(re.findall(r'^#define LOG_ID_([A-Z_]+) +"([0-9a-f]{32})"$', open(sys.argv[2]).read(), re.M))
def export(path, node, entries):
    with open(path, "w") as f:
        for i, (t, idn, prio, term, role, leader, msg, extra) in enumerate(entries):
            f.write("__REALTIME_TIMESTAMP=%d\n" % ((base + t) * 1000000))
            f.write("__MONOTONIC_TIMESTAMP=%d\n" % ((t + 1) * 1000000))
            f.write("_BOOT_ID=0123456789abcdef0123456789abcdef\n")
            f.write("MESSAGE=%s\nPRIORITY=%d\nRAFT_NODE=%s\nRAFT_TERM=%d\nRAFT_ROLE=%s\nRAFT_LEADER=%s\n"
                    "SYSLOG_IDENTIFIER=raftd\n" % (msg, prio, node, term, role, leader))
            if idn:
                f.write("MESSAGE_ID=%s\n" % ID[idn])
            for x in extra:
                f.write(x + "\n")
            f.write("\n")
export(d + "/n1.export", "n1", [
    (0, "WAL_RECOVERED", 6, 0, "follower", "", "wal recovered: 0 segments", ["RAFT_INDEX=0"]),
    (1, "STARTED", 6, 0, "follower", "", "listening on port 4001 as n1", []),
    (2, "LEADER_ELECTED", 5, 0, "leader", "n1", "became leader (term 0)", []),
    (4, "MEMBER_JOINED", 6, 0, "leader", "n1", "member n2 (http://h2:4001) joined at index 3", ["RAFT_INDEX=3", "RAFT_PEER=n2"]),
    (5, "", 6, 0, "leader", "n1", "a message that is no event", []),
    (10, "SNAPSHOT_TAKEN", 6, 0, "leader", "n1", "snapshot taken at index 100", ["RAFT_INDEX=100"]),
    (20, "STOPPING", 6, 0, "leader", "n1", "Terminated: stopping", []),
])
export(d + "/n2.export", "n2", [
    (3, "STARTED", 6, 0, "follower", "", "listening on port 4001 as n2", []),
    (21, "PEER_UNREACHABLE", 4, 0, "follower", "n1", "peer n1 (http://h1:4001) unreachable: Connection refused", ["RAFT_PEER=n1"]),
    (22, "TERM_CHANGED", 6, 1, "candidate", "", "term 1: candidate, leader ''", []),
    (23, "LEADER_ELECTED", 5, 1, "leader", "n2", "became leader (term 1)", []),
    (24, "MEMBER_LEFT", 6, 1, "leader", "n2", "member n1 left at index 120", ["RAFT_INDEX=120"]),
])
# the security events (issue 18), a journal of their own
export(d + "/n3.export", "n3", [
    (30, "NO_TLS", 4, 0, "follower", "", "serving clients on 0.0.0.0:4001 without TLS or authentication: ...", []),
    (31, "PEER_REFUSED", 4, 2, "leader", "n3", "peer request refused for n1: certificate of n2 speaks for member n1",
     ["RAFT_PEER=n1", "RAFT_REASON=certificate of n2 speaks for member n1"]),
])
EOF
for n in n1 n2 n3; do
	"$REMOTE" -o "$T/$n.journal" - <"$T/$n.export" >/dev/null 2>&1 || fail "systemd-journal-remote $n"
done
F="--file $T/n1.journal --file $T/n2.journal"

# shellcheck disable=SC2086
TZ=UTC rc logs $F >"$T/out" 2>"$T/err" || fail "logs: $(cat "$T/err")"
[ "$(wc -l <"$T/out")" = 11 ] || fail "11 events expected: $(cat "$T/out")"
[ "$(awk '{print $2 ":" $3}' "$T/out" | tr '\n' ' ')" = "n1:wal-recovered n1:started n1:leader-elected n2:started n1:member-joined n1:snapshot-taken n1:stopping n2:peer-unreachable n2:term-changed n2:leader-elected n2:member-left " ] ||
	fail "timeline order: $(cat "$T/out")"
head -n 3 "$T/out" | tail -n 1 | grep -q '^2025-12-02T18:26:42.000+0000  n1        leader-elected      term 0     became leader (term 0)$' ||
	fail "line format: $(sed -n 3p "$T/out")"
echo "ok: two nodes' journals as one timeline"

# shellcheck disable=SC2086
rc logs $F --event election >"$T/out" || fail "--event election"
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "leader-elected term-changed leader-elected " ] || fail "election: $(cat "$T/out")"
# shellcheck disable=SC2086
rc logs $F --event membership,snapshot-taken >"$T/out" || fail "--event list"
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "member-joined snapshot-taken member-left " ] || fail "membership: $(cat "$T/out")"
# shellcheck disable=SC2086
rc logs $F --event elected n2 >"$T/out" || fail "--event elected NODE"
[ "$(awk '{print $2 $3}' "$T/out")" = "n2leader-elected" ] || fail "NODE filter: $(cat "$T/out")"
# shellcheck disable=SC2086
rc logs $F --since @1764700010 --until @1764700022 >"$T/out" || fail "--since/--until"
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "snapshot-taken stopping peer-unreachable term-changed " ] ||
	fail "since/until: $(cat "$T/out")"
# shellcheck disable=SC2086
TZ=UTC rc logs $F --since "2025-12-02 18:27:00" >"$T/out" || fail "--since date"
[ "$(wc -l <"$T/out")" = 5 ] || fail "since date: $(cat "$T/out")"
# shellcheck disable=SC2086
rc logs $F -n 2 >"$T/out" || fail "-n 2"
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "leader-elected member-left " ] || fail "-n: $(cat "$T/out")"
# shellcheck disable=SC2086
rc logs $F --all n1 >"$T/out" || fail "--all"
[ "$(wc -l <"$T/out")" = 7 ] && grep -q "  message  .*a message that is no event" "$T/out" || fail "--all: $(cat "$T/out")"
echo "ok: --event (name, group, list, last word), NODE, --since/--until, -n, --all"

# shellcheck disable=SC2086
rc -o json logs $F --event member-joined >"$T/out" || fail "json"
python3 - "$T/out" <<'EOF' || fail "json: $(cat "$T/out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d["node"] == "n1" and d["event"] == "member-joined" and d["index"] == 3 and d["peer"] == "n2", d
assert d["term"] == 0 and d["role"] == "leader" and d["leader"] == "n1" and d["priority"] == 6, d
assert d["realtime_usec"] == 1764700004000000, d
EOF
# --follow: the last events, then it waits for more (until killed)
# shellcheck disable=SC2086
timeout 1 "$RAFTCTL" logs $F --follow -n 3 >"$T/out" 2>"$T/err"
[ $? = 124 ] || fail "--follow returned before it was stopped: $(cat "$T/err")"
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "term-changed leader-elected member-left " ] || fail "--follow: $(cat "$T/out")"
rc logs --directory "$T" --event stopping >"$T/out" || fail "--directory"
grep -q "n1 .* stopping " "$T/out" || fail "--directory: $(cat "$T/out")"
echo "ok: -o json (one object a line), --directory, --follow"

# the security events: by name, by their group, by the last word
rc logs --file "$T/n3.journal" >"$T/out" || fail "security events"
[ "$(awk '{print $2 ":" $3}' "$T/out" | tr '\n' ' ')" = "n3:no-tls n3:peer-refused " ] ||
	fail "security events named: $(cat "$T/out")"
rc logs --file "$T/n3.journal" --event security >"$T/out" || fail "--event security"
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "no-tls peer-refused " ] || fail "security group: $(cat "$T/out")"
rc -o json logs --directory "$T" --event refused >"$T/out" || fail "--event refused"
python3 - "$T/out" <<'EOF' || fail "peer-refused json: $(cat "$T/out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d["node"] == "n3" and d["event"] == "peer-refused" and d["peer"] == "n1" and d["term"] == 2, d
EOF
echo "ok: no-tls and peer-refused (the security group)"

rc logs --event frob >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "unknown event type 'frob'" "$T/err" || fail "bad --event: $(cat "$T/err")"
rc logs --since yesterdayish >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "bad time" "$T/err" || fail "bad --since"
rc logs --all --event elected >/dev/null 2>&1
[ $? = 2 ] || fail "--all with --event"
rc logs a b >/dev/null 2>&1
[ $? = 2 ] || fail "two nodes"
rc logs --file "$T/none.journal" >/dev/null 2>"$T/err"
[ $? = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "cannot open the journal" "$T/err" || fail "missing file: $(cat "$T/err")"
rc logs --help | grep -q "^usage: raftctl logs" || fail "--help"
# No journal, or one without raftd's entries, is said (exit 1, one line),
# not shown as an empty timeline; filters that match nothing are no error.
mkdir "$T/empty"
rc logs --directory "$T/empty" >"$T/out" 2>"$T/err"
[ $? = 1 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "no journal files in $T/empty" "$T/err" ||
	fail "empty journal directory: $(cat "$T/out" "$T/err")"
printf '__REALTIME_TIMESTAMP=1764700000000000\n__MONOTONIC_TIMESTAMP=1000000\n_BOOT_ID=0123456789abcdef0123456789abcdef\nMESSAGE=hello\nSYSLOG_IDENTIFIER=other\n\n' >"$T/other.export"
"$REMOTE" -o "$T/other.journal" - <"$T/other.export" >/dev/null 2>&1 || fail "systemd-journal-remote other"
rc logs --file "$T/other.journal" >"$T/out" 2>"$T/err"
[ $? = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "holds no entries of raftd" "$T/err" ||
	fail "journal without raftd: $(cat "$T/out" "$T/err")"
# shellcheck disable=SC2086
rc logs $F --since @1864700000 >"$T/out" 2>"$T/err" || fail "no event since: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "no event since: $(cat "$T/out")"
# this machine's journal: events (exit 0), or one line saying why none (exit 1)
rc logs -n 5 >/dev/null 2>"$T/err"
r=$?
[ $r = 0 ] || { [ $r = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "no journal on this machine\|holds no entries of raftd" "$T/err"; } ||
	fail "the local journal: exit $r: $(cat "$T/err")"
echo "ok: usage errors, a missing journal file, no journal, no raftd entries"
