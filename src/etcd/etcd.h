/* src/etcd/etcd.h — etcd's v3 KV messages <-> the MVCC store's requests
 * and results, and the raftd:v3 log payload.
 *
 * Pure: no I/O, no clock. The gRPC front end (src/raftd/v3*.c) decodes a
 * client's request with etcd_decode() (the gRPC method says its kind),
 * validates it with etcd_check(), proposes etcd_entry_payload()'s bytes as
 * a raftd:v3 entry, and every node decodes that entry with
 * etcd_decode_entry() when it applies it: the store sees the same request
 * on every node because it is built from the same bytes.
 *
 * Malformed protobuf is -EBADMSG with a reason ("invalid protobuf"),
 * never a crash. Enum values etcd's Go code has no name for are kept as
 * they are, as etcd keeps them: a sort order 7 is then refused by
 * etcd_check() (mvcc_check(): INVALID_ARGUMENT "etcdserver: invalid sort
 * option", as etcd), a compare target 9 or result 9 is evaluated as etcd's
 * apply does (target: compares 0 with 0; result: holds). A compare's
 * number or value is taken from target_union only when the union's case is
 * the target's (as etcd: a VERSION compare with create_revision set
 * compares against 0). Nested txns are bounded at ETCD_TXN_DEPTH_MAX
 * levels (etcd has no bound, but we recurse): deeper is -EBADMSG. A txn op
 * (RequestOp) with none of its requests set is -EBADMSG too: etcd 3.4's
 * apply dereferences a response it never made for it.
 */
#ifndef RAFTD_SRC_ETCD_ETCD_H
#define RAFTD_SRC_ETCD_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/mvcc/mvcc.h"

enum etcd_kind {
	ETCD_PUT = 'P',
	ETCD_DELETE = 'D',
	ETCD_TXN = 'T',
	ETCD_COMPACT = 'C',
	ETCD_RANGE = 'R',
	ETCD_LEASE_GRANT = 'G', /* LeaseGrantRequest; in the log as the leader completed it (Leases below) */
	ETCD_LEASE_REVOKE = 'X', /* LeaseRevokeRequest: a client's revoke and the leader's expiry alike */
};

/* Txns nested deeper than this (the outer txn is depth 1) are refused. */
#define ETCD_TXN_DEPTH_MAX 64
/* etcd's default --max-txn-ops. */
#define ETCD_MAX_TXN_OPS 128

/* A decoded request: op points into memory the request owns. */
struct etcd_req {
	enum etcd_kind kind;
	struct mvcc_op op; /* PUT, DELETE, TXN (op.type TXN), RANGE (op.type RANGE) */
	bool serializable; /* RANGE */
	int64_t compact_rev; /* COMPACT */
	bool physical; /* COMPACT */
	int64_t lease_id, lease_ttl; /* LEASE_GRANT (both), LEASE_REVOKE (lease_id) */
	void *priv; /* the unpacked protobuf and an arena */
};

/* Decodes one client request message of a kind (the gRPC method says
 * which). 0, -EBADMSG (invalid protobuf; err says why), -ENOMEM. Does NOT
 * run mvcc_check(): the caller does (etcd_check() below). *ret is zeroed
 * first; release it with etcd_req_free() whatever the return. The request
 * does not point into msg. */
int etcd_decode(enum etcd_kind kind, const uint8_t *msg, size_t len, struct etcd_req *ret, char *err,
		size_t err_len);
/* A raftd:v3 payload (kind byte + message). Same returns; a kind byte that
 * is not a write's ('R' included: reads are never logged) is -EBADMSG. */
int etcd_decode_entry(const uint8_t *payload, size_t len, struct etcd_req *ret, char *err, size_t err_len);
/* Accepts a zeroed one, and may be called twice. */
void etcd_req_free(struct etcd_req *req);
/* etcd's validation for a decoded request (mvcc_check() with etcd's
 * default max_txn_ops 128 for TXN; compaction rev checks are the store's).
 * 0 or -MVCC_E_*. */
int etcd_check(const struct etcd_req *req);

/* The raftd:v3 payload for a client's request message: the kind byte, then
 * msg as it is. malloc'ed into *ret_buf (the caller frees it). 0, -EINVAL
 * (kind is not a write's: PUT, DELETE, TXN, COMPACT, LEASE_GRANT,
 * LEASE_REVOKE), -ENOMEM. */
int etcd_entry_payload(enum etcd_kind kind, const uint8_t *msg, size_t len, uint8_t **ret_buf, size_t *ret_len);

struct etcd_header {
	uint64_t cluster_id, member_id;
	int64_t revision;
	uint64_t raft_term;
};
/* The response message for a request's result, malloc'ed into *ret_buf.
 * kind PUT/DELETE/TXN/RANGE: res from mvcc_exec()/mvcc_read().
 * COMPACT: res may be NULL (header only). LEASE_REVOKE: header only, its
 * revision res->revision (from mvcc_lease_revoke(), as etcd's apply puts
 * the store's revision after the revoke there) or h->revision when res is
 * NULL. 0 or -ENOMEM (-EINVAL for a kind that is none of these, LEASE_GRANT
 * included: etcd_lease_grant_response(), or a res of another type).
 *
 * The header is h's cluster_id, member_id and raft_term, and for
 * PUT/DELETE/TXN/RANGE the result's revision (res->revision: what etcd's
 * apply puts there and its hdr.fill() keeps; a node answering from its own
 * apply of an entry thus answers what the leader would), h->revision only
 * for COMPACT. Inside a TxnResponse each op's response has a header as
 * etcd 3.4's apply.go fills it: only a revision (the range's own; a put's
 * the txn's new revision; a delete's the new revision if it or an op
 * before it changed something, else the one the txn began at), and a
 * nested txn's header is empty. */
int etcd_encode_response(enum etcd_kind kind, const struct etcd_header *h, const struct mvcc_result *res,
			 uint8_t **ret_buf, size_t *ret_len);
/* The gRPC status and message etcd answers for an error from the store or
 * the codec (mvcc_grpc_code / mvcc_strerror, -EBADMSG -> INVALID_ARGUMENT). */
int etcd_status(int err, const char **ret_message);
/* etcd's member ID for a raftd member name (stable, nonzero): the 64-bit
 * FNV-1a hash of the name's bytes (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3); 1 if that is 0. The same name gives the same ID on every
 * node, in every release: clients keep member IDs across restarts. */
uint64_t etcd_member_id(const char *name, size_t len);

/* ---- Leases (src/etcd/lease.c) ----
 *
 * etcd_decode(), etcd_decode_entry() and etcd_entry_payload() take
 * ETCD_LEASE_GRANT (lease_ttl = TTL, lease_id = ID) and ETCD_LEASE_REVOKE
 * (lease_id = ID) like the other writes; etcd_check() passes them (etcd's
 * lease errors are the store's, at apply: mvcc_lease_grant()). A grant in
 * the log is as the LEADER completed it: ID != 0 (a free random positive
 * ID when the client gave 0) and the TTL raised to etcd's minimum, so that
 * every member applies the same lease. */

/* The raftd:v3 payload of a lease entry from its values, for the leader
 * that completed a client's grant: LEASE_GRANT (id, ttl) or LEASE_REVOKE
 * (id; ttl ignored). malloc'ed into *ret_buf. 0, -EINVAL (another kind),
 * -ENOMEM. */
int etcd_lease_payload(enum etcd_kind kind, int64_t id, int64_t ttl, uint8_t **ret_buf, size_t *ret_len);
/* LeaseGrantResponse {header, ID, TTL} (h->revision is the header's, as
 * etcd's apply: the store's revision, which a grant does not move),
 * malloc'ed into *ret_buf. 0 or -ENOMEM. */
int etcd_lease_grant_response(const struct etcd_header *h, int64_t id, int64_t ttl, uint8_t **ret_buf,
			      size_t *ret_len);

/* ---- Watch (etcdserverpb.Watch/Watch, src/etcd/watch.c) ----
 *
 * One WatchRequest message of the stream decodes into a plain struct; a
 * WatchResponse is written from the store's events (mvcc_event). Pure, as
 * the rest of the codec. The daemon (src/raftd/v3_watch.c) does the rest
 * of etcd's reading (v3rpc/watch.go): the watch ID to assign, the range
 * check, the start revision 0 meaning "from the next one". */
enum etcd_watch_kind {
	ETCD_WATCH_NONE,   /* no request in the union: etcd ignores it */
	ETCD_WATCH_CREATE,
	ETCD_WATCH_CANCEL,
	ETCD_WATCH_PROGRESS,
};

struct etcd_watch_req {
	enum etcd_watch_kind kind;
	/* CREATE. key as etcd reads it: an empty key is "\0" (the smallest
	 * key). end as the store takes it (mvcc.h): empty is the key alone,
	 * "\0" every key from key on, else [key, end). */
	const uint8_t *key;
	size_t key_len;
	const uint8_t *end;
	size_t end_len;
	int64_t start_revision;
	bool progress_notify, prev_kv, fragment;
	bool no_put, no_delete; /* filters (values without a name are ignored, as etcd) */
	/* CREATE: the client's ID (0: the server picks one); CANCEL: the
	 * watch to cancel */
	int64_t watch_id;
	void *priv;
};

/* 0, -EBADMSG (err says why), -ENOMEM. *ret is zeroed first; free it with
 * etcd_watch_req_free() whatever the return. */
int etcd_watch_decode(const uint8_t *msg, size_t len, struct etcd_watch_req *ret, char *err, size_t err_len);
/* Accepts a zeroed one, and may be called twice. */
void etcd_watch_req_free(struct etcd_watch_req *req);

/* A WatchResponse. Events are the store's (kv, and prev when prev_kv and
 * the event has one); or, instead, raw: the events already written by
 * etcd_watch_events_encode() (so that one revision's events are written
 * once for every watcher that gets them all). */
struct etcd_watch_resp {
	int64_t watch_id;
	bool created, canceled, fragment;
	int64_t compact_revision;
	const char *cancel_reason; /* NULL or "": none */
	const struct mvcc_event *events;
	size_t n_events;
	bool prev_kv;
	const uint8_t *raw;
	size_t raw_len;
};

/* h's four fields (revision as given). 0 or -ENOMEM. */
int etcd_watch_encode(const struct etcd_header *h, const struct etcd_watch_resp *r, uint8_t **ret_buf,
		      size_t *ret_len);
/* The bytes of events as WatchResponse's field 11 (each one a tag, a
 * length and an mvccpb.Event), malloc'ed. 0 or -ENOMEM. */
int etcd_watch_events_encode(const struct mvcc_event *evs, size_t n, bool prev_kv, uint8_t **ret_buf,
			     size_t *ret_len);
/* The size of one event in that field (tag and length included). */
size_t etcd_watch_event_size(const struct mvcc_event *ev, bool prev_kv);
/* The size etcd_watch_encode() would write for r (events or raw). */
size_t etcd_watch_size(const struct etcd_header *h, const struct etcd_watch_resp *r);
/* etcd's sendFragments() (v3rpc/watch.go), for a client that asked for
 * fragments: how many of r's events (not raw), from the first, go in the
 * next response when no response may reach limit bytes. With
 * r->fragment false (the first piece): all of them when the whole
 * response is below limit or has fewer than two events (it then goes as
 * it is, unflagged). Otherwise, and for the following pieces (the caller
 * passes the rest with r->fragment true), as many as keep the response,
 * flagged, below limit, and at least one. A piece that takes every event
 * left is the last: sent without the flag. */
size_t etcd_watch_fragment(const struct etcd_header *h, const struct etcd_watch_resp *r, size_t limit);

#endif
