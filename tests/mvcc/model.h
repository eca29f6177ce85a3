/* tests/mvcc/model.h — a reference model of the MVCC store for the tests
 * and the fuzz target: every change ever made, as a flat list, read by
 * brute force. It never forgets (compaction only moves the horizon), so it
 * can say what any read at or above the horizon must return, and how many
 * versions a compacted store must still hold. */
#ifndef RAFTD_TESTS_MVCC_MODEL_H
#define RAFTD_TESTS_MVCC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/mvcc/mvcc.h"

struct model_rec {
	uint8_t *key;
	size_t key_len;
	uint8_t *value;
	size_t value_len;
	int64_t main, create, version, lease; /* version 0: a tombstone */
	uint32_t sub;
};

struct model_key {
	uint8_t *key;
	size_t key_len;
	struct model_rec *r; /* oldest first */
	size_t n, cap;
};

struct model {
	struct model_key *k; /* sorted by key */
	size_t n, cap;
	int64_t rev, compacted;
	/* the transaction under way */
	int64_t txn_rev;
	uint32_t sub;
	bool changed;
};

void model_init(struct model *m);
void model_free(struct model *m);
/* A write transaction: begin, puts and deletes, end (the revision moves only
 * if something changed). */
void model_begin(struct model *m);
void model_put(struct model *m, const void *key, size_t key_len, const void *value, size_t value_len,
	       int64_t lease);
int64_t model_delete(struct model *m, const void *key, size_t key_len, const void *end, size_t end_len);
void model_end(struct model *m);
/* The record visible for key at rev, or NULL. */
const struct model_rec *model_get(const struct model *m, const void *key, size_t key_len, int64_t rev);
/* Does compare c hold at the current revision? */
bool model_compare(const struct model *m, const struct mvcc_compare *c);
/* Keys in the interval visible at rev, sorted (caller frees *ret). */
size_t model_range(const struct model *m, const void *key, size_t key_len, const void *end, size_t end_len,
		   int64_t rev, const struct model_rec ***ret);
/* Live keys now, and the versions a store compacted at m->compacted holds. */
size_t model_live(const struct model *m);
size_t model_kept(const struct model *m);
/* Checks the store against the model: revision, compaction, counts, the
 * versions kept, and every read of the whole key space at every revision
 * from the horizon up (plus that reads below it fail). Returns NULL or what
 * differs. */
const char *model_check(const struct model *m, const struct mvcc *s, bool every_rev);
/* Checks mvcc_events() for an interval and [from, to] against the model. */
const char *model_check_events(const struct model *m, const struct mvcc *s, const void *key, size_t key_len,
			       const void *end, size_t end_len, int64_t from, int64_t to);
/* Checks one read of the store against the model. */
const char *model_check_range(const struct model *m, const struct mvcc *s, const void *key, size_t key_len,
			      const void *end, size_t end_len, int64_t rev);

#endif
