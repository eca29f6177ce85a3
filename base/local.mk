# base/: what every floor above stands on and that includes nothing of the
# project: the allocation seam that tests use to fail the Nth allocation
# (alloc.c), the event loop (loop.c), how completions find their owner on the
# shared ring (uring_op.h), CRC32C (crc32c.c: the WAL's records and the KV
# snapshot files), and the journal MESSAGE_IDs that raftd sends and
# `raftctl logs` reads (journal.h), and the latency histograms of
# /metrics (histogram.c). Programs list base/libbase.a after every
# other project library: the linker takes from it only what they use.
noinst_LIBRARIES += base/libbase.a
base_libbase_a_SOURCES = base/alloc.c base/alloc.h base/loop.c base/loop.h base/uring_op.h \
	base/crc32c.c base/crc32c.h base/journal.h \
	base/histogram.c base/histogram.h
base_libbase_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
