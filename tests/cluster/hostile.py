#!/usr/bin/env python3
"""tests/cluster/hostile.py — raw-socket clients for the hostile-input tests.

  hostile.py strict PORT
      sends each badly framed request shape (conflicting Content-Length,
      Transfer-Encoding with Content-Length, bare-LF chunk lines, unknown
      Transfer-Encoding...) on its own connection, followed by a pipelined
      request smuggled after it, and checks that each is refused with its
      status and the connection then closed, within a generous deadline
      (never waiting for the idle timeout), with nothing answered after it.
  hostile.py downloads PORT PID N LIMIT
      opens N GET /raftd/snapshot downloads at once and never reads past
      their heads (a small receive buffer); checks that at most LIMIT are
      answered 200 and the others 503 with Retry-After, that the node
      (PID) still answers /status and takes a write meanwhile, and prints
      its VmHWM (kB) with the downloads still open; then reads one
      download to its end and checks its length.
  hostile.py flood PORT MODE ADDRS N SECONDS
      keeps N connections open from each source address in ADDRS (comma
      separated, e.g. 127.0.0.2,127.0.0.3) for SECONDS, opening a new one
      whenever one ends. MODE slowloris: a request line, then a header line
      every 0.5 s, never the end of the head; idle: nothing at all. Prints
      one JSON line: connections opened, answered 503, closed by the server
      after being taken (and the longest such connection lived), still
      open at the end.
  hostile.py bodies PORT PID MIB STRANGER
      a POST /raft/appendEntries announcing MIB MiB from the address
      STRANGER (not a member's) must be answered 413 before any body byte
      is sent; then three connections from 127.0.0.1 stream MIB MiB each
      to /raft/appendEntries at once, and each is either refused before
      its body is read (503 with Retry-After) or read whole. Prints how
      many of each and the node's (PID) VmHWM in kB afterwards.
  hostile.py slowbody PORT SRC N LIMIT
      N connections from SRC send a whole head announcing a 1000-byte body,
      then one body byte every 0.5 s; each must be closed by the server
      within LIMIT seconds of its head.
Exit status 0 when every check holds; each failure is printed.
"""
import socket
import sys
import time

DEADLINE = 20  # seconds; far below the idle timeout the tests set


def exchange(port, data, src="127.0.0.1"):
    """Sends data, returns (everything read until EOF, seconds taken)."""
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(DEADLINE)
    s.sendall(data)
    t = time.monotonic()
    got = b""
    try:
        while True:
            r = s.recv(65536)
            if not r:
                break
            got += r
    except socket.timeout:
        got += b"<TIMEOUT>"
    except ConnectionResetError:
        got += b"<RESET>"
    s.close()
    return got, time.monotonic() - t


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
H = b"POST /db/strict HTTP/1.1\r\nHost: x\r\n"
SHAPES = [
    ("two different Content-Length", H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 400),
    ("two equal Content-Length", H + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nxy", 400),
    ("Transfer-Encoding and Content-Length",
     H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\nxy\r\n0\r\n\r\n", 400),
    ("Content-Length and Transfer-Encoding",
     H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n", 400),
    ("bare-LF chunk lines", H + b"Transfer-Encoding: chunked\r\n\r\n2\nxy\n0\n\n", 411),
    ("Transfer-Encoding: gzip", H + b"Transfer-Encoding: gzip\r\n\r\nxy", 400),
    ("Transfer-Encoding: gzip, chunked", H + b"Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding: xchunked", H + b"Transfer-Encoding: xchunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding: identity", H + b"Transfer-Encoding: identity\r\n\r\nxy", 400),
    ("two Transfer-Encoding",
     H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n", 400),
    ("Content-Length: +2", H + b"Content-Length: +2\r\n\r\nxy", 400),
    ("Content-Length: 2, 2", H + b"Content-Length: 2, 2\r\n\r\nxy", 400),
    ("chunked", H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n", 411),
    ("bad framing on an unknown path",
     b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 400),
    ("bad framing on /raft/",
     b"POST /raft/appendEntries HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nxy", 400),
]


def strict(port):
    bad = 0
    for name, data, want in SHAPES:
        got, took = exchange(port, data + SMUGGLED)
        first = got.split(b"\r\n", 1)[0]
        status = first.split(b" ")[1] if first.startswith(b"HTTP/1.1 ") else b"?"
        if status != str(want).encode():
            print("FAIL %s: want %d, got %r" % (name, want, got[:80]))
            bad += 1
        elif b"<TIMEOUT>" in got or b"404 page not found" in got:
            # (the smuggled GET would be answered 404)
            print("FAIL %s: the connection was not closed after the refusal (%.1f s): %r" % (name, took, got))
            bad += 1
        else:
            print("ok %s: %d in %.2f s" % (name, want, took))
    # and a plain request still works
    got, _ = exchange(port, H + b"Content-Length: 2\r\nConnection: close\r\n\r\nxy")
    if not got.startswith(b"HTTP/1.1 200 "):
        print("FAIL a plain request: %r" % got[:80])
        bad += 1
    return bad


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def read_head(s):
    """Reads up to the end of a response head; returns (status, headers)."""
    got = b""
    while b"\r\n\r\n" not in got:
        r = s.recv(1)
        if not r:
            break
        got += r
    lines = got.split(b"\r\n")
    status = int(lines[0].split(b" ")[1]) if lines[0].startswith(b"HTTP/1.1 ") else 0
    headers = {}
    for l in lines[1:]:
        if b":" in l:
            k, v = l.split(b":", 1)
            headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers


def simple(port, method, path, body=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
              % (method.encode(), path.encode(), len(body), body))
    got = b""
    while True:
        r = s.recv(65536)
        if not r:
            break
        got += r
    s.close()
    return int(got.split(b" ")[1]) if got.startswith(b"HTTP/1.1 ") else 0


def downloads(port, pid, n, limit):
    pid, n, limit = int(pid), int(n), int(limit)
    bad = 0
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.settimeout(DEADLINE)
        s.sendall(b"GET /raftd/snapshot HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(s)
    ok, busy = [], 0
    for s in socks:
        status, headers = read_head(s)
        if status == 200:
            ok.append((s, int(headers.get("content-length", "-1"))))
        elif status == 503 and "retry-after" in headers:
            busy += 1
        else:
            print("FAIL a download answered %d %r" % (status, headers))
            bad += 1
    print("downloads: %d streaming, %d refused with 503" % (len(ok), busy))
    if len(ok) > limit or len(ok) == 0:
        print("FAIL %d downloads at once, limit %d" % (len(ok), limit))
        bad += 1
    if simple(port, "GET", "/status") != 200:
        print("FAIL /status during the downloads")
        bad += 1
    if simple(port, "POST", "/db/during-downloads", b"1") != 200:
        print("FAIL a write during the downloads")
        bad += 1
    print("VmHWM %d" % vm_hwm_kb(pid))
    sys.stdout.flush()
    if ok:
        s, want = ok[0]
        total = 0
        while total < want:
            r = s.recv(1 << 20)
            if not r:
                break
            total += len(r)
        if total != want:
            print("FAIL a download ended after %d of %d bytes" % (total, want))
            bad += 1
    for s in socks:
        s.close()
    return bad


def flood(port, mode, addrs, n, seconds):
    import json
    import selectors
    n, seconds = int(n), float(seconds)
    sel = selectors.DefaultSelector()
    st = {"opened": 0, "refused_503": 0, "refused_other": 0, "closed": 0, "max_life": 0.0,
          "connect_failed": 0}
    conns = {}  # socket -> [src, opened_at, got]

    def open_one(src):
        s = socket.socket()
        s.setblocking(False)
        s.bind((src, 0))
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            st["connect_failed"] += 1
            s.close()
            return
        st["opened"] += 1
        conns[s] = [src, time.monotonic(), b""]
        sel.register(s, selectors.EVENT_READ)
        if mode == "slowloris":
            try:
                s.send(b"GET /status HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass

    def ended(s):
        src, t0, got = conns.pop(s)
        sel.unregister(s)
        s.close()
        if got.startswith(b"HTTP/1.1 503"):
            st["refused_503"] += 1
        elif got and not got.startswith(b"HTTP/1.1 408"):
            st["refused_other"] += 1
            st.setdefault("other", got[:60].decode("latin-1"))
        else:
            st["closed"] += 1
            st["max_life"] = max(st["max_life"], time.monotonic() - t0)
        return src

    srcs = addrs.split(",")
    reopen = []  # (when, src): a pause before replacing an ended one
    end = time.monotonic() + seconds
    next_drip = time.monotonic() + 0.5
    for src in srcs:
        for _ in range(n):
            open_one(src)
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                r = s.recv(4096)
            except (ConnectionResetError, OSError):
                r = b""
            if r:
                conns[s][2] += r
                continue
            reopen.append((time.monotonic() + 0.05, ended(s)))
        now = time.monotonic()
        while reopen and reopen[0][0] <= now:
            open_one(reopen.pop(0)[1])
        if mode == "slowloris" and time.monotonic() >= next_drip:
            next_drip += 0.5
            for s in list(conns):
                try:
                    s.send(b"X-Drip: 1\r\n")
                except OSError:
                    pass
    st["open_at_end"] = len(conns)
    for s in list(conns):
        s.close()
    print(json.dumps(st))
    return 0


def bodies(port, pid, mib, stranger):
    import select
    pid, size = int(pid), int(mib) << 20
    bad = 0
    head = (b"POST /raft/appendEntries HTTP/1.1\r\nHost: x\r\nContent-Type: application/protobuf\r\n"
            b"Content-Length: %d\r\n\r\n" % size)
    s = socket.socket()
    s.bind((stranger, 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(DEADLINE)
    s.sendall(head)
    try:
        status, _ = read_head(s)
    except socket.timeout:
        status = 0
    s.close()
    print("stranger: %d" % status)
    if status != 413:
        print("FAIL a %d MiB /raft body from a stranger: %d, not 413 before the body" % (int(mib), status))
        bad += 1

    socks = []
    for _ in range(3):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(head)
        socks.append({"s": c, "sent": 0, "got": b"", "done": False})
    chunk = b"\xff" * (1 << 20)
    end = time.monotonic() + 120
    while not all(x["done"] for x in socks) and time.monotonic() < end:
        for x in socks:
            if x["done"]:
                continue
            r, w, _ = select.select([x["s"]], [x["s"]] if x["sent"] < size else [], [], 0.01)
            if r:
                try:
                    d = x["s"].recv(65536)
                except OSError:
                    d = b""
                x["got"] += d
                if not d or b"\r\n\r\n" in x["got"]:
                    x["done"] = True
                    continue
            if w:
                try:
                    x["sent"] += x["s"].send(chunk[: min(len(chunk), size - x["sent"])])
                except OSError:
                    x["done"] = True
    refused = read_whole = 0
    for x in socks:
        first = x["got"].split(b"\r\n", 1)[0]
        if first.startswith(b"HTTP/1.1 503") and b"Retry-After" in x["got"]:
            refused += 1
        elif x["sent"] == size and first.startswith(b"HTTP/1.1 "):
            read_whole += 1
        else:
            print("FAIL a body: sent %d, answer %r" % (x["sent"], x["got"][:60]))
            bad += 1
        x["s"].close()
    print("bodies: %d refused with 503, %d read whole" % (refused, read_whole))
    print("VmHWM %d" % vm_hwm_kb(pid))
    return bad


def slowbody(port, src, n, limit):
    import select
    n, limit = int(n), float(limit)
    socks = {}
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"POST /db/slowbody HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        socks[s] = time.monotonic()
    lives = []
    end = time.monotonic() + DEADLINE
    while socks and time.monotonic() < end:
        r, _, _ = select.select(list(socks), [], [], 0.5)
        for s in r:
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            if not d:
                lives.append(time.monotonic() - socks.pop(s))
                s.close()
        for s in socks:
            try:
                s.send(b"x")
            except OSError:
                pass
    bad = 0
    print("slow bodies: %d closed, longest %.1f s, %d still open" % (len(lives), max(lives or [0]), len(socks)))
    if socks or max(lives or [0]) > limit:
        print("FAIL slow bodies are not closed within %.0f s" % limit)
        bad = 1
    for s in socks:
        s.close()
    return bad


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    bad = {"strict": strict, "downloads": downloads, "flood": flood, "bodies": bodies, "slowbody": slowbody}[cmd](port, *sys.argv[3:])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
