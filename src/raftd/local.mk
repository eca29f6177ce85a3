# src/raftd/: the daemon's own modules (config, rpc, the node) and the
# program src/raftd/raftd.

noinst_LIBRARIES += src/raftd/libconfig.a
src_raftd_libconfig_a_SOURCES = src/raftd/config.c src/raftd/config.h
src_raftd_libconfig_a_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)

noinst_LIBRARIES += src/raftd/librpc.a
src_raftd_librpc_a_SOURCES = src/raftd/rpc.c src/raftd/rpc.h

# The daemon: the node wires the core, the WAL, the peers, the KV state
# machine and the HTTP API (node.c, driver.c, peers.c, snapshots.c, api.c,
# members.c, metrics.c, health.c, security.c, sharing the private node_int.h); log.c writes to journald or stderr.
noinst_LIBRARIES += src/raftd/libnode.a
src_raftd_libnode_a_SOURCES = src/raftd/node.c src/raftd/node.h src/raftd/node_int.h \
	src/raftd/driver.c src/raftd/peers.c src/raftd/snapshots.c src/raftd/api.c \
	src/raftd/members.c src/raftd/metrics.c src/raftd/health.c \
	src/raftd/api_parse.c src/raftd/api_parse.h src/raftd/log.c src/raftd/log.h \
	src/raftd/auth.c src/raftd/auth.h src/raftd/security.c \
	src/raftd/v3.c src/raftd/v3.h src/raftd/v3_kv.c src/raftd/v3_cluster.c src/raftd/v3_maint.c \
	src/raftd/v3_lease.c src/raftd/lease_clock.c src/raftd/lease_clock.h \
	src/raftd/v3_watch.c
src_raftd_libnode_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
src_raftd_libnode_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(MHD_CFLAGS) $(SYSTEMD_CFLAGS) $(JANSSON_CFLAGS) \
	$(GNUTLS_CFLAGS)

# etcd's v3 API (v3.c, v3_kv.c): the codec, its protobufs, the gRPC server
RAFTD_V3_LDADD = src/etcd/libetcd.a proto/libetcdpb.a net/libgrpc.a
RAFTD_V3_LIBS = $(NGHTTP2_LIBS) $(PROTOBUFC_LIBS)

sbin_PROGRAMS += src/raftd/raftd
src_raftd_raftd_SOURCES = src/raftd/raftd.c
src_raftd_raftd_CFLAGS = $(AM_CFLAGS)
src_raftd_raftd_LDADD = src/raftd/libnode.a $(RAFTD_V3_LDADD) net/libhttpd.a net/libnet.a src/raftd/librpc.a src/raft/libraft.a src/kv/libkv.a \
	src/raftd/libconfig.a wal/libwal.a proto/libwire.a base/libbase.a \
	$(URING_LIBS) $(MHD_LIBS) $(GNUTLS_LIBS) $(SYSTEMD_LIBS) $(JANSSON_LIBS) $(INIH_LIBS) $(RAFTD_V3_LIBS)

# The same daemon with test hooks (WAL failpoints, deliberate protocol bugs
# for negative controls), for the multi-process fault tests only.
check_LIBRARIES += src/raftd/libnode_test.a
src_raftd_libnode_test_a_SOURCES = $(src_raftd_libnode_a_SOURCES)
src_raftd_libnode_test_a_CPPFLAGS = $(src_raftd_libnode_a_CPPFLAGS) -DRAFTD_TEST_HOOKS -DWAL_FAILPOINTS
src_raftd_libnode_test_a_CFLAGS = $(src_raftd_libnode_a_CFLAGS)

check_PROGRAMS += tests/cluster/raftd-test
tests_cluster_raftd_test_SOURCES = src/raftd/raftd.c
tests_cluster_raftd_test_LDADD = src/raftd/libnode_test.a $(RAFTD_V3_LDADD) net/libhttpd.a net/libnet.a src/raftd/librpc.a src/raft/libraft.a \
	src/kv/libkv.a src/raftd/libconfig.a wal/libwal_test.a proto/libwire.a base/libbase.a \
	$(URING_LIBS) $(MHD_LIBS) $(GNUTLS_LIBS) $(SYSTEMD_LIBS) $(JANSSON_LIBS) $(INIH_LIBS) $(RAFTD_V3_LIBS)
