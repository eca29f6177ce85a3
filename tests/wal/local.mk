# tests/wal: the WAL's unit and crash tests (Check, on $TMPDIR, default
# /var/tmp: a disk file system), raftctl wal on a real log, and the WAL
# benchmark (`make bench-wal`, not part of `make check`).

check_PROGRAMS += tests/wal/test_wal
TESTS += tests/wal/test_wal
tests_wal_test_wal_SOURCES = $(CHECK_MAIN) tests/wal/test_wal.c tests/wal/ring.h
tests_wal_test_wal_CPPFLAGS = $(AM_CPPFLAGS) -DWAL_FAILPOINTS
tests_wal_test_wal_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(URING_CFLAGS)
tests_wal_test_wal_LDADD = wal/libwal_test.a base/libbase.a $(CHECK_LIBS) $(URING_LIBS)

check_PROGRAMS += tests/wal/mklog
tests_wal_mklog_SOURCES = tests/wal/mklog.c tests/wal/ring.h
tests_wal_mklog_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
tests_wal_mklog_LDADD = wal/libwal.a proto/libwire.a base/libbase.a $(URING_LIBS)

TESTS += tests/wal/raftctl_wal.sh
EXTRA_DIST += tests/wal/raftctl_wal.sh

check_PROGRAMS += tests/wal/bench_wal
tests_wal_bench_wal_SOURCES = tests/wal/bench_wal.c tests/wal/ring.h
tests_wal_bench_wal_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
tests_wal_bench_wal_LDADD = wal/libwal.a base/libbase.a $(URING_LIBS) -lm

# The benchmark: `make bench-wal [WAL_BENCH_DIR=DIR] [WAL_BENCH_SECONDS=S]`.
# One run prints every figure of the README's table (about 3 minutes). It is
# built by `make check` (so it keeps compiling) but never run by it: figures,
# no pass/fail. DIR must be on a real disk file system, not tmpfs (the output
# names the file system and device); it needs about 4 GiB free. Use a build
# configured without --enable-sanitizers.
WAL_BENCH_DIR = /var/tmp
WAL_BENCH_SECONDS = 0.5
bench-wal: tests/wal/bench_wal$(EXEEXT)
	tests/wal/bench_wal $(WAL_BENCH_DIR) $(WAL_BENCH_SECONDS)
.PHONY: bench-wal
