/* base/alloc.h — the allocation seam of base/, wal/ and net/.
 *
 * Every allocation of those folders goes through these wrappers, so that a
 * test can fail the Nth one and walk each out-of-memory path: arm with
 * alloc_fail_nth(n), run the operation, and alloc_failed() says whether the
 * failure was reached (if not, the operation made fewer than n
 * allocations: a loop over n = 1, 2, ... is done).
 *
 * Always compiled in, in every build: the cost is one load and one
 * never-taken branch per allocation, nothing beside malloc() itself, and
 * the code the tests exercise is then the code that ships (no second
 * variant of each library to build and keep in step). Not thread-safe:
 * arm it from the one thread that runs the code under test.
 *
 * src/raft/ includes only libc and has the same seam of its own
 * (raft_fail_alloc_nth() in src/raft/raft.h); src/kv/ has
 * kv_fail_alloc_after(). */
#ifndef RAFTD_BASE_ALLOC_H
#define RAFTD_BASE_ALLOC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The Nth allocation from now (counting every wrapper below) fails, once;
 * 0 disarms. */
void alloc_fail_nth(unsigned long nth);
/* Has the failure armed by alloc_fail_nth() happened? */
bool alloc_failed(void);

/* internal: allocations left until the armed failure (0: none armed) */
extern unsigned long alloc_countdown;
bool alloc_fail_now(void);

static inline bool alloc_refused(void)
{
	return __builtin_expect(alloc_countdown != 0, 0) && alloc_fail_now();
}

static inline void *base_malloc(size_t size)
{
	return alloc_refused() ? NULL : malloc(size);
}

static inline void *base_calloc(size_t n, size_t size)
{
	return alloc_refused() ? NULL : calloc(n, size);
}

static inline void *base_realloc(void *ptr, size_t size)
{
	return alloc_refused() ? NULL : realloc(ptr, size);
}

static inline char *base_strdup(const char *s)
{
	return alloc_refused() ? NULL : strdup(s);
}

/* posix_memalign(): 0 or ENOMEM/EINVAL (a positive errno) */
static inline int base_memalign(void **ret, size_t align, size_t size)
{
	return alloc_refused() ? ENOMEM : posix_memalign(ret, align, size);
}

#endif
