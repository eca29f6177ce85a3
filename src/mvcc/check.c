/* src/mvcc/check.c — etcd's validation of v3 requests (v3rpc/key.go:
 * checkRangeRequest, checkPutRequest, checkTxnRequest, checkIntervals),
 * shared by mvcc_check() for the front end and mvcc_exec() for the apply
 * path, so both refuse the same requests. Pure functions of the request;
 * mvcc_prefix_end() too, the client side's prefix intervals. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "src/mvcc/mvcc.h"
#include "src/mvcc/mvcc_int.h"

/* ---- validation (etcd's v3rpc/key.go) ---- */

struct span {
	const uint8_t *k, *e;
	size_t kl, el; /* el 0: the point k */
};

struct spans {
	struct span *v;
	size_t n, cap;
};

static int spans_add(struct spans *a, const void *k, size_t kl, const void *e, size_t el)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct span *v = base_realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (struct span){ k, e, kl, el };
	return 0;
}

static bool spans_has_point(const struct spans *a, const struct span *p)
{
	for (size_t i = 0; i < a->n; i++)
		if (!key_cmp(a->v[i].k, a->v[i].kl, p->k, p->kl))
			return true;
	return false;
}

/* etcd's adt interval [k, e) or point; "\0" is taken literally, as etcd
 * does here (a delete from a key never conflicts). */
static bool spans_cover(const struct spans *a, const struct span *p)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct span *d = &a->v[i];
		int lo = key_cmp(d->k, d->kl, p->k, p->kl);
		if (!d->el ? lo == 0 : lo <= 0 && key_cmp(p->k, p->kl, d->e, d->el) < 0)
			return true;
	}
	return false;
}

/* etcd's checkIntervals: the puts and deletes of one branch. */
static int check_intervals(const struct mvcc_op *ops, size_t n, struct spans *puts, struct spans *dels)
{
	struct spans pt = { 0 }, dt = { 0 }, pe = { 0 }, de = { 0 };
	int rv = 0;

	for (size_t i = 0; i < n && !rv; i++)
		if (ops[i].type == MVCC_OP_DELETE)
			rv = spans_add(dels, ops[i].del.key, ops[i].del.key_len, ops[i].del.end, ops[i].del.end_len);
	for (size_t i = 0; i < n && !rv; i++) {
		if (ops[i].type != MVCC_OP_TXN)
			continue;
		const struct mvcc_txn_req *t = ops[i].txn;
		pt.n = dt.n = pe.n = de.n = 0;
		rv = check_intervals(t->success, t->n_success, &pt, &dt);
		if (!rv)
			rv = check_intervals(t->failure, t->n_failure, &pe, &de);
		for (size_t j = 0; j < pt.n && !rv; j++) {
			if (spans_has_point(puts, &pt.v[j]) || spans_cover(dels, &pt.v[j]))
				rv = -MVCC_E_DUPLICATE_KEY;
			else
				rv = spans_add(puts, pt.v[j].k, pt.v[j].kl, NULL, 0);
		}
		for (size_t j = 0; j < pe.n && !rv; j++) {
			/* then and else exclude each other: the same key in both is fine */
			if ((spans_has_point(puts, &pe.v[j]) && !spans_has_point(&pt, &pe.v[j])) ||
			    spans_cover(dels, &pe.v[j]))
				rv = -MVCC_E_DUPLICATE_KEY;
			else
				rv = spans_add(puts, pe.v[j].k, pe.v[j].kl, NULL, 0);
		}
		for (size_t j = 0; j < dt.n && !rv; j++)
			rv = spans_add(dels, dt.v[j].k, dt.v[j].kl, dt.v[j].e, dt.v[j].el);
		for (size_t j = 0; j < de.n && !rv; j++)
			rv = spans_add(dels, de.v[j].k, de.v[j].kl, de.v[j].e, de.v[j].el);
	}
	for (size_t i = 0; i < n && !rv; i++) {
		if (ops[i].type != MVCC_OP_PUT)
			continue;
		struct span p = { ops[i].put.key, NULL, ops[i].put.key_len, 0 };
		if (spans_has_point(puts, &p) || spans_cover(dels, &p))
			rv = -MVCC_E_DUPLICATE_KEY;
		else
			rv = spans_add(puts, p.k, p.kl, NULL, 0);
	}
	free(pt.v);
	free(dt.v);
	free(pe.v);
	free(de.v);
	return rv;
}

static int check_op(const struct mvcc_op *op, size_t max_ops, bool empty_ok);

static int check_txn(const struct mvcc_txn_req *t, size_t max_ops, bool empty_ok)
{
	size_t opc = t->n_compare;
	if (opc < t->n_success)
		opc = t->n_success;
	if (opc < t->n_failure)
		opc = t->n_failure;
	if (max_ops && opc > max_ops)
		return -MVCC_E_TOO_MANY_OPS;
	for (size_t i = 0; i < t->n_compare; i++)
		if (!t->compare[i].key_len && !empty_ok)
			return -MVCC_E_EMPTY_KEY;
	for (size_t i = 0; i < t->n_success; i++) {
		int rv = check_op(&t->success[i], max_ops, empty_ok);
		if (rv)
			return rv;
	}
	for (size_t i = 0; i < t->n_failure; i++) {
		int rv = check_op(&t->failure[i], max_ops, empty_ok);
		if (rv)
			return rv;
	}
	return 0;
}

static int check_op(const struct mvcc_op *op, size_t max_ops, bool empty_ok)
{
	switch (op->type) {
	case MVCC_OP_RANGE:
		if (!op->range.key_len && !empty_ok)
			return -MVCC_E_EMPTY_KEY;
		if ((unsigned)op->range.sort_order > MVCC_SORT_DESCEND ||
		    (unsigned)op->range.sort_target > MVCC_SORT_VALUE)
			return -MVCC_E_INVALID_SORT;
		return 0;
	case MVCC_OP_PUT:
		if (!op->put.key_len && !empty_ok)
			return -MVCC_E_EMPTY_KEY;
		if (op->put.ignore_value && op->put.value_len)
			return -MVCC_E_VALUE_PROVIDED;
		if (op->put.ignore_lease && op->put.lease)
			return -MVCC_E_LEASE_PROVIDED;
		if (op->put.key_len > MVCC_LEN_MAX || op->put.value_len > MVCC_LEN_MAX)
			return -E2BIG;
		return 0;
	case MVCC_OP_DELETE:
		if (!op->del.key_len && !empty_ok)
			return -MVCC_E_EMPTY_KEY;
		return 0;
	case MVCC_OP_TXN:
		return check_txn(op->txn, max_ops, empty_ok);
	}
	return -MVCC_E_KEY_NOT_FOUND; /* an empty RequestOp, as etcd */
}

int mvcc_validate(const struct mvcc_op *op, size_t max_ops, bool empty_ok)
{
	int rv = check_op(op, max_ops, empty_ok);
	if (rv || op->type != MVCC_OP_TXN)
		return rv;
	struct spans puts = { 0 }, dels = { 0 };
	rv = check_intervals(op->txn->success, op->txn->n_success, &puts, &dels);
	puts.n = dels.n = 0;
	if (!rv)
		rv = check_intervals(op->txn->failure, op->txn->n_failure, &puts, &dels);
	free(puts.v);
	free(dels.v);
	return rv;
}

int mvcc_check(const struct mvcc_op *op, size_t max_txn_ops)
{
	return mvcc_validate(op, max_txn_ops, false);
}

size_t mvcc_prefix_end(const void *prefix, size_t len, uint8_t *buf)
{
	const uint8_t *p = prefix;
	for (size_t i = len; i-- > 0;) {
		if (p[i] != 0xff) {
			memcpy(buf, p, i);
			buf[i] = (uint8_t)(p[i] + 1);
			return i + 1;
		}
	}
	buf[0] = 0;
	return 1;
}
