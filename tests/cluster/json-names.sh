#!/bin/sh
# Member names and keys holding what JSON must escape ('"', '\', control
# bytes, Go's <>&): every JSON raftd and raftctl write about them is valid
# JSON that gives them back. /raftd/version, the POST /raftd/snapshot answer,
# the /join body a joiner sends (the leader decodes it: an unescaped name
# left the joiner refused for good), /status, raftctl -o json.
. "$(dirname "$0")/lib.sh"

N1=$(printf 'a"b\\c\td<&>')
N2=$(printf 'x\\"y\001z')
K=$(printf 'k"\\ ?%%\001<&>')
export N1 N2 K
# json_ok FILE PYTHON: FILE is valid JSON (j) and PYTHON holds of it
json_ok() {
	python3 -c "import json,os,sys
j=json.load(open(sys.argv[1], encoding='utf-8'))
n1, n2, k = os.environ['N1'], os.environ['N2'], os.environ['K']
sys.exit(0 if ($2) else 1)" "$1" 2>>"$T/py.err"
}
u() { echo "http://127.0.0.1:$(port "$1")${2:-}"; }

# (raftd --name does not make DATA_DIR itself)
mkdir -p "$T/n1" "$T/n2"
node_start 1 -h 127.0.0.1 --name "$N1"
[ "$(wait_leader)" = "$(port 1)" ] || fail "a lone node leads"
curl -s -m 5 "$(u 1 /raftd/version)" >"$T/version"
json_ok "$T/version" "j == {'server': 'raftd', 'version': j['version'], 'name': n1}" ||
	fail "/raftd/version: $(cat "$T/version")"
curl -s -m 5 -XPOST "$(u 1 /raftd/snapshot)" >"$T/snap"
json_ok "$T/snap" "set(j) == {'index', 'term'} and j['index'] >= 1 and j['term'] >= 0" ||
	fail "POST /raftd/snapshot: $(cat "$T/snap")"
echo "ok: /raftd/version and /raftd/snapshot are JSON, the name escaped"

node_start 2 -h 127.0.0.1 --name "$N2" -join "127.0.0.1:$(port 1)"
joined=
for _ in $(seq 200); do
	curl -s -m 2 "$(u 1 /status)" >"$T/status1"
	json_ok "$T/status1" "sorted(m['name'] for m in j['members']) == sorted([n1, n2])" && { joined=1; break; }
	sleep 0.05
done
[ -n "$joined" ] || fail "node 2 joins under its name: $(cat "$T/status1"); $(tail -3 "$T/n1.log")"
curl -s -m 2 "$(u 2 /status)" >"$T/status2"
json_ok "$T/status2" "j['name'] == n2" || fail "node 2's /status: $(cat "$T/status2")"
echo "ok: a joiner's /join body escapes its name"

export RAFTCTL_ENDPOINTS="$(u 1),$(u 2)"
"$RAFTCTL" -o json members >"$T/members" || fail "raftctl members"
json_ok "$T/members" "sorted(m['name'] for m in j) == sorted([n1, n2])" ||
	fail "raftctl -o json members: $(cat "$T/members")"
"$RAFTCTL" -o json status >"$T/rstatus" || fail "raftctl status"
json_ok "$T/rstatus" "True" || fail "raftctl -o json status: $(cat "$T/rstatus")"
"$RAFTCTL" -o json put "$K" "$N2" >"$T/put" || fail "raftctl put"
json_ok "$T/put" "j == {'key': k, 'result': 'ok'}" || fail "raftctl -o json put: $(cat "$T/put")"
"$RAFTCTL" -o json get "$K" >"$T/get" || fail "raftctl get"
json_ok "$T/get" "j == {'key': k, 'value': n2}" || fail "raftctl -o json get: $(cat "$T/get")"
echo "ok: raftctl -o json gives names, keys and values back"

# the same names as Prometheus label values: '"', '\' and a newline escaped
if command -v promtool >/dev/null; then
	for i in 1 2; do
		curl -s "$(u $i)/metrics" >"$T/metrics$i" || fail "GET /metrics of node $i"
		promtool check metrics <"$T/metrics$i" >"$T/promtool$i" 2>&1 ||
			fail "promtool check metrics on node $i, names to escape: $(cat "$T/promtool$i")"
	done
	grep -qF 'raftd_peer_up{peer="x\\\"y' "$T/metrics1" ||
		fail "node 1's peer label is not escaped: $(grep peer_up "$T/metrics1")"
	echo "ok: /metrics escapes the names in its labels"
else
	echo "promtool not installed (Debian package prometheus): label escaping not checked"
fi
