#!/bin/sh
# raftctl members remove, when the leader it asked went away before
# answering a leave it may have committed: the retry finds the name gone
# (404), which is the outcome asked for. A stand-in leader answers the first
# /leave with goraft's 400 "Not current leader" and the next with 404, which
# a real cluster does only by chance (a leader change between commit and
# answer).
. "$(dirname "$0")/../cluster/lib.sh"
P=$(port 1)
cat >"$T/fake.py" <<PY
import http.server, json, sys
port = int(sys.argv[1])
url = "http://127.0.0.1:%d" % port
leaves = []
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body, ctype="text/plain; charset=utf-8"):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        st = {"server": "raftd", "name": "a", "url": url, "role": "leader", "leader": "a", "term": 2,
              "members": [{"name": "a", "url": url, "self": True, "voter": True},
                          {"name": "b", "url": "http://127.0.0.1:1", "self": False, "voter": True}]}
        self.reply(200, json.dumps(st) + "\n", "application/json")
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        leaves.append(self.path)
        name = json.loads(open("$T/which").read())
        if name == "gone" and len(leaves) == 1:
            self.reply(400, "raft.Server: Not current leader\n")
        else:
            self.reply(404, "not a member\n")
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
python3 "$T/fake.py" "$P" 2>"$T/fake.log" &
PIDS="$PIDS $!"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P/status" && break; sleep 0.05; done
export RAFTCTL_ENDPOINTS="http://127.0.0.1:$P"
echo '"gone"' >"$T/which"
"$RAFTCTL" --timeout 3s members remove b >"$T/out" 2>"$T/err" ||
	fail "remove after a retry: exit $?: $(cat "$T/err")"
grep -q "^removed b$" "$T/out" || fail "remove output: $(cat "$T/out")"
# a 404 at the first try is still an error: no such member
echo '"never"' >"$T/which"
"$RAFTCTL" --timeout 3s members remove nosuch >"$T/out" 2>"$T/err" && fail "remove nosuch succeeded"
grep -q "HTTP 404" "$T/err" || fail "remove nosuch: $(cat "$T/err")"
echo "ok: members remove takes a 404 after a retry as done"
