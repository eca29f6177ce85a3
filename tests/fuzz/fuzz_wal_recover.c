/* tests/fuzz/fuzz_wal_recover.c — libFuzzer target for WAL recovery
 * (wal_open() → wal/recover.c) on a directory made from the input, and for
 * what `raftctl wal dump` / `verify` then do with each record (decode its
 * payload as a goraft LogEntry).
 *
 * Every run writes a fresh directory on /dev/shm: a meta file, one or two
 * segments and maybe a leftover seg.tmp. Byte 0 says how:
 *   bit 0  open readonly (raftctl) instead of read-write (raftd, which
 *          cuts a torn tail and removes stale files)
 *   bit 1  repair: rewrite every record CRC (and an impossible batch block)
 *          the way recovery walks the records, so that the checks behind
 *          the CRC are reached; without it the bytes are taken as they are
 *   bit 2  a second, newer segment (a truncation left it)
 *   bit 3  a meta file from the input (slot CRCs repaired with bit 1)
 *   bit 4  segment headers from the input, not well-formed ones
 *   bit 5  a leftover seg.tmp
 *   bit 6  one more zero block at the end of each segment (preallocation)
 *   bit 7  headers say "recycled" (old records may follow the log)
 * Then the first indexes (bytes 1, 2; bit 7 of byte 1: format version 1,
 * whose records have no tag and whose headers have no flags), the meta slots (bit 3: 2 x 40
 * bytes), segment 1's length (2 bytes) and records, segment 2's records.
 *
 * Properties: no crash, leak, UB or out-of-bounds read; a refusal is
 * -EBADMSG naming a file, and leaves every file exactly as it was (wal.h:
 * "nothing is deleted or modified"); readonly never changes a file; an
 * accepted log has every index from first to last readable, with the term
 * its record holds, inside the mapped segment.
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_wal_recover.c \
 *     wal/wal.c wal/recover.c base/crc32c.c wal/failpoint.c proto/wire.c \
 *     -luring -o fuzz_wal_recover
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/wire.h"
#include "wal/wal_int.h"
#include "tests/fuzz/fuzz.h"


#define MAX_FILES 4
#define SEG_MAX (16 * WAL_BLOCK_SIZE)

struct file {
	char name[WAL_NAME_MAX];
	uint8_t *data;
	size_t len;
};

static char dir[64];
static struct io_uring ring;
static bool have_ring;

static void cleanup(void)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			char p[128];
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	}
	closedir(d);
}

static void put_file(const struct file *f)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, f->name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, f->data, f->len) == (ssize_t)f->len);
	close(fd);
}

/* Whether the file is still byte for byte what was written. */
static bool unchanged(const struct file *f)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, f->name);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint8_t *b = malloc(f->len + 1);
	CHECK(b);
	ssize_t n = read(fd, b, f->len + 1);
	close(fd);
	bool same = n == (ssize_t)f->len && !memcmp(b, f->data, f->len);
	free(b);
	return same;
}

/* As recovery walks them: fix each record's CRC and batch block. */
static void repair_records(uint8_t *seg, size_t size, uint32_t tag)
{
	uint64_t pos = WAL_BLOCK_SIZE;
	static const uint8_t zero[WAL_RECORD_HEADER];
	while (pos + WAL_RECORD_HEADER <= size && memcmp(seg + pos, zero, sizeof(zero))) {
		struct rec_hdr h;
		rec_get(seg + pos, &h);
		if (h.len > size - pos - WAL_RECORD_HEADER)
			return;
		if ((uint64_t)h.batch_blk * WAL_BLOCK_SIZE > pos)
			h.batch_blk = (uint32_t)(pos / WAL_BLOCK_SIZE);
		h.tag = tag;
		rec_put(seg + pos, &h);
		h.crc = rec_crc(seg + pos, h.len);
		memcpy(seg + pos, &h.crc, 4);
		pos += rec_size(h.len);
	}
}

static const uint8_t *take(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *b = *p;
	if (*len > (size_t)(end - *p))
		*len = (size_t)(end - *p);
	*p += *len;
	return b;
}

/* version 1 or 2; flags & 128: a recycled segment (version 2). The tag is
 * fixed: the input's records can carry it or not. */
static void make_segment(struct file *f, uint32_t version, uint64_t seq, uint64_t first, const uint8_t *hdr,
			 size_t hdr_len, const uint8_t *body, size_t body_len, unsigned flags)
{
	const uint32_t tag = 0x5eed0000u + (uint32_t)seq;
	size_t size = (size_t)round_up(WAL_BLOCK_SIZE + body_len, WAL_BLOCK_SIZE);
	if (size < 2 * WAL_BLOCK_SIZE)
		size = 2 * WAL_BLOCK_SIZE;
	if (flags & 64)
		size += WAL_BLOCK_SIZE;
	f->data = calloc(1, size);
	CHECK(f->data);
	f->len = size;
	wal_seg_name(f->name, seq, first);
	if (flags & 16)
		memcpy(f->data, hdr, hdr_len);
	else
		wal_seg_header(f->data, version, seq, first, size,
			       version > 1 && (flags & 128) ? SEG_FLAG_RECYCLED : 0, tag);
	memcpy(f->data + WAL_BLOCK_SIZE, body, body_len);
	if (flags & 2)
		repair_records(f->data, size, version > 1 ? tag : 0);
}

static void make_meta(struct file *f, const uint8_t *slots, size_t len, unsigned flags)
{
	f->len = 2 * WAL_BLOCK_SIZE;
	f->data = calloc(1, f->len);
	CHECK(f->data);
	snprintf(f->name, sizeof(f->name), "%s", META_FILE);
	for (int s = 0; s < 2; s++) {
		uint8_t *p = f->data + s * WAL_BLOCK_SIZE;
		size_t n = len > 40u * s ? len - 40u * s : 0;
		memcpy(p, slots + 40 * s, n < 40 ? n : 40);
		if (flags & 2) {
			uint32_t vlen;
			memcpy(&vlen, p + 4, 4);
			vlen %= 9;
			memcpy(p + 4, &vlen, 4);
			memcpy(p + 24, META_MAGIC, 8);
			uint32_t crc = wal_crc32c(0, p + 4, 28 + vlen);
			memcpy(p, &crc, 4);
		}
	}
}

static void check_log(struct wal *w, const struct wal_recovery *rec)
{
	CHECK(rec->first_index <= rec->last_index + 1);
	CHECK(rec->first_index >= 1);
	CHECK(rec->entries == rec->last_index + 1 - rec->first_index);
	CHECK(wal_first_index(w) == rec->first_index || rec->entries == 0);
	CHECK(wal_last_index(w) == rec->last_index);
	CHECK(strlen(rec->voted_for) <= WAL_MAX_VOTE);
	for (uint64_t i = rec->first_index; i <= rec->last_index; i++) {
		struct wal_entry e;
		CHECK(wal_entry_get(w, i, &e) == 0);
		CHECK(e.index == i);
		/* raftctl wal dump / verify: the payload as a LogEntry */
		struct wire_log_entry le;
		struct wire_error werr;
		char msg[256];
		if (wire_decode_log_entry(e.data, e.len, &le, &werr) < 0)
			wire_error_format(&werr, msg, sizeof(msg));
	}
	struct wal_entry e;
	CHECK(wal_entry_get(w, rec->last_index + 1, &e) < 0);
	if (rec->first_index > 1)
		CHECK(wal_entry_get(w, rec->first_index - 1, &e) < 0);
}

static void remove_dir(void)
{
	cleanup();
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		/* tmpfs: a run writes and reads a few files */
		struct stat st;
		snprintf(dir, sizeof(dir), "%s/fuzz_wal.%d", stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp",
			 (int)getpid());
		CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
		atexit(remove_dir);
		have_ring = io_uring_queue_init(8, &ring, 0) == 0;
	}
	if (size < 3)
		return 0;
	const uint8_t *p = data + 3, *end = data + size;
	unsigned flags = data[0];
	bool readonly = (flags & 1) || !have_ring;
	uint64_t first1 = 1 + data[1] % 16, first2 = first1 + data[2] % 16;
	uint32_t version = data[1] & 128 ? 1 : SEG_VERSION;
	struct file files[MAX_FILES];
	size_t nf = 0;

	cleanup();
	if (flags & 8) {
		size_t n = 80;
		const uint8_t *slots = take(&p, end, &n);
		make_meta(&files[nf++], slots, n, flags);
	}
	size_t n1 = 2;
	const uint8_t *l = take(&p, end, &n1);
	n1 = n1 == 2 ? (size_t)(l[0] | l[1] << 8) : 0;
	size_t h1 = (flags & 16) ? SEG_HDR_LEN : 0, h2 = h1;
	const uint8_t *hdr1 = take(&p, end, &h1);
	const uint8_t *b1 = take(&p, end, &n1);
	make_segment(&files[nf++], version, 1, first1, hdr1, h1, b1, n1, flags);
	if (flags & 4) {
		const uint8_t *hdr2 = take(&p, end, &h2);
		size_t n2 = SEG_MAX;
		const uint8_t *b2 = take(&p, end, &n2);
		make_segment(&files[nf++], version, 2, first2, hdr2, h2, b2, n2, flags);
	}
	if (flags & 32) {
		struct file *t = &files[nf++];
		snprintf(t->name, sizeof(t->name), "%s", TMP_FILE);
		t->len = 1;
		t->data = calloc(1, 1);
		CHECK(t->data);
	}
	for (size_t i = 0; i < nf; i++)
		put_file(&files[i]);

	struct wal_config cfg = { .dir = dir, .readonly = readonly, .ring = readonly ? NULL : &ring };
	struct wal *w = NULL;
	struct wal_recovery rec;
	struct wal_error err;
	memset(&rec, 0, sizeof(rec));
	memset(&err, 0, sizeof(err));
	int rv = wal_open(&cfg, &w, &rec, &err);
#ifdef FUZZ_DEBUG
	char why[512] = "";
	if (rv < 0)
		wal_error_format(&err, why, sizeof(why));
	fprintf(stderr, "wal_open %d %s: entries %llu..%llu term %llu vote '%s' torn %d stale %u\n", rv, why,
		(unsigned long long)rec.first_index, (unsigned long long)rec.last_index,
		(unsigned long long)rec.term, rec.voted_for, rec.torn, rec.stale_files);
#endif
	if (rv < 0) {
		char msg[512];
		CHECK(rv == -EBADMSG || rv == -ENOMEM);
		CHECK(wal_error_format(&err, msg, sizeof(msg)) >= 0);
		CHECK(err.file[0]);
		for (size_t i = 0; i < nf; i++)
			CHECK(unchanged(&files[i]));
	} else {
		CHECK(w);
		check_log(w, &rec);
		if (readonly) {
			for (size_t i = 0; i < nf; i++)
				CHECK(unchanged(&files[i]));
		}
		wal_close(w);
	}
	for (size_t i = 0; i < nf; i++)
		free(files[i].data);
	return 0; /* the files go at the start of the next run, or at exit */
}
