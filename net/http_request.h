/* net/http_request.h — framing checks on a request head, no I/O.
 *
 * libmicrohttpd (0.9.75, Debian 12) is lenient about how a request body is
 * delimited: it takes the last of two different Content-Length headers,
 * ignores Content-Length next to Transfer-Encoding, accepts bare-LF chunk
 * lines, and leaves a request whose Transfer-Encoding it does not know
 * waiting for the idle timeout. A proxy in front that reads the framing
 * differently is how requests are smuggled; MHD_OPTION_STRICT_FOR_CLIENT
 * catches none of these. So the server looks at the head's framing headers
 * before MHD reads any body and refuses what is not plain:
 *   - more than one Content-Length, or one that is not all digits: 400;
 *   - Transfer-Encoding together with Content-Length: 400;
 *   - more than one Transfer-Encoding, or one other than "chunked": 400;
 *   - Transfer-Encoding: chunked alone: 411 (Length Required). Neither
 *     goraft (Go's client sends Content-Length for its buffered bodies) nor
 *     raftd's peer client nor the usual clients send chunked requests, and
 *     MHD's chunk parser is the lenient part (bare LF), so no chunked body
 *     reaches it.
 * Header names are compared without case, as HTTP does.
 */
#ifndef RAFTD_NET_HTTP_REQUEST_H
#define RAFTD_NET_HTTP_REQUEST_H

#include <stdbool.h>

struct http_framing {
	unsigned n_length;   /* Content-Length headers */
	unsigned n_encoding; /* Transfer-Encoding headers */
	bool length_bad;     /* a Content-Length that is not 1*DIGIT */
	bool encoding_bad;   /* a Transfer-Encoding that is not exactly "chunked" */
};

/* Feeds one header field of the head (any header; others are ignored). */
void http_framing_add(struct http_framing *f, const char *name, const char *value);

/* 0 when the framing is plain (no body, or one Content-Length), else the
 * status to refuse the request with (400 or 411) and a reason in *why. */
unsigned http_framing_verdict(const struct http_framing *f, const char **why);

#endif
