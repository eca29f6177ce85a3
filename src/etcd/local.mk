# src/etcd/: etcd's v3 KV messages <-> the MVCC store's requests and
# results, and the raftd:v3 log payload (src/etcd/etcd.h). Pure: no I/O,
# no clock. Programs that link libetcd.a also link proto/libetcdpb.a,
# src/mvcc/libmvcc.a, base/libbase.a and $(PROTOBUFC_LIBS).
noinst_LIBRARIES += src/etcd/libetcd.a
src_etcd_libetcd_a_SOURCES = src/etcd/etcd.c src/etcd/etcd.h src/etcd/etcd_int.h src/etcd/lease.c
src_etcd_libetcd_a_SOURCES += src/etcd/watch.c
src_etcd_libetcd_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
EXTRA_src_etcd_libetcd_a_DEPENDENCIES = proto/etcd/pb.stamp
