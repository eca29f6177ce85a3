# The daemon's own modules: the event loop, the HTTP server glue, config.

noinst_LIBRARIES += src/libloop.a
src_libloop_a_SOURCES = src/loop.c src/loop.h src/uring_op.h
src_libloop_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)

noinst_LIBRARIES += src/libconfig.a
src_libconfig_a_SOURCES = src/config.c src/config.h
src_libconfig_a_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)

noinst_LIBRARIES += src/librpc.a
src_librpc_a_SOURCES = src/rpc.c src/rpc.h
