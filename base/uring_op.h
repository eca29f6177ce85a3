/* base/uring_op.h — how completions find their owner on the shared ring.
 *
 * One io_uring serves the whole process. Every SQE that any module submits
 * carries user_data = (uintptr_t)op, where op points at a struct uring_op
 * embedded in the module's own request object. The event loop (or a test's
 * small driver) calls op->complete(op, cqe) for every CQE, so modules never
 * need to know about each other. A module with several SQEs in flight embeds
 * one uring_op per SQE. user_data 0 is reserved (never dispatched).
 */
#ifndef RAFTD_BASE_URING_OP_H
#define RAFTD_BASE_URING_OP_H

#include <stddef.h>
#include <stdint.h>
#include <liburing.h>
#ifdef RAFTD_VALGRIND
#include <valgrind/memcheck.h>
#endif

struct uring_op {
	void (*complete)(struct uring_op *op, const struct io_uring_cqe *cqe);
};

static inline void uring_op_set(struct io_uring_sqe *sqe, struct uring_op *op)
{
	io_uring_sqe_set_data(sqe, op);
}

/* Dispatch one completion; returns false for user_data 0. */
static inline int uring_op_dispatch(const struct io_uring_cqe *cqe)
{
	struct uring_op *op = (struct uring_op *)(uintptr_t)cqe->user_data;
	if (!op)
		return 0;
	op->complete(op, cqe);
	return 1;
}

/* The kernel filled len bytes at p for a completed read or receive.
 * Memcheck does not see io_uring's writes, so without this every byte
 * received that way reads as uninitialised under valgrind, and the real
 * uninitialised reads drown in those reports. A no-op unless configured
 * with --enable-valgrind; outside valgrind the request costs a few
 * instructions. */
static inline void uring_filled(const void *p, size_t len)
{
#ifdef RAFTD_VALGRIND
	VALGRIND_MAKE_MEM_DEFINED(p, len);
#else
	(void)p;
	(void)len;
#endif
}

#endif
