# Tests of the daemon's own modules.

check_PROGRAMS += tests/daemon/test_loop
TESTS += tests/daemon/test_loop
tests_daemon_test_loop_SOURCES = $(CHECK_MAIN) tests/daemon/test_loop.c
tests_daemon_test_loop_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(URING_CFLAGS)
tests_daemon_test_loop_LDADD = base/libbase.a $(URING_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/daemon/test_http_server
TESTS += tests/daemon/test_http_server
tests_daemon_test_http_server_SOURCES = $(CHECK_MAIN) $(WHOLE_RESPONSE) tests/daemon/test_http_server.c
tests_daemon_test_http_server_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(URING_CFLAGS) $(MHD_CFLAGS) $(GNUTLS_CFLAGS) -pthread
tests_daemon_test_http_server_LDADD = net/libhttpd.a net/libnet.a base/libbase.a $(MHD_LIBS) $(GNUTLS_LIBS) $(URING_LIBS) $(CHECK_LIBS) -lpthread

check_PROGRAMS += tests/daemon/test_config
TESTS += tests/daemon/test_config
tests_daemon_test_config_SOURCES = $(CHECK_MAIN) tests/daemon/test_config.c
tests_daemon_test_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_daemon_test_config_LDADD = src/raftd/libconfig.a net/libnet.a $(INIH_LIBS) $(CHECK_LIBS)

# who may do what: route classes, roles, peer certificates (src/raftd/auth.c)
check_PROGRAMS += tests/daemon/test_auth
TESTS += tests/daemon/test_auth
tests_daemon_test_auth_SOURCES = $(CHECK_MAIN) tests/daemon/test_auth.c src/raftd/auth.c
tests_daemon_test_auth_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(GNUTLS_CFLAGS)
tests_daemon_test_auth_LDADD = src/raftd/libconfig.a net/libnet.a base/libbase.a $(INIH_LIBS) $(GNUTLS_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/daemon/test_rpc
TESTS += tests/daemon/test_rpc
tests_daemon_test_rpc_SOURCES = $(CHECK_MAIN) tests/daemon/test_rpc.c src/raftctl/capture.c
tests_daemon_test_rpc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_daemon_test_rpc_LDADD = src/raftd/librpc.a proto/libwire.a $(JANSSON_LIBS) $(CHECK_LIBS)

# The core driver with link-time fakes: driver.c is built into the test
# beside the real core, map, codec and rpc.c; the test file defines the WAL,
# the peers, the snapshot jobs, HTTP replies, the log and the loop's clock
# (tests/daemon/test_driver.c says why). So nothing else of libnode.a, and
# not base/loop.o, may be linked in.
check_PROGRAMS += tests/daemon/test_driver
TESTS += tests/daemon/test_driver
tests_daemon_test_driver_SOURCES = $(CHECK_MAIN) tests/daemon/test_driver.c src/raftd/driver.c
tests_daemon_test_driver_CPPFLAGS = $(AM_CPPFLAGS) -DAPPLY_SLICE_NS=1
tests_daemon_test_driver_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(URING_CFLAGS) $(JANSSON_CFLAGS)
tests_daemon_test_driver_LDADD = src/raftd/librpc.a src/raft/libraft.a src/kv/libkv.a proto/libwire.a \
	base/libbase.a $(JANSSON_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/daemon/test_api_parse
TESTS += tests/daemon/test_api_parse
tests_daemon_test_api_parse_SOURCES = $(CHECK_MAIN) tests/daemon/test_api_parse.c src/raftd/api_parse.c net/url.c
tests_daemon_test_api_parse_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS)
tests_daemon_test_api_parse_LDADD = net/libnet.a proto/libwire.a $(JANSSON_LIBS) $(CHECK_LIBS)

# journal fields of src/raftd/log.c, against a stub of sd-journal
check_PROGRAMS += tests/daemon/test_log
TESTS += tests/daemon/test_log
tests_daemon_test_log_SOURCES = $(CHECK_MAIN) tests/daemon/test_log.c src/raftd/log.c
tests_daemon_test_log_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SYSTEMD_CFLAGS)
tests_daemon_test_log_LDADD = $(CHECK_LIBS)

# base/histogram: buckets and the exposition text of /metrics
check_PROGRAMS += tests/daemon/test_histogram
TESTS += tests/daemon/test_histogram
tests_daemon_test_histogram_SOURCES = $(CHECK_MAIN) tests/daemon/test_histogram.c
tests_daemon_test_histogram_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_daemon_test_histogram_LDADD = base/libbase.a $(CHECK_LIBS)

# raftd under valgrind: clean shutdown, no leaks (skipped in a sanitizer
# build; scripts/test-all runs it in distcheck's plain build)
TESTS += tests/daemon/valgrind.sh
EXTRA_DIST += tests/daemon/valgrind.sh

# what a follower answers for a forwarded v3 write (src/raftd/v3_kv.c,
# included by the test whole; its callees are faked there, nothing linked)
check_PROGRAMS += tests/daemon/test_v3_kv
TESTS += tests/daemon/test_v3_kv
tests_daemon_test_v3_kv_SOURCES = $(CHECK_MAIN) tests/daemon/test_v3_kv.c
tests_daemon_test_v3_kv_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
tests_daemon_test_v3_kv_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(URING_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS) \
	$(GNUTLS_CFLAGS)
tests_daemon_test_v3_kv_LDADD = $(CHECK_LIBS)

# the leader's lease clock (src/raftd/lease_clock.c)
check_PROGRAMS += tests/daemon/test_lease_clock
TESTS += tests/daemon/test_lease_clock
tests_daemon_test_lease_clock_SOURCES = $(CHECK_MAIN) tests/daemon/test_lease_clock.c src/raftd/lease_clock.c
tests_daemon_test_lease_clock_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_daemon_test_lease_clock_LDADD = $(CHECK_LIBS)
