/* tests/wal/bench_wal.c — WAL benchmark: figures, not a pass/fail test.
 *
 *   bench_wal DIR [SECONDS_PER_RUN]      (make bench-wal [WAL_BENCH_DIR=DIR])
 *
 * Everything runs in one process, in one run, on the file system holding
 * DIR, which should be a disk (the output names file system, device and
 * kernel):
 *   1. raw limit: one 4 KiB write + fdatasync at a time (ops/s, latency),
 *      with pwrite(2) buffered and O_DIRECT, and through io_uring; raw
 *      sequential write + fdatasync bandwidth
 *   2. the WAL's sync modes with 1 and 64 proposers of 256-byte entries:
 *      linked IORING_OP_FSYNC (the default) against RWF_DSYNC writes, each
 *      with O_DIRECT (the default) and buffered
 *   3. entries/s and p50/p99 append-to-durable latency with 1, 16, 64, 256
 *      concurrent proposers of 256-byte entries (default mode)
 *   4. MB/s with 64 KiB entries against raw sequential write + fdatasync,
 *      into the raw file and into new preallocated files as the WAL's
 *   5. recovery (wal_open) time and GB/s of a 1 GiB log, from disk (against
 *      a plain read of the same files) and from the page cache
 * and ends with the goals, met or missed.
 * A proposer has one entry in flight: when it is durable, the proposer
 * appends its next one at once (the daemon's clients do the same). The
 * loop appends for every free proposer, calls wal_flush() once, and waits
 * for completions: what the daemon's event loop does.
 * WAL_BENCH_ONLY=raw,modes,proposers,bandwidth,recovery runs some sections;
 * WAL_BENCH_BATCH and WAL_BENCH_SEG set the WAL's batch buffer and segment
 * sizes in bytes (defaults otherwise), to try other shapes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "tests/wal/ring.h"
#include "wal/wal.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct lat {
	double *v;
	size_t n, cap;
};

static void lat_add(struct lat *l, double x)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	l->v[l->n++] = x;
}

static double lat_pct(struct lat *l, double p)
{
	if (!l->n)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	return l->v[(size_t)(p * (double)(l->n - 1))];
}

static char base[512];
static unsigned dev_major, dev_minor; /* the device under base */

/* Cache flushes the device has completed (/proc/diskstats field 18), to
 * show that every durable batch really reached the disk. 0 if unknown. */
static unsigned long long dev_flushes(void)
{
	FILE *f = fopen("/proc/diskstats", "r");
	unsigned long long v = 0, x[17];
	unsigned ma, mi;
	char line[512], name[64];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line,
			   "%u %u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu %llu %llu",
			   &ma, &mi, name, &x[0], &x[1], &x[2], &x[3], &x[4], &x[5], &x[6], &x[7],
			   &x[8], &x[9], &x[10], &x[11], &x[12], &x[13], &x[14], &x[15], &x[16]) == 20 &&
		    ma == dev_major && mi == dev_minor)
			v = x[15];
	if (f)
		fclose(f);
	return v;
}
static double run_secs = 2.0;

static void rm_dir(const char *dir)
{
	char cmd[1100];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

/* --- raw ------------------------------------------------------------------ */

/* The disk and the 2 CPUs are shared with other work, whose fsyncs and
 * CPU use come and go: each figure is the median of REPS runs. */
#define REPS 5
/* What a zeroed struct wal_config gives. */
#define DEFAULT_SYNC ((enum wal_sync)0)

static double median(double *v)
{
	qsort(v, REPS, sizeof(double), cmp_double);
	return v[REPS / 2];
}

struct raw_result {
	double ops, p50, p99, mbs;
};

/* How a raw run writes and syncs. */
enum raw_how {
	RAW_PWRITE,       /* pwrite(2) + fdatasync(2) */
	RAW_URING_LINKED, /* io_uring write + linked IORING_OP_FSYNC(DATASYNC) */
	RAW_URING_DSYNC,  /* io_uring write with RWF_DSYNC: the WAL's path */
	RAW_PWRITE_FRESH, /* pwrite + fdatasync into new 64 MiB files */
	RAW_PWRITE_OVER,  /* pwrite + fdatasync over written blocks */
};

static int uring_write_sync(struct io_uring *ring, int fd, const void *buf, size_t bs, off_t off,
			    bool dsync)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int n = dsync ? 1 : 2, rv = 0;

	io_uring_prep_write(sqe, fd, buf, (unsigned)bs, (uint64_t)off);
	if (dsync) {
		sqe->rw_flags = RWF_DSYNC;
	} else {
		sqe->flags |= IOSQE_IO_LINK; /* after prep, which zeroes flags */
		io_uring_prep_fsync(io_uring_get_sqe(ring), fd, IORING_FSYNC_DATASYNC);
	}
	if (io_uring_submit_and_wait(ring, (unsigned)n) < 0)
		return -EIO;
	for (int i = 0; i < n; i++) {
		if (io_uring_wait_cqe(ring, &cqe) < 0)
			return -EIO;
		if (cqe->res < 0 || (i == 0 && cqe->res != (int)bs))
			rv = -EIO;
		io_uring_cqe_seen(ring, cqe);
	}
	return rv;
}

/* One raw file for the whole benchmark, 2 GiB preallocated. Before each run
 * its extents are made unwritten again (FALLOC_FL_ZERO_RANGE), so that every
 * run writes into fresh preallocated space as the WAL does, without
 * deleting files in the middle of the benchmark (deletions trigger
 * discards that would slow whatever runs next). On ext4 an fdatasync after
 * writing into unwritten space commits the journal; after overwriting
 * written blocks it only flushes the device cache, about twice as fast. */
#define RAW_SIZE (2ull << 30)

/* A new file of `size` bytes, preallocated and synced, as the WAL creates
 * a segment (raw_run's fresh mode). */
static int fresh_file(const char *dir, unsigned n, uint64_t size, bool direct)
{
	char path[700];
	int fd;

	snprintf(path, sizeof(path), "%s/%u", dir, n);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
	if (fd < 0 || posix_fallocate(fd, 0, (off_t)size) || fsync(fd) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* A file whose blocks are all written, kept for the whole benchmark: what
 * a recycled segment is (RAW_PWRITE_OVER). */
#define OVER_SIZE (1ull << 30)

static int over_file(bool direct)
{
	static bool written;
	char path[600];
	size_t bs = 4 << 20;
	uint8_t *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/raw-over", base);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	if (written)
		return fd;
	if (posix_memalign((void **)&buf, 4096, bs)) {
		perror(path);
		exit(1);
	}
	memset(buf, 'o', bs);
	for (uint64_t off = 0; off < OVER_SIZE; off += bs) {
		if (pwrite(fd, buf, bs, (off_t)off) != (ssize_t)bs) {
			perror(path);
			exit(1);
		}
	}
	if (fsync(fd) < 0) {
		perror(path);
		exit(1);
	}
	written = true;
	free(buf);
	return fd;
}

static struct raw_result raw_run(size_t bs, bool direct, enum raw_how how)
{
	bool uring = how == RAW_URING_LINKED || how == RAW_URING_DSYNC;
	bool fresh = how == RAW_PWRITE_FRESH, over = how == RAW_PWRITE_OVER;
	struct io_uring ring;
	char path[600];
	struct raw_result r = { 0 };
	struct lat l = { 0 };
	uint8_t *buf;
	off_t off = 0;
	double t0, t;
	size_t ops = 0;
	uint64_t size = fresh ? 64ull << 20 : over ? OVER_SIZE : RAW_SIZE;
	unsigned files = 0;
	static unsigned fresh_runs;
	int fd;

	if (fresh) {
		/* Removed by pair_run() with the WAL's directories. */
		snprintf(path, sizeof(path), "%s/fresh.%u", base, fresh_runs++);
		if (mkdir(path, 0755) < 0) {
			perror(path);
			exit(1);
		}
		fd = fresh_file(path, files++, size, direct);
		off = 4096; /* the WAL's header block */
	} else if (over) {
		fd = over_file(direct);
	} else {
		snprintf(path, sizeof(path), "%s/raw", base);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
		if (fd < 0 || posix_fallocate(fd, 0, (off_t)RAW_SIZE)) {
			perror("raw");
			exit(1);
		}
		if (fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, (off_t)RAW_SIZE) < 0) {
			/* Not on this file system: a new file each run. */
			close(fd);
			unlink(path);
			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
			if (fd < 0 || posix_fallocate(fd, 0, (off_t)RAW_SIZE)) {
				perror("raw");
				exit(1);
			}
		}
	}
	if (fsync(fd) < 0 || posix_memalign((void **)&buf, 4096, bs))
		abort();
	memset(buf, 'r', bs);
	if (uring && io_uring_queue_init(8, &ring, 0) < 0)
		abort();
	t0 = now();
	do {
		double s = now();
		if (fresh && (uint64_t)off + bs > size) {
			/* The next file, created in the timed loop as the WAL's
			 * roll-over is. */
			close(fd);
			fd = fresh_file(path, files++, size, direct);
			off = 4096;
		}
		if (uring ? uring_write_sync(&ring, fd, buf, bs, off, how == RAW_URING_DSYNC) < 0
			  : pwrite(fd, buf, bs, off) != (ssize_t)bs || fdatasync(fd) < 0) {
			perror("raw write");
			exit(1);
		}
		t = now();
		lat_add(&l, t - s);
		ops++;
		off = fresh ? off + (off_t)bs : (off + (off_t)bs) % (off_t)size;
	} while (t - t0 < run_secs);
	r.ops = (double)ops / (t - t0);
	r.mbs = r.ops * (double)bs / 1e6;
	r.p50 = lat_pct(&l, 0.5);
	r.p99 = lat_pct(&l, 0.99);
	if (uring)
		io_uring_queue_exit(&ring);
	free(l.v);
	free(buf);
	close(fd);
	return r;
}

static struct raw_result raw_median(size_t bs, bool direct, enum raw_how how)
{
	double v[4][REPS];

	for (int i = 0; i < REPS; i++) {
		struct raw_result r = raw_run(bs, direct, how);
		v[0][i] = r.ops, v[1][i] = r.p50, v[2][i] = r.p99, v[3][i] = r.mbs;
	}
	return (struct raw_result){ median(v[0]), median(v[1]), median(v[2]), median(v[3]) };
}

/* --- WAL with proposers ------------------------------------------------------ */

struct bench {
	unsigned long long batches;
	struct io_uring ring;
	struct wal *w;
	double *sent;     /* append time by index % cap */
	size_t cap;
	uint64_t next, done;
	unsigned free_proposers;
	struct lat lat;
	int err;
};

static void b_durable(void *ctx, uint64_t index)
{
	struct bench *b = ctx;
	double t = now();

	b->batches++;
	for (; b->done < index; b->done++) {
		lat_add(&b->lat, t - b->sent[(b->done + 1) % b->cap]);
		b->free_proposers++;
	}
}

static void b_error(void *ctx, const struct wal_error *e)
{
	struct bench *b = ctx;
	char msg[512];
	wal_error_format(e, msg, sizeof(msg));
	fprintf(stderr, "bench: %s\n", msg);
	b->err = e->err;
}

struct wal_result {
	double eps, mbs, p50, p99;
	double flushes_per_batch, entries_per_batch;
	double cpu_per_batch, batch_time; /* seconds */
};

/* Append entries [b->next, to], per_batch to a batch, and wait until they
 * are durable. */
static int fill(struct bench *b, uint64_t to, unsigned per_batch, const uint8_t *pattern, size_t entry)
{
	while (b->next <= to) {
		for (unsigned k = 0; k < per_batch && b->next <= to; k++, b->next++)
			if (wal_append(b->w, b->next, 1, pattern, entry) < 0)
				return -EIO;
		if (wal_flush(b->w) < 0 || ring_drain(&b->ring, b->w) < 0)
			return b->err ? b->err : -EIO;
	}
	return 0;
}

/* steady: a node that has been running for a while. The log is compacted
 * behind the writer (as after each snapshot), so new segments reuse the
 * spares that compaction leaves; the run starts with a full set of them. */
static int wal_run(const char *name, unsigned proposers, size_t entry, enum wal_sync sync,
		   bool buffered, bool steady, struct wal_result *res)
{
	struct bench b = { 0 };
	struct wal_config cfg = { 0 };
	struct wal_error err;
	char dir[600], msg[512];
	uint8_t *pattern = malloc(entry);
	uint64_t per_seg;
	double t0, t;
	int rv;

	/* Each run has its own directory, removed by pair_run() after its
	 * last run (deleting files triggers discards that slow the disk). */
	static unsigned runs;
	snprintf(dir, sizeof(dir), "%s/%s.%u", base, name, runs++);
	if (io_uring_queue_init(256, &b.ring, 0) < 0)
		abort();
	memset(pattern, 'e', entry);
	b.cap = 1 << 20;
	b.sent = calloc(b.cap, sizeof(*b.sent));
	cfg.dir = dir;
	cfg.ring = &b.ring;
	cfg.sync = sync;
	cfg.buffered = buffered;
	if (getenv("WAL_BENCH_SEG"))
		cfg.segment_size = strtoull(getenv("WAL_BENCH_SEG"), NULL, 0);
	if (getenv("WAL_BENCH_BATCH"))
		cfg.batch_size = strtoul(getenv("WAL_BENCH_BATCH"), NULL, 0);
	cfg.ctx = &b;
	cfg.on_durable = b_durable;
	cfg.on_error = b_error;
	rv = wal_open(&cfg, &b.w, NULL, &err);
	if (rv < 0) {
		wal_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "bench %s: %s\n", name, msg);
		goto out;
	}
	/* Warm up: the first segment's creation and the first batch buffers'
	 * allocation (huge pages are cleared, perhaps compacted, on their
	 * first touch) happen once in a node's life; they are not what we
	 * measure. Ten batches' worth, well inside the first segment. */
	b.next = 1;
	per_seg = ((cfg.segment_size ? cfg.segment_size : WAL_DEFAULT_SEGMENT_SIZE) - WAL_BLOCK_SIZE) /
		  (WAL_RECORD_HEADER + entry);
	rv = fill(&b, steady ? (WAL_DEFAULT_SPARES + 1) * per_seg + 1 : 10 * (uint64_t)proposers, 32,
		  pattern, entry);
	if (rv == 0 && steady && (wal_compact(b.w, b.next) < 0 || ring_drain(&b.ring, b.w) < 0))
		rv = -EIO;
	if (rv < 0)
		goto out_close;
	b.lat.n = 0;
	b.batches = 0;
	b.free_proposers = proposers;
	unsigned long long f0 = dev_flushes();
	t0 = now();
	double cpu = 0;
	do {
		double ta = now();
		bool appended = b.free_proposers > 0;
		for (; b.free_proposers; b.free_proposers--, b.next++) {
			b.sent[b.next % b.cap] = now();
			rv = wal_append(b.w, b.next, 1, pattern, entry);
			if (rv < 0)
				goto out_close;
		}
		rv = wal_flush(b.w);
		/* The event loop's own time: copying entries in, checksumming and
		 * preparing the batch (its write cannot start before this). */
		if (appended)
			cpu += now() - ta;
		if (rv < 0 || (rv = ring_step(&b.ring)) < 0)
			goto out_close;
		if (steady && b.done > wal_first_index(b.w) + 2 * per_seg &&
		    (rv = wal_compact(b.w, b.done + 1 - per_seg)) < 0)
			goto out_close;
		t = now();
	} while (t - t0 < run_secs && !b.err);
	res->eps = (double)b.lat.n / (t - t0);
	res->mbs = res->eps * (double)entry / 1e6;
	res->p50 = lat_pct(&b.lat, 0.5);
	res->p99 = lat_pct(&b.lat, 0.99);
	res->flushes_per_batch = b.batches ? (double)(dev_flushes() - f0) / (double)b.batches : 0;
	res->entries_per_batch = b.batches ? (double)b.lat.n / (double)b.batches : 0;
	res->cpu_per_batch = b.batches ? cpu / (double)b.batches : 0;
	res->batch_time = b.batches ? (t - t0) / (double)b.batches : 0;
	rv = b.err;
out_close:
	ring_drain(&b.ring, b.w);
	wal_close(b.w);
out:
	io_uring_queue_exit(&b.ring);
	free(b.sent);
	free(b.lat.v);
	free(pattern);
	return rv;
}

/* Does a WAL opened this way really use O_DIRECT here? */
static bool wal_direct_io_probe(bool buffered)
{
	struct io_uring ring;
	struct wal_config cfg = { .buffered = buffered, .ring = &ring };
	char dir[600];
	struct wal *w;
	bool direct = false;

	snprintf(dir, sizeof(dir), "%s/probe", base);
	cfg.dir = dir;
	if (io_uring_queue_init(8, &ring, 0) < 0)
		return false;
	if (wal_open(&cfg, &w, NULL, NULL) == 0) {
		/* The first segment's creation finds out. */
		if (wal_append(w, 1, 1, "p", 1) == 0 && wal_flush(w) == 0)
			ring_drain(&ring, w);
		direct = wal_direct_io(w);
		wal_close(w);
	}
	io_uring_queue_exit(&ring);
	rm_dir(dir);
	return buffered || direct;
}

/* Write back and let the disk settle (discards, journal) between figures. */
static void settle(void)
{
	sync();
	sleep(1);
}

struct paired {
	double wal_eps, wal_mbs, wal_p50, wal_p99, wal_fpb, wal_epb, wal_cpu, wal_bt;
	double raw_ops, raw_mbs, raw_p50;
	double r_eps, r_mbs, r_p50; /* medians of the per-pair ratios */
};

static int pair_run(const char *name, unsigned proposers, size_t entry, enum wal_sync sync,
		    bool buffered, bool steady, size_t raw_bs, bool raw_direct, enum raw_how raw_how,
		    struct paired *ret)
{
	double v[14][REPS];
	struct raw_result raw;
	struct wal_result w = { 0 };
	char dir[1400];

	for (int i = 0; i < REPS; i++) {
		raw = raw_run(raw_bs, raw_direct, raw_how);
		int rv = wal_run(name, proposers, entry, sync, buffered, steady, &w);
		if (rv < 0)
			return rv;
		v[0][i] = w.eps, v[1][i] = w.mbs, v[2][i] = w.p50, v[3][i] = w.p99;
		v[4][i] = raw.ops, v[5][i] = raw.mbs, v[6][i] = raw.p50;
		v[7][i] = w.eps / raw.ops, v[8][i] = w.mbs / raw.mbs, v[9][i] = w.p50 / raw.p50;
		v[10][i] = w.flushes_per_batch, v[11][i] = w.entries_per_batch;
		v[12][i] = w.cpu_per_batch, v[13][i] = w.batch_time;
	}
	*ret = (struct paired){ median(v[0]), median(v[1]), median(v[2]), median(v[3]),
				median(v[10]), median(v[11]), median(v[12]), median(v[13]),
				median(v[4]), median(v[5]), median(v[6]), median(v[7]),
				median(v[8]), median(v[9]) };
	/* Remove this pair's WAL directories now, and give the discards a
	 * moment before the next measurement. */
	snprintf(dir, sizeof(dir), "%s/%s.* %s/fresh.*", base, name, base);
	{
		char cmd[1500];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench: could not remove %s\n", dir);
	}
	settle();
	return 0;
}

/* --- recovery ------------------------------------------------------------- */

/* Drop a directory's files from the page cache (clean pages only: the log
 * is synced), so that the next read comes from the disk. */
static void dir_uncache(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	if (d)
		closedir(d);
}

/* Read every segment of dir in name order with 1 MiB read(2)s: the disk's
 * (or the page cache's) sequential read rate for the same bytes. */
static double read_all(const char *dir, uint64_t *ret_bytes)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	size_t bs = 1 << 20;
	uint8_t *buf = malloc(bs);
	uint64_t bytes = 0;
	double t0 = now();

	for (int i = 0; i < n; i++) {
		size_t l = strlen(v[i]->d_name);
		if (l > 4 && !strcmp(v[i]->d_name + l - 4, ".seg")) {
			char p[1200];
			ssize_t r;
			snprintf(p, sizeof(p), "%s/%s", dir, v[i]->d_name);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			/* Only the written part, as recovery reads it. */
			off_t end = fd >= 0 ? lseek(fd, 0, SEEK_HOLE) : 0;
			posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
			for (off_t off = 0; off < end && (r = pread(fd, buf, bs, off)) > 0; off += r)
				bytes += (uint64_t)r;
			if (fd >= 0)
				close(fd);
		}
		free(v[i]);
	}
	free(v);
	free(buf);
	*ret_bytes = bytes;
	return now() - t0;
}

struct recovery_result {
	double cold_gbs, cold_s, read_gbs, cold_ratio, warm_gbs, warm_s, rw_gbs;
	uint64_t bytes, entries;
	unsigned segments;
};

static void recovery(struct recovery_result *res)
{
	struct bench b = { 0 };
	struct wal_config cfg = { 0 };
	struct wal_recovery rec;
	struct wal_error err;
	char dir[600];
	size_t entry = 64 << 10;
	uint64_t n = (1ull << 30) / entry, rbytes;
	uint8_t *pattern = malloc(entry);
	double cold[REPS], readr[REPS], ratio[REPS], warm[REPS], cold_s[REPS], warm_s[REPS];
	double t0, t1, dt;

	snprintf(dir, sizeof(dir), "%s/recovery", base);
	rm_dir(dir);
	memset(pattern, 'x', entry);
	if (io_uring_queue_init(256, &b.ring, 0) < 0)
		abort();
	b.cap = 1 << 20;
	b.sent = calloc(b.cap, sizeof(*b.sent));
	cfg.dir = dir;
	cfg.ring = &b.ring;
	cfg.ctx = &b;
	cfg.on_durable = b_durable;
	cfg.on_error = b_error;
	if (wal_open(&cfg, &b.w, NULL, &err) < 0)
		abort();
	b.next = 1;
	if (fill(&b, n, 64, pattern, entry) < 0)
		abort();
	wal_close(b.w);
	/* From disk: each recovery paired with a plain sequential read of the
	 * same files just before it, both after dropping them from the page
	 * cache. */
	cfg.readonly = true;
	for (int k = 0; k < REPS; k++) {
		dir_uncache(dir);
		dt = read_all(dir, &rbytes);
		readr[k] = (double)rbytes / dt / 1e9;
		dir_uncache(dir);
		t0 = now();
		if (wal_open(&cfg, &b.w, &rec, &err) < 0)
			abort();
		t1 = now();
		wal_close(b.w);
		cold_s[k] = t1 - t0;
		cold[k] = (double)rec.bytes / (t1 - t0) / 1e9;
		ratio[k] = cold[k] / readr[k];
	}
	/* From the page cache (now full of the log). */
	for (int k = 0; k < REPS; k++) {
		t0 = now();
		if (wal_open(&cfg, &b.w, &rec, &err) < 0)
			abort();
		t1 = now();
		wal_close(b.w);
		warm_s[k] = t1 - t0;
		warm[k] = (double)rec.bytes / (t1 - t0) / 1e9;
	}
	/* Read-write (what the daemon does): also syncs the last segment. */
	cfg.readonly = false;
	t0 = now();
	if (wal_open(&cfg, &b.w, &rec, &err) < 0)
		abort();
	t1 = now();
	ring_drain(&b.ring, b.w);
	wal_close(b.w);
	res->rw_gbs = (double)rec.bytes / (t1 - t0) / 1e9;
	res->cold_gbs = median(cold);
	res->cold_s = median(cold_s);
	res->read_gbs = median(readr);
	res->cold_ratio = median(ratio);
	res->warm_gbs = median(warm);
	res->warm_s = median(warm_s);
	res->bytes = rec.bytes;
	res->entries = rec.entries;
	res->segments = rec.segments;
	io_uring_queue_exit(&b.ring);
	free(b.sent);
	free(pattern);
	rm_dir(dir);
}

/* --- main ------------------------------------------------------------------ */

static const char *fs_name(long type)
{
	switch (type) {
	case 0xEF53: return "ext4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs (not a disk!)";
	case 0x2FC12FC1: return "zfs";
	default: return "other";
	}
}

static void sys_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f && fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
}

static void print_raw(const char *what, const struct raw_result *r)
{
	printf("  %-44s %8.0f /s  p50 %7.1f us  p99 %7.1f us\n", what, r->ops, r->p50 * 1e6,
	       r->p99 * 1e6);
}

int main(int argc, char **argv)
{
	struct statfs sf;
	struct stat st;
	struct utsname un;
	struct paired r;
	struct raw_result raw4d = { 0 }, raw1m = { 0 }, raw2m = { 0 };
	struct paired prop[4] = { 0 }, bw = { 0 }, bw_fresh = { 0 }, bw_steady = { 0 },
		      bw_steady_over = { 0 };
	struct recovery_result rr = { 0 };
	static const unsigned props[] = { 1, 16, 64, 256 };
	static const struct {
		const char *name;
		enum wal_sync sync;
		bool buffered;
	} modes[] = {
		{ "linked fdatasync, O_DIRECT", WAL_SYNC_FSYNC, false },
		{ "RWF_DSYNC, O_DIRECT", WAL_SYNC_DSYNC, false },
		{ "linked fdatasync, buffered", WAL_SYNC_FSYNC, true },
		{ "RWF_DSYNC, buffered", WAL_SYNC_DSYNC, true },
	};
	const char *only = getenv("WAL_BENCH_ONLY");
	char dev[300], devname[64] = "", wcache[64] = "";
	time_t now_t = time(NULL);
	char date[64];
	double t_start = now();

#define SECTION(n) (!only || strstr(only, n))
	if (argc < 2) {
		fprintf(stderr, "usage: bench_wal DIR [SECONDS_PER_RUN]\n"
				"  WAL_BENCH_ONLY=raw,modes,proposers,bandwidth,recovery: some sections\n");
		return 2;
	}
	run_secs = argc > 2 ? atof(argv[2]) : 0.5;
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(base, sizeof(base), "%s/bench-wal.%d", argv[1], (int)getpid());
	rm_dir(base);
	if (mkdir(base, 0755) < 0 || statfs(base, &sf) < 0 || stat(base, &st) < 0) {
		perror(base);
		return 1;
	}
	dev_major = major(st.st_dev);
	dev_minor = minor(st.st_dev);
	snprintf(dev, sizeof(dev), "/sys/dev/block/%u:%u/uevent", dev_major, dev_minor);
	{
		FILE *f = fopen(dev, "r");
		char line[128];
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "DEVNAME=", 8))
				snprintf(devname, sizeof(devname), "/dev/%.*s", (int)strcspn(line + 8, "\n"),
					 line + 8);
		if (f)
			fclose(f);
		snprintf(dev, sizeof(dev), "/sys/dev/block/%u:%u/queue/write_cache", dev_major,
			 dev_minor);
		sys_line(dev, wcache, sizeof(wcache));
	}
	uname(&un);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now_t));
	printf("WAL benchmark, %s\n"
	       "  directory   %s\n"
	       "  file system %s (f_type 0x%lx) on %s, device write cache: %s\n"
	       "  kernel      %s %s, %ld CPUs\n"
	       "  method      every figure is the median of %d runs of %.1f s; every WAL run is\n"
	       "              paired with a raw run just before it and ratios are medians of the\n"
	       "              per-pair ratios (the disk and CPUs are shared: expect noise)\n"
	       "  raw         writes into freshly preallocated space (fallocate; reset with\n"
	       "              FALLOC_FL_ZERO_RANGE between runs), as the WAL's segments are\n\n",
	       date, base, fs_name((long)sf.f_type), (unsigned long)sf.f_type,
	       devname[0] ? devname : "?", wcache[0] ? wcache : "?", un.sysname, un.release,
	       sysconf(_SC_NPROCESSORS_ONLN), REPS, run_secs);
	/* Let earlier deletions (discards) and writeback settle. */
	sync();
	sleep(2);

	if (SECTION("raw")) {
		struct raw_result v;
		printf("1. raw limit, one write + fdatasync at a time\n");
		raw4d = raw_median(4096, true, RAW_PWRITE);
		print_raw("4 KiB pwrite + fdatasync, O_DIRECT", &raw4d);
		v = raw_median(4096, false, RAW_PWRITE);
		print_raw("4 KiB pwrite + fdatasync, buffered", &v);
		v = raw_median(4096, true, RAW_URING_LINKED);
		print_raw("4 KiB io_uring write + linked fdatasync, O_DIRECT", &v);
		v = raw_median(4096, true, RAW_URING_DSYNC);
		print_raw("4 KiB io_uring write, RWF_DSYNC, O_DIRECT", &v);
		raw1m = raw_median(1 << 20, true, RAW_PWRITE);
		raw2m = raw_median(2 << 20, true, RAW_PWRITE);
		v = raw_median(1 << 20, false, RAW_PWRITE);
		printf("  sequential pwrite + fdatasync: 1 MiB O_DIRECT %6.0f MB/s, 2 MiB O_DIRECT "
		       "%6.0f MB/s, 1 MiB buffered %6.0f MB/s\n\n",
		       raw1m.mbs, raw2m.mbs, v.mbs);
	}

	if (SECTION("modes")) {
		printf("2. sync modes, 256-byte entries (raw: 4 KiB pwrite + fdatasync, same "
		       "buffering)\n"
		       "  %-38s %22s %30s\n",
		       "mode", "1 proposer p50", "64 proposers");
		for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			struct paired one, many;
			bool rd = !modes[m].buffered;
			if (pair_run("modes", 1, 256, modes[m].sync, modes[m].buffered, false, 4096, rd,
				     RAW_PWRITE, &one) < 0 ||
			    pair_run("modes", 64, 256, modes[m].sync, modes[m].buffered, false, 4096, rd,
				     RAW_PWRITE, &many) < 0) {
				printf("  %-38s not supported here\n", modes[m].name);
				continue;
			}
			printf("  %-28s%-10s %7.1f us (%.2fx raw) %9.0f entries/s (%5.1fx raw)%s\n",
			       modes[m].name,
			       modes[m].sync == DEFAULT_SYNC && !modes[m].buffered ? " (default)" : "",
			       one.wal_p50 * 1e6, one.r_p50, many.wal_eps, many.r_eps,
			       rd && !wal_direct_io_probe(false) ? "  [no O_DIRECT here: buffered]" : "");
		}
		putchar('\n');
	}

	if (SECTION("proposers")) {
		printf("3. default mode, 256-byte entries, concurrent proposers (raw: 4 KiB pwrite + "
		       "fdatasync, O_DIRECT)\n");
		for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
			if (pair_run("proposers", props[i], 256, DEFAULT_SYNC, false, false, 4096, true,
				     RAW_PWRITE, &prop[i]) < 0)
				return 1;
			r = prop[i];
			printf("  %3u proposers %9.0f entries/s (%6.1fx raw %5.0f/s)  p50 %7.1f us "
			       "(%.2fx raw %5.1f us)  p99 %7.1f us  %5.1f entries/batch  %.2f flushes/batch\n",
			       props[i], r.wal_eps, r.r_eps, r.raw_ops, r.wal_p50 * 1e6, r.r_p50,
			       r.raw_p50 * 1e6, r.wal_p99 * 1e6, r.wal_epb, r.wal_fpb);
		}
		putchar('\n');
	}

	if (SECTION("bandwidth")) {
		printf("4. 64 KiB entries, 32 proposers, O_DIRECT (raw: sequential 2 MiB writes, about "
		       "one WAL batch, O_DIRECT)\n");
		/* The goal's comparison, then the same WAL against its own I/O path
		 * without the WAL (an io_uring write with RWF_DSYNC of one batch's
		 * size): what is left between the two is the WAL's own cost. Last,
		 * raw writes into new preallocated 64 MiB files, created as the
		 * run goes, where the WAL writes: on a thin-provisioned virtual disk
		 * mounted with discard, blocks a long-lived file keeps rewriting were
		 * mostly faster than new ones (up to 1.6x here), though not always.
		 * Then a WAL in its steady state, compacted behind the writer so
		 * that its new segments are recycled ones, against the usual raw
		 * figure and against raw overwrites of written blocks, which is
		 * what it then does. */
		static const struct {
			const char *name;
			enum wal_sync mode;
			enum raw_how raw;
			bool steady;
		} rows[] = {
			{ "RWF_DSYNC", WAL_SYNC_DSYNC, RAW_PWRITE, false },
			{ "RWF_DSYNC", WAL_SYNC_DSYNC, RAW_URING_DSYNC, false },
			{ "linked fdatasync", WAL_SYNC_FSYNC, RAW_PWRITE, false },
			{ "RWF_DSYNC", WAL_SYNC_DSYNC, RAW_PWRITE_FRESH, false },
			{ "steady RWF_DSYNC", WAL_SYNC_DSYNC, RAW_PWRITE, true },
			{ "steady RWF_DSYNC", WAL_SYNC_DSYNC, RAW_PWRITE_OVER, true },
		};
		for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
			struct paired x;
			if (!SECTION("modes") && (rows[k].mode != DEFAULT_SYNC || k == 1))
				continue;
			if (pair_run("bandwidth", 32, 64 << 10, rows[k].mode, false, rows[k].steady,
				     2 << 20, true, rows[k].raw, &x) < 0)
				return 1;
			printf("  %-17s %7.1f MB/s = %3.0f%% of raw %-17s %4.0f MB/s;  p50 %.2f ms, "
			       "%.1f entries/batch, event loop %.0f of %.0f us per batch\n",
			       rows[k].name, x.wal_mbs, 100 * x.r_mbs,
			       rows[k].raw == RAW_PWRITE	  ? "pwrite+fdatasync"
			       : rows[k].raw == RAW_PWRITE_FRESH ? "pwrite, new files"
			       : rows[k].raw == RAW_PWRITE_OVER  ? "pwrite, overwrite"
								 : "io_uring RWF_DSYNC",
			       x.raw_mbs, x.wal_p50 * 1e3, x.wal_epb, x.wal_cpu * 1e6, x.wal_bt * 1e6);
			if (rows[k].mode == DEFAULT_SYNC && rows[k].raw == RAW_PWRITE && !rows[k].steady)
				bw = x;
			if (rows[k].raw == RAW_PWRITE_FRESH)
				bw_fresh = x;
			if (rows[k].steady)
				*(rows[k].raw == RAW_PWRITE_OVER ? &bw_steady_over : &bw_steady) = x;
		}
		putchar('\n');
	}

	if (SECTION("recovery")) {
		printf("5. recovery (wal_open) of a 1 GiB log of 64 KiB entries\n");
		recovery(&rr);
		printf("  %" PRIu64 " entries, %u segments, %.0f MiB of records\n"
		       "  from disk:       %.3f s, %5.2f GB/s (sequential read(2) of the same files: "
		       "%.2f GB/s; recovery/read %.2f)\n"
		       "  from page cache: %.3f s, %5.2f GB/s (read-write open: %.2f GB/s)\n\n",
		       rr.entries, rr.segments, (double)rr.bytes / (1 << 20), rr.cold_s, rr.cold_gbs,
		       rr.read_gbs, rr.cold_ratio, rr.warm_s, rr.warm_gbs, rr.rw_gbs);
	}

	printf("goals\n");
	if (prop[2].wal_eps > 0)
		printf("  64 proposers >= 40x raw fdatasync rate:      %6.1fx  %s\n", prop[2].r_eps,
		       prop[2].r_eps >= 40 ? "met" : "MISSED");
	if (prop[0].wal_eps > 0)
		printf("  1-proposer latency <= 1.3x raw:              %6.2fx  %s\n", prop[0].r_p50,
		       prop[0].r_p50 <= 1.3 ? "met" : "MISSED");
	if (bw.wal_mbs > 0) {
		double best = raw1m.mbs > bw.raw_mbs ? raw1m.mbs : bw.raw_mbs;
		printf("  64 KiB entries >= 80%% of raw bandwidth:      %5.0f%%   %s "
		       "(paired raw 2 MiB; %.0f%% of the best raw figure, %.0f MB/s)\n",
		       100 * bw.r_mbs, bw.r_mbs >= 0.8 ? "met" : "MISSED", 100 * bw.wal_mbs / best,
		       best);
		if (bw_fresh.wal_mbs > 0)
			printf("    ... of raw writing into new files, as a new WAL does: %3.0f%%   %s\n",
			       100 * bw_fresh.r_mbs, bw_fresh.r_mbs >= 0.8 ? "met" : "MISSED");
		if (bw_steady.wal_mbs > 0)
			printf("    steady state (segments recycled), of the same raw:  %3.0f%%   %s "
			       "(%.2fx a new WAL's MB/s)\n",
			       100 * bw_steady.r_mbs, bw_steady.r_mbs >= 0.8 ? "met" : "MISSED",
			       bw_steady.wal_mbs / bw.wal_mbs);
		if (bw_steady_over.wal_mbs > 0)
			printf("    ... of raw overwriting written blocks, as it does:  %3.0f%%   %s\n",
			       100 * bw_steady_over.r_mbs, bw_steady_over.r_mbs >= 0.8 ? "met" : "MISSED");
	}
	if (rr.warm_gbs > 0)
		printf("  recovery >= 1 GB/s from page cache:          %5.2f GB/s  %s\n", rr.warm_gbs,
		       rr.warm_gbs >= 1 ? "met" : "MISSED");
	printf("total time %.0f s\n", now() - t_start);
	rm_dir(base);
	return 0;
}
