/* src/raftctl/raftctl_leader.c — `raftctl leader [show] | leader transfer
 * [NAME]`.
 *
 * transfer asks the leader (POST /raftd/transfer {"to": NAME}) to hand over
 * leadership, then watches /status until another node leads, so that it
 * returns only once the transfer really happened (or says it did not).
 * Without NAME the target is the voter, other than the leader, that answers
 * and has applied the most (the one that catches up soonest); a goraft
 * member cannot be a target (it does not speak TimeoutNow).
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl leader [show]\n"
	      "       raftctl leader transfer [--wait DURATION] [NAME]\n"
	      "\n"
	      "show      the current leader: name, URL, term\n"
	      "transfer  make member NAME the leader (default: the most up-to-date other\n"
	      "          voter that answers), and wait until another member leads\n"
	      "          (--wait, default 10s)\n",
	      out);
}

static int show(void)
{
	struct rc_node l;
	char err[2048];
	if (rc_find_leader(&l, err, sizeof(err)) < 0)
		return raftctl_fail("leader", "%s", err);
	int rv;
	if (raftctl_g.json)
		rv = rc_emit(json_pack("{s:s, s:s, s:I}", "name", rc_str(l.status, "name"), "url", rc_str(l.status, "url"),
				       "term", (json_int_t)rc_int(l.status, "term")));
	else
		rv = printf("%s %s term %" PRIu64 "\n", rc_str(l.status, "name"), rc_str(l.status, "url"),
			    rc_u64(l.status, "term")) < 0 || fflush(stdout);
	rc_node_free(&l);
	return rv ? 1 : 0;
}

/* The best target among the leader's members, or NULL (why in err). */
static char *pick_target(struct rc_node *l, char *err, size_t err_len)
{
	json_t *m;
	size_t i;
	long long best = -1;
	char *name = NULL;

	json_array_foreach(json_object_get(l->status, "members"), i, m) {
		struct rc_node n;
		char why[512];
		if (json_is_true(json_object_get(m, "self")) || json_is_false(json_object_get(m, "voter")) ||
		    !strcmp(rc_str(m, "kind"), "goraft"))
			continue;
		if (rc_node_open(rc_str(m, "url"), &n, why, sizeof(why)) < 0)
			continue;
		long long applied = rc_int(n.status, "applied_index");
		if (applied > best) {
			best = applied;
			free(name);
			name = strdup(rc_str(m, "name"));
		}
		rc_node_free(&n);
	}
	if (!name)
		snprintf(err, err_len, "no other voter answers (a raftd voter is needed)");
	return name;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int transfer(int argc, char **argv)
{
	static const struct option opts[] = { { "wait", required_argument, NULL, 'w' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	long long wait_ms = 10000;
	struct rc_node l;
	char err[2048];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (raftctl_parse_duration_ms(optarg, &wait_ms) < 0)
				return raftctl_usage_error("leader", "bad --wait '%s'", optarg);
			break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error("leader", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return raftctl_usage_error("leader", "transfer takes at most one NAME");
	if (rc_find_leader(&l, err, sizeof(err)) < 0)
		return raftctl_fail("leader", "%s", err);
	char old[128];
	snprintf(old, sizeof(old), "%s", rc_str(l.status, "name"));
	uint64_t old_term = rc_u64(l.status, "term");
	char *to = argc - optind == 1 ? strdup(argv[optind]) : pick_target(&l, err, sizeof(err));
	if (!to) {
		rc_node_free(&l);
		return raftctl_fail("leader", "transfer: %s", err);
	}
	if (!strcmp(to, old)) {
		rc_node_free(&l);
		int rv = raftctl_fail("leader", "transfer: %s already leads (term %" PRIu64 ")", to, old_term);
		free(to);
		return rv;
	}
	json_t *body = json_pack("{s:s}", "to", to);
	char *b = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct rc_response r = { 0 };
	int rv = b ? rc_call(&l, &(struct rc_request){ .method = "POST", .path = "/raftd/transfer",
						       .content_type = "application/json", .body = b,
						       .body_len = strlen(b) },
			     &r, err, sizeof(err))
		   : -ENOMEM;
	free(b);
	rc_response_free(&r);
	rc_node_free(&l);
	if (rv < 0) {
		rv = raftctl_fail("leader", "transfer to %s: %s", to, rv == -ENOMEM ? "out of memory" : err);
		free(to);
		return rv;
	}
	/* until another node leads */
	double deadline = now_s() + (double)wait_ms / 1000;
	do {
		struct rc_node n;
		if (rc_find_leader(&n, err, sizeof(err)) == 0) {
			const char *now = rc_str(n.status, "name");
			if (strcmp(now, old) != 0) {
				if (raftctl_g.json)
					rv = rc_emit(json_pack("{s:s, s:s, s:s, s:I}", "from", old, "to", now, "asked", to,
							       "term", (json_int_t)rc_int(n.status, "term")));
				else
					rv = printf("leader %s -> %s (term %" PRIu64 ")%s\n", old, now, rc_u64(n.status, "term"),
						    strcmp(now, to) ? " (not the member asked for)" : "") < 0;
				rc_node_free(&n);
				free(to);
				return rv || fflush(stdout) ? 1 : 0;
			}
			rc_node_free(&n);
		}
		usleep(50 * 1000);
	} while (now_s() < deadline);
	rv = raftctl_fail("leader", "transfer to %s: %s still leads after %lld ms", to, old, wait_ms);
	free(to);
	return rv;
}

int raftctl_leader(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "show")) {
		if (argc > 2 && strcmp(argv[2], "--help") && strcmp(argv[2], "-h"))
			return raftctl_usage_error("leader", "show takes no arguments");
		if (argc > 2) {
			usage(stdout);
			return 0;
		}
		return show();
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "transfer"))
		return transfer(argc - 1, argv + 1);
	return raftctl_usage_error("leader", "unknown subcommand '%s'", argv[1]);
}
