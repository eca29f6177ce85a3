/* src/raftd/api.c — the HTTP API: the routes (routes_for()), raft RPCs
 * received and answered, /db incl. DELETE, /status, /raftd/transfer. The
 * membership endpoints are in members.c, /metrics in metrics.c, /health in
 * health.c, the snapshot endpoints in snapshots.c.
 */
#include "src/raftd/node_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftd/api_parse.h"
#include "src/raftd/log.h"
#include "src/raftd/v3.h"

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

/* A member cannot speak for another (auth_peer_claim()): the request's
 * LeaderName or CandidateName against its certificate. */
static bool peer_claim_refused(struct node *n, struct httpd_request *req, const char *claimed)
{
	struct auth_member members[RAFT_MAX_PEERS];
	size_t k = 0;
	for (size_t i = 0; i < raft_n_members(n->r) && k < RAFT_MAX_PEERS; i++) {
		const char *name = raft_member_name(n->r, i);
		if (strcmp(name, n->name) != 0)
			members[k++] = (struct auth_member){ name, raft_member_url(n->r, i) };
	}
	const struct tls_identity *id = httpd_identity(req);
	char why[2 * TLS_NAME_MAX + 2 * RAFT_NAME_MAX + 128];
	unsigned status = auth_peer_claim(&n->auth, id, claimed, members, k, why, sizeof(why));
	if (!status)
		return false;
	peer_refused_log(n, id, claimed, why);
	httpd_reply_text(req, status, why);
	return true;
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
		/* "grpc": where clients reach this member's etcd v3 API, for
		 * the other members' MemberList (absent: none) */
		char grpc[RAFT_URL_MAX + 16];
		v3_client_url(n, grpc, sizeof(grpc));
		json_t *j = json_pack("{s:s, s:s, s:s}", "server", "raftd", "version", PACKAGE_VERSION, "name", n->name);
		if (j && grpc[0])
			json_object_set_new(j, "grpc", json_string(grpc));
		reply_json(req, j, JSON_COMPACT | JSON_PRESERVE_ORDER);
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
	if (n->auth.peer_cert_auth && peer_claim_refused(n, req, rr.from))
		return;
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

bool not_leader(struct node *n, struct httpd_request *req)
{
	if (raft_role(n->r) == RAFT_LEADER)
		return false;
	const char *leader = raft_leader(n->r);
	/* with --peer-port a member's URL is its peer port, which serves no
	 * client: no redirect there, goraft's answer instead */
	if (n->cfg.forward_writes && !n->cfg.peer_port && leader[0]) {
		for (size_t i = 0; i < raft_n_members(n->r); i++) {
			if (strcmp(raft_member_name(n->r, i), leader) != 0)
				continue;
			/* the path as decoded, encoded again: it is a key's bytes */
			size_t plen;
			const char *path = httpd_path_n(req, &plen);
			const char *consistent = httpd_query(req, "consistent"), *marker = httpd_query(req, "raftd");
			const char *ttl = httpd_query(req, "ttl"); /* digits only when it gets here */
			char *esc = malloc(3 * plen + 1), *loc = NULL;
			if (!esc || api_path_escape(path, plen, esc, 3 * plen + 1) < 0 ||
			    asprintf(&loc, "%s%s%s%s%s%s%s%s", raft_member_url(n->r, i), esc,
				     consistent ? "?consistent=" : "", consistent ? consistent : "",
				     marker ? (consistent ? "&raftd=" : "?raftd=") : "", marker ? marker : "",
				     ttl ? (consistent || marker ? "&ttl=" : "?ttl=") : "", ttl ? ttl : "") < 0) {
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

int propose(struct node *n, struct httpd_request *req, const struct cmd *c)
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

void reply_propose_error(struct httpd_request *req, int rv)
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

/* ---- GET /db/K?wait=true[&waitIndex=REV] (raftd-only) ---------------------------------------
 *
 * A long poll on the Watch hub (v3_watch.c): an internal watcher of the key
 * from waitIndex (a store revision; none: the next one) answers the first
 * change at or after it, 200 with the value or 404 for a delete, with its
 * revision in X-Raftd-Revision (at once when there is one already). A
 * waitIndex already compacted is 410. A client that hangs up is noticed
 * within a second (db_wait_timer) and its watcher freed. */
struct db_wait {
	struct db_wait *next;
	struct node *n;
	struct httpd_request *req;
	struct watcher *w;
};

static void db_wait_unlink(struct node *n, struct db_wait *d)
{
	for (struct db_wait **pp = &n->db_waits; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
}

static void on_db_wait_event(void *ctx, const struct mvcc_event *evs, size_t count, int64_t rev)
{
	struct db_wait *d = ctx;
	struct node *n = d->n;
	char revbuf[32];
	if (rev < 0) {
		/* the node stops: httpd_stop() answers the request */
		db_wait_unlink(n, d);
		free(d);
		return;
	}
	if (!count) {
		char why[128];
		snprintf(why, sizeof(why), "waitIndex is compacted: the history starts at revision %" PRId64, rev);
		httpd_reply_text(d->req, 410, why);
	} else {
		/* the first change at or after waitIndex: a client that
		 * asks again from its revision + 1 sees every one */
		const struct mvcc_event *ev = &evs[0];
		snprintf(revbuf, sizeof(revbuf), "%" PRId64, ev->kv.mod_revision);
		const char *hdrs[] = { "X-Raftd-Revision", revbuf, NULL };
		if (ev->deleted)
			httpd_reply(d->req, 404, "text/plain; charset=utf-8", "", 0, hdrs);
		else
			httpd_reply(d->req, 200, "text/plain; charset=utf-8", ev->kv.value, ev->kv.value_len, hdrs);
	}
	v3_watch_internal_cancel(n, d->w);
	db_wait_unlink(n, d);
	free(d);
}

static void on_db_wait_timer(struct loop_timer *t)
{
	struct node *n = (struct node *)((char *)t - offsetof(struct node, db_wait_timer));
	for (struct db_wait *d = n->db_waits, *next; d; d = next) {
		next = d->next;
		if (httpd_request_gone(d->req)) {
			httpd_reply_text(d->req, 503, "the client went away");
			v3_watch_internal_cancel(n, d->w);
			db_wait_unlink(n, d);
			free(d);
		}
	}
	if (n->db_waits)
		loop_timer_arm(&n->loop, &n->db_wait_timer, 1000);
}

/* Every member must be raftd: a goraft node's clients could not be told. */
static bool db_wait_goraft(struct node *n)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++) {
		struct npeer *p = npeer_find(n, raft_member_name(n->r, i));
		if (p && p->kind_known && p->goraft)
			return true;
	}
	return false;
}

static void db_wait(struct node *n, struct httpd_request *req, const char *key, size_t key_len)
{
	const char *from_s = httpd_query(req, "waitIndex");
	int64_t from = 0;
	if (from_s) {
		char *end;
		errno = 0;
		long long v = strtoll(from_s, &end, 10);
		if (!*from_s || *end || errno || v < 0) {
			httpd_reply_text(req, 400, "waitIndex: not a revision");
			return;
		}
		from = v;
	}
	if (db_wait_goraft(n)) {
		httpd_reply_text(req, 409, "wait=true is raftd-only: not possible while a goraft node is a member");
		return;
	}
	struct db_wait *d = calloc(1, sizeof(*d));
	if (!d) {
		httpd_reply_text(req, 500, "out of memory");
		return;
	}
	d->n = n;
	d->req = req;
	d->next = n->db_waits;
	n->db_waits = d;
	if (!(d->w = v3_watch_internal(n, (const uint8_t *)key, key_len, from, on_db_wait_event, d))) {
		db_wait_unlink(n, d);
		free(d);
		httpd_reply_text(req, 500, "out of memory");
		return;
	}
	if (!n->db_wait_timer.fire)
		loop_timer_init(&n->db_wait_timer, on_db_wait_timer);
	if (!loop_timer_armed(&n->db_wait_timer))
		loop_timer_arm(&n->loop, &n->db_wait_timer, 1000);
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
	const char *wait = httpd_query(req, "wait");
	if (wait && !strcmp(wait, "true")) {
		db_wait(n, req, key, key_len);
		free(buf);
		return;
	}
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

/* ?ttl=SECONDS: a positive whole number of seconds, at most etcd's
 * largest lease TTL; -1 for anything else. */
static int64_t db_ttl(const char *s)
{
	int64_t v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > MVCC_LEASE_TTL_MAX)
			return -1;
		v = 10 * v + (*s - '0');
	}
	return v > 0 && v <= MVCC_LEASE_TTL_MAX ? v : -1;
}

static void on_db_post(struct httpd_request *req, void *data)
{
	struct node *n = data;
	if (refuse_stopping(n, req))
		return;
	const char *key;
	char *buf, why[RAFT_NAME_MAX + 128];
	size_t len, key_len;
	const uint8_t *value = httpd_body(req, &len);
	if (!db_key(req, &buf, &key, &key_len))
		return;
	/* raftd-only: the key gets a lease of that TTL (two entries: the
	 * grant, then the put naming it), deleted when the lease expires */
	const char *ttl_q = httpd_query(req, "ttl");
	int64_t ttl = ttl_q ? db_ttl(ttl_q) : 0;
	unsigned status;
	if (key_len > n->cfg.max_key) {
		httpd_reply_text(req, 414, "key too long");
	} else if (len > n->cfg.max_value) {
		httpd_reply_text(req, 413, "value too large");
	} else if (ttl < 0) {
		httpd_reply_text(req, 400, "ttl: a whole number of seconds from 1 to 9000000000");
	} else if (ttl_q && !not_leader(n, req)) {
		if ((status = extensions_refused(n, "ttl", why, sizeof(why))))
			httpd_reply_text(req, status, why);
		else
			v3_lease_db_put(n, req, key, key_len, value, len, ttl);
	} else if (!ttl_q && !not_leader(n, req)) {
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

/* ---- who may do what (auth.h) -------------------------------------------------- */

void peer_refused_log(struct node *n, const struct tls_identity *id, const char *claimed, const char *why)
{
	/* a peer that keeps trying would fill the journal: once per peer
	 * (its certificate's CN, or the member it claims) and reason a minute */
	char key[sizeof(n->refusals[0].key)];
	snprintf(key, sizeof(key), "%.48s|%.40s|%.60s", id->cn, claimed ? claimed : "", why);
	uint64_t t = now_ms(n);
	struct peer_refusal *slot = &n->refusals[0];
	for (size_t i = 0; i < sizeof(n->refusals) / sizeof(n->refusals[0]); i++) {
		struct peer_refusal *r = &n->refusals[i];
		if (!strcmp(r->key, key)) {
			if (t - r->at_ms < 60000)
				return;
			slot = r;
			break;
		}
		if (r->at_ms < slot->at_ms)
			slot = r;
	}
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->at_ms = t;
	char fields[512];
	snprintf(fields, sizeof(fields), "RAFT_PEER=%s\nRAFT_REASON=%s", claimed ? claimed : id->cn[0] ? id->cn : "?",
		 why);
	log_msg(LOG_WARNING, LOG_ID_PEER_REFUSED, fields, "peer request refused%s%s: %s", claimed ? " for " : "",
		claimed ? claimed : "", why);
}

/* Every route's handler runs behind this: the request's class by its
 * method and path (auth_classify), then the certificate's right to it.
 * /join and the Raft RPCs decide the rest once their body says whom
 * they speak for (on_join, on_raft). */
static void on_gated(struct httpd_request *req, void *data)
{
	struct auth_gate *g = data;
	struct node *n = g->node;
	const char *method = httpd_method(req), *path = httpd_path(req);
	enum auth_class cls = auth_classify(method, path);
	const struct tls_identity *id = httpd_identity(req);
	char why[TLS_NAME_MAX + 256], what[64];
	unsigned status = 0;
	if (g->peer_listener && cls != AUTH_PEER && cls != AUTH_JOIN) {
		httpd_reply_text(req, 404, "404 page not found: this is the peer port; clients use the client port");
		return;
	}
	if (g->client_listener_only && cls == AUTH_PEER) {
		httpd_reply_text(req, 404, "404 page not found: peer paths are served on the peer port (--peer-port)");
		return;
	}
	if (g->peer_route && cls != AUTH_PEER && cls != AUTH_JOIN) {
		/* a client path under a peer prefix (GET /raftd/transfer): its
		 * identity was verified with the peer CAs, which say nothing
		 * about a client's role; no handler serves it anyway */
		httpd_reply_text(req, 405, "405 method not allowed");
		return;
	}
	if (cls == AUTH_PEER) {
		status = auth_peer(&n->auth, id, why, sizeof(why));
		if (status)
			peer_refused_log(n, id, NULL, why);
	} else if (cls != AUTH_JOIN) {
		size_t l = strlen(g->path);
		snprintf(what, sizeof(what), "%s %.*s", method, (int)(l > 1 && g->path[l - 1] == '/' ? l - 1 : l),
			 g->path);
		status = auth_client(&n->auth, cls, what, id, why, sizeof(why));
	}
	if (status) {
		httpd_reply_text(req, status, why);
		return;
	}
	g->handler(req, n);
}

/* ---- the routes -------------------------------------------------------------- */

const struct httpd_route *routes_for(struct node *n, bool peer_listener, size_t *ret_n)
{
	struct httpd_route *routes = n->routes[peer_listener];
	struct auth_gate *gates = n->gates[peer_listener];
	const size_t cap = sizeof(n->routes[0]) / sizeof(n->routes[0][0]);
	bool split = n->cfg.peer_port != 0;
	/* /join's certificate is the joiner's own member certificate or an
	 * admin's: verified as peers' are when peers must authenticate */
	bool join_peer = n->cfg.peer_client_cert_auth;
	const struct httpd_route all[] = {
		{ NULL, "/raft/", true, n->cfg.max_raft_body, 0, on_raft, n, true },
		{ "POST", RAFTD_PATH_SNAPSHOT, false, 4096, 0, on_snapshot_post, n, false },
		{ "GET", RAFTD_PATH_SNAPSHOT, false, 0, n->cfg.max_snapshot_downloads, on_snapshot_get, n, false },
		{ "POST", RAFTD_PATH_TRANSFER, false, 4096, 0, on_transfer, n, false },
		{ "POST", RAFTD_PATH_PROMOTE, false, 4096, 0, on_promote, n, false },
		/* a follower's v3 write (v3_kv.c): a request message and its kind byte */
		{ "POST", "/raftd/propose", false, 2 << 20, 0, on_v3_propose, n, true },
		/* a follower's lease keep-alives and TimeToLive (v3_lease.c) */
		{ "POST", "/raftd/lease/", true, 64 << 10, 0, on_v3_lease_peer, n, true },
		{ NULL, "/raftd/", true, n->cfg.max_raft_body, 0, on_raft, n, true },
		{ "GET", "/db/", true, 0, 0, on_db_get, n, false },
		{ "POST", "/db/", true, n->cfg.max_value, 0, on_db_post, n, false },
		{ "PUT", "/db/", true, n->cfg.max_value, 0, on_db_post, n, false },
		{ "DELETE", "/db/", true, 0, 0, on_db_delete, n, false },
		{ "POST", "/join", false, 4096, 0, on_join, n, join_peer },
		{ "POST", "/leave", false, 4096, 0, on_leave, n, false },
		{ "GET", "/status", false, 0, 0, on_status, n, false },
		{ "GET", "/metrics", false, 0, 0, on_metrics, n, false },
		{ "GET", "/health", false, 0, 0, on_health, n, false },
	};
	size_t k = 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const struct httpd_route *r = &all[i];
		bool peer_path = r->handler == on_raft || r->handler == on_join || r->handler == on_v3_propose ||
				 r->handler == on_v3_lease_peer;
		/* the peer listener serves the peer paths and /join (a
		 * joiner follows the leader hint, a member URL, there); the
		 * routes it does not serve fall to its /raftd/ prefix, and so
		 * behind the gate, which answers 404 */
		if (peer_listener && !peer_path)
			continue;
		assert(k < cap);
		gates[k] = (struct auth_gate){ .node = n, .handler = r->handler, .path = r->path,
					       .peer_listener = peer_listener,
					       .client_listener_only = split && !peer_listener,
					       .peer_route = r->peer && r->handler != on_join };
		routes[k] = *r;
		routes[k].handler = on_gated;
		routes[k].data = &gates[k];
		k++;
	}
	*ret_n = k;
	return routes;
}
