#!/bin/sh
# bench/stability.sh — leader stability under load, and failover time.
# Not part of `make check` (it runs for minutes and its figures depend on
# the machine); run by hand:
#
#   RAFTD=build/src/raftd/raftd bench/stability.sh [RAFTD_ARGS...]
#
# 1. A three-node cluster on loopback takes one write every 100 ms while
#    `stress-ng --cpu LOAD_CPUS` keeps the machine busy, for STABLE_SECONDS:
#    it counts the terms the cluster went through and the leader changes
#    seen by sampling every second, with the load average.
# 2. KILLS times: kill -9 the leader (the load still running) and time until
#    another node leads a newer term, and until a write is acknowledged.
#
# Environment: STABLE_SECONDS (600), LOAD_CPUS (8; 0: no load), KILLS (10).
# RAFTD_ARGS go to every node, e.g. `--election-timeout-ms 150
# --heartbeat-ms 50` for goraft's timing. Exit 1 if no leader appears.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
RAFTD=${RAFTD:-$top/build/src/raftd/raftd}
srcdir=${srcdir:-$top}
. "$top/tests/cluster/lib.sh"
trap 'exit 1' INT TERM HUP # lib.sh's cleanup (EXIT) then stops the nodes and the load
secs=${STABLE_SECONDS:-600}
cpus=${LOAD_CPUS:-8}
kills=${KILLS:-10}

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.3f", $1 - $2}'; }
# leader_port: the port of the node that leads the highest term, or nothing
leader_now() { newest_leader 2>/dev/null | cut -d' ' -f1; }

# shellcheck disable=SC2068
start_three $@
STRESS=
if [ "$cpus" -gt 0 ]; then
	stress-ng --cpu "$cpus" --timeout "$(( secs + kills * 30 + 60 ))" >/dev/null 2>&1 &
	STRESS=$!
	PIDS="$PIDS $STRESS"
	sleep 10 # the load average climbs
fi

echo "# phase 1: ${secs} s, stress-ng --cpu $cpus, args: ${*:-defaults}"
term0=$(cluster_term)
prev=$(leader_now)
changes=0 writes=0 failed=0 loads=""
end=$(( $(date +%s) + secs ))
i=0
while [ "$(date +%s)" -lt "$end" ]; do
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		i=$((i + 1))
		if [ "$(put "$(port $(( i % 3 + 1 )))" "s$i" "v$i")" = 200 ]; then writes=$((writes + 1)); else failed=$((failed + 1)); fi
		sleep 0.1
	done
	cur=$(leader_now)
	[ -n "$cur" ] && [ -n "$prev" ] && [ "$cur" != "$prev" ] && changes=$((changes + 1))
	[ -n "$cur" ] && prev=$cur
	loads="$loads $(cut -d' ' -f1 /proc/loadavg)"
done
term1=$(cluster_term)
load=$(echo "$loads" | awk '{s = 0; lo = hi = $1; for (i = 1; i <= NF; i++) { s += $i; if ($i < lo) lo = $i; if ($i > hi) hi = $i }
	printf "%.1f (min %s, max %s)", s / NF, lo, hi}')
echo "phase 1: terms $term0 -> $term1 ($(( term1 - term0 )) new), leader changes seen: $changes," \
	"writes to any node: $writes acknowledged, $failed refused (followers refuse); load average $load"

echo "# phase 2: kill -9 the leader $kills times"
times=""
for k in $(seq "$kills"); do
	lp=$(leader_now)
	[ -n "$lp" ] || { lp=$(wait_leader) || fail "no leader"; }
	for n in 1 2 3; do [ "$(port $n)" = "$lp" ] && dead=$n; done
	t_old=$(status_field "$lp" term)
	survivors=""
	for n in 1 2 3; do [ "$n" != "$dead" ] && survivors="$survivors $(port $n)"; done
	# one process polls every 10 ms (curl and a JSON parser per probe
	# would cost more than the election on a loaded machine)
	t0=$(now)
	kill -9 "$(eval echo \$PID_"$dead")"
	# shellcheck disable=SC2086
	set -- $(python3 - "$t0" "$t_old" $survivors <<'PY'
import http.client, json, sys, time
t0, old, ports = float(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
def call(port, method, path, body=None):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    except Exception:
        return 0, b""
elected = new = None
while time.time() - t0 < 30:
    for p in ports:
        st, b = call(p, "GET", "/status")
        if st == 200:
            s = json.loads(b)
            if s.get("role") == "leader" and int(s.get("term", 0)) > old:
                elected, new = time.time() - t0, p
                break
    if new:
        break
    time.sleep(0.01)
while new and time.time() - t0 < 30:
    if call(new, "POST", "/db/failover", b"x")[0] == 200:
        print("%.3f %.3f %d" % (elected, time.time() - t0, new))
        sys.exit(0)
    time.sleep(0.01)
print("- - 0")
PY
)
	elected=$1 written=$2
	[ "$3" != 0 ] || fail "no new leader and write 30 s after the kill"
	for n in 1 2 3; do [ "$(port $n)" = "$3" ] && new=$n; done
	node_kill "$dead"
	echo "kill $k: node $dead (term $t_old): node $new leads after $elected s, a write acknowledged after $written s"
	times="$times $written"
	node_start "$dead"
	wait_value "$(port "$dead")" failover x || fail "node $dead catches up"
	sleep 2
done
echo "$times" | awk '{ n = NF; for (i = 1; i <= n; i++) { s += $i; if ($i > m) m = $i }
	printf "phase 2: failover (kill -9 to an acknowledged write) mean %.3f s, max %.3f s over %d kills\n", s / n, m, n }'
[ -n "$STRESS" ] && kill "$STRESS" 2>/dev/null
exit 0
