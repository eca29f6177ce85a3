/* net/http_server.h — the HTTP server on the event loop.
 *
 * libmicrohttpd runs without threads of its own: its epoll fd is polled
 * through the loop's ring and MHD_run() is called when it is ready, when a
 * connection timeout is due, and after a suspended request was answered.
 *
 * A request reaches its handler once its whole body has arrived (bodies
 * above the route's limit get 413 without reaching the handler). The
 * handler answers with httpd_reply(), right away or later: a request that
 * is not answered when the handler returns is suspended (its connection
 * stays open and idle) until httpd_reply() is called, e.g. when the write
 * it proposed has committed. Every request must be answered exactly once;
 * httpd_stop() answers those still waiting with 503.
 *
 * Connections (accepted here, then handed to libmicrohttpd) have budgets,
 * so that no client, and no number of them, can take a node offline:
 *   - a connection from a member's address (httpd_set_peer_addrs) takes one
 *     of peer_connections while there is one, a budget clients cannot use;
 *     every other connection takes one of max_connections, and at most
 *     max_per_address from one source address. Past its budget, a
 *     connection is answered 503 at once and closed (never left in the
 *     listen backlog). The head decides for good: a request for a route not
 *     marked `peer` on a member's connection moves it to the clients'
 *     budget (503 when that is full).
 *   - a connection's first request head must arrive whole within
 *     head_timeout_s of its start, a later one within the larger of that
 *     and connection_timeout_s after the previous response; a body within
 *     body_timeout_s after its head. Past that the connection is closed
 *     (with 408 when it never had a response). The idle timeout
 *     (connection_timeout_s) alone does not bound a client that sends a
 *     byte now and then.
 *   - bodies are bounded per request (the route's max_body; for a `peer`
 *     route from an address that is not a member's, max_stranger_body once
 *     any member address is known) before any of them is read, and in total
 *     (max_body_memory: a request whose Content-Length does not fit what
 *     the bodies being read hold is answered 503 with Retry-After).
 *
 * TLS (httpd_config.tls): every connection speaks TLS 1.2 or 1.3 with the
 * credentials' priority string; the handshake counts in the connection's
 * budget and its first head deadline, so half-open handshakes are bounded
 * like slow heads. A connection refused at accept or past its deadline is
 * closed without the plain-text 503 or 408, which a TLS client could not
 * read. A client certificate is requested, never required, when any trust
 * is set; httpd_identity() says what it proves, and the caller decides
 * what that identity may do (401/403 are src/raftd's).
 *
 * The request (and its body, path and headers) belongs to the server and
 * stays valid until httpd_reply() returns; after that the handler must not
 * touch it.
 */
#ifndef RAFTD_NET_HTTP_SERVER_H
#define RAFTD_NET_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/histogram.h"
#include "base/loop.h"
#include "net/tls.h"

struct httpd;
struct httpd_request;

typedef void (*httpd_handler)(struct httpd_request *req, void *data);

struct httpd_route {
	const char *method;  /* "GET", "POST", ...; NULL for any */
	const char *path;    /* exact path, or a prefix ending in '/' when prefix is set */
	bool prefix;
	size_t max_body;     /* larger bodies get 413 */
	unsigned max_active; /* requests of this route at once (head read to
			      * response sent); more get 503 with Retry-After.
			      * 0: no limit */
	httpd_handler handler;
	void *data;
	bool peer;           /* a peer RPC: may use the peers' connection budget */
};

/* TLS on the port (see "TLS" above). */
struct httpd_tls {
	struct tls_creds *creds;        /* the server's certificate and key (required) */
	struct tls_creds *client_trust; /* verifies client certificates on non-peer routes; NULL: none */
	struct tls_creds *peer_trust;   /* verifies certificates on peer routes; NULL: none */
};

struct httpd_config {
	const char *listen_host;  /* NULL or "" for every address */
	uint16_t port;            /* 0: a free port (see httpd_port) */
	int listen_fd;            /* >= 0: use this socket (socket activation) */
	unsigned max_connections;       /* clients' connections (0: 1024) */
	unsigned peer_connections;      /* members' connections on top (0: none reserved) */
	unsigned max_per_address;       /* clients' connections from one address (0: no limit) */
	unsigned connection_timeout_s;  /* idle keep-alive connections are closed after this */
	unsigned head_timeout_s;        /* a whole request head (0: connection_timeout_s) */
	unsigned body_timeout_s;        /* a whole body, after its head (0: no limit) */
	uint64_t max_stranger_body;     /* peer routes from non-member addresses (0: no limit) */
	uint64_t max_body_memory;       /* bodies being read, in total (0: no limit) */
	size_t max_head;                /* a request's head and its response's, per
					 * connection (0: libmicrohttpd's 32 KiB); a
					 * longer head gets 414 or 431. Above 64 KiB,
					 * only a plain connection whose FIRST request
					 * line is longer than 32 KiB gets it; the others
					 * (and TLS ones) get 64 KiB (http_server.c,
					 * SHORT_HEAD, says why). */
	const struct httpd_route *routes;
	size_t n_routes;
	const struct httpd_tls *tls;    /* NULL: plain HTTP. httpd takes its own references. */
};

struct httpd_stats {
	uint64_t requests;
	uint64_t responses_by_class[6]; /* [2] = 2xx ... [5] = 5xx */
	uint64_t suspended_now;
	uint64_t body_too_large;
	uint64_t bad_framing;   /* refused for their Content-Length / Transfer-Encoding */
	uint64_t route_busy;    /* 503 for a route at its max_active */
	uint64_t conn_refused;  /* 503 at accept: over a connection budget */
	uint64_t head_timeouts; /* closed: no whole head within head_timeout_s */
	uint64_t body_timeouts; /* closed: no whole body within body_timeout_s */
	uint64_t stranger_refused; /* 413: a peer route's body too large from a non-member */
	uint64_t memory_refused;   /* 503: the body did not fit max_body_memory */
	uint64_t wrong_protocol;   /* 400 and closed: TLS to a plain port, plain HTTP to a TLS one */
	uint64_t conns_clients;    /* open now, on the clients' budget */
	uint64_t conns_peers;      /* open now, on the peers' budget */
	uint64_t conns_long_head;  /* given max_head for a long first request line */
	uint64_t body_bytes;       /* now reserved by bodies being read */
};

/* Per route, for /metrics: the duration of its requests (head received
 * to response sent) and how many were answered with each status code.
 * Only the routes' own strings become labels, never a request's path or
 * method: what a client sends cannot add series. */
#define HTTPD_CODES 16
struct httpd_route_stats {
	const struct httpd_route *route; /* NULL: the one for no route */
	struct hist duration;
	struct {
		unsigned code; /* 0: free; the last slot (code 0) counts the codes that found none */
		uint64_t count;
	} codes[HTTPD_CODES];
};

/* Starts listening. Returns 0, or -errno with a reason in err. */
int httpd_start(struct loop *loop, const struct httpd_config *cfg, struct httpd **ret, char *err,
		size_t err_len);
/* Answers waiting requests with 503 (and requests arriving meanwhile,
 * without their handler), closes every connection, frees. Returns 0, or
 * -ETIMEDOUT when the kernel did not let go of the server's polls in time:
 * the server is then left allocated (a leak, the caller may log it), as
 * the kernel may still complete into it. */
int httpd_stop(struct httpd *server);
uint16_t httpd_port(const struct httpd *server);

/* The members' addresses (a copy is kept): their connections may use the
 * peers' budget and send peer routes bodies up to the route's max_body. */
void httpd_set_peer_addrs(struct httpd *server, const struct sockaddr_storage *addrs, size_t n);
const struct httpd_stats *httpd_stats(const struct httpd *server);
/* One per route of the config, in its order, then one for requests that
 * matched no route or were refused before one was looked for; *ret_n is
 * n_routes + 1. */
const struct httpd_route_stats *httpd_route_stats(const struct httpd *server, size_t *ret_n);

/* New credentials (SIGHUP): connections accepted from now on use them,
 * open ones keep theirs (and their trust). httpd takes references.
 * Returns 0, -EINVAL (a plain-HTTP server, or no certificate in
 * tls->creds) or -ENOMEM; the old credentials stay on error. */
int httpd_set_tls(struct httpd *server, const struct httpd_tls *tls);

/* The identity of the request's connection, verified against the route's
 * trust (peer_trust for a route marked peer, client_trust otherwise, also
 * when no route matched) of the credentials the connection started with;
 * computed once per connection and trust. Verdict TLS_PLAIN on a
 * plain-HTTP server; TLS_REFUSED "no CA configured to verify it" for a
 * certificate when that trust is NULL. Valid until httpd_reply(). */
const struct tls_identity *httpd_identity(struct httpd_request *req);

/* The request line and body. */
const char *httpd_method(const struct httpd_request *req);
/* The path, percent-decoded as libmicrohttpd does (url_unescape); as a C
 * string it ends at the first NUL byte a %00 made, httpd_path_n() gives
 * all of it. */
const char *httpd_path(const struct httpd_request *req);
const char *httpd_path_n(const struct httpd_request *req, size_t *ret_len);
/* The request target as the client sent it (path and query, not decoded). */
const char *httpd_target(const struct httpd_request *req);
/* Value of a query argument (?consistent=true), or NULL. */
const char *httpd_query(const struct httpd_request *req, const char *name);
const char *httpd_header(const struct httpd_request *req, const char *name);
const uint8_t *httpd_body(const struct httpd_request *req, size_t *ret_len);

/* Answers the request: status, an optional Content-Type (NULL: none), the
 * body (copied). extra_headers is NULL or a NULL-terminated list of
 * name, value pairs. Returns 0, or -ENOMEM (the request is then answered
 * with 500 if at all possible). */
int httpd_reply(struct httpd_request *req, unsigned status, const char *content_type, const void *body,
		size_t len, const char *const *extra_headers);

/* Answers with `size` bytes of the file fd from its start, streamed by the
 * kernel (sendfile) as the client reads, so no copy of the file is held
 * in memory. The server owns fd from here on, even on error. Returns 0 or
 * -ENOMEM (then answered with 500). */
int httpd_reply_fd(struct httpd_request *req, unsigned status, const char *content_type, int fd,
		   uint64_t size, const char *const *extra_headers);

/* A plain text reply ("reason\n"), with goraft's headers for errors. */
int httpd_reply_text(struct httpd_request *req, unsigned status, const char *text);

/* Cookie for the handler's own state while the request waits. */
void httpd_set_user(struct httpd_request *req, void *user);
void *httpd_user(const struct httpd_request *req);
/* Whether the client of a request waiting for its answer (suspended) has
 * closed its connection or reset it, so that a long wait (GET /db?wait)
 * can end. The request must still be answered (the answer goes nowhere). */
bool httpd_request_gone(const struct httpd_request *req);

#endif
