/* tests/daemon/test_histogram.c — base/histogram: which bucket an
 * observation lands in (bounds are inclusive, as Prometheus's le), and the
 * exposition text (cumulative buckets, +Inf, _sum in seconds, _count). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/histogram.h"
#include "tests/lib/check_main.h"

START_TEST(test_buckets)
{
	struct hist h = { 0 };
	hist_observe(&h, 0);                  /* le 0.0001 */
	hist_observe(&h, 100000);             /* exactly 0.0001: le 0.0001 */
	hist_observe(&h, 100001);             /* le 0.00025 */
	hist_observe(&h, 1000000000);         /* exactly 1 s */
	hist_observe(&h, 10000000001ull);     /* over 10 s: +Inf only */
	ck_assert_uint_eq(h.bucket[0], 2);
	ck_assert_uint_eq(h.bucket[1], 1);
	ck_assert_uint_eq(h.bucket[12], 1);
	ck_assert_uint_eq(h.count, 5);
	ck_assert_uint_eq(h.sum_ns, 0 + 100000 + 100001 + 1000000000 + 10000000001ull);
	for (unsigned i = 1; i < HIST_BUCKETS; i++)
		ck_assert_uint_gt(hist_bound_ns[i], hist_bound_ns[i - 1]);
}
END_TEST

START_TEST(test_format)
{
	struct hist h = { 0 };
	char buf[4096];
	hist_observe(&h, 2000000);   /* 2 ms */
	hist_observe(&h, 1500000000); /* 1.5 s */
	int l = hist_format(&h, "x_seconds", "route=\"/db/\"", buf, sizeof(buf));
	ck_assert_int_gt(l, 0);
	ck_assert_int_eq((size_t)l, strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "x_seconds_bucket{route=\"/db/\",le=\"0.001\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "x_seconds_bucket{route=\"/db/\",le=\"0.0025\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "x_seconds_bucket{route=\"/db/\",le=\"1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "x_seconds_bucket{route=\"/db/\",le=\"2.5\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf, "x_seconds_bucket{route=\"/db/\",le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf, "x_seconds_sum{route=\"/db/\"} 1.502000000\n"));
	ck_assert_ptr_nonnull(strstr(buf, "x_seconds_count{route=\"/db/\"} 2\n"));

	l = hist_format(&h, "y", NULL, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "y_bucket{le=\"0.0001\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\ny_sum 1.502000000\ny_count 2\n"));

	/* too small a buffer: what it needed, nothing written past it */
	char small[64];
	memset(small, 'z', sizeof(small));
	int need = hist_format(&h, "y", NULL, small, 32);
	ck_assert_int_eq(need, l);
	ck_assert_int_eq(small[32], 'z');
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("histogram");
	TCase *tc = tcase_create("histogram");
	tcase_add_test(tc, test_buckets);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	return s;
}
