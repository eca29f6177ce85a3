/* wal/failpoint.c — result injection for tests (built with -DWAL_FAILPOINTS).
 *
 * io_uring operations never pass through libc, so an LD_PRELOAD shim cannot
 * fail them. Instead the WAL passes every completion result through
 * wal_fp_filter() before looking at it; in test builds that can replace the
 * Nth one of a kind by an error, as if the kernel had returned it.
 */
#include "wal/wal_int.h"

#ifdef WAL_FAILPOINTS

static struct {
	unsigned nth, seen;
	int err;
} fps[WAL_FP_COUNT];

void wal_failpoint_arm(enum wal_fp fp, unsigned nth, int res)
{
	fps[fp].nth = nth;
	fps[fp].seen = 0;
	fps[fp].err = res;
}

void wal_failpoint_reset(void)
{
	memset(fps, 0, sizeof(fps));
}

int wal_fp_filter(enum wal_fp fp, int res)
{
	if (!fps[fp].nth)
		return res;
	if (++fps[fp].seen != fps[fp].nth)
		return res;
	fps[fp].nth = 0; /* one shot */
	return fps[fp].err;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int wal_failpoints_disabled;
#endif
