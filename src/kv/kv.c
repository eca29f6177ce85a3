/* src/kv/kv.c — the key-value state machine over the MVCC store, and the
 * apply path.
 *
 * One store. The map is ONE struct mvcc (src/mvcc/mvcc.h): a /db write is a
 * put of the same key, a raftd:delete a delete, a read the key's live
 * version, and etcd's v3 API reads and writes the same keys. So history is
 * kept for /db writes too, and the retention rule (kv.h) bounds it; its
 * compaction runs in steps at the start of each apply, never inside one
 * (the views of a kv_apply_op() result must live until the caller is done).
 *
 * Memory is the store's (src/mvcc/mvcc.c: a key block, a version block and
 * an index slot per key). Reads never allocate and never modify the store,
 * so a forked child can read it while the parent goes on.
 *
 * Hashing. The content hash (kv.h) uses SipHash-2-4 with a fixed key so it
 * is equal across nodes; the store keeps keys in byte order, so no table
 * hash (and no per-map seed) is left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "src/kv/kv.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kv records are stored with little-endian length words (as the WAL assumes too)"
#endif

struct kv {
	struct mvcc *m;
	uint64_t applied_index;
};

enum {
	/* keys freed per apply at least while a compaction is under way */
	COMPACT_STEP_KEYS = 64,
};

/* ---- SipHash (Aumasson & Bernstein), c compression / d finalisation rounds ---- */

static inline uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

#define SIPROUND                                                                                \
	do {                                                                                    \
		v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);                    \
		v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                         \
		v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                         \
		v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);                    \
	} while (0)

static inline uint64_t siphash(const uint8_t key[16], const void *buf, size_t len, int c, int d)
{
	const uint8_t *p = buf;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k0;
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k0;
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t left = len & 7;
	const uint8_t *end = p + (len - left);

	for (; p != end; p += 8) {
		uint64_t m = load_le64(p);
		v3 ^= m;
		for (int i = 0; i < c; i++)
			SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	for (int i = 0; i < c; i++)
		SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < d; i++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t kv_siphash24(const uint8_t key[16], const void *buf, size_t len)
{
	return siphash(key, buf, len, 2, 4);
}

static const uint8_t content_key[16] = "raftd kv content"; /* exactly 16 bytes, no NUL */

uint64_t kv_content_digest(const void *record, size_t len)
{
	return siphash(content_key, record, len, 2, 4);
}

uint64_t kv_content_finish(uint64_t digest_sum, uint64_t count)
{
	uint8_t buf[16];

	memcpy(buf, &digest_sum, 8);
	memcpy(buf + 8, &count, 8);
	return siphash(content_key, buf, sizeof buf, 2, 4);
}

/* The digest of a live key as the record le32(key_len) | le32(value_len) |
 * key | value, without building the record: SipHash-2-4 fed in pieces. */
static uint64_t digest_kv(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	const uint8_t *seg[3];
	size_t seglen[3], len = 8 + klen + vlen;
	uint8_t head[8], tail[8];
	uint32_t k32 = (uint32_t)klen, v32 = (uint32_t)vlen;
	uint64_t k0 = load_le64(content_key), k1 = load_le64(content_key + 8);
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k0;
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k0;
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t fill = 0;

	memcpy(head, &k32, 4);
	memcpy(head + 4, &v32, 4);
	seg[0] = head, seglen[0] = 8;
	seg[1] = key, seglen[1] = klen;
	seg[2] = val, seglen[2] = vlen;
	for (int i = 0; i < 3; i++) {
		const uint8_t *p = seg[i];
		size_t n = seglen[i];
		while (n > 0) {
			uint64_t m;
			if (fill == 0 && n >= 8) {
				m = load_le64(p);
				p += 8;
				n -= 8;
			} else {
				size_t take = 8 - fill < n ? 8 - fill : n;
				memcpy(tail + fill, p, take);
				fill += take;
				p += take;
				n -= take;
				if (fill < 8)
					break;
				m = load_le64(tail);
				fill = 0;
			}
			v3 ^= m;
			SIPROUND;
			SIPROUND;
			v0 ^= m;
		}
	}
	for (size_t i = 0; i < fill; i++)
		b |= (uint64_t)tail[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- Allocation seam (kv.h): base's, which src/mvcc/ uses too ---- */

void kv_fail_alloc_after(long n)
{
	alloc_fail_nth(n < 0 ? 0 : (unsigned long)n + 1);
}

void *kv_malloc(size_t size)
{
	return base_malloc(size);
}

void *kv_calloc(size_t n, size_t size)
{
	return base_calloc(n, size);
}

void *kv_realloc(void *ptr, size_t size)
{
	return base_realloc(ptr, size);
}

/* ---- The map ---- */

struct kv *kv_new(void)
{
	struct kv *kv = kv_calloc(1, sizeof *kv);

	if (!kv)
		return NULL;
	kv->m = mvcc_new();
	if (!kv->m) {
		free(kv);
		return NULL;
	}
	return kv;
}

struct kv *kv_free(struct kv *kv)
{
	if (!kv)
		return NULL;
	mvcc_free(kv->m);
	free(kv);
	return NULL;
}

struct mvcc *kv_mvcc(struct kv *kv)
{
	return kv->m;
}

const struct mvcc *kv_mvcc_const(const struct kv *kv)
{
	return kv->m;
}

bool kv_get(const struct kv *kv, const void *key, size_t key_len, struct kv_view *ret)
{
	struct mvcc_kv v;

	if (key_len > MVCC_LEN_MAX || !mvcc_get(kv->m, key_len ? key : "", key_len, &v))
		return false;
	ret->key = v.key;
	ret->key_len = v.key_len;
	ret->value = v.value ? v.value : (const uint8_t *)"";
	ret->value_len = v.value_len;
	return true;
}

int kv_put(struct kv *kv, const void *key, size_t key_len, const void *value, size_t value_len)
{
	struct mvcc_op op = { .type = MVCC_OP_PUT };
	struct mvcc_result res;
	int rv;

	if (key_len > MVCC_LEN_MAX || value_len > MVCC_LEN_MAX || value_len > KV_ENTRY_MAX - key_len)
		return -E2BIG;
	op.put.key = key_len ? key : "";
	op.put.key_len = key_len;
	op.put.value = value_len ? value : "";
	op.put.value_len = value_len;
	rv = mvcc_exec(kv->m, &op, &res);
	mvcc_result_free(&res);
	return rv;
}

int kv_delete(struct kv *kv, const void *key, size_t key_len)
{
	struct mvcc_op op = { .type = MVCC_OP_DELETE };
	struct mvcc_result res;
	int rv;

	if (key_len > MVCC_LEN_MAX)
		return 0;
	op.del.key = key_len ? key : "";
	op.del.key_len = key_len;
	rv = mvcc_exec(kv->m, &op, &res);
	if (rv == 0)
		rv = res.op.del.deleted > 0;
	mvcc_result_free(&res);
	return rv;
}

size_t kv_count(const struct kv *kv)
{
	return mvcc_count(kv->m);
}

uint64_t kv_bytes(const struct kv *kv)
{
	return mvcc_live_bytes(kv->m);
}

int kv_reserve(struct kv *kv, size_t n)
{
	(void)kv;
	(void)n;
	return 0;
}

void kv_iter_init(struct kv_iter *it, const struct kv *kv)
{
	it->kv = kv;
	mvcc_cursor_init(kv->m, &it->cursor);
}

bool kv_iter_next(struct kv_iter *it, struct kv_view *ret)
{
	struct mvcc_kv v;

	if (!mvcc_cursor_next(&it->cursor, &v))
		return false;
	ret->key = v.key;
	ret->key_len = v.key_len;
	ret->value = v.value ? v.value : (const uint8_t *)"";
	ret->value_len = v.value_len;
	return true;
}

uint64_t kv_content_hash(const struct kv *kv)
{
	struct mvcc_cursor c;
	struct mvcc_kv v;
	uint64_t sum = 0;

	mvcc_cursor_init(kv->m, &c);
	while (mvcc_cursor_next(&c, &v))
		sum += digest_kv(v.key, v.key_len, v.value, v.value_len);
	return kv_content_finish(sum, mvcc_count(kv->m));
}

/* ---- Apply ---- */

/* The retention rule of kv.h, at the start of each apply: a function of
 * the revision and the last compaction, both the same on every member.
 * Not at the end of the apply that reached the revision: a compaction
 * begun there would take the entry's mvcc_last_events() (what watchers are
 * handed) and could free what its result's views show. Then a step of the
 * compaction under way, paced to finish before the rule begins the next. */
static void retention(struct kv *kv)
{
	int64_t r = mvcc_revision(kv->m);
	size_t left, n;

	if (r % KV_COMPACT_EVERY == 0 && r > KV_HISTORY_REVISIONS &&
	    r - KV_HISTORY_REVISIONS > mvcc_compacted(kv->m))
		(void)mvcc_compact_begin(kv->m, r - KV_HISTORY_REVISIONS); /* cannot fail: checked */
	if (!mvcc_compacting(kv->m))
		return;
	/* applies left before the next begin (at least one per revision) */
	left = (size_t)(KV_COMPACT_EVERY - r % KV_COMPACT_EVERY);
	n = mvcc_compact_pending(kv->m) / left + 1;
	mvcc_compact_step(kv->m, n > COMPACT_STEP_KEYS ? n : COMPACT_STEP_KEYS);
}

int kv_apply(struct kv *kv, uint64_t index, const struct cmd *cmd)
{
	int rv = 0;

	if (index <= kv->applied_index)
		return KV_APPLY_STALE;
	retention(kv);
	/* No default: a new command type must be handled here before it
	 * compiles with -Werror (-Wswitch). */
	switch (cmd->type) {
	case CMD_WRITE:
		rv = kv_put(kv, cmd->key.ptr, cmd->key.len, cmd->value.ptr, cmd->value.len);
		break;
	case CMD_DELETE:
		rv = kv_delete(kv, cmd->key.ptr, cmd->key.len); /* an absent key is fine */
		break;
	case CMD_NOP:
	case CMD_JOIN:
	case CMD_LEAVE:
	case CMD_LEARNER:
		break; /* the Raft core's business */
	case CMD_V3:
		return -EINVAL; /* applied by kv_apply_op() */
	}
	if (rv < 0)
		return rv;
	kv->applied_index = index;
	return 0;
}

int kv_apply_op(struct kv *kv, uint64_t index, const struct mvcc_op *op, struct mvcc_result *ret, int *ret_err)
{
	int rv;

	memset(ret, 0, sizeof *ret);
	*ret_err = 0;
	if (index <= kv->applied_index)
		return KV_APPLY_STALE;
	retention(kv);
	rv = mvcc_exec(kv->m, op, ret);
	if (rv == -ENOMEM)
		return rv;
	/* Anything else is the entry's own fault, the same on every member
	 * (-E2BIG included: the front end refuses those before proposing) */
	*ret_err = rv;
	kv->applied_index = index;
	return 0;
}

int kv_apply_compact(struct kv *kv, uint64_t index, int64_t rev, int *ret_err)
{
	*ret_err = 0;
	if (index <= kv->applied_index)
		return KV_APPLY_STALE;
	retention(kv);
	*ret_err = mvcc_compact_begin(kv->m, rev);
	kv->applied_index = index;
	return 0;
}

int kv_apply_lease_grant(struct kv *kv, uint64_t index, int64_t id, int64_t ttl, int *ret_err)
{
	int rv;

	*ret_err = 0;
	if (index <= kv->applied_index)
		return KV_APPLY_STALE;
	retention(kv);
	rv = mvcc_lease_grant(kv->m, id, ttl);
	if (rv == -ENOMEM)
		return rv;
	*ret_err = rv;
	kv->applied_index = index;
	return 0;
}

int kv_apply_lease_revoke(struct kv *kv, uint64_t index, int64_t id, struct mvcc_result *ret, int *ret_err)
{
	int rv;

	memset(ret, 0, sizeof *ret);
	*ret_err = 0;
	if (index <= kv->applied_index)
		return KV_APPLY_STALE;
	retention(kv);
	rv = mvcc_lease_revoke(kv->m, id, ret);
	if (rv == -ENOMEM)
		return rv;
	*ret_err = rv;
	kv->applied_index = index;
	return 0;
}

bool kv_compact_step(struct kv *kv, size_t keys)
{
	return mvcc_compact_step(kv->m, keys);
}

uint64_t kv_applied_index(const struct kv *kv)
{
	return kv->applied_index;
}

void kv_set_applied_index(struct kv *kv, uint64_t index)
{
	kv->applied_index = index;
}
