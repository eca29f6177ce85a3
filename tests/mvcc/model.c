/* tests/mvcc/model.c — the reference model (tests/mvcc/model.h). Brute
 * force on purpose: nothing here shares code or structure with src/mvcc/. */
#include "tests/mvcc/model.h"

#include <stdlib.h>
#include <string.h>

static int bcmp_(const void *a, size_t al, const void *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	return c ? c : (al > bl) - (al < bl);
}

static void *dup_(const void *p, size_t n)
{
	void *d = malloc(n ? n : 1);
	if (!d)
		abort();
	if (n)
		memcpy(d, p, n);
	return d;
}

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->rev = 1;
	m->compacted = -1;
}

void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->k[i].n; j++)
			free(m->k[i].r[j].value);
		free(m->k[i].r);
		free(m->k[i].key);
	}
	free(m->k);
	memset(m, 0, sizeof(*m));
}

void model_begin(struct model *m)
{
	m->txn_rev = m->rev + 1;
	m->sub = 0;
	m->changed = false;
}

void model_end(struct model *m)
{
	if (m->changed)
		m->rev = m->txn_rev;
}

static struct model_key *find(const struct model *m, const void *key, size_t key_len, bool *found, size_t *at)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (bcmp_(m->k[mid].key, m->k[mid].key_len, key, key_len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	*found = lo < m->n && !bcmp_(m->k[lo].key, m->k[lo].key_len, key, key_len);
	return *found ? &m->k[lo] : NULL;
}

static void add(struct model *m, struct model_key *k, struct model_rec r)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 4;
		k->r = realloc(k->r, k->cap * sizeof(k->r[0]));
		if (!k->r)
			abort();
	}
	r.key = k->key;
	r.key_len = k->key_len;
	k->r[k->n++] = r;
	m->changed = true;
}

void model_put(struct model *m, const void *key, size_t key_len, const void *value, size_t value_len,
	       int64_t lease)
{
	bool found;
	size_t at;
	struct model_key *k = find(m, key, key_len, &found, &at);
	if (!k) {
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 64;
			m->k = realloc(m->k, m->cap * sizeof(m->k[0]));
			if (!m->k)
				abort();
		}
		memmove(&m->k[at + 1], &m->k[at], (m->n - at) * sizeof(m->k[0]));
		m->n++;
		k = &m->k[at];
		memset(k, 0, sizeof(*k));
		k->key = dup_(key, key_len);
		k->key_len = key_len;
	}
	const struct model_rec *last = k->n ? &k->r[k->n - 1] : NULL;
	bool live = last && last->version;
	add(m, k, (struct model_rec){ .value = dup_(value, value_len),
				      .value_len = value_len,
				      .main = m->txn_rev,
				      .sub = m->sub++,
				      .create = live ? last->create : m->txn_rev,
				      .version = live ? last->version + 1 : 1,
				      .lease = lease });
}

static bool in_range(const void *k, size_t kl, const void *key, size_t key_len, const void *end, size_t end_len)
{
	if (!end_len)
		return !bcmp_(k, kl, key, key_len);
	if (bcmp_(k, kl, key, key_len) < 0)
		return false;
	if (end_len == 1 && !((const uint8_t *)end)[0])
		return true;
	return bcmp_(k, kl, end, end_len) < 0;
}

int64_t model_delete(struct model *m, const void *key, size_t key_len, const void *end, size_t end_len)
{
	int64_t deleted = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct model_key *k = &m->k[i];
		if (!in_range(k->key, k->key_len, key, key_len, end, end_len) || !k->n || !k->r[k->n - 1].version)
			continue;
		add(m, k, (struct model_rec){ .value = dup_(NULL, 0), .main = m->txn_rev, .sub = m->sub++ });
		deleted++;
	}
	return deleted;
}

static const struct model_rec *get_at(const struct model_key *k, int64_t rev)
{
	for (size_t j = k->n; j-- > 0;)
		if (k->r[j].main <= rev)
			return k->r[j].version ? &k->r[j] : NULL;
	return NULL;
}

const struct model_rec *model_get(const struct model *m, const void *key, size_t key_len, int64_t rev)
{
	bool found;
	size_t at;
	const struct model_key *k = find(m, key, key_len, &found, &at);
	return k ? get_at(k, rev) : NULL;
}

size_t model_range(const struct model *m, const void *key, size_t key_len, const void *end, size_t end_len,
		   int64_t rev, const struct model_rec ***ret)
{
	const struct model_rec **v = malloc((m->n + 1) * sizeof(*v));
	size_t w = 0;
	if (!v)
		abort();
	for (size_t i = 0; i < m->n; i++) {
		if (!in_range(m->k[i].key, m->k[i].key_len, key, key_len, end, end_len))
			continue;
		const struct model_rec *r = get_at(&m->k[i], rev);
		if (r)
			v[w++] = r;
	}
	*ret = v;
	return w;
}

static bool cmp_one(const struct mvcc_compare *c, const struct model_rec *r)
{
	int res;
	if (c->target == MVCC_CMP_VALUE) {
		res = bcmp_(r ? r->value : NULL, r ? r->value_len : 0, c->value, c->value_len);
	} else {
		int64_t x = !r ? 0
			    : c->target == MVCC_CMP_VERSION ? r->version
			    : c->target == MVCC_CMP_CREATE  ? r->create
			    : c->target == MVCC_CMP_MOD	    ? r->main
							    : r->lease;
		res = x < c->number ? -1 : x > c->number;
	}
	switch (c->result) {
	case MVCC_CMP_EQUAL:
		return res == 0;
	case MVCC_CMP_NOT_EQUAL:
		return res != 0;
	case MVCC_CMP_GREATER:
		return res > 0;
	case MVCC_CMP_LESS:
		return res < 0;
	}
	return true;
}

bool model_compare(const struct model *m, const struct mvcc_compare *c)
{
	const struct model_rec **v;
	size_t n = model_range(m, c->key, c->key_len, c->end, c->end_len, m->rev, &v);
	bool ok = true;
	if (!n)
		ok = c->target != MVCC_CMP_VALUE && cmp_one(c, NULL);
	for (size_t i = 0; i < n && ok; i++)
		ok = cmp_one(c, v[i]);
	free(v);
	return ok;
}

size_t model_live(const struct model *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		n += get_at(&m->k[i], m->rev) != NULL;
	return n;
}

size_t model_kept(const struct model *m)
{
	size_t kept = 0;
	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->k[i].n; j++)
			kept += m->k[i].r[j].main > m->compacted;
		kept += get_at(&m->k[i], m->compacted) != NULL;
	}
	return kept;
}

const char *model_check_range(const struct model *m, const struct mvcc *s, const void *key, size_t key_len,
			      const void *end, size_t end_len, int64_t rev)
{
	struct mvcc_range_req req = { .key = key, .key_len = key_len, .end = end, .end_len = end_len, .revision = rev };
	struct mvcc_result res;
	const struct model_rec **v;
	const char *bad = NULL;
	int rv = mvcc_read(s, &req, &res);

	if (rev > m->rev)
		return rv == -MVCC_E_FUTURE_REV ? NULL : "read in the future not refused";
	if (rev > 0 && rev < m->compacted)
		return rv == -MVCC_E_COMPACTED ? NULL : "read below the compaction not refused";
	if (rv)
		return "read failed";
	size_t n = model_range(m, key, key_len, end, end_len, rev > 0 ? rev : m->rev, &v);
	if (res.revision != m->rev)
		bad = "read: header revision";
	else if (res.op.range.n_kvs != n || res.op.range.count != (int64_t)n || res.op.range.more)
		bad = "read: number of keys";
	for (size_t i = 0; i < n && !bad; i++) {
		const struct mvcc_kv *kv = &res.op.range.kvs[i];
		const struct model_rec *r = v[i];
		if (bcmp_(kv->key, kv->key_len, r->key, r->key_len) ||
		    bcmp_(kv->value, kv->value_len, r->value, r->value_len))
			bad = "read: key or value";
		else if (kv->create_revision != r->create || kv->mod_revision != r->main ||
			 kv->version != r->version || kv->lease != r->lease)
			bad = "read: revisions, version or lease";
	}
	free(v);
	mvcc_result_free(&res);
	return bad;
}

const char *model_check(const struct model *m, const struct mvcc *s, bool every_rev)
{
	if (mvcc_revision(s) != m->rev)
		return "revision";
	if (mvcc_compacted(s) != m->compacted)
		return "compacted revision";
	if (mvcc_count(s) != model_live(m))
		return "live keys";
	if (!mvcc_compacting(s) && mvcc_versions(s) != model_kept(m))
		return "versions kept after compaction";
	if (mvcc_index_check(s))
		return "index invariants";
	/* what src/kv reads: each key's live version, the live keys in order,
	 * and their bytes */
	struct mvcc_cursor cur;
	struct mvcc_kv g, c;
	uint64_t live_bytes = 0;
	mvcc_cursor_init(s, &cur);
	for (size_t i = 0; i < m->n; i++) {
		const struct model_key *k = &m->k[i];
		const struct model_rec *r = k->n ? &k->r[k->n - 1] : NULL;
		bool found = mvcc_get(s, k->key, k->key_len, &g);
		if (!r || !r->version) {
			if (found)
				return "mvcc_get: a key that is not live";
			continue;
		}
		if (!found || g.mod_revision != r->main || g.version != r->version ||
		    bcmp_(g.value, g.value_len, r->value, r->value_len))
			return "mvcc_get: the live version";
		if (!mvcc_cursor_next(&cur, &c) || bcmp_(c.key, c.key_len, k->key, k->key_len) ||
		    c.mod_revision != r->main)
			return "mvcc_cursor: the live keys in order";
		live_bytes += k->key_len + r->value_len;
	}
	if (mvcc_cursor_next(&cur, &c))
		return "mvcc_cursor: a key too many";
	if (mvcc_live_bytes(s) != live_bytes)
		return "mvcc_live_bytes";
	int64_t lo = m->compacted > 1 ? m->compacted : 1;
	for (int64_t r = every_rev ? lo : m->rev; r <= m->rev; r++) {
		const char *bad = model_check_range(m, s, "", 0, "", 1, r);
		if (bad)
			return bad;
	}
	if (m->compacted > 1) {
		const char *bad = model_check_range(m, s, "", 0, "", 1, m->compacted - 1);
		if (bad)
			return bad;
	}
	return model_check_range(m, s, "", 0, "", 1, m->rev + 1);
}

struct ev_check {
	const struct model *m;
	const struct model_rec **want;
	const struct model_rec **prev; /* the record before, kept and live, or NULL */
	size_t n, i;
	const char *bad;
};

static int ev_one(void *ctx, const struct mvcc_event *ev)
{
	struct ev_check *c = ctx;
	if (c->i >= c->n) {
		c->bad = "events: too many";
		return 1;
	}
	const struct model_rec *r = c->want[c->i], *p = c->prev[c->i];
	c->i++;
	if (bcmp_(ev->kv.key, ev->kv.key_len, r->key, r->key_len) || ev->kv.mod_revision != r->main ||
	    ev->sub != r->sub || ev->deleted != !r->version)
		c->bad = "events: key, revision or kind";
	else if (r->version && (bcmp_(ev->kv.value, ev->kv.value_len, r->value, r->value_len) ||
				ev->kv.version != r->version || ev->kv.create_revision != r->create ||
				ev->kv.lease != r->lease))
		c->bad = "events: put's value, version, create or lease";
	else if (!r->version && (ev->kv.version || ev->kv.create_revision || ev->kv.value_len))
		c->bad = "events: a delete with a version";
	else if (ev->has_prev != (p != NULL))
		c->bad = "events: prev_kv there or not";
	else if (p && (ev->prev.mod_revision != p->main || ev->prev.version != p->version))
		c->bad = "events: prev_kv";
	return c->bad != NULL;
}

static int rec_cmp(const void *pa, const void *pb)
{
	const struct model_rec *a = *(const struct model_rec *const *)pa, *b = *(const struct model_rec *const *)pb;
	if (a->main != b->main)
		return a->main < b->main ? -1 : 1;
	return (a->sub > b->sub) - (a->sub < b->sub);
}

const char *model_check_events(const struct model *m, const struct mvcc *s, const void *key, size_t key_len,
			       const void *end, size_t end_len, int64_t from, int64_t to)
{
	struct ev_check c = { .m = m };
	size_t total = 0;
	for (size_t i = 0; i < m->n; i++)
		total += m->k[i].n;
	c.want = malloc((total + 1) * sizeof(*c.want));
	c.prev = malloc((total + 1) * sizeof(*c.prev));
	if (!c.want || !c.prev)
		abort();
	int64_t hi = to <= 0 || to > m->rev ? m->rev : to;
	for (size_t i = 0; i < m->n; i++) {
		const struct model_key *k = &m->k[i];
		if (!in_range(k->key, k->key_len, key, key_len, end, end_len))
			continue;
		for (size_t j = 0; j < k->n; j++) {
			const struct model_rec *r = &k->r[j];
			if (r->main < from || r->main > hi)
				continue;
			/* at the compaction itself only the version a read there
			 * sees is still stored */
			if (r->main <= m->compacted && (j + 1 < k->n && k->r[j + 1].main <= m->compacted))
				continue;
			if (r->main <= m->compacted && !r->version)
				continue;
			c.want[c.n] = r;
			c.prev[c.n] = j && k->r[j - 1].version && r->main > m->compacted ? &k->r[j - 1] : NULL;
			c.n++;
		}
	}
	/* a stable sort by (main, sub): keys are distinct within one (main, sub) */
	const struct model_rec **orig = malloc((c.n + 1) * sizeof(*orig));
	if (!orig)
		abort();
	memcpy(orig, c.want, c.n * sizeof(*orig));
	qsort(c.want, c.n, sizeof(*c.want), rec_cmp);
	/* prev follows its record */
	const struct model_rec **prev = malloc((c.n + 1) * sizeof(*prev));
	if (!prev)
		abort();
	for (size_t i = 0; i < c.n; i++)
		for (size_t j = 0; j < c.n; j++)
			if (orig[j] == c.want[i])
				prev[i] = c.prev[j];
	free(c.prev);
	c.prev = prev;
	free(orig);

	int rv = mvcc_events(s, key, key_len, end, end_len, from, to, ev_one, &c);
	const char *bad = c.bad;
	if (from < m->compacted)
		bad = rv == -MVCC_E_COMPACTED ? NULL : "events below the compaction not refused";
	else if (!bad && rv)
		bad = "events failed";
	else if (!bad && c.i != c.n)
		bad = "events: too few";
	free(c.want);
	free(c.prev);
	return bad;
}
