/* src/raftctl/raftctl_snapshot.c — `raftctl snapshot take | save FILE`.
 *
 * A snapshot is per node (it compacts that node's log), so both act on one
 * node: --node NODE, else the first endpoint that answers.
 *   take  POST /raftd/snapshot: the node snapshots now; its JSON answer
 *         names the index.
 *   save  GET /raftd/snapshot: the node's newest snapshot, streamed into
 *         FILE.tmp, fsynced, then renamed to FILE (so FILE is either the old
 *         file or a whole snapshot); "-" writes to standard output.
 */
#include <errno.h>
#include <fcntl.h>
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
	fputs("usage: raftctl snapshot take [--node NODE]\n"
	      "       raftctl snapshot save [--node NODE] FILE\n"
	      "       raftctl snapshot restore --name NAME [--advertise URL] FILE DATA_DIR\n"
	      "\n"
	      "take  make the node take a snapshot now (and compact its log); prints the\n"
	      "      index it covers\n"
	      "save  download the node's newest snapshot into FILE (written to FILE.tmp,\n"
	      "      fsynced and renamed; - for standard output)\n"
	      "restore  a new one-member cluster's data directory from a saved snapshot:\n"
	      "      its keys, NAME at URL (default http://localhost:4001) the only member;\n"
	      "      DATA_DIR must be missing or empty (offline: no endpoint is asked)\n"
	      "NODE is a member name or its URL (http:// or https://); default the first\n"
	      "endpoint that answers.\n",
	      out);
}

static int open_node(const char *node, struct rc_node *n, char *err, size_t len)
{
	return node ? rc_find_node(node, n, err, len) : rc_any_node(n, err, len);
}

static int take(const char *node)
{
	struct rc_node n = RC_NODE_INIT;
	struct rc_response r = { 0 };
	char err[2048];
	int rv = open_node(node, &n, err, sizeof(err));

	if (rv == 0)
		rv = rc_call(&n, &(struct rc_request){ .method = "POST", .path = "/raftd/snapshot" }, &r, err,
			     sizeof(err));
	if (rv < 0) {
		rc_response_free(&r);
		rc_node_free(&n);
		return raftctl_fail("snapshot", "take: %s", err);
	}
	json_error_t je;
	json_t *j = json_loadb(r.body, r.len, 0, &je);
	json_t *idx = json_object_get(j, "index");
	if (!json_is_integer(idx))
		idx = json_object_get(j, "last_index");
	if (raftctl_g.json) {
		if (!json_is_object(j))
			j = json_object();
		if (!json_object_get(j, "node"))
			json_object_set_new(j, "node", json_string(rc_str(n.status, "name")));
		rv = rc_emit(j);
	} else {
		if (json_is_integer(idx))
			printf("snapshot taken on %s at index %lld\n", rc_str(n.status, "name"),
			       (long long)json_integer_value(idx));
		else
			printf("snapshot taken on %s\n", rc_str(n.status, "name"));
		json_decref(j);
		rv = fflush(stdout) ? 1 : 0;
	}
	rc_response_free(&r);
	rc_node_free(&n);
	return rv;
}

struct sink {
	int fd;
	unsigned long long bytes;
};

static int write_out(void *arg, const uint8_t *p, size_t len)
{
	struct sink *s = arg;
	while (len) {
		ssize_t w = write(s->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
		s->bytes += (unsigned long long)w;
	}
	return 0;
}

static int save(const char *node, const char *file)
{
	struct rc_node n = RC_NODE_INIT;
	struct rc_response r = { 0 };
	char err[2048], tmp[4200];
	bool to_stdout = !strcmp(file, "-");
	struct sink s = { .fd = 1 };
	int rv = open_node(node, &n, err, sizeof(err));

	if (rv < 0)
		return raftctl_fail("snapshot", "save: %s", err);
	if (!to_stdout) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", file);
		s.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (s.fd < 0) {
			rc_node_free(&n);
			return raftctl_fail("snapshot", "save: %s: %s", tmp, strerror(errno));
		}
	}
	n.conn.max_body = UINT64_MAX / 2; /* a snapshot is as large as the data */
	rv = rc_call(&n, &(struct rc_request){ .method = "GET", .path = "/raftd/snapshot", .sink = write_out,
					       .sink_arg = &s },
		     &r, err, sizeof(err));
	if (rv == 0 && !to_stdout && fsync(s.fd) < 0) {
		rv = -errno;
		raftctl_setf(err, sizeof(err), "%s: fsync: %s", tmp, strerror(errno));
	}
	if (!to_stdout && close(s.fd) < 0 && rv == 0) {
		rv = -errno;
		raftctl_setf(err, sizeof(err), "%s: close: %s", tmp, strerror(errno));
	}
	if (rv == 0 && !to_stdout && rename(tmp, file) < 0) {
		rv = -errno;
		raftctl_setf(err, sizeof(err), "rename %s to %s: %s", tmp, file, strerror(errno));
	}
	if (rv < 0 && !to_stdout)
		unlink(tmp);
	rc_response_free(&r);
	if (rv < 0) {
		rc_node_free(&n);
		return raftctl_fail("snapshot", "save: %s", err);
	}
	if (!to_stdout) {
		if (raftctl_g.json)
			rv = rc_emit(json_pack("{s:s, s:s, s:I}", "node", rc_str(n.status, "name"), "file", file,
					       "bytes", (json_int_t)s.bytes));
		else
			printf("saved %llu bytes from %s to %s\n", s.bytes, rc_str(n.status, "name"), file);
	}
	rc_node_free(&n);
	return rv || fflush(stdout) ? 1 : 0;
}

int raftctl_snapshot(int argc, char **argv)
{
	static const struct option opts[] = { { "node", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *node = NULL;
	int c;

	if (argc < 2)
		return raftctl_usage_error("snapshot", "take, save or restore?");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "restore"))
		return raftctl_snapshot_restore(argc - 1, argv + 1);
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': node = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error("snapshot", "unknown option '%s'", argv[optind]);
		}
	}
	int rest = argc - 1 - optind;
	char **args = argv + 1 + optind;
	if (!strcmp(sub, "take")) {
		if (rest != 0)
			return raftctl_usage_error("snapshot", "take takes no arguments");
		return take(node);
	}
	if (!strcmp(sub, "save")) {
		if (rest != 1)
			return raftctl_usage_error("snapshot", "save needs FILE");
		return save(node, args[0]);
	}
	return raftctl_usage_error("snapshot", "unknown subcommand '%s'", sub);
}
