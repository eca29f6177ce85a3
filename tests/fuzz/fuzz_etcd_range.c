/* tests/fuzz/fuzz_etcd_range.c — libFuzzer target for the etcd codec's
 * RangeRequest decoder (src/etcd): the input is the message as a client sends
 * it; the properties are tests/fuzz/fuzz_etcd.h's. */
#include "tests/fuzz/fuzz_etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_request(ETCD_RANGE, data, size);
	return 0;
}
