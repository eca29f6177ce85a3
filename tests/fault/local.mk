# Fault-tolerance suite (README.md, "Fault tolerance"): real raftd clusters under
# partitions, crashes, pauses, membership changes and disk faults, with every
# client history checked for linearizability and lost writes.

# The checker (linz.c: WGL search; history.c: the checks of a run) and its
# unit tests on hand-made and generated histories.
check_LIBRARIES += tests/fault/libfaultcheck.a
tests_fault_libfaultcheck_a_SOURCES = tests/fault/linz.c tests/fault/linz.h \
	tests/fault/history.c tests/fault/history.h

check_PROGRAMS += tests/fault/test_linz
TESTS += tests/fault/test_linz
tests_fault_test_linz_SOURCES = $(CHECK_MAIN) tests/fault/test_linz.c
tests_fault_test_linz_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_fault_test_linz_LDADD = tests/fault/libfaultcheck.a $(CHECK_LIBS)

check_PROGRAMS += tests/fault/fault-check
tests_fault_fault_check_SOURCES = tests/fault/fault_check.c
tests_fault_fault_check_LDADD = tests/fault/libfaultcheck.a

# The client driver: concurrent clients recording every operation, and the
# end-of-run reads of every key on every node (responses read with
# net/http_parse; HTTPS with net/tls's credentials when given --cacert;
# etcd's v3 API with --grpc, through net/grpc_client and protobuf-c's
# etcd messages).
check_PROGRAMS += tests/fault/fault-client
tests_fault_fault_client_SOURCES = tests/fault/fault_client.c
tests_fault_fault_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
tests_fault_fault_client_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(GNUTLS_CFLAGS) $(NGHTTP2_CFLAGS) -pthread
tests_fault_fault_client_LDADD = net/libgrpc.a proto/libetcdpb.a net/libnet.a base/libbase.a $(JANSSON_LIBS) \
	$(GNUTLS_LIBS) $(NGHTTP2_LIBS) $(PROTOBUFC_LIBS) -lpthread

# The hostile peer (run.sh's hvote, hae, hsnap, hflood, hslow, hbody
# faults): goraft RPCs forged with the project's own codec, floods, huge
# bodies.
check_PROGRAMS += tests/fault/fault-hostile
tests_fault_fault_hostile_SOURCES = tests/fault/hostile.c
tests_fault_fault_hostile_LDADD = src/kv/libkv.a net/libnet.a proto/libwire.a base/libbase.a $(JANSSON_LIBS)

# Negative control: raftd-test whose WAL never syncs (tests/fault/nofsync.h
# is forced into wal/'s sources; wal/ itself is unchanged).
check_LIBRARIES += tests/fault/libwal_nofsync.a
tests_fault_libwal_nofsync_a_SOURCES = $(WAL_SOURCES)
tests_fault_libwal_nofsync_a_CPPFLAGS = $(AM_CPPFLAGS) -DWAL_FAILPOINTS -include $(srcdir)/tests/fault/nofsync.h
tests_fault_libwal_nofsync_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
EXTRA_DIST += tests/fault/nofsync.h

check_PROGRAMS += tests/fault/raftd-nofsync
tests_fault_raftd_nofsync_SOURCES = src/raftd/raftd.c
tests_fault_raftd_nofsync_LDADD = src/raftd/libnode_test.a $(RAFTD_V3_LDADD) net/libhttpd.a net/libnet.a src/raftd/librpc.a src/raft/libraft.a \
	src/kv/libkv.a src/raftd/libconfig.a tests/fault/libwal_nofsync.a proto/libwire.a base/libbase.a \
	$(URING_LIBS) $(MHD_LIBS) $(GNUTLS_LIBS) $(SYSTEMD_LIBS) $(JANSSON_LIBS) $(INIH_LIBS) $(RAFTD_V3_LIBS)

# make check runs one short schedule of each kind and both negative controls
# (the namespace and loop-device parts need root and skip without it);
# tests/fault/run.sh runs one schedule by hand.
# check-hostile.sh: the hostile-peer schedule (forged RPCs, floods, huge
# bodies; issue 16).
# check-tls.sh: kill -9 of the leader and partitions among three nodes with
# mutual TLS (issue 18); control-tls.sh: the same schedule must catch a
# leader that commits alone.
# check-v3.sh, check-v3-ns.sh: fault-client through etcd's v3 API (Puts,
# linearizable Ranges, Txn compare-and-swaps) and /db on the same keys,
# under check-lo.sh's faults and under partitions (issue 19);
# control-v3.sh: v3 operations alone must catch a leader that commits alone.
# check-v3-watch.sh: check-v3.sh's clients with watchers and a lease holder
# under kills and pauses (run.sh --watch, issue 20), check-v3-watch-ns.sh
# the same under partitions; check-v3-watch-self.sh: its checks catch
# hand-made bad event and lease files; check-v3-watch-control.sh: the watch
# check alone must catch a leader that commits alone.
FAULT_TESTS = tests/fault/test_linz tests/fault/check-lo.sh tests/fault/check-ns.sh \
	tests/fault/check-large.sh tests/fault/check-hostile.sh tests/fault/check-tls.sh tests/fault/control-ack.sh \
	tests/fault/control-nofsync.sh tests/fault/control-tls.sh tests/fault/check-v3.sh tests/fault/check-v3-ns.sh \
	tests/fault/control-v3.sh tests/fault/check-v3-watch.sh tests/fault/check-v3-watch-ns.sh \
	tests/fault/check-v3-watch-self.sh tests/fault/check-v3-watch-control.sh
TESTS += tests/fault/check-lo.sh tests/fault/check-ns.sh tests/fault/check-large.sh \
	tests/fault/check-hostile.sh tests/fault/check-tls.sh tests/fault/control-ack.sh tests/fault/control-nofsync.sh \
	tests/fault/control-tls.sh tests/fault/check-v3.sh tests/fault/check-v3-ns.sh tests/fault/control-v3.sh \
	tests/fault/check-v3-watch.sh tests/fault/check-v3-watch-ns.sh tests/fault/check-v3-watch-self.sh \
	tests/fault/check-v3-watch-control.sh
EXTRA_DIST += tests/fault/run.sh tests/fault/check-lo.sh tests/fault/check-ns.sh tests/fault/check-large.sh \
	tests/fault/check-hostile.sh tests/fault/check-tls.sh tests/fault/check-v3.sh tests/fault/check-v3-ns.sh \
	tests/fault/control-v3.sh tests/fault/check-v3-watch.sh tests/fault/check-v3-watch-ns.sh \
	tests/fault/check-v3-watch-self.sh tests/fault/check-v3-watch-control.sh \
	tests/fault/watch.py tests/fault/watch_check.py tests/fault/lease.py tests/fault/lease_check.py \
	tests/fault/watch_selftest.py \
	tests/fault/control-ack.sh tests/fault/control-nofsync.sh tests/fault/control-tls.sh tests/fault/long.sh tests/fault/kill9.sh
# reproductions of daemon faults the suite found (not tests: exit 1 while
# the fault is there)
EXTRA_DIST += tests/fault/repro/stop-under-load.sh

FAULT_SCHEDULES = 100
FAULT_SECONDS = 60
FAULT_CYCLES = 1000
FAULT_BINS = tests/cluster/raftd-test tests/fault/raftd-nofsync tests/fault/fault-client \
	tests/fault/fault-check tests/fault/test_linz tests/fault/fault-hostile

# the short suite alone (what CI runs as part of make check)
fault-check: $(FAULT_BINS)
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(FAULT_TESTS)'

# the goals: FAULT_SCHEDULES schedules of FAULT_SECONDS, and FAULT_CYCLES
# kill -9 cycles under load
fault-long: $(FAULT_BINS)
	top_builddir='$(abs_top_builddir)' $(srcdir)/tests/fault/long.sh $(FAULT_SCHEDULES) $(FAULT_SECONDS)

fault-kill9: $(FAULT_BINS)
	top_builddir='$(abs_top_builddir)' $(srcdir)/tests/fault/kill9.sh $(FAULT_CYCLES)

clean-local: clean-fault
clean-fault:
	rm -rf tests/fault/failures tests/fault/controls tests/fault/controls-tls tests/fault/controls-v3 \
		tests/fault/controls-v3-watch

.PHONY: fault-check fault-long fault-kill9 clean-fault
