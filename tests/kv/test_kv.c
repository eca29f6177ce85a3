/* tests/kv/test_kv.c — the KV state machine: map against a reference model,
 * apply, content hash, the MVCC store behind it (v3 writes, compaction, the
 * retention rule), snapshots on real files (round trip with history,
 * version 1 files, atomic replace, every truncation and bit flip refused,
 * latest-valid selection, a forked writer while the parent keeps changing
 * the map). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/command.h"
#include "src/kv/kv.h"
#include "base/crc32c.h"
#include "tests/lib/check_main.h"

/* ---- helpers ---- */

/* Check records every passing ck_assert (a write to its pipe), which costs
 * seconds under ASan in loops of millions: hot loops use this instead. */
#define REQUIRE(cond)                                                                   \
	do {                                                                            \
		if (!(cond))                                                            \
			ck_abort_msg("%s:%d: failed: %s", __FILE__, __LINE__, #cond);   \
	} while (0)

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64: fixed seeds, same run every time */
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void put_str(struct kv *kv, const char *k, const char *v)
{
	REQUIRE(kv_put(kv, k, strlen(k), v, strlen(v)) == 0);
}

static void assert_get(const struct kv *kv, const void *k, size_t klen, const void *v, size_t vlen)
{
	struct kv_view view;
	if (!kv_get(kv, k, klen, &view))
		ck_abort_msg("key of %zu bytes missing", klen);
	REQUIRE(view.key_len == klen);
	REQUIRE(view.value_len == vlen);
	REQUIRE(klen == 0 || memcmp(view.key, k, klen) == 0);
	REQUIRE(vlen == 0 || memcmp(view.value, v, vlen) == 0);
}

/* Every entry of a is in b with the same value, and the sizes match. */
static void assert_same_contents(const struct kv *a, const struct kv *b)
{
	struct kv_iter it;
	struct kv_view v;
	size_t n = 0;

	kv_iter_init(&it, a);
	while (kv_iter_next(&it, &v)) {
		assert_get(b, v.key, v.key_len, v.value, v.value_len);
		n++;
	}
	ck_assert_uint_eq(n, kv_count(a));
	ck_assert_uint_eq(kv_count(a), kv_count(b));
	ck_assert_uint_eq(kv_bytes(a), kv_bytes(b));
	ck_assert_uint_eq(kv_content_hash(a), kv_content_hash(b));
}

static char tmpdir[256];

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test_kv.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(tmpdir);
}

static char *path_in(const char *name) /* static buffer: one at a time */
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

static int count_files(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool file_exists(const char *name)
{
	struct stat st;
	return stat(path_in(name), &st) == 0;
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* A map of n entries with varied sizes, applied at index n. */
static struct kv *sample_map(size_t n, size_t max_value)
{
	struct kv *kv = kv_new();
	char key[32], value[4096];

	ck_assert_ptr_nonnull(kv);
	ck_assert_uint_le(max_value, sizeof value);
	for (size_t i = 0; i < n; i++) {
		int klen = snprintf(key, sizeof key, "key%zu", i);
		size_t vlen = max_value ? (size_t)(rnd() % (max_value + 1)) : 0;
		for (size_t j = 0; j < vlen; j++)
			value[j] = (char)('a' + (i + j) % 26);
		REQUIRE(kv_put(kv, key, (size_t)klen, value, vlen) == 0);
	}
	kv_set_applied_index(kv, n);
	return kv;
}

static struct kv_member members3[3] = {
	{ { "alpha", 5 }, { "http://localhost:4001", 21 }, false },
	{ { "be\0ta", 5 }, { "", 0 }, false }, /* binary-safe, and goraft raftd's empty self URL */
	{ { "gamma", 5 }, { "http://10.0.0.3:4003", 20 }, false },
};

static struct kv_snapshot_meta meta_for(const struct kv *kv, uint64_t term)
{
	return (struct kv_snapshot_meta){ kv_applied_index(kv), term, 3, members3 };
}

static void assert_meta_eq(const struct kv_snapshot_meta *got, const struct kv_snapshot_meta *want)
{
	ck_assert_uint_eq(got->last_index, want->last_index);
	ck_assert_uint_eq(got->last_term, want->last_term);
	ck_assert_uint_eq(got->n_members, want->n_members);
	for (size_t i = 0; i < want->n_members; i++) {
		const struct cmd_str *g[2] = { &got->members[i].name, &got->members[i].connection_string };
		const struct cmd_str *w[2] = { &want->members[i].name,
					       &want->members[i].connection_string };
		for (int k = 0; k < 2; k++) {
			ck_assert_uint_eq(g[k]->len, w[k]->len);
			REQUIRE(memcmp(g[k]->ptr, w[k]->ptr, w[k]->len) == 0);
			ck_assert_int_eq(g[k]->ptr[g[k]->len], '\0');
		}
		ck_assert_int_eq(got->members[i].learner, want->members[i].learner);
	}
}

/* ---- hashing ---- */

START_TEST(test_siphash_reference_vectors)
{
	uint8_t key[16], msg[15];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	/* from the SipHash paper and its reference implementation */
	ck_assert_uint_eq(kv_siphash24(key, msg, 0), UINT64_C(0x726fdb47dd0e0e31));
	ck_assert_uint_eq(kv_siphash24(key, msg, 15), UINT64_C(0xa129ca6149be45e5));
}
END_TEST

START_TEST(test_content_hash_order_independent)
{
	struct kv *a = kv_new(), *b = kv_new(), *empty1 = kv_new(), *empty2 = kv_new();
	char k[16], v[16];
	uint64_t h;

	ck_assert_uint_eq(kv_content_hash(empty1), kv_content_hash(empty2));
	for (int i = 0; i < 3000; i++) {
		snprintf(k, sizeof k, "k%d", i);
		snprintf(v, sizeof v, "v%d", i * 7);
		put_str(a, k, v);
	}
	/* b: reverse order, with detours (other values, deleted extras), so its
	 * history and table layout differ */
	for (int i = 2999; i >= 0; i--) {
		snprintf(k, sizeof k, "k%d", i);
		put_str(b, k, "something longer first");
		snprintf(v, sizeof v, "x%d", i);
		put_str(b, v, "extra");
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(k, sizeof k, "k%d", i);
		snprintf(v, sizeof v, "v%d", i * 7);
		put_str(b, k, v);
		snprintf(v, sizeof v, "x%d", i);
		REQUIRE(kv_delete(b, v, strlen(v)));
	}
	h = kv_content_hash(a);
	ck_assert_uint_eq(h, kv_content_hash(b));
	ck_assert_uint_ne(h, kv_content_hash(empty1));

	put_str(b, "k17", "v118"); /* one byte differs */
	ck_assert_uint_ne(h, kv_content_hash(b));
	put_str(b, "k17", "v119");
	ck_assert_uint_eq(h, kv_content_hash(b));
	REQUIRE(kv_delete(b, "k17", 3));
	ck_assert_uint_ne(h, kv_content_hash(b));
	/* the length prefix separates ("ab","c") from ("a","bc") */
	put_str(empty1, "ab", "c");
	put_str(empty2, "a", "bc");
	ck_assert_uint_ne(kv_content_hash(empty1), kv_content_hash(empty2));
	kv_free(a);
	kv_free(b);
	kv_free(empty1);
	kv_free(empty2);
}
END_TEST

/* The hash is stable across processes and builds (random table seeds, any
 * layout): a fixed content has a fixed value, computed from the definition in
 * kv.h with an independent SipHash implementation (Python). */
START_TEST(test_content_hash_golden)
{
	struct kv *kv = kv_new();
	uint8_t rec[8 + 2];
	uint64_t d;

	ck_assert_uint_eq(kv_content_hash(kv), kv_content_finish(0, 0));
	put_str(kv, "a", "1");
	memcpy(rec, "\x01\0\0\0\x01\0\0\0a1", sizeof rec);
	d = kv_content_digest(rec, sizeof rec);
	ck_assert_uint_eq(kv_content_hash(kv), kv_content_finish(d, 1));
	ck_assert_uint_eq(kv_content_hash(kv), UINT64_C(0xa2d9640181e537ab));
	kv_free(kv);
}
END_TEST

/* ---- map ---- */

START_TEST(test_put_get_overwrite_delete)
{
	struct kv *kv = kv_new();
	struct kv_view v;

	ck_assert_ptr_nonnull(kv);
	REQUIRE(!kv_get(kv, "a", 1, &v));
	REQUIRE(!kv_delete(kv, "a", 1));
	put_str(kv, "a", "one");
	assert_get(kv, "a", 1, "one", 3);
	ck_assert_uint_eq(kv_count(kv), 1);
	ck_assert_uint_eq(kv_bytes(kv), 4);
	put_str(kv, "a", "two"); /* same length: in place */
	assert_get(kv, "a", 1, "two", 3);
	put_str(kv, "a", "three");
	assert_get(kv, "a", 1, "three", 5);
	ck_assert_uint_eq(kv_count(kv), 1);
	ck_assert_uint_eq(kv_bytes(kv), 6);
	put_str(kv, "b", "");
	assert_get(kv, "b", 1, "", 0);
	REQUIRE(kv_delete(kv, "a", 1));
	REQUIRE(!kv_get(kv, "a", 1, &v));
	REQUIRE(!kv_delete(kv, "a", 1));
	ck_assert_uint_eq(kv_count(kv), 1);
	ck_assert_uint_eq(kv_bytes(kv), 1);
	/* entry size limit */
	ck_assert_int_eq(kv_put(kv, "k", 1, "", (size_t)KV_ENTRY_MAX), -E2BIG);
	ck_assert_int_eq(kv_put(kv, "k", (size_t)KV_ENTRY_MAX + 1, "", 0), -E2BIG);
	/* and the store's per key and per value (the pointers are not read) */
	ck_assert_int_eq(kv_put(kv, "k", 1, "", (size_t)MVCC_LEN_MAX + 1), -E2BIG);
	ck_assert_int_eq(kv_put(kv, "k", (size_t)MVCC_LEN_MAX + 1, "", 0), -E2BIG);
	ck_assert_uint_eq(kv_count(kv), 1);
	kv_free(kv);
	ck_assert_ptr_null(kv_free(NULL));
}
END_TEST

START_TEST(test_binary_and_empty_keys)
{
	struct kv *kv = kv_new();
	struct kv_view v;

	REQUIRE(kv_put(kv, "", 0, "empty key", 9) == 0);
	REQUIRE(kv_put(kv, "a\0b", 3, "v1\0x", 4) == 0);
	REQUIRE(kv_put(kv, "a\0c", 3, "v2", 2) == 0);
	REQUIRE(kv_put(kv, "a", 1, "v3", 2) == 0);
	REQUIRE(kv_put(kv, "\0", 1, "", 0) == 0);
	assert_get(kv, "", 0, "empty key", 9);
	assert_get(kv, "a\0b", 3, "v1\0x", 4);
	assert_get(kv, "a\0c", 3, "v2", 2);
	assert_get(kv, "a", 1, "v3", 2);
	assert_get(kv, "\0", 1, "", 0);
	REQUIRE(!kv_get(kv, "a\0", 2, &v));
	/* (NULL, 0) is the empty string */
	ck_assert_int_eq(kv_put(kv, NULL, 0, NULL, 0), 0);
	assert_get(kv, NULL, 0, NULL, 0);
	assert_get(kv, "", 0, "", 0);
	REQUIRE(kv_delete(kv, NULL, 0));
	ck_assert_int_eq(kv_put(kv, "", 0, "empty key", 9), 0);
	ck_assert_uint_eq(kv_count(kv), 5);
	REQUIRE(kv_delete(kv, "", 0));
	REQUIRE(!kv_get(kv, "", 0, &v));
	assert_get(kv, "\0", 1, "", 0);
	kv_free(kv);
}
END_TEST

/* Reference model: per key id, present or not and its value. */
enum { MODEL_KEYS = 3000, MODEL_VMAX = 48 };
struct model_value {
	bool present;
	uint8_t len;
	uint8_t bytes[MODEL_VMAX];
};

/* Binary keys of 2..8 bytes: the id in little-endian, then NULs; the length
 * follows from the id, so distinct ids give distinct keys. */
static size_t model_key(unsigned id, uint8_t *out)
{
	size_t len = 2 + id % 7;
	memset(out, 0, len);
	out[0] = (uint8_t)id;
	out[1] = (uint8_t)(id >> 8);
	return len;
}

static void model_check_all(const struct kv *kv, unsigned nkeys, const struct model_value *m,
			    const uint8_t keys[][8], const size_t *klens)
{
	size_t n = 0, seen = 0;
	uint64_t bytes = 0;
	struct kv_iter it;
	struct kv_view v;

	for (unsigned id = 0; id < nkeys; id++) {
		if (m[id].present) {
			assert_get(kv, keys[id], klens[id], m[id].bytes, m[id].len);
			n++;
			bytes += klens[id] + m[id].len;
		} else {
			REQUIRE(!kv_get(kv, keys[id], klens[id], &v));
		}
	}
	REQUIRE(kv_count(kv) == n);
	REQUIRE(kv_bytes(kv) == bytes);
	kv_iter_init(&it, kv);
	while (kv_iter_next(&it, &v))
		seen++;
	REQUIRE(seen == n);
}

/* Random puts, deletes and gets against the model, over a key space of
 * nkeys. With 12 or 24 keys the table stays small and nearly full around
 * each doubling, so probe clusters often wrap past the end of the table
 * (the delicate case of backward-shift deletion). */
static void random_ops(unsigned nkeys, int ops, uint64_t seed)
{
	static struct model_value m[MODEL_KEYS];
	static uint8_t keys[MODEL_KEYS][8];
	static size_t klens[MODEL_KEYS];
	struct kv *kv = kv_new();

	ck_assert_uint_le(nkeys, MODEL_KEYS);
	rng_state = seed;
	memset(m, 0, sizeof m);
	for (unsigned id = 0; id < nkeys; id++)
		klens[id] = model_key(id, keys[id]);
	for (int op = 0; op < ops; op++) {
		unsigned id = (unsigned)(rnd() % nkeys);
		unsigned what = (unsigned)(rnd() % 10);
		struct kv_view v;
		if (what < 5) {
			uint8_t len = (uint8_t)(rnd() % (MODEL_VMAX + 1));
			m[id].present = true;
			m[id].len = len;
			for (int i = 0; i < len; i++)
				m[id].bytes[i] = (uint8_t)rnd();
			REQUIRE(kv_put(kv, keys[id], klens[id], m[id].bytes, len) == 0);
		} else if (what < 8) {
			REQUIRE(kv_delete(kv, keys[id], klens[id]) == m[id].present);
			m[id].present = false;
		} else if (m[id].present) {
			assert_get(kv, keys[id], klens[id], m[id].bytes, m[id].len);
		} else {
			REQUIRE(!kv_get(kv, keys[id], klens[id], &v));
		}
		if (op % 501 == 0) { /* the history goes, in steps; the live keys stay */
			(void)mvcc_compact_begin(kv_mvcc(kv), mvcc_revision(kv_mvcc(kv)));
			kv_compact_step(kv, 5);
		}
		if (op % (nkeys < 100 ? 97 : 10000) == 0)
			model_check_all(kv, nkeys, m, (const uint8_t(*)[8])keys, klens);
	}
	model_check_all(kv, nkeys, m, (const uint8_t(*)[8])keys, klens);
	kv_free(kv);
}

START_TEST(test_random_ops_against_model)
{
	random_ops(MODEL_KEYS, 100000, 42);
	random_ops(12, 30000, 43);
	random_ops(24, 30000, 44);
}
END_TEST

/* Many doublings; every key stays reachable in the middle of each
 * incremental rehash, and iteration sees every entry exactly once then. */
START_TEST(test_growth_across_resizes)
{
	enum { N = 200000 };
	struct kv *kv = kv_new();
	char k[16];
	struct kv_view v;

	rng_state = 7;
	for (int i = 0; i < N; i++) {
		int n = snprintf(k, sizeof k, "g%d", i);
		REQUIRE(kv_put(kv, k, (size_t)n, &i, sizeof i) == 0);
		if (i % 97 == 0) { /* a random earlier key, possibly still in the old table */
			int j = (int)(rnd() % (uint64_t)(i + 1));
			n = snprintf(k, sizeof k, "g%d", j);
			assert_get(kv, k, (size_t)n, &j, sizeof j);
		}
		if (i % 997 == 0) { /* often mid-rehash: full iteration */
			struct kv_iter it;
			size_t seen = 0;
			kv_iter_init(&it, kv);
			while (kv_iter_next(&it, &v)) {
				REQUIRE(v.key[0] == 'g' && v.value_len == sizeof(int));
				seen++;
			}
			ck_assert_uint_eq(seen, (size_t)i + 1);
		}
	}
	ck_assert_uint_eq(kv_count(kv), N);
	for (int i = 0; i < N; i += 2) {
		int n = snprintf(k, sizeof k, "g%d", i);
		REQUIRE(kv_delete(kv, k, (size_t)n));
	}
	for (int i = 0; i < N; i++) {
		int n = snprintf(k, sizeof k, "g%d", i);
		if (i % 2)
			assert_get(kv, k, (size_t)n, &i, sizeof i);
		else
			REQUIRE(!kv_get(kv, k, (size_t)n, &v));
	}
	ck_assert_uint_eq(kv_count(kv), N / 2);
	/* reserve on a populated map keeps everything */
	ck_assert_int_eq(kv_reserve(kv, 3 * N), 0);
	for (int i = 1; i < N; i += 2) {
		int n = snprintf(k, sizeof k, "g%d", i);
		assert_get(kv, k, (size_t)n, &i, sizeof i);
	}
	kv_free(kv);
}
END_TEST

/* ---- apply ---- */

static struct cmd write_cmd(const char *k, const char *v)
{
	return (struct cmd){ .type = CMD_WRITE, .key = cmd_str_ref(k, strlen(k)),
			     .value = cmd_str_ref(v, strlen(v)) };
}

START_TEST(test_apply_writes_and_idempotence)
{
	struct kv *kv = kv_new();
	struct cmd c;
	uint64_t h;

	ck_assert_uint_eq(kv_applied_index(kv), 0);
	c = write_cmd("k", "v1");
	ck_assert_int_eq(kv_apply(kv, 1, &c), 0);
	c = write_cmd("k", "v2");
	ck_assert_int_eq(kv_apply(kv, 2, &c), 0);
	assert_get(kv, "k", 1, "v2", 2);
	ck_assert_uint_eq(kv_applied_index(kv), 2);
	h = kv_content_hash(kv);

	/* replaying the WAL tail over a snapshot: indexes <= applied change nothing */
	c = write_cmd("k", "v1");
	ck_assert_int_eq(kv_apply(kv, 1, &c), KV_APPLY_STALE);
	c = write_cmd("other", "x");
	ck_assert_int_eq(kv_apply(kv, 2, &c), KV_APPLY_STALE);
	assert_get(kv, "k", 1, "v2", 2);
	ck_assert_uint_eq(kv_content_hash(kv), h);
	ck_assert_uint_eq(kv_applied_index(kv), 2);

	/* gaps are accepted */
	c = write_cmd("k", "v9");
	ck_assert_int_eq(kv_apply(kv, 9, &c), 0);
	ck_assert_uint_eq(kv_applied_index(kv), 9);

	/* a write that cannot be applied leaves the index where it was */
	c = (struct cmd){ .type = CMD_WRITE, .key = cmd_str_ref("k", 1),
			  .value = cmd_str_ref("", (size_t)KV_ENTRY_MAX) };
	ck_assert_int_eq(kv_apply(kv, 10, &c), -E2BIG);
	ck_assert_uint_eq(kv_applied_index(kv), 9);
	assert_get(kv, "k", 1, "v9", 2);
	kv_free(kv);
}
END_TEST

START_TEST(test_apply_ignores_membership)
{
	struct kv *kv = kv_new();
	struct cmd join = { .type = CMD_JOIN, .name = cmd_str_ref("n2", 2),
			    .connection_string = cmd_str_ref("http://h:2", 10) };
	struct cmd leave = { .type = CMD_LEAVE, .name = cmd_str_ref("n2", 2) };
	struct cmd nop = { .type = CMD_NOP };
	struct cmd empty_write = { .type = CMD_WRITE }; /* no key, no value: "" = "" */
	uint64_t h = kv_content_hash(kv);

	ck_assert_int_eq(kv_apply(kv, 1, &join), 0);
	ck_assert_int_eq(kv_apply(kv, 2, &nop), 0);
	ck_assert_int_eq(kv_apply(kv, 3, &leave), 0);
	ck_assert_uint_eq(kv_count(kv), 0);
	ck_assert_uint_eq(kv_content_hash(kv), h);
	ck_assert_uint_eq(kv_applied_index(kv), 3);
	ck_assert_int_eq(kv_apply(kv, 4, &empty_write), 0);
	assert_get(kv, "", 0, "", 0);
	kv_free(kv);
}
END_TEST

START_TEST(test_apply_delete)
{
	struct kv *kv = kv_new();
	struct cmd c = write_cmd("k", "v"), d = { .type = CMD_DELETE, .key = cmd_str_ref("k", 1) };
	uint64_t empty = kv_content_hash(kv);

	ck_assert_int_eq(kv_apply(kv, 1, &c), 0);
	ck_assert_int_eq(kv_apply(kv, 2, &d), 0);
	ck_assert_uint_eq(kv_count(kv), 0);
	ck_assert_uint_eq(kv_content_hash(kv), empty);
	ck_assert_uint_eq(kv_applied_index(kv), 2);
	/* an absent key: applied all the same */
	ck_assert_int_eq(kv_apply(kv, 3, &d), 0);
	ck_assert_uint_eq(kv_applied_index(kv), 3);
	/* replayed over a snapshot: stale, nothing done */
	c = write_cmd("k", "again");
	ck_assert_int_eq(kv_apply(kv, 4, &c), 0);
	ck_assert_int_eq(kv_apply(kv, 2, &d), KV_APPLY_STALE);
	assert_get(kv, "k", 1, "again", 5);
	kv_free(kv);
}
END_TEST

/* Commands as they come out of a goraft log entry. */
START_TEST(test_apply_decoded_commands)
{
	static const char payload[] = "{\"key\":\"a\\u0000b\",\"value\":\"x \\u003c y\"}\n";
	struct kv *kv = kv_new();
	struct cmd c;
	char err[200];

	ck_assert_int_eq(cmd_decode((const uint8_t *)"write", 5, true, (const uint8_t *)payload,
				    sizeof payload - 1, &c, err, sizeof err),
			 0);
	ck_assert_int_eq(kv_apply(kv, 5, &c), 0);
	cmd_free(&c);
	assert_get(kv, "a\0b", 3, "x < y", 5);
	ck_assert_int_eq(cmd_decode((const uint8_t *)"raft:nop", 8, false, NULL, 0, &c, err, sizeof err), 0);
	ck_assert_int_eq(kv_apply(kv, 6, &c), 0);
	cmd_free(&c);
	ck_assert_uint_eq(kv_applied_index(kv), 6);
	ck_assert_uint_eq(kv_count(kv), 1);
	kv_free(kv);
}
END_TEST

/* ---- the MVCC store behind the map (issue 19) ---- */

static struct mvcc_op put_op(const char *k, const char *v)
{
	return (struct mvcc_op){ .type = MVCC_OP_PUT,
				 .put = { .key = k, .key_len = strlen(k), .value = v, .value_len = strlen(v) } };
}

static struct cmd delete_cmd(const char *k)
{
	return (struct cmd){ .type = CMD_DELETE, .key = cmd_str_ref(k, strlen(k)) };
}

/* The live value of k as the v3 API reads it, with its revisions. */
static bool v3_get(const struct kv *kv, const char *k, struct mvcc_kv *ret)
{
	struct mvcc_range_req r = { .key = k, .key_len = strlen(k) };
	struct mvcc_result res;
	bool found;

	ck_assert_int_eq(mvcc_read(kv_mvcc_const(kv), &r, &res), 0);
	found = res.op.range.n_kvs == 1;
	if (found)
		*ret = res.op.range.kvs[0];
	mvcc_result_free(&res); /* the views are the store's, not the result's */
	return found;
}

static uint32_t hash_kv(const struct kv *kv)
{
	uint32_t h;
	ck_assert_int_eq(mvcc_hash(kv_mvcc_const(kv), 0, &h), 0);
	return h;
}

/* One store: /db writes and deletes are v3 revisions, v3 puts are /db
 * values, and the map's counts are the live keys'. */
START_TEST(test_store_is_one)
{
	struct kv *kv = kv_new();
	struct mvcc_op op = put_op("v3key", "from v3");
	struct mvcc_result res;
	struct mvcc_kv got;
	struct cmd c;
	int err;

	c = write_cmd("k", "one");
	ck_assert_int_eq(kv_apply(kv, 1, &c), 0);
	c = write_cmd("k", "two");
	ck_assert_int_eq(kv_apply(kv, 2, &c), 0);
	ck_assert_int_eq(mvcc_revision(kv_mvcc_const(kv)), 3);
	REQUIRE(v3_get(kv, "k", &got));
	ck_assert_int_eq(got.create_revision, 2);
	ck_assert_int_eq(got.mod_revision, 3);
	ck_assert_int_eq(got.version, 2);
	ck_assert_uint_eq(got.value_len, 3);

	ck_assert_int_eq(kv_apply_op(kv, 3, &op, &res, &err), 0);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(res.revision, 4);
	mvcc_result_free(&res);
	assert_get(kv, "v3key", 5, "from v3", 7);
	ck_assert_uint_eq(kv_applied_index(kv), 3);

	c = delete_cmd("k");
	ck_assert_int_eq(kv_apply(kv, 4, &c), 0);
	REQUIRE(!v3_get(kv, "k", &got));
	REQUIRE(!kv_get(kv, "k", 1, &(struct kv_view){ 0 }));
	ck_assert_int_eq(mvcc_revision(kv_mvcc_const(kv)), 5);
	ck_assert_uint_eq(kv_count(kv), 1);
	ck_assert_uint_eq(kv_bytes(kv), 5 + 7);
	ck_assert_uint_eq(mvcc_versions(kv_mvcc_const(kv)), 4); /* two puts and a tombstone of k, v3key */
	/* deleting an absent key writes nothing, as in etcd */
	ck_assert_int_eq(kv_apply(kv, 5, &c), 0);
	ck_assert_int_eq(mvcc_revision(kv_mvcc_const(kv)), 5);
	ck_assert_uint_eq(kv_applied_index(kv), 5);
	ck_assert_ptr_eq(kv_mvcc(kv), kv_mvcc_const(kv));
	kv_free(kv);
}
END_TEST

/* An entry etcd refuses is applied as a no-op on every member; running out
 * of memory changes nothing and says so. */
START_TEST(test_apply_op_errors)
{
	struct kv *kv = kv_new();
	struct mvcc_op op = put_op("k", "");
	struct mvcc_result res;
	struct cmd c = write_cmd("k", "v");
	uint64_t h;
	uint32_t mh;
	int err, rv;
	long n;

	ck_assert_int_eq(kv_apply(kv, 1, &c), 0);
	c = write_cmd("k", "w");
	ck_assert_int_eq(kv_apply(kv, 2, &c), 0);
	h = kv_content_hash(kv);
	mh = hash_kv(kv);

	op = put_op("missing", "");
	op.put.ignore_value = true;
	ck_assert_int_eq(kv_apply_op(kv, 3, &op, &res, &err), 0);
	ck_assert_int_eq(err, -MVCC_E_KEY_NOT_FOUND);
	ck_assert_ptr_null(res.arena);
	ck_assert_uint_eq(kv_applied_index(kv), 3);
	ck_assert_uint_eq(kv_content_hash(kv), h);
	ck_assert_uint_eq(hash_kv(kv), mh);
	ck_assert_int_eq(kv_apply_op(kv, 3, &op, &res, &err), KV_APPLY_STALE);

	/* a txn whose range reads below the compaction */
	ck_assert_int_eq(kv_apply_compact(kv, 4, 2, &err), 0);
	ck_assert_int_eq(err, 0);
	{
		struct mvcc_op get = { .type = MVCC_OP_RANGE, .range = { .key = "k", .key_len = 1, .revision = 1 } };
		struct mvcc_txn_req t = { .success = &get, .n_success = 1 };
		struct mvcc_op txn = { .type = MVCC_OP_TXN, .txn = &t };
		ck_assert_int_eq(kv_apply_op(kv, 5, &txn, &res, &err), 0);
		ck_assert_int_eq(err, -MVCC_E_COMPACTED);
		ck_assert_uint_eq(kv_applied_index(kv), 5);
	}
	mh = hash_kv(kv);

	/* compaction errors: no-ops too */
	ck_assert_int_eq(kv_apply_compact(kv, 6, 2, &err), 0);
	ck_assert_int_eq(err, -MVCC_E_COMPACTED);
	ck_assert_int_eq(kv_apply_compact(kv, 7, 99, &err), 0);
	ck_assert_int_eq(err, -MVCC_E_FUTURE_REV);
	ck_assert_uint_eq(kv_applied_index(kv), 7);
	ck_assert_int_eq(kv_apply_compact(kv, 7, 3, &err), KV_APPLY_STALE);
	ck_assert_int_eq(mvcc_compacted(kv_mvcc_const(kv)), 2);

	/* a two-put txn, failing at every allocation in turn */
	{
		struct mvcc_op puts[2] = { put_op("a", "1"), put_op("b", "2") };
		struct mvcc_txn_req t = { .success = puts, .n_success = 2 };
		struct mvcc_op txn = { .type = MVCC_OP_TXN, .txn = &t };
		for (n = 0;; n++) {
			kv_fail_alloc_after(n);
			rv = kv_apply_op(kv, 8, &txn, &res, &err);
			kv_fail_alloc_after(-1);
			if (rv == 0)
				break;
			ck_assert_int_eq(rv, -ENOMEM);
			ck_assert_uint_eq(kv_applied_index(kv), 7);
			ck_assert_uint_eq(kv_content_hash(kv), h);
			ck_assert_uint_eq(kv_bytes(kv), 2); /* k = w: a rollback restores the live bytes */
			ck_assert_uint_eq(kv_count(kv), 1);
			ck_assert_uint_eq(hash_kv(kv), mh);
			ck_assert_int_eq(mvcc_revision(kv_mvcc_const(kv)), 3);
		}
		ck_assert_int_ge(n, 2);
		ck_assert_int_eq(err, 0);
		ck_assert(res.op.txn->succeeded);
		ck_assert_int_eq(res.revision, 4);
		mvcc_result_free(&res);
	}
	/* a /db write the same way */
	h = kv_content_hash(kv);
	c = write_cmd("c", "3");
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_apply(kv, 9, &c);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		ck_assert_uint_eq(kv_applied_index(kv), 8);
		ck_assert_uint_eq(kv_content_hash(kv), h);
	}
	assert_get(kv, "c", 1, "3", 1);
	kv_free(kv);
}
END_TEST

/* Compaction as an entry, its steps, and that nothing a reader sees
 * depends on how far the steps went. */
START_TEST(test_apply_compact_and_steps)
{
	struct kv *a = kv_new(), *b = kv_new();
	uint64_t index = 0;
	char k[16], v[16];
	int err;

	for (int round = 0; round < 5; round++)
		for (int i = 0; i < 300; i++) {
			struct cmd c = write_cmd((snprintf(k, sizeof k, "k%d", i), k), (snprintf(v, sizeof v, "%d", round), v));
			index++;
			ck_assert_int_eq(kv_apply(a, index, &c), 0);
			ck_assert_int_eq(kv_apply(b, index, &c), 0);
		}
	ck_assert_uint_eq(mvcc_versions(kv_mvcc_const(a)), 1500);
	index++;
	ck_assert_int_eq(kv_apply_compact(a, index, 1200, &err), 0);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(kv_apply_compact(b, index, 1200, &err), 0);
	REQUIRE(mvcc_compacting(kv_mvcc_const(a)));
	/* a frees everything at once, b only through later applies */
	while (kv_compact_step(a, 7))
		;
	/* of each key the version at 1200 and the newer ones: k299's third
	 * round was written at 1201 */
	ck_assert_uint_eq(mvcc_versions(kv_mvcc_const(a)), 2 * 300 + 1);
	ck_assert_uint_eq(hash_kv(a), hash_kv(b));
	ck_assert_uint_eq(kv_content_hash(a), kv_content_hash(b));
	for (int i = 0; i < 20; i++) {
		struct cmd c = write_cmd("x", "y");
		index++;
		ck_assert_int_eq(kv_apply(a, index, &c), 0);
		ck_assert_int_eq(kv_apply(b, index, &c), 0);
	}
	REQUIRE(!mvcc_compacting(kv_mvcc_const(b))); /* 64 keys or more per apply */
	ck_assert_uint_eq(mvcc_versions(kv_mvcc_const(b)), mvcc_versions(kv_mvcc_const(a)));
	ck_assert_uint_eq(hash_kv(a), hash_kv(b));
	REQUIRE(!kv_compact_step(a, 1));
	kv_free(a);
	kv_free(b);
}
END_TEST

static int count_event(void *ctx, const struct mvcc_event *ev)
{
	(void)ev;
	++*(int64_t *)ctx;
	return 0;
}

/* The retention rule: the same compactions on every member, whatever its
 * own pacing of the steps; history bounded under /db writes alone. */
START_TEST(test_retention_rule)
{
	struct kv *a = kv_new(), *b = kv_new();
	const int64_t N = KV_HISTORY_REVISIONS, K = KV_COMPACT_EVERY;
	size_t max_versions = 0;
	char k[16], v[16];
	uint64_t index = 0;

	for (int64_t i = 0; i < 3 * K + N + 57; i++) {
		struct cmd c = write_cmd((snprintf(k, sizeof k, "k%d", (int)(i % 100)), k),
					 (snprintf(v, sizeof v, "%d", (int)i), v));
		index++;
		if (i % 5000 == 7) { /* a no-op entry and a delete now and then */
			struct cmd nop = { .type = CMD_NOP };
			struct cmd d = delete_cmd("k3");
			ck_assert_int_eq(kv_apply(a, index, &nop), 0);
			ck_assert_int_eq(kv_apply(b, index, &nop), 0);
			index++;
			ck_assert_int_eq(kv_apply(a, index, &d), 0);
			ck_assert_int_eq(kv_apply(b, index, &d), 0);
			index++;
		}
		/* the rule looks at the revision before each entry */
		int64_t r = mvcc_revision(kv_mvcc_const(a)), due = r / K * K;
		int64_t want = due > N ? due - N : -1;
		ck_assert_int_eq(kv_apply(a, index, &c), 0);
		ck_assert_int_eq(kv_apply(b, index, &c), 0);
		kv_compact_step(b, 3); /* b's loop is idle more often */
		if (mvcc_compacted(kv_mvcc_const(a)) != want)
			ck_abort_msg("revision %lld: compacted at %lld, the rule says %lld", (long long)r,
				     (long long)mvcc_compacted(kv_mvcc_const(a)), (long long)want);
		REQUIRE(mvcc_compacted(kv_mvcc_const(b)) == want);
		if (mvcc_versions(kv_mvcc_const(a)) > max_versions)
			max_versions = mvcc_versions(kv_mvcc_const(a));
	}
	ck_assert_int_ge(mvcc_compacted(kv_mvcc_const(a)), 3 * K - N);
	/* at most N + K revisions of history, each one version here, and the
	 * versions at the compaction of each key */
	ck_assert_uint_le(max_versions, (size_t)(N + K) + 100 + 10);
	ck_assert_uint_eq(hash_kv(a), hash_kv(b));
	ck_assert_uint_eq(mvcc_revision(kv_mvcc_const(a)), mvcc_revision(kv_mvcc_const(b)));
	/* the entry that reached a multiple of K keeps its events: the
	 * compaction begins with the next entry */
	while (mvcc_revision(kv_mvcc_const(a)) % K != K - 1) {
		struct cmd c = write_cmd("k1", "x");
		ck_assert_int_eq(kv_apply(a, ++index, &c), 0);
	}
	{
		struct mvcc_op op = put_op("k2", "y");
		struct mvcc_result res;
		int64_t before = mvcc_compacted(kv_mvcc_const(a)), n_events = 0;
		int err;
		ck_assert_int_eq(kv_apply_op(a, ++index, &op, &res, &err), 0);
		ck_assert_int_eq(res.revision % K, 0);
		ck_assert_int_eq(mvcc_compacted(kv_mvcc_const(a)), before);
		ck_assert_int_eq(mvcc_last_events(kv_mvcc_const(a), count_event, &n_events), 0);
		ck_assert_int_eq(n_events, 1);
		mvcc_result_free(&res);
		struct cmd nop = { .type = CMD_NOP };
		ck_assert_int_eq(kv_apply(a, ++index, &nop), 0);
		ck_assert_int_eq(mvcc_compacted(kv_mvcc_const(a)), mvcc_revision(kv_mvcc_const(a)) - N);
	}
	kv_free(a);
	kv_free(b);
}
END_TEST

/* A store with history, tombstones, a compaction (its pass half done) goes
 * through a snapshot whole: revision, compaction, every version. */
static struct kv *history_map(void)
{
	struct kv *kv = kv_new();
	uint64_t index = 0;
	char k[16], v[64];
	int err;

	for (int round = 0; round < 4; round++)
		for (int i = 0; i < 2000; i++) {
			struct cmd c = write_cmd((snprintf(k, sizeof k, "key%d", i), k),
						 (snprintf(v, sizeof v, "value %d of round %d", i, round), v));
			if ((i + round) % 7 == 0)
				c = delete_cmd(k);
			REQUIRE(kv_apply(kv, ++index, &c) == 0);
		}
	REQUIRE(kv_apply_compact(kv, ++index, 3000, &err) == 0 && err == 0);
	kv_compact_step(kv, 500); /* partway */
	REQUIRE(mvcc_compacting(kv_mvcc_const(kv)));
	return kv;
}

static int collect_version(void *ctx, const struct mvcc_version *v)
{
	uint64_t *h = ctx;
	h[0]++;
	h[1] = h[1] * 31 + kv_siphash24((const uint8_t *)"0123456789abcdef", v->key, v->key_len) +
	       kv_siphash24((const uint8_t *)"0123456789abcdef", v->value, v->value_len) +
	       (uint64_t)v->mod_revision * 3 + v->sub * 5u + (uint64_t)v->create_revision * 7 +
	       (uint64_t)v->version * 11 + (uint64_t)v->lease * 13;
	return 0;
}

static void assert_same_store(const struct kv *a, const struct kv *b)
{
	uint64_t ha[2] = { 0 }, hb[2] = { 0 };
	const struct mvcc *ma = kv_mvcc_const(a), *mb = kv_mvcc_const(b);

	assert_same_contents(a, b);
	ck_assert_int_eq(mvcc_revision(ma), mvcc_revision(mb));
	ck_assert_int_eq(mvcc_compacted(ma), mvcc_compacted(mb));
	ck_assert_int_eq(mvcc_iter_versions(ma, collect_version, ha), 0);
	ck_assert_int_eq(mvcc_iter_versions(mb, collect_version, hb), 0);
	ck_assert_uint_eq(ha[0], hb[0]);
	ck_assert_uint_eq(ha[1], hb[1]);
	ck_assert_uint_eq(hash_kv(a), hash_kv(b));
	ck_assert_uint_eq(kv_applied_index(a), kv_applied_index(b));
}

START_TEST(test_snapshot_keeps_history)
{
	struct kv *kv = history_map(), *back;
	struct kv_snapshot_meta meta = meta_for(kv, 7), got;
	struct mvcc_kv old;
	char err[512];
	uint8_t *buf, *again;
	size_t len, len2;
	int64_t rev;

	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	ck_assert_msg(kv_snapshot_decode(buf, len, "h", &back, &got, err, sizeof err) == 0, "%s", err);
	assert_same_store(kv, back);
	REQUIRE(!mvcc_compacting(kv_mvcc_const(back)));
	/* a read in the past works on the copy as on the original */
	{
		struct mvcc_range_req r = { .key = "key1", .key_len = 4, .revision = 4000 };
		struct mvcc_result x, y;
		ck_assert_int_eq(mvcc_read(kv_mvcc_const(kv), &r, &x), 0);
		ck_assert_int_eq(mvcc_read(kv_mvcc_const(back), &r, &y), 0);
		ck_assert_uint_eq(x.op.range.n_kvs, 1);
		ck_assert_uint_eq(y.op.range.n_kvs, 1);
		ck_assert_int_eq(x.op.range.kvs[0].mod_revision, y.op.range.kvs[0].mod_revision);
		mvcc_result_free(&y);
		r.revision = 2999;
		ck_assert_int_eq(mvcc_read(kv_mvcc_const(back), &r, &y), -MVCC_E_COMPACTED);
		mvcc_result_free(&x);
	}
	/* the same bytes from the copy: the format has one encoding per store */
	ck_assert_int_eq(kv_snapshot_encode(back, &got, &again, &len2), 0);
	ck_assert_uint_eq(len2, len);
	REQUIRE(memcmp(again, buf, len) == 0);
	/* and it goes on as the original does */
	rev = mvcc_revision(kv_mvcc_const(kv));
	{
		struct cmd c = write_cmd("key5", "after");
		ck_assert_int_eq(kv_apply(kv, meta.last_index + 1, &c), 0);
		ck_assert_int_eq(kv_apply(back, meta.last_index + 1, &c), 0);
	}
	REQUIRE(v3_get(back, "key5", &old));
	ck_assert_int_eq(old.mod_revision, rev + 1);
	assert_same_store(kv, back);
	free(again);
	free(buf);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	kv_free(kv);
}
END_TEST

/* A snapshot of the hash map's days (version 1) loads as one revision. */
START_TEST(test_snapshot_version1_loads)
{
	struct kv *kv, *back;
	struct kv_snapshot_meta meta, got;
	struct mvcc_kv a, b;
	char err[512];
	uint8_t *buf;
	size_t len;
	uint32_t version;

	rng_state = 21;
	kv = sample_map(3000, 50);
	put_str(kv, "key7", "overwritten"); /* history, which version 1 drops */
	REQUIRE(kv_delete(kv, "key8", 4) == 1);
	meta = meta_for(kv, 2);
	ck_assert_int_eq(kv_snapshot_encode_version(kv, &meta, 1, &buf, &len), 0);
	memcpy(&version, buf + 8, 4);
	ck_assert_uint_eq(version, 1);
	ck_assert_msg(kv_snapshot_decode(buf, len, "v1", &back, &got, err, sizeof err) == 0, "%s", err);
	assert_same_contents(kv, back);
	assert_meta_eq(&got, &meta);
	ck_assert_int_eq(mvcc_revision(kv_mvcc_const(back)), 2);
	ck_assert_int_eq(mvcc_compacted(kv_mvcc_const(back)), -1);
	ck_assert_uint_eq(mvcc_versions(kv_mvcc_const(back)), kv_count(kv));
	REQUIRE(v3_get(back, "key7", &a));
	REQUIRE(v3_get(back, "key1", &b));
	ck_assert_int_eq(a.version, 1);
	ck_assert_int_eq(a.create_revision, 2);
	ck_assert_int_eq(a.mod_revision, 2);
	ck_assert_int_eq(b.mod_revision, 2);
	free(buf);
	kv_snapshot_meta_free(&got);

	/* and writing it again gives version 2 while the store holds no lease
	 * (what a member of the release before leases reads during a rolling
	 * upgrade), from a file too */
	ck_assert_int_eq(kv_snapshot_save(tmpdir, back, &meta, err, sizeof err), 0);
	kv_free(back);
	ck_assert_int_eq(kv_snapshot_load(path_in("snapshot-2-3000"), &back, &got, err, sizeof err), 0);
	buf = read_file(path_in("snapshot-2-3000"), &len);
	memcpy(&version, buf + 8, 4);
	ck_assert_uint_eq(version, 2);
	assert_same_contents(kv, back);
	free(buf);
	kv_snapshot_meta_free(&got);

	/* version 3 once it holds one, and the lease comes back */
	int lerr;
	int64_t ttl;
	ck_assert_int_eq(kv_apply_lease_grant(back, kv_applied_index(back) + 1, 77, 60, &lerr), 0);
	ck_assert_int_eq(lerr, 0);
	meta = meta_for(back, 2);
	ck_assert_int_eq(kv_snapshot_encode(back, &meta, &buf, &len), 0);
	memcpy(&version, buf + 8, 4);
	ck_assert_uint_eq(version, 3);
	free(buf);
	ck_assert_int_eq(kv_snapshot_save(tmpdir, back, &meta, err, sizeof err), 0);
	kv_free(back);
	ck_assert_int_eq(kv_snapshot_load(path_in("snapshot-2-3001"), &back, &got, err, sizeof err), 0);
	ck_assert(mvcc_lease_get(kv_mvcc_const(back), 77, &ttl));
	ck_assert_int_eq(ttl, 60);
	kv_free(back);
	kv_snapshot_meta_free(&got);

	/* an empty version 1 snapshot: the revision of a new store */
	kv_free(kv);
	kv = kv_new();
	meta = meta_for(kv, 1);
	ck_assert_int_eq(kv_snapshot_encode_version(kv, &meta, 1, &buf, &len), 0);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "v1", &back, &got, err, sizeof err), 0);
	ck_assert_int_eq(mvcc_revision(kv_mvcc_const(back)), 1);
	ck_assert_int_eq(kv_snapshot_encode_version(kv, &meta, 4, &buf, &len), -EINVAL);
	free(buf);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	kv_free(kv);
}
END_TEST

/* ---- snapshots ---- */

START_TEST(test_snapshot_round_trip)
{
	struct kv *kv, *back = NULL;
	struct kv_snapshot_meta meta, got = { 0 };
	char err[512], *path = NULL;
	uint8_t *buf, *file;
	size_t len, flen;

	rng_state = 1;
	kv = sample_map(20000, 200); /* ~2 MB: several chunks */
	REQUIRE(kv_put(kv, "", 0, "", 0) == 0);
	{ /* one value bigger than a chunk: a chunk of its own */
		size_t big = (1u << 20) + 777;
		char *v = malloc(big);
		memset(v, 'B', big);
		REQUIRE(kv_put(kv, "big", 3, v, big) == 0);
		free(v);
	}
	meta = meta_for(kv, 7);
	ck_assert_int_eq(kv_snapshot_save(tmpdir, kv, &meta, err, sizeof err), 0);
	ck_assert_str_eq(err, "");
	REQUIRE(file_exists("snapshot-7-20000"));
	ck_assert_int_eq(kv_snapshot_load_latest(tmpdir, &back, &got, &path, err, sizeof err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(path, path_in("snapshot-7-20000"));
	assert_same_contents(kv, back);
	assert_same_contents(back, kv);
	assert_meta_eq(&got, &meta);
	ck_assert_uint_eq(kv_applied_index(back), 20000);

	/* the buffer form holds the same bytes as the file */
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	file = read_file(path, &flen);
	ck_assert_uint_eq(len, flen);
	REQUIRE(memcmp(buf, file, len) == 0);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "state", &back, &got, err, sizeof err), 0);
	assert_same_contents(kv, back);
	assert_meta_eq(&got, &meta);

	/* write errors come back as -errno */
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(kv_snapshot_write(kv, fd, &meta), -EBADF);
		close(fd);
	}
	/* the meta index must be the map's */
	meta.last_index = 19999;
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), -EINVAL);
	free(buf);
	free(file);
	free(path);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	kv_free(kv);
}
END_TEST

/* A learner keeps its flag through a snapshot (flag bit 0, a byte per
 * member): restored as a voter, a learner that never answers would change
 * the quorum after a restart. Files without a learner are as before. */
START_TEST(test_snapshot_keeps_learners)
{
	struct kv *kv = kv_new(), *back = NULL;
	struct kv_member m[3];
	struct kv_snapshot_meta meta, got = { 0 };
	char err[512];
	uint8_t *buf, *plain;
	size_t len, plain_len;

	REQUIRE(kv && kv_put(kv, "k", 1, "v", 1) == 0);
	kv_set_applied_index(kv, 9);
	memcpy(m, members3, sizeof(m));
	meta = (struct kv_snapshot_meta){ 9, 2, 3, m };
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &plain, &plain_len), 0);
	ck_assert_uint_eq(plain[12], 0); /* flags */
	m[1].learner = true;
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	ck_assert_uint_eq(len, plain_len + 3);
	ck_assert_uint_eq(buf[12], 1);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "l", &back, &got, err, sizeof err), 0);
	assert_meta_eq(&got, &meta);
	ck_assert(got.members[1].learner && !got.members[0].learner);
	kv_snapshot_meta_free(&got);
	ck_assert_int_eq(kv_snapshot_decode_meta(buf, len, &got), 0);
	assert_meta_eq(&got, &meta);
	kv_snapshot_meta_free(&got);
	kv_free(back);
	free(buf);
	free(plain);
	kv_free(kv);
}
END_TEST

START_TEST(test_snapshot_empty_map)
{
	struct kv *kv = kv_new(), *back;
	struct kv_snapshot_meta meta = { 0, 0, 0, NULL }, got;
	char err[256];
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(kv_snapshot_encode_version(kv, &meta, 3, &buf, &len), 0);
	ck_assert_uint_eq(len, 68 + 52); /* meta block without members, trailer */
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "e", &back, &got, err, sizeof err), 0);
	ck_assert_uint_eq(kv_count(back), 0);
	ck_assert_uint_eq(got.n_members, 0);
	ck_assert_uint_eq(kv_content_hash(back), kv_content_hash(kv));
	free(buf);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	kv_free(kv);
}
END_TEST

/* Precise diagnostics for a few hand-made faults. */
START_TEST(test_snapshot_error_messages)
{
	struct kv *kv, *back = NULL;
	struct kv_snapshot_meta meta, got;
	char err[256], want[256];
	uint8_t *buf, *big;
	size_t len, data_off;

	rng_state = 3;
	kv = sample_map(10, 10);
	meta = meta_for(kv, 2);
	ck_assert_int_eq(kv_snapshot_encode_version(kv, &meta, 3, &buf, &len), 0);
	data_off = 68 + 3 * 8 + (5 + 21) + (5 + 0) + (5 + 20);

	buf[data_off + 20] ^= 1; /* inside the first record */
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "s: chunk checksum mismatch at offset %zu", data_off);
	ck_assert_str_eq(err, want);
	buf[data_off + 20] ^= 1;

	buf[20] ^= 0x80; /* last_index */
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "s: meta block checksum mismatch at offset %zu", data_off - 4);
	ck_assert_str_eq(err, want);
	buf[20] ^= 0x80;

	buf[0] = 'X';
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert_str_eq(err, "s: not a raftd kv snapshot (bad magic) at offset 0");
	buf[0] = 'R';

	buf[8] = 4;
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert_str_eq(err, "s: unsupported version 4 at offset 8");
	buf[8] = 3;

	ck_assert_int_eq(kv_snapshot_decode(buf, len - 52, "s", &back, &got, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "s: truncated: the trailer chunk is missing at offset %zu", len - 52);
	ck_assert_str_eq(err, want);

	big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 0;
	ck_assert_int_eq(kv_snapshot_decode(big, len + 1, "s", &back, &got, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "s: 1 bytes after the trailer chunk at offset %zu", len);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), 0);
	ck_assert_int_eq(kv_snapshot_load(path_in("missing"), &back, &got, err, sizeof err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "missing: open:"));
	ck_assert_int_eq(kv_snapshot_decode(NULL, 0, "s", &back, &got, err, sizeof err), -EBADMSG);
	free(big);
	free(buf);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	kv_free(kv);
}
END_TEST

/* ---- hand-made snapshots, built from the format description alone ---- */

struct craft {
	uint8_t buf[4096];
	size_t len, chunk;
};

static void c_bytes(struct craft *c, const void *p, size_t n)
{
	ck_assert_uint_le(c->len + n, sizeof c->buf);
	if (n)
		memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static void c_u32(struct craft *c, uint32_t v)
{
	c_bytes(c, &v, 4); /* little-endian host */
}

static void c_u64(struct craft *c, uint64_t v)
{
	c_bytes(c, &v, 8);
}

static void c_crc_from(struct craft *c, size_t start)
{
	c_u32(c, wal_crc32c(0, c->buf + start, c->len - start));
}

/* Meta block for index 12, term 3, with a raw member list. */
static void c_meta(struct craft *c, uint32_t flags, uint32_t member_count, const void *members,
		   uint32_t members_len)
{
	c->len = 0;
	c_bytes(c, "RAFTDKVS", 8);
	c_u32(c, 1);
	c_u32(c, flags);
	c_u64(c, 12);
	c_u64(c, 3);
	c_u32(c, member_count);
	c_u32(c, members_len);
	c_bytes(c, members, members_len);
	c_crc_from(c, 0);
}

static void c_chunk_begin(struct craft *c, uint32_t count)
{
	c->chunk = c->len;
	c_u32(c, count);
	c_u32(c, 0); /* payload length, set by c_chunk_end */
}

static void c_record(struct craft *c, const char *k, const char *v)
{
	c_u32(c, (uint32_t)strlen(k));
	c_u32(c, (uint32_t)strlen(v));
	c_bytes(c, k, strlen(k));
	c_bytes(c, v, strlen(v));
}

static void c_chunk_end(struct craft *c)
{
	uint32_t plen = (uint32_t)(c->len - c->chunk - 8);
	memcpy(c->buf + c->chunk + 4, &plen, 4);
	c_crc_from(c, c->chunk);
}

static void c_trailer(struct craft *c, uint64_t entries, uint64_t bytes, uint64_t hash)
{
	c_chunk_begin(c, 0);
	c_u64(c, entries);
	c_u64(c, bytes);
	c_u64(c, hash);
	c_chunk_end(c);
}

static uint64_t hash_of(const char *const *kvs, size_t n)
{
	struct kv *kv = kv_new();
	uint64_t h;
	for (size_t i = 0; i < n; i++)
		put_str(kv, kvs[2 * i], kvs[2 * i + 1]);
	h = kv_content_hash(kv);
	kv_free(kv);
	return h;
}

static void expect_refused(const struct craft *c, const char *msg, size_t off)
{
	struct kv *kv;
	struct kv_snapshot_meta meta;
	char err[256], want[256];

	ck_assert_int_eq(kv_snapshot_decode(c->buf, c->len, "c", &kv, &meta, err, sizeof err), -EBADMSG);
	snprintf(want, sizeof want, "c: %s at offset %zu", msg, off);
	ck_assert_str_eq(err, want);
}

START_TEST(test_snapshot_handmade_valid)
{
	static const char *const kvs[] = { "a", "1", "", "empty key", "b", "" };
	static const uint8_t members[] = { 2, 0, 0, 0, 'n', '1', 3, 0, 0, 0, 'u', ':', '1' };
	struct craft c;
	struct kv *kv;
	struct kv_snapshot_meta meta;
	char err[256];

	c_meta(&c, 0, 1, members, sizeof members);
	c_chunk_begin(&c, 2);
	c_record(&c, "a", "1");
	c_record(&c, "", "empty key");
	c_chunk_end(&c);
	c_chunk_begin(&c, 1);
	c_record(&c, "b", "");
	c_chunk_end(&c);
	c_trailer(&c, 3, 2 + 9 + 1, hash_of(kvs, 3));
	ck_assert_msg(kv_snapshot_decode(c.buf, c.len, "c", &kv, &meta, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(kv_count(kv), 3);
	assert_get(kv, "", 0, "empty key", 9);
	ck_assert_uint_eq(kv_applied_index(kv), 12);
	ck_assert_uint_eq(meta.last_term, 3);
	ck_assert_uint_eq(meta.n_members, 1);
	ck_assert_str_eq(meta.members[0].name.ptr, "n1");
	ck_assert_str_eq(meta.members[0].connection_string.ptr, "u:1");
	kv_free(kv);
	kv_snapshot_meta_free(&meta);
}
END_TEST

/* Well-formed checksums around bad content (a buggy or hostile writer). */
START_TEST(test_snapshot_handmade_refused)
{
	static const char *const one[] = { "a", "1" };
	static const uint8_t member[] = { 2, 0, 0, 0, 'n', '1', 0, 0, 0, 0 };
	struct craft c;
	size_t chunk;

	c_meta(&c, 0, 0, NULL, 0);
	chunk = c.len;
	c_chunk_begin(&c, 2);
	c_record(&c, "a", "1");
	c_record(&c, "a", "2");
	c_chunk_end(&c);
	c_trailer(&c, 2, 4, 0);
	expect_refused(&c, "duplicate key", chunk + 8 + 10);

	c_meta(&c, 0, 0, NULL, 0); /* the same across chunks */
	c_chunk_begin(&c, 1);
	c_record(&c, "a", "1");
	c_chunk_end(&c);
	chunk = c.len;
	c_chunk_begin(&c, 1);
	c_record(&c, "a", "1");
	c_chunk_end(&c);
	c_trailer(&c, 2, 4, 0);
	expect_refused(&c, "duplicate key", chunk + 8);

	c_meta(&c, 0, 0, NULL, 0);
	chunk = c.len;
	c_chunk_begin(&c, 2);
	c_record(&c, "a", "1");
	c_chunk_end(&c);
	c_trailer(&c, 1, 2, hash_of(one, 1));
	expect_refused(&c, "record 1 of 2 overruns its chunk", chunk + 8 + 10);

	c_meta(&c, 0, 0, NULL, 0);
	chunk = c.len;
	c_chunk_begin(&c, 1);
	c_record(&c, "a", "1");
	c_u32(&c, 0);
	c_chunk_end(&c);
	c_trailer(&c, 1, 2, hash_of(one, 1));
	expect_refused(&c, "4 bytes after the last record of the chunk", chunk + 8 + 10);

	c_meta(&c, 0, 0, NULL, 0);
	chunk = c.len;
	c_chunk_begin(&c, 1);
	c_u32(&c, 5); /* key_len 5 in a 10-byte record */
	c_u32(&c, 1);
	c_bytes(&c, "a1", 2);
	c_chunk_end(&c);
	c_trailer(&c, 1, 2, hash_of(one, 1));
	expect_refused(&c, "record of 5+1 bytes overruns its chunk", chunk + 8);

	c_meta(&c, 0, 0, NULL, 0);
	c_chunk_begin(&c, 1);
	c_record(&c, "a", "1");
	c_chunk_end(&c);
	chunk = c.len;
	c_trailer(&c, 2, 2, hash_of(one, 1));
	expect_refused(&c, "trailer counts 2 entries, the chunks hold 1", chunk + 8);
	c.len = chunk;
	c_trailer(&c, 1, 3, hash_of(one, 1));
	expect_refused(&c, "trailer counts 3 bytes, the chunks hold 2", chunk + 16);
	c.len = chunk;
	c_trailer(&c, 1, 2, hash_of(one, 1) ^ 1);
	expect_refused(&c, "content hash mismatch", chunk + 24);
	c.len = chunk;
	c_chunk_begin(&c, 0);
	c_u64(&c, 1);
	c_u64(&c, 2);
	c_chunk_end(&c);
	expect_refused(&c, "trailer payload of 16 bytes, not 24", chunk + 4);

	c_meta(&c, 4, 0, NULL, 0);
	c_trailer(&c, 0, 0, 0);
	expect_refused(&c, "unknown flags 0x4", 12);
	c_meta(&c, 0, 2, member, sizeof member);
	expect_refused(&c, "member count 2 does not fit a 10-byte member list", 32);
	c_meta(&c, 0, 1, member, 8);
	expect_refused(&c, "member 0 overruns the member list", 46);
	c_meta(&c, 0, 1, "\x07\0\0\0ab\0\0\0\0", 10);
	expect_refused(&c, "member 0 string of 7 bytes overruns the member list", 40);
	{
		uint8_t extra[sizeof member + 1] = { 0 };
		memcpy(extra, member, sizeof member);
		c_meta(&c, 0, 1, extra, sizeof extra);
		expect_refused(&c, "1 unused bytes at the end of the member list", 40 + sizeof member);
	}
}
END_TEST

/* Version 2 by hand: a meta block with the store's revision and
 * compaction, records with their versions. */
static void c_meta2(struct craft *c, int64_t revision, int64_t compacted)
{
	c->len = 0;
	c_bytes(c, "RAFTDKVS", 8);
	c_u32(c, 2);
	c_u32(c, 0);
	c_u64(c, 12);
	c_u64(c, 3);
	c_u32(c, 0);
	c_u32(c, 0);
	c_u64(c, (uint64_t)revision);
	c_u64(c, (uint64_t)compacted);
	c_crc_from(c, 0);
}

static void c_record2(struct craft *c, const char *k, const char *v, int64_t mod, int64_t create, int64_t version)
{
	c_record(c, k, v);
	c_u64(c, (uint64_t)mod);
	c_u64(c, (uint64_t)create);
	c_u64(c, (uint64_t)version);
	c_u64(c, 0); /* lease */
	c_u32(c, 0); /* sub */
}

static void c_trailer2(struct craft *c, uint64_t entries, uint64_t bytes, uint64_t hash, uint64_t records,
		       uint64_t record_bytes)
{
	c_chunk_begin(c, 0);
	c_u64(c, entries);
	c_u64(c, bytes);
	c_u64(c, hash);
	c_u64(c, records);
	c_u64(c, record_bytes);
	c_chunk_end(c);
}

START_TEST(test_snapshot_handmade_version2)
{
	static const char *const live[] = { "a", "2" };
	struct craft c;
	struct kv *kv;
	struct kv_snapshot_meta meta;
	struct mvcc_kv got;
	char err[256];
	size_t chunk, second;

	/* a put, its overwrite, a key put and deleted: valid */
	c_meta2(&c, 4, -1);
	c_chunk_begin(&c, 4);
	c_record2(&c, "a", "1", 2, 2, 1);
	c_record2(&c, "a", "2", 3, 2, 2);
	c_record2(&c, "b", "x", 2, 2, 1);
	c_record2(&c, "b", "", 4, 0, 0);
	c_chunk_end(&c);
	c_trailer2(&c, 1, 2, hash_of(live, 1), 4, 7);
	ck_assert_msg(kv_snapshot_decode(c.buf, c.len, "c", &kv, &meta, err, sizeof err) == 0, "%s", err);
	REQUIRE(v3_get(kv, "a", &got));
	ck_assert_int_eq(got.version, 2);
	ck_assert_int_eq(mvcc_revision(kv_mvcc_const(kv)), 4);
	ck_assert_uint_eq(kv_count(kv), 1);
	kv_free(kv);
	kv_snapshot_meta_free(&meta);

	/* versions of a key out of order */
	c_meta2(&c, 4, -1);
	chunk = c.len;
	c_chunk_begin(&c, 2);
	c_record2(&c, "a", "2", 3, 2, 2);
	second = c.len;
	c_record2(&c, "a", "1", 2, 2, 1);
	c_chunk_end(&c);
	c_trailer2(&c, 1, 2, hash_of(live, 1), 2, 4);
	(void)chunk;
	expect_refused(&c, "record breaks the store's history (key order, revisions or versions)", second);

	/* a version above the store's revision */
	c_meta2(&c, 2, -1);
	c_chunk_begin(&c, 1);
	second = c.len;
	c_record2(&c, "a", "2", 3, 3, 1);
	c_chunk_end(&c);
	c_trailer2(&c, 1, 2, hash_of(live, 1), 1, 2);
	expect_refused(&c, "record breaks the store's history (key order, revisions or versions)", second);

	/* a store revision out of range */
	c_meta2(&c, 0, -1);
	c_trailer2(&c, 0, 0, 0, 0, 0);
	expect_refused(&c, "store revision 0 or compaction -1 out of range", 40);
	c_meta2(&c, 5, 6);
	c_trailer2(&c, 0, 0, 0, 0, 0);
	expect_refused(&c, "store revision 5 or compaction 6 out of range", 40);

	/* the trailer's counts of records */
	c_meta2(&c, 4, -1);
	c_chunk_begin(&c, 2);
	c_record2(&c, "a", "1", 2, 2, 1);
	c_record2(&c, "a", "2", 3, 2, 2);
	c_chunk_end(&c);
	chunk = c.len;
	c_trailer2(&c, 1, 2, hash_of(live, 1), 3, 4);
	expect_refused(&c, "trailer counts 3 records, the chunks hold 2", chunk + 8 + 24);
	c.len = chunk;
	c_trailer2(&c, 1, 2, hash_of(live, 1), 2, 5);
	expect_refused(&c, "trailer counts 5 record bytes, the chunks hold 4", chunk + 8 + 32);
	c.len = chunk;
	c_trailer2(&c, 2, 4, hash_of(live, 1), 2, 4); /* the old version counted as live */
	expect_refused(&c, "trailer counts 2 entries, the chunks hold 1", chunk + 8);
	c.len = chunk;
	c_trailer(&c, 1, 2, hash_of(live, 1)); /* a version 1 trailer */
	expect_refused(&c, "trailer payload of 24 bytes, not 40", chunk + 4);

	/* a record cut before its version fields */
	c_meta2(&c, 4, -1);
	chunk = c.len;
	c_chunk_begin(&c, 1);
	c_record(&c, "a", "1");
	c_u64(&c, 2);
	c_chunk_end(&c);
	c_trailer2(&c, 1, 2, hash_of(live, 1), 1, 2);
	expect_refused(&c, "record of 1+1 bytes overruns its chunk", chunk + 8);
}
END_TEST

/* The forked writer sees the store as it was at the fork, history and a
 * compaction under way included, while the parent goes on. */
START_TEST(test_snapshot_fork_with_history)
{
	struct kv *kv = history_map(), *back, *copy;
	struct kv_snapshot_meta meta = meta_for(kv, 9), got;
	char err[512];
	uint8_t *buf;
	size_t len;
	pid_t pid;
	int status, e;

	/* what the file must hold: the same store, through the buffer */
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "m", &copy, &got, err, sizeof err), 0);
	kv_snapshot_meta_free(&got);
	free(buf);
	ck_assert_int_eq(kv_snapshot_fork(tmpdir, kv, &meta, &pid), 0);
	while (kv_compact_step(kv, 100))
		;
	for (int i = 0; i < 3000; i++) {
		char k[16];
		struct cmd c = write_cmd((snprintf(k, sizeof k, "key%d", i % 500), k), "later");
		REQUIRE(kv_apply(kv, meta.last_index + 1 + (uint64_t)i, &c) == 0);
	}
	ck_assert_int_eq(kv_apply_compact(kv, meta.last_index + 3001, mvcc_revision(kv_mvcc_const(kv)), &e), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	REQUIRE(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(kv_snapshot_load_latest(tmpdir, &back, &got, NULL, err, sizeof err), 0);
	assert_same_store(copy, back);
	kv_free(back);
	kv_free(copy);
	kv_snapshot_meta_free(&got);
	kv_free(kv);
}
END_TEST

static void assert_refused(int rv, const char *err, const char *name)
{
	if (rv != -EBADMSG)
		ck_abort_msg("not refused (%d): %s", rv, err);
	if (strncmp(err, name, strlen(name)) != 0 || !strstr(err, " at offset "))
		ck_abort_msg("unclear error: %s", err);
}

/* Every proper prefix of a snapshot FILE is refused, naming file and offset. */
START_TEST(test_snapshot_every_truncation_refused)
{
	struct kv *kv, *back;
	struct kv_snapshot_meta meta, got;
	char err[512], path[512];
	size_t len;
	uint8_t *buf;
	int fd;

	rng_state = 5;
	kv = sample_map(40, 30);
	meta = meta_for(kv, 4);
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	snprintf(path, sizeof path, "%s", path_in("snapshot-4-40"));
	write_file(path, buf, len);
	ck_assert_int_eq(kv_snapshot_load(path, &back, &got, err, sizeof err), 0);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	for (size_t l = len; l-- > 0;) {
		REQUIRE(ftruncate(fd, (off_t)l) == 0);
		assert_refused(kv_snapshot_load(path, &back, &got, err, sizeof err), err, path);
	}
	close(fd);
	free(buf);
	kv_free(kv);
}
END_TEST

/* Multi-chunk snapshot: cut around every chunk boundary (buffer form). */
START_TEST(test_snapshot_truncation_at_chunk_boundaries)
{
	struct kv *kv, *back;
	struct kv_snapshot_meta meta, got;
	char err[512];
	size_t len, off, chunks = 0;
	uint8_t *buf;

	rng_state = 6;
	kv = sample_map(20000, 150); /* records of ~120 bytes: 3 data chunks */
	meta = meta_for(kv, 9);
	ck_assert_int_eq(kv_snapshot_encode_version(kv, &meta, 3, &buf, &len), 0);
	off = 68 + 3 * 8 + 26 + 5 + 25;
	while (off < len) {
		uint32_t plen;
		memcpy(&plen, buf + off + 4, 4);
		for (size_t d = 0; d < 10; d++) {
			if (off + d < len)
				assert_refused(kv_snapshot_decode(buf, off + d, "cut", &back, &got, err,
								  sizeof err), err, "cut");
			if (d > 0)
				assert_refused(kv_snapshot_decode(buf, off - d, "cut", &back, &got, err,
								  sizeof err), err, "cut");
		}
		off += 12 + plen;
		chunks++;
	}
	ck_assert_uint_eq(off, len);
	ck_assert_uint_ge(chunks, 4); /* 3+ data chunks and the trailer */
	for (int i = 0; i < 50; i++) {
		size_t cut = (size_t)(rnd() % len);
		assert_refused(kv_snapshot_decode(buf, cut, "cut", &back, &got, err, sizeof err), err, "cut");
	}
	free(buf);
	kv_free(kv);
}
END_TEST

/* Every single-bit flip of a small snapshot is refused. */
START_TEST(test_snapshot_every_bit_flip_refused)
{
	struct kv *kv, *back;
	struct kv_snapshot_meta meta, got;
	char err[512], path[512];
	size_t len;
	uint8_t *buf;

	rng_state = 8;
	kv = sample_map(25, 20);
	put_str(kv, "key3", "again"); /* history and a tombstone too */
	REQUIRE(kv_delete(kv, "key4", 4) == 1);
	meta = meta_for(kv, 3);
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			assert_refused(kv_snapshot_decode(buf, len, "flip", &back, &got, err, sizeof err), err,
				       "flip");
			buf[i] ^= (uint8_t)(1u << bit);
		}
	/* and from a real file, at a few places */
	snprintf(path, sizeof path, "%s", path_in("snapshot-3-25"));
	for (size_t i = 0; i < len; i += len / 7) {
		buf[i] ^= 0x10;
		write_file(path, buf, len);
		assert_refused(kv_snapshot_load(path, &back, &got, err, sizeof err), err, path);
		buf[i] ^= 0x10;
	}
	write_file(path, buf, len);
	ck_assert_int_eq(kv_snapshot_load(path, &back, &got, err, sizeof err), 0);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	free(buf);
	kv_free(kv);
}
END_TEST

static void save_at(struct kv *kv, uint64_t index, uint64_t term)
{
	struct kv_snapshot_meta meta;
	char err[512];

	kv_set_applied_index(kv, index);
	meta = meta_for(kv, term);
	ck_assert_msg(kv_snapshot_save(tmpdir, kv, &meta, err, sizeof err) == 0, "%s", err);
}

static uint64_t load_latest_index(char *err, size_t err_len)
{
	struct kv *back;
	struct kv_snapshot_meta got;
	uint64_t index;

	ck_assert_int_eq(kv_snapshot_load_latest(tmpdir, &back, &got, NULL, err, err_len), 0);
	index = got.last_index;
	ck_assert_uint_eq(kv_applied_index(back), index);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	return index;
}

/* The directory's names have one owner (kv_snapdir_*): what it writes it
 * parses back, and it ignores anything else a crash or a person may leave. */
START_TEST(test_snapdir_name_round_trip)
{
	static const uint64_t vals[] = { 0, 1, 9, 10, 90, 20000, UINT64_MAX - 1, UINT64_MAX };
	char name[KV_SNAPDIR_NAME_MAX], tmpname[KV_SNAPDIR_NAME_MAX + 4], path[512];
	uint64_t term, index;
	bool tmp;

	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		for (size_t j = 0; j < sizeof vals / sizeof vals[0]; j++) {
			ck_assert_int_eq(kv_snapdir_name(name, sizeof name, vals[i], vals[j]), 0);
			ck_assert(kv_snapdir_parse(name, &term, &index, &tmp));
			ck_assert_uint_eq(term, vals[i]);
			ck_assert_uint_eq(index, vals[j]);
			ck_assert(!tmp);
			snprintf(tmpname, sizeof tmpname, "%s.tmp", name);
			ck_assert(kv_snapdir_parse(tmpname, &term, &index, &tmp));
			ck_assert(tmp);
			ck_assert_uint_eq(index, vals[j]);
		}
	ck_assert_int_eq(kv_snapdir_name(name, sizeof name, 7, 20000), 0);
	ck_assert_str_eq(name, "snapshot-7-20000");
	ck_assert_int_eq(kv_snapdir_path(path, sizeof path, "d/snap", 7, 20000), 0);
	ck_assert_str_eq(path, "d/snap/snapshot-7-20000");
	ck_assert_int_eq(kv_snapdir_name(name, 10, 7, 20000), -ENAMETOOLONG);
	ck_assert_int_eq(kv_snapdir_path(path, 12, "d/snap", 7, 20000), -ENAMETOOLONG);

	static const char *const bad[] = {
		"", "snapshot-", "snapshot-1", "snapshot-1-", "snapshot--1-2", "snapshot-1--2",
		"snapshot-+1-2", "snapshot- 1-2", "snapshot-01-2", "snapshot-1-02", "snapshot-1-2x",
		"snapshot-1-2.tmpx", "snapshot-1-2.tm", "snapshot-1-2.TMP", "snapshot-1-2 ",
		"snapshot-1-2-3", "snapshot-18446744073709551616-1", "snapshot-1-18446744073709551616",
		"Snapshot-1-2", "xsnapshot-1-2", "snapshot_1_2", "snapshot-a-2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!kv_snapdir_parse(bad[i], &term, &index, &tmp), "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_snapdir_newest_and_older)
{
	uint64_t term = 99, index = 99;

	ck_assert(!kv_snapdir_newest(tmpdir, &term, &index));
	ck_assert_uint_eq(kv_snapdir_older(tmpdir, 1000), 0);
	ck_assert(!kv_snapdir_newest(path_in("absent"), &term, &index));
	ck_assert_uint_eq(kv_snapdir_older(path_in("absent"), 1000), 0);

	/* only names to ignore: nothing found */
	static const char *const ignored[] = {
		"snapshot-9-900.tmp", "snapshot-9-0900", "snapshot-9-900x", "snapshot-9-18446744073709551616",
		"snapshot-+9-900", "snapshot-9-900.old", "wal", "snapshot-9",
	};
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		write_file(path_in(ignored[i]), "x", 1);
	ck_assert(!kv_snapdir_newest(tmpdir, &term, &index));
	ck_assert_uint_eq(kv_snapdir_older(tmpdir, UINT64_MAX), 0);

	/* highest index wins, then the higher term at the same index */
	write_file(path_in("snapshot-3-40"), "x", 1);
	write_file(path_in("snapshot-2-90"), "x", 1);
	write_file(path_in("snapshot-1-90"), "x", 1);
	write_file(path_in("snapshot-5-7"), "x", 1);
	ck_assert(kv_snapdir_newest(tmpdir, &term, &index));
	ck_assert_uint_eq(term, 2);
	ck_assert_uint_eq(index, 90);
	write_file(path_in("snapshot-3-90"), "x", 1);
	ck_assert(kv_snapdir_newest(tmpdir, &term, &index));
	ck_assert_uint_eq(term, 3);
	ck_assert_uint_eq(index, 90);

	/* older: the highest index strictly below, ignored names never count */
	ck_assert_uint_eq(kv_snapdir_older(tmpdir, 90), 40);
	ck_assert_uint_eq(kv_snapdir_older(tmpdir, 91), 90);
	ck_assert_uint_eq(kv_snapdir_older(tmpdir, 40), 7);
	ck_assert_uint_eq(kv_snapdir_older(tmpdir, 7), 0);
	ck_assert_uint_eq(kv_snapdir_older(tmpdir, 1000), 90);
}
END_TEST

START_TEST(test_snapshot_atomic_replace_and_latest)
{
	struct kv *kv = kv_new(), *back;
	struct kv_snapshot_meta got;
	char err[512];
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(kv_snapshot_load_latest(tmpdir, &back, &got, NULL, err, sizeof err), -ENOENT);
	put_str(kv, "k", "10");
	save_at(kv, 10, 1);
	put_str(kv, "k", "20");
	save_at(kv, 20, 1);
	REQUIRE(file_exists("snapshot-1-10") && file_exists("snapshot-1-20"));
	put_str(kv, "k", "30");
	save_at(kv, 30, 2);
	/* the previous one is kept, older ones go */
	REQUIRE(!file_exists("snapshot-1-10"));
	REQUIRE(file_exists("snapshot-1-20") && file_exists("snapshot-2-30"));
	ck_assert_int_eq(count_files(), 2);

	/* crash before the rename: a partial .tmp of a newer snapshot */
	buf = read_file(path_in("snapshot-2-30"), &len);
	write_file(path_in("snapshot-3-40.tmp"), buf, len / 2);
	ck_assert_uint_eq(load_latest_index(err, sizeof err), 30);
	ck_assert_str_eq(err, "");
	/* names that are not snapshots are ignored */
	write_file(path_in("snapshot-03-90"), buf, len);
	write_file(path_in("snapshot-3-90x"), buf, len);
	write_file(path_in("notes"), "x", 1);
	ck_assert_uint_eq(load_latest_index(err, sizeof err), 30);

	/* numeric, not lexicographic, order: 100 > 30 (and index before term) */
	put_str(kv, "k", "100");
	save_at(kv, 100, 2);
	REQUIRE(!file_exists("snapshot-3-40.tmp")); /* the stray .tmp is cleaned */
	REQUIRE(!file_exists("snapshot-1-20"));
	REQUIRE(file_exists("snapshot-2-30") && file_exists("snapshot-2-100"));
	ck_assert_uint_eq(load_latest_index(err, sizeof err), 100);

	/* a newer file that does not verify: fall back, and say why */
	write_file(path_in("snapshot-3-200"), buf, len - 1);
	ck_assert_uint_eq(load_latest_index(err, sizeof err), 100);
	ck_assert_ptr_nonnull(strstr(err, "snapshot-3-200: truncated"));
	/* a directory under a snapshot's name */
	ck_assert_int_eq(mkdir(path_in("snapshot-9-900"), 0700), 0);
	ck_assert_uint_eq(load_latest_index(err, sizeof err), 100);
	ck_assert_ptr_nonnull(strstr(err, "snapshot-9-900: not a regular file"));
	ck_assert_int_eq(rmdir(path_in("snapshot-9-900")), 0);
	/* none verifies */
	write_file(path_in("snapshot-2-100"), buf, 10);
	write_file(path_in("snapshot-2-30"), "", 0);
	ck_assert_int_eq(kv_snapshot_load_latest(tmpdir, &back, &got, NULL, err, sizeof err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "snapshot-3-200"));

	/* a save that cannot create its file leaves nothing behind */
	ck_assert_int_eq(kv_snapshot_save(path_in("nodir"), kv, &(struct kv_snapshot_meta){ 100, 2, 0, NULL },
					  err, sizeof err),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "nodir/snapshot-2-100: create:"));
	free(buf);
	kv_free(kv);
}
END_TEST

/* The child writes the map as it was at fork time while the parent keeps
 * changing it, through at least one table doubling. */
START_TEST(test_snapshot_fork_while_mutating)
{
	struct kv *kv, *back;
	struct kv_snapshot_meta meta, got;
	char err[512], k[32];
	uint64_t h0;
	size_t n0;
	pid_t pid;
	int status;

	rng_state = 11;
	kv = sample_map(50000, 100);
	meta = meta_for(kv, 5);
	h0 = kv_content_hash(kv);
	n0 = kv_count(kv);
	ck_assert_int_eq(kv_snapshot_fork(tmpdir, kv, &meta, &pid), 0);
	for (int i = 0; i < 50000; i += 3)
		REQUIRE(kv_delete(kv, k, (size_t)snprintf(k, sizeof k, "key%d", i)));
	for (int i = 1; i < 50000; i += 3)
		put_str(kv, (snprintf(k, sizeof k, "key%d", i), k), "changed");
	for (int i = 0; i < 100000; i++)
		put_str(kv, (snprintf(k, sizeof k, "new%d", i), k), "fresh");
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	REQUIRE(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	ck_assert_int_eq(kv_snapshot_load_latest(tmpdir, &back, &got, NULL, err, sizeof err), 0);
	ck_assert_uint_eq(kv_count(back), n0);
	ck_assert_uint_eq(kv_content_hash(back), h0);
	ck_assert_uint_ne(kv_content_hash(kv), h0);
	REQUIRE(kv_get(back, "key0", 4, &(struct kv_view){ 0 })); /* deleted after the fork */
	REQUIRE(!kv_get(back, "new0", 4, &(struct kv_view){ 0 }));	/* inserted after the fork */
	kv_free(back);
	kv_snapshot_meta_free(&got);

	/* a failing child reports the errno as its exit status */
	ck_assert_int_eq(kv_snapshot_fork(path_in("nodir"), kv, &(struct kv_snapshot_meta){ 50000, 5, 0, NULL },
					  &pid),
			 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	REQUIRE(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), ENOENT);
	kv_free(kv);
}
END_TEST

/* Every allocation failure comes back as -ENOMEM and leaves things as they
 * were; LeakSanitizer (CI) checks that nothing leaks on the way out. */

/* ---- leases ---- */

static struct mvcc_op lease_put(const char *k, int64_t lease)
{
	struct mvcc_op op = put_op(k, "v");
	op.put.lease = lease;
	return op;
}

static int count_keys(void *ctx, const uint8_t *key, size_t len)
{
	(void)key;
	(void)len;
	++*(size_t *)ctx;
	return 0;
}

static int count_events(void *ctx, const struct mvcc_event *ev)
{
	ck_assert(ev->deleted);
	++*(size_t *)ctx;
	return 0;
}

START_TEST(test_apply_leases)
{
	struct kv *kv = kv_new();
	struct mvcc_result res;
	struct mvcc_op op;
	int err, rv;
	long n;

	ck_assert_int_eq(kv_apply_lease_grant(kv, 1, 5, 60, &err), 0);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(kv_applied_index(kv), 1);
	ck_assert_int_eq(kv_apply_lease_grant(kv, 1, 6, 60, &err), KV_APPLY_STALE);
	/* etcd's errors: a no-op entry, the index moves */
	ck_assert_int_eq(kv_apply_lease_grant(kv, 2, 5, 30, &err), 0);
	ck_assert_int_eq(err, -MVCC_E_LEASE_EXISTS);
	ck_assert_int_eq(kv_apply_lease_grant(kv, 3, 6, MVCC_LEASE_TTL_MAX + 1, &err), 0);
	ck_assert_int_eq(err, -MVCC_E_LEASE_TTL_TOO_LARGE);
	ck_assert_uint_eq(kv_applied_index(kv), 3);
	ck_assert_uint_eq(mvcc_lease_count(kv_mvcc_const(kv)), 1);
	int64_t ttl;
	ck_assert(mvcc_lease_get(kv_mvcc_const(kv), 5, &ttl));
	ck_assert_int_eq(ttl, 60);

	op = lease_put("a", 5);
	ck_assert_int_eq(kv_apply_op(kv, 4, &op, &res, &err), 0);
	ck_assert_int_eq(err, 0);
	mvcc_result_free(&res);
	op = lease_put("b", 5);
	ck_assert_int_eq(kv_apply_op(kv, 5, &op, &res, &err), 0);
	mvcc_result_free(&res);
	op = lease_put("c", 6);
	ck_assert_int_eq(kv_apply_op(kv, 6, &op, &res, &err), 0);
	ck_assert_int_eq(err, -MVCC_E_LEASE_NOT_FOUND);
	struct cmd c = write_cmd("d", "goraft");
	ck_assert_int_eq(kv_apply(kv, 7, &c), 0);
	int64_t rev = mvcc_revision(kv_mvcc_const(kv));

	/* a revoke failing at every allocation in turn: nothing moves */
	uint64_t h = kv_content_hash(kv);
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_apply_lease_revoke(kv, 8, 5, &res, &err);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		ck_assert_ptr_null(res.arena);
		ck_assert_uint_eq(kv_applied_index(kv), 7);
		ck_assert_uint_eq(kv_content_hash(kv), h);
		ck_assert_int_eq(mvcc_lease_key_count(kv_mvcc_const(kv), 5), 2);
	}
	ck_assert_int_ge(n, 1);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(res.op.del.deleted, 2);
	ck_assert_int_eq(res.revision, rev + 1);
	size_t events = 0;
	ck_assert_int_eq(mvcc_last_events(kv_mvcc_const(kv), count_events, &events), 0);
	ck_assert_uint_eq(events, 2);
	mvcc_result_free(&res);
	ck_assert_uint_eq(kv_count(kv), 1); /* d, put without a lease */
	ck_assert_int_eq(kv_apply_lease_revoke(kv, 9, 5, &res, &err), 0);
	ck_assert_int_eq(err, -MVCC_E_LEASE_NOT_FOUND);
	ck_assert_ptr_null(res.arena);
	ck_assert_uint_eq(kv_applied_index(kv), 9);
	ck_assert_int_eq(kv_apply_lease_revoke(kv, 9, 5, &res, &err), KV_APPLY_STALE);

	/* a grant failing at every allocation in turn (the first one makes
	 * the table) */
	kv_free(kv);
	kv = kv_new();
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_apply_lease_grant(kv, 1, 5, 60, &err);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		ck_assert_uint_eq(kv_applied_index(kv), 0);
		ck_assert(!mvcc_lease_get(kv_mvcc_const(kv), 5, NULL));
	}
	ck_assert_int_ge(n, 1);
	ck_assert(mvcc_lease_get(kv_mvcc_const(kv), 5, NULL));
	kv_free(kv);
}
END_TEST

static int lease_sum(void *ctx, int64_t id, int64_t ttl)
{
	uint64_t *h = ctx;
	h[0] = h[0] * 31 + (uint64_t)id * 7 + (uint64_t)ttl;
	h[1]++;
	return 0;
}

/* A store with leases: n of them, the first `keyed` with a key each
 * (lease/<id>), and lease 1 with keys a, b. */
static struct kv *lease_map(size_t n, size_t keyed)
{
	struct kv *kv = kv_new();
	struct mvcc_result res;
	uint64_t idx = 0;
	int err;
	char k[32];

	for (size_t i = 1; i <= n; i++) {
		/* IDs out of order, some negative */
		int64_t id = (int64_t)((i * 2654435761u) % 4000037) * (i % 5 ? 1 : -1);
		if (i == 1)
			id = 1;
		ck_assert_int_eq(kv_apply_lease_grant(kv, ++idx, id, (int64_t)i, &err), 0);
		ck_assert_int_eq(err, 0);
		if (i <= keyed) {
			snprintf(k, sizeof k, "lease/%ld", (long)id);
			struct mvcc_op op = lease_put(k, id);
			ck_assert_int_eq(kv_apply_op(kv, ++idx, &op, &res, &err), 0);
			ck_assert_int_eq(err, 0);
			mvcc_result_free(&res);
		}
	}
	const char *ab[] = { "a", "b" };
	for (int i = 0; i < 2; i++) {
		struct mvcc_op op = lease_put(ab[i], 1);
		ck_assert_int_eq(kv_apply_op(kv, ++idx, &op, &res, &err), 0);
		mvcc_result_free(&res);
	}
	return kv;
}

static void assert_same_leases(const struct kv *a, const struct kv *b)
{
	uint64_t ha[2] = { 0 }, hb[2] = { 0 };
	ck_assert_int_eq(mvcc_lease_iter(kv_mvcc_const(a), lease_sum, ha), 0);
	ck_assert_int_eq(mvcc_lease_iter(kv_mvcc_const(b), lease_sum, hb), 0);
	ck_assert_uint_eq(ha[1], hb[1]);
	ck_assert_uint_eq(ha[0], hb[0]);
	size_t ka = 0, kb = 0;
	ck_assert_int_eq(mvcc_lease_keys(kv_mvcc_const(a), 1, count_keys, &ka), 0);
	ck_assert_int_eq(mvcc_lease_keys(kv_mvcc_const(b), 1, count_keys, &kb), 0);
	ck_assert_uint_eq(ka, kb);
}

START_TEST(test_snapshot_leases)
{
	/* more leases than one lease chunk holds */
	struct kv *kv = lease_map(70000, 300), *back;
	struct kv_snapshot_meta meta = { kv_applied_index(kv), 2, 0, NULL }, got;
	struct mvcc_result res;
	char err[256];
	uint8_t *buf, *again;
	size_t len, len2;
	int e;

	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "l", &back, &got, err, sizeof err), 0);
	assert_same_contents(kv, back);
	assert_same_leases(kv, back);
	ck_assert_uint_eq(mvcc_lease_count(kv_mvcc_const(back)), 70000);
	ck_assert_uint_eq(mvcc_lease_key_count(kv_mvcc_const(back), 1), 3); /* lease/1, a, b */
	/* the same bytes again: a snapshot is a function of the state */
	ck_assert_int_eq(kv_snapshot_encode(back, &meta, &again, &len2), 0);
	ck_assert_uint_eq(len2, len);
	ck_assert(!memcmp(again, buf, len));
	free(again);
	/* the restored store revokes as the original */
	ck_assert_int_eq(kv_apply_lease_revoke(back, meta.last_index + 1, 1, &res, &e), 0);
	ck_assert_int_eq(e, 0);
	ck_assert_int_eq(res.op.del.deleted, 3);
	mvcc_result_free(&res);
	kv_free(back);
	kv_snapshot_meta_free(&got);

	/* from a file, through the writer's 1 MiB flushes */
	ck_assert_int_eq(kv_snapshot_save(tmpdir, kv, &meta, err, sizeof err), 0);
	snprintf(err, sizeof err, "snapshot-2-%lu", (unsigned long)meta.last_index);
	ck_assert_int_eq(kv_snapshot_load(path_in(err), &back, &got, err, sizeof err), 0);
	assert_same_leases(kv, back);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	free(buf);

	/* version 2 (before leases) loads with none: the keys keep their
	 * lease field, attached to nothing */
	ck_assert_int_eq(kv_snapshot_encode_version(kv, &meta, 2, &buf, &len), 0);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "v2", &back, &got, err, sizeof err), 0);
	assert_same_contents(kv, back);
	ck_assert_uint_eq(mvcc_lease_count(kv_mvcc_const(back)), 0);
	struct kv_view v;
	ck_assert(kv_get(back, "a", 1, &v));
	struct mvcc_kv mkv;
	ck_assert(mvcc_get(kv_mvcc_const(back), "a", 1, &mkv));
	ck_assert_int_eq(mkv.lease, 1);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	free(buf);
	kv_free(kv);
}
END_TEST

/* The lease chunks' faults, each refused with its reason. */
START_TEST(test_snapshot_leases_refused)
{
	struct kv *kv = lease_map(3, 0), *back;
	struct kv_snapshot_meta meta = { kv_applied_index(kv), 2, 0, NULL }, got;
	char err[256];
	uint8_t *buf;
	size_t len;
	uint32_t crc;

	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	/* meta block 64 + crc, then the one lease chunk at 68: 3 leases */
	uint32_t count, plen;
	memcpy(&count, buf + 68, 4);
	memcpy(&plen, buf + 72, 4);
	ck_assert_uint_eq(count, 3);
	ck_assert_uint_eq(plen, 48);
	uint8_t *rec = buf + 76;
#define RECRC() (crc = wal_crc32c(0, buf + 68, 8 + 48), memcpy(buf + 68 + 8 + 48, &crc, 4))
	/* IDs out of order */
	uint8_t tmp[16];
	memcpy(tmp, rec, 16);
	memcpy(rec, rec + 16, 16);
	memcpy(rec + 16, tmp, 16);
	RECRC();
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert_str_eq(err, "s: lease IDs out of order at offset 92");
	/* the same ID twice */
	memcpy(rec, rec + 16, 16);
	RECRC();
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert_str_eq(err, "s: lease IDs out of order at offset 92");
	/* ID 0 */
	memset(rec, 0, 8);
	RECRC();
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert(strstr(err, "lease 0 with TTL"));
	/* a TTL past etcd's maximum */
	free(buf);
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	rec = buf + 76;
	int64_t big = MVCC_LEASE_TTL_MAX + 1;
	memcpy(rec + 40, &big, 8);
	RECRC();
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert(strstr(err, "does not restore at offset 108"));
	/* a chunk that claims more leases than the meta block */
	free(buf);
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	uint64_t two = 2;
	memcpy(buf + 56, &two, 8);
	crc = wal_crc32c(0, buf, 64);
	memcpy(buf + 64, &crc, 4);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert_str_eq(err, "s: lease chunk of 3 leases in 48 bytes (2 leases left) at offset 68");
	/* more leases than the chunks hold: the data chunk is taken for one */
	uint64_t four = 4;
	memcpy(buf + 56, &four, 8);
	crc = wal_crc32c(0, buf, 64);
	memcpy(buf + 64, &crc, 4);
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert(strstr(err, "lease chunk of"));
	/* a checksum */
	free(buf);
	ck_assert_int_eq(kv_snapshot_encode(kv, &meta, &buf, &len), 0);
	buf[80] ^= 1;
	ck_assert_int_eq(kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err), -EBADMSG);
	ck_assert_str_eq(err, "s: chunk checksum mismatch at offset 68");
#undef RECRC
	free(buf);
	kv_free(kv);
}
END_TEST

START_TEST(test_out_of_memory_paths)
{
	struct kv *kv, *back;
	struct kv_snapshot_meta meta, got;
	char err[512], *path;
	uint8_t *buf;
	size_t len;
	uint64_t h;
	long n;
	int rv;

	kv_fail_alloc_after(0);
	ck_assert_ptr_null(kv_new());
	kv_fail_alloc_after(-1);

	/* a put that allocates its entry and then a bigger table */
	kv = kv_new();
	for (int i = 0; i < 12; i++)
		put_str(kv, (snprintf(err, sizeof err, "k%d", i), err), "v");
	h = kv_content_hash(kv);
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_put(kv, "new", 3, "value", 5);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		ck_assert_uint_eq(kv_count(kv), 12);
		ck_assert_uint_eq(kv_content_hash(kv), h);
		REQUIRE(!kv_get(kv, "new", 3, &(struct kv_view){ 0 }));
	}
	ck_assert_int_ge(n, 2); /* the version, the key, ... */
	for (n = 0;; n++) { /* a new version of a key; a delete (its tombstone) */
		kv_fail_alloc_after(n);
		rv = kv_put(kv, "new", 3, "VALUE", 5);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		assert_get(kv, "new", 3, "value", 5);
	}
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_delete(kv, "k1", 2);
		kv_fail_alloc_after(-1);
		if (rv == 1)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		assert_get(kv, "k1", 2, "v", 1);
	}
	assert_get(kv, "new", 3, "VALUE", 5);
	ck_assert_uint_eq(kv_count(kv), 12);
	kv_free(kv);

	rng_state = 12;
	kv = sample_map(50, 40);
	meta = meta_for(kv, 6);
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_snapshot_encode(kv, &meta, &buf, &len);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
	}
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_snapshot_decode(buf, len, "s", &back, &got, err, sizeof err);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		ck_assert_str_eq(err, "s: out of memory");
	}
	ck_assert_int_ge(n, 50 + 6); /* entries and member strings each failed once */
	assert_same_contents(kv, back);
	kv_free(back);
	kv_snapshot_meta_free(&got);

	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_snapshot_save(tmpdir, kv, &meta, err, sizeof err);
		kv_fail_alloc_after(-1);
		REQUIRE(!file_exists("snapshot-6-50.tmp"));
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
		REQUIRE(!file_exists("snapshot-6-50"));
	}
	for (n = 0;; n++) {
		kv_fail_alloc_after(n);
		rv = kv_snapshot_load_latest(tmpdir, &back, &got, &path, err, sizeof err);
		kv_fail_alloc_after(-1);
		if (rv == 0)
			break;
		ck_assert_int_eq(rv, -ENOMEM);
	}
	assert_same_contents(kv, back);
	ck_assert_str_eq(path, path_in("snapshot-6-50"));
	free(path);
	free(buf);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	kv_free(kv);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("kv");
	TCase *map = tcase_create("map");
	TCase *apply = tcase_create("apply");
	TCase *snap = tcase_create("snapshot");
	tcase_add_test(map, test_siphash_reference_vectors);
	tcase_add_test(map, test_content_hash_order_independent);
	tcase_add_test(map, test_content_hash_golden);
	tcase_add_test(map, test_put_get_overwrite_delete);
	tcase_add_test(map, test_binary_and_empty_keys);
	tcase_add_test(map, test_random_ops_against_model);
	tcase_add_test(map, test_growth_across_resizes);
	tcase_add_test(apply, test_apply_writes_and_idempotence);
	tcase_add_test(apply, test_apply_ignores_membership);
	tcase_add_test(apply, test_apply_decoded_commands);
	tcase_add_test(apply, test_apply_delete);
	tcase_add_test(apply, test_store_is_one);
	tcase_add_test(apply, test_apply_op_errors);
	tcase_add_test(apply, test_apply_compact_and_steps);
	tcase_add_test(apply, test_retention_rule);
	tcase_add_test(apply, test_apply_leases);
	tcase_add_checked_fixture(snap, make_tmpdir, remove_tmpdir);
	tcase_add_test(snap, test_snapshot_round_trip);
	tcase_add_test(snap, test_snapshot_keeps_history);
	tcase_add_test(snap, test_snapshot_version1_loads);
	tcase_add_test(snap, test_snapshot_handmade_version2);
	tcase_add_test(snap, test_snapshot_fork_with_history);
	tcase_add_test(snap, test_snapdir_name_round_trip);
	tcase_add_test(snap, test_snapdir_newest_and_older);
	tcase_add_test(snap, test_snapshot_empty_map);
	tcase_add_test(snap, test_snapshot_keeps_learners);
	tcase_add_test(snap, test_snapshot_error_messages);
	tcase_add_test(snap, test_snapshot_handmade_valid);
	tcase_add_test(snap, test_snapshot_handmade_refused);
	tcase_add_test(snap, test_snapshot_every_truncation_refused);
	tcase_add_test(snap, test_snapshot_truncation_at_chunk_boundaries);
	tcase_add_test(snap, test_snapshot_every_bit_flip_refused);
	tcase_add_test(snap, test_snapshot_atomic_replace_and_latest);
	tcase_add_test(snap, test_snapshot_fork_while_mutating);
	tcase_add_test(snap, test_out_of_memory_paths);
	tcase_add_test(snap, test_snapshot_leases);
	tcase_add_test(snap, test_snapshot_leases_refused);
	suite_add_tcase(s, map);
	suite_add_tcase(s, apply);
	suite_add_tcase(s, snap);
	return s;
}
