#!/usr/bin/env python3
"""tests/cluster/watch-proto.py PORT REQUEST... : one Watch stream, by hand
(tests/cluster/v3-watch.sh), for what etcdctl does not show. Each REQUEST
is sent in order: "create KEY END START ID [prev] [fragment] [progress]
[noput] [nodelete]" (END "-": none), "cancel ID", "progress", "sleep SECS",
"put HTTPPORT KEY VALUE" (POST /db/KEY). Every response is printed as one
line: id=ID created=0|1 canceled=0|1 compact=REV rev=HEADER_REV
fragment=0|1 reason=... events=TYPE:KEY:VALUE[:prev=VALUE],... It reads
for 0.3 s after each request, and WAIT seconds (env, default 3) after the
last."""
import os
import socket
import struct
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
slow = __import__("watch-slow")


def enc_bytes(field, b):
    return bytes([field << 3 | 2]) + venc(len(b)) + b


def venc(v):
    v &= (1 << 64) - 1
    out = b""
    while v >= 0x80:
        out += bytes([v & 0x7F | 0x80])
        v >>= 7
    return out + bytes([v])


def enc_int(field, v):
    return bytes([field << 3]) + venc(v) if v else b""


def main():
    port = int(sys.argv[1])
    wait = float(os.environ.get("WAIT", "3"))
    s = socket.create_connection(("127.0.0.1", port))
    big = struct.pack(">I", 0x7FFFFFFF - 65535)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + slow.frame(4, 0, 0, b"") + slow.frame(8, 0, 0, big))
    hdrs = (slow.lit(b":method", b"POST") + slow.lit(b":scheme", b"http") +
            slow.lit(b":path", b"/etcdserverpb.Watch/Watch") + slow.lit(b":authority", b"x") +
            slow.lit(b"content-type", b"application/grpc") + slow.lit(b"te", b"trailers"))
    s.sendall(slow.frame(1, 4, 1, hdrs) + slow.frame(8, 0, 1, big))
    buf, data = [b""], [b""]

    def send(req):
        s.sendall(slow.frame(0, 0, 1, b"\x00" + struct.pack(">I", len(req)) + req))

    def pump(secs):
        end = time.time() + secs
        while True:
            left = end - time.time()
            if left <= 0:
                return
            s.settimeout(left)
            try:
                chunk = s.recv(1 << 20)
            except socket.timeout:
                return
            if not chunk:
                return
            buf[0] += chunk
            while len(buf[0]) >= 9:
                n = struct.unpack(">I", b"\x00" + buf[0][:3])[0]
                if len(buf[0]) < 9 + n:
                    break
                ft, fl, pl = buf[0][3], buf[0][4], buf[0][9:9 + n]
                buf[0] = buf[0][9 + n:]
                if ft == 4 and not fl & 1:
                    s.sendall(slow.frame(4, 1, 0, b""))
                if ft != 0:
                    continue
                data[0] += pl
                while len(data[0]) >= 5 and len(data[0]) >= 5 + struct.unpack(">I", data[0][1:5])[0]:
                    m = struct.unpack(">I", data[0][1:5])[0]
                    msg, data[0] = data[0][5:5 + m], data[0][5 + m:]
                    show(msg)

    def show(msg):
        r = {2: 0, 3: 0, 4: 0, 5: 0, 6: b"", 7: 0}
        rev, evs = 0, []
        for k, v in slow.fields(msg):
            if k == 1:
                rev = dict(slow.fields(v)).get(3, 0)
            elif k == 11:
                e = dict(slow.fields(v))
                kv = dict(slow.fields(e.get(2, b"")))
                t = "DELETE" if e.get(1, 0) == 1 else "PUT"
                prev = dict(slow.fields(e[3])).get(5, b"").decode() if 3 in e else ""
                evs.append("%s:%s:%s%s" % (t, kv.get(1, b"").decode(), kv.get(5, b"").decode(),
                                           ":prev=" + prev if 3 in e else ""))
            else:
                r[k] = v
        wid = r[2] - (1 << 64) if r[2] >= 1 << 63 else r[2]
        cr = r[5] - (1 << 64) if r[5] >= 1 << 63 else r[5]
        print("id=%d created=%d canceled=%d compact=%d rev=%d fragment=%d reason=%s events=%s" %
              (wid, r[3], r[4], cr, rev, r[7], r[6].decode(), ",".join(evs)), flush=True)

    for a in sys.argv[2:]:
        w = a.split()
        if w[0] == "create":
            c = enc_bytes(1, w[1].encode())
            if w[2] != "-":
                c += enc_bytes(2, w[2].encode().replace(b"NUL", b"\x00"))
            c += enc_int(3, int(w[3])) + enc_int(4, "progress" in w) + enc_int(6, "prev" in w)
            c += enc_int(7, int(w[4])) + enc_int(8, "fragment" in w)
            f = (b"\x00" if "noput" in w else b"") + (b"\x01" if "nodelete" in w else b"")
            if f:
                c += enc_bytes(5, f)
            send(enc_bytes(1, c))
        elif w[0] == "cancel":
            send(enc_bytes(2, enc_int(1, int(w[1]))))
        elif w[0] == "progress":
            send(enc_bytes(3, b""))
        elif w[0] == "sleep":
            pump(float(w[1]))
            continue
        elif w[0] == "put":
            urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/db/%s" % (w[1], w[2]),
                                                          data=w[3].encode(), method="POST")).read()
        pump(0.3)
    pump(wait)


main()
