/* base/alloc.c — the state of the allocation seam (base/alloc.h). */
#include "base/alloc.h"

unsigned long alloc_countdown;
static bool fired;

void alloc_fail_nth(unsigned long nth)
{
	alloc_countdown = nth;
	fired = false;
}

bool alloc_failed(void)
{
	return fired;
}

bool alloc_fail_now(void)
{
	if (--alloc_countdown != 0)
		return false;
	fired = true;
	return true;
}
