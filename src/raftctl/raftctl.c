/* src/raftctl/raftctl.c — raftd's admin CLI: global options, then dispatch to
 * one command per file (src/raftctl/raftctl_<name>.c). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_http.h"

struct raftctl_globals raftctl_g = { .timeout_ms = 5000 };

static const struct raftctl_cmd commands[] = {
	{ "status", "the cluster as a table, or one node", raftctl_status },
	{ "members", "list, add or remove members", raftctl_members },
	{ "get", "read a key", raftctl_get },
	{ "put", "write a key", raftctl_put },
	{ "delete", "delete a key, or a prefix (also: del)", raftctl_delete },
	{ "compact", "compact the etcd v3 history up to a revision", raftctl_compact },
	{ "watch", "print each change of a key or prefix as it happens", raftctl_watch },
	{ "lease", "grant, revoke, keep alive, list leases (etcd v3)", raftctl_lease },
	{ "lock", "run a command while holding a lock (etcd's recipe)", raftctl_lock },
	{ "elect", "campaign for or observe a leader election (etcd's recipe)", raftctl_elect },
	{ "snapshot", "take a snapshot on a node, or save one to a file", raftctl_snapshot },
	{ "endpoint", "each endpoint's health (endpoint health)", raftctl_endpoint },
	{ "leader", "hand leadership to another member (leader transfer)", raftctl_leader },
	{ "logs", "timeline of elections, membership changes, snapshots (journal)", raftctl_logs },
	{ "bench", "load generator: throughput and latency percentiles", raftctl_bench },
	{ "check", "qualify hardware with etcd's load profiles (check perf)", raftctl_check },
	{ "import-goraft", "turn a goraft raftd data directory into a raftd one", raftctl_import_goraft },
	{ "wal", "inspect a node's write-ahead log offline (dump, verify)", raftctl_wal },
	{ "wire", "decode goraft protobuf bodies (decode, vectors)", raftctl_wire },
};

static const char *current_cmd = "";

int raftctl_parse_u64(const char *s, unsigned long long *ret)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

int raftctl_parse_duration_ms(const char *s, long long *ret_ms)
{
	char *end;
	double v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		;
	else if (!*end || !strcmp(end, "s"))
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else if (!strcmp(end, "h"))
		v *= 3600000;
	else
		return -EINVAL;
	if (v < 0 || v > 1e15)
		return -EINVAL;
	*ret_ms = (long long)v;
	return 0;
}

void raftctl_setf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int raftctl_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "raftctl %s: ", cmd && *cmd ? cmd : current_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int raftctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	const char *c = cmd && *cmd ? cmd : current_cmd;
	fprintf(stderr, "raftctl %s: ", c);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see raftctl %s --help)\n", c);
	return 2;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: raftctl [--endpoints URL,...] [-o table|json] [--timeout DURATION]\n"
		     "               [--grpc URL,...] [--cacert FILE] [--cert FILE --key FILE] COMMAND [ARGS...]\n"
		     "\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nglobal options (anywhere before \"--\"):\n"
		     "  --endpoints URL,...  nodes to talk to, http:// or https:// (default\n"
		     "                       $RAFTCTL_ENDPOINTS, else http://127.0.0.1:4001); the\n"
		     "                       leader is found from any of them\n"
		     "  -o, --output FORMAT  table (default) or json\n"
		     "  --timeout DURATION   for each connect, request and answer (default 5s)\n"
		     "  --grpc URL,...       etcd v3 (gRPC) endpoints, HOST:PORT or http(s)://HOST:PORT,\n"
		     "                       for get --prefix, put --if-mod-rev, watch, lease, lock,\n"
		     "                       elect... (default $RAFTCTL_GRPC, else each\n"
		     "                       endpoint's own gRPC URL, from its /raftd/version)\n"
		     "  --cacert FILE        https:// endpoints: the CAs (PEM) that sign the servers'\n"
		     "                       certificates (default $RAFTCTL_CACERT, else the system's)\n"
		     "  --cert FILE          https:// endpoints: a client certificate (PEM) to present\n"
		     "                       (default $RAFTCTL_CERT)\n"
		     "  --key FILE           its private key (PEM; default $RAFTCTL_KEY)\n"
		     "  --version            print the version and exit\n"
		     "\nraftctl COMMAND --help for details. Exit status: 0 success, 1 failure (one line\n"
		     "on stderr says why: unreachable, not leader, refused...), 2 bad arguments.\n");
}

static int set_endpoints(const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < raftctl_g.n_endpoints; i++)
		free(raftctl_g.endpoints[i]);
	free(raftctl_g.endpoints);
	raftctl_g.endpoints = NULL;
	raftctl_g.n_endpoints = 0;
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		char **e = realloc(raftctl_g.endpoints, (raftctl_g.n_endpoints + 1) * sizeof(*e));
		if (!e || !(e[raftctl_g.n_endpoints] = strdup(t))) {
			free(copy);
			return -ENOMEM;
		}
		raftctl_g.endpoints = e;
		raftctl_g.n_endpoints++;
	}
	free(copy);
	return raftctl_g.n_endpoints ? 0 : -EINVAL;
}

/* $NAME, unless unset or empty */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* --NAME or --NAME=VALUE: which, and *val the value when it came with '=' */
static bool long_opt(const char *a, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (strncmp(a, name, n) || (a[n] != '=' && a[n]))
		return false;
	*val = a[n] ? a + n + 1 : NULL;
	return true;
}

/* Takes the global options out of argv (up to a "--"); returns the new argc
 * or -1 after printing why. */
static int take_globals(int argc, char **argv)
{
	int out = 1;
	const char *eps = getenv("RAFTCTL_ENDPOINTS");
	const char *grpc = env("RAFTCTL_GRPC");
	/* the TLS files: flags win over the environment, each on its own */
	const char *cacert = env("RAFTCTL_CACERT"), *cert = env("RAFTCTL_CERT"), *key = env("RAFTCTL_KEY");
	bool dashdash = false, eps_given = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		int which = 0;
		if (dashdash || a[0] != '-') {
			argv[out++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			dashdash = true;
			argv[out++] = argv[i];
			continue;
		}
		if (long_opt(a, "--endpoints", &val))
			which = 'e';
		else if (long_opt(a, "--output", &val))
			which = 'o';
		else if (!strcmp(a, "-o"))
			which = 'o';
		else if (!strncmp(a, "-o", 2) && a[2])
			which = 'o', val = a + 2;
		else if (long_opt(a, "--timeout", &val))
			which = 't';
		else if (long_opt(a, "--grpc", &val))
			which = 'g';
		else if (long_opt(a, "--cacert", &val))
			which = 'C';
		else if (long_opt(a, "--cert", &val))
			which = 'c';
		else if (long_opt(a, "--key", &val))
			which = 'k';
		if (!which) {
			argv[out++] = argv[i];
			continue;
		}
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "raftctl: %s needs a value (see raftctl --help)\n", a);
				return -1;
			}
			val = argv[++i];
		}
		if ((which == 'C' || which == 'c' || which == 'k') && !*val) {
			fprintf(stderr, "raftctl: %s needs a file name (see raftctl --help)\n", a);
			return -1;
		}
		if (which == 'g') {
			grpc = *val ? val : NULL;
		} else if (which == 'e') {
			eps = val;
			eps_given = true;
		} else if (which == 'C') {
			cacert = val;
		} else if (which == 'c') {
			cert = val;
		} else if (which == 'k') {
			key = val;
		} else if (which == 'o') {
			if (!strcmp(val, "json"))
				raftctl_g.json = true;
			else if (!strcmp(val, "table") || !strcmp(val, "text"))
				raftctl_g.json = false;
			else {
				fprintf(stderr, "raftctl: unknown output format '%s' (table or json)\n", val);
				return -1;
			}
		} else {
			long long ms;
			if (raftctl_parse_duration_ms(val, &ms) < 0 || ms < 1 || ms > 3600000) {
				fprintf(stderr, "raftctl: bad --timeout '%s' (e.g. 500ms, 5s)\n", val);
				return -1;
			}
			raftctl_g.timeout_ms = (int)ms;
		}
	}
	argv[out] = NULL;
	if (!cert != !key) {
		fprintf(stderr, "raftctl: a client certificate needs --cert and --key ($RAFTCTL_CERT, $RAFTCTL_KEY); "
				"the %s is missing\n", cert ? "key" : "certificate");
		return -1;
	}
	rc_tls_files(cacert, cert, key);
	raftctl_g.grpc = grpc;
	if (set_endpoints(eps && (*eps || eps_given) ? eps : "http://127.0.0.1:4001") < 0) {
		fprintf(stderr, "raftctl: no endpoint in '%s'\n", eps ? eps : "");
		return -1;
	}
	for (size_t i = 0; i < raftctl_g.n_endpoints; i++) {
		struct url u;
		if (url_parse(raftctl_g.endpoints[i], RC_URL_FORMS, &u) < 0) {
			fprintf(stderr, "raftctl: bad endpoint '%s' (expected http://HOST:PORT or https://HOST:PORT)\n",
				raftctl_g.endpoints[i]);
			return -1;
		}
	}
	return out;
}

int main(int argc, char **argv)
{
	argc = take_globals(argc, argv);
	if (argc < 0)
		return 2;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("raftctl %s%s%s\n", PACKAGE_VERSION, *RAFTD_GIT_DESCRIBE ? " " : "", RAFTD_GIT_DESCRIBE);
		return 0;
	}
	if (!strcmp(argv[1], "del")) /* etcdctl's word */
		argv[1] = (char *)"delete";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			current_cmd = commands[i].name;
			opterr = 0; /* each command says what is wrong, in one line */
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "raftctl: unknown command '%s' (see raftctl --help)\n", argv[1]);
	return 2;
}
