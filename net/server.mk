# net/http_server: libmicrohttpd on the event loop (the daemon's HTTP side).

noinst_LIBRARIES += net/libhttpd.a
net_libhttpd_a_SOURCES = net/http_server.c net/http_server.h net/http_request.c net/http_request.h
net_libhttpd_a_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(URING_CFLAGS)
