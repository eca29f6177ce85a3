/* net/grpc_client.c — a synchronous gRPC client, unary and streaming calls;
 * see the header.
 *
 * nghttp2's client session does HTTP/2; this file moves its bytes with
 * poll() against one deadline per wait. Output nghttp2 hands over
 * (nghttp2_session_mem_send) is held in `out` until the socket took it all,
 * and the socket is read meanwhile, so a server that writes before it reads
 * (SETTINGS, WINDOW_UPDATE) never deadlocks the two.
 */
#include "net/grpc_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PREFIX 5                  /* gRPC message framing: flag, 32-bit length */
#define MAX_RESPONSE (64u << 20)  /* as the server's max_send_msg default */
#define READ_CHUNK 16384

/* a call in progress (stream user data; NULL once the caller left) */
struct ccall {
	/* unary: the request, sent as one framed message */
	const uint8_t *req;
	size_t req_len, req_off;
	uint8_t prefix[PREFIX];
	/* streaming: framed messages nghttp2 has not taken yet, [out_off, out_len) */
	bool stream;
	bool half_close;  /* the caller sends nothing more */
	bool deferred;    /* nghttp2 waits for resume_data */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	/* what came in; a stream's messages before body_off were taken */
	uint8_t *body;
	size_t body_off, body_len, body_cap;
	int http_status;
	int grpc_status; /* -1: none seen */
	char msg[512];
	bool closed, too_big, bad_header;
	uint32_t rst_code;
};

struct grpcc_stream {
	struct grpcc *c;
	int32_t id;
	struct ccall cc;
};

struct grpcc {
	int fd;
	nghttp2_session *s;
	struct grpcc_io io;
	bool have_io;
	bool dead;           /* EOF, a read/write error, a protocol error */
	int32_t goaway_last; /* streams above it were not processed; INT32_MAX: no GOAWAY */
	char authority[300];
	const uint8_t *out;  /* nghttp2's output not yet written */
	size_t out_len;
	int wake_fd;         /* readable: a stream's wait returns -EINTR (-1: none) */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t grpcc_percent_decode(const char *in, size_t len, char *out, size_t out_len)
{
	size_t o = 0;
	if (!out_len)
		return 0;
	for (size_t i = 0; i < len && o + 1 < out_len; i++) {
		unsigned v;
		char hex[3] = { 0 };
		if (in[i] == '%' && i + 2 < len) {
			hex[0] = in[i + 1];
			hex[1] = in[i + 2];
			char *end;
			v = (unsigned)strtoul(hex, &end, 16);
			if (end == hex + 2) {
				out[o++] = (char)v;
				i += 2;
				continue;
			}
		}
		out[o++] = in[i];
	}
	out[o] = 0;
	return o;
}

/* --- transport -------------------------------------------------------------- */

static ssize_t io_recv(struct grpcc *c, void *buf, size_t len)
{
	if (c->have_io)
		return c->io.recv(c->io.ctx, buf, len);
	ssize_t n = recv(c->fd, buf, len, 0);
	return n >= 0 ? n : errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static ssize_t io_send(struct grpcc *c, const void *buf, size_t len)
{
	if (c->have_io)
		return c->io.send(c->io.ctx, buf, len);
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	return n >= 0 ? n : errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static short io_events(struct grpcc *c, short want)
{
	return c->have_io && c->io.events ? c->io.events(c->io.ctx, want) : want;
}

/* --- nghttp2 callbacks ------------------------------------------------------ */

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	struct ccall *cc = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!cc)
		return 0;
	if (nl == 7 && !memcmp(name, ":status", 7)) {
		cc->http_status = vl == 3 ? atoi((const char *)value) : 0;
	} else if (nl == 11 && !memcmp(name, "grpc-status", 11)) {
		char v[12];
		char *end;
		if (vl == 0 || vl >= sizeof(v)) {
			cc->bad_header = true;
			return 0;
		}
		memcpy(v, value, vl);
		v[vl] = 0;
		long st = strtol(v, &end, 10);
		if (*end || st < 0 || st > 1000)
			cc->bad_header = true;
		else
			cc->grpc_status = (int)st;
	} else if (nl == 12 && !memcmp(name, "grpc-message", 12)) {
		grpcc_percent_decode((const char *)value, vl, cc->msg, sizeof(cc->msg));
	}
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
	(void)flags;
	(void)ud;
	struct ccall *cc = nghttp2_session_get_stream_user_data(s, id);
	if (!cc || cc->too_big)
		return 0;
	if (cc->body_off && cc->body_off == cc->body_len) {
		cc->body_off = cc->body_len = 0;
	} else if (cc->body_off && cc->body_len + len > cc->body_cap) {
		/* a stream's taken messages make room before the buffer grows */
		memmove(cc->body, cc->body + cc->body_off, cc->body_len - cc->body_off);
		cc->body_len -= cc->body_off;
		cc->body_off = 0;
	}
	/* a unary body is one message; a stream holds what was not taken yet */
	if (cc->body_len + len > MAX_RESPONSE + PREFIX) {
		cc->too_big = true;
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
		return 0;
	}
	if (cc->body_len + len > cc->body_cap) {
		size_t cap = cc->body_cap ? cc->body_cap : 1024;
		while (cap < cc->body_len + len)
			cap *= 2;
		uint8_t *p = realloc(cc->body, cap);
		if (!p)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		cc->body = p;
		cc->body_cap = cap;
	}
	memcpy(cc->body + cc->body_len, data, len);
	cc->body_len += len;
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	(void)ud;
	struct ccall *cc = nghttp2_session_get_stream_user_data(s, id);
	if (cc) {
		cc->closed = true;
		cc->rst_code = code;
	}
	return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct grpcc *c = ud;
	if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.last_stream_id < c->goaway_last)
		c->goaway_last = f->goaway.last_stream_id;
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		/* a stream the server ended while we may still send: over for
		 * the caller (nghttp2 closes it only once both sides ended) */
		struct ccall *cc = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
		if (cc && cc->stream)
			cc->closed = true;
	}
	return 0;
}

static ssize_t read_req(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			nghttp2_data_source *src, void *ud)
{
	(void)src;
	(void)ud;
	/* a call its caller left (timed out) is reset, not read from */
	struct ccall *cc = nghttp2_session_get_stream_user_data(s, id);
	if (!cc)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (cc->stream) {
		size_t k = cc->out_len - cc->out_off < len ? cc->out_len - cc->out_off : len;
		if (k) /* nothing queued yet: out may still be NULL */
			memcpy(buf, cc->out + cc->out_off, k);
		cc->out_off += k;
		if (cc->out_off == cc->out_len) {
			cc->out_off = cc->out_len = 0;
			if (cc->half_close)
				*flags |= NGHTTP2_DATA_FLAG_EOF;
			else if (!k) {
				/* nothing to send until grpcc_stream_send() resumes it */
				cc->deferred = true;
				return NGHTTP2_ERR_DEFERRED;
			}
		}
		return (ssize_t)k;
	}
	size_t total = PREFIX + cc->req_len, n = 0;
	while (n < len && cc->req_off < total) {
		size_t off = cc->req_off;
		size_t k;
		if (off < PREFIX) {
			k = PREFIX - off < len - n ? PREFIX - off : len - n;
			memcpy(buf + n, cc->prefix + off, k);
		} else {
			k = total - off < len - n ? total - off : len - n;
			memcpy(buf + n, cc->req + (off - PREFIX), k);
		}
		n += k;
		cc->req_off += k;
	}
	if (cc->req_off == total)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* --- setup ------------------------------------------------------------------ */

int grpcc_adopt(int fd, const struct grpcc_io *io, const char *authority, struct grpcc **ret)
{
	struct grpcc *c = calloc(1, sizeof(*c));
	nghttp2_session_callbacks *cb = NULL;
	int rv = -ENOMEM;
	*ret = NULL;
	if (!c || nghttp2_session_callbacks_new(&cb) != 0)
		goto fail;
	c->fd = fd;
	c->wake_fd = -1;
	c->goaway_last = INT32_MAX;
	/* every wait is poll()'s, with its deadline */
	if (!io && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		rv = -errno;
		goto fail;
	}
	if (io) {
		c->io = *io;
		c->have_io = true;
	}
	snprintf(c->authority, sizeof(c->authority), "%s", authority ? authority : "");
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	if (nghttp2_session_client_new(&c->s, cb, c) != 0)
		goto fail;
	/* no server push; the client's SETTINGS go out with the preface */
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 } };
	if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, iv, 1) != 0)
		goto fail;
	nghttp2_session_callbacks_del(cb);
	*ret = c;
	return 0;
fail:
	if (cb)
		nghttp2_session_callbacks_del(cb);
	if (c) {
		c->fd = fd;
		grpcc_close(c);
	} else {
		if (io && io->close)
			io->close(io->ctx);
		close(fd);
	}
	return rv;
}

static int wait_connect(int fd, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0) {
			int err = 0;
			socklen_t l = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
				return -errno;
			return -err;
		}
	}
}

int grpcc_connect(const char *host, uint16_t port, int timeout_ms, struct grpcc **ret)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai = NULL;
	char svc[8], authority[300];
	int64_t deadline = now_ms() + timeout_ms;
	int fd = -1, rv;
	*ret = NULL;
	snprintf(svc, sizeof(svc), "%u", port);
	if (getaddrinfo(host, svc, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rv = -errno;
		goto out;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		rv = errno == EINPROGRESS ? wait_connect(fd, deadline) : -errno;
		if (rv < 0)
			goto out;
	}
	snprintf(authority, sizeof(authority), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	rv = grpcc_adopt(fd, NULL, authority, ret);
	fd = -1; /* taken */
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rv;
}

void grpcc_close(struct grpcc *c)
{
	if (!c)
		return;
	if (c->s)
		nghttp2_session_del(c->s);
	if (c->have_io && c->io.close)
		c->io.close(c->io.ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int grpcc_usable(const struct grpcc *c)
{
	return c && !c->dead && c->goaway_last == INT32_MAX;
}

/* --- the pump --------------------------------------------------------------- */

/* Reads what the socket has, without waiting. -ENOTCONN at its end. */
static int pump_in(struct grpcc *c)
{
	uint8_t buf[READ_CHUNK];
	for (;;) {
		ssize_t n = io_recv(c, buf, sizeof(buf));
		if (n == -EAGAIN)
			return 0;
		if (n == 0) {
			c->dead = true;
			return -ENOTCONN;
		}
		if (n < 0) {
			c->dead = true;
			return -ECONNRESET;
		}
		if (nghttp2_session_mem_recv(c->s, buf, (size_t)n) < 0) {
			c->dead = true;
			return -EPROTO;
		}
	}
}

/* Writes what the socket takes now. */
static int pump_out(struct grpcc *c)
{
	for (;;) {
		if (!c->out_len) {
			ssize_t n = nghttp2_session_mem_send(c->s, &c->out);
			if (n < 0) {
				c->dead = true;
				return -EPROTO;
			}
			c->out_len = (size_t)n;
			if (!n)
				return 0;
		}
		ssize_t w = io_send(c, c->out, c->out_len);
		if (w == -EAGAIN)
			return 0;
		if (w <= 0) {
			c->dead = true;
			return -ECONNRESET;
		}
		c->out += w;
		c->out_len -= (size_t)w;
	}
}

static bool unary_done(const struct grpcc *c, const struct ccall *cc)
{
	(void)c;
	return cc->closed;
}

/* Runs the session until done(cc) or the deadline; with wake, until the
 * connection's wake fd is readable too (-EINTR). */
static int pump(struct grpcc *c, bool (*done)(const struct grpcc *, const struct ccall *), struct ccall *cc,
		int64_t deadline, bool wake)
{
	for (;;) {
		int rv = pump_out(c);
		if (rv < 0)
			return rv;
		if (done(c, cc))
			return 0;
		if (!c->out_len && !nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s)) {
			/* the session is over with the call open: nghttp2 ended
			 * it for bad input, or the server's GOAWAY did */
			c->dead = true;
			return c->goaway_last == INT32_MAX ? -EPROTO : -ECONNRESET;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		short want = io_events(c, POLLIN | (c->out_len ? POLLOUT : 0));
		struct pollfd p[2] = { { .fd = c->fd, .events = want }, { .fd = c->wake_fd, .events = POLLIN } };
		int r = poll(p, wake && c->wake_fd >= 0 ? 2 : 1, left > 1000000 ? 1000000 : (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			rv = pump_in(c);
			if (rv < 0)
				return rv == -ENOTCONN ? (done(c, cc) ? 0 : -ECONNRESET) : rv;
		}
		if (done(c, cc))
			return 0;
		if (wake && c->wake_fd >= 0 && p[1].revents)
			return -EINTR;
	}
}

/* Opens the call's stream: 0 < the stream's ID, or an nghttp2 error.
 * timeout_ms 0: no grpc-timeout (a stream that lasts as long as it is used). */
static int32_t submit(struct grpcc *c, const char *path, int timeout_ms, struct ccall *cc)
{
	char timeout[24];
	/* grpc-timeout takes at most 8 digits: beyond a day, whole seconds */
	if (timeout_ms > 99999999)
		snprintf(timeout, sizeof(timeout), "%dS", timeout_ms / 1000);
	else
		snprintf(timeout, sizeof(timeout), "%dm", timeout_ms > 0 ? timeout_ms : 1);
#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }
	nghttp2_nv nva[] = {
		NV(":method", "POST"),
		NV(":scheme", c->have_io ? "https" : "http"),
		NV(":path", path),
		NV(":authority", c->authority),
		NV("content-type", "application/grpc"),
		NV("te", "trailers"),
		NV("grpc-timeout", timeout),
	};
#undef NV
	size_t n = sizeof(nva) / sizeof(nva[0]) - (cc->stream && timeout_ms <= 0 ? 1 : 0);
	nghttp2_data_provider dp = { .source.ptr = NULL, .read_callback = read_req };
	return nghttp2_submit_request(c->s, NULL, nva, n, &dp, cc);
}

int grpcc_call(struct grpcc *c, const char *path, const uint8_t *req, size_t len, uint8_t **resp,
	       size_t *resp_len, int *status, char *msg, size_t msg_len, int timeout_ms)
{
	struct ccall cc = { .req = req, .req_len = len, .grpc_status = -1 };
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int32_t id = -1;
	int rv;
	*resp = NULL;
	*resp_len = 0;
	*status = -1;
	if (msg && msg_len)
		msg[0] = 0;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	/* a connection the server closed while idle (a restart, its idle
	 * limit): say so before sending anything into it */
	if (!c->dead && (rv = pump_in(c)) < 0 && rv != -ENOTCONN)
		c->dead = true;
	if (!grpcc_usable(c))
		return -ENOTCONN;
	cc.prefix[0] = 0;
	cc.prefix[1] = (uint8_t)(len >> 24);
	cc.prefix[2] = (uint8_t)(len >> 16);
	cc.prefix[3] = (uint8_t)(len >> 8);
	cc.prefix[4] = (uint8_t)len;
	id = submit(c, path, timeout_ms, &cc);
	if (id < 0) {
		rv = id == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
		id = -1;
		goto out;
	}
	rv = pump(c, unary_done, &cc, deadline, false);
	if (rv == -ETIMEDOUT) {
		/* the server may still answer: tell it to stop, and drop what it sends */
		nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
		pump_out(c);
		goto out;
	}
	if (rv < 0)
		goto out;
	if (!nghttp2_session_want_read(c->s) && c->goaway_last == INT32_MAX) {
		/* nghttp2 ended the session itself: the server broke HTTP/2 */
		rv = -EPROTO;
		goto out;
	}
	if (cc.too_big) {
		rv = -EMSGSIZE;
		goto out;
	}
	if (cc.rst_code == NGHTTP2_REFUSED_STREAM || (cc.grpc_status < 0 && id > c->goaway_last)) {
		rv = -EAGAIN;
		goto out;
	}
	if (cc.grpc_status < 0 || cc.bad_header || cc.http_status != 200) {
		/* a reset stream without a status: it may have been processed */
		rv = cc.rst_code != NGHTTP2_NO_ERROR && !cc.bad_header && cc.http_status == 200 ? -ECONNRESET : -EPROTO;
		if (rv == -EPROTO)
			c->dead = true;
		goto out;
	}
	if (cc.grpc_status == 0) {
		/* exactly one uncompressed message */
		uint32_t mlen = cc.body_len >= PREFIX ? (uint32_t)cc.body[1] << 24 | (uint32_t)cc.body[2] << 16 |
								(uint32_t)cc.body[3] << 8 | cc.body[4]
						      : 0;
		if (cc.body_len < PREFIX || cc.body[0] != 0 || cc.body_len != PREFIX + (size_t)mlen) {
			c->dead = true;
			rv = -EPROTO;
			goto out;
		}
		if (mlen) {
			memmove(cc.body, cc.body + PREFIX, mlen);
			*resp = cc.body;
			cc.body = NULL;
		}
		*resp_len = mlen;
	}
	*status = cc.grpc_status;
	if (msg && msg_len)
		snprintf(msg, msg_len, "%s", cc.msg);
	rv = 0;
out:
	/* late frames of this stream find no call */
	if (id > 0 && nghttp2_session_find_stream(c->s, id))
		nghttp2_session_set_stream_user_data(c->s, id, NULL);
	if (rv == -EPROTO)
		c->dead = true;
	free(cc.body);
	return rv;
}

/* --- streaming calls -------------------------------------------------------- */

void grpcc_set_wake_fd(struct grpcc *c, int fd)
{
	c->wake_fd = fd;
}

int grpcc_stream_open(struct grpcc *c, const char *path, struct grpcc_stream **ret)
{
	struct grpcc_stream *st;
	int rv;
	*ret = NULL;
	if (!c->dead && (rv = pump_in(c)) < 0 && rv != -ENOTCONN)
		c->dead = true;
	if (!grpcc_usable(c))
		return -ENOTCONN;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->c = c;
	st->cc.stream = true;
	st->cc.grpc_status = -1;
	st->id = submit(c, path, 0, &st->cc);
	if (st->id < 0) {
		rv = st->id == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
		free(st);
		return rv;
	}
	/* the HEADERS go out now: a server may answer before a first message */
	if (pump_out(c) < 0) {
		grpcc_stream_free(st);
		return -ECONNRESET;
	}
	*ret = st;
	return 0;
}

/* every queued byte of the stream is on the wire (or the stream is over) */
static bool sent(const struct grpcc *c, const struct ccall *cc)
{
	return cc->closed || (!cc->out_len && !c->out_len);
}

/* After the stream ended: what the end means (as grpcc_call's returns). */
static int end_of(const struct grpcc_stream *st)
{
	const struct ccall *cc = &st->cc;
	if (cc->rst_code == NGHTTP2_REFUSED_STREAM || (cc->grpc_status < 0 && st->id > st->c->goaway_last))
		return -EAGAIN;
	if (cc->too_big)
		return -EMSGSIZE;
	if (cc->grpc_status < 0 || cc->bad_header || cc->http_status != 200)
		return cc->rst_code != NGHTTP2_NO_ERROR && !cc->bad_header && cc->http_status == 200 ? -ECONNRESET
												       : -EPROTO;
	return 1;
}

static int queue(struct grpcc_stream *st, const uint8_t *msg, size_t len, bool framed)
{
	struct ccall *cc = &st->cc;
	size_t need = cc->out_len + (framed ? PREFIX : 0) + len;
	if (need > cc->out_cap) {
		size_t cap = cc->out_cap ? cc->out_cap : 256;
		while (cap < need)
			cap *= 2;
		uint8_t *p = realloc(cc->out, cap);
		if (!p)
			return -ENOMEM;
		cc->out = p;
		cc->out_cap = cap;
	}
	if (framed) {
		uint8_t *h = cc->out + cc->out_len;
		h[0] = 0;
		h[1] = (uint8_t)(len >> 24);
		h[2] = (uint8_t)(len >> 16);
		h[3] = (uint8_t)(len >> 8);
		h[4] = (uint8_t)len;
		cc->out_len += PREFIX;
	}
	if (len)
		memcpy(cc->out + cc->out_len, msg, len);
	cc->out_len += len;
	if (cc->deferred) {
		cc->deferred = false;
		if (nghttp2_session_resume_data(st->c->s, st->id) != 0)
			return -EPROTO;
	}
	return 0;
}

static int flush(struct grpcc_stream *st, int timeout_ms)
{
	struct grpcc *c = st->c;
	int rv = pump(c, sent, &st->cc, now_ms() + (timeout_ms > 0 ? timeout_ms : 0), false);
	if (rv == -EPROTO)
		c->dead = true;
	if (rv == 0 && st->cc.closed && !st->cc.half_close)
		rv = -EPIPE;
	return rv;
}

int grpcc_stream_send(struct grpcc_stream *st, const uint8_t *msg, size_t len, int timeout_ms)
{
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	if (st->cc.closed || st->cc.half_close)
		return -EPIPE;
	if (st->c->dead)
		return -ENOTCONN;
	int rv = queue(st, msg, len, true);
	return rv < 0 ? rv : flush(st, timeout_ms);
}

int grpcc_stream_close_send(struct grpcc_stream *st, int timeout_ms)
{
	if (st->cc.closed || st->cc.half_close)
		return 0;
	if (st->c->dead)
		return -ENOTCONN;
	st->cc.half_close = true;
	int rv = queue(st, NULL, 0, false);
	if (rv == 0)
		rv = flush(st, timeout_ms);
	return rv == -EPIPE ? 0 : rv;
}

/* a whole message waits at body_off */
static bool has_msg(const struct ccall *cc)
{
	size_t have = cc->body_len - cc->body_off;
	if (have < PREFIX)
		return false;
	const uint8_t *h = cc->body + cc->body_off;
	uint32_t mlen = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
	return have >= PREFIX + (size_t)mlen;
}

static bool readable(const struct grpcc *c, const struct ccall *cc)
{
	(void)c;
	return cc->closed || has_msg(cc);
}

int grpcc_stream_recv(struct grpcc_stream *st, uint8_t **msg, size_t *len, int timeout_ms)
{
	struct grpcc *c = st->c;
	struct ccall *cc = &st->cc;
	int rv = 0;
	*msg = NULL;
	*len = 0;
	if (!readable(c, cc)) {
		if (c->dead)
			return -ENOTCONN;
		rv = pump(c, readable, cc, now_ms() + (timeout_ms > 0 ? timeout_ms : 0), true);
		if (rv == -EPROTO)
			c->dead = true;
		/* the connection went with messages still buffered: those first */
		if (rv < 0 && !has_msg(cc))
			return rv;
	}
	size_t have = cc->body_len - cc->body_off;
	if (have >= PREFIX) {
		const uint8_t *h = cc->body + cc->body_off;
		uint32_t mlen = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
		if (have >= PREFIX + (size_t)mlen) {
			if (h[0] != 0) { /* compressed: never asked for */
				c->dead = true;
				return -EPROTO;
			}
			if (mlen) {
				*msg = malloc(mlen);
				if (!*msg)
					return -ENOMEM;
				memcpy(*msg, h + PREFIX, mlen);
			}
			*len = mlen;
			cc->body_off += PREFIX + (size_t)mlen;
			return 0;
		}
	}
	if (!cc->closed)
		return rv < 0 ? rv : -ETIMEDOUT;
	/* over: a message cut short is the server's fault */
	if (have && cc->grpc_status == 0)
		return -EPROTO;
	return end_of(st);
}

int grpcc_stream_status(const struct grpcc_stream *st, char *msg, size_t msg_len)
{
	if (msg && msg_len)
		snprintf(msg, msg_len, "%s", st->cc.msg);
	return st->cc.closed && !st->cc.bad_header ? st->cc.grpc_status : -1;
}

void grpcc_stream_free(struct grpcc_stream *st)
{
	if (!st)
		return;
	struct grpcc *c = st->c;
	if (!c->dead && nghttp2_session_find_stream(c->s, st->id)) {
		nghttp2_session_set_stream_user_data(c->s, st->id, NULL);
		/* open: the server stops the call (a watch, a keep-alive loop);
		 * ended by the server: our side of the stream ends too */
		nghttp2_submit_rst_stream(c->s, NGHTTP2_FLAG_NONE, st->id,
					  st->cc.closed ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
		pump_out(c);
	}
	free(st->cc.out);
	free(st->cc.body);
	free(st);
}
