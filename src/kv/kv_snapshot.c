/* src/kv/kv_snapshot.c — snapshot files of the KV state machine.
 *
 * FORMAT, version 3 (versions 2 and 1, below, still load). All integers
 * little-endian; CRC32C is Castagnoli (base/crc32c.h: "123456789" ->
 * 0xe3069283). Every byte of a file is covered by exactly one CRC, so any
 * truncation or bit flip is refused.
 *
 *   Meta block
 *   off  size  field
 *   0    8     magic "RAFTDKVS"
 *   8    4     version = 3
 *   12   4     flags: bit 0 = learner flags follow the members (see below);
 *               any other bit is refused
 *   16   8     last_index   last log entry included
 *   24   8     last_term    its term
 *   32   4     member_count cluster members at last_index (self included)
 *   36   4     members_len  M, bytes of the member list
 *   40   8     revision     the MVCC store's revision (>= 1)
 *   48   8     compacted    its last compaction's revision (-1: none)
 *   56   8     lease_count  leases in the store (src/mvcc/mvcc.h, Leases)
 *   64   M     member_count x { le32 name_len, name, le32 conn_len, conn },
 *               then, with flag bit 0, member_count bytes: 1 for a learner
 *               (a non-voting member, raftd-only), 0 for a voter. Written
 *               only when there is a learner.
 *   64+M 4     meta_crc     CRC32C of bytes [0, 64+M)
 *
 *   Then chunks, from offset 68+M, until the trailer chunk:
 *   +0   4     entry_count  > 0: a lease or data chunk; 0: the trailer chunk
 *   +4   4     payload_len  P
 *   +8   P     payload
 *   +8+P 4     chunk_crc    CRC32C of the chunk's bytes [+0, +8+P)
 *
 *   Lease chunks come first, as many as hold lease_count leases (none when
 *   it is 0), at most 65536 leases each. Lease payload: entry_count
 *   records { le64 id, le64 ttl } (P = 16 x entry_count), IDs ascending
 *   across the chunks, each ID once and nonzero, ttl <= MVCC_LEASE_TTL_MAX;
 *   the loader hands them to mvcc_restore_lease(), and the store attaches
 *   the live keys whose lease they name. Then the data chunks:
 *
 *   Data payload: entry_count records, one per stored version, filling P
 *   exactly (key_len, value_len <= 2^30 each):
 *     le32 key_len, le32 value_len, key, value,
 *     le64 mod_revision, le64 create_revision, le64 version, le64 lease,
 *     le32 sub
 *   in mvcc_iter_versions() order: keys ascending, each key's versions
 *   oldest first; a tombstone has version 0 (src/mvcc/mvcc.h). The loader
 *   rebuilds the store with mvcc_restore_*(), which refuses any record out
 *   of order or inconsistent with the one before. A record's first 8 + key
 *   + value bytes are a version 1 record, the input of the content digest.
 *   The writer closes a chunk before its payload would pass 1 MiB; a record
 *   bigger than that gets a chunk of its own. Two snapshots of the same
 *   store are equal byte for byte.
 *
 *   Trailer payload (P = 40): le64 live key count, le64 sum of key_len +
 *   value_len of the live keys, le64 content hash (src/kv/kv.h, over the
 *   live keys: each key's newest record when it is not a tombstone), le64
 *   record count, le64 sum of key_len + value_len over all records. The
 *   trailer chunk ends the file: any byte after it is refused.
 *
 * Version 2 (before the store kept leases): the meta block without
 * lease_count (members at 56, meta_crc at 56+M), no lease chunks; loads as
 * a store without leases (a key's lease field is kept, attached to none).
 * It is what raftd writes while the store holds no lease (a member of the
 * release before leases reads it during a rolling upgrade).
 *
 * Version 1 (the hash map's, before the store): the meta block without
 * revision and compacted (members at 40, meta_crc at 40+M), records
 *   { le32 key_len, le32 value_len, key, value } of the live keys in any
 * order (no key twice; key_len + value_len <= 2^31, and now each <= 2^30),
 * a 24-byte trailer (the first three fields above).
 * Loaded as a store whose keys were all put by one transaction: revision
 * 2 (1 when empty), every key at version 1, created at 2, in key order.
 * kv_snapshot_encode_version() still writes it, for tests.
 *
 * Why chunks: the writer streams (1 MiB writes, memory independent of the
 * store's size) and a reader can verify and insert chunk by chunk. The
 * record's leading bytes are the input of the per-entry content digest, so
 * the trailer's hash costs one pass over bytes already in cache.
 *
 * Loading maps the file and parses it as a buffer: one code path for files
 * and for bytes received from a peer (which the fuzzer exercises). Lengths
 * are checked against what is left before anything is allocated, so memory
 * stays proportional to the input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "src/mvcc/mvcc.h"
#include "src/kv/kv.h"

#define SNAP_MAGIC "RAFTDKVS"
#define SNAP_VERSION 3u
#define META_FIXED_V1 40u
#define META_FIXED_V2 56u
#define META_FIXED 64u
#define LEASE_RECORD 16u
#define LEASES_PER_CHUNK (CHUNK_TARGET / LEASE_RECORD)
#define SNAP_FLAG_LEARNERS 1u
#define CHUNK_HEADER 8u
#define CHUNK_OVERHEAD 12u /* header + crc */
#define TRAILER_PAYLOAD_V1 24u
#define TRAILER_PAYLOAD 40u
#define RECORD_HEADER 8u
#define RECORD_TAIL 36u /* version 2: revisions, version, lease, sub */
#define CHUNK_TARGET (1u << 20)

static inline void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* The meta block's fixed part in a format version. */
static size_t meta_fixed(unsigned version)
{
	return version == 1 ? META_FIXED_V1 : version == 2 ? META_FIXED_V2 : META_FIXED;
}

void kv_snapshot_meta_free(struct kv_snapshot_meta *meta)
{
	if (!meta)
		return;
	for (size_t i = 0; i < meta->n_members; i++) {
		free(meta->members[i].name.ptr);
		free(meta->members[i].connection_string.ptr);
	}
	free(meta->members);
	*meta = (struct kv_snapshot_meta){ 0 };
}

/* ---- Writing ---- */

struct writer {
	int fd; /* -1: everything stays in buf */
	uint8_t *buf;
	size_t len, cap;
	size_t chunk_off; /* offset in buf of the open chunk's header */
	uint32_t chunk_entries;
	unsigned version;
	uint64_t entries, bytes, digest_sum;	   /* live keys (all records in v1) */
	uint64_t records, record_bytes;		   /* v2: every version */
	const uint8_t *last_key;		   /* v2: the key of the last record */
	size_t last_key_len;
	bool pending;				   /* v2: the last record is live... */
	uint64_t pending_digest, pending_bytes;	   /* ...and counts if it is its key's newest */
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int w_room(struct writer *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 4096;
	uint8_t *buf;

	if (w->cap - w->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - w->len)
		return -ENOMEM;
	while (cap - w->len < n)
		cap *= 2;
	buf = kv_realloc(w->buf, cap);
	if (!buf)
		return -ENOMEM;
	w->buf = buf;
	w->cap = cap;
	return 0;
}

static int w_open_chunk(struct writer *w)
{
	int rv = w_room(w, CHUNK_HEADER);

	if (rv < 0)
		return rv;
	w->chunk_off = w->len;
	w->len += CHUNK_HEADER;
	w->chunk_entries = 0;
	return 0;
}

/* Fills in the open chunk's header and CRC; in fd mode, writes out
 * everything buffered once it reaches CHUNK_TARGET. */
static int w_close_chunk(struct writer *w, uint32_t entry_count)
{
	size_t payload = w->len - w->chunk_off - CHUNK_HEADER;
	uint32_t crc;
	int rv = w_room(w, 4);

	if (rv < 0)
		return rv;
	put_le32(w->buf + w->chunk_off, entry_count);
	put_le32(w->buf + w->chunk_off + 4, (uint32_t)payload);
	crc = wal_crc32c(0, w->buf + w->chunk_off, CHUNK_HEADER + payload);
	put_le32(w->buf + w->len, crc);
	w->len += 4;
	if (w->fd >= 0 && w->len >= CHUNK_TARGET) {
		rv = write_all(w->fd, w->buf, w->len);
		w->len = 0;
	}
	return rv;
}

static int w_meta(struct writer *w, const struct kv *kv, const struct kv_snapshot_meta *meta)
{
	size_t fixed = meta_fixed(w->version);
	uint64_t members_len = 0;
	bool learners = false;
	uint8_t *p;
	int rv;

	if (meta->n_members > UINT32_MAX || (meta->n_members && !meta->members))
		return -EINVAL;
	for (size_t i = 0; i < meta->n_members; i++) {
		const struct kv_member *m = &meta->members[i];
		if (m->name.len > UINT32_MAX || m->connection_string.len > UINT32_MAX)
			return -EINVAL;
		members_len += 9 + (uint64_t)m->name.len + m->connection_string.len;
		if (members_len > UINT32_MAX - fixed - 4)
			return -EINVAL;
		learners = learners || m->learner;
	}
	if (!learners)
		members_len -= meta->n_members;
	rv = w_room(w, fixed + members_len + 4);
	if (rv < 0)
		return rv;
	p = w->buf + w->len;
	memcpy(p, SNAP_MAGIC, 8);
	put_le32(p + 8, w->version);
	put_le32(p + 12, learners ? SNAP_FLAG_LEARNERS : 0);
	put_le64(p + 16, meta->last_index);
	put_le64(p + 24, meta->last_term);
	put_le32(p + 32, (uint32_t)meta->n_members);
	put_le32(p + 36, (uint32_t)members_len);
	if (w->version != 1) {
		put_le64(p + 40, (uint64_t)mvcc_revision(kv_mvcc_const(kv)));
		put_le64(p + 48, (uint64_t)mvcc_compacted(kv_mvcc_const(kv)));
	}
	if (w->version >= 3)
		put_le64(p + 56, (uint64_t)mvcc_lease_count(kv_mvcc_const(kv)));
	p += fixed;
	for (size_t i = 0; i < meta->n_members; i++) {
		const struct cmd_str *s[2] = { &meta->members[i].name,
					       &meta->members[i].connection_string };
		for (int k = 0; k < 2; k++) {
			put_le32(p, (uint32_t)s[k]->len);
			if (s[k]->len)
				memcpy(p + 4, s[k]->ptr, s[k]->len);
			p += 4 + s[k]->len;
		}
	}
	for (size_t i = 0; learners && i < meta->n_members; i++)
		*p++ = meta->members[i].learner ? 1 : 0;
	put_le32(p, wal_crc32c(0, w->buf + w->len, fixed + members_len));
	w->len += fixed + members_len + 4;
	return 0;
}

/* Appends a record: the version 1 fields, and with tail (version 2) the
 * version's. */
static int w_record(struct writer *w, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
		    const struct mvcc_version *tail)
{
	size_t rec = RECORD_HEADER + key_len + value_len + (tail ? RECORD_TAIL : 0);
	size_t payload = w->len - w->chunk_off - CHUNK_HEADER;
	uint8_t *p;
	int rv;

	if (w->chunk_entries > 0 && payload + rec > CHUNK_TARGET) {
		rv = w_close_chunk(w, w->chunk_entries);
		if (rv < 0)
			return rv;
		rv = w_open_chunk(w);
		if (rv < 0)
			return rv;
	}
	rv = w_room(w, rec);
	if (rv < 0)
		return rv;
	p = w->buf + w->len;
	put_le32(p, (uint32_t)key_len);
	put_le32(p + 4, (uint32_t)value_len);
	if (key_len)
		memcpy(p + RECORD_HEADER, key, key_len);
	if (value_len)
		memcpy(p + RECORD_HEADER + key_len, value, value_len);
	if (tail) {
		uint8_t *t = p + RECORD_HEADER + key_len + value_len;
		put_le64(t, (uint64_t)tail->mod_revision);
		put_le64(t + 8, (uint64_t)tail->create_revision);
		put_le64(t + 16, (uint64_t)tail->version);
		put_le64(t + 24, (uint64_t)tail->lease);
		put_le32(t + 32, tail->sub);
	}
	w->len += rec;
	w->chunk_entries++;
	return 0;
}

/* The live key the last record left pending (its key's newest version)
 * joins the counts. */
static void w_settle(struct writer *w)
{
	if (w->pending) {
		w->digest_sum += w->pending_digest;
		w->bytes += w->pending_bytes;
		w->entries++;
	}
	w->pending = false;
}

static int w_version(void *ctx, const struct mvcc_version *v)
{
	struct writer *w = ctx;
	size_t off;
	int rv;

	if (v->key_len > UINT32_MAX || v->value_len > UINT32_MAX)
		return -EINVAL;
	if (v->key != w->last_key || v->key_len != w->last_key_len)
		w_settle(w);
	w->pending = false;
	rv = w_record(w, v->key, v->key_len, v->value, v->value_len, v);
	if (rv < 0)
		return rv;
	/* where it landed (w_record may have closed a chunk and opened one) */
	off = w->len - (RECORD_HEADER + v->key_len + v->value_len + RECORD_TAIL);
	if (v->version) {
		w->pending = true;
		w->pending_digest = kv_content_digest(w->buf + off, RECORD_HEADER + v->key_len + v->value_len);
		w->pending_bytes = v->key_len + v->value_len;
	}
	w->last_key = v->key;
	w->last_key_len = v->key_len;
	w->records++;
	w->record_bytes += v->key_len + v->value_len;
	return 0;
}

/* One lease record; the chunk closes at LEASES_PER_CHUNK. */
static int w_lease(void *ctx, int64_t id, int64_t ttl)
{
	struct writer *w = ctx;
	int rv;

	if (w->chunk_entries == LEASES_PER_CHUNK) {
		rv = w_close_chunk(w, w->chunk_entries);
		if (rv == 0)
			rv = w_open_chunk(w);
		if (rv < 0)
			return rv;
	}
	rv = w_room(w, LEASE_RECORD);
	if (rv < 0)
		return rv;
	put_le64(w->buf + w->len, (uint64_t)id);
	put_le64(w->buf + w->len + 8, (uint64_t)ttl);
	w->len += LEASE_RECORD;
	w->chunk_entries++;
	return 0;
}

/* Version 3: the lease chunks, after the meta block. */
static int w_leases(struct writer *w, const struct kv *kv)
{
	int rv;

	if (!mvcc_lease_count(kv_mvcc_const(kv)))
		return 0;
	rv = w_open_chunk(w);
	if (rv == 0)
		rv = mvcc_lease_iter(kv_mvcc_const(kv), w_lease, w);
	if (rv == 0)
		rv = w_close_chunk(w, w->chunk_entries);
	return rv;
}

static int snapshot_emit(struct writer *w, const struct kv *kv, const struct kv_snapshot_meta *meta)
{
	size_t trailer = w->version == 1 ? TRAILER_PAYLOAD_V1 : TRAILER_PAYLOAD;
	uint8_t *p;
	int rv;

	if (meta->last_index != kv_applied_index(kv))
		return -EINVAL;
	rv = w_meta(w, kv, meta);
	if (rv == 0 && w->version >= 3)
		rv = w_leases(w, kv);
	if (rv < 0)
		return rv;
	rv = w_open_chunk(w);
	if (rv < 0)
		return rv;
	if (w->version == 1) {
		struct kv_iter it;
		struct kv_view v;
		kv_iter_init(&it, kv);
		while (rv == 0 && kv_iter_next(&it, &v)) {
			rv = w_record(w, v.key, v.key_len, v.value, v.value_len, NULL);
			if (rv == 0) {
				size_t rec = RECORD_HEADER + v.key_len + v.value_len;
				w->digest_sum += kv_content_digest(w->buf + w->len - rec, rec);
				w->entries++;
				w->bytes += v.key_len + v.value_len;
			}
		}
	} else {
		rv = mvcc_iter_versions(kv_mvcc_const(kv), w_version, w);
		w_settle(w);
	}
	if (rv < 0)
		return rv;
	if (w->chunk_entries > 0)
		rv = w_close_chunk(w, w->chunk_entries);
	else
		w->len = w->chunk_off; /* drop the empty chunk (store empty, or just flushed) */
	if (rv == 0)
		rv = w_open_chunk(w);
	if (rv == 0)
		rv = w_room(w, trailer);
	if (rv < 0)
		return rv;
	p = w->buf + w->len;
	put_le64(p, w->entries);
	put_le64(p + 8, w->bytes);
	put_le64(p + 16, kv_content_finish(w->digest_sum, w->entries));
	if (w->version != 1) {
		put_le64(p + 24, w->records);
		put_le64(p + 32, w->record_bytes);
	}
	w->len += trailer;
	rv = w_close_chunk(w, 0);
	if (rv == 0 && w->fd >= 0 && w->len > 0)
		rv = write_all(w->fd, w->buf, w->len);
	return rv;
}

/* The version a snapshot is written in: version 2 while the store holds no
 * lease, so that a member still running the release before leases reads
 * what an upgraded one sends it during a rolling upgrade; version 3 only
 * when it has leases to keep. */
static unsigned version_for(const struct kv *kv)
{
	return mvcc_lease_count(kv_mvcc_const(kv)) ? SNAP_VERSION : 2u;
}

int kv_snapshot_write(const struct kv *kv, int fd, const struct kv_snapshot_meta *meta)
{
	struct writer w = { .fd = fd, .version = version_for(kv) };
	int rv = w_room(&w, CHUNK_TARGET + CHUNK_OVERHEAD + 4096);

	if (rv == 0)
		rv = snapshot_emit(&w, kv, meta);
	free(w.buf);
	return rv;
}

int kv_snapshot_encode_version(const struct kv *kv, const struct kv_snapshot_meta *meta, unsigned version,
			       uint8_t **ret_buf, size_t *ret_len)
{
	const struct mvcc *m = kv_mvcc_const(kv);
	struct writer w = { .fd = -1, .version = version };
	/* Size it once: records, chunk overheads, and slack for meta/trailer. */
	uint64_t estimate = mvcc_bytes(m) + (uint64_t)mvcc_versions(m) * (RECORD_HEADER + RECORD_TAIL) +
			    (mvcc_bytes(m) / (CHUNK_TARGET / 2) + 2) * CHUNK_OVERHEAD + 4096 +
			    (uint64_t)mvcc_lease_count(m) * LEASE_RECORD * 2;
	int rv = estimate < SIZE_MAX / 2 ? w_room(&w, (size_t)estimate) : -ENOMEM;

	if (version < 1 || version > SNAP_VERSION)
		rv = -EINVAL;
	if (rv == 0)
		rv = snapshot_emit(&w, kv, meta);
	if (rv < 0) {
		free(w.buf);
		return rv;
	}
	*ret_buf = w.buf;
	*ret_len = w.len;
	return 0;
}

int kv_snapshot_encode(const struct kv *kv, const struct kv_snapshot_meta *meta, uint8_t **ret_buf,
		       size_t *ret_len)
{
	return kv_snapshot_encode_version(kv, meta, version_for(kv), ret_buf, ret_len);
}

/* ---- Reading ---- */

struct reader {
	const uint8_t *buf;
	size_t len;
	const char *name;
	char *err;
	size_t err_len;
};

__attribute__((format(printf, 3, 4))) static int fail(const struct reader *r, size_t off,
						       const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (r->err_len == 0)
		return -EBADMSG;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(r->err, r->err_len, "%s: %s at offset %zu", r->name, what, off);
	return -EBADMSG;
}

/* -EBADMSG unless n bytes are left at off. */
static int need(const struct reader *r, size_t off, uint64_t n, const char *what)
{
	if (off <= r->len && n <= r->len - off)
		return 0;
	return fail(r, off, "truncated %s (needs %" PRIu64 " bytes, %zu left)", what, n,
		    off <= r->len ? r->len - off : 0);
}

static int read_members(const struct reader *r, struct kv_snapshot_meta *meta, size_t start,
			size_t end, bool learners)
{
	uint32_t count = get_le32(r->buf + 32);
	size_t off = start;

	/* each member takes at least 8 bytes: bounds the allocation by the input */
	if (count > (end - start) / 8)
		return fail(r, 32, "member count %" PRIu32 " does not fit a %zu-byte member list",
			    count, end - start);
	if (count) {
		meta->members = kv_calloc(count, sizeof *meta->members);
		if (!meta->members)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct cmd_str *s[2] = { &meta->members[i].name,
					 &meta->members[i].connection_string };
		meta->n_members = i + 1; /* so that meta_free releases what is set */
		for (int k = 0; k < 2; k++) {
			uint32_t n;
			if (end - off < 4)
				return fail(r, off, "member %" PRIu32 " overruns the member list", i);
			n = get_le32(r->buf + off);
			if (n > end - off - 4)
				return fail(r, off, "member %" PRIu32 " string of %" PRIu32
						    " bytes overruns the member list", i, n);
			s[k]->ptr = kv_malloc((size_t)n + 1);
			if (!s[k]->ptr)
				return -ENOMEM;
			memcpy(s[k]->ptr, r->buf + off + 4, n);
			s[k]->ptr[n] = '\0';
			s[k]->len = n;
			off += 4 + (size_t)n;
		}
	}
	for (uint32_t i = 0; learners && i < count; i++, off++) {
		if (off >= end)
			return fail(r, off, "learner flags overrun the member list");
		if (r->buf[off] > 1)
			return fail(r, off, "learner flag %u of member %" PRIu32 " is not 0 or 1", r->buf[off], i);
		meta->members[i].learner = r->buf[off] == 1;
	}
	if (off != end)
		return fail(r, off, "%zu unused bytes at the end of the member list", end - off);
	return 0;
}

/* What the chunks add up to, and the state of the rebuild. */
struct loader {
	struct mvcc *m;
	unsigned version;
	uint64_t leases; /* v3: lease_count of the meta block */
	uint64_t entries, bytes, digest_sum; /* live keys (all records in v1) */
	uint64_t records, record_bytes;
	size_t *offs; /* v1: each record's offset, to restore them in key order */
	size_t n_offs, cap_offs;
	const uint8_t *last_key; /* v2: as in struct writer */
	size_t last_key_len;
	bool pending;
	uint64_t pending_digest, pending_bytes;
};

static void l_settle(struct loader *l)
{
	if (l->pending) {
		l->digest_sum += l->pending_digest;
		l->bytes += l->pending_bytes;
		l->entries++;
	}
	l->pending = false;
}

/* One record at p (klen + vlen bytes after its header, known to fit). */
static int load_record(const struct reader *r, struct loader *l, size_t p, uint32_t klen, uint32_t vlen)
{
	const uint8_t *rec = r->buf + p, *key = rec + RECORD_HEADER;
	size_t body = RECORD_HEADER + (size_t)klen + vlen;
	int rv;

	if ((uint64_t)klen + vlen > KV_ENTRY_MAX || klen > MVCC_LEN_MAX || vlen > MVCC_LEN_MAX)
		return fail(r, p, "record of %" PRIu32 "+%" PRIu32 " bytes exceeds the entry limit", klen, vlen);
	l->records++;
	l->record_bytes += (uint64_t)klen + vlen;
	if (l->version == 1) {
		if (l->n_offs == l->cap_offs) {
			size_t cap = l->cap_offs ? l->cap_offs * 2 : 1024;
			size_t *v = kv_realloc(l->offs, cap * sizeof *v);
			if (!v)
				return -ENOMEM;
			l->offs = v;
			l->cap_offs = cap;
		}
		l->offs[l->n_offs++] = p;
		l->digest_sum += kv_content_digest(rec, body);
		l->bytes += (uint64_t)klen + vlen;
		l->entries++;
		return 0;
	}
	const uint8_t *t = rec + body;
	struct mvcc_version v = {
		.key = key,
		.key_len = klen,
		.value = key + klen,
		.value_len = vlen,
		.mod_revision = (int64_t)get_le64(t),
		.create_revision = (int64_t)get_le64(t + 8),
		.version = (int64_t)get_le64(t + 16),
		.lease = (int64_t)get_le64(t + 24),
		.sub = get_le32(t + 32),
	};
	rv = mvcc_restore_add(l->m, &v);
	if (rv == -EINVAL)
		return fail(r, p, "record breaks the store's history (key order, revisions or versions)");
	if (rv == -E2BIG)
		return fail(r, p, "record of %" PRIu32 "+%" PRIu32 " bytes exceeds the entry limit", klen, vlen);
	if (rv < 0)
		return rv;
	if (!l->last_key || l->last_key_len != klen || (klen && memcmp(l->last_key, key, klen) != 0))
		l_settle(l); /* a new key: the last one's newest version is known */
	l->pending = false;
	if (v.version) {
		l->pending = true;
		l->pending_digest = kv_content_digest(rec, body);
		l->pending_bytes = (uint64_t)klen + vlen;
	}
	l->last_key = key;
	l->last_key_len = klen;
	return 0;
}

static int offs_cmp(const void *a, const void *b, void *ctx)
{
	const struct reader *r = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	const uint8_t *px = r->buf + x, *py = r->buf + y;
	uint32_t lx = get_le32(px), ly = get_le32(py);
	size_t n = lx < ly ? lx : ly;
	int c = n ? memcmp(px + RECORD_HEADER, py + RECORD_HEADER, n) : 0;

	if (c)
		return c;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x < y ? -1 : x > y; /* equal keys: file order, to name the second */
}

/* Version 1: the records in key order, refusing a key twice (before the
 * trailer's sums, which a duplicate also breaks, so the error says why). */
static int sort_v1(const struct reader *r, struct loader *l)
{
	if (l->n_offs > UINT32_MAX)
		return fail(r, l->offs[UINT32_MAX], "more records than one transaction can hold");
	if (l->n_offs > 1)
		qsort_r(l->offs, l->n_offs, sizeof l->offs[0], offs_cmp, (void *)r);
	for (size_t i = 1; i < l->n_offs; i++) {
		const uint8_t *a = r->buf + l->offs[i - 1], *b = r->buf + l->offs[i];
		uint32_t la = get_le32(a);
		if (la == get_le32(b) && (!la || memcmp(a + RECORD_HEADER, b + RECORD_HEADER, la) == 0))
			return fail(r, l->offs[i], "duplicate key");
	}
	return 0;
}

/* Version 1: the verified records become one transaction at revision 2,
 * in key order. */
static int restore_v1(const struct reader *r, struct loader *l)
{
	int rv = mvcc_restore_begin(l->m, l->n_offs ? 2 : 1, -1);
	for (size_t i = 0; rv == 0 && i < l->n_offs; i++) {
		const uint8_t *rec = r->buf + l->offs[i];
		uint32_t klen = get_le32(rec), vlen = get_le32(rec + 4);
		struct mvcc_version v = {
			.key = rec + RECORD_HEADER,
			.key_len = klen,
			.value = rec + RECORD_HEADER + klen,
			.value_len = vlen,
			.mod_revision = 2,
			.create_revision = 2,
			.version = 1,
			.sub = (uint32_t)i,
		};
		rv = mvcc_restore_add(l->m, &v);
	}
	if (rv == 0)
		rv = mvcc_restore_end(l->m);
	/* -EINVAL cannot happen: sorted, unique, all at one revision */
	return rv == -EINVAL ? fail(r, 0, "the records do not restore") : rv;
}

static int check_trailer(const struct reader *r, struct loader *l, size_t off, size_t p, uint32_t plen)
{
	const uint8_t *t = r->buf + p;
	uint32_t want = l->version == 1 ? TRAILER_PAYLOAD_V1 : TRAILER_PAYLOAD;

	int rv;

	if (l->version == 1 && (rv = sort_v1(r, l)) < 0)
		return rv;
	if (plen != want)
		return fail(r, off + 4, "trailer payload of %" PRIu32 " bytes, not %u", plen, want);
	l_settle(l);
	if (get_le64(t) != l->entries)
		return fail(r, p, "trailer counts %" PRIu64 " entries, the chunks hold %" PRIu64, get_le64(t),
			    l->entries);
	if (get_le64(t + 8) != l->bytes)
		return fail(r, p + 8, "trailer counts %" PRIu64 " bytes, the chunks hold %" PRIu64, get_le64(t + 8),
			    l->bytes);
	if (get_le64(t + 16) != kv_content_finish(l->digest_sum, l->entries))
		return fail(r, p + 16, "content hash mismatch");
	if (l->version == 1)
		return 0;
	if (get_le64(t + 24) != l->records)
		return fail(r, p + 24, "trailer counts %" PRIu64 " records, the chunks hold %" PRIu64,
			    get_le64(t + 24), l->records);
	if (get_le64(t + 32) != l->record_bytes)
		return fail(r, p + 32, "trailer counts %" PRIu64 " record bytes, the chunks hold %" PRIu64,
			    get_le64(t + 32), l->record_bytes);
	return 0;
}

/* Version 3: the lease chunks from off (*off moves past them). */
static int read_leases(const struct reader *r, struct loader *l, size_t *off)
{
	uint64_t left = l->leases;
	int64_t last = 0;
	bool first = true;

	while (left) {
		uint32_t count, plen;
		size_t p;
		int rv = need(r, *off, CHUNK_HEADER, "lease chunk header");
		if (rv < 0)
			return rv;
		count = get_le32(r->buf + *off);
		plen = get_le32(r->buf + *off + 4);
		rv = need(r, *off, (uint64_t)CHUNK_OVERHEAD + plen, "lease chunk");
		if (rv < 0)
			return rv;
		if (wal_crc32c(0, r->buf + *off, CHUNK_HEADER + (size_t)plen) !=
		    get_le32(r->buf + *off + CHUNK_HEADER + plen))
			return fail(r, *off, "chunk checksum mismatch");
		if (count == 0 || count > left || (uint64_t)count * LEASE_RECORD != plen)
			return fail(r, *off, "lease chunk of %" PRIu32 " leases in %" PRIu32 " bytes (%" PRIu64
					     " leases left)", count, plen, left);
		p = *off + CHUNK_HEADER;
		for (uint32_t i = 0; i < count; i++, p += LEASE_RECORD) {
			int64_t id = (int64_t)get_le64(r->buf + p), ttl = (int64_t)get_le64(r->buf + p + 8);
			if (!first && id <= last)
				return fail(r, p, "lease IDs out of order");
			rv = mvcc_restore_lease(l->m, id, ttl);
			if (rv == -EINVAL)
				return fail(r, p, "lease %" PRId64 " with TTL %" PRId64 " does not restore", id, ttl);
			if (rv < 0)
				return rv;
			first = false;
			last = id;
		}
		left -= count;
		*off = p + 4;
	}
	return 0;
}

static int read_chunks(const struct reader *r, struct loader *l, size_t off)
{
	size_t tail = l->version == 1 ? 0 : RECORD_TAIL;

	if (l->version >= 3) {
		int rv = read_leases(r, l, &off);
		if (rv < 0)
			return rv;
	}

	for (;;) {
		uint32_t count, plen, i;
		size_t p, end;
		int rv;

		if (off == r->len)
			return fail(r, off, "truncated: the trailer chunk is missing");
		rv = need(r, off, CHUNK_HEADER, "chunk header");
		if (rv < 0)
			return rv;
		count = get_le32(r->buf + off);
		plen = get_le32(r->buf + off + 4);
		rv = need(r, off, (uint64_t)CHUNK_OVERHEAD + plen, "chunk");
		if (rv < 0)
			return rv;
		if (wal_crc32c(0, r->buf + off, CHUNK_HEADER + (size_t)plen) !=
		    get_le32(r->buf + off + CHUNK_HEADER + plen))
			return fail(r, off, "chunk checksum mismatch");
		p = off + CHUNK_HEADER;
		end = p + plen;
		if (count == 0) {
			rv = check_trailer(r, l, off, p, plen);
			if (rv < 0)
				return rv;
			off = end + 4;
			if (off != r->len)
				return fail(r, off, "%zu bytes after the trailer chunk", r->len - off);
			return 0;
		}
		for (i = 0; i < count; i++) {
			uint32_t klen, vlen;
			if (end - p < RECORD_HEADER)
				return fail(r, p, "record %" PRIu32 " of %" PRIu32 " overruns its chunk", i, count);
			klen = get_le32(r->buf + p);
			vlen = get_le32(r->buf + p + 4);
			if ((uint64_t)klen + vlen + tail > end - p - RECORD_HEADER)
				return fail(r, p, "record of %" PRIu32 "+%" PRIu32 " bytes overruns its chunk", klen,
					    vlen);
			rv = load_record(r, l, p, klen, vlen);
			if (rv < 0)
				return rv;
			p += RECORD_HEADER + (size_t)klen + vlen + tail;
		}
		if (p != end)
			return fail(r, p, "%zu bytes after the last record of the chunk", end - p);
		off = end + 4;
	}
}

/* The meta block into *meta (the caller frees it, on failure too); *ret_end
 * is where its checksum starts, *ret_version the format's version, and for
 * version 2 *ret_rev and *ret_compacted the store's. */
static int decode_meta(const struct reader *r, struct kv_snapshot_meta *meta, size_t *ret_end,
		       unsigned *ret_version, int64_t *ret_rev, int64_t *ret_compacted, uint64_t *ret_leases)
{
	uint32_t version, flags, members_len;
	size_t meta_end, fixed;
	int rv;

	if (r->err_len)
		r->err[0] = '\0';
	if (memcmp(r->buf, SNAP_MAGIC, r->len < 8 ? r->len : 8) != 0) {
		rv = fail(r, 0, "not a raftd kv snapshot (bad magic)");
		goto out;
	}
	rv = need(r, 0, META_FIXED_V1, "header");
	if (rv < 0)
		goto out;
	version = get_le32(r->buf + 8);
	if (version < 1 || version > SNAP_VERSION) {
		rv = fail(r, 8, "unsupported version %" PRIu32, version);
		goto out;
	}
	fixed = meta_fixed(version);
	rv = need(r, 0, fixed, "header");
	if (rv < 0)
		goto out;
	members_len = get_le32(r->buf + 36);
	rv = need(r, fixed, (uint64_t)members_len + 4, "member list and meta checksum");
	if (rv < 0)
		goto out;
	meta_end = fixed + (size_t)members_len;
	if (wal_crc32c(0, r->buf, meta_end) != get_le32(r->buf + meta_end)) {
		rv = fail(r, meta_end, "meta block checksum mismatch");
		goto out;
	}
	flags = get_le32(r->buf + 12);
	if (flags & ~SNAP_FLAG_LEARNERS) {
		rv = fail(r, 12, "unknown flags 0x%" PRIx32, flags);
		goto out;
	}
	meta->last_index = get_le64(r->buf + 16);
	meta->last_term = get_le64(r->buf + 24);
	*ret_version = version;
	*ret_rev = version == 1 ? 1 : (int64_t)get_le64(r->buf + 40);
	*ret_compacted = version == 1 ? -1 : (int64_t)get_le64(r->buf + 48);
	*ret_leases = version >= 3 ? get_le64(r->buf + 56) : 0;
	rv = read_members(r, meta, fixed, meta_end, flags & SNAP_FLAG_LEARNERS);
	*ret_end = meta_end;
out:
	return rv;
}

static int decode(const struct reader *r, struct kv **ret_kv, struct kv_snapshot_meta *ret_meta)
{
	struct kv_snapshot_meta meta = { 0 };
	struct loader l = { 0 };
	struct kv *kv = NULL;
	size_t meta_end = 0;
	int64_t rev = 0, compacted = 0;
	int rv;

	rv = decode_meta(r, &meta, &meta_end, &l.version, &rev, &compacted, &l.leases);
	if (rv < 0)
		goto out;
	kv = kv_new();
	if (!kv) {
		rv = -ENOMEM;
		goto out;
	}
	l.m = kv_mvcc(kv);
	if (l.version != 1 && mvcc_restore_begin(l.m, rev, compacted) < 0) {
		rv = fail(r, 40, "store revision %" PRId64 " or compaction %" PRId64 " out of range", rev, compacted);
		goto out;
	}
	rv = read_chunks(r, &l, meta_end + 4);
	if (rv < 0)
		goto out;
	rv = l.version == 1 ? restore_v1(r, &l) : mvcc_restore_end(l.m);
	if (rv < 0)
		goto out;
	kv_set_applied_index(kv, meta.last_index);
	*ret_kv = kv;
	*ret_meta = meta;
	free(l.offs);
	return 0;
out:
	if (rv == -ENOMEM && r->err_len)
		snprintf(r->err, r->err_len, "%s: out of memory", r->name);
	free(l.offs);
	kv_free(kv);
	kv_snapshot_meta_free(&meta);
	return rv;
}

int kv_snapshot_decode(const void *buf, size_t len, const char *name, struct kv **ret_kv,
		       struct kv_snapshot_meta *ret_meta, char *err, size_t err_len)
{
	struct reader r = { len ? buf : (const uint8_t *)"", len, name, err, err_len };

	return decode(&r, ret_kv, ret_meta);
}

int kv_snapshot_decode_meta(const void *buf, size_t len, struct kv_snapshot_meta *ret_meta)
{
	struct reader r = { len ? buf : (const uint8_t *)"", len, "", NULL, 0 };
	struct kv_snapshot_meta meta = { 0 };
	size_t end;
	unsigned version;
	int64_t rev, compacted;
	uint64_t leases;
	int rv = decode_meta(&r, &meta, &end, &version, &rev, &compacted, &leases);

	if (rv < 0)
		kv_snapshot_meta_free(&meta);
	else
		*ret_meta = meta;
	return rv;
}

int kv_snapshot_load(const char *path, struct kv **ret_kv, struct kv_snapshot_meta *ret_meta,
		     char *err, size_t err_len)
{
	struct reader r = { (const uint8_t *)"", 0, path, err, err_len };
	void *map = MAP_FAILED;
	const char *step = "open";
	struct stat st;
	int fd, rv;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail_errno;
	step = "stat";
	if (fstat(fd, &st) < 0)
		goto fail_errno;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL; /* a directory or device under a snapshot's name */
		step = "not a regular file";
		goto fail_errno;
	}
	if (st.st_size > 0) {
		step = "mmap";
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			goto fail_errno;
		(void)madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
		r.buf = map;
		r.len = (size_t)st.st_size;
	}
	rv = decode(&r, ret_kv, ret_meta);
	goto out;
fail_errno:
	rv = -errno;
	if (err_len)
		snprintf(err, err_len, "%s: %s: %s", path, step, strerror(-rv));
out:
	if (map != MAP_FAILED)
		munmap(map, r.len);
	if (fd >= 0)
		close(fd);
	return rv;
}

/* ---- The snapshot directory ---- */

struct snap_name {
	uint64_t term, index;
	bool tmp;
	char name[KV_SNAPDIR_NAME_MAX];
};

/* Strict decimal: digits only, no leading zero (but "0"), no overflow. */
static const char *parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return NULL;
	*ret = v;
	return p;
}

bool kv_snapdir_parse(const char *name, uint64_t *ret_term, uint64_t *ret_index, bool *ret_tmp)
{
	uint64_t term, index;
	const char *p;

	if (strncmp(name, "snapshot-", 9) != 0 || strlen(name) >= KV_SNAPDIR_NAME_MAX)
		return false;
	p = parse_u64(name + 9, &term);
	if (!p || *p != '-')
		return false;
	p = parse_u64(p + 1, &index);
	if (!p)
		return false;
	if (strcmp(p, ".tmp") == 0)
		*ret_tmp = true;
	else if (*p == '\0')
		*ret_tmp = false;
	else
		return false;
	*ret_term = term;
	*ret_index = index;
	return true;
}

int kv_snapdir_name(char *buf, size_t len, uint64_t term, uint64_t index)
{
	int n = snprintf(buf, len, "snapshot-%" PRIu64 "-%" PRIu64, term, index);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int kv_snapdir_path(char *buf, size_t len, const char *dir, uint64_t term, uint64_t index)
{
	int n = snprintf(buf, len, "%s/snapshot-%" PRIu64 "-%" PRIu64, dir, term, index);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool parse_snap_name(const char *name, struct snap_name *ret)
{
	if (!kv_snapdir_parse(name, &ret->term, &ret->index, &ret->tmp))
		return false;
	strcpy(ret->name, name);
	return true;
}

static int snap_cmp_desc(const void *a, const void *b)
{
	const struct snap_name *x = a, *y = b;

	if (x->index != y->index)
		return x->index < y->index ? 1 : -1;
	if (x->term != y->term)
		return x->term < y->term ? 1 : -1;
	return 0;
}

/* All snapshot names in dir, newest first (.tmp ones included, flagged). */
static int list_snapshots(const char *dir, struct snap_name **ret, size_t *ret_n)
{
	struct snap_name *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int rv = 0;

	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		struct snap_name s;
		if (!parse_snap_name(de->d_name, &s))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			nv = kv_realloc(v, cap * sizeof *v);
			if (!nv) {
				rv = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = s;
	}
	if (rv == 0 && errno)
		rv = -errno;
	closedir(d);
	if (rv < 0) {
		free(v);
		return rv;
	}
	if (n > 1)
		qsort(v, n, sizeof *v, snap_cmp_desc);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* No allocation, unlike list_snapshots(): the daemon asks this on every
 * GET /raftd/snapshot and at start-up. */
bool kv_snapdir_newest(const char *dir, uint64_t *ret_term, uint64_t *ret_index)
{
	DIR *d = opendir(dir);
	bool found = false;

	if (!d)
		return false;
	for (struct dirent *de; (de = readdir(d));) {
		uint64_t term, index;
		bool tmp;
		if (!kv_snapdir_parse(de->d_name, &term, &index, &tmp) || tmp)
			continue;
		if (!found || index > *ret_index || (index == *ret_index && term > *ret_term)) {
			found = true;
			*ret_index = index;
			*ret_term = term;
		}
	}
	closedir(d);
	return found;
}

uint64_t kv_snapdir_older(const char *dir, uint64_t below)
{
	DIR *d = opendir(dir);
	uint64_t best = 0;

	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));) {
		uint64_t term, index;
		bool tmp;
		if (kv_snapdir_parse(de->d_name, &term, &index, &tmp) && !tmp && index < below &&
		    index > best)
			best = index;
	}
	closedir(d);
	return best;
}

static int join_path(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, KV_SNAPSHOT_PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= KV_SNAPSHOT_PATH_MAX ? -ENAMETOOLONG : 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rv = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rv = -errno;
	close(fd);
	return rv;
}

/* Best effort: a file left behind is only disk space, and is retried on the
 * next save. */
static void prune(const char *dir, const struct snap_name *saved)
{
	struct snap_name *v;
	char path[KV_SNAPSHOT_PATH_MAX];
	bool kept_previous = false;
	size_t n;

	if (list_snapshots(dir, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool older = snap_cmp_desc(&v[i], saved) > 0;
		if (!v[i].tmp && (!older || !kept_previous)) {
			kept_previous |= older;
			continue; /* the new one, anything newer, and the previous one */
		}
		if (join_path(path, dir, v[i].name) == 0)
			(void)unlink(path);
	}
	free(v);
}

int kv_snapshot_save(const char *dir, const struct kv *kv, const struct kv_snapshot_meta *meta,
		     char *err, size_t err_len)
{
	char tmp[KV_SNAPSHOT_PATH_MAX], final[KV_SNAPSHOT_PATH_MAX];
	struct snap_name saved = { .term = meta->last_term, .index = meta->last_index };
	const char *step = "path";
	bool tmp_exists = false;
	int fd = -1, rv;

	rv = kv_snapdir_name(saved.name, sizeof saved.name, meta->last_term, meta->last_index);
	if (rv == 0)
		rv = join_path(final, dir, saved.name);
	if (rv == 0) {
		int n = snprintf(tmp, sizeof tmp, "%s.tmp", final);
		rv = n < 0 || (size_t)n >= sizeof tmp ? -ENAMETOOLONG : 0;
	}
	if (rv < 0)
		goto out;
	step = "create";
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = -errno;
		goto out;
	}
	tmp_exists = true;
	step = "write";
	rv = kv_snapshot_write(kv, fd, meta);
	if (rv < 0)
		goto out;
	step = "fdatasync";
	if (fdatasync(fd) < 0) {
		rv = -errno;
		goto out;
	}
	step = "close";
	rv = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (rv < 0)
		goto out;
	step = "rename";
	if (rename(tmp, final) < 0) {
		rv = -errno;
		goto out;
	}
	tmp_exists = false;
	/* Until the directory is synced the rename may not survive a crash;
	 * then the previous snapshot is still there, so this is no loss. */
	step = "fsync directory";
	rv = fsync_dir(dir);
	if (rv < 0)
		goto out;
	prune(dir, &saved);
out:
	if (fd >= 0)
		close(fd);
	if (tmp_exists)
		(void)unlink(tmp);
	if (rv < 0 && err_len)
		snprintf(err, err_len, "%s/%s: %s: %s", dir, saved.name, step, strerror(-rv));
	else if (err_len)
		err[0] = '\0';
	return rv;
}

int kv_snapshot_fork(const char *dir, const struct kv *kv, const struct kv_snapshot_meta *meta,
		     pid_t *ret_pid)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* The child owns a copy-on-write image of the parent's memory: the
		 * map as it is now. _exit: no atexit handlers, no stdio flushing of
		 * the parent's buffers. */
		int rv = kv_snapshot_save(dir, kv, meta, NULL, 0);
		_exit(rv == 0 ? 0 : -rv <= 255 ? -rv : EIO);
	}
	*ret_pid = pid;
	return 0;
}

int kv_snapshot_load_latest(const char *dir, struct kv **ret_kv, struct kv_snapshot_meta *ret_meta,
			    char **ret_path, char *err, size_t err_len)
{
	char path[KV_SNAPSHOT_PATH_MAX], first_err[512] = "";
	struct kv_snapshot_meta meta = { 0 };
	struct snap_name *v = NULL;
	struct kv *kv = NULL;
	char *path_copy = NULL;
	size_t n = 0, tried = 0;
	int rv;

	if (err_len)
		err[0] = '\0';
	rv = list_snapshots(dir, &v, &n);
	if (rv < 0) {
		if (err_len)
			snprintf(err, err_len, "%s: %s", dir, strerror(-rv));
		return rv;
	}
	rv = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		char e[512];
		if (v[i].tmp)
			continue;
		tried++;
		rv = join_path(path, dir, v[i].name);
		if (rv == 0)
			rv = kv_snapshot_load(path, &kv, &meta, e, sizeof e);
		else
			snprintf(e, sizeof e, "%s/%s: path too long", dir, v[i].name);
		/* Out of memory says nothing about the file: do not fall back to an
		 * older snapshot over it. */
		if (rv == 0 || rv == -ENOMEM)
			break;
		if (!first_err[0])
			snprintf(first_err, sizeof first_err, "%s", e);
	}
	free(v);
	if (rv == 0 && ret_path && (path_copy = kv_malloc(strlen(path) + 1)))
		strcpy(path_copy, path);
	if (rv == 0 && ret_path && !path_copy) {
		kv = kv_free(kv);
		kv_snapshot_meta_free(&meta);
		rv = -ENOMEM;
	}
	if (rv == 0) {
		*ret_kv = kv;
		*ret_meta = meta;
		if (ret_path)
			*ret_path = path_copy;
	} else if (rv == -ENOMEM) {
		snprintf(first_err, sizeof first_err, "%s: out of memory", dir);
	} else if (tried == 0) {
		rv = -ENOENT;
		snprintf(first_err, sizeof first_err, "%s: no snapshot", dir);
	} else {
		rv = -EBADMSG; /* first_err: why the newest one was refused */
	}
	if (err_len)
		snprintf(err, err_len, "%s", first_err);
	return rv;
}
