/* src/raftd/node_int.h — what the files of one raftd node share: struct node
 * and the functions that one of them calls in another.
 *
 * Private to src/raftd/{node,driver,peers,snapshots,api}.c (node.h is the
 * node's interface): every one of those files reads and writes the node's
 * state, and nothing outside them may come to depend on it. A function used
 * by one file only stays static there.
 */
#ifndef RAFTD_SRC_RAFTD_NODE_INT_H
#define RAFTD_SRC_RAFTD_NODE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/loop.h"
#include "net/grpc.h"
#include "net/http_server.h"
#include "net/peer.h"
#include "proto/command.h"
#include "proto/wire.h"
#include "src/kv/kv.h"
#include "src/raft/raft.h"
#include "src/raftd/auth.h"
#include "src/raftd/config.h"
#include "src/raftd/node.h"
#include "src/raftd/rpc.h"
#include "wal/wal.h"

#define WRITE_TIMEOUT_MS 10000     /* a client write not applied by then: 503 */
/* goraft log.go truncate(): what a write whose entry another leader replaced gets */
#define LOST_WRITE "command failed to be committed due to node failure"
#define RAFTD_PATH_VERSION "/raftd/version"
/* The line a follower adds to its refusal of a raftd joiner's /join:
 * "leader: URL" (api.c join_not_leader(), peers.c join_done()) */
#define JOIN_LEADER_HINT "leader: "

/* A member other than this node, and our HTTP client to it. */
struct npeer {
	char name[RAFT_NAME_MAX];
	char url[RAFT_URL_MAX];
	struct peer *p;
	struct node *node;
	bool kind_known, goraft, probing;
	bool kind_unreported; /* the core has not been told goraft yet */
	bool unreachable; /* logged as unreachable, not yet back */
	bool recheck; /* came back after being unreachable: probe its kind again */
	uint64_t probe_at_ms; /* next probe: of an unknown kind, or of a goraft peer */
	uint64_t removed_at_ms; /* left the configuration (0: a member) */
	char grpc_url[RAFT_URL_MAX + 16]; /* its etcd v3 client URL, from its /raftd/version ("": none) */
	bool left; /* out of the configuration since its grpc_url was learnt */
	struct npeer *next;
};

/* An incoming /raft request waiting for the core's response. */
struct rpc_wait {
	uint64_t req_id;
	uint64_t since_ms;
	struct httpd_request *req;
	struct rpc_wait *next;
};

/* A /join or /leave the core cannot take yet (-EBUSY: another membership
 * change is pending, or a new leader's first entry has not committed). It
 * waits, in arrival order, and is proposed as soon as the core takes it: a
 * goraft joiner ignores the answer to its /join (docs/goraft-protocol.md §7.3,
 * §11.10), so a refusal would leave it idle for good. */
struct member_wait {
	enum cmd_type type; /* CMD_JOIN, CMD_LEARNER or CMD_LEAVE */
	bool learner_only;  /* CMD_LEARNER asked for: no voter instead */
	char name[RAFT_NAME_MAX];
	char url[RAFT_URL_MAX];
	uint64_t since_ms;
	struct httpd_request *req;
	struct member_wait *next;
};

struct v3_call;
struct v3_fwd;

/* A client request waiting for its entry to be applied. */
struct write_wait {
	raft_index index;
	raft_term term;
	uint64_t since_ms;
	uint64_t since_ns; /* for commit_hist */
	/* the status when another leader's entry takes the index: goraft
	 * raftd answers every failed /db write 400 and a failed /join 500
	 * (its writeHandler and joinHandler) */
	unsigned lost_status;
	/* a join: answered once the core holds it as good as committed
	 * (raft_change_held()), which a goraft joiner needs to start serving */
	bool join;
	struct httpd_request *req;
	struct v3_call *v3; /* instead of req: a gRPC call (v3_kv.c) */
	struct write_wait *next;
};

/* A consistent read waiting for its ReadIndex, then for the apply. */
struct read_wait {
	uint64_t id;
	raft_index index; /* 0 until confirmed */
	uint64_t since_ms;
	struct httpd_request *req;
	struct v3_call *v3; /* instead of req and key: a gRPC Range (v3_kv.c) */
	char *key;
	size_t key_len;
	struct read_wait *next;
};

/* A peer's kind as probed: a raftd or a goraft node at that URL. */
struct kind_hint {
	char name[RAFT_NAME_MAX];
	char url[RAFT_URL_MAX];
	bool goraft;
};

/* POST /raftd/snapshot waiting for the snapshot to be durable. */
struct snap_wait {
	struct httpd_request *req;
	struct snap_wait *next;
};

struct seq_need {
	uint64_t seq;
	raft_index need; /* durable index that makes seq durable */
};

struct meta_need {
	uint64_t seq;
	raft_term term;
	char vote[RAFT_NAME_MAX];
};

/* What an APPEND with source RAFT_SRC_EVENT copies from. */
struct step_ctx {
	const struct wire_bytes *raw;     /* received AppendEntries entries */
	const struct cmd *cmds;           /* proposed commands */
	const struct wire_bytes *state;   /* SnapshotRecovery State */
};

/* The node's certificates (issue 18), each NULL when not configured. */
struct node_tls {
	struct tls_creds *client;      /* the client listener's certificate (and, on one port, the peers') */
	struct tls_creds *client_trust;
	struct tls_creds *peer;        /* the peer listener's (--peer-port) */
	struct tls_creds *peer_trust;
	struct tls_creds *peer_client; /* ours towards https:// members, with their CAs */
};

/* A route's handler behind the 401/403 of auth.h. */
struct auth_gate {
	struct node *node;
	httpd_handler handler;
	const char *path;   /* the route's, for reasons */
	bool peer_listener; /* on the peer listener: client paths are not served */
	bool client_listener_only; /* on the client listener of two: peer paths are not served */
	bool peer_route;    /* the route's `peer`: its identity is verified with the peer CAs */
};

/* A peer refusal logged lately: once per peer and reason a minute. */
struct peer_refusal {
	char key[160];
	uint64_t at_ms;
};

struct node {
	struct config cfg;
	char *name, *url;
	char dir_wal[4096], dir_snap[4096];
	struct loop loop;
	struct wal *wal;
	struct raft *r;
	struct kv *kv;
	struct httpd *http;
	struct httpd *peer_http; /* --peer-port: the peer listener; NULL: peers use http */
	struct grpc_server *grpc; /* etcd's v3 API (v3.c); NULL: --grpc-listen none */
	struct grpc_method *grpc_methods; /* its method table */
	struct v3_fwd *v3_fwds; /* v3 writes waiting for room in the leader's client */
	struct v3_lease *lease; /* the Lease service and the leader's lease clock (v3_lease.c) */
	size_t v3_fwds_n;
	struct v3_watch_hub *watch_hub; /* v3_watch.c; NULL until a first watcher */
	struct db_wait *db_waits; /* GET /db?wait=true (api.c), on the hub */
	struct loop_timer db_wait_timer; /* looks for their clients' hang-ups */
	struct node_tls tls;
	struct auth_policy auth;
	struct config_role *roles; /* [roles] of the last reload (the policy's), owned; NULL: cfg's */
	size_t n_roles;
	struct auth_gate gates[2][24];  /* [0] the client listener's routes, [1] the peer listener's */
	struct httpd_route routes[2][24];
	struct peer_refusal refusals[32];
	struct rpc_decoder dec;
	struct loop_timer tick;
	struct loop_hook flush_hook;
	int exit_status;
	bool stopping;
	/* The WAL holds a batch for ENOSPC (wal_nospace()): writes are refused
	 * with 503 NOSPACE until a retry gets it written. Said once. */
	bool nospace_said;
	/* RAFT_ACT_REFUSED lines, at most one a second per reason (a flood of
	 * forged requests must not flood the journal) */
	uint64_t refused_at_ms[8];
	uint64_t refused_quiet[8];
	bool recovering; /* as last logged */
	bool ran_before; /* DATA_DIR/snap or peer-kinds existed before this start */
	char recovering_path[4200]; /* DATA_DIR/recovering: lost data, not caught up */
	char started_path[4200];    /* DATA_DIR/started: this directory has held a log */

	struct npeer *peers;
	unsigned peers_alive; /* npeer structs not yet freed by peer_destroy */
	/* peers' kinds as last probed, kept in DATA_DIR/peer-kinds across
	 * restarts: a member down since we started is not "unknown" */
	struct kind_hint *hints;
	size_t n_hints;
	char hints_path[4200];

	/* the index and term of the entry the last step proposed (0: none) */
	raft_index last_proposed;
	raft_term last_proposed_term;

	uint64_t next_req_id;
	struct rpc_wait *rpc_waits;
	struct write_wait *writes, **writes_tail;
	unsigned joins_waiting; /* joins among them, at least (answer_held_joins) */
	struct member_wait *member_waits;
	struct read_wait *reads;
	uint64_t next_read_id;

	/* durability bookkeeping between core seqs and the WAL */
	struct seq_need *needs;
	size_t needs_head, needs_len, needs_cap;
	struct meta_need *metas;
	size_t metas_len, metas_cap;
	uint64_t persisted_seq, durable_seq;

	/* the last entry in the log that a goraft node must not get (0:
	 * none): while there is one, no goraft node may join */
	raft_index raftd_only_last;

	/* events for the core, reported once the current update is carried out */
	raft_index applied_pending;
	bool snap_failed;
	/* a failed snapshot is reported (and so retried by the core) no sooner
	 * than snap_retry_ms; the wait doubles per failure in a row */
	uint64_t snap_retry_ms;
	unsigned snap_backoff_ms;

	/* Applying: the core's APPLY ranges end at apply_to; the map is applied
	 * a slice at a time, one per event-loop pass (apply_timer, armed for
	 * the next pass while behind), so a node catching up on a long log
	 * still answers peers, heartbeats and health checks meanwhile. */
	raft_index apply_to;
	struct loop_timer apply_timer;
	/* TAKE_SNAPSHOT at an index the map has not reached yet: taken when
	 * it gets there (the slice stops at it). Members copied: the core's
	 * strings live only until its next step. */
	bool snap_deferred;
	raft_index snap_deferred_index;
	raft_term snap_deferred_term;
	size_t snap_deferred_n;
	struct raft_member_info snap_deferred_members[RAFT_MAX_PEERS];
	char snap_deferred_strs[RAFT_MAX_PEERS][RAFT_NAME_MAX + RAFT_URL_MAX];

	/* snapshots */
	pid_t snap_pid;
	int snap_pidfd;
	struct loop_poll snap_poll;
	raft_index snap_taking_index, snap_taking_term;
	/* the snapshot kv_snapshot_save() keeps as a fallback (the one before
	 * the newest; 0: none): the log keeps every entry after it */
	raft_index snap_prev_index;
	raft_index snap_disk_index, snap_disk_term; /* the newest on disk */
	bool snap_admin;        /* the running snapshot is POST /raftd/snapshot's */
	bool core_snap_blocked; /* the core asked for one meanwhile */
	struct snap_wait *snap_waits;

	/* POST /raftd/transfer waiting for the handover */
	struct httpd_request *transfer_req;
	char transfer_to[RAFT_NAME_MAX];
	uint64_t transfer_since_ms, transfer_down_ms;
	/* SIGTERM on a leader: handing leadership over before stopping (since
	 * then, 0: not) */
	uint64_t handover_since_ms;
	/* our latest snapshot's file, for SNAPREC: open, and mapped only while
	 * a request is built (its bytes are copied into it), so the heap does
	 * not hold a second copy of the map for a follower that may never
	 * need it (-1: none) */
	int snap_state_fd;
	size_t snap_state_len;
	raft_index snap_state_index;

	/* joining a cluster (-join) */
	struct peer *join_peer;
	bool joined;
	uint64_t join_at_ms;
	bool join_inflight;
	char join_body[6 * (RAFT_NAME_MAX + RAFT_URL_MAX) + 64]; /* Go's escapes: up to 6 bytes a byte */
	struct iovec join_iov;
	/* whom join_peer asks: the -join address (join_home) or a leader a
	 * follower named; join_next is the one to ask next, join_hops the
	 * hints followed since join_home was last asked */
	char join_home[RAFT_URL_MAX + 16], join_url[RAFT_URL_MAX + 16], join_next[RAFT_URL_MAX + 16];
	unsigned join_hops;

	/* for STATUS= and the log's context */
	enum raft_role last_role;
	raft_term last_term;
	char last_leader[RAFT_NAME_MAX];

	/* watchdog: WATCHDOG=1 only while the disk makes progress; a stall
	 * (no completion for wal_stall_ms) is logged at its start and end */
	uint64_t watchdog_usec, watchdog_sent_ms, disk_progress_ms;
	bool disk_stalled;
	uint64_t stall_began_ms;
	raft_index status_commit; /* commit index of the last STATUS= */

	/* metrics */
	uint64_t writes_applied, writes_failed, reads_local, reads_consistent;
	uint64_t rpcs_in, rpcs_out, ae_entries_out, entry_bytes_out;
	uint64_t wal_batches;
	struct hist commit_hist; /* a client write: proposed to committed */
	struct hist apply_hist;  /* one slice of committed entries applied */
	raft_index commit_hist_upto; /* writes up to here are in commit_hist */
	uint64_t leader_changes;
	raft_term leader_seen_term; /* UINT64_MAX: no leader seen yet */
	uint64_t start_time_ns;     /* CLOCK_REALTIME at start */
};

static inline uint64_t now_ms(struct node *n)
{
	return loop_now_ms(&n->loop);
}

/* driver.c */
void on_wal_durable(void *ctx, uint64_t index);
void on_wal_meta(void *ctx, uint64_t term, const char *vote);
void on_wal_compacted(void *ctx, uint64_t first);
void fatal_stop(struct node *n, const char *why);
void on_wal_error(void *ctx, const struct wal_error *e);
int entry_meta(const struct wal_entry *we, struct raft_entry *re, char **ret_name, char **ret_url,
	       bool *ret_goraft, char *err, size_t err_len);
void reply_read(struct node *n, struct httpd_request *req, const void *key, size_t key_len);
void serve_reads(struct node *n);
void on_apply_timer(struct loop_timer *t);
void report_deferred(struct node *n);
int step_propose(struct node *n, struct raft_event *ev, const struct step_ctx *ctx, struct write_wait *w);
int step_rv(struct node *n, struct raft_event *ev, const struct step_ctx *ctx);
void step(struct node *n, struct raft_event *ev, const struct step_ctx *ctx);
void fail_writes_from(struct node *n, raft_index from, unsigned status, const char *why);
void answer_held_joins(struct node *n);
struct write_wait *write_wait_new(struct node *n, struct httpd_request *req, enum raft_entry_type type);
/* Queues w in n->writes, which stays in index order. */
void writes_queue(struct node *n, struct write_wait *w);

/* peers.c */
struct npeer *npeer_find(struct node *n, const char *name);
void send_request(struct node *n, const char *to, const struct raft_msg *m);
void hints_load(struct node *n);
void npeer_gone(void *arg);
void share_peer_addrs(struct node *n);
/* A reload's certificates for every https:// member: a struct peer keeps
 * the credentials it was made with, so each client is made again; what
 * the old one had in flight is cancelled, a lost message Raft retries. */
void peers_renew_tls(struct node *n);
void sync_peers(struct node *n);
void join_try(struct node *n);
/* The join client for url (-join's, or a leader a follower named). */
int join_peer_create(struct node *n, const char *url);

/* snapshots.c */
int load_snap_state(struct node *n, raft_index index, raft_term term);
void take_snapshot(struct node *n, const struct raft_action *a);
void take_deferred_snapshot(struct node *n);
void report_snap_failed(struct node *n);
void on_snapshot_post(struct httpd_request *req, void *data);
void on_snapshot_get(struct httpd_request *req, void *data);
int create_durable(const char *path, const char *dir);
int rebase_wal(struct node *n, char *err, size_t err_len);

/* api.c */
void send_response(struct node *n, const struct raft_msg *m);
bool refuse_stopping(struct node *n, struct httpd_request *req);
/* Answers 200 with j as json_dumps(j, flags) and a newline (500 when j is
 * NULL: jansson could not build it); takes j. Every JSON raftd writes goes
 * through jansson, or the Go-exact encoder where goraft reads it. */
void reply_json(struct httpd_request *req, json_t *j, size_t flags);
unsigned extensions_refused(struct node *n, const char *what, char *msg, size_t len);
void transfer_check(struct node *n);
/* The routes of the client listener (peer_listener false; with one port
 * every route) or of the peer listener (--peer-port). */
const struct httpd_route *routes_for(struct node *n, bool peer_listener, size_t *ret_n);
/* Logs a refused peer request, once per peer and reason a minute. */
void peer_refused_log(struct node *n, const struct tls_identity *id, const char *claimed, const char *why);
/* On a node that does not lead: the answer goraft gives (or a redirect
 * with --forward-writes) is sent, and true returned. */
bool not_leader(struct node *n, struct httpd_request *req);
/* Hands a client's command to the core; 0 when the request waits for it. */
int propose(struct node *n, struct httpd_request *req, const struct cmd *c);
void reply_propose_error(struct httpd_request *req, int rv);

/* members.c */
void on_join(struct httpd_request *req, void *data);
void on_leave(struct httpd_request *req, void *data);
void on_promote(struct httpd_request *req, void *data);
void member_waits_run(struct node *n);

/* metrics.c */
void on_metrics(struct httpd_request *req, void *data);

/* health.c */
void on_health(struct httpd_request *req, void *data);

/* node.c */
void notify_status(struct node *n);

/* v3_kv.c: etcd's KV service */
/* Applies a raftd:v3 entry and answers the call that waits for it. 0 or a
 * negative errno that stops the node. */
int v3_apply(struct node *n, raft_index index, raft_term term, const uint8_t *payload, size_t len);
/* v3_watch.c: after every applied entry that moved the store's revision
 * (the synced watchers get its events), and after the store was replaced
 * (every watcher catches up from the history, or gets compact_revision). */
void v3_watch_applied(struct node *n);
void v3_watch_resync(struct node *n);
/* Ends a write's or a read's call with err (a read: err 0 serves it); the
 * waiter itself is the caller's to unlink and free. */
void v3_write_fail(struct node *n, struct write_wait *w, int err);
void v3_read_serve(struct node *n, struct read_wait *w, int err);
/* Sends the forwarded writes waiting for room in the leader's client (each
 * tick); frees them when the node stops (after the calls are cancelled). */
void v3_forward_drain(struct node *n);
void v3_forward_free(struct node *n);
/* POST /raftd/propose: a follower's v3 write, on the leader */
void on_v3_propose(struct httpd_request *req, void *data);

/* v3_kv.c, for the Lease service: a write's call (Grant, Revoke) through
 * the KV write path, its on_cancel, and a payload proposed on the leader
 * with no call waiting (an expired lease's revoke, ?ttl's grant): 0 or a
 * -errno / -V3_E_* */
void v3_write(struct grpc_call *c, int kind, const uint8_t *msg, size_t len);
void v3_write_cancel(struct grpc_call *c);
int v3_propose_payload(struct node *n, const uint8_t *payload, size_t len);

/* v3_lease.c: etcd's Lease service and the leader's lease clock */
struct v3_lease;
/* The node's lease state (v3_store_init()), freed by v3_stop(). */
int v3_lease_init(struct node *n);
void v3_lease_free(struct node *n);
/* This node became leader (every lease's expiry: now + TTL + election
 * timeout) or stopped leading (the clock is dropped). */
void v3_lease_role_changed(struct node *n);
/* An applied grant (entry of term) or revoke, on every member. */
void v3_lease_granted(struct node *n, int64_t id, int64_t ttl, raft_term term);
void v3_lease_revoked(struct node *n, int64_t id);
/* The leader completes a 'G' payload before proposing it: the ID picked
 * when 0, the TTL raised to etcd's minimum. 0 with *ret (malloc'ed), or
 * -MVCC_E_LEASE_TTL_TOO_LARGE, -MVCC_E_LEASE_EXISTS, -EBADMSG, -ENOMEM. */
int v3_lease_complete(struct node *n, const uint8_t *payload, size_t len, uint8_t **ret, size_t *ret_len);
/* Answers an applied grant or revoke (kind 'G' or 'X'). */
void v3_lease_answer(struct grpc_call *c, struct node *n, int kind, int64_t id, int64_t ttl);
/* POST /raftd/lease/...: a follower's keep-alives and TimeToLive, on the leader */
void on_v3_lease_peer(struct httpd_request *req, void *data);
/* POST /db/KEY?ttl=SECONDS on the leader: grant, then put with the lease;
 * req is answered. */
void v3_lease_db_put(struct node *n, struct httpd_request *req, const void *key, size_t key_len, const void *value,
		     size_t value_len, int64_t ttl);

/* security.c */
int node_tls_load(const struct config *cfg, struct node_tls *ret, char *err, size_t err_len);
void node_tls_free(struct node_tls *t);
/* The TLS settings of the client listener or of the peer listener (in
 * *buf); NULL when that listener serves plain HTTP. */
const struct httpd_tls *listener_tls(const struct node_tls *t, bool peer_listener, struct httpd_tls *buf);
/* SIGHUP: fresh's certificates replace the node's, all or none; false
 * when they were kept (the reason is logged, naming the file). */
bool reload_tls(struct node *n, struct config *fresh);
void warn_unprotected(struct node *n);

#endif
