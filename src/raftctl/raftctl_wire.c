/* src/raftctl/raftctl_wire.c — `raftctl wire`: goraft protobuf bodies for
 * humans.
 *
 *   raftctl wire decode TYPE [FILE]   decode one body (FILE or stdin)
 *   raftctl wire vectors [DIR]        decode a directory of captured goraft
 *                                     exchanges and check each against the
 *                                     text recorded beside it
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/wire.h"
#include "src/raftctl/capture.h"
#include "src/raftctl/raftctl_wire.h"

static const struct {
	const char *alias;
	enum wire_kind kind;
} type_aliases[] = {
	{ "entry", WIRE_LOG_ENTRY },
	{ "ae-req", WIRE_AE_REQ },
	{ "ae-resp", WIRE_AE_RESP },
	{ "rv-req", WIRE_RV_REQ },
	{ "rv-resp", WIRE_RV_RESP },
	{ "snap-req", WIRE_SNAP_REQ },
	{ "snap-resp", WIRE_SNAP_RESP },
	{ "snaprec-req", WIRE_SNAPREC_REQ },
	{ "snaprec-resp", WIRE_SNAPREC_RESP },
};

/* Request and response types of each goraft route. */
static const struct {
	const char *path;
	enum wire_kind req, resp;
} raft_routes[] = {
	{ "/raft/appendEntries", WIRE_AE_REQ, WIRE_AE_RESP },
	{ "/raft/requestVote", WIRE_RV_REQ, WIRE_RV_RESP },
	{ "/raft/snapshot", WIRE_SNAP_REQ, WIRE_SNAP_RESP },
	{ "/raft/snapshotRecovery", WIRE_SNAPREC_REQ, WIRE_SNAPREC_RESP },
};

static void usage(FILE *out)
{
	fputs("usage: raftctl wire decode TYPE [FILE]\n"
	      "       raftctl wire vectors [DIR]\n"
	      "\n"
	      "decode   print one goraft protobuf body (FILE, or standard input) in\n"
	      "         protobuf text format; TYPE is a goraft message name such as\n"
	      "         AppendEntriesRequest, or one of:",
	      out);
	for (size_t i = 0; i < sizeof(type_aliases) / sizeof(type_aliases[0]); i++)
		fprintf(out, " %s", type_aliases[i].alias);
	fputs("\nvectors  decode every exchange of a capture directory (index.json with\n"
	      "         NAME.req/NAME.resp; default $GORAFT_WIRE_DIR or\n"
	      "         ../shared/goraft-wire) and check each body against the text\n"
	      "         recorded with it; exits 1 on any difference\n",
	      out);
}

static int parse_type(const char *name, enum wire_kind *ret)
{
	for (size_t i = 0; i < sizeof(type_aliases) / sizeof(type_aliases[0]); i++) {
		if (strcasecmp(name, type_aliases[i].alias) == 0) {
			*ret = type_aliases[i].kind;
			return 0;
		}
	}
	for (int k = 0; k < WIRE_KIND_COUNT; k++) {
		if (strcmp(name, wire_kind_name(k)) == 0) {
			*ret = k;
			return 0;
		}
	}
	return -EINVAL;
}

union any_message {
	struct wire_log_entry entry;
	struct wire_ae_req ae_req;
	struct wire_snaprec_req snaprec_req;
	struct wire_ae_resp ae_resp;
};

/* Decodes and prints to out; on failure prints the reason to err and
 * returns -EBADMSG. */
static int decode_print(enum wire_kind kind, const uint8_t *buf, size_t len, const char *what,
			FILE *out, FILE *err_out)
{
	union any_message msg;
	struct wire_error err;
	if (wire_decode(kind, buf, len, &msg, &err) < 0) {
		char why[256];
		wire_error_format(&err, why, sizeof(why));
		fprintf(err_out, "%s: %s\n", what, why);
		return -EBADMSG;
	}
	return wire_print(kind, &msg, out);
}

static int read_all(FILE *in, uint8_t **ret, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	uint8_t *buf = NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *grown = realloc(buf, cap);
			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
		}
		size_t got = fread(buf + len, 1, cap - len, in);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(in)) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int cmd_decode(int argc, char **argv)
{
	enum wire_kind kind;
	if (argc < 2 || argc > 3) {
		usage(stderr);
		return 2;
	}
	if (parse_type(argv[1], &kind) < 0) {
		fprintf(stderr, "raftctl wire decode: unknown message type '%s' (see raftctl wire --help)\n",
			argv[1]);
		return 2;
	}
	const char *path = argc == 3 ? argv[2] : "-";
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rbe");
	if (!in) {
		fprintf(stderr, "raftctl wire decode: %s: %s\n", path, strerror(errno));
		return 1;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv = read_all(in, &buf, &len);
	if (in != stdin)
		fclose(in);
	if (rv < 0) {
		fprintf(stderr, "raftctl wire decode: %s: %s\n", path, strerror(-rv));
		return 1;
	}
	rv = decode_print(kind, buf, len, path, stdout, stderr);
	free(buf);
	return rv < 0 ? 1 : 0;
}

static void print_quoted(const uint8_t *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			fputs("\\n", stdout);
		else if (s[i] == '"' || s[i] == '\\')
			printf("\\%c", s[i]);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			putchar(s[i]);
		else
			printf("\\%03o", s[i]);
	}
	putchar('"');
}

/* Decodes one body; checks it against the recorded text when there is one.
 * Returns 1 when it matches or is rightly refused, 0 on a difference. */
static int check_body(enum wire_kind kind, const uint8_t *buf, size_t len, const char *expect,
		      int goraft_refused)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	int rv = decode_print(kind, buf, len, wire_kind_name(kind), out, out);
	fclose(out);

	int ok;
	if (goraft_refused) {
		ok = rv == -EBADMSG;
		printf("  %s, refused as goraft did: %s", wire_kind_name(kind), ok ? text : "ACCEPTED\n");
	} else {
		ok = rv == 0 && (!expect || strcmp(text, expect) == 0);
		printf("  %s%s\n", wire_kind_name(kind), ok ? "" : "  << DIFFERS from the recorded text");
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			printf("    %s\n", line);
	}
	free(text);
	return ok;
}

static int cmd_vectors(int argc, char **argv)
{
	if (argc > 2) {
		usage(stderr);
		return 2;
	}
	struct capture cap;
	if (capture_load(argc == 2 ? argv[1] : NULL, &cap) < 0)
		return 1;

	size_t bodies = 0, good = 0;
	for (size_t i = 0; i < cap.n; i++) {
		const struct capture_exchange *ex = &cap.ex[i];
		printf("%s: %s %s -> %d\n", ex->name, ex->method ? ex->method : "?", ex->path, ex->status);
		size_t r;
		for (r = 0; r < sizeof(raft_routes) / sizeof(raft_routes[0]); r++)
			if (strcmp(ex->path, raft_routes[r].path) == 0)
				break;
		if (r == sizeof(raft_routes) / sizeof(raft_routes[0])) {
			/* Client API and /join: JSON or raw values, shown as sent. */
			printf("  request ");
			print_quoted(ex->req, ex->req_len);
			printf("\n  response ");
			print_quoted(ex->resp, ex->resp_len);
			putchar('\n');
			continue;
		}
		bool refused = ex->status == 400;
		bodies++;
		good += check_body(raft_routes[r].req, ex->req, ex->req_len, ex->request_text, refused);
		if (!refused) {
			bodies++;
			good += check_body(raft_routes[r].resp, ex->resp, ex->resp_len, ex->response_text, 0);
		}
	}
	printf("\n%zu exchanges in %s: %zu of %zu goraft protobuf bodies decoded as recorded "
	       "(or refused, as goraft refused them)\n",
	       cap.n, cap.dir, good, bodies);
	capture_free(&cap);
	return good == bodies ? 0 : 1;
}

int raftctl_wire(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "decode") == 0)
		return cmd_decode(argc - 1, argv + 1);
	if (strcmp(argv[1], "vectors") == 0)
		return cmd_vectors(argc - 1, argv + 1);
	fprintf(stderr, "raftctl wire: unknown command '%s' (see raftctl wire --help)\n", argv[1]);
	return 2;
}
