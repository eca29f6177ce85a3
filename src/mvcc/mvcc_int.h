/* src/mvcc/mvcc_int.h — internals shared by the files of src/mvcc/ (the
 * store in mvcc.c, the key index in index.c). Not an interface. */
#ifndef RAFTD_SRC_MVCC_MVCC_INT_H
#define RAFTD_SRC_MVCC_MVCC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* One version of a key: a put, or a tombstone (version 0). Immutable once
 * linked; freed only by compaction, rollback or the end of the store. */
struct mvcc_rev {
	struct mvcc_rev *prev; /* the next older version of the key, or NULL */
	int64_t main;
	int64_t create;
	int64_t version;
	int64_t lease;
	uint32_t sub;
	uint32_t value_len;
	uint8_t value[];
};

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

static inline int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
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

int idx_init(struct idx *t);
/* Frees the tree's nodes and, if free_key is set, calls it on every key. */
void idx_destroy(struct idx *t, void (*free_key)(struct mvcc_key *k));
struct mvcc_key *idx_find(const struct idx *t, const void *key, size_t len);
/* Inserts k, whose bytes must not be in the tree. 0 or -ENOMEM (tree
 * unchanged). */
int idx_insert(struct idx *t, struct mvcc_key *k);
/* Removes the key with k's bytes (which must be there). Never allocates:
 * nodes are merged or freed, never split. */
void idx_remove(struct idx *t, const struct mvcc_key *k);
/* The first key >= key (len 0 and key NULL: the first key). */
void idx_seek(const struct idx *t, const void *key, size_t len, struct idx_pos *pos);
/* The key at pos and moves on, or NULL at the end. */
struct mvcc_key *idx_next(struct idx_pos *pos);
/* The last key, or NULL. */
struct mvcc_key *idx_last(const struct idx *t);
/* 0, or -EINVAL if an invariant is broken (order, separators, equal
 * depth, fill, leaf links, count). */
int idx_check(const struct idx *t);

#endif
