/* tests/sim/sim.c — deterministic simulator for the Raft core.
 *
 * A cluster of raft cores (3, 5 or 7 members, more names for joins) in
 * virtual time, driven exactly as the daemon drives the core: events in,
 * actions out. Each node has a simulated disk (hard state and log) whose
 * writes complete after a random delay, in order; a crash loses every write
 * not yet completed. The network drops, duplicates, delays and reorders
 * messages and makes partitions, asymmetric ones included. The operator
 * bootstraps node 0 (goraft self-join at term 0), joins the others one at a
 * time, and later adds and removes members, and names that never answer
 * (ghosts: a /join for a closed port, as voters or learners) too.
 *
 * After every step it checks:
 *  - election safety: at most one leader per term;
 *  - log matching: two entries with the same index and term are the same
 *    entry and have the same predecessor term (checked on every append);
 *  - commit safety: no two nodes ever consider different entries committed
 *    at one index, and a node never commits past its log;
 *  - leader completeness: a new leader holds every entry committed so far;
 *  - state machine safety: no two nodes apply different entries at an index;
 *  - acknowledged proposals (applied on the leader that took them) are never
 *    lost: at the end every live member has applied them at their index;
 *  - a join answered before it committed (raft_change_held(), as the daemon
 *    answers a goraft joiner, which starts only then) commits with that
 *    very entry wherever its index commits.
 * Then a quiet, connected phase checks liveness: a leader is elected and a
 * new proposal commits and is applied on every member within a bound; in
 * mixed seeds a goraft joiner then joins while one voter is down.
 * --fault breaks one rule on purpose (commit, vote, read, fread, join: a join
 * held once appended); the checks must report a violation.
 *
 * Usage: sim [--seed S | --from S --count N] [--nodes 3|5|7] [--steps K]
 *            [--fault commit|vote|read|join|fread] [--expect-violation] [--hostile] [--wipes]
 *            [--follower-reads]
 *            [--trace] [-v]
 * --hostile: forged vote requests in every seed (else in a third of them).
 * --wipes: crashed nodes may restart with their disk lost, in every seed
 * (else in a third of them); such a node recovers (raft_restore.recovering).
 * --follower-reads: followers take reads too (ReadIndex through their
 * leader), checked like the leader's.
 * A failing seed prints itself, the command that replays it, and the tail of
 * its trace (re-run deterministically with tracing on). A trace holds the
 * simulator's own lines and, indented under "raft:", the cores' trace lines
 * (raft_config.trace), stamped with the virtual time.
 */
#include "src/raft/raft.h"
#include "tests/lib/core_fixture.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_NODES 14
#define N_GHOSTS 3
#define TICK_MS 10
#define NAME_LEN 16

/* ---- options and failure --------------------------------------------- */

struct opts {
	uint64_t from, count;
	int nodes; /* 0: chosen by the seed */
	int steps;
	enum raft_fault fault;
	bool expect_violation;
	bool hostile; /* every seed hostile (else a third of them) */
	bool wipes;   /* disks lost in every seed (else a third of them) */
	bool follower_reads; /* followers read too, through their leader */
	bool trace;
	bool verbose;
	const char *argv0;
};

static struct opts opt;

/* trace: a growable text buffer, only filled when tracing */
static char *trace_buf;
static size_t trace_len, trace_cap;
static bool tracing;
static uint64_t now_ms;

static void tr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tr(const char *fmt, ...)
{
	if (!tracing)
		return;
	char line[512];
	int n = snprintf(line, sizeof(line), "%8llu ", (unsigned long long)now_ms);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (trace_len + (size_t)n + 1 > trace_cap) {
		trace_cap = (trace_cap + (size_t)n + 1) * 2;
		trace_buf = realloc(trace_buf, trace_cap);
		if (!trace_buf)
			abort();
	}
	memcpy(trace_buf + trace_len, line, (size_t)n);
	trace_len += (size_t)n;
	trace_buf[trace_len] = '\0';
}

/* raft_config.trace: the core's lines join the trace, the time added here */
static void core_trace(void *data, const char *line)
{
	(void)data;
	tr("  raft: %s", line);
}

static char violation[512];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	if (violation[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(violation, sizeof(violation), fmt, ap);
	va_end(ap);
	tr("VIOLATION: %s", violation);
}

/* ---- deterministic PRNG ---------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(double p)
{
	return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0) < p;
}

/* ---- entries --------------------------------------------------------- */

struct sentry {
	raft_term term;
	enum raft_entry_type type;
	uint64_t id; /* unique per proposed command; 0 for nop/join/leave */
	uint32_t size;
	char name[NAME_LEN];
	/* in `committed` only: the term of the node that first saw it
	 * committed, which is at least the term of the leader that committed
	 * it */
	raft_term commit_term;
};

static bool sentry_eq(const struct sentry *a, const struct sentry *b)
{
	return a->term == b->term && a->type == b->type && a->id == b->id &&
	       strcmp(a->name, b->name) == 0;
}

static void sentry_str(const struct sentry *e, char *buf, size_t n)
{
	static const char *types[] = {"?", "nop", "join", "leave", "cmd", "learner"};
	snprintf(buf, n, "(t%llu %s %s%llu)", (unsigned long long)e->term,
		 types[e->type <= 5 ? e->type : 0], e->name, (unsigned long long)e->id);
}

/* A log holding entries (start, n]; entry i at e[i - start - 1]. */
struct slog {
	struct sentry *e;
	size_t start, n, cap;
};

static struct sentry *at(const struct slog *l, raft_index i)
{
	return &l->e[i - l->start - 1];
}

static void slog_set_len(struct slog *l, size_t n)
{
	size_t need = n - l->start;
	if (need > l->cap) {
		size_t cap = l->cap ? l->cap : 64;
		while (cap < need)
			cap *= 2;
		l->e = realloc(l->e, cap * sizeof(*l->e));
		if (!l->e)
			abort();
		l->cap = cap;
	}
	l->n = n;
}

static void slog_copy(struct slog *dst, const struct slog *src)
{
	dst->start = src->start;
	slog_set_len(dst, src->n);
	if (src->n > src->start)
		memcpy(dst->e, src->e, (src->n - src->start) * sizeof(*src->e));
}

/* Forget entries <= upto. */
static void slog_compact(struct slog *l, size_t upto)
{
	if (upto <= l->start)
		return;
	if (upto >= l->n) {
		l->start = l->n = upto;
		return;
	}
	memmove(l->e, at(l, upto + 1), (l->n - upto) * sizeof(*l->e));
	l->start = upto;
}

static void slog_reset(struct slog *l, size_t start)
{
	l->start = l->n = start;
}

/* global map (index, term) -> entry and predecessor term: log matching */
struct lm_slot {
	bool used;
	raft_index index;
	raft_term term, prev_term;
	struct sentry e;
};
static struct lm_slot *lm;
static size_t lm_cap, lm_used;

static size_t lm_hash(raft_index i, raft_term t)
{
	uint64_t h = i * 0x9e3779b97f4a7c15ULL ^ (t + 0x632be59bd9b4e019ULL) * 0xbf58476d1ce4e5b9ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct lm_slot *lm_lookup(raft_index i, raft_term t, bool *ret_new)
{
	if ((lm_used + 1) * 2 > lm_cap) {
		size_t ocap = lm_cap;
		struct lm_slot *old = lm;
		lm_cap = lm_cap ? lm_cap * 2 : 4096;
		lm = calloc(lm_cap, sizeof(*lm));
		if (!lm)
			abort();
		lm_used = 0;
		for (size_t k = 0; k < ocap; k++) {
			if (!old[k].used)
				continue;
			bool dummy;
			*lm_lookup(old[k].index, old[k].term, &dummy) = old[k];
		}
		free(old);
	}
	size_t k = lm_hash(i, t) & (lm_cap - 1);
	while (lm[k].used && !(lm[k].index == i && lm[k].term == t))
		k = (k + 1) & (lm_cap - 1);
	*ret_new = !lm[k].used;
	if (!lm[k].used) {
		lm[k].used = true;
		lm[k].index = i;
		lm[k].term = t;
		lm_used++;
	}
	return &lm[k];
}

/* committed and applied entries, by index (index i at [i - 1]) */
static struct slog committed, applied_global;
static size_t max_committed;
static raft_term max_leader_term; /* a model node's commit comes from a leader */

/* ---- nodes, disks, network ------------------------------------------- */

/* A snapshot: the state machine (entries 1..index) and the members. */
struct snap {
	raft_index index;
	raft_term term;
	struct sentry *state;
	size_t n_members;
	char members[MAX_NODES][NAME_LEN];
	bool learner[MAX_NODES];
};

static void snap_free(struct snap *s)
{
	free(s->state);
	memset(s, 0, sizeof(*s));
}

static void snap_copy(struct snap *dst, const struct snap *src)
{
	snap_free(dst);
	*dst = *src;
	dst->state = NULL;
	if (src->index) {
		dst->state = malloc(src->index * sizeof(*dst->state));
		if (!dst->state)
			abort();
		memcpy(dst->state, src->state, src->index * sizeof(*dst->state));
	}
}

enum op_kind { OP_HS, OP_TRUNC, OP_APPEND, OP_INSTALL };

struct op {
	enum op_kind kind;
	uint64_t seq, done_at;
	raft_term term;
	char vote[NAME_LEN];
	raft_index first; /* TRUNC: from */
	struct sentry *entries;
	size_t n;
	struct snap snap; /* INSTALL */
};

struct node {
	char name[NAME_LEN];
	bool started, alive, removed;
	bool leaving; /* the operator proposed its removal: never re-join it */
	bool ghost;   /* never starts: joined by the operator all the same */
	bool goraft; /* the leaders treat it as a goraft peer */
	/* A model of a goraft follower instead of a raft core (see
	 * goraft_recv): never campaigns, deletes everything after PrevLogIndex
	 * on every accepted AppendEntries, rejects PrevLogIndex below its
	 * commit index, applies one membership entry per request. */
	bool model;
	/* A goraft joiner serves nothing until its /join is answered
	 * (docs/goraft-protocol.md §7.2): it starts only then. The leader
	 * that took the join answers once raft_change_held() says so, or with
	 * a failure once the entry is gone or after 10 s (the joiner ignores
	 * the status, §7.3, and starts all the same). */
	bool awaiting, answered;
	int aw_leader;
	unsigned aw_inc;
	raft_index aw_index;
	raft_term aw_term;
	uint64_t aw_since;
	/* kept for the last check: a goraft joiner with one voter down */
	bool late;
	raft_index g_commit;
	unsigned incarnation;
	struct raft *r;
	/* disk: hard state, log, latest snapshot */
	raft_term d_term;
	char d_vote[NAME_LEN];
	struct slog disk;
	struct snap d_snap;
	/* lost its disk and not caught up yet (the daemon keeps this in a
	 * marker file, so that it survives a crash) */
	bool d_recovering;
	/* memory: the log as the core sees it, and the state machine (the
	 * entries applied, from index 1; `applied` is its length) */
	struct slog mem;
	struct slog sm;
	struct op *ops;
	size_t n_ops, ops_cap;
	/* a snapshot being taken in the background */
	bool taking;
	raft_index take_index;
	raft_term take_term;
	size_t take_n_members;
	char take_members[MAX_NODES][NAME_LEN];
	bool take_learner[MAX_NODES];
	uint64_t take_done_at;
	raft_index applied, checked_commit;
	enum raft_role role;
	raft_term role_term;
};

struct msg {
	uint64_t at;
	int from, to;
	struct raft_msg m;
	struct sentry *entries;
	struct snap snap; /* SNAPREC_REQ: the leader's snapshot */
};

static struct node nodes[MAX_NODES];
static int n_nodes;      /* names in the universe */
static int target_size;  /* members wanted */
static struct msg *net;
static size_t n_net, net_cap;
static bool link_up[MAX_NODES][MAX_NODES];
static uint64_t fifo_at[MAX_NODES][MAX_NODES]; /* in-order links to goraft models */
static double p_drop, p_dup;
static raft_index snapshot_threshold;
static bool mixed_cluster;
static unsigned max_delay;
static bool quiet;
static bool hostile; /* forged vote requests arrive from outside */
static bool wipes;   /* restarted nodes may have lost their disk */

/* leaders per term */
struct term_leader {
	raft_term term;
	int node;
};
static struct term_leader *leaders;
static size_t n_leaders, leaders_cap;

/* proposals and acknowledgements */
struct proposal {
	int node;
	unsigned incarnation;
	raft_index index;
	uint64_t id;
	bool acked;
};
static struct proposal *props;
static size_t n_props, props_cap;
static uint64_t next_cmd_id;
static size_t n_acked;
static raft_index max_acked_index;

/* ReadIndex requests: a read must see every write acknowledged before it
 * was issued (linearizability) */
struct pread {
	int node;
	unsigned incarnation;
	uint64_t id;
	raft_index need;
	bool follower; /* served through its leader's read index */
};
static struct pread *preads;
static size_t n_preads, preads_cap;
static uint64_t next_read_id;

/* totals over the run, for the summary line */
static struct {
	uint64_t seeds, steps, leaders, commits, crashes, snapshots, installs, reads, transfers,
		learners, goraft_seeds, goraft_acks, ghost_joins, ghost_refused, ghost_leaves, forged, transfers_done,
		wipes, recovered, forged_deposed, deaf_joins, early_answers, late_joins, joins_reverted,
		follower_reads;
} tot;

/* the latest transfer asked for: its target, the leader's term then */
static int transfer_to = -1;
static raft_term transfer_term;

static int node_by_name(const char *name)
{
	for (int i = 0; i < n_nodes; i++)
		if (strcmp(nodes[i].name, name) == 0)
			return i;
	return -1;
}

static const char *msg_type_str(enum raft_msg_type t)
{
	switch (t) {
	case RAFT_MSG_AE_REQ:
		return "AE";
	case RAFT_MSG_AE_RESP:
		return "AE_RESP";
	case RAFT_MSG_RV_REQ:
		return "RV";
	case RAFT_MSG_RV_RESP:
		return "RV_RESP";
	case RAFT_MSG_READ_INDEX:
		return "READ_INDEX";
	case RAFT_MSG_READ_INDEX_RESP:
		return "READ_INDEX_RESP";
	default:
		return "SNAP*";
	}
	return "?";
}

static void msg_str(const struct raft_msg *m, char *buf, size_t n)
{
	switch (m->type) {
	case RAFT_MSG_AE_REQ:
		snprintf(buf, n, "AE#%llu term %llu prev %llu/%llu commit %llu entries %zu",
			 (unsigned long long)m->req_id, (unsigned long long)m->term,
			 (unsigned long long)m->ae.prev_index, (unsigned long long)m->ae.prev_term,
			 (unsigned long long)m->ae.commit, m->ae.n_entries);
		break;
	case RAFT_MSG_AE_RESP:
		snprintf(buf, n, "AE_RESP#%llu term %llu index %llu commit %llu %s",
			 (unsigned long long)m->req_id, (unsigned long long)m->term,
			 (unsigned long long)m->ae_resp.index, (unsigned long long)m->ae_resp.commit,
			 m->ae_resp.success ? "ok" : "FAIL");
		break;
	case RAFT_MSG_RV_REQ:
		snprintf(buf, n, "%s#%llu term %llu last %llu/%llu", m->rv.pre_vote ? "PRE_RV" : "RV", (unsigned long long)m->req_id,
			 (unsigned long long)m->term, (unsigned long long)m->rv.last_index,
			 (unsigned long long)m->rv.last_term);
		break;
	case RAFT_MSG_RV_RESP:
		snprintf(buf, n, "%s#%llu term %llu %s", m->rv_resp.pre_vote ? "PRE_RV_RESP" : "RV_RESP", (unsigned long long)m->req_id,
			 (unsigned long long)m->term, m->rv_resp.granted ? "granted" : "denied");
		break;
	case RAFT_MSG_SNAP_REQ:
		snprintf(buf, n, "SNAP#%llu last %llu/%llu", (unsigned long long)m->req_id,
			 (unsigned long long)m->snap.last_index, (unsigned long long)m->snap.last_term);
		break;
	case RAFT_MSG_SNAP_RESP:
		snprintf(buf, n, "SNAP_RESP#%llu %s", (unsigned long long)m->req_id,
			 m->snap_resp.success ? "send it" : "have it");
		break;
	case RAFT_MSG_SNAPREC_REQ:
		snprintf(buf, n, "SNAPREC#%llu last %llu/%llu peers %zu", (unsigned long long)m->req_id,
			 (unsigned long long)m->snaprec.last_index,
			 (unsigned long long)m->snaprec.last_term, m->snaprec.n_peers);
		break;
	case RAFT_MSG_SNAPREC_RESP:
		snprintf(buf, n, "SNAPREC_RESP#%llu term %llu commit %llu %s",
			 (unsigned long long)m->req_id, (unsigned long long)m->term,
			 (unsigned long long)m->snaprec_resp.commit, m->snaprec_resp.success ? "ok" : "FAIL");
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		snprintf(buf, n, "READ_INDEX_RESP#%llu term %llu index %llu %s", (unsigned long long)m->req_id,
			 (unsigned long long)m->term, (unsigned long long)m->read_index_resp.index,
			 m->read_index_resp.success ? "ok" : "FAIL");
		break;
	default:
		snprintf(buf, n, "%s#%llu term %llu", msg_type_str(m->type), (unsigned long long)m->req_id,
			 (unsigned long long)m->term);
	}
}

static void net_push(const struct msg *m)
{
	if (n_net == net_cap) {
		net_cap = net_cap ? net_cap * 2 : 256;
		net = realloc(net, net_cap * sizeof(*net));
		if (!net)
			abort();
	}
	net[n_net++] = *m;
}

static struct sentry *dup_entries(const struct sentry *e, size_t n)
{
	if (n == 0)
		return NULL;
	struct sentry *c = malloc(n * sizeof(*c));
	if (!c)
		abort();
	memcpy(c, e, n * sizeof(*c));
	return c;
}

static void node_push_op(struct node *nd, const struct op *o)
{
	if (nd->n_ops == nd->ops_cap) {
		nd->ops_cap = nd->ops_cap ? nd->ops_cap * 2 : 16;
		nd->ops = realloc(nd->ops, nd->ops_cap * sizeof(*nd->ops));
		if (!nd->ops)
			abort();
	}
	nd->ops[nd->n_ops++] = *o;
}

static uint64_t disk_latency(void)
{
	/* writes complete in order; the last op's completion bounds the next */
	return 1 + rnd_below(chance(0.05) ? 60 : 8);
}

static uint64_t op_done_at(struct node *nd)
{
	uint64_t t = now_ms + disk_latency();
	if (nd->n_ops > 0 && nd->ops[nd->n_ops - 1].done_at > t)
		t = nd->ops[nd->n_ops - 1].done_at;
	return t;
}

/* ---- driving a core ------------------------------------------------- */

static void step_node(int id, struct raft_event *ev, const struct sentry *ev_entries);

static void check_append(struct node *nd, raft_index first, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		raft_index i = first + k;
		const struct sentry *e = at(&nd->mem, i);
		raft_term prev_term = 0;
		if (i - 1 > nd->mem.start)
			prev_term = at(&nd->mem, i - 1)->term;
		else if (i > 1 && !raft_entry_term(nd->r, i - 1, &prev_term))
			fail("%s: appended %llu without its predecessor", nd->name, (unsigned long long)i);
		bool fresh;
		struct lm_slot *s = lm_lookup(i, e->term, &fresh);
		if (fresh) {
			s->e = *e;
			s->prev_term = prev_term;
		} else if (!sentry_eq(&s->e, e) || s->prev_term != prev_term) {
			char a[96], b[96];
			sentry_str(&s->e, a, sizeof(a));
			sentry_str(e, b, sizeof(b));
			fail("log matching: %s has %s at %llu (prev term %llu), elsewhere %s (prev term %llu)",
			     nd->name, b, (unsigned long long)i, (unsigned long long)prev_term, a,
			     (unsigned long long)s->prev_term);
		}
	}
}

/* State machine safety: nobody applies a different entry at index i. */
static void check_applied(const struct node *nd, raft_index i, const struct sentry *e)
{
	if (applied_global.n < i) {
		size_t old = applied_global.n;
		slog_set_len(&applied_global, i);
		memset(applied_global.e + old, 0, (i - old) * sizeof(*e));
	}
	struct sentry *g = &applied_global.e[i - 1];
	if (g->type == 0) {
		*g = *e;
	} else if (!sentry_eq(g, e)) {
		char a[96], b[96];
		sentry_str(g, a, sizeof(a));
		sentry_str(e, b, sizeof(b));
		fail("state machine safety: %s applies %s at %llu, another node applied %s", nd->name,
		     b, (unsigned long long)i, a);
	}
}

static void do_apply(struct node *nd, raft_index first, raft_index last)
{
	if (first != nd->applied + 1)
		fail("%s applies from %llu after %llu", nd->name, (unsigned long long)first,
		     (unsigned long long)nd->applied);
	if (last > nd->mem.n || last > nd->disk.n || first <= nd->mem.start) {
		fail("%s applies %llu..%llu beyond its log (%zu..%zu) or disk (%zu)", nd->name,
		     (unsigned long long)first, (unsigned long long)last, nd->mem.start, nd->mem.n,
		     nd->disk.n);
		return;
	}
	for (raft_index i = first; i <= last; i++) {
		const struct sentry *e = at(&nd->mem, i);
		slog_set_len(&nd->sm, i);
		*at(&nd->sm, i) = *e;
		check_applied(nd, i, e);
		int self = (int)(nd - nodes);
		for (size_t k = 0; k < n_props; k++) {
			struct proposal *p = &props[k];
			if (!p->acked && p->node == self && p->incarnation == nd->incarnation &&
			    p->index == i && p->id == e->id) {
				p->acked = true;
				n_acked++;
				if (i > max_acked_index)
					max_acked_index = i;
				tr("%s acks proposal %llu at %llu", nd->name, (unsigned long long)p->id,
				   (unsigned long long)i);
			}
		}
	}
	nd->applied = last;
}

/* the snapshot carried by the SnapshotRecoveryRequest being delivered */
static const struct snap *ev_snap;

static void handle_update(int id, const struct raft_update *u, const struct raft_event *ev,
			  const struct sentry *ev_entries)
{
	struct node *nd = &nodes[id];
	for (size_t k = 0; k < u->n_actions; k++) {
		const struct raft_action *a = &u->actions[k];
		struct op o = {0};
		switch (a->type) {
		case RAFT_ACT_PERSIST:
			tr("%s persist term %llu vote '%s' (seq %llu)", nd->name,
			   (unsigned long long)a->persist.term, a->persist.vote,
			   (unsigned long long)a->persist.seq);
			o.kind = OP_HS;
			o.seq = a->persist.seq;
			o.term = a->persist.term;
			snprintf(o.vote, sizeof(o.vote), "%s", a->persist.vote);
			o.done_at = op_done_at(nd);
			node_push_op(nd, &o);
			break;
		case RAFT_ACT_TRUNCATE:
			tr("%s truncate from %llu (seq %llu)", nd->name,
			   (unsigned long long)a->truncate.from, (unsigned long long)a->truncate.seq);
			if (a->truncate.from <= nd->mem.start || a->truncate.from > nd->mem.n + 1)
				fail("%s truncates from %llu with %zu entries", nd->name,
				     (unsigned long long)a->truncate.from, nd->mem.n);
			else
				nd->mem.n = a->truncate.from - 1;
			o.kind = OP_TRUNC;
			o.seq = a->truncate.seq;
			o.first = a->truncate.from;
			o.done_at = op_done_at(nd);
			node_push_op(nd, &o);
			break;
		case RAFT_ACT_APPEND: {
			raft_index first = a->append.first;
			if (first != nd->mem.n + 1) {
				fail("%s appends at %llu with %zu entries", nd->name,
				     (unsigned long long)first, nd->mem.n);
				break;
			}
			slog_set_len(&nd->mem, first - 1 + a->append.n);
			for (size_t j = 0; j < a->append.n; j++) {
				struct sentry *e = at(&nd->mem, first + j);
				struct raft_entry re;
				if (!raft_get_entry(nd->r, first + j, &re)) {
					fail("%s: core lacks appended entry %llu", nd->name,
					     (unsigned long long)(first + j));
					return;
				}
				if (a->append.src == RAFT_SRC_EVENT)
					*e = ev_entries[a->append.event_offset + j];
				else
					memset(e, 0, sizeof(*e));
				e->term = re.term;
				e->type = re.type;
				if (re.name)
					snprintf(e->name, sizeof(e->name), "%s", re.name);
				if (a->append.src == RAFT_SRC_CORE && re.type == RAFT_ENTRY_LEAVE) {
					tot.joins_reverted++; /* maybe_revert_join() */
					tr("%s takes the join of %s back at %llu", nd->name, e->name,
					   (unsigned long long)(first + j));
				}
			}
			tr("%s append %llu..%llu (seq %llu)", nd->name, (unsigned long long)first,
			   (unsigned long long)(first + a->append.n - 1), (unsigned long long)a->append.seq);
			check_append(nd, first, a->append.n);
			o.kind = OP_APPEND;
			o.seq = a->append.seq;
			o.first = first;
			o.n = a->append.n;
			o.entries = dup_entries(at(&nd->mem, first), a->append.n);
			o.done_at = op_done_at(nd);
			node_push_op(nd, &o);
			break;
		}
		case RAFT_ACT_SEND: {
			int to = node_by_name(a->send.to);
			char s[160];
			msg_str(&a->send.msg, s, sizeof(s));
			if (to < 0) {
				fail("%s sends to unknown '%s'", nd->name, a->send.to);
				break;
			}
			struct msg m = {.from = id, .to = to, .m = a->send.msg};
			if (m.m.type == RAFT_MSG_AE_REQ) {
				raft_index lo = m.m.ae.prev_index + 1;
				if (m.m.ae.prev_index + m.m.ae.n_entries > nd->mem.n ||
				    (m.m.ae.n_entries > 0 && lo <= nd->mem.start)) {
					fail("%s sends entries outside its log", nd->name);
					break;
				}
				m.entries = dup_entries(at(&nd->mem, lo), m.m.ae.n_entries);
			}
			if (m.m.type == RAFT_MSG_SNAPREC_REQ) {
				/* the state at last_index is the state machine's prefix */
				raft_index x = m.m.snaprec.last_index;
				if (x > nd->sm.n || m.m.snaprec.n_peers > MAX_NODES) {
					fail("%s sends a snapshot at %llu beyond its state %zu", nd->name,
					     (unsigned long long)x, nd->sm.n);
					break;
				}
				m.snap.index = x;
				m.snap.term = m.m.snaprec.last_term;
				m.snap.state = dup_entries(nd->sm.e, x);
				m.snap.n_members = m.m.snaprec.n_peers;
				for (size_t j = 0; j < m.snap.n_members; j++) {
					snprintf(m.snap.members[j], NAME_LEN, "%s", m.m.snaprec.peers[j].name);
					m.snap.learner[j] = m.m.snaprec.peers[j].learner;
				}
				m.m.snaprec.peers = NULL;
			}
			if (!quiet && (!link_up[id][to] || chance(p_drop))) {
				tr("%s -> %s %s: dropped", nd->name, nodes[to].name, s);
				free(m.entries);
				snap_free(&m.snap);
				break;
			}
			tr("%s -> %s %s", nd->name, nodes[to].name, s);
			m.at = now_ms + 1 + rnd_below(quiet ? 5 : max_delay);
			if (nodes[to].model) {
				/* To a goraft follower: HTTP over TCP, in order and
				 * never duplicated. goraft itself is unsafe otherwise:
				 * a stale AppendEntries arriving after a newer one
				 * deletes what the newer one delivered
				 * (docs/goraft-protocol.md §6.2 step 3); the
				 * simulator found that at once. */
				if (m.at < fifo_at[id][to])
					m.at = fifo_at[id][to];
				fifo_at[id][to] = m.at;
				net_push(&m);
				break;
			}
			if (!quiet && chance(0.01))
				m.at += rnd_below(400); /* a straggler: reordering */
			if (!quiet && chance(p_dup)) {
				struct msg d = m;
				d.entries = dup_entries(m.entries, m.m.type == RAFT_MSG_AE_REQ ? m.m.ae.n_entries : 0);
				memset(&d.snap, 0, sizeof(d.snap));
				snap_copy(&d.snap, &m.snap);
				d.at = now_ms + 1 + rnd_below(max_delay * 4 + 1);
				net_push(&d);
			}
			net_push(&m);
			break;
		}
		case RAFT_ACT_APPLY:
			tr("%s apply %llu..%llu", nd->name, (unsigned long long)a->apply.first,
			   (unsigned long long)a->apply.last);
			do_apply(nd, a->apply.first, a->apply.last);
			break;
		case RAFT_ACT_ROLE:
			if (tracing) {
				char mem[128] = "";
				for (size_t m = 0; m < raft_n_members(nd->r); m++) {
					size_t l = strlen(mem);
					snprintf(mem + l, sizeof(mem) - l, " %s", raft_member_name(nd->r, m));
				}
				tr("%s is %s, term %llu, leader '%s', members:%s", nd->name,
				   raft_role_name(a->role.role), (unsigned long long)a->role.term,
				   a->role.leader, mem);
			}
			break;
		case RAFT_ACT_REFUSED:
			tr("%s refused %s from %s at term %llu (reason %d)", nd->name,
			   msg_type_str(a->refused.msg_type), a->refused.from,
			   (unsigned long long)a->refused.term, (int)a->refused.why);
			break;
		case RAFT_ACT_REMOVED:
			tr("%s removed: shutting down", nd->name);
			nd->removed = true;
			break;
		case RAFT_ACT_READ: {
			size_t q = 0;
			while (q < n_preads && !(preads[q].id == a->read.id && preads[q].node == id))
				q++;
			if (q == n_preads) {
				fail("%s answers unknown read %llu", nd->name, (unsigned long long)a->read.id);
				break;
			}
			tr("%s read %llu %s at %llu (needs >= %llu)", nd->name,
			   (unsigned long long)a->read.id, a->read.index ? "ready" : "failed",
			   (unsigned long long)a->read.index, (unsigned long long)preads[q].need);
			if (a->read.index && a->read.index < preads[q].need)
				fail("linearizability: %s serves read %llu at %llu, but index %llu was acknowledged before it was issued",
				     nd->name, (unsigned long long)a->read.id,
				     (unsigned long long)a->read.index, (unsigned long long)preads[q].need);
			if (a->read.index) {
				tot.reads++;
				tot.follower_reads += preads[q].follower;
			}
			preads[q] = preads[--n_preads];
			break;
		}
		case RAFT_ACT_TAKE_SNAPSHOT:
			tot.snapshots++;
			tr("%s takes a snapshot at %llu (in the background)", nd->name,
			   (unsigned long long)a->take_snapshot.index);
			if (nd->taking || a->take_snapshot.index != nd->applied) {
				fail("%s: snapshot at %llu with %llu applied%s", nd->name,
				     (unsigned long long)a->take_snapshot.index,
				     (unsigned long long)nd->applied, nd->taking ? ", one running" : "");
				break;
			}
			nd->taking = true;
			nd->take_index = a->take_snapshot.index;
			nd->take_term = a->take_snapshot.term;
			nd->take_n_members = a->take_snapshot.n_members;
			for (size_t j = 0; j < a->take_snapshot.n_members && j < MAX_NODES; j++) {
				snprintf(nd->take_members[j], NAME_LEN, "%s", a->take_snapshot.members[j].name);
				nd->take_learner[j] = a->take_snapshot.members[j].learner;
			}
			nd->take_done_at = now_ms + 5 + rnd_below(100);
			break;
		case RAFT_ACT_COMPACT:
			tr("%s compacts up to %llu", nd->name, (unsigned long long)a->compact.upto);
			if (a->compact.upto > nd->d_snap.index || a->compact.upto > nd->disk.n) {
				fail("%s compacts %llu beyond its durable snapshot %llu / disk %zu", nd->name,
				     (unsigned long long)a->compact.upto,
				     (unsigned long long)nd->d_snap.index, nd->disk.n);
				break;
			}
			slog_compact(&nd->mem, a->compact.upto);
			slog_compact(&nd->disk, a->compact.upto);
			break;
		case RAFT_ACT_INSTALL: {
			raft_index x = a->install.index;
			tot.installs++;
			tr("%s installs the snapshot at %llu (seq %llu)", nd->name, (unsigned long long)x,
			   (unsigned long long)a->install.seq);
			if (!ev_snap || ev_snap->index != x) {
				fail("%s: install without a snapshot", nd->name);
				break;
			}
			/* state machine safety: the state must agree with every
			 * entry any node applied at those indexes */
			for (raft_index i = 1; i <= x; i++)
				check_applied(nd, i, &ev_snap->state[i - 1]);
			nd->sm.start = 0;
			slog_set_len(&nd->sm, x);
			memcpy(nd->sm.e, ev_snap->state, x * sizeof(*nd->sm.e));
			nd->applied = x;
			slog_reset(&nd->mem, x);
			nd->taking = false; /* the contract: abandon an older snapshot */
			o.kind = OP_INSTALL;
			o.seq = a->install.seq;
			snap_copy(&o.snap, ev_snap);
			o.done_at = op_done_at(nd);
			node_push_op(nd, &o);
			break;
		}
		}
	}
	(void)ev;
}

static void goraft_recv(int id, const struct raft_event *ev, const struct sentry *ev_entries);

static void step_node(int id, struct raft_event *ev, const struct sentry *ev_entries)
{
	struct node *nd = &nodes[id];
	if (!nd->alive)
		return;
	if (nd->model) {
		if (ev->type == RAFT_EV_RECV)
			goraft_recv(id, ev, ev_entries);
		return;
	}
	struct raft_update u;
	ev->now = now_ms;
	int rv = raft_step(nd->r, ev, &u);
	if (rv == -ENOMEM)
		fail("%s: out of memory", nd->name);
	handle_update(id, &u, ev, ev_entries);
	if (nd->d_recovering && nd->r && !raft_recovering(nd->r)) {
		tr("%s caught up after losing its disk: votes again", nd->name);
		nd->d_recovering = false;
		tot.recovered++;
	}
}

/* ---- goraft follower model ------------------------------------------ */

static void goraft_reply(int id, int to, const struct raft_msg *m)
{
	char s[160];
	msg_str(m, s, sizeof(s));
	if (!quiet && (!link_up[id][to] || chance(p_drop))) {
		tr("%s -> %s %s: dropped", nodes[id].name, nodes[to].name, s);
		return;
	}
	tr("%s -> %s %s", nodes[id].name, nodes[to].name, s);
	struct msg out = {.from = id, .to = to, .m = *m};
	out.at = now_ms + 1 + rnd_below(quiet ? 5 : max_delay);
	net_push(&out);
}

/* goraft server.go processAppendEntriesRequest and processRequestVoteRequest
 * (docs/goraft-protocol.md §6.2, §6.5). Writes are synchronous (goraft fsyncs
 * before it answers), so memory and disk are the same. One deviation: the term
 * and vote are kept across restarts (goraft forgets the vote and takes the
 * last entry's term), so that the checkers judge the raftd leaders, not
 * goraft's known double votes. */
static void goraft_recv(int id, const struct raft_event *ev, const struct sentry *ev_entries)
{
	struct node *nd = &nodes[id];
	const struct raft_msg *q = &ev->recv.msg;
	int from = node_by_name(ev->recv.from);
	if (from < 0)
		return;
	struct raft_msg m = {.req_id = q->req_id};
	switch (q->type) {
	case RAFT_MSG_AE_REQ: {
		m.type = RAFT_MSG_AE_RESP;
		if (q->term < nd->d_term) {
			m.term = nd->d_term;
			m.ae_resp.index = nd->mem.n;
			m.ae_resp.commit = nd->g_commit;
			goraft_reply(id, from, &m);
			return;
		}
		if (q->term > nd->d_term) {
			nd->d_term = q->term;
			nd->d_vote[0] = '\0';
		}
		m.term = nd->d_term;
		raft_index prev = q->ae.prev_index;
		bool ok = !(prev < nd->g_commit) && prev <= nd->mem.n &&
			  !(prev > 0 && at(&nd->mem, prev)->term != q->ae.prev_term);
		if (ok) {
			/* docs/goraft-protocol.md §10.1.8: a leader must never
			 * make a goraft follower drop an entry that it holds
			 * too (counted towards a commit, it would be gone from
			 * a majority). Checked while the sender still leads
			 * the request's term: its log has only grown since it
			 * sent it, with entries of that term the follower
			 * cannot hold yet. */
			const struct node *ld = &nodes[from];
			if (ld->alive && ld->r && raft_role(ld->r) == RAFT_LEADER &&
			    raft_current_term(ld->r) == q->term) {
				for (raft_index i = prev + q->ae.n_entries + 1;
				     i <= nd->mem.n && i <= ld->mem.n; i++) {
					if (i > ld->mem.start && sentry_eq(at(&nd->mem, i), at(&ld->mem, i))) {
						fail("goraft follower %s drops entry %llu that its leader %s holds "
						     "(PrevLogIndex %llu, %zu entries)",
						     nd->name, (unsigned long long)i, ld->name,
						     (unsigned long long)prev, q->ae.n_entries);
						break;
					}
				}
			}
			/* always delete everything after PrevLogIndex */
			raft_index first_new = prev + 1;
			nd->mem.n = prev;
			slog_set_len(&nd->mem, prev + q->ae.n_entries);
			for (size_t k = 0; k < q->ae.n_entries; k++)
				*at(&nd->mem, first_new + k) = ev_entries[k];
			slog_copy(&nd->disk, &nd->mem);
			check_append(nd, first_new, q->ae.n_entries);
			/* setCommitIndex: clamp, then apply with the join barrier */
			raft_index c = q->ae.commit < nd->mem.n ? q->ae.commit : nd->mem.n;
			while (nd->g_commit < c) {
				raft_index i = ++nd->g_commit;
				do_apply(nd, i, i);
				enum raft_entry_type t = at(&nd->mem, i)->type;
				if (t == RAFT_ENTRY_JOIN || t == RAFT_ENTRY_LEAVE)
					break;
			}
		}
		m.ae_resp.success = ok;
		tot.goraft_acks += ok;
		m.ae_resp.index = nd->mem.n;
		m.ae_resp.commit = nd->g_commit;
		goraft_reply(id, from, &m);
		return;
	}
	case RAFT_MSG_RV_REQ: {
		m.type = RAFT_MSG_RV_RESP;
		if (q->rv.pre_vote) {
			fail("a pre-vote was sent to goraft node %s", nd->name);
			return;
		}
		if (q->term > nd->d_term) {
			nd->d_term = q->term;
			nd->d_vote[0] = '\0';
		}
		m.term = nd->d_term;
		raft_term lt = nd->mem.n > nd->mem.start ? at(&nd->mem, nd->mem.n)->term : 0;
		bool grant = q->term == nd->d_term &&
			     (!nd->d_vote[0] || !strcmp(nd->d_vote, ev->recv.from)) &&
			     !(nd->mem.n > q->rv.last_index || lt > q->rv.last_term);
		if (grant)
			snprintf(nd->d_vote, sizeof(nd->d_vote), "%s", ev->recv.from);
		m.rv_resp.granted = grant;
		goraft_reply(id, from, &m);
		return;
	}
	case RAFT_MSG_AE_RESP:
	case RAFT_MSG_RV_RESP:
		return; /* it never asks anything */
	default:
		fail("raftd-only message %s sent to goraft node %s", msg_type_str(q->type), nd->name);
		return;
	}
}

static void start_node(int id)
{
	struct node *nd = &nodes[id];
	if (nd->model) {
		/* goraft Init: the log is read back, the commit index restarts
		 * at conf's lower bound (0 here), the state machine is empty */
		nd->started = nd->alive = true;
		nd->incarnation++;
		slog_copy(&nd->mem, &nd->disk);
		nd->sm.start = 0;
		nd->sm.n = 0;
		nd->applied = 0;
		nd->g_commit = 0;
		nd->checked_commit = 0;
		tr("%s starts (goraft model, incarnation %u): term %llu log %zu", nd->name,
		   nd->incarnation, (unsigned long long)nd->d_term, nd->disk.n);
		return;
	}
	/* the tests' defaults (tests/lib/core_fixture.h), then what this seed
	 * draws: a seed of its own, so that nodes' timeouts differ */
	struct raft_config cfg = fx_config(nd->name);
	cfg.seed = rnd();
	cfg.fault = opt.fault;
	cfg.max_entries = 8 + (unsigned)rnd_below(57);
	cfg.max_inflight = 1 + (unsigned)rnd_below(8);
	cfg.snapshot_threshold = snapshot_threshold;
	cfg.snapshot_trailing = rnd_below(30);
	cfg.trace = tracing ? core_trace : NULL;
	cfg.join_grace_ms = 1000 + (unsigned)rnd_below(2000);
	size_t n = nd->disk.n - nd->disk.start;
	struct raft_entry *re = calloc(n + 1, sizeof(*re));
	if (!re)
		abort();
	for (size_t k = 0; k < n; k++) {
		const struct sentry *e = at(&nd->disk, nd->disk.start + 1 + k);
		re[k].index = nd->disk.start + 1 + k;
		re[k].term = e->term;
		re[k].type = e->type;
		re[k].size = e->size;
		re[k].name = e->name;
		re[k].url = "http://sim:1";
	}
	struct raft_member_info mi[MAX_NODES];
	for (size_t k = 0; k < nd->d_snap.n_members; k++) {
		mi[k].name = nd->d_snap.members[k];
		mi[k].url = "http://sim:1";
		mi[k].learner = nd->d_snap.learner[k];
	}
	struct raft_restore rs = {.term = nd->d_term, .vote = nd->d_vote,
				  .snap_index = nd->d_snap.index, .snap_term = nd->d_snap.term,
				  .n_snap_members = nd->d_snap.n_members, .snap_members = mi,
				  .n_entries = n, .entries = re, .recovering = nd->d_recovering};
	int rv = raft_new(&cfg, &rs, now_ms, &nd->r);
	free(re);
	if (rv) {
		fail("%s: raft_new failed: %d", nd->name, rv);
		return;
	}
	nd->started = nd->alive = true;
	nd->incarnation++;
	slog_copy(&nd->mem, &nd->disk);
	slog_compact(&nd->mem, nd->d_snap.index);
	/* the state machine restarts from the snapshot */
	nd->sm.start = 0;
	slog_set_len(&nd->sm, nd->d_snap.index);
	if (nd->d_snap.index)
		memcpy(nd->sm.e, nd->d_snap.state, nd->d_snap.index * sizeof(*nd->sm.e));
	nd->applied = nd->d_snap.index;
	nd->taking = false;
	nd->checked_commit = 0;
	nd->role = RAFT_FOLLOWER;
	tr("%s starts (incarnation %u): term %llu vote '%s' log %zu", nd->name, nd->incarnation,
	   (unsigned long long)nd->d_term, nd->d_vote, nd->disk.n);
	for (int j = 0; j < n_nodes; j++) {
		if (j == id || !nodes[j].goraft)
			continue;
		struct raft_event ev = {.type = RAFT_EV_PEER_KIND};
		ev.peer_kind.name = nodes[j].name;
		ev.peer_kind.goraft = true;
		step_node(id, &ev, NULL);
	}
}

static void crash_node(int id)
{
	struct node *nd = &nodes[id];
	tot.crashes++;
	for (size_t k = 0; k < n_preads;) {
		if (preads[k].node == id)
			preads[k] = preads[--n_preads]; /* its reads die with it */
		else
			k++;
	}
	tr("%s CRASH: %zu disk writes lost%s", nd->name, nd->n_ops,
	   nd->taking ? ", and the snapshot being taken" : "");
	for (size_t k = 0; k < nd->n_ops; k++) {
		free(nd->ops[k].entries);
		snap_free(&nd->ops[k].snap);
	}
	nd->n_ops = 0;
	nd->taking = false;
	raft_free(nd->r);
	nd->r = NULL;
	nd->alive = false;
}

static void complete_disk(int id)
{
	struct node *nd = &nodes[id];
	while (nd->alive && nd->n_ops > 0 && nd->ops[0].done_at <= now_ms) {
		struct op o = nd->ops[0];
		memmove(nd->ops, nd->ops + 1, (nd->n_ops - 1) * sizeof(*nd->ops));
		nd->n_ops--;
		struct raft_event ev = {0};
		switch (o.kind) {
		case OP_HS:
			nd->d_term = o.term;
			snprintf(nd->d_vote, sizeof(nd->d_vote), "%s", o.vote);
			ev.type = RAFT_EV_PERSISTED;
			ev.persisted.seq = o.seq;
			break;
		case OP_TRUNC:
			if (o.first <= nd->disk.start)
				fail("%s: disk truncate at %llu below its start %zu", nd->name,
				     (unsigned long long)o.first, nd->disk.start);
			else if (o.first - 1 < nd->disk.n)
				nd->disk.n = o.first - 1;
			ev.type = RAFT_EV_DURABLE;
			ev.durable.seq = o.seq;
			break;
		case OP_APPEND:
			if (o.first > nd->disk.n + 1 || o.first <= nd->disk.start) {
				fail("%s: disk append at %llu with %zu..%zu on disk", nd->name,
				     (unsigned long long)o.first, nd->disk.start, nd->disk.n);
			} else {
				slog_set_len(&nd->disk, o.first - 1 + o.n);
				memcpy(at(&nd->disk, o.first), o.entries, o.n * sizeof(*o.entries));
			}
			free(o.entries);
			ev.type = RAFT_EV_DURABLE;
			ev.durable.seq = o.seq;
			break;
		case OP_INSTALL:
			snap_free(&nd->d_snap);
			nd->d_snap = o.snap; /* moved */
			slog_reset(&nd->disk, nd->d_snap.index);
			ev.type = RAFT_EV_DURABLE;
			ev.durable.seq = o.seq;
			break;
		}
		step_node(id, &ev, NULL);
	}
	if (nd->alive && nd->taking && nd->take_done_at <= now_ms) {
		/* the background snapshot is durable: state = applied prefix */
		nd->taking = false;
		snap_free(&nd->d_snap);
		nd->d_snap.index = nd->take_index;
		nd->d_snap.term = nd->take_term;
		nd->d_snap.state = dup_entries(nd->sm.e, nd->take_index);
		nd->d_snap.n_members = nd->take_n_members;
		memcpy(nd->d_snap.members, nd->take_members, sizeof(nd->take_members));
		memcpy(nd->d_snap.learner, nd->take_learner, sizeof(nd->take_learner));
		struct raft_event ev = {.type = RAFT_EV_SNAPSHOT_TAKEN};
		ev.snapshot_taken.index = nd->take_index;
		tr("%s snapshot at %llu durable", nd->name, (unsigned long long)nd->take_index);
		step_node(id, &ev, NULL);
	}
}

static void deliver_due(void)
{
	/* take the due messages out, then deliver in random order */
	size_t n_due = 0;
	for (size_t k = 0; k < n_net; k++)
		if (net[k].at <= now_ms)
			n_due++;
	if (n_due == 0)
		return;
	struct msg *due = malloc(n_due * sizeof(*due));
	if (!due)
		abort();
	/* messages to goraft models first, in sending order (in-order links);
	 * the rest shuffled */
	size_t keep = 0, d = 0;
	for (size_t k = 0; k < n_net; k++)
		if (net[k].at <= now_ms && nodes[net[k].to].model)
			due[d++] = net[k];
	size_t n_fifo = d;
	for (size_t k = 0; k < n_net; k++) {
		if (net[k].at > now_ms)
			net[keep++] = net[k];
		else if (!nodes[net[k].to].model)
			due[d++] = net[k];
	}
	n_net = keep;
	for (size_t k = n_due; k > n_fifo + 1; k--) {
		size_t j = n_fifo + rnd_below(k - n_fifo);
		struct msg t = due[k - 1];
		due[k - 1] = due[j];
		due[j] = t;
	}
	for (size_t k = 0; k < n_due; k++) {
		struct msg *m = &due[k];
		struct node *to = &nodes[m->to];
		if (!to->alive || (!quiet && !link_up[m->from][m->to])) {
			free(m->entries);
			snap_free(&m->snap);
			continue;
		}
		size_t n = m->m.type == RAFT_MSG_AE_REQ ? m->m.ae.n_entries : 0;
		struct raft_entry *re = n ? calloc(n, sizeof(*re)) : NULL;
		for (size_t j = 0; j < n; j++) {
			re[j].index = m->m.ae.prev_index + 1 + j;
			re[j].term = m->entries[j].term;
			re[j].type = m->entries[j].type;
			re[j].size = m->entries[j].size;
			re[j].name = m->entries[j].name[0] ? m->entries[j].name : NULL;
			re[j].url = "http://sim:1";
		}
		struct raft_event ev = {.type = RAFT_EV_RECV};
		ev.recv.from = nodes[m->from].name;
		ev.recv.msg = m->m;
		ev.recv.msg.ae.entries = re;
		if (m->m.type != RAFT_MSG_AE_REQ)
			ev.recv.msg = m->m;
		struct raft_member_info mi[MAX_NODES];
		if (m->m.type == RAFT_MSG_SNAPREC_REQ) {
			for (size_t j = 0; j < m->snap.n_members; j++) {
				mi[j].name = m->snap.members[j];
				mi[j].url = "http://sim:1";
				mi[j].learner = m->snap.learner[j];
			}
			ev.recv.msg.snaprec.peers = mi;
			ev_snap = &m->snap;
		}
		char s[160];
		msg_str(&m->m, s, sizeof(s));
		tr("%s <- %s %s", to->name, nodes[m->from].name, s);
		step_node(m->to, &ev, m->entries);
		ev_snap = NULL;
		free(re);
		free(m->entries);
		snap_free(&m->snap);
	}
	free(due);
}

/* ---- operator: proposals and membership ------------------------------ */

static int find_leader(void)
{
	int best = -1;
	for (int i = 0; i < n_nodes; i++) {
		if (!nodes[i].alive || nodes[i].model || raft_role(nodes[i].r) != RAFT_LEADER)
			continue;
		if (best < 0 || raft_current_term(nodes[i].r) > raft_current_term(nodes[best].r))
			best = i;
	}
	return best;
}

static int propose(int leader, enum raft_entry_type type, const char *name)
{
	struct node *nd = &nodes[leader];
	struct sentry se = {.type = type, .size = 40 + (uint32_t)rnd_below(200)};
	if (type == RAFT_ENTRY_COMMAND)
		se.id = ++next_cmd_id;
	if (name)
		snprintf(se.name, sizeof(se.name), "%s", name);
	struct raft_entry re = {.type = type, .size = se.size, .name = name, .url = "http://sim:1"};
	struct raft_event ev = {.type = RAFT_EV_PROPOSE, .now = now_ms};
	ev.propose.n = 1;
	ev.propose.entries = &re;
	struct raft_update u;
	int rv = raft_step(nd->r, &ev, &u);
	if (rv == 0) {
		se.term = raft_current_term(nd->r);
		if (type == RAFT_ENTRY_COMMAND)
			tr("%s proposes cmd%llu at %llu", nd->name, (unsigned long long)se.id,
			   (unsigned long long)u.proposed);
		else
			tr("%s proposes %s %s at %llu", nd->name,
			   type == RAFT_ENTRY_JOIN ? "join" : type == RAFT_ENTRY_LEAVE ? "leave" : "learner", se.name,
			   (unsigned long long)u.proposed);
		if (type == RAFT_ENTRY_COMMAND) {
			if (n_props == props_cap) {
				props_cap = props_cap ? props_cap * 2 : 256;
				props = realloc(props, props_cap * sizeof(*props));
				if (!props)
					abort();
			}
			props[n_props++] = (struct proposal){leader, nd->incarnation, u.proposed, se.id, false};
		}
	}
	handle_update(leader, &u, &ev, &se);
	return rv;
}

static void issue_read(int leader) /* or a follower */
{
	struct node *nd = &nodes[leader];
	struct raft_event ev = {.type = RAFT_EV_READ, .now = now_ms};
	ev.read.id = ++next_read_id;
	if (n_preads == preads_cap) {
		preads_cap = preads_cap ? preads_cap * 2 : 64;
		preads = realloc(preads, preads_cap * sizeof(*preads));
		if (!preads)
			abort();
	}
	preads[n_preads++] = (struct pread){leader, nd->incarnation, ev.read.id, max_acked_index,
					    raft_role(nd->r) == RAFT_FOLLOWER};
	tr("%s read %llu issued (needs >= %llu)", nd->name, (unsigned long long)ev.read.id,
	   (unsigned long long)max_acked_index);
	struct raft_update u;
	int rv = raft_step(nd->r, &ev, &u);
	if (rv)
		n_preads--; /* refused */
	handle_update(leader, &u, &ev, NULL);
}

static void issue_transfer(int leader)
{
	struct node *nd = &nodes[leader];
	size_t n = raft_n_members(nd->r);
	if (n < 2)
		return;
	char to[NAME_LEN];
	snprintf(to, sizeof(to), "%s", raft_member_name(nd->r, (size_t)rnd_below(n)));
	struct raft_event ev = {.type = RAFT_EV_TRANSFER, .now = now_ms};
	ev.transfer.to = to;
	struct raft_update u;
	int rv = raft_step(nd->r, &ev, &u);
	tr("%s transfers leadership to %s: %d", nd->name, to, rv);
	if (rv == 0) {
		tot.transfers++;
		transfer_to = node_by_name(to);
		transfer_term = raft_current_term(nd->r);
	}
	handle_update(leader, &u, &ev, NULL);
}

static int n_members_of(int leader)
{
	return (int)raft_n_members(nodes[leader].r);
}

/* As the daemon joins a node: a goraft node as a voter; a raftd node as a
 * learner (the leader promotes it once it has caught up), or as a voter
 * while a goraft node is a member (no learners then); a learner already
 * there is proposed for promotion by hand (refused until it has caught
 * up: the leader does it by itself). */
static void join_node(int leader, int i)
{
	const char *name = nodes[i].name;
	if (raft_is_member(nodes[leader].r, name) || nodes[i].goraft) {
		propose(leader, RAFT_ENTRY_JOIN, name);
		return;
	}
	int rv = propose(leader, RAFT_ENTRY_LEARNER, name);
	if (rv == 0)
		tot.learners++;
	else if (rv == -EOPNOTSUPP)
		propose(leader, RAFT_ENTRY_JOIN, name);
}

/* Joins answered before they committed (raft_change_held()): each must
 * commit with that very entry wherever its index commits. */
struct held_join {
	raft_index index;
	raft_term term;
};
static struct held_join held_joins[4096];
static size_t n_held_joins;

/* A goraft joiner's /join: the join is proposed, the joiner starts once
 * the answer comes (joins_step()). */
static int deaf_join(int leader, int i)
{
	struct node *nd = &nodes[i];
	int rv = propose(leader, RAFT_ENTRY_JOIN, nd->name);
	if (rv != 0 || !nodes[leader].alive)
		return rv;
	nd->awaiting = true;
	nd->aw_leader = leader;
	nd->aw_inc = nodes[leader].incarnation;
	nd->aw_index = raft_last_index(nodes[leader].r);
	nd->aw_term = raft_current_term(nodes[leader].r);
	nd->aw_since = now_ms;
	tot.deaf_joins++;
	tr("%s waits for the answer to its join at %llu", nd->name, (unsigned long long)nd->aw_index);
	return 0;
}

static void joins_step(void)
{
	for (int i = 0; i < n_nodes; i++) {
		struct node *nd = &nodes[i];
		if (!nd->awaiting)
			continue;
		struct node *l = &nodes[nd->aw_leader];
		bool gone = !l->alive || l->incarnation != nd->aw_inc;
		raft_term t;
		if (!gone && raft_change_held(l->r, nd->aw_index, nd->aw_term)) {
			bool early = nd->aw_index > raft_commit_index(l->r);
			tot.early_answers += early;
			if (early && n_held_joins < sizeof(held_joins) / sizeof(held_joins[0]))
				held_joins[n_held_joins++] = (struct held_join){nd->aw_index, nd->aw_term};
			tr("%s: its join at %llu is answered (%s)", nd->name, (unsigned long long)nd->aw_index,
			   early ? "held by the old majority" : "committed");
		} else if (!gone && raft_entry_term(l->r, nd->aw_index, &t) && t == nd->aw_term &&
			   now_ms - nd->aw_since <= 10000) {
			continue;
		} else {
			/* refused, timed out, or the leader is gone: the
			 * joiner starts anyway (it ignores the answer; an
			 * operator restarts one whose /join failed) */
			tr("%s: its join at %llu failed", nd->name, (unsigned long long)nd->aw_index);
		}
		nd->awaiting = false;
		nd->answered = !gone && raft_change_held(l->r, nd->aw_index, nd->aw_term);
		start_node(i);
	}
}

static void check_held_joins(void)
{
	for (size_t k = 0; k < n_held_joins; k++) {
		for (int i = 0; i < n_nodes; i++) {
			struct node *nd = &nodes[i];
			raft_term t;
			if (!nd->alive || !nd->r || raft_commit_index(nd->r) < held_joins[k].index ||
			    !raft_entry_term(nd->r, held_joins[k].index, &t))
				continue;
			if (t != held_joins[k].term)
				fail("a join answered at %llu (term %llu) lost: %s committed term %llu there",
				     (unsigned long long)held_joins[k].index,
				     (unsigned long long)held_joins[k].term, nd->name, (unsigned long long)t);
		}
	}
}

static void membership_step(int leader, bool bootstrapping)
{
	int members = n_members_of(leader);
	bool want_join = bootstrapping ? members < target_size
				       : (members < target_size || (members == target_size && chance(0.5)));
	if (!bootstrapping && members > target_size)
		want_join = false;
	if (want_join) {
		/* a started node that is not a voter (its join was refused or
		 * truncated, or it is a learner not promoted yet): propose it
		 * again */
		for (int i = 0; i < n_nodes; i++) {
			if (nodes[i].started && !nodes[i].removed && !nodes[i].leaving && !nodes[i].late &&
			    !raft_is_voter(nodes[leader].r, nodes[i].name)) {
				join_node(leader, i);
				return;
			}
		}
		for (int i = 0; i < n_nodes; i++) {
			if (nodes[i].started || nodes[i].ghost || nodes[i].late || nodes[i].awaiting)
				continue;
			if (nodes[i].goraft && !nodes[i].model && !raft_is_member(nodes[leader].r, nodes[i].name)) {
				deaf_join(leader, i);
				return;
			}
			/* a fresh node: empty log, never campaigns until it has one */
			start_node(i);
			join_node(leader, i);
			return;
		}
		return;
	}
	if (members <= 3)
		return;
	int pick = (int)rnd_below((uint64_t)members);
	char victim[NAME_LEN];
	/* copy: the core's member table changes during the proposal */
	snprintf(victim, sizeof(victim), "%s", raft_member_name(nodes[leader].r, (size_t)pick));
	int v = node_by_name(victim);
	if (propose(leader, RAFT_ENTRY_LEAVE, victim) == 0 && v >= 0)
		nodes[v].leaving = true;
}

/* The operator joins a name nobody answers for (a goraft-style voter, or
 * in raftd-only clusters a learner, as raftd joiners are), or removes one,
 * maybe while its join is pending. The cluster must stay live (issue 16).
 * Three cases it cannot survive are left out: a goraft joiner of a lone
 * voter (taken unheard, as goraft's joiner answers nothing until its join
 * commits; the two then need each other to elect a leader), silent
 * voters beside the goraft follower model, which never campaigns (a
 * real goraft node would), and a goraft joiner beside a ghost voter
 * (below). */
static bool is_ghost(const char *name);

static void ghost_step(int leader)
{
	int g = n_nodes - N_GHOSTS + (int)rnd_below(N_GHOSTS);
	struct raft *r = nodes[leader].r;
	char name[NAME_LEN];
	snprintf(name, sizeof(name), "%s", nodes[g].name);
	if (raft_is_member(r, name)) {
		tot.ghost_leaves += propose(leader, RAFT_ENTRY_LEAVE, name) == 0;
		return;
	}
	size_t voters = 0;
	for (size_t m = 0; m < raft_n_members(r); m++)
		voters += raft_is_voter(r, raft_member_name(r, m));
	bool model = false;
	for (int i = 0; i < n_nodes; i++)
		model = model || nodes[i].model;
	bool learner = !mixed_cluster && chance(0.5);
	if (!learner && (model || (voters == 1 && nodes[g].goraft)))
		return;
	/* A goraft joiner may be taken before it answers while a voter is
	 * down (it counts as up, docs/goraft-protocol.md §11.20): until it
	 * answers or the leader takes the join back, electing a leader needs
	 * it or the voter that is down. A ghost never answers, and neither
	 * does a ghost voter: leave that pair out, as the cluster could not
	 * survive it (the down voter of the other cases comes back). */
	bool ghost_voter = false;
	for (size_t m = 0; m < raft_n_members(r); m++)
		ghost_voter = ghost_voter || (raft_is_voter(r, raft_member_name(r, m)) &&
					      is_ghost(raft_member_name(r, m)));
	if (!learner && nodes[g].goraft && ghost_voter)
		return;
	int rv = propose(leader, learner ? RAFT_ENTRY_LEARNER : RAFT_ENTRY_JOIN, name);
	tot.ghost_joins += rv == 0;
	tot.ghost_refused += rv == -ENOTCONN;
}

/* ---- invariants ----------------------------------------------------- */

static void note_leader(int id, raft_term term)
{
	if (id == transfer_to && term > transfer_term) {
		tot.transfers_done++; /* elected after its TimeoutNow, or anyhow */
		transfer_to = -1;
	}
	for (size_t k = 0; k < n_leaders; k++) {
		if (leaders[k].term == term) {
			if (leaders[k].node != id)
				fail("election safety: %s and %s both leaders in term %llu",
				     nodes[leaders[k].node].name, nodes[id].name, (unsigned long long)term);
			return;
		}
	}
	if (n_leaders == leaders_cap) {
		leaders_cap = leaders_cap ? leaders_cap * 2 : 64;
		leaders = realloc(leaders, leaders_cap * sizeof(*leaders));
		if (!leaders)
			abort();
	}
	leaders[n_leaders++] = (struct term_leader){term, id};
	if (term > max_leader_term)
		max_leader_term = term;
	/* leader completeness: every entry committed in an earlier term is in
	 * its log (a leader elected before a commit, whose votes arrive late,
	 * may lack it: it cannot commit anything, the majority is past it) */
	struct node *nd = &nodes[id];
	for (size_t i = nd->mem.start + 1; i <= max_committed; i++) {
		if (committed.e[i - 1].type == 0 || committed.e[i - 1].commit_term >= term)
			continue;
		if (i > nd->mem.n || !sentry_eq(at(&nd->mem, i), &committed.e[i - 1])) {
			char a[96];
			sentry_str(&committed.e[i - 1], a, sizeof(a));
			fail("leader completeness: %s leads term %llu without committed entry %zu %s",
			     nd->name, (unsigned long long)term, i, a);
			return;
		}
	}
}

/* Log matching, pairwise over whole logs: if two logs hold an entry with
 * the same index and term, they are identical up to it (Raft §5.3). */
static void check_logs_pairwise(void)
{
	for (int a = 0; a < n_nodes; a++) {
		for (int b = a + 1; b < n_nodes; b++) {
			const struct slog *x = &nodes[a].mem, *y = &nodes[b].mem;
			if (!nodes[a].alive || !nodes[b].alive)
				continue;
			size_t lo = x->start > y->start ? x->start : y->start;
			size_t hi = x->n < y->n ? x->n : y->n;
			bool matched = false;
			for (size_t i = hi; i > lo; i--) {
				const struct sentry *ea = at(x, i), *eb = at(y, i);
				if (!matched && ea->term == eb->term)
					matched = true;
				if (matched && !sentry_eq(ea, eb)) {
					fail("log matching: %s and %s agree on a later entry but differ at %zu",
					     nodes[a].name, nodes[b].name, i);
					return;
				}
			}
		}
	}
}

static void check_invariants(void)
{
	check_held_joins();
	for (int id = 0; id < n_nodes; id++) {
		struct node *nd = &nodes[id];
		if (!nd->alive)
			continue;
		struct raft *r = nd->r;
		if (r && raft_last_index(r) != nd->mem.n)
			fail("%s: core has %llu entries, the log %zu", nd->name,
			     (unsigned long long)raft_last_index(r), nd->mem.n);
		raft_index c = r ? raft_commit_index(r) : nd->g_commit;
		if (c > nd->mem.n)
			fail("%s: commit %llu beyond log %zu", nd->name, (unsigned long long)c, nd->mem.n);
		raft_index from = nd->checked_commit > nd->mem.start ? nd->checked_commit : nd->mem.start;
		for (raft_index i = from + 1; i <= c && i <= nd->mem.n; i++) {
			if (committed.n < i) {
				size_t old = committed.n;
				slog_set_len(&committed, i);
				memset(committed.e + old, 0, (i - old) * sizeof(*committed.e));
			}
			struct sentry *g = &committed.e[i - 1];
			const struct sentry *e = at(&nd->mem, i);
			if (g->type == 0) {
				*g = *e;
				g->commit_term = r ? raft_current_term(r) : max_leader_term;
				if (i > max_committed)
					max_committed = i;
				/* the operator shuts a node down once its removal commits */
				if (e->type == RAFT_ENTRY_LEAVE) {
					int v = node_by_name(e->name);
					if (v >= 0 && !nodes[v].removed) {
						tr("%s's leave committed: operator stops it", e->name);
						nodes[v].removed = true;
					}
				}
			} else if (!sentry_eq(g, e)) {
				char a[96], b[96];
				sentry_str(g, a, sizeof(a));
				sentry_str(e, b, sizeof(b));
				fail("commit safety: %s committed %s at %llu, elsewhere %s", nd->name, b,
				     (unsigned long long)i, a);
			}
		}
		if (c > nd->checked_commit)
			nd->checked_commit = c;
		if (!r)
			continue;
		enum raft_role role = raft_role(r);
		raft_term term = raft_current_term(r);
		if (role == RAFT_LEADER && (nd->role != RAFT_LEADER || nd->role_term != term))
			note_leader(id, term);
		nd->role = role;
		nd->role_term = term;
	}
	for (int id = 0; id < n_nodes; id++)
		if (nodes[id].alive && nodes[id].removed)
			crash_node(id); /* removed for good */
	if (now_ms % 1000 == 0)
		check_logs_pairwise();
}

/* ---- one seed ------------------------------------------------------- */

static void reset_world(void)
{
	transfer_to = -1;
	n_held_joins = 0;
	for (int i = 0; i < MAX_NODES; i++) {
		struct node *nd = &nodes[i];
		if (nd->r)
			raft_free(nd->r);
		for (size_t k = 0; k < nd->n_ops; k++) {
			free(nd->ops[k].entries);
			snap_free(&nd->ops[k].snap);
		}
		free(nd->ops);
		free(nd->disk.e);
		free(nd->mem.e);
		free(nd->sm.e);
		snap_free(&nd->d_snap);
		memset(nd, 0, sizeof(*nd));
	}
	for (size_t k = 0; k < n_net; k++) {
		free(net[k].entries);
		snap_free(&net[k].snap);
	}
	n_net = 0;
	free(lm);
	lm = NULL;
	lm_cap = lm_used = 0;
	committed.n = applied_global.n = 0;
	max_committed = 0;
	max_leader_term = 0;
	n_leaders = 0;
	n_props = 0;
	n_acked = 0;
	max_acked_index = 0;
	n_preads = 0;
	next_read_id = 0;
	next_cmd_id = 0;
	violation[0] = '\0';
	trace_len = 0;
	if (trace_buf)
		trace_buf[0] = '\0';
}

static void reset_fifo(void)
{
	memset(fifo_at, 0, sizeof(fifo_at));
}

static void heal_links(void)
{
	for (int a = 0; a < MAX_NODES; a++)
		for (int b = 0; b < MAX_NODES; b++)
			link_up[a][b] = true;
}

/* A hostile client who knows the members' names (public in /status) sends
 * a node a RequestVote in one of them, or in a name outside the
 * configuration (a removed member that keeps campaigning): at a term that
 * cannot be incremented, or far ahead, claiming a log newer than anyone's.
 * Safety and the final liveness check must hold all the same. Never to a
 * goraft model: a goraft node takes any term (docs/goraft-protocol.md §6.5). */
static void forge_vote(void)
{
	int to = (int)rnd_below((uint64_t)n_nodes), as = (int)rnd_below((uint64_t)n_nodes);
	if (to == as || !nodes[to].alive || nodes[to].model)
		return;
	struct raft *r = nodes[to].r;
	raft_term term = chance(0.5) ? UINT64_MAX : raft_current_term(r) + 1 + rnd_below(2000);
	struct raft_event ev = {.type = RAFT_EV_RECV};
	ev.recv.from = nodes[as].name;
	ev.recv.msg.type = RAFT_MSG_RV_REQ;
	ev.recv.msg.req_id = 1u << 30;
	ev.recv.msg.term = term;
	ev.recv.msg.rv.last_index = raft_last_index(r) + 1000;
	ev.recv.msg.rv.last_term = term;
	ev.recv.msg.rv.transfer = chance(0.2);
	tot.forged++;
	tr("FORGED %s <- %s RV term %llu%s", nodes[to].name, nodes[as].name,
	   (unsigned long long)term, ev.recv.msg.rv.transfer ? " (transfer)" : "");
	bool led = raft_role(r) == RAFT_LEADER;
	step_node(to, &ev, NULL);
	if (led && nodes[to].r && raft_role(nodes[to].r) != RAFT_LEADER)
		tot.forged_deposed++;
}

static bool is_ghost(const char *name);

/* Are the voters of r's configuration that can vote (not ghosts) still a
 * majority of its voters with one of them not voting? */
static bool majority_without_one(const struct raft *r)
{
	size_t v = 0, real = 0;
	for (size_t m = 0; m < raft_n_members(r); m++) {
		const char *name = raft_member_name(r, m);
		bool voter = raft_is_voter(r, name);
		v += voter;
		real += voter && !is_ghost(name);
	}
	return real >= 1 && 2 * (real - 1) > v;
}

/* Do the voters that can vote (not ghosts) still make a majority of every
 * started node's configuration while one node recovers (and cannot vote)?
 * With two voters, a node that lost its disk stops the cluster until the
 * operator lets it vote (docs: --force-new-cluster with -join). */
static bool voters_to_spare(int wiped)
{
	int seen = 0; /* with every node down, no configuration says yes (seed 618) */
	for (int i = 0; i < n_nodes; i++) {
		if (nodes[i].model)
			return false; /* it never campaigns: not one to spare */
		if (i == wiped || nodes[i].removed || !nodes[i].started)
			continue;
		/* a node that is down may hold a configuration the others lack
		 * (a pending join, seed 5871): its view is not known here */
		if (!nodes[i].alive)
			return false;
		/* ghosts never vote (seed 1518) */
		if (!majority_without_one(nodes[i].r))
			return false;
		seen++;
	}
	return seen > 0;
}

static bool any_recovering(void)
{
	for (int i = 0; i < n_nodes; i++)
		if (nodes[i].d_recovering && !nodes[i].removed)
			return true;
	return false;
}

/* A crashed node's disk is lost (a wiped wal/ with the name kept): it
 * restarts empty and recovering. One at a time: two nodes that lost their
 * disks may hold the only copies of a committed entry between them, which
 * no protocol survives. */
static void wipe_disk(int id)
{
	struct node *nd = &nodes[id];
	nd->d_term = 0;
	nd->d_vote[0] = '\0';
	slog_reset(&nd->disk, 0);
	snap_free(&nd->d_snap);
	nd->d_recovering = true;
	tot.wipes++;
	tr("%s WIPED: its disk is lost", nd->name);
}

static void chaos(void)
{
	if (hostile && chance(0.02))
		forge_vote();
	/* partitions: a random split, or one-way cuts */
	if (chance(0.004)) {
		int side[MAX_NODES];
		for (int i = 0; i < n_nodes; i++)
			side[i] = (int)rnd_below(2);
		bool asym = chance(0.4);
		for (int a = 0; a < n_nodes; a++)
			for (int b = 0; b < n_nodes; b++)
				if (side[a] != side[b] && (!asym || side[a] == 0))
					link_up[a][b] = false;
		tr("PARTITION%s", asym ? " (one way)" : "");
	}
	if (chance(0.002)) {
		int a = (int)rnd_below((uint64_t)n_nodes), b = (int)rnd_below((uint64_t)n_nodes);
		link_up[a][b] = false;
		tr("CUT %s -> %s", nodes[a].name, nodes[b].name);
	}
	if (chance(0.006)) {
		heal_links();
		tr("HEAL");
	}
	for (int i = 0; i < n_nodes; i++) {
		struct node *nd = &nodes[i];
		if (nd->alive && chance(0.0015))
			crash_node(i);
		else if (nd->started && !nd->alive && !nd->removed && chance(0.02)) {
			if (wipes && !nd->model && !nd->leaving && !any_recovering() && chance(0.2) &&
			    voters_to_spare(i))
				wipe_disk(i);
			start_node(i);
		}
	}
	int leader = find_leader();
	if (leader >= 0) {
		if (chance(0.25))
			propose(leader, RAFT_ENTRY_COMMAND, NULL);
		/* (no change while a node recovers: the others must stay a
		 * majority, it does not vote yet) */
		if (chance(0.004) && !any_recovering())
			membership_step(leader, false);
		if (chance(0.0015) && !any_recovering())
			ghost_step(leader);
		if (chance(0.002))
			issue_transfer(leader);
	}
	/* reads go to any node that thinks it leads, stale ones included, and
	 * (--follower-reads) to followers, which ask their leader for the read
	 * index; an option, so that the default schedules stay as they were */
	for (int i = 0; i < n_nodes; i++) {
		if (!nodes[i].alive || nodes[i].model)
			continue;
		enum raft_role role = raft_role(nodes[i].r);
		if ((role == RAFT_LEADER && chance(0.05)) ||
		    (opt.follower_reads && role == RAFT_FOLLOWER && chance(0.02)))
			issue_read(i);
	}
}

static int kept_down = -1; /* a voter left crashed during the quiet phase */

static bool is_ghost(const char *name)
{
	int id = node_by_name(name);
	return id >= 0 && nodes[id].ghost;
}

static bool all_members_applied(int leader, raft_index idx)
{
	struct raft *r = nodes[leader].r;
	for (size_t m = 0; m < raft_n_members(r); m++) {
		int id = node_by_name(raft_member_name(r, m));
		if (id == kept_down || (id >= 0 && nodes[id].ghost))
			continue;
		if (id < 0 || !nodes[id].alive || nodes[id].applied < idx)
			return false;
	}
	return true;
}

/* May one voter stay down? Only if in every live node's configuration the
 * voters that are up (not ghosts) still are a majority without it: then a
 * majority remains whichever view wins. */
static int pick_kept_down(void)
{
	int cand = -1;
	if (any_recovering())
		return -1; /* it does not vote yet: every voter up */
	for (int i = 0; i < n_nodes; i++) {
		if (nodes[i].model)
			return -1; /* keep it simple: every voter up */
		if (!nodes[i].alive)
			continue;
		if (!majority_without_one(nodes[i].r))
			return -1;
		if (cand < 0 && raft_is_voter(nodes[i].r, nodes[i].name))
			cand = i;
	}
	return cand;
}

static void advance(void)
{
	now_ms += TICK_MS;
	deliver_due();
	for (int i = 0; i < n_nodes; i++)
		complete_disk(i);
	for (int i = 0; i < n_nodes; i++) {
		struct raft_event t = {.type = RAFT_EV_TICK};
		step_node(i, &t, NULL);
	}
	joins_step();
	check_invariants();
}

/* A goraft joiner, which answers nothing until its /join is answered, joins
 * while one voter is down (issue 17: a raftd leader waited for the joiner's
 * own answer, which deadlocked until its 10 s timeout; goraft's leader
 * answers at once). The join must be taken, answered within a second, and
 * committed with the joiner's help. */
static void late_join(void)
{
	int g = -1;
	for (int i = 0; i < n_nodes; i++)
		if (nodes[i].late && !nodes[i].started)
			g = i;
	if (g < 0)
		return;
	if (kept_down < 0) {
		kept_down = any_recovering() ? -1 : pick_kept_down();
		if (kept_down < 0)
			return;
		tr("LATE: %s goes down", nodes[kept_down].name);
		crash_node(kept_down);
	}
	/* past an election timeout: the leader no longer counts it as live */
	uint64_t t0 = now_ms;
	int rv = -EBUSY;
	while (!violation[0] && now_ms - t0 < 5000) {
		advance();
		int leader = find_leader();
		if (leader < 0 || now_ms - t0 < 1000)
			continue;
		rv = deaf_join(leader, g);
		if (rv != -EBUSY)
			break;
	}
	if (violation[0])
		return;
	if (rv != 0) {
		fail("liveness: a goraft joiner with %s down was refused (%d)", nodes[kept_down].name, rv);
		return;
	}
	tot.late_joins++;
	raft_index idx = nodes[g].aw_index;
	uint64_t t1 = now_ms;
	while (!violation[0] && nodes[g].awaiting && now_ms - t1 < 1000)
		advance();
	if (violation[0])
		return;
	if (!nodes[g].answered) {
		fail("liveness: the join of goraft joiner %s at %llu, with %s down, not answered within 1 s",
		     nodes[g].name, (unsigned long long)idx, nodes[kept_down].name);
		return;
	}
	while (!violation[0] && now_ms - t1 < 5000) {
		advance();
		int leader = find_leader();
		if (leader >= 0 && raft_commit_index(nodes[leader].r) >= idx && nodes[g].alive &&
		    nodes[g].applied >= idx && raft_is_voter(nodes[leader].r, nodes[g].name))
			return;
	}
	if (!violation[0])
		fail("liveness: the join of goraft joiner %s at %llu, with %s down, did not commit within 5 s",
		     nodes[g].name, (unsigned long long)idx, nodes[kept_down].name);
}

static int run_seed(uint64_t seed)
{
	reset_world();
	rng_state = seed * 0x2545f4914f6cdd1dULL + 1;
	int sizes[] = {3, 5, 7};
	target_size = opt.nodes ? opt.nodes : sizes[seed % 3];
	n_nodes = target_size + 3;
	if (n_nodes > MAX_NODES - N_GHOSTS)
		n_nodes = MAX_NODES - N_GHOSTS;
	/* A mixed cluster (some nodes treated as goraft: extensions off, one
	 * request in flight to them) never compacts: a goraft node needs the
	 * whole log. Pure raftd clusters take snapshots, mostly. */
	bool mixed = mixed_cluster = chance(0.4);
	bool any_model = false;
	for (int i = 0; i < n_nodes; i++) {
		snprintf(nodes[i].name, sizeof(nodes[i].name), "n%d", i);
		nodes[i].goraft = mixed && chance(0.3);
		/* one of those may be a goraft follower (the model): never node
		 * 0, which bootstraps, and only one, as it never campaigns */
		nodes[i].model = i > 0 && nodes[i].goraft && !any_model && chance(0.6);
		any_model |= nodes[i].model;
		tot.goraft_seeds += nodes[i].model;
	}
	/* kept for late_join(): a goraft joiner while one voter is down */
	if (mixed && n_nodes < MAX_NODES - N_GHOSTS) {
		snprintf(nodes[n_nodes].name, sizeof(nodes[n_nodes].name), "n%d", n_nodes);
		nodes[n_nodes].goraft = nodes[n_nodes].late = true;
		n_nodes++;
	}
	for (int g = 0; g < N_GHOSTS; g++, n_nodes++) {
		snprintf(nodes[n_nodes].name, sizeof(nodes[n_nodes].name), "x%d", g);
		nodes[n_nodes].ghost = true;
		nodes[n_nodes].goraft = mixed && chance(0.5);
	}
	heal_links();
	reset_fifo();
	p_drop = chance(0.3) ? 0 : (double)rnd_below(20) / 100.0;
	p_dup = (double)rnd_below(10) / 100.0;
	max_delay = 2 + (unsigned)rnd_below(40);
	snapshot_threshold = mixed || chance(0.25) ? 0 : 10 + rnd_below(150);
	hostile = opt.hostile || chance(0.3);
	wipes = opt.wipes || chance(0.3);
	quiet = false;
	now_ms = 0;
	tr("seed %llu: %d members, drop %.2f dup %.2f delay <%u ms, snapshot every %llu",
	   (unsigned long long)seed, target_size, p_drop, p_dup, max_delay,
	   (unsigned long long)snapshot_threshold);

	/* bootstrap: goraft's self-join at term 0 on node 0 */
	start_node(0);
	struct raft_event ev = {.type = RAFT_EV_BOOTSTRAP};
	ev.bootstrap.url = "http://sim:1";
	step_node(0, &ev, NULL);

	int steps = opt.steps;
	bool grown = false;
	for (int s = 0; s < steps && !violation[0]; s++) {
		now_ms += TICK_MS;
		tot.steps++;
		deliver_due();
		for (int i = 0; i < n_nodes; i++)
			complete_disk(i);
		for (int i = 0; i < n_nodes; i++) {
			struct raft_event t = {.type = RAFT_EV_TICK};
			step_node(i, &t, NULL);
		}
		if (!grown) {
			/* grow to the target size first, on a quiet network */
			quiet = true;
			int leader = find_leader();
			if (leader >= 0) {
				if (n_members_of(leader) >= target_size)
					grown = true;
				else
					membership_step(leader, true);
			}
			if (s > 3000)
				fail("liveness: could not grow the cluster to %d members", target_size);
		} else {
			quiet = false;
			chaos();
		}
		joins_step();
		check_invariants();
	}
	if (violation[0])
		return 1;

	/* liveness: heal everything, quiet network, restart the crashed; in
	 * half the seeds one voter stays down (a connected majority) */
	quiet = true;
	heal_links();
	tr("QUIET: healing the network, restarting crashed members");
	for (int i = 0; i < n_nodes; i++)
		if (nodes[i].started && !nodes[i].alive && !nodes[i].removed)
			start_node(i);
	/* (not while a node recovers: it does not vote yet) */
	kept_down = chance(0.5) && !any_recovering() ? pick_kept_down() : -1;
	if (kept_down >= 0) {
		tr("QUIET: %s stays down", nodes[kept_down].name);
		crash_node(kept_down);
	}
	uint64_t quiet_start = now_ms;
	uint64_t bound_ms = 10000;
	raft_index probe = 0;
	int probe_leader = -1;
	unsigned probe_inc = 0;
	bool ok = false;
	while (!violation[0] && now_ms - quiet_start < bound_ms) {
		advance();
		int leader = find_leader();
		if (leader < 0)
			continue;
		if (probe == 0 || probe_leader != leader || nodes[leader].incarnation != probe_inc ||
		    raft_role(nodes[leader].r) != RAFT_LEADER) {
			if (propose(leader, RAFT_ENTRY_COMMAND, NULL) == 0) {
				probe = raft_last_index(nodes[leader].r);
				probe_leader = leader;
				probe_inc = nodes[leader].incarnation;
			}
			continue;
		}
		if (raft_commit_index(nodes[leader].r) >= probe && all_members_applied(leader, probe)) {
			ok = true;
			break;
		}
	}
	if (!violation[0] && !ok) {
		char who[256] = "";
		int leader = find_leader();
		if (leader >= 0) {
			struct raft *r = nodes[leader].r;
			for (size_t m = 0; m < raft_n_members(r); m++) {
				int id = node_by_name(raft_member_name(r, m));
				size_t l = strlen(who);
				snprintf(who + l, sizeof(who) - l, " %s%s:%llu", raft_member_name(r, m),
					 id >= 0 && nodes[id].alive ? "" : "(down)",
					 id >= 0 ? (unsigned long long)nodes[id].applied : 0ULL);
			}
		}
		fail("liveness: no leader committed and applied probe %llu on every member within %llu ms of quiet (leader %s, applied:%s)",
		     (unsigned long long)probe, (unsigned long long)bound_ms,
		     leader >= 0 ? nodes[leader].name : "none", who);
	}
	if (!violation[0])
		late_join();
	/* acknowledged proposals are applied at their index on every live node */
	for (size_t k = 0; k < n_props && !violation[0]; k++) {
		if (!props[k].acked)
			continue;
		for (int i = 0; i < n_nodes; i++) {
			struct node *nd = &nodes[i];
			if (!nd->alive || nd->applied < props[k].index)
				continue;
			if (at(&nd->sm, props[k].index)->id != props[k].id)
				fail("acknowledged proposal %llu at %llu lost on %s",
				     (unsigned long long)props[k].id, (unsigned long long)props[k].index,
				     nd->name);
		}
	}
	tot.seeds++;
	tot.leaders += n_leaders;
	tot.commits += max_committed;
	if (opt.verbose)
		printf("seed %llu: %d members, %zu leaders, %zu commits, %zu acked, t=%llu ms\n",
		       (unsigned long long)seed, target_size, n_leaders, max_committed, n_acked,
		       (unsigned long long)now_ms);
	return violation[0] ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [--seed S | --from S --count N] [--nodes 3|5|7] [--steps K]\n"
			"          [--fault commit|vote|read|join|fread] [--expect-violation] [--hostile] [--wipes]\n"
			"          [--follower-reads] [--trace] [-v]\n",
		opt.argv0);
	exit(2);
}

static void print_replay(uint64_t seed)
{
	printf("FAIL seed %llu: %s\n", (unsigned long long)seed, violation);
	printf("replay: %s --seed %llu%s%s%s%s%s --steps %d --trace\n", opt.argv0, (unsigned long long)seed,
	       opt.hostile ? " --hostile" : "", opt.wipes ? " --wipes" : "",
	       opt.follower_reads ? " --follower-reads" : "",
	       opt.nodes ? (opt.nodes == 3 ? " --nodes 3" : opt.nodes == 5 ? " --nodes 5" : " --nodes 7") : "",
	       opt.fault == RAFT_FAULT_COMMIT_WITHOUT_MAJORITY ? " --fault commit"
	       : opt.fault == RAFT_FAULT_VOTE_WITHOUT_LOG_CHECK ? " --fault vote"
	       : opt.fault == RAFT_FAULT_READ_WITHOUT_QUORUM    ? " --fault read"
	       : opt.fault == RAFT_FAULT_JOIN_HELD_UNREPLICATED ? " --fault join"
	       : opt.fault == RAFT_FAULT_FOLLOWER_READ_LOCAL    ? " --fault fread" : "",
	       opt.steps);

}

int main(int argc, char **argv)
{
	opt.argv0 = argv[0];
	opt.from = 1;
	opt.count = 1;
	opt.steps = 2000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--seed") && v) {
			opt.from = strtoull(v, NULL, 10);
			opt.count = 1;
			i++;
		} else if (!strcmp(a, "--from") && v) {
			opt.from = strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--count") && v) {
			opt.count = strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--nodes") && v) {
			opt.nodes = atoi(v);
			i++;
		} else if (!strcmp(a, "--steps") && v) {
			opt.steps = atoi(v);
			i++;
		} else if (!strcmp(a, "--fault") && v) {
			if (!strcmp(v, "commit"))
				opt.fault = RAFT_FAULT_COMMIT_WITHOUT_MAJORITY;
			else if (!strcmp(v, "vote"))
				opt.fault = RAFT_FAULT_VOTE_WITHOUT_LOG_CHECK;
			else if (!strcmp(v, "read"))
				opt.fault = RAFT_FAULT_READ_WITHOUT_QUORUM;
			else if (!strcmp(v, "join"))
				opt.fault = RAFT_FAULT_JOIN_HELD_UNREPLICATED;
			else if (!strcmp(v, "fread")) {
				opt.fault = RAFT_FAULT_FOLLOWER_READ_LOCAL;
				opt.follower_reads = true;
			}
			else
				usage();
			i++;
		} else if (!strcmp(a, "--expect-violation")) {
			opt.expect_violation = true;
		} else if (!strcmp(a, "--hostile")) {
			opt.hostile = true;
		} else if (!strcmp(a, "--wipes")) {
			opt.wipes = true;
		} else if (!strcmp(a, "--follower-reads")) {
			opt.follower_reads = true;
		} else if (!strcmp(a, "--trace")) {
			opt.trace = true;
		} else if (!strcmp(a, "-v")) {
			opt.verbose = true;
		} else {
			usage();
		}
	}
	if (opt.nodes && opt.nodes != 3 && opt.nodes != 5 && opt.nodes != 7)
		usage();
	clock_t t0 = clock();
	uint64_t failures = 0;
	for (uint64_t s = opt.from; s < opt.from + opt.count; s++) {
		tracing = opt.trace;
		if (run_seed(s) == 0) {
			if (opt.trace)
				fputs(trace_buf ? trace_buf : "", stdout);
			continue;
		}
		failures++;
		if (opt.expect_violation) {
			printf("negative control: seed %llu violation caught as expected: %s\n",
			       (unsigned long long)s, violation);
			break;
		}
		/* replay the seed with tracing on: the run is deterministic */
		tracing = true;
		run_seed(s);
		size_t start = !opt.trace && trace_len > 60000 ? trace_len - 60000 : 0;
		while (start > 0 && trace_buf[start - 1] != '\n')
			start++;
		printf("---- trace of seed %llu%s ----\n%s---- end of trace ----\n",
		       (unsigned long long)s, start ? " (last 60 kB)" : "", trace_buf + start);
		print_replay(s);
		break;
	}
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	reset_world();
	free(trace_buf);
	free(net);
	free(leaders);
	free(props);
	free(preads);
	free(committed.e);
	free(applied_global.e);
	if (opt.expect_violation) {
		if (failures == 0) {
			printf("negative control FAILED: no violation in %llu seeds\n",
			       (unsigned long long)opt.count);
			return 1;
		}
		return 0;
	}
	if (failures == 0 && !opt.trace)
		printf("sim: %llu seeds x %d steps passed in %.1f s (%llu steps of %d ms; %llu leaders, "
		       "%llu commits, %llu crashes, %llu snapshots taken, %llu installed, %llu reads "
		       "(%llu at followers), %llu transfers (%llu won by their target), %llu learners, %llu forged vote requests "
		       "(%llu deposed a leader), "
		       "%llu disks lost (%llu recovered); "
		       "%llu seeds with a goraft follower model, which accepted %llu AppendEntries; ghosts: "
		       "%llu joins taken, %llu refused, %llu leaves; goraft joiners that wait for their "
		       "answer: %llu, %llu answered before commit, %llu with a voter down at the end; %llu joins "
		       "of goraft nodes that never answered taken back)\n",
		       (unsigned long long)opt.count, opt.steps, secs, (unsigned long long)tot.steps,
		       TICK_MS, (unsigned long long)tot.leaders, (unsigned long long)tot.commits,
		       (unsigned long long)tot.crashes, (unsigned long long)tot.snapshots,
		       (unsigned long long)tot.installs, (unsigned long long)tot.reads,
		       (unsigned long long)tot.follower_reads, (unsigned long long)tot.transfers, (unsigned long long)tot.transfers_done,
		       (unsigned long long)tot.learners, (unsigned long long)tot.forged,
		       (unsigned long long)tot.forged_deposed,
		       (unsigned long long)tot.wipes, (unsigned long long)tot.recovered,
		       (unsigned long long)tot.goraft_seeds, (unsigned long long)tot.goraft_acks,
		       (unsigned long long)tot.ghost_joins, (unsigned long long)tot.ghost_refused,
		       (unsigned long long)tot.ghost_leaves, (unsigned long long)tot.deaf_joins,
		       (unsigned long long)tot.early_answers, (unsigned long long)tot.late_joins,
		       (unsigned long long)tot.joins_reverted);
	return failures ? 1 : 0;
}
