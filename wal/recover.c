/* wal/recover.c — open-time recovery: read every segment, verify every
 * record, decide where the log ends. The rules are at the top of wal.c.
 *
 * Plain blocking system calls: this runs before the event loop, and reads
 * through mmap so that CRC32C (hardware) is the only per-byte cost.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal/wal_int.h"

struct seg_ent {
	uint64_t seq, first, limit;
	char name[WAL_NAME_MAX];
};

static int fsync_dir_of(const char *path)
{
	char *copy = base_strdup(path);
	int fd, rv = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rv = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rv;
}

static int open_dir(struct wal *w, struct wal_error *err)
{
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0 && errno == ENOENT && !w->cfg.readonly) {
		/* Creating the directory is durable only once its parent is synced. */
		if (mkdir(w->dir, 0750) < 0 && errno != EEXIST)
			return wal_set_error(err, -errno, false, "mkdir", w->dir, 0, NULL);
		int rv = fsync_dir_of(w->dir);
		if (rv < 0)
			return wal_set_error(err, rv, false, "fsync", w->dir, 0, "parent directory");
		w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (w->dirfd < 0)
		return wal_set_error(err, -errno, false, "open", w->dir, 0, "directory");
	return 0;
}

/* Decode one meta slot; 0 if valid. */
static int meta_slot(const uint8_t *p, uint64_t *seq, uint64_t *term, char *vote)
{
	uint32_t crc, vlen;

	memcpy(&crc, p, 4);
	memcpy(&vlen, p + 4, 4);
	if (memcmp(p + 24, META_MAGIC, 8) || vlen > WAL_MAX_VOTE ||
	    crc != wal_crc32c(0, p + 4, 28 + vlen))
		return -EBADMSG;
	memcpy(seq, p + 8, 8);
	memcpy(term, p + 16, 8);
	memcpy(vote, p + 32, vlen);
	vote[vlen] = 0;
	return 0;
}

static int meta_open(struct wal *w, struct wal_error *err)
{
	uint8_t buf[2 * WAL_BLOCK_SIZE];
	ssize_t n;
	bool created = false;

	if (w->cfg.readonly) {
		w->metafd = openat(w->dirfd, META_FILE, O_RDONLY | O_CLOEXEC);
		if (w->metafd < 0 && errno == ENOENT)
			return 0;
	} else {
		w->metafd = openat(w->dirfd, META_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (w->metafd >= 0)
			created = true;
		else if (errno == EEXIST)
			w->metafd = openat(w->dirfd, META_FILE, O_RDWR | O_CLOEXEC);
	}
	if (w->metafd < 0)
		return wal_set_error(err, -errno, false, "open", META_FILE, 0, NULL);
	/* One writer per directory: two daemons would interleave segments. */
	if (!w->cfg.readonly && flock(w->metafd, LOCK_EX | LOCK_NB) < 0)
		return wal_set_error(err, errno == EWOULDBLOCK ? -EBUSY : -errno, false, "lock",
				     META_FILE, 0, "directory in use by another process");
	if (!w->cfg.readonly) {
		/* Preallocated, so a meta write can never hit ENOSPC (again at
		 * every open: a crash may have come before it). */
		int rv = posix_fallocate(w->metafd, 0, 2 * WAL_BLOCK_SIZE);
		if (rv)
			return wal_set_error(err, -rv, false, "fallocate", META_FILE, 0, NULL);
		if (created && (fsync(w->metafd) < 0 || fsync(w->dirfd) < 0))
			return wal_set_error(err, -errno, false, "fsync", META_FILE, 0, NULL);
	}
	memset(buf, 0, sizeof(buf));
	n = pread(w->metafd, buf, sizeof(buf), 0);
	if (n < 0)
		return wal_set_error(err, -errno, false, "read", META_FILE, 0, NULL);
	for (int i = 0; i < 2; i++) {
		uint64_t seq, term;
		char vote[WAL_MAX_VOTE + 1];
		if (meta_slot(buf + i * WAL_BLOCK_SIZE, &seq, &term, vote) == 0 &&
		    (seq & 1) == (uint64_t)i && seq > w->meta_seq) {
			w->meta_seq = seq;
			w->meta_term = term;
			memcpy(w->meta_vote, vote, sizeof(vote));
		}
	}
	return 0;
}

/* A segment's name: 0; a spare's: 1; anything else: -EINVAL. */
static int parse_name(const char *name, uint64_t *seq, uint64_t *first)
{
	char seg[WAL_NAME_MAX], spare[WAL_NAME_MAX];

	if (strlen(name) < 37 || sscanf(name, "%16" SCNx64 "-%16" SCNx64, seq, first) != 2)
		return -EINVAL;
	wal_seg_name(seg, *seq, *first);
	if (!strcmp(seg, name))
		return 0;
	wal_spare_name(spare, seg);
	return strcmp(spare, name) ? -EINVAL : 1;
}

static int cmp_seq(const void *a, const void *b)
{
	const struct seg_ent *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keep a spare for reuse if it has the segment size and there is room;
 * else it is removed (counted as stale) once the log is verified. Readonly:
 * spares are none of our business. */
static void spare_found(struct wal *w, const char *name, struct wal_recovery *rec)
{
	struct stat st;

	/* Not a file we made: none of our business either. */
	if (w->cfg.readonly || fstatat(w->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return;
	if (w->nspares < w->max_spares && (uint64_t)st.st_size == w->seg_size) {
		snprintf(w->spares[w->nspares++], WAL_NAME_MAX, "%.*s", (int)WAL_NAME_MAX - 1, name);
		return;
	}
	rec->stale_files++;
}

static bool is_kept_spare(const struct wal *w, const char *name)
{
	for (unsigned i = 0; i < w->nspares; i++)
		if (!strcmp(w->spares[i], name))
			return true;
	return false;
}

/* Remove the spares spare_found() did not keep. */
static int spares_prune(struct wal *w, struct wal_error *err)
{
	int fd = fcntl(w->dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int rv = 0;

	if (!d) {
		rv = wal_set_error(err, -errno, false, "opendir", w->dir, 0, NULL);
		if (fd >= 0)
			close(fd);
		return rv;
	}
	rewinddir(d); /* the dup shares list_segments()'s position: the end */
	while ((de = readdir(d))) {
		uint64_t seq, first;
		struct stat st;
		if (parse_name(de->d_name, &seq, &first) != 1 || is_kept_spare(w, de->d_name) ||
		    fstatat(w->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(w->dirfd, de->d_name, 0) < 0) {
			rv = wal_set_error(err, -errno, false, "unlink", de->d_name, 0, NULL);
			break;
		}
	}
	closedir(d);
	return rv;
}

/* All segment names, sorted by sequence; a leftover temp file is counted. */
static int list_segments(struct wal *w, struct seg_ent **ret, size_t *ret_n,
			 struct wal_recovery *rec, struct wal_error *err)
{
	int fd = fcntl(w->dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct seg_ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int rv = 0;

	if (!d) {
		rv = wal_set_error(err, -errno, false, "opendir", w->dir, 0, NULL);
		if (fd >= 0)
			close(fd);
		return rv;
	}
	while ((de = readdir(d))) {
		uint64_t seq, first;
		int kind;
		if (!strcmp(de->d_name, TMP_FILE)) {
			rec->stale_files++; /* removed after verification */
			continue;
		}
		kind = parse_name(de->d_name, &seq, &first);
		if (kind < 0)
			continue;
		if (seq >= w->next_seq)
			w->next_seq = seq + 1;
		if (kind == 1) {
			spare_found(w, de->d_name, rec);
			continue;
		}
		if (n == cap) {
			struct seg_ent *nv = base_realloc(v, (cap = cap ? 2 * cap : 32) * sizeof(*v));
			if (!nv) {
				rv = wal_set_error(err, -ENOMEM, false, "open", NULL, 0, NULL);
				break;
			}
			v = nv;
		}
		v[n].seq = seq;
		v[n].first = first;
		memcpy(v[n].name, de->d_name, 38); /* parse_name: 37 characters */
		n++;
	}
	closedir(d);
	if (rv < 0) {
		free(v);
		return rv;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_seq);
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool zero_header(const uint8_t *p)
{
	static const uint8_t zero[WAL_RECORD_HEADER];
	return !memcmp(p, zero, sizeof(zero));
}

/* A well-formed record of this segment at off (tag and CRC included); index
 * is not checked. */
static bool record_ok(const uint8_t *map, uint64_t size, uint64_t off, uint32_t tag,
		      struct rec_hdr *h)
{
	if (off + WAL_RECORD_HEADER > size)
		return false;
	rec_get(map + off, h);
	if (h->tag != tag || (uint64_t)h->batch_blk * WAL_BLOCK_SIZE > off ||
	    h->len > size - off - WAL_RECORD_HEADER)
		return false;
	return rec_crc(map + off, h->len) == h->crc;
}

/* Does a batch start anywhere after x? Batches start block-aligned with a
 * record that names its own block. Holes (unwritten preallocation) are
 * skipped with SEEK_DATA so an empty 64 MiB tail costs nothing. */
static bool later_batch(int fd, const uint8_t *map, uint64_t size, uint32_t tag, uint64_t x)
{
	uint64_t y = round_up(x + 1, WAL_BLOCK_SIZE);

	while (y < size) {
		off_t d = lseek(fd, (off_t)y, SEEK_DATA), h;
		if (d < 0)
			return false; /* ENXIO: no data after y */
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			h = (off_t)size;
		for (y = round_up((uint64_t)d, WAL_BLOCK_SIZE); y < (uint64_t)h; y += WAL_BLOCK_SIZE) {
			struct rec_hdr hd;
			if (!zero_header(map + y) && record_ok(map, size, y, tag, &hd) &&
			    (uint64_t)hd.batch_blk * WAL_BLOCK_SIZE == y)
				return true;
		}
	}
	return false;
}

/* Does a record of batch `blk` verify after x? A write that tore never
 * got past the damage; one that did was written completely, so the damage
 * at x is corruption of an acknowledged batch (Protocol-Aware Recovery,
 * FAST'18: a crash only hurts the write in flight). The damaged record's
 * length cannot be trusted, so every 8-byte offset is tried; holes are
 * skipped as in later_batch(). */
static bool batch_goes_on(int fd, const uint8_t *map, uint64_t size, uint32_t tag, uint32_t blk,
			  uint64_t x, uint64_t *found)
{
	uint64_t y = x + 8;

	while (y + WAL_RECORD_HEADER <= size) {
		off_t d = lseek(fd, (off_t)y, SEEK_DATA), h;
		if (d < 0)
			return false;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			h = (off_t)size;
		for (y = round_up((uint64_t)d, 8); y + WAL_RECORD_HEADER <= (uint64_t)h; y += 8) {
			struct rec_hdr hd;
			uint32_t rtag, rblk;
			memcpy(&rblk, map + y + 24, 4);
			memcpy(&rtag, map + y + 28, 4);
			if (rtag != tag || rblk != blk || zero_header(map + y) ||
			    !record_ok(map, size, y, tag, &hd))
				continue;
			*found = y;
			return true;
		}
		y = (uint64_t)h; /* the tail of this data, if shorter than a header */
	}
	return false;
}

/* Bytes of the torn batch at x in a recycled segment: as far as record
 * headers with this tag and the batch block of x's chain on, CRCs unchecked (the
 * bytes after it are the file's older records). */
static uint64_t torn_extent(const uint8_t *map, uint64_t size, uint32_t tag, uint64_t x)
{
	uint64_t y = x;
	uint32_t batch_blk;
	struct rec_hdr h;

	rec_get(map + x, &h);
	batch_blk = h.batch_blk;
	while (y + WAL_RECORD_HEADER <= size) {
		rec_get(map + y, &h);
		if (h.tag != tag || h.batch_blk != batch_blk || h.len > size - y - WAL_RECORD_HEADER)
			break;
		y += rec_size(h.len);
	}
	return (y > size ? size : y) - x;
}

/* End of the last non-zero byte in [x, size), or x. */
static uint64_t dirty_end(int fd, const uint8_t *map, uint64_t size, uint64_t x)
{
	uint64_t end = x, y = x;

	while (y < size) {
		off_t d = lseek(fd, (off_t)y, SEEK_DATA), h;
		if (d < 0)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			h = (off_t)size;
		/* Word at a time: a preallocated tail may be 64 MiB of zeros on
		 * file systems that report it as data (tmpfs). */
		uint64_t i = (uint64_t)d, stop = (uint64_t)h;
		for (; i < stop && i % 8; i++)
			if (map[i])
				end = i + 1;
		for (; i + 8 <= stop; i += 8) {
			uint64_t v;
			memcpy(&v, map + i, 8);
			if (v)
				for (unsigned k = 0; k < 8; k++)
					if (map[i + k])
						end = i + k + 1;
		}
		for (; i < stop; i++)
			if (map[i])
				end = i + 1;
		y = stop;
	}
	return end;
}

/* Start reading a segment into the page cache, so that the disk works
 * ahead of the CRC scan (which is 20x faster than the disk) instead of
 * waiting for each page fault's readahead window. Only the written part:
 * the preallocated tail reads as zeros without I/O, and caching it would
 * make SEEK_DATA report it as data. Best effort. */
static void seg_prefetch(struct wal *w, const struct seg_ent *e)
{
	int fd = openat(w->dirfd, e->name, O_RDONLY | O_CLOEXEC);
	off_t end;

	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_HOLE);
	if (end > 0)
		posix_fadvise(fd, 0, end, POSIX_FADV_WILLNEED);
	close(fd);
}

/* Load one live segment: verify its header and records up to `limit` (the
 * first index of its successor; UINT64_MAX for the last one). */
static int seg_load(struct wal *w, const struct seg_ent *e, bool last, struct wal_recovery *rec,
		    struct wal_error *err)
{
	int oflags = (w->cfg.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct wal_seg *s = wal_seg_new();
	uint8_t expect_hdr[WAL_BLOCK_SIZE];
	uint64_t pos = WAL_BLOCK_SIZE, size, dirty;
	uint32_t version, flags;
	uint64_t seg_size;
	struct rec_hdr h = { 0 };
	struct stat st;
	bool bad = false, recycled;
	uint32_t blk = 0; /* batch block of the last good record */
	uint64_t found;
	int rv;

	if (!s)
		return wal_set_error(err, -ENOMEM, false, "open", e->name, 0, NULL);
	s->fd = openat(w->dirfd, e->name, oflags | (w->direct ? O_DIRECT : 0));
	if (s->fd < 0 && errno == EINVAL && w->direct) {
		w->direct = false; /* no O_DIRECT here: buffered */
		s->fd = openat(w->dirfd, e->name, oflags);
	}
	snprintf(s->name, sizeof(s->name), "%s", e->name);
	s->seq = e->seq;
	s->first = e->first;
	s->last = e->first - 1;
	if (s->fd < 0 || fstat(s->fd, &st) < 0) {
		rv = wal_set_error(err, -errno, false, "open", e->name, 0, NULL);
		goto err;
	}
	size = (uint64_t)st.st_size;
	if (size < WAL_BLOCK_SIZE || size > UINT32_MAX) {
		rv = wal_set_error(err, -EBADMSG, false, "recover", e->name, 0,
				   "bad segment size %" PRIu64, size);
		goto err;
	}
	s->map_len = size;
	s->map = mmap(NULL, size, PROT_READ, MAP_SHARED, s->fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		rv = wal_set_error(err, -errno, false, "mmap", e->name, 0, NULL);
		goto err;
	}
	madvise(s->map, size, MADV_SEQUENTIAL);
	/* The header must be exactly what the creator wrote (the size field
	 * aside: the segment size may have been reconfigured since). */
	memcpy(&version, s->map + 8, 4);
	memcpy(&flags, s->map + 40, 4);
	if (version == 1 ? flags != 0 : version != SEG_VERSION || flags & ~SEG_FLAG_RECYCLED)
		version = flags = 0; /* fails below */
	recycled = flags & SEG_FLAG_RECYCLED;
	s->tag = 0;
	if (version > 1)
		memcpy(&s->tag, s->map + 48, 4);
	memcpy(&seg_size, s->map + 32, 8);
	wal_seg_header(expect_hdr, version, e->seq, e->first, seg_size, flags, s->tag);
	if (!e->first || !version || (version > 1 && !s->tag) ||
	    memcmp(expect_hdr, s->map, version > 1 ? SEG_HDR_LEN : 48)) {
		rv = wal_set_error(err, -EBADMSG, false, "recover", e->name, 0,
				   "bad segment header");
		goto err;
	}
	while (s->last + 1 < e->limit) {
		if (pos + WAL_RECORD_HEADER > size || zero_header(s->map + pos))
			break;
		if (!record_ok(s->map, size, pos, s->tag, &h) ||
		    (h.index && h.index != s->last + 1)) {
			bad = true;
			break;
		}
		blk = h.batch_blk;
		if (h.index) {
			rv = wal_seg_push(s, (uint32_t)pos);
			if (rv < 0) {
				rv = wal_set_error(err, rv, false, "open", e->name, pos, NULL);
				goto err;
			}
		}
		pos += rec_size(h.len);
	}
	rec->bytes += pos - WAL_BLOCK_SIZE;
	if (!last && s->last + 1 != e->limit) {
		/* An older segment must reach its successor's first index. */
		if (bad)
			rv = wal_set_error(err, -EBADMSG, false, "recover", e->name, pos,
					   "bad record (after index %" PRIu64 ")", s->last);
		else
			rv = wal_set_error(err, -EBADMSG, false, "recover", e->name, pos,
					   "gap: entries %" PRIu64 "..%" PRIu64
					   " missing before the next segment",
					   s->last + 1, e->limit - 1);
		goto err;
	}
	/* A batch ends on a block boundary; a log ending elsewhere lost the
	 * rest of its batch (unless a previous recovery cut it right there).
	 * A recycled segment's old records follow its log anyway (even when
	 * the first block after the log reads as zeros), perhaps after some
	 * of a torn batch: only this segment's tag can tell. */
	dirty = last && !recycled ? dirty_end(s->fd, s->map, size, pos) : pos;
	if (last && (recycled ? pos < size : bad || (pos % WAL_BLOCK_SIZE && pos < size) || dirty > pos)) {
		/* Something follows the end of the log. A torn last batch is
		 * expected after a crash; a later batch means the bad record had
		 * been acknowledged. */
		if (later_batch(s->fd, s->map, size, s->tag, pos)) {
			rv = wal_set_error(err, -EBADMSG, false, "recover", e->name, pos,
					   "bad record (after index %" PRIu64
					   ") followed by later batches",
					   s->last);
			goto err;
		}
		/* The batch the log ends in: one that starts at pos, or the
		 * last good record's. */
		if (pos % WAL_BLOCK_SIZE == 0)
			blk = (uint32_t)(pos / WAL_BLOCK_SIZE);
		if (batch_goes_on(s->fd, s->map, size, s->tag, blk, pos, &found)) {
			rv = wal_set_error(err, -EBADMSG, false, "recover", e->name, pos,
					   "bad record (after index %" PRIu64
					   ") in a batch written completely (its record at offset %" PRIu64
					   " verifies): corruption, not a torn write",
					   s->last, found);
			goto err;
		}
		/* Never appended to again: the next append starts a new segment,
		 * so no record of a torn batch with this tag can follow new ones. */
		s->sealed = true;
		if (!recycled || (bad && h.tag == s->tag)) {
			rec->torn = true;
			snprintf(rec->torn_file, sizeof(rec->torn_file), "%s", e->name);
			rec->torn_offset = pos;
			rec->torn_bytes = recycled ? torn_extent(s->map, size, s->tag, pos) : dirty - pos;
			s->cut = true;
			/* Cut it off for good; only bytes of the unacknowledged batch
			 * are rewritten. The mapping is never read beyond pos. */
			if (!w->cfg.readonly &&
			    (ftruncate(s->fd, (off_t)pos) < 0 || fdatasync(s->fd) < 0)) {
				rv = wal_set_error(err, -errno, false, "truncate", e->name, pos, NULL);
				goto err;
			}
		}
	}
	/* dirty_end() and later_batch() read the tail where the file system
	 * calls it data (a recycled file's older records, pages cached by an
	 * earlier run, tmpfs): up to a segment that would stay in our RSS.
	 * Nothing reads it before it is written; let it go. */
	if (last && size > round_up(pos, WAL_BLOCK_SIZE))
		(void)madvise(s->map + round_up(pos, WAL_BLOCK_SIZE), size - round_up(pos, WAL_BLOCK_SIZE),
			      MADV_DONTNEED);
	s->wpos = pos;
	if (pos >= size)
		s->sealed = true;
	rv = wal_segs_add(w, s);
	if (rv < 0) {
		rv = wal_set_error(err, rv, false, "open", e->name, 0, NULL);
		goto err;
	}
	return 0;
err:
	wal_seg_unref(s);
	return rv;
}

int wal_recover(struct wal *w, struct wal_recovery *rec, struct wal_error *err)
{
	struct seg_ent *v = NULL;
	size_t n = 0, live = 0;
	uint64_t limit = UINT64_MAX;
	int rv;

	rv = open_dir(w, err);
	if (rv < 0)
		goto out;
	rv = meta_open(w, err);
	if (rv < 0)
		goto out;
	rec->term = w->meta_term;
	memcpy(rec->voted_for, w->meta_vote, sizeof(rec->voted_for));
	rv = list_segments(w, &v, &n, rec, err);
	if (rv < 0)
		goto out;
	/* A segment's entries end where any newer segment starts. */
	for (size_t i = n; i-- > 0;) {
		v[i].limit = limit;
		if (v[i].first < limit)
			limit = v[i].first;
	}
	/* Superseded segments (a truncation that crashed before removing
	 * them) are removed only once every live one has been verified, so
	 * that on corruption nothing is deleted. Live ones are kept in front,
	 * dead ones collected at the back of v[]. */
	for (size_t i = 0; i < n; i++) {
		if (v[i].first < v[i].limit) {
			struct seg_ent t = v[i];
			v[i] = v[live];
			v[live++] = t;
		} else {
			rec->stale_files++;
		}
	}
	for (size_t i = 0; i < live; i++) {
		/* Keep the next segment's reads queued while this one is checked. */
		if (i == 0)
			seg_prefetch(w, &v[0]);
		if (i + 1 < live)
			seg_prefetch(w, &v[i + 1]);
		rv = seg_load(w, &v[i], i + 1 == live, rec, err);
		if (rv < 0)
			goto out;
	}
	if (!w->cfg.readonly && (live < n || rec->stale_files)) {
		if (unlinkat(w->dirfd, TMP_FILE, 0) < 0 && errno != ENOENT) {
			rv = wal_set_error(err, -errno, false, "unlink", TMP_FILE, 0, NULL);
			goto out;
		}
		for (size_t i = live; i < n; i++) {
			if (unlinkat(w->dirfd, v[i].name, 0) < 0) {
				rv = wal_set_error(err, -errno, false, "unlink", v[i].name, 0, NULL);
				goto out;
			}
		}
		rv = spares_prune(w, err);
		if (rv < 0)
			goto out;
		if (fsync(w->dirfd) < 0) {
			rv = wal_set_error(err, -errno, false, "fsync", w->dir, 0, "directory");
			goto out;
		}
	}
	if (w->nsegs) {
		struct wal_seg *lastseg = w->segs[w->nsegs - 1];
		w->first = w->segs[0]->first;
		w->last = lastseg->last;
		/* The previous process may have died between write and fsync:
		 * what we report as recovered must be durable. */
		if (!w->cfg.readonly && fdatasync(lastseg->fd) < 0) {
			rv = wal_set_error(err, -errno, false, "fsync", lastseg->name, 0, NULL);
			goto out;
		}
	}
	rec->segments = (unsigned)w->nsegs;
	rec->first_index = w->nsegs ? w->first : 1;
	rec->last_index = w->nsegs ? w->last : 0;
	rec->entries = rec->last_index + 1 - rec->first_index;
	rv = 0;
out:
	free(v);
	return rv;
}
