/* src/raftctl/raftctl_members.c — `raftctl members list | add NAME URL | remove
 * NAME | promote NAME`.
 *
 * add and remove are goraft's own requests, POST /join and POST /leave, sent
 * to the leader; they return once the change is committed. A member added
 * here is treated as a goraft node until it answers GET /raftd/version
 * (safe for both kinds); --raftd says up front that it is a raftd node, and
 * --learner (a raftd node too) that it joins as a learner, never as a voter
 * at once. promote is raftd's POST /raftd/promote.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl members list\n"
	      "       raftctl members add [--raftd | --learner] NAME URL\n"
	      "       raftctl members remove NAME\n"
	      "       raftctl members promote NAME\n"
	      "\n"
	      "list    the members as the leader sees them: name, URL, voter, kind\n"
	      "        (raftd or goraft) and whether the leader reaches it\n"
	      "add     add NAME at URL (http://HOST:PORT or https://HOST:PORT) through\n"
	      "        the leader; returns once the change is committed. Then start the\n"
	      "        node with -join to any member (a node with an empty log and no\n"
	      "        -join founds a new cluster).\n"
	      "        --raftd: the node is raftd (pipelined from the start); without it\n"
	      "        the leader treats it as goraft until it answers /raftd/version.\n"
	      "        --learner: a raftd node that joins as a learner (no vote); the\n"
	      "        leader promotes it once it has caught up, or promote does.\n"
	      "remove  remove member NAME through the leader (it stops once it learns it)\n"
	      "promote make learner NAME a voter; refused while it has not caught up\n",
	      out);
}

static int list(void)
{
	struct rc_node n = RC_NODE_INIT;
	char err[2048];
	bool leader = true;

	if (rc_find_leader(&n, err, sizeof(err)) < 0) {
		/* no leader: the membership as any node knows it is still useful */
		char err2[1024];
		leader = false;
		if (rc_any_node(&n, err2, sizeof(err2)) < 0)
			return raftctl_fail("members", "%s", err2);
	}
	json_t *members = json_object_get(n.status, "members");
	const char *lname = rc_str(n.status, "leader");
	size_t i;
	json_t *m;
	int rv;

	if (raftctl_g.json) {
		json_t *arr = json_array();
		json_array_foreach(members, i, m) {
			json_t *o = json_deep_copy(m);
			json_object_set_new(o, "leader", json_boolean(!strcmp(rc_str(m, "name"), lname)));
			json_array_append_new(arr, o);
		}
		rv = rc_print_json(arr);
		json_decref(arr);
		rc_node_free(&n);
		return rv;
	}
	if (!leader)
		printf("no leader; as %s sees it:\n", rc_str(n.status, "name"));
	size_t wn = 4, wu = 3;
	json_array_foreach(members, i, m) {
		size_t a = strlen(rc_str(m, "name")), b = strlen(rc_str(m, "url"));
		wn = a > wn ? a : wn;
		wu = b > wu ? b : wu;
	}
	printf("%-*s  %-*s  %-9s  %-5s  %-7s  %s\n", (int)wn, "NAME", (int)wu, "URL", "ROLE", "VOTER", "KIND",
	       "REACHABLE");
	json_array_foreach(members, i, m) {
		bool self = json_is_true(json_object_get(m, "self"));
		json_t *reach = json_object_get(m, "reachable");
		printf("%-*s  %-*s  %-9s  %-5s  %-7s  %s\n", (int)wn, rc_str(m, "name"), (int)wu, rc_str(m, "url"),
		       rc_member_role(m, NULL, lname), json_is_false(json_object_get(m, "voter")) ? "no" : "yes",
		       rc_member_kind(m, NULL),
		       self ? "self" : !reach ? "-" : json_is_true(reach) ? "yes" : "no");
	}
	rc_node_free(&n);
	return fflush(stdout) ? 1 : 0;
}

/* The leader's refusal, whole: a membership answer says why and what to do,
 * and may run past the one line rc_call() keeps. */
static int refused(const char *what, const char *subject, const struct rc_response *r, const char *err)
{
	if (!r->body || !r->len)
		return raftctl_fail("members", "%s %s: %s", what, subject, err);
	int l = (int)r->len;
	while (l > 0 && (r->body[l - 1] == '\n' || r->body[l - 1] == '\r'))
		l--;
	return raftctl_fail("members", "%s %s refused (HTTP %d): %.*s", what, subject, r->status, l, r->body);
}

/* POSTs body to the leader. remove: a 404 after a retry is success (see
 * remove_member()). */
static int change(const char *what, const char *subject, const char *path, json_t *body)
{
	char err[2048];
	char *b = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct rc_response r = { 0 };
	json_decref(body);
	if (!b)
		return raftctl_fail("members", "out of memory");
	/* goraft's JSON encoder ends the body with a newline; so do we */
	size_t bl = strlen(b);
	char *bn = realloc(b, bl + 2);
	if (!bn) {
		free(b);
		return raftctl_fail("members", "out of memory");
	}
	b = bn;
	strcpy(b + bl, "\n");
	struct rc_request req = { .method = "POST", .path = path, .content_type = "application/json",
				  .body = b, .body_len = bl + 1 };
	bool remove = !strcmp(path, "/leave");
	int rv = -EAGAIN;
	for (int i = 0; i < 3; i++) {
		if (i)
			usleep(200 * 1000); /* an election takes a few hundred ms */
		rc_response_free(&r);
		rv = rc_leader_call(&req, 1, &r, NULL, err, sizeof(err));
		/* A leave whose leader went away before answering (goraft's
		 * 400 "Not current leader", a lost connection, a timeout, a
		 * write failed by the step-down, 503 while the fate is
		 * unknown) may still have been committed: the retry then finds
		 * NAME gone, 404, which is the outcome asked for. A leave of a
		 * name that was never a member fails on the first try. */
		bool again = rv == -EAGAIN || (rv < 0 && rv != -EPROTO) ||
			     (rv == -EPROTO && r.status == 400 && r.body && strstr(r.body, "Not current leader")) ||
			     (remove && rv == -EPROTO && (r.status == 500 || r.status == 503));
		if (remove && i > 0 && rv == -EPROTO && r.status == 404)
			rv = 0;
		if (!again || rv == 0)
			break;
	}
	free(b);
	if (rv == -EPROTO)
		rv = refused(what, subject, &r, err);
	else if (rv < 0)
		rv = raftctl_fail("members", "%s %s: %s", what, subject, err);
	rc_response_free(&r);
	return rv;
}

/* raftctl's own check of a member's URL, before anything is sent: the form
 * must be written out, http://HOST:PORT or https://HOST:PORT (a trailing
 * '/' aside). The endpoint shorthand (RC_URL_FORMS) fills in a scheme and
 * port 4001; for a member that made `add n5 notaurl` commit a voter at
 * http://notaurl:4001. The leader checks again, with its reason (https://
 * only when it speaks TLS to its peers). */
static bool member_url_ok(const char *url, struct url *u, const char **why)
{
	struct url tmp;
	*why = NULL;
	if (url_parse(url, URL_SLASH | URL_HTTPS, u) == 0)
		return true;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		*why = strstr(url, "://") ? "the scheme must be http or https" : "no scheme";
	else if (url_parse(url, RC_URL_FORMS, &tmp) == 0)
		*why = "no port (there is no default for a member)";
	else
		*why = "not HOST:PORT after the scheme (no path, user or query; IPv6 inside [])";
	return false;
}

static int add(int argc, char **argv)
{
	static const struct option opts[] = { { "raftd", no_argument, NULL, 'r' },
					      { "learner", no_argument, NULL, 'l' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	bool raftd = false, learner = false;
	struct url u;
	const char *why;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'r') {
			raftd = true;
		} else if (c == 'l') {
			raftd = learner = true; /* goraft has no learners */
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			return raftctl_usage_error("members", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return raftctl_usage_error("members", "add needs NAME and URL");
	const char *name = argv[optind], *url = argv[optind + 1];
	if (!*name || strlen(name) > 63)
		return raftctl_usage_error("members", "a name is 1 to 63 bytes");
	if (!member_url_ok(url, &u, &why))
		return raftctl_usage_error("members", "bad URL '%s': %s (expected http://HOST:PORT or https://HOST:PORT)", url, why);
	int rv = change("add", name, learner ? "/join?raftd=1&learner=1" : raftd ? "/join?raftd=1" : "/join",
			json_pack("{s:s, s:s}", "name", name, "connectionString", u.base));
	if (rv == 0 && !raftctl_g.json)
		printf("added %s (%s)%s\n", name, u.base, learner ? " as a learner" : "");
	else if (rv == 0)
		rv = rc_emit(json_pack("{s:s, s:s, s:s, s:b}", "added", name, "url", u.base, "kind",
					     raftd ? "raftd" : "unknown", "learner", learner));
	return rv;
}

static int remove_member(int argc, char **argv)
{
	if (argc != 2)
		return raftctl_usage_error("members", "remove needs NAME");
	int rv = change("remove", argv[1], "/leave", json_pack("{s:s}", "name", argv[1]));
	if (rv == 0 && !raftctl_g.json)
		printf("removed %s\n", argv[1]);
	else if (rv == 0)
		rv = rc_emit(json_pack("{s:s}", "removed", argv[1]));
	return rv;
}

static int promote(int argc, char **argv)
{
	if (argc != 2)
		return raftctl_usage_error("members", "promote needs NAME");
	int rv = change("promote", argv[1], "/raftd/promote", json_pack("{s:s}", "name", argv[1]));
	if (rv == 0 && !raftctl_g.json)
		printf("promoted %s\n", argv[1]);
	else if (rv == 0)
		rv = rc_emit(json_pack("{s:s}", "promoted", argv[1]));
	return rv;
}

int raftctl_members(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	}
	if (argc < 2 || !strcmp(argv[1], "list")) {
		if (argc > 2)
			return raftctl_usage_error("members", "list takes no arguments");
		return list();
	}
	if (!strcmp(argv[1], "add"))
		return add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "remove") || !strcmp(argv[1], "rm"))
		return remove_member(argc - 1, argv + 1);
	if (!strcmp(argv[1], "promote"))
		return promote(argc - 1, argv + 1);
	return raftctl_usage_error("members", "unknown subcommand '%s'", argv[1]);
}
