/* src/raftctl/raftctl_kv.c — `raftctl get | put | delete KEY`: the three key
 * commands share this file, being one request each.
 *
 * Writes go to the leader (found from any endpoint; retried if the leader
 * moves meanwhile). get reads what one node has applied (the first endpoint
 * that answers, or --node), as goraft's plain GET does; --consistent makes
 * it linearizable: GET /db/KEY?consistent=true on the leader (ReadIndex).
 * Keys are percent-encoded into the path.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl get [--consistent | --node NODE] KEY\n"
	      "       raftctl put KEY VALUE\n"
	      "       raftctl put KEY -            (the value from standard input)\n"
	      "       raftctl delete KEY\n"
	      "\n"
	      "get     prints the value and a newline (nothing but the newline for an\n"
	      "        unknown key, as goraft): what the first endpoint that answers (or\n"
	      "        NODE, a member name or URL) has applied. --consistent: a\n"
	      "        linearizable read through the leader (ReadIndex).\n"
	      "put     writes through the leader; returns once committed and applied.\n"
	      "delete  deletes through the leader.\n",
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

int raftctl_get(int argc, char **argv)
{
	static const struct option opts[] = { { "consistent", no_argument, NULL, 'c' },
					      { "local", no_argument, NULL, 'l' },
					      { "node", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *node = NULL;
	bool local = true;
	char path[8192], err[2048];
	struct rc_node n = RC_NODE_INIT;
	struct rc_response r;
	int c, rv;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': local = false; break;
		case 'l': local = true; break;
		case 'n': node = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error("get", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return raftctl_usage_error("get", "needs one KEY");
	if (node && !local)
		return raftctl_usage_error("get", "--consistent reads through the leader, not --node");
	if (db_path(argv[optind], local ? NULL : "?consistent=true", path, sizeof(path)) < 0)
		return raftctl_usage_error("get", "bad key");
	struct rc_request req = { .method = "GET", .path = path };
	if (!local) {
		rv = rc_leader_call(&req, 3, &r, NULL, err, sizeof(err));
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
	if (raftctl_g.json) {
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

int raftctl_put(int argc, char **argv)
{
	if (help_asked(argc, argv)) {
		usage(stdout);
		return 0;
	}
	int a = 1;
	if (a < argc && !strcmp(argv[a], "--"))
		a++;
	if (argc - a != 2)
		return raftctl_usage_error("put", "needs KEY and VALUE (or - for standard input)");
	if (strcmp(argv[a + 1], "-") != 0)
		return write_key("put", "POST", argv[a], argv[a + 1], strlen(argv[a + 1]));
	char *v;
	size_t len;
	if (read_all(stdin, &v, &len) < 0)
		return raftctl_fail("put", "cannot read the value from standard input");
	int rv = write_key("put", "POST", argv[a], v, len);
	free(v);
	return rv;
}

int raftctl_delete(int argc, char **argv)
{
	if (help_asked(argc, argv)) {
		usage(stdout);
		return 0;
	}
	int a = 1;
	if (a < argc && !strcmp(argv[a], "--"))
		a++;
	if (argc - a != 1)
		return raftctl_usage_error("delete", "needs one KEY");
	return write_key("delete", "DELETE", argv[a], NULL, 0);
}
