# KV state machine: unit tests (map, apply, snapshots on real files) and a
# benchmark that is built with the tests but run only by `make bench-kv`.

# proto/libwire.a: the tests apply commands decoded by cmd_decode()
KV_TEST_LIBS = src/kv/libkv.a proto/libwire.a base/libbase.a $(JANSSON_LIBS)

check_PROGRAMS += tests/kv/test_kv
TESTS += tests/kv/test_kv
tests_kv_test_kv_SOURCES = $(CHECK_MAIN) tests/kv/test_kv.c
tests_kv_test_kv_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_kv_test_kv_LDADD = $(KV_TEST_LIBS) $(CHECK_LIBS)

# Not a test: no assertion on timing. Meaningful only in a build without
# sanitizers (RSS and speed).
check_PROGRAMS += tests/kv/bench_kv
tests_kv_bench_kv_SOURCES = tests/kv/bench_kv.c
tests_kv_bench_kv_LDADD = src/kv/libkv.a base/libbase.a

KV_BENCH_ARGS =
bench-kv: tests/kv/bench_kv
	tests/kv/bench_kv $(KV_BENCH_ARGS)

EXTRA_DIST += tests/fuzz/fuzz_kv_snapshot.c
.PHONY: bench-kv
