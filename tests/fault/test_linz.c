/* tests/fault/test_linz.c — the linearizability checker and the history
 * checks, on small hand-made histories whose verdict is known, and on
 * generated ones: histories built from a sequential execution are
 * linearizable by construction, and one planted anomaly makes them not.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fault/history.h"
#include "tests/fault/linz.h"
#include "tests/lib/check_main.h"

#define W(id, c, r) { LINZ_WRITE, (id), (c), (r), 0, false }
#define R(v, c, r) { LINZ_READ, (v), (c), (r), 0, false }
/* a CAS that swapped, one whose compare failed, one of unknown outcome */
#define CAS(exp, id, c, r) { LINZ_CAS, (id), (c), (r), (exp), false }
#define CASF(exp, id, c, r) { LINZ_CAS, (id), (c), (r), (exp), true }
#define NEVER LINZ_NEVER
#define INIT LINZ_INITIAL

static int run(const struct linz_op *ops, size_t n)
{
	return linz_check(ops, n, 0, NULL);
}

START_TEST(empty_and_sequential)
{
	ck_assert_int_eq(run(NULL, 0), LINZ_OK);
	const struct linz_op a[] = { R(INIT, 0, 1), W(1, 2, 3), R(1, 4, 5), W(2, 6, 7), R(2, 8, 9) };
	ck_assert_int_eq(run(a, 5), LINZ_OK);
	/* the order of the array does not matter, only the times */
	const struct linz_op b[] = { R(2, 8, 9), W(2, 6, 7), R(1, 4, 5), W(1, 2, 3), R(INIT, 0, 1) };
	ck_assert_int_eq(run(b, 5), LINZ_OK);
}
END_TEST

START_TEST(stale_reads)
{
	/* the initial value after a write returned */
	const struct linz_op a[] = { W(1, 0, 10), R(INIT, 20, 30) };
	ck_assert_int_eq(run(a, 2), LINZ_VIOLATION);
	/* an overwritten value after the overwrite returned */
	const struct linz_op b[] = { W(1, 0, 10), W(2, 20, 30), R(1, 40, 50) };
	ck_assert_int_eq(run(b, 3), LINZ_VIOLATION);
	/* a value before its write was invoked */
	const struct linz_op c[] = { R(1, 0, 10), W(1, 20, 30) };
	ck_assert_int_eq(run(c, 2), LINZ_VIOLATION);
	/* a value nobody wrote */
	const struct linz_op d[] = { W(1, 0, 10), R(LINZ_UNKNOWN, 20, 30) };
	ck_assert_int_eq(run(d, 2), LINZ_VIOLATION);
}
END_TEST

START_TEST(concurrency_allows_either)
{
	/* a read overlapping a write may see the old or the new value */
	const struct linz_op a[] = { W(1, 0, 10), W(2, 20, 40), R(1, 25, 35) };
	const struct linz_op b[] = { W(1, 0, 10), W(2, 20, 40), R(2, 25, 35) };
	ck_assert_int_eq(run(a, 3), LINZ_OK);
	ck_assert_int_eq(run(b, 3), LINZ_OK);
	/* but once a read saw the new value, a later read cannot see the old
	 * one (the new-old inversion) */
	const struct linz_op c[] = { W(1, 0, 10), W(2, 20, 100), R(2, 25, 35), R(1, 40, 50) };
	ck_assert_int_eq(run(c, 4), LINZ_VIOLATION);
	/* two concurrent writes: readers must agree on their order */
	const struct linz_op d[] = { W(1, 0, 100), W(2, 0, 100), R(1, 10, 20), R(2, 30, 40), R(1, 50, 60) };
	ck_assert_int_eq(run(d, 5), LINZ_VIOLATION);
	const struct linz_op e[] = { W(1, 0, 100), W(2, 0, 100), R(1, 10, 20), R(2, 30, 40), R(2, 50, 60) };
	ck_assert_int_eq(run(e, 5), LINZ_OK);
	/* equal times count as overlapping */
	const struct linz_op f[] = { W(1, 0, 10), R(1, 10, 20) };
	ck_assert_int_eq(run(f, 2), LINZ_OK);
}
END_TEST

START_TEST(unknown_outcome)
{
	/* a timed-out write seen long after: it happened */
	const struct linz_op a[] = { W(1, 0, NEVER), R(INIT, 10, 20), R(1, 1000, 1010) };
	ck_assert_int_eq(run(a, 3), LINZ_OK);
	/* seen, then the initial value again: it cannot un-happen */
	const struct linz_op b[] = { W(1, 0, NEVER), R(1, 10, 20), R(INIT, 30, 40) };
	ck_assert_int_eq(run(b, 3), LINZ_VIOLATION);
	/* not seen: dropped before the search (and never needed) */
	struct linz_report rep;
	const struct linz_op c[] = { W(1, 0, NEVER), W(2, 5, NEVER), R(INIT, 10, 20), W(3, 30, 40), R(3, 50, 60) };
	ck_assert_int_eq(linz_check(c, 5, 0, &rep), LINZ_OK);
	ck_assert_uint_eq(rep.ops_searched, 3);
	/* a timed-out write may also take effect after a later write */
	const struct linz_op d[] = { W(1, 0, NEVER), W(2, 10, 20), R(1, 30, 40) };
	ck_assert_int_eq(run(d, 3), LINZ_OK);
}
END_TEST

START_TEST(bad_input)
{
	const struct linz_op a[] = { W(1, 0, 10), W(1, 20, 30) };
	ck_assert_int_eq(run(a, 2), -EINVAL);
	const struct linz_op b[] = { R(INIT, 0, NEVER) };
	ck_assert_int_eq(run(b, 1), -EINVAL);
	const struct linz_op c[] = { W(1, 10, 5) };
	ck_assert_int_eq(run(c, 1), -EINVAL);
}
END_TEST

START_TEST(report_points_at_the_anomaly)
{
	const struct linz_op a[] = { W(1, 0, 10), R(1, 20, 30), W(2, 40, 50), R(1, 60, 70), R(2, 80, 90) };
	struct linz_report rep;
	ck_assert_int_eq(linz_check(a, 5, 0, &rep), LINZ_VIOLATION);
	ck_assert_uint_eq(rep.stuck_op, 3); /* the stale read */
	ck_assert_uint_eq(rep.best_prefix, 3);
}
END_TEST

/* --- generated histories ------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t x = (rng_state += 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* C clients, each running ops one after another; every op takes effect at a
 * point inside [call, ret] (a sequential execution in point order), so the
 * history is linearizable. Some writes lose their answer (NEVER). */
static size_t gen_kinds(struct linz_op *ops, size_t n, unsigned clients, uint64_t seed, bool cas);

static size_t gen(struct linz_op *ops, size_t n, unsigned clients, uint64_t seed)
{
	return gen_kinds(ops, n, clients, seed, false);
}

/* With cas, a third of the operations are CASes: at its point each one
 * compares with the value current there (it swaps) or with an older one
 * (its compare fails); some lose their answer. */
static size_t gen_kinds(struct linz_op *ops, size_t n, unsigned clients, uint64_t seed, bool cas)
{
	rng_state = seed;
	int64_t *t = calloc(clients, sizeof(*t));
	struct pt {
		int64_t at;
		size_t op;
	} *pts = malloc(n * sizeof(*pts));
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned)(rnd() % clients);
		int64_t call = t[c] + 1 + (int64_t)(rnd() % 50);
		int64_t point = call + 1 + (int64_t)(rnd() % 100);
		int64_t ret = point + 1 + (int64_t)(rnd() % 100);
		t[c] = ret;
		unsigned k = (unsigned)(rnd() % (cas ? 3 : 2));
		bool w = k != 1;
		ops[i] = (struct linz_op){ .kind = k == 0 ? LINZ_WRITE : k == 1 ? LINZ_READ : LINZ_CAS,
					   .value = w ? (int64_t)i : 0, .call = call, .ret = ret };
		if (w && rnd() % 20 == 0) {
			ops[i].ret = LINZ_NEVER;
			t[c] = point + 500; /* the client gave up and moved on */
		}
		pts[i] = (struct pt){ point, i };
	}
	/* execute in point order: reads get the value current at their point;
	 * points are distinct per client but may tie across clients: order by
	 * (point, op) consistently */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && (pts[j].at < pts[j - 1].at ||
					     (pts[j].at == pts[j - 1].at && pts[j].op < pts[j - 1].op));
		     j--) {
			struct pt x = pts[j];
			pts[j] = pts[j - 1];
			pts[j - 1] = x;
		}
	int64_t v = LINZ_INITIAL;
	size_t nwritten = 0;
	int64_t *written = malloc((n + 1) * sizeof(*written)); /* the values the register held */
	for (size_t i = 0; i < n; i++) {
		struct linz_op *o = &ops[pts[i].op];
		if (o->kind == LINZ_WRITE) {
			v = written[nwritten++] = o->value;
		} else if (o->kind == LINZ_READ) {
			o->value = v;
		} else if (rnd() % 2 || !nwritten) {
			o->expect = v;
			v = written[nwritten++] = o->value;
		} else {
			/* an older value, or the initial one */
			size_t back = (size_t)(rnd() % (nwritten + 1));
			o->expect = back == nwritten ? LINZ_INITIAL : written[back];
			if (o->expect == v) {
				v = written[nwritten++] = o->value;
			} else {
				o->cas_failed = true;
				if (o->ret == LINZ_NEVER)
					o->cas_failed = false; /* unknown: the model decides */
			}
		}
	}
	free(written);
	free(pts);
	free(t);
	return n;
}

START_TEST(generated_linearizable)
{
	enum { N = 3000 };
	static struct linz_op ops[N];
	for (uint64_t seed = 1; seed <= 20; seed++) {
		gen(ops, N, 1 + (unsigned)(seed % 8), seed);
		struct linz_report rep;
		int r = linz_check(ops, N, 0, &rep);
		ck_assert_msg(r == LINZ_OK, "seed %" PRIu64 ": %d (stuck at %zu)", seed, r, rep.stuck_op);
	}
}
END_TEST

START_TEST(generated_cas_linearizable)
{
	enum { N = 3000 };
	static struct linz_op ops[N];
	for (uint64_t seed = 1; seed <= 20; seed++) {
		gen_kinds(ops, N, 1 + (unsigned)(seed % 8), seed, true);
		struct linz_report rep;
		int r = linz_check(ops, N, 0, &rep);
		ck_assert_msg(r == LINZ_OK, "seed %" PRIu64 ": %d (stuck at %zu)", seed, r, rep.stuck_op);
	}
}
END_TEST

/* a CAS that swapped, and whose value a later read returned, reported as
 * "compare failed": refused */
START_TEST(generated_cas_with_a_flipped_outcome)
{
	enum { N = 2000 };
	static struct linz_op ops[N];
	for (uint64_t seed = 1; seed <= 20; seed++) {
		gen_kinds(ops, N, 6, seed, true);
		size_t flip = N;
		for (size_t i = 0; i < N && flip == N; i++) {
			if (ops[i].kind != LINZ_CAS || ops[i].cas_failed || ops[i].ret == LINZ_NEVER)
				continue;
			for (size_t j = 0; j < N && flip == N; j++)
				if (ops[j].kind == LINZ_READ && ops[j].value == ops[i].value)
					flip = i;
		}
		ck_assert_uint_lt(flip, N);
		ck_assert_int_eq(linz_check(ops, N, 0, NULL), LINZ_OK);
		ops[flip].cas_failed = true;
		ck_assert_int_eq(linz_check(ops, N, 0, NULL), LINZ_VIOLATION);
	}
}
END_TEST

START_TEST(generated_with_a_planted_anomaly)
{
	enum { N = 2000 };
	static struct linz_op ops[N];
	for (uint64_t seed = 1; seed <= 20; seed++) {
		gen(ops, N, 6, seed);
		/* a read that returns a write invoked only after the read returned */
		size_t r = 0, w = 0;
		for (size_t i = 0; i < N && !w; i++) {
			if (ops[i].kind != LINZ_READ || r)
				;
			else
				r = i + 1;
			if (r && ops[i].kind == LINZ_WRITE && ops[i].call > ops[r - 1].ret)
				w = i + 1;
		}
		ck_assert(r && w);
		ops[r - 1].value = ops[w - 1].value;
		ck_assert_int_eq(linz_check(ops, N, 0, NULL), LINZ_VIOLATION);
	}
}
END_TEST

START_TEST(memory_limit)
{
	enum { N = 3000 };
	static struct linz_op ops[N];
	gen(ops, N, 8, 7);
	ck_assert_int_eq(linz_check(ops, N, 4096, NULL), LINZ_LIMIT);
}
END_TEST

/* the compare-and-swap of etcd's Txn (compare, then put) */
START_TEST(cas_model)
{
	/* consistent outcomes pass */
	const struct linz_op a[] = { W(1, 0, 10), CAS(1, 2, 20, 30), R(2, 40, 50), CASF(1, 3, 60, 70), R(2, 80, 90) };
	ck_assert_int_eq(run(a, 5), LINZ_OK);
	const struct linz_op b[] = { CAS(INIT, 1, 0, 10), CASF(INIT, 2, 20, 30), R(1, 40, 50) };
	ck_assert_int_eq(run(b, 3), LINZ_OK);
	/* two swaps from the same value, one after the other: refused */
	const struct linz_op c[] = { W(1, 0, 10), CAS(1, 2, 20, 30), CAS(1, 3, 40, 50) };
	ck_assert_int_eq(run(c, 3), LINZ_VIOLATION);
	/* concurrent, one of them must have failed: then it passes */
	const struct linz_op d[] = { W(1, 0, 10), CAS(1, 2, 20, 50), CAS(1, 3, 20, 50) };
	ck_assert_int_eq(run(d, 3), LINZ_VIOLATION);
	const struct linz_op e[] = { W(1, 0, 10), CAS(1, 2, 20, 50), CASF(1, 3, 20, 50), R(2, 60, 70) };
	ck_assert_int_eq(run(e, 4), LINZ_OK);
	/* a compare that failed while the register held its value: refused */
	const struct linz_op f[] = { W(1, 0, 10), CASF(1, 2, 20, 30) };
	ck_assert_int_eq(run(f, 2), LINZ_VIOLATION);
	/* ... unless a write of unknown outcome, which nothing read, may have
	 * come between: it must not be dropped */
	const struct linz_op g[] = { W(1, 0, 10), W(3, 5, NEVER), CASF(1, 2, 20, 30) };
	ck_assert_int_eq(run(g, 3), LINZ_OK);
	/* a swap whose compare could not have held */
	const struct linz_op h[] = { W(1, 0, 10), W(5, 12, 15), CAS(1, 2, 20, 30) };
	ck_assert_int_eq(run(h, 3), LINZ_VIOLATION);
	/* a read of the value of a CAS whose compare failed */
	const struct linz_op i[] = { W(1, 0, 10), CASF(7, 2, 20, 30), R(2, 40, 50) };
	ck_assert_int_eq(run(i, 3), LINZ_VIOLATION);
}
END_TEST

START_TEST(cas_unknown_outcome)
{
	/* a timed-out CAS seen later: it swapped, from the value it expected */
	const struct linz_op a[] = { W(1, 0, 10), CAS(1, 2, 20, NEVER), R(2, 40, 50) };
	ck_assert_int_eq(run(a, 3), LINZ_OK);
	/* ... which was gone before it was invoked: it cannot have */
	const struct linz_op b[] = { W(1, 0, 10), W(5, 12, 15), CAS(1, 2, 20, NEVER), R(2, 40, 50) };
	ck_assert_int_eq(run(b, 4), LINZ_VIOLATION);
	/* a chain of unknowns: the unknown write the CAS compared with stays */
	const struct linz_op c[] = { W(1, 0, NEVER), CAS(1, 2, 20, NEVER), R(2, 40, 50) };
	ck_assert_int_eq(run(c, 3), LINZ_OK);
	/* unseen: it may not have happened (the initial value stays) */
	const struct linz_op d[] = { CAS(INIT, 1, 0, NEVER), R(INIT, 20, 30) };
	ck_assert_int_eq(run(d, 2), LINZ_OK);
	/* a failed compare has no unknown form */
	const struct linz_op e[] = { CASF(INIT, 1, 0, NEVER) };
	ck_assert_int_eq(run(e, 1), -EINVAL);
	/* CAS values share the write ids' space */
	const struct linz_op f[] = { W(1, 0, 10), CAS(1, 1, 20, 30) };
	ck_assert_int_eq(run(f, 2), -EINVAL);
}
END_TEST

/* --- history checks -------------------------------------------------------- */

static int check_text(const char *text, struct history_result *res, char *report, size_t len)
{
	struct history h = { 0 };
	char err[256] = "";
	char *copy = strdup(text), *save = NULL;
	size_t lineno = 0;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		ck_assert_msg(history_add_line(&h, l, ++lineno, err, sizeof(err)) == 0, "%s", err);
	free(copy);
	FILE *out = fmemopen(report, len, "w");
	int rv = history_check(&h, out, 0, res);
	fclose(out);
	history_free(&h);
	return rv;
}

START_TEST(history_clean_run)
{
	struct history_result r;
	char rep[4096] = "";
	const char *t = "# two keys, three nodes\n"
			"O 0 W k a ok 10 20 0\n"
			"O 1 W k b info 15 -1 0\n"
			"O 2 R k a ok 21 30 0\n"
			"O 0 L k - ok 1 2 1\n"
			"O 0 W u1 x ok 40 50 0\n"
			"O 1 W u2 y fail 40 50 2\n"
			"O 2 L u1 x ok 45 60 2\n"
			"F 0 k b\nF 1 k b\nF 2 k b\n"
			"F 0 u1 x\nF 1 u1 x\nF 2 u1 x\n"
			"F 0 u2 -\nF 1 u2 -\nF 2 u2 -\n";
	ck_assert_int_eq(check_text(t, &r, rep, sizeof(rep)), 0);
	ck_assert_msg(rep[0] == 0, "%s", rep);
	ck_assert_uint_eq(r.ops, 7);
	ck_assert_uint_eq(r.writes_ok, 2);
	ck_assert_uint_eq(r.writes_fail, 1);
	ck_assert_uint_eq(r.writes_info, 1);
	ck_assert_uint_eq(r.keys, 3);
	ck_assert_uint_eq(r.final_nodes, 3);
}
END_TEST

START_TEST(history_lost_write)
{
	struct history_result r;
	char rep[4096] = "";
	/* u1's acknowledged write is gone; k ends with a value written before
	 * the acknowledged b */
	const char *t = "O 0 W u1 x ok 40 50 0\n"
			"O 0 W k a ok 10 20 0\n"
			"O 0 W k b ok 30 35 0\n"
			"F 0 u1 -\nF 1 u1 -\n"
			"F 0 k a\nF 1 k a\n";
	ck_assert_int_eq(check_text(t, &r, rep, sizeof(rep)), 1);
	ck_assert_uint_eq(r.lost, 2);
	ck_assert_ptr_nonnull(strstr(rep, "lost: key u1"));
	ck_assert_ptr_nonnull(strstr(rep, "lost: key k"));
	/* overwritten by a later acknowledged write is not lost */
	const char *t2 = "O 0 W k a ok 10 20 0\nO 1 W k b ok 15 25 0\nF 0 k a\n";
	ck_assert_int_eq(check_text(t2, &r, rep, sizeof(rep)), 0);
}
END_TEST

START_TEST(history_divergence_and_bad_reads)
{
	struct history_result r;
	char rep[4096] = "";
	ck_assert_int_eq(check_text("O 0 W k a ok 10 20 0\nF 0 k a\nF 1 k -\n", &r, rep, sizeof(rep)), 1);
	ck_assert_uint_eq(r.diverged, 1);
	ck_assert_uint_eq(r.lost, 1);
	/* a local read of a write that failed */
	ck_assert_int_eq(check_text("O 0 W k a fail 10 20 0\nO 1 L k a ok 30 40 1\n", &r, rep, sizeof(rep)), 1);
	ck_assert_uint_eq(r.bad_local, 1);
	/* a consistent read of it: not linearizable */
	ck_assert_int_eq(check_text("O 0 W k a fail 10 20 0\nO 1 R k a ok 30 40 1\n", &r, rep, sizeof(rep)), 1);
	ck_assert_uint_eq(r.violations, 1);
	ck_assert_ptr_nonnull(strstr(rep, "not linearizable"));
	/* a stale local read is allowed, a stale consistent read is not */
#define STALE(kind) "O 0 W k a ok 10 20 0\nO 0 W k b ok 30 40 0\nO 1 " kind " k a ok 50 60 1\n"
	ck_assert_int_eq(check_text(STALE("L"), &r, rep, sizeof(rep)), 0);
	ck_assert_int_eq(check_text(STALE("R"), &r, rep, sizeof(rep)), 1);
	/* a key nobody reported at the end */
	ck_assert_int_eq(check_text("O 0 W k a ok 10 20 0\nO 0 W j b ok 10 20 0\nF 0 k a\n", &r, rep, sizeof(rep)),
			 1);
	ck_assert_uint_eq(r.diverged, 1);
}
END_TEST

/* v3 records: the two APIs on one key, CASes of both compare kinds */
START_TEST(history_v3)
{
	struct history_result r;
	char rep[4096] = "";
	const char *t = "O 0 W k a ok 10 20 0\n"
			"O 1 C k a>b>t ok 30 40 0\n"
			"O 2 M k a>c>f ok 50 60 1\n"
			"O 0 G k b ok 70 80 0\n"
			"O 1 P k d ok 90 100 2\n"
			"O 2 R k d ok 110 120 0\n"
			"O 0 C k d>e>- info 130 -1 0\n"
			"O 1 M k ->f>- fail 130 140 0\n"
			"F 0 k e\nF 1 k e\n";
	ck_assert_int_eq(check_text(t, &r, rep, sizeof(rep)), 0);
	ck_assert_msg(rep[0] == 0, "%s", rep);
	ck_assert_uint_eq(r.writes_ok, 3);
	ck_assert_uint_eq(r.v3_puts_ok, 1);
	ck_assert_uint_eq(r.v3_txns_swapped, 1);
	ck_assert_uint_eq(r.v3_txns_not, 1);
	ck_assert_uint_eq(r.v3_ranges_ok, 1);
	ck_assert_uint_eq(r.reads_ok, 2);
	/* two swaps from a, one after the other (a /db write, then
	 * value and mod_revision compares): not linearizable */
	const char *t2 = "O 0 W k a ok 10 20 0\nO 1 C k a>b>t ok 30 40 0\nO 2 M k a>c>t ok 50 60 1\n";
	ck_assert_int_eq(check_text(t2, &r, rep, sizeof(rep)), 1);
	ck_assert_ptr_nonnull(strstr(rep, "not linearizable"));
	/* a compare that failed though nothing else wrote */
	const char *t3 = "O 0 P k a ok 10 20 0\nO 1 C k a>b>f ok 30 40 0\n";
	ck_assert_int_eq(check_text(t3, &r, rep, sizeof(rep)), 1);
	/* a node ends with the value of a CAS whose compare failed */
	const char *t4 = "O 0 P k a ok 10 20 0\nO 1 M k x>b>f ok 30 40 0\nF 0 k b\n";
	ck_assert_int_eq(check_text(t4, &r, rep, sizeof(rep)), 1);
	ck_assert_ptr_nonnull(strstr(rep, "not a value that write could leave"));
	/* an acknowledged swap lost */
	const char *t5 = "O 0 P k a ok 10 20 0\nO 1 C k a>b>t ok 30 40 0\nF 0 k a\n";
	ck_assert_int_eq(check_text(t5, &r, rep, sizeof(rep)), 1);
	ck_assert_uint_eq(r.lost, 1);
}
END_TEST

START_TEST(history_bad_lines)
{
	struct history h = { 0 };
	char err[256];
	ck_assert_int_eq(history_add_line(&h, "O 0 W k a ok 10 20", 1, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "O 0 X k a ok 10 20 0", 2, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "O 0 W k a info 10 20 0", 3, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "O 0 W k a ok 10 -1 0", 4, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "Z", 5, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "# fine", 6, err, sizeof(err)), 0);
	ck_assert_int_eq(history_add_line(&h, "O 0 C k a>b ok 10 20 0", 7, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "O 0 C k a>b>t info 10 -1 0", 8, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "O 0 M k a>b>- ok 10 20 0", 9, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(history_add_line(&h, "O 0 C k >b>t ok 10 20 0", 10, err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(h.n, 0);
	history_free(&h);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("fault-checker");
	TCase *tc = tcase_create("linz");
	tcase_add_test(tc, empty_and_sequential);
	tcase_add_test(tc, stale_reads);
	tcase_add_test(tc, concurrency_allows_either);
	tcase_add_test(tc, unknown_outcome);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, report_points_at_the_anomaly);
	tcase_add_test(tc, generated_linearizable);
	tcase_add_test(tc, generated_with_a_planted_anomaly);
	tcase_add_test(tc, memory_limit);
	tcase_add_test(tc, cas_model);
	tcase_add_test(tc, cas_unknown_outcome);
	tcase_add_test(tc, generated_cas_linearizable);
	tcase_add_test(tc, generated_cas_with_a_flipped_outcome);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("history");
	tcase_add_test(th, history_clean_run);
	tcase_add_test(th, history_lost_write);
	tcase_add_test(th, history_divergence_and_bad_reads);
	tcase_add_test(th, history_v3);
	tcase_add_test(th, history_bad_lines);
	suite_add_tcase(s, th);
	return s;
}
