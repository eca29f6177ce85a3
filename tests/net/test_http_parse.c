/* tests/net/test_http_parse.c — the HTTP/1.1 response parser.
 *
 * Inputs are what Go's net/http server writes for goraft
 * (docs/goraft-protocol.md §2.3), the other framings a server may pick, and
 * malformed responses. Every well-formed case is also fed split at every byte
 * boundary and one byte at a time, the way the client presents bytes
 * (unconsumed ones kept, new ones appended).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"
#include "tests/lib/check_main.h"

#define MAX_RESP 8

struct resp {
	int status;
	bool keep_alive;
	enum http_framing framing;
	uint8_t body[4096];
	size_t len;
};

struct run {
	struct resp r[MAX_RESP];
	int n;
	int err;          /* 0, or the negative errno that stopped parsing */
	const char *why;
	int eof;          /* http_parse_eof() result when called */
};

/* Drive the parser like the client: a buffer holding unconsumed bytes, new
 * input appended in pieces ending at cuts[] (ascending, the last == len). */
static void drive(const char *in, size_t len, const size_t *cuts, size_t ncuts,
		  const struct http_limits *lim, bool eof, struct run *out)
{
	static uint8_t buf[1 << 16];
	struct http_parser p;
	size_t have = 0, pos = 0;
	memset(out, 0, sizeof(*out));
	http_parser_init(&p, lim);
	for (size_t c = 0; c < ncuts && !out->err; c++) {
		size_t add = cuts[c] - pos;
		ck_assert_uint_le(have + add, sizeof(buf));
		memcpy(buf + have, in + pos, add);
		have += add;
		pos = cuts[c];
		size_t off = 0;
		for (;;) {
			struct http_event ev;
			long n = http_parse(&p, buf + off, have - off, &ev);
			if (n < 0) {
				out->err = (int)n;
				out->why = p.error;
				ck_assert_ptr_nonnull(p.error);
				break;
			}
			ck_assert_uint_le((size_t)n, have - off);
			off += (size_t)n;
			if (ev.kind == HTTP_EV_NEED_MORE)
				break;
			ck_assert_int_lt(out->n, MAX_RESP);
			struct resp *r = &out->r[out->n];
			if (ev.kind == HTTP_EV_HEAD) {
				r->status = p.status;
				r->keep_alive = p.keep_alive;
				r->framing = p.framing;
				r->len = 0;
			} else if (ev.kind == HTTP_EV_BODY) {
				ck_assert_ptr_eq(ev.data, buf + off - ev.len);
				ck_assert_uint_le(r->len + ev.len, sizeof(r->body));
				memcpy(r->body + r->len, ev.data, ev.len);
				r->len += ev.len;
			} else {
				out->n++;
			}
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (eof && !out->err) {
		struct http_event ev;
		out->eof = http_parse_eof(&p, &ev);
		if (out->eof == 0) {
			ck_assert_int_eq(ev.kind, HTTP_EV_DONE);
			out->n++;
		} else if (have) {
			out->eof = -EPIPE; /* leftover partial line */
		}
	}
}

static void drive_whole(const char *in, size_t len, bool eof, struct run *out)
{
	size_t cut = len;
	drive(in, len, &cut, 1, NULL, eof, out);
}

static void assert_same(const struct run *a, const struct run *b)
{
	ck_assert_int_eq(a->err, b->err);
	ck_assert_int_eq(a->n, b->n);
	ck_assert_int_eq(a->eof, b->eof);
	for (int i = 0; i < a->n; i++) {
		ck_assert_int_eq(a->r[i].status, b->r[i].status);
		ck_assert_int_eq(a->r[i].keep_alive, b->r[i].keep_alive);
		ck_assert_uint_eq(a->r[i].len, b->r[i].len);
		ck_assert(memcmp(a->r[i].body, b->r[i].body, a->r[i].len) == 0);
	}
}

/* Parse whole, split in two at every boundary, and byte by byte: all must
 * agree. Returns the whole-buffer run. */
static void drive_all_ways(const char *in, size_t len, bool eof, struct run *out)
{
	static struct run other;
	drive_whole(in, len, eof, out);
	for (size_t i = 0; i <= len; i++) {
		size_t cuts[2] = { i, len };
		drive(in, len, cuts, 2, NULL, eof, &other);
		assert_same(out, &other);
	}
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	drive(in, len, cuts, len ? len : 1, NULL, eof, &other);
	free(cuts);
	assert_same(out, &other);
}

#define S(lit) lit, sizeof(lit) - 1

/* Exactly what net/http writes for a goraft 200 (capture): no Content-Type
 * set by the handler, so it sniffs application/octet-stream. */
static const char go_200[] =
	"HTTP/1.1 200 OK\r\n"
	"Date: Mon, 03 Nov 2025 10:00:00 GMT\r\n"
	"Content-Length: 8\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"\x08\x01\x10\x05\x18\x00\x20\x01";

static const char go_400[] =
	"HTTP/1.1 400 Bad Request\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"X-Content-Type-Options: nosniff\r\n"
	"Date: Mon, 03 Nov 2025 10:00:00 GMT\r\n"
	"Content-Length: 1\r\n"
	"\r\n"
	"\n";

static const char go_500[] =
	"HTTP/1.1 500 Internal Server Error\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"X-Content-Type-Options: nosniff\r\n"
	"Date: Mon, 03 Nov 2025 10:00:00 GMT\r\n"
	"Content-Length: 26\r\n"
	"\r\n"
	"Failed creating response.\n";

START_TEST(test_go_200)
{
	static struct run r;
	drive_all_ways(S(go_200), false, &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.r[0].status, 200);
	ck_assert(r.r[0].keep_alive);
	ck_assert_int_eq(r.r[0].framing, HTTP_BODY_LENGTH);
	ck_assert_uint_eq(r.r[0].len, 8);
	ck_assert(memcmp(r.r[0].body, "\x08\x01\x10\x05\x18\x00\x20\x01", 8) == 0);
}
END_TEST

START_TEST(test_go_400_500)
{
	static struct run r;
	drive_all_ways(S(go_400), false, &r);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.r[0].status, 400);
	ck_assert_uint_eq(r.r[0].len, 1);
	ck_assert_int_eq(r.r[0].body[0], '\n');
	drive_all_ways(S(go_500), false, &r);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.r[0].status, 500);
	ck_assert_uint_eq(r.r[0].len, 26);
	ck_assert(memcmp(r.r[0].body, "Failed creating response.\n", 26) == 0);
}
END_TEST

START_TEST(test_chunked)
{
	static const char in[] =
		"HTTP/1.1 200 OK\r\n"
		"Transfer-Encoding: chunked\r\n"
		"\r\n"
		"4;name=\"value\"\r\nWiki\r\n"
		"5 \r\npedia\r\n"
		"E\r\n in\r\n\r\nchunks.\r\n"
		"0\r\n"
		"X-Trailer: yes\r\n"
		"\r\n";
	static struct run r;
	drive_all_ways(S(in), false, &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.r[0].framing, HTTP_BODY_CHUNKED);
	ck_assert(r.r[0].keep_alive);
	ck_assert_uint_eq(r.r[0].len, 23);
	ck_assert(memcmp(r.r[0].body, "Wikipedia in\r\n\r\nchunks.", 23) == 0);
}
END_TEST

START_TEST(test_close_without_length)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
	static struct run r;
	drive_all_ways(S(in), true, &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.eof, 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert(!r.r[0].keep_alive);
	ck_assert_int_eq(r.r[0].framing, HTTP_BODY_EOF);
	ck_assert_uint_eq(r.r[0].len, 9);
	/* Connection: close with a length: complete, not keep-alive. */
	drive_all_ways(S("HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 2\r\n\r\nok"),
		       true, &r);
	ck_assert_int_eq(r.n, 1);
	ck_assert(!r.r[0].keep_alive);
	ck_assert_int_eq(r.eof, -ENODATA);
}
END_TEST

START_TEST(test_100_continue_skipped)
{
	static const char in[] =
		"HTTP/1.1 100 Continue\r\n\r\n"
		"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	static struct run r;
	drive_all_ways(S(in), false, &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.r[0].status, 200);
	ck_assert_uint_eq(r.r[0].len, 2);
}
END_TEST

START_TEST(test_pipelined)
{
	static char in[4096];
	size_t len = 0;
	memcpy(in + len, go_200, sizeof(go_200) - 1);
	len += sizeof(go_200) - 1;
	static const char c[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	memcpy(in + len, c, sizeof(c) - 1);
	len += sizeof(c) - 1;
	static const char nc[] = "HTTP/1.1 204 No Content\r\n\r\n";
	memcpy(in + len, nc, sizeof(nc) - 1);
	len += sizeof(nc) - 1;
	memcpy(in + len, go_400, sizeof(go_400) - 1);
	len += sizeof(go_400) - 1;
	memcpy(in + len, go_500, sizeof(go_500) - 1);
	len += sizeof(go_500) - 1;
	static struct run r;
	drive_all_ways(in, len, true, &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.eof, -ENODATA);
	ck_assert_int_eq(r.n, 5);
	ck_assert_int_eq(r.r[0].status, 200);
	ck_assert_uint_eq(r.r[0].len, 8);
	ck_assert_uint_eq(r.r[1].len, 3);
	ck_assert_int_eq(r.r[2].status, 204);
	ck_assert_uint_eq(r.r[2].len, 0);
	ck_assert_int_eq(r.r[3].status, 400);
	ck_assert_int_eq(r.r[4].status, 500);
}
END_TEST

START_TEST(test_http10_and_lf)
{
	static struct run r;
	drive_all_ways(S("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), false, &r);
	ck_assert_int_eq(r.n, 1);
	ck_assert(!r.r[0].keep_alive);
	drive_all_ways(S("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"), false, &r);
	ck_assert(r.r[0].keep_alive);
	/* Bare LF line ends (RFC 9112 §2.2), a status line with no reason,
	 * duplicate equal Content-Length. */
	drive_all_ways(S("HTTP/1.1 200\nContent-Length: 3\ncontent-length: 3\n\nabc"), false, &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_uint_eq(r.r[0].len, 3);
}
END_TEST

/* --- malformed --------------------------------------------------------- */

struct bad {
	const char *in;
	int err;
	const char *why; /* substring of p->error */
};

static const struct bad bad_cases[] = {
	{ "HTTP/2 200 OK\r\n\r\n", -EBADMSG, "status line" },
	{ "ICY 200 OK\r\n\r\n", -EBADMSG, "status line" },
	{ "HTTP/1.1 20 OK\r\n\r\n", -EBADMSG, "status" },
	{ "HTTP/1.1 2000 OK\r\n\r\n", -EBADMSG, "status line" },
	{ "HTTP/1.1 abc OK\r\n\r\n", -EBADMSG, "status code" },
	{ "HTTP/1.1 099 OK\r\n\r\n", -EBADMSG, "out of range" },
	{ "HTTP/1.1 200 O\x01K\r\n\r\n", -EBADMSG, "control" },
	{ "HTTP/1.1 200 OK\rX\r\n\r\n", -EBADMSG, "bare CR" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EBADMSG, "Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", -EBADMSG, "Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", -EBADMSG, "Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", -EBADMSG, "Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", -EBADMSG, "empty Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", -EBADMSG, "overflows" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n", -E2BIG, "body too large" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", -EBADMSG,
	  "conflicting" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", -EBADMSG,
	  "both" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -ENOTSUP, "coding" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", -EBADMSG, "twice" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", -EBADMSG,
	  "bad Transfer-Encoding" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: , ,\r\n\r\n", -EBADMSG, "empty Transfer-Encoding" },
	{ "HTTP/1.1 200 OK\r\nConnection: close, \"x\"\r\nContent-Length: 0\r\n\r\n", -EBADMSG,
	  "bad Connection" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EBADMSG, "chunk size" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", -EBADMSG, "chunk size" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\n", -EBADMSG, "chunk size" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\n", -EBADMSG, "chunk size" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", -EBADMSG,
	  "overflows" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2000000\r\n", -E2BIG, "too large" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", -EBADMSG, "CRLF" },
	{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", -EBADMSG, "folding" },
	{ "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", -EBADMSG, "field name" },
	{ "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", -EBADMSG, "field name" },
	{ "HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", -EBADMSG, "control" },
	{ "HTTP/1.1 101 Switching Protocols\r\n\r\n", -ENOTSUP, "101" },
	{ "HTTP/1.1 200 OK\r\nConnection: close\x01\r\n\r\n", -EBADMSG, "control" },
};

START_TEST(test_malformed)
{
	const struct bad *b = &bad_cases[_i];
	static struct run r;
	size_t len = strlen(b->in);
	drive_all_ways(b->in, len, false, &r);
	if (r.err != b->err || !r.why || !strstr(r.why, b->why))
		ck_abort_msg("case %d %s: got %d (%s), want %d (%s)", _i, b->in, r.err,
			     r.why ? r.why : "-", b->err, b->why);
}
END_TEST

START_TEST(test_limits)
{
	static char in[1 << 15];
	static struct run r;
	struct http_limits lim = { .max_head = 1024, .max_headers = 4, .max_line = 256,
				   .max_body = 10, .max_interim = 2 };
	size_t len;

	/* Oversized header section: many fine lines. */
	len = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 5; i++)
		len += (size_t)snprintf(in + len, sizeof(in) - len, "X-%d: %0200d\r\n", i, 0);
	len += (size_t)snprintf(in + len, sizeof(in) - len, "X-Last: %0200d\r\n\r\n", 0);
	size_t cut = len;
	struct http_limits big = lim;
	big.max_headers = 100;
	drive(in, len, &cut, 1, &big, false, &r);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(r.err, -E2BIG);
	ck_assert_str_eq(r.why, "header section too large");

	/* Too many header fields. */
	len = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n");
	cut = len;
	drive(in, len, &cut, 1, &lim, false, &r);
	ck_assert_int_eq(r.err, -E2BIG);
	ck_assert_str_eq(r.why, "too many header fields");

	/* A line longer than max_line, with or without its end in the buffer. */
	len = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nX: %0300d\r\n\r\n", 0);
	cut = len;
	drive(in, len, &cut, 1, &lim, false, &r);
	ck_assert_int_eq(r.err, -E2BIG);
	ck_assert_str_eq(r.why, "line too long");
	cut = 200;
	drive(in, 200, &cut, 1, &lim, false, &r);
	ck_assert_int_eq(r.err, 0); /* not yet: could still end in time */
	cut = 17 + 256; /* status line, then 256 bytes of an unfinished line */
	drive(in, cut, &cut, 1, &lim, false, &r);
	ck_assert_int_eq(r.err, -E2BIG);

	/* Bodies: by length, chunked total, until close. */
	len = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n");
	cut = len;
	drive(in, len, &cut, 1, &lim, false, &r);
	ck_assert_int_eq(r.err, -E2BIG);
	len = (size_t)snprintf(in, sizeof(in),
			       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n");
	cut = len;
	drive(in, len, &cut, 1, &lim, false, &r);
	ck_assert_int_eq(r.err, -E2BIG);
	len = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\n\r\n0123456789X");
	cut = len;
	drive(in, len, &cut, 1, &lim, true, &r);
	ck_assert_int_eq(r.err, -E2BIG);

	/* 1xx flood. */
	len = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 100 A\r\n\r\nHTTP/1.1 100 A\r\n\r\n"
					       "HTTP/1.1 100 A\r\n\r\n");
	cut = len;
	drive(in, len, &cut, 1, &lim, false, &r);
	ck_assert_int_eq(r.err, -E2BIG);
	ck_assert_str_eq(r.why, "too many 1xx responses");
}
END_TEST

START_TEST(test_eof_cases)
{
	static struct run r;
	/* Closed mid-body, mid-head, mid-chunk: truncated. */
	drive_whole(S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"), true, &r);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(r.eof, -EPIPE);
	drive_whole(S("HTTP/1.1 200 OK\r\nContent-"), true, &r);
	ck_assert_int_eq(r.eof, -EPIPE);
	drive_whole(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"), true, &r);
	ck_assert_int_eq(r.eof, -EPIPE);
	drive_whole(S("HTTP/1.1 100 Continue\r\n\r\n"), true, &r);
	ck_assert_int_eq(r.eof, -EPIPE);
	/* Nothing at all: a clean close. */
	drive_whole("", 0, true, &r);
	ck_assert_int_eq(r.eof, -ENODATA);
}
END_TEST

START_TEST(test_error_sticky)
{
	struct http_parser p;
	struct http_event ev;
	http_parser_init(&p, NULL);
	const uint8_t bad[] = "HTTP/9.9 200 OK\r\n\r\n";
	ck_assert_int_eq(http_parse(&p, bad, sizeof(bad) - 1, &ev), -EBADMSG);
	ck_assert_int_eq(http_parse(&p, (const uint8_t *)go_200, sizeof(go_200) - 1, &ev), -EBADMSG);
	ck_assert_int_eq(http_parse_eof(&p, &ev), -EBADMSG);
	ck_assert_ptr_nonnull(p.error);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("http_parse");
	TCase *tc = tcase_create("responses");
	tcase_add_test(tc, test_go_200);
	tcase_add_test(tc, test_go_400_500);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_close_without_length);
	tcase_add_test(tc, test_100_continue_skipped);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_http10_and_lf);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_malformed, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_eof_cases);
	tcase_add_test(tc, test_error_sticky);
	suite_add_tcase(s, tc);
	return s;
}
