/* tests/net/test_server.c — see test_server.h. */
#include "tests/net/test_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define TS_BUF (256 * 1024)
#define TS_ECHO_MAX (64 * 1024)

uint64_t ts_fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The TLS session of this server thread's connection (NULL: plain). */
static __thread gnutls_session_t sess;
/* TS_BATCH_RECORDS: ciphertext held back here, to go out in one send. */
static __thread char *held;
static __thread size_t held_len;
#define TS_HELD_MAX (256 * 1024)

static ssize_t push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	int fd = (int)(intptr_t)ptr;
	if (!held)
		return send(fd, data, len, MSG_NOSIGNAL);
	if (len > TS_HELD_MAX - held_len) {
		gnutls_transport_set_errno(sess, ENOBUFS);
		return -1;
	}
	memcpy(held + held_len, data, len);
	held_len += len;
	return (ssize_t)len;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = sess ? gnutls_record_send(sess, p, len) : send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct conn {
	struct test_server *s;
	int fd;
	char *buf;
	size_t have;
};

static int fill(struct conn *c)
{
	if (c->have == TS_BUF)
		return -1;
	ssize_t n;
	do
		n = sess ? gnutls_record_recv(sess, c->buf + c->have, TS_BUF - c->have)
			 : recv(c->fd, c->buf + c->have, TS_BUF - c->have, 0);
	while (sess && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED));
	if (n <= 0)
		return -1;
	c->have += (size_t)n;
	atomic_fetch_add(&c->s->bytes_in, (unsigned long long)n);
	return 0;
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->have - n);
	c->have -= n;
}

static size_t count_heads(const char *p, size_t n)
{
	size_t k = 0;
	const char *end = p + n, *q;
	while ((q = memmem(p, (size_t)(end - p), "\r\n\r\n", 4))) {
		k++;
		p = q + 4;
	}
	return k;
}

/* Read one request: returns 0 with its body (first TS_ECHO_MAX bytes) and
 * hash, or -1 at EOF/error. */
static int read_request(struct conn *c, uint8_t *echo, size_t *echo_len, uint64_t *hash)
{
	char *end;
	while (!(end = memmem(c->buf, c->have, "\r\n\r\n", 4)))
		if (fill(c) < 0)
			return -1;
	size_t hlen = (size_t)(end + 4 - c->buf);
	char head[4096];
	size_t cp = hlen < sizeof(head) - 1 ? hlen : sizeof(head) - 1;
	memcpy(head, c->buf, cp);
	head[cp] = '\0';
	unsigned long long cl = 0;
	char *h = strcasestr(head, "\r\ncontent-length:");
	if (h)
		cl = strtoull(h + 17, NULL, 10);
	consume(c, hlen);
	*hash = TS_FNV_INIT;
	*echo_len = 0;
	while (cl) {
		if (c->have == 0 && fill(c) < 0)
			return -1;
		size_t take = c->have < cl ? c->have : (size_t)cl;
		*hash = ts_fnv1a(*hash, (uint8_t *)c->buf, take);
		size_t e = TS_ECHO_MAX - *echo_len;
		if (e > take)
			e = take;
		memcpy(echo + *echo_len, c->buf, e);
		*echo_len += e;
		consume(c, take);
		cl -= take;
	}
	return 0;
}

/* The server side of a handshake on the blocking fd; failures send the
 * alert GnuTLS finds appropriate (certificate_required, ...). */
static int tls_handshake(struct test_server *s, int fd)
{
	int r;
	if (gnutls_init(&sess, GNUTLS_SERVER | GNUTLS_NO_SIGNAL) < 0) {
		sess = NULL;
		return -1;
	}
	gnutls_priority_set(sess, tls_creds_priority(s->tls));
	gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(s->tls));
	if (s->client_cert)
		gnutls_certificate_server_set_request(sess, s->client_cert == 2 ? GNUTLS_CERT_REQUIRE
									: GNUTLS_CERT_REQUEST);
	gnutls_transport_set_int(sess, fd);
	gnutls_transport_set_push_function(sess, push);
	gnutls_handshake_set_timeout(sess, 10000);
	do
		r = gnutls_handshake(sess);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		atomic_fetch_add(&s->handshake_failures, 1); /* before the client can see it */
		gnutls_alert_send_appropriate(sess, r);
		return -1;
	}
	struct tls_identity id;
	char sni[256] = "";
	size_t sni_len = sizeof(sni) - 1;
	unsigned type;
	tls_identify(sess, s->trust, &id);
	if (gnutls_server_name_get(sess, sni, &sni_len, &type, 0) < 0)
		sni[0] = '\0';
	pthread_mutex_lock(&s->lock);
	s->client = id;
	memcpy(s->sni, sni, sizeof(sni));
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->handshakes, 1);
	return 0;
}

static void serve(struct test_server *s, int fd)
{
	struct conn c = { .s = s, .fd = fd, .buf = malloc(TS_BUF) };
	uint8_t *echo = malloc(TS_ECHO_MAX);
	char *out = malloc(TS_BUF);
	size_t out_len = 0;
	int collected = 0;
	char hdr[256];
	if (!c.buf || !echo || !out)
		goto done;
	if (s->mode == TS_NOREAD) {
		char b;
		while (!atomic_load(&s->stopping))
			if (recv(fd, &b, 1, MSG_PEEK) <= 0) /* returns at once once data came */
				usleep(10000);
		goto done;
	}
	if (s->tls && tls_handshake(s, fd) < 0)
		goto done;
	for (;;) {
		size_t elen;
		uint64_t hash;
		if (read_request(&c, echo, &elen, &hash) < 0)
			goto done;
		atomic_fetch_add(&s->reqs, 1);
		int outstanding = 1 + collected + (int)count_heads(c.buf, c.have);
		int prev = atomic_load(&s->max_outstanding);
		while (outstanding > prev && !atomic_compare_exchange_weak(&s->max_outstanding, &prev, outstanding))
			;
		int n;
		enum ts_mode mode = s->mode;
		if (mode == TS_CHAOS) {
			static const enum ts_mode pick[] = {
				TS_ECHO, TS_ECHO, TS_ECHO, TS_ECHO, TS_ECHO, TS_ECHO, TS_ECHO,
				TS_ECHO, TS_CHUNKED, TS_CHUNKED, TS_CLOSE_EACH, TS_CLOSE_EACH,
				TS_RESET, TS_STALL, TS_GARBAGE, TS_MIDBODY, TS_GO400, TS_EOF_BODY,
			};
			mode = pick[rand_r(&s->seed) % (sizeof(pick) / sizeof(pick[0]))];
			if (mode == TS_STALL) {
				usleep(300 * 1000); /* past the client's 200 ms */
				mode = TS_ECHO;
			} else if (mode == TS_GARBAGE) {
				send_all(fd, "HTTP/1.1 2xx\r\n\r\n", 17);
				goto done;
			}
		}
		switch (mode) {
		case TS_ECHO:
		case TS_CLOSE_EACH:
		case TS_CLOSE_IDLE:
			n = snprintf(hdr, sizeof(hdr),
				     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s"
				     "Content-Type: application/octet-stream\r\n\r\n",
				     elen, mode == TS_CLOSE_EACH ? "Connection: close\r\n" : "");
			if (send_all(fd, hdr, (size_t)n) < 0 || send_all(fd, echo, elen) < 0)
				goto done;
			if (mode != TS_ECHO)
				goto done;
			break;
		case TS_BATCH:
		case TS_BATCH_RECORDS:
			n = snprintf(out + out_len, TS_BUF - out_len,
				     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", elen);
			out_len += (size_t)n;
			memcpy(out + out_len, echo, elen);
			out_len += elen;
			if (mode == TS_BATCH_RECORDS && sess) {
				/* a record per response, its ciphertext held
				 * back until the batch is complete */
				if (!held && !(held = malloc(TS_HELD_MAX)))
					goto done;
				int r = send_all(fd, out, out_len);
				out_len = 0;
				if (r < 0)
					goto done;
			}
			if (++collected == s->batch) {
				if (held) {
					char *h = held;
					held = NULL; /* send_all below writes through */
					size_t off = 0;
					ssize_t n2 = 1;
					while (off < held_len && n2 > 0)
						if ((n2 = send(fd, h + off, held_len - off, MSG_NOSIGNAL)) > 0)
							off += (size_t)n2;
					bool whole = off == held_len;
					free(h);
					held_len = 0;
					if (!whole)
						goto done;
				} else if (send_all(fd, out, out_len) < 0) {
					goto done;
				}
				out_len = 0;
				collected = 0;
			}
			break;
		case TS_STALL:
			break;
		case TS_CHUNKED:
			n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
			if (send_all(fd, hdr, (size_t)n) < 0)
				goto done;
			for (size_t i = 0; i < elen; i += 3) {
				size_t k = elen - i < 3 ? elen - i : 3;
				n = snprintf(hdr, sizeof(hdr), "%zx;ext=1\r\n", k);
				if (send_all(fd, hdr, (size_t)n) < 0 || send_all(fd, echo + i, k) < 0 ||
				    send_all(fd, "\r\n", 2) < 0)
					goto done;
			}
			if (send_all(fd, "0\r\nX-Trailer: t\r\n\r\n", 19) < 0)
				goto done;
			break;
		case TS_RESET: {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			goto done;
		}
		case TS_MIDBODY:
			send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 51);
			goto done;
		case TS_GARBAGE:
			send_all(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 23);
			break;
		case TS_HUGE:
			send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nxx", 48);
			break;
		case TS_SINK:
			n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n");
			if (send_all(fd, hdr, (size_t)n) < 0 || send_all(fd, &hash, 8) < 0)
				goto done;
			break;
		case TS_EOF_BODY:
			n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
			send_all(fd, hdr, (size_t)n);
			send_all(fd, echo, elen);
			goto done;
		case TS_DOUBLE:
			n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			if (send_all(fd, hdr, (size_t)n) < 0 || send_all(fd, hdr, (size_t)n) < 0)
				goto done;
			break;
		case TS_NOREAD:
		case TS_CHAOS:
			break;
		case TS_GO400:
			n = snprintf(hdr, sizeof(hdr),
				     "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
				     "X-Content-Type-Options: nosniff\r\nContent-Length: 1\r\n\r\n\n");
			if (send_all(fd, hdr, (size_t)n) < 0)
				goto done;
			break;
		}
	}
done:
	free(held);
	held = NULL;
	held_len = 0;
	if (sess) {
		/* A close a server means ends with close_notify; resets,
		 * garbage and cut bodies without. */
		if (s->mode == TS_CLOSE_EACH || s->mode == TS_CLOSE_IDLE || s->mode == TS_EOF_BODY)
			(void)gnutls_bye(sess, GNUTLS_SHUT_WR);
		gnutls_deinit(sess);
		sess = NULL;
	}
	free(c.buf);
	free(echo);
	free(out);
}

static void *run(void *arg)
{
	struct test_server *s = arg;
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		pthread_mutex_lock(&s->lock);
		if (atomic_load(&s->stopping)) {
			pthread_mutex_unlock(&s->lock);
			close(fd);
			break;
		}
		s->conn_fd = fd;
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->conns, 1);
		serve(s, fd);
		pthread_mutex_lock(&s->lock);
		s->conn_fd = -1;
		close(fd);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int ts_start(struct test_server *s, enum ts_mode mode, int batch)
{
	return ts_start_tls(s, mode, batch, NULL, NULL, 0);
}

int ts_start_tls(struct test_server *s, enum ts_mode mode, int batch, struct tls_creds *creds,
		 struct tls_creds *trust, int client_cert)
{
	memset(s, 0, sizeof(*s));
	s->tls = creds ? tls_creds_ref(creds) : NULL;
	s->trust = trust ? tls_creds_ref(trust) : NULL;
	s->client_cert = client_cert;
	s->mode = mode;
	s->batch = batch;
	s->seed = (unsigned)batch; /* TS_CHAOS: the batch argument seeds it */
	pthread_mutex_init(&s->lock, NULL);
	s->conn_fd = -1;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->lfd, 16) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0) {
		int e = -errno;
		close(s->lfd);
		return e;
	}
	s->port = ntohs(a.sin_port);
	int r = pthread_create(&s->thread, NULL, run, s);
	if (r) {
		close(s->lfd);
		return -r;
	}
	return 0;
}

void ts_stop(struct test_server *s)
{
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->stopping, 1);
	shutdown(s->lfd, SHUT_RDWR);
	if (s->conn_fd >= 0)
		shutdown(s->conn_fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->lock);
	tls_creds_unref(s->tls);
	tls_creds_unref(s->trust);
}

int ts_dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}
