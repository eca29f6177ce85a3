/* src/raftd/v3_cluster.c — etcd's Cluster service on raftd's membership:
 * MemberList, MemberAdd, MemberRemove, MemberUpdate, MemberPromote.
 *
 * A member's etcd ID is etcd_member_id() of its raftd name; its peerURLs
 * are its one raftd URL; isLearner is raftd's learner flag. What differs
 * from etcd, and why (docs/design.md, "etcd's v3 API"):
 * - MemberAdd carries no name (etcd names a member when it starts), raftd
 *   names every member in the log: the new member is named after its URL's
 *   HOST:PORT (http://10.0.0.4:4001 -> "10.0.0.4:4001"). Start the new node
 *   with that name (-name 10.0.0.4:4001 -advertise http://10.0.0.4:4001
 *   -join LEADER). Only one peer URL: raftd members have one.
 * - A learner is raftd's joining learner: the leader promotes it by itself
 *   once it has caught up (src/raft/raft.h), so MemberPromote is needed
 *   only to promote one sooner, and a learner not caught up is refused as
 *   etcd refuses it.
 * - MemberUpdate cannot change a member's URL (raftd has no such change in
 *   its log): the same URL is a success, another is FAILED_PRECONDITION
 *   with what to do instead (remove the member, add it again).
 * - clientURLs: each member's gRPC URL, as its /raftd/version tells its
 *   peers (empty until this node has asked, and for goraft members).
 * - Changes are made on the leader. A follower forwards them to the
 *   leader's raftd endpoint (/join?raftd=1, /leave, /raftd/promote, which
 *   answer once applied there) and answers once its own configuration
 *   shows the change; a voter added so joins as raftd's learner first (the
 *   only kind /join makes of a raftd node). Where that endpoint is not
 *   open to it (peers on their own port, a goraft leader, TLS roles), the
 *   follower refuses with etcd's not-leader code, naming the leader.
 *   MemberList is served by every member, from its own configuration, as
 *   etcd's.
 * - Every change waits until this node has applied its entry, then answers
 *   with the members as they are then, as etcd's do.
 */
#include "src/raftd/v3.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/rpc.pb-c.h"
#include "net/url.h"
#include "src/etcd/etcd.h"
#include "src/raftd/api_parse.h"
#include "src/raftd/log.h"
#include "src/raftd/node_int.h"

#define CHANGE_POLL_MS 10

/* etcd's statuses for membership errors (etcdserver/api/v3rpc/rpctypes) */
#define E_NOT_FOUND GRPC_NOT_FOUND, "etcdserver: member not found"
#define E_EXISTS GRPC_FAILED_PRECONDITION, "etcdserver: member ID already exist"
#define E_URL_EXISTS GRPC_FAILED_PRECONDITION, "etcdserver: Peer URLs already exists"
#define E_BAD_URLS GRPC_INVALID_ARGUMENT, "etcdserver: given member URLs are invalid"
#define E_NOT_STARTED GRPC_FAILED_PRECONDITION, "etcdserver: re-configuration failed due to not enough started members"
#define E_NOT_LEARNER GRPC_FAILED_PRECONDITION, "etcdserver: can only promote a learner member"
#define E_NOT_READY \
	GRPC_FAILED_PRECONDITION, "etcdserver: can only promote a learner member which is in sync with leader"

/* etcd's ClusterServer.header(): cluster_id, member_id and raft_term, no
 * revision (membership is not in the key space) */
static void fill_header(struct node *n, Etcdserverpb__ResponseHeader *h)
{
	struct etcd_header eh;
	v3_header(n, &eh);
	h->cluster_id = eh.cluster_id;
	h->member_id = eh.member_id;
	h->raft_term = eh.raft_term;
}

static void reply_pb(struct grpc_call *c, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf)
		protobuf_c_message_pack(m, buf);
	v3_reply(c, buf, len);
}

static uint64_t id_of(const char *name)
{
	return etcd_member_id(name, strlen(name));
}

/* ---- the member list -------------------------------------------------------------------- */

/* The members as etcd's Member messages, pointing into the core's strings
 * and the arrays given (room for RAFT_MAX_PEERS). */
struct member_list {
	Etcdserverpb__Member m[RAFT_MAX_PEERS];
	Etcdserverpb__Member *ptr[RAFT_MAX_PEERS];
	char *peer[RAFT_MAX_PEERS];
	char *client[RAFT_MAX_PEERS];
	char client_url[RAFT_URL_MAX + 16];
	size_t n;
};

static void member_fill(struct node *n, Etcdserverpb__Member *m, char **peer, const char *name, const char *url)
{
	*m = (Etcdserverpb__Member)ETCDSERVERPB__MEMBER__INIT;
	m->id = id_of(name);
	m->name = (char *)name;
	*peer = (char *)url;
	m->peerurls = peer;
	m->n_peerurls = 1;
	m->islearner = !raft_is_voter(n->r, name);
}

/* A member's clientURLs: this node's own, another's as its /raftd/version
 * said (none yet, a goraft node, a raftd node without gRPC: none). */
static void members_get(struct node *n, struct member_list *l)
{
	v3_client_url(n, l->client_url, sizeof(l->client_url));
	l->n = 0;
	for (size_t i = 0; i < raft_n_members(n->r) && l->n < RAFT_MAX_PEERS; i++) {
		const char *name = raft_member_name(n->r, i);
		Etcdserverpb__Member *m = &l->m[l->n];
		member_fill(n, m, &l->peer[l->n], name, raft_member_url(n->r, i));
		struct npeer *p = strcmp(name, n->name) ? npeer_find(n, name) : NULL;
		l->client[l->n] = !strcmp(name, n->name) ? l->client_url : p && !p->goraft ? p->grpc_url : NULL;
		if (l->client[l->n] && l->client[l->n][0]) {
			m->clienturls = &l->client[l->n];
			m->n_clienturls = 1;
		}
		l->ptr[l->n] = m;
		l->n++;
	}
}

static const char *member_by_id(struct node *n, uint64_t id)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++)
		if (id_of(raft_member_name(n->r, i)) == id)
			return raft_member_name(n->r, i);
	return NULL;
}

static const char *member_url(struct node *n, const char *name)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++)
		if (!strcmp(raft_member_name(n->r, i), name))
			return raft_member_url(n->r, i);
	return NULL;
}

static const char *member_with_url(struct node *n, const char *url)
{
	for (size_t i = 0; i < raft_n_members(n->r); i++)
		if (!strcmp(raft_member_url(n->r, i), url))
			return raft_member_name(n->r, i);
	return NULL;
}

static void on_member_list(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_READ))
		return;
	Etcdserverpb__MemberListRequest *req = etcdserverpb__member_list_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	etcdserverpb__member_list_request__free_unpacked(req, NULL);
	struct member_list l;
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__MemberListResponse r = ETCDSERVERPB__MEMBER_LIST_RESPONSE__INIT;
	members_get(n, &l);
	fill_header(n, &h);
	r.header = &h;
	r.members = l.ptr;
	r.n_members = l.n;
	reply_pb(c, &r.base);
}

/* ---- changes ---------------------------------------------------------------------------- */

enum change_op { OP_ADD, OP_REMOVE, OP_PROMOTE };

/* A change waiting to be proposed (another one is pending: the core takes
 * one at a time) or for its entry to be applied. */
struct change {
	struct node *n;
	struct grpc_call *call;
	enum change_op op;
	enum cmd_type type;
	char name[RAFT_NAME_MAX];
	char url[RAFT_URL_MAX];
	raft_index index; /* 0 until proposed */
	raft_term term;
	struct change_fwd *fwd; /* forwarded to the leader, its answer awaited */
	bool forwarded;         /* the leader applied it: until this node sees it */
	uint64_t deadline_ms;
	struct loop_timer timer;
};

/* A change a follower forwards to the leader's raftd endpoint: the request
 * body lives until the peer client releases it; the change may be gone
 * before the answer comes (ch NULL). */
struct change_fwd {
	struct change *ch;
	struct iovec iov;
	char path[64];
	char body[3 * RAFT_NAME_MAX + 2 * RAFT_URL_MAX + 64];
};

static void change_free(struct change *ch)
{
	loop_timer_cancel(&ch->n->loop, &ch->timer);
	if (ch->fwd)
		ch->fwd->ch = NULL;
	free(ch);
}

static void change_cancel(struct grpc_call *c)
{
	struct change *ch = grpc_call_user(c);
	if (ch)
		change_free(ch);
}

static void change_fail(struct change *ch, enum grpc_status st, const char *why)
{
	grpc_finish(ch->call, st, why);
	change_free(ch);
}

static void change_fail_err(struct change *ch, int err)
{
	v3_fail(ch->call, err);
	change_free(ch);
}

static void change_answer(struct change *ch)
{
	struct node *n = ch->n;
	struct member_list l;
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	members_get(n, &l);
	fill_header(n, &h);
	if (ch->op == OP_ADD) {
		Etcdserverpb__MemberAddResponse r = ETCDSERVERPB__MEMBER_ADD_RESPONSE__INIT;
		Etcdserverpb__Member m;
		char *peer;
		member_fill(n, &m, &peer, ch->name, ch->url);
		if (!raft_is_member(n->r, ch->name))
			m.islearner = ch->type == CMD_LEARNER; /* removed meanwhile: as it was added */
		r.header = &h;
		r.member = &m;
		r.members = l.ptr;
		r.n_members = l.n;
		reply_pb(ch->call, &r.base);
	} else if (ch->op == OP_REMOVE) {
		Etcdserverpb__MemberRemoveResponse r = ETCDSERVERPB__MEMBER_REMOVE_RESPONSE__INIT;
		r.header = &h;
		r.members = l.ptr;
		r.n_members = l.n;
		reply_pb(ch->call, &r.base);
	} else {
		Etcdserverpb__MemberPromoteResponse r = ETCDSERVERPB__MEMBER_PROMOTE_RESPONSE__INIT;
		r.header = &h;
		r.members = l.ptr;
		r.n_members = l.n;
		reply_pb(ch->call, &r.base);
	}
	change_free(ch);
}

/* A follower's answer: etcd's code for "not leader", with the leader's
 * name so that the operator knows where to send it. */
static void reply_not_leader(struct grpc_call *c, struct node *n)
{
	const char *leader = raft_leader(n->r);
	char why[RAFT_NAME_MAX + 200];
	if (!leader[0]) {
		v3_fail(c, -V3_E_NO_LEADER);
		return;
	}
	snprintf(why, sizeof(why), "etcdserver: not leader (this member cannot forward membership changes to "
		 "the leader: send it to %s's endpoint, ID %" PRIx64 ")", leader, id_of(leader));
	grpc_finish(c, GRPC_FAILED_PRECONDITION, why);
}

static void not_leader_fail(struct change *ch)
{
	reply_not_leader(ch->call, ch->n);
	change_free(ch);
}

/* Hands the change to the core as proposing a client's command does
 * (propose() in api.c, without an HTTP request to answer). 0 with
 * ch->index and ch->term set, or the core's refusal. */
static int change_propose(struct change *ch)
{
	struct node *n = ch->n;
	if (wal_nospace(n->wal))
		return -ENOSPC;
	if (ch->op == OP_ADD) {
		/* a raftd node, before its join is proposed (raft.h,
		 * PEER_KIND), as /join?raftd=1 does */
		struct raft_event pk = { .type = RAFT_EV_PEER_KIND, .peer_kind.name = ch->name,
					 .peer_kind.goraft = false };
		step(n, &pk, NULL);
	}
	struct cmd c = { .type = ch->type, .name = cmd_str_ref(ch->name, strlen(ch->name)) };
	if (ch->type != CMD_LEAVE)
		c.connection_string = cmd_str_ref(ch->url, strlen(ch->url));
	struct raft_entry e;
	rpc_cmd_entry(&c, raft_last_index(n->r) + 1, raft_current_term(n->r), &e);
	struct step_ctx ctx = { .cmds = &c };
	struct raft_event ev = { .type = RAFT_EV_PROPOSE, .propose.n = 1, .propose.entries = &e };
	int rv = step_rv(n, &ev, &ctx);
	raft_term t;
	if (rv == 0 && !(raft_entry_term(n->r, e.index, &t) && t == e.term))
		rv = -EPERM; /* not appended (the core stepped down meanwhile) */
	if (rv == 0) {
		ch->index = e.index;
		ch->term = e.term;
		log_info("v3 member %s: %s %s%s%s proposed at index %" PRIu64,
			 ch->op == OP_ADD ? "add" : ch->op == OP_REMOVE ? "remove" : "promote", cmd_type_name(ch->type),
			 ch->name, ch->url[0] ? " at " : "", ch->url, e.index);
	}
	return rv;
}

static void change_refused(struct change *ch, int rv)
{
	switch (rv) {
	case -EPERM: not_leader_fail(ch); break;
	case -ESHUTDOWN: change_fail_err(ch, -V3_E_STOPPING); break;
	case -ENOSPC: change_fail_err(ch, -ENOSPC); break;
	case -ENOENT: change_fail(ch, E_NOT_FOUND); break;
	case -EEXIST:
		if (ch->op == OP_PROMOTE)
			change_answer(ch); /* promoted by the leader meanwhile */
		else
			change_fail(ch, E_EXISTS);
		break;
	case -ENOTCONN: change_fail(ch, E_NOT_STARTED); break;
	case -EAGAIN: change_fail(ch, E_NOT_READY); break;
	case -EOPNOTSUPP:
		change_fail(ch, GRPC_FAILED_PRECONDITION,
			    ch->type == CMD_LEARNER ? "etcdserver: no learners while a goraft node is a member (goraft "
						      "has none): add it as a voter"
						    : "etcdserver: not possible while a goraft node is a member");
		break;
	case -EBUSY: change_fail_err(ch, -V3_E_TIMEOUT); break; /* waited for the other change in vain */
	default: change_fail(ch, GRPC_INTERNAL, strerror(-rv)); break;
	}
}

static int change_forward(struct change *ch);

/* Has this node's configuration caught up with a change the leader made? */
static bool change_visible(const struct change *ch)
{
	const struct raft *r = ch->n->r;
	if (ch->op == OP_ADD)
		return raft_is_member(r, ch->name);
	if (ch->op == OP_REMOVE)
		return !raft_is_member(r, ch->name);
	return raft_is_voter(r, ch->name);
}

/* Proposes the change when the core takes it, then waits for its entry to
 * be applied here; a timer tries again while another change is pending
 * (-EBUSY) and checks the apply, until WRITE_TIMEOUT_MS. A follower
 * forwards it to the leader instead, then waits until its own
 * configuration shows it. */
static void change_step(struct change *ch)
{
	struct node *n = ch->n;
	if (ch->fwd)
		return; /* the leader's answer comes */
	if (ch->forwarded) {
		if (change_visible(ch))
			change_answer(ch);
		else if (now_ms(n) >= ch->deadline_ms)
			change_fail_err(ch, -V3_E_TIMEOUT);
		else
			loop_timer_arm(&n->loop, &ch->timer, CHANGE_POLL_MS);
		return;
	}
	if (!ch->index) {
		if (raft_role(n->r) != RAFT_LEADER) {
			int rv = change_forward(ch);
			if (rv == -EAGAIN && now_ms(n) < ch->deadline_ms)
				loop_timer_arm(&n->loop, &ch->timer, CHANGE_POLL_MS);
			else if (rv == -EAGAIN)
				change_fail_err(ch, -V3_E_NO_LEADER);
			else if (rv < 0)
				not_leader_fail(ch);
			return;
		}
		int rv = change_propose(ch);
		if (rv == -EBUSY && now_ms(n) < ch->deadline_ms) {
			loop_timer_arm(&n->loop, &ch->timer, CHANGE_POLL_MS);
			return;
		}
		if (rv < 0) {
			change_refused(ch, rv);
			return;
		}
	}
	raft_term t;
	bool have = raft_entry_term(n->r, ch->index, &t);
	if (have && t != ch->term) {
		/* another leader's entry took its index */
		change_fail_err(ch, -V3_E_LEADER_FAIL);
	} else if (kv_applied_index(n->kv) >= ch->index) {
		change_answer(ch);
	} else if (now_ms(n) >= ch->deadline_ms) {
		change_fail_err(ch, -V3_E_TIMEOUT);
	} else {
		loop_timer_arm(&n->loop, &ch->timer, CHANGE_POLL_MS);
	}
}

/* The leader's answer to a forwarded change: its raftd endpoint's words
 * (members.c), as etcd's statuses. */
static void fwd_done(void *arg, int res, const uint8_t *body, size_t len)
{
	struct change_fwd *f = arg;
	struct change *ch = f->ch;
	if (!ch)
		return; /* the call is gone */
	f->ch = NULL;
	ch->fwd = NULL;
	char text[512];
	size_t l = body && len < sizeof(text) - 1 ? len : body ? sizeof(text) - 1 : 0;
	memcpy(text, body ? (const char *)body : "", l);
	text[l] = '\0';
	text[strcspn(text, "\n")] = '\0';
	if (res == 200) {
		ch->forwarded = true;
		change_step(ch);
	} else if (res < 0) {
		/* No answer in time (the peer client waits for a response
		 * head as briefly as goraft's): it may have been made. It is
		 * a success if this node sees it before the deadline. */
		log_debug("v3 member change forwarded to the leader: %s", strerror(-res));
		ch->forwarded = true;
		change_step(ch);
	} else if ((res == 400 && strstr(text, "Not current leader")) ||
		   (res == 503 && strstr(text, "in progress"))) {
		/* not made: to the new leader, or again, shortly */
		loop_timer_arm(&ch->n->loop, &ch->timer, CHANGE_POLL_MS);
	} else if (res == 404) {
		change_fail(ch, E_NOT_FOUND);
	} else if (res == 409 && strstr(text, "a voter already")) {
		change_fail(ch, E_NOT_LEARNER);
	} else if (res == 409 && strstr(text, "not caught up")) {
		change_fail(ch, E_NOT_READY);
	} else if (res == 409 && strstr(text, "a member already")) {
		change_fail(ch, E_EXISTS);
	} else if (res == 503 && strstr(text, "could not commit")) {
		change_fail(ch, E_NOT_STARTED);
	} else if (res == 503 && strstr(text, "NOSPACE")) {
		change_fail_err(ch, -ENOSPC);
	} else if (res == 401 || res == 403) {
		/* the leader takes membership changes from admins: this
		 * node's certificate is a member's */
		not_leader_fail(ch);
	} else {
		char why[600];
		snprintf(why, sizeof(why), "etcdserver: the leader refused (%d): %s", res, text);
		change_fail(ch, res == 409 ? GRPC_FAILED_PRECONDITION : GRPC_UNAVAILABLE, why);
	}
}

static void fwd_release(void *arg)
{
	free(arg);
}

/* Sends the change to the leader's raftd endpoint for it (POST /join?raftd=1,
 * /leave, /raftd/promote, which answer once it is applied there). 0;
 * -EAGAIN: no leader known; -EOPNOTSUPP: the leader cannot be asked (a
 * goraft node, or peers on their own port, which serves no /leave). */
static int change_forward(struct change *ch)
{
	struct node *n = ch->n;
	const char *leader = raft_leader(n->r);
	struct npeer *p = leader[0] ? npeer_find(n, leader) : NULL;
	if (!leader[0])
		return -EAGAIN;
	if (!p || !p->p || !p->kind_known || p->goraft || n->cfg.peer_port)
		return -EOPNOTSUPP;
	struct change_fwd *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	json_t *j = ch->op == OP_ADD ? json_pack("{s:s, s:s}", "name", ch->name, "connectionString", ch->url)
				     : json_pack("{s:s}", "name", ch->name);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text || strlen(text) >= sizeof(f->body)) {
		free(text);
		free(f);
		return -ENOMEM;
	}
	snprintf(f->body, sizeof(f->body), "%s", text);
	free(text);
	snprintf(f->path, sizeof(f->path), "%s",
		 ch->op == OP_ADD ? (ch->type == CMD_LEARNER ? "/join?raftd=1&learner=1" : "/join?raftd=1")
		 : ch->op == OP_REMOVE ? "/leave" : "/raftd/promote");
	f->iov = (struct iovec){ f->body, strlen(f->body) };
	f->ch = ch;
	struct peer_request req = { .method = "POST", .path = f->path, .content_type = "application/json",
				    .iov = &f->iov, .iovcnt = 1, .done = fwd_done, .release = fwd_release, .arg = f };
	if (peer_submit(p->p, &req) < 0) {
		free(f);
		return -EAGAIN; /* its queue is full, or it is going: again shortly */
	}
	ch->fwd = f;
	return 0;
}

static void change_timer(struct loop_timer *t)
{
	change_step((struct change *)((char *)t - offsetof(struct change, timer)));
}

static void change_start(struct grpc_call *c, enum change_op op, enum cmd_type type, const char *name,
			 const char *url)
{
	struct node *n = v3_node(c);
	struct change *ch = calloc(1, sizeof(*ch));
	if (!ch) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	ch->n = n;
	ch->call = c;
	ch->op = op;
	ch->type = type;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	snprintf(ch->url, sizeof(ch->url), "%s", url ? url : "");
	uint64_t deadline = grpc_call_deadline_ns(c);
	ch->deadline_ms = now_ms(n) + WRITE_TIMEOUT_MS;
	if (deadline != UINT64_MAX && deadline / 1000000 < ch->deadline_ms)
		ch->deadline_ms = deadline / 1000000;
	loop_timer_init(&ch->timer, change_timer);
	grpc_call_set_user(c, ch);
	change_step(ch);
}

/* The common refusals: a stopping node, no leader known. True when
 * answered. */
static bool change_refused_early(struct grpc_call *c)
{
	struct node *n = v3_node(c);
	if (n->stopping) {
		v3_fail(c, -V3_E_STOPPING);
		return true;
	}
	if (!raft_leader(n->r)[0]) {
		v3_fail(c, -V3_E_NO_LEADER);
		return true;
	}
	return false;
}

/* A peer URL raftd can hold for a new member: http://HOST:PORT, https://
 * when the cluster's peers speak TLS (as /join checks it). */
static bool peer_url_ok(struct node *n, const char *url)
{
	char why[256], plain[RAFT_URL_MAX + 8];
	if (strlen(url) >= RAFT_URL_MAX)
		return false;
	if (!config_peer_tls(&n->cfg))
		return api_url_check(url, why, sizeof(why));
	if (strncmp(url, "https://", 8) != 0)
		return false;
	snprintf(plain, sizeof(plain), "http://%s", url + 8);
	return api_url_check(plain, why, sizeof(why));
}

/* The name MemberAdd gives a new member: its URL's HOST:PORT (as the URL
 * is written), unique among members as their URLs are, and stable. */
static int name_from_url(const char *url, char *buf, size_t len)
{
	struct url u;
	if (url_parse(url, URL_HTTPS, &u) < 0 || strlen(u.hostport) >= len)
		return -EINVAL;
	snprintf(buf, len, "%s", u.hostport);
	return 0;
}

static void on_member_add(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_ADMIN))
		return;
	Etcdserverpb__MemberAddRequest *req = etcdserverpb__member_add_request__unpack(NULL, len, msg);
	char name[RAFT_NAME_MAX], url[RAFT_URL_MAX];
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	bool learner = req->islearner, ok = req->n_peerurls == 1 && peer_url_ok(n, req->peerurls[0]);
	if (ok) {
		snprintf(url, sizeof(url), "%s", req->peerurls[0]);
		ok = name_from_url(url, name, sizeof(name)) == 0;
	}
	etcdserverpb__member_add_request__free_unpacked(req, NULL);
	if (!ok) {
		grpc_finish(c, E_BAD_URLS); /* raftd members have one URL each */
		return;
	}
	if (change_refused_early(c))
		return;
	if (member_with_url(n, url)) {
		grpc_finish(c, E_URL_EXISTS);
		return;
	}
	if (raft_is_member(n->r, name)) {
		grpc_finish(c, E_EXISTS);
		return;
	}
	change_start(c, OP_ADD, learner ? CMD_LEARNER : CMD_JOIN, name, url);
}

static void on_member_remove(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_ADMIN))
		return;
	Etcdserverpb__MemberRemoveRequest *req = etcdserverpb__member_remove_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	uint64_t id = req->id;
	etcdserverpb__member_remove_request__free_unpacked(req, NULL);
	if (change_refused_early(c))
		return;
	const char *name = member_by_id(n, id);
	if (!name) {
		grpc_finish(c, E_NOT_FOUND);
		return;
	}
	change_start(c, OP_REMOVE, CMD_LEAVE, name, NULL);
}

static void on_member_promote(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_ADMIN))
		return;
	Etcdserverpb__MemberPromoteRequest *req = etcdserverpb__member_promote_request__unpack(NULL, len, msg);
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	uint64_t id = req->id;
	etcdserverpb__member_promote_request__free_unpacked(req, NULL);
	if (change_refused_early(c))
		return;
	const char *name = member_by_id(n, id);
	if (!name) {
		grpc_finish(c, E_NOT_FOUND);
		return;
	}
	if (raft_is_voter(n->r, name)) {
		grpc_finish(c, E_NOT_LEARNER);
		return;
	}
	change_start(c, OP_PROMOTE, CMD_JOIN, name, member_url(n, name));
}

/* raftd's log has no change of a member's URL: the same URL is etcd's
 * success, another one is refused with what to do instead. Answered by
 * every member (it changes nothing). */
static void on_member_update(struct grpc_call *c, const uint8_t *msg, size_t len)
{
	struct node *n = v3_node(c);
	if (!v3_allowed(c, AUTH_ADMIN))
		return;
	Etcdserverpb__MemberUpdateRequest *req = etcdserverpb__member_update_request__unpack(NULL, len, msg);
	char url[RAFT_URL_MAX] = "";
	if (!req) {
		v3_fail(c, -EBADMSG);
		return;
	}
	uint64_t id = req->id;
	bool one = req->n_peerurls == 1 && strlen(req->peerurls[0]) < sizeof(url);
	if (one)
		snprintf(url, sizeof(url), "%s", req->peerurls[0]);
	etcdserverpb__member_update_request__free_unpacked(req, NULL);
	const char *name = member_by_id(n, id);
	if (!name) {
		grpc_finish(c, E_NOT_FOUND);
		return;
	}
	if (!one || !peer_url_ok(n, url)) {
		grpc_finish(c, E_BAD_URLS);
		return;
	}
	const char *other = member_with_url(n, url);
	if (other && strcmp(other, name) != 0) {
		grpc_finish(c, E_URL_EXISTS);
		return;
	}
	if (!other) {
		char why[2 * RAFT_NAME_MAX + RAFT_URL_MAX + 200];
		snprintf(why, sizeof(why), "etcdserver: raftd cannot change the URL of a member (%s is at %s): remove "
			 "it (member remove %" PRIx64 "), then add it again at the new URL", name,
			 member_url(n, name), id);
		grpc_finish(c, GRPC_FAILED_PRECONDITION, why);
		return;
	}
	struct member_list l;
	Etcdserverpb__ResponseHeader h = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__MemberUpdateResponse r = ETCDSERVERPB__MEMBER_UPDATE_RESPONSE__INIT;
	members_get(n, &l);
	fill_header(n, &h);
	r.header = &h;
	r.members = l.ptr;
	r.n_members = l.n;
	reply_pb(c, &r.base);
}

const struct grpc_method v3_cluster_methods[] = {
	{ .path = "/etcdserverpb.Cluster/MemberAdd", .kind = GRPC_UNARY, .handle = on_member_add,
	  .on_cancel = change_cancel },
	{ .path = "/etcdserverpb.Cluster/MemberRemove", .kind = GRPC_UNARY, .handle = on_member_remove,
	  .on_cancel = change_cancel },
	{ .path = "/etcdserverpb.Cluster/MemberUpdate", .kind = GRPC_UNARY, .handle = on_member_update },
	{ .path = "/etcdserverpb.Cluster/MemberList", .kind = GRPC_UNARY, .handle = on_member_list },
	{ .path = "/etcdserverpb.Cluster/MemberPromote", .kind = GRPC_UNARY, .handle = on_member_promote,
	  .on_cancel = change_cancel },
};
const size_t v3_cluster_n_methods = sizeof(v3_cluster_methods) / sizeof(v3_cluster_methods[0]);
