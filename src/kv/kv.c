/* src/kv/kv.c — the in-memory key-value map and the apply path.
 *
 * Memory. The goal is RSS <= 2x the raw key+value bytes at 1M keys with
 * 100-byte values. An entry is one malloc block: an 8-byte header
 * (le32 key_len, le32 value_len) followed by key and value, so glibc adds its
 * own 8-byte size word and rounds to 16 — about 16 bytes over the raw data.
 * The header is also exactly the snapshot's record encoding, so snapshots
 * copy entries as they are. The table is an array of 16-byte slots
 * {hash, entry}; kept at most 3/4 full it costs 21-43 bytes per entry. The
 * full 64-bit hash in the slot means probes rarely touch an entry that is not
 * the one sought, and a rehash never touches entries at all (good for cache
 * and for fork: the child's pages stay shared).
 *
 * Probing. Linear probing with backward-shift deletion: deleting shifts the
 * following entries of the cluster back, leaving the table exactly as if the
 * deleted key had never been inserted. No tombstones, so no table decay
 * under delete-heavy workloads and no periodic cleanup.
 *
 * Growth. Past 3/4 load the current table becomes the "old" table and a
 * table twice its size becomes current. Every put/delete then moves a few
 * old slots (MIGRATE_WORK) into the new table; lookups search the new table
 * and then the old one. Moving an entry is a backward-shift delete from the
 * old table, so the old table stays a valid linear-probing table, and all
 * its slots below the migration cursor are empty. A key lives in exactly one
 * of the two tables. With 32 units of work per operation the old table (at
 * most 3/4 full of C slots: <= 1.75 C units) is empty after 0.055 C
 * operations, long before the new one (2C slots) can reach 3/4 load; should
 * it not be, the migration is finished on the spot before growing again.
 * (With 8 units it took 0.22 C operations: the 1M-key benchmark, which
 * grows to 2^21 slots at 786,433 keys, still held the old 16 MiB table when
 * measured. 32 moves cost about a microsecond at most.)
 *
 * Hashing. The table hash is SipHash-1-3 keyed with random bytes per map, so
 * clients cannot choose keys that collide (keys come from URLs). The content
 * hash (kv.h) uses SipHash-2-4 with a fixed key so it is equal across nodes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "src/kv/kv.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kv entries are stored with little-endian length words (as the WAL assumes too)"
#endif

struct kv_entry {
	uint32_t key_len;
	uint32_t value_len;
	uint8_t data[]; /* key, then value */
};

struct kv_slot {
	uint64_t hash;
	struct kv_entry *entry; /* NULL: empty */
};

struct kv_table {
	struct kv_slot *slots; /* NULL when the table has no storage */
	size_t mask;	       /* capacity - 1 */
	size_t used;
};

struct kv {
	struct kv_table cur;
	struct kv_table old; /* being emptied into cur; slots NULL when not rehashing */
	size_t migrate_pos;  /* old slots below this are empty */
	size_t count;
	uint64_t bytes;
	uint64_t applied_index;
	uint8_t seed[16];
};

enum {
	MIN_CAPACITY = 16,
	MIGRATE_WORK = 32, /* old slots scanned or entries moved per put/delete */
	PREFETCH_AHEAD = 12, /* slots; ~8 entries ahead at full load */
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

static inline uint64_t key_hash(const struct kv *kv, const void *key, size_t len)
{
	return siphash(kv->seed, key, len, 1, 3);
}

static inline size_t entry_size(const struct kv_entry *e)
{
	return sizeof *e + (size_t)e->key_len + e->value_len;
}

/* ---- Allocation seam (kv.h) ---- */

static long alloc_budget = -1; /* allocations left before failing; -1: unlimited */

void kv_fail_alloc_after(long n)
{
	alloc_budget = n < 0 ? -1 : n;
}

static bool alloc_allowed(void)
{
	if (alloc_budget < 0)
		return true;
	if (alloc_budget == 0)
		return false;
	alloc_budget--;
	return true;
}

void *kv_malloc(size_t size)
{
	return alloc_allowed() ? malloc(size) : NULL;
}

void *kv_calloc(size_t n, size_t size)
{
	return alloc_allowed() ? calloc(n, size) : NULL;
}

void *kv_realloc(void *ptr, size_t size)
{
	return alloc_allowed() ? realloc(ptr, size) : NULL;
}

/* ---- One linear-probing table ---- */

static inline bool table_has_room(const struct kv_table *t, size_t n)
{
	/* load stays <= 3/4 */
	return t->slots && n <= (t->mask + 1) / 4 * 3;
}

/* The slot holding key, or NULL. */
static struct kv_slot *table_find(const struct kv_table *t, uint64_t h, const void *key, size_t len)
{
	if (!t->slots)
		return NULL;
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct kv_slot *s = &t->slots[i];
		if (!s->entry)
			return NULL;
		if (s->hash == h && s->entry->key_len == len && memcmp(s->entry->data, key, len) == 0)
			return s;
	}
}

/* Inserts a key known to be absent; the table has room. */
static void table_insert(struct kv_table *t, uint64_t h, struct kv_entry *e)
{
	size_t i = h & t->mask;

	while (t->slots[i].entry)
		i = (i + 1) & t->mask;
	t->slots[i] = (struct kv_slot){ h, e };
	t->used++;
}

/* Empties slot i and shifts the rest of its cluster back (Knuth 6.4
 * Algorithm R): an entry at j may move to the hole at i unless its home
 * slot lies cyclically in (i, j]. */
static void table_remove_at(struct kv_table *t, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->slots[j].entry)
			break;
		size_t home = t->slots[j].hash & t->mask;
		bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i] = (struct kv_slot){ 0, NULL };
	t->used--;
}

static int table_alloc(struct kv_table *t, size_t capacity)
{
	struct kv_slot *slots = kv_calloc(capacity, sizeof *slots);

	if (!slots)
		return -ENOMEM;
	*t = (struct kv_table){ slots, capacity - 1, 0 };
	return 0;
}

/* ---- Incremental rehash ---- */

static void migrate(struct kv *kv, size_t work)
{
	struct kv_table *old = &kv->old;

	if (!old->slots)
		return;
	while (work-- > 0 && kv->migrate_pos <= old->mask) {
		struct kv_slot s = old->slots[kv->migrate_pos];
		if (!s.entry) {
			kv->migrate_pos++;
			continue;
		}
		/* the shift may pull another entry into this slot: look again */
		table_remove_at(old, kv->migrate_pos);
		table_insert(&kv->cur, s.hash, s.entry);
	}
	if (kv->migrate_pos > old->mask || old->used == 0) {
		free(old->slots);
		*old = (struct kv_table){ NULL, 0, 0 };
		kv->migrate_pos = 0;
	}
}

static void migrate_all(struct kv *kv)
{
	while (kv->old.slots)
		migrate(kv, SIZE_MAX);
}

static size_t capacity_for(size_t n)
{
	size_t cap = MIN_CAPACITY;

	while (cap / 4 * 3 < n)
		cap *= 2;
	return cap;
}

/* Makes room in cur for one more entry. */
static int grow_for_insert(struct kv *kv)
{
	struct kv_table bigger;
	int rv;

	if (table_has_room(&kv->cur, kv->cur.used + 1))
		return 0;
	if (!kv->cur.slots)
		return table_alloc(&kv->cur, MIN_CAPACITY);
	/* A migration still running here means the old table was not drained in
	 * time (cannot happen with MIGRATE_WORK = 32, see the top): finish it. */
	migrate_all(kv);
	rv = table_alloc(&bigger, (kv->cur.mask + 1) * 2);
	if (rv < 0)
		return rv;
	kv->old = kv->cur;
	kv->cur = bigger;
	kv->migrate_pos = 0;
	return 0;
}

/* ---- Public map API ---- */

struct kv *kv_new(void)
{
	struct kv *kv = kv_calloc(1, sizeof *kv);

	if (!kv)
		return NULL;
	/* The table seed only needs to be unpredictable to clients; if the
	 * kernel has no entropy yet, time and addresses still vary per run. */
	if (getrandom(kv->seed, sizeof kv->seed, GRND_NONBLOCK) != (ssize_t)sizeof kv->seed) {
		struct timespec ts;
		uint64_t a, b;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
		b = (uint64_t)(uintptr_t)kv ^ (uint64_t)(uintptr_t)&ts;
		memcpy(kv->seed, &a, 8);
		memcpy(kv->seed + 8, &b, 8);
	}
	return kv;
}

static void table_free_entries(struct kv_table *t)
{
	if (!t->slots)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		free(t->slots[i].entry);
	free(t->slots);
}

struct kv *kv_free(struct kv *kv)
{
	if (!kv)
		return NULL;
	table_free_entries(&kv->cur);
	table_free_entries(&kv->old);
	free(kv);
	return NULL;
}

static struct kv_slot *find(const struct kv *kv, uint64_t h, const void *key, size_t len)
{
	struct kv_slot *s = table_find(&kv->cur, h, key, len);

	return s ? s : table_find(&kv->old, h, key, len);
}

static void view_of(const struct kv_entry *e, struct kv_view *ret)
{
	ret->key = e->data;
	ret->key_len = e->key_len;
	ret->value = e->data + e->key_len;
	ret->value_len = e->value_len;
}

bool kv_get(const struct kv *kv, const void *key, size_t key_len, struct kv_view *ret)
{
	struct kv_slot *s;

	if (key_len > KV_ENTRY_MAX)
		return false;
	if (!key)
		key = ""; /* (NULL, 0): memcmp and pointer arithmetic need an object */
	s = find(kv, key_hash(kv, key, key_len), key, key_len);
	if (!s)
		return false;
	view_of(s->entry, ret);
	return true;
}

int kv_put(struct kv *kv, const void *key, size_t key_len, const void *value, size_t value_len)
{
	struct kv_entry *e, *prev;
	struct kv_slot *s;
	uint64_t h;
	int rv;

	if (key_len > KV_ENTRY_MAX || value_len > KV_ENTRY_MAX - key_len)
		return -E2BIG;
	if (!key)
		key = "";
	migrate(kv, MIGRATE_WORK);
	h = key_hash(kv, key, key_len);
	s = find(kv, h, key, key_len);
	if (s && s->entry->value_len == value_len) {
		/* same size: overwrite in place, no allocation */
		if (value_len)
			memcpy(s->entry->data + key_len, value, value_len);
		return 0;
	}
	e = kv_malloc(sizeof *e + key_len + value_len);
	if (!e)
		return -ENOMEM;
	e->key_len = (uint32_t)key_len;
	e->value_len = (uint32_t)value_len;
	if (key_len)
		memcpy(e->data, key, key_len);
	if (value_len)
		memcpy(e->data + key_len, value, value_len);
	if (s) {
		prev = s->entry;
		s->entry = e;
		kv->bytes = kv->bytes - prev->value_len + value_len;
		free(prev);
		return 0;
	}
	rv = grow_for_insert(kv);
	if (rv < 0) {
		free(e);
		return rv;
	}
	table_insert(&kv->cur, h, e);
	kv->count++;
	kv->bytes += key_len + value_len;
	return 0;
}

bool kv_delete(struct kv *kv, const void *key, size_t key_len)
{
	struct kv_table *t = &kv->cur;
	struct kv_slot *s;
	uint64_t h;

	if (key_len > KV_ENTRY_MAX)
		return false;
	if (!key)
		key = "";
	migrate(kv, MIGRATE_WORK);
	h = key_hash(kv, key, key_len);
	s = table_find(t, h, key, key_len);
	if (!s) {
		t = &kv->old;
		s = table_find(t, h, key, key_len);
	}
	if (!s)
		return false;
	kv->count--;
	kv->bytes -= (uint64_t)s->entry->key_len + s->entry->value_len;
	free(s->entry);
	table_remove_at(t, (size_t)(s - t->slots));
	return true;
}

size_t kv_count(const struct kv *kv)
{
	return kv->count;
}

uint64_t kv_bytes(const struct kv *kv)
{
	return kv->bytes;
}

int kv_reserve(struct kv *kv, size_t n)
{
	struct kv_table bigger;
	size_t cap;
	int rv;

	if (n < kv->count)
		n = kv->count;
	if (table_has_room(&kv->cur, n) && !kv->old.slots)
		return 0;
	if (n > SIZE_MAX / 2 / sizeof(struct kv_slot))
		return -ENOMEM;
	cap = capacity_for(n);
	if (kv->cur.slots && cap <= kv->cur.mask + 1) {
		/* big enough already, only a migration is pending */
		migrate_all(kv);
		return 0;
	}
	rv = table_alloc(&bigger, cap);
	if (rv < 0)
		return rv;
	/* one-shot rehash: reserve is for loading, before anyone waits on us */
	for (int k = 0; k < 2; k++) {
		struct kv_table *t = k ? &kv->cur : &kv->old;
		if (!t->slots)
			continue;
		for (size_t i = 0; i <= t->mask; i++)
			if (t->slots[i].entry)
				table_insert(&bigger, t->slots[i].hash, t->slots[i].entry);
		free(t->slots);
	}
	kv->old = (struct kv_table){ NULL, 0, 0 };
	kv->migrate_pos = 0;
	kv->cur = bigger;
	return 0;
}

void kv_iter_init(struct kv_iter *it, const struct kv *kv)
{
	it->kv = kv;
	it->table = 0;
	it->pos = kv->migrate_pos;
}

bool kv_iter_next(struct kv_iter *it, struct kv_view *ret)
{
	for (; it->table < 2; it->table++, it->pos = 0) {
		const struct kv_table *t = it->table ? &it->kv->cur : &it->kv->old;
		if (!t->slots)
			continue;
		while (it->pos <= t->mask) {
			const struct kv_entry *e = t->slots[it->pos++].entry;
			/* entries are scattered on the heap: fetch ahead */
			__builtin_prefetch(t->slots[(it->pos + PREFETCH_AHEAD) & t->mask].entry);
			if (e) {
				view_of(e, ret);
				return true;
			}
		}
	}
	return false;
}

uint64_t kv_content_hash(const struct kv *kv)
{
	uint64_t sum = 0;

	for (int k = 0; k < 2; k++) {
		const struct kv_table *t = k ? &kv->cur : &kv->old;
		if (!t->slots)
			continue;
		for (size_t i = 0; i <= t->mask; i++) {
			const struct kv_entry *e = t->slots[i].entry;
			__builtin_prefetch(t->slots[(i + PREFETCH_AHEAD) & t->mask].entry);
			if (e)
				sum += kv_content_digest(e, entry_size(e));
		}
	}
	return kv_content_finish(sum, kv->count);
}

/* ---- Apply ---- */

int kv_apply(struct kv *kv, uint64_t index, const struct cmd *cmd)
{
	int rv = 0;

	if (index <= kv->applied_index)
		return KV_APPLY_STALE;
	/* No default: a new command type (raftd's delete) must be handled here
	 * before it compiles with -Werror (-Wswitch). */
	switch (cmd->type) {
	case CMD_WRITE:
		rv = kv_put(kv, cmd->key.ptr, cmd->key.len, cmd->value.ptr, cmd->value.len);
		break;
	case CMD_DELETE:
		kv_delete(kv, cmd->key.ptr, cmd->key.len); /* an absent key is fine */
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

uint64_t kv_applied_index(const struct kv *kv)
{
	return kv->applied_index;
}

void kv_set_applied_index(struct kv *kv, uint64_t index)
{
	kv->applied_index = index;
}
