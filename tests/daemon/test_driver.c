/* tests/daemon/test_driver.c — the core driver (src/raftd/driver.c) against
 * a fake WAL and a fake peer set.
 *
 * The seam is the link: this program is built from driver.c itself, the
 * real Raft core, KV map, command codec and rpc.c, and this file, which
 * defines every other function driver.c calls — the WAL (wal_*), the peers
 * (send_request, send_response, sync_peers), the snapshot jobs, HTTP replies,
 * the log and the loop's clock and timers. A table of function pointers in
 * struct node would have served too, but it would put an indirect call on
 * the write path and a second interface beside wal.h to keep in step with
 * it, for the tests alone; link-time fakes change no production code.
 *
 * The fake WAL keeps entries in memory and makes them durable only when a
 * test says so (wal_sync()), then reports it through the driver's own
 * on_wal_durable(), as the real WAL's completion does. Sends are recorded,
 * not delivered: a test answers them by stepping the driver as a peer's
 * response would (step()).
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftd/log.h"
#include "src/raftd/node_int.h"
#include "tests/lib/check_main.h"

/* ---- the fake WAL ---------------------------------------------------------- */

#define FW_MAX 256

struct wal {
	struct {
		uint64_t term;
		uint8_t *data;
		size_t len;
	} e[FW_MAX];
	uint64_t first, last, durable;
	int fail; /* the next append or reserve returns this */
	bool nospace;
	unsigned meta_sets;
	uint64_t meta_term;
	char meta_vote[WAL_MAX_VOTE + 1];
	unsigned compacts;
	uint64_t compact_index;
};

static struct wal fw;

static int fw_add(uint64_t index, uint64_t term, size_t len, uint8_t **ret)
{
	if (fw.fail) {
		int rv = fw.fail;
		fw.fail = 0;
		return rv;
	}
	ck_assert_uint_eq(index, fw.last + 1);
	ck_assert_uint_lt(index, FW_MAX);
	fw.e[index].term = term;
	fw.e[index].data = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(fw.e[index].data);
	fw.e[index].len = len;
	fw.last = index;
	*ret = fw.e[index].data;
	return 0;
}

int wal_append(struct wal *w, uint64_t index, uint64_t term, const void *data, size_t len)
{
	uint8_t *p;
	(void)w;
	int rv = fw_add(index, term, len, &p);
	if (rv == 0)
		memcpy(p, data, len);
	return rv;
}

int wal_reserve(struct wal *w, uint64_t index, uint64_t term, size_t len, uint8_t **ret_ptr,
		struct wal_buf **ret_buf)
{
	(void)w;
	if (ret_buf)
		*ret_buf = NULL;
	return fw_add(index, term, len, ret_ptr);
}

int wal_truncate(struct wal *w, uint64_t index)
{
	(void)w;
	for (uint64_t i = index; i <= fw.last; i++) {
		free(fw.e[i].data);
		fw.e[i].data = NULL;
	}
	fw.last = index - 1;
	if (fw.durable > fw.last)
		fw.durable = fw.last;
	return 0;
}

int wal_entry_get(struct wal *w, uint64_t index, struct wal_entry *ret)
{
	(void)w;
	if (index < fw.first || index > fw.last || !fw.e[index].data)
		return -ENOENT;
	*ret = (struct wal_entry){ .index = index, .term = fw.e[index].term, .data = fw.e[index].data,
				   .len = fw.e[index].len };
	return 0;
}

uint64_t wal_durable_index(const struct wal *w)
{
	(void)w;
	return fw.durable;
}

int wal_compact(struct wal *w, uint64_t index)
{
	(void)w;
	fw.compacts++;
	fw.compact_index = index;
	return 0;
}

int wal_meta_set(struct wal *w, uint64_t term, const char *voted_for)
{
	(void)w;
	fw.meta_sets++;
	fw.meta_term = term;
	snprintf(fw.meta_vote, sizeof(fw.meta_vote), "%s", voted_for ? voted_for : "");
	return 0;
}

bool wal_nospace(const struct wal *w)
{
	(void)w;
	return fw.nospace;
}

void wal_release(struct wal *w, uint64_t upto)
{
	(void)w;
	(void)upto;
}

int wal_error_format(const struct wal_error *e, char *buf, size_t len)
{
	return snprintf(buf, len, "%s: %s", e->op, strerror(-e->err));
}

/* ---- the fake peers, HTTP, log, loop, snapshots ------------------------------- */

struct sent {
	char to[RAFT_NAME_MAX]; /* "" for a response */
	struct raft_msg msg;
};

#define MAX_SENT 4096
static struct sent sent[MAX_SENT];
static size_t n_sent;

void send_request(struct node *n, const char *to, const struct raft_msg *m)
{
	(void)n;
	ck_assert_uint_lt(n_sent, MAX_SENT);
	snprintf(sent[n_sent].to, sizeof(sent[n_sent].to), "%s", to);
	sent[n_sent].msg = *m;
	sent[n_sent].msg.ae.entries = NULL; /* core storage: gone after the step */
	n_sent++;
}

void send_response(struct node *n, const struct raft_msg *m)
{
	send_request(n, "", m);
}

void sync_peers(struct node *n)
{
	(void)n;
}

void notify_status(struct node *n)
{
	(void)n;
}

/* etcd's v3 API (v3_kv.c): no raftd:v3 entry and no gRPC call here; a
 * raftd:v3 entry is applied as a no-op so that the index advances */
int v3_apply(struct node *n, raft_index index, raft_term term, const uint8_t *payload, size_t len)
{
	(void)term, (void)payload, (void)len;
	struct cmd nop = { .type = CMD_NOP };
	int rv = kv_apply(n->kv, index, &nop);
	return rv < 0 ? rv : 0;
}

void v3_write_fail(struct node *n, struct write_wait *w, int err)
{
	(void)n, (void)w, (void)err;
}

void v3_read_serve(struct node *n, struct read_wait *w, int err)
{
	(void)n, (void)w, (void)err;
}

/* the lease clock (v3_lease.c): nothing to start or stop here */
void v3_lease_role_changed(struct node *n)
{
	(void)n;
}

/* v3_watch.c: no watcher here */
void v3_watch_applied(struct node *n)
{
	(void)n;
}

static raft_index snap_taken_at;   /* take_snapshot()'s index, 0: not called */
static raft_index snap_deferred_at; /* the map's index at take_deferred_snapshot() */

void take_snapshot(struct node *n, const struct raft_action *a)
{
	(void)n;
	snap_taken_at = a->take_snapshot.index;
}

void take_deferred_snapshot(struct node *n)
{
	snap_deferred_at = kv_applied_index(n->kv);
	n->snap_deferred = false;
}

/* A client request: the status of its one reply (0: none yet). */
struct httpd_request {
	unsigned status;
	unsigned replies;
};

int httpd_reply(struct httpd_request *req, unsigned status, const char *content_type, const void *body,
		size_t len, const char *const *extra_headers)
{
	(void)content_type;
	(void)body;
	(void)len;
	(void)extra_headers;
	req->status = status;
	req->replies++;
	return 0;
}

int httpd_reply_text(struct httpd_request *req, unsigned status, const char *text)
{
	return httpd_reply(req, status, NULL, text, strlen(text), NULL);
}

static char last_log[1024];

void log_msg_at(const char *file, int line, const char *func, int priority, const char *id, const char *fields,
		const char *fmt, ...)
{
	va_list ap;
	(void)file;
	(void)line;
	(void)func;
	(void)priority;
	(void)id;
	(void)fields;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	if (getenv("TEST_DRIVER_LOG"))
		fprintf(stderr, "log: %s\n", last_log);
}

bool log_enabled(int priority)
{
	(void)priority;
	return false;
}

void log_set_state(uint64_t term, const char *role, const char *leader)
{
	(void)term;
	(void)role;
	(void)leader;
}

static uint64_t now_ns = 1000000000;

uint64_t loop_now_ns(const struct loop *loop)
{
	(void)loop;
	return now_ns;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

void loop_timer_arm_at(struct loop *loop, struct loop_timer *timer, uint64_t deadline_ns)
{
	(void)loop;
	timer->deadline_ns = deadline_ns;
	timer->heap_index = 0;
}

/* ---- the fixture ------------------------------------------------------------ */

static const char *const ABC[] = { "a", "b", "c" };

static void fw_put_cmd(uint64_t index, uint64_t term, const struct cmd *c)
{
	size_t len = cmd_entry_size(index, term, c);
	uint8_t *p;
	ck_assert_int_eq(wal_reserve(&fw, index, term, len, &p, NULL), 0);
	ck_assert_int_eq(cmd_entry_encode(index, term, c, p, len), (long)len);
}

/* Node `self` of {a, b, c}: the three joins at term 1 are in the WAL,
 * durable, not known committed; restored as node.c's restore() does. */
static struct node *fx_new(const char *self, raft_index snapshot_threshold)
{
	memset(&fw, 0, sizeof(fw));
	fw.first = 1;
	n_sent = 0;
	snap_taken_at = snap_deferred_at = 0;
	for (size_t k = 0; k < 3; k++) {
		char url[64];
		snprintf(url, sizeof(url), "http://127.0.0.1:%zu", 4001 + k);
		struct cmd c = { .type = CMD_JOIN, .name = cmd_str_ref(ABC[k], 1),
				 .connection_string = cmd_str_ref(url, strlen(url)) };
		fw_put_cmd(k + 1, 1, &c);
	}
	fw.durable = fw.last;

	struct node *n = calloc(1, sizeof(*n));
	ck_assert_ptr_nonnull(n);
	n->writes_tail = &n->writes;
	n->last_role = RAFT_FOLLOWER;
	n->apply_timer.heap_index = LOOP_TIMER_IDLE;
	n->wal = &fw;
	n->kv = kv_new();
	ck_assert_ptr_nonnull(n->kv);

	struct raft_entry ents[3];
	char *strs[6];
	for (size_t k = 0; k < 3; k++) {
		struct wal_entry we;
		bool goraft;
		char err[128];
		ck_assert_int_eq(wal_entry_get(&fw, k + 1, &we), 0);
		ck_assert_int_eq(entry_meta(&we, &ents[k], &strs[2 * k], &strs[2 * k + 1], &goraft, err, sizeof(err)), 0);
		ck_assert_int_eq(ents[k].type, RAFT_ENTRY_JOIN);
	}
	struct raft_config rc;
	raft_config_default(&rc);
	rc.name = self;
	rc.seed = 42;
	rc.pre_vote = false;
	rc.snapshot_threshold = snapshot_threshold;
	rc.snapshot_trailing = 0;
	struct raft_restore rs = { .term = 1, .vote = "", .n_entries = 3, .entries = ents };
	ck_assert_int_eq(raft_new(&rc, &rs, now_ns / 1000000, &n->r), 0);
	for (size_t k = 0; k < 6; k++)
		free(strs[k]);
	return n;
}

static void fx_free(struct node *n)
{
	while (n->writes) {
		struct write_wait *w = n->writes;
		n->writes = w->next;
		free(w);
	}
	raft_free(n->r);
	kv_free(n->kv);
	free(n->needs);
	free(n->metas);
	free(n);
	for (size_t i = 0; i < FW_MAX; i++)
		free(fw.e[i].data);
	memset(&fw, 0, sizeof(fw));
}

/* The WAL's writes land, up to `upto`, and it says so. */
static void wal_sync_to(struct node *n, uint64_t upto)
{
	ck_assert_uint_le(upto, fw.last);
	fw.durable = upto;
	on_wal_durable(n, upto);
}

static void wal_sync(struct node *n)
{
	wal_sync_to(n, fw.last);
}

/* The last message sent to `to` ("" for responses) of a type, or NULL. */
static const struct raft_msg *last_sent(const char *to, enum raft_msg_type type)
{
	for (size_t i = n_sent; i-- > 0;)
		if (!strcmp(sent[i].to, to) && sent[i].msg.type == type)
			return &sent[i].msg;
	return NULL;
}

static void recv_msg(struct node *n, const char *from, const struct raft_msg *m, const struct step_ctx *ctx)
{
	struct raft_event ev = { .type = RAFT_EV_RECV, .recv.from = from, .recv.msg = *m };
	step(n, &ev, ctx);
}

/* Peer `from` answers our AppendEntries to it, and those they bring on,
 * until it holds the leader's whole log. */
static void ack_ae(struct node *n, const char *from)
{
	for (int round = 0; round < 16; round++) {
		const struct raft_msg *q = last_sent(from, RAFT_MSG_AE_REQ);
		ck_assert_ptr_nonnull(q);
		struct raft_msg r = { .type = RAFT_MSG_AE_RESP, .req_id = q->req_id, .term = q->term };
		r.ae_resp.index = q->ae.prev_index + q->ae.n_entries;
		r.ae_resp.commit = q->ae.commit;
		r.ae_resp.success = true;
		size_t before = n_sent;
		recv_msg(n, from, &r, NULL);
		if (r.ae_resp.index >= raft_last_index(n->r) || n_sent == before)
			return;
	}
	ck_abort_msg("%s never caught up", from);
}

/* The WAL reports the latest term and vote set durable. */
static void meta_sync(struct node *n)
{
	if (fw.meta_sets)
		on_wal_meta(n, fw.meta_term, fw.meta_vote);
}

/* Node "a" becomes the leader of {a, b, c} with b's vote; its nop (index 4)
 * is durable and acknowledged by b, so committed and applied. */
static struct node *fx_leader(raft_index snapshot_threshold)
{
	struct node *n = fx_new("a", snapshot_threshold);
	now_ns += 2000000000ull; /* past any election timeout */
	struct raft_event tick = { .type = RAFT_EV_TICK };
	step(n, &tick, NULL);
	ck_assert_int_eq(raft_role(n->r), RAFT_CANDIDATE);
	ck_assert_uint_eq(fw.meta_sets, 1);
	/* no vote request before the vote for itself is durable */
	ck_assert_ptr_null(last_sent("b", RAFT_MSG_RV_REQ));
	on_wal_meta(n, fw.meta_term, fw.meta_vote);
	const struct raft_msg *q = last_sent("b", RAFT_MSG_RV_REQ);
	ck_assert_ptr_nonnull(q);
	struct raft_msg g = { .type = RAFT_MSG_RV_RESP, .req_id = q->req_id, .term = q->term };
	g.rv_resp.granted = true;
	recv_msg(n, "b", &g, NULL);
	ck_assert_int_eq(raft_role(n->r), RAFT_LEADER);
	ck_assert_uint_eq(fw.last, 4);
	wal_sync(n);
	ack_ae(n, "b");
	ck_assert_uint_eq(raft_commit_index(n->r), 4);
	ck_assert_uint_eq(kv_applied_index(n->kv), 4);
	return n;
}

/* A client write through step_propose(), as api.c's propose() makes it. */
static raft_index propose_write(struct node *n, struct httpd_request *req, const char *key, const char *value)
{
	struct cmd c = { .type = CMD_WRITE, .key = cmd_str_ref(key, strlen(key)),
			 .value = cmd_str_ref(value, strlen(value)) };
	struct raft_entry e;
	rpc_cmd_entry(&c, raft_last_index(n->r) + 1, raft_current_term(n->r), &e);
	struct write_wait *w = write_wait_new(n, req, e.type);
	ck_assert_ptr_nonnull(w);
	struct step_ctx ctx = { .cmds = &c };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose.n = 1, .propose.entries = &e };
	int rv = step_propose(n, &ev, &ctx, w);
	if (rv < 0) {
		free(w);
		return 0;
	}
	return w->index;
}

static bool kv_has(struct node *n, const char *key, const char *value)
{
	struct kv_view v;
	if (!kv_get(n->kv, key, strlen(key), &v))
		return value == NULL;
	return value && v.value_len == strlen(value) && !memcmp(v.value, value, v.value_len);
}

/* ---- a leader's write ----------------------------------------------------- */

/* The leader's own append must be durable before the write counts for it:
 * a follower's acknowledgement alone (one of three) commits nothing, and
 * the client hears nothing until the entry is committed and applied. */
START_TEST(test_write_acked_after_own_durable)
{
	struct node *n = fx_leader(0);
	struct httpd_request req = { 0 };
	raft_index i = propose_write(n, &req, "k", "v");
	ck_assert_uint_eq(i, 5);
	ck_assert_uint_eq(fw.last, 5);
	ck_assert_uint_eq(req.replies, 0);

	ack_ae(n, "b"); /* b holds it; our copy is not on disk yet */
	ck_assert_uint_eq(raft_commit_index(n->r), 4);
	ck_assert_uint_eq(req.replies, 0);
	ck_assert(kv_has(n, "k", NULL));

	wal_sync(n);
	ck_assert_uint_eq(raft_commit_index(n->r), 5);
	ck_assert_uint_eq(req.replies, 1);
	ck_assert_uint_eq(req.status, 200);
	ck_assert(kv_has(n, "k", "v"));
	fx_free(n);
}
END_TEST

/* ...and durable alone is not enough either: it waits for the commit. */
START_TEST(test_write_acked_after_commit)
{
	struct node *n = fx_leader(0);
	struct httpd_request req = { 0 };
	ck_assert_uint_eq(propose_write(n, &req, "k", "v"), 5);
	wal_sync(n);
	ck_assert_uint_eq(raft_commit_index(n->r), 4);
	ck_assert_uint_eq(req.replies, 0);
	ack_ae(n, "c");
	ck_assert_uint_eq(req.replies, 1);
	ck_assert_uint_eq(req.status, 200);
	fx_free(n);
}
END_TEST

/* A batch made durable in part: the durability of seq N is reported only
 * once every entry of that append is on disk. */
START_TEST(test_partial_durability)
{
	struct node *n = fx_leader(0);
	struct httpd_request r1 = { 0 }, r2 = { 0 };
	ck_assert_uint_eq(propose_write(n, &r1, "k1", "v1"), 5);
	ck_assert_uint_eq(propose_write(n, &r2, "k2", "v2"), 6);
	ack_ae(n, "b");
	wal_sync_to(n, 5);
	ck_assert_uint_eq(raft_commit_index(n->r), 5);
	ck_assert_uint_eq(r1.status, 200);
	ck_assert_uint_eq(r2.replies, 0);
	wal_sync_to(n, 6);
	ck_assert_uint_eq(raft_commit_index(n->r), 6);
	ck_assert_uint_eq(r2.status, 200);
	fx_free(n);
}
END_TEST

/* Entries are applied in log order: the later write of a key wins, and a
 * delete after a write removes it. */
START_TEST(test_apply_in_log_order)
{
	struct node *n = fx_leader(0);
	struct httpd_request rq[4] = { 0 };
	propose_write(n, &rq[0], "k", "first");
	propose_write(n, &rq[1], "j", "x");
	propose_write(n, &rq[2], "k", "second");
	struct cmd del = { .type = CMD_DELETE, .key = cmd_str_ref("j", 1) };
	struct raft_entry e = { .type = RAFT_ENTRY_COMMAND, .size = 64 };
	struct step_ctx ctx = { .cmds = &del };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose.n = 1, .propose.entries = &e };
	struct write_wait *w = write_wait_new(n, &rq[3], e.type);
	ck_assert_int_eq(step_propose(n, &ev, &ctx, w), 0);
	ck_assert_uint_eq(fw.last, 8);
	ack_ae(n, "b");
	wal_sync_to(n, 5);
	ck_assert_uint_eq(kv_applied_index(n->kv), 5);
	ck_assert(kv_has(n, "k", "first"));
	ck_assert(kv_has(n, "j", NULL));
	wal_sync_to(n, 7);
	ck_assert_uint_eq(kv_applied_index(n->kv), 7);
	ck_assert(kv_has(n, "k", "second"));
	ck_assert(kv_has(n, "j", "x"));
	wal_sync(n);
	ck_assert_uint_eq(kv_applied_index(n->kv), 8);
	ck_assert(kv_has(n, "k", "second"));
	ck_assert(kv_has(n, "j", NULL));
	for (int k = 0; k < 4; k++)
		ck_assert_uint_eq(rq[k].status, 200);
	/* a raftd:delete is in the log: no goraft node may get it */
	ck_assert_uint_eq(n->raftd_only_last, 8);
	fx_free(n);
}
END_TEST

/* A long committed stretch is applied a slice per loop pass (the test
 * build's slice ends at the first clock check, after 256 KiB or 64
 * entries); a write is answered only once the map holds it, never when
 * its slice merely covers it. */
START_TEST(test_apply_slices_answer_applied_only)
{
	struct node *n = fx_leader(0);
	enum { W = 100 };
	static struct httpd_request rq[W];
	memset(rq, 0, sizeof(rq));
	for (int k = 0; k < W; k++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", k);
		ck_assert_uint_eq(propose_write(n, &rq[k], key, "v"), 5 + (raft_index)k);
	}
	wal_sync(n);
	ack_ae(n, "b");
	ck_assert_uint_eq(raft_commit_index(n->r), 4 + W);
	unsigned passes = 1;
	for (;;) {
		raft_index applied = kv_applied_index(n->kv);
		for (int k = 0; k < W; k++) {
			bool done = 5 + (raft_index)k <= applied;
			ck_assert_uint_eq(rq[k].replies, done);
			if (done)
				ck_assert_uint_eq(rq[k].status, 200);
		}
		if (applied == 4 + W)
			break;
		ck_assert_msg(loop_timer_armed(&n->apply_timer), "behind at %" PRIu64 " with no pass to come",
			      applied);
		n->apply_timer.heap_index = LOOP_TIMER_IDLE; /* the loop fires it */
		on_apply_timer(&n->apply_timer);
		ck_assert_uint_gt(kv_applied_index(n->kv), applied);
		passes++;
	}
	ck_assert_uint_gt(passes, 1);
	ck_assert(!loop_timer_armed(&n->apply_timer));
	fx_free(n);
}
END_TEST

/* ---- a follower's AppendEntries --------------------------------------------- */

struct ae_in {
	uint8_t *bytes[8];
	struct wire_bytes raw[8];
	struct raft_entry ents[8];
	struct raft_msg msg;
};

/* AppendEntries from leader "a" at `term`: writes at prev+1.. (one per
 * key), encoded as the leader would, typed as rpc.c types them. */
static void ae_build(struct ae_in *in, raft_term term, raft_index prev, raft_term prev_term, raft_index commit,
		     const char *const *keys, size_t n_keys)
{
	memset(in, 0, sizeof(*in));
	for (size_t k = 0; k < n_keys; k++) {
		struct cmd c = { .type = CMD_WRITE, .key = cmd_str_ref(keys[k], strlen(keys[k])),
				 .value = cmd_str_ref("v", 1) };
		size_t len = cmd_entry_size(prev + 1 + k, term, &c);
		in->bytes[k] = malloc(len);
		ck_assert_int_eq(cmd_entry_encode(prev + 1 + k, term, &c, in->bytes[k], len), (long)len);
		in->raw[k] = (struct wire_bytes){ in->bytes[k], len };
		in->ents[k] = (struct raft_entry){ .index = prev + 1 + k, .term = term,
						   .type = RAFT_ENTRY_COMMAND, .size = (uint32_t)len };
	}
	in->msg = (struct raft_msg){ .type = RAFT_MSG_AE_REQ, .req_id = 77, .term = term };
	in->msg.ae.prev_index = prev;
	in->msg.ae.prev_term = prev_term;
	in->msg.ae.commit = commit;
	in->msg.ae.n_entries = n_keys;
	in->msg.ae.entries = in->ents;
}

static void ae_free(struct ae_in *in)
{
	for (size_t k = 0; k < 8; k++)
		free(in->bytes[k]);
}

static void ae_deliver(struct node *n, struct ae_in *in)
{
	struct step_ctx ctx = { .raw = in->raw };
	recv_msg(n, "a", &in->msg, &ctx);
}

/* The answer to a leader goes out only once the entries it acknowledges
 * are durable here: all of them, not the first of the batch. */
START_TEST(test_follower_answers_after_durable)
{
	struct node *n = fx_new("b", 0);
	static const char *const keys[] = { "x", "y" };
	struct ae_in in;
	ae_build(&in, 2, 3, 1, 0, keys, 2);
	ae_deliver(n, &in);
	ck_assert_uint_eq(fw.last, 5);
	ck_assert_ptr_null(last_sent("", RAFT_MSG_AE_RESP));
	/* the WAL holds the leader's bytes as they came */
	struct wal_entry we;
	ck_assert_int_eq(wal_entry_get(&fw, 5, &we), 0);
	ck_assert_mem_eq(we.data, in.bytes[1], in.raw[1].len);

	meta_sync(n); /* the leader's term, durable; the entries are not */
	ck_assert_uint_eq(fw.meta_term, 2);
	ck_assert_ptr_null(last_sent("", RAFT_MSG_AE_RESP));
	wal_sync_to(n, 4);
	ck_assert_ptr_null(last_sent("", RAFT_MSG_AE_RESP));
	wal_sync_to(n, 5);
	const struct raft_msg *r = last_sent("", RAFT_MSG_AE_RESP);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->ae_resp.success);
	ck_assert_uint_eq(r->ae_resp.index, 5);
	ck_assert_uint_eq(r->req_id, 77);
	ae_free(&in);
	fx_free(n);
}
END_TEST

/* A conflicting AppendEntries cuts entries that were never durable: their
 * durability is no longer waited for, so the answer for the new entry goes
 * out once it alone is on disk. */
START_TEST(test_follower_truncate_not_waiting_for_cut)
{
	struct node *n = fx_new("b", 0);
	static const char *const two[] = { "x", "y" }, *const one[] = { "z" };
	struct ae_in in1, in2;
	ae_build(&in1, 2, 3, 1, 0, two, 2);
	ae_deliver(n, &in1);
	ck_assert_uint_eq(fw.last, 5);
	ck_assert_ptr_null(last_sent("", RAFT_MSG_AE_RESP));

	/* a new leader at term 3 replaces both with one entry at index 4 */
	ae_build(&in2, 3, 3, 1, 0, one, 1);
	ae_deliver(n, &in2);
	ck_assert_uint_eq(fw.last, 4);
	ck_assert_uint_eq(fw.e[4].term, 3);
	meta_sync(n);
	wal_sync(n);
	const struct raft_msg *r = last_sent("", RAFT_MSG_AE_RESP);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->ae_resp.success);
	ck_assert_uint_eq(r->term, 3);
	ck_assert_uint_eq(r->ae_resp.index, 4);
	ae_free(&in1);
	ae_free(&in2);
	fx_free(n);
}
END_TEST

/* A leader's write whose entry a new leader cut is failed at once, never
 * acknowledged, with goraft raftd's status (its writeHandler: 400). */
START_TEST(test_truncated_write_fails)
{
	struct node *n = fx_leader(0);
	struct httpd_request req = { 0 };
	ck_assert_uint_eq(propose_write(n, &req, "k", "v"), 5);
	static const char *const one[] = { "other" };
	struct ae_in in;
	ae_build(&in, raft_current_term(n->r) + 1, 4, raft_current_term(n->r), 4, one, 1);
	recv_msg(n, "c", &in.msg, &(struct step_ctx){ .raw = in.raw });
	ck_assert_int_eq(raft_role(n->r), RAFT_FOLLOWER);
	ck_assert_uint_eq(req.replies, 1);
	ck_assert_uint_eq(req.status, 400);
	ck_assert_uint_eq(fw.last, 5);
	ck_assert_uint_eq(fw.e[5].term, raft_current_term(n->r));
	ae_free(&in);
	fx_free(n);
}
END_TEST

/* Term and vote sets in flight coalesce in the WAL; it reports the value
 * it wrote. (2, "c") durable confirms the vote, not the later term 3: the
 * answer to term 3's leader waits for (3, ""). */
START_TEST(test_meta_confirms_only_what_landed)
{
	struct node *n = fx_new("b", 0);
	struct raft_msg v = { .type = RAFT_MSG_RV_REQ, .req_id = 5, .term = 2 };
	v.rv.last_index = 3;
	v.rv.last_term = 1;
	recv_msg(n, "c", &v, NULL);
	unsigned sets = fw.meta_sets;
	ck_assert_uint_eq(fw.meta_term, 2);
	ck_assert_str_eq(fw.meta_vote, "c");
	ck_assert_ptr_null(last_sent("", RAFT_MSG_RV_RESP)); /* not before the vote is durable */

	struct ae_in in;
	ae_build(&in, 3, 3, 1, 0, NULL, 0);
	ae_deliver(n, &in);
	ck_assert_uint_gt(fw.meta_sets, sets);
	ck_assert_uint_eq(fw.meta_term, 3);
	ck_assert_str_eq(fw.meta_vote, "");

	on_wal_meta(n, 2, "c");
	ck_assert_ptr_null(last_sent("", RAFT_MSG_AE_RESP));
	on_wal_meta(n, 3, "");
	const struct raft_msg *r = last_sent("", RAFT_MSG_AE_RESP);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->term, 3);
	ck_assert(r->ae_resp.success);
	ae_free(&in);
	fx_free(n);
}
END_TEST

/* ---- WAL errors ------------------------------------------------------------- */

/* A failed write (not held for ENOSPC) stops the node so that a restart
 * reads what is really on disk; the pending write is never acknowledged. */
START_TEST(test_wal_error_stops)
{
	struct node *n = fx_leader(0);
	struct httpd_request req = { 0 };
	ck_assert_uint_eq(propose_write(n, &req, "k", "v"), 5);
	struct wal_error e = { .err = -EIO, .fatal = true, .op = "fsync" };
	on_wal_error(n, &e);
	ck_assert(n->stopping);
	ck_assert(n->loop.stop);
	ck_assert_int_eq(n->exit_status, 1);
	/* a late ack changes nothing; new proposals are refused */
	ack_ae(n, "b");
	ck_assert_uint_eq(req.replies, 0);
	struct httpd_request r2 = { 0 };
	ck_assert_uint_eq(propose_write(n, &r2, "k", "w"), 0);
	ck_assert_uint_eq(fw.last, 5);
	fx_free(n);
}
END_TEST

/* ENOSPC held by the WAL: nothing was lost, the node stays up; the write
 * is acknowledged once the held batch lands. */
START_TEST(test_wal_nospace_held)
{
	struct node *n = fx_leader(0);
	struct httpd_request req = { 0 };
	ck_assert_uint_eq(propose_write(n, &req, "k", "v"), 5);
	fw.nospace = true;
	struct wal_error e = { .err = -ENOSPC, .op = "write", .held = true };
	on_wal_error(n, &e);
	ck_assert(!n->stopping);
	ck_assert(n->nospace_said);
	fw.nospace = false;
	wal_sync(n);
	ck_assert(!n->nospace_said);
	ack_ae(n, "b");
	ck_assert_uint_eq(req.status, 200);
	fx_free(n);
}
END_TEST

/* An append the WAL refuses stops the node at once. */
START_TEST(test_wal_append_fails)
{
	struct node *n = fx_leader(0);
	struct httpd_request req = { 0 };
	fw.fail = -EIO;
	propose_write(n, &req, "k", "v");
	ck_assert(n->stopping);
	ck_assert_int_eq(n->exit_status, 1);
	ck_assert_uint_eq(fw.last, 4);
	ck_assert_uint_eq(req.status == 200, 0);
	fx_free(n);
}
END_TEST

/* ---- snapshots and compaction ------------------------------------------------- */

/* The core's snapshot request reaches the snapshot job; once taken, the
 * log is compacted, but never past the fallback snapshot: start-up falls
 * back to it when the newest does not verify, and replays from there. */
START_TEST(test_snapshot_then_compact_keeps_fallback)
{
	struct node *n = fx_leader(5);
	struct httpd_request rq[2] = { 0 };
	propose_write(n, &rq[0], "k1", "v");
	propose_write(n, &rq[1], "k2", "v");
	wal_sync(n);
	ack_ae(n, "b");
	ck_assert_uint_eq(kv_applied_index(n->kv), 6);
	ck_assert_uint_eq(snap_taken_at, 5); /* threshold: 5 entries applied */

	n->snap_prev_index = 2;
	struct raft_event ev = { .type = RAFT_EV_SNAPSHOT_TAKEN, .snapshot_taken.index = 5 };
	step(n, &ev, NULL);
	ck_assert_uint_eq(fw.compacts, 1);
	ck_assert_uint_eq(fw.compact_index, 3);
	fx_free(n);
}
END_TEST

START_TEST(test_snapshot_compact_without_fallback)
{
	struct node *n = fx_leader(5);
	struct httpd_request req = { 0 };
	propose_write(n, &req, "k1", "v");
	wal_sync(n);
	ack_ae(n, "b");
	ck_assert_uint_eq(snap_taken_at, 5);
	struct raft_event ev = { .type = RAFT_EV_SNAPSHOT_TAKEN, .snapshot_taken.index = 5 };
	step(n, &ev, NULL);
	ck_assert_uint_eq(fw.compacts, 1);
	ck_assert_uint_eq(fw.compact_index, 6);
	fx_free(n);
}
END_TEST

/* A snapshot asked for at an index the map has not reached is taken when
 * applying gets exactly there, before the next entry changes the map. */
START_TEST(test_deferred_snapshot_at_its_index)
{
	struct node *n = fx_leader(0);
	n->snap_deferred = true;
	n->snap_deferred_index = 6;
	struct httpd_request rq[3] = { 0 };
	propose_write(n, &rq[0], "k1", "v");
	propose_write(n, &rq[1], "k2", "v");
	propose_write(n, &rq[2], "k3", "v");
	wal_sync(n);
	ack_ae(n, "b");
	ck_assert_uint_eq(kv_applied_index(n->kv), 7);
	ck_assert_uint_eq(snap_deferred_at, 6);
	fx_free(n);
}
END_TEST

/* n->writes stays in index order: a node that waited, as a follower, for
 * a forwarded v3 write at index 9 and now leads proposes at 7 (v3_kv.c) */
START_TEST(test_writes_queue_in_index_order)
{
	struct node n = { 0 };
	struct write_wait w[4] = { { .index = 5 }, { .index = 9 }, { .index = 7 }, { .index = 12 } };
	n.writes_tail = &n.writes;
	for (size_t i = 0; i < 4; i++)
		writes_queue(&n, &w[i]);
	const raft_index want[] = { 5, 7, 9, 12 };
	size_t k = 0;
	for (struct write_wait *x = n.writes; x; x = x->next, k++)
		ck_assert_uint_eq(x->index, want[k]);
	ck_assert_uint_eq(k, 4);
	ck_assert_ptr_eq(n.writes_tail, &w[3].next);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("driver");
	TCase *tc = tcase_create("leader");
	tcase_add_test(tc, test_write_acked_after_own_durable);
	tcase_add_test(tc, test_write_acked_after_commit);
	tcase_add_test(tc, test_partial_durability);
	tcase_add_test(tc, test_apply_in_log_order);
	tcase_add_test(tc, test_apply_slices_answer_applied_only);
	tcase_add_test(tc, test_truncated_write_fails);
	tcase_add_test(tc, test_writes_queue_in_index_order);
	suite_add_tcase(s, tc);
	tc = tcase_create("follower");
	tcase_add_test(tc, test_follower_answers_after_durable);
	tcase_add_test(tc, test_follower_truncate_not_waiting_for_cut);
	tcase_add_test(tc, test_meta_confirms_only_what_landed);
	suite_add_tcase(s, tc);
	tc = tcase_create("wal_errors");
	tcase_add_test(tc, test_wal_error_stops);
	tcase_add_test(tc, test_wal_nospace_held);
	tcase_add_test(tc, test_wal_append_fails);
	suite_add_tcase(s, tc);
	tc = tcase_create("snapshots");
	tcase_add_test(tc, test_snapshot_then_compact_keeps_fallback);
	tcase_add_test(tc, test_snapshot_compact_without_fallback);
	tcase_add_test(tc, test_deferred_snapshot_at_its_index);
	suite_add_tcase(s, tc);
	return s;
}
