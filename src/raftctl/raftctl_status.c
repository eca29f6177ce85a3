/* src/raftctl/raftctl_status.c — `raftctl status [NODE]`.
 *
 * Without NODE: every member's /status, as a table (one row a member: role,
 * term, commit and applied index, and lag, the entries its applied index is
 * behind the leader's commit index). The member list is the leader's when
 * the leader answers, else the first endpoint's. A member that does not
 * answer is a row saying so; the command still succeeds, because the table
 * is what an operator wants to see most when a node is down.
 * With NODE (a member name or a URL): that node's own /status in detail.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl status [NODE]\n"
	      "\n"
	      "Without NODE: the cluster as a table of its members with role, term, commit\n"
	      "and applied index and lag (entries behind the leader's commit index);\n"
	      "members that do not answer are shown as unreachable.\n"
	      "With NODE (a member name or URL): that node's status in detail.\n"
	      "-o json prints the node's /status object, or {\"leader\", \"members\": [...]}.\n",
	      out);
}

static int one_node(const char *which)
{
	struct rc_node n;
	char err[1024];

	if (rc_find_node(which, &n, err, sizeof(err)) < 0)
		return raftctl_fail("status", "%s", err);
	json_t *s = n.status;
	if (raftctl_g.json) {
		int rv = rc_print_json(s);
		rc_node_free(&n);
		return rv;
	}
	json_t *wal = json_object_get(s, "wal");
	printf("name:           %s\n", rc_str(s, "name"));
	printf("url:            %s\n", rc_str(s, "url"));
	printf("role:           %s%s\n", rc_str(s, "role"),
	       json_is_true(json_object_get(s, "recovering")) ? " (recovering lost data: not voting)" : "");
	printf("term:           %" PRIu64 "\n", rc_u64(s, "term"));
	printf("leader:         %s\n", rc_str(s, "leader")[0] ? rc_str(s, "leader") : "(none)");
	printf("commit index:   %lld\n", rc_int(s, "commit_index"));
	printf("applied index:  %lld\n", rc_int(s, "applied_index"));
	printf("last index:     %lld\n", rc_int(s, "last_index"));
	printf("snapshot index: %lld\n", rc_int(s, "snapshot_index"));
	printf("keys:           %lld\n", rc_int(s, "keys"));
	printf("members:        %zu\n", json_array_size(json_object_get(s, "members")));
	if (wal)
		printf("wal:            entries %lld..%lld, durable %lld%s\n", rc_int(wal, "first_index"),
		       rc_int(wal, "last_index"), rc_int(wal, "durable_index"),
		       json_is_true(json_object_get(wal, "direct_io")) ? ", O_DIRECT" : "");
	rc_node_free(&n);
	return fflush(stdout) ? 1 : 0;
}

struct row {
	const char *name, *url;
	json_t *member;  /* its entry in the member list */
	json_t *status; /* NULL: unreachable */
	char err[256];
};

static int cluster(void)
{
	struct rc_node first, leader = { .conn.fd = -1 };
	char err[2048];
	bool have_leader = false;

	if (rc_any_node(&first, err, sizeof(err)) < 0)
		return raftctl_fail("status", "%s", err);
	/* the leader's view of the membership, when it answers */
	if (rc_find_leader(&leader, err, sizeof(err)) == 0)
		have_leader = true;
	json_t *view = have_leader ? leader.status : first.status;
	json_t *members = json_object_get(view, "members");
	size_t nm = json_array_size(members);
	struct row *rows = calloc(nm ? nm : 1, sizeof(*rows));
	if (!rows)
		return raftctl_fail("status", "out of memory");
	for (size_t i = 0; i < nm; i++) {
		json_t *m = json_array_get(members, i);
		struct rc_node n;
		rows[i].member = m;
		rows[i].name = rc_str(m, "name");
		rows[i].url = rc_str(m, "url");
		if (have_leader && !strcmp(rows[i].name, rc_str(leader.status, "name"))) {
			rows[i].status = json_incref(leader.status);
		} else if (!strcmp(rows[i].name, rc_str(first.status, "name"))) {
			rows[i].status = json_incref(first.status);
		} else if (rc_node_open(rows[i].url, &n, rows[i].err, sizeof(rows[i].err)) == 0) {
			rows[i].status = json_incref(n.status);
			rc_node_free(&n);
		}
	}
	/* a goraft leader has no /status: its commit index is unknown */
	json_t *lc = have_leader ? json_object_get(leader.status, "commit_index") : NULL;
	long long commit = json_is_integer(lc) ? json_integer_value(lc) : -1;
	const char *lname = have_leader ? rc_str(leader.status, "name") : NULL;
	int rv = 0;

	if (raftctl_g.json) {
		json_t *out = json_object(), *arr = json_array();
		json_object_set_new(out, "leader", lname ? json_string(lname) : json_null());
		json_object_set_new(out, "term", have_leader ? json_integer(rc_int(leader.status, "term")) : json_null());
		for (size_t i = 0; i < nm; i++) {
			json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "name", rows[i].name, "url", rows[i].url, "reachable",
					      rows[i].status != NULL, "kind", rc_member_kind(rows[i].member, rows[i].status));
			if (rows[i].status) {
				static const char *const keys[] = { "role", "term", "leader", "commit_index",
								    "applied_index", "last_index", "snapshot_index" };
				for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
					json_object_set(o, keys[k], json_object_get(rows[i].status, keys[k]));
				json_object_set_new(o, "role", json_string(rc_member_role(rows[i].member, rows[i].status,
											   lname)));
				if (commit >= 0 && json_is_integer(json_object_get(rows[i].status, "applied_index")))
					json_object_set_new(o, "lag", json_integer(commit - rc_int(rows[i].status,
												  "applied_index")));
				if (!strcmp(rc_str(rows[i].status, "server"), "goraft"))
					json_object_set_new(o, "server", json_string("goraft"));
			} else {
				json_object_set_new(o, "error", json_string(rows[i].err));
			}
			json_array_append_new(arr, o);
		}
		json_object_set_new(out, "members", arr);
		rv = rc_print_json(out);
		json_decref(out);
	} else {
		if (lname && commit >= 0)
			printf("leader %s, term %" PRIu64 ", commit index %lld\n", lname, rc_u64(leader.status, "term"), commit);
		else if (lname)
			printf("leader %s (goraft), term %" PRIu64 "\n", lname, rc_u64(leader.status, "term"));
		else
			printf("%s\n", err);
		size_t wn = 4, wu = 3;
		for (size_t i = 0; i < nm; i++) {
			size_t l = strlen(rows[i].name), u = strlen(rows[i].url);
			wn = l > wn ? l : wn;
			wu = u > wu ? u : wu;
		}
		/* the words of `members list` (rc_member_role/kind) */
		printf("%-*s  %-*s  %-11s  %-7s  %6s  %8s  %8s  %6s\n", (int)wn, "NAME", (int)wu, "URL", "ROLE", "KIND",
		       "TERM", "COMMIT", "APPLIED", "LAG");
		for (size_t i = 0; i < nm; i++) {
			json_t *s = rows[i].status;
			const char *kind = rc_member_kind(rows[i].member, s);
			if (!s) {
				printf("%-*s  %-*s  %-11s  %-7s  %6s  %8s  %8s  %6s\n", (int)wn, rows[i].name, (int)wu,
				       rows[i].url, "unreachable", kind, "-", "-", "-", "-");
				continue;
			}
			if (!json_is_integer(json_object_get(s, "commit_index"))) { /* goraft: no /status */
				printf("%-*s  %-*s  %-11s  %-7s  %6s  %8s  %8s  %6s\n", (int)wn, rows[i].name, (int)wu,
				       rows[i].url, rc_member_role(rows[i].member, NULL, lname), kind, "-", "-", "-", "-");
				continue;
			}
			char lag[32] = "-";
			if (commit >= 0)
				snprintf(lag, sizeof(lag), "%lld", commit - rc_int(s, "applied_index"));
			printf("%-*s  %-*s  %-11s  %-7s  %6" PRIu64 "  %8lld  %8lld  %6s\n", (int)wn, rows[i].name, (int)wu,
			       rows[i].url, rc_member_role(rows[i].member, s, lname), kind, rc_u64(s, "term"),
			       rc_int(s, "commit_index"), rc_int(s, "applied_index"), lag);
		}
		rv = fflush(stdout) ? 1 : 0;
	}
	for (size_t i = 0; i < nm; i++)
		json_decref(rows[i].status);
	free(rows);
	rc_node_free(&first);
	if (have_leader)
		rc_node_free(&leader);
	return rv;
}

int raftctl_status(int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		return raftctl_usage_error("status", "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind > 1)
		return raftctl_usage_error("status", "at most one NODE");
	return argc - optind == 1 ? one_node(argv[optind]) : cluster();
}
