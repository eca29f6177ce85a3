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
 *
 * Two more modes (issue 20), each one run that ends by itself:
 *
 *   grpcload --op watch [--watchers W] [--streams S] [--conns C] [--rate R]
 *            [--duration SECS] [--drain SECS] [--rss-pid PID] [--prefix P]
 *
 * W watches on the prefix P, spread over S Watch streams (default: one per
 * connection, so several watches share a stream, as the watches of one etcd
 * client context do), the streams over C connections; once every watch is
 * created, one writer on a connection of its own puts under P at R writes/s
 * for SECS, open-loop (up to 256 calls in flight); then it waits up to
 * --drain for the last events. Each value starts with its write's number, so
 * an event names its write. With --rss-pid, the server's VmRSS
 * (/proc/PID/status) before connecting and once every watch is created.
 *   GRPCLOAD op=watch ... events=E expected=X missing=M misordered=O
 *            events_per_s=Y p50_ms=A p99_ms=B put_p99_ms=C kib_per_watcher=K
 *            cpu_us_per_event=U writes_late=L errors=N timed_out=0|1
 * p50/p99: from a write's acknowledgement to its event at the LAST watcher
 * (0 when the event came first), over the writes every watcher got;
 * sent_p50_ms/sent_p99_ms: the same from the write's sending;
 * events_per_s: events over the time from the first write to the last
 * event; misordered: events at or below a revision the watcher had seen.
 *
 *   grpcload --op lease [--leases N] [--clients C] [--conns K] [--ttl T]
 *            [--end expire|revoke] [--prefix P]
 *
 * N leases, C at a time: each is granted with TTL T (the server raises it to
 * its minimum), a key under P put with it, one keep-alive sent on its
 * connection's LeaseKeepAlive stream, then revoked or left to expire. The
 * run ends when P has no key (count_only Range, polled every 100 ms) and
 * LeaseLeases lists none of the run's leases.
 *   GRPCLOAD op=lease ... ttl=T granted=G attached=A kept_alive=K ops=O
 *            ops_secs=S gone_secs=G total_secs=T cpu_ms_per_op=U errors=N
 * ops counts each grant, attach, keep-alive and expiry (or revoke).
 * Both exit 1 when a call or a stream failed (an UNIMPLEMENTED service ends
 * the run at once), when events are missing or out of order, or on timeout.
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

enum op { OP_PUT, OP_RANGE, OP_RANGE_SERIALIZABLE, OP_WATCH, OP_LEASE };

/* K_BENCH: a client of the put/range modes (one unary call after another,
 * the response only counted); K_UNARY and K_STREAM: the calls of the watch
 * and lease modes, whose responses are read */
enum kind { K_BENCH, K_UNARY, K_STREAM };

struct endpoint {
	char *authority; /* host:port, the :authority header */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct conn;

struct call;
typedef void msg_fn(struct call *c, const uint8_t *msg, size_t len);
typedef void end_fn(struct call *c, bool ok);

struct call { /* one client: at most one call outstanding */
	struct conn *conn;
	int32_t stream_id; /* 0: no call outstanding */
	bool pending;      /* waits for its conn to submit its next call */
	uint64_t t0;
	uint8_t *body;
	size_t body_len, body_off, body_cap;
	/* the watch and lease modes */
	enum kind kind;
	const char *path;
	bool open;     /* a stream whose request side stays open when its queue runs dry */
	bool deferred; /* its data source said DEFERRED: resumed when a message is queued */
	uint8_t *in;   /* the response bytes not yet handed out */
	size_t in_len, in_cap;
	msg_fn *on_msg; /* K_STREAM: each response message */
	end_fn *on_end; /* the call ended; ok: HTTP 200, grpc-status 0 (K_UNARY: one message, in in + 5) */
	size_t idx;     /* the owner's index */
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
	/* watch */
	int watchers, streams;
	double rate, drain;
	long rss_pid;
	/* lease */
	unsigned leases;
	int64_t ttl;
	bool revoke;
} opt = {
	.op = OP_PUT,
	.op_name = "put",
	.conns = 1,
	.clients = 1,
	.duration = 5,
	.key_space = 1000,
	.value_size = 100,
	.prefix = "k",
	.watchers = 1000,
	.rate = 100,
	.drain = 10,
	.leases = 100000,
	.ttl = 1,
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
static struct call **reg; /* every call, for conn_down */
static size_t n_reg;

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
	if (!n && c->open) {
		c->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (n > length)
		n = length;
	memcpy(buf, c->body + c->body_off, n);
	c->body_off += n;
	if (c->body_off == c->body_len) {
		if (c->open)
			c->body_off = c->body_len = 0;
		else
			*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	}
	return (ssize_t)n;
}

#define NV(n, v)                                                                                    \
	{                                                                                           \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                           \
			NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                \
	}

static void submit_wl(struct call *c);

static void submit(struct call *c)
{
	struct conn *cn = c->conn;
	if (c->kind != K_BENCH) {
		submit_wl(c);
		return;
	}
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
		if (c->kind != K_BENCH || may_issue())
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

static int wl_data(struct call *c, const uint8_t *data, size_t len);
static void wl_close(struct call *c, uint32_t error_code);

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
	if (c->kind != K_BENCH)
		return wl_data(c, data, len);
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
	if (c->kind != K_BENCH) {
		wl_close(c, error_code);
		return 0;
	}
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

/* The server ended a stream whose request side is still open (its trailers
 * came first: an error, or a server without the method): end ours too, or
 * nghttp2 keeps the stream half-closed and never reports its close. gRPC
 * servers in Go send RST_STREAM(NO_ERROR) themselves; not every one does. */
static int on_frame(nghttp2_session *s, const nghttp2_frame *frame, void *user_data)
{
	if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA))
		return 0;
	struct call *c = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (c && c->kind == K_STREAM && c->stream_id == frame->hd.stream_id)
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
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
	for (size_t i = 0; i < n_reg; i++) {
		struct call *c = reg[i];
		if (c->conn != cn)
			continue;
		if (c->kind != K_BENCH) {
			if (c->stream_id) {
				c->stream_id = 0;
				outstanding--;
				c->on_end(c, false);
			}
			continue;
		}
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
		nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
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

/* ---- the watch and lease modes: calls whose responses are read ------------------------------- */

static bool failed;       /* a stream or a connection the run needs ended: stop */
static const char *phase; /* what the run was doing, for the timeout's message */

static void grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	size_t c = *cap ? *cap : 4096;
	while (c < need)
		c *= 2;
	uint8_t *b = realloc(*buf, c);
	if (!b) {
		fprintf(stderr, "grpcload: out of memory\n");
		exit(1);
	}
	*buf = b;
	*cap = c;
}

static void call_init(struct call *c, struct conn *cn, enum kind k, const char *path, size_t idx)
{
	c->conn = cn;
	c->kind = k;
	c->path = path;
	c->idx = idx;
	c->open = k == K_STREAM;
	struct call **r = realloc(reg, (n_reg + 1) * sizeof *reg);
	if (!r) {
		fprintf(stderr, "grpcload: out of memory\n");
		exit(1);
	}
	reg = r;
	reg[n_reg++] = c;
}

/* queue one gRPC message on C's request side (a stream's, or a unary call's only one) */
static void call_queue(struct call *c, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (c->body_off == c->body_len)
		c->body_off = c->body_len = 0;
	grow(&c->body, &c->body_cap, c->body_len + 5 + n);
	uint8_t *p = c->body + c->body_len;
	p[0] = 0;
	p[1] = (uint8_t)(n >> 24);
	p[2] = (uint8_t)(n >> 16);
	p[3] = (uint8_t)(n >> 8);
	p[4] = (uint8_t)n;
	protobuf_c_message_pack(m, p + 5);
	c->body_len += 5 + n;
	if (c->stream_id && c->deferred) {
		c->deferred = false;
		nghttp2_session_resume_data(c->conn->h2, c->stream_id);
	}
}

/* start C (its request queued): submitted as soon as its connection is up */
static void call_start(struct call *c)
{
	c->t0 = now_ns();
	wait_turn(c);
}

/* a unary call: M is its request */
static void unary(struct call *c, const ProtobufCMessage *m)
{
	c->body_off = c->body_len = 0;
	call_queue(c, m);
	call_start(c);
}

static void submit_wl(struct call *c)
{
	struct conn *cn = c->conn;
	nghttp2_nv nva[] = {
		NV(":method", "POST"),
		NV(":scheme", "http"),
		NV(":path", c->path),
		NV(":authority", cn->ep->authority),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
	};
	nghttp2_data_provider prd = { .source.ptr = c, .read_callback = body_read };
	c->http_status = c->grpc_status = -1;
	free(c->grpc_message);
	c->grpc_message = NULL;
	c->in_len = 0;
	c->deferred = false;
	int32_t id = nghttp2_submit_request(cn->h2, NULL, nva, sizeof nva / sizeof nva[0], &prd, c);
	if (id < 0) {
		note_error("nghttp2_submit_request: %s", nghttp2_strerror(id));
		failed = true;
		return;
	}
	c->stream_id = id;
	issued++;
	outstanding++;
}

static int wl_data(struct call *c, const uint8_t *data, size_t len)
{
	grow(&c->in, &c->in_cap, c->in_len + len);
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	if (c->kind != K_STREAM)
		return 0; /* a unary call's one message is read when it ends */
	size_t pos = 0;
	while (c->in_len - pos >= 5) {
		const uint8_t *h = c->in + pos;
		size_t n = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
		if (c->in_len - pos < 5 + n)
			break;
		if (h[0] != 0) {
			note_error("%s: a compressed message", c->path);
			failed = true;
			break;
		}
		c->on_msg(c, h + 5, n);
		pos += 5 + n;
	}
	if (pos) {
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
	}
	return 0;
}

static void wl_close(struct call *c, uint32_t error_code)
{
	bool ok = false;
	size_t msg = 0;
	if (c->in_len >= 5)
		msg = (size_t)c->in[1] << 24 | (size_t)c->in[2] << 16 | (size_t)c->in[3] << 8 | c->in[4];
	if (error_code)
		note_error("%s: stream reset: %s", c->path, nghttp2_http2_strerror(error_code));
	else if (c->http_status != 200)
		note_error("%s: HTTP status %d", c->path, c->http_status);
	else if (c->grpc_status != 0)
		note_error("%s: grpc-status %d: %s", c->path, c->grpc_status,
			   c->grpc_message ? c->grpc_message : "(no message)");
	else if (c->kind == K_UNARY && (c->in_len != 5 + msg || c->in[0] != 0))
		note_error("%s: a response of %zu bytes is not one uncompressed gRPC message", c->path, c->in_len);
	else
		ok = true;
	/* etcd's UNIMPLEMENTED: the server has no such service, nothing to measure */
	if (c->grpc_status == 12)
		failed = true;
	c->stream_id = 0;
	outstanding--;
	c->on_end(c, ok);
}

/* the parts of protobuf the watch mode reads by hand (protobuf-c's unpack
 * allocates per message: too slow for a million events a second) */
static bool pb_varint(const uint8_t **p, const uint8_t *e, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned sh = 0; sh < 64 && *p < e; sh += 7) {
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* the next field of [*p, e): its number, wire type, and its value (varint) or bytes (length-delimited) */
static bool pb_field(const uint8_t **p, const uint8_t *e, unsigned *num, uint64_t *v, const uint8_t **b, size_t *blen)
{
	uint64_t tag;
	if (!pb_varint(p, e, &tag))
		return false;
	*num = (unsigned)(tag >> 3);
	switch (tag & 7) {
	case 0: return pb_varint(p, e, v);
	case 1:
		if (e - *p < 8)
			return false;
		*p += 8;
		return true;
	case 5:
		if (e - *p < 4)
			return false;
		*p += 4;
		return true;
	case 2:
		if (!pb_varint(p, e, v) || *v > (uint64_t)(e - *p))
			return false;
		*b = *p;
		*blen = (size_t)*v;
		*p += *blen;
		return true;
	default: return false;
	}
}

static void *unpack(const ProtobufCMessageDescriptor *d, const struct call *c)
{
	void *m = protobuf_c_message_unpack(d, NULL, c->in_len - 5, c->in + 5);
	if (!m)
		note_error("%s: a response protobuf-c cannot decode", c->path);
	return m;
}

static uint64_t read_rss_kib(long pid)
{
	char path[64], line[256];
	uint64_t v = 0;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

/* the end of the range of keys with PREFIX (etcd's prefix range_end) */
static ProtobufCBinaryData prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	uint8_t *e = xmalloc(n + 1);
	memcpy(e, prefix, n);
	while (n && e[n - 1] == 0xff)
		n--;
	if (!n) {
		e[0] = 0;
		return (ProtobufCBinaryData){ 1, e };
	}
	e[n - 1]++;
	return (ProtobufCBinaryData){ n, e };
}

/* an open-addressed map from 64-bit keys (never 0) to indexes */
struct map {
	uint64_t *keys;
	uint32_t *vals;
	size_t mask;
};

static void map_init(struct map *m, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	m->keys = calloc(cap, sizeof *m->keys);
	m->vals = calloc(cap, sizeof *m->vals);
	if (!m->keys || !m->vals) {
		fprintf(stderr, "grpcload: out of memory\n");
		exit(1);
	}
	m->mask = cap - 1;
}

static size_t map_slot(const struct map *m, uint64_t k)
{
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & m->mask;
	while (m->keys[i] && m->keys[i] != k)
		i = (i + 1) & m->mask;
	return i;
}

static void map_put(struct map *m, uint64_t k, uint32_t v)
{
	size_t i = map_slot(m, k);
	m->keys[i] = k;
	m->vals[i] = v;
}

static bool map_get(const struct map *m, uint64_t k, uint32_t *v)
{
	size_t i = map_slot(m, k);
	if (!m->keys[i])
		return false;
	*v = m->vals[i];
	return true;
}

static void fill_value(uint32_t seq)
{
	char h[9];
	snprintf(h, sizeof h, "%08" PRIx32, seq);
	memcpy(value, h, opt.value_size < 8 ? opt.value_size : 8);
}

static int cmp_u64(const void *a, const void *b);
static double cpu_s(const struct rusage *r);

static double pct_of(const uint64_t *v, size_t n, double p)
{
	if (!n)
		return NAN;
	size_t i = (size_t)ceil(p * (double)n);
	if (i)
		i--;
	return (double)v[i] / 1e6;
}

/* ---- watch fan-out ---------------------------------------------------------------------------- *
 * W watchers on one prefix, spread over S Watch streams (--streams, several
 * watches per stream as one etcd client context makes), the streams over C
 * connections; one writer on a connection of its own puts under the prefix
 * at --rate, one call at a time. Each value starts with the write's number
 * in hex, so an event names its write without asking the revision. */

struct watcher {
	uint64_t last_rev; /* the last event's revision: events out of order or twice are counted */
	uint64_t events;
};
struct wstream {
	struct call c;
	uint32_t *members; /* the watchers, in the order their creates were sent */
	uint32_t n, n_created;
};
struct wwrite {
	uint64_t sent, ack, last; /* ns; last: the latest event of it at any watcher */
	uint32_t delivered;
};

static struct watcher *wat;
static struct wstream *wst;
static struct wwrite *wr;
static struct map watch_ids; /* (stream, watch_id) -> watcher */
static uint32_t w_created, w_canceled, w_writes_max, w_sent, w_acked, w_complete;
static uint64_t w_events, w_misordered, w_unknown, w_bad_events, w_put_errors;
static uint64_t w_first_event, w_last_event;
/* the writer is open-loop: a write leaves at its time whether or not the
 * ones before it were acknowledged (a slow server must not slow the offered
 * load), up to WRITERS calls in flight */
#define WRITERS 256
static struct call w_writer[WRITERS];
static struct call *w_free[WRITERS];
static int n_w_free;
static uint32_t w_behind; /* writes that left over 10 ms late (all WRITERS in flight, or the loop busy) */
static uint64_t *w_put_lat;

static uint64_t wkey(uint32_t stream, int64_t id)
{
	return ((uint64_t)stream << 40 ^ (uint64_t)id) + 1;
}

static void watch_event(uint32_t w, const uint8_t *ev, size_t len, uint64_t now)
{
	const uint8_t *p = ev, *e = ev + len, *b = NULL, *kv = NULL, *val = NULL;
	size_t blen = 0, kvlen = 0, vlen = 0;
	unsigned num;
	uint64_t v = 0, type = 0, rev = 0;
	while (p < e) {
		if (!pb_field(&p, e, &num, &v, &b, &blen))
			goto bad;
		if (num == 1)
			type = v;
		else if (num == 2)
			kv = b, kvlen = blen;
	}
	if (!kv || type != 0)
		goto bad;
	for (p = kv, e = kv + kvlen; p < e;) {
		if (!pb_field(&p, e, &num, &v, &b, &blen))
			goto bad;
		if (num == 5)
			val = b, vlen = blen;
		else if (num == 3)
			rev = v;
	}
	char hex[9];
	if (!val || vlen < 8)
		goto bad;
	memcpy(hex, val, 8);
	hex[8] = 0;
	char *end;
	unsigned long seq = strtoul(hex, &end, 16);
	if (*end || seq >= w_sent)
		goto bad;
	struct watcher *wa = &wat[w];
	if (wa->last_rev >= rev)
		w_misordered++;
	else
		wa->last_rev = rev;
	wa->events++;
	w_events++;
	if (!w_first_event)
		w_first_event = now;
	w_last_event = now;
	struct wwrite *x = &wr[seq];
	x->last = now;
	if (++x->delivered == w_created && x->ack)
		w_complete++;
	return;
bad:
	w_bad_events++;
	note_error("an event that is not a put of this run's writer");
}

static void watch_msg(struct call *c, const uint8_t *msg, size_t len)
{
	struct wstream *st = &wst[c->idx];
	const uint8_t *p = msg, *e = msg + len, *b = NULL, *reason = NULL;
	size_t blen = 0, rlen = 0;
	unsigned num;
	uint64_t v = 0, wid = 0, created = 0, canceled = 0, compact = 0;
	while (p < e) {
		if (!pb_field(&p, e, &num, &v, &b, &blen)) {
			note_error("a WatchResponse that does not parse");
			failed = true;
			return;
		}
		switch (num) {
		case 2: wid = v; break;
		case 3: created = v; break;
		case 4: canceled = v; break;
		case 5: compact = v; break;
		case 6: reason = b, rlen = blen; break;
		}
	}
	if (created) {
		if (st->n_created >= st->n) {
			note_error("more watches created than asked for");
			failed = true;
			return;
		}
		map_put(&watch_ids, wkey((uint32_t)c->idx, (int64_t)wid), st->members[st->n_created++]);
		w_created++;
	}
	if (canceled) {
		w_canceled++;
		note_error("a watch canceled by the server (compact_revision %" PRIu64 "): %.*s", compact, (int)rlen,
			   reason ? (const char *)reason : "");
		return;
	}
	uint32_t w;
	bool known = map_get(&watch_ids, wkey((uint32_t)c->idx, (int64_t)wid), &w);
	uint64_t now = 0;
	for (p = msg; p < e;) {
		pb_field(&p, e, &num, &v, &b, &blen);
		if (num != 11)
			continue;
		if (!known) {
			w_unknown++;
			note_error("an event for watch_id %" PRIu64 ", which this stream never created", wid);
			continue;
		}
		if (!now)
			now = now_ns();
		watch_event(w, b, blen, now);
	}
}

static void watch_end(struct call *c, bool ok)
{
	if (!stopping) {
		if (ok)
			note_error("the server ended a Watch stream");
		failed = true;
	}
}

static void writer_end(struct call *c, bool ok)
{
	uint32_t seq = (uint32_t)c->idx;
	uint64_t t = now_ns();
	w_free[n_w_free++] = c;
	if (!ok) {
		w_put_errors++;
		if (w_put_errors > 100)
			failed = true;
		return;
	}
	w_put_lat[w_acked++] = t - wr[seq].sent;
	wr[seq].ack = t;
	if (wr[seq].delivered == w_created)
		w_complete++;
}

static void writer_put(uint64_t now)
{
	uint32_t seq = w_sent++;
	char key[64];
	int kl = snprintf(key, sizeof key, "%s%04u", opt.prefix, seq % 1000);
	Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
	fill_value(seq);
	r.key = (ProtobufCBinaryData){ (size_t)kl, (uint8_t *)key };
	r.value = (ProtobufCBinaryData){ opt.value_size, (uint8_t *)value };
	wr[seq].sent = now;
	struct call *c = w_free[--n_w_free];
	c->idx = seq;
	unary(c, &r.base);
}

/* ---- lease churn -------------------------------------------------------------------------------- *
 * N leases, --clients of them in flight: each is granted (--ttl, 0 for the
 * server's minimum), a key put with it, one keep-alive sent on its
 * connection's LeaseKeepAlive stream, then (--end revoke) revoked, or left
 * to expire. The run ends when the prefix has no key and LeaseLeases
 * lists none of the run's leases. */

enum lstate { L_GRANT, L_PUT, L_KA, L_REVOKE, L_DONE };
struct lease {
	int64_t id;
	uint32_t chain;
	uint8_t state;
};
struct chain {
	struct call c;
	uint32_t lease;
	bool busy;
};

static struct lease *ls;
static struct chain *chains;
static struct call *ka; /* one LeaseKeepAlive stream per connection */
static struct map lease_ids;
static uint32_t l_next, l_done, l_granted, l_attached, l_kept, l_revoked, l_ka_lost;
static int64_t l_ttl_min = INT64_MAX, l_ttl_max;
static uint64_t l_errors;
static struct call l_poll;
static bool l_poll_busy, l_keys_gone, l_gone;
static uint64_t l_next_poll, l_keys_left, l_leases_left, t_ops_end, t_gone;

static void chain_next(struct chain *ch);

static void lease_failed(struct chain *ch, struct lease *l)
{
	l_errors++;
	l->state = L_DONE;
	l_done++;
	if (l_errors > 1000) {
		note_error("more than 1000 lease calls failed: the run stops");
		failed = true;
	}
	chain_next(ch);
}

static void lease_put(struct chain *ch, struct lease *l)
{
	char key[64];
	int kl = snprintf(key, sizeof key, "%s%07u", opt.prefix, ch->lease);
	Etcdserverpb__PutRequest r = ETCDSERVERPB__PUT_REQUEST__INIT;
	r.key = (ProtobufCBinaryData){ (size_t)kl, (uint8_t *)key };
	r.value = (ProtobufCBinaryData){ opt.value_size, (uint8_t *)value };
	r.lease = l->id;
	l->state = L_PUT;
	ch->c.path = "/etcdserverpb.KV/Put";
	unary(&ch->c, &r.base);
}

static void chain_end(struct call *c, bool ok)
{
	struct chain *ch = &chains[c->idx];
	struct lease *l = &ls[ch->lease];
	if (!ok) {
		lease_failed(ch, l);
		return;
	}
	switch (l->state) {
	case L_GRANT: {
		Etcdserverpb__LeaseGrantResponse *r = unpack(&etcdserverpb__lease_grant_response__descriptor, c);
		if (!r || r->id == 0 || (r->error && *r->error)) {
			if (r)
				note_error("LeaseGrant: ID %" PRId64 ", error \"%s\"", r->id, r->error ? r->error : "");
			if (r)
				etcdserverpb__lease_grant_response__free_unpacked(r, NULL);
			lease_failed(ch, l);
			return;
		}
		l->id = r->id;
		if (r->ttl < l_ttl_min)
			l_ttl_min = r->ttl;
		if (r->ttl > l_ttl_max)
			l_ttl_max = r->ttl;
		etcdserverpb__lease_grant_response__free_unpacked(r, NULL);
		map_put(&lease_ids, (uint64_t)l->id, ch->lease);
		l_granted++;
		lease_put(ch, l);
		return;
	}
	case L_PUT: {
		l_attached++;
		Etcdserverpb__LeaseKeepAliveRequest r = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
		r.id = l->id;
		l->state = L_KA;
		call_queue(&ka[ch->c.conn - conns], &r.base);
		return;
	}
	case L_REVOKE:
		l_revoked++;
		l->state = L_DONE;
		l_done++;
		chain_next(ch);
		return;
	default: note_error("a lease call ended in state %d", l->state); failed = true;
	}
}

static void ka_msg(struct call *c, const uint8_t *msg, size_t len)
{
	Etcdserverpb__LeaseKeepAliveResponse *r =
		etcdserverpb__lease_keep_alive_response__unpack(NULL, len, msg);
	uint32_t li;
	if (!r || !map_get(&lease_ids, (uint64_t)r->id, &li) || ls[li].state != L_KA) {
		note_error("a LeaseKeepAliveResponse for no lease waiting for one");
		failed = true;
		if (r)
			etcdserverpb__lease_keep_alive_response__free_unpacked(r, NULL);
		return;
	}
	struct lease *l = &ls[li];
	struct chain *ch = &chains[l->chain];
	if (r->ttl <= 0) { /* etcd's answer for a lease it does not know */
		l_ka_lost++;
		note_error("keep-alive of lease %" PRId64 ": TTL %" PRId64 " (expired before its keep-alive)", r->id, r->ttl);
		etcdserverpb__lease_keep_alive_response__free_unpacked(r, NULL);
		lease_failed(ch, l);
		return;
	}
	etcdserverpb__lease_keep_alive_response__free_unpacked(r, NULL);
	l_kept++;
	if (opt.revoke) {
		Etcdserverpb__LeaseRevokeRequest q = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
		q.id = l->id;
		l->state = L_REVOKE;
		ch->c.path = "/etcdserverpb.Lease/LeaseRevoke";
		unary(&ch->c, &q.base);
		return;
	}
	l->state = L_DONE;
	l_done++;
	chain_next(ch);
}

static void ka_end(struct call *c, bool ok)
{
	if (!stopping && !l_gone) {
		if (ok)
			note_error("the server ended a LeaseKeepAlive stream");
		failed = true;
	}
}

static void chain_next(struct chain *ch)
{
	if (l_next >= opt.leases || failed) {
		ch->busy = false;
		return;
	}
	ch->busy = true;
	ch->lease = l_next++;
	struct lease *l = &ls[ch->lease];
	l->chain = (uint32_t)(ch - chains);
	l->state = L_GRANT;
	Etcdserverpb__LeaseGrantRequest r = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	r.ttl = opt.ttl;
	ch->c.path = "/etcdserverpb.Lease/LeaseGrant";
	unary(&ch->c, &r.base);
}

/* polls: the keys under the prefix (count_only Range), then LeaseLeases */
static void poll_end(struct call *c, bool ok)
{
	l_poll_busy = false;
	l_next_poll = now_ns() + 100000000u;
	if (!ok) {
		failed = true;
		return;
	}
	if (!l_keys_gone) {
		Etcdserverpb__RangeResponse *r = unpack(&etcdserverpb__range_response__descriptor, c);
		if (!r) {
			failed = true;
			return;
		}
		l_keys_left = (uint64_t)r->count;
		etcdserverpb__range_response__free_unpacked(r, NULL);
		l_keys_gone = l_keys_left == 0;
		if (l_keys_gone)
			l_next_poll = 0;
		return;
	}
	Etcdserverpb__LeaseLeasesResponse *r = unpack(&etcdserverpb__lease_leases_response__descriptor, c);
	if (!r) {
		failed = true;
		return;
	}
	uint64_t left = 0;
	uint32_t li;
	for (size_t i = 0; i < r->n_leases; i++)
		left += map_get(&lease_ids, (uint64_t)r->leases[i]->id, &li);
	etcdserverpb__lease_leases_response__free_unpacked(r, NULL);
	l_leases_left = left;
	if (!left) {
		l_gone = true;
		t_gone = now_ns();
	}
}

static void poll_start(void)
{
	l_poll_busy = true;
	if (!l_keys_gone) {
		Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
		r.key = (ProtobufCBinaryData){ strlen(opt.prefix), (uint8_t *)opt.prefix };
		r.range_end = prefix_end(opt.prefix);
		r.count_only = true;
		l_poll.path = "/etcdserverpb.KV/Range";
		unary(&l_poll, &r.base);
		free(r.range_end.data);
	} else {
		Etcdserverpb__LeaseLeasesRequest r = ETCDSERVERPB__LEASE_LEASES_REQUEST__INIT;
		l_poll.path = "/etcdserverpb.Lease/LeaseLeases";
		unary(&l_poll, &r.base);
	}
}

/* ---- the loop of the watch and lease modes ---------------------------------------------------- */

/* every connection: submit what waits, hand frames to the socket */
static void pump(int nconns)
{
	for (int i = 0; i < nconns; i++) {
		struct conn *cn = &conns[i];
		if (cn->state != C_UP)
			continue;
		submit_pending(cn);
		int r = conn_flush(cn);
		if (r < 0) {
			conn_down(cn, strerror(-r));
			failed = true;
			continue;
		}
		set_events(cn);
	}
}

static void wl_loop(int nconns, uint64_t (*step)(uint64_t now, bool *done))
{
	for (;;) {
		uint64_t now = now_ns();
		bool done = false;
		uint64_t wake = step(now, &done);
		pump(nconns);
		if (done || failed)
			break;
		if (now >= deadline) {
			timed_out = true;
			note_error("the run's deadline (--timeout %.1f s) passed while %s", opt.timeout, phase);
			break;
		}
		for (int i = 0; i < nconns; i++)
			if (conns[i].state == C_DOWN) {
				failed = true; /* these modes do not reconnect: the figures would mean nothing */
				return;
			}
		if (wake > deadline)
			wake = deadline;
		int ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, ms);
		if (n < 0 && errno != EINTR) {
			perror("grpcload: epoll_wait");
			exit(1);
		}
		for (int i = 0; i < n; i++)
			conn_io(evs[i].data.ptr, evs[i].events);
	}
}

static void conns_open(int n)
{
	conns = calloc((size_t)n, sizeof *conns);
	if (!conns) {
		fprintf(stderr, "grpcload: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		conns[i].fd = -1;
		conns[i].ep = &eps[(size_t)i % neps];
	}
	for (int i = 0; i < n; i++)
		conn_start(&conns[i]);
}

static uint64_t rss_before, rss_watching, rss_end;
static uint64_t t_created, t_w0, t_drain;
static struct rusage ru_w0;

static uint64_t watch_step(uint64_t now, bool *done)
{
	if (w_created < (uint32_t)opt.watchers) {
		/* a server that never answers a create would hold the run to --timeout */
		if (now >= t_begin + 60 * UINT64_C(1000000000)) {
			note_error("%" PRIu32 " of %d watches created in 60 s", w_created, opt.watchers);
			failed = true;
		}
		return now + 100000000u;
	}
	if (!t_created) {
		t_created = now;
		rss_watching = read_rss_kib(opt.rss_pid);
		phase = "writing";
		t_w0 = now;
		getrusage(RUSAGE_SELF, &ru_w0);
	}
	while (w_sent < w_writes_max) {
		uint64_t due = t_w0 + (uint64_t)((double)w_sent * 1e9 / opt.rate);
		if (now < due)
			return due;
		if (!n_w_free)
			return now + 1000000u;
		if (now > due + 10000000u)
			w_behind++;
		writer_put(now);
	}
	if (n_w_free < WRITERS)
		return now + 100000000u;
	if (!t_drain) {
		t_drain = now;
		phase = "waiting for the last events";
	}
	if (w_complete >= w_acked || now >= t_drain + (uint64_t)(opt.drain * 1e9)) {
		*done = true;
		return now;
	}
	return now + 10000000u;
}

static int run_watch(void)
{
	int W = opt.watchers, S = opt.streams ? opt.streams : opt.conns;
	if (S > W)
		S = W;
	if (opt.conns > S)
		opt.conns = S;
	w_writes_max = (uint32_t)ceil(opt.rate * opt.duration);
	wat = calloc((size_t)W, sizeof *wat);
	wst = calloc((size_t)S, sizeof *wst);
	wr = calloc(w_writes_max + 1, sizeof *wr);
	w_put_lat = calloc(w_writes_max + 1, sizeof *w_put_lat);
	if (!wat || !wst || !wr || !w_put_lat) {
		fprintf(stderr, "grpcload: out of memory\n");
		return 1;
	}
	map_init(&watch_ids, (size_t)W);
	if (opt.value_size < 8)
		opt.value_size = 8;
	phase = "creating the watches";
	rss_before = read_rss_kib(opt.rss_pid);
	/* connections 0..C-1 carry the watch streams, C the writer */
	conns_open(opt.conns + 1);
	ProtobufCBinaryData key = { strlen(opt.prefix), (uint8_t *)opt.prefix }, end = prefix_end(opt.prefix);
	for (int s = 0; s < S; s++) {
		struct wstream *st = &wst[s];
		st->members = xmalloc(((size_t)W / (size_t)S + 1) * sizeof *st->members);
		call_init(&st->c, &conns[s % opt.conns], K_STREAM, "/etcdserverpb.Watch/Watch", (size_t)s);
		st->c.on_msg = watch_msg;
		st->c.on_end = watch_end;
	}
	for (int w = 0; w < W; w++) {
		struct wstream *st = &wst[w % S];
		Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
		Etcdserverpb__WatchRequest r = ETCDSERVERPB__WATCH_REQUEST__INIT;
		cr.key = key;
		cr.range_end = end;
		r.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
		r.create_request = &cr;
		st->members[st->n++] = (uint32_t)w;
		call_queue(&st->c, &r.base);
	}
	for (int s = 0; s < S; s++)
		call_start(&wst[s].c);
	for (int i = 0; i < WRITERS; i++) {
		call_init(&w_writer[i], &conns[opt.conns], K_UNARY, "/etcdserverpb.KV/Put", (size_t)i);
		w_writer[i].on_end = writer_end;
		w_free[n_w_free++] = &w_writer[i];
	}

	t_begin = now_ns();
	deadline = t_begin + (uint64_t)(opt.timeout * 1e9);
	wl_loop(opt.conns + 1, watch_step);
	stopping = true;
	uint64_t t1 = now_ns();
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	rss_end = read_rss_kib(opt.rss_pid);

	/* the delay of each write: its acknowledgement to its event at the last watcher */
	uint64_t *d = xmalloc((w_acked + 1) * sizeof *d), *ds = xmalloc((w_acked + 1) * sizeof *ds);
	size_t nd = 0;
	for (uint32_t i = 0; i < w_sent; i++)
		if (wr[i].ack && w_created && wr[i].delivered == w_created) {
			ds[nd] = wr[i].last - wr[i].sent; /* and from its sending, never negative */
			d[nd++] = wr[i].last > wr[i].ack ? wr[i].last - wr[i].ack : 0;
		}
	qsort(d, nd, sizeof *d, cmp_u64);
	qsort(ds, nd, sizeof *ds, cmp_u64);
	qsort(w_put_lat, w_acked, sizeof *w_put_lat, cmp_u64);
	uint64_t expected = (uint64_t)w_acked * w_created;
	uint64_t missing = 0;
	for (uint32_t i = 0; i < w_sent; i++)
		if (wr[i].ack && wr[i].delivered < w_created)
			missing += w_created - wr[i].delivered;
	/* events/s: from the first write to the last event (a server that falls
	 * behind stretches it), or to the end of the writes */
	uint64_t te = w_last_event > t_drain ? w_last_event : (t_drain ? t_drain : t1);
	double secs = t_w0 && te > t_w0 ? (double)(te - t_w0) / 1e9 : 0;
	double cpu = t_w0 ? cpu_s(&ru) - cpu_s(&ru_w0) : 0;
	double create_s = t_created ? (double)(t_created - t_begin) / 1e9 : NAN;
	double per_w = opt.rss_pid && rss_watching && w_created ? ((double)rss_watching - (double)rss_before) / w_created : NAN;
	printf("GRPCLOAD op=watch watchers=%d created=%" PRIu32 " streams=%d conns=%d rate=%.1f writes=%" PRIu32
	       " acked=%" PRIu32 " events=%" PRIu64 " expected=%" PRIu64 " missing=%" PRIu64 " misordered=%" PRIu64
	       " canceled=%" PRIu32 " secs=%.3f events_per_s=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
	       " sent_p50_ms=%.3f sent_p99_ms=%.3f put_p50_ms=%.3f put_p99_ms=%.3f create_s=%.3f rss_before_kib=%" PRIu64 " rss_watching_kib=%" PRIu64
	       " rss_end_kib=%" PRIu64 " kib_per_watcher=%.3f cpu_us_per_event=%.3f writes_late=%" PRIu32
	       " errors=%" PRIu64 " timed_out=%d\n",
	       W, w_created, S, opt.conns, opt.rate, w_sent, w_acked, w_events, expected, missing, w_misordered,
	       w_canceled, secs, secs > 0 ? (double)w_events / secs : 0, pct_of(d, nd, 0.50), pct_of(d, nd, 0.99),
	       pct_of(d, nd, 1.0), pct_of(ds, nd, 0.50), pct_of(ds, nd, 0.99), pct_of(w_put_lat, w_acked, 0.50), pct_of(w_put_lat, w_acked, 0.99), create_s,
	       rss_before, rss_watching, rss_end, per_w, w_events ? cpu * 1e6 / (double)w_events : NAN,
	       w_behind, w_put_errors + w_unknown + w_bad_events + w_canceled + (failed ? 1 : 0), timed_out);
	printf("grpcload: watch, %" PRIu32 " of %d watchers on %d streams over %d connections, %" PRIu32
	       " writes at %.0f/s: %" PRIu64 " of %" PRIu64 " events (%.0f/s), %" PRIu64
	       " out of order or twice; from a write's acknowledgement to its event at the last watcher p50 %.3f, p99 %.3f ms;"
	       " server RSS %" PRIu64 " -> %" PRIu64 " KiB (%.2f KiB per watcher)\n",
	       w_created, W, S, opt.conns, w_sent, opt.rate, w_events, expected, secs > 0 ? (double)w_events / secs : 0,
	       w_misordered, pct_of(d, nd, 0.50), pct_of(d, nd, 0.99), rss_before, rss_watching, per_w);
	if (first_error)
		fprintf(stderr, "grpcload: first error: %s\n", first_error);
	fflush(stdout);
	free(d);
	free(ds);
	free(end.data);
	return failed || timed_out || !w_acked || missing || w_misordered ? 1 : 0;
}

static uint64_t lease_step(uint64_t now, bool *done)
{
	if (l_done < opt.leases)
		return now + 100000000u;
	if (!t_ops_end) {
		t_ops_end = now;
		getrusage(RUSAGE_SELF, &ru1);
		phase = opt.revoke ? "waiting for the keys to go" : "waiting for the leases to expire";
	}
	if (l_gone) {
		*done = true;
		return now;
	}
	if (!l_poll_busy && now >= l_next_poll)
		poll_start();
	return l_poll_busy ? now + 100000000u : l_next_poll;
}

static int run_lease(void)
{
	int C = opt.clients;
	if (opt.conns > C)
		opt.conns = C;
	ls = calloc(opt.leases, sizeof *ls);
	chains = calloc((size_t)C, sizeof *chains);
	ka = calloc((size_t)opt.conns, sizeof *ka);
	if (!ls || !chains || !ka) {
		fprintf(stderr, "grpcload: out of memory\n");
		return 1;
	}
	map_init(&lease_ids, opt.leases);
	phase = "granting, attaching, keeping alive";
	conns_open(opt.conns);
	for (int i = 0; i < opt.conns; i++) {
		call_init(&ka[i], &conns[i], K_STREAM, "/etcdserverpb.Lease/LeaseKeepAlive", (size_t)i);
		ka[i].on_msg = ka_msg;
		ka[i].on_end = ka_end;
		call_start(&ka[i]);
	}
	for (int i = 0; i < C; i++) {
		call_init(&chains[i].c, &conns[i % opt.conns], K_UNARY, NULL, (size_t)i);
		chains[i].c.on_end = chain_end;
	}
	call_init(&l_poll, &conns[0], K_UNARY, NULL, 0);
	l_poll.on_end = poll_end;

	t_begin = now_ns();
	deadline = t_begin + (uint64_t)(opt.timeout * 1e9);
	getrusage(RUSAGE_SELF, &ru0);
	for (int i = 0; i < C; i++)
		chain_next(&chains[i]);
	wl_loop(opt.conns, lease_step);
	stopping = true;
	uint64_t t1 = now_ns();
	if (!t_ops_end) {
		t_ops_end = t1;
		getrusage(RUSAGE_SELF, &ru1);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double ops_s = (double)(t_ops_end - t_begin) / 1e9;
	double gone_s = l_gone ? (double)(t_gone - t_ops_end) / 1e9 : NAN;
	double total_s = l_gone ? (double)(t_gone - t_begin) / 1e9 : NAN;
	/* a lease operation: each grant, attach, keep-alive and expiry (or revoke) */
	uint64_t ops = (uint64_t)l_granted + l_attached + l_kept + (l_gone ? l_kept : l_revoked);
	double cpu = cpu_s(&ru) - cpu_s(&ru0);
	if (!l_granted)
		l_ttl_min = 0;
	printf("GRPCLOAD op=lease leases=%u clients=%d conns=%d end=%s ttl=%" PRId64 " granted=%" PRIu32
	       " attached=%" PRIu32 " kept_alive=%" PRIu32 " revoked=%" PRIu32 " keepalive_lost=%" PRIu32
	       " ops=%" PRIu64 " ops_secs=%.3f ops_per_s=%.1f gone_secs=%.3f total_secs=%.3f keys_left=%" PRIu64
	       " leases_left=%" PRIu64 " cpu_ms_per_op=%.5f errors=%" PRIu64 " timed_out=%d\n",
	       opt.leases, C, opt.conns, opt.revoke ? "revoke" : "expire", l_ttl_min, l_granted, l_attached, l_kept,
	       l_revoked, l_ka_lost, ops, ops_s, ops_s > 0 ? (double)(l_granted + l_attached + l_kept + l_revoked) / ops_s : 0, gone_s,
	       total_s, l_keys_left, l_leases_left, ops ? cpu * 1e3 / (double)ops : NAN, l_errors + (failed ? 1 : 0),
	       timed_out);
	printf("grpcload: lease, %u leases (TTL %" PRId64 "-%" PRId64 " s as granted), %d in flight on %d connections:"
	       " %" PRIu32 " granted, %" PRIu32 " attached, %" PRIu32 " kept alive in %.2f s; all gone %.2f s later (%s);"
	       " its own CPU %.4f ms per lease operation\n",
	       opt.leases, l_ttl_min, l_ttl_max, C, opt.conns, l_granted, l_attached, l_kept, ops_s, gone_s,
	       opt.revoke ? "revoked" : "expired", ops ? cpu * 1e3 / (double)ops : NAN);
	if (first_error)
		fprintf(stderr, "grpcload: first error: %s\n", first_error);
	fflush(stdout);
	return failed || timed_out || !l_gone || l_errors ? 1 : 0;
}

/* ---- options and the run ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: grpcload [--endpoints H:P[,H:P...]] [--conns N] [--clients N]\n"
		   "                [--duration SECS | --total N] [--warmup SECS] [--timeout SECS]\n"
		   "                [--op put|range|range-serializable] [--key-space N]\n"
		   "                [--value-size N] [--prefix P] [ENDPOINTS]\n"
		   "       grpcload --op watch [--watchers W] [--streams S] [--conns C] [--rate R]\n"
		   "                [--duration SECS] [--drain SECS] [--rss-pid PID] [--prefix P] [ENDPOINTS]\n"
		   "       grpcload --op lease [--leases N] [--clients C] [--conns K] [--ttl T]\n"
		   "                [--end expire|revoke] [--prefix P] [ENDPOINTS]\n");
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
		{ "watchers", required_argument, NULL, 'W' },  { "streams", required_argument, NULL, 'S' },
		{ "rate", required_argument, NULL, 'r' },      { "drain", required_argument, NULL, 'D' },
		{ "rss-pid", required_argument, NULL, 'P' },   { "leases", required_argument, NULL, 'L' },
		{ "ttl", required_argument, NULL, 'l' },       { "end", required_argument, NULL, 'E' },
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
		case 'W': opt.watchers = (int)num_arg("watchers", optarg, 1); break;
		case 'S': opt.streams = (int)num_arg("streams", optarg, 1); break;
		case 'r': opt.rate = num_arg("rate", optarg, 0.001); break;
		case 'D': opt.drain = num_arg("drain", optarg, 0); break;
		case 'P': opt.rss_pid = (long)num_arg("rss-pid", optarg, 1); break;
		case 'L': opt.leases = (unsigned)num_arg("leases", optarg, 1); break;
		case 'l': opt.ttl = (int64_t)num_arg("ttl", optarg, 0); break;
		case 'E':
			if (!strcmp(optarg, "expire") || !strcmp(optarg, "revoke"))
				opt.revoke = !strcmp(optarg, "revoke");
			else {
				fprintf(stderr, "grpcload: --end is expire or revoke\n");
				exit(2);
			}
			break;
		case 'o':
			opt.op_name = optarg;
			if (!strcmp(optarg, "put"))
				opt.op = OP_PUT;
			else if (!strcmp(optarg, "range"))
				opt.op = OP_RANGE;
			else if (!strcmp(optarg, "range-serializable"))
				opt.op = OP_RANGE_SERIALIZABLE;
			else if (!strcmp(optarg, "watch"))
				opt.op = OP_WATCH;
			else if (!strcmp(optarg, "lease"))
				opt.op = OP_LEASE;
			else {
				fprintf(stderr, "grpcload: --op is put, range, range-serializable, watch or lease\n");
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
	if (opt.conns > opt.clients && opt.op != OP_WATCH)
		opt.conns = opt.clients; /* a connection without a client would idle */
	if (opt.total)
		opt.warmup = 0;
	if (!opt.timeout && opt.op == OP_WATCH)
		opt.timeout = opt.duration + opt.drain + 120;
	else if (!opt.timeout && opt.op == OP_LEASE)
		opt.timeout = 900;
	else if (!opt.timeout)
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
	if (opt.op == OP_WATCH)
		return run_watch();
	if (opt.op == OP_LEASE)
		return run_lease();
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
	reg = xmalloc((size_t)opt.clients * sizeof *reg);
	for (int i = 0; i < opt.clients; i++) {
		reg[n_reg++] = &calls[i];
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
