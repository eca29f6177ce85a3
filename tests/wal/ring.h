/* tests/wal/ring.h — the smallest event loop: what base/loop does for the
 * daemon, for the WAL tests and benchmark. */
#ifndef RAFTD_TESTS_WAL_RING_H
#define RAFTD_TESTS_WAL_RING_H

#include <errno.h>

#include "base/uring_op.h"
#include "wal/wal.h"

/* Submit what is queued, wait for at least one completion, dispatch all
 * that are ready. Returns the number dispatched or a negative errno. */
static inline int ring_step(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;
	int rv;

	do
		rv = io_uring_submit_and_wait(ring, 1);
	while (rv == -EINTR);
	if (rv < 0)
		return rv;
	while (io_uring_peek_cqe(ring, &cqe) == 0) {
		/* Copy, then release the slot: a handler may queue SQEs. */
		struct io_uring_cqe c = *cqe;
		io_uring_cqe_seen(ring, cqe);
		uring_op_dispatch(&c);
		n++;
	}
	return (int)n;
}

/* Run until the WAL has nothing in flight. */
static inline int ring_drain(struct io_uring *ring, struct wal *w)
{
	while (wal_busy(w)) {
		int rv = ring_step(ring);
		if (rv < 0)
			return rv;
	}
	return 0;
}

#endif
