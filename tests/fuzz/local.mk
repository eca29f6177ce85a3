# libFuzzer targets for every input raftd takes from outside, built with
# clang apart from the main build (they need -fsanitize=fuzzer):
#   fuzz_<kind>           one per goraft protobuf decoder, differential
#                         against protobuf-c (tests/fuzz/fuzz_wire.c)
#   fuzz_http_response    the peer client's HTTP response parser
#   fuzz_kv_snapshot      snapshot files and State bytes, and their meta
#                         handed to the Raft core as at start-up
#   fuzz_raft_rpc         /raft/* request and response bodies through
#                         src/raftd/rpc.c into the Raft core (follower, candidate,
#                         leader of raftd or goraft peers), with invariants
#   fuzz_command          goraft commands in log entries (proto/command.c)
#                         and their apply to the KV
#   fuzz_command_fast     the JSON command fast path against jansson
#   fuzz_http_request     request heads through the server's framing checks
#                         (net/http_request.c: Content-Length, Transfer-Encoding)
#   fuzz_client_api       /db/{key} paths, /join, /leave and /raftd/transfer
#                         bodies (src/raftd/api_parse.c, cmd_decode)
#   fuzz_url              the one URL parser (net/url.c) in its three
#                         readings against each other and a reference, and
#                         the percent-coding of a path segment
#   fuzz_etcd_<kind>      one per etcd v3 request decoder (put, delete, txn,
#                         range, compact, lease: grant and revoke) and the raftd:v3 log payload
#                         (entry): src/etcd's decode, then the request run
#                         on a store and its response checked against
#                         protobuf-c (tests/fuzz/fuzz_etcd.h)
#   fuzz_grpc             a client's bytes (HTTP/2 preface, frames, HPACK,
#                         gRPC messages) into a gRPC server connection
#                         (net/grpc.c) on the real loop
#   fuzz_wal_recover      WAL recovery of segment and meta files made from
#                         the input (on /dev/shm), and raftctl's record decode
#   fuzz_mvcc             operation sequences (txns, compactions, failed
#                         allocations) on the MVCC store against the reference
#                         model of tests/mvcc/, and snapshots it restores
# `make fuzz-check` runs each for FUZZ_SECONDS (CI: a few seconds) from a seed
# corpus; `make fuzz-long FUZZ_SECONDS=3600` runs them longer.

FUZZ_WIRE_KINDS = log_entry ae_req ae_resp rv_req rv_resp snap_req snap_resp snaprec_req snaprec_resp
FUZZ_WIRE_TARGETS = $(FUZZ_WIRE_KINDS:%=tests/fuzz/fuzz_%)
FUZZ_OTHER = http_response http_request kv_snapshot raft_rpc command command_fast client_api url wal_recover mvcc grpc
FUZZ_ETCD_KINDS = put delete txn range compact entry lease
# the Watch service's request decoder and response encoder (src/etcd/watch.c)
FUZZ_ETCD_KINDS += watch
FUZZ_ETCD_NAMES = $(FUZZ_ETCD_KINDS:%=etcd_%)
FUZZ_NAMES = $(FUZZ_WIRE_KINDS) $(FUZZ_OTHER) $(FUZZ_ETCD_NAMES)
FUZZ_TARGETS = $(FUZZ_NAMES:%=tests/fuzz/fuzz_%)
FUZZ_SECONDS = 4
FUZZ_CCOPTS = -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-include $(top_builddir)/config.h -I$(top_srcdir) -I$(top_builddir) -I$(top_builddir)/proto
FUZZ_WIRE_INPUTS = $(srcdir)/tests/fuzz/fuzz_wire.c $(srcdir)/proto/wire.c \
	$(srcdir)/tests/proto/pbc_oracle.c
EXTRA_DIST += tests/fuzz/fuzz.h tests/fuzz/fuzz_wire.c tests/fuzz/fuzz_http_response.c tests/fuzz/fuzz_http_request.c tests/fuzz/fuzz_kv_snapshot.c \
	tests/fuzz/fuzz_raft_rpc.c tests/fuzz/fuzz_command.c tests/fuzz/fuzz_command_fast.c tests/fuzz/fuzz_client_api.c \
	tests/fuzz/fuzz_url.c tests/fuzz/fuzz_wal_recover.c tests/fuzz/fuzz_mvcc.c tests/fuzz/seed.sh \
	tests/fuzz/fuzz_grpc.c tests/fuzz/fuzz_etcd.h $(FUZZ_ETCD_NAMES:%=tests/fuzz/fuzz_%.c)
CLEANFILES += $(FUZZ_TARGETS)

if HAVE_FUZZER
$(FUZZ_WIRE_TARGETS): tests/fuzz/fuzz_%: $(FUZZ_WIRE_INPUTS) proto/pb.stamp
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(PROTOBUFC_CFLAGS) -DFUZZ_KIND=WIRE_$$(echo $* | tr a-z A-Z) \
		$(FUZZ_WIRE_INPUTS) $(GORAFT_PB_C) $(PROTOBUFC_LIBS) -o $@

tests/fuzz/fuzz_http_response: $(srcdir)/tests/fuzz/fuzz_http_response.c $(srcdir)/net/http_parse.c
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && $(FUZZ_CC) $(FUZZ_CCOPTS) $^ -o $@

tests/fuzz/fuzz_http_request: $(srcdir)/tests/fuzz/fuzz_http_request.c $(srcdir)/net/http_request.c \
		$(srcdir)/tests/fuzz/fuzz.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && $(FUZZ_CC) $(FUZZ_CCOPTS) $(filter %.c,$^) -o $@

# src/kv is the MVCC store (src/mvcc) behind the map, on base's allocation seam
FUZZ_KV_STORE = $(srcdir)/src/kv/kv.c $(srcdir)/src/mvcc/mvcc.c $(srcdir)/src/mvcc/index.c \
	$(srcdir)/src/mvcc/check.c $(srcdir)/src/mvcc/history.c $(srcdir)/src/mvcc/lease.c $(srcdir)/base/alloc.c $(srcdir)/base/crc32c.c
FUZZ_KV_INPUTS = $(srcdir)/tests/fuzz/fuzz_kv_snapshot.c $(FUZZ_KV_STORE) $(srcdir)/src/kv/kv_snapshot.c \
	$(srcdir)/src/raft/raft.c
tests/fuzz/fuzz_kv_snapshot: $(FUZZ_KV_INPUTS) $(srcdir)/tests/fuzz/fuzz.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && $(FUZZ_CC) $(FUZZ_CCOPTS) $(FUZZ_KV_INPUTS) -o $@

FUZZ_RAFT_INPUTS = $(srcdir)/tests/fuzz/fuzz_raft_rpc.c $(srcdir)/src/raft/raft.c $(srcdir)/src/raftd/rpc.c \
	$(srcdir)/proto/wire.c $(srcdir)/proto/command.c $(srcdir)/tests/lib/core_fixture.c
tests/fuzz/fuzz_raft_rpc: $(FUZZ_RAFT_INPUTS) $(srcdir)/tests/fuzz/fuzz.h $(srcdir)/tests/lib/core_fixture.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(JANSSON_CFLAGS) $(FUZZ_RAFT_INPUTS) $(JANSSON_LIBS) -o $@

FUZZ_COMMAND_INPUTS = $(srcdir)/tests/fuzz/fuzz_command.c $(srcdir)/proto/command.c \
	$(srcdir)/proto/wire.c $(FUZZ_KV_STORE)
tests/fuzz/fuzz_command: $(FUZZ_COMMAND_INPUTS) $(srcdir)/tests/fuzz/fuzz.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(JANSSON_CFLAGS) $(FUZZ_COMMAND_INPUTS) $(JANSSON_LIBS) -o $@

FUZZ_COMMAND_FAST_INPUTS = $(srcdir)/tests/fuzz/fuzz_command_fast.c $(srcdir)/proto/command.c \
	$(srcdir)/proto/wire.c
tests/fuzz/fuzz_command_fast: $(FUZZ_COMMAND_FAST_INPUTS)
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(JANSSON_CFLAGS) $(FUZZ_COMMAND_FAST_INPUTS) $(JANSSON_LIBS) -o $@

FUZZ_API_INPUTS = $(srcdir)/tests/fuzz/fuzz_client_api.c $(srcdir)/src/raftd/api_parse.c \
	$(srcdir)/net/url.c $(srcdir)/proto/command.c $(srcdir)/proto/wire.c
tests/fuzz/fuzz_client_api: $(FUZZ_API_INPUTS) $(srcdir)/tests/fuzz/fuzz.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(JANSSON_CFLAGS) $(FUZZ_API_INPUTS) $(JANSSON_LIBS) -o $@

tests/fuzz/fuzz_url: $(srcdir)/tests/fuzz/fuzz_url.c $(srcdir)/net/url.c $(srcdir)/tests/fuzz/fuzz.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && $(FUZZ_CC) $(FUZZ_CCOPTS) $(filter %.c,$^) -o $@

FUZZ_WAL_INPUTS = $(srcdir)/tests/fuzz/fuzz_wal_recover.c $(srcdir)/wal/wal.c $(srcdir)/wal/recover.c \
	$(srcdir)/base/crc32c.c $(srcdir)/base/alloc.c $(srcdir)/base/histogram.c $(srcdir)/wal/failpoint.c \
	$(srcdir)/proto/wire.c
tests/fuzz/fuzz_wal_recover: $(FUZZ_WAL_INPUTS) $(srcdir)/tests/fuzz/fuzz.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(URING_CFLAGS) $(FUZZ_WAL_INPUTS) $(URING_LIBS) -o $@

FUZZ_MVCC_INPUTS = $(srcdir)/tests/fuzz/fuzz_mvcc.c $(srcdir)/src/mvcc/mvcc.c $(srcdir)/src/mvcc/index.c \
	$(srcdir)/src/mvcc/check.c $(srcdir)/src/mvcc/history.c $(srcdir)/src/mvcc/lease.c $(srcdir)/base/alloc.c $(srcdir)/base/crc32c.c \
	$(srcdir)/tests/mvcc/model.c
tests/fuzz/fuzz_mvcc: $(FUZZ_MVCC_INPUTS) $(srcdir)/tests/fuzz/fuzz.h $(srcdir)/tests/mvcc/model.h \
		$(srcdir)/src/mvcc/mvcc.h $(srcdir)/src/mvcc/mvcc_int.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && $(FUZZ_CC) $(FUZZ_CCOPTS) $(FUZZ_MVCC_INPUTS) -o $@

FUZZ_GRPC_INPUTS = $(srcdir)/tests/fuzz/fuzz_grpc.c $(srcdir)/net/grpc.c $(srcdir)/net/grpc_tls.c \
	$(srcdir)/net/tls.c $(srcdir)/base/loop.c $(srcdir)/base/alloc.c
tests/fuzz/fuzz_grpc: $(FUZZ_GRPC_INPUTS) $(srcdir)/tests/fuzz/fuzz.h $(srcdir)/net/grpc.h
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(URING_CFLAGS) $(NGHTTP2_CFLAGS) $(GNUTLS_CFLAGS) $(FUZZ_GRPC_INPUTS) \
		$(NGHTTP2_LIBS) $(GNUTLS_LIBS) $(URING_LIBS) -o $@

FUZZ_ETCD_INPUTS = $(srcdir)/src/etcd/etcd.c $(srcdir)/src/etcd/lease.c $(srcdir)/src/mvcc/mvcc.c $(srcdir)/src/mvcc/index.c \
	$(srcdir)/src/mvcc/check.c $(srcdir)/src/mvcc/history.c $(srcdir)/src/mvcc/lease.c $(srcdir)/base/alloc.c $(srcdir)/base/crc32c.c
FUZZ_ETCD_INPUTS += $(srcdir)/src/etcd/watch.c
$(FUZZ_ETCD_NAMES:%=tests/fuzz/fuzz_%): tests/fuzz/fuzz_%: $(srcdir)/tests/fuzz/fuzz_%.c $(FUZZ_ETCD_INPUTS) \
		$(srcdir)/tests/fuzz/fuzz_etcd.h $(srcdir)/tests/fuzz/fuzz.h $(srcdir)/src/etcd/etcd.h \
		$(srcdir)/src/mvcc/mvcc.h proto/etcd/pb.stamp
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) $(PROTOBUFC_CFLAGS) $(srcdir)/tests/fuzz/fuzz_$*.c $(FUZZ_ETCD_INPUTS) \
		$(ETCD_PB_C) $(PROTOBUFC_LIBS) -o $@

fuzz: $(FUZZ_TARGETS)

# Each target starts from its seed corpus; a crash leaves its input in
# tests/fuzz/crash-* and fails the run.
fuzz-check: $(FUZZ_TARGETS)
	@set -e; total=0; \
	for k in $(FUZZ_NAMES); do \
		corpus=tests/fuzz/corpus-$$k; \
		$(srcdir)/tests/fuzz/seed.sh $$k '$(GORAFT_WIRE_DIR)' $$corpus; \
		tests/fuzz/fuzz_$$k -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crash-$$k- $$corpus > tests/fuzz/fuzz_$$k.log 2>&1 || \
			{ tail -40 tests/fuzz/fuzz_$$k.log; echo "fuzz_$$k: FAILED"; exit 1; }; \
		runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' tests/fuzz/fuzz_$$k.log); \
		total=$$((total + runs)); \
		echo "fuzz_$$k: $$runs executions, no crash"; \
	done; \
	echo "fuzz: $$total executions over $(words $(FUZZ_NAMES)) targets, no crash"

fuzz-long:
	$(MAKE) fuzz-check FUZZ_SECONDS=$(FUZZ_SECONDS)
else
fuzz fuzz-check fuzz-long:
	@echo "fuzz targets need clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"; exit 1
endif

clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/corpus-* tests/fuzz/*.log tests/fuzz/crash-*

.PHONY: fuzz fuzz-check fuzz-long clean-fuzz
