/* src/mvcc/mvcc.c — the MVCC store: versions, reads and write
 * transactions. Validation is in check.c, compaction, snapshots, events
 * and HashKV in history.c, the key index in index.c.
 *
 * Memory. Each key is one block (struct mvcc_key: the newest version's
 * pointer, the length, flags, the key bytes) referenced once from a leaf
 * of the index; each version is one block (struct mvcc_rev, 36 bytes, then
 * the value: mvcc_int.h) linked to the next older one. A key with one version costs its
 * bytes, two malloc blocks and a leaf slot. Versions are immutable, so a
 * result can point into them instead of copying values.
 *
 * History. Versions are kept newest first per key; reading at revision R
 * walks to the first version at or below R. Compaction (history.c) bounds
 * that walk. The store keeps the list of keys that have history (more than one
 * version, or a tombstone): only those can lose anything to a compaction, so
 * compacting costs the keys written since the last one, not the whole key
 * space. Keys put once and never again are never visited.
 *
 * Transactions. A write transaction links its new versions at main
 * revision rev + 1 and records each key it touched (once, KEY_TOUCHED). At
 * the end, a commit moves the revision and lists the keys that now have
 * history; an error instead unlinks every version at rev + 1 from the
 * touched keys and drops the keys that only existed because of them. The
 * list and the touched array are grown before anything is linked, so
 * neither commit nor rollback can fail.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/crc32c.h"
#include "src/mvcc/mvcc.h"
#include "src/mvcc/mvcc_int.h"

/* ---- errors ---- */

static const char *const messages[MVCC_E_END - MVCC_E_BASE] = {
	[MVCC_E_COMPACTED - MVCC_E_BASE] = "etcdserver: mvcc: required revision has been compacted",
	[MVCC_E_FUTURE_REV - MVCC_E_BASE] = "etcdserver: mvcc: required revision is a future revision",
	[MVCC_E_EMPTY_KEY - MVCC_E_BASE] = "etcdserver: key is not provided",
	[MVCC_E_KEY_NOT_FOUND - MVCC_E_BASE] = "etcdserver: key not found",
	[MVCC_E_VALUE_PROVIDED - MVCC_E_BASE] = "etcdserver: value is provided",
	[MVCC_E_LEASE_PROVIDED - MVCC_E_BASE] = "etcdserver: lease is provided",
	[MVCC_E_DUPLICATE_KEY - MVCC_E_BASE] = "etcdserver: duplicate key given in txn request",
	[MVCC_E_TOO_MANY_OPS - MVCC_E_BASE] = "etcdserver: too many operations in txn request",
	[MVCC_E_INVALID_SORT - MVCC_E_BASE] = "etcdserver: invalid sort option",
	[MVCC_E_LEASE_NOT_FOUND - MVCC_E_BASE] = "etcdserver: requested lease not found",
	[MVCC_E_LEASE_EXISTS - MVCC_E_BASE] = "etcdserver: lease already exists",
	[MVCC_E_LEASE_TTL_TOO_LARGE - MVCC_E_BASE] = "etcdserver: too large lease TTL",
};

const char *mvcc_strerror(int err)
{
	if (err == 0)
		return "success";
	if (-err >= MVCC_E_BASE && -err < MVCC_E_END)
		return messages[-err - MVCC_E_BASE];
	return strerror(-err);
}

int mvcc_grpc_code(int err)
{
	switch (-err) {
	case 0:
		return 0;
	case MVCC_E_COMPACTED:
	case MVCC_E_FUTURE_REV:
	case MVCC_E_LEASE_TTL_TOO_LARGE:
		return 11;
	case MVCC_E_EMPTY_KEY:
	case MVCC_E_KEY_NOT_FOUND:
	case MVCC_E_VALUE_PROVIDED:
	case MVCC_E_LEASE_PROVIDED:
	case MVCC_E_DUPLICATE_KEY:
	case MVCC_E_TOO_MANY_OPS:
	case MVCC_E_INVALID_SORT:
		return 3;
	case MVCC_E_LEASE_NOT_FOUND:
		return 5;
	case MVCC_E_LEASE_EXISTS:
		return 9;
	case ENOMEM:
	case E2BIG:
		return 8;
	default:
		return 13;
	}
}

/* ---- result arena ---- */

struct mvcc_arena {
	struct mvcc_arena *next;
	size_t used, cap;
	max_align_t data[];
};

static void *arena_alloc(struct mvcc_result *res, size_t size)
{
	size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct mvcc_arena *a = res->arena;
	if (!a || a->cap - a->used < size) {
		size_t cap = size > 4000 ? size : 4000;
		a = base_malloc(sizeof(*a) + cap);
		if (!a)
			return NULL;
		a->cap = cap;
		a->used = 0;
		a->next = res->arena;
		res->arena = a;
	}
	void *p = (char *)a->data + a->used;
	a->used += size;
	return p;
}

void mvcc_result_free(struct mvcc_result *res)
{
	struct mvcc_arena *a = res->arena;
	while (a) {
		struct mvcc_arena *next = a->next;
		free(a);
		a = next;
	}
	memset(res, 0, sizeof(*res));
}

/* A growing array of kvs, moved into the arena when complete. */
struct kvbuf {
	struct mvcc_kv *v;
	size_t n, cap;
};

static int kvbuf_add(struct kvbuf *b, const struct mvcc_kv *kv)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct mvcc_kv *v = base_realloc(b->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *kv;
	return 0;
}

static int kvbuf_take(struct kvbuf *b, struct mvcc_result *res, struct mvcc_kv **ret, size_t n)
{
	*ret = NULL;
	if (n) {
		*ret = arena_alloc(res, n * sizeof(**ret));
		if (!*ret)
			return -ENOMEM;
		memcpy(*ret, b->v, n * sizeof(**ret));
	}
	return 0;
}

/* ---- the store ---- */

static void key_free(struct mvcc_key *k)
{
	struct mvcc_rev *v = k->head;
	while (v) {
		struct mvcc_rev *prev = v->prev;
		free(v);
		v = prev;
	}
	free(k);
}

struct mvcc *mvcc_new(void)
{
	struct mvcc *s = base_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (mvcc_idx_init(&s->idx)) {
		free(s);
		return NULL;
	}
	s->rev = 1;
	s->compacted = -1;
	return s;
}

struct mvcc *mvcc_free(struct mvcc *s)
{
	if (s) {
		mvcc_idx_destroy(&s->idx, key_free);
		free(s->listed);
		free(s->touched);
		mvcc_leases_free(s->leases);
		free(s);
	}
	return NULL;
}

void mvcc_set_lease_check(struct mvcc *s, mvcc_lease_fn *fn, void *ctx)
{
	s->lease_fn = fn;
	s->lease_ctx = ctx;
}

int64_t mvcc_revision(const struct mvcc *s)
{
	return s->rev;
}

int64_t mvcc_compacted(const struct mvcc *s)
{
	return s->compacted;
}

size_t mvcc_count(const struct mvcc *s)
{
	return s->live;
}

size_t mvcc_versions(const struct mvcc *s)
{
	return s->versions;
}

uint64_t mvcc_bytes(const struct mvcc *s)
{
	return s->bytes;
}

uint64_t mvcc_live_bytes(const struct mvcc *s)
{
	return s->live_bytes;
}

bool mvcc_get(const struct mvcc *s, const void *key, size_t key_len, struct mvcc_kv *ret)
{
	const struct mvcc_key *k = mvcc_idx_find(&s->idx, key, key_len);

	if (!k || !is_live(k->head))
		return false;
	kv_of(ret, k, k->head, false);
	return true;
}

void mvcc_cursor_init(const struct mvcc *s, struct mvcc_cursor *c)
{
	struct idx_pos pos;

	mvcc_idx_seek(&s->idx, NULL, 0, &pos);
	c->leaf = pos.leaf;
	c->slot = pos.slot;
}

bool mvcc_cursor_next(struct mvcc_cursor *c, struct mvcc_kv *ret)
{
	struct idx_pos pos = { c->leaf, c->slot };
	const struct mvcc_key *k;

	while ((k = mvcc_idx_next(&pos)) && !is_live(k->head))
		;
	c->leaf = pos.leaf;
	c->slot = pos.slot;
	if (!k)
		return false;
	kv_of(ret, k, k->head, false);
	return true;
}

int mvcc_index_check(const struct mvcc *s)
{
	return mvcc_idx_check(&s->idx);
}

/* ---- range ---- */

static int64_t sort_field(const struct mvcc_kv *kv, enum mvcc_sort_target t)
{
	switch (t) {
	case MVCC_SORT_VERSION:
		return kv->version;
	case MVCC_SORT_CREATE:
		return kv->create_revision;
	case MVCC_SORT_MOD:
		return kv->mod_revision;
	default:
		return 0;
	}
}

static int sort_cmp(const void *pa, const void *pb, void *arg)
{
	const struct mvcc_kv *a = pa, *b = pb;
	const struct mvcc_range_req *r = arg;
	int c;
	if (r->sort_target == MVCC_SORT_VALUE) {
		c = key_cmp(a->value, a->value_len, b->value, b->value_len);
	} else if (r->sort_target != MVCC_SORT_KEY) {
		int64_t x = sort_field(a, r->sort_target), y = sort_field(b, r->sort_target);
		c = (x > y) - (x < y);
	} else {
		c = key_cmp(a->key, a->key_len, b->key, b->key_len);
	}
	if (r->sort_order == MVCC_SORT_DESCEND)
		c = -c;
	/* Ties stay in ascending key order whatever the direction, as etcd's
	 * sort.Sort(sort.Reverse(...)) leaves them (its input is in key
	 * order); the keys are unique, so the order is total. */
	if (!c)
		c = key_cmp(a->key, a->key_len, b->key, b->key_len);
	return c;
}

static bool filtered_out(const struct mvcc_range_req *r, const struct mvcc_rev *v)
{
	return (r->max_mod && v->main > r->max_mod) || (r->min_mod && v->main < r->min_mod) ||
	       (r->max_create && v->create > r->max_create) || (r->min_create && v->create < r->min_create);
}

static int range_rev(int64_t cur, int64_t compacted, int64_t want, int64_t *ret)
{
	if (want > cur)
		return -MVCC_E_FUTURE_REV;
	if (want <= 0)
		want = cur;
	if (want < compacted)
		return -MVCC_E_COMPACTED;
	*ret = want;
	return 0;
}

/* etcd's applierV3backend.Range over the view at revision cur. */
static int do_range(const struct mvcc *s, int64_t cur, const struct mvcc_range_req *r, struct mvcc_result *res,
		    struct mvcc_range_resp *out)
{
	struct kvbuf b = { 0 };
	struct walk w;
	struct mvcc_key *k;
	int64_t rev;
	int rv = range_rev(cur, s->compacted, r->revision, &rev);

	memset(out, 0, sizeof(*out));
	if (rv)
		return rv;
	if ((unsigned)r->sort_order > MVCC_SORT_DESCEND || (unsigned)r->sort_target > MVCC_SORT_VALUE)
		return -MVCC_E_INVALID_SORT;
	struct mvcc_range_req req = *r;
	if (req.sort_target != MVCC_SORT_KEY && req.sort_order == MVCC_SORT_NONE)
		req.sort_order = MVCC_SORT_ASCEND;
	bool filters = r->min_mod || r->max_mod || r->min_create || r->max_create;
	bool sorted = req.sort_order != MVCC_SORT_NONE &&
		      !(req.sort_order == MVCC_SORT_ASCEND && req.sort_target == MVCC_SORT_KEY);
	bool all = filters || sorted || r->limit <= 0;
	size_t limit = r->limit > 0 ? (size_t)r->limit : SIZE_MAX;

	mvcc_walk_start(&w, &s->idx, r->key, r->key_len, r->end, r->end_len);
	while ((k = mvcc_walk_next(&w))) {
		const struct mvcc_rev *v = at_rev(k, rev);
		if (!v)
			continue;
		out->count++;
		if (r->count_only || (!all && b.n >= limit) || filtered_out(r, v))
			continue;
		struct mvcc_kv kv;
		kv_of(&kv, k, v, r->keys_only && !(sorted && req.sort_target == MVCC_SORT_VALUE));
		rv = kvbuf_add(&b, &kv);
		if (rv)
			goto out;
	}
	if (sorted && b.n > 1)
		qsort_r(b.v, b.n, sizeof(b.v[0]), sort_cmp, &req);
	size_t n = b.n;
	if (all) {
		out->more = n > limit;
	} else {
		out->more = (uint64_t)out->count > limit;
	}
	if (n > limit)
		n = limit;
	if (r->keys_only)
		for (size_t i = 0; i < n; i++) {
			b.v[i].value = NULL;
			b.v[i].value_len = 0;
		}
	rv = kvbuf_take(&b, res, &out->kvs, n);
	out->n_kvs = n;
	out->revision = cur;
out:
	free(b.v);
	if (rv)
		memset(out, 0, sizeof(*out));
	return rv;
}

int mvcc_read(const struct mvcc *s, const struct mvcc_range_req *req, struct mvcc_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->op.type = MVCC_OP_RANGE;
	int rv = do_range(s, s->rev, req, ret, &ret->op.range);
	if (rv)
		mvcc_result_free(ret);
	else
		ret->revision = s->rev;
	return rv;
}

/* ---- compares and the txn path (etcd's compareToPath) ---- */

static bool compare_kv(const struct mvcc_compare *c, const struct mvcc_rev *v)
{
	int result = 0;
	int64_t x = 0;
	switch (c->target) {
	case MVCC_CMP_VALUE:
		result = key_cmp(v ? v->value : NULL, v ? v->value_len : 0, c->value, c->value_len);
		break;
	case MVCC_CMP_CREATE:
		x = v ? v->create : 0;
		break;
	case MVCC_CMP_MOD:
		x = v ? v->main : 0;
		break;
	case MVCC_CMP_VERSION:
		x = v ? rev_version(v) : 0;
		break;
	case MVCC_CMP_LEASE:
		x = v ? rev_lease(v) : 0;
		break;
	}
	if (c->target != MVCC_CMP_VALUE)
		result = (x > c->number) - (x < c->number);
	switch (c->result) {
	case MVCC_CMP_EQUAL:
		return result == 0;
	case MVCC_CMP_NOT_EQUAL:
		return result != 0;
	case MVCC_CMP_GREATER:
		return result > 0;
	case MVCC_CMP_LESS:
		return result < 0;
	}
	return true;
}

static bool compare_holds(const struct mvcc *s, const struct mvcc_compare *c)
{
	struct walk w;
	struct mvcc_key *k;
	bool any = false;

	mvcc_walk_start(&w, &s->idx, c->key, c->key_len, c->end, c->end_len);
	while ((k = mvcc_walk_next(&w))) {
		const struct mvcc_rev *v = at_rev(k, s->rev);
		if (!v)
			continue;
		any = true;
		if (!compare_kv(c, v))
			return false;
	}
	if (!any)
		return c->target != MVCC_CMP_VALUE && compare_kv(c, NULL);
	return true;
}

struct path {
	bool *v;
	size_t n, cap;
	bool local[16]; /* v at first: most requests take no nested txn, and a
			   plain put (goraft's /db write) should not malloc here */
};

static int path_build(const struct mvcc *s, const struct mvcc_txn_req *t, struct path *p)
{
	bool ok = true;
	for (size_t i = 0; i < t->n_compare && ok; i++)
		ok = compare_holds(s, &t->compare[i]);
	if (!p->v) {
		p->v = p->local;
		p->cap = sizeof(p->local);
	}
	if (p->n == p->cap) {
		size_t cap = p->cap * 2;
		bool *v = base_realloc(p->v == p->local ? NULL : p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		if (p->v == p->local)
			memcpy(v, p->local, sizeof(p->local));
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = ok;
	const struct mvcc_op *ops = ok ? t->success : t->failure;
	size_t n = ok ? t->n_success : t->n_failure;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].type != MVCC_OP_TXN)
			continue;
		int rv = path_build(s, ops[i].txn, p);
		if (rv)
			return rv;
	}
	return 0;
}

/* A put may take this lease: the store has it (and the optional check
 * agrees). */
static bool lease_ok(const struct mvcc *s, int64_t lease)
{
	return mvcc_lease_exists(s, lease) && (!s->lease_fn || s->lease_fn(s->lease_ctx, lease));
}

/* etcd's checkRequestPut (puts) and then checkRequestRange (!puts) over
 * the path, on the state before the txn. */
static int precheck(const struct mvcc *s, const struct mvcc_op *ops, size_t n, const struct path *p, size_t *pi,
		    bool puts)
{
	for (size_t i = 0; i < n; i++) {
		const struct mvcc_op *op = &ops[i];
		int rv = 0;
		if (op->type == MVCC_OP_TXN) {
			const struct mvcc_txn_req *t = op->txn;
			bool ok = p->v[(*pi)++];
			rv = precheck(s, ok ? t->success : t->failure, ok ? t->n_success : t->n_failure, p, pi,
				      puts);
		} else if (puts && op->type == MVCC_OP_PUT) {
			const struct mvcc_put_req *r = &op->put;
			if (r->ignore_value || r->ignore_lease) {
				const struct mvcc_key *k = mvcc_idx_find(&s->idx, r->key, r->key_len);
				if (!k || !is_live(k->head))
					rv = -MVCC_E_KEY_NOT_FOUND;
			}
			if (!rv && r->lease && !r->ignore_lease && !lease_ok(s, r->lease))
				rv = -MVCC_E_LEASE_NOT_FOUND;
		} else if (!puts && op->type == MVCC_OP_RANGE && op->range.revision) {
			if (op->range.revision > s->rev)
				rv = -MVCC_E_FUTURE_REV;
			else if (op->range.revision < s->compacted)
				rv = -MVCC_E_COMPACTED;
		}
		if (rv)
			return rv;
	}
	return 0;
}

/* ---- writing ---- */

struct txn {
	struct mvcc *s;
	struct mvcc_result *res;
	int64_t rev; /* of the changes */
	uint32_t sub;
	bool changed;
	const struct path *path;
	size_t pi;
	size_t lease_puts; /* puts with a lease so far: the room each lease may need */
};

/* Records k as touched by x, with room for listing it at the commit. */
static int touch(struct txn *x, struct mvcc_key *k)
{
	struct mvcc *s = x->s;
	if (k->flags & KEY_TOUCHED)
		return 0;
	if (mvcc_grow(&s->touched, &s->cap_touched, s->n_touched + 1, sizeof(s->touched[0])) ||
	    mvcc_grow(&s->listed, &s->cap_listed, s->n_listed + s->n_touched + 1, sizeof(s->listed[0])))
		return -ENOMEM;
	s->touched[s->n_touched++] = k;
	k->flags |= KEY_TOUCHED;
	return 0;
}

/* The lease of k's live version before x (0: not live). */
static int64_t lease_before(const struct mvcc_key *k, int64_t rev)
{
	const struct mvcc_rev *v = k->head;
	while (v && v->main == rev)
		v = v->prev;
	return is_live(v) ? rev_lease(v) : 0;
}

static void commit(struct txn *x)
{
	struct mvcc *s = x->s;
	/* without leases no key is attached to any, nor can be */
	bool leases = mvcc_lease_count(s) > 0;
	for (size_t i = 0; i < s->n_touched; i++) {
		struct mvcc_key *k = s->touched[i];
		k->flags &= (uint8_t)~KEY_TOUCHED;
		mvcc_list_key(s, k);
		if (leases) {
			int64_t before = lease_before(k, x->rev), now = is_live(k->head) ? rev_lease(k->head) : 0;
			if (before != now)
				mvcc_lease_moved(s, k, before, now);
		}
	}
	s->n_last = x->changed ? s->n_touched : 0;
	s->n_touched = 0;
	if (x->changed)
		s->rev = x->rev;
}

static void rollback(struct txn *x)
{
	struct mvcc *s = x->s;
	while (s->n_touched) {
		struct mvcc_key *k = s->touched[--s->n_touched];
		bool was = is_live(k->head);
		s->live_bytes -= live_size(k);
		k->flags &= (uint8_t)~KEY_TOUCHED;
		while (k->head && k->head->main == x->rev) {
			struct mvcc_rev *v = k->head;
			k->head = v->prev;
			mvcc_version_gone(s, k, v);
		}
		s->live = s->live - was + is_live(k->head);
		if (k->head)
			s->live_bytes += live_size(k);
		if (!k->head) {
			assert(!(k->flags & KEY_LISTED));
			mvcc_idx_remove(&s->idx, k);
			free(k);
		}
	}
}

/* Links v as k's newest version at x's revision. */
static void link_version(struct txn *x, struct mvcc_key *k, struct mvcc_rev *v)
{
	struct mvcc *s = x->s;
	bool was = is_live(k->head);
	s->live_bytes -= live_size(k);
	v->main = x->rev;
	v->sub = x->sub++;
	v->prev = k->head;
	k->head = v;
	s->live_bytes += live_size(k);
	s->versions++;
	s->bytes += k->key_len + (uint64_t)v->value_len;
	s->live = s->live - was + is_live(v);
	x->changed = true;
}

static int do_put(struct txn *x, const struct mvcc_put_req *r, struct mvcc_put_resp *out)
{
	struct mvcc *s = x->s;
	struct mvcc_key *k = mvcc_idx_find(&s->idx, r->key, r->key_len);
	const struct mvcc_rev *live = k && is_live(k->head) ? k->head : NULL;
	bool created = false;

	memset(out, 0, sizeof(*out));
	if (r->key_len > MVCC_LEN_MAX || r->value_len > MVCC_LEN_MAX)
		return -E2BIG;
	if ((r->ignore_value || r->ignore_lease) && !live)
		return -MVCC_E_KEY_NOT_FOUND;
	const void *value = r->ignore_value ? live->value : r->value;
	size_t value_len = r->ignore_value ? live->value_len : r->value_len;
	int64_t lease = r->ignore_lease ? rev_lease(live) : r->lease;
	if (!r->ignore_lease && lease) {
		if (!lease_ok(s, lease))
			return -MVCC_E_LEASE_NOT_FOUND;
		/* the commit attaches without allocating */
		if (mvcc_lease_reserve(s, lease, ++x->lease_puts))
			return -ENOMEM;
	}

	int64_t version = live ? rev_version(live) + 1 : 1;
	struct mvcc_rev *v = base_malloc(rev_size(value_len, version, lease));
	if (!v)
		return -ENOMEM;
	if (!k) {
		k = mvcc_key_new(r->key, r->key_len);
		if (!k || mvcc_idx_insert(&s->idx, k)) {
			free(k);
			free(v);
			return -ENOMEM;
		}
		created = true;
	}
	if (touch(x, k)) {
		if (created) {
			mvcc_idx_remove(&s->idx, k);
			free(k);
		}
		free(v);
		return -ENOMEM;
	}
	if (value_len)
		memcpy(v->value, value, value_len);
	v->value_len = (uint32_t)value_len;
	rev_set(v, version, lease);
	v->create = live ? live->create : x->rev;
	if (r->prev_kv && live) {
		out->has_prev = true;
		kv_of(&out->prev, k, live, false);
	}
	link_version(x, k, v);
	return 0;
}

static int do_delete(struct txn *x, const struct mvcc_delete_req *r, struct mvcc_delete_resp *out)
{
	struct mvcc *s = x->s;
	struct kvbuf b = { 0 };
	struct walk w;
	struct mvcc_key *k;
	int rv = 0;

	memset(out, 0, sizeof(*out));
	mvcc_walk_start(&w, &s->idx, r->key, r->key_len, r->end, r->end_len);
	while ((k = mvcc_walk_next(&w))) {
		if (!is_live(k->head))
			continue;
		struct mvcc_rev *v = base_calloc(1, sizeof(*v));
		if (!v || touch(x, k)) {
			free(v);
			rv = -ENOMEM;
			goto out;
		}
		if (r->prev_kv) {
			struct mvcc_kv kv;
			kv_of(&kv, k, k->head, false);
			rv = kvbuf_add(&b, &kv);
			if (rv) {
				free(v);
				goto out;
			}
		}
		link_version(x, k, v);
		out->deleted++;
	}
	if (r->prev_kv) {
		rv = kvbuf_take(&b, x->res, &out->prev_kvs, b.n);
		out->n_prev = b.n;
	}
out:
	free(b.v);
	return rv;
}

static int exec_ops(struct txn *x, const struct mvcc_op *ops, size_t n, struct mvcc_op_resp **ret, size_t *ret_n);

static int do_txn(struct txn *x, const struct mvcc_txn_req *t, struct mvcc_txn_resp *out)
{
	bool ok = x->path->v[x->pi++];
	out->succeeded = ok;
	return exec_ops(x, ok ? t->success : t->failure, ok ? t->n_success : t->n_failure, &out->resps,
			&out->n_resps);
}

static int exec_op(struct txn *x, const struct mvcc_op *op, struct mvcc_op_resp *out)
{
	out->type = op->type;
	switch (op->type) {
	case MVCC_OP_RANGE:
		return do_range(x->s, x->changed ? x->rev : x->s->rev, &op->range, x->res, &out->range);
	case MVCC_OP_PUT:
		return do_put(x, &op->put, &out->put);
	case MVCC_OP_DELETE:
		return do_delete(x, &op->del, &out->del);
	case MVCC_OP_TXN:
		out->txn = arena_alloc(x->res, sizeof(*out->txn));
		if (!out->txn)
			return -ENOMEM;
		memset(out->txn, 0, sizeof(*out->txn));
		return do_txn(x, op->txn, out->txn);
	}
	return -MVCC_E_KEY_NOT_FOUND;
}

static int exec_ops(struct txn *x, const struct mvcc_op *ops, size_t n, struct mvcc_op_resp **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	if (!n)
		return 0;
	struct mvcc_op_resp *r = arena_alloc(x->res, n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r, 0, n * sizeof(*r));
	*ret = r;
	*ret_n = n;
	for (size_t i = 0; i < n; i++) {
		int rv = exec_op(x, &ops[i], &r[i]);
		if (rv)
			return rv;
	}
	return 0;
}

int mvcc_exec(struct mvcc *s, const struct mvcc_op *op, struct mvcc_result *ret)
{
	struct txn x = { .s = s, .res = ret, .rev = s->rev + 1 };
	struct path path = { 0 };
	struct mvcc_txn_req one = { .success = op, .n_success = 1 };
	const struct mvcc_txn_req *t = op->type == MVCC_OP_TXN ? op->txn : &one;
	size_t pi = 0;
	int rv;

	memset(ret, 0, sizeof(*ret));
	assert(s->restore == 0 || s->restore == 2);
	s->n_last = 0; /* its keys are in touched[], which this call reuses */
	if (op->type == MVCC_OP_PUT && !op->put.ignore_value && !op->put.ignore_lease && !op->put.lease) {
		/* A plain put (every goraft /db write): nothing to validate but the
		 * sizes, nothing to decide on the state before, so no path. */
		ret->op.type = op->type;
		rv = do_put(&x, &op->put, &ret->op.put);
		if (rv) {
			rollback(&x);
			goto out;
		}
		commit(&x);
		ret->revision = s->rev;
		goto out;
	}
	rv = mvcc_validate(op, 0, true);
	if (rv)
		goto out;
	if (op->type == MVCC_OP_RANGE) {
		rv = mvcc_read(s, &op->range, ret);
		goto out;
	}
	rv = path_build(s, t, &path);
	if (rv)
		goto out;
	const struct mvcc_op *ops = path.v[0] ? t->success : t->failure;
	size_t n = path.v[0] ? t->n_success : t->n_failure;
	pi = 1;
	rv = precheck(s, ops, n, &path, &pi, true);
	pi = 1;
	if (!rv)
		rv = precheck(s, ops, n, &path, &pi, false);
	if (rv)
		goto out;
	x.path = &path;
	ret->op.type = op->type;
	if (op->type == MVCC_OP_TXN) {
		ret->op.txn = arena_alloc(ret, sizeof(*ret->op.txn));
		rv = ret->op.txn ? 0 : -ENOMEM;
		if (!rv) {
			memset(ret->op.txn, 0, sizeof(*ret->op.txn));
			rv = do_txn(&x, t, ret->op.txn);
		}
	} else {
		x.pi = 1; /* the wrapper's own place in the path */
		rv = exec_op(&x, op, &ret->op);
	}
	if (rv) {
		rollback(&x);
		goto out;
	}
	commit(&x);
	ret->revision = s->rev;
out:
	if (path.v != path.local)
		free(path.v);
	if (rv)
		mvcc_result_free(ret);
	return rv;
}

/* ---- shared within src/mvcc/ (mvcc_int.h) ---- */

int mvcc_delete_keys(struct mvcc *s, struct mvcc_key *const *keys, size_t n, struct mvcc_result *ret)
{
	struct txn x = { .s = s, .res = ret, .rev = s->rev + 1 };
	int rv = 0;

	memset(ret, 0, sizeof(*ret));
	assert(s->restore == 0 || s->restore == 2);
	s->n_last = 0;
	ret->op.type = MVCC_OP_DELETE;
	for (size_t i = 0; i < n; i++) {
		struct mvcc_key *k = keys[i];
		assert(is_live(k->head));
		struct mvcc_rev *v = base_calloc(1, sizeof(*v));
		if (!v || touch(&x, k)) {
			free(v);
			rv = -ENOMEM;
			rollback(&x);
			goto out;
		}
		link_version(&x, k, v);
		ret->op.del.deleted++;
	}
	commit(&x);
	ret->revision = s->rev;
out:
	if (rv)
		mvcc_result_free(ret);
	return rv;
}

void mvcc_walk_start(struct walk *w, const struct idx *t, const void *key, size_t key_len, const void *end,
		       size_t end_len)
{
	memset(w, 0, sizeof(*w));
	if (!end_len) {
		w->single = true;
		w->one = mvcc_idx_find(t, key, key_len);
		return;
	}
	w->unbounded = end_len == 1 && ((const uint8_t *)end)[0] == 0;
	w->end = end;
	w->end_len = end_len;
	mvcc_idx_seek(t, key, key_len, &w->pos);
}

struct mvcc_key *mvcc_walk_next(struct walk *w)
{
	if (w->done)
		return NULL;
	if (w->single) {
		w->done = true;
		return w->one;
	}
	struct mvcc_key *k = mvcc_idx_next(&w->pos);
	if (!k || (!w->unbounded && key_cmp(k->key, k->key_len, w->end, w->end_len) >= 0)) {
		w->done = true;
		return NULL;
	}
	return k;
}

int mvcc_grow(void *ptrp, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *p = base_realloc(*(void **)ptrp, c * size);
	if (!p)
		return -ENOMEM;
	*(void **)ptrp = p;
	*cap = c;
	return 0;
}

void mvcc_version_gone(struct mvcc *s, const struct mvcc_key *k, struct mvcc_rev *v)
{
	s->versions--;
	s->bytes -= k->key_len + (uint64_t)v->value_len;
	free(v);
}

void mvcc_list_key(struct mvcc *s, struct mvcc_key *k)
{
	if (!(k->flags & KEY_LISTED) && has_history(k)) {
		assert(s->n_listed < s->cap_listed);
		s->listed[s->n_listed++] = k;
		k->flags |= KEY_LISTED;
	}
}

struct mvcc_key *mvcc_key_new(const void *key, size_t len)
{
	struct mvcc_key *k = base_malloc(offsetof(struct mvcc_key, key) + len);
	if (k) {
		k->head = NULL;
		k->key_len = (uint32_t)len;
		k->flags = 0;
		if (len)
			memcpy(k->key, key, len);
	}
	return k;
}
