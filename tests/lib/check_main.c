/* tests/lib/check_main.c — main() of every Check unit test program. */
#include "tests/lib/check_main.h"

#include <stdlib.h>

int main(void)
{
	SRunner *sr = srunner_create(test_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
