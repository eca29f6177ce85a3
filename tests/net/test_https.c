/* tests/net/test_https.c — the HTTP server with TLS (net/http_server.c on
 * net/tls): identities per route, reload, and hostile input (plain HTTP to
 * the TLS port, TLS to a plain port, handshakes that never finish). The
 * server runs on the loop in the test's thread; the clients are GnuTLS
 * sessions in a thread of their own, or raw sockets. Certificates are made
 * at test time by tests/lib/mkcerts.sh. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "net/http_parse.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "tests/lib/certs.h"
#include "tests/lib/check_main.h"
#include "tests/lib/whole_response.h"

static struct loop loop;
static struct httpd *server;
static uint16_t port;

/* --- the server ---------------------------------------------------------------- */

static const char *verdict_name(enum tls_verdict v)
{
	static const char *const names[] = { "plain", "no-cert", "verified", "refused" };
	return names[v];
}

/* What the connection's certificate proves, as the route sees it. */
static void h_who(struct httpd_request *req, void *data)
{
	(void)data;
	const struct tls_identity *id = httpd_identity(req);
	char body[512];
	snprintf(body, sizeof(body), "%s cn=%s reason=%s names=%zu%s", verdict_name(id->verdict), id->cn,
		 id->reason, id->n_names, tls_identity_has(id, "localhost") ? " localhost" : "");
	httpd_reply(req, 200, "text/plain", body, strlen(body), NULL);
}

static const struct httpd_route routes[] = {
	{ "GET", "/who", false, 0, 0, h_who, NULL, false },
	{ "GET", "/peer/who", false, 0, 0, h_who, NULL, true },
};

/* Starts a server: TLS with tls (NULL: plain), the rest of cfg as given. */
static void start(struct httpd_config cfg, const struct httpd_tls *tls)
{
	char err[256];
	cfg.listen_host = "127.0.0.1";
	cfg.listen_fd = -1;
	cfg.routes = routes;
	cfg.n_routes = sizeof(routes) / sizeof(routes[0]);
	cfg.tls = tls;
	int rv = httpd_start(&loop, &cfg, &server, err, sizeof(err));
	ck_assert_msg(rv == 0, "httpd_start: %s", err);
	port = httpd_port(server);
}

/* n1's certificate; clients verified by ca, peers by other-ca (so that
 * one certificate proves something on one route and not on the other). */
static struct httpd_tls server_tls;

static void setup(void)
{
	ck_assert_int_eq(loop_init(&loop, 256), 0);
	server_tls = (struct httpd_tls){ certs_load("n1", NULL, NULL), certs_load(NULL, "ca", NULL),
				    certs_load(NULL, "other-ca", NULL) };
}

static void teardown(void)
{
	if (server)
		httpd_stop(server);
	server = NULL;
	/* httpd holds its own references */
	tls_creds_unref(server_tls.creds);
	tls_creds_unref(server_tls.client_trust);
	tls_creds_unref(server_tls.peer_trust);
	loop_fini(&loop);
}

/* --- clients --------------------------------------------------------------------- */

static int connect_from(const char *from)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (from) {
		struct sockaddr_in local = { .sin_family = AF_INET };
		inet_pton(AF_INET, from, &local.sin_addr);
		if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static const char *body_of(const char *response)
{
	const char *p = strstr(response, "\r\n\r\n");
	return p ? p + 4 : "";
}

/* A blocking GnuTLS client in a thread: GETs on one keep-alive
 * connection; after request pause_at it waits until the test says go. */
struct client {
	struct tls_creds *creds; /* its certificate (may be none) and the CA */
	const char *paths[4];
	int pause_at;            /* -1: never */
	int statuses[4];
	char responses[4][1024];
	char server_cn[64];
	char err[128];
	atomic_int paused, go, done;
};

static void peer_cn(gnutls_session_t s, char *out, size_t cap)
{
	unsigned n = 0;
	const gnutls_datum_t *raw = gnutls_certificate_get_peers(s, &n);
	gnutls_x509_crt_t crt;
	out[0] = '\0';
	if (!raw || !n || gnutls_x509_crt_init(&crt) < 0)
		return;
	size_t size = cap;
	if (gnutls_x509_crt_import(crt, &raw[0], GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, out, &size) < 0)
		out[0] = '\0';
	gnutls_x509_crt_deinit(crt);
}

static int tls_get(gnutls_session_t s, const char *path, char *buf, size_t cap)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	if (gnutls_record_send(s, req, (size_t)n) != n)
		return -1;
	size_t len = 0;
	int status = 0;
	while (len < cap - 1) {
		ssize_t r = gnutls_record_recv(s, buf + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (whole_response(buf, len, &status))
			return status;
	}
	buf[len] = '\0';
	return -1;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	gnutls_session_t s = NULL;
	int fd = connect_from(NULL), r;
	if (fd < 0) {
		snprintf(cl->err, sizeof(cl->err), "connect: %s", strerror(errno));
		goto out;
	}
	struct timeval tv = { .tv_sec = 20 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	gnutls_init(&s, GNUTLS_CLIENT);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(cl->creds));
	gnutls_priority_set(s, tls_creds_priority(cl->creds));
	gnutls_transport_set_int(s, fd);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		snprintf(cl->err, sizeof(cl->err), "handshake: %s", gnutls_strerror(r));
		goto out;
	}
	peer_cn(s, cl->server_cn, sizeof(cl->server_cn));
	for (int i = 0; i < 4 && cl->paths[i]; i++) {
		cl->statuses[i] = tls_get(s, cl->paths[i], cl->responses[i], sizeof(cl->responses[i]));
		if (i == cl->pause_at) {
			atomic_store(&cl->paused, 1);
			while (!atomic_load(&cl->go))
				usleep(1000);
		}
	}
	gnutls_bye(s, GNUTLS_SHUT_WR);
out:
	if (s)
		gnutls_deinit(s);
	if (fd >= 0)
		close(fd);
	atomic_store(&cl->done, 1);
	return NULL;
}

/* Runs the loop until flag is set (generous deadline). */
static void run_until(atomic_int *flag)
{
	for (int i = 0; i < 3000 && !atomic_load(flag); i++)
		loop_run_once(&loop, 10);
	ck_assert_msg(atomic_load(flag), "client did not get there");
}

/* One client with creds, its GETs, to the end. */
static void run_client(struct client *cl)
{
	pthread_t t;
	cl->pause_at = -1;
	pthread_create(&t, NULL, client_main, cl);
	run_until(&cl->done);
	pthread_join(t, NULL);
	ck_assert_msg(!cl->err[0], "%s", cl->err);
}

/* What /who (and /peer/who) say for a client with NAME's certificate. */
static void who(const char *name, struct client *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->creds = certs_load(name, "ca", NULL);
	cl->paths[0] = "/who";
	cl->paths[1] = "/peer/who";
	cl->paths[2] = "/who"; /* computed once: the same answer */
	run_client(cl);
	tls_creds_unref(cl->creds);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cl->statuses[i], 200);
	ck_assert_str_eq(body_of(cl->responses[0]), body_of(cl->responses[2]));
}

/* Whole responses at the start of buf. */
static int count_responses(const char *buf, size_t len)
{
	struct http_parser p;
	size_t off = 0;
	int n = 0;
	http_parser_init(&p, NULL);
	for (;;) {
		struct http_event ev;
		long k = http_parse(&p, (const uint8_t *)buf + off, len - off, &ev);
		if (k < 0)
			return -1;
		off += (size_t)k;
		if (ev.kind == HTTP_EV_DONE)
			n++;
		else if (ev.kind == HTTP_EV_NEED_MORE)
			return n;
	}
}

/* A client that sends PIPELINED requests, each a TLS record of its own,
 * in one write, then reads until every response came (or 20 s pass). */
enum { PIPELINED = 8 };
struct pipelined {
	struct tls_creds *creds;
	char buf[PIPELINED * 1024];
	size_t len;
	int responses;
	char err[128];
	atomic_int done;
};

static __thread char held_out[PIPELINED * 1024];
static __thread size_t held_out_len;

static ssize_t hold_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	(void)p;
	if (len > sizeof(held_out) - held_out_len) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(held_out + held_out_len, data, len);
	held_out_len += len;
	return (ssize_t)len;
}

static void *pipelined_main(void *arg)
{
	struct pipelined *pl = arg;
	gnutls_session_t s = NULL;
	int fd = connect_from(NULL), r;
	if (fd < 0) {
		snprintf(pl->err, sizeof(pl->err), "connect: %s", strerror(errno));
		goto out;
	}
	struct timeval tv = { .tv_sec = 20 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	gnutls_init(&s, GNUTLS_CLIENT);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(pl->creds));
	gnutls_priority_set(s, tls_creds_priority(pl->creds));
	gnutls_transport_set_int(s, fd);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		snprintf(pl->err, sizeof(pl->err), "handshake: %s", gnutls_strerror(r));
		goto out;
	}
	/* the records go to held_out, then out in one send */
	gnutls_transport_set_push_function(s, hold_push);
	held_out_len = 0;
	for (int i = 0; i < PIPELINED; i++) {
		static const char req[] = "GET /who HTTP/1.1\r\nHost: x\r\n\r\n";
		if (gnutls_record_send(s, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
			snprintf(pl->err, sizeof(pl->err), "record_send failed");
			goto out;
		}
	}
	if (send(fd, held_out, held_out_len, MSG_NOSIGNAL) != (ssize_t)held_out_len) {
		snprintf(pl->err, sizeof(pl->err), "send: %s", strerror(errno));
		goto out;
	}
	while (pl->responses < PIPELINED && pl->len < sizeof(pl->buf) - 1) {
		ssize_t n = gnutls_record_recv(s, pl->buf + pl->len, sizeof(pl->buf) - 1 - pl->len);
		if (n <= 0)
			break;
		pl->len += (size_t)n;
		pl->responses = count_responses(pl->buf, pl->len);
	}
out:
	if (s)
		gnutls_deinit(s);
	if (fd >= 0)
		close(fd);
	atomic_store(&pl->done, 1);
	return NULL;
}

/* --- tests ------------------------------------------------------------------------ */

START_TEST(test_identities_per_route)
{
	struct client cl;
	start((struct httpd_config){ 0 }, &server_tls);
	who("n1", &cl);
	ck_assert_str_eq(cl.server_cn, "n1");
	ck_assert_str_eq(body_of(cl.responses[0]), "verified cn=n1 reason= names=13 localhost");
	/* peers are verified by the other CA here */
	ck_assert_str_eq(body_of(cl.responses[1]), "refused cn=n1 reason=signed by an unknown authority names=13");
	who("writer", &cl);
	ck_assert_str_eq(body_of(cl.responses[0]), "verified cn=writer reason= names=0");
	who(NULL, &cl);
	ck_assert_str_eq(body_of(cl.responses[0]), "no-cert cn= reason= names=0");
	ck_assert_str_eq(body_of(cl.responses[1]), "no-cert cn= reason= names=0");
	who("expired", &cl);
	ck_assert_str_eq(body_of(cl.responses[0]), "refused cn=expired reason=expired names=13");
	who("other", &cl);
	ck_assert_str_eq(body_of(cl.responses[0]), "refused cn=n1 reason=signed by an unknown authority names=13");
	ck_assert_str_eq(body_of(cl.responses[1]), "verified cn=n1 reason= names=13 localhost");
}
END_TEST

/* Pipelined requests that arrive as several TLS records in one segment:
 * the server answers every one of them with no more bytes coming (the
 * records past the first are read from the socket, or held decrypted by
 * GnuTLS, with no poll event left to announce them). */
START_TEST(test_pipelined_records_in_one_segment)
{
	static struct pipelined pl;
	memset(&pl, 0, sizeof(pl));
	start((struct httpd_config){ 0 }, &server_tls);
	pl.creds = certs_load(NULL, "ca", NULL);
	pthread_t t;
	pthread_create(&t, NULL, pipelined_main, &pl);
	loop_run_once(&loop, 0);
	uint64_t t0 = loop_now_ms(&loop);
	/* the client gives up after 20 s without bytes: well past this */
	while (!atomic_load(&pl.done) && loop_now_ms(&loop) - t0 < 5000)
		loop_run_once(&loop, 10);
	bool done = atomic_load(&pl.done);
	if (!done) /* let the client end, then fail */
		httpd_stop(server), server = NULL;
	pthread_join(t, NULL);
	tls_creds_unref(pl.creds);
	ck_assert_msg(done, "responses missing after %llu ms: %d of %d", (unsigned long long)(loop_now_ms(&loop) - t0),
		      pl.responses, PIPELINED);
	ck_assert_msg(!pl.err[0], "%s", pl.err);
	ck_assert_int_eq(pl.responses, PIPELINED);
}
END_TEST

START_TEST(test_plain_server_says_plain)
{
	start((struct httpd_config){ 0 }, NULL);
	int fd = connect_from(NULL);
	ck_assert_int_ge(fd, 0);
	const char req[] = "GET /who HTTP/1.1\r\nHost: x\r\n\r\n";
	ck_assert_int_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	char buf[1024];
	size_t len = 0;
	int status = 0;
	struct timeval tv = { .tv_usec = 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < 2000 && !whole_response(buf, len, &status); i++) {
		loop_run_once(&loop, 5);
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
	}
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(body_of(buf), "plain cn= reason= names=0");
	close(fd);
	/* TLS on a plain server: refused */
	ck_assert_int_eq(httpd_set_tls(server, &server_tls), -EINVAL);
}
END_TEST

START_TEST(test_start_and_reload_need_a_certificate)
{
	char err[256];
	struct httpd_tls no_cert = { server_tls.client_trust, NULL, NULL };
	struct httpd_config cfg = { .listen_host = "127.0.0.1", .listen_fd = -1, .routes = routes, .n_routes = 1,
				    .tls = &no_cert };
	ck_assert_int_eq(httpd_start(&loop, &cfg, &server, err, sizeof(err)), -EINVAL);
	server = NULL;
	ck_assert_str_eq(err, "TLS needs a certificate and its key");
	start((struct httpd_config){ 0 }, &server_tls);
	ck_assert_int_eq(httpd_set_tls(server, &no_cert), -EINVAL);
	ck_assert_int_eq(httpd_set_tls(server, NULL), -EINVAL);
}
END_TEST

/* A keep-alive connection opened before a reload keeps its certificate
 * and trust; a connection after it gets the new ones. */
START_TEST(test_reload)
{
	start((struct httpd_config){ 0 }, &server_tls);
	struct client old = { 0 };
	old.creds = certs_load("other", "ca", NULL);
	old.paths[0] = "/who";
	old.paths[1] = "/who";
	old.pause_at = 0;
	pthread_t t;
	pthread_create(&t, NULL, client_main, &old);
	run_until(&old.paused);

	/* n2's certificate, and clients now verified by the other CA */
	struct httpd_tls next = { certs_load("n2", NULL, NULL), certs_load(NULL, "other-ca", NULL), NULL };
	ck_assert_int_eq(httpd_set_tls(server, &next), 0);
	tls_creds_unref(next.creds);
	tls_creds_unref(next.client_trust);

	struct client fresh = { 0 };
	fresh.creds = old.creds;
	fresh.paths[0] = "/who";
	run_client(&fresh);
	ck_assert_str_eq(fresh.server_cn, "n2");
	ck_assert_int_eq(fresh.statuses[0], 200);
	ck_assert_str_eq(body_of(fresh.responses[0]), "verified cn=n1 reason= names=13 localhost");

	atomic_store(&old.go, 1);
	run_until(&old.done);
	pthread_join(t, NULL);
	ck_assert_msg(!old.err[0], "%s", old.err);
	ck_assert_str_eq(old.server_cn, "n1");
	ck_assert_int_eq(old.statuses[0], 200);
	ck_assert_int_eq(old.statuses[1], 200);
	const char *refused = "refused cn=n1 reason=signed by an unknown authority names=13";
	ck_assert_str_eq(body_of(old.responses[0]), refused);
	ck_assert_str_eq(body_of(old.responses[1]), refused);
	tls_creds_unref(old.creds);
}
END_TEST

/* A reload that runs out of memory keeps the credentials it had. */
START_TEST(test_reload_out_of_memory)
{
	start((struct httpd_config){ 0 }, &server_tls);
	struct httpd_tls next = { certs_load("n2", NULL, NULL), NULL, NULL };
	alloc_fail_nth(1);
	int rv = httpd_set_tls(server, &next);
	ck_assert(alloc_failed());
	alloc_fail_nth(0);
	ck_assert_int_eq(rv, -ENOMEM);
	tls_creds_unref(next.creds);
	struct client cl;
	who("n1", &cl);
	ck_assert_str_eq(cl.server_cn, "n1");
	ck_assert_str_eq(body_of(cl.responses[0]), "verified cn=n1 reason= names=13 localhost");
}
END_TEST

/* A ClientHello as a GnuTLS client sends it, captured. */
static uint8_t hello[4096];
static size_t hello_len;

static ssize_t capture_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	(void)p;
	if (hello_len + len > sizeof(hello))
		len = sizeof(hello) - hello_len;
	memcpy(hello + hello_len, data, len);
	hello_len += len;
	return (ssize_t)len;
}

static ssize_t nothing_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	(void)p, (void)data, (void)len;
	errno = EAGAIN;
	return -1;
}

static void make_client_hello(void)
{
	gnutls_session_t s;
	struct tls_creds *c = certs_load(NULL, "ca", NULL);
	hello_len = 0;
	ck_assert_int_eq(gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(c));
	gnutls_priority_set(s, tls_creds_priority(c));
	gnutls_transport_set_push_function(s, capture_push);
	gnutls_transport_set_pull_function(s, nothing_pull);
	ck_assert_int_eq(gnutls_handshake(s), GNUTLS_E_AGAIN);
	gnutls_deinit(s);
	tls_creds_unref(c);
	ck_assert_uint_gt(hello_len, 100);
	ck_assert_uint_eq(hello[0], 22); /* a handshake record */
}

/* Reads what fd gets until it is closed (running the loop meanwhile);
 * returns the bytes read, -1 if it stayed open past the deadline. */
static ssize_t read_until_closed(int fd, char *buf, size_t cap)
{
	struct timeval tv = { .tv_usec = 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	size_t len = 0;
	for (int i = 0; i < 2000; i++) {
		loop_run_once(&loop, 5);
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			buf[len] = '\0';
			return (ssize_t)len;
		}
		if (n > 0)
			len += (size_t)n;
	}
	return -1;
}

static void send_raw(int fd, const void *data, size_t len)
{
	ck_assert_int_eq(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* The server keeps serving TLS clients. */
static void still_serving(void)
{
	struct client cl;
	who("n1", &cl);
	ck_assert_str_eq(body_of(cl.responses[0]), "verified cn=n1 reason= names=13 localhost");
}

START_TEST(test_plain_http_to_tls_port)
{
	start((struct httpd_config){ 0 }, &server_tls);
	static const char req[] = "GET /who HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[1024];
	int fd = connect_from(NULL);
	ck_assert_int_ge(fd, 0);
	send_raw(fd, req, sizeof(req) - 1);
	ssize_t n = read_until_closed(fd, buf, sizeof(buf));
	ck_assert_msg(n > 0, "closed without an answer, or left open");
	ck_assert_msg(!strncmp(buf, "HTTP/1.1 400", 12), "got %s", buf);
	ck_assert_str_eq(body_of(buf), "this port speaks TLS: use https:// URLs\n");
	ck_assert_uint_eq(httpd_stats(server)->wrong_protocol, 1);
	close(fd);
	ck_assert_uint_eq(httpd_stats(server)->conns_clients, 0);
	still_serving();
}
END_TEST

START_TEST(test_tls_to_plain_port)
{
	start((struct httpd_config){ 0 }, NULL);
	make_client_hello();
	char buf[1024];
	int fd = connect_from(NULL);
	ck_assert_int_ge(fd, 0);
	send_raw(fd, hello, hello_len);
	ssize_t n = read_until_closed(fd, buf, sizeof(buf));
	ck_assert_msg(n > 0, "closed without an answer, or left open");
	ck_assert_msg(!strncmp(buf, "HTTP/1.1 400", 12), "got %s", buf);
	ck_assert_str_eq(body_of(buf), "this port speaks plain HTTP: use http:// URLs\n");
	ck_assert_uint_eq(httpd_stats(server)->wrong_protocol, 1);
	close(fd);
	/* plain requests go on */
	fd = connect_from(NULL);
	static const char req[] = "GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	send_raw(fd, req, sizeof(req) - 1);
	n = read_until_closed(fd, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_msg(!strncmp(buf, "HTTP/1.1 200", 12), "got %s", buf);
	ck_assert_str_eq(body_of(buf), "plain cn= reason= names=0");
	close(fd);
}
END_TEST

/* Thousands of connections that send half a ClientHello and stop: each
 * counts in the budgets while it handshakes, so they hold at most
 * max_per_address connections (and their memory), a client from another
 * address is served meanwhile, and the head deadline closes them, with no
 * plain-text 408 on a TLS connection. */
START_TEST(test_half_open_handshakes)
{
	enum { ATTACK = 2000, PER_ADDR = 32 };
	start((struct httpd_config){ .max_connections = 256, .max_per_address = PER_ADDR, .head_timeout_s = 1,
				     .connection_timeout_s = 60 },
	      &server_tls);
	make_client_hello();
	static int fds[ATTACK];
	uint64_t most = 0;
	for (int i = 0; i < ATTACK; i++) {
		fds[i] = connect_from("127.0.0.2");
		ck_assert_msg(fds[i] >= 0, "connect %d: %s", i, strerror(errno));
		(void)!send(fds[i], hello, hello_len / 2, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (i % 50 == 49) {
			loop_run_once(&loop, 0);
			const struct httpd_stats *st = httpd_stats(server);
			most = st->conns_clients > most ? st->conns_clients : most;
		}
	}
	for (int i = 0; i < 20; i++)
		loop_run_once(&loop, 5);
	most = httpd_stats(server)->conns_clients > most ? httpd_stats(server)->conns_clients : most;
	ck_assert_uint_le(most, PER_ADDR);
	ck_assert_uint_ge(httpd_stats(server)->conn_refused, ATTACK - PER_ADDR - 1);

	/* served meanwhile */
	still_serving();

	/* the head deadline closes the half-open ones */
	for (int i = 0; i < 1000 && httpd_stats(server)->conns_clients; i++)
		loop_run_once(&loop, 10);
	ck_assert_uint_eq(httpd_stats(server)->conns_clients, 0);
	ck_assert_uint_ge(httpd_stats(server)->head_timeouts, PER_ADDR - 1);
	for (int i = 0; i < ATTACK; i++) {
		char buf[64];
		ssize_t n = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
		ck_assert_msg(n <= 0 || memcmp(buf, "HTTP", 4) != 0, "plain text on a TLS connection");
		close(fds[i]);
	}
	still_serving();
}
END_TEST

/* Stopping (a node restarting to rebase its log does) while a handshake
 * waits for its client: the server's own suspension of that handshake
 * must end first, or libmicrohttpd aborts the process. */
START_TEST(test_stop_with_a_handshake_waiting)
{
	start((struct httpd_config){ .head_timeout_s = 60, .connection_timeout_s = 60 }, &server_tls);
	make_client_hello();
	int fd = connect_from("127.0.0.1");
	ck_assert_int_ge(fd, 0);
	send_raw(fd, hello, hello_len / 2);
	for (int i = 0; i < 50; i++)
		loop_run_once(&loop, 5);
	ck_assert_uint_eq(httpd_stats(server)->conns_clients, 1);
	ck_assert_int_eq(httpd_stop(server), 0);
	server = NULL;
	close(fd);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("https");
	TCase *tc = tcase_create("https");
	tcase_add_unchecked_fixture(tc, certs_make, certs_remove);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_identities_per_route);
	tcase_add_test(tc, test_pipelined_records_in_one_segment);
	tcase_add_test(tc, test_plain_server_says_plain);
	tcase_add_test(tc, test_start_and_reload_need_a_certificate);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_reload_out_of_memory);
	tcase_add_test(tc, test_plain_http_to_tls_port);
	tcase_add_test(tc, test_tls_to_plain_port);
	tcase_add_test(tc, test_half_open_handshakes);
	tcase_add_test(tc, test_stop_with_a_handshake_waiting);
	suite_add_tcase(s, tc);
	return s;
}
