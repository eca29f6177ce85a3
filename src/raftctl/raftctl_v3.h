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

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/url.h"

/* One gRPC connection and the URL it came from (what the other v3
 * commands, src/raftctl/raftctl_watch.c and raftctl_lease.c, share). */
struct rc_v3 {
	struct grpcc *c;
	struct url url;
};

/* A gRPC connection: to node's member (NULL: the first of --grpc, else of
 * the endpoints' own gRPC URLs, that connects). 0 or -errno with err. */
int rc_v3_open(const char *node, struct rc_v3 *v, char *err, size_t err_len);
void rc_v3_close(struct rc_v3 *v);
/* One unary call: 0 with *resp (free it) when the server answered OK;
 * -EPROTO with err "URL: CODE: message" when it answered an error
 * (*status), other -errno when it did not answer. UNAVAILABLE "no leader"
 * is tried again while an election may run (any UNAVAILABLE with
 * retry_unavailable: for calls that are safe to repeat). */
int rc_v3_call(struct rc_v3 *v, const char *path, const ProtobufCMessage *req, bool retry_unavailable,
	       uint8_t **resp, size_t *resp_len, int *status, char *err, size_t err_len);
/* etcd's prefix end of p, into out (cap > strlen(p)) */
ProtobufCBinaryData rc_v3_prefix_end(const char *p, uint8_t *out);
/* bytes as a JSON string (null when not UTF-8) */
json_t *rc_v3_bytes_json(ProtobufCBinaryData b);
/* the exit status for a failed rc_v3_open/rc_v3_call, after saying why */
int rc_v3_fail(const char *cmd, int rv, const char *err);
/* gRPC status names by code (17 of them) */
extern const char *const rc_v3_status_names[];

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
/* A lease ID as etcdctl prints and takes it: hex (0x optional), positive. */
int rc_v3_parse_lease(const char *s, int64_t *ret);
/* lease: attach the key to that lease (0: none). if_mod_rev < 0: a plain Put; 0: only if the key is absent; N: only if
 * its mod_revision is N (a Txn). */
int rc_v3_put(const char *key, const char *value, size_t len, int64_t if_mod_rev, int64_t lease, bool verbose);
int rc_v3_delete(const char *key, bool prefix, bool verbose);

#endif
