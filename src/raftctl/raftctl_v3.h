/* src/raftctl/raftctl_v3.h — the key commands on etcd's v3 API (gRPC):
 * ranges and prefixes, reads at a revision, compare-and-put, range deletes,
 * compaction, and the revisions writes get. raftctl_kv.c hands a get, put
 * or delete here when one of the v3 options is given; the plain forms stay
 * on goraft's /db API, which goraft members serve too.
 *
 * The gRPC endpoint: --grpc (or $RAFTCTL_GRPC), else the "grpc" URL each
 * endpoint gives in its /raftd/version (the first that has one). Any member
 * serves every call: a follower forwards writes and reads linearizably
 * through its leader's read index. An https:// gRPC URL is spoken to over
 * TLS with ALPN "h2", verified and with the client certificate as every
 * https:// request of raftctl (rc_tls_dial()).
 */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_V3_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_V3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rc_v3_get {
	const char *key;
	const char *node;   /* --node: this member's gRPC port (implies local) */
	bool local;         /* serializable: what the node has applied */
	bool prefix, from_key, keys_only;
	int64_t limit, rev; /* 0: none, the newest */
};

/* Each returns the exit status, after printing the result or one line on
 * stderr. */
int rc_v3_get(const struct rc_v3_get *g);
/* if_mod_rev < 0: a plain Put; 0: only if the key is absent; N: only if
 * its mod_revision is N (a Txn). */
int rc_v3_put(const char *key, const char *value, size_t len, int64_t if_mod_rev, bool verbose);
int rc_v3_delete(const char *key, bool prefix, bool verbose);

#endif
