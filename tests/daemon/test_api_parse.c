/* tests/daemon/test_api_parse.c — the client API parsing of
 * src/raftd/api_parse.c. (A /join's connectionString is net/url's:
 * tests/net/test_url.c.) */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftd/api_parse.h"
#include "tests/lib/check_main.h"

/* api_db_key() on raw, with the decoded (or clean) path it leaves */
static enum api_key key_of(const char *raw, char *buf, size_t *len)
{
	return api_db_key(raw, strlen(raw), buf, len);
}

START_TEST(test_db_key)
{
	char buf[128];
	size_t len;
	ck_assert_int_eq(key_of("/db/foo", buf, &len), API_KEY_OK);
	ck_assert_uint_eq(len, 7);
	ck_assert(!memcmp(buf + 4, "foo", 3));
	ck_assert_int_eq(key_of("/db/", buf, &len), API_KEY_NOT_FOUND);
	ck_assert_int_eq(key_of("/db/a/b", buf, &len), API_KEY_NOT_FOUND);
	ck_assert_int_eq(key_of("/db/a%2Fb", buf, &len), API_KEY_NOT_FOUND); /* Go decodes, then routes */
	ck_assert_int_eq(key_of("/db/a/", buf, &len), API_KEY_NOT_FOUND);    /* clean: the '/' stays */
	/* '+' is a '+' in a path; %20 a blank */
	ck_assert_int_eq(key_of("/db/a+b%20c", buf, &len), API_KEY_OK);
	ck_assert_uint_eq(len, 9);
	ck_assert(!memcmp(buf + 4, "a+b c", 5));
}
END_TEST

/* Keys are bytes: a NUL byte is part of the key, never its end. */
START_TEST(test_db_key_nul)
{
	char buf[128];
	size_t len;
	ck_assert_int_eq(key_of("/db/x%00y", buf, &len), API_KEY_OK);
	ck_assert_uint_eq(len, 7);
	ck_assert(!memcmp(buf + 4, "x\0y", 3));
	ck_assert_int_eq(key_of("/db/%00", buf, &len), API_KEY_OK);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(buf[4], 0);
}
END_TEST

/* What Go's JSON would turn into U+FFFD is refused; UTF-8 is kept. */
START_TEST(test_db_key_utf8)
{
	char buf[128];
	size_t len;
	ck_assert_int_eq(key_of("/db/%ff", buf, &len), API_KEY_NOT_UTF8);
	ck_assert_int_eq(key_of("/db/%fe", buf, &len), API_KEY_NOT_UTF8);
	ck_assert_int_eq(key_of("/db/a%c3", buf, &len), API_KEY_NOT_UTF8);        /* cut short */
	ck_assert_int_eq(key_of("/db/%c0%af", buf, &len), API_KEY_NOT_UTF8);      /* overlong */
	ck_assert_int_eq(key_of("/db/%ed%a0%80", buf, &len), API_KEY_NOT_UTF8);   /* a surrogate */
	ck_assert_int_eq(key_of("/db/%f4%90%80%80", buf, &len), API_KEY_NOT_UTF8); /* past U+10FFFF */
	ck_assert_int_eq(key_of("/db/caf%c3%a9", buf, &len), API_KEY_OK);
	ck_assert_int_eq(key_of("/db/%ef%bf%bd", buf, &len), API_KEY_OK); /* U+FFFD itself */
	ck_assert_int_eq(key_of("/db/caf\xc3\xa9", buf, &len), API_KEY_OK);   /* sent unescaped */
	ck_assert_int_eq(key_of("/db/\xff", buf, &len), API_KEY_NOT_UTF8);
}
END_TEST

/* Go's url package refuses a '%' that starts no escape (400). */
START_TEST(test_db_key_bad_escape)
{
	char buf[128];
	size_t len;
	ck_assert_int_eq(key_of("/db/%zz", buf, &len), API_KEY_BAD_ESCAPE);
	ck_assert_int_eq(key_of("/db/a%", buf, &len), API_KEY_BAD_ESCAPE);
	ck_assert_int_eq(key_of("/db/a%4", buf, &len), API_KEY_BAD_ESCAPE);
	ck_assert_int_eq(key_of("/db/a%4g", buf, &len), API_KEY_BAD_ESCAPE);
	ck_assert_int_eq(key_of("/db/%41", buf, &len), API_KEY_OK);
	ck_assert(!memcmp(buf, "/db/A", 5));
}
END_TEST

/* gorilla/mux redirects a path that is not clean to the clean one. */
START_TEST(test_db_key_unclean)
{
	static const struct {
		const char *raw, *clean;
		size_t clean_len; /* 0: strlen(clean) */
	} cases[] = {
		{ "/db//a", "/db/a", 0 },       { "/db/./a", "/db/a", 0 },   { "/db/x/../a", "/db/a", 0 },
		{ "/db/..", "/", 0 },           { "/db/../../x", "/x", 0 },  { "/db/.", "/db", 0 },
		{ "/db//a/", "/db/a/", 0 },     { "/db/%2e%2e/s", "/s", 0 }, { "//db/a", "/db/a", 0 },
		{ "/db/a%00//b", "/db/a\0/b", 8 },
	};
	char buf[128];
	size_t len;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t cl = cases[i].clean_len ? cases[i].clean_len : strlen(cases[i].clean);
		ck_assert_msg(key_of(cases[i].raw, buf, &len) == API_KEY_UNCLEAN, "%s", cases[i].raw);
		ck_assert_msg(len == cl && !memcmp(buf, cases[i].clean, cl), "%s -> %.*s", cases[i].raw, (int)len, buf);
	}
}
END_TEST

START_TEST(test_path_escape)
{
	char out[64];
	ck_assert_int_eq(api_path_escape("/db/x\0y", 7, out, sizeof(out)), 9);
	ck_assert_str_eq(out, "/db/x%00y");
	ck_assert_int_eq(api_path_escape("/db/a b?#%", 10, out, sizeof(out)), 18);
	ck_assert_str_eq(out, "/db/a%20b%3F%23%25");
	ck_assert_int_eq(api_path_escape("/join", 5, out, sizeof(out)), 5);
	ck_assert_str_eq(out, "/join");
	ck_assert_int_eq(api_path_escape("/db/abc", 7, out, 7), -ENAMETOOLONG);
	ck_assert_int_eq(api_path_escape("/db/abc", 7, out, 8), 7);
}
END_TEST

/* what api_url_check() tells the operator: the part that is wrong */
static const struct {
	const char *url, *why;
} url_reasons[] = {
	{ "notaurl", "no scheme" },           { "ftp://h:1", "the scheme must be http" },
	{ "https://h:1", "https" },           { "http://notaurl", "no port" },
	{ "http://:80", "no host" },          { "http://h:80/x", "nothing may follow the port" },
	{ "http://h:x", "decimal digits" },   { "http://h:70000", "1 to 65535" },
	{ "http://a b:80", "the host may" },  { "http://[::1]x:80", "IPv6" },
	{ "http://[::1]", "no port" },        { "http://a:b:80", "the host may" },
};

START_TEST(test_url_reasons)
{
	char why[256] = "";
	ck_assert(!api_url_check(url_reasons[_i].url, why, sizeof(why)));
	ck_assert_msg(strstr(why, url_reasons[_i].why), "%s: %s", url_reasons[_i].url, why);
	ck_assert(api_url_check("http://[::1]:4001", why, sizeof(why)));
	ck_assert(api_url_check("http://localhost:4001", why, sizeof(why)));
}
END_TEST

START_TEST(test_transfer_to)
{
	char to[64], why[256];
	ck_assert_int_eq(api_transfer_to((const uint8_t *)" \r\n", 3, to, sizeof(to), why, sizeof(why)), 0);
	ck_assert_str_eq(to, "");
	const char *b = "{\"to\":\"6edf0e8\"}";
	ck_assert_int_eq(api_transfer_to((const uint8_t *)b, strlen(b), to, sizeof(to), why, sizeof(why)), 0);
	ck_assert_str_eq(to, "6edf0e8");
	b = "{\"to\":null}";
	ck_assert_int_eq(api_transfer_to((const uint8_t *)b, strlen(b), to, sizeof(to), why, sizeof(why)), 0);
	ck_assert_str_eq(to, "");
	b = "{\"to\":1}";
	ck_assert_int_eq(api_transfer_to((const uint8_t *)b, strlen(b), to, sizeof(to), why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "transfer: \"to\" must be a string");
	b = "[1]";
	ck_assert_int_eq(api_transfer_to((const uint8_t *)b, strlen(b), to, sizeof(to), why, sizeof(why)), -EINVAL);
	b = "{\"to\":";
	ck_assert_int_eq(api_transfer_to((const uint8_t *)b, strlen(b), to, sizeof(to), why, sizeof(why)), -EINVAL);
	ck_assert(strncmp(why, "transfer: invalid JSON at byte ", 31) == 0);
	char big[200];
	int l = snprintf(big, sizeof(big), "{\"to\":\"%070d\"}", 1);
	ck_assert_int_eq(api_transfer_to((const uint8_t *)big, (size_t)l, to, sizeof(to), why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "transfer: \"to\" names no member");
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("api_parse");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_db_key);
	tcase_add_loop_test(tc, test_url_reasons, 0, sizeof(url_reasons) / sizeof(url_reasons[0]));
	tcase_add_test(tc, test_db_key_nul);
	tcase_add_test(tc, test_db_key_utf8);
	tcase_add_test(tc, test_db_key_bad_escape);
	tcase_add_test(tc, test_db_key_unclean);
	tcase_add_test(tc, test_path_escape);
	tcase_add_test(tc, test_transfer_to);
	suite_add_tcase(s, tc);
	return s;
}
