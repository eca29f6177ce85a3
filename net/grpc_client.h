/* net/grpc_client.h — a small synchronous gRPC client (nghttp2): unary
 * calls and streaming ones (Watch, LeaseKeepAlive).
 *
 * One struct grpcc is one HTTP/2 connection, cleartext with prior knowledge
 * (what etcdctl speaks to http:// endpoints), kept alive for any number of
 * calls: one unary call at a time, and any number of open streams beside
 * it (what a stream receives while the caller waits on another call is
 * kept for it). Every wait has a deadline: a connection, a
 * call (sent to the server as grpc-timeout as well), so a dead, paused or
 * misbehaving server costs at most the caller's timeout, never a hang.
 *
 * The bytes go through a struct grpcc_io: plain non-blocking sockets by
 * default; a TLS session can take their place (grpcc_adopt() with an io)
 * without touching the HTTP/2 side.
 *
 * Not thread-safe per connection; separate connections are independent.
 */
#ifndef RAFTD_NET_GRPC_CLIENT_H
#define RAFTD_NET_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct grpcc;

/* The transport seam (as net/grpc.h's struct grpc_io for the server):
 * recv() and send() return a count, 0 from recv() at the end of the
 * stream, or -errno (-EAGAIN: poll the fd for events() and call again).
 * NULL in grpcc_adopt(): plain send()/recv() on the fd. */
struct grpcc_io {
	ssize_t (*recv)(void *ctx, void *buf, size_t len);
	ssize_t (*send)(void *ctx, const void *buf, size_t len);
	/* after -EAGAIN: POLLIN or POLLOUT (NULL: what the call waited for) */
	short (*events)(void *ctx, short want);
	void (*close)(void *ctx);
	void *ctx;
};

/* Connects to host:port (a numeric address or a name; names resolve
 * through getaddrinfo, which may block on DNS) within timeout_ms and
 * readies the HTTP/2 session (its preface goes out with the first call).
 * 0, or -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH (and other connect
 * errors), -EINVAL (an address that does not parse), -ENOMEM. */
int grpcc_connect(const char *host, uint16_t port, int timeout_ms, struct grpcc **ret);
/* Speaks gRPC over an already connected socket (taken, even on failure)
 * through io (NULL: plain); authority is the :authority header ("" ok).
 * 0 or -ENOMEM. */
int grpcc_adopt(int fd, const struct grpcc_io *io, const char *authority, struct grpcc **ret);
void grpcc_close(struct grpcc *c);
/* false once the connection is gone (closed by the server, GOAWAY, a
 * protocol error): calls then return -ENOTCONN, open a new one. */
int grpcc_usable(const struct grpcc *c);

/* One unary call: path "/etcdserverpb.KV/Put", req the request message
 * (len bytes, no gRPC framing). Returns:
 *   0             the server answered: *status is the grpc-status; with
 *                 status 0, *resp (malloc'ed, the caller frees; NULL for
 *                 an empty message) holds the response message. msg gets
 *                 grpc-message percent-decoded (NUL-terminated, cut to
 *                 msg_len; may be NULL).
 *   -ENOTCONN     the connection was already gone: nothing was sent.
 *   -EAGAIN       the server refused the stream unprocessed
 *                 (REFUSED_STREAM, or a GOAWAY below it): safe to retry.
 *   -ETIMEDOUT    no answer within timeout_ms: the request may have been
 *                 received (the stream is cancelled; the connection stays).
 *   -ECONNRESET   the connection or the stream broke mid-call: the
 *                 request may have been received.
 *   -EPROTO       the server broke HTTP/2 or gRPC (garbage, a message
 *                 framed wrong, no grpc-status): the connection is closed.
 *   -EMSGSIZE     a response over 64 MiB; -ENOMEM.
 * Only 0 says anything about what the server did; a timeout or a
 * connection lost after sending are unknown outcomes. */
int grpcc_call(struct grpcc *c, const char *path, const uint8_t *req, size_t len, uint8_t **resp,
	       size_t *resp_len, int *status, char *msg, size_t msg_len, int timeout_ms);

/* --- streaming calls (both ways, as etcd's Watch and LeaseKeepAlive) ------
 *
 * A stream has no deadline of its own (no grpc-timeout): each send and
 * receive has one. Free every stream before closing its connection. */
struct grpcc_stream;

/* Opens a call on path; its HEADERS go out at once. 0, -ENOTCONN (the
 * connection is gone: nothing sent), -ENOMEM, -EPROTO, -ECONNRESET. */
int grpcc_stream_open(struct grpcc *c, const char *path, struct grpcc_stream **ret);
/* Sends one message (framed here); returns once the socket took it, or
 * -ETIMEDOUT (it may still go out later: it stays queued), -EPIPE (the
 * call is over or the sending side closed), -ENOTCONN, -ECONNRESET, -ENOMEM. */
int grpcc_stream_send(struct grpcc_stream *st, const uint8_t *msg, size_t len, int timeout_ms);
/* Ends the sending side (half-close); the server may go on sending. */
int grpcc_stream_close_send(struct grpcc_stream *st, int timeout_ms);
/* The next message, waiting at most timeout_ms (0: only what is here):
 *   0           *msg (malloc'ed, NULL for an empty message), *len
 *   1           the server ended the call: grpcc_stream_status() says how
 *               (every message it sent before was returned first)
 *   -ETIMEDOUT  nothing yet: the stream goes on
 *   -EINTR      the connection's wake fd became readable (the caller
 *               drains it); the stream goes on
 *   -EAGAIN     the server refused the stream unprocessed (retry)
 *   -ECONNRESET, -ENOTCONN  the stream or the connection broke
 *   -EPROTO     the server broke HTTP/2 or gRPC; -EMSGSIZE; -ENOMEM */
int grpcc_stream_recv(struct grpcc_stream *st, uint8_t **msg, size_t *len, int timeout_ms);
/* Once recv returned 1: the grpc-status (message into msg, decoded);
 * -1 before. */
int grpcc_stream_status(const struct grpcc_stream *st, char *msg, size_t msg_len);
/* Frees the stream; a call still open is cancelled (RST_STREAM CANCEL,
 * which ends it on the server: a watch, a keep-alive loop). NULL is fine. */
void grpcc_stream_free(struct grpcc_stream *st);
/* A fd (a self-pipe its signal handlers write to) whose readability ends
 * a wait in grpcc_stream_recv() with -EINTR; -1: none. Unary calls do not
 * look at it: they end by their deadline. */
void grpcc_set_wake_fd(struct grpcc *c, int fd);

/* Decodes a grpc-message value (%XX escapes) into out (NUL-terminated,
 * cut to fit); a malformed escape is kept as it is. Returns the length. */
size_t grpcc_percent_decode(const char *in, size_t len, char *out, size_t out_len);

#endif
