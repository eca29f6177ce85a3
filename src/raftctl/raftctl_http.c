/* src/raftctl/raftctl_http.c — see raftctl_http.h.
 *
 * Blocking on purpose: raftctl asks one thing of one node at a time (except
 * bench, which drives its own non-blocking sockets with epoll and shares only
 * rc_head_format and the reader). Sockets are still non-blocking, so that
 * every wait goes through poll() with the connection's timeout.
 */
#include "src/raftctl/raftctl_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (64ull << 20)

static int failf(char *err, size_t err_len, int rv, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int failf(char *err, size_t err_len, int rv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return rv;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until deadline; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int rc_connect(const struct url *u, int timeout_ms, char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	int64_t deadline = now_ms() + timeout_ms;
	int rv = getaddrinfo(u->host, u->port, &hints, &res);
	int last = -EHOSTUNREACH;

	if (rv != 0)
		return failf(err, err_len, -EHOSTUNREACH, "%s: %s", u->base, gai_strerror(rv));
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last = -errno;
			close(fd);
			continue;
		}
		int w = wait_fd(fd, POLLOUT, deadline);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (w == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
			freeaddrinfo(res);
			return fd;
		}
		last = w < 0 ? w : -soerr;
		close(fd);
	}
	freeaddrinfo(res);
	return failf(err, err_len, last, "%s: connect: %s", u->base, strerror(-last));
}

int rc_head_format(char *buf, size_t cap, const struct url *u, const char *method, const char *path,
		   const char *content_type, size_t body_len)
{
	/* hostport: an IPv6 address in brackets */
	int n = snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: raftctl\r\nContent-Length: %zu\r\n%s%s%s\r\n",
			 method, path, u->hostport, body_len, content_type ? "Content-Type: " : "",
			 content_type ? content_type : "", content_type ? "\r\n" : "");
	return n < 0 || (size_t)n >= cap ? -ENOBUFS : n;
}

/* --- the response reader ---------------------------------------------------- */

void rc_reader_init(struct rc_reader *r, uint64_t max_body)
{
	memset(r, 0, sizeof(*r));
	struct http_limits lim = { .max_body = max_body ? max_body : DEFAULT_MAX_BODY };
	http_parser_init(&r->parser, &lim);
	r->found = -1;
}

/* Head lines are consumed whole (http_parse takes a line at a time), so
 * the bytes a call consumed before the head's end are complete lines. */
static void scan_head(struct rc_reader *r, const uint8_t *p, size_t n)
{
	static const char name[] = "x-raftd-found:";
	size_t nl = sizeof(name) - 1;
	while (n > 0) {
		const uint8_t *eol = memchr(p, '\n', n);
		size_t len = eol ? (size_t)(eol - p) + 1 : n;
		if (len > nl && strncasecmp((const char *)p, name, nl) == 0) {
			const uint8_t *v = p + nl;
			while (v < p + len && (*v == ' ' || *v == '\t'))
				v++;
			r->found = (size_t)(p + len - v) >= 4 && strncasecmp((const char *)v, "true", 4) == 0;
		}
		p += len;
		n -= len;
	}
}

void rc_reader_free(struct rc_reader *r)
{
	free(r->buf);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

void rc_reader_next(struct rc_reader *r)
{
	r->status = 0;
	r->keep_alive = false;
	r->started = false;
	r->found = -1;
	r->body_len = 0;
	r->sink = NULL;
	r->sink_arg = NULL;
}

int rc_reader_room(struct rc_reader *r, size_t want)
{
	if (r->cap - r->len >= want)
		return 0;
	size_t cap = r->cap ? r->cap : 4096;
	while (cap - r->len < want)
		cap *= 2;
	uint8_t *p = realloc(r->buf, cap);
	if (!p)
		return -ENOMEM;
	r->buf = p;
	r->cap = cap;
	return 0;
}

static int collect(struct rc_reader *r, const uint8_t *p, size_t n)
{
	if (r->sink && r->status >= 200 && r->status < 300)
		return r->sink(r->sink_arg, p, n);
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 256;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b)
			return -ENOMEM;
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

int rc_reader_parse(struct rc_reader *r, bool eof)
{
	size_t off = 0;
	int rv = 0;

	if (r->len)
		r->started = true;
	for (;;) {
		struct http_event ev;
		long used = http_parse(&r->parser, r->buf + off, r->len - off, &ev);
		if (used < 0) {
			rv = (int)used;
			break;
		}
		if (!r->status && used > 0)
			scan_head(r, r->buf + off, (size_t)used);
		off += (size_t)used;
		if (ev.kind == HTTP_EV_HEAD) {
			r->status = r->parser.status;
		} else if (ev.kind == HTTP_EV_BODY) {
			if ((rv = collect(r, ev.data, ev.len)) < 0)
				break;
		} else if (ev.kind == HTTP_EV_DONE) {
			r->keep_alive = r->parser.keep_alive;
			rv = 1;
			break;
		} else { /* NEED_MORE */
			if (eof) {
				rv = http_parse_eof(&r->parser, &ev);
				if (rv == 0 && ev.kind == HTTP_EV_DONE) {
					r->keep_alive = false;
					rv = 1;
				} else if (rv == -ENODATA || rv == 0) {
					rv = -EPIPE;
				}
			}
			break;
		}
	}
	memmove(r->buf, r->buf + off, r->len - off);
	r->len -= off;
	if (rv == 1 && !r->body) /* an empty body is still a string */
		rv = collect(r, (const uint8_t *)"", 0) < 0 ? -ENOMEM : 1;
	return rv;
}

/* --- the blocking client ---------------------------------------------------- */

void rc_conn_init(struct rc_conn *c, const struct url *u, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->url = *u;
	c->fd = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
}

void rc_conn_close(struct rc_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void rc_response_free(struct rc_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int send_all(int fd, const void *p, size_t n, int64_t deadline)
{
	const char *s = p;
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			int rv = wait_fd(fd, POLLOUT, deadline);
			if (rv < 0)
				return rv;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One attempt on the current connection; *fresh says whether the failure
 * may be retried (nothing of a response arrived on a reused connection). */
static int attempt(struct rc_conn *c, const struct rc_request *req, struct rc_reader *r, bool *retry, char *err,
		   size_t err_len)
{
	char head[2048];
	int64_t deadline = now_ms() + c->timeout_ms;
	bool reused = c->fd >= 0;
	int rv;

	*retry = false;
	if (c->fd < 0) {
		c->fd = rc_connect(&c->url, c->timeout_ms, err, err_len);
		if (c->fd < 0)
			return c->fd;
	}
	int hl = rc_head_format(head, sizeof(head), &c->url, req->method, req->path, req->content_type,
				req->body_len);
	if (hl < 0)
		return failf(err, err_len, hl, "%s: request path too long", c->url.base);
	rv = send_all(c->fd, head, (size_t)hl, deadline);
	if (rv == 0 && req->body_len)
		rv = send_all(c->fd, req->body, req->body_len, deadline);
	if (rv < 0) {
		*retry = reused;
		return failf(err, err_len, rv, "%s: send: %s", c->url.base, strerror(-rv));
	}
	for (;;) {
		if ((rv = rc_reader_room(r, 16384)) < 0)
			return failf(err, err_len, rv, "out of memory");
		ssize_t n = recv(c->fd, r->buf + r->len, r->cap - r->len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rv = wait_fd(c->fd, POLLIN, deadline);
			if (rv < 0)
				return failf(err, err_len, rv, "%s: no answer within %d ms", c->url.base, c->timeout_ms);
			continue;
		}
		if (n < 0) {
			rv = -errno;
			*retry = reused && !r->started;
			return failf(err, err_len, rv, "%s: receive: %s", c->url.base, strerror(-rv));
		}
		r->len += (size_t)n;
		rv = rc_reader_parse(r, n == 0);
		if (rv == 1)
			return 0;
		if (rv < 0) {
			*retry = reused && !r->started && n == 0;
			if (rv == -EPIPE)
				return failf(err, err_len, -ECONNRESET, "%s: connection closed before the answer",
					     c->url.base);
			return failf(err, err_len, rv, "%s: bad HTTP response: %s", c->url.base,
				     r->parser.error ? r->parser.error : strerror(-rv));
		}
	}
}

int rc_http(struct rc_conn *c, const struct rc_request *req, struct rc_response *ret, char *err, size_t err_len)
{
	struct rc_reader r;
	bool retry;
	int rv;

	memset(ret, 0, sizeof(*ret));
	for (int i = 0; i < 2; i++) {
		rc_reader_init(&r, c->max_body);
		r.sink = req->sink;
		r.sink_arg = req->sink_arg;
		rv = attempt(c, req, &r, &retry, err, err_len);
		if (rv == 0)
			break;
		rc_conn_close(c);
		rc_reader_free(&r);
		if (!retry)
			return rv;
	}
	if (rv < 0)
		return rv;
	if (!r.keep_alive || r.len) /* leftover bytes: the server is confused */
		rc_conn_close(c);
	ret->status = r.status;
	ret->found = r.found;
	ret->body = r.body;
	ret->len = r.body_len;
	r.body = NULL;
	rc_reader_free(&r);
	return 0;
}
