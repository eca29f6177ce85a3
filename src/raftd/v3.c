/* src/raftd/v3.c — etcd's v3 API in the daemon: the gRPC server
 * (net/grpc.h) on --grpc-listen, its method table assembled from the
 * services' (v3_kv.c, v3_cluster.c, v3_maint.c), and what every handler
 * shares: the response header, errors as etcd words them, the reply.
 */
#include "src/raftd/v3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "src/etcd/etcd.h"
#include "src/raftd/log.h"
#include "src/raftd/node_int.h"

struct node *v3_node(struct grpc_call *call)
{
	return grpc_call_method(call)->data;
}

/* The cluster ID: etcd_member_id() of the name of the first member in
 * the configuration's order, which is the order of the log (the member
 * that started the cluster, then the joiners in the order their entries
 * were committed), and a snapshot keeps it. Every member that has applied
 * the same configuration answers the same ID without storing anything,
 * and a raftd cluster keeps its ID while its first member stays. etcd keeps
 * its ID for good; clients only show it. */
static uint64_t cluster_id(struct node *n)
{
	if (!raft_n_members(n->r))
		return 0;
	const char *first = raft_member_name(n->r, 0);
	return etcd_member_id(first, strlen(first));
}

void v3_header(struct node *n, struct etcd_header *h)
{
	*h = (struct etcd_header){
		.cluster_id = cluster_id(n),
		.member_id = etcd_member_id(n->name, strlen(n->name)),
		.revision = mvcc_revision(kv_mvcc_const(n->kv)),
		.raft_term = raft_current_term(n->r),
	};
}

enum grpc_status v3_status(int err, const char **ret_message)
{
	switch (-err) {
	/* etcd's words for these (etcdserver/api/v3rpc/rpctypes), which
	 * clientv3's retry logic recognises */
	case V3_E_NO_LEADER: *ret_message = "etcdserver: no leader"; return GRPC_UNAVAILABLE;
	case V3_E_LEADER_FAIL:
		*ret_message = "etcdserver: request timed out, possibly due to previous leader failure";
		return GRPC_UNAVAILABLE;
	case V3_E_TIMEOUT: *ret_message = "etcdserver: request timed out"; return GRPC_UNAVAILABLE;
	case V3_E_STOPPING: *ret_message = "etcdserver: server stopped"; return GRPC_UNAVAILABLE;
	case V3_E_TOO_LARGE: *ret_message = "etcdserver: request is too large"; return GRPC_INVALID_ARGUMENT;
	case V3_E_GORAFT:
		*ret_message = "etcdserver: raftd:v3 commands need every member to be raftd (a goraft node is a member)";
		return GRPC_FAILED_PRECONDITION;
	case ENOSPC: *ret_message = "etcdserver: mvcc: database space exceeded"; return GRPC_RESOURCE_EXHAUSTED;
	}
	*ret_message = NULL;
	return (enum grpc_status)etcd_status(err, ret_message);
}

void v3_fail(struct grpc_call *c, int err)
{
	const char *msg = NULL;
	enum grpc_status code = v3_status(err, &msg);
	grpc_finish(c, code, msg);
}

void v3_reply(struct grpc_call *c, uint8_t *buf, size_t len)
{
	if (!buf) {
		grpc_finish(c, GRPC_RESOURCE_EXHAUSTED, "etcdserver: out of memory");
		return;
	}
	grpc_reply(c, buf, len);
	free(buf);
}

bool v3_allowed(struct grpc_call *c, enum auth_class cls)
{
	struct node *n = v3_node(c);
	if (!n->auth.client_cert_auth)
		return true;
	char why[TLS_NAME_MAX + 256];
	unsigned status = auth_client(&n->auth, cls, grpc_call_method(c)->path, grpc_call_identity(c), why,
				      sizeof(why));
	if (!status)
		return true;
	/* etcd's codes: no (verified) certificate, or a role too small */
	grpc_finish(c, status == 401 ? GRPC_UNAUTHENTICATED : GRPC_PERMISSION_DENIED, why);
	return false;
}

static void on_tls_refused(void *data, const char *reason)
{
	(void)data;
	log_info("gRPC: %s", reason);
}

void v3_client_url(struct node *n, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!n->grpc)
		return;
	const char *host = n->cfg.grpc_host;
	struct url u;
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) {
		if (url_parse(n->url, URL_HTTPS, &u) < 0)
			return;
		host = u.host;
	}
	bool v6 = strchr(host, ':') != NULL;
	snprintf(buf, len, "%s://%s%s%s:%u", n->tls.client ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)grpc_port(n->grpc));
}

/* The store knows its leases (a put naming an unknown one is refused at
 * apply, as etcd's): the daemon adds only the leader's clock (v3_lease.c),
 * which every member needs ready, with or without a gRPC port (?ttl). */
void v3_store_init(struct node *n)
{
	if (v3_lease_init(n) < 0)
		log_error("the lease clock: out of memory: leases will not expire while this member leads");
}

/* The client port's certificates (as etcd's --cert-file serves both), or
 * NULL: cleartext. */
static const struct grpc_tls *grpc_tls_of(struct node *n, struct grpc_tls *buf)
{
	if (!n->tls.client)
		return NULL;
	*buf = (struct grpc_tls){
		.creds = n->tls.client,
		.client_trust = n->tls.client_trust,
		.client_cert_auth = n->cfg.client_cert_auth,
		.on_refused = on_tls_refused,
	};
	return buf;
}

void v3_reload_tls(struct node *n)
{
	struct grpc_tls t;
	if (n->grpc && grpc_tls_of(n, &t) && grpc_set_tls(n->grpc, &t) < 0)
		log_warning("gRPC: the reloaded certificates were not taken; the old ones stay");
}

int v3_start(struct node *n, char *err, size_t err_len)
{
	const struct config *cfg = &n->cfg;
	if (cfg->grpc_off)
		return 0;
	/* one line per service: v3_cluster.c and v3_maint.c add theirs */
	const struct {
		const struct grpc_method *m;
		size_t n;
	} services[] = {
		{ v3_kv_methods, v3_kv_n_methods },
		{ v3_cluster_methods, v3_cluster_n_methods },
		{ v3_maint_methods, v3_maint_n_methods },
		{ v3_lease_methods, v3_lease_n_methods },
		{ v3_watch_methods, v3_watch_n_methods },
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		total += services[i].n;
	struct grpc_method *table = calloc(total, sizeof(*table));
	if (!table) {
		snprintf(err, err_len, "grpc-listen: out of memory");
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		for (size_t j = 0; j < services[i].n; j++) {
			table[k] = services[i].m[j];
			table[k++].data = n;
		}
	}
	struct grpc_tls tls;
	struct grpc_config gc = {
		.listen_host = cfg->grpc_host,
		.port = cfg->grpc_port,
		.methods = table,
		.n_methods = total,
		.max_recv_msg = V3_MAX_REQUEST + V3_GRPC_OVERHEAD,
		.tls = grpc_tls_of(n, &tls),
	};
	char why[256];
	int rv = grpc_start(&n->loop, &gc, &n->grpc, why, sizeof(why));
	if (rv < 0) {
		free(table);
		snprintf(err, err_len, "grpc-listen %s:%u: %s (each node on a host needs its own port, or "
			 "--grpc-listen none)", cfg->grpc_host, (unsigned)cfg->grpc_port, why);
		return rv;
	}
	n->grpc_methods = table;
	log_info("serving etcd's v3 API (gRPC%s) on %s:%u", gc.tls ? " over TLS" : "", cfg->grpc_host,
		 (unsigned)grpc_port(n->grpc));
	if (!gc.tls && strcmp(cfg->grpc_host, "127.0.0.1") != 0 && strcmp(cfg->grpc_host, "::1") != 0)
		log_warning("serving etcd's v3 API on %s:%u without TLS or authentication: whoever reaches the "
			    "port can read and write every key (--cert-file)", cfg->grpc_host,
			    (unsigned)grpc_port(n->grpc));
	return 0;
}

void v3_stop(struct node *n)
{
	v3_watch_free(n); /* its streams end before the server cancels the rest */
	if (!n->grpc) {
		v3_lease_free(n);
		return;
	}
	grpc_stop(n->grpc); /* every call still waiting is cancelled (on_cancel) */
	v3_forward_free(n);
	n->grpc = NULL;
	free(n->grpc_methods);
	n->grpc_methods = NULL;
	v3_lease_free(n); /* after the calls: their streams are gone */
}
