/* src/mvcc/mvcc.h — the multi-version key-value store behind etcd's v3 API.
 *
 * Pure: no I/O, no clock, no randomness. The daemon applies one committed
 * entry at a time (mvcc_exec()), reads serve from the same store
 * (mvcc_read()), and a snapshot is the list of every stored version
 * (mvcc_iter_versions(), mvcc_restore_*()) and of the leases
 * (mvcc_lease_iter(), mvcc_restore_lease()).
 *
 * Semantics are etcd's (mvcc/kvstore.go, etcdserver/apply.go, v3rpc/key.go):
 * - The store has a revision that starts at 1 and grows by one per write
 *   transaction that changes something (a Txn with several puts is one
 *   revision; its changes get sub-revisions 0, 1, ...). A delete that
 *   deletes nothing and a read-only Txn leave it as it is.
 * - Each key has create_revision, mod_revision, version (1 when created, +1
 *   per put, gone with the key on delete) and lease. A delete leaves a
 *   tombstone in the history; the next put starts a new generation.
 * - History is kept until mvcc_compact(rev): then of each key only the
 *   newest version at or below rev stays (none if that is a tombstone), and
 *   reads below rev fail with MVCC_E_COMPACTED. Reading at rev itself works.
 * - Validation of a request (empty key, value or lease given with
 *   ignore_*, duplicate keys in a txn, sort options) is mvcc_check(): a pure
 *   function of the request that the front end calls before proposing, and
 *   that mvcc_exec() repeats, so every node refuses the same entries.
 *
 * Keys and values are byte strings (NULs allowed, empty allowed below
 * mvcc_check(): goraft's /db keys go in as they are). A NULL pointer is
 * accepted wherever its length is 0.
 *
 * Views. Results point into the store (no copy of keys or values): a view
 * stays valid until the next mvcc_compact() (or step), mvcc_free() or restore; later
 * writes do not move it. Results themselves are allocated in an arena owned
 * by the struct mvcc_result: release it with mvcc_result_free().
 *
 * Atomicity. mvcc_exec() either applies the whole operation or changes
 * nothing, whatever the error, -ENOMEM included (the changes made so far
 * are rolled back), so a node that runs out of memory can stop with its
 * store still equal to the last applied entry.
 *
 * Not thread-safe; one owner. Reads never modify the store, so a forked
 * child can iterate it while the parent goes on.
 */
#ifndef RAFTD_SRC_MVCC_MVCC_H
#define RAFTD_SRC_MVCC_MVCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Errors ----
 *
 * Every function returns 0 or a negative code: -ENOMEM, -E2BIG (a key or
 * value over MVCC_LEN_MAX), -EINVAL (a malformed restore), or -MVCC_E_* for
 * etcd's errors. mvcc_strerror() gives etcd's message as its clients see it
 * (the gRPC status message, "etcdserver: ..."), mvcc_grpc_code() the gRPC
 * status code etcd answers with, so clients' retry logic works. */
enum mvcc_error {
	MVCC_E_BASE = 4096, /* above every errno */
	MVCC_E_COMPACTED = MVCC_E_BASE, /* OUT_OF_RANGE */
	MVCC_E_FUTURE_REV,		/* OUT_OF_RANGE */
	MVCC_E_EMPTY_KEY,		/* INVALID_ARGUMENT */
	MVCC_E_KEY_NOT_FOUND,		/* INVALID_ARGUMENT */
	MVCC_E_VALUE_PROVIDED,		/* INVALID_ARGUMENT */
	MVCC_E_LEASE_PROVIDED,		/* INVALID_ARGUMENT */
	MVCC_E_DUPLICATE_KEY,		/* INVALID_ARGUMENT */
	MVCC_E_TOO_MANY_OPS,		/* INVALID_ARGUMENT */
	MVCC_E_INVALID_SORT,		/* INVALID_ARGUMENT */
	MVCC_E_LEASE_NOT_FOUND,		/* NOT_FOUND */
	MVCC_E_LEASE_EXISTS,		/* FAILED_PRECONDITION */
	MVCC_E_LEASE_TTL_TOO_LARGE,	/* OUT_OF_RANGE */
	MVCC_E_END
};
const char *mvcc_strerror(int err);
/* gRPC status codes (grpc/status.h numbering): 0 for 0, 3 INVALID_ARGUMENT,
 * 5 NOT_FOUND, 9 FAILED_PRECONDITION, 11 OUT_OF_RANGE, 8 RESOURCE_EXHAUSTED for -ENOMEM and -E2BIG,
 * 13 INTERNAL for anything else. */
int mvcc_grpc_code(int err);

#define MVCC_LEN_MAX (UINT32_C(1) << 30)

/* ---- Requests (the front end fills them from etcd's protobufs; enum values
 * are etcd's field values) ---- */

enum mvcc_sort_order { MVCC_SORT_NONE = 0, MVCC_SORT_ASCEND = 1, MVCC_SORT_DESCEND = 2 };
enum mvcc_sort_target {
	MVCC_SORT_KEY = 0,
	MVCC_SORT_VERSION = 1,
	MVCC_SORT_CREATE = 2,
	MVCC_SORT_MOD = 3,
	MVCC_SORT_VALUE = 4,
};

/* An interval of keys as etcd gives it: end_len 0 is the key alone; end
 * "\0" (one zero byte) is every key >= key; otherwise [key, end) (empty
 * when end <= key). Prefixes are computed by the caller (etcdctl sends the
 * prefix with its last byte incremented). */
/* etcd's prefix end (clientv3.GetPrefixRangeEnd), for clients of the store
 * such as raftctl's get --prefix: the prefix with its last byte below 0xff
 * incremented and what follows dropped; "\0" (every key from the prefix
 * on) when all its bytes are 0xff or it is empty. Writes into buf (room for
 * len bytes, at least 1) and returns the end's length. */
size_t mvcc_prefix_end(const void *prefix, size_t len, uint8_t *buf);

struct mvcc_range_req {
	const void *key;
	size_t key_len;
	const void *end;
	size_t end_len;
	int64_t limit;	  /* 0: none */
	int64_t revision; /* <= 0: the current revision */
	enum mvcc_sort_order sort_order;
	enum mvcc_sort_target sort_target;
	bool keys_only, count_only;
	int64_t min_mod, max_mod, min_create, max_create; /* 0: no filter */
};

struct mvcc_put_req {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	int64_t lease;
	bool prev_kv, ignore_value, ignore_lease;
};

struct mvcc_delete_req {
	const void *key;
	size_t key_len;
	const void *end;
	size_t end_len;
	bool prev_kv;
};

enum mvcc_cmp_target {
	MVCC_CMP_VERSION = 0,
	MVCC_CMP_CREATE = 1,
	MVCC_CMP_MOD = 2,
	MVCC_CMP_VALUE = 3,
	MVCC_CMP_LEASE = 4,
};
enum mvcc_cmp_result { MVCC_CMP_EQUAL = 0, MVCC_CMP_GREATER = 1, MVCC_CMP_LESS = 2, MVCC_CMP_NOT_EQUAL = 3 };

/* A compare holds when it holds for every key in its interval; on an empty
 * interval a VALUE compare fails and the others compare against 0. */
struct mvcc_compare {
	enum mvcc_cmp_target target;
	enum mvcc_cmp_result result;
	const void *key;
	size_t key_len;
	const void *end;
	size_t end_len;
	int64_t number; /* VERSION, CREATE, MOD, LEASE */
	const void *value; /* VALUE */
	size_t value_len;
};

enum mvcc_op_type { MVCC_OP_RANGE, MVCC_OP_PUT, MVCC_OP_DELETE, MVCC_OP_TXN };

struct mvcc_txn_req;

struct mvcc_op {
	enum mvcc_op_type type;
	union {
		struct mvcc_range_req range;
		struct mvcc_put_req put;
		struct mvcc_delete_req del;
		const struct mvcc_txn_req *txn;
	};
};

struct mvcc_txn_req {
	const struct mvcc_compare *compare;
	size_t n_compare;
	const struct mvcc_op *success;
	size_t n_success;
	const struct mvcc_op *failure;
	size_t n_failure;
};

/* ---- Results ---- */

/* One key at one revision. value is NULL (value_len 0) for keys_only. */
struct mvcc_kv {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};

struct mvcc_range_resp {
	struct mvcc_kv *kvs;
	size_t n_kvs;
	int64_t count; /* keys in the interval at the revision, before min/max filters (as etcd) */
	bool more;     /* kvs was cut at limit */
	int64_t revision; /* its own header's (etcd fills it inside a txn too): the
			     store's revision as the range saw it, the txn's own
			     writes included, not the revision asked for */
};

struct mvcc_put_resp {
	bool has_prev;
	struct mvcc_kv prev; /* when prev_kv was asked and the key existed */
};

struct mvcc_delete_resp {
	int64_t deleted;
	struct mvcc_kv *prev_kvs; /* when prev_kv was asked; n_prev == deleted */
	size_t n_prev;
};

struct mvcc_txn_resp;

struct mvcc_op_resp {
	enum mvcc_op_type type;
	union {
		struct mvcc_range_resp range;
		struct mvcc_put_resp put;
		struct mvcc_delete_resp del;
		struct mvcc_txn_resp *txn;
	};
};

struct mvcc_txn_resp {
	bool succeeded;
	struct mvcc_op_resp *resps; /* one per op of the branch taken */
	size_t n_resps;
};

struct mvcc_arena;

/* What mvcc_exec() and mvcc_read() answer. revision is the response
 * header's: the new revision when the operation wrote, else the current
 * one (for a read in the past too, as etcd). */
struct mvcc_result {
	int64_t revision;
	struct mvcc_op_resp op;
	struct mvcc_arena *arena; /* private */
};
/* Frees what a result holds (not the views' bytes, which are the store's).
 * Accepts a zeroed result and may be called twice. */
void mvcc_result_free(struct mvcc_result *res);

/* ---- The store ---- */

struct mvcc;

/* Optional, on top of the store's own leases (see Leases below): a put
 * with a lease also needs fn to say yes (else MVCC_E_LEASE_NOT_FOUND). Kept
 * for callers of the days before the store had leases; raftd no longer
 * needs it. */
typedef bool mvcc_lease_fn(void *ctx, int64_t lease);

/* An empty store at revision 1, or NULL when out of memory. */
struct mvcc *mvcc_new(void);
/* Frees the store and everything in it. Accepts NULL; returns NULL. */
struct mvcc *mvcc_free(struct mvcc *s);
void mvcc_set_lease_check(struct mvcc *s, mvcc_lease_fn *fn, void *ctx);

int64_t mvcc_revision(const struct mvcc *s);
/* The last compaction's revision, -1 before any (as etcd). */
int64_t mvcc_compacted(const struct mvcc *s);
/* Live keys at the current revision, stored versions (tombstones
 * included, and those a compaction under way has not freed yet), and the
 * bytes of keys and values held in all stored versions. */
size_t mvcc_count(const struct mvcc *s);
size_t mvcc_versions(const struct mvcc *s);
uint64_t mvcc_bytes(const struct mvcc *s);

/* etcd's request validation (v3rpc/key.go), pure: 0, -MVCC_E_EMPTY_KEY,
 * -MVCC_E_VALUE_PROVIDED, -MVCC_E_LEASE_PROVIDED, -MVCC_E_INVALID_SORT,
 * -MVCC_E_DUPLICATE_KEY (a txn branch puts a key twice, or puts a key that a
 * delete of the same branch covers, nested txns included), or
 * -MVCC_E_TOO_MANY_OPS (a txn with more than max_txn_ops compares or ops in
 * a branch; 0: no limit; etcd's default is 128). */
int mvcc_check(const struct mvcc_op *op, size_t max_txn_ops);

/* Applies one operation as one write transaction (a Range is only read).
 * 0 with *ret filled (the caller frees it), or an error with nothing
 * changed and *ret zeroed. Errors: mvcc_check()'s (with no limit on ops),
 * -MVCC_E_KEY_NOT_FOUND (ignore_value or ignore_lease on a missing key),
 * -MVCC_E_LEASE_NOT_FOUND, -MVCC_E_COMPACTED and -MVCC_E_FUTURE_REV (a
 * range's revision), -E2BIG, -ENOMEM. A Txn's compares and the whole path
 * of branches, nested txns' included, are decided on the state before the
 * txn, as etcd does; its ops then see the writes before them. */
int mvcc_exec(struct mvcc *s, const struct mvcc_op *op, struct mvcc_result *ret);

/* A Range without changing anything (serializable and linearizable reads
 * alike: the front end decides when to read). Errors: -MVCC_E_COMPACTED,
 * -MVCC_E_FUTURE_REV, -MVCC_E_INVALID_SORT, -ENOMEM. */
int mvcc_read(const struct mvcc *s, const struct mvcc_range_req *req, struct mvcc_result *ret);

/* etcd's Compact: 0, -MVCC_E_COMPACTED (rev <= the last compaction),
 * -MVCC_E_FUTURE_REV (rev > mvcc_revision()). Never allocates. Its cost is
 * the number of keys written or deleted since they last had no history
 * (keys with one live version are never visited). Views die with it.
 *
 * The same in steps, so that no call stalls the event loop:
 * mvcc_compact_begin() compacts at once for every reader (reads below rev
 * fail, snapshots, events and HashKV no longer show what is dropped), and
 * mvcc_compact_step() then frees the versions of up to `keys` keys per call,
 * returning true while some remain (mvcc_compacting()). Writes, reads and
 * a later compaction may come in between; what the store shows never
 * depends on how far the steps went, only mvcc_versions() and mvcc_bytes()
 * do. mvcc_compact() is begin then every step. Views die with each step. */
int mvcc_compact(struct mvcc *s, int64_t rev);
int mvcc_compact_begin(struct mvcc *s, int64_t rev);
bool mvcc_compact_step(struct mvcc *s, size_t keys);
bool mvcc_compacting(const struct mvcc *s);

/* ---- History: what Watch replays, and HashKV ----
 *
 * An event is one stored version: a put (kv is the key at that version) or
 * a delete (deleted; kv has the key and mod_revision, the rest 0, as
 * etcd's delete events). prev is the version before it, when it was live
 * and is still stored (a compaction may have dropped it, as in etcd). */
struct mvcc_event {
	bool deleted;
	bool has_prev;
	uint32_t sub;
	struct mvcc_kv kv;
	struct mvcc_kv prev;
};
typedef int mvcc_event_fn(void *ctx, const struct mvcc_event *ev);

/* Calls fn for each change to the keys of the interval (key, end as in a
 * range) with a main revision in [from, to] (to <= 0 or above the current
 * revision: the current revision), in (revision, sub) order; fn returns 0
 * to go on, anything else stops the walk and is returned. -MVCC_E_COMPACTED
 * when from is below the last compaction (etcd answers such a watch with
 * its compact_revision), -ENOMEM. Costs the keys in the interval plus the
 * events. */
int mvcc_events(const struct mvcc *s, const void *key, size_t key_len, const void *end, size_t end_len,
		int64_t from, int64_t to, mvcc_event_fn *fn, void *ctx);

/* The changes of the last mvcc_exec() that wrote, as events, in sub
 * order: what the daemon hands its watchers after applying an entry,
 * without a walk of the key space. Nothing after a call that did not
 * write, failed, or a compaction since. 0 or -ENOMEM. */
int mvcc_last_events(const struct mvcc *s, mvcc_event_fn *fn, void *ctx);

/* etcd's HashKV: a CRC-32C (Castagnoli, as etcd) of every stored version
 * with a main revision <= rev (0: the current revision), equal on members
 * with the same history and compaction. 0, -MVCC_E_COMPACTED (0 < rev <=
 * the last compaction, as etcd), -MVCC_E_FUTURE_REV. Never allocates. */
int mvcc_hash(const struct mvcc *s, int64_t rev, uint32_t *ret_hash);

/* ---- Snapshots ----
 *
 * A snapshot is the revision, the compaction revision and every stored
 * version: keys in ascending byte order, each key's versions oldest first
 * ((main, sub) ascending). A tombstone has version 0 (and create_revision,
 * lease and value 0/empty). mvcc_iter_versions() calls fn for each; fn
 * returns 0 to go on, anything else stops the walk and is returned. */
struct mvcc_version {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	int64_t mod_revision; /* the main revision */
	uint32_t sub;
	int64_t create_revision, version, lease;
};
typedef int mvcc_version_fn(void *ctx, const struct mvcc_version *v);
int mvcc_iter_versions(const struct mvcc *s, mvcc_version_fn *fn, void *ctx);

/* Rebuilding from a snapshot: mvcc_restore_begin() on an empty store (from
 * mvcc_new()), mvcc_restore_add() in mvcc_iter_versions()'s order, then
 * mvcc_restore_end(). Each call checks what it can (order, revisions
 * within (compacted or 0, revision], generations consistent: version 1
 * after a tombstone or at the start, +1 otherwise, create_revision kept),
 * and returns -EINVAL on a malformed input (the store is then unusable
 * but may be freed), or -ENOMEM / -E2BIG. */
int mvcc_restore_begin(struct mvcc *s, int64_t revision, int64_t compacted);
int mvcc_restore_add(struct mvcc *s, const struct mvcc_version *v);
int mvcc_restore_end(struct mvcc *s);

/* ---- Leases (etcd's lessor, lease/lessor.go, without its clock) ----
 *
 * The store keeps the leases (ID -> granted TTL) and, for each, the live
 * keys attached to it: those whose live version was put with that lease.
 * A put with lease != 0 needs the lease to exist (-MVCC_E_LEASE_NOT_FOUND,
 * as etcd's apply; ignore_lease keeps the key's lease without asking);
 * moving a key to another lease or to none, or deleting it, detaches it.
 * A Txn's puts alike. The remaining time is NOT the store's business: it is
 * the leader's clock (src/raftd/v3_lease.c). HashKV does not cover leases
 * (as etcd); snapshots do (mvcc_lease_iter(), mvcc_restore_lease()).
 *
 * Costs: a lease is a slot in a hash table by ID plus its set of keys; a
 * grant, an attach and a detach are O(1); a revoke and mvcc_lease_keys()
 * cost the lease's keys (sorted), never the store's. */
#define MVCC_LEASE_TTL_MAX INT64_C(9000000000)

/* Grants lease id with TTL ttl (seconds, taken as it is: the front end
 * raised it to etcd's minimum). 0, -MVCC_E_LEASE_NOT_FOUND (id 0, as
 * etcd's lessor), -MVCC_E_LEASE_TTL_TOO_LARGE (ttl > MVCC_LEASE_TTL_MAX),
 * -MVCC_E_LEASE_EXISTS, -ENOMEM (nothing changed). Takes no revision. */
int mvcc_lease_grant(struct mvcc *s, int64_t id, int64_t ttl);
/* Deletes every key attached to the lease as ONE write transaction (one
 * new revision when at least one key goes, in key order: sub-revisions 0,
 * 1, ... as etcd's sorted deletes; none otherwise), then forgets the lease.
 * *ret as mvcc_exec() for a DeleteRange (op.type MVCC_OP_DELETE, deleted
 * count, no prev_kvs; the caller frees it), the events via
 * mvcc_last_events(), so watchers see the deletes. 0,
 * -MVCC_E_LEASE_NOT_FOUND or -ENOMEM; errors leave the store unchanged and
 * *ret zeroed (atomic, -ENOMEM included). */
int mvcc_lease_revoke(struct mvcc *s, int64_t id, struct mvcc_result *ret);
/* Does lease id exist? Then *ret_ttl (if not NULL) is its granted TTL. */
bool mvcc_lease_get(const struct mvcc *s, int64_t id, int64_t *ret_ttl);
size_t mvcc_lease_count(const struct mvcc *s);
/* The number of live keys attached to lease id (0 for an unknown one). */
size_t mvcc_lease_key_count(const struct mvcc *s, int64_t id);
/* The live keys attached to a lease, in key order (fn as mvcc_event_fn:
 * nonzero stops and is returned). -MVCC_E_LEASE_NOT_FOUND, -ENOMEM. Costs
 * the lease's keys, not the store's. The key bytes are views (see Views). */
typedef int mvcc_key_fn(void *ctx, const uint8_t *key, size_t len);
int mvcc_lease_keys(const struct mvcc *s, int64_t id, mvcc_key_fn *fn, void *ctx);
/* Every lease in ascending ID order (fn: nonzero stops and is returned).
 * 0 or -ENOMEM (the order costs a sorted copy of the table). */
typedef int mvcc_lease_iter_fn(void *ctx, int64_t id, int64_t ttl);
int mvcc_lease_iter(const struct mvcc *s, mvcc_lease_iter_fn *fn, void *ctx);
/* Restore: between mvcc_restore_begin() and mvcc_restore_end(), in any
 * order with mvcc_restore_add(); the attachments are derived from the
 * restored live versions at mvcc_restore_end() (a key whose lease was not
 * restored stays unattached, as etcd's restore only warns). -EINVAL (id 0,
 * ttl > MVCC_LEASE_TTL_MAX, an ID twice, outside a restore), -ENOMEM; the
 * restore then failed, as for mvcc_restore_add(). */
int mvcc_restore_lease(struct mvcc *s, int64_t id, int64_t ttl);

/* ---- For the key-value state machine (src/kv), which serves goraft's /db
 * from this store: no allocation on these paths ---- */

/* The key's live version at the current revision: true and *ret filled, or
 * false (absent or deleted; *ret untouched). */
bool mvcc_get(const struct mvcc *s, const void *key, size_t key_len, struct mvcc_kv *ret);
/* Bytes of keys and values of the live keys (mvcc_bytes() counts every
 * stored version). */
uint64_t mvcc_live_bytes(const struct mvcc *s);
/* The live keys at the current revision, in key order:
 *   struct mvcc_cursor c; struct mvcc_kv kv;
 *   mvcc_cursor_init(s, &c); while (mvcc_cursor_next(&c, &kv)) ...
 * The store must not change meanwhile. */
struct mvcc_cursor {
	const void *leaf;
	unsigned slot;
};
void mvcc_cursor_init(const struct mvcc *s, struct mvcc_cursor *c);
bool mvcc_cursor_next(struct mvcc_cursor *c, struct mvcc_kv *ret);
/* Keys the compaction under way has yet to visit (0: none under way), so a
 * caller can pace mvcc_compact_step() to finish before a deadline. */
size_t mvcc_compact_pending(const struct mvcc *s);

/* ---- Internal: the key index (B+tree), a seam for tests ---- */
int mvcc_index_check(const struct mvcc *s); /* 0 or -EINVAL: tree invariants */

#endif
