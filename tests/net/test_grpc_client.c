/* tests/net/test_grpc_client.c — the gRPC client (net/grpc_client.c),
 * unary and streaming calls, against net/grpc.c's server, whose loop runs in a thread of its own, and
 * against hand-made peers on a socketpair: one that never answers, one
 * that answers garbage, one that hangs up.
 *
 * Timing: the deadline cases assert that the call comes back with
 * -ETIMEDOUT, and only a generous upper bound on how long it took (the
 * property is "never hangs"), never a lower one.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "net/grpc.h"
#include "net/grpc_client.h"
#include "tests/lib/check_main.h"

static struct loop loop;
static struct grpc_server *server;
static pthread_t loop_thread;
static atomic_bool loop_quit;
static atomic_int held; /* Never calls held by the server */

static void h_echo(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	grpc_reply(call, msg, len);
}

static void h_never(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)call;
	(void)msg;
	(void)len;
	atomic_fetch_add(&held, 1);
}

static void never_cancel(struct grpc_call *call)
{
	(void)call;
	atomic_fetch_sub(&held, 1);
}

/* an error status with a message that needs percent-encoding */
static void h_fail(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	grpc_finish(call, GRPC_FAILED_PRECONDITION, "etcdserver: 100% \"no\" leader\n\xc3\xa9");
}

static void h_empty(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	grpc_reply(call, NULL, 0);
}

/* streaming: each message echoed; "push N" sends N messages at once,
 * "end" finishes OK, "fail" finishes NOT_FOUND; a half-close finishes
 * OUT_OF_RANGE "done". streams counts the calls open on the server. */
static atomic_int streams;

static void stream_finish(struct grpc_call *call, enum grpc_status st, const char *msg)
{
	if (grpc_call_user(call))
		atomic_fetch_sub(&streams, 1);
	grpc_finish(call, st, msg);
}

static void h_stream(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	char m[64];
	int n;
	if (!grpc_call_user(call)) {
		grpc_call_set_user(call, call);
		atomic_fetch_add(&streams, 1);
	}
	snprintf(m, sizeof(m), "%.*s", (int)(len < 63 ? len : 63), (const char *)msg);
	if (!strcmp(m, "end")) {
		stream_finish(call, GRPC_OK, NULL);
	} else if (!strcmp(m, "fail")) {
		stream_finish(call, GRPC_NOT_FOUND, "gone");
	} else if (sscanf(m, "push %d", &n) == 1) {
		for (int i = 0; i < n; i++) {
			char out[32];
			int k = snprintf(out, sizeof(out), "pushed %d", i);
			grpc_send(call, (const uint8_t *)out, (size_t)k);
		}
	} else {
		grpc_send(call, msg, len);
	}
}

static void stream_half_close(struct grpc_call *call)
{
	stream_finish(call, GRPC_OUT_OF_RANGE, "done");
}

static void stream_cancel(struct grpc_call *call)
{
	if (grpc_call_user(call))
		atomic_fetch_sub(&streams, 1);
}

static const struct grpc_method methods[] = {
	{ .path = "/t.T/Echo", .kind = GRPC_UNARY, .handle = h_echo },
	{ .path = "/t.T/Never", .kind = GRPC_UNARY, .handle = h_never, .on_cancel = never_cancel },
	{ .path = "/t.T/Fail", .kind = GRPC_UNARY, .handle = h_fail },
	{ .path = "/t.T/Empty", .kind = GRPC_UNARY, .handle = h_empty },
	{ .path = "/t.T/Stream", .kind = GRPC_STREAMING, .handle = h_stream, .on_half_close = stream_half_close,
	  .on_cancel = stream_cancel },
};

/* The loop and the server live on the loop thread (the ring is
 * single-issuer): it makes them, serves until told to quit, then stops the
 * server, so that a test sees the server go as a client would. */
static atomic_int loop_state; /* 0 starting, 1 serving, -1 failed */

static void *loop_main(void *arg)
{
	(void)arg;
	struct grpc_config cfg = { .listen_host = "127.0.0.1", .methods = methods,
				   .n_methods = sizeof(methods) / sizeof(methods[0]) };
	char err[256] = "";
	if (loop_init(&loop, 256) < 0 || grpc_start(&loop, &cfg, &server, err, sizeof(err)) < 0) {
		fprintf(stderr, "server: %s\n", err);
		atomic_store(&loop_state, -1);
		return NULL;
	}
	atomic_store(&loop_state, 1);
	while (!atomic_load(&loop_quit))
		loop_run_once(&loop, 20);
	grpc_stop(server);
	loop_fini(&loop);
	return NULL;
}

static uint16_t port_now;

static void start_server(void)
{
	atomic_store(&loop_quit, false);
	atomic_store(&held, 0);
	atomic_store(&streams, 0);
	atomic_store(&loop_state, 0);
	ck_assert_int_eq(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
	while (atomic_load(&loop_state) == 0)
		usleep(1000);
	ck_assert_int_eq(atomic_load(&loop_state), 1);
	port_now = grpc_port(server);
}

static void stop_server(void)
{
	atomic_store(&loop_quit, true);
	pthread_join(loop_thread, NULL);
	server = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct result {
	int rv, status;
	uint8_t *resp;
	size_t len;
	char msg[256];
};

static struct result call(struct grpcc *c, const char *path, const void *req, size_t len, int timeout_ms)
{
	struct result r;
	r.rv = grpcc_call(c, path, req, len, &r.resp, &r.len, &r.status, r.msg, sizeof(r.msg), timeout_ms);
	return r;
}

START_TEST(unary_keepalive)
{
	start_server();
	struct grpcc *c;
	ck_assert_int_eq(grpcc_connect("127.0.0.1", port_now, 5000, &c), 0);
	/* many calls, one connection */
	for (int i = 0; i < 200; i++) {
		char req[32];
		int n = snprintf(req, sizeof(req), "hello %d", i);
		struct result r = call(c, "/t.T/Echo", req, (size_t)n, 10000);
		ck_assert_int_eq(r.rv, 0);
		ck_assert_int_eq(r.status, 0);
		ck_assert_uint_eq(r.len, (size_t)n);
		ck_assert(!memcmp(r.resp, req, (size_t)n));
		free(r.resp);
	}
	/* a message beyond one HTTP/2 window, both ways */
	size_t big = 1 << 20;
	uint8_t *b = malloc(big);
	for (size_t i = 0; i < big; i++)
		b[i] = (uint8_t)(i * 7);
	struct result r = call(c, "/t.T/Echo", b, big, 20000);
	ck_assert_int_eq(r.rv, 0);
	ck_assert_uint_eq(r.len, big);
	ck_assert(!memcmp(r.resp, b, big));
	free(r.resp);
	free(b);
	/* an empty response message is a message */
	r = call(c, "/t.T/Empty", "x", 1, 10000);
	ck_assert_int_eq(r.rv, 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_ptr_null(r.resp);
	ck_assert(grpcc_usable(c));
	grpcc_close(c);
	stop_server();
}
END_TEST

START_TEST(status_in_trailers)
{
	start_server();
	struct grpcc *c;
	ck_assert_int_eq(grpcc_connect("127.0.0.1", port_now, 5000, &c), 0);
	struct result r = call(c, "/t.T/Fail", "", 0, 10000);
	ck_assert_int_eq(r.rv, 0);
	ck_assert_int_eq(r.status, GRPC_FAILED_PRECONDITION);
	ck_assert_str_eq(r.msg, "etcdserver: 100% \"no\" leader\n\xc3\xa9");
	ck_assert_ptr_null(r.resp);
	/* an unknown method: UNIMPLEMENTED, and the connection goes on */
	r = call(c, "/t.T/Nope", "", 0, 10000);
	ck_assert_int_eq(r.rv, 0);
	ck_assert_int_eq(r.status, GRPC_UNIMPLEMENTED);
	r = call(c, "/t.T/Echo", "ok", 2, 10000);
	ck_assert_int_eq(r.rv, 0);
	ck_assert_int_eq(r.status, 0);
	free(r.resp);
	grpcc_close(c);
	stop_server();
}
END_TEST

/* a server that takes the call and never answers: the deadline ends it,
 * the server hears of it, the connection serves the next call */
START_TEST(deadline_server_silent)
{
	start_server();
	struct grpcc *c;
	ck_assert_int_eq(grpcc_connect("127.0.0.1", port_now, 5000, &c), 0);
	int64_t t0 = now_ms();
	/* the server's own deadline (grpc-timeout) or ours, whichever is first */
	struct result r = call(c, "/t.T/Never", "x", 1, 300);
	ck_assert_msg(r.rv == -ETIMEDOUT || (r.rv == 0 && r.status == GRPC_DEADLINE_EXCEEDED), "rv %d status %d", r.rv,
		      r.status);
	ck_assert_int_lt(now_ms() - t0, 30000);
	ck_assert(grpcc_usable(c));
	r = call(c, "/t.T/Echo", "again", 5, 10000);
	ck_assert_int_eq(r.rv, 0);
	ck_assert_int_eq(r.status, 0);
	free(r.resp);
	/* the cancel reached the server (it polls: no fixed sleep) */
	int64_t end = now_ms() + 30000;
	while (atomic_load(&held) != 0 && now_ms() < end)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&held), 0);
	grpcc_close(c);
	stop_server();
}
END_TEST

/* a peer that accepted the connection and never reads or writes */
START_TEST(deadline_peer_mute)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct grpcc *c;
	ck_assert_int_eq(grpcc_adopt(sv[0], NULL, "mute", &c), 0);
	int64_t t0 = now_ms();
	struct result r = call(c, "/t.T/Echo", "x", 1, 200);
	ck_assert_int_eq(r.rv, -ETIMEDOUT);
	ck_assert_int_lt(now_ms() - t0, 30000);
	/* a request larger than the socket buffers: the send side times out too */
	size_t big = 8 << 20;
	uint8_t *b = calloc(1, big);
	r = call(c, "/t.T/Echo", b, big, 200);
	ck_assert(r.rv == -ETIMEDOUT);
	free(b);
	grpcc_close(c);
	close(sv[1]);
}
END_TEST

START_TEST(garbage)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct grpcc *c;
	ck_assert_int_eq(grpcc_adopt(sv[0], NULL, "garbage", &c), 0);
	const char junk[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
	ck_assert_int_eq(write(sv[1], junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	struct result r = call(c, "/t.T/Echo", "x", 1, 10000);
	ck_assert_int_eq(r.rv, -EPROTO);
	ck_assert(!grpcc_usable(c));
	r = call(c, "/t.T/Echo", "x", 1, 10000);
	ck_assert_int_eq(r.rv, -ENOTCONN);
	grpcc_close(c);
	close(sv[1]);
}
END_TEST

/* a GOAWAY already received: the next call sends nothing */
START_TEST(goaway)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct grpcc *c;
	ck_assert_int_eq(grpcc_adopt(sv[0], NULL, "goaway", &c), 0);
	/* the server's preface (an empty SETTINGS), then GOAWAY, last stream 0 */
	const uint8_t frames[] = { 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	ck_assert_int_eq(write(sv[1], frames, sizeof(frames)), (ssize_t)sizeof(frames));
	struct result r = call(c, "/t.T/Echo", "x", 1, 10000);
	ck_assert_int_eq(r.rv, -ENOTCONN);
	ck_assert(!grpcc_usable(c));
	grpcc_close(c);
	/* no HEADERS went out (at most the client's preface and SETTINGS) */
	uint8_t buf[4096];
	ssize_t n = read(sv[1], buf, sizeof(buf));
	ck_assert_int_ge(n, 0);
	if (n > 0) {
		ck_assert_int_ge(n, 24);
		ck_assert(!memcmp(buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24));
	}
	for (ssize_t off = 24; off + 9 <= n; off += 9 + (buf[off] << 16 | buf[off + 1] << 8 | buf[off + 2]))
		ck_assert_int_ne(buf[off + 3], 1 /* HEADERS */);
	close(sv[1]);
}
END_TEST

/* the peer waits for the request, then answers garbage: the call ends
 * with -EPROTO at once, not at its deadline */
static void *garbage_peer(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];
	if (read(fd, buf, sizeof(buf)) > 0) {
		const char junk[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		if (write(fd, junk, sizeof(junk) - 1) < 0)
			return NULL;
	}
	return NULL;
}

START_TEST(garbage_mid_call)
{
	int sv[2];
	pthread_t th;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct grpcc *c;
	ck_assert_int_eq(grpcc_adopt(sv[0], NULL, "garbage", &c), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, garbage_peer, &sv[1]), 0);
	/* a deadline far beyond the test's timeout: only -EPROTO ends it in time */
	struct result r = call(c, "/t.T/Echo", "x", 1, 3600 * 1000);
	ck_assert_int_eq(r.rv, -EPROTO);
	ck_assert(!grpcc_usable(c));
	pthread_join(th, NULL);
	grpcc_close(c);
	close(sv[1]);
}
END_TEST

START_TEST(hangup)
{
	/* the peer closed before the call: nothing is sent */
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct grpcc *c;
	ck_assert_int_eq(grpcc_adopt(sv[0], NULL, "gone", &c), 0);
	close(sv[1]);
	struct result r = call(c, "/t.T/Echo", "x", 1, 10000);
	ck_assert_int_eq(r.rv, -ENOTCONN);
	grpcc_close(c);

	/* a server that stops: its connections end; the next call says so
	 * without sending (the server's GOAWAY or close is seen first) */
	start_server();
	ck_assert_int_eq(grpcc_connect("127.0.0.1", port_now, 5000, &c), 0);
	r = call(c, "/t.T/Echo", "x", 1, 10000);
	ck_assert_int_eq(r.rv, 0);
	free(r.resp);
	uint16_t port = port_now;
	stop_server();
	r = call(c, "/t.T/Echo", "x", 1, 10000);
	ck_assert_msg(r.rv == -ENOTCONN || r.rv == -ECONNRESET, "rv %d", r.rv);
	ck_assert(!grpcc_usable(c));
	grpcc_close(c);
	/* nobody listens there now */
	ck_assert_int_eq(grpcc_connect("127.0.0.1", port, 5000, &c), -ECONNREFUSED);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(grpcc_connect("not an address", 1, 5000, &c), -EINVAL);
}
END_TEST

static void ssend(struct grpcc_stream *st, const char *m)
{
	ck_assert_int_eq(grpcc_stream_send(st, (const uint8_t *)m, strlen(m), 10000), 0);
}

/* the next message is m */
static void srecv(struct grpcc_stream *st, const char *m)
{
	uint8_t *msg;
	size_t len;
	int rv = grpcc_stream_recv(st, &msg, &len, 10000);
	ck_assert_int_eq(rv, 0);
	ck_assert_msg(len == strlen(m) && !memcmp(msg, m, len), "got '%.*s', expected '%s'", (int)len, msg, m);
	free(msg);
}

static void wait_streams(int n)
{
	int64_t end = now_ms() + 30000;
	while (atomic_load(&streams) != n && now_ms() < end)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&streams), n);
}

/* messages both ways, in order; several streams and unary calls on one
 * connection, each keeping what came for it while another waited */
START_TEST(stream_both_ways)
{
	start_server();
	struct grpcc *c;
	struct grpcc_stream *a, *b;
	uint8_t *msg;
	size_t len;
	char m[512];
	ck_assert_int_eq(grpcc_connect("127.0.0.1", port_now, 5000, &c), 0);
	ck_assert_int_eq(grpcc_stream_open(c, "/t.T/Stream", &a), 0);
	ck_assert_int_eq(grpcc_stream_open(c, "/t.T/Stream", &b), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(m, sizeof(m), "a%d", i);
		ssend(a, m);
	}
	ssend(b, "push 50");
	/* a unary call meanwhile: the streams' messages wait for them */
	struct result r = call(c, "/t.T/Echo", "u", 1, 10000);
	ck_assert_int_eq(r.rv, 0);
	ck_assert_int_eq(r.status, 0);
	free(r.resp);
	for (int i = 0; i < 100; i++) {
		snprintf(m, sizeof(m), "a%d", i);
		srecv(a, m);
	}
	for (int i = 0; i < 50; i++) {
		snprintf(m, sizeof(m), "pushed %d", i);
		srecv(b, m);
	}
	/* nothing more: a timeout, and the stream goes on */
	int64_t t0 = now_ms();
	ck_assert_int_eq(grpcc_stream_recv(a, &msg, &len, 100), -ETIMEDOUT);
	ck_assert_int_lt(now_ms() - t0, 30000);
	ck_assert_int_eq(grpcc_stream_recv(a, &msg, &len, 0), -ETIMEDOUT);
	/* messages beyond the HTTP/2 windows, both ways */
	size_t big = 300000;
	uint8_t *bb = malloc(big);
	for (size_t i = 0; i < big; i++)
		bb[i] = (uint8_t)(i * 13);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(grpcc_stream_send(a, bb, big, 10000), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(grpcc_stream_recv(a, &msg, &len, 10000), 0);
		ck_assert_uint_eq(len, big);
		ck_assert(!memcmp(msg, bb, big));
		free(msg);
	}
	free(bb);
	/* the server ends a: OK after its last message */
	ssend(a, "last");
	ssend(a, "end");
	srecv(a, "last");
	ck_assert_int_eq(grpcc_stream_recv(a, &msg, &len, 10000), 1);
	ck_assert_int_eq(grpcc_stream_status(a, m, sizeof(m)), 0);
	ck_assert_int_eq(grpcc_stream_send(a, (const uint8_t *)"x", 1, 1000), -EPIPE);
	grpcc_stream_free(a);
	/* an error status with its message */
	ssend(b, "fail");
	ck_assert_int_eq(grpcc_stream_recv(b, &msg, &len, 10000), 1);
	ck_assert_int_eq(grpcc_stream_status(b, m, sizeof(m)), GRPC_NOT_FOUND);
	ck_assert_str_eq(m, "gone");
	grpcc_stream_free(b);
	/* a half-close: the server may still answer, then ends the call */
	ck_assert_int_eq(grpcc_stream_open(c, "/t.T/Stream", &a), 0);
	ssend(a, "x");
	ck_assert_int_eq(grpcc_stream_close_send(a, 10000), 0);
	ck_assert_int_eq(grpcc_stream_send(a, (const uint8_t *)"y", 1, 1000), -EPIPE);
	srecv(a, "x");
	ck_assert_int_eq(grpcc_stream_recv(a, &msg, &len, 10000), 1);
	ck_assert_int_eq(grpcc_stream_status(a, m, sizeof(m)), GRPC_OUT_OF_RANGE);
	ck_assert_str_eq(m, "done");
	grpcc_stream_free(a);
	wait_streams(0);
	ck_assert(grpcc_usable(c));
	grpcc_close(c);
	stop_server();
}
END_TEST

/* freeing an open stream cancels the call on the server; a wake fd ends a
 * wait; a server that goes away ends the stream */
START_TEST(stream_cancel_wake_hangup)
{
	start_server();
	struct grpcc *c;
	struct grpcc_stream *a;
	uint8_t *msg;
	size_t len;
	int pipefd[2];
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(grpcc_connect("127.0.0.1", port_now, 5000, &c), 0);
	ck_assert_int_eq(grpcc_stream_open(c, "/t.T/Stream", &a), 0);
	ssend(a, "hello");
	srecv(a, "hello");
	wait_streams(1);
	grpcc_stream_free(a);
	wait_streams(0);
	/* the wake fd: a wait far beyond the test's timeout ends at once */
	ck_assert_int_eq(grpcc_stream_open(c, "/t.T/Stream", &a), 0);
	ssend(a, "hello");
	grpcc_set_wake_fd(c, pipefd[0]);
	srecv(a, "hello");
	ck_assert_int_eq(write(pipefd[1], "w", 1), 1);
	ck_assert_int_eq(grpcc_stream_recv(a, &msg, &len, 3600 * 1000), -EINTR);
	char w;
	ck_assert_int_eq(read(pipefd[0], &w, 1), 1);
	ssend(a, "again");
	srecv(a, "again");
	/* the server stops: the stream ends, it never hangs */
	stop_server();
	int rv = grpcc_stream_recv(a, &msg, &len, 3600 * 1000);
	ck_assert_msg(rv == -ECONNRESET || rv == -ENOTCONN || rv == 1, "rv %d", rv);
	grpcc_stream_free(a);
	ck_assert(!grpcc_usable(c));
	ck_assert_int_eq(grpcc_stream_open(c, "/t.T/Stream", &a), -ENOTCONN);
	grpcc_close(c);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

START_TEST(percent_decode)
{
	char out[64];
	const char *in = "a%20b%zz%4";
	ck_assert_uint_eq(grpcc_percent_decode(in, strlen(in), out, sizeof(out)), 8);
	ck_assert_str_eq(out, "a b%zz%4");
	in = "%25%0A";
	grpcc_percent_decode(in, strlen(in), out, sizeof(out));
	ck_assert_str_eq(out, "%\n");
	/* cut to fit */
	ck_assert_uint_eq(grpcc_percent_decode("abcdef", 6, out, 4), 3);
	ck_assert_str_eq(out, "abc");
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("grpc_client");
	TCase *tc = tcase_create("all");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, unary_keepalive);
	tcase_add_test(tc, status_in_trailers);
	tcase_add_test(tc, deadline_server_silent);
	tcase_add_test(tc, deadline_peer_mute);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, garbage_mid_call);
	tcase_add_test(tc, goaway);
	tcase_add_test(tc, hangup);
	tcase_add_test(tc, percent_decode);
	tcase_add_test(tc, stream_both_ways);
	tcase_add_test(tc, stream_cancel_wake_hangup);
	suite_add_tcase(s, tc);
	return s;
}
