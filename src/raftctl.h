/* src/raftctl.h — raftctl's command table.
 *
 * Each command lives in its own file (src/raftctl_<name>.c) and exports one
 * entry point `int raftctl_<name>(int argc, char **argv)` with argv[0] the
 * command's name. Exit codes: 0 success, 1 the command ran and found a
 * problem (corruption, failed request), 2 usage error. A new command is one
 * new file, one line in raftctl.mk and one row in raftctl.c's table.
 */
#ifndef RAFTD_SRC_RAFTCTL_H
#define RAFTD_SRC_RAFTCTL_H

struct raftctl_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Parse an unsigned decimal option value; 0 or -EINVAL. */
int raftctl_parse_u64(const char *s, unsigned long long *ret);

#endif
