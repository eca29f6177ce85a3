/* tests/net/test_url.c — net/url.c: the one URL parser, with the cases each
 * of the three parsers it replaced was written for (the /join connection
 * string check of src/raftd/api_parse.c, net/peer.c's parse_url, raftctl's
 * rc_url_parse), and the percent-coding of a path segment. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "tests/lib/check_main.h"

/* A /join connectionString (flags 0): what every node connects to. */
static const char *const strict_good[] = {
	"http://localhost:4001", "http://10.0.0.1:65535", "http://[::1]:4001", "http://a-b.example_1:1",
	"http://h:00080", "http://a]:80", "http://[fe80::1%eth0]:80", "http://\xc3\xa9t\xc3\xa9:80",
};

START_TEST(test_strict_good)
{
	struct url u;
	ck_assert_msg(url_parse(strict_good[_i], 0, &u) == 0, "%s", strict_good[_i]);
	/* the normal form of a strict URL is the URL itself */
	ck_assert_str_eq(u.base, strict_good[_i]);
	/* and every wider reading takes it the same way */
	struct url w;
	ck_assert_int_eq(url_parse(strict_good[_i], URL_SLASH | URL_SHORT, &w), 0);
	ck_assert_int_eq(memcmp(&u, &w, sizeof(u)), 0);
}
END_TEST

static const char *const strict_bad[] = {
	"", "http://", "https://h:1", "HTTP://h:1", "h:80", "http://:80", "http://h", "http://h:", "http://h:0",
	"http://h:65536", "http://h:80/", "http://u@h:80", "http://h:80?x", "http://h:80#x", "http://h?:80",
	"http://h#:80", "http://h/:80", "http://h:8x",
	/* what the peer client cannot connect to (strtoul took a sign or
	 * blanks; blanks and extra colons in the host), found by
	 * fuzz_client_api */
	"http://h:\r\n2", "http://h: 80", "http://h:+80", "http://h:-0", "http://a b:80", "http://a\nb:80",
	"http://a\x7f:80", "http://a:b:80", "http://[::1:80", "http://[::1]x:80", "http://[]:80", "http://[::1]",
	"http://[::1]:", "http://h:0000080", "http://h:000080", "http://[a]b]:80", "http://[a@b]:80",
	"http://[a b]:80",
};

START_TEST(test_strict_bad)
{
	struct url u = { .port = "x" };
	ck_assert_msg(url_parse(strict_bad[_i], 0, &u) == -EINVAL, "%s", strict_bad[_i]);
	ck_assert_str_eq(u.port, "x"); /* untouched */
}
END_TEST

START_TEST(test_parts)
{
	struct url u;
	ck_assert_int_eq(url_parse("http://[::1]:4001", 0, &u), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.port, "4001");
	ck_assert(u.v6);
	ck_assert_str_eq(u.hostport, "[::1]:4001");
	ck_assert_int_eq(url_parse("http://node-1:00080", 0, &u), 0);
	ck_assert_str_eq(u.host, "node-1");
	ck_assert_str_eq(u.port, "00080"); /* as written: the Host header a peer sends */
	ck_assert(!u.v6);
	ck_assert_str_eq(u.hostport, "node-1:00080");
	ck_assert_str_eq(u.base, "http://node-1:00080");
	char long_host[URL_HOST_MAX + 16];
	snprintf(long_host, sizeof(long_host), "http://%0*d:80", URL_HOST_MAX - 1, 0);
	ck_assert_int_eq(url_parse(long_host, 0, &u), 0);
	snprintf(long_host, sizeof(long_host), "http://%0*d:80", URL_HOST_MAX, 0);
	ck_assert_int_eq(url_parse(long_host, 0, &u), -EINVAL);
}
END_TEST

/* The peer client (peer_create) also takes one trailing '/'. */
START_TEST(test_slash)
{
	struct url u;
	ck_assert_int_eq(url_parse("http://h:80/", URL_SLASH, &u), 0);
	ck_assert_str_eq(u.hostport, "h:80");
	ck_assert_int_eq(url_parse("http://[::1]:80/", URL_SLASH, &u), 0);
	ck_assert_str_eq(u.hostport, "[::1]:80");
	ck_assert_int_eq(url_parse("http://h:80//", URL_SLASH, &u), -EINVAL);
	ck_assert_int_eq(url_parse("http://h:80/x", URL_SLASH, &u), -EINVAL);
	ck_assert_int_eq(url_parse("http://h/", URL_SLASH, &u), -EINVAL);
	ck_assert_int_eq(url_parse("h:80/", URL_SLASH, &u), -EINVAL);
}
END_TEST

/* Callers that speak TLS take https:// too; everyone else still refuses it. */
START_TEST(test_https)
{
	struct url u;
	ck_assert_int_eq(url_parse("https://n1:2380", URL_HTTPS, &u), 0);
	ck_assert(u.tls);
	ck_assert_str_eq(u.hostport, "n1:2380");
	ck_assert_str_eq(u.base, "https://n1:2380");
	ck_assert_int_eq(url_parse("https://[::1]:2380/", URL_HTTPS | URL_SLASH, &u), 0);
	ck_assert_str_eq(u.base, "https://[::1]:2380");
	ck_assert_int_eq(url_parse("http://n1:2380", URL_HTTPS, &u), 0);
	ck_assert(!u.tls);
	ck_assert_int_eq(url_parse("n1:2380", URL_HTTPS | URL_SHORT, &u), 0);
	ck_assert(!u.tls);
	ck_assert_int_eq(url_parse("https://n1:2380", 0, &u), -EINVAL);
	ck_assert_int_eq(url_parse("https://n1:2380", URL_SHORT, &u), -EINVAL);
	ck_assert_int_eq(url_parse("https://n1", URL_HTTPS, &u), -EINVAL);
	ck_assert_int_eq(url_parse("HTTPS://n1:1", URL_HTTPS, &u), -EINVAL);
	ck_assert_int_eq(url_parse("httpss://n1:1", URL_HTTPS | URL_SHORT, &u), -EINVAL);
}
END_TEST

/* raftctl's --endpoints and member URLs. */
static const struct {
	const char *in, *host, *port, *base;
} short_good[] = {
	{ "http://127.0.0.1:4001", "127.0.0.1", "4001", "http://127.0.0.1:4001" },
	{ "127.0.0.1:4002", "127.0.0.1", "4002", "http://127.0.0.1:4002" },
	{ "localhost", "localhost", "4001", "http://localhost:4001" },
	{ "localhost/", "localhost", "4001", "http://localhost:4001" },
	{ ":4003", "127.0.0.1", "4003", "http://127.0.0.1:4003" },
	{ "http://:4003", "127.0.0.1", "4003", "http://127.0.0.1:4003" },
	{ "[::1]:4004", "::1", "4004", "http://[::1]:4004" },
	{ "[::1]", "::1", "4001", "http://[::1]:4001" },
	{ "http://[::1]/", "::1", "4001", "http://[::1]:4001" },
	{ "http://h:80/", "h", "80", "http://h:80" },
};

START_TEST(test_short_good)
{
	struct url u;
	ck_assert_msg(url_parse(short_good[_i].in, URL_SHORT | URL_SLASH, &u) == 0, "%s", short_good[_i].in);
	ck_assert_str_eq(u.host, short_good[_i].host);
	ck_assert_str_eq(u.port, short_good[_i].port);
	ck_assert_str_eq(u.base, short_good[_i].base);
	/* the normal form is a strict URL of the same address */
	struct url s;
	ck_assert_int_eq(url_parse(u.base, 0, &s), 0);
	ck_assert_int_eq(memcmp(&u, &s, sizeof(u)), 0);
}
END_TEST

static const char *const short_bad[] = {
	"", "/", "https://h:1", "ftp://h", "h://x", "x/http://h:1", ":", "[]", "[::1", "[::1]x", "[::1]:", "h:",
	"h:0", "h:65536", "h:8x", "h:80x", "h: 80", "h:+80", "u@h:80", "h/x:80", "a:b:80", "h:80//",
};

START_TEST(test_short_bad)
{
	struct url u;
	ck_assert_msg(url_parse(short_bad[_i], URL_SHORT | URL_SLASH, &u) == -EINVAL, "%s", short_bad[_i]);
}
END_TEST

START_TEST(test_escape)
{
	char out[64];
	ck_assert_int_eq(url_escape_segment("sp ace&%", out, sizeof(out)), 12);
	ck_assert_str_eq(out, "sp%20ace&%25");
	ck_assert_int_eq(url_escape_segment("a/b?c#d", out, sizeof(out)), 13);
	ck_assert_str_eq(out, "a%2Fb%3Fc%23d");
	ck_assert_int_eq(url_escape_segment("-._~!$&'()*+,;=:@Az9", out, sizeof(out)), 20);
	ck_assert_str_eq(out, "-._~!$&'()*+,;=:@Az9");
	ck_assert_int_eq(url_escape_segment("\xc3\xa9\n", out, sizeof(out)), 9);
	ck_assert_str_eq(out, "%C3%A9%0A");
	ck_assert_int_eq(url_escape_segment("", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	/* room for the NUL too */
	ck_assert_int_eq(url_escape_segment("abc", out, 4), 3);
	ck_assert_int_eq(url_escape_segment("abcd", out, 4), -ENAMETOOLONG);
	ck_assert_int_eq(url_escape_segment("a b", out, 5), -ENAMETOOLONG);
	ck_assert_int_eq(url_escape_segment("a b", out, 6), 5);
}
END_TEST

START_TEST(test_unescape)
{
	char s[64];
	strcpy(s, "sp%20ace%26%25");
	ck_assert_uint_eq(url_unescape(s), 8);
	ck_assert_str_eq(s, "sp ace&%");
	strcpy(s, "%zz%4%4g%%41+%c3%A9%");
	ck_assert_uint_eq(url_unescape(s), 14);
	ck_assert_str_eq(s, "%zz%4%4g%A+\xc3\xa9%");
	/* every byte there is, through the encoder and back */
	char all[256], enc[3 * 256 + 1];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	ck_assert_int_ge(url_escape_segment(all, enc, sizeof(enc)), 0);
	ck_assert_ptr_null(strchr(enc, '/'));
	ck_assert_uint_eq(url_unescape(enc), 255);
	ck_assert_str_eq(enc, all);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("url");
	TCase *tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_strict_good, 0, (int)(sizeof(strict_good) / sizeof(strict_good[0])));
	tcase_add_loop_test(tc, test_strict_bad, 0, (int)(sizeof(strict_bad) / sizeof(strict_bad[0])));
	tcase_add_test(tc, test_parts);
	tcase_add_test(tc, test_slash);
	tcase_add_test(tc, test_https);
	tcase_add_loop_test(tc, test_short_good, 0, (int)(sizeof(short_good) / sizeof(short_good[0])));
	tcase_add_loop_test(tc, test_short_bad, 0, (int)(sizeof(short_bad) / sizeof(short_bad[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("percent");
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_unescape);
	suite_add_tcase(s, tc);
	return s;
}
