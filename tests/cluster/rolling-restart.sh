#!/bin/sh
# A rolling restart under writes: each node in turn gets SIGTERM (the
# leader hands leadership over before it stops) and is started again, while
# a client writes one key after another. No acknowledged write is lost, and
# the client sees no error but "go elsewhere" answers: goraft's 400 "Not
# current leader", a refused connection, 503 "raft: Has been stopped".
. "$(dirname "$0")/lib.sh"

start_three
cat >"$T/writer.py" <<'PY'
import http.client, os, sys, time
ports, out = [int(p) for p in sys.argv[1:4]], sys.argv[4]
acked, errors, i, cur, last_ack, max_gap = [], [], 0, 0, time.monotonic(), 0.0
while not os.path.exists(out + ".stop"):
    key, val = "w%d" % i, "v%d" % i
    for attempt in range(300):
        port = ports[cur]
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/db/" + key, body=val)
            r = c.getresponse()
            body = r.read().decode(errors="replace")
            c.close()
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as e:
            # a stopped node; a reset before any answer, or a broken pipe
            # while sending (a connection the kernel queued just before
            # the node closed its listener), means the request was never
            # read (raftd answers every request it reads)
            cur = (cur + 1) % 3
            time.sleep(0.02)
            continue
        except Exception as e:
            errors.append("%s: port %d: %r" % (key, port, e))
            break
        if r.status == 200:
            now = time.monotonic()
            max_gap = max(max_gap, now - last_ack)
            last_ack = now
            acked.append(key)
            break
        if (r.status == 400 and "Not current leader" in body) or \
           (r.status == 503 and "Has been stopped" in body):
            cur = (cur + 1) % 3
            time.sleep(0.02)
            continue
        errors.append("%s: port %d: HTTP %d %s" % (key, port, r.status, body.strip()))
        break
    else:
        errors.append("%s: no node took it" % key)
    i += 1
with open(out, "w") as f:
    f.write("%d %d %.3f\n" % (len(acked), len(errors), max_gap))
    for e in errors:
        f.write("error " + e + "\n")
    for k in acked:
        f.write("acked " + k + "\n")
PY
python3 "$T/writer.py" "$(port 1)" "$(port 2)" "$(port 3)" "$T/writes" &
WRITER=$!

# caught_up N: node N applied what the leader had committed (10 s)
caught_up() {
	for _ in $(seq 200); do
		l=$(wait_leader) || continue
		c=$(status_field "$l" commit_index)
		a=$(status_field "$(port "$1")" applied_index)
		[ -n "$c" ] && [ -n "$a" ] && [ "$a" -ge "$c" ] && return 0
		sleep 0.05
	done
	return 1
}

sleep 1
for round in 1 2; do
	for n in 1 2 3; do
		was=$(status_field "$(port $n)" role)
		node_kill $n TERM
		grep -q 'leadership handed over' "$T/n$n.log" && echo "# node $n ($was): handed over"
		node_start $n
		caught_up $n || fail "node $n catches up after its restart"
		sleep 0.5
	done
done
touch "$T/writes.stop"
wait $WRITER
read -r n_acked n_errors max_gap <"$T/writes"
grep '^error' "$T/writes" | head >&2
[ "$n_errors" = 0 ] || fail "$n_errors writes failed during the rolling restart"
[ "$n_acked" -gt 20 ] || fail "only $n_acked writes acknowledged"
handed=$(grep -c 'leadership handed over' "$T"/n*.log | awk -F: '{s += $2} END {print s}')
[ "$handed" -ge 2 ] || fail "the leader handed over before stopping ($handed times)"
echo "ok: rolling restart, twice: $n_acked writes acknowledged, none failed, $handed handovers; longest wait between two acknowledgements ${max_gap} s"

# every acknowledged write is on every node
last=$(grep '^acked' "$T/writes" | tail -1 | cut -d' ' -f2)
for n in 1 2 3; do wait_value "$(port $n)" "$last" "v${last#w}" || fail "node $n has $last"; done
python3 - "$T/writes" "$(port 1)" "$(port 2)" "$(port 3)" <<'PY' || fail "an acknowledged write is lost"
import http.client, sys
keys = [l.split()[1] for l in open(sys.argv[1]) if l.startswith("acked ")]
for port in sys.argv[2:]:
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    for k in keys:
        c.request("GET", "/db/" + k)
        got = c.getresponse().read().decode()
        if got != "v" + k[1:]:
            print("node at port %s lost %s (has %r)" % (port, k, got), file=sys.stderr)
            sys.exit(1)
PY
echo "ok: every acknowledged write is on every node"
