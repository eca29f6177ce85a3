/* src/raftd/v3_watch.c — etcd's Watch service (etcd 3.4's v3rpc/watch.go
 * and mvcc/watchable_store.go, without their goroutines) and the hub of
 * watchers that GET /db/K?wait=true shares.
 *
 * A watcher is synced or unsynced. A synced one has seen every revision up
 * to the store's, or gets the rest from the hub's queue: v3_watch_applied(),
 * called by the driver after each applied entry that moved the revision,
 * copies that revision's events there (mvcc_last_events(): no walk of the
 * key space), and the fan-out hands them out a bounded number per loop
 * pass, so that many watchers do not hold the loop past the heartbeats;
 * past the queue's bound its watchers go to the history. An unsynced one is
 * behind: its start revision was in the past, or its stream's output was
 * full. It catches up from the store's history (mvcc_events()) in bounded
 * batches of whole revisions, a few per loop pass, and is synced again once
 * it reaches the store's revision. Nothing is queued for a watcher beyond
 * what the gRPC call's budget takes: when grpc_send() refuses (-ENOBUFS),
 * the watcher becomes unsynced at the revision it did not get, and the
 * stream's on_writable brings the catch-up back. Each watcher thus gets
 * every revision exactly once, in order, and memory per stream is the
 * call's budget plus its watchers. A watcher whose next revision is
 * compacted meanwhile is canceled with compact_revision, as etcd's: the
 * client re-watches from there.
 *
 * Events are matched and written once per revision for every watcher that
 * gets the same ones (the same matched events and the same prev_kv): the
 * bytes go into each watcher's response as they are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "src/etcd/etcd.h"
#include "src/raftd/log.h"
#include "src/raftd/node_int.h"
#include "src/raftd/v3.h"

/* etcd's progressReportInterval */
#define PROGRESS_MS_DEFAULT (10u * 60 * 1000)
/* a catch-up response: whole revisions, up to about these (etcd's
 * watchBatchMaxRevs is 1000 revisions) */
#define BATCH_EVENTS 1000
#define BATCH_BYTES (256u * 1024)
/* catch-up work per loop pass, in events, over every watcher */
#define PASS_EVENTS 4096
/* the fan-out of new revisions to synced watchers, per loop pass, in
 * events matched: past it the fan-out goes on in the next pass, so that
 * many watchers cannot hold the loop past the Raft heartbeats */
#define FANOUT_EVENTS 4096
/* revisions waiting for their fan-out (copied events and their encoded
 * bytes); past either bound the watchers still behind catch up from the
 * history instead and the queue is dropped */
#define FANOUT_REVS_MAX 4096
#define FANOUT_BYTES_MAX (64u * 1024 * 1024)
/* control responses (created, canceled, progress) a stream holds while its
 * output is full; a client that sends requests without reading answers
 * past this loses the stream */
#define CTRL_MAX 1024
/* watchers on one stream (etcd has no bound; a client opening millions
 * must not cost the node without one) */
#define STREAM_WATCHERS_MAX 100000

struct wstream;

struct watcher {
	struct watcher *prev, *next; /* in the hub's synced or unsynced list */
	struct wstream *st;	     /* NULL: an internal watcher */
	int64_t id;
	uint8_t *key, *end;
	size_t key_len, end_len;
	/* the first revision not yet delivered; events of it already sent in
	 * fragments are skipped (skip of them) */
	int64_t next_rev;
	size_t skip;
	bool synced, prev_kv, fragment, no_put, no_delete;
	bool progress_notify, progress_idle, frag_cont;
	bool dead;
	v3_watch_fn *fn; /* internal */
	void *fn_ctx;
};

struct ctrl_msg {
	struct ctrl_msg *next;
	size_t len;
	uint8_t data[];
};

struct wstream {
	struct wstream *prev, *next; /* the hub's */
	struct grpc_call *call;
	struct node *n;
	struct watcher **slots; /* open addressing by ID; NULL empty, TOMB removed */
	size_t cap, count, used;
	int64_t next_id;
	struct ctrl_msg *ctrl, **ctrl_tail;
	size_t n_ctrl;
	bool blocked; /* grpc_send() refused: wait for on_writable */
	bool allowed, dead;
};

struct v3_watch_hub {
	struct node *n;
	struct watcher synced, unsynced; /* list heads */
	struct wstream streams;
	struct loop_timer catchup, progress;
	uint64_t progress_ms;
	uint64_t fanout_budget; /* FANOUT_EVENTS, or the test knob */
	size_t fanout_revs_max; /* FANOUT_REVS_MAX, or the test knob */
	/* revisions applied, not yet handed to every synced watcher that
	 * wants them; in revision order, the last one last_rev */
	struct pending *q_head, **q_tail;
	size_t q_revs, q_bytes;
	int64_t last_rev; /* the revision the synced watchers have seen */
	struct v3_watch_stats stats;
};

static struct watcher tomb_;
#define TOMB (&tomb_)

/* ---- lists ---- */

static void list_init(struct watcher *h)
{
	h->prev = h->next = h;
}

static void list_del(struct watcher *w)
{
	if (w->next) {
		w->prev->next = w->next;
		w->next->prev = w->prev;
	}
	w->prev = w->next = NULL;
}

static void list_add(struct watcher *h, struct watcher *w)
{
	w->prev = h->prev;
	w->next = h;
	h->prev->next = w;
	h->prev = w;
}

/* In the next loop pass, not this one: the loop fires a timer armed for
 * now again in the pass that fires it, so a bounded step re-arming itself
 * with a delay of 0 would never let the loop's I/O run in between. */
static void arm_catchup(struct v3_watch_hub *hub)
{
	if (!loop_timer_armed(&hub->catchup))
		loop_timer_arm_at(&hub->n->loop, &hub->catchup, loop_now_ns(&hub->n->loop) + 1);
}

static void set_synced(struct v3_watch_hub *hub, struct watcher *w, bool synced)
{
	list_del(w);
	w->synced = synced;
	list_add(synced ? &hub->synced : &hub->unsynced, w);
	if (!synced)
		arm_catchup(hub);
}

/* Behind from rev on (events of rev not yet sent). */
static void unsync_at(struct v3_watch_hub *hub, struct watcher *w, int64_t rev)
{
	if (w->next_rev < rev) {
		w->next_rev = rev;
		w->skip = 0;
	}
	set_synced(hub, w, false);
}

/* ---- a stream's watchers by ID ---- */

static uint64_t id_hash(int64_t id)
{
	uint64_t x = (uint64_t)id * UINT64_C(0x9e3779b97f4a7c15);
	return x ^ (x >> 29);
}

static struct watcher **slot_of(struct wstream *st, int64_t id, bool for_insert)
{
	size_t mask = st->cap - 1, i = id_hash(id) & mask;
	struct watcher **free_slot = NULL;
	for (;;) {
		struct watcher *w = st->slots[i];
		if (!w)
			return for_insert && free_slot ? free_slot : &st->slots[i];
		if (w == TOMB) {
			if (!free_slot)
				free_slot = &st->slots[i];
		} else if (w->id == id) {
			return &st->slots[i];
		}
		i = (i + 1) & mask;
	}
}

static struct watcher *find(struct wstream *st, int64_t id)
{
	if (!st->cap)
		return NULL;
	struct watcher *w = *slot_of(st, id, false);
	return w == TOMB ? NULL : w;
}

static int grow(struct wstream *st)
{
	if (st->cap && (st->used + 1) * 4 < st->cap * 3)
		return 0;
	size_t cap = st->cap ? st->cap : 16;
	while ((st->count + 1) * 2 > cap)
		cap *= 2;
	struct watcher **old = st->slots;
	size_t old_cap = st->cap;
	if (!(st->slots = base_calloc(cap, sizeof(*st->slots)))) {
		st->slots = old;
		return -ENOMEM;
	}
	st->cap = cap;
	st->used = st->count;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i] && old[i] != TOMB)
			*slot_of(st, old[i]->id, true) = old[i];
	free(old);
	return 0;
}

static void unindex(struct wstream *st, struct watcher *w)
{
	struct watcher **s = slot_of(st, w->id, false);
	if (*s == w) {
		*s = TOMB;
		st->count--;
	}
}

/* ---- watchers ---- */

static size_t watcher_bytes(const struct watcher *w)
{
	return sizeof(*w) + w->key_len + w->end_len;
}

static void watcher_free(struct v3_watch_hub *hub, struct watcher *w)
{
	list_del(w);
	hub->stats.watchers--;
	hub->stats.bytes -= watcher_bytes(w);
	free(w->key);
	free(w->end);
	free(w);
}

static struct watcher *watcher_new(struct v3_watch_hub *hub, const uint8_t *key, size_t key_len,
				   const uint8_t *end, size_t end_len)
{
	struct watcher *w = base_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->key = base_malloc(key_len ? key_len : 1);
	w->end = base_malloc(end_len ? end_len : 1);
	if (!w->key || !w->end) {
		free(w->key);
		free(w->end);
		free(w);
		return NULL;
	}
	if (key_len)
		memcpy(w->key, key, key_len);
	if (end_len)
		memcpy(w->end, end, end_len);
	w->key_len = key_len;
	w->end_len = end_len;
	hub->stats.watchers++;
	hub->stats.bytes += watcher_bytes(w);
	return w;
}

static int bcmp_len(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t m = al < bl ? al : bl;
	int c = m ? memcmp(a, b, m) : 0;
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* the key in the watcher's interval (mvcc.h's reading of key and end) */
static bool in_range(const struct watcher *w, const uint8_t *key, size_t len)
{
	if (w->end_len == 0)
		return len == w->key_len && !bcmp_len(key, len, w->key, w->key_len);
	if (bcmp_len(key, len, w->key, w->key_len) < 0)
		return false;
	if (w->end_len == 1 && w->end[0] == 0)
		return true;
	return bcmp_len(key, len, w->end, w->end_len) < 0;
}

static bool wants(const struct watcher *w, const struct mvcc_event *ev)
{
	if (ev->deleted ? w->no_delete : w->no_put)
		return false;
	return in_range(w, ev->kv.key, ev->kv.key_len);
}

/* ---- sending ---- */

static void stream_fail(struct wstream *st, enum grpc_status code, const char *msg);

static void header(struct node *n, int64_t rev, struct etcd_header *h)
{
	v3_header(n, h);
	h->revision = rev;
}

/* Queues a response; 0, -ENOBUFS (the stream is then blocked), or another
 * error (the stream is then ended). */
static int send_msg(struct wstream *st, const uint8_t *buf, size_t len)
{
	int rv = grpc_send(st->call, buf, len);
	if (rv == 0) {
		st->n->watch_hub->stats.responses++;
		return 0;
	}
	if (rv == -ENOBUFS) {
		st->blocked = true;
		st->n->watch_hub->stats.blocked++;
		return rv;
	}
	stream_fail(st, GRPC_RESOURCE_EXHAUSTED, "etcdserver: watch response not sent");
	return rv;
}

/* A control response: sent now, or after what the stream holds already. */
static void send_ctrl(struct wstream *st, const struct etcd_header *h, const struct etcd_watch_resp *r)
{
	uint8_t *buf;
	size_t len;
	if (st->dead)
		return;
	if (etcd_watch_encode(h, r, &buf, &len) < 0) {
		stream_fail(st, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	if (!st->ctrl && !st->blocked) {
		int rv = send_msg(st, buf, len);
		if (rv != -ENOBUFS) {
			free(buf);
			return;
		}
	}
	struct ctrl_msg *m;
	if (st->n_ctrl >= CTRL_MAX || !(m = base_malloc(sizeof(*m) + len))) {
		free(buf);
		stream_fail(st, GRPC_RESOURCE_EXHAUSTED, "etcdserver: too many watch requests without reading the answers");
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->data, buf, len);
	free(buf);
	*st->ctrl_tail = m;
	st->ctrl_tail = &m->next;
	st->n_ctrl++;
	st->n->watch_hub->stats.bytes += sizeof(*m) + len;
}

/* The held control responses, as far as the call takes them. */
static void flush_ctrl(struct wstream *st)
{
	struct v3_watch_hub *hub = st->n->watch_hub;
	while (st->ctrl && !st->dead) {
		struct ctrl_msg *m = st->ctrl;
		if (send_msg(st, m->data, m->len) < 0)
			return;
		st->ctrl = m->next;
		if (!st->ctrl)
			st->ctrl_tail = &st->ctrl;
		st->n_ctrl--;
		hub->stats.bytes -= sizeof(*m) + m->len;
		free(m);
	}
}

/* Sends evs (events the watcher wants, of revisions from w->next_rev on)
 * with a header at rev, in fragments when the client asked for them.
 * Returns how many went out: all, or (the stream full) the first k; the
 * watcher's next_rev/skip/frag_cont say where it stands. */
static size_t deliver(struct watcher *w, int64_t rev, const struct mvcc_event *evs, size_t n, const uint8_t *raw,
		      size_t raw_len)
{
	struct wstream *st = w->st;
	struct etcd_header h;
	header(st->n, rev, &h);
	struct etcd_watch_resp r = { .watch_id = w->id, .events = evs, .n_events = n, .prev_kv = w->prev_kv };
	size_t done = 0;

	w->progress_idle = false;
	if (!w->fragment && !w->frag_cont && raw) {
		r.raw = raw;
		r.raw_len = raw_len;
		r.events = NULL;
		r.n_events = 0;
	}
	while (done < n) {
		struct etcd_watch_resp piece = r;
		size_t k = n - done;
		if (!r.raw_len) {
			piece.events = evs + done;
			piece.n_events = k;
			if (w->fragment) {
				piece.fragment = w->frag_cont;
				k = etcd_watch_fragment(&h, &piece, V3_MAX_REQUEST);
				piece.n_events = k;
				piece.fragment = done + k < n;
			}
		}
		uint8_t *buf;
		size_t len;
		if (etcd_watch_encode(&h, &piece, &buf, &len) < 0) {
			stream_fail(st, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
			return done;
		}
		int rv = send_msg(st, buf, len);
		free(buf);
		if (rv < 0)
			break;
		st->n->watch_hub->stats.events += k;
		/* where a cut would resume: past these events */
		for (size_t i = done; i < done + k; i++) {
			if (evs[i].kv.mod_revision != w->next_rev) {
				w->next_rev = evs[i].kv.mod_revision;
				w->skip = 0;
			}
			w->skip++;
		}
		done += k;
		w->frag_cont = piece.fragment;
	}
	return done;
}

/* ---- the hub ---- */

static void on_catchup(struct loop_timer *t);
static void on_progress(struct loop_timer *t);

static struct v3_watch_hub *hub_of(struct node *n)
{
	if (n->watch_hub)
		return n->watch_hub;
	struct v3_watch_hub *hub = base_calloc(1, sizeof(*hub));
	if (!hub)
		return NULL;
	hub->n = n;
	list_init(&hub->synced);
	list_init(&hub->unsynced);
	hub->streams.prev = hub->streams.next = &hub->streams;
	loop_timer_init(&hub->catchup, on_catchup);
	loop_timer_init(&hub->progress, on_progress);
	/* a hidden knob for tests: etcd's interval is fixed */
	const char *env = getenv("RAFTD_WATCH_PROGRESS_MS");
	hub->progress_ms = env && atoi(env) > 0 ? (uint64_t)atoi(env) : PROGRESS_MS_DEFAULT;
	/* and one that makes the budget engage with few watchers */
	env = getenv("RAFTD_WATCH_FANOUT_EVENTS");
	hub->fanout_budget = env && atoi(env) > 0 ? (uint64_t)atoi(env) : FANOUT_EVENTS;
	env = getenv("RAFTD_WATCH_FANOUT_REVS");
	hub->fanout_revs_max = env && atoi(env) > 0 ? (size_t)atoi(env) : FANOUT_REVS_MAX;
	hub->q_tail = &hub->q_head;
	hub->last_rev = mvcc_revision(kv_mvcc_const(n->kv));
	n->watch_hub = hub;
	return hub;
}

/* Frees the dead streams' and watchers' memory: they are marked dead where
 * lists are being walked, and go here, outside any walk. */
static void reap(struct v3_watch_hub *hub)
{
	for (struct wstream *st = hub->streams.next, *next; st != &hub->streams; st = next) {
		next = st->next;
		if (!st->dead)
			continue;
		for (size_t i = 0; i < st->cap; i++)
			if (st->slots[i] && st->slots[i] != TOMB)
				watcher_free(hub, st->slots[i]);
		free(st->slots);
		while (st->ctrl) {
			struct ctrl_msg *m = st->ctrl;
			st->ctrl = m->next;
			hub->stats.bytes -= sizeof(*m) + m->len;
			free(m);
		}
		st->prev->next = st->next;
		st->next->prev = st->prev;
		hub->stats.streams--;
		hub->stats.bytes -= sizeof(*st);
		free(st);
	}
	struct watcher *heads[2] = { &hub->synced, &hub->unsynced };
	for (int k = 0; k < 2; k++) {
		for (struct watcher *w = heads[k]->next, *next; w != heads[k]; w = next) {
			next = w->next;
			if (w->dead && !w->st)
				watcher_free(hub, w);
		}
	}
}

static void stream_fail(struct wstream *st, enum grpc_status code, const char *msg)
{
	if (st->dead)
		return;
	st->dead = true;
	grpc_call_set_user(st->call, NULL);
	grpc_finish(st->call, code, msg);
	st->call = NULL;
}

static void stream_gone(struct wstream *st)
{
	st->dead = true;
	st->call = NULL;
}

/* A watcher of a stream leaves (canceled, compacted). */
static void watcher_drop(struct v3_watch_hub *hub, struct watcher *w)
{
	unindex(w->st, w);
	watcher_free(hub, w);
}

/* etcd's compacted answer: the header without a revision, canceled, the
 * compaction's revision; the watch is gone (the client re-watches). */
static bool send_compacted(struct v3_watch_hub *hub, struct watcher *w, int64_t compacted)
{
	struct etcd_header h;
	header(hub->n, 0, &h);
	struct etcd_watch_resp r = { .watch_id = w->id, .canceled = true, .compact_revision = compacted };
	uint8_t *buf;
	size_t len;
	if (etcd_watch_encode(&h, &r, &buf, &len) < 0)
		return false;
	int rv = send_msg(w->st, buf, len);
	free(buf);
	if (rv < 0)
		return false;
	hub->stats.compacted++;
	watcher_drop(hub, w);
	return true;
}

/* ---- after apply: the synced watchers ---- */

struct evbuf {
	struct mvcc_event *ev;
	size_t n, cap;
	bool failed;
};

static int collect(void *ctx, const struct mvcc_event *ev)
{
	struct evbuf *b = ctx;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		struct mvcc_event *e = base_realloc(b->ev, cap * sizeof(*e));
		if (!e) {
			b->failed = true;
			return -ENOMEM;
		}
		b->ev = e;
		b->cap = cap;
	}
	b->ev[b->n++] = *ev;
	return 0;
}

/* Identical sets of matched events (and prev_kv) share their bytes: one
 * write of a revision's events for a thousand watchers of one prefix. */
struct enc_cache {
	uint64_t mask;
	bool prev_kv;
	uint8_t *raw;
	size_t raw_len;
};
#define ENC_CACHE 8

/* A revision waiting for its fan-out: its events with their keys and
 * values copied (the store's views die at its next compaction step), and
 * the bytes written for its watchers so far. */
struct pending {
	struct pending *next;
	int64_t rev;
	struct mvcc_event *ev;
	size_t n, bytes;
	struct enc_cache cache[ENC_CACHE];
	size_t n_cache;
};

static void pending_free(struct v3_watch_hub *hub, struct pending *p)
{
	hub->q_revs--;
	hub->q_bytes -= p->bytes;
	hub->stats.bytes -= p->bytes;
	for (size_t c = 0; c < p->n_cache; c++)
		free(p->cache[c].raw);
	free(p);
}

static void pending_pop(struct v3_watch_hub *hub)
{
	struct pending *p = hub->q_head;
	if (!(hub->q_head = p->next))
		hub->q_tail = &hub->q_head;
	pending_free(hub, p);
}

/* Every synced watcher still behind the queue catches up from the history
 * at its own next revision; the queue goes. */
static void drop_queue(struct v3_watch_hub *hub)
{
	for (struct watcher *w = hub->synced.next, *next; w != &hub->synced; w = next) {
		next = w->next;
		if (w->next_rev <= hub->last_rev)
			unsync_at(hub, w, w->next_rev);
	}
	while (hub->q_head)
		pending_pop(hub);
}

static size_t ev_kv_bytes(const struct mvcc_kv *kv)
{
	return kv->key_len + kv->value_len;
}

static uint8_t *kv_copy(struct mvcc_kv *kv, uint8_t *at)
{
	if (kv->key_len)
		memcpy(at, kv->key, kv->key_len);
	kv->key = at;
	at += kv->key_len;
	if (kv->value_len)
		memcpy(at, kv->value, kv->value_len);
	kv->value = at;
	return at + kv->value_len;
}

/* The revision's events, copied, at the queue's end; 0 or -ENOMEM. */
static int enqueue(struct v3_watch_hub *hub, int64_t rev, const struct evbuf *b)
{
	size_t data = 0;
	for (size_t i = 0; i < b->n; i++)
		data += ev_kv_bytes(&b->ev[i].kv) + (b->ev[i].has_prev ? ev_kv_bytes(&b->ev[i].prev) : 0);
	size_t bytes = sizeof(struct pending) + b->n * sizeof(struct mvcc_event) + data;
	struct pending *p = base_calloc(1, bytes);
	if (!p)
		return -ENOMEM;
	p->rev = rev;
	p->n = b->n;
	p->bytes = bytes;
	p->ev = (struct mvcc_event *)(p + 1);
	uint8_t *at = (uint8_t *)(p->ev + b->n);
	for (size_t i = 0; i < b->n; i++) {
		p->ev[i] = b->ev[i];
		at = kv_copy(&p->ev[i].kv, at);
		if (p->ev[i].has_prev)
			at = kv_copy(&p->ev[i].prev, at);
	}
	*hub->q_tail = p;
	hub->q_tail = &p->next;
	hub->q_revs++;
	hub->q_bytes += bytes;
	hub->stats.bytes += bytes;
	return 0;
}

/* The driver calls this after each applied entry that moved the revision:
 * the revision's events join the queue, which the fan-out (on_catchup)
 * hands to the synced watchers in bounded steps, a step per loop pass. */
void v3_watch_applied(struct node *n)
{
	struct v3_watch_hub *hub = n->watch_hub;
	if (!hub)
		return;
	const struct mvcc *s = kv_mvcc_const(n->kv);
	int64_t rev = mvcc_revision(s);
	if (rev == hub->last_rev)
		return;
	struct evbuf b = { 0 };
	int rv = rev == hub->last_rev + 1 ? mvcc_last_events(s, collect, &b) : -ESPIPE;
	for (size_t i = 0; rv == 0 && i < b.n; i++)
		if (b.ev[i].kv.mod_revision != rev)
			rv = -ESPIPE;
	if (rv == 0 && (hub->q_revs >= hub->fanout_revs_max || hub->q_bytes >= FANOUT_BYTES_MAX)) {
		/* writes outrun the fan-out: the watchers behind the queue
		 * catch up from the history, the others go on from here */
		hub->stats.fanout_dropped++;
		drop_queue(hub);
	}
	/* none synced: nobody to hand it to (one syncing later starts past it) */
	if (rv == 0 && hub->synced.next != &hub->synced)
		rv = enqueue(hub, rev, &b);
	if (rv < 0) {
		/* not this revision's events alone (a revision skipped, or no
		 * memory): the synced watchers catch up from the history */
		drop_queue(hub);
		for (struct watcher *w = hub->synced.next, *next; w != &hub->synced; w = next) {
			next = w->next;
			unsync_at(hub, w, hub->last_rev + 1);
		}
	}
	hub->last_rev = rev;
	free(b.ev);
	arm_catchup(hub);
}

/* The revision every synced watcher has had: a progress response at it
 * says no event at or below it is still to come. */
static int64_t fanned_rev(const struct v3_watch_hub *hub)
{
	return hub->q_head ? hub->q_head->rev - 1 : hub->last_rev;
}

/* Hands the revision to one synced watcher still wanting it; returns the
 * events matched (the cost for the pass's budget). */
static size_t fan_one(struct v3_watch_hub *hub, struct pending *p, struct watcher *w, struct mvcc_event *sel)
{
	int64_t rev = p->rev;
	size_t k = 0;
	uint64_t mask = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (wants(w, &p->ev[i])) {
			sel[k++] = p->ev[i];
			mask |= UINT64_C(1) << (i & 63);
		}
	}
	w->next_rev = rev + 1;
	w->skip = 0;
	if (!k)
		return p->n ? p->n : 1;
	if (!w->st) {
		w->fn(w->fn_ctx, sel, k, rev);
		return p->n;
	}
	if (w->st->blocked || w->st->ctrl) {
		unsync_at(hub, w, rev);
		w->next_rev = rev;
		return p->n;
	}
	const uint8_t *raw = NULL;
	size_t raw_len = 0;
	if (!w->fragment && p->n <= 64) {
		size_t c;
		for (c = 0; c < p->n_cache; c++)
			if (p->cache[c].mask == mask && p->cache[c].prev_kv == w->prev_kv)
				break;
		if (c == p->n_cache && p->n_cache < ENC_CACHE &&
		    etcd_watch_events_encode(sel, k, w->prev_kv, &p->cache[c].raw, &p->cache[c].raw_len) == 0) {
			p->cache[c].mask = mask;
			p->cache[c].prev_kv = w->prev_kv;
			p->n_cache++;
			p->bytes += p->cache[c].raw_len;
			hub->q_bytes += p->cache[c].raw_len;
			hub->stats.bytes += p->cache[c].raw_len;
		}
		if (c < p->n_cache) {
			raw = p->cache[c].raw;
			raw_len = p->cache[c].raw_len;
		}
	}
	w->next_rev = rev;
	size_t sent = deliver(w, rev, sel, k, raw, raw_len);
	if (sent == k) {
		w->next_rev = rev + 1;
		w->skip = 0;
	} else if (!w->st->dead) {
		unsync_at(hub, w, rev);
	}
	return p->n;
}

/* One pass's fan-out: the queue's revisions, oldest first, to the synced
 * watchers whose next revision they are (one that caught up from the
 * history past a revision is not sent it again), until the budget is
 * spent; a revision leaves the queue once no synced watcher wants it.
 * Returns whether some is left for the next pass. */
static bool fan_out(struct v3_watch_hub *hub)
{
	size_t budget = hub->fanout_budget;
	struct mvcc_event *sel = NULL;
	size_t sel_cap = 0;
	bool more = false;
	while (hub->q_head && !more) {
		struct pending *p = hub->q_head;
		if (p->n > sel_cap) {
			struct mvcc_event *e = base_realloc(sel, p->n * sizeof(*e));
			if (!e) {
				drop_queue(hub);
				break;
			}
			sel = e;
			sel_cap = p->n;
		}
		for (struct watcher *w = hub->synced.next, *next; w != &hub->synced; w = next) {
			next = w->next;
			if (w->dead || (w->st && w->st->dead) || w->next_rev > p->rev)
				continue;
			if (!budget) {
				more = true;
				break;
			}
			if (w->next_rev < p->rev) {
				/* not to happen (a synced watcher has every
				 * revision before the queue's): the history has it */
				unsync_at(hub, w, w->next_rev);
				continue;
			}
			size_t c = fan_one(hub, p, w, sel);
			budget = c >= budget ? 0 : budget - c;
		}
		if (!more)
			pending_pop(hub);
	}
	free(sel);
	if (more)
		hub->stats.fanout_deferred++;
	return more;
}

void v3_watch_resync(struct node *n)
{
	struct v3_watch_hub *hub = n->watch_hub;
	if (!hub)
		return;
	drop_queue(hub);
	for (struct watcher *w = hub->synced.next, *next; w != &hub->synced; w = next) {
		next = w->next;
		unsync_at(hub, w, hub->last_rev + 1);
	}
	hub->last_rev = mvcc_revision(kv_mvcc_const(n->kv));
}

/* ---- catching up ---- */

struct batch {
	struct watcher *w;
	struct evbuf b;
	int64_t last_rev; /* of the last event looked at */
	int64_t stop_rev; /* the first revision left for the next batch; 0: none */
	size_t skip, bytes;
};

static int batch_add(void *ctx, const struct mvcc_event *ev)
{
	struct batch *t = ctx;
	int64_t r = ev->kv.mod_revision;
	if (r != t->last_rev) {
		/* a new revision: the batch may end before it */
		if (t->b.n >= BATCH_EVENTS || t->bytes >= BATCH_BYTES) {
			t->stop_rev = r;
			return 1;
		}
		t->last_rev = r;
	}
	if (!wants(t->w, ev))
		return 0;
	if (r == t->w->next_rev && t->skip) {
		t->skip--;
		return 0;
	}
	t->bytes += etcd_watch_event_size(ev, t->w->prev_kv);
	return collect(&t->b, ev);
}

/* One batch for one watcher; returns the events it cost, and whether it
 * is still behind (it may be freed: not to be touched after). */
static size_t catch_up(struct v3_watch_hub *hub, struct watcher *w, bool *ret_behind)
{
	*ret_behind = false;
	const struct mvcc *s = kv_mvcc_const(hub->n->kv);
	int64_t cur = mvcc_revision(s), compacted = mvcc_compacted(s);

	if (w->next_rev < compacted) {
		if (!w->st) {
			w->fn(w->fn_ctx, NULL, 0, compacted);
			return 1;
		}
		send_compacted(hub, w, compacted);
		return 1;
	}
	if (w->next_rev > cur) {
		set_synced(hub, w, true);
		return 0;
	}
	struct batch t = { .w = w, .skip = w->skip };
	int rv = mvcc_events(s, w->key, w->key_len, w->end, w->end_len, w->next_rev, cur, batch_add, &t);
	if (rv < 0 && rv != -MVCC_E_COMPACTED) {
		free(t.b.ev);
		*ret_behind = true; /* out of memory: again on the next pass */
		return 1;
	}
	if (rv == -MVCC_E_COMPACTED) {
		free(t.b.ev);
		if (w->st)
			send_compacted(hub, w, compacted);
		else
			w->fn(w->fn_ctx, NULL, 0, compacted);
		return 1;
	}
	int64_t end = t.stop_rev ? t.stop_rev : cur + 1;
	size_t cost = t.b.n + 1;
	if (!w->st) {
		if (t.b.n)
			w->fn(w->fn_ctx, t.b.ev, t.b.n, cur);
		w->next_rev = end;
		w->skip = 0;
	} else if (!t.b.n) {
		w->next_rev = end;
		w->skip = 0;
	} else if (deliver(w, cur, t.b.ev, t.b.n, NULL, 0) == t.b.n) {
		w->next_rev = end;
		w->skip = 0;
	}
	/* deliver() left next_rev/skip at the cut otherwise */
	free(t.b.ev);
	if (w->dead || (w->st && w->st->dead))
		return cost;
	if (w->next_rev > cur && !w->frag_cont)
		set_synced(hub, w, true);
	else
		*ret_behind = !(w->st && w->st->blocked);
	return cost;
}

static void on_catchup(struct loop_timer *t)
{
	struct v3_watch_hub *hub = (struct v3_watch_hub *)((char *)t - offsetof(struct v3_watch_hub, catchup));
	size_t budget = PASS_EVENTS;
	bool more = false;
	/* the history the synced watchers have seen is the store's, and
	 * they have it before the others join them */
	v3_watch_applied(hub->n);
	more = fan_out(hub);
	for (struct watcher *w = hub->unsynced.next, *next; w != &hub->unsynced; w = next) {
		next = w->next;
		if (w->dead || (w->st && (w->st->dead || w->st->blocked || w->st->ctrl)))
			continue;
		if (!budget) {
			more = true;
			break;
		}
		bool behind;
		size_t c = catch_up(hub, w, &behind);
		budget = c >= budget ? 0 : budget - c;
		more |= behind;
	}
	reap(hub);
	if (more)
		arm_catchup(hub);
}

/* ---- progress ---- */

static void arm_progress(struct v3_watch_hub *hub)
{
	if (!loop_timer_armed(&hub->progress))
		loop_timer_arm(&hub->n->loop, &hub->progress, hub->progress_ms);
}

/* etcd's progress ticker: a watcher that asked for progress_notify and got
 * no event over a whole interval gets an empty response at the store's
 * revision, when it is synced (an unsynced one is getting events). */
static void on_progress(struct loop_timer *t)
{
	struct v3_watch_hub *hub = (struct v3_watch_hub *)((char *)t - offsetof(struct v3_watch_hub, progress));
	struct etcd_header h;
	header(hub->n, fanned_rev(hub), &h);
	bool any = false;
	for (struct watcher *w = hub->synced.next; w != &hub->synced; w = w->next) {
		if (!w->st || !w->progress_notify || w->dead || w->st->dead)
			continue;
		any = true;
		if (w->progress_idle && !w->st->blocked && !w->st->ctrl) {
			struct etcd_watch_resp r = { .watch_id = w->id };
			uint8_t *buf;
			size_t len;
			if (etcd_watch_encode(&h, &r, &buf, &len) == 0) {
				send_msg(w->st, buf, len);
				free(buf);
			}
		}
		w->progress_idle = true;
	}
	for (struct watcher *w = hub->unsynced.next; w != &hub->unsynced && !any; w = w->next)
		any = w->st && w->progress_notify;
	reap(hub);
	if (any)
		arm_progress(hub);
}

/* ---- the Watch call ---- */

static void create(struct wstream *st, const struct etcd_watch_req *q)
{
	struct node *n = st->n;
	struct v3_watch_hub *hub = n->watch_hub;
	const struct mvcc *s = kv_mvcc_const(n->kv);
	int64_t cur = mvcc_revision(s);
	struct etcd_header h;
	header(n, cur, &h);
	struct etcd_watch_resp r = { .created = true };
	const char *reason = NULL;
	struct watcher *w = NULL;
	int64_t id = q->watch_id;

	/* etcd's watchStream.Watch(): an empty range, a duplicate ID */
	if (q->end_len && !(q->end_len == 1 && q->end[0] == 0) &&
	    bcmp_len(q->key, q->key_len, q->end, q->end_len) >= 0)
		reason = "mvcc: watcher range is empty";
	else if (id != 0 && find(st, id))
		reason = "mvcc: duplicate watch ID provided on the WatchStream";
	else if (st->count >= STREAM_WATCHERS_MAX)
		reason = "etcdserver: too many watchers on this stream";
	if (reason) {
		r.watch_id = -1;
		r.canceled = true;
		r.cancel_reason = reason;
		send_ctrl(st, &h, &r);
		return;
	}
	if (id == 0) {
		while (find(st, st->next_id))
			st->next_id++;
		id = st->next_id++;
	}
	if (grow(st) < 0 || !(w = watcher_new(hub, q->key, q->key_len, q->end, q->end_len))) {
		stream_fail(st, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	w->st = st;
	w->id = id;
	w->prev_kv = q->prev_kv;
	w->fragment = q->fragment;
	w->no_put = q->no_put;
	w->no_delete = q->no_delete;
	w->progress_notify = q->progress_notify;
	w->progress_idle = true;
	struct watcher **slot = slot_of(st, id, true);
	if (!*slot)
		st->used++;
	*slot = w;
	st->count++;
	r.watch_id = id;
	send_ctrl(st, &h, &r);
	/* etcd: 0 is "from the next revision"; a future one waits for it */
	w->next_rev = q->start_revision == 0 ? cur + 1 : q->start_revision;
	bool synced = q->start_revision == 0 || q->start_revision > cur;
	if (st->blocked || st->ctrl)
		synced = false;
	list_add(synced ? &hub->synced : &hub->unsynced, w);
	w->synced = synced;
	if (!synced)
		arm_catchup(hub);
	if (w->progress_notify)
		arm_progress(hub);
}

static void cancel(struct wstream *st, int64_t id)
{
	struct watcher *w = find(st, id);
	if (!w)
		return; /* etcd answers nothing */
	watcher_drop(st->n->watch_hub, w);
	struct etcd_header h;
	header(st->n, mvcc_revision(kv_mvcc_const(st->n->kv)), &h);
	struct etcd_watch_resp r = { .watch_id = id, .canceled = true };
	send_ctrl(st, &h, &r);
}

static void on_watch(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(call);
	struct wstream *st = grpc_call_user(call);
	struct v3_watch_hub *hub;

	if (!st) {
		if (!v3_allowed(call, AUTH_READ))
			return;
		if (!(hub = hub_of(n)) || !(st = base_calloc(1, sizeof(*st)))) {
			grpc_finish(call, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
			return;
		}
		st->call = call;
		st->n = n;
		st->ctrl_tail = &st->ctrl;
		st->next = &hub->streams;
		st->prev = hub->streams.prev;
		hub->streams.prev->next = st;
		hub->streams.prev = st;
		hub->stats.streams++;
		hub->stats.bytes += sizeof(*st);
		grpc_call_set_user(call, st);
	}
	hub = n->watch_hub;
	struct etcd_watch_req q;
	char err[128];
	int rv = etcd_watch_decode(msg, len, &q, err, sizeof(err));
	if (rv < 0) {
		/* gRPC's own answer for a message it cannot unmarshal */
		stream_fail(st, rv == -ENOMEM ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL,
			    rv == -ENOMEM ? "etcdserver: out of memory" : err);
		etcd_watch_req_free(&q);
		reap(hub);
		return;
	}
	switch (q.kind) {
	case ETCD_WATCH_CREATE: create(st, &q); break;
	case ETCD_WATCH_CANCEL: cancel(st, q.watch_id); break;
	case ETCD_WATCH_PROGRESS: {
		/* etcd: not any watch's (-1); clients hand it to every one.
		 * At what the synced watchers have had, not the store's
		 * revision while the fan-out of the rest is under way */
		struct etcd_header h;
		header(n, fanned_rev(hub), &h);
		struct etcd_watch_resp r = { .watch_id = -1 };
		send_ctrl(st, &h, &r);
		break;
	}
	case ETCD_WATCH_NONE: break;
	}
	etcd_watch_req_free(&q);
	reap(hub);
}

/* etcd's Watch returns when the client is done sending: the call ends OK. */
static void on_watch_half_close(struct grpc_call *call)
{
	struct wstream *st = grpc_call_user(call);
	if (!st) {
		grpc_finish(call, GRPC_OK, NULL);
		return;
	}
	stream_fail(st, GRPC_OK, NULL);
	reap(st->n->watch_hub);
}

static void on_watch_cancel(struct grpc_call *call)
{
	struct wstream *st = grpc_call_user(call);
	if (!st)
		return;
	stream_gone(st);
	reap(st->n->watch_hub);
}

static void on_watch_writable(struct grpc_call *call)
{
	struct wstream *st = grpc_call_user(call);
	if (!st || st->dead)
		return;
	st->blocked = false;
	flush_ctrl(st);
	if (!st->blocked && !st->dead)
		arm_catchup(st->n->watch_hub);
	reap(st->n->watch_hub);
}

const struct grpc_method v3_watch_methods[] = {
	{ "/etcdserverpb.Watch/Watch", GRPC_STREAMING, on_watch, on_watch_half_close, on_watch_cancel,
	  on_watch_writable, NULL },
};
const size_t v3_watch_n_methods = sizeof(v3_watch_methods) / sizeof(v3_watch_methods[0]);

/* ---- internal watchers (GET /db/K?wait=true) ---- */

struct watcher *v3_watch_internal(struct node *n, const uint8_t *key, size_t key_len, int64_t from,
				  v3_watch_fn *fn, void *ctx)
{
	struct v3_watch_hub *hub = hub_of(n);
	if (!hub)
		return NULL;
	struct watcher *w = watcher_new(hub, key, key_len, NULL, 0);
	if (!w)
		return NULL;
	int64_t cur = mvcc_revision(kv_mvcc_const(n->kv));
	w->fn = fn;
	w->fn_ctx = ctx;
	w->id = -1;
	w->next_rev = from <= 0 ? cur + 1 : from;
	w->synced = w->next_rev > cur;
	list_add(w->synced ? &hub->synced : &hub->unsynced, w);
	if (!w->synced)
		arm_catchup(hub);
	return w;
}

void v3_watch_internal_cancel(struct node *n, struct watcher *w)
{
	(void)n;
	if (w)
		w->dead = true; /* freed outside any walk of the lists */
	if (n->watch_hub)
		arm_catchup(n->watch_hub);
}

/* ---- the node ---- */

void v3_watch_stats(struct node *n, struct v3_watch_stats *ret)
{
	struct v3_watch_hub *hub = n->watch_hub;
	*ret = (struct v3_watch_stats){ 0 };
	if (!hub)
		return;
	*ret = hub->stats;
	ret->unsynced = 0;
	for (struct watcher *w = hub->unsynced.next; w != &hub->unsynced; w = w->next)
		ret->unsynced++;
}

void v3_watch_free(struct node *n)
{
	struct v3_watch_hub *hub = n->watch_hub;
	if (n->db_wait_timer.fire)
		loop_timer_cancel(&n->loop, &n->db_wait_timer);
	if (!hub)
		return;
	for (struct wstream *st = hub->streams.next; st != &hub->streams; st = st->next)
		if (!st->dead)
			stream_fail(st, GRPC_UNAVAILABLE, "etcdserver: server stopped");
	struct watcher *heads[2] = { &hub->synced, &hub->unsynced };
	for (int k = 0; k < 2; k++) {
		for (struct watcher *w = heads[k]->next; w != heads[k]; w = w->next) {
			if (!w->st && !w->dead) {
				w->dead = true;
				w->fn(w->fn_ctx, NULL, 0, -1); /* the node stops */
			}
		}
	}
	while (hub->q_head)
		pending_pop(hub);
	reap(hub);
	loop_timer_cancel(&n->loop, &hub->catchup);
	loop_timer_cancel(&n->loop, &hub->progress);
	free(hub);
	n->watch_hub = NULL;
}
