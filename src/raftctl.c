/* src/raftctl.c — raftd's admin CLI: dispatch to one command per file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/raftctl.h"
#include "src/raftctl_wal.h"
#include "src/raftctl_wire.h"

static const struct raftctl_cmd commands[] = {
	{ "wal", "inspect a node's write-ahead log offline (dump, verify)", raftctl_wal },
	{ "wire", "decode goraft protobuf bodies (decode, vectors)", raftctl_wire },
};

int raftctl_parse_u64(const char *s, unsigned long long *ret)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: raftctl COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nraftctl COMMAND --help for details.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "raftctl: unknown command '%s' (see raftctl --help)\n", argv[1]);
	return 2;
}
