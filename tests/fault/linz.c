/* tests/fault/linz.c — see linz.h.
 *
 * Events live in an array-backed doubly linked list (index 0 is the head
 * sentinel, -1 ends the list). Linearizing a call "lifts" the call and its
 * return out of the list; backtracking puts them back in reverse order.
 * The memo table is an open-addressing hash set of (value, bitset of
 * linearized operations), stored in one growing arena.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fault/linz.h"

struct ev {
	int64_t time;
	int op;    /* index into the searched ops */
	bool call;
	int match; /* the call's return entry, the return's call entry */
	int prev, next;
};

struct memo {
	uint64_t *arena; /* per entry: value, then nwords bitset words */
	size_t arena_len, arena_cap;
	uint32_t *slots; /* 1 + entry number; 0 = empty */
	size_t nslots, count;
	size_t nwords, max_bytes;
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t *memo_entry(struct memo *m, uint32_t e)
{
	return m->arena + (size_t)e * (m->nwords + 1);
}

static uint64_t memo_hash(const struct memo *m, int64_t value, const uint64_t *bits)
{
	uint64_t h = splitmix((uint64_t)value);
	for (size_t w = 0; w < m->nwords; w++)
		h ^= splitmix(bits[w] + w);
	return h;
}

static int memo_grow(struct memo *m)
{
	size_t n = m->nslots ? m->nslots * 2 : 1024;
	uint32_t *s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < m->nslots; i++) {
		uint32_t e = m->slots[i];
		if (!e)
			continue;
		const uint64_t *p = memo_entry(m, e - 1);
		size_t j = memo_hash(m, (int64_t)p[0], p + 1) & (n - 1);
		while (s[j])
			j = (j + 1) & (n - 1);
		s[j] = e;
	}
	free(m->slots);
	m->slots = s;
	m->nslots = n;
	return 0;
}


/* 1: inserted (new), 0: already there, <0: -ENOMEM or -E2BIG (limit). */
static int memo_insert(struct memo *m, int64_t value, const uint64_t *bits)
{
	if ((m->count + 1) * 2 > m->nslots) {
		int rv = memo_grow(m);
		if (rv < 0)
			return rv;
	}
	uint64_t h = memo_hash(m, value, bits);
	size_t j = h & (m->nslots - 1);
	for (; m->slots[j]; j = (j + 1) & (m->nslots - 1)) {
		const uint64_t *p = memo_entry(m, m->slots[j] - 1);
		if ((int64_t)p[0] == value && !memcmp(p + 1, bits, m->nwords * sizeof(*bits)))
			return 0;
	}
	size_t need = m->arena_len + m->nwords + 1;
	if (need > m->arena_cap) {
		size_t cap = m->arena_cap ? m->arena_cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		if (cap * sizeof(uint64_t) + m->nslots * 2 * sizeof(uint32_t) > m->max_bytes)
			return -E2BIG;
		uint64_t *a = realloc(m->arena, cap * sizeof(uint64_t));
		if (!a)
			return -ENOMEM;
		m->arena = a;
		m->arena_cap = cap;
	}
	uint64_t *p = m->arena + m->arena_len;
	p[0] = (uint64_t)value;
	memcpy(p + 1, bits, m->nwords * sizeof(*bits));
	m->arena_len = need;
	m->slots[j] = (uint32_t)(++m->count);
	return 1;
}

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	/* equal times: calls first, i.e. the two operations overlap (lenient) */
	if (x->call != y->call)
		return x->call ? -1 : 1;
	return x->op - y->op;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void lift(struct ev *e, int c)
{
	int r = e[c].match;
	e[e[c].prev].next = e[c].next;
	if (e[c].next >= 0)
		e[e[c].next].prev = e[c].prev;
	e[e[r].prev].next = e[r].next;
	if (e[r].next >= 0)
		e[e[r].next].prev = e[r].prev;
}

static void unlift(struct ev *e, int c)
{
	int r = e[c].match;
	e[e[r].prev].next = r;
	if (e[r].next >= 0)
		e[e[r].next].prev = r;
	e[e[c].prev].next = c;
	if (e[c].next >= 0)
		e[e[c].next].prev = c;
}

int linz_check(const struct linz_op *all, size_t n_all, size_t max_bytes, struct linz_report *rep)
{
	struct linz_report dummy;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	if (n_all > (size_t)1 << 28)
		return -EINVAL;

	/* validate; collect write ids and the ids reads and CASes observed */
	size_t nw = 0, nr = 0;
	for (size_t i = 0; i < n_all; i++) {
		const struct linz_op *o = &all[i];
		if (o->ret <= o->call)
			return -EINVAL;
		if (o->kind == LINZ_WRITE || o->kind == LINZ_CAS) {
			if (o->value < 0 || (o->kind == LINZ_CAS && o->cas_failed && o->ret == LINZ_NEVER))
				return -EINVAL;
			nw++;
			nr += o->kind == LINZ_CAS;
		} else {
			if (o->ret == LINZ_NEVER)
				return -EINVAL;
			nr++;
		}
	}
	int64_t *wids = malloc((nw + 1) * sizeof(*wids)), *rids = malloc((nr + 1) * sizeof(*rids));
	int *keep = malloc((n_all + 1) * sizeof(*keep));
	struct ev *e = NULL;
	int *stack = NULL;
	int64_t *stack_val = NULL;
	uint64_t *bits = NULL;
	struct memo m = { 0 };
	int rv = -ENOMEM;
	if (!wids || !rids || !keep)
		goto out;
	nw = nr = 0;
	int64_t last_failed_ret = INT64_MIN; /* the latest return of a failed CAS */
	for (size_t i = 0; i < n_all; i++) {
		if (all[i].kind == LINZ_READ) {
			rids[nr++] = all[i].value;
			continue;
		}
		wids[nw++] = all[i].value;
		if (all[i].kind == LINZ_CAS) {
			rids[nr++] = all[i].expect;
			if (all[i].cas_failed && all[i].ret > last_failed_ret)
				last_failed_ret = all[i].ret;
		}
	}
	qsort(wids, nw, sizeof(*wids), cmp_i64);
	qsort(rids, nr, sizeof(*rids), cmp_i64);
	rv = -EINVAL;
	for (size_t i = 1; i < nw; i++)
		if (wids[i] == wids[i - 1])
			goto out;

	/* drop unknown-outcome writes that nothing observed (see linz.h) */
	size_t n = 0;
	for (size_t i = 0; i < n_all; i++) {
		const struct linz_op *o = &all[i];
		if (o->kind != LINZ_READ && o->ret == LINZ_NEVER && last_failed_ret < o->call &&
		    !bsearch(&o->value, rids, nr, sizeof(*rids), cmp_i64))
			continue;
		keep[n++] = (int)i;
	}
	rep->ops_searched = n;

	rv = -ENOMEM;
	e = calloc(2 * n + 1, sizeof(*e));
	stack = malloc((n + 1) * sizeof(*stack));
	stack_val = malloc((n + 1) * sizeof(*stack_val));
	m.nwords = (n + 63) / 64;
	bits = calloc(m.nwords + 1, sizeof(*bits));
	if (!e || !stack || !stack_val || !bits)
		goto out;
	m.max_bytes = max_bytes ? max_bytes : (size_t)1 << 30;
	for (size_t i = 0; i < n; i++) {
		const struct linz_op *o = &all[keep[i]];
		e[1 + 2 * i] = (struct ev){ .time = o->call, .op = (int)i, .call = true };
		e[2 + 2 * i] = (struct ev){ .time = o->ret, .op = (int)i, .call = false };
	}
	qsort(e + 1, 2 * n, sizeof(*e), cmp_ev);
	{
		/* link the sorted events and match calls with returns */
		int *call_of = malloc((n + 1) * sizeof(*call_of));
		if (!call_of)
			goto out;
		for (size_t k = 1; k <= 2 * n; k++) {
			e[k].prev = (int)k - 1;
			e[k].next = k < 2 * n ? (int)k + 1 : -1;
			if (e[k].call)
				call_of[e[k].op] = (int)k;
		}
		for (size_t k = 1; k <= 2 * n; k++) {
			if (!e[k].call) {
				e[k].match = call_of[e[k].op];
				e[call_of[e[k].op]].match = (int)k;
			}
		}
		free(call_of);
		e[0] = (struct ev){ .prev = -1, .next = n ? 1 : -1, .op = -1 };
	}

	int64_t state = LINZ_INITIAL;
	size_t depth = 0;
	int cur = e[0].next;
	while (e[0].next >= 0) {
		if (e[cur].call) {
			const struct linz_op *o = &all[keep[e[cur].op]];
			bool ok;
			int64_t next_state = state;
			switch (o->kind) {
			case LINZ_WRITE:
				ok = true;
				next_state = o->value;
				break;
			case LINZ_READ:
				ok = o->value == state;
				break;
			default: /* LINZ_CAS */
				if (o->ret == LINZ_NEVER) {
					ok = true;
					next_state = state == o->expect ? o->value : state;
				} else if (o->cas_failed) {
					ok = state != o->expect;
				} else {
					ok = state == o->expect;
					next_state = o->value;
				}
				break;
			}
			if (ok) {
				int op = e[cur].op;
				bits[op / 64] |= (uint64_t)1 << (op % 64);
				int ins = memo_insert(&m, next_state, bits);
				if (ins < 0) {
					rv = ins == -E2BIG ? LINZ_LIMIT : ins;
					goto out;
				}
				if (ins) {
					stack[depth] = cur;
					stack_val[depth++] = state;
					state = next_state;
					lift(e, cur);
					cur = e[0].next;
					continue;
				}
				bits[op / 64] &= ~((uint64_t)1 << (op % 64));
			}
			cur = e[cur].next;
		} else {
			/* a return whose call is not linearized yet: backtrack */
			if (depth >= rep->best_prefix) {
				rep->best_prefix = depth;
				rep->stuck_op = (size_t)keep[e[cur].op];
			}
			if (!depth) {
				rv = LINZ_VIOLATION;
				goto out;
			}
			int c = stack[--depth];
			state = stack_val[depth];
			int op = e[c].op;
			bits[op / 64] &= ~((uint64_t)1 << (op % 64));
			unlift(e, c);
			cur = e[c].next;
		}
	}
	rep->best_prefix = n;
	rv = LINZ_OK;
out:
	rep->explored = m.count;
	free(m.arena);
	free(m.slots);
	free(bits);
	free(stack_val);
	free(stack);
	free(e);
	free(keep);
	free(rids);
	free(wids);
	return rv;
}
