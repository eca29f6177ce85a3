/* src/raftctl/raftctl.h — raftctl's command table.
 *
 * Each command lives in its own file (src/raftctl/raftctl_<name>.c) and
 * exports one entry point `int raftctl_<name>(int argc, char **argv)` with
 * argv[0] the command's name. Exit codes: 0 success, 1 the command ran and
 * found a problem (corruption, failed request, node unreachable, not the
 * leader), 2 usage error. A failure prints one line on stderr, "raftctl CMD:
 * why". A new command is one new file, one line in src/raftctl/local.mk and
 * one row in raftctl.c's table.
 *
 * Global options (--endpoints, -o, --timeout) may stand anywhere before a
 * "--"; main() takes them out of argv before the command sees it.
 */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_H

#include <stdbool.h>
#include <stddef.h>

struct raftctl_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

struct raftctl_globals {
	char **endpoints;  /* from --endpoints, $RAFTCTL_ENDPOINTS or the default */
	size_t n_endpoints;
	bool json;         /* -o json */
	int timeout_ms;    /* --timeout: each connect, send and answer */
	const char *grpc;  /* --grpc or $RAFTCTL_GRPC: etcd v3 endpoints (NULL: ask the endpoints) */
};

extern struct raftctl_globals raftctl_g;

/* "raftctl CMD: message" on stderr; returns 1 (the exit status). */
int raftctl_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "raftctl CMD: message" and the command's usage hint; returns 2. */
int raftctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* snprintf for messages, where cutting a long one short is fine. */
void raftctl_setf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a duration: "1.5" (seconds), "250ms", "10s", "5m", "2h"; 0 or -EINVAL. */
int raftctl_parse_duration_ms(const char *s, long long *ret_ms);

/* Parse an unsigned decimal option value; 0 or -EINVAL. */
int raftctl_parse_u64(const char *s, unsigned long long *ret);

#endif
