/* src/raftd/lease_clock.c — see lease_clock.h. */
#include "src/raftd/lease_clock.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot_of(const struct lease_clock *c, int64_t id)
{
	/* IDs may be chosen by clients: mixed, so that a run of them does
	 * not make one long probe sequence */
	uint64_t x = (uint64_t)id;
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return (size_t)x & (c->n_slots - 1);
}

static void heap_put(struct lease_clock *c, size_t i, struct lease_clock_entry *e)
{
	c->heap[i] = e;
	e->heap = i;
}

static void sift_up(struct lease_clock *c, size_t i)
{
	struct lease_clock_entry *e = c->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (c->heap[p]->due_ms <= e->due_ms)
			break;
		heap_put(c, i, c->heap[p]);
		i = p;
	}
	heap_put(c, i, e);
}

static void sift_down(struct lease_clock *c, size_t i)
{
	struct lease_clock_entry *e = c->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		uint64_t best = e->due_ms;
		if (l < c->n && c->heap[l]->due_ms < best)
			m = l, best = c->heap[l]->due_ms;
		if (l + 1 < c->n && c->heap[l + 1]->due_ms < best)
			m = l + 1;
		if (m == i)
			break;
		heap_put(c, i, c->heap[m]);
		i = m;
	}
	heap_put(c, i, e);
}

static void heap_fix(struct lease_clock *c, size_t i)
{
	if (i > 0 && c->heap[(i - 1) / 2]->due_ms > c->heap[i]->due_ms)
		sift_up(c, i);
	else
		sift_down(c, i);
}

void lease_clock_clear(struct lease_clock *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->heap[i]);
	free(c->heap);
	free(c->slots);
	*c = (struct lease_clock){ 0 };
}

struct lease_clock_entry *lease_clock_find(const struct lease_clock *c, int64_t id)
{
	if (!c->n_slots)
		return NULL;
	for (size_t i = slot_of(c, id);; i = (i + 1) & (c->n_slots - 1)) {
		struct lease_clock_entry *e = c->slots[i];
		if (!e || e->id == id)
			return e;
	}
}

static void slots_insert(struct lease_clock *c, struct lease_clock_entry *e)
{
	size_t i = slot_of(c, e->id);
	while (c->slots[i])
		i = (i + 1) & (c->n_slots - 1);
	c->slots[i] = e;
}

/* Room for one more lease in both the heap and the table (kept at most
 * half full). */
static int reserve(struct lease_clock *c)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct lease_clock_entry **h = realloc(c->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		c->heap = h;
		c->cap = cap;
	}
	if (2 * (c->n + 1) > c->n_slots) {
		size_t n_slots = c->n_slots ? 2 * c->n_slots : 32;
		struct lease_clock_entry **old = c->slots;
		size_t old_n = c->n_slots;
		c->slots = calloc(n_slots, sizeof(*c->slots));
		if (!c->slots) {
			c->slots = old;
			return -ENOMEM;
		}
		c->n_slots = n_slots;
		for (size_t i = 0; i < old_n; i++)
			if (old[i])
				slots_insert(c, old[i]);
		free(old);
	}
	return 0;
}

int lease_clock_set(struct lease_clock *c, int64_t id, int64_t ttl, uint64_t expiry_ms)
{
	struct lease_clock_entry *e = lease_clock_find(c, id);
	if (e) {
		e->ttl = ttl;
		e->expiry_ms = e->due_ms = expiry_ms;
		heap_fix(c, e->heap);
		return 0;
	}
	if (reserve(c) < 0 || !(e = malloc(sizeof(*e))))
		return -ENOMEM;
	*e = (struct lease_clock_entry){ .id = id, .ttl = ttl, .expiry_ms = expiry_ms, .due_ms = expiry_ms };
	slots_insert(c, e);
	heap_put(c, c->n++, e);
	sift_up(c, e->heap);
	return 0;
}

void lease_clock_remove(struct lease_clock *c, int64_t id)
{
	if (!c->n_slots)
		return;
	size_t mask = c->n_slots - 1, i = slot_of(c, id);
	while (c->slots[i] && c->slots[i]->id != id)
		i = (i + 1) & mask;
	struct lease_clock_entry *e = c->slots[i];
	if (!e)
		return;
	/* backward shift: every entry after the hole that its home slot
	 * allows moves into it, so that no probe sequence is cut */
	c->slots[i] = NULL;
	for (size_t j = (i + 1) & mask; c->slots[j]; j = (j + 1) & mask) {
		size_t home = slot_of(c, c->slots[j]->id);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			c->slots[i] = c->slots[j];
			c->slots[j] = NULL;
			i = j;
		}
	}
	size_t at = e->heap;
	struct lease_clock_entry *last = c->heap[--c->n];
	if (at < c->n) {
		heap_put(c, at, last);
		heap_fix(c, at);
	}
	free(e);
}

struct lease_clock_entry *lease_clock_due(const struct lease_clock *c, uint64_t now_ms)
{
	return c->n && c->heap[0]->due_ms <= now_ms ? c->heap[0] : NULL;
}

uint64_t lease_clock_next(const struct lease_clock *c)
{
	return c->n ? c->heap[0]->due_ms : UINT64_MAX;
}

void lease_clock_rearm(struct lease_clock *c, struct lease_clock_entry *e, uint64_t due_ms)
{
	e->due_ms = due_ms;
	heap_fix(c, e->heap);
}

void lease_clock_each(struct lease_clock *c, void (*fn)(void *ctx, struct lease_clock_entry *e), void *ctx)
{
	for (size_t i = 0; i < c->n; i++)
		fn(ctx, c->heap[i]);
}
