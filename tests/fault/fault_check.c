/* tests/fault/fault_check.c — checks a fault run's history (history.h).
 *
 *   fault-check [--max-mb MB] FILE...   (MB: 4096 unless given)
 *
 * Reads every FILE (O and F records, in any split) as one history, prints a
 * line per problem, then one summary line. Exits 0 when linearizable,
 * converged and nothing acknowledged was lost; 1 otherwise; 2 on bad input.
 * A saved failing history is replayed by running this on it again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fault/history.h"

int main(int argc, char **argv)
{
	struct history h = { 0 };
	/* The search's memo table for one key, at most. A key that many
	 * clients hit while a node dies collects writes of unknown outcome,
	 * and each doubles what the search may have to visit: 1 GiB left such
	 * a key undecided in a CI run (a failed run with no violation), which
	 * 4 GiB decided. The table only grows as a key needs it. */
	size_t max_mb = 4096;
	int i = 1;
	if (i + 1 < argc && !strcmp(argv[i], "--max-mb")) {
		max_mb = strtoul(argv[i + 1], NULL, 10);
		i += 2;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: fault-check [--max-mb MB] HISTORY...\n");
		return 2;
	}
	for (; i < argc; i++) {
		char err[256];
		if (history_load(&h, argv[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "fault-check: %s\n", err);
			history_free(&h);
			return 2;
		}
	}
	struct history_result r;
	int rv = history_check(&h, stdout, max_mb << 20, &r);
	if (rv < 0) {
		fprintf(stderr, "fault-check: %s\n", strerror(-rv));
		history_free(&h);
		return 2;
	}
	printf("check: %zu ops (writes %zu ok, %zu failed, %zu unknown; consistent reads %zu; local reads %zu; "
	       "v3: puts %zu ok, txns %zu swapped, %zu compare failed, ranges %zu), "
	       "%zu keys, %zu nodes at the end: %zu lost acknowledged writes, %zu violations "
	       "(%zu local reads), %zu keys diverged, %zu undecided: %s\n",
	       r.ops, r.writes_ok, r.writes_fail, r.writes_info, r.reads_ok, r.lreads_ok, r.v3_puts_ok, r.v3_txns_swapped,
	       r.v3_txns_not, r.v3_ranges_ok, r.keys, r.final_nodes,
	       r.lost, r.violations, r.bad_local, r.diverged, r.undecided, rv ? "FAIL" : "ok");
	history_free(&h);
	return rv ? 1 : 0;
}
