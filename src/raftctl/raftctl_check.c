/* src/raftctl/raftctl_check.c — `raftctl check perf`: qualify a cluster's
 * hardware with etcd's four load profiles, as `etcdctl check perf` does.
 *
 *   load  writes/s  clients     (for 60 s)
 *   s        150       50
 *   m       1000      200
 *   l       8000      500
 *   xl     15000     1000
 *
 * The writes (256-byte values, keys check-perf-0.. taken in turn from a
 * bounded key space, so the check does not grow the store without limit)
 * go to the leader at the profile's rate. PASS when the throughput reaches
 * 90% of the rate and the slowest request took at most 500 ms; etcd also
 * reports the latency's standard deviation (it fails above 100 ms), shown
 * here for reference. The keys are deleted afterwards (--keep to leave
 * them). The writes and the deletes follow the leader when it changes.
 * Exit 0 on PASS, 1 on FAIL.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_bench.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_loadgen.h"

static const struct profile {
	const char *name;
	double rate;
	unsigned clients;
} profiles[] = {
	{ "s", 150, 50 },
	{ "m", 1000, 200 },
	{ "l", 8000, 500 },
	{ "xl", 15000, 1000 },
};

#define SLOWEST_MS 500.0
#define MIN_RATE_SHARE 0.9

static void usage(FILE *out)
{
	fputs("usage: raftctl check perf [--load s|m|l|xl] [--duration D] [--keys K] [--keep]\n"
	      "\n"
	      "Writes to the leader at one of etcd's load profiles and says PASS or FAIL:\n"
	      "  s: 150 writes/s from 50 clients      m: 1000 writes/s from 200 clients\n"
	      "  l: 8000 writes/s from 500 clients    xl: 15000 writes/s from 1000 clients\n"
	      "for 60 s (--duration to change it). PASS: throughput at least 90% of the\n"
	      "rate and the slowest request within 500 ms. Values are 256 bytes, keys\n"
	      "check-perf-0 .. check-perf-(K-1) (default K 10000), deleted afterwards\n"
	      "unless --keep. Exit 0 on PASS, 1 on FAIL.\n",
	      out);
}

static int perf(int argc, char **argv)
{
	static const struct option opts[] = { { "load", required_argument, NULL, 'l' },
					      { "duration", required_argument, NULL, 'd' },
					      { "keys", required_argument, NULL, 'k' },
					      { "keep", no_argument, NULL, 'K' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const struct profile *p = &profiles[0];
	long long dur_ms = 60000;
	unsigned long long keys = 10000;
	bool keep = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			p = NULL;
			for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
				if (!strcmp(optarg, profiles[i].name))
					p = &profiles[i];
			if (!p)
				return raftctl_usage_error("check", "unknown --load '%s' (s, m, l or xl)", optarg);
			break;
		case 'd':
			if (raftctl_parse_duration_ms(optarg, &dur_ms) < 0 || dur_ms < 100)
				return raftctl_usage_error("check", "bad --duration '%s' (at least 100ms)", optarg);
			break;
		case 'k':
			if (raftctl_parse_u64(optarg, &keys) < 0 || keys < 1)
				return raftctl_usage_error("check", "bad --keys '%s'", optarg);
			break;
		case 'K': keep = true; break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error("check", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return raftctl_usage_error("check", "unexpected argument '%s'", argv[optind]);

	struct lg_config cfg = { .op = LG_PUT, .clients = p->clients, .duration_ms = (uint64_t)dur_ms,
				 .rate = p->rate, .keys = keys, .value_size = 256, .prefix = "check-perf-",
				 .timeout_ms = raftctl_g.timeout_ms };
	struct lg_result r;
	char name[128], err[2048];
	if (rc_bench_target(NULL, &cfg, name, sizeof(name), err, sizeof(err)) < 0)
		return raftctl_fail("check", "%s", err);
	if (!raftctl_g.json) {
		printf("check perf --load %s: %.0f writes/s from %u clients for %.1f s to %s (%s)\n", p->name, p->rate,
		       p->clients, (double)dur_ms / 1000, name, cfg.target.base);
		fflush(stdout);
	}
	if (lg_run(&cfg, &r, err, sizeof(err)) < 0)
		return raftctl_fail("check", "%s", err);

	/* throughput over the profile's duration, as etcd counts it */
	double secs = (double)dur_ms / 1000;
	double rate = r.elapsed_s > secs ? (double)r.ok / r.elapsed_s : (double)r.ok / secs;
	bool rate_ok = rate >= MIN_RATE_SHARE * p->rate;
	bool slow_ok = r.max <= SLOWEST_MS && r.failed == 0;
	bool pass = rate_ok && slow_ok;

	/* clean up: the keys written, deleted at full speed */
	bool cleaned = keep || rc_bench_cleanup(&cfg, &r, err, sizeof(err)) == 0;

	if (raftctl_g.json) {
		json_t *o = rc_bench_json(&cfg, &r, name);
		json_object_set_new(o, "load", json_string(p->name));
		json_object_set_new(o, "writes_per_s", json_real(rate));
		json_object_set_new(o, "throughput_pass", json_boolean(rate_ok));
		json_object_set_new(o, "slowest_pass", json_boolean(slow_ok));
		json_object_set_new(o, "pass", json_boolean(pass));
		json_object_set_new(o, "cleaned_up", json_boolean(cleaned));
		json_object_set_new(o, "leader_changes", json_integer(r.leader_changes));
		if (rc_emit(o))
			return 1;
	} else {
		if (rate_ok)
			printf("PASS: Throughput is %.0f writes/s\n", rate);
		else
			printf("FAIL: Throughput too low: %.0f writes/s (needs %.0f)\n", rate, MIN_RATE_SHARE * p->rate);
		if (r.failed)
			printf("FAIL: %llu writes failed (first: %s)\n", (unsigned long long)r.failed, r.first_error);
		if (r.max <= SLOWEST_MS)
			printf("PASS: Slowest request took %.6fs\n", r.max / 1000);
		else
			printf("FAIL: Slowest request took too long: %.6fs\n", r.max / 1000);
		if (r.leader_changes)
			printf("INFO: followed %u leader change%s\n", r.leader_changes, r.leader_changes == 1 ? "" : "s");
		printf("INFO: Stddev is %.6fs; p50 %.2f ms, p99 %.2f ms\n", r.stddev / 1000, r.p50, r.p99);
		if (!keep && !cleaned)
			printf("WARN: the check's keys were not all deleted: %s\n", err);
		printf("%s\n", pass ? "PASS" : "FAIL");
		if (fflush(stdout))
			return 1;
	}
	return pass ? 0 : 1;
}

int raftctl_check(int argc, char **argv)
{
	if (argc < 2)
		return raftctl_usage_error("check", "which check? (perf)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "perf"))
		return perf(argc - 1, argv + 1);
	return raftctl_usage_error("check", "unknown check '%s' (perf)", argv[1]);
}
