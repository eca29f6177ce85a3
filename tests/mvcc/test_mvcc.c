/* tests/mvcc/test_mvcc.c — the MVCC store (src/mvcc/mvcc.h): each of etcd's
 * rules, the key index, snapshots, allocation failures, and a randomized
 * run against the reference model (tests/mvcc/model.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "src/mvcc/mvcc.h"
#include "tests/lib/check_main.h"
#include "tests/mvcc/model.h"

static struct mvcc *s;
static struct mvcc_result res;

static void setup(void)
{
	s = mvcc_new();
	ck_assert_ptr_nonnull(s);
	memset(&res, 0, sizeof(res));
}

static void teardown(void)
{
	mvcc_result_free(&res);
	ck_assert_int_eq(mvcc_index_check(s), 0);
	s = mvcc_free(s);
}

#define FROM_KEY "\0", 1
#define NO_END NULL, 0

static struct mvcc_op put_op(const char *k, const char *v)
{
	return (struct mvcc_op){ .type = MVCC_OP_PUT,
				 .put = { .key = k, .key_len = strlen(k), .value = v, .value_len = v ? strlen(v) : 0 } };
}

static struct mvcc_op del_op(const char *k, const char *end, size_t end_len)
{
	return (struct mvcc_op){ .type = MVCC_OP_DELETE,
				 .del = { .key = k, .key_len = strlen(k), .end = end, .end_len = end_len } };
}

static struct mvcc_op range_op(const char *k, const char *end, size_t end_len)
{
	return (struct mvcc_op){ .type = MVCC_OP_RANGE,
				 .range = { .key = k, .key_len = strlen(k), .end = end, .end_len = end_len } };
}

/* Runs op; res holds the answer until the next call. */
static int exec(const struct mvcc_op *op)
{
	mvcc_result_free(&res);
	return mvcc_exec(s, op, &res);
}

static int64_t put(const char *k, const char *v)
{
	struct mvcc_op op = put_op(k, v);
	ck_assert_int_eq(exec(&op), 0);
	return res.revision;
}

static int64_t del(const char *k, const char *end, size_t end_len)
{
	struct mvcc_op op = del_op(k, end, end_len);
	ck_assert_int_eq(exec(&op), 0);
	return res.op.del.deleted;
}

/* mvcc_read() into res, the previous answer freed first */
static int read_raw(const struct mvcc_range_req *req)
{
	mvcc_result_free(&res);
	return mvcc_read(s, req, &res);
}

static const struct mvcc_range_resp *get_req(const struct mvcc_range_req *req)
{
	mvcc_result_free(&res);
	int rv = mvcc_read(s, req, &res);
	ck_assert_msg(rv == 0, "read: %s", mvcc_strerror(rv));
	return &res.op.range;
}

static const struct mvcc_range_resp *get_at(const char *k, const char *end, size_t end_len, int64_t rev)
{
	struct mvcc_range_req req = { .key = k, .key_len = strlen(k), .end = end, .end_len = end_len, .revision = rev };
	return get_req(&req);
}

static const struct mvcc_kv *get1(const char *k, int64_t rev)
{
	const struct mvcc_range_resp *r = get_at(k, NO_END, rev);
	return r->n_kvs ? &r->kvs[0] : NULL;
}

static void assert_kv(const struct mvcc_kv *kv, const char *k, const char *v, int64_t create, int64_t mod,
		      int64_t version)
{
	ck_assert_ptr_nonnull(kv);
	ck_assert_int_eq(kv->key_len, strlen(k));
	ck_assert(!memcmp(kv->key, k, kv->key_len));
	if (v) {
		ck_assert_int_eq(kv->value_len, strlen(v));
		ck_assert(!kv->value_len || !memcmp(kv->value, v, kv->value_len));
	}
	ck_assert_int_eq(kv->create_revision, create);
	ck_assert_int_eq(kv->mod_revision, mod);
	ck_assert_int_eq(kv->version, version);
}

/* The keys of a range answer, joined by ',' */
static const char *keys_of(const struct mvcc_range_resp *r)
{
	static char buf[1024];
	size_t w = 0;
	buf[0] = 0;
	for (size_t i = 0; i < r->n_kvs; i++)
		w += (size_t)snprintf(buf + w, sizeof(buf) - w, "%s%.*s", i ? "," : "", (int)r->kvs[i].key_len,
				      (const char *)r->kvs[i].key);
	return buf;
}

/* ---- revisions and versions ---- */

START_TEST(test_revisions)
{
	ck_assert_int_eq(mvcc_revision(s), 1);
	ck_assert_int_eq(mvcc_compacted(s), -1);
	ck_assert_ptr_null(get1("a", 0));
	ck_assert_int_eq(res.revision, 1);

	ck_assert_int_eq(put("a", "1"), 2);
	assert_kv(get1("a", 0), "a", "1", 2, 2, 1);
	ck_assert_int_eq(put("a", "2"), 3);
	assert_kv(get1("a", 0), "a", "2", 2, 3, 2);
	ck_assert_int_eq(del("a", NO_END), 1);
	ck_assert_int_eq(res.revision, 4);
	ck_assert_ptr_null(get1("a", 0));
	ck_assert_int_eq(put("a", "3"), 5); /* a new generation */
	assert_kv(get1("a", 0), "a", "3", 5, 5, 1);

	/* history: every past revision reads as it was */
	ck_assert_ptr_null(get1("a", 1));
	assert_kv(get1("a", 2), "a", "1", 2, 2, 1);
	assert_kv(get1("a", 3), "a", "2", 2, 3, 2);
	ck_assert_ptr_null(get1("a", 4));
	ck_assert_int_eq(res.revision, 5); /* the header says the current revision */
	ck_assert_int_eq(res.op.range.revision, 5);
	ck_assert_int_eq(mvcc_count(s), 1);
	ck_assert_int_eq(mvcc_versions(s), 4);

	/* a delete of nothing is no write */
	ck_assert_int_eq(del("zz", NO_END), 0);
	ck_assert_int_eq(res.revision, 5);
	ck_assert_int_eq(mvcc_revision(s), 5);
}
END_TEST

START_TEST(test_future_and_compacted)
{
	put("a", "1");
	put("a", "2");
	put("a", "3");
	struct mvcc_range_req req = { .key = "a", .key_len = 1, .revision = 5 };
	ck_assert_int_eq(read_raw(&req), -MVCC_E_FUTURE_REV);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_FUTURE_REV), "etcdserver: mvcc: required revision is a future revision");
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_FUTURE_REV), 11);
	ck_assert_int_eq(mvcc_compact(s, 5), -MVCC_E_FUTURE_REV);
	ck_assert_int_eq(mvcc_compact(s, 3), 0);
	req.revision = 2;
	ck_assert_int_eq(read_raw(&req), -MVCC_E_COMPACTED);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_COMPACTED), "etcdserver: mvcc: required revision has been compacted");
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_COMPACTED), 11);
	assert_kv(get1("a", 3), "a", "2", 2, 3, 2); /* at the compaction itself: kept */
	assert_kv(get1("a", 4), "a", "3", 2, 4, 3);
	ck_assert_int_eq(mvcc_compact(s, 3), -MVCC_E_COMPACTED);
	ck_assert_int_eq(mvcc_compact(s, 2), -MVCC_E_COMPACTED);
	/* a negative revision reads the current one (etcd: rev <= 0) */
	req.revision = -7;
	ck_assert_int_eq(read_raw(&req), 0);
	ck_assert_int_eq(res.op.range.n_kvs, 1);
	ck_assert_int_eq(res.op.range.kvs[0].version, 3);
}
END_TEST

/* ---- put ---- */

START_TEST(test_put_prev_kv)
{
	struct mvcc_op op = put_op("k", "v1");
	op.put.prev_kv = true;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert(!res.op.put.has_prev);
	op.put.value = "v2";
	ck_assert_int_eq(exec(&op), 0);
	ck_assert(res.op.put.has_prev);
	assert_kv(&res.op.put.prev, "k", "v1", 2, 2, 1);
	op.put.prev_kv = false;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert(!res.op.put.has_prev);
}
END_TEST

START_TEST(test_put_ignore)
{
	struct mvcc_op op = put_op("k", NULL);
	op.put.ignore_value = true;
	ck_assert_int_eq(mvcc_check(&op, 0), 0);
	ck_assert_int_eq(exec(&op), -MVCC_E_KEY_NOT_FOUND); /* needs the key */
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_KEY_NOT_FOUND), "etcdserver: key not found");
	ck_assert_int_eq(mvcc_revision(s), 1);
	op.put.ignore_value = false;
	op.put.ignore_lease = true;
	ck_assert_int_eq(exec(&op), -MVCC_E_KEY_NOT_FOUND);

	ck_assert_int_eq(mvcc_lease_grant(s, 77, 60), 0);
	ck_assert_int_eq(mvcc_lease_grant(s, 78, 60), 0);
	op = put_op("k", "val");
	op.put.lease = 77;
	ck_assert_int_eq(exec(&op), 0);
	/* ignore_value keeps the value, takes the new lease */
	op = put_op("k", NULL);
	op.put.ignore_value = true;
	op.put.lease = 78;
	ck_assert_int_eq(exec(&op), 0);
	const struct mvcc_kv *kv = get1("k", 0);
	assert_kv(kv, "k", "val", 2, 3, 2);
	ck_assert_int_eq(kv->lease, 78);
	/* ignore_lease keeps the lease, takes the new value */
	op = put_op("k", "new");
	op.put.ignore_lease = true;
	ck_assert_int_eq(exec(&op), 0);
	kv = get1("k", 0);
	assert_kv(kv, "k", "new", 2, 4, 3);
	ck_assert_int_eq(kv->lease, 78);
	/* a plain put drops the lease */
	put("k", "x");
	ck_assert_int_eq(get1("k", 0)->lease, 0);

	/* value or lease given with ignore_*: refused before anything */
	op = put_op("k", "v");
	op.put.ignore_value = true;
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_VALUE_PROVIDED);
	ck_assert_int_eq(exec(&op), -MVCC_E_VALUE_PROVIDED);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_VALUE_PROVIDED), "etcdserver: value is provided");
	op = put_op("k", NULL);
	op.put.ignore_lease = true;
	op.put.lease = 5;
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_LEASE_PROVIDED);
	ck_assert_int_eq(exec(&op), -MVCC_E_LEASE_PROVIDED);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_LEASE_PROVIDED), "etcdserver: lease is provided");
	ck_assert_int_eq(mvcc_revision(s), 5);
}
END_TEST

START_TEST(test_empty_key)
{
	struct mvcc_op op = put_op("", "v");
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_EMPTY_KEY);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_EMPTY_KEY), "etcdserver: key is not provided");
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_EMPTY_KEY), 3);
	op = del_op("", NO_END);
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_EMPTY_KEY);
	op = range_op("", NO_END);
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_EMPTY_KEY);
	/* the store itself takes any byte string (goraft's keys go in as they are) */
	ck_assert_int_eq(put("", "empty"), 2);
	assert_kv(get1("", 0), "", "empty", 2, 2, 1);
}
END_TEST

static int64_t known_lease;
static bool lease_exists(void *ctx, int64_t lease)
{
	(void)ctx;
	return lease == known_lease;
}

START_TEST(test_lease_check)
{
	for (int64_t id = 8; id <= 10; id++)
		ck_assert_int_eq(mvcc_lease_grant(s, id, 60), 0);
	known_lease = 9;
	mvcc_set_lease_check(s, lease_exists, NULL);
	struct mvcc_op op = put_op("k", "v");
	op.put.lease = 8;
	ck_assert_int_eq(exec(&op), -MVCC_E_LEASE_NOT_FOUND);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_LEASE_NOT_FOUND), "etcdserver: requested lease not found");
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_LEASE_NOT_FOUND), 5);
	op.put.lease = 9;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_int_eq(get1("k", 0)->lease, 9);
	/* ignore_lease keeps a lease without asking */
	known_lease = 10;
	op = put_op("k", "w");
	op.put.ignore_lease = true;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_int_eq(get1("k", 0)->lease, 9);
}
END_TEST

/* ---- delete ---- */

START_TEST(test_delete_range)
{
	put("a", "1");
	put("b", "2");
	put("c", "3");
	put("d", "4");
	struct mvcc_op op = del_op("b", "d", 1);
	op.del.prev_kv = true;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_int_eq(res.op.del.deleted, 2);
	ck_assert_int_eq(res.op.del.n_prev, 2);
	assert_kv(&res.op.del.prev_kvs[0], "b", "2", 3, 3, 1);
	assert_kv(&res.op.del.prev_kvs[1], "c", "3", 4, 4, 1);
	ck_assert_int_eq(res.revision, 6); /* one revision for both */
	ck_assert_str_eq(keys_of(get_at("a", FROM_KEY, 0)), "a,d");
	/* from a key to the end */
	ck_assert_int_eq(del("b", FROM_KEY), 1);
	ck_assert_str_eq(keys_of(get_at("a", FROM_KEY, 0)), "a");
	/* an empty interval */
	ck_assert_int_eq(del("z", "a", 1), 0);
	ck_assert_int_eq(mvcc_revision(s), 7);
	/* history still sees them */
	ck_assert_str_eq(keys_of(get_at("a", FROM_KEY, 5)), "a,b,c,d");
}
END_TEST

/* ---- range ---- */

START_TEST(test_range_intervals)
{
	put("a", "1");
	put("ab", "2");
	put("abc", "3");
	put("b", "4");
	put("a\xff", "5");
	ck_assert_str_eq(keys_of(get_at("a", "b", 1, 0)), "a,ab,abc,a\xff");
	ck_assert_str_eq(keys_of(get_at("ab", "ac", 2, 0)), "ab,abc"); /* prefix "ab" */
	ck_assert_str_eq(keys_of(get_at("ab", FROM_KEY, 0)), "ab,abc,a\xff,b");
	ck_assert_str_eq(keys_of(get_at("\x01", FROM_KEY, 0)), "a,ab,abc,a\xff,b");
	ck_assert_str_eq(keys_of(get_at("b", "a", 1, 0)), ""); /* end before key */
	ck_assert_str_eq(keys_of(get_at("ab", NO_END, 0)), "ab");
	ck_assert_str_eq(keys_of(get_at("zz", FROM_KEY, 0)), "");
	ck_assert_int_eq(get_at("a", "b", 1, 0)->count, 4);
}
END_TEST

START_TEST(test_prefix_end)
{
	uint8_t buf[8];
	ck_assert_int_eq(mvcc_prefix_end("ab", 2, buf), 2);
	ck_assert(!memcmp(buf, "ac", 2));
	ck_assert_int_eq(mvcc_prefix_end("a\xff\xff", 3, buf), 1);
	ck_assert(!memcmp(buf, "b", 1));
	ck_assert_int_eq(mvcc_prefix_end("\xff\xff", 2, buf), 1);
	ck_assert_int_eq(buf[0], 0);
	ck_assert_int_eq(mvcc_prefix_end(NULL, 0, buf), 1);
	ck_assert_int_eq(buf[0], 0);
	put("a/1", "x");
	put("a/2", "y");
	put("a0", "z");
	put("\xff\xff", "w");
	size_t n = mvcc_prefix_end("a/", 2, buf);
	ck_assert_str_eq(keys_of(get_at("a/", (const char *)buf, n, 0)), "a/1,a/2");
	n = mvcc_prefix_end("\xff", 1, buf);
	ck_assert_str_eq(keys_of(get_at("\xff", (const char *)buf, n, 0)), "\xff\xff");
}
END_TEST

START_TEST(test_range_limit_sort)
{
	/* d:1 version 1, c: version 3, b: version 2, a: version 1 */
	put("d", "x");
	put("c", "z");
	put("b", "y");
	put("c", "w");
	put("b", "v");
	put("c", "u");
	put("a", "zz");
	struct mvcc_range_req req = { .key = "a", .key_len = 1, .end = "\0", .end_len = 1 };

	req.limit = 2;
	const struct mvcc_range_resp *r = get_req(&req);
	ck_assert_str_eq(keys_of(r), "a,b");
	ck_assert(r->more);
	ck_assert_int_eq(r->count, 4);
	req.limit = 4;
	r = get_req(&req);
	ck_assert(!r->more);
	ck_assert_int_eq(r->n_kvs, 4);

	req.limit = 0;
	req.sort_order = MVCC_SORT_DESCEND;
	ck_assert_str_eq(keys_of(get_req(&req)), "d,c,b,a");
	req.sort_target = MVCC_SORT_VERSION;
	/* ties (a, d) in ascending key order, as etcd's stable reverse sort
	 * leaves them (etcdctl get --sort-by=VERSION --order=DESCEND) */
	ck_assert_str_eq(keys_of(get_req(&req)), "c,b,a,d");
	req.sort_order = MVCC_SORT_NONE;		       /* NONE with a target other than KEY: ascending */
	ck_assert_str_eq(keys_of(get_req(&req)), "a,d,b,c");
	req.sort_order = MVCC_SORT_ASCEND;
	req.sort_target = MVCC_SORT_CREATE;
	ck_assert_str_eq(keys_of(get_req(&req)), "d,c,b,a");
	req.sort_target = MVCC_SORT_MOD;
	req.sort_order = MVCC_SORT_DESCEND;
	ck_assert_str_eq(keys_of(get_req(&req)), "a,c,b,d");
	req.sort_target = MVCC_SORT_VALUE;
	req.sort_order = MVCC_SORT_ASCEND;
	ck_assert_str_eq(keys_of(get_req(&req)), "c,b,d,a"); /* u, v, x, zz */
	req.keys_only = true;				     /* sorts by value, answers without */
	r = get_req(&req);
	ck_assert_str_eq(keys_of(r), "c,b,d,a");
	ck_assert_ptr_null(r->kvs[0].value);
	ck_assert_int_eq(r->kvs[0].value_len, 0);
	/* limit after sorting */
	req.limit = 1;
	r = get_req(&req);
	ck_assert_str_eq(keys_of(r), "c");
	ck_assert(r->more);
	ck_assert_int_eq(r->count, 4);

	req.sort_order = 3;
	ck_assert_int_eq(read_raw(&req), -MVCC_E_INVALID_SORT);
	struct mvcc_op op = { .type = MVCC_OP_RANGE, .range = req };
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_INVALID_SORT);
	req.sort_order = MVCC_SORT_NONE;
	req.sort_target = 5;
	ck_assert_int_eq(read_raw(&req), -MVCC_E_INVALID_SORT);
}
END_TEST

START_TEST(test_range_only_and_filters)
{
	put("a", "1"); /* 2 */
	put("b", "2"); /* 3 */
	put("c", "3"); /* 4 */
	put("a", "4"); /* 5: a create 2 mod 5 */
	struct mvcc_range_req req = { .key = "a", .key_len = 1, .end = "\0", .end_len = 1, .count_only = true };
	const struct mvcc_range_resp *r = get_req(&req);
	ck_assert_int_eq(r->count, 3);
	ck_assert_int_eq(r->n_kvs, 0);
	ck_assert(!r->more);
	req.count_only = false;
	req.keys_only = true;
	r = get_req(&req);
	ck_assert_str_eq(keys_of(r), "a,b,c");
	for (size_t i = 0; i < 3; i++)
		ck_assert(r->kvs[i].value == NULL && r->kvs[i].value_len == 0);
	req.keys_only = false;
	req.min_mod = 4;
	r = get_req(&req);
	ck_assert_str_eq(keys_of(r), "a,c");
	ck_assert_int_eq(r->count, 3); /* etcd counts before the filters */
	req.min_mod = 0;
	req.max_mod = 3;
	ck_assert_str_eq(keys_of(get_req(&req)), "b");
	req.max_mod = 0;
	req.min_create = 3;
	ck_assert_str_eq(keys_of(get_req(&req)), "b,c");
	req.min_create = 0;
	req.max_create = 2;
	ck_assert_str_eq(keys_of(get_req(&req)), "a");
	/* a filter and a limit: more counts what the filter left */
	req.max_create = 0;
	req.min_mod = 3;
	req.limit = 1;
	r = get_req(&req);
	ck_assert_str_eq(keys_of(r), "a");
	ck_assert(r->more);
	req.limit = 3;
	ck_assert(!get_req(&req)->more);
}
END_TEST

/* ---- txn ---- */

static struct mvcc_compare cmp_num(const char *k, enum mvcc_cmp_target t, enum mvcc_cmp_result r, int64_t n)
{
	return (struct mvcc_compare){ .target = t, .result = r, .key = k, .key_len = strlen(k), .number = n };
}

static struct mvcc_compare cmp_val(const char *k, enum mvcc_cmp_result r, const char *v)
{
	return (struct mvcc_compare){
		.target = MVCC_CMP_VALUE, .result = r, .key = k, .key_len = strlen(k), .value = v, .value_len = strlen(v)
	};
}

/* Does a txn with this one compare take its success branch? */
static bool holds(struct mvcc_compare c)
{
	struct mvcc_txn_req t = { .compare = &c, .n_compare = 1 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	int64_t rev = mvcc_revision(s);
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_int_eq(res.revision, rev); /* read-only: no new revision */
	return res.op.txn->succeeded;
}

START_TEST(test_txn_compares)
{
	put("a", "m");	     /* 2 */
	put("a", "n");	     /* 3: a create 2, mod 3, version 2 */
	ck_assert_int_eq(mvcc_lease_grant(s, 42, 60), 0);
	struct mvcc_op op = put_op("l", "x");
	op.put.lease = 42;
	ck_assert_int_eq(exec(&op), 0); /* 4 */

	ck_assert(holds(cmp_num("a", MVCC_CMP_VERSION, MVCC_CMP_EQUAL, 2)));
	ck_assert(!holds(cmp_num("a", MVCC_CMP_VERSION, MVCC_CMP_EQUAL, 1)));
	ck_assert(holds(cmp_num("a", MVCC_CMP_VERSION, MVCC_CMP_NOT_EQUAL, 1)));
	ck_assert(holds(cmp_num("a", MVCC_CMP_VERSION, MVCC_CMP_GREATER, 1)));
	ck_assert(!holds(cmp_num("a", MVCC_CMP_VERSION, MVCC_CMP_GREATER, 2)));
	ck_assert(holds(cmp_num("a", MVCC_CMP_VERSION, MVCC_CMP_LESS, 3)));
	ck_assert(!holds(cmp_num("a", MVCC_CMP_VERSION, MVCC_CMP_LESS, 2)));
	ck_assert(holds(cmp_num("a", MVCC_CMP_CREATE, MVCC_CMP_EQUAL, 2)));
	ck_assert(holds(cmp_num("a", MVCC_CMP_MOD, MVCC_CMP_EQUAL, 3)));
	ck_assert(holds(cmp_num("a", MVCC_CMP_MOD, MVCC_CMP_GREATER, 2)));
	ck_assert(holds(cmp_num("l", MVCC_CMP_LEASE, MVCC_CMP_EQUAL, 42)));
	ck_assert(holds(cmp_num("a", MVCC_CMP_LEASE, MVCC_CMP_EQUAL, 0)));
	ck_assert(holds(cmp_val("a", MVCC_CMP_EQUAL, "n")));
	ck_assert(holds(cmp_val("a", MVCC_CMP_GREATER, "m")));
	ck_assert(holds(cmp_val("a", MVCC_CMP_LESS, "nn")));
	ck_assert(holds(cmp_val("a", MVCC_CMP_NOT_EQUAL, "x")));
	/* a missing key: create/mod/version/lease compare as 0 ("does not
	 * exist" is create_revision = 0), a value compare fails */
	ck_assert(holds(cmp_num("zz", MVCC_CMP_CREATE, MVCC_CMP_EQUAL, 0)));
	ck_assert(holds(cmp_num("zz", MVCC_CMP_VERSION, MVCC_CMP_LESS, 1)));
	ck_assert(!holds(cmp_val("zz", MVCC_CMP_EQUAL, "")));
	ck_assert(!holds(cmp_val("zz", MVCC_CMP_NOT_EQUAL, "x")));

	/* ranges: every key must hold */
	struct mvcc_compare c = cmp_num("a", MVCC_CMP_MOD, MVCC_CMP_GREATER, 2);
	c.end = "m";
	c.end_len = 1;
	ck_assert(holds(c)); /* a (3), l (4) */
	c.number = 3;
	ck_assert(!holds(c)); /* a is 3 */
	c.end = "\0";
	c.key = "b";
	ck_assert(holds(c)); /* only l */
	c = cmp_val("a", MVCC_CMP_EQUAL, "n");
	c.end = "\0";
	c.end_len = 1;
	ck_assert(!holds(c)); /* l is x */
	c.key = "x";
	ck_assert(!holds(c)); /* no key: a value compare fails */
	c = cmp_num("x", MVCC_CMP_VERSION, MVCC_CMP_EQUAL, 0);
	c.end = "\0";
	c.end_len = 1;
	ck_assert(holds(c));
}
END_TEST

static struct mvcc_version seen[8];
static size_t n_seen;
static int collect(void *ctx, const struct mvcc_version *v)
{
	(void)ctx;
	if (n_seen < 8)
		seen[n_seen] = *v;
	n_seen++;
	return 0;
}

START_TEST(test_txn_one_revision)
{
	put("gone", "g");	   /* 2 */
	struct mvcc_op ops[] = {
		put_op("x", "1"), put_op("y", "2"), range_op("x", "z", 1), del_op("gone", NO_END), range_op("g", "h", 1),
	};
	struct mvcc_compare c = cmp_num("x", MVCC_CMP_CREATE, MVCC_CMP_EQUAL, 0);
	struct mvcc_txn_req t = { .compare = &c, .n_compare = 1, .success = ops, .n_success = 5 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_int_eq(res.revision, 3);
	ck_assert(res.op.txn->succeeded);
	ck_assert_int_eq(res.op.txn->n_resps, 5);
	/* the range sees the txn's own puts */
	const struct mvcc_range_resp *r = &res.op.txn->resps[2].range;
	ck_assert_str_eq(keys_of(r), "x,y");
	ck_assert_int_eq(r->revision, 3); /* its header: the txn's revision, as etcd */
	assert_kv(&r->kvs[0], "x", "1", 3, 3, 1);
	assert_kv(&r->kvs[1], "y", "2", 3, 3, 1);
	ck_assert_int_eq(res.op.txn->resps[3].del.deleted, 1);
	ck_assert_int_eq(res.op.txn->resps[4].range.n_kvs, 0); /* and its delete */
	ck_assert_int_eq(mvcc_revision(s), 3);

	/* sub-revisions, in order, in the snapshot's view */
	n_seen = 0;
	ck_assert_int_eq(mvcc_iter_versions(s, collect, NULL), 0);
	size_t n = n_seen;
	ck_assert_int_eq(n, 4); /* gone@2, gone@3 tombstone, x@3, y@3 */
	ck_assert_int_eq(seen[1].mod_revision, 3);
	ck_assert_int_eq(seen[1].version, 0);
	ck_assert_int_eq(seen[1].sub, 2);
	ck_assert_int_eq(seen[2].sub, 0);
	ck_assert_int_eq(seen[3].sub, 1);

	/* the failure branch */
	ck_assert_int_eq(exec(&op), 0);
	ck_assert(!res.op.txn->succeeded);
	ck_assert_int_eq(res.op.txn->n_resps, 0);
	ck_assert_int_eq(res.revision, 3);
}
END_TEST

START_TEST(test_txn_nested)
{
	put("k", "0"); /* 2 */
	/* outer: k version 1 → put k, then inner: compare k version 1 (decided
	 * before the outer put, as etcd: compareToPath) → put m */
	struct mvcc_compare ci = cmp_num("k", MVCC_CMP_VERSION, MVCC_CMP_EQUAL, 1);
	struct mvcc_op inner_ops[] = { put_op("m", "in") };
	struct mvcc_op inner_else[] = { put_op("m", "else") };
	struct mvcc_txn_req inner = {
		.compare = &ci, .n_compare = 1, .success = inner_ops, .n_success = 1, .failure = inner_else, .n_failure = 1
	};
	struct mvcc_op outer_ops[] = { put_op("k", "1"), { .type = MVCC_OP_TXN, .txn = &inner } };
	struct mvcc_compare co = cmp_num("k", MVCC_CMP_VERSION, MVCC_CMP_EQUAL, 1);
	struct mvcc_txn_req outer = { .compare = &co, .n_compare = 1, .success = outer_ops, .n_success = 2 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &outer };
	ck_assert_int_eq(mvcc_check(&op, 0), 0);
	ck_assert_int_eq(exec(&op), 0);
	ck_assert(res.op.txn->succeeded);
	ck_assert_int_eq(res.op.txn->resps[1].type, MVCC_OP_TXN);
	ck_assert(res.op.txn->resps[1].txn->succeeded);
	ck_assert_int_eq(res.revision, 3);
	assert_kv(get1("m", 0), "m", "in", 3, 3, 1);
	assert_kv(get1("k", 0), "k", "1", 2, 3, 2);
}
END_TEST

START_TEST(test_txn_duplicates)
{
	struct mvcc_op two_puts[] = { put_op("a", "1"), put_op("a", "2") };
	struct mvcc_txn_req t = { .success = two_puts, .n_success = 2 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_DUPLICATE_KEY);
	ck_assert_int_eq(exec(&op), -MVCC_E_DUPLICATE_KEY);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_DUPLICATE_KEY), "etcdserver: duplicate key given in txn request");
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_DUPLICATE_KEY), 3);
	ck_assert_int_eq(mvcc_revision(s), 1);

	/* the same key in success and failure: fine */
	t = (struct mvcc_txn_req){ .success = two_puts, .n_success = 1, .failure = two_puts + 1, .n_failure = 1 };
	ck_assert_int_eq(mvcc_check(&op, 0), 0);

	/* a put inside a delete's interval */
	struct mvcc_op put_del[] = { del_op("a", "c", 1), put_op("b", "1") };
	t = (struct mvcc_txn_req){ .success = put_del, .n_success = 2 };
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_DUPLICATE_KEY);
	put_del[0] = del_op("b", NO_END);
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_DUPLICATE_KEY);
	put_del[0] = del_op("c", "d", 1);
	ck_assert_int_eq(mvcc_check(&op, 0), 0);
	/* two overlapping deletes: fine */
	struct mvcc_op dels[] = { del_op("a", "c", 1), del_op("b", "d", 1) };
	t = (struct mvcc_txn_req){ .success = dels, .n_success = 2 };
	ck_assert_int_eq(mvcc_check(&op, 0), 0);

	/* nested: an inner put against an outer put of the same key */
	struct mvcc_op inner_ops[] = { put_op("x", "1") };
	struct mvcc_txn_req inner = { .success = inner_ops, .n_success = 1 };
	struct mvcc_op outer_ops[] = { { .type = MVCC_OP_TXN, .txn = &inner }, put_op("x", "2") };
	t = (struct mvcc_txn_req){ .success = outer_ops, .n_success = 2 };
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_DUPLICATE_KEY);
	/* an inner put under an outer delete */
	outer_ops[1] = del_op("w", "y", 1);
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_DUPLICATE_KEY);
	outer_ops[1] = del_op("y", "z", 1);
	ck_assert_int_eq(mvcc_check(&op, 0), 0);
	/* an inner then and else putting the same key: they exclude each other */
	struct mvcc_txn_req inner2 = { .success = inner_ops, .n_success = 1, .failure = inner_ops, .n_failure = 1 };
	outer_ops[0] = (struct mvcc_op){ .type = MVCC_OP_TXN, .txn = &inner2 };
	ck_assert_int_eq(mvcc_check(&op, 0), 0);
	/* two inner txns putting the same key */
	outer_ops[1] = (struct mvcc_op){ .type = MVCC_OP_TXN, .txn = &inner };
	ck_assert_int_eq(mvcc_check(&op, 0), -MVCC_E_DUPLICATE_KEY);
}
END_TEST

START_TEST(test_txn_limits_and_errors)
{
	put("a", "1"); /* 2 */
	put("a", "2"); /* 3 */
	/* an error in a later op: nothing of the txn stays */
	struct mvcc_op bad = put_op("nope", NULL);
	bad.put.ignore_value = true;
	struct mvcc_op ops[] = { put_op("b", "x"), del_op("a", NO_END), bad };
	struct mvcc_txn_req t = { .success = ops, .n_success = 3 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	ck_assert_int_eq(exec(&op), -MVCC_E_KEY_NOT_FOUND);
	ck_assert_int_eq(mvcc_revision(s), 3);
	ck_assert_ptr_null(get1("b", 0));
	assert_kv(get1("a", 0), "a", "2", 2, 3, 2);
	ck_assert_int_eq(mvcc_versions(s), 2);

	/* a range in the past, future or compacted, refused before any write */
	ops[2] = range_op("a", NO_END);
	ops[2].range.revision = 9;
	ck_assert_int_eq(exec(&op), -MVCC_E_FUTURE_REV);
	ck_assert_int_eq(mvcc_compact(s, 3), 0);
	ops[2].range.revision = 2;
	ck_assert_int_eq(exec(&op), -MVCC_E_COMPACTED);
	ck_assert_int_eq(mvcc_revision(s), 3);
	ck_assert_ptr_null(get1("b", 0));
	ops[2].range.revision = 3;
	ck_assert_int_eq(exec(&op), 0);
	assert_kv(&res.op.txn->resps[2].range.kvs[0], "a", "2", 2, 3, 2);

	/* too many ops (etcd's --max-txn-ops) */
	ck_assert_int_eq(mvcc_check(&op, 3), 0);
	ck_assert_int_eq(mvcc_check(&op, 2), -MVCC_E_TOO_MANY_OPS);
	struct mvcc_compare cs[3] = { cmp_num("a", 0, 0, 0), cmp_num("a", 0, 0, 0), cmp_num("", 0, 0, 0) };
	t = (struct mvcc_txn_req){ .compare = cs, .n_compare = 3 };
	ck_assert_int_eq(mvcc_check(&op, 2), -MVCC_E_TOO_MANY_OPS);
	ck_assert_int_eq(mvcc_check(&op, 3), -MVCC_E_EMPTY_KEY);
}
END_TEST

/* ---- history ---- */

/* The events as text, "put k@rev.sub<prev_rev,del ...". */
static int ev_text(void *ctx, const struct mvcc_event *ev)
{
	FILE *f = ctx;
	if (ftell(f) > 0)
		fputc(',', f);
	fprintf(f, "%s %.*s@%ld.%u", ev->deleted ? "del" : "put", (int)ev->kv.key_len, (const char *)ev->kv.key,
		(long)ev->kv.mod_revision, ev->sub);
	if (ev->has_prev)
		fprintf(f, "<%ld", (long)ev->prev.mod_revision);
	return 0;
}

/* Valid until the next call. */
static const char *events(const char *k, const char *end, size_t end_len, int64_t from, int64_t to)
{
	static char *buf;
	size_t len = 0;
	free(buf);
	buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	int rv = mvcc_events(s, k, strlen(k), end, end_len, from, to, ev_text, f);
	if (rv)
		fprintf(f, "error %s", mvcc_strerror(rv));
	fclose(f);
	return buf;
}

START_TEST(test_events)
{
	put("b", "1");	  /* 2 */
	put("a", "1");	  /* 3 */
	put("b", "2");	  /* 4 */
	del("a", "c", 1); /* 5: a (sub 0), b (sub 1) */
	struct mvcc_op ops[] = { put_op("c", "1"), put_op("a", "2") };
	struct mvcc_txn_req t = { .success = ops, .n_success = 2 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	ck_assert_int_eq(exec(&op), 0); /* 6: c (sub 0), a (sub 1) */
	ck_assert_str_eq(events("a", FROM_KEY, 0, 0),
			 "put b@2.0,put a@3.0,put b@4.0<2,del a@5.0<3,del b@5.1<4,put c@6.0,put a@6.1");
	ck_assert_str_eq(events("a", FROM_KEY, 5, 0), "del a@5.0<3,del b@5.1<4,put c@6.0,put a@6.1");
	ck_assert_str_eq(events("a", FROM_KEY, 3, 4), "put a@3.0,put b@4.0<2");
	ck_assert_str_eq(events("b", NO_END, 0, 0), "put b@2.0,put b@4.0<2,del b@5.1<4");
	ck_assert_str_eq(events("c", FROM_KEY, 7, 0), "");
	ck_assert_int_eq(mvcc_compact(s, 4), 0);
	ck_assert_str_eq(events("a", FROM_KEY, 3, 0), "error etcdserver: mvcc: required revision has been compacted");
	/* from the compaction on: what it kept (b@4 without the b@2 before it;
	 * a@3 is kept too, as a read at 4 sees it, but is before 4) */
	ck_assert_str_eq(events("a", FROM_KEY, 4, 0), "put b@4.0,del a@5.0<3,del b@5.1<4,put c@6.0,put a@6.1");
}
END_TEST

static const char *last_events(void)
{
	static char *buf;
	size_t len = 0;
	free(buf);
	buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(mvcc_last_events(s, ev_text, f), 0);
	fclose(f);
	return buf;
}

START_TEST(test_last_events)
{
	ck_assert_str_eq(last_events(), "");
	put("c", "1"); /* 2 */
	ck_assert_str_eq(last_events(), "put c@2.0");
	struct mvcc_op ops[] = { put_op("b", "1"), del_op("c", NO_END), put_op("a", "1"), range_op("a", FROM_KEY) };
	struct mvcc_txn_req t = { .success = ops, .n_success = 4 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	ck_assert_int_eq(exec(&op), 0); /* 3 */
	ck_assert_str_eq(last_events(), "put b@3.0,del c@3.1<2,put a@3.2");
	ck_assert_str_eq(last_events(), events("a", FROM_KEY, 3, 3));
	/* a write that failed, a read, a delete of nothing: no events */
	struct mvcc_op bad = put_op("zz", NULL);
	bad.put.ignore_value = true;
	ck_assert_int_eq(exec(&bad), -MVCC_E_KEY_NOT_FOUND);
	ck_assert_str_eq(last_events(), "");
	put("a", "2"); /* 4 */
	ck_assert_str_eq(last_events(), "put a@4.0<3");
	op = range_op("a", NO_END);
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_str_eq(last_events(), "");
	put("a", "3"); /* 5 */
	del("nothing", NO_END);
	ck_assert_str_eq(last_events(), "");
	put("a", "4"); /* 6 */
	ck_assert_int_eq(mvcc_compact(s, 5), 0);
	ck_assert_str_eq(last_events(), "");
}
END_TEST

START_TEST(test_hash)
{
	uint32_t h1, h2, h3;
	put("a", "1");
	put("b", "2");
	put("a", "3");
	ck_assert_int_eq(mvcc_hash(s, 0, &h1), 0);
	ck_assert_int_eq(mvcc_hash(s, 4, &h2), 0);
	ck_assert_uint_eq(h1, h2);
	ck_assert_int_eq(mvcc_hash(s, 3, &h2), 0);
	ck_assert_uint_ne(h1, h2);
	ck_assert_int_eq(mvcc_hash(s, 5, &h2), -MVCC_E_FUTURE_REV);
	/* the same history elsewhere: the same hash; another value: another */
	struct mvcc *orig = s;
	s = mvcc_new();
	put("a", "1");
	put("b", "2");
	put("a", "3");
	ck_assert_int_eq(mvcc_hash(s, 0, &h2), 0);
	ck_assert_uint_eq(h1, h2);
	put("c", "x");
	ck_assert_int_eq(mvcc_hash(s, 4, &h2), 0);
	ck_assert_uint_eq(h1, h2); /* a revision's hash does not move with later writes */
	mvcc_free(s);
	s = mvcc_new();
	put("a", "1");
	put("b", "2");
	put("a", "4");
	ck_assert_int_eq(mvcc_hash(s, 0, &h3), 0);
	ck_assert_uint_ne(h1, h3);
	mvcc_free(s);
	s = orig;
	/* compaction: refused at or below it, and the hash changes with it */
	ck_assert_int_eq(mvcc_compact(s, 3), 0);
	ck_assert_int_eq(mvcc_hash(s, 3, &h2), -MVCC_E_COMPACTED);
	ck_assert_int_eq(mvcc_hash(s, 4, &h2), 0);
	ck_assert_uint_ne(h1, h2);
}
END_TEST

START_TEST(test_txn_from_key_delete_then_put)
{
	/* etcd's duplicate check takes a delete's "\0" end literally, so a
	 * delete from a key does not conflict with a put it covers: the put
	 * then follows the delete in the same revision */
	put("b", "1"); /* 2 */
	put("b", "2"); /* 3 */
	struct mvcc_op ops[] = { del_op("a", FROM_KEY), put_op("b", "x") };
	struct mvcc_txn_req t = { .success = ops, .n_success = 2 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	ck_assert_int_eq(mvcc_check(&op, 0), 0);
	/* with ignore_value the put finds the key gone: the whole txn fails
	 * (etcd would panic here) and nothing stays */
	ops[1] = put_op("b", NULL);
	ops[1].put.ignore_value = true;
	ck_assert_int_eq(exec(&op), -MVCC_E_KEY_NOT_FOUND);
	ck_assert_int_eq(mvcc_revision(s), 3);
	assert_kv(get1("b", 0), "b", "2", 2, 3, 2);
	ck_assert_int_eq(mvcc_versions(s), 2);
	/* a plain put: a new generation in the delete's revision */
	ops[1] = put_op("b", "x");
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_int_eq(res.op.txn->resps[0].del.deleted, 1);
	assert_kv(get1("b", 0), "b", "x", 4, 4, 1);
	ck_assert_int_eq(mvcc_versions(s), 4);
	ck_assert_str_eq(events("b", NO_END, 4, 0), "del b@4.0<3,put b@4.1");
	ck_assert_int_eq(mvcc_compact(s, 4), 0);
	ck_assert_int_eq(mvcc_versions(s), 1);
	assert_kv(get1("b", 4), "b", "x", 4, 4, 1);
}
END_TEST

START_TEST(test_exec_range_and_codes)
{
	put("a", "1");
	struct mvcc_op op = range_op("a", NO_END);
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_int_eq(res.op.type, MVCC_OP_RANGE);
	ck_assert_int_eq(res.op.range.n_kvs, 1);
	ck_assert_int_eq(res.revision, 2);
	ck_assert_int_eq(mvcc_revision(s), 2);
	op.range.revision = 3;
	ck_assert_int_eq(exec(&op), -MVCC_E_FUTURE_REV);
	ck_assert_ptr_null(res.arena);
	ck_assert_int_eq(mvcc_grpc_code(0), 0);
	ck_assert_int_eq(mvcc_grpc_code(-ENOMEM), 8);
	ck_assert_int_eq(mvcc_grpc_code(-E2BIG), 8);
	ck_assert_int_eq(mvcc_grpc_code(-EINVAL), 13);
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_TOO_MANY_OPS), 3);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_TOO_MANY_OPS), "etcdserver: too many operations in txn request");
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_INVALID_SORT), "etcdserver: invalid sort option");
	ck_assert_str_eq(mvcc_strerror(-ENOMEM), strerror(ENOMEM));
}
END_TEST

START_TEST(test_views_outlive_writes)
{
	/* results point into the store: later writes (splits of the index
	 * included) must not move what they show; only a compaction may */
	put("k0500", "first");
	struct mvcc_result held;
	struct mvcc_range_req req = { .key = "k", .key_len = 1, .end = "\0", .end_len = 1 };
	ck_assert_int_eq(mvcc_read(s, &req, &held), 0);
	ck_assert_int_eq(held.op.range.n_kvs, 1);
	char k[16];
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		put(k, "later");
	}
	del("k0500", NO_END);
	put("k0500", "again");
	const struct mvcc_kv *kv = &held.op.range.kvs[0];
	assert_kv(kv, "k0500", "first", 2, 2, 1);
	mvcc_result_free(&held);
	mvcc_result_free(&held); /* twice is fine */
}
END_TEST

/* ---- compaction ---- */

START_TEST(test_compact)
{
	put("a", "1");		   /* 2 */
	put("a", "2");		   /* 3 */
	put("b", "1");		   /* 4 */
	del("b", NO_END);	   /* 5 */
	put("c", "1");		   /* 6 */
	del("c", NO_END);	   /* 7 */
	put("c", "2");		   /* 8 */
	put("d", "1");		   /* 9 */
	ck_assert_int_eq(mvcc_versions(s), 8);
	ck_assert_int_eq(mvcc_compact(s, 6), 0);
	/* a: only 2@3; b: gone (deleted at 5); c: 1@6, tombstone@7, 2@8; d */
	ck_assert_int_eq(mvcc_versions(s), 5);
	assert_kv(get1("a", 6), "a", "2", 2, 3, 2);
	ck_assert_ptr_null(get1("b", 6));
	assert_kv(get1("c", 6), "c", "1", 6, 6, 1);
	ck_assert_ptr_null(get1("c", 7));
	ck_assert_str_eq(keys_of(get_at("a", FROM_KEY, 0)), "a,c,d");
	ck_assert_int_eq(mvcc_compact(s, 9), 0);
	ck_assert_int_eq(mvcc_versions(s), 3);
	assert_kv(get1("c", 9), "c", "2", 8, 8, 1);
	ck_assert_int_eq(mvcc_count(s), 3);
	/* the versions go on from where they were */
	put("a", "3");
	assert_kv(get1("a", 0), "a", "3", 2, 10, 3);
	/* every key deleted and compacted: an empty index */
	del("a", FROM_KEY);
	ck_assert_int_eq(mvcc_compact(s, 11), 0);
	ck_assert_int_eq(mvcc_versions(s), 0);
	ck_assert_int_eq(mvcc_count(s), 0);
	ck_assert_int_eq(mvcc_bytes(s), 0);
}
END_TEST

static int dump_one(void *ctx, const struct mvcc_version *v);

static int text_one(void *ctx, const struct mvcc_version *v)
{
	return dump_one(ctx, v);
}

/* Every version a snapshot would hold, as text. */
static char *shown(struct mvcc *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(mvcc_iter_versions(st, text_one, f), 0);
	uint32_t h;
	ck_assert_int_eq(mvcc_hash(st, 0, &h), 0);
	fprintf(f, "hash %08x\n", h);
	fclose(f);
	return buf;
}

START_TEST(test_compact_steps)
{
	/* two stores with the same writes: one compacts at once, the other in
	 * steps with writes between them; they must look the same throughout */
	struct mvcc *a = mvcc_new(), *b = s;
	char k[16];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3000; i++) {
			snprintf(k, sizeof(k), "k%04d", (i * 7) % 1000);
			for (int j = 0; j < 2; j++) {
				s = j ? b : a;
				if (i % 5 == 4)
					del(k, NO_END);
				else
					put(k, i % 2 ? "odd" : "even");
			}
		}
		int64_t rev = mvcc_revision(b) - 500;
		ck_assert_int_eq(mvcc_compact(a, rev), 0);
		ck_assert_int_eq(mvcc_compact_begin(b, rev), 0);
		ck_assert(mvcc_compacting(b));
		int steps = 0;
		for (bool more = true; more; steps++) {
			more = mvcc_compact_step(b, 100);
			char *sa = shown(a), *sb = shown(b);
			ck_assert_msg(!strcmp(sa, sb), "step %d: the stores differ", steps);
			free(sa);
			free(sb);
			s = a;
			char *ea = strdup(events("k", FROM_KEY, rev, 0));
			s = b;
			ck_assert_str_eq(ea, events("k", FROM_KEY, rev, 0));
			free(ea);
			/* a write between steps, on both */
			for (int j = 0; j < 2; j++) {
				s = j ? b : a;
				put("k0003", "between");
			}
			ck_assert_int_eq(mvcc_index_check(b), 0);
		}
		ck_assert_int_gt(steps, 3);
		ck_assert(!mvcc_compacting(b));
		ck_assert_int_eq(mvcc_versions(a), mvcc_versions(b));
		ck_assert_int_eq(mvcc_bytes(a), mvcc_bytes(b));
	}
	/* a second compaction before the first has finished */
	for (int j = 0; j < 2; j++) {
		s = j ? b : a;
		for (int i = 0; i < 1000; i++) {
			snprintf(k, sizeof(k), "k%04d", i);
			put(k, "x");
		}
	}
	ck_assert_int_eq(mvcc_compact_begin(b, mvcc_revision(b) - 300), 0);
	ck_assert(mvcc_compact_step(b, 10));
	ck_assert_int_eq(mvcc_compact_begin(b, mvcc_revision(b) - 200), 0);
	ck_assert_int_eq(mvcc_compact(a, mvcc_revision(a) - 200), 0);
	char *sa = shown(a), *sb = shown(b);
	ck_assert_str_eq(sa, sb);
	free(sa);
	free(sb);
	while (mvcc_compact_step(b, 7))
		;
	ck_assert_int_eq(mvcc_versions(a), mvcc_versions(b));
	mvcc_free(a);
	s = b;
}
END_TEST

/* ---- snapshots ---- */

static int restore_one(void *ctx, const struct mvcc_version *v)
{
	return mvcc_restore_add(ctx, v);
}

START_TEST(test_snapshot_roundtrip)
{
	struct model m;
	model_init(&m);
	srandom(7);
	ck_assert_int_eq(mvcc_lease_grant(s, 1, 10), 0);
	ck_assert_int_eq(mvcc_lease_grant(s, 2, 20), 0);
	for (int i = 0; i < 3000; i++) {
		char k[16], v[16];
		snprintf(k, sizeof(k), "k%03ld", random() % 500);
		snprintf(v, sizeof(v), "v%d", i);
		model_begin(&m);
		if (random() % 5 == 0) {
			del(k, NO_END);
			model_delete(&m, k, strlen(k), NULL, 0);
		} else {
			struct mvcc_op op = put_op(k, v);
			op.put.lease = random() % 3;
			ck_assert_int_eq(exec(&op), 0);
			model_put(&m, k, strlen(k), v, strlen(v), op.put.lease);
		}
		model_end(&m);
		if (i == 2000) {
			ck_assert_int_eq(mvcc_compact(s, mvcc_revision(s) - 700), 0);
			m.compacted = m.rev - 700;
		}
	}
	struct mvcc *t = mvcc_new();
	ck_assert_int_eq(mvcc_restore_begin(t, mvcc_revision(s), mvcc_compacted(s)), 0);
	ck_assert_int_eq(mvcc_iter_versions(s, restore_one, t), 0);
	ck_assert_int_eq(mvcc_restore_end(t), 0);
	const char *bad = model_check(&m, t, true);
	ck_assert_msg(!bad, "restored: %s", bad);
	ck_assert_int_eq(mvcc_bytes(t), mvcc_bytes(s));
	uint32_t h1, h2;
	ck_assert_int_eq(mvcc_hash(s, 0, &h1), 0);
	ck_assert_int_eq(mvcc_hash(t, 0, &h2), 0);
	ck_assert_uint_eq(h1, h2);
	/* the restored store goes on like the original */
	struct mvcc *orig = s;
	for (int i = 0; i < 2; i++) {
		s = i ? orig : t;
		put("k001", "after");
		del("k002", NO_END);
	}
	model_begin(&m);
	model_put(&m, "k001", 4, "after", 5, 0);
	model_end(&m);
	model_begin(&m);
	model_delete(&m, "k002", 4, NULL, 0);
	model_end(&m);
	bad = model_check(&m, t, false);
	ck_assert_msg(!bad, "restored, then written: %s", bad);
	mvcc_free(t);
	model_free(&m);
}
END_TEST

/* A version keeps its version in 32 bits and no lease unless it needs them
 * (struct mvcc_rev): a lease, or a version from 2^32 on, is kept in full,
 * after values of every length, through reads, puts, compares, snapshots
 * and the hash. */
static int collect_one(void *ctx, const struct mvcc_version *v)
{
	struct mvcc_version *out = ctx;
	size_t i = 0;
	while (out[i].key)
		i++;
	out[i] = *v;
	return 0;
}

START_TEST(test_wide_versions)
{
	static const char *const values[] = { "", "a", "abc", "abcdefg", "abcdefgh", "0123456789abcdefXYZ" };
	const int64_t big = INT64_C(5000000000), lease = INT64_C(0x7123456789abcdef);
	struct mvcc *t = mvcc_new();
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(mvcc_restore_begin(t, 10, 0), 0);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%zu", i);
		struct mvcc_version v = { .key = (const uint8_t *)key, .key_len = strlen(key),
					  .value = (const uint8_t *)values[i], .value_len = strlen(values[i]),
					  .mod_revision = 2 + (int64_t)i, .create_revision = 1,
					  .version = i % 2 ? big : (int64_t)UINT32_MAX - 1 + (int64_t)i,
					  .lease = i % 3 ? lease : 0 };
		ck_assert_int_eq(mvcc_restore_add(t, &v), 0);
	}
	ck_assert_int_eq(mvcc_restore_end(t), 0);
	mvcc_free(s);
	s = t;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%zu", i);
		const struct mvcc_kv *kv = get1(key, 0);
		assert_kv(kv, key, values[i], 1, 2 + (int64_t)i, i % 2 ? big : (int64_t)UINT32_MAX - 1 + (int64_t)i);
		ck_assert_int_eq(kv->lease, i % 3 ? lease : 0);
	}
	/* a put counts on from a wide version and keeps its lease */
	struct mvcc_op op = put_op("k1", "new");
	op.put.ignore_lease = true;
	ck_assert_int_eq(exec(&op), 0);
	assert_kv(get1("k1", 0), "k1", "new", 1, 11, big + 1);
	ck_assert_int_eq(get1("k1", 0)->lease, lease);
	ck_assert_int_eq(get1("k1", 3)->version, big); /* the old one, still whole */
	/* a plain put drops the lease: a narrow version again */
	op = put_op("k0", "x");
	ck_assert_int_eq(exec(&op), 0);
	assert_kv(get1("k0", 0), "k0", "x", 1, 12, (int64_t)UINT32_MAX);
	ck_assert_int_eq(get1("k0", 0)->lease, 0);
	/* compares see them whole */
	struct mvcc_compare cmp = { .key = "k1", .key_len = 2, .target = MVCC_CMP_VERSION,
				    .result = MVCC_CMP_EQUAL, .number = big + 1 };
	struct mvcc_compare cmp2 = { .key = "k2", .key_len = 2, .target = MVCC_CMP_LEASE,
				     .result = MVCC_CMP_EQUAL, .number = lease };
	struct mvcc_compare cmps[] = { cmp, cmp2 };
	struct mvcc_txn_req tr = { .compare = cmps, .n_compare = 2 };
	struct mvcc_op txn = { .type = MVCC_OP_TXN, .txn = &tr };
	ck_assert_int_eq(exec(&txn), 0);
	ck_assert(res.op.txn->succeeded);
	/* and so do snapshots and the hash */
	struct mvcc_version got[16] = { 0 };
	ck_assert_int_eq(mvcc_iter_versions(s, collect_one, got), 0);
	ck_assert_int_eq(got[2].version, big); /* k1's first */
	ck_assert_int_eq(got[2].lease, lease);
	struct mvcc *u = mvcc_new();
	ck_assert_int_eq(mvcc_restore_begin(u, mvcc_revision(s), mvcc_compacted(s)), 0);
	ck_assert_int_eq(mvcc_iter_versions(s, restore_one, u), 0);
	ck_assert_int_eq(mvcc_restore_end(u), 0);
	uint32_t h1, h2;
	ck_assert_int_eq(mvcc_hash(s, 0, &h1), 0);
	ck_assert_int_eq(mvcc_hash(u, 0, &h2), 0);
	ck_assert_uint_eq(h1, h2);
	mvcc_free(u);
}
END_TEST

START_TEST(test_restore_refuses)
{
	struct mvcc_version v = {
		.key = (const uint8_t *)"b", .key_len = 1, .mod_revision = 3, .create_revision = 3, .version = 1
	};
	struct mvcc *t;
	/* begin on a used store, bad revisions */
	put("x", "y");
	ck_assert_int_eq(mvcc_restore_begin(s, 5, 1), -EINVAL);
	t = mvcc_new();
	ck_assert_int_eq(mvcc_restore_begin(t, 5, 6), -EINVAL);
	mvcc_free(t);

#define RESTORE_BAD(...)                                                               \
	do {                                                                           \
		struct mvcc_version vs[] = { __VA_ARGS__ };                            \
		t = mvcc_new();                                                        \
		ck_assert_int_eq(mvcc_restore_begin(t, 10, 4), 0);                     \
		int rv = 0;                                                            \
		for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]) && !rv; i++)         \
			rv = mvcc_restore_add(t, &vs[i]);                              \
		ck_assert_int_eq(rv, -EINVAL);                                         \
		ck_assert_int_eq(mvcc_restore_end(t), -EINVAL);                        \
		ck_assert_int_eq(mvcc_index_check(t), 0);                              \
		mvcc_free(t);                                                          \
	} while (0)
	struct mvcc_version a = v, c = v, tomb = v;
	a.key = (const uint8_t *)"a";
	c.key = (const uint8_t *)"c";
	tomb.version = 0;
	tomb.create_revision = 0;
	tomb.mod_revision = 5;
	RESTORE_BAD(v, a);		   /* keys out of order */
	RESTORE_BAD(v, v);		   /* the same version twice */
	RESTORE_BAD(tomb);		   /* a tombstone first */
	RESTORE_BAD(c, ({ struct mvcc_version x = v; x.mod_revision = 11; x; })); /* future */
	/* a version skipped */
	RESTORE_BAD(({ struct mvcc_version x = v; x.mod_revision = 5; x.create_revision = 5; x; }),
		    ({ struct mvcc_version x = v; x.mod_revision = 6; x.version = 3; x.create_revision = 5; x; }));
	/* two versions at or below the compaction */
	RESTORE_BAD(({ struct mvcc_version x = v; x.mod_revision = 2; x.create_revision = 2; x; }),
		    ({ struct mvcc_version x = v; x.mod_revision = 3; x.version = 2; x.create_revision = 2; x; }));
	/* a first version that says it was created where it was not */
	RESTORE_BAD(({ struct mvcc_version x = v; x.mod_revision = 6; x.create_revision = 5; x; }));
	/* one version at or below the compaction, in a later generation: fine */
	t = mvcc_new();
	ck_assert_int_eq(mvcc_restore_begin(t, 10, 4), 0);
	v.version = 2;
	v.create_revision = 1;
	ck_assert_int_eq(mvcc_restore_add(t, &v), 0);
	ck_assert_int_eq(mvcc_restore_end(t), 0);
	ck_assert_int_eq(mvcc_count(t), 1);
	mvcc_free(t);
}
END_TEST

/* ---- allocation failures: each one leaves the store as it was ---- */

static int dump_one(void *ctx, const struct mvcc_version *v)
{
	FILE *f = ctx;
	fprintf(f, "%.*s|%.*s|%ld.%u|%ld|%ld|%ld\n", (int)v->key_len, (const char *)v->key, (int)v->value_len,
		v->value ? (const char *)v->value : "", (long)v->mod_revision, v->sub, (long)v->create_revision,
		(long)v->version, (long)v->lease);
	return 0;
}

static char *dump(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	fprintf(f, "rev %ld compacted %ld live %zu versions %zu bytes %lu\n", (long)mvcc_revision(s),
		(long)mvcc_compacted(s), mvcc_count(s), mvcc_versions(s), (unsigned long)mvcc_bytes(s));
	ck_assert_int_eq(mvcc_iter_versions(s, dump_one, f), 0);
	fclose(f);
	return buf;
}

START_TEST(test_alloc_failures)
{
	char k[16];
	/* enough keys for a tree of several levels */
	for (int i = 0; i < 3000; i += 2) {
		snprintf(k, sizeof(k), "k%05d", i);
		put(k, "v");
	}
	for (int i = 0; i < 3000; i += 6) {
		snprintf(k, sizeof(k), "k%05d", i);
		put(k, "w");
	}
	struct mvcc_op inner_ops[] = { put_op("k00001", "new"), del_op("k00010", "k00100", 6),
				       range_op("k", FROM_KEY) };
	struct mvcc_txn_req inner = { .success = inner_ops, .n_success = 3 };
	struct mvcc_op ops[] = { put_op("k00003", "n"), put_op("k00004", "n"), { .type = MVCC_OP_TXN, .txn = &inner },
				 del_op("k02000", "k02500", 6), put_op("zzz", "z") };
	ops[0].put.prev_kv = true;
	ops[3].del.prev_kv = true;
	struct mvcc_compare c = cmp_num("k00000", MVCC_CMP_VERSION, MVCC_CMP_EQUAL, 2);
	struct mvcc_txn_req t = { .compare = &c, .n_compare = 1, .success = ops, .n_success = 5 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	char *before = dump();
	unsigned long nth;
	int rv = -ENOMEM;
	for (nth = 1; rv == -ENOMEM; nth++) {
		alloc_fail_nth(nth);
		rv = exec(&op);
		bool failed = alloc_failed();
		alloc_fail_nth(0);
		if (rv == -ENOMEM) {
			ck_assert(failed);
			char *now = dump();
			ck_assert_msg(!strcmp(before, now), "allocation %lu: the store changed", nth);
			free(now);
			ck_assert_int_eq(mvcc_index_check(s), 0);
		} else {
			ck_assert_int_eq(rv, 0);
		}
	}
	ck_assert_int_gt(nth, 10);
	ck_assert(res.op.txn->succeeded);
	ck_assert_int_eq(res.op.txn->resps[3].del.deleted, 250);
	free(before);
	/* compaction never allocates */
	alloc_fail_nth(1);
	ck_assert_int_eq(mvcc_compact(s, mvcc_revision(s)), 0);
	ck_assert(!alloc_failed());
	alloc_fail_nth(0);
}
END_TEST

/* ---- the index ---- */

START_TEST(test_index_shapes)
{
	char k[16];
	/* in order (packed leaves), then every other one out, then all */
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "%06d", i);
		put(k, "");
	}
	ck_assert_int_eq(mvcc_index_check(s), 0);
	ck_assert_int_eq(mvcc_count(s), 20000);
	/* keep 1 in 7: merges */
	for (int i = 0; i < 20000; i++) {
		if (i % 7) {
			snprintf(k, sizeof(k), "%06d", i);
			del(k, NO_END);
		}
	}
	ck_assert_int_eq(mvcc_compact(s, mvcc_revision(s)), 0);
	ck_assert_int_eq(mvcc_index_check(s), 0);
	ck_assert_int_eq(get_at("0", FROM_KEY, 0)->count, (20000 + 6) / 7);
	/* random inserts into the thinned tree */
	srandom(3);
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "%06ld", random() % 40000);
		put(k, "x");
	}
	ck_assert_int_eq(mvcc_index_check(s), 0);
	del("0", FROM_KEY);
	ck_assert_int_eq(mvcc_compact(s, mvcc_revision(s)), 0);
	ck_assert_int_eq(mvcc_index_check(s), 0);
	ck_assert_int_eq(mvcc_versions(s), 0);
	put("again", "1");
	assert_kv(get1("again", 0), "again", "1", mvcc_revision(s), mvcc_revision(s), 1);
}
END_TEST

/* ---- randomized, against the model ---- */

static void random_key(char *k, size_t cap, long nkeys)
{
	long r = random() % nkeys;
	snprintf(k, cap, "%c%ld", 'a' + (int)(r % 5), r);
}

static void model_run(unsigned seed, long nkeys, int steps)
{
	struct model m;
	char k[4][24], v[4][24];
	model_init(&m);
	srandom(seed);
	for (int64_t id = 1; id <= 3; id++)
		ck_assert_int_eq(mvcc_lease_grant(s, id, 60), 0);
	for (int step = 0; step < steps; step++) {
		int kind = (int)(random() % 100);
		for (int i = 0; i < 4; i++) {
			random_key(k[i], sizeof(k[i]), nkeys);
			snprintf(v[i], sizeof(v[i]), "v%d.%d", step, i);
		}
		if (kind < 45) {
			struct mvcc_op op = put_op(k[0], random() % 8 ? v[0] : "");
			op.put.lease = random() % 4;
			ck_assert_int_eq(exec(&op), 0);
			model_begin(&m);
			model_put(&m, k[0], strlen(k[0]), op.put.value, op.put.value_len, op.put.lease);
			model_end(&m);
		} else if (kind < 60) {
			bool range = random() % 2;
			const char *end = range ? k[1] : NULL;
			size_t end_len = range ? strlen(k[1]) : 0;
			if (range && random() % 4 == 0) {
				end = "\0";
				end_len = 1;
			}
			int64_t d = del(k[0], end, end_len);
			model_begin(&m);
			ck_assert_int_eq(d, model_delete(&m, k[0], strlen(k[0]), end, end_len));
			model_end(&m);
		} else if (kind < 85) {
			/* a txn on one compare: puts of distinct keys, a delete
			 * elsewhere, in either branch */
			struct mvcc_compare c = { .target = (enum mvcc_cmp_target)(random() % 5),
						  .result = (enum mvcc_cmp_result)(random() % 4),
						  .key = k[0],
						  .key_len = strlen(k[0]),
						  .number = random() % 4 ? random() % 4 : m.rev - random() % 5,
						  .value = v[0],
						  .value_len = strlen(v[0]) };
			if (random() % 4 == 0) {
				c.end = "\0";
				c.end_len = 1;
			}
			if (c.target == MVCC_CMP_VALUE && random() % 2) {
				const struct model_rec *r = model_get(&m, k[0], strlen(k[0]), m.rev);
				if (r) {
					c.value = r->value;
					c.value_len = r->value_len;
				}
			}
			bool dup = !strcmp(k[1], k[2]) || !strcmp(k[1], k[3]) || !strcmp(k[2], k[3]);
			struct mvcc_op then[] = { put_op(k[1], v[1]), put_op(k[2], v[2]), del_op(k[3], NO_END),
						  range_op(k[1], FROM_KEY) };
			struct mvcc_op other[] = { put_op(k[3], v[3]), range_op(k[0], NO_END) };
			struct mvcc_txn_req t = {
				.compare = &c, .n_compare = 1, .success = then, .n_success = 4, .failure = other, .n_failure = 2
			};
			struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
			int rv = exec(&op);
			if (dup) {
				ck_assert_int_eq(rv, -MVCC_E_DUPLICATE_KEY);
				continue;
			}
			ck_assert_int_eq(rv, 0);
			bool ok = model_compare(&m, &c);
			ck_assert_int_eq(res.op.txn->succeeded, ok);
			model_begin(&m);
			if (ok) {
				model_put(&m, k[1], strlen(k[1]), v[1], strlen(v[1]), 0);
				model_put(&m, k[2], strlen(k[2]), v[2], strlen(v[2]), 0);
				model_delete(&m, k[3], strlen(k[3]), NULL, 0);
			} else {
				model_put(&m, k[3], strlen(k[3]), v[3], strlen(v[3]), 0);
			}
			model_end(&m);
			ck_assert_int_eq(res.revision, m.rev);
		} else if (kind < 90) {
			int64_t lo = m.compacted < 0 ? 0 : m.compacted;
			int64_t rev = lo + random() % (m.rev - lo + 2);
			int rv = mvcc_compact(s, rev);
			if (rev <= m.compacted)
				ck_assert_int_eq(rv, -MVCC_E_COMPACTED);
			else if (rev > m.rev)
				ck_assert_int_eq(rv, -MVCC_E_FUTURE_REV);
			else {
				ck_assert_int_eq(rv, 0);
				m.compacted = rev;
			}
		} else if (kind < 93) {
			/* history, as a watch replays it */
			int64_t from = m.rev - random() % 30, to = random() % 3 ? 0 : m.rev - random() % 10;
			bool all = random() % 2;
			const char *bad = model_check_events(&m, s, all ? "" : k[0], all ? 0 : strlen(k[0]), "\0", 1,
							     from, to);
			ck_assert_msg(!bad, "seed %u step %d: %s", seed, step, bad);
		} else {
			/* a read of an interval at a revision, past ones too */
			int64_t rev = m.rev - random() % 20;
			bool from = random() % 3 == 0;
			const char *bad = model_check_range(&m, s, k[0], strlen(k[0]), from ? "\0" : k[1],
							    from ? 1 : strlen(k[1]), rev);
			ck_assert_msg(!bad, "seed %u step %d: %s", seed, step, bad);
		}
		if (step % 97 == 0 || step == steps - 1) {
			const char *bad = model_check(&m, s, step % 491 == 0 || step == steps - 1);
			ck_assert_msg(!bad, "seed %u step %d: %s", seed, step, bad);
		}
	}
	model_free(&m);
}

START_TEST(test_model_few_keys)
{
	model_run(1000 + (unsigned)_i, 30, 3000);
}
END_TEST

START_TEST(test_model_many_keys)
{
	model_run(2000 + (unsigned)_i, 4000, 6000);
}
END_TEST


/* ---- leases ---- */

static int key_text(void *ctx, const uint8_t *key, size_t len)
{
	char *buf = ctx;
	size_t w = strlen(buf);
	snprintf(buf + w, 1024 - w, "%s%.*s", w ? "," : "", (int)len, (const char *)key);
	return 0;
}

/* The keys attached to lease id, joined by ',' ("!" for an unknown lease) */
static const char *lease_keys(const struct mvcc *st, int64_t id)
{
	static char buf[1024];
	buf[0] = 0;
	int rv = mvcc_lease_keys(st, id, key_text, buf);
	if (rv == -MVCC_E_LEASE_NOT_FOUND)
		return "!";
	ck_assert_int_eq(rv, 0);
	return buf;
}

static int put_lease(const char *k, const char *v, int64_t lease)
{
	struct mvcc_op op = put_op(k, v);
	op.put.lease = lease;
	return exec(&op);
}

static int revoke(int64_t id)
{
	mvcc_result_free(&res);
	return mvcc_lease_revoke(s, id, &res);
}

START_TEST(test_lease_grant)
{
	int64_t ttl = 0;
	ck_assert_int_eq(mvcc_lease_count(s), 0);
	ck_assert(!mvcc_lease_get(s, 5, &ttl));
	ck_assert_int_eq(mvcc_lease_grant(s, 5, 30), 0);
	ck_assert(mvcc_lease_get(s, 5, &ttl));
	ck_assert_int_eq(ttl, 30);
	ck_assert(mvcc_lease_get(s, 5, NULL));
	ck_assert_int_eq(mvcc_lease_count(s), 1);
	ck_assert_int_eq(mvcc_revision(s), 1); /* a grant takes no revision */
	/* etcd's lessor: ID 0 is "not found", then the TTL, then a reused ID */
	ck_assert_int_eq(mvcc_lease_grant(s, 0, 30), -MVCC_E_LEASE_NOT_FOUND);
	ck_assert_int_eq(mvcc_lease_grant(s, 6, MVCC_LEASE_TTL_MAX + 1), -MVCC_E_LEASE_TTL_TOO_LARGE);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_LEASE_TTL_TOO_LARGE), "etcdserver: too large lease TTL");
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_LEASE_TTL_TOO_LARGE), 11);
	ck_assert_int_eq(mvcc_lease_grant(s, 5, 40), -MVCC_E_LEASE_EXISTS);
	ck_assert_str_eq(mvcc_strerror(-MVCC_E_LEASE_EXISTS), "etcdserver: lease already exists");
	ck_assert_int_eq(mvcc_grpc_code(-MVCC_E_LEASE_EXISTS), 9);
	ck_assert(mvcc_lease_get(s, 5, &ttl));
	ck_assert_int_eq(ttl, 30);
	ck_assert_int_eq(mvcc_lease_grant(s, 6, MVCC_LEASE_TTL_MAX), 0);
	ck_assert_int_eq(mvcc_lease_grant(s, -7, 1), 0); /* a client's ID is taken as it is */
	ck_assert_int_eq(mvcc_lease_count(s), 3);
	/* a put needs its lease to exist */
	ck_assert_int_eq(put_lease("k", "v", 4), -MVCC_E_LEASE_NOT_FOUND);
	ck_assert_int_eq(mvcc_revision(s), 1);
	ck_assert_int_eq(put_lease("k", "v", -7), 0);
	ck_assert_int_eq(get1("k", 0)->lease, -7);
}
END_TEST

static int iter_text(void *ctx, int64_t id, int64_t ttl)
{
	char *buf = ctx;
	size_t w = strlen(buf);
	snprintf(buf + w, 1024 - w, "%s%ld:%ld", w ? "," : "", (long)id, (long)ttl);
	return id == 1000 ? 7 : 0;
}

START_TEST(test_lease_iter)
{
	char buf[1024] = "";
	ck_assert_int_eq(mvcc_lease_iter(s, iter_text, buf), 0);
	ck_assert_str_eq(buf, "");
	for (int64_t id = 40; id > 0; id -= 3)
		ck_assert_int_eq(mvcc_lease_grant(s, id, id * 10), 0);
	ck_assert_int_eq(mvcc_lease_grant(s, -1, 9), 0);
	ck_assert_int_eq(mvcc_lease_iter(s, iter_text, buf), 0);
	ck_assert_str_eq(buf, "-1:9,1:10,4:40,7:70,10:100,13:130,16:160,19:190,22:220,25:250,28:280,31:310,34:340,"
			      "37:370,40:400");
	buf[0] = 0;
	ck_assert_int_eq(mvcc_lease_grant(s, 1000, 1), 0);
	ck_assert_int_eq(mvcc_lease_iter(s, iter_text, buf), 7); /* fn stops the walk */
	ck_assert_int_eq(mvcc_lease_keys(s, 99, key_text, buf), -MVCC_E_LEASE_NOT_FOUND);
}
END_TEST

START_TEST(test_lease_attach_revoke)
{
	ck_assert_int_eq(mvcc_lease_grant(s, 1, 10), 0);
	ck_assert_int_eq(mvcc_lease_grant(s, 2, 20), 0);
	ck_assert_int_eq(put_lease("c", "1", 1), 0);
	ck_assert_int_eq(put_lease("a", "1", 1), 0);
	ck_assert_int_eq(put_lease("b", "1", 1), 0);
	ck_assert_int_eq(put_lease("d", "1", 2), 0);
	put("x", "no lease");
	ck_assert_str_eq(lease_keys(s, 1), "a,b,c");
	ck_assert_str_eq(lease_keys(s, 2), "d");
	ck_assert_int_eq(mvcc_lease_key_count(s, 1), 3);
	/* moving a key to another lease detaches it; a put without a lease too */
	ck_assert_int_eq(put_lease("c", "2", 2), 0);
	put("b", "2");
	ck_assert_str_eq(lease_keys(s, 1), "a");
	ck_assert_str_eq(lease_keys(s, 2), "c,d");
	/* ignore_value keeps the lease it is given; ignore_lease the key's */
	struct mvcc_op op = put_op("a", NULL);
	op.put.ignore_value = true;
	op.put.lease = 2;
	ck_assert_int_eq(exec(&op), 0);
	op = put_op("a", "3");
	op.put.ignore_lease = true;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_str_eq(lease_keys(s, 1), "");
	ck_assert_str_eq(lease_keys(s, 2), "a,c,d");
	/* a delete detaches */
	ck_assert_int_eq(del("d", NO_END), 1);
	ck_assert_str_eq(lease_keys(s, 2), "a,c");
	ck_assert_int_eq(put_lease("e", "1", 2), 0);

	/* revoke: the keys go in one revision, in key order */
	int64_t rev = mvcc_revision(s);
	ck_assert_int_eq(revoke(2), 0);
	ck_assert_int_eq(res.op.type, MVCC_OP_DELETE);
	ck_assert_int_eq(res.op.del.deleted, 3);
	ck_assert_int_eq(res.revision, rev + 1);
	ck_assert_int_eq(mvcc_revision(s), rev + 1);
	ck_assert_str_eq(keys_of(get_at("", FROM_KEY, 0)), "b,x");
	ck_assert(!mvcc_lease_get(s, 2, NULL));
	ck_assert_str_eq(lease_keys(s, 2), "!");
	ck_assert_int_eq(mvcc_lease_count(s), 1);
	ck_assert_int_eq(revoke(2), -MVCC_E_LEASE_NOT_FOUND);
	ck_assert_int_eq(mvcc_revision(s), rev + 1);
	/* a lease without keys: forgotten, no revision */
	ck_assert_int_eq(revoke(1), 0);
	ck_assert_int_eq(res.op.del.deleted, 0);
	ck_assert_int_eq(res.revision, rev + 1);
	ck_assert_int_eq(mvcc_lease_count(s), 0);
	ck_assert_int_eq(put_lease("b", "z", 1), -MVCC_E_LEASE_NOT_FOUND);
}
END_TEST

struct evs {
	char text[1024];
};

static int lease_ev_text(void *ctx, const struct mvcc_event *ev)
{
	struct evs *e = ctx;
	size_t w = strlen(e->text);
	snprintf(e->text + w, sizeof(e->text) - w, "%s%s %.*s@%ld.%u", w ? "," : "", ev->deleted ? "DEL" : "PUT",
		 (int)ev->kv.key_len, (const char *)ev->kv.key, (long)ev->kv.mod_revision, ev->sub);
	return 0;
}

START_TEST(test_lease_revoke_events)
{
	ck_assert_int_eq(mvcc_lease_grant(s, 9, 10), 0);
	ck_assert_int_eq(put_lease("z", "1", 9), 0);
	ck_assert_int_eq(put_lease("m", "1", 9), 0);
	ck_assert_int_eq(put_lease("a", "1", 9), 0);
	ck_assert_int_eq(revoke(9), 0);
	struct evs e = { "" };
	ck_assert_int_eq(mvcc_last_events(s, lease_ev_text, &e), 0);
	ck_assert_str_eq(e.text, "DEL a@5.0,DEL m@5.1,DEL z@5.2");
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(mvcc_events(s, "", 0, "\0", 1, 5, 5, lease_ev_text, &e), 0);
	ck_assert_str_eq(e.text, "DEL a@5.0,DEL m@5.1,DEL z@5.2");
	/* a grant or a revoke that writes nothing leaves no last events */
	ck_assert_int_eq(mvcc_lease_grant(s, 9, 10), 0);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(mvcc_last_events(s, lease_ev_text, &e), 0);
	ck_assert_str_eq(e.text, "");
}
END_TEST

START_TEST(test_lease_txn)
{
	ck_assert_int_eq(mvcc_lease_grant(s, 1, 10), 0);
	put("k", "0");
	/* a txn's put with an unknown lease: refused before anything */
	struct mvcc_op ops[] = { put_op("a", "1"), put_op("b", "1"), del_op("k", NO_END) };
	ops[0].put.lease = 1;
	ops[1].put.lease = 3;
	struct mvcc_txn_req t = { .success = ops, .n_success = 3 };
	struct mvcc_op op = { .type = MVCC_OP_TXN, .txn = &t };
	int64_t rev = mvcc_revision(s);
	ck_assert_int_eq(exec(&op), -MVCC_E_LEASE_NOT_FOUND);
	ck_assert_int_eq(mvcc_revision(s), rev);
	ck_assert_str_eq(lease_keys(s, 1), "");
	/* the failure branch is not checked */
	struct mvcc_compare c = cmp_num("k", MVCC_CMP_VERSION, MVCC_CMP_EQUAL, 1);
	struct mvcc_txn_req t2 = { .compare = &c, .n_compare = 1, .success = ops, .n_success = 1, .failure = ops + 1,
				   .n_failure = 1 };
	op.txn = &t2;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_str_eq(lease_keys(s, 1), "a");
	/* several puts with leases in one txn, a nested one, and a delete */
	ck_assert_int_eq(mvcc_lease_grant(s, 3, 10), 0);
	struct mvcc_op inner_ops[] = { put_op("n1", "x"), put_op("n2", "x") };
	inner_ops[0].put.lease = 3;
	inner_ops[1].put.lease = 1;
	struct mvcc_txn_req inner = { .success = inner_ops, .n_success = 2 };
	struct mvcc_op ops3[] = { put_op("b", "2"), put_op("c", "2"), del_op("a", NO_END),
				  { .type = MVCC_OP_TXN, .txn = &inner } };
	ops3[0].put.lease = 3;
	ops3[1].put.lease = 3;
	struct mvcc_txn_req t3 = { .success = ops3, .n_success = 4 };
	op.txn = &t3;
	ck_assert_int_eq(exec(&op), 0);
	ck_assert_str_eq(lease_keys(s, 1), "n2");
	ck_assert_str_eq(lease_keys(s, 3), "b,c,n1");
	ck_assert_int_eq(revoke(3), 0);
	ck_assert_int_eq(res.op.del.deleted, 3);
	ck_assert_str_eq(keys_of(get_at("", FROM_KEY, 0)), "k,n2");
}
END_TEST

static int restore_lease_one(void *ctx, int64_t id, int64_t ttl)
{
	return mvcc_restore_lease(ctx, id, ttl);
}

START_TEST(test_lease_restore)
{
	ck_assert_int_eq(mvcc_lease_grant(s, 1, 10), 0);
	ck_assert_int_eq(mvcc_lease_grant(s, 2, 20), 0);
	ck_assert_int_eq(mvcc_lease_grant(s, 3, 30), 0);
	ck_assert_int_eq(put_lease("a", "1", 1), 0);
	ck_assert_int_eq(put_lease("b", "1", 1), 0);
	ck_assert_int_eq(put_lease("b", "2", 2), 0); /* an older version had lease 1 */
	ck_assert_int_eq(put_lease("c", "1", 2), 0);
	ck_assert_int_eq(put_lease("d", "1", 2), 0);
	del("d", NO_END);
	struct mvcc *t = mvcc_new();
	ck_assert_int_eq(mvcc_restore_begin(t, mvcc_revision(s), mvcc_compacted(s)), 0);
	ck_assert_int_eq(mvcc_lease_iter(s, restore_lease_one, t), 0);
	ck_assert_int_eq(mvcc_iter_versions(s, restore_one, t), 0);
	ck_assert_int_eq(mvcc_restore_end(t), 0);
	ck_assert_int_eq(mvcc_lease_count(t), 3);
	ck_assert_str_eq(lease_keys(t, 1), "a");
	ck_assert_str_eq(lease_keys(t, 2), "b,c");
	ck_assert_str_eq(lease_keys(t, 3), "");
	int64_t ttl;
	ck_assert(mvcc_lease_get(t, 3, &ttl));
	ck_assert_int_eq(ttl, 30);
	/* and goes on like the original */
	struct mvcc *orig = s;
	s = t;
	ck_assert_int_eq(revoke(2), 0);
	ck_assert_int_eq(res.op.del.deleted, 2);
	ck_assert_str_eq(keys_of(get_at("", FROM_KEY, 0)), "a");
	mvcc_result_free(&res);
	s = orig;
	mvcc_free(t);

	/* leases in any order with the versions; a key whose lease is not
	 * restored stays unattached (etcd's restore only warns) */
	t = mvcc_new();
	ck_assert_int_eq(mvcc_restore_lease(t, 2, 20), -EINVAL); /* outside a restore */
	mvcc_free(t);
	t = mvcc_new();
	ck_assert_int_eq(mvcc_restore_begin(t, mvcc_revision(s), mvcc_compacted(s)), 0);
	ck_assert_int_eq(mvcc_iter_versions(s, restore_one, t), 0);
	ck_assert_int_eq(mvcc_restore_lease(t, 2, 20), 0);
	ck_assert_int_eq(mvcc_restore_end(t), 0);
	ck_assert_str_eq(lease_keys(t, 2), "b,c");
	ck_assert_str_eq(lease_keys(t, 1), "!");
	struct mvcc_kv kv;
	ck_assert(mvcc_get(t, "a", 1, &kv));
	ck_assert_int_eq(kv.lease, 1);
	mvcc_free(t);

	/* malformed: ID 0, a TTL too large, an ID twice */
	int64_t bad[][2] = { { 0, 1 }, { 4, MVCC_LEASE_TTL_MAX + 1 }, { 5, 1 } };
	for (size_t i = 0; i < 3; i++) {
		t = mvcc_new();
		ck_assert_int_eq(mvcc_restore_begin(t, 1, -1), 0);
		if (i == 2)
			ck_assert_int_eq(mvcc_restore_lease(t, 5, 1), 0);
		ck_assert_int_eq(mvcc_restore_lease(t, bad[i][0], bad[i][1]), -EINVAL);
		ck_assert_int_eq(mvcc_restore_end(t), -EINVAL);
		mvcc_free(t);
	}
}
END_TEST

/* Every allocation of a lease's paths fails in turn: a failed call
 * changes nothing, attachments included. */
START_TEST(test_lease_alloc_failures)
{
	char k[16];
	for (int64_t id = 1; id <= 48; id++) /* the next grant grows the table */
		ck_assert_int_eq(mvcc_lease_grant(s, id, id), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		ck_assert_int_eq(put_lease(k, "v", i < 200 ? 7 : 8), 0);
	}
	struct mvcc_op ops[] = { put_op("k0001", "w"), put_op("n1", "w"), put_op("n2", "w"), del_op("k0250", NO_END),
				 put_op("k0260", "w") };
	for (size_t i = 0; i < 3; i++)
		ops[i].put.lease = 8;
	struct mvcc_txn_req t = { .success = ops, .n_success = 5 };
	struct mvcc_op txn = { .type = MVCC_OP_TXN, .txn = &t };
	for (int what = 0; what < 4; what++) {
		char *before = dump();
		char keys8[1024];
		size_t keys7 = mvcc_lease_key_count(s, 7);
		snprintf(keys8, sizeof(keys8), "%s", lease_keys(s, 8));
		size_t leases = mvcc_lease_count(s);
		unsigned long nth;
		int rv = -ENOMEM;
		for (nth = 1; rv == -ENOMEM; nth++) {
			alloc_fail_nth(nth);
			if (what == 0)
				rv = mvcc_lease_grant(s, 1000 + (int64_t)nth, 5);
			else if (what == 1)
				rv = exec(&txn);
			else if (what == 2)
				rv = revoke(7);
			else
				rv = revoke(8);
			bool failed = alloc_failed();
			alloc_fail_nth(0);
			if (rv == -ENOMEM) {
				ck_assert(failed);
				char *now = dump();
				ck_assert_msg(!strcmp(before, now), "%d: allocation %lu: the store changed", what, nth);
				free(now);
				ck_assert_int_eq(mvcc_lease_count(s), leases);
				ck_assert_int_eq(mvcc_lease_key_count(s, 7), keys7);
				ck_assert_str_eq(lease_keys(s, 8), keys8);
				ck_assert_int_eq(mvcc_index_check(s), 0);
			} else {
				ck_assert_int_eq(rv, 0);
			}
		}
		ck_assert_int_gt(nth, 2);
		free(before);
	}
	ck_assert_int_eq(mvcc_lease_count(s), 47);
	ck_assert_int_eq(mvcc_count(s), 1); /* k0260, put without a lease */
}
END_TEST

/* Many leases with a key each: grant, attach, move and revoke them all. */
START_TEST(test_lease_many)
{
	enum { N = 100000 };
	char k[32];
	for (int64_t i = 0; i < N; i++) {
		int64_t id = (i * 7919 + 13) % 1000003 + 1;
		ck_assert_int_eq(mvcc_lease_grant(s, id, 60), 0);
		snprintf(k, sizeof(k), "lock/%ld", (long)i);
		ck_assert_int_eq(put_lease(k, "v", id), 0);
	}
	ck_assert_int_eq(mvcc_lease_count(s), N);
	for (int64_t i = 0; i < N; i++) {
		int64_t id = (i * 7919 + 13) % 1000003 + 1;
		ck_assert_int_eq(mvcc_lease_key_count(s, id), 1);
		ck_assert_int_eq(revoke(id), 0);
		ck_assert_int_eq(res.op.del.deleted, 1);
	}
	ck_assert_int_eq(mvcc_lease_count(s), 0);
	ck_assert_int_eq(mvcc_count(s), 0);
	/* one lease with many keys: a detach each, then one revoke */
	ck_assert_int_eq(mvcc_lease_grant(s, 1, 60), 0);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "k%06d", i);
		ck_assert_int_eq(put_lease(k, "v", 1), 0);
	}
	for (int i = 0; i < N; i += 2) {
		snprintf(k, sizeof(k), "k%06d", i);
		ck_assert_int_eq(del(k, NO_END), 1);
	}
	ck_assert_int_eq(mvcc_lease_key_count(s, 1), N / 2);
	ck_assert_int_eq(revoke(1), 0);
	ck_assert_int_eq(res.op.del.deleted, N / 2);
	ck_assert_int_eq(mvcc_count(s), 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *su = suite_create("mvcc");
	TCase *tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_revisions);
	tcase_add_test(tc, test_future_and_compacted);
	tcase_add_test(tc, test_put_prev_kv);
	tcase_add_test(tc, test_put_ignore);
	tcase_add_test(tc, test_empty_key);
	tcase_add_test(tc, test_lease_check);
	tcase_add_test(tc, test_delete_range);
	tcase_add_test(tc, test_range_intervals);
	tcase_add_test(tc, test_prefix_end);
	tcase_add_test(tc, test_range_limit_sort);
	tcase_add_test(tc, test_range_only_and_filters);
	tcase_add_test(tc, test_txn_compares);
	tcase_add_test(tc, test_txn_one_revision);
	tcase_add_test(tc, test_txn_nested);
	tcase_add_test(tc, test_txn_duplicates);
	tcase_add_test(tc, test_txn_limits_and_errors);
	tcase_add_test(tc, test_compact);
	tcase_add_test(tc, test_compact_steps);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_txn_from_key_delete_then_put);
	tcase_add_test(tc, test_exec_range_and_codes);
	tcase_add_test(tc, test_views_outlive_writes);
	tcase_add_test(tc, test_hash);
	tcase_add_test(tc, test_last_events);
	suite_add_tcase(su, tc);

	tc = tcase_create("leases");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lease_grant);
	tcase_add_test(tc, test_lease_iter);
	tcase_add_test(tc, test_lease_attach_revoke);
	tcase_add_test(tc, test_lease_revoke_events);
	tcase_add_test(tc, test_lease_txn);
	tcase_add_test(tc, test_lease_restore);
	tcase_add_test(tc, test_lease_alloc_failures);
	tcase_add_test(tc, test_lease_many);
	suite_add_tcase(su, tc);

	tc = tcase_create("snapshot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_snapshot_roundtrip);
	tcase_add_test(tc, test_restore_refuses);
	tcase_add_test(tc, test_wide_versions);
	suite_add_tcase(su, tc);

	tc = tcase_create("alloc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(su, tc);

	tc = tcase_create("index");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_index_shapes);
	suite_add_tcase(su, tc);

	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_model_few_keys, 0, 4);
	tcase_add_loop_test(tc, test_model_many_keys, 0, 2);
	suite_add_tcase(su, tc);
	return su;
}
