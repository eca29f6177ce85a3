/* src/raftctl/raftctl_endpoint.c — `raftctl endpoint health`: each endpoint's
 * GET /health (etcd's `endpoint health`).
 *
 * Every endpoint is asked by itself, not through the leader: the point is
 * to find the nodes that are cut off. Exit 1 when any is unhealthy (no
 * leader, stopping, disk full, recovering) or does not answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl endpoint health\n"
	      "\n"
	      "health  ask each endpoint (--endpoints) for GET /health: healthy when it\n"
	      "        knows a leader and serves; exit 1 when any is not, or does not answer\n",
	      out);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One endpoint: true when healthy; why says otherwise. */
static bool check_one(const char *ep, double *took_ms, char *why, size_t why_len)
{
	struct rc_request req = { .method = "GET", .path = "/health" };
	struct rc_response resp = { 0 };
	struct rc_conn c;
	struct url u;
	bool ok = false;

	why[0] = '\0';
	if (url_parse(ep, RC_URL_FORMS, &u) < 0) {
		raftctl_setf(why, why_len, "bad endpoint");
		return false;
	}
	rc_conn_init(&c, &u, raftctl_g.timeout_ms);
	double t0 = now_ms();
	int rv = rc_http(&c, &req, &resp, why, why_len);
	*took_ms = now_ms() - t0;
	rc_conn_close(&c);
	if (rv < 0)
		return false;
	json_t *j = json_loads(resp.body ? resp.body : "", 0, NULL);
	const char *h = json_string_value(json_object_get(j, "health"));
	const char *reason = json_string_value(json_object_get(j, "reason"));
	if (resp.status == 200 && h && !strcmp(h, "true"))
		ok = true;
	else if (reason)
		raftctl_setf(why, why_len, "%s", reason);
	else
		/* a goraft node has no /health (404) */
		raftctl_setf(why, why_len, "HTTP %d from /health%s", resp.status,
			     resp.status == 404 ? " (a goraft node, or an older raftd?)" : "");
	json_decref(j);
	rc_response_free(&resp);
	return ok;
}

static int health(void)
{
	json_t *all = raftctl_g.json ? json_array() : NULL;
	int bad = 0;

	for (size_t i = 0; i < raftctl_g.n_endpoints; i++) {
		const char *ep = raftctl_g.endpoints[i];
		char why[1024];
		double took = 0;
		bool ok = check_one(ep, &took, why, sizeof(why));
		bad += !ok;
		if (all)
			json_array_append_new(all, json_pack("{s:s, s:b, s:f, s:s?}", "endpoint", ep, "health", ok,
							     "took_ms", took, "error", ok ? NULL : why));
		else if (ok)
			printf("%s is healthy: took %.3fms\n", ep, took);
		else
			printf("%s is unhealthy: %s\n", ep, why);
	}
	if (all && rc_emit(all))
		return 1;
	if (fflush(stdout))
		return 1;
	if (bad)
		return raftctl_fail("endpoint", "%d of %zu endpoint%s unhealthy", bad, raftctl_g.n_endpoints,
				    raftctl_g.n_endpoints == 1 ? "" : "s");
	return 0;
}

int raftctl_endpoint(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "health")) {
		if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
			usage(stdout);
			return 0;
		}
		if (argc != 2)
			return raftctl_usage_error("endpoint", "health takes no arguments");
		return health();
	}
	return raftctl_usage_error("endpoint", "unknown subcommand '%s'", argv[1]);
}
