/* net/peer.h — HTTP/1.1 client to one Raft peer, on the shared io_uring.
 *
 * A peer is one remote "http://host:port" (goraft's connection string) or
 * "https://host:port", one keep-alive TCP connection to it at a time, and a
 * FIFO of requests. Requests
 * are written in order and their responses matched in order (HTTP/1.1
 * pipelining); cfg.max_pipeline bounds how many are on the wire at once — 1
 * for goraft peers (one AppendEntries in flight, docs/goraft-protocol.md
 * §6.3), more for raftd peers (peer_set_max_pipeline()).
 *
 * I/O: every operation is an SQE on the caller's ring whose user_data is a
 * struct uring_op inside the peer (base/uring_op.h); the caller's loop must
 * dispatch completions with uring_op_dispatch() and submit the ring. The
 * peer prepares SQEs and never submits, except when the SQ ring is full (it
 * then calls io_uring_submit() once to make room; that never blocks).
 * No call blocks, except getaddrinfo() inside peer_create() (see there).
 *
 * Bodies go out with IORING_OP_SENDMSG_ZC when the request asks for it: the
 * kernel reads the caller's buffers in place (nothing is copied between the
 * WAL batch and the socket). The kernel keeps referencing them after the
 * send completes, until its notification CQE; the release callback fires
 * only after that. If the kernel refuses SENDMSG_ZC (-EOPNOTSUPP/-EINVAL),
 * the peer falls back to plain sendmsg for the rest of its life and counts
 * the bytes as copied.
 *
 * Timeouts (all measured with CLOCK_MONOTONIC by a single IORING_OP_TIMEOUT
 * per peer): connect; sending one request; and the response, counted from
 * the end of the request's write (as Go's ResponseHeaderTimeout) until the
 * response is complete (stricter than Go, which has no body timeout; goraft
 * bodies are a few bytes written with the head). A timeout breaks the
 * connection: the timed-out request and every other unfinished request get
 * -ETIMEDOUT.
 *
 * Connection errors (refused, reset, timeout, malformed response) fail every
 * unfinished request with the error and start an exponential backoff
 * (backoff_min_ms doubling up to backoff_max_ms, reset by a complete
 * response). Reconnection is lazy: the next peer_submit() after the backoff
 * connects again; during the backoff peer_submit() returns the last error.
 * A graceful close (a response with "Connection: close", or the server
 * closing an idle keep-alive connection) is not an error: requests not yet
 * written stay queued and go out on a new connection at once; requests
 * already written but unanswered fail with -ECONNRESET.
 *
 * TLS (https://, cfg.tls required): a GnuTLS client session per connection,
 * driven by completions like the rest: its transport functions write
 * records into a buffer of the peer that an IORING_OP_SEND writes out, and
 * read from a buffer that IORING_OP_RECV fills (EAGAIN when it is empty);
 * nothing blocks. The server's chain is verified against cfg.tls's CAs and
 * its certificate must name the URL's host (a DNS name, with SNI; an IP
 * address against the IP SANs); our certificate, if cfg.tls has one, is sent
 * when the server asks. connect_timeout_ms covers the handshake. A refused
 * certificate fails the requests with -EKEYREJECTED, another handshake or
 * session failure with -EPROTO; peer_tls_error() says why in one line. Request
 * bytes are encrypted into the peer's buffer, so they are counted in
 * bytes_tls_copied, never in bytes_zc, whatever zero_copy asked. After the
 * handshake, when the kernel offers the tls ULP (and !cfg.no_ktls), the
 * session's keys go to the kernel (net/ktls.h): the connection then works
 * as a plain one (plaintext, SENDMSG_ZC and its counters, stats.ktls = 1);
 * where it is not offered (ENOENT: no tls module) the peer stays in user
 * space and does not try again. docs/design.md, "TLS between members".
 *
 * Use (the daemon):
 *   peer_create(&ring, "http://10.0.0.2:4001", &cfg, &p);    // at startup
 *   wire_ae_encode_iov(&hdr, entries, n, scratch, cap, iov, iovcap, &cnt, &len);
 *   struct peer_request r = { .method = "POST", .path = "/raft/appendEntries",
 *       .iov = iov, .iovcnt = cnt, .zero_copy = true,
 *       .done = on_ae_reply, .release = unref_batch, .arg = ctx };
 *   if (peer_pending(p) == 0) peer_submit(p, &r);            // goraft: 1 in flight
 *   ... on_ae_reply(ctx, 200, body, len) -> wire_decode(WIRE_AE_RESP, ...)
 *   ... unref_batch(ctx): the WAL batch buffer may be recycled
 *   peer_stats(p)->bytes_zc ...                               // /metrics
 *   peer_destroy(p, on_gone, NULL);                           // keep the loop running until on_gone
 */
#ifndef RAFTD_NET_PEER_H
#define RAFTD_NET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <liburing.h>

#include "net/tls.h"

struct peer;

struct peer_config {
	unsigned connect_timeout_ms;  /* 0: 1000 */
	unsigned send_timeout_ms;     /* 0: 2000; one request's whole write */
	unsigned response_timeout_ms; /* 0: 200 (goraft's ResponseHeaderTimeout) */
	unsigned backoff_min_ms;      /* 0: 50 */
	unsigned backoff_max_ms;      /* 0: 2000 */
	unsigned max_queue;           /* 0: 32; unfinished requests (slots, allocated once) */
	unsigned max_pipeline;        /* 0: 1; requests written but not yet answered */
	size_t max_response_body;     /* 0: 64 KiB; a larger response is a protocol error */
	size_t max_head;              /* 0: 8 KiB; response header section */
	/* For https:// urls: our client certificate (may be none) and the CAs
	 * that verify the server; required for https, ignored for http. The
	 * peer takes a reference. */
	struct tls_creds *tls;
	bool no_ktls;                 /* never try kernel TLS (user-space GnuTLS only) */
};

/* Counters for /metrics; monotonic over the peer's life. */
struct peer_stats {
	uint64_t requests;        /* accepted by peer_submit() */
	uint64_t responses;       /* completed with an HTTP status (any status) */
	uint64_t failures;        /* completed with a negative errno */
	uint64_t timeouts;        /* connections broken by a timeout */
	uint64_t connects;        /* connections established */
	uint64_t connect_failures;
	uint64_t disconnects;     /* connections ended, for any reason */
	uint64_t bytes_zc;        /* written with SENDMSG_ZC (request heads included) */
	uint64_t bytes_zc_copied; /* of bytes_zc, those the kernel reported it copied anyway
				   * (IORING_SEND_ZC_REPORT_USAGE, kernel >= 6.2; loopback does) */
	uint64_t bytes_copied;    /* written with plain sendmsg (requested or fallback) */
	uint64_t bytes_received;
	uint64_t zc_fallbacks;    /* 1 once SENDMSG_ZC was refused and plain sendmsg took over */
	uint64_t bytes_tls_copied; /* plaintext (heads and bodies) encrypted in user space by
				    * GnuTLS into the peer's buffer and sent from there: copies,
				    * never counted in bytes_zc */
	uint64_t ktls;            /* 1 when the kernel does TLS for the current/last
				   * connection (tls ULP); 0 for plain HTTP and user-space TLS */
};

/* Completion of a request. res: the HTTP status (100..599; the caller must
 * treat anything but 200 as "no response", docs/goraft-protocol.md §2.2,
 * §11.14) or a negative errno: -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EPROTO
 * (malformed or unsolicited response), -E2BIG (response over a limit),
 * -ECANCELED (peer destroyed), or any other socket error. body/len: the
 * decoded response body, valid only during the call (NULL/0 on error). Called
 * exactly once per accepted request, never from inside peer_submit(). It may
 * call peer_submit() and peer_destroy(). */
typedef void peer_done_fn(void *arg, int res, const uint8_t *body, size_t len);

/* The kernel no longer references the request's body buffers (or iov
 * array): they may be freed or reused. Called exactly once per accepted
 * request, always after done (possibly right after it, possibly later,
 * even after peer_destroy()). May be NULL. Must not call into the peer. */
typedef void peer_release_fn(void *arg);

struct peer_request {
	const char *method;        /* e.g. "POST" */
	const char *path;          /* e.g. "/raft/appendEntries" */
	const char *content_type;  /* NULL: "application/protobuf" */
	/* The body. The array and the buffers it points to are lent to the peer
	 * until release: not copied (only the request head is, into the
	 * peer's slot). Any number of iovecs; total is the Content-Length. */
	const struct iovec *iov;
	size_t iovcnt;
	bool zero_copy;            /* send with SENDMSG_ZC (AppendEntries) */
	peer_done_fn *done;
	peer_release_fn *release;
	void *arg;                 /* passed to done and release */
};

/* Create a peer for url, which must be "http://host:port" (net/url.h with
 * URL_SLASH: an optional trailing "/" is tolerated; no path, no userinfo):
 * every connection string a /join is accepted with; or "https://host:port"
 * (URL_HTTPS) when cfg->tls is set (-EINVAL without it). host may be a
 * name: it is resolved here, once, with getaddrinfo() — the only blocking
 * call of this module (call it at startup/configuration time, never on a
 * hot path). Up to 4 of the addresses returned are kept for the peer's
 * life (DNS changes are not seen); connections try them in turn, moving to
 * the next after a failed connection attempt (so "localhost" reaches a node
 * on 127.0.0.1 even when ::1 comes first, one backoff later).
 * cfg NULL: all defaults. No connection is opened until the first request.
 * Returns 0 and *ret_peer, or -EINVAL (bad url), -EHOSTUNREACH (resolution
 * failed), -ENOMEM. The ring must outlive the peer. */
int peer_create(struct io_uring *ring, const char *url, const struct peer_config *cfg,
		struct peer **ret_peer);

/* Queue a request. Returns 0: done and release will each be called exactly
 * once, later. Returns a negative errno and calls nothing (the caller keeps
 * ownership of everything): -ENOBUFS (max_queue unfinished requests),
 * -EMSGSIZE (method/path/content type too long for the head), -EINVAL,
 * -ESHUTDOWN (peer being destroyed), the connection error that started the
 * current backoff (e.g. -ECONNREFUSED) while it lasts, -EBUSY (no SQE even
 * after submitting), or a socket() error. */
int peer_submit(struct peer *p, const struct peer_request *req);

/* Requests accepted and not yet completed (done not called yet). A leader
 * keeping one AppendEntries in flight to a goraft peer checks this. */
unsigned peer_pending(const struct peer *p);

/* Change how many requests may be on the wire at once (>= 1); applies to
 * requests not yet written. */
void peer_set_max_pipeline(struct peer *p, unsigned n);

const struct peer_stats *peer_stats(const struct peer *p);

/* The peer's connection string as given to peer_create(). */
const char *peer_url(const struct peer *p);

/* The addresses peer_create() resolved its host to (*ret_n of them): the
 * HTTP server takes connections from them as a member's. */
const struct sockaddr_storage *peer_addrs(const struct peer *p, size_t *ret_n);

/* Why the last TLS connection attempt or session failed, one line for the
 * log ("server certificate expired", "server certificate signed by an
 * unknown authority", "name n1 not in the server certificate", "the server
 * wants a client certificate (alert: ...)", "TLS handshake timed out", ...);
 * "" when nothing failed since the last successful handshake (and always
 * for http). Read it in a done callback that got -EKEYREJECTED or -EPROTO.
 * Valid until the next call into the peer. */
const char *peer_tls_error(const struct peer *p);

/* Start destroying the peer: every unfinished request's done is called with
 * -ECANCELED (from inside this call), the connection is shut down, and
 * in-flight operations are cancelled (IORING_OP_ASYNC_CANCEL). The memory is
 * freed, and destroyed(arg) called, once the last of the peer's CQEs
 * (including zero-copy notifications, after which the remaining release
 * callbacks fire) has been dispatched — possibly from inside this call when
 * nothing is in flight. The caller must keep dispatching completions until
 * then and must not use p after this call. destroyed may be NULL. */
void peer_destroy(struct peer *p, void (*destroyed)(void *arg), void *arg);

#endif
