#!/usr/bin/python3
"""tests/fault/lease.py — a lease holder for fault runs (run.sh --watch).

    lease.py --nodes GA,GB,.. --out FILE [--seed N] [--ttl 5] [--hold-s 10]
             [--wait-s 90]

Grants a lease (LeaseGrant, --ttl seconds) through a random node of --nodes
(gRPC HOST:PORTs), puts the key lease.SEED.GEN with it, and keeps it alive
for --hold-s seconds: a LeaseKeepAlive every second on a stream to one
node, an answer awaited for 1 s, else the stream is dropped and the next
keep-alive goes to another node. Meanwhile a linearizable Range of the key
every half second (through the same rotation). When a keep-alive answers
TTL <= 0 (the lease is gone), the next generation starts (a new lease, a new
key). Then the keep-alives stop, and it reads the key until a linearizable
read finds it gone and every node (a serializable read of each) has been
seen without it, or --wait-s passed. All along, every node's raft term and
leader (Maintenance.Status, every 0.2 s) are recorded: a new leader extends
every lease (etcd's Promote), which the check must allow for.

FILE, one record a line, times CLOCK_MONOTONIC ns:

    G CALL RET ID TTL GEN KEY      a lease granted (TTL as granted)
    W CALL RET KEY VALUE STATUS REV
                                   the put of the lease's key (STATUS ok,
                                   info, fail; REV its revision, 0 unknown)
    K SEND ACK TTL NODE ID         a keep-alive answered (TTL <= 0: gone)
    KX SEND NODE ID REASON         a keep-alive not answered within 1 s
    R CALL RET NODE LIN REV PRESENT KEY
                                   a read of KEY (LIN 1: linearizable, else
                                   serializable at NODE), at revision REV
    T TIME NODE TERM LEADER        NODE reports a term it did not before
    STOP TIME GEN                  no keep-alive is sent after this
    DONE TIME GONE                 GONE 1: gone everywhere, 0: wait-s passed

tests/fault/lease_check.py checks it.
"""
import argparse
import queue
import random
import signal
import sys
import threading
import time
import urllib.parse

import grpc
from etcd3.etcdrpc import rpc_pb2


def now():
    return time.monotonic_ns()


def enc(b):
    return urllib.parse.quote(b, safe="._~-") if b else "-"


class Holder:
    def __init__(self, a):
        self.a = a
        self.nodes = a.nodes.split(",")
        self.rng = random.Random(a.seed * 31 + 7)
        self.out = open(a.out, "a", buffering=1)
        self.lock = threading.Lock()
        self.node = self.rng.randrange(len(self.nodes))
        self.chans = [grpc.insecure_channel(n) for n in self.nodes]
        self.stop = False
        self.ka = None   # (call, requests queue, answers queue, node)

    def rec(self, *f):
        with self.lock:
            self.out.write(" ".join(str(x) for x in f) + "\n")

    def unary(self, node, method, req, resp_type, timeout=1.0):
        fn = self.chans[node].unary_unary(method, request_serializer=type(req).SerializeToString,
                                          response_deserializer=resp_type.FromString)
        return fn(req, timeout=timeout)

    def next_node(self):
        if len(self.nodes) > 1:
            n = self.rng.randrange(len(self.nodes) - 1)
            self.node = n if n < self.node else n + 1

    def read(self, node, key, lin):
        call = now()
        try:
            r = self.unary(node, "/etcdserverpb.KV/Range",
                           rpc_pb2.RangeRequest(key=key.encode(), serializable=not lin), rpc_pb2.RangeResponse)
        except grpc.RpcError:
            return None
        present = 1 if r.count else 0
        self.rec("R", call, now(), node, 1 if lin else 0, r.header.revision, present, key)
        return present

    def terms(self):
        seen = {}
        while not self.stop:
            for n in range(len(self.nodes)):
                try:
                    t = now()
                    s = self.unary(n, "/etcdserverpb.Maintenance/Status", rpc_pb2.StatusRequest(),
                                   rpc_pb2.StatusResponse, timeout=0.5)
                except grpc.RpcError:
                    continue
                if seen.get(n) != s.raftTerm:
                    seen[n] = s.raftTerm
                    self.rec("T", t, n, s.raftTerm, s.leader)
            time.sleep(0.2)

    def grant(self, gen):
        """(lease ID, TTL, key, generation) of a new lease whose key is
        put (a later generation when the lease expired before the put), or
        None."""
        key = "lease.%d.%d" % (self.a.seed, gen)
        lid = ttl = None
        deadline = time.monotonic() + 60
        while lid is None and time.monotonic() < deadline and not self.stop:
            call = now()
            try:
                r = self.unary(self.node, "/etcdserverpb.Lease/LeaseGrant",
                               rpc_pb2.LeaseGrantRequest(TTL=self.a.ttl), rpc_pb2.LeaseGrantResponse, timeout=2)
                if r.error:
                    raise ValueError(r.error)
                lid, ttl = r.ID, r.TTL
                self.rec("G", call, now(), lid, ttl, gen, key)
            except (grpc.RpcError, ValueError):
                self.next_node()
                time.sleep(0.2)
        attempt = 0
        while lid is not None and time.monotonic() < deadline and not self.stop:
            attempt += 1
            # a new value per attempt: an attempt of unknown outcome may
            # still be applied, and every value is written once
            value = "%d.lease.%d.%d" % (self.a.seed, gen, attempt)
            call = now()
            try:
                r = self.unary(self.node, "/etcdserverpb.KV/Put",
                               rpc_pb2.PutRequest(key=key.encode(), value=value.encode(), lease=lid),
                               rpc_pb2.PutResponse, timeout=2)
                self.rec("W", call, now(), key, value, "ok", r.header.revision)
                return lid, ttl, key, gen
            except grpc.RpcError as e:
                # refused before it was sent: certainly not applied
                st = "fail" if e.code() == grpc.StatusCode.NOT_FOUND else "info"
                self.rec("W", call, now(), key, value, st, 0)
                if e.code() == grpc.StatusCode.NOT_FOUND:
                    # the lease expired meanwhile
                    return self.grant(gen + 1) if not self.stop else None
                self.next_node()
                time.sleep(0.2)
        return None

    def ka_close(self):
        if self.ka:
            self.ka[1].put(None)
            self.ka[0].cancel()
            self.ka = None

    def keepalive(self, lid):
        """One keep-alive: its answered TTL, or None when not answered."""
        if self.ka is None:
            reqs, answers = queue.Queue(), queue.Queue()

            def gen():
                while True:
                    x = reqs.get()
                    if x is None:
                        return
                    yield x

            call = self.chans[self.node].stream_stream(
                "/etcdserverpb.Lease/LeaseKeepAlive",
                request_serializer=rpc_pb2.LeaseKeepAliveRequest.SerializeToString,
                response_deserializer=rpc_pb2.LeaseKeepAliveResponse.FromString)(gen())

            def reader():
                try:
                    for r in call:
                        answers.put(r)
                except grpc.RpcError as e:
                    answers.put(e)

            threading.Thread(target=reader, daemon=True).start()
            self.ka = (call, reqs, answers, self.node)
        call, reqs, answers, node = self.ka
        send = now()
        reqs.put(rpc_pb2.LeaseKeepAliveRequest(ID=lid))
        try:
            r = answers.get(timeout=1.0)
        except queue.Empty:
            r = None
        if isinstance(r, rpc_pb2.LeaseKeepAliveResponse):
            self.rec("K", send, now(), r.TTL, node, lid)
            return r.TTL
        if isinstance(r, grpc.RpcError) and r.code() == grpc.StatusCode.NOT_FOUND:
            # etcd answers TTL 0 for a lease it does not have; an error
            # saying so is the same answer
            self.rec("K", send, now(), -1, node, lid)
            self.ka_close()
            return -1
        self.rec("KX", send, node, lid, "timeout" if r is None else r.code().name)
        self.ka_close()
        self.next_node()
        return None

    def run(self):
        threading.Thread(target=self.terms, daemon=True).start()
        gen = 1
        got = self.grant(gen)
        if got is None:
            print("lease.py: no lease granted", file=sys.stderr)
            return 2
        lid, ttl, key, gen = got
        end_hold = time.monotonic() + self.a.hold_s
        while time.monotonic() < end_hold and not self.stop:
            t = time.monotonic()
            left = self.keepalive(lid)
            if left is not None and left <= 0:
                gen += 1
                self.ka_close()
                got = self.grant(gen)
                if got is None:
                    return 2
                lid, ttl, key, gen = got
                continue
            self.read(self.node, key, True)
            time.sleep(max(0.0, 0.5 - (time.monotonic() - t)))
            self.read(self.node, key, True)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
        self.ka_close()
        self.rec("STOP", now(), gen)
        deadline = time.monotonic() + self.a.wait_s
        gone_lin = False
        gone_at = set()
        while time.monotonic() < deadline and not self.stop:
            p = self.read(self.node, key, True)
            if p is None:
                self.next_node()
            elif p == 0:
                gone_lin = True
            if gone_lin:
                for n in range(len(self.nodes)):
                    if n not in gone_at and self.read(n, key, False) == 0:
                        gone_at.add(n)
                if len(gone_at) == len(self.nodes):
                    self.rec("DONE", now(), 1)
                    return 0
            time.sleep(0.2)
        self.rec("DONE", now(), 0)
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ttl", type=int, default=5)
    ap.add_argument("--hold-s", type=float, default=10)
    ap.add_argument("--wait-s", type=float, default=90)
    h = Holder(ap.parse_args())

    def on_term(*_):
        h.stop = True

    signal.signal(signal.SIGTERM, on_term)
    sys.exit(h.run())


if __name__ == "__main__":
    main()
