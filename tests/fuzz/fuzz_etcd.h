/* tests/fuzz/fuzz_etcd.h — what the etcd codec's fuzz targets share
 * (tests/fuzz/fuzz_etcd_*.c, one per request decoder, and _entry for the
 * raftd:v3 log payload).
 *
 * The input is one request message as a client sends it (for _entry: the
 * log payload, a kind byte then the message). Properties: no crash, leak or
 * UB, whatever the bytes; etcd_decode() answers 0 or -EBADMSG with a
 * reason; a decoded request decodes the same again from protobuf-c's
 * re-packing of it (the codec reads the message, not its framing); when
 * etcd_check() accepts it, it runs on a small store (a range is read, a
 * compaction compacts, the rest mvcc_exec()), and the response the codec
 * writes for the result unpacks with protobuf-c, carries the result's
 * revision, and repacks to the very same bytes.
 *
 *   make -C build tests/fuzz/fuzz_etcd_txn && build/tests/fuzz/fuzz_etcd_txn
 */
#ifndef RAFTD_TESTS_FUZZ_ETCD_H
#define RAFTD_TESTS_FUZZ_ETCD_H

#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "etcd/rpc.pb-c.h"
#include "src/etcd/etcd.h"
#include "src/mvcc/mvcc.h"
#include "tests/fuzz/fuzz.h"

static bool fz_bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool fz_op_eq(const struct mvcc_op *a, const struct mvcc_op *b);

static bool fz_ops_eq(const struct mvcc_op *a, size_t na, const struct mvcc_op *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!fz_op_eq(&a[i], &b[i]))
			return false;
	return true;
}

static bool fz_op_eq(const struct mvcc_op *a, const struct mvcc_op *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case MVCC_OP_RANGE: {
		const struct mvcc_range_req *x = &a->range, *y = &b->range;
		return fz_bytes_eq(x->key, x->key_len, y->key, y->key_len) &&
		       fz_bytes_eq(x->end, x->end_len, y->end, y->end_len) && x->limit == y->limit &&
		       x->revision == y->revision && x->sort_order == y->sort_order &&
		       x->sort_target == y->sort_target && x->keys_only == y->keys_only &&
		       x->count_only == y->count_only && x->min_mod == y->min_mod && x->max_mod == y->max_mod &&
		       x->min_create == y->min_create && x->max_create == y->max_create;
	}
	case MVCC_OP_PUT: {
		const struct mvcc_put_req *x = &a->put, *y = &b->put;
		return fz_bytes_eq(x->key, x->key_len, y->key, y->key_len) &&
		       fz_bytes_eq(x->value, x->value_len, y->value, y->value_len) && x->lease == y->lease &&
		       x->prev_kv == y->prev_kv && x->ignore_value == y->ignore_value &&
		       x->ignore_lease == y->ignore_lease;
	}
	case MVCC_OP_DELETE: {
		const struct mvcc_delete_req *x = &a->del, *y = &b->del;
		return fz_bytes_eq(x->key, x->key_len, y->key, y->key_len) &&
		       fz_bytes_eq(x->end, x->end_len, y->end, y->end_len) && x->prev_kv == y->prev_kv;
	}
	case MVCC_OP_TXN: {
		const struct mvcc_txn_req *x = a->txn, *y = b->txn;
		if (x->n_compare != y->n_compare)
			return false;
		for (size_t i = 0; i < x->n_compare; i++) {
			const struct mvcc_compare *c = &x->compare[i], *d = &y->compare[i];
			if (c->target != d->target || c->result != d->result || c->number != d->number ||
			    !fz_bytes_eq(c->key, c->key_len, d->key, d->key_len) ||
			    !fz_bytes_eq(c->end, c->end_len, d->end, d->end_len) ||
			    !fz_bytes_eq(c->value, c->value_len, d->value, d->value_len))
				return false;
		}
		return fz_ops_eq(x->success, x->n_success, y->success, y->n_success) &&
		       fz_ops_eq(x->failure, x->n_failure, y->failure, y->n_failure);
	}
	}
	return false;
}

static const ProtobufCMessageDescriptor *fz_request_desc(enum etcd_kind kind)
{
	switch (kind) {
	case ETCD_PUT: return &etcdserverpb__put_request__descriptor;
	case ETCD_DELETE: return &etcdserverpb__delete_range_request__descriptor;
	case ETCD_TXN: return &etcdserverpb__txn_request__descriptor;
	case ETCD_COMPACT: return &etcdserverpb__compaction_request__descriptor;
	case ETCD_RANGE: return &etcdserverpb__range_request__descriptor;
	case ETCD_LEASE_GRANT: return &etcdserverpb__lease_grant_request__descriptor;
	case ETCD_LEASE_REVOKE: return &etcdserverpb__lease_revoke_request__descriptor;
	}
	return NULL;
}

static const ProtobufCMessageDescriptor *fz_response_desc(enum etcd_kind kind)
{
	switch (kind) {
	case ETCD_PUT: return &etcdserverpb__put_response__descriptor;
	case ETCD_DELETE: return &etcdserverpb__delete_range_response__descriptor;
	case ETCD_TXN: return &etcdserverpb__txn_response__descriptor;
	case ETCD_COMPACT: return &etcdserverpb__compaction_response__descriptor;
	case ETCD_RANGE: return &etcdserverpb__range_response__descriptor;
	case ETCD_LEASE_GRANT: return &etcdserverpb__lease_grant_response__descriptor;
	case ETCD_LEASE_REVOKE: return &etcdserverpb__lease_revoke_response__descriptor;
	}
	return NULL;
}

/* The store every input starts from: keys a, ab, b, c over a few
 * revisions, one of them deleted, one with lease 7 (the one lease). */
#define FZ_LEASE 7
static struct mvcc *fz_store(void)
{
	struct mvcc *s = mvcc_new();
	CHECK(s);
	CHECK(mvcc_lease_grant(s, FZ_LEASE, 60) == 0);
	static const char *const keys[] = { "a", "ab", "b", "c", "a" };
	for (size_t i = 0; i < 5; i++) {
		struct mvcc_op op = { .type = MVCC_OP_PUT,
				      .put = { .key = keys[i], .key_len = strlen(keys[i]), .value = "v",
					       .value_len = 1, .lease = i == 3 ? FZ_LEASE : 0 } };
		struct mvcc_result res;
		CHECK(mvcc_exec(s, &op, &res) == 0);
		mvcc_result_free(&res);
	}
	struct mvcc_op del = { .type = MVCC_OP_DELETE, .del = { .key = "b", .key_len = 1 } };
	struct mvcc_result res;
	CHECK(mvcc_exec(s, &del, &res) == 0);
	mvcc_result_free(&res);
	return s;
}

static const struct etcd_header fz_header = { .cluster_id = 11, .member_id = 22, .revision = 33, .raft_term = 44 };

/* The encoded response buf (freed here) unpacks, repacks the same, and
 * has the header; returns the unpacked message for more checks (the caller
 * frees it) when keep. */
static ProtobufCMessage *fz_check_encoded(enum etcd_kind kind, uint8_t *buf, size_t n, int64_t revision, bool keep);

static void fz_check_response(enum etcd_kind kind, const struct mvcc_result *res, int64_t revision)
{
	uint8_t *buf;
	size_t n;
	CHECK(etcd_encode_response(kind, &fz_header, res, &buf, &n) == 0);
	fz_check_encoded(kind, buf, n, revision, false);
}

static ProtobufCMessage *fz_check_encoded(enum etcd_kind kind, uint8_t *buf, size_t n, int64_t revision, bool keep)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(fz_response_desc(kind), NULL, n, buf);
	CHECK(m);
	size_t n2 = protobuf_c_message_get_packed_size(m);
	CHECK(n2 == n);
	uint8_t *again = malloc(n2 + 1);
	CHECK(again);
	CHECK(protobuf_c_message_pack(m, again) == n2);
	CHECK(memcmp(again, buf, n) == 0);
	/* every response's header is field 1, first */
	const Etcdserverpb__ResponseHeader *hdr = ((const Etcdserverpb__PutResponse *)m)->header;
	CHECK(hdr && hdr->cluster_id == 11 && hdr->member_id == 22 && hdr->raft_term == 44);
	CHECK(hdr->revision == revision);
	free(again);
	free(buf);
	if (keep)
		return m;
	protobuf_c_message_free_unpacked(m, NULL);
	return NULL;
}

static void fz_run(const struct etcd_req *r)
{
	struct mvcc *s = fz_store();
	struct mvcc_result res;
	int rv;
	switch (r->kind) {
	case ETCD_RANGE:
		rv = mvcc_read(s, &r->op.range, &res);
		CHECK(rv == 0 || rv == -MVCC_E_COMPACTED || rv == -MVCC_E_FUTURE_REV);
		if (rv == 0) {
			fz_check_response(r->kind, &res, res.revision);
			mvcc_result_free(&res);
		}
		break;
	case ETCD_COMPACT:
		rv = mvcc_compact(s, r->compact_rev);
		CHECK(rv == 0 || rv == -MVCC_E_COMPACTED || rv == -MVCC_E_FUTURE_REV);
		if (rv == 0)
			fz_check_response(r->kind, NULL, 33);
		break;
	case ETCD_PUT:
	case ETCD_DELETE:
	case ETCD_TXN:
		rv = mvcc_exec(s, &r->op, &res);
		CHECK(rv == 0 || rv == -MVCC_E_KEY_NOT_FOUND || rv == -MVCC_E_COMPACTED ||
		      rv == -MVCC_E_FUTURE_REV || rv == -E2BIG || rv == -MVCC_E_LEASE_NOT_FOUND);
		if (rv == 0) {
			CHECK(res.revision == mvcc_revision(s));
			fz_check_response(r->kind, &res, res.revision);
			mvcc_result_free(&res);
		}
		break;
	case ETCD_LEASE_GRANT: {
		/* etcd's lessor: ID 0, then the TTL, then a reused ID */
		int64_t id = r->lease_id, ttl = r->lease_ttl, got;
		rv = mvcc_lease_grant(s, id, ttl);
		if (!id)
			CHECK(rv == -MVCC_E_LEASE_NOT_FOUND);
		else if (ttl > MVCC_LEASE_TTL_MAX)
			CHECK(rv == -MVCC_E_LEASE_TTL_TOO_LARGE && mvcc_grpc_code(rv) == 11);
		else if (id == FZ_LEASE)
			CHECK(rv == -MVCC_E_LEASE_EXISTS && mvcc_grpc_code(rv) == 9);
		else
			CHECK(rv == 0 && mvcc_lease_get(s, id, &got) && got == ttl && mvcc_lease_count(s) == 2);
		if (rv == 0) {
			uint8_t *buf;
			size_t n;
			CHECK(etcd_lease_grant_response(&fz_header, id, ttl, &buf, &n) == 0);
			Etcdserverpb__LeaseGrantResponse *g =
				(Etcdserverpb__LeaseGrantResponse *)fz_check_encoded(r->kind, buf, n, 33, true);
			CHECK(g->id == id && g->ttl == ttl);
			protobuf_c_message_free_unpacked(&g->base, NULL);
		}
		break;
	}
	case ETCD_LEASE_REVOKE: {
		int64_t rev = mvcc_revision(s);
		rv = mvcc_lease_revoke(s, r->lease_id, &res);
		if (r->lease_id == FZ_LEASE) {
			/* its one key goes in one revision */
			CHECK(rv == 0 && res.op.del.deleted == 1 && res.revision == rev + 1 && !mvcc_lease_count(s));
			fz_check_response(r->kind, &res, res.revision);
			mvcc_result_free(&res);
		} else {
			CHECK(rv == -MVCC_E_LEASE_NOT_FOUND && mvcc_revision(s) == rev);
		}
		break;
	}
	}
	mvcc_free(s);
}

/* One request message of a kind: decode, decode protobuf-c's re-packing
 * the same, check, run, encode. */
static void fz_request(enum etcd_kind kind, const uint8_t *data, size_t size)
{
	struct etcd_req r;
	char err[128];
	int rv = etcd_decode(kind, data, size, &r, err, sizeof(err));
	if (rv < 0) {
		CHECK(rv == -EBADMSG);
		CHECK(err[0] && strlen(err) < sizeof(err));
		CHECK(!r.priv);
		etcd_req_free(&r);
		return;
	}
	CHECK(rv == 0 && r.kind == kind);

	ProtobufCMessage *m = protobuf_c_message_unpack(fz_request_desc(kind), NULL, size, data);
	CHECK(m);
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *again = malloc(n + 1);
	CHECK(again);
	CHECK(protobuf_c_message_pack(m, again) == n);
	protobuf_c_message_free_unpacked(m, NULL);
	struct etcd_req r2;
	CHECK(etcd_decode(kind, again, n, &r2, err, sizeof(err)) == 0);
	free(again);
	if (kind == ETCD_COMPACT)
		CHECK(r.compact_rev == r2.compact_rev && r.physical == r2.physical);
	else if (kind == ETCD_LEASE_GRANT || kind == ETCD_LEASE_REVOKE)
		CHECK(r.lease_id == r2.lease_id && r.lease_ttl == r2.lease_ttl);
	else
		CHECK(fz_op_eq(&r.op, &r2.op) && r.serializable == r2.serializable);
	etcd_req_free(&r2);

	rv = etcd_check(&r);
	CHECK(rv == 0 || (-rv >= MVCC_E_BASE && -rv < MVCC_E_END));
	if (rv == 0)
		fz_run(&r);
	else
		CHECK(mvcc_grpc_code(rv) == 3);
	etcd_req_free(&r);
	etcd_req_free(&r);
}

#endif
