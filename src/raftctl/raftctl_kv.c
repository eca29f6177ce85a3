/* src/raftctl/raftctl_kv.c — `raftctl get | put | delete KEY`: the three key
 * commands share this file, being one request each.
 *
 * Writes go to the leader (found from any endpoint; retried if the leader
 * moves meanwhile). get is linearizable by default, as etcdctl's: GET
 * /db/KEY?consistent=true on the first endpoint that answers, which a raftd
 * follower serves through its leader's read index; a node that cannot (a
 * goraft node, an older raftd) is bypassed for the leader. --local reads
 * what one node has applied (the first endpoint, or --node), as goraft's
 * plain GET does. raftd's X-Raftd-Found header tells a missing key from an
 * empty value. Keys are percent-encoded into the path.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/url.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_v3.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl get [--local | --node NODE] KEY\n"
	      "       raftctl get [--local | --node NODE] [--prefix | --from-key] [--limit N]\n"
	      "                   [--rev N] [--keys-only] KEY\n"
	      "       raftctl put [--if-mod-rev N] [--lease ID] [-v] KEY VALUE\n"
	      "       raftctl put [--if-mod-rev N] [--lease ID] [-v] KEY -   (the value from\n"
	      "                   standard input)\n"
	      "       raftctl delete [--prefix] [-v] KEY\n"
	      "\n"
	      "get     prints the value and a newline; a missing key is an error\n"
	      "        (exit 1, \"KEY: not found\"). Linearizable by default: it sees\n"
	      "        every write acknowledged before it began, whichever member\n"
	      "        answers. --local: what the first endpoint that answers (or\n"
	      "        NODE, a member name or URL) has applied, maybe stale.\n"
	      "put     writes through the leader; returns once committed and applied.\n"
	      "delete  deletes through the leader.\n"
	      "\n"
	      "On etcd's v3 API (gRPC; --grpc, else each endpoint's own gRPC port):\n"
	      "--prefix    get or delete every key that starts with KEY (\"\": all);\n"
	      "            get prints \"KEY VALUE\" a line\n"
	      "--from-key  get every key from KEY on\n"
	      "--limit N   at most N keys;  --keys-only  the keys alone\n"
	      "--rev N     the keys as they were at revision N\n"
	      "--if-mod-rev N  put only if the key's mod revision is N (0: only if it\n"
	      "            does not exist); exit 1 and why when it is not\n"
	      "--lease ID  put: attach the key to lease ID (hex, as raftctl lease grant\n"
	      "            prints it): the key goes when the lease does\n"
	      "-v          print the revision the write got (-o json always has it)\n",
	      out);
}

static int db_path(const char *key, const char *query, char *out, size_t cap)
{
	if (!*key)
		return -EINVAL;
	if (cap < 5)
		return -ENAMETOOLONG;
	memcpy(out, "/db/", 5);
	int n = url_escape_segment(key, out + 4, cap - 4);
	if (n < 0)
		return n;
	if (query && (size_t)n + 4 + strlen(query) + 1 < cap)
		strcat(out, query);
	return 0;
}

static int help_asked(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

/* A linearizable read: any member (a raftd follower asks its leader for a
 * read index), else the leader. Retried while an election runs. */
static int consistent_get(struct rc_request *req, struct rc_response *r, char *err, size_t err_len)
{
	int rv = -EAGAIN;
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 10; i++) {
		struct rc_node n = RC_NODE_INIT;
		if (i)
			usleep(200 * 1000); /* an election takes a few hundred ms */
		rc_response_free(r);
		rv = rc_any_node(&n, err, err_len);
		if (rv == 0)
			rv = rc_call(&n, req, r, err, err_len);
		rc_node_free(&n);
		if (rv == 0 && r->found >= 0)
			return 0;
		if (rv == -EPROTO && r->status == 503)
			continue; /* no leader yet, or its read index did not come */
		if (rv < 0 && rv != -EPROTO)
			return rv;
		/* 200 without raftd's header: a goraft node, whose plain read is
		 * its own state; 400: an older raftd follower; 409: the leader is
		 * a goraft node. The leader's read is the best there is. */
		rc_response_free(r);
		return rc_leader_call(req, 3, r, NULL, err, err_len);
	}
	return rv;
}

int raftctl_get(int argc, char **argv)
{
	static const struct option opts[] = { { "consistent", no_argument, NULL, 'c' },
					      { "local", no_argument, NULL, 'l' },
					      { "node", required_argument, NULL, 'n' },
					      { "prefix", no_argument, NULL, 'p' },
					      { "from-key", no_argument, NULL, 'f' },
					      { "limit", required_argument, NULL, 'L' },
					      { "rev", required_argument, NULL, 'r' },
					      { "keys-only", no_argument, NULL, 'k' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *node = NULL;
	bool local = false, consistent = false, v3 = false;
	struct rc_v3_get g = { 0 };
	unsigned long long num;
	char path[8192], err[2048];
	struct rc_node n = RC_NODE_INIT;
	struct rc_response r;
	int c, rv;

	optind = 1;
	/* options after KEY too, as etcdctl takes them ("get KEY --prefix") */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': consistent = true; break; /* the default; kept for scripts */
		case 'l': local = true; break;
		case 'n': node = optarg; local = true; break;
		case 'p': g.prefix = v3 = true; break;
		case 'f': g.from_key = v3 = true; break;
		case 'k': g.keys_only = v3 = true; break;
		case 'L':
		case 'r':
			if (raftctl_parse_u64(optarg, &num) < 0 || num > INT64_MAX)
				return raftctl_usage_error("get", "bad --%s '%s'", c == 'L' ? "limit" : "rev", optarg);
			*(c == 'L' ? &g.limit : &g.rev) = (int64_t)num;
			v3 = true;
			break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error("get", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return raftctl_usage_error("get", "needs one KEY");
	if (consistent && local)
		return raftctl_usage_error("get", "--consistent reads through the leader, not one node's state "
					   "(--local, --node)");
	if (g.prefix && g.from_key)
		return raftctl_usage_error("get", "--prefix or --from-key, not both");
	if (v3) {
		g.key = argv[optind];
		g.node = node;
		g.local = local;
		return rc_v3_get(&g);
	}
	if (db_path(argv[optind], local ? NULL : "?consistent=true", path, sizeof(path)) < 0)
		return raftctl_usage_error("get", "bad key");
	struct rc_request req = { .method = "GET", .path = path };
	if (!local) {
		rv = consistent_get(&req, &r, err, sizeof(err));
	} else {
		rv = node ? rc_find_node(node, &n, err, sizeof(err)) : rc_any_node(&n, err, sizeof(err));
		memset(&r, 0, sizeof(r));
		if (rv == 0)
			rv = rc_call(&n, &req, &r, err, sizeof(err));
	}
	if (rv < 0) {
		rc_response_free(&r);
		rc_node_free(&n);
		return raftctl_fail("get", "%s", err);
	}
	if (r.found == 0) {
		if (raftctl_g.json)
			rc_emit(json_pack("{s:s, s:n}", "key", argv[optind], "value"));
		rv = raftctl_fail("get", "%s: not found", argv[optind]);
	} else if (raftctl_g.json) {
		json_t *v = json_stringn(r.body, r.len);
		rv = rc_emit(json_pack("{s:s, s:o}", "key", argv[optind], "value", v ? v : json_null()));
	} else {
		fwrite(r.body, 1, r.len, stdout);
		putchar('\n');
		rv = fflush(stdout) ? 1 : 0;
	}
	rc_response_free(&r);
	rc_node_free(&n);
	return rv;
}

static int read_all(FILE *f, char **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	while (b) {
		size_t got = fread(b + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
		if (len == cap) {
			char *nb = realloc(b, cap *= 2);
			if (!nb)
				free(b);
			b = nb;
		}
	}
	if (!b || ferror(f)) {
		free(b);
		return -EIO;
	}
	*ret = b;
	*ret_len = len;
	return 0;
}

/* put and delete: one request to the leader. */
static int write_key(const char *cmd, const char *method, const char *key, const char *value, size_t len)
{
	char path[8192], err[2048];
	struct rc_response r;

	if (db_path(key, NULL, path, sizeof(path)) < 0)
		return raftctl_usage_error(cmd, "bad key");
	struct rc_request req = { .method = method, .path = path, .body = value, .body_len = len,
				  .content_type = len ? "application/octet-stream" : NULL };
	int rv = rc_leader_call(&req, 3, &r, NULL, err, sizeof(err));
	rc_response_free(&r);
	if (rv < 0)
		return raftctl_fail(cmd, "%s", err);
	if (raftctl_g.json)
		return rc_emit(json_pack("{s:s, s:s}", "key", key, "result", "ok"));
	puts("OK");
	return fflush(stdout) ? 1 : 0;
}

/* put's and delete's options, anywhere before a "--" (a value that starts
 * with '-' is a value: only these words are options); the rest into
 * pos[]. Returns the count of positional words, or -1 after the usage
 * error (*ret_exit). */
struct write_opts {
	int64_t if_mod_rev; /* -1: none */
	int64_t lease;      /* 0: none */
	bool prefix, verbose;
};

static int write_args(const char *cmd, int argc, char **argv, bool is_put, struct write_opts *o, char **pos,
		      int cap, int *ret_exit)
{
	int n = 0;
	bool dashdash = false;
	*o = (struct write_opts){ .if_mod_rev = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		unsigned long long num;
		if (!dashdash && !strcmp(a, "--")) {
			dashdash = true;
		} else if (!dashdash && (!strcmp(a, "-v") || !strcmp(a, "--verbose"))) {
			o->verbose = true;
		} else if (!dashdash && !is_put && !strcmp(a, "--prefix")) {
			o->prefix = true;
		} else if (!dashdash && is_put && (!strcmp(a, "--if-mod-rev") || !strncmp(a, "--if-mod-rev=", 13))) {
			const char *v = a[12] == '=' ? a + 13 : i + 1 < argc ? argv[++i] : NULL;
			if (!v || raftctl_parse_u64(v, &num) < 0 || num > INT64_MAX) {
				*ret_exit = raftctl_usage_error(cmd, "--if-mod-rev needs a revision (0: only if absent)");
				return -1;
			}
			o->if_mod_rev = (int64_t)num;
		} else if (!dashdash && is_put && (!strcmp(a, "--lease") || !strncmp(a, "--lease=", 8))) {
			const char *v = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : NULL;
			if (rc_v3_parse_lease(v, &o->lease) < 0 || !o->lease) {
				*ret_exit = raftctl_usage_error(cmd, "--lease needs a lease ID (hex, as lease grant prints it)");
				return -1;
			}
		} else if (!dashdash && a[0] == '-' && a[1] == '-' && a[2]) {
			*ret_exit = raftctl_usage_error(cmd, "unknown option '%s'", a);
			return -1;
		} else if (n < cap) {
			pos[n++] = argv[i];
		} else {
			n++;
		}
	}
	return n;
}

int raftctl_put(int argc, char **argv)
{
	struct write_opts o;
	char *pos[2];
	int ex = 2;
	if (help_asked(argc, argv)) {
		usage(stdout);
		return 0;
	}
	int n = write_args("put", argc, argv, true, &o, pos, 2, &ex);
	if (n < 0)
		return ex;
	if (n != 2)
		return raftctl_usage_error("put", "needs KEY and VALUE (or - for standard input)");
	bool v3 = o.if_mod_rev >= 0 || o.lease || o.verbose;
	if (v3 && !*pos[0])
		return raftctl_usage_error("put", "bad key");
	if (strcmp(pos[1], "-") != 0)
		return v3 ? rc_v3_put(pos[0], pos[1], strlen(pos[1]), o.if_mod_rev, o.lease, o.verbose)
			  : write_key("put", "POST", pos[0], pos[1], strlen(pos[1]));
	char *v;
	size_t len;
	if (read_all(stdin, &v, &len) < 0)
		return raftctl_fail("put", "cannot read the value from standard input");
	int rv = v3 ? rc_v3_put(pos[0], v, len, o.if_mod_rev, o.lease, o.verbose) : write_key("put", "POST", pos[0], v, len);
	free(v);
	return rv;
}

int raftctl_delete(int argc, char **argv)
{
	struct write_opts o;
	char *pos[1];
	int ex = 2;
	if (help_asked(argc, argv)) {
		usage(stdout);
		return 0;
	}
	int n = write_args("delete", argc, argv, false, &o, pos, 1, &ex);
	if (n < 0)
		return ex;
	if (n != 1)
		return raftctl_usage_error("delete", "needs one KEY");
	if (o.prefix || o.verbose) {
		if (!o.prefix && !*pos[0])
			return raftctl_usage_error("delete", "bad key");
		return rc_v3_delete(pos[0], o.prefix, o.verbose);
	}
	return write_key("delete", "DELETE", pos[0], NULL, 0);
}
