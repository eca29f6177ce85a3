/* tests/fuzz/fuzz_etcd_lease.c — libFuzzer target for the etcd codec's
 * lease decoders (src/etcd): byte 0 picks LeaseGrantRequest (odd) or
 * LeaseRevokeRequest (even), the rest is the message as a client sends it.
 * Beside tests/fuzz/fuzz_etcd.h's properties (decode, the same again from
 * protobuf-c's re-packing, the grant or revoke run on a store with etcd's
 * errors, the response): the log payload etcd_lease_payload() builds from
 * the decoded values decodes as an entry to the same values. */
#include "tests/fuzz/fuzz_etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	enum etcd_kind kind = data[0] & 1 ? ETCD_LEASE_GRANT : ETCD_LEASE_REVOKE;
	struct etcd_req r, e;
	char err[128];
	uint8_t *payload;
	size_t len;

	fz_request(kind, data + 1, size - 1);
	if (etcd_decode(kind, data + 1, size - 1, &r, err, sizeof(err)) != 0) {
		etcd_req_free(&r);
		return 0;
	}
	CHECK(etcd_lease_payload(kind, r.lease_id, r.lease_ttl, &payload, &len) == 0);
	CHECK(len >= 1 && payload[0] == (uint8_t)kind);
	CHECK(etcd_decode_entry(payload, len, &e, err, sizeof(err)) == 0);
	CHECK(e.kind == kind && e.lease_id == r.lease_id);
	CHECK(kind == ETCD_LEASE_REVOKE ? e.lease_ttl == 0 : e.lease_ttl == r.lease_ttl);
	free(payload);
	etcd_req_free(&e);
	etcd_req_free(&r);
	return 0;
}
