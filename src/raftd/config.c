/* src/raftd/config.c — defaults, config file, command line; see config.h. */
#include "src/raftd/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/url.h"
#include "wal/wal.h"

enum opt_type {
	OPT_STRING,
	OPT_PORT,
	OPT_UINT,     /* plain number within [min, max] */
	OPT_SIZE,     /* bytes, with an optional K, M or G suffix (binary) */
	OPT_BOOL,
	OPT_LOG_FLAG, /* goraft's -v, -debug, -trace: set the level to `min` */
	OPT_LOG_LEVEL,
};

struct option_def {
	const char *name;
	enum opt_type type;
	size_t offset;
	size_t width; /* of an OPT_UINT/OPT_SIZE field: 4 or 8 */
	uint64_t min, max;
	const char *arg;
	const char *help;
};

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static const struct option_def options[] = {
	/* goraft raftd's own flags */
	{ "h", OPT_STRING, F(host), 0, 0, "HOST", "host name peers use to reach this node (default localhost)" },
	{ "p", OPT_PORT, F(port), 1, 65535, "PORT", "HTTP port for clients and peers (default 4001)" },
	{ "join", OPT_STRING, F(join), 0, 0, "HOST:PORT", "join the cluster whose leader is at HOST:PORT" },
	{ "v", OPT_LOG_FLAG, F(log_level), LOG_LEVEL_DEBUG, 0, NULL, "verbose logging" },
	{ "debug", OPT_LOG_FLAG, F(log_level), LOG_LEVEL_DEBUG, 0, NULL, "debug logging" },
	{ "trace", OPT_LOG_FLAG, F(log_level), LOG_LEVEL_TRACE, 0, NULL, "trace logging (most detail)" },
	/* raftd's; host and port are -h and -p by their long names */
	{ "host", OPT_STRING, F(host), 0, 0, "HOST", "same as -h" },
	{ "port", OPT_PORT, F(port), 1, 65535, "PORT", "same as -p" },
	{ "config", OPT_STRING, F(config_file), 0, 0, "FILE", "read settings from FILE (INI, keys as below)" },
	{ "data-dir", OPT_STRING, F(data_dir), 0, 0, "DIR", "data directory (or the DATA_DIR argument)" },
	{ "name", OPT_STRING, F(name), 0, 0, "NAME", "node name (default: DATA_DIR/name, made on first start)" },
	{ "listen", OPT_STRING, F(listen), 0, 0, "ADDR", "address to listen on (default: every address)" },
	{ "advertise", OPT_STRING, F(advertise), 0, 0, "URL", "URL peers use (default http://HOST:PORT)" },
	{ "log-level", OPT_LOG_LEVEL, F(log_level), 0, 0, "LEVEL", "error, warning, info, debug or trace" },
	{ "heartbeat-ms", OPT_UINT, F(heartbeat_ms), 1, 60000, "MS",
	  "leader heartbeat interval (default 100; to goraft peers at most 50)" },
	{ "election-timeout-ms", OPT_UINT, F(election_timeout_ms), 2, 600000, "MS",
	  "election timeout, drawn from [MS, 2*MS) (default 500)" },
	{ "snapshot-threshold", OPT_UINT, F(snapshot_threshold), 0, UINT64_MAX, "N",
	  "log entries before a snapshot is taken; 0 never (default 10000)" },
	{ "segment-size", OPT_SIZE, F(segment_size), 1 * MiB, 1 * GiB, "BYTES",
	  "WAL segment size, a multiple of 4K (default 64M)" },
	{ "wal-spare-segments", OPT_UINT, F(wal_spare_segments), 0, WAL_MAX_SPARES, "N",
	  "compacted WAL segments kept for reuse, 0 none (default 4)" },
	{ "max-append-entries", OPT_UINT, F(max_append_entries), 1, 1000000, "N",
	  "entries per AppendEntries request (default 2000, as goraft)" },
	{ "max-append-bytes", OPT_SIZE, F(max_append_bytes), 4 * KiB, 1 * GiB, "BYTES",
	  "bytes of entries per AppendEntries request (default 4M)" },
	{ "max-inflight-appends", OPT_UINT, F(max_inflight_appends), 1, 1024, "N",
	  "pipelined AppendEntries per raftd peer (default 8; goraft peers get 1)" },
	{ "max-raft-body", OPT_SIZE, F(max_raft_body), 64 * KiB, 4 * GiB, "BYTES",
	  "largest /raft request accepted (default 1G: goraft sends a new member the whole log)" },
	{ "max-key", OPT_SIZE, F(max_key), 1, 16 * MiB, "BYTES",
	  "longest key a write may have (default 1M+4K, what goraft takes: Go's request head limit)" },
	{ "max-value", OPT_SIZE, F(max_value), 0, 1 * GiB, "BYTES", "longest value (default 1M)" },
	{ "max-connections", OPT_UINT, F(max_connections), 1, 1000000, "N",
	  "client connections; more are answered 503 (default 1024)" },
	{ "peer-connections", OPT_UINT, F(peer_connections), 0, 100000, "N",
	  "connections from members' addresses on top of --max-connections, kept for peers (default 64)" },
	{ "max-connections-per-address", OPT_UINT, F(max_connections_per_address), 0, 1000000, "N",
	  "client connections from one address, 0 any (default 256)" },
	{ "connection-timeout", OPT_UINT, F(connection_timeout_s), 1, 86400, "SECONDS",
	  "idle connections are closed after this (default 60)" },
	{ "request-head-timeout", OPT_UINT, F(request_head_timeout_s), 1, 86400, "SECONDS",
	  "a request head must arrive whole within this (default 20)" },
	{ "request-body-timeout", OPT_UINT, F(request_body_timeout_s), 0, 86400, "SECONDS",
	  "a request body must arrive whole within this after its head, 0 no limit (default 300)" },
	{ "max-stranger-body", OPT_SIZE, F(max_stranger_body), 4 * KiB, 4 * GiB, "BYTES",
	  "largest /raft request from an address that is not a member's (default 8M)" },
	{ "max-body-memory", OPT_SIZE, F(max_body_memory), 0, 64 * GiB, "BYTES",
	  "request bodies being read at once, in total (default: --max-raft-body + 256M)" },
	{ "max-snapshot-downloads", OPT_UINT, F(max_snapshot_downloads), 1, 1024, "N",
	  "GET /raftd/snapshot downloads at once; more get 503 (default 4)" },
	{ "wal-stall-ms", OPT_UINT, F(wal_stall_ms), 100, 3600000, "MS",
	  "a disk write pending longer makes the node unhealthy (default 10000)" },
	{ "forward-writes", OPT_BOOL, F(forward_writes), 0, 0, NULL,
	  "followers forward client writes to the leader instead of answering 400" },
	{ "force-new-cluster", OPT_BOOL, F(force_new_cluster), 0, 0, NULL,
	  "start a new cluster even though DATA_DIR held a log and has none now (its data was lost)" },
	/* TLS, in etcd's words */
	{ "cert-file", OPT_STRING, F(cert_file), 0, 0, "FILE", "PEM certificate (chain) for clients: serve HTTPS" },
	{ "key-file", OPT_STRING, F(key_file), 0, 0, "FILE", "PEM private key of --cert-file" },
	{ "trusted-ca-file", OPT_STRING, F(trusted_ca_file), 0, 0, "FILE",
	  "PEM CAs that verify clients' certificates" },
	{ "client-cert-auth", OPT_BOOL, F(client_cert_auth), 0, 0, NULL,
	  "clients need a certificate --trusted-ca-file verifies, and a role ([roles] of the config file)" },
	{ "peer-cert-file", OPT_STRING, F(peer_cert_file), 0, 0, "FILE",
	  "PEM certificate towards members: served on the peer port, presented to other members" },
	{ "peer-key-file", OPT_STRING, F(peer_key_file), 0, 0, "FILE", "PEM private key of --peer-cert-file" },
	{ "peer-trusted-ca-file", OPT_STRING, F(peer_trusted_ca_file), 0, 0, "FILE",
	  "PEM CAs that verify members' certificates (needed when peers speak TLS)" },
	{ "peer-client-cert-auth", OPT_BOOL, F(peer_client_cert_auth), 0, 0, NULL,
	  "Raft RPCs and /raftd/ peer paths need a verified certificate naming the member they claim" },
	{ "peer-allowed-cn", OPT_STRING, F(peer_allowed_cn), 0, 0, "CN[,CN...]",
	  "only members' certificates with one of these CNs" },
	{ "peer-allowed-hostname", OPT_STRING, F(peer_allowed_hostname), 0, 0, "NAME[,NAME...]",
	  "only members' certificates naming one of these (CN or SAN)" },
	{ "tls-priority", OPT_STRING, F(tls_priority), 0, 0, "STRING",
	  "GnuTLS priority string (default: SECURE, TLS 1.3 and 1.2 only)" },
	{ "peer-listen", OPT_STRING, F(peer_listen), 0, 0, "ADDR",
	  "address of the peer listener (with --peer-port; default: every address)" },
	{ "peer-port", OPT_PORT, F(peer_port), 1, 65535, "PORT",
	  "serve Raft RPCs and /raftd/ peer paths on this port only, apart from clients" },
	/* etcd's v3 API (issue 19) */
	{ "grpc-listen", OPT_STRING, F(grpc_listen), 0, 0, "HOST:PORT|none",
	  "serve etcd's v3 API (gRPC) there; HOST numeric (default 127.0.0.1:2379, etcd's client port)" },
};

static void set_defaults(struct config *cfg)
{
	*cfg = (struct config){
		.port = 4001,
		.log_level = LOG_LEVEL_INFO,
		/* goraft's 150 ms (a 50 ms heartbeat) made a healthy cluster on
		 * a busy machine change leaders often; these keep it stable
		 * and a failover well under 1.5 s (docs/performance.md).
		 * goraft peers still hear from a leader every 50 ms (raft.h,
		 * RAFT_GORAFT_HEARTBEAT_MS). */
		.heartbeat_ms = 100,
		.election_timeout_ms = 500,
		.snapshot_threshold = 10000,
		.segment_size = 64 * MiB,
		.wal_spare_segments = WAL_DEFAULT_SPARES,
		.max_append_entries = 2000,
		.max_append_bytes = 4 * MiB,
		.max_inflight_appends = 8,
		.max_raft_body = 1 * GiB,
		.max_key = GO_MAX_HEAD,
		.max_value = 1 * MiB,
		.max_connections = 1024,
		.connection_timeout_s = 60,
		.max_snapshot_downloads = 4,
		.peer_connections = 64,
		.max_connections_per_address = 256,
		.request_head_timeout_s = 20,
		.request_body_timeout_s = 300,
		.max_stranger_body = 8 * MiB,
		.wal_stall_ms = 10000,
	};
}

void config_free(struct config *cfg)
{
	/* Not by walking options[]: -h and -host share one field. */
	char *strings[] = { cfg->data_dir, cfg->config_file, cfg->name, cfg->host,
			    cfg->listen, cfg->advertise, cfg->join, cfg->cert_file, cfg->key_file,
			    cfg->trusted_ca_file, cfg->peer_cert_file, cfg->peer_key_file,
			    cfg->peer_trusted_ca_file, cfg->peer_allowed_cn, cfg->peer_allowed_hostname,
			    cfg->tls_priority, cfg->peer_listen, cfg->grpc_listen };
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		free(strings[i]);
	for (size_t i = 0; i < cfg->n_roles; i++)
		free(cfg->roles[i].identity);
	free(cfg->roles);
	for (int i = 0; i < cfg->argc; i++)
		free(cfg->argv[i]);
	free(cfg->argv);
	memset(cfg, 0, sizeof(*cfg));
}

/* '-' and '_' are the same in names, so file keys may use either. */
static bool name_eq(const char *a, const char *b, size_t b_len)
{
	size_t i = 0;
	for (; a[i] && i < b_len; i++) {
		char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
		if (x != y)
			return false;
	}
	return a[i] == '\0' && i == b_len;
}

static const struct option_def *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (name_eq(options[i].name, name, len))
			return &options[i];
	return NULL;
}

static int failf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_u64(const char *s, bool with_suffix, uint64_t *ret)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	uint64_t mult = 1;
	if (with_suffix && *end) {
		switch (*end++) {
		case 'k': case 'K': mult = KiB; break;
		case 'm': case 'M': mult = MiB; break;
		case 'g': case 'G': mult = GiB; break;
		default: return -EINVAL;
		}
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (*end == 'B')
			end++;
	}
	if (*end || (mult > 1 && v > UINT64_MAX / mult))
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

/* Sets one option from its text. `where` names the source in errors:
 * "flag -p" or "raftd.conf:12 key port". */
static int set_option(struct config *cfg, const struct option_def *o, const char *value, const char *where,
		      char *err, size_t err_len)
{
	char *slot = (char *)cfg + o->offset;
	uint64_t v;
	if (o->offset == offsetof(struct config, data_dir))
		snprintf(cfg->data_dir_where, sizeof(cfg->data_dir_where), "%s", where);
	switch (o->type) {
	case OPT_STRING: {
		char *copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		free(*(char **)slot);
		*(char **)slot = copy;
		return 0;
	}
	case OPT_PORT:
	case OPT_UINT:
	case OPT_SIZE:
		if (parse_u64(value, o->type == OPT_SIZE, &v) < 0)
			return failf(err, err_len, "invalid value \"%s\" for %s: %s", value, where,
				     o->type == OPT_SIZE ? "expected a size such as 4096, 64K or 64M"
							 : "expected a whole number");
		if (v < o->min || v > o->max)
			return failf(err, err_len, "invalid value \"%s\" for %s: must be from %" PRIu64 " to %" PRIu64,
				     value, where, o->min, o->max);
		if (o->type == OPT_PORT)
			*(uint16_t *)slot = (uint16_t)v;
		else if (o->width == 4)
			*(uint32_t *)slot = (uint32_t)v;
		else
			*(uint64_t *)slot = v;
		return 0;
	case OPT_BOOL:
	case OPT_LOG_FLAG: {
		bool b;
		/* Go's strconv.ParseBool */
		if (!strcmp(value, "1") || !strcasecmp(value, "t") || !strcasecmp(value, "true"))
			b = true;
		else if (!strcmp(value, "0") || !strcasecmp(value, "f") || !strcasecmp(value, "false"))
			b = false;
		else
			return failf(err, err_len, "invalid value \"%s\" for %s: expected true or false", value, where);
		if (o->type == OPT_BOOL)
			*(bool *)slot = b;
		else if (b && cfg->log_level < (enum config_log_level)o->min)
			cfg->log_level = (enum config_log_level)o->min;
		return 0;
	}
	case OPT_LOG_LEVEL: {
		static const char *const levels[] = { "error", "warning", "info", "debug", "trace" };
		for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			if (!strcasecmp(value, levels[i])) {
				cfg->log_level = (enum config_log_level)i;
				return 0;
			}
		}
		return failf(err, err_len, "invalid value \"%s\" for %s: expected error, warning, info, debug or trace",
			     value, where);
	}
	}
	return -EINVAL;
}

/* --- config file ----------------------------------------------------------- */

struct file_ctx {
	struct config *cfg;
	const char *path;
	FILE *file;
	int line; /* of the line inih is looking at */
	char *err;
	size_t err_len;
	int rv;
};

/* inih reads line by line through this, which is how we know the line
 * number (Debian builds inih without INI_HANDLER_LINENO). */
static char *read_line(char *buf, int size, void *stream)
{
	struct file_ctx *ctx = stream;
	ctx->line++;
	return fgets(buf, size, ctx->file);
}

static const char *const role_names[] = {
	[CONFIG_ROLE_NONE] = "none", [CONFIG_ROLE_READ] = "read", [CONFIG_ROLE_WRITE] = "write",
	[CONFIG_ROLE_ADMIN] = "admin",
};

const char *config_role_name(enum config_role_level level)
{
	return (size_t)level < sizeof(role_names) / sizeof(role_names[0]) ? role_names[level] : "?";
}

/* [roles] IDENTITY = read|write|admin */
static int add_role(struct config *cfg, const char *identity, const char *value, const char *where, char *err,
		    size_t err_len)
{
	enum config_role_level level = CONFIG_ROLE_NONE;
	for (size_t i = CONFIG_ROLE_READ; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcasecmp(value, role_names[i]))
			level = (enum config_role_level)i;
	if (level == CONFIG_ROLE_NONE)
		return failf(err, err_len, "%s: role \"%s\" must be read, write or admin", where, value);
	for (size_t i = 0; i < cfg->n_roles; i++)
		/* identities compare as DNS names do: case-insensitively */
		if (!strcasecmp(cfg->roles[i].identity, identity))
			return failf(err, err_len, "%s: identity %s has a role already (one line per identity)", where,
				     identity);
	struct config_role *roles = realloc(cfg->roles, (cfg->n_roles + 1) * sizeof(*roles));
	if (!roles)
		return -ENOMEM;
	cfg->roles = roles;
	if (!(roles[cfg->n_roles].identity = strdup(identity)))
		return -ENOMEM;
	roles[cfg->n_roles++].level = level;
	return 0;
}

static int on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
	struct file_ctx *ctx = user;
	if (ctx->rv < 0)
		return 0;
	char where[512];
	snprintf(where, sizeof(where), "%s:%d key \"%s\"", ctx->path, ctx->line, key);
	if (!strcmp(section, "roles")) {
		int rv = add_role(ctx->cfg, key, value, where, ctx->err, ctx->err_len);
		if (rv < 0)
			ctx->rv = rv;
		return rv == 0;
	}
	if (*section && strcmp(section, "raftd") != 0) {
		ctx->rv = failf(ctx->err, ctx->err_len,
				"%s:%d: unknown section [%s] (settings go in [raftd] or before any section; "
				"roles in [roles])",
				ctx->path, ctx->line, section);
		return 0;
	}
	const struct option_def *o = find_option(key, strlen(key));
	if (!o || !strcmp(o->name, "config") || o->type == OPT_LOG_FLAG) {
		ctx->rv = failf(ctx->err, ctx->err_len, "%s: unknown setting (see raftd --help)", where);
		return 0;
	}
	int rv = set_option(ctx->cfg, o, value, where, ctx->err, ctx->err_len);
	if (rv < 0) {
		ctx->rv = rv;
		return 0;
	}
	return 1;
}

static int read_file(struct config *cfg, const char *path, char *err, size_t err_len)
{
	struct file_ctx ctx = { cfg, path, fopen(path, "re"), 0, err, err_len, 0 };
	if (!ctx.file)
		return failf(err, err_len, "cannot read config file %s: %s", path, strerror(errno));
	int line = ini_parse_stream(read_line, &ctx, on_ini_entry, &ctx);
	fclose(ctx.file);
	if (ctx.rv < 0)
		return ctx.rv;
	if (line != 0)
		return failf(err, err_len, "%s:%d: not a setting (expected KEY = VALUE)", path, line);
	return 0;
}

/* --- command line ------------------------------------------------------------ */

void config_usage(FILE *out)
{
	fputs("usage: raftd [options] DATA_DIR\n"
	      "\n"
	      "Options take one or two dashes, and a value as -flag VALUE or -flag=VALUE.\n"
	      "Every long option is also a key of the config file.\n\n",
	      out);
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const struct option_def *o = &options[i];
		char left[64];
		snprintf(left, sizeof(left), "-%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(out, "  %-26s %s\n", left, o->help);
	}
	fprintf(out, "  %-26s %s\n", "-version", "print the version and exit");
	fprintf(out, "  %-26s %s\n", "-help", "print this help and exit");
}

/* systemd's LoadCredential= puts files in $CREDENTIALS_DIRECTORY, and a
 * unit can only name them by their credential name. */
static int credential_path(char **slot, const char *what, char *err, size_t err_len)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	if (!*slot)
		return 0;
	if (!**slot)
		return failf(err, err_len, "%s is empty: name a file, or leave the setting out", what);
	if (strchr(*slot, '/') || !dir || !*dir)
		return 0;
	char *path;
	if (asprintf(&path, "%s/%s", dir, *slot) < 0)
		return -ENOMEM;
	free(*slot);
	*slot = path;
	return 0;
}

bool config_client_tls(const struct config *cfg)
{
	return cfg->cert_file || (!cfg->peer_port && cfg->peer_cert_file);
}

bool config_peer_tls(const struct config *cfg)
{
	return cfg->peer_port ? cfg->peer_cert_file != NULL : config_client_tls(cfg);
}

/* On one port the server has one certificate: the clients' (members
 * verify it with their peer CA), or the peer one when that is all. */
const char *config_peer_server_cert(const struct config *cfg)
{
	return cfg->peer_port || !cfg->cert_file ? cfg->peer_cert_file : cfg->cert_file;
}

const char *config_peer_server_key(const struct config *cfg)
{
	return cfg->peer_port || !cfg->cert_file ? cfg->peer_key_file : cfg->key_file;
}

static int validate_tls(struct config *cfg, char *err, size_t err_len)
{
	struct {
		char **slot;
		const char *name;
	} files[] = {
		{ &cfg->cert_file, "cert-file" },
		{ &cfg->key_file, "key-file" },
		{ &cfg->trusted_ca_file, "trusted-ca-file" },
		{ &cfg->peer_cert_file, "peer-cert-file" },
		{ &cfg->peer_key_file, "peer-key-file" },
		{ &cfg->peer_trusted_ca_file, "peer-trusted-ca-file" },
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int rv = credential_path(files[i].slot, files[i].name, err, err_len);
		if (rv < 0)
			return rv;
	}
	if (!cfg->cert_file != !cfg->key_file)
		return failf(err, err_len, cfg->cert_file ? "cert-file needs key-file (the certificate's private key)"
							  : "key-file needs cert-file (the key's certificate)");
	if (!cfg->peer_cert_file != !cfg->peer_key_file)
		return failf(err, err_len, cfg->peer_cert_file
						   ? "peer-cert-file needs peer-key-file (the certificate's private key)"
						   : "peer-key-file needs peer-cert-file (the key's certificate)");
	if (cfg->trusted_ca_file && !config_client_tls(cfg))
		return failf(err, err_len, "trusted-ca-file needs cert-file: without a certificate the client "
					   "port speaks plain HTTP and verifies no one");
	if (cfg->client_cert_auth && !cfg->trusted_ca_file)
		return failf(err, err_len, "client-cert-auth needs trusted-ca-file (the CAs that verify clients' "
					   "certificates)");
	if (cfg->client_cert_auth && !cfg->n_roles)
		return failf(err, err_len, "client-cert-auth needs a [roles] section in the config file "
					   "(IDENTITY = read, write or admin; * for any verified certificate), or no "
					   "client could do anything");
	if (cfg->n_roles && !cfg->client_cert_auth)
		return failf(err, err_len, "the config file's [roles] need client-cert-auth: without it no "
					   "client has an identity, and every client may do everything");
	if (config_peer_tls(cfg) && !cfg->peer_trusted_ca_file)
		return failf(err, err_len, "peers speak TLS (%s), so members verify each other: peer-trusted-ca-file "
					   "is needed",
			     cfg->peer_port ? "peer-cert-file" : "the port has a certificate");
	if (cfg->peer_trusted_ca_file && !config_peer_tls(cfg))
		return failf(err, err_len, "peer-trusted-ca-file needs %s: without a certificate peers speak plain "
					   "HTTP",
			     cfg->peer_port ? "peer-cert-file (the peer port's certificate)" : "cert-file or peer-cert-file");
	if (cfg->peer_client_cert_auth && (!config_peer_tls(cfg) || (!cfg->peer_cert_file && !cfg->cert_file)))
		return failf(err, err_len, "peer-client-cert-auth needs peer-cert-file: every member presents "
					   "its certificate to the others, over TLS");
	if ((cfg->peer_allowed_cn || cfg->peer_allowed_hostname) && !cfg->peer_client_cert_auth)
		return failf(err, err_len, "peer-allowed-%s needs peer-client-cert-auth (members are not asked for "
					   "certificates without it)",
			     cfg->peer_allowed_cn ? "cn" : "hostname");
	if (cfg->peer_allowed_cn && cfg->peer_allowed_hostname)
		return failf(err, err_len, "give peer-allowed-cn or peer-allowed-hostname, not both (as etcd)");
	if (cfg->peer_listen && !cfg->peer_port)
		return failf(err, err_len, "peer-listen needs peer-port (the port of the peer listener)");
	if (cfg->peer_port && cfg->peer_port == cfg->port)
		return failf(err, err_len, "peer-port %u is the client port: give another, or leave it out to "
					   "serve peers and clients on one port",
			     (unsigned)cfg->peer_port);
	struct url u;
	if (cfg->advertise && url_parse(cfg->advertise, URL_HTTPS, &u) == 0 && u.tls != config_peer_tls(cfg))
		return failf(err, err_len, u.tls ? "advertise URL %s is https://, but peers speak plain HTTP (no "
						   "certificate is set)"
						 : "advertise URL %s is http://, but peers speak TLS: use https://",
			     cfg->advertise);
	return 0;
}

/* --grpc-listen: "none", or HOST:PORT with a numeric IPv4 host or an IPv6
 * one in brackets (net/grpc binds numeric addresses only: a name would need
 * a blocking lookup, and "localhost" may be ::1 or 127.0.0.1). */
static int validate_grpc(struct config *cfg, char *err, size_t err_len)
{
	const char *v = cfg->grpc_listen ? cfg->grpc_listen : "127.0.0.1:2379";
	cfg->grpc_off = !strcmp(v, "none");
	if (cfg->grpc_off)
		return 0;
	const char *colon = strrchr(v, ':'), *host = v;
	size_t host_len = colon ? (size_t)(colon - v) : 0;
	if (host_len >= 2 && v[0] == '[' && v[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	}
	uint64_t port;
	char buf[sizeof(cfg->grpc_host)];
	unsigned char addr[16];
	if (!colon || !host_len || host_len >= sizeof(buf) || parse_u64(colon + 1, false, &port) < 0 || !port ||
	    port > 65535)
		return failf(err, err_len, "grpc-listen \"%s\" must be HOST:PORT (a numeric address, IPv6 in "
					   "brackets) or none",
			     v);
	memcpy(buf, host, host_len);
	buf[host_len] = '\0';
	if (inet_pton(AF_INET, buf, addr) != 1 && inet_pton(AF_INET6, buf, addr) != 1)
		return failf(err, err_len, "grpc-listen \"%s\": %s is not a numeric IPv4 or IPv6 address", v, buf);
	memcpy(cfg->grpc_host, buf, host_len + 1);
	cfg->grpc_port = (uint16_t)port;
	if (cfg->grpc_port == cfg->port || (cfg->peer_port && cfg->grpc_port == cfg->peer_port))
		return failf(err, err_len, "grpc-listen port %u is also raftd's HTTP %s port: give another",
			     (unsigned)cfg->grpc_port, cfg->grpc_port == cfg->port ? "client" : "peer");
	return 0;
}

static int validate(struct config *cfg, char *err, size_t err_len)
{
	if (!cfg->data_dir || !*cfg->data_dir)
		return failf(err, err_len, "Data path argument required (raftd [options] DATA_DIR)");
	if (cfg->segment_size % WAL_BLOCK_SIZE)
		return failf(err, err_len, "segment-size (%" PRIu64 ") must be a multiple of %u",
			     cfg->segment_size, WAL_BLOCK_SIZE);
	if (cfg->election_timeout_ms < 2 * cfg->heartbeat_ms)
		return failf(err, err_len,
			     "election-timeout-ms (%u) must be at least twice heartbeat-ms (%u), or followers "
			     "time out between heartbeats",
			     cfg->election_timeout_ms, cfg->heartbeat_ms);
	/* net/url's form: what the leader takes in a /join, and what the
	 * peer client connects to */
	struct url u;
	if (cfg->advertise && url_parse(cfg->advertise, URL_HTTPS, &u) < 0)
		return failf(err, err_len,
			     "advertise URL \"%s\" must be http://HOST:PORT, or https://HOST:PORT with TLS (goraft "
			     "peers need that form)",
			     cfg->advertise);
	if (cfg->join) {
		char url[URL_BASE_MAX + 1];
		int l = snprintf(url, sizeof(url), "http://%s", cfg->join);
		if (l < 0 || (size_t)l >= sizeof(url) || url_parse(url, 0, &u) < 0)
			return failf(err, err_len, "join \"%s\" must be HOST:PORT, without a scheme (as goraft's -join)",
				     cfg->join);
	}
	if (!cfg->host && !(cfg->host = strdup("localhost")))
		return -ENOMEM;
	int rv = validate_grpc(cfg, err, err_len);
	return rv < 0 ? rv : validate_tls(cfg, err, err_len);
}

/* Applies argv over what is in *cfg. When only_config is set, only finds
 * --config (so the file can be read before the flags override it). */
static int apply_args(struct config *cfg, int argc, char **argv, bool only_config, char *err, size_t err_len)
{
	bool flags_done = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (flags_done || arg[0] != '-' || arg[1] == '\0') {
			if (only_config)
				continue;
			if (cfg->data_dir_from_args)
				return failf(err, err_len, "unexpected argument \"%s\": only one DATA_DIR", arg);
			/* Two names for the data directory would make a second
			 * node out of one: refuse rather than pick one silently. */
			if (cfg->data_dir && strcmp(cfg->data_dir, arg) != 0)
				return failf(err, err_len,
					     "the DATA_DIR argument %s and %s = %s name two data directories: "
					     "give one of them",
					     arg, cfg->data_dir_where, cfg->data_dir);
			free(cfg->data_dir);
			if (!(cfg->data_dir = strdup(arg)))
				return -ENOMEM;
			cfg->data_dir_from_args = true;
			continue;
		}
		if (!strcmp(arg, "--")) {
			flags_done = true;
			continue;
		}
		const char *name = arg + 1 + (arg[1] == '-');
		const char *eq = strchr(name, '=');
		size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
		if (name_eq("help", name, name_len)) {
			if (only_config)
				continue;
			return 1;
		}
		if (name_eq("version", name, name_len)) {
			if (only_config)
				continue;
			return 2;
		}
		const struct option_def *o = find_option(name, name_len);
		if (!o)
			return failf(err, err_len, "unknown flag %s (see raftd --help)", arg);
		const char *value = eq ? eq + 1 : NULL;
		bool is_bool = o->type == OPT_BOOL || o->type == OPT_LOG_FLAG;
		if (!value && is_bool) {
			value = "true"; /* Go: a bool flag takes no separate value */
		} else if (!value) {
			if (i + 1 >= argc)
				return failf(err, err_len, "flag -%s needs a value (%s)", o->name, o->arg);
			value = argv[++i];
		}
		if (only_config != (o->offset == offsetof(struct config, config_file)))
			continue;
		char where[64];
		snprintf(where, sizeof(where), "flag -%s", o->name);
		if (o->offset == offsetof(struct config, data_dir) && cfg->data_dir_from_args &&
		    strcmp(cfg->data_dir, value) != 0)
			return failf(err, err_len,
				     "the DATA_DIR argument %s and %s = %s name two data directories: give one of them",
				     cfg->data_dir, where, value);
		int rv = set_option(cfg, o, value, where, err, err_len);
		if (rv < 0)
			return rv;
	}
	return 0;
}

static int save_argv(struct config *cfg, int argc, char **argv)
{
	cfg->argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!cfg->argv)
		return -ENOMEM;
	for (int i = 0; i < argc; i++)
		if (!(cfg->argv[i] = strdup(argv[i])))
			return -ENOMEM;
	cfg->argc = argc;
	return 0;
}

int config_parse(struct config *cfg, int argc, char **argv, char *err, size_t err_len)
{
	set_defaults(cfg);
	int rv = save_argv(cfg, argc, argv);
	if (rv == 0)
		rv = apply_args(cfg, argc, argv, true, err, err_len);
	if (rv == 0 && cfg->config_file)
		rv = read_file(cfg, cfg->config_file, err, err_len);
	if (rv == 0)
		rv = apply_args(cfg, argc, argv, false, err, err_len);
	if (rv == 0)
		rv = validate(cfg, err, err_len);
	return rv;
}

int config_reload(const struct config *current, struct config *fresh, char *err, size_t err_len)
{
	int rv = config_parse(fresh, current->argc, current->argv, err, err_len);
	if (rv > 0)
		rv = -EINVAL;
	if (rv < 0)
		config_free(fresh);
	return rv;
}

/* --- node name ----------------------------------------------------------------- */

/* As `mkdir -p -m 0700` (and etcd): an operator who names a new directory
 * expects it made, parents included; only the data directory itself is
 * private, parents get the umask's mode. */
static int make_data_dir(const char *dir, char *err, size_t err_len)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return failf(err, err_len, "data directory %s: name too long", dir);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, c ? 0777 : 0700) < 0 && errno != EEXIST)
			return failf(err, err_len, "cannot create data directory %s: %s: %s", dir, path,
				     strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(dir, &st) < 0)
		return failf(err, err_len, "data directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return failf(err, err_len, "data directory %s is not a directory", dir);
	return 0;
}

char *config_node_name(const struct config *cfg, char *err, size_t err_len)
{
	if (make_data_dir(cfg->data_dir, err, err_len) < 0)
		return NULL;
	if (cfg->name)
		return strdup(cfg->name);
	char path[4096];
	snprintf(path, sizeof(path), "%s/name", cfg->data_dir);
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* goraft raftd: the whole content, byte for byte, is the name. */
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0) {
			failf(err, err_len, "%s: %s", path, n < 0 ? strerror(errno) : "empty name file");
			return NULL;
		}
		buf[n] = '\0';
		if (strlen(buf) != (size_t)n) {
			failf(err, err_len, "%s: the name contains a NUL byte", path);
			return NULL;
		}
		return strdup(buf);
	}
	if (errno != ENOENT) {
		failf(err, err_len, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	/* goraft raftd: 7 lowercase hex digits, no newline, mode 0644. */
	uint32_t r;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		failf(err, err_len, "getrandom: %s", strerror(errno));
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%07x", r & 0xfffffff);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, 7) != 7 || fsync(fd) < 0) {
		failf(err, err_len, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	return strdup(buf);
}

char *config_advertise_url(const struct config *cfg)
{
	if (cfg->advertise)
		return strdup(cfg->advertise);
	char *url;
	if (asprintf(&url, "%s://%s:%u", config_peer_tls(cfg) ? "https" : "http", cfg->host,
		     cfg->peer_port ? cfg->peer_port : cfg->port) < 0)
		return NULL;
	return url;
}
