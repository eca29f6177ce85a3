/* tests/fuzz/fuzz_mvcc.c — libFuzzer target for the MVCC store
 * (src/mvcc/), against the reference model (tests/mvcc/model.c).
 *
 * Byte 0 chooses the mode. Mode 0 (bit 0 clear): the rest is a sequence of
 * operations on one store — puts (prev_kv, ignore_value, ignore_lease,
 * leases, refused when the store does not have them or by a lease check),
 * lease grants and revokes (etcd's errors; a revoke deletes the lease's
 * keys in one revision), deletes of keys and intervals,
 * reads in the past with limits and sorts, txns with compares on keys and
 * intervals and one level of nested txns, compactions at once or in
 * steps that later operations interleave with — over a dozen keys
 * chosen to sit close together in byte order ("", "\0", "a", "a\0",
 * "ab", "\xff", ...). Any operation may be run with its Nth allocation
 * failed. Mode 1: the rest is a snapshot (a revision, a compaction and
 * version records) handed to mvcc_restore_*().
 *
 * Properties: no crash, leak or UB; an operation that fails changes
 * nothing (every stored version compared before and after); one that
 * succeeds does what the model does (the branch a txn takes, deletes
 * counted, puts' prev_kv), and after each operation the store equals the
 * model: revision, compaction, live keys, the leases and the keys attached
 * to each (those whose live version has that lease, in key order), the
 * versions a compaction must
 * keep, reads of everything at the current revision and below the
 * compaction, the index's invariants; at the end reads at every revision
 * since the compaction and the history as a watch replays it (events with
 * their prev_kv; after each write, mvcc_last_events() gives what the
 * history holds at its revision), and a snapshot restored into a new store
 * (leases included) reads the same and attaches the same keys. A restore of arbitrary records either is refused with -EINVAL or
 * gives a store whose index holds, that compacts and reads.
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_mvcc.c src/mvcc/mvcc.c \
 *     src/mvcc/index.c base/alloc.c base/crc32c.c tests/mvcc/model.c -o fuzz_mvcc
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "src/mvcc/mvcc.h"
#include "tests/fuzz/fuzz.h"
#include "tests/mvcc/model.h"

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static const struct {
	const char *k;
	size_t len;
} keys[] = {
	{ "", 0 },   { "\0", 1 }, { "\0\0", 2 }, { "a", 1 }, { "a\0", 2 }, { "ab", 2 }, { "abc", 3 },
	{ "ac", 2 }, { "b", 1 },  { "ba", 2 },	 { "c", 1 }, { "\xff", 1 }, { "\xff\xff", 2 },
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char values[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* An interval end: none, "\0", or one of the keys. */
static void pick_end(struct in *in, const void **end, size_t *len)
{
	unsigned b = take(in) % (N_KEYS + 2);
	if (b == 0) {
		*end = NULL;
		*len = 0;
	} else if (b == 1) {
		*end = "\0";
		*len = 1;
	} else {
		*end = keys[b - 2].k;
		*len = keys[b - 2].len;
		if (!*len) { /* an empty end means none */
			*end = NULL;
		}
	}
}

static bool lease_ok(void *ctx, int64_t lease)
{
	(void)ctx;
	return lease % 3 != 2;
}

/* The leases the store must have (IDs 1..N_LEASES; 0 is never granted),
 * and whether the lease check is installed. */
enum { N_LEASES = 4 };
static bool granted[N_LEASES + 1];
static bool leases_checked;

static bool lease_takes(int64_t lease)
{
	return lease >= 1 && lease <= N_LEASES && granted[lease] && (!leases_checked || lease_ok(NULL, lease));
}

/* Does any put of the op (any branch) name a lease a put cannot take? */
static bool any_bad_lease(const struct mvcc_op *op)
{
	if (op->type == MVCC_OP_PUT)
		return !op->put.ignore_lease && op->put.lease && !lease_takes(op->put.lease);
	if (op->type != MVCC_OP_TXN)
		return false;
	for (size_t i = 0; i < op->txn->n_success; i++)
		if (any_bad_lease(&op->txn->success[i]))
			return true;
	for (size_t i = 0; i < op->txn->n_failure; i++)
		if (any_bad_lease(&op->txn->failure[i]))
			return true;
	return false;
}

/* ---- building requests from bytes ---- */

enum { MAX_OPS = 4, MAX_CMP = 2 };

struct txn_buf {
	struct mvcc_compare cmp[MAX_CMP];
	struct mvcc_op then[MAX_OPS], other[MAX_OPS];
	struct mvcc_txn_req req;
};

static struct txn_buf nested[2 * MAX_OPS];
static size_t n_nested;

static void make_op(struct in *in, struct mvcc_op *op, int depth);

static void make_txn(struct in *in, struct txn_buf *t, int depth)
{
	unsigned shape = take(in);
	memset(t, 0, sizeof(*t));
	t->req.n_compare = shape % (MAX_CMP + 1);
	t->req.n_success = (shape / 3) % (MAX_OPS + 1);
	t->req.n_failure = (shape / 15) % (MAX_OPS + 1);
	for (size_t i = 0; i < t->req.n_compare; i++) {
		struct mvcc_compare *c = &t->cmp[i];
		unsigned b = take(in), k = take(in) % N_KEYS;
		c->target = (enum mvcc_cmp_target)(b % 5);
		c->result = (enum mvcc_cmp_result)((b / 5) % 4);
		c->key = keys[k].k;
		c->key_len = keys[k].len;
		if (b & 0x80)
			pick_end(in, &c->end, &c->end_len);
		c->number = (int8_t)take(in);
		c->value = values;
		c->value_len = take(in) % 4;
	}
	for (size_t i = 0; i < t->req.n_success; i++)
		make_op(in, &t->then[i], depth + 1);
	for (size_t i = 0; i < t->req.n_failure; i++)
		make_op(in, &t->other[i], depth + 1);
	t->req.compare = t->cmp;
	t->req.success = t->then;
	t->req.failure = t->other;
}

static void make_op(struct in *in, struct mvcc_op *op, int depth)
{
	unsigned b = take(in), k = take(in) % N_KEYS;
	memset(op, 0, sizeof(*op));
	switch (b % 4) {
	case 0: {
		unsigned f = take(in);
		op->type = MVCC_OP_PUT;
		op->put.key = keys[k].k;
		op->put.key_len = keys[k].len;
		op->put.value = values + f % 8;
		op->put.value_len = (f / 8) % 4;
		op->put.prev_kv = b & 0x10;
		op->put.ignore_value = b & 0x20;
		op->put.ignore_lease = b & 0x40;
		op->put.lease = (b & 0x80) ? take(in) % 5 : 0;
		/* mostly what etcd's front end lets through */
		if (op->put.ignore_value && !(f & 0x80))
			op->put.value_len = 0;
		if (op->put.ignore_lease && !(f & 0x80))
			op->put.lease = 0;
		break;
	}
	case 1:
		op->type = MVCC_OP_DELETE;
		op->del.key = keys[k].k;
		op->del.key_len = keys[k].len;
		op->del.prev_kv = b & 0x10;
		if (b & 0x20)
			pick_end(in, &op->del.end, &op->del.end_len);
		break;
	case 2: {
		unsigned f = take(in);
		op->type = MVCC_OP_RANGE;
		op->range.key = keys[k].k;
		op->range.key_len = keys[k].len;
		if (b & 0x10)
			pick_end(in, &op->range.end, &op->range.end_len);
		op->range.revision = (b & 0x20) ? (int8_t)take(in) : 0;
		op->range.limit = f % 4;
		op->range.sort_order = (enum mvcc_sort_order)((f / 4) % 4);
		op->range.sort_target = (enum mvcc_sort_target)((f / 16) % 6);
		op->range.keys_only = b & 0x40;
		op->range.count_only = b & 0x80;
		if (f & 0x80)
			op->range.min_mod = (int8_t)take(in);
		break;
	}
	default:
		if (depth >= 2 || n_nested == sizeof(nested) / sizeof(nested[0])) {
			op->type = MVCC_OP_RANGE;
			op->range.key = keys[k].k;
			op->range.key_len = keys[k].len;
			break;
		}
		op->type = MVCC_OP_TXN;
		struct txn_buf *t = &nested[n_nested++];
		make_txn(in, t, depth);
		op->txn = &t->req;
		break;
	}
}

/* ---- the model's side ---- */

/* The path of a txn decided on the model before any change (etcd's
 * compareToPath), in the order mvcc_exec() uses. */
static void model_path(const struct model *m, const struct mvcc_txn_req *t, bool *path, size_t *n)
{
	bool ok = true;
	for (size_t i = 0; i < t->n_compare && ok; i++)
		ok = model_compare(m, &t->compare[i]);
	path[(*n)++] = ok;
	const struct mvcc_op *ops = ok ? t->success : t->failure;
	size_t cnt = ok ? t->n_success : t->n_failure;
	for (size_t i = 0; i < cnt; i++)
		if (ops[i].type == MVCC_OP_TXN)
			model_path(m, ops[i].txn, path, n);
}

static void model_apply(struct model *m, const struct mvcc_op *op, const bool *path, size_t *pi,
			const struct mvcc_op_resp *r)
{
	CHECK(r->type == op->type);
	switch (op->type) {
	case MVCC_OP_PUT: {
		const struct mvcc_put_req *p = &op->put;
		const struct model_rec *cur = model_get(m, p->key, p->key_len, m->txn_rev);
		CHECK(cur || !(p->ignore_value || p->ignore_lease));
		CHECK(r->put.has_prev == (p->prev_kv && cur != NULL));
		CHECK(p->ignore_lease || !p->lease || lease_takes(p->lease));
		if (r->put.has_prev)
			CHECK(r->put.prev.mod_revision == cur->main && r->put.prev.version == cur->version);
		model_put(m, p->key, p->key_len, p->ignore_value ? cur->value : p->value,
			  p->ignore_value ? cur->value_len : p->value_len, p->ignore_lease ? cur->lease : p->lease);
		break;
	}
	case MVCC_OP_DELETE: {
		int64_t d = model_delete(m, op->del.key, op->del.key_len, op->del.end, op->del.end_len);
		CHECK(r->del.deleted == d);
		CHECK(r->del.n_prev == (op->del.prev_kv ? (size_t)d : 0));
		break;
	}
	case MVCC_OP_RANGE: {
		/* without sort, filter or limit: exactly the model's keys at the view */
		const struct mvcc_range_req *q = &op->range;
		const struct model_rec **v;
		int64_t view = m->changed ? m->txn_rev : m->rev;
		size_t n = model_range(m, q->key, q->key_len, q->end, q->end_len, q->revision > 0 ? q->revision : view,
				       &v);
		CHECK(r->range.count == (int64_t)n);
		if (!q->count_only && !q->min_mod && !q->limit &&
		    (q->sort_order == MVCC_SORT_NONE || q->sort_order == MVCC_SORT_ASCEND) && q->sort_target == MVCC_SORT_KEY) {
			CHECK(r->range.n_kvs == n);
			for (size_t i = 0; i < n; i++)
				CHECK(r->range.kvs[i].mod_revision == v[i]->main);
		}
		if (q->limit && !q->count_only)
			CHECK(r->range.n_kvs <= (size_t)q->limit);
		free(v);
		break;
	}
	case MVCC_OP_TXN: {
		const struct mvcc_txn_req *t = op->txn;
		bool ok = path[(*pi)++];
		CHECK(r->txn->succeeded == ok);
		const struct mvcc_op *ops = ok ? t->success : t->failure;
		size_t cnt = ok ? t->n_success : t->n_failure;
		CHECK(r->txn->n_resps == cnt);
		for (size_t i = 0; i < cnt; i++)
			model_apply(m, &ops[i], path, pi, &r->txn->resps[i]);
		break;
	}
	}
}

/* ---- dumps, to prove a failed operation changed nothing ---- */

struct dump {
	uint8_t *buf;
	size_t len, cap;
};

static void dump_put(struct dump *d, const void *p, size_t n)
{
	if (d->len + n > d->cap) {
		d->cap = (d->len + n) * 2 + 64;
		d->buf = realloc(d->buf, d->cap);
		CHECK(d->buf);
	}
	if (n)
		memcpy(d->buf + d->len, p, n);
	d->len += n;
}

static int dump_one(void *ctx, const struct mvcc_version *v)
{
	dump_put(ctx, &v->key_len, sizeof(v->key_len));
	dump_put(ctx, v->key, v->key_len);
	dump_put(ctx, &v->value_len, sizeof(v->value_len));
	dump_put(ctx, v->value, v->value_len);
	int64_t f[5] = { v->mod_revision, v->sub, v->create_revision, v->version, v->lease };
	dump_put(ctx, f, sizeof(f));
	return 0;
}

static struct dump dump(const struct mvcc *s)
{
	struct dump d = { 0 };
	int64_t h[2] = { mvcc_revision(s), mvcc_compacted(s) };
	dump_put(&d, h, sizeof(h));
	CHECK(mvcc_iter_versions(s, dump_one, &d) == 0);
	return d;
}

static int event_text(void *ctx, const struct mvcc_event *ev)
{
	int64_t f[5] = { ev->deleted, ev->sub, ev->kv.mod_revision, ev->has_prev, ev->prev.mod_revision };
	dump_put(ctx, ev->kv.key, ev->kv.key_len);
	dump_put(ctx, f, sizeof(f));
	return 0;
}

static int restore_one(void *ctx, const struct mvcc_version *v)
{
	return mvcc_restore_add(ctx, v);
}

static int restore_lease(void *ctx, int64_t id, int64_t ttl)
{
	return mvcc_restore_lease(ctx, id, ttl);
}

static int key_text(void *ctx, const uint8_t *key, size_t len)
{
	uint32_t n = (uint32_t)len;
	dump_put(ctx, &n, sizeof(n));
	dump_put(ctx, key, len);
	return 0;
}

/* The store's leases against granted[] and the model: each lease's keys
 * are the live keys whose version has it, in key order. */
static void check_leases(const struct mvcc *s, const struct model *m)
{
	const struct model_rec **v;
	size_t n = model_range(m, "", 0, "\0", 1, m->rev, &v), count = 0;
	for (int64_t id = 0; id <= N_LEASES + 1; id++) {
		bool has = id >= 1 && id <= N_LEASES && granted[id];
		CHECK(mvcc_lease_get(s, id, NULL) == has);
		count += has;
		struct dump want = { 0 }, got = { 0 };
		size_t nk = 0;
		for (size_t i = 0; has && i < n; i++)
			if (v[i]->lease == id) {
				key_text(&want, v[i]->key, v[i]->key_len);
				nk++;
			}
		CHECK(mvcc_lease_key_count(s, id) == nk);
		CHECK(mvcc_lease_keys(s, id, key_text, &got) == (has ? 0 : -MVCC_E_LEASE_NOT_FOUND));
		CHECK(want.len == got.len && (!want.len || !memcmp(want.buf, got.buf, want.len)));
		free(want.buf);
		free(got.buf);
	}
	CHECK(mvcc_lease_count(s) == count);
	free(v);
}

/* A grant or a revoke from the input, against granted[] and the model. */
static void lease_op(struct in *in, struct mvcc *s, struct model *m)
{
	unsigned c = take(in);
	int64_t id = c % (N_LEASES + 1), ttl = (c & 0x20) ? MVCC_LEASE_TTL_MAX + (c & 0x40 ? 1 : 0) : (int8_t)c;
	unsigned long fail_nth = (c & 0x10) ? take(in) % 8 + 1 : 0;
	struct dump before = dump(s);
	struct mvcc_result res;
	int rv;

	if (c & 8) {
		alloc_fail_nth(fail_nth);
		rv = mvcc_lease_grant(s, id, ttl);
		alloc_fail_nth(0);
		if (!id)
			CHECK(rv == -MVCC_E_LEASE_NOT_FOUND);
		else if (ttl > MVCC_LEASE_TTL_MAX)
			CHECK(rv == -MVCC_E_LEASE_TTL_TOO_LARGE);
		else if (granted[id])
			CHECK(rv == -MVCC_E_LEASE_EXISTS);
		else
			CHECK(rv == 0 || (rv == -ENOMEM && fail_nth));
		if (rv == 0) {
			int64_t got;
			CHECK(mvcc_lease_get(s, id, &got) && got == ttl);
			granted[id] = true;
		}
		struct dump after = dump(s);
		CHECK(before.len == after.len && !memcmp(before.buf, after.buf, before.len));
		free(after.buf);
	} else {
		alloc_fail_nth(fail_nth);
		rv = mvcc_lease_revoke(s, id, &res);
		alloc_fail_nth(0);
		if (!granted[id]) {
			CHECK(rv == -MVCC_E_LEASE_NOT_FOUND);
		} else if (rv == 0) {
			/* its keys, deleted in key order in one write */
			const struct model_rec **v;
			size_t n = model_range(m, "", 0, "\0", 1, m->rev, &v);
			model_begin(m);
			int64_t deleted = 0;
			for (size_t i = 0; i < n; i++)
				if (v[i]->lease == id)
					deleted += model_delete(m, v[i]->key, v[i]->key_len, NULL, 0);
			model_end(m);
			free(v);
			CHECK(res.op.type == MVCC_OP_DELETE && res.op.del.deleted == deleted);
			CHECK(res.revision == m->rev && mvcc_revision(s) == m->rev);
			mvcc_result_free(&res);
			granted[id] = false;
			struct dump last = { 0 }, hist = { 0 };
			CHECK(mvcc_last_events(s, event_text, &last) == 0);
			if (m->changed)
				CHECK(mvcc_events(s, "", 0, "\0", 1, m->rev, m->rev, event_text, &hist) == 0);
			CHECK(last.len == hist.len && (!last.len || !memcmp(last.buf, hist.buf, last.len)));
			free(last.buf);
			free(hist.buf);
		} else {
			CHECK(rv == -ENOMEM && fail_nth);
		}
		if (rv) {
			CHECK(res.arena == NULL);
			struct dump after = dump(s);
			CHECK(before.len == after.len && !memcmp(before.buf, after.buf, before.len));
			free(after.buf);
		}
	}
	free(before.buf);
}

static void run_ops(struct in *in)
{
	struct mvcc *s = mvcc_new();
	struct model m;
	CHECK(s);
	model_init(&m);
	leases_checked = take(in) & 1;
	memset(granted, 0, sizeof(granted));
	if (leases_checked)
		mvcc_set_lease_check(s, lease_ok, NULL);

	for (int step = 0; in->n && step < 200; step++) {
		unsigned b = take(in);
		if (b % 16 == 15) {
			lease_op(in, s, &m);
		} else if (b % 8 == 7) {
			int64_t rev = (int8_t)take(in);
			/* at once, or in steps that later operations go on with */
			int rv = b & 0x80 ? mvcc_compact_begin(s, rev) : mvcc_compact(s, rev);
			if (rev <= m.compacted)
				CHECK(rv == -MVCC_E_COMPACTED);
			else if (rev > m.rev)
				CHECK(rv == -MVCC_E_FUTURE_REV);
			else {
				CHECK(rv == 0);
				m.compacted = rev;
			}
		} else {
			struct mvcc_op op;
			struct mvcc_result res;
			n_nested = 0;
			if (b & 8) {
				op.type = MVCC_OP_TXN;
				make_txn(in, &nested[n_nested++], 0);
				op.txn = &nested[0].req;
			} else {
				make_op(in, &op, 1);
			}
			unsigned long fail_nth = (b & 0x10) ? take(in) % 16 + 1 : 0;
			/* A byte-for-byte comparison where a rollback can happen (a
			 * failed allocation, a txn); elsewhere an error comes before
			 * any change and the model check below sees the rest. */
			bool compare = fail_nth || op.type == MVCC_OP_TXN;
			struct dump before = compare ? dump(s) : (struct dump){ 0 };
			bool path[64];
			size_t n_path = 0;
			if (op.type == MVCC_OP_TXN)
				model_path(&m, op.txn, path, &n_path);
			alloc_fail_nth(fail_nth);
			int rv = mvcc_exec(s, &op, &res);
			alloc_fail_nth(0);
			if (rv) {
				if (compare) {
					struct dump after = dump(s);
					CHECK(before.len == after.len && !memcmp(before.buf, after.buf, before.len));
					free(after.buf);
				}
				CHECK(res.arena == NULL);
				CHECK(rv == -ENOMEM || (-rv >= MVCC_E_BASE && -rv < MVCC_E_END));
				CHECK(rv != -ENOMEM || fail_nth);
				CHECK(mvcc_strerror(rv) != NULL && mvcc_grpc_code(rv) != 13);
				if (rv == -MVCC_E_LEASE_NOT_FOUND)
					CHECK(any_bad_lease(&op));
			} else {
				CHECK(mvcc_check(&op, 0) != -MVCC_E_DUPLICATE_KEY);
				size_t pi = 0;
				model_begin(&m);
				model_apply(&m, &op, path, &pi, &res.op);
				CHECK(pi == n_path);
				model_end(&m);
				CHECK(res.revision == m.rev);
				mvcc_result_free(&res);
				/* the last write's events: what the history holds at its revision */
				struct dump last = { 0 }, hist = { 0 };
				CHECK(mvcc_last_events(s, event_text, &last) == 0);
				if (m.changed)
					CHECK(mvcc_events(s, "", 0, "\0", 1, m.rev, m.rev, event_text, &hist) == 0);
				CHECK(last.len == hist.len && (!last.len || !memcmp(last.buf, hist.buf, last.len)));
				free(last.buf);
				free(hist.buf);
			}
			free(before.buf);
		}
		if (mvcc_compacting(s) && (b & 0x40))
			mvcc_compact_step(s, b % 4);
		check_leases(s, &m);
		const char *bad = model_check(&m, s, false);
		if (!bad && step % 8 == 0)
			bad = model_check_events(&m, s, "", 0, "\0", 1, m.rev - 2 > m.compacted ? m.rev - 2 : m.compacted,
						 0);
		if (bad) {
			fprintf(stderr, "step %d: %s\n", step, bad);
			CHECK(!bad);
		}
	}
	const char *bad = model_check(&m, s, true);
	if (!bad)
		bad = model_check_events(&m, s, "", 0, "\0", 1, m.compacted, 0);
	if (!bad)
		bad = model_check_events(&m, s, "a", 1, "b", 1, m.compacted, m.rev - 1);
	if (bad)
		fprintf(stderr, "end: %s\n", bad);
	CHECK(!bad);

	struct mvcc *t = mvcc_new();
	CHECK(t);
	CHECK(mvcc_restore_begin(t, mvcc_revision(s), mvcc_compacted(s)) == 0);
	CHECK(mvcc_iter_versions(s, restore_one, t) == 0);
	CHECK(mvcc_lease_iter(s, restore_lease, t) == 0);
	CHECK(mvcc_restore_end(t) == 0);
	bad = model_check(&m, t, true);
	if (bad)
		fprintf(stderr, "restored: %s\n", bad);
	CHECK(!bad);
	check_leases(t, &m);
	/* what a compaction in steps shows never depends on the steps */
	uint32_t hs, ht;
	CHECK(mvcc_hash(s, 0, &hs) == 0 && mvcc_hash(t, 0, &ht) == 0 && hs == ht);
	while (mvcc_compact_step(s, 3))
		;
	CHECK(mvcc_versions(s) == mvcc_versions(t) && mvcc_bytes(s) == mvcc_bytes(t));
	mvcc_free(t);
	mvcc_free(s);
	model_free(&m);
}

/* A snapshot made of bytes: whatever restore accepts must be a sound store. */
static void run_restore(struct in *in)
{
	struct mvcc *s = mvcc_new();
	CHECK(s);
	int64_t rev = (int8_t)take(in), compacted = (int8_t)take(in);
	int rv = mvcc_restore_begin(s, rev, compacted);
	while (!rv && in->n) {
		unsigned k = take(in) % N_KEYS, f = take(in);
		struct mvcc_version v = {
			.key = (const uint8_t *)keys[k].k,
			.key_len = keys[k].len,
			.value = (const uint8_t *)values,
			.value_len = f % 3,
			.mod_revision = (int8_t)take(in),
			.sub = take(in) % 3,
			.create_revision = (int8_t)take(in),
			.version = (int8_t)take(in),
			.lease = (f / 4) % 3,
		};
		if (f & 0x80) { /* a plausible tombstone */
			v.version = v.create_revision = v.lease = 0;
			v.value_len = 0;
		}
		rv = mvcc_restore_add(s, &v);
	}
	if (!rv)
		rv = mvcc_restore_end(s);
	CHECK(rv == 0 || rv == -EINVAL);
	CHECK(mvcc_index_check(s) == 0);
	if (!rv) {
		/* a sound store: counts agree with a walk, reads and writes work */
		struct mvcc_range_req all = { .key = "", .key_len = 0, .end = "\0", .end_len = 1 };
		struct mvcc_result res;
		CHECK(mvcc_read(s, &all, &res) == 0);
		CHECK((size_t)res.op.range.count == mvcc_count(s));
		mvcc_result_free(&res);
		struct mvcc_op del = { .type = MVCC_OP_DELETE, .del = { .key = "", .key_len = 0, .end = "\0", .end_len = 1 } };
		CHECK(mvcc_exec(s, &del, &res) == 0);
		mvcc_result_free(&res);
		CHECK(mvcc_count(s) == 0);
		/* nothing was live (so nothing deleted) and nothing is above
		 * the compaction: then there is nothing to compact */
		if (mvcc_revision(s) > mvcc_compacted(s))
			CHECK(mvcc_compact(s, mvcc_revision(s)) == 0);
		CHECK(mvcc_versions(s) == 0 && mvcc_bytes(s) == 0);
		CHECK(mvcc_index_check(s) == 0);
	}
	mvcc_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	if (take(&in) & 1)
		run_restore(&in);
	else
		run_ops(&in);
	return 0;
}
