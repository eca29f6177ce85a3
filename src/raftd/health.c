/* src/raftd/health.c — GET /health, as etcd's: 200 {"health":"true"} while
 * this node knows a leader and serves; 503 {"health":"false","reason":...}
 * otherwise, so a load balancer or `raftctl endpoint health` can tell a node
 * cut off from its cluster from one that works.
 */
#include "src/raftd/node_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Why this node is not healthy, or NULL. The order is what an operator
 * should fix first. */
static const char *unhealthy(struct node *n)
{
	if (n->stopping)
		return "stopping";
	if (wal_nospace(n->wal))
		return "NOSPACE alarm: the disk is full, writes are refused";
	if (raft_recovering(n->r))
		return "recovering: catching up after losing its log";
	if (!*raft_leader(n->r) || !raft_leader_recent(n->r))
		return "no leader";
	return NULL;
}

void on_health(struct httpd_request *req, void *data)
{
	struct node *n = data;
	const char *why = unhealthy(n);
	json_t *j = why ? json_pack("{s:s, s:s}", "health", "false", "reason", why)
			: json_pack("{s:s}", "health", "true");
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	if (!s) {
		httpd_reply_text(req, 500, "out of memory");
		return;
	}
	size_t l = strlen(s);
	s[l] = '\n'; /* json_dumps' NUL becomes the trailing newline */
	httpd_reply(req, why ? 503 : 200, "application/json", s, l + 1, NULL);
	free(s);
}
