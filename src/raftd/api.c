/* src/raftd/api.c — the HTTP API: the routes (routes_for()), raft RPCs
 * received and answered, /db incl. DELETE, /join, /leave with changes held
 * back until the core takes them, /status, /metrics, /raftd/transfer.
 */
#include "src/raftd/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "src/raftd/api_parse.h"
#include "src/raftd/log.h"

#define RAFTD_PATH_SNAPSHOT "/raftd/snapshot"
#define RAFTD_PATH_TRANSFER "/raftd/transfer"
#define RAFTD_PATH_PROMOTE "/raftd/promote"

/* ---- HTTP: raft RPCs -------------------------------------------------------------------- */

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
		reply_json(req, json_pack("{s:s, s:s, s:s}", "server", "raftd", "version", PACKAGE_VERSION, "name", n->name),
			   JSON_COMPACT | JSON_PRESERVE_ORDER);
		return;
	}
	if (!strcmp(path, RAFTD_PATH_SNAPSHOT) || !strcmp(path, RAFTD_PATH_TRANSFER) ||
	    !strcmp(path, RAFTD_PATH_PROMOTE)) {
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

/* The key of a /db/ request, decoded from the target as sent: bytes, NUL
 * included (api_parse.h). Returns false when the request is answered;
 * otherwise the key (free() *ret_buf, which holds it) is *ret_key, *ret_len. */
static bool db_key(struct httpd_request *req, char **ret_buf, const char **ret_key, size_t *ret_len)
{
	const char *target = httpd_target(req);
	size_t raw_len = strcspn(target, "?"), len = 0;
	char *buf = malloc(raw_len + 1), *loc = NULL;
	enum api_key v = buf ? api_db_key(target, raw_len, buf, &len) : API_KEY_NOT_FOUND;
	switch (v) {
	case API_KEY_OK:
		*ret_buf = buf;
		*ret_key = buf + 4;
		*ret_len = len - 4;
		return true;
	case API_KEY_NOT_FOUND: httpd_reply_text(req, 404, "404 page not found"); break;
	case API_KEY_BAD_ESCAPE: httpd_reply_text(req, 400, "400 Bad Request: invalid URL escape in the path"); break;
	case API_KEY_NOT_UTF8:
		httpd_reply_text(req, 400, "the key is not valid UTF-8: goraft's log (JSON) would store U+FFFD "
					   "for its invalid bytes, so that different keys became one");
		break;
	case API_KEY_UNCLEAN: {
		/* gorilla/mux's answer, the query kept */
		const char *query = target + raw_len;
		size_t cap = 3 * len + strlen(query) + 2;
		int n;
		loc = malloc(cap);
		if (!loc || (n = api_path_escape(buf, len, loc, cap)) < 0) {
			httpd_reply_text(req, 500, "out of memory");
			break;
		}
		memcpy(loc + n, query, strlen(query) + 1);
		const char *hdr[] = { "Location", loc, NULL };
		httpd_reply(req, 301, NULL, "", 0, hdr);
		break;
	}
	}
	free(loc);
	free(buf);
	return false;
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
			/* the path as decoded, encoded again: it is a key's bytes */
			size_t plen;
			const char *path = httpd_path_n(req, &plen);
			const char *consistent = httpd_query(req, "consistent"), *marker = httpd_query(req, "raftd");
			char *esc = malloc(3 * plen + 1), *loc = NULL;
			if (!esc || api_path_escape(path, plen, esc, 3 * plen + 1) < 0 ||
			    asprintf(&loc, "%s%s%s%s%s%s", raft_member_url(n->r, i), esc,
				     consistent ? "?consistent=" : "", consistent ? consistent : "",
				     marker ? (consistent ? "&raftd=" : "?raftd=") : "", marker ? marker : "") < 0) {
				loc = NULL;
				httpd_reply_text(req, 500, "out of memory");
			} else {
				const char *hdr[] = { "Location", loc, NULL };
				httpd_reply(req, 307, "text/plain; charset=utf-8", "redirect to the leader\n", 23, hdr);
			}
			free(esc);
			free(loc);
			return true;
		}
	}
	/* goraft raftd's words, verbatim (capture db-write-on-follower) */
	httpd_reply_text(req, 400, "raft.Server: Not current leader");
	return true;
}

static int propose(struct node *n, struct httpd_request *req, const struct cmd *c)
{
	struct raft_entry e;
	if (wal_nospace(n->wal))
		return -ENOSPC;
	rpc_cmd_entry(c, raft_last_index(n->r) + 1, raft_current_term(n->r), &e);
	struct write_wait *w = write_wait_new(n, req, e.type);
	if (!w)
		return -ENOMEM;
	struct step_ctx ctx = { .cmds = c };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose.n = 1, .propose.entries = &e };
	int rv = step_propose(n, &ev, &ctx, w);
	if (rv < 0)
		free(w);
	if (rv == -EBUSY && (n->transfer_req || n->handover_since_ms) && e.type == RAFT_ENTRY_COMMAND)
		rv = -ESHUTDOWN; /* refused for the transfer, not a membership change */
	return rv;
}

static void reply_propose_error(struct httpd_request *req, int rv)
{
	switch (rv) {
	/* a leader handing over takes no proposals (thesis §3.10): for the
	 * client that is a leader change, goraft's words send it elsewhere */
	case -ESHUTDOWN: httpd_reply_text(req, 400, "raft.Server: Not current leader"); break;
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

/* A follower serves a consistent read through its leader's read index
 * (raftd-only /raftd/readIndex), which a goraft leader cannot give: its
 * local state is no linearizable read, so the client is told to read there
 * itself rather than given one silently (docs/goraft-protocol.md §11.17). */
static unsigned follower_read_refused(struct node *n, char *why, size_t len)
{
	const char *leader = raft_leader(n->r);
	if (!leader[0]) {
		snprintf(why, len, "no leader is known (an election is running); retry");
		return 503;
	}
	struct npeer *p = npeer_find(n, leader);
	if (!p || !p->kind_known) {
		snprintf(why, len, "the kind of leader %s (raftd or goraft) is not known yet; retry", leader);
		return 503;
	}
	if (p->goraft) {
		snprintf(why, len,
			 "consistent reads need a raftd leader; leader %s (%s) is a goraft node: read from it directly",
			 leader, p->url);
		return 409;
	}
	return 0;
}

static void on_db_get(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	const char *key;
	char *buf;
	size_t key_len;
	/* no --max-key here: a node serves every key it holds (a goraft
	 * leader's limits are not its own) */
	if (!db_key(req, &buf, &key, &key_len))
		return;
	const char *consistent = httpd_query(req, "consistent");
	if (!consistent || strcmp(consistent, "true") != 0) {
		n->reads_local++;
		reply_read(n, req, key, key_len);
		free(buf);
		return;
	}
	if (raft_role(n->r) != RAFT_LEADER) {
		char why[RAFT_NAME_MAX + RAFT_URL_MAX + 160];
		unsigned status = follower_read_refused(n, why, sizeof(why));
		if (status) {
			httpd_reply_text(req, status, why);
			free(buf);
			return;
		}
	}
	struct read_wait *w = calloc(1, sizeof(*w));
	char *k = malloc(key_len + 1);
	if (!w || !k) {
		free(w);
		free(k);
		free(buf);
		httpd_reply_text(req, 500, "out of memory");
		return;
	}
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	free(buf);
	w->id = ++n->next_read_id;
	w->since_ms = now_ms(n);
	w->req = req;
	w->key = k;
	w->key_len = key_len;
	w->next = n->reads;
	n->reads = w;
	struct raft_event ev = { .type = RAFT_EV_READ, .read.id = w->id };
	int rv = step_rv(n, &ev, NULL);
	if (rv < 0) {
		for (struct read_wait **pp = &n->reads; *pp; pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				if (rv == -EAGAIN)
					httpd_reply_text(req, 503, "no leader is known (an election is running); retry");
				else if (rv == -EOPNOTSUPP)
					httpd_reply_text(req, 409, "consistent reads need a raftd leader; the leader is a "
							 "goraft node: read from it directly");
				else if (rv == -EPERM)
					httpd_reply_text(req, 400, "raft.Server: Not current leader");
				else
					httpd_reply_text(req, 500, strerror(-rv));
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
	char *buf;
	size_t len, key_len;
	const uint8_t *value = httpd_body(req, &len);
	if (!db_key(req, &buf, &key, &key_len))
		return;
	if (key_len > n->cfg.max_key) {
		httpd_reply_text(req, 414, "key too long");
	} else if (len > n->cfg.max_value) {
		httpd_reply_text(req, 413, "value too large");
	} else if (!not_leader(n, req)) {
		struct cmd c = { .type = CMD_WRITE };
		c.key = cmd_str_ref(key, key_len);
		c.value = cmd_str_ref(value, len);
		int rv = propose(n, req, &c); /* the entry is encoded during the step */
		if (rv < 0)
			reply_propose_error(req, rv);
	}
	free(buf);
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
	char *buf, why[RAFT_NAME_MAX + 128];
	size_t key_len;
	/* no --max-key: a DELETE adds nothing, and may remove a key a goraft
	 * leader (or another limit) let in */
	if (!db_key(req, &buf, &key, &key_len))
		return;
	unsigned status;
	if (not_leader(n, req)) {
		/* answered */
	} else if ((status = extensions_refused(n, "DELETE", why, sizeof(why)))) {
		httpd_reply_text(req, status, why);
	} else {
		struct cmd c = { .type = CMD_DELETE, .key = cmd_str_ref(key, key_len) };
		int rv = propose(n, req, &c);
		if (rv < 0)
			reply_propose_error(req, rv);
	}
	free(buf);
}

/* Proposes a membership change: 0 when the request waits for its entry,
 * or the core's refusal. A raftd joiner (CMD_LEARNER) joins as a learner,
 * which the leader promotes once it has caught up; while a goraft node is a
 * member there are no learners (goraft cannot apply the entry), and it
 * joins as a voter at once, unless a learner was asked for (learner_only). */
static int propose_member(struct node *n, struct httpd_request *req, enum cmd_type type, const char *name,
			  const char *url, bool learner_only)
{
	struct cmd c = { .type = type };
	c.name = cmd_str_ref(name, strlen(name));
	if (type != CMD_LEAVE)
		c.connection_string = cmd_str_ref(url, strlen(url));
	int rv = propose(n, req, &c);
	if (rv == -EOPNOTSUPP && type == CMD_LEARNER && !learner_only) {
		c.type = CMD_JOIN;
		rv = propose(n, req, &c);
	}
	return rv;
}

/* The URL member NAME has in the configuration, or NULL. */
static const char *member_url(struct node *n, const char *name)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++)
		if (!strcmp(raft_member_name(n->r, i), name))
			return raft_member_url(n->r, i);
	return NULL;
}

/* A join of a current member: true when answered here, because it names
 * another URL. goraft would append a join that changes nothing (§7.1), and
 * an operator who meant to move the member would be told it worked; a
 * join with the same URL stays an idempotent success. */
static bool member_moved(struct node *n, struct httpd_request *req, const char *name, const char *url)
{
	const char *have = member_url(n, name);
	if (!have || !url || !strcmp(have, url))
		return false;
	char why[RAFT_NAME_MAX * 2 + RAFT_URL_MAX + 160];
	snprintf(why, sizeof(why), "join: %s is a member already, at %s; to give it another URL, remove it first "
		 "(raftctl members remove %s), then add it again", name, have, name);
	httpd_reply_text(req, 409, why);
	return true;
}

/* May a change the core refused wait and be tried again (for up to
 * WRITE_TIMEOUT_MS)? While another one is pending, and while the members
 * that answer could not commit without a new voter (one of them may be
 * restarting): a goraft joiner takes a refusal as final (§7.3). */
static bool member_may_wait(enum cmd_type type, int rv)
{
	return rv == -EBUSY || (rv == -ENOTCONN && type != CMD_LEAVE);
}

static void member_refused(struct node *n, struct httpd_request *req, enum cmd_type type, const char *name,
			   const char *url, int rv)
{
	if (rv == -EEXIST && type != CMD_LEAVE) {
		if (!member_moved(n, req, name, url))
			httpd_reply(req, 200, NULL, "", 0, NULL); /* goraft: a re-join is a no-op */
	} else if (rv == -ENOTCONN && type == CMD_LEAVE) {
		httpd_reply_text(req, 503, "leave: the cluster could not commit without this voter: the other "
					   "members that answered the leader lately would not be a majority; remove "
					   "the unreachable ones first, or retry once they are up");
	} else if (rv == -ENOTCONN) {
		httpd_reply_text(req, 503, "join: the cluster could not commit without the new voter: the members "
					   "that answered the leader lately would not be a majority with it; retry once "
					   "they are up");
	} else if (rv == -EAGAIN) {
		httpd_reply_text(req, 503, "join: a learner becomes a voter by itself once it has caught up; "
					   "retry");
	} else if (rv == -EOPNOTSUPP && type == CMD_LEARNER) {
		httpd_reply_text(req, 409, "join: no learners while a goraft node is a member (goraft has none); "
					   "add it as a voter");
	} else {
		reply_propose_error(req, rv);
	}
}

static void member_wait_add(struct node *n, struct httpd_request *req, enum cmd_type type, const char *name,
			    const char *url, bool learner_only)
{
	struct member_wait *w = calloc(1, sizeof(*w)), **pp = &n->member_waits;
	if (!w) {
		httpd_reply_text(req, 503, "out of memory; retry");
		return;
	}
	w->type = type;
	w->learner_only = learner_only;
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->url, sizeof(w->url), "%s", url ? url : "");
	w->since_ms = now_ms(n);
	w->req = req;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
}

/* Proposes the waiting membership changes the core now takes, in order. */
void member_waits_run(struct node *n)
{
	while (n->member_waits && !n->stopping) {
		struct member_wait *w = n->member_waits;
		if (raft_role(n->r) != RAFT_LEADER) {
			n->member_waits = w->next;
			not_leader(n, w->req);
		} else {
			int rv = propose_member(n, w->req, w->type, w->name, w->url, w->learner_only);
			if (member_may_wait(w->type, rv) && now_ms(n) - w->since_ms <= WRITE_TIMEOUT_MS)
				return;
			n->member_waits = w->next;
			if (rv < 0)
				member_refused(n, w->req, w->type, w->name, w->url, rv);
		}
		free(w);
	}
}

/* The prologue of POST /join, /leave and /raftd/promote: the body is
 * goraft's command JSON (raft:join's or raft:leave's), and the name must
 * be one the core can hold. Returns false when the request is answered
 * already (stopping, or 400); otherwise *c holds the command (cmd_free()
 * it). */
static bool member_request(struct node *n, struct httpd_request *req, enum cmd_type type, struct cmd *c)
{
	if (refuse_stopping(n, req))
		return false;
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	const char *name = cmd_type_name(type);
	char err[256];
	if (cmd_decode((const uint8_t *)name, strlen(name), true, body, len, c, err, sizeof(err)) < 0) {
		httpd_reply_text(req, 400, err);
		return false;
	}
	if (!c->name.len || c->name.len >= RAFT_NAME_MAX || strlen(c->name.ptr) != c->name.len) {
		httpd_reply_text(req, 400, type == CMD_JOIN ? "join: name must be 1 to 63 bytes"
							    : "leave: name must be 1 to 63 bytes");
		cmd_free(c);
		return false;
	}
	return true;
}

/* A raftd joiner (marked ?raftd=1) sent to a follower is told where the
 * leader is, on a second line after goraft's words: it follows that hint
 * (join_done() in peers.c) instead of asking the follower forever. A goraft
 * joiner, or raftctl, sees the first line as before. */
static bool join_not_leader(struct node *n, struct httpd_request *req, bool raftd_joiner)
{
	if (raft_role(n->r) == RAFT_LEADER)
		return false;
	const char *url = member_url(n, raft_leader(n->r));
	if (!raftd_joiner || !url)
		return not_leader(n, req);
	char body[RAFT_URL_MAX + 64];
	int l = snprintf(body, sizeof(body), "raft.Server: Not current leader\n" JOIN_LEADER_HINT "%s\n", url);
	httpd_reply(req, 400, "text/plain; charset=utf-8", body, (size_t)l, NULL);
	return true;
}

static void on_join(struct httpd_request *req, void *data)
{
	struct node *n = data;
	struct cmd c;
	char why[RAFT_URL_MAX + 320];
	if (!member_request(n, req, CMD_JOIN, &c))
		return;
	const char *marker = httpd_query(req, "raftd"), *lmark = httpd_query(req, "learner");
	bool goraft = !(marker && !strcmp(marker, "1"));
	bool learner_only = !goraft && lmark && !strcmp(lmark, "1");
	char uwhy[256];
	if (c.connection_string.len >= RAFT_URL_MAX) {
		httpd_reply_text(req, 400, "join: connectionString is too long");
	} else if (!api_url_check(c.connection_string.ptr, uwhy, sizeof(uwhy))) {
		snprintf(why, sizeof(why), "join: bad connectionString: %s", uwhy);
		httpd_reply_text(req, 400, why);
	} else if (!join_not_leader(n, req, !goraft)) {
		bool member = raft_is_member(n->r, c.name.ptr);
		/* Why a goraft node cannot join, and what can: a raftd node
		 * (its joiner marks /join?raftd=1, as `raftctl members add
		 * --raftd` does), which a goraft node could not follow anyway. */
		static const char only_raftd[] =
			"; only a raftd node can join: start it with -join (a raftd joiner says it is one), or "
			"add it with `raftctl members add --raftd NAME URL` (POST /join?raftd=1)";
		if (member) {
			/* the same URL: an idempotent success, goraft's no-op
			 * re-join without the entry (§11.15), also for a
			 * learner not yet promoted */
			if (!member_moved(n, req, c.name.ptr, c.connection_string.ptr))
				httpd_reply(req, 200, NULL, "", 0, NULL);
			goto out;
		}
		if (!member && goraft && raft_log_start(n->r) > 0) {
			snprintf(why, sizeof(why), "join: the log is compacted (it starts after index %" PRIu64
				 ") and a goraft node needs every entry from index 1%s", raft_log_start(n->r),
				 only_raftd);
			httpd_reply_text(req, 409, why);
			goto out;
		}
		if (!member && goraft && n->raftd_only_last) {
			snprintf(why, sizeof(why), "join: the log holds raftd-only commands (a DELETE or the like, the "
				 "last at index %" PRIu64 ") that a goraft node cannot apply%s", n->raftd_only_last,
				 only_raftd);
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
		int rv = n->member_waits ? -EBUSY
					 : propose_member(n, req, type, c.name.ptr, c.connection_string.ptr, learner_only);
		if (member_may_wait(type, rv))
			member_wait_add(n, req, type, c.name.ptr, c.connection_string.ptr, learner_only);
		else if (rv < 0)
			member_refused(n, req, type, c.name.ptr, c.connection_string.ptr, rv);
	}
out:
	cmd_free(&c);
}

static void on_leave(struct httpd_request *req, void *data)
{
	struct node *n = data;
	struct cmd c;
	if (!member_request(n, req, CMD_LEAVE, &c))
		return;
	if (!not_leader(n, req)) {
		/* not behind the waiting changes: a leave that undoes a pending
		 * join (or removes a learner) is taken at once, the way out of
		 * a join that cannot commit */
		int rv = propose_member(n, req, CMD_LEAVE, c.name.ptr, NULL, false);
		if (member_may_wait(CMD_LEAVE, rv))
			member_wait_add(n, req, CMD_LEAVE, c.name.ptr, NULL, false);
		else if (rv < 0)
			member_refused(n, req, CMD_LEAVE, c.name.ptr, NULL, rv);
	}
	cmd_free(&c);
}

/* POST /raftd/promote {"name":N}: the explicit way to make learner N a
 * voter (etcd's MemberPromote), besides the leader's own promotion of a
 * learner that has caught up. Refused, as etcd does, for a learner that has
 * not caught up: a voter that is behind would hold up every commit. */
static void on_promote(struct httpd_request *req, void *data)
{
	struct node *n = data;
	struct cmd c;
	char why[RAFT_NAME_MAX + 256];
	if (!member_request(n, req, CMD_LEAVE, &c)) /* {"name":N}, raft:leave's body */
		return;
	if (not_leader(n, req))
		goto out;
	const char *url = member_url(n, c.name.ptr);
	if (!url) {
		snprintf(why, sizeof(why), "promote: %s is not a member", c.name.ptr);
		httpd_reply_text(req, 404, why);
	} else if (raft_is_voter(n->r, c.name.ptr)) {
		snprintf(why, sizeof(why), "promote: %s is a voter already (only a learner can be promoted)",
			 c.name.ptr);
		httpd_reply_text(req, 409, why);
	} else {
		int rv = propose_member(n, req, CMD_JOIN, c.name.ptr, url, false);
		if (rv == -EAGAIN) {
			snprintf(why, sizeof(why), "promote: learner %s has not caught up with the leader's log yet; "
				 "retry once it has (raftctl members list)", c.name.ptr);
			httpd_reply_text(req, 409, why);
		} else if (rv == -EEXIST) {
			httpd_reply(req, 200, NULL, "", 0, NULL); /* promoted meanwhile */
		} else if (rv == -EBUSY) {
			httpd_reply_text(req, 503, "promote: another membership change is in progress; retry");
		} else if (rv < 0) {
			member_refused(n, req, CMD_JOIN, c.name.ptr, url, rv);
		}
	}
out:
	cmd_free(&c);
}

void reply_json(struct httpd_request *req, json_t *j, size_t flags)
{
	char *s = j ? json_dumps(j, flags) : NULL;
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
	reply_json(req, j, JSON_INDENT(2) | JSON_SORT_KEYS);
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

/* One histogram family's series (HELP and TYPE are the caller's). */
static void bhist(struct buf *b, const char *name, const char *labels, const struct hist *h)
{
	char tmp[4096];
	int l = hist_format(h, name, labels, tmp, sizeof(tmp));
	if (l < 0 || (size_t)l >= sizeof(tmp)) {
		b->oom = true; /* cannot happen with our names and labels; never a torn series */
		return;
	}
	bprintf(b, "%s", tmp);
}

/* The process_* metrics every Prometheus client library exports, from
 * getrusage(), /proc/self and the start time kept at start-up. */
static void process_metrics(struct node *n, struct buf *b)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		uint64_t us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
			      (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
		bprintf(b, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
			   "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %" PRIu64 ".%06" PRIu64 "\n",
			us / 1000000, us % 1000000);
	}
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size, resident;
	if (f && fscanf(f, "%llu %llu", &size, &resident) == 2) {
		unsigned long long page = (unsigned long long)sysconf(_SC_PAGESIZE);
		bprintf(b, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
			   "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
			   "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			   "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
			size * page, resident * page);
	}
	if (f)
		fclose(f);
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		unsigned long fds = 0;
		for (struct dirent *e; (e = readdir(d));)
			fds += e->d_name[0] != '.';
		closedir(d);
		bprintf(b, "# HELP process_open_fds Number of open file descriptors.\n"
			   "# TYPE process_open_fds gauge\nprocess_open_fds %lu\n",
			fds ? fds - 1 : 0); /* not the one reading the directory */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		bprintf(b, "# HELP process_max_fds Maximum number of open file descriptors.\n"
			   "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
			(unsigned long long)rl.rlim_cur);
	bprintf(b, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		   "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %" PRIu64 ".%03" PRIu64 "\n",
		n->start_time_ns / 1000000000, n->start_time_ns % 1000000000 / 1000000);
}

/* raftd_http_requests_total and raftd_http_request_duration_seconds, by the
 * route's method and path as the route table spells them ("other" for a
 * request that matched none): never a client's own path or method. */
static void http_metrics(struct node *n, struct buf *b)
{
	size_t n_stats;
	const struct httpd_route_stats *rs = httpd_route_stats(n->http, &n_stats);
	char labels[160];
	bprintf(b, "# HELP raftd_http_requests_total HTTP requests answered, by route and status code.\n"
		   "# TYPE raftd_http_requests_total counter\n");
	for (size_t i = 0; i < n_stats; i++) {
		const struct httpd_route *r = rs[i].route;
		snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\"",
			 !r ? "other" : r->method ? r->method : "any", r ? r->path : "other");
		for (size_t k = 0; k < HTTPD_CODES; k++) {
			char code[16] = "other";
			if (!rs[i].codes[k].count)
				continue;
			if (rs[i].codes[k].code)
				snprintf(code, sizeof(code), "%u", rs[i].codes[k].code);
			bprintf(b, "raftd_http_requests_total{%s,code=\"%s\"} %" PRIu64 "\n", labels, code,
				rs[i].codes[k].count);
		}
	}
	bprintf(b, "# HELP raftd_http_request_duration_seconds HTTP requests from head received to response sent, by route.\n"
		   "# TYPE raftd_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < n_stats; i++) {
		const struct httpd_route *r = rs[i].route;
		if (!rs[i].duration.count)
			continue;
		snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\"",
			 !r ? "other" : r->method ? r->method : "any", r ? r->path : "other");
		bhist(b, "raftd_http_request_duration_seconds", labels, &rs[i].duration);
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
	GAUGE("has_leader", "1 if this node knows a leader of its current term.", raft_leader(n->r)[0] != '\0');
	COUNTER("leader_changes_seen_total", "Leaders this node has seen take over (one per term that had one).",
		n->leader_changes);
	GAUGE("wal_stalled", "1 while a WAL write has been pending longer than wal-stall-ms.", n->disk_stalled);
	bprintf(&b, "# HELP raftd_build_info The running raftd's version; always 1.\n# TYPE raftd_build_info gauge\n"
		    "raftd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	COUNTER("wal_batches_total", "WAL batches made durable (one write and one fdatasync each).", n->wal_batches);
	COUNTER("writes_applied_total", "Client writes answered 200 after apply.", n->writes_applied);
	COUNTER("writes_failed_total", "Client writes that failed or timed out.", n->writes_failed);
	COUNTER("reads_local_total", "Local (possibly stale) reads.", n->reads_local);
	COUNTER("reads_consistent_total", "Linearizable (ReadIndex) reads.", n->reads_consistent);
	COUNTER("rpcs_received_total", "Raft RPC requests received.", n->rpcs_in);
	COUNTER("rpcs_sent_total", "Raft RPC requests sent.", n->rpcs_out);
	COUNTER("append_entries_sent_total", "Log entries sent in AppendEntries requests.", n->ae_entries_out);
	COUNTER("append_entry_bytes_sent_total", "Encoded entry bytes sent in AppendEntries requests.", n->entry_bytes_out);
	COUNTER("http_requests_received_total", "HTTP requests received (answered or not).", hs->requests);
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
	bprintf(&b, "# HELP raftd_wal_write_duration_seconds A WAL batch from its write's submission to its fdatasync's success.\n"
		    "# TYPE raftd_wal_write_duration_seconds histogram\n");
	bhist(&b, "raftd_wal_write_duration_seconds", NULL, wal_write_hist(n->wal));
	bprintf(&b, "# HELP raftd_commit_duration_seconds A client write on the leader from its proposal to its commit.\n"
		    "# TYPE raftd_commit_duration_seconds histogram\n");
	bhist(&b, "raftd_commit_duration_seconds", NULL, &n->commit_hist);
	bprintf(&b, "# HELP raftd_apply_duration_seconds Applying one slice of committed entries to the key-value store.\n"
		    "# TYPE raftd_apply_duration_seconds histogram\n");
	bhist(&b, "raftd_apply_duration_seconds", NULL, &n->apply_hist);
	http_metrics(n, &b);
	process_metrics(n, &b);
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
void transfer_check(struct node *n)
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
		reply_json(n->transfer_req, j, JSON_INDENT(2) | JSON_SORT_KEYS);
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

/* ---- the routes -------------------------------------------------------------- */

const struct httpd_route *routes_for(struct node *n, size_t *ret_n)
{
	static struct httpd_route routes[16];
	size_t i = 0;
	routes[i++] = (struct httpd_route){ NULL, "/raft/", true, n->cfg.max_raft_body, 0, on_raft, n, true };
	routes[i++] = (struct httpd_route){ "POST", RAFTD_PATH_SNAPSHOT, false, 4096, 0, on_snapshot_post, n, false };
	routes[i++] = (struct httpd_route){ "GET", RAFTD_PATH_SNAPSHOT, false, 0, n->cfg.max_snapshot_downloads,
					    on_snapshot_get, n, false };
	routes[i++] = (struct httpd_route){ "POST", RAFTD_PATH_TRANSFER, false, 4096, 0, on_transfer, n, false };
	routes[i++] = (struct httpd_route){ "POST", RAFTD_PATH_PROMOTE, false, 4096, 0, on_promote, n, false };
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
