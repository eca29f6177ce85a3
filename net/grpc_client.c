/* net/grpc_client.c — a synchronous unary gRPC client; see the header.
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

/* the call in progress (stream user data; NULL once the caller left) */
struct ccall {
	const uint8_t *req;
	size_t req_len, req_off;
	uint8_t prefix[PREFIX];
	uint8_t *body;
	size_t body_len, body_cap;
	int http_status;
	int grpc_status; /* -1: none seen */
	char msg[512];
	bool closed, too_big, bad_header;
	uint32_t rst_code;
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
	(void)s;
	struct grpcc *c = ud;
	if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.last_stream_id < c->goaway_last)
		c->goaway_last = f->goaway.last_stream_id;
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

/* Runs the session until done(cc) or the deadline. */
static int pump(struct grpcc *c, struct ccall *cc, int64_t deadline)
{
	for (;;) {
		int rv = pump_out(c);
		if (rv < 0)
			return rv;
		if (cc->closed)
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
		struct pollfd p = { .fd = c->fd, .events = want };
		int r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			rv = pump_in(c);
			if (rv < 0)
				return rv == -ENOTCONN ? (cc->closed ? 0 : -ECONNRESET) : rv;
		}
		if (cc->closed)
			return 0;
	}
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
	nghttp2_data_provider dp = { .source.ptr = NULL, .read_callback = read_req };
	id = nghttp2_submit_request(c->s, NULL, nva, sizeof(nva) / sizeof(nva[0]), &dp, &cc);
	if (id < 0) {
		rv = id == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
		id = -1;
		goto out;
	}
	rv = pump(c, &cc, deadline);
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
