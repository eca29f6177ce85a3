/* tests/raft/test_raft.c — unit tests of the Raft core, one rule each.
 *
 * The goraft vectors (GORAFT_WIRE_DIR, default ../shared/goraft-wire) are
 * decoded with proto/wire.h and fed to a core in the state of the node that
 * answered them; the core's reply must carry goraft's exact field values.
 * Other tests drive a core by hand and assert the actions it emits, as
 * golden traces ("remote term is higher -> persist, then reply").
 */
#include "proto/wire.h"
#include "src/raft/raft.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/lib/check_main.h"
#include "tests/lib/core_fixture.h"

/* ---- harness --------------------------------------------------------- */

/* The cores are built and driven by tests/lib/core_fixture.h; these
 * wrappers only turn its errors into test failures. */

/* A node restored with `n` entries of terms[] (type nop, except joins for
 * the members listed, in order, at the start of the log). */
static void tn_init_cfg(struct fx_node *t, const struct raft_config *cfg, raft_term term,
			const char *vote, const char *const *members, size_t n_members,
			const raft_term *terms, size_t n, raft_index commit)
{
	ck_assert_int_eq(fx_node_restore(t, cfg, term, vote, members, n_members, terms, n, commit), 0);
}

static void tn_init(struct fx_node *t, const char *name, raft_term term, const char *const *members,
		    size_t n_members, const raft_term *terms, size_t n, raft_index commit)
{
	struct raft_config cfg = fx_config(name);
	tn_init_cfg(t, &cfg, term, "", members, n_members, terms, n, commit);
}

/* The election timeout runs out; the vote is persisted and voter's grant
 * makes this node of three the leader. */
static void tn_elect(struct fx_node *t, const char *voter)
{
	fx_tick(t, 1000);
	fx_persisted(t, fx_persist_seq(t));
	struct raft_msg g = {.type = RAFT_MSG_RV_RESP, .term = raft_current_term(t->r)};
	g.rv_resp.granted = true;
	fx_recv(t, voter, &g);
	ck_assert_int_eq(raft_role(t->r), RAFT_LEADER);
}

static struct raft_msg ae(raft_term term, raft_index prev, raft_term prev_term, raft_index commit,
			  const struct raft_entry *entries, size_t n)
{
	struct raft_msg m = {.type = RAFT_MSG_AE_REQ, .req_id = 7, .term = term};
	m.ae.prev_index = prev;
	m.ae.prev_term = prev_term;
	m.ae.commit = commit;
	m.ae.entries = entries;
	m.ae.n_entries = n;
	return m;
}

static struct raft_msg rv(raft_term term, raft_index li, raft_term lt)
{
	struct raft_msg m = {.type = RAFT_MSG_RV_REQ, .req_id = 9, .term = term};
	m.rv.last_index = li;
	m.rv.last_term = lt;
	return m;
}

static struct raft_msg ae_resp(uint64_t id, raft_term term, raft_index index, raft_index commit,
			       bool ok)
{
	struct raft_msg m = {.type = RAFT_MSG_AE_RESP, .req_id = id, .term = term};
	m.ae_resp.index = index;
	m.ae_resp.commit = commit;
	m.ae_resp.success = ok;
	return m;
}

static const char *const ABC[] = {"a", "b", "c"};

static void make_leader3_cfg(struct fx_node *t, struct raft_config cfg, const raft_term *terms,
			     size_t n, bool goraft_peers);

/* Leader "a" of {a,b,c} at term 2: log of n entries, elected, nop durable. */
static void make_leader3(struct fx_node *t, const raft_term *terms, size_t n, bool goraft_peers)
{
	make_leader3_cfg(t, fx_config("a"), terms, n, goraft_peers);
}

static void make_leader3_cfg(struct fx_node *t, struct raft_config cfg, const raft_term *terms,
			     size_t n, bool goraft_peers)
{
	cfg.pre_vote = false;
	tn_init_cfg(t, &cfg, terms[n - 1], "", ABC, 3, terms, n, 0);
	if (goraft_peers) {
		for (int i = 1; i < 3; i++) {
			struct raft_event ev = {.type = RAFT_EV_PEER_KIND};
			ev.peer_kind.name = ABC[i];
			ev.peer_kind.goraft = true;
			fx_step(t, &ev);
		}
	}
	fx_tick(t, 1000); /* election timeout: candidate */
	ck_assert_int_eq(raft_role(t->r), RAFT_CANDIDATE);
	fx_persisted(t, fx_persist_seq(t));
	struct raft_msg g = {.type = RAFT_MSG_RV_RESP, .term = raft_current_term(t->r)};
	g.rv_resp.granted = true;
	fx_recv(t, "b", &g);
	ck_assert_int_eq(raft_role(t->r), RAFT_LEADER);
}

/* ---- goraft vectors ---------------------------------------------------- */

#ifndef RAFT_TEST_SRCDIR
#define RAFT_TEST_SRCDIR "."
#endif

static const char *wire_dir(void)
{
	const char *d = getenv("GORAFT_WIRE_DIR");
	return d && *d ? d : RAFT_TEST_SRCDIR "/../shared/goraft-wire";
}

static uint8_t *read_body(const char *name, const char *ext, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.%s", wire_dir(), name, ext);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (set GORAFT_WIRE_DIR)", path);
	static uint8_t buf[1 << 16];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	uint8_t *copy = malloc(*len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, buf, *len);
	return copy;
}

/* Decoded AppendEntries request as the daemon would hand it to the core:
 * typed entries with the join/leave name taken from the JSON payload. */
struct vec_ae {
	uint8_t *body;
	struct wire_ae_req req;
	struct raft_entry entries[16];
	char names[16][RAFT_NAME_MAX];
	struct raft_msg msg;
	char leader[RAFT_NAME_MAX];
};

static void json_name(const struct wire_bytes *cmd, char *out)
{
	/* the payload is goraft's {"name":"...",...}; enough for a test */
	out[0] = '\0';
	const char *p = memmem(cmd->ptr, cmd->len, "\"name\":\"", 8);
	if (!p)
		return;
	p += 8;
	size_t n = 0;
	while (p + n < (const char *)cmd->ptr + cmd->len && p[n] != '"' && n + 1 < RAFT_NAME_MAX)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

static void load_ae(const char *name, struct vec_ae *v)
{
	size_t len;
	v->body = read_body(name, "req", &len);
	ck_assert_int_eq(wire_decode(WIRE_AE_REQ, v->body, len, &v->req, NULL), 0);
	size_t cur = 0, n = 0;
	struct wire_bytes eb;
	while (wire_next_entry(&v->req, &cur, &eb)) {
		ck_assert_uint_lt(n, 16);
		struct wire_log_entry le;
		ck_assert_int_eq(wire_decode(WIRE_LOG_ENTRY, eb.ptr, eb.len, &le, NULL), 0);
		struct raft_entry *e = &v->entries[n];
		memset(e, 0, sizeof(*e));
		e->index = le.index;
		e->term = le.term;
		e->size = (uint32_t)eb.len;
		if (le.command_name.len == 8 && !memcmp(le.command_name.ptr, "raft:nop", 8)) {
			e->type = RAFT_ENTRY_NOP;
		} else if (le.command_name.len == 9 && !memcmp(le.command_name.ptr, "raft:join", 9)) {
			e->type = RAFT_ENTRY_JOIN;
			json_name(&le.command, v->names[n]);
			e->name = v->names[n];
			e->url = "http://localhost:1";
		} else if (le.command_name.len == 10 && !memcmp(le.command_name.ptr, "raft:leave", 10)) {
			e->type = RAFT_ENTRY_LEAVE;
			json_name(&le.command, v->names[n]);
			e->name = v->names[n];
		} else {
			e->type = RAFT_ENTRY_COMMAND;
		}
		n++;
	}
	ck_assert_uint_eq(n, v->req.entries.count);
	v->msg = ae(v->req.term, v->req.prev_log_index, v->req.prev_log_term, v->req.commit_index,
		    v->entries, n);
	snprintf(v->leader, sizeof(v->leader), "%.*s", (int)v->req.leader_name.len,
		 (const char *)v->req.leader_name.ptr);
}

static struct wire_ae_resp load_ae_resp(const char *name)
{
	size_t len;
	uint8_t *b = read_body(name, "resp", &len);
	struct wire_ae_resp r;
	ck_assert_int_eq(wire_decode(WIRE_AE_RESP, b, len, &r, NULL), 0);
	free(b);
	return r;
}

static struct raft_msg load_rv(const char *name, char *cand)
{
	size_t len;
	uint8_t *b = read_body(name, "req", &len);
	struct wire_rv_req q;
	ck_assert_int_eq(wire_decode(WIRE_RV_REQ, b, len, &q, NULL), 0);
	snprintf(cand, RAFT_NAME_MAX, "%.*s", (int)q.candidate_name.len,
		 (const char *)q.candidate_name.ptr);
	free(b);
	return rv(q.term, q.last_log_index, q.last_log_term);
}

static struct wire_rv_resp load_rv_resp(const char *name)
{
	size_t len;
	uint8_t *b = read_body(name, "resp", &len);
	struct wire_rv_resp r;
	ck_assert_int_eq(wire_decode(WIRE_RV_RESP, b, len, &r, NULL), 0);
	free(b);
	return r;
}

/* Feed vector `name` to t and return the reply, completing any persist
 * and log write first (as the daemon does before answering). */
static struct raft_msg answer_ae(struct fx_node *t, const char *name)
{
	struct vec_ae v;
	load_ae(name, &v);
	fx_recv(t, v.leader, &v.msg);
	const struct raft_msg *m = fx_sent_to(t, v.leader);
	uint64_t ps = fx_persist_seq(t), ls = fx_log_seq(t);
	if (!m && ps) {
		fx_persisted(t, ps);
		m = fx_sent_to(t, v.leader);
	}
	if (!m && ls) {
		fx_durable(t, ls);
		m = fx_sent_to(t, v.leader);
	}
	ck_assert_msg(m != NULL, "%s: no reply", name);
	ck_assert_int_eq(m->type, RAFT_MSG_AE_RESP);
	ck_assert_uint_eq(m->req_id, v.msg.req_id);
	struct raft_msg copy = *m;
	free(v.body);
	return copy;
}

static void assert_ae_resp(const struct raft_msg *m, const struct wire_ae_resp *want)
{
	ck_assert_uint_eq(m->term, want->term);
	ck_assert_uint_eq(m->ae_resp.index, want->index);
	ck_assert_uint_eq(m->ae_resp.commit, want->commit_index);
	ck_assert_int_eq(m->ae_resp.success, want->success);
}

/* The crafted cases hit a follower of leader 6b99058 holding 4 entries of
 * term 0 with commit index 4, in this order (docs/goraft-protocol.md §10.4). */
START_TEST(test_vectors_crafted_sequence)
{
	static const raft_term t0[4] = {0, 0, 0, 0};
	/* the crafted candidate and leader "zz" is a member: raftd denies
	 * votes to non-members (docs/goraft-protocol.md §11.3) */
	static const char *const members[] = {"6b99058", "f0110w3", "zz"};
	struct fx_node t;
	tn_init(&t, "f0110w3", 0, members, 3, t0, 4, 4);

	struct raft_msg m = answer_ae(&t, "crafted-ae-gap");
	struct wire_ae_resp want = load_ae_resp("crafted-ae-gap");
	assert_ae_resp(&m, &want);
	ck_assert(!m.ae_resp.success);

	m = answer_ae(&t, "crafted-ae-past-end");
	want = load_ae_resp("crafted-ae-past-end");
	assert_ae_resp(&m, &want);

	/* vote granted at a higher term: the term and vote are persisted
	 * first, and the reply waits for PERSISTED */
	/* (after an election timeout without the leader: a voter that still
	 * hears from its leader ignores a vote request, thesis §4.2.3) */
	t.now += 300;
	char cand[RAFT_NAME_MAX];
	struct raft_msg q = load_rv("crafted-rv-grant-higher", cand);
	fx_recv(&t, cand, &q);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_SEND), 0);
	const struct raft_action *p =
		fx_nth_action(&t, RAFT_ACT_PERSIST, fx_count_actions(&t, RAFT_ACT_PERSIST) - 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->persist.term, 5);
	ck_assert_str_eq(p->persist.vote, "zz");
	fx_persisted(&t, p->persist.seq);
	const struct raft_msg *r = fx_sent_to(&t, cand);
	ck_assert_ptr_nonnull(r);
	struct wire_rv_resp wr = load_rv_resp("crafted-rv-grant-higher");
	ck_assert_uint_eq(r->term, wr.term);
	ck_assert_int_eq(r->rv_resp.granted, wr.vote_granted);
	ck_assert(r->rv_resp.granted);

	q = load_rv("crafted-rv-deny-stale", cand);
	fx_recv(&t, cand, &q);
	r = fx_sent_to(&t, cand);
	ck_assert_ptr_nonnull(r);
	wr = load_rv_resp("crafted-rv-deny-stale");
	ck_assert_uint_eq(r->term, wr.term);
	ck_assert_int_eq(r->rv_resp.granted, wr.vote_granted);
	ck_assert(!r->rv_resp.granted);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_PERSIST), 0);

	m = answer_ae(&t, "crafted-ae-lower-term");
	want = load_ae_resp("crafted-ae-lower-term");
	assert_ae_resp(&m, &want);

	m = answer_ae(&t, "crafted-ae-mismatch-term");
	want = load_ae_resp("crafted-ae-mismatch-term");
	assert_ae_resp(&m, &want);
	ck_assert_uint_eq(raft_current_term(t.r), 6);
	ck_assert_str_eq(raft_leader(t.r), "zz");
	raft_free(t.r);
}
END_TEST

/* Captured traffic of the 3-node goraft cluster (docs/goraft-protocol.md §10.4). */
START_TEST(test_vectors_captured)
{
	static const raft_term t0[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	static const char *const members[] = {"6edf0e8", "7c55909", "6ab076d"};
	struct fx_node t;

	/* heartbeat to 7c55909 holding 3 entries, commit 3 */
	tn_init(&t, "7c55909", 0, members, 2, t0, 3, 3);
	struct raft_msg m = answer_ae(&t, "ae-heartbeat");
	struct wire_ae_resp want = load_ae_resp("ae-heartbeat");
	assert_ae_resp(&m, &want);
	raft_free(t.r);

	/* the restarted 6edf0e8 (6 entries of term 0) catches up from the new
	 * leader 6ab076d at term 1: nop and write, commit 8 */
	tn_init(&t, "6edf0e8", 0, members, 3, t0, 6, 4);
	m = answer_ae(&t, "ae-catchup-after-restart");
	want = load_ae_resp("ae-catchup-after-restart");
	assert_ae_resp(&m, &want);
	ck_assert_uint_eq(raft_commit_index(t.r), 8);
	raft_free(t.r);

	/* a new node gets the whole log from index 1. goraft answers
	 * CommitIndex 1 (its join barrier applies one membership entry per
	 * request); raftd commits min(leader commit, last new entry) = 4,
	 * which goraft leaders accept (docs/goraft-protocol.md §10.2.2,
	 * §11.4). Everything else is goraft's exact reply. */
	tn_init(&t, "6ab076d", 0, NULL, 0, t0, 0, 0);
	m = answer_ae(&t, "ae-catchup-four-entries");
	want = load_ae_resp("ae-catchup-four-entries");
	ck_assert_uint_eq(m.term, want.term);
	ck_assert_uint_eq(m.ae_resp.index, want.index);
	ck_assert_int_eq(m.ae_resp.success, want.success);
	ck_assert_uint_eq(want.commit_index, 1);
	ck_assert_uint_eq(m.ae_resp.commit, 4);
	ck_assert_uint_eq(raft_n_members(t.r), 3);
	ck_assert(raft_is_member(t.r, "6ab076d"));
	raft_free(t.r);

	/* the vote that elected 6ab076d at term 1 */
	tn_init(&t, "7c55909", 0, members, 3, t0, 6, 4);
	char cand[RAFT_NAME_MAX];
	struct raft_msg q = load_rv("rv-granted", cand);
	fx_recv(&t, cand, &q);
	fx_persisted(&t, fx_persist_seq(&t));
	const struct raft_msg *r = fx_sent_to(&t, cand);
	ck_assert_ptr_nonnull(r);
	struct wire_rv_resp wr = load_rv_resp("rv-granted");
	ck_assert_uint_eq(r->term, wr.term);
	ck_assert_int_eq(r->rv_resp.granted, wr.vote_granted);
	raft_free(t.r);
}
END_TEST

/* ---- election and voting --------------------------------------------- */

START_TEST(test_empty_log_never_campaigns)
{
	struct fx_node t;
	tn_init(&t, "new", 0, NULL, 0, NULL, 0, 0);
	for (int i = 0; i < 100; i++) {
		fx_tick(&t, 100);
		ck_assert_uint_eq(t.u.n_actions, 0);
	}
	ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
	ck_assert_uint_eq(raft_current_term(t.r), 0);
	raft_free(t.r);
}
END_TEST

START_TEST(test_election_timeout_is_randomized_within_goraft_bounds)
{
	/* goraft util.go afterBetween(150, 300): no campaign before 150 ms,
	 * always one by 300 ms (pre-vote off: a real election) */
	static const raft_term tt[3] = {0, 0, 0};
	unsigned earliest = 1000, latest = 0;
	for (uint64_t seed = 1; seed <= 50; seed++) {
		struct raft_config cfg = fx_config("a");
		cfg.seed = seed;
		cfg.pre_vote = false;
		struct fx_node t;
		tn_init_cfg(&t, &cfg, 0, "", ABC, 3, tt, 3, 0);
		unsigned ms = 0;
		while (raft_role(t.r) == RAFT_FOLLOWER && ms < 1000) {
			fx_tick(&t, 1);
			ms++;
		}
		ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
		earliest = ms < earliest ? ms : earliest;
		latest = ms > latest ? ms : latest;
		raft_free(t.r);
	}
	ck_assert_uint_ge(earliest, 150);
	ck_assert_uint_lt(latest, 300);
	ck_assert_uint_gt(latest - earliest, 30); /* really randomized */
}
END_TEST

START_TEST(test_candidate_persists_before_requesting_votes)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 1, "", ABC, 3, tt, 3, 0);
	fx_tick(&t, 400);
	/* golden trace: persist (term 2, vote a), role candidate; no RV yet */
	ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
	const struct raft_action *p = fx_nth_action(&t, RAFT_ACT_PERSIST, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->persist.term, 2);
	ck_assert_str_eq(p->persist.vote, "a");
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_SEND), 0);
	fx_persisted(&t, p->persist.seq);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_SEND), 2);
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_RV_REQ);
	ck_assert_uint_eq(m->term, 2);
	ck_assert_uint_eq(m->rv.last_index, 3);
	ck_assert_uint_eq(m->rv.last_term, 1);
	ck_assert(!m->rv.pre_vote);
	/* one vote + own = majority of 3: leader, nop of term 2 appended */
	struct raft_msg g = {.type = RAFT_MSG_RV_RESP, .term = 2};
	g.rv_resp.granted = true;
	fx_recv(&t, "c", &g);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	const struct raft_action *a = fx_nth_action(&t, RAFT_ACT_APPEND, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->append.first, 4);
	ck_assert_int_eq(a->append.src, RAFT_SRC_CORE);
	struct raft_entry e;
	ck_assert(raft_get_entry(t.r, 4, &e));
	ck_assert_int_eq(e.type, RAFT_ENTRY_NOP);
	ck_assert_uint_eq(e.term, 2);
	/* the leader replicates at once, in parallel with its own write */
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_AE_REQ);
	ck_assert_uint_eq(m->ae.prev_index, 3);
	ck_assert_uint_eq(m->ae.n_entries, 1);
	raft_free(t.r);
}
END_TEST

START_TEST(test_vote_rules)
{
	static const raft_term tt[3] = {0, 1, 2};
	struct fx_node t;
	tn_init(&t, "b", 2, ABC, 3, tt, 3, 0);
	/* stale log (lower last term, longer log): denied (Raft §5.4.1) */
	struct raft_msg q = rv(3, 10, 1);
	fx_recv(&t, "a", &q);
	fx_persisted(&t, fx_persist_seq(&t));
	const struct raft_msg *r = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert(!r->rv_resp.granted);
	ck_assert_uint_eq(r->term, 3); /* the term moved anyway (goraft too) */
	/* same last term, shorter log: denied */
	q = rv(3, 2, 2);
	fx_recv(&t, "c", &q);
	ck_assert(!fx_sent_to(&t, "c")->rv_resp.granted);
	/* up to date: granted, after the persist */
	q = rv(3, 3, 2);
	fx_recv(&t, "c", &q);
	ck_assert_ptr_null(fx_sent_to(&t, "c"));
	ck_assert_str_eq(fx_nth_action(&t, RAFT_ACT_PERSIST, 0)->persist.vote, "c");
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(fx_sent_to(&t, "c")->rv_resp.granted);
	/* one vote per term: a denied, c again granted (idempotent) */
	q = rv(3, 9, 3);
	fx_recv(&t, "a", &q);
	ck_assert(!fx_sent_to(&t, "a")->rv_resp.granted);
	q = rv(3, 3, 2);
	fx_recv(&t, "c", &q);
	ck_assert(fx_sent_to(&t, "c")->rv_resp.granted);
	raft_free(t.r);

	/* the vote survives a restart (persisted: stricter than goraft) */
	struct raft_config cfg = fx_config("b");
	tn_init_cfg(&t, &cfg, 3, "c", ABC, 3, tt, 3, 0);
	q = rv(3, 9, 3);
	fx_recv(&t, "a", &q);
	ck_assert(!fx_sent_to(&t, "a")->rv_resp.granted);
	raft_free(t.r);
}
END_TEST

START_TEST(test_even_cluster_needs_three_of_four)
{
	static const raft_term tt[4] = {0, 0, 0, 0};
	static const char *const four[] = {"a", "b", "c", "d"};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 0, "", four, 4, tt, 4, 0);
	fx_tick(&t, 1000);
	fx_persisted(&t, fx_persist_seq(&t));
	struct raft_msg g = {.type = RAFT_MSG_RV_RESP, .term = 1};
	g.rv_resp.granted = true;
	fx_recv(&t, "b", &g);
	ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE); /* 2 of 4 */
	fx_recv(&t, "b", &g);                              /* a duplicate */
	ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
	fx_recv(&t, "zz", &g);                             /* not a member */
	ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
	fx_recv(&t, "d", &g);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);     /* 3 of 4 */
	raft_free(t.r);
}
END_TEST

START_TEST(test_higher_term_response_deposes_leader)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	raft_term term = raft_current_term(t.r);
	struct raft_msg m = ae_resp(12345, term + 3, 0, 0, false);
	fx_recv(&t, "b", &m);
	ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
	ck_assert_uint_eq(raft_current_term(t.r), term + 3);
	const struct raft_action *p = fx_nth_action(&t, RAFT_ACT_PERSIST, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->persist.term, term + 3);
	ck_assert_str_eq(p->persist.vote, "");
	raft_free(t.r);
}
END_TEST

START_TEST(test_leader_never_answers_goraft_leader_at_same_term)
{
	/* two leaders in one term can only come from a goraft node's
	 * unpersisted vote; replying at that term would crash it
	 * (docs/goraft-protocol.md §10.3, §11.7), so move to a higher term and
	 * answer with it */
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, true);
	raft_term term = raft_current_term(t.r);
	struct raft_msg m = ae(term, 3, 1, 3, NULL, 0);
	fx_recv(&t, "b", &m);
	ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
	ck_assert_ptr_null(fx_sent_to(&t, "b")); /* waits for the new term on disk */
	fx_persisted(&t, fx_persist_seq(&t));
	const struct raft_msg *r = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->term, term + 1);
	ck_assert(!r->ae_resp.success);
	raft_free(t.r);
}
END_TEST

/* ---- follower AppendEntries ------------------------------------------ */

START_TEST(test_follower_truncates_only_on_conflict_and_answers_after_durable)
{
	static const raft_term tt[5] = {0, 0, 1, 1, 1};
	struct fx_node t;
	tn_init(&t, "b", 1, ABC, 3, tt, 5, 2);
	/* matching entries 3..4 again: nothing truncated, nothing written */
	struct raft_entry e[3] = {{.index = 3, .term = 1, .type = RAFT_ENTRY_NOP},
				  {.index = 4, .term = 1, .type = RAFT_ENTRY_NOP},
				  {.index = 5, .term = 2, .type = RAFT_ENTRY_COMMAND}};
	struct raft_msg m = ae(2, 2, 0, 3, e, 2);
	fx_recv(&t, "a", &m);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_TRUNCATE), 0);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_APPEND), 0);
	fx_persisted(&t, fx_persist_seq(&t));
	const struct raft_msg *r = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert(r->ae_resp.success);
	ck_assert_uint_eq(r->ae_resp.index, 5); /* our last index */
	ck_assert_uint_eq(r->ae_resp.commit, 3); /* min(leader commit, prev + len) */
	/* a conflict at 5: truncate from 5, append, reply only once durable */
	m = ae(2, 2, 0, 5, e, 3);
	fx_recv(&t, "a", &m);
	const struct raft_action *tr = fx_nth_action(&t, RAFT_ACT_TRUNCATE, 0);
	ck_assert_ptr_nonnull(tr);
	ck_assert_uint_eq(tr->truncate.from, 5);
	const struct raft_action *ap = fx_nth_action(&t, RAFT_ACT_APPEND, 0);
	ck_assert_ptr_nonnull(ap);
	ck_assert_uint_eq(ap->append.first, 5);
	ck_assert_uint_eq(ap->append.n, 1);
	ck_assert_uint_eq(ap->append.event_offset, 2);
	ck_assert_int_lt(fx_action_pos(&t, RAFT_ACT_TRUNCATE), fx_action_pos(&t, RAFT_ACT_APPEND));
	ck_assert_ptr_null(fx_sent_to(&t, "a"));
	/* the truncate alone being durable is not enough */
	fx_durable(&t, tr->truncate.seq);
	ck_assert_ptr_null(fx_sent_to(&t, "a"));
	ck_assert_uint_eq(raft_durable_index(t.r), 4);
	fx_durable(&t, ap->append.seq);
	r = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert(r->ae_resp.success);
	ck_assert_uint_eq(r->ae_resp.commit, 5);
	ck_assert_uint_eq(raft_durable_index(t.r), 5);
	/* committed and durable: applied */
	const struct raft_action *a = fx_nth_action(&t, RAFT_ACT_APPLY, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->apply.last, 5);
	raft_free(t.r);
}
END_TEST

START_TEST(test_follower_mismatch_hint_and_failure_commit_cap)
{
	/* terms 0 0 1 1 3 3 3, commit 2 */
	static const raft_term tt[7] = {0, 0, 1, 1, 3, 3, 3};
	struct fx_node t;
	tn_init(&t, "b", 3, ABC, 3, tt, 7, 2);
	/* leader has term 2 at 7: our run of term-3 entries (5..7) cannot
	 * match, so Index points below it, at 4 */
	struct raft_msg m = ae(4, 7, 2, 9, NULL, 0);
	fx_recv(&t, "a", &m);
	fx_persisted(&t, fx_persist_seq(&t));
	const struct raft_msg *r = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert(!r->ae_resp.success);
	ck_assert_uint_eq(r->ae_resp.index, 4);
	ck_assert_uint_eq(r->ae_resp.commit, 2);
	/* failure replies never report a commit index beyond
	 * PrevLogIndex + len(Entries) (docs/goraft-protocol.md §10.3, §11.6) */
	static const raft_term t4[4] = {0, 0, 0, 0};
	struct fx_node u;
	tn_init(&u, "b", 0, ABC, 3, t4, 4, 4);
	m = ae(0, 0, 0, 0, NULL, 0);
	m.term = 0;
	struct raft_entry bad = {.index = 5, .term = 0, .type = RAFT_ENTRY_NOP};
	m.ae.entries = &bad; /* not contiguous with PrevLogIndex 0: rejected */
	m.ae.n_entries = 1;
	fx_recv(&u, "a", &m);
	r = fx_sent_to(&u, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert(!r->ae_resp.success);
	ck_assert_uint_eq(r->ae_resp.commit, 1);
	ck_assert_uint_eq(r->ae_resp.index, 4);
	raft_free(u.r);
	raft_free(t.r);
}
END_TEST

/* ---- leader replication and commit ---------------------------------- */

START_TEST(test_commit_needs_majority)
{
	/* the leader's own durable copy alone commits nothing in a 3-node
	 * cluster; one follower's ack of its request (PrevLogIndex + len)
	 * makes a majority */
	static const raft_term tt[4] = {0, 0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 4, false);
	ck_assert_ptr_nonnull(fx_sent_to(&t, "b"));
	struct raft_msg hb = *fx_sent_to(&t, "b"); /* sent at election */
	ck_assert_int_eq(hb.type, RAFT_MSG_AE_REQ);
	ck_assert_uint_eq(hb.ae.prev_index + hb.ae.n_entries, 5);
	fx_durable(&t, fx_log_seq(&t)); /* nop (index 5) on the leader's disk */
	ck_assert_uint_eq(raft_commit_index(t.r), 0);
	fx_tick(&t, 60);
	ck_assert_uint_eq(raft_commit_index(t.r), 0);
	struct raft_msg ok = ae_resp(hb.req_id, raft_current_term(t.r), 5, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 5);
	const struct raft_action *a = fx_nth_action(&t, RAFT_ACT_APPLY, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->apply.first, 1);
	ck_assert_uint_eq(a->apply.last, 5);
	raft_free(t.r);
}
END_TEST

START_TEST(test_old_term_entries_not_committed_by_counting)
{
	/* leader of term 3 whose log is 1..4 (term 1) + nop 5 (term 3); a
	 * majority acks prev 3 + [4] only: 4 has term 1, no commit */
	static const raft_term tt[4] = {0, 0, 1, 1};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.max_entries = 1; /* one entry per request: acks arrive one by one */
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 2, "", ABC, 3, tt, 4, 0);
	tn_elect(&t, "b");
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	uint64_t first = m->req_id;
	fx_durable(&t, fx_log_seq(&t));
	/* force b's request to carry prev 3 + entry 4 by a failure reply */
	struct raft_msg fail = ae_resp(first, 3, 3, 0, false);
	fx_recv(&t, "b", &fail);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.prev_index, 3);
	ck_assert_uint_eq(m->ae.n_entries, 1);
	struct raft_msg ok = ae_resp(m->req_id, 3, 4, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 0); /* entry 4 is term 1 */
	m = fx_sent_to(&t, "b"); /* next: the nop */
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.prev_index, 4);
	ok = ae_resp(m->req_id, 3, 5, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 5);
	raft_free(t.r);
}
END_TEST

START_TEST(test_backoff_uses_commit_and_index)
{
	raft_term tt[100];
	for (int i = 0; i < 100; i++)
		tt[i] = i < 50 ? 0 : 1;
	struct fx_node t;
	make_leader3(&t, tt, 100, false);
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.prev_index, 100); /* optimistic, like goraft */
	/* follower has only 10 entries: jump to Index, not 99 */
	struct raft_msg f = ae_resp(m->req_id, raft_current_term(t.r), 10, 3, false);
	fx_recv(&t, "b", &f);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.prev_index, 10);
	/* goraft rule 3a: PrevLogIndex below its commit index is rejected,
	 * with CommitIndex >= PrevLogIndex: go to CommitIndex
	 * (docs/goraft-protocol.md §10.2.3) */
	f = ae_resp(m->req_id, raft_current_term(t.r), 60, 40, false);
	fx_recv(&t, "b", &f);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.prev_index, 40);
	raft_free(t.r);
}
END_TEST

START_TEST(test_goraft_peer_one_in_flight_and_match_from_latest)
{
	raft_term tt[10] = {0};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.max_entries = 2;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 0, "", ABC, 3, tt, 10, 0);
	struct raft_event ev = {.type = RAFT_EV_PEER_KIND};
	ev.peer_kind.name = "b";
	ev.peer_kind.goraft = true;
	fx_step(&t, &ev);
	tn_elect(&t, "c");
	/* b is goraft: exactly one request; c (raftd) may get several */
	size_t to_b = 0, to_c = 0;
	for (size_t k = 0; k < t.u.n_actions; k++) {
		if (t.u.actions[k].type != RAFT_ACT_SEND)
			continue;
		to_b += !strcmp(t.u.actions[k].send.to, "b");
		to_c += !strcmp(t.u.actions[k].send.to, "c");
	}
	ck_assert_uint_eq(to_b, 1);
	ck_assert_uint_eq(to_c, 1); /* probing after election: one until a success */
	const struct raft_msg *m = fx_sent_to(&t, "b");
	uint64_t first_id = m->req_id;
	ck_assert_uint_eq(m->ae.prev_index, 10);
	ck_assert_uint_eq(m->ae.n_entries, 1);
	/* nothing more to b while it is in flight, even on heartbeat ticks */
	fx_tick(&t, 60);
	ck_assert_ptr_null(fx_sent_to(&t, "b"));
	struct raft_msg ok = ae_resp(first_id, 1, 11, 0, true);
	fx_recv(&t, "b", &ok);
	/* match 11 = PrevLogIndex + len(Entries): with a durable leader, commit */
	fx_durable(&t, 1);
	ck_assert_uint_eq(raft_commit_index(t.r), 11);
	/* an unanswered request is given up after rpc_timeout and resent */
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	struct raft_entry cmd[3] = {{.type = RAFT_ENTRY_COMMAND, .size = 10},
				    {.type = RAFT_ENTRY_COMMAND, .size = 10},
				    {.type = RAFT_ENTRY_COMMAND, .size = 10}};
	pe.propose.entries = cmd;
	pe.propose.n = 3;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	ck_assert_uint_eq(t.u.proposed, 12);
	/* 3 new entries, 2 per request: still one request to goraft b */
	to_b = 0;
	for (size_t k = 0; k < t.u.n_actions; k++)
		to_b += t.u.actions[k].type == RAFT_ACT_SEND && !strcmp(t.u.actions[k].send.to, "b");
	ck_assert_uint_eq(to_b, 1);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.n_entries, 2);
	uint64_t lost = m->req_id;
	fx_tick(&t, 250);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_ne(m->req_id, lost);
	ck_assert_uint_eq(m->ae.prev_index, 11);
	/* a late answer to the abandoned request is ignored */
	raft_index before = raft_commit_index(t.r);
	ok = ae_resp(lost, 1, 12, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), before);
	raft_free(t.r);
}
END_TEST

/* A goraft follower as the leader sees it (docs/goraft-protocol.md §6.2),
 * reduced to what a leader can break: its term, the terms of its entries, its
 * commit index, and the deletion of every entry after PrevLogIndex on each
 * accepted request (heartbeats included). */
struct gf {
	raft_term term;
	raft_term log[64]; /* log[i]: term of entry i */
	raft_index last, commit;
};

/* How many of the follower's first entries the leader holds too. */
static raft_index gf_matching(const struct gf *g, const struct raft *leader)
{
	raft_index i = 0;
	raft_term t;
	while (i < g->last && raft_entry_term(leader, i + 1, &t) && t == g->log[i + 1])
		i++;
	return i;
}

static struct raft_msg gf_answer(struct gf *g, const struct raft *leader, const struct raft_msg *q)
{
	struct raft_msg m = {.type = RAFT_MSG_AE_RESP, .req_id = q->req_id};
	raft_index prev = q->ae.prev_index;
	bool ok = q->term >= g->term;
	if (ok)
		g->term = q->term;
	/* truncate(): rules 3a, 3b and 3c, then delete after PrevLogIndex */
	ok = ok && prev >= g->commit && prev <= g->last && (prev == 0 || g->log[prev] == q->ae.prev_term);
	if (ok) {
		g->last = prev;
		for (size_t k = 0; k < q->ae.n_entries; k++) {
			raft_term t;
			ck_assert(raft_entry_term(leader, prev + 1 + k, &t));
			ck_assert_uint_lt(g->last + 1, sizeof(g->log) / sizeof(g->log[0]));
			g->log[++g->last] = t;
		}
		raft_index c = q->ae.commit < g->last ? q->ae.commit : g->last;
		if (c > g->commit)
			g->commit = c;
	}
	m.term = g->term;
	m.ae_resp.success = ok;
	m.ae_resp.index = g->last;
	m.ae_resp.commit = g->commit;
	return m;
}

/* Leader "a" of {a,b,c} (b goraft, c silent), 4 entries per request at
 * most, elected over the restored log terms[0..n); its nop is durable.
 * Returns its first request to b. */
static struct raft_msg gf_make_leader(struct fx_node *t, const raft_term *terms, size_t n)
{
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.max_entries = 4;
	tn_init_cfg(t, &cfg, terms[n - 1], "", ABC, 3, terms, n, 0);
	struct raft_event ev = {.type = RAFT_EV_PEER_KIND};
	ev.peer_kind.name = "b";
	ev.peer_kind.goraft = true;
	fx_step(t, &ev);
	tn_elect(t, "c");
	const struct raft_msg *m = fx_sent_to(t, "b");
	ck_assert_ptr_nonnull(m);
	struct raft_msg first = *m;
	fx_durable(t, fx_log_seq(t));
	return first;
}

/* Let b answer *req; then *req is the leader's next request to b (false:
 * none). b must never lose an entry it held that the leader holds too:
 * one that counted towards a commit would be gone from a majority. */
static bool gf_exchange(struct fx_node *t, struct gf *g, struct raft_msg *req)
{
	raft_index kept = gf_matching(g, t->r);
	struct raft_msg resp = gf_answer(g, t->r, req);
	ck_assert_uint_ge(gf_matching(g, t->r), kept);
	fx_recv(t, "b", &resp);
	/* a and b are the majority: commit never passes what b holds */
	ck_assert_uint_le(raft_commit_index(t->r), gf_matching(g, t->r));
	const struct raft_msg *m = fx_sent_to(t, "b");
	if (m)
		*req = *m;
	return m != NULL;
}

START_TEST(test_goraft_follower_keeps_its_entries_after_a_lost_request)
{
	/* Found by the simulator: the new leader's first request to a goraft
	 * follower (restarted, so commit 0) is lost. The retry must not start
	 * over from matchIndex 0 with a capped batch: b would keep 4 of its 20
	 * entries, answer success, and then vote for a candidate that lacks
	 * committed ones. */
	raft_term tt[20];
	for (int i = 0; i < 20; i++)
		tt[i] = 1;
	struct fx_node t;
	struct raft_msg req = gf_make_leader(&t, tt, 20);
	struct gf g = {.term = 1, .last = 20};
	for (int i = 1; i <= 20; i++)
		g.log[i] = 1;
	fx_tick(&t, 250); /* req is lost: given up after rpc_timeout */
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_ne(m->req_id, req.req_id);
	req = *m;
	int n = 0;
	while (gf_exchange(&t, &g, &req))
		ck_assert_int_lt(++n, 20);
	ck_assert_uint_eq(g.last, 21);
	ck_assert_uint_eq(gf_matching(&g, t.r), 21);
	ck_assert_uint_eq(raft_commit_index(t.r), 21);
	raft_free(t.r);
}
END_TEST

START_TEST(test_goraft_follower_keeps_its_entries_after_backoff)
{
	/* b holds 1..23 as the leader does, then 24..30 of a deposed term-1
	 * leader; the leader has 24..40 of term 2. Exponential back-off
	 * overshoots the divergence (40, 30, 28, 24, then 16 matches): the
	 * request at 16 must carry everything up to b's reported Index 30, or
	 * b would drop 21..23. */
	raft_term tt[40], bt[30];
	for (int i = 0; i < 40; i++)
		tt[i] = i < 23 ? 1 : 2;
	for (int i = 0; i < 30; i++)
		bt[i] = 1;
	struct fx_node t;
	struct raft_msg req = gf_make_leader(&t, tt, 40);
	struct gf g = {.term = 2, .last = 30};
	for (int i = 1; i <= 30; i++)
		g.log[i] = bt[i - 1];
	int n = 0;
	while (gf_exchange(&t, &g, &req))
		ck_assert_int_lt(++n, 40);
	ck_assert_uint_eq(g.last, 41);
	ck_assert_uint_eq(gf_matching(&g, t.r), 41);
	ck_assert_uint_eq(raft_commit_index(t.r), 41);
	raft_free(t.r);
}
END_TEST

START_TEST(test_flow_control_caps)
{
	raft_term tt[50] = {0};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.max_entries = 7;
	cfg.max_inflight = 3;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 0, "", ABC, 3, tt, 50, 0);
	fx_tick(&t, 1000);
	fx_persisted(&t, fx_persist_seq(&t));
	struct raft_msg g = {.type = RAFT_MSG_RV_RESP, .term = 1};
	g.rv_resp.granted = true;
	fx_recv(&t, "c", &g);
	/* c falls back to 0 */
	const struct raft_msg *m = fx_sent_to(&t, "c");
	struct raft_msg f = ae_resp(m->req_id, 1, 0, 0, false);
	fx_recv(&t, "c", &f);
	m = fx_sent_to(&t, "c");
	ck_assert_uint_eq(m->ae.prev_index, 0);
	ck_assert_uint_eq(m->ae.n_entries, 7);
	/* one success ends probing: then pipelined, 3 in flight, 7 each */
	struct raft_msg ok = ae_resp(m->req_id, 1, 7, 0, true);
	fx_recv(&t, "c", &ok);
	size_t n = 0;
	raft_index expect_prev = 7;
	for (size_t k = 0; k < t.u.n_actions; k++) {
		const struct raft_action *a = &t.u.actions[k];
		if (a->type != RAFT_ACT_SEND || strcmp(a->send.to, "c"))
			continue;
		ck_assert_uint_eq(a->send.msg.ae.prev_index, expect_prev);
		ck_assert_uint_le(a->send.msg.ae.n_entries, 7);
		expect_prev += a->send.msg.ae.n_entries;
		n++;
	}
	ck_assert_uint_eq(n, 3);
	/* byte cap */
	raft_free(t.r);
	cfg.max_entries = 2000;
	cfg.max_bytes = 120; /* entries are 50 bytes: 2 per request */
	tn_init_cfg(&t, &cfg, 0, "", ABC, 3, tt, 50, 0);
	fx_tick(&t, 1000);
	fx_persisted(&t, fx_persist_seq(&t));
	fx_recv(&t, "c", &g);
	m = fx_sent_to(&t, "c");
	f = ae_resp(m->req_id, 1, 0, 0, false);
	fx_recv(&t, "c", &f);
	m = fx_sent_to(&t, "c");
	ck_assert_uint_eq(m->ae.n_entries, 2);
	raft_free(t.r);
}
END_TEST

/* Behind a request in flight, only whole requests are pipelined: small
 * proposals wait for the answer and then go out together (a follower
 * flushes its disk once per request). */
static size_t sends_to(const struct fx_node *t, const char *to)
{
	size_t n = 0;
	for (size_t k = 0; k < t->u.n_actions; k++)
		if (t->u.actions[k].type == RAFT_ACT_SEND && !strcmp(t->u.actions[k].send.to, to))
			n++;
	return n;
}

static void propose(struct fx_node *t, size_t n, uint64_t size)
{
	struct raft_entry cmd[8];
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	for (size_t i = 0; i < n; i++)
		cmd[i] = (struct raft_entry){.type = RAFT_ENTRY_COMMAND, .size = size};
	pe.propose.entries = cmd;
	pe.propose.n = n;
	fx_step(t, &pe);
	ck_assert_int_eq(t->rv, 0);
}

START_TEST(test_pipeline_only_whole_requests)
{
	raft_term tt[3] = {1, 1, 1};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.max_entries = 4;
	cfg.max_inflight = 8;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 1, "", ABC, 3, tt, 3, 0);
	tn_elect(&t, "b");
	/* c answers the nop's request: probing over, c holds 4 entries */
	const struct raft_msg *m = fx_sent_to(&t, "c");
	ck_assert_uint_eq(m->ae.prev_index + m->ae.n_entries, 4);
	struct raft_msg ok = ae_resp(m->req_id, 2, 4, 0, true);
	fx_recv(&t, "c", &ok);
	/* one proposal goes out at once */
	propose(&t, 1, 10);
	ck_assert_uint_eq(sends_to(&t, "c"), 1);
	m = fx_sent_to(&t, "c");
	uint64_t first = m->req_id;
	ck_assert_uint_eq(m->ae.n_entries, 1);
	/* more small ones wait behind it... */
	propose(&t, 1, 10);
	ck_assert_uint_eq(sends_to(&t, "c"), 0);
	propose(&t, 2, 10);
	ck_assert_uint_eq(sends_to(&t, "c"), 0);
	/* ...until a whole request's worth is there: that one is pipelined */
	propose(&t, 1, 10);
	ck_assert_uint_eq(sends_to(&t, "c"), 1);
	m = fx_sent_to(&t, "c");
	ck_assert_uint_eq(m->ae.prev_index, 5);
	ck_assert_uint_eq(m->ae.n_entries, 4);
	uint64_t second = m->req_id;
	/* two small ones wait for both answers, then leave in one request */
	propose(&t, 2, 10);
	ck_assert_uint_eq(sends_to(&t, "c"), 0);
	ok = ae_resp(first, 2, 5, 0, true);
	fx_recv(&t, "c", &ok);
	ck_assert_uint_eq(sends_to(&t, "c"), 0);
	ok = ae_resp(second, 2, 9, 0, true);
	fx_recv(&t, "c", &ok);
	ck_assert_uint_eq(sends_to(&t, "c"), 1);
	m = fx_sent_to(&t, "c");
	ck_assert_uint_eq(m->ae.prev_index, 9);
	ck_assert_uint_eq(m->ae.n_entries, 2);
	raft_free(t.r);
}
END_TEST

/* A compaction may pass a lagging follower's next index while a request to
 * it is in flight; the pipelining check must then ask for a snapshot, not
 * read the entry at the log's start, which is no longer held (found by the
 * simulator under ASan, seed 366). */
START_TEST(test_pipeline_check_after_compaction)
{
	raft_term tt[3] = {1, 1, 1};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.max_entries = 4;
	cfg.snapshot_threshold = 6;
	cfg.snapshot_trailing = 0;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 1, "", ABC, 3, tt, 3, 0);
	tn_elect(&t, "b");
	const struct raft_msg *mb = fx_sent_to(&t, "b"), *mc = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(mb);
	ck_assert_ptr_nonnull(mc);
	uint64_t b_req = mb->req_id, c_req = mc->req_id;
	fx_durable(&t, fx_log_seq(&t));
	/* both hold the nop (4): probing is over */
	struct raft_msg ok = ae_resp(c_req, 2, 4, 0, true);
	fx_recv(&t, "c", &ok);
	ok = ae_resp(b_req, 2, 4, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	/* entry 5 goes to both; c will never answer (its next index: 6) */
	propose(&t, 1, 10);
	ck_assert_uint_eq(sends_to(&t, "c"), 1);
	ok = ae_resp(fx_sent_to(&t, "b")->req_id, 2, 5, 0, true);
	fx_durable(&t, fx_log_seq(&t));
	fx_recv(&t, "b", &ok);
	/* entry 6: to b only, c has a request in flight */
	propose(&t, 1, 10);
	ck_assert_uint_eq(sends_to(&t, "c"), 0);
	ok = ae_resp(fx_sent_to(&t, "b")->req_id, 2, 6, 0, true);
	fx_durable(&t, fx_log_seq(&t));
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 6);
	/* a snapshot at 6 with no trailing entries: the log starts at 6,
	 * c's next index */
	const struct raft_action *ts = fx_nth_action(&t, RAFT_ACT_TAKE_SNAPSHOT, 0);
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(ts->take_snapshot.index, 6);
	struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
	ev.snapshot_taken.index = 6;
	fx_step(&t, &ev);
	ck_assert_int_eq(t.rv, 0);
	ck_assert_uint_eq(raft_log_start(t.r), 6);
	/* the next heartbeat asks c whether it takes the snapshot */
	fx_tick(&t, cfg.heartbeat_ms);
	const struct raft_msg *m = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_SNAP_REQ);
	raft_free(t.r);
}
END_TEST

/* ---- bootstrap and membership --------------------------------------- */

START_TEST(test_bootstrap_self_join_at_term_0_then_join)
{
	struct fx_node t;
	tn_init(&t, "6edf0e8", 0, NULL, 0, NULL, 0, 0);
	struct raft_event ev = {.type = RAFT_EV_BOOTSTRAP};
	ev.bootstrap.url = "http://localhost:14001";
	fx_step(&t, &ev);
	ck_assert_int_eq(t.rv, 0);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	ck_assert_uint_eq(raft_current_term(t.r), 0);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_PERSIST), 0);
	struct raft_entry e;
	ck_assert(raft_get_entry(t.r, 1, &e));
	ck_assert_int_eq(e.type, RAFT_ENTRY_JOIN);
	ck_assert_uint_eq(e.term, 0);
	ck_assert_str_eq(e.name, "6edf0e8");
	ck_assert_str_eq(e.url, "http://localhost:14001");
	ck_assert(raft_get_entry(t.r, 2, &e));
	ck_assert_int_eq(e.type, RAFT_ENTRY_NOP);
	ck_assert_uint_eq(e.term, 0);
	/* commits on its own once durable */
	fx_durable(&t, fx_log_seq(&t));
	ck_assert_uint_eq(raft_commit_index(t.r), 2);
	/* a second bootstrap is refused */
	fx_step(&t, &ev);
	ck_assert_int_eq(t.rv, -EINVAL);
	/* a goraft joiner: committed by the lone leader (goraft commits a
	 * join under the old membership, and the joiner is unreachable
	 * until then) */
	struct raft_entry j = {.type = RAFT_ENTRY_JOIN, .name = "7c55909",
			       .url = "http://localhost:14002", .size = 60};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &j;
	pe.propose.n = 1;
	/* a raftd node (or one of unknown kind) must have answered first:
	 * raftd joiners join as learners */
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -ENOTCONN);
	struct raft_event pk = {.type = RAFT_EV_PEER_KIND};
	pk.peer_kind.name = "7c55909";
	pk.peer_kind.goraft = true;
	fx_step(&t, &pk);
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	ck_assert_uint_eq(t.u.proposed, 3);
	ck_assert_uint_eq(raft_n_members(t.r), 2);
	const struct raft_msg *m = fx_sent_to(&t, "7c55909");
	ck_assert_ptr_nonnull(m);
	uint64_t id = m->req_id;
	fx_durable(&t, fx_log_seq(&t));
	ck_assert_uint_eq(raft_commit_index(t.r), 3);
	/* a third voter only once the second has answered: the live voters
	 * must form a majority of the three */
	struct raft_entry j2 = {.type = RAFT_ENTRY_JOIN, .name = "6ab076d",
				.url = "http://localhost:14003", .size = 60};
	pe.propose.entries = &j2;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -ENOTCONN);
	struct raft_msg ok = ae_resp(id, 0, 3, 0, true);
	fx_recv(&t, "7c55909", &ok);
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	/* the next change needs a majority of the two */
	fx_durable(&t, fx_log_seq(&t));
	ck_assert_uint_eq(raft_commit_index(t.r), 3);
	raft_free(t.r);
}
END_TEST

START_TEST(test_membership_one_change_at_a_time)
{
	static const raft_term tt[3] = {0, 0, 0};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	ck_assert_ptr_nonnull(fx_sent_to(&t, "b"));
	uint64_t id = fx_sent_to(&t, "b")->req_id;
	ck_assert_ptr_nonnull(fx_sent_to(&t, "c"));
	uint64_t idc = fx_sent_to(&t, "c")->req_id;
	uint64_t nop_seq = fx_log_seq(&t);
	struct raft_entry j = {.type = RAFT_ENTRY_JOIN, .name = "d", .url = "http://h:4"};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &j;
	pe.propose.n = 1;
	/* before the leader's nop commits: refused (thesis §4.1 fix) */
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -EBUSY);
	/* commit the nop */
	fx_durable(&t, nop_seq);
	struct raft_msg ok = ae_resp(id, raft_current_term(t.r), 4, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	/* every voter answered: adding a fourth is safe (see
	 * test_voter_join_needs_live_quorum for when it is not) */
	ok.req_id = idc;
	fx_recv(&t, "c", &ok);
	/* existing member / unknown member */
	struct raft_entry jb = {.type = RAFT_ENTRY_JOIN, .name = "b", .url = "http://h:2"};
	pe.propose.entries = &jb;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -EEXIST);
	struct raft_entry lz = {.type = RAFT_ENTRY_LEAVE, .name = "zz"};
	pe.propose.entries = &lz;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -ENOENT);
	/* join d: takes effect at once (Raft §6), d gets replication */
	pe.propose.entries = &j;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	ck_assert_uint_eq(raft_n_members(t.r), 4);
	ck_assert(raft_is_member(t.r, "d"));
	ck_assert_ptr_nonnull(fx_sent_to(&t, "d"));
	/* a second change while d's is uncommitted: refused */
	struct raft_entry lc = {.type = RAFT_ENTRY_LEAVE, .name = "c"};
	pe.propose.entries = &lc;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -EBUSY);
	/* followers refuse proposals */
	struct fx_node f;
	tn_init(&f, "b", 0, ABC, 3, tt, 3, 0);
	pe.propose.entries = &j;
	fx_step(&f, &pe);
	ck_assert_int_eq(f.rv, -EPERM);
	raft_free(f.r);
	raft_free(t.r);
}
END_TEST

/* A tick on a leader, whose AppendEntries to `to` (if any) succeeds.
 * Returns whether the tick sent anything to `watch`. */
static bool tick_acked_by(struct fx_node *t, uint64_t ms, const char *to, const char *watch)
{
	fx_tick(t, ms);
	bool sent = fx_sent_to(t, watch) != NULL;
	const struct raft_msg *m = fx_sent_to(t, to);
	if (m && m->type == RAFT_MSG_AE_REQ) {
		struct raft_msg ok = ae_resp(m->req_id, m->term, m->ae.prev_index + m->ae.n_entries, 0, true);
		fx_recv(t, to, &ok);
	}
	return sent;
}

/* A member removed by raft:leave still gets AppendEntries carrying its leave
 * and, once committed, the commit index that covers it (so that it stops),
 * until it answers or has been silent for depart_timeout_ms; then the leader
 * forgets it. Found running real nodes: the removed one never learnt of its
 * removal and lingered. */
START_TEST(test_leader_tells_the_removed_member)
{
	static const raft_term tt[3] = {0, 0, 0};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	uint64_t id = fx_sent_to(&t, "b")->req_id, id_c = fx_sent_to(&t, "c")->req_id;
	fx_durable(&t, fx_log_seq(&t));
	struct raft_msg ok = ae_resp(id, raft_current_term(t.r), 4, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	ok = ae_resp(id_c, raft_current_term(t.r), 4, 0, true);
	fx_recv(&t, "c", &ok);
	struct raft_entry lc = {.type = RAFT_ENTRY_LEAVE, .name = "c"};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &lc;
	pe.propose.n = 1;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	ck_assert(!raft_is_member(t.r, "c"));
	/* c is out of the configuration but still gets its leave (index 5) */
	const struct raft_msg *m = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.prev_index + m->ae.n_entries, 5);
	ck_assert_ptr_nonnull(fx_sent_to(&t, "b"));
	id = fx_sent_to(&t, "b")->req_id;
	/* the leave commits with a and b alone */
	fx_durable(&t, fx_log_seq(&t));
	ok = ae_resp(id, raft_current_term(t.r), 5, 4, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 5);
	/* the next heartbeat still reaches c, with a commit index covering it */
	fx_tick(&t, 60);
	m = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_ge(m->ae.commit, 5);
	/* silent c: still told well after a few election timeouts (each
	 * request times out first) */
	bool told = false;
	for (int i = 0; i < 500; i++) {
		bool sent = tick_acked_by(&t, 60, "b", "c");
		told = i >= 490 ? told || sent : false;
	}
	ck_assert(told);
	ck_assert_ptr_nonnull(raft_departing_url(t.r, "c"));
	/* not forever: 60 s after its last answer it may be gone for good */
	for (int i = 0; i < 510; i++)
		tick_acked_by(&t, 60, "b", "c");
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	ck_assert_ptr_null(raft_departing_url(t.r, "c"));
	for (int i = 0; i < 10; i++) {
		fx_tick(&t, 60);
		ck_assert_ptr_null(fx_sent_to(&t, "c"));
	}
	raft_free(t.r);
}
END_TEST

START_TEST(test_removed_node_stops)
{
	/* b holds its own raft:leave at 4; once committed, it is removed
	 * and never campaigns again */
	static const raft_term tt[3] = {0, 0, 0};
	struct fx_node t;
	tn_init(&t, "b", 0, ABC, 3, tt, 3, 3);
	struct raft_entry lv = {.index = 4, .term = 0, .type = RAFT_ENTRY_LEAVE, .name = "b"};
	struct raft_msg m = ae(0, 3, 0, 3, &lv, 1);
	fx_recv(&t, "a", &m);
	ck_assert(!raft_is_member(t.r, "b"));
	ck_assert(!raft_removed(t.r));
	fx_durable(&t, fx_log_seq(&t));
	/* while its leave is uncommitted it may be the only node holding it:
	 * it may still campaign (counting only a and c) */
	fx_tick(&t, 1000);
	const struct raft_msg *pv = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(pv);
	ck_assert_int_eq(pv->type, RAFT_MSG_RV_REQ);
	ck_assert_ptr_null(fx_sent_to(&t, "b"));
	m = ae(0, 4, 0, 4, NULL, 0);
	fx_recv(&t, "a", &m);
	ck_assert(raft_removed(t.r));
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_REMOVED), 1);
	for (int i = 0; i < 50; i++) {
		fx_tick(&t, 100);
		ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
		ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_SEND), 0);
	}
	raft_free(t.r);
}
END_TEST

/* A member that lagged behind its own raft:leave until the leader compacted
 * it gets the leader's snapshot, whose configuration lacks it: that is its
 * removal (it stops, nothing installed), as long as its own membership was
 * committed; a joiner whose join is not yet committed installs a snapshot
 * without itself as usual. Found by the fault suite (seeds 1000, 1004): the
 * removed member installed the snapshot and followed for good. */
START_TEST(test_snapshot_without_self_removes_a_member)
{
	static const raft_term tt[3] = {0, 0, 0};
	static const struct raft_member_info ab[] = {{.name = "a", .url = "http://h:1"},
						     {.name = "b", .url = "http://h:2"}};
	struct raft_msg rec = {.type = RAFT_MSG_SNAPREC_REQ, .req_id = 4};
	rec.snaprec.last_index = 600;
	rec.snaprec.last_term = 0;
	rec.snaprec.n_peers = 2;
	rec.snaprec.peers = ab;
	struct fx_node t;
	tn_init(&t, "c", 0, ABC, 3, tt, 3, 3); /* c's join (3) committed */
	struct raft_msg hb = ae(0, 3, 0, 3, NULL, 0);
	fx_recv(&t, "a", &hb);
	fx_recv(&t, "a", &rec);
	ck_assert(raft_removed(t.r));
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_REMOVED), 1);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_INSTALL), 0);
	const struct raft_msg *r = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, RAFT_MSG_SNAPREC_RESP);
	ck_assert(r->snaprec_resp.success); /* the leader knows it is told */
	for (int i = 0; i < 30; i++) {
		fx_tick(&t, 100);
		ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
		ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_SEND), 0);
	}
	raft_free(t.r);

	/* c's join (3) in its log but not committed: a snapshot from before
	 * the join is installed */
	tn_init(&t, "c", 0, ABC, 3, tt, 3, 2);
	hb = ae(0, 3, 0, 2, NULL, 0);
	fx_recv(&t, "a", &hb);
	fx_recv(&t, "a", &rec);
	ck_assert(!raft_removed(t.r));
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_REMOVED), 0);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_INSTALL), 1);
	raft_free(t.r);
}
END_TEST

/* However long a removed member stays silent (paused, partitioned) the
 * leader keeps sending it its raft:leave, then, once that is compacted, the
 * snapshot that covers it, up to depart_timeout_ms; once it has the entry,
 * a few election timeouts of heartbeats carry the commit. Found by the
 * fault suite: the leader gave up 3 election timeouts after the commit. */
START_TEST(test_leader_tells_a_silent_removed_member)
{
	raft_term tt[3] = {0};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.check_quorum = false;
	cfg.snapshot_threshold = 10;
	cfg.snapshot_trailing = 2;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 0, "", ABC, 3, tt, 3, 3);
	tn_elect(&t, "b");
	/* b follows; c is silent from here on */
	struct raft_msg ok = ae_resp(fx_sent_to(&t, "b")->req_id, 1, 4, 3, true);
	fx_durable(&t, fx_log_seq(&t));
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	struct raft_entry lc = {.type = RAFT_ENTRY_LEAVE, .name = "c"};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &lc;
	pe.propose.n = 1;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	/* b acks the leave: a partial AppendEntries behind one in flight
	 * waits, so each request is answered before the next entry */
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_AE_REQ);
	ok = ae_resp(m->req_id, 1, m->ae.prev_index + m->ae.n_entries, 0, true);
	fx_durable(&t, fx_log_seq(&t));
	fx_recv(&t, "b", &ok);
	/* more entries, b acking each: the leave (5) commits, a snapshot is
	 * taken past it and the leave is compacted away */
	struct raft_entry w = {.type = RAFT_ENTRY_COMMAND, .size = 10};
	pe.propose.entries = &w;
	for (int i = 0; i < 15; i++) {
		fx_step(&t, &pe);
		m = fx_sent_to(&t, "b");
		ok = m && m->type == RAFT_MSG_AE_REQ ? ae_resp(m->req_id, 1, m->ae.prev_index + m->ae.n_entries, 0, true)
						     : (struct raft_msg){0};
		fx_durable(&t, fx_log_seq(&t));
		if (ok.type == RAFT_MSG_AE_RESP)
			fx_recv(&t, "b", &ok);
		const struct raft_action *ts = fx_nth_action(&t, RAFT_ACT_TAKE_SNAPSHOT, 0);
		if (ts) {
			struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
			ev.snapshot_taken.index = ts->take_snapshot.index;
			fx_step(&t, &ev);
			ck_assert_int_eq(t.rv, 0);
		}
		struct raft_event ap = {.type = RAFT_EV_APPLIED};
		ap.applied.index = raft_commit_index(t.r);
		fx_step(&t, &ap);
	}
	ck_assert_uint_ge(raft_commit_index(t.r), 15);
	ck_assert_uint_gt(raft_log_start(t.r), 5);
	ck_assert(!raft_is_member(t.r, "c"));
	/* 30 s of silence from c: still told, by the snapshot */
	bool snap = false;
	for (int i = 0; i < 300; i++) {
		fx_tick(&t, 100);
		m = fx_sent_to(&t, "c");
		snap = snap || (m && m->type == RAFT_MSG_SNAP_REQ);
	}
	ck_assert(snap);
	ck_assert_str_eq(raft_departing_url(t.r, "c"), "http://localhost:1");
	/* c answers at last: it has the snapshot (and stops); a few heartbeats
	 * more, then the leader forgets it */
	fx_tick(&t, 2000); /* the last request has timed out */
	m = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_SNAP_REQ);
	struct raft_msg sr = {.type = RAFT_MSG_SNAP_RESP, .req_id = m->req_id};
	sr.snap_resp.success = true;
	fx_recv(&t, "c", &sr);
	m = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_SNAPREC_REQ);
	struct raft_msg rr = {.type = RAFT_MSG_SNAPREC_RESP, .req_id = m->req_id, .term = 1};
	rr.snaprec_resp.success = true;
	rr.snaprec_resp.commit = m->snaprec.last_index;
	fx_recv(&t, "c", &rr);
	for (int i = 0; i < 10; i++)
		fx_tick(&t, 100);
	ck_assert_ptr_null(raft_departing_url(t.r, "c"));
	for (int i = 0; i < 10; i++) {
		fx_tick(&t, 100);
		ck_assert_ptr_null(fx_sent_to(&t, "c"));
	}
	raft_free(t.r);
}
END_TEST

/* ---- raftd-only extensions ------------------------------------------ */

START_TEST(test_pre_vote_does_not_disturb)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	tn_init(&t, "a", 1, ABC, 3, tt, 3, 0);
	fx_tick(&t, 1000);
	/* pre-vote: no term change, no persist, PRE_RV at term + 1 */
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_PERSIST), 0);
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert(m->rv.pre_vote);
	ck_assert_uint_eq(m->term, 2);
	/* granted by one: now the real election */
	struct raft_msg g = {.type = RAFT_MSG_RV_RESP, .term = 2};
	g.rv_resp.granted = true;
	g.rv_resp.pre_vote = true;
	fx_recv(&t, "b", &g);
	ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	raft_free(t.r);

	/* a voter that hears from its leader denies pre-votes and keeps its
	 * term; a real vote would have moved it */
	struct fx_node v;
	tn_init(&v, "b", 1, ABC, 3, tt, 3, 0);
	struct raft_msg hb = ae(1, 3, 1, 0, NULL, 0);
	fx_recv(&v, "c", &hb);
	fx_tick(&v, 20);
	struct raft_msg q = rv(2, 3, 1);
	q.rv.pre_vote = true;
	fx_recv(&v, "a", &q);
	const struct raft_msg *r = fx_sent_to(&v, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert(r->rv_resp.pre_vote);
	ck_assert(!r->rv_resp.granted);
	ck_assert_uint_eq(raft_current_term(v.r), 1);
	ck_assert_uint_eq(fx_count_actions(&v, RAFT_ACT_PERSIST), 0);
	/* leader silent for an election timeout: granted, still no change */
	fx_tick(&v, 200);
	fx_recv(&v, "a", &q);
	r = fx_sent_to(&v, "a");
	ck_assert(r->rv_resp.granted);
	ck_assert_uint_eq(raft_current_term(v.r), 1);
	raft_free(v.r);
}
END_TEST

START_TEST(test_extensions_off_with_goraft_member)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	tn_init(&t, "a", 1, ABC, 3, tt, 3, 0);
	struct raft_event ev = {.type = RAFT_EV_PEER_KIND};
	ev.peer_kind.name = "c";
	ev.peer_kind.goraft = true;
	fx_step(&t, &ev);
	fx_tick(&t, 1000);
	/* no pre-vote to anyone: a real RequestVote at a new term */
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	fx_persisted(&t, fx_persist_seq(&t));
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert(!m->rv.pre_vote);
	m = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert(!m->rv.pre_vote);
	raft_free(t.r);
}
END_TEST

START_TEST(test_check_quorum)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	/* no answers for an election timeout: steps down */
	for (int i = 0; i < 20 && raft_role(t.r) == RAFT_LEADER; i++)
		fx_tick(&t, 20);
	ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
	raft_free(t.r);
	/* with goraft peers (no check-quorum, like goraft) it stays */
	make_leader3(&t, tt, 3, true);
	for (int i = 0; i < 50; i++)
		fx_tick(&t, 20);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	raft_free(t.r);
}
END_TEST


/* ---- snapshots -------------------------------------------------------- */

START_TEST(test_snapshot_taken_compacts_and_feeds_a_slow_follower)
{
	raft_term tt[30] = {0};
	struct raft_config cfg = fx_config("a");
	cfg.pre_vote = false;
	cfg.snapshot_threshold = 20;
	cfg.snapshot_trailing = 5;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 0, "", ABC, 3, tt, 30, 30);
	/* restored with commit 30: applies 1..30, then asks for a snapshot
	 * at exactly the applied index (the APPLY comes first) */
	fx_tick(&t, 1);
	const struct raft_action *ap = fx_nth_action(&t, RAFT_ACT_APPLY, 0);
	const struct raft_action *ts = fx_nth_action(&t, RAFT_ACT_TAKE_SNAPSHOT, 0);
	ck_assert_ptr_nonnull(ap);
	ck_assert_ptr_nonnull(ts);
	ck_assert_int_lt(fx_action_pos(&t, RAFT_ACT_APPLY), fx_action_pos(&t, RAFT_ACT_TAKE_SNAPSHOT));
	ck_assert_uint_eq(ts->take_snapshot.index, 30);
	ck_assert_uint_eq(ts->take_snapshot.n_members, 3);
	/* asynchronous: the node keeps working, and asks only once */
	fx_tick(&t, 1);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_TAKE_SNAPSHOT), 0);
	struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
	ev.snapshot_taken.index = 30;
	fx_step(&t, &ev);
	ck_assert_int_eq(t.rv, 0);
	const struct raft_action *c = fx_nth_action(&t, RAFT_ACT_COMPACT, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->compact.upto, 25); /* 5 trailing entries kept */
	ck_assert_uint_eq(raft_log_start(t.r), 25);
	ck_assert_uint_eq(raft_snapshot_index(t.r), 30);
	ck_assert_uint_eq(raft_n_members(t.r), 3);
	raft_term term;
	ck_assert(raft_entry_term(t.r, 25, &term));
	ck_assert(!raft_entry_term(t.r, 24, &term));

	/* leader; b answers with Index 10: below the log start, so the
	 * snapshot exchange: SnapshotRequest, then SnapshotRecoveryRequest */
	tn_elect(&t, "c");
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	struct raft_msg f = ae_resp(m->req_id, 1, 10, 5, false);
	fx_recv(&t, "b", &f);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_SNAP_REQ);
	ck_assert_uint_eq(m->snap.last_index, 30);
	ck_assert_uint_eq(m->snap.last_term, 0);
	struct raft_msg sr = {.type = RAFT_MSG_SNAP_RESP, .req_id = m->req_id};
	sr.snap_resp.success = true;
	fx_recv(&t, "b", &sr);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_SNAPREC_REQ);
	ck_assert_uint_eq(m->snaprec.last_index, 30);
	ck_assert_uint_eq(m->snaprec.n_peers, 3); /* leader included */
	struct raft_msg rr = {.type = RAFT_MSG_SNAPREC_RESP, .req_id = m->req_id, .term = 1};
	rr.snaprec_resp.success = true;
	rr.snaprec_resp.commit = 30;
	fx_recv(&t, "b", &rr);
	m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_AE_REQ);
	ck_assert_uint_eq(m->ae.prev_index, 30);
	raft_free(t.r);
}
END_TEST

START_TEST(test_follower_installs_snapshot)
{
	static const raft_term tt[4] = {0, 0, 0, 1};
	struct fx_node t;
	tn_init(&t, "b", 1, ABC, 3, tt, 4, 2);
	struct raft_msg hb = ae(2, 4, 1, 2, NULL, 0);
	fx_recv(&t, "a", &hb); /* a leads at term 2 */
	fx_persisted(&t, fx_persist_seq(&t));
	/* it has entry 4 of term 1: no snapshot wanted */
	struct raft_msg q = {.type = RAFT_MSG_SNAP_REQ, .req_id = 3};
	q.snap.last_index = 4;
	q.snap.last_term = 1;
	fx_recv(&t, "a", &q);
	const struct raft_msg *r = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert(!r->snap_resp.success);
	/* but not entry 50 of term 2 */
	q.snap.last_index = 50;
	q.snap.last_term = 2;
	fx_recv(&t, "a", &q);
	ck_assert(fx_sent_to(&t, "a")->snap_resp.success);
	ck_assert_uint_eq(raft_last_index(t.r), 4); /* nothing changed yet */
	static const struct raft_member_info peers[] = {
		{.name = "a", .url = "http://h:1"},
		{.name = "b", .url = "http://h:2"},
		{.name = "d", .url = "http://h:4"}};
	struct raft_msg rec = {.type = RAFT_MSG_SNAPREC_REQ, .req_id = 4};
	rec.snaprec.last_index = 50;
	rec.snaprec.last_term = 2;
	rec.snaprec.n_peers = 3;
	rec.snaprec.peers = peers;
	fx_recv(&t, "a", &rec);
	const struct raft_action *in = fx_nth_action(&t, RAFT_ACT_INSTALL, 0);
	ck_assert_ptr_nonnull(in);
	ck_assert_uint_eq(in->install.index, 50);
	ck_assert_uint_eq(in->install.term, 2);
	ck_assert_ptr_null(fx_sent_to(&t, "a")); /* not before it is durable */
	ck_assert_uint_eq(raft_log_start(t.r), 50);
	ck_assert_uint_eq(raft_last_index(t.r), 50);
	ck_assert_uint_eq(raft_commit_index(t.r), 50);
	ck_assert_uint_eq(raft_current_term(t.r), 2); /* never lowered */
	ck_assert(raft_is_member(t.r, "d"));
	ck_assert(!raft_is_member(t.r, "c"));
	fx_durable(&t, in->install.seq);
	r = fx_sent_to(&t, "a");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, RAFT_MSG_SNAPREC_RESP);
	ck_assert(r->snaprec_resp.success);
	ck_assert_uint_eq(r->snaprec_resp.commit, 50);
	/* AppendEntries continue after the snapshot; older ones are fine */
	struct raft_entry e = {.index = 51, .term = 2, .type = RAFT_ENTRY_COMMAND};
	struct raft_msg m = ae(2, 50, 2, 51, &e, 1);
	fx_recv(&t, "a", &m);
	fx_durable(&t, fx_log_seq(&t));
	ck_assert(fx_sent_to(&t, "a")->ae_resp.success);
	ck_assert_uint_eq(raft_commit_index(t.r), 51);
	m = ae(2, 10, 0, 51, NULL, 0);
	fx_recv(&t, "a", &m);
	ck_assert(fx_sent_to(&t, "a")->ae_resp.success);
	raft_free(t.r);
}
END_TEST

START_TEST(test_no_snapshot_with_goraft_member)
{
	raft_term tt[30] = {0};
	struct raft_config cfg = fx_config("a");
	cfg.snapshot_threshold = 20;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 0, "", ABC, 3, tt, 30, 30);
	struct raft_event ev = {.type = RAFT_EV_PEER_KIND};
	ev.peer_kind.name = "c";
	ev.peer_kind.goraft = true;
	fx_step(&t, &ev);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_APPLY), 1);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_TAKE_SNAPSHOT), 0);
	for (int i = 0; i < 10; i++) {
		fx_tick(&t, 10);
		ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_TAKE_SNAPSHOT), 0);
	}
	raft_free(t.r);
}
END_TEST

/* Entries (or a snapshot) on disk can carry a term newer than the stored
 * one: the node crashed after appending them, before its new term was
 * persisted. The stored vote was cast in the older term; in the newer one
 * this node voted for nobody (a vote is persisted before it is sent), so it
 * may grant one. */
START_TEST(test_restore_newer_term_forgets_older_vote)
{
	static const raft_term tt[3] = {1, 1, 3};
	struct fx_node t;
	struct raft_config cfg = fx_config("b");
	cfg.pre_vote = false;
	tn_init_cfg(&t, &cfg, 2, "c", ABC, 3, tt, 3, 0);
	ck_assert_uint_eq(raft_current_term(t.r), 3);
	struct raft_msg q = rv(3, 3, 3);
	fx_recv(&t, "a", &q);
	const struct raft_action *pa = fx_nth_action(&t, RAFT_ACT_PERSIST, 0);
	ck_assert_ptr_nonnull(pa);
	ck_assert_str_eq(pa->persist.vote, "a");
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(fx_sent_to(&t, "a")->rv_resp.granted);
	raft_free(t.r);

	/* the same with the newer term only in the snapshot */
	static const struct raft_member_info mem[] = {
		{.name = "a", .url = "u1"}, {.name = "b", .url = "u2"}, {.name = "c", .url = "u3"}};
	struct raft_restore rs = {.term = 4, .vote = "c", .snap_index = 40, .snap_term = 5,
				  .n_snap_members = 3, .snap_members = mem};
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &t.r), 0);
	ck_assert_uint_eq(raft_current_term(t.r), 5);
	q = rv(5, 40, 5);
	fx_recv(&t, "a", &q);
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(fx_sent_to(&t, "a")->rv_resp.granted);
	raft_free(t.r);

	/* a vote in the stored term itself still holds */
	tn_init_cfg(&t, &cfg, 3, "c", ABC, 3, tt, 3, 0);
	q = rv(3, 3, 3);
	fx_recv(&t, "a", &q);
	ck_assert(!fx_sent_to(&t, "a")->rv_resp.granted);
	raft_free(t.r);
}
END_TEST

START_TEST(test_restore_from_snapshot)
{
	static const struct raft_member_info mem[] = {
		{.name = "a", .url = "u1"}, {.name = "b", .url = "u2"}, {.name = "c", .url = "u3"}};
	struct raft_entry e[3] = {{.index = 40, .term = 3, .type = RAFT_ENTRY_COMMAND},
				  {.index = 41, .term = 3, .type = RAFT_ENTRY_COMMAND},
				  {.index = 42, .term = 4, .type = RAFT_ENTRY_NOP}};
	struct raft_restore rs = {.term = 4, .snap_index = 40, .snap_term = 3, .n_snap_members = 3,
				  .snap_members = mem, .n_entries = 3, .entries = e};
	struct raft_config cfg = fx_config("a");
	struct raft *r;
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &r), 0);
	ck_assert_uint_eq(raft_log_start(r), 40);
	ck_assert_uint_eq(raft_last_index(r), 42);
	ck_assert_uint_eq(raft_commit_index(r), 40);
	ck_assert_uint_eq(raft_n_members(r), 3);
	raft_term term;
	ck_assert(raft_entry_term(r, 42, &term));
	ck_assert_uint_eq(term, 4);
	raft_free(r);
	/* a gap after the snapshot is refused */
	rs.entries = e + 2;
	rs.n_entries = 1;
	int rv = raft_new(&cfg, &rs, 0, &r);
	ck_assert_int_eq(rv, -EINVAL);
}
END_TEST

START_TEST(test_late_real_vote_does_not_count_for_pre_vote)
{
	/* found by the simulator (seed 6178, two leaders in a term): a
	 * candidate that re-campaigns with a pre-vote counted pre-vote grants
	 * and late real votes together */
	static const raft_term tt[5] = {0, 0, 0, 0, 1};
	static const char *const five[] = {"a", "b", "c", "d", "e"};
	struct fx_node t;
	tn_init(&t, "a", 1, five, 5, tt, 5, 0);
	fx_tick(&t, 1000); /* pre-vote for term 2 */
	struct raft_msg pg = {.type = RAFT_MSG_RV_RESP, .term = 2};
	pg.rv_resp.granted = true;
	pg.rv_resp.pre_vote = true;
	fx_recv(&t, "b", &pg);
	fx_recv(&t, "d", &pg);
	ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	fx_persisted(&t, fx_persist_seq(&t));
	/* no real votes yet; the timer fires: pre-vote round for term 3 */
	fx_tick(&t, 1000);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	pg.term = 3;
	fx_recv(&t, "b", &pg); /* pre-votes: a, b */
	struct raft_msg rg = {.type = RAFT_MSG_RV_RESP, .term = 2};
	rg.rv_resp.granted = true;
	fx_recv(&t, "c", &rg); /* real votes for term 2: a, c */
	/* 2 + 2, but neither kind has 3 of 5 */
	ck_assert_int_eq(raft_role(t.r), RAFT_CANDIDATE);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	/* one more real vote for term 2 makes a real majority */
	fx_recv(&t, "e", &rg);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	raft_free(t.r);
}
END_TEST


/* ---- ReadIndex, leadership transfer, learners ------------------------- */

START_TEST(test_read_index)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	ck_assert_ptr_nonnull(fx_sent_to(&t, "b"));
	uint64_t first = fx_sent_to(&t, "b")->req_id; /* sent before the read */
	fx_durable(&t, fx_log_seq(&t));
	struct raft_event rd = {.type = RAFT_EV_READ};
	rd.read.id = 77;
	fx_step(&t, &rd);
	ck_assert_int_eq(t.rv, 0);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_READ), 0);
	/* b's answer to a request sent before the read commits the nop but
	 * does not confirm the read */
	struct raft_msg ok = ae_resp(first, raft_current_term(t.r), 4, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_READ), 0);
	/* the next heartbeat round confirms it, at the commit index */
	fx_tick(&t, 60);
	const struct raft_msg *hb = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(hb);
	ok = ae_resp(hb->req_id, raft_current_term(t.r), 4, 4, true);
	fx_recv(&t, "b", &ok);
	const struct raft_action *a = fx_nth_action(&t, RAFT_ACT_READ, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->read.id, 77);
	ck_assert_uint_eq(a->read.index, 4);
	/* a pending read fails when leadership is lost */
	rd.read.id = 78;
	fx_step(&t, &rd);
	struct raft_msg up = ae_resp(999, raft_current_term(t.r) + 1, 0, 0, false);
	fx_recv(&t, "c", &up);
	a = fx_nth_action(&t, RAFT_ACT_READ, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->read.id, 78);
	ck_assert_uint_eq(a->read.index, 0);
	/* a follower that knows no leader cannot read yet */
	fx_step(&t, &rd);
	ck_assert_int_eq(t.rv, -EAGAIN);
	raft_free(t.r);
}
END_TEST

static const struct raft_action *sent_type(const struct fx_node *t, const char *to,
					   enum raft_msg_type type)
{
	for (size_t k = 0; k < t->u.n_actions; k++) {
		const struct raft_action *a = &t->u.actions[k];
		if (a->type == RAFT_ACT_SEND && strcmp(a->send.to, to) == 0 && a->send.msg.type == type)
			return a;
	}
	return NULL;
}

/* Thesis §6.4 at the leader: a follower's read index is answered only after
 * a heartbeat round sent after it arrived, and only to members. */
START_TEST(test_read_index_for_a_follower)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	uint64_t first = fx_sent_to(&t, "b")->req_id, first_c = fx_sent_to(&t, "c")->req_id;
	fx_durable(&t, fx_log_seq(&t));
	struct raft_msg ok = ae_resp(first_c, raft_current_term(t.r), 4, 0, true);
	fx_recv(&t, "c", &ok);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	struct raft_msg q = {.type = RAFT_MSG_READ_INDEX, .req_id = 55, .term = raft_current_term(t.r)};
	fx_recv(&t, "b", &q);
	ck_assert_ptr_null(sent_type(&t, "b", RAFT_MSG_READ_INDEX_RESP));
	const struct raft_msg *hb = fx_sent_to(&t, "c"); /* the round that confirms it */
	ck_assert_ptr_nonnull(hb);
	uint64_t round = hb->req_id;
	/* an answer to a request sent before the read does not confirm it */
	ok = ae_resp(first, raft_current_term(t.r), 4, 4, true);
	fx_recv(&t, "b", &ok);
	ck_assert_ptr_null(sent_type(&t, "b", RAFT_MSG_READ_INDEX_RESP));
	ok = ae_resp(round, raft_current_term(t.r), 4, 4, true);
	fx_recv(&t, "c", &ok);
	const struct raft_action *a = sent_type(&t, "b", RAFT_MSG_READ_INDEX_RESP);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->send.msg.req_id, 55);
	ck_assert(a->send.msg.read_index_resp.success);
	ck_assert_uint_eq(a->send.msg.read_index_resp.index, 4);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_READ), 0); /* not ours */
	/* a stranger is told no at once */
	q.req_id = 56;
	fx_recv(&t, "z", &q);
	a = sent_type(&t, "z", RAFT_MSG_READ_INDEX_RESP);
	ck_assert_ptr_nonnull(a);
	ck_assert(!a->send.msg.read_index_resp.success);
	/* a pending one fails when leadership is lost */
	q.req_id = 57;
	fx_recv(&t, "b", &q);
	struct raft_msg up = ae_resp(999, raft_current_term(t.r) + 1, 0, 0, false);
	fx_recv(&t, "c", &up);
	a = sent_type(&t, "b", RAFT_MSG_READ_INDEX_RESP);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->send.msg.req_id, 57);
	ck_assert(!a->send.msg.read_index_resp.success);
	/* a follower without a leader says no too (once its term is durable) */
	fx_persisted(&t, fx_persist_seq(&t));
	q.req_id = 58;
	fx_recv(&t, "b", &q);
	a = sent_type(&t, "b", RAFT_MSG_READ_INDEX_RESP);
	ck_assert_ptr_nonnull(a);
	ck_assert(!a->send.msg.read_index_resp.success);
	raft_free(t.r);
}
END_TEST

/* Thesis §6.4 at a follower: the read waits for the leader's read index,
 * is asked again when the answer is lost, and fails after a few tries; a
 * goraft leader is never asked. */
START_TEST(test_follower_read_through_the_leader)
{
	static const raft_term tt[3] = {1, 1, 1};
	struct fx_node t;
	tn_init(&t, "b", 2, ABC, 3, tt, 3, 0);
	struct raft_event rd = {.type = RAFT_EV_READ};
	rd.read.id = 5;
	fx_step(&t, &rd);
	ck_assert_int_eq(t.rv, -EAGAIN); /* no leader yet */
	struct raft_msg hb = ae(2, 3, 1, 3, NULL, 0);
	fx_recv(&t, "a", &hb);
	ck_assert_str_eq(raft_leader(t.r), "a");
	fx_step(&t, &rd);
	ck_assert_int_eq(t.rv, 0);
	const struct raft_action *a = sent_type(&t, "a", RAFT_MSG_READ_INDEX);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->send.msg.term, 2);
	uint64_t id = a->send.msg.req_id;
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_READ), 0);
	struct raft_msg ans = {.type = RAFT_MSG_READ_INDEX_RESP, .req_id = id, .term = 2};
	ans.read_index_resp.success = true;
	ans.read_index_resp.index = 3;
	fx_recv(&t, "c", &ans); /* not the one asked */
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_READ), 0);
	fx_recv(&t, "a", &ans);
	a = fx_nth_action(&t, RAFT_ACT_READ, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->read.id, 5);
	ck_assert_uint_eq(a->read.index, 3);
	fx_recv(&t, "a", &ans); /* a duplicate changes nothing */
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_READ), 0);

	/* lost answers: asked again, then failed */
	rd.read.id = 6;
	fx_step(&t, &rd);
	uint64_t id1 = sent_type(&t, "a", RAFT_MSG_READ_INDEX)->send.msg.req_id;
	fx_recv(&t, "a", &hb); /* the leader keeps leading */
	fx_tick(&t, 100);
	ck_assert_ptr_null(sent_type(&t, "a", RAFT_MSG_READ_INDEX));
	fx_recv(&t, "a", &hb);
	fx_tick(&t, 100);
	a = sent_type(&t, "a", RAFT_MSG_READ_INDEX);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_ne(a->send.msg.req_id, id1);
	for (int k = 0; k < 4 && fx_count_actions(&t, RAFT_ACT_READ) == 0; k++) {
		fx_recv(&t, "a", &hb);
		fx_tick(&t, 100);
		if (fx_count_actions(&t, RAFT_ACT_READ) == 0) {
			fx_recv(&t, "a", &hb);
			fx_tick(&t, 100);
		}
	}
	a = fx_nth_action(&t, RAFT_ACT_READ, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->read.id, 6);
	ck_assert_uint_eq(a->read.index, 0);

	/* a "no" is asked again at once */
	rd.read.id = 7;
	fx_step(&t, &rd);
	ans.req_id = sent_type(&t, "a", RAFT_MSG_READ_INDEX)->send.msg.req_id;
	ans.read_index_resp.success = false;
	fx_recv(&t, "a", &ans);
	ck_assert_ptr_nonnull(sent_type(&t, "a", RAFT_MSG_READ_INDEX));
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_READ), 0);

	/* a goraft leader cannot give a read index: never asked */
	struct raft_event k = {.type = RAFT_EV_PEER_KIND};
	k.peer_kind.name = "a";
	k.peer_kind.goraft = true;
	fx_step(&t, &k);
	rd.read.id = 8;
	fx_step(&t, &rd);
	ck_assert_int_eq(t.rv, -EOPNOTSUPP);
	ck_assert_ptr_null(sent_type(&t, "a", RAFT_MSG_READ_INDEX));
	raft_free(t.r);
}
END_TEST

/* A goraft follower times out after 150 ms: it hears from its leader every
 * RAFT_GORAFT_HEARTBEAT_MS even when raftd peers are given a slower
 * heartbeat. */
START_TEST(test_goraft_peers_get_goraft_heartbeats)
{
	static const raft_term tt[3] = {0, 0, 1};
	for (int goraft = 0; goraft < 2; goraft++) {
		struct fx_node t;
		struct raft_config cfg = fx_config("a");
		cfg.heartbeat_ms = 100;
		cfg.election_timeout_ms = 500;
		make_leader3_cfg(&t, cfg, tt, 3, goraft);
		uint64_t ib = fx_sent_to(&t, "b")->req_id, ic = fx_sent_to(&t, "c")->req_id;
		fx_durable(&t, fx_log_seq(&t));
		struct raft_msg ok = ae_resp(ib, raft_current_term(t.r), 4, 0, true);
		fx_recv(&t, "b", &ok);
		ok = ae_resp(ic, raft_current_term(t.r), 4, 0, true);
		fx_recv(&t, "c", &ok);
		bool sent = false;
		for (int k = 0; k < 6; k++) { /* 60 ms */
			fx_tick(&t, 10);
			sent = sent || fx_sent_to(&t, "b");
		}
		ck_assert_int_eq(sent, goraft); /* a raftd peer waits for 100 ms */
		raft_free(t.r);
	}
}
END_TEST

/* A transfer without a target (a stopping leader's handover) goes to the
 * voter with the highest match that answered lately; none: -ENOENT. */
START_TEST(test_transfer_picks_the_most_up_to_date_voter)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	uint64_t ib = fx_sent_to(&t, "b")->req_id, ic = fx_sent_to(&t, "c")->req_id;
	fx_durable(&t, fx_log_seq(&t));
	struct raft_event tr = {.type = RAFT_EV_TRANSFER};
	fx_step(&t, &tr);
	ck_assert_int_eq(t.rv, -ENOENT); /* nobody answered yet */
	struct raft_msg no = ae_resp(ic, raft_current_term(t.r), 2, 0, false);
	fx_recv(&t, "c", &no); /* c answered, behind */
	struct raft_msg ok = ae_resp(ib, raft_current_term(t.r), 4, 0, true);
	fx_recv(&t, "b", &ok);
	fx_step(&t, &tr);
	ck_assert_int_eq(t.rv, 0);
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_TIMEOUT_NOW);
	ck_assert_ptr_null(fx_sent_to(&t, "c") && fx_sent_to(&t, "c")->type == RAFT_MSG_TIMEOUT_NOW ? "c" : NULL);
	raft_free(t.r);
}
END_TEST

START_TEST(test_leadership_transfer)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	uint64_t id = fx_sent_to(&t, "b")->req_id;
	fx_durable(&t, fx_log_seq(&t));
	struct raft_event tr = {.type = RAFT_EV_TRANSFER};
	tr.transfer.to = "a";
	fx_step(&t, &tr);
	ck_assert_int_eq(t.rv, -EINVAL); /* itself */
	tr.transfer.to = "b";
	fx_step(&t, &tr);
	ck_assert_int_eq(t.rv, 0);
	/* no proposals while it runs */
	struct raft_entry cmd = {.type = RAFT_ENTRY_COMMAND};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &cmd;
	pe.propose.n = 1;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -EBUSY);
	/* b catches up: TimeoutNow */
	struct raft_msg ok = ae_resp(id, raft_current_term(t.r), 4, 0, true);
	fx_recv(&t, "b", &ok);
	const struct raft_msg *m = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_TIMEOUT_NOW);
	ck_assert_uint_eq(m->term, raft_current_term(t.r));
	/* no election follows: after an election timeout the leader takes
	 * proposals again (b keeps answering, so check-quorum is content) */
	fx_tick(&t, 100);
	const struct raft_msg *beat = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(beat);
	ok = ae_resp(beat->req_id, raft_current_term(t.r), 4, 4, true);
	fx_recv(&t, "b", &ok);
	fx_tick(&t, 60);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	raft_free(t.r);

	/* the target campaigns at once, without a pre-vote, even though it
	 * heard from its leader a moment ago */
	struct fx_node f;
	tn_init(&f, "b", 1, ABC, 3, tt, 3, 0);
	struct raft_msg hb = ae(1, 3, 1, 0, NULL, 0);
	fx_recv(&f, "a", &hb);
	struct raft_msg tn = {.type = RAFT_MSG_TIMEOUT_NOW, .term = 1};
	fx_recv(&f, "c", &tn); /* not from its leader: ignored */
	ck_assert_int_eq(raft_role(f.r), RAFT_FOLLOWER);
	fx_recv(&f, "a", &tn);
	ck_assert_int_eq(raft_role(f.r), RAFT_CANDIDATE);
	ck_assert_uint_eq(raft_current_term(f.r), 2);
	fx_persisted(&f, fx_persist_seq(&f));
	m = fx_sent_to(&f, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->type, RAFT_MSG_RV_REQ);
	ck_assert(!m->rv.pre_vote);
	raft_free(f.r);

	/* never with a goraft member (TimeoutNow is a raftd-only message) */
	make_leader3(&t, tt, 3, true);
	tr.transfer.to = "b";
	fx_step(&t, &tr);
	ck_assert_int_eq(t.rv, -EOPNOTSUPP);
	raft_free(t.r);
}
END_TEST

START_TEST(test_learner_catches_up_then_is_promoted)
{
	struct fx_node t;
	tn_init(&t, "a", 0, NULL, 0, NULL, 0, 0);
	struct raft_event bs = {.type = RAFT_EV_BOOTSTRAP};
	bs.bootstrap.url = "http://h:1";
	fx_step(&t, &bs);
	fx_durable(&t, fx_log_seq(&t));
	ck_assert_uint_eq(raft_commit_index(t.r), 2);
	struct raft_entry l = {.type = RAFT_ENTRY_LEARNER, .name = "l", .url = "http://h:9"};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &l;
	pe.propose.n = 1;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	ck_assert(raft_is_member(t.r, "l"));
	ck_assert(!raft_is_voter(t.r, "l"));
	const struct raft_msg *m = fx_sent_to(&t, "l");
	ck_assert_ptr_nonnull(m); /* replicated to */
	uint64_t id = m->req_id;
	/* a learner does not count: committed by the lone voter */
	fx_durable(&t, fx_log_seq(&t));
	ck_assert_uint_eq(raft_commit_index(t.r), 3);
	/* promotion refused until it has caught up */
	struct raft_entry j = {.type = RAFT_ENTRY_JOIN, .name = "l", .url = "http://h:9"};
	pe.propose.entries = &j;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -EAGAIN);
	struct raft_msg f = ae_resp(id, 0, 0, 0, false);
	fx_recv(&t, "l", &f);
	m = fx_sent_to(&t, "l");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->ae.prev_index, 0);
	ck_assert_uint_eq(m->ae.n_entries, 3);
	struct raft_msg ok = ae_resp(m->req_id, 0, 3, 3, true);
	fx_recv(&t, "l", &ok);
	/* caught up: the leader itself proposes its promotion, a raft:join
	 * of its own making (etcd's learner-first rule) */
	ck_assert(raft_is_voter(t.r, "l"));
	const struct raft_action *ap = fx_nth_action(&t, RAFT_ACT_APPEND, 0);
	ck_assert_ptr_nonnull(ap);
	ck_assert_int_eq(ap->append.src, RAFT_SRC_CORE);
	struct raft_entry pj;
	ck_assert(raft_get_entry(t.r, ap->append.first, &pj));
	ck_assert_int_eq(pj.type, RAFT_ENTRY_JOIN);
	ck_assert_str_eq(pj.name, "l");
	ck_assert_str_eq(pj.url, "http://h:9");
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, -EBUSY); /* the promotion is pending */
	raft_free(t.r);

	/* a learner never campaigns */
	static const raft_term tt[3] = {0, 0, 0};
	static const char *const al[] = {"a", "l"};
	struct raft_entry e[3] = {
		{.index = 1, .term = 0, .type = RAFT_ENTRY_JOIN, .name = "a", .url = "u"},
		{.index = 2, .term = 0, .type = RAFT_ENTRY_NOP},
		{.index = 3, .term = 0, .type = RAFT_ENTRY_LEARNER, .name = "l", .url = "u"}};
	(void)tt;
	(void)al;
	struct raft_restore rs = {.n_entries = 3, .entries = e};
	struct raft_config cfg = fx_config("l");
	struct raft *r;
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &r), 0);
	ck_assert(!raft_is_voter(r, "l"));
	struct raft_update u;
	for (uint64_t now = 100; now < 5000; now += 100) {
		struct raft_event tk = {.type = RAFT_EV_TICK, .now = now};
		raft_step(r, &tk, &u);
		ck_assert_uint_eq(u.n_actions, 0);
	}
	raft_free(r);
}
END_TEST

/* ---- joins that can never be acknowledged (issue 16, item 5) --------- */

/* Carry out the core's log writes and let the `live` peers accept every
 * AppendEntries sent to them, until nothing is left to do; the other peers
 * never answer (a member at a closed port). Time does not move. */
static void pump(struct fx_node *t, const char *const *live, size_t n_live)
{
	struct {
		bool durable;
		uint64_t seq;
		const char *to;
		struct raft_msg m;
	} q[512];
	size_t head = 0, tail = 0;
	for (int iter = 0; iter < 400; iter++) {
		for (size_t a = 0; a < t->u.n_actions && tail < 512; a++) {
			const struct raft_action *x = &t->u.actions[a];
			if (x->type == RAFT_ACT_APPEND) {
				q[tail].durable = true;
				q[tail++].seq = x->append.seq;
			}
			if (x->type != RAFT_ACT_SEND || x->send.msg.type != RAFT_MSG_AE_REQ)
				continue;
			for (size_t i = 0; i < n_live && tail < 512; i++) {
				if (strcmp(x->send.to, live[i]) == 0) {
					q[tail].durable = false;
					q[tail].to = live[i];
					q[tail++].m = x->send.msg;
				}
			}
		}
		if (head == tail)
			return;
		if (q[head].durable) {
			fx_durable(t, q[head].seq);
		} else {
			const struct raft_msg *m = &q[head].m;
			struct raft_msg ok = ae_resp(m->req_id, m->term, m->ae.prev_index + m->ae.n_entries, 0, true);
			fx_recv(t, q[head].to, &ok);
		}
		head++;
	}
	ck_abort_msg("pump: no quiet state");
}

static void tn_propose1(struct fx_node *t, enum raft_entry_type type, const char *name)
{
	struct raft_entry e = {.type = type, .name = name, .url = name ? "http://127.0.0.1:1" : NULL,
			       .size = 60};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &e;
	pe.propose.n = 1;
	fx_step(t, &pe);
}

static void tn_peer_kind(struct fx_node *t, const char *name, bool goraft)
{
	struct raft_event ev = {.type = RAFT_EV_PEER_KIND};
	ev.peer_kind.name = name;
	ev.peer_kind.goraft = goraft;
	fx_step(t, &ev);
}

/* The issue's reproduction: three /join of goraft nodes at closed ports
 * turned 3 voters into 6 (quorum 4) and nothing committed again. A voter
 * is now added only while the voters heard from lately form a majority of
 * the new configuration, the goraft joiner counted as one if they are a
 * majority of the current one (issue 17): the third is taken, never
 * answers, and is taken back; writes go on. */
START_TEST(test_voter_join_needs_live_quorum)
{
	static const raft_term tt[3] = {0, 0, 0};
	static const char *const dead[] = {"x", "y", "z"};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	pump(&t, ABC + 1, 2);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	for (int i = 0; i < 3; i++) {
		tn_peer_kind(&t, dead[i], true); /* goraft: a voter at once */
		tn_propose1(&t, RAFT_ENTRY_JOIN, dead[i]);
		if (i == 2)
			break;
		/* 4 voters with 3 live, then 5 with 3: still a majority */
		ck_assert_int_eq(t.rv, 0);
		pump(&t, ABC + 1, 2);
		ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	}
	/* 6 voters with 3 live: a goraft joiner, which answers nothing until
	 * its /join is answered, is taken all the same while the live voters
	 * are a majority of the current configuration. Those hold it, so the
	 * join may be answered (raft_change_held), though it cannot commit
	 * without z. */
	ck_assert_int_eq(t.rv, 0);
	raft_index zi = raft_last_index(t.r);
	pump(&t, ABC + 1, 2);
	ck_assert(raft_change_held(t.r, zi, raft_current_term(t.r)));
	ck_assert_uint_lt(raft_commit_index(t.r), zi);
	/* z never answers: after join_grace_ms the leader takes its join
	 * back, and the cluster commits again */
	for (int k = 0; k < 120 && raft_is_member(t.r, "z"); k++) {
		fx_tick(&t, 100);
		pump(&t, ABC + 1, 2);
	}
	ck_assert(!raft_is_member(t.r, "z"));
	ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	ck_assert_uint_gt(t.now, 10000);
	tn_propose1(&t, RAFT_ENTRY_COMMAND, NULL);
	ck_assert_int_eq(t.rv, 0);
	pump(&t, ABC + 1, 2);
	ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	/* nor may a live voter leave: a and c of {a,c,x,y} are no majority */
	tn_propose1(&t, RAFT_ENTRY_LEAVE, "b");
	ck_assert_int_eq(t.rv, -ENOTCONN);
	/* b goes silent: 2 live of 5 is not enough for a sixth either */
	t.now += 1000;
	pump(&t, ABC + 2, 1);
	tn_propose1(&t, RAFT_ENTRY_JOIN, "z");
	ck_assert_int_eq(t.rv, -ENOTCONN);
	/* 2 of 5 answer: even a silent voter's leave could not commit (2 of
	 * {a,b,c,y}): refused, rather than left pending */
	tn_propose1(&t, RAFT_ENTRY_LEAVE, "x");
	ck_assert_int_eq(t.rv, -ENOTCONN);
	raft_free(t.r);
}
END_TEST

/* Issue 17: a goraft node joins while one of three voters (c) is down. It
 * answers nothing until its /join is answered, so the join is taken with
 * it counted as up (a and b are a majority of {a,b,c}), answerable once b
 * holds it (raft_change_held), and committed once g answers: 3 of 4. */
START_TEST(test_goraft_join_one_down)
{
	static const raft_term tt[3] = {0, 0, 0};
	static const char *const ab_g[] = {"b", "g"};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	pump(&t, ABC + 1, 2);
	for (int k = 0; k < 10; k++) { /* c silent for longer than an election timeout */
		fx_tick(&t, 100);
		pump(&t, ABC + 1, 1);
	}
	tn_peer_kind(&t, "g", true);
	tn_propose1(&t, RAFT_ENTRY_JOIN, "g");
	ck_assert_int_eq(t.rv, 0);
	raft_index gi = raft_last_index(t.r);
	raft_term term = raft_current_term(t.r);
	ck_assert(!raft_change_held(t.r, gi, term)); /* a alone: no majority */
	pump(&t, ABC + 1, 1);
	ck_assert(raft_change_held(t.r, gi, term));
	ck_assert_uint_lt(raft_commit_index(t.r), gi);
	fx_tick(&t, 250); /* g serves now; the request it missed has timed out */
	pump(&t, ab_g, 2);
	ck_assert_uint_ge(raft_commit_index(t.r), gi);
	ck_assert(raft_is_voter(t.r, "g"));
	raft_free(t.r);
}
END_TEST

/* Learners that never answer never count and are never promoted: the
 * quorum stays that of the three voters. */
START_TEST(test_silent_learners_keep_the_quorum)
{
	static const raft_term tt[3] = {0, 0, 0};
	static const char *const dead[] = {"x", "y", "z"};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	pump(&t, ABC + 1, 2);
	for (int i = 0; i < 3; i++) {
		tn_peer_kind(&t, dead[i], false);
		tn_propose1(&t, RAFT_ENTRY_LEARNER, dead[i]);
		ck_assert_int_eq(t.rv, 0);
		pump(&t, ABC + 1, 1); /* b alone with a: 2 of 3 */
		ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	}
	ck_assert_uint_eq(raft_n_members(t.r), 6);
	for (int k = 0; k < 40; k++) {
		fx_tick(&t, 50);
		pump(&t, ABC + 1, 1);
		ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	}
	for (int i = 0; i < 3; i++)
		ck_assert(!raft_is_voter(t.r, dead[i]));
	tn_propose1(&t, RAFT_ENTRY_COMMAND, NULL);
	ck_assert_int_eq(t.rv, 0);
	pump(&t, ABC + 1, 1);
	ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	raft_free(t.r);
}
END_TEST

/* A join that cannot commit (a voter died after it was proposed) can be
 * undone: a leave that brings the voters back to the committed ones, or
 * removes a learner, is taken while the change is pending. */
START_TEST(test_leave_reverts_pending_join)
{
	static const raft_term tt[3] = {0, 0, 0};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	pump(&t, ABC + 1, 2);
	tn_propose1(&t, RAFT_ENTRY_LEARNER, "l");
	ck_assert_int_eq(t.rv, 0);
	pump(&t, ABC + 1, 1);
	ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	tn_propose1(&t, RAFT_ENTRY_JOIN, "x");
	ck_assert_int_eq(t.rv, 0);
	raft_index join_at = raft_last_index(t.r);
	/* c dies: {a,b,c,x} needs 3, only a and b answer */
	pump(&t, ABC + 1, 1);
	tn_propose1(&t, RAFT_ENTRY_COMMAND, NULL);
	ck_assert_int_eq(t.rv, 0);
	pump(&t, ABC + 1, 1);
	ck_assert_uint_lt(raft_commit_index(t.r), join_at);
	/* another change: still one at a time */
	tn_propose1(&t, RAFT_ENTRY_LEAVE, "c");
	ck_assert_int_eq(t.rv, -EBUSY);
	tn_propose1(&t, RAFT_ENTRY_JOIN, "y");
	ck_assert_int_eq(t.rv, -EBUSY);
	/* a learner may go; then the pending joiner */
	tn_propose1(&t, RAFT_ENTRY_LEAVE, "l");
	ck_assert_int_eq(t.rv, 0);
	pump(&t, ABC + 1, 1);
	ck_assert_uint_lt(raft_commit_index(t.r), join_at);
	tn_propose1(&t, RAFT_ENTRY_LEAVE, "x");
	ck_assert_int_eq(t.rv, 0);
	ck_assert(!raft_is_member(t.r, "x"));
	ck_assert_uint_eq(raft_n_members(t.r), 3);
	pump(&t, ABC + 1, 1);
	ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	raft_free(t.r);
}
END_TEST

/* goraft.sh mix 3: once the last goraft member has left, check-quorum is
 * on. A stall of the leader's own process (a busy machine) left the
 * followers' answers unread, and the first tick after it took that for
 * their silence: the leader stepped down with every member up, and the
 * follower that had stalled too won the next term. Only silence while the
 * leader ran (and so kept sending heartbeats) counts. */
START_TEST(test_check_quorum_ignores_leaders_own_stall)
{
	static const raft_term tt[3] = {0, 0, 0};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	raft_term term = raft_current_term(t.r);
	pump(&t, ABC + 1, 2);
	tn_peer_kind(&t, "c", true); /* a goraft member: extensions off */
	tn_propose1(&t, RAFT_ENTRY_LEAVE, "c");
	ck_assert_int_eq(t.rv, 0);
	pump(&t, ABC + 1, 1);
	ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	for (int k = 0; k < 20; k++) {
		fx_tick(&t, 20);
		pump(&t, ABC + 1, 1);
		ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	}
	/* the leader's process stalls for several election timeouts; b's
	 * answers wait in the socket behind the first tick */
	fx_tick(&t, 800);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	pump(&t, ABC + 1, 1);
	for (int k = 0; k < 20; k++) {
		fx_tick(&t, 20);
		pump(&t, ABC + 1, 1);
		ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	}
	ck_assert_uint_eq(raft_current_term(t.r), term);
	/* silence while it runs still counts: b stops answering */
	for (int k = 0; k < 20 && raft_role(t.r) == RAFT_LEADER; k++)
		fx_tick(&t, 20);
	ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
	raft_free(t.r);
}
END_TEST

/* ---- messages not to be trusted (issue 16) ---------------------------- */

static bool refused(const struct fx_node *t, enum raft_refusal why)
{
	for (size_t k = 0; k < t->u.n_actions; k++)
		if (t->u.actions[k].type == RAFT_ACT_REFUSED && t->u.actions[k].refused.why == why)
			return true;
	return false;
}

/* A RequestVote at term 2^64-1 moved every node to it; the next election
 * wrapped the term to 0 and no leader was ever elected again. */
START_TEST(test_terms_never_wrap)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	tn_init(&t, "b", 1, ABC, 3, tt, 3, 0);
	struct raft_msg q = rv(UINT64_MAX, 3, 1);
	fx_recv(&t, "a", &q);
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_PERSIST), 0);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_SEND), 0);
	ck_assert(refused(&t, RAFT_REFUSE_TERM_MAX));
	/* far ahead, but incrementable: refused all the same */
	q = rv(1 + RAFT_TERM_AHEAD + 1, 3, 1);
	fx_recv(&t, "a", &q);
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	ck_assert(refused(&t, RAFT_REFUSE_TERM_AHEAD));
	/* any message: an AppendEntries, a response */
	struct raft_msg m = ae(RAFT_TERM_MAX + 1, 3, 1, 3, NULL, 0);
	fx_recv(&t, "a", &m);
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	ck_assert_str_eq(raft_leader(t.r), "");
	m = ae_resp(1, UINT64_MAX, 3, 3, false);
	fx_recv(&t, "c", &m);
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	/* a real election afterwards: term 2, granted */
	q = rv(2, 3, 1);
	fx_recv(&t, "a", &q);
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(fx_sent_to(&t, "a")->rv_resp.granted);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	raft_free(t.r);

	/* a node already at the ceiling (restored so) never campaigns:
	 * its next term would not fit */
	tn_init(&t, "a", RAFT_TERM_MAX, ABC, 3, tt, 3, 0);
	fx_tick(&t, 1000);
	fx_tick(&t, 1000);
	ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
	ck_assert_uint_eq(raft_current_term(t.r), RAFT_TERM_MAX);
	raft_free(t.r);
}
END_TEST

/* goraft.sh mix 3: a goraft member removed while it keeps running times
 * out and campaigns on its own (docs/goraft-protocol.md §7.4). A new
 * leader that still tells it of its leave got its higher term back and
 * stepped down, again at every term that leader won. Its term is not the
 * cluster's: the answer ends the telling instead. */
START_TEST(test_removed_goraft_member_term_not_followed)
{
	static const raft_term tt[3] = {0, 0, 0};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	pump(&t, ABC + 1, 2);
	tn_peer_kind(&t, "c", true);
	raft_term term = raft_current_term(t.r);
	tn_propose1(&t, RAFT_ENTRY_LEAVE, "c");
	ck_assert_int_eq(t.rv, 0);
	const struct raft_msg *m = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(m);
	uint64_t id = m->req_id;
	pump(&t, ABC + 1, 1);
	ck_assert_uint_eq(raft_commit_index(t.r), raft_last_index(t.r));
	ck_assert_ptr_nonnull(raft_departing_url(t.r, "c"));
	struct raft_msg no = ae_resp(id, term + 7, 4, 4, false);
	fx_recv(&t, "c", &no);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	ck_assert_uint_eq(raft_current_term(t.r), term);
	ck_assert_ptr_null(raft_departing_url(t.r, "c"));
	for (int k = 0; k < 20; k++) {
		fx_tick(&t, 20);
		ck_assert_ptr_null(fx_sent_to(&t, "c"));
		pump(&t, ABC + 1, 1);
	}
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	raft_free(t.r);
}
END_TEST

/* Thesis §4.2.3: one RequestVote with a member's name and a higher term made
 * a healthy leader step down. */
START_TEST(test_vote_request_ignored_while_leader_heard)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	tn_init(&t, "b", 1, ABC, 3, tt, 3, 0);
	struct raft_msg hb = ae(1, 3, 1, 0, NULL, 0);
	fx_recv(&t, "a", &hb);
	fx_tick(&t, 20);
	struct raft_msg q = rv(1000, 3, 1); /* c, up to date, far ahead */
	fx_recv(&t, "c", &q);
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	ck_assert_str_eq(raft_leader(t.r), "a");
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_PERSIST), 0);
	const struct raft_msg *r = fx_sent_to(&t, "c");
	ck_assert_ptr_nonnull(r);
	ck_assert(!r->rv_resp.granted);
	ck_assert_uint_eq(r->term, 1);
	ck_assert(refused(&t, RAFT_REFUSE_LEADER_ALIVE));
	/* liveness: the leader silent for an election timeout, a candidate
	 * gets the vote */
	fx_tick(&t, 150);
	q = rv(2, 3, 1);
	fx_recv(&t, "c", &q);
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(fx_sent_to(&t, "c")->rv_resp.granted);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	/* a non-member (a removed node that keeps campaigning) is denied
	 * without moving the term, even with no leader around */
	fx_tick(&t, 1000);
	q = rv(9, 3, 1);
	fx_recv(&t, "zz", &q);
	ck_assert_uint_eq(raft_current_term(t.r), 2);
	ck_assert(!fx_sent_to(&t, "zz")->rv_resp.granted);
	ck_assert(refused(&t, RAFT_REFUSE_NOT_MEMBER));
	raft_free(t.r);

	/* the leader itself, answered by a majority: stays, same term */
	make_leader3(&t, tt, 3, false);
	raft_term term = raft_current_term(t.r);
	q = rv(term + 1000, 4, term);
	fx_recv(&t, "c", &q);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	ck_assert_uint_eq(raft_current_term(t.r), term);
	ck_assert(!fx_sent_to(&t, "c")->rv_resp.granted);
	raft_free(t.r);
}
END_TEST

/* The transfer target's vote request (it got TimeoutNow) still wins votes
 * from followers that heard from the leader a moment ago, and the leader's. */
START_TEST(test_transfer_vote_passes_stickiness)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	uint64_t id = fx_sent_to(&t, "b")->req_id;
	fx_durable(&t, fx_log_seq(&t));
	struct raft_event tr = {.type = RAFT_EV_TRANSFER};
	tr.transfer.to = "b";
	fx_step(&t, &tr);
	raft_term term = raft_current_term(t.r);
	struct raft_msg ok = ae_resp(id, term, 4, 0, true);
	fx_recv(&t, "b", &ok);
	ck_assert_int_eq(fx_sent_to(&t, "b")->type, RAFT_MSG_TIMEOUT_NOW);
	/* a marked request from someone it did not tell: denied */
	struct raft_msg q = rv(term + 1, 4, term);
	q.rv.transfer = true;
	fx_recv(&t, "c", &q);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	ck_assert(!fx_sent_to(&t, "c")->rv_resp.granted);
	/* from its target: granted */
	fx_recv(&t, "b", &q);
	ck_assert_int_eq(raft_role(t.r), RAFT_FOLLOWER);
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(fx_sent_to(&t, "b")->rv_resp.granted);
	raft_free(t.r);

	/* the target marks its request; a follower that hears from the
	 * leader grants it at the next term only */
	struct fx_node f;
	tn_init(&f, "b", 1, ABC, 3, tt, 3, 0);
	struct raft_msg hb = ae(1, 3, 1, 0, NULL, 0);
	fx_recv(&f, "a", &hb);
	struct raft_msg tn = {.type = RAFT_MSG_TIMEOUT_NOW, .term = 1};
	fx_recv(&f, "a", &tn);
	fx_persisted(&f, fx_persist_seq(&f));
	const struct raft_msg *m = fx_sent_to(&f, "c");
	ck_assert_ptr_nonnull(m);
	ck_assert(m->rv.transfer);
	raft_free(f.r);
	tn_init(&f, "c", 1, ABC, 3, tt, 3, 0);
	fx_recv(&f, "a", &hb);
	q = rv(3, 3, 1);
	q.rv.transfer = true;
	fx_recv(&f, "b", &q); /* two terms ahead: not a transfer's */
	ck_assert_uint_eq(raft_current_term(f.r), 1);
	q.term = 2;
	fx_recv(&f, "b", &q);
	fx_persisted(&f, fx_persist_seq(&f));
	ck_assert(fx_sent_to(&f, "b")->rv_resp.granted);
	ck_assert_uint_eq(raft_current_term(f.r), 2);
	raft_free(f.r);
}
END_TEST

/* A SnapshotRecoveryRequest from a node that was not the leader was
 * installed (on_snaprec_request never checked the sender). */
START_TEST(test_snapshot_only_from_the_leader)
{
	static const raft_term tt[4] = {0, 0, 0, 1};
	static const struct raft_member_info peers[] = {
		{.name = "a", .url = "http://h:1"},
		{.name = "b", .url = "http://h:2"},
		{.name = "c", .url = "http://h:3"}};
	struct raft_msg q = {.type = RAFT_MSG_SNAP_REQ, .req_id = 3};
	q.snap.last_index = 50;
	q.snap.last_term = 2;
	struct raft_msg rec = {.type = RAFT_MSG_SNAPREC_REQ, .req_id = 4};
	rec.snaprec.last_index = 50;
	rec.snaprec.last_term = 2;
	rec.snaprec.n_peers = 3;
	rec.snaprec.peers = peers;
	struct fx_node t;
	tn_init(&t, "b", 1, ABC, 3, tt, 4, 2);
	/* no leader known yet: refused, nothing installed */
	fx_recv(&t, "a", &q);
	ck_assert(!fx_sent_to(&t, "a")->snap_resp.success);
	fx_recv(&t, "a", &rec);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_INSTALL), 0);
	ck_assert(!fx_sent_to(&t, "a")->snaprec_resp.success);
	ck_assert(refused(&t, RAFT_REFUSE_NOT_LEADER));
	/* a leads at term 2: c's snapshot is refused, a's installed */
	struct raft_msg hb = ae(2, 4, 1, 2, NULL, 0);
	fx_recv(&t, "a", &hb);
	fx_persisted(&t, fx_persist_seq(&t));
	fx_recv(&t, "c", &q);
	ck_assert(!fx_sent_to(&t, "c")->snap_resp.success);
	fx_recv(&t, "c", &rec);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_INSTALL), 0);
	ck_assert(!fx_sent_to(&t, "c")->snaprec_resp.success);
	ck_assert_uint_eq(raft_last_index(t.r), 4);
	ck_assert_uint_eq(raft_commit_index(t.r), 2);
	fx_recv(&t, "a", &q);
	ck_assert(fx_sent_to(&t, "a")->snap_resp.success);
	fx_recv(&t, "a", &rec);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_INSTALL), 1);
	raft_free(t.r);
}
END_TEST

/* A forged AppendEntries with a higher term and an invented leader name
 * committed its entries on every node. */
START_TEST(test_append_from_non_member_refused)
{
	static const raft_term tt[4] = {0, 0, 0, 1};
	struct fx_node t;
	tn_init(&t, "b", 1, ABC, 3, tt, 4, 2);
	struct raft_msg hb = ae(1, 4, 1, 2, NULL, 0);
	fx_recv(&t, "a", &hb);
	fx_tick(&t, 20);
	struct raft_entry e = {.index = 5, .term = 7, .type = RAFT_ENTRY_COMMAND, .size = 10};
	struct raft_msg m = ae(7, 4, 1, 5, &e, 1);
	fx_recv(&t, "evil", &m);
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	ck_assert_str_eq(raft_leader(t.r), "a");
	ck_assert_uint_eq(raft_last_index(t.r), 4);
	ck_assert_uint_eq(raft_commit_index(t.r), 2);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_APPEND), 0);
	ck_assert_uint_eq(fx_count_actions(&t, RAFT_ACT_APPLY), 0);
	ck_assert(refused(&t, RAFT_REFUSE_NOT_MEMBER));
	ck_assert_ptr_nonnull(fx_sent_to(&t, "evil"));
	ck_assert(!fx_sent_to(&t, "evil")->ae_resp.success);
	/* liveness: once the leader has been silent for an election timeout,
	 * a leader our configuration lacks (it joined in entries we have not
	 * got yet) is followed */
	fx_tick(&t, 150);
	struct raft_entry j = {.index = 5, .term = 3, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "d",
			       .url = "http://h:4"};
	m = ae(3, 4, 1, 5, &j, 1);
	fx_recv(&t, "d", &m);
	uint64_t ls = fx_log_seq(&t);
	fx_persisted(&t, fx_persist_seq(&t));
	fx_durable(&t, ls);
	ck_assert(fx_sent_to(&t, "d")->ae_resp.success);
	ck_assert_str_eq(raft_leader(t.r), "d");
	ck_assert(raft_is_member(t.r, "d"));
	raft_free(t.r);

	/* a node without a configuration (a joiner) takes its first
	 * entries from anyone */
	tn_init(&t, "d", 0, NULL, 0, NULL, 0, 0);
	m = ae(3, 4, 1, 5, &j, 1);
	m.ae.prev_index = 0;
	m.ae.prev_term = 0;
	j.index = 1;
	fx_recv(&t, "a", &m);
	ls = fx_log_seq(&t);
	fx_persisted(&t, fx_persist_seq(&t));
	fx_durable(&t, ls);
	ck_assert(fx_sent_to(&t, "a")->ae_resp.success);
	raft_free(t.r);

	/* a leader is not deposed by a forged request at its own term */
	make_leader3(&t, tt, 4, false);
	raft_term term = raft_current_term(t.r);
	m = ae(term, 5, term, 5, NULL, 0);
	fx_recv(&t, "evil", &m);
	ck_assert_int_eq(raft_role(t.r), RAFT_LEADER);
	ck_assert_uint_eq(raft_current_term(t.r), term);
	raft_free(t.r);
}
END_TEST

/* The leader kept a raftd follower's larger matchIndex: one that lost its
 * log tail (a wiped WAL, the name kept) was sent heartbeats past its log
 * end forever. */
START_TEST(test_leader_follows_a_follower_log_end_down)
{
	static const raft_term tt[3] = {0, 0, 1};
	struct fx_node t;
	make_leader3(&t, tt, 3, false);
	raft_term term = raft_current_term(t.r);
	const struct raft_msg *q = fx_sent_to(&t, "b");
	ck_assert_uint_eq(q->ae.prev_index + q->ae.n_entries, 4);
	struct raft_msg ok = ae_resp(q->req_id, term, 4, 0, true);
	fx_recv(&t, "b", &ok);
	fx_durable(&t, fx_log_seq(&t));
	fx_tick(&t, 60);
	q = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(q->ae.prev_index, 4); /* b has all */
	/* b restarted with an empty log: it answers with Index 0 */
	struct raft_msg lost = ae_resp(q->req_id, term, 0, 0, false);
	fx_recv(&t, "b", &lost);
	q = fx_sent_to(&t, "b");
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(q->ae.prev_index, 0);
	ck_assert_uint_eq(q->ae.n_entries, 4);
	raft_free(t.r);
}
END_TEST

/* A node that lost its log (a name but no WAL) neither votes nor
 * campaigns nor bootstraps until it has caught up from a leader. */
START_TEST(test_recovering_node_does_not_vote)
{
	struct raft_config cfg = fx_config("b");
	struct raft_restore rs = {.recovering = true};
	struct fx_node t;
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &t.r), 0);
	/* it may have voted in this term before it lost its disk */
	struct raft_msg q = rv(3, 4, 2);
	fx_recv(&t, "c", &q);
	const struct raft_msg *vr = fx_sent_to(&t, "c");
	if (!vr) { /* (a grant would wait for its persist) */
		fx_persisted(&t, fx_persist_seq(&t));
		vr = fx_sent_to(&t, "c");
	}
	ck_assert_ptr_nonnull(vr);
	ck_assert(!vr->rv_resp.granted);
	ck_assert(raft_recovering(t.r));
	struct raft_event bs = {.type = RAFT_EV_BOOTSTRAP};
	bs.bootstrap.url = "http://h:2";
	fx_step(&t, &bs);
	ck_assert_int_eq(t.rv, -EPERM);
	ck_assert_uint_eq(raft_last_index(t.r), 0);
	/* the leader of term 3 sends the log, commit covering its own nop */
	struct raft_entry e[4] = {
		{.index = 1, .term = 0, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "a", .url = "http://h:1"},
		{.index = 2, .term = 0, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "b", .url = "http://h:2"},
		{.index = 3, .term = 0, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "c", .url = "http://h:3"},
		{.index = 4, .term = 3, .type = RAFT_ENTRY_NOP, .size = 50}};
	struct raft_msg m = ae(3, 0, 0, 3, e, 4);
	fx_recv(&t, "a", &m);
	uint64_t ls = fx_log_seq(&t);
	fx_persisted(&t, fx_persist_seq(&t));
	fx_durable(&t, ls);
	ck_assert(raft_recovering(t.r)); /* commit 3: not an entry of term 3 */
	m = ae(3, 4, 3, 4, NULL, 0);
	fx_recv(&t, "a", &m);
	ck_assert(!raft_recovering(t.r));
	/* caught up: votes again (the leader silent for a while) */
	fx_tick(&t, 1000);
	q = rv(4, 4, 3);
	fx_recv(&t, "c", &q);
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(fx_sent_to(&t, "c")->rv_resp.granted);
	raft_free(t.r);
}
END_TEST

/* A node that acknowledged an entry of the leader's term, lost its disk
 * and caught up again from that leader in the same term held a committed
 * entry of that term before it held the one its own earlier answer had
 * committed: it voted for a candidate without it, which could then lead
 * without a committed entry (the simulator, seed 902 with follower reads:
 * leader completeness). */
START_TEST(test_recovering_node_catches_up_past_what_it_acknowledged)
{
	struct raft_config cfg = fx_config("b");
	struct raft_restore rs = {.recovering = true};
	struct fx_node t;
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &t.r), 0);
	/* Leader a of term 3 committed 5 with b's answer before b lost its
	 * disk (c holds up to 4 only); its caps send the log in two parts,
	 * each with its commit index 5. */
	struct raft_entry e[5] = {
		{.index = 1, .term = 0, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "a", .url = "http://h:1"},
		{.index = 2, .term = 0, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "b", .url = "http://h:2"},
		{.index = 3, .term = 0, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "c", .url = "http://h:3"},
		{.index = 4, .term = 3, .type = RAFT_ENTRY_NOP, .size = 50},
		{.index = 5, .term = 3, .type = RAFT_ENTRY_NOP, .size = 50}};
	struct raft_msg m = ae(3, 0, 0, 5, e, 4);
	fx_recv(&t, "a", &m);
	uint64_t ls = fx_log_seq(&t);
	fx_persisted(&t, fx_persist_seq(&t));
	fx_durable(&t, ls);
	ck_assert_uint_eq(raft_commit_index(t.r), 4);
	/* 4 is a committed entry of term 3, yet 5 may be committed with
	 * the answer b gave before: b must not vote yet */
	ck_assert(raft_recovering(t.r));
	fx_tick(&t, 1000); /* a silent: c campaigns without 5 */
	struct raft_msg q = rv(4, 4, 3);
	fx_recv(&t, "c", &q);
	const struct raft_msg *vr = fx_sent_to(&t, "c");
	if (!vr) { /* (a grant would wait for its persist) */
		fx_persisted(&t, fx_persist_seq(&t));
		vr = fx_sent_to(&t, "c");
	}
	ck_assert_ptr_nonnull(vr);
	ck_assert(!vr->rv_resp.granted);
	/* a leads term 4: b recovers once it holds all a had committed */
	struct raft_entry e2[2] = {e[4], {.index = 6, .term = 4, .type = RAFT_ENTRY_NOP, .size = 50}};
	m = ae(4, 4, 3, 6, e2, 1);
	fx_recv(&t, "a", &m);
	fx_durable(&t, fx_log_seq(&t));
	ck_assert(raft_recovering(t.r)); /* commit 5: not an entry of term 4 */
	m = ae(4, 5, 3, 6, e2 + 1, 1);
	fx_recv(&t, "a", &m);
	fx_durable(&t, fx_log_seq(&t));
	ck_assert_uint_eq(raft_commit_index(t.r), 6);
	ck_assert(!raft_recovering(t.r));
	raft_free(t.r);
}
END_TEST

/* A member finishing its own removal (its leave not committed: it may still
 * lead, see can_campaign) is not denied as a non-member: the simulator found
 * a cluster that could elect no one otherwise. Once the leave commits, it is. */
START_TEST(test_vote_for_a_non_member_that_may_be_one)
{
	struct raft_entry e[4] = {
		{.index = 1, .term = 1, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "a", .url = "http://h:1"},
		{.index = 2, .term = 1, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "b", .url = "http://h:2"},
		{.index = 3, .term = 1, .type = RAFT_ENTRY_JOIN, .size = 50, .name = "c", .url = "http://h:3"},
		{.index = 4, .term = 1, .type = RAFT_ENTRY_LEAVE, .size = 50, .name = "c"}};
	struct raft_config cfg = fx_config("a");
	struct raft_restore rs = {.term = 1, .n_entries = 4, .entries = e, .commit = 3};
	struct fx_node t;
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &t.r), 0);
	ck_assert(!raft_is_member(t.r, "c"));
	struct raft_msg q = rv(2, 4, 1);
	fx_recv(&t, "c", &q);
	const struct raft_msg *vr = fx_sent_to(&t, "c");
	if (!vr) { /* a grant waits for its persist */
		fx_persisted(&t, fx_persist_seq(&t));
		vr = fx_sent_to(&t, "c");
	}
	ck_assert_ptr_nonnull(vr);
	ck_assert(vr->rv_resp.granted);
	raft_free(t.r);

	rs.commit = 4;
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &t.r), 0);
	fx_recv(&t, "c", &q);
	ck_assert(!fx_sent_to(&t, "c")->rv_resp.granted);
	ck_assert_uint_eq(raft_current_term(t.r), 1);
	raft_free(t.r);

	/* a candidate our configuration lacks but whose log is newer may
	 * have joined in entries we have not got: judged by the log */
	ck_assert_int_eq(raft_new(&cfg, &rs, 0, &t.r), 0);
	q = rv(2, 5, 1);
	fx_recv(&t, "d", &q);
	vr = fx_sent_to(&t, "d");
	if (!vr) {
		fx_persisted(&t, fx_persist_seq(&t));
		vr = fx_sent_to(&t, "d");
	}
	ck_assert_ptr_nonnull(vr);
	ck_assert(vr->rv_resp.granted);
	raft_free(t.r);
}
END_TEST

/* ---- golden traces (raft_config.trace) ------------------------------ */

struct tlog {
	char line[32][RAFT_TRACE_MAX];
	size_t n;
};

static void tlog_add(void *data, const char *line)
{
	struct tlog *l = data;
	ck_assert_uint_lt(strlen(line), RAFT_TRACE_MAX);
	if (l->n < 32)
		snprintf(l->line[l->n++], RAFT_TRACE_MAX, "%s", line);
}

/* Lines in order, exactly; on a mismatch print what was traced. */
static void tlog_expect(const struct tlog *l, const char *const *want, size_t n)
{
	bool same = l->n == n;
	for (size_t k = 0; same && k < n; k++)
		same = strcmp(l->line[k], want[k]) == 0;
	if (!same)
		for (size_t k = 0; k < l->n; k++)
			fprintf(stderr, "traced: %s\n", l->line[k]);
	for (size_t k = 0; k < n && k < l->n; k++)
		ck_assert_str_eq(l->line[k], want[k]);
	ck_assert_uint_eq(l->n, n);
}

static void tn_init_traced(struct fx_node *t, const char *name, struct tlog *l, raft_term term,
			   const raft_term *terms, size_t n, raft_index commit)
{
	struct raft_config cfg = fx_config(name);
	cfg.trace = tlog_add;
	cfg.trace_data = l;
	tn_init_cfg(t, &cfg, term, "", ABC, 3, terms, n, commit);
}

/* Three nodes, one trace: a pre-vote round, the election, the new
 * leader's nop replicated and committed. */
START_TEST(test_trace_three_node_election)
{
	static const raft_term tt[3] = {1, 1, 1};
	struct tlog l = {0};
	struct fx_node n[3];
	for (int i = 0; i < 3; i++)
		tn_init_traced(&n[i], ABC[i], &l, 1, tt, 3, 3);
	ck_assert_uint_eq(l.n, 0); /* a restore traces nothing */

	fx_tick(&n[0], 1000);
	struct raft_msg m = *fx_sent_to(&n[0], "b"); /* pre-vote */
	fx_recv(&n[1], "a", &m);
	m = *fx_sent_to(&n[1], "a");
	fx_recv(&n[0], "b", &m);
	fx_persisted(&n[0], fx_persist_seq(&n[0]));
	m = *fx_sent_to(&n[0], "c"); /* the real vote request */
	fx_recv(&n[2], "a", &m);
	fx_persisted(&n[2], fx_persist_seq(&n[2]));
	m = *fx_sent_to(&n[2], "a");
	fx_recv(&n[0], "c", &m);
	ck_assert_int_eq(raft_role(n[0].r), RAFT_LEADER);
	m = *fx_sent_to(&n[0], "c"); /* the nop */
	uint64_t seq = fx_log_seq(&n[0]);
	struct raft_entry nop = {.index = 4, .term = 2, .type = RAFT_ENTRY_NOP};
	ck_assert_uint_eq(m.ae.n_entries, 1);
	m.ae.entries = &nop;
	fx_recv(&n[2], "a", &m);
	fx_durable(&n[2], fx_log_seq(&n[2]));
	m = *fx_sent_to(&n[2], "a");
	fx_durable(&n[0], seq);
	fx_recv(&n[0], "c", &m);
	ck_assert_uint_eq(raft_commit_index(n[0].r), 4);

	static const char *const want[] = {
		"a t1: pre-vote for t2, log 3/1",
		"b t1: grants pre-vote for t2 to a",
		"a t1: pre-vote from b",
		"a t2: candidate (was follower), log 3/1",
		"c t2: follower (was follower at t1)",
		"c t2: grants vote to a",
		"a t2: vote from c",
		"a t2: leader, nop at 4",
		"c t2: follower of a",
		"a t2: commit 3 -> 4",
	};
	tlog_expect(&l, want, sizeof(want) / sizeof(want[0]));
	for (int i = 0; i < 3; i++)
		raft_free(n[i].r);
}
END_TEST

/* A follower that hears from its leader refuses forged and premature vote
 * requests, each with its reason; once the leader is silent a stale log
 * is the reason. */
START_TEST(test_trace_refused_votes)
{
	static const raft_term tt[3] = {1, 1, 1};
	struct tlog l = {0};
	struct fx_node t;
	tn_init_traced(&t, "b", &l, 1, tt, 3, 3);
	struct raft_msg hb = ae(1, 3, 1, 3, NULL, 0);
	fx_recv(&t, "a", &hb);
	fx_tick(&t, 20);
	struct raft_msg q = rv(5, 9, 5); /* a stranger with a better log */
	fx_recv(&t, "evil", &q);
	q = rv(5, 2, 1); /* a member, not newer */
	fx_recv(&t, "evil", &q);
	q = rv(1000, 3, 1);
	fx_recv(&t, "c", &q);
	q = rv(2 + RAFT_TERM_AHEAD, 3, 1);
	fx_recv(&t, "c", &q);
	q = rv(2, 3, 1);
	q.rv.pre_vote = true;
	fx_recv(&t, "c", &q);
	fx_tick(&t, 150); /* the leader falls silent */
	q = rv(2, 2, 1);
	fx_recv(&t, "c", &q);
	fx_persisted(&t, fx_persist_seq(&t));
	ck_assert(!fx_sent_to(&t, "c")->rv_resp.granted);

	static const char *const want[] = {
		"b t1: follower of a",
		"b t1: refuses RequestVote from evil at t5: a leader is alive",
		"b t1: refuses RequestVote from evil at t5: not a member",
		"b t1: refuses RequestVote from c at t1000: a leader is alive",
		"b t1: refuses RequestVote from c at t4294967298: term too far ahead",
		"b t1: refuses pre-vote from c at t2: a leader is alive",
		"b t2: follower (was follower at t1)",
		"b t2: refuses RequestVote from c at t2: its log 2/1 is behind ours 3/1",
	};
	tlog_expect(&l, want, sizeof(want) / sizeof(want[0]));
	raft_free(t.r);
}
END_TEST

/* A lone node bootstraps, takes a goraft joiner (a configuration change);
 * a follower installs its leader's snapshot and refuses a stranger's. */
START_TEST(test_trace_bootstrap_join_and_snapshot)
{
	struct tlog l = {0};
	struct raft_config cfg = fx_config("a");
	cfg.trace = tlog_add;
	cfg.trace_data = &l;
	struct fx_node t;
	tn_init_cfg(&t, &cfg, 0, "", NULL, 0, NULL, 0, 0);
	struct raft_event ev = {.type = RAFT_EV_BOOTSTRAP};
	ev.bootstrap.url = "http://h:1";
	fx_step(&t, &ev);
	fx_durable(&t, fx_log_seq(&t));
	struct raft_event pk = {.type = RAFT_EV_PEER_KIND};
	pk.peer_kind.name = "g";
	pk.peer_kind.goraft = true;
	fx_step(&t, &pk);
	struct raft_entry j = {.type = RAFT_ENTRY_JOIN, .name = "g", .url = "http://h:7", .size = 60};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = &j;
	pe.propose.n = 1;
	fx_step(&t, &pe);
	ck_assert_int_eq(t.rv, 0);
	fx_durable(&t, fx_log_seq(&t));
	raft_free(t.r);

	static const raft_term tt[4] = {0, 0, 0, 1};
	tn_init_traced(&t, "b", &l, 1, tt, 4, 2);
	struct raft_msg hb = ae(2, 4, 1, 2, NULL, 0);
	fx_recv(&t, "a", &hb);
	fx_persisted(&t, fx_persist_seq(&t));
	static const struct raft_member_info peers[] = {
		{.name = "a", .url = "http://h:1"}, {.name = "b", .url = "http://h:2"}};
	struct raft_msg rec = {.type = RAFT_MSG_SNAPREC_REQ, .req_id = 4};
	rec.snaprec.last_index = 50;
	rec.snaprec.last_term = 2;
	rec.snaprec.n_peers = 2;
	rec.snaprec.peers = peers;
	fx_recv(&t, "c", &rec);
	fx_recv(&t, "a", &rec);

	static const char *const want[] = {
		"a t0: configuration: join a at 1, 1 member(s)",
		"a t0: leader, nop at 2",
		"a t0: commit 0 -> 2",
		"a t0: configuration: join g at 3, 2 member(s)",
		"a t0: commit 2 -> 3",
		"b t2: follower of a (was follower at t1)",
		"b t2: refuses SnapshotRecovery from c at t0: not our leader",
		"b t2: installs snapshot 50/2 from a, 2 member(s)",
		"b t2: commit 2 -> 50",
	};
	tlog_expect(&l, want, sizeof(want) / sizeof(want[0]));
	raft_free(t.r);
}
END_TEST

/* ---- out of memory (raft_fail_alloc_nth) ----------------------------- */

/* Fail the 1st, 2nd, ... allocation of op (one step on a core that setup
 * made) until op runs without reaching the failure: each failing run must
 * return -ENOMEM, and the core must then refuse every later event without
 * an action (raft.h). Leaks show under ASan (the CI's unit tests) and
 * valgrind. */
static void walk_alloc_failures(void (*setup)(struct fx_node *), void (*op)(struct fx_node *))
{
	unsigned long nth = 1;
	for (;; nth++) {
		struct fx_node t;
		setup(&t);
		raft_fail_alloc_nth(nth);
		op(&t);
		bool fired = raft_alloc_failed();
		raft_fail_alloc_nth(0);
		if (!fired) {
			ck_assert_int_eq(t.rv, 0);
			raft_free(t.r);
			break;
		}
		ck_assert_msg(t.rv == -ENOMEM, "allocation %lu failed, the step returned %d", nth, t.rv);
		fx_tick(&t, 1000);
		ck_assert_int_eq(t.rv, -ENOMEM);
		ck_assert_uint_eq(t.u.n_actions, 0);
		raft_free(t.r);
	}
	ck_assert_uint_gt(nth, 1); /* op allocated something */
}

static void setup_follower(struct fx_node *t)
{
	static const raft_term tt[3] = {1, 1, 1};
	tn_init(t, "b", 1, ABC, 3, tt, 3, 3);
}

/* 40 entries, a membership change among them: the log, the changes, the
 * action array, the log writes and the held answer all grow. */
static void op_append(struct fx_node *t)
{
	struct raft_entry e[40];
	for (size_t k = 0; k < 40; k++)
		e[k] = (struct raft_entry){.index = 4 + k, .term = 1, .type = RAFT_ENTRY_COMMAND, .size = 10};
	for (size_t k = 10; k < 30; k++) {
		e[k].type = k % 2 ? RAFT_ENTRY_LEAVE : RAFT_ENTRY_JOIN;
		e[k].name = "d";
		e[k].url = "http://localhost:2";
	}
	struct raft_msg m = ae(1, 3, 1, 3, e, 40);
	fx_recv(t, "a", &m);
}

static void setup_leader(struct fx_node *t)
{
	static const raft_term tt[3] = {1, 1, 1};
	make_leader3(t, tt, 3, false);
}

static void op_propose(struct fx_node *t)
{
	struct raft_entry cmd[40];
	for (size_t i = 0; i < 40; i++)
		cmd[i] = (struct raft_entry){.type = RAFT_ENTRY_COMMAND, .size = 10};
	struct raft_event pe = {.type = RAFT_EV_PROPOSE};
	pe.propose.entries = cmd;
	pe.propose.n = 40;
	fx_step(t, &pe);
}

static void op_read(struct fx_node *t)
{
	struct raft_event ev = {.type = RAFT_EV_READ};
	ev.read.id = 1;
	fx_step(t, &ev);
}

static void setup_none(struct fx_node *t)
{
	memset(t, 0, sizeof(*t));
}

/* raft_new() restoring 40 entries */
static void op_new(struct fx_node *t)
{
	struct raft_entry e[40];
	for (size_t k = 0; k < 40; k++)
		e[k] = (struct raft_entry){.index = 1 + k, .term = 1, .type = RAFT_ENTRY_NOP, .size = 10};
	for (size_t k = 0; k < 20; k++) {
		e[k].type = RAFT_ENTRY_JOIN;
		e[k].name = k % 2 ? "b" : "a";
		e[k].url = "http://localhost:1";
	}
	struct raft_restore rs = {.term = 1, .n_entries = 40, .entries = e};
	struct raft_config cfg = fx_config("a");
	t->rv = raft_new(&cfg, &rs, 0, &t->r);
	if (t->rv == 0) {
		/* the tick in walk_alloc_failures() needs a core */
		fx_tick(t, 1);
		t->rv = 0;
	}
}

/* A follower whose log could not grow answered its AppendEntries with
 * success and returned 0: the entries were in its memory without an APPEND,
 * and the next write's DURABLE would have vouched for them. */
START_TEST(test_oom_follower_append)
{
	walk_alloc_failures(setup_follower, op_append);
}
END_TEST

START_TEST(test_oom_leader_propose_and_read)
{
	walk_alloc_failures(setup_leader, op_propose);
	walk_alloc_failures(setup_leader, op_read);
}
END_TEST

/* raft_new() said -EINVAL (a malformed log) when the log could not grow. */
START_TEST(test_oom_restore)
{
	unsigned long nth = 1;
	for (;; nth++) {
		struct fx_node t;
		setup_none(&t);
		raft_fail_alloc_nth(nth);
		op_new(&t);
		bool fired = raft_alloc_failed();
		raft_fail_alloc_nth(0);
		if (!fired) {
			ck_assert_int_eq(t.rv, 0);
			raft_free(t.r);
			break;
		}
		ck_assert_msg(t.rv == -ENOMEM, "allocation %lu failed, raft_new returned %d", nth, t.rv);
	}
	ck_assert_uint_gt(nth, 2);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("raft");
	TCase *tc = tcase_create("vectors");
	tcase_add_test(tc, test_vectors_crafted_sequence);
	tcase_add_test(tc, test_vectors_captured);
	suite_add_tcase(s, tc);
	tc = tcase_create("election");
	tcase_add_test(tc, test_empty_log_never_campaigns);
	tcase_add_test(tc, test_election_timeout_is_randomized_within_goraft_bounds);
	tcase_add_test(tc, test_candidate_persists_before_requesting_votes);
	tcase_add_test(tc, test_vote_rules);
	tcase_add_test(tc, test_even_cluster_needs_three_of_four);
	tcase_add_test(tc, test_higher_term_response_deposes_leader);
	tcase_add_test(tc, test_leader_never_answers_goraft_leader_at_same_term);
	suite_add_tcase(s, tc);
	tc = tcase_create("replication");
	tcase_add_test(tc, test_follower_truncates_only_on_conflict_and_answers_after_durable);
	tcase_add_test(tc, test_follower_mismatch_hint_and_failure_commit_cap);
	tcase_add_test(tc, test_commit_needs_majority);
	tcase_add_test(tc, test_old_term_entries_not_committed_by_counting);
	tcase_add_test(tc, test_backoff_uses_commit_and_index);
	tcase_add_test(tc, test_goraft_peer_one_in_flight_and_match_from_latest);
	tcase_add_test(tc, test_goraft_follower_keeps_its_entries_after_a_lost_request);
	tcase_add_test(tc, test_goraft_follower_keeps_its_entries_after_backoff);
	tcase_add_test(tc, test_flow_control_caps);
	tcase_add_test(tc, test_pipeline_only_whole_requests);
	tcase_add_test(tc, test_pipeline_check_after_compaction);
	suite_add_tcase(s, tc);
	tc = tcase_create("membership");
	tcase_add_test(tc, test_bootstrap_self_join_at_term_0_then_join);
	tcase_add_test(tc, test_membership_one_change_at_a_time);
	tcase_add_test(tc, test_leader_tells_the_removed_member);
	tcase_add_test(tc, test_removed_goraft_member_term_not_followed);
	tcase_add_test(tc, test_removed_node_stops);
	tcase_add_test(tc, test_snapshot_without_self_removes_a_member);
	tcase_add_test(tc, test_leader_tells_a_silent_removed_member);
	tcase_add_test(tc, test_voter_join_needs_live_quorum);
	tcase_add_test(tc, test_goraft_join_one_down);
	tcase_add_test(tc, test_silent_learners_keep_the_quorum);
	tcase_add_test(tc, test_leave_reverts_pending_join);
	suite_add_tcase(s, tc);
	tc = tcase_create("extensions");
	tcase_add_test(tc, test_pre_vote_does_not_disturb);
	tcase_add_test(tc, test_extensions_off_with_goraft_member);
	tcase_add_test(tc, test_check_quorum);
	tcase_add_test(tc, test_check_quorum_ignores_leaders_own_stall);
	tcase_add_test(tc, test_late_real_vote_does_not_count_for_pre_vote);
	tcase_add_test(tc, test_read_index);
	tcase_add_test(tc, test_read_index_for_a_follower);
	tcase_add_test(tc, test_goraft_peers_get_goraft_heartbeats);
	tcase_add_test(tc, test_transfer_picks_the_most_up_to_date_voter);
	tcase_add_test(tc, test_follower_read_through_the_leader);
	tcase_add_test(tc, test_leadership_transfer);
	tcase_add_test(tc, test_learner_catches_up_then_is_promoted);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	tcase_add_test(tc, test_terms_never_wrap);
	tcase_add_test(tc, test_vote_request_ignored_while_leader_heard);
	tcase_add_test(tc, test_transfer_vote_passes_stickiness);
	tcase_add_test(tc, test_snapshot_only_from_the_leader);
	tcase_add_test(tc, test_append_from_non_member_refused);
	tcase_add_test(tc, test_leader_follows_a_follower_log_end_down);
	tcase_add_test(tc, test_recovering_node_does_not_vote);
	tcase_add_test(tc, test_recovering_node_catches_up_past_what_it_acknowledged);
	tcase_add_test(tc, test_vote_for_a_non_member_that_may_be_one);
	suite_add_tcase(s, tc);
	tc = tcase_create("oom");
	tcase_add_test(tc, test_oom_follower_append);
	tcase_add_test(tc, test_oom_leader_propose_and_read);
	tcase_add_test(tc, test_oom_restore);
	suite_add_tcase(s, tc);
	tc = tcase_create("trace");
	tcase_add_test(tc, test_trace_three_node_election);
	tcase_add_test(tc, test_trace_refused_votes);
	tcase_add_test(tc, test_trace_bootstrap_join_and_snapshot);
	suite_add_tcase(s, tc);
	tc = tcase_create("snapshots");
	tcase_add_test(tc, test_snapshot_taken_compacts_and_feeds_a_slow_follower);
	tcase_add_test(tc, test_follower_installs_snapshot);
	tcase_add_test(tc, test_no_snapshot_with_goraft_member);
	tcase_add_test(tc, test_restore_from_snapshot);
	tcase_add_test(tc, test_restore_newer_term_forgets_older_vote);
	suite_add_tcase(s, tc);
	return s;
}
