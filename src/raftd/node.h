/* src/raftd/node.h — one raftd node: the wiring of the Raft core, the WAL, the
 * peers, the key-value state machine and the HTTP API on one event loop.
 *
 * This is the only module that knows all the others (docs/design.md):
 * raft_step() actions are carried out here — PERSIST and APPEND/TRUNCATE
 * become WAL operations, SEND becomes a peer request or the reply to a
 * suspended HTTP exchange, APPLY runs the KV state machine — and the WAL's
 * and peers' completions come back here as core events.
 * The module is node.c and the files that share its private node_int.h:
 * driver.c, peers.c, snapshots.c and api.c.
 *
 * Data directory:
 *   DATA_DIR/name      the node's name (goraft raftd's file)
 *   DATA_DIR/wal/      segments and the term/vote meta file (wal/)
 *   DATA_DIR/snap/     KV snapshots (src/kv/kv_snapshot.c)
 */
#ifndef RAFTD_SRC_RAFTD_NODE_H
#define RAFTD_SRC_RAFTD_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "src/raftd/config.h"

struct node;

/* Recovers the WAL and the latest snapshot, builds the core and starts
 * listening. Returns 0, or -errno with a one-line reason in err (naming the
 * file and offset for a corrupt WAL). */
int node_open(const struct config *cfg, struct node **ret_node, char *err, size_t err_len);

/* Runs until SIGTERM/SIGINT, a fatal disk error, or this node's removal.
 * Returns the process exit status, or NODE_RESTART: close the node and open
 * it again (a snapshot from the leader was saved; the log is rebased on it
 * at start-up, when no disk I/O is in flight). */
#define NODE_RESTART 3
int node_run(struct node *n);

/* Stops serving, waits for the disk and the kernel to let go of every
 * buffer, and frees everything. */
void node_close(struct node *n);

#endif
