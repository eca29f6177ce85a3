# bench/local.mk — `make bench`: raftd against etcd on this machine, one run,
# one table (bench/run, issue 9). Not part of `make check` (but for the smoke
# test of its gRPC load generator, below). Settings go on the
# command line and reach bench/run through the environment, e.g.
#   make bench BENCH_SECS=3 BENCH_REPS=1 BENCH_SKIP=wal,rss,restart
#   make bench BENCH_ONLY=tls          (the TLS row alone, issue 18)
#   make bench BENCH_ONLY=v3           (the v3 gRPC rows alone, issue 19)
#   make bench BENCH_ONLY=watch,lease  (watch fan-out and lease churn, issue 20)
# Results: $(srcdir)/bench/results/ (results.md, writes.png, perf-leader.txt).
EXTRA_DIST += bench/run bench/stability.sh bench/wrk.lua bench/report.py bench/starttime.py bench/flame.py bench/writes.gp

bench: src/raftd/raftd$(EXEEXT) tests/wal/bench_wal$(EXEEXT) bench/grpcload$(EXEEXT)
	RAFTD='$(abs_top_builddir)/src/raftd/raftd$(EXEEXT)' \
	BENCH_WAL='$(abs_top_builddir)/tests/wal/bench_wal$(EXEEXT)' \
	GRPCLOAD='$(abs_top_builddir)/bench/grpcload$(EXEEXT)' \
	$(top_srcdir)/bench/run
.PHONY: bench

# bench/grpcload: the gRPC load generator for the v3 rows (issue 19), on
# nghttp2's client and the etcd schema of proto/etcd.
# Built by make check (its smoke test) and make bench, as tests/wal/bench_wal.
check_PROGRAMS += bench/grpcload
bench_grpcload_SOURCES = bench/grpcload.c
bench_grpcload_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS) $(NGHTTP2_CFLAGS)
bench_grpcload_LDADD = proto/libetcdpb.a $(PROTOBUFC_LIBS) $(NGHTTP2_LIBS) -lm
EXTRA_bench_grpcload_DEPENDENCIES = proto/etcd/pb.stamp
# Its smoke test: a second against one real etcd (skips without etcd-server).
TESTS += bench/grpcload-smoke.sh
EXTRA_DIST += bench/grpcload-smoke.sh
