# net/ tests: the response parser (pure) and the peer client against real
# loopback servers on the real ring. The fuzz target for the parser is
# tests/fuzz/fuzz_http_response.c (wired in tests/fuzz/local.mk).

check_PROGRAMS += tests/net/test_http_parse
TESTS += tests/net/test_http_parse
tests_net_test_http_parse_SOURCES = $(CHECK_MAIN) tests/net/test_http_parse.c
tests_net_test_http_parse_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_net_test_http_parse_LDADD = net/libnet.a $(CHECK_LIBS)

# The one URL parser and the percent-coding of path segments (pure); its
# fuzz target is tests/fuzz/fuzz_url.c.
check_PROGRAMS += tests/net/test_url
TESTS += tests/net/test_url
tests_net_test_url_SOURCES = $(CHECK_MAIN) tests/net/test_url.c
tests_net_test_url_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_net_test_url_LDADD = net/libnet.a $(CHECK_LIBS)

check_PROGRAMS += tests/net/test_peer
TESTS += tests/net/test_peer
tests_net_test_peer_SOURCES = $(CHECK_MAIN) $(CERTS) tests/net/test_peer.c tests/net/test_server.c tests/net/test_server.h
tests_net_test_peer_CPPFLAGS = $(AM_CPPFLAGS) -DMKCERTS='"$(abs_top_srcdir)/tests/lib/mkcerts.sh"'
tests_net_test_peer_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(GNUTLS_CFLAGS) $(CHECK_CFLAGS)
tests_net_test_peer_LDADD = net/libnet.a proto/libwire.a base/libbase.a $(URING_LIBS) $(GNUTLS_LIBS) \
	$(CHECK_LIBS) -lpthread

EXTRA_DIST += tests/fuzz/fuzz_http_response.c

# The same client tests with SENDMSG_ZC refused by the kernel (an undefined
# zero-copy flag gets -EINVAL, as on a kernel without it): exercises the
# step-down and the fallback to plain sendmsg, and the copied-bytes counter.
check_PROGRAMS += tests/net/test_peer_fallback
TESTS += tests/net/test_peer_fallback
tests_net_test_peer_fallback_SOURCES = $(CHECK_MAIN) $(CERTS) tests/net/test_peer.c tests/net/test_server.c \
	tests/net/test_server.h net/peer.c net/http_parse.c net/url.c net/ktls.c
tests_net_test_peer_fallback_CPPFLAGS = $(AM_CPPFLAGS) -DPEER_TEST_FORCE_ZC_EINVAL \
	-DMKCERTS='"$(abs_top_srcdir)/tests/lib/mkcerts.sh"'
tests_net_test_peer_fallback_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(GNUTLS_CFLAGS) $(CHECK_CFLAGS)
# net/libnet.a for net/tls.o only (the objects above come first)
tests_net_test_peer_fallback_LDADD = proto/libwire.a net/libnet.a base/libbase.a $(URING_LIBS) \
	$(GNUTLS_LIBS) $(CHECK_LIBS) -lpthread

# TLS credentials and identities (net/tls.c): certificates made at test
# time by tests/lib/mkcerts.sh, handshakes in-process over a socketpair.
check_PROGRAMS += tests/net/test_tls
TESTS += tests/net/test_tls
tests_net_test_tls_SOURCES = $(CHECK_MAIN) $(CERTS) tests/net/test_tls.c
tests_net_test_tls_CPPFLAGS = $(AM_CPPFLAGS) -DMKCERTS='"$(abs_top_srcdir)/tests/lib/mkcerts.sh"'
tests_net_test_tls_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(CHECK_CFLAGS)
tests_net_test_tls_LDADD = net/libnet.a base/libbase.a $(GNUTLS_LIBS) $(CHECK_LIBS)

# The HTTP server with TLS (net/http_server.c on net/tls.c): identities per
# route, reload, plain HTTP to the TLS port and TLS to a plain one,
# half-open handshakes. The server's plain-HTTP tests are
# tests/daemon/test_http_server.c.
check_PROGRAMS += tests/net/test_https
TESTS += tests/net/test_https
tests_net_test_https_SOURCES = $(CHECK_MAIN) $(CERTS) $(WHOLE_RESPONSE) tests/net/test_https.c
tests_net_test_https_CPPFLAGS = $(AM_CPPFLAGS) -DMKCERTS='"$(abs_top_srcdir)/tests/lib/mkcerts.sh"'
tests_net_test_https_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(MHD_CFLAGS) $(GNUTLS_CFLAGS) $(CHECK_CFLAGS) -pthread
tests_net_test_https_LDADD = net/libhttpd.a net/libnet.a base/libbase.a $(MHD_LIBS) $(GNUTLS_LIBS) \
	$(URING_LIBS) $(CHECK_LIBS) -lpthread

# The gRPC server (net/grpc.c, with TLS: net/grpc_tls.c) on the real loop,
# driven by an nghttp2 client in the test (over GnuTLS for TLS); its fuzz
# target is tests/fuzz/fuzz_grpc.c.
check_PROGRAMS += tests/net/test_grpc
TESTS += tests/net/test_grpc
tests_net_test_grpc_SOURCES = $(CHECK_MAIN) $(CERTS) tests/net/test_grpc.c
tests_net_test_grpc_CPPFLAGS = $(AM_CPPFLAGS) -DMKCERTS='"$(abs_top_srcdir)/tests/lib/mkcerts.sh"'
tests_net_test_grpc_CFLAGS = $(AM_CFLAGS) $(NGHTTP2_CFLAGS) $(URING_CFLAGS) $(GNUTLS_CFLAGS) $(CHECK_CFLAGS)
tests_net_test_grpc_LDADD = net/libgrpc.a net/libnet.a base/libbase.a $(NGHTTP2_LIBS) $(GNUTLS_LIBS) $(URING_LIBS) \
	$(CHECK_LIBS)

# The gRPC client (net/grpc_client.c: unary and streaming calls) against that server in a thread,
# and against mute, garbage and hung-up peers on socketpairs.
check_PROGRAMS += tests/net/test_grpc_client
TESTS += tests/net/test_grpc_client
tests_net_test_grpc_client_SOURCES = $(CHECK_MAIN) tests/net/test_grpc_client.c
tests_net_test_grpc_client_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(CHECK_CFLAGS) -pthread
tests_net_test_grpc_client_LDADD = net/libgrpc.a net/libnet.a base/libbase.a $(NGHTTP2_LIBS) $(GNUTLS_LIBS) \
	$(URING_LIBS) $(CHECK_LIBS) -lpthread

# grpc_testd serves net/grpc.c alone for real clients: grpc-clients.sh has
# Python's grpcio call an echo method through it and etcdctl send it etcd's
# requests, whose bytes must equal protobuf-c's (tests/proto/test_etcdpb).
check_PROGRAMS += tests/net/grpc_testd
tests_net_grpc_testd_SOURCES = tests/net/grpc_testd.c
tests_net_grpc_testd_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(GNUTLS_CFLAGS)
tests_net_grpc_testd_LDADD = net/libgrpc.a net/libnet.a base/libbase.a $(NGHTTP2_LIBS) $(GNUTLS_LIBS) $(URING_LIBS)
TESTS += tests/net/grpc-clients.sh
EXTRA_DIST += tests/net/grpc-clients.sh
