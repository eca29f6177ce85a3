/* tests/etcd/test_etcd.c — the etcd v3 codec (src/etcd): requests packed by
 * protobuf-c decode to the store's structs field by field (every compare
 * target and result, nested txns, enum values without names); malformed
 * bytes are refused, never a crash; the nesting bound holds before
 * protobuf-c recurses; responses written by the codec unpack with
 * protobuf-c to what etcd answers (headers included) and are byte for byte
 * what protobuf-c packs for the same message. */
#include <check.h>
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "etcd/rpc.pb-c.h"
#include "proto/command.h"
#include "proto/wire.h"
#include "src/etcd/etcd.h"
#include "src/mvcc/mvcc.h"
#include "tests/lib/check_main.h"

#define BIN(s) ((ProtobufCBinaryData){ sizeof(s) - 1, (uint8_t *)(s) })

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(protobuf_c_message_pack(m, buf), n);
	*ret_len = n;
	return buf;
}

static int decode_msg(enum etcd_kind kind, const ProtobufCMessage *m, struct etcd_req *req, uint8_t **ret_buf)
{
	size_t n;
	uint8_t *buf = pack(m, &n);
	char err[128];
	int rv = etcd_decode(kind, buf, n, req, err, sizeof(err));
	if (ret_buf)
		*ret_buf = buf;
	else
		free(buf);
	return rv;
}

static bool bytes_eq(const void *a, size_t alen, const char *b)
{
	return alen == strlen(b) && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ---- requests ---- */

START_TEST(test_decode_put)
{
	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	p.key = BIN("k\0y");
	p.value = BIN("v\xff");
	p.lease = 0x1234567890;
	p.prev_kv = true;
	p.ignore_value = true;
	p.ignore_lease = true;
	struct etcd_req r;
	uint8_t *buf;
	ck_assert_int_eq(decode_msg(ETCD_PUT, &p.base, &r, &buf), 0);
	ck_assert_int_eq(r.kind, ETCD_PUT);
	ck_assert_int_eq(r.op.type, MVCC_OP_PUT);
	ck_assert_uint_eq(r.op.put.key_len, 3);
	ck_assert(memcmp(r.op.put.key, "k\0y", 3) == 0);
	ck_assert_uint_eq(r.op.put.value_len, 2);
	ck_assert(memcmp(r.op.put.value, "v\xff", 2) == 0);
	ck_assert_int_eq(r.op.put.lease, 0x1234567890);
	ck_assert(r.op.put.prev_kv && r.op.put.ignore_value && r.op.put.ignore_lease);
	/* the request owns its bytes: the message may go */
	memset(buf, 0, protobuf_c_message_get_packed_size(&p.base));
	free(buf);
	ck_assert(memcmp(r.op.put.key, "k\0y", 3) == 0);
	etcd_req_free(&r);
	etcd_req_free(&r);
	ck_assert_ptr_null(r.priv);

	/* the zero message: every field at its zero value */
	ck_assert_int_eq(etcd_decode(ETCD_PUT, NULL, 0, &r, NULL, 0), 0);
	ck_assert_uint_eq(r.op.put.key_len, 0);
	ck_assert(!r.op.put.prev_kv);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_EMPTY_KEY);
	etcd_req_free(&r);

	struct etcd_req zero = { 0 };
	etcd_req_free(&zero);
}
END_TEST

START_TEST(test_decode_delete_compact)
{
	Etcdserverpb__DeleteRangeRequest d = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	d.key = BIN("a");
	d.range_end = BIN("\0");
	d.range_end.len = 1;
	d.prev_kv = true;
	struct etcd_req r;
	ck_assert_int_eq(decode_msg(ETCD_DELETE, &d.base, &r, NULL), 0);
	ck_assert_int_eq(r.op.type, MVCC_OP_DELETE);
	ck_assert(bytes_eq(r.op.del.key, r.op.del.key_len, "a"));
	ck_assert_uint_eq(r.op.del.end_len, 1);
	ck_assert_int_eq(((const uint8_t *)r.op.del.end)[0], 0);
	ck_assert(r.op.del.prev_kv);
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);

	Etcdserverpb__CompactionRequest c = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
	c.revision = 77;
	c.physical = true;
	ck_assert_int_eq(decode_msg(ETCD_COMPACT, &c.base, &r, NULL), 0);
	ck_assert_int_eq(r.kind, ETCD_COMPACT);
	ck_assert_int_eq(r.compact_rev, 77);
	ck_assert(r.physical);
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);
	/* a negative revision is the store's to refuse, as etcd's */
	c.revision = -1;
	c.physical = false;
	ck_assert_int_eq(decode_msg(ETCD_COMPACT, &c.base, &r, NULL), 0);
	ck_assert_int_eq(r.compact_rev, -1);
	ck_assert(!r.physical);
	etcd_req_free(&r);
}
END_TEST

START_TEST(test_decode_range)
{
	Etcdserverpb__RangeRequest q = ETCDSERVERPB__RANGE_REQUEST__INIT;
	q.key = BIN("a");
	q.range_end = BIN("b");
	q.limit = 10;
	q.revision = 5;
	q.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND;
	q.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__MOD;
	q.serializable = true;
	q.keys_only = true;
	q.count_only = true;
	q.min_mod_revision = 2;
	q.max_mod_revision = 3;
	q.min_create_revision = 4;
	q.max_create_revision = 6;
	struct etcd_req r;
	ck_assert_int_eq(decode_msg(ETCD_RANGE, &q.base, &r, NULL), 0);
	ck_assert_int_eq(r.kind, ETCD_RANGE);
	ck_assert_int_eq(r.op.type, MVCC_OP_RANGE);
	const struct mvcc_range_req *g = &r.op.range;
	ck_assert(bytes_eq(g->key, g->key_len, "a"));
	ck_assert(bytes_eq(g->end, g->end_len, "b"));
	ck_assert_int_eq(g->limit, 10);
	ck_assert_int_eq(g->revision, 5);
	ck_assert_int_eq(g->sort_order, MVCC_SORT_DESCEND);
	ck_assert_int_eq(g->sort_target, MVCC_SORT_MOD);
	ck_assert(r.serializable && g->keys_only && g->count_only);
	ck_assert_int_eq(g->min_mod, 2);
	ck_assert_int_eq(g->max_mod, 3);
	ck_assert_int_eq(g->min_create, 4);
	ck_assert_int_eq(g->max_create, 6);
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);

	/* values without names are kept, and refused as etcd refuses them */
	q.sort_order = 7;
	ck_assert_int_eq(decode_msg(ETCD_RANGE, &q.base, &r, NULL), 0);
	ck_assert_int_eq(r.op.range.sort_order, 7);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_INVALID_SORT);
	etcd_req_free(&r);
	q.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__NONE;
	q.sort_target = 9;
	ck_assert_int_eq(decode_msg(ETCD_RANGE, &q.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_INVALID_SORT);
	etcd_req_free(&r);
	q.sort_target = -1; /* a 10-byte varint on the wire */
	ck_assert_int_eq(decode_msg(ETCD_RANGE, &q.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_INVALID_SORT);
	etcd_req_free(&r);
}
END_TEST

/* Every target with every result, its number or value in the union member
 * the target names; then the union in another member than the target's. */
START_TEST(test_decode_compares)
{
	enum { N = 5 * 4 + 3 };
	Etcdserverpb__Compare cmps[N], *cp[N];
	Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
	for (int i = 0; i < N; i++) {
		Etcdserverpb__Compare c = ETCDSERVERPB__COMPARE__INIT;
		cmps[i] = c;
		cp[i] = &cmps[i];
	}
	for (int target = 0; target < 5; target++) {
		for (int result = 0; result < 4; result++) {
			Etcdserverpb__Compare *c = &cmps[target * 4 + result];
			c->target = target;
			c->result = result;
			c->key = BIN("key");
			if (result == 3)
				c->range_end = BIN("kez");
			switch (target) {
			case 0:
				c->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
				c->version = 100 + result;
				break;
			case 1:
				c->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
				c->create_revision = 200 + result;
				break;
			case 2:
				c->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
				c->mod_revision = 300 + result;
				break;
			case 3:
				c->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
				c->value = BIN("val");
				break;
			case 4:
				c->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE;
				c->lease = 500 + result;
				break;
			}
		}
	}
	/* a VERSION compare holding create_revision; a VALUE compare with no
	 * value; a MOD compare holding a value */
	cmps[20].target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
	cmps[20].key = BIN("x");
	cmps[20].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
	cmps[20].create_revision = 9;
	cmps[21].target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
	cmps[21].key = BIN("x");
	cmps[22].target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
	cmps[22].key = BIN("x");
	cmps[22].target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
	cmps[22].value = BIN("zz");
	t.n_compare = N;
	t.compare = cp;

	struct etcd_req r;
	ck_assert_int_eq(decode_msg(ETCD_TXN, &t.base, &r, NULL), 0);
	ck_assert_int_eq(r.op.type, MVCC_OP_TXN);
	const struct mvcc_txn_req *x = r.op.txn;
	ck_assert_uint_eq(x->n_compare, N);
	ck_assert_uint_eq(x->n_success + x->n_failure, 0);
	static const enum mvcc_cmp_target targets[] = { MVCC_CMP_VERSION, MVCC_CMP_CREATE, MVCC_CMP_MOD,
							 MVCC_CMP_VALUE, MVCC_CMP_LEASE };
	static const enum mvcc_cmp_result results[] = { MVCC_CMP_EQUAL, MVCC_CMP_GREATER, MVCC_CMP_LESS,
							 MVCC_CMP_NOT_EQUAL };
	for (int target = 0; target < 5; target++) {
		for (int result = 0; result < 4; result++) {
			const struct mvcc_compare *c = &x->compare[target * 4 + result];
			ck_assert_int_eq(c->target, targets[target]);
			ck_assert_int_eq(c->result, results[result]);
			ck_assert(bytes_eq(c->key, c->key_len, "key"));
			ck_assert(bytes_eq(c->end, c->end_len, result == 3 ? "kez" : ""));
			if (target == 3) {
				ck_assert(bytes_eq(c->value, c->value_len, "val"));
				ck_assert_int_eq(c->number, 0);
			} else {
				static const int64_t base[] = { 100, 200, 300, 0, 500 };
				ck_assert_int_eq(c->number, base[target] + result);
				ck_assert_uint_eq(c->value_len, 0);
			}
		}
	}
	ck_assert_int_eq(x->compare[20].number, 0);
	ck_assert_uint_eq(x->compare[21].value_len, 0);
	ck_assert_int_eq(x->compare[22].number, 0);
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);
}
END_TEST

/* A txn with every kind of op in both branches, a txn nested in each, and
 * a range inside the nested one. */
START_TEST(test_decode_nested_txn)
{
	Etcdserverpb__RangeRequest rq = ETCDSERVERPB__RANGE_REQUEST__INIT;
	rq.key = BIN("r");
	rq.range_end = BIN("s");
	rq.limit = 3;
	rq.count_only = true;
	Etcdserverpb__PutRequest pq = ETCDSERVERPB__PUT_REQUEST__INIT;
	pq.key = BIN("p");
	pq.value = BIN("pv");
	pq.prev_kv = true;
	Etcdserverpb__DeleteRangeRequest dq = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	dq.key = BIN("d");
	dq.prev_kv = true;
	Etcdserverpb__Compare ic = ETCDSERVERPB__COMPARE__INIT;
	ic.key = BIN("i");
	ic.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE;
	ic.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL;
	ic.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE;
	ic.lease = 42;
	Etcdserverpb__Compare *icp = &ic;
	Etcdserverpb__RequestOp o_range = ETCDSERVERPB__REQUEST_OP__INIT, o_put = ETCDSERVERPB__REQUEST_OP__INIT,
				o_del = ETCDSERVERPB__REQUEST_OP__INIT, o_txn = ETCDSERVERPB__REQUEST_OP__INIT;
	o_range.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	o_range.request_range = &rq;
	o_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	o_put.request_put = &pq;
	o_del.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
	o_del.request_delete_range = &dq;
	Etcdserverpb__TxnRequest inner = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__RequestOp *inner_ops[] = { &o_range };
	inner.n_compare = 1;
	inner.compare = &icp;
	inner.n_failure = 1;
	inner.failure = inner_ops;
	o_txn.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
	o_txn.request_txn = &inner;
	Etcdserverpb__RequestOp *succ[] = { &o_range, &o_put, &o_del, &o_txn };
	Etcdserverpb__RequestOp *fail[] = { &o_txn, &o_put };
	Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
	t.n_success = 4;
	t.success = succ;
	t.n_failure = 2;
	t.failure = fail;

	struct etcd_req r;
	ck_assert_int_eq(decode_msg(ETCD_TXN, &t.base, &r, NULL), 0);
	const struct mvcc_txn_req *x = r.op.txn;
	ck_assert_uint_eq(x->n_compare, 0);
	ck_assert_uint_eq(x->n_success, 4);
	ck_assert_uint_eq(x->n_failure, 2);
	ck_assert_int_eq(x->success[0].type, MVCC_OP_RANGE);
	ck_assert(bytes_eq(x->success[0].range.key, x->success[0].range.key_len, "r"));
	ck_assert(bytes_eq(x->success[0].range.end, x->success[0].range.end_len, "s"));
	ck_assert_int_eq(x->success[0].range.limit, 3);
	ck_assert(x->success[0].range.count_only);
	ck_assert_int_eq(x->success[1].type, MVCC_OP_PUT);
	ck_assert(bytes_eq(x->success[1].put.value, x->success[1].put.value_len, "pv"));
	ck_assert(x->success[1].put.prev_kv);
	ck_assert_int_eq(x->success[2].type, MVCC_OP_DELETE);
	ck_assert(bytes_eq(x->success[2].del.key, x->success[2].del.key_len, "d"));
	ck_assert(x->success[2].del.prev_kv);
	ck_assert_int_eq(x->success[3].type, MVCC_OP_TXN);
	for (int k = 0; k < 2; k++) {
		const struct mvcc_txn_req *in = k ? x->failure[0].txn : x->success[3].txn;
		ck_assert_uint_eq(in->n_compare, 1);
		ck_assert_int_eq(in->compare[0].target, MVCC_CMP_LEASE);
		ck_assert_int_eq(in->compare[0].result, MVCC_CMP_NOT_EQUAL);
		ck_assert_int_eq(in->compare[0].number, 42);
		ck_assert_uint_eq(in->n_success, 0);
		ck_assert_uint_eq(in->n_failure, 1);
		ck_assert_int_eq(in->failure[0].type, MVCC_OP_RANGE);
		ck_assert(in->failure[0].range.count_only);
	}
	ck_assert_int_eq(x->failure[1].type, MVCC_OP_PUT);
	/* the same put in both branches is not a duplicate: one branch runs */
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);

	/* a RequestOp with no request: etcd 3.4 would crash applying it */
	Etcdserverpb__RequestOp empty = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__RequestOp *eops[] = { &o_put, &empty };
	t.n_success = 2;
	t.success = eops;
	size_t n;
	uint8_t *buf = pack(&t.base, &n);
	char err[128];
	ck_assert_int_eq(etcd_decode(ETCD_TXN, buf, n, &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "invalid request: a txn op (RequestOp) without a request");
	ck_assert_ptr_null(r.priv);
	etcd_req_free(&r);
	free(buf);
}
END_TEST

/* depth txns, each the only success op of the one outside it, packed by
 * hand: Txn{success: Op{request_txn: Txn{...}}} */
static uint8_t *nested_bytes(size_t depth, size_t *ret_len)
{
	/* built from the inside out, backwards */
	size_t cap = 16 * depth + 16, pos = cap, inner = 0;
	uint8_t *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (size_t d = 1; d < depth; d++) {
		/* Op{4: Txn(inner)} then Txn{2: Op} */
		uint8_t head[12];
		size_t h = 0, len = inner, op_len;
		head[h++] = 0x22;
		do {
			head[h++] = (uint8_t)(len | (len >= 0x80 ? 0x80 : 0));
			len >>= 7;
		} while (len);
		op_len = inner + h;
		pos -= h;
		memcpy(buf + pos, head, h);
		h = 0;
		len = op_len;
		head[h++] = 0x12;
		do {
			head[h++] = (uint8_t)(len | (len >= 0x80 ? 0x80 : 0));
			len >>= 7;
		} while (len);
		pos -= h;
		memcpy(buf + pos, head, h);
		inner = op_len + h;
	}
	memmove(buf, buf + pos, inner);
	*ret_len = inner;
	return buf;
}

START_TEST(test_nesting_bound)
{
	struct etcd_req r;
	char err[128];
	size_t n;
	uint8_t *buf = nested_bytes(ETCD_TXN_DEPTH_MAX, &n);
	ck_assert_int_eq(etcd_decode(ETCD_TXN, buf, n, &r, err, sizeof(err)), 0);
	const struct mvcc_txn_req *t = r.op.txn;
	size_t depth = 1;
	while (t->n_success) {
		ck_assert_uint_eq(t->n_success, 1);
		ck_assert_int_eq(t->success[0].type, MVCC_OP_TXN);
		t = t->success[0].txn;
		depth++;
	}
	ck_assert_uint_eq(depth, ETCD_TXN_DEPTH_MAX);
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);
	free(buf);

	buf = nested_bytes(ETCD_TXN_DEPTH_MAX + 1, &n);
	ck_assert_int_eq(etcd_decode(ETCD_TXN, buf, n, &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "invalid request: txns nested deeper than 64 levels");
	free(buf);

	/* deep enough to overflow the stack in protobuf-c's recursion */
	buf = nested_bytes(300000, &n);
	ck_assert_int_eq(etcd_decode(ETCD_TXN, buf, n, &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "invalid request: txns nested deeper than 64 levels");
	/* cut short: the outer length runs past the end */
	ck_assert_int_eq(etcd_decode(ETCD_TXN, buf, n / 2, &r, err, sizeof(err)), -EBADMSG);
	free(buf);
}
END_TEST

START_TEST(test_bad_bytes)
{
	static const struct {
		const char *bytes;
		size_t len;
	} cases[] = {
		{ "\x0a\x05" "ab", 4 },		/* a length past the end */
		{ "\x0a", 1 },			/* a tag alone */
		{ "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12 }, /* an 11-byte varint */
		{ "\x0b", 1 },			/* a group */
		{ "\x0f", 1 },			/* wire type 7 */
		{ "\x00\x01", 2 },		/* field 0 */
		{ "\x11\x01\x02", 3 },		/* a 64-bit field cut short */
		/* field 0 with its tag in two bytes: protobuf-c would take it,
		 * Go's decoder (etcd's) refuses it */
		{ "\x90\x31\x01\x80\x00\x31", 6 },
		{ "\x80\x80\x80\x80\x10\x01", 6 }, /* field 2^29 */
	};
	static const enum etcd_kind kinds[] = { ETCD_PUT,   ETCD_DELETE,      ETCD_TXN,	    ETCD_COMPACT,
						ETCD_RANGE, ETCD_LEASE_GRANT, ETCD_LEASE_REVOKE };
	static const char *const names[] = { "PutRequest",   "DeleteRangeRequest", "TxnRequest",	 "CompactionRequest",
					     "RangeRequest", "LeaseGrantRequest",  "LeaseRevokeRequest" };
	for (size_t k = 0; k < 7; k++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct etcd_req r;
			char err[128], want[64];
			ck_assert_msg(etcd_decode(kinds[k], (const uint8_t *)cases[i].bytes, cases[i].len, &r, err,
						  sizeof(err)) == -EBADMSG,
				      "kind %c case %zu", kinds[k], i);
			snprintf(want, sizeof(want), "invalid protobuf: %s", names[k]);
			ck_assert_str_eq(err, want);
			ck_assert_ptr_null(r.priv);
			etcd_req_free(&r);
		}
	}
	/* a nested message cut short inside a txn, and a wrong wire type for
	 * a message field */
	static const uint8_t in_txn[] = { 0x12, 0x04, 0x22, 0x05, 0x12, 0x00 };
	static const uint8_t wrong_type[] = { 0x12, 0x02, 0x20, 0x01 };
	struct etcd_req r;
	char err[64];
	ck_assert_int_eq(etcd_decode(ETCD_TXN, in_txn, sizeof(in_txn), &r, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(etcd_decode(ETCD_TXN, wrong_type, sizeof(wrong_type), &r, err, sizeof(err)), -EBADMSG);
	/* field 0 inside a compare, and inside a put in a nested txn */
	static const uint8_t zero_in_cmp[] = { 0x0a, 0x03, 0x80, 0x00, 0x01 };
	static const uint8_t zero_in_put[] = { 0x12, 0x09, 0x22, 0x07, 0x12, 0x05, 0x12, 0x03, 0x80, 0x00, 0x01 };
	ck_assert_int_eq(etcd_decode(ETCD_TXN, zero_in_cmp, sizeof(zero_in_cmp), &r, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(etcd_decode(ETCD_TXN, zero_in_put, sizeof(zero_in_put), &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "invalid protobuf: TxnRequest");
	/* unknown fields are skipped, as etcd's decoder does */
	static const uint8_t unknown[] = { 0x0a, 0x01, 'k', 0xf8, 0x01, 0x05, 0x12, 0x01, 'v' };
	ck_assert_int_eq(etcd_decode(ETCD_PUT, unknown, sizeof(unknown), &r, err, sizeof(err)), 0);
	ck_assert(bytes_eq(r.op.put.value, r.op.put.value_len, "v"));
	etcd_req_free(&r);
	/* an unknown kind; no err buffer at all */
	ck_assert_int_eq(etcd_decode((enum etcd_kind)'Z', NULL, 0, &r, err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(etcd_decode(ETCD_PUT, (const uint8_t *)"\x0a", 1, &r, NULL, 0), -EBADMSG);

	/* random bytes: refused or decoded, never a crash (the fuzz targets
	 * go further) */
	srandom(19);
	for (int i = 0; i < 20000; i++) {
		uint8_t b[24];
		size_t len = (size_t)random() % sizeof(b);
		for (size_t j = 0; j < len; j++)
			b[j] = (uint8_t)random();
		int rv = etcd_decode(kinds[i % 5], b, len, &r, NULL, 0);
		ck_assert(rv == 0 || rv == -EBADMSG);
		if (rv == 0)
			etcd_check(&r);
		etcd_req_free(&r);
	}
}
END_TEST

/* A target or result without a name is kept, and the store evaluates it
 * as etcd's compareKV: an unknown target compares 0 with 0 (its union
 * member is none the target names), an unknown result holds. */
START_TEST(test_unknown_compare_enums)
{
	struct mvcc *s = mvcc_new();
	ck_assert_ptr_nonnull(s);
	struct mvcc_op put = { .type = MVCC_OP_PUT, .put = { .key = "k", .key_len = 1, .value = "v", .value_len = 1 } };
	struct mvcc_result res;
	ck_assert_int_eq(mvcc_exec(s, &put, &res), 0);
	mvcc_result_free(&res);

	static const struct {
		int target, result;
		bool holds;
	} cases[] = {
		{ 9, ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, true },
		{ 9, ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER, false },
		{ 9, ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL, false },
		{ ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION, 9, true },
		{ ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION, ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Etcdserverpb__Compare c = ETCDSERVERPB__COMPARE__INIT, *cp = &c;
		c.target = cases[i].target;
		c.result = cases[i].result;
		c.key = BIN("k");
		c.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
		c.version = 5;
		Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
		t.n_compare = 1;
		t.compare = &cp;
		struct etcd_req r;
		ck_assert_int_eq(decode_msg(ETCD_TXN, &t.base, &r, NULL), 0);
		ck_assert_int_eq(r.op.txn->compare[0].target, cases[i].target);
		ck_assert_int_eq(r.op.txn->compare[0].result, cases[i].result);
		ck_assert_int_eq(r.op.txn->compare[0].number, cases[i].target == 9 ? 0 : 5);
		ck_assert_int_eq(etcd_check(&r), 0);
		ck_assert_int_eq(mvcc_exec(s, &r.op, &res), 0);
		ck_assert_msg(res.op.txn->succeeded == cases[i].holds, "case %zu", i);
		mvcc_result_free(&res);
		etcd_req_free(&r);
	}
	mvcc_free(s);
}
END_TEST

START_TEST(test_entry_payload)
{
	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	p.key = BIN("k");
	p.value = BIN("v");
	size_t n, plen;
	uint8_t *msg = pack(&p.base, &n), *payload;
	ck_assert_int_eq(etcd_entry_payload(ETCD_PUT, msg, n, &payload, &plen), 0);
	ck_assert_uint_eq(plen, n + 1);
	ck_assert_int_eq(payload[0], 'P');
	ck_assert(memcmp(payload + 1, msg, n) == 0);
	struct etcd_req r;
	char err[64];
	ck_assert_int_eq(etcd_decode_entry(payload, plen, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.kind, ETCD_PUT);
	ck_assert(bytes_eq(r.op.put.key, r.op.put.key_len, "k"));
	ck_assert(bytes_eq(r.op.put.value, r.op.put.value_len, "v"));
	etcd_req_free(&r);
	free(payload);

	/* every write kind, and an empty message */
	static const enum etcd_kind writes[] = { ETCD_PUT,	  ETCD_DELETE,	     ETCD_TXN,
						 ETCD_COMPACT, ETCD_LEASE_GRANT, ETCD_LEASE_REVOKE };
	for (size_t i = 0; i < 6; i++) {
		ck_assert_int_eq(etcd_entry_payload(writes[i], NULL, 0, &payload, &plen), 0);
		ck_assert_uint_eq(plen, 1);
		ck_assert_int_eq(etcd_decode_entry(payload, plen, &r, err, sizeof(err)), 0);
		ck_assert_int_eq(r.kind, writes[i]);
		etcd_req_free(&r);
		free(payload);
	}
	/* reads are never logged */
	ck_assert_int_eq(etcd_entry_payload(ETCD_RANGE, msg, n, &payload, &plen), -EINVAL);
	ck_assert_ptr_null(payload);
	uint8_t bad[] = { 'R', 0x0a, 0x01, 'k' };
	ck_assert_int_eq(etcd_decode_entry(bad, sizeof(bad), &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "raftd:v3: unknown kind 0x52");
	ck_assert_int_eq(etcd_decode_entry(bad, 0, &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "raftd:v3: empty payload");
	bad[0] = 'P';
	ck_assert_int_eq(etcd_decode_entry(bad, 2, &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "invalid protobuf: PutRequest");
	free(msg);
}
END_TEST

/* The whole way of a write through the log: the client's message, its
 * raftd:v3 payload, a LogEntry as the leader writes it, the command as a
 * node reads it back (borrowed), the request it applies. */
START_TEST(test_log_entry_round_trip)
{
	Etcdserverpb__DeleteRangeRequest d = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	d.key = BIN("k\n\"{");
	d.range_end = BIN("l\xff");
	d.prev_kv = true;
	size_t n, plen;
	uint8_t *msg = pack(&d.base, &n), *payload;
	ck_assert_int_eq(etcd_entry_payload(ETCD_DELETE, msg, n, &payload, &plen), 0);
	struct cmd c = { .type = CMD_V3, .value = cmd_str_ref(payload, plen) };
	size_t es = cmd_entry_size(41, 6, &c);
	uint8_t *entry = malloc(es);
	ck_assert_ptr_nonnull(entry);
	ck_assert_int_eq(cmd_entry_encode(41, 6, &c, entry, es), (long)es);

	struct wire_log_entry we;
	ck_assert_int_eq(wire_decode_log_entry(entry, es, &we, NULL), 0);
	struct cmd back;
	char err[128];
	ck_assert_int_eq(cmd_decode_flags(we.command_name.ptr, we.command_name.len, we.has_command, we.command.ptr,
					  we.command.len, CMD_DECODE_BORROW, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(back.type, CMD_V3);
	struct etcd_req r;
	ck_assert_int_eq(etcd_decode_entry((const uint8_t *)back.value.ptr, back.value.len, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.kind, ETCD_DELETE);
	ck_assert(bytes_eq(r.op.del.key, r.op.del.key_len, "k\n\"{"));
	ck_assert(bytes_eq(r.op.del.end, r.op.del.end_len, "l\xff"));
	ck_assert(r.op.del.prev_kv);
	etcd_req_free(&r);
	cmd_free(&back);
	free(entry);
	free(payload);
	free(msg);
}
END_TEST

START_TEST(test_check_limits)
{
	Etcdserverpb__PutRequest pq[130];
	Etcdserverpb__RequestOp ops[130], *opp[130];
	char keys[130][8];
	for (int i = 0; i < 130; i++) {
		Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
		Etcdserverpb__RequestOp o = ETCDSERVERPB__REQUEST_OP__INIT;
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		pq[i] = p;
		pq[i].key = (ProtobufCBinaryData){ strlen(keys[i]), (uint8_t *)keys[i] };
		ops[i] = o;
		ops[i].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
		ops[i].request_put = &pq[i];
		opp[i] = &ops[i];
	}
	Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
	t.success = opp;
	struct etcd_req r;
	t.n_success = ETCD_MAX_TXN_OPS;
	ck_assert_int_eq(decode_msg(ETCD_TXN, &t.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);
	t.n_success = ETCD_MAX_TXN_OPS + 1;
	ck_assert_int_eq(decode_msg(ETCD_TXN, &t.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_TOO_MANY_OPS);
	etcd_req_free(&r);
	/* a duplicate key in a branch; in the failure branch too */
	pq[1].key = pq[0].key;
	t.n_success = 2;
	ck_assert_int_eq(decode_msg(ETCD_TXN, &t.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_DUPLICATE_KEY);
	etcd_req_free(&r);
	t.n_success = 0;
	t.failure = opp;
	t.n_failure = 2;
	ck_assert_int_eq(decode_msg(ETCD_TXN, &t.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_DUPLICATE_KEY);
	etcd_req_free(&r);

	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	p.key = BIN("k");
	p.value = BIN("v");
	p.ignore_value = true;
	ck_assert_int_eq(decode_msg(ETCD_PUT, &p.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_VALUE_PROVIDED);
	etcd_req_free(&r);
	Etcdserverpb__RangeRequest q = ETCDSERVERPB__RANGE_REQUEST__INIT;
	ck_assert_int_eq(decode_msg(ETCD_RANGE, &q.base, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), -MVCC_E_EMPTY_KEY);
	etcd_req_free(&r);
}
END_TEST

/* Every allocation of a decode may fail: -ENOMEM, nothing leaked (ASan in
 * the sanitizer builds), never -EBADMSG. */
START_TEST(test_decode_alloc_failures)
{
	Etcdserverpb__PutRequest pq = ETCDSERVERPB__PUT_REQUEST__INIT;
	pq.key = BIN("p");
	pq.value = BIN("pv");
	Etcdserverpb__RequestOp o_put = ETCDSERVERPB__REQUEST_OP__INIT, o_txn = ETCDSERVERPB__REQUEST_OP__INIT;
	o_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	o_put.request_put = &pq;
	Etcdserverpb__Compare c = ETCDSERVERPB__COMPARE__INIT, *cp = &c;
	c.key = BIN("c");
	Etcdserverpb__TxnRequest inner = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__RequestOp *iops[] = { &o_put };
	inner.n_compare = 1;
	inner.compare = &cp;
	inner.n_success = 1;
	inner.success = iops;
	o_txn.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN;
	o_txn.request_txn = &inner;
	Etcdserverpb__RequestOp *ops[] = { &o_put, &o_txn };
	Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
	t.n_compare = 1;
	t.compare = &cp;
	t.n_failure = 2;
	t.failure = ops;
	size_t n;
	uint8_t *buf = pack(&t.base, &n);
	unsigned long nth;
	for (nth = 1;; nth++) {
		struct etcd_req r;
		alloc_fail_nth(nth);
		int rv = etcd_decode(ETCD_TXN, buf, n, &r, NULL, 0);
		bool failed = alloc_failed();
		alloc_fail_nth(0);
		if (!failed) {
			ck_assert_int_eq(rv, 0);
			ck_assert_uint_eq(r.op.txn->n_failure, 2);
			etcd_req_free(&r);
			break;
		}
		ck_assert_int_eq(rv, -ENOMEM);
		ck_assert_ptr_null(r.priv);
	}
	ck_assert_uint_gt(nth, 8);
	free(buf);
}
END_TEST

/* ---- responses ---- */

static const struct etcd_header hdr = { .cluster_id = 0xc1, .member_id = 0xfedcba9876543210, .revision = 999,
					.raft_term = 7 };

/* The codec's bytes unpack, and protobuf-c packs what it unpacked to the
 * very same bytes: fields in order, zero values left out, as Go writes. */
static ProtobufCMessage *unpack_same(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
	ck_assert_ptr_nonnull(m);
	size_t n;
	uint8_t *again = pack(m, &n);
	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(again, buf, len) == 0);
	free(again);
	return m;
}

static void check_top_header(const Etcdserverpb__ResponseHeader *h, int64_t revision)
{
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->cluster_id, hdr.cluster_id);
	ck_assert_uint_eq(h->member_id, hdr.member_id);
	ck_assert_int_eq(h->revision, revision);
	ck_assert_uint_eq(h->raft_term, hdr.raft_term);
}

static void check_nested_header(const Etcdserverpb__ResponseHeader *h, int64_t revision)
{
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->cluster_id, 0);
	ck_assert_uint_eq(h->member_id, 0);
	ck_assert_int_eq(h->revision, revision);
	ck_assert_uint_eq(h->raft_term, 0);
}

static void check_kv(const Mvccpb__KeyValue *kv, const char *key, const char *value, int64_t create, int64_t mod,
		     int64_t version, int64_t lease)
{
	ck_assert_ptr_nonnull(kv);
	ck_assert(bytes_eq(kv->key.data, kv->key.len, key));
	ck_assert(bytes_eq(kv->value.data, kv->value.len, value));
	ck_assert_int_eq(kv->create_revision, create);
	ck_assert_int_eq(kv->mod_revision, mod);
	ck_assert_int_eq(kv->version, version);
	ck_assert_int_eq(kv->lease, lease);
}

static struct mvcc *store;

static void store_new(void)
{
	store = mvcc_new();
	ck_assert_ptr_nonnull(store);
	/* the leases the responses' puts use (a put needs its lease to exist) */
	for (int64_t id = 1; id <= 9; id++)
		ck_assert_int_eq(mvcc_lease_grant(store, id, 60), 0);
}

static void store_free(void)
{
	store = mvcc_free(store);
}

/* decode a message as the front end does, check, apply */
static void run(enum etcd_kind kind, const ProtobufCMessage *m, struct mvcc_result *res)
{
	struct etcd_req r;
	ck_assert_int_eq(decode_msg(kind, m, &r, NULL), 0);
	ck_assert_int_eq(etcd_check(&r), 0);
	if (kind == ETCD_RANGE)
		ck_assert_int_eq(mvcc_read(store, &r.op.range, res), 0);
	else
		ck_assert_int_eq(mvcc_exec(store, &r.op, res), 0);
	etcd_req_free(&r);
}

static void put(const char *k, const char *v, int64_t lease)
{
	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	p.key = (ProtobufCBinaryData){ strlen(k), (uint8_t *)k };
	p.value = (ProtobufCBinaryData){ strlen(v), (uint8_t *)v };
	p.lease = lease;
	struct mvcc_result res;
	run(ETCD_PUT, &p.base, &res);
	mvcc_result_free(&res);
}

static ProtobufCMessage *encode(enum etcd_kind kind, const struct mvcc_result *res,
				const ProtobufCMessageDescriptor *d)
{
	uint8_t *buf;
	size_t n;
	ck_assert_int_eq(etcd_encode_response(kind, &hdr, res, &buf, &n), 0);
	ProtobufCMessage *m = unpack_same(d, buf, n);
	free(buf);
	return m;
}

START_TEST(test_encode_put)
{
	put("a", "1", 0); /* revision 2 */
	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	p.key = BIN("a");
	p.value = BIN("22");
	p.lease = 5;
	p.prev_kv = true;
	struct mvcc_result res;
	run(ETCD_PUT, &p.base, &res);
	Etcdserverpb__PutResponse *r =
		(Etcdserverpb__PutResponse *)encode(ETCD_PUT, &res, &etcdserverpb__put_response__descriptor);
	check_top_header(r->header, 3);
	check_kv(r->prev_kv, "a", "1", 2, 2, 1, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	/* no prev_kv asked, or none there: no field */
	p.key = BIN("new");
	run(ETCD_PUT, &p.base, &res);
	r = (Etcdserverpb__PutResponse *)encode(ETCD_PUT, &res, &etcdserverpb__put_response__descriptor);
	check_top_header(r->header, 4);
	ck_assert_ptr_null(r->prev_kv);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	/* the header's revision is the result's, not h->revision; a result
	 * of another kind is refused */
	uint8_t *buf;
	size_t n;
	ck_assert_int_eq(etcd_encode_response(ETCD_DELETE, &hdr, &res, &buf, &n), -EINVAL);
	ck_assert_int_eq(etcd_encode_response(ETCD_PUT, &hdr, NULL, &buf, &n), -EINVAL);
	ck_assert_int_eq(etcd_encode_response((enum etcd_kind)'Z', &hdr, &res, &buf, &n), -EINVAL);
}
END_TEST

START_TEST(test_encode_range)
{
	put("a", "1", 0);
	put("b", "", 7);
	put("c", "3", 0);
	put("a", "11", 0); /* revision 5 */
	Etcdserverpb__RangeRequest q = ETCDSERVERPB__RANGE_REQUEST__INIT;
	q.key = BIN("a");
	q.range_end = BIN("\0");
	q.range_end.len = 1;
	q.limit = 2;
	struct mvcc_result res;
	run(ETCD_RANGE, &q.base, &res);
	Etcdserverpb__RangeResponse *r =
		(Etcdserverpb__RangeResponse *)encode(ETCD_RANGE, &res, &etcdserverpb__range_response__descriptor);
	check_top_header(r->header, 5);
	ck_assert_uint_eq(r->n_kvs, 2);
	check_kv(r->kvs[0], "a", "11", 2, 5, 2, 0);
	check_kv(r->kvs[1], "b", "", 3, 3, 1, 7);
	ck_assert(r->more);
	ck_assert_int_eq(r->count, 3);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	/* keys only, in the past: the header has the current revision */
	q.limit = 0;
	q.keys_only = true;
	q.revision = 3;
	run(ETCD_RANGE, &q.base, &res);
	r = (Etcdserverpb__RangeResponse *)encode(ETCD_RANGE, &res, &etcdserverpb__range_response__descriptor);
	check_top_header(r->header, 5);
	ck_assert_uint_eq(r->n_kvs, 2);
	check_kv(r->kvs[0], "a", "", 2, 2, 1, 0);
	check_kv(r->kvs[1], "b", "", 3, 3, 1, 7);
	ck_assert(!r->more);
	ck_assert_int_eq(r->count, 2);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	/* count only; nothing there */
	q.keys_only = false;
	q.count_only = true;
	q.revision = 0;
	run(ETCD_RANGE, &q.base, &res);
	r = (Etcdserverpb__RangeResponse *)encode(ETCD_RANGE, &res, &etcdserverpb__range_response__descriptor);
	ck_assert_uint_eq(r->n_kvs, 0);
	ck_assert_int_eq(r->count, 3);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);
	q.count_only = false;
	q.key = BIN("zz");
	q.range_end.len = 0;
	run(ETCD_RANGE, &q.base, &res);
	r = (Etcdserverpb__RangeResponse *)encode(ETCD_RANGE, &res, &etcdserverpb__range_response__descriptor);
	check_top_header(r->header, 5);
	ck_assert_uint_eq(r->n_kvs, 0);
	ck_assert_int_eq(r->count, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);
}
END_TEST

START_TEST(test_encode_delete_compact)
{
	put("a", "1", 0);
	put("ab", "2", 0);
	put("b", "3", 0); /* revision 4 */
	Etcdserverpb__DeleteRangeRequest d = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	d.key = BIN("a");
	d.range_end = BIN("b");
	d.prev_kv = true;
	struct mvcc_result res;
	run(ETCD_DELETE, &d.base, &res);
	Etcdserverpb__DeleteRangeResponse *r = (Etcdserverpb__DeleteRangeResponse *)encode(
		ETCD_DELETE, &res, &etcdserverpb__delete_range_response__descriptor);
	check_top_header(r->header, 5);
	ck_assert_int_eq(r->deleted, 2);
	ck_assert_uint_eq(r->n_prev_kvs, 2);
	check_kv(r->prev_kvs[0], "a", "1", 2, 2, 1, 0);
	check_kv(r->prev_kvs[1], "ab", "2", 3, 3, 1, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	/* deleting nothing: the revision stays, deleted is left out */
	d.prev_kv = false;
	run(ETCD_DELETE, &d.base, &res);
	r = (Etcdserverpb__DeleteRangeResponse *)encode(ETCD_DELETE, &res,
							 &etcdserverpb__delete_range_response__descriptor);
	check_top_header(r->header, 5);
	ck_assert_int_eq(r->deleted, 0);
	ck_assert_uint_eq(r->n_prev_kvs, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	/* compaction: the header alone, with h's revision */
	uint8_t *buf;
	size_t n;
	ck_assert_int_eq(etcd_encode_response(ETCD_COMPACT, &hdr, NULL, &buf, &n), 0);
	Etcdserverpb__CompactionResponse *c = (Etcdserverpb__CompactionResponse *)unpack_same(
		&etcdserverpb__compaction_response__descriptor, buf, n);
	check_top_header(c->header, hdr.revision);
	protobuf_c_message_free_unpacked(&c->base, NULL);
	free(buf);
	/* a header of zeros is still there (Go writes the empty message) */
	struct etcd_header zero = { 0 };
	ck_assert_int_eq(etcd_encode_response(ETCD_COMPACT, &zero, NULL, &buf, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(memcmp(buf, "\x0a\x00", 2) == 0);
	free(buf);
}
END_TEST

static Etcdserverpb__RequestOp *op_of(int which, void *req)
{
	Etcdserverpb__RequestOp *o = malloc(sizeof(*o));
	ck_assert_ptr_nonnull(o);
	Etcdserverpb__RequestOp init = ETCDSERVERPB__REQUEST_OP__INIT;
	*o = init;
	o->request_case = which;
	switch (which) {
	case 1: o->request_range = req; break;
	case 2: o->request_put = req; break;
	case 3: o->request_delete_range = req; break;
	case 4: o->request_txn = req; break;
	}
	return o;
}

/* Headers inside a txn, as etcd 3.4's apply.go fills them: a range's its
 * own revision (the txn's writes so far included), a put's the new
 * revision, a delete's the revision the txn began at while nothing has
 * changed and it deletes nothing, else the new one; a nested txn's header
 * is empty. The outer header has the txn's revision. */
START_TEST(test_encode_txn)
{
	put("a", "1", 0);
	put("b", "2", 0); /* revision 3 */

	Etcdserverpb__RangeRequest rq = ETCDSERVERPB__RANGE_REQUEST__INIT;
	rq.key = BIN("a");
	rq.range_end = BIN("c");
	Etcdserverpb__DeleteRangeRequest d_none = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	d_none.key = BIN("nothing");
	Etcdserverpb__DeleteRangeRequest d_b = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	d_b.key = BIN("b");
	d_b.prev_kv = true;
	Etcdserverpb__PutRequest p_c = ETCDSERVERPB__PUT_REQUEST__INIT;
	p_c.key = BIN("c");
	p_c.value = BIN("3");
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT, *cmpp = &cmp;
	cmp.key = BIN("a");
	cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
	cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
	cmp.value = BIN("1");
	/* inner txn: fails (a's version is not 9), runs its failure branch:
	 * a range and the delete of nothing */
	Etcdserverpb__Compare icmp = ETCDSERVERPB__COMPARE__INIT, *icmpp = &icmp;
	icmp.key = BIN("a");
	icmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
	icmp.version = 9;
	Etcdserverpb__TxnRequest inner = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__RequestOp *ifail[] = { op_of(1, &rq), op_of(3, &d_none) };
	inner.n_compare = 1;
	inner.compare = &icmpp;
	inner.n_failure = 2;
	inner.failure = ifail;
	/* outer: succeeds; range, delete of nothing (before any change),
	 * delete b, range, delete of nothing (after a change), inner txn,
	 * put c */
	Etcdserverpb__RequestOp *succ[] = { op_of(1, &rq), op_of(3, &d_none), op_of(3, &d_b), op_of(1, &rq),
					    op_of(3, &d_none), op_of(4, &inner), op_of(2, &p_c) };
	Etcdserverpb__TxnRequest t = ETCDSERVERPB__TXN_REQUEST__INIT;
	t.n_compare = 1;
	t.compare = &cmpp;
	t.n_success = 7;
	t.success = succ;

	struct mvcc_result res;
	run(ETCD_TXN, &t.base, &res);
	ck_assert_int_eq(res.revision, 4);
	Etcdserverpb__TxnResponse *r =
		(Etcdserverpb__TxnResponse *)encode(ETCD_TXN, &res, &etcdserverpb__txn_response__descriptor);
	check_top_header(r->header, 4);
	ck_assert(r->succeeded);
	ck_assert_uint_eq(r->n_responses, 7);
	Etcdserverpb__ResponseOp **o = r->responses;
	ck_assert_int_eq(o[0]->response_case, ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE);
	check_nested_header(o[0]->response_range->header, 3);
	ck_assert_uint_eq(o[0]->response_range->n_kvs, 2);
	ck_assert_int_eq(o[0]->response_range->count, 2);
	ck_assert_int_eq(o[1]->response_case, ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE);
	check_nested_header(o[1]->response_delete_range->header, 3);
	ck_assert_int_eq(o[1]->response_delete_range->deleted, 0);
	check_nested_header(o[2]->response_delete_range->header, 4);
	ck_assert_int_eq(o[2]->response_delete_range->deleted, 1);
	ck_assert_uint_eq(o[2]->response_delete_range->n_prev_kvs, 1);
	check_kv(o[2]->response_delete_range->prev_kvs[0], "b", "2", 3, 3, 1, 0);
	check_nested_header(o[3]->response_range->header, 4);
	ck_assert_uint_eq(o[3]->response_range->n_kvs, 1);
	check_nested_header(o[4]->response_delete_range->header, 4);
	ck_assert_int_eq(o[4]->response_delete_range->deleted, 0);
	ck_assert_int_eq(o[5]->response_case, ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN);
	Etcdserverpb__TxnResponse *in = o[5]->response_txn;
	check_nested_header(in->header, 0);
	ck_assert(!in->succeeded);
	ck_assert_uint_eq(in->n_responses, 2);
	check_nested_header(in->responses[0]->response_range->header, 4);
	check_nested_header(in->responses[1]->response_delete_range->header, 4);
	ck_assert_int_eq(o[6]->response_case, ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT);
	check_nested_header(o[6]->response_put->header, 4);
	ck_assert_ptr_null(o[6]->response_put->prev_kv);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	/* read-only and failing: nothing changes, every header has the
	 * current revision, the failure branch is empty */
	cmp.value = BIN("x");
	t.n_success = 1;
	run(ETCD_TXN, &t.base, &res);
	r = (Etcdserverpb__TxnResponse *)encode(ETCD_TXN, &res, &etcdserverpb__txn_response__descriptor);
	check_top_header(r->header, 4);
	ck_assert(!r->succeeded);
	ck_assert_uint_eq(r->n_responses, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);
	cmp.value = BIN("1");
	Etcdserverpb__RequestOp *ro[] = { op_of(1, &rq), op_of(3, &d_none), op_of(4, &inner) };
	t.success = ro;
	t.n_success = 3;
	run(ETCD_TXN, &t.base, &res);
	r = (Etcdserverpb__TxnResponse *)encode(ETCD_TXN, &res, &etcdserverpb__txn_response__descriptor);
	check_top_header(r->header, 4);
	ck_assert(r->succeeded);
	check_nested_header(r->responses[0]->response_range->header, 4);
	check_nested_header(r->responses[1]->response_delete_range->header, 4);
	check_nested_header(r->responses[2]->response_txn->header, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	mvcc_result_free(&res);

	for (size_t i = 0; i < 2; i++)
		free(ifail[i]);
	for (size_t i = 0; i < 7; i++)
		free(succ[i]);
	for (size_t i = 0; i < 3; i++)
		free(ro[i]);
}
END_TEST

/* The bytes of a small put response, as etcd writes them. */
START_TEST(test_encode_bytes)
{
	struct mvcc_result res = { .revision = 300, .op = { .type = MVCC_OP_PUT } };
	struct etcd_header h = { .cluster_id = 1, .member_id = 2, .revision = 5, .raft_term = 3 };
	uint8_t *buf;
	size_t n;
	ck_assert_int_eq(etcd_encode_response(ETCD_PUT, &h, &res, &buf, &n), 0);
	static const uint8_t want[] = { 0x0a, 0x09, 0x08, 0x01, 0x10, 0x02, 0x18, 0xac, 0x02, 0x20, 0x03 };
	ck_assert_uint_eq(n, sizeof(want));
	ck_assert(memcmp(buf, want, n) == 0);
	free(buf);

	/* allocation failure */
	alloc_fail_nth(1);
	ck_assert_int_eq(etcd_encode_response(ETCD_PUT, &h, &res, &buf, &n), -ENOMEM);
	ck_assert(alloc_failed());
	alloc_fail_nth(0);
	ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(test_status_and_ids)
{
	const char *msg;
	ck_assert_int_eq(etcd_status(0, &msg), 0);
	ck_assert_int_eq(etcd_status(-EBADMSG, &msg), 3);
	ck_assert_str_eq(msg, "invalid protobuf");
	ck_assert_int_eq(etcd_status(-MVCC_E_COMPACTED, &msg), 11);
	ck_assert_str_eq(msg, "etcdserver: mvcc: required revision has been compacted");
	ck_assert_int_eq(etcd_status(-MVCC_E_TOO_MANY_OPS, &msg), 3);
	ck_assert_str_eq(msg, "etcdserver: too many operations in txn request");
	ck_assert_int_eq(etcd_status(-MVCC_E_LEASE_NOT_FOUND, &msg), 5);
	ck_assert_int_eq(etcd_status(-ENOMEM, &msg), 8);

	/* FNV-1a 64: the published vectors */
	ck_assert_uint_eq(etcd_member_id("", 0), UINT64_C(0xcbf29ce484222325));
	ck_assert_uint_eq(etcd_member_id("a", 1), UINT64_C(0xaf63dc4c8601ec8c));
	ck_assert_uint_eq(etcd_member_id("foobar", 6), UINT64_C(0x85944171f73967e8));
	ck_assert_uint_ne(etcd_member_id("n1", 2), etcd_member_id("n2", 2));
	ck_assert_uint_eq(etcd_member_id("n1", 2), etcd_member_id("n1x", 2));
}
END_TEST


/* ---- leases ---- */

START_TEST(test_decode_lease)
{
	Etcdserverpb__LeaseGrantRequest g = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseRevokeRequest x = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
	struct etcd_req r;
	uint8_t *msg, *payload;
	size_t n, plen;
	char err[128];

	g.ttl = 60;
	g.id = 0x7fffffffffffffff;
	ck_assert_int_eq(decode_msg(ETCD_LEASE_GRANT, &g.base, &r, NULL), 0);
	ck_assert_int_eq(r.kind, ETCD_LEASE_GRANT);
	ck_assert_int_eq(r.lease_id, 0x7fffffffffffffff);
	ck_assert_int_eq(r.lease_ttl, 60);
	ck_assert_int_eq(etcd_check(&r), 0); /* the store refuses what etcd's lessor refuses */
	etcd_req_free(&r);
	/* a client's grant without an ID, a negative TTL: taken as they are */
	g.id = 0;
	g.ttl = -5;
	ck_assert_int_eq(decode_msg(ETCD_LEASE_GRANT, &g.base, &r, &msg), 0);
	ck_assert_int_eq(r.lease_id, 0);
	ck_assert_int_eq(r.lease_ttl, -5);
	etcd_req_free(&r);
	free(msg);
	x.id = -3;
	ck_assert_int_eq(decode_msg(ETCD_LEASE_REVOKE, &x.base, &r, NULL), 0);
	ck_assert_int_eq(r.kind, ETCD_LEASE_REVOKE);
	ck_assert_int_eq(r.lease_id, -3);
	ck_assert_int_eq(r.lease_ttl, 0);
	ck_assert_int_eq(etcd_check(&r), 0);
	etcd_req_free(&r);

	/* the log payload: a client's message as it is, or built from the
	 * leader's values; both decode as entries to the same values */
	g.id = 42;
	g.ttl = 7;
	msg = pack(&g.base, &n);
	ck_assert_int_eq(etcd_entry_payload(ETCD_LEASE_GRANT, msg, n, &payload, &plen), 0);
	ck_assert_int_eq(payload[0], 'G');
	ck_assert_int_eq(etcd_decode_entry(payload, plen, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.lease_id, 42);
	ck_assert_int_eq(r.lease_ttl, 7);
	etcd_req_free(&r);
	uint8_t *built;
	size_t blen;
	ck_assert_int_eq(etcd_lease_payload(ETCD_LEASE_GRANT, 42, 7, &built, &blen), 0);
	ck_assert_uint_eq(blen, plen);
	ck_assert(!memcmp(built, payload, plen)); /* the same bytes as Go's encoder */
	free(built);
	free(payload);
	free(msg);
	ck_assert_int_eq(etcd_lease_payload(ETCD_LEASE_REVOKE, -9, 123, &built, &blen), 0);
	ck_assert_int_eq(built[0], 'X');
	ck_assert_int_eq(etcd_decode_entry(built, blen, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.kind, ETCD_LEASE_REVOKE);
	ck_assert_int_eq(r.lease_id, -9);
	ck_assert_int_eq(r.lease_ttl, 0);
	etcd_req_free(&r);
	free(built);
	ck_assert_int_eq(etcd_lease_payload(ETCD_PUT, 1, 1, &built, &blen), -EINVAL);
	ck_assert_ptr_null(built);

	/* invalid protobuf: a TTL of the wrong wire type, a truncated varint */
	static const uint8_t wrong[] = { 0x0a, 0x01, 0x05 }, cut[] = { 0x08, 0xff };
	ck_assert_int_eq(etcd_decode(ETCD_LEASE_GRANT, wrong, sizeof(wrong), &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "invalid protobuf: LeaseGrantRequest");
	ck_assert_ptr_null(r.priv);
	ck_assert_int_eq(etcd_decode(ETCD_LEASE_REVOKE, cut, sizeof(cut), &r, err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err, "invalid protobuf: LeaseRevokeRequest");
	uint8_t entry[] = { 'X', 0x08, 0xff };
	ck_assert_int_eq(etcd_decode_entry(entry, sizeof(entry), &r, err, sizeof(err)), -EBADMSG);
	/* allocation failures: -ENOMEM, never -EBADMSG */
	x.id = 5;
	msg = pack(&x.base, &n);
	int rv = -ENOMEM;
	for (unsigned long nth = 1; rv == -ENOMEM; nth++) {
		alloc_fail_nth(nth);
		rv = etcd_decode(ETCD_LEASE_REVOKE, msg, n, &r, err, sizeof(err));
		alloc_fail_nth(0);
		ck_assert(rv == 0 || rv == -ENOMEM);
		if (rv == 0)
			ck_assert_int_eq(r.lease_id, 5);
		etcd_req_free(&r);
	}
	free(msg);
}
END_TEST

START_TEST(test_lease_responses)
{
	struct etcd_header h = { .cluster_id = 1, .member_id = 2, .revision = 3, .raft_term = 4 };
	uint8_t *buf;
	size_t n;

	ck_assert_int_eq(etcd_lease_grant_response(&h, 0x1234, 60, &buf, &n), 0);
	Etcdserverpb__LeaseGrantResponse *g = etcdserverpb__lease_grant_response__unpack(NULL, n, buf);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(g->id, 0x1234);
	ck_assert_int_eq(g->ttl, 60);
	ck_assert_str_eq(g->error, "");
	ck_assert_int_eq(g->header->revision, 3);
	ck_assert_int_eq(g->header->member_id, 2);
	etcdserverpb__lease_grant_response__free_unpacked(g, NULL);
	free(buf);
	/* a revoke's header carries the store's revision after it */
	struct mvcc_result res = { .revision = 9, .op.type = MVCC_OP_DELETE };
	ck_assert_int_eq(etcd_encode_response(ETCD_LEASE_REVOKE, &h, &res, &buf, &n), 0);
	Etcdserverpb__LeaseRevokeResponse *x = etcdserverpb__lease_revoke_response__unpack(NULL, n, buf);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->header->revision, 9);
	ck_assert_int_eq(x->header->raft_term, 4);
	etcdserverpb__lease_revoke_response__free_unpacked(x, NULL);
	free(buf);
	ck_assert_int_eq(etcd_encode_response(ETCD_LEASE_REVOKE, &h, NULL, &buf, &n), 0);
	x = etcdserverpb__lease_revoke_response__unpack(NULL, n, buf);
	ck_assert_int_eq(x->header->revision, 3);
	etcdserverpb__lease_revoke_response__free_unpacked(x, NULL);
	free(buf);
	/* a grant's answer needs its ID and TTL: not from a store result */
	ck_assert_int_eq(etcd_encode_response(ETCD_LEASE_GRANT, &h, &res, &buf, &n), -EINVAL);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("etcd");
	TCase *req = tcase_create("requests");
	tcase_add_test(req, test_decode_lease);
	tcase_add_test(req, test_lease_responses);
	tcase_add_test(req, test_decode_put);
	tcase_add_test(req, test_decode_delete_compact);
	tcase_add_test(req, test_decode_range);
	tcase_add_test(req, test_decode_compares);
	tcase_add_test(req, test_decode_nested_txn);
	tcase_add_test(req, test_nesting_bound);
	tcase_add_test(req, test_bad_bytes);
	tcase_add_test(req, test_unknown_compare_enums);
	tcase_add_test(req, test_entry_payload);
	tcase_add_test(req, test_log_entry_round_trip);
	tcase_add_test(req, test_check_limits);
	tcase_add_test(req, test_decode_alloc_failures);
	suite_add_tcase(s, req);
	TCase *resp = tcase_create("responses");
	tcase_add_checked_fixture(resp, store_new, store_free);
	tcase_add_test(resp, test_encode_put);
	tcase_add_test(resp, test_encode_range);
	tcase_add_test(resp, test_encode_delete_compact);
	tcase_add_test(resp, test_encode_txn);
	tcase_add_test(resp, test_encode_bytes);
	tcase_add_test(resp, test_status_and_ids);
	suite_add_tcase(s, resp);
	return s;
}
