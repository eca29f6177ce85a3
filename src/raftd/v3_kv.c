/* src/raftd/v3_kv.c — etcd's KV service (Range, Put, DeleteRange, Txn,
 * Compact) on the node's MVCC store.
 *
 * A write is the client's request message behind a kind byte, logged as a
 * raftd:v3 entry (src/etcd/etcd.h). The leader proposes it and waits for
 * its own apply; a follower forwards it to the leader (POST
 * /raftd/propose, a peer route: the leader answers the index and term it
 * appended at) and waits for its OWN apply of that index: the same log
 * gives the same result, and the answer says what this member's store now
 * holds. The entry at that index with another term means another leader
 * replaced it: etcd's "possibly due to previous leader failure".
 *
 * A read is served at once when serializable; otherwise through the core's
 * ReadIndex (as GET /db?consistent=true), once applied >= its index.
 *
 * Each call has one struct v3_call (grpc_call_user()), in one of the
 * states below; on_cancel (the client went, its deadline passed, the
 * server stops) drops whatever waits for it.
 */
#include "src/raftd/v3.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/etcd/etcd.h"
#include "src/raftd/log.h"
#include "src/raftd/node_int.h"

#define RAFTD_PATH_PROPOSE "/raftd/propose"
/* forwards waiting for room in the client to the leader (its queue is
 * shared with the Raft RPCs): beyond, a write is refused UNAVAILABLE */
#define V3_FWD_QUEUE_MAX 4096

enum v3_state {
	V3_NONE,
	V3_FORWARD, /* p: the struct v3_fwd in flight to the leader */
	V3_WRITE,   /* p: the struct write_wait in n->writes */
	V3_READ,    /* p: the struct read_wait in n->reads */
};

struct v3_call {
	struct grpc_call *call;
	struct node *n;
	enum etcd_kind kind;
	enum v3_state state;
	void *p;
	struct etcd_req req; /* a linearizable range, kept until served */
};

struct v3_fwd {
	struct node *n;
	struct v3_call *vc; /* NULL once the call is gone */
	struct v3_fwd *next; /* in n->v3_fwds while the leader's client is full */
	struct iovec iov;
	uint8_t payload[];
};

static struct v3_call *vc_new(struct grpc_call *c, enum etcd_kind kind)
{
	struct v3_call *vc = calloc(1, sizeof(*vc));
	if (!vc)
		return NULL;
	vc->call = c;
	vc->n = v3_node(c);
	vc->kind = kind;
	grpc_call_set_user(c, vc);
	return vc;
}

static void vc_free(struct v3_call *vc)
{
	etcd_req_free(&vc->req);
	free(vc);
}

/* Ends the call with err (0: nothing to say but the header, as Compact)
 * or with the result of the request. */
static void vc_answer(struct v3_call *vc, int err, const struct mvcc_result *res)
{
	struct node *n = vc->n;
	if (err) {
		v3_fail(vc->call, err);
	} else {
		struct etcd_header h;
		v3_header(n, &h);
		if (res)
			h.revision = res->revision;
		uint8_t *buf = NULL;
		size_t len = 0;
		if (etcd_encode_response(vc->kind, &h, res, &buf, &len) < 0)
			buf = NULL;
		v3_reply(vc->call, buf, len);
	}
	vc_free(vc);
}

/* ---- the waiters in n->writes and n->reads -------------------------------------- */

static void writes_unlink(struct node *n, struct write_wait *w)
{
	for (struct write_wait **pp = &n->writes; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			if (!*pp)
				n->writes_tail = pp;
			return;
		}
	}
}

void v3_write_fail(struct node *n, struct write_wait *w, int err)
{
	(void)n;
	struct v3_call *vc = w->v3;
	w->v3 = NULL;
	vc_answer(vc, err, NULL);
}

void v3_read_serve(struct node *n, struct read_wait *w, int err)
{
	struct v3_call *vc = w->v3;
	w->v3 = NULL;
	struct mvcc_result res = { 0 };
	if (!err)
		err = mvcc_read(kv_mvcc_const(n->kv), &vc->req.op.range, &res);
	vc_answer(vc, err, err ? NULL : &res);
	mvcc_result_free(&res);
}

static void on_cancel(struct grpc_call *c)
{
	struct v3_call *vc = grpc_call_user(c);
	if (!vc)
		return;
	struct node *n = vc->n;
	switch (vc->state) {
	case V3_NONE: break;
	case V3_FORWARD: ((struct v3_fwd *)vc->p)->vc = NULL; break;
	case V3_WRITE: {
		struct write_wait *w = vc->p;
		writes_unlink(n, w);
		free(w);
		break;
	}
	case V3_READ:
		for (struct read_wait **pp = &n->reads; *pp; pp = &(*pp)->next) {
			if (*pp == vc->p) {
				struct read_wait *w = *pp;
				*pp = w->next;
				free(w);
				break;
			}
		}
		break;
	}
	vc_free(vc);
}

/* ---- applying ----------------------------------------------------------------------- */

/* The call waiting for the entry at index (the leader's or a follower's),
 * taken out of n->writes, or NULL. */
static struct write_wait *waiter_take(struct node *n, raft_index index)
{
	for (struct write_wait *w = n->writes; w && w->index <= index; w = w->next) {
		if (w->index == index && w->v3) {
			writes_unlink(n, w);
			return w;
		}
	}
	return NULL;
}

int v3_apply(struct node *n, raft_index index, raft_term term, const uint8_t *payload, size_t len)
{
	struct etcd_req req = { 0 };
	struct mvcc_result res = { 0 };
	char err[256];
	int rv, op_err = 0;
	if (etcd_decode_entry(payload, len, &req, err, sizeof(err)) < 0) {
		/* every member refuses the same entry alike: goraft's rule for
		 * an entry it cannot apply (apply_one()) */
		log_warning("apply: entry %" PRIu64 ": %s (applied as a no-op)", index, err);
		struct cmd nop = { .type = CMD_NOP };
		rv = kv_apply(n->kv, index, &nop);
		op_err = -EBADMSG;
	} else if (req.kind == ETCD_COMPACT) {
		rv = kv_apply_compact(n->kv, index, req.compact_rev, &op_err);
	} else if (req.kind == ETCD_LEASE_GRANT) {
		rv = kv_apply_lease_grant(n->kv, index, req.lease_id, req.lease_ttl, &op_err);
		if (rv == 0 && !op_err)
			v3_lease_granted(n, req.lease_id, req.lease_ttl, term);
	} else if (req.kind == ETCD_LEASE_REVOKE) {
		rv = kv_apply_lease_revoke(n->kv, index, req.lease_id, &res, &op_err);
		if (rv == 0)
			v3_lease_revoked(n, req.lease_id);
	} else {
		rv = kv_apply_op(n->kv, index, &req.op, &res, &op_err);
	}
	if (rv < 0) {
		log_error("apply: entry %" PRIu64 ": %s", index, strerror(-rv));
	} else if (rv == 0) {
		struct write_wait *w = waiter_take(n, index);
		if (w) {
			struct v3_call *vc = w->v3;
			if (w->term != term) {
				vc_answer(vc, -V3_E_LEADER_FAIL, NULL);
				n->writes_failed++;
			} else if (!op_err && (req.kind == ETCD_LEASE_GRANT || req.kind == ETCD_LEASE_REVOKE)) {
				v3_lease_answer(vc->call, n, req.kind, req.lease_id, req.lease_ttl);
				vc_free(vc);
				n->writes_applied++;
			} else {
				vc_answer(vc, op_err, req.kind == ETCD_COMPACT ? NULL : &res);
				n->writes_applied++;
			}
			free(w);
		}
	}
	mvcc_result_free(&res);
	etcd_req_free(&req);
	return rv < 0 ? rv : 0;
}

/* ---- writes ------------------------------------------------------------------------- */

/* raftd:v3 entries need every member to be raftd: 0, -V3_E_GORAFT (msg
 * says which member), or -V3_E_NO_LEADER while a member's kind is not known
 * (the client retries). */
static int members_refused(struct node *n, char *msg, size_t len)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++) {
		const char *name = raft_member_name(n->r, i);
		if (!strcmp(name, n->name))
			continue;
		struct npeer *p = npeer_find(n, name);
		if (p && p->kind_known && p->goraft) {
			snprintf(msg, len, "etcdserver: raftd:v3 commands need every member to be raftd (goraft node %s "
				 "is a member)", name);
			return -V3_E_GORAFT;
		}
		if (!p || !p->kind_known) {
			snprintf(msg, len, "etcdserver: the kind of member %s (raftd or goraft) is not known yet; retry",
				 name);
			return -V3_E_NO_LEADER;
		}
	}
	return 0;
}

static int propose_entry(struct node *n, const uint8_t *payload, size_t len, struct v3_call *vc,
			 raft_index *ret_index, raft_term *ret_term);

/* Proposes a payload on the leader; vc NULL for a follower's (the
 * leader only says where it went). 0 with *ret_index, *ret_term. A lease
 * grant is completed first (v3_lease_complete(): the ID, the TTL), so
 * every member applies what the leader decided. */
static int propose_v3(struct node *n, const uint8_t *payload, size_t len, struct v3_call *vc, raft_index *ret_index,
		      raft_term *ret_term)
{
	if (!len || payload[0] != ETCD_LEASE_GRANT)
		return propose_entry(n, payload, len, vc, ret_index, ret_term);
	uint8_t *grant = NULL;
	size_t grant_len;
	int rv = v3_lease_complete(n, payload, len, &grant, &grant_len);
	if (rv == 0)
		rv = propose_entry(n, grant, grant_len, vc, ret_index, ret_term);
	free(grant);
	return rv;
}

int v3_propose_payload(struct node *n, const uint8_t *payload, size_t len)
{
	raft_index index;
	raft_term term;
	return propose_v3(n, payload, len, NULL, &index, &term);
}

static int propose_entry(struct node *n, const uint8_t *payload, size_t len, struct v3_call *vc,
			 raft_index *ret_index, raft_term *ret_term)
{
	if (wal_nospace(n->wal))
		return -ENOSPC;
	struct cmd c = { .type = CMD_V3, .value = cmd_str_ref(payload, len) };
	struct raft_entry e;
	rpc_cmd_entry(&c, raft_last_index(n->r) + 1, raft_current_term(n->r), &e);
	struct write_wait *w = NULL;
	if (vc) {
		if (!(w = write_wait_new(n, NULL, e.type)))
			return -ENOMEM;
		w->v3 = vc;
		vc->state = V3_WRITE;
		vc->p = w;
	}
	struct step_ctx ctx = { .cmds = &c };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose.n = 1, .propose.entries = &e };
	n->last_proposed = 0;
	int rv = step_propose(n, &ev, &ctx, w);
	if (rv == 0 && !n->last_proposed)
		rv = -EPERM;
	if (rv < 0) {
		if (vc) {
			vc->state = V3_NONE;
			vc->p = NULL;
			free(w);
		}
		/* a leader handing over, or no longer one: clients go elsewhere */
		return rv == -EPERM || rv == -ESHUTDOWN || rv == -EBUSY ? -V3_E_NO_LEADER
		       : rv == -EOPNOTSUPP				   ? -V3_E_GORAFT
									   : rv;
	}
	*ret_index = n->last_proposed;
	*ret_term = n->last_proposed_term;
	return 0;
}

static void fwd_release(void *arg)
{
	free(arg);
}

/* The answer for a forward that ended without the leader's word (res: the
 * peer's -errno, net/peer.h). Only errors that come before a byte of the
 * request could be written say nothing was proposed: a refused or
 * unreachable connection, a refused TLS handshake. Any other (a timeout, a
 * reset or closed connection, a malformed answer...) may have come after the
 * leader appended the entry, and this member cannot match the entry if it
 * commits: etcd's "request timed out", whose outcome is unknown, not "no
 * leader", which says nothing was done. A connect timeout (-ETIMEDOUT too)
 * is answered as unknown: the peer does not say which one it was. */
int v3_forward_error(int res)
{
	switch (res) {
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EADDRNOTAVAIL:
	case -EKEYREJECTED: return -V3_E_NO_LEADER;
	default: return -V3_E_TIMEOUT;
	}
}

/* The leader's answer: "INDEX TERM" (200), or "CODE MESSAGE", the gRPC
 * status it refused with. */
static void fwd_done(void *arg, int res, const uint8_t *body, size_t len)
{
	struct v3_fwd *f = arg;
	struct v3_call *vc = f->vc;
	struct node *n = f->n;
	if (n->v3_fwds && !n->stopping)
		v3_forward_drain(n); /* room again, perhaps */
	if (!vc)
		return; /* the call is gone */
	f->vc = NULL;
	vc->state = V3_NONE;
	vc->p = NULL;
	char text[512];
	size_t l = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	memcpy(text, body ? (const char *)body : "", l);
	while (l && text[l - 1] == '\n')
		l--; /* httpd_reply_text()'s, not the leader's message */
	text[l] = '\0';
	uint64_t index, term;
	int code, off = 0;
	if (n->stopping) {
		/* whatever the leader did: etcd's words for a server that
		 * stops under a request (its outcome unknown) */
		vc_answer(vc, -V3_E_STOPPING, NULL);
		return;
	}
	if (res != 200) {
		if (res > 0 && sscanf(text, "%d %n", &code, &off) == 1 && off && code > 0 && code <= GRPC_UNAUTHENTICATED) {
			grpc_finish(vc->call, (enum grpc_status)code, text + off);
			vc_free(vc);
		} else {
			/* an HTTP answer but 200: the leader refused before
			 * proposing (it answers 200 once appended) */
			log_debug("v3: forwarding a write to the leader: %s", res < 0 ? strerror(-res) : text);
			vc_answer(vc, res < 0 ? v3_forward_error(res) : -V3_E_NO_LEADER, NULL);
		}
		return;
	}
	if (sscanf(text, "%" SCNu64 " %" SCNu64, &index, &term) != 2 || !index) {
		grpc_finish(vc->call, GRPC_INTERNAL, "etcdserver: malformed answer of the leader");
		vc_free(vc);
		return;
	}
	if (kv_applied_index(n->kv) >= index) {
		/* applied here before the leader's answer arrived: its
		 * result is gone; the outcome is unknown to the client, as
		 * for any timeout */
		vc_answer(vc, -V3_E_TIMEOUT, NULL);
		return;
	}
	struct write_wait *w = write_wait_new(n, NULL, RAFT_ENTRY_COMMAND);
	if (!w) {
		vc_answer(vc, -ENOMEM, NULL);
		return;
	}
	w->index = index;
	w->term = term;
	w->v3 = vc;
	vc->state = V3_WRITE;
	vc->p = w;
	writes_queue(n, w);
}

/* Sends f to the current leader: 0, -ENOBUFS (its client is full: try
 * again later), or the error to answer. */
static int fwd_submit(struct node *n, struct v3_fwd *f)
{
	const char *leader = raft_leader(n->r);
	struct npeer *p = leader[0] && raft_role(n->r) != RAFT_LEADER ? npeer_find(n, leader) : NULL;
	if (!p || !p->p)
		return -V3_E_NO_LEADER;
	if (p->kind_known && p->goraft)
		return -V3_E_GORAFT;
	struct peer_request req = {
		.method = "POST",
		.path = RAFTD_PATH_PROPOSE,
		.content_type = "application/octet-stream",
		.iov = &f->iov,
		.iovcnt = 1,
		.done = fwd_done,
		.release = fwd_release,
		.arg = f,
	};
	int rv = peer_submit(p->p, &req);
	/* unreachable now: the client retries */
	return rv == -ENOBUFS ? rv : rv < 0 ? -V3_E_NO_LEADER : 0;
}

void v3_forward_drain(struct node *n)
{
	while (n->v3_fwds) {
		struct v3_fwd *f = n->v3_fwds;
		int rv = f->vc ? fwd_submit(n, f) : -ECANCELED;
		if (rv == -ENOBUFS)
			return;
		n->v3_fwds = f->next;
		n->v3_fwds_n--;
		if (rv < 0) {
			if (f->vc) {
				f->vc->state = V3_NONE;
				vc_answer(f->vc, rv, NULL);
			}
			free(f);
		}
	}
}

void v3_forward_free(struct node *n)
{
	while (n->v3_fwds) {
		struct v3_fwd *f = n->v3_fwds;
		n->v3_fwds = f->next;
		free(f);
	}
	n->v3_fwds_n = 0;
}

static int forward(struct node *n, struct v3_call *vc, const uint8_t *msg, size_t len)
{
	struct v3_fwd *f = malloc(sizeof(*f) + len + 1);
	if (!f)
		return -ENOMEM;
	f->n = n;
	f->vc = vc;
	f->next = NULL;
	f->payload[0] = (uint8_t)vc->kind;
	memcpy(f->payload + 1, msg, len);
	f->iov = (struct iovec){ f->payload, len + 1 };
	/* behind those waiting already, in arrival order */
	int rv = n->v3_fwds ? -ENOBUFS : fwd_submit(n, f);
	if (rv == -ENOBUFS) {
		if (n->v3_fwds_n >= V3_FWD_QUEUE_MAX) {
			free(f);
			return -V3_E_NO_LEADER;
		}
		struct v3_fwd **pp = &n->v3_fwds;
		while (*pp)
			pp = &(*pp)->next;
		*pp = f;
		n->v3_fwds_n++;
		rv = 0;
	} else if (rv < 0) {
		free(f);
		return rv;
	}
	vc->state = V3_FORWARD;
	vc->p = f;
	return 0;
}

static void on_write(struct grpc_call *c, enum etcd_kind kind, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_WRITE))
		return;
	struct v3_call *vc = vc_new(c, kind);
	char err[256];
	if (!vc) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	if (n->stopping) {
		vc_answer(vc, -V3_E_STOPPING, NULL);
		return;
	}
	/* etcd measures its marshalled raft request; raftd's entry is the
	 * message and its kind byte. Before decoding: it is refused whatever
	 * it holds, as etcd's is. */
	if (len + 1 > V3_MAX_REQUEST) {
		vc_answer(vc, -V3_E_TOO_LARGE, NULL);
		return;
	}
	/* refused here as the leader would at apply: the entry is not
	 * worth a round of the log */
	int rv = etcd_decode(kind, msg, len, &vc->req, err, sizeof(err));
	if (rv == -EBADMSG) {
		grpc_finish(c, GRPC_INVALID_ARGUMENT, err);
		vc_free(vc);
		return;
	}
	if (rv == 0)
		rv = etcd_check(&vc->req);
	etcd_req_free(&vc->req);
	memset(&vc->req, 0, sizeof(vc->req));
	if (rv == 0 && (rv = members_refused(n, err, sizeof(err))) < 0) {
		grpc_finish(c, rv == -V3_E_GORAFT ? GRPC_FAILED_PRECONDITION : GRPC_UNAVAILABLE, err);
		vc_free(vc);
		return;
	}
	if (rv < 0) {
		vc_answer(vc, rv, NULL);
		return;
	}
	if (raft_role(n->r) != RAFT_LEADER) {
		rv = forward(n, vc, msg, len);
	} else {
		uint8_t *payload = malloc(len + 1);
		raft_index index;
		raft_term term;
		rv = -ENOMEM;
		if (payload) {
			payload[0] = (uint8_t)kind;
			memcpy(payload + 1, msg, len);
			/* the entry is encoded during the step */
			rv = propose_v3(n, payload, len + 1, vc, &index, &term);
			free(payload);
		}
	}
	if (rv < 0)
		vc_answer(vc, rv, NULL);
}

static void on_put(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	on_write(c, ETCD_PUT, msg, len);
}

static void on_delete(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	on_write(c, ETCD_DELETE, msg, len);
}

static void on_txn(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	on_write(c, ETCD_TXN, msg, len);
}

static void on_compact(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	on_write(c, ETCD_COMPACT, msg, len);
}

/* The Lease service's writes (v3_lease.c) take the same path. */
void v3_write(struct grpc_call *c, int kind, const uint8_t *msg, size_t len)
{
	on_write(c, (enum etcd_kind)kind, msg, len);
}

void v3_write_cancel(struct grpc_call *c)
{
	on_cancel(c);
}

/* POST /raftd/propose on the leader: a follower's client write (body: the
 * raftd:v3 payload). Answered once appended, with "INDEX TERM"; a refusal
 * with "CODE MESSAGE" (the gRPC status for the follower's client). */
void on_v3_propose(struct httpd_request *req, void *data)
{
	struct node *n = data;
	size_t len;
	const uint8_t *body = httpd_body(req, &len);
	char text[320];
	const char *msg = NULL;
	int rv;
	if (n->stopping) {
		rv = -V3_E_STOPPING;
	} else if (len > V3_MAX_REQUEST) {
		rv = -V3_E_TOO_LARGE; /* the follower refuses it first; an older one may not */
	} else if (!len || (body[0] != ETCD_PUT && body[0] != ETCD_DELETE && body[0] != ETCD_TXN &&
			    body[0] != ETCD_COMPACT && body[0] != ETCD_LEASE_GRANT && body[0] != ETCD_LEASE_REVOKE)) {
		httpd_reply_text(req, 400, "3 etcdserver: not a raftd:v3 payload");
		return;
	} else if (raft_role(n->r) != RAFT_LEADER) {
		rv = -V3_E_NO_LEADER;
	} else if ((rv = members_refused(n, text, sizeof(text))) < 0) {
		char out[sizeof(text) + 8];
		snprintf(out, sizeof(out), "%d %s", rv == -V3_E_GORAFT ? GRPC_FAILED_PRECONDITION : GRPC_UNAVAILABLE,
			 text);
		httpd_reply_text(req, 409, out);
		return;
	} else {
		raft_index index;
		raft_term term;
		rv = propose_v3(n, body, len, NULL, &index, &term);
		if (rv == 0) {
			snprintf(text, sizeof(text), "%" PRIu64 " %" PRIu64, index, term);
			httpd_reply_text(req, 200, text);
			return;
		}
	}
	enum grpc_status code = v3_status(rv, &msg);
	snprintf(text, sizeof(text), "%d %s", (int)code, msg ? msg : "");
	httpd_reply_text(req, 503, text);
}

/* ---- reads ---------------------------------------------------------------------------- */

static void on_range(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_READ))
		return;
	struct v3_call *vc = vc_new(c, ETCD_RANGE);
	char err[256];
	if (!vc) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	int rv = etcd_decode(ETCD_RANGE, msg, len, &vc->req, err, sizeof(err));
	if (rv == -EBADMSG) {
		grpc_finish(c, GRPC_INVALID_ARGUMENT, err);
		vc_free(vc);
		return;
	}
	if (rv == 0)
		rv = etcd_check(&vc->req);
	if (rv == 0 && n->stopping)
		rv = -V3_E_STOPPING;
	if (rv < 0) {
		vc_answer(vc, rv, NULL);
		return;
	}
	struct read_wait w0 = { .v3 = vc };
	if (vc->req.serializable) {
		n->reads_local++;
		v3_read_serve(n, &w0, 0);
		return;
	}
	if (raft_role(n->r) != RAFT_LEADER) {
		const char *leader = raft_leader(n->r);
		struct npeer *p = leader[0] ? npeer_find(n, leader) : NULL;
		if (!p || !p->kind_known) {
			v3_read_serve(n, &w0, -V3_E_NO_LEADER);
			return;
		}
		if (p->goraft) {
			/* a goraft leader gives no read index (api.c,
			 * follower_read_refused()) */
			grpc_finish(c, GRPC_FAILED_PRECONDITION, "etcdserver: linearizable reads need a raftd leader "
				    "and a goraft node leads: read with serializable consistency");
			vc_free(vc);
			return;
		}
	}
	struct read_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		v3_read_serve(n, &w0, -ENOMEM);
		return;
	}
	w->id = ++n->next_read_id;
	w->since_ms = now_ms(n);
	w->v3 = vc;
	w->next = n->reads;
	n->reads = w;
	vc->state = V3_READ;
	vc->p = w;
	struct raft_event ev = { .type = RAFT_EV_READ, .read.id = w->id };
	rv = step_rv(n, &ev, NULL);
	if (rv < 0) {
		/* answered and freed already if the step failed it */
		for (struct read_wait **pp = &n->reads; *pp; pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				vc->state = V3_NONE;
				v3_read_serve(n, w, rv == -EOPNOTSUPP ? -V3_E_GORAFT : -V3_E_NO_LEADER);
				free(w);
				break;
			}
		}
		return;
	}
	serve_reads(n);
}

const struct grpc_method v3_kv_methods[] = {
	{ .path = "/etcdserverpb.KV/Range", .kind = GRPC_UNARY, .handle = on_range, .on_cancel = on_cancel },
	{ .path = "/etcdserverpb.KV/Put", .kind = GRPC_UNARY, .handle = on_put, .on_cancel = on_cancel },
	{ .path = "/etcdserverpb.KV/DeleteRange", .kind = GRPC_UNARY, .handle = on_delete, .on_cancel = on_cancel },
	{ .path = "/etcdserverpb.KV/Txn", .kind = GRPC_UNARY, .handle = on_txn, .on_cancel = on_cancel },
	{ .path = "/etcdserverpb.KV/Compact", .kind = GRPC_UNARY, .handle = on_compact, .on_cancel = on_cancel },
};
const size_t v3_kv_n_methods = sizeof(v3_kv_methods) / sizeof(v3_kv_methods[0]);
