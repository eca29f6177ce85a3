/* tests/wal/bench_wal.c — WAL benchmark: figures, not a pass/fail test.
 *
 *   bench_wal DIR [SECONDS_PER_RUN]      (make bench-wal)
 *
 * Everything runs in one process on the file system holding DIR, which
 * should be a disk (the output names the file system type):
 *   1. raw limit: one 4 KiB pwrite + fdatasync at a time (ops/s, latency)
 *   2. the WAL's sync modes with 1 and 64 proposers of 256-byte entries:
 *      linked IORING_OP_FSYNC (default), RWF_DSYNC writes, and O_DIRECT
 *      with each, where the file system allows O_DIRECT
 *   3. entries/s and p50/p99 append-to-durable latency with 1, 16, 64, 256
 *      concurrent proposers of 256-byte entries (default mode)
 *   4. MB/s with 64 KiB entries against raw sequential 1 MiB write +
 *      fdatasync
 *   5. recovery (wal_open) time and MB/s of a 1 GiB log, from page cache
 * A proposer has one entry in flight: when it is durable, the proposer
 * appends its next one at once (the daemon's clients do the same).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
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

struct raw_result {
	double ops, p50, p99, mbs;
};

/* The raw limit: one write + fdatasync at a time, sequential, into
 * preallocated space (as the WAL writes), buffered or O_DIRECT, with plain
 * pwrite(2) + fdatasync(2) or with io_uring (a write and a linked
 * IORING_OP_FSYNC, waited for together: the WAL's path minus the WAL). */
static bool raw_uring;

static int uring_write_sync(struct io_uring *ring, int fd, const void *buf, size_t bs, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int rv = 0;

	io_uring_prep_write(sqe, fd, buf, (unsigned)bs, (uint64_t)off);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_prep_fsync(io_uring_get_sqe(ring), fd, IORING_FSYNC_DATASYNC);
	if (io_uring_submit_and_wait(ring, 2) < 0)
		return -EIO;
	for (int i = 0; i < 2; i++) {
		if (io_uring_wait_cqe(ring, &cqe) < 0)
			return -EIO;
		if (cqe->res < 0 || (i == 0 && cqe->res != (int)bs && cqe->res != 0))
			rv = -EIO;
		io_uring_cqe_seen(ring, cqe);
	}
	return rv;
}

static struct raw_result raw_run(size_t bs, bool direct)
{
	struct io_uring ring;
	char path[600];
	struct raw_result r = { 0 };
	struct lat l = { 0 };
	uint8_t *buf;
	off_t off = 0, size = 256 << 20;
	double t0, t;
	size_t ops = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/raw", base);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
	if (fd < 0 || posix_fallocate(fd, 0, size) || fsync(fd)) {
		perror("raw");
		exit(1);
	}
	if (posix_memalign((void **)&buf, 4096, bs))
		abort();
	memset(buf, 'r', bs);
	if (raw_uring && io_uring_queue_init(8, &ring, 0) < 0)
		abort();
	t0 = now();
	do {
		double s = now();
		if (raw_uring ? uring_write_sync(&ring, fd, buf, bs, off) < 0
			      : pwrite(fd, buf, bs, off) != (ssize_t)bs || fdatasync(fd) < 0) {
			perror("raw write");
			exit(1);
		}
		t = now();
		lat_add(&l, t - s);
		ops++;
		off = (off + (off_t)bs) % size;
	} while (t - t0 < run_secs);
	r.ops = (double)ops / (t - t0);
	r.mbs = r.ops * (double)bs / 1e6;
	r.p50 = lat_pct(&l, 0.5);
	r.p99 = lat_pct(&l, 0.99);
	if (raw_uring)
		io_uring_queue_exit(&ring);
	free(l.v);
	free(buf);
	close(fd);
	unlink(path);
	return r;
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
	double flushes_per_batch;
};

static int wal_run(const char *name, unsigned proposers, size_t entry, enum wal_sync sync,
		   bool buffered, struct wal_result *res)
{
	struct bench b = { 0 };
	struct wal_config cfg = { 0 };
	struct wal_error err;
	char dir[600], msg[512];
	uint8_t *pattern = malloc(entry);
	double t0, t;
	int rv;

	/* Each run has its own directory, removed only at the end: deleting
	 * files triggers discards (online TRIM) that would slow the next run. */
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
	cfg.ctx = &b;
	cfg.on_durable = b_durable;
	cfg.on_error = b_error;
	rv = wal_open(&cfg, &b.w, NULL, &err);
	if (rv < 0) {
		wal_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "bench %s: %s\n", name, msg);
		goto out;
	}
	/* Warm up: the first segment's creation is not what we measure. */
	b.next = 1;
	if (wal_append(b.w, b.next, 1, pattern, entry) < 0 || wal_flush(b.w) < 0 ||
	    ring_drain(&b.ring, b.w) < 0) {
		rv = b.err ? b.err : -EIO;
		goto out_close;
	}
	b.next++;
	b.lat.n = 0;
	b.batches = 0;
	b.free_proposers = proposers;
	unsigned long long f0 = dev_flushes();
	t0 = now();
	do {
		for (; b.free_proposers; b.free_proposers--, b.next++) {
			b.sent[b.next % b.cap] = now();
			rv = wal_append(b.w, b.next, 1, pattern, entry);
			if (rv < 0)
				goto out_close;
		}
		rv = wal_flush(b.w);
		if (rv < 0 || (rv = ring_step(&b.ring)) < 0)
			goto out_close;
		t = now();
	} while (t - t0 < run_secs && !b.err);
	res->eps = (double)b.lat.n / (t - t0);
	res->mbs = res->eps * (double)entry / 1e6;
	res->p50 = lat_pct(&b.lat, 0.5);
	res->p99 = lat_pct(&b.lat, 0.99);
	res->flushes_per_batch = b.batches ? (double)(dev_flushes() - f0) / (double)b.batches : 0;
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

/* --- recovery ------------------------------------------------------------- */

static void recovery(void)
{
	struct bench b = { 0 };
	struct wal_config cfg = { 0 };
	struct wal_recovery rec;
	struct wal_error err;
	char dir[600];
	size_t entry = 64 << 10;
	uint64_t n = (1ull << 30) / entry;
	uint8_t *pattern = malloc(entry);
	double t0, t1;

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
	for (uint64_t i = 1; i <= n && !b.err; i++) {
		if (wal_append(b.w, i, 1, pattern, entry) < 0)
			abort();
		if (i % 64 == 0 && (wal_flush(b.w) < 0 || ring_drain(&b.ring, b.w) < 0))
			abort();
	}
	wal_flush(b.w);
	ring_drain(&b.ring, b.w);
	wal_close(b.w);
	/* Written with O_DIRECT, the log is not in the page cache: the first
	 * open reads the disk, the next ones the page cache it filled. */
	static const char *const what[3] = { "readonly, from disk", "readonly, page cache",
					     "read-write, page cache" };
	for (int k = 0; k < 3; k++) {
		cfg.readonly = k < 2;
		t0 = now();
		if (wal_open(&cfg, &b.w, &rec, &err) < 0)
			abort();
		t1 = now();
		printf("recovery (%-22s) %" PRIu64 " entries, %u segments, %.0f MiB in %.3f s: "
		       "%.2f GB/s\n",
		       what[k], rec.entries, rec.segments, (double)rec.bytes / (1 << 20), t1 - t0,
		       (double)rec.bytes / (t1 - t0) / 1e9);
		ring_drain(&b.ring, b.w);
		wal_close(b.w);
	}
	io_uring_queue_exit(&b.ring);
	free(b.sent);
	free(pattern);
	rm_dir(dir);
}

static const char *fs_name(long type)
{
	switch (type) {
	case 0xEF53: return "ext2/3/4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs (not a disk!)";
	case 0x2FC12FC1: return "zfs";
	default: return "other";
	}
}

/* The disk and the 2 CPUs are shared with other work, whose fsyncs and
 * CPU use come and go: each WAL figure is paired with a raw run made just
 * before it, REPS times, and the medians (of values and of ratios) shown. */
#define REPS 5

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

struct paired {
	double wal_eps, wal_mbs, wal_p50, wal_p99, wal_fpb;
	double raw_ops, raw_mbs, raw_p50;
	double r_eps, r_mbs, r_p50; /* medians of the per-pair ratios */
};

static double median(double *v)
{
	qsort(v, REPS, sizeof(double), cmp_double);
	return v[REPS / 2];
}

static int pair_run(const char *name, unsigned proposers, size_t entry, enum wal_sync sync,
		    bool buffered, size_t raw_bs, bool raw_direct, struct paired *ret)
{
	double v[11][REPS];
	struct raw_result raw;
	struct wal_result w = { 0 };

	for (int i = 0; i < REPS; i++) {
		raw = raw_run(raw_bs, raw_direct);
		int rv = wal_run(name, proposers, entry, sync, buffered, &w);
		if (rv < 0)
			return rv;
		v[0][i] = w.eps, v[1][i] = w.mbs, v[2][i] = w.p50, v[3][i] = w.p99;
		v[4][i] = raw.ops, v[5][i] = raw.mbs, v[6][i] = raw.p50;
		v[7][i] = w.eps / raw.ops, v[8][i] = w.mbs / raw.mbs, v[9][i] = w.p50 / raw.p50;
		v[10][i] = w.flushes_per_batch;
	}
	*ret = (struct paired){ median(v[0]), median(v[1]), median(v[2]), median(v[3]),
				median(v[10]), median(v[4]), median(v[5]), median(v[6]),
				median(v[7]), median(v[8]), median(v[9]) };
	return 0;
}

int main(int argc, char **argv)
{
	struct statfs sf;
	struct stat st;
	struct paired r;
	static const unsigned props[] = { 1, 16, 64, 256 };
	static const struct {
		const char *name;
		enum wal_sync sync;
		bool buffered;
	} modes[] = {
		{ "buffered+fsync", WAL_SYNC_FSYNC, true },
		{ "buffered+dsync", WAL_SYNC_DSYNC, true },
		{ "odirect+fsync", WAL_SYNC_FSYNC, false },
		{ "odirect+dsync", WAL_SYNC_DSYNC, false },
	};

	if (argc < 2) {
		fprintf(stderr, "usage: bench_wal DIR [SECONDS_PER_RUN]\n");
		return 2;
	}
	run_secs = argc > 2 ? atof(argv[2]) : 0.5;
	/* RAW=uring: the raw runs use io_uring instead of pwrite+fdatasync. */
	raw_uring = getenv("RAW") && !strcmp(getenv("RAW"), "uring");
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(base, sizeof(base), "%s/bench-wal.%d", argv[1], (int)getpid());
	rm_dir(base);
	if (mkdir(base, 0755) < 0 || statfs(base, &sf) < 0 || stat(base, &st) < 0) {
		perror(base);
		return 1;
	}
	dev_major = major(st.st_dev);
	dev_minor = minor(st.st_dev);
	printf("WAL benchmark in %s: file system %s (f_type 0x%lx)\n"
	       "each figure: median of %d runs of %.1f s, each run paired with a raw run just "
	       "before it\n"
	       "raw = one 4 KiB write + fdatasync at a time into preallocated space, %s,\n"
	       "buffered or O_DIRECT like the WAL mode it is compared with\n\n",
	       base, fs_name((long)sf.f_type), (unsigned long)sf.f_type, REPS, run_secs,
	       raw_uring ? "io_uring write + linked fsync (RAW=uring)" : "pwrite(2) + fdatasync(2)");
	/* Let earlier deletions (discards) and writeback settle. */
	sync();
	sleep(2);

	printf("sync modes, 256 B entries\n");
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct paired one, many;
		bool rd = !modes[m].buffered;
		if (pair_run(modes[m].name, 1, 256, modes[m].sync, modes[m].buffered, 4096, rd, &one) < 0 ||
		    pair_run(modes[m].name, 64, 256, modes[m].sync, modes[m].buffered, 4096, rd, &many) < 0) {
			printf("  %-14s not supported here\n", modes[m].name);
			continue;
		}
		if (!wal_direct_io_probe(modes[m].buffered))
			printf("  (O_DIRECT not supported here: this row is buffered)\n");
		printf("  %-14s 1 proposer p50 %7.1f us (raw%s %7.1f us, %.2fx)   "
		       "64 proposers %8.0f entries/s (raw %6.0f/s, %5.1fx)\n",
		       modes[m].name, one.wal_p50 * 1e6, rd ? " O_DIRECT" : "", one.raw_p50 * 1e6,
		       one.r_p50, many.wal_eps,
		       many.raw_ops, many.r_eps);
	}

	printf("\ndefault mode (O_DIRECT, linked fdatasync), 256 B entries, against raw O_DIRECT\n");
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		if (pair_run("proposers", props[i], 256, WAL_SYNC_FSYNC, false, 4096, true, &r) < 0)
			return 1;
		printf("  %3u proposers %9.0f entries/s (raw %6.0f/s, %6.1fx)  p50 %7.1f us "
		       "(raw %6.1f us, %.2fx)  p99 %7.1f us  %.2f device flushes/batch\n",
		       props[i], r.wal_eps, r.raw_ops, r.r_eps, r.wal_p50 * 1e6, r.raw_p50 * 1e6,
		       r.r_p50, r.wal_p99 * 1e6, r.wal_fpb);
	}

	printf("\n64 KiB entries, 32 proposers, default mode\n");
	for (int rd = 1; rd >= 0; rd--) {
		if (pair_run("bandwidth", 32, 64 << 10, WAL_SYNC_FSYNC, false, 1 << 20, rd, &r) < 0)
			return 1;
		printf("  %7.1f MB/s; raw sequential 1 MiB pwrite+fdatasync%s %7.1f MB/s (%.0f%%)\n",
		       r.wal_mbs, rd ? " O_DIRECT" : " buffered", r.raw_mbs, 100 * r.r_mbs);
	}
	putchar('\n');

	recovery();
	rm_dir(base);
	return 0;
}
