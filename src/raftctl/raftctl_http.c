/* src/raftctl/raftctl_http.c — see raftctl_http.h.
 *
 * Blocking on purpose: raftctl asks one thing of one node at a time (except
 * bench, which drives its own non-blocking sockets with epoll and shares only
 * rc_head_format and the reader). Sockets are still non-blocking, so that
 * every wait goes through poll() with the connection's timeout; TLS runs
 * over the same socket (GnuTLS non-blocking: E_AGAIN, then poll in the
 * direction it asks for).
 */
#include "src/raftctl/raftctl_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
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

#include "net/tls.h"

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

/* --- TLS ------------------------------------------------------------------ */

static struct {
	const char *cacert, *cert, *key;
	bool loaded;
	int rv;
	struct tls_creds *creds;
	char err[512];
} tls_cfg;

void rc_tls_files(const char *cacert, const char *cert, const char *key)
{
	tls_cfg.cacert = cacert;
	tls_cfg.cert = cert;
	tls_cfg.key = key;
}

bool rc_tls_has_cert(void)
{
	return tls_cfg.cert != NULL;
}

/* Loaded once: a file that cannot be used fails every https:// server
 * alike, with tls_creds_load's words (they name the file). */
static int tls_creds_get(struct tls_creds **ret, char *err, size_t err_len)
{
	if (!tls_cfg.loaded) {
		struct tls_files f = { .cert_file = tls_cfg.cert, .key_file = tls_cfg.key,
				       .trusted_ca_file = tls_cfg.cacert };
		tls_cfg.loaded = true;
		tls_cfg.rv = tls_creds_load(&f, &tls_cfg.creds, tls_cfg.err, sizeof(tls_cfg.err));
		/* Without --cacert, servers are verified as a browser would: by
		 * the system's CAs. The credentials are ours alone (nobody holds
		 * another reference yet), so adding to them breaks no sharer. A
		 * system without a trust store leaves it empty: every server is
		 * then of an unknown authority, and the message says --cacert. */
		if (tls_cfg.rv == 0 && !tls_cfg.cacert)
			gnutls_certificate_set_x509_system_trust(tls_creds_gnutls(tls_cfg.creds));
	}
	if (tls_cfg.rv < 0)
		return failf(err, err_len, -ENOKEY, "%s", tls_cfg.err);
	*ret = tls_cfg.creds;
	return 0;
}

/* GnuTLS's transport in the handshake, on the connection's socket. The
 * pull notes the server's first byte: a TLS server's first record is a
 * handshake or an alert, anything else means the port speaks something
 * else (plain HTTP). */
static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	struct rc_conn *c = p;
	ssize_t r = recv(c->fd, buf, n, 0);
	if (r < 0)
		gnutls_transport_set_errno(c->tls, errno);
	else if (r > 0 && c->first_byte < 0)
		c->first_byte = *(const uint8_t *)buf;
	return r;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *buf, size_t n)
{
	struct rc_conn *c = p;
	ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
	if (r < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return r;
}

static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct rc_conn *c = p;
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };
	int n = poll(&pf, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

/* Whom a wait is for: GnuTLS may need to write while reading (and the
 * other way round) in the middle of a handshake or a key update. */
static short tls_events(const struct rc_conn *c)
{
	return gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN;
}

static bool is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The server's own certificate, or NULL. */
static gnutls_x509_crt_t peer_crt(gnutls_session_t s)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	gnutls_x509_crt_t crt = NULL;

	if (!certs || !n || gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		crt = NULL;
	}
	return crt;
}

/* The names a hostname check looks at: the DNS and IP SANs, else the CN
 * (which GnuTLS ignores when there are SANs). "" when none. */
static void crt_names(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	size_t len = 0;
	char name[256], text[INET6_ADDRSTRLEN];

	out[0] = '\0';
	for (unsigned i = 0; crt && len + 1 < cap; i++) {
		size_t sz = sizeof(name) - 1;
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &sz, NULL);
		const char *v = NULL;
		if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (t == GNUTLS_SAN_DNSNAME) {
			name[sz] = '\0';
			v = name;
		} else if (t == GNUTLS_SAN_IPADDRESS && (sz == 4 || sz == 16)) {
			v = inet_ntop(sz == 4 ? AF_INET : AF_INET6, name, text, sizeof(text));
		}
		if (v)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", v);
	}
	if (!out[0] && crt) {
		size_t sz = sizeof(name);
		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, name, &sz) == 0)
			snprintf(out, cap, "%s", name);
	}
}

static void format_time(time_t t, char *out, size_t cap)
{
	struct tm tm;
	if (t == (time_t)-1 || !gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, cap, "an unknown date");
}

/* The server's certificate did not verify: which of the reasons a user
 * can act on. The order matters when several hold: a certificate of an
 * authority we do not trust says nothing true about its dates or names. */
static int verify_failure(struct rc_conn *c, char *err, size_t err_len)
{
	unsigned st = gnutls_session_get_verify_cert_status(c->tls);
	gnutls_x509_crt_t crt = peer_crt(c->tls);
	const char *base = c->url.base;
	char buf[512];
	int rv = -EKEYREJECTED;

	if (st & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA)) {
		if (tls_cfg.cacert)
			failf(err, err_len, rv, "%s: the server's certificate is signed by an unknown authority (not by a CA of %s)",
			      base, tls_cfg.cacert);
		else
			failf(err, err_len, rv, "%s: the server's certificate is signed by an unknown authority (--cacert?)",
			      base);
	} else if (st & GNUTLS_CERT_EXPIRED) {
		format_time(crt ? gnutls_x509_crt_get_expiration_time(crt) : (time_t)-1, buf, sizeof(buf));
		failf(err, err_len, rv, "%s: the server's certificate expired on %s", base, buf);
	} else if (st & GNUTLS_CERT_NOT_ACTIVATED) {
		format_time(crt ? gnutls_x509_crt_get_activation_time(crt) : (time_t)-1, buf, sizeof(buf));
		failf(err, err_len, rv, "%s: the server's certificate is not valid before %s", base, buf);
	} else if (st & GNUTLS_CERT_UNEXPECTED_OWNER) {
		crt_names(crt, buf, sizeof(buf));
		failf(err, err_len, rv, "%s: hostname mismatch: the server's certificate is for %s, not %s", base,
		      buf[0] ? buf : "no name", c->url.host);
	} else if (st & GNUTLS_CERT_REVOKED) {
		failf(err, err_len, rv, "%s: the server's certificate has been revoked", base);
	} else if (st & GNUTLS_CERT_INSECURE_ALGORITHM) {
		failf(err, err_len, rv, "%s: the server's certificate is signed with an insecure algorithm", base);
	} else {
		gnutls_datum_t out = { 0 };
		if (gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &out, 0) == 0) {
			failf(err, err_len, rv, "%s: the server's certificate is refused: %s", base, (const char *)out.data);
			gnutls_free(out.data);
		} else {
			failf(err, err_len, rv, "%s: the server's certificate is refused", base);
		}
	}
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return rv;
}

/* A TLS server that asked for a client certificate and dropped the
 * connection before any answer: it refused ours, or wanted one and got
 * none. A server that requires one says so with an alert, but (TLS 1.3:
 * it judges after our part of the handshake is done) closes at once, and
 * the reset of our unread request may overtake the alert. 0 when that is
 * not the case. */
static int dropped_after_request(const struct rc_conn *c, char *err, size_t err_len)
{
	if (!c->tls || !c->cert_requested)
		return 0;
	if (!tls_cfg.cert)
		return failf(err, err_len, -EKEYREJECTED, "%s: the server asks for a client certificate (--cert/--key)",
			     c->url.base);
	return failf(err, err_len, -EKEYREJECTED,
		     "%s: the server refused the client certificate %s (it closed the connection)", c->url.base,
		     tls_cfg.cert);
}

/* One line for a TLS error of GnuTLS (gerr), in the handshake or after it
 * (TLS 1.3 servers judge a client's certificate after the client's part of
 * the handshake is done: their refusal arrives with the first read). */
static int tls_failure(struct rc_conn *c, int gerr, char *err, size_t err_len)
{
	const char *base = c->url.base;

	if (c->first_byte >= 0 && (c->first_byte < 0x14 || c->first_byte > 0x18))
		return failf(err, err_len, -EPROTO, "%s: not TLS: the server answered in plain text (http:// ?)", base);
	if (gerr == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
		return verify_failure(c, err, err_len);
	if (gerr == GNUTLS_E_FATAL_ALERT_RECEIVED || gerr == GNUTLS_E_CERTIFICATE_REQUIRED) {
		gnutls_alert_description_t a = gerr == GNUTLS_E_CERTIFICATE_REQUIRED ? GNUTLS_A_CERTIFICATE_REQUIRED
										    : gnutls_alert_get(c->tls);
		const char *name = gnutls_alert_get_name(a);
		if (!tls_cfg.cert && (c->cert_requested || a == GNUTLS_A_CERTIFICATE_REQUIRED))
			return failf(err, err_len, -EKEYREJECTED,
				     "%s: the server asks for a client certificate (--cert/--key)", base);
		switch (a) {
		case GNUTLS_A_BAD_CERTIFICATE:
		case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
		case GNUTLS_A_CERTIFICATE_REVOKED:
		case GNUTLS_A_CERTIFICATE_EXPIRED:
		case GNUTLS_A_CERTIFICATE_UNKNOWN:
		case GNUTLS_A_UNKNOWN_CA:
		case GNUTLS_A_ACCESS_DENIED:
			if (tls_cfg.cert)
				return failf(err, err_len, -EKEYREJECTED, "%s: the server refused the client certificate %s: %s",
					     base, tls_cfg.cert, name ? name : "refused");
			break;
		default:
			break;
		}
		return failf(err, err_len, -EPROTO, "%s: TLS: the server refused the connection: %s", base,
			     name ? name : gnutls_strerror(gerr));
	}
	bool dropped = gerr == GNUTLS_E_PREMATURE_TERMINATION || gerr == GNUTLS_E_PULL_ERROR || gerr == GNUTLS_E_PUSH_ERROR;
	int rv = dropped ? dropped_after_request(c, err, err_len) : 0;
	if (rv < 0)
		return rv;
	if (c->first_byte < 0 && dropped)
		return failf(err, err_len, -EPROTO, "%s: the server closed the connection in the TLS handshake (not TLS?)",
			     base);
	return failf(err, err_len, -EPROTO, "%s: TLS: %s", base, gnutls_strerror(gerr));
}

/* A client session for u, verifying as the header says; no transport yet.
 * alpn (NULL: none) is the one protocol offered in ALPN. */
static int session_new(const struct url *u, const char *alpn, gnutls_session_t *ret, char *err, size_t err_len)
{
	struct tls_creds *creds = NULL;
	gnutls_session_t s = NULL;
	int rv = tls_creds_get(&creds, err, err_len);

	if (rv < 0)
		return rv;
	rv = gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (rv < 0)
		return failf(err, err_len, -ENOMEM, "%s: TLS: %s", u->base, gnutls_strerror(rv));
	rv = gnutls_priority_set(s, tls_creds_priority(creds));
	if (rv == 0)
		rv = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(creds));
	/* SNI is for names only (RFC 6066: "Literal IPv4 and IPv6 addresses
	 * are not permitted") */
	if (rv == 0 && !is_ip(u->host))
		rv = gnutls_server_name_set(s, GNUTLS_NAME_DNS, u->host, strlen(u->host));
	if (rv == 0 && alpn) {
		gnutls_datum_t proto = { (unsigned char *)alpn, (unsigned)strlen(alpn) };
		rv = gnutls_alpn_set_protocols(s, &proto, 1, GNUTLS_ALPN_MANDATORY);
	}
	if (rv < 0) {
		gnutls_deinit(s);
		return failf(err, err_len, -EPROTO, "%s: TLS: %s", u->base, gnutls_strerror(rv));
	}
	/* chain and host name, checked in the handshake: no byte of a request
	 * goes to a server that is not the one named */
	gnutls_session_set_verify_cert(s, u->host, 0);
	gnutls_handshake_set_timeout(s, GNUTLS_INDEFINITE_TIMEOUT); /* the caller's deadline rules */
	*ret = s;
	return 0;
}

/* The transport once the handshake is done: the fd itself is the
 * transport's pointer, GnuTLS's own way, but sends with MSG_NOSIGNAL (a
 * server gone is an error, not a SIGPIPE). errno is GnuTLS's default
 * source of errors. */
static ssize_t fd_push(gnutls_transport_ptr_t p, const void *buf, size_t n)
{
	return send((int)(intptr_t)p, buf, n, MSG_NOSIGNAL);
}

static ssize_t fd_pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	return recv((int)(intptr_t)p, buf, n, 0);
}

static int fd_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct pollfd pf = { .fd = (int)(intptr_t)p, .events = POLLIN };
	return poll(&pf, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static void transport_fd(gnutls_session_t s, int fd)
{
	gnutls_transport_set_int(s, fd);
	gnutls_transport_set_push_function(s, fd_push);
	gnutls_transport_set_pull_function(s, fd_pull);
	gnutls_transport_set_pull_timeout_function(s, fd_pull_timeout);
}

int rc_tls_session(const struct url *u, int fd, gnutls_session_t *ret, char *err, size_t err_len)
{
	int rv = session_new(u, NULL, ret, err, err_len);
	if (rv == 0)
		transport_fd(*ret, fd);
	return rv;
}

/* TLS on the connected socket c->fd, handshake done by deadline. */
static int tls_start(struct rc_conn *c, const char *alpn, int64_t deadline, char *err, size_t err_len)
{
	int rv = session_new(&c->url, alpn, &c->tls, err, err_len);

	if (rv < 0) {
		c->tls = NULL;
		return rv;
	}
	c->first_byte = -1;
	c->cert_requested = false;
	gnutls_transport_set_ptr(c->tls, c);
	gnutls_transport_set_pull_function(c->tls, tls_pull);
	gnutls_transport_set_push_function(c->tls, tls_push);
	gnutls_transport_set_pull_timeout_function(c->tls, tls_pull_timeout);
	for (;;) {
		rv = gnutls_handshake(c->tls);
		if (rv == 0)
			break;
		if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
			int w = wait_fd(c->fd, tls_events(c), deadline);
			if (w == -ETIMEDOUT)
				rv = failf(err, err_len, w, "%s: TLS handshake not done within %d ms", c->url.base,
					   c->timeout_ms);
			else if (w < 0)
				rv = failf(err, err_len, w, "%s: TLS handshake: %s", c->url.base, strerror(-w));
			if (w < 0)
				break;
			continue;
		}
		if (gnutls_error_is_fatal(rv)) {
			c->cert_requested = gnutls_certificate_client_get_request_status(c->tls) != 0;
			rv = tls_failure(c, rv, err, err_len);
			break;
		}
	}
	if (rv == 0)
		c->cert_requested = gnutls_certificate_client_get_request_status(c->tls) != 0;
	/* The handshake's transport points at c, but an rc_conn is copied by
	 * value (an rc_node handed to the caller): from here on GnuTLS holds
	 * only the fd. */
	transport_fd(c->tls, c->fd);
	return rv;
}

int rc_tls_dial(const struct url *u, int timeout_ms, const char *alpn, int *ret_fd, gnutls_session_t *ret,
		char *err, size_t err_len)
{
	struct rc_conn c;
	int rv;

	rc_conn_init(&c, u, timeout_ms);
	c.fd = rc_connect(u, c.timeout_ms, err, err_len);
	if (c.fd < 0)
		return c.fd;
	rv = tls_start(&c, alpn, now_ms() + c.timeout_ms, err, err_len);
	if (rv == 0 && alpn) {
		gnutls_datum_t got = { NULL, 0 };
		if (gnutls_alpn_get_selected_protocol(c.tls, &got) < 0 || got.size != strlen(alpn) ||
		    memcmp(got.data, alpn, got.size))
			rv = failf(err, err_len, -EPROTO, "%s: the server did not agree to ALPN \"%s\"", u->base, alpn);
	}
	if (rv < 0) {
		rc_conn_close(&c);
		return rv;
	}
	*ret_fd = c.fd;
	*ret = c.tls;
	return 0;
}

/* --- the blocking client ---------------------------------------------------- */

void rc_conn_init(struct rc_conn *c, const struct url *u, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->url = *u;
	c->fd = -1;
	c->first_byte = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
}

void rc_conn_close(struct rc_conn *c)
{
	/* no close_notify: the request is answered (or given up on), and a
	 * server that cares has nothing more to say to us */
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void rc_response_free(struct rc_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Bytes out, with TLS or without. 0, -errno, or a GnuTLS error (< 0 too,
 * told apart by *tls_err). */
static int send_all(struct rc_conn *c, const void *p, size_t n, int64_t deadline, int *tls_err)
{
	const char *s = p;
	*tls_err = 0;
	while (n) {
		ssize_t w;
		short ev = POLLOUT;
		if (c->tls) {
			w = gnutls_record_send(c->tls, s, n);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
				ev = tls_events(c);
				w = -1;
				errno = EAGAIN;
			} else if (w < 0) {
				*tls_err = (int)w;
				return (int)w;
			}
		} else {
			w = send(c->fd, s, n, MSG_NOSIGNAL);
		}
		if (w < 0 && errno == EAGAIN) {
			int rv = wait_fd(c->fd, ev, deadline);
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

/* Bytes in: > 0, 0 at the end of the stream, -EAGAIN (wait for *ev), -errno,
 * or a GnuTLS error with *tls_err set. A TLS server that closes without
 * close_notify ends the stream too: HTTP's own framing tells a complete
 * answer from a cut one. */
static ssize_t recv_some(struct rc_conn *c, void *buf, size_t n, short *ev, int *tls_err)
{
	*ev = POLLIN;
	*tls_err = 0;
	if (!c->tls) {
		ssize_t r = recv(c->fd, buf, n, 0);
		return r < 0 ? (errno == EINTR ? -EAGAIN : -errno) : r;
	}
	ssize_t r = gnutls_record_recv(c->tls, buf, n);
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_REHANDSHAKE ||
	    r == GNUTLS_E_WARNING_ALERT_RECEIVED) {
		*ev = tls_events(c);
		/* a warning or a refused renegotiation may leave bytes to read at once */
		return r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ? -EAGAIN : -EINTR;
	}
	if (r == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	*tls_err = (int)r;
	return (ssize_t)r;
}

/* The first bytes of an answer to plain HTTP look like a TLS record (an
 * alert or a handshake, version 3.x): the server speaks TLS. */
static bool looks_tls(const struct rc_conn *c, const struct rc_reader *r)
{
	return !c->url.tls && r->len >= 2 && (r->buf[0] == 0x15 || r->buf[0] == 0x16) && r->buf[1] == 0x03;
}

/* One attempt on the current connection; *retry says whether the failure
 * may be retried (nothing of a response arrived on a reused connection). */
static int attempt(struct rc_conn *c, const struct rc_request *req, struct rc_reader *r, bool *retry, char *err,
		   size_t err_len)
{
	char head[2048];
	int64_t deadline = now_ms() + c->timeout_ms;
	bool reused = c->fd >= 0;
	int rv, tls_err;

	*retry = false;
	if (c->fd < 0) {
		c->fd = rc_connect(&c->url, c->timeout_ms, err, err_len);
		if (c->fd < 0)
			return c->fd;
		/* the handshake gets a timeout of its own, as the connect did */
		if (c->url.tls && (rv = tls_start(c, NULL, now_ms() + c->timeout_ms, err, err_len)) < 0)
			return rv;
		deadline = now_ms() + c->timeout_ms;
	}
	int hl = rc_head_format(head, sizeof(head), &c->url, req->method, req->path, req->content_type,
				req->body_len);
	if (hl < 0)
		return failf(err, err_len, hl, "%s: request path too long", c->url.base);
	rv = send_all(c, head, (size_t)hl, deadline, &tls_err);
	if (rv == 0 && req->body_len)
		rv = send_all(c, req->body, req->body_len, deadline, &tls_err);
	if (rv < 0 && tls_err && !reused)
		return tls_failure(c, tls_err, err, err_len);
	if (rv < 0) {
		*retry = reused;
		return failf(err, err_len, tls_err ? -EPIPE : rv, "%s: send: %s", c->url.base,
			     tls_err ? gnutls_strerror(tls_err) : strerror(-rv));
	}
	for (;;) {
		short ev;
		if ((rv = rc_reader_room(r, 16384)) < 0)
			return failf(err, err_len, rv, "out of memory");
		ssize_t n = recv_some(c, r->buf + r->len, r->cap - r->len, &ev, &tls_err);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN) {
			rv = wait_fd(c->fd, ev, deadline);
			if (rv < 0)
				return failf(err, err_len, rv, "%s: no answer within %d ms", c->url.base, c->timeout_ms);
			continue;
		}
		if (n < 0 && tls_err) {
			/* a kept connection's server may have gone meanwhile; a
			 * fresh one's refusal (of our certificate) is the answer */
			*retry = reused && !r->started;
			return tls_failure(c, tls_err, err, err_len);
		}
		if (n < 0) {
			rv = (int)n;
			*retry = reused && !r->started;
			return failf(err, err_len, rv, "%s: receive: %s", c->url.base, strerror(-rv));
		}
		r->len += (size_t)n;
		rv = rc_reader_parse(r, n == 0);
		if (rv == 1)
			return 0;
		if (rv < 0 && looks_tls(c, r))
			return failf(err, err_len, -EPROTO, "%s: the server speaks TLS (https://%s ?)", c->url.base,
				     c->url.hostport);
		if (rv < 0) {
			*retry = reused && !r->started && n == 0;
			if (rv == -EPIPE && !reused && !r->started) {
				int d = dropped_after_request(c, err, err_len);
				if (d < 0)
					return d;
				/* a TLS port may close on plain HTTP without a word */
				if (!c->url.tls)
					return failf(err, err_len, -ECONNRESET,
						     "%s: connection closed before the answer (a TLS port? https://)",
						     c->url.base);
			}
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
