# net/: the peer HTTP/1.1 client (peer.c) and its response parser
# (http_parse.c, pure, also fuzzed by tests/fuzz/fuzz_http_response.c).
noinst_LIBRARIES += net/libnet.a
net_libnet_a_SOURCES = net/http_parse.c net/http_parse.h net/peer.c net/peer.h
net_libnet_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
