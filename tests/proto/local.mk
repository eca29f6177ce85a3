# Codec tests: captured goraft traffic, protobuf-c as an oracle, malformed input.

check_LIBRARIES += tests/libtestutil.a
tests_libtestutil_a_SOURCES = src/raftctl/capture.c src/raftctl/capture.h \
	tests/proto/pbc_oracle.c tests/proto/pbc_oracle.h
tests_libtestutil_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS) $(JANSSON_CFLAGS)
EXTRA_tests_libtestutil_a_DEPENDENCIES = proto/pb.stamp

check_PROGRAMS += tests/proto/test_wire
TESTS += tests/proto/test_wire
tests_proto_test_wire_SOURCES = $(CHECK_MAIN) tests/proto/test_wire.c
tests_proto_test_wire_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_proto_test_wire_LDADD = tests/libtestutil.a proto/libwire.a proto/libgoraftpb.a \
	$(PROTOBUFC_LIBS) $(JANSSON_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/proto/test_command
TESTS += tests/proto/test_command
tests_proto_test_command_SOURCES = $(CHECK_MAIN) tests/proto/test_command.c
tests_proto_test_command_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_proto_test_command_LDADD = tests/libtestutil.a proto/libwire.a $(JANSSON_LIBS) $(CHECK_LIBS)

# etcd's v3 schema as protobuf-c compiles it: every message of the services
# round-trips, and etcdctl's captured request bytes (etcdctl-wire.txt)
# decode and re-encode to the same bytes.
check_PROGRAMS += tests/proto/test_etcdpb
TESTS += tests/proto/test_etcdpb
tests_proto_test_etcdpb_SOURCES = $(CHECK_MAIN) tests/proto/test_etcdpb.c
tests_proto_test_etcdpb_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
tests_proto_test_etcdpb_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_proto_test_etcdpb_LDADD = proto/libetcdpb.a $(PROTOBUFC_LIBS) $(CHECK_LIBS)
EXTRA_tests_proto_test_etcdpb_DEPENDENCIES = proto/etcd/pb.stamp
EXTRA_DIST += tests/proto/etcdctl-wire.txt
