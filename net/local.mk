# net/: TLS credentials and identities (tls.c, GnuTLS), the peer
# HTTP/1.1 client (peer.c), its response parser
# (http_parse.c, pure, also fuzzed by tests/fuzz/fuzz_http_response.c) and
# the one URL parser (url.c, pure, fuzzed by tests/fuzz/fuzz_url.c) in
# libnet.a, which raftd and raftctl link; the daemon's HTTP side
# (http_server.c: libmicrohttpd on the event loop; http_request.c: its
# framing checks) in libhttpd.a, which raftd alone links, so that raftctl
# needs no libmicrohttpd.
noinst_LIBRARIES += net/libnet.a
net_libnet_a_SOURCES = net/http_parse.c net/http_parse.h net/peer.c net/peer.h net/tls.c net/tls.h \
	net/url.c net/url.h net/ktls.c net/ktls.h
net_libnet_a_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(GNUTLS_CFLAGS)

noinst_LIBRARIES += net/libhttpd.a
net_libhttpd_a_SOURCES = net/http_server.c net/http_server.h net/http_request.c net/http_request.h
net_libhttpd_a_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(URING_CFLAGS) $(GNUTLS_CFLAGS)

# The gRPC server (grpc.c: HTTP/2 by nghttp2 on the event loop; grpc_tls.c:
# its TLS sessions, on net/tls.c) in its own library, so that only what
# serves or speaks gRPC links libnghttp2. Link net/libnet.a and GnuTLS after it.
# grpc_client.c: a synchronous client, unary and streaming calls (tests/fault's v3 clients,
# raftctl later) that pulls in nothing of the server.
noinst_LIBRARIES += net/libgrpc.a
net_libgrpc_a_SOURCES = net/grpc.c net/grpc.h net/grpc_tls.c net/grpc_tls.h net/grpc_client.c net/grpc_client.h
net_libgrpc_a_CFLAGS = $(AM_CFLAGS) $(NGHTTP2_CFLAGS) $(URING_CFLAGS) $(GNUTLS_CFLAGS)
