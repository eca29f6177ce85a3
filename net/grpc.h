/* net/grpc.h — a gRPC server on HTTP/2 (nghttp2), driven by the event loop.
 *
 * Cleartext HTTP/2 with prior knowledge: a client opens with the HTTP/2
 * preface, as etcdctl does for http:// endpoints. Each stream is one call;
 * its :path (/package.Service/Method) picks a method from the caller's
 * table. Messages are gRPC's length-prefixed frames (1 byte compressed
 * flag, 4 bytes big-endian length); the status goes in trailers
 * (grpc-status, grpc-message percent-encoded).
 *
 * No threads and no blocking calls: sockets are non-blocking, polled
 * through the loop (base/loop.h); what handlers answer from outside a
 * callback (a reply after a Raft commit) goes out at the end of the loop
 * pass, from an idle hook.
 *
 * Memory is bounded: a call buffers at most one incoming message
 * (max_recv_msg), and queued output is capped per call and per connection;
 * a connection whose socket does not take more output is not read from
 * until it does, so a client that stops reading stops being heard. Flow
 * control is nghttp2's: output waits for the peer's window.
 *
 * The transport is a seam (struct grpc_io): plain sockets by default, TLS
 * (net/grpc_tls.c) with grpc_config.tls. With TLS every connection speaks
 * TLS 1.2 or 1.3 (the credentials' priority string) and must pick ALPN
 * "h2"; the handshake counts in the connection budget and must end, with
 * the client's preface, within preface_timeout_ms. A client certificate is
 * requested whenever client_trust is set, and required (refused in the
 * handshake unless client_trust verifies it) with client_cert_auth, as
 * etcd's --client-cert-auth; grpc_call_identity() says what it proves and
 * the caller decides what that identity may do.
 */
#ifndef RAFTD_NET_GRPC_H
#define RAFTD_NET_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/loop.h"
#include "net/tls.h"

/* gRPC status codes (grpc/doc/statuscodes.md). */
enum grpc_status {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

struct grpc_server;
struct grpc_call;

enum grpc_kind {
	/* One request message, then the handler answers: grpc_reply(), or
	 * grpc_send() any number of times and grpc_finish() (server
	 * streaming, as Maintenance.Snapshot). The handler runs once the
	 * client has half-closed. */
	GRPC_UNARY,
	/* Messages both ways (Watch, LeaseKeepAlive): the handler runs for
	 * each request message as it arrives, on_half_close when the client
	 * is done sending. */
	GRPC_STREAMING,
};

struct grpc_method {
	const char *path; /* "/etcdserverpb.KV/Range" */
	enum grpc_kind kind;
	/* A whole request message (len bytes at msg, valid until the
	 * handler returns, even if it finishes the call). The call stays the handler's until it calls grpc_finish()
	 * or grpc_reply(), or on_cancel tells it the call is gone; it may
	 * answer later, from anywhere on the loop's thread. */
	void (*handle)(struct grpc_call *call, const uint8_t *msg, size_t len);
	/* GRPC_STREAMING: the client will send nothing more. Optional. */
	void (*on_half_close)(struct grpc_call *call);
	/* The call is going away before the handler finished it: the client
	 * reset the stream, its deadline passed, the connection closed or the
	 * server stops. The handler drops every reference to the call; it is
	 * freed when this returns. Optional for handlers that always answer
	 * at once. */
	void (*on_cancel)(struct grpc_call *call);
	/* Queued output fell to half the call's budget after grpc_send()
	 * refused with -ENOBUFS: send more. Optional. */
	void (*on_writable)(struct grpc_call *call);
	void *data;
};

/* How a connection reads and writes its bytes; NULL in the config means
 * plain non-blocking sockets. open() makes the per-connection context (a
 * TLS session, say); recv() and send() return a count, 0 from recv() at
 * the end, or -errno (-EAGAIN: try when the socket is ready). send() that
 * returned -EAGAIN is called again with the same bytes first. */
struct grpc_io {
	int (*open)(void *io_data, int fd, void **ret_ctx);
	ssize_t (*recv)(void *ctx, void *buf, size_t len);
	ssize_t (*send)(void *ctx, const void *buf, size_t len);
	void (*close)(void *ctx);
	void *io_data;
	/* Optional: the transport's own opening (a TLS handshake) before
	 * any HTTP/2 byte: 0 once done, -EAGAIN to be called again when the
	 * socket is ready, other -errno: the connection is refused. */
	int (*handshake)(void *ctx);
	/* Optional: after -EAGAIN from handshake() or recv(), what the
	 * transport waits for: POLLIN or POLLOUT (a TLS session may have to
	 * write before it can read on). Without it: POLLIN. */
	unsigned (*blocked_on)(void *ctx);
	/* Optional: the end of a burst of send()s, for a transport that
	 * gathers them (TLS records): writes what it holds. 0, -EAGAIN (call
	 * again when the socket takes more; send() says -EAGAIN meanwhile),
	 * or another -errno: the connection is gone. */
	int (*flush)(void *ctx);
};

/* TLS on the port (net/grpc_tls.c). */
struct grpc_tls {
	struct tls_creds *creds;        /* the server's certificate and key (required) */
	struct tls_creds *client_trust; /* verifies clients' certificates; NULL: none */
	/* Refuse in the handshake a client whose certificate client_trust
	 * does not verify, or who sends none (needs client_trust). */
	bool client_cert_auth;
	/* Optional: why a handshake was refused (a client's certificate,
	 * its ALPN), once per refused connection, for the log:
	 * "client 127.0.0.1:40000 (CN reader): certificate signed by an
	 * unknown authority". Runs on the loop's thread. */
	void (*on_refused)(void *data, const char *reason);
	void *data;
};

struct grpc_config {
	const char *listen_host; /* numeric IPv4 or IPv6; NULL or "": 127.0.0.1 */
	uint16_t port;           /* 0: any free port (grpc_port() tells) */
	bool no_listen;          /* connections only through grpc_adopt() */
	const struct grpc_method *methods;
	size_t n_methods;
	const struct grpc_io *io;   /* NULL: plain sockets, or TLS with tls */
	const struct grpc_tls *tls; /* NULL: cleartext. The server takes its own
				     * references; io must then be NULL. */
	/* Limits; 0 takes the default in brackets. */
	uint32_t max_streams;      /* concurrent streams per connection (256) */
	size_t max_recv_msg;       /* a request message (1.5 MiB, etcd's default) */
	size_t max_send_msg;       /* a response message (64 MiB) */
	size_t call_out_budget;    /* queued output of one call (1 MiB; one message always fits) */
	size_t conn_out_budget;    /* queued output of one connection's calls (16 MiB) */
	size_t conn_in_budget;     /* request bytes buffered on one connection (8 MiB) */
	unsigned max_connections;  /* beyond: accepted and closed at once (1024) */
	size_t max_header_bytes;   /* a request's header block (16 KiB) */
	unsigned preface_timeout_ms; /* for the client's preface and SETTINGS (10 s) */
};

struct grpc_stats {
	uint64_t conns_accepted, conns_refused, conns_open;
	uint64_t calls_started, calls_finished, calls_cancelled;
	/* connections closed for bad HTTP/2, or a failed TLS handshake (not
	 * TLS, no ALPN h2, a refused certificate, too slow) */
	uint64_t protocol_errors;
	uint64_t tls_refused; /* of those, refused for the certificate or ALPN */
	/* system calls that wrote to a socket, on the cleartext transport
	 * of the server's own (not with TLS or grpc_config.io) */
	uint64_t socket_writes;
};

/* Starts listening (unless no_listen). Returns 0 or -errno with err filled. */
int grpc_start(struct loop *loop, const struct grpc_config *cfg, struct grpc_server **ret, char *err,
	       size_t err_len);
/* Cancels every call (on_cancel), closes every connection and the
 * listener, and frees the server. */
void grpc_stop(struct grpc_server *server);
uint16_t grpc_port(const struct grpc_server *server);
const struct grpc_stats *grpc_stats(const struct grpc_server *server);
/* Serves an already connected socket (a test's socketpair, the fuzzer);
 * takes the fd, even on failure. Returns 0 or -errno. */
int grpc_adopt(struct grpc_server *server, int fd);
/* New TLS credentials (SIGHUP): connections accepted from now on use
 * them, open ones keep theirs (and their trust). The server takes
 * references. Returns 0, -EINVAL (a cleartext server, no certificate in
 * tls->creds, client_cert_auth without client_trust) or -ENOMEM; the old
 * credentials stay on error. */
int grpc_set_tls(struct grpc_server *server, const struct grpc_tls *tls);

/* --- inside a call ------------------------------------------------------ */

/* Queues one response message (copied). 0; -ENOBUFS over the call's or the
 * connection's output budget (nothing queued: wait for on_writable; an
 * empty call always takes one message); -EMSGSIZE over max_send_msg; -ENOMEM;
 * -EPIPE once finished. */
int grpc_send(struct grpc_call *call, const uint8_t *msg, size_t len);
/* Ends the call with a status and an optional message (any bytes; sent
 * percent-encoded). The call is no longer the handler's. */
void grpc_finish(struct grpc_call *call, enum grpc_status status, const char *message);
/* grpc_send() then grpc_finish(OK); if the message cannot be queued the
 * call ends with RESOURCE_EXHAUSTED instead. The unary answer. */
void grpc_reply(struct grpc_call *call, const uint8_t *msg, size_t len);

const struct grpc_method *grpc_call_method(const struct grpc_call *call);
void grpc_call_set_user(struct grpc_call *call, void *user);
void *grpc_call_user(const struct grpc_call *call);
/* The deadline from grpc-timeout, CLOCK_MONOTONIC ns; UINT64_MAX if none. */
uint64_t grpc_call_deadline_ns(const struct grpc_call *call);
/* What the client's certificate proves, verified against the trust of the
 * credentials its connection started with (computed once per connection):
 * TLS_PLAIN on a cleartext server, TLS_NO_CERT, TLS_VERIFIED (the CN and
 * SANs are the identity: tls_identity_has()) or TLS_REFUSED with a reason
 * ("no CA configured to verify it" without client_trust). Valid while the
 * call is the handler's. */
const struct tls_identity *grpc_call_identity(const struct grpc_call *call);
/* A request header's value (lowercase name), or NULL. Metadata the server
 * keeps: authorization, grpc-encoding, user-agent; others are dropped. */
const char *grpc_call_header(const struct grpc_call *call, const char *name);

/* For tests and callers: percent-encodes a grpc-message value into out
 * (NUL-terminated, truncated to fit). Returns the length written. */
size_t grpc_percent_encode(const char *in, char *out, size_t out_len);
/* Parses a grpc-timeout value into nanoseconds; -EINVAL if malformed. */
int grpc_parse_timeout(const char *value, size_t len, uint64_t *ret_ns);

#endif
