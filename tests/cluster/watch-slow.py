#!/usr/bin/env python3
"""tests/cluster/watch-slow.py PORT PREFIX GOFILE OUTFILE: a Watch client that
stops reading (tests/cluster/v3-watch.sh). It speaks HTTP/2 by hand (no
gRPC library here): opens one Watch on keys [PREFIX, PREFIX+1), then
neither reads nor opens its flow-control window, so the node can send it
64 KiB and must hold or drop the rest. Once GOFILE exists it opens its
windows, reads, and writes one line per response to OUTFILE: "E v1 v2 ..."
(the leading numbers of the events' values) or "C compact_revision" for a
canceled one; it exits after a canceled response or 60 s of silence."""
import os
import socket
import struct
import sys
import time


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def lit(name, value):
    # HPACK literal without indexing, new name, no Huffman
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def fields(b):
    i = 0
    while i < len(b):
        tag, i = varint(b, i)
        if tag & 7 == 0:
            v, i = varint(b, i)
        elif tag & 7 == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % (tag & 7))
        yield tag >> 3, v


def main():
    port, prefix, gofile, outfile = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4]
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
    s.recv(9 + 64)  # the server's SETTINGS (not parsed)
    hdrs = (lit(b":method", b"POST") + lit(b":scheme", b"http") + lit(b":path", b"/etcdserverpb.Watch/Watch") +
            lit(b":authority", b"x") + lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers"))
    create = b"\x0a" + bytes([len(prefix)]) + prefix + b"\x12" + bytes([len(end)]) + end
    req = b"\x0a" + bytes([len(create)]) + create
    s.sendall(frame(4, 1, 0, b"") + frame(1, 4, 1, hdrs) + frame(0, 0, 1, b"\x00" + struct.pack(">I", len(req)) + req))
    while not os.path.exists(gofile):
        time.sleep(0.2)
    big = struct.pack(">I", 0x7FFFFFFF - 65535)
    s.sendall(frame(8, 0, 0, big) + frame(8, 0, 1, big))
    s.settimeout(60)
    buf, data = b"", b""
    out = open(outfile, "w")
    while True:
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            return
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 9:
            n = struct.unpack(">I", b"\x00" + buf[:3])[0]
            if len(buf) < 9 + n:
                break
            ftype, flags, payload = buf[3], buf[4], buf[9:9 + n]
            buf = buf[9 + n:]
            if ftype == 4 and not flags & 1:
                s.sendall(frame(4, 1, 0, b""))
            if ftype == 6 and not flags & 1:
                s.sendall(frame(6, 1, 0, payload))
            if ftype != 0:
                continue
            data += payload
            if payload:
                s.sendall(frame(8, 0, 0, struct.pack(">I", len(payload))) + frame(8, 0, 1, struct.pack(">I", len(payload))))
            while len(data) >= 5 and len(data) >= 5 + struct.unpack(">I", data[1:5])[0]:
                m = struct.unpack(">I", data[1:5])[0]
                msg, data = data[5:5 + m], data[5 + m:]
                f = list(fields(msg))
                canceled = any(k == 4 and v for k, v in f)
                vals = []
                for k, v in f:
                    if k == 11:
                        for ek, ev in fields(v):
                            if ek == 2:
                                for kk, kv in fields(ev):
                                    if kk == 5:
                                        vals.append(kv.split(b"-")[0].decode())
                if vals:
                    out.write("E " + " ".join(vals) + "\n")
                if canceled:
                    cr = [v for k, v in f if k == 5]
                    out.write("C %d\n" % (cr[0] if cr else 0))
                    out.close()
                    return
                out.flush()


if __name__ == "__main__":
    main()
