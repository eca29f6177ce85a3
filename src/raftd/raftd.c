/* src/raftd/raftd.c — main: settings, then one node on one event loop.
 *
 *   raftd [-h HOST] [-p PORT] [-join HOST:PORT] [-v] [-debug] [-trace] DATA_DIR
 *
 * goraft raftd's command line works unchanged (src/raftd/config.h has the long
 * options and the config file). Exit status: 0 after SIGTERM or after this
 * node was removed from the cluster; 1 when the disk failed (systemd then
 * restarts it and recovery reads what is really on disk); 2 for bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "src/raftd/config.h"
#include "src/raftd/node.h"

int main(int argc, char **argv)
{
	struct config cfg;
	struct node *n;
	char err[1024];

	int rv = config_parse(&cfg, argc, argv, err, sizeof(err));
	if (rv == 1) {
		config_usage(stdout); /* --help */
		config_free(&cfg);
		return 0;
	}
	if (rv == 2) {
		printf("raftd %s%s%s\n", PACKAGE_VERSION, *RAFTD_GIT_DESCRIBE ? " " : "", RAFTD_GIT_DESCRIBE);
		config_free(&cfg);
		return 0;
	}
	if (rv < 0) {
		fprintf(stderr, "raftd: %s\n", err);
		fprintf(stderr, "Try 'raftd --help'.\n");
		config_free(&cfg); /* what was parsed before the error */
		return 2;
	}
	int status;
	do {
		rv = node_open(&cfg, &n, err, sizeof(err));
		if (rv < 0) {
			fprintf(stderr, "raftd: %s\n", err);
			config_free(&cfg);
			return 1;
		}
		status = node_run(n);
		node_close(n);
	} while (status == NODE_RESTART);
	config_free(&cfg);
	return status;
}
