/* tests/daemon/test_http_server.c — the HTTP server on the event loop, with
 * a client thread speaking raw HTTP/1.1 over loopback. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "net/http_parse.h"
#include "net/http_server.h"
#include "tests/lib/check_main.h"
#include "tests/lib/whole_response.h"

static struct loop loop;
static struct httpd *server;
static uint16_t port;

/* --- handlers --------------------------------------------------------------- */

static void h_hello(struct httpd_request *req, void *data)
{
	(void)data;
	const char *q = httpd_query(req, "consistent");
	char body[64];
	snprintf(body, sizeof(body), "hello consistent=%s", q ? q : "-");
	httpd_reply(req, 200, "text/plain", body, strlen(body), NULL);
}

static void h_echo(struct httpd_request *req, void *data)
{
	(void)data;
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	httpd_reply(req, 200, "application/octet-stream", body, len, NULL);
}

/* The target as sent, and the decoded path's length and bytes (NULs as '0') */
static void h_path(struct httpd_request *req, void *data)
{
	(void)data;
	size_t len;
	const char *p = httpd_path_n(req, &len);
	char body[256];
	int n = snprintf(body, sizeof(body), "%s %zu ", httpd_target(req), len);
	for (size_t i = 0; i < len && (size_t)n < sizeof(body) - 1; i++)
		body[n++] = p[i] ? p[i] : '0';
	body[n] = '\0';
	httpd_reply(req, 200, "text/plain", body, strlen(body), NULL);
}

/* Answers 80 ms later, from a timer: the request waits suspended. */
struct later {
	struct loop_timer timer;
	struct httpd_request *req;
};

static void later_fire(struct loop_timer *t)
{
	struct later *l = (struct later *)t;
	httpd_reply_text(l->req, 200, "answered later");
	free(l);
}

static void h_later(struct httpd_request *req, void *data)
{
	(void)data;
	struct later *l = calloc(1, sizeof(*l));
	l->req = req;
	loop_timer_init(&l->timer, later_fire);
	loop_timer_arm(&loop, &l->timer, 80);
}

/* Never answers: only httpd_stop() does. */
static void h_never(struct httpd_request *req, void *data)
{
	(void)req;
	*(int *)data += 1;
}
static int never_count;

static const struct httpd_route routes[] = {
	{ "GET", "/hello", false, 0, 0, h_hello, NULL, false },
	{ "POST", "/db/", true, 1024, 0, h_echo, NULL, false },
	{ "GET", "/p/", true, 0, 0, h_path, NULL, false },
	{ "POST", "/later", false, 0, 0, h_later, NULL, false },
	{ "POST", "/never", false, 64, 0, h_never, &never_count, false },
};

static void setup(void)
{
	char err[256];
	ck_assert_int_eq(loop_init(&loop, 256), 0);
	struct httpd_config cfg = { .listen_host = "127.0.0.1", .port = 0, .listen_fd = -1,
				    .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]) };
	int rv = httpd_start(&loop, &cfg, &server, err, sizeof(err));
	ck_assert_msg(rv == 0, "httpd_start: %s", err);
	port = httpd_port(server);
	ck_assert_uint_gt(port, 0);
	never_count = 0;
}

static void teardown(void)
{
	if (server)
		httpd_stop(server);
	server = NULL;
	loop_fini(&loop);
}

/* --- a blocking client in a thread ------------------------------------------ */

struct exchange {
	const char *requests[4]; /* sent one after another on one connection */
	char responses[4][2048];
	int statuses[4];
	atomic_int done;
};

static int connect_local(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one response into buf; returns its status. */
static int read_response(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	int status = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (whole_response(buf, len, &status))
			break;
	}
	buf[len] = '\0';
	return status;
}

static void *client_main(void *arg)
{
	struct exchange *ex = arg;
	int fd = connect_local();
	for (int i = 0; i < 4 && ex->requests[i] && fd >= 0; i++) {
		if (send(fd, ex->requests[i], strlen(ex->requests[i]), MSG_NOSIGNAL) < 0)
			break;
		ex->statuses[i] = read_response(fd, ex->responses[i], sizeof(ex->responses[i]));
	}
	if (fd >= 0)
		close(fd);
	atomic_store(&ex->done, 1);
	return NULL;
}

static void run_until(struct exchange *const *exs, size_t n)
{
	for (int pass = 0; pass < 2000; pass++) {
		size_t done = 0;
		for (size_t i = 0; i < n; i++)
			done += atomic_load(&exs[i]->done);
		if (done == n)
			return;
		loop_run_once(&loop, 10);
	}
	ck_abort_msg("client did not finish");
}

static void exchange_all(struct exchange *const *exs, size_t n)
{
	pthread_t threads[4];
	for (size_t i = 0; i < n; i++)
		pthread_create(&threads[i], NULL, client_main, exs[i]);
	run_until(exs, n);
	for (size_t i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

static const char *body_of(const char *response)
{
	const char *p = strstr(response, "\r\n\r\n");
	return p ? p + 4 : "";
}

/* --- tests -------------------------------------------------------------------- */

START_TEST(test_keep_alive_get_and_post)
{
	struct exchange ex = { .requests = {
		"GET /hello?consistent=true HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /db/key HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nvalue",
		"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
	} };
	struct exchange *exs[] = { &ex };
	exchange_all(exs, 1);
	ck_assert_int_eq(ex.statuses[0], 200);
	ck_assert_str_eq(body_of(ex.responses[0]), "hello consistent=true");
	ck_assert_int_eq(ex.statuses[1], 200);
	ck_assert_str_eq(body_of(ex.responses[1]), "value");
	ck_assert_int_eq(ex.statuses[2], 200);
	ck_assert_str_eq(body_of(ex.responses[2]), "hello consistent=-");
	ck_assert_uint_eq(httpd_stats(server)->requests, 3);
}
END_TEST

/* libmicrohttpd's decoded path ends at a %00: the server keeps the target
 * as sent and decodes the path with its length, and routes on that. */
START_TEST(test_path_with_nul)
{
	struct exchange ex = { .requests = {
		"GET /p/x%00y?consistent=true HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /p/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /p/a%2Fb%zz HTTP/1.1\r\nHost: x\r\n\r\n",
	} };
	struct exchange *exs[] = { &ex };
	exchange_all(exs, 1);
	ck_assert_int_eq(ex.statuses[0], 200);
	ck_assert_str_eq(body_of(ex.responses[0]), "/p/x%00y?consistent=true 6 /p/x0y");
	ck_assert_int_eq(ex.statuses[1], 200);
	ck_assert_str_eq(body_of(ex.responses[1]), "/p/%00 4 /p/0");
	ck_assert_int_eq(ex.statuses[2], 200);
	ck_assert_str_eq(body_of(ex.responses[2]), "/p/a%2Fb%zz 9 /p/a/b%zz");
}
END_TEST

START_TEST(test_errors_keep_the_server_serving)
{
	struct exchange ex = { .requests = {
		"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /db/key HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
	} };
	struct exchange big = { .requests = {
		"POST /db/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
	} };
	struct exchange *exs[] = { &ex };
	exchange_all(exs, 1);
	ck_assert_int_eq(ex.statuses[0], 404);
	ck_assert_str_eq(body_of(ex.responses[0]), "404 page not found\n");
	ck_assert_ptr_nonnull(strcasestr(ex.responses[0], "X-Content-Type-Options: nosniff"));
	ck_assert_int_eq(ex.statuses[1], 405);
	ck_assert_int_eq(ex.statuses[2], 200);

	struct exchange *bigs[] = { &big };
	exchange_all(bigs, 1);
	ck_assert_int_eq(big.statuses[0], 413);
	ck_assert_uint_eq(httpd_stats(server)->body_too_large, 1);

	/* And the server still answers. */
	struct exchange after = { .requests = { "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" } };
	struct exchange *afters[] = { &after };
	exchange_all(afters, 1);
	ck_assert_int_eq(after.statuses[0], 200);
}
END_TEST

/* A request answered later does not hold up others. */
START_TEST(test_suspended_request_answered_later)
{
	struct exchange slow = { .requests = { "POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" } };
	struct exchange fast = { .requests = { "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" } };
	struct exchange *exs[] = { &slow, &fast };
	exchange_all(exs, 2);
	ck_assert_int_eq(slow.statuses[0], 200);
	ck_assert_str_eq(body_of(slow.responses[0]), "answered later\n");
	ck_assert_int_eq(fast.statuses[0], 200);
	ck_assert_uint_eq(httpd_stats(server)->suspended_now, 0);
}
END_TEST

static struct exchange stopping = { .requests = {
	"POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" } };

START_TEST(test_stop_answers_waiting_requests)
{
	pthread_t t;
	atomic_store(&stopping.done, 0);
	pthread_create(&t, NULL, client_main, &stopping);
	for (int i = 0; i < 500 && never_count == 0; i++)
		loop_run_once(&loop, 10);
	ck_assert_int_eq(never_count, 1);
	ck_assert_uint_eq(httpd_stats(server)->suspended_now, 1);
	httpd_stop(server);
	server = NULL;
	pthread_join(t, NULL);
	ck_assert_int_eq(stopping.statuses[0], 503);
}
END_TEST

/* Stops the server and starts it again on a new ring with cfg (port 0:
 * the same port), as raftd's restart in the same process does. */
static void restart_with(struct httpd_config *cfg)
{
	char err[256];
	httpd_stop(server);
	server = NULL;
	loop_fini(&loop);
	ck_assert_int_eq(loop_init(&loop, 256), 0);
	cfg->listen_host = "127.0.0.1";
	cfg->listen_fd = -1;
	if (!cfg->port)
		cfg->port = port;
	cfg->routes = routes;
	cfg->n_routes = sizeof(routes) / sizeof(routes[0]);
	int rv = httpd_start(&loop, cfg, &server, err, sizeof(err));
	ck_assert_msg(rv == 0, "httpd_start again on port %u: %s", port, err);
	ck_assert_uint_eq(httpd_port(server), port);
}

/* A pool as large as goraft's longest head would be zeroed after every
 * request of a keep-alive connection (see SHORT_HEAD in http_server.c):
 * only a connection whose first request line is long gets one. A later
 * long head on a short-pool connection gets 414; the same request first on
 * a new connection is served. */
START_TEST(test_long_heads_get_their_own_pools)
{
	struct httpd_config cfg = { .max_head = 1024 * 1024 + 32 * 1024 };
	restart_with(&cfg);
	static char long_get[80 * 1024];
	int n = snprintf(long_get, sizeof(long_get), "GET /hello?x=");
	memset(long_get + n, 'a', 70 * 1024);
	strcpy(long_get + n + 70 * 1024, " HTTP/1.1\r\nHost: x\r\n\r\n");
	struct exchange short_first = { .requests = { "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
						      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", long_get } };
	struct exchange *one[] = { &short_first };
	exchange_all(one, 1);
	ck_assert_int_eq(short_first.statuses[0], 200);
	ck_assert_int_eq(short_first.statuses[1], 200);
	ck_assert_int_eq(short_first.statuses[2], 414);
	ck_assert_uint_eq(httpd_stats(server)->conns_long_head, 0);

	struct exchange long_first = { .requests = { long_get, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" } };
	struct exchange *two[] = { &long_first };
	exchange_all(two, 1);
	ck_assert_int_eq(long_first.statuses[0], 200);
	ck_assert_str_eq(body_of(long_first.responses[0]), "hello consistent=-");
	ck_assert_int_eq(long_first.statuses[1], 200);
	ck_assert_uint_eq(httpd_stats(server)->conns_long_head, 1);
}
END_TEST

/* The ring lets go of a polled socket asynchronously: the old listener must
 * not keep the port. */
START_TEST(test_restart_binds_the_same_port)
{
	for (int i = 0; i < 5; i++) {
		struct exchange ex = { .requests = { "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n" } };
		struct exchange *exs[] = { &ex };
		exchange_all(exs, 1);
		ck_assert_int_eq(ex.statuses[0], 200);
		/* and connections waiting in the backlog as it stops */
		int pending[4];
		for (int k = 0; k < 4; k++)
			pending[k] = connect_local();
		struct httpd_config cfg = { 0 };
		restart_with(&cfg);
		for (int k = 0; k < 4; k++)
			if (pending[k] >= 0)
				close(pending[k]);
	}
}
END_TEST

/* Past the per-address budget a connection is answered 503 at once. */
START_TEST(test_per_address_budget)
{
	struct httpd_config cfg = { .max_per_address = 2 };
	restart_with(&cfg);
	int a = connect_local(), b = connect_local(), c = connect_local();
	ck_assert(a >= 0 && b >= 0 && c >= 0);
	for (int i = 0; i < 50; i++)
		loop_run_once(&loop, 10);
	char buf[512];
	ck_assert_int_eq(read_response(c, buf, sizeof(buf)), 503);
	ck_assert_ptr_nonnull(strstr(buf, "Retry-After: 1"));
	ck_assert_uint_eq(httpd_stats(server)->conn_refused, 1);
	ck_assert_uint_eq(httpd_stats(server)->conns_clients, 2);
	close(a);
	close(b);
	close(c);
}
END_TEST

/* A head trickling in is cut at the head deadline, not the idle timeout. */
START_TEST(test_head_deadline)
{
	struct httpd_config cfg = { .head_timeout_s = 1, .connection_timeout_s = 60 };
	restart_with(&cfg);
	int fd = connect_local();
	ck_assert(fd >= 0);
	send(fd, "GET /hello HTTP/1.1\r\n", 21, MSG_NOSIGNAL);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char buf[512];
	ssize_t n = -1;
	for (int i = 0; i < 400 && n < 0; i++) {
		send(fd, "X: y\r\n", 6, MSG_NOSIGNAL);
		loop_run_once(&loop, 10);
		n = recv(fd, buf, sizeof(buf) - 1, 0);
	}
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(!strncmp(buf, "HTTP/1.1 408", 12), "got %s", buf);
	ck_assert_uint_eq(httpd_stats(server)->head_timeouts, 1);
	close(fd);
}
END_TEST

/* Waits (running the loop) until fd has a whole response; returns its status. */
static int loop_read_response(int fd, char *buf, size_t cap)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	size_t len = 0;
	int status = 0;
	for (int i = 0; i < 1000; i++) {
		loop_run_once(&loop, 5);
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n == 0)
			break;
		if (n < 0)
			continue;
		len += (size_t)n;
		if (whole_response(buf, len, &status))
			break;
	}
	buf[len] = '\0';
	return status;
}

static int send_all(int fd, const char *s)
{
	return send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s) ? 0 : -1;
}

/* As a node stops to restart or after its removal: connections in every
 * state, and peers still connecting. Nothing of the server may be left in
 * the loop (a timer its connections re-armed as they closed, a poll the
 * kernel still holds): the loop runs on after the stop (ASan), and the
 * stop does not wait out a drain timeout. */
START_TEST(test_stop_with_connections_open)
{
	enum { BACKLOG = 8 };
	char buf[2048];
	int keep = connect_local(), head = connect_local(), body = connect_local(), waiting = connect_local();
	ck_assert(keep >= 0 && head >= 0 && body >= 0 && waiting >= 0);
	/* keep-alive, idle after an answered request */
	ck_assert_int_eq(send_all(keep, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(loop_read_response(keep, buf, sizeof(buf)), 200);
	/* half a head; half a body */
	ck_assert_int_eq(send_all(head, "GET /hello HTTP/1.1\r\nHos"), 0);
	ck_assert_int_eq(send_all(body, "POST /db/key HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"), 0);
	/* suspended, waiting for an answer only the stop gives */
	ck_assert_int_eq(send_all(waiting, "POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"), 0);
	for (int i = 0; i < 500 && never_count == 0; i++)
		loop_run_once(&loop, 10);
	ck_assert_int_eq(never_count, 1);
	for (int i = 0; i < 20; i++)
		loop_run_once(&loop, 5);
	ck_assert_uint_eq(httpd_stats(server)->conns_clients, 4);
	/* peers connecting as it stops: the listening socket's poll is
	 * being woken when it is cancelled */
	int late[BACKLOG];
	for (int k = 0; k < BACKLOG; k++)
		late[k] = connect_local();

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	httpd_stop(server);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	server = NULL;
	int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;

	/* The loop goes on (node_close drains its peers): more wake-ups. */
	for (int i = 0; i < 50; i++) {
		int fd = connect_local();
		if (fd >= 0)
			close(fd);
		loop_run_once(&loop, 5);
	}
	/* a functional bound: a drain that timed out takes a whole second */
	ck_assert_msg(ms < 900, "httpd_stop took %lld ms", (long long)ms);
	ck_assert_int_eq(loop_read_response(waiting, buf, sizeof(buf)), 503);
	close(keep);
	close(head);
	close(body);
	close(waiting);
	for (int k = 0; k < BACKLOG; k++)
		if (late[k] >= 0)
			close(late[k]);
	for (int i = 0; i < 20; i++)
		loop_run_once(&loop, 5);
}
END_TEST

/* Fail the 1st, 2nd, ... allocation of net/ and base/ (base/alloc.h) while
 * the server starts and answers one POST with a body: a failed start says
 * -ENOMEM; a failed request gets an error status or a closed connection,
 * never a wrong answer, and the server then answers the next request.
 * libmicrohttpd's own allocations are not counted. Leaks: ASan, valgrind. */
START_TEST(test_oom_start_and_request)
{
	static const char post[] = "POST /db/key HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nvalue";
	char buf[2048], err[256];
	unsigned long nth;
	for (nth = 1;; nth++) {
		ck_assert_int_eq(loop_init(&loop, 256), 0);
		struct httpd_config cfg = { .listen_host = "127.0.0.1", .port = 0, .listen_fd = -1,
					    .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]) };
		alloc_fail_nth(nth);
		int rv = httpd_start(&loop, &cfg, &server, err, sizeof(err));
		int status = 0;
		if (rv == 0) {
			port = httpd_port(server);
			int fd = connect_local();
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(send_all(fd, post), 0);
			status = loop_read_response(fd, buf, sizeof(buf));
			close(fd);
		}
		bool fired = alloc_failed();
		alloc_fail_nth(0);
		if (!fired) {
			ck_assert_int_eq(rv, 0);
			ck_assert_int_eq(status, 200);
			ck_assert_str_eq(body_of(buf), "value");
			teardown();
			break;
		}
		if (rv != 0) {
			ck_assert_msg(rv == -ENOMEM, "allocation %lu failed, httpd_start: %d %s", nth, rv, err);
			server = NULL;
			loop_fini(&loop);
			continue;
		}
		ck_assert_msg(status == 0 || status >= 500, "allocation %lu failed, status %d", nth, status);
		/* still serving */
		int fd = connect_local();
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(send_all(fd, post), 0);
		ck_assert_int_eq(loop_read_response(fd, buf, sizeof(buf)), 200);
		ck_assert_str_eq(body_of(buf), "value");
		close(fd);
		teardown();
	}
	ck_assert_uint_gt(nth, 3);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("http_server");
	TCase *tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_keep_alive_get_and_post);
	tcase_add_test(tc, test_path_with_nul);
	tcase_add_test(tc, test_errors_keep_the_server_serving);
	tcase_add_test(tc, test_suspended_request_answered_later);
	tcase_add_test(tc, test_stop_answers_waiting_requests);
	tcase_add_test(tc, test_restart_binds_the_same_port);
	tcase_add_test(tc, test_long_heads_get_their_own_pools);
	tcase_add_test(tc, test_per_address_budget);
	tcase_add_test(tc, test_head_deadline);
	tcase_add_test(tc, test_stop_with_connections_open);
	suite_add_tcase(s, tc);
	tc = tcase_create("oom");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_oom_start_and_request);
	suite_add_tcase(s, tc);
	return s;
}
