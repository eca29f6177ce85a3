/* tests/fuzz/fuzz_etcd_entry.c — libFuzzer target for the raftd:v3 log
 * payload (src/etcd etcd_decode_entry()): a kind byte, then the request.
 * Beside tests/fuzz/fuzz_etcd.h's properties: only a write's kind is
 * accepted, and etcd_entry_payload() gives the same bytes back. */
#include "tests/fuzz/fuzz_etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_req r;
	char err[128];
	int rv = etcd_decode_entry(data, size, &r, err, sizeof(err));
	CHECK(rv == 0 || rv == -EBADMSG);
	if (rv == 0) {
		CHECK(size >= 1 && (uint8_t)r.kind == data[0]);
		CHECK(r.kind == ETCD_PUT || r.kind == ETCD_DELETE || r.kind == ETCD_TXN || r.kind == ETCD_COMPACT ||
		      r.kind == ETCD_LEASE_GRANT || r.kind == ETCD_LEASE_REVOKE);
		uint8_t *payload;
		size_t len;
		CHECK(etcd_entry_payload(r.kind, data + 1, size - 1, &payload, &len) == 0);
		CHECK(len == size && memcmp(payload, data, size) == 0);
		free(payload);
		etcd_req_free(&r);
		fz_request((enum etcd_kind)data[0], data + 1, size - 1);
	} else {
		CHECK(err[0] && !r.priv);
	}
	return 0;
}
