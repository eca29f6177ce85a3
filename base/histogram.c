/* base/histogram.c — see histogram.h. */
#include "base/histogram.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

const uint64_t hist_bound_ns[HIST_BUCKETS] = {
	100000,    250000,    500000,     1000000,    2500000,    5000000,    10000000,   25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

static const char *const le[HIST_BUCKETS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10",
};

int hist_format(const struct hist *h, const char *name, const char *labels, char *buf, size_t cap)
{
	const char *sep = labels && *labels ? "," : "";
	size_t len = 0;
	uint64_t cum = 0;
	int l;

	if (!labels)
		labels = "";
#define PUT(...)                                                                   \
	do {                                                                       \
		l = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, __VA_ARGS__); \
		if (l < 0)                                                         \
			return l;                                                  \
		len += (size_t)l;                                                  \
	} while (0)
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		cum += h->bucket[i];
		PUT("%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, le[i], cum);
	}
	PUT("%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, h->count);
	PUT("%s_sum%s%s%s %" PRIu64 ".%09" PRIu64 "\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
	    h->sum_ns / 1000000000, h->sum_ns % 1000000000);
	PUT("%s_count%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", h->count);
#undef PUT
	return (int)len;
}

uint64_t hist_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
