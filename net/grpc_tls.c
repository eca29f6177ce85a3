/* net/grpc_tls.c — GnuTLS server sessions for the gRPC server; see the header. */
#include "net/grpc_tls.h"

#include "base/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The credentials of the connections accepted while it is current. */
struct tls_gen {
	unsigned refs;
	struct tls_creds *creds;
	struct tls_creds *trust; /* NULL: none */
	bool client_cert_auth;
	void (*on_refused)(void *data, const char *reason);
	void *data;
};

struct tls_conn {
	gnutls_session_t session;
	int fd;
	struct tls_gen *gen;
	struct tls_identity *id; /* NULL until first asked (or verified in the handshake) */
	/* send()s gather in GnuTLS's cork buffer until flush(), so that a
	 * response's HEADERS, DATA and trailers go out as one record in one
	 * system call rather than three */
	bool corked;
	/* the last uncork met a full socket: GnuTLS holds the rest (and an
	 * encrypted record it must send before anything else) */
	bool flushing;
	bool handshaken;
	bool refused; /* the certificate was refused in the handshake */
	/* bytes read ahead of what GnuTLS asked for (it asks for a record's
	 * header, then its body): held only while there are some */
	uint8_t *ahead;
	size_t ahead_off, ahead_len;
};

static const struct tls_identity oom_identity = { .verdict = TLS_REFUSED, .reason = "out of memory" };

static int check(const struct grpc_tls *tls)
{
	if (!tls || !tls_creds_has_cert(tls->creds) || (tls->client_cert_auth && !tls_creds_has_trust(tls->client_trust)))
		return -EINVAL;
	return 0;
}

static struct tls_gen *gen_new(const struct grpc_tls *tls)
{
	struct tls_gen *g = base_calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->refs = 1;
	g->creds = tls_creds_ref(tls->creds);
	g->trust = tls->client_trust ? tls_creds_ref(tls->client_trust) : NULL;
	g->client_cert_auth = tls->client_cert_auth;
	g->on_refused = tls->on_refused;
	g->data = tls->data;
	return g;
}

static void gen_unref(struct tls_gen *g)
{
	if (!g || --g->refs)
		return;
	tls_creds_unref(g->creds);
	tls_creds_unref(g->trust);
	free(g);
}

/* --- the session's transport: the non-blocking socket ------------------------- */

/* A whole record of the largest size, header and overhead included. */
#define AHEAD_SIZE (16384 + 5 + 256 + 256)

static void drop_ahead(struct tls_conn *t)
{
	free(t->ahead);
	t->ahead = NULL;
	t->ahead_off = t->ahead_len = 0;
}

/* One recv() for a record's header and body, and for the records behind
 * it, where GnuTLS alone would make two per record. */
static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct tls_conn *t = ptr;
	if (!t->ahead_len) {
		if (len >= AHEAD_SIZE)
			return recv(t->fd, buf, len, 0);
		t->ahead = base_malloc(AHEAD_SIZE);
		if (!t->ahead)
			return recv(t->fd, buf, len, 0);
		ssize_t n = recv(t->fd, t->ahead, AHEAD_SIZE, 0);
		if (n <= 0) {
			int e = errno;
			drop_ahead(t);
			errno = e; /* GnuTLS reads EAGAIN from it */
			return n;
		}
		t->ahead_len = (size_t)n;
	}
	size_t n = t->ahead_len - t->ahead_off < len ? t->ahead_len - t->ahead_off : len;
	memcpy(buf, t->ahead + t->ahead_off, n);
	t->ahead_off += n;
	if (t->ahead_off == t->ahead_len)
		drop_ahead(t);
	return (ssize_t)n;
}

/* GnuTLS asks for one with a custom pull function; it never waits here
 * (the loop does): only whether bytes are there now. */
static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
	struct tls_conn *t = ptr;
	struct pollfd p = { .fd = t->fd, .events = POLLIN };
	(void)ms;
	return t->ahead_len ? 1 : poll(&p, 1, 0);
}

static ssize_t push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct tls_conn *t = ptr;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	/* a client gone away must not kill the daemon with SIGPIPE */
	return sendmsg(t->fd, &msg, MSG_NOSIGNAL);
}

/* --- refusals ------------------------------------------------------------------ */

static void refused(struct tls_conn *t, const char *what, const char *detail)
{
	if (!t->gen->on_refused)
		return;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char addr[INET6_ADDRSTRLEN] = "?", who[64 + TLS_NAME_MAX] = "", reason[512];
	unsigned port = 0;
	if (getpeername(t->fd, (struct sockaddr *)&sa, &len) == 0) {
		if (sa.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, addr, sizeof(addr));
			port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
		} else if (sa.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, addr, sizeof(addr));
			port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
		}
	}
	if (t->id && t->id->cn[0])
		snprintf(who, sizeof(who), " (CN %s)", t->id->cn);
	snprintf(reason, sizeof(reason), "client %s:%u%s: %s%s", addr, port, who, what, detail);
	t->gen->on_refused(t->gen->data, reason);
}

/* With client_cert_auth the certificate is judged while the handshake
 * runs, so that a refused client gets an alert instead of a connection
 * that closes after it thought it was in. */
static int verify_client(gnutls_session_t session)
{
	struct tls_conn *t = gnutls_session_get_ptr(session);
	if (!t->id) {
		t->id = base_malloc(sizeof(*t->id));
		if (!t->id)
			return -1;
	}
	tls_identify(session, t->gen->trust, t->id);
	if (t->id->verdict == TLS_VERIFIED)
		return 0;
	t->refused = true;
	return -1;
}

/* --- the transport --------------------------------------------------------------- */

static int tls_open(void *io_data, int fd, void **ret_ctx)
{
	struct tls_gen *g = io_data;
	struct tls_conn *t = base_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = fd;
	int rv = -ENOMEM;
	if (gnutls_init(&t->session, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
		t->session = NULL;
		goto fail;
	}
	static const gnutls_datum_t h2 = { (unsigned char *)"h2", 2 };
	if (gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(g->creds)) < 0 ||
	    gnutls_priority_set(t->session, tls_creds_priority(g->creds)) < 0 ||
	    gnutls_alpn_set_protocols(t->session, &h2, 1, GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE) < 0)
		goto fail;
	gnutls_session_set_ptr(t->session, t);
	gnutls_transport_set_ptr(t->session, t);
	gnutls_transport_set_pull_function(t->session, pull);
	gnutls_transport_set_pull_timeout_function(t->session, pull_timeout);
	gnutls_transport_set_vec_push_function(t->session, push);
	/* the server's preface timer bounds the handshake */
	gnutls_handshake_set_timeout(t->session, 0);
	if (g->trust) {
		gnutls_certificate_server_set_request(t->session,
						      g->client_cert_auth ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
		/* no list of acceptable CAs: a client then sends the
		 * certificate it has, and one of another CA is refused with
		 * that reason rather than looking like none */
		gnutls_certificate_send_x509_rdn_sequence(t->session, 1);
		if (g->client_cert_auth)
			gnutls_session_set_verify_function(t->session, verify_client);
	}
	t->gen = g;
	g->refs++;
	*ret_ctx = t;
	return 0;
fail:
	if (t->session)
		gnutls_deinit(t->session);
	free(t);
	return rv;
}

static int tls_handshake(void *ctx)
{
	struct tls_conn *t = ctx;
	int g = gnutls_handshake(t->session);
	if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	if (g < 0) {
		/* an alert tells a TLS client why; best effort, the socket
		 * is non-blocking and the connection closes anyway */
		if (g != GNUTLS_E_PREMATURE_TERMINATION && g != GNUTLS_E_PUSH_ERROR && g != GNUTLS_E_PULL_ERROR)
			gnutls_alert_send_appropriate(t->session, g);
		if (t->refused) {
			refused(t, "certificate ", t->id->reason[0] ? t->id->reason : "refused");
			return -EACCES;
		}
		if (g == GNUTLS_E_NO_CERTIFICATE_FOUND || g == GNUTLS_E_CERTIFICATE_REQUIRED) {
			refused(t, "no client certificate (client-cert-auth requires one)", "");
			return -EACCES;
		}
		if (g == GNUTLS_E_NO_APPLICATION_PROTOCOL) {
			refused(t, "ALPN offers no h2 (gRPC needs HTTP/2)", "");
			return -EACCES;
		}
		return -EPROTO;
	}
	gnutls_datum_t alpn = { 0 };
	if (gnutls_alpn_get_selected_protocol(t->session, &alpn) < 0 || alpn.size != 2 || memcmp(alpn.data, "h2", 2)) {
		/* a client that offered no ALPN at all gets here */
		gnutls_alert_send(t->session, GNUTLS_AL_FATAL, GNUTLS_A_NO_APPLICATION_PROTOCOL);
		refused(t, "no ALPN h2 (gRPC needs HTTP/2)", "");
		return -EACCES;
	}
	t->handshaken = true;
	return 0;
}

static unsigned tls_blocked_on(void *ctx)
{
	struct tls_conn *t = ctx;
	return gnutls_record_get_direction(t->session) ? POLLOUT : POLLIN;
}

static ssize_t tls_recv(void *ctx, void *buf, size_t len)
{
	struct tls_conn *t = ctx;
	for (;;) {
		ssize_t n = gnutls_record_recv(t->session, buf, len);
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_AGAIN)
			return -EAGAIN;
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		/* the client closed without close_notify: the end all the same */
		if (n == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		/* a warning alert says nothing that matters here; a
		 * renegotiation (TLS 1.2) is not served, as in grpc-go */
		if (!gnutls_error_is_fatal((int)n) && n != GNUTLS_E_REHANDSHAKE)
			continue;
		return -EPROTO;
	}
}

/* What the cork buffer may hold before it is written without waiting for
 * flush(): one full record, so that a stream of large messages costs no
 * more memory than it did uncorked. */
#define CORK_MAX 16384

static int tls_flush(void *ctx)
{
	struct tls_conn *t = ctx;
	if (!t->corked)
		return 0;
	/* on GNUTLS_E_AGAIN GnuTLS stays corked with what is left, and
	 * the next uncork goes on from there */
	int g = gnutls_record_uncork(t->session, 0);
	if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED) {
		t->flushing = true;
		return -EAGAIN;
	}
	t->flushing = false;
	t->corked = false;
	return g < 0 ? -EPIPE : 0;
}

static ssize_t tls_send(void *ctx, const void *buf, size_t len)
{
	struct tls_conn *t = ctx;
	/* nothing is added behind what a full socket holds back */
	if (t->flushing) {
		int rv = tls_flush(ctx);
		if (rv < 0)
			return rv;
	}
	if (!t->corked) {
		gnutls_record_cork(t->session);
		t->corked = true;
	}
	/* corked, GnuTLS only copies */
	ssize_t n = gnutls_record_send(t->session, buf, len);
	if (n < 0)
		return n == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EPIPE;
	if (gnutls_record_check_corked(t->session) >= CORK_MAX) {
		/* the bytes are taken either way; a full socket shows on
		 * the next send() or flush() */
		int rv = tls_flush(ctx);
		if (rv < 0 && rv != -EAGAIN)
			return rv;
	}
	return n;
}

static void tls_close(void *ctx)
{
	struct tls_conn *t = ctx;
	/* close_notify, once, without waiting for the client's, after what
	 * is corked if the socket takes it */
	if (t->handshaken && tls_flush(t) == 0)
		gnutls_bye(t->session, GNUTLS_SHUT_WR);
	gnutls_deinit(t->session);
	gen_unref(t->gen);
	drop_ahead(t);
	free(t->id);
	free(t);
}

const struct tls_identity *grpc_tls_identity(void *ctx)
{
	struct tls_conn *t = ctx;
	if (!t->id) {
		t->id = base_malloc(sizeof(*t->id));
		if (!t->id)
			return &oom_identity;
		tls_identify(t->session, t->gen->trust, t->id);
	}
	return t->id;
}

int grpc_tls_init(struct grpc_io *io, const struct grpc_tls *tls)
{
	int rv = check(tls);
	if (rv < 0)
		return rv;
	struct tls_gen *g = gen_new(tls);
	if (!g)
		return -ENOMEM;
	*io = (struct grpc_io){
		.open = tls_open,
		.recv = tls_recv,
		.send = tls_send,
		.close = tls_close,
		.io_data = g,
		.handshake = tls_handshake,
		.blocked_on = tls_blocked_on,
		.flush = tls_flush,
	};
	return 0;
}

int grpc_tls_set(struct grpc_io *io, const struct grpc_tls *tls)
{
	int rv = check(tls);
	if (rv < 0)
		return rv;
	struct tls_gen *g = gen_new(tls);
	if (!g)
		return -ENOMEM;
	gen_unref(io->io_data);
	io->io_data = g;
	return 0;
}

void grpc_tls_free(struct grpc_io *io)
{
	gen_unref(io->io_data);
	io->io_data = NULL;
}
