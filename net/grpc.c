/* net/grpc.c — gRPC over HTTP/2 on the event loop; see the header. */
#include "net/grpc.h"

#include "base/alloc.h"
#include "net/grpc_tls.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GRPC_PREFIX 5
/* one recv() takes what a loop pass has for a connection, many requests */
#define READ_CHUNK 65536

enum { HDR_AUTHORIZATION, HDR_ENCODING, HDR_USER_AGENT, HDR_KEPT };
static const char *const kept_headers[HDR_KEPT] = { "authorization", "grpc-encoding", "user-agent" };

struct grpc_call {
	struct grpc_conn *conn;
	int32_t stream_id;
	const struct grpc_method *method;
	void *user;
	char *headers[HDR_KEPT];
	size_t header_bytes;
	bool bad_method;      /* :method other than POST */
	bool bad_type;        /* content-type not application/grpc */
	bool half_closed;     /* END_STREAM from the client */
	bool handler_has;     /* handed to the handler, not finished */
	bool finished;        /* grpc_finish() or an error status queued */
	bool response_started;/* HEADERS submitted */
	bool trailers_sent;
	bool deferred;        /* the data source waits for output */
	bool want_writable;
	bool in_handler;      /* the handler runs on call->in: keep it */
	unsigned messages;    /* request messages received */
	/* the request message being received */
	uint8_t *in;
	size_t in_len, in_cap;
	bool dropping;        /* ignore further request data */
	/* queued output: framed messages */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	enum grpc_status status;
	char *status_msg;
	uint64_t deadline_ns;
	struct loop_timer timer;
	struct grpc_call *prev, *next;
};

struct grpc_conn {
	struct grpc_server *server;
	int fd;
	void *io_ctx;
	nghttp2_session *session;
	struct loop_poll rpoll, wpoll;
	bool write_blocked;  /* the socket took less than offered */
	bool wpoll_on;
	bool closing;
	bool dirty;          /* output may be waiting: flush in the hook */
	bool listed;         /* on the server's dirty list */
	bool broken;         /* nghttp2 refused a submission (out of memory) */
	bool greeted;        /* the client's preface and SETTINGS are in */
	bool handshaking;    /* the transport's handshake runs: no HTTP/2 yet */
	struct loop_timer preface_timer;
	size_t out_queued;   /* bytes queued in its calls */
	size_t in_buffered;  /* request bytes held in its calls */
	struct grpc_call *calls;
	struct grpc_conn *prev, *next;
	struct grpc_conn *dirty_next;
};

/* What the plain transport gathers before one system call writes it. */
#define GATHER_SIZE 65536

/* The server's side of the plain transport: send()s gather here until
 * flush(), so that all a loop pass has for a connection (a unary answer's
 * HEADERS, DATA and trailers; the answers of its other streams) goes out
 * in one system call. One buffer serves every connection: a connection's
 * burst of send()s ends with its flush() (or its close) before another's
 * starts, and what a full socket does not take moves to the connection. */
struct plain_io {
	uint64_t *writes; /* the stats' socket_writes */
	struct plain_conn *owner; /* whose bytes buf holds; NULL when empty */
	size_t len;
	uint8_t buf[GATHER_SIZE];
};

struct grpc_server {
	struct loop *loop;
	struct grpc_config cfg;
	int listen_fd;
	struct loop_poll listen_poll;
	struct loop_hook hook;
	struct grpc_conn *conns;
	struct grpc_conn *zombies; /* closed, waiting for their polls to end */
	/* the connections marked dirty since the hook last ran: the hook's
	 * work follows the connections with output, not all of them */
	struct grpc_conn *dirty;
	struct grpc_stats stats;
	bool stopping;
	struct grpc_io tls_io; /* cfg.io points here with TLS */
	struct grpc_io plain_io; /* or here, cleartext without a transport of the caller's */
	struct plain_io plain;
};

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static void conn_close(struct grpc_conn *c);
static void conn_flush(struct grpc_conn *c);
static void call_end_with(struct grpc_call *call, enum grpc_status status, const char *message);

/* --- the default transport: plain sockets --------------------------------- */

struct plain_conn {
	struct plain_io *io;
	int fd;
	/* what the socket did not take, held only while bytes wait; nothing
	 * more is gathered for the connection until it is out */
	uint8_t *held;
	size_t held_off, held_len;
};

static int plain_open(void *io_data, int fd, void **ret_ctx)
{
	struct plain_conn *p = base_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->io = io_data;
	p->fd = fd;
	*ret_ctx = p;
	return 0;
}

static ssize_t plain_recv(void *ctx, void *buf, size_t len)
{
	struct plain_conn *p = ctx;
	ssize_t n = recv(p->fd, buf, len, 0);
	return n < 0 ? -errno : n;
}

static ssize_t plain_write(struct plain_conn *p, const uint8_t *buf, size_t len)
{
	for (;;) {
		(*p->io->writes)++;
		ssize_t n = send(p->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* 0 once nothing is held, -EAGAIN while the socket is full. */
static int plain_write_held(struct plain_conn *p)
{
	while (p->held_off < p->held_len) {
		ssize_t n = plain_write(p, p->held + p->held_off, p->held_len - p->held_off);
		if (n < 0)
			return (int)n;
		p->held_off += (size_t)n;
	}
	free(p->held);
	p->held = NULL;
	p->held_off = p->held_len = 0;
	return 0;
}

/* Writes what is gathered, after what is held; what the socket does not
 * take is held (-EAGAIN). */
static int plain_flush(void *ctx)
{
	struct plain_conn *p = ctx;
	struct plain_io *g = p->io;
	int rv = plain_write_held(p);
	if (rv < 0 || g->owner != p)
		return rv;
	size_t len = g->len, off = 0;
	g->owner = NULL;
	g->len = 0;
	while (off < len) {
		ssize_t n = plain_write(p, g->buf + off, len - off);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		off += (size_t)n;
	}
	if (off == len)
		return 0;
	p->held = base_malloc(len - off);
	if (!p->held)
		return -ENOMEM;
	memcpy(p->held, g->buf + off, len - off);
	p->held_len = len - off;
	return -EAGAIN;
}

static ssize_t plain_send(void *ctx, const void *buf, size_t len)
{
	struct plain_conn *p = ctx;
	struct plain_io *g = p->io;
	assert(!g->len || g->owner == p);
	/* nothing is added behind what a full socket holds back */
	int rv = plain_write_held(p);
	if (rv < 0)
		return rv;
	if (g->len + len > sizeof(g->buf)) {
		rv = plain_flush(p);
		if (rv < 0)
			return rv; /* -EAGAIN: nghttp2 offers these bytes again */
	}
	/* larger than the buffer: written from nghttp2's, which keeps what
	 * the socket does not take */
	if (len > sizeof(g->buf))
		return plain_write(p, buf, len);
	memcpy(g->buf + g->len, buf, len);
	g->len += len;
	g->owner = p;
	return (ssize_t)len;
}

static void plain_close(void *ctx)
{
	struct plain_conn *p = ctx;
	/* a connection closed in its burst: its bytes go with it */
	if (p->io->owner == p) {
		p->io->owner = NULL;
		p->io->len = 0;
	}
	free(p->held);
	free(p);
}

static const struct tls_identity plain_identity = { .verdict = TLS_PLAIN };

/* --- small pure helpers ----------------------------------------------------- */

size_t grpc_percent_encode(const char *in, char *out, size_t out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	if (!out_len)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		/* gRPC's rule: printable ASCII but '%' as is, the rest %XX */
		if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
			if (o + 1 >= out_len)
				break;
			out[o++] = (char)*p;
		} else {
			if (o + 3 >= out_len)
				break;
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return o;
}

int grpc_parse_timeout(const char *v, size_t len, uint64_t *ret_ns)
{
	/* TimeoutValue: 1 to 8 digits; TimeoutUnit: H M S m u n */
	if (len < 2 || len > 9)
		return -EINVAL;
	uint64_t n = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	uint64_t unit;
	switch (v[len - 1]) {
	case 'H': unit = 3600000000000ull; break;
	case 'M': unit = 60000000000ull; break;
	case 'S': unit = 1000000000ull; break;
	case 'm': unit = 1000000ull; break;
	case 'u': unit = 1000ull; break;
	case 'n': unit = 1; break;
	default: return -EINVAL;
	}
	/* 99999999 hours overflows: such a deadline is none at all */
	*ret_ns = n > UINT64_MAX / unit ? UINT64_MAX : n * unit;
	return 0;
}

/* --- calls -------------------------------------------------------------------- */

const struct grpc_method *grpc_call_method(const struct grpc_call *call)
{
	return call->method;
}

void grpc_call_set_user(struct grpc_call *call, void *user)
{
	call->user = user;
}

void *grpc_call_user(const struct grpc_call *call)
{
	return call->user;
}

uint64_t grpc_call_deadline_ns(const struct grpc_call *call)
{
	return call->deadline_ns;
}

const struct tls_identity *grpc_call_identity(const struct grpc_call *call)
{
	struct grpc_conn *c = call->conn;
	if (c->server->cfg.io != &c->server->tls_io)
		return &plain_identity;
	return grpc_tls_identity(c->io_ctx);
}

const char *grpc_call_header(const struct grpc_call *call, const char *name)
{
	for (int i = 0; i < HDR_KEPT; i++)
		if (!strcmp(name, kept_headers[i]))
			return call->headers[i];
	return NULL;
}

static void mark_dirty(struct grpc_conn *c)
{
	c->dirty = true;
	if (!c->listed && !c->closing) {
		c->listed = true;
		c->dirty_next = c->server->dirty;
		c->server->dirty = c;
	}
}

static void on_deadline(struct loop_timer *timer)
{
	struct grpc_call *call = CONTAINER(timer, struct grpc_call, timer);
	if (call->finished)
		return;
	if (call->handler_has) {
		call->handler_has = false;
		if (call->method->on_cancel)
			call->method->on_cancel(call);
	}
	call_end_with(call, GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
	conn_flush(call->conn);
}

static struct grpc_call *call_new(struct grpc_conn *c, int32_t stream_id)
{
	struct grpc_call *call = base_calloc(1, sizeof(*call));
	if (!call)
		return NULL;
	call->conn = c;
	call->stream_id = stream_id;
	call->deadline_ns = UINT64_MAX;
	loop_timer_init(&call->timer, on_deadline);
	call->next = c->calls;
	if (call->next)
		call->next->prev = call;
	c->calls = call;
	c->server->stats.calls_started++;
	return call;
}

static void call_drop_input(struct grpc_call *call)
{
	call->conn->in_buffered -= call->in_len;
	free(call->in);
	call->in = NULL;
	call->in_len = call->in_cap = 0;
}

/* Frees the call; the handler has been told (or never had it). */
static void call_free(struct grpc_call *call)
{
	struct grpc_conn *c = call->conn;
	loop_timer_cancel(c->server->loop, &call->timer);
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call_drop_input(call);
	c->out_queued -= call->out_len - call->out_off;
	free(call->out);
	for (int i = 0; i < HDR_KEPT; i++)
		free(call->headers[i]);
	free(call->status_msg);
	free(call);
}

/* The stream is gone (reset, closed, connection down): tell the handler. */
static void call_gone(struct grpc_call *call)
{
	if (call->handler_has) {
		call->handler_has = false;
		call->conn->server->stats.calls_cancelled++;
		if (call->method->on_cancel)
			call->method->on_cancel(call);
	}
	call_free(call);
}

static ssize_t data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *source, void *user_data);

/* The grpc-status value (a code of two digits at most), without printf's
 * cost on every call. Returns its length. */
static size_t status_text(enum grpc_status status, char out[3])
{
	unsigned v = (unsigned)status % 100;
	size_t n = 0;
	if (v >= 10)
		out[n++] = (char)('0' + v / 10);
	out[n++] = (char)('0' + v % 10);
	out[n] = 0;
	return n;
}

static int submit_trailers(struct grpc_call *call)
{
	char status[12], msg[1024];
	nghttp2_nv nva[2] = {
		{ (uint8_t *)"grpc-status", (uint8_t *)status, 11, status_text(call->status, status), NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"grpc-message", (uint8_t *)msg, 12, 0, NGHTTP2_NV_FLAG_NONE },
	};
	size_t n = 1;
	if (call->status_msg && *call->status_msg) {
		nva[1].valuelen = grpc_percent_encode(call->status_msg, msg, sizeof(msg));
		n = 2;
	}
	call->trailers_sent = true;
	return nghttp2_submit_trailer(call->conn->session, call->stream_id, nva, n);
}

/* The response HEADERS: with a data source, or the whole answer
 * ("Trailers-Only") when the call ends before any message. */
static int submit_response(struct grpc_call *call, bool trailers_only)
{
	char status[12], msg[1024];
	nghttp2_nv nva[4] = {
		{ (uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE },
	};
	size_t n = 2;
	call->response_started = true;
	if (!trailers_only) {
		nghttp2_data_provider dp = { .source.ptr = call, .read_callback = data_read };
		return nghttp2_submit_response(call->conn->session, call->stream_id, nva, n, &dp);
	}
	nva[n++] = (nghttp2_nv){ (uint8_t *)"grpc-status", (uint8_t *)status, 11, status_text(call->status, status),
				 NGHTTP2_NV_FLAG_NONE };
	if (call->status_msg && *call->status_msg) {
		size_t len = grpc_percent_encode(call->status_msg, msg, sizeof(msg));
		nva[n++] = (nghttp2_nv){ (uint8_t *)"grpc-message", (uint8_t *)msg, 12, len, NGHTTP2_NV_FLAG_NONE };
	}
	call->trailers_sent = true;
	return nghttp2_submit_response(call->conn->session, call->stream_id, nva, n, NULL);
}

static ssize_t data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
	struct grpc_call *call = source->ptr;
	struct grpc_conn *c = call->conn;
	(void)session;
	(void)stream_id;
	(void)user_data;
	size_t avail = call->out_len - call->out_off;
	if (!avail && !call->finished) {
		call->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	size_t n = avail < length ? avail : length;
	memcpy(buf, call->out + call->out_off, n);
	call->out_off += n;
	c->out_queued -= n;
	if (call->out_off == call->out_len)
		call->out_off = call->out_len = 0;
	if (call->finished && call->out_off == call->out_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (submit_trailers(call) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

static void resume(struct grpc_call *call)
{
	if (call->deferred) {
		call->deferred = false;
		if (nghttp2_session_resume_data(call->conn->session, call->stream_id) != 0)
			call->conn->broken = true;
	}
	mark_dirty(call->conn);
}

int grpc_send(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct grpc_conn *c = call->conn;
	struct grpc_server *s = c->server;
	if (call->finished)
		return -EPIPE;
	if (len > s->cfg.max_send_msg)
		return -EMSGSIZE;
	size_t queued = call->out_len - call->out_off;
	if (queued && (queued + len > s->cfg.call_out_budget || c->out_queued + len > s->cfg.conn_out_budget)) {
		call->want_writable = true;
		return -ENOBUFS;
	}
	if (!queued && c->out_queued + len > s->cfg.conn_out_budget && c->out_queued) {
		call->want_writable = true;
		return -ENOBUFS;
	}
	size_t need = call->out_len + GRPC_PREFIX + len;
	if (need > call->out_cap) {
		if (call->out_off) {
			memmove(call->out, call->out + call->out_off, queued);
			call->out_len = queued;
			call->out_off = 0;
			need = queued + GRPC_PREFIX + len;
		}
		if (need > call->out_cap) {
			size_t cap = call->out_cap ? call->out_cap : 256;
			while (cap < need)
				cap *= 2;
			uint8_t *p = base_realloc(call->out, cap);
			if (!p)
				return -ENOMEM;
			call->out = p;
			call->out_cap = cap;
		}
	}
	uint8_t *p = call->out + call->out_len;
	p[0] = 0;
	p[1] = (uint8_t)(len >> 24);
	p[2] = (uint8_t)(len >> 16);
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)len;
	if (len)
		memcpy(p + GRPC_PREFIX, msg, len);
	call->out_len += GRPC_PREFIX + len;
	c->out_queued += GRPC_PREFIX + len;
	if (!call->response_started) {
		if (submit_response(call, false) != 0) {
			/* the stream cannot be answered: the connection goes */
			c->broken = true;
			return -EPIPE;
		}
	} else {
		resume(call);
	}
	mark_dirty(c);
	return 0;
}

/* Queues the status: in trailers after what is queued, or as the whole
 * answer. The call stays until its stream closes. */
static void call_end_with(struct grpc_call *call, enum grpc_status status, const char *message)
{
	if (call->finished)
		return;
	call->finished = true;
	call->handler_has = false;
	call->status = status;
	call->conn->server->stats.calls_finished++;
	free(call->status_msg);
	call->status_msg = message ? base_strdup(message) : NULL;
	loop_timer_cancel(call->conn->server->loop, &call->timer);
	/* what the client still sends is read and dropped */
	call->dropping = true;
	if (!call->in_handler)
		call_drop_input(call);
	if (!call->response_started) {
		if (submit_response(call, true) != 0)
			call->conn->broken = true;
	} else {
		resume(call);
	}
	mark_dirty(call->conn);
}

void grpc_finish(struct grpc_call *call, enum grpc_status status, const char *message)
{
	call_end_with(call, status, message);
}

void grpc_reply(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	int rv = grpc_send(call, msg, len);
	if (rv == 0)
		call_end_with(call, GRPC_OK, NULL);
	else if (rv == -EMSGSIZE)
		call_end_with(call, GRPC_RESOURCE_EXHAUSTED, "response larger than the server's message limit");
	else
		call_end_with(call, GRPC_RESOURCE_EXHAUSTED, "server output budget exhausted");
}

/* --- nghttp2 callbacks ------------------------------------------------------ */

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user_data)
{
	struct grpc_conn *c = user_data;
	const struct grpc_io *io = c->server->cfg.io;
	(void)session;
	(void)flags;
	ssize_t n = io->send(c->io_ctx, data, length);
	if (n == -EAGAIN || n == -EWOULDBLOCK || n == 0) {
		c->write_blocked = true;
		return NGHTTP2_ERR_WOULDBLOCK;
	}
	if (n < 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return n;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *c = user_data;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct grpc_call *call = call_new(c, frame->hd.stream_id);
	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
	return 0;
}

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(name, want, len);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct grpc_conn *c = user_data;
	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!call)
		return 0;
	call->header_bytes += namelen + valuelen + 32;
	if (call->header_bytes > c->server->cfg.max_header_bytes)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* the client's trailers: nothing in them matters here */
	if (name_is(name, namelen, ":path")) {
		call->method = NULL;
		for (size_t i = 0; i < c->server->cfg.n_methods; i++) {
			const struct grpc_method *m = &c->server->cfg.methods[i];
			if (name_is(value, valuelen, m->path)) {
				call->method = m;
				break;
			}
		}
	} else if (name_is(name, namelen, ":method")) {
		call->bad_method = !name_is(value, valuelen, "POST");
	} else if (name_is(name, namelen, "content-type")) {
		/* application/grpc, or application/grpc+proto and the like */
		call->bad_type = !(valuelen >= 16 && !memcmp(value, "application/grpc", 16) &&
				   (valuelen == 16 || value[16] == '+' || value[16] == ';'));
	} else if (name_is(name, namelen, "grpc-timeout")) {
		uint64_t ns;
		if (grpc_parse_timeout((const char *)value, valuelen, &ns) == 0) {
			uint64_t now = loop_now_ns(c->server->loop);
			call->deadline_ns = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
		}
	} else {
		for (int i = 0; i < HDR_KEPT; i++) {
			if (name_is(name, namelen, kept_headers[i]) && !call->headers[i]) {
				char *v = base_malloc(valuelen + 1);
				if (!v)
					return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
				memcpy(v, value, valuelen);
				v[valuelen] = '\0';
				call->headers[i] = v;
			}
		}
	}
	return 0;
}

/* The request's headers are in: refuse what cannot be served at once. */
static void call_headers_done(struct grpc_call *call)
{
	if (call->bad_method || call->bad_type) {
		/* gRPC's HTTP mapping would answer 405/415; a gRPC status
		 * in a 200 is what every client can read */
		call_end_with(call, GRPC_INTERNAL, call->bad_method ? "gRPC requires POST" : "invalid gRPC content-type");
		return;
	}
	if (!call->method) {
		call_end_with(call, GRPC_UNIMPLEMENTED, "unknown service or method");
		return;
	}
	if (call->deadline_ns != UINT64_MAX) {
		if (call->deadline_ns <= loop_now_ns(call->conn->server->loop)) {
			call_end_with(call, GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
			return;
		}
		loop_timer_arm_at(call->conn->server->loop, &call->timer, call->deadline_ns);
	}
}

/* Complete messages in call->in go to the handler (streaming), or wait
 * for the end of the request (unary). */
static void call_take_messages(struct grpc_call *call)
{
	struct grpc_conn *c = call->conn;
	size_t off = 0;
	while (!call->finished && call->in_len - off >= GRPC_PREFIX) {
		const uint8_t *p = call->in + off;
		uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		if (p[0] != 0) {
			call_end_with(call, p[0] == 1 ? GRPC_UNIMPLEMENTED : GRPC_INTERNAL,
				      p[0] == 1 ? "compressed messages are not supported" : "invalid message flag");
			return;
		}
		if (len > c->server->cfg.max_recv_msg) {
			char msg[96];
			snprintf(msg, sizeof(msg), "trying to send message larger than max (%u vs. %zu)", len,
				 c->server->cfg.max_recv_msg);
			call_end_with(call, GRPC_RESOURCE_EXHAUSTED, msg);
			return;
		}
		if (call->in_len - off - GRPC_PREFIX < len)
			break;
		if (call->method->kind == GRPC_UNARY) {
			/* one message, kept until END_STREAM */
			if (call->in_len > GRPC_PREFIX + (size_t)len)
				call_end_with(call, GRPC_UNIMPLEMENTED, "unary call with more than one request message");
			else
				call->messages = 1;
			return;
		}
		call->messages++;
		call->handler_has = true;
		call->in_handler = true;
		call->method->handle(call, p + GRPC_PREFIX, len);
		call->in_handler = false;
		off += GRPC_PREFIX + len;
	}
	if (call->finished) {
		call_drop_input(call);
	} else if (off) {
		memmove(call->in, call->in + off, call->in_len - off);
		call->in_len -= off;
		c->in_buffered -= off;
	}
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
			 size_t len, void *user_data)
{
	struct grpc_conn *c = user_data;
	(void)flags;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (!call || !len || call->dropping || call->finished || !call->method)
		return 0;
	if (c->in_buffered + len > c->server->cfg.conn_in_budget) {
		call_end_with(call, GRPC_RESOURCE_EXHAUSTED, "connection's request buffer is full");
		return 0;
	}
	/* grow to what the frame prefix announces, no more than the limit */
	size_t need = call->in_len + len;
	if (need > call->in_cap) {
		size_t cap = call->in_cap ? call->in_cap : 512;
		while (cap < need)
			cap *= 2;
		size_t max = c->server->cfg.max_recv_msg + GRPC_PREFIX * 2 + READ_CHUNK;
		if (cap > max)
			cap = need > max ? need : max;
		uint8_t *p = base_realloc(call->in, cap);
		if (!p) {
			call_end_with(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return 0;
		}
		call->in = p;
		call->in_cap = cap;
	}
	memcpy(call->in + call->in_len, data, len);
	call->in_len += len;
	c->in_buffered += len;
	call_take_messages(call);
	return 0;
}

/* The client half-closed: a unary call has its request. */
static void call_half_close(struct grpc_call *call)
{
	call->half_closed = true;
	if (call->finished || !call->method)
		return;
	if (call->method->kind == GRPC_STREAMING) {
		if (call->in_len) {
			call_end_with(call, GRPC_INTERNAL, "request ended inside a message");
			return;
		}
		if (call->method->on_half_close) {
			call->handler_has = true;
			call->method->on_half_close(call);
		}
		return;
	}
	if (call->messages != 1 || call->in_len < GRPC_PREFIX) {
		call_end_with(call, GRPC_INTERNAL, call->in_len ? "request ended inside a message"
							       : "unary call without a request message");
		return;
	}
	const uint8_t *p = call->in;
	size_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (call->in_len != GRPC_PREFIX + len) {
		call_end_with(call, GRPC_INTERNAL, "request ended inside a message");
		return;
	}
	call->handler_has = true;
	call->in_handler = true;
	call->method->handle(call, p + GRPC_PREFIX, len);
	call->in_handler = false;
	/* an answer may come later: the request is not kept for it */
	call_drop_input(call);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *c = user_data;
	if (!c->greeted && frame->hd.type == NGHTTP2_SETTINGS) {
		c->greeted = true;
		loop_timer_cancel(c->server->loop, &c->preface_timer);
	}
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!call)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		call_headers_done(call);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		call_half_close(call);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
	(void)error_code;
	(void)user_data;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call) {
		nghttp2_session_set_stream_user_data(session, stream_id, NULL);
		call_gone(call);
	}
	return 0;
}

/* --- connections ------------------------------------------------------------- */

static void conn_read(struct grpc_conn *c, int events);
static void on_conn_writable(struct loop_poll *poll, int res);

static void set_wpoll(struct grpc_conn *c, bool on)
{
	if (on && !c->wpoll_on) {
		c->wpoll_on = true;
		loop_poll_start(c->server->loop, &c->wpoll, c->fd, POLLOUT, on_conn_writable);
	} else if (!on && c->wpoll_on) {
		c->wpoll_on = false;
		loop_poll_cancel(c->server->loop, &c->wpoll);
	}
}

/* One step of the transport's handshake; true once it is done. A refused
 * or failed one closes the connection. */
static bool conn_handshake(struct grpc_conn *c)
{
	const struct grpc_io *io = c->server->cfg.io;
	int rv = io->handshake(c->io_ctx);
	if (rv == -EAGAIN) {
		/* polled for what it waits for, never both: a handshake
		 * waiting for the client's bytes must not wake on a socket
		 * that is always writable */
		set_wpoll(c, io->blocked_on && (io->blocked_on(c->io_ctx) & POLLOUT));
		return false;
	}
	if (rv < 0) {
		c->server->stats.protocol_errors++;
		if (rv == -EACCES)
			c->server->stats.tls_refused++;
		conn_close(c);
		return false;
	}
	c->handshaking = false;
	set_wpoll(c, false);
	return true;
}

static void on_conn_readable(struct loop_poll *poll, int res)
{
	struct grpc_conn *c = CONTAINER(poll, struct grpc_conn, rpoll);
	conn_read(c, res);
}

static void on_conn_writable(struct loop_poll *poll, int res)
{
	struct grpc_conn *c = CONTAINER(poll, struct grpc_conn, wpoll);
	(void)res;
	c->write_blocked = false;
	conn_flush(c);
	/* reading stopped while the socket was full */
	if (!c->closing && !c->write_blocked)
		conn_read(c, 0);
}

/* events: what woke the reading (a poll result), 0 if not the socket's
 * readability. */
static void conn_read(struct grpc_conn *c, int events)
{
	uint8_t buf[READ_CHUNK];
	const struct grpc_io *io = c->server->cfg.io;
	/* a plain socket that gave less than asked is empty, and what comes
	 * next wakes the poll again: a recv() that says EAGAIN is saved. Not
	 * when the end was announced with the bytes (it wakes nothing more),
	 * nor when reading resumes after a full socket (the bytes that came
	 * meanwhile woke a reading that did not read) */
	bool short_read_drains = io == &c->server->plain_io && events > 0 &&
				 !(events & (POLLRDHUP | POLLHUP | POLLERR));
	if (c->handshaking && !conn_handshake(c))
		return;
	/* until recv() says -EAGAIN: a TLS session may hold decrypted
	 * records the socket's readiness no longer announces */
	while (!c->closing && !c->write_blocked) {
		ssize_t n = io->recv(c->io_ctx, buf, sizeof(buf));
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			/* TLS may have to write before it reads on: then
			 * the socket's room wakes the reading */
			if (io->blocked_on && (io->blocked_on(c->io_ctx) & POLLOUT))
				c->write_blocked = true;
			break;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		ssize_t rv = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
		if (rv < 0) {
			/* a bad preface, a flood: nothing to answer on */
			c->server->stats.protocol_errors++;
			conn_close(c);
			return;
		}
		/* answers as soon as they are ready; also lets a full socket
		 * stop the reading */
		conn_flush(c);
		if (short_read_drains && (size_t)n < sizeof(buf))
			break;
	}
	conn_flush(c);
}

static void conn_flush(struct grpc_conn *c)
{
	if (c->closing)
		return;
	if (c->broken) {
		conn_close(c);
		return;
	}
	if (c->handshaking)
		return; /* our SETTINGS waits for the transport */
	/* each send may drain a call that waits to queue more, and what it
	 * queues wants another send; a few rounds, the hook does the rest */
	for (int round = 0; round < 8; round++) {
		c->dirty = false;
		if (!c->write_blocked && nghttp2_session_send(c->session) != 0) {
			conn_close(c);
			return;
		}
		for (struct grpc_call *call = c->calls, *next; call; call = next) {
			next = call->next;
			if (call->want_writable && !call->finished &&
			    call->out_len - call->out_off <= c->server->cfg.call_out_budget / 2 &&
			    c->out_queued <= c->server->cfg.conn_out_budget / 2) {
				call->want_writable = false;
				if (call->method && call->method->on_writable)
					call->method->on_writable(call);
			}
		}
		if (c->broken) {
			conn_close(c);
			return;
		}
		if (!c->dirty || c->write_blocked)
			break;
	}
	const struct grpc_io *io = c->server->cfg.io;
	if (io->flush && !c->write_blocked) {
		int rv = io->flush(c->io_ctx);
		if (rv == -EAGAIN) {
			c->write_blocked = true;
		} else if (rv < 0) {
			conn_close(c);
			return;
		}
	}
	set_wpoll(c, c->write_blocked);
	/* after a GOAWAY both ends have nothing more to say, once the
	 * transport has written what it holds */
	if (!c->write_blocked && !nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session))
		conn_close(c);
}

static void conn_close(struct grpc_conn *c)
{
	struct grpc_server *s = c->server;
	if (c->closing)
		return;
	c->closing = true;
	loop_timer_cancel(s->loop, &c->preface_timer);
	while (c->calls) {
		nghttp2_session_set_stream_user_data(c->session, c->calls->stream_id, NULL);
		call_gone(c->calls);
	}
	nghttp2_session_del(c->session);
	c->session = NULL;
	loop_poll_cancel(s->loop, &c->rpoll);
	if (c->wpoll_on)
		loop_poll_cancel(s->loop, &c->wpoll);
	s->cfg.io->close(c->io_ctx);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->stats.conns_open--;
	/* freed once the kernel has let go of its polls */
	c->prev = NULL;
	c->next = s->zombies;
	s->zombies = c;
}

static void free_zombies(struct grpc_server *s)
{
	for (struct grpc_conn **p = &s->zombies; *p;) {
		struct grpc_conn *c = *p;
		if (!c->rpoll.inflight && !c->wpoll.inflight && !c->listed) {
			*p = c->next;
			free(c);
		} else {
			p = &c->next;
		}
	}
}

/* nghttp2 allocates through the seam too, so that the tests' failing
 * allocations reach its paths */
static void *mem_malloc(size_t size, void *mem_user_data)
{
	(void)mem_user_data;
	return base_malloc(size);
}

static void mem_free(void *ptr, void *mem_user_data)
{
	(void)mem_user_data;
	free(ptr);
}

static void *mem_calloc(size_t n, size_t size, void *mem_user_data)
{
	(void)mem_user_data;
	return base_calloc(n, size);
}

static void *mem_realloc(void *ptr, size_t size, void *mem_user_data)
{
	(void)mem_user_data;
	return base_realloc(ptr, size);
}

static nghttp2_mem seam_mem = { NULL, mem_malloc, mem_free, mem_calloc, mem_realloc };

/* A connection that has not said the preface in time holds a slot of the
 * budget for nothing: a client opening sockets and keeping silent must not
 * fill it. */
static void on_preface_timeout(struct loop_timer *timer)
{
	struct grpc_conn *c = CONTAINER(timer, struct grpc_conn, preface_timer);
	c->server->stats.protocol_errors++;
	conn_close(c);
}

static int conn_new(struct grpc_server *s, int fd)
{
	int rv;
	struct grpc_conn *c = base_calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->server = s;
	c->fd = fd;
	loop_timer_init(&c->preface_timer, on_preface_timeout);
	rv = s->cfg.io->open(s->cfg.io->io_data, fd, &c->io_ctx);
	if (rv < 0)
		goto fail;
	c->handshaking = s->cfg.io->handshake != NULL;
	nghttp2_session_callbacks *cb;
	rv = nghttp2_session_callbacks_new(&cb);
	if (rv != 0)
		goto fail_io;
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_option *opt;
	rv = nghttp2_option_new(&opt);
	if (rv != 0) {
		nghttp2_session_callbacks_del(cb);
		goto fail_io;
	}
	/* a client that never reads cannot make us queue acks without end */
	nghttp2_option_set_max_outbound_ack(opt, 256);
	/* closed streams kept for a priority tree gRPC clients do not use
	 * are work and memory per call */
	nghttp2_option_set_no_closed_streams(opt, 1);
	/* HTTP semantics are gRPC's here and checked by this file: nghttp2's
	 * own checks reset streams Go's gRPC client sends, whose :authority
	 * may be a whole URL (etcdctl endpoint status) */
	nghttp2_option_set_no_http_messaging(opt, 1);
	rv = nghttp2_session_server_new3(&c->session, cb, c, opt, &seam_mem);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rv != 0)
		goto fail_io;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->cfg.max_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)s->cfg.max_header_bytes },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	rv = nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
	if (rv != 0)
		goto fail_session;
	rv = loop_poll_start(s->loop, &c->rpoll, fd, POLLIN | POLLRDHUP, on_conn_readable);
	if (rv < 0)
		goto fail_session;
	c->next = s->conns;
	if (c->next)
		c->next->prev = c;
	s->conns = c;
	s->stats.conns_open++;
	s->stats.conns_accepted++;
	/* the handshake too: a half-open one holds a slot like silence */
	loop_timer_arm(s->loop, &c->preface_timer, s->cfg.preface_timeout_ms);
	mark_dirty(c); /* our SETTINGS goes first */
	return 0;

fail_session:
	nghttp2_session_del(c->session);
fail_io:
	s->cfg.io->close(c->io_ctx);
fail:
	close(fd);
	if (c->rpoll.inflight) {
		/* the poll armed then failed: free it with the zombies */
		c->closing = true;
		c->next = s->zombies;
		s->zombies = c;
	} else {
		free(c);
	}
	return rv < 0 ? rv : -ENOMEM;
}

int grpc_adopt(struct grpc_server *s, int fd)
{
	if (s->stats.conns_open >= s->cfg.max_connections) {
		s->stats.conns_refused++;
		close(fd);
		return -EMFILE;
	}
	/* small frames (a WINDOW_UPDATE, a short reply) must not wait for
	 * the peer's delayed ACK; fails harmlessly on a socketpair */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return conn_new(s, fd);
}

static void on_listen_ready(struct loop_poll *poll, int res)
{
	struct grpc_server *s = CONTAINER(poll, struct grpc_server, listen_poll);
	(void)res;
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* EAGAIN, or out of fds: it waits in the backlog */
		}
		/* over the budget: closed at once, so that the client sees it
		 * and tries another endpoint rather than waiting */
		grpc_adopt(s, fd);
	}
}

static void on_idle(struct loop_hook *hook)
{
	struct grpc_server *s = CONTAINER(hook, struct grpc_server, hook);
	struct grpc_conn *list = s->dirty;
	s->dirty = NULL;
	while (list) {
		struct grpc_conn *c = list;
		list = c->dirty_next;
		c->listed = false;
		if (c->dirty)
			conn_flush(c);
	}
	free_zombies(s);
}

/* --- the server ---------------------------------------------------------------- */

static int open_listener(struct grpc_server *s, char *err, size_t err_len)
{
	const char *host = s->cfg.listen_host && *s->cfg.listen_host ? s->cfg.listen_host : "127.0.0.1";
	struct sockaddr_storage addr = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
	socklen_t len;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(s->cfg.port);
		len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(s->cfg.port);
		len = sizeof(*in6);
	} else {
		snprintf(err, err_len, "gRPC listen address '%s' is not a numeric IPv4 or IPv6 address", host);
		return -EINVAL;
	}
	int one = 1, rv;
	int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		rv = -errno;
		snprintf(err, err_len, "cannot listen for gRPC on %s:%u: %s", host, s->cfg.port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rv;
	}
	s->listen_fd = fd;
	return 0;
}

int grpc_start(struct loop *loop, const struct grpc_config *cfg, struct grpc_server **ret, char *err,
	       size_t err_len)
{
	struct grpc_server *s = base_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	s->listen_fd = -1;
	s->cfg.tls = NULL;
	if (cfg->tls) {
		int rv = cfg->io ? -EINVAL : grpc_tls_init(&s->tls_io, cfg->tls);
		if (rv < 0) {
			snprintf(err, err_len, "gRPC TLS: %s", rv == -ENOMEM ? "out of memory"
				 : cfg->io ? "a transport of its own and TLS at once"
				 : !tls_creds_has_cert(cfg->tls->creds) ? "no certificate and key"
				 : "client-cert-auth without a trusted CA");
			free(s);
			return rv;
		}
		s->cfg.io = &s->tls_io;
	}
	if (!s->cfg.io) {
		s->plain.writes = &s->stats.socket_writes;
		s->plain_io = (struct grpc_io){
			.open = plain_open,
			.recv = plain_recv,
			.send = plain_send,
			.close = plain_close,
			.io_data = &s->plain,
			.flush = plain_flush,
		};
		s->cfg.io = &s->plain_io;
	}
	if (!s->cfg.max_streams)
		s->cfg.max_streams = 256;
	if (!s->cfg.max_recv_msg)
		s->cfg.max_recv_msg = 3 * 512 * 1024;
	if (!s->cfg.max_send_msg)
		s->cfg.max_send_msg = 64u << 20;
	if (!s->cfg.call_out_budget)
		s->cfg.call_out_budget = 1u << 20;
	if (!s->cfg.conn_out_budget)
		s->cfg.conn_out_budget = 16u << 20;
	if (!s->cfg.conn_in_budget)
		s->cfg.conn_in_budget = 8u << 20;
	if (!s->cfg.max_connections)
		s->cfg.max_connections = 1024;
	if (!s->cfg.max_header_bytes)
		s->cfg.max_header_bytes = 16384;
	if (!s->cfg.preface_timeout_ms)
		s->cfg.preface_timeout_ms = 10000;
	s->hook.run = on_idle;
	if (!cfg->no_listen) {
		int rv = open_listener(s, err, err_len);
		if (rv == 0) {
			rv = loop_poll_start(loop, &s->listen_poll, s->listen_fd, POLLIN, on_listen_ready);
			if (rv < 0)
				snprintf(err, err_len, "cannot poll the gRPC listening socket: %s", strerror(-rv));
		}
		if (rv < 0) {
			if (s->listen_fd >= 0)
				close(s->listen_fd);
			if (s->cfg.io == &s->tls_io)
				grpc_tls_free(&s->tls_io);
			if (!s->listen_poll.inflight)
				free(s);
			return rv;
		}
	}
	loop_add_hook(loop, &s->hook);
	*ret = s;
	return 0;
}

uint16_t grpc_port(const struct grpc_server *s)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	if (s->listen_fd < 0 || getsockname(s->listen_fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

const struct grpc_stats *grpc_stats(const struct grpc_server *s)
{
	return &s->stats;
}

int grpc_set_tls(struct grpc_server *s, const struct grpc_tls *tls)
{
	/* cleartext or TLS is the port's for good: clients are told which */
	if (s->cfg.io != &s->tls_io)
		return -EINVAL;
	return grpc_tls_set(&s->tls_io, tls);
}

void grpc_stop(struct grpc_server *s)
{
	if (!s)
		return;
	s->stopping = true;
	/* loop_drain below runs the hooks: ours must not free under it */
	for (struct loop_hook **p = &s->loop->hooks; *p; p = &(*p)->next) {
		if (*p == &s->hook) {
			*p = s->hook.next;
			break;
		}
	}
	while (s->conns)
		conn_close(s->conns);
	if (s->listen_fd >= 0) {
		loop_poll_cancel(s->loop, &s->listen_poll);
		loop_drain(s->loop, &s->listen_poll.inflight, 1000);
		close(s->listen_fd);
	}
	for (struct grpc_conn *c = s->dirty; c; c = c->dirty_next)
		c->listed = false;
	s->dirty = NULL;
	for (struct grpc_conn *c = s->zombies; c; c = c->next) {
		loop_drain(s->loop, &c->rpoll.inflight, 1000);
		loop_drain(s->loop, &c->wpoll.inflight, 1000);
	}
	free_zombies(s);
	if (s->cfg.io == &s->tls_io)
		grpc_tls_free(&s->tls_io);
	if (!s->zombies)
		free(s);
}
