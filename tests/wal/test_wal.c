/* tests/wal/test_wal.c — unit and crash tests of wal/ on a real file system.
 *
 * Every test works in its own directory under $TMPDIR (default /var/tmp, a
 * disk file system where /tmp may be tmpfs), drives the WAL with the small
 * loop of ring.h, and checks what reached the files by reopening them.
 * Record boundaries are found by an independent reader of the documented
 * format (seg_records()), not by the WAL's own code.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/wal/ring.h"
#include "base/alloc.h"
#include "base/crc32c.h"
#include "wal/wal.h"
#include "wal/wal_int.h" /* the invariants' tests reach inside */
#include "tests/lib/check_main.h"

/* --- fixture ------------------------------------------------------------ */

struct fx {
	struct io_uring ring;
	struct wal *w;
	struct wal_config cfg;
	struct wal_recovery rec;
	struct wal_error open_err;
	char dir[256];
	uint64_t durable;
	unsigned durable_calls;
	uint64_t durable_hist[64]; /* first reports, in order */
	uint64_t meta_term;
	char meta_vote[WAL_MAX_VOTE + 1];
	unsigned meta_calls;
	uint64_t compacted_first;
	unsigned compacted_calls;
	struct wal_error err;
	unsigned err_calls;
};

static void on_durable(void *ctx, uint64_t index)
{
	struct fx *f = ctx;
	if (f->durable_calls < 64)
		f->durable_hist[f->durable_calls] = index;
	f->durable_calls++;
	f->durable = index;
}

static void on_meta(void *ctx, uint64_t term, const char *vote)
{
	struct fx *f = ctx;
	f->meta_calls++;
	f->meta_term = term;
	snprintf(f->meta_vote, sizeof(f->meta_vote), "%s", vote);
}

static void on_compacted(void *ctx, uint64_t first)
{
	struct fx *f = ctx;
	f->compacted_calls++;
	f->compacted_first = first;
}

static void on_error(void *ctx, const struct wal_error *e)
{
	struct fx *f = ctx;
	f->err_calls++;
	f->err = *e;
}

static void fx_init(struct fx *f, uint64_t seg_size)
{
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s/walXXXXXX", tmp && *tmp ? tmp : "/var/tmp");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	ck_assert_int_eq(io_uring_queue_init(64, &f->ring, 0), 0);
	f->cfg.dir = f->dir;
	f->cfg.ring = &f->ring;
	f->cfg.segment_size = seg_size;
	f->cfg.ctx = f;
	f->cfg.on_durable = on_durable;
	f->cfg.on_meta = on_meta;
	f->cfg.on_compacted = on_compacted;
	f->cfg.on_error = on_error;
#ifdef WAL_FAILPOINTS
	wal_failpoint_reset();
#endif
}

static int fx_open(struct fx *f)
{
	f->durable = 0;
	f->durable_calls = 0;
	f->err_calls = 0;
	memset(&f->rec, 0, sizeof(f->rec));
	memset(&f->open_err, 0, sizeof(f->open_err));
	return wal_open(&f->cfg, &f->w, &f->rec, &f->open_err);
}

static void fx_drain(struct fx *f)
{
	ck_assert_int_eq(ring_drain(&f->ring, f->w), 0);
}

static void fx_close(struct fx *f)
{
	if (!f->w)
		return;
	fx_drain(f);
	wal_close(f->w);
	f->w = NULL;
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void fx_fini(struct fx *f)
{
	fx_close(f);
	io_uring_queue_exit(&f->ring);
	rm_rf(f->dir);
}

/* --- entries ------------------------------------------------------------ */

/* Deterministic payload of entry `index` in generation `gen` (a truncation
 * rewrites an index with a different generation). Lengths 1..400. */
static size_t payload(uint64_t index, unsigned gen, uint8_t *buf)
{
	size_t len = 1 + (index * 37 + gen * 11) % 400;
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(index * 31 + k * 7 + gen * 101);
	return len;
}

/* Append [from, to] of generation gen, alternating copy and zero-copy. */
static void append_range(struct fx *f, uint64_t from, uint64_t to, unsigned gen)
{
	uint8_t buf[512];

	for (uint64_t i = from; i <= to; i++) {
		size_t len = payload(i, gen, buf);
		if (i % 2) {
			ck_assert_int_eq(wal_append(f->w, i, 10 + gen, buf, len), 0);
		} else {
			uint8_t *p;
			ck_assert_int_eq(wal_reserve(f->w, i, 10 + gen, len, &p, NULL), 0);
			memcpy(p, buf, len);
		}
	}
}

/* Append [from, to] and wait until it is durable. */
static void append_durable(struct fx *f, uint64_t from, uint64_t to, unsigned gen)
{
	append_range(f, from, to, gen);
	ck_assert_int_eq(wal_flush(f->w), 0);
	fx_drain(f);
}

static void check_entry(struct fx *f, uint64_t i, unsigned gen)
{
	uint8_t buf[512];
	size_t len = payload(i, gen, buf);
	struct wal_entry e;

	ck_assert_int_eq(wal_entry_get(f->w, i, &e), 0);
	ck_assert_uint_eq(e.index, i);
	ck_assert_uint_eq(e.term, 10 + gen);
	ck_assert_uint_eq(e.len, len);
	ck_assert_mem_eq(e.data, buf, len);
}

static void check_range(struct fx *f, uint64_t from, uint64_t to, unsigned gen)
{
	for (uint64_t i = from; i <= to; i++)
		check_entry(f, i, gen);
}

/* --- an independent reader of the documented format ---------------------- */

struct recinfo {
	uint64_t index, off, end;
};

static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *m;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	m = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(pread(fd, m, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return m;
}

static void spit(const char *path, const uint8_t *m, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, m, len, 0), (ssize_t)len);
	close(fd);
}

/* Walk a segment file's records up to the first zero header or record of
 * another segment: those with an index (not padding) go to out, and *end
 * (if not NULL) is where the log ends, padding included. */
static size_t seg_walk(const char *path, struct recinfo *out, size_t max, uint64_t *end)
{
	size_t size, n = 0;
	uint8_t *m = slurp(path, &size);
	uint64_t pos = 4096;

	/* Version 2 records carry the segment's tag (header bytes 48..51):
	 * those without it are a recycled file's older contents. */
	uint32_t version, tag = 0;
	memcpy(&version, m + 8, 4);
	if (version > 1)
		memcpy(&tag, m + 48, 4);
	while (pos + 32 <= size) {
		uint32_t crc, len, rtag;
		uint64_t index;
		memcpy(&crc, m + pos, 4);
		memcpy(&len, m + pos + 4, 4);
		memcpy(&index, m + pos + 8, 8);
		memcpy(&rtag, m + pos + 28, 4);
		if ((!crc && !len && !index) || rtag != tag || len > size - pos - 32)
			break;
		/* end: of the checksummed bytes; the 0..7 alignment bytes after
		 * them are not needed to read the record. */
		if (index && n < max)
			out[n++] = (struct recinfo){ index, pos, pos + 32 + len };
		pos += (32 + len + 7) & ~7ull;
	}
	free(m);
	if (end)
		*end = pos;
	return n;
}

/* Records (padding excluded) of a segment file, in order. */
static size_t seg_records(const char *path, struct recinfo *out, size_t max)
{
	return seg_walk(path, out, max, NULL);
}

/* Where the log of a segment ends: after its last record, padding
 * included. */
static uint64_t seg_log_end(const char *path)
{
	uint64_t end;

	seg_walk(path, NULL, 0, &end);
	return end;
}

/* Sorted segment file names. */
static size_t list_segs(const char *dir, char names[][64], size_t max)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	size_t k = 0;

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(v[i]->d_name);
		if (l > 4 && l < 64 && !strcmp(v[i]->d_name + l - 4, ".seg") && k < max)
			memcpy(names[k++], v[i]->d_name, l + 1);
		free(v[i]);
	}
	free(v);
	return k;
}

static void path_of(char *buf, const struct fx *f, const char *name)
{
	snprintf(buf, 512, "%s/%s", f->dir, name);
}

/* CRC of every file of a directory, to prove nothing was changed. */
static uint32_t dir_digest(const char *dir)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	uint32_t crc = 0;
	char p[512];

	for (int i = 0; i < n; i++) {
		if (v[i]->d_name[0] != '.') {
			size_t len;
			snprintf(p, sizeof(p), "%s/%s", dir, v[i]->d_name);
			uint8_t *m = slurp(p, &len);
			crc = wal_crc32c(crc, v[i]->d_name, strlen(v[i]->d_name));
			crc = wal_crc32c(crc, m, len);
			free(m);
		}
		free(v[i]);
	}
	free(v);
	return crc;
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *m = slurp(from, &len);

	spit(to, m, len);
	free(m);
}

/* --- CRC32C -------------------------------------------------------------- */

START_TEST(test_crc32c)
{
	uint8_t zeros[32] = { 0 }, buf[1000];

	/* RFC 3720 B.4 and the usual check value. */
	ck_assert_uint_eq(wal_crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(wal_crc32c_sw(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(wal_crc32c(0, zeros, 32), 0x8a9136aau);
	ck_assert_uint_eq(wal_crc32c_sw(0, zeros, 32), 0x8a9136aau);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + 7);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len < 300; len += 7) {
			uint32_t a = wal_crc32c(0, buf + off, len);
			ck_assert_uint_eq(a, wal_crc32c_sw(0, buf + off, len));
			/* Incremental equals one shot. */
			ck_assert_uint_eq(a, wal_crc32c(wal_crc32c(0, buf + off, len / 2),
							buf + off + len / 2, len - len / 2));
		}
	/* Long inputs take the interleaved paths (blocks of 3 x 256 and
	 * 3 x 8192 bytes): every length around their edges, and odd starts. */
	{
		size_t big = 3 * 8192 * 3 + 3 * 256 * 2 + 100;
		uint8_t *m = malloc(big + 8);
		uint32_t x = 12345;
		for (size_t i = 0; i < big + 8; i++) {
			x = x * 1103515245u + 12345u;
			m[i] = (uint8_t)(x >> 16);
		}
		static const size_t edges[] = { 767, 768, 769, 775, 776, 1535, 1536, 1543, 24575,
						24576, 24577, 24583, 25344, 49152, 49153 };
		for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
			for (size_t off = 0; off < 8; off++)
				for (size_t d = 0; d < 3; d++) {
					size_t len = edges[e] + d * 8;
					ck_assert_uint_eq(wal_crc32c(0, m + off, len),
							  wal_crc32c_sw(0, m + off, len));
				}
		for (size_t len = 60000; len <= big; len += 997)
			ck_assert_uint_eq(wal_crc32c(7, m + 3, len), wal_crc32c_sw(7, m + 3, len));
		/* Combining equals checksumming the concatenation, for every
		 * split of short inputs and a few of long ones. */
		for (size_t len = 0; len < 80; len++)
			for (size_t a = 0; a <= len; a++)
				ck_assert_uint_eq(wal_crc32c_combine(wal_crc32c(0, m, a),
								     wal_crc32c(0, m + a, len - a),
								     len - a),
						  wal_crc32c(0, m, len));
		for (size_t a = 1; a < big; a = a * 3 + 5)
			ck_assert_uint_eq(wal_crc32c_combine(wal_crc32c(0, m, a),
							     wal_crc32c(0, m + a, big - a), big - a),
					  wal_crc32c(0, m, big));
		/* Lengths of any size: appending L zero-CRC bytes twice is
		 * appending 2L (combine(0, 0, L) is 0), up to the top bit. */
		for (unsigned k = 0; k < 8 * sizeof(size_t) - 1; k++) {
			size_t l = (size_t)1 << k;
			uint32_t c = wal_crc32c(0, m, 100);
			ck_assert_uint_eq(wal_crc32c_combine(wal_crc32c_combine(c, 0, l), 0, l),
					  wal_crc32c_combine(c, 0, 2 * l));
		}
		free(m);
	}
}
END_TEST

/* Payloads of WAL_EARLY_CRC_MIN bytes or more are checksummed as soon as
 * they are complete, and the record's CRC is combined when the batch
 * starts. A reserved payload is complete only at wal_flush(): an append
 * after it must not checksum it early. */
static void big_payload(uint64_t index, unsigned gen, uint8_t *buf, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(index * 131 + k * 7 + gen * 29 + (k >> 9));
}

static size_t big_len(uint64_t index)
{
	static const size_t lens[] = { 4096, 70001, 4095, 65536, 9, 5000, 131072 };
	return lens[index % 7];
}

static void check_big(struct fx *f, uint64_t from, uint64_t to, unsigned gen)
{
	static uint8_t buf[131072];
	struct wal_entry e;

	for (uint64_t i = from; i <= to; i++) {
		big_payload(i, gen, buf, big_len(i));
		ck_assert_int_eq(wal_entry_get(f->w, i, &e), 0);
		ck_assert_uint_eq(e.len, big_len(i));
		ck_assert_mem_eq(e.data, buf, e.len);
	}
}

START_TEST(test_early_crc_large_entries)
{
	static uint8_t buf[131072];
	struct wal_entry e;
	struct wal_buf *pin;
	struct fx f;
	uint8_t *p;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	/* The segment first, so that the next batch's write is in flight
	 * while the one after gathers. */
	ck_assert_int_eq(wal_append(f.w, 1, 1, "x", 1), 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	for (uint64_t i = 2; i <= 31; i += 3) {
		/* Copied, reserved, copied; the reserved one filled last. */
		big_payload(i, 0, buf, big_len(i));
		ck_assert_int_eq(wal_append(f.w, i, 1, buf, big_len(i)), 0);
		ck_assert_int_eq(wal_reserve(f.w, i + 1, 1, big_len(i + 1), &p, NULL), 0);
		memset(p, 0xee, big_len(i + 1));
		big_payload(i + 2, 0, buf, big_len(i + 2));
		ck_assert_int_eq(wal_append(f.w, i + 2, 1, buf, big_len(i + 2)), 0);
		big_payload(i + 1, 0, p, big_len(i + 1));
	}
	ck_assert_int_eq(wal_flush(f.w), 0);
	ck_assert(wal_busy(f.w));
	/* While that batch is being written the next one gathers, checksummed
	 * early. A pinned copy of its buffer is cut (the kept part is copied)
	 * and the tail rewritten. */
	for (uint64_t i = 32; i <= 41; i++) {
		big_payload(i, 0, buf, big_len(i));
		ck_assert_int_eq(wal_append(f.w, i, 1, buf, big_len(i)), 0);
	}
	ck_assert_int_eq(wal_entry_get(f.w, 33, &e), 0);
	pin = e.buf;
	wal_buf_ref(pin);
	ck_assert_int_eq(wal_truncate(f.w, 36), 0);
	for (uint64_t i = 36; i <= 46; i++) {
		big_payload(i, 1, buf, big_len(i));
		if (i % 2) {
			ck_assert_int_eq(wal_append(f.w, i, 2, buf, big_len(i)), 0);
		} else {
			ck_assert_int_eq(wal_reserve(f.w, i, 2, big_len(i), &p, NULL), 0);
			memcpy(p, buf, big_len(i));
		}
	}
	ck_assert_int_eq(wal_flush(f.w), 0);
	/* Not flushed: started by a completion, so these two are checksummed
	 * only then. */
	for (uint64_t i = 47; i <= 48; i++) {
		ck_assert_int_eq(wal_reserve(f.w, i, 2, big_len(i), &p, NULL), 0);
		big_payload(i, 1, p, big_len(i));
	}
	fx_drain(&f);
	wal_buf_unref(pin);
	ck_assert_int_eq(f.err_calls, 0);
	ck_assert_uint_eq(f.durable, 48);
	fx_close(&f);
	/* Recovery checks every record's CRC. */
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert(!f.rec.torn);
	ck_assert_uint_eq(f.rec.last_index, 48);
	check_big(&f, 2, 35, 0);
	check_big(&f, 36, 48, 1);
	fx_fini(&f);
}
END_TEST

/* --- basic life cycle ------------------------------------------------------ */

/* The latest durable batches are read back from memory (with O_DIRECT the
 * page cache does not have them); older ones from the mapped segment; a
 * truncation never lets a kept batch answer for an index it replaced. */
START_TEST(test_recent_batches)
{
	struct fx f;
	struct wal_entry e;
	uint64_t last = 10 + 2 * WAL_RECENT_BATCHES;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	append_durable(&f, 1, 10, 0);
	for (uint64_t i = 11; i <= last; i++)
		append_durable(&f, i, i, 0);
	ck_assert_int_eq(wal_entry_get(f.w, 5, &e), 0);
	ck_assert_ptr_null(e.buf);
	ck_assert_int_eq(wal_entry_get(f.w, last, &e), 0);
	ck_assert_ptr_nonnull(e.buf);
	ck_assert_int_eq(wal_entry_get(f.w, last - WAL_RECENT_BATCHES, &e), 0);
	ck_assert_ptr_null(e.buf);
	check_range(&f, 1, last, 0);

	/* truncate into the kept batches, rewrite */
	ck_assert_int_eq(wal_truncate(f.w, last - 2), 0);
	append_durable(&f, last - 2, last, 1);
	check_range(&f, 1, last - 3, 0);
	check_range(&f, last - 2, last, 1);

	/* truncate while the batch is being written: it is not kept */
	append_range(&f, last + 1, last + 5, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	ck_assert_int_eq(wal_truncate(f.w, last + 3), 0);
	append_durable(&f, last + 3, last + 6, 2);
	ck_assert_uint_eq(wal_durable_index(f.w), last + 6);
	check_range(&f, last + 1, last + 2, 0);
	check_range(&f, last + 3, last + 6, 2);
	fx_close(&f);

	ck_assert_int_eq(fx_open(&f), 0);
	check_range(&f, last - 2, last, 1);
	check_range(&f, last + 3, last + 6, 2);
	fx_close(&f);
	fx_fini(&f);
}
END_TEST

START_TEST(test_roundtrip_restart)
{
	struct fx f;
	struct wal_entry e;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.segments, 0);
	ck_assert_uint_gt(f.rec.first_index, f.rec.last_index);
	ck_assert_int_eq(wal_append(f.w, 0, 1, "x", 1), -EINVAL);
	append_range(&f, 1, 300, 0);
	/* Not yet written: readable from the batch buffer. */
	ck_assert_int_eq(wal_entry_get(f.w, 7, &e), 0);
	ck_assert_ptr_nonnull(e.buf);
	check_range(&f, 1, 300, 0);
	ck_assert_int_eq(wal_append(f.w, 302, 1, "x", 1), -EINVAL);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.durable, 300);
	ck_assert_uint_eq(wal_durable_index(f.w), 300);
	ck_assert_int_eq(wal_entry_get(f.w, 7, &e), 0);
	ck_assert_ptr_nonnull(e.buf); /* durable, and still kept in memory */
	check_range(&f, 1, 300, 0);
	ck_assert_int_eq(wal_entry_get(f.w, 301, &e), -ENOENT);
	fx_close(&f);

	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.first_index, 1);
	ck_assert_uint_eq(f.rec.last_index, 300);
	ck_assert_uint_eq(f.rec.entries, 300);
	ck_assert(!f.rec.torn);
	ck_assert_uint_eq(wal_durable_index(f.w), 300);
	check_range(&f, 1, 300, 0);
	ck_assert_int_eq(wal_append(f.w, 300, 1, "x", 1), -EINVAL);
	append_durable(&f, 301, 310, 0);
	ck_assert_uint_eq(f.durable, 310);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 310);
	check_range(&f, 1, 310, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_start_after_snapshot)
{
	struct fx f;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	append_durable(&f, 1000, 1010, 0);
	ck_assert_uint_eq(f.durable, 1010);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.first_index, 1000);
	ck_assert_uint_eq(f.rec.last_index, 1010);
	check_range(&f, 1000, 1010, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_group_commit)
{
	struct fx f;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	append_range(&f, 1, 1, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f); /* creates the segment */
	f.durable_calls = 0;
	append_range(&f, 2, 2, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	ck_assert(wal_busy(f.w));
	/* While entry 2 is being written and synced, 3..200 gather... */
	append_durable(&f, 3, 200, 0);
	/* ...and go to disk as one batch: two syncs for 199 entries. */
	ck_assert_uint_eq(f.durable_calls, 2);
	ck_assert_uint_eq(f.durable_hist[0], 2);
	ck_assert_uint_eq(f.durable_hist[1], 200);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	check_range(&f, 1, 200, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_batches_block_aligned)
{
	struct fx f;
	char names[8][64], p[512];
	struct recinfo r[64];
	size_t n;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	for (uint64_t i = 1; i <= 5; i++)
		append_durable(&f, i, i, 0);
	fx_close(&f);
	ck_assert_uint_eq(list_segs(f.dir, names, 8), 1);
	path_of(p, &f, names[0]);
	n = seg_records(p, r, 64);
	ck_assert_uint_eq(n, 5);
	/* One batch per entry: each starts in a fresh block, so no write ever
	 * touched a block holding acknowledged bytes. */
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(r[i].index, i + 1);
		ck_assert_uint_eq(r[i].off, 4096 * (i + 1));
	}
	fx_fini(&f);
}
END_TEST

/* A batch of large entries is gathered in huge-page buffers (2 MiB
 * aligned) and its bytes reach the disk intact. With segments too small to
 * hold four of them, plain buffers (a huge one would never fit: the WAL
 * would create segments forever). */
START_TEST(test_huge_buffers)
{
	static uint8_t buf[131072];
	struct fx f;
	struct wal_entry e;

	for (int small = 0; small < 2; small++) {
		fx_init(&f, small ? 4 << 20 : 0);
		ck_assert_int_eq(fx_open(&f), 0);
		for (uint64_t i = 1; i <= 300; i += 50) {
			for (uint64_t k = i; k < i + 50; k++) {
				big_payload(k, 0, buf, big_len(k));
				ck_assert_int_eq(wal_append(f.w, k, 1, buf, big_len(k)), 0);
			}
			ck_assert_int_eq(wal_flush(f.w), 0);
			fx_drain(&f);
			ck_assert_uint_eq(f.durable, i + 49);
			/* The batch's first entry opens its first buffer: a huge
			 * one if that entry is large (batches 1, 101, 251). */
			ck_assert_int_eq(wal_entry_get(f.w, i, &e), 0);
			ck_assert_ptr_nonnull(e.buf);
			uintptr_t start = (uintptr_t)e.data - 32;
			ck_assert_uint_eq(start % 4096, 0);
			if (!small && big_len(i) >= (16 << 10))
				ck_assert_uint_eq(start % (2u << 20), 0);
		}
		check_big(&f, 1, 300, 0);
		fx_close(&f);
		ck_assert_int_eq(fx_open(&f), 0);
		ck_assert_uint_eq(f.rec.last_index, 300);
		check_big(&f, 1, 300, 0);
		fx_fini(&f);
	}
}
END_TEST

/* Batch buffers are reused: a buffer pinned with wal_buf_ref() is not,
 * and no byte of an earlier batch leaks into a later one on disk (every
 * byte outside headers and payloads, i.e. alignment and padding, is 0). */
START_TEST(test_buffer_reuse)
{
	struct fx f;
	char names[8][64], p[512];
	uint8_t *pin, *m, copy[3000];
	struct wal_buf *b;
	struct stat st;
	uint64_t pos, n = 0, blocks = 0;
	int fd;

	fx_init(&f, 0);
	f.cfg.batch_size = 64 << 10;
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_int_eq(wal_reserve(f.w, 1, 1, sizeof(copy), &pin, &b), 0);
	memset(pin, 0x5a, sizeof(copy));
	memcpy(copy, pin, sizeof(copy));
	wal_buf_ref(b);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	for (uint64_t i = 2; i < 400; i += 7) {
		/* Large entries full of 0xff, then small odd-sized ones. */
		for (uint64_t k = i; k < i + 7; k++) {
			size_t len = k % 2 ? 5000 + k : 1 + k % 13;
			uint8_t *q;
			ck_assert_int_eq(wal_reserve(f.w, k, 1, len, &q, NULL), 0);
			memset(q, 0xff, len);
		}
		ck_assert_int_eq(wal_flush(f.w), 0);
		fx_drain(&f);
		ck_assert_mem_eq(pin, copy, sizeof(copy));
	}
	wal_buf_unref(b);
	fx_close(&f);
	ck_assert_uint_eq(list_segs(f.dir, names, 8), 1);
	path_of(p, &f, names[0]);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	m = malloc((size_t)st.st_size);
	ck_assert_int_eq(pread(fd, m, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	for (pos = 4096; pos + 32 <= (uint64_t)st.st_size;) {
		uint32_t crc, len;
		uint64_t index, end;
		memcpy(&crc, m + pos, 4);
		memcpy(&len, m + pos + 4, 4);
		memcpy(&index, m + pos + 8, 8);
		if (!crc && !len && !index)
			break;
		end = (pos + 32 + len + 7) & ~7ull;
		for (uint64_t k = index ? pos + 32 + len : pos + 32; k < end; k++)
			if (m[k])
				ck_abort_msg("stale byte at %" PRIu64 " (record at %" PRIu64 ")", k, pos);
		if (index)
			n++;
		else
			blocks++;
		pos = end;
	}
	ck_assert_uint_eq(n, 400);
	ck_assert_uint_gt(blocks, 40); /* padding records were checked too */
	ck_assert_uint_eq(pos % 4096, 0);
	for (; pos < (uint64_t)st.st_size; pos++)
		if (m[pos])
			ck_abort_msg("byte after the log at %" PRIu64, pos);
	free(m);
	fx_fini(&f);
}
END_TEST

/* --- the I/O the WAL asks for -------------------------------------------------- */

/* The WAL only prepares SQEs on the caller's ring: read them before they
 * are submitted and write one token per SQE ("+" = linked to the next,
 * "++" = hard-linked: runs after it even if it fails):
 * what the kernel is asked to do, in order, as a golden trace. */
static void trace_sqes(struct io_uring *ring, char *out, size_t len)
{
	for (unsigned i = ring->sq.sqe_head; i != ring->sq.sqe_tail; i++) {
		const struct io_uring_sqe *q = &ring->sq.sqes[i & ring->sq.ring_mask];
		const char *path = (const char *)(uintptr_t)q->addr;
		char tok[200];
		struct stat st;
		bool dir = fstat(q->fd, &st) == 0 && S_ISDIR(st.st_mode);

		switch (q->opcode) {
		case IORING_OP_OPENAT:
			snprintf(tok, sizeof(tok), "openat:%s", path);
			break;
		case IORING_OP_FALLOCATE:
			snprintf(tok, sizeof(tok), "fallocate");
			break;
		case IORING_OP_WRITE:
			snprintf(tok, sizeof(tok), "write");
			break;
		case IORING_OP_WRITEV:
			snprintf(tok, sizeof(tok), "writev%s", q->rw_flags & RWF_DSYNC ? "-dsync" : "");
			break;
		case IORING_OP_FSYNC:
			snprintf(tok, sizeof(tok), "%s%s",
				 q->fsync_flags & IORING_FSYNC_DATASYNC ? "fdatasync" : "fsync",
				 dir ? "-dir" : "");
			break;
		case IORING_OP_RENAMEAT:
			snprintf(tok, sizeof(tok), "renameat:%s>%s", path,
				 (const char *)(uintptr_t)q->addr2);
			break;
		case IORING_OP_UNLINKAT:
			snprintf(tok, sizeof(tok), "unlinkat:%s", path);
			break;
		default:
			snprintf(tok, sizeof(tok), "op%u", q->opcode);
		}
		/* Directory operations must name a path relative to the WAL's
		 * directory, which must be the fd they use. */
		if (q->opcode == IORING_OP_OPENAT || q->opcode == IORING_OP_RENAMEAT ||
		    q->opcode == IORING_OP_UNLINKAT)
			ck_assert_msg(dir && !strchr(path, '/'), "%s", tok);
		snprintf(out + strlen(out), len - strlen(out), "%s%s%s", *out ? " " : "", tok,
			 q->flags & IOSQE_IO_HARDLINK ? "++" : q->flags & IOSQE_IO_LINK ? "+" : "");
	}
}

/* Run until idle, tracing each submission as one "| "-separated step. */
static void trace_drain(struct fx *f, char *out, size_t len)
{
	out[0] = 0;
	while (wal_busy(f->w)) {
		char step[2048] = "";
		trace_sqes(&f->ring, step, sizeof(step));
		if (step[0])
			snprintf(out + strlen(out), len - strlen(out), "%s%s", *out ? " | " : "",
				 step);
		ck_assert_int_ge(ring_step(&f->ring), 0);
	}
}

#define SEG(seq, first) "00000000000000" seq "-00000000000000" first ".seg"
#define SPARE(seq, first) "00000000000000" seq "-00000000000000" first ".spare"

/* Is any byte of [off, off + len) of the file an unwritten extent (FIEMAP)?
 * -1: the file system does not say. */
static int has_unwritten(const char *path, uint64_t off, uint64_t len)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[64];
	} q;
	int fd = open(path, O_RDONLY), rv = -1;
	if (fd < 0)
		return -1;
	memset(&q, 0, sizeof(q));
	q.fm.fm_start = off;
	q.fm.fm_length = len;
	q.fm.fm_flags = FIEMAP_FLAG_SYNC;
	q.fm.fm_extent_count = 64;
	if (ioctl(fd, FS_IOC_FIEMAP, &q.fm) == 0 && q.fm.fm_mapped_extents > 0) {
		rv = 0;
		for (unsigned i = 0; i < q.fm.fm_mapped_extents; i++)
			if (q.fm.fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN)
				rv = 1;
	}
	close(fd);
	return rv;
}

/* A small batch in a fresh (fallocated) segment takes zeros over the space
 * after it: the next batches then overwrite written blocks, whose
 * fdatasync needs no journal commit for an extent conversion. */
START_TEST(test_zero_ahead)
{
	struct fx f;
	char path[512];

	fx_init(&f, 4 << 20);
	ck_assert_int_eq(fx_open(&f), 0);
	append_range(&f, 1, 3, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.durable, 3);
	snprintf(path, sizeof(path), "%s/" "0000000000000001-0000000000000001.seg", f.dir);
	int before = has_unwritten(path, 0, 4 << 20);
	if (!wal_direct_io(f.w) || before < 0) {
		/* no O_DIRECT (tmpfs) or no FIEMAP: nothing to see */
		fx_fini(&f);
		return;
	}
	/* the first MiB is written through; the rest of the segment not yet */
	ck_assert_int_eq(has_unwritten(path, 0, 1 << 20), 0);
	ck_assert_int_eq(has_unwritten(path, 2 << 20, 1 << 20), 1);
	/* the next small batches land in written blocks, and nothing reads
	 * the zeros as entries */
	append_range(&f, 4, 40, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.durable, 40);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(wal_last_index(f.w), 40);
	fx_fini(&f);
}
END_TEST

START_TEST(test_io_trace)
{
	struct fx f;
	char t[4096];

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	/* The first append creates a segment: complete and synced under a
	 * temporary name, renamed, then the directory synced; then the batch is
	 * one writev with RWF_DSYNC (the default), and the fresh segment's
	 * space after it is written with zeros alongside (zero_ahead(): no
	 * unwritten extents for the next batches). */
	append_range(&f, 1, 3, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "openat:seg.tmp | fallocate+ write+ fsync+ renameat:seg.tmp>" SEG("01", "01")
			    "+ fsync-dir | write writev-dsync");
	/* Group commit: a batch in flight, the next one gathers and follows. */
	append_range(&f, 4, 4, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	append_range(&f, 5, 40, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "writev-dsync | writev-dsync");
	/* Truncation into the disk: a new segment supersedes the tail, the
	 * directory synced, before the next batch. */
	ck_assert_int_eq(wal_truncate(f.w, 20), 0);
	append_range(&f, 20, 22, 1);
	ck_assert_int_eq(wal_flush(f.w), 0);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "openat:seg.tmp | fallocate+ write+ fsync+ renameat:seg.tmp>" SEG("02", "14")
			    "+ fsync-dir | write writev-dsync");
	/* Compaction: the segment becomes a spare, then the directory is
	 * synced, before on_compacted. */
	ck_assert_int_eq(wal_compact(f.w, 20), 1);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "renameat:" SEG("01", "01") ">" SPARE("01", "01") "++ fsync-dir");
	ck_assert_uint_eq(f.compacted_calls, 1);
	/* The next segment reuses it: no O_CREAT, no fallocate, a header, and
	 * renamed into place. */
	ck_assert_int_eq(wal_truncate(f.w, 21), 0);
	append_range(&f, 21, 21, 2);
	ck_assert_int_eq(wal_flush(f.w), 0);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "openat:" SPARE("01", "01") " | write+ fsync+ renameat:" SPARE("01", "01") ">"
			    SEG("03", "15") "+ fsync-dir | writev-dsync");
	/* Superseded by the truncation, and kept as a spare in turn. */
	ck_assert_int_eq(wal_compact(f.w, 21), 1);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "renameat:" SEG("02", "14") ">" SPARE("02", "14") "++ fsync-dir");
	/* Term and vote: one slot written, linked fdatasync. */
	ck_assert_int_eq(wal_meta_set(f.w, 2, "n1"), 0);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "write+ fdatasync");
	fx_close(&f);
	/* Linked fdatasync mode: the write, then the sync, linked. */
	f.cfg.sync = WAL_SYNC_FSYNC;
	ck_assert_int_eq(fx_open(&f), 0);
	append_range(&f, 22, 30, 2);
	ck_assert_int_eq(wal_flush(f.w), 0);
	trace_drain(&f, t, sizeof(t));
	/* After a restart a recycled segment is not appended to (recovery
	 * cannot tell what follows its log from a torn batch): a new one,
	 * from a spare, then the batch. */
	ck_assert_str_eq(t, "openat:" SPARE("02", "14") " | write+ fsync+ renameat:" SPARE("02", "14") ">"
			    SEG("04", "16") "+ fsync-dir | writev+ fdatasync");
	fx_close(&f);
	/* No spares: compaction unlinks. */
	f.cfg.spare_segments = -1;
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_int_eq(wal_truncate(f.w, 25), 0);
	append_range(&f, 25, 25, 3);
	ck_assert_int_eq(wal_flush(f.w), 0);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "openat:seg.tmp | fallocate+ write+ fsync+ renameat:seg.tmp>" SEG("05", "19")
			    "+ fsync-dir | write writev+ fdatasync");
	ck_assert_int_eq(wal_compact(f.w, 25), 2);
	trace_drain(&f, t, sizeof(t));
	ck_assert_str_eq(t, "unlinkat:" SEG("03", "15") "++ unlinkat:" SEG("04", "16") "++ fsync-dir");
	fx_fini(&f);
}
END_TEST

/* --- truncation ------------------------------------------------------------ */

START_TEST(test_truncate_then_append)
{
	struct fx f;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	append_durable(&f, 1, 50, 0);
	ck_assert_int_eq(wal_truncate(f.w, 60), -ERANGE);
	ck_assert_int_eq(wal_truncate(f.w, 51), 0); /* nothing to do */
	ck_assert_int_eq(wal_truncate(f.w, 30), 0);
	ck_assert_uint_eq(wal_last_index(f.w), 29);
	ck_assert_uint_eq(wal_durable_index(f.w), 29);
	ck_assert_int_eq(wal_append(f.w, 31, 1, "x", 1), -EINVAL);
	append_range(&f, 30, 40, 1);
	check_range(&f, 30, 40, 1);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.durable, 40);
	check_range(&f, 1, 29, 0);
	check_range(&f, 30, 40, 1);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 40);
	ck_assert_uint_eq(f.rec.stale_files, 0);
	check_range(&f, 1, 29, 0);
	check_range(&f, 30, 40, 1);
	/* Truncate again, right into the new segment, and restart at once
	 * without appending: the truncation alone must be durable. */
	ck_assert_int_eq(wal_truncate(f.w, 35), 0);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 34);
	check_range(&f, 30, 34, 1);
	fx_fini(&f);
}
END_TEST

START_TEST(test_truncate_in_memory_and_in_flight)
{
	struct fx f;
	uint8_t *p;
	struct wal_buf *b;
	uint8_t copy[512];
	size_t len;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	append_range(&f, 1, 1, 0); /* the segment exists: flush writes at once */
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	f.durable_calls = 0;
	append_range(&f, 2, 10, 0);
	/* Gathered only: a pinned buffer keeps its bytes through the cut. */
	len = payload(11, 0, copy);
	ck_assert_int_eq(wal_reserve(f.w, 11, 10, len, &p, &b), 0);
	memcpy(p, copy, len);
	wal_buf_ref(b);
	ck_assert_int_eq(wal_truncate(f.w, 6), 0);
	ck_assert_mem_eq(p, copy, len);
	append_range(&f, 6, 12, 1);
	ck_assert_mem_eq(p, copy, len);
	ck_assert_int_eq(wal_flush(f.w), 0);
	/* In flight: entries 1..12 are being written; cut at 9 now. */
	ck_assert(wal_busy(f.w));
	ck_assert_int_eq(wal_truncate(f.w, 9), 0);
	append_durable(&f, 9, 15, 2);
	ck_assert_mem_eq(p, copy, len);
	wal_buf_unref(b);
	/* Never "durable up to 12" for the old 9..12: the batch in flight
	 * reports 8 at most, then the new entries after the new segment. */
	for (unsigned i = 0; i < f.durable_calls && i < 64; i++)
		ck_assert(f.durable_hist[i] <= 8 || f.durable_hist[i] == 15);
	ck_assert_uint_eq(f.durable, 15);
	check_range(&f, 1, 5, 0);
	check_range(&f, 6, 8, 1);
	check_range(&f, 9, 15, 2);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 15);
	check_range(&f, 1, 5, 0);
	check_range(&f, 6, 8, 1);
	check_range(&f, 9, 15, 2);
	fx_fini(&f);
}
END_TEST

/* --- roll-over and compaction ---------------------------------------------- */

/* 64 KiB segments; entries up to 400 bytes: ~200 entries per segment. */
static void fill_segments_from(struct fx *f, uint64_t from, uint64_t n, unsigned per_batch,
			       unsigned gen)
{
	for (uint64_t i = from; i <= n; i += per_batch) {
		uint64_t to = i + per_batch - 1 < n ? i + per_batch - 1 : n;
		append_durable(f, i, to, gen);
	}
}

static void fill_segments(struct fx *f, uint64_t n, unsigned per_batch)
{
	fill_segments_from(f, 1, n, per_batch, 0);
}

static long rss_file_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssFile: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* wal_release() takes read pages out of the process's memory, in steps, and
 * the entries still read back the same. */
START_TEST(test_release)
{
	struct fx f;

	fx_init(&f, 8 << 20);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 60000, 500); /* about 14 MB: two segments */
	check_range(&f, 1, 60000, 0);  /* every page read */
	long before = rss_file_kib();
	wal_release(f.w, 100); /* less than a step: nothing */
	ck_assert_int_ge(rss_file_kib(), before - 64);
	wal_release(f.w, 30000);
	long mid = rss_file_kib();
	ck_assert_int_lt(mid, before - 4096);
	check_range(&f, 1, 60000, 0); /* read back from the page cache */
	wal_release(f.w, 60000);        /* the pages read again go too */
	ck_assert_int_lt(rss_file_kib(), before - 8192);
	check_range(&f, 1, 60000, 0);
	/* appends go on, and are released in turn */
	append_durable(&f, 60001, 60100, 0);
	wal_release(f.w, 60100);
	check_range(&f, 1, 60100, 0);
	fx_fini(&f);
}
END_TEST

/* Every I/O mode the configuration offers writes the same log. */
START_TEST(test_io_modes)
{
	static const struct {
		bool buffered;
		enum wal_sync sync;
	} modes[] = { { false, WAL_SYNC_FSYNC }, { false, WAL_SYNC_DSYNC },
		      { true, WAL_SYNC_FSYNC },  { true, WAL_SYNC_DSYNC } };

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct fx f;
		fx_init(&f, 64 << 10);
		f.cfg.buffered = modes[m].buffered;
		f.cfg.sync = modes[m].sync;
		ck_assert_int_eq(fx_open(&f), 0);
		fill_segments(&f, 600, 45); /* several segments */
		ck_assert_uint_eq(f.durable, 600);
		if (modes[m].buffered)
			ck_assert(!wal_direct_io(f.w));
		/* Read back through the mappings right after writing. */
		check_range(&f, 1, 600, 0);
		fx_close(&f);
		ck_assert_int_eq(fx_open(&f), 0);
		ck_assert_uint_eq(f.rec.last_index, 600);
		append_durable(&f, 601, 650, 0);
		check_range(&f, 1, 650, 0);
		fx_fini(&f);
	}
}
END_TEST

START_TEST(test_rollover)
{
	struct fx f;
	char names[64][64], p[512];
	struct recinfo r[1024];
	uint64_t next = 1;
	size_t n;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 1500, 37);
	ck_assert_uint_eq(f.durable, 1500);
	fx_close(&f);
	n = list_segs(f.dir, names, 64);
	ck_assert_uint_gt(n, 4);
	/* Names give the order and first index; records continue across. */
	for (size_t i = 0; i < n; i++) {
		unsigned long long seq, first;
		ck_assert_int_eq(sscanf(names[i], "%16llx-%16llx.seg", &seq, &first), 2);
		ck_assert_uint_eq(seq, i + 1);
		ck_assert_uint_eq(first, next);
		path_of(p, &f, names[i]);
		size_t k = seg_records(p, r, 1024);
		ck_assert_uint_gt(k, 0);
		for (size_t j = 0; j < k; j++)
			ck_assert_uint_eq(r[j].index, next + j);
		next += k;
	}
	ck_assert_uint_eq(next, 1501);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.segments, n);
	check_range(&f, 1, 1500, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_compaction)
{
	struct fx f;
	char names[64][64];
	struct wal_entry e;
	size_t before;
	uint64_t first;
	int n;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 1500, 50);
	before = list_segs(f.dir, names, 64);
	ck_assert_int_eq(wal_compact(f.w, 1), 0);
	n = wal_compact(f.w, 700);
	ck_assert_int_gt(n, 0);
	first = wal_first_index(f.w);
	ck_assert_uint_le(first, 700);
	ck_assert_uint_gt(first, 1);
	ck_assert_int_eq(wal_entry_get(f.w, first - 1, &e), -ENOENT);
	check_range(&f, first, 1500, 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.compacted_calls, 1);
	ck_assert_uint_eq(f.compacted_first, first);
	ck_assert_uint_eq(list_segs(f.dir, names, 64), before - (size_t)n);
	/* Appending goes on; compaction never drops the active segment. */
	append_durable(&f, 1501, 1510, 0);
	before = list_segs(f.dir, names, 64);
	ck_assert_int_eq(wal_compact(f.w, 100000), (int)before - 1);
	fx_drain(&f);
	ck_assert_uint_eq(list_segs(f.dir, names, 64), 1);
	first = wal_first_index(f.w);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.first_index, first);
	ck_assert_uint_eq(f.rec.last_index, 1510);
	check_range(&f, first, 1510, 0);
	fx_fini(&f);
}
END_TEST

/* Bytes read from a segment's mapping stay valid while pinned with
 * wal_seg_ref(): after a compaction removed the segment, after a truncation
 * superseded it, and after wal_close(). The daemon pins them for a
 * zero-copy send that may wait behind another meanwhile; unpinned, the
 * mapping could be gone or its address range reused by the next segment. */
START_TEST(test_pinned_segment_outlives_compaction)
{
	struct fx f;
	struct wal_entry old, late, e;
	uint8_t want_old[512], want_late[512];
	size_t len_old = payload(10, 0, want_old), len_late = payload(2000, 0, want_late);

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 3000, 50);
	/* Old enough to be read from the mapping, not from a recent batch. */
	ck_assert_int_eq(wal_entry_get(f.w, 10, &old), 0);
	ck_assert_int_eq(wal_entry_get(f.w, 2000, &late), 0);
	ck_assert_ptr_null(old.buf);
	ck_assert_ptr_nonnull(old.seg);
	ck_assert_ptr_nonnull(late.seg);
	ck_assert_ptr_ne(old.seg, late.seg);
	wal_seg_ref(old.seg);
	wal_seg_ref(late.seg);

	ck_assert_int_gt(wal_compact(f.w, 700), 0);
	fx_drain(&f);
	ck_assert_int_eq(wal_entry_get(f.w, 10, &e), -ENOENT);
	ck_assert_mem_eq(old.data, want_old, len_old);

	/* A new segment from 800 on supersedes the one holding 2000. */
	ck_assert_int_eq(wal_truncate(f.w, 800), 0);
	append_durable(&f, 800, 810, 1);
	ck_assert_int_eq(wal_entry_get(f.w, 2000, &e), -ENOENT);
	check_entry(&f, 805, 1);
	ck_assert_mem_eq(late.data, want_late, len_late);
	/* Pinned segments never become spares: enough new segments to use up
	 * every spare are written, and the pinned bytes are still there. */
	fill_segments_from(&f, 811, 3000, 50, 1);
	ck_assert_int_gt(wal_compact(f.w, 2900), WAL_DEFAULT_SPARES);
	fx_drain(&f);
	fill_segments_from(&f, 3001, 5000, 50, 1);
	ck_assert_mem_eq(old.data, want_old, len_old);
	ck_assert_mem_eq(late.data, want_late, len_late);

	fx_close(&f);
	ck_assert_mem_eq(old.data, want_old, len_old);
	ck_assert_mem_eq(late.data, want_late, len_late);
	/* The last references free them (LeakSanitizer and valgrind check). */
	wal_seg_unref(old.seg);
	wal_seg_unref(late.seg);
	fx_fini(&f);
}
END_TEST

/* A crash after a truncation's new segment is in place but before the old
 * ones are removed: put the removed files back as they were. Recovery sees
 * the newer segment supersede them, removes them, and the log ends where it
 * was cut. */
START_TEST(test_truncate_crash_before_unlink)
{
	struct fx f;
	char names[64][64], after[64][64], from[512], to[512], keep[300];
	size_t before, n_after, restored = 0;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 900, 40);
	fx_close(&f);
	before = list_segs(f.dir, names, 64);
	ck_assert_uint_ge(before, 4);
	ck_assert_int_lt(snprintf(keep, sizeof(keep), "%s.keep", f.dir), (int)sizeof(keep));
	ck_assert_int_eq(mkdir(keep, 0700), 0);
	for (size_t i = 0; i < before; i++) {
		ck_assert_int_lt(snprintf(from, sizeof(from), "%s/%s", f.dir, names[i]), (int)sizeof(from));
		ck_assert_int_lt(snprintf(to, sizeof(to), "%s/%s", keep, names[i]), (int)sizeof(to));
		copy_file(from, to);
	}
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_int_eq(wal_truncate(f.w, 100), 0);
	fx_drain(&f);
	fx_close(&f);
	n_after = list_segs(f.dir, after, 64);
	ck_assert_uint_lt(n_after, before);
	for (size_t i = 0; i < before; i++) {
		bool present = false;
		for (size_t j = 0; j < n_after; j++)
			present |= !strcmp(names[i], after[j]);
		if (present)
			continue;
		ck_assert_int_lt(snprintf(from, sizeof(from), "%s/%s", keep, names[i]), (int)sizeof(from));
		ck_assert_int_lt(snprintf(to, sizeof(to), "%s/%s", f.dir, names[i]), (int)sizeof(to));
		copy_file(from, to);
		restored++;
	}
	rm_rf(keep);
	ck_assert_uint_gt(restored, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 99);
	ck_assert_uint_eq(f.rec.stale_files, restored);
	check_range(&f, 1, 99, 0);
	append_durable(&f, 100, 120, 1);
	fx_close(&f);
	ck_assert_uint_eq(list_segs(f.dir, names, 64), n_after);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.stale_files, 0);
	ck_assert_uint_eq(f.rec.last_index, 120);
	check_range(&f, 1, 99, 0);
	check_range(&f, 100, 120, 1);
	fx_fini(&f);
}
END_TEST

/* A segment cut by a truncation ends at the cut for compaction too. */
START_TEST(test_compact_after_truncate)
{
	struct fx f;
	char names[64][64];
	struct recinfo r[1024];
	char p[512];
	uint64_t seg1_last;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 600, 30);
	ck_assert_uint_ge(list_segs(f.dir, names, 64), 3);
	path_of(p, &f, names[0]);
	seg1_last = r[seg_records(p, r, 1024) - 1].index;
	ck_assert_uint_gt(seg1_last, 60);
	ck_assert_int_eq(wal_truncate(f.w, 50), 0);
	fx_drain(&f);
	append_durable(&f, 50, 400, 1);
	/* The first segment now holds 1..49 only. */
	ck_assert_int_eq(wal_compact(f.w, seg1_last), 1);
	ck_assert_uint_eq(wal_first_index(f.w), 50);
	fx_drain(&f);
	check_range(&f, 50, 400, 1);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.first_index, 50);
	ck_assert_uint_eq(f.rec.last_index, 400);
	fx_fini(&f);
}
END_TEST

/* Segments written with another segment size keep theirs. */
START_TEST(test_segment_size_change)
{
	struct fx f;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 250, 25);
	fx_close(&f);
	f.cfg.segment_size = 256 << 10;
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 250);
	for (uint64_t i = 251; i <= 1200; i += 50)
		append_durable(&f, i, i + 49, 0);
	check_range(&f, 1, 1200, 0);
	fx_close(&f);
	f.cfg.segment_size = 64 << 10;
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 1200);
	check_range(&f, 1, 1200, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_entry_too_large)
{
	struct fx f;
	uint8_t *p;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_int_eq(wal_reserve(f.w, 1, 1, 64 << 10, &p, NULL), -EMSGSIZE);
	/* A large entry that fits gets a segment of its own if needed. */
	ck_assert_int_eq(wal_reserve(f.w, 1, 1, 40 << 10, &p, NULL), 0);
	memset(p, 0xab, 40 << 10);
	ck_assert_int_eq(wal_reserve(f.w, 2, 1, 40 << 10, &p, NULL), 0);
	memset(p, 0xcd, 40 << 10);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.durable, 2);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.segments, 2);
	ck_assert_uint_eq(f.rec.last_index, 2);
	fx_fini(&f);
}
END_TEST

/* --- meta ------------------------------------------------------------------- */

START_TEST(test_meta)
{
	struct fx f;
	char p[512];
	int fd;
	uint8_t byte;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.term, 0);
	ck_assert_str_eq(f.rec.voted_for, "");
	ck_assert_int_eq(wal_meta_set(f.w, 5, "node1"), 0);
	ck_assert_uint_eq(wal_meta_term(f.w), 0); /* not durable yet */
	fx_drain(&f);
	ck_assert_uint_eq(f.meta_calls, 1);
	ck_assert_uint_eq(f.meta_term, 5);
	ck_assert_str_eq(f.meta_vote, "node1");
	ck_assert_int_eq(wal_meta_set(f.w, 4, NULL), -EINVAL);
	/* Coalescing: 6 is in flight, 7 and 8 wait; 8 wins. */
	ck_assert_int_eq(wal_meta_set(f.w, 6, ""), 0);
	ck_assert_int_eq(wal_meta_set(f.w, 7, "node2"), 0);
	ck_assert_int_eq(wal_meta_set(f.w, 8, "node3"), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.meta_calls, 3);
	ck_assert_uint_eq(f.meta_term, 8);
	ck_assert_str_eq(wal_meta_vote(f.w), "node3");
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.term, 8);
	ck_assert_str_eq(f.rec.voted_for, "node3");
	fx_close(&f);
	/* Tear the newest slot (seq 3 -> slot 1): the previous value (term 6,
	 * no vote) comes back whole, never a mix. */
	snprintf(p, sizeof(p), "%s/meta", f.dir);
	fd = open(p, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &byte, 1, 4096 + 16), 1);
	byte ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &byte, 1, 4096 + 16), 1);
	close(fd);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.term, 6);
	ck_assert_str_eq(f.rec.voted_for, "");
	fx_fini(&f);
}
END_TEST

START_TEST(test_single_writer)
{
	struct fx f;
	struct wal *w2;
	struct wal_error e;
	struct wal_config ro;

	fx_init(&f, 0);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_int_eq(wal_open(&f.cfg, &w2, NULL, &e), -EBUSY);
	ro = f.cfg;
	ro.readonly = true;
	ro.ring = NULL;
	ck_assert_int_eq(wal_open(&ro, &w2, NULL, &e), 0);
	ck_assert_int_eq(wal_append(w2, 1, 1, "x", 1), -EROFS);
	wal_close(w2);
	fx_fini(&f);
}
END_TEST

/* --- crash cases ------------------------------------------------------------ */

/* A log of several segments whose last one holds several batches. */
static size_t crash_log(struct fx *f, char names[][64], struct recinfo *last_recs,
			size_t *ret_nlast, uint64_t *ret_before_last)
{
	char p[512];
	size_t n;

	ck_assert_int_eq(fx_open(f), 0);
	fill_segments(f, 500, 23);
	/* Go on until the last segment holds a good number of batches. */
	for (;;) {
		n = list_segs(f->dir, names, 64);
		path_of(p, f, names[n - 1]);
		*ret_nlast = seg_records(p, last_recs, 1024);
		if (*ret_nlast >= 60)
			break;
		uint64_t next = wal_last_index(f->w) + 1;
		append_durable(f, next, next + 22, 0);
	}
	fx_close(f);
	ck_assert_uint_ge(n, 2);
	*ret_before_last = last_recs[0].index - 1;
	return n;
}

/* Copy the intact log to dir "<f->dir>.c" and return a fixture on it. */
static void clone_log(struct fx *f, struct fx *c, char names[][64], size_t n)
{
	char from[512], to[512];

	*c = *f;
	ck_assert_int_lt(snprintf(c->dir, sizeof(c->dir), "%s.c", f->dir), (int)sizeof(c->dir));
	rm_rf(c->dir);
	ck_assert_int_eq(mkdir(c->dir, 0700), 0);
	c->cfg.dir = c->dir;
	c->cfg.ctx = c;
	c->cfg.ring = &c->ring;
	c->w = NULL;
	ck_assert_int_eq(io_uring_queue_init(64, &c->ring, 0), 0);
	for (size_t i = 0; i <= n; i++) {
		const char *name = i < n ? names[i] : "meta";
		snprintf(from, sizeof(from), "%s/%s", f->dir, name);
		snprintf(to, sizeof(to), "%s/%s", c->dir, name);
		copy_file(from, to);
	}
}

static void clone_drop(struct fx *c)
{
	fx_close(c);
	io_uring_queue_exit(&c->ring);
	rm_rf(c->dir);
}

/* Reopen the damaged copy: the log ends at the last whole record before
 * `cut`. Read-only (cheap, no fsync) for every offset; `full` also repairs,
 * reopens (nothing torn any more) and appends. */
static void expect_cut(struct fx *c, const struct recinfo *r, size_t nr, uint64_t before,
		       uint64_t cut, bool full)
{
	struct wal_config ro = c->cfg;
	struct wal_recovery rec;
	struct wal_error e;
	struct wal *w;
	uint64_t expect = before;

	for (size_t i = 0; i < nr && r[i].end <= cut; i++)
		expect = r[i].index;
	ro.readonly = true;
	ro.ring = NULL;
	ck_assert_msg(wal_open(&ro, &w, &rec, &e) == 0, "cut %" PRIu64 ": %s", cut, e.detail);
	ck_assert_msg(rec.last_index == expect, "cut %" PRIu64 ": last %" PRIu64 " want %" PRIu64,
		      cut, rec.last_index, expect);
	if (expect > before) {
		struct wal_entry en;
		ck_assert_int_eq(wal_entry_get(w, expect, &en), 0);
		ck_assert_int_eq(wal_entry_get(w, expect + 1, &en), -ENOENT);
	}
	wal_close(w);
	if (!full)
		return;
	ck_assert_msg(fx_open(c) == 0, "cut %" PRIu64 ": open failed: %s", cut, c->open_err.detail);
	ck_assert_msg(c->rec.last_index == expect, "cut %" PRIu64 ": last %" PRIu64 " want %" PRIu64,
		      cut, c->rec.last_index, expect);
	check_range(c, c->rec.first_index, expect, 0);
	fx_close(c);
	ck_assert_int_eq(fx_open(c), 0);
	ck_assert(!c->rec.torn);
	ck_assert_uint_eq(c->rec.last_index, expect);
	append_range(c, expect + 1, expect + 3, 1);
	ck_assert_int_eq(wal_flush(c->w), 0);
	fx_drain(c);
	ck_assert_uint_eq(c->durable, expect + 3);
	fx_close(c);
	ck_assert_int_eq(fx_open(c), 0);
	ck_assert_uint_eq(c->rec.last_index, expect + 3);
	check_range(c, expect + 1, expect + 3, 1);
	fx_close(c);
}

START_TEST(test_crash_last_segment_cut)
{
	struct fx f, c;
	char names[64][64], p[512];
	struct recinfo r[1024];
	size_t n, nr;
	uint64_t before, end;

	fx_init(&f, 64 << 10);
	n = crash_log(&f, names, r, &nr, &before);
	end = r[nr - 1].end;
	/* Every offset near the start and end, then a stride with a prime
	 * step through the middle (mid-header, mid-payload, boundaries). */
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[n - 1]);
	for (uint64_t cut = end + 64, k = 0; cut >= 4096; cut -= (cut < 4400 || cut > end - 300) ? 1 : 97, k++) {
		/* Shrinking the same copy step by step is the same as cutting a
		 * fresh one; every 40th offset gets the full repair cycle. */
		if (k % 40 == 0) {
			clone_drop(&c);
			clone_log(&f, &c, names, n);
		}
		ck_assert_int_eq(truncate(p, (off_t)cut), 0);
		expect_cut(&c, r, nr, before, cut, k % 40 == 39);
	}
	clone_drop(&c);
	/* The report: cut in the middle of a record. */
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[n - 1]);
	ck_assert_int_eq(truncate(p, (off_t)(r[5].off + 40)), 0);
	ck_assert_int_eq(fx_open(&c), 0);
	ck_assert(c.rec.torn);
	ck_assert_str_eq(c.rec.torn_file, names[n - 1]);
	ck_assert_uint_eq(c.rec.torn_offset, r[5].off);
	ck_assert_uint_eq(c.rec.torn_bytes, 40);
	ck_assert_uint_eq(c.rec.last_index, r[4].index);
	fx_close(&c);
	clone_drop(&c);
	fx_fini(&f);
}
END_TEST

START_TEST(test_crash_tail_zeroed)
{
	struct fx f, c;
	char names[64][64], p[512];
	struct recinfo r[1024];
	size_t n, nr;
	uint64_t before, end;

	fx_init(&f, 64 << 10);
	n = crash_log(&f, names, r, &nr, &before);
	end = r[nr - 1].end;
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[n - 1]);
	for (uint64_t z = end, k = 0; z >= 4096; z -= (z < 4300 || z > end - 200) ? 3 : 211, k++) {
		if (k % 40 == 0) {
			clone_drop(&c);
			clone_log(&f, &c, names, n);
		}
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		size_t len = (size_t)(end + 4096 - z);
		uint8_t *zero = calloc(1, len);
		ck_assert_int_eq(pwrite(fd, zero, len, (off_t)z), (ssize_t)len);
		free(zero);
		close(fd);
		expect_cut(&c, r, nr, before, z, k % 40 == 39);
	}
	clone_drop(&c);
	fx_fini(&f);
}
END_TEST

START_TEST(test_crash_readonly_does_not_repair)
{
	struct fx f, c;
	char names[64][64], p[512];
	struct recinfo r[1024];
	size_t n, nr;
	uint64_t before;
	struct wal *w;
	struct wal_recovery rec;
	struct wal_config ro;
	uint32_t digest;

	fx_init(&f, 64 << 10);
	n = crash_log(&f, names, r, &nr, &before);
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[n - 1]);
	ck_assert_int_eq(truncate(p, (off_t)(r[10].off + 3)), 0);
	digest = dir_digest(c.dir);
	ro = c.cfg;
	ro.readonly = true;
	ro.ring = NULL;
	ck_assert_int_eq(wal_open(&ro, &w, &rec, NULL), 0);
	ck_assert(rec.torn);
	ck_assert_uint_eq(rec.last_index, r[9].index);
	wal_close(w);
	ck_assert_uint_eq(dir_digest(c.dir), digest);
	clone_drop(&c);
	fx_fini(&f);
}
END_TEST

/* A bad record that cannot be a torn tail: open fails naming file and
 * offset, and nothing in the directory changes. */
static void expect_corrupt(struct fx *c, const char *file, uint64_t off, const char *words)
{
	uint32_t digest = dir_digest(c->dir);
	struct wal_config ro = c->cfg;
	struct wal_error e;
	struct wal *w;
	char msg[512];

	ck_assert_int_eq(fx_open(c), -EBADMSG);
	ck_assert_ptr_null(c->w);
	ck_assert_str_eq(c->open_err.file, file);
	if (off != UINT64_MAX)
		ck_assert_uint_eq(c->open_err.offset, off);
	ck_assert_msg(strstr(c->open_err.detail, words), "detail: %s", c->open_err.detail);
	wal_error_format(&c->open_err, msg, sizeof(msg));
	ck_assert_ptr_nonnull(strstr(msg, file));
	ck_assert_uint_eq(dir_digest(c->dir), digest);
	ro.readonly = true;
	ro.ring = NULL;
	ck_assert_int_eq(wal_open(&ro, &w, NULL, &e), -EBADMSG);
	ck_assert_str_eq(e.file, file);
	ck_assert_uint_eq(dir_digest(c->dir), digest);
}

static void flip_bit(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

START_TEST(test_crash_bit_flip_earlier_segment)
{
	struct fx f, c;
	char names[64][64], p[512];
	struct recinfo r[1024], r0[1024];
	size_t n, nr, n0;
	uint64_t before;

	fx_init(&f, 64 << 10);
	n = crash_log(&f, names, r, &nr, &before);
	path_of(p, &f, names[0]);
	n0 = seg_records(p, r0, 1024);
	/* In a payload, in a header's index, in the last record of the
	 * segment: each one is corruption at that record. */
	const uint64_t where[3][2] = { { 7, 40 }, { 30, 9 }, { n0 - 1, 33 } };
	for (int k = 0; k < 3; k++) {
		clone_log(&f, &c, names, n);
		path_of(p, &c, names[0]);
		flip_bit(p, r0[where[k][0]].off + where[k][1]);
		expect_corrupt(&c, names[0], r0[where[k][0]].off, "bad record");
		clone_drop(&c);
	}
	/* A bit flip in the header block of a middle segment. */
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[1]);
	flip_bit(p, 26);
	expect_corrupt(&c, names[1], 0, "header");
	clone_drop(&c);
	fx_fini(&f);
}
END_TEST

START_TEST(test_crash_bit_flip_last_segment_acknowledged)
{
	struct fx f, c;
	char names[64][64], p[512];
	struct recinfo r[1024];
	size_t n, nr;
	uint64_t before;

	fx_init(&f, 64 << 10);
	n = crash_log(&f, names, r, &nr, &before);
	/* Record 3 of the last segment is followed by later batches, so it
	 * was acknowledged: not a torn tail, but corruption. */
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[n - 1]);
	flip_bit(p, r[3].off + 50);
	expect_corrupt(&c, names[n - 1], r[3].off, "later batches");
	clone_drop(&c);
	fx_fini(&f);
}
END_TEST

/* A damaged record in the last batch of the log, with the rest of its
 * batch intact after it (its padding record), was written completely and
 * acknowledged: corruption, not a torn write. Without what follows it, the
 * same damage is a torn write. */
START_TEST(test_crash_bit_flip_last_batch)
{
	struct fx f, c;
	char names[64][64], p[512];
	struct recinfo r[1024];
	size_t n, nr;
	uint64_t before, end;

	fx_init(&f, 64 << 10);
	n = crash_log(&f, names, r, &nr, &before);
	path_of(p, &f, names[n - 1]);
	seg_walk(p, r, 1024, &end);
	/* The last record is followed by its batch's padding. */
	ck_assert_uint_gt(end, r[nr - 1].end);
	for (int k = 0; k < 3; k++) {
		const struct recinfo *v = &r[nr - 1 - (k == 2)];
		clone_log(&f, &c, names, n);
		path_of(p, &c, names[n - 1]);
		flip_bit(p, v->off + (k == 1 ? 9 : 40)); /* payload, index, payload */
		expect_corrupt(&c, names[n - 1], v->off, "written completely");
		clone_drop(&c);
	}
	/* The padding lost as well: the batch never completed. */
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[n - 1]);
	flip_bit(p, r[nr - 1].off + 40);
	ck_assert_int_eq(truncate(p, (off_t)r[nr - 1].end), 0);
	ck_assert_int_eq(fx_open(&c), 0);
	ck_assert(c.rec.torn);
	ck_assert_uint_eq(c.rec.torn_offset, r[nr - 1].off);
	ck_assert_uint_eq(c.rec.last_index, r[nr - 2].index);
	fx_close(&c);
	clone_drop(&c);
	fx_fini(&f);
}
END_TEST

START_TEST(test_crash_middle_segment_deleted)
{
	struct fx f, c;
	char names[64][64], p[512], words[64];
	unsigned long long seq, first1, first2;
	size_t n;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 900, 41);
	fx_close(&f);
	n = list_segs(f.dir, names, 64);
	ck_assert_uint_ge(n, 3);
	ck_assert_int_eq(sscanf(names[1], "%16llx-%16llx.seg", &seq, &first1), 2);
	ck_assert_int_eq(sscanf(names[2], "%16llx-%16llx.seg", &seq, &first2), 2);
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[1]);
	ck_assert_int_eq(unlink(p), 0);
	snprintf(words, sizeof(words), "gap: entries %llu..%llu missing", first1, first2 - 1);
	expect_corrupt(&c, names[0], UINT64_MAX, words);
	clone_drop(&c);
	fx_fini(&f);
}
END_TEST

/* A child appends as fast as it can and tells the parent every durable
 * index it is told; the parent kills it with SIGKILL once `after` entries
 * are acknowledged, plus `delay_us`, so that the kill lands at varied
 * instants: mid-batch, between write and fdatasync, mid segment creation.
 * Nothing acknowledged may be missing, and the log must go on. */
/* compact: the child compacts behind itself as a node does after each
 * snapshot, so that it keeps writing into recycled segments. */
static void sigkill_run(uint64_t after, unsigned delay_us, bool compact)
{
	struct fx f;
	int pfd[2];
	pid_t pid;
	uint64_t acked = 0, v, last;

	fx_init(&f, 128 << 10); /* ~400 entries per segment: many roll-overs */
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fx *cf = &f;
		uint64_t next = 1, told = 0;
		close(pfd[0]);
		if (io_uring_queue_exit(&cf->ring), io_uring_queue_init(64, &cf->ring, 0) < 0)
			_exit(2);
		if (fx_open(cf) < 0)
			_exit(3);
		for (;;) {
			for (int k = 0; k < (int)(next % 23) + 1; k++, next++)
				append_range(cf, next, next, 0);
			if (wal_flush(cf->w) < 0)
				_exit(4);
			if (ring_step(&cf->ring) < 0)
				_exit(5);
			if (compact && cf->durable > 1200 && wal_compact(cf->w, cf->durable - 800) < 0)
				_exit(7);
			if (cf->durable > told) {
				told = cf->durable;
				if (write(pfd[1], &told, sizeof(told)) != sizeof(told))
					_exit(6);
			}
		}
	}
	close(pfd[1]);
	while (acked < after && read(pfd[0], &v, sizeof(v)) == sizeof(v))
		acked = v;
	if (delay_us)
		usleep(delay_us);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* Collect what was announced before the kill landed. */
	while (read(pfd[0], &v, sizeof(v)) == sizeof(v))
		acked = v;
	close(pfd[0]);
	ck_assert_uint_ge(acked, after);
	ck_assert_msg(fx_open(&f) == 0, "after %" PRIu64 ": %s", after, f.open_err.detail);
	ck_assert_msg(f.rec.last_index >= acked, "kill after %" PRIu64 " + %u us: acked %" PRIu64
		      " recovered %" PRIu64, after, delay_us, acked, f.rec.last_index);
	last = f.rec.last_index;
	if (getenv("WAL_TEST_DEBUG"))
		fprintf(stderr, "sigkill after %" PRIu64 " + %u us: acked %" PRIu64 " recovered %" PRIu64
			" torn %d (%" PRIu64 " bytes) stale %u segments %u\n", after, delay_us, acked,
			last, f.rec.torn, f.rec.torn_bytes, f.rec.stale_files, f.rec.segments);
	ck_assert(compact ? f.rec.first_index > 1 : f.rec.first_index == 1);
	check_range(&f, f.rec.first_index, last, 0);
	append_durable(&f, last + 1, last + 30, 0);
	ck_assert_uint_eq(f.durable, last + 30);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert(!f.rec.torn);
	check_range(&f, f.rec.first_index, last + 30, 0);
	fx_fini(&f);
}

START_TEST(test_crash_sigkill)
{
	static const struct {
		uint64_t after;
		unsigned delay_us;
		bool compact;
	} runs[] = { { 1, 0, false },	 { 500, 0, false },   { 900, 70, false },  { 2000, 150, false },
		     { 3000, 0, false },	 { 3000, 400, false }, { 4500, 1000, false }, { 3000, 0, true },
		     { 4500, 300, true }, { 6000, 1000, true },  { 8000, 150, true } };

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		sigkill_run(runs[i].after, runs[i].delay_us, runs[i].compact);
}
END_TEST

/* --- spares: recycled segments ------------------------------------------- */

static size_t count_suffix(const char *dir, const char *suffix)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	size_t k = 0, sl = strlen(suffix);

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(v[i]->d_name);
		k += l > sl && !strcmp(v[i]->d_name + l - sl, suffix);
		free(v[i]);
	}
	free(v);
	return k;
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_ino;
}

/* Header flags (1: recycled) of a segment file. */
static uint32_t seg_flags(const char *path)
{
	size_t len;
	uint8_t *m = slurp(path, &len);
	uint32_t flags;

	memcpy(&flags, m + 40, 4);
	free(m);
	return flags;
}

/* Entries 1..1500 in 64 KiB segments, then every segment but the last
 * compacted away: WAL_DEFAULT_SPARES of them are kept as spares. */
static void fill_with_spares(struct fx *f)
{
	fill_segments(f, 1500, 50);
	ck_assert_int_gt(wal_compact(f->w, 1501), WAL_DEFAULT_SPARES);
	fx_drain(f);
	ck_assert_uint_eq(count_suffix(f->dir, ".spare"), WAL_DEFAULT_SPARES);
}

/* Compaction keeps up to WAL_DEFAULT_SPARES removed segments as spares,
 * and new segments are made from them (the same files: inodes), with the
 * "recycled" header flag; only then are files created again. */
START_TEST(test_spares_reused)
{
	struct fx f;
	char names[64][64], p[512];
	ino_t old[64];
	size_t nold, n;
	uint64_t next = 3001;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 3000, 50);
	nold = list_segs(f.dir, names, 64);
	ck_assert_uint_gt(nold, WAL_DEFAULT_SPARES + 2);
	for (size_t i = 0; i < nold; i++) {
		path_of(p, &f, names[i]);
		old[i] = ino_of(p);
	}
	ck_assert_int_eq(wal_compact(f.w, 3001), (int)nold - 1);
	fx_drain(&f);
	ck_assert_uint_eq(f.compacted_calls, 1);
	ck_assert_uint_eq(count_suffix(f.dir, ".spare"), WAL_DEFAULT_SPARES);
	ck_assert_uint_eq(list_segs(f.dir, names, 64), 1);
	while (list_segs(f.dir, names, 64) < 1 + WAL_DEFAULT_SPARES + 1) {
		append_durable(&f, next, next + 49, 0);
		next += 50;
	}
	ck_assert_uint_eq(count_suffix(f.dir, ".spare"), 0);
	n = list_segs(f.dir, names, 64);
	for (size_t i = 1; i < n; i++) {
		bool reused = false;
		path_of(p, &f, names[i]);
		for (size_t k = 0; k < nold; k++)
			reused |= ino_of(p) == old[k];
		/* (a new file may get a freed inode number) */
		if (i < n - 1)
			ck_assert(reused);
		ck_assert_uint_eq(seg_flags(p), i < n - 1 ? 1 : 0);
	}
	check_range(&f, wal_first_index(f.w), next - 1, 0);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert(!f.rec.torn);
	ck_assert_uint_eq(f.rec.last_index, next - 1);
	check_range(&f, wal_first_index(f.w), next - 1, 0);
	fx_fini(&f);
}
END_TEST

/* A log that ends in a recycled segment: the file's older records follow
 * it, even one that would fit as the next entry if its tag were not
 * checked. A restart takes none of them, reports no torn tail, and starts
 * the next append in a new segment. Spares survive restarts (readonly
 * opens leave them alone); surplus ones and ones of the wrong size go. */
START_TEST(test_recycled_segment_restart)
{
	struct fx f;
	char names[64][64], p[512];
	uint8_t rec[64] = { 0 };
	uint64_t last, end, next;
	uint32_t crc, len = 16, tag, blk;
	size_t n;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_with_spares(&f);
	append_durable(&f, 1501, 1540, 0); /* into a recycled segment */
	last = 1540;
	fx_close(&f);
	n = list_segs(f.dir, names, 64);
	ck_assert_uint_eq(n, 2);
	path_of(p, &f, names[1]);
	ck_assert_uint_eq(seg_flags(p), 1);
	/* Forge an older record right after the log: index last + 1, a valid
	 * CRC, another segment's tag (the one the file had before, say, or
	 * one a client guessed). */
	end = seg_log_end(p);
	ck_assert_uint_eq(end % 4096, 0);
	{
		uint64_t idx = last + 1, term = 10;
		size_t flen;
		uint8_t *m = slurp(p, &flen);
		memcpy(&tag, m + 48, 4);
		ck_assert_uint_ne(tag, 0);
		free(m);
		tag ^= 1;
		blk = (uint32_t)(end / 4096);
		memcpy(rec + 4, &len, 4);
		memcpy(rec + 8, &idx, 8);
		memcpy(rec + 16, &term, 8);
		memcpy(rec + 24, &blk, 4);
		memcpy(rec + 28, &tag, 4);
		crc = wal_crc32c(0, rec + 4, 28 + len);
		memcpy(rec, &crc, 4);
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		ck_assert_int_eq(pwrite(fd, rec, 32 + len, (off_t)end), 32 + (ssize_t)len);
		/* and one that starts a batch two blocks later: with this tag
		 * it would prove acknowledged records lost (corruption) */
		blk += 2;
		memcpy(rec + 24, &blk, 4);
		crc = wal_crc32c(0, rec + 4, 28 + len);
		memcpy(rec, &crc, 4);
		ck_assert_int_eq(pwrite(fd, rec, 32 + len, (off_t)blk * 4096), 32 + (ssize_t)len);
		close(fd);
	}
	uint32_t digest = dir_digest(f.dir);
	{
		struct wal_config ro = f.cfg;
		struct wal_recovery rr;
		struct wal *w;
		ro.readonly = true;
		ro.ring = NULL;
		ck_assert_int_eq(wal_open(&ro, &w, &rr, NULL), 0);
		ck_assert_uint_eq(rr.last_index, last);
		wal_close(w);
		ck_assert_uint_eq(dir_digest(f.dir), digest);
	}
	ck_assert_uint_eq(count_suffix(f.dir, ".spare"), WAL_DEFAULT_SPARES - 1);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert(!f.rec.torn);
	ck_assert_uint_eq(f.rec.last_index, last);
	check_range(&f, 1500, last, 0);
	/* The next append goes into a new segment (from a spare). */
	append_durable(&f, last + 1, last + 5, 1);
	ck_assert_uint_eq(list_segs(f.dir, names, 64), 3);
	ck_assert_uint_eq(count_suffix(f.dir, ".spare"), WAL_DEFAULT_SPARES - 2);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, last + 5);
	check_range(&f, last + 1, last + 5, 1);
	fx_close(&f);
	/* One spare cut short, and room for one: the others go. */
	n = 0;
	{
		struct dirent **v;
		int k = scandir(f.dir, &v, NULL, alphasort);
		for (int i = 0; i < k; i++) {
			if (strstr(v[i]->d_name, ".spare") && !n++) {
				path_of(p, &f, v[i]->d_name);
				ck_assert_int_eq(truncate(p, 4096), 0);
			}
			free(v[i]);
		}
		free(v);
	}
	ck_assert_uint_eq(n, WAL_DEFAULT_SPARES - 2);
	f.cfg.spare_segments = 1;
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(count_suffix(f.dir, ".spare"), 1);
	ck_assert_int_lt(stat(p, &(struct stat){ 0 }), 0);
	fx_close(&f);
	f.cfg.spare_segments = -1;
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(count_suffix(f.dir, ".spare"), 0);
	ck_assert_uint_eq(f.rec.last_index, last + 5);
	next = last + 6;
	append_durable(&f, next, next + 3, 1);
	fx_fini(&f);
}
END_TEST

/* wal_drop_spares(): every spare is unlinked (durably, like a compaction),
 * new segments are files again, and later compactions keep spares again. */
START_TEST(test_drop_spares)
{
	struct fx f;
	char names[64][64];

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_with_spares(&f);
	ck_assert_int_eq(wal_drop_spares(f.w), WAL_DEFAULT_SPARES);
	fx_drain(&f);
	ck_assert_uint_eq(count_suffix(f.dir, ".spare"), 0);
	ck_assert_int_eq(wal_drop_spares(f.w), 0);
	append_durable(&f, 1501, 1700, 0);
	ck_assert_uint_gt(list_segs(f.dir, names, 64), 1);
	ck_assert_int_gt(wal_compact(f.w, 1650), 0);
	fx_drain(&f);
	ck_assert_uint_gt(count_suffix(f.dir, ".spare"), 0);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 1700);
	check_range(&f, f.rec.first_index, 1700, 0);
	fx_fini(&f);
}
END_TEST

/* A log of several segments whose last one is recycled and holds several
 * batches; *old gets that file's contents from before its reuse. */
static size_t recycled_log(struct fx *f, char names[][64], struct recinfo *last_recs,
			   size_t *ret_nlast, uint64_t *ret_before_last, uint8_t **old, size_t *old_len)
{
	char p[512];
	uint8_t *spare[WAL_MAX_SPARES];
	size_t spare_len[WAL_MAX_SPARES], ns = 0, n;
	ino_t spare_ino[WAL_MAX_SPARES];
	struct dirent **v;
	int k;

	ck_assert_int_eq(fx_open(f), 0);
	fill_segments(f, 500, 23);
	ck_assert_int_gt(wal_compact(f->w, 501), 0);
	fx_drain(f);
	k = scandir(f->dir, &v, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		if (strstr(v[i]->d_name, ".spare")) {
			path_of(p, f, v[i]->d_name);
			spare_ino[ns] = ino_of(p);
			spare[ns] = slurp(p, &spare_len[ns]);
			ns++;
		}
		free(v[i]);
	}
	free(v);
	ck_assert_uint_gt(ns, 0);
	for (;;) {
		uint64_t next = wal_last_index(f->w) + 1;
		append_durable(f, next, next + 22, 0);
		n = list_segs(f->dir, names, 64);
		path_of(p, f, names[n - 1]);
		*ret_nlast = seg_records(p, last_recs, 1024);
		if (n > 1 && *ret_nlast >= 60)
			break;
	}
	fx_close(f);
	ck_assert_uint_eq(seg_flags(p), 1);
	*old = NULL;
	for (size_t i = 0; i < ns; i++) {
		if (spare_ino[i] == ino_of(p)) {
			*old = spare[i];
			*old_len = spare_len[i];
		} else {
			free(spare[i]);
		}
	}
	ck_assert_ptr_nonnull(*old);
	*ret_before_last = last_recs[0].index - 1;
	return n;
}

/* A crash in the middle of a write into a recycled segment leaves new
 * bytes up to some offset and the file's older ones after it. At every
 * offset the log ends at the last whole record before it, and the older
 * records are never taken for new ones. */
START_TEST(test_crash_recycled_segment_cut)
{
	struct fx f, c;
	char names[64][64], p[512];
	struct recinfo r[1024];
	size_t n, nr, old_len = 0, len;
	uint64_t before, end;
	uint8_t *old, *now;

	fx_init(&f, 64 << 10);
	n = recycled_log(&f, names, r, &nr, &before, &old, &old_len);
	path_of(p, &f, names[n - 1]);
	now = slurp(p, &len);
	ck_assert_uint_eq(len, old_len);
	end = r[nr - 1].end;
	clone_log(&f, &c, names, n);
	path_of(p, &c, names[n - 1]);
	for (uint64_t cut = end + 64, k = 0; cut >= 4096; cut -= (cut < 4400 || cut > end - 300) ? 1 : 97, k++) {
		uint8_t *mix = malloc(len);
		memcpy(mix, now, cut);
		memcpy(mix + cut, old + cut, len - cut);
		if (k % 40 == 0) {
			clone_drop(&c);
			clone_log(&f, &c, names, n);
		}
		spit(p, mix, len);
		free(mix);
		expect_cut(&c, r, nr, before, cut, k % 40 == 39);
	}
	clone_drop(&c);
	/* The report: cut in the middle of a record of the segment. */
	clone_log(&f, &c, names, n);
	{
		uint8_t *mix = malloc(len);
		memcpy(mix, now, r[5].off + 40);
		memcpy(mix + r[5].off + 40, old + r[5].off + 40, len - r[5].off - 40);
		spit(p, mix, len);
		free(mix);
	}
	ck_assert_int_eq(fx_open(&c), 0);
	ck_assert(c.rec.torn);
	ck_assert_str_eq(c.rec.torn_file, names[n - 1]);
	ck_assert_uint_eq(c.rec.torn_offset, r[5].off);
	ck_assert_uint_ge(c.rec.torn_bytes, 32);
	ck_assert_uint_eq(c.rec.last_index, r[4].index);
	fx_close(&c);
	clone_drop(&c);
	/* Record 3 damaged, with later batches of the segment after it:
	 * corruption; damage among the older records after the log is not. */
	clone_log(&f, &c, names, n);
	flip_bit(p, r[3].off + 50);
	expect_corrupt(&c, names[n - 1], r[3].off, "later batches");
	clone_drop(&c);
	clone_log(&f, &c, names, n);
	flip_bit(p, end + 4096 + 50);
	flip_bit(p, len - 100);
	ck_assert_int_eq(fx_open(&c), 0);
	ck_assert(!c.rec.torn);
	ck_assert_uint_eq(c.rec.last_index, r[nr - 1].index);
	fx_close(&c);
	clone_drop(&c);
	free(old);
	free(now);
	fx_fini(&f);
}
END_TEST

/* Segments of format version 1 (no tags, no flags) still open, and the WAL
 * goes on appending into the last one in that format. */
START_TEST(test_version1_segments)
{
	struct fx f;
	char names[64][64], p[512];
	struct recinfo r[1024];
	size_t n, nr, len;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 600, 23);
	fx_close(&f);
	n = list_segs(f.dir, names, 64);
	ck_assert_uint_gt(n, 1);
	for (size_t i = 0; i < n; i++) {
		uint32_t one = 1, zero = 0, crc;
		uint64_t pos = 4096;
		path_of(p, &f, names[i]);
		uint8_t *m = slurp(p, &len);
		uint64_t end = seg_log_end(p);
		memcpy(m + 8, &one, 4);
		memcpy(m + 40, &zero, 4);
		memcpy(m + 48, &zero, 4); /* the tag: version 1 headers end at 48 */
		crc = wal_crc32c(0, m, 44);
		memcpy(m + 44, &crc, 4);
		while (pos < end) {
			uint32_t rlen;
			memcpy(&rlen, m + pos + 4, 4);
			memcpy(m + pos + 28, &zero, 4);
			crc = wal_crc32c(0, m + pos + 4, 28 + rlen);
			memcpy(m + pos, &crc, 4);
			pos += (32 + rlen + 7) & ~7ull;
		}
		spit(p, m, len);
		free(m);
	}
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert(!f.rec.torn);
	ck_assert_uint_eq(f.rec.last_index, 600);
	check_range(&f, 1, 600, 0);
	append_durable(&f, 601, 640, 1);
	ck_assert_uint_eq(list_segs(f.dir, names, 64), n);
	fx_close(&f);
	path_of(p, &f, names[n - 1]);
	nr = seg_records(p, r, 1024);
	ck_assert_uint_eq(r[nr - 1].index, 640);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 640);
	check_range(&f, 1, 600, 0);
	check_range(&f, 601, 640, 1);
	fx_fini(&f);
}
END_TEST

#ifdef WAL_FAILPOINTS
/* --- errors ------------------------------------------------------------------ */

/* One durable entry, so the segment exists and later counts are ours. */
static void one_entry(struct fx *f)
{
	ck_assert_int_eq(fx_open(f), 0);
	append_durable(f, 1, 1, 0);
	ck_assert_uint_eq(f->durable, 1);
	f->durable_calls = 0;
}

static void expect_fatal(struct fx *f, int err, const char *op)
{
	ck_assert_uint_eq(f->err_calls, 1);
	ck_assert_int_eq(f->err.err, err);
	ck_assert(f->err.fatal);
	ck_assert_str_eq(f->err.op, op);
	/* Failed for good: no retry, every later call refuses. */
	ck_assert_int_eq(wal_append(f->w, wal_last_index(f->w) + 1, 1, "x", 1), err);
	ck_assert_int_eq(wal_flush(f->w), err);
	ck_assert_int_eq(wal_truncate(f->w, 1), err);
	ck_assert_int_eq(wal_meta_set(f->w, 100, NULL), err);
	ck_assert(!wal_busy(f->w));
}

START_TEST(test_fsync_error_is_fatal)
{
	struct fx f;

	fx_init(&f, 0);
	f.cfg.sync = WAL_SYNC_FSYNC;
	one_entry(&f);
	wal_failpoint_arm(WAL_FP_FSYNC, 1, -EIO);
	append_durable(&f, 2, 5, 0);
	ck_assert_uint_eq(f.durable_calls, 0);
	ck_assert_uint_eq(wal_durable_index(f.w), 1);
	expect_fatal(&f, -EIO, "fsync");
	fx_close(&f);
	/* Recovery reads what is on disk; entry 1 is intact. */
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_ge(f.rec.last_index, 1);
	check_range(&f, 1, f.rec.last_index, 0);
	fx_fini(&f);
}
END_TEST

/* In RWF_DSYNC mode the write's result carries the sync's error too. */
START_TEST(test_write_error_is_fatal)
{
	for (int mode = 0; mode < 2; mode++) {
		struct fx f;
		fx_init(&f, 0);
		f.cfg.sync = mode ? WAL_SYNC_FSYNC : WAL_SYNC_DSYNC;
		one_entry(&f);
		wal_failpoint_arm(WAL_FP_WRITE, 1, -EIO);
		append_durable(&f, 2, 5, 0);
		ck_assert_uint_eq(f.durable_calls, 0);
		expect_fatal(&f, -EIO, "write");
		fx_fini(&f);
	}
}
END_TEST

START_TEST(test_meta_fsync_error_is_fatal)
{
	struct fx f;

	fx_init(&f, 0);
	one_entry(&f);
	wal_failpoint_arm(WAL_FP_FSYNC, 1, -EIO);
	ck_assert_int_eq(wal_meta_set(f.w, 3, "a"), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.meta_calls, 0);
	ck_assert_uint_eq(wal_meta_term(f.w), 0);
	expect_fatal(&f, -EIO, "fsync");
	fx_fini(&f);
}
END_TEST

START_TEST(test_rename_error_is_fatal)
{
	struct fx f;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	wal_failpoint_arm(WAL_FP_RENAME, 1, -EIO);
	append_durable(&f, 1, 3, 0);
	expect_fatal(&f, -EIO, "rename");
	fx_fini(&f);
}
END_TEST

static void short_write_run(enum wal_sync mode)
{
	struct fx f;

	fx_init(&f, 0);
	f.cfg.sync = mode;
	one_entry(&f);
	wal_failpoint_arm(WAL_FP_WRITE, 1, 5000); /* only 5000 bytes "written" */
	append_durable(&f, 2, 40, 0);
	ck_assert_uint_eq(f.err_calls, 0);
	ck_assert_uint_eq(f.durable, 40);
	wal_failpoint_arm(WAL_FP_WRITE, 1, -EAGAIN);
	append_durable(&f, 41, 60, 0);
	ck_assert_uint_eq(f.err_calls, 0);
	ck_assert_uint_eq(f.durable, 60);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 60);
	ck_assert(!f.rec.torn);
	check_range(&f, 1, 60, 0);
	fx_fini(&f);
}

START_TEST(test_short_write_and_eagain_resubmitted)
{
	short_write_run(WAL_SYNC_DSYNC);
	short_write_run(WAL_SYNC_FSYNC);
}
END_TEST

START_TEST(test_write_enospc_drops_batch_cleanly)
{
	struct fx f;
	struct wal_entry e;

	fx_init(&f, 0);
	one_entry(&f);
	wal_failpoint_arm(WAL_FP_WRITE, 1, -ENOSPC);
	append_range(&f, 2, 5, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	append_range(&f, 6, 9, 0); /* gathered behind the failing batch */
	fx_drain(&f);
	ck_assert_uint_eq(f.err_calls, 1);
	ck_assert(!f.err.fatal);
	ck_assert_int_eq(f.err.err, -ENOSPC);
	ck_assert_uint_eq(f.err.dropped_from, 2);
	ck_assert_uint_eq(f.durable_calls, 0);
	ck_assert_uint_eq(wal_last_index(f.w), 1);
	ck_assert_int_eq(wal_entry_get(f.w, 2, &e), -ENOENT);
	check_entry(&f, 1, 0);
	/* The log stays usable: index 2 again, with new contents. */
	append_durable(&f, 2, 4, 1);
	ck_assert_uint_eq(f.durable, 4);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 4);
	check_entry(&f, 1, 0);
	check_range(&f, 2, 4, 1);
	fx_fini(&f);
}
END_TEST

/* hold_on_nospace: a batch write that hits ENOSPC is kept, with what
 * gathers behind it, readable and not durable, until wal_resume(); then it
 * goes into a new segment and nothing is lost. */
START_TEST(test_write_enospc_held)
{
	struct fx f;

	fx_init(&f, 0);
	f.cfg.hold_on_nospace = true;
	one_entry(&f);
	wal_failpoint_arm(WAL_FP_WRITE, 1, -ENOSPC);
	append_range(&f, 2, 5, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	append_range(&f, 6, 9, 0); /* gathered behind the failing batch */
	fx_drain(&f);
	ck_assert_uint_eq(f.err_calls, 1);
	ck_assert(!f.err.fatal);
	ck_assert(f.err.held);
	ck_assert_int_eq(f.err.err, -ENOSPC);
	ck_assert_uint_eq(f.err.dropped_from, 0);
	ck_assert(wal_nospace(f.w));
	ck_assert_uint_eq(f.durable_calls, 0);
	ck_assert_uint_eq(wal_durable_index(f.w), 1);
	ck_assert_uint_eq(wal_last_index(f.w), 9);
	check_range(&f, 1, 9, 0);
	/* Nothing is written while held, even when flushed again. */
	append_range(&f, 10, 12, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.durable_calls, 0);
	ck_assert_int_eq(wal_resume(f.w), 0);
	ck_assert(!wal_nospace(f.w));
	fx_drain(&f);
	ck_assert_uint_eq(f.durable, 12);
	ck_assert_uint_eq(f.err_calls, 1);
	check_range(&f, 1, 12, 0);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert(!f.rec.torn);
	ck_assert_uint_eq(f.rec.last_index, 12);
	check_range(&f, 1, 12, 0);
	fx_fini(&f);
}
END_TEST

/* hold_on_nospace: the next segment cannot be allocated, twice; each
 * wal_resume() tries again, and the third time it is made. */
START_TEST(test_fallocate_enospc_held_on_rollover)
{
	struct fx f;
	uint64_t last;

	fx_init(&f, 64 << 10);
	f.cfg.hold_on_nospace = true;
	f.cfg.spare_segments = -1;
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 150, 50); /* first segment nearly full */
	wal_failpoint_arm(WAL_FP_FALLOCATE, 1, -ENOSPC);
	f.err_calls = 0;
	for (uint64_t i = 151; f.err_calls == 0 && i < 2000; i += 50)
		append_durable(&f, i, i + 49, 0);
	ck_assert_uint_eq(f.err_calls, 1);
	ck_assert(f.err.held);
	ck_assert_str_eq(f.err.op, "fallocate");
	last = wal_last_index(f.w);
	ck_assert_uint_lt(wal_durable_index(f.w), last);
	wal_failpoint_arm(WAL_FP_FALLOCATE, 1, -ENOSPC);
	ck_assert_int_eq(wal_resume(f.w), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.err_calls, 2);
	ck_assert(wal_nospace(f.w));
	ck_assert_uint_lt(wal_durable_index(f.w), last);
	ck_assert_int_eq(wal_resume(f.w), 0);
	fx_drain(&f);
	ck_assert(!wal_nospace(f.w));
	ck_assert_uint_eq(f.durable, last);
	append_durable(&f, last + 1, last + 10, 0);
	ck_assert_uint_eq(f.durable, last + 10);
	check_range(&f, 1, last + 10, 0);
	/* The segment whose fallocate failed is not left behind (the
	 * failpoint lets the kernel run the whole chain, rename included, as
	 * io_uring does after a real ENOSPC from fallocate). */
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.stale_files, 0);
	ck_assert_uint_eq(f.rec.last_index, last + 10);
	check_range(&f, 1, last + 10, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_fallocate_enospc_on_rollover)
{
	struct fx f;
	uint64_t last;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 150, 50); /* first segment nearly full */
	wal_failpoint_arm(WAL_FP_FALLOCATE, 1, -ENOSPC);
	f.err_calls = 0;
	for (uint64_t i = 151; f.err_calls == 0 && i < 2000; i += 50)
		append_durable(&f, i, i + 49, 0);
	ck_assert_uint_eq(f.err_calls, 1);
	ck_assert(!f.err.fatal);
	ck_assert_int_eq(f.err.err, -ENOSPC);
	ck_assert_str_eq(f.err.op, "fallocate");
	last = wal_last_index(f.w);
	ck_assert_uint_eq(f.err.dropped_from, last + 1);
	ck_assert_uint_eq(wal_durable_index(f.w), last);
	check_range(&f, 1, last, 0);
	append_durable(&f, last + 1, last + 10, 0);
	ck_assert_uint_eq(f.durable, last + 10);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, last + 10);
	check_range(&f, 1, last + 10, 0);
	fx_fini(&f);
}
END_TEST

START_TEST(test_meta_short_write_and_eagain_resubmitted)
{
	struct fx f;

	fx_init(&f, 0);
	one_entry(&f);
	wal_failpoint_arm(WAL_FP_WRITE, 1, 100); /* a slot written 100 bytes at a time */
	ck_assert_int_eq(wal_meta_set(f.w, 3, "node-a"), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.err_calls, 0);
	ck_assert_uint_eq(f.meta_calls, 1);
	wal_failpoint_arm(WAL_FP_WRITE, 1, -EAGAIN);
	ck_assert_int_eq(wal_meta_set(f.w, 4, "node-b"), 0);
	fx_drain(&f);
	ck_assert_uint_eq(f.err_calls, 0);
	ck_assert_uint_eq(f.meta_calls, 2);
	ck_assert_uint_eq(f.meta_term, 4);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.term, 4);
	ck_assert_str_eq(f.rec.voted_for, "node-b");
	fx_fini(&f);
}
END_TEST

/* Compaction: an unlink, a rename to a spare or the directory fsync after
 * them failing is fatal, and on_compacted is not called. */
START_TEST(test_compaction_errors_are_fatal)
{
	static const struct {
		enum wal_fp fp;
		const char *op;
		int spares;
	} cases[] = { { WAL_FP_UNLINK, "unlink", -1 }, { WAL_FP_RENAME, "rename", 0 },
		      { WAL_FP_FSYNC, "fsync", 0 } };

	for (size_t k = 0; k < 3; k++) {
		struct fx f;
		fx_init(&f, 64 << 10);
		f.cfg.spare_segments = cases[k].spares;
		ck_assert_int_eq(fx_open(&f), 0);
		fill_segments(&f, 800, 50);
		f.err_calls = 0;
		wal_failpoint_arm(cases[k].fp, 1, -EIO);
		ck_assert_int_gt(wal_compact(f.w, 500), 0);
		fx_drain(&f);
		ck_assert_uint_eq(f.compacted_calls, 0);
		expect_fatal(&f, -EIO, cases[k].op);
		fx_close(&f);
		/* Nothing lost: at worst the old segments are still there. */
		ck_assert_int_eq(fx_open(&f), 0);
		ck_assert_uint_eq(f.rec.last_index, 800);
		check_range(&f, f.rec.first_index, 800, 0);
		fx_fini(&f);
	}
}
END_TEST

/* Segment creation: every step's error other than ENOSPC before the rename
 * is fatal; the directory fsync after the rename included. */
START_TEST(test_create_errors_are_fatal)
{
	static const struct {
		enum wal_fp fp;
		unsigned nth;
		int err;
		const char *op;
	} cases[] = {
		{ WAL_FP_FALLOCATE, 1, -EIO, "fallocate" },
		{ WAL_FP_FSYNC, 1, -EIO, "fsync" },  /* the new file's fsync */
		{ WAL_FP_FSYNC, 2, -EIO, "fsync" },  /* the directory's, after the rename */
		{ WAL_FP_RENAME, 1, -ENOSPC, "rename" }, /* the name may be on disk */
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fx f;
		fx_init(&f, 64 << 10);
		ck_assert_int_eq(fx_open(&f), 0);
		wal_failpoint_arm(cases[k].fp, cases[k].nth, cases[k].err);
		append_durable(&f, 1, 3, 0);
		ck_assert_uint_eq(f.durable_calls, 0);
		expect_fatal(&f, cases[k].err, cases[k].op);
		fx_close(&f);
		ck_assert_int_eq(fx_open(&f), 0);
		ck_assert_uint_eq(f.rec.entries, 0);
		fx_fini(&f);
	}
}
END_TEST

/* The same from a spare: the header write, its fsync, the rename and the
 * directory fsync failing are fatal, and the log reopens as it was. */
START_TEST(test_create_from_spare_errors_are_fatal)
{
	static const struct {
		enum wal_fp fp;
		unsigned nth;
		const char *op;
	} cases[] = {
		{ WAL_FP_WRITE, 1, "write" },
		{ WAL_FP_FSYNC, 1, "fsync" },
		{ WAL_FP_RENAME, 1, "rename" },
		{ WAL_FP_FSYNC, 2, "fsync" },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fx f;
		fx_init(&f, 64 << 10);
		ck_assert_int_eq(fx_open(&f), 0);
		fill_with_spares(&f);
		wal_failpoint_arm(cases[k].fp, cases[k].nth, -EIO);
		ck_assert_int_eq(wal_truncate(f.w, 1490), 0);
		fx_drain(&f);
		expect_fatal(&f, -EIO, cases[k].op);
		fx_close(&f);
		ck_assert_int_eq(fx_open(&f), 0);
		ck_assert_uint_ge(f.rec.last_index, 1489);
		check_range(&f, f.rec.first_index, 1489, 0);
		append_durable(&f, f.rec.last_index + 1, f.rec.last_index + 5, 1);
		fx_fini(&f);
	}
}
END_TEST

/* A truncation's new segment cannot be given up (the old tail is still on
 * disk and would come back): ENOSPC there is fatal. */
START_TEST(test_truncate_enospc_is_fatal)
{
	struct fx f;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 100, 50);
	wal_failpoint_arm(WAL_FP_FALLOCATE, 1, -ENOSPC);
	ck_assert_int_eq(wal_truncate(f.w, 60), 0);
	fx_drain(&f);
	expect_fatal(&f, -ENOSPC, "fallocate");
	fx_close(&f);
	/* The failpoint only changed the result the WAL saw: the kernel did
	 * create the segment, so the cut is on disk. Either outcome is a
	 * whole log. */
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert(f.rec.last_index == 59 || f.rec.last_index == 100);
	check_range(&f, 1, f.rec.last_index, 0);
	fx_fini(&f);
}
END_TEST

/* ENOSPC on a batch that a truncation cut while it was being written: the
 * entries appended after the cut are dropped too, and the log really ends
 * where the error says (the next index goes where it belongs). */
START_TEST(test_write_enospc_after_truncate_in_flight)
{
	struct fx f;

	fx_init(&f, 0);
	one_entry(&f);
	wal_failpoint_arm(WAL_FP_WRITE, 1, -ENOSPC);
	append_range(&f, 2, 10, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	ck_assert(wal_busy(f.w));
	ck_assert_int_eq(wal_truncate(f.w, 6), 0);
	append_durable(&f, 6, 8, 1);
	ck_assert_uint_eq(f.err_calls, 1);
	ck_assert(!f.err.fatal);
	ck_assert_int_eq(f.err.err, -ENOSPC);
	ck_assert_uint_eq(f.err.dropped_from, 2);
	ck_assert_uint_eq(wal_last_index(f.w), 1);
	ck_assert_uint_eq(wal_durable_index(f.w), 1);
	append_durable(&f, 2, 4, 2);
	ck_assert_uint_eq(f.durable, 4);
	check_entry(&f, 1, 0);
	check_range(&f, 2, 4, 2);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, 4);
	check_entry(&f, 1, 0);
	check_range(&f, 2, 4, 2);
	fx_fini(&f);
}
END_TEST

/* The same for a segment creation that fails with ENOSPC after a truncation
 * below its first index was made while it was in flight. */
START_TEST(test_create_enospc_after_truncate_in_flight)
{
	struct fx f;
	uint64_t last, t;

	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	fill_segments(&f, 150, 50); /* first segment nearly full */
	/* Batches of 50 until one needs a new segment: its creation is then
	 * in flight right after wal_flush(). */
	for (last = 150;; last += 50) {
		char names[8][64];
		size_t before = list_segs(f.dir, names, 8);
		wal_failpoint_arm(WAL_FP_FALLOCATE, 1, -ENOSPC);
		append_durable(&f, last + 1, last + 50, 0);
		if (f.err_calls)
			break;
		ck_assert_uint_eq(list_segs(f.dir, names, 8), before);
	}
	/* The batch last+1.. was dropped; do it again, with the cut. */
	f.err_calls = 0;
	ck_assert_uint_eq(wal_last_index(f.w), last);
	wal_failpoint_arm(WAL_FP_FALLOCATE, 1, -ENOSPC);
	append_range(&f, last + 1, last + 50, 0);
	ck_assert_int_eq(wal_flush(f.w), 0);
	ck_assert(wal_busy(f.w));
	t = last - 20;
	ck_assert_int_eq(wal_truncate(f.w, t), 0);
	append_durable(&f, t, t + 2, 1);
	ck_assert_uint_eq(f.err_calls, 1);
	ck_assert(!f.err.fatal);
	ck_assert_int_eq(f.err.err, -ENOSPC);
	ck_assert_uint_eq(f.err.dropped_from, t);
	ck_assert_uint_eq(wal_last_index(f.w), t - 1);
	append_durable(&f, t, t + 4, 2);
	ck_assert_uint_eq(f.durable, t + 4);
	check_range(&f, 1, t - 1, 0);
	check_range(&f, t, t + 4, 2);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, t + 4);
	check_range(&f, 1, t - 1, 0);
	check_range(&f, t, t + 4, 2);
	fx_fini(&f);
}
END_TEST
#endif

/* A real full file system: a 1 MiB tmpfs (root only; skipped otherwise,
 * the failpoint tests above cover the same paths). */
START_TEST(test_enospc_tmpfs)
{
	struct fx f;
	uint64_t i, last;
	int compacted;

	fx_init(&f, 256 << 10);
	if (mount("raftd-wal-test", f.dir, "tmpfs", 0, "size=1m") < 0) {
		fprintf(stderr, "test_enospc_tmpfs: skipped, cannot mount tmpfs: %s\n",
			strerror(errno));
		fx_fini(&f);
		return;
	}
	ck_assert_int_eq(fx_open(&f), 0);
	for (i = 1; f.err_calls == 0 && i < 100000; i += 50)
		append_durable(&f, i, i + 49, 0);
	ck_assert_uint_eq(f.err_calls, 1);
	ck_assert(!f.err.fatal);
	ck_assert_int_eq(f.err.err, -ENOSPC);
	last = wal_last_index(f.w);
	ck_assert_uint_gt(last, 0);
	ck_assert_uint_eq(wal_durable_index(f.w), last);
	check_range(&f, 1, last, 0);
	/* The log on the full file system is readable as it is (a crash
	 * now): every acknowledged entry, nothing of the failed batch. */
	{
		struct wal_config ro = f.cfg;
		struct wal_recovery rec;
		struct wal_error e;
		struct wal *w;
		ro.readonly = true;
		ro.ring = NULL;
		ck_assert_int_eq(wal_open(&ro, &w, &rec, &e), 0);
		ck_assert_uint_eq(rec.first_index, 1);
		ck_assert_uint_eq(rec.last_index, last);
		wal_close(w);
	}
	/* Make room (as after a snapshot), and the log goes on. */
	compacted = wal_compact(f.w, last);
	ck_assert_int_gt(compacted, 0);
	fx_drain(&f);
	f.err_calls = 0;
	append_durable(&f, last + 1, last + 50, 0);
	ck_assert_uint_eq(f.err_calls, 0);
	ck_assert_uint_eq(f.durable, last + 50);
	fx_close(&f);
	ck_assert_int_eq(fx_open(&f), 0);
	ck_assert_uint_eq(f.rec.last_index, last + 50);
	check_range(&f, f.rec.first_index, last + 50, 0);
	fx_close(&f);
	ck_assert_int_eq(umount(f.dir), 0);
	fx_fini(&f);
}
END_TEST

/* --- invariants: assert() is on in every build (no NDEBUG) --------------- */

/* A segment whose log does not take up where the last one ends would leave
 * a gap no read-back could explain: the WAL stops at once (SIGABRT). */
START_TEST(test_assert_segment_gap)
{
	struct fx f;
	fx_init(&f, 64 << 10);
	ck_assert_int_eq(fx_open(&f), 0);
	append_durable(&f, 1, 10, 0);
	struct wal_seg *s = wal_seg_new();
	ck_assert_ptr_nonnull(s);
	s->seq = 1000;
	s->first = 20; /* 11..19 missing */
	s->last = 19;
	wal_segs_add(f.w, s);
	ck_abort_msg("a gap between segments was accepted");
}
END_TEST

/* Two records out of file order in a segment's index. */
START_TEST(test_assert_segment_offsets)
{
	struct wal_seg *s = wal_seg_new();
	ck_assert_ptr_nonnull(s);
	s->first = 1;
	s->last = 0;
	ck_assert_int_eq(wal_seg_push(s, WAL_BLOCK_SIZE + 64), 0);
	wal_seg_push(s, WAL_BLOCK_SIZE);
	ck_abort_msg("records out of order were indexed");
}
END_TEST

/* --- out of memory (base/alloc.h) --------------------------------------- */

/* Fail the 1st, 2nd, ... allocation of: open a log of several segments,
 * append across a rollover, flush, truncate, append, flush, close. Each
 * failure must come back as -ENOMEM (from the call, or as a WAL error),
 * without a crash or a leak (ASan, valgrind), and what was durable before
 * stays readable. Ends with the first run the failure never reached. */
START_TEST(test_oom_open_append)
{
	unsigned long nth;
	for (nth = 1;; nth++) {
		struct fx f;
		fx_init(&f, 64 << 10);
		ck_assert_int_eq(fx_open(&f), 0);
		fill_segments(&f, 400, 50);
		fx_close(&f);

		alloc_fail_nth(nth);
		int rv = fx_open(&f);
		uint8_t buf[512];
		bool truncated = false;
		for (uint64_t i = 401; rv == 0 && i <= 800; i++) {
			rv = wal_append(f.w, i, 10, buf, payload(i, 0, buf));
			if (rv == 0 && i % 100 == 0) {
				rv = wal_flush(f.w);
				if (rv == 0)
					rv = ring_drain(&f.ring, f.w);
			}
			if (rv == 0 && i == 650 && !truncated) {
				rv = wal_truncate(f.w, 601);
				truncated = true;
				i = 600;
			}
			if (rv == 0 && f.err_calls)
				rv = f.err.err;
		}
		bool fired = alloc_failed();
		alloc_fail_nth(0);
		if (f.err_calls && rv == 0)
			rv = f.err.err;
		if (!fired) {
			ck_assert_int_eq(rv, 0);
			fx_close(&f);
			ck_assert_int_eq(fx_open(&f), 0);
			ck_assert_uint_eq(f.rec.last_index, 800);
			check_range(&f, 1, 400, 0);
			fx_fini(&f);
			break;
		}
		ck_assert_msg(rv == -ENOMEM, "allocation %lu failed: %d (%s)", nth, rv, strerror(-rv));
		if (f.w) {
			ring_drain(&f.ring, f.w);
			wal_close(f.w);
			f.w = NULL;
		}
		ck_assert_int_eq(fx_open(&f), 0);
		ck_assert_uint_ge(f.rec.last_index, 400);
		check_range(&f, 1, 400, 0);
		fx_fini(&f);
	}
	ck_assert_uint_gt(nth, 5);
}
END_TEST

/* --- rebase: a new log in place of the old one --------------------------- */

static void path_sfx(char *out, size_t len, const struct fx *f, const char *sfx)
{
	snprintf(out, len, "%s%s", f->dir, sfx);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* An old log in f->dir: entries 1..40 and term 5, vote "node1". */
static void rebase_setup(struct fx *f)
{
	fx_init(f, 64 * 1024);
	ck_assert_int_eq(fx_open(f), 0);
	append_durable(f, 1, 40, 0);
	ck_assert_int_eq(wal_meta_set(f->w, 5, "node1"), 0);
	fx_drain(f);
	fx_close(f);
}

/* What a rebase leaves: no entries, no segment, the term and vote kept. */
static void assert_rebased(struct fx *f)
{
	ck_assert_int_eq(fx_open(f), 0);
	ck_assert_uint_eq(f->rec.segments, 0);
	ck_assert_uint_eq(f->rec.entries, 0);
	ck_assert_uint_eq(f->rec.term, 5);
	ck_assert_str_eq(f->rec.voted_for, "node1");
	fx_close(f);
}

static void assert_old_log(struct fx *f)
{
	ck_assert_int_eq(fx_open(f), 0);
	ck_assert_uint_eq(f->rec.last_index, 40);
	ck_assert_uint_eq(f->rec.term, 5);
	check_entry(f, 40, 0);
	fx_close(f);
}

static void rebase_fini(struct fx *f)
{
	char p[300];
	path_sfx(p, sizeof(p), f, ".new");
	rm_rf(p);
	path_sfx(p, sizeof(p), f, ".old");
	rm_rf(p);
	fx_fini(f);
}

/* dir.new as the rebase builds it before its first rename: the meta copied. */
static void build_new(struct fx *f)
{
	char from[300], to[320], fresh[300];
	uint8_t buf[16384];
	ssize_t r;
	int in, out;

	path_sfx(fresh, sizeof(fresh), f, ".new");
	ck_assert_int_eq(mkdir(fresh, 0700), 0);
	snprintf(from, sizeof(from), "%s/meta", f->dir);
	snprintf(to, sizeof(to), "%s/meta", fresh);
	in = open(from, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(out, 0);
	while ((r = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)r), r);
	ck_assert_int_eq(r, 0);
	close(in);
	close(out);
}

START_TEST(test_rebase_swap)
{
	struct fx f;
	char fresh[300], old[300];

	rebase_setup(&f);
	path_sfx(fresh, sizeof(fresh), &f, ".new");
	path_sfx(old, sizeof(old), &f, ".old");
	ck_assert_int_eq(wal_rebase_repair(f.dir), 0); /* nothing to repair */
	ck_assert_int_eq(wal_rebase(f.dir), 0);
	ck_assert(!exists(fresh));
	ck_assert(!exists(old));
	assert_rebased(&f);
	/* the new log takes entries after the snapshot, and a second rebase
	 * works on it */
	ck_assert_int_eq(fx_open(&f), 0);
	fx_close(&f);
	ck_assert_int_eq(wal_rebase(f.dir), 0);
	assert_rebased(&f);
	rebase_fini(&f);
}
END_TEST

/* Each crash point of the swap, then start-up's repair and a new rebase. */
START_TEST(test_rebase_repair_crash_points)
{
	struct fx f;
	char fresh[300], old[300];

	/* crashed before the first rename: dir intact, dir.new garbage */
	rebase_setup(&f);
	path_sfx(fresh, sizeof(fresh), &f, ".new");
	path_sfx(old, sizeof(old), &f, ".old");
	build_new(&f);
	ck_assert_int_eq(wal_rebase_repair(f.dir), 0);
	ck_assert(exists(fresh));
	assert_old_log(&f);
	ck_assert_int_eq(wal_rebase(f.dir), 0); /* removes the stale dir.new first */
	ck_assert(!exists(fresh));
	assert_rebased(&f);
	rebase_fini(&f);

	/* crashed between the renames: dir absent, dir.new and dir.old there */
	rebase_setup(&f);
	path_sfx(fresh, sizeof(fresh), &f, ".new");
	path_sfx(old, sizeof(old), &f, ".old");
	build_new(&f);
	ck_assert_int_eq(rename(f.dir, old), 0);
	ck_assert_int_eq(wal_rebase_repair(f.dir), 1);
	ck_assert(exists(f.dir));
	ck_assert(!exists(fresh));
	ck_assert(exists(old));
	assert_rebased(&f);
	ck_assert_int_eq(wal_rebase_repair(f.dir), 0); /* done once */
	ck_assert_int_eq(wal_rebase(f.dir), 0); /* removes the stale dir.old first */
	ck_assert(!exists(old));
	assert_rebased(&f);
	rebase_fini(&f);

	/* crashed after the second rename: the new log, dir.old garbage */
	rebase_setup(&f);
	path_sfx(fresh, sizeof(fresh), &f, ".new");
	path_sfx(old, sizeof(old), &f, ".old");
	build_new(&f);
	ck_assert_int_eq(rename(f.dir, old), 0);
	ck_assert_int_eq(rename(fresh, f.dir), 0);
	ck_assert_int_eq(wal_rebase_repair(f.dir), 0);
	ck_assert(exists(old));
	assert_rebased(&f);
	ck_assert_int_eq(wal_rebase(f.dir), 0);
	ck_assert(!exists(old));
	assert_rebased(&f);
	rebase_fini(&f);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("wal");
	TCase *tc = tcase_create("wal");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_crc32c);
	tcase_add_test(tc, test_roundtrip_restart);
	tcase_add_test(tc, test_early_crc_large_entries);
	tcase_add_test(tc, test_recent_batches);
	tcase_add_test(tc, test_start_after_snapshot);
	tcase_add_test(tc, test_rebase_swap);
	tcase_add_test(tc, test_rebase_repair_crash_points);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_batches_block_aligned);
	tcase_add_test(tc, test_buffer_reuse);
	tcase_add_test(tc, test_huge_buffers);
	tcase_add_test(tc, test_io_trace);
	tcase_add_test(tc, test_zero_ahead);
	tcase_add_test(tc, test_truncate_then_append);
	tcase_add_test(tc, test_truncate_in_memory_and_in_flight);
	tcase_add_test(tc, test_rollover);
	tcase_add_test(tc, test_release);
	tcase_add_test(tc, test_io_modes);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_pinned_segment_outlives_compaction);
	tcase_add_test(tc, test_truncate_crash_before_unlink);
	tcase_add_test(tc, test_compact_after_truncate);
	tcase_add_test(tc, test_segment_size_change);
	tcase_add_test(tc, test_entry_too_large);
	tcase_add_test(tc, test_meta);
	tcase_add_test(tc, test_single_writer);
	tcase_add_test(tc, test_crash_last_segment_cut);
	tcase_add_test(tc, test_crash_tail_zeroed);
	tcase_add_test(tc, test_crash_readonly_does_not_repair);
	tcase_add_test(tc, test_crash_bit_flip_earlier_segment);
	tcase_add_test(tc, test_crash_bit_flip_last_segment_acknowledged);
	tcase_add_test(tc, test_crash_bit_flip_last_batch);
	tcase_add_test(tc, test_crash_middle_segment_deleted);
	tcase_add_test(tc, test_crash_sigkill);
	tcase_add_test(tc, test_spares_reused);
	tcase_add_test(tc, test_recycled_segment_restart);
	tcase_add_test(tc, test_drop_spares);
	tcase_add_test(tc, test_crash_recycled_segment_cut);
	tcase_add_test(tc, test_version1_segments);
#ifdef WAL_FAILPOINTS
	tcase_add_test(tc, test_fsync_error_is_fatal);
	tcase_add_test(tc, test_write_error_is_fatal);
	tcase_add_test(tc, test_meta_fsync_error_is_fatal);
	tcase_add_test(tc, test_rename_error_is_fatal);
	tcase_add_test(tc, test_short_write_and_eagain_resubmitted);
	tcase_add_test(tc, test_write_enospc_drops_batch_cleanly);
	tcase_add_test(tc, test_fallocate_enospc_on_rollover);
	tcase_add_test(tc, test_write_enospc_held);
	tcase_add_test(tc, test_fallocate_enospc_held_on_rollover);
	tcase_add_test(tc, test_write_enospc_after_truncate_in_flight);
	tcase_add_test(tc, test_meta_short_write_and_eagain_resubmitted);
	tcase_add_test(tc, test_compaction_errors_are_fatal);
	tcase_add_test(tc, test_create_errors_are_fatal);
	tcase_add_test(tc, test_create_from_spare_errors_are_fatal);
	tcase_add_test(tc, test_truncate_enospc_is_fatal);
	tcase_add_test(tc, test_create_enospc_after_truncate_in_flight);
#endif
	tcase_add_test(tc, test_enospc_tmpfs);
	suite_add_tcase(s, tc);
	tc = tcase_create("assert");
	tcase_add_test_raise_signal(tc, test_assert_segment_gap, SIGABRT);
	tcase_add_test_raise_signal(tc, test_assert_segment_offsets, SIGABRT);
	suite_add_tcase(s, tc);
	tc = tcase_create("oom");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_oom_open_append);
	suite_add_tcase(s, tc);
	return s;
}
