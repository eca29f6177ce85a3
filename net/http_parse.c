/* net/http_parse.c — see http_parse.h for the contract.
 *
 * The parser is a small state machine over whole lines. Keeping lines in the
 * caller's buffer (instead of copying them into the parser) is what keeps it
 * allocation-free: the caller's buffer size bounds a line, and the limits
 * bound everything else a server controls.
 *
 * Strictness: Go never sends obs-fold, bare CR, a Content-Length with a sign
 * or a list, both Content-Length and Transfer-Encoding, or a coding other
 * than chunked; all of these are refused so that a confused or hostile peer
 * cannot desynchronise the framing of pipelined responses (RFC 9112 §6.3).
 * A bare LF line ending is accepted, as RFC 9112 §2.2 allows.
 */
#include "net/http_parse.h"

#include <errno.h>
#include <string.h>

enum {
	S_STATUS,
	S_HEADER,
	S_BODY_LENGTH,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_END,
	S_TRAILER,
	S_BODY_EOF,
	S_BODY_NONE,
	S_DONE,
	S_ERROR,
};

static void reset_message(struct http_parser *p)
{
	p->status = 0;
	p->minor = 0;
	p->keep_alive = false;
	p->framing = HTTP_BODY_NONE;
	p->content_length = 0;
	p->body_len = 0;
	p->head_bytes = 0;
	p->n_headers = 0;
	p->n_interim = 0;
	p->remaining = 0;
	p->cl_seen = p->te_chunked = p->conn_close = p->conn_keep_alive = false;
	p->in_message = false;
	p->state = S_STATUS;
}

void http_parser_init(struct http_parser *p, const struct http_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->lim.max_line = lim && lim->max_line ? lim->max_line : HTTP_DEFAULT_MAX_LINE;
	p->lim.max_head = lim && lim->max_head ? lim->max_head : HTTP_DEFAULT_MAX_HEAD;
	p->lim.max_headers = lim && lim->max_headers ? lim->max_headers : HTTP_DEFAULT_MAX_HEADERS;
	p->lim.max_body = lim && lim->max_body ? lim->max_body : HTTP_DEFAULT_MAX_BODY;
	p->lim.max_interim = lim && lim->max_interim ? lim->max_interim : HTTP_DEFAULT_MAX_INTERIM;
	reset_message(p);
}

static long fail(struct http_parser *p, int err, const char *why)
{
	p->state = S_ERROR;
	p->err = err;
	p->error = why;
	return err;
}

/* Find one complete line at buf. Returns its length including the line end
 * (and sets *ret_content to the length without it), 0 when incomplete, or a
 * negative errno. */
static long take_line(struct http_parser *p, const uint8_t *buf, size_t len, size_t *ret_content)
{
	size_t scan = len < p->lim.max_line ? len : p->lim.max_line;
	const uint8_t *nl = memchr(buf, '\n', scan);
	if (!nl) {
		if (len >= p->lim.max_line)
			return fail(p, -E2BIG, "line too long");
		return 0;
	}
	size_t total = (size_t)(nl - buf) + 1;
	size_t content = total - 1;
	if (content > 0 && buf[content - 1] == '\r')
		content--;
	for (size_t i = 0; i < content; i++) {
		/* Bare CR and NUL have no business in a line; refusing them
		 * keeps framing unambiguous. */
		if (buf[i] == '\r' || buf[i] == '\0')
			return fail(p, -EBADMSG, "bare CR or NUL in line");
	}
	*ret_content = content;
	return (long)total;
}

static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool token_eq(const uint8_t *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != lit[i])
			return false;
	return true;
}

static long parse_status_line(struct http_parser *p, const uint8_t *s, size_t n)
{
	/* "HTTP/1.x SSS[ reason]" */
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return fail(p, -EBADMSG, "bad status line");
	if (!is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]))
		return fail(p, -EBADMSG, "bad status code");
	int status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (status < 100 || status > 599)
		return fail(p, -EBADMSG, "status code out of range");
	if (n > 12 && s[12] != ' ')
		return fail(p, -EBADMSG, "bad status line");
	for (size_t i = 13; i < n; i++)
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return fail(p, -EBADMSG, "control character in reason phrase");
	p->minor = s[7] - '0';
	p->status = status;
	return 0;
}

/* The next token of a comma-separated list (RFC 9110 #token) from *i on:
 * 1 with [*start, *start + *len), 0 at the end, -1 if something else is
 * there. */
static int next_list_token(const uint8_t *v, size_t n, size_t *i, size_t *start, size_t *len)
{
	while (*i < n && (v[*i] == ' ' || v[*i] == '\t' || v[*i] == ','))
		(*i)++;
	*start = *i;
	while (*i < n && is_tchar(v[*i]))
		(*i)++;
	*len = *i - *start;
	if (*len)
		return 1;
	return *i < n ? -1 : 0;
}

static long parse_connection(struct http_parser *p, const uint8_t *v, size_t n)
{
	size_t i = 0, start, len;
	int rv;

	while ((rv = next_list_token(v, n, &i, &start, &len)) > 0) {
		if (token_eq(v + start, len, "close"))
			p->conn_close = true;
		else if (token_eq(v + start, len, "keep-alive"))
			p->conn_keep_alive = true;
	}
	return rv < 0 ? fail(p, -EBADMSG, "bad Connection header") : 0;
}

static long parse_transfer_encoding(struct http_parser *p, const uint8_t *v, size_t n)
{
	size_t i = 0, start, len;
	int rv;

	while ((rv = next_list_token(v, n, &i, &start, &len)) > 0) {
		/* Only chunked, exactly once: we never send Accept-Encoding or
		 * TE, so any other coding is a server we cannot frame. */
		if (!token_eq(v + start, len, "chunked"))
			return fail(p, -ENOTSUP, "unsupported transfer coding");
		if (p->te_chunked)
			return fail(p, -EBADMSG, "chunked applied twice");
		p->te_chunked = true;
	}
	if (rv < 0)
		return fail(p, -EBADMSG, "bad Transfer-Encoding header");
	if (!p->te_chunked)
		return fail(p, -EBADMSG, "empty Transfer-Encoding");
	return 0;
}

static long parse_content_length(struct http_parser *p, const uint8_t *v, size_t n)
{
	if (n == 0)
		return fail(p, -EBADMSG, "empty Content-Length");
	uint64_t val = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return fail(p, -EBADMSG, "bad Content-Length");
		unsigned d = (unsigned)(v[i] - '0');
		if (val > (UINT64_MAX - d) / 10)
			return fail(p, -EBADMSG, "Content-Length overflows");
		val = val * 10 + d;
	}
	if (p->cl_seen && p->content_length != val)
		return fail(p, -EBADMSG, "conflicting Content-Length");
	p->cl_seen = true;
	p->content_length = val;
	return 0;
}

/* One "name: value" line (a header or a trailer). */
static long parse_field(struct http_parser *p, const uint8_t *s, size_t n, bool trailer)
{
	if (++p->n_headers > p->lim.max_headers)
		return fail(p, -E2BIG, "too many header fields");
	if (s[0] == ' ' || s[0] == '\t')
		return fail(p, -EBADMSG, "obsolete line folding");
	size_t i = 0;
	while (i < n && is_tchar(s[i]))
		i++;
	if (i == 0 || i == n || s[i] != ':')
		return fail(p, -EBADMSG, "bad header field name");
	size_t name_len = i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	size_t end = n;
	while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	const uint8_t *v = s + i;
	size_t vn = end - i;
	for (size_t k = 0; k < vn; k++)
		if ((v[k] < 0x20 && v[k] != '\t') || v[k] == 0x7f)
			return fail(p, -EBADMSG, "control character in header value");
	if (trailer)
		return 0; /* trailers never change framing */
	if (token_eq(s, name_len, "content-length"))
		return parse_content_length(p, v, vn);
	if (token_eq(s, name_len, "transfer-encoding"))
		return parse_transfer_encoding(p, v, vn);
	if (token_eq(s, name_len, "connection"))
		return parse_connection(p, v, vn);
	return 0;
}

/* The empty line after the headers: decide framing. Returns 1 for a final
 * response (emit HTTP_EV_HEAD), 0 for a skipped 1xx, or a negative errno. */
static long end_of_head(struct http_parser *p)
{
	if (p->status < 200) {
		if (p->status == 101)
			return fail(p, -ENOTSUP, "unexpected 101 Switching Protocols");
		if (++p->n_interim > p->lim.max_interim)
			return fail(p, -E2BIG, "too many 1xx responses");
		/* Interim responses carry no body; their fields mean nothing
		 * for the final response. Limits keep counting. */
		p->cl_seen = p->te_chunked = p->conn_close = p->conn_keep_alive = false;
		p->content_length = 0;
		p->state = S_STATUS;
		return 0;
	}
	if (p->cl_seen && p->te_chunked)
		return fail(p, -EBADMSG, "both Content-Length and Transfer-Encoding");
	p->keep_alive = p->minor == 1 ? !p->conn_close : (p->conn_keep_alive && !p->conn_close);
	if (p->status == 204 || p->status == 304) {
		p->framing = HTTP_BODY_NONE;
		p->state = S_BODY_NONE;
	} else if (p->te_chunked) {
		p->framing = HTTP_BODY_CHUNKED;
		p->state = S_CHUNK_SIZE;
	} else if (p->cl_seen) {
		if (p->content_length > p->lim.max_body)
			return fail(p, -E2BIG, "body too large");
		p->framing = p->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
		p->remaining = p->content_length;
		p->state = p->content_length ? S_BODY_LENGTH : S_BODY_NONE;
	} else {
		p->framing = HTTP_BODY_EOF;
		p->keep_alive = false;
		p->state = S_BODY_EOF;
	}
	return 1;
}

static long parse_chunk_size(struct http_parser *p, const uint8_t *s, size_t n)
{
	size_t i = 0;
	uint64_t size = 0;
	while (i < n) {
		int c = lower(s[i]);
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			break;
		if (size >> 60)
			return fail(p, -EBADMSG, "chunk size overflows");
		size = size << 4 | d;
		i++;
	}
	if (i == 0)
		return fail(p, -EBADMSG, "bad chunk size");
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != ';')
		return fail(p, -EBADMSG, "bad chunk size");
	for (; i < n; i++) /* chunk extensions: ignored, but no controls */
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return fail(p, -EBADMSG, "control character in chunk extension");
	if (size > p->lim.max_body - p->body_len)
		return fail(p, -E2BIG, "body too large");
	p->remaining = size;
	p->state = size ? S_CHUNK_DATA : S_TRAILER;
	return 0;
}

static void body_event(struct http_parser *p, const uint8_t *buf, size_t n, struct http_event *ev)
{
	ev->kind = HTTP_EV_BODY;
	ev->data = buf;
	ev->len = n;
	p->body_len += n;
}

long http_parse(struct http_parser *p, const uint8_t *buf, size_t len, struct http_event *ev)
{
	ev->kind = HTTP_EV_NEED_MORE;
	ev->data = NULL;
	ev->len = 0;
	if (p->state == S_ERROR)
		return p->err;
	if (p->state == S_DONE)
		reset_message(p);

	size_t used = 0;
	for (;;) {
		const uint8_t *b = buf + used;
		size_t n = len - used;
		size_t content;
		long r;

		switch (p->state) {
		case S_STATUS:
		case S_HEADER:
		case S_TRAILER:
		case S_CHUNK_SIZE:
		case S_CHUNK_END:
			r = take_line(p, b, n, &content);
			if (r <= 0)
				return r < 0 ? r : (long)used;
			if (p->state != S_CHUNK_SIZE && p->state != S_CHUNK_END) {
				p->head_bytes += (size_t)r;
				if (p->head_bytes > p->lim.max_head)
					return fail(p, -E2BIG, "header section too large");
			}
			used += (size_t)r;
			p->in_message = true;
			if (p->state == S_STATUS) {
				if ((r = parse_status_line(p, b, content)) < 0)
					return r;
				p->state = S_HEADER;
			} else if (p->state == S_HEADER) {
				if (content > 0) {
					if ((r = parse_field(p, b, content, false)) < 0)
						return r;
					continue;
				}
				if ((r = end_of_head(p)) < 0)
					return r;
				if (r == 1) {
					ev->kind = HTTP_EV_HEAD;
					return (long)used;
				}
			} else if (p->state == S_CHUNK_SIZE) {
				if ((r = parse_chunk_size(p, b, content)) < 0)
					return r;
			} else if (p->state == S_CHUNK_END) {
				if (content != 0)
					return fail(p, -EBADMSG, "missing CRLF after chunk data");
				p->state = S_CHUNK_SIZE;
			} else { /* S_TRAILER */
				if (content > 0) {
					if ((r = parse_field(p, b, content, true)) < 0)
						return r;
					continue;
				}
				p->state = S_DONE;
				ev->kind = HTTP_EV_DONE;
				return (long)used;
			}
			continue;

		case S_BODY_LENGTH:
		case S_CHUNK_DATA: {
			if (n == 0)
				return (long)used;
			size_t take = n < p->remaining ? n : (size_t)p->remaining;
			p->remaining -= take;
			body_event(p, b, take, ev);
			if (p->remaining == 0)
				p->state = p->state == S_CHUNK_DATA ? S_CHUNK_END : S_BODY_NONE;
			return (long)(used + take);
		}

		case S_BODY_EOF:
			if (n == 0)
				return (long)used;
			if (n > p->lim.max_body - p->body_len)
				return fail(p, -E2BIG, "body too large");
			body_event(p, b, n, ev);
			return (long)len;

		case S_BODY_NONE:
			p->state = S_DONE;
			ev->kind = HTTP_EV_DONE;
			return (long)used;

		default:
			return fail(p, -EBADMSG, "parser state corrupt");
		}
	}
}

int http_parse_eof(struct http_parser *p, struct http_event *ev)
{
	ev->kind = HTTP_EV_NEED_MORE;
	ev->data = NULL;
	ev->len = 0;
	if (p->state == S_ERROR)
		return p->err;
	if (p->state == S_BODY_EOF) {
		p->state = S_DONE;
		ev->kind = HTTP_EV_DONE;
		return 0;
	}
	if (p->state == S_DONE || (p->state == S_STATUS && !p->in_message))
		return -ENODATA;
	return (int)fail(p, -EPIPE, "connection closed mid-response");
}
