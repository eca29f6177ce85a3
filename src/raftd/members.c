/* The membership endpoints: POST /join, POST /leave and POST
 * /raftd/promote, goraft's answers and raftd's, and the requests that wait
 * for their entry (docs/goraft-protocol.md §11.15, §11.20). */
#include "src/raftd/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftd/api_parse.h"
#include "src/raftd/log.h"

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

/* A member's URL is https:// exactly when this cluster's peers speak TLS:
 * a plain member among TLS ones could not be reached, nor reach them. */
static bool join_url_check(struct node *n, const char *url, char *why, size_t why_len)
{
	if (!config_peer_tls(&n->cfg))
		return api_url_check(url, why, why_len);
	if (strncmp(url, "https://", 8) != 0) {
		snprintf(why, why_len, "members of this cluster speak TLS: use https://HOST:PORT");
		return false;
	}
	char plain[RAFT_URL_MAX + 8];
	snprintf(plain, sizeof(plain), "http://%s", url + 8);
	return api_url_check(plain, why, why_len);
}

void on_join(struct httpd_request *req, void *data)
{
	struct node *n = data;
	struct cmd c;
	char why[RAFT_URL_MAX + RAFT_NAME_MAX + 2 * TLS_NAME_MAX + 320];
	if (!member_request(n, req, CMD_JOIN, &c))
		return;
	/* admin, or the joiner's own member certificate (auth.h) */
	struct auth_member members[RAFT_MAX_PEERS];
	size_t k = 0;
	for (size_t i = 0; i < raft_n_members(n->r) && k < RAFT_MAX_PEERS; i++)
		members[k++] = (struct auth_member){ raft_member_name(n->r, i), raft_member_url(n->r, i) };
	unsigned status = auth_join(&n->auth, httpd_identity(req), c.name.ptr, c.connection_string.ptr, members, k,
				    why, sizeof(why));
	if (status) {
		httpd_reply_text(req, status, why);
		cmd_free(&c);
		return;
	}
	const char *marker = httpd_query(req, "raftd"), *lmark = httpd_query(req, "learner");
	bool goraft = !(marker && !strcmp(marker, "1"));
	bool learner_only = !goraft && lmark && !strcmp(lmark, "1");
	char uwhy[256];
	if (c.connection_string.len >= RAFT_URL_MAX) {
		httpd_reply_text(req, 400, "join: connectionString is too long");
	} else if (!join_url_check(n, c.connection_string.ptr, uwhy, sizeof(uwhy))) {
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

void on_leave(struct httpd_request *req, void *data)
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
void on_promote(struct httpd_request *req, void *data)
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
