/* src/raft/raft.c — the Raft core (see raft.h for the contract).
 *
 * Sections: utilities, log and durability, configuration (membership),
 * outgoing messages, roles and elections, replication and commit, the
 * follower and voter rules, and raft_step().
 *
 * "Raft §x" cites the Raft paper (Ongaro & Ousterhout 2014), "thesis §x"
 * Ongaro's dissertation, "goraft file.go f" the goraft source and
 * "docs/goraft-protocol.md §x" this project's account of goraft's protocol
 * and of where raftd deviates from it.
 */
#include "src/raft/raft.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_TRUNC UINT64_MAX
#define HOLDS_UNKNOWN UINT64_MAX /* peer.holds before the peer's first answer */
#define N_STR_SLOTS 16

struct meta {
	raft_term term;
	uint32_t size;
	uint8_t type;
};

/* A raft:join / raft:leave entry still in the log. The configuration is
 * the replay of these (Raft §6: a server uses the latest configuration in
 * its log, committed or not). */
struct conf_change {
	raft_index index;
	enum raft_entry_type type;
	char name[RAFT_NAME_MAX];
	char url[RAFT_URL_MAX];
};

struct member {
	char name[RAFT_NAME_MAX];
	char url[RAFT_URL_MAX];
	bool learner; /* replicated to, never counted (raftd-only) */
};

/* An AppendEntries request sent and not yet answered. */
struct flight {
	uint64_t id;
	raft_term term;
	raft_index prev, last;
	uint64_t sent_at;
	uint64_t read_seq; /* reads registered before this request was sent */
};

/* A ReadIndex request waiting for its heartbeat round (thesis §6.4). */
struct read {
	uint64_t id;
	raft_index index; /* 0 until the leader's own nop has committed */
	uint64_t seq;
	int peer; /* a follower's request (answered to it), or -1: our own */
	uint64_t req_id;           /* the follower's request */
	char from[RAFT_NAME_MAX];  /* the follower (a peer slot may be reused) */
};

/* A follower's read waiting for its leader's read index. */
struct fwd_read {
	uint64_t id;      /* the caller's (RAFT_EV_READ) */
	uint64_t req_id;  /* of the READ_INDEX request in flight */
	uint64_t sent_at;
	unsigned tries;
	char leader[RAFT_NAME_MAX]; /* asked; only its answer counts */
};

struct peer {
	bool used;
	bool goraft;
	bool member; /* in the current configuration */
	char name[RAFT_NAME_MAX];
	char url[RAFT_URL_MAX]; /* as last seen in the configuration */
	/* leader state (Raft §5.3), reset on election */
	raft_index next, match;
	/* goraft peer: the highest index its log may end at, as far as this
	 * leader knows: its latest answer's Index, raised by every request
	 * sent since (HOLDS_UNKNOWN: no answer yet). See send_append(). */
	raft_index holds;
	/* removed by the raft:leave at leave_index: still replicated to until
	 * it has that entry and the commit covering it (it then stops), for
	 * a grace until leave_until (0: not yet) that carries the commit; kept
	 * when the entry is compacted away, as the member then needs the
	 * snapshot that covers its removal */
	raft_index leave_index;
	uint64_t leave_until;
	struct flight fl[RAFT_MAX_INFLIGHT];
	unsigned n_fl;
	uint64_t last_send;
	/* after a rejection, one request at a time until one succeeds (a
	 * pipeline of failures would keep moving next back and forth) */
	bool probing;
	bool fresh; /* nothing sent yet in this term / membership: send now */
	raft_index backoff; /* distance of the next mismatch back-off step */
	/* snapshot transfer (Raft §7, goraft's two-step exchange) */
	enum { SNAP_NONE, SNAP_ASKED, SNAP_SENDING } snap_state;
	uint64_t snap_id, snap_sent_at;
	/* candidate state: real votes and pre-votes never mix (a late
	 * real vote must not complete a pre-vote majority, or vice versa) */
	bool voted;
	bool prevoted;
	/* check-quorum: when this peer last answered the current leader */
	uint64_t last_ack;
	/* membership: when it last really answered this leader (last_ack
	 * starts at "now" for a new member; this starts at never) */
	bool heard;
	uint64_t heard_at;
	/* ReadIndex: highest read seq confirmed by this peer's answers */
	uint64_t read_ack;
};

/* A message waiting for the hard state to be durable and, for a follower's
 * AppendEntries success, for its log up to need_durable. */
struct held {
	int peer;
	struct raft_msg msg;
	raft_index need_durable;
};

/* A log write not yet reported durable. */
struct log_op {
	uint64_t seq;
	raft_index last_after; /* last index once this write is done */
	raft_index trunc_floor; /* truncate: from - 1; append: NO_TRUNC */
};

struct raft {
	struct raft_config cfg;
	char name[RAFT_NAME_MAX];
	uint64_t rng;
	uint64_t now;

	/* hard state */
	raft_term term;
	char vote[RAFT_NAME_MAX];
	uint64_t hs_seq, hs_durable_seq;

	enum raft_role role;
	char leader[RAFT_NAME_MAX];
	bool removed;
	bool recovering; /* lost data: no votes, no campaign (raft_restore) */
	/* While recovering: the highest commit index in the requests of
	 * term recover_term's leader (maybe_recovered) */
	raft_term recover_term;
	raft_index recover_floor;
	uint64_t election_deadline;
	bool prevoting;            /* collecting pre-votes for term + 1 */
	uint64_t leader_contact;   /* when we last accepted the leader's AE */
	uint64_t leader_since;     /* when we became leader */

	/* log metadata: the log holds (start, last], entry i at
	 * log[i - start - 1]; start is 0 or a snapshot's index */
	struct meta *log;
	raft_index start;
	raft_term start_term;
	raft_index last;
	size_t log_cap;
	raft_index commit, durable, apply_req, applied;
	raft_index term_start; /* leader: index of its nop */

	uint64_t log_seq;
	struct log_op *ops;
	size_t n_ops, ops_cap;

	struct conf_change *changes;
	size_t n_changes, changes_cap;
	/* the configuration at `start` (changes at or below it folded in) */
	struct member base[RAFT_MAX_PEERS];
	size_t n_base;
	/* latest snapshot, and one being taken */
	raft_index snap_index;
	raft_term snap_term;
	struct member snap_members[RAFT_MAX_PEERS];
	struct raft_member_info snap_info[RAFT_MAX_PEERS];
	size_t n_snap_members;
	bool snap_pending;
	raft_index pending_index;
	struct member pending_members[RAFT_MAX_PEERS];
	struct raft_member_info pending_info[RAFT_MAX_PEERS];
	size_t n_pending_members;
	struct member members[RAFT_MAX_PEERS];
	size_t n_members;
	/* The latest change is a join that grew a one-member configuration
	 * (this leader alone) to two. goraft commits a join under the old
	 * membership (docs/goraft-protocol.md §7.1) and a goraft joiner serves
	 * nothing until its join has committed (§7.2, §11.10), so a lone
	 * leader must commit that join (and what follows it) on its own. Safe:
	 * the old quorum {self} meets every majority of either configuration.
	 * Used for commit only; the simulator showed that a general "old
	 * majority also counts" rule, applied by a node whose view is stale,
	 * elects a leader that lacks committed entries. */
	bool join_fallback;
	char joiner[RAFT_NAME_MAX];
	/* leader: the pending goraft join maybe_revert_join() watches, since */
	raft_index revert_index;
	raft_term revert_term;
	uint64_t revert_since;

	struct peer peers[RAFT_MAX_PEERS];
	uint64_t next_req_id;

	struct held *held;
	size_t n_held, held_cap;

	struct read *reads;
	size_t n_reads, reads_cap;
	uint64_t read_seq, check_seq;
	struct fwd_read *fwd;
	size_t n_fwd, fwd_cap;

	char transfer_to[RAFT_NAME_MAX]; /* "" when no transfer is running */
	uint64_t transfer_deadline;
	bool transfer_sent;

	struct raft_action *acts;
	size_t n_acts, acts_cap;
	bool oom;    /* an allocation failed during this step */
	bool failed; /* ... during some step: the core takes no more events */

	char str_slots[N_STR_SLOTS][RAFT_NAME_MAX];
	unsigned str_next;
	char entry_name[RAFT_NAME_MAX], entry_url[RAFT_URL_MAX];
	char trace_buf[RAFT_TRACE_MAX]; /* a refusal's reason, while traced */
};

/* ---- utilities ------------------------------------------------------- */

static uint64_t rng_next(struct raft *r)
{
	/* splitmix64: tiny, seedable, good enough for timeouts */
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void copy_name(char *dst, const char *src, size_t cap)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A copy of s that stays valid until the next raft_step(). */
static const char *stable_str(struct raft *r, const char *s)
{
	char *slot = r->str_slots[r->str_next++ % N_STR_SLOTS];
	copy_name(slot, s, RAFT_NAME_MAX);
	return slot;
}

/* ---- trace (raft_config.trace) ----
 *
 * TRACE() tests the hook before it evaluates its arguments, so a core
 * without one formats nothing. snprintf writes to memory only: the core
 * stays pure. */
#define TRACE(r, ...)                                   \
	do {                                            \
		if ((r)->cfg.trace)                     \
			trace_line((r), __VA_ARGS__);   \
	} while (0)

__attribute__((format(printf, 2, 3))) static void trace_line(const struct raft *r, const char *fmt, ...)
{
	char line[RAFT_TRACE_MAX];
	int n = snprintf(line, sizeof(line), "%s t%" PRIu64 ": ", r->name, r->term);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	r->cfg.trace(r->cfg.trace_data, line);
}

static const char *msg_name(enum raft_msg_type t)
{
	switch (t) {
	case RAFT_MSG_AE_REQ: return "AppendEntries";
	case RAFT_MSG_AE_RESP: return "AppendEntries response";
	case RAFT_MSG_RV_REQ: return "RequestVote";
	case RAFT_MSG_RV_RESP: return "RequestVote response";
	case RAFT_MSG_SNAP_REQ: return "Snapshot";
	case RAFT_MSG_SNAP_RESP: return "Snapshot response";
	case RAFT_MSG_SNAPREC_REQ: return "SnapshotRecovery";
	case RAFT_MSG_SNAPREC_RESP: return "SnapshotRecovery response";
	case RAFT_MSG_TIMEOUT_NOW: return "TimeoutNow";
	case RAFT_MSG_READ_INDEX: return "ReadIndex";
	case RAFT_MSG_READ_INDEX_RESP: return "ReadIndex response";
	}
	return "message";
}

static const char *refusal_name(enum raft_refusal why)
{
	switch (why) {
	case RAFT_REFUSE_TERM_MAX: return "term above the maximum";
	case RAFT_REFUSE_TERM_AHEAD: return "term too far ahead";
	case RAFT_REFUSE_NOT_MEMBER: return "not a member";
	case RAFT_REFUSE_LEADER_ALIVE: return "a leader is alive";
	case RAFT_REFUSE_NOT_LEADER: return "not our leader";
	case RAFT_REFUSE_RECOVERING: return "recovering lost data";
	}
	return "refused";
}

static const char *change_name(enum raft_entry_type t)
{
	switch (t) {
	case RAFT_ENTRY_JOIN: return "join";
	case RAFT_ENTRY_LEAVE: return "leave";
	case RAFT_ENTRY_LEARNER: return "learner";
	default: return "entry";
	}
}

/* ---- the allocation seam (raft.h): the core's own, as it includes only
 * libc; the same as base/alloc.h's ---- */

static unsigned long alloc_countdown; /* 0: no failure armed */
static bool alloc_fired;

void raft_fail_alloc_nth(unsigned long nth)
{
	alloc_countdown = nth;
	alloc_fired = false;
}

bool raft_alloc_failed(void)
{
	return alloc_fired;
}

static bool alloc_refused(void)
{
	if (__builtin_expect(alloc_countdown == 0, 1) || --alloc_countdown != 0)
		return false;
	alloc_fired = true;
	return true;
}

static void *raft_calloc(size_t n, size_t size)
{
	return alloc_refused() ? NULL : calloc(n, size);
}

static void *raft_realloc(void *ptr, size_t size)
{
	return alloc_refused() ? NULL : realloc(ptr, size);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	void *p = raft_realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static struct raft_action *emit(struct raft *r, enum raft_action_type type)
{
	if (grow((void **)&r->acts, &r->acts_cap, r->n_acts + 1, sizeof(*r->acts))) {
		r->oom = true;
		return NULL;
	}
	struct raft_action *a = &r->acts[r->n_acts++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

static struct meta *meta_at(const struct raft *r, raft_index i)
{
	return &r->log[i - r->start - 1];
}

/* Term of entry i; 0 for index 0 and for entries not held (callers check
 * i against start and last first). */
static raft_term term_at(const struct raft *r, raft_index i)
{
	if (i == r->start)
		return r->start_term;
	return (i < r->start || i > r->last) ? 0 : meta_at(r, i)->term;
}

static raft_term last_term(const struct raft *r)
{
	return term_at(r, r->last);
}

static struct peer *peer_find(struct raft *r, const char *name)
{
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		if (r->peers[i].used && strcmp(r->peers[i].name, name) == 0)
			return &r->peers[i];
	return NULL;
}

static struct peer *peer_get(struct raft *r, const char *name)
{
	struct peer *p = peer_find(r, name);
	if (p)
		return p;
	int slot = -1;
	for (int i = 0; i < RAFT_MAX_PEERS && slot < 0; i++)
		if (!r->peers[i].used)
			slot = i;
	/* Full: reuse the slot of a name that is no longer a member and has
	 * no message waiting (members come and go over a cluster's life; the
	 * daemon repeats PEER_KIND if such a name comes back). */
	for (int i = 0; i < RAFT_MAX_PEERS && slot < 0; i++) {
		if (r->peers[i].member)
			continue;
		bool waiting = false;
		for (size_t k = 0; k < r->n_held && !waiting; k++)
			waiting = r->held[k].peer == i;
		if (!waiting)
			slot = i;
	}
	if (slot < 0)
		return NULL;
	p = &r->peers[slot];
	memset(p, 0, sizeof(*p));
	p->used = true;
	copy_name(p->name, name, sizeof(p->name));
	/* A new member has not been heard from yet, not "never": check-quorum
	 * gives it an election timeout before it counts as silent. */
	p->last_ack = r->now;
	return p;
}

static void reset_election_timer(struct raft *r)
{
	/* goraft util.go afterBetween(t, 2t): uniform in [t, 2t) */
	unsigned t = r->cfg.election_timeout_ms;
	r->election_deadline = r->now + t + (t ? rng_next(r) % t : 0);
}

/* "refuses MESSAGE from NAME at tTERM: why", every refusal alike */
#define TRACE_REFUSAL(r, from, m, ...)                                                         \
	TRACE(r, "refuses %s from %s at t%" PRIu64 ": %s", req_name(m), from, (m)->term,      \
	      (trace_why(r, __VA_ARGS__), (r)->trace_buf))

static const char *req_name(const struct raft_msg *m)
{
	return m->type == RAFT_MSG_RV_REQ && m->rv.pre_vote ? "pre-vote" : msg_name(m->type);
}

__attribute__((format(printf, 2, 3))) static void trace_why(struct raft *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->trace_buf, sizeof(r->trace_buf), fmt, ap);
	va_end(ap);
}

static void refuse(struct raft *r, const char *from, const struct raft_msg *m, enum raft_refusal why)
{
	TRACE_REFUSAL(r, from, m, "%s", refusal_name(why));
	struct raft_action *a = emit(r, RAFT_ACT_REFUSED);
	if (a) {
		a->refused.from = stable_str(r, from);
		a->refused.msg_type = m->type;
		a->refused.term = m->term;
		a->refused.why = why;
	}
}

static void emit_role(struct raft *r)
{
	struct raft_action *a = emit(r, RAFT_ACT_ROLE);
	if (a) {
		a->role.role = r->role;
		a->role.term = r->term;
		a->role.leader = stable_str(r, r->leader);
	}
}

/* ---- log and durability ---------------------------------------------- */

static void push_op(struct raft *r, uint64_t seq, raft_index trunc_floor)
{
	if (grow((void **)&r->ops, &r->ops_cap, r->n_ops + 1, sizeof(*r->ops))) {
		r->oom = true;
		return;
	}
	r->ops[r->n_ops++] = (struct log_op){seq, r->last, trunc_floor};
}

static void config_recompute(struct raft *r);

static void log_truncate(struct raft *r, raft_index from)
{
	r->last = from - 1;
	/* What is on disk beyond from - 1 no longer matches memory. */
	if (r->durable > r->last)
		r->durable = r->last;
	struct raft_action *a = emit(r, RAFT_ACT_TRUNCATE);
	uint64_t seq = ++r->log_seq;
	if (a) {
		a->truncate.from = from;
		a->truncate.seq = seq;
	}
	push_op(r, seq, from - 1);
	size_t n = r->n_changes;
	while (n > 0 && r->changes[n - 1].index >= from)
		n--;
	if (n != r->n_changes) {
		TRACE(r, "configuration: drops %zu change(s) from index %" PRIu64, r->n_changes - n, from);
		r->n_changes = n;
		config_recompute(r);
	}
}

static int log_put(struct raft *r, const struct raft_entry *e, raft_index index, raft_term term)
{
	if (grow((void **)&r->log, &r->log_cap, index - r->start, sizeof(*r->log))) {
		r->oom = true;
		return -ENOMEM;
	}
	*meta_at(r, index) = (struct meta){term, e->size, (uint8_t)e->type};
	r->last = index;
	if (e->type == RAFT_ENTRY_JOIN || e->type == RAFT_ENTRY_LEAVE || e->type == RAFT_ENTRY_LEARNER) {
		if (grow((void **)&r->changes, &r->changes_cap, r->n_changes + 1, sizeof(*r->changes))) {
			r->oom = true;
			return -ENOMEM;
		}
		struct conf_change *c = &r->changes[r->n_changes++];
		c->index = index;
		c->type = e->type;
		copy_name(c->name, e->name, sizeof(c->name));
		copy_name(c->url, e->url, sizeof(c->url));
		config_recompute(r);
	}
	return 0;
}

/* Append entries[0..n) at last + 1; term < 0 means "keep each entry's term". */
static int log_append(struct raft *r, const struct raft_entry *entries, size_t n, bool use_term,
		      raft_term term, enum raft_src src, size_t offset)
{
	raft_index first = r->last + 1;
	for (size_t k = 0; k < n; k++) {
		int rv = log_put(r, &entries[k], first + k, use_term ? term : entries[k].term);
		if (rv)
			return rv;
		enum raft_entry_type t = entries[k].type;
		if (t == RAFT_ENTRY_JOIN || t == RAFT_ENTRY_LEAVE || t == RAFT_ENTRY_LEARNER)
			TRACE(r, "configuration: %s %s at %" PRIu64 ", %zu member(s)", change_name(t),
			      entries[k].name ? entries[k].name : "", first + k, r->n_members);
	}
	struct raft_action *a = emit(r, RAFT_ACT_APPEND);
	uint64_t seq = ++r->log_seq;
	if (a) {
		a->append.first = first;
		a->append.n = n;
		a->append.src = src;
		a->append.event_offset = offset;
		a->append.seq = seq;
	}
	push_op(r, seq, NO_TRUNC);
	return 0;
}

static void on_durable(struct raft *r, uint64_t seq)
{
	size_t k = 0;
	raft_index d = r->durable;
	while (k < r->n_ops && r->ops[k].seq <= seq)
		d = r->ops[k++].last_after;
	if (k == 0)
		return;
	/* Later truncations (still in flight) cut what is durable and matching. */
	for (size_t j = k; j < r->n_ops; j++)
		if (r->ops[j].trunc_floor < d)
			d = r->ops[j].trunc_floor;
	memmove(r->ops, r->ops + k, (r->n_ops - k) * sizeof(*r->ops));
	r->n_ops -= k;
	r->durable = d;
}

/* ---- configuration ---------------------------------------------------- */

static int member_pos(const struct raft *r, const char *name)
{
	for (size_t i = 0; i < r->n_members; i++)
		if (strcmp(r->members[i].name, name) == 0)
			return (int)i;
	return -1;
}

static size_t voters_in(const struct member *m, size_t n)
{
	size_t v = 0;
	for (size_t i = 0; i < n; i++)
		v += !m[i].learner;
	return v;
}

/* Apply one change to a member list. Returns true when it added a voter.
 * A join of a known voter is a silent no-op (goraft AddPeer); a join of a
 * learner promotes it; a learner entry adds a non-voter. */
static bool apply_change(struct member *m, size_t *n, const struct conf_change *c)
{
	size_t pos = 0;
	while (pos < *n && strcmp(m[pos].name, c->name) != 0)
		pos++;
	if (c->type == RAFT_ENTRY_LEAVE) {
		if (pos < *n)
			m[pos] = m[--*n];
		return false;
	}
	if (pos < *n) {
		if (c->type == RAFT_ENTRY_JOIN && m[pos].learner) {
			m[pos].learner = false;
			return true;
		}
		return false;
	}
	if (*n >= RAFT_MAX_PEERS || !c->name[0])
		return false;
	copy_name(m[*n].name, c->name, sizeof(m[*n].name));
	copy_name(m[*n].url, c->url, sizeof(m[*n].url));
	m[*n].learner = c->type == RAFT_ENTRY_LEARNER;
	(*n)++;
	return c->type == RAFT_ENTRY_JOIN;
}

static void config_recompute(struct raft *r)
{
	memcpy(r->members, r->base, r->n_base * sizeof(r->base[0]));
	r->n_members = r->n_base;
	r->join_fallback = false;
	for (size_t k = 0; k < r->n_changes; k++) {
		const struct conf_change *c = &r->changes[k];
		bool lone = voters_in(r->members, r->n_members) == 1 && member_pos(r, r->name) >= 0 &&
			    !r->members[member_pos(r, r->name)].learner;
		if (apply_change(r->members, &r->n_members, c) && k + 1 == r->n_changes && lone) {
			r->join_fallback = true;
			copy_name(r->joiner, c->name, sizeof(r->joiner));
		}
	}
	/* Every member has a peer slot (for the goraft flag and leader state);
	 * one that (re)enters the configuration starts from scratch, so a
	 * re-added name never inherits an old matchIndex. */
	for (int i = 0; i < RAFT_MAX_PEERS; i++) {
		struct peer *p = &r->peers[i];
		if (!p->used || member_pos(r, p->name) >= 0)
			continue;
		p->member = false;
		/* no change of its own left in the log: its leave, if any, was
		 * compacted into the snapshot, and leave_index stays */
		for (size_t k = r->n_changes; k-- > 0;) {
			if (strcmp(r->changes[k].name, p->name) != 0)
				continue;
			raft_index leave = r->changes[k].type == RAFT_ENTRY_LEAVE ? r->changes[k].index : 0;
			if (leave != p->leave_index) {
				p->leave_index = leave;
				p->leave_until = 0;
			}
			break;
		}
	}
	for (size_t i = 0; i < r->n_members; i++) {
		if (strcmp(r->members[i].name, r->name) == 0)
			continue;
		struct peer *p = peer_get(r, r->members[i].name);
		if (p)
			copy_name(p->url, r->members[i].url, sizeof(p->url));
		if (p && !p->member) {
			p->member = true;
			p->leave_index = 0;
			p->next = r->last + 1;
			p->match = 0;
			p->holds = HOLDS_UNKNOWN;
			p->n_fl = 0;
			p->last_send = 0;
			p->probing = true;
			p->fresh = true;
			p->snap_state = SNAP_NONE;
			p->heard = false;
		}
	}
}

/* The configuration as of index i (start <= i <= last) into out[]. */
static size_t config_at(const struct raft *r, raft_index i, struct member *out)
{
	size_t n = r->n_base;
	memcpy(out, r->base, n * sizeof(*out));
	for (size_t k = 0; k < r->n_changes && r->changes[k].index <= i; k++)
		apply_change(out, &n, &r->changes[k]);
	return n;
}

/* Drop entries <= upto from memory (a durable snapshot covers them). */
static void log_compact(struct raft *r, raft_index upto)
{
	if (upto <= r->start || upto > r->last)
		return;
	r->n_base = config_at(r, upto, r->base);
	size_t k = 0;
	while (k < r->n_changes && r->changes[k].index <= upto)
		k++;
	if (k > 0) {
		memmove(r->changes, r->changes + k, (r->n_changes - k) * sizeof(*r->changes));
		r->n_changes -= k;
	}
	raft_term t = term_at(r, upto);
	if (r->last > upto)
		memmove(r->log, meta_at(r, upto + 1), (r->last - upto) * sizeof(*r->log));
	/* The array only doubles as entries come: after a snapshot of a long
	 * log (1M entries: 16 MiB) most of it is empty. Give back all but
	 * twice what is left; a failed shrink keeps the old array. */
	size_t left = (size_t)(r->last - upto), want = 16;
	while (want < 2 * left)
		want *= 2;
	if (r->log_cap > 4 * want) {
		struct meta *p = raft_realloc(r->log, want * sizeof(*r->log));
		if (p) {
			r->log = p;
			r->log_cap = want;
		}
	}
	r->start = upto;
	r->start_term = t;
	struct raft_action *a = emit(r, RAFT_ACT_COMPACT);
	if (a)
		a->compact.upto = upto;
}

static void set_snapshot(struct raft *r, raft_index index, raft_term term, const struct member *m,
			 size_t n)
{
	r->snap_index = index;
	r->snap_term = term;
	memcpy(r->snap_members, m, n * sizeof(*m));
	r->n_snap_members = n;
	for (size_t i = 0; i < n; i++) {
		r->snap_info[i].name = r->snap_members[i].name;
		r->snap_info[i].url = r->snap_members[i].url;
		r->snap_info[i].learner = r->snap_members[i].learner;
	}
}

static bool is_self(const struct raft *r, const char *name)
{
	return strcmp(r->name, name) == 0;
}

static bool self_voter(const struct raft *r)
{
	int pos = member_pos(r, r->name);
	return pos >= 0 && !r->members[pos].learner;
}

/* raftd-only extensions run only while no member is a goraft node. */
static bool extensions_on(const struct raft *r)
{
	for (size_t i = 0; i < r->n_members; i++)
		for (int k = 0; k < RAFT_MAX_PEERS; k++)
			if (r->peers[k].used && r->peers[k].goraft &&
			    strcmp(r->peers[k].name, r->members[i].name) == 0)
				return false;
	return true;
}

/* Index of the latest membership change naming this node, or 0. */
static raft_index own_change(const struct raft *r, enum raft_entry_type type)
{
	for (size_t k = r->n_changes; k > 0; k--)
		if (is_self(r, r->changes[k - 1].name))
			return r->changes[k - 1].type == type ? r->changes[k - 1].index : 0;
	return 0;
}

/* Is `count(member)` true for a majority of the configuration? Raft §6:
 * every decision (votes, commit) uses the latest configuration in the log. */
static bool quorum(const struct raft *r, bool (*count)(const struct raft *, const char *))
{
	size_t yes = 0, voters = 0;
	for (size_t i = 0; i < r->n_members; i++) {
		if (r->members[i].learner)
			continue;
		voters++;
		if (count(r, r->members[i].name))
			yes++;
	}
	return voters > 0 && 2 * yes > voters;
}

/* ---- outgoing messages ---------------------------------------------- */

static void flush_held(struct raft *r)
{
	if (r->hs_durable_seq < r->hs_seq)
		return;
	size_t keep = 0;
	for (size_t k = 0; k < r->n_held; k++) {
		struct held *h = &r->held[k];
		if (h->msg.term < r->term)
			continue; /* written for an older term: useless now */
		if (h->need_durable > r->durable) {
			r->held[keep++] = *h;
			continue;
		}
		struct raft_action *a = emit(r, RAFT_ACT_SEND);
		if (a) {
			a->send.to = r->peers[h->peer].name;
			a->send.msg = h->msg;
		}
	}
	r->n_held = keep;
}

static void send_msg(struct raft *r, struct peer *p, const struct raft_msg *msg, raft_index need)
{
	if (!p)
		return;
	if (r->hs_durable_seq >= r->hs_seq && need <= r->durable) {
		struct raft_action *a = emit(r, RAFT_ACT_SEND);
		if (a) {
			a->send.to = p->name;
			a->send.msg = *msg;
		}
		return;
	}
	if (grow((void **)&r->held, &r->held_cap, r->n_held + 1, sizeof(*r->held))) {
		r->oom = true;
		return;
	}
	r->held[r->n_held++] = (struct held){(int)(p - r->peers), *msg, need};
}

static void persist_hard_state(struct raft *r)
{
	struct raft_action *a = emit(r, RAFT_ACT_PERSIST);
	r->hs_seq++;
	if (a) {
		a->persist.term = r->term;
		a->persist.vote = stable_str(r, r->vote);
		a->persist.seq = r->hs_seq;
	}
}

/* ---- roles and elections --------------------------------------------- */

static void clear_flights(struct peer *p)
{
	p->n_fl = 0;
	p->next = p->match + 1;
}

static void send_msg(struct raft *r, struct peer *p, const struct raft_msg *msg, raft_index need);

/* A read is confirmed at index, or failed (index 0): our own is told to
 * the caller, a follower's is answered to that follower. */
static void answer_read(struct raft *r, const struct read *rd, raft_index index)
{
	if (rd->peer < 0) {
		struct raft_action *a = emit(r, RAFT_ACT_READ);
		if (a) {
			a->read.id = rd->id;
			a->read.index = index;
		}
		return;
	}
	struct peer *p = &r->peers[rd->peer];
	if (!p->used || strcmp(p->name, rd->from) != 0)
		return; /* it left meanwhile; it retries elsewhere */
	struct raft_msg m = {.type = RAFT_MSG_READ_INDEX_RESP, .req_id = rd->req_id, .term = r->term};
	m.read_index_resp.success = index > 0;
	m.read_index_resp.index = index;
	send_msg(r, p, &m, 0);
}

static void fail_reads(struct raft *r)
{
	for (size_t k = 0; k < r->n_reads; k++)
		answer_read(r, &r->reads[k], 0);
	r->n_reads = 0;
}

/* Raft §5.1: a higher term makes any node a follower; persisted before it
 * is acted on (votes and replies wait for PERSISTED). */
static void become_follower(struct raft *r, raft_term term, const char *leader)
{
	bool changed = r->role != RAFT_FOLLOWER || term != r->term || strcmp(r->leader, leader);
	enum raft_role was = r->role;
	raft_term was_term = r->term;
	fail_reads(r);
	r->transfer_to[0] = '\0';
	if (term > r->term) {
		r->term = term;
		r->vote[0] = '\0';
		persist_hard_state(r);
	}
	r->role = RAFT_FOLLOWER;
	r->prevoting = false;
	copy_name(r->leader, leader, sizeof(r->leader));
	if (changed) {
		if (was != RAFT_FOLLOWER || was_term != r->term)
			TRACE(r, "follower%s%s (was %s at t%" PRIu64 ")", leader[0] ? " of " : "", leader,
			      raft_role_name(was), was_term);
		else
			TRACE(r, "follower%s%s", leader[0] ? " of " : ", leader unknown", leader);
		emit_role(r);
	}
}

static bool voted_for_me(const struct raft *r, const char *name)
{
	if (strcmp(r->name, name) == 0)
		return true;
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		if (r->peers[i].used && strcmp(r->peers[i].name, name) == 0)
			return r->peers[i].voted;
	return false;
}

static bool prevoted_for_me(const struct raft *r, const char *name)
{
	if (strcmp(r->name, name) == 0)
		return true;
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		if (r->peers[i].used && strcmp(r->peers[i].name, name) == 0)
			return r->peers[i].prevoted;
	return false;
}

static void become_leader(struct raft *r);

static raft_index own_change(const struct raft *r, enum raft_entry_type type);

/* A node campaigns only with a non-empty log (goraft promotable), while it
 * is a voter of its own configuration, and never once removed. One
 * exception: while its own raft:leave is not committed it may be the only
 * node holding it (the simulator found that deadlock with one voter down),
 * so it may still lead, without counting itself, until the leave commits
 * (Raft §6: a leader outside C_new steps down once C_new commits). */
static bool can_campaign(const struct raft *r)
{
	if (r->removed || r->recovering || r->last == 0 || r->term >= RAFT_TERM_MAX)
		return false;
	return self_voter(r) || own_change(r, RAFT_ENTRY_LEAVE) > r->commit;
}

static void start_election(struct raft *r, bool transfer)
{
	assert(r->term < RAFT_TERM_MAX); /* can_campaign(): terms never wrap */
	enum raft_role was = r->role;
	r->term++;
	r->prevoting = false;
	copy_name(r->vote, r->name, sizeof(r->vote));
	persist_hard_state(r);
	r->role = RAFT_CANDIDATE;
	r->leader[0] = '\0';
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		r->peers[i].voted = false;
	reset_election_timer(r);
	TRACE(r, "candidate (was %s), log %" PRIu64 "/%" PRIu64 "%s", raft_role_name(was), r->last,
	      last_term(r), transfer ? ", by transfer" : "");
	emit_role(r);
	if (quorum(r, voted_for_me)) {
		become_leader(r);
		return;
	}
	struct raft_msg m = {.type = RAFT_MSG_RV_REQ, .term = r->term};
	m.rv.last_index = r->last;
	m.rv.last_term = last_term(r);
	m.rv.transfer = transfer && extensions_on(r);
	for (size_t i = 0; i < r->n_members; i++) {
		if (is_self(r, r->members[i].name) || r->members[i].learner)
			continue;
		m.req_id = ++r->next_req_id;
		send_msg(r, peer_get(r, r->members[i].name), &m, 0);
	}
}

/* Thesis §9.6: ask whether we could win at term + 1 before disturbing
 * anyone, so a node returning from a partition (or a member that missed its
 * own removal) does not depose a healthy leader. No state changes. */
static void start_pre_vote(struct raft *r)
{
	r->prevoting = true;
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		r->peers[i].prevoted = false;
	reset_election_timer(r);
	TRACE(r, "pre-vote for t%" PRIu64 ", log %" PRIu64 "/%" PRIu64, r->term + 1, r->last, last_term(r));
	if (quorum(r, prevoted_for_me)) {
		start_election(r, false);
		return;
	}
	struct raft_msg m = {.type = RAFT_MSG_RV_REQ, .term = r->term + 1};
	m.rv.last_index = r->last;
	m.rv.last_term = last_term(r);
	m.rv.pre_vote = true;
	for (size_t i = 0; i < r->n_members; i++) {
		if (is_self(r, r->members[i].name) || r->members[i].learner)
			continue;
		m.req_id = ++r->next_req_id;
		send_msg(r, peer_get(r, r->members[i].name), &m, 0);
	}
}

static void replicate(struct raft *r, bool heartbeat);

static void become_leader(struct raft *r)
{
	r->role = RAFT_LEADER;
	r->leader_since = r->now;
	copy_name(r->leader, r->name, sizeof(r->leader));
	for (int i = 0; i < RAFT_MAX_PEERS; i++) {
		struct peer *p = &r->peers[i];
		/* goraft leaderLoop: prevLogIndex = leader's last index */
		p->match = 0;
		p->holds = HOLDS_UNKNOWN;
		p->n_fl = 0;
		p->next = r->last + 1;
		p->last_send = 0;
		p->probing = true;
		p->fresh = true;
		p->last_ack = r->now;
		p->heard = false;
		p->snap_state = SNAP_NONE;
	}
	TRACE(r, "leader, nop at %" PRIu64, r->last + 1);
	emit_role(r);
	/* goraft leaderLoop / Raft §8: a nop of the new term, so that the
	 * commit rule (§5.4.2) can commit what earlier leaders left. */
	struct raft_entry nop = {.type = RAFT_ENTRY_NOP};
	log_append(r, &nop, 1, true, r->term, RAFT_SRC_CORE, 0);
	r->term_start = r->last;
	replicate(r, true);
}

/* ---- replication and commit (leader) -------------------------------- */

static unsigned flight_limit(const struct raft *r, const struct peer *p)
{
	/* docs/goraft-protocol.md §6.3, §10.1.8: one request in flight to a
	 * goraft peer */
	if (p->goraft || p->probing)
		return 1;
	unsigned n = r->cfg.max_inflight;
	return n == 0 ? 1 : (n > RAFT_MAX_INFLIGHT ? RAFT_MAX_INFLIGHT : n);
}

/* goraft peer.go flush: a peer that needs compacted entries gets the snapshot,
 * in two steps (SnapshotRequest, then SnapshotRecoveryRequest). Never to a
 * goraft peer: raftd panics on it (docs/goraft-protocol.md §8.4, §10.3); and
 * while a goraft node is a member nothing is compacted, so it never needs one. */
static void send_snapshot_request(struct raft *r, struct peer *p)
{
	if (p->goraft || p->snap_state != SNAP_NONE)
		return;
	/* goraft's SnapshotRequest has no term; ours carries it for the core's
	 * own bookkeeping (the daemon does not send it) */
	struct raft_msg m = {.type = RAFT_MSG_SNAP_REQ, .req_id = ++r->next_req_id, .term = r->term};
	m.snap.last_index = r->snap_index;
	m.snap.last_term = r->snap_term;
	p->snap_state = SNAP_ASKED;
	p->snap_id = m.req_id;
	p->snap_sent_at = r->now;
	p->last_send = r->now;
	p->fresh = false;
	send_msg(r, p, &m, 0);
}

/* Returns false when the peer needs a snapshot instead. */
static bool send_append(struct raft *r, struct peer *p)
{
	raft_index prev = p->next ? p->next - 1 : 0;
	if (prev > r->last)
		prev = r->last;
	if (prev < r->start) {
		send_snapshot_request(r, p);
		return false;
	}
	/* A goraft follower deletes every entry after PrevLogIndex on each
	 * request it accepts, heartbeats included (docs/goraft-protocol.md
	 * §6.2 step 3, §11.9). The entries it holds that match ours may
	 * already count towards a commit (ours or an earlier leader's), so a
	 * request must give them all back: it carries every entry up to where
	 * that follower's log may end, caps or not (goraft's own leader sends
	 * a new peer the whole log uncapped). Entries beyond our last index
	 * may go: they are not committed (Leader Completeness). Until its
	 * first answer, the follower may hold all of our log. A raftd follower
	 * only truncates on a conflict: the caps alone apply. */
	raft_index reach = prev;
	if (p->goraft)
		reach = p->holds < r->last ? p->holds : r->last;
	raft_index n = 0;
	uint64_t bytes = 0;
	while (prev + n < r->last) {
		uint64_t sz = meta_at(r, prev + n + 1)->size;
		if (prev + n >= reach &&
		    (n >= r->cfg.max_entries || (n > 0 && bytes + sz > r->cfg.max_bytes)))
			break;
		bytes += sz;
		n++;
	}
	struct raft_msg m = {.type = RAFT_MSG_AE_REQ, .req_id = ++r->next_req_id, .term = r->term};
	m.ae.prev_index = prev;
	m.ae.prev_term = term_at(r, prev);
	m.ae.commit = r->commit;
	m.ae.n_entries = n;
	p->fl[p->n_fl++] = (struct flight){m.req_id, r->term, prev, prev + n, r->now, r->read_seq};
	p->next = prev + n + 1;
	if (p->goraft && p->holds != HOLDS_UNKNOWN && prev + n > p->holds)
		p->holds = prev + n; /* if it arrives, the log ends there */
	p->last_send = r->now;
	p->fresh = false;
	send_msg(r, p, &m, 0);
	return true;
}

/* Send to every member peer what it lacks (pipelined up to the flight
 * limit), or a heartbeat when it has been quiet for heartbeat_ms. */
static void replicate_peer(struct raft *r, struct peer *p, bool heartbeat);

static void replicate(struct raft *r, bool heartbeat)
{
	for (size_t i = 0; i < r->n_members; i++) {
		if (is_self(r, r->members[i].name))
			continue;
		struct peer *p = peer_get(r, r->members[i].name);
		if (p)
			replicate_peer(r, p, heartbeat);
	}
	/* A removed member still gets its raft:leave (or, once that is
	 * compacted, the snapshot covering it) and the commit index that
	 * covers it, so that it stops instead of lingering (goraft also sends
	 * a removed node a final AppendEntries, docs/goraft-protocol.md
	 * §10.2.5, §11.11). However long it lags or is paused: a time limit
	 * counted from the commit left a paused member running for good. Done
	 * a few election timeouts after it has the entry (those heartbeats
	 * carry the commit), or once it has not answered for
	 * depart_timeout_ms: it may be gone for good. */
	for (int i = 0; i < RAFT_MAX_PEERS; i++) {
		struct peer *p = &r->peers[i];
		if (!p->used || p->member || !p->leave_index || p->leave_index > r->last)
			continue;
		if (r->now - p->last_ack > r->cfg.depart_timeout_ms) {
			p->leave_index = 0;
			continue;
		}
		if (p->match >= p->leave_index && r->commit >= p->leave_index) {
			if (!p->leave_until)
				p->leave_until = r->now + 3 * (uint64_t)r->cfg.election_timeout_ms;
			if (r->now > p->leave_until) {
				p->leave_index = 0;
				continue;
			}
		}
		replicate_peer(r, p, heartbeat);
	}
}

/* Is there a whole AppendEntries' worth (max_entries or max_bytes) for p
 * from p->next on? Only whole requests are pipelined behind one in flight:
 * a follower makes each request durable before it answers, so a small
 * request sent behind another costs it a disk flush of its own and delays
 * every later one, while entries that wait for the answer go out together,
 * in one flush. A follower catching up still gets full requests back to
 * back. Measured (3 nodes, 64 connections): half the follower flushes and
 * up to twice the writes/s of always filling the pipeline. */
static bool append_full(const struct raft *r, const struct peer *p)
{
	uint64_t bytes = 0;

	/* entries are held from start + 1 on; from start or before,
	 * send_append() asks for a snapshot */
	if (p->next <= r->start || r->last - p->next + 1 >= r->cfg.max_entries)
		return true;
	for (raft_index i = p->next; i <= r->last; i++) {
		bytes += meta_at(r, i)->size;
		if (bytes >= r->cfg.max_bytes)
			return true;
	}
	return false;
}

static void replicate_peer(struct raft *r, struct peer *p, bool heartbeat)
{
	/* a request unanswered for rpc_timeout_ms is lost: start over
	 * from matchIndex; a goraft peer from where the lost request
	 * started (goraft peer.go: no response changes nothing), not
	 * from an old matchIndex (0 early in a term), which would cost
	 * it the whole log again */
	if (p->n_fl > 0 && r->now - p->fl[0].sent_at >= r->cfg.rpc_timeout_ms) {
		raft_index retry = p->fl[0].prev + 1;
		clear_flights(p);
		if (p->goraft && retry > p->next)
			p->next = retry;
	}
	if (p->snap_state != SNAP_NONE) {
		/* a transfer may take long, but not forever */
		if (r->now - p->snap_sent_at < 10 * (uint64_t)r->cfg.rpc_timeout_ms)
			return;
		p->snap_state = SNAP_NONE;
	}
	unsigned limit = flight_limit(r, p);
	bool ok = true;
	while (ok && p->n_fl < limit && p->next <= r->last && (p->n_fl == 0 || append_full(r, p)))
		ok = send_append(r, p);
	unsigned hb = r->cfg.heartbeat_ms;
	if (p->goraft && hb > RAFT_GORAFT_HEARTBEAT_MS)
		hb = RAFT_GORAFT_HEARTBEAT_MS;
	if (ok && p->n_fl < limit && (heartbeat || p->fresh || r->now - p->last_send >= hb))
		send_append(r, p);
}

static int cmp_index_desc(const void *a, const void *b)
{
	raft_index x = *(const raft_index *)a, y = *(const raft_index *)b;
	return x < y ? 1 : (x > y ? -1 : 0);
}

static raft_index match_of(const struct raft *r, const char *name)
{
	if (strcmp(name, r->name) == 0)
		return r->durable; /* the leader's own write runs in parallel */
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		if (r->peers[i].used && strcmp(r->peers[i].name, name) == 0)
			return r->peers[i].match;
	return 0;
}

/* Highest index stored on a majority of the members, skipping `skip`. */
static raft_index majority_match(const struct raft *r, const char *skip)
{
	raft_index m[RAFT_MAX_PEERS];
	size_t n = 0;
	for (size_t i = 0; i < r->n_members; i++)
		if (!r->members[i].learner && (!skip || strcmp(r->members[i].name, skip) != 0))
			m[n++] = match_of(r, r->members[i].name);
	if (n == 0)
		return 0;
	qsort(m, n, sizeof(m[0]), cmp_index_desc);
	return m[n / 2];
}

static void leader_maybe_commit(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	raft_index n = majority_match(r, NULL);
	if (r->join_fallback) {
		raft_index old = majority_match(r, r->joiner);
		if (old > n)
			n = old;
	}
	if (r->cfg.fault == RAFT_FAULT_COMMIT_WITHOUT_MAJORITY)
		n = r->last; /* negative control: the simulator must catch this */
	/* Raft §5.4.2: only an entry of the current term commits by counting
	 * replicas; earlier ones commit with it (Log Matching). */
	if (n > r->commit && term_at(r, n) == r->term)
		r->commit = n;
}

static void on_ae_response(struct raft *r, struct peer *p, const struct raft_msg *m)
{
	if (m->term > r->term && p && p->goraft && !p->member) {
		/* A goraft member removed while it kept running campaigns on
		 * its own (docs/goraft-protocol.md §7.4): its term is not the
		 * cluster's, and it takes nothing from us any more. */
		p->leave_index = 0;
		return;
	}
	if (m->term > r->term) {
		become_follower(r, m->term, "");
		reset_election_timer(r);
		return;
	}
	if (r->role != RAFT_LEADER || !p)
		return;
	unsigned k = 0;
	while (k < p->n_fl && p->fl[k].id != m->req_id)
		k++;
	if (k == p->n_fl)
		return; /* an answer to a request given up on, or a duplicate */
	struct flight f = p->fl[k];
	memmove(&p->fl[k], &p->fl[k + 1], (p->n_fl - k - 1) * sizeof(p->fl[0]));
	p->n_fl--;
	if (f.term != r->term || m->term < f.term)
		return;
	if (p->goraft) {
		/* Its log ends at Index now (one request in flight, in order);
		 * anything still in flight may extend it. */
		p->holds = m->ae_resp.index;
		for (unsigned j = 0; j < p->n_fl; j++)
			if (p->fl[j].last > p->holds)
				p->holds = p->fl[j].last;
	}
	p->last_ack = r->now;
	p->heard = true;
	p->heard_at = r->now;
	/* any answer at our term shows we still led when it was sent */
	if (f.read_seq > p->read_ack)
		p->read_ack = f.read_seq;
	if (m->ae_resp.success) {
		/* goraft peer.go: prevLogIndex = last index sent; our follower's
		 * Index may cover unverified entries, so it is not used. */
		if (p->goraft || f.last > p->match)
			p->match = f.last;
		p->probing = false;
		p->backoff = 0;
		if (p->next < p->match + 1)
			p->next = p->match + 1;
		leader_maybe_commit(r);
	} else {
		/* Back off with the reply's CommitIndex and Index, not one
		 * entry at a time (docs/goraft-protocol.md §6.3 b/c, §10.2.3,
		 * §11.9). Committed entries of the follower are in our log
		 * (Leader Completeness), so its commit index is a safe lower
		 * bound. */
		raft_index c = m->ae_resp.commit, prev;
		if (c >= f.prev) {
			prev = c;
		} else {
			/* A mismatch: step back exponentially (1, 2, 4...) so a
			 * long divergent suffix costs O(log n) round trips;
			 * overshooting only resends entries the follower has. */
			raft_index step = p->backoff ? p->backoff : 1;
			prev = f.prev > step ? f.prev - step : 0;
			p->backoff = step * 2;
			if (m->ae_resp.index < prev)
				prev = m->ae_resp.index;
			if (prev < c)
				prev = c;
		}
		if (prev > r->last)
			prev = r->last;
		p->n_fl = 0;
		p->probing = true;
		if (p->goraft && p->match > prev)
			p->match = prev;
		/* A raftd follower's Index is its last index, or a hint never
		 * below its matching prefix: one below matchIndex means it lost
		 * entries it had acknowledged (a wiped or damaged WAL). Follow
		 * it down, or every request would start past its log end.
		 * Lowering matchIndex only delays commits. */
		if (!p->goraft && m->ae_resp.index < p->match)
			p->match = m->ae_resp.index;
		if (p->match > prev)
			prev = p->match;
		p->next = prev + 1;
	}
	unsigned limit = flight_limit(r, p);
	bool ok = p->snap_state == SNAP_NONE;
	while (ok && p->n_fl < limit && p->next <= r->last && (p->n_fl == 0 || append_full(r, p)))
		ok = send_append(r, p);
	if (ok && !m->ae_resp.success && p->n_fl == 0)
		send_append(r, p);
}

static void on_snap_response(struct raft *r, struct peer *p, const struct raft_msg *m)
{
	if (r->role != RAFT_LEADER || !p || p->snap_state != SNAP_ASKED || m->req_id != p->snap_id)
		return;
	if (!m->snap_resp.success) {
		/* it already holds the snapshot's last entry: AppendEntries on */
		p->snap_state = SNAP_NONE;
		p->next = r->snap_index + 1;
		p->n_fl = 0;
		if (p->next > r->start)
			send_append(r, p);
		return;
	}
	struct raft_msg s = {.type = RAFT_MSG_SNAPREC_REQ, .req_id = ++r->next_req_id, .term = r->term};
	s.snaprec.last_index = r->snap_index;
	s.snaprec.last_term = r->snap_term;
	s.snaprec.n_peers = r->n_snap_members;
	s.snaprec.peers = r->snap_info;
	p->snap_state = SNAP_SENDING;
	p->snap_id = s.req_id;
	p->snap_sent_at = r->now;
	send_msg(r, p, &s, 0);
}

static void on_snaprec_response(struct raft *r, struct peer *p, const struct raft_msg *m)
{
	if (m->term > r->term) {
		become_follower(r, m->term, "");
		reset_election_timer(r);
		return;
	}
	if (r->role != RAFT_LEADER || !p || p->snap_state != SNAP_SENDING || m->req_id != p->snap_id)
		return;
	p->snap_state = SNAP_NONE;
	if (m->snaprec_resp.success && m->snaprec_resp.commit <= r->last) {
		if (m->snaprec_resp.commit > p->match)
			p->match = m->snaprec_resp.commit;
		p->next = p->match + 1;
		p->probing = false;
		p->last_ack = r->now;
		p->heard = true;
		p->heard_at = r->now;
		leader_maybe_commit(r);
	}
	p->n_fl = 0;
	unsigned limit = flight_limit(r, p);
	bool ok = true;
	while (ok && p->n_fl < limit && p->next <= r->last && (p->n_fl == 0 || append_full(r, p)))
		ok = send_append(r, p);
}

/* ---- follower and voter rules ---------------------------------------- */

static void reply_ae(struct raft *r, struct peer *p, const struct raft_msg *req, bool ok,
		     raft_index need, raft_index hint)
{
	struct raft_msg m = {.type = RAFT_MSG_AE_RESP, .req_id = req->req_id, .term = r->term};
	m.ae_resp.success = ok;
	m.ae_resp.index = hint; /* goraft: log.currentIndex(), or lower (below) */
	m.ae_resp.commit = r->commit;
	if (!ok) {
		/* docs/goraft-protocol.md §10.3, §11.6: never report more than
		 * PrevLogIndex + len so a goraft leader does not move past its
		 * own log end */
		raft_index cap = req->ae.prev_index + req->ae.n_entries;
		if (m.ae_resp.commit > cap)
			m.ae_resp.commit = cap;
	}
	send_msg(r, p, &m, need);
}

static bool entries_valid(const struct raft *r, const struct raft_msg *req)
{
	raft_term prev_term = req->ae.prev_term;
	for (size_t k = 0; k < req->ae.n_entries; k++) {
		const struct raft_entry *e = &req->ae.entries[k];
		if (e->index != req->ae.prev_index + 1 + k || e->term > req->term)
			return false;
		if ((req->ae.prev_index > 0 || k > 0) && e->term < prev_term)
			return false;
		if (e->type < RAFT_ENTRY_NOP || e->type > RAFT_ENTRY_LEARNER)
			return false;
		if ((e->type == RAFT_ENTRY_JOIN || e->type == RAFT_ENTRY_LEAVE ||
		     e->type == RAFT_ENTRY_LEARNER) &&
		    (!e->name || !e->name[0]))
			return false;
		prev_term = e->term;
	}
	(void)r;
	return true;
}

static bool leader_recent(const struct raft *r);

/* Is an AppendEntries from `from` acceptable (docs/goraft-protocol.md
 * §11.21)? Without peer authentication a sender's name proves nothing, but
 * one outside our configuration is refused while we hear from a leader:
 * a stranger cannot take over a healthy cluster. Accepted: any sender
 * while we know no configuration (a joiner's first entries come from a
 * leader it does not know yet); a member; the leader we already follow in
 * this term; and, once no leader has been heard from for an election
 * timeout, anyone, for a leader may have joined in entries our log lacks
 * (a lagging follower whose configuration is old), and refusing it then
 * would leave us behind for good. */
static bool ae_sender_ok(const struct raft *r, const char *from, const struct raft_msg *req)
{
	if (r->n_members == 0 || member_pos(r, from) >= 0)
		return true;
	if (req->term == r->term && r->leader[0] && strcmp(from, r->leader) == 0)
		return true;
	return !leader_recent(r);
}

/* goraft server.go processAppendEntriesRequest, with Raft §5.3's truncation
 * (only on a real conflict), docs/goraft-protocol.md §11.4. */
static void on_ae_request(struct raft *r, struct peer *p, const char *from,
			  const struct raft_msg *req)
{
	if (req->term < r->term) {
		reply_ae(r, p, req, false, 0, r->last); /* §5.2.1: no timer reset */
		return;
	}
	if (!ae_sender_ok(r, from, req)) {
		refuse(r, from, req, RAFT_REFUSE_NOT_MEMBER);
		reply_ae(r, p, req, false, 0, r->last);
		return;
	}
	if (req->term == r->term && r->role == RAFT_LEADER) {
		/* Two leaders in one term: only a goraft node (unpersisted votes)
		 * gets here. Never answer a goraft leader at its own term
		 * (docs/goraft-protocol.md §10.3, §11.7): move to a higher term,
		 * which deposes it. */
		become_follower(r, r->term + 1, "");
		reset_election_timer(r);
		reply_ae(r, p, req, false, 0, r->last);
		return;
	}
	become_follower(r, req->term, from);
	reset_election_timer(r);
	r->leader_contact = r->now;
	if (r->recovering) {
		if (r->recover_term != r->term) {
			r->recover_term = r->term;
			r->recover_floor = 0;
		}
		if (req->ae.commit > r->recover_floor)
			r->recover_floor = req->ae.commit;
	}

	raft_index prev = req->ae.prev_index;
	if (prev > r->last || !entries_valid(r, req)) {
		reply_ae(r, p, req, false, 0, r->last);
		return;
	}
	size_t skip = 0;
	if (prev < r->start) {
		/* Entries up to start are in our snapshot, hence committed, hence
		 * in the leader's log (Leader Completeness): skip them, but the
		 * one at start, if sent, must agree with our snapshot. */
		skip = r->start - prev;
		if (skip > req->ae.n_entries)
			skip = req->ae.n_entries;
		if (prev + skip == r->start && skip > 0 &&
		    req->ae.entries[skip - 1].term != r->start_term) {
			reply_ae(r, p, req, false, 0, r->last);
			return;
		}
		if (prev + skip < r->start) {
			/* everything sent is below our snapshot: nothing to do */
			raft_index upto = prev + req->ae.n_entries;
			reply_ae(r, p, req, true, upto, r->last);
			return;
		}
	}
	if (skip == 0 && prev > 0 && term_at(r, prev) != req->ae.prev_term) {
		/* Faster back-off (docs/goraft-protocol.md §11.6): Index is
		 * only an upper bound for the leader's next PrevLogIndex, so
		 * point below the whole run of entries whose term exceeds
		 * PrevLogTerm; they cannot match. Never below the commit index
		 * (those entries match). */
		raft_index hint = r->last;
		if (prev > r->commit) {
			hint = prev - 1;
			while (hint > r->commit && term_at(r, hint) > req->ae.prev_term)
				hint--;
		}
		reply_ae(r, p, req, false, 0, hint);
		return;
	}
	size_t k = skip;
	for (; k < req->ae.n_entries; k++) {
		raft_index idx = prev + 1 + k;
		if (idx > r->last)
			break;
		if (term_at(r, idx) == req->ae.entries[k].term)
			continue;
		if (idx <= r->commit) {
			/* a leader contradicting a committed entry: refuse */
			reply_ae(r, p, req, false, 0, r->last);
			return;
		}
		log_truncate(r, idx);
		break;
	}
	if (k < req->ae.n_entries)
		log_append(r, req->ae.entries + k, req->ae.n_entries - k, false, 0, RAFT_SRC_EVENT, k);
	raft_index upto = prev + req->ae.n_entries;
	raft_index c = req->ae.commit < upto ? req->ae.commit : upto;
	if (c > r->commit)
		r->commit = c;
	reply_ae(r, p, req, true, upto, r->last);
}

static bool holds_entry(const struct raft *r, raft_index i, raft_term t)
{
	if (i < r->start)
		return i <= r->commit; /* compacted: committed, so it matches */
	return i <= r->last && term_at(r, i) == t;
}

/* Is this node in the configuration as of its commit index (the snapshot's
 * members, then the committed changes after it)? */
static bool committed_member(const struct raft *r)
{
	struct member m[RAFT_MAX_PEERS];
	size_t n = r->n_base;
	memcpy(m, r->base, n * sizeof(m[0]));
	for (size_t k = 0; k < r->n_changes && r->changes[k].index <= r->commit; k++)
		apply_change(m, &n, &r->changes[k]);
	for (size_t i = 0; i < n; i++)
		if (is_self(r, m[i].name))
			return true;
	return false;
}

/* Out of the cluster for good: never campaigns or leads again. */
static void set_removed(struct raft *r)
{
	if (r->removed)
		return;
	r->removed = true;
	TRACE(r, "removed from the configuration");
	if (r->role != RAFT_FOLLOWER) {
		fail_reads(r);
		r->role = RAFT_FOLLOWER;
		r->leader[0] = '\0';
		emit_role(r);
	}
	emit(r, RAFT_ACT_REMOVED);
}

/* goraft server.go processSnapshotRequest: "do you want my snapshot?". The
 * message carries no term; nothing changes here yet. */
static void on_snap_request(struct raft *r, struct peer *p, const char *from,
			    const struct raft_msg *req)
{
	struct raft_msg m = {.type = RAFT_MSG_SNAP_RESP, .req_id = req->req_id, .term = r->term};
	/* Only from the leader of our term, as AppendEntries (the message has
	 * no term: the leader we accepted AppendEntries from this term). One
	 * we do not know yet is told "no": it then sends AppendEntries, which
	 * make it our leader, and asks again. */
	if (!r->leader[0] || strcmp(from, r->leader) != 0) {
		refuse(r, from, req, RAFT_REFUSE_NOT_LEADER);
		send_msg(r, p, &m, 0);
		return;
	}
	m.snap_resp.success = r->role == RAFT_FOLLOWER &&
			      !holds_entry(r, req->snap.last_index, req->snap.last_term);
	if (m.snap_resp.success)
		reset_election_timer(r); /* the leader is busy with us */
	send_msg(r, p, &m, 0);
}

/* goraft server.go processSnapshotRecoveryRequest, made safe: the
 * snapshot holds committed state only, so installing it never loses a
 * committed entry; our term is never lowered (goraft sets it to LastTerm);
 * a log that already holds the snapshot's last entry keeps what follows
 * it (Raft §7). The reply waits until the install is durable. */
static void on_snaprec_request(struct raft *r, struct peer *p, const char *from,
			       const struct raft_msg *req)
{
	raft_index idx = req->snaprec.last_index;
	struct raft_msg m = {.type = RAFT_MSG_SNAPREC_RESP, .req_id = req->req_id, .term = r->term};
	m.snaprec_resp.commit = idx;
	if (r->role != RAFT_FOLLOWER || r->removed) {
		send_msg(r, p, &m, 0);
		return;
	}
	/* a snapshot replaces the state: only from our leader (see above) */
	if (!r->leader[0] || strcmp(from, r->leader) != 0) {
		refuse(r, from, req, RAFT_REFUSE_NOT_LEADER);
		send_msg(r, p, &m, 0);
		return;
	}
	reset_election_timer(r);
	m.snaprec_resp.success = true;
	if (holds_entry(r, idx, req->snaprec.last_term)) {
		if (idx > r->commit)
			r->commit = idx;
		send_msg(r, p, &m, idx);
		return;
	}
	struct member mem[RAFT_MAX_PEERS];
	size_t n = 0;
	bool listed = false;
	for (size_t i = 0; i < req->snaprec.n_peers && n < RAFT_MAX_PEERS; i++) {
		const struct raft_member_info *pi = &req->snaprec.peers[i];
		if (!pi->name || !pi->name[0])
			continue;
		copy_name(mem[n].name, pi->name, sizeof(mem[n].name));
		copy_name(mem[n].url, pi->url, sizeof(mem[n].url));
		mem[n].learner = pi->learner;
		listed = listed || is_self(r, mem[n].name);
		n++;
	}
	/* A snapshot whose configuration lacks us, after our own membership
	 * was committed, covers our removal: the raft:leave is compacted, and
	 * this is how a member that lagged behind it learns of it. Nothing to
	 * install for a removed node; the answer tells the leader it knows. (A
	 * joiner not yet committed may well get a snapshot without itself.) */
	if (!listed && committed_member(r)) {
		send_msg(r, p, &m, 0);
		set_removed(r);
		return;
	}
	TRACE(r, "installs snapshot %" PRIu64 "/%" PRIu64 " from %s, %zu member(s)", idx,
	      req->snaprec.last_term, from, n);
	struct raft_action *a = emit(r, RAFT_ACT_INSTALL);
	uint64_t seq = ++r->log_seq;
	if (a) {
		a->install.index = idx;
		a->install.term = req->snaprec.last_term;
		a->install.seq = seq;
	}
	r->n_changes = 0;
	memcpy(r->base, mem, n * sizeof(mem[0]));
	r->n_base = n;
	r->start = idx;
	r->start_term = req->snaprec.last_term;
	r->last = idx;
	config_recompute(r);
	set_snapshot(r, idx, req->snaprec.last_term, mem, n);
	r->snap_pending = false; /* a snapshot being taken is older: ignored */
	if (idx > r->commit)
		r->commit = idx;
	r->apply_req = r->applied = idx; /* the state machine is the snapshot */
	r->durable = 0;
	if (grow((void **)&r->ops, &r->ops_cap, r->n_ops + 1, sizeof(*r->ops))) {
		r->oom = true;
	} else {
		r->ops[r->n_ops++] = (struct log_op){seq, idx, 0};
	}
	send_msg(r, p, &m, idx);
}

static bool acked_recently(const struct raft *r, const char *name);

/* Is `name` leaving by a raft:leave not committed yet? It may campaign to
 * finish its own removal (can_campaign()): the simulator found a cluster
 * that, denying it as a non-member, could elect no one. */
static bool leave_pending(const struct raft *r, const char *name)
{
	for (size_t k = r->n_changes; k > 0; k--)
		if (strcmp(r->changes[k - 1].name, name) == 0)
			return r->changes[k - 1].type == RAFT_ENTRY_LEAVE && r->changes[k - 1].index > r->commit;
	return false;
}

/* Thesis §4.2.3: has this node heard from a current leader within the
 * minimum election timeout? A leader counts as hearing from itself while a
 * majority answers it. */
static bool leader_recent(const struct raft *r)
{
	if (r->role == RAFT_LEADER)
		return quorum(r, acked_recently);
	return r->leader[0] && r->now - r->leader_contact < r->cfg.election_timeout_ms;
}

bool raft_leader_recent(const struct raft *r)
{
	return leader_recent(r);
}

/* May a vote request from a candidate bypass leader_recent()? Only one the
 * leader itself started by TimeoutNow (thesis §3.10). The leader knows whom
 * it told; a follower cannot check the candidate's word (the marker travels
 * on a raftd-only path, docs/goraft-protocol.md §11.21) and bounds it: one
 * term above its own, as the candidate's campaign is. */
static bool transfer_vote(const struct raft *r, const char *from, const struct raft_msg *req)
{
	if (!req->rv.transfer || req->rv.pre_vote || !extensions_on(r))
		return false;
	if (r->role == RAFT_LEADER)
		return r->transfer_sent && strcmp(r->transfer_to, from) == 0;
	return req->term == r->term + 1;
}

/* goraft server.go processRequestVoteRequest, with Raft §5.4.1's
 * up-to-date rule (docs/goraft-protocol.md §11.2), and three denials that
 * leave our term alone (Raft §5.2: denying a vote is always safe): a
 * candidate outside our configuration (§11.3: a removed node that keeps
 * running, or one whose join we have not seen yet), any candidate while we
 * hear from a leader (thesis §4.2.3, §11.21), and any while we recover
 * lost data (we may lack entries we acknowledged). */
static void on_rv_request(struct raft *r, struct peer *p, const char *from,
			  const struct raft_msg *req)
{
	struct raft_msg m = {.type = RAFT_MSG_RV_RESP, .req_id = req->req_id, .term = r->term};
	m.rv_resp.pre_vote = req->rv.pre_vote;
	bool grant = false;
	enum raft_refusal why = 0;
	raft_term lt = last_term(r);
	bool up_to_date = req->rv.last_term > lt ||
			  (req->rv.last_term == lt && req->rv.last_index >= r->last);
	/* A candidate with a longer log may have joined in entries we lack
	 * (the simulator found a cluster that could elect no one: the only
	 * candidate able to win was unknown to a lagging voter it needed). */
	bool newer = up_to_date && (req->rv.last_term > lt || req->rv.last_index > r->last);
	if (member_pos(r, r->name) >= 0 && member_pos(r, from) < 0 && !newer && !leave_pending(r, from))
		why = RAFT_REFUSE_NOT_MEMBER;
	else if (r->recovering)
		why = RAFT_REFUSE_RECOVERING;
	else if (req->term >= r->term && leader_recent(r) && !transfer_vote(r, from, req))
		why = RAFT_REFUSE_LEADER_ALIVE;
	if (why) {
		/* a denied pre-vote is routine while a leader leads */
		if (!req->rv.pre_vote || why != RAFT_REFUSE_LEADER_ALIVE)
			refuse(r, from, req, why);
		else
			TRACE_REFUSAL(r, from, req, "%s", refusal_name(why));
		send_msg(r, p, &m, 0);
		return;
	}
	if (req->rv.pre_vote) {
		/* Changes nothing here. */
		grant = req->term > r->term && up_to_date;
		if (grant)
			TRACE(r, "grants pre-vote for t%" PRIu64 " to %s", req->term, from);
		else if (req->term <= r->term)
			TRACE_REFUSAL(r, from, req, "stale term");
		else
			TRACE_REFUSAL(r, from, req, "its log %" PRIu64 "/%" PRIu64 " is behind ours %" PRIu64 "/%" PRIu64,
				      req->rv.last_index, req->rv.last_term, r->last, lt);
		m.term = grant ? req->term : r->term;
		m.rv_resp.granted = grant;
		send_msg(r, p, &m, 0);
		return;
	}
	if (req->term > r->term) {
		become_follower(r, req->term, "");
	}
	if (req->term == r->term && (r->vote[0] == '\0' || strcmp(r->vote, from) == 0)) {
		if (r->cfg.fault == RAFT_FAULT_VOTE_WITHOUT_LOG_CHECK)
			up_to_date = true;
		if (up_to_date && r->role == RAFT_FOLLOWER) {
			grant = true;
			if (strcmp(r->vote, from) != 0) {
				copy_name(r->vote, from, sizeof(r->vote));
				persist_hard_state(r);
			}
			reset_election_timer(r);
		}
	}
	if (grant)
		TRACE(r, "grants vote to %s", from);
	else if (req->term < r->term)
		TRACE_REFUSAL(r, from, req, "stale term");
	else if (r->vote[0] && strcmp(r->vote, from) != 0)
		TRACE_REFUSAL(r, from, req, "voted for %s", r->vote);
	else if (!up_to_date)
		TRACE_REFUSAL(r, from, req, "its log %" PRIu64 "/%" PRIu64 " is behind ours %" PRIu64 "/%" PRIu64,
			      req->rv.last_index, req->rv.last_term, r->last, lt);
	else
		TRACE_REFUSAL(r, from, req, "%s", raft_role_name(r->role));
	m.term = r->term;
	m.rv_resp.granted = grant;
	send_msg(r, p, &m, 0);
}

static void on_rv_response(struct raft *r, struct peer *p, const struct raft_msg *m)
{
	if (m->rv_resp.pre_vote) {
		if (m->term > r->term && !m->rv_resp.granted) {
			become_follower(r, m->term, "");
			reset_election_timer(r);
			return;
		}
		if (!r->prevoting || r->role == RAFT_LEADER || !m->rv_resp.granted ||
		    m->term != r->term + 1 || !p)
			return;
		p->prevoted = true;
		TRACE(r, "pre-vote from %s", p->name);
		if (quorum(r, prevoted_for_me))
			start_election(r, false);
		return;
	}
	if (m->term > r->term) {
		become_follower(r, m->term, "");
		reset_election_timer(r);
		return;
	}
	if (r->role != RAFT_CANDIDATE || m->term != r->term || !m->rv_resp.granted || !p)
		return;
	p->voted = true;
	TRACE(r, "vote from %s", p->name);
	if (quorum(r, voted_for_me))
		become_leader(r);
}

/* ---- events ---------------------------------------------------------- */

static bool acked_recently(const struct raft *r, const char *name)
{
	if (strcmp(name, r->name) == 0)
		return true;
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		if (r->peers[i].used && strcmp(r->peers[i].name, name) == 0)
			return r->now - r->peers[i].last_ack < r->cfg.election_timeout_ms;
	return false;
}

static void on_tick(struct raft *r)
{
	if (r->role == RAFT_LEADER) {
		/* check-quorum (thesis §6.2): a leader cut off from a majority
		 * steps down instead of accepting writes it cannot commit */
		if (r->cfg.check_quorum && extensions_on(r) &&
		    r->now - r->leader_since >= r->cfg.election_timeout_ms && !quorum(r, acked_recently)) {
			TRACE(r, "steps down: no majority heard from");
			become_follower(r, r->term, "");
			reset_election_timer(r);
			return;
		}
		replicate(r, false);
		return;
	}
	if (r->now < r->election_deadline)
		return;
	if (can_campaign(r) && r->cfg.pre_vote && extensions_on(r))
		start_pre_vote(r);
	else if (can_campaign(r))
		start_election(r, false);
	else
		reset_election_timer(r); /* goraft followerLoop: not promotable */
}

/* ---- membership changes that cannot stop the cluster ----------------- */

/* Has this member really answered this leader within an election timeout?
 * One that never answered does not count (unlike check-quorum's last_ack,
 * which gives a new member an election timeout of grace): a join of a name
 * at a closed port must not look alive. */
static bool live(const struct raft *r, const char *name)
{
	if (is_self(r, name))
		return true;
	for (int i = 0; i < RAFT_MAX_PEERS; i++) {
		const struct peer *p = &r->peers[i];
		if (p->used && strcmp(p->name, name) == 0)
			return p->heard && r->now - p->heard_at < r->cfg.election_timeout_ms;
	}
	return false;
}

/* May `name` become a voter now? Only while the voters that answered lately
 * (with `name`, if it answered too) form a majority of the new
 * configuration, so that a voter that never answers (a goraft joiner, which
 * must be a voter at once, at a closed port) cannot stop the cluster from
 * committing. One exception: a goraft joiner of a lone voter, which answers
 * nothing until its join has committed; that join commits without it
 * (join_fallback), but the two then need each other to elect a leader. */
static bool leave_reverts(const struct raft *r, const char *name);

static bool voter_add_ok(struct raft *r, const char *name)
{
	const struct peer *jp = peer_find(r, name);
	size_t voters = 0, up = 0;
	for (size_t i = 0; i < r->n_members; i++) {
		if (r->members[i].learner)
			continue;
		voters++;
		up += live(r, r->members[i].name);
	}
	if (voters == 1 && self_voter(r) && jp && jp->goraft)
		return true;
	/* A goraft joiner answers nothing until its /join has been answered
	 * (docs/goraft-protocol.md §7.2), which the daemon does once a
	 * majority of the current voters holds the join (raft_change_held()),
	 * so it needs only that majority to be live; it is then counted as
	 * up. If it never answers, maybe_revert_join() takes the join back. */
	if (jp && jp->goraft && !jp->heard && member_pos(r, name) < 0 && 2 * up > voters)
		up++;
	else
		up += live(r, name);
	return 2 * up > voters + 1;
}

/* A goraft joiner taken before it could answer (voter_add_ok()) that then
 * does not answer this leader for join_grace_ms: the cluster counted on it
 * and may commit nothing more, so the leader appends the raft:leave that
 * takes the join back. Only while the join is uncommitted and the leave
 * brings the voters back to those at the commit index (leave_reverts()):
 * every configuration from the commit index on then differs from every
 * other by at most one voter, as for the operator's own leave. Not gated
 * on this leader's nop: with the join counted, that nop may never commit. */
static void maybe_revert_join(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->removed || r->n_changes == 0) {
		r->revert_index = 0;
		return;
	}
	/* the pending join, with changes after it that the rules let through
	 * (a learner's leave) */
	const struct conf_change *c = NULL;
	for (size_t k = r->n_changes; k-- > 0 && r->changes[k].index > r->commit;) {
		if (r->changes[k].type == RAFT_ENTRY_JOIN) {
			c = &r->changes[k];
			break;
		}
	}
	const struct peer *p = c ? peer_find(r, c->name) : NULL;
	if (!p || !p->goraft || p->heard || is_self(r, c->name) || member_pos(r, c->name) < 0) {
		r->revert_index = 0;
		return;
	}
	if (r->revert_index != c->index || r->revert_term != r->term) {
		r->revert_index = c->index;
		r->revert_term = r->term;
		r->revert_since = r->now;
		return;
	}
	if (r->now - r->revert_since < r->cfg.join_grace_ms || !leave_reverts(r, c->name))
		return;
	char name[RAFT_NAME_MAX];
	copy_name(name, c->name, sizeof(name));
	struct raft_entry leave = {.type = RAFT_ENTRY_LEAVE, .name = name};
	r->revert_index = 0;
	if (log_append(r, &leave, 1, true, r->term, RAFT_SRC_CORE, 0))
		r->oom = true;
	else
		replicate(r, false);
}

/* May the voter `name` leave now? Only while the voters that answered
 * lately form a majority of the configuration without it (etcd's strict
 * reconfiguration check): with silent voters in it (joiners that never
 * answered), removing a live one would stop the cluster. The last voter
 * may go only when no learner is left behind without one. */
static bool voter_leave_ok(const struct raft *r, const char *name)
{
	size_t voters = 0, up = 0;
	for (size_t i = 0; i < r->n_members; i++) {
		if (r->members[i].learner || strcmp(r->members[i].name, name) == 0)
			continue;
		voters++;
		up += live(r, r->members[i].name);
	}
	return voters == 0 ? r->n_members <= 1 : 2 * up > voters;
}

static bool same_voters(const struct member *a, size_t na, const struct member *b, size_t nb)
{
	if (voters_in(a, na) != voters_in(b, nb))
		return false;
	for (size_t i = 0; i < na; i++) {
		size_t k = 0;
		while (!a[i].learner && k < nb && (b[k].learner || strcmp(a[i].name, b[k].name) != 0))
			k++;
		if (k == nb)
			return false;
	}
	return true;
}

/* While a change of this leader's term is uncommitted, a raft:leave of
 * `name` is still safe when it leaves the voters as they are (a learner
 * goes) or as they were at the commit index (it undoes the pending join or
 * promotion): every configuration from the commit index on then differs
 * from every other by at most one voter, which is all the one-at-a-time
 * rule guarantees (thesis §4.1). The operator's way out of a join that can
 * never commit. */
static bool leave_reverts(const struct raft *r, const char *name)
{
	struct member after[RAFT_MAX_PEERS], committed[RAFT_MAX_PEERS];
	struct conf_change c = {.type = RAFT_ENTRY_LEAVE};
	size_t n = r->n_members, nc = config_at(r, r->commit, committed);
	memcpy(after, r->members, n * sizeof(after[0]));
	copy_name(c.name, name, sizeof(c.name));
	apply_change(after, &n, &c);
	return same_voters(after, n, r->members, r->n_members) || same_voters(after, n, committed, nc);
}

/* etcd's learner-first rule, decided here where the simulator sees it: a
 * learner becomes a voter (a raft:join of its name) once its answers show
 * it holds its own learner entry and is within one AppendEntries of the
 * leader's log end. Until then it never counts, so a joiner that never
 * answers cannot change the quorum. */
static void maybe_promote(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->removed || r->transfer_to[0] || r->commit < r->term_start ||
	    (r->n_changes > 0 && r->changes[r->n_changes - 1].index > r->commit))
		return;
	for (size_t i = 0; i < r->n_members; i++) {
		const struct member *m = &r->members[i];
		struct peer *p = m->learner ? peer_find(r, m->name) : NULL;
		if (!p || is_self(r, m->name))
			continue;
		raft_index since = r->start; /* its learner entry, or the snapshot */
		for (size_t k = r->n_changes; k-- > 0;) {
			if (strcmp(r->changes[k].name, m->name) == 0) {
				since = r->changes[k].index;
				break;
			}
		}
		if (p->match < since || r->last - p->match > r->cfg.max_entries || !voter_add_ok(r, m->name))
			continue;
		char name[RAFT_NAME_MAX], url[RAFT_URL_MAX];
		copy_name(name, m->name, sizeof(name));
		copy_name(url, m->url, sizeof(url));
		struct raft_entry j = {.type = RAFT_ENTRY_JOIN, .name = name, .url = url};
		if (log_append(r, &j, 1, true, r->term, RAFT_SRC_CORE, 0))
			r->oom = true;
		else
			replicate(r, false);
		return;
	}
}

static int on_propose(struct raft *r, const struct raft_event *ev, struct raft_update *out)
{
	if (r->role != RAFT_LEADER || r->removed)
		return -EPERM;
	if (r->transfer_to[0])
		return -EBUSY; /* thesis §3.10: no proposals during a transfer */
	size_t n_changes = 0;
	for (size_t k = 0; k < ev->propose.n; k++) {
		const struct raft_entry *e = &ev->propose.entries[k];
		if (e->type < RAFT_ENTRY_NOP || e->type > RAFT_ENTRY_LEARNER)
			return -EINVAL;
		if (e->type == RAFT_ENTRY_NOP || e->type == RAFT_ENTRY_COMMAND)
			continue;
		if (!e->name || !e->name[0] || strlen(e->name) >= RAFT_NAME_MAX)
			return -EINVAL;
		/* One change at a time (Raft §6), and only once this leader's
		 * nop has committed (thesis §4.1, the single-server change fix);
		 * a leave that undoes the pending change is one at a time too. */
		int pos = member_pos(r, e->name);
		bool pending = r->n_changes > 0 && r->changes[r->n_changes - 1].index > r->commit;
		if (++n_changes > 1 || r->commit < r->term_start ||
		    (pending && !(e->type == RAFT_ENTRY_LEAVE && pos >= 0 && leave_reverts(r, e->name))))
			return -EBUSY;
		bool member = pos >= 0;
		bool learner = member && r->members[pos].learner;
		if (e->type == RAFT_ENTRY_LEARNER && !extensions_on(r))
			return -EOPNOTSUPP; /* goraft cannot apply it */
		if ((e->type == RAFT_ENTRY_JOIN && member && !learner) ||
		    (e->type == RAFT_ENTRY_LEARNER && member))
			return -EEXIST;
		if (e->type == RAFT_ENTRY_JOIN && learner) {
			/* promote only a learner that has caught up */
			struct peer *lp = peer_find(r, e->name);
			if (!lp || lp->match < r->commit)
				return -EAGAIN;
		}
		/* a goraft joiner needs the whole log from index 1 and cannot
		 * take a snapshot (docs/goraft-protocol.md §10.1.5) */
		struct peer *jp = peer_find(r, e->name);
		if (e->type == RAFT_ENTRY_JOIN && jp && jp->goraft && r->start > 0)
			return -EOPNOTSUPP;
		if (e->type == RAFT_ENTRY_LEAVE && !member)
			return -ENOENT;
		if (e->type == RAFT_ENTRY_JOIN && !voter_add_ok(r, e->name))
			return -ENOTCONN;
		if (e->type == RAFT_ENTRY_LEAVE && !learner && !pending && !voter_leave_ok(r, e->name))
			return -ENOTCONN;
	}
	if (ev->propose.n == 0)
		return -EINVAL;
	out->proposed = r->last + 1;
	int rv = log_append(r, ev->propose.entries, ev->propose.n, true, r->term, RAFT_SRC_EVENT, 0);
	if (rv)
		return rv;
	replicate(r, false);
	return 0;
}

static int on_bootstrap(struct raft *r, const struct raft_event *ev)
{
	/* goraft followerLoop: a self-join on an empty log makes the node
	 * leader at its current term (0 for a new node) with no election. */
	if (r->last != 0 || r->n_changes != 0 || r->role != RAFT_FOLLOWER)
		return -EINVAL;
	if (r->recovering)
		return -EPERM; /* lost data: a new cluster only if told (daemon) */
	struct raft_entry join = {.type = RAFT_ENTRY_JOIN, .name = r->name, .url = ev->bootstrap.url};
	int rv = log_append(r, &join, 1, true, r->term, RAFT_SRC_CORE, 0);
	if (rv)
		return rv;
	become_leader(r);
	return 0;
}

static void on_read_index(struct raft *r, struct peer *p, const char *from, const struct raft_msg *req);
static void on_read_index_response(struct raft *r, struct peer *p, const struct raft_msg *m);

static void on_recv(struct raft *r, const struct raft_event *ev)
{
	const char *from = ev->recv.from ? ev->recv.from : "";
	if (!from[0] || is_self(r, from))
		return;
	const struct raft_msg *m = &ev->recv.msg;
	/* Never take a term that cannot be incremented, nor one absurdly far
	 * ahead (raft.h): the message is ignored, whoever sent it. */
	if (m->term > RAFT_TERM_MAX) {
		refuse(r, from, m, RAFT_REFUSE_TERM_MAX);
		return;
	}
	if (m->term > r->term && m->term - r->term > RAFT_TERM_AHEAD) {
		refuse(r, from, m, RAFT_REFUSE_TERM_AHEAD);
		return;
	}
	struct peer *p = peer_get(r, from);
	switch (m->type) {
	case RAFT_MSG_AE_REQ:
		on_ae_request(r, p, from, m);
		break;
	case RAFT_MSG_AE_RESP:
		on_ae_response(r, p, m);
		break;
	case RAFT_MSG_RV_REQ:
		on_rv_request(r, p, from, m);
		break;
	case RAFT_MSG_RV_RESP:
		on_rv_response(r, p, m);
		break;
	case RAFT_MSG_SNAP_REQ:
		on_snap_request(r, p, from, m);
		break;
	case RAFT_MSG_SNAP_RESP:
		on_snap_response(r, p, m);
		break;
	case RAFT_MSG_SNAPREC_REQ:
		on_snaprec_request(r, p, from, m);
		break;
	case RAFT_MSG_SNAPREC_RESP:
		on_snaprec_response(r, p, m);
		break;
	case RAFT_MSG_READ_INDEX:
		on_read_index(r, p, from, m);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		on_read_index_response(r, p, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		/* from our leader, at our term: campaign now, no pre-vote */
		if (m->term == r->term && r->role == RAFT_FOLLOWER && strcmp(from, r->leader) == 0 &&
		    can_campaign(r))
			start_election(r, true);
		break;
	}
}

/* ---- ReadIndex and leadership transfer (raftd extensions) ----------- */

static bool read_acked(const struct raft *r, const char *name)
{
	if (strcmp(name, r->name) == 0)
		return true;
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		if (r->peers[i].used && strcmp(r->peers[i].name, name) == 0)
			return r->peers[i].read_ack >= r->check_seq;
	return false;
}

/* Thesis §6.4: a read is served at the commit index the leader had when it
 * arrived, once (1) the leader has committed an entry of its own term, so
 * that commit index is current, and (2) a majority answered requests sent
 * after the read arrived, so the leader was still leader then. */
static void check_reads(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	size_t k = 0;
	for (; k < r->n_reads; k++) {
		struct read *rd = &r->reads[k];
		if (rd->index == 0 && r->commit >= r->term_start)
			rd->index = r->commit;
		r->check_seq = rd->seq;
		bool ok = rd->index > 0 && quorum(r, read_acked);
		if (r->cfg.fault == RAFT_FAULT_READ_WITHOUT_QUORUM) {
			ok = true; /* negative control: a deposed leader reads stale */
			rd->index = r->commit;
		}
		if (!ok)
			break;
		answer_read(r, rd, rd->index);
	}
	if (k > 0) {
		memmove(r->reads, r->reads + k, (r->n_reads - k) * sizeof(*r->reads));
		r->n_reads -= k;
	}
}

/* A read at the leader, its own (from NULL) or a follower's. */
static int leader_read(struct raft *r, uint64_t id, const char *from, uint64_t req_id)
{
	if (grow((void **)&r->reads, &r->reads_cap, r->n_reads + 1, sizeof(*r->reads))) {
		r->oom = true;
		return -ENOMEM;
	}
	raft_index idx = r->commit >= r->term_start ? r->commit : 0;
	struct read *rd = &r->reads[r->n_reads++];
	*rd = (struct read){.id = id, .index = idx, .seq = ++r->read_seq, .peer = -1, .req_id = req_id};
	if (from) {
		struct peer *p = peer_find(r, from);
		assert(p);
		rd->peer = (int)(p - r->peers);
		copy_name(rd->from, from, sizeof(rd->from));
	}
	replicate(r, true); /* the heartbeat round that confirms it */
	check_reads(r);
	return 0;
}

/* Thesis §6.4, reads at a follower: the leader gives the read index (after
 * its heartbeat round), the follower serves once it has applied that far.
 * The leader was leader after the read began and the index covers every
 * write committed before it, so the read is linearizable wherever served. */
static void ask_read_index(struct raft *r, struct fwd_read *f)
{
	struct peer *p = peer_find(r, r->leader);
	assert(p && !p->goraft);
	struct raft_msg m = {.type = RAFT_MSG_READ_INDEX, .req_id = ++r->next_req_id, .term = r->term};
	f->req_id = m.req_id;
	f->sent_at = r->now;
	f->tries++;
	copy_name(f->leader, r->leader, sizeof(f->leader));
	send_msg(r, p, &m, 0);
}

static bool leader_reads_for_us(const struct raft *r)
{
	const struct peer *p = r->leader[0] ? peer_find((struct raft *)r, r->leader) : NULL;
	return r->role == RAFT_FOLLOWER && p && !p->goraft;
}

static int on_read(struct raft *r, uint64_t id)
{
	if (r->removed)
		return -EPERM;
	if (r->role == RAFT_LEADER)
		return leader_read(r, id, NULL, 0);
	if (r->role != RAFT_FOLLOWER || !r->leader[0] || !peer_find(r, r->leader))
		return -EAGAIN;
	if (!leader_reads_for_us(r))
		return -EOPNOTSUPP;
	if (r->cfg.fault == RAFT_FAULT_FOLLOWER_READ_LOCAL && r->commit > 0) {
		struct raft_action *a = emit(r, RAFT_ACT_READ); /* negative control: stale */
		if (a) {
			a->read.id = id;
			a->read.index = r->commit;
		}
		return 0;
	}
	if (grow((void **)&r->fwd, &r->fwd_cap, r->n_fwd + 1, sizeof(*r->fwd))) {
		r->oom = true;
		return -ENOMEM;
	}
	struct fwd_read *f = &r->fwd[r->n_fwd++];
	*f = (struct fwd_read){.id = id};
	ask_read_index(r, f);
	return 0;
}

static void fwd_done(struct raft *r, size_t k, raft_index index)
{
	struct raft_action *a = emit(r, RAFT_ACT_READ);
	if (a) {
		a->read.id = r->fwd[k].id;
		a->read.index = index;
	}
	r->fwd[k] = r->fwd[--r->n_fwd];
}

/* A request or its answer may be lost: ask again (the current leader) after
 * an RPC timeout, and give up after a few tries; the client may retry. */
#define FWD_READ_TRIES 3

static void check_fwd_reads(struct raft *r)
{
	for (size_t k = 0; k < r->n_fwd;) {
		struct fwd_read *f = &r->fwd[k];
		if (r->now - f->sent_at < r->cfg.rpc_timeout_ms) {
			k++;
		} else if (f->tries >= FWD_READ_TRIES || r->removed || r->role == RAFT_LEADER) {
			fwd_done(r, k, 0);
		} else if (leader_reads_for_us(r)) {
			ask_read_index(r, f);
			k++;
		} else {
			f->sent_at = r->now; /* no leader to ask: wait for one */
			f->tries++;
			k++;
		}
	}
}

static void on_read_index(struct raft *r, struct peer *p, const char *from, const struct raft_msg *req)
{
	struct raft_msg m = {.type = RAFT_MSG_READ_INDEX_RESP, .req_id = req->req_id, .term = r->term};
	/* Only members ask (a stranger learns nothing it may not, but its
	 * slot could be reused while the read waits); a newer term means we
	 * may be deposed: no answer but "no", whose term tells it so. */
	if (r->role != RAFT_LEADER || r->removed || !p || member_pos(r, from) < 0 || req->term > r->term ||
	    leader_read(r, 0, from, req->req_id) < 0)
		send_msg(r, p, &m, 0);
}

static void on_read_index_response(struct raft *r, struct peer *p, const struct raft_msg *m)
{
	for (size_t k = 0; k < r->n_fwd; k++) {
		if (r->fwd[k].req_id != m->req_id || !p || strcmp(r->fwd[k].leader, p->name) != 0)
			continue;
		if (m->read_index_resp.success && m->read_index_resp.index > 0)
			fwd_done(r, k, m->read_index_resp.index);
		else
			r->fwd[k].sent_at = 0; /* ask again at the next step, maybe another leader */
		return;
	}
}

/* Thesis §3.10: stop taking proposals, bring the target up to date, then
 * tell it to campaign at once; give up after an election timeout. */
static int on_transfer(struct raft *r, const char *to)
{
	if (r->role != RAFT_LEADER)
		return -EPERM;
	if (!extensions_on(r))
		return -EOPNOTSUPP;
	if (!to || !to[0]) {
		/* the voter that needs the least to catch up, among those that
		 * answered lately: its campaign is the shortest (a stopping
		 * leader's handover) */
		const struct peer *best = NULL;
		for (size_t i = 0; i < r->n_members; i++) {
			const struct peer *p = peer_find(r, r->members[i].name);
			if (r->members[i].learner || is_self(r, r->members[i].name) || !p ||
			    !live(r, p->name))
				continue;
			if (!best || p->match > best->match)
				best = p;
		}
		if (!best)
			return -ENOENT;
		to = best->name;
	}
	int pos = member_pos(r, to);
	if (pos < 0 || is_self(r, to) || r->members[pos].learner)
		return -EINVAL;
	copy_name(r->transfer_to, to, sizeof(r->transfer_to));
	TRACE(r, "transfers leadership to %s", to);
	r->transfer_deadline = r->now + r->cfg.election_timeout_ms;
	r->transfer_sent = false;
	replicate(r, true);
	return 0;
}

static void maybe_timeout_now(struct raft *r)
{
	if (r->role != RAFT_LEADER || !r->transfer_to[0])
		return;
	if (r->now >= r->transfer_deadline || member_pos(r, r->transfer_to) < 0 || !extensions_on(r)) {
		r->transfer_to[0] = '\0'; /* failed: lead on */
		return;
	}
	struct peer *p = peer_find(r, r->transfer_to);
	if (r->transfer_sent || !p || p->match < r->last)
		return;
	struct raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .req_id = ++r->next_req_id, .term = r->term};
	r->transfer_sent = true;
	send_msg(r, p, &m, 0);
}

static void maybe_snapshot(struct raft *r)
{
	raft_index t = r->cfg.snapshot_threshold;
	if (t == 0 || r->snap_pending || r->apply_req < r->snap_index + t || !extensions_on(r))
		return;
	struct raft_action *a = emit(r, RAFT_ACT_TAKE_SNAPSHOT);
	if (!a)
		return;
	r->snap_pending = true;
	r->pending_index = r->apply_req;
	r->n_pending_members = config_at(r, r->apply_req, r->pending_members);
	a->take_snapshot.index = r->apply_req;
	a->take_snapshot.term = term_at(r, r->apply_req);
	for (size_t i = 0; i < r->n_pending_members; i++) {
		r->pending_info[i].name = r->pending_members[i].name;
		r->pending_info[i].url = r->pending_members[i].url;
		r->pending_info[i].learner = r->pending_members[i].learner;
	}
	a->take_snapshot.n_members = r->n_pending_members;
	a->take_snapshot.members = r->pending_info;
}

static int on_snapshot_taken(struct raft *r, raft_index index)
{
	if (!r->snap_pending)
		return index ? -EINVAL : 0;
	r->snap_pending = false;
	if (index == 0 || index <= r->snap_index)
		return 0; /* failed, or overtaken by an installed snapshot */
	if (index != r->pending_index)
		return -EINVAL;
	if (index < r->start || index > r->last)
		return 0;
	set_snapshot(r, index, term_at(r, index), r->pending_members, r->n_pending_members);
	TRACE(r, "snapshot at %" PRIu64 "/%" PRIu64, index, r->snap_term);
	raft_index keep = r->cfg.snapshot_trailing;
	if (extensions_on(r) && index > keep)
		log_compact(r, index - keep);
	return 0;
}

static void maybe_apply(struct raft *r)
{
	raft_index target = r->commit < r->durable ? r->commit : r->durable;
	if (target > r->apply_req) {
		struct raft_action *a = emit(r, RAFT_ACT_APPLY);
		if (a) {
			a->apply.first = r->apply_req + 1;
			a->apply.last = target;
		}
		r->apply_req = target;
	}
	/* A node whose own raft:leave is committed stops taking part
	 * (docs/goraft-protocol.md §11.11; goraft itself does not, §7.4). */
	raft_index leave = own_change(r, RAFT_ENTRY_LEAVE);
	if (!r->removed && leave > 0 && leave <= r->commit)
		set_removed(r);
}

/* A leader that took no step for longer than a heartbeat interval was not
 * running (its process stalled, the machine was busy): it sent nothing
 * then, and its members' answers wait unread behind this step. For
 * check-quorum such a gap counts as their silence for one heartbeat
 * interval at most, as etcd's logical ticks, which a stall does not
 * multiply: else the first tick after a stall deposed a leader whose
 * followers were all up (goraft.sh mix 3). */
static void discount_own_stall(struct raft *r, uint64_t gap)
{
	if (r->role != RAFT_LEADER || gap <= r->cfg.heartbeat_ms)
		return;
	for (int i = 0; i < RAFT_MAX_PEERS; i++)
		if (r->peers[i].used && r->peers[i].member)
			r->peers[i].last_ack += gap - r->cfg.heartbeat_ms;
}

/* A recovering node has caught up once it durably holds a committed entry
 * of its leader's term: that leader had every entry committed before its
 * term (Leader Completeness), and so now do we. That is not enough in the
 * term we lost our disk in: our earlier answers may have committed
 * entries of this term past that one (the simulator found a node that
 * then voted for a candidate without them). A leader counts an answer
 * only to a request still in flight, and the first request we take (it
 * starts within our new log) was sent after it gave up on all those, or
 * after they were answered: we wait for the highest commit index its
 * requests of this term showed us. (A late copy of an older request,
 * taken first and before any newer one, can still show too low a one.) */
static void maybe_recovered(struct raft *r)
{
	if (!r->recovering || r->role != RAFT_FOLLOWER || !r->leader[0] || r->commit == 0)
		return;
	if (r->recover_term != r->term || r->commit < r->recover_floor)
		return;
	if (term_at(r, r->commit) == r->term && r->durable >= r->commit) {
		r->recovering = false;
		TRACE(r, "caught up to %" PRIu64 ", votes again", r->commit);
	}
}

int raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *out)
{
	int rv = 0;
	raft_index commit = r->commit;
	r->n_acts = 0;
	r->oom = false;
	out->proposed = 0;
	out->actions = r->acts;
	out->n_actions = 0;
	if (r->failed)
		return -ENOMEM;
	if (ev->now > r->now) {
		discount_own_stall(r, ev->now - r->now);
		r->now = ev->now;
	}
	switch (ev->type) {
	case RAFT_EV_TICK:
		on_tick(r);
		break;
	case RAFT_EV_RECV:
		on_recv(r, ev);
		break;
	case RAFT_EV_PERSISTED:
		if (ev->persisted.seq > r->hs_durable_seq)
			r->hs_durable_seq = ev->persisted.seq <= r->hs_seq ? ev->persisted.seq : r->hs_seq;
		break;
	case RAFT_EV_DURABLE:
		on_durable(r, ev->durable.seq);
		break;
	case RAFT_EV_APPLIED:
		if (ev->applied.index > r->applied && ev->applied.index <= r->apply_req)
			r->applied = ev->applied.index;
		break;
	case RAFT_EV_PROPOSE:
		rv = on_propose(r, ev, out);
		break;
	case RAFT_EV_BOOTSTRAP:
		rv = on_bootstrap(r, ev);
		break;
	case RAFT_EV_PEER_KIND: {
		struct peer *p = ev->peer_kind.name ? peer_get(r, ev->peer_kind.name) : NULL;
		if (!p || is_self(r, ev->peer_kind.name)) {
			rv = -EINVAL;
			break;
		}
		if (p->goraft != ev->peer_kind.goraft) {
			p->goraft = ev->peer_kind.goraft;
			clear_flights(p);
			p->holds = HOLDS_UNKNOWN;
		}
		break;
	}
	case RAFT_EV_SNAPSHOT_TAKEN:
		rv = on_snapshot_taken(r, ev->snapshot_taken.index);
		break;
	case RAFT_EV_READ:
		rv = on_read(r, ev->read.id);
		break;
	case RAFT_EV_TRANSFER:
		rv = on_transfer(r, ev->transfer.to);
		break;
	default:
		rv = -EINVAL;
	}
	leader_maybe_commit(r);
	maybe_revert_join(r);
	maybe_promote(r);
	check_reads(r);
	check_fwd_reads(r);
	maybe_timeout_now(r);
	flush_held(r);
	maybe_apply(r);
	maybe_snapshot(r);
	maybe_recovered(r);
	if (r->commit != commit)
		TRACE(r, "commit %" PRIu64 " -> %" PRIu64, commit, r->commit);
	out->actions = r->acts;
	out->n_actions = r->n_acts;
	if (r->oom) {
		/* Its state ran ahead of the actions it could record (an
		 * append without its APPEND would later be counted durable):
		 * no event may follow. The caller discards this update. */
		TRACE(r, "out of memory: takes no more events");
		r->failed = true;
		out->proposed = 0;
		rv = -ENOMEM;
	}
	return rv;
}

/* ---- lifecycle and views ---------------------------------------------- */

void raft_config_default(struct raft_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->election_timeout_ms = 150;
	cfg->heartbeat_ms = 50;
	cfg->rpc_timeout_ms = 200;
	cfg->max_entries = 2000;
	cfg->max_bytes = 4u << 20;
	cfg->max_inflight = 8;
	cfg->pre_vote = true;
	cfg->check_quorum = true;
	cfg->depart_timeout_ms = 60000;
	cfg->join_grace_ms = 10000;
}

int raft_new(const struct raft_config *cfg, const struct raft_restore *rs, uint64_t now,
	     struct raft **ret_raft)
{
	if (!cfg || !cfg->name || !cfg->name[0] || strlen(cfg->name) >= RAFT_NAME_MAX)
		return -EINVAL;
	struct raft *r = raft_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	copy_name(r->name, cfg->name, sizeof(r->name));
	r->cfg.name = r->name;
	if (r->cfg.max_entries == 0)
		r->cfg.max_entries = 1;
	r->rng = cfg->seed ^ 0x5deece66dULL;
	r->now = now;
	/* Request ids of a restarted node must not repeat its earlier life's:
	 * a late or duplicated answer to an old request would be taken for
	 * the new one's (a read index above all, which carries no term to
	 * tell them apart). Time orders the lives. */
	r->next_req_id = now << 20;
	r->role = RAFT_FOLLOWER;
	if (rs) {
		r->recovering = rs->recovering;
		r->term = rs->term;
		copy_name(r->vote, rs->vote, sizeof(r->vote));
		if (rs->snap_index > 0) {
			struct member mem[RAFT_MAX_PEERS];
			size_t n = 0;
			for (size_t i = 0; i < rs->n_snap_members && n < RAFT_MAX_PEERS; i++) {
				copy_name(mem[n].name, rs->snap_members[i].name, sizeof(mem[n].name));
				copy_name(mem[n].url, rs->snap_members[i].url, sizeof(mem[n].url));
				mem[n].learner = rs->snap_members[i].learner;
				n++;
			}
			memcpy(r->base, mem, n * sizeof(mem[0]));
			r->n_base = n;
			r->start = r->last = rs->snap_index;
			r->start_term = rs->snap_term;
			set_snapshot(r, rs->snap_index, rs->snap_term, mem, n);
			r->commit = r->apply_req = r->applied = rs->snap_index;
			config_recompute(r);
		}
		for (size_t k = 0; k < rs->n_entries; k++) {
			const struct raft_entry *e = &rs->entries[k];
			if (e->index <= r->start)
				continue;
			int rv = e->index != r->last + 1 ? -EINVAL : log_put(r, e, e->index, e->term);
			if (rv) {
				raft_free(r);
				return rv;
			}
		}
		/* Entries (or the snapshot) may have reached the disk before
		 * the term did. The stored vote was for the older term. In the
		 * newer one no vote for another node was cast: replies wait for
		 * the persist. A vote for itself may be lost (a single voter
		 * leads at once and its entries can beat the meta to the disk),
		 * but then every message of that term was held too, so no other
		 * node has an entry of it and no candidate of that term can be
		 * as up to date as this log. */
		if (last_term(r) > r->term) {
			r->term = last_term(r);
			r->vote[0] = '\0';
		}
		if (rs->commit > r->commit)
			r->commit = rs->commit < r->last ? rs->commit : r->last;
		r->durable = r->last;
	}
	reset_election_timer(r);
	*ret_raft = r;
	return 0;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	free(r->log);
	free(r->ops);
	free(r->changes);
	free(r->held);
	free(r->reads);
	free(r->fwd);
	free(r->acts);
	free(r);
}

void raft_set_trace(struct raft *r, void (*trace)(void *data, const char *line), void *data)
{
	r->cfg.trace = trace;
	r->cfg.trace_data = data;
}

enum raft_role raft_role(const struct raft *r) { return r->role; }
raft_term raft_current_term(const struct raft *r) { return r->term; }
const char *raft_leader(const struct raft *r) { return r->leader; }
raft_index raft_last_index(const struct raft *r) { return r->last; }
raft_index raft_commit_index(const struct raft *r) { return r->commit; }
raft_index raft_durable_index(const struct raft *r) { return r->durable; }
raft_index raft_log_start(const struct raft *r) { return r->start; }
raft_index raft_snapshot_index(const struct raft *r) { return r->snap_index; }
bool raft_removed(const struct raft *r) { return r->removed; }
bool raft_recovering(const struct raft *r) { return r->recovering; }
size_t raft_n_members(const struct raft *r) { return r->n_members; }

const char *raft_member_name(const struct raft *r, size_t i)
{
	return i < r->n_members ? r->members[i].name : NULL;
}

const char *raft_member_url(const struct raft *r, size_t i)
{
	return i < r->n_members ? r->members[i].url : NULL;
}

const char *raft_departing_url(const struct raft *r, const char *name)
{
	if (r->role != RAFT_LEADER)
		return NULL;
	for (int i = 0; i < RAFT_MAX_PEERS; i++) {
		const struct peer *p = &r->peers[i];
		if (p->used && !p->member && p->leave_index && p->url[0] && strcmp(p->name, name) == 0)
			return p->url;
	}
	return NULL;
}

bool raft_is_member(const struct raft *r, const char *name)
{
	return member_pos(r, name) >= 0;
}

bool raft_is_voter(const struct raft *r, const char *name)
{
	int pos = member_pos(r, name);
	return pos >= 0 && !r->members[pos].learner;
}

bool raft_change_held(const struct raft *r, raft_index index, raft_term term)
{
	raft_term t;
	if (!raft_entry_term(r, index, &t) || t != term)
		return false;
	if (index <= r->commit)
		return true;
	if (r->role != RAFT_LEADER || r->term != term || r->n_changes == 0 ||
	    r->changes[r->n_changes - 1].index != index || index - 1 < r->start)
		return false;
	if (r->cfg.fault == RAFT_FAULT_JOIN_HELD_UNREPLICATED)
		return true; /* negative control: the simulator must catch this */
	struct member before[RAFT_MAX_PEERS];
	size_t n = config_at(r, index - 1, before), voters = 0, held = 0;
	for (size_t i = 0; i < n; i++) {
		if (before[i].learner)
			continue;
		voters++;
		held += match_of(r, before[i].name) >= index;
	}
	return voters > 0 && 2 * held > voters;
}

bool raft_entry_term(const struct raft *r, raft_index i, raft_term *ret_term)
{
	if (i == 0 || i < r->start || i > r->last)
		return false;
	*ret_term = term_at(r, i);
	return true;
}

bool raft_get_entry(const struct raft *r, raft_index i, struct raft_entry *ret_entry)
{
	if (i <= r->start || i > r->last)
		return false;
	const struct meta *m = meta_at(r, i);
	struct raft_entry e = {.index = i, .term = m->term, .type = (enum raft_entry_type)m->type,
			       .size = m->size};
	for (size_t k = 0; k < r->n_changes; k++) {
		if (r->changes[k].index == i) {
			e.name = r->changes[k].name;
			e.url = r->changes[k].url;
		}
	}
	*ret_entry = e;
	return true;
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	}
	return "?";
}
