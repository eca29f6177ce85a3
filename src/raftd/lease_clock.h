/* src/raftd/lease_clock.h — the leader's lease clock (src/raftd/v3_lease.c):
 * per lease its expiry, and which lease is due next.
 *
 * Pure: times are what the caller says (ms on its clock), nothing is read
 * from a clock here, nothing is logged. A lease is found by ID in O(1)
 * (open addressing) and the next due one in O(1) (a binary min-heap on
 * the due time); set, remove and re-arm cost O(log n). The due time is the
 * expiry until the caller re-arms a due lease for later (an expired
 * lease's revoke in flight, retried if it has not applied by then: etcd's
 * expiredLeaseRetryInterval), so the expiry keeps saying "expired".
 */
#ifndef RAFTD_SRC_RAFTD_LEASE_CLOCK_H
#define RAFTD_SRC_RAFTD_LEASE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lease_clock_entry {
	int64_t id;
	int64_t ttl;	    /* granted, seconds */
	uint64_t expiry_ms; /* the lease is expired from then on */
	uint64_t due_ms;    /* the heap's key: expiry_ms, or a retry's time */
	size_t heap;	    /* its place in the heap */
};

struct lease_clock {
	struct lease_clock_entry **heap;
	size_t n, cap;
	struct lease_clock_entry **slots; /* open addressing on id; NULL: free */
	size_t n_slots;			  /* a power of two, or 0 */
};

/* An empty clock needs nothing but zeroing. */
void lease_clock_clear(struct lease_clock *c);
/* Sets a lease's TTL and expiry (and due time), adding it if new. 0 or
 * -ENOMEM (the clock unchanged). */
int lease_clock_set(struct lease_clock *c, int64_t id, int64_t ttl, uint64_t expiry_ms);
/* Forgets a lease; an unknown ID is fine. */
void lease_clock_remove(struct lease_clock *c, int64_t id);
struct lease_clock_entry *lease_clock_find(const struct lease_clock *c, int64_t id);
/* The lease due first if it is due at now_ms, or NULL. */
struct lease_clock_entry *lease_clock_due(const struct lease_clock *c, uint64_t now_ms);
/* The earliest due time, or UINT64_MAX for an empty clock. */
uint64_t lease_clock_next(const struct lease_clock *c);
/* Moves a lease's due time (its expiry stays). */
void lease_clock_rearm(struct lease_clock *c, struct lease_clock_entry *e, uint64_t due_ms);
static inline size_t lease_clock_count(const struct lease_clock *c)
{
	return c->n;
}
/* Calls fn for every lease, in no order; fn must not change the clock. */
void lease_clock_each(struct lease_clock *c, void (*fn)(void *ctx, struct lease_clock_entry *e), void *ctx);

#endif
