/* src/mvcc/history.c — what the MVCC store keeps of the past and how it
 * lets it go: compaction, the versions a snapshot holds (iteration and
 * restore), the events a watch replays, and HashKV. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/crc32c.h"
#include "src/mvcc/mvcc.h"
#include "src/mvcc/mvcc_int.h"

/* ---- compaction ---- */

/* Ends the pass under way: the keys it has not reached yet move down
 * behind the ones it kept. */
static void pass_end(struct mvcc *s)
{
	size_t rest = s->n_listed - s->compact_pos;
	if (rest)
		memmove(&s->listed[s->compact_w], &s->listed[s->compact_pos], rest * sizeof(s->listed[0]));
	s->n_listed = s->compact_w + rest;
	s->compact_pos = s->compact_w = 0;
	s->compacting = false;
}

int mvcc_compact_begin(struct mvcc *s, int64_t rev)
{
	if (rev <= s->compacted)
		return -MVCC_E_COMPACTED;
	if (rev > s->rev)
		return -MVCC_E_FUTURE_REV;
	if (s->compacting)
		pass_end(s);
	s->n_last = 0; /* the steps may free its keys */
	s->compacted = rev;
	s->compacting = true;
	return 0;
}

bool mvcc_compact_step(struct mvcc *s, size_t keys)
{
	int64_t rev = s->compacted;
	while (s->compacting && keys-- > 0) {
		if (s->compact_pos == s->n_listed) {
			pass_end(s);
			break;
		}
		struct mvcc_key *k = s->listed[s->compact_pos++];
		struct mvcc_rev **link = &k->head, *v = k->head;
		bool was = is_live(k->head);
		while (v && v->main > rev) {
			link = &v->prev;
			v = v->prev;
		}
		if (v) {
			/* v is what a read at rev sees: everything older goes, and v too
			 * if it is a tombstone */
			struct mvcc_rev *old = v->prev;
			v->prev = NULL;
			while (old) {
				struct mvcc_rev *next = old->prev;
				mvcc_version_gone(s, k, old);
				old = next;
			}
			if (!v->version32) {
				*link = NULL;
				mvcc_version_gone(s, k, v);
			}
		}
		assert(was == is_live(k->head));
		if (!k->head) {
			mvcc_idx_remove(&s->idx, k);
			free(k);
		} else if (!has_history(k)) {
			k->flags &= (uint8_t)~KEY_LISTED;
		} else {
			s->listed[s->compact_w++] = k;
		}
	}
	if (s->compacting && s->compact_pos == s->n_listed)
		pass_end(s);
	return s->compacting;
}

bool mvcc_compacting(const struct mvcc *s)
{
	return s->compacting;
}

size_t mvcc_compact_pending(const struct mvcc *s)
{
	return s->compacting ? s->n_listed - s->compact_pos : 0;
}

int mvcc_compact(struct mvcc *s, int64_t rev)
{
	int rv = mvcc_compact_begin(s, rev);
	if (!rv)
		mvcc_compact_step(s, SIZE_MAX);
	return rv;
}

/* Is v, a version of a key whose newer versions are all above the
 * compaction or which is the newest, still there for a reader? Everything
 * but what a compaction drops: a pass under way must not change what the
 * store shows (snapshots, HashKV, events), only what it holds. */
static bool kept(const struct mvcc *s, const struct mvcc_rev *newer, const struct mvcc_rev *v)
{
	return v->main > s->compacted || ((!newer || newer->main > s->compacted) && v->version32);
}

/* ---- snapshots ---- */

int mvcc_iter_versions(const struct mvcc *s, mvcc_version_fn *fn, void *ctx)
{
	const struct mvcc_rev **chain = NULL;
	size_t cap = 0;
	struct idx_pos pos;
	struct mvcc_key *k;
	int rv = 0;

	mvcc_idx_seek(&s->idx, NULL, 0, &pos);
	while (!rv && (k = mvcc_idx_next(&pos))) {
		size_t n = 0;
		for (const struct mvcc_rev *v = k->head, *newer = NULL; v && kept(s, newer, v); newer = v, v = v->prev) {
			if (n == cap && mvcc_grow(&chain, &cap, n + 1, sizeof(chain[0]))) {
				rv = -ENOMEM;
				break;
			}
			chain[n++] = v;
		}
		while (!rv && n) {
			const struct mvcc_rev *v = chain[--n];
			struct mvcc_version ver = {
				.key = k->key,
				.key_len = k->key_len,
				.value = v->value_len ? v->value : NULL,
				.value_len = v->value_len,
				.mod_revision = v->main,
				.sub = v->sub,
				.create_revision = v->create,
				.version = rev_version(v),
				.lease = rev_lease(v),
			};
			rv = fn(ctx, &ver);
		}
	}
	free(chain);
	return rv;
}

int mvcc_restore_begin(struct mvcc *s, int64_t revision, int64_t compacted)
{
	if (s->restore || s->rev != 1 || s->idx.count || revision < 1 || compacted < -1 || compacted > revision) {
		s->restore = -1;
		return -EINVAL;
	}
	s->rev = revision;
	s->compacted = compacted;
	s->restore = 1;
	return 0;
}

/* Is v a valid next version of k (whose newest is k->head, NULL for a new
 * key)? */
static bool restore_valid(const struct mvcc *s, const struct mvcc_key *k, const struct mvcc_version *v)
{
	const struct mvcc_rev *h = k ? k->head : NULL;
	if (v->mod_revision < 1 || v->mod_revision > s->rev)
		return false;
	if (!v->version) /* a tombstone: deletes a live key, after the compaction */
		return is_live(h) && !v->create_revision && !v->lease && !v->value_len &&
		       v->mod_revision > s->compacted;
	if (v->version < 0 || v->create_revision < 1 || v->create_revision > v->mod_revision)
		return false;
	if (!h) /* the oldest version kept: may be at or below the compaction */
		return v->version > 1 || v->create_revision == v->mod_revision;
	if (v->mod_revision <= s->compacted)
		return false;
	if (v->mod_revision < h->main || (v->mod_revision == h->main && v->sub <= h->sub))
		return false;
	if (is_live(h))
		return v->version == rev_version(h) + 1 && v->create_revision == h->create;
	return v->version == 1 && v->create_revision == v->mod_revision;
}

int mvcc_restore_add(struct mvcc *s, const struct mvcc_version *v)
{
	struct mvcc_key *k = s->restore_last;
	struct mvcc_rev *r = NULL;
	bool created = false;
	int rv = -EINVAL;

	if (s->restore != 1)
		goto fail;
	if (v->key_len > MVCC_LEN_MAX || v->value_len > MVCC_LEN_MAX) {
		rv = -E2BIG;
		goto fail;
	}
	int c = k ? key_cmp(k->key, k->key_len, v->key, v->key_len) : -1;
	if (c > 0)
		goto fail;
	if (c < 0)
		k = NULL;
	if (!restore_valid(s, k, v))
		goto fail;
	rv = -ENOMEM;
	r = base_malloc(rev_size(v->value_len, v->version, v->lease));
	if (!r)
		goto fail;
	if (!k) {
		k = mvcc_key_new(v->key, v->key_len);
		if (!k || mvcc_idx_insert(&s->idx, k)) {
			free(k);
			goto fail;
		}
		created = true;
	}
	if (mvcc_grow(&s->listed, &s->cap_listed, s->n_listed + 1, sizeof(s->listed[0])))
		goto fail;
	bool was = is_live(k->head);
	s->live_bytes -= live_size(k);
	r->prev = k->head;
	r->main = v->mod_revision;
	r->sub = v->sub;
	r->create = v->create_revision;
	r->value_len = (uint32_t)v->value_len;
	if (v->value_len)
		memcpy(r->value, v->value, v->value_len);
	rev_set(r, v->version, v->lease);
	k->head = r;
	s->versions++;
	s->bytes += k->key_len + (uint64_t)r->value_len;
	s->live = s->live - was + is_live(r);
	s->live_bytes += live_size(k);
	mvcc_list_key(s, k);
	s->restore_last = k;
	return 0;
fail:
	if (created) {
		mvcc_idx_remove(&s->idx, k);
		free(k);
	}
	free(r);
	s->restore = -1;
	return rv;
}

int mvcc_restore_end(struct mvcc *s)
{
	if (s->restore != 1) {
		s->restore = -1;
		return -EINVAL;
	}
	s->restore = 2;
	s->restore_last = NULL;
	if (mvcc_lease_restored(s)) { /* the live keys join their leases */
		s->restore = -1;
		return -ENOMEM;
	}
	return 0;
}

/* ---- history ---- */

struct change {
	const struct mvcc_key *k;
	const struct mvcc_rev *v;
};

static int change_cmp(const void *pa, const void *pb)
{
	const struct change *a = pa, *b = pb;
	if (a->v->main != b->v->main)
		return a->v->main < b->v->main ? -1 : 1;
	return (a->v->sub > b->v->sub) - (a->v->sub < b->v->sub);
}

/* Sorts the changes into (revision, sub) order and hands them to fn. */
static int emit(const struct mvcc *s, struct change *c, size_t n, mvcc_event_fn *fn, void *ctx)
{
	int rv = 0;
	if (n > 1)
		qsort(c, n, sizeof(c[0]), change_cmp);
	for (size_t i = 0; i < n && !rv; i++) {
		const struct mvcc_rev *v = c[i].v;
		struct mvcc_event ev = { .deleted = !v->version32, .sub = v->sub };
		if (v->version32) {
			kv_of(&ev.kv, c[i].k, v, false);
		} else {
			ev.kv.key = c[i].k->key;
			ev.kv.key_len = c[i].k->key_len;
			ev.kv.mod_revision = v->main;
		}
		if (is_live(v->prev) && kept(s, v, v->prev)) {
			ev.has_prev = true;
			kv_of(&ev.prev, c[i].k, v->prev, false);
		}
		rv = fn(ctx, &ev);
	}
	return rv;
}

int mvcc_events(const struct mvcc *s, const void *key, size_t key_len, const void *end, size_t end_len,
		int64_t from, int64_t to, mvcc_event_fn *fn, void *ctx)
{
	struct change *c = NULL;
	size_t n = 0, cap = 0;
	struct walk w;
	struct mvcc_key *k;
	int rv = 0;

	if (from < s->compacted)
		return -MVCC_E_COMPACTED;
	if (to <= 0 || to > s->rev)
		to = s->rev;
	mvcc_walk_start(&w, &s->idx, key, key_len, end, end_len);
	while ((k = mvcc_walk_next(&w))) {
		for (const struct mvcc_rev *v = k->head, *newer = NULL; v && v->main >= from && kept(s, newer, v);
		     newer = v, v = v->prev) {
			if (v->main > to)
				continue;
			if (mvcc_grow(&c, &cap, n + 1, sizeof(c[0]))) {
				rv = -ENOMEM;
				goto out;
			}
			c[n++] = (struct change){ k, v };
		}
	}
	rv = emit(s, c, n, fn, ctx);
out:
	free(c);
	return rv;
}

static uint32_t crc_i64(uint32_t crc, int64_t x)
{
	return wal_crc32c(crc, &x, sizeof(x));
}

int mvcc_hash(const struct mvcc *s, int64_t rev, uint32_t *ret_hash)
{
	struct idx_pos pos;
	struct mvcc_key *k;
	uint32_t crc = 0;

	if (rev > 0 && rev <= s->compacted)
		return -MVCC_E_COMPACTED;
	if (rev > s->rev)
		return -MVCC_E_FUTURE_REV;
	if (rev <= 0)
		rev = s->rev;
	crc = crc_i64(crc, s->compacted);
	mvcc_idx_seek(&s->idx, NULL, 0, &pos);
	while ((k = mvcc_idx_next(&pos))) {
		/* newest first: the order is fixed by the history, the same everywhere */
		for (const struct mvcc_rev *v = k->head, *newer = NULL; v && kept(s, newer, v); newer = v, v = v->prev) {
			if (v->main > rev)
				continue;
			crc = crc_i64(crc, k->key_len);
			crc = wal_crc32c(crc, k->key, k->key_len);
			crc = crc_i64(crc, v->main);
			crc = crc_i64(crc, v->sub);
			crc = crc_i64(crc, v->create);
			crc = crc_i64(crc, rev_version(v));
			crc = crc_i64(crc, rev_lease(v));
			crc = crc_i64(crc, v->value_len);
			crc = wal_crc32c(crc, v->value, v->value_len);
		}
	}
	*ret_hash = crc;
	return 0;
}

int mvcc_last_events(const struct mvcc *s, mvcc_event_fn *fn, void *ctx)
{
	struct change *c = NULL;
	size_t n = 0, cap = 0;
	int rv = 0;

	for (size_t i = 0; i < s->n_last; i++) {
		const struct mvcc_key *k = s->touched[i];
		for (const struct mvcc_rev *v = k->head; v && v->main == s->rev; v = v->prev) {
			if (mvcc_grow(&c, &cap, n + 1, sizeof(c[0]))) {
				rv = -ENOMEM;
				goto out;
			}
			c[n++] = (struct change){ k, v };
		}
	}
	rv = emit(s, c, n, fn, ctx);
out:
	free(c);
	return rv;
}
