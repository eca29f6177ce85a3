/* tests/lib/core_fixture.h — one way to build and drive Raft cores in tests.
 *
 * Plain C (no Check) so the unit tests, the simulator and the fuzzers can
 * share it. Two levels:
 *   struct fx_node     one core driven by hand: step it, read the actions of
 *                      its last step (the golden-trace style of test_raft.c);
 *   struct fx_cluster  a few cores joined by a message bus: the fixture
 *                      plays the daemon (persists and appends at once) and
 *                      the test decides which message goes when.
 * Errors are returned (-errno), never asserted: the caller picks how to fail.
 * The cluster abort()s only where a test could not go on (out of memory on
 * the bus, a core sending entries it does not hold).
 */
#ifndef TESTS_LIB_CORE_FIXTURE_H
#define TESTS_LIB_CORE_FIXTURE_H

#include "src/raft/raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The test defaults: raft_config_default() with this name and a fixed seed,
 * so election timeouts repeat from run to run. */
#define FX_SEED 42
struct raft_config fx_config(const char *name);

/* ---- one core ------------------------------------------------------------ */

struct fx_node {
	struct raft *r;
	struct raft_update u; /* the actions of the last step */
	int rv;               /* raft_step()'s return of the last step */
	uint64_t now;         /* the node's clock, ms */
};

/* A core restored with `n` entries of terms[] (nops, except joins of the
 * members listed, in order, at the start of the log; url
 * "http://localhost:1"), hard state (term, vote) and commit. */
int fx_node_restore(struct fx_node *t, const struct raft_config *cfg, raft_term term,
		    const char *vote, const char *const *members, size_t n_members,
		    const raft_term *terms, size_t n, raft_index commit);
void fx_node_free(struct fx_node *t);

/* Each stamps the event with t->now and keeps the update in t->u. */
void fx_step(struct fx_node *t, struct raft_event *ev);
void fx_tick(struct fx_node *t, uint64_t ms); /* time passes, then a tick */
void fx_recv(struct fx_node *t, const char *from, const struct raft_msg *m);
void fx_persisted(struct fx_node *t, uint64_t seq);
void fx_durable(struct fx_node *t, uint64_t seq);

/* Reading the last update. */
size_t fx_count_actions(const struct fx_node *t, enum raft_action_type type);
const struct raft_action *fx_nth_action(const struct fx_node *t, enum raft_action_type type,
					size_t i); /* or NULL */
const struct raft_msg *fx_sent_to(const struct fx_node *t, const char *to); /* last, or NULL */
int fx_action_pos(const struct fx_node *t, enum raft_action_type type); /* first, or -1 */
uint64_t fx_persist_seq(const struct fx_node *t); /* last PERSIST's seq, 0: none */
uint64_t fx_log_seq(const struct fx_node *t);     /* last APPEND/TRUNCATE's seq, 0: none */

/* ---- a cluster on a message bus ------------------------------------------ */

#define FX_MAX_NODES 5
#define FX_MAX_MSGS 256

struct fx_msg {
	int from, to; /* node indexes */
	struct raft_msg msg;
	struct raft_entry *entries; /* AE: a copy, names and urls owned */
};

/* Nodes are named "a", "b", ... and start from the same log: one join per
 * member at term 1, nothing committed. The fixture persists and appends at
 * once (PERSISTED/DURABLE right after the action), keeps no state machine
 * (APPLIED is never reported) and takes no snapshots; SEND goes on the bus
 * with AppendEntries' entries copied from the sender's log. */
struct fx_cluster {
	size_t n;
	struct fx_node nodes[FX_MAX_NODES];
	char names[FX_MAX_NODES][2];
	struct fx_msg bus[FX_MAX_MSGS]; /* in the order sent */
	size_t n_bus;
	size_t dropped; /* sends lost because the bus was full */
};

/* cfg: NULL for fx_config(); else its fields but name (and seed + node
 * index, so that the nodes' timeouts differ). */
int fx_cluster_init(struct fx_cluster *c, size_t n, const struct raft_config *cfg);
void fx_cluster_free(struct fx_cluster *c);
int fx_cluster_index(const struct fx_cluster *c, const char *name); /* or -1 */

/* Steps node i and does what its actions ask (recursively, as a daemon). */
void fx_cluster_step(struct fx_cluster *c, size_t i, struct raft_event *ev);
void fx_cluster_tick(struct fx_cluster *c, uint64_t ms); /* every node */
/* Bus message k (0: the oldest) is delivered or lost; false if no such. */
bool fx_cluster_deliver_one(struct fx_cluster *c, size_t k);
bool fx_cluster_drop(struct fx_cluster *c, size_t k);
/* Delivers until the bus is empty or `max` messages went; how many went. */
size_t fx_cluster_deliver_all(struct fx_cluster *c, size_t max);
/* Proposes n command entries on node i; the first index, or 0 (refused). */
raft_index fx_cluster_propose(struct fx_cluster *c, size_t i, size_t n);

/* The one leader of the highest term any node has, or -1 (none, or more
 * than one at that term: a broken invariant the caller should report). */
int fx_cluster_leader(const struct fx_cluster *c);
raft_index fx_cluster_committed(const struct fx_cluster *c, size_t i);
/* Ticks in steps of `step_ms` (> 0) and delivers everything until some
 * node leads or `max_ms` passed; the leader's index or -1. */
int fx_cluster_elect(struct fx_cluster *c, uint64_t step_ms, uint64_t max_ms);

#endif
