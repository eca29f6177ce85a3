# proto/: goraft's wire schema.
#
# libwire.a is the codec every module uses. libgoraftpb.a is protoc-c's code
# for the same .proto files, generated at build time (never tracked); the
# tests use it as an independent implementation to check libwire against.

noinst_LIBRARIES += proto/libwire.a
proto_libwire_a_SOURCES = proto/wire.c proto/wire.h proto/command.c proto/command.h
# command.c reads JSON with jansson: programs that use it add $(JANSSON_LIBS).
proto_libwire_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)

GORAFT_PROTOS = \
	proto/log_entry.proto \
	proto/append_entries_request.proto \
	proto/append_entries_responses.proto \
	proto/request_vote_request.proto \
	proto/request_vote_responses.proto \
	proto/snapshot_request.proto \
	proto/snapshot_response.proto \
	proto/snapshot_recovery_request.proto \
	proto/snapshot_recovery_response.proto
GORAFT_PB_C = $(GORAFT_PROTOS:.proto=.pb-c.c)
GORAFT_PB_H = $(GORAFT_PROTOS:.proto=.pb-c.h)
EXTRA_DIST += $(GORAFT_PROTOS)

noinst_LIBRARIES += proto/libgoraftpb.a
nodist_proto_libgoraftpb_a_SOURCES = $(GORAFT_PB_C) $(GORAFT_PB_H)
proto_libgoraftpb_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
# Generated code: compile it with the warnings it was written for.
proto_libgoraftpb_a_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes -Wno-shadow
BUILT_SOURCES += $(GORAFT_PB_H)
CLEANFILES += $(GORAFT_PB_C) $(GORAFT_PB_H) proto/pb.stamp

# One protoc-c run writes every .pb-c.c/.pb-c.h; a stamp keeps make from
# running it once per output.
proto/pb.stamp: $(GORAFT_PROTOS)
	$(AM_V_GEN)$(MKDIR_P) proto && \
	$(PROTOC_C) -I$(srcdir)/proto --c_out=proto $(addprefix $(srcdir)/,$(GORAFT_PROTOS)) && \
	touch $@
$(GORAFT_PB_C) $(GORAFT_PB_H): proto/pb.stamp

# etcd's v3 client schema (proto/etcd/: packages etcdserverpb and mvccpb, as
# etcd 3.4 has them), compiled by protoc-c at build time into libetcdpb.a
# (never tracked). The generated headers are included as "etcd/rpc.pb-c.h"
# with -I$(top_builddir)/proto.
ETCD_PROTOS = proto/etcd/kv.proto proto/etcd/rpc.proto
ETCD_PB_C = $(ETCD_PROTOS:.proto=.pb-c.c)
ETCD_PB_H = $(ETCD_PROTOS:.proto=.pb-c.h)
EXTRA_DIST += $(ETCD_PROTOS)

noinst_LIBRARIES += proto/libetcdpb.a
nodist_proto_libetcdpb_a_SOURCES = $(ETCD_PB_C) $(ETCD_PB_H)
proto_libetcdpb_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
proto_libetcdpb_a_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes -Wno-shadow
BUILT_SOURCES += $(ETCD_PB_H)
CLEANFILES += $(ETCD_PB_C) $(ETCD_PB_H) proto/etcd/pb.stamp

proto/etcd/pb.stamp: $(ETCD_PROTOS)
	$(AM_V_GEN)$(MKDIR_P) proto/etcd && \
	$(PROTOC_C) -I$(srcdir)/proto --c_out=proto $(addprefix $(srcdir)/,$(ETCD_PROTOS)) && \
	touch $@
$(ETCD_PB_C) $(ETCD_PB_H): proto/etcd/pb.stamp
