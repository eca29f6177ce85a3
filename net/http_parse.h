/* net/http_parse.h — incremental HTTP/1.1 response parser, no I/O, no allocation.
 *
 * Parses what Go's net/http server sends (and what any HTTP/1.1 server may
 * send): status line, headers, then a body delimited by Content-Length, by
 * chunked transfer coding (extensions and trailers accepted and ignored), or
 * by the end of the connection when neither is present. 1xx interim
 * responses are skipped. Responses are parsed back to back, so pipelined
 * responses in one buffer come out one after the other.
 *
 * Contract
 * - The parser keeps no copy of the input. Lines (status line, headers,
 *   chunk sizes, trailers) are consumed only when complete: when a line is
 *   not complete yet http_parse() returns 0 bytes consumed and
 *   HTTP_EV_NEED_MORE, and the caller must present the same unconsumed bytes
 *   again, followed by new ones. A caller's buffer of at least
 *   limits.max_line bytes is therefore enough.
 * - http_parse() consumes at most one event's worth of input and never reads
 *   outside [buf, buf + len). Body bytes come out as HTTP_EV_BODY views into
 *   buf, valid until the caller reuses that memory.
 * - Errors are sticky: after a negative return every further call returns
 *   the same error; p->error names the reason (a static string).
 * - Every size a server controls has a limit (struct http_limits): chunk
 *   size lines are bounded by max_line each and, since every chunk but the
 *   last carries at least one byte, in number by max_body.
 * - Responses to HEAD requests are not supported (the peer client never
 *   sends HEAD).
 */
#ifndef RAFTD_NET_HTTP_PARSE_H
#define RAFTD_NET_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_limits {
	size_t max_line;      /* one status/header/chunk-size/trailer line, CRLF included */
	size_t max_head;      /* all header lines of one response (1xx and trailers included) */
	unsigned max_headers; /* header fields in one response (trailers included) */
	uint64_t max_body;    /* decoded body bytes */
	unsigned max_interim; /* 1xx responses before the final one */
};

#define HTTP_DEFAULT_MAX_LINE 4096
#define HTTP_DEFAULT_MAX_HEAD 8192
#define HTTP_DEFAULT_MAX_HEADERS 64
#define HTTP_DEFAULT_MAX_BODY (1u << 20)
#define HTTP_DEFAULT_MAX_INTERIM 8

enum http_event_kind {
	HTTP_EV_NEED_MORE, /* give more bytes (after the unconsumed ones) */
	HTTP_EV_HEAD,      /* final response's head parsed: status and framing are set */
	HTTP_EV_BODY,      /* data/len: a piece of the decoded body */
	HTTP_EV_DONE,      /* response complete; the next call starts the next response */
};

struct http_event {
	enum http_event_kind kind;
	const uint8_t *data; /* HTTP_EV_BODY only */
	size_t len;
};

enum http_framing {
	HTTP_BODY_NONE,    /* 204, 304, or Content-Length: 0 */
	HTTP_BODY_LENGTH,  /* Content-Length */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	HTTP_BODY_EOF,     /* neither: the body ends when the connection does */
};

struct http_parser {
	/* Results, valid from HTTP_EV_HEAD until the call after HTTP_EV_DONE. */
	int status;            /* 200..599 (1xx are skipped) */
	int minor;             /* HTTP/1.<minor>, 0 or 1 */
	bool keep_alive;       /* the connection may carry another response after this one */
	enum http_framing framing;
	uint64_t content_length; /* HTTP_BODY_LENGTH */
	uint64_t body_len;     /* decoded body bytes so far */
	const char *error;     /* static reason after an error, else NULL */

	/* Private. */
	struct http_limits lim;
	int state;
	int err;
	size_t head_bytes;
	unsigned n_headers;
	unsigned n_interim;
	uint64_t remaining;
	bool cl_seen, te_chunked, conn_close, conn_keep_alive;
	bool in_message;       /* some byte of the current response was consumed */
};

/* Start parsing a new stream. lim NULL: the HTTP_DEFAULT_* limits; zero
 * fields of *lim also take the defaults. */
void http_parser_init(struct http_parser *p, const struct http_limits *lim);

/* Parse from buf. Returns bytes consumed (0..len) and sets *ev, or a
 * negative errno: -EBADMSG (malformed), -E2BIG (a limit exceeded),
 * -ENOTSUP (a transfer coding other than chunked, 101 Switching Protocols). */
long http_parse(struct http_parser *p, const uint8_t *buf, size_t len, struct http_event *ev);

/* The connection ended (after every byte was given to http_parse()).
 * Returns 0 with *ev = HTTP_EV_DONE when that completes a body delimited by
 * the end of the connection; -ENODATA when no byte of a response had been
 * consumed (a clean close between responses); otherwise -EPIPE (truncated
 * response, p->error set). The caller must also check it holds no
 * unconsumed bytes: those are a truncated line. */
int http_parse_eof(struct http_parser *p, struct http_event *ev);

#endif
