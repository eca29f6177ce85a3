/* src/etcd/etcd.c — etcd's v3 KV messages <-> the MVCC store; see etcd.h.
 *
 * Requests are unpacked by protobuf-c (its code, generated from
 * proto/etcd/rpc.proto, is the schema's one reading) and then turned into
 * the store's structs, which point into the unpacked message. Responses
 * are written directly, without building protobuf-c structs: a size pass
 * then a write pass into one buffer, fields in number order and proto3's
 * zero values left out, as Go's encoder writes them.
 */
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "etcd/rpc.pb-c.h"
#include "src/etcd/etcd.h"
#include "src/etcd/etcd_int.h"

/* ---- requests ---- */

/* What a decoded request owns: the unpacked message, and the arrays of the
 * store's structs its txns point to. */
struct chunk {
	struct chunk *next;
	max_align_t data[];
};

struct priv {
	ProtobufCMessage *msg;
	struct chunk *chunks;
};

/* protobuf-c's allocations go through the allocation seam (tests fail the
 * Nth), and a failure is told apart from a malformed message: protobuf-c
 * answers NULL for both. */
struct pb_alloc {
	ProtobufCAllocator a;
	bool failed;
};

static void *pb_malloc(void *data, size_t size)
{
	void *p = base_malloc(size ? size : 1);
	if (!p)
		((struct pb_alloc *)data)->failed = true;
	return p;
}

static void pb_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static void *priv_alloc(struct priv *pv, size_t n, size_t size)
{
	if (n && size > (SIZE_MAX - sizeof(struct chunk)) / n)
		return NULL;
	struct chunk *c = base_malloc(sizeof(*c) + n * size);
	if (!c)
		return NULL;
	c->next = pv->chunks;
	pv->chunks = c;
	return c->data;
}

static void bad(char *err, size_t err_len, const char *msg)
{
	if (err_len)
		snprintf(err, err_len, "%s", msg);
}

static void bad_protobuf(char *err, size_t err_len, const ProtobufCMessageDescriptor *desc)
{
	if (err_len)
		snprintf(err, err_len, "invalid protobuf: %s", desc->short_name);
}

static void too_deep(char *err, size_t err_len)
{
	if (err_len)
		snprintf(err, err_len, "invalid request: txns nested deeper than %d levels", ETCD_TXN_DEPTH_MAX);
}

/* Every request's bytes are walked before protobuf-c sees them, for two
 * reasons.
 *
 * protobuf-c unpacks nested messages by recursion, without a bound, and a
 * TxnRequest nests (TxnRequest.success/failure -> RequestOp.request_txn ->
 * TxnRequest ...) at 4 bytes a level: 1.5 MiB would be ~390k levels deep,
 * past any stack. The walk keeps its own stack, and a txn nested deeper
 * than ETCD_TXN_DEPTH_MAX is refused.
 *
 * And protobuf-c reads a few things Go's decoder (etcd's) refuses: field
 * number 0 when its tag is written in more than one byte, field numbers
 * past 2^29 - 1. The walk refuses them in every message of the schema
 * (the contents of unknown fields are opaque to both). Beyond that it is
 * as strict as protobuf-c about the framing (a truncated field, a length
 * past its message, groups): what it lets through, protobuf-c decides. */
enum scan_type { SCAN_LEAF, SCAN_TXN, SCAN_OP };

static const uint8_t *scan_varint(const uint8_t *p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70 && p < end; shift += 7) {
		uint8_t b = *p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return p;
		}
	}
	return NULL;
}

/* 0, 1 (malformed), 2 (nested too deep) */
static int scan_request(const uint8_t *p, size_t len, enum scan_type top_type)
{
	/* a txn level is a RequestOp and a TxnRequest; the innermost txn's
	 * op may hold a leaf (RangeRequest, PutRequest, DeleteRangeRequest) */
	struct {
		const uint8_t *end;
		enum scan_type type;
	} stack[2 * ETCD_TXN_DEPTH_MAX + 2];
	size_t top = 0;
	unsigned txns = 1;

	if (len == 0)
		return 0;
	stack[0].end = p + len;
	stack[0].type = top_type;
	for (;;) {
		if (p == stack[top].end) {
			if (top == 0)
				return 0;
			if (stack[top].type == SCAN_TXN)
				txns--;
			top--;
			continue;
		}
		const uint8_t *end = stack[top].end;
		uint64_t tag, v;
		if (!(p = scan_varint(p, end, &tag)) || tag >> 3 == 0 || tag >> 3 > UINT32_C(0x1fffffff))
			return 1;
		switch (tag & 7) {
		case 0:
			if (!(p = scan_varint(p, end, &v)))
				return 1;
			break;
		case 1:
			if (end - p < 8)
				return 1;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return 1;
			p += 4;
			break;
		case 2: {
			if (!(p = scan_varint(p, end, &v)) || v > (uint64_t)(end - p))
				return 1;
			uint64_t field = tag >> 3;
			enum scan_type from = stack[top].type, t;
			if (from == SCAN_TXN && field == 1)
				t = SCAN_LEAF; /* Compare */
			else if (from == SCAN_TXN && (field == 2 || field == 3))
				t = SCAN_OP;
			else if (from == SCAN_OP && field >= 1 && field <= 3)
				t = SCAN_LEAF;
			else if (from == SCAN_OP && field == 4)
				t = SCAN_TXN;
			else {
				p += v; /* bytes, or an unknown field */
				break;
			}
			if (v == 0)
				break;
			if (t == SCAN_TXN && ++txns > ETCD_TXN_DEPTH_MAX)
				return 2;
			if (top + 1 >= sizeof(stack) / sizeof(stack[0]))
				return 2;
			top++;
			stack[top].end = p + v;
			stack[top].type = t;
			break;
		}
		default:
			return 1; /* groups (3, 4), as protobuf-c, and 6, 7 */
		}
	}
}

static void conv_range(const Etcdserverpb__RangeRequest *r, struct mvcc_range_req *out)
{
	/* Enum values without a name stay as they are: mvcc_check() refuses
	 * them as etcd's checkRangeRequest does (invalid sort option). */
	*out = (struct mvcc_range_req){
		.key = r->key.data,
		.key_len = r->key.len,
		.end = r->range_end.data,
		.end_len = r->range_end.len,
		.limit = r->limit,
		.revision = r->revision,
		.sort_order = (enum mvcc_sort_order)r->sort_order,
		.sort_target = (enum mvcc_sort_target)r->sort_target,
		.keys_only = r->keys_only,
		.count_only = r->count_only,
		.min_mod = r->min_mod_revision,
		.max_mod = r->max_mod_revision,
		.min_create = r->min_create_revision,
		.max_create = r->max_create_revision,
	};
}

static void conv_put(const Etcdserverpb__PutRequest *r, struct mvcc_put_req *out)
{
	*out = (struct mvcc_put_req){
		.key = r->key.data,
		.key_len = r->key.len,
		.value = r->value.data,
		.value_len = r->value.len,
		.lease = r->lease,
		.prev_kv = r->prev_kv,
		.ignore_value = r->ignore_value,
		.ignore_lease = r->ignore_lease,
	};
}

static void conv_delete(const Etcdserverpb__DeleteRangeRequest *r, struct mvcc_delete_req *out)
{
	*out = (struct mvcc_delete_req){
		.key = r->key.data,
		.key_len = r->key.len,
		.end = r->range_end.data,
		.end_len = r->range_end.len,
		.prev_kv = r->prev_kv,
	};
}

/* etcd's compareKV reads target_union only through the member its target
 * names: a VERSION compare whose union holds create_revision compares
 * against 0, a VALUE compare without value against "". A target or result
 * without a name is kept: the store evaluates them as etcd (a target it
 * does not know compares 0 with the number, here 0; a result it does not
 * know holds). */
static void conv_compare(const Etcdserverpb__Compare *c, struct mvcc_compare *out)
{
	*out = (struct mvcc_compare){
		.target = (enum mvcc_cmp_target)c->target,
		.result = (enum mvcc_cmp_result)c->result,
		.key = c->key.data,
		.key_len = c->key.len,
		.end = c->range_end.data,
		.end_len = c->range_end.len,
	};
	switch (c->target_union_case) {
	case ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION:
		if (c->target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION)
			out->number = c->version;
		break;
	case ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION:
		if (c->target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE)
			out->number = c->create_revision;
		break;
	case ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION:
		if (c->target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD)
			out->number = c->mod_revision;
		break;
	case ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE:
		if (c->target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE)
			out->number = c->lease;
		break;
	case ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE:
		if (c->target == ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE) {
			out->value = c->value.data;
			out->value_len = c->value.len;
		}
		break;
	default:
		break;
	}
}

static int conv_txn(struct priv *pv, const Etcdserverpb__TxnRequest *t, unsigned depth,
		    const struct mvcc_txn_req **ret, char *err, size_t err_len);

static int conv_op(struct priv *pv, const Etcdserverpb__RequestOp *r, unsigned depth, struct mvcc_op *out,
		   char *err, size_t err_len)
{
	switch (r->request_case) {
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
		out->type = MVCC_OP_RANGE;
		conv_range(r->request_range, &out->range);
		return 0;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
		out->type = MVCC_OP_PUT;
		conv_put(r->request_put, &out->put);
		return 0;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
		out->type = MVCC_OP_DELETE;
		conv_delete(r->request_delete_range, &out->del);
		return 0;
	case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
		out->type = MVCC_OP_TXN;
		return conv_txn(pv, r->request_txn, depth + 1, &out->txn, err, err_len);
	default:
		/* etcd 3.4 applies a txn with such an op in its branch by
		 * dereferencing a response it never made (apply.go applyTxn):
		 * refused here before it is logged. */
		bad(err, err_len, "invalid request: a txn op (RequestOp) without a request");
		return -EBADMSG;
	}
}

static int conv_ops(struct priv *pv, Etcdserverpb__RequestOp *const *ops, size_t n, unsigned depth,
		    const struct mvcc_op **ret, char *err, size_t err_len)
{
	struct mvcc_op *out = NULL;
	*ret = NULL;
	if (n && !(out = priv_alloc(pv, n, sizeof(*out))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rv = conv_op(pv, ops[i], depth, &out[i], err, err_len);
		if (rv < 0)
			return rv;
	}
	*ret = out;
	return 0;
}

static int conv_txn(struct priv *pv, const Etcdserverpb__TxnRequest *t, unsigned depth,
		    const struct mvcc_txn_req **ret, char *err, size_t err_len)
{
	struct mvcc_txn_req *out;
	struct mvcc_compare *cmp = NULL;
	int rv;

	/* scan_request() bounds it already; this keeps the recursion
	 * bounded whatever protobuf-c made of repeated fields */
	if (depth > ETCD_TXN_DEPTH_MAX) {
		too_deep(err, err_len);
		return -EBADMSG;
	}
	if (!(out = priv_alloc(pv, 1, sizeof(*out))))
		return -ENOMEM;
	*out = (struct mvcc_txn_req){ 0 };
	if (t->n_compare && !(cmp = priv_alloc(pv, t->n_compare, sizeof(*cmp))))
		return -ENOMEM;
	for (size_t i = 0; i < t->n_compare; i++)
		conv_compare(t->compare[i], &cmp[i]);
	out->compare = cmp;
	out->n_compare = t->n_compare;
	if ((rv = conv_ops(pv, t->success, t->n_success, depth, &out->success, err, err_len)) < 0)
		return rv;
	out->n_success = t->n_success;
	if ((rv = conv_ops(pv, t->failure, t->n_failure, depth, &out->failure, err, err_len)) < 0)
		return rv;
	out->n_failure = t->n_failure;
	*ret = out;
	return 0;
}

static const ProtobufCMessageDescriptor *descriptor_of(enum etcd_kind kind)
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

static const ProtobufCAllocator free_allocator = { .alloc = pb_malloc, .free = pb_free };

void etcd_req_free(struct etcd_req *req)
{
	struct priv *pv = req->priv;
	if (pv) {
		if (pv->msg)
			protobuf_c_message_free_unpacked(pv->msg, (ProtobufCAllocator *)&free_allocator);
		for (struct chunk *c = pv->chunks, *next; c; c = next) {
			next = c->next;
			free(c);
		}
		free(pv);
	}
	*req = (struct etcd_req){ 0 };
}

int etcd_decode(enum etcd_kind kind, const uint8_t *msg, size_t len, struct etcd_req *ret, char *err,
		size_t err_len)
{
	const ProtobufCMessageDescriptor *desc = descriptor_of(kind);
	struct pb_alloc alloc = { .a = { .alloc = pb_malloc, .free = pb_free } };
	struct priv *pv;
	int rv = 0;

	*ret = (struct etcd_req){ .kind = kind };
	if (err_len)
		err[0] = '\0';
	if (!desc) {
		bad(err, err_len, "invalid request: unknown kind");
		return -EBADMSG;
	}
	int s = scan_request(msg, len, kind == ETCD_TXN ? SCAN_TXN : SCAN_LEAF);
	if (s) {
		if (s == 1)
			bad_protobuf(err, err_len, desc);
		else
			too_deep(err, err_len);
		return -EBADMSG;
	}
	if (!(pv = base_calloc(1, sizeof(*pv))))
		return -ENOMEM;
	ret->priv = pv;
	alloc.a.allocator_data = &alloc;
	pv->msg = protobuf_c_message_unpack(desc, &alloc.a, len, msg);
	if (!pv->msg) {
		if (alloc.failed) {
			rv = -ENOMEM;
		} else {
			bad_protobuf(err, err_len, desc);
			rv = -EBADMSG;
		}
		goto out;
	}
	switch (kind) {
	case ETCD_PUT:
		ret->op.type = MVCC_OP_PUT;
		conv_put((const Etcdserverpb__PutRequest *)pv->msg, &ret->op.put);
		break;
	case ETCD_DELETE:
		ret->op.type = MVCC_OP_DELETE;
		conv_delete((const Etcdserverpb__DeleteRangeRequest *)pv->msg, &ret->op.del);
		break;
	case ETCD_RANGE: {
		const Etcdserverpb__RangeRequest *r = (const Etcdserverpb__RangeRequest *)pv->msg;
		ret->op.type = MVCC_OP_RANGE;
		conv_range(r, &ret->op.range);
		ret->serializable = r->serializable;
		break;
	}
	case ETCD_TXN:
		ret->op.type = MVCC_OP_TXN;
		rv = conv_txn(pv, (const Etcdserverpb__TxnRequest *)pv->msg, 1, &ret->op.txn, err, err_len);
		break;
	case ETCD_COMPACT: {
		const Etcdserverpb__CompactionRequest *c = (const Etcdserverpb__CompactionRequest *)pv->msg;
		ret->compact_rev = c->revision;
		ret->physical = c->physical;
		break;
	}
	case ETCD_LEASE_GRANT: {
		const Etcdserverpb__LeaseGrantRequest *g = (const Etcdserverpb__LeaseGrantRequest *)pv->msg;
		ret->lease_id = g->id;
		ret->lease_ttl = g->ttl;
		break;
	}
	case ETCD_LEASE_REVOKE:
		ret->lease_id = ((const Etcdserverpb__LeaseRevokeRequest *)pv->msg)->id;
		break;
	}
out:
	if (rv < 0) {
		etcd_req_free(ret);
		ret->kind = kind;
	}
	return rv;
}

static bool write_kind(int kind)
{
	return kind == ETCD_PUT || kind == ETCD_DELETE || kind == ETCD_TXN || kind == ETCD_COMPACT ||
	       kind == ETCD_LEASE_GRANT || kind == ETCD_LEASE_REVOKE;
}

int etcd_decode_entry(const uint8_t *payload, size_t len, struct etcd_req *ret, char *err, size_t err_len)
{
	*ret = (struct etcd_req){ 0 };
	if (len == 0 || !write_kind(payload[0])) {
		if (err_len) {
			if (len == 0)
				snprintf(err, err_len, "raftd:v3: empty payload");
			else
				snprintf(err, err_len, "raftd:v3: unknown kind 0x%02x", payload[0]);
		}
		return -EBADMSG;
	}
	return etcd_decode((enum etcd_kind)payload[0], payload + 1, len - 1, ret, err, err_len);
}

int etcd_entry_payload(enum etcd_kind kind, const uint8_t *msg, size_t len, uint8_t **ret_buf, size_t *ret_len)
{
	*ret_buf = NULL;
	*ret_len = 0;
	if (!write_kind((int)kind))
		return -EINVAL;
	if (len > SIZE_MAX - 1)
		return -ENOMEM;
	uint8_t *buf = base_malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	buf[0] = (uint8_t)kind;
	if (len)
		memcpy(buf + 1, msg, len);
	*ret_buf = buf;
	*ret_len = len + 1;
	return 0;
}

int etcd_check(const struct etcd_req *req)
{
	switch (req->kind) {
	case ETCD_PUT:
	case ETCD_DELETE:
	case ETCD_TXN:
	case ETCD_RANGE:
		return mvcc_check(&req->op, ETCD_MAX_TXN_OPS);
	case ETCD_COMPACT:
	case ETCD_LEASE_GRANT:
	case ETCD_LEASE_REVOKE:
		return 0;
	}
	return -EINVAL;
}

/* ---- responses ----
 *
 * Every message is sized first (a nested message's length goes before
 * it), then written. Field numbers are all below 16: one tag byte. */

struct hdr {
	uint64_t cluster_id, member_id;
	int64_t revision;
	uint64_t raft_term;
};

/* The state of a txn's execution as etcd's apply sees it, for the headers
 * of its puts and deletes: a put answers the txn's new revision, a delete
 * that deleted nothing before any change the revision the txn began at
 * (mvcc's storeTxnWrite.Put and DeleteRange). */
struct txn_state {
	int64_t begin;
	bool changed;
};

static size_t hdr_size(const struct hdr *h)
{
	return uint_field_size(h->cluster_id) + uint_field_size(h->member_id) +
	       uint_field_size((uint64_t)h->revision) + uint_field_size(h->raft_term);
}

static uint8_t *put_hdr(uint8_t *p, const struct hdr *h)
{
	p = put_msg_head(p, 1, hdr_size(h));
	p = put_uint_field(p, 1, h->cluster_id);
	p = put_uint_field(p, 2, h->member_id);
	p = put_uint_field(p, 3, (uint64_t)h->revision);
	return put_uint_field(p, 4, h->raft_term);
}

/* mvccpb.KeyValue */
static size_t kv_size(const struct mvcc_kv *kv)
{
	return bytes_field_size(kv->key_len) + uint_field_size((uint64_t)kv->create_revision) +
	       uint_field_size((uint64_t)kv->mod_revision) + uint_field_size((uint64_t)kv->version) +
	       bytes_field_size(kv->value_len) + uint_field_size((uint64_t)kv->lease);
}

static uint8_t *put_kv(uint8_t *p, unsigned field, const struct mvcc_kv *kv)
{
	p = put_msg_head(p, field, kv_size(kv));
	p = put_bytes_field(p, 1, kv->key, kv->key_len);
	p = put_uint_field(p, 2, (uint64_t)kv->create_revision);
	p = put_uint_field(p, 3, (uint64_t)kv->mod_revision);
	p = put_uint_field(p, 4, (uint64_t)kv->version);
	p = put_bytes_field(p, 5, kv->value, kv->value_len);
	return put_uint_field(p, 6, (uint64_t)kv->lease);
}

static size_t range_size(const struct hdr *h, const struct mvcc_range_resp *r)
{
	size_t n = msg_field_size(hdr_size(h));
	for (size_t i = 0; i < r->n_kvs; i++)
		n += msg_field_size(kv_size(&r->kvs[i]));
	return n + (r->more ? 2 : 0) + uint_field_size((uint64_t)r->count);
}

static uint8_t *put_range(uint8_t *p, const struct hdr *h, const struct mvcc_range_resp *r)
{
	p = put_hdr(p, h);
	for (size_t i = 0; i < r->n_kvs; i++)
		p = put_kv(p, 2, &r->kvs[i]);
	p = put_uint_field(p, 3, r->more);
	return put_uint_field(p, 4, (uint64_t)r->count);
}

static size_t put_resp_size(const struct hdr *h, const struct mvcc_put_resp *r)
{
	return msg_field_size(hdr_size(h)) + (r->has_prev ? msg_field_size(kv_size(&r->prev)) : 0);
}

static uint8_t *put_put(uint8_t *p, const struct hdr *h, const struct mvcc_put_resp *r)
{
	p = put_hdr(p, h);
	return r->has_prev ? put_kv(p, 2, &r->prev) : p;
}

static size_t delete_size(const struct hdr *h, const struct mvcc_delete_resp *r)
{
	size_t n = msg_field_size(hdr_size(h)) + uint_field_size((uint64_t)r->deleted);
	for (size_t i = 0; i < r->n_prev; i++)
		n += msg_field_size(kv_size(&r->prev_kvs[i]));
	return n;
}

static uint8_t *put_delete(uint8_t *p, const struct hdr *h, const struct mvcc_delete_resp *r)
{
	p = put_hdr(p, h);
	p = put_uint_field(p, 2, (uint64_t)r->deleted);
	for (size_t i = 0; i < r->n_prev; i++)
		p = put_kv(p, 3, &r->prev_kvs[i]);
	return p;
}

/* The header etcd gives an op's response inside a txn: only the revision
 * (etcd's hdr.fill() runs on the outer response alone), and for a nested
 * txn none at all (an empty header, as newTxnResp makes it). Advances st
 * past the op, but not past a nested txn: txn_size()/put_txn() do that. */
static struct hdr op_hdr(const struct mvcc_op_resp *r, struct txn_state *st)
{
	struct hdr h = { 0 };
	switch (r->type) {
	case MVCC_OP_RANGE:
		h.revision = r->range.revision;
		break;
	case MVCC_OP_PUT:
		h.revision = st->begin + 1;
		st->changed = true;
		break;
	case MVCC_OP_DELETE:
		h.revision = r->del.deleted || st->changed ? st->begin + 1 : st->begin;
		if (r->del.deleted)
			st->changed = true;
		break;
	case MVCC_OP_TXN:
		break;
	}
	return h;
}

static size_t txn_size(const struct hdr *h, const struct mvcc_txn_resp *t, struct txn_state *st);

/* ResponseOp's inner size; advances st */
static size_t op_size(const struct mvcc_op_resp *r, struct txn_state *st)
{
	struct hdr h = op_hdr(r, st);
	switch (r->type) {
	case MVCC_OP_RANGE: return msg_field_size(range_size(&h, &r->range));
	case MVCC_OP_PUT: return msg_field_size(put_resp_size(&h, &r->put));
	case MVCC_OP_DELETE: return msg_field_size(delete_size(&h, &r->del));
	case MVCC_OP_TXN: return msg_field_size(txn_size(&h, r->txn, st));
	}
	return 0;
}

static size_t txn_size(const struct hdr *h, const struct mvcc_txn_resp *t, struct txn_state *st)
{
	size_t n = msg_field_size(hdr_size(h)) + (t->succeeded ? 2 : 0);
	for (size_t i = 0; i < t->n_resps; i++)
		n += msg_field_size(op_size(&t->resps[i], st));
	return n;
}

static uint8_t *put_txn(uint8_t *p, const struct hdr *h, const struct mvcc_txn_resp *t, struct txn_state *st);

static uint8_t *put_op(uint8_t *p, const struct mvcc_op_resp *r, struct txn_state *st)
{
	struct txn_state before = *st;
	p = put_msg_head(p, 3, op_size(r, &before));
	struct hdr h = op_hdr(r, st);
	switch (r->type) {
	case MVCC_OP_RANGE:
		p = put_msg_head(p, 1, range_size(&h, &r->range));
		return put_range(p, &h, &r->range);
	case MVCC_OP_PUT:
		p = put_msg_head(p, 2, put_resp_size(&h, &r->put));
		return put_put(p, &h, &r->put);
	case MVCC_OP_DELETE:
		p = put_msg_head(p, 3, delete_size(&h, &r->del));
		return put_delete(p, &h, &r->del);
	case MVCC_OP_TXN: {
		struct txn_state sized = *st;
		p = put_msg_head(p, 4, txn_size(&h, r->txn, &sized));
		return put_txn(p, &h, r->txn, st);
	}
	}
	return p;
}

static uint8_t *put_txn(uint8_t *p, const struct hdr *h, const struct mvcc_txn_resp *t, struct txn_state *st)
{
	p = put_hdr(p, h);
	p = put_uint_field(p, 2, t->succeeded);
	for (size_t i = 0; i < t->n_resps; i++)
		p = put_op(p, &t->resps[i], st);
	return p;
}

/* Whether a txn changed anything: a put, or a delete that deleted. */
static bool txn_changed(const struct mvcc_txn_resp *t)
{
	for (size_t i = 0; i < t->n_resps; i++) {
		const struct mvcc_op_resp *r = &t->resps[i];
		if (r->type == MVCC_OP_PUT || (r->type == MVCC_OP_DELETE && r->del.deleted) ||
		    (r->type == MVCC_OP_TXN && txn_changed(r->txn)))
			return true;
	}
	return false;
}

static enum mvcc_op_type op_type_of(enum etcd_kind kind)
{
	switch (kind) {
	case ETCD_PUT: return MVCC_OP_PUT;
	case ETCD_DELETE: return MVCC_OP_DELETE;
	case ETCD_TXN: return MVCC_OP_TXN;
	case ETCD_RANGE:
	case ETCD_COMPACT:
	case ETCD_LEASE_GRANT:
	case ETCD_LEASE_REVOKE: break;
	}
	return MVCC_OP_RANGE;
}

int etcd_encode_response(enum etcd_kind kind, const struct etcd_header *h, const struct mvcc_result *res,
			 uint8_t **ret_buf, size_t *ret_len)
{
	struct hdr top = { h->cluster_id, h->member_id, h->revision, h->raft_term };
	struct txn_state st = { 0 };
	size_t n = 0;
	uint8_t *buf, *end = NULL;

	*ret_buf = NULL;
	*ret_len = 0;
	if (!descriptor_of(kind) || kind == ETCD_LEASE_GRANT)
		return -EINVAL;
	if (kind == ETCD_LEASE_REVOKE) {
		if (res)
			top.revision = res->revision;
	} else if (kind != ETCD_COMPACT) {
		if (!res || res->op.type != op_type_of(kind))
			return -EINVAL;
		/* the revision etcd's apply put in the header; hdr.fill()
		 * keeps it */
		top.revision = res->revision;
	}
	switch (kind) {
	case ETCD_COMPACT:
	case ETCD_LEASE_REVOKE: n = msg_field_size(hdr_size(&top)); break;
	case ETCD_LEASE_GRANT: return -EINVAL; /* refused above */
	case ETCD_RANGE: n = range_size(&top, &res->op.range); break;
	case ETCD_PUT: n = put_resp_size(&top, &res->op.put); break;
	case ETCD_DELETE: n = delete_size(&top, &res->op.del); break;
	case ETCD_TXN:
		st.begin = res->revision - (txn_changed(res->op.txn) ? 1 : 0);
		struct txn_state sized = st;
		n = txn_size(&top, res->op.txn, &sized);
		break;
	}
	if (!(buf = base_malloc(n)))
		return -ENOMEM;
	switch (kind) {
	case ETCD_COMPACT:
	case ETCD_LEASE_REVOKE: end = put_hdr(buf, &top); break;
	case ETCD_LEASE_GRANT: break;
	case ETCD_RANGE: end = put_range(buf, &top, &res->op.range); break;
	case ETCD_PUT: end = put_put(buf, &top, &res->op.put); break;
	case ETCD_DELETE: end = put_delete(buf, &top, &res->op.del); break;
	case ETCD_TXN: end = put_txn(buf, &top, res->op.txn, &st); break;
	}
	if ((size_t)(end - buf) != n) {
		/* the two passes disagree: a bug, never bytes on the wire */
		free(buf);
		return -EINVAL;
	}
	*ret_buf = buf;
	*ret_len = n;
	return 0;
}

/* ---- errors and IDs ---- */

int etcd_status(int err, const char **ret_message)
{
	if (err == -EBADMSG) {
		*ret_message = "invalid protobuf";
		return 3; /* INVALID_ARGUMENT */
	}
	*ret_message = mvcc_strerror(err);
	return mvcc_grpc_code(err);
}

uint64_t etcd_member_id(const char *name, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h ? h : 1;
}
