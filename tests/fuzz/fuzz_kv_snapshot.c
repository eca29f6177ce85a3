/* tests/fuzz/fuzz_kv_snapshot.c — libFuzzer target for the KV snapshot
 * loader (kv_snapshot_decode, the path files and peer State bytes share).
 *
 * Each input is decoded twice: as it is, and with every CRC field (and the
 * trailer's counts and content hash) rewritten to match, walking the lengths
 * as the loader does. CRCs protect against damage, not against a hostile or
 * buggy writer: the checks behind them must hold on their own, and the
 * fuzzer could never get past a random CRC or SipHash to reach them.
 *
 * Properties: no crash, leak or UB; a refusal is -EBADMSG (or -ENOMEM) with
 * a message naming the input and an offset; an accepted input re-encodes and
 * decodes again to the same content, hash, leases (and the keys attached to
 * each) and meta; and its meta starts a
 * Raft core the way node.c's restore() hands it over at start-up (the
 * members at the snapshot, its index and term), which knows those members.
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_kv_snapshot.c \
 *     src/kv/kv.c src/kv/kv_snapshot.c src/mvcc/[a-z]*.c base/alloc.c base/crc32c.c \
 *     src/raft/raft.c -o fuzz_kv_snapshot
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/kv/kv.h"
#include "src/raft/raft.h"
#include "base/crc32c.h"
#include "tests/fuzz/fuzz.h"


static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void set_crc(uint8_t *buf, size_t start, size_t end)
{
	uint32_t crc = wal_crc32c(0, buf + start, end - start);
	memcpy(buf + end, &crc, 4);
}

/* What the trailer must hold, summed over the well-formed records of the
 * data chunks (version 2: a key's newest record counts as live unless it
 * is a tombstone). */
struct sums {
	uint64_t entries, bytes, digests, records, record_bytes;
	const uint8_t *last_key;
	uint32_t last_len;
	bool pending;
	uint64_t pending_digest, pending_bytes;
};

static void settle(struct sums *s)
{
	if (s->pending) {
		s->entries++;
		s->bytes += s->pending_bytes;
		s->digests += s->pending_digest;
	}
	s->pending = false;
}

static void tally(const uint8_t *p, size_t n, uint32_t count, unsigned version, struct sums *s)
{
	size_t tail = version == 1 ? 0 : 36;

	for (uint32_t i = 0; i < count && n >= 8; i++) {
		uint32_t klen = le32(p), vlen = le32(p + 4);
		uint64_t body = 8 + (uint64_t)klen + vlen, rec = body + tail;
		if (rec > n)
			return;
		s->records++;
		s->record_bytes += body - 8;
		if (version == 1) {
			s->entries++;
			s->bytes += body - 8;
			s->digests += kv_content_digest(p, (size_t)body);
		} else {
			uint64_t ver;
			memcpy(&ver, p + body + 16, 8);
			if (!s->last_key || s->last_len != klen || memcmp(s->last_key, p + 8, klen) != 0)
				settle(s);
			s->pending = ver != 0;
			s->pending_bytes = body - 8;
			s->pending_digest = kv_content_digest(p, (size_t)body);
			s->last_key = p + 8;
			s->last_len = klen;
		}
		p += rec;
		n -= (size_t)rec;
	}
}

/* Rewrites the meta CRC, every chunk CRC that lies inside the input, and the
 * counts and hash of a trailer-shaped chunk, for any format version (3:
 * the chunks that hold the meta block's lease_count leases first). */
static void fix_crcs(uint8_t *buf, size_t size)
{
	struct sums s = { 0 };
	unsigned version;
	size_t off, fixed;
	uint64_t m, leases = 0;

	if (size < 40)
		return;
	version = le32(buf + 8) == 3 ? 3 : le32(buf + 8) == 2 ? 2 : 1;
	fixed = version == 1 ? 40 : version == 2 ? 56 : 64;
	if (size < fixed)
		return;
	m = le32(buf + 36);
	if (fixed + m + 4 > size)
		return;
	if (version == 3)
		memcpy(&leases, buf + 56, 8);
	set_crc(buf, 0, fixed + (size_t)m);
	off = fixed + 4 + (size_t)m;
	while (size - off >= 8) {
		uint32_t count = le32(buf + off);
		uint64_t plen = le32(buf + off + 4);
		if (plen + 12 > size - off)
			return;
		if (leases > 0 && count > 0) {
			leases -= count < leases ? count : leases; /* a lease chunk */
		} else if (count > 0) {
			tally(buf + off + 8, (size_t)plen, count, version, &s);
		} else if (plen == (version == 1 ? 24 : 40)) {
			uint64_t hash;
			settle(&s);
			hash = kv_content_finish(s.digests, s.entries);
			memcpy(buf + off + 8, &s.entries, 8);
			memcpy(buf + off + 16, &s.bytes, 8);
			memcpy(buf + off + 24, &hash, 8);
			if (version != 1) {
				memcpy(buf + off + 32, &s.records, 8);
				memcpy(buf + off + 40, &s.record_bytes, 8);
			}
		}
		set_crc(buf, off, off + 8 + (size_t)plen);
		off += 12 + (size_t)plen;
	}
}

static void same_meta(const struct kv_snapshot_meta *a, const struct kv_snapshot_meta *b)
{
	CHECK(a->last_index == b->last_index && a->last_term == b->last_term);
	CHECK(a->n_members == b->n_members);
	for (size_t i = 0; i < a->n_members; i++) {
		const struct kv_member *x = &a->members[i], *y = &b->members[i];
		CHECK(x->name.len == y->name.len &&
		      memcmp(x->name.ptr, y->name.ptr, x->name.len) == 0);
		CHECK(x->connection_string.len == y->connection_string.len &&
		      memcmp(x->connection_string.ptr, y->connection_string.ptr,
			     x->connection_string.len) == 0);
		CHECK(x->learner == y->learner);
	}
}

/* node.c restore(): the snapshot's meta, then an empty log after it. */
static void start_core(const struct kv_snapshot_meta *meta)
{
	struct raft_config cfg;
	struct raft_member_info mi[RAFT_MAX_PEERS];
	struct raft_restore rs = { .vote = "" };
	struct raft *r;

	if (!meta->last_index)
		return;
	raft_config_default(&cfg);
	cfg.name = "7c55909";
	cfg.seed = 1;
	rs.snap_index = meta->last_index;
	rs.snap_term = meta->last_term;
	for (size_t i = 0; i < meta->n_members && i < RAFT_MAX_PEERS; i++)
		mi[i] = (struct raft_member_info){ meta->members[i].name.ptr,
						   meta->members[i].connection_string.ptr, false };
	rs.n_snap_members = meta->n_members < RAFT_MAX_PEERS ? meta->n_members : RAFT_MAX_PEERS;
	rs.snap_members = mi;
	rs.commit = meta->last_index;
	int rv = raft_new(&cfg, &rs, 0, &r);
	CHECK(rv == 0 || rv == -EINVAL || rv == -ENOMEM);
	if (rv < 0)
		return;
	CHECK(raft_snapshot_index(r) == meta->last_index && raft_commit_index(r) == meta->last_index);
	CHECK(raft_last_index(r) == meta->last_index);
	CHECK(raft_n_members(r) <= rs.n_snap_members);
	for (size_t i = 0; i < raft_n_members(r); i++)
		CHECK(raft_member_name(r, i) && raft_member_url(r, i));
	struct raft_update u;
	struct raft_event tick = { .type = RAFT_EV_TICK, .now = 10000 };
	CHECK(raft_step(r, &tick, &u) == 0);
	raft_free(r);
}

/* An order-dependent digest of the leases (and their keys) and their number. */
static int lease_key(void *ctx, const uint8_t *key, size_t len)
{
	uint64_t *h = ctx;
	for (size_t i = 0; i < len; i++)
		h[0] = h[0] * 131 + key[i];
	h[0] = h[0] * 131 + 0x100;
	return 0;
}

static int lease_sum(void *ctx, const struct mvcc *m, int64_t id, int64_t ttl);

static const struct mvcc *lease_store;

static int lease_sum_cb(void *ctx, int64_t id, int64_t ttl)
{
	return lease_sum(ctx, lease_store, id, ttl);
}

static int lease_sum(void *ctx, const struct mvcc *m, int64_t id, int64_t ttl)
{
	uint64_t *h = ctx;
	h[0] = h[0] * 31 + (uint64_t)id * 7 + (uint64_t)ttl;
	h[1]++;
	CHECK(mvcc_lease_keys(m, id, lease_key, h) == 0);
	return 0;
}

static void decode_once(const uint8_t *data, size_t size)
{
	struct kv *kv = NULL, *again = NULL;
	struct kv_snapshot_meta meta, meta2;
	char err[512];
	uint8_t *buf;
	size_t len;
	int rv = kv_snapshot_decode(data, size, "fuzz", &kv, &meta, err, sizeof err);

	if (rv < 0) {
		CHECK(rv == -EBADMSG || rv == -ENOMEM);
		CHECK(strncmp(err, "fuzz: ", 6) == 0);
		CHECK(rv == -ENOMEM || strstr(err, " at offset ") != NULL);
		return;
	}
	CHECK(kv_applied_index(kv) == meta.last_index);
	CHECK(kv_snapshot_encode(kv, &meta, &buf, &len) == 0);
	CHECK(kv_snapshot_decode(buf, len, "fuzz", &again, &meta2, err, sizeof err) == 0);
	CHECK(kv_count(again) == kv_count(kv));
	CHECK(kv_bytes(again) == kv_bytes(kv));
	CHECK(kv_content_hash(again) == kv_content_hash(kv));
	uint64_t l1[2] = { 0 }, l2[2] = { 0 };
	lease_store = kv_mvcc_const(kv);
	CHECK(mvcc_lease_iter(lease_store, lease_sum_cb, l1) == 0);
	lease_store = kv_mvcc_const(again);
	CHECK(mvcc_lease_iter(lease_store, lease_sum_cb, l2) == 0);
	CHECK(l1[0] == l2[0] && l1[1] == l2[1] && l1[1] == mvcc_lease_count(kv_mvcc_const(kv)));
	same_meta(&meta, &meta2);
	start_core(&meta);
	free(buf);
	kv_free(again);
	kv_free(kv);
	kv_snapshot_meta_free(&meta);
	kv_snapshot_meta_free(&meta2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	decode_once(data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	fix_crcs(copy, size);
	decode_once(copy, size);
	free(copy);
	return 0;
}
