/* src/raftctl/raftctl_client.h — what the online commands share: the endpoints,
 * the leader search, GET /status, and turning an HTTP answer into one line.
 *
 * Endpoints come from --endpoints, else $RAFTCTL_ENDPOINTS, else
 * http://127.0.0.1:4001 (comma-separated; forms of RC_URL_FORMS in raftctl_http.h).
 * rc_find_leader() asks each endpoint's /status: a node that is the leader is
 * taken at once; otherwise the leader a follower names is looked up in that
 * follower's member list and asked, so one endpoint of a cluster is enough.
 */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_CLIENT_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "src/raftctl/raftctl_http.h"

/* A node that answered /status: its connection (kept open) and the answer. */
struct rc_node {
	struct rc_conn conn;
	json_t *status; /* the /status object, owned */
};

#define RC_NODE_INIT { .conn.fd = -1 }

/* Safe on RC_NODE_INIT and after a failed open. */
void rc_node_free(struct rc_node *n);

/* Connects to one URL and reads its /status. 0, or -errno with err set
 * ("http://...: connect: Connection refused"). */
int rc_node_open(const char *url, struct rc_node *ret, char *err, size_t err_len);

/* The first endpoint that answers /status (for commands served by any
 * node). On failure err lists every endpoint's reason. */
int rc_any_node(struct rc_node *ret, char *err, size_t err_len);

/* The leader (see above). -EAGAIN with err "no leader ..." when nodes answer
 * but none leads (an election is going on, or no quorum). */
int rc_find_leader(struct rc_node *ret, char *err, size_t err_len);

/* Finds a node by member name or URL through any reachable endpoint. */
int rc_find_node(const char *name_or_url, struct rc_node *ret, char *err, size_t err_len);

/* A request to node n. The answer's status is checked: 2xx is 0; anything
 * else is -EPROTO with err "HTTP 400: raft.Server: Not current leader"
 * (the body's first line). */
int rc_call(struct rc_node *n, const struct rc_request *req, struct rc_response *ret, char *err, size_t err_len);

/* rc_find_leader() then rc_call() on it; when the leader changed in
 * between (its answer is goraft's 400 "Not current leader", or it went
 * away), finds the leader again and retries, up to `tries` times in all
 * (the requests raftctl sends are idempotent). *ret_leader (may be NULL)
 * gets the node that answered, to be freed by the caller. */
int rc_leader_call(const struct rc_request *req, int tries, struct rc_response *ret, struct rc_node *ret_leader,
		   char *err, size_t err_len);

/* Status fields, with defaults when absent. */
const char *rc_str(json_t *o, const char *key);
long long rc_int(json_t *o, const char *key);
/* An unsigned field (a term): printed with PRIu64, never as a negative. */
uint64_t rc_u64(json_t *o, const char *key);

/* The words `status` and `members` both use for member m of a /status
 * member list. Role: leader, follower, candidate, or learner (a member
 * without a vote); from the node's own status s when it answered (NULL:
 * not), else from the list ("-" when neither tells). Kind: raftd, goraft or
 * unknown. */
const char *rc_member_role(json_t *m, json_t *s, const char *leader);
const char *rc_member_kind(json_t *m, json_t *s);

/* Prints j as indented JSON and a newline; 0 or 1 (write error, or j
 * NULL). rc_emit() does the same and drops the caller's reference. */
int rc_print_json(json_t *j);
int rc_emit(json_t *j);

#endif
