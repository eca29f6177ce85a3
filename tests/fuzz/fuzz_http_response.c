/* tests/fuzz/fuzz_http_response.c — libFuzzer target for net/http_parse.
 *
 * Feeds the input to the parser the way the peer client does (unconsumed
 * bytes kept, new bytes appended) twice: in one piece, and in pieces whose
 * sizes come from the first input byte. Checks that the parser never reads
 * or reports outside the buffer, respects its body limit, and that both runs
 * see exactly the same responses and the same error (the framing must not
 * depend on how TCP splits the stream). Small limits make them reachable.
 *
 * clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *   -fno-sanitize-recover=all -I. tests/fuzz/fuzz_http_response.c \
 *   net/http_parse.c -o fuzz_http_response
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

#define BUF_CAP 4096
#define MAX_RESPONSES 64

struct outcome {
	int err;
	int eof;
	unsigned n;
	int status[MAX_RESPONSES];
	uint64_t body_hash[MAX_RESPONSES];
	uint64_t body_len[MAX_RESPONSES];
};

static const struct http_limits lim = {
	.max_line = 512, .max_head = 2048, .max_headers = 16, .max_body = 1024, .max_interim = 4,
};

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void run(const uint8_t *in, size_t len, size_t step, struct outcome *o)
{
	static uint8_t buf[BUF_CAP];
	struct http_parser p;
	size_t have = 0, pos = 0;
	uint64_t h = 0;
	memset(o, 0, sizeof(*o));
	http_parser_init(&p, &lim);
	while (pos < len || pos == 0) {
		size_t add = len - pos < step ? len - pos : step;
		if (have + add > BUF_CAP)
			add = BUF_CAP - have;
		memcpy(buf + have, in + pos, add);
		have += add;
		pos += add;
		size_t off = 0;
		for (;;) {
			struct http_event ev;
			long n = http_parse(&p, buf + off, have - off, &ev);
			if (n < 0) {
				if (!p.error)
					abort();
				o->err = (int)n;
				return;
			}
			if ((size_t)n > have - off)
				abort();
			off += (size_t)n;
			if (ev.kind == HTTP_EV_NEED_MORE)
				break;
			if (ev.kind == HTTP_EV_HEAD) {
				if (p.status < 200 || p.status > 599)
					abort();
				h = 0xcbf29ce484222325ull;
			} else if (ev.kind == HTTP_EV_BODY) {
				if (ev.data < buf || ev.data + ev.len != buf + off || ev.len == 0)
					abort();
				if (p.body_len > lim.max_body)
					abort();
				h = mix(h, ev.data, ev.len);
			} else if (o->n < MAX_RESPONSES) {
				o->status[o->n] = p.status;
				o->body_hash[o->n] = h;
				o->body_len[o->n] = p.body_len;
				o->n++;
			}
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		/* A full buffer the parser will not consume would have to be a
		 * line over max_line (< BUF_CAP): the parser must have said so. */
		if (have == BUF_CAP)
			abort();
		if (pos == len)
			break;
	}
	struct http_event ev;
	o->eof = http_parse_eof(&p, &ev);
	if (o->eof == 0 && o->n < MAX_RESPONSES) {
		o->status[o->n] = p.status;
		o->body_hash[o->n] = h;
		o->body_len[o->n] = p.body_len;
		o->n++;
	}
	if (have && o->eof == -ENODATA)
		o->eof = -EPIPE;
}

/* Starts of real responses, so that a run without a seed corpus reaches
 * the body and chunk states quickly; bits 4-6 of the first byte pick one
 * (0: none, raw bytes only). */
static const char *const prefixes[8] = {
	"",
	"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Type: application/octet-stream\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
	"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n",
	("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
	 "Content-Length: 1\r\n\r\n\n"),
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\r\nWiki\r\n0\r\n",
	"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome a, b;
	static uint8_t in[16384];
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] % 16) + 1;
	const char *pre = prefixes[(data[0] >> 4) & 7];
	size_t pl = strlen(pre);
	data++;
	size--;
	if (size > sizeof(in) - pl)
		size = sizeof(in) - pl;
	memcpy(in, pre, pl);
	memcpy(in + pl, data, size);
	size += pl;
	run(in, size, size ? size : 1, &a);
	run(in, size, step, &b);
	if (a.err != b.err || a.eof != b.eof || a.n != b.n)
		abort();
	if (memcmp(a.status, b.status, sizeof(a.status)) != 0 ||
	    memcmp(a.body_hash, b.body_hash, sizeof(a.body_hash)) != 0 ||
	    memcmp(a.body_len, b.body_len, sizeof(a.body_len)) != 0)
		abort();
	return 0;
}
