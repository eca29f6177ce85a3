/* src/raftd/node.c — one raftd node on one io_uring; see node.h.
 *
 * Start-up (the snapshot, the WAL and the core restored from them), the tick
 * and its sweeps, signals, sd_notify and the watchdog, and shutdown. The rest
 * of the node shares node_int.h: the core driver (driver.c), peers
 * (peers.c), snapshots (snapshots.c) and the HTTP API (api.c).
 */
#include "src/raftd/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "src/raftd/api_parse.h"
#include "src/raftd/log.h"

#define TICK_MS 10
#define RING_ENTRIES 1024
#define RPC_REPLY_DEADLINE_MS 5000 /* a core that never answers: 500 */
#define WRITE_TIMEOUT_MS 10000     /* a client write not applied by then: 503 */
#define RAFTD_PATH_SNAPSHOT "/raftd/snapshot"
#define RAFTD_PATH_TRANSFER "/raftd/transfer"

static void member_waits_run(struct node *n);
static void transfer_check(struct node *n);

static struct rpc_wait *rpc_wait_take(struct node *n, uint64_t req_id)
{
	for (struct rpc_wait **pp = &n->rpc_waits; *pp; pp = &(*pp)->next) {
		if ((*pp)->req_id == req_id) {
			struct rpc_wait *w = *pp;
			*pp = w->next;
			return w;
		}
	}
	return NULL;
}

void send_response(struct node *n, const struct raft_msg *m)
{
	struct rpc_wait *w = rpc_wait_take(n, m->req_id);
	uint8_t buf[128];
	if (!w)
		return; /* the exchange timed out meanwhile */
	long len = rpc_encode_response(m, buf, sizeof(buf));
	if (len < 0)
		httpd_reply_text(w->req, 500, "Failed creating response.");
	else
		/* Go's net/http sniffs goraft's bodies as octet-stream */
		httpd_reply(w->req, 200, "application/octet-stream", buf, (size_t)len, NULL);
	free(w);
}

/* STATUS= for systemctl status: role, term, leader and commit index. */
void notify_status(struct node *n)
{
	n->status_commit = raft_commit_index(n->r);
	sd_notifyf(0, "STATUS=%s, term %" PRIu64 ", leader %s, commit %" PRIu64, raft_role_name(raft_role(n->r)),
		   raft_current_term(n->r), raft_leader(n->r)[0] ? raft_leader(n->r) : "(none)", n->status_commit);
}

/* ---- timers and sweeps ---------------------------------------------------------------- */

static void sweep(struct node *n)
{
	uint64_t t = now_ms(n);
	for (struct rpc_wait **pp = &n->rpc_waits; *pp;) {
		struct rpc_wait *w = *pp;
		if (t - w->since_ms > RPC_REPLY_DEADLINE_MS) {
			httpd_reply_text(w->req, 500, "Failed creating response.");
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
	/* writes are in index order, not time order: look at all of them */
	for (struct write_wait **pp = &n->writes; *pp;) {
		struct write_wait *w = *pp;
		if (t - w->since_ms > WRITE_TIMEOUT_MS) {
			httpd_reply_text(w->req, 503,
					 "timed out waiting for the write to commit (it may still be applied)");
			n->writes_failed++;
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
	n->writes_tail = &n->writes;
	while (*n->writes_tail)
		n->writes_tail = &(*n->writes_tail)->next;
	for (struct read_wait **pp = &n->reads; *pp;) {
		struct read_wait *w = *pp;
		if (t - w->since_ms > WRITE_TIMEOUT_MS) {
			httpd_reply_text(w->req, 503, "timed out waiting for a consistent read");
			*pp = w->next;
			free(w->key);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* The event loop is alive (this runs from it); the node is healthy if no
 * log write or term/vote write has been outstanding for longer than
 * wal_stall_ms. A frozen disk thus gets the node restarted by systemd
 * instead of leaving a leader that cannot commit. */
static void watchdog(struct node *n)
{
	uint64_t t = now_ms(n);
	if (!n->watchdog_usec || t - n->watchdog_sent_ms < n->watchdog_usec / 2000)
		return;
	bool waiting = wal_durable_index(n->wal) < wal_last_index(n->wal) || n->metas_len;
	/* A full disk answers (ENOSPC): not a frozen one, no restart. */
	if (!waiting || wal_nospace(n->wal))
		n->disk_progress_ms = t;
	if (t - n->disk_progress_ms > n->cfg.wal_stall_ms) {
		log_warning("the disk has not completed a write for %" PRIu64 " ms: withholding the watchdog ping",
			    t - n->disk_progress_ms);
		return;
	}
	sd_notify(0, "WATCHDOG=1");
	n->watchdog_sent_ms = t;
}

static void on_tick(struct loop_timer *t)
{
	struct node *n = (struct node *)((char *)t - offsetof(struct node, tick));
	struct raft_event ev = { .type = RAFT_EV_TICK };
	step(n, &ev, NULL);
	report_snap_failed(n);
	member_waits_run(n);
	transfer_check(n);
	watchdog(n);
	static unsigned ticks;
	if (++ticks % 10 == 0) {
		sweep(n);
		sync_peers(n); /* drops the clients of long-removed members */
		join_try(n);
	}
	if (ticks % 100 == 0 && wal_nospace(n->wal))
		wal_resume(n->wal); /* once a second: has the disk room again? */
	if (ticks % 100 == 0 && raft_commit_index(n->r) != n->status_commit) {
		notify_status(n); /* at most once a second under load */
	}
	if (!n->stopping)
		loop_timer_arm(&n->loop, &n->tick, TICK_MS);
}

static void on_flush(struct loop_hook *h)
{
	struct node *n = (struct node *)((char *)h - offsetof(struct node, flush_hook));
	if (n->wal && !n->stopping) {
		int rv = wal_flush(n->wal);
		if (rv < 0)
			fatal_stop(n, "wal flush failed");
	}
}

/* ---- HTTP: raft RPCs -------------------------------------------------------------------- */

/* A stopping node answers at once: a request it parked now would never be
 * answered, and libmicrohttpd aborts the process when it is stopped with a
 * parked connection (httpd_stop() runs it once more, and requests that
 * arrive then reach these handlers). */
bool refuse_stopping(struct node *n, struct httpd_request *req)
{
	if (!n->stopping)
		return false;
	httpd_reply_text(req, 503, "raft: Has been stopped");
	return true;
}

/* goraft's Peer has no learner flag; a raftd leader's State (a kv snapshot)
 * has, for the same members: rr's peers become a copy in peers[] with it. */
static void snaprec_learners(struct rpc_request *rr, struct raft_member_info *peers)
{
	struct kv_snapshot_meta meta;
	size_t n = rr->msg.snaprec.n_peers < RAFT_MAX_PEERS ? rr->msg.snaprec.n_peers : RAFT_MAX_PEERS;
	if (kv_snapshot_decode_meta(rr->state.ptr, rr->state.len, &meta) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		peers[i] = rr->msg.snaprec.peers[i];
		for (size_t k = 0; k < meta.n_members; k++)
			if (peers[i].name && !strcmp(meta.members[k].name.ptr, peers[i].name))
				peers[i].learner = meta.members[k].learner;
	}
	rr->msg.snaprec.n_peers = n;
	rr->msg.snaprec.peers = n ? peers : NULL;
	kv_snapshot_meta_free(&meta);
}

static void on_raft(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	const char *path = httpd_path(req);
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	char err[256];

	if (!strcmp(path, RAFTD_PATH_VERSION)) {
		char v[128];
		int l = snprintf(v, sizeof(v), "{\"server\":\"raftd\",\"version\":\"%s\",\"name\":\"%s\"}\n",
				 PACKAGE_VERSION, n->name);
		httpd_reply(req, 200, "application/json", v, (size_t)l, NULL);
		return;
	}
	if (!strcmp(path, RAFTD_PATH_SNAPSHOT) || !strcmp(path, RAFTD_PATH_TRANSFER)) {
		httpd_reply_text(req, 405, "405 method not allowed"); /* the routes above took the others */
		return;
	}
	struct rpc_request rr;
	uint64_t id = ++n->next_req_id;
	int rv = rpc_decode_request(&n->dec, path, body, len, id, &rr, err, sizeof(err));
	if (rv == -ENOENT) {
		httpd_reply_text(req, 404, "404 page not found");
		return;
	}
	if (rv < 0) {
		log_debug("%s: %s", path, err);
		httpd_reply_text(req, 400, ""); /* goraft: http.Error(w, "", 400) */
		return;
	}
	if (rr.msg.type == RAFT_MSG_AE_REQ && rr.msg.ae.n_entries && wal_nospace(n->wal)) {
		/* No room to append: the entries are refused with a 503, never
		 * a success (a leader counts one as covering all it sent). The
		 * core still sees a heartbeat, so that this node stays a
		 * follower; its answer, to a request nobody waits for, is
		 * dropped. */
		log_debug("wal: no space: %zu entries from %s refused", rr.msg.ae.n_entries, rr.from);
		rr.msg.ae.n_entries = 0;
		rr.msg.ae.entries = NULL;
		struct step_ctx hb_ctx = { .raw = rr.raw, .state = &rr.state };
		struct raft_event hb = { .type = RAFT_EV_RECV, .recv.from = rr.from, .recv.msg = rr.msg };
		step(n, &hb, &hb_ctx);
		httpd_reply_text(req, 503, "NOSPACE: this node's disk is full");
		return;
	}
	struct rpc_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		httpd_reply_text(req, 500, "Failed creating response.");
		return;
	}
	w->req_id = id;
	w->since_ms = now_ms(n);
	w->req = req;
	w->next = n->rpc_waits;
	n->rpc_waits = w;
	n->rpcs_in++;
	log_debug("recv %s from %s (req %" PRIu64 ")", path, rr.from, id);
	struct raft_member_info peers[RAFT_MAX_PEERS];
	if (rr.msg.type == RAFT_MSG_SNAPREC_REQ)
		snaprec_learners(&rr, peers);
	struct step_ctx ctx = { .raw = rr.raw, .state = &rr.state };
	struct raft_event ev = { .type = RAFT_EV_RECV, .recv.from = rr.from, .recv.msg = rr.msg };
	step(n, &ev, &ctx);
	/* goraft answers 500 when the state does not handle the message; the
	 * core never answers such a message, and nothing else may wait on the
	 * request body after this step: answer now if the core has not. */
	if (rr.msg.type == RAFT_MSG_SNAP_REQ || rr.msg.type == RAFT_MSG_SNAPREC_REQ ||
	    rr.msg.type == RAFT_MSG_TIMEOUT_NOW) {
		struct rpc_wait *left = rpc_wait_take(n, id);
		if (left) {
			httpd_reply_text(req, 500, "Failed creating response.");
			free(left);
		}
	} else if (rr.msg.type == RAFT_MSG_AE_REQ) {
		/* the entries are copied into the WAL batch during the step;
		 * nothing else keeps pointers into the body */
	}
}

/* ---- HTTP: the client API ---------------------------------------------------------------- */

static bool db_key(struct httpd_request *req, const char **ret_key)
{
	const char *k = api_db_key(httpd_path(req));
	if (!k) {
		httpd_reply_text(req, 404, "404 page not found");
		return false;
	}
	*ret_key = k;
	return true;
}

static bool not_leader(struct node *n, struct httpd_request *req)
{
	if (raft_role(n->r) == RAFT_LEADER)
		return false;
	const char *leader = raft_leader(n->r);
	if (n->cfg.forward_writes && leader[0]) {
		for (size_t i = 0; i < raft_n_members(n->r); i++) {
			if (strcmp(raft_member_name(n->r, i), leader) != 0)
				continue;
			char loc[RAFT_URL_MAX + 512];
			const char *consistent = httpd_query(req, "consistent"), *marker = httpd_query(req, "raftd");
			snprintf(loc, sizeof(loc), "%s%s%s%s%s%s", raft_member_url(n->r, i), httpd_path(req),
				 consistent ? "?consistent=" : "", consistent ? consistent : "",
				 marker ? (consistent ? "&raftd=" : "?raftd=") : "", marker ? marker : "");
			const char *hdr[] = { "Location", loc, NULL };
			httpd_reply(req, 307, "text/plain; charset=utf-8", "redirect to the leader\n", 23, hdr);
			return true;
		}
	}
	/* goraft raftd's words, verbatim (capture db-write-on-follower) */
	httpd_reply_text(req, 400, "raft.Server: Not current leader");
	return true;
}

static int propose(struct node *n, struct httpd_request *req, const struct cmd *c, enum raft_entry_type type)
{
	struct raft_entry e = { .type = type };
	if (wal_nospace(n->wal))
		return -ENOSPC;
	e.size = (uint32_t)cmd_entry_size(raft_last_index(n->r) + 1, raft_current_term(n->r), c);
	if (type == RAFT_ENTRY_JOIN || type == RAFT_ENTRY_LEAVE || type == RAFT_ENTRY_LEARNER) {
		e.name = c->name.ptr;
		e.url = c->connection_string.ptr;
	}
	struct write_wait *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->since_ms = now_ms(n);
	w->req = req;
	struct step_ctx ctx = { .cmds = c };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose.n = 1, .propose.entries = &e };
	int rv = step_propose(n, &ev, &ctx, w);
	if (rv < 0)
		free(w);
	return rv;
}

static void reply_propose_error(struct httpd_request *req, int rv)
{
	switch (rv) {
	case -EPERM: httpd_reply_text(req, 400, "raft.Server: Not current leader"); break;
	case -EBUSY: httpd_reply_text(req, 503, "a membership change is in progress; retry"); break;
	case -EEXIST: httpd_reply_text(req, 409, "already a member"); break;
	case -ENOENT: httpd_reply_text(req, 404, "not a member"); break;
	case -EOPNOTSUPP: httpd_reply_text(req, 400, "not possible while a goraft node is a member"); break;
	/* etcd's alarm name, so that clients and operators recognise it */
	case -ENOSPC: httpd_reply_text(req, 503, "NOSPACE: the leader's disk is full; retry once it has room"); break;
	default: httpd_reply_text(req, 500, strerror(-rv)); break;
	}
}

static void on_db_get(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	const char *key;
	if (!db_key(req, &key))
		return;
	if (strlen(key) > n->cfg.max_key) {
		httpd_reply_text(req, 414, "key too long");
		return;
	}
	const char *consistent = httpd_query(req, "consistent");
	if (!consistent || strcmp(consistent, "true") != 0) {
		n->reads_local++;
		reply_read(n, req, key, strlen(key));
		return;
	}
	if (not_leader(n, req))
		return;
	struct read_wait *w = calloc(1, sizeof(*w));
	char *k = strdup(key);
	if (!w || !k) {
		free(w);
		free(k);
		httpd_reply_text(req, 500, "out of memory");
		return;
	}
	w->id = ++n->next_read_id;
	w->since_ms = now_ms(n);
	w->req = req;
	w->key = k;
	w->key_len = strlen(k);
	w->next = n->reads;
	n->reads = w;
	struct raft_event ev = { .type = RAFT_EV_READ, .read.id = w->id };
	if (step_rv(n, &ev, NULL) < 0) {
		for (struct read_wait **pp = &n->reads; *pp; pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				httpd_reply_text(req, 400, "raft.Server: Not current leader");
				free(w->key);
				free(w);
				break;
			}
		}
		return;
	}
	serve_reads(n);
}

static void on_db_post(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	const char *key;
	size_t len;
	const uint8_t *value = httpd_body(req, &len);
	if (!db_key(req, &key))
		return;
	size_t key_len = strlen(key);
	if (key_len > n->cfg.max_key) {
		httpd_reply_text(req, 414, "key too long");
		return;
	}
	if (len > n->cfg.max_value) {
		httpd_reply_text(req, 413, "value too large");
		return;
	}
	if (not_leader(n, req))
		return;
	struct cmd c = { .type = CMD_WRITE };
	c.key = cmd_str_ref(key, key_len);
	c.value = cmd_str_ref(value, len);
	int rv = propose(n, req, &c, RAFT_ENTRY_COMMAND);
	if (rv < 0)
		reply_propose_error(req, rv);
}

/* raftd-only features (DELETE, snapshots, leadership transfer) need every
 * other member to be a raftd node: a goraft node cannot apply raftd's
 * commands, take a snapshot or get one (docs/goraft-protocol.md §10.1,
 * §11.13). Returns 0, or the status to refuse with and the reason in msg: 409
 * for a goraft member, 503 while a member's kind is not known yet. */
unsigned extensions_refused(struct node *n, const char *what, char *msg, size_t len)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++) {
		const char *name = raft_member_name(n->r, i);
		if (!strcmp(name, n->name))
			continue;
		struct npeer *p = npeer_find(n, name);
		if (p && p->kind_known && p->goraft) {
			snprintf(msg, len, "%s: not possible while a goraft node is a member (%s)", what, name);
			return 409;
		}
		if (!p || !p->kind_known) {
			snprintf(msg, len, "%s: the kind of member %s (raftd or goraft) is not known yet; retry", what,
				 name);
			return 503;
		}
	}
	return 0;
}

static void on_db_delete(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	const char *key;
	char why[RAFT_NAME_MAX + 128];
	if (!db_key(req, &key))
		return;
	size_t key_len = strlen(key);
	if (key_len > n->cfg.max_key) {
		httpd_reply_text(req, 414, "key too long");
		return;
	}
	if (not_leader(n, req))
		return;
	unsigned status = extensions_refused(n, "DELETE", why, sizeof(why));
	if (status) {
		httpd_reply_text(req, status, why);
		return;
	}
	struct cmd c = { .type = CMD_DELETE, .key = cmd_str_ref(key, key_len) };
	int rv = propose(n, req, &c, RAFT_ENTRY_COMMAND);
	if (rv < 0)
		reply_propose_error(req, rv);
}

/* Proposes a membership change: 0 when the request waits for its entry,
 * or the core's refusal. A raftd joiner (CMD_LEARNER) joins as a learner,
 * which the leader promotes once it has caught up; while a goraft node is a
 * member there are no learners (goraft cannot apply the entry), and it
 * joins as a voter at once. */
static int propose_member(struct node *n, struct httpd_request *req, enum cmd_type type, const char *name,
			  const char *url)
{
	struct cmd c = { .type = type };
	c.name = cmd_str_ref(name, strlen(name));
	if (type != CMD_LEAVE)
		c.connection_string = cmd_str_ref(url, strlen(url));
	enum raft_entry_type et = type == CMD_JOIN ? RAFT_ENTRY_JOIN : type == CMD_LEAVE ? RAFT_ENTRY_LEAVE
											: RAFT_ENTRY_LEARNER;
	int rv = propose(n, req, &c, et);
	if (rv == -EOPNOTSUPP && type == CMD_LEARNER) {
		c.type = CMD_JOIN;
		rv = propose(n, req, &c, RAFT_ENTRY_JOIN);
	}
	return rv;
}

/* May a change the core refused wait and be tried again (for up to
 * WRITE_TIMEOUT_MS)? While another one is pending, and while the members
 * that answer could not commit without a new voter (one of them may be
 * restarting): a goraft joiner takes a refusal as final (§7.3). */
static bool member_may_wait(enum cmd_type type, int rv)
{
	return rv == -EBUSY || (rv == -ENOTCONN && type != CMD_LEAVE);
}

static void member_refused(struct httpd_request *req, enum cmd_type type, int rv)
{
	if (rv == -EEXIST && type != CMD_LEAVE)
		httpd_reply(req, 200, NULL, "", 0, NULL); /* goraft: a re-join is a no-op */
	else if (rv == -ENOTCONN && type == CMD_LEAVE)
		httpd_reply_text(req, 503, "leave: the cluster could not commit without this voter: the other "
					   "members that answered the leader lately would not be a majority; remove "
					   "the unreachable ones first, or retry once they are up");
	else if (rv == -ENOTCONN)
		httpd_reply_text(req, 503, "join: the cluster could not commit without the new voter: the members "
					   "that answered the leader lately would not be a majority with it; retry once "
					   "they are up");
	else if (rv == -EAGAIN)
		httpd_reply_text(req, 503, "join: a learner becomes a voter by itself once it has caught up; "
					   "retry");
	else
		reply_propose_error(req, rv);
}

static void member_wait_add(struct node *n, struct httpd_request *req, enum cmd_type type, const char *name,
			    const char *url)
{
	struct member_wait *w = calloc(1, sizeof(*w)), **pp = &n->member_waits;
	if (!w) {
		httpd_reply_text(req, 503, "out of memory; retry");
		return;
	}
	w->type = type;
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->url, sizeof(w->url), "%s", url ? url : "");
	w->since_ms = now_ms(n);
	w->req = req;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
}

/* Proposes the waiting membership changes the core now takes, in order. */
static void member_waits_run(struct node *n)
{
	while (n->member_waits && !n->stopping) {
		struct member_wait *w = n->member_waits;
		if (raft_role(n->r) != RAFT_LEADER) {
			n->member_waits = w->next;
			not_leader(n, w->req);
		} else {
			int rv = propose_member(n, w->req, w->type, w->name, w->url);
			if (member_may_wait(w->type, rv) && now_ms(n) - w->since_ms <= WRITE_TIMEOUT_MS)
				return;
			n->member_waits = w->next;
			if (rv < 0)
				member_refused(w->req, w->type, rv);
		}
		free(w);
	}
}

static void on_join(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	struct cmd c;
	char err[256];
	if (cmd_decode((const uint8_t *)CMD_NAME_JOIN, strlen(CMD_NAME_JOIN), true, body, len, &c, err,
		       sizeof(err)) < 0) {
		httpd_reply_text(req, 400, err);
		return;
	}
	if (!c.name.len || c.name.len >= RAFT_NAME_MAX || strlen(c.name.ptr) != c.name.len) {
		httpd_reply_text(req, 400, "join: name must be 1 to 63 bytes");
	} else if (c.connection_string.len >= RAFT_URL_MAX || !api_valid_url(c.connection_string.ptr)) {
		httpd_reply_text(req, 400, "join: connectionString must be http://host:port");
	} else if (!not_leader(n, req)) {
		const char *marker = httpd_query(req, "raftd");
		bool goraft = !(marker && !strcmp(marker, "1"));
		bool member = raft_is_member(n->r, c.name.ptr);
		char why[160];
		if (!member && goraft && raft_log_start(n->r) > 0) {
			snprintf(why, sizeof(why), "join: the log is compacted (it starts after index %" PRIu64
				 "): a goraft node needs every entry from index 1", raft_log_start(n->r));
			httpd_reply_text(req, 409, why);
			goto out;
		}
		if (!member && goraft && n->raftd_only_last) {
			snprintf(why, sizeof(why), "join: the log holds raftd-only commands (the last at index %" PRIu64
				 ") that a goraft node cannot apply", n->raftd_only_last);
			httpd_reply_text(req, 409, why);
			goto out;
		}
		if (!member) {
			/* before the join is proposed (raft.h, PEER_KIND) */
			struct raft_event ev = { .type = RAFT_EV_PEER_KIND, .peer_kind.name = c.name.ptr,
						 .peer_kind.goraft = goraft };
			step(n, &ev, NULL);
		}
		enum cmd_type type = goraft ? CMD_JOIN : CMD_LEARNER;
		int rv = n->member_waits ? -EBUSY : propose_member(n, req, type, c.name.ptr, c.connection_string.ptr);
		if (member_may_wait(type, rv))
			member_wait_add(n, req, type, c.name.ptr, c.connection_string.ptr);
		else if (rv < 0)
			member_refused(req, type, rv);
	}
out:
	cmd_free(&c);
}

static void on_leave(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	struct cmd c;
	char err[256];
	if (cmd_decode((const uint8_t *)CMD_NAME_LEAVE, strlen(CMD_NAME_LEAVE), true, body, len, &c, err,
		       sizeof(err)) < 0) {
		httpd_reply_text(req, 400, err);
		return;
	}
	if (!c.name.len || c.name.len >= RAFT_NAME_MAX || strlen(c.name.ptr) != c.name.len) {
		httpd_reply_text(req, 400, "leave: name must be 1 to 63 bytes");
	} else if (!not_leader(n, req)) {
		/* not behind the waiting changes: a leave that undoes a pending
		 * join (or removes a learner) is taken at once, the way out of
		 * a join that cannot commit */
		int rv = propose_member(n, req, CMD_LEAVE, c.name.ptr, NULL);
		if (member_may_wait(CMD_LEAVE, rv))
			member_wait_add(n, req, CMD_LEAVE, c.name.ptr, NULL);
		else if (rv < 0)
			member_refused(req, CMD_LEAVE, rv);
	}
	cmd_free(&c);
}

static void reply_json(struct httpd_request *req, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (!s) {
		httpd_reply_text(req, 500, "out of memory");
	} else {
		size_t l = strlen(s);
		s[l] = '\n'; /* json_dumps' NUL becomes the trailing newline */
		httpd_reply(req, 200, "application/json", s, l + 1, NULL);
	}
	free(s);
	json_decref(j);
}

static void on_status(struct httpd_request *req, void *data)
{
	struct node *n = data;
	json_t *peers = json_array();
	for (size_t i = 0; i < raft_n_members(n->r); i++) {
		const char *name = raft_member_name(n->r, i);
		struct npeer *p = npeer_find(n, name);
		json_t *m = json_pack("{s:s, s:s, s:b, s:b}", "name", name, "url", raft_member_url(n->r, i), "self",
				      !strcmp(name, n->name), "voter", raft_is_voter(n->r, name));
		if (m && p) {
			json_object_set_new(m, "kind", json_string(!p->kind_known ? "unknown" : p->goraft ? "goraft" : "raftd"));
			json_object_set_new(m, "reachable", json_boolean(!p->unreachable));
		}
		json_array_append_new(peers, m);
	}
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:b}}",
			      "server", "raftd", "name", n->name, "url", n->url, "term",
			      (json_int_t)raft_current_term(n->r), "role", raft_role_name(raft_role(n->r)),
			      "commit_index", (json_int_t)raft_commit_index(n->r), "applied_index",
			      (json_int_t)kv_applied_index(n->kv), "last_index", (json_int_t)raft_last_index(n->r),
			      "snapshot_index", (json_int_t)raft_snapshot_index(n->r), "keys",
			      (json_int_t)kv_count(n->kv), "members", peers, "wal", "first_index",
			      (json_int_t)wal_first_index(n->wal), "last_index", (json_int_t)wal_last_index(n->wal),
			      "durable_index", (json_int_t)wal_durable_index(n->wal), "direct_io",
			      wal_direct_io(n->wal));
	if (j) {
		json_object_set_new(j, "leader", json_string(raft_leader(n->r)));
		json_object_set_new(j, "recovering", json_boolean(raft_recovering(n->r)));
	}
	if (j && wal_nospace(n->wal))
		json_object_set_new(j, "alarm", json_string("NOSPACE"));
	reply_json(req, j);
}

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int l = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (l < 0 || b->oom)
			return;
		if (b->p && b->len + (size_t)l < b->cap) {
			b->len += (size_t)l;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + (size_t)l + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static void on_metrics(struct httpd_request *req, void *data)
{
	struct node *n = data;
	struct buf b = { 0 };
	const struct httpd_stats *hs = httpd_stats(n->http);
#define GAUGE(name, help, v) bprintf(&b, "# HELP raftd_" name " " help "\n# TYPE raftd_" name " gauge\nraftd_" name " %" PRIu64 "\n", (uint64_t)(v))
#define COUNTER(name, help, v) bprintf(&b, "# HELP raftd_" name " " help "\n# TYPE raftd_" name " counter\nraftd_" name " %" PRIu64 "\n", (uint64_t)(v))
	GAUGE("term", "Current Raft term.", raft_current_term(n->r));
	GAUGE("is_leader", "1 if this node is the leader.", raft_role(n->r) == RAFT_LEADER);
	GAUGE("commit_index", "Highest committed log index.", raft_commit_index(n->r));
	GAUGE("applied_index", "Highest log index applied to the key-value store.", kv_applied_index(n->kv));
	GAUGE("last_index", "Last log index.", raft_last_index(n->r));
	GAUGE("durable_index", "Last log index durable on this node's disk.", wal_durable_index(n->wal));
	GAUGE("keys", "Keys in the store.", kv_count(n->kv));
	GAUGE("kv_bytes", "Bytes of keys and values in the store.", kv_bytes(n->kv));
	GAUGE("members", "Cluster members.", raft_n_members(n->r));
	COUNTER("wal_batches_total", "WAL batches made durable (one write and one fdatasync each).", n->wal_batches);
	COUNTER("writes_applied_total", "Client writes answered 200 after apply.", n->writes_applied);
	COUNTER("writes_failed_total", "Client writes that failed or timed out.", n->writes_failed);
	COUNTER("reads_local_total", "Local (possibly stale) reads.", n->reads_local);
	COUNTER("reads_consistent_total", "Linearizable (ReadIndex) reads.", n->reads_consistent);
	COUNTER("rpcs_received_total", "Raft RPC requests received.", n->rpcs_in);
	COUNTER("rpcs_sent_total", "Raft RPC requests sent.", n->rpcs_out);
	COUNTER("append_entries_sent_total", "Log entries sent in AppendEntries requests.", n->ae_entries_out);
	COUNTER("append_entry_bytes_sent_total", "Encoded entry bytes sent in AppendEntries requests.", n->entry_bytes_out);
	COUNTER("http_requests_total", "HTTP requests received.", hs->requests);
	COUNTER("http_connections_refused_total", "Connections answered 503 at once: over a connection budget.",
		hs->conn_refused);
	COUNTER("http_head_timeouts_total", "Connections closed: no whole request head within --request-head-timeout.",
		hs->head_timeouts);
	COUNTER("http_body_timeouts_total", "Connections closed: no whole body within --request-body-timeout.",
		hs->body_timeouts);
	COUNTER("http_bad_framing_total", "Requests refused for ambiguous Content-Length/Transfer-Encoding.",
		hs->bad_framing);
	COUNTER("http_stranger_bodies_refused_total", "/raft requests over --max-stranger-body from non-members.",
		hs->stranger_refused);
	COUNTER("http_body_memory_refused_total", "Requests answered 503: their body did not fit --max-body-memory.",
		hs->memory_refused);
	COUNTER("http_busy_total", "Requests answered 503: too many of their kind at once.", hs->route_busy);
	GAUGE("http_connections_clients", "Open connections on the clients' budget.", hs->conns_clients);
	GAUGE("http_connections_peers", "Open connections on the peers' budget.", hs->conns_peers);
	GAUGE("http_body_bytes", "Bytes reserved by request bodies being read or held.", hs->body_bytes);
	uint64_t zc = 0, zc_copied = 0, copied = 0, sent_bytes = 0;
	for (struct npeer *p = n->peers; p; p = p->next) {
		const struct peer_stats *s = peer_stats(p->p);
		zc += s->bytes_zc;
		zc_copied += s->bytes_zc_copied;
		copied += s->bytes_copied;
		sent_bytes += s->bytes_zc + s->bytes_copied;
	}
	COUNTER("peer_bytes_zerocopy_total", "Bytes sent to peers with SENDMSG_ZC.", zc);
	COUNTER("peer_bytes_zerocopy_kernel_copied_total",
		"Of the zero-copy bytes, those the kernel reported it copied anyway (loopback does).", zc_copied);
	COUNTER("peer_bytes_copied_total", "Bytes sent to peers with plain sendmsg.", copied);
	bprintf(&b, "# HELP raftd_peer_up 1 while the peer answers.\n# TYPE raftd_peer_up gauge\n");
	for (struct npeer *p = n->peers; p; p = p->next)
		bprintf(&b, "raftd_peer_up{peer=\"%s\"} %d\n", p->name, !p->unreachable);
	(void)sent_bytes;
#undef GAUGE
#undef COUNTER
	if (b.oom || !b.p)
		httpd_reply_text(req, 500, "out of memory");
	else
		httpd_reply(req, 200, "text/plain; version=0.0.4", b.p, b.len, NULL);
	free(b.p);
}

/* ---- HTTP: raftd's admin endpoints (/raftd/...) -------------------------------------------------- */

/* POST /raftd/transfer {"to":"NAME"} (or no body, {} or "to":"": any other
 * voter): hand leadership over (thesis §3.10), answered once this node has
 * stepped down, with the new leader. */
static void on_transfer(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	char to[RAFT_NAME_MAX] = "", why[2 * RAFT_NAME_MAX + 128];
	if (api_transfer_to(body, len, to, sizeof(to), why, sizeof(why)) < 0) {
		httpd_reply_text(req, 400, why);
		return;
	}
	if (not_leader(n, req))
		return;
	unsigned status = extensions_refused(n, "transfer", why, sizeof(why));
	if (status) {
		httpd_reply_text(req, status, why);
		return;
	}
	if (n->transfer_req) {
		snprintf(why, sizeof(why), "transfer: one to %s is in progress", n->transfer_to);
		httpd_reply_text(req, 409, why);
		return;
	}
	if (!to[0]) {
		for (size_t i = 0; i < raft_n_members(n->r) && !to[0]; i++) {
			const char *name = raft_member_name(n->r, i);
			struct npeer *p = npeer_find(n, name);
			if (strcmp(name, n->name) != 0 && raft_is_voter(n->r, name) && p && !p->unreachable)
				snprintf(to, sizeof(to), "%s", name);
		}
		if (!to[0]) {
			httpd_reply_text(req, 409, "transfer: no other voting member to hand over to");
			return;
		}
	} else if (!strcmp(to, n->name) || !raft_is_voter(n->r, to)) {
		snprintf(why, sizeof(why), "transfer: %s is not another voting member", to);
		httpd_reply_text(req, 400, why);
		return;
	}
	struct raft_event ev = { .type = RAFT_EV_TRANSFER, .transfer.to = to };
	int rv = step_rv(n, &ev, NULL);
	if (rv < 0) {
		reply_propose_error(req, rv == -EINVAL ? -ENOENT : rv);
		return;
	}
	n->transfer_req = req;
	snprintf(n->transfer_to, sizeof(n->transfer_to), "%s", to);
	n->transfer_since_ms = now_ms(n);
	n->transfer_down_ms = 0;
	log_info("leadership transfer to %s requested", to);
}

/* Answers the pending transfer once this node has stepped down (and knows
 * the new leader, or a second has passed), or when it did not happen. */
static void transfer_check(struct node *n)
{
	if (!n->transfer_req)
		return;
	uint64_t t = now_ms(n);
	if (raft_role(n->r) != RAFT_LEADER) {
		if (!n->transfer_down_ms)
			n->transfer_down_ms = t;
		const char *leader = raft_leader(n->r);
		if (!leader[0] && t - n->transfer_down_ms < 1000)
			return;
		json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "from", n->name, "to", n->transfer_to, "leader", leader,
				      "term", (json_int_t)raft_current_term(n->r));
		reply_json(n->transfer_req, j);
		n->transfer_req = NULL;
		return;
	}
	if (t - n->transfer_since_ms > 2000 + 4 * (uint64_t)n->cfg.election_timeout_ms) {
		char why[RAFT_NAME_MAX + 96];
		snprintf(why, sizeof(why), "transfer to %s did not complete: still the leader; retry", n->transfer_to);
		httpd_reply_text(n->transfer_req, 503, why);
		n->transfer_req = NULL;
	}
}

/* ---- start-up ----------------------------------------------------------------------------------- */

static void on_signal(struct loop *loop, int signo, void *data)
{
	struct node *n = data;
	(void)loop;
	if (signo == SIGHUP) {
		struct config fresh;
		char err[512];
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, loop_now_ns(&n->loop) / 1000);
		if (config_reload(&n->cfg, &fresh, err, sizeof(err)) < 0) {
			log_error("reload: %s (settings unchanged)", err);
		} else {
			/* what applies without a restart: logging, client limits */
			static const int prio[] = { [LOG_LEVEL_ERROR] = LOG_ERR, [LOG_LEVEL_WARNING] = LOG_WARNING,
						    [LOG_LEVEL_INFO] = LOG_INFO, [LOG_LEVEL_DEBUG] = LOG_DEBUG,
						    [LOG_LEVEL_TRACE] = LOG_DEBUG };
			log_init(n->name, prio[fresh.log_level]);
			n->cfg.max_key = fresh.max_key;
			n->cfg.max_value = fresh.max_value;
			n->cfg.forward_writes = fresh.forward_writes;
			n->cfg.wal_stall_ms = fresh.wal_stall_ms;
			log_info("reloaded %s: log level, key/value limits, forward-writes, wal-stall-ms applied; "
				 "other settings need a restart", n->cfg.config_file ? n->cfg.config_file : "the command line");
			config_free(&fresh);
		}
		notify_status(n);
		sd_notify(0, "READY=1");
		return;
	}
	log_msg(LOG_INFO, LOG_ID_STOPPING, NULL, "%s: stopping", strsignal(signo));
	sd_notify(0, "STOPPING=1");
	n->stopping = true;
	loop_stop(&n->loop);
}

static int restore(struct node *n, struct wal_recovery *rec, struct kv_snapshot_meta *snap, char *err,
		   size_t err_len)
{
	struct raft_config rc;
	raft_config_default(&rc);
	rc.name = n->name;
	uint64_t seed;
	if (getentropy(&seed, sizeof(seed)) < 0)
		seed = (uint64_t)getpid() ^ loop_now_ns(&n->loop);
	rc.seed = seed;
	rc.election_timeout_ms = n->cfg.election_timeout_ms;
	rc.heartbeat_ms = n->cfg.heartbeat_ms;
	rc.max_entries = n->cfg.max_append_entries;
	rc.max_bytes = n->cfg.max_append_bytes;
	rc.max_inflight = n->cfg.max_inflight_appends > RAFT_MAX_INFLIGHT ? RAFT_MAX_INFLIGHT
									 : n->cfg.max_inflight_appends;
	rc.snapshot_threshold = n->cfg.snapshot_threshold;
#ifdef RAFTD_TEST_HOOKS
	/* negative controls of the fault suite: a core with a protocol bug */
	const char *fault = getenv("RAFTD_TEST_RAFT_FAULT");
	if (fault)
		rc.fault = (enum raft_fault)atoi(fault);
#endif
	rc.snapshot_trailing = 200; /* goraft's */

	struct raft_restore rs = { .term = rec->term, .vote = rec->voted_for };
	struct raft_member_info mi[RAFT_MAX_PEERS];
	if (snap->last_index) {
		rs.snap_index = snap->last_index;
		rs.snap_term = snap->last_term;
		for (size_t i = 0; i < snap->n_members && i < RAFT_MAX_PEERS; i++)
			mi[i] = (struct raft_member_info){ snap->members[i].name.ptr,
							   snap->members[i].connection_string.ptr,
							   snap->members[i].learner };
		rs.n_snap_members = snap->n_members < RAFT_MAX_PEERS ? snap->n_members : RAFT_MAX_PEERS;
		rs.snap_members = mi;
		rs.commit = snap->last_index;
	}
	raft_index first = rec->first_index, last = rec->last_index;
	if (first <= snap->last_index)
		first = snap->last_index + 1;
	/* A segment fixes the log's next index even with no entries in it:
	 * anything after the snapshot's next index (or after 1 without a
	 * snapshot) means entries in between are lost, and appends would
	 * fail. */
	if (rec->segments && rec->first_index > snap->last_index + 1) {
		if (snap->last_index)
			snprintf(err, err_len, "%s: the log starts at %" PRIu64 " but the snapshot ends at %" PRIu64
				 ": entries %" PRIu64 "..%" PRIu64 " are missing", n->dir_wal, rec->first_index,
				 snap->last_index, snap->last_index + 1, rec->first_index - 1);
		else
			snprintf(err, err_len, "%s: the log starts at %" PRIu64 " and there is no snapshot: entries 1..%" PRIu64
				 " are missing", n->dir_wal, rec->first_index, rec->first_index - 1);
		return -EBADMSG;
	}
	size_t cnt = last >= first ? (size_t)(last - first + 1) : 0;
	struct raft_entry *ents = cnt ? calloc(cnt, sizeof(*ents)) : NULL;
	char **strs = cnt ? calloc(2 * cnt, sizeof(*strs)) : NULL;
	int rv = 0;
	if (cnt && (!ents || !strs)) {
		rv = -ENOMEM;
		snprintf(err, err_len, "out of memory restoring %zu entries", cnt);
		goto out;
	}
	for (size_t k = 0; k < cnt; k++) {
		struct wal_entry we;
		char why[256];
		bool goraft_ok;
		if (wal_entry_get(n->wal, first + k, &we) < 0 ||
		    entry_meta(&we, &ents[k], &strs[2 * k], &strs[2 * k + 1], &goraft_ok, why, sizeof(why)) < 0) {
			snprintf(err, err_len, "%s: entry %" PRIu64 " is not a goraft LogEntry", n->dir_wal, first + k);
			rv = -EBADMSG;
			goto out;
		}
		if (!goraft_ok)
			n->raftd_only_last = first + k;
	}
	rs.entries = ents;
	rs.n_entries = cnt;
	/* A data directory that has been a node (DATA_DIR/started, a term or
	 * vote on disk, or for one from before the marker the files only a
	 * started raftd writes) but holds no log and no snapshot lost its
	 * data: it may have acknowledged entries and voted, so it neither
	 * votes nor starts a cluster until it has caught up from a leader
	 * (Alagappan et al., FAST'18), unless told it may. A name file alone
	 * is no evidence: goraft operators write it before the first start. */
	/* The marker file keeps the state across restarts: a crash after the
	 * first entries arrived leaves a log that no longer looks lost. */
	snprintf(n->recovering_path, sizeof(n->recovering_path), "%s/recovering", n->cfg.data_dir);
	snprintf(n->started_path, sizeof(n->started_path), "%s/started", n->cfg.data_dir);
	bool marked = access(n->recovering_path, F_OK) == 0;
	bool has_started = access(n->started_path, F_OK) == 0;
	bool started = has_started || n->ran_before || rec->term > 0 || rec->voted_for[0];
	bool lost = cnt == 0 && !snap->last_index && started;
	if (n->cfg.force_new_cluster) {
		if (marked && unlink(n->recovering_path) < 0)
			log_warning("%s: %s", n->recovering_path, strerror(errno));
	} else if (lost || marked) {
		rs.recovering = true;
		n->recovering = true;
		if (!marked && (rv = create_durable(n->recovering_path, n->cfg.data_dir)) < 0) {
			snprintf(err, err_len, "cannot write %s: %s", n->recovering_path, strerror(-rv));
			goto out;
		}
	}
	/* Durable before the core can bootstrap, vote or take an entry, so
	 * that losing wal/ later is told from a first start. */
	if (!has_started && (rv = create_durable(n->started_path, n->cfg.data_dir)) < 0) {
		snprintf(err, err_len, "cannot write %s: %s", n->started_path, strerror(-rv));
		goto out;
	}
	rv = raft_new(&rc, &rs, now_ms(n), &n->r);
	if (rv < 0)
		snprintf(err, err_len, "cannot start the Raft core: %s", strerror(-rv));
out:
	for (size_t k = 0; strs && k < 2 * cnt; k++)
		free(strs[k]);
	free(strs);
	free(ents);
	return rv;
}

#ifdef RAFTD_TEST_HOOKS
/* Test builds (tests/cluster/raftd-test) fail the Nth WAL operation of a
 * kind as the kernel would: RAFTD_TEST_WAL_FAILPOINT="KIND:N:ERRNO" with
 * KIND write, fsync, fallocate, rename or unlink, e.g. "fsync:20:5" (EIO). */
static void arm_test_failpoints(void)
{
	static const char *const kinds[WAL_FP_COUNT] = {
		[WAL_FP_WRITE] = "write", [WAL_FP_FSYNC] = "fsync", [WAL_FP_FALLOCATE] = "fallocate",
		[WAL_FP_RENAME] = "rename", [WAL_FP_UNLINK] = "unlink",
	};
	const char *spec = getenv("RAFTD_TEST_WAL_FAILPOINT");
	char kind[16];
	unsigned nth;
	int err;
	if (!spec || sscanf(spec, "%15[a-z]:%u:%d", kind, &nth, &err) != 3)
		return;
	for (int k = 0; k < WAL_FP_COUNT; k++) {
		if (!strcmp(kinds[k], kind)) {
			wal_failpoint_arm((enum wal_fp)k, nth, -err);
			log_warning("test build: WAL %s #%u will fail with %s", kind, nth, strerror(err));
		}
	}
}
#endif

static const struct httpd_route *routes_for(struct node *n, size_t *ret_n)
{
	static struct httpd_route routes[16];
	size_t i = 0;
	routes[i++] = (struct httpd_route){ NULL, "/raft/", true, n->cfg.max_raft_body, 0, on_raft, n, true };
	routes[i++] = (struct httpd_route){ "POST", RAFTD_PATH_SNAPSHOT, false, 4096, 0, on_snapshot_post, n, false };
	routes[i++] = (struct httpd_route){ "GET", RAFTD_PATH_SNAPSHOT, false, 0, n->cfg.max_snapshot_downloads,
					    on_snapshot_get, n, false };
	routes[i++] = (struct httpd_route){ "POST", RAFTD_PATH_TRANSFER, false, 4096, 0, on_transfer, n, false };
	routes[i++] = (struct httpd_route){ NULL, "/raftd/", true, n->cfg.max_raft_body, 0, on_raft, n, true };
	routes[i++] = (struct httpd_route){ "GET", "/db/", true, 0, 0, on_db_get, n, false };
	routes[i++] = (struct httpd_route){ "POST", "/db/", true, n->cfg.max_value, 0, on_db_post, n, false };
	routes[i++] = (struct httpd_route){ "PUT", "/db/", true, n->cfg.max_value, 0, on_db_post, n, false };
	routes[i++] = (struct httpd_route){ "DELETE", "/db/", true, 0, 0, on_db_delete, n, false };
	routes[i++] = (struct httpd_route){ "POST", "/join", false, 4096, 0, on_join, n, false };
	routes[i++] = (struct httpd_route){ "POST", "/leave", false, 4096, 0, on_leave, n, false };
	routes[i++] = (struct httpd_route){ "GET", "/status", false, 0, 0, on_status, n, false };
	routes[i++] = (struct httpd_route){ "GET", "/metrics", false, 0, 0, on_metrics, n, false };
	*ret_n = i;
	return routes;
}

int node_open(const struct config *cfg, struct node **ret_node, char *err, size_t err_len)
{
	struct node *n = calloc(1, sizeof(*n));
	int rv;
	if (!n) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	n->cfg = *cfg;
	n->writes_tail = &n->writes;
	n->snap_pidfd = -1;
	n->snap_state_fd = -1;
	n->last_role = RAFT_FOLLOWER;
	{
		/* only a raftd that started here creates these: evidence, for
		 * a directory from before DATA_DIR/started, that it held a log */
		char p[4200];
		snprintf(p, sizeof(p), "%s/snap", cfg->data_dir);
		n->ran_before = access(p, F_OK) == 0;
		snprintf(p, sizeof(p), "%s/peer-kinds", cfg->data_dir);
		n->ran_before = n->ran_before || access(p, F_OK) == 0;
	}
	n->name = config_node_name(cfg, err, err_len);
	if (!n->name) {
		free(n);
		return -EINVAL;
	}
	n->url = config_advertise_url(cfg);
	static const int prio[] = { [LOG_LEVEL_ERROR] = LOG_ERR, [LOG_LEVEL_WARNING] = LOG_WARNING,
				    [LOG_LEVEL_INFO] = LOG_INFO, [LOG_LEVEL_DEBUG] = LOG_DEBUG,
				    [LOG_LEVEL_TRACE] = LOG_DEBUG };
	log_init(n->name, prio[cfg->log_level]);
	snprintf(n->dir_wal, sizeof(n->dir_wal), "%s/wal", cfg->data_dir);
	snprintf(n->dir_snap, sizeof(n->dir_snap), "%s/snap", cfg->data_dir);
	snprintf(n->hints_path, sizeof(n->hints_path), "%s/peer-kinds", cfg->data_dir);
	hints_load(n);
	if (mkdir(n->dir_snap, 0700) < 0 && errno != EEXIST) {
		rv = -errno;
		snprintf(err, err_len, "%s: %s", n->dir_snap, strerror(errno));
		goto fail_early;
	}
	rv = loop_init(&n->loop, RING_ENTRIES);
	if (rv < 0) {
		snprintf(err, err_len, "io_uring: %s", strerror(-rv));
		goto fail_early;
	}

	/* the newest valid snapshot, then the WAL after it */
	struct kv_snapshot_meta snap = { 0 };
	char why[512] = "";
	rv = kv_snapshot_load_latest(n->dir_snap, &n->kv, &snap, NULL, why, sizeof(why));
	if (rv == -ENOENT) {
		n->kv = kv_new();
		rv = n->kv ? 0 : -ENOMEM;
	} else if (rv == 0 && why[0]) {
		log_warning("newest snapshot skipped: %s", why);
	}
	if (rv < 0) {
		snprintf(err, err_len, "snapshot: %s", why[0] ? why : strerror(-rv));
		goto fail_loop;
	}
	n->snap_prev_index = older_snapshot(n->dir_snap, snap.last_index);
	n->snap_disk_index = snap.last_index;
	n->snap_disk_term = snap.last_term;

	struct wal_config wc = {
		.dir = n->dir_wal, .ring = &n->loop.ring, .segment_size = cfg->segment_size, .ctx = n,
		.spare_segments = cfg->wal_spare_segments ? (int)cfg->wal_spare_segments : -1,
		.on_durable = on_wal_durable, .on_meta = on_wal_meta, .on_compacted = on_wal_compacted,
		.on_error = on_wal_error, .hold_on_nospace = true,
	};
	struct wal_recovery rec;
	struct wal_error werr;
	sd_notify(0, "STATUS=recovering the write-ahead log\nEXTEND_TIMEOUT_USEC=600000000");
	{
		/* a crash between rebase_wal()'s two renames */
		char fresh[4200];
		struct stat st;
		snprintf(fresh, sizeof(fresh), "%s.new", n->dir_wal);
		if (stat(n->dir_wal, &st) < 0 && errno == ENOENT && stat(fresh, &st) == 0)
			rename(fresh, n->dir_wal);
	}
#ifdef RAFTD_TEST_HOOKS
	arm_test_failpoints();
	/* ENOSPC drops the batch and stops the node, as before it was held:
	 * tests/cluster/rebase-empty.sh makes the state it checks that way */
	if (getenv("RAFTD_TEST_NOSPACE_EXIT"))
		wc.hold_on_nospace = false;
#endif
	rv = wal_open(&wc, &n->wal, &rec, &werr);
	/* The log must go on at the snapshot's next index. One that ends
	 * before it holds nothing the snapshot lacks: start a new one after
	 * it. That includes a log with no entries but a segment, which still
	 * fixes the next index (a first segment after an earlier rebase whose
	 * preallocation failed): only a log without segments takes any. A log
	 * that starts after the snapshot's next index is a gap (restore()). */
	if (rv == 0 && rec.segments && rec.last_index < snap.last_index) {
		wal_close(n->wal);
		n->wal = NULL;
		rv = rebase_wal(n, err, err_len);
		if (rv < 0) {
			kv_snapshot_meta_free(&snap);
			goto fail_kv;
		}
		rv = wal_open(&wc, &n->wal, &rec, &werr);
	}
	if (rv < 0) {
		wal_error_format(&werr, why, sizeof(why));
		snprintf(err, err_len, "%s: %s", n->dir_wal, why);
		kv_snapshot_meta_free(&snap);
		goto fail_kv;
	}
	{
		char field[160];
		snprintf(field, sizeof(field), "RAFT_INDEX=%" PRIu64, rec.last_index);
		log_msg(LOG_INFO, LOG_ID_WAL_RECOVERED, field,
			"wal recovered: %u segments, entries %" PRIu64 "..%" PRIu64 ", %" PRIu64 " bytes, term %" PRIu64,
			rec.segments, rec.entries ? rec.first_index : 0, rec.entries ? rec.last_index : 0, rec.bytes,
			rec.term);
		if (rec.torn) {
			snprintf(field, sizeof(field), "RAFT_FILE=%s", rec.torn_file);
			log_msg(LOG_WARNING, LOG_ID_WAL_TRUNCATED, field,
				"wal: torn tail of %s cut at offset %" PRIu64 " (%" PRIu64 " bytes dropped)", rec.torn_file,
				rec.torn_offset, rec.torn_bytes);
		}
	}
	rv = restore(n, &rec, &snap, err, err_len);
	raft_index snap_index = snap.last_index, snap_term = snap.last_term;
	kv_snapshot_meta_free(&snap);
	if (rv < 0)
		goto fail_wal;
	log_set_state(raft_current_term(n->r), raft_role_name(raft_role(n->r)), raft_leader(n->r));
	n->last_term = raft_current_term(n->r);
	if (snap_index && load_snap_state(n, snap_index, snap_term) < 0)
		log_warning("snapshot %" PRIu64 ": cannot keep its file for followers", snap_index);
	/* recovery read every entry; those the snapshot holds are not applied */
	wal_release(n->wal, kv_applied_index(n->kv));

	size_t n_routes;
	const struct httpd_route *routes = routes_for(n, &n_routes);
	struct httpd_config hc = {
		.listen_host = cfg->listen, .port = cfg->port, .listen_fd = -1, .max_connections = cfg->max_connections,
		.peer_connections = cfg->peer_connections, .max_per_address = cfg->max_connections_per_address,
		.connection_timeout_s = cfg->connection_timeout_s, .head_timeout_s = cfg->request_head_timeout_s,
		.body_timeout_s = cfg->request_body_timeout_s, .max_stranger_body = cfg->max_stranger_body,
		.max_body_memory = cfg->max_body_memory ? cfg->max_body_memory : cfg->max_raft_body + 256 * 1024 * 1024,
		.routes = routes, .n_routes = n_routes,
	};
	/* socket activation: systemd passes the listening socket as fd 3 */
	if (sd_listen_fds(0) == 1)
		hc.listen_fd = SD_LISTEN_FDS_START;
	rv = httpd_start(&n->loop, &hc, &n->http, why, sizeof(why));
	if (rv < 0) {
		snprintf(err, err_len, "listen on port %u: %s", (unsigned)cfg->port, why);
		goto fail_raft;
	}

	loop_timer_init(&n->tick, on_tick);
	loop_timer_init(&n->apply_timer, on_apply_timer);
	n->flush_hook.run = on_flush;
	loop_add_hook(&n->loop, &n->flush_hook);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	rv = loop_watch_signals(&n->loop, &sigs, on_signal, n);
	if (rv < 0) {
		snprintf(err, err_len, "signalfd: %s", strerror(-rv));
		goto fail_http;
	}
	signal(SIGPIPE, SIG_IGN);

	sync_peers(n);
	report_deferred(n); /* the kinds DATA_DIR/peer-kinds knows, before any message */
	if (raft_last_index(n->r) == 0 && !raft_snapshot_index(n->r)) {
		if (cfg->join) {
			char url[RAFT_URL_MAX + 16];
			snprintf(url, sizeof(url), "http://%s", cfg->join);
			/* the leader answers once the join is committed: no
			 * 200 ms here (goraft's joiner has no timeout at all) */
			struct peer_config jc = { .response_timeout_ms = 10000 };
			rv = peer_create(&n->loop.ring, url, &jc, &n->join_peer);
			if (rv < 0) {
				snprintf(err, err_len, "-join %s: %s", cfg->join, strerror(-rv));
				goto fail_http;
			}
			snprintf(n->join_body, sizeof(n->join_body), "{\"name\":\"%s\",\"connectionString\":\"%s\"}\n",
				 n->name, n->url);
			share_peer_addrs(n);
			log_info("joining the cluster through %s as %s (%s)", cfg->join, n->name, n->url);
			join_try(n);
		} else if (raft_recovering(n->r)) {
			log_warning("%s held a log but has none now: its data was lost. Not starting a new cluster; "
				    "waiting for the leader to send the log (start with --force-new-cluster to start "
				    "a new one-node cluster from nothing)", cfg->data_dir);
		} else {
			log_info("Initializing new cluster: %s at %s", n->name, n->url);
			struct raft_event ev = { .type = RAFT_EV_BOOTSTRAP, .bootstrap.url = n->url };
			step(n, &ev, NULL);
		}
	} else {
		if (cfg->join)
			log_info("Recovered from log (-join %s ignored: already a member)", cfg->join);
		else
			log_info("Recovered from log");
	}
	loop_timer_arm(&n->loop, &n->tick, TICK_MS);
	log_msg(LOG_INFO, LOG_ID_STARTED, NULL, "listening on port %u as %s (%s)", (unsigned)httpd_port(n->http),
		n->name, n->url);
	*ret_node = n;
	return 0;

fail_http:
	httpd_stop(n->http);
fail_raft:
	raft_free(n->r);
fail_wal:
	wal_close(n->wal);
fail_kv:
	kv_free(n->kv);
fail_loop:
	loop_fini(&n->loop);
fail_early:
	free(n->hints);
	free(n->name);
	free(n->url);
	free(n);
	return rv;
}

int node_run(struct node *n)
{
	if (sd_watchdog_enabled(0, &n->watchdog_usec) <= 0)
		n->watchdog_usec = 0;
	n->disk_progress_ms = now_ms(n);
	if (n->stopping) /* a fatal error while opening: never ready */
		return n->exit_status;
	sd_notifyf(0, "READY=1\nSTATUS=%s, term %" PRIu64 ", leader %s, commit %" PRIu64,
		   raft_role_name(raft_role(n->r)), raft_current_term(n->r),
		   raft_leader(n->r)[0] ? raft_leader(n->r) : "(none)", raft_commit_index(n->r));
	int rv = loop_run(&n->loop);
	if (rv < 0) {
		log_error("event loop: %s", strerror(-rv));
		return 1;
	}
	return n->exit_status;
}

void node_close(struct node *n)
{
	n->stopping = true;
	loop_timer_cancel(&n->loop, &n->tick);
	loop_timer_cancel(&n->loop, &n->apply_timer);
	/* answer everyone still waiting */
	fail_writes_from(n, 0, "raft: Has been stopped");
	while (n->snap_waits) {
		struct snap_wait *w = n->snap_waits;
		n->snap_waits = w->next;
		httpd_reply_text(w->req, 503, "raft: Has been stopped");
		free(w);
	}
	if (n->transfer_req)
		httpd_reply_text(n->transfer_req, 503, "raft: Has been stopped");
	while (n->member_waits) {
		struct member_wait *w = n->member_waits;
		n->member_waits = w->next;
		httpd_reply_text(w->req, 503, "raft: Has been stopped");
		free(w);
	}
	while (n->reads) {
		struct read_wait *w = n->reads;
		n->reads = w->next;
		httpd_reply_text(w->req, 503, "raft: Has been stopped");
		free(w->key);
		free(w);
	}
	while (n->rpc_waits) {
		struct rpc_wait *w = n->rpc_waits;
		n->rpc_waits = w->next;
		httpd_reply_text(w->req, 500, "Failed creating response.");
		free(w);
	}
	if (httpd_stop(n->http) < 0)
		log_warning("the HTTP server's polls were not cancelled in time; its memory is left allocated");
	while (n->peers) {
		struct npeer *p = n->peers;
		n->peers = p->next;
		peer_destroy(p->p, npeer_gone, n);
		free(p);
	}
	if (n->join_peer) {
		n->peers_alive++;
		peer_destroy(n->join_peer, npeer_gone, n);
	}
	loop_drain(&n->loop, &n->peers_alive, 5000);
	/* the disk and the kernel must let go of every buffer first */
	for (int i = 0; i < 500 && wal_busy(n->wal); i++)
		loop_run_once(&n->loop, 10);
	if (n->snap_pid > 0) {
		loop_poll_cancel(&n->loop, &n->snap_poll);
		waitpid(n->snap_pid, NULL, 0);
		for (int i = 0; i < 100 && n->snap_poll.inflight; i++)
			loop_run_once(&n->loop, 10);
		close(n->snap_pidfd);
	}
	wal_close(n->wal);
	raft_free(n->r);
	kv_free(n->kv);
	rpc_decoder_free(&n->dec);
	loop_fini(&n->loop);
	free(n->needs);
	free(n->metas);
	if (n->snap_state_fd >= 0)
		close(n->snap_state_fd);
	free(n->hints);
	free(n->name);
	free(n->url);
	free(n);
}
