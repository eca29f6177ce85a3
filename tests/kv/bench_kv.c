/* tests/kv/bench_kv.c — memory and speed of the KV map and its snapshots.
 *
 *   bench_kv [keys [value_bytes [dir]]]      defaults: 1000000 100 $TMPDIR|/tmp
 *
 * Prints the RSS growth for `keys` entries ("key%07d", value_bytes each)
 * against the raw data (sum of key and value lengths), put/get rates, and
 * snapshot write (to a file, then fdatasync) and load rates; then the /db
 * apply path: `keys` kv_apply() writes over 1,000 keys (value_bytes each),
 * as a bench of goraft writes feeds the state machine, with the RSS it ends
 * at. Not a test: it asserts nothing about time. Build without sanitizers
 * for real figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/kv/kv.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall time, and this process's CPU time: on a shared machine the CPU
 * figures are the steadier ones. */
struct lap {
	double wall, cpu;
};

static struct lap lap_start(void)
{
	return (struct lap){ clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID) };
}

static struct lap lap_end(struct lap start)
{
	return (struct lap){ clock_s(CLOCK_MONOTONIC) - start.wall,
			     clock_s(CLOCK_PROCESS_CPUTIME_ID) - start.cpu };
}

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long vlen = argc > 2 ? atol(argv[2]) : 100;
	const char *dir = argc > 3 ? argv[3] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct kv_snapshot_meta meta = { 0 }, got;
	struct kv *kv, *back;
	char key[32], path[4096], err[512];
	char *value;
	long rss0, rss1, found = 0;
	size_t heap0;
	uint64_t raw;
	struct lap t, t_put, t_get, t_write, t_sync, t_load;
	struct stat st;
	int fd, rv;

	if (n <= 0 || vlen < 0 || vlen > 1 << 20) {
		fprintf(stderr, "usage: bench_kv [keys [value_bytes [dir]]]\n");
		return 2;
	}
	value = malloc((size_t)vlen + 1);
	if (!value)
		return 1;
	memset(value, 'v', (size_t)vlen);

	rss0 = rss_bytes();
	kv = kv_new();
	if (!kv)
		return 1;
	t = lap_start();
	for (long i = 0; i < n; i++) {
		int klen = snprintf(key, sizeof key, "key%07ld", i);
		memcpy(value, &i, sizeof i < (size_t)vlen ? sizeof i : (size_t)vlen);
		if (kv_put(kv, key, (size_t)klen, value, (size_t)vlen) < 0) {
			fprintf(stderr, "kv_put failed\n");
			return 1;
		}
	}
	t_put = lap_end(t);
	rss1 = rss_bytes();
	raw = kv_bytes(kv);

	t = lap_start();
	for (long i = 0; i < n; i++) {
		struct kv_view v;
		int klen = snprintf(key, sizeof key, "key%07ld", (i * 7919) % n);
		found += kv_get(kv, key, (size_t)klen, &v);
	}
	t_get = lap_end(t);

	printf("entries:        %ld (key \"key%%07d\", %ld-byte values)\n", n, vlen);
	printf("raw data:       %.1f MB (%.1f bytes/entry)\n", (double)raw / 1e6, (double)raw / (double)n);
	printf("RSS growth:     %.1f MB = %.2fx raw (%.1f bytes/entry, overhead %.1f bytes/entry)\n",
	       (double)(rss1 - rss0) / 1e6, (double)(rss1 - rss0) / (double)raw,
	       (double)(rss1 - rss0) / (double)n, (double)(rss1 - rss0 - (long)raw) / (double)n);
	printf("put:            %.2f M ops/s wall, %.2f M ops/s CPU (%.0f ns/op CPU, with snprintf)\n",
	       (double)n / t_put.wall / 1e6, (double)n / t_put.cpu / 1e6, t_put.cpu / (double)n * 1e9);
	printf("get:            %.2f M ops/s wall, %.2f M ops/s CPU (%.0f ns/op CPU, random order, %ld found)\n",
	       (double)n / t_get.wall / 1e6, (double)n / t_get.cpu / 1e6, t_get.cpu / (double)n * 1e9,
	       found);

	snprintf(path, sizeof path, "%s/bench_kv.%ld.snap", dir, (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	meta.last_index = kv_applied_index(kv);
	t = lap_start();
	rv = kv_snapshot_write(kv, fd, &meta);
	t_write = lap_end(t);
	t = lap_start();
	if (rv == 0 && fdatasync(fd) < 0)
		rv = -errno;
	t_sync = lap_end(t);
	if (rv < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "snapshot write: %s\n", strerror(-rv));
		return 1;
	}
	close(fd);
	t = lap_start();
	rv = kv_snapshot_load(path, &back, &got, err, sizeof err);
	t_load = lap_end(t);
	if (rv < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("snapshot:       %.1f MB file\n", (double)st.st_size / 1e6);
	printf("snapshot write: %.0f MB/s wall, %.0f MB/s CPU (to page cache); fdatasync %.3f s wall\n",
	       (double)st.st_size / t_write.wall / 1e6, (double)st.st_size / t_write.cpu / 1e6,
	       t_sync.wall);
	printf("snapshot load:  %.0f MB/s wall, %.0f MB/s CPU (verify + rebuild, file in page cache)\n",
	       (double)st.st_size / t_load.wall / 1e6, (double)st.st_size / t_load.cpu / 1e6);
	printf("check:          loaded %zu entries, content hash %s\n", kv_count(back),
	       kv_content_hash(back) == kv_content_hash(kv) ? "equal" : "DIFFERENT");
	unlink(path);
	kv_free(back);
	kv_snapshot_meta_free(&got);
	kv_free(kv);

	heap0 = mallinfo2().uordblks;
	kv = kv_new();
	if (!kv)
		return 1;
	t = lap_start();
	for (long i = 0; i < n; i++) {
		int klen = snprintf(key, sizeof key, "key%07ld", i % 1000);
		struct cmd c = { .type = CMD_WRITE, .key = cmd_str_ref(key, (size_t)klen),
				 .value = cmd_str_ref(value, (size_t)vlen) };
		memcpy(value, &i, sizeof i < (size_t)vlen ? sizeof i : (size_t)vlen);
		if (kv_apply(kv, (uint64_t)i + 1, &c) != 0) {
			fprintf(stderr, "kv_apply failed\n");
			return 1;
		}
	}
	t_put = lap_end(t);
	printf("apply writes:   %.2f M ops/s wall, %.2f M ops/s CPU (%.0f ns/op CPU, over 1000 keys, with snprintf); "
	       "heap in use at the end %.2f MB\n",
	       (double)n / t_put.wall / 1e6, (double)n / t_put.cpu / 1e6, t_put.cpu / (double)n * 1e9,
	       (double)(mallinfo2().uordblks - heap0) / 1e6);
	kv_free(kv);
	free(value);
	return 0;
}
