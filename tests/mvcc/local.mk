# MVCC store: unit tests (every rule, a randomized model test, allocation
# failures) and a memory benchmark built with the tests but run only by
# `make bench-mvcc`.
check_PROGRAMS += tests/mvcc/test_mvcc
TESTS += tests/mvcc/test_mvcc
tests_mvcc_test_mvcc_SOURCES = $(CHECK_MAIN) tests/mvcc/test_mvcc.c tests/mvcc/model.c tests/mvcc/model.h
tests_mvcc_test_mvcc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_mvcc_test_mvcc_LDADD = src/mvcc/libmvcc.a base/libbase.a $(CHECK_LIBS)

# Not a test: no assertion on timing. Meaningful only in a build without
# sanitizers (RSS).
check_PROGRAMS += tests/mvcc/bench_mvcc
tests_mvcc_bench_mvcc_SOURCES = tests/mvcc/bench_mvcc.c
tests_mvcc_bench_mvcc_LDADD = src/mvcc/libmvcc.a base/libbase.a
# bench_lease: the leases' memory and CPU per operation (run by hand)
check_PROGRAMS += tests/mvcc/bench_lease
tests_mvcc_bench_lease_SOURCES = tests/mvcc/bench_lease.c
tests_mvcc_bench_lease_LDADD = src/mvcc/libmvcc.a base/libbase.a

MVCC_BENCH_ARGS =
bench-mvcc: tests/mvcc/bench_mvcc
	tests/mvcc/bench_mvcc $(MVCC_BENCH_ARGS)

.PHONY: bench-mvcc
