#!/usr/bin/python3
"""tests/fault/watch.py — a watcher for fault runs (run.sh --watch).

    watch.py --nodes GA,GB,.. --out FILE [--seed N] [--stall-s 2]
             [--end-wait-s 60]

Watches the whole key space (etcd's key "\\0", range_end "\\0") through
etcd's v3 Watch API on a random node of --nodes (gRPC HOST:PORTs), from the
revision after the cluster's at the start (a linearizable Range). When the
stream fails (the node was killed or refused) or stalls (no event and no answer to a
WatchProgressRequest sent every second for --stall-s: a node stopped or cut
off; a quiet stream still answers the progress requests), it re-watches on
another node from its last seen revision + 1. A compact_revision answer is
recorded and the watch goes on from that revision.

On SIGUSR1 (the run's writes are over) it asks a node for the current
revision with a linearizable Range, waits (re-watching as above) until it
has seen that revision or --end-wait-s passed, writes END or STALL and
exits (0, or 1 on STALL). SIGTERM ends it at once (exit 1, no END).

FILE, one record a line, times CLOCK_MONOTONIC ns (as fault-client's):

    S TIME NODE FROM              a watch created at node NODE (0-based)
                                  from revision FROM
    E TIME REV ORDER KIND KEY VALUE NODE
                                  an event: its mod_revision, its place
                                  among the events of that revision as
                                  received (0, 1, ..), KIND P (put) or D
                                  (delete); KEY and VALUE percent-encoded,
                                  VALUE "-" when empty (always for D)
    C TIME NODE FROM COMPACT      the watch from FROM was answered with
                                  compact_revision COMPACT
    X TIME NODE REASON            the stream ended (REASON one word: error
                                  code, stall, canceled)
    END TIME TARGET LAST          the revision asked for at the end, and the
                                  last one seen (>= TARGET)
    STALL TIME TARGET LAST        the same, not reached in time

tests/fault/watch_check.py checks these files against fault-client's
history.
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
from etcd3.etcdrpc import kv_pb2, rpc_pb2

# WatchRequest{progress_request: WatchProgressRequest{}} (field 3, empty):
# python3-etcd3's generated messages predate it, so the request is sent
# as its encoding
PROGRESS_REQUEST = b"\x1a\x00"
ALL = b"\0"
# a catch-up response may hold many events (long ones with --value-pad):
# no client-side cap (etcd's server sends up to 2 GiB too)
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1)]


def enc(b):
    return urllib.parse.quote(b, safe="._~-") if b else "-"


class Watcher:
    def __init__(self, args):
        self.nodes = args.nodes.split(",")
        self.rng = random.Random(args.seed)
        self.out = open(args.out, "a", buffering=1)
        self.stall_ns = int(args.stall_s * 1e9)
        self.end_wait_s = args.end_wait_s
        self.last = None        # last revision seen
        self.order = 0          # events of revision `last` seen so far
        self.target = None      # the revision to reach at the end
        self.end_asked = False
        self.stop = False
        self.node = self.rng.randrange(len(self.nodes))
        self.lock = threading.Lock()

    def rec(self, *fields):
        with self.lock:
            self.out.write(" ".join(str(f) for f in fields) + "\n")

    def revision(self, node, linearizable):
        """The node's revision (a Range of one key), or None."""
        try:
            with grpc.insecure_channel(self.nodes[node], options=CHANNEL_OPTIONS) as ch:
                rng = ch.unary_unary("/etcdserverpb.KV/Range",
                                     request_serializer=rpc_pb2.RangeRequest.SerializeToString,
                                     response_deserializer=rpc_pb2.RangeResponse.FromString)
                r = rng(rpc_pb2.RangeRequest(key=ALL, range_end=ALL, limit=1, keys_only=True,
                                             serializable=not linearizable), timeout=2)
                return r.header.revision
        except grpc.RpcError:
            return None

    def any_revision(self, linearizable, deadline):
        while time.monotonic() < deadline and not self.stop:
            order = list(range(len(self.nodes)))
            self.rng.shuffle(order)
            for n in order:
                r = self.revision(n, linearizable)
                if r is not None:
                    return r
            time.sleep(0.2)
        return None

    def session(self, start):
        """One watch stream at self.node from revision start, until it
        fails, stalls, is canceled or the end is reached. Returns the
        revision to go on from and why the stream ended."""
        node = self.node
        reqs = queue.Queue()
        create = rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=ALL, range_end=ALL, start_revision=start, progress_notify=True)).SerializeToString()
        reqs.put(create)

        def gen():
            while True:
                item = reqs.get()
                if item is None:
                    return
                yield item

        ch = grpc.insecure_channel(self.nodes[node], options=CHANNEL_OPTIONS)
        call = ch.stream_stream("/etcdserverpb.Watch/Watch", request_serializer=lambda b: b,
                                response_deserializer=rpc_pb2.WatchResponse.FromString)(gen())
        heard = [time.monotonic_ns()]
        why = ["stall"]
        done = threading.Event()

        def monitor():
            ticks = 0
            while not done.wait(0.5):
                ticks += 1
                if time.monotonic_ns() - heard[0] > self.stall_ns or self.stop:
                    why[0] = "stall" if not self.stop else "stopped"
                    call.cancel()
                    return
                if self.reached() or (self.end_asked and self.target is None):
                    why[0] = "end"
                    call.cancel()
                    return
                if ticks % 2 == 0:
                    reqs.put(PROGRESS_REQUEST)

        mon = threading.Thread(target=monitor, daemon=True)
        mon.start()
        nxt = start
        reason = None
        try:
            for resp in call:
                heard[0] = time.monotonic_ns()
                if resp.created:
                    self.rec("S", heard[0], node, start)
                if resp.compact_revision:
                    self.rec("C", heard[0], node, nxt, resp.compact_revision)
                    nxt = resp.compact_revision
                    reason = "compacted"
                    break
                if resp.canceled:
                    reason = "canceled:" + enc(resp.cancel_reason.encode())
                    break
                for ev in resp.events:
                    kv = ev.kv
                    rev = kv.mod_revision
                    if rev == self.last:
                        self.order += 1
                    else:
                        self.order = 0
                    kind = "D" if ev.type == kv_pb2.Event.DELETE else "P"
                    self.rec("E", heard[0], rev, self.order, kind, enc(kv.key),
                             "-" if kind == "D" else enc(kv.value), node)
                    if self.last is None or rev >= self.last:
                        self.last = rev
                    nxt = self.last + 1
                if self.reached():
                    reason = "end"
                    break
        except grpc.RpcError as e:
            reason = why[0] if e.code() == grpc.StatusCode.CANCELLED else e.code().name
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                print("watch.py: %s does not serve Watch" % self.nodes[node], file=sys.stderr)
        done.set()
        reqs.put(None)
        call.cancel()
        ch.close()
        reason = reason or why[0]
        self.rec("X", time.monotonic_ns(), node, reason)
        return nxt, reason

    def reached(self):
        return self.target is not None and self.last is not None and self.last >= self.target

    def other_node(self):
        if len(self.nodes) > 1:
            n = self.rng.randrange(len(self.nodes) - 1)
            self.node = n if n < self.node else n + 1

    def run(self):
        # the revision before the run's writes: every later one is watched
        r0 = self.any_revision(True, time.monotonic() + 30)
        if r0 is None:
            print("watch.py: no node answers", file=sys.stderr)
            return 2
        nxt = r0 + 1
        end_deadline = None
        while not self.stop:
            if self.end_asked and self.target is None:
                self.target = self.any_revision(True, time.monotonic() + 30)
                end_deadline = time.monotonic() + self.end_wait_s
                if self.target is None:
                    self.rec("STALL", time.monotonic_ns(), -1, self.last)
                    return 1
            if self.reached():
                self.rec("END", time.monotonic_ns(), self.target, self.last)
                return 0
            if end_deadline is not None and time.monotonic() > end_deadline:
                self.rec("STALL", time.monotonic_ns(), self.target, self.last)
                return 1
            nxt, why = self.session(nxt)
            if why not in ("end", "compacted"):
                self.other_node()
                time.sleep(0.1)
        return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stall-s", type=float, default=2.0)
    ap.add_argument("--end-wait-s", type=float, default=60.0)
    w = Watcher(ap.parse_args())

    def on_usr1(*_):
        w.end_asked = True

    def on_term(*_):
        w.stop = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)
    sys.exit(w.run())


if __name__ == "__main__":
    main()
