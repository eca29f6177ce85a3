/* src/raftd/v3.h — etcd's v3 API in the daemon (issue 19): what the
 * front end's files share (v3.c the server and the method table, v3_kv.c
 * KV, v3_cluster.c Cluster, v3_maint.c Maintenance).
 *
 * Private to src/raftd/: the gRPC server (net/grpc.h) is started by
 * node_open() from v3_start() and stopped by node_close() from v3_stop();
 * every handler gets its node from the method's data (grpc_call_method(call)->data).
 * The codec is src/etcd/etcd.h, the store src/kv/kv.h (kv_mvcc()).
 */
#ifndef RAFTD_SRC_RAFTD_V3_H
#define RAFTD_SRC_RAFTD_V3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/grpc.h"
#include "src/raftd/auth.h"

struct node;
struct etcd_header;

/* The method tables, one per service; v3.c assembles them (with the node
 * as each method's data, whatever data the entries here carry). */
extern const struct grpc_method v3_kv_methods[];
extern const size_t v3_kv_n_methods;
extern const struct grpc_method v3_cluster_methods[];
extern const size_t v3_cluster_n_methods;
extern const struct grpc_method v3_maint_methods[];
extern const size_t v3_maint_n_methods;
extern const struct grpc_method v3_lease_methods[];
extern const size_t v3_lease_n_methods;

/* The node a call's handler serves. */
struct node *v3_node(struct grpc_call *call);

/* Every response header: cluster_id (etcd_member_id() of the name of the
 * first member of the cluster's first configuration, as the log or the
 * snapshot holds it: the same on every member, see v3.c), member_id
 * (etcd_member_id() of this node's name), revision (the store's, at the
 * time of the call) and raft_term (the current term). */
void v3_header(struct node *n, struct etcd_header *h);
/* The daemon's own errors, beyond the store's (mvcc.h) and errno: the
 * statuses and messages etcd answers for them, so that clients retry. */
enum v3_error {
	V3_E_BASE = 8192,
	V3_E_NO_LEADER = V3_E_BASE, /* UNAVAILABLE "etcdserver: no leader" */
	V3_E_LEADER_FAIL,	    /* UNAVAILABLE "...possibly due to previous leader failure" */
	V3_E_TIMEOUT,		    /* UNAVAILABLE "etcdserver: request timed out" */
	V3_E_GORAFT,		    /* FAILED_PRECONDITION: a goraft node is a member */
	V3_E_STOPPING,		    /* UNAVAILABLE "etcdserver: server stopped" */
	V3_E_TOO_LARGE,		    /* INVALID_ARGUMENT "etcdserver: request is too large" */
	V3_E_END
};

/* etcd's --max-request-bytes default: a write whose entry would be larger
 * is refused (V3_E_TOO_LARGE), as etcd refuses a marshalled raft request
 * over it (processInternalRaftRequestOnce). The gRPC server takes messages
 * up to V3_MAX_REQUEST + V3_GRPC_OVERHEAD (etcd's grpcOverheadBytes), so
 * that such a write gets etcd's words, not the transport's limit. */
#define V3_MAX_REQUEST (3u << 19)
#define V3_GRPC_OVERHEAD (512u * 1024)

/* v3_kv.c: the error a follower answers for a write it forwarded to the
 * leader when the forward failed with the peer's -errno res (net/peer.h):
 * -V3_E_NO_LEADER where the request cannot have reached the leader,
 * -V3_E_TIMEOUT (the outcome is unknown) where it may have. */
int v3_forward_error(int res);

/* The gRPC status and message (static) for err, as v3_fail() sends them. */
enum grpc_status v3_status(int err, const char **ret_message);
/* Ends the call with etcd's status and message for an error of the store,
 * the codec (etcd_status()) or the daemon (enum v3_error, -ENOSPC). */
void v3_fail(struct grpc_call *c, int err);
/* Sends buf (len bytes) as the call's one response and frees it; buf NULL
 * (an encoder out of memory) ends the call with RESOURCE_EXHAUSTED. */
void v3_reply(struct grpc_call *c, uint8_t *buf, size_t len);

/* Whether the call's client may do what cls covers (auth.h: READ, WRITE,
 * ADMIN) under --client-cert-auth and [roles]; when not, the call is
 * ended (UNAUTHENTICATED or PERMISSION_DENIED, with the reason). */
bool v3_allowed(struct grpc_call *c, enum auth_class cls);
/* SIGHUP: the client port's reloaded certificates for new connections. */
void v3_reload_tls(struct node *n);

/* This node's gRPC URL as clients reach it (a wildcard listen address is
 * given as the host of the node's own raftd URL, https:// over TLS), or ""
 * without a gRPC server. Members tell each other theirs in /raftd/version. */
void v3_client_url(struct node *n, char *buf, size_t len);

/* Makes what the daemon keeps beside the store (the Lease service's state,
 * v3_lease.c) before any entry is applied: every member, with or without a
 * gRPC port, applies the same entries alike. Out of memory, leases
 * never expire on this member (said in the log). */
void v3_store_init(struct node *n);

/* Starts the gRPC server on --grpc-listen (nothing for "none"); 0 or
 * -errno with err filled. */
int v3_start(struct node *n, char *err, size_t err_len);
/* Cancels every call and stops the server; accepts a node without one. */
void v3_stop(struct node *n);

/* v3_watch.c: etcd's Watch service and the hub of watchers (the design is
 * at the top of v3_watch.c). */
extern const struct grpc_method v3_watch_methods[];
extern const size_t v3_watch_n_methods;
/* v3_watch_applied() and v3_watch_resync(), which the driver calls, are
 * in node_int.h. */
/* An internal watcher of one key from revision from (<= 0: the next one):
 * fn gets the events of each revision that changes it (n > 0; rev the
 * revision of the response), or n 0 and rev the compaction when from is
 * compacted, or n 0 and rev -1 when the node stops (the watcher is then
 * gone already). The events' views are valid during the call only. NULL when
 * out of memory. v3_watch_internal_cancel() ends it, from fn too. */
struct mvcc_event;
struct watcher;
typedef void v3_watch_fn(void *ctx, const struct mvcc_event *evs, size_t n, int64_t rev);
struct watcher *v3_watch_internal(struct node *n, const uint8_t *key, size_t key_len, int64_t from,
				  v3_watch_fn *fn, void *ctx);
void v3_watch_internal_cancel(struct node *n, struct watcher *w);
struct v3_watch_stats {
	uint64_t streams, watchers, unsynced; /* open now */
	uint64_t bytes; /* held for them: watchers, streams, held control responses */
	uint64_t events, responses; /* sent, in total */
	uint64_t blocked; /* times a stream's output was full (a watcher fell behind) */
	uint64_t compacted; /* watchers canceled with compact_revision */
	uint64_t fanout_deferred; /* fan-out steps that stopped at the budget, went on later */
	uint64_t fanout_dropped; /* times the fan-out queue was full (its watchers caught up from history) */
};
void v3_watch_stats(struct node *n, struct v3_watch_stats *ret);
/* Ends every watch (v3_stop()). */
void v3_watch_free(struct node *n);

#endif
