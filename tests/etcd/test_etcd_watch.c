/* tests/etcd/test_etcd_watch.c — the Watch messages of the etcd codec
 * (src/etcd/watch.c): WatchRequests packed by protobuf-c decode field by
 * field with etcd's readings (an empty key is "\0", unknown filters are
 * ignored, an empty union is nothing); malformed bytes are refused;
 * responses are byte for byte what protobuf-c packs for the same message
 * (negative IDs and compact revisions included), and fragments split as
 * etcd's sendFragments(). */
#include <check.h>
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/rpc.pb-c.h"
#include "src/etcd/etcd.h"
#include "src/mvcc/mvcc.h"
#include "tests/lib/check_main.h"

#define BIN(s) ((ProtobufCBinaryData){ sizeof(s) - 1, (uint8_t *)(s) })

static int decode(const Etcdserverpb__WatchRequest *m, struct etcd_watch_req *w)
{
	size_t n = etcdserverpb__watch_request__get_packed_size(m);
	uint8_t *buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	etcdserverpb__watch_request__pack(m, buf);
	char err[128];
	int rv = etcd_watch_decode(buf, n, w, err, sizeof(err));
	free(buf);
	return rv;
}

START_TEST(test_decode_create)
{
	Etcdserverpb__WatchCreateRequest c = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	Etcdserverpb__WatchRequest m = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCreateRequest__FilterType f[3] = {
		ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE, 9, 9
	};
	c.key = BIN("foo");
	c.range_end = BIN("fop");
	c.start_revision = 7;
	c.progress_notify = true;
	c.prev_kv = true;
	c.fragment = true;
	c.watch_id = 42;
	c.filters = f;
	c.n_filters = 3;
	m.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	m.create_request = &c;
	struct etcd_watch_req w;
	ck_assert_int_eq(decode(&m, &w), 0);
	ck_assert_int_eq(w.kind, ETCD_WATCH_CREATE);
	ck_assert_uint_eq(w.key_len, 3);
	ck_assert(!memcmp(w.key, "foo", 3));
	ck_assert_uint_eq(w.end_len, 3);
	ck_assert(!memcmp(w.end, "fop", 3));
	ck_assert_int_eq(w.start_revision, 7);
	ck_assert(w.progress_notify && w.prev_kv && w.fragment && w.no_delete && !w.no_put);
	ck_assert_int_eq(w.watch_id, 42);
	etcd_watch_req_free(&w);

	/* etcd: an empty key is "\0", the smallest key; "\0" as end stays */
	c = (Etcdserverpb__WatchCreateRequest)ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	c.range_end = BIN("\0");
	c.filters = f;
	f[0] = ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT;
	c.n_filters = 1;
	ck_assert_int_eq(decode(&m, &w), 0);
	ck_assert_uint_eq(w.key_len, 1);
	ck_assert_int_eq(w.key[0], 0);
	ck_assert_uint_eq(w.end_len, 1);
	ck_assert(w.no_put && !w.no_delete);
	etcd_watch_req_free(&w);
	etcd_watch_req_free(&w);
}
END_TEST

START_TEST(test_decode_cancel_progress_none)
{
	Etcdserverpb__WatchCancelRequest c = ETCDSERVERPB__WATCH_CANCEL_REQUEST__INIT;
	Etcdserverpb__WatchProgressRequest p = ETCDSERVERPB__WATCH_PROGRESS_REQUEST__INIT;
	Etcdserverpb__WatchRequest m = ETCDSERVERPB__WATCH_REQUEST__INIT;
	struct etcd_watch_req w;
	c.watch_id = -5;
	m.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST;
	m.cancel_request = &c;
	ck_assert_int_eq(decode(&m, &w), 0);
	ck_assert_int_eq(w.kind, ETCD_WATCH_CANCEL);
	ck_assert_int_eq(w.watch_id, -5);
	etcd_watch_req_free(&w);
	m.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST;
	m.progress_request = &p;
	ck_assert_int_eq(decode(&m, &w), 0);
	ck_assert_int_eq(w.kind, ETCD_WATCH_PROGRESS);
	etcd_watch_req_free(&w);
	ck_assert_int_eq(etcd_watch_decode(NULL, 0, &w, NULL, 0), 0);
	ck_assert_int_eq(w.kind, ETCD_WATCH_NONE);
	etcd_watch_req_free(&w);
}
END_TEST

START_TEST(test_decode_bad)
{
	static const struct {
		const char *b;
		size_t n;
	} bad[] = {
		{ "\x0a\x05\x0a\x01", 4 },	  /* truncated create */
		{ "\x80\x00\x00", 3 },		  /* field 0 in two bytes */
		{ "\x0a\x03\x80\x00\x00", 5 },	  /* the same inside the create */
		{ "\x0b", 1 },			  /* a group */
		{ "\x12\x02\x08", 3 },		  /* a cut varint */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct etcd_watch_req w;
		char err[64];
		ck_assert_int_eq(etcd_watch_decode((const uint8_t *)bad[i].b, bad[i].n, &w, err, sizeof(err)), -EBADMSG);
		ck_assert(strstr(err, "invalid protobuf"));
		ck_assert_ptr_null(w.priv);
	}
}
END_TEST

/* the codec's bytes against protobuf-c's packing of the same message */
static void same_as_pbc(const struct etcd_header *h, const struct etcd_watch_resp *r)
{
	uint8_t *buf;
	size_t n;
	ck_assert_int_eq(etcd_watch_encode(h, r, &buf, &n), 0);
	Etcdserverpb__WatchResponse *m = etcdserverpb__watch_response__unpack(NULL, n, buf);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->watch_id, r->watch_id);
	ck_assert_int_eq(m->compact_revision, r->compact_revision);
	ck_assert_int_eq(m->created, r->created);
	ck_assert_int_eq(m->canceled, r->canceled);
	ck_assert_uint_eq(m->n_events, r->n_events);
	size_t n2 = etcdserverpb__watch_response__get_packed_size(m);
	ck_assert_uint_eq(n2, n);
	uint8_t *again = malloc(n2);
	etcdserverpb__watch_response__pack(m, again);
	ck_assert(!memcmp(again, buf, n));
	free(again);
	etcdserverpb__watch_response__free_unpacked(m, NULL);
	free(buf);
}

START_TEST(test_encode)
{
	struct etcd_header h = { .cluster_id = 1, .member_id = 2, .revision = 9, .raft_term = 3 };
	struct etcd_watch_resp created = { .watch_id = 0, .created = true };
	same_as_pbc(&h, &created);
	struct etcd_watch_resp refused = { .watch_id = -1, .created = true, .canceled = true,
					   .cancel_reason = "mvcc: watcher range is empty" };
	same_as_pbc(&h, &refused);
	struct etcd_watch_resp compacted = { .watch_id = 3, .canceled = true, .compact_revision = 5 };
	struct etcd_header h0 = { .cluster_id = 1, .member_id = 2, .raft_term = 3 };
	same_as_pbc(&h0, &compacted);
	struct etcd_watch_resp progress = { .watch_id = -1 };
	same_as_pbc(&h, &progress);

	struct mvcc_event evs[2] = {
		{ .kv = { .key = (const uint8_t *)"a", .key_len = 1, .value = (const uint8_t *)"x", .value_len = 1,
			  .create_revision = 2, .mod_revision = 9, .version = 2 },
		  .has_prev = true,
		  .prev = { .key = (const uint8_t *)"a", .key_len = 1, .value = (const uint8_t *)"w", .value_len = 1,
			    .create_revision = 2, .mod_revision = 2, .version = 1 } },
		{ .deleted = true, .sub = 1, .kv = { .key = (const uint8_t *)"b", .key_len = 1, .mod_revision = 9 } },
	};
	struct etcd_watch_resp ev = { .watch_id = 7, .events = evs, .n_events = 2 };
	same_as_pbc(&h, &ev);
	ev.prev_kv = true;
	same_as_pbc(&h, &ev);
	uint8_t *buf;
	size_t n;
	ck_assert_int_eq(etcd_watch_encode(&h, &ev, &buf, &n), 0);
	Etcdserverpb__WatchResponse *m = etcdserverpb__watch_response__unpack(NULL, n, buf);
	ck_assert_ptr_nonnull(m->events[0]->prev_kv);
	ck_assert_int_eq(m->events[0]->prev_kv->mod_revision, 2);
	ck_assert_int_eq(m->events[1]->type, MVCCPB__EVENT__EVENT_TYPE__DELETE);
	ck_assert_ptr_null(m->events[1]->prev_kv);
	etcdserverpb__watch_response__free_unpacked(m, NULL);
	free(buf);
}
END_TEST

START_TEST(test_fragment)
{
	struct etcd_header h = { .cluster_id = 1, .member_id = 2, .revision = 9, .raft_term = 3 };
	static char val[100];
	struct mvcc_event evs[10];
	for (size_t i = 0; i < 10; i++)
		evs[i] = (struct mvcc_event){ .kv = { .key = (const uint8_t *)"k", .key_len = 1,
						     .value = (const uint8_t *)val, .value_len = sizeof(val),
						     .mod_revision = 9, .version = 1 } };
	struct etcd_watch_resp r = { .watch_id = 1, .events = evs, .n_events = 10 };
	size_t whole = etcd_watch_size(&h, &r), one = etcd_watch_event_size(&evs[0], false);
	/* below the limit: one response */
	ck_assert_uint_eq(etcd_watch_fragment(&h, &r, whole + 1), 10);
	/* at the limit: pieces of what stays below it */
	size_t limit = whole - 5 * one + 3; /* flagged: 2 bytes more */
	size_t k = etcd_watch_fragment(&h, &r, limit);
	ck_assert_uint_eq(k, 5);
	r.events += k;
	r.n_events -= k;
	r.fragment = true;
	ck_assert_uint_eq(etcd_watch_fragment(&h, &r, limit), 5);
	/* a limit below one event: one event a piece */
	r = (struct etcd_watch_resp){ .watch_id = 1, .events = evs, .n_events = 10 };
	ck_assert_uint_eq(etcd_watch_fragment(&h, &r, 10), 1);
	r.n_events = 1;
	ck_assert_uint_eq(etcd_watch_fragment(&h, &r, 10), 1);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("etcd_watch");
	TCase *t = tcase_create("watch");
	tcase_add_test(t, test_decode_create);
	tcase_add_test(t, test_decode_cancel_progress_none);
	tcase_add_test(t, test_decode_bad);
	tcase_add_test(t, test_encode);
	tcase_add_test(t, test_fragment);
	suite_add_tcase(s, t);
	return s;
}
