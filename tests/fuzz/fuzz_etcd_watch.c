/* tests/fuzz/fuzz_etcd_watch.c — libFuzzer target for the etcd codec's
 * WatchRequest decoder and WatchResponse encoder (src/etcd/watch.c).
 *
 * The input is one WatchRequest as a client sends it. Properties: no crash,
 * leak or UB; 0 or -EBADMSG with a reason; protobuf-c's re-packing of a
 * decoded request decodes the same. A create request then replays the
 * history of its interval from its start revision on a small store (as
 * Watch does for a start revision in the past), and the response written
 * for those events, whole and in etcd's fragments (a small limit), unpacks
 * with protobuf-c to the same events and repacks to the very same bytes;
 * the fragments cover every event once, in order, each below the limit
 * unless it holds a single event. */
#include "tests/fuzz/fuzz_etcd.h"

struct fz_evs {
	struct mvcc_event ev[64];
	size_t n;
};

static int fz_collect(void *ctx, const struct mvcc_event *ev)
{
	struct fz_evs *e = ctx;
	if (e->n == sizeof(e->ev) / sizeof(e->ev[0]))
		return 1;
	e->ev[e->n++] = *ev;
	return 0;
}

static bool fz_kv_eq(const struct mvcc_kv *a, const Mvccpb__KeyValue *b)
{
	return b && fz_bytes_eq(a->key, a->key_len, b->key.data, b->key.len) &&
	       fz_bytes_eq(a->value, a->value_len, b->value.data, b->value.len) &&
	       a->create_revision == b->create_revision && a->mod_revision == b->mod_revision &&
	       a->version == b->version && a->lease == b->lease;
}

/* encodes, unpacks, compares with the events, repacks */
static void fz_check_watch(const struct etcd_header *h, const struct etcd_watch_resp *r)
{
	uint8_t *buf;
	size_t n;
	CHECK(etcd_watch_encode(h, r, &buf, &n) == 0);
	CHECK(n == etcd_watch_size(h, r));
	Etcdserverpb__WatchResponse *m = etcdserverpb__watch_response__unpack(NULL, n, buf);
	CHECK(m);
	CHECK(m->header && m->header->revision == h->revision && m->header->cluster_id == h->cluster_id);
	CHECK(m->watch_id == r->watch_id && m->created == r->created && m->canceled == r->canceled &&
	      m->fragment == r->fragment && m->compact_revision == r->compact_revision);
	CHECK(m->n_events == r->n_events);
	for (size_t i = 0; i < m->n_events; i++) {
		const struct mvcc_event *e = &r->events[i];
		CHECK((int)m->events[i]->type == (e->deleted ? 1 : 0));
		CHECK(fz_kv_eq(&e->kv, m->events[i]->kv));
		if (r->prev_kv && e->has_prev)
			CHECK(fz_kv_eq(&e->prev, m->events[i]->prev_kv));
		else
			CHECK(!m->events[i]->prev_kv);
	}
	size_t n2 = etcdserverpb__watch_response__get_packed_size(m);
	CHECK(n2 == n);
	uint8_t *again = malloc(n2 + 1);
	CHECK(again);
	CHECK(etcdserverpb__watch_response__pack(m, again) == n2);
	CHECK(memcmp(again, buf, n) == 0);
	free(again);
	etcdserverpb__watch_response__free_unpacked(m, NULL);

	/* the same events written once, as the hub does for many watchers */
	uint8_t *raw;
	size_t raw_len;
	CHECK(etcd_watch_events_encode(r->events, r->n_events, r->prev_kv, &raw, &raw_len) == 0);
	struct etcd_watch_resp rr = *r;
	rr.raw = raw;
	rr.raw_len = raw_len;
	rr.events = NULL;
	rr.n_events = 0;
	uint8_t *buf2;
	size_t n3;
	CHECK(etcd_watch_encode(h, &rr, &buf2, &n3) == 0);
	CHECK(n3 == n && memcmp(buf2, buf, n) == 0);
	free(buf2);
	free(raw);
	free(buf);
}

static void fz_watch(const struct etcd_watch_req *w)
{
	struct mvcc *s = fz_store();
	struct fz_evs e = { .n = 0 };
	int rv = mvcc_events(s, w->key, w->key_len, w->end, w->end_len, w->start_revision, 0, fz_collect, &e);
	/* below the compaction (-1 before any, as etcd: a start revision
	 * below that is answered with compact_revision -1) */
	CHECK(rv == 0 || rv == 1 || (rv == -MVCC_E_COMPACTED && w->start_revision < mvcc_compacted(s)));
	struct etcd_header h = { .cluster_id = 11, .member_id = 22, .revision = mvcc_revision(s), .raft_term = 44 };
	struct etcd_watch_resp r = { .watch_id = w->watch_id, .events = e.ev, .n_events = e.n,
				     .prev_kv = w->prev_kv, .created = w->no_put, .canceled = w->no_delete,
				     .compact_revision = w->start_revision,
				     .cancel_reason = w->progress_notify ? "mvcc: watcher range is empty" : NULL };
	fz_check_watch(&h, &r);

	/* fragments of a small limit */
	size_t limit = 40 + (size_t)(w->start_revision & 0x7f), done = 0;
	bool first = true;
	while (done < e.n || first) {
		struct etcd_watch_resp f = r;
		f.events = e.ev + done;
		f.n_events = e.n - done;
		f.fragment = !first;
		size_t k = etcd_watch_fragment(&h, &f, limit);
		CHECK(k >= (f.n_events ? 1u : 0u) && k <= f.n_events);
		f.fragment = done + k < e.n;
		f.n_events = k;
		CHECK(k == 1 || !f.fragment || etcd_watch_size(&h, &f) < limit);
		fz_check_watch(&h, &f);
		done += k;
		first = false;
	}
	mvcc_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_watch_req w;
	char err[128];
	int rv = etcd_watch_decode(data, size, &w, err, sizeof(err));
	if (rv < 0) {
		CHECK(rv == -EBADMSG);
		CHECK(err[0] && strlen(err) < sizeof(err));
		CHECK(!w.priv);
		etcd_watch_req_free(&w);
		return 0;
	}
	Etcdserverpb__WatchRequest *m = etcdserverpb__watch_request__unpack(NULL, size, data);
	CHECK(m);
	size_t n = etcdserverpb__watch_request__get_packed_size(m);
	uint8_t *again = malloc(n + 1);
	CHECK(again);
	CHECK(etcdserverpb__watch_request__pack(m, again) == n);
	etcdserverpb__watch_request__free_unpacked(m, NULL);
	struct etcd_watch_req w2;
	CHECK(etcd_watch_decode(again, n, &w2, err, sizeof(err)) == 0);
	free(again);
	CHECK(w.kind == w2.kind && w.watch_id == w2.watch_id && w.start_revision == w2.start_revision &&
	      w.progress_notify == w2.progress_notify && w.prev_kv == w2.prev_kv && w.fragment == w2.fragment &&
	      w.no_put == w2.no_put && w.no_delete == w2.no_delete &&
	      fz_bytes_eq(w.key, w.key_len, w2.key, w2.key_len) && fz_bytes_eq(w.end, w.end_len, w2.end, w2.end_len));
	etcd_watch_req_free(&w2);
	if (w.kind == ETCD_WATCH_CREATE) {
		CHECK(w.key_len >= 1);
		fz_watch(&w);
	}
	etcd_watch_req_free(&w);
	etcd_watch_req_free(&w);
	return 0;
}
