/* src/etcd/lease.c — the Lease messages raftd builds itself (etcd.h,
 * Leases): a lease entry's payload from its values, and LeaseGrantResponse.
 * Decoding lease requests is etcd.c's, with the other kinds.
 *
 * Packed by protobuf-c from the generated structs: these messages are flat
 * and small, and proto3's zero values are left out as Go's encoder does. */
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "etcd/rpc.pb-c.h"
#include "src/etcd/etcd.h"

/* m packed after `prefix` bytes of a new buffer (prefix 0 or 1: the kind
 * byte). */
static int pack(const ProtobufCMessage *m, size_t prefix, uint8_t **ret_buf, size_t *ret_len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = base_malloc(prefix + n ? prefix + n : 1);

	if (!buf)
		return -ENOMEM;
	if (protobuf_c_message_pack(m, buf + prefix) != n) {
		free(buf);
		return -EINVAL;
	}
	*ret_buf = buf;
	*ret_len = prefix + n;
	return 0;
}

int etcd_lease_payload(enum etcd_kind kind, int64_t id, int64_t ttl, uint8_t **ret_buf, size_t *ret_len)
{
	Etcdserverpb__LeaseGrantRequest g = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseRevokeRequest x = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
	const ProtobufCMessage *m;
	int rv;

	*ret_buf = NULL;
	*ret_len = 0;
	if (kind == ETCD_LEASE_GRANT) {
		g.id = id;
		g.ttl = ttl;
		m = &g.base;
	} else if (kind == ETCD_LEASE_REVOKE) {
		x.id = id;
		m = &x.base;
	} else {
		return -EINVAL;
	}
	rv = pack(m, 1, ret_buf, ret_len);
	if (rv == 0)
		(*ret_buf)[0] = (uint8_t)kind;
	return rv;
}

int etcd_lease_grant_response(const struct etcd_header *h, int64_t id, int64_t ttl, uint8_t **ret_buf,
			      size_t *ret_len)
{
	Etcdserverpb__ResponseHeader hdr = ETCDSERVERPB__RESPONSE_HEADER__INIT;
	Etcdserverpb__LeaseGrantResponse r = ETCDSERVERPB__LEASE_GRANT_RESPONSE__INIT;

	*ret_buf = NULL;
	*ret_len = 0;
	hdr.cluster_id = h->cluster_id;
	hdr.member_id = h->member_id;
	hdr.revision = h->revision;
	hdr.raft_term = h->raft_term;
	r.header = &hdr;
	r.id = id;
	r.ttl = ttl;
	return pack(&r.base, 0, ret_buf, ret_len);
}
