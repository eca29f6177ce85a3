/* base/histogram.h — latency histograms for /metrics, in Prometheus's
 * shape (cumulative buckets of seconds, _sum, _count).
 *
 * An observation is a few compares and three increments: no lock (each
 * histogram belongs to the one thread of the node's event loop), no
 * allocation. The buckets are fixed and shared by every histogram, from
 * 100 µs to 10 s, so that a fast fdatasync and a slow commit both land in
 * a bucket that tells them apart.
 */
#ifndef RAFTD_BASE_HISTOGRAM_H
#define RAFTD_BASE_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HIST_BUCKETS 16

struct hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t bucket[HIST_BUCKETS]; /* not cumulative: le the bound, gt the one before */
};

/* Upper bounds of the buckets in ns, ascending (the last bucket, +Inf, is count). */
extern const uint64_t hist_bound_ns[HIST_BUCKETS];

static inline void hist_observe(struct hist *h, uint64_t ns)
{
	unsigned i = 0;
	while (i < HIST_BUCKETS && ns > hist_bound_ns[i])
		i++;
	if (i < HIST_BUCKETS)
		h->bucket[i]++;
	h->count++;
	h->sum_ns += ns;
}

/* Writes the series of one histogram in the text exposition format:
 * NAME_bucket{LABELS,le="..."} for every bound and +Inf, NAME_sum{LABELS}
 * in seconds, NAME_count{LABELS}. labels: NULL or "" or 'a="x",b="y"'
 * (already escaped). Returns what snprintf would: the length it needed. */
int hist_format(const struct hist *h, const char *name, const char *labels, char *buf, size_t cap);

/* The monotonic clock in ns, for the start and end of what is measured. */
uint64_t hist_now_ns(void);

#endif
