/* src/kv/kv.h — the key-value state machine that Raft applies committed
 * commands to, and its snapshot files.
 *
 * The map. Keys and values are byte strings (NULs allowed, empty allowed),
 * held by ONE MVCC store (src/mvcc/mvcc.h, see "The MVCC store" below):
 * kv_put() is a v3 put, kv_delete() a v3 delete, kv_get() and the iterator
 * see the live keys at the current revision. Lookups never allocate and
 * never modify the store, so a forked child can read it while the parent
 * keeps changing its own copy.
 *
 * A NULL pointer is accepted wherever its length is 0.
 *
 * Not thread-safe; one owner. Iterators, and views returned by kv_get(), are
 * invalidated by any kv_put(), kv_delete(), kv_apply*() or
 * kv_compact_step().
 *
 * Size limit: key_len + value_len <= KV_ENTRY_MAX (2 GiB), and each of
 * them <= MVCC_LEN_MAX (1 GiB, the store's limit; raftd's --max-value and
 * --max-key stay below it). goraft has no
 * limit, so the daemon must refuse larger client writes BEFORE proposing
 * them: a committed write that cannot be applied would split the cluster.
 *
 * Content hash (kv_content_hash): order-independent and stable across
 * processes and builds (little-endian hosts; kv.c refuses to build on
 * others), for comparing the states of nodes:
 *   d(e) = SipHash-2-4(key K, le32(key_len) | le32(value_len) | key | value)
 *   S    = sum of d(e) over all entries, mod 2^64
 *   hash = SipHash-2-4(key K, le64(S) | le64(count))
 * with K = the 16 ASCII bytes "raftd kv content". Insertion order, table
 * size and the applied index do not enter it.
 */
#ifndef RAFTD_SRC_KV_KV_H
#define RAFTD_SRC_KV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/command.h"
#include "src/mvcc/mvcc.h"

#define KV_ENTRY_MAX (UINT32_C(1) << 31)

struct kv;

/* A borrowed view of one entry: pointers into the map, valid until the next
 * change to the map. */
struct kv_view {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
};

/* An empty map with applied index 0, or NULL when out of memory. */
struct kv *kv_new(void);
/* Frees the map and every entry. Accepts NULL; returns NULL. */
struct kv *kv_free(struct kv *kv);

/* Looks key up. true and *ret filled when present; false otherwise (*ret
 * untouched). No allocation, no change to the map. */
bool kv_get(const struct kv *kv, const void *key, size_t key_len, struct kv_view *ret);
/* Inserts or replaces: a new version of the key (the old one stays in the
 * history until compacted). 0, -ENOMEM (the map is unchanged), or -E2BIG
 * when key_len + value_len > KV_ENTRY_MAX or either is > MVCC_LEN_MAX. */
int kv_put(struct kv *kv, const void *key, size_t key_len, const void *value, size_t value_len);
/* Removes key (a tombstone in the history). 1 when it was present, 0 when
 * not, -ENOMEM (nothing changed). */
int kv_delete(struct kv *kv, const void *key, size_t key_len);

/* Number of entries, and the sum of their key and value lengths. */
size_t kv_count(const struct kv *kv);
uint64_t kv_bytes(const struct kv *kv);
/* Kept for callers of the hash map's days: the store's index grows a node
 * at a time, so there is nothing to reserve. Always 0. */
int kv_reserve(struct kv *kv, size_t n);
/* See the top of this file. O(count). */
uint64_t kv_content_hash(const struct kv *kv);
/* The pieces of kv_content_hash(), for code that sees entries as records
 * le32(key_len) | le32(value_len) | key | value (the snapshot code):
 * kv_content_hash() == kv_content_finish(sum of kv_content_digest(record), count). */
uint64_t kv_content_digest(const void *record, size_t len);
uint64_t kv_content_finish(uint64_t digest_sum, uint64_t count);
/* SipHash-2-4 of buf under a 16-byte key (reference test vectors). */
uint64_t kv_siphash24(const uint8_t key[16], const void *buf, size_t len);

/* Iteration over the live keys (in key order, but callers should not
 * count on an order); the map must not change meanwhile.
 *   struct kv_iter it; struct kv_view v;
 *   kv_iter_init(&it, kv); while (kv_iter_next(&it, &v)) ...            */
struct kv_iter {
	const struct kv *kv;
	struct mvcc_cursor cursor;
};
void kv_iter_init(struct kv_iter *it, const struct kv *kv);
bool kv_iter_next(struct kv_iter *it, struct kv_view *ret);

/* ---- Applying the Raft log ----
 *
 * kv_apply() applies the committed entry at `index`. Every committed entry
 * should be passed, in order, whatever its type: `write` puts key = value;
 * raft:join, raft:leave and raft:nop change nothing here (membership is the
 * Raft core's) but still advance the applied index. An index at or below the
 * applied index is ignored, which makes "load the latest snapshot, then
 * replay the WAL tail from any earlier point" correct. Gaps are accepted.
 * cmd is only read; the caller keeps ownership (kv copies the bytes).
 *
 * raftd's own `raftd:delete` removes its key (an absent key is no error).
 * The switch has no default, so -Wswitch points at any new command. Every
 * apply first runs the retention rule below and a step of the compaction
 * under way.
 *
 * Returns 0 when applied, KV_APPLY_STALE when index <= kv_applied_index()
 * (nothing done), or a negative errno from kv_put()/kv_delete() — then the applied index
 * is unchanged and the state machine cannot go on: the caller should stop
 * (-ENOMEM) or never have proposed the entry (-E2BIG). */
#define KV_APPLY_STALE 1
int kv_apply(struct kv *kv, uint64_t index, const struct cmd *cmd);
uint64_t kv_applied_index(const struct kv *kv);
/* Declares that the map's content is the state after `index` (the snapshot
 * loader uses it; nothing else should need to). */
void kv_set_applied_index(struct kv *kv, uint64_t index);

/* ---- The MVCC store behind the map (etcd's v3 API) ----
 *
 * The state machine is ONE struct mvcc (src/mvcc/mvcc.h): a /db write is a
 * v3 put of the same key, a raftd:delete a v3 delete of that key, kv_get()
 * the key's live version. The v3 front end reads it (kv_mvcc_const()) and
 * writes it only through kv_apply_op() and kv_apply_compact(), so that every
 * write is a log entry. kv_mvcc() is for the code that owns the node (e.g.
 * mvcc_set_lease_check()); writing through it bypasses the applied index. */
struct mvcc *kv_mvcc(struct kv *kv);
const struct mvcc *kv_mvcc_const(const struct kv *kv);

/* Applies a v3 write (op: PUT, DELETE or TXN as decoded by src/etcd) as the
 * entry at index. *ret gets mvcc_exec()'s result (the caller frees it with
 * mvcc_result_free(); zeroed otherwise; its views live until the next
 * change to the map: compaction steps run at the start of an apply, never
 * at its end), *ret_err 0 or its etcd error (the
 * entry is then applied as a no-op: every node refuses the same entry, the
 * applied index advances). Returns 0, KV_APPLY_STALE, or -ENOMEM (the store
 * and applied index are unchanged: stop the node). */
int kv_apply_op(struct kv *kv, uint64_t index, const struct mvcc_op *op, struct mvcc_result *ret, int *ret_err);
/* etcd's Compact as the entry at index (mvcc_compact_begin(); the steps run
 * inside later kv_apply*() calls and kv_compact_step()). *ret_err 0,
 * -MVCC_E_COMPACTED or -MVCC_E_FUTURE_REV (a no-op entry, as above).
 * Returns 0 or KV_APPLY_STALE. */
int kv_apply_compact(struct kv *kv, uint64_t index, int64_t rev, int *ret_err);
/* etcd's lease grant and revoke as the entry at index (mvcc_lease_grant(),
 * mvcc_lease_revoke(): the entry's ID and TTL as they are, so every member
 * applies the same). Returns as kv_apply_op(): 0 (etcd's error, if any, in
 * *ret_err: -MVCC_E_LEASE_EXISTS, -MVCC_E_LEASE_TTL_TOO_LARGE,
 * -MVCC_E_LEASE_NOT_FOUND; the entry then applied as a no-op),
 * KV_APPLY_STALE, or -ENOMEM (store and applied index unchanged). A revoke's
 * *ret is a DeleteRange's result (the caller frees it; its deletes are
 * mvcc_last_events()). */
int kv_apply_lease_grant(struct kv *kv, uint64_t index, int64_t id, int64_t ttl, int *ret_err);
int kv_apply_lease_revoke(struct kv *kv, uint64_t index, int64_t id, struct mvcc_result *ret, int *ret_err);
/* Frees the compacted versions of up to `keys` keys; true while some remain
 * (e.g. for an idle loop). What the store shows never depends on it. */
bool kv_compact_step(struct kv *kv, size_t keys);

/* History retention, a pure function of the log (so that every member,
 * whatever it runs besides, compacts at the same revisions and HashKV agrees,
 * also in a mixed cluster where no raftd:v3 entry is ever logged): when an
 * entry is applied while the store's revision R is a multiple of
 * KV_COMPACT_EVERY and R - KV_HISTORY_REVISIONS is above the last
 * compaction, the store is first compacted at R - KV_HISTORY_REVISIONS. So
 * at least the last KV_HISTORY_REVISIONS revisions stay readable and at
 * most KV_HISTORY_REVISIONS + KV_COMPACT_EVERY are kept. The rule runs at
 * the start of an apply, not at the end of the one that reached R, so that
 * entry's result and mvcc_last_events() stay whole. The freeing runs in
 * steps at the start of the following applies (a bounded number of keys
 * each, enough to finish before the next compaction), never in one go. A
 * -ENOMEM return leaves the entry unapplied, but a compaction the rule had
 * due before it may have begun (a function of the state before the entry,
 * which a replay does again). */
#define KV_HISTORY_REVISIONS 10000
#define KV_COMPACT_EVERY 10000

/* ---- Snapshots (format: top of src/kv/kv_snapshot.c) ---- */

struct kv_member {
	struct cmd_str name;
	struct cmd_str connection_string;
	bool learner; /* a non-voting member (raftd-only) */
};

/* What a snapshot records besides the map: the last log entry it includes
 * (last_index must equal kv_applied_index() of the map written) and the
 * cluster membership at that entry — everything goraft's
 * SnapshotRecoveryRequest needs besides State, self included. Metas filled
 * by the loaders own their members array and strings (malloc'ed, each string
 * NUL-terminated too): release them with kv_snapshot_meta_free(). */
struct kv_snapshot_meta {
	uint64_t last_index;
	uint64_t last_term;
	size_t n_members;
	struct kv_member *members;
};
void kv_snapshot_meta_free(struct kv_snapshot_meta *meta);

/* Streams the snapshot of kv to fd (current position; 1 MiB writes; EINTR
 * and short writes retried). No fsync: see kv_snapshot_save(). Only reads kv
 * and meta, needs no event loop and takes no locks: meant to run in a forked
 * child. 0, -EINVAL (meta->last_index != kv_applied_index(kv), or a member
 * string over 4 GiB), -ENOMEM, or the write's -errno. */
int kv_snapshot_write(const struct kv *kv, int fd, const struct kv_snapshot_meta *meta);
/* The same bytes into a new malloc'ed buffer (*ret_buf, *ret_len; caller
 * frees), e.g. for goraft's SnapshotRecoveryRequest.State between raftd
 * nodes. 0, -EINVAL or -ENOMEM (*ret_* untouched). */
int kv_snapshot_encode(const struct kv *kv, const struct kv_snapshot_meta *meta, uint8_t **ret_buf,
		       size_t *ret_len);

/* The same in a given format version (1: the hash map's, live keys only;
 * 2: the store's history without leases; 3: the current one, with the
 * leases), so tests can make old snapshots. -EINVAL for another version. */
int kv_snapshot_encode_version(const struct kv *kv, const struct kv_snapshot_meta *meta, unsigned version,
			       uint8_t **ret_buf, size_t *ret_len);

/* Loads and verifies a whole snapshot (version 3, 2 with no leases, or 1
 * as one revision):
 * magic, version, checksums of the meta block and of every chunk, lengths,
 * duplicate keys, the store's history rules (mvcc_restore_add()), the
 * trailer's counts and content hash, and no byte after the trailer. On success returns 0, *ret_kv
 * (applied index = last_index) and *ret_meta are the caller's. On failure
 * nothing is returned, and err (when err_len > 0) holds one line naming the
 * file (`name` for the buffer variant) and the byte offset, e.g.
 *   "snap/snapshot-2-90: chunk checksum mismatch at offset 1048640"
 * Errors: -EBADMSG (corrupt or truncated), -ENOMEM, or the open/read -errno.
 * Never crashes on any input. */
int kv_snapshot_load(const char *path, struct kv **ret_kv, struct kv_snapshot_meta *ret_meta,
		     char *err, size_t err_len);
int kv_snapshot_decode(const void *buf, size_t len, const char *name, struct kv **ret_kv,
		       struct kv_snapshot_meta *ret_meta, char *err, size_t err_len);
/* Only the meta block (its checksum verified), e.g. to read the members of
 * a snapshot received from a peer before taking it. 0 or -EBADMSG/-ENOMEM. */
int kv_snapshot_decode_meta(const void *buf, size_t len, struct kv_snapshot_meta *ret_meta);

/* ---- Snapshot directory ----
 *
 * Files are named snapshot-<last_term>-<last_index> (decimal). Saving writes
 * snapshot-<term>-<index>.tmp, fdatasyncs it, renames it to its final name,
 * fsyncs the directory, then deletes the snapshots older than the new one
 * except the newest of them (kept as a fallback) and any stray *.tmp. A crash
 * at any point leaves the old snapshots and, at worst, a .tmp that loaders
 * ignore and the next save removes. The directory must exist. Only one save
 * may run at a time. */
#define KV_SNAPSHOT_PATH_MAX 4096
int kv_snapshot_save(const char *dir, const struct kv *kv, const struct kv_snapshot_meta *meta,
		     char *err, size_t err_len);
/* Runs kv_snapshot_save() in a forked child and returns at once with its
 * pid: the child sees the map as it was at fork time (copy-on-write) while
 * the parent goes on changing it. The child _exit()s with 0, or with the
 * failure's errno (positive, <= 255). The caller reaps it (e.g. pidfd_open on
 * the event loop, or waitpid) and must not start another save before. 0 or
 * fork's -errno. Memory: pages the parent changes while the child runs are
 * copied, so a write-heavy node can briefly need up to twice its RSS. */
int kv_snapshot_fork(const char *dir, const struct kv *kv, const struct kv_snapshot_meta *meta,
		     pid_t *ret_pid);
/* Loads the newest valid snapshot in dir (highest index, then term; .tmp and
 * other names ignored), falling back to older ones when newer ones do not
 * verify. 0 with *ret_kv, *ret_meta and, if ret_path is not NULL, the file's
 * path (malloc'ed); err then holds "" or the reason the newest was skipped.
 * -ENOENT when dir has no snapshot file at all; -EBADMSG when none of them
 * verifies (err: the newest one's error); -ENOMEM; or opendir's -errno.
 * Falling back is only sound if the WAL still holds every entry after the
 * fallback: compact the log no further than the previous snapshot's index
 * (the one kv_snapshot_save() keeps). */
int kv_snapshot_load_latest(const char *dir, struct kv **ret_kv, struct kv_snapshot_meta *ret_meta,
			    char **ret_path, char *err, size_t err_len);

/* The directory's names, the one place that knows them (raftd and raftctl
 * ask here). KV_SNAPDIR_NAME_MAX bounds a name with its NUL.
 * kv_snapdir_name(): "snapshot-<term>-<index>"; kv_snapdir_path(): the same
 * under dir/. Both 0 or -ENAMETOOLONG.
 * kv_snapdir_parse(): true for snapshot-<term>-<index>, optionally followed
 * by ".tmp" (*ret_tmp says which), both numbers strict decimal (no sign, no
 * leading zero, no overflow); false for any other name.
 * kv_snapdir_newest(): the newest complete snapshot in dir (highest index,
 * then term; .tmp and other names ignored), or false when there is none or
 * dir cannot be read. It is not verified: kv_snapshot_load_latest() does that.
 * kv_snapdir_older(): the highest index below `below` among dir's complete
 * snapshots, or 0. */
#define KV_SNAPDIR_NAME_MAX 64
int kv_snapdir_name(char *buf, size_t len, uint64_t term, uint64_t index);
int kv_snapdir_path(char *buf, size_t len, const char *dir, uint64_t term, uint64_t index);
bool kv_snapdir_parse(const char *name, uint64_t *ret_term, uint64_t *ret_index, bool *ret_tmp);
bool kv_snapdir_newest(const char *dir, uint64_t *ret_term, uint64_t *ret_index);
uint64_t kv_snapdir_older(const char *dir, uint64_t below);

/* ---- Internal to src/kv/, and a seam for tests ----
 *
 * Every allocation of src/kv/ goes through these, which are base's seam
 * (base/alloc.h), as src/mvcc/'s are. After kv_fail_alloc_after(n) the next
 * n allocations (src/mvcc's included) succeed and the one after fails, once
 * (base's alloc_fail_nth(n + 1)); kv_fail_alloc_after(-1) disarms. A loop
 * over n = 0, 1, ... walks every out-of-memory path. */
void kv_fail_alloc_after(long n);
void *kv_malloc(size_t size);
void *kv_calloc(size_t n, size_t size);
void *kv_realloc(void *ptr, size_t size);

#endif
