# The daemon's own modules: config, rpc, the node.

noinst_LIBRARIES += src/libconfig.a
src_libconfig_a_SOURCES = src/config.c src/config.h
src_libconfig_a_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)

noinst_LIBRARIES += src/librpc.a
src_librpc_a_SOURCES = src/rpc.c src/rpc.h

# src/raftd: the daemon. node.c wires the core, the WAL, the peers, the KV
# state machine and the HTTP API; log.c writes to journald or stderr.
noinst_LIBRARIES += src/libnode.a
src_libnode_a_SOURCES = src/node.c src/node.h src/api_parse.c src/api_parse.h src/log.c src/log.h
src_libnode_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(MHD_CFLAGS) $(SYSTEMD_CFLAGS) $(JANSSON_CFLAGS)

sbin_PROGRAMS += src/raftd
src_raftd_SOURCES = src/raftd.c
src_raftd_CFLAGS = $(AM_CFLAGS)
src_raftd_LDADD = src/libnode.a net/libhttpd.a net/libnet.a src/librpc.a src/raft/libraft.a src/kv/libkv.a \
	src/libconfig.a wal/libwal.a proto/libwire.a base/libbase.a \
	$(URING_LIBS) $(MHD_LIBS) $(SYSTEMD_LIBS) $(JANSSON_LIBS) $(INIH_LIBS)

# The same daemon with test hooks (WAL failpoints, deliberate protocol bugs
# for negative controls), for the multi-process fault tests only.
check_LIBRARIES += src/libnode_test.a
src_libnode_test_a_SOURCES = $(src_libnode_a_SOURCES)
src_libnode_test_a_CPPFLAGS = $(AM_CPPFLAGS) -DRAFTD_TEST_HOOKS -DWAL_FAILPOINTS
src_libnode_test_a_CFLAGS = $(src_libnode_a_CFLAGS)

check_PROGRAMS += tests/cluster/raftd-test
tests_cluster_raftd_test_SOURCES = src/raftd.c
tests_cluster_raftd_test_LDADD = src/libnode_test.a net/libhttpd.a net/libnet.a src/librpc.a src/raft/libraft.a \
	src/kv/libkv.a src/libconfig.a wal/libwal_test.a proto/libwire.a base/libbase.a \
	$(URING_LIBS) $(MHD_LIBS) $(SYSTEMD_LIBS) $(JANSSON_LIBS) $(INIH_LIBS)
