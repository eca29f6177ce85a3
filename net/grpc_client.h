/* net/grpc_client.h — a small synchronous unary gRPC client (nghttp2).
 *
 * One struct grpcc is one HTTP/2 connection, cleartext with prior knowledge
 * (what etcdctl speaks to http:// endpoints), kept alive for any number of
 * calls, one call at a time. Every wait has a deadline: a connection, a
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

/* Decodes a grpc-message value (%XX escapes) into out (NUL-terminated,
 * cut to fit); a malformed escape is kept as it is. Returns the length. */
size_t grpcc_percent_decode(const char *in, size_t len, char *out, size_t out_len);

#endif
