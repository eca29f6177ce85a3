/* tests/mvcc/bench_mvcc.c — memory of the MVCC store.
 *
 *   bench_mvcc [keys [value_bytes [puts_per_key]]]   defaults: 1000000 100 1
 *
 * Puts `keys` keys ("key%07d", in a random order, so the index is not
 * packed as a sequential load would pack it), each puts_per_key times
 * (history kept), then compacts at the current revision, and prints the
 * RSS growth per key against the raw data (key + value bytes of the live
 * keys), before and after the compaction, the heap bytes in use (RSS
 * keeps the holes compaction leaves, which later writes reuse), and the
 * put and read rates (CPU time). Not
 * a test: it asserts nothing. Build without sanitizers for real figures.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/mvcc/mvcc.h"

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

/* Bytes malloc has handed out and not taken back: what the store holds,
 * apart from holes RSS still counts after frees. */
static long heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return (long)mi.uordblks + (long)mi.hblkhd;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long vlen = argc > 2 ? atol(argv[2]) : 100;
	long per = argc > 3 ? atol(argv[3]) : 1;
	struct mvcc_result res;
	char key[32];
	if (n <= 0 || vlen < 0 || per < 1) {
		fprintf(stderr, "usage: bench_mvcc [keys [value_bytes [puts_per_key]]]\n");
		return 2;
	}
	char *value = malloc((size_t)vlen + 1);
	long *order = malloc((size_t)n * sizeof(*order));
	if (!value || !order)
		return 1;
	memset(value, 'v', (size_t)vlen);
	for (long i = 0; i < n; i++)
		order[i] = i;
	srandom(1);
	for (long i = n - 1; i > 0; i--) {
		long j = random() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	malloc_trim(0);
	long rss0 = rss_bytes(), heap0 = heap_bytes();
	struct mvcc *s = mvcc_new();
	if (!s)
		return 1;
	double t0 = cpu_s();
	for (long p = 0; p < per; p++)
		for (long i = 0; i < n; i++) {
			int kl = snprintf(key, sizeof(key), "key%07ld", order[i]);
			struct mvcc_op op = { .type = MVCC_OP_PUT,
					      .put = { .key = key, .key_len = (size_t)kl, .value = value, .value_len = (size_t)vlen } };
			if (mvcc_exec(s, &op, &res)) {
				fprintf(stderr, "put failed\n");
				return 1;
			}
			mvcc_result_free(&res);
		}
	double t_put = cpu_s() - t0;
	long rss1 = rss_bytes(), heap1 = heap_bytes();
	uint64_t raw = 0;
	for (long i = 0; i < n; i++)
		raw += (uint64_t)snprintf(key, sizeof(key), "key%07ld", i) + (uint64_t)vlen;
	t0 = cpu_s();
	long found = 0;
	for (long i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "key%07ld", order[i]);
		struct mvcc_range_req req = { .key = key, .key_len = (size_t)kl };
		if (!mvcc_read(s, &req, &res))
			found += (long)res.op.range.n_kvs;
		mvcc_result_free(&res);
	}
	double t_get = cpu_s() - t0;
	t0 = cpu_s();
	mvcc_compact(s, mvcc_revision(s));
	double t_compact = cpu_s() - t0;
	malloc_trim(0);
	long rss2 = rss_bytes(), heap2 = heap_bytes();

	printf("mvcc: %ld keys x %ld-byte values, %ld put(s) each; raw %.1f MiB (%.1f bytes/key)\n", n, vlen, per,
	       (double)raw / 1048576, (double)raw / (double)n);
	printf("  RSS growth with history:  %.1f MiB, %.1f bytes/key, %.2fx raw\n", (double)(rss1 - rss0) / 1048576,
	       (double)(rss1 - rss0) / (double)n, (double)(rss1 - rss0) / (double)raw);
	printf("  RSS growth compacted:     %.1f MiB, %.1f bytes/key, %.2fx raw (%.1f bytes/key over raw)\n",
	       (double)(rss2 - rss0) / 1048576, (double)(rss2 - rss0) / (double)n, (double)(rss2 - rss0) / (double)raw,
	       (double)(rss2 - rss0 - (long)raw) / (double)n);
	printf("  heap in use with history: %.1f bytes/key; compacted: %.1f bytes/key (%.1f over raw)\n",
	       (double)(heap1 - heap0) / (double)n, (double)(heap2 - heap0) / (double)n,
	       (double)(heap2 - heap0 - (long)raw) / (double)n);
	printf("  put %.0f/s, get %.0f/s (%ld found), compaction %.3f s (CPU)\n", (double)(n * per) / t_put,
	       (double)n / t_get, found, t_compact);
	mvcc_free(s);
	free(order);
	free(value);
	return 0;
}
