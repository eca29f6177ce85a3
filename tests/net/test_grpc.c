/* tests/net/test_grpc.c — the gRPC server (net/grpc.c) on the real loop,
 * driven by an nghttp2 client session in the same thread: each pump step
 * lets the client write and read its socket, then runs one loop pass.
 * The "tls" case runs the client over a GnuTLS session (net/grpc_tls.c),
 * with the certificates of tests/lib/mkcerts.sh.
 *
 * Timing: waits poll with generous deadlines; the deadline test asserts only
 * that the status comes, never how soon.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "base/alloc.h"
#include "base/loop.h"
#include "net/grpc.h"
#include "tests/lib/certs.h"
#include "tests/lib/check_main.h"

#define MAX_STREAMS 300

static struct loop loop;
static struct grpc_server *server;

/* --- the server's methods ---------------------------------------------------- */

static struct grpc_call *held_call;  /* a call never answered */
static unsigned cancels;             /* on_cancel seen */
static struct loop_timer later_timer;

/* calls answered later, on a timer */
static struct {
	struct grpc_call *call;
	uint8_t msg[32];
	size_t len;
} later[MAX_STREAMS];
static size_t n_later;

static void h_echo(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	grpc_reply(call, msg, len);
}

static void later_fire(struct loop_timer *t)
{
	(void)t;
	for (size_t i = 0; i < n_later; i++)
		grpc_reply(later[i].call, later[i].msg, later[i].len);
	n_later = 0;
}

/* answers on a timer, outside every callback of the server */
static void h_later(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	ck_assert_uint_lt(n_later, MAX_STREAMS);
	later[n_later].call = call;
	later[n_later].len = len < sizeof(later[0].msg) ? len : sizeof(later[0].msg);
	memcpy(later[n_later].msg, msg, later[n_later].len);
	n_later++;
	loop_timer_arm(&loop, &later_timer, 1);
}

static void later_cancel(struct grpc_call *call)
{
	for (size_t i = 0; i < n_later; i++)
		if (later[i].call == call)
			later[i] = later[--n_later];
	cancels++;
}

static void h_never(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	held_call = call;
}

static void on_cancel(struct grpc_call *call)
{
	if (call == held_call)
		held_call = NULL;
	cancels++;
}

/* streaming: each message comes back twice; half-close ends the call */
static void h_stream(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	ck_assert_int_eq(grpc_send(call, msg, len), 0);
	ck_assert_int_eq(grpc_send(call, msg, len), 0);
}

static void h_stream_end(struct grpc_call *call)
{
	grpc_finish(call, GRPC_OK, NULL);
}

/* a flood of 64 KiB messages up to the count asked, as fast as the
 * budget lets it */
static struct grpc_call *flood_call;
static unsigned flood_sent, flood_total, flood_refused;
static uint8_t flood_buf[65536];

static void flood_more(struct grpc_call *call)
{
	while (flood_sent < flood_total) {
		int rv = grpc_send(call, flood_buf, sizeof(flood_buf));
		if (rv == -ENOBUFS) {
			flood_refused++;
			return; /* on_writable comes back */
		}
		ck_assert_int_eq(rv, 0);
		flood_sent++;
	}
	flood_call = NULL;
	grpc_finish(call, GRPC_OK, NULL);
}

static void h_flood(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	ck_assert_uint_eq(len, 4);
	flood_total = (unsigned)msg[0] << 24 | (unsigned)msg[1] << 16 | (unsigned)msg[2] << 8 | msg[3];
	flood_sent = flood_refused = 0;
	flood_call = call;
	flood_more(call);
}

static void flood_cancel(struct grpc_call *call)
{
	(void)call;
	flood_call = NULL;
}

static void h_status(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	grpc_finish(call, GRPC_FAILED_PRECONDITION, "bad: 100% \xe2\x9c\x93\n");
}

/* what the connection's certificate proves: "VERDICT CN n_names reason",
 * and whether it names 127.0.0.1 */
static void h_whoami(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	const struct tls_identity *id = grpc_call_identity(call);
	char out[512];
	int n = snprintf(out, sizeof(out), "%d %s %zu %s%s", (int)id->verdict, id->cn[0] ? id->cn : "-", id->n_names,
			 id->reason, tls_identity_has(id, "127.0.0.1") ? " +ip" : "");
	grpc_reply(call, (const uint8_t *)out, (size_t)n);
}

static const struct grpc_method methods[] = {
	{ .path = "/test.Echo/Whoami", .kind = GRPC_UNARY, .handle = h_whoami },
	{ .path = "/test.Echo/Unary", .kind = GRPC_UNARY, .handle = h_echo },
	{ .path = "/test.Echo/Later", .kind = GRPC_UNARY, .handle = h_later, .on_cancel = later_cancel },
	{ .path = "/test.Echo/Never", .kind = GRPC_UNARY, .handle = h_never, .on_cancel = on_cancel },
	{ .path = "/test.Echo/Stream", .kind = GRPC_STREAMING, .handle = h_stream, .on_half_close = h_stream_end },
	{ .path = "/test.Echo/Flood", .kind = GRPC_UNARY, .handle = h_flood, .on_cancel = flood_cancel,
	  .on_writable = flood_more },
	{ .path = "/test.Echo/Status", .kind = GRPC_UNARY, .handle = h_status },
};

static void start_server(const struct grpc_config *extra)
{
	struct grpc_config cfg = { 0 };
	if (extra)
		cfg = *extra;
	cfg.listen_host = "127.0.0.1";
	cfg.methods = methods;
	cfg.n_methods = sizeof(methods) / sizeof(methods[0]);
	char err[256] = "";
	ck_assert_int_eq(loop_init(&loop, 256), 0);
	loop_timer_init(&later_timer, later_fire);
	int rv = grpc_start(&loop, &cfg, &server, err, sizeof(err));
	ck_assert_msg(rv == 0, "grpc_start: %s", err);
	ck_assert_uint_ne(grpc_port(server), 0);
	held_call = NULL;
	cancels = 0;
	n_later = 0;
}

static void stop_server(void)
{
	loop_timer_cancel(&loop, &later_timer);
	grpc_stop(server);
	server = NULL;
	loop_fini(&loop);
}

/* --- the client ------------------------------------------------------------------ */

struct cstream {
	int32_t id;
	const uint8_t *body; /* request bytes, already framed */
	size_t body_len, body_off;
	bool end_after_body;
	uint8_t *resp;
	size_t resp_len, resp_cap;
	int grpc_status; /* -1 until seen */
	char grpc_message[256];
	char http_status[8];
	bool closed;
	uint32_t rst;
};

struct client {
	int fd;
	nghttp2_session *s;
	bool dead;       /* the server closed or refused */
	bool no_read;    /* stop reading the socket */
	/* over TLS (client_tls): nothing of HTTP/2 before the handshake */
	gnutls_session_t tls;
	struct tls_creds *creds;
	bool hs_done;
	int tls_error;   /* what ended the session, when it was GnuTLS */
	struct cstream *streams[MAX_STREAMS];
	size_t n_streams;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static ssize_t c_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct client *c = ud;
	(void)s;
	(void)flags;
	if (c->tls) {
		if (!c->hs_done)
			return NGHTTP2_ERR_WOULDBLOCK;
		/* nghttp2 offers the same bytes again, as GnuTLS wants */
		ssize_t n = gnutls_record_send(c->tls, data, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return NGHTTP2_ERR_WOULDBLOCK;
		if (n < 0) {
			c->tls_error = (int)n;
			c->dead = true;
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		return n;
	}
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return NGHTTP2_ERR_WOULDBLOCK;
	if (n < 0) {
		c->dead = true;
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return n;
}

static int c_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
	(void)flags;
	(void)ud;
	struct cstream *st = nghttp2_session_get_stream_user_data(s, id);
	if (!st)
		return 0;
	/* doubling: realloc by the frame is quadratic, and under ASan
	 * (which always copies) slow enough to miss the deadlines */
	if (st->resp_len + len > st->resp_cap) {
		st->resp_cap = st->resp_cap ? st->resp_cap * 2 : 4096;
		if (st->resp_cap < st->resp_len + len)
			st->resp_cap = st->resp_len + len;
		st->resp = realloc(st->resp, st->resp_cap);
	}
	memcpy(st->resp + st->resp_len, data, len);
	st->resp_len += len;
	return 0;
}

static int c_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		    const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	struct cstream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st)
		return 0;
	if (nl == 11 && !memcmp(name, "grpc-status", 11)) {
		char b[16];
		snprintf(b, sizeof(b), "%.*s", (int)vl, value);
		st->grpc_status = atoi(b);
	} else if (nl == 12 && !memcmp(name, "grpc-message", 12)) {
		snprintf(st->grpc_message, sizeof(st->grpc_message), "%.*s", (int)vl, value);
	} else if (nl == 7 && !memcmp(name, ":status", 7)) {
		snprintf(st->http_status, sizeof(st->http_status), "%.*s", (int)vl, value);
	}
	return 0;
}

static int c_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *ud)
{
	(void)ud;
	struct cstream *st = nghttp2_session_get_stream_user_data(s, id);
	if (st) {
		st->closed = true;
		st->rst = error_code;
	}
	return 0;
}

static void client_open_opt(struct client *c, bool auto_window);

static void client_open(struct client *c)
{
	client_open_opt(c, true);
}

/* auto_window false: the client never sends WINDOW_UPDATE and keeps
 * nghttp2's default 64 KiB windows */
static void client_open_opt(struct client *c, bool auto_window)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(c->fd, 0);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(grpc_port(server)) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int rv = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	ck_assert(rv == 0 || errno == EINPROGRESS);
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, c_send);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
	nghttp2_option *opt;
	nghttp2_option_new(&opt);
	nghttp2_option_set_no_auto_window_update(opt, !auto_window);
	ck_assert_int_eq(nghttp2_session_client_new2(&c->s, cb, c, opt), 0);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (!auto_window) {
		ck_assert_int_eq(nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
		return;
	}
	/* windows as large as a real client's, or the 64 KiB default
	 * makes big transfers crawl through window updates */
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4 << 20 } };
	ck_assert_int_eq(nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 1), 0);
	ck_assert_int_eq(nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, 16 << 20), 0);
}

static void client_close(struct client *c)
{
	for (size_t i = 0; i < c->n_streams; i++) {
		free(c->streams[i]->resp);
		free((void *)c->streams[i]->body);
		free(c->streams[i]);
	}
	nghttp2_session_del(c->s);
	if (c->tls)
		gnutls_deinit(c->tls);
	tls_creds_unref(c->creds);
	close(c->fd);
}

static ssize_t c_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			   nghttp2_data_source *src, void *ud)
{
	(void)s;
	(void)id;
	(void)ud;
	struct cstream *st = src->ptr;
	size_t n = st->body_len - st->body_off;
	/* a body cut short waits (for the reset), not empty DATA frames */
	if (!n && !st->end_after_body)
		return NGHTTP2_ERR_DEFERRED;
	if (n > len)
		n = len;
	memcpy(buf, st->body + st->body_off, n);
	st->body_off += n;
	if (st->body_off == st->body_len && st->end_after_body)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Frames msg as one gRPC message (or takes raw bytes as they are). */
static uint8_t *frame(const void *msg, size_t len, size_t *ret_len)
{
	uint8_t *b = malloc(len + 5);
	b[0] = 0;
	b[1] = (uint8_t)(len >> 24);
	b[2] = (uint8_t)(len >> 16);
	b[3] = (uint8_t)(len >> 8);
	b[4] = (uint8_t)len;
	memcpy(b + 5, msg, len);
	*ret_len = len + 5;
	return b;
}

static struct cstream *client_call_raw(struct client *c, const char *path, uint8_t *body, size_t body_len,
				       const char *timeout)
{
	struct cstream *st = calloc(1, sizeof(*st));
	st->body = body;
	st->body_len = body_len;
	st->end_after_body = true;
	st->grpc_status = -1;
	nghttp2_nv nva[7] = {
		{ (uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0 },
		{ (uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0 },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0 },
		{ (uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0 },
	};
	size_t n = 6;
	if (timeout)
		nva[n++] = (nghttp2_nv){ (uint8_t *)"grpc-timeout", (uint8_t *)timeout, 12, strlen(timeout), 0 };
	nghttp2_data_provider dp = { .source.ptr = st, .read_callback = c_read_body };
	st->id = nghttp2_submit_request(c->s, NULL, nva, n, &dp, st);
	ck_assert_int_gt(st->id, 0);
	ck_assert_uint_lt(c->n_streams, MAX_STREAMS);
	c->streams[c->n_streams++] = st;
	return st;
}

static struct cstream *client_call(struct client *c, const char *path, const void *msg, size_t len,
				   const char *timeout)
{
	size_t blen;
	uint8_t *b = frame(msg, len, &blen);
	return client_call_raw(c, path, b, blen, timeout);
}

/* Bytes from the server, through TLS when the client speaks it: a count,
 * -EAGAIN, or 0 at the end (an error too). */
static ssize_t client_recv(struct client *c, void *buf, size_t len)
{
	if (!c->tls) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		return n < 0 ? 0 : n;
	}
	for (;;) {
		ssize_t n = gnutls_record_recv(c->tls, buf, len);
		if (n == GNUTLS_E_AGAIN)
			return -EAGAIN;
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			c->tls_error = (int)n;
		return n < 0 ? 0 : n;
	}
}

static void client_io(struct client *c)
{
	if (c->dead)
		return;
	if (c->tls && !c->hs_done) {
		int rv = gnutls_handshake(c->tls);
		if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED)
			return;
		if (rv < 0) {
			c->tls_error = rv;
			c->dead = true;
			return;
		}
		c->hs_done = true;
	}
	nghttp2_session_send(c->s);
	if (c->no_read)
		return;
	uint8_t buf[65536];
	for (;;) {
		ssize_t n = client_recv(c, buf, sizeof(buf));
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			c->dead = true;
			break;
		}
		if (nghttp2_session_mem_recv(c->s, buf, (size_t)n) < 0) {
			c->dead = true;
			break;
		}
	}
	nghttp2_session_send(c->s);
}

static bool all_closed(struct client *c)
{
	for (size_t i = 0; i < c->n_streams; i++)
		if (!c->streams[i]->closed)
			return false;
	return true;
}

/* Runs client and server until cond(c) or 20 s. */
static bool pump(struct client *c, bool (*cond)(struct client *))
{
	uint64_t end = now_ms() + 20000;
	while (now_ms() < end) {
		if (cond(c))
			return true;
		client_io(c);
		ck_assert_int_ge(loop_run_once(&loop, 2), 0);
	}
	return cond(c);
}

static bool held(struct client *c)
{
	(void)c;
	return held_call != NULL;
}

static bool client_dead(struct client *c)
{
	client_io(c);
	return c->dead;
}

/* The response holds exactly one message equal to want. */
static void assert_one_message(const struct cstream *st, const void *want, size_t len)
{
	ck_assert_uint_eq(st->resp_len, len + 5);
	ck_assert_uint_eq(st->resp[0], 0);
	ck_assert_uint_eq((size_t)st->resp[1] << 24 | (size_t)st->resp[2] << 16 | (size_t)st->resp[3] << 8 | st->resp[4],
			  len);
	ck_assert(memcmp(st->resp + 5, want, len) == 0);
}

/* --- tests ------------------------------------------------------------------------ */

START_TEST(test_unary_echo)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	struct cstream *st = client_call(&c, "/test.Echo/Unary", "hello", 5, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_str_eq(st->http_status, "200");
	ck_assert_int_eq(st->grpc_status, 0);
	assert_one_message(st, "hello", 5);
	/* an empty message is a message too */
	st = client_call(&c, "/test.Echo/Unary", "", 0, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	assert_one_message(st, "", 0);
	client_close(&c);
	stop_server();
}
END_TEST

/* A unary answer (HEADERS, DATA, trailers), given at once or later from the
 * idle hook, goes out in one system call: the plain transport gathers what
 * nghttp2 produces in a loop pass. */
START_TEST(test_unary_one_write)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	struct cstream *st = client_call(&c, "/test.Echo/Unary", "hello", 5, NULL);
	ck_assert(pump(&c, all_closed));
	for (int i = 0; i < 20; i++) {
		uint64_t before = grpc_stats(server)->socket_writes;
		st = client_call(&c, i % 2 ? "/test.Echo/Unary" : "/test.Echo/Later", "again", 5, NULL);
		ck_assert(pump(&c, all_closed));
		ck_assert_int_eq(st->grpc_status, 0);
		assert_one_message(st, "again", 5);
		ck_assert_uint_eq(grpc_stats(server)->socket_writes - before, 1);
	}
	client_close(&c);
	stop_server();
}
END_TEST

static bool server_closed(struct client *c)
{
	(void)c;
	return grpc_stats(server)->conns_accepted == 1 && grpc_stats(server)->conns_open == 0;
}

/* A client that sends its request and its end at once (the end is in
 * the socket before the server's first read) is answered and closed: the
 * end wakes the server's reading no second time. */
START_TEST(test_request_then_end)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	client_call(&c, "/test.Echo/Unary", "bye", 3, NULL);
	struct pollfd p = { .fd = c.fd, .events = POLLOUT };
	ck_assert_int_eq(poll(&p, 1, 20000), 1);
	ck_assert_int_eq(nghttp2_session_send(c.s), 0);
	ck_assert(!nghttp2_session_want_write(c.s));
	ck_assert_int_eq(shutdown(c.fd, SHUT_WR), 0);
	uint64_t end = now_ms() + 20000;
	while (!server_closed(&c) && now_ms() < end)
		ck_assert_int_ge(loop_run_once(&loop, 2), 0);
	ck_assert(server_closed(&c));
	ck_assert_uint_eq(grpc_stats(server)->calls_finished, 1);
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_async_reply)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	struct cstream *st = client_call(&c, "/test.Echo/Later", "later", 5, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	assert_one_message(st, "later", 5);
	ck_assert_uint_eq(cancels, 0);
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_many_streams)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	char msg[MAX_STREAMS][16];
	for (int i = 0; i < 200; i++) {
		snprintf(msg[i], sizeof(msg[i]), "m%d", i);
		client_call(&c, i % 2 ? "/test.Echo/Unary" : "/test.Echo/Later", msg[i], strlen(msg[i]), NULL);
	}
	ck_assert(pump(&c, all_closed));
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(c.streams[i]->grpc_status, 0);
		assert_one_message(c.streams[i], msg[i], strlen(msg[i]));
	}
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_stream_limit)
{
	struct grpc_config cfg = { .max_streams = 8 };
	start_server(&cfg);
	struct client c;
	client_open(&c);
	/* let the client see the server's SETTINGS first */
	client_io(&c);
	for (int i = 0; i < 20 && !c.dead; i++) {
		client_io(&c);
		loop_run_once(&loop, 5);
	}
	ck_assert_uint_eq(nghttp2_session_get_remote_settings(c.s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 8);
	for (int i = 0; i < 8; i++)
		client_call(&c, "/test.Echo/Never", "x", 1, NULL);
	/* past the limit nghttp2's client waits: the server never sees more */
	for (int i = 0; i < 4; i++)
		client_call(&c, "/test.Echo/Unary", "y", 1, NULL);
	for (int i = 0; i < 50; i++) {
		client_io(&c);
		loop_run_once(&loop, 2);
	}
	ck_assert_uint_le(grpc_stats(server)->calls_started, 8);
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_streaming)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	size_t l1, l2;
	uint8_t *a = frame("one", 3, &l1);
	uint8_t *b = frame("two!", 4, &l2);
	uint8_t *body = malloc(l1 + l2);
	memcpy(body, a, l1);
	memcpy(body + l1, b, l2);
	free(a);
	free(b);
	struct cstream *st = client_call_raw(&c, "/test.Echo/Stream", body, l1 + l2, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	ck_assert_uint_eq(st->resp_len, 2 * l1 + 2 * l2);
	ck_assert(memcmp(st->resp + 5, "one", 3) == 0);
	ck_assert(memcmp(st->resp + 2 * l1 + 5, "two!", 4) == 0);
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_large_message)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	/* just under etcd's default request limit */
	size_t len = 3 * 512 * 1024;
	uint8_t *big = malloc(len);
	for (size_t i = 0; i < len; i++)
		big[i] = (uint8_t)(i * 7);
	struct cstream *st = client_call(&c, "/test.Echo/Unary", big, len, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	assert_one_message(st, big, len);
	/* one byte more: RESOURCE_EXHAUSTED, and the connection serves on */
	uint8_t *over = malloc(len + 1);
	memcpy(over, big, len);
	over[len] = 1;
	st = client_call(&c, "/test.Echo/Unary", over, len + 1, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	ck_assert_ptr_nonnull(strstr(st->grpc_message, "larger than max"));
	st = client_call(&c, "/test.Echo/Unary", "after", 5, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	assert_one_message(st, "after", 5);
	free(big);
	free(over);
	client_close(&c);
	stop_server();
}
END_TEST

/* A length prefix far beyond the limit is refused at once, before the
 * body (which never comes) */
START_TEST(test_length_prefix_over_limit)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	uint8_t *b = malloc(5);
	memcpy(b, "\0\x7f\xff\xff\xff", 5);
	struct cstream *st = client_call_raw(&c, "/test.Echo/Unary", b, 5, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_unknown_method)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	struct cstream *st = client_call(&c, "/etcdserverpb.Auth/AuthEnable", "", 0, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_str_eq(st->http_status, "200");
	ck_assert_int_eq(st->grpc_status, GRPC_UNIMPLEMENTED);
	ck_assert_uint_eq(st->resp_len, 0);
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_compressed_refused)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	size_t blen;
	uint8_t *b = frame("zzz", 3, &blen);
	b[0] = 1;
	struct cstream *st = client_call_raw(&c, "/test.Echo/Unary", b, blen, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, GRPC_UNIMPLEMENTED);
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_status_message_encoded)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	struct cstream *st = client_call(&c, "/test.Echo/Status", "", 0, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, GRPC_FAILED_PRECONDITION);
	ck_assert_str_eq(st->grpc_message, "bad: 100%25 %E2%9C%93%0A");
	client_close(&c);
	stop_server();
}
END_TEST

START_TEST(test_deadline)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	struct cstream *st = client_call(&c, "/test.Echo/Never", "x", 1, "50m");
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, GRPC_DEADLINE_EXCEEDED);
	ck_assert_uint_eq(cancels, 1);
	ck_assert_ptr_null(held_call);
	/* a malformed timeout is no deadline; the client's reset cancels */
	st = client_call(&c, "/test.Echo/Never", "x", 1, "50x");
	ck_assert(pump(&c, held));
	ck_assert_msg(held_call != NULL, "status %d closed %d %s", st->grpc_status, st->closed, st->grpc_message);
	nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	ck_assert(pump(&c, all_closed));
	ck_assert_uint_eq(cancels, 2);
	ck_assert_ptr_null(held_call);
	client_close(&c);
	stop_server();
}
END_TEST

static bool flood_waits(struct client *c)
{
	(void)c;
	return flood_refused > 0 && flood_call != NULL;
}

static bool flood_done(struct client *c)
{
	return all_closed(c);
}

/* A client that stops reading: the server queues no more than its budget
 * and then waits; when the client reads again everything arrives. */
START_TEST(test_client_stops_reading)
{
	struct grpc_config cfg = { .call_out_budget = 256 * 1024, .conn_out_budget = 512 * 1024 };
	start_server(&cfg);
	struct client c;
	client_open(&c);
	c.no_read = true;
	uint8_t want[4] = { 0, 0, 0x01, 0 }; /* 256 messages of 64 KiB: 16 MiB */
	struct cstream *st = client_call(&c, "/test.Echo/Flood", want, 4, NULL);
	/* the client sends but never reads: the handler is told to wait */
	uint64_t end = now_ms() + 20000;
	while (now_ms() < end && !flood_waits(&c)) {
		nghttp2_session_send(c.s);
		loop_run_once(&loop, 2);
	}
	ck_assert(flood_waits(&c));
	unsigned sent_while_stalled = flood_sent;
	for (int i = 0; i < 50; i++) {
		nghttp2_session_send(c.s);
		loop_run_once(&loop, 2);
	}
	/* nothing more was taken while the client did not read */
	ck_assert_uint_eq(flood_sent, sent_while_stalled);
	ck_assert_uint_lt(flood_sent, 256);
	c.no_read = false;
	bool done = pump(&c, flood_done);
	ck_assert_msg(done, "sent %u refused %u got %zu dead %d", flood_sent, flood_refused, st->resp_len, c.dead);
	ck_assert_int_eq(st->grpc_status, 0);
	ck_assert_uint_eq(st->resp_len, 256u * (65536 + 5));
	client_close(&c);
	stop_server();
}
END_TEST

/* A client that reads but never opens its window: the server sends what
 * the window allows, queues no more than its budget, and the handler is
 * told to wait; a reset ends the call. */
START_TEST(test_no_window_update)
{
	struct grpc_config cfg = { .call_out_budget = 256 * 1024, .conn_out_budget = 512 * 1024 };
	start_server(&cfg);
	struct client c;
	client_open_opt(&c, false);
	uint8_t want[4] = { 0, 0, 0x01, 0 }; /* 256 messages of 64 KiB */
	struct cstream *st = client_call(&c, "/test.Echo/Flood", want, 4, NULL);
	ck_assert(pump(&c, flood_waits));
	for (int i = 0; i < 50; i++) {
		client_io(&c);
		loop_run_once(&loop, 2);
	}
	/* the 64 KiB window, the budget, and the one message an empty call
	 * always takes */
	ck_assert_uint_le((size_t)flood_sent * (65536 + 5), 65535 + 256 * 1024 + 65541);
	ck_assert_uint_le(st->resp_len, 65535);
	ck_assert(flood_call != NULL);
	nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	ck_assert(pump(&c, all_closed));
	for (int i = 0; i < 20 && flood_call; i++)
		loop_run_once(&loop, 2);
	ck_assert_ptr_null(flood_call);
	client_close(&c);
	stop_server();
}
END_TEST

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			loop_run_once(&loop, 1);
			continue;
		}
		if (w <= 0)
			return;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

/* Garbage instead of the preface, then malformed frames after a good
 * preface: each such connection is closed, and a good client is served. */
START_TEST(test_garbage)
{
	start_server(NULL);
	static const char *inputs[] = {
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
		/* a DATA frame on stream 0 right after the preface and SETTINGS */
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
		"\x00\x00\x04\x00\x01\x00\x00\x00\x00xxxx",
		/* a frame over the 16 KiB SETTINGS_MAX_FRAME_SIZE */
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
		"\x01\x00\x00\x00\x00\x00\x00\x00\x01xxxx",
	};
	static const size_t lens[] = { 27, 36, 24 + 9 + 13, 24 + 9 + 13 };
	for (size_t i = 0; i < 4; i++) {
		struct client bad;
		client_open(&bad);
		/* connect before writing raw bytes */
		for (int k = 0; k < 5; k++)
			loop_run_once(&loop, 2);
		write_all(bad.fd, inputs[i], lens[i]);
		uint64_t end = now_ms() + 20000;
		bool closed = false;
		while (!closed && now_ms() < end) {
			char buf[4096];
			ssize_t n = recv(bad.fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				closed = true;
			loop_run_once(&loop, 2);
		}
		ck_assert_msg(closed, "input %zu: the connection stays open", i);
		client_close(&bad);
	}
	struct client c;
	client_open(&c);
	struct cstream *st = client_call(&c, "/test.Echo/Unary", "ok", 2, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	client_close(&c);
	stop_server();
}
END_TEST

/* A stream reset in the middle of a message, and a connection dropped with
 * a call held: the handler hears of both, the server serves on. */
START_TEST(test_reset_mid_message)
{
	start_server(NULL);
	struct client c;
	client_open(&c);
	size_t blen;
	uint8_t *b = frame("0123456789", 10, &blen);
	struct cstream *st = client_call_raw(&c, "/test.Echo/Unary", b, 8, NULL);
	st->end_after_body = false;
	for (int i = 0; i < 20; i++) {
		client_io(&c);
		loop_run_once(&loop, 2);
	}
	/* the data source waits for more: reset instead */
	nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	for (int i = 0; i < 20; i++) {
		client_io(&c);
		loop_run_once(&loop, 2);
	}
	ck_assert_uint_eq(grpc_stats(server)->conns_open, 1);
	client_call(&c, "/test.Echo/Never", "x", 1, NULL);
	ck_assert(pump(&c, held));
	ck_assert_ptr_nonnull(held_call);
	client_close(&c);
	struct client d;
	client_open(&d);
	st = client_call(&d, "/test.Echo/Unary", "ok", 2, NULL);
	ck_assert(pump(&d, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	ck_assert_uint_eq(cancels, 1);
	ck_assert_ptr_null(held_call);
	client_close(&d);
	stop_server();
}
END_TEST

START_TEST(test_connection_budget)
{
	struct grpc_config cfg = { .max_connections = 2 };
	start_server(&cfg);
	struct client a, b, x;
	client_open(&a);
	client_open(&b);
	for (int i = 0; i < 10; i++)
		loop_run_once(&loop, 2);
	client_open(&x);
	ck_assert(pump(&x, client_dead));
	ck_assert_uint_ge(grpc_stats(server)->conns_refused, 1);
	struct cstream *st = client_call(&a, "/test.Echo/Unary", "a", 1, NULL);
	ck_assert(pump(&a, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	client_close(&x);
	client_close(&b);
	client_close(&a);
	stop_server();
}
END_TEST

static bool closed_or_dead(struct client *c)
{
	return all_closed(c) || client_dead(c);
}

/* Each allocation of the server failing in turn: the call or the
 * connection fails cleanly (no hang, no leak under the sanitizers) and the
 * next client is served. */
START_TEST(test_alloc_failures)
{
	start_server(NULL);
	unsigned n;
	for (n = 1; n < 100; n++) {
		struct client c;
		client_open(&c);
		alloc_fail_nth(n);
		struct cstream *st = client_call(&c, "/test.Echo/Unary", "echo", 4, NULL);
		ck_assert_msg(pump(&c, closed_or_dead), "allocation %u failing: the call hangs", n);
		bool failed = alloc_failed();
		alloc_fail_nth(0);
		if (!c.dead && st->grpc_status == 0)
			assert_one_message(st, "echo", 4);
		client_close(&c);
		if (!failed)
			break;
	}
	/* a call takes the connection, the call, its headers, its buffers */
	ck_assert_uint_gt(n, 4);
	struct client d;
	client_open(&d);
	struct cstream *st = client_call(&d, "/test.Echo/Unary", "ok", 2, NULL);
	ck_assert(pump(&d, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	client_close(&d);
	stop_server();
}
END_TEST

/* A client that connects and says nothing loses its connection. */
START_TEST(test_silent_client)
{
	struct grpc_config cfg = { .preface_timeout_ms = 50 };
	start_server(&cfg);
	struct client c;
	client_open(&c);
	/* the client's session never sends its preface */
	c.no_read = false;
	uint64_t end = now_ms() + 20000;
	bool closed = false;
	while (!closed && now_ms() < end) {
		char buf[256];
		ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			closed = true;
		loop_run_once(&loop, 5);
	}
	ck_assert(closed);
	ck_assert_uint_eq(grpc_stats(server)->conns_open, 0);
	/* one that greets in time is served past the timeout */
	struct client d;
	client_open(&d);
	struct cstream *st = client_call(&d, "/test.Echo/Unary", "a", 1, NULL);
	ck_assert(pump(&d, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	uint64_t until = now_ms() + 120;
	while (now_ms() < until) {
		client_io(&d);
		loop_run_once(&loop, 5);
	}
	ck_assert(!d.dead);
	client_close(&c);
	client_close(&d);
	stop_server();
}
END_TEST

/* --- TLS (net/grpc_tls.c) ------------------------------------------------------ */

static unsigned n_refused;     /* on_refused calls */
static char last_refusal[512];

static void on_refused(void *data, const char *reason)
{
	(void)data;
	n_refused++;
	snprintf(last_refusal, sizeof(last_refusal), "%s", reason);
}

/* The server with CERT's certificate; clients verified by the test CA
 * when trust; required when auth. */
static void start_tls_server(const char *cert, bool trust, bool auth, const struct grpc_config *extra)
{
	struct grpc_config cfg = { 0 };
	if (extra)
		cfg = *extra;
	struct grpc_tls tls = {
		.creds = certs_load(cert, NULL, NULL),
		.client_trust = trust ? certs_load(NULL, "ca", NULL) : NULL,
		.client_cert_auth = auth,
		.on_refused = on_refused,
	};
	cfg.tls = &tls;
	n_refused = 0;
	last_refusal[0] = '\0';
	start_server(&cfg);
	/* the server holds its own references */
	tls_creds_unref(tls.creds);
	tls_creds_unref(tls.client_trust);
}

/* Wraps a client made by client_open() in a GnuTLS client session: NAME's
 * certificate (NULL: none), the test CA to verify the server (which must
 * be localhost), ALPN alpn ("h2", "http/1.1"; NULL: no ALPN at all),
 * priority (NULL: the default). */
static void client_tls_prio(struct client *c, const char *name, const char *alpn, const char *priority)
{
	c->creds = certs_load(name, "ca", priority);
	ck_assert_int_eq(gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL), 0);
	ck_assert_int_eq(gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(c->creds)), 0);
	ck_assert_int_eq(gnutls_priority_set(c->tls, tls_creds_priority(c->creds)), 0);
	gnutls_session_set_verify_cert(c->tls, "localhost", 0);
	if (alpn) {
		gnutls_datum_t p = { (unsigned char *)alpn, (unsigned)strlen(alpn) };
		ck_assert_int_eq(gnutls_alpn_set_protocols(c->tls, &p, 1, 0), 0);
	}
	gnutls_transport_set_int(c->tls, c->fd);
}

static void client_tls(struct client *c, const char *name, const char *alpn)
{
	client_tls_prio(c, name, alpn, NULL);
}

/* One call of /test.Echo/Whoami; its answer in out ("" if the call
 * failed or the connection was refused). */
static void whoami(struct client *c, char *out, size_t len)
{
	out[0] = '\0';
	struct cstream *st = client_call(c, "/test.Echo/Whoami", "", 0, NULL);
	pump(c, closed_or_dead);
	if (!c->dead && st->grpc_status == 0 && st->resp_len >= 5)
		snprintf(out, len, "%.*s", (int)(st->resp_len - 5), (const char *)st->resp + 5);
}

/* The server's certificate's CN as the client saw it. */
static void server_cn(struct client *c, char *out, size_t len)
{
	unsigned n = 0;
	const gnutls_datum_t *raw = gnutls_certificate_get_peers(c->tls, &n);
	ck_assert_uint_ge(n, 1);
	gnutls_x509_crt_t crt;
	ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &raw[0], GNUTLS_X509_FMT_DER), 0);
	ck_assert_int_eq(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, out, &len), 0);
	gnutls_x509_crt_deinit(crt);
}

/* A unary call over TLS 1.3 and 1.2 with client certificate
 * authentication; the identity is the certificate's. */
START_TEST(test_tls_unary)
{
	static const char *prios[] = { NULL, "SECURE:-VERS-ALL:+VERS-TLS1.2" };
	start_tls_server("n1", true, true, NULL);
	for (int i = 0; i < 2; i++) {
		struct client c;
		client_open(&c);
		client_tls_prio(&c, "n3", "h2", prios[i]);
		struct cstream *st = client_call(&c, "/test.Echo/Unary", "hello", 5, NULL);
		ck_assert_msg(pump(&c, all_closed), "dead %d: %s", c.dead, gnutls_strerror(c.tls_error));
		ck_assert_int_eq(st->grpc_status, 0);
		assert_one_message(st, "hello", 5);
		ck_assert_int_eq(gnutls_protocol_get_version(c.tls), i ? GNUTLS_TLS1_2 : GNUTLS_TLS1_3);
		char who[512];
		whoami(&c, who, sizeof(who));
		/* verified; n3's CN and SANs, 127.0.0.1 among them */
		ck_assert_str_eq(who, "2 n3 13  +ip");
		if (i == 0) {
			client_close(&c);
			continue;
		}
		ck_assert_uint_eq(grpc_stats(server)->protocol_errors, 0);
		/* the server closes with close_notify: the client sees a
		 * clean end, not a truncation */
		stop_server();
		uint8_t buf[256];
		ssize_t n;
		uint64_t end = now_ms() + 20000;
		while ((n = client_recv(&c, buf, sizeof(buf))) == -EAGAIN && now_ms() < end)
			;
		ck_assert_int_eq(n, 0);
		ck_assert_msg(c.tls_error == 0, "%s", gnutls_strerror(c.tls_error));
		client_close(&c);
	}
	/* a cleartext server says so */
	start_server(NULL);
	struct client p;
	client_open(&p);
	char who[512];
	whoami(&p, who, sizeof(who));
	ck_assert_str_eq(who, "0 - 0 ");
	client_close(&p);
	stop_server();
}
END_TEST

static bool refused_dead(struct client *c)
{
	return client_dead(c);
}

/* client_cert_auth: no certificate, one of another CA, an expired one, one
 * for servers only: refused in the handshake (the client's calls never
 * run), each with its reason; the server serves on. */
START_TEST(test_tls_client_cert_refused)
{
	static const struct {
		const char *name, *reason;
	} cases[] = {
		{ NULL, "no client certificate" },
		{ "other", "signed by an unknown authority" },
		{ "expired", "expired" },
		{ "serveronly", "not for TLS client use" },
	};
	start_tls_server("n1", true, true, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct client c;
		client_open(&c);
		client_tls(&c, cases[i].name, "h2");
		struct cstream *st = client_call(&c, "/test.Echo/Unary", "x", 1, NULL);
		ck_assert_msg(pump(&c, refused_dead), "%s: not refused", cases[i].name);
		ck_assert_int_eq(st->grpc_status, -1);
		ck_assert_uint_eq(grpc_stats(server)->tls_refused, i + 1);
		ck_assert_uint_eq(n_refused, i + 1);
		ck_assert_msg(strstr(last_refusal, cases[i].reason) && strstr(last_refusal, "client 127.0.0.1:"),
			      "%s: %s", cases[i].name ? cases[i].name : "none", last_refusal);
		client_close(&c);
	}
	struct client ok;
	client_open(&ok);
	client_tls(&ok, "reader", "h2");
	char who[512];
	whoami(&ok, who, sizeof(who));
	ck_assert_str_eq(who, "2 reader 0 ");
	client_close(&ok);
	ck_assert_uint_eq(grpc_stats(server)->conns_open, 1);
	stop_server();
}
END_TEST

/* Without client_cert_auth a certificate is requested, not required: the
 * call runs and the identity says what the certificate proves. */
START_TEST(test_tls_identity_requested)
{
	static const struct {
		const char *name, *who;
	} cases[] = {
		{ NULL, "1 - 0 " },
		{ "writer", "2 writer 0 " },
		{ "other", "3 n1 13 signed by an unknown authority" },
		{ "expired", "3 expired 13 expired" },
	};
	start_tls_server("n1", true, false, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct client c;
		client_open(&c);
		client_tls(&c, cases[i].name, "h2");
		char who[512];
		whoami(&c, who, sizeof(who));
		ck_assert_str_eq(who, cases[i].who);
		client_close(&c);
	}
	stop_server();
	/* no trust at all: nothing requested */
	start_tls_server("n1", false, false, NULL);
	struct client c;
	client_open(&c);
	client_tls(&c, "writer", "h2");
	char who[512];
	whoami(&c, who, sizeof(who));
	ck_assert_str_eq(who, "1 - 0 ");
	client_close(&c);
	stop_server();
}
END_TEST

/* ALPN: a client that offers only http/1.1, or no ALPN at all, is refused
 * (grpc-go's rule); the server serves on. */
START_TEST(test_tls_alpn)
{
	start_tls_server("n1", true, false, NULL);
	const char *alpns[] = { "http/1.1", NULL };
	for (int i = 0; i < 2; i++) {
		struct client c;
		client_open(&c);
		client_tls(&c, "reader", alpns[i]);
		struct cstream *st = client_call(&c, "/test.Echo/Unary", "x", 1, NULL);
		ck_assert_msg(pump(&c, refused_dead), "ALPN %s: not refused", alpns[i] ? alpns[i] : "none");
		ck_assert_int_eq(st->grpc_status, -1);
		ck_assert_uint_eq(grpc_stats(server)->tls_refused, (uint64_t)i + 1);
		ck_assert_msg(strstr(last_refusal, "h2"), "%s", last_refusal);
		client_close(&c);
	}
	struct client ok;
	client_open(&ok);
	client_tls(&ok, "reader", "h2");
	char who[512];
	whoami(&ok, who, sizeof(who));
	ck_assert_str_eq(who, "2 reader 0 ");
	client_close(&ok);
	stop_server();
}
END_TEST

/* A reload: connections accepted after it get the new certificate and
 * rules, open ones keep theirs. */
START_TEST(test_tls_reload)
{
	start_tls_server("n1", true, false, NULL);
	struct client a;
	client_open(&a);
	client_tls(&a, NULL, "h2");
	char who[512], cn[64];
	whoami(&a, who, sizeof(who));
	ck_assert_str_eq(who, "1 - 0 ");
	server_cn(&a, cn, sizeof(cn));
	ck_assert_str_eq(cn, "n1");
	struct grpc_tls tls = {
		.creds = certs_load("n2", NULL, NULL),
		.client_trust = certs_load(NULL, "ca", NULL),
		.client_cert_auth = true,
		.on_refused = on_refused,
	};
	ck_assert_int_eq(grpc_set_tls(server, &tls), 0);
	/* refused: no certificate, or client_cert_auth without a trust */
	struct grpc_tls bad = { .creds = tls.client_trust };
	ck_assert_int_eq(grpc_set_tls(server, &bad), -EINVAL);
	bad = (struct grpc_tls){ .creds = tls.creds, .client_cert_auth = true };
	ck_assert_int_eq(grpc_set_tls(server, &bad), -EINVAL);
	tls_creds_unref(tls.creds);
	tls_creds_unref(tls.client_trust);
	/* new: n2's certificate, and a client certificate required */
	struct client b;
	client_open(&b);
	client_tls(&b, "admin", "h2");
	whoami(&b, who, sizeof(who));
	ck_assert_str_eq(who, "2 admin 0 ");
	server_cn(&b, cn, sizeof(cn));
	ck_assert_str_eq(cn, "n2");
	struct client x;
	client_open(&x);
	client_tls(&x, NULL, "h2");
	client_call(&x, "/test.Echo/Unary", "x", 1, NULL);
	ck_assert(pump(&x, refused_dead));
	/* the old connection is served as before */
	whoami(&a, who, sizeof(who));
	ck_assert_str_eq(who, "1 - 0 ");
	client_close(&x);
	client_close(&b);
	client_close(&a);
	stop_server();
	/* a cleartext server stays cleartext */
	start_server(NULL);
	struct grpc_tls t2 = { .creds = certs_load("n1", NULL, NULL) };
	ck_assert_int_eq(grpc_set_tls(server, &t2), -EINVAL);
	tls_creds_unref(t2.creds);
	stop_server();
}
END_TEST

/* Many TLS connections at once, each with a few calls. */
START_TEST(test_tls_many_connections)
{
	enum { N = 64 };
	start_tls_server("n1", true, true, NULL);
	static struct client cs[N];
	struct cstream *sts[N][3];
	for (int i = 0; i < N; i++) {
		client_open(&cs[i]);
		client_tls(&cs[i], i % 2 ? "reader" : "writer", "h2");
		for (int k = 0; k < 3; k++)
			sts[i][k] = client_call(&cs[i], k ? "/test.Echo/Later" : "/test.Echo/Unary", "many", 4, NULL);
	}
	uint64_t end = now_ms() + 60000;
	bool done = false;
	while (!done && now_ms() < end) {
		done = true;
		for (int i = 0; i < N; i++) {
			client_io(&cs[i]);
			ck_assert(!cs[i].dead);
			done = done && all_closed(&cs[i]);
		}
		loop_run_once(&loop, 1);
	}
	ck_assert(done);
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < 3; k++) {
			ck_assert_int_eq(sts[i][k]->grpc_status, 0);
			assert_one_message(sts[i][k], "many", 4);
		}
	}
	ck_assert_uint_eq(grpc_stats(server)->conns_open, N);
	for (int i = 0; i < N; i++)
		client_close(&cs[i]);
	stop_server();
}
END_TEST

/* Completions the loop dispatches in passes_ms of waiting: a connection
 * waiting for its client must cost none (no poll that is always ready). */
static uint64_t completions_while_idle(int passes_ms)
{
	uint64_t before = loop.completions, end = now_ms() + (uint64_t)passes_ms;
	while (now_ms() < end)
		loop_run_once(&loop, 10);
	return loop.completions - before;
}

/* A handshake the client leaves half done: it costs no busy loop, holds a
 * slot of the connection budget, and is closed at the preface deadline. */
START_TEST(test_tls_half_open)
{
	struct grpc_config cfg = { .preface_timeout_ms = 1500, .max_connections = 2 };
	start_tls_server("n1", true, true, &cfg);
	uint64_t t0 = now_ms(); /* before the server's timer starts */
	struct client c;
	client_open(&c);
	client_tls(&c, "reader", "h2");
	/* the ClientHello goes out, and the server answers it */
	uint64_t end = now_ms() + 20000;
	while (gnutls_handshake(c.tls) == GNUTLS_E_AGAIN && now_ms() < end) {
		char peek;
		if (recv(c.fd, &peek, 1, MSG_PEEK) == 1)
			break;
		loop_run_once(&loop, 2);
	}
	ck_assert_uint_eq(grpc_stats(server)->conns_open, 1);
	/* the server waits for the client's Finished: no completions */
	uint64_t busy = completions_while_idle(300);
	ck_assert_msg(busy < 10, "%llu completions while a handshake waits", (unsigned long long)busy);
	/* it holds a slot: with a silent TCP connection the budget is full */
	struct client silent, third;
	client_open(&silent);
	for (int i = 0; i < 10; i++)
		loop_run_once(&loop, 2);
	client_open(&third);
	ck_assert(pump(&third, client_dead));
	ck_assert_uint_ge(grpc_stats(server)->conns_refused, 1);
	/* the deadline closes it */
	bool closed = false;
	while (!closed && now_ms() < end) {
		char buf[4096];
		ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
		closed = n == 0 || (n < 0 && errno != EAGAIN);
		loop_run_once(&loop, 5);
	}
	ck_assert(closed);
	ck_assert_uint_ge(now_ms() - t0, 1500);
	ck_assert_uint_ge(grpc_stats(server)->protocol_errors, 1);
	client_close(&third);
	client_close(&silent);
	client_close(&c);
	stop_server();
}
END_TEST

/* A client that stops reading over TLS: the server waits for the socket
 * without spinning, and everything arrives once it reads again. */
START_TEST(test_tls_client_stops_reading)
{
	struct grpc_config cfg = { .call_out_budget = 256 * 1024, .conn_out_budget = 512 * 1024 };
	start_tls_server("n1", true, false, &cfg);
	struct client c;
	client_open(&c);
	client_tls(&c, NULL, "h2");
	struct cstream *st = client_call(&c, "/test.Echo/Unary", "go", 2, NULL);
	ck_assert(pump(&c, all_closed));
	ck_assert_int_eq(st->grpc_status, 0);
	c.no_read = true;
	uint8_t want[4] = { 0, 0, 0x01, 0 }; /* 256 messages of 64 KiB: 16 MiB */
	st = client_call(&c, "/test.Echo/Flood", want, 4, NULL);
	ck_assert(pump(&c, flood_waits));
	for (int i = 0; i < 20; i++)
		completions_while_idle(10);
	unsigned sent_while_stalled = flood_sent;
	uint64_t busy = completions_while_idle(300);
	ck_assert_msg(busy < 10, "%llu completions while the client does not read", (unsigned long long)busy);
	ck_assert_uint_eq(flood_sent, sent_while_stalled);
	c.no_read = false;
	ck_assert(pump(&c, flood_done));
	ck_assert_int_eq(st->grpc_status, 0);
	ck_assert_uint_eq(st->resp_len, 256u * (65536 + 5));
	client_close(&c);
	stop_server();
}
END_TEST

static bool peer_closed(struct client *c)
{
	char buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	return n == 0 || (n < 0 && errno != EAGAIN);
}

/* Each allocation of the server failing in turn over TLS (the session,
 * the identity verified in the handshake): the connection or the call
 * fails cleanly and the next client is served. */
START_TEST(test_tls_alloc_failures)
{
	start_tls_server("n1", true, true, NULL);
	unsigned n;
	for (n = 1; n < 100; n++) {
		struct client c;
		client_open(&c);
		client_tls(&c, "reader", "h2");
		alloc_fail_nth(n);
		struct cstream *st = client_call(&c, "/test.Echo/Whoami", "", 0, NULL);
		ck_assert_msg(pump(&c, closed_or_dead), "allocation %u failing: the call hangs", n);
		bool failed = alloc_failed();
		alloc_fail_nth(0);
		if (!c.dead && st->grpc_status == 0)
			ck_assert(st->resp_len > 5 && !memcmp(st->resp + 5, "2 reader", 8));
		client_close(&c);
		if (!failed)
			break;
	}
	ck_assert_uint_gt(n, 4);
	struct client d;
	client_open(&d);
	client_tls(&d, "reader", "h2");
	char who[512];
	whoami(&d, who, sizeof(who));
	ck_assert_str_eq(who, "2 reader 0 ");
	client_close(&d);
	stop_server();
}
END_TEST

static bool one_protocol_error(struct client *c)
{
	(void)c;
	return grpc_stats(server)->protocol_errors == 1;
}

/* The wrong protocol on either port: closed, counted, and the server
 * serves on. */
START_TEST(test_tls_wrong_protocol)
{
	start_tls_server("n1", true, false, NULL);
	struct client raw;
	client_open(&raw);
	for (int k = 0; k < 5; k++)
		loop_run_once(&loop, 2);
	write_all(raw.fd, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
	ck_assert(pump(&raw, peer_closed));
	ck_assert_uint_eq(grpc_stats(server)->protocol_errors, 1);
	ck_assert_uint_eq(grpc_stats(server)->tls_refused, 0);
	ck_assert_uint_eq(grpc_stats(server)->conns_open, 0);
	client_close(&raw);
	struct client ok;
	client_open(&ok);
	client_tls(&ok, NULL, "h2");
	char who[512];
	whoami(&ok, who, sizeof(who));
	ck_assert_str_eq(who, "1 - 0 ");
	client_close(&ok);
	stop_server();

	start_server(NULL);
	struct client t;
	client_open(&t);
	client_tls(&t, "reader", "h2");
	client_call(&t, "/test.Echo/Unary", "x", 1, NULL);
	ck_assert(pump(&t, refused_dead));
	/* the client may give up on the server's SETTINGS before the server
	 * has read its ClientHello */
	ck_assert(pump(&t, one_protocol_error));
	client_close(&t);
	struct client p;
	client_open(&p);
	whoami(&p, who, sizeof(who));
	ck_assert_str_eq(who, "0 - 0 ");
	client_close(&p);
	stop_server();
}
END_TEST

START_TEST(test_helpers)
{
	char out[64];
	uint64_t ns;
	ck_assert_uint_eq(grpc_percent_encode("a b%\x01", out, sizeof(out)), 9);
	ck_assert_str_eq(out, "a b%25%01");
	ck_assert_int_eq(grpc_parse_timeout("100m", 4, &ns), 0);
	ck_assert_uint_eq(ns, 100000000);
	ck_assert_int_eq(grpc_parse_timeout("1H", 2, &ns), 0);
	ck_assert_uint_eq(ns, 3600000000000ull);
	ck_assert_int_eq(grpc_parse_timeout("123456789S", 10, &ns), -EINVAL);
	ck_assert_int_eq(grpc_parse_timeout("S", 1, &ns), -EINVAL);
	ck_assert_int_eq(grpc_parse_timeout("1x", 2, &ns), -EINVAL);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("grpc");
	TCase *tc = tcase_create("server");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_helpers);
	tcase_add_test(tc, test_unary_echo);
	tcase_add_test(tc, test_async_reply);
	tcase_add_test(tc, test_unary_one_write);
	tcase_add_test(tc, test_request_then_end);
	tcase_add_test(tc, test_many_streams);
	tcase_add_test(tc, test_stream_limit);
	tcase_add_test(tc, test_streaming);
	tcase_add_test(tc, test_large_message);
	tcase_add_test(tc, test_length_prefix_over_limit);
	tcase_add_test(tc, test_unknown_method);
	tcase_add_test(tc, test_compressed_refused);
	tcase_add_test(tc, test_status_message_encoded);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_client_stops_reading);
	tcase_add_test(tc, test_no_window_update);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_reset_mid_message);
	tcase_add_test(tc, test_connection_budget);
	tcase_add_test(tc, test_alloc_failures);
	tcase_add_test(tc, test_silent_client);
	suite_add_tcase(s, tc);
	tc = tcase_create("tls");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, certs_make, certs_remove);
	tcase_add_test(tc, test_tls_unary);
	tcase_add_test(tc, test_tls_client_cert_refused);
	tcase_add_test(tc, test_tls_identity_requested);
	tcase_add_test(tc, test_tls_alpn);
	tcase_add_test(tc, test_tls_reload);
	tcase_add_test(tc, test_tls_many_connections);
	tcase_add_test(tc, test_tls_half_open);
	tcase_add_test(tc, test_tls_client_stops_reading);
	tcase_add_test(tc, test_tls_wrong_protocol);
	tcase_add_test(tc, test_tls_alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}
