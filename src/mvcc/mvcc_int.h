/* src/mvcc/mvcc_int.h — internals shared by the files of src/mvcc/ (the
 * store in mvcc.c, the key index in index.c). Not an interface. */
#ifndef RAFTD_SRC_MVCC_MVCC_INT_H
#define RAFTD_SRC_MVCC_MVCC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "src/mvcc/mvcc.h"

/* One version of a key: a put, or a tombstone (version 0). Immutable once
 * linked; freed only by compaction, rollback or the end of the store.
 *
 * Most versions have no lease and a version below 2^32: their header is 36
 * bytes, the version in 32 bits and no lease, so that with a value of ~100
 * bytes the block fits malloc's next smaller size class (the store's memory
 * is mostly these blocks). The others are wide: both as int64 after the
 * value. Read them with rev_version() and rev_lease(); allocate
 * rev_size() bytes and call rev_set() once value_len is set. */
struct mvcc_rev {
	struct mvcc_rev *prev; /* the next older version of the key, or NULL */
	int64_t main;
	int64_t create;
	uint32_t sub;
	uint32_t value_len : 31; /* up to MVCC_LEN_MAX */
	uint32_t wide : 1;
	uint32_t version32; /* the version, saturated: 0 only for a tombstone */
	uint8_t value[];
};
_Static_assert(offsetof(struct mvcc_rev, value) == 36, "the version header is packed");
_Static_assert(MVCC_LEN_MAX < (UINT32_C(1) << 31), "value_len's bits hold MVCC_LEN_MAX");

struct rev_wide {
	int64_t version, lease;
};

static inline bool rev_is_wide(int64_t version, int64_t lease)
{
	return lease || version >= (int64_t)UINT32_MAX;
}

/* Bytes to allocate for a version with that value, version and lease. */
static inline size_t rev_size(size_t value_len, int64_t version, int64_t lease)
{
	return offsetof(struct mvcc_rev, value) + value_len +
	       (rev_is_wide(version, lease) ? sizeof(struct rev_wide) : 0);
}

/* Sets version and lease of v, allocated with rev_size() for them, whose
 * value_len is set. */
static inline void rev_set(struct mvcc_rev *v, int64_t version, int64_t lease)
{
	v->wide = rev_is_wide(version, lease);
	v->version32 = version >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)version;
	if (v->wide) {
		struct rev_wide w = { version, lease };
		memcpy(v->value + v->value_len, &w, sizeof(w)); /* unaligned */
	}
}

static inline int64_t rev_version(const struct mvcc_rev *v)
{
	struct rev_wide w;
	if (!v->wide)
		return v->version32;
	memcpy(&w, v->value + v->value_len, sizeof(w));
	return w.version;
}

static inline int64_t rev_lease(const struct mvcc_rev *v)
{
	struct rev_wide w;
	if (!v->wide)
		return 0;
	memcpy(&w, v->value + v->value_len, sizeof(w));
	return w.lease;
}

enum {
	KEY_LISTED = 1,	 /* in the store's list of keys with history */
	KEY_TOUCHED = 2, /* written by the transaction under way */
};

/* A key: its bytes and its newest version. Lives in the index from its
 * first version until compaction (or a rollback) leaves it none. */
struct mvcc_key {
	struct mvcc_rev *head;
	uint32_t key_len;
	uint8_t flags;
	uint8_t key[];
};

/* Byte order of keys. Short keys (most of them, and every lookup of the
 * index compares a few) are compared a word at a time in line: a call to
 * memcmp for keys that share a long prefix cost more than the rest of a
 * lookup. */
static inline int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	if (n > 32) {
		int c = memcmp(a, b, n);
		if (c)
			return c;
	} else {
		size_t i = 0;
		for (; i + 8 <= n; i += 8) {
			uint64_t x, y;
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				x = __builtin_bswap64(x); /* the first byte decides first */
				y = __builtin_bswap64(y);
#endif
				return x < y ? -1 : 1;
			}
		}
		for (; i < n; i++)
			if (a[i] != b[i])
				return a[i] < b[i] ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen;
}

/* ---- The index: an in-memory B+tree of struct mvcc_key, by key bytes ---- */

struct idx_node;
struct idx_leaf;

struct idx {
	struct idx_node *root;
	size_t count;
	unsigned height; /* 1: the root is a leaf */
};

/* A position in the leaves, for walking keys in order. */
struct idx_pos {
	const struct idx_leaf *leaf;
	unsigned slot;
};

int mvcc_idx_init(struct idx *t);
/* Frees the tree's nodes and, if free_key is set, calls it on every key. */
void mvcc_idx_destroy(struct idx *t, void (*free_key)(struct mvcc_key *k));
struct mvcc_key *mvcc_idx_find(const struct idx *t, const void *key, size_t len);
/* Inserts k, whose bytes must not be in the tree. 0 or -ENOMEM (tree
 * unchanged). */
int mvcc_idx_insert(struct idx *t, struct mvcc_key *k);
/* Removes the key with k's bytes (which must be there). Never allocates:
 * nodes are merged or freed, never split. */
void mvcc_idx_remove(struct idx *t, const struct mvcc_key *k);
/* The first key >= key (len 0 and key NULL: the first key). */
void mvcc_idx_seek(const struct idx *t, const void *key, size_t len, struct idx_pos *pos);
/* The key at pos and moves on, or NULL at the end. */
struct mvcc_key *mvcc_idx_next(struct idx_pos *pos);
/* 0, or -EINVAL if an invariant is broken (order, separators, equal
 * depth, fill, leaf links, count). */
int mvcc_idx_check(const struct idx *t);

/* ---- The store (mvcc.c), shared with check.c and history.c ---- */

struct mvcc {
	struct idx idx;
	int64_t rev;
	int64_t compacted;
	size_t live;
	size_t versions;
	uint64_t bytes;
	uint64_t live_bytes; /* of the live keys' newest versions */
	struct mvcc_key **listed; /* keys with history (KEY_LISTED) */
	size_t n_listed, cap_listed;
	struct mvcc_key **touched; /* by the write transaction under way */
	size_t n_touched, cap_touched;
	size_t n_last; /* keys of the last write, still at the start of touched[] */
	mvcc_lease_fn *lease_fn;
	void *lease_ctx;
	bool compacting;	    /* a compaction pass is under way over listed */
	size_t compact_pos, compact_w; /* its next key, and where it keeps the next survivor */
	int restore; /* 0: none, 1: under way, 2: done, -1: failed */
	struct mvcc_key *restore_last;
	struct mvcc_leases *leases; /* lease.c; NULL until the first lease */
};

static inline bool is_live(const struct mvcc_rev *v)
{
	return v && v->version32;
}

/* The version of k visible at revision r, or NULL (none yet, or deleted). */
static inline const struct mvcc_rev *at_rev(const struct mvcc_key *k, int64_t r)
{
	for (const struct mvcc_rev *v = k->head; v; v = v->prev)
		if (v->main <= r)
			return v->version32 ? v : NULL;
	return NULL;
}

static inline void kv_of(struct mvcc_kv *kv, const struct mvcc_key *k, const struct mvcc_rev *v, bool keys_only)
{
	kv->key = k->key;
	kv->key_len = k->key_len;
	kv->value = keys_only || !v->value_len ? NULL : v->value;
	kv->value_len = keys_only ? 0 : v->value_len;
	kv->create_revision = v->create;
	kv->mod_revision = v->main;
	kv->version = rev_version(v);
	kv->lease = rev_lease(v);
}

/* What a key's newest version adds to live_bytes. */
static inline uint64_t live_size(const struct mvcc_key *k)
{
	return is_live(k->head) ? k->key_len + (uint64_t)k->head->value_len : 0;
}

static inline bool has_history(const struct mvcc_key *k)
{
	return k->head && (k->head->prev || !k->head->version32);
}

/* Walks the keys of an interval (see struct mvcc_range_req) in order. */
struct walk {
	struct idx_pos pos;
	const uint8_t *end;
	size_t end_len;
	bool single, unbounded, done;
	struct mvcc_key *one;
};

void mvcc_walk_start(struct walk *w, const struct idx *t, const void *key, size_t key_len, const void *end,
		     size_t end_len);
struct mvcc_key *mvcc_walk_next(struct walk *w);
/* Grows *ptrp (an array of size-byte items, *cap of them) to hold need. */
int mvcc_grow(void *ptrp, size_t *cap, size_t need, size_t size);
struct mvcc_key *mvcc_key_new(const void *key, size_t len);
/* Unlinked version v of k is freed and uncounted. */
void mvcc_version_gone(struct mvcc *s, const struct mvcc_key *k, struct mvcc_rev *v);
/* Lists k among the keys with history, if it has some (room made before). */
void mvcc_list_key(struct mvcc *s, struct mvcc_key *k);
/* mvcc_check(), and for the apply path with empty keys allowed. */
int mvcc_validate(const struct mvcc_op *op, size_t max_ops, bool empty_ok);

/* ---- Leases (lease.c) ----
 * They hold pointers to struct mvcc_key: a live key's block must not move
 * (it does not: only rollback and compaction free keys, never live ones). */
void mvcc_leases_free(struct mvcc_leases *l);
bool mvcc_lease_exists(const struct mvcc *s, int64_t id);
/* Room for `more` keys beyond those attached to lease id (if it exists),
 * so that the commit can attach without allocating. 0 or -ENOMEM. */
int mvcc_lease_reserve(struct mvcc *s, int64_t id, size_t more);
/* At a commit: k's live lease before (0 if it was not live) and now. */
void mvcc_lease_moved(struct mvcc *s, struct mvcc_key *k, int64_t before, int64_t now);
/* mvcc_restore_end(): attaches the restored live keys. 0 or -ENOMEM. */
int mvcc_lease_restored(struct mvcc *s);
/* One write transaction deleting the given live keys in that order (a
 * revoke's). *ret as a DeleteRange's; errors change nothing. */
int mvcc_delete_keys(struct mvcc *s, struct mvcc_key *const *keys, size_t n, struct mvcc_result *ret);

#endif
