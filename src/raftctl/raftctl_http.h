/* src/raftctl/raftctl_http.h — raftctl's HTTP/1.1 client: blocking, keep-alive.
 *
 * One struct rc_conn is one server ("http://host:port" or "https://...") and
 * at most one TCP connection to it, kept open between requests
 * (keep-alive). A request on a kept connection that the server closed
 * meanwhile (nothing of the answer read) is sent once more on a fresh
 * connection, as browsers and Go do.
 * Responses are parsed by net/http_parse.h (lengths, chunked, limits).
 *
 * Every wait is bounded by the connection's timeout (poll on a non-blocking
 * socket): connect, write and the whole response each get timeout_ms.
 * Errors are negative errno with one line of words in the caller's buffer,
 * e.g. "http://127.0.0.1:4001: connect: Connection refused". Nothing here
 * prints.
 *
 * https:// servers get TLS (GnuTLS over the same non-blocking socket): the
 * server's chain is verified against --cacert (else the system's trust
 * store) and must name the URL's host; a client certificate is presented
 * when --cert/--key were given. A refusal is one line that says which:
 * unknown authority, expired, another host's certificate, a client
 * certificate wanted, not TLS at all.
 *
 * The request head and the response reader are also used by `raftctl bench`
 * on its own non-blocking connections (rc_head_format, struct rc_reader).
 */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_HTTP_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>

#include "net/http_parse.h"
#include "net/url.h"

#define RC_URL_MAX 512

/* A server address (net/url.h) as raftctl takes it: http://HOST:PORT,
 * https://HOST:PORT, HOST:PORT, HOST (port 4001), :PORT (127.0.0.1),
 * [V6]:PORT; a trailing '/' is ignored. url.base is the normal form,
 * http://HOST:PORT or https://HOST:PORT. */
#define RC_URL_FORMS (URL_SHORT | URL_SLASH | URL_HTTPS)

/* The files for https:// (NULL: none): CAs that verify servers (NULL: the
 * system's trust store), and the client certificate and its key (both or
 * neither). Read once, when the first https:// connection is made; the
 * strings must outlive every connection. */
void rc_tls_files(const char *cacert, const char *cert, const char *key);
/* Whether a client certificate was given (for hints on a 401). */
bool rc_tls_has_cert(void);
/* A client TLS session for u over the connected non-blocking socket fd,
 * verifying and presenting as rc_http does; the caller drives
 * gnutls_handshake() and deinits it. 0, or a negative errno with err set
 * (-ENOKEY: the files, as for rc_http). For `raftctl bench`. */
int rc_tls_session(const struct url *u, int fd, gnutls_session_t *ret, char *err, size_t err_len);

/* Connects to u (https://) and does the TLS handshake, verifying and
 * presenting as rc_http does, offering only alpn (NULL: no ALPN) and
 * requiring the server to pick it: the connected non-blocking fd and the
 * session, both the caller's. 0 or a negative errno with err set as
 * rc_http's. For the gRPC commands ("h2"). */
int rc_tls_dial(const struct url *u, int timeout_ms, const char *alpn, int *ret_fd, gnutls_session_t *ret,
		char *err, size_t err_len);

/* Resolves u and connects a non-blocking TCP socket (O_CLOEXEC, TCP_NODELAY)
 * within timeout_ms. Returns the fd or a negative errno (words in err). */
int rc_connect(const struct url *u, int timeout_ms, char *err, size_t err_len);

/* "METHOD PATH HTTP/1.1\r\nHost: ...\r\nContent-Length: N\r\n...\r\n" into
 * buf; returns its length, or -ENOBUFS when it does not fit. */
int rc_head_format(char *buf, size_t cap, const struct url *u, const char *method, const char *path,
		   const char *content_type, size_t body_len);

/* Incremental response reader over a growing buffer: feed it bytes as they
 * arrive, get the status and the body when the response is complete. */
struct rc_reader {
	struct http_parser parser;
	uint8_t *buf;          /* unconsumed input */
	size_t len, cap;
	int status;
	bool keep_alive;
	bool started;          /* some byte of this response arrived */
	int found;             /* X-Raftd-Found: 1 true, 0 false, -1 absent */
	/* Body: into sink (when set and the status is 2xx), else collected
	 * here, up to max_body bytes. */
	int (*sink)(void *arg, const uint8_t *p, size_t n);
	void *sink_arg;
	char *body;
	size_t body_len, body_cap;
};

/* max_body: limit of a collected body and, with a sink, of the whole body
 * (0: 64 MiB). */
void rc_reader_init(struct rc_reader *r, uint64_t max_body);
void rc_reader_free(struct rc_reader *r);
/* Ready for the next response on the same connection (keeps unconsumed
 * input: a pipelined answer may already be there). */
void rc_reader_next(struct rc_reader *r);
/* Room for at least `want` more bytes at r->buf + r->len; -ENOMEM. */
int rc_reader_room(struct rc_reader *r, size_t want);
/* Parse what is buffered. Returns 1 when the response is complete, 0 when
 * more bytes are needed, or a negative errno (-EBADMSG, -E2BIG, or the
 * sink's error). eof: the connection ended after these bytes. */
int rc_reader_parse(struct rc_reader *r, bool eof);

struct rc_conn {
	struct url url;
	int fd;                /* -1: not connected */
	int timeout_ms;
	uint64_t max_body;     /* 0: 64 MiB */
	gnutls_session_t tls;  /* https:// and connected; else NULL */
	int first_byte;        /* the server's first byte on this connection, -1 none yet */
	bool cert_requested;   /* this connection's server asked for a client certificate */
};

struct rc_response {
	int status;
	/* raftd's X-Raftd-Found on a GET /db/ answer: 1 the key exists, 0
	 * it does not, -1 no such header (goraft, which answers both alike) */
	int found;
	char *body;            /* malloc'ed, NUL-terminated (not counted in len) */
	size_t len;
};

struct rc_request {
	const char *method;
	const char *path;
	const char *content_type; /* NULL: none sent */
	const void *body;
	size_t body_len;
	/* optional: a 2xx body goes here instead of into the response */
	int (*sink)(void *arg, const uint8_t *p, size_t n);
	void *sink_arg;
};

void rc_conn_init(struct rc_conn *c, const struct url *u, int timeout_ms);
void rc_conn_close(struct rc_conn *c);

/* Sends one request and reads its response. 0 with *ret filled (any HTTP
 * status: the caller judges it), or a negative errno with err set:
 * -ECONNREFUSED etc. (unreachable), -ETIMEDOUT, -EBADMSG (not HTTP),
 * -EKEYREJECTED (TLS: a certificate refused, by either side), -EPROTO (TLS
 * handshake failed, not TLS), -ENOKEY (the TLS files cannot be used: err
 * names the file; the same for every server, so callers stop there). */
int rc_http(struct rc_conn *c, const struct rc_request *req, struct rc_response *ret, char *err, size_t err_len);
void rc_response_free(struct rc_response *r);

#endif
