/* src/raftd/driver.c — the core driver. Every event goes through
 * step_propose(); execute() carries out the core's actions: WAL writes and
 * the durability bookkeeping between the core's seqs and the WAL's indexes,
 * applying a slice at a time, sends, role changes, installs. The WAL's
 * callbacks come back here.
 */
#include "src/raftd/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/raftd/log.h"
#include "src/raftd/v3.h"

/* applying per event-loop pass, at most about (tests/daemon/test_driver
 * builds with 1: a slice ends at the first clock check) */
#ifndef APPLY_SLICE_NS
#define APPLY_SLICE_NS 5000000
#endif

/* ---- durability bookkeeping ------------------------------------------------ */

static int needs_push(struct node *n, uint64_t seq, raft_index need)
{
	if (n->needs_head + n->needs_len == n->needs_cap) {
		if (n->needs_head) {
			memmove(n->needs, n->needs + n->needs_head, n->needs_len * sizeof(*n->needs));
			n->needs_head = 0;
		}
		if (n->needs_len == n->needs_cap) {
			size_t cap = n->needs_cap ? 2 * n->needs_cap : 64;
			struct seq_need *p = realloc(n->needs, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			n->needs = p;
			n->needs_cap = cap;
		}
	}
	n->needs[n->needs_head + n->needs_len++] = (struct seq_need){ seq, need };
	return 0;
}

/* Reports the highest log seq whose writes are all durable. */
static void check_durable(struct node *n)
{
	raft_index d = wal_durable_index(n->wal);
	uint64_t seq = 0;
	while (n->needs_len && n->needs[n->needs_head].need <= d) {
		seq = n->needs[n->needs_head].seq;
		n->needs_head++;
		n->needs_len--;
	}
	if (!n->needs_len)
		n->needs_head = 0;
	if (seq > n->durable_seq) {
		n->durable_seq = seq;
		struct raft_event ev = { .type = RAFT_EV_DURABLE, .durable.seq = seq };
		step(n, &ev, NULL);
	}
}

void on_wal_durable(void *ctx, uint64_t index)
{
	struct node *n = ctx;
	(void)index;
	if (n->nospace_said && !wal_nospace(n->wal)) {
		n->nospace_said = false;
		log_warning("wal: the held entries are durable: accepting writes again");
	}
	n->wal_batches++;
	n->disk_progress_ms = now_ms(n);
	check_durable(n);
}

void on_wal_meta(void *ctx, uint64_t term, const char *vote)
{
	struct node *n = ctx;
	uint64_t seq = 0;
	size_t keep = 0;
	log_debug("meta durable: term %" PRIu64 " vote '%s'", term, vote);
	n->disk_progress_ms = now_ms(n);
	/* Coalesced sets report the newest value: it confirms every set up to
	 * the newest one that asked for exactly this value. */
	for (size_t i = 0; i < n->metas_len; i++)
		if (n->metas[i].term == term && !strcmp(n->metas[i].vote, vote))
			seq = n->metas[i].seq;
	for (size_t i = 0; i < n->metas_len; i++)
		if (n->metas[i].seq > seq)
			n->metas[keep++] = n->metas[i];
	n->metas_len = keep;
	if (seq > n->persisted_seq) {
		n->persisted_seq = seq;
		struct raft_event ev = { .type = RAFT_EV_PERSISTED, .persisted.seq = seq };
		step(n, &ev, NULL);
	}
}

void on_wal_compacted(void *ctx, uint64_t first)
{
	(void)ctx;
	log_debug("wal: log now starts at %" PRIu64, first);
}

void fatal_stop(struct node *n, const char *why)
{
	log_msg(LOG_ERR, LOG_ID_WAL_FAILED, NULL, "%s: stopping so that recovery reads what is on disk", why);
	n->exit_status = 1;
	n->stopping = true;
	loop_stop(&n->loop);
}

void on_wal_error(void *ctx, const struct wal_error *e)
{
	struct node *n = ctx;
	char msg[512];
	wal_error_format(e, msg, sizeof(msg));
	if (e->held) {
		/* ENOSPC: nothing was dropped or acknowledged, the core's log is
		 * still the WAL's (only not durable): stay up, refuse writes,
		 * and let on_tick() retry. */
		if (!n->nospace_said)
			log_warning("%s: NOSPACE: refusing writes until the disk has room (retried every second)", msg);
		else
			log_debug("%s: still no space", msg);
		n->nospace_said = true;
		return;
	}
	/* A dropped ENOSPC batch held entries the core believes appended:
	 * restart from what is really on disk (fsyncgate: never retry). */
	fatal_stop(n, msg);
}

/* ---- entries ---------------------------------------------------------------- */

/* Typed metadata of a stored entry, for raft_restore, typed as rpc.c types
 * a received one (rpc_entry_type). Strings are strdup'ed into *ret_name,
 * *ret_url (freed by the caller). *ret_goraft: whether it may be in a
 * goraft node's log. */
int entry_meta(const struct wal_entry *we, struct raft_entry *re, char **ret_name, char **ret_url,
	       bool *ret_goraft, char *err, size_t err_len)
{
	struct cmd member;
	*ret_name = *ret_url = NULL;
	if (rpc_entry_type(we->data, we->len, re, &member, ret_goraft, err, err_len) < 0)
		return -EBADMSG;
	re->index = we->index;
	re->term = we->term;
	int rv = 0;
	if (re->name && !(*ret_name = strdup(re->name)))
		rv = -ENOMEM;
	if (re->url && !(*ret_url = strdup(re->url)))
		rv = -ENOMEM;
	cmd_free(&member);
	if (rv < 0) {
		free(*ret_name);
		free(*ret_url);
		*ret_name = *ret_url = NULL;
		snprintf(err, err_len, "out of memory");
		return rv;
	}
	re->name = *ret_name;
	re->url = *ret_url;
	return 0;
}

/* Encodes the entry once, straight into the WAL's batch buffer: those bytes
 * are what goes to disk and, zero-copy, to every peer. */
static int append_cmd(struct node *n, raft_index index, raft_term term, const struct cmd *c)
{
	size_t len = cmd_entry_size(index, term, c);
	uint8_t *p;
	int rv = wal_reserve(n->wal, index, term, len, &p, NULL);
	if (rv < 0)
		return rv;
	return cmd_entry_encode(index, term, c, p, len) < 0 ? -EIO : 0;
}

/* Sets raftd_only_last to the last entry at or below `upto` that a goraft
 * node must not get (after a truncation cut the previous one). */
static void find_raftd_only(struct node *n, raft_index upto)
{
	raft_index i = upto, start = raft_log_start(n->r);
	n->raftd_only_last = 0;
	for (; i > start; i--) {
		struct wal_entry we;
		if (wal_entry_get(n->wal, i, &we) < 0)
			break;
		if (!rpc_entry_goraft_may_get(we.data, we.len)) {
			n->raftd_only_last = i;
			return;
		}
	}
}

/* ---- applying ----------------------------------------------------------------- */

void reply_read(struct node *n, struct httpd_request *req, const void *key, size_t key_len)
{
	/* goraft answers a missing key as an empty value (200, no body); the
	 * header tells them apart without changing what goraft clients see */
	static const char *found[] = { "X-Raftd-Found", "true", NULL };
	static const char *missing[] = { "X-Raftd-Found", "false", NULL };
	struct kv_view v;
	if (kv_get(n->kv, key, key_len, &v))
		httpd_reply(req, 200, "text/plain; charset=utf-8", v.value, v.value_len, found);
	else
		httpd_reply(req, 200, "text/plain; charset=utf-8", "", 0, missing);
}

void serve_reads(struct node *n)
{
	raft_index applied = kv_applied_index(n->kv);
	for (struct read_wait **pp = &n->reads; *pp;) {
		struct read_wait *w = *pp;
		if (w->index && w->index <= applied) {
			if (w->v3)
				v3_read_serve(n, w, 0);
			else
				reply_read(n, w->req, w->key, w->key_len);
			n->reads_consistent++;
			*pp = w->next;
			free(w->key);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

static void answer_writes(struct node *n, raft_index upto)
{
	while (n->writes && n->writes->index <= upto) {
		struct write_wait *w = n->writes;
		raft_term t;
		/* The index may have been overwritten by another leader's entry. */
		bool ours = raft_entry_term(n->r, w->index, &t) ? t == w->term : kv_applied_index(n->kv) >= w->index;
		if (w->v3) {
			/* v3_apply() answered those it applied: this one's
			 * index held another entry, or its outcome is unknown */
			v3_write_fail(n, w, ours ? -V3_E_TIMEOUT : -V3_E_LEADER_FAIL);
			n->writes_failed++;
		} else if (ours) {
			httpd_reply(w->req, 200, NULL, "", 0, NULL);
			n->writes_applied++;
		} else {
			httpd_reply_text(w->req, w->lost_status, LOST_WRITE);
			n->writes_failed++;
		}
		n->writes = w->next;
		free(w);
	}
	if (!n->writes)
		n->writes_tail = &n->writes;
}

/* Applies one entry; 0 or a negative errno that stops the node. */
static int apply_one(struct node *n, raft_index i, size_t *ret_bytes)
{
	struct wal_entry we;
	struct cmd c;
	char err[256];
	if (wal_entry_get(n->wal, i, &we) < 0) {
		log_error("apply: entry %" PRIu64 " is not in the log", i);
		return -EIO;
	}
	*ret_bytes = we.len;
	int rv = rpc_entry_command(we.data, we.len, &c, err, sizeof(err));
	if (rv == 0 && c.type == CMD_V3) {
		rv = v3_apply(n, i, we.term, (const uint8_t *)c.value.ptr, c.value.len);
		cmd_free(&c);
		return rv;
	}
	if (rv < 0) {
		/* goraft fails such an entry and moves on; so do we */
		log_warning("apply: entry %" PRIu64 ": %s (applied as a no-op)", i, err);
		memset(&c, 0, sizeof(c));
		c.type = CMD_NOP;
	}
	char field[128];
	if (c.type == CMD_JOIN) {
		snprintf(field, sizeof(field), "RAFT_INDEX=%" PRIu64 "\nRAFT_PEER=%s", i, c.name.ptr);
		log_msg(LOG_INFO, LOG_ID_MEMBER_JOINED, field, "member %s (%s) joined at index %" PRIu64, c.name.ptr,
			c.connection_string.ptr, i);
	} else if (c.type == CMD_LEAVE) {
		snprintf(field, sizeof(field), "RAFT_INDEX=%" PRIu64 "\nRAFT_PEER=%s", i, c.name.ptr);
		log_msg(LOG_INFO, LOG_ID_MEMBER_LEFT, field, "member %s left at index %" PRIu64, c.name.ptr, i);
	} else if (c.type == CMD_LEARNER) {
		log_info("member %s (%s) joined as a learner at index %" PRIu64
			 " (a voter once it has caught up)", c.name.ptr, c.connection_string.ptr, i);
	}
	rv = kv_apply(n->kv, i, &c);
	cmd_free(&c);
	if (rv < 0) {
		log_error("apply: entry %" PRIu64 ": %s", i, strerror(-rv));
		return rv;
	}
	return 0;
}

/* Applies entries up to apply_to for about APPLY_SLICE_NS, then answers the
 * writes and reads they complete; the apply timer brings it back for the
 * rest. 0, or a negative errno that stops the node. */
static int apply_slice(struct node *n)
{
	raft_index before = kv_applied_index(n->kv), i = before;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t start = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	size_t since_check = 0;
	int rv = 0;
	while (i < n->apply_to && !n->stopping) {
		/* a snapshot is of the map at exactly its index */
		if (n->snap_deferred && i == n->snap_deferred_index)
			take_deferred_snapshot(n);
		size_t bytes;
		int64_t rev = mvcc_revision(kv_mvcc_const(n->kv));
		rv = apply_one(n, ++i, &bytes);
		if (rev != mvcc_revision(kv_mvcc_const(n->kv)))
			v3_watch_applied(n); /* any entry that wrote: /db, v3, deletes, revokes */
		if (rv < 0)
			break;
		/* the clock every 256 KiB or 64 entries: cheap next to them */
		since_check += bytes + 4096;
		if (since_check >= 256 * 1024) {
			since_check = 0;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - start >= APPLY_SLICE_NS)
				break;
		}
	}
	i = kv_applied_index(n->kv);
	if (n->snap_deferred && i == n->snap_deferred_index)
		take_deferred_snapshot(n);
	if (i > before) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		hist_observe(&n->apply_hist, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - start);
		wal_release(n->wal, i); /* applied: its pages need not stay in our RSS */
		if (n->applied_pending < i)
			n->applied_pending = i;
		answer_writes(n, i);
		serve_reads(n);
	}
	/* due 1 ns after this pass's clock: the loop polls without sleeping
	 * and fires it in the next pass, not again in this one */
	if (rv == 0 && i < n->apply_to && !n->stopping && !loop_timer_armed(&n->apply_timer))
		loop_timer_arm_at(&n->loop, &n->apply_timer, loop_now_ns(&n->loop) + 1);
	return rv;
}

/* RAFT_ACT_APPLY: [first, last] are committed. The first slice runs now, so
 * a write is answered within the step that commits it. */
static int apply_range(struct node *n, raft_index first, raft_index last)
{
	(void)first; /* the map knows where it is: applied + 1 */
	/* the client writes this commits, once each (the list is in index order) */
	if (last > n->commit_hist_upto && n->writes) {
		uint64_t t = hist_now_ns();
		for (struct write_wait *w = n->writes; w && w->index <= last; w = w->next)
			if (w->index > n->commit_hist_upto && w->since_ns)
				hist_observe(&n->commit_hist, t - w->since_ns);
	}
	if (n->commit_hist_upto < last)
		n->commit_hist_upto = last;
	if (n->apply_to < last)
		n->apply_to = last;
	return apply_slice(n);
}

void on_apply_timer(struct loop_timer *t)
{
	struct node *n = (struct node *)((char *)t - offsetof(struct node, apply_timer));
	if (n->stopping)
		return;
	int rv = apply_slice(n);
	if (rv < 0) {
		char why[160];
		snprintf(why, sizeof(why), "applying the log: %s", strerror(-rv));
		fatal_stop(n, why);
		return;
	}
	report_deferred(n); /* RAFT_EV_APPLIED */
}

/* ---- the core driver ------------------------------------------------------------ */

static void on_role(struct node *n, const struct raft_action *a)
{
	const char *role = raft_role_name(a->role.role);
	bool term_changed = a->role.term != n->last_term;
	bool leader_changed = strcmp(a->role.leader, n->last_leader) != 0;
	log_set_state(a->role.term, role, a->role.leader);
	/* one leader per term: a leader in a term not seen led yet is a change */
	if (a->role.leader[0] && a->role.term != n->leader_seen_term) {
		n->leader_seen_term = a->role.term;
		n->leader_changes++;
	}
	if (a->role.role == RAFT_LEADER && n->last_role != RAFT_LEADER)
		log_msg(LOG_NOTICE, LOG_ID_LEADER_ELECTED, NULL, "became leader (term %" PRIu64 ")", a->role.term);
	else if (term_changed)
		log_msg(LOG_INFO, LOG_ID_TERM_CHANGED, NULL, "term %" PRIu64 ": %s, leader '%s'", a->role.term, role,
			a->role.leader);
	else if (leader_changed || a->role.role != n->last_role)
		log_info("%s, leader '%s'", role, a->role.leader);
	n->last_role = a->role.role;
	n->last_term = a->role.term;
	snprintf(n->last_leader, sizeof(n->last_leader), "%s", a->role.leader);
	v3_lease_role_changed(n); /* the lease clock starts or stops with leading */
	notify_status(n);
}

static const char *msg_name(enum raft_msg_type t)
{
	switch (t) {
	case RAFT_MSG_AE_REQ: return "AppendEntries";
	case RAFT_MSG_AE_RESP: return "an AppendEntries response";
	case RAFT_MSG_RV_REQ: return "RequestVote";
	case RAFT_MSG_RV_RESP: return "a RequestVote response";
	case RAFT_MSG_SNAP_REQ: return "SnapshotRequest";
	case RAFT_MSG_SNAP_RESP: return "a SnapshotRequest response";
	case RAFT_MSG_SNAPREC_REQ: return "SnapshotRecoveryRequest";
	case RAFT_MSG_SNAPREC_RESP: return "a SnapshotRecovery response";
	case RAFT_MSG_TIMEOUT_NOW: return "TimeoutNow";
	case RAFT_MSG_READ_INDEX: return "ReadIndex";
	case RAFT_MSG_READ_INDEX_RESP: return "a ReadIndex response";
	}
	return "a message";
}

/* The core ignored a message or denied a vote: say why, rate-limited. */
static void log_refused(struct node *n, const struct raft_action *a)
{
	unsigned why = (unsigned)a->refused.why;
	if (why >= sizeof(n->refused_at_ms) / sizeof(n->refused_at_ms[0]))
		why = 0;
	uint64_t t = now_ms(n);
	if (n->refused_at_ms[why] && t - n->refused_at_ms[why] < 1000) {
		n->refused_quiet[why]++;
		return;
	}
	char more[64] = "";
	if (n->refused_quiet[why])
		snprintf(more, sizeof(more), " (and %" PRIu64 " more like it)", n->refused_quiet[why]);
	n->refused_at_ms[why] = t;
	n->refused_quiet[why] = 0;
	const char *from = a->refused.from, *what = msg_name(a->refused.msg_type);
	raft_term term = a->refused.term, ours = raft_current_term(n->r);
	switch (a->refused.why) {
	case RAFT_REFUSE_TERM_MAX:
		log_warning("ignored %s from %s: term %" PRIu64 " is above the largest term taken (%" PRIu64
			    ")%s", what, from, term, (uint64_t)RAFT_TERM_MAX, more);
		break;
	case RAFT_REFUSE_TERM_AHEAD:
		log_warning("ignored %s from %s: term %" PRIu64 " is more than 2^32 above ours (%" PRIu64 ")%s",
			    what, from, term, ours, more);
		break;
	case RAFT_REFUSE_NOT_MEMBER:
		if (a->refused.msg_type == RAFT_MSG_RV_REQ)
			log_debug("vote request from %s, not a member: denied%s", from, more);
		else
			log_warning("refused %s from %s (term %" PRIu64 "): not a member of this node's "
				    "configuration%s", what, from, term, more);
		break;
	case RAFT_REFUSE_LEADER_ALIVE:
		log_info("denied a vote to %s (term %" PRIu64 ", ours %" PRIu64 "): the leader was heard "
			 "from within the election timeout%s", from, term, ours, more);
		break;
	case RAFT_REFUSE_NOT_LEADER:
		log_warning("refused %s from %s: not this node's leader%s", what, from, more);
		break;
	case RAFT_REFUSE_RECOVERING:
		log_info("denied a vote to %s: this node lost its log and catches up first%s", from, more);
		break;
	}
}

static void execute(struct node *n, const struct raft_update *u, const struct raft_event *ev,
		    const struct step_ctx *ctx)
{
	bool log_changed = false, reads_confirmed = false;
	for (size_t i = 0; i < u->n_actions && !n->stopping; i++) {
		const struct raft_action *a = &u->actions[i];
		int rv = 0;
		switch (a->type) {
		case RAFT_ACT_PERSIST: {
			if (n->metas_len == n->metas_cap) {
				size_t cap = n->metas_cap ? 2 * n->metas_cap : 8;
				struct meta_need *p = realloc(n->metas, cap * sizeof(*p));
				if (!p) {
					rv = -ENOMEM;
					break;
				}
				n->metas = p;
				n->metas_cap = cap;
			}
			struct meta_need *m = &n->metas[n->metas_len++];
			m->seq = a->persist.seq;
			m->term = a->persist.term;
			snprintf(m->vote, sizeof(m->vote), "%s", a->persist.vote);
			rv = wal_meta_set(n->wal, a->persist.term, a->persist.vote);
			break;
		}
		case RAFT_ACT_TRUNCATE: {
			raft_index from = a->truncate.from;
			char field[64];
			snprintf(field, sizeof(field), "RAFT_INDEX=%" PRIu64, from);
			log_msg(LOG_INFO, LOG_ID_WAL_TRUNCATED, field, "log truncated from index %" PRIu64
				" (conflict with the leader)", from);
			rv = wal_truncate(n->wal, from);
			/* writes of the cut entries no longer need to land */
			for (size_t k = 0; k < n->needs_len; k++)
				if (n->needs[n->needs_head + k].need >= from)
					n->needs[n->needs_head + k].need = from - 1;
			if (rv == 0)
				rv = needs_push(n, a->truncate.seq, from - 1);
			fail_writes_from(n, from, 0, LOST_WRITE);
			if (n->raftd_only_last >= from)
				find_raftd_only(n, from - 1);
			log_changed = true;
			break;
		}
		case RAFT_ACT_APPEND: {
			raft_index first = a->append.first;
			for (size_t k = 0; k < a->append.n && rv == 0; k++) {
				raft_index idx = first + k;
				struct raft_entry e;
				if (!raft_get_entry(n->r, idx, &e)) {
					rv = -EIO;
					break;
				}
				if (a->append.src == RAFT_SRC_CORE) {
					struct cmd c;
					rpc_core_entry_cmd(&e, &c);
					rv = append_cmd(n, idx, e.term, &c);
				} else if (ctx && ctx->raw) {
					const struct wire_bytes *b = &ctx->raw[a->append.event_offset + k];
					if (!rpc_entry_goraft_may_get(b->ptr, b->len))
						n->raftd_only_last = idx;
					rv = wal_append(n->wal, idx, e.term, b->ptr, b->len);
				} else if (ctx && ctx->cmds) {
					const struct cmd *c = &ctx->cmds[a->append.event_offset + k];
					if (!rpc_cmd_goraft_may_get(c))
						n->raftd_only_last = idx;
					rv = append_cmd(n, idx, e.term, c);
				} else {
					rv = -EINVAL;
				}
			}
			if (rv == 0 && a->append.n)
				rv = needs_push(n, a->append.seq, first + a->append.n - 1);
			log_changed = true;
			break;
		}
		case RAFT_ACT_SEND:
			if (rpc_path(&a->send.msg))
				send_request(n, a->send.to, &a->send.msg);
			else
				send_response(n, &a->send.msg);
			break;
		case RAFT_ACT_APPLY:
			rv = apply_range(n, a->apply.first, a->apply.last);
			break;
		case RAFT_ACT_ROLE:
			/* the core fails the reads a lost leadership leaves
			 * unconfirmed; a follower's wait for its leader */
			on_role(n, a);
			break;
		case RAFT_ACT_REMOVED:
			log_msg(LOG_NOTICE, LOG_ID_REMOVED, NULL, "removed from the cluster: stopping");
			n->stopping = true;
			loop_stop(&n->loop);
			break;
		case RAFT_ACT_TAKE_SNAPSHOT:
			take_snapshot(n, a);
			break;
		case RAFT_ACT_COMPACT: {
			/* keep the entries after the fallback snapshot: start-up
			 * takes it when the newest does not verify
			 * (kv_snapshot_load_latest) */
			raft_index upto = a->compact.upto;
			if (n->snap_prev_index && upto > n->snap_prev_index)
				upto = n->snap_prev_index;
			if (upto)
				rv = wal_compact(n->wal, upto + 1);
			if (rv > 0)
				rv = 0;
			break;
		}
		case RAFT_ACT_INSTALL: {
			/* The snapshot is made durable here; the log is rebased
			 * on it by a restart (rebase_wal() at start-up), when no
			 * disk I/O is in flight. */
			n->snap_deferred = false; /* older than this one */
			struct kv *fresh = NULL;
			struct kv_snapshot_meta meta = { 0 };
			char err[512] = "no snapshot state";
			rv = ctx && ctx->state ? kv_snapshot_decode(ctx->state->ptr, ctx->state->len, "received snapshot",
								  &fresh, &meta, err, sizeof(err))
					       : -EINVAL;
			if (rv == 0)
				rv = kv_snapshot_save(n->dir_snap, fresh, &meta, err, sizeof(err));
			kv_free(fresh);
			kv_snapshot_meta_free(&meta);
			if (rv < 0) {
				log_error("snapshot install at %" PRIu64 ": %s", a->install.index, err);
				break;
			}
			char field[64];
			snprintf(field, sizeof(field), "RAFT_INDEX=%" PRIu64, a->install.index);
			log_msg(LOG_NOTICE, LOG_ID_SNAPSHOT_INSTALLED, field,
				"saved the leader's snapshot at index %" PRIu64 " term %" PRIu64
				": restarting to rebase the log on it", a->install.index, a->install.term);
			n->exit_status = NODE_RESTART;
			n->stopping = true;
			loop_stop(&n->loop);
			break;
		}
		case RAFT_ACT_REFUSED:
			log_refused(n, a);
			break;
		case RAFT_ACT_READ: {
			for (struct read_wait *w = n->reads; w; w = w->next) {
				if (w->id == a->read.id) {
					w->index = a->read.index ? a->read.index : UINT64_MAX;
					break;
				}
			}
			reads_confirmed = true;
			break;
		}
		}
		if (rv < 0 && !n->stopping) {
			char why[160];
			snprintf(why, sizeof(why), "carrying out a raft action (%d): %s", (int)a->type, strerror(-rv));
			fatal_stop(n, why);
		}
	}
	(void)ev;
	if (log_changed)
		sync_peers(n);
	/* failed consistent reads (leadership lost, never confirmed) */
	for (struct read_wait **pp = &n->reads; *pp;) {
		struct read_wait *w = *pp;
		if (w->index == UINT64_MAX) {
			if (w->v3)
				v3_read_serve(n, w, -V3_E_NO_LEADER);
			else
				httpd_reply_text(w->req, 503, "consistent read failed: leadership not confirmed; retry");
			*pp = w->next;
			free(w->key);
			free(w);
		} else {
			pp = &w->next;
		}
	}
	/* a read confirmed by a heartbeat round is served now if its index is
	 * applied already; the others when apply_range() gets there */
	if (reads_confirmed)
		serve_reads(n);
	if (n->needs_len)
		check_durable(n); /* a truncate may already be satisfied */
}

/* Events the actions produce for the core (applied, a snapshot that could
 * not start) are reported once the update is carried out: the core's action
 * array is valid only until the next raft_step(). */
void report_deferred(struct node *n)
{
	if (n->stopping)
		return;
	/* kinds before APPLIED: applying may take a snapshot, which a goraft
	 * member forbids; told after, the core saw a restarted node's goraft
	 * peers as raftd nodes and took one (goraft.sh, mix 2) */
	for (struct npeer *p = n->peers; p && !n->stopping; p = p->next) {
		if (!p->kind_unreported)
			continue;
		p->kind_unreported = false;
		struct raft_event k = { .type = RAFT_EV_PEER_KIND, .peer_kind.name = p->name,
					.peer_kind.goraft = p->goraft };
		step(n, &k, NULL);
	}
	if (n->applied_pending && !n->stopping) {
		struct raft_event a = { .type = RAFT_EV_APPLIED, .applied.index = n->applied_pending };
		n->applied_pending = 0;
		step(n, &a, NULL);
	}
}

void writes_queue(struct node *n, struct write_wait *w)
{
	struct write_wait *last = n->writes ? (struct write_wait *)((char *)n->writes_tail -
								    offsetof(struct write_wait, next)) : NULL;
	w->next = NULL;
	if (!last || last->index <= w->index) {
		*n->writes_tail = w;
		n->writes_tail = &w->next;
		return;
	}
	/* a follower's v3 write that waits for an index this node, now
	 * leading, has not reached (v3_kv.c) */
	struct write_wait **pp = &n->writes;
	while ((*pp)->index <= w->index)
		pp = &(*pp)->next;
	w->next = *pp;
	*pp = w;
}

/* Every event goes through here. Returns raft_step()'s verdict; *ret_proposed
 * (may be NULL) gets update.proposed, and w, when given, is queued for that
 * index before any action runs. */
int step_propose(struct node *n, struct raft_event *ev, const struct step_ctx *ctx, struct write_wait *w)
{
	struct raft_update u;
	if (n->stopping && ev->type != RAFT_EV_DURABLE && ev->type != RAFT_EV_PERSISTED)
		return -ESHUTDOWN;
	ev->now = now_ms(n);
	int rv = raft_step(n->r, ev, &u);
	if (rv == -ENOMEM) {
		/* The core's state ran ahead of the actions it could record and
		 * it takes no more events (raft.h): carry out none of them. */
		log_error("the Raft core is out of memory: stopping so that recovery reads what is on disk");
		n->exit_status = 1;
		n->stopping = true;
		loop_stop(&n->loop);
		return rv;
	}
	if (rv == 0 && u.proposed) {
		n->last_proposed = u.proposed;
		n->last_proposed_term = raft_current_term(n->r);
	}
	if (w && rv == 0 && u.proposed) {
		w->index = u.proposed;
		w->term = raft_current_term(n->r);
		writes_queue(n, w);
	}
	execute(n, &u, ev, ctx);
	report_deferred(n);
	if (n->recovering && !raft_recovering(n->r)) {
		n->recovering = false;
		if (unlink(n->recovering_path) < 0 && errno != ENOENT)
			log_warning("%s: %s", n->recovering_path, strerror(errno));
		log_msg(LOG_NOTICE, NULL, NULL, "caught up from the leader %s to index %" PRIu64 ": votes again", raft_leader(n->r),
			   raft_commit_index(n->r));
	}
	if (rv == 0 && w && !u.proposed)
		rv = -EPERM;
	return rv;
}

int step_rv(struct node *n, struct raft_event *ev, const struct step_ctx *ctx)
{
	return step_propose(n, ev, ctx, NULL);
}

void step(struct node *n, struct raft_event *ev, const struct step_ctx *ctx)
{
	step_propose(n, ev, ctx, NULL);
}

/* The wait of a client request for its entry of this type, or NULL. */
struct write_wait *write_wait_new(struct node *n, struct httpd_request *req, enum raft_entry_type type)
{
	struct write_wait *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->since_ms = now_ms(n);
	w->since_ns = hist_now_ns();
	w->lost_status = type == RAFT_ENTRY_COMMAND ? 400 : 500;
	w->join = type == RAFT_ENTRY_JOIN;
	n->joins_waiting += w->join;
	w->req = req;
	return w;
}

/* Answers the joins that a majority of the voters before them holds
 * (raft_change_held()) without waiting for their commit: goraft's leader
 * answers a join once the old configuration has committed it
 * (docs/goraft-protocol.md §7.1), and a goraft joiner answers nothing before
 * that answer (§7.2), so a commit that needs its vote would wait for it in
 * vain (§11.15). */
void answer_held_joins(struct node *n)
{
	unsigned left = 0;
	for (struct write_wait **pp = &n->writes; *pp;) {
		struct write_wait *w = *pp;
		if (!w->join || !raft_change_held(n->r, w->index, w->term)) {
			left += w->join;
			pp = &w->next;
			continue;
		}
		httpd_reply(w->req, 200, NULL, "", 0, NULL);
		*pp = w->next;
		free(w);
	}
	n->joins_waiting = left;
	n->writes_tail = &n->writes;
	while (*n->writes_tail)
		n->writes_tail = &(*n->writes_tail)->next;
}

/* Fails the writes waiting from index `from` on: with `status`, or with each
 * write's own lost_status when it is 0. */
void fail_writes_from(struct node *n, raft_index from, unsigned status, const char *why)
{
	struct write_wait **pp = &n->writes;
	while (*pp && (*pp)->index < from)
		pp = &(*pp)->next;
	while (*pp) {
		struct write_wait *w = *pp;
		if (w->v3 && !status) {
			/* cut from this log: whether it is lost is for the
			 * apply of its index to say (its term), and a call
			 * has its deadline */
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (w->v3)
			v3_write_fail(n, w, -V3_E_STOPPING);
		else
			httpd_reply_text(w->req, status ? status : w->lost_status, why);
		n->writes_failed++;
		free(w);
	}
	n->writes_tail = &n->writes;
	while (*n->writes_tail)
		n->writes_tail = &(*n->writes_tail)->next;
}
