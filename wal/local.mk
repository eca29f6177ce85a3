# wal/: the write-ahead log (see wal/wal.h; on-disk format at the top of
# wal/wal.c). libwal.a is what raftd and raftctl link; libwal_test.a is the
# same code with the failpoint seam compiled in (-DWAL_FAILPOINTS), for tests.
# Programs that link either also link base/libbase.a (CRC32C).
WAL_SOURCES = \
	wal/wal.c wal/recover.c wal/rebase.c wal/failpoint.c wal/wal.h wal/wal_int.h

noinst_LIBRARIES += wal/libwal.a
wal_libwal_a_SOURCES = $(WAL_SOURCES)
wal_libwal_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)

check_LIBRARIES += wal/libwal_test.a
wal_libwal_test_a_SOURCES = $(WAL_SOURCES)
wal_libwal_test_a_CPPFLAGS = $(AM_CPPFLAGS) -DWAL_FAILPOINTS
wal_libwal_test_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
