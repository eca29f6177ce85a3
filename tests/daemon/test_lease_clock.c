/* tests/daemon/test_lease_clock.c — the leader's lease clock
 * (src/raftd/lease_clock.c): lookups, the due order, re-arming, removal,
 * against a plain array model under random operations. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "src/raftd/lease_clock.h"
#include "tests/lib/check_main.h"

START_TEST(test_order)
{
	struct lease_clock c = { 0 };
	ck_assert_ptr_null(lease_clock_due(&c, UINT64_MAX));
	ck_assert_uint_eq(lease_clock_next(&c), UINT64_MAX);
	ck_assert_int_eq(lease_clock_set(&c, 7, 10, 300), 0);
	ck_assert_int_eq(lease_clock_set(&c, 8, 10, 100), 0);
	ck_assert_int_eq(lease_clock_set(&c, 9, 10, 200), 0);
	ck_assert_uint_eq(lease_clock_count(&c), 3);
	ck_assert_ptr_null(lease_clock_due(&c, 99));
	ck_assert_int_eq(lease_clock_due(&c, 100)->id, 8);
	/* a keep-alive moves it behind the others */
	ck_assert_int_eq(lease_clock_set(&c, 8, 10, 400), 0);
	ck_assert_uint_eq(lease_clock_count(&c), 3);
	ck_assert_int_eq(lease_clock_due(&c, 1000)->id, 9);
	/* a revoke in flight: due again later, still expired */
	struct lease_clock_entry *e = lease_clock_due(&c, 1000);
	lease_clock_rearm(&c, e, 3200);
	ck_assert_uint_eq(lease_clock_find(&c, 9)->expiry_ms, 200);
	ck_assert_int_eq(lease_clock_due(&c, 1000)->id, 7);
	lease_clock_remove(&c, 7);
	lease_clock_remove(&c, 7); /* twice is fine */
	lease_clock_remove(&c, 12345);
	ck_assert_int_eq(lease_clock_due(&c, 1000)->id, 8);
	ck_assert_ptr_null(lease_clock_find(&c, 7));
	ck_assert_uint_eq(lease_clock_next(&c), 400);
	lease_clock_clear(&c);
	ck_assert_uint_eq(lease_clock_count(&c), 0);
}
END_TEST

/* IDs that collide in the table (consecutive, and multiples of a large
 * power of two) and removals in between: every lease stays findable. */
START_TEST(test_random_model)
{
	enum { N = 3000 };
	static int64_t ids[N];
	static uint64_t exp[N];
	static bool live[N];
	struct lease_clock c = { 0 };
	srand(42);
	for (size_t i = 0; i < N; i++)
		ids[i] = i % 2 ? (int64_t)i : (int64_t)i << 40;
	for (int round = 0; round < 200000; round++) {
		size_t i = (size_t)rand() % N;
		int op = rand() % 4;
		if (op < 2) {
			exp[i] = (uint64_t)(rand() % 100000);
			ck_assert_int_eq(lease_clock_set(&c, ids[i], 5, exp[i]), 0);
			live[i] = true;
		} else if (op == 2) {
			lease_clock_remove(&c, ids[i]);
			live[i] = false;
		} else {
			struct lease_clock_entry *e = lease_clock_find(&c, ids[i]);
			ck_assert(!!e == live[i]);
			if (e)
				ck_assert_uint_eq(e->expiry_ms, exp[i]);
		}
		if (round % 1000 == 0) {
			size_t n = 0;
			uint64_t min = UINT64_MAX;
			for (size_t k = 0; k < N; k++) {
				if (!live[k])
					continue;
				n++;
				if (exp[k] < min)
					min = exp[k];
				ck_assert_ptr_nonnull(lease_clock_find(&c, ids[k]));
			}
			ck_assert_uint_eq(lease_clock_count(&c), n);
			ck_assert_uint_eq(lease_clock_next(&c), min);
		}
	}
	/* draining in due order gives non-decreasing times */
	uint64_t last = 0;
	struct lease_clock_entry *e;
	while ((e = lease_clock_due(&c, UINT64_MAX))) {
		ck_assert_uint_ge(e->due_ms, last);
		last = e->due_ms;
		lease_clock_remove(&c, e->id);
	}
	ck_assert_uint_eq(lease_clock_count(&c), 0);
	lease_clock_clear(&c);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("lease_clock");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_random_model);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
