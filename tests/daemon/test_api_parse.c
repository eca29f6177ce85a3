/* tests/daemon/test_api_parse.c — the client API parsing of
 * src/raftd/api_parse.c. */
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

static const char *const good_urls[] = {
	"http://localhost:4001", "http://10.0.0.1:65535", "http://[::1]:4001", "http://a-b.example_1:1",
};

START_TEST(test_valid_urls)
{
	ck_assert_msg(api_valid_url(good_urls[_i]), "%s", good_urls[_i]);
}
END_TEST

static const char *const bad_urls[] = {
	"https://h:1", "http://:80", "http://h", "http://h:", "http://h:0", "http://h:65536", "http://h:80/",
	"http://u@h:80", "http://h:80?x", "http://h:80#x", "http://h:8x",
	/* what net/peer.c cannot connect to (strtoul took a sign or blanks;
	 * blanks and extra colons in the host), found by fuzz_client_api */
	"http://h:\r\n2", "http://h: 80", "http://h:+80", "http://h:-0", "http://a b:80", "http://a\nb:80",
	"http://a:b:80", "http://[::1:80", "http://[::1]x:80", "http://[]:80", "http://h:0000080",
};

START_TEST(test_invalid_urls)
{
	ck_assert_msg(!api_valid_url(bad_urls[_i]), "%s", bad_urls[_i]);
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
	tcase_add_loop_test(tc, test_valid_urls, 0, sizeof(good_urls) / sizeof(good_urls[0]));
	tcase_add_loop_test(tc, test_invalid_urls, 0, sizeof(bad_urls) / sizeof(bad_urls[0]));
	tcase_add_test(tc, test_transfer_to);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
