/* src/raftctl/raftctl_bench.c — `raftctl bench`: a load generator for raftd
 * (and goraft raftd: it speaks only the goraft client API for put and get).
 *
 * Writes go to the leader; reads to --node if given, else the leader too.
 * Prints the throughput and the latency percentiles; -o json gives the same
 * as one object, for the benchmark scripts.
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

static void usage(FILE *out)
{
	fputs("usage: raftctl bench [OPTIONS]\n"
	      "\n"
	      "  -c, --clients N       connections, one request in flight on each (default 50)\n"
	      "  -n, --requests M      requests in all (default 10000)\n"
	      "  -d, --duration D      run for D (e.g. 30s) instead of a number of requests\n"
	      "  -r, --rate R          at most R requests/s for all clients (default: as fast\n"
	      "                        as they are answered)\n"
	      "  -k, --keys K          distinct keys, written in turn (default 1000)\n"
	      "  -s, --value-size B    bytes per value (default 256)\n"
	      "      --op put|get|delete  the request (default put)\n"
	      "      --consistent      get: linearizable reads (through the leader)\n"
	      "      --prefix P        key prefix (default bench-)\n"
	      "      --node NODE       send to NODE (a member name or URL) instead of the leader\n"
	      "      --keep            put: leave the keys written (default: deleted at the end)\n"
	      "\n"
	      "Without --node the load follows the leader when it changes.\n"
	      "Prints requests done and failed, throughput, and latency p50/p90/p99/max.\n"
	      "Exit 1 when any request failed.\n",
	      out);
}

void rc_bench_print(const struct lg_config *cfg, const struct lg_result *r, const char *node)
{
	printf("%s: %llu ok, %llu failed in %.2f s, %u clients, %llu keys, %zu-byte values -> %s (%s)\n",
	       lg_op_name(cfg->op), (unsigned long long)r->ok, (unsigned long long)r->failed, r->elapsed_s,
	       cfg->clients, (unsigned long long)cfg->keys, cfg->value_size, node, cfg->target.base);
	printf("throughput: %.1f requests/s\n", r->throughput);
	printf("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (mean %.2f, stddev %.2f)\n", r->p50, r->p90,
	       r->p99, r->max, r->mean, r->stddev);
	if (r->leader_changes)
		printf("leader changes followed: %u\n", r->leader_changes);
	if (r->failed)
		printf("failures: %llu HTTP 4xx, %llu HTTP 5xx, %llu connection, %llu timeouts; first: %s\n",
		       (unsigned long long)r->status_4xx, (unsigned long long)r->status_5xx,
		       (unsigned long long)r->connect_errors, (unsigned long long)r->timeouts, r->first_error);
}

json_t *rc_bench_json(const struct lg_config *cfg, const struct lg_result *r, const char *node)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:f, s:I, s:I, s:f, s:f}", "op", lg_op_name(cfg->op),
			      "node", node, "url", cfg->target.base, "clients", (int)cfg->clients, "keys",
			      (json_int_t)cfg->keys, "value_size", (json_int_t)cfg->value_size, "rate", cfg->rate,
			      "ok", (json_int_t)r->ok, "failed", (json_int_t)r->failed, "elapsed_s", r->elapsed_s,
			      "throughput", r->throughput);
	json_t *lat = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "p50", r->p50, "p90", r->p90, "p99", r->p99, "max",
				r->max, "mean", r->mean, "stddev", r->stddev);
	json_t *f = json_pack("{s:I, s:I, s:I, s:I, s:s}", "http_4xx", (json_int_t)r->status_4xx, "http_5xx",
			      (json_int_t)r->status_5xx, "connection", (json_int_t)r->connect_errors, "timeouts",
			      (json_int_t)r->timeouts, "first", r->first_error);
	if (!o)
		return NULL;
	json_object_set_new(o, "latency_ms", lat);
	json_object_set_new(o, "failures", f);
	return o;
}

static int find_leader(void *arg, struct url *ret, char *err, size_t err_len)
{
	struct rc_node n = RC_NODE_INIT;
	(void)arg;
	int rv = rc_find_leader(&n, err, err_len);
	if (rv == 0) {
		*ret = n.conn.url;
		rc_node_free(&n);
	}
	return rv;
}

int rc_bench_cleanup(const struct lg_config *cfg, const struct lg_result *r, char *err, size_t err_len)
{
	uint64_t written = r->issued < cfg->keys ? r->issued : cfg->keys;
	struct lg_config del = *cfg;
	struct lg_result d;

	if (!written)
		return 0;
	del.op = LG_DELETE;
	del.rate = 0;
	del.duration_ms = 0;
	del.requests = written;
	del.clients = cfg->clients < written ? cfg->clients : (unsigned)written;
	int rv = lg_run(&del, &d, err, err_len);
	if (rv == 0 && d.failed) {
		snprintf(err, err_len, "%llu deletes failed (first: %s)", (unsigned long long)d.failed, d.first_error);
		rv = -EIO;
	}
	return rv;
}

int rc_bench_target(const char *node, struct lg_config *cfg, char *name, size_t name_len, char *err, size_t err_len)
{
	struct rc_node n;
	int rv = node ? rc_find_node(node, &n, err, err_len) : rc_find_leader(&n, err, err_len);
	if (rv < 0)
		return rv;
	cfg->target = n.conn.url;
	if (!node)
		cfg->find_leader = find_leader;
	snprintf(name, name_len, "%s", rc_str(n.status, "name"));
	rc_node_free(&n);
	return 0;
}

int raftctl_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "clients", required_argument, NULL, 'c' },  { "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' }, { "rate", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },     { "value-size", required_argument, NULL, 's' },
		{ "op", required_argument, NULL, 'O' },       { "consistent", no_argument, NULL, 'C' },
		{ "prefix", required_argument, NULL, 'p' },   { "node", required_argument, NULL, 'N' },
		{ "keep", no_argument, NULL, 'K' },           { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lg_config cfg = { .op = LG_PUT, .clients = 50, .requests = 10000, .keys = 1000, .value_size = 256,
				 .prefix = "bench-", .timeout_ms = raftctl_g.timeout_ms };
	const char *node = NULL;
	bool keep = false;
	unsigned long long v;
	long long ms;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:n:d:r:k:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (raftctl_parse_u64(optarg, &v) < 0 || v < 1 || v > 100000)
				return raftctl_usage_error("bench", "bad --clients '%s' (1 to 100000)", optarg);
			cfg.clients = (unsigned)v;
			break;
		case 'n':
			if (raftctl_parse_u64(optarg, &v) < 0 || v < 1)
				return raftctl_usage_error("bench", "bad --requests '%s'", optarg);
			cfg.requests = v;
			break;
		case 'd':
			if (raftctl_parse_duration_ms(optarg, &ms) < 0 || ms < 1)
				return raftctl_usage_error("bench", "bad --duration '%s' (e.g. 30s)", optarg);
			cfg.duration_ms = (uint64_t)ms;
			cfg.requests = 0;
			break;
		case 'r': {
			char *end;
			cfg.rate = strtod(optarg, &end);
			if (*end || cfg.rate < 0 || end == optarg)
				return raftctl_usage_error("bench", "bad --rate '%s'", optarg);
			break;
		}
		case 'k':
			if (raftctl_parse_u64(optarg, &v) < 0 || v < 1)
				return raftctl_usage_error("bench", "bad --keys '%s'", optarg);
			cfg.keys = v;
			break;
		case 's':
			if (raftctl_parse_u64(optarg, &v) < 0 || v > (64u << 20))
				return raftctl_usage_error("bench", "bad --value-size '%s'", optarg);
			cfg.value_size = (size_t)v;
			break;
		case 'O':
			if (!strcmp(optarg, "put"))
				cfg.op = LG_PUT;
			else if (!strcmp(optarg, "get"))
				cfg.op = LG_GET;
			else if (!strcmp(optarg, "delete"))
				cfg.op = LG_DELETE;
			else
				return raftctl_usage_error("bench", "bad --op '%s' (put, get or delete)", optarg);
			break;
		case 'C': cfg.consistent = true; break;
		case 'p':
			if (strlen(optarg) > 256 || strchr(optarg, '/') || strchr(optarg, '?') || strchr(optarg, ' '))
				return raftctl_usage_error("bench", "bad --prefix '%s'", optarg);
			cfg.prefix = optarg;
			break;
		case 'N': node = optarg; break;
		case 'K': keep = true; break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error("bench", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return raftctl_usage_error("bench", "unexpected argument '%s'", argv[optind]);
	if (cfg.consistent && node)
		return raftctl_usage_error("bench", "--consistent reads go to the leader, not --node");

	char name[128], err[2048];
	struct lg_result r;
	if (rc_bench_target(node, &cfg, name, sizeof(name), err, sizeof(err)) < 0)
		return raftctl_fail("bench", "%s", err);
	if (lg_run(&cfg, &r, err, sizeof(err)) < 0)
		return raftctl_fail("bench", "%s", err);
	/* a benchmark leaves the store as it found it */
	bool cleaned = true;
	char cerr[512] = "";
	if (cfg.op == LG_PUT && !keep) {
		struct lg_config del = cfg;
		char lname[128];
		/* the deletes go to the leader */
		if (node && rc_bench_target(NULL, &del, lname, sizeof(lname), cerr, sizeof(cerr)) < 0)
			cleaned = false;
		if (cleaned)
			cleaned = rc_bench_cleanup(&del, &r, cerr, sizeof(cerr)) == 0;
	}
	if (raftctl_g.json) {
		json_t *o = rc_bench_json(&cfg, &r, name);
		json_object_set_new(o, "leader_changes", json_integer(r.leader_changes));
		if (cfg.op == LG_PUT)
			json_object_set_new(o, "cleaned_up", json_boolean(cleaned && !keep));
		if (rc_emit(o))
			return 1;
	} else {
		rc_bench_print(&cfg, &r, name);
		if (fflush(stdout))
			return 1;
	}
	if (r.failed)
		return raftctl_fail("bench", "%llu of %llu requests failed (first: %s)", (unsigned long long)r.failed,
				    (unsigned long long)(r.ok + r.failed), r.first_error);
	if (!cleaned)
		return raftctl_fail("bench", "the keys written were not all deleted: %s", cerr);
	return 0;
}
