/* src/raftd/v3_lease.c — etcd's Lease service (LeaseGrant, LeaseRevoke,
 * LeaseKeepAlive, LeaseTimeToLive, LeaseLeases) and the leader's lease
 * clock, with etcd 3.4's behaviour (lease/lessor.go, etcdserver/v3_server.go,
 * api/v3rpc/lease.go).
 *
 * What a lease is lives in the store, the same on every member (src/mvcc:
 * its ID, its granted TTL, its keys), changed only by the log: a grant is a
 * 'G' entry, a revoke an 'X' entry (src/etcd/etcd.h), proposed and answered
 * through v3_kv.c's write path (a follower forwards them to the leader,
 * POST /raftd/propose). The leader completes a grant before it is logged
 * (v3_lease_complete()): it picks the ID when the client gave none and
 * raises the TTL to etcd's minimum, so that every member applies the same.
 *
 * When a lease expires is the leader's alone, and volatile (never logged):
 * its clock (src/raftd/lease_clock.h) holds every lease's expiry, set to
 * now + TTL by a grant and by each keep-alive. An expired lease is revoked
 * by proposing an 'X' entry, at most REVOKES_PER_PASS per pass (etcd's
 * leaseRevokeRate), and not again until REVOKE_RETRY_MS have passed without
 * its apply (etcd's expiredLeaseRetryInterval): every member then deletes
 * the lease's keys at the same revision. A new leader starts its clock with
 * every lease's expiry at now + TTL + the election timeout (etcd's
 * Promote(extend)): the old leader's keep-alives are lost with it, and no
 * client must see its lease expire for a leader change. A member that stops
 * leading drops its clock.
 *
 * KeepAlive and TimeToLive need the clock: a follower forwards them to the
 * leader over the peer port (POST /raftd/lease/renew, /raftd/lease/ttl, peer
 * routes), so a keep-alive to any member keeps a lease alive. A stream's
 * keep-alives are answered in order; a follower sends those waiting in one
 * request (up to RENEW_BATCH_MAX), and retries them while no leader answers
 * until etcd's request timeout, then ends the stream UNAVAILABLE as etcd's
 * LeaseRenew does. LeaseLeases is answered from the member's own store.
 */
#include "src/raftd/v3.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "etcd/rpc.pb-c.h"
#include "src/etcd/etcd.h"
#include "src/raftd/lease_clock.h"
#include "src/raftd/log.h"
#include "src/raftd/node_int.h"

#define RAFTD_PATH_LEASE_RENEW "/raftd/lease/renew"
#define RAFTD_PATH_LEASE_TTL "/raftd/lease/ttl"
/* expired leases revoked per pass of the clock, a pass every PASS_MS at
 * most while some are due: etcd's leaseRevokeRate (1000/s) */
#define REVOKES_PER_PASS 50
#define PASS_MS 50
/* an expired lease whose revoke has not applied by then is revoked again */
#define REVOKE_RETRY_MS 3000
/* keep-alives of one stream not answered yet (24 bytes each): beyond, the
 * stream ends. clientv3 sends one per lease on one stream, in a burst:
 * room for that many leases behind one forward to the leader */
#define KA_PENDING_MAX 65536
/* keep-alives in one forward to the leader (8 bytes each way) */
#define RENEW_BATCH_MAX 4096
/* forwards in flight from this member (its client to the leader is shared
 * with the Raft messages): beyond, streams wait for the next pass */
#define FWD_INFLIGHT_MAX 16
/* a stream waiting to retry its forward is looked at this often */
#define RETRY_MS 100

struct ka_item {
	int64_t id, ttl;
	bool answered;
};

/* One LeaseKeepAlive stream. */
struct ka_stream {
	struct grpc_call *call;
	struct node *n;
	struct ka_item *items; /* the keep-alives not answered yet, in order */
	size_t count, cap;
	struct lease_fwd *fwd; /* in flight to the leader: the first fwd->k items */
	bool blocked;	       /* the call's output is full: on_writable */
	bool retry;	       /* the last forward failed: again next pass */
	bool half_closed;      /* the client sends no more: ended once all are answered */
	uint64_t since_ms;     /* the first item's arrival (its deadline) */
	struct ka_stream *prev, *next;
};

/* A TimeToLive call a follower forwarded. */
struct ttl_call {
	struct grpc_call *call;
	struct node *n;
	int64_t id;
	bool keys;
	struct lease_fwd *fwd;
};

struct lease_fwd {
	struct node *n;
	struct ka_stream *st; /* or tc; NULL once the call is gone */
	struct ttl_call *tc;
	size_t k;
	struct iovec iov;
	uint8_t body[];
};

struct v3_lease {
	struct node *n;
	struct lease_clock clock;
	bool primary; /* this member leads: the clock runs */
	/* the log's last index when it started leading: until it has
	 * applied that far, a lease granted by an earlier leader may not be
	 * in its store yet, and a keep-alive of it would be answered
	 * "unknown" (etcd's Promote waits for the new term's first entry) */
	raft_index ready_index;
	struct loop_timer timer;
	struct ka_stream *streams;
	unsigned fwd_inflight;
	size_t n_retry; /* streams with retry set */
};

static struct v3_lease *L(struct node *n)
{
	return n->lease;
}

/* etcd's minLeaseTTL: ceil(1.5 * election timeout) seconds */
static int64_t min_ttl(const struct node *n)
{
	return ((int64_t)n->cfg.election_timeout_ms * 3 + 1999) / 2000;
}

/* etcd's ReqTimeout: 5 s + 2 election timeouts */
static uint64_t req_timeout_ms(const struct node *n)
{
	return 5000 + 2 * (uint64_t)n->cfg.election_timeout_ms;
}

static void fill_header(struct node *n, Etcdserverpb__ResponseHeader *h)
{
	struct etcd_header eh;
	v3_header(n, &eh);
	h->cluster_id = eh.cluster_id;
	h->member_id = eh.member_id;
	h->revision = eh.revision;
	h->raft_term = eh.raft_term;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf)
		protobuf_c_message_pack(m, buf);
	*ret_len = len;
	return buf;
}

/* A kind byte and a packed message: a raftd:v3 payload. */
static uint8_t *pack_payload(char kind, const ProtobufCMessage *m, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len + 1);
	if (buf) {
		buf[0] = (uint8_t)kind;
		protobuf_c_message_pack(m, buf + 1);
	}
	*ret_len = len + 1;
	return buf;
}

static void timer_arm(struct node *n);
static bool primary(struct node *n);

/* ---- the clock (the leader's) ------------------------------------------------------ */

static int add_lease(void *ctx, int64_t id, int64_t ttl)
{
	struct node *n = ctx;
	uint64_t t = now_ms(n) + (uint64_t)ttl * 1000 + n->cfg.election_timeout_ms;
	return lease_clock_set(&L(n)->clock, id, ttl, t);
}

void v3_lease_role_changed(struct node *n)
{
	struct v3_lease *l = L(n);
	if (!l)
		return;
	bool lead = raft_role(n->r) == RAFT_LEADER;
	if (lead && !l->primary) {
		/* Promote(extend): what the old leader's keep-alives told it
		 * is lost; every lease gets its TTL again, and an election */
		lease_clock_clear(&l->clock);
		int rv = mvcc_lease_iter(kv_mvcc_const(n->kv), add_lease, n);
		if (rv < 0)
			log_error("lease clock: %s: leases granted before this term will not expire until the next "
				  "leader", strerror(-rv));
		l->primary = true;
		l->ready_index = raft_last_index(n->r);
		log_info("lease clock started: %zu leases, each expiring after its TTL and %u ms",
			 lease_clock_count(&l->clock), n->cfg.election_timeout_ms);
	} else if (!lead && l->primary) {
		lease_clock_clear(&l->clock);
		l->primary = false;
	}
	timer_arm(n);
}

void v3_lease_granted(struct node *n, int64_t id, int64_t ttl, raft_term term)
{
	struct v3_lease *l = L(n);
	if (!l || !l->primary)
		return;
	/* an earlier term's grant, applied after this leader's clock
	 * started: extended as the leases it found were */
	uint64_t t = now_ms(n) + (uint64_t)ttl * 1000;
	if (term < raft_current_term(n->r))
		t += n->cfg.election_timeout_ms;
	if (lease_clock_set(&l->clock, id, ttl, t) < 0)
		log_error("lease clock: out of memory: lease %" PRIx64 " will not expire until the next leader",
			  (uint64_t)id);
	timer_arm(n);
}

void v3_lease_revoked(struct node *n, int64_t id)
{
	struct v3_lease *l = L(n);
	if (l && l->primary)
		lease_clock_remove(&l->clock, id);
}

/* Revokes what is due: an 'X' entry per expired lease, REVOKES_PER_PASS
 * at most. True when more are due. */
static bool expire(struct node *n)
{
	struct v3_lease *l = L(n);
	uint64_t t = now_ms(n);
	struct lease_clock_entry *e;
	for (int k = 0; k < REVOKES_PER_PASS; k++) {
		if (!(e = lease_clock_due(&l->clock, t)))
			return false;
		if (!mvcc_lease_get(kv_mvcc_const(n->kv), e->id, NULL)) {
			lease_clock_remove(&l->clock, e->id);
			continue;
		}
		Etcdserverpb__LeaseRevokeRequest r = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
		r.id = e->id;
		size_t len;
		uint8_t *p = pack_payload(ETCD_LEASE_REVOKE, &r.base, &len);
		int rv = p ? v3_propose_payload(n, p, len) : -ENOMEM;
		free(p);
		if (rv < 0) {
			/* no room, a handover, no longer leading: again a
			 * pass later (not at once: the loop would spin) */
			log_debug("lease %" PRIx64 " expired; its revoke: %s", (uint64_t)e->id, strerror(-rv));
			lease_clock_rearm(&l->clock, e, t + PASS_MS);
			return false;
		}
		lease_clock_rearm(&l->clock, e, t + REVOKE_RETRY_MS);
	}
	return lease_clock_due(&l->clock, t) != NULL;
}

static void ka_pump(struct ka_stream *st);

static void on_pass(struct loop_timer *t)
{
	struct v3_lease *l = (struct v3_lease *)((char *)t - offsetof(struct v3_lease, timer));
	struct node *n = l->n;
	if (n->stopping)
		return;
	bool more = primary(n) && expire(n);
	for (struct ka_stream *st = l->streams, *next; st; st = next) {
		next = st->next; /* a pump may end the stream */
		if (st->retry) {
			st->retry = false;
			l->n_retry--;
			ka_pump(st);
		}
	}
	timer_arm(n);
	if (more)
		loop_timer_arm(&n->loop, &l->timer, PASS_MS);
}

static void timer_arm(struct node *n)
{
	struct v3_lease *l = L(n);
	uint64_t delay = UINT64_MAX, t = now_ms(n);
	if (l->primary && kv_applied_index(n->kv) < l->ready_index) {
		delay = RETRY_MS; /* not answering for the clock yet */
	} else if (l->primary) {
		uint64_t next = lease_clock_next(&l->clock);
		if (next != UINT64_MAX)
			delay = next > t ? next - t : 0;
	}
	if (l->n_retry && delay > RETRY_MS)
		delay = RETRY_MS;
	if (delay == UINT64_MAX) {
		loop_timer_cancel(&n->loop, &l->timer);
		return;
	}
	/* a lease due at once is revoked from the next pass, never from
	 * inside the apply or the handler that made it due */
	loop_timer_arm(&n->loop, &l->timer, delay ? delay : 1);
}

int v3_lease_init(struct node *n)
{
	struct v3_lease *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->n = n;
	loop_timer_init(&l->timer, on_pass);
	n->lease = l;
	return 0;
}

void v3_lease_free(struct node *n)
{
	struct v3_lease *l = L(n);
	if (!l)
		return;
	loop_timer_cancel(&n->loop, &l->timer);
	lease_clock_clear(&l->clock);
	free(l);
	n->lease = NULL;
}

/* The leader's answer to a keep-alive: the granted TTL, or 0 when the
 * lease is unknown or expired (etcd waits for an expired lease's revoke,
 * then answers it unknown: the same words). */
static int64_t renew(struct node *n, int64_t id)
{
	struct v3_lease *l = L(n);
	int64_t ttl;
	if (!mvcc_lease_get(kv_mvcc_const(n->kv), id, &ttl))
		return 0;
	uint64_t t = now_ms(n);
	struct lease_clock_entry *e = lease_clock_find(&l->clock, id);
	if (e && e->expiry_ms <= t)
		return 0;
	if (lease_clock_set(&l->clock, id, ttl, t + (uint64_t)ttl * 1000) < 0)
		return 0;
	timer_arm(n);
	return ttl;
}

/* The leader's remaining time of a lease (seconds, whole, as etcd's
 * int64(Remaining().Seconds())), or false when it is unknown. */
static bool remaining(struct node *n, int64_t id, int64_t *ret_ttl, int64_t *ret_granted)
{
	struct v3_lease *l = L(n);
	if (!mvcc_lease_get(kv_mvcc_const(n->kv), id, ret_granted))
		return false;
	struct lease_clock_entry *e = lease_clock_find(&l->clock, id);
	uint64_t t = now_ms(n);
	*ret_ttl = e && e->expiry_ms > t ? (int64_t)((e->expiry_ms - t) / 1000) : 0;
	return true;
}

/* Whether this member answers for the clock: the leader, clock started,
 * every earlier leader's entry applied. */
static bool primary(struct node *n)
{
	return L(n) && L(n)->primary && raft_role(n->r) == RAFT_LEADER &&
	       kv_applied_index(n->kv) >= L(n)->ready_index;
}

/* ---- grants: the leader completes them ------------------------------------------------ */

/* A free positive ID, never 0 (etcd: reqIDGen.Next() & (1<<63 - 1)). */
static int64_t pick_id(struct node *n)
{
	for (;;) {
		uint64_t x = 0;
		if (getrandom(&x, sizeof(x), 0) != sizeof(x))
			x = now_ms(n) * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)random();
		int64_t id = (int64_t)(x & (UINT64_MAX >> 1));
		if (id && !mvcc_lease_get(kv_mvcc_const(n->kv), id, NULL))
			return id;
	}
}

int v3_lease_complete(struct node *n, const uint8_t *payload, size_t len, uint8_t **ret, size_t *ret_len)
{
	Etcdserverpb__LeaseGrantRequest *r = etcdserverpb__lease_grant_request__unpack(NULL, len - 1, payload + 1);
	if (!r)
		return -EBADMSG;
	int rv = 0;
	if (r->ttl > MVCC_LEASE_TTL_MAX) {
		rv = -MVCC_E_LEASE_TTL_TOO_LARGE;
	} else if (r->id && mvcc_lease_get(kv_mvcc_const(n->kv), r->id, NULL)) {
		rv = -MVCC_E_LEASE_EXISTS; /* refused at apply too: not worth an entry */
	} else {
		if (!r->id)
			r->id = pick_id(n);
		if (r->ttl < min_ttl(n))
			r->ttl = min_ttl(n);
		*ret = pack_payload(ETCD_LEASE_GRANT, &r->base, ret_len);
		rv = *ret ? 0 : -ENOMEM;
	}
	etcdserverpb__lease_grant_request__free_unpacked(r, NULL);
	return rv;
}

void v3_lease_answer(struct grpc_call *c, struct node *n, int kind, int64_t id, int64_t ttl)
{
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	fill_header(n, &h);
	size_t len;
	uint8_t *buf;
	if (kind == ETCD_LEASE_GRANT) {
		Etcdserverpb__LeaseGrantResponse r = ETCDSERVERPB__LEASE_GRANT_RESPONSE__INIT;
		r.header = &h;
		r.id = id;
		r.ttl = ttl;
		buf = pack(&r.base, &len);
	} else {
		Etcdserverpb__LeaseRevokeResponse r = ETCDSERVERPB__LEASE_REVOKE_RESPONSE__INIT;
		r.header = &h;
		buf = pack(&r.base, &len);
	}
	v3_reply(c, buf, len);
}

static void on_grant(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	v3_write(c, ETCD_LEASE_GRANT, msg, len);
}

static void on_revoke(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	v3_write(c, ETCD_LEASE_REVOKE, msg, len);
}

/* ---- forwarding to the leader ------------------------------------------------------ */

static void fwd_release(void *arg)
{
	free(arg);
}

/* Sends a forward to the leader: 0, or the error for the client. */
static int fwd_send(struct node *n, struct lease_fwd *f, const char *path, peer_done_fn *done)
{
	struct v3_lease *l = L(n);
	const char *leader = raft_leader(n->r);
	struct npeer *p = leader[0] && raft_role(n->r) != RAFT_LEADER ? npeer_find(n, leader) : NULL;
	if (!p || !p->p || !p->kind_known)
		return -V3_E_NO_LEADER;
	if (p->goraft)
		return -V3_E_GORAFT;
	if (l->fwd_inflight >= FWD_INFLIGHT_MAX)
		return -ENOBUFS;
	struct peer_request req = {
		.method = "POST",
		.path = path,
		.content_type = "application/octet-stream",
		.iov = &f->iov,
		.iovcnt = 1,
		.done = done,
		.release = fwd_release,
		.arg = f,
	};
	int rv = peer_submit(p->p, &req);
	if (rv < 0)
		return rv == -ENOBUFS ? rv : -V3_E_NO_LEADER;
	l->fwd_inflight++;
	return 0;
}

/* A refusal of the leader: "CODE MESSAGE" -> its gRPC status, or 0. */
static int refusal_code(const uint8_t *body, size_t len, char *msg, size_t msg_len)
{
	char text[512];
	size_t k = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	memcpy(text, body ? (const char *)body : "", k);
	while (k && text[k - 1] == '\n')
		k--; /* httpd_reply_text()'s */
	text[k] = '\0';
	int code, off = 0;
	if (sscanf(text, "%d %n", &code, &off) != 1 || !off || code <= 0 || code > GRPC_UNAUTHENTICATED)
		return 0;
	snprintf(msg, msg_len, "%s", text + off);
	return code;
}

/* ---- LeaseKeepAlive ------------------------------------------------------------------ */

static void ka_free(struct ka_stream *st)
{
	struct v3_lease *l = L(st->n);
	if (st->fwd)
		st->fwd->st = NULL;
	if (st->retry)
		l->n_retry--;
	if (st->prev)
		st->prev->next = st->next;
	else
		l->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	free(st->items);
	free(st);
}

static void ka_end(struct ka_stream *st, int err)
{
	grpc_call_set_user(st->call, NULL);
	v3_fail(st->call, err);
	ka_free(st);
}

static void ka_pop(struct ka_stream *st, size_t k)
{
	memmove(st->items, st->items + k, (st->count - k) * sizeof(*st->items));
	st->count -= k;
	st->since_ms = now_ms(st->n);
}

static void renew_done(void *arg, int res, const uint8_t *body, size_t len)
{
	struct lease_fwd *f = arg;
	struct node *n = f->n;
	struct ka_stream *st = f->st;
	if (L(n))
		L(n)->fwd_inflight--;
	if (!st || n->stopping)
		return;
	st->fwd = NULL;
	if (res == 200 && len == 8 * f->k) {
		for (size_t i = 0; i < f->k; i++) {
			uint64_t be;
			memcpy(&be, body + 8 * i, 8);
			st->items[i].ttl = (int64_t)be64toh(be);
			st->items[i].answered = true;
		}
		ka_pump(st);
		return;
	}
	char msg[512];
	int code = res > 0 ? refusal_code(body, len, msg, sizeof(msg)) : 0;
	/* anything but the leader's answer: no leader now, or another one
	 * soon; again until etcd's request timeout */
	if (now_ms(n) - st->since_ms >= req_timeout_ms(n)) {
		if (code && code != GRPC_UNAVAILABLE) {
			grpc_call_set_user(st->call, NULL);
			grpc_finish(st->call, (enum grpc_status)code, msg);
			ka_free(st);
		} else {
			ka_end(st, -V3_E_TIMEOUT);
		}
		return;
	}
	st->retry = true;
	L(n)->n_retry++;
	timer_arm(n);
}

static void ka_pump(struct ka_stream *st)
{
	struct node *n = st->n;
	for (;;) {
		while (st->count && st->items[0].answered && !st->blocked) {
			Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
			fill_header(n, &h);
			Etcdserverpb__LeaseKeepAliveResponse r = ETCDSERVERPB__LEASE_KEEP_ALIVE_RESPONSE__INIT;
			r.header = &h;
			r.id = st->items[0].id;
			r.ttl = st->items[0].ttl;
			uint8_t buf[128];
			size_t len = protobuf_c_message_pack(&r.base, buf);
			int rv = grpc_send(st->call, buf, len);
			if (rv == -ENOBUFS) {
				st->blocked = true;
				return;
			}
			if (rv < 0) {
				ka_end(st, rv == -EPIPE ? -V3_E_STOPPING : rv);
				return;
			}
			ka_pop(st, 1);
		}
		if (!st->count && st->half_closed) {
			grpc_call_set_user(st->call, NULL);
			grpc_finish(st->call, GRPC_OK, NULL);
			ka_free(st);
			return;
		}
		if (!st->count || st->fwd || st->blocked || st->retry)
			return;
		if (primary(n)) {
			for (size_t i = 0; i < st->count; i++) {
				st->items[i].ttl = renew(n, st->items[i].id);
				st->items[i].answered = true;
			}
			continue;
		}
		size_t k = st->count < RENEW_BATCH_MAX ? st->count : RENEW_BATCH_MAX;
		struct lease_fwd *f = malloc(sizeof(*f) + 8 * k);
		if (!f) {
			ka_end(st, -ENOMEM);
			return;
		}
		*f = (struct lease_fwd){ .n = n, .st = st, .k = k };
		for (size_t i = 0; i < k; i++) {
			uint64_t be = htobe64((uint64_t)st->items[i].id);
			memcpy(f->body + 8 * i, &be, 8);
		}
		f->iov = (struct iovec){ f->body, 8 * k };
		int rv = fwd_send(n, f, RAFTD_PATH_LEASE_RENEW, renew_done);
		if (rv == 0) {
			st->fwd = f;
			return;
		}
		free(f);
		if (rv == -V3_E_GORAFT) {
			ka_end(st, rv);
			return;
		}
		if (now_ms(n) - st->since_ms >= req_timeout_ms(n)) {
			ka_end(st, rv == -ENOBUFS ? -V3_E_TIMEOUT : rv);
			return;
		}
		st->retry = true;
		L(n)->n_retry++;
		timer_arm(n);
		return;
	}
}

static void on_keepalive(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	struct ka_stream *st = grpc_call_user(c);
	if (!st) {
		if (!v3_allowed(c, AUTH_WRITE))
			return;
		if (n->stopping || !L(n)) {
			v3_fail(c, -V3_E_STOPPING);
			return;
		}
		if (!(st = calloc(1, sizeof(*st)))) {
			grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
			return;
		}
		st->call = c;
		st->n = n;
		st->next = L(n)->streams;
		if (st->next)
			st->next->prev = st;
		L(n)->streams = st;
		grpc_call_set_user(c, st);
	}
	Etcdserverpb__LeaseKeepAliveRequest *r = etcdserverpb__lease_keep_alive_request__unpack(NULL, len, msg);
	if (!r) {
		grpc_call_set_user(c, NULL);
		grpc_finish(c, GRPC_INVALID_ARGUMENT, "etcdserver: invalid protobuf (LeaseKeepAliveRequest)");
		ka_free(st);
		return;
	}
	int64_t id = r->id;
	etcdserverpb__lease_keep_alive_request__free_unpacked(r, NULL);
	if (st->count >= KA_PENDING_MAX) {
		/* a client that sends without reading: bounded */
		grpc_call_set_user(c, NULL);
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: too many keep-alives waiting for an answer");
		ka_free(st);
		return;
	}
	if (st->count == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 8;
		struct ka_item *items = realloc(st->items, cap * sizeof(*items));
		if (!items) {
			ka_end(st, -ENOMEM);
			return;
		}
		st->items = items;
		st->cap = cap;
	}
	if (!st->count)
		st->since_ms = now_ms(n);
	st->items[st->count++] = (struct ka_item){ .id = id };
	ka_pump(st);
}

static void on_keepalive_half_close(struct grpc_call *c)
{
	struct ka_stream *st = grpc_call_user(c);
	/* etcd ends the stream at the client's EOF, once it has answered
	 * what came before */
	if (st && st->count) {
		st->half_closed = true;
		return;
	}
	grpc_call_set_user(c, NULL);
	grpc_finish(c, GRPC_OK, NULL);
	if (st)
		ka_free(st);
}

static void on_keepalive_writable(struct grpc_call *c)
{
	struct ka_stream *st = grpc_call_user(c);
	if (st && st->blocked) {
		st->blocked = false;
		ka_pump(st);
	}
}

static void on_keepalive_cancel(struct grpc_call *c)
{
	struct ka_stream *st = grpc_call_user(c);
	if (st)
		ka_free(st);
}

/* ---- LeaseTimeToLive ------------------------------------------------------------------ */

struct key_list {
	ProtobufCBinaryData *keys;
	size_t n, cap;
	int err;
};

static int collect_key(void *ctx, const uint8_t *key, size_t len)
{
	struct key_list *kl = ctx;
	if (kl->n == kl->cap) {
		size_t cap = kl->cap ? 2 * kl->cap : 16;
		ProtobufCBinaryData *k = realloc(kl->keys, cap * sizeof(*k));
		if (!k)
			return kl->err = -ENOMEM;
		kl->keys = k;
		kl->cap = cap;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return kl->err = -ENOMEM;
	memcpy(copy, key, len);
	kl->keys[kl->n++] = (ProtobufCBinaryData){ .len = len, .data = copy };
	return 0;
}

/* Answers a TimeToLive: ttl < 0 for an unknown lease (etcd 3.4's answer:
 * TTL -1, no error); the keys from this member's store. */
static void ttl_answer(struct grpc_call *c, struct node *n, int64_t id, bool keys, int64_t ttl, int64_t granted)
{
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	fill_header(n, &h);
	Etcdserverpb__LeaseTimeToLiveResponse r = ETCDSERVERPB__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
	struct key_list kl = { 0 };
	r.header = &h;
	r.id = id;
	r.ttl = ttl < 0 ? -1 : ttl;
	r.grantedttl = ttl < 0 ? 0 : granted;
	if (ttl >= 0 && keys) {
		int rv = mvcc_lease_keys(kv_mvcc_const(n->kv), id, collect_key, &kl);
		if (rv == -ENOMEM || kl.err) {
			grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
			goto out;
		}
		r.n_keys = kl.n;
		r.keys = kl.keys;
	}
	size_t len;
	uint8_t *buf = pack(&r.base, &len);
	v3_reply(c, buf, len);
out:
	for (size_t i = 0; i < kl.n; i++)
		free(kl.keys[i].data);
	free(kl.keys);
}

static void ttl_done(void *arg, int res, const uint8_t *body, size_t len)
{
	struct lease_fwd *f = arg;
	struct node *n = f->n;
	struct ttl_call *tc = f->tc;
	if (L(n))
		L(n)->fwd_inflight--;
	if (!tc)
		return;
	grpc_call_set_user(tc->call, NULL);
	char text[64], msg[512];
	int64_t ttl, granted;
	size_t k = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	memcpy(text, body ? (const char *)body : "", k);
	text[k] = '\0';
	int code;
	if (n->stopping)
		v3_fail(tc->call, -V3_E_STOPPING);
	else if (res == 200 && sscanf(text, "%" SCNd64 " %" SCNd64, &ttl, &granted) == 2)
		ttl_answer(tc->call, n, tc->id, tc->keys, ttl, granted);
	else if (res == 404)
		ttl_answer(tc->call, n, tc->id, false, -1, 0);
	else if (res > 0 && (code = refusal_code(body, len, msg, sizeof(msg))))
		grpc_finish(tc->call, (enum grpc_status)code, msg);
	else
		v3_fail(tc->call, res < 0 ? v3_forward_error(res) : -V3_E_NO_LEADER);
	free(tc);
}

static void on_ttl_cancel(struct grpc_call *c)
{
	struct ttl_call *tc = grpc_call_user(c);
	if (!tc)
		return;
	tc->fwd->tc = NULL;
	free(tc);
}

static void on_ttl(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_READ))
		return;
	Etcdserverpb__LeaseTimeToLiveRequest *r = etcdserverpb__lease_time_to_live_request__unpack(NULL, len, msg);
	if (!r) {
		grpc_finish(c, GRPC_INVALID_ARGUMENT, "etcdserver: invalid protobuf (LeaseTimeToLiveRequest)");
		return;
	}
	int64_t id = r->id;
	bool keys = r->keys;
	etcdserverpb__lease_time_to_live_request__free_unpacked(r, NULL);
	if (n->stopping || !L(n)) {
		v3_fail(c, -V3_E_STOPPING);
		return;
	}
	if (primary(n)) {
		int64_t ttl, granted;
		if (remaining(n, id, &ttl, &granted))
			ttl_answer(c, n, id, keys, ttl, granted);
		else
			ttl_answer(c, n, id, false, -1, 0);
		return;
	}
	struct ttl_call *tc = calloc(1, sizeof(*tc));
	struct lease_fwd *f = malloc(sizeof(*f) + 8);
	if (!tc || !f) {
		free(tc);
		free(f);
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	*tc = (struct ttl_call){ .call = c, .n = n, .id = id, .keys = keys, .fwd = f };
	*f = (struct lease_fwd){ .n = n, .tc = tc, .k = 1 };
	uint64_t be = htobe64((uint64_t)id);
	memcpy(f->body, &be, 8);
	f->iov = (struct iovec){ f->body, 8 };
	int rv = fwd_send(n, f, RAFTD_PATH_LEASE_TTL, ttl_done);
	if (rv < 0) {
		free(f);
		free(tc);
		v3_fail(c, rv == -ENOBUFS ? -V3_E_NO_LEADER : rv);
		return;
	}
	grpc_call_set_user(c, tc);
}

/* ---- LeaseLeases ----------------------------------------------------------------------- */

struct lease_list {
	Etcdserverpb__LeaseStatus *st;
	Etcdserverpb__LeaseStatus **ptrs;
	size_t n;
};

static int collect_lease(void *ctx, int64_t id, int64_t ttl)
{
	(void)ttl;
	struct lease_list *ll = ctx;
	Etcdserverpb__LeaseStatus s = ETCDSERVERPB__LEASE_STATUS__INIT;
	s.id = id;
	ll->st[ll->n] = s;
	ll->ptrs[ll->n] = &ll->st[ll->n];
	ll->n++;
	return 0;
}

static void on_leases(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	(void)msg;
	(void)len;
	if (!v3_allowed(c, AUTH_READ))
		return;
	const struct mvcc *s = kv_mvcc_const(n->kv);
	size_t count = mvcc_lease_count(s);
	struct lease_list ll = { .st = calloc(count + 1, sizeof(*ll.st)), .ptrs = calloc(count + 1, sizeof(*ll.ptrs)) };
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__LeaseLeasesResponse r = ETCDSERVERPB__LEASE_LEASES_RESPONSE__INIT;
	if (!ll.st || !ll.ptrs || mvcc_lease_iter(s, collect_lease, &ll) < 0) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
	} else {
		fill_header(n, &h);
		r.header = &h;
		r.n_leases = ll.n;
		r.leases = ll.ptrs;
		size_t blen;
		uint8_t *buf = pack(&r.base, &blen);
		v3_reply(c, buf, blen);
	}
	free(ll.st);
	free(ll.ptrs);
}

/* ---- the peer routes (on the leader) ---------------------------------------------------- */

/* POST /raftd/lease/renew: a follower's keep-alives (8-byte big-endian
 * IDs), answered with as many TTLs (0: unknown or expired).
 * POST /raftd/lease/ttl: one ID; "REMAINING GRANTED", or 404 unknown.
 * Refusals: 503 "CODE MESSAGE", the gRPC status for the follower's client. */
void on_v3_lease_peer(struct httpd_request *req, void *data)
{
	struct node *n = data;
	const char *path = httpd_path(req);
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	char text[128];
	if (n->stopping || !primary(n)) {
		const char *msg = NULL;
		enum grpc_status code = v3_status(n->stopping ? -V3_E_STOPPING : -V3_E_NO_LEADER, &msg);
		snprintf(text, sizeof(text), "%d %s", (int)code, msg ? msg : "");
		httpd_reply_text(req, 503, text);
		return;
	}
	if (!strcmp(path, RAFTD_PATH_LEASE_RENEW) && len && len % 8 == 0 && len <= 8 * RENEW_BATCH_MAX) {
		uint8_t *out = malloc(len);
		if (!out) {
			httpd_reply_text(req, 503, "8 etcdserver: out of memory");
			return;
		}
		for (size_t i = 0; i < len; i += 8) {
			uint64_t be;
			memcpy(&be, body + i, 8);
			be = htobe64((uint64_t)renew(n, (int64_t)be64toh(be)));
			memcpy(out + i, &be, 8);
		}
		httpd_reply(req, 200, "application/octet-stream", out, len, NULL);
		free(out);
	} else if (!strcmp(path, RAFTD_PATH_LEASE_TTL) && len == 8) {
		uint64_t be;
		int64_t ttl, granted;
		memcpy(&be, body, 8);
		if (!remaining(n, (int64_t)be64toh(be), &ttl, &granted)) {
			httpd_reply_text(req, 404, "lease not found");
			return;
		}
		snprintf(text, sizeof(text), "%" PRId64 " %" PRId64, ttl, granted);
		httpd_reply_text(req, 200, text);
	} else if (strcmp(path, RAFTD_PATH_LEASE_RENEW) != 0 && strcmp(path, RAFTD_PATH_LEASE_TTL) != 0) {
		httpd_reply_text(req, 404, "404 page not found");
	} else {
		httpd_reply_text(req, 400, "3 etcdserver: malformed lease forward");
	}
}

/* ---- POST /db/KEY?ttl=SECONDS ------------------------------------------------------------- */

void v3_lease_db_put(struct node *n, struct httpd_request *req, const void *key, size_t key_len, const void *value,
		     size_t value_len, int64_t ttl)
{
	/* the grant, completed as a client's would be, then the put naming
	 * it: two entries, proposed back to back; the client is answered
	 * once the put is applied */
	Etcdserverpb__LeaseGrantRequest g = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	g.id = pick_id(n);
	g.ttl = ttl < min_ttl(n) ? min_ttl(n) : ttl;
	Etcdserverpb__PutRequest p = ETCDSERVERPB__PUT_REQUEST__INIT;
	p.key = (ProtobufCBinaryData){ .len = key_len, .data = (uint8_t *)key };
	p.value = (ProtobufCBinaryData){ .len = value_len, .data = (uint8_t *)value };
	p.lease = g.id;
	size_t glen, plen;
	uint8_t *gp = pack_payload(ETCD_LEASE_GRANT, &g.base, &glen);
	uint8_t *pp = pack_payload(ETCD_PUT, &p.base, &plen);
	int rv = -ENOMEM;
	if (gp && pp && plen > V3_MAX_REQUEST) {
		httpd_reply_text(req, 413, "value too large");
		goto out;
	}
	if (gp && pp && (rv = v3_propose_payload(n, gp, glen)) == 0) {
		struct cmd c = { .type = CMD_V3, .value = cmd_str_ref(pp, plen) };
		rv = propose(n, req, &c);
	}
	if (rv < 0)
		reply_propose_error(req, rv == -V3_E_NO_LEADER ? -EPERM : rv == -V3_E_GORAFT ? -EOPNOTSUPP : rv);
out:
	free(gp);
	free(pp);
}

/* ---- the method table ------------------------------------------------------------------- */

const struct grpc_method v3_lease_methods[] = {
	{ .path = "/etcdserverpb.Lease/LeaseGrant", .kind = GRPC_UNARY, .handle = on_grant, .on_cancel = v3_write_cancel },
	{ .path = "/etcdserverpb.Lease/LeaseRevoke", .kind = GRPC_UNARY, .handle = on_revoke, .on_cancel = v3_write_cancel },
	{ .path = "/etcdserverpb.Lease/LeaseKeepAlive", .kind = GRPC_STREAMING, .handle = on_keepalive,
	  .on_half_close = on_keepalive_half_close, .on_cancel = on_keepalive_cancel,
	  .on_writable = on_keepalive_writable },
	{ .path = "/etcdserverpb.Lease/LeaseTimeToLive", .kind = GRPC_UNARY, .handle = on_ttl, .on_cancel = on_ttl_cancel },
	{ .path = "/etcdserverpb.Lease/LeaseLeases", .kind = GRPC_UNARY, .handle = on_leases },
};
const size_t v3_lease_n_methods = sizeof(v3_lease_methods) / sizeof(v3_lease_methods[0]);
