#!/usr/bin/env python3
"""bench/report.py — the table of bench/run, from what it measured.

wrk_cpu_s is the load generator's own CPU: wrk's, or bench/grpcload's in the
v3 rows (systems raftd-v3, etcd-v3: Put; raftd-v3-range, etcd-v3-range:
linearizable Range; their "conns" are concurrent calls).

Sections without runs (BENCH_SKIP, BENCH_ONLY) are left out.

The watch and lease rows (issue 20) come from $W/wl.tsv: one line per
bench/grpcload --op watch|lease run, "system row param rep" then key=value
fields (grpcload's GRPCLOAD line, cticks: the members' CPU ticks, lticks:
the leader's, gl_cpu_s: grpcload's CPU seconds, busy: the machine's %).

Reads $W/runs.tsv (one line per wrk run: system conns rep writes/s p50_us
p99_us errors requests wrk_cpu_s leader_cpu_ticks cluster_cpu_ticks machine_busy_percent), $W/wal.txt (tests/wal/bench_wal's output)
and the figures bench/run exports; prints results.md on stdout and writes
$BENCH_OUT/writes.tsv for bench/writes.gp.
"""
import os
import re
import statistics
import sys
import time

E = os.environ
W = E["W"]
OUT = E["BENCH_OUT"]
TCK = float(E.get("clk_tck", "100"))


def num(name, default=None):
    v = E.get(name, "")
    try:
        return float(v)
    except ValueError:
        return default


runs = {}  # (system, conns) -> list of dicts
with open(os.path.join(W, "runs.tsv")) as f:
    for line in f:
        p = line.split()
        if len(p) < 12:
            continue
        r = dict(rps=float(p[3]), p50=float(p[4]) / 1000, p99=float(p[5]) / 1000, errors=int(p[6]),
                 requests=int(p[7]), wrk=float(p[8]) * TCK, ticks=int(p[9]), cticks=int(p[10]), busy=float(p[11]))
        runs.setdefault((p[0], int(p[1])), []).append(r)


def med(system, conns, key):
    rs = runs.get((system, conns))
    return statistics.median(r[key] for r in rs) if rs else None


def spread(system, conns):
    """(max - min) / 2 / median of writes/s, in percent"""
    rs = runs.get((system, conns))
    if not rs or len(rs) < 2:
        return None
    v = [r["rps"] for r in rs]
    m = statistics.median(v)
    return 100 * (max(v) - min(v)) / 2 / m if m else None


def errors(system, conns):
    return sum(r["errors"] for r in runs.get((system, conns), []))


def cpu_per_1000(system, conns, key="ticks"):
    rs = runs.get((system, conns), [])
    n = sum(r["requests"] for r in rs)
    return sum(r[key] for r in rs) / TCK / n * 1000 if n else None


NCPU = os.cpu_count()


def total_cpu(system, conns):
    a, b = cpu_per_1000(system, conns, "cticks"), cpu_per_1000(system, conns, "wrk")
    return a + b if a is not None and b is not None else None


def others(system, conns):
    """median share of the machine's CPU used by processes other than ours"""
    rs = runs.get((system, conns))
    secs = float(E.get("BENCH_SECS", "5"))
    if not rs:
        return None
    return statistics.median(max(0.0, r["busy"] - 100 * (r["cticks"] + r["wrk"]) / TCK / secs / NCPU) for r in rs)


def ratio(a, b):
    return a / b if a is not None and b else None


def f(v, fmt="{:.0f}", none="–"):
    return none if v is None else fmt.format(v)


def x(v):
    return f(v, "{:.2f}x")


conns = sorted({c for (s, c) in runs if s == "raftd"})
reps = max((len(v) for v in runs.values()), default=0)
out = []
w = out.append

w("# raftd against etcd: one run of `bench/run`")
w("")
w(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; raftd commit {E.get('commit')}"
  + (f" (+{E.get('dirty')} uncommitted files)" if E.get("dirty", "0") not in ("", "0") else "")
  + f"; etcd {E.get('etcd_version')} (Debian); wrk {E.get('wrk_version')}; {os.cpu_count()} CPUs"
  f" ({E.get('cpu')}); kernel {os.uname().release}; data on {E.get('fstype')} ({E.get('dev')});"
  f" load average {E.get('load_before')} before, {E.get('load_after')} after.")
w("")
moves = [f"{n} moved {E.get(v)} time(s)" for n, v in (("raftd's leader", "raftd_moves"), ("etcd's leader", "etcd_moves"))
         if E.get(v, "0") not in ("", "0")]
if moves:
    w(f"Leadership changed under load: {', '.join(moves)}; each point was run against whoever led at its start.")
    w("")
if E.get("retries", "0") not in ("", "0"):
    w(f"{E.get('retries')} run(s) had errors (a leader change, timeouts) and were run again; only the last try counts.")
    w("")
if E.get("sanitized"):
    w("**RAFTD was built with sanitizers: these figures say little about raftd. Use a build configured without them.**")
    w("")

# ---- writes
if conns:
    w(f"## Writes: 3 nodes on loopback, 100-byte values over 1,000 keys, to the leader")
    w("")
    w(f"Median of {reps} runs of {E.get('BENCH_SECS')} s per point (after 1 s of warm-up);"
      " ± is half the spread of writes/s between the runs. p50/p99 are wrk's, in ms. \"others\" is the share of"
      f" the machine's {NCPU} CPUs used by neither the 3 nodes nor wrk during raftd's / etcd's runs: other people's"
      " jobs on this shared machine, and kernel threads (block I/O completions, softirqs).")
    w("")
    w("| connections | raftd writes/s | p50 | p99 | etcd writes/s | p50 | p99 | writes/s raftd/etcd | p50 raftd/etcd | others |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    tsv = []
    for c in conns:
        rr, er = med("raftd", c, "rps"), med("etcd", c, "rps")
        rs, es = spread("raftd", c), spread("etcd", c)
        cells = [str(c),
                 f(rr) + (f" ±{rs:.0f}%" if rs is not None else "") + (f" ({errors('raftd', c)} errors)" if errors("raftd", c) else ""),
                 f(med("raftd", c, "p50"), "{:.2f}"), f(med("raftd", c, "p99"), "{:.2f}"),
                 f(er) + (f" ±{es:.0f}%" if es is not None else "") + (f" ({errors('etcd', c)} errors)" if errors("etcd", c) else ""),
                 f(med("etcd", c, "p50"), "{:.2f}"), f(med("etcd", c, "p99"), "{:.2f}"),
                 x(ratio(rr, er)), x(ratio(med("raftd", c, "p50"), med("etcd", c, "p50"))),
                 f"{f(others('raftd', c), '{:.0f}%')} / {f(others('etcd', c), '{:.0f}%')}"]
        w("| " + " | ".join(cells) + " |")
        tsv.append(f"{c}\t{rr}\t{med('raftd', c, 'p99')}\t{er}\t{med('etcd', c, 'p99')}\t{med('raftd', c, 'p50')}\t{med('etcd', c, 'p50')}")
    with open(os.path.join(OUT, "writes.tsv"), "w") as t:
        t.write("# conns raftd_wps raftd_p99_ms etcd_wps etcd_p99_ms raftd_p50_ms etcd_p50_ms\n")
        t.write("\n".join(tsv) + "\n")
    w("")
    w("![writes/s and p99 against connections](writes.png)")
    w("")

# ---- reads
rc = int(E.get("READ_CONNS", "64"))
if runs.get(("raftd-local", rc)):
    w(f"## Reads: {rc} connections, to the leader")
    w("")
    w("| raftd | reads/s | p50 | p99 | etcd | reads/s | p50 | p99 | reads/s raftd/etcd |")
    w("|---|---:|---:|---:|---|---:|---:|---:|---:|")
    for a, b, an, bn in (("raftd-local", "etcd-serializable", "local `GET /db/k`", "serializable range"),
                         ("raftd-consistent", "etcd-linearizable", "`?consistent=true` (ReadIndex)", "linearizable range")):
        ra, rb = med(a, rc, "rps"), med(b, rc, "rps")
        ea, eb = errors(a, rc), errors(b, rc)
        w(f"| {an} | {f(ra)}{f' ({ea} errors)' if ea else ''} | {f(med(a, rc, 'p50'), '{:.2f}')} | {f(med(a, rc, 'p99'), '{:.2f}')} "
          f"| {bn} | {f(rb)}{f' ({eb} errors)' if eb else ''} | {f(med(b, rc, 'p50'), '{:.2f}')} | {f(med(b, rc, 'p99'), '{:.2f}')} | {x(ratio(ra, rb))} |")
    if runs.get(("raftd-local", 1)):
        a, b = "raftd-local", "etcd-serializable"
        w(f"| local, 1 connection | {f(med(a, 1, 'rps'))} | {f(med(a, 1, 'p50'), '{:.2f}')} | {f(med(a, 1, 'p99'), '{:.2f}')} "
          f"| serializable, 1 connection | {f(med(b, 1, 'rps'))} | {f(med(b, 1, 'p50'), '{:.2f}')} | {f(med(b, 1, 'p99'), '{:.2f}')} "
          f"| {x(ratio(med(a, 1, 'rps'), med(b, 1, 'rps')))} |")
    w("")

# ---- etcd's v3 API over gRPC (issue 19)
v3_clients = [int(c) for c in E.get("BENCH_V3_CLIENTS", "").split()]
v3_rows = [("Put", "v3", c) for c in v3_clients] + [("linearizable Range", "v3-range", rc)]
v3_rows = [r for r in v3_rows if runs.get(("etcd-" + r[1], r[2])) or runs.get(("raftd-" + r[1], r[2]))]


def cpu_ms(system, c):
    """the three members' CPU ms per call (= CPU s per 1,000 calls)"""
    return cpu_per_1000(system, c, "cticks")


if v3_rows:
    w("## etcd's v3 API over gRPC: 3 nodes on loopback, `bench/grpcload` at the leader")
    w("")
    w(f"Median of {reps} runs of {E.get('BENCH_SECS')} s per point, raftd and etcd interleaved, on the clusters of the"
      " write rows (raftd's v3 API on its `--grpc-listen` port, etcd's on its client port). `bench/grpcload`"
      f" (C, one thread, nghttp2; commit {E.get('grpcload_version') or '?'}) keeps that many calls outstanding,"
      f" {E.get('BENCH_V3_PER_CONN', '8')} per HTTP/2 connection; 100-byte values over 1,000 keys. p50/p99 in ms."
      " Members' CPU is the three nodes' CPU ms per call (/proc/PID/stat); grpcload's is its own.")
    if E.get("v3_note"):
        w("")
        w(f"**{E.get('v3_note')}.**")
    w("")
    w("| call | in flight | raftd calls/s | p50 | p99 | members' CPU ms per call | etcd calls/s | p50 | p99 "
      "| members' CPU ms per call | calls/s raftd/etcd | p50 raftd/etcd | CPU per call raftd/etcd "
      "| grpcload CPU ms per call: raftd / etcd |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, sy, c in v3_rows:
        cells = [name, str(c)]
        for pre in ("raftd-", "etcd-"):
            sys_ = pre + sy
            sp = spread(sys_, c)
            cells += [f(med(sys_, c, "rps")) + (f" ±{sp:.0f}%" if sp is not None else "")
                      + (f" ({errors(sys_, c)} errors)" if errors(sys_, c) else ""),
                      f(med(sys_, c, "p50"), "{:.2f}"), f(med(sys_, c, "p99"), "{:.2f}"), f(cpu_ms(sys_, c), "{:.3f}")]
        r, e = "raftd-" + sy, "etcd-" + sy
        cells += [x(ratio(med(r, c, "rps"), med(e, c, "rps"))), x(ratio(med(r, c, "p50"), med(e, c, "p50"))),
                  x(ratio(cpu_ms(r, c), cpu_ms(e, c))),
                  f"{f(cpu_per_1000(r, c, 'wrk'), '{:.4f}')} / {f(cpu_per_1000(e, c, 'wrk'), '{:.4f}')}"]
        w("| " + " | ".join(cells) + " |")
    w("")
    # raftd's own HTTP API (the /db rows above) against etcd's gRPC, where both have the concurrency
    both = [c for c in v3_clients if runs.get(("raftd", c)) and runs.get(("etcd-v3", c))]
    if both:
        w("raftd's `/db` (HTTP, wrk, the write rows above) against etcd's gRPC at the same concurrency:")
        w("")
        w("| in flight | raftd `/db` writes/s | etcd v3 Put calls/s | raftd/etcd | p50 raftd/etcd "
          "| members' CPU ms per write: raftd `/db` | etcd v3 | raftd/etcd |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in both:
            w(f"| {c} | {f(med('raftd', c, 'rps'))} | {f(med('etcd-v3', c, 'rps'))} "
              f"| {x(ratio(med('raftd', c, 'rps'), med('etcd-v3', c, 'rps')))} "
              f"| {x(ratio(med('raftd', c, 'p50'), med('etcd-v3', c, 'p50')))} "
              f"| {f(cpu_ms('raftd', c), '{:.3f}')} | {f(cpu_ms('etcd-v3', c), '{:.3f}')} "
              f"| {x(ratio(cpu_ms('raftd', c), cpu_ms('etcd-v3', c)))} |")
        w("")

# ---- Watch fan-out and lease churn (issue 20)
wl = {}  # (system, row, param) -> list of dicts
wl_path = os.path.join(W, "wl.tsv")
if os.path.exists(wl_path):
    with open(wl_path) as fh:
        for line in fh:
            p = line.split()
            if len(p) < 5:
                continue
            d = {}
            for kv in p[4:]:
                k, _, v = kv.partition("=")
                try:
                    d[k] = float(v)
                except ValueError:
                    d[k] = v
            wl.setdefault((p[0], p[1], int(p[2])), []).append(d)


def wmed(system, row, param, key):
    v = [r[key] for r in wl.get((system, row, param), []) if isinstance(r.get(key), float) and r[key] == r[key]]
    return statistics.median(v) if v else None


def wsum(system, row, param, key):
    return sum(r.get(key, 0) for r in wl.get((system, row, param), []) if isinstance(r.get(key), float))


def wmax(system, row, param, key):
    v = [r[key] for r in wl.get((system, row, param), []) if isinstance(r.get(key), float) and r[key] == r[key]]
    return max(v) if v else None


watchers = sorted({pa for (sy, ro, pa) in wl if ro == "watch"})
if watchers:
    rate = float(E.get("BENCH_WATCH_RATE", "100"))
    w("## Watch fan-out: watchers on one prefix at the leader, one writer (`bench/grpcload --op watch`)")
    w("")
    w(f"Median of the runs ({reps if reps else E.get('BENCH_REPS')} per point, raftd and etcd interleaved, on the clusters of"
      f" the write rows). The watchers share {E.get('BENCH_WATCH_CONNS', '100')} HTTP/2 connections, one Watch stream per"
      " connection carrying its share of the watches (as the watches of one etcd client context share a stream);"
      f" one writer on a connection of its own puts 100-byte values under the prefix at {rate:.0f} puts/s for"
      f" {E.get('BENCH_SECS')} s, open-loop (a write leaves at its time whatever the earlier ones did), so watchers ×"
      f" {rate:.0f} events/s are offered. events/s: all watchers' events from the first write to the last event."
      " p50/p99: from a write's acknowledgement (its Put answered) to its event at the last watcher to get it, in ms"
      " (0 when every watcher had it before the answer came); \"from the send\": the p99 from the Put's sending instead."
      " KiB per watcher: the leader's VmRSS once every watch is created minus before the connections opened, over the"
      " watchers (the connections' cost included; a Go heap reuses what earlier runs freed, so the largest of the"
      " runs is shown). Members' CPU: the three nodes' µs per delivered event; grpcload's, its own. events/s cannot"
      " exceed the offered load: a ratio to etcd's shows only where etcd delivers less than it.")
    if E.get("watch_note"):
        w("")
        w(f"**{E.get('watch_note')}.**")
    w("")
    w("| watchers | offered events/s | raftd events/s | p50 | p99 | p99 from the send | KiB per watcher | members' CPU µs per event "
      "| etcd events/s | p50 | p99 | p99 from the send | KiB per watcher | members' CPU µs per event | events/s raftd/etcd | p99 raftd/etcd "
      "| grpcload CPU µs per event: raftd / etcd | machine busy |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def wcpu(sy, nw, key="cticks"):
        ev = wsum(sy, "watch", nw, "events")
        t = wsum(sy, "watch", nw, key)
        if key != "gl_cpu_s":
            t /= TCK
        return t / ev * 1e6 if ev else None

    for nw in watchers:
        cells = [f"{nw:,}", f"{nw * rate:,.0f}"]
        for sy in ("raftd", "etcd"):
            mi, mo, er = (wsum(sy, "watch", nw, k) for k in ("missing", "misordered", "errors"))
            note = ""
            if mi or mo:
                note += f" ({mi:.0f} events missing, {mo:.0f} out of order or twice)"
            if er:
                note += f" ({er:.0f} failed calls: Puts, or the watch stream)"
            cells += [f(wmed(sy, "watch", nw, "events_per_s")) + note, f(wmed(sy, "watch", nw, "p50_ms"), "{:.1f}"),
                      f(wmed(sy, "watch", nw, "p99_ms"), "{:.1f}"), f(wmed(sy, "watch", nw, "sent_p99_ms"), "{:.1f}"),
                      f(wmax(sy, "watch", nw, "kib_per_watcher"), "{:.2f}"),
                      f(wcpu(sy, nw), "{:.2f}")]
        cells += [x(ratio(wmed("raftd", "watch", nw, "events_per_s"), wmed("etcd", "watch", nw, "events_per_s"))),
                  x(ratio(wmed("raftd", "watch", nw, "p99_ms"), wmed("etcd", "watch", nw, "p99_ms"))),
                  f"{f(wcpu('raftd', nw, 'gl_cpu_s'), '{:.3f}')} / {f(wcpu('etcd', nw, 'gl_cpu_s'), '{:.3f}')}",
                  f"{f(wmed('raftd', 'watch', nw, 'busy'), '{:.0f}%')} / {f(wmed('etcd', 'watch', nw, 'busy'), '{:.0f}%')}"]
        w("| " + " | ".join(cells) + " |")
    w("")

leases = sorted({pa for (sy, ro, pa) in wl if ro == "lease"})


def lcpu(sy, n, key="cticks"):
    """CPU ms per lease operation (grant, attach, keep-alive, expiry/revoke)"""
    ops = wsum(sy, "lease", n, "ops")
    t = wsum(sy, "lease", n, key)
    if key != "gl_cpu_s":
        t /= TCK
    return t / ops * 1e3 if ops else None


if leases:
    end = E.get("BENCH_LEASE_END", "expire")
    w("## Lease churn at the leader (`bench/grpcload --op lease`)")
    w("")
    w(f"Median of the runs, raftd and etcd interleaved, on the same clusters. Each lease is granted with TTL 1 (raised"
      f" by the server to its minimum: the TTL column), a key put with it, one keep-alive sent on a LeaseKeepAlive"
      f" stream (one per connection, 8 connections), then {'revoked' if end == 'revoke' else 'left to expire (expiries start while later leases are granted)'};"
      f" {E.get('BENCH_LEASE_CLIENTS', '64')} leases in flight. ops/s: grants + attaches + keep-alives"
      f"{' + revokes' if end == 'revoke' else ''} per second while they run; all gone: from the last of those, and from the first grant, until the"
      " prefix has no key and LeaseLeases lists none of the run's leases (a count_only Range, then LeaseLeases, every"
      " 100 ms). CPU per lease operation (grant, attach, keep-alive, expiry or revoke: 4 per lease): the three"
      " members' from /proc/PID/stat around the whole run, idle waiting included; grpcload's, its own.")
    if E.get("lease_note"):
        w("")
        w(f"**{E.get('lease_note')}.**")
    w("")
    w("| leases | raftd TTL | ops/s | all gone: after the last op / after the first | members' CPU ms per op "
      "| etcd TTL | ops/s | all gone: after the last op / after the first "
      "| members' CPU ms per op | CPU per op raftd/etcd | grpcload CPU ms per op: raftd / etcd | machine busy |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in leases:
        cells = [f"{n:,}"]
        for sy in ("raftd", "etcd"):
            er = wsum(sy, "lease", n, "errors")
            cells += [f(wmed(sy, "lease", n, "ttl"), "{:.0f} s"),
                      f(wmed(sy, "lease", n, "ops_per_s")) + (f" ({er:.0f} errors)" if er else ""),
                      f(wmed(sy, "lease", n, "gone_secs"), "{:.1f} s") + " / " + f(wmed(sy, "lease", n, "total_secs"), "{:.1f} s"),
                      f(lcpu(sy, n), "{:.4f}")]
        cells += [x(ratio(lcpu("raftd", n), lcpu("etcd", n))),
                  f"{f(lcpu('raftd', n, 'gl_cpu_s'), '{:.4f}')} / {f(lcpu('etcd', n, 'gl_cpu_s'), '{:.4f}')}",
                  f"{f(wmed('raftd', 'lease', n, 'busy'), '{:.0f}%')} / {f(wmed('etcd', 'lease', n, 'busy'), '{:.0f}%')}"]
        w("| " + " | ".join(cells) + " |")
    w("")

# ---- TLS (issue 18)
tls_conns = [int(c) for c in E.get("BENCH_TLS_CONNS", "").split()]
if any(runs.get((sy, c)) for sy in ("raftd-tls", "etcd-tls") for c in tls_conns):
    w("## Writes with TLS: raftd with TLS against etcd with TLS")
    w("")
    w(f"The same load as the plain writes (100-byte values over 1,000 keys, to the leader), median of {reps} runs of"
      f" {E.get('BENCH_SECS')} s per point, raftd and etcd interleaved, after the plain clusters stopped. Both clusters"
      " alike: each node has its certificate (tests/lib/mkcerts.sh: ECDSA P-256, one CA); clients speak https and"
      " see the server's certificate only (wrk sends no client certificate, so neither system asks for one: no"
      " `--trusted-ca-file`, no `--client-cert-auth`); members use mutual TLS (`--peer-cert-file`, `--peer-key-file`,"
      " `--peer-trusted-ca-file`, `--peer-client-cert-auth`, https member URLs). CPU is each leader's, from"
      " /proc/PID/stat.")
    if E.get("tls_negotiated"):
        w(f"What a client (OpenSSL, as wrk) negotiates, {'raftd; etcd' if E.get('tls_raftd') else 'etcd'}:"
          f" {E.get('tls_negotiated')}.")
    if E.get("tls_note"):
        w("")
        w(f"**{E.get('tls_note')}.**")
    w("")
    w("| connections | raftd TLS writes/s | p50 | p99 | etcd TLS writes/s | p50 | p99 | writes/s raftd/etcd "
      "| leader CPU s per 1,000 writes: raftd | etcd | CPU per write etcd/raftd | others |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in tls_conns:
        cells = [str(c)]
        for sy in ("raftd-tls", "etcd-tls"):
            sp = spread(sy, c)
            cells += [f(med(sy, c, "rps")) + (f" ±{sp:.0f}%" if sp is not None else "")
                      + (f" ({errors(sy, c)} errors)" if errors(sy, c) else ""),
                      f(med(sy, c, "p50"), "{:.2f}"), f(med(sy, c, "p99"), "{:.2f}")]
        rc_, ec_ = cpu_per_1000("raftd-tls", c), cpu_per_1000("etcd-tls", c)
        cells += [x(ratio(med("raftd-tls", c, "rps"), med("etcd-tls", c, "rps"))),
                  f(rc_, "{:.3f}"), f(ec_, "{:.3f}"), x(ratio(ec_, rc_)),
                  f"{f(others('raftd-tls', c), '{:.0f}%')} / {f(others('etcd-tls', c), '{:.0f}%')}"]
        w("| " + " | ".join(cells) + " |")
    w("")
    # what TLS costs each system, where the plain rows of this run have the same connections
    both = [c for c in tls_conns if runs.get(("raftd", c)) or runs.get(("etcd", c))]
    if both:
        w("What TLS costs each, against the plain rows of this run: writes/s and leader CPU per write with TLS"
          " over without.")
        w("")
        w("| connections | raftd writes/s | raftd CPU per write | etcd writes/s | etcd CPU per write |")
        w("|---:|---:|---:|---:|---:|")
        for c in both:
            w(f"| {c} | {x(ratio(med('raftd-tls', c, 'rps'), med('raftd', c, 'rps')))} "
              f"| {x(ratio(cpu_per_1000('raftd-tls', c), cpu_per_1000('raftd', c)))} "
              f"| {x(ratio(med('etcd-tls', c, 'rps'), med('etcd', c, 'rps')))} "
              f"| {x(ratio(cpu_per_1000('etcd-tls', c), cpu_per_1000('etcd', c)))} |")
        w("")

# ---- copies
d = {k: num(f"m1_{k}", 0) - num(f"m0_{k}", 0) for k in ("entry", "zc", "zck", "cp", "batches", "writes")}
zc_low = max(0.0, d["entry"] - d["cp"]) / d["entry"] if d["entry"] else None
if conns:
    w("## Copies: the raftd leader's `/metrics` across the write runs")
    w("")
    w("| counter (delta over the write runs) | bytes |")
    w("|---|---:|")
    w(f"| `raftd_append_entry_bytes_sent_total` (entry bytes in AppendEntries, both peers) | {d['entry']:.0f} |")
    w(f"| `raftd_peer_bytes_zerocopy_total` (sent with SENDMSG_ZC: entries + request heads) | {d['zc']:.0f} |")
    w(f"| `raftd_peer_bytes_zerocopy_kernel_copied_total` (of those, the kernel copied anyway) | {d['zck']:.0f} |")
    w(f"| `raftd_peer_bytes_copied_total` (plain sendmsg: heartbeats, votes, other RPCs) | {d['cp']:.0f} |")
    w("")
    if d["entry"]:
        w(f"Entry bytes handed to the kernel zero-copy: at least {100 * zc_low:.2f}% (even if every plain-sendmsg byte "
          f"were an entry byte); the SENDMSG_ZC bytes are {d['zc'] / d['entry']:.3f}x the entry bytes. "
          f"The kernel reported {100 * d['zck'] / d['zc'] if d['zc'] else 0:.1f}% of the zero-copy bytes as copied: "
          "on loopback it must copy them into the receiver's socket (see the README). "
          f"WAL batches: {d['batches']:.0f} for {d['writes']:.0f} writes applied "
          f"({d['writes'] / d['batches'] if d['batches'] else 0:.1f} writes per fdatasync on the leader).")
        w("")

# ---- resources
res = []  # the rows of the resources table
for c in (64, 256):
    if runs.get(("raftd", c)):
        res.append(f"| leader CPU seconds per 1,000 writes, {c} connections | {f(cpu_per_1000('raftd', c), '{:.3f}')} | {f(cpu_per_1000('etcd', c), '{:.3f}')} |")
        res.append(f"| all 3 nodes' CPU seconds per 1,000 writes, {c} connections | {f(cpu_per_1000('raftd', c, 'cticks'), '{:.3f}')} | {f(cpu_per_1000('etcd', c, 'cticks'), '{:.3f}')} |")
        res.append(f"| machine CPU busy during those runs (wrk, the nodes, everyone else) | {f(med('raftd', c, 'busy'), '{:.0f}%')} | {f(med('etcd', c, 'busy'), '{:.0f}%')} |")
for c in (64, 256):
    if runs.get(("raftd", c)):
        res.append(f"| wrk's own CPU seconds per 1,000 requests, {c} connections | {f(cpu_per_1000('raftd', c, 'wrk'), '{:.3f}')} | {f(cpu_per_1000('etcd', c, 'wrk'), '{:.3f}')} |")
        a, b = total_cpu("raftd", c), total_cpu("etcd", c)
        res.append(f"| nodes + wrk CPU seconds per 1,000 writes → the most writes/s {NCPU} CPUs allow, {c} connections "
                   f"| {f(a, '{:.3f}')} → {f(a and NCPU / a * 1000)} | {f(b, '{:.3f}')} → {f(b and NCPU / b * 1000)} |")
rcl, ecl = num("raftd_rss_cluster"), num("etcd_rss_cluster")
if conns:
    res.append(f"| leader RSS after the write and read runs (1,000 keys) | {f(rcl and rcl / 1024, '{:.1f} MiB')} | {f(ecl and ecl / 1024, '{:.1f} MiB')} |")
rss, kvb, keys = num("rss_full"), num("rss_kv_bytes"), num("rss_keys")
if rss:
    res.append(f"| RSS of one node holding {keys:.0f} keys of 100-byte values ({kvb / 1e6:.1f} MB of keys and values; empty node {num('rss_empty', 0) / 1024:.1f} MiB) | {rss / 1024:.1f} MiB = {rss * 1024 / kvb:.2f}x the data | not measured |")
    if num("rss_anon") is not None and num("rss_file") is not None:
        res.append(f"| of that RSS: heap (RssAnon) / mapped files (RssFile: the WAL's mmapped segments, {num('wal_bytes_1m', 0) / 2**20:.0f} MiB on disk) "
                   f"| {num('rss_anon') / 1024:.1f} MiB = {num('rss_anon') * 1024 / kvb:.2f}x / {num('rss_file') / 1024:.1f} MiB | |")
    res.append(f"| loading those keys, 64 connections, one node | {f(num('rss_load_rate'))} writes/s | |")


def times(s):
    m = dict(re.findall(r"(\w+)=([0-9.]+|NA)", s or ""))
    return {k: (float(v) if v != "NA" else None) for k, v in m.items()}


sr = times(E.get("snap_restart"))
if sr and sr.get("rss_kib") and kvb:
    res.append(f"| RSS of that node restarted from its snapshot (no load behind it), when serving: all / heap "
               f"| {sr['rss_kib'] / 1024:.1f} MiB = {sr['rss_kib'] * 1024 / kvb:.2f}x / "
               f"{f(sr.get('anon_kib') and sr['anon_kib'] / 1024, '{:.1f} MiB')} | |")
if sr:
    res.append(f"| start → READY / → serving a consistent read, from a snapshot ({num('snap_bytes', 0) / 1e6:.0f} MB, {keys:.0f} keys) "
               f"+ a tail of {f(num('tail_entries'))} entries | {f(sr.get('ready'), '{:.3f} s')} / {f(sr.get('serving'), '{:.3f} s')} | |")
lc, lw = times(E.get("log_cold")), times(E.get("log_warm"))
if lc:
    lb = num("log_bytes", 0)
    res.append(f"| start → READY / → serving, {lb / 2**30:.2f} GiB log ({f(num('log_entries'))} entries of 64 KiB, no snapshot), "
               f"log not in the page cache | {f(lc.get('ready'), '{:.3f} s')} / {f(lc.get('serving'), '{:.3f} s')} | |")
    res.append(f"| the same, log in the page cache | {f(lw.get('ready'), '{:.3f} s')} / {f(lw.get('serving'), '{:.3f} s')} | |")
    res.append(f"| reading those WAL files with `cat`, not in the page cache (the disk's floor) | {f(num('read_cold'), '{:.3f} s')} "
               f"({lb / num('read_cold', 1) / 1e9:.2f} GB/s) | |")
if res:
    w("## Resources")
    w("")
    w("| figure | raftd | etcd |")
    w("|---|---:|---:|")
    for row in res:
        w(row)
    w("")

# ---- WAL
wal_path = os.path.join(W, "wal.txt")
wal_p50 = None
if os.path.exists(wal_path):
    text = open(wal_path).read()
    lines = text.splitlines()
    w("## WAL group commit (`tests/wal/bench_wal`, same run)")
    w("")
    w("```")
    # the concurrent-proposers section (group commit against the raw
    # fdatasync rate) and the goals block; all of it if the format changed
    keep, on = [], False
    for l in lines:
        if re.match(r"^\d\. (default mode|recovery)", l) or l.startswith("goals"):
            on = True
        elif on and not l.strip():
            on = False
        if on or re.match(r"^\s+4 KiB (pwrite \+ fdatasync, O_DIRECT|io_uring write, RWF_DSYNC)", l):
            keep.append(l)
    w("\n".join(keep) if keep else "\n".join(lines[-30:]))
    w("```")
    w("")
    # the WAL's own 1-proposer p50: one durable append, nothing else
    m = re.search(r"^\s*1 proposers?\s.*?p50\s+([0-9.]+) us", text, re.M)
    if m:
        wal_p50 = float(m.group(1)) / 1000

# ---- goals
w("## Goals")
w("")
w("| goal | measured | |")
w("|---|---|---|")


def goal(name, measured, ok):
    w(f"| {name} | {measured} | {'met' if ok else ('**missed**' if ok is not None else 'not measured')} |")


if conns:
    for c in (64, 256):
        r = ratio(med("raftd", c, "rps"), med("etcd", c, "rps"))
        note = ""
        if r is not None:
            a, b, wr = total_cpu("raftd", c), total_cpu("etcd", c), cpu_per_1000("raftd", c, "wrk")
            if a and b and wr:
                note = (f" (machine {f(med('raftd', c, 'busy'), '{:.0f}')}% busy; CPU per write, nodes + wrk: "
                        f"etcd {b / a:.2f}x raftd's; a raftd costing no CPU at all would be held by wrk to ≤ {b / wr:.1f}x)")
        goal(f"writes/s ≥ 4x etcd at {c} connections", x(r) + note, None if r is None else r >= 4)
    r = ratio(med("raftd", 1, "p50"), med("etcd", 1, "p50"))
    floor = ""
    if wal_p50 is not None and med("raftd-local", 1, "p50") is not None:
        fl = wal_p50 + 2 * med("raftd-local", 1, "p50")
        floor = (f"; floor here: one durable WAL append {wal_p50:.2f} ms + 2 HTTP round trips through raftd"
                 f" {med('raftd-local', 1, 'p50'):.2f} ms each = {fl:.2f} ms = {fl / med('etcd', 1, 'p50'):.2f}x etcd's p50")
    goal("1-connection p50 ≤ 0.6x etcd's", f"{x(r)} ({f(med('raftd', 1, 'p50'), '{:.2f}')} ms against {f(med('etcd', 1, 'p50'), '{:.2f}')} ms"
         + floor + ")", None if r is None else r <= 0.6)
    r = ratio(med("raftd-consistent", rc, "rps"), med("etcd-linearizable", rc, "rps"))
    ce = errors("raftd-consistent", rc)
    goal("consistent reads ≥ 2x etcd linearizable", x(r) + (f" ({ce} raftd errors)" if ce else ""),
         None if r is None else r >= 2 and not ce)
    goal("≥ 99% of entry bytes sent zero-copy", f(zc_low and 100 * zc_low, "≥ {:.2f}%"), None if zc_low is None else zc_low >= 0.99)
for c in tls_conns:
    if runs.get(("etcd-tls", c)):
        r = ratio(med("raftd-tls", c, "rps"), med("etcd-tls", c, "rps"))
        cr = ratio(cpu_per_1000("etcd-tls", c), cpu_per_1000("raftd-tls", c))
        goal(f"with TLS, writes/s ≥ 4x etcd with TLS at {c} connections",
             x(r) + (f" (leader CPU per write: etcd {cr:.2f}x raftd's)" if cr else "")
             + (" (raftd with TLS not measured: see its table)" if E.get("tls_note") else ""),
             None if r is None else r >= 4)
if v3_rows:
    for c in (64, 256):
        if runs.get(("etcd-v3", c)):
            r = ratio(cpu_ms("raftd-v3", c), cpu_ms("etcd-v3", c))
            goal(f"v3 Put: members' CPU per write ≤ 1/5 etcd's at {c} calls",
                 f"{x(r)} ({f(cpu_ms('raftd-v3', c), '{:.3f}')} against {f(cpu_ms('etcd-v3', c), '{:.3f}')} ms)",
                 None if r is None else r <= 0.2)
            r = ratio(med("raftd-v3", c, "rps"), med("etcd-v3", c, "rps"))
            goal(f"v3 Put: writes/s ≥ 5x etcd's at {c} calls", x(r), None if r is None else r >= 5)
    if runs.get(("etcd-v3", 1)):
        r = ratio(med("raftd-v3", 1, "p50"), med("etcd-v3", 1, "p50"))
        goal("v3 Put: 1-call p50 ≤ 0.5x etcd's",
             f"{x(r)} ({f(med('raftd-v3', 1, 'p50'), '{:.2f}')} ms against {f(med('etcd-v3', 1, 'p50'), '{:.2f}')} ms)",
             None if r is None else r <= 0.5)
    if runs.get(("etcd-v3-range", rc)):
        r = ratio(med("raftd-v3-range", rc, "rps"), med("etcd-v3-range", rc, "rps"))
        ce = errors("raftd-v3-range", rc)
        goal("v3 linearizable Range: reads/s ≥ 3x etcd's", x(r) + (f" ({ce} raftd errors)" if ce else ""),
             None if r is None else r >= 3 and not ce)
for nw in watchers:
    r = ratio(wmed("raftd", "watch", nw, "events_per_s"), wmed("etcd", "watch", nw, "events_per_s"))
    bad = sum(wsum("raftd", "watch", nw, k) for k in ("missing", "misordered"))
    er = wsum("raftd", "watch", nw, "errors")
    goal(f"watch, {nw:,} watchers: events/s ≥ 5x etcd's",
         x(r) + (f" (offered {nw * float(E.get('BENCH_WATCH_RATE', '100')):,.0f}/s)" if r is not None else "")
         + (" (raftd not measured: see its table)" if E.get("watch_note") else "")
         + (" (raftd lost or reordered events: see its table)" if bad else "")
         + (f" ({er:.0f} raftd calls failed: see its table)" if er else ""),
         None if r is None else r >= 5 and not bad)
    r = ratio(wmed("raftd", "watch", nw, "p99_ms"), wmed("etcd", "watch", nw, "p99_ms"))
    goal(f"watch, {nw:,} watchers: p99 write → last watcher ≤ 0.5x etcd's",
         x(r) + (f" ({f(wmed('raftd', 'watch', nw, 'p99_ms'), '{:.1f}')} against {f(wmed('etcd', 'watch', nw, 'p99_ms'), '{:.1f}')} ms)" if r is not None else ""),
         None if r is None else r <= 0.5 and not bad)
for n in leases:
    r = ratio(lcpu("raftd", n), lcpu("etcd", n))
    er = wsum("raftd", "lease", n, "errors")
    goal(f"lease churn, {n:,} leases: members' CPU per lease operation ≤ 1/3 etcd's",
         x(r) + (f" ({f(lcpu('raftd', n), '{:.4f}')} against {f(lcpu('etcd', n), '{:.4f}')} ms)" if r is not None else "")
         + (" (raftd not measured: see its table)" if E.get("lease_note") else "") + (f" ({er:.0f} raftd errors)" if er else ""),
         None if r is None else r <= 1 / 3 and not er)
if rss:
    goal("RSS ≤ 2x the raw data at 1M keys", f"{rss * 1024 / kvb:.2f}x", rss * 1024 / kvb <= 2)
if lc:
    for name, t in (("not in the page cache", lc), ("in the page cache", lw)):
        s = t.get("serving")
        goal(f"restart to serving with a 1 GiB log < 2 s ({name})", f(s, "{:.3f} s"), None if s is None else s < 2)
w("")
sys.stdout.write("\n".join(out) + "\n")
