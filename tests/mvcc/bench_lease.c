/* tests/mvcc/bench_lease.c — the cost of the store's leases.
 *
 *   bench_lease [leases [keys_per_lease]]   defaults: 100000 1
 *
 * Grants `leases` leases (random positive IDs, as a leader picks them),
 * puts keys_per_lease keys with each ("lock/<n>/<i>", the shape of
 * etcd's lock and election keys), then revokes every lease. Prints the
 * heap bytes per lease of the table alone and of the attachments (against
 * the same keys put without a lease), and the CPU time per grant, per put
 * with a lease (and without one) and per revoke. Not a test: it asserts nothing. Build
 * without sanitizers for real figures.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/mvcc/mvcc.h"

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

static int64_t id_of(long i)
{
	/* distinct, scattered: a bijection of [0, 2^62) */
	return (int64_t)(((uint64_t)(i + 1) * UINT64_C(0x9E3779B97F4A7C15)) >> 2);
}

/* Puts the keys of every lease (lease 0: none); returns the CPU time. */
static double put_keys(struct mvcc *s, long n, long per, bool leased)
{
	char key[48];
	double t = cpu_s();
	for (long i = 0; i < n; i++)
		for (long j = 0; j < per; j++) {
			struct mvcc_result res;
			snprintf(key, sizeof(key), "lock/%ld/%ld", i, j);
			struct mvcc_op op = { .type = MVCC_OP_PUT,
					      .put = { .key = key, .key_len = strlen(key), .value = "", .value_len = 0,
						       .lease = leased ? id_of(i) : 0 } };
			if (mvcc_exec(s, &op, &res)) {
				fprintf(stderr, "put failed\n");
				exit(1);
			}
			mvcc_result_free(&res);
		}
	return cpu_s() - t;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long per = argc > 2 ? atol(argv[2]) : 1;
	if (n <= 0 || per < 0) {
		fprintf(stderr, "usage: bench_lease [leases [keys_per_lease]]\n");
		return 2;
	}

	/* the keys alone, for the difference */
	long h0 = heap_bytes();
	struct mvcc *plain = mvcc_new();
	double t_plain = put_keys(plain, n, per, false);
	long keys_only = heap_bytes() - h0;
	mvcc_free(plain);

	h0 = heap_bytes();
	struct mvcc *s = mvcc_new();
	double t = cpu_s();
	for (long i = 0; i < n; i++)
		if (mvcc_lease_grant(s, id_of(i), 60)) {
			fprintf(stderr, "grant failed\n");
			return 1;
		}
	double t_grant = cpu_s() - t;
	long table = heap_bytes() - h0;
	double t_put = put_keys(s, n, per, true);
	long attached = heap_bytes() - h0 - table - keys_only;
	t = cpu_s();
	for (long i = 0; i < n; i++) {
		struct mvcc_result res;
		if (mvcc_lease_revoke(s, id_of(i), &res)) {
			fprintf(stderr, "revoke failed\n");
			return 1;
		}
		mvcc_result_free(&res);
	}
	double t_revoke = cpu_s() - t;
	printf("leases %ld, keys per lease %ld\n", n, per);
	printf("heap per lease: table %.1f B, attachments %.1f B (beyond the keys' own %.1f B)\n", (double)table / n,
	       (double)attached / n, (double)keys_only / n);
	printf("cpu per grant %.0f ns, per put with a lease %.0f ns (without: %.0f ns), per revoke %.0f ns\n",
	       t_grant / n * 1e9, per ? t_put / (double)(n * per) * 1e9 : 0.0,
	       per ? t_plain / (double)(n * per) * 1e9 : 0.0, t_revoke / n * 1e9);
	printf("left: %zu leases, %zu keys, revision %ld\n", mvcc_lease_count(s), mvcc_count(s),
	       (long)mvcc_revision(s));
	mvcc_free(s);
	return 0;
}
