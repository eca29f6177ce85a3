/* src/mvcc/lease.c — the store's leases (mvcc.h, Leases): etcd's lessor
 * without its clock.
 *
 * The table. Leases live in one open-addressing hash table by ID (linear
 * probing, at most 3/4 full, deletion by backward shift, so no tombstones
 * pile up under lease churn); ID 0, which etcd never grants, marks a free
 * slot. A slot is the lease itself (ID, TTL, its keys): 100,000 leases are
 * one allocation, not 100,000. The ascending ID order that snapshots and
 * LeaseLeases want is a sort of a copy, paid only by them.
 *
 * Attachments. Each lease holds the set of its live keys as pointers to
 * the store's key blocks (struct mvcc_key): a key attached to no lease
 * costs nothing, and nothing is added to every key for the few that have
 * leases. The set is its own small hash table of pointers, so a detach is
 * O(1) even for a lease with many keys; the common lease with one key
 * (a lock, an election, a session) keeps it in the slot itself, without a
 * table. A key's lease is known from its live version (mvcc_rev.lease), so
 * the store needs no map from key to lease.
 *
 * Atomicity. Attachments change only at a commit (mvcc.c), which must not
 * fail: a put with a lease first reserves room in that lease's set
 * (mvcc_lease_reserve()), and a detach never allocates. A rollback thus
 * has nothing to undo here. Sets never shrink: a revoke frees them whole.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "src/mvcc/mvcc.h"
#include "src/mvcc/mvcc_int.h"

struct lease {
	int64_t id; /* 0: a free slot */
	int64_t ttl;
	union {
		struct mvcc_key *one; /* cap 0: the key, or NULL */
		struct mvcc_key **set; /* cap > 0: open addressing, NULL free */
	};
	uint32_t n, cap;
};

struct mvcc_leases {
	struct lease *t;
	size_t n, cap; /* cap: 0 or a power of two */
};

static inline size_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return (size_t)x;
}

/* ---- a lease's set of keys ---- */

static inline size_t key_slot(const struct mvcc_key *k, uint32_t cap)
{
	return mix((uint64_t)(uintptr_t)k) & (cap - 1);
}

/* k's slot in the set, or the free slot where it would go. */
static size_t set_find(const struct lease *l, const struct mvcc_key *k)
{
	size_t i = key_slot(k, l->cap);
	while (l->set[i] && l->set[i] != k)
		i = (i + 1) & (l->cap - 1);
	return i;
}

static void set_put(struct mvcc_key **set, uint32_t cap, struct mvcc_key *k)
{
	size_t i = key_slot(k, cap);
	while (set[i])
		i = (i + 1) & (cap - 1);
	set[i] = k;
}

static bool room_for(uint32_t cap, uint64_t n)
{
	return cap ? n * 4 <= (uint64_t)cap * 3 : n <= 1;
}

/* Room for more keys than the lease holds. 0 or -ENOMEM (unchanged). */
static int set_reserve(struct lease *l, size_t more)
{
	uint64_t need = (uint64_t)l->n + more;
	if (room_for(l->cap, need))
		return 0;
	if (need > UINT32_MAX / 2)
		return -ENOMEM;
	uint32_t cap = l->cap ? l->cap : 4;
	while (!room_for(cap, need))
		cap *= 2;
	struct mvcc_key **set = base_calloc(cap, sizeof(*set));
	if (!set)
		return -ENOMEM;
	if (!l->cap) {
		if (l->one)
			set_put(set, cap, l->one);
	} else {
		for (uint32_t i = 0; i < l->cap; i++)
			if (l->set[i])
				set_put(set, cap, l->set[i]);
		free(l->set);
	}
	l->set = set;
	l->cap = cap;
	return 0;
}

/* Adds k (room reserved before). */
static void set_add(struct lease *l, struct mvcc_key *k)
{
	if (!l->cap) {
		if (l->one == k)
			return;
		assert(!l->one);
		l->one = k;
		l->n = 1;
		return;
	}
	size_t i = set_find(l, k);
	if (l->set[i])
		return;
	assert(room_for(l->cap, (uint64_t)l->n + 1));
	l->set[i] = k;
	l->n++;
}

/* Removes k if it is there; never allocates. */
static void set_del(struct lease *l, const struct mvcc_key *k)
{
	if (!l->cap) {
		if (l->one == k) {
			l->one = NULL;
			l->n = 0;
		}
		return;
	}
	size_t mask = l->cap - 1, i = set_find(l, k);
	if (!l->set[i])
		return;
	/* backward shift: later keys of the run move into the hole when their
	 * home slot does not lie between the hole and them */
	for (size_t j = (i + 1) & mask; l->set[j]; j = (j + 1) & mask) {
		size_t home = key_slot(l->set[j], l->cap);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			l->set[i] = l->set[j];
			i = j;
		}
	}
	l->set[i] = NULL;
	l->n--;
}

static void set_free(struct lease *l)
{
	if (l->cap)
		free(l->set);
	l->set = NULL;
	l->n = l->cap = 0;
}

/* Calls fn for each key of the set, in no order. */
static void set_each(const struct lease *l, void (*fn)(void *ctx, struct mvcc_key *k), void *ctx)
{
	if (!l->cap) {
		if (l->one)
			fn(ctx, l->one);
		return;
	}
	for (uint32_t i = 0; i < l->cap; i++)
		if (l->set[i])
			fn(ctx, l->set[i]);
}

/* ---- the table of leases ---- */

static inline size_t id_slot(int64_t id, size_t cap)
{
	return mix((uint64_t)id) & (cap - 1);
}

static struct lease *find(const struct mvcc_leases *t, int64_t id)
{
	if (!t || !t->n || !id)
		return NULL;
	for (size_t i = id_slot(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (t->t[i].id == id)
			return &t->t[i];
		if (!t->t[i].id)
			return NULL;
	}
}

/* Adds a lease with no keys (id not in the table). 0 or -ENOMEM. */
static int insert(struct mvcc *s, int64_t id, int64_t ttl)
{
	struct mvcc_leases *t = s->leases;
	if (!t) {
		t = base_calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		s->leases = t;
	}
	if ((t->n + 1) * 4 > t->cap * 3) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		if (cap > SIZE_MAX / sizeof(struct lease))
			return -ENOMEM;
		struct lease *v = base_calloc(cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->t[i].id)
				continue;
			size_t j = id_slot(t->t[i].id, cap);
			while (v[j].id)
				j = (j + 1) & (cap - 1);
			v[j] = t->t[i];
		}
		free(t->t);
		t->t = v;
		t->cap = cap;
	}
	size_t i = id_slot(id, t->cap);
	while (t->t[i].id)
		i = (i + 1) & (t->cap - 1);
	t->t[i] = (struct lease){ .id = id, .ttl = ttl };
	t->n++;
	return 0;
}

/* Frees l's keys and its slot (backward shift, as set_del). */
static void remove_lease(struct mvcc_leases *t, struct lease *l)
{
	size_t mask = t->cap - 1, i = (size_t)(l - t->t);
	set_free(l);
	for (size_t j = (i + 1) & mask; t->t[j].id; j = (j + 1) & mask) {
		size_t home = id_slot(t->t[j].id, t->cap);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->t[i] = t->t[j];
			i = j;
		}
	}
	t->t[i] = (struct lease){ 0 };
	t->n--;
}

void mvcc_leases_free(struct mvcc_leases *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		if (t->t[i].id)
			set_free(&t->t[i]);
	free(t->t);
	free(t);
}

/* ---- for mvcc.c and history.c (mvcc_int.h) ---- */

bool mvcc_lease_exists(const struct mvcc *s, int64_t id)
{
	return find(s->leases, id) != NULL;
}

int mvcc_lease_reserve(struct mvcc *s, int64_t id, size_t more)
{
	struct lease *l = find(s->leases, id);
	return l ? set_reserve(l, more) : 0;
}

void mvcc_lease_moved(struct mvcc *s, struct mvcc_key *k, int64_t before, int64_t now)
{
	struct lease *l;
	if (before && (l = find(s->leases, before)))
		set_del(l, k);
	if (now && (l = find(s->leases, now)))
		set_add(l, k);
}

int mvcc_lease_restored(struct mvcc *s)
{
	struct idx_pos pos;
	struct mvcc_key *k;

	if (!mvcc_lease_count(s))
		return 0;
	mvcc_idx_seek(&s->idx, NULL, 0, &pos);
	while ((k = mvcc_idx_next(&pos))) {
		struct lease *l;
		if (!is_live(k->head) || !(l = find(s->leases, rev_lease(k->head))))
			continue;
		if (set_reserve(l, 1))
			return -ENOMEM;
		set_add(l, k);
	}
	return 0;
}

/* ---- the interface (mvcc.h) ---- */

int mvcc_lease_grant(struct mvcc *s, int64_t id, int64_t ttl)
{
	s->n_last = 0; /* mvcc_last_events(): nothing after a call that did not write */
	if (!id)
		return -MVCC_E_LEASE_NOT_FOUND;
	if (ttl > MVCC_LEASE_TTL_MAX)
		return -MVCC_E_LEASE_TTL_TOO_LARGE;
	if (find(s->leases, id))
		return -MVCC_E_LEASE_EXISTS;
	return insert(s, id, ttl);
}

bool mvcc_lease_get(const struct mvcc *s, int64_t id, int64_t *ret_ttl)
{
	const struct lease *l = find(s->leases, id);
	if (l && ret_ttl)
		*ret_ttl = l->ttl;
	return l != NULL;
}

size_t mvcc_lease_count(const struct mvcc *s)
{
	return s->leases ? s->leases->n : 0;
}

size_t mvcc_lease_key_count(const struct mvcc *s, int64_t id)
{
	const struct lease *l = find(s->leases, id);
	return l ? l->n : 0;
}

struct keys {
	struct mvcc_key **v;
	size_t n;
};

static void keys_add(void *ctx, struct mvcc_key *k)
{
	struct keys *a = ctx;
	a->v[a->n++] = k;
}

static int key_ptr_cmp(const void *pa, const void *pb)
{
	const struct mvcc_key *a = *(struct mvcc_key *const *)pa, *b = *(struct mvcc_key *const *)pb;
	return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* The lease's keys in key order, into a->v (malloc'ed unless it has at
 * most one key: then into one). */
static int sorted_keys(const struct lease *l, struct keys *a, struct mvcc_key **one)
{
	a->n = 0;
	a->v = one;
	if (l->n > 1) {
		a->v = base_malloc(l->n * sizeof(*a->v));
		if (!a->v)
			return -ENOMEM;
	}
	set_each(l, keys_add, a);
	assert(a->n == l->n);
	if (a->n > 1)
		qsort(a->v, a->n, sizeof(a->v[0]), key_ptr_cmp);
	return 0;
}

int mvcc_lease_revoke(struct mvcc *s, int64_t id, struct mvcc_result *ret)
{
	struct lease *l = find(s->leases, id);
	struct mvcc_key *one;
	struct keys a = { 0 };
	int rv;

	memset(ret, 0, sizeof(*ret));
	if (!l) {
		s->n_last = 0;
		return -MVCC_E_LEASE_NOT_FOUND;
	}
	rv = sorted_keys(l, &a, &one);
	if (rv) {
		s->n_last = 0;
		return rv;
	}
	/* etcd's Revoke deletes the sorted keys in one txn, so every member
	 * gives them the same sub-revisions; the commit detaches each */
	rv = mvcc_delete_keys(s, a.v, a.n, ret);
	if (!rv) {
		l = find(s->leases, id); /* the table did not move, but say so */
		assert(l && l->n == 0);
		remove_lease(s->leases, l);
	}
	if (a.v != &one)
		free(a.v);
	return rv;
}

int mvcc_lease_keys(const struct mvcc *s, int64_t id, mvcc_key_fn *fn, void *ctx)
{
	const struct lease *l = find(s->leases, id);
	struct mvcc_key *one;
	struct keys a = { 0 };
	int rv;

	if (!l)
		return -MVCC_E_LEASE_NOT_FOUND;
	rv = sorted_keys(l, &a, &one);
	for (size_t i = 0; !rv && i < a.n; i++)
		rv = fn(ctx, a.v[i]->key, a.v[i]->key_len);
	if (a.v != &one)
		free(a.v);
	return rv;
}

struct pair {
	int64_t id, ttl;
};

static int pair_cmp(const void *pa, const void *pb)
{
	const struct pair *a = pa, *b = pb;
	return (a->id > b->id) - (a->id < b->id);
}

int mvcc_lease_iter(const struct mvcc *s, mvcc_lease_iter_fn *fn, void *ctx)
{
	const struct mvcc_leases *t = s->leases;
	size_t n = 0;
	int rv = 0;

	if (!t || !t->n)
		return 0;
	struct pair *v = base_malloc(t->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->t[i].id)
			v[n++] = (struct pair){ t->t[i].id, t->t[i].ttl };
	qsort(v, n, sizeof(v[0]), pair_cmp);
	for (size_t i = 0; !rv && i < n; i++)
		rv = fn(ctx, v[i].id, v[i].ttl);
	free(v);
	return rv;
}

int mvcc_restore_lease(struct mvcc *s, int64_t id, int64_t ttl)
{
	int rv = -EINVAL;
	if (s->restore != 1 || !id || ttl > MVCC_LEASE_TTL_MAX || find(s->leases, id))
		goto fail;
	rv = insert(s, id, ttl);
	if (!rv)
		return 0;
fail:
	s->restore = -1;
	return rv;
}
