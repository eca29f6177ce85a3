/* tests/proto/test_etcdpb.c — etcd's v3 schema as protobuf-c compiles it
 * (proto/etcd/): every request and response message of the five services
 * round-trips with every field set, and the bytes Debian's etcdctl 3.4
 * sent (tests/proto/etcdctl-wire.txt) decode to what the command asked and
 * re-encode to the same bytes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/rpc.pb-c.h"
#include "tests/lib/check_main.h"

static const ProtobufCServiceDescriptor *const services[] = {
	&etcdserverpb__kv__descriptor,	    &etcdserverpb__watch__descriptor,
	&etcdserverpb__lease__descriptor,   &etcdserverpb__cluster__descriptor,
	&etcdserverpb__maintenance__descriptor,
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

static void fill(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m, int depth);

/* One value of field f at p, different from the default. */
static void fill_one(const ProtobufCFieldDescriptor *f, void *p, int depth, unsigned i)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		*(int32_t *)p = -(int32_t)(f->id + i);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*(uint32_t *)p = 0x80000000u + f->id + i;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		/* negative: ten-byte varints, as Go writes them */
		*(int64_t *)p = -(int64_t)(f->id + i);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *)p = 0x8000000000000000ull + f->id + i;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)p = 1;
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;
		*(int *)p = e->values[e->n_values - 1].value;
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *s = malloc(16);
		snprintf(s, 16, "s%u-%u", f->id, i);
		*(char **)p = s;
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = p;
		b->len = 3;
		b->data = malloc(3);
		memcpy(b->data, "\0\xff\x01", 3);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *md = f->descriptor;
		/* TxnRequest nests itself: stop after a few levels */
		if (depth >= 3) {
			*(ProtobufCMessage **)p = NULL;
			break;
		}
		ProtobufCMessage *sub = malloc(md->sizeof_message);
		fill(md, sub, depth + 1);
		*(ProtobufCMessage **)p = sub;
		break;
	}
	default:
		ck_abort_msg("field %s: type %d not in etcd's schema", f->name, f->type);
	}
}

static size_t type_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* Every field set; of a oneof, the first member. */
static void fill(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m, int depth)
{
	protobuf_c_message_init(d, m);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		void *p = (char *)m + f->offset;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *which = (uint32_t *)((char *)m + f->quantifier_offset);
			if (*which)
				continue;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 3)
				continue;
			*which = f->id;
			fill_one(f, p, depth, 0);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = 2, sz = type_size(f);
			uint8_t *arr = calloc(n, sz);
			for (size_t k = 0; k < n; k++)
				fill_one(f, arr + k * sz, depth, (unsigned)k);
			*(size_t *)((char *)m + f->quantifier_offset) = n;
			*(void **)p = arr;
		} else {
			fill_one(f, p, depth, 0);
		}
	}
}

static void round_trip(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = malloc(d->sizeof_message);
	fill(d, m, 0);
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *a = malloc(len ? len : 1);
	ck_assert_uint_eq(protobuf_c_message_pack(m, a), len);
	ProtobufCMessage *back = protobuf_c_message_unpack(d, NULL, len, a);
	ck_assert_msg(back != NULL, "%s: its own encoding does not decode", d->name);
	size_t len2 = protobuf_c_message_get_packed_size(back);
	ck_assert_uint_eq(len2, len);
	uint8_t *b = malloc(len ? len : 1);
	protobuf_c_message_pack(back, b);
	ck_assert_msg(memcmp(a, b, len) == 0, "%s: decoded and encoded again, the bytes differ", d->name);
	/* every non-empty message cut short is refused, never misread */
	if (len) {
		ProtobufCMessage *cut = protobuf_c_message_unpack(d, NULL, len - 1, a);
		if (cut) {
			/* a cut at a field boundary is a valid, shorter message */
			ck_assert_uint_lt(protobuf_c_message_get_packed_size(cut), len);
			protobuf_c_message_free_unpacked(cut, NULL);
		}
	}
	protobuf_c_message_free_unpacked(back, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	free(a);
	free(b);
}

START_TEST(test_round_trip_every_message)
{
	unsigned n = 0;
	for (size_t s = 0; s < N_SERVICES; s++) {
		for (unsigned i = 0; i < services[s]->n_methods; i++) {
			round_trip(services[s]->methods[i].input);
			round_trip(services[s]->methods[i].output);
			n += 2;
		}
	}
	round_trip(&mvccpb__event__descriptor);
	/* KV 5, Watch 1, Lease 5, Cluster 5, Maintenance 7 methods */
	ck_assert_uint_eq(n, 2 * 23);
}
END_TEST

/* The names and numbers clients see in :path. */
START_TEST(test_service_names)
{
	ck_assert_str_eq(etcdserverpb__kv__descriptor.name, "etcdserverpb.KV");
	ck_assert_str_eq(etcdserverpb__maintenance__descriptor.name, "etcdserverpb.Maintenance");
	ck_assert_str_eq(etcdserverpb__cluster__descriptor.name, "etcdserverpb.Cluster");
	ck_assert_str_eq(mvccpb__key_value__descriptor.name, "mvccpb.KeyValue");
	ck_assert_str_eq(etcdserverpb__response_header__descriptor.name, "etcdserverpb.ResponseHeader");
}
END_TEST

static const ProtobufCMessageDescriptor *request_of(const char *path)
{
	for (size_t s = 0; s < N_SERVICES; s++) {
		size_t nl = strlen(services[s]->name);
		if (path[0] != '/' || strncmp(path + 1, services[s]->name, nl) || path[1 + nl] != '/')
			continue;
		for (unsigned i = 0; i < services[s]->n_methods; i++)
			if (!strcmp(path + 2 + nl, services[s]->methods[i].name))
				return services[s]->methods[i].input;
	}
	return NULL;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (h[0] && h[1] && h[0] != '\n' && n < cap) {
		unsigned v;
		ck_assert_int_eq(sscanf(h, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static void check_fields(const char *args, const ProtobufCMessage *m)
{
	if (!strcmp(args, "put foo bar")) {
		const Etcdserverpb__PutRequest *p = (const void *)m;
		ck_assert(p->key.len == 3 && !memcmp(p->key.data, "foo", 3));
		ck_assert(p->value.len == 3 && !memcmp(p->value.data, "bar", 3));
		ck_assert(!p->prev_kv && !p->lease);
	} else if (!strcmp(args, "put --prev-kv --lease=1a k2 v2")) {
		const Etcdserverpb__PutRequest *p = (const void *)m;
		ck_assert(p->prev_kv);
		ck_assert_int_eq(p->lease, 0x1a);
	} else if (!strcmp(args, "get --prefix a --limit 5 --rev 7")) {
		const Etcdserverpb__RangeRequest *r = (const void *)m;
		ck_assert(r->range_end.len == 1 && r->range_end.data[0] == 'b');
		ck_assert_int_eq(r->limit, 5);
		ck_assert_int_eq(r->revision, 7);
	} else if (!strncmp(args, "get --from-key", 14)) {
		const Etcdserverpb__RangeRequest *r = (const void *)m;
		ck_assert(r->range_end.len == 1 && r->range_end.data[0] == 0);
		ck_assert_int_eq(r->sort_order, ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__DESCEND);
		ck_assert_int_eq(r->sort_target, ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__MOD);
		ck_assert(r->keys_only);
	} else if (!strcmp(args, "txn")) {
		const Etcdserverpb__TxnRequest *t = (const void *)m;
		ck_assert_uint_eq(t->n_compare, 1);
		ck_assert_int_eq(t->compare[0]->target, ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD);
		ck_assert_int_eq(t->compare[0]->result, ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER);
		ck_assert_int_eq(t->compare[0]->target_union_case, ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION);
		ck_assert_uint_eq(t->n_success, 1);
		ck_assert_int_eq(t->success[0]->request_case, ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT);
		ck_assert_uint_eq(t->n_failure, 1);
		ck_assert_int_eq(t->failure[0]->request_case, ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE);
	} else if (!strcmp(args, "compaction 5")) {
		ck_assert_int_eq(((const Etcdserverpb__CompactionRequest *)(const void *)m)->revision, 5);
	}
}

START_TEST(test_etcdctl_bytes)
{
	const char *srcdir = getenv("srcdir");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/proto/etcdctl-wire.txt", srcdir ? srcdir : ".");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	char line[1024];
	unsigned n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char *args = line, *meth = strchr(line, '|');
		ck_assert_ptr_nonnull(meth);
		*meth++ = '\0';
		char *hex = strchr(meth, '|');
		ck_assert_ptr_nonnull(hex);
		*hex++ = '\0';
		const ProtobufCMessageDescriptor *d = request_of(meth);
		ck_assert_msg(d != NULL, "%s: no such method", meth);
		uint8_t want[512], got[512];
		size_t len = unhex(hex, want, sizeof(want));
		ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, want);
		ck_assert_msg(m != NULL, "%s: etcdctl's bytes do not decode as %s", args, d->name);
		check_fields(args, m);
		ck_assert_uint_eq(protobuf_c_message_get_packed_size(m), len);
		protobuf_c_message_pack(m, got);
		ck_assert_msg(memcmp(got, want, len) == 0, "%s: protobuf-c encodes other bytes than etcdctl", args);
		protobuf_c_message_free_unpacked(m, NULL);
		n++;
	}
	fclose(f);
	ck_assert_uint_ge(n, 10);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("etcdpb");
	TCase *tc = tcase_create("schema");
	tcase_add_test(tc, test_round_trip_every_message);
	tcase_add_test(tc, test_service_names);
	tcase_add_test(tc, test_etcdctl_bytes);
	suite_add_tcase(s, tc);
	return s;
}
