#!/usr/bin/env python3
"""bench/starttime.py — how long raftd takes from exec to READY and to serving.

    starttime.py [--timeout S] URL EXPECT -- RAFTD ARGS...

Starts RAFTD with NOTIFY_SOCKET pointing at a socket of ours (the same
sd_notify protocol systemd uses), then prints, in seconds after exec():
  ready=S      the daemon sent READY=1 (WAL recovered, snapshot loaded, listening)
  listening=S  GET /status first answered 200
  serving=S    GET URL first answered 200 with body EXPECT (for a
               consistent read: a leader elected and the log applied)
  rss_kib=K anon_kib=K  the daemon's VmRSS and RssAnon at that moment
and stops the daemon with SIGTERM. Exit status 1 if a time is missing.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def get(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except (OSError, urllib.error.URLError):
        return None, b""


def status_kib(pid):
    """VmRSS and RssAnon of pid, in KiB"""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def main():
    args = sys.argv[1:]
    timeout = 120.0
    if args[:1] == ["--timeout"]:
        timeout = float(args[1])
        args = args[2:]
    if len(args) < 4 or args[2] != "--":
        sys.exit(__doc__)
    url, expect, cmd = args[0], args[1].encode(), args[3:]
    base = urllib.parse.urlsplit(url)
    status_url = f"{base.scheme}://{base.netloc}/status"

    tmp = tempfile.mkdtemp(prefix="raftd-notify-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    env.pop("WATCHDOG_USEC", None)
    times = {}
    rss = {}
    done = threading.Event()

    def listen():
        # its own thread: READY=1 is timed when it arrives, not when the
        # HTTP polling below gets round to it
        while not done.is_set():
            try:
                msg = sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if "ready" not in times and b"READY=1" in msg.split(b"\n"):
                times["ready"] = time.monotonic() - t0

    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=sys.stderr, stderr=sys.stderr)
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        while "serving" not in times and time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                print(f"starttime: {cmd[0]} exited with {proc.returncode}", file=sys.stderr)
                break
            if "listening" not in times:
                code, _ = get(status_url, 1)
                if code == 200:
                    times["listening"] = time.monotonic() - t0
            if "listening" in times:
                code, body = get(url, 5)
                if code == 200 and body == expect:
                    times["serving"] = time.monotonic() - t0
                    rss = status_kib(proc.pid)
            if "serving" not in times:
                time.sleep(0.002)
        end = time.monotonic() + 2
        while "ready" not in times and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.01)
    finally:
        done.set()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        listener.join()
        sock.close()
        os.unlink(path)
        os.rmdir(tmp)
    ready, listening, serving = (times.get(k) for k in ("ready", "listening", "serving"))

    def fmt(v):
        return "NA" if v is None else f"{v:.3f}"
    print(f"ready={fmt(ready)} listening={fmt(listening)} serving={fmt(serving)}"
          f" rss_kib={rss.get('VmRSS', 'NA')} anon_kib={rss.get('RssAnon', 'NA')}")
    sys.exit(0 if None not in (ready, listening, serving) else 1)


if __name__ == "__main__":
    main()
