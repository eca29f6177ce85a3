/*
 * bench/grpcload — a light load generator for etcd's v3 KV API over gRPC
 * (issue 19): one thread, non-blocking sockets on epoll, nghttp2's client
 * for HTTP/2 (cleartext, prior knowledge), protobuf-c for the requests.
 *
 *   grpcload [--endpoints H:P,H:P...] [--conns N] [--clients N]
 *            [--duration SECS | --total N] [--warmup SECS]
 *            [--op put|range|range-serializable] [--key-space N]
 *            [--value-size N] [--prefix P] [--timeout SECS]
 *
 * Each client keeps one call outstanding; the clients are spread over the
 * connections as separate streams, the connections over the endpoints.
 * On two cores the generator's own CPU is part of what is measured, so it
 * reports its CPU per request (getrusage over the measured window).
 *
 * Prints one line for programs, then one for people:
 *   GRPCLOAD op=put conns=C clients=N secs=S requests=R errors=E rps=X
 *            p50_ms=A p90_ms=B p99_ms=C cpu_ms_per_req=D cpu_pct=P timed_out=0|1
 * requests counts the calls that succeeded in the window; latency is over
 * them. Exits 0 if any call succeeded, 1 if none did, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "etcd/rpc.pb-c.h"

enum op { OP_PUT, OP_RANGE, OP_RANGE_SERIALIZABLE };

struct endpoint {
	char *authority; /* host:port, the :authority header */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct conn;

struct call { /* one client: at most one call outstanding */
	struct conn *conn;
	int32_t stream_id; /* 0: no call outstanding */
	bool pending;      /* waits for its conn to submit its next call */
	uint64_t t0;
	uint8_t *body;
	size_t body_len, body_off;
	int http_status, grpc_status;
	char *grpc_message;
	size_t resp_bytes;
	uint8_t resp_head[5]; /* the gRPC message prefix: flag, length */
	struct call *next_pending;
};

enum conn_state { C_DOWN, C_CONNECTING, C_UP };

struct conn {
	int fd;
	enum conn_state state;
	const struct endpoint *ep;
	nghttp2_session *h2;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	uint32_t events; /* registered with epoll */
	uint64_t retry_at;
	struct call *pending; /* clients waiting to submit */
};

static struct {
	enum op op;
	const char *op_name;
	int conns, clients;
	double duration, warmup, timeout;
	uint64_t total; /* 0: run for duration */
	unsigned key_space, value_size;
	const char *prefix;
} opt = {
	.op = OP_PUT,
	.op_name = "put",
	.conns = 1,
	.clients = 1,
	.duration = 5,
	.key_space = 1000,
	.value_size = 100,
	.prefix = "k",
};

/* the run's state */
static int epfd;
static struct endpoint *eps;
static size_t neps;
static struct conn *conns;
static struct call *calls;
static char *value;
static uint64_t rng = 88172645463325252ull;
static uint64_t t_begin, t_measure, t_end, t_stopped, deadline;
static bool measuring, stopping, timed_out;
static uint64_t issued, finished_total, outstanding;
static uint64_t n_ok, n_err;
static uint64_t *lat; /* ns of the successful calls in the window */
static size_t lat_cap;
static char *first_error;
static struct rusage ru0, ru1;

static const char *const op_paths[] = {
	[OP_PUT] = "/etcdserverpb.KV/Put",
	[OP_RANGE] = "/etcdserverpb.KV/Range",
	[OP_RANGE_SERIALIZABLE] = "/etcdserverpb.KV/Range",
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "grpcload: out of memory\n");
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

static void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_error(const char *fmt, ...)
{
	va_list ap;
	if (first_error)
		return;
	va_start(ap, fmt);
	if (vasprintf(&first_error, fmt, ap) < 0)
		first_error = NULL;
	va_end(ap);
}

/* a call ended: count it if it ended inside the measured window */
static void account(bool ok, uint64_t t0, uint64_t t1)
{
	finished_total++;
	if (!measuring || (t_stopped && t1 > t_stopped))
		return;
	if (!ok) {
		n_err++;
		return;
	}
	n_ok++;
	if (n_ok > lat_cap) {
		lat_cap = lat_cap ? 2 * lat_cap : 65536;
		uint64_t *l = realloc(lat, lat_cap * sizeof *lat);
		if (!l) {
			fprintf(stderr, "grpcload: out of memory\n");
			exit(1);
		}
		lat = l;
	}
	lat[n_ok - 1] = t1 - t0;
}

/* ---- requests ---------------------------------------------------------------------------------- */

static size_t body_cap(void)
{
	return 5 + 32 + strlen(opt.prefix) + 20 + opt.value_size;
}

/* encode the next request of CALL: a gRPC message (flag, length, protobuf) */
static void make_body(struct call *c)
{
	char key[64];
	unsigned k = (unsigned)(xorshift() % opt.key_space);
	int kl = snprintf(key, sizeof key, opt.key_space > 10000 ? "%s%07u" : "%s%04u", opt.prefix, k);
	size_t n;
	if (opt.op == OP_PUT) {
		Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
		r.key.data = (uint8_t *)key;
		r.key.len = (size_t)kl;
		r.value.data = (uint8_t *)value;
		r.value.len = opt.value_size;
		n = etcdserverpb__put_request__pack(&r, c->body + 5);
	} else {
		Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
		r.key.data = (uint8_t *)key;
		r.key.len = (size_t)kl;
		r.serializable = opt.op == OP_RANGE_SERIALIZABLE;
		n = etcdserverpb__range_request__pack(&r, c->body + 5);
	}
	c->body[0] = 0;
	c->body[1] = (uint8_t)(n >> 24);
	c->body[2] = (uint8_t)(n >> 16);
	c->body[3] = (uint8_t)(n >> 8);
	c->body[4] = (uint8_t)n;
	c->body_len = 5 + n;
	c->body_off = 0;
}

static ssize_t body_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
			 uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct call *c = source->ptr;
	size_t n = c->body_len - c->body_off;
	if (n > length)
		n = length;
	memcpy(buf, c->body + c->body_off, n);
	c->body_off += n;
	if (c->body_off == c->body_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v)                                                                                    \
	{                                                                                           \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                           \
			NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                \
	}

static void submit(struct call *c)
{
	struct conn *cn = c->conn;
	nghttp2_nv nva[] = {
		NV(":method", "POST"),
		NV(":scheme", "http"),
		NV(":path", op_paths[opt.op]),
		NV(":authority", cn->ep->authority),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
	};
	nghttp2_data_provider prd = { .source.ptr = c, .read_callback = body_read };
	make_body(c);
	c->http_status = c->grpc_status = -1;
	free(c->grpc_message);
	c->grpc_message = NULL;
	c->resp_bytes = 0;
	c->t0 = now_ns();
	int32_t id = nghttp2_submit_request(cn->h2, NULL, nva, sizeof nva / sizeof nva[0], &prd, c);
	if (id < 0) {
		note_error("nghttp2_submit_request: %s", nghttp2_strerror(id));
		account(false, c->t0, c->t0);
		return;
	}
	c->stream_id = id;
	issued++;
	outstanding++;
}

static bool may_issue(void)
{
	return !stopping && (!opt.total || issued < opt.total);
}

/* submit the calls of the clients that wait on CN */
static void submit_pending(struct conn *cn)
{
	if (cn->state != C_UP)
		return;
	while (cn->pending) {
		struct call *c = cn->pending;
		cn->pending = c->next_pending;
		c->pending = false;
		if (may_issue())
			submit(c);
	}
}

static void wait_turn(struct call *c)
{
	if (c->pending)
		return;
	c->pending = true;
	c->next_pending = c->conn->pending;
	c->conn->pending = c;
}

/* ---- nghttp2 callbacks ------------------------------------------------------------------------- */

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *val, size_t vallen, uint8_t flags, void *user_data)
{
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct call *c = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (!c)
		return 0;
	if (namelen == 7 && !memcmp(name, ":status", 7))
		c->http_status = atoi((const char *)val);
	else if (namelen == 11 && !memcmp(name, "grpc-status", 11))
		c->grpc_status = atoi((const char *)val);
	else if (namelen == 12 && !memcmp(name, "grpc-message", 12) && !c->grpc_message)
		c->grpc_message = strndup((const char *)val, vallen);
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
		   void *user_data)
{
	struct call *c = nghttp2_session_get_stream_user_data(s, stream_id);
	if (!c)
		return 0;
	for (size_t i = 0; i < len && c->resp_bytes + i < 5; i++)
		c->resp_head[c->resp_bytes + i] = data[i];
	c->resp_bytes += len;
	return 0;
}

static int on_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user_data)
{
	struct call *c = nghttp2_session_get_stream_user_data(s, stream_id);
	if (!c || c->stream_id != stream_id)
		return 0;
	uint64_t t1 = now_ns();
	size_t msg = 0;
	if (c->resp_bytes >= 5)
		msg = (size_t)c->resp_head[1] << 24 | (size_t)c->resp_head[2] << 16 |
		      (size_t)c->resp_head[3] << 8 | c->resp_head[4];
	bool ok = false;
	if (error_code)
		note_error("stream reset: %s", nghttp2_http2_strerror(error_code));
	else if (c->http_status != 200)
		note_error("HTTP status %d", c->http_status);
	else if (c->grpc_status != 0)
		note_error("grpc-status %d: %s", c->grpc_status, c->grpc_message ? c->grpc_message : "(no message)");
	else if (c->resp_bytes != 5 + msg || c->resp_head[0] != 0)
		note_error("a response of %zu bytes is not one uncompressed gRPC message", c->resp_bytes);
	else
		ok = true;
	c->stream_id = 0;
	outstanding--;
	account(ok, c->t0, t1);
	wait_turn(c);
	return 0;
}

/* ---- connections ------------------------------------------------------------------------------- */

static void set_events(struct conn *cn)
{
	uint32_t ev = EPOLLIN;
	if (cn->state == C_CONNECTING || cn->out_off < cn->out_len)
		ev |= EPOLLOUT;
	if (ev == cn->events)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = cn };
	if (epoll_ctl(epfd, cn->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, cn->fd, &e) < 0) {
		perror("grpcload: epoll_ctl");
		exit(1);
	}
	cn->events = ev;
}

/* CN failed: its outstanding calls fail, it connects again a little later */
static void conn_down(struct conn *cn, const char *why)
{
	uint64_t t1 = now_ns();
	bool had_calls = false;
	note_error("connection to %s: %s", cn->ep->authority, why);
	for (int i = 0; i < opt.clients; i++) {
		struct call *c = &calls[i];
		if (c->conn != cn)
			continue;
		if (c->stream_id) {
			had_calls = true;
			c->stream_id = 0;
			outstanding--;
			account(false, c->t0, t1);
		}
		wait_turn(c);
	}
	/* a connection that fails with no call on it (refused) is an error
	 * too, but no call: --total still counts calls */
	if (!had_calls && measuring && !stopping)
		n_err++;
	if (cn->h2)
		nghttp2_session_del(cn->h2);
	cn->h2 = NULL;
	if (cn->fd >= 0)
		close(cn->fd);
	cn->fd = -1;
	cn->events = 0;
	cn->out_len = cn->out_off = 0;
	cn->state = C_DOWN;
	cn->retry_at = t1 + 200000000u;
}

/* hand nghttp2's frames to the socket until it has none or the socket is full */
static int conn_flush(struct conn *cn)
{
	for (;;) {
		while (cn->out_off < cn->out_len) {
			ssize_t n = send(cn->fd, cn->out + cn->out_off, cn->out_len - cn->out_off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				return -errno;
			}
			cn->out_off += (size_t)n;
		}
		cn->out_off = cn->out_len = 0;
		/* gather every frame nghttp2 has into one send */
		for (;;) {
			const uint8_t *d;
			ssize_t n = nghttp2_session_mem_send(cn->h2, &d);
			if (n < 0)
				return -EPROTO;
			if (n == 0)
				break;
			if (cn->out_len + (size_t)n > cn->out_cap) {
				size_t cap = cn->out_cap ? cn->out_cap : 65536;
				while (cap < cn->out_len + (size_t)n)
					cap *= 2;
				uint8_t *o = realloc(cn->out, cap);
				if (!o)
					return -ENOMEM;
				cn->out = o;
				cn->out_cap = cap;
			}
			memcpy(cn->out + cn->out_len, d, (size_t)n);
			cn->out_len += (size_t)n;
			if (cn->out_len >= 65536)
				break;
		}
		if (!cn->out_len)
			return 0;
	}
}

static void conn_start(struct conn *cn)
{
	int fd = socket(cn->ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("grpcload: socket");
		exit(1);
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	cn->fd = fd;
	cn->events = 0;
	if (connect(fd, (const struct sockaddr *)&cn->ep->addr, cn->ep->addrlen) < 0 && errno != EINPROGRESS) {
		cn->state = C_CONNECTING; /* so that conn_down has an fd to close */
		conn_down(cn, strerror(errno));
		return;
	}
	cn->state = C_CONNECTING;
	set_events(cn);
}

static void conn_up(struct conn *cn)
{
	static nghttp2_session_callbacks *cbs;
	if (!cbs) {
		nghttp2_session_callbacks_new(&cbs);
		nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
		nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
	}
	if (nghttp2_session_client_new(&cn->h2, cbs, cn) != 0) {
		fprintf(stderr, "grpcload: nghttp2_session_client_new failed\n");
		exit(1);
	}
	/* windows wide enough that flow control never holds a response back */
	nghttp2_settings_entry set[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};
	nghttp2_submit_settings(cn->h2, NGHTTP2_FLAG_NONE, set, sizeof set / sizeof set[0]);
	nghttp2_session_set_local_window_size(cn->h2, NGHTTP2_FLAG_NONE, 0, 1 << 24);
	cn->state = C_UP;
	submit_pending(cn);
}

static void conn_io(struct conn *cn, uint32_t ev)
{
	if (cn->state == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof err;
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(cn->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			conn_down(cn, strerror(err));
			return;
		}
		conn_up(cn);
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		uint8_t buf[65536];
		for (;;) {
			ssize_t n = recv(cn->fd, buf, sizeof buf, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				conn_down(cn, strerror(errno));
				return;
			}
			if (n == 0) {
				conn_down(cn, "closed by the server");
				return;
			}
			ssize_t r = nghttp2_session_mem_recv(cn->h2, buf, (size_t)n);
			if (r < 0) {
				conn_down(cn, nghttp2_strerror((int)r));
				return;
			}
			if ((size_t)n < sizeof buf)
				break;
		}
	}
	submit_pending(cn);
	int r = conn_flush(cn);
	if (r < 0) {
		conn_down(cn, strerror(-r));
		return;
	}
	if (!nghttp2_session_want_read(cn->h2) && !nghttp2_session_want_write(cn->h2) && cn->out_off == cn->out_len) {
		conn_down(cn, "the session ended (GOAWAY)");
		return;
	}
	set_events(cn);
}

/* ---- options and the run ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: grpcload [--endpoints H:P[,H:P...]] [--conns N] [--clients N]\n"
		   "                [--duration SECS | --total N] [--warmup SECS] [--timeout SECS]\n"
		   "                [--op put|range|range-serializable] [--key-space N]\n"
		   "                [--value-size N] [--prefix P] [ENDPOINTS]\n");
}

static void add_endpoints(const char *list)
{
	char *dup = xstrdup(list), *save = NULL;
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "http://", 7))
			tok += 7;
		char *host = tok, *port = strrchr(tok, ':');
		if (!port) {
			fprintf(stderr, "grpcload: endpoint %s has no port\n", tok);
			exit(2);
		}
		struct endpoint *more = realloc(eps, (neps + 1) * sizeof *eps);
		if (!more) {
			fprintf(stderr, "grpcload: out of memory\n");
			exit(1);
		}
		eps = more;
		struct endpoint *e = &eps[neps++];
		e->authority = xstrdup(tok);
		*port++ = 0;
		if (*host == '[') {
			host++;
			host[strcspn(host, "]")] = 0;
		}
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		int r = getaddrinfo(host, port, &hints, &ai);
		if (r) {
			fprintf(stderr, "grpcload: %s: %s\n", e->authority, gai_strerror(r));
			exit(2);
		}
		memcpy(&e->addr, ai->ai_addr, ai->ai_addrlen);
		e->addrlen = ai->ai_addrlen;
		freeaddrinfo(ai);
	}
	free(dup);
}

static double num_arg(const char *name, const char *s, double min)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= min)) {
		fprintf(stderr, "grpcload: bad --%s %s\n", name, s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "endpoints", required_argument, NULL, 'e' }, { "conns", required_argument, NULL, 'c' },
		{ "clients", required_argument, NULL, 'n' },   { "duration", required_argument, NULL, 'd' },
		{ "total", required_argument, NULL, 't' },     { "warmup", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },   { "op", required_argument, NULL, 'o' },
		{ "key-space", required_argument, NULL, 'k' }, { "value-size", required_argument, NULL, 'v' },
		{ "prefix", required_argument, NULL, 'p' },    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'e': add_endpoints(optarg); break;
		case 'c': opt.conns = (int)num_arg("conns", optarg, 1); break;
		case 'n': opt.clients = (int)num_arg("clients", optarg, 1); break;
		case 'd': opt.duration = num_arg("duration", optarg, 0.001); break;
		case 't': opt.total = (uint64_t)num_arg("total", optarg, 1); break;
		case 'w': opt.warmup = num_arg("warmup", optarg, 0); break;
		case 'T': opt.timeout = num_arg("timeout", optarg, 0.001); break;
		case 'k': opt.key_space = (unsigned)num_arg("key-space", optarg, 1); break;
		case 'v': opt.value_size = (unsigned)num_arg("value-size", optarg, 0); break;
		case 'p': opt.prefix = optarg; break;
		case 'o':
			opt.op_name = optarg;
			if (!strcmp(optarg, "put"))
				opt.op = OP_PUT;
			else if (!strcmp(optarg, "range"))
				opt.op = OP_RANGE;
			else if (!strcmp(optarg, "range-serializable"))
				opt.op = OP_RANGE_SERIALIZABLE;
			else {
				fprintf(stderr, "grpcload: --op is put, range or range-serializable\n");
				exit(2);
			}
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	for (; optind < argc; optind++)
		add_endpoints(argv[optind]);
	if (!neps)
		add_endpoints("127.0.0.1:2379");
	if (opt.conns > opt.clients)
		opt.conns = opt.clients; /* a connection without a client would idle */
	if (opt.total)
		opt.warmup = 0;
	if (!opt.timeout)
		opt.timeout = opt.total ? 300 : opt.warmup + opt.duration + 10;
	if (opt.key_space > 10000000) {
		fprintf(stderr, "grpcload: --key-space is at most 10000000\n");
		exit(2);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
	if (!n_ok)
		return NAN;
	size_t i = (size_t)ceil(p * (double)n_ok);
	if (i)
		i--;
	return (double)lat[i] / 1e6;
}

static double cpu_s(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
	       (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

static void start_measuring(uint64_t now)
{
	measuring = true;
	t_measure = now;
	getrusage(RUSAGE_SELF, &ru0);
}

static void stop_measuring(uint64_t now)
{
	stopping = true;
	t_stopped = now;
	getrusage(RUSAGE_SELF, &ru1);
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	value = xmalloc(opt.value_size + 1);
	/* the value bench/wrk.lua writes: the same for every key */
	static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	for (unsigned i = 0; i < opt.value_size; i++)
		value[i] = letters[((i + 1) * 7) % 36];
	rng ^= (uint64_t)getpid() << 32 ^ now_ns();
	if (!rng)
		rng = 1;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		perror("grpcload: epoll_create1");
		return 1;
	}
	conns = calloc((size_t)opt.conns, sizeof *conns);
	calls = calloc((size_t)opt.clients, sizeof *calls);
	if (!conns || !calls) {
		fprintf(stderr, "grpcload: out of memory\n");
		return 1;
	}
	for (int i = 0; i < opt.conns; i++) {
		conns[i].fd = -1;
		conns[i].ep = &eps[(size_t)i % neps];
	}
	for (int i = 0; i < opt.clients; i++) {
		calls[i].conn = &conns[i % opt.conns];
		calls[i].body = xmalloc(body_cap());
		wait_turn(&calls[i]);
	}

	t_begin = now_ns();
	deadline = t_begin + (uint64_t)(opt.timeout * 1e9);
	t_end = t_begin + (uint64_t)((opt.warmup + opt.duration) * 1e9);
	if (opt.warmup == 0)
		start_measuring(t_begin);
	for (int i = 0; i < opt.conns; i++)
		conn_start(&conns[i]);

	for (;;) {
		uint64_t now = now_ns();
		if (!measuring && now >= t_begin + (uint64_t)(opt.warmup * 1e9))
			start_measuring(now);
		if (!opt.total && !stopping && now >= t_end)
			stop_measuring(now);
		if (opt.total && !stopping && finished_total >= opt.total)
			stop_measuring(now);
		if (stopping && !outstanding)
			break;
		if (now >= deadline) {
			timed_out = true;
			if (!stopping)
				stop_measuring(now);
			break;
		}
		/* wake for the next of: a phase change, the deadline, a reconnection */
		uint64_t wake = deadline;
		if (!measuring)
			wake = t_begin + (uint64_t)(opt.warmup * 1e9);
		else if (!opt.total && !stopping && t_end < wake)
			wake = t_end;
		for (int i = 0; i < opt.conns; i++) {
			struct conn *cn = &conns[i];
			if (cn->state != C_DOWN)
				continue;
			if (stopping)
				continue;
			if (cn->retry_at <= now)
				conn_start(cn);
			else if (cn->retry_at < wake)
				wake = cn->retry_at;
		}
		int ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, ms);
		if (n < 0 && errno != EINTR) {
			perror("grpcload: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++)
			conn_io(evs[i].data.ptr, evs[i].events);
	}
	/* the calls the deadline cut off failed */
	if (!measuring)
		start_measuring(t_stopped);
	if (timed_out) {
		n_err += outstanding;
		note_error("the run's deadline (--timeout %.1f s) passed with %" PRIu64 " calls outstanding", opt.timeout,
			   outstanding);
	}

	if (n_ok > 1) /* lat is NULL when nothing succeeded */
		qsort(lat, n_ok, sizeof *lat, cmp_u64);
	double secs = (double)(t_stopped - t_measure) / 1e9;
	double cpu = cpu_s(&ru1) - cpu_s(&ru0);
	uint64_t done = n_ok + n_err;
	double rps = secs > 0 ? (double)n_ok / secs : 0;
	double cpu_per = done ? cpu * 1e3 / (double)done : NAN;
	printf("GRPCLOAD op=%s conns=%d clients=%d secs=%.3f requests=%" PRIu64 " errors=%" PRIu64
	       " rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f cpu_ms_per_req=%.4f cpu_pct=%.1f timed_out=%d\n",
	       opt.op_name, opt.conns, opt.clients, secs, n_ok, n_err, rps, pct_ms(0.50), pct_ms(0.90),
	       pct_ms(0.99), cpu_per, secs > 0 ? 100 * cpu / secs : 0, timed_out);
	printf("grpcload: %s, %d clients on %d connections to %zu endpoint(s): %.0f calls/s over %.2f s"
	       " (%" PRIu64 " ok, %" PRIu64 " errors); latency p50 %.3f, p90 %.3f, p99 %.3f ms;"
	       " its own CPU %.4f ms per call (%.0f%% of a core)\n",
	       opt.op_name, opt.clients, opt.conns, neps, rps, secs, n_ok, n_err, pct_ms(0.50), pct_ms(0.90),
	       pct_ms(0.99), cpu_per, secs > 0 ? 100 * cpu / secs : 0);
	if (first_error)
		fprintf(stderr, "grpcload: first error: %s\n", first_error);
	fflush(stdout);
	return n_ok ? 0 : 1;
}
