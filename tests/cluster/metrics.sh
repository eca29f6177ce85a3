#!/bin/sh
# GET /metrics of a live node: promtool check metrics is clean (Debian's
# prometheus package; skipped, with the other checks done, where it is not
# installed); the latency histograms (WAL write+sync, commit, apply, HTTP
# requests by route) are well formed and count what was done; requests are
# counted by route and code, with route labels only from the route table
# (hostile paths and methods add no series); has-leader, leader changes,
# build info and the process metrics are there.
. "$(dirname "$0")/lib.sh"

scrape() { curl -s -m 5 "http://127.0.0.1:$(port "$1")/metrics" > "$T/m$1" || fail "GET /metrics of node $1"; }
# value FILE SERIES: the sample of the exact series (name{labels} as raftd
# writes them), or empty
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }
# a histogram's buckets are cumulative and end in +Inf == _count
hist_ok() { # FILE NAME LABELS
	python3 - "$@" <<'PY' || fail "histogram $2{$3} is malformed"
import re, sys
f, name, labels = sys.argv[1], sys.argv[2], sys.argv[3]
pre = labels + "," if labels else ""
buckets, count = [], None
for line in open(f):
    m = re.match(re.escape(name) + r'_bucket\{' + re.escape(pre) + r'le="([^"]+)"\} (\S+)$', line.strip())
    if m:
        buckets.append((float(m.group(1)), float(m.group(2))))
    m = re.match(re.escape(name) + r'_count' + (r'\{' + re.escape(labels) + r'\}' if labels else '') + r' (\S+)$', line.strip())
    if m:
        count = float(m.group(1))
les = [b[0] for b in buckets]
vals = [b[1] for b in buckets]
ok = buckets and les == sorted(les) and les[-1] == float("inf") and vals == sorted(vals) and vals[-1] == count
sys.exit(0 if ok else 1)
PY
}

node_start 1 -h 127.0.0.1
P=$(port 1)
wait_leader >/dev/null || fail "no leader"
N=20
for i in $(seq $N); do [ "$(put "$P" "k$i" "v$i")" = 200 ] || fail "write k$i"; done
for i in $(seq 5); do [ "$(get "$P" "k$i")" = "v$i" ] || fail "read k$i"; done
# hostile input: paths and methods of its own must not become labels
for i in $(seq 50); do
	curl -s -m 5 -o /dev/null "http://127.0.0.1:$P/hostile$i/x%22y"
	curl -s -m 5 -o /dev/null -X "WEIRD$i" "http://127.0.0.1:$P/db/k1"
done
scrape 1
M=$T/m1

# counts of what was done
c=$(value "$M" 'raftd_http_requests_total{method="POST",route="/db/",code="200"}')
[ "$c" = "$N" ] || fail "POST /db/ 200 counted ${c:-never}, not $N"
c=$(value "$M" 'raftd_http_requests_total{method="GET",route="/db/",code="200"}')
[ "$c" = 5 ] || fail "GET /db/ 200 counted ${c:-never}, not 5"
c=$(value "$M" 'raftd_http_requests_total{method="other",route="other",code="404"}')
[ "$c" = 50 ] || fail "404s counted ${c:-never}, not 50"
grep -q 'hostile\|WEIRD\|x%22y' "$M" && fail "a client's path or method became a label"
series=$(grep -c '^raftd_http_requests_total{' "$M")
[ "$series" -le 6 ] || fail "$series series of raftd_http_requests_total after hostile input"
echo "ok: requests by route and code ($series series; hostile paths and methods are 'other')"
c=$(value "$M" 'raftd_http_request_duration_seconds_count{method="POST",route="/db/"}')
[ "$c" = "$N" ] || fail "POST /db/ duration observed ${c:-never}, not $N times"
hist_ok "$M" raftd_http_request_duration_seconds 'method="POST",route="/db/"'
hist_ok "$M" raftd_http_request_duration_seconds 'method="other",route="other"'
c=$(value "$M" raftd_commit_duration_seconds_count)
[ "$c" = "$N" ] || fail "commit duration observed ${c:-never}, not $N times"
for h in raftd_wal_write_duration_seconds raftd_apply_duration_seconds raftd_commit_duration_seconds; do
	hist_ok "$M" "$h" ""
	c=$(value "$M" "${h}_count")
	[ "${c:-0}" -ge 1 ] || fail "$h counted nothing"
	s=$(value "$M" "${h}_sum")
	python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 0 < v < 60 else 1)" "$s" || fail "${h}_sum is $s"
done
echo "ok: latency histograms (WAL, commit, apply, HTTP) are well formed and count the writes"

[ "$(value "$M" raftd_has_leader)" = 1 ] || fail "raftd_has_leader is not 1"
[ "$(value "$M" raftd_leader_changes_seen_total)" = 1 ] || fail "raftd_leader_changes_seen_total is not 1"
grep -Eq '^raftd_build_info\{version="[^"]+"\} 1$' "$M" || fail "raftd_build_info"
for p in process_cpu_seconds_total process_resident_memory_bytes process_open_fds process_max_fds \
	process_start_time_seconds; do
	grep -Eq "^$p [0-9.e+]+\$" "$M" || fail "$p missing"
done
start=$(value "$M" process_start_time_seconds)
python3 -c "import sys, time; sys.exit(0 if time.time() - 600 < float(sys.argv[1]) <= time.time() + 1 else 1)" "$start" ||
	fail "process_start_time_seconds $start is not the start"
rss=$(value "$M" process_resident_memory_bytes)
[ "$rss" -gt 1000000 ] || fail "process_resident_memory_bytes $rss"
echo "ok: has-leader, leader changes, build info, process metrics"

# a second leader: the change is counted, on the old leader too
node_start 2 -h 127.0.0.1 -join "127.0.0.1:$P"
node_start 3 -h 127.0.0.1 -join "127.0.0.1:$P"
for _ in $(seq 100); do [ "$(status_field "$P" commit_index)" -ge $((N + 3)) ] && break; sleep 0.05; done
make_lead 2
for _ in $(seq 100); do
	scrape 1
	[ "$(value "$T/m1" raftd_leader_changes_seen_total)" -ge 2 ] && [ "$(value "$T/m1" raftd_has_leader)" = 1 ] && break
	sleep 0.05
done
[ "$(value "$T/m1" raftd_leader_changes_seen_total)" -ge 2 ] || fail "node 1 did not count the new leader"
echo "ok: leader change counted"

if ! command -v promtool >/dev/null; then
	echo "promtool not installed (Debian package prometheus, scripts/install-deps): skipped its check"
	exit 77
fi
for i in 1 2; do
	scrape $i
	promtool check metrics < "$T/m$i" > "$T/promtool$i" 2>&1 || { cat "$T/promtool$i"; fail "promtool check metrics on node $i"; }
done
echo "ok: promtool check metrics is clean on a leader and a follower"
