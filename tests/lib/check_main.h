/* tests/lib/check_main.h — the one main() of the Check unit tests.
 *
 * Each unit test program defines test_suite(); tests/lib/check_main.c runs
 * it, so every program runs its tests the same way (CK_VERBOSITY=verbose
 * lists each test, CK_RUN_CASE=NAME runs one tcase, as Check reads them). */
#ifndef RAFTD_TESTS_CHECK_MAIN_H
#define RAFTD_TESTS_CHECK_MAIN_H

#include <check.h>

Suite *test_suite(void);

#endif
