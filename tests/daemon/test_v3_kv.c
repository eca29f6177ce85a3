/* tests/daemon/test_v3_kv.c — what a follower answers for a v3 write it
 * forwarded to the leader (src/raftd/v3_kv.c, fwd_done() and fwd_submit()).
 *
 * v3_kv.c is included whole, so that its static completion is called as the
 * peer would call it; everything else it calls is faked here at link time
 * (nothing of libnode.a is linked). A fake that the forward's answer must
 * not reach aborts.
 */
#include "src/raftd/v3_kv.c"

#include <check.h>

#include "tests/lib/check_main.h"

/* ---- what the call was answered ------------------------------------------------ */

static int failed_with;		   /* v3_fail()'s err, 0: not called */
static int finished_with = -1;	   /* grpc_finish()'s status, -1: not called */
static char finished_msg[256];
static struct grpc_call *the_call = (struct grpc_call *)&failed_with; /* never dereferenced */

void v3_fail(struct grpc_call *c, int err)
{
	ck_assert_ptr_eq(c, the_call);
	failed_with = err;
}

void grpc_finish(struct grpc_call *call, enum grpc_status status, const char *message)
{
	ck_assert_ptr_eq(call, the_call);
	finished_with = (int)status;
	snprintf(finished_msg, sizeof(finished_msg), "%s", message);
}

/* ---- the leader, as fwd_submit() finds it ---------------------------------------- */

static int submit_res; /* what peer_submit() answers */
static struct npeer leader_peer = { .p = (struct peer *)&submit_res, .kind_known = true };

const char *raft_leader(const struct raft *r)
{
	(void)r;
	return "n1";
}

enum raft_role raft_role(const struct raft *r)
{
	(void)r;
	return RAFT_FOLLOWER;
}

struct npeer *npeer_find(struct node *n, const char *name)
{
	(void)n;
	return !strcmp(name, "n1") ? &leader_peer : NULL;
}

int peer_submit(struct peer *p, const struct peer_request *req)
{
	(void)p;
	(void)req;
	return submit_res;
}

bool log_enabled(int priority)
{
	(void)priority;
	return false;
}

void log_msg_at(const char *file, int line, const char *func, int priority, const char *id, const char *fields,
		const char *fmt, ...)
{
	(void)file, (void)line, (void)func, (void)priority, (void)id, (void)fields, (void)fmt;
}

void etcd_req_free(struct etcd_req *req)
{
	(void)req;
}

uint64_t kv_applied_index(const struct kv *kv)
{
	(void)kv;
	return 0;
}

static struct write_wait queued;
static bool was_queued;

struct write_wait *write_wait_new(struct node *n, struct httpd_request *req, enum raft_entry_type type)
{
	(void)n, (void)req, (void)type;
	return calloc(1, sizeof(struct write_wait));
}

void writes_queue(struct node *n, struct write_wait *w)
{
	(void)n;
	queued = *w;
	was_queued = true;
	free(w);
}

/* ---- not on a forward's path ------------------------------------------------------ */

#define NOT_HERE abort()
int etcd_check(const struct etcd_req *req) { (void)req; NOT_HERE; }
int etcd_decode(enum etcd_kind kind, const uint8_t *msg, size_t len, struct etcd_req *ret, char *err, size_t err_len)
{ (void)kind, (void)msg, (void)len, (void)ret, (void)err, (void)err_len; NOT_HERE; }
int etcd_decode_entry(const uint8_t *payload, size_t len, struct etcd_req *ret, char *err, size_t err_len)
{ (void)payload, (void)len, (void)ret, (void)err, (void)err_len; NOT_HERE; }
int etcd_encode_response(enum etcd_kind kind, const struct etcd_header *h, const struct mvcc_result *res,
			 uint8_t **ret_buf, size_t *ret_len)
{ (void)kind, (void)h, (void)res, (void)ret_buf, (void)ret_len; NOT_HERE; }
void grpc_call_set_user(struct grpc_call *call, void *user) { (void)call, (void)user; NOT_HERE; }
void *grpc_call_user(const struct grpc_call *call) { (void)call; NOT_HERE; }
const uint8_t *httpd_body(const struct httpd_request *req, size_t *ret_len) { (void)req, (void)ret_len; NOT_HERE; }
int httpd_reply_text(struct httpd_request *req, unsigned status, const char *text)
{ (void)req, (void)status, (void)text; NOT_HERE; }
int kv_apply(struct kv *kv, uint64_t index, const struct cmd *cmd) { (void)kv, (void)index, (void)cmd; NOT_HERE; }
int kv_apply_compact(struct kv *kv, uint64_t index, int64_t rev, int *ret_err)
{ (void)kv, (void)index, (void)rev, (void)ret_err; NOT_HERE; }
int kv_apply_lease_grant(struct kv *kv, uint64_t index, int64_t id, int64_t ttl, int *ret_err)
{
	(void)kv, (void)index, (void)id, (void)ttl, (void)ret_err;
	NOT_HERE;
}
int kv_apply_lease_revoke(struct kv *kv, uint64_t index, int64_t id, struct mvcc_result *ret, int *ret_err)
{
	(void)kv, (void)index, (void)id, (void)ret, (void)ret_err;
	NOT_HERE;
}
/* the Lease service (v3_lease.c) */
int v3_lease_complete(struct node *n, const uint8_t *payload, size_t len, uint8_t **ret, size_t *ret_len)
{
	(void)n, (void)payload, (void)len, (void)ret, (void)ret_len;
	NOT_HERE;
}
void v3_lease_answer(struct grpc_call *c, struct node *n, int kind, int64_t id, int64_t ttl)
{
	(void)c, (void)n, (void)kind, (void)id, (void)ttl;
	NOT_HERE;
}
void v3_lease_granted(struct node *n, int64_t id, int64_t ttl, raft_term term)
{
	(void)n, (void)id, (void)ttl, (void)term;
	NOT_HERE;
}
void v3_lease_revoked(struct node *n, int64_t id) { (void)n, (void)id; NOT_HERE; }
int kv_apply_op(struct kv *kv, uint64_t index, const struct mvcc_op *op, struct mvcc_result *ret, int *ret_err)
{ (void)kv, (void)index, (void)op, (void)ret, (void)ret_err; NOT_HERE; }
const struct mvcc *kv_mvcc_const(const struct kv *kv) { (void)kv; NOT_HERE; }
uint64_t loop_now_ns(const struct loop *loop) { (void)loop; NOT_HERE; }
int mvcc_read(const struct mvcc *s, const struct mvcc_range_req *req, struct mvcc_result *ret)
{ (void)s, (void)req, (void)ret; NOT_HERE; }
void mvcc_result_free(struct mvcc_result *res) { (void)res; NOT_HERE; }
raft_term raft_current_term(const struct raft *r) { (void)r; NOT_HERE; }
raft_index raft_last_index(const struct raft *r) { (void)r; NOT_HERE; }
const char *raft_member_name(const struct raft *r, size_t i) { (void)r, (void)i; NOT_HERE; }
size_t raft_n_members(const struct raft *r) { (void)r; NOT_HERE; }
void rpc_cmd_entry(const struct cmd *c, raft_index index, raft_term term, struct raft_entry *ret)
{ (void)c, (void)index, (void)term, (void)ret; NOT_HERE; }
void serve_reads(struct node *n) { (void)n; NOT_HERE; }
int step_propose(struct node *n, struct raft_event *ev, const struct step_ctx *ctx, struct write_wait *w)
{ (void)n, (void)ev, (void)ctx, (void)w; NOT_HERE; }
int step_rv(struct node *n, struct raft_event *ev, const struct step_ctx *ctx) { (void)n, (void)ev, (void)ctx; NOT_HERE; }
bool v3_allowed(struct grpc_call *c, enum auth_class cls) { (void)c, (void)cls; NOT_HERE; }
void v3_header(struct node *n, struct etcd_header *h) { (void)n, (void)h; NOT_HERE; }
struct node *v3_node(struct grpc_call *call) { (void)call; NOT_HERE; }
void v3_reply(struct grpc_call *c, uint8_t *buf, size_t len) { (void)c, (void)buf, (void)len; NOT_HERE; }
enum grpc_status v3_status(int err, const char **ret_message) { (void)err, (void)ret_message; NOT_HERE; }
bool wal_nospace(const struct wal *w) { (void)w; NOT_HERE; }

/* ---- the tests ---------------------------------------------------------------------- */

static struct node node;

/* A Put forwarded to the leader: the forward fwd_done() completes. */
static struct v3_fwd *forwarded(void)
{
	memset(&node, 0, sizeof(node));
	failed_with = 0;
	finished_with = -1;
	was_queued = false;
	submit_res = 0;
	struct v3_call *vc = calloc(1, sizeof(*vc));
	ck_assert_ptr_nonnull(vc);
	vc->call = the_call;
	vc->n = &node;
	vc->kind = ETCD_PUT;
	static const uint8_t msg[] = { 0x0a, 0x01, 'k' };
	ck_assert_int_eq(forward(&node, vc, msg, sizeof(msg)), 0);
	ck_assert_int_eq(vc->state, V3_FORWARD);
	return vc->p;
}

static void complete(struct v3_fwd *f, int res, const char *body)
{
	fwd_done(f, res, (const uint8_t *)body, body ? strlen(body) : 0);
	fwd_release(f);
}

/* The leader took no answer back in time: it may have appended the entry,
 * and it may commit. */
START_TEST(test_timeout_after_send_is_unknown)
{
	complete(forwarded(), -ETIMEDOUT, NULL);
	ck_assert_int_eq(failed_with, -V3_E_TIMEOUT);
}
END_TEST

/* Reset or closed while the answer was awaited; broken while writing. */
START_TEST(test_lost_connection_is_unknown)
{
	static const int errs[] = { -ECONNRESET, -EPIPE, -EPROTO, -E2BIG, -ECANCELED, -EIO };
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		complete(forwarded(), errs[i], NULL);
		ck_assert_int_eq(failed_with, -V3_E_TIMEOUT);
	}
}
END_TEST

/* Nothing can have reached the leader: "no leader", the client retries. */
START_TEST(test_not_sent_is_no_leader)
{
	static const int errs[] = { -ECONNREFUSED, -EHOSTUNREACH, -ENETUNREACH, -EKEYREJECTED };
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		complete(forwarded(), errs[i], NULL);
		ck_assert_int_eq(failed_with, -V3_E_NO_LEADER);
	}
}
END_TEST

/* peer_submit() refusing (a backoff after a refused connection): the
 * request was never queued. */
START_TEST(test_submit_refused_is_no_leader)
{
	memset(&node, 0, sizeof(node));
	submit_res = -ECONNREFUSED;
	struct v3_fwd f = { .n = &node };
	ck_assert_int_eq(fwd_submit(&node, &f), -V3_E_NO_LEADER);
	submit_res = -ETIMEDOUT; /* the backoff of a timed-out connection: still unsent */
	ck_assert_int_eq(fwd_submit(&node, &f), -V3_E_NO_LEADER);
}
END_TEST

/* The leader's own refusal is passed on as it said it; an HTTP status
 * without one means it did not propose. */
START_TEST(test_leader_refusal_kept)
{
	complete(forwarded(), 503, "14 etcdserver: no leader");
	ck_assert_int_eq(failed_with, 0);
	ck_assert_int_eq(finished_with, GRPC_UNAVAILABLE);
	ck_assert_str_eq(finished_msg, "etcdserver: no leader");
	complete(forwarded(), 404, "not found");
	ck_assert_int_eq(failed_with, -V3_E_NO_LEADER);
}
END_TEST

/* The leader's index, answered while this member stops: not read as a
 * refusal "CODE MESSAGE" (index 5, term 2 was gRPC's NOT_FOUND "2"). */
START_TEST(test_stopping_after_append)
{
	struct v3_fwd *f = forwarded();
	node.stopping = true;
	complete(f, 200, "5 2");
	ck_assert_int_eq(finished_with, -1);
	ck_assert_int_eq(failed_with, -V3_E_STOPPING);
}
END_TEST

/* The leader's index: the call waits for this member's apply of it. */
START_TEST(test_appended_waits_for_apply)
{
	complete(forwarded(), 200, "7 3");
	ck_assert(was_queued);
	ck_assert_uint_eq(queued.index, 7);
	ck_assert_uint_eq(queued.term, 3);
	ck_assert_int_eq(failed_with, 0);
	ck_assert_int_eq(finished_with, -1);
	vc_free(queued.v3);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("v3_kv");
	TCase *tc = tcase_create("forward");
	tcase_add_test(tc, test_timeout_after_send_is_unknown);
	tcase_add_test(tc, test_lost_connection_is_unknown);
	tcase_add_test(tc, test_not_sent_is_no_leader);
	tcase_add_test(tc, test_submit_refused_is_no_leader);
	tcase_add_test(tc, test_leader_refusal_kept);
	tcase_add_test(tc, test_stopping_after_append);
	tcase_add_test(tc, test_appended_waits_for_apply);
	suite_add_tcase(s, tc);
	return s;
}
