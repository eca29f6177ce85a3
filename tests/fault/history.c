/* tests/fault/history.c — see history.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fault/history.h"
#include "tests/fault/linz.h"

static int failf(char *err, size_t len, size_t lineno, const char *what)
{
	snprintf(err, len, "line %zu: %s", lineno, what);
	return -EINVAL;
}

int history_add_line(struct history *h, const char *line, size_t lineno, char *err, size_t err_len)
{
	char *f[10], *save = NULL, *copy = strdup(line);
	int nf = 0, rv = 0;
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, " \t\r\n", &save); t && nf < 10; t = strtok_r(NULL, " \t\r\n", &save))
		f[nf++] = t;
	if (nf == 0 || f[0][0] == '#')
		goto out;
	if (!strcmp(f[0], "O")) {
		if (nf != 9) {
			rv = failf(err, err_len, lineno, "an O record has 9 fields");
			goto out;
		}
		struct hop o = { .client = atoi(f[1]), .kind = f[2][0], .node = atoi(f[8]), .line = lineno };
		if (strlen(f[2]) != 1 || !strchr("WRLPGCM", o.kind)) {
			rv = failf(err, err_len, lineno, "KIND is W, R, L, P, G, C or M");
			goto out;
		}
		if (!strcmp(f[5], "ok"))
			o.st = HOP_OK;
		else if (!strcmp(f[5], "fail"))
			o.st = HOP_FAIL;
		else if (!strcmp(f[5], "info"))
			o.st = HOP_INFO;
		else {
			rv = failf(err, err_len, lineno, "STATUS is ok, fail or info");
			goto out;
		}
		char *end;
		o.call = strtoll(f[6], &end, 10);
		if (*end) {
			rv = failf(err, err_len, lineno, "bad CALL");
			goto out;
		}
		o.ret = strtoll(f[7], &end, 10);
		if (*end || (o.st == HOP_INFO) != (o.ret == -1) || (o.ret != -1 && o.ret < o.call)) {
			rv = failf(err, err_len, lineno, "RET is -1 exactly for info, else >= CALL");
			goto out;
		}
		if (h->n == h->cap) {
			size_t cap = h->cap ? h->cap * 2 : 1024;
			struct hop *p = realloc(h->ops, cap * sizeof(*p));
			if (!p) {
				rv = -ENOMEM;
				goto out;
			}
			h->ops = p;
			h->cap = cap;
		}
		const char *value = f[4];
		char *gt1 = NULL;
		if (hop_is_cas(o.kind)) {
			/* EXPECT>NEW>RESULT */
			char *gt2;
			gt1 = strchr(f[4], '>');
			gt2 = gt1 ? strchr(gt1 + 1, '>') : NULL;
			if (!gt1 || !gt2 || gt1 == f[4] || gt2 == gt1 + 1 || strlen(gt2) != 2 || !strchr("tf-", gt2[1]) ||
			    (gt2[1] == '-') != (o.st != HOP_OK)) {
				rv = failf(err, err_len, lineno, "a CAS's VALUE is EXPECT>NEW>t|f (ok) or EXPECT>NEW>-");
				goto out;
			}
			*gt1 = *gt2 = 0;
			o.cas = gt2[1];
			value = gt1 + 1;
		}
		o.key = strdup(f[3]);
		o.value = strdup(value);
		o.expect = gt1 ? strdup(f[4]) : NULL;
		if (!o.key || !o.value || (gt1 && !o.expect)) {
			free(o.key);
			free(o.value);
			free(o.expect);
			rv = -ENOMEM;
			goto out;
		}
		h->ops[h->n++] = o;
	} else if (!strcmp(f[0], "F")) {
		if (nf != 4) {
			rv = failf(err, err_len, lineno, "an F record has 4 fields");
			goto out;
		}
		if (h->nfin == h->fincap) {
			size_t cap = h->fincap ? h->fincap * 2 : 1024;
			struct hfinal *p = realloc(h->fin, cap * sizeof(*p));
			if (!p) {
				rv = -ENOMEM;
				goto out;
			}
			h->fin = p;
			h->fincap = cap;
		}
		struct hfinal fv = { .node = atoi(f[1]), .key = strdup(f[2]), .value = strdup(f[3]) };
		if (!fv.key || !fv.value) {
			free(fv.key);
			free(fv.value);
			rv = -ENOMEM;
			goto out;
		}
		h->fin[h->nfin++] = fv;
	} else {
		rv = failf(err, err_len, lineno, "a record starts with O or F");
	}
out:
	free(copy);
	return rv;
}

int history_load(struct history *h, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	int rv = 0;
	if (!f) {
		rv = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return rv;
	}
	while (getline(&line, &cap, f) > 0) {
		rv = history_add_line(h, line, ++lineno, err, err_len);
		if (rv < 0)
			break;
	}
	free(line);
	fclose(f);
	return rv;
}

void history_free(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->ops[i].key);
		free(h->ops[i].value);
		free(h->ops[i].expect);
	}
	for (size_t i = 0; i < h->nfin; i++) {
		free(h->fin[i].key);
		free(h->fin[i].value);
	}
	free(h->ops);
	free(h->fin);
	memset(h, 0, sizeof(*h));
}

/* --- checks ---------------------------------------------------------------- */

static const struct history *sort_h; /* qsort has no context argument */

static int cmp_by_key_call(const void *a, const void *b)
{
	const struct hop *x = &sort_h->ops[*(const size_t *)a], *y = &sort_h->ops[*(const size_t *)b];
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->call < y->call ? -1 : x->call > y->call;
}

static int cmp_by_value(const void *a, const void *b)
{
	return strcmp(sort_h->ops[*(const size_t *)a].value, sort_h->ops[*(const size_t *)b].value);
}

static int cmp_final(const void *a, const void *b)
{
	const struct hfinal *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->node - y->node;
}

static const char *st_name(enum hop_status s)
{
	return s == HOP_OK ? "ok" : s == HOP_FAIL ? "fail" : "info";
}

static void print_op(FILE *out, const struct hop *o)
{
	fprintf(out, "line %zu: O %d %c %s ", o->line, o->client, o->kind, o->key);
	if (o->expect)
		fprintf(out, "%s>%s>%c", o->expect, o->value, o->cas);
	else
		fputs(o->value, out);
	fprintf(out, " %s %" PRId64 " %" PRId64 " %d", st_name(o->st), o->call, o->ret, o->node);
}

/* a write whose value the store never took: refused, or a CAS whose
 * compare failed */
static bool never_written(const struct hop *o)
{
	return o->st == HOP_FAIL || o->cas == 'f';
}

/* The write that wrote value (index into ops), or -1. */
static ptrdiff_t writer_of(const struct history *h, const size_t *by_value, size_t nw, const char *value)
{
	size_t lo = 0, hi = nw;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(h->ops[by_value[mid]].value, value);
		if (!c)
			return (ptrdiff_t)by_value[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* the range of by_key holding key */
static void key_range(const struct history *h, const size_t *by_key, const char *key, size_t *lo_out,
		      size_t *hi_out)
{
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(h->ops[by_key[mid]].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < h->n && !strcmp(h->ops[by_key[end]].key, key))
		end++;
	*lo_out = lo;
	*hi_out = end;
}

static int check_key(const struct history *h, const size_t *ix, size_t n, const size_t *by_value, size_t nw,
		     FILE *out, size_t max_bytes, struct history_result *res)
{
	struct linz_op *lo = malloc((n + 1) * sizeof(*lo));
	size_t *src = malloc((n + 1) * sizeof(*src));
	size_t m = 0;
	int rv = 0;
	if (!lo || !src) {
		rv = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct hop *o = &h->ops[ix[i]];
		if (hop_is_write(o->kind) && o->st != HOP_FAIL) {
			lo[m] = (struct linz_op){ .kind = hop_is_cas(o->kind) ? LINZ_CAS : LINZ_WRITE,
						  .value = (int64_t)ix[i],
						  .call = o->call,
						  .ret = o->st == HOP_INFO ? LINZ_NEVER : o->ret };
			if (lo[m].ret == lo[m].call)
				lo[m].ret++;
			if (hop_is_cas(o->kind)) {
				lo[m].cas_failed = o->cas == 'f';
				lo[m].expect = LINZ_INITIAL;
				if (strcmp(o->expect, "-") != 0) {
					/* a value no write of this key had: no state
					 * equals it (a swap on it cannot linearize) */
					ptrdiff_t w = writer_of(h, by_value, nw, o->expect);
					lo[m].expect = w >= 0 && !strcmp(h->ops[w].key, o->key) ? (int64_t)w : LINZ_UNKNOWN;
				}
			}
			src[m++] = ix[i];
			continue;
		}
		if (o->st != HOP_OK || hop_is_write(o->kind))
			continue;
		int64_t v = LINZ_INITIAL;
		const char *why = NULL;
		if (strcmp(o->value, "-") != 0) {
			ptrdiff_t w = writer_of(h, by_value, nw, o->value);
			if (w < 0)
				why = "a value never written";
			else if (strcmp(h->ops[w].key, o->key) != 0)
				why = "a value written to another key";
			else if (h->ops[w].st == HOP_FAIL)
				why = "the value of a write that failed";
			else if (h->ops[w].cas == 'f')
				why = "the value of a CAS whose compare failed";
			else if (h->ops[w].call > o->ret)
				why = "a value written only after the read returned";
			v = why ? LINZ_UNKNOWN : (int64_t)w;
		}
		if (o->kind == 'L') {
			if (why) {
				fprintf(out, "violation: key %s: a local read returned %s: ", o->key, why);
				print_op(out, o);
				fputc('\n', out);
				res->bad_local++;
				res->violations++;
			}
			continue;
		}
		if (why) {
			fprintf(out, "violation: key %s: a consistent read returned %s: ", o->key, why);
			print_op(out, o);
			fputc('\n', out);
		}
		lo[m] = (struct linz_op){ .kind = LINZ_READ, .value = v, .call = o->call,
					  .ret = o->ret == o->call ? o->ret + 1 : o->ret };
		src[m++] = ix[i];
	}
	struct linz_report rep;
	int r = linz_check(lo, m, max_bytes, &rep);
	if (r < 0) {
		fprintf(out, "error: key %s: linz_check: %s\n", h->ops[ix[0]].key, strerror(-r));
		rv = r;
	} else if (r == LINZ_VIOLATION) {
		res->violations++;
		fprintf(out,
			"violation: key %s: not linearizable (%zu operations searched, %zu configurations); "
			"the longest linearizable prefix has %zu; stuck at ",
			h->ops[ix[0]].key, rep.ops_searched, rep.explored, rep.best_prefix);
		print_op(out, &h->ops[src[rep.stuck_op]]);
		fputc('\n', out);
	} else if (r == LINZ_LIMIT) {
		res->undecided++;
		fprintf(out, "undecided: key %s: the search hit its memory limit (%zu operations, %zu configurations)\n",
			h->ops[ix[0]].key, rep.ops_searched, rep.explored);
	}
out:
	free(src);
	free(lo);
	return rv;
}

int history_check(struct history *h, FILE *out, size_t max_bytes, struct history_result *res)
{
	memset(res, 0, sizeof(*res));
	size_t *by_key = malloc((h->n + 1) * sizeof(*by_key));
	size_t *by_value = malloc((h->n + 1) * sizeof(*by_value));
	bool *lost = calloc(h->n + 1, sizeof(*lost));
	int rv = 0;
	if (!by_key || !by_value || !lost) {
		rv = -ENOMEM;
		goto out;
	}
	size_t nw = 0;
	res->ops = h->n;
	for (size_t i = 0; i < h->n; i++) {
		const struct hop *o = &h->ops[i];
		by_key[i] = i;
		if (hop_is_write(o->kind)) {
			by_value[nw++] = i;
			res->writes_ok += o->st == HOP_OK && o->cas != 'f';
			res->writes_fail += o->st == HOP_FAIL;
			res->writes_info += o->st == HOP_INFO;
			res->v3_puts_ok += o->st == HOP_OK && o->kind == 'P';
			res->v3_txns_swapped += o->st == HOP_OK && o->cas == 't';
			res->v3_txns_not += o->st == HOP_OK && o->cas == 'f';
		} else if (o->st == HOP_OK) {
			res->reads_ok += hop_is_cread(o->kind);
			res->lreads_ok += o->kind == 'L';
			res->v3_ranges_ok += o->kind == 'G';
		}
	}
	sort_h = h;
	qsort(by_key, h->n, sizeof(*by_key), cmp_by_key_call);
	qsort(by_value, nw, sizeof(*by_value), cmp_by_value);
	for (size_t i = 1; i < nw; i++) {
		if (!strcmp(h->ops[by_value[i]].value, h->ops[by_value[i - 1]].value)) {
			fprintf(out, "error: value %s written twice (the checker needs unique values)\n",
				h->ops[by_value[i]].value);
			res->violations++;
		}
	}

	/* each key: linearizability, local reads */
	for (size_t i = 0; i < h->n;) {
		size_t j = i;
		while (j < h->n && !strcmp(h->ops[by_key[j]].key, h->ops[by_key[i]].key))
			j++;
		res->keys++;
		rv = check_key(h, by_key + i, j - i, by_value, nw, out, max_bytes, res);
		if (rv < 0)
			goto out;
		i = j;
	}

	/* final values: convergence and lost acknowledged writes */
	if (h->nfin)
		qsort(h->fin, h->nfin, sizeof(*h->fin), cmp_final);
	int max_node = -1;
	for (size_t i = 0; i < h->nfin; i++)
		max_node = h->fin[i].node > max_node ? h->fin[i].node : max_node;
	bool *seen = calloc((size_t)max_node + 2, sizeof(*seen));
	if (!seen) {
		rv = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < h->nfin; i++) {
		if (!seen[h->fin[i].node])
			res->final_nodes++;
		seen[h->fin[i].node] = true;
	}
	free(seen);
	for (size_t i = 0; i < h->nfin;) {
		size_t j = i;
		const char *key = h->fin[i].key;
		while (j < h->nfin && !strcmp(h->fin[j].key, key))
			j++;
		bool same = j - i == res->final_nodes;
		for (size_t k = i + 1; k < j; k++)
			same = same && !strcmp(h->fin[k].value, h->fin[i].value);
		if (!same) {
			res->diverged++;
			fprintf(out, "diverged: key %s:", key);
			for (size_t k = i; k < j; k++)
				fprintf(out, " node %d has %s;", h->fin[k].node, h->fin[k].value);
			fprintf(out, " (%zu of %zu nodes answered)\n", j - i, res->final_nodes);
		}
		size_t lo, hi;
		key_range(h, by_key, key, &lo, &hi);
		for (size_t k = i; k < j; k++) {
			const char *v = h->fin[k].value;
			ptrdiff_t f = strcmp(v, "-") ? writer_of(h, by_value, nw, v) : -1;
			if (strcmp(v, "-") && (f < 0 || strcmp(h->ops[f].key, key) || never_written(&h->ops[f]))) {
				fprintf(out, "violation: key %s: node %d ends with %s, %s\n", key, h->fin[k].node, v,
					f < 0 ? "a value never written" : "not a value that write could leave");
				res->violations++;
				continue;
			}
			for (size_t q = lo; q < hi; q++) {
				const struct hop *w = &h->ops[by_key[q]];
				if (!hop_is_write(w->kind) || w->st != HOP_OK || w->cas == 'f' || lost[by_key[q]])
					continue;
				if (f < 0 || (h->ops[f].st == HOP_OK && h->ops[f].ret < w->call)) {
					lost[by_key[q]] = true;
					res->lost++;
					fprintf(out, "lost: key %s: node %d ends with %s, but this write was acknowledged: ",
						key, h->fin[k].node, v);
					print_op(out, w);
					fputc('\n', out);
				}
			}
		}
		i = j;
	}
	/* a key written but never read back at the end */
	if (res->final_nodes) {
		for (size_t i = 0; i < h->n;) {
			size_t j = i;
			while (j < h->n && !strcmp(h->ops[by_key[j]].key, h->ops[by_key[i]].key))
				j++;
			struct hfinal probe = { .key = h->ops[by_key[i]].key, .node = -1 };
			size_t lo = 0, hi = h->nfin;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (cmp_final(&h->fin[mid], &probe) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo >= h->nfin || strcmp(h->fin[lo].key, probe.key)) {
				res->diverged++;
				fprintf(out, "diverged: key %s: no node reported a final value\n", probe.key);
			}
			i = j;
		}
	}
	rv = res->violations || res->lost || res->diverged || res->undecided ? 1 : 0;
out:
	free(lost);
	free(by_value);
	free(by_key);
	return rv;
}
