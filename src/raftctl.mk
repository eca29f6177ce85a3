# src/raftctl: the admin CLI. One file per command (src/raftctl_<name>.c),
# dispatched from the table in src/raftctl.c.
bin_PROGRAMS += src/raftctl
src_raftctl_SOURCES = \
	src/raftctl.c src/raftctl.h \
	src/raftctl_wal.c src/raftctl_wal.h \
	src/raftctl_wire.c src/raftctl_wire.h \
	src/capture.c src/capture.h
src_raftctl_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(JANSSON_CFLAGS)
src_raftctl_LDADD = wal/libwal.a proto/libwire.a $(URING_LIBS) $(JANSSON_LIBS)
