/* tests/daemon/test_api_parse.c — the client API parsing of
 * src/raftd/api_parse.c. (A /join's connectionString is net/url's:
 * tests/net/test_url.c.) */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftd/api_parse.h"

START_TEST(test_db_key)
{
	ck_assert_str_eq(api_db_key("/db/foo"), "foo");
	ck_assert_ptr_null(api_db_key("/db/"));
	ck_assert_ptr_null(api_db_key("/db/a/b"));
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

int main(void)
{
	Suite *s = suite_create("api_parse");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_db_key);
	tcase_add_loop_test(tc, test_url_reasons, 0, sizeof(url_reasons) / sizeof(url_reasons[0]));
	tcase_add_test(tc, test_transfer_to);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
