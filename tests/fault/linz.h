/* tests/fault/linz.h — linearizability of one register's history.
 *
 * The Wing & Gong / Lowe search (Lowe, "Testing for linearizability", 2017;
 * the algorithm Porcupine implements) with memoization: events sorted by
 * time in a linked list, the search linearizes a pending call, lifts it
 * out of the list and backtracks when it meets a return whose call is still
 * pending. A configuration (set of linearized operations, register value)
 * already explored is never explored again.
 *
 * The model is a register written with unique values: a value is the
 * index of the write that wrote it, so the state is one integer. Keys of a
 * key-value store are independent registers (P-compositionality), so the
 * caller checks one key at a time.
 *
 * A compare-and-swap (etcd's Txn: compare a key's value or mod_revision,
 * then put) is LINZ_CAS: expect is the write whose value it compared
 * with (LINZ_INITIAL: the key absent, mod_revision 0), value its own write
 * id. Its observed outcome must be consistent: one that swapped
 * (cas_failed false) needs the register at expect and sets it to value;
 * one whose compare failed (cas_failed true) needs the register elsewhere
 * and changes nothing. One with an unknown outcome swaps if the register
 * holds expect where it is placed, else does nothing (placed last it
 * changes nothing observed, which covers "never happened").
 *
 * Operations that may or may not have happened (a write that timed out) have
 * ret = LINZ_NEVER: they may take effect at any point after their call, or
 * not at all. Such a write (or CAS) whose value no read returned and no
 * CAS compared with is dropped before the search when no failed CAS
 * returned after its call: placed last, after every read, it changes
 * nothing any operation observed (sound and complete, and it keeps the
 * search small). A failed CAS observes only "not expect", which an
 * unobserved write may explain: such writes stay.
 */
#ifndef RAFTD_TESTS_FAULT_LINZ_H
#define RAFTD_TESTS_FAULT_LINZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINZ_NEVER INT64_MAX /* an operation that never returned */
#define LINZ_INITIAL (-1)    /* the register's value before any write */
#define LINZ_UNKNOWN (-2)    /* a read of a value no write wrote */

enum linz_kind { LINZ_WRITE, LINZ_READ, LINZ_CAS };

struct linz_op {
	enum linz_kind kind;
	/* LINZ_WRITE, LINZ_CAS: an id unique among the writes and CASes of
	 * this history (>= 0).
	 * LINZ_READ: the id of the write whose value was read, LINZ_INITIAL,
	 * or LINZ_UNKNOWN. */
	int64_t value;
	int64_t call, ret; /* ret > call; LINZ_NEVER: unknown outcome (writes and CASes) */
	int64_t expect;    /* LINZ_CAS: a write id or LINZ_INITIAL */
	bool cas_failed;   /* LINZ_CAS: answered "compare failed" (not with LINZ_NEVER) */
};

enum linz_result {
	LINZ_OK = 0,
	LINZ_VIOLATION = 1,
	LINZ_LIMIT = 2, /* gave up: the memo table reached the memory limit */
};

struct linz_report {
	size_t ops_searched;  /* after dropping unobserved unknown writes */
	size_t explored;      /* configurations memoized */
	/* On a violation: the longest linearizable prefix found (number of
	 * operations) and the operation (index in the caller's array) whose
	 * return was reached with its call still unlinearizable there. */
	size_t best_prefix;
	size_t stuck_op;
};

/* Checks ops[0..n) (in any order). max_bytes bounds the memo table (0: 1 GiB).
 * Returns LINZ_OK, LINZ_VIOLATION or LINZ_LIMIT; -ENOMEM or -EINVAL (a
 * read or a failed CAS with ret = LINZ_NEVER, ret <= call, duplicate write ids). rep may
 * be NULL. */
int linz_check(const struct linz_op *ops, size_t n, size_t max_bytes, struct linz_report *rep);

#endif
