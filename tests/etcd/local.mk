# The etcd v3 codec (src/etcd): requests packed by protobuf-c decode field by
# field, malformed and too deeply nested ones are refused, responses unpack
# to what etcd answers and are byte for byte what protobuf-c packs.
check_PROGRAMS += tests/etcd/test_etcd
TESTS += tests/etcd/test_etcd
tests_etcd_test_etcd_SOURCES = $(CHECK_MAIN) tests/etcd/test_etcd.c
tests_etcd_test_etcd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
tests_etcd_test_etcd_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_etcd_test_etcd_LDADD = src/etcd/libetcd.a src/mvcc/libmvcc.a proto/libetcdpb.a proto/libwire.a \
	base/libbase.a $(PROTOBUFC_LIBS) $(JANSSON_LIBS) $(CHECK_LIBS)
EXTRA_tests_etcd_test_etcd_DEPENDENCIES = proto/etcd/pb.stamp
# The Watch messages (src/etcd/watch.c): requests decode with etcd's
# readings, responses and fragments are what protobuf-c packs and etcd sends.
check_PROGRAMS += tests/etcd/test_etcd_watch
TESTS += tests/etcd/test_etcd_watch
tests_etcd_test_etcd_watch_SOURCES = $(CHECK_MAIN) tests/etcd/test_etcd_watch.c
tests_etcd_test_etcd_watch_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
tests_etcd_test_etcd_watch_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_etcd_test_etcd_watch_LDADD = src/etcd/libetcd.a src/mvcc/libmvcc.a proto/libetcdpb.a \
	base/libbase.a $(PROTOBUFC_LIBS) $(CHECK_LIBS)
EXTRA_tests_etcd_test_etcd_watch_DEPENDENCIES = proto/etcd/pb.stamp
